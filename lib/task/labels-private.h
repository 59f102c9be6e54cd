/* libasyncrt - task labels (internal interface)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A task's labels are an immutable, reference-counted set of key/value strings
 * (one allocation: the header, the item array, then the strings).  A task points to
 * one set (or NULL: no labels); a spawned task takes a reference to its spawner's set,
 * which is how labels are inherited without copying.  asyncrt_task_set_label() never
 * changes a set: it builds a new one and swaps the task's pointer (see task-private.h
 * for who may touch AsyncrtTask.labels).  `refs` is the only mutable field (relaxed
 * increments, acq_rel decrement: the last owner sees the set fully built).
 */
#ifndef ASYNCRT_LABELS_PRIVATE_H
#define ASYNCRT_LABELS_PRIVATE_H

#include "util/common-private.h"

#include <stdatomic.h>

typedef struct
{
  const char *key;
  const char *value;
} AsyncrtLabel;

typedef struct _AsyncrtLabels AsyncrtLabels;
struct _AsyncrtLabels
{
  _Atomic unsigned refs;
  unsigned n;                       /* 1 .. ASYNCRT_TASK_MAX_LABELS */
  AsyncrtLabel items[];             /* in the order the keys were first set */
};

/* Both accept NULL. */
AsyncrtLabels *asyncrt__labels_ref (AsyncrtLabels *l);
void asyncrt__labels_unref (AsyncrtLabels *l);

#endif /* ASYNCRT_LABELS_PRIVATE_H */
