/* libasyncrt - builders, runtimes and handles (the flavour-independent part)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership and lifetime rules are at the top of scheduler-private.h.  The handle's
 * reference count is the only atomic here (acq_rel on release so the last owner sees
 * every write before freeing); is_shutdown is set once with release and read with
 * acquire.  asyncrt__current_handle is thread-local.
 */
#include "scheduler/scheduler-private.h"
#include "dump/dump-sched-private.h"
#include "scheduler/registry-private.h"
#include "sample/sample-private.h"
#include "stall/stall-private.h"
#include "util/util-private.h"

#include <glib.h>
#include <stdlib.h>

_Thread_local AsyncrtHandle *asyncrt__current_handle;

/* The handle references of tasks (see scheduler-private.h, "Lifetime"): each task
 * holds one, taken at spawn and dropped when it is freed.  A thread running a runtime
 * (a worker, or a thread inside block_on) takes them for that runtime's tasks from a
 * bank of its own: it takes TASK_REF_BATCH real references at a time with one atomic
 * add and gives them back in batches, so that spawning and freeing tasks do not make
 * every worker write the one shared counter.  The bank's references are real: the
 * handle cannot be freed while a bank holds some; a bank is emptied when its thread
 * leaves the runtime (asyncrt__handle_exit).  Thread-local: only its thread touches
 * it. */
#define TASK_REF_BATCH 64u

typedef struct
{
  AsyncrtHandle *h;     /* the runtime the thread runs, or NULL */
  size_t n;             /* references of h held by the bank */
} RefBank;

static _Thread_local RefBank ref_bank;

static void
handle_unref_n (AsyncrtHandle *h, size_t n);

static void
ref_bank_flush (void)
{
  if (ref_bank.h != NULL && ref_bank.n > 0)
    handle_unref_n (ref_bank.h, ref_bank.n);
  ref_bank.h = NULL;
  ref_bank.n = 0;
}

AsyncrtHandle *
asyncrt__handle_enter (AsyncrtHandle *h)
{
  AsyncrtHandle *prev = asyncrt__current_handle;
  asyncrt__current_handle = h;
  if (ref_bank.h != h)
    {
      ref_bank_flush ();
      ref_bank.h = h;
    }
  return prev;
}

void
asyncrt__handle_exit (AsyncrtHandle *prev)
{
  asyncrt__current_handle = prev;
  if (ref_bank.h != prev)
    {
      ref_bank_flush ();
      ref_bank.h = prev;
    }
}

void
asyncrt__handle_ref_for_task (AsyncrtHandle *h)
{
  if (ref_bank.h != h)
    {
      asyncrt__handle_ref (h);
      return;
    }
  if (ref_bank.n == 0)
    {
      atomic_fetch_add_explicit (&h->refs, TASK_REF_BATCH, memory_order_relaxed);
      ref_bank.n = TASK_REF_BATCH;
    }
  ref_bank.n--;
}

void
asyncrt__handle_unref_for_task (AsyncrtHandle *h)
{
  if (ref_bank.h != h)
    {
      asyncrt__handle_unref (h);
      return;
    }
  if (++ref_bank.n >= 2 * TASK_REF_BATCH)
    {
      /* The bank keeps TASK_REF_BATCH: this never drops the last reference. */
      ref_bank.n -= TASK_REF_BATCH;
      atomic_fetch_sub_explicit (&h->refs, TASK_REF_BATCH, memory_order_acq_rel);
    }
}

int
asyncrt__handle_init (AsyncrtHandle *h, const AsyncrtSchedulerOps *ops,
                      const AsyncrtBuilder *b)
{
  int r = asyncrt__driver_new (&h->driver);
  if (r < 0)
    return r;
  h->sample_signo = b->sample_signo >= 0 ? b->sample_signo
                                         : asyncrt__sample_signal_from_env ();
  r = asyncrt__blocking_pool_new (b->max_blocking_threads, b->blocking_keep_alive_ms,
                                  h->sample_signo, &h->blocking);
  if (r < 0)
    {
      asyncrt__driver_shutdown (h->driver);
      asyncrt__driver_free (h->driver);
      h->driver = NULL;
      return r;
    }
  h->ops = ops;
  h->flavour = b->flavour;
  h->n_workers = 1;
  h->name = NULL;
  atomic_init (&h->refs, 1);
  atomic_init (&h->is_shutdown, false);
  atomic_init (&h->shut_down, false);
  h->unfinished = NULL;
  h->dump_queue = asyncrt__dump_queue_new ();
  asyncrt__owned_init (&h->owned);
  return 0;
}

void
asyncrt__handle_ref (AsyncrtHandle *h)
{
  atomic_fetch_add_explicit (&h->refs, 1, memory_order_relaxed);
}

void
asyncrt__handle_unref (AsyncrtHandle *h)
{
  handle_unref_n (h, 1);
}

static void
handle_unref_n (AsyncrtHandle *h, size_t n)
{
  if (atomic_fetch_sub_explicit (&h->refs, n, memory_order_acq_rel) != n)
    return;
  asyncrt__blocking_pool_free (h->blocking);
  asyncrt__driver_free (h->driver);
  asyncrt__owned_clear (&h->owned);
  asyncrt__dump_queue_free (h->dump_queue);
  g_free (h->name);
  asyncrt__unfinished_free (h->unfinished);
  asyncrt__stall_detector_free (h->stall);
  h->ops->free (h);
}

AsyncrtJoinHandle *
asyncrt__handle_spawn_task (AsyncrtHandle *h, const AsyncrtSpawnInfo *info,
                            AsyncrtPollFunc poll, void *future, AsyncrtFreeFunc free_func)
{
  if (h == NULL || poll == NULL)
    {
      errno = EINVAL;
      return NULL;
    }
  AsyncrtTask *t = asyncrt__task_new (h, info, poll, future, free_func);
  if (t == NULL)
    {
      errno = ENOMEM;
      return NULL;
    }
  if (!asyncrt__owned_bind (&h->owned, t))
    asyncrt__task_cancel_unbound (t);
  else
    h->ops->schedule (h, t, false);
  return asyncrt__task_to_join_handle (t);
}

/* ---- builders ----------------------------------------------------------------------- */

AsyncrtBuilder *
asyncrt__builder_new (AsyncrtFlavour flavour)
{
  AsyncrtBuilder *b = g_new0 (AsyncrtBuilder, 1);
  b->flavour = flavour;
  b->worker_threads = 0;
  b->max_blocking_threads = ASYNCRT_DEFAULT_MAX_BLOCKING_THREADS;
  b->blocking_keep_alive_ms = ASYNCRT_DEFAULT_BLOCKING_KEEP_ALIVE_MS;
  b->event_interval = 0;   /* 0: the flavour's default */
  b->sample_signo = -1;    /* the environment's, or the default */
  return b;
}

/**
 * asyncrt_builder_new_current_thread:
 *
 * Creates a builder for a current-thread runtime: every task runs on the thread that
 * is inside asyncrt_runtime_block_on(), and only while a thread is in there.
 *
 * Thread safety: any thread; a builder is used by one thread at a time.
 *
 * Returns: (transfer full): a new builder; free it with asyncrt_builder_free().
 * Since: 0.1
 */
AsyncrtBuilder *
asyncrt_builder_new_current_thread (void)
{
  return asyncrt__builder_new (ASYNCRT_FLAVOUR_CURRENT_THREAD);
}

/**
 * asyncrt_builder_set_max_blocking_threads:
 * @b: a builder
 * @n: the maximum number of blocking-pool threads, at least 1 (default 512)
 *
 * Sets how many threads the blocking pool may run at once; more blocking functions
 * wait in a queue.
 *
 * Thread safety: one thread at a time per builder.
 *
 * Returns: 0, or -EINVAL if @b is %NULL or @n is 0.
 * Since: 0.1
 */
int
asyncrt_builder_set_max_blocking_threads (AsyncrtBuilder *b, unsigned n)
{
  if (b == NULL || n == 0)
    return -EINVAL;
  b->max_blocking_threads = n;
  return 0;
}

/**
 * asyncrt_builder_set_blocking_keep_alive:
 * @b: a builder
 * @ms: how long an idle blocking-pool thread waits for work before exiting, in
 *   milliseconds (default 10000; 0 makes idle threads exit at once)
 *
 * Thread safety: one thread at a time per builder.
 *
 * Returns: 0, or -EINVAL if @b is %NULL.
 * Since: 0.1
 */
int
asyncrt_builder_set_blocking_keep_alive (AsyncrtBuilder *b, unsigned ms)
{
  if (b == NULL)
    return -EINVAL;
  b->blocking_keep_alive_ms = ms;
  return 0;
}

/**
 * asyncrt_builder_set_event_interval:
 * @b: a builder
 * @ticks: scheduling ticks between two checks of the injection queue (tasks woken or
 *   spawned from other threads) and of the I/O and timer driver, at least 1
 *   (default 31 on the current-thread runtime, 61 on the multi-thread one)
 *
 * A smaller value is fairer to remote wake-ups and I/O, a larger one favours tasks
 * already queued locally.
 *
 * Thread safety: one thread at a time per builder.
 *
 * Returns: 0, or -EINVAL if @b is %NULL or @ticks is 0.
 * Since: 0.1
 */
int
asyncrt_builder_set_event_interval (AsyncrtBuilder *b, unsigned ticks)
{
  if (b == NULL || ticks == 0)
    return -EINVAL;
  b->event_interval = ticks;
  return 0;
}

/**
 * asyncrt_builder_set_sample_signal:
 * @b: a builder
 * @signo: the signal native stacks are sampled with: `SIGUSR1`, `SIGUSR2` or a
 *   real-time signal (`SIGRTMIN` to `SIGRTMAX`); 0 turns native stacks off
 *
 * Chooses the signal with which the runtime interrupts one of its threads to sample
 * its native stack: a task found running by a task dump, a worker that did not stop
 * for it, a blocking-pool thread running a job, a stall (see "Native stacks" in the
 * dump section).  The default is `SIGRTMIN+6`, or what the `ASYNCRT_SAMPLE_SIGNAL`
 * environment variable says (a name such as `RTMIN+3` or `USR2`, a number, or `none`)
 * when the builder does not choose.
 *
 * The handler is installed when a stack is first sampled, and only if the program
 * has no disposition of its own for the signal (a handler, or SIG_IGN): the program's
 * is never replaced, and native stacks are then reported unavailable
 * (%ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE).  It is installed with `SA_RESTART`.  A
 * program that takes the signal only through signalfd() or sigwait() leaves its
 * disposition at `SIG_DFL`, where the library cannot see it: such a program must
 * choose another signal here (or 0).  The library's own threads unblock this signal;
 * a program's thread in asyncrt_runtime_block_on() keeps its mask (a thread that
 * blocks the signal is reported as such, %ASYNCRT_NATIVE_STACK_SIGNAL_BLOCKED).
 *
 * Thread safety: one thread at a time per builder.
 *
 * Returns: 0, or -EINVAL if @b is %NULL or @signo is none of the accepted signals.
 * Since: 0.2
 */
int
asyncrt_builder_set_sample_signal (AsyncrtBuilder *b, int signo)
{
  if (b == NULL || (signo != 0 && !asyncrt__sample_signal_is_valid (signo)))
    return -EINVAL;
  b->sample_signo = signo;
  return 0;
}

/**
 * asyncrt_builder_build:
 * @b: a builder
 * @out: (out): where to store the new runtime
 *
 * Builds a runtime from @b.  The builder can be reused or freed afterwards.  The
 * runtime is registered, under its name (asyncrt_builder_set_name()), in the
 * process-wide list the dump endpoint serves, until asyncrt_runtime_free().  The
 * first runtime built by the process reads `ASYNCRT_DUMP_ENDPOINT` and
 * `ASYNCRT_DUMP_SIGNAL` from the environment (see the section on dumps from outside
 * the process); without them nothing else happens.  Every runtime reads
 * `ASYNCRT_SAMPLE_SIGNAL` (the signal of native stacks, unless
 * asyncrt_builder_set_sample_signal() chose one) and `ASYNCRT_STALL_MS` (a stall
 * detector, unless asyncrt_builder_set_stall_detector() was called); a value it
 * cannot use is ignored with one message on stderr.
 *
 * Thread safety: one thread at a time per builder.
 *
 * Returns: 0 and the runtime in @out; -EINVAL if @b or @out is %NULL; -ENOTSUP for a
 *   flavour this build does not provide; -ENOMEM, -EMFILE or another negative errno
 *   if the driver (epoll, eventfd) cannot be created; -EAGAIN if the stall detector's
 *   thread cannot be created.
 * Since: 0.1
 */
int
asyncrt_builder_build (AsyncrtBuilder *b, AsyncrtRuntime **out)
{
  if (b == NULL || out == NULL)
    return -EINVAL;
  AsyncrtRuntime *rt = NULL;
  int r;
  switch (b->flavour)
    {
    case ASYNCRT_FLAVOUR_CURRENT_THREAD:
      r = asyncrt__current_thread_build (b, &rt);
      break;
    case ASYNCRT_FLAVOUR_MULTI_THREAD:
      r = asyncrt__multi_thread_build (b, &rt);
      break;
    default:
      return -EINVAL;
    }
  if (r < 0)
    return r;
  AsyncrtHandle *h = asyncrt__runtime_handle (rt);
  r = asyncrt__stall_detector_start (h, b);
  if (r < 0)
    {
      asyncrt_runtime_free (rt);
      return r;
    }
  asyncrt__registry_add (h, b->name);
  *out = rt;
  return 0;
}

/**
 * asyncrt_builder_free:
 * @b: (nullable): a builder
 *
 * Frees the builder; runtimes built from it are not affected.  %NULL is ignored.
 *
 * Thread safety: one thread at a time per builder.
 *
 * Since: 0.1
 */
void
asyncrt_builder_free (AsyncrtBuilder *b)
{
  if (b == NULL)
    return;
  g_free (b->name);
  g_free (b);
}

/* ---- runtimes ----------------------------------------------------------------------- */

/**
 * asyncrt_runtime_block_on:
 * @rt: a runtime
 * @poll: the poll function of the future to run
 * @future: (nullable): its state
 *
 * Runs @future to completion on the calling thread, polling it through a trace root.
 * On the current-thread runtime this thread also runs every task meanwhile.  The
 * future is not a task (asyncrt_task_id_current() is 0 in it) and is not freed:
 * read its result from @future afterwards.  Inside it, asyncrt_spawn() and
 * asyncrt_handle_current() refer to @rt.
 *
 * Thread safety: any thread that is not running a runtime.  On the current-thread
 * runtime one thread at a time.
 *
 * Returns: 0 once @future has returned %ASYNCRT_READY; -EINVAL if @rt or @poll is
 *   %NULL; -EDEADLK if called from inside a task or block_on future of any runtime
 *   (blocking there would deadlock the scheduler); -EBUSY if another thread is
 *   already in block_on on this current-thread runtime; -ESHUTDOWN if
 *   asyncrt_runtime_free() has begun.
 * Since: 0.1
 */
int
asyncrt_runtime_block_on (AsyncrtRuntime *rt, AsyncrtPollFunc poll, void *future)
{
  if (rt == NULL || poll == NULL)
    return -EINVAL;
  AsyncrtHandle *h = asyncrt__runtime_handle (rt);
  if (asyncrt__current_handle != NULL)
    return -EDEADLK;
  if (atomic_load_explicit (&h->is_shutdown, memory_order_acquire))
    return -ESHUTDOWN;
  return h->ops->block_on (h, poll, future);
}

/**
 * asyncrt_runtime_get_handle:
 * @rt: (nullable): a runtime
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the runtime's handle, valid until
 *   asyncrt_runtime_free(); %NULL for a %NULL @rt.
 * Since: 0.1
 */
AsyncrtHandle *
asyncrt_runtime_get_handle (AsyncrtRuntime *rt)
{
  if (rt == NULL)
    return NULL;
  return asyncrt__runtime_handle (rt);
}

/**
 * asyncrt_runtime_free:
 * @rt: (nullable): a runtime
 *
 * Shuts the runtime down and frees it: every task not yet finished is cancelled and
 * its future freed through its free function (exactly once, including tasks never
 * polled); spawns from now on are cancelled at once; queued and running blocking
 * functions finish; every thread of the runtime is joined.  Futures of finished
 * tasks whose join handle is still held stay readable until asyncrt_join_handle_free().
 * Wakers and join handles may outlive the runtime: waking is then a no-op.  %NULL is
 * ignored.
 *
 * Calling it from inside the runtime (a task or its block_on future) is a programming
 * error: it is refused with a critical warning and nothing is freed.
 *
 * After asyncrt_runtime_shutdown_timeout() the runtime is shut down already: this
 * only releases it, at once, and what that call reported as unfinished is freed.
 *
 * Thread safety: any thread outside the runtime, once no other thread is in
 * asyncrt_runtime_block_on() on it.
 *
 * Since: 0.1
 */
void
asyncrt_runtime_free (AsyncrtRuntime *rt)
{
  if (rt == NULL)
    return;
  AsyncrtHandle *h = asyncrt__runtime_handle (rt);
  if (asyncrt__current_handle == h)
    {
      g_critical ("asyncrt_runtime_free() called from inside the runtime it frees");
      return;
    }
  /* A dump's buffers kept for the next dump of the process go with the runtime. */
  asyncrt__spare_drop_all ();
  if (atomic_load_explicit (&h->shut_down, memory_order_acquire))
    {
      asyncrt__handle_unref (h);                /* shut down with a deadline already */
      return;
    }
  if (atomic_exchange_explicit (&h->is_shutdown, true, memory_order_acq_rel))
    {
      g_critical ("asyncrt_runtime_free() called twice");
      return;
    }
  asyncrt__registry_remove (h);
  asyncrt__runtime_shutdown (h, UINT64_MAX, NULL);
  asyncrt__handle_unref (h);
}

/**
 * asyncrt_handle_ref:
 * @h: (nullable): a runtime handle
 *
 * Takes a reference on the handle, so that it stays valid after its runtime is
 * freed — for a watchdog or a monitoring thread that may outlive the runtime it
 * watches.  Once asyncrt_runtime_free() has begun, the runtime behind a handle is
 * shut down: asyncrt_handle_dump() returns `-ESHUTDOWN`, spawns are cancelled at
 * once, and nothing of the freed runtime is touched.  Drop the reference with
 * asyncrt_handle_unref().
 *
 * The reference must be taken while the handle is valid: borrowed from a live runtime
 * (asyncrt_runtime_get_handle(), asyncrt_handle_current()) or from another reference.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer full) (nullable): @h, or %NULL for %NULL.
 * Since: 0.2
 */
AsyncrtHandle *
asyncrt_handle_ref (AsyncrtHandle *h)
{
  if (h != NULL)
    asyncrt__handle_ref (h);
  return h;
}

/**
 * asyncrt_handle_unref:
 * @h: (nullable): a handle reference from asyncrt_handle_ref()
 *
 * Drops a reference taken with asyncrt_handle_ref().  The last reference of a runtime
 * that was freed releases its remaining memory.  %NULL is ignored.
 *
 * Thread safety: any thread, including after asyncrt_runtime_free().
 *
 * Since: 0.2
 */
void
asyncrt_handle_unref (AsyncrtHandle *h)
{
  if (h != NULL)
    asyncrt__handle_unref (h);
}

/**
 * asyncrt_handle_current:
 *
 * Thread safety: any thread; the answer is about the calling thread.
 *
 * Returns: (transfer none) (nullable): the handle of the runtime whose task or
 *   block_on future is running on this thread (any flavour), or %NULL elsewhere.
 * Since: 0.1
 */
AsyncrtHandle *
asyncrt_handle_current (void)
{
  return asyncrt__current_handle;
}

/**
 * asyncrt_spawn_full:
 * @file: (nullable): source file of the spawn site (asyncrt_spawn() passes __FILE__)
 * @line: its line
 * @func: (nullable): its function
 * @name: (nullable): a name for the task, shown by dumps (copied)
 * @poll: the future's poll function
 * @future: (nullable): the future's state; the task owns it from now on
 * @free_func: (nullable): frees @future, called exactly once
 *
 * Spawns @future as a task on the runtime running on this thread (inside a task or a
 * block_on future); the spawn site strings must be static (string literals).  On a
 * current-thread runtime the task runs while a thread is in
 * asyncrt_runtime_block_on().  On a runtime being shut down the task is cancelled at
 * once: @future is freed and the join handle reports cancellation.
 *
 * Thread safety: any thread running a runtime; elsewhere use
 * asyncrt_handle_spawn_full().
 *
 * Returns: (transfer full) (nullable): the join handle; free it to detach the task.
 *   %NULL with errno ESRCH when called outside a runtime, EINVAL if @poll is %NULL,
 *   ENOMEM on allocation failure; @future is then not freed.
 * Since: 0.1
 */
AsyncrtJoinHandle *
asyncrt_spawn_full (const char *file, int line, const char *func, const char *name,
                    AsyncrtPollFunc poll, void *future, AsyncrtFreeFunc free_func)
{
  AsyncrtHandle *h = asyncrt__current_handle;
  if (h == NULL)
    {
      errno = ESRCH;
      return NULL;
    }
  AsyncrtSpawnInfo info = { file, line, func, name };
  return asyncrt__handle_spawn_task (h, &info, poll, future, free_func);
}

/**
 * asyncrt_handle_spawn_full:
 * @h: a runtime handle
 * @file: (nullable): source file of the spawn site
 * @line: its line
 * @func: (nullable): its function
 * @name: (nullable): a name for the task (copied)
 * @poll: the future's poll function
 * @future: (nullable): the future's state; the task owns it from now on
 * @free_func: (nullable): frees @future, called exactly once
 *
 * Spawns @future as a task on the runtime of @h, from any thread.  From a thread
 * outside the runtime the task goes through the runtime's injection queue.
 *
 * Thread safety: any thread, until asyncrt_runtime_free() of @h's runtime returns.
 *
 * Returns: (transfer full) (nullable): the join handle, or %NULL with errno EINVAL
 *   (@h or @poll %NULL) or ENOMEM; @future is then not freed.
 * Since: 0.1
 */
AsyncrtJoinHandle *
asyncrt_handle_spawn_full (AsyncrtHandle *h, const char *file, int line, const char *func,
                           const char *name, AsyncrtPollFunc poll, void *future,
                           AsyncrtFreeFunc free_func)
{
  AsyncrtSpawnInfo info = { file, line, func, name };
  return asyncrt__handle_spawn_task (h, &info, poll, future, free_func);
}
