/* libasyncrt - task dumps (internal interface)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * dump.c     the AsyncrtDump object, its accessors and its text / JSON forms
 * collect.c  AsyncrtDumpRun: the algorithm a serving thread runs (trace the queued
 *            tasks, collect the idle ones under the owned-list lock, poll them in
 *            trace mode after releasing it, flush the deferred wakes), and the census
 * request.c  requests: publication on the handle, serialisation, the blocking wait
 *            with its deadline rule, asyncrt_handle_dump() and the dump future
 * barrier.c  the multi-thread barrier (arrive / lead / withdraw / release)
 * lib/scheduler/multi_thread/taskdump.c   the multi-thread glue (leader's steal)
 * lib/scheduler/current_thread.c          the current-thread service point
 *
 * The ownership rules of each part open its source file.
 */
#ifndef ASYNCRT_DUMP_PRIVATE_H
#define ASYNCRT_DUMP_PRIVATE_H

#include "util/common-private.h"
#include "scheduler/scheduler-private.h"
#include "task/labels-private.h"

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>

/* Extra time asyncrt_handle_dump() waits past its deadline for a dump already being
 * traced before it gives up on it and returns the census instead. */
#define ASYNCRT_DUMP_GRACE_MS 100u

#define ASYNCRT_DUMP_JSON_VERSION 1

/* ---- dump.c ------------------------------------------------------------------------ */

struct _AsyncrtDumpTask
{
  AsyncrtTaskId id;
  AsyncrtTaskId parent_id;
  AsyncrtTaskState state;
  int worker;                 /* RUNNING: the worker index, or -1 */
  AsyncrtTrace *trace;        /* owned; NULL: not traced */
  char *name;                 /* owned copy or NULL */
  const char *spawn_file;     /* the spawner's __FILE__ (static storage) or NULL */
  const char *spawn_func;
  unsigned spawn_line;
  uint64_t poll_count;
  uint64_t last_poll_ns;      /* clock at the start of the last poll; 0: never polled */
  uint64_t idle_ns;           /* taken_ns - last_poll_ns, computed by asyncrt__dump_seal */
  uint64_t group_id;          /* the join set the task belongs to, or 0 */
  AsyncrtLabels *labels;      /* a reference to the task's label set, or NULL */
  bool removed;               /* completed during its trace poll: not listed */
};

typedef struct
{
  unsigned index;
  AsyncrtTaskId task_id;      /* 0: no task known to be running */
  uint64_t running_ns;
} AsyncrtDumpMissingWorker;

struct _AsyncrtDump
{
  GArray *tasks;              /* struct _AsyncrtDumpTask, sorted by id */
  GArray *missing;            /* AsyncrtDumpMissingWorker */
  bool complete;
  bool census;                /* no runtime thread took the request up */
  AsyncrtFlavour flavour;
  unsigned n_workers;
  uint64_t taken_ns;          /* asyncrt__clock_now_ns() when the snapshot was taken */
};

AsyncrtDump *asyncrt__dump_new (AsyncrtFlavour flavour, unsigned n_workers);
/* Appends a record and returns its index.  The record's trace and name are owned by
 * the dump from then on. */
size_t asyncrt__dump_add_task (AsyncrtDump *d, const struct _AsyncrtDumpTask *rec);
static inline struct _AsyncrtDumpTask *
asyncrt__dump_task_at (AsyncrtDump *d, size_t i)
{
  return &g_array_index (d->tasks, struct _AsyncrtDumpTask, i);
}
void asyncrt__dump_add_missing_worker (AsyncrtDump *d, unsigned index,
                                       AsyncrtTaskId task_id, uint64_t running_ns);
/* Drops removed records, sorts by id, computes completeness. */
void asyncrt__dump_seal (AsyncrtDump *d);
/* Resolves every symbol of every trace (the dump future does it on the blocking pool). */
void asyncrt__dump_resolve (AsyncrtDump *d);

/* ---- header.c ---------------------------------------------------------------------- */

/* The start of every formatted dump: process id, program name, the wall-clock time it
 * was taken, library version.  Text: one line "process PID (NAME), taken at
 * 2025-01-31T12:34:56.789Z, libasyncrt 0.2.0".  JSON: the members "pid", "program",
 * "taken_at", "library_version", each followed by a comma. */
void asyncrt__dump_append_header (GString *out, const AsyncrtDump *d, bool json);

/* ---- collect.c --------------------------------------------------------------------- */

/* One dump being taken by a serving thread: the current-thread runtime's thread
 * between polls, the multi-thread leader, or a thread that took the current-thread
 * core itself.  Single-threaded: only the serving thread touches it. */
typedef struct _AsyncrtDumpRun AsyncrtDumpRun;

AsyncrtDumpRun *asyncrt__dump_run_new (AsyncrtHandle *h, unsigned n_workers,
                                       uint64_t deadline_ns);
/* @t was popped from a run queue; its notified reference passes to the run. */
void asyncrt__dump_run_add_queued (AsyncrtDumpRun *run, AsyncrtTask *t);
/* Walks the owned list (never polling under its lock): idle tasks are collected with
 * the notified-for-tracing transition; running ones recorded as RUNNING (worker from
 * @worker_of, may be NULL), notified ones not drained as SCHEDULED, both untraced. */
void asyncrt__dump_run_collect_idle (AsyncrtDumpRun *run,
                                     int (*worker_of) (AsyncrtTask *t, void *data),
                                     void *data);
void asyncrt__dump_run_add_missing_worker (AsyncrtDumpRun *run, unsigned index,
                                           AsyncrtTaskId task_id, uint64_t running_ns);
/* Polls every collected task once inside a capture, then does that capture's
 * deferred wakes (until the deadline: the rest are rescheduled untraced).  Call with
 * no lock held. */
void asyncrt__dump_run_trace (AsyncrtDumpRun *run);
/* Frees the run, returns the sealed dump (every deferred wake is done already). */
AsyncrtDump *asyncrt__dump_run_finish (AsyncrtDumpRun *run);

/* A dump without traces from any thread: every task's state from its state word. */
AsyncrtDump *asyncrt__dump_census (AsyncrtHandle *h, unsigned n_workers);

/* ---- barrier.c ----------------------------------------------------------------------
 * One round of the multi-thread stop: workers arrive at their scheduling points;
 * exactly one leads (the last of all workers to arrive, or, once the deadline has
 * passed, the first present worker to notice); the others wait until the leader
 * releases them.  Until a leader exists a round can be cancelled: every waiting
 * worker then withdraws its arrival and returns to scheduling. */
typedef enum
{
  ASYNCRT_DUMP_BARRIER_LEAD,       /* the caller leads: steal, collect, then release */
  ASYNCRT_DUMP_BARRIER_RELEASED,   /* a leader did the work and released the caller */
  ASYNCRT_DUMP_BARRIER_WITHDRAWN,  /* the round was cancelled while the caller waited */
  ASYNCRT_DUMP_BARRIER_CLOSED      /* too late (led, released or cancelled) or again */
} AsyncrtDumpBarrierResult;

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
  uint8_t *arrived;                /* per worker: BARRIER_ABSENT / _PRESENT / _LEFT */
} AsyncrtDumpBarrier;

void asyncrt__dump_barrier_init (AsyncrtDumpBarrier *b, unsigned n_workers,
                                 uint64_t deadline_ns);
void asyncrt__dump_barrier_clear (AsyncrtDumpBarrier *b);
AsyncrtDumpBarrierResult asyncrt__dump_barrier_arrive (AsyncrtDumpBarrier *b, unsigned worker);
/* Leader only, between LEAD and release: was @worker stopped at the barrier? */
bool asyncrt__dump_barrier_is_present (AsyncrtDumpBarrier *b, unsigned worker);
unsigned asyncrt__dump_barrier_n_present (AsyncrtDumpBarrier *b);
void asyncrt__dump_barrier_release (AsyncrtDumpBarrier *b);
/* true: cancelled before any leader (every waiter withdraws); false: a leader exists. */
bool asyncrt__dump_barrier_cancel (AsyncrtDumpBarrier *b);

/* ---- request.c --------------------------------------------------------------------- */

typedef struct _AsyncrtDumpRequest AsyncrtDumpRequest;

typedef enum
{
  ASYNCRT_DUMP_REQUEST_PENDING,    /* published, waiting for a serving thread */
  ASYNCRT_DUMP_REQUEST_TAKEN,      /* a serving thread is taking the dump */
  ASYNCRT_DUMP_REQUEST_DONE,       /* result published */
  ASYNCRT_DUMP_REQUEST_CANCELLED,  /* the requester gave up before it was taken */
  ASYNCRT_DUMP_REQUEST_ABANDONED   /* the requester gave up while it was taken */
} AsyncrtDumpRequestPhase;

struct _AsyncrtDumpRequest
{
  unsigned refs;                   /* guarded by the global dump lock */
  AsyncrtDumpRequestPhase phase;   /* guarded by the global dump lock */
  AsyncrtDump *result;             /* guarded by the global dump lock */
  AsyncrtHandle *handle;           /* the requester holds a handle reference */
  uint64_t deadline_ns;            /* immutable */
  unsigned n_workers;              /* immutable; 1 for current-thread */
  AsyncrtDumpBarrier barrier;      /* multi-thread rounds only */
};

/* The one check on a scheduler's hot path: one relaxed load. */
static inline bool
asyncrt__dump_is_requested (AsyncrtHandle *h)
{
  return ASYNCRT_UNLIKELY (atomic_load_explicit (&h->dump_state, memory_order_relaxed) != NULL);
}

/* The request published on @h with a new reference, or NULL. */
AsyncrtDumpRequest *asyncrt__dump_request_get (AsyncrtHandle *h);
void asyncrt__dump_request_ref (AsyncrtDumpRequest *req);
/* Wakes waiting requesters so they re-check (e.g. a multi-thread round ended). */
void asyncrt__dump_notify (void);
void asyncrt__dump_request_unref (AsyncrtDumpRequest *req);
/* PENDING -> TAKEN; false if it is no longer pending. */
bool asyncrt__dump_request_take (AsyncrtDumpRequest *req);
/* TAKEN -> DONE with @d (or @d freed if the requester gave up); unpublishes it. */
void asyncrt__dump_request_complete (AsyncrtDumpRequest *req, AsyncrtDump *d);

/* Serves the request published on @h, if any and still pending, on the calling
 * thread, which must own every queue of @h (ops->pop_queued drains them): the
 * current-thread runtime's thread (through handle->dump_serve) or a thread that took
 * its core. */
void asyncrt__dump_serve (AsyncrtHandle *h);

/* The blocking dump without the EDEADLK check (the dump future's pool thread). */
int asyncrt__dump_blocking (AsyncrtHandle *h, unsigned timeout_ms, AsyncrtDump **out);

/* ---- flavour hooks ----------------------------------------------------------------- */

/* current_thread.c: takes the core if no thread owns it and serves the pending dump
 * on the calling thread.  Returns false if another thread owns the core. */
bool asyncrt__current_thread_dump_try_serve (AsyncrtHandle *h);

/* multi_thread/taskdump.c */
unsigned asyncrt__mt_dump_n_workers (AsyncrtHandle *h);
/* Starts the scheduler's request for @req (every worker arrives at req->barrier at
 * its next scheduling point); takes a reference on @req for it.  -EBUSY while a
 * previous round (led by a worker still tracing) has not ended yet. */
int  asyncrt__mt_dump_kick (AsyncrtHandle *h, AsyncrtDumpRequest *req);
/* After asyncrt__dump_barrier_cancel() returned true: ends the scheduler's request
 * (waits for the withdrawing workers) and drops its reference.  No lock held. */
void asyncrt__mt_dump_cancelled (AsyncrtHandle *h, AsyncrtDumpRequest *req);
/* Adds every worker not present at @b (all if @b is NULL) as missing, with the task
 * it is running (and marks that task's record with the worker). */
void asyncrt__mt_dump_add_missing (AsyncrtHandle *h, AsyncrtDumpBarrier *b, AsyncrtDump *d);

#endif /* ASYNCRT_DUMP_PRIVATE_H */
