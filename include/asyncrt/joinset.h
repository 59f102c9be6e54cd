/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_JOINSET_H
#define ASYNCRT_JOINSET_H

#include <asyncrt/future.h>
#include <asyncrt/task.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:joinset
 * @title: Task groups
 * @short_description: join sets: spawn many tasks, collect them as they finish
 *
 * An #AsyncrtJoinSet owns a group of tasks, like Tokio's `JoinSet`: spawn into it
 * with asyncrt_join_set_spawn() (no join handle to keep), then await
 * asyncrt_join_set_join_next_poll() to collect them one by one in the order they
 * finish.  A server keeps its sessions in one, so that shutting down is
 * asyncrt_join_set_abort_all() followed by joining what is left — or simply
 * asyncrt_join_set_free(), which aborts every member still running.
 *
 * |[<!-- language="C" -->
 * typedef struct { int input; int output; } Work;
 *
 * static AsyncrtPoll
 * work_poll (void *p, AsyncrtContext *cx)
 * {
 *   Work *w = p;
 *   (void) cx;
 *   w->output = w->input * w->input;
 *   return ASYNCRT_READY;
 * }
 *
 * typedef struct { AsyncrtCoroutine co; AsyncrtJoinSet *set; AsyncrtTaskId id; int i; } Fanout;
 *
 * static AsyncrtPoll
 * fanout_poll (void *p, AsyncrtContext *cx)
 * {
 *   Fanout *self = p;
 *   ASYNCRT_BEGIN (&self->co);
 *   self->set = asyncrt_join_set_new ();
 *   for (self->i = 0; self->i < 10; self->i++)
 *     {
 *       Work *w = calloc (1, sizeof *w);
 *       w->input = self->i;
 *       asyncrt_join_set_spawn (self->set, work_poll, w, free);
 *     }
 *   for (;;)
 *     {
 *       ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_poll (self->set, cx, &self->id));
 *       if (self->id == 0)
 *         break;                         // the set is empty
 *       printf ("task %llu finished\n", (unsigned long long) self->id);
 *     }
 *   asyncrt_join_set_free (self->set);
 *   self->set = NULL;
 *   ASYNCRT_END (&self->co);
 * }
 * ]|
 *
 * A member's result is its future's state, as for any task: to read it, collect the
 * member with asyncrt_join_set_join_next_handle_poll(), which hands over its
 * #AsyncrtJoinHandle; asyncrt_join_set_join_next_poll() frees the finished future
 * at once and only reports the id.  Aborted members (asyncrt_join_set_abort_all(),
 * runtime shutdown) are collected like the others, in the order their cancellation
 * completes.
 *
 * Task dumps show, for every member, the id of its set
 * (asyncrt_dump_task_get_group_id(), `group N` in the text form), and a task waiting
 * for the next member shows asyncrt_join_set_join_next_poll() as its leaf.
 *
 * A join set belongs to one task (or `block_on` future) at a time, like a join
 * handle; its members run anywhere.
 */

/**
 * AsyncrtJoinSet:
 *
 * A group of tasks collected in completion order.  Opaque; create it with
 * asyncrt_join_set_new(), free it with asyncrt_join_set_free().
 *
 * Since: 0.2
 */
typedef struct _AsyncrtJoinSet AsyncrtJoinSet;

/**
 * asyncrt_join_set_spawn:
 * @s: a join set
 * @poll: the future's poll function
 * @future: (nullable): the future's state
 * @free_func: (nullable): frees @future
 *
 * Spawns a future into @s on the runtime of the calling task or `block_on` future,
 * recording the call site.  See asyncrt_join_set_spawn_full().
 *
 * Returns: 0 or a negative errno, as asyncrt_join_set_spawn_full().
 *
 * Since: 0.2
 */
#define asyncrt_join_set_spawn(s, poll, future, free_func) \
  asyncrt_join_set_spawn_full ((s), __FILE__, __LINE__, __func__, NULL, (poll), (future), \
                               (free_func), NULL)

/**
 * asyncrt_join_set_spawn_named:
 * @s: a join set
 * @name: (nullable): a name for the task, shown by dumps (copied)
 * @poll: the future's poll function
 * @future: (nullable): the future's state
 * @free_func: (nullable): frees @future
 *
 * Like asyncrt_join_set_spawn(), with a task name.
 *
 * Returns: 0 or a negative errno, as asyncrt_join_set_spawn_full().
 *
 * Since: 0.2
 */
#define asyncrt_join_set_spawn_named(s, name, poll, future, free_func) \
  asyncrt_join_set_spawn_full ((s), __FILE__, __LINE__, __func__, (name), (poll), \
                               (future), (free_func), NULL)

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtJoinSet *asyncrt_join_set_new (void);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_join_set_spawn_full (AsyncrtJoinSet *s, const char *file, int line,
                                 const char *func, const char *name, AsyncrtPollFunc poll,
                                 void *future, AsyncrtFreeFunc free_func,
                                 AsyncrtTaskId *ret_id);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtPoll asyncrt_join_set_join_next_poll (AsyncrtJoinSet *s, AsyncrtContext *cx,
                                             AsyncrtTaskId *ret_id);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtPoll asyncrt_join_set_join_next_handle_poll (AsyncrtJoinSet *s, AsyncrtContext *cx,
                                                    AsyncrtJoinHandle **ret_jh);

ASYNCRT_AVAILABLE_IN_0_2
size_t asyncrt_join_set_len (const AsyncrtJoinSet *s);

ASYNCRT_AVAILABLE_IN_0_2
uint64_t asyncrt_join_set_get_id (const AsyncrtJoinSet *s);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_join_set_abort_all (AsyncrtJoinSet *s);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_join_set_free (AsyncrtJoinSet *s);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_JOINSET_H */
