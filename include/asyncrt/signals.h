/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_SIGNALS_H
#define ASYNCRT_SIGNALS_H

#include <asyncrt/future.h>
#include <asyncrt/io.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:signals
 * @title: Signals
 * @short_description: Unix signals as futures
 *
 * An #AsyncrtSignal is a leaf future that becomes ready when the process receives a
 * signal — `SIGINT` or `SIGTERM` to shut a server down, `SIGHUP` to reload,
 * `SIGUSR1` to print a task dump — the way `tokio::signal` works.  It is built on the
 * I/O driver: a `signalfd(2)` registered with the epoll reactor of the runtime that
 * initialises it, so no signal handler runs and nothing async-signal-unsafe can
 * happen.
 *
 * ## Block the signal in every thread
 *
 * A signal only reaches a signalfd while it is <emphasis>blocked</emphasis>:
 * otherwise the kernel delivers it the usual way, to any thread that does not block
 * it, running its default action (for `SIGTERM`, killing the process) or the
 * program's handler.  Threads inherit the signal mask of the thread that creates
 * them, so block the signals once, in main(), <emphasis>before</emphasis> building
 * any runtime or creating any thread, with asyncrt_signal_block() (or
 * pthread_sigmask(3)):
 *
 * |[<!-- language="C" -->
 * #include <asyncrt/asyncrt.h>
 * #include <signal.h>
 *
 * int
 * main (void)
 * {
 *   asyncrt_signal_block (SIGINT);     // before any thread exists
 *   asyncrt_signal_block (SIGTERM);
 *   AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
 *   AsyncrtRuntime *rt;
 *   int r = asyncrt_builder_build (b, &rt);   // the workers inherit the mask
 *   asyncrt_builder_free (b);
 *   if (r < 0)
 *     return 1;
 *   // ... asyncrt_runtime_block_on (rt, ...) with futures waiting on the signals ...
 *   asyncrt_runtime_free (rt);
 *   return 0;
 * }
 * ]|
 *
 * The runtime's blocking-pool threads block every signal by themselves.
 * asyncrt_signal_init() refuses (`-EPERM`) a signal that the calling thread does not
 * block, which catches the most common mistake (blocking after the runtime's
 * workers were created); it cannot check the other threads of the process.
 *
 * ## Deliveries
 *
 * Each time asyncrt_signal_poll() returns %ASYNCRT_READY it reports one or more
 * deliveries, never one twice: deliveries that arrive between two polls are
 * coalesced into one %ASYNCRT_READY whose result counts them.  The kernel itself
 * merges a standard signal sent while an earlier one is still pending (those count
 * as one); real-time signals (`SIGRTMIN` to `SIGRTMAX`) are queued, and each one
 * counts.  A signal delivered while no #AsyncrtSignal exists stays pending (it is
 * blocked) and is reported by the next one initialised.  Only signals sent to the
 * process (kill(2), the terminal) or to the thread that polls are seen; use one
 * #AsyncrtSignal per signal number at a time (two would compete for deliveries).
 *
 * |[<!-- language="C" -->
 * #include <signal.h>
 *
 * typedef struct { AsyncrtCoroutine co; AsyncrtSignal term; int n; } Waiter;
 *
 * static AsyncrtPoll
 * waiter_poll (void *p, AsyncrtContext *cx)
 * {
 *   Waiter *self = p;
 *   ASYNCRT_BEGIN (&self->co);
 *   if (asyncrt_signal_init (&self->term, SIGTERM) < 0)
 *     goto out;
 *   ASYNCRT_AWAIT (&self->co, asyncrt_signal_poll (&self->term, cx, &self->n));
 *   // self->n > 0: SIGTERM arrived (n times); < 0: -ESHUTDOWN, the runtime stopped
 * out:
 *   asyncrt_signal_clear (&self->term);
 *   ASYNCRT_END (&self->co);
 * }
 * ]|
 */

/**
 * AsyncrtSignal:
 *
 * A leaf future that waits for deliveries of one signal.  Embeddable; its fields are
 * private.  Initialise it with asyncrt_signal_init(), release it with
 * asyncrt_signal_clear() — which is also safe on a zero-filled #AsyncrtSignal that
 * was never initialised, or whose initialisation failed.  It must not move in
 * memory while initialised.
 *
 * Since: 0.2
 */
typedef struct _AsyncrtSignal AsyncrtSignal;
struct _AsyncrtSignal
{
  /*< private >*/
  AsyncrtFd fd;               /* the signalfd */
  int signo;
  void *reserved[4];
};

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_signal_block (int signo);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_signal_init (AsyncrtSignal *s, int signo);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtPoll asyncrt_signal_poll (AsyncrtSignal *s, AsyncrtContext *cx, int *result);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_signal_clear (AsyncrtSignal *s);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_SIGNALS_H */
