/* libasyncrt - task dumps (internal interface of lib/dump)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * dump.c     the AsyncrtDump object and its accessors
 * header.c   the process line every formatted dump starts with
 * format.c   what the formats share (per-trace caching, state and reason names)
 * native.c   native stacks: sampling running tasks, missing workers and blocking-pool
 *            threads (lib/sample), their accessors, and their text and JSON pieces
 * text.c     asyncrt_dump_to_string(): the text form
 * json.c     asyncrt_dump_to_json(): the JSON form
 * collect.c  AsyncrtDumpRun: what a serving thread does (take the queued tasks, claim
 *            the idle ones under the owned-list lock, trace-poll them after releasing
 *            it), and the census
 * request.c  requests: each runtime's queue of them, their life from submission to
 *            result, the requester's deadline rule
 * wait.c     asyncrt_handle_dump(): the blocking requester
 * filter.c   AsyncrtDumpOptions, and the filter a run applies before tracing
 * progress.c AsyncrtDumpProgress: two dumps of one runtime compared
 * folded.c   folded stacks (flame graphs)
 * pprof.c    asyncrt_dump_write_pprof(): a gzipped profile.proto (pprof-private.h)
 * mappings.c the loaded objects and their build ids, for pprof
 * future.c   the AsyncrtDumpFuture: the requester inside a task
 * waitgraph.c  the wait-for graph of a sealed dump: deadlocks, holders and what they
 *            block
 * group.c    grouping tasks with the same trace and kinds of wait (ASYNCRT_DUMP_GROUP)
 * describe.c the text of a wait ("waits for mutex "store" held by task 2 …")
 * dump-sched-private.h   the one interface schedulers serve dumps through
 *
 * The ownership rules of each part open its source file.
 */
#ifndef ASYNCRT_DUMP_PRIVATE_H
#define ASYNCRT_DUMP_PRIVATE_H

#include "util/common-private.h"
#include "dump/dump-sched-private.h"
#include "task/labels-private.h"

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>

/* Extra time a requester waits past its deadline for a dump already being traced
 * before it gives up on it and returns a census instead. */
#define ASYNCRT_DUMP_GRACE_MS 100u

#define ASYNCRT_DUMP_JSON_VERSION 2

/* ---- dump.c ------------------------------------------------------------------------ */

/* The record of one task.  Built by one run (or a census) and immutable once the dump
 * is sealed.  Issues that add per-task facts (waits, native stacks) add them here and
 * fill them in collect.c's record_*() functions; record_of() writes every field (its
 * slots are not cleared first). */
struct _AsyncrtDumpTask
{
  AsyncrtTaskId id;
  AsyncrtTaskId parent_id;
  AsyncrtTaskState state;
  AsyncrtDumpNoTraceReason no_trace;  /* NONE when traced */
  int worker;                 /* RUNNING / QUEUED_ON_MISSING_WORKER: that worker, or -1 */
  AsyncrtTrace *trace;        /* owned; NULL: not traced (see no_trace) */
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
  /* What `trace` is: ASYNC from its trace poll, NATIVE when it was running and its
   * thread was sampled (native.c); NONE without one. */
  AsyncrtTraceKind trace_kind;
  AsyncrtNativeStackStatus native;   /* RUNNING tasks: the sample's outcome */
  /* The wait-for graph (waitgraph.c, at seal): */
  size_t n_blocked;           /* tasks waiting on this one, transitively */
  uint32_t deadlock;          /* 1 + the index of the deadlock it is part of, or 0 */
};

typedef struct
{
  unsigned index;
  AsyncrtTaskId task_id;      /* 0: no task known to be running */
  uint64_t running_ns;
  /* Its native stack (native.c): owned, or NULL — also when the RUNNING record of its
   * task holds it (the accessor looks there). */
  AsyncrtTrace *trace;
  AsyncrtNativeStackStatus native;
  size_t sample;              /* native.c: its item in the run's sample batch */
} AsyncrtDumpMissingWorker;

/* A blocking-pool thread running a job when the dump was taken (native.c). */
struct _AsyncrtDumpBlockingJob
{
  uintptr_t function;         /* the job's function (its entry address) */
  AsyncrtTaskId task_id;      /* the task awaiting it, or 0 */
  uint64_t start_ns;
  uint64_t running_ns;        /* taken_ns - start_ns, by asyncrt__dump_seal */
  AsyncrtTrace *trace;        /* owned native stack, or NULL */
  AsyncrtNativeStackStatus native;
  size_t sample;              /* native.c: its item in the run's sample batch */
};
/* A holder that blocks others (waitgraph.c): one per (holder task, object) that some
 * traced idle task waits on through a certain edge (mutex or semaphore holder, join
 * target, a holder named by a program's leaf). */
typedef struct
{
  AsyncrtTaskId holder_id;
  const struct _AsyncrtDumpTask *holder;   /* NULL: not in this dump */
  const AsyncrtWait *wait;    /* the first waiter's wait: kind, object, name, facts */
  GArray *waiters;            /* AsyncrtTaskId of the direct waiters, ascending */
  size_t n_blocked;           /* the waiters and everyone waiting on them, transitively
                                 (the holder itself not counted) */
  uint64_t held_ns;           /* a mutex's hold time, 0 if unknown / not a mutex */
} AsyncrtDumpHolder;

typedef struct
{
  GArray *ids;                /* AsyncrtTaskId, ascending */
  size_t n_blocked;           /* other tasks waiting on the cycle, transitively */
} AsyncrtDumpDeadlock;

struct _AsyncrtDump
{
  GArray *tasks;              /* struct _AsyncrtDumpTask, sorted by id */
  GArray *missing;            /* AsyncrtDumpMissingWorker */
  GArray *deadlocks;          /* AsyncrtDumpDeadlock, by smallest id (waitgraph.c) */
  GArray *holders;            /* AsyncrtDumpHolder, longest-held first (waitgraph.c) */
  bool complete;
  /* A census (nothing traced): why; ASYNCRT_DUMP_NO_TRACE_NONE for a traced dump. */
  AsyncrtDumpNoTraceReason census;
  unsigned n_workers;
  const char *flavour;        /* "current_thread", "multi_thread" (static) */
  uint64_t taken_ns;          /* asyncrt__clock_now_ns() when the snapshot was taken */
  GArray *blocking_jobs;      /* struct _AsyncrtDumpBlockingJob, by start */
  /* Whether the runtime's threads could be sampled (OK, DISABLED, SIGNAL_IN_USE,
   * UNSUPPORTED, FAILED) and with which signal (0: none). */
  AsyncrtNativeStackStatus native_stacks;
  int sample_signo;
  /* Which runtime (progress.c compares them): its registry serial and name (owned). */
  uint64_t runtime_serial;
  char *runtime_name;
  AsyncrtDumpOptions *options;  /* the filters it was taken with (owned), or NULL */
  /* The traces of its tasks (lib/trace/store.c: identical stacks stored once, and
   * each distinct trace a shape the formatters render once), or NULL. */
  struct _AsyncrtTraceStore *store;
  /* Set by a traced run (collect.c): every async trace's waits have their waited_ns
   * already (filled as each was captured, while in cache), and whether any of them
   * may be an edge of the wait-for graph. */
  bool async_waits_filled;
  bool async_edges;
  /* Set by a traced run (collect.c) whose records are final but a few: in id order,
   * none removed, every held task's record whole (idle time, waits).  It lists the
   * records the seal must still finish (the walk's own: running tasks, tasks queued
   * where the run could not take them), and n_untraced counts the held tasks left
   * untraced (past the deadline, cancelled).  NULL: the seal finishes every record.
   * The seal frees it. */
  GArray *unsealed;           /* size_t */
  size_t n_untraced;
};

AsyncrtDump *asyncrt__dump_new (const char *flavour, unsigned n_workers);
/* Appends a record and returns its index.  The record's trace and name are owned by
 * the dump from then on. */
size_t asyncrt__dump_add_task (AsyncrtDump *d, const struct _AsyncrtDumpTask *rec);
static inline struct _AsyncrtDumpTask *
asyncrt__dump_task_at (AsyncrtDump *d, size_t i)
{
  return &g_array_index (d->tasks, struct _AsyncrtDumpTask, i);
}
/* Returns the new entry's index (before seal sorts them). */
size_t asyncrt__dump_add_missing_worker (AsyncrtDump *d, unsigned index,
                                         AsyncrtTaskId task_id, uint64_t running_ns);
static inline AsyncrtDumpMissingWorker *
asyncrt__dump_missing_at (AsyncrtDump *d, size_t i)
{
  return &g_array_index (d->missing, AsyncrtDumpMissingWorker, i);
}
/* The order of @n unique task ids: NULL if they are ascending already, else a new
 * array (g_free) whose k-th entry is the index of the k-th smallest id.  Dense ids (a
 * range under 4 @n, the usual case) are placed into slots, others sorted. */
size_t *asyncrt__dump_order_by_id (const AsyncrtTaskId *ids, size_t n);
/* How long a task has been idle when its dump was taken (at least 1 ns). */
static inline uint64_t
asyncrt__dump_idle_ns (uint64_t taken_ns, uint64_t last_poll_ns)
{
  return taken_ns > last_poll_ns ? taken_ns - last_poll_ns : 1;
}
/* How long each wait of @t has waited: from when its leaf says it began, or else from
 * the task's last poll (@t->idle_ns computed already).  Returns whether @t is idle and
 * waits on a certain holder (an edge of the wait-for graph, waitgraph.c). */
bool asyncrt__dump_fill_waited (const AsyncrtDump *d, struct _AsyncrtDumpTask *t);
/* Drops removed records, sorts by id, fills in what missing workers lack from the
 * RUNNING records, computes completeness, how long each wait has waited, and the
 * wait-for graph. */
void asyncrt__dump_seal (AsyncrtDump *d);

/* ---- filter.c ---------------------------------------------------------------------- */

#define ASYNCRT_DUMP_NAME_PATTERN_MAX 255u

struct _AsyncrtDumpOptions
{
  char *name_pattern;         /* NULL: any name */
  unsigned states;            /* AsyncrtTaskStateFlags, never 0 */
  uint64_t min_idle_ns;       /* 0: no minimum */
  AsyncrtTaskId descendants_of;  /* 0: no such filter */
  uint64_t wait_kinds;        /* ASYNCRT_WAIT_KIND_BIT()s; 0: any (applied after tracing) */
};

/* Every AsyncrtWaitKind of this version. */
#define ASYNCRT_DUMP_KNOWN_WAIT_KINDS ((ASYNCRT_WAIT_KIND_BIT (ASYNCRT_WAIT_SIGNAL) << 1) - 1)

/* A copy of @opts if it filters anything, NULL otherwise. */
AsyncrtDumpOptions *asyncrt__dump_options_dup_filtered (const AsyncrtDumpOptions *opts);
/* "name "conn-*", state idle or running, ..." (text) and the "filter" member's value
 * (JSON: an object, or null for NULL). */
void asyncrt__dump_options_append_text (GString *out, const AsyncrtDumpOptions *o);
void asyncrt__dump_options_append_json (GString *out, const AsyncrtDumpOptions *o);

/* The filter of one run (its thread only).  NULL (no filter) matches everything. */
typedef struct _AsyncrtDumpFilter AsyncrtDumpFilter;
/* NULL if @opts filters nothing.  Walks @h's owned list (shard locks, one at a time)
 * when @opts asks for descendants, so: no lock held.  @opts must outlive the filter. */
AsyncrtDumpFilter *asyncrt__dump_filter_new (const AsyncrtDumpOptions *opts, AsyncrtHandle *h,
                                             uint64_t taken_ns);
void asyncrt__dump_filter_free (AsyncrtDumpFilter *f);
/* Name, descendants and minimum idle time (everything but the state); reads only
 * immutable fields and relaxed atomics of @t, so it may run under the shard lock. */
bool asyncrt__dump_filter_match_task (const AsyncrtDumpFilter *f, const AsyncrtTask *t);
bool asyncrt__dump_filter_wants_state (const AsyncrtDumpFilter *f, AsyncrtTaskState s);
/* After tracing, before sealing: marks removed the records of @d none of whose waits
 * is of a kind its options ask for (every record without a trace, then).  Returns
 * whether it marked any. */
bool asyncrt__dump_filter_waits (AsyncrtDump *d);

/* ---- mappings.c (for pprof.c) ------------------------------------------------------ */

/* An executable segment of a loaded object. */
typedef struct
{
  uintptr_t start, limit;     /* [start, limit) in memory */
  uint64_t offset;            /* the file offset of start */
  char *file;                 /* owned; NULL if unknown */
  char *build_id;             /* owned, lower-case hex; NULL if the object has none */
} AsyncrtMapping;

/* The executable segments of every loaded object (dl_iterate_phdr: takes the loader's
 * lock).  Free with g_array_free (maps, TRUE). */
GArray *asyncrt__mappings_read (void);
/* The index of the segment holding @addr, or -1. */
int asyncrt__mappings_find (const GArray *maps, uintptr_t addr);
/* ---- waitgraph.c ------------------------------------------------------------------- */

/* The task a wait depends on for certain, or 0: the holder of a mutex, of a
 * semaphore's permits (when no other holder may exist), a joined task, a program
 * leaf's holder — unless what it waits for has arrived already (READY). */
AsyncrtTaskId asyncrt__wait_edge_target (const AsyncrtWait *w);
/* Builds d->deadlocks, d->holders and each task's n_blocked / deadlock, once, at
 * seal time; frees them with asyncrt__dump_graph_clear().  @any_edge false: the
 * sealer found no traced idle task with a wait that has an edge target (the graph
 * is empty: the records are not read again). */
void asyncrt__dump_graph_build (AsyncrtDump *d, bool any_edge);
void asyncrt__dump_graph_clear (AsyncrtDump *d);
/* qsort/bsearch order of AsyncrtTaskId. */
int asyncrt__dump_cmp_id (const void *a, const void *b);

/* ---- group.c ------------------------------------------------------------------------- */

typedef struct
{
  GArray *members;            /* size_t indices into d->tasks, ascending */
} AsyncrtDumpGroup;

/* The groups of @d (AsyncrtDumpGroup*, by first member), to free with
 * g_ptr_array_unref(). */
GPtrArray *asyncrt__dump_groups (const AsyncrtDump *d);
/* Idle times of the members that were ever polled; false if none was. */
bool asyncrt__dump_group_idle_stats (const AsyncrtDump *d, const AsyncrtDumpGroup *g,
                                     uint64_t *ret_min, uint64_t *ret_median,
                                     uint64_t *ret_max);
/* Whether every member's wait @backtrace is on the same object (and holder, name). */
bool asyncrt__dump_group_same_object (const AsyncrtDump *d, const AsyncrtDumpGroup *g,
                                      guint backtrace);

/* ---- text.c, json.c ------------------------------------------------------------------ */

char *asyncrt__dump_format_text (const AsyncrtDump *d, unsigned flags);
char *asyncrt__dump_format_json (const AsyncrtDump *d, unsigned flags);

/* ---- describe.c ---------------------------------------------------------------------- */

/* Appends what @w waits on, in words ("waits for mutex \"store\" held by task 2 for
 * 490.127 ms, waiting 482.856 ms"); nothing for a wait of kind UNKNOWN with nothing
 * set.  Every program-supplied string is escaped.  @flags: WAIT_TEXT_OBJECT names the
 * object (its name, or its address) and gives its facts (a group of tasks waiting on
 * different objects leaves it out); WAIT_TEXT_WAITED adds how long this task has
 * waited (not for a group). */
enum
{
  WAIT_TEXT_OBJECT = 1 << 0,
  WAIT_TEXT_WAITED = 1 << 1,
  WAIT_TEXT_ALL = WAIT_TEXT_OBJECT | WAIT_TEXT_WAITED
};
void asyncrt__dump_append_wait_text (GString *out, const AsyncrtWait *w, unsigned flags);
/* "490.127 ms", "1.250 s", "12.000 us". */
void asyncrt__dump_append_duration (GString *out, uint64_t ns);
/* Appends the ids, ", "-separated, the first @limit of them and then "… (N more)". */
void asyncrt__dump_append_ids (GString *out, const AsyncrtTaskId *ids, size_t n, size_t limit);

/* ---- format.c ---------------------------------------------------------------------- */

/* The identity of a trace for sharing its formatting and for grouping: its
 * instruction pointers (and, for synthetic traces, their resolutions), backtrace by
 * backtrace. */
GBytes *asyncrt__dump_trace_key (const AsyncrtTrace *tr);

/* Trees formatted once per distinct trace for one formatting call, each task's own
 * waits written at the end of its leaves' lines (" — waits for …; …"). */
typedef struct _AsyncrtDumpTreeCache AsyncrtDumpTreeCache;
/* Appends the wait of backtrace @backtrace of the tree being written ("" for none). */
typedef void (*AsyncrtDumpAnnotateFunc) (GString *out, guint backtrace, void *data);
AsyncrtDumpTreeCache *asyncrt__dump_tree_cache_new (void);
void asyncrt__dump_tree_cache_free (AsyncrtDumpTreeCache *c);
/* Appends @tr's tree, indented by two spaces, annotated by @annotate. */
void asyncrt__dump_tree_cache_append (AsyncrtDumpTreeCache *c, const AsyncrtTrace *tr,
                                      AsyncrtDumpAnnotateFunc annotate, void *data,
                                      GString *out);
/* How many trees every tree cache of the process has built (tests). */
size_t asyncrt__dump_get_n_trees_built (void);
/* "idle", "scheduled", "running". */
const char *asyncrt__dump_state_name (AsyncrtTaskState s);
/* The JSON name of a reason ("running", "deadline"…), NULL for NONE. */
const char *asyncrt__dump_no_trace_name (AsyncrtDumpNoTraceReason r);

/* ---- native.c: sampling, and what text.c / json.c print of native stacks ---------------
 * Each piece is one function called from one place, so that the formats can change
 * around them. */

typedef struct _AsyncrtDumpSampling AsyncrtDumpSampling;
/* Lists the blocking jobs running now and, when @sample, sends the sampling signal to
 * every thread worth sampling: the workers of the run's RUNNING records
 * (@running: their record indices) and of its missing workers, and the blocking-pool
 * threads.  Without @sample, statuses are NOT_SAMPLED and nothing waits. */
AsyncrtDumpSampling *asyncrt__dump_sampling_begin (AsyncrtDump *d, AsyncrtHandle *h,
                                                   const GArray *running, bool sample);
/* Collects the answers (bounded wait) and gives each record its native stack or the
 * reason it has none; frees @s.  Before asyncrt__dump_seal. */
void asyncrt__dump_sampling_end (AsyncrtDump *d, AsyncrtDumpSampling *s);

/* Text: the native stack of a running task ("  running for 3.204 s on worker 1 —
 * native stack:" and one line per frame), or nothing if it has none. */
void asyncrt__dump_append_task_native_text (GString *out, const struct _AsyncrtDumpTask *t);
/* Text: "; native stack: <why not>" after "(not traced: running…" when a running task
 * has none. */
void asyncrt__dump_append_no_native_text (GString *out, const struct _AsyncrtDumpTask *t);
/* Text: after the summary line, why native stacks are unavailable, if they are and
 * something wanted one. */
void asyncrt__dump_append_native_availability_text (GString *out, const AsyncrtDump *d);
/* Text: what follows "worker N did not stop…" about its native stack. */
void asyncrt__dump_append_missing_native_text (GString *out, const AsyncrtDump *d,
                                               const AsyncrtDumpMissingWorker *w);
/* Text: the blocking jobs, one header line each and their native stacks. */
void asyncrt__dump_append_blocking_jobs_text (GString *out, const AsyncrtDump *d);

/* JSON: the dump's members "native_stacks", "sample_signal" and "blocking_jobs", each
 * followed by a comma; @job_trace gives each blocking job's index in json.c's traces
 * table (SIZE_MAX: none). */
void asyncrt__dump_append_native_json (GString *out, const AsyncrtDump *d,
                                       const size_t *job_trace);
/* JSON: a task's members ,"trace_kind" and ,"native_stack" (each preceded by a comma). */
void asyncrt__dump_append_task_native_json (GString *out, const struct _AsyncrtDumpTask *t);
/* JSON: a missing worker's member ,"native_stack" (json.c adds its "trace" index). */
void asyncrt__dump_append_missing_native_json (GString *out, const AsyncrtDumpMissingWorker *w);

/* ---- header.c ---------------------------------------------------------------------- */

/* The start of every formatted dump: process id, program name, the wall-clock time it
 * was taken, library version.  Text: one line "process PID (NAME), taken at
 * 2025-01-31T12:34:56.789Z, libasyncrt 0.2.0".  JSON: the members "pid", "program",
 * "taken_at", "library_version", each followed by a comma. */
void asyncrt__dump_append_header (GString *out, const AsyncrtDump *d, bool json);

/* ---- request.c: the requester's side ------------------------------------------------
 * A request is reference counted (atomic): the requester holds one, the runtime's
 * dump queue one from submission until the scheduler releases it (or the requester
 * withdraws it before it was started). */

AsyncrtDumpRequest *asyncrt__dump_request_new (AsyncrtHandle *h, AsyncrtDumpKind kind,
                                               uint64_t deadline_ns,
                                               AsyncrtDumpNoTraceReason census_reason);
void asyncrt__dump_request_unref (AsyncrtDumpRequest *req);
/* Queues a TRACE request on its runtime; it is handed to ops->dump at once if no other
 * request of the runtime is being served, otherwise when the one before it is
 * released. */
void asyncrt__dump_request_submit (AsyncrtDumpRequest *req);
/* The dump future's waker: woken when the request is answered (or the runtime shuts
 * down).  Cloned; replaces the previous one unless it would wake the same task. */
void asyncrt__dump_request_set_waker (AsyncrtDumpRequest *req, const AsyncrtWaker *w);

/* The requester's deadline rule, at time @now (DESIGN §6 and the dump section):
 *   answered                      -> its result: 0 and @out, or its error;
 *   not started (another request
 *   of the runtime is served)     -> wait until the deadline, then -ETIMEDOUT;
 *   started, not taken            -> wait until the deadline, then withdraw it (the
 *                                    scheduler's canceller runs) and return a census
 *                                    (reason DEADLINE);
 *   taken (being traced)          -> wait until the deadline plus the grace, then
 *                                    abandon it and return a census;
 *   runtime shut down             -> -ESHUTDOWN unless taken (a taken one finishes).
 * Returns -EINPROGRESS while the requester must wait, with *ret_until the time to
 * look again at the latest; anything else is final (the request must not be checked
 * again).  @out is written only on 0. */
int asyncrt__dump_request_check (AsyncrtDumpRequest *req, uint64_t now_ns, AsyncrtDump **out,
                                 uint64_t *ret_until_ns);
/* The blocking form: waits (on the runtime's dump queue) until check() is final. */
int asyncrt__dump_request_wait (AsyncrtDumpRequest *req, AsyncrtDump **out);
/* The requester goes away before the answer (a dump future cleared mid-way): the
 * request is withdrawn or abandoned as at the deadline, without a census, and the
 * requester's reference dropped. */
void asyncrt__dump_request_drop (AsyncrtDumpRequest *req);

/* A census of @h, answered by its scheduler at once on the calling thread, listing the
 * tasks @opts (may be NULL) lets through. */
AsyncrtDump *asyncrt__dump_census (AsyncrtHandle *h, AsyncrtDumpNoTraceReason reason,
                                   const AsyncrtDumpOptions *opts);
/* Before submission: the filters of the dump (copied; NULL or no filter: none). */
void asyncrt__dump_request_set_options (AsyncrtDumpRequest *req, const AsyncrtDumpOptions *opts);

#endif /* ASYNCRT_DUMP_PRIVATE_H */
