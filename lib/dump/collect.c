/* libasyncrt - taking a dump on a serving thread
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership.  An AsyncrtDumpRun belongs to the one serving thread that created it
 * (the current-thread runtime's thread between polls, a thread that took the
 * current-thread core itself, or the multi-thread leader).  It holds:
 *   - one notified reference per task in `pending`: tasks popped from run queues
 *     (add_queued) and idle tasks collected with the notified-for-tracing transition
 *     (collect_idle).  Every such reference is consumed exactly once: by
 *     asyncrt__task_run() inside a capture, or — past the deadline, or if a capture
 *     cannot start — by handing the task back to its scheduler (ops->schedule), so a
 *     task is never stranded with NOTIFIED set;
 *   - the deferred wakes of each capture (inside its trace), woken right after that
 *     capture, before the next task is traced.
 *
 * The owned-list walk only collects: it runs under a shard lock, so it must never
 * poll, free or unlink a task, nor take another lock that a poll could take.  The
 * trace polls happen afterwards, with no lock held, so a task that completes during
 * its trace poll is unlinked from the owned list normally, and a task that wakes
 * another during its trace poll just queues the wakee (a collected wakee is already
 * NOTIFIED, so the wake is a no-op; it is traced and then woken by its own leaf's
 * deferred wake).
 *
 * A record takes a reference to the task's label set: under the shard lock in the
 * owned-list walk (the lock asyncrt_task_set_label() swaps the set under), and
 * without it for a task drained from a queue (its notified reference is ours, so it
 * is not running, and only its running thread changes its labels).
 *
 * t->dump_data holds the sequence number of the run that holds the task's notified
 * reference, so the walk does not record a task drained from a queue a second time.
 * Written and read by serving threads only; runs of one runtime are serialised by
 * the request protocol (request.c), and a stale value never equals a new sequence.
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"

typedef struct
{
  AsyncrtTask *task;
  size_t rec;
} Pending;

struct _AsyncrtDumpRun
{
  AsyncrtHandle *h;
  AsyncrtDump *d;
  uint64_t deadline_ns;
  uintptr_t seq;
  GArray *pending;           /* Pending */
  int (*worker_of) (AsyncrtTask *t, void *data);
  void *worker_of_data;
};

static atomic_uintptr_t run_seq = 1;

AsyncrtDumpRun *
asyncrt__dump_run_new (AsyncrtHandle *h, unsigned n_workers, uint64_t deadline_ns)
{
  AsyncrtDumpRun *run = g_new0 (AsyncrtDumpRun, 1);
  run->h = h;
  run->d = asyncrt__dump_new (h->flavour, n_workers);
  run->deadline_ns = deadline_ns;
  run->seq = atomic_fetch_add_explicit (&run_seq, 1, memory_order_relaxed);
  run->pending = g_array_new (FALSE, FALSE, sizeof (Pending));
  return run;
}

static struct _AsyncrtDumpTask
record_of (AsyncrtTask *t, AsyncrtTaskState state)
{
  struct _AsyncrtDumpTask r = { 0 };
  r.id = t->id;
  r.parent_id = t->parent_id;
  r.state = state;
  r.worker = -1;
  r.name = g_strdup (t->name);
  r.spawn_file = t->spawn_file;
  r.spawn_func = t->spawn_func;
  r.spawn_line = t->spawn_line > 0 ? (unsigned) t->spawn_line : 0;
  r.poll_count = atomic_load_explicit (&t->poll_count, memory_order_relaxed);
  r.last_poll_ns = atomic_load_explicit (&t->last_poll_ns, memory_order_relaxed);
  r.group_id = t->group_id;
  r.labels = asyncrt__labels_ref (t->labels);
  return r;
}

static void
hold (AsyncrtDumpRun *run, AsyncrtTask *t, AsyncrtTaskState state)
{
  struct _AsyncrtDumpTask r = record_of (t, state);
  Pending p = { t, asyncrt__dump_add_task (run->d, &r) };
  atomic_store_explicit (&t->dump_data, run->seq, memory_order_relaxed);
  g_array_append_vals (run->pending, &p, 1);
}

void
asyncrt__dump_run_add_queued (AsyncrtDumpRun *run, AsyncrtTask *t)
{
  hold (run, t, ASYNCRT_TASK_STATE_SCHEDULED);
}

/* Under a shard lock: collect or record, never poll. */
static void
collect_one (AsyncrtTask *t, void *data)
{
  AsyncrtDumpRun *run = data;
  if (atomic_load_explicit (&t->dump_data, memory_order_relaxed) == run->seq)
    return;                                     /* drained from a queue: held already */
  if (asyncrt__task_transition_to_notified_for_tracing (t))
    {
      hold (run, t, ASYNCRT_TASK_STATE_IDLE);
      return;
    }
  uint64_t s = asyncrt__task_state (t);
  if (s & ASYNCRT_TASK_COMPLETE)
    return;
  struct _AsyncrtDumpTask r;
  if (s & ASYNCRT_TASK_RUNNING)
    {
      r = record_of (t, ASYNCRT_TASK_STATE_RUNNING);
      if (run->worker_of != NULL)
        r.worker = run->worker_of (t, run->worker_of_data);
    }
  else if (s & ASYNCRT_TASK_NOTIFIED)
    r = record_of (t, ASYNCRT_TASK_STATE_SCHEDULED);   /* on a queue we could not drain */
  else
    r = record_of (t, ASYNCRT_TASK_STATE_IDLE);        /* went idle after the CAS failed */
  asyncrt__dump_add_task (run->d, &r);
}

void
asyncrt__dump_run_collect_idle (AsyncrtDumpRun *run,
                                int (*worker_of) (AsyncrtTask *t, void *data), void *data)
{
  run->worker_of = worker_of;
  run->worker_of_data = data;
  asyncrt__owned_foreach (&run->h->owned, collect_one, run);
}

void
asyncrt__dump_run_add_missing_worker (AsyncrtDumpRun *run, unsigned index,
                                      AsyncrtTaskId task_id, uint64_t running_ns)
{
  asyncrt__dump_add_missing_worker (run->d, index, task_id, running_ns);
}

static void
trace_one (void *data)
{
  asyncrt__task_run (data);
}

void
asyncrt__dump_run_trace (AsyncrtDumpRun *run)
{
  AsyncrtHandle *h = run->h;
  bool late = false;
  for (size_t i = 0; i < run->pending->len; i++)
    {
      Pending *p = &g_array_index (run->pending, Pending, i);
      AsyncrtTask *t = p->task;
      p->task = NULL;
      /* Per task: one trace poll may take long (user code runs up to its leaf). */
      if (!late)
        late = asyncrt__clock_now_ns () >= run->deadline_ns;
      if (late)
        {
          /* Out of time: give the notified reference back to the scheduler (the task
           * gets a spurious poll, which every future tolerates); listed untraced. */
          h->ops->schedule (h, t, true);
          continue;
        }
      asyncrt__task_ref (t);                    /* to look at it after the run */
      AsyncrtTrace *tr = asyncrt__trace_capture_deferred (trace_one, t);
      if (tr == NULL)
        {
          /* A capture is already running on this thread: cannot trace here. */
          h->ops->schedule (h, t, true);
          asyncrt__task_unref (t);
          continue;
        }
      struct _AsyncrtDumpTask *rec = asyncrt__dump_task_at (run->d, p->rec);
      rec->trace = tr;
      if (asyncrt__task_state (t) & ASYNCRT_TASK_COMPLETE)
        rec->removed = true;                    /* finished during its trace poll */
      asyncrt__task_unref (t);
      /* Its capture is over: the leaves' wakes may happen now, so the task runs on
       * (on another worker) while the rest is traced — and is not held up if a later
       * trace poll blocks this thread.  It cannot be polled by this dump again: the
       * dump polls only the tasks it collected, each once. */
      asyncrt__trace_wake_deferred (tr);
    }
}

AsyncrtDump *
asyncrt__dump_run_finish (AsyncrtDumpRun *run)
{
  AsyncrtDump *d = run->d;
  for (size_t i = 0; i < run->pending->len; i++)
    g_assert (g_array_index (run->pending, Pending, i).task == NULL);
  g_array_free (run->pending, TRUE);
  g_free (run);
  asyncrt__dump_seal (d);
  return d;
}

/* ---- census ------------------------------------------------------------------------ */

typedef struct
{
  AsyncrtDump *d;
  AsyncrtTaskId running_id;
  uint64_t running_since;
} Census;

static void
census_one (AsyncrtTask *t, void *data)
{
  Census *c = data;
  uint64_t s = asyncrt__task_state (t);
  if (s & ASYNCRT_TASK_COMPLETE)
    return;
  AsyncrtTaskState st = (s & ASYNCRT_TASK_RUNNING) ? ASYNCRT_TASK_STATE_RUNNING
                        : (s & ASYNCRT_TASK_NOTIFIED) ? ASYNCRT_TASK_STATE_SCHEDULED
                        : ASYNCRT_TASK_STATE_IDLE;
  struct _AsyncrtDumpTask r = record_of (t, st);
  if (st == ASYNCRT_TASK_STATE_RUNNING && c->d->flavour == ASYNCRT_FLAVOUR_CURRENT_THREAD)
    {
      r.worker = 0;
      c->running_id = t->id;
      c->running_since = r.last_poll_ns;
    }
  asyncrt__dump_add_task (c->d, &r);
}

AsyncrtDump *
asyncrt__dump_census (AsyncrtHandle *h, unsigned n_workers)
{
  Census c = { asyncrt__dump_new (h->flavour, n_workers), 0, 0 };
  c.d->census = true;
  asyncrt__owned_foreach (&h->owned, census_one, &c);
  if (h->flavour == ASYNCRT_FLAVOUR_MULTI_THREAD)
    asyncrt__mt_dump_add_missing (h, NULL, c.d);
  else
    {
      uint64_t now = asyncrt__clock_now_ns ();
      asyncrt__dump_add_missing_worker (c.d, 0, c.running_id,
                                        c.running_id != 0 && now > c.running_since
                                        ? now - c.running_since : 0);
    }
  asyncrt__dump_seal (c.d);
  return c.d;
}
