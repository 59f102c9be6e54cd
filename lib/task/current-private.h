/* libasyncrt - the task being polled on this thread, for other modules (internal)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What lib/sync needs to know about the task that calls it, to record lock holders
 * and when a wait began: its id and the start of its current poll.  Cheap (a
 * thread-local load and a load), no atomic read-modify-write.  Both read fields are
 * written only by the thread running the task (task-private.h), which is the caller.
 * Outside a task (a block_on future, a plain thread) there is no current task.
 *
 * A task pointer taken here stays valid while the caller knows the task is alive: a
 * waiter queued on a primitive (its future lives in the task's state, and is cleared
 * before the task's future is freed) may keep it and read the id later.
 */
#ifndef ASYNCRT_TASK_CURRENT_PRIVATE_H
#define ASYNCRT_TASK_CURRENT_PRIVATE_H

#include "task/task-private.h"

/* The task being polled on this thread, or NULL. */
static inline struct _AsyncrtTask *
asyncrt__task_current (void)
{
  return asyncrt__current_task;
}

/* The id of @t (NULL: 0).  Immutable, so any thread may read it while @t lives. */
static inline AsyncrtTaskId
asyncrt__task_get_id (const struct _AsyncrtTask *t)
{
  return t != NULL ? t->id : 0;
}

/* When the current poll of @t started (asyncrt__clock_now_ns() base): a timestamp
 * that costs no clock read.  Only the thread polling @t may ask.  0 for NULL. */
static inline uint64_t
asyncrt__task_poll_start_ns (const struct _AsyncrtTask *t)
{
  return t != NULL ? atomic_load_explicit (&t->last_poll_ns, memory_order_relaxed) : 0;
}

#endif /* ASYNCRT_TASK_CURRENT_PRIVATE_H */
