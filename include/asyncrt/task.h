/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_TASK_H
#define ASYNCRT_TASK_H

#include <asyncrt/future.h>
#include <asyncrt/runtime.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:task
 * @title: Tasks
 * @short_description: spawning futures as tasks, join handles
 *
 * A task is a future run by a runtime.  asyncrt_spawn() hands a future (a state
 * struct plus its poll function) to the runtime of the calling task, and returns an
 * #AsyncrtJoinHandle that can be awaited with asyncrt_join_handle_poll(), aborted, or
 * freed to detach the task.
 *
 * The task's output is the future's own state: once the join handle is ready (and
 * not cancelled), read the result from the future struct.  The future is freed (its
 * #AsyncrtFreeFunc called, exactly once) when both the task has finished and its
 * join handle has been freed — so the join handle keeps the result readable.  A
 * cancelled future (asyncrt_join_handle_abort(), or asyncrt_runtime_free() with the
 * task unfinished) is freed as soon as it is cancelled; the joiner then sees
 * %ASYNCRT_READY and asyncrt_join_handle_is_cancelled() returns %TRUE.
 *
 * |[<!-- language="C" -->
 * typedef struct { int result; } Work;
 *
 * static AsyncrtPoll
 * work_poll (void *p, AsyncrtContext *cx)
 * {
 *   Work *self = p;
 *   (void) cx;
 *   self->result = 42;
 *   return ASYNCRT_READY;
 * }
 *
 * typedef struct { AsyncrtCoroutine co; Work *w; AsyncrtJoinHandle *jh; int result; } Parent;
 *
 * static AsyncrtPoll
 * parent_poll (void *p, AsyncrtContext *cx)
 * {
 *   Parent *self = p;
 *   ASYNCRT_BEGIN (&self->co);
 *   self->w = calloc (1, sizeof *self->w);
 *   self->jh = asyncrt_spawn (work_poll, self->w, free);
 *   if (self->jh == NULL)
 *     {
 *       free (self->w);                      // a failed spawn does not take it
 *       ASYNCRT_RETURN (&self->co);
 *     }
 *   ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
 *   if (!asyncrt_join_handle_is_cancelled (self->jh))
 *     self->result = self->w->result;        // still valid: the join handle keeps it
 *   asyncrt_join_handle_free (self->jh);     // now w is freed
 *   ASYNCRT_END (&self->co);
 * }
 * ]|
 *
 * ## Labels
 *
 * A task may carry a few labels (key/value strings: a request id, a peer address)
 * with asyncrt_task_set_label().  Tasks it spawns inherit them; every dump format
 * shows them.  To run many tasks as a group and collect them as they finish, see
 * #AsyncrtJoinSet.
 */

/**
 * AsyncrtJoinHandle:
 *
 * The owning handle of a spawned task.  Opaque.  Free it with
 * asyncrt_join_handle_free() (which detaches a running task).
 */
typedef struct _AsyncrtJoinHandle AsyncrtJoinHandle;

/**
 * asyncrt_spawn:
 * @poll: the future's poll function
 * @future: (nullable): the future's state
 * @free_func: (nullable): frees @future
 *
 * Spawns a future on the runtime of the calling task or block_on future, recording
 * the call site.  See asyncrt_spawn_full().
 *
 * Returns: the join handle, or %NULL with errno set.
 */
#define asyncrt_spawn(poll, future, free_func) \
  asyncrt_spawn_full (__FILE__, __LINE__, __func__, NULL, (poll), (future), (free_func))

/**
 * asyncrt_spawn_named:
 * @name: (nullable): a name for the task, shown by dumps (copied)
 * @poll: the future's poll function
 * @future: (nullable): the future's state
 * @free_func: (nullable): frees @future
 *
 * Like asyncrt_spawn(), with a task name.
 *
 * Returns: the join handle, or %NULL with errno set.
 */
#define asyncrt_spawn_named(name, poll, future, free_func) \
  asyncrt_spawn_full (__FILE__, __LINE__, __func__, (name), (poll), (future), (free_func))

/**
 * asyncrt_handle_spawn:
 * @h: a runtime handle
 * @poll: the future's poll function
 * @future: (nullable): the future's state
 * @free_func: (nullable): frees @future
 *
 * Spawns a future on the runtime of @h from any thread, recording the call site.
 * See asyncrt_handle_spawn_full().
 *
 * Returns: the join handle, or %NULL with errno set.
 */
#define asyncrt_handle_spawn(h, poll, future, free_func) \
  asyncrt_handle_spawn_full ((h), __FILE__, __LINE__, __func__, NULL, (poll), (future), \
                             (free_func))

/**
 * asyncrt_handle_spawn_named:
 * @h: a runtime handle
 * @name: (nullable): the task's name, shown in dumps; copied
 * @poll: the future's poll function
 * @future: (nullable): the future's state
 * @free_func: (nullable): frees @future
 *
 * Like asyncrt_handle_spawn(), with a task name.
 *
 * Returns: the join handle, or %NULL with errno set.
 */
#define asyncrt_handle_spawn_named(h, name, poll, future, free_func) \
  asyncrt_handle_spawn_full ((h), __FILE__, __LINE__, __func__, (name), (poll), (future), \
                             (free_func))

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtJoinHandle *asyncrt_spawn_full (const char *file, int line, const char *func,
                                       const char *name, AsyncrtPollFunc poll,
                                       void *future, AsyncrtFreeFunc free_func);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtJoinHandle *asyncrt_handle_spawn_full (AsyncrtHandle *h, const char *file, int line,
                                              const char *func, const char *name,
                                              AsyncrtPollFunc poll, void *future,
                                              AsyncrtFreeFunc free_func);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_join_handle_poll (AsyncrtJoinHandle *jh, AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_join_handle_abort (AsyncrtJoinHandle *jh);

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_join_handle_is_finished (AsyncrtJoinHandle *jh);

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_join_handle_is_cancelled (AsyncrtJoinHandle *jh);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtTaskId asyncrt_join_handle_get_id (AsyncrtJoinHandle *jh);

ASYNCRT_AVAILABLE_IN_0_1
void *asyncrt_join_handle_get_future (AsyncrtJoinHandle *jh);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_join_handle_free (AsyncrtJoinHandle *jh);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtTaskId asyncrt_task_id_current (void);

/**
 * ASYNCRT_TASK_MAX_LABELS:
 *
 * The most labels one task can carry (see asyncrt_task_set_label()).
 *
 * Since: 0.2
 */
#define ASYNCRT_TASK_MAX_LABELS 8

/**
 * ASYNCRT_TASK_LABEL_KEY_MAX:
 *
 * The longest label key, in bytes.
 *
 * Since: 0.2
 */
#define ASYNCRT_TASK_LABEL_KEY_MAX 64

/**
 * ASYNCRT_TASK_LABEL_VALUE_MAX:
 *
 * The longest label value, in bytes.
 *
 * Since: 0.2
 */
#define ASYNCRT_TASK_LABEL_VALUE_MAX 1024

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_task_set_label (const char *key, const char *value);

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_task_get_label (const char *key);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_TASK_H */
