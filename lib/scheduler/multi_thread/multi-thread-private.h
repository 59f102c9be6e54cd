/* libasyncrt - multi-thread scheduler (internal interface)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * idle.c     which workers search, which are parked, whom new work wakes
 * park.c     the per-worker parker and the shared driver lock
 * worker.c   the workers, their run loop, scheduling, shutdown
 * runtime.c  build, block_on, shutdown, stopping every worker for a dump
 * barrier.c  the dump barrier (arrive / lead / withdraw / release)
 * taskdump.c the dump hook (ops->dump): rounds, the leader's work
 * The ownership rules of each part open its source file.
 */
#ifndef ASYNCRT_MULTI_THREAD_PRIVATE_H
#define ASYNCRT_MULTI_THREAD_PRIVATE_H

#include "util/common-private.h"
#include "driver/driver-private.h"
#include "queue/queue-private.h"
#include "scheduler/scheduler-private.h"
#include "task/task-private.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- idle.c ----------------------------------------------------------------- */

typedef struct
{
  /* (num_unparked << 32) | (num_watching << 16) | num_searching */
  _Atomic uint64_t state;
  unsigned num_workers;        /* immutable */
  pthread_mutex_t lock;
  unsigned *sleepers;          /* guarded by lock: stack of parked worker indices */
  bool *is_sleeping;           /* guarded by lock */
  bool *is_watching;           /* guarded by lock */
  size_t n_sleepers;           /* guarded by lock */
} AsyncrtMtIdle;

void asyncrt__mt_idle_init (AsyncrtMtIdle *idle, unsigned num_workers);
void asyncrt__mt_idle_clear (AsyncrtMtIdle *idle);
/* After publishing work: the index of a parked worker to unpark (now counted as
 * unparked and searching), or -1 if none should be woken. */
int  asyncrt__mt_idle_worker_to_notify (AsyncrtMtIdle *idle);
/* After filling an empty LIFO slot with a seq_cst exchange: the same, but only when no
 * worker watches either. */
int  asyncrt__mt_idle_worker_to_notify_lifo (AsyncrtMtIdle *idle);
/* A parked @worker becomes the watcher (it parks with a timeout and looks at the LIFO
 * slots again); false if it is not parked or another worker watches.  It stops by
 * stop_watching or by leaving the stack (unparked by anyone). */
bool asyncrt__mt_idle_start_watching (AsyncrtMtIdle *idle, unsigned worker);
void asyncrt__mt_idle_stop_watching (AsyncrtMtIdle *idle, unsigned worker);
bool asyncrt__mt_idle_is_watching (AsyncrtMtIdle *idle, unsigned worker);
/* Returns true if nobody searches once the caller is parked (it was the last
 * searcher, or it was not searching and neither is anybody else now): it must then
 * re-check every queue and notify a worker if it finds work. */
bool asyncrt__mt_idle_transition_to_parked (AsyncrtMtIdle *idle, unsigned worker,
                                            bool is_searching);
bool asyncrt__mt_idle_transition_to_searching (AsyncrtMtIdle *idle);
/* Returns true if the caller was the last searcher (it should notify another). */
bool asyncrt__mt_idle_transition_from_searching (AsyncrtMtIdle *idle);
/* Removes @worker from the sleepers (unparked, not searching); false if it was not
 * parked (someone else unparked it, as a searcher). */
bool asyncrt__mt_idle_unpark_worker_by_id (AsyncrtMtIdle *idle, unsigned worker);
bool asyncrt__mt_idle_is_parked (AsyncrtMtIdle *idle, unsigned worker);
/* Unparks every parked worker through the bookkeeping (each counted unparked and
 * searching); writes their indices to @out (room for num_workers) and returns how
 * many.  The caller then unparks their parkers.  Used by shutdown and dumps. */
size_t asyncrt__mt_idle_unpark_all (AsyncrtMtIdle *idle, unsigned *out);
unsigned asyncrt__mt_idle_num_searching (AsyncrtMtIdle *idle);
unsigned asyncrt__mt_idle_num_watching (AsyncrtMtIdle *idle);
unsigned asyncrt__mt_idle_num_unparked (AsyncrtMtIdle *idle);

/* ---- park.c ----------------------------------------------------------------- */

typedef struct
{
  AsyncrtDriver *driver;       /* immutable; NULL: every worker parks on its condvar */
  _Atomic bool locked;         /* the driver lock (try-lock only) */
} AsyncrtMtSharedDriver;

void asyncrt__mt_shared_driver_init (AsyncrtMtSharedDriver *sd, AsyncrtDriver *driver);
bool asyncrt__mt_shared_driver_trylock (AsyncrtMtSharedDriver *sd);
void asyncrt__mt_shared_driver_unlock (AsyncrtMtSharedDriver *sd);

typedef struct
{
  _Atomic unsigned state;      /* EMPTY, PARKED_CONDVAR, PARKED_DRIVER, NOTIFIED */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  AsyncrtMtSharedDriver *shared;
} AsyncrtMtParker;

void asyncrt__mt_parker_init (AsyncrtMtParker *p, AsyncrtMtSharedDriver *shared);
void asyncrt__mt_parker_clear (AsyncrtMtParker *p);
/* Owner only.  Returns after an unpark (possibly one that came before the call) or
 * spuriously; callers loop on their own condition. */
void asyncrt__mt_parker_park (AsyncrtMtParker *p);
/* Owner only.  The same, but returns after at most about @timeout_ms (> 0) too. */
void asyncrt__mt_parker_park_timeout (AsyncrtMtParker *p, unsigned timeout_ms);
/* Owner only.  Consumes a pending unpark, or polls the driver without blocking if
 * its lock is free. */
void asyncrt__mt_parker_park_timeout_zero (AsyncrtMtParker *p);
/* Any thread. */
void asyncrt__mt_parker_unpark (AsyncrtMtParker *p);

/* ---- worker.c / runtime.c ---------------------------------------------------------- */

/* Largest accepted worker count (asyncrt_builder_build() gives -EINVAL above it). */
#define ASYNCRT_MT_MAX_WORKERS 1024u
/* LIFO-slot polls allowed in a row (ping-pong cap) while the local queue holds other
 * tasks; no cap with the queue empty (a chain of spawns, a ping-pong alone on its
 * worker: nothing local waits). */
#define ASYNCRT_MT_MAX_LIFO_POLLS 3u
/* A searcher that found nothing keeps looking this long before it parks. */
#define ASYNCRT_MT_SPIN_NS 20000u
/* A task left this long in the LIFO slot of a worker that is still inside the same
 * poll may be stolen (the worker is likely blocked in that poll). */
#define ASYNCRT_MT_LIFO_STEAL_NS 10000u
/* The watcher's park timeout. */
#define ASYNCRT_MT_WATCH_MS 1u
#define ASYNCRT_MT_DEFAULT_EVENT_INTERVAL 61u

/* Bits of AsyncrtMtRuntime.attention: why a worker must leave its fast path. */
#define ASYNCRT_MT_ATTENTION_SHUTDOWN 1u
#define ASYNCRT_MT_ATTENTION_DUMP     2u

typedef struct _AsyncrtMtRuntime AsyncrtMtRuntime;
typedef struct _AsyncrtMtWorker AsyncrtMtWorker;

/* What a worker saw in a sibling's LIFO slot, and since when (worker.c). */
typedef struct
{
  const AsyncrtTask *task;         /* never dereferenced: only compared */
  AsyncrtTaskId polling;           /* the sibling's current_task_id then */
  uint64_t since_ns;
} AsyncrtMtLifoSeen;

/* One worker.  Fields are owned by the worker's thread unless stated otherwise; a dump
 * leader may use the queue and the LIFO slot of a worker that is stopped in the dump
 * hook (the hook's barrier orders the accesses), see the dump section below. */
struct _AsyncrtMtWorker
{
  /* Stealers (any worker) and the dump leader. */
  AsyncrtLocalQueue queue;
  /* The LIFO slot: holds a notified reference.  The owner fills and empties it with
   * seq_cst exchanges; another worker may take a task it finds there (stuck behind a
   * long poll) with a compare-and-swap, and the dump leader takes it (exchange)
   * while the owner is stopped.  Whoever takes it owns the notified reference. */
  _Atomic (AsyncrtTask *) lifo;
  /* Written by the owner around every task poll, read by anyone (dumps): the id of
   * the task being polled (0: none; release store after the start time, read with
   * acquire) and when its poll started (CLOCK_MONOTONIC_COARSE, ns, relaxed). */
  _Atomic uint64_t current_task_id;
  _Atomic uint64_t current_poll_start_ns;
  AsyncrtMtParker parker;          /* unpark: any thread */

  /* Immutable after build. */
  AsyncrtMtRuntime *rt;
  unsigned index;
  AsyncrtSampleSlot *sample_slot;  /* lib/sample: the thread's slot (NULL: stacks off) */
  char name[24];                   /* "asyncrt-worker-N" */
  pthread_t thread;
  bool thread_started;

  /* rt->exit_lock: the thread left asyncrt__mt_worker_main's run loop for good;
   * abandoned by a shutdown whose deadline passed (detached, holds a handle
   * reference that it drops as it exits). */
  bool has_exited;
  bool abandoned;

  /* Owner only. */
  AsyncrtMtLifoSeen *lifo_seen;    /* one per worker (allocated at build) */
  unsigned lifo_run;               /* LIFO polls in a row (worker.c, next_local) */
  uint32_t ticks_to_event;         /* run loop ticks until the next event_interval one */
  uint32_t rng;
  bool is_searching;               /* mirrors the idle counters */
  bool lifo_enabled;
  bool in_run;                     /* inside asyncrt__task_run */
  bool parking;                    /* inside the parker: wakes queue, notify later */
  bool exited;                     /* left the run loop; wakes go to the injection queue */
  bool in_dump_func;               /* inside the dump request's func */
  uint64_t seen_dump_seq;
} __attribute__ ((aligned (ASYNCRT_CACHELINE)));

typedef void (*AsyncrtMtDumpFunc) (AsyncrtMtWorker *w, void *data);

struct _AsyncrtMtRuntime
{
  AsyncrtHandle handle;            /* first: the runtime is its handle */

  unsigned n_workers;              /* immutable */
  unsigned event_interval;         /* immutable */
  AsyncrtMtWorker *workers;        /* immutable array */
  AsyncrtInject inject;
  AsyncrtMtIdle idle;
  AsyncrtMtSharedDriver driver;
  /* Set bits: SHUTDOWN (once, release), DUMP (while a request is active).  Workers
   * load it (acquire) at every scheduling point and before parking; it is 0 on the
   * fast path. */
  _Atomic unsigned attention;

  /* Dump requests (see asyncrt__mt_dump_request_begin). */
  pthread_mutex_t dump_lock;
  pthread_cond_t dump_cond;
  _Atomic uint64_t dump_seq;       /* bumped by each request, under dump_lock */
  AsyncrtMtDumpFunc dump_func;     /* guarded by dump_lock */
  void *dump_data;                 /* guarded by dump_lock */
  /* guarded by dump_lock.  active: a request exists, from begin() until end() has
   * seen every worker leave dump_func (a new begin() is refused until then).
   * open: workers may still enter dump_func; end() closes it first. */
  bool dump_active;
  bool dump_open;
  unsigned dump_in_func;           /* guarded by dump_lock: workers inside dump_func */
  /* guarded by dump_lock: the dump round being served (taskdump.c), or NULL */
  struct _AsyncrtMtDumpRound *dump_round;

  /* Worker exits, for a shutdown with a deadline (runtime.c): has_exited and
   * abandoned of every worker; exit_cond uses CLOCK_MONOTONIC. */
  pthread_mutex_t exit_lock;
  pthread_cond_t exit_cond;

  /* Threads inside block_on, woken at shutdown (runtime.c). */
  pthread_mutex_t block_ons_lock;
  struct _BlockOnSignal *block_ons;
};

void asyncrt__mt_schedule (AsyncrtHandle *h, AsyncrtTask *t, bool is_yield);
/* ops->worker_activity: a worker's published task and poll start, and its slot. */
AsyncrtTaskId asyncrt__mt_worker_activity (AsyncrtHandle *h, unsigned i, uint64_t *ret_start_ns,
                                           AsyncrtSampleSlot **ret_slot);
/* ops->unpark: one parked worker. */
void asyncrt__mt_unpark (AsyncrtHandle *h);
void asyncrt__mt_unpark_all (AsyncrtMtRuntime *rt);
void *asyncrt__mt_worker_main (void *data);
/* Unparks the worker that idle bookkeeping chose, if any. */
void asyncrt__mt_notify_parked (AsyncrtMtRuntime *rt);
/* The worker the calling thread is, or NULL. */
AsyncrtMtWorker *asyncrt__mt_current_worker (void);
/* Gives back every queued notified reference of @w (LIFO slot and local queue). */
void asyncrt__mt_worker_drain (AsyncrtMtWorker *w);

/* ---- stopping every worker for a task dump (runtime.c, used by taskdump.c) ----------
 *
 * Stopping every worker:
 *   asyncrt__mt_dump_request_begin (h, func, data) publishes the request, sets the
 *   DUMP attention bit and unparks every parked worker through the idle bookkeeping
 *   (asyncrt__mt_idle_unpark_all: they count as unparked searchers, so nothing is lost
 *   for later spawns).  Each worker then calls func (w, data) exactly once per request,
 *   at its next scheduling point: between two task polls (never inside one), with no
 *   lock held (its LIFO slot may hold the task the last poll woke or spawned: the
 *   leader takes it), or instead of parking.  func is the barrier: it
 *   returns when the worker may go on (leader done, or the worker withdrew after the
 *   deadline).  A worker busy inside a long poll calls func late, possibly after
 *   the request ended, in which case it does not call it at all.
 *   asyncrt__mt_dump_request_end (h) clears the request and waits until no other
 *   worker is inside func (it may be called from inside func, e.g. by the leader);
 *   after it returns func and data are no longer used by other workers.
 *   Returns -EBUSY if a request is already active (serialise in the caller).
 *
 * Reading a worker (the leader, for any worker w, including itself):
 *   asyncrt__mt_worker_take_lifo (w) / asyncrt__mt_worker_pop_local (w): only for a
 *   worker stopped in func (or the caller's own worker); they transfer the notified
 *   reference to the caller.
 *   asyncrt__mt_worker_steal (w, into): any worker w, even one still running; @into
 *   must be the caller's own (stopped) worker with an empty queue.
 *   asyncrt__mt_worker_steal_lifo (w): any worker w, even one still running: takes
 *   the task in its LIFO slot (compare-and-swap), with its notified reference.
 *   asyncrt__mt_worker_current_task (w, &start_ns): any worker, any time: id of the
 *   task it is polling (0 if none) and the start of that poll.
 *   asyncrt__mt_worker_peek_lifo (w): any worker, any time, racy: the task in its
 *   LIFO slot (only to say where an untraced task was; never dereference it).
 */
int  asyncrt__mt_dump_request_begin (AsyncrtHandle *h, AsyncrtMtDumpFunc func, void *data);
void asyncrt__mt_dump_request_end (AsyncrtHandle *h);
unsigned asyncrt__mt_num_workers (AsyncrtHandle *h);
AsyncrtMtWorker *asyncrt__mt_worker (AsyncrtHandle *h, unsigned i);
AsyncrtTask *asyncrt__mt_worker_take_lifo (AsyncrtMtWorker *w);
AsyncrtTask *asyncrt__mt_worker_pop_local (AsyncrtMtWorker *w);
AsyncrtTask *asyncrt__mt_worker_steal (AsyncrtMtWorker *w, AsyncrtMtWorker *into);
AsyncrtTask *asyncrt__mt_worker_steal_lifo (AsyncrtMtWorker *w);
AsyncrtTaskId asyncrt__mt_worker_current_task (AsyncrtMtWorker *w, uint64_t *start_ns);
const AsyncrtTask *asyncrt__mt_worker_peek_lifo (AsyncrtMtWorker *w);
/* The injection queue, for the leader to drain (any thread may pop). */
AsyncrtInject *asyncrt__mt_inject (AsyncrtHandle *h);

/* ---- taskdump.c --------------------------------------------------------------------- */

/* ops->dump (lib/dump/dump-sched-private.h). */
void asyncrt__mt_dump (AsyncrtHandle *h, AsyncrtDumpRequest *req);
/* ops->shutdown: ends the round being served, if no worker leads it yet (its waiting
 * workers withdraw), so that every worker can be joined. */
void asyncrt__mt_dump_shutdown (AsyncrtHandle *h);

/* ---- barrier.c ----------------------------------------------------------------------
 * One round of the multi-thread stop: workers arrive at their scheduling points;
 * exactly one leads (the last of all workers to arrive, or, once the deadline has
 * passed, the first present worker to notice); the others wait until the leader
 * releases them.  Until a leader exists a round can be cancelled: every waiting
 * worker then withdraws its arrival and returns to scheduling. */
typedef enum
{
  ASYNCRT_MT_BARRIER_LEAD,       /* the caller leads: steal, collect, then release */
  ASYNCRT_MT_BARRIER_RELEASED,   /* a leader did the work and released the caller */
  ASYNCRT_MT_BARRIER_WITHDRAWN,  /* the round was cancelled while the caller waited */
  ASYNCRT_MT_BARRIER_CLOSED      /* too late (led, released or cancelled) or again */
} AsyncrtMtBarrierResult;

typedef struct
{
  pthread_mutex_t lock;
  pthread_cond_t cond;             /* CLOCK_MONOTONIC */
  unsigned n_workers;              /* immutable */
  uint64_t deadline_ns;            /* immutable */
  /* guarded by lock */
  int phase;
  unsigned n_arrived;
  int leader;
  uint8_t *arrived;                /* per worker: BARRIER_ABSENT / _PRESENT */
} AsyncrtMtBarrier;

void asyncrt__mt_barrier_init (AsyncrtMtBarrier *b, unsigned n_workers, uint64_t deadline_ns);
void asyncrt__mt_barrier_clear (AsyncrtMtBarrier *b);
AsyncrtMtBarrierResult asyncrt__mt_barrier_arrive (AsyncrtMtBarrier *b, unsigned worker);
/* Leader only, between LEAD and release: was @worker stopped at the barrier? */
bool asyncrt__mt_barrier_is_present (AsyncrtMtBarrier *b, unsigned worker);
unsigned asyncrt__mt_barrier_n_present (AsyncrtMtBarrier *b);
void asyncrt__mt_barrier_release (AsyncrtMtBarrier *b);
/* true: cancelled before any leader (every waiter withdraws); false: a leader exists. */
bool asyncrt__mt_barrier_cancel (AsyncrtMtBarrier *b);

#endif /* ASYNCRT_MULTI_THREAD_PRIVATE_H */
