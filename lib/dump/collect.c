/* libasyncrt - taking a dump on a serving thread, and the census
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership.  An AsyncrtDumpRun belongs to the one thread that created it: the
 * current-thread runtime's thread between two polls, the multi-thread leader, or a
 * census's caller — but for collecting and tracing, which helpers may share (below).
 * A tracing run holds, in `held` (and, until they are merged, its walk groups'):
 *   - the notified reference of each task popped from a run queue (add_queued);
 *   - a claim (RUNNING and a reference, asyncrt__task_claim_for_trace) on each idle
 *     task it collected under the owned-list lock.
 * Every one of them is consumed exactly once by lib/task: by its trace poll
 * (asyncrt__task_trace_poll) inside a quiet capture, or, past the deadline, by
 * asyncrt__task_trace_release.  Either way lib/task ends it by the rule of
 * task-private.h ("Trace polls"): queued tasks are queued again as they were, idle
 * ones go back to idle unless a real wake came meanwhile.  No wake is deferred or
 * added: the dump changes no poll count, no last-poll time.
 *
 * The owned-list walk only collects: it runs under a shard lock, so it never polls,
 * frees or unlinks a task, nor takes another lock a poll could take.  The trace polls
 * happen afterwards with no lock held, so a task that completes during its trace poll
 * is unlinked normally, and one that wakes or spawns another just schedules it (a
 * claimed wakee is RUNNING, so the wake sets NOTIFIED and it is requeued after its
 * own trace poll).
 *
 * Records.  A task seen running or queued where the run cannot take it is recorded
 * by the walk itself, under the shard lock (the lock asyncrt_task_set_label() swaps
 * the label set under: the record takes a reference to it).  A held task is recorded
 * only when it is traced, without that lock: it is ours (claimed, so RUNNING for the
 * run; or drained from a queue, its notified reference ours), and only a task's
 * running thread changes its labels.  Before tracing, the held tasks are put in id
 * order and every record gets its final place (place_records): the records come out
 * in the order a dump lists them, written once each, and sealing moves none of them.
 *
 * t->dump_data (the dump module's word of the task) is nonzero while a run holds the
 * task: (run sequence << 2) | HELD_IDLE or HELD_QUEUED.  Written relaxed: set by
 * hold() on the thread that holds it (the run's, or a helper walking a group),
 * cleared by lib/task as the hold ends on the thread that
 * traces or releases the task (the run's, or a helper's), inside
 * asyncrt__task_trace_poll() or asyncrt__task_trace_release() (after the end CAS,
 * before the run's reference is dropped: the run touches no task it no longer holds);
 * read by that thread (the walk skips tasks it drained already) and by a
 * census on another thread, which must not list a claimed idle task as RUNNING.  Runs
 * of one runtime are serialised by its dump queue (request.c); a census may overlap
 * one, and only reads.
 *
 * Collecting on several threads.  The owned list is walked by groups of shards
 * (ASYNCRT_OWNED_WALK_GROUPS, each walk holding its group's shard locks).  From
 * asyncrt__dump_run_collect_open() on (collect_open, release: the groups' arrays
 * exist and every queued task is held and marked), any collecting thread counts
 * itself in `collecting`, takes group indices from `next_group` (each group goes to
 * exactly one thread) and walks them into that group's own arrays (WalkGroup: its
 * walker's alone), then counts itself out (release).  The run's thread walks too
 * until no group is left, then waits for `collecting` to drop to zero: a helper that
 * got a group counted itself in before taking it, and the run's thread saw every
 * group taken only after that (sequentially consistent increments and loads), so
 * zero means every group's walk is done and visible (acquire).  It then merges the
 * groups' records and held tasks into the run's.  Helpers wait for trace_begun
 * before tracing; the run's thread always reaches it after collecting.
 *
 * Tracing on several threads.  Once asyncrt__dump_run_trace_begin() gave every
 * record its place, the held tasks are handed out by chunks of TRACE_CHUNK indices
 * (run->next_held, a relaxed fetch-and-add: each index goes to exactly one thread).
 * The run's thread traces into the dump's store; a helper (asyncrt__dump_run_help,
 * another thread of the runtime) into a store of its own, which it pushes on
 * run->helpers (release) when no chunk is left.  A chunk's Held entries, tasks and
 * records are its thread's alone.  The scheduler guarantees every helper has
 * returned before asyncrt__dump_run_finish(), which takes the helpers' stores
 * (acquire) and has the dump's store adopt them (asyncrt__trace_store_adopt).
 * Each thread reads the clock and meets the deadline on its own.
 *
 * Filters (filter.c) are applied here, before anything is claimed or polled: an idle
 * task that does not match is skipped by the walk (never claimed); a task drained
 * from a queue that does not match is held without a record and handed back to its
 * scheduler untraced (asyncrt__task_trace_release) before the others are traced;
 * running and queued-elsewhere tasks are recorded only if they match.
 *
 * Running tasks and missing workers are recorded in exactly one place each
 * (record_running, asyncrt__dump_run_add_missing_worker).  Their native stacks
 * (native.c) are asked for once everything is collected — at the start of the trace,
 * so the answers come while the idle tasks are traced, or for a census whose
 * deadline passed as it finishes — and given to the records before the dump is
 * sealed (asyncrt__dump_run_finish).
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"
#include "util/util-private.h"

#include <stdlib.h>
#include <string.h>

enum
{
  HELD_IDLE = 1,
  HELD_QUEUED = 2,
  HELD_MASK = 3
};

/* Held.rec of a task held only to be handed back (it does not match the filter). */
#define NO_RECORD SIZE_MAX

typedef struct
{
  AsyncrtTask *task;         /* NULL once consumed */
  AsyncrtTaskId id;          /* the task's (read by the walk: held in id order) */
  size_t rec;                /* its record's place (place_records), or NO_RECORD */
  bool queued;
  bool wanted;               /* matches the filter: recorded and traced */
} Held;

/* What one tracing thread saw of its records. */
typedef struct
{
  bool edges;                   /* a traced wait may be an edge of the wait-for graph */
  size_t n_untraced;            /* held tasks recorded untraced (deadline, cancelled) */
  size_t n_removed;             /* held tasks that completed during their trace poll */
} TraceTotals;

/* The traces a helper took (asyncrt__dump_run_help), merged at the run's end. */
typedef struct _HelperTraces
{
  AsyncrtTraceStore *store;
  TraceTotals totals;
  struct _HelperTraces *next;
} HelperTraces;

/* One group of owned-list shards (ASYNCRT_OWNED_WALK_GROUPS of them), walked by
 * whichever tracing thread takes it: what its walk held and recorded, merged into the
 * run once every group is walked. */
typedef struct
{
  GArray *held;              /* Held: the idle tasks its walk claimed */
  GArray *records;           /* struct _AsyncrtDumpTask: the walk's own records */
  GArray *running;           /* size_t: indices into records of the RUNNING ones */
} WalkGroup;

typedef struct
{
  AsyncrtDumpRun *run;
  WalkGroup *group;
} WalkArg;

struct _AsyncrtDumpRun
{
  AsyncrtHandle *h;
  AsyncrtDump *d;
  uint64_t deadline_ns;
  uintptr_t seq;
  GArray *held;              /* Held */
  GHashTable *queued_on;     /* AsyncrtTask* -> worker + 1 (notes), or NULL */
  AsyncrtDumpWorkerOfFunc worker_of;
  void *worker_of_data;
  GArray *running;           /* size_t: indices of the RUNNING records */
  GArray *walked;            /* size_t: the walk's records' places (place_records) */
  TraceTotals totals;        /* the run's thread's, then every tracing thread's */
  AsyncrtDumpSampling *sampling;   /* native.c: from the trace's start to finish */
  AsyncrtDumpFilter *filter;  /* NULL: every task */
  /* Collecting (asyncrt__dump_run_collect_open() on, shared with helpers): */
  WalkGroup groups[ASYNCRT_OWNED_WALK_GROUPS];
  atomic_bool collect_open;    /* set (release) once the groups may be taken */
  atomic_uint next_group;      /* the next group to hand out */
  atomic_uint collecting;      /* threads taking or walking groups */
  /* Tracing (asyncrt__dump_run_trace_begin() on, shared with helpers): */
  atomic_bool trace_begun;     /* set (release) once every record has its place */
  atomic_size_t next_held;     /* the next index of `held` to hand out, by chunks */
  _Atomic (HelperTraces *) helpers;   /* pushed by helpers as they finish */
};

/* Process-wide, but a plain atomic: nothing to inherit locked across fork. */
static atomic_uintptr_t run_seq = 1;

AsyncrtDumpRun *
asyncrt__dump_run_new (AsyncrtHandle *h, const AsyncrtDumpRequest *req, const char *flavour,
                       unsigned n_workers)
{
  AsyncrtDumpRun *run = g_new0 (AsyncrtDumpRun, 1);
  run->h = h;
  run->d = asyncrt__dump_new (flavour, n_workers);
  run->deadline_ns = asyncrt__dump_request_get_kind (req) == ASYNCRT_DUMP_KIND_TRACE
                     ? asyncrt__dump_request_get_deadline_ns (req) : 0;
  run->seq = atomic_fetch_add_explicit (&run_seq, 1, memory_order_relaxed);
  /* Sized up front for every task the runtime has now (a relaxed count: a hint). */
  size_t n_tasks = asyncrt__owned_len (&h->owned);
  run->held = g_array_sized_new (FALSE, FALSE, sizeof (Held), (guint) n_tasks + 16);
  g_array_free (run->d->tasks, TRUE);
  /* Not cleared: place_records() makes room for records each written once, whole.
   * The last dump's array if it was kept (its pages are mapped already). */
  run->d->tasks = asyncrt__spare_take_array (ASYNCRT_SPARE_DUMP_RECORDS, 0);
  if (run->d->tasks == NULL)
    run->d->tasks = g_array_sized_new (FALSE, FALSE, sizeof (struct _AsyncrtDumpTask),
                                       (guint) n_tasks + 16);
  g_array_set_size (run->d->tasks, (guint) n_tasks + 16);      /* reserves */
  g_array_set_size (run->d->tasks, 0);
  run->running = g_array_new (FALSE, FALSE, sizeof (size_t));
  run->d->runtime_serial = h->serial;
  run->d->runtime_name = g_strdup (h->name);
  run->d->options = asyncrt_dump_options_copy (asyncrt__dump_request_get_options (req));
  run->filter = asyncrt__dump_filter_new (run->d->options, h, run->d->taken_ns);
  return run;
}

/* ---- records ------------------------------------------------------------------------ */

/* Writes @t's record at @r, every field (place_records' slots are not cleared), where
 * it will stay: no record is built aside and copied, nor cleared first.  Its idle
 * time is counted to @taken_ns, when the dump was taken. */
static void
record_of (struct _AsyncrtDumpTask *r, AsyncrtTask *t, AsyncrtTaskState state,
           AsyncrtDumpNoTraceReason no_trace, uint64_t taken_ns)
{
  r->id = t->id;
  r->parent_id = t->parent_id;
  r->state = state;
  r->no_trace = no_trace;
  r->worker = -1;
  r->trace = NULL;
  r->name = g_strdup (asyncrt__task_name (t));
  r->spawn_file = asyncrt__task_spawn_file (t);
  r->spawn_func = asyncrt__task_spawn_func (t);
  int line = asyncrt__task_spawn_line (t);
  r->spawn_line = line > 0 ? (unsigned) line : 0;
  r->poll_count = atomic_load_explicit (&t->poll_count, memory_order_relaxed);
  r->last_poll_ns = atomic_load_explicit (&t->last_poll_ns, memory_order_relaxed);
  r->idle_ns = r->last_poll_ns != 0 ? asyncrt__dump_idle_ns (taken_ns, r->last_poll_ns) : 0;
  r->group_id = asyncrt__task_group_id (t);
  r->labels = asyncrt__labels_ref (asyncrt__task_labels (t));
  r->removed = false;
  r->trace_kind = ASYNCRT_TRACE_KIND_NONE;
  r->native = ASYNCRT_NATIVE_STACK_NOT_SAMPLED;
  r->n_blocked = 0;
  r->deadlock = 0;
}
/* A field added to the record must be written above too. */
G_STATIC_ASSERT (sizeof (struct _AsyncrtDumpTask) == 144);

static bool
matches (AsyncrtDumpRun *run, AsyncrtTask *t, AsyncrtTaskState state)
{
  return asyncrt__dump_filter_wants_state (run->filter, state)
         && asyncrt__dump_filter_match_task (run->filter, t);
}

/* A task some worker is polling right now: never traced; its worker is sampled
 * (native.c) for its native stack. */
static void
record_running (AsyncrtDumpRun *run, WalkGroup *g, AsyncrtTask *t)
{
  if (!matches (run, t, ASYNCRT_TASK_STATE_RUNNING))
    return;
  struct _AsyncrtDumpTask r;
  record_of (&r, t, ASYNCRT_TASK_STATE_RUNNING, ASYNCRT_DUMP_NO_TRACE_RUNNING,
             run->d->taken_ns);
  if (run->worker_of != NULL)
    r.worker = run->worker_of (t, run->worker_of_data);
  size_t rec;
  if (g != NULL)
    {
      g_array_append_val (g->records, r);
      rec = g->records->len - 1;
      g_array_append_val (g->running, rec);
    }
  else
    {
      rec = asyncrt__dump_add_task (run->d, &r);
      g_array_append_val (run->running, rec);
    }
}

/* A worker that did not stop: sampled too (native.c walks d->missing). */
void
asyncrt__dump_run_add_missing_worker (AsyncrtDumpRun *run, unsigned index,
                                      AsyncrtTaskId task_id, uint64_t running_ns)
{
  asyncrt__dump_add_missing_worker (run->d, index, task_id, running_ns);
}

/* @t is ours (claimed, or drained from a queue): hold it, to record and trace it
 * later or, if it does not match the filter, only to hand it back untraced. */
static void
hold (AsyncrtDumpRun *run, GArray *held, AsyncrtTask *t, bool queued)
{
  AsyncrtTaskState state = queued ? ASYNCRT_TASK_STATE_SCHEDULED : ASYNCRT_TASK_STATE_IDLE;
  Held p = { t, t->id, NO_RECORD, queued, matches (run, t, state) };
  atomic_store_explicit (&t->dump_data, (run->seq << 2) | (queued ? HELD_QUEUED : HELD_IDLE),
                         memory_order_relaxed);
  g_array_append_vals (held, &p, 1);
}

void
asyncrt__dump_run_add_queued (AsyncrtDumpRun *run, AsyncrtTask *t)
{
  hold (run, run->held, t, true);
}

void
asyncrt__dump_run_note_queued_on (AsyncrtDumpRun *run, AsyncrtTask *t, unsigned worker)
{
  if (run->queued_on == NULL)
    run->queued_on = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_hash_table_insert (run->queued_on, t, GUINT_TO_POINTER (worker + 1));
}

/* ---- collecting ---------------------------------------------------------------------- */

/* Under a shard lock: claim or record, never poll. */
static void
collect_one (AsyncrtTask *t, void *data)
{
  const WalkArg *a = data;
  AsyncrtDumpRun *run = a->run;
  uintptr_t mark = atomic_load_explicit (&t->dump_data, memory_order_relaxed);
  if (mark != 0 && mark >> 2 == run->seq)
    return;                                   /* drained from a queue: held already */
  if (!asyncrt__dump_filter_match_task (run->filter, t))
    return;                                   /* never claimed */
  uint64_t s;
  if (!asyncrt__dump_filter_wants_state (run->filter, ASYNCRT_TASK_STATE_IDLE))
    {
      /* Idle tasks are not wanted: look, never claim. */
      s = asyncrt__task_state (t);
      if (!(s & (ASYNCRT_TASK_RUNNING | ASYNCRT_TASK_NOTIFIED | ASYNCRT_TASK_COMPLETE)))
        return;
    }
  else
    for (;;)
      {
        if (asyncrt__task_claim_for_trace (t))
          {
            hold (run, a->group->held, t, false);
            return;
          }
        /* Refused because running, notified or complete; if it changed since, again. */
        s = asyncrt__task_state (t);
        if (s & (ASYNCRT_TASK_RUNNING | ASYNCRT_TASK_NOTIFIED | ASYNCRT_TASK_COMPLETE))
          break;
      }
  if (s & ASYNCRT_TASK_COMPLETE)
    return;
  if (s & ASYNCRT_TASK_RUNNING)
    {
      record_running (run, a->group, t);
      return;
    }
  /* Notified, on a queue the run could not take. */
  if (!asyncrt__dump_filter_wants_state (run->filter, ASYNCRT_TASK_STATE_SCHEDULED))
    return;
  gpointer w = run->queued_on != NULL ? g_hash_table_lookup (run->queued_on, t) : NULL;
  struct _AsyncrtDumpTask r;
  record_of (&r, t, ASYNCRT_TASK_STATE_SCHEDULED,
             (s & ASYNCRT_TASK_CANCELLED) ? ASYNCRT_DUMP_NO_TRACE_CANCELLED
             : w != NULL ? ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER
             : ASYNCRT_DUMP_NO_TRACE_WOKEN_DURING_DUMP, run->d->taken_ns);
  if (w != NULL)
    r.worker = (int) GPOINTER_TO_UINT (w) - 1;
  g_array_append_val (a->group->records, r);
}

void
asyncrt__dump_run_collect_open (AsyncrtDumpRun *run, AsyncrtDumpWorkerOfFunc worker_of,
                                void *data)
{
  if (atomic_load_explicit (&run->collect_open, memory_order_relaxed))
    return;
  run->worker_of = worker_of;
  run->worker_of_data = data;
  size_t per_group = asyncrt__owned_len (&run->h->owned) / ASYNCRT_OWNED_WALK_GROUPS + 16;
  for (unsigned g = 0; g < ASYNCRT_OWNED_WALK_GROUPS; g++)
    {
      run->groups[g].held = g_array_sized_new (FALSE, FALSE, sizeof (Held), (guint) per_group);
      run->groups[g].records = g_array_new (FALSE, FALSE, sizeof (struct _AsyncrtDumpTask));
      run->groups[g].running = g_array_new (FALSE, FALSE, sizeof (size_t));
    }
  atomic_store_explicit (&run->collect_open, true, memory_order_release);
}

/* Takes groups of shards and walks them until none is left (any collecting thread). */
static void
collect_groups (AsyncrtDumpRun *run)
{
  atomic_fetch_add (&run->collecting, 1);
  for (;;)
    {
      unsigned g = atomic_fetch_add (&run->next_group, 1);
      if (g >= ASYNCRT_OWNED_WALK_GROUPS)
        break;
      WalkArg a = { run, &run->groups[g] };
      asyncrt__owned_foreach_group (&run->h->owned, g, collect_one, &a);
    }
  atomic_fetch_sub_explicit (&run->collecting, 1, memory_order_release);
}

void
asyncrt__dump_run_collect (AsyncrtDumpRun *run, AsyncrtDumpWorkerOfFunc worker_of, void *data)
{
  asyncrt__dump_run_collect_open (run, worker_of, data);
  collect_groups (run);
  /* Every group was handed out (ours saw none left); a helper that took one counted
   * itself in before ("Collecting on several threads", above). */
  for (unsigned k = 0; atomic_load (&run->collecting) != 0; k++)
    asyncrt__wait_step (k);
  for (unsigned g = 0; g < ASYNCRT_OWNED_WALK_GROUPS; g++)
    {
      WalkGroup *wg = &run->groups[g];
      size_t base = run->d->tasks->len;
      g_array_append_vals (run->d->tasks, wg->records->data, wg->records->len);
      for (size_t i = 0; i < wg->running->len; i++)
        {
          size_t rec = base + g_array_index (wg->running, size_t, i);
          g_array_append_val (run->running, rec);
        }
      g_array_append_vals (run->held, wg->held->data, wg->held->len);
      g_array_free (wg->held, TRUE);
      g_array_free (wg->records, TRUE);
      g_array_free (wg->running, TRUE);
      wg->held = wg->records = wg->running = NULL;
    }
}

/* ---- tracing --------------------------------------------------------------------------- */

typedef struct
{
  AsyncrtTask *task;
  bool queued;
  bool polled;
  bool completed;
} TraceArg;

static void
trace_one (void *data)
{
  TraceArg *a = data;
  a->polled = asyncrt__task_trace_poll (a->task, a->queued, &a->completed);
}

/* How many held tasks ahead the trace loop prefetches. */
#define PREFETCH_AHEAD 4
/* Held tasks handed out at once to a tracing thread (the leader or a helper). */
#define TRACE_CHUNK 64

/* The trace loop reads the clock before the first task, then once every
 * CLOCK_STRIDE tasks while the last stride took at most 1/CLOCK_MARGIN of the time
 * then left, else before every task.  A clock read per task was about 5% of a
 * 100,000-task dump (perf, bench-dump large); and a dump still
 * returns by its deadline: the tasks between two reads are expected to take about as
 * long as the stride before them, a small part of what is left, and as the deadline
 * nears (or polls get slow) the loop reads the clock before each task again, as it
 * always did.  Returns how many tasks to trace before the next read. */
#define CLOCK_STRIDE 16
#define CLOCK_MARGIN 64

static unsigned
next_clock_check (uint64_t prev_ns, uint64_t now_ns, uint64_t deadline_ns)
{
  if (prev_ns == 0 || now_ns >= deadline_ns)
    return 0;
  uint64_t stride_ns = now_ns > prev_ns ? now_ns - prev_ns : 0;
  return stride_ns <= (deadline_ns - now_ns) / CLOCK_MARGIN ? CLOCK_STRIDE - 1 : 0;
}

/* ---- placing the records ---------------------------------------------------------- */

/* The held tasks in id order (the walk meets them in list order).  Entries are
 * small; no record has been written yet. */
static void
sort_held (GArray *held)
{
  size_t n = held->len;
  Held *v = (Held *) (void *) held->data;
  AsyncrtTaskId *ids = g_new (AsyncrtTaskId, n + 1);
  for (size_t i = 0; i < n; i++)
    ids[i] = v[i].id;
  size_t *from = asyncrt__dump_order_by_id (ids, n);
  g_free (ids);
  if (from == NULL)
    return;
  Held *out = g_new (Held, n);
  for (size_t k = 0; k < n; k++)
    out[k] = v[from[k]];
  memcpy (v, out, n * sizeof *v);
  g_free (out);
  g_free (from);
}

/* Gives every record its final place in id order before anything is traced: the
 * held tasks that are wanted (sorted by id) and the records the walk wrote already
 * (running tasks, tasks queued where the run could not take them: few) are merged;
 * the walk's records move to their places (and run->running follows them), each held
 * task gets the place its record is written to when it is traced (slots past the
 * walk's records are not cleared: each is written once, whole).  A record dropped
 * later (a task that completed during its trace poll) is marked removed, and sealing
 * drops it. */
static void
place_records (AsyncrtDumpRun *run)
{
  AsyncrtDump *d = run->d;
  sort_held (run->held);
  size_t k = d->tasks->len, n_wanted = 0;
  for (size_t i = 0; i < run->held->len; i++)
    n_wanted += g_array_index (run->held, Held, i).wanted;
  /* The walk's records, set aside; side[j]: the index of the j-th by id. */
  AsyncrtTaskId *side_ids = g_new (AsyncrtTaskId, k + 1);
  for (size_t j = 0; j < k; j++)
    side_ids[j] = asyncrt__dump_task_at (d, j)->id;
  size_t *side = asyncrt__dump_order_by_id (side_ids, k);
  if (side == NULL)
    {
      side = g_new (size_t, k + 1);
      for (size_t j = 0; j < k; j++)
        side[j] = j;
    }
  struct _AsyncrtDumpTask *walked = g_memdup2 (d->tasks->data, k * sizeof *walked);
  size_t *moved_to = g_new (size_t, k + 1);
  g_array_set_size (d->tasks, 0);
  g_array_set_size (d->tasks, k + n_wanted);
  /* Merge. */
  size_t pos = 0, j = 0;
  for (size_t i = 0; i < run->held->len; i++)
    {
      Held *p = &g_array_index (run->held, Held, i);
      if (!p->wanted)
        continue;
      for (; j < k && side_ids[side[j]] < p->id; j++)
        {
          *asyncrt__dump_task_at (d, pos) = walked[side[j]];
          moved_to[side[j]] = pos++;
        }
      p->rec = pos++;
    }
  for (; j < k; j++)
    {
      *asyncrt__dump_task_at (d, pos) = walked[side[j]];
      moved_to[side[j]] = pos++;
    }
  g_assert (pos == k + n_wanted);
  for (size_t r = 0; r < run->running->len; r++)
    g_array_index (run->running, size_t, r) = moved_to[g_array_index (run->running, size_t, r)];
  run->walked = g_array_sized_new (FALSE, FALSE, sizeof (size_t), (guint) k);
  g_array_append_vals (run->walked, moved_to, (guint) k);
  g_free (moved_to);
  g_free (walked);
  g_free (side);
  g_free (side_ids);
}

/* Past the deadline or not, for one tracing thread: the clock is read every
 * CLOCK_STRIDE tasks while far from the deadline (next_clock_check). */
typedef struct
{
  bool late;
  unsigned due;                 /* tasks to trace before the next clock read */
  uint64_t checked_ns;          /* the last clock read; 0: none yet */
  TraceTotals totals;
} TraceCursor;

/* Records and traces held task @i (or, past the deadline, releases it untraced), into
 * @store.  Any tracing thread: the task, its Held entry and its record are this
 * thread's alone (each index is handed out once). */
static void
trace_held (AsyncrtDumpRun *run, AsyncrtTraceStore *store, size_t i, size_t end,
            TraceCursor *cur)
{
  Held *p = &g_array_index (run->held, Held, i);
  AsyncrtTask *t = p->task;
  if (t == NULL)
    return;                       /* handed back already (not wanted) */
  p->task = NULL;
  /* The tasks are spread over the heap: start fetching a later one's header while
   * this one is traced (a hint, never a dereference). */
  if (i + PREFETCH_AHEAD < end)
    asyncrt__task_prefetch (g_array_index (run->held, Held, i + PREFETCH_AHEAD).task);
  /* The deadline: one trace poll may take long (user code runs up to its leaf). */
  if (!cur->late && cur->due == 0)
    {
      uint64_t now = asyncrt__clock_now_ns ();
      cur->late = now >= run->deadline_ns;
      cur->due = next_clock_check (cur->checked_ns, now, run->deadline_ns);
      cur->checked_ns = now;
    }
  if (cur->due > 0)
    cur->due--;
  /* The record is whole from here on, as the seal would leave it, but for a trace. */
  struct _AsyncrtDumpTask *rec = asyncrt__dump_task_at (run->d, p->rec);
  record_of (rec, t, p->queued ? ASYNCRT_TASK_STATE_SCHEDULED : ASYNCRT_TASK_STATE_IDLE,
             cur->late ? ASYNCRT_DUMP_NO_TRACE_DEADLINE : ASYNCRT_DUMP_NO_TRACE_NONE,
             run->d->taken_ns);
  if (cur->late)
    {
      asyncrt__task_trace_release (t, p->queued);     /* unmarks it */
      cur->totals.n_untraced++;
      return;
    }
  /* The trace poll consumes our reference and unmarks the task: from here on @t may
   * be freed, so what happened to it comes back in @a, and the loop takes no
   * reference of its own (two atomics per task fewer). */
  TraceArg a = { t, p->queued, false, false };
  AsyncrtTrace *tr = asyncrt__trace_capture_quiet_into (store, trace_one, &a);
  if (a.completed)
    {
      asyncrt_trace_free (tr);
      rec->removed = true;          /* finished during its trace poll, or shut down */
      cur->totals.n_removed++;
    }
  else if (!a.polled)
    {
      /* Aborted while queued: handed back for its cancellation, untraced. */
      asyncrt_trace_free (tr);
      rec->no_trace = ASYNCRT_DUMP_NO_TRACE_CANCELLED;
      cur->totals.n_untraced++;
    }
  else
    {
      rec->trace = tr;
      rec->trace_kind = ASYNCRT_TRACE_KIND_ASYNC;
      /* Its waits now, while the trace is in cache (not in a pass of its own). */
      if (asyncrt__dump_fill_waited (run->d, rec))
        cur->totals.edges = true;
    }
}

/* Takes chunks of held tasks and traces them until none is left.  @store: where this
 * thread's traces go; NULL: a store of its own, created on the first chunk taken
 * (returned, or NULL if there was none). */
static AsyncrtTraceStore *
trace_chunks (AsyncrtDumpRun *run, AsyncrtTraceStore *store, TraceTotals *ret_totals)
{
  size_t n = run->held->len;
  TraceCursor cur = { false, 0, 0, { false, 0, 0 } };
  for (;;)
    {
      size_t from = atomic_fetch_add_explicit (&run->next_held, TRACE_CHUNK,
                                               memory_order_relaxed);
      if (from >= n)
        break;
      size_t end = MIN (from + TRACE_CHUNK, n);
      if (store == NULL)                /* a helper: about half of what is left */
        store = asyncrt__trace_store_new_helper ((n - from) / 2 + TRACE_CHUNK);
      for (size_t i = from; i < end; i++)
        trace_held (run, store, i, end, &cur);
    }
  *ret_totals = cur.totals;
  return store;
}

void
asyncrt__dump_run_trace_begin (AsyncrtDumpRun *run)
{
  if (atomic_load_explicit (&run->trace_begun, memory_order_relaxed))
    return;
  /* Hand back, untraced, what was held only because it was queued. */
  for (size_t i = 0; i < run->held->len; i++)
    {
      Held *p = &g_array_index (run->held, Held, i);
      if (p->wanted)
        continue;
      AsyncrtTask *t = p->task;
      p->task = NULL;
      asyncrt__task_trace_release (t, p->queued);     /* unmarks it */
    }
  place_records (run);
  asyncrt__trace_capture_init ();     /* before helpers capture on other threads */
  /* The run's traces live in one store sized for the tasks held (helpers' stores are
   * merged into it at the end): identical stacks stored once, no allocation per task
   * while tracing. */
  if (run->d->store == NULL)
    run->d->store = asyncrt__trace_store_new (run->held->len);
  /* Everything is collected: ask for the native stacks now, collect them at the end. */
  run->sampling = asyncrt__dump_sampling_begin (run->d, run->h, run->running, true);
  run->d->async_waits_filled = true;
  atomic_store_explicit (&run->next_held, 0, memory_order_relaxed);
  atomic_store_explicit (&run->trace_begun, true, memory_order_release);
}

void
asyncrt__dump_run_trace (AsyncrtDumpRun *run)
{
  asyncrt__dump_run_trace_begin (run);
  trace_chunks (run, run->d->store, &run->totals);
}

void
asyncrt__dump_run_help (AsyncrtDumpRun *run)
{
  if (!atomic_load_explicit (&run->collect_open, memory_order_acquire))
    return;
  collect_groups (run);
  /* The run's thread merges the groups and places the records, then begins. */
  for (unsigned k = 0; !atomic_load_explicit (&run->trace_begun, memory_order_acquire); k++)
    asyncrt__wait_step (k);
  TraceTotals totals;
  AsyncrtTraceStore *store = trace_chunks (run, NULL, &totals);
  if (store == NULL)
    return;                       /* every chunk was taken already */
  HelperTraces *h = g_new (HelperTraces, 1);
  h->store = store;
  h->totals = totals;
  h->next = atomic_load_explicit (&run->helpers, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit (&run->helpers, &h->next, h,
                                                 memory_order_release, memory_order_relaxed))
    ;
}

/* ---- the census ---------------------------------------------------------------------- */

typedef struct
{
  AsyncrtDumpRun *run;
  AsyncrtDumpNoTraceReason reason;
} Census;

static void
census_one (AsyncrtTask *t, void *data)
{
  Census *c = data;
  uint64_t s = asyncrt__task_state (t);
  if (s & ASYNCRT_TASK_COMPLETE)
    return;
  if (!asyncrt__dump_filter_match_task (c->run->filter, t))
    return;
  uintptr_t mark = atomic_load_explicit (&t->dump_data, memory_order_relaxed);
  AsyncrtTaskState st;
  if ((s & ASYNCRT_TASK_RUNNING) && mark != 0)
    /* Claimed by a dump still tracing (not running anywhere): as that dump saw it. */
    st = (mark & HELD_MASK) == HELD_QUEUED ? ASYNCRT_TASK_STATE_SCHEDULED
                                           : ASYNCRT_TASK_STATE_IDLE;
  else if (s & ASYNCRT_TASK_RUNNING)
    {
      record_running (c->run, NULL, t);
      return;
    }
  else if (s & ASYNCRT_TASK_NOTIFIED)
    st = ASYNCRT_TASK_STATE_SCHEDULED;
  else
    st = ASYNCRT_TASK_STATE_IDLE;
  if (!asyncrt__dump_filter_wants_state (c->run->filter, st))
    return;
  struct _AsyncrtDumpTask r;
  record_of (&r, t, st, c->reason, c->run->d->taken_ns);
  asyncrt__dump_add_task (c->run->d, &r);
}

void
asyncrt__dump_run_census (AsyncrtDumpRun *run, AsyncrtDumpNoTraceReason reason,
                          AsyncrtDumpWorkerOfFunc worker_of, void *data)
{
  g_assert (reason != ASYNCRT_DUMP_NO_TRACE_NONE);
  run->worker_of = worker_of;
  run->worker_of_data = data;
  run->d->census = reason;
  Census c = { run, reason };
  asyncrt__owned_foreach (&run->h->owned, census_one, &c);
}

AsyncrtDump *
asyncrt__dump_run_finish (AsyncrtDumpRun *run)
{
  AsyncrtDump *d = run->d;
  /* The run's store adopts the helpers' (their shapes mapped to its own, once per
   * shape: a formatter sees one store). */
  HelperTraces *h = atomic_exchange_explicit (&run->helpers, NULL, memory_order_acquire);
  while (h != NULL)
    {
      HelperTraces *next = h->next;
      asyncrt__trace_store_adopt (d->store, h->store);
      run->totals.edges = run->totals.edges || h->totals.edges;
      run->totals.n_untraced += h->totals.n_untraced;
      run->totals.n_removed += h->totals.n_removed;
      g_free (h);
      h = next;
    }
  if (run->totals.edges)
    d->async_edges = true;
  for (size_t i = 0; i < run->held->len; i++)
    g_assert (g_array_index (run->held, Held, i).task == NULL);
  g_array_free (run->held, TRUE);
  /* A census samples only when the deadline passed (running tasks are why it is a
   * census); timeout 0 and a runtime that is not running ask no thread anything. */
  if (run->sampling == NULL)
    run->sampling = asyncrt__dump_sampling_begin (d, run->h, run->running,
                                                  d->census == ASYNCRT_DUMP_NO_TRACE_DEADLINE);
  asyncrt__dump_sampling_end (d, run->sampling);
  g_array_free (run->running, TRUE);
  asyncrt__dump_filter_free (run->filter);
  bool dropped = asyncrt__dump_filter_waits (d);  /* known only now, from the traces */
  /* Every record is final but the walk's own: the seal finishes only those, unless
   * some record is to be dropped (then it passes over all of them). */
  if (run->walked != NULL && !dropped && run->totals.n_removed == 0)
    {
      d->unsealed = run->walked;
      d->n_untraced = run->totals.n_untraced;
    }
  else if (run->walked != NULL)
    g_array_free (run->walked, TRUE);
  if (run->queued_on != NULL)
    g_hash_table_destroy (run->queued_on);
  g_free (run);
  asyncrt__dump_seal (d);
  return d;
}
