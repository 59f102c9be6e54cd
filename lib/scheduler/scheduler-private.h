/* libasyncrt - runtimes, handles and builders: the interface between tasks and the
 * scheduler flavours
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A runtime is made of one AsyncrtHandle, embedded first in the flavour's own struct
 * (current_thread.c, multi_thread/).  The handle carries what every flavour shares:
 * the ops vtable, the owned-task list, the driver, the blocking pool, a reference
 * count and the dump module's queue of requests.  The task module only ever calls
 * handle->ops->schedule() and the owned list; everything else is the flavour's.
 *
 * ## Lifetime
 * The handle is reference counted: the runtime holds one reference (dropped at the end
 * of asyncrt_runtime_free()), each task holds one (dropped when the task is freed;
 * taken through the spawning thread's bank, runtime.c), and
 * so does whoever called asyncrt_handle_ref() (a watchdog), a dump requester while it
 * waits, a dump future from its first poll.  So a waker woken from a foreign thread
 * after asyncrt_runtime_free() still finds a valid handle: its task is complete and
 * nothing is scheduled; a dump of it returns -ESHUTDOWN.  ops->free() runs when the
 * last reference goes; it frees the flavour struct and the driver.
 *
 * ## Shutdown order (asyncrt_runtime_free or asyncrt_runtime_shutdown_timeout ->
 * asyncrt__runtime_shutdown, shutdown.c)
 *   1. shutdown flag set (new block_on -> -ESHUTDOWN, new dumps -> -ESHUTDOWN), then
 *      every dump requester woken (asyncrt__dump_queue_shutdown), and the stall
 *      detector's watchdog stopped (lib/stall);
 *   2. asyncrt__owned_close_and_shutdown_all(): later spawns are cancelled at once,
 *      every task is cancelled and its future freed (a task running on a worker is
 *      marked and cancels itself at the end of its poll);
 *   3. the blocking pool is shut down (queued and running functions finish, threads
 *      are joined) — with a deadline, what still runs then is abandoned (pool.c);
 *   4. the flavour closes its injection queue, ends any dump it is serving, stops
 *      its threads and drains every queue with asyncrt__task_drop_notified() — with a
 *      deadline, a worker still inside a task's poll then is abandoned: it holds a
 *      handle reference until it comes back and exits, so the memory it uses stays
 *      valid;
 *   5. asyncrt__driver_shutdown().
 * asyncrt_runtime_free() then drops the runtime's handle reference (after a
 * shutdown_timeout it does only that, at once).
 *
 * ## Thread-locals
 * asyncrt__current_handle is the handle of the runtime the thread is running (a
 * worker, or a thread inside block_on): enter/exit it around those.  The current task
 * is in task-private.h.
 */
#ifndef ASYNCRT_SCHEDULER_PRIVATE_H
#define ASYNCRT_SCHEDULER_PRIVATE_H

#include "util/common-private.h"
#include "task/task-private.h"
#include "driver/driver-private.h"

#include <glib.h>

typedef struct _AsyncrtBlockingPool AsyncrtBlockingPool;
typedef struct _AsyncrtSampleSlot AsyncrtSampleSlot;       /* lib/sample/sample-private.h */
typedef struct _AsyncrtStallDetector AsyncrtStallDetector; /* lib/stall/stall-private.h */
typedef struct _AsyncrtDumpRequest AsyncrtDumpRequest;   /* lib/dump/dump-sched-private.h */
typedef struct _AsyncrtDumpQueue AsyncrtDumpQueue;

typedef enum
{
  ASYNCRT_FLAVOUR_CURRENT_THREAD = 1,
  ASYNCRT_FLAVOUR_MULTI_THREAD = 2
} AsyncrtFlavour;

/* Default builder values. */
#define ASYNCRT_DEFAULT_MAX_BLOCKING_THREADS 512u
#define ASYNCRT_DEFAULT_BLOCKING_KEEP_ALIVE_MS 10000u

struct _AsyncrtBuilder
{
  AsyncrtFlavour flavour;
  unsigned worker_threads;              /* multi_thread: 0 = number of CPUs */
  unsigned max_blocking_threads;        /* >= 1 */
  unsigned blocking_keep_alive_ms;
  unsigned event_interval;              /* injection-queue check period, in ticks */
  char *name;                           /* owned; NULL: the registry's default */
  int sample_signo;                     /* -1: not set (environment, default); 0: off */
  bool stall_set;                       /* asyncrt_builder_set_stall_detector() called */
  unsigned stall_threshold_ms;          /* 0: no stall detector */
  AsyncrtStallFunc stall_func;          /* NULL: reports go to stderr */
  void *stall_data;
};

/* A builder with every default set (asyncrt_builder_new_multi_thread() uses it). */
AsyncrtBuilder *asyncrt__builder_new (AsyncrtFlavour flavour);

typedef struct
{
  /* Queues @t, whose notified reference is passed in.  @is_yield: the task was woken
   * while it was running (or yielded); queue it behind the others.  Any thread; from a
   * thread of this runtime the flavour may use its local queue, otherwise it uses the
   * injection queue and unparks.  Once the runtime is shut down the flavour gives the
   * reference back with asyncrt__task_drop_notified(). */
  void (*schedule) (AsyncrtHandle *h, AsyncrtTask *t, bool is_yield);
  /* Wakes a parked thread of this runtime (any thread). */
  void (*unpark) (AsyncrtHandle *h);
  /* asyncrt_runtime_block_on() after the common checks (rt, poll non-NULL, not
   * inside a runtime, not shut down). */
  int (*block_on) (AsyncrtHandle *h, AsyncrtPollFunc poll, void *future);
  /* Steps 4 of the shutdown order above (flavour-specific part); called once, after
   * steps 1-3.  Waits for the flavour's threads until @deadline_ns
   * (asyncrt__clock_now_ns(); UINT64_MAX: no limit); threads still busy then are
   * abandoned and appended to @unfinished (may be NULL), and it returns -ETIMEDOUT;
   * otherwise 0. */
  int (*shutdown) (AsyncrtHandle *h, uint64_t deadline_ns, GArray *unfinished);
  /* Frees the flavour struct when the last handle reference goes. */
  void (*free) (AsyncrtHandle *h);
  /* Task dumps: the one hook lib/dump asks them through.  Serves (TRACE) or answers
   * (CENSUS) @req as lib/dump/dump-sched-private.h describes: from any thread, never
   * waiting for the runtime's threads. */
  void (*dump) (AsyncrtHandle *h, AsyncrtDumpRequest *req);
  /* Native stacks and stalls (lib/dump, lib/stall): what worker @i is doing (below
   * n_workers; the current-thread runtime's thread in block_on is worker 0).
   * Returns the id of the task it is polling, 0 if none, with the start of that poll
   * (CLOCK_MONOTONIC_COARSE, ns) in *ret_start_ns (may be NULL) — the current-thread
   * runtime publishes them only while a stall detector watches it (0 otherwise);
   * and, if @ret_slot is not NULL, a new reference on the worker's sample slot (NULL
   * if native stacks are off).  Any thread, any time; reads only. */
  AsyncrtTaskId (*worker_activity) (AsyncrtHandle *h, unsigned i, uint64_t *ret_start_ns,
                                    AsyncrtSampleSlot **ret_slot);
} AsyncrtSchedulerOps;

/* What a shutdown with a deadline left running (asyncrt_runtime_get_unfinished()). */
typedef struct
{
  AsyncrtUnfinishedKind kind;
  AsyncrtTaskId task_id;        /* the task the job serves or the worker polls, or 0 */
  uint64_t running_ns;          /* how long it had been running at the deadline */
  uintptr_t symbol;             /* BLOCKING_JOB: the function, to name it; or 0 */
  unsigned worker;              /* WORKER: its index */
  char *description;            /* built on first access (symbols resolved then) */
} AsyncrtUnfinished;

struct _AsyncrtHandle
{
  const AsyncrtSchedulerOps *ops;
  AsyncrtFlavour flavour;
  /* Written by every thread that takes or drops a reference: kept off the cache
   * lines of the fields read on every schedule (ops) and of the owned list. */
  char refs_pad0[ASYNCRT_CACHELINE];
  _Atomic size_t refs;
  char refs_pad1[ASYNCRT_CACHELINE];
  atomic_bool is_shutdown;
  AsyncrtOwnedTasks owned;
  AsyncrtDriver *driver;
  AsyncrtBlockingPool *blocking;
  /* lib/dump's: the runtime's dump requests, their lock and condition variable
   * (request.c); created with the handle, freed with its last reference. */
  AsyncrtDumpQueue *dump_queue;
  /* Written once before the runtime is handed out (the flavour's build sets
   * n_workers, registry.c the rest); the name is freed with the handle. */
  unsigned n_workers;
  char *name;
  uint64_t serial;
  bool registered;            /* guarded by the registry lock (registry.c) */
  /* Set by asyncrt_runtime_shutdown_timeout() once it has shut the runtime down
   * (asyncrt_runtime_free() then only drops the reference), with what it left
   * running (AsyncrtUnfinished; NULL if nothing).  Written by the thread shutting
   * down, read by the one freeing (the caller orders the two calls). */
  atomic_bool shut_down;
  GArray *unfinished;
  /* Native stacks (lib/sample): the signal this runtime's threads are sampled with,
   * 0 if off; fixed by asyncrt__handle_init() from the builder or the environment. */
  int sample_signo;
  /* The stall detector (lib/stall), or NULL: set by asyncrt_builder_build() before
   * the runtime is handed out, stopped by the shutdown (step 1), freed with the
   * handle. */
  AsyncrtStallDetector *stall;
};

/* The runtime is the handle; asyncrt_runtime_get_handle() returns it. */
static inline AsyncrtHandle *
asyncrt__runtime_handle (AsyncrtRuntime *rt)
{
  return (AsyncrtHandle *) (void *) rt;
}

/* Initialises the common part (owned list, driver, blocking pool from @b, one
 * reference for the runtime).  Returns 0 or a negative errno; on failure nothing
 * needs undoing. */
int  asyncrt__handle_init (AsyncrtHandle *h, const AsyncrtSchedulerOps *ops,
                           const AsyncrtBuilder *b);
void asyncrt__handle_ref (AsyncrtHandle *h);
void asyncrt__handle_unref (AsyncrtHandle *h);   /* last: driver free, ops->free */
/* The same for a task's reference: batched through a bank of the calling thread's
 * while it runs @h (runtime.c). */
void asyncrt__handle_ref_for_task (AsyncrtHandle *h);
void asyncrt__handle_unref_for_task (AsyncrtHandle *h);

/* The one spawn path: creates the task, binds it to the owned list (cancelled at once
 * if the list is closed) and passes it to ops->schedule().  Returns the join handle,
 * or NULL with errno ENOMEM / EINVAL. */
AsyncrtJoinHandle *asyncrt__handle_spawn_task (AsyncrtHandle *h, const AsyncrtSpawnInfo *info,
                                              AsyncrtPollFunc poll, void *future,
                                              AsyncrtFreeFunc free_func);

/* Thread-local current handle; enter() returns the previous one for exit(). */
extern _Thread_local AsyncrtHandle *asyncrt__current_handle;
AsyncrtHandle *asyncrt__handle_enter (AsyncrtHandle *h);
void asyncrt__handle_exit (AsyncrtHandle *prev);

/* Flavour constructors, dispatched on by asyncrt_builder_build(). */
int asyncrt__current_thread_build (const AsyncrtBuilder *b, AsyncrtRuntime **out);
/* Provided by lib/scheduler/multi-thread-stub.c (-ENOTSUP) until the multi-thread
 * flavour replaces it. */
int asyncrt__multi_thread_build (const AsyncrtBuilder *b, AsyncrtRuntime **out);

/* Shutdown (shutdown.c): steps 1-5 above, waiting at most until @deadline_ns
 * (UINT64_MAX: no limit).  Returns 0, or -ETIMEDOUT with what was left running
 * appended to @unfinished (may be NULL). */
int asyncrt__runtime_shutdown (AsyncrtHandle *h, uint64_t deadline_ns, GArray *unfinished);
/* Frees an array of AsyncrtUnfinished (NULL is fine). */
void asyncrt__unfinished_free (GArray *unfinished);

/* Blocking pool (lib/blocking/). */
typedef struct
{
  void (*fn) (void *data);      /* the job */
  /* Run instead of fn, on the thread shutting down, when a shutdown deadline drops
   * the job before it started, so it can release @data and wake its waiter.  NULL:
   * the job is dropped silently (only for jobs with nothing to release). */
  void (*cancel) (void *data);
  void *data;
  const void *symbol;           /* names the job in shutdown reports (NULL: fn) */
  AsyncrtTaskId task_id;        /* the task waiting for it, or 0 */
} AsyncrtBlockingJob;

/* Runs a job on a pool thread; 0, -EINVAL, -ESHUTDOWN, or -EAGAIN if no thread
 * could be created and none exists. */
int asyncrt__blocking_spawn_job (AsyncrtHandle *h, const AsyncrtBlockingJob *job);
/* The same with no cancel function, no task and the job named by @fn. */
int asyncrt__blocking_spawn (AsyncrtHandle *h, void (*fn) (void *data), void *data);
/* @sample_signo: the runtime's sampling signal (0: none), unblocked in the pool's
 * threads (which block every other signal). */
int  asyncrt__blocking_pool_new (unsigned max_threads, unsigned keep_alive_ms, int sample_signo,
                                 AsyncrtBlockingPool **out);
/* Later spawns get -ESHUTDOWN; what is queued runs; waits for every thread until
 * @deadline_ns (UINT64_MAX: no limit) and joins it.  Past the deadline the pool is
 * abandoned (see pool.c): jobs not started are cancelled, running ones are appended
 * to @unfinished (may be NULL) and their threads detached; returns -ETIMEDOUT (also
 * when called again after that), otherwise 0. */
int  asyncrt__blocking_pool_shutdown (AsyncrtBlockingPool *p, uint64_t deadline_ns,
                                      GArray *unfinished);
/* Shuts down (no limit, at once if done or abandoned) and drops the owner's
 * reference; abandoned threads hold their own. */
void asyncrt__blocking_pool_free (AsyncrtBlockingPool *p);
int  asyncrt__blocking_pool_spawn (AsyncrtBlockingPool *p, const AsyncrtBlockingJob *job);

/* A job running on a pool thread, for dumps (its native stack is sampled). */
typedef struct
{
  const void *symbol;           /* names the job (its function, or the job's symbol) */
  AsyncrtTaskId task_id;        /* the task waiting for it, or 0 */
  uint64_t start_ns;            /* asyncrt__clock_now_ns() when it started */
  AsyncrtSampleSlot *slot;      /* its thread's slot, borrowed (NULL: not sampled) */
} AsyncrtBlockingRunning;
typedef void (*AsyncrtBlockingRunningFunc) (const AsyncrtBlockingRunning *job, void *data);
/* Calls @func for every job running now, under the pool's lock: @func must not take
 * another lock nor call into the pool; it may take a reference on the slot. */
void asyncrt__blocking_pool_foreach_running (AsyncrtBlockingPool *p,
                                             AsyncrtBlockingRunningFunc func, void *data);
/* The code range of the function that runs each job: a native stack of a pool
 * thread is cut there (the job's own frames are below it). */
void asyncrt__blocking_run_range (uintptr_t *start, uintptr_t *end);

#endif /* ASYNCRT_SCHEDULER_PRIVATE_H */
