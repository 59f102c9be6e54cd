/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_RUNTIME_H
#define ASYNCRT_RUNTIME_H

#include <asyncrt/future.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:runtime
 * @title: Runtimes
 * @short_description: builders, runtimes, handles and block_on
 *
 * A runtime runs tasks.  Build one with a builder, drive a future to completion with
 * asyncrt_runtime_block_on(), and free it with asyncrt_runtime_free(), which cancels
 * every task still alive and frees its future.
 *
 * |[<!-- language="C" -->
 * #include <asyncrt/asyncrt.h>
 * #include <stdio.h>
 * #include <string.h>
 *
 * typedef struct { AsyncrtCoroutine co; AsyncrtSleep nap; } Main;
 *
 * static AsyncrtPoll
 * main_poll (void *p, AsyncrtContext *cx)
 * {
 *   Main *self = p;
 *   ASYNCRT_BEGIN (&self->co);
 *   asyncrt_sleep_init (&self->nap, 10);
 *   ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->nap, cx));
 *   ASYNCRT_END (&self->co);
 * }
 *
 * int
 * main (void)
 * {
 *   AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
 *   AsyncrtRuntime *rt;
 *   int r = asyncrt_builder_build (b, &rt);
 *   asyncrt_builder_free (b);
 *   if (r < 0)
 *     {
 *       fprintf (stderr, "cannot build a runtime: %s\n", strerror (-r));
 *       return 1;
 *     }
 *   Main state = { 0 };
 *   r = asyncrt_runtime_block_on (rt, main_poll, &state);
 *   asyncrt_runtime_free (rt);
 *   return r < 0;
 * }
 * ]|
 *
 * On the current-thread runtime, tasks run only while some thread is inside
 * asyncrt_runtime_block_on() (one thread at a time), as in Tokio: spawned tasks wait
 * in the queue otherwise.  Handles (#AsyncrtHandle) are borrowed from their runtime
 * and valid until asyncrt_runtime_free(); use them to spawn from other threads.  A
 * thread that may outlive the runtime (a watchdog) keeps a reference of its own with
 * asyncrt_handle_ref(): after the runtime is freed the handle stays valid, and every
 * call on it reports the shutdown.
 *
 * ## Shutting down with a deadline
 *
 * asyncrt_runtime_free() waits for every blocking function to return, however long
 * that takes.  A server that must stop in bounded time calls
 * asyncrt_runtime_shutdown_timeout() first: it cancels every task like
 * asyncrt_runtime_free(), waits for the runtime's threads until the deadline, and
 * reports what is still running then (asyncrt_runtime_get_unfinished()) instead of
 * waiting for it; asyncrt_runtime_free() afterwards returns at once.
 *
 * |[<!-- language="C" --><!-- sample: body -->
 * if (asyncrt_runtime_shutdown_timeout (rt, 5000) == -ETIMEDOUT)
 *   for (size_t i = 0; i < asyncrt_runtime_get_n_unfinished (rt); i++)
 *     {
 *       const char *what;
 *       asyncrt_runtime_get_unfinished (rt, i, NULL, NULL, NULL, &what);
 *       fprintf (stderr, "still running at exit: %s\n", what);
 *     }
 * asyncrt_runtime_free (rt);
 * ]|
 */

/**
 * AsyncrtBuilder:
 *
 * Configuration of a runtime to build.  Opaque.
 */
typedef struct _AsyncrtBuilder AsyncrtBuilder;

/**
 * AsyncrtRuntime:
 *
 * A runtime: scheduler, I/O and time driver, blocking pool.  Opaque.
 */
typedef struct _AsyncrtRuntime AsyncrtRuntime;

/**
 * AsyncrtHandle:
 *
 * A reference to a runtime, for spawning onto it and dumping it from any thread.
 * Borrowed from the runtime (valid until asyncrt_runtime_free()) unless the caller
 * holds one of its own (asyncrt_handle_ref()).  Opaque.
 */
typedef struct _AsyncrtHandle AsyncrtHandle;

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtBuilder *asyncrt_builder_new_current_thread (void);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtBuilder *asyncrt_builder_new_multi_thread (void);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_builder_set_worker_threads (AsyncrtBuilder *b, unsigned n);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_builder_set_max_blocking_threads (AsyncrtBuilder *b, unsigned n);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_builder_set_blocking_keep_alive (AsyncrtBuilder *b, unsigned ms);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_builder_set_event_interval (AsyncrtBuilder *b, unsigned ticks);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_builder_set_name (AsyncrtBuilder *b, const char *name);

ASYNCRT_AVAILABLE_IN_0_1 ASYNCRT_WARN_UNUSED_RESULT
int asyncrt_builder_build (AsyncrtBuilder *b, AsyncrtRuntime **out);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_builder_free (AsyncrtBuilder *b);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_runtime_block_on (AsyncrtRuntime *rt, AsyncrtPollFunc poll, void *future);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtHandle *asyncrt_runtime_get_handle (AsyncrtRuntime *rt);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_runtime_free (AsyncrtRuntime *rt);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtHandle *asyncrt_handle_current (void);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtHandle *asyncrt_handle_ref (AsyncrtHandle *h);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_handle_unref (AsyncrtHandle *h);

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_handle_get_name (AsyncrtHandle *h);

/**
 * AsyncrtUnfinishedKind:
 * @ASYNCRT_UNFINISHED_BLOCKING_JOB: a function running on the blocking pool (from
 *   asyncrt_spawn_blocking() or the library's own jobs) that had not returned
 * @ASYNCRT_UNFINISHED_WORKER: a worker thread of a multi-thread runtime still inside
 *   a task's poll (a task that blocks its thread)
 *
 * What asyncrt_runtime_shutdown_timeout() left running when its deadline passed.
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_UNFINISHED_BLOCKING_JOB = 1,
  ASYNCRT_UNFINISHED_WORKER = 2
} AsyncrtUnfinishedKind;

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_builder_set_sample_signal (AsyncrtBuilder *b, int signo);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_runtime_shutdown_timeout (AsyncrtRuntime *rt, unsigned timeout_ms);

ASYNCRT_AVAILABLE_IN_0_2
size_t asyncrt_runtime_get_n_unfinished (AsyncrtRuntime *rt);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_runtime_get_unfinished (AsyncrtRuntime *rt, size_t i,
                                    AsyncrtUnfinishedKind *ret_kind,
                                    AsyncrtTaskId *ret_task_id, uint64_t *ret_running_ns,
                                    const char **ret_description);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_RUNTIME_H */
