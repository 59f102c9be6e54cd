/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_BLOCKING_H
#define ASYNCRT_BLOCKING_H

#include <asyncrt/future.h>
#include <asyncrt/task.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:blocking
 * @title: Blocking pool
 * @short_description: run blocking functions off the scheduler threads
 *
 * asyncrt_spawn_blocking() runs a blocking function (file I/O, a DNS lookup, a long
 * computation) on the runtime's blocking pool and returns an #AsyncrtJoinHandle that
 * completes when the function has returned.  Like a task's output, the function's
 * result goes into the caller's own @data.
 *
 * |[<!-- language="C" -->
 * typedef struct { const char *path; int fd; } OpenJob;
 *
 * static void
 * open_job (void *p)
 * {
 *   OpenJob *j = p;
 *   j->fd = open (j->path, O_RDONLY | O_CLOEXEC);
 * }
 *
 * typedef struct { AsyncrtCoroutine co; OpenJob job; AsyncrtJoinHandle *jh; } OpenFile;
 *
 * static AsyncrtPoll
 * open_file_poll (void *p, AsyncrtContext *cx)
 * {
 *   OpenFile *self = p;
 *   ASYNCRT_BEGIN (&self->co);
 *   self->jh = asyncrt_spawn_blocking (open_job, &self->job);
 *   if (self->jh == NULL)
 *     ASYNCRT_RETURN (&self->co);
 *   ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
 *   asyncrt_join_handle_free (self->jh);
 *   self->jh = NULL;
 *   // self->job.fd is the descriptor, or -1
 *   ASYNCRT_END (&self->co);
 * }
 * ]|
 *
 * Pool threads (named `asyncrt-blocking`, which the kernel shows as
 * `asyncrt-blockin`) are created on demand up to the builder's
 * maximum (asyncrt_builder_set_max_blocking_threads(), 512 by default); functions
 * queue when all are busy.  A thread idle for the keep-alive time
 * (asyncrt_builder_set_blocking_keep_alive(), 10 s by default) exits.
 *
 * A running function cannot be interrupted: asyncrt_join_handle_abort() makes the
 * join handle ready (cancelled) but the function still runs, so @data must stay valid
 * until it returns.  asyncrt_runtime_free() waits for every queued and running
 * blocking function.  Inside @func there is no current runtime (asyncrt_spawn() fails
 * with ESRCH): spawn with asyncrt_handle_spawn() and a handle passed in @data.
 */

/**
 * AsyncrtBlockingFunc:
 * @data: the data given to asyncrt_spawn_blocking()
 *
 * A function run on the blocking pool.  It reports its results through @data.
 */
typedef void (*AsyncrtBlockingFunc) (void *data);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtJoinHandle *asyncrt_spawn_blocking (AsyncrtBlockingFunc func, void *data);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtJoinHandle *asyncrt_handle_spawn_blocking (AsyncrtHandle *h, AsyncrtBlockingFunc func,
                                                  void *data);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_BLOCKING_H */
