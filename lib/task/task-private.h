/* libasyncrt - tasks: memory, the atomic state word, wakers, join handles, owned lists
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * This is the scheduler-agnostic interface between tasks and schedulers.  A scheduler
 * (current_thread, multi_thread) never touches the state word itself: it pops
 * notified tasks from its queues and calls asyncrt__task_run(), and it receives tasks
 * to queue through the schedule() operation of its handle (scheduler-private.h).
 *
 * ## Memory
 * One allocation per task (AsyncrtTask, from alloc.c, which keeps freed task blocks
 * for reuse), plus its extra block for the few tasks that have one (see below).  Both are freed when the reference count in the state word
 * drops to zero.  The task's future is polled through an AsyncrtTraceRoot built on
 * the polling thread's stack for each poll (the task stores the poll function and
 * the future, not a root).  References are held by:
 *   - the owned list of the task's handle (one, from spawn until the task completes
 *     or shutdown pops it from the list);
 *   - the NOTIFIED bit: while it is set exactly one "notified reference" exists; it
 *     travels with the task through the run queues and is consumed by
 *     asyncrt__task_run() (or given back by the scheduler with
 *     asyncrt__task_drop_notified() when a queue is drained at shutdown);
 *   - the join handle (one, until asyncrt_join_handle_free());
 *   - every waker clone (one each).
 *
 * ## References across schedule()
 * handle->ops->schedule() takes the notified reference and may queue it before it is
 * done with the handle (e.g. it then unparks a worker or the driver).  From that
 * moment another thread may run or drain the task and drop that reference, and a
 * concurrent shutdown may free the runtime.  So whoever calls schedule() holds a
 * reference of its own (not the notified one) until it returns: a waker woken by
 * value keeps its reference until after schedule() (as Tokio does), abort holds the
 * join handle's, spawn the join handle's, wake_by_ref the waker's.  The one exception
 * is the runner rescheduling a task woken while it ran (transition_to_idle ->
 * IDLE_NOTIFIED hands the runner's reference over): runners are worker or block_on
 * threads, which runtime shutdown joins or excludes before freeing anything.  A dump's
 * trace poll holds its own reference across schedule() anyway.
 *
 * ## Who may touch which field
 *   - header fields set at spawn (id, parent_id, site, handle, poll, free_func) are
 *     immutable afterwards; so are the name, group_id and site copy of the extra
 *     block (AsyncrtTaskExtra), which only the labels of the task's extra outlive:
 *     the extra pointer is set at spawn when the task has a name, a join set,
 *     inherited labels or a site that could not be interned, otherwise NULL until
 *     asyncrt_task_set_label() allocates it (RUNNING thread, under the owned-shard
 *     lock: the labels rule below covers it);
 *   - the spawn sites (site.c) are shared by every task spawned from one place,
 *     immutable and never freed;
 *   - future: only the thread that holds RUNNING (set by
 *     transition_to_running or transition_to_shutdown) — plus the join handle once the
 *     task is COMPLETE (not cancelled), to free the future when it is dropped;
 *   - join_waker: the join handle while JOIN_WAKER is clear; the completing thread
 *     (read-only before COMPLETE, full ownership after) while it is set;
 *   - queue_node: whoever holds the notified reference (the queue it is on);
 *   - owned_prev / owned_next: the owned-list shard lock (the task is on the list iff
 *     owned_prev != NULL or it is its shard's head);
 *   - poll_count / last_poll_ns: written by the RUNNING thread in asyncrt__task_run()
 *     only (never by a trace poll), read by dumps with relaxed atomics (approximate
 *     values are fine);
 *   - extra->labels (labels.c): replaced only by the RUNNING thread (the task itself,
 *     through asyncrt_task_set_label()), under the task's owned-shard lock; read
 *     freely by that thread and by others (dumps) only under that lock, or while
 *     holding the task's notified reference (it cannot be running then).  The label
 *     set it points to is immutable and reference counted (children share their
 *     parent's);
 *   - dump_data: the dump module's (lib/dump/collect.c documents it).
 *
 * ## State word transitions (all compare-and-swap, acquire-release)
 *   running:         NOTIFIED & !RUNNING & !COMPLETE -> RUNNING, NOTIFIED cleared
 *   idle:            RUNNING -> idle; if NOTIFIED was set meanwhile the runner keeps
 *                    its reference as the new notified reference and reschedules;
 *                    if CANCELLED was set meanwhile the runner cancels instead
 *   notified_by_val: (consumes a waker reference) idle -> NOTIFIED with a new
 *                    notified reference, and the caller drops its own after
 *                    schedule() returns; RUNNING -> RUNNING|NOTIFIED and the
 *                    reference is dropped; NOTIFIED or COMPLETE -> unchanged, dropped
 *   notified_by_ref: same, but a new reference is taken when the task must be queued
 *   claim_for_trace (dumps): idle & !NOTIFIED & !RUNNING & !COMPLETE -> RUNNING with a
 *                    new reference for the dumper (see "Trace polls" below); anything
 *                    else -> refused
 *   queued_to_trace (dumps): a task the dumper popped from a run queue (it holds the
 *                    notified reference): NOTIFIED & !CANCELLED -> RUNNING, NOTIFIED
 *                    cleared; CANCELLED -> refused (the scheduler gets it back as it
 *                    is); RUNNING or COMPLETE (shutdown cancels queued tasks in place)
 *                    -> refused, the notified reference is dropped
 *   from_trace (dumps): RUNNING -> idle or requeued, by the rule below
 *   notified_and_cancel (abort): COMPLETE or CANCELLED -> unchanged; RUNNING ->
 *                    CANCELLED|NOTIFIED (the runner cancels at its next run); NOTIFIED
 *                    -> CANCELLED; idle -> CANCELLED|NOTIFIED with a new reference
 *                    to schedule
 *   shutdown:        sets CANCELLED; if neither RUNNING nor COMPLETE also sets RUNNING
 *                    and the caller cancels the task right away
 *   complete:        RUNNING -> COMPLETE (RUNNING cleared).  COMPLETE|CANCELLED means
 *                    the future was cancelled (freed without finishing); COMPLETE
 *                    alone means it returned READY.
 *   join handle:     set/unset JOIN_WAKER (only while !COMPLETE), drop JOIN_INTEREST.
 *
 * The acquire-release CASes order everything written to the future by one runner
 * before the next runner's (or the joiner's, after COMPLETE) reads of it.
 *
 * ## Trace polls (dumps): no side effects
 * A dump polls a task once in trace mode to capture where it is suspended.  Nothing it
 * reports may change because of that poll: not the poll count, not the last-poll time,
 * not the coop budget, and no wake may be queued or lost.  So the dumper does not set
 * NOTIFIED (that would queue a real poll afterwards); it becomes the task's runner:
 *
 *   1. claim: an idle task (!NOTIFIED, !RUNNING, !COMPLETE) -> RUNNING, and the dumper
 *      takes a reference of its own (claim_for_trace).  A task the dumper popped from
 *      a run queue arrives with its notified reference instead: NOTIFIED -> RUNNING
 *      (queued_to_trace); one with CANCELLED set goes back to its scheduler untraced.
 *   2. poll: asyncrt__task_trace_poll() polls the future through its root, inside the
 *      dumper's capture, with the task's own waker; poll_count, last_poll_ns and the
 *      coop budget are left alone.  Leaves return PENDING at once without touching
 *      their registration, and the capture defers no wake.  A real wake arriving
 *      meanwhile (another thread, or the task's own code) finds the task RUNNING and
 *      sets NOTIFIED, exactly as for any running task: nothing is queued yet, nothing
 *      is lost.  An abort sets CANCELLED|NOTIFIED, a shutdown CANCELLED.
 *   3. end (from_trace), decided by one CAS on the state word:
 *        - the poll returned READY          -> completed as usual (the future finished
 *                                              in its trace poll; not counted as a poll)
 *        - CANCELLED is set                 -> cancelled as usual by the dumper
 *        - the task was queued (step 1)     -> queued again as it was: RUNNING ->
 *                                              NOTIFIED, the dumper's reference becomes
 *                                              the notified one, handed to schedule()
 *        - NOTIFIED was set meanwhile       -> the same: the real wake's poll runs, and
 *                                              counts
 *        - otherwise                        -> back to plain idle (RUNNING cleared), the
 *                                              dumper's reference dropped; nothing is
 *                                              scheduled, the leaves' registrations
 *                                              stand
 * A dump that runs out of time releases what it claimed without polling it
 * (asyncrt__task_trace_release), by the same end rule.  Whoever reschedules from a
 * dump holds a reference of its own across schedule() (see above).  While claimed the
 * task is RUNNING: workers never run it, a census reads it as RUNNING (the dump module
 * marks what it holds in dump_data to tell the two apart).
 *
 * ## Future lifetime
 * A future that returns READY is freed (free_func) when both the task is complete and
 * the join handle is freed/detached — by whichever of the completing thread and
 * asyncrt_join_handle_free() comes second (decided by the COMPLETE / JOIN_INTEREST
 * CAS).  A cancelled future (abort, shutdown) is freed at once by the thread that
 * cancels it.  Either way free_func runs exactly once.
 */
#ifndef ASYNCRT_TASK_PRIVATE_H
#define ASYNCRT_TASK_PRIVATE_H

#include "util/common-private.h"
#include "queue/queue-private.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct _AsyncrtTask AsyncrtTask;

/* ---- state word ------------------------------------------------------------------- */
#define ASYNCRT_TASK_RUNNING       ((uint64_t) 1 << 0)
#define ASYNCRT_TASK_COMPLETE      ((uint64_t) 1 << 1)
#define ASYNCRT_TASK_NOTIFIED      ((uint64_t) 1 << 2)
#define ASYNCRT_TASK_CANCELLED     ((uint64_t) 1 << 3)
#define ASYNCRT_TASK_JOIN_INTEREST ((uint64_t) 1 << 4)
#define ASYNCRT_TASK_JOIN_WAKER    ((uint64_t) 1 << 5)
#define ASYNCRT_TASK_FLAGS_MASK    (((uint64_t) 1 << 16) - 1)   /* room for more flags */
#define ASYNCRT_TASK_REF_SHIFT     16
#define ASYNCRT_TASK_REF_ONE       ((uint64_t) 1 << ASYNCRT_TASK_REF_SHIFT)
#define ASYNCRT_TASK_REF_COUNT(s)  ((s) >> ASYNCRT_TASK_REF_SHIFT)

/* ---- the task ----------------------------------------------------------------------- */

/* Where a task was spawned: the strings are the caller's (static, see
 * asyncrt_spawn_full()).  Interned (site.c): tasks spawned from one place share one. */
typedef struct
{
  const char *file;
  const char *func;
  int line;
} AsyncrtSpawnSite;

/* What most tasks do not have: allocated at spawn when the task has a name, a join
 * set or inherited labels, or when the spawn site could not be interned; later by
 * asyncrt_task_set_label() (labels.c) if it is still missing then. */
typedef struct
{
  char *name;                           /* owned copy, or NULL; immutable */
  uint64_t group_id;                    /* the join set it was spawned into, or 0;
                                         * immutable */
  /* RUNNING thread + owned-shard lock, see above; the type is in labels-private.h */
  struct _AsyncrtLabels *labels;
  AsyncrtSpawnSite site;                /* t->site points here when not interned */
} AsyncrtTaskExtra;

/* 136 bytes on 64-bit targets: a 144-byte malloc chunk.  Hot fields first. */
struct _AsyncrtTask
{
  _Atomic uint64_t state;
  AsyncrtQueueNode queue_node;          /* run queue link (notified reference) */
  struct _AsyncrtHandle *handle;        /* owner; the task holds a handle reference */

  /* owned list (shard lock; the shard is id % ASYNCRT_OWNED_SHARDS) */
  AsyncrtTask *owned_prev;
  AsyncrtTask *owned_next;

  /* immutable after spawn */
  AsyncrtTaskId id;
  AsyncrtTaskId parent_id;              /* 0: spawned from outside a task */
  AsyncrtPollFunc poll;
  AsyncrtFreeFunc free_func;

  /* RUNNING owner (see "Future lifetime") */
  void *future;

  /* dump statistics, relaxed atomics */
  _Atomic uint64_t poll_count;
  _Atomic uint64_t last_poll_ns;        /* asyncrt__clock_now_ns() at the last poll start */

  /* JOIN_WAKER protocol */
  AsyncrtWaker join_waker;

  /* The dump module's word (e.g. "collected for tracing" marks; lib/dump/collect.c
   * documents its use). */
  _Atomic uintptr_t dump_data;

  /* immutable after spawn; NULL: no site given */
  const AsyncrtSpawnSite *site;
  /* NULL, or set at spawn, or set once later by the RUNNING thread under the owned
   * shard lock (asyncrt_task_set_label()); read as labels are (see above). */
  AsyncrtTaskExtra *extra;
};

/* Asks the CPU to fetch every cache line of @t before it is read and written (the
 * owned-list walk and the dump's trace loop visit tasks spread over the heap); a hint
 * only: @t is never dereferenced, and NULL is ignored. */
static inline void
asyncrt__task_prefetch (const AsyncrtTask *t)
{
  if (t == NULL)
    return;
  const char *p = (const char *) t;
  for (size_t off = 0; off < sizeof *t; off += 64)
    __builtin_prefetch (p + off, 1);
  __builtin_prefetch (p + sizeof *t - 1, 1);
}

/* Accessors of the fields a dump reports (NULL / 0 when absent).  The labels follow
 * the labels rule above (the caller holds the shard lock, or is the task's runner, or
 * holds the task's notified reference). */
static inline const char *
asyncrt__task_name (const AsyncrtTask *t)
{
  return t->extra != NULL ? t->extra->name : NULL;
}

static inline uint64_t
asyncrt__task_group_id (const AsyncrtTask *t)
{
  return t->extra != NULL ? t->extra->group_id : 0;
}

static inline struct _AsyncrtLabels *
asyncrt__task_labels (const AsyncrtTask *t)
{
  return t->extra != NULL ? t->extra->labels : NULL;
}

static inline const char *
asyncrt__task_spawn_file (const AsyncrtTask *t)
{
  return t->site != NULL ? t->site->file : NULL;
}

static inline const char *
asyncrt__task_spawn_func (const AsyncrtTask *t)
{
  return t->site != NULL ? t->site->func : NULL;
}

static inline int
asyncrt__task_spawn_line (const AsyncrtTask *t)
{
  return t->site != NULL ? t->site->line : 0;
}

/* site.c: the interned site of (file, func, line), or NULL if the table of sites is
 * full (then the caller keeps its own copy).  Any thread; never frees a site. */
const AsyncrtSpawnSite *asyncrt__spawn_site_intern (const char *file, const char *func,
                                                    int line);

static inline AsyncrtTask *
asyncrt__task_from_queue_node (AsyncrtQueueNode *n)
{
  return ASYNCRT_CONTAINER_OF (n, AsyncrtTask, queue_node);
}

static inline AsyncrtJoinHandle *
asyncrt__task_to_join_handle (AsyncrtTask *t)
{
  return (AsyncrtJoinHandle *) (void *) t;
}

static inline AsyncrtTask *
asyncrt__task_from_join_handle (AsyncrtJoinHandle *jh)
{
  return (AsyncrtTask *) (void *) jh;
}

/* Spawn site and name, as given to asyncrt_spawn_full(). */
typedef struct
{
  const char *file;
  int line;
  const char *func;
  const char *name;       /* copied; may be NULL */
  uint64_t group_id;      /* join set id (joinset.c), 0: none */
} AsyncrtSpawnInfo;

/* ---- lifecycle ---------------------------------------------------------------------- */

/* alloc.c: the memory of one AsyncrtTask (uninitialised), or NULL; and its return.
 * Any thread. */
AsyncrtTask *asyncrt__task_alloc (void);
void asyncrt__task_release (AsyncrtTask *t);

/* Allocates a task bound to @h (takes a handle reference), with the references of the
 * owned list, the NOTIFIED bit and the join handle, state NOTIFIED|JOIN_INTEREST.
 * Does not put it on the owned list nor schedule it: see asyncrt__handle_spawn_task()
 * in scheduler-private.h, the one spawn path every flavour uses. */
AsyncrtTask *asyncrt__task_new (struct _AsyncrtHandle *h, const AsyncrtSpawnInfo *info,
                                AsyncrtPollFunc poll, void *future,
                                AsyncrtFreeFunc free_func);

/* Takes / drops one reference; the last drop frees the task and its handle ref. */
void asyncrt__task_ref (AsyncrtTask *t);
void asyncrt__task_unref (AsyncrtTask *t);

/* Runs a task popped from a run queue: consumes the notified reference.  Polls the
 * future once through its trace root (with the task's waker, the coop budget and the
 * current-task thread-local set), or cancels it if it was aborted or shut down.  If
 * it was woken while running it is handed back to handle->ops->schedule() with
 * is_yield = true.  Never call with an owned-list lock held. */
void asyncrt__task_run (AsyncrtTask *t);

/* A scheduler draining its queues at shutdown gives back a notified reference
 * without running the task (every task is already cancelled by then).  Only after
 * asyncrt__owned_close_and_shutdown_all(); otherwise run the task. */
void asyncrt__task_drop_notified (AsyncrtTask *t);

/* ---- trace polls (dumps, see "Trace polls" at the top) ---------------------------- */

/* Claims an idle task for a trace poll: true, and the caller holds a new reference
 * and RUNNING; pass it to asyncrt__task_trace_poll() or asyncrt__task_trace_release()
 * with @queued false.  false: running, notified (queued somewhere) or complete. */
bool asyncrt__task_claim_for_trace (AsyncrtTask *t);

/* Trace-polls @t once, inside the caller's capture, then ends the claim by the rule at
 * the top.  @queued: the caller popped @t from a run queue and passes its notified
 * reference (not claimed); false: claimed with asyncrt__task_claim_for_trace().
 * Consumes the caller's reference: the caller must not touch @t afterwards (it may be
 * freed), so what it needs is reported: @ret_completed (nullable) is set to whether
 * the task completed in the call (finished in its trace poll, cancelled, or shut
 * down).  Returns false, without polling, if a queued task had been aborted (it was
 * handed back to its scheduler as it was) or shut down.  Never call with an
 * owned-list lock held.
 *
 * Both this and asyncrt__task_trace_release() clear t->dump_data as they end the
 * hold: after the end CAS (a census reading a RUNNING task unmarked would list a held
 * task as running) and before the caller's reference is dropped (the dumper cannot
 * write it later without a reference of its own).  Runs of one runtime are serialised,
 * so no other run's mark is overwritten. */
bool asyncrt__task_trace_poll (AsyncrtTask *t, bool queued, bool *ret_completed);

/* Ends a claim without polling (the dump ran out of time): the same end rule.  A
 * queued task goes back to its scheduler as it was.  Consumes the caller's
 * reference; clears t->dump_data (see above). */
void asyncrt__task_trace_release (AsyncrtTask *t, bool queued);

/* Shutdown: cancels @t if it is not running elsewhere (frees the future, completes,
 * wakes the joiner, removes it from the owned list).  A task running elsewhere is
 * marked CANCELLED and cancels itself at the end of its poll. */
void asyncrt__task_shutdown (AsyncrtTask *t);

/* Spawn onto a closed owned list: cancels a task fresh from asyncrt__task_new() at
 * once (frees the future, completes it) and drops the owned-list and notified
 * references; the join handle reference stays with the caller. */
void asyncrt__task_cancel_unbound (AsyncrtTask *t);

/* The waker of @t as a borrowed value (no reference taken): valid while the caller
 * holds a reference. */
AsyncrtWaker asyncrt__task_borrowed_waker (AsyncrtTask *t);

/* Join sets (joinset.c): stores @w (cloned) as the join waker of @t, as
 * asyncrt_join_handle_poll() does but without being a leaf poll (no trace check, no
 * coop budget).  The caller owns @t's join handle.  Returns true if the task is
 * complete already (nothing stored, the waker will not be woken). */
bool asyncrt__task_set_join_waker (AsyncrtTask *t, const AsyncrtWaker *w);

/* Snapshot of the state word (acquire), for dumps and tests. */
static inline uint64_t
asyncrt__task_state (AsyncrtTask *t)
{
  return atomic_load_explicit (&t->state, memory_order_acquire);
}

/* ---- current task (thread-local, set by asyncrt__task_run) ------------------------
 * initial-exec on the declaration too: the lock paths of lib/sync read it
 * (current-private.h), and the default model would make each read a call to
 * __tls_get_addr; lib/sample's signal handler reads it, and only a %fs-relative load
 * is async-signal-safe (__tls_get_addr may allocate).  The library uses static TLS
 * already (trace context). */
extern _Thread_local AsyncrtTask *asyncrt__current_task
  __attribute__((tls_model ("initial-exec")));

/* ---- raw transitions, exposed for the state-machine unit tests --------------------- */
typedef enum
{
  ASYNCRT_TRANSITION_SUCCESS,       /* run it */
  ASYNCRT_TRANSITION_CANCELLED,     /* run the cancellation instead */
  ASYNCRT_TRANSITION_FAILED         /* already running or complete: drop the ref */
} AsyncrtTransitionToRunning;

typedef enum
{
  ASYNCRT_TRANSITION_IDLE_OK,       /* idle now; the runner's reference is dropped */
  ASYNCRT_TRANSITION_IDLE_NOTIFIED, /* woken meanwhile: reschedule with the same ref */
  ASYNCRT_TRANSITION_IDLE_CANCELLED /* aborted meanwhile: still RUNNING, cancel now */
} AsyncrtTransitionToIdle;

typedef enum
{
  ASYNCRT_TRANSITION_DO_NOTHING,    /* the reference (if any) was consumed */
  ASYNCRT_TRANSITION_SUBMIT,        /* schedule the task with the notified reference */
} AsyncrtTransitionToNotified;

AsyncrtTransitionToRunning  asyncrt__task_transition_to_running (AsyncrtTask *t);
AsyncrtTransitionToIdle     asyncrt__task_transition_to_idle (AsyncrtTask *t);
/* DO_NOTHING: the caller's reference was dropped.  SUBMIT: a new notified reference
 * was taken; schedule the task, then drop the caller's reference. */
AsyncrtTransitionToNotified asyncrt__task_transition_to_notified_by_val (AsyncrtTask *t);
/* SUBMIT: a new reference was taken as the notified ref. */
AsyncrtTransitionToNotified asyncrt__task_transition_to_notified_by_ref (AsyncrtTask *t);
AsyncrtTransitionToNotified asyncrt__task_transition_to_notified_and_cancel (AsyncrtTask *t);
/* true: the caller now holds RUNNING and must cancel the task. */
bool     asyncrt__task_transition_to_shutdown (AsyncrtTask *t);
/* RUNNING -> COMPLETE (CANCELLED cleared unless @cancelled); returns the previous
 * state. */
uint64_t asyncrt__task_transition_to_complete (AsyncrtTask *t, bool cancelled);

/* ---- owned-task lists ---------------------------------------------------------------
 * Every live task of a handle is on its owned list: ASYNCRT_OWNED_SHARDS intrusive
 * doubly linked lists, each behind its own mutex, chosen by task id.  bind() fails
 * once the list is closed (shutdown); remove() is idempotent (returns whether this call
 * removed the task and so owns the list's reference).  Never poll a task or take
 * another owned-list lock while holding a shard lock. */
#define ASYNCRT_OWNED_SHARDS 16u

typedef struct
{
  pthread_mutex_t lock;
  AsyncrtTask *head;
  /* written under lock (plain store), read by anyone (relaxed): the shard's length */
  atomic_size_t len;
  bool closed;
  /* Shards are written by every worker: 128 bytes each keep two shards' fields off
   * one cache line whatever the alignment of the array. */
  char pad[128 - sizeof (pthread_mutex_t) - sizeof (AsyncrtTask *) - sizeof (size_t)
           - sizeof (bool)];
} AsyncrtOwnedShard;

typedef struct
{
  AsyncrtOwnedShard shards[ASYNCRT_OWNED_SHARDS];
  atomic_bool closed;
} AsyncrtOwnedTasks;

void   asyncrt__owned_init (AsyncrtOwnedTasks *o);
void   asyncrt__owned_clear (AsyncrtOwnedTasks *o);          /* must be empty */
/* false: closed; the caller cancels the task at once. */
bool   asyncrt__owned_bind (AsyncrtOwnedTasks *o, AsyncrtTask *t);
bool   asyncrt__owned_remove (AsyncrtOwnedTasks *o, AsyncrtTask *t);
/* The sum of the shards' lengths: approximate while tasks come and go. */
size_t asyncrt__owned_len (AsyncrtOwnedTasks *o);
bool   asyncrt__owned_is_closed (AsyncrtOwnedTasks *o);
/* Closes the list, then pops and shuts down every task (asyncrt__task_shutdown). */
void   asyncrt__owned_close_and_shutdown_all (AsyncrtOwnedTasks *o);
/* Calls @func on every task, one shard at a time, with that shard's lock held.
 * @func must not poll, free or remove tasks, nor take an owned-list lock; it may take
 * a reference (asyncrt__task_ref) and claim tasks (asyncrt__task_claim_for_trace), to
 * trace them after the walk.  Returns the number of tasks
 * visited. */
typedef void (*AsyncrtOwnedForeachFunc) (AsyncrtTask *t, void *data);
size_t asyncrt__owned_foreach (AsyncrtOwnedTasks *o, AsyncrtOwnedForeachFunc func,
                               void *data);
/* The same walk, of one group of shards out of ASYNCRT_OWNED_WALK_GROUPS (their locks
 * held together: owned.c): walks of different groups may run on different threads at
 * once, and together visit every task. */
#define ASYNCRT_OWNED_WALK_LANES 8u
#define ASYNCRT_OWNED_WALK_GROUPS (ASYNCRT_OWNED_SHARDS / ASYNCRT_OWNED_WALK_LANES)
size_t asyncrt__owned_foreach_group (AsyncrtOwnedTasks *o, unsigned group,
                                     AsyncrtOwnedForeachFunc func, void *data);
/* Looks task @id up in its one shard, under that shard's lock (the stall detector):
 * false if it is not on the list; else true, a copy of its name in *ret_name (NULL if
 * it has none; g_free() it) and the start of its last poll (last_poll_ns) in
 * *ret_last_poll_ns.  Either output may be NULL. */
bool   asyncrt__owned_lookup (AsyncrtOwnedTasks *o, AsyncrtTaskId id, char **ret_name,
                              uint64_t *ret_last_poll_ns);
/* Takes / releases the lock of @t's shard (labels.c: excludes owned-list walkers
 * while the task replaces its labels). */
void   asyncrt__owned_lock_task (AsyncrtOwnedTasks *o, AsyncrtTask *t);
void   asyncrt__owned_unlock_task (AsyncrtOwnedTasks *o, AsyncrtTask *t);

#endif /* ASYNCRT_TASK_PRIVATE_H */
