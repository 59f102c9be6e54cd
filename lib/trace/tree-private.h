/* libasyncrt - the tree's node layout, shared by tree.c and format.c only
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef ASYNCRT_TREE_PRIVATE_H
#define ASYNCRT_TREE_PRIVATE_H

#include "trace/trace-private.h"

typedef struct _AsyncrtTraceNode AsyncrtTraceNode;
struct _AsyncrtTraceNode
{
  AsyncrtTraceNode *parent;
  const char *name;            /* interned */
  const char *filename;        /* interned or NULL */
  unsigned lineno;
  unsigned colno;
  guint hash;                  /* of the identity, including the parent's hash */
  GPtrArray *children;         /* AsyncrtTraceNode*, first appearance order; or NULL */
};

struct _AsyncrtTraceTree
{
  GPtrArray *roots;            /* AsyncrtTraceNode*, first appearance order */
  GHashTable *index;           /* owns every node; identity -> node */
};

#endif
