/* libasyncrt - the tree's node layout, shared by tree.c and format.c only
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef ASYNCRT_TREE_PRIVATE_H
#define ASYNCRT_TREE_PRIVATE_H

#include "trace/trace-private.h"

/* Where a function is suspended: the line and column of the call to the next inner
 * function (or, for a leaf, to asyncrt_trace_leaf).  0 when unknown. */
typedef struct
{
  unsigned lineno;
  unsigned colno;
} AsyncrtTraceLocation;

typedef struct _AsyncrtTraceNode AsyncrtTraceNode;
struct _AsyncrtTraceNode
{
  AsyncrtTraceNode *parent;
  const char *name;            /* interned, or the cut marker's own string */
  const char *filename;        /* interned or NULL */
  guint hash;                  /* of the identity, including the parent's hash */
  bool cut;                    /* the synthetic root of truncated backtraces */
  /* Every distinct place the function is suspended at, in order of first appearance
   * (AsyncrtTraceLocation): one per await it is suspended at, so a function waiting
   * on two leaves at once is one node with two locations and two children. */
  GArray *locations;
  GPtrArray *children;         /* AsyncrtTraceNode*, first appearance order; or NULL */
  /* The backtraces (indices in the trace added with
   * asyncrt__trace_tree_add_trace_leaves) whose innermost frame this node is: the
   * leaves whose waits it may show (guint), or NULL. */
  GArray *leaves;
};

struct _AsyncrtTraceTree
{
  GPtrArray *roots;            /* AsyncrtTraceNode*, first appearance order */
  GHashTable *index;           /* owns every node; identity -> node */
};

#endif
