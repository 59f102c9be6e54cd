/* libasyncrt - the AsyncrtDump object and its accessors (text.c and json.c format it)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads: a dump is built by one thread (collect.c) and sealed before it is handed
 * to the requester; afterwards it is immutable.  The only lazily written state is in
 * its traces (the per-frame symbol pointer, see trace-private.h), which is safe to
 * race on, so every accessor and formatter here may run on several threads at once.
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"
#include "util/util-private.h"

#include <stdlib.h>
#include <string.h>

AsyncrtDump *
asyncrt__dump_new (const char *flavour, unsigned n_workers)
{
  AsyncrtDump *d = g_new0 (AsyncrtDump, 1);
  d->tasks = g_array_new (FALSE, TRUE, sizeof (struct _AsyncrtDumpTask));
  d->missing = g_array_new (FALSE, TRUE, sizeof (AsyncrtDumpMissingWorker));
  d->flavour = flavour;
  d->n_workers = n_workers;
  d->complete = true;
  d->taken_ns = asyncrt__clock_now_ns ();
  d->blocking_jobs = g_array_new (FALSE, TRUE, sizeof (struct _AsyncrtDumpBlockingJob));
  d->native_stacks = ASYNCRT_NATIVE_STACK_NOT_SAMPLED;
  return d;
}

size_t
asyncrt__dump_add_task (AsyncrtDump *d, const struct _AsyncrtDumpTask *rec)
{
  g_array_append_vals (d->tasks, rec, 1);
  struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, d->tasks->len - 1);
  /* A record made with its trace already (synthetic dumps): an async one. */
  if (t->trace != NULL && t->trace_kind == ASYNCRT_TRACE_KIND_NONE)
    t->trace_kind = ASYNCRT_TRACE_KIND_ASYNC;
  return d->tasks->len - 1;
}

size_t
asyncrt__dump_add_missing_worker (AsyncrtDump *d, unsigned index, AsyncrtTaskId task_id,
                                  uint64_t running_ns)
{
  AsyncrtDumpMissingWorker w = { 0 };
  w.index = index;
  w.task_id = task_id;
  w.running_ns = running_ns;
  w.native = ASYNCRT_NATIVE_STACK_NOT_SAMPLED;
  w.sample = SIZE_MAX;
  g_array_append_vals (d->missing, &w, 1);
  return d->missing->len - 1;
}

static void
task_record_clear (const AsyncrtDump *d, struct _AsyncrtDumpTask *t)
{
  /* A traced run's async traces all live in its store (freed with it): not even
   * looked at here, one cache miss a task fewer. */
  if (t->trace != NULL && !(d->store != NULL && t->trace_kind == ASYNCRT_TRACE_KIND_ASYNC))
    asyncrt_trace_free (t->trace);
  g_free (t->name);
  asyncrt__labels_unref (t->labels);
  t->trace = NULL;
  t->name = NULL;
  t->labels = NULL;
}

typedef struct
{
  AsyncrtTaskId id;
  size_t index;
} IdIndex;

static int
cmp_id_index (const void *a, const void *b)
{
  const IdIndex *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

size_t *
asyncrt__dump_order_by_id (const AsyncrtTaskId *ids, size_t n)
{
  bool sorted = true;
  AsyncrtTaskId lo = n > 0 ? ids[0] : 0, hi = lo;
  for (size_t i = 1; i < n; i++)
    {
      sorted = sorted && ids[i - 1] < ids[i];
      lo = MIN (lo, ids[i]);
      hi = MAX (hi, ids[i]);
    }
  if (sorted)
    return NULL;
  size_t *from = g_new (size_t, n);
  if (hi - lo < 4 * (uint64_t) n)
    {
      /* Ids are unique: a slot per id in the range, then the occupied slots in order. */
      size_t range = (size_t) (hi - lo) + 1;
      size_t *slot = g_new (size_t, range);
      for (size_t r = 0; r < range; r++)
        slot[r] = SIZE_MAX;
      for (size_t i = 0; i < n; i++)
        slot[ids[i] - lo] = i;
      size_t k = 0;
      for (size_t r = 0; r < range; r++)
        if (slot[r] != SIZE_MAX)
          from[k++] = slot[r];
      g_assert (k == n);
      g_free (slot);
    }
  else
    {
      IdIndex *keys = g_new (IdIndex, n);
      for (size_t i = 0; i < n; i++)
        keys[i] = (IdIndex) { ids[i], i };
      qsort (keys, n, sizeof *keys, cmp_id_index);
      for (size_t i = 0; i < n; i++)
        from[i] = keys[i].index;
      g_free (keys);
    }
  return from;
}

/* By id.  Records are big: order their ids (asyncrt__dump_order_by_id), then move
 * each record once, in place, cycle by cycle (no second array of records to fault
 * in). */
static void
sort_tasks (AsyncrtDump *d)
{
  size_t n = d->tasks->len;
  AsyncrtTaskId *ids = g_new (AsyncrtTaskId, n + 1);
  for (size_t i = 0; i < n; i++)
    ids[i] = asyncrt__dump_task_at (d, i)->id;
  size_t *from = asyncrt__dump_order_by_id (ids, n);
  g_free (ids);
  if (from == NULL)
    return;
  /* Apply the permutation in place: each cycle moves through one spare record. */
  for (size_t start = 0; start < n; start++)
    {
      if (from[start] == start || from[start] == SIZE_MAX)
        continue;
      struct _AsyncrtDumpTask spare = *asyncrt__dump_task_at (d, start);
      size_t k = start;
      while (from[k] != start)
        {
          size_t src = from[k];
          *asyncrt__dump_task_at (d, k) = *asyncrt__dump_task_at (d, src);
          from[k] = SIZE_MAX;
          k = src;
        }
      *asyncrt__dump_task_at (d, k) = spare;
      from[k] = SIZE_MAX;
    }
  g_free (from);
}

static int
cmp_missing (const void *a, const void *b)
{
  const AsyncrtDumpMissingWorker *x = a, *y = b;
  return x->index < y->index ? -1 : x->index > y->index;
}

static int
cmp_job (const void *a, const void *b)
{
  const struct _AsyncrtDumpBlockingJob *x = a, *y = b;
  return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

/* A missing worker and the RUNNING record of the task it runs each tell what the other
 * may not know (which task; which worker, and for how long). */
static void
match_missing_workers (AsyncrtDump *d)
{
  for (size_t m = 0; m < d->missing->len; m++)
    {
      AsyncrtDumpMissingWorker *w = &g_array_index (d->missing, AsyncrtDumpMissingWorker, m);
      for (size_t i = 0; i < d->tasks->len; i++)
        {
          struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, i);
          if (t->state != ASYNCRT_TASK_STATE_RUNNING)
            continue;
          if (w->task_id == 0 && t->worker == (int) w->index)
            w->task_id = t->id;
          if (w->task_id != t->id)
            continue;
          t->worker = (int) w->index;
          if (w->running_ns == 0 && t->last_poll_ns != 0)
            w->running_ns = t->idle_ns;
          break;
        }
    }
}

bool
asyncrt__dump_fill_waited (const AsyncrtDump *d, struct _AsyncrtDumpTask *t)
{
  bool edge = false;
  for (size_t b = 0; b < t->trace->n_backtraces; b++)
    {
      AsyncrtWait *w = &t->trace->backtraces[b]->wait;
      if (w->since_ns != 0)
        w->waited_ns = d->taken_ns > w->since_ns ? d->taken_ns - w->since_ns : 1;
      else if (t->last_poll_ns != 0)
        w->waited_ns = t->idle_ns;
      edge = edge || asyncrt__wait_edge_target (w) != 0;
    }
  return edge && t->state == ASYNCRT_TASK_STATE_IDLE;
}

/* The last touches of a listed record: its untraced reason, idle time and waits. */
static void
seal_record (AsyncrtDump *d, struct _AsyncrtDumpTask *t, bool *complete, bool *edges)
{
  if (t->trace_kind != ASYNCRT_TRACE_KIND_ASYNC)
    {
      /* Untraced, perhaps with a native stack (a running task). */
      *complete = false;
      g_assert (t->no_trace != ASYNCRT_DUMP_NO_TRACE_NONE);
    }
  else
    t->no_trace = ASYNCRT_DUMP_NO_TRACE_NONE;
  if (t->last_poll_ns != 0)
    t->idle_ns = asyncrt__dump_idle_ns (d->taken_ns, t->last_poll_ns);
  /* A traced run filled its async traces' waits as it captured them. */
  if (t->trace != NULL && !(d->async_waits_filled && t->trace_kind == ASYNCRT_TRACE_KIND_ASYNC))
    *edges = asyncrt__dump_fill_waited (d, t) || *edges;
}

/* One pass over the records, in place: drops the removed ones, and computes
 * completeness, idle and wait times (but for what a traced run filled already),
 * whether any edge exists and whether the records are in id order (a traced run
 * writes them in order already: collect.c).  A traced run that finished its records
 * (d->unsealed) leaves only a few to this pass. */
void
asyncrt__dump_seal (AsyncrtDump *d)
{
  size_t w = 0;
  bool complete = d->missing->len == 0 && d->census == ASYNCRT_DUMP_NO_TRACE_NONE;
  bool sorted = true, edges = false;
  if (d->unsealed != NULL)
    {
      /* The run finished the others (see dump-private.h). */
      for (size_t k = 0; k < d->unsealed->len; k++)
        seal_record (d, asyncrt__dump_task_at (d, g_array_index (d->unsealed, size_t, k)),
                     &complete, &edges);
      complete = complete && d->n_untraced == 0;
      g_array_free (d->unsealed, TRUE);
      d->unsealed = NULL;
      w = d->tasks->len;
    }
  else
    {
      AsyncrtTaskId prev = 0;
      for (size_t i = 0; i < d->tasks->len; i++)
        {
          struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, i);
          if (t->removed)
            {
              task_record_clear (d, t);
              continue;
            }
          seal_record (d, t, &complete, &edges);
          sorted = sorted && (w == 0 || prev < t->id);
          prev = t->id;
          if (w != i)
            *asyncrt__dump_task_at (d, w) = *t;
          w++;
        }
    }
  g_array_set_size (d->tasks, w);
  if (!sorted)
    sort_tasks (d);
  if (d->missing->len > 1)
    qsort (d->missing->data, d->missing->len, sizeof (AsyncrtDumpMissingWorker), cmp_missing);
  match_missing_workers (d);
  for (size_t i = 0; i < d->blocking_jobs->len; i++)
    {
      struct _AsyncrtDumpBlockingJob *j = &g_array_index (d->blocking_jobs,
                                                          struct _AsyncrtDumpBlockingJob, i);
      j->running_ns = d->taken_ns > j->start_ns ? d->taken_ns - j->start_ns : 1;
    }
  if (d->blocking_jobs->len > 1)
    qsort (d->blocking_jobs->data, d->blocking_jobs->len,
           sizeof (struct _AsyncrtDumpBlockingJob), cmp_job);
  d->complete = complete;
  asyncrt__dump_graph_build (d, edges || d->async_edges);
}

/**
 * asyncrt_dump_free:
 * @d: (nullable): a dump
 *
 * Frees a dump and everything it owns (its tasks and their traces).  The library
 * keeps the largest of its arrays (up to 16 MiB each, three at most) for the next
 * dump of the process, whose pages are then mapped already; asyncrt_runtime_free()
 * frees them.
 *
 * Thread safety: any thread, once no other thread uses @d.
 *
 * Since: 0.1
 */
void
asyncrt_dump_free (AsyncrtDump *d)
{
  if (d == NULL)
    return;
  asyncrt__dump_graph_clear (d);
  for (size_t i = 0; i < d->tasks->len; i++)
    task_record_clear (d, asyncrt__dump_task_at (d, i));
  asyncrt__spare_give_array (ASYNCRT_SPARE_DUMP_RECORDS, d->tasks);   /* the next dump's */
  for (size_t i = 0; i < d->missing->len; i++)
    asyncrt_trace_free (asyncrt__dump_missing_at (d, i)->trace);
  g_array_free (d->missing, TRUE);
  for (size_t i = 0; i < d->blocking_jobs->len; i++)
    asyncrt_trace_free (g_array_index (d->blocking_jobs, struct _AsyncrtDumpBlockingJob, i).trace);
  g_array_free (d->blocking_jobs, TRUE);
  asyncrt__trace_store_free (d->store);
  if (d->unsealed != NULL)
    g_array_free (d->unsealed, TRUE);
  g_free (d->runtime_name);
  asyncrt_dump_options_free (d->options);
  g_free (d);
}

/**
 * asyncrt_dump_get_n_tasks:
 * @d: a dump
 *
 * Thread safety: any thread.
 *
 * Returns: the number of tasks in @d (0 for %NULL).
 * Since: 0.1
 */
size_t
asyncrt_dump_get_n_tasks (const AsyncrtDump *d)
{
  return d != NULL ? d->tasks->len : 0;
}

/**
 * asyncrt_dump_get_task:
 * @d: a dump
 * @i: an index below asyncrt_dump_get_n_tasks()
 *
 * Tasks are ordered by id (the order in which they were spawned).
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the @i-th task, owned by @d; %NULL if @d is
 *   %NULL or @i is out of range.
 * Since: 0.1
 */
const AsyncrtDumpTask *
asyncrt_dump_get_task (const AsyncrtDump *d, size_t i)
{
  if (d == NULL || i >= d->tasks->len)
    return NULL;
  return &g_array_index (d->tasks, struct _AsyncrtDumpTask, i);
}

/**
 * asyncrt_dump_find_task:
 * @d: a dump
 * @id: a task id
 *
 * Looks a task up by its id (e.g. from asyncrt_join_handle_get_id()).
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the task, owned by @d, or %NULL if @d does not
 *   list it (or is %NULL).
 * Since: 0.1
 */
const AsyncrtDumpTask *
asyncrt_dump_find_task (const AsyncrtDump *d, AsyncrtTaskId id)
{
  if (d == NULL)
    return NULL;
  size_t lo = 0, hi = d->tasks->len;
  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      const struct _AsyncrtDumpTask *t = &g_array_index (d->tasks, struct _AsyncrtDumpTask, mid);
      if (t->id == id)
        return t;
      if (t->id < id)
        lo = mid + 1;
      else
        hi = mid;
    }
  return NULL;
}

/**
 * asyncrt_dump_is_complete:
 * @d: a dump
 *
 * A dump is complete when every task it lists has a trace and every worker of the
 * runtime took part.  It is not when some task could not be traced (see
 * asyncrt_dump_task_get_no_trace_reason(): running, queued on a worker that did not
 * stop, woken by another thread while the dump was being taken, out of time), or
 * when the dump is a census (see the deadline rule in the section description).
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if every task could be traced; %FALSE otherwise or for %NULL.
 * Since: 0.1
 */
bool
asyncrt_dump_is_complete (const AsyncrtDump *d)
{
  return d != NULL && d->complete;
}

/**
 * asyncrt_dump_get_n_missing_workers:
 * @d: a dump
 *
 * The number of worker threads that did not stop for the dump by its deadline (a
 * current-thread runtime has one worker, its thread in `block_on`).
 *
 * Thread safety: any thread.
 *
 * Returns: the number of missing workers (0 for %NULL).
 * Since: 0.1
 */
size_t
asyncrt_dump_get_n_missing_workers (const AsyncrtDump *d)
{
  return d != NULL ? d->missing->len : 0;
}

/**
 * asyncrt_dump_get_missing_worker:
 * @d: a dump
 * @i: an index below asyncrt_dump_get_n_missing_workers()
 * @ret_index: (out) (optional): the worker's index, from 0
 * @ret_task_id: (out) (optional): the task it was running, or 0 if none was known
 * @ret_running_ns: (out) (optional): how long that task had been running, in
 *   nanoseconds (0 if none)
 *
 * Describes a worker that did not stop for the dump.  Outputs are written only on
 * success.
 *
 * Thread safety: any thread.
 *
 * Returns: 0, or `-EINVAL` if @d is %NULL or @i is out of range.
 * Since: 0.1
 */
int
asyncrt_dump_get_missing_worker (const AsyncrtDump *d, size_t i, unsigned *ret_index,
                                 AsyncrtTaskId *ret_task_id, uint64_t *ret_running_ns)
{
  if (d == NULL || i >= d->missing->len)
    return -EINVAL;
  const AsyncrtDumpMissingWorker *w = &g_array_index (d->missing, AsyncrtDumpMissingWorker, i);
  if (ret_index != NULL)
    *ret_index = w->index;
  if (ret_task_id != NULL)
    *ret_task_id = w->task_id;
  if (ret_running_ns != NULL)
    *ret_running_ns = w->running_ns;
  return 0;
}

/**
 * asyncrt_dump_task_get_id:
 * @t: a task of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: the task's id (0 for %NULL).
 * Since: 0.1
 */
AsyncrtTaskId
asyncrt_dump_task_get_id (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->id : 0;
}

/**
 * asyncrt_dump_task_get_state:
 * @t: a task of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: the task's state when the dump was taken (%ASYNCRT_TASK_STATE_IDLE for
 *   %NULL).
 * Since: 0.1
 */
AsyncrtTaskState
asyncrt_dump_task_get_state (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->state : ASYNCRT_TASK_STATE_IDLE;
}

/**
 * asyncrt_dump_task_get_trace:
 * @t: a task of a dump
 *
 * The task's async call stacks: one backtrace per leaf future its trace poll
 * reached.  A task that could not be traced has none, and
 * asyncrt_dump_task_get_no_trace_reason() says why; a traced task whose poll reached
 * no leaf future has a trace with no backtraces.  A task that was running has,
 * instead, the native stack of its thread if it could be sampled
 * (asyncrt_dump_task_get_trace_kind() tells which).
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the trace, owned by the dump, or %NULL if the
 *   task has neither an async trace nor a native stack.
 * Since: 0.1
 */
const AsyncrtTrace *
asyncrt_dump_task_get_trace (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->trace : NULL;
}

/**
 * asyncrt_dump_task_get_no_trace_reason:
 * @t: a task of a dump
 *
 * Why the task has no async trace: it was running (it may have a native stack
 * instead, see asyncrt_dump_task_get_trace_kind()), queued where the dump could not
 * take it, or the dump was a census (runtime not running, deadline passed, timeout
 * 0).  The text form prints the same as
 * `(not traced: …)` below the task's header, the JSON form as the task's
 * `"no_trace"` member.
 *
 * Thread safety: any thread.
 *
 * Returns: the reason; %ASYNCRT_DUMP_NO_TRACE_NONE if the task was traced or @t is
 *   %NULL.
 * Since: 0.2
 */
AsyncrtDumpNoTraceReason
asyncrt_dump_task_get_no_trace_reason (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->no_trace : ASYNCRT_DUMP_NO_TRACE_NONE;
}

/**
 * asyncrt_dump_task_get_name:
 * @t: a task of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: (nullable): the name given at spawn, or %NULL.
 * Since: 0.1
 */
const char *
asyncrt_dump_task_get_name (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->name : NULL;
}

/**
 * asyncrt_dump_task_get_spawn_file:
 * @t: a task of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: (nullable): the source file of the spawn site, or %NULL if unknown.
 * Since: 0.1
 */
const char *
asyncrt_dump_task_get_spawn_file (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->spawn_file : NULL;
}

/**
 * asyncrt_dump_task_get_spawn_line:
 * @t: a task of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: the line of the spawn site, 0 if unknown.
 * Since: 0.1
 */
unsigned
asyncrt_dump_task_get_spawn_line (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->spawn_line : 0;
}

/**
 * asyncrt_dump_task_get_spawn_func:
 * @t: a task of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: (nullable): the function that spawned the task, or %NULL if unknown.
 * Since: 0.1
 */
const char *
asyncrt_dump_task_get_spawn_func (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->spawn_func : NULL;
}

/**
 * asyncrt_dump_task_get_parent_id:
 * @t: a task of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: the id of the task that spawned this one, 0 if it was spawned from
 *   outside a task (or for %NULL).
 * Since: 0.1
 */
AsyncrtTaskId
asyncrt_dump_task_get_parent_id (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->parent_id : 0;
}

/**
 * asyncrt_dump_task_get_poll_count:
 * @t: a task of a dump
 *
 * How many times the task had been polled, not counting the dump's own trace polls,
 * so two dumps tell a stuck task from one that makes progress.
 *
 * Thread safety: any thread.
 *
 * Returns: the number of polls.
 * Since: 0.1
 */
uint64_t
asyncrt_dump_task_get_poll_count (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->poll_count : 0;
}

/**
 * asyncrt_dump_task_get_idle_ns:
 * @t: a task of a dump
 *
 * The time from the start of the task's last poll to the moment the dump was taken:
 * for an idle task, how long it has been waiting; for a running one, how long its
 * current poll has been running.
 *
 * Thread safety: any thread.
 *
 * Returns: nanoseconds, or 0 if the task had never been polled.
 * Since: 0.1
 */
uint64_t
asyncrt_dump_task_get_idle_ns (const AsyncrtDumpTask *t)
{
  if (t == NULL || t->last_poll_ns == 0)
    return 0;
  return t->idle_ns;
}

/**
 * asyncrt_dump_task_get_worker:
 * @t: a task of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: the index of the worker a %ASYNCRT_TASK_STATE_RUNNING task was running
 *   on, or of the worker whose queue held a task not traced for
 *   %ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER; -1 otherwise (or unknown, or
 *   %NULL).  A current-thread runtime's thread in `block_on` is worker 0.
 * Since: 0.1
 */
int
asyncrt_dump_task_get_worker (const AsyncrtDumpTask *t)
{
  if (t == NULL)
    return -1;
  if (t->state == ASYNCRT_TASK_STATE_RUNNING
      || t->no_trace == ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER)
    return t->worker;
  return -1;
}

/**
 * asyncrt_dump_task_get_group_id:
 * @t: a task of a dump
 *
 * The group of a task spawned into an #AsyncrtJoinSet: the set's id (see
 * asyncrt_join_set_get_id()).  It stays the task's group after the set is freed.
 *
 * Thread safety: any thread.
 *
 * Returns: the join set's id, or 0 if the task is not a member of one (or for %NULL).
 * Since: 0.2
 */
uint64_t
asyncrt_dump_task_get_group_id (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->group_id : 0;
}

/**
 * asyncrt_dump_task_get_n_labels:
 * @t: a task of a dump
 *
 * The number of labels the task had when the dump was taken (see
 * asyncrt_task_set_label()).
 *
 * Thread safety: any thread.
 *
 * Returns: the number of labels (0 for %NULL).
 * Since: 0.2
 */
size_t
asyncrt_dump_task_get_n_labels (const AsyncrtDumpTask *t)
{
  return t != NULL && t->labels != NULL ? t->labels->n : 0;
}

/**
 * asyncrt_dump_task_get_label:
 * @t: a task of a dump
 * @i: an index below asyncrt_dump_task_get_n_labels()
 * @ret_key: (out) (optional) (transfer none): the label's key, owned by the dump
 * @ret_value: (out) (optional) (transfer none): its value, owned by the dump, exactly
 *   as the task set it (not escaped)
 *
 * Reads the @i-th label of a task, in the order the task (or the task it inherited
 * them from) first set them.  Outputs are written only on success.
 *
 * Thread safety: any thread.
 *
 * Returns: 0, or -EINVAL if @t is %NULL or @i is out of range.
 * Since: 0.2
 */
int
asyncrt_dump_task_get_label (const AsyncrtDumpTask *t, size_t i, const char **ret_key,
                             const char **ret_value)
{
  if (t == NULL || t->labels == NULL || i >= t->labels->n)
    return -EINVAL;
  if (ret_key != NULL)
    *ret_key = t->labels->items[i].key;
  if (ret_value != NULL)
    *ret_value = t->labels->items[i].value;
  return 0;
}

/**
 * asyncrt_dump_task_lookup_label:
 * @t: a task of a dump
 * @key: a label key
 *
 * Thread safety: any thread.
 *
 * Returns: (nullable) (transfer none): the value of the task's label @key, owned by
 *   the dump; %NULL if it has none (or for a %NULL argument).
 * Since: 0.2
 */
const char *
asyncrt_dump_task_lookup_label (const AsyncrtDumpTask *t, const char *key)
{
  if (t == NULL || key == NULL || t->labels == NULL)
    return NULL;
  for (unsigned i = 0; i < t->labels->n; i++)
    if (strcmp (t->labels->items[i].key, key) == 0)
      return t->labels->items[i].value;
  return NULL;
}

/**
 * asyncrt_dump_task_get_n_waits:
 * @t: a task of a dump
 *
 * The number of waits of the task: one per leaf future its trace poll reached (the
 * same as asyncrt_trace_get_n_backtraces() of its trace), each telling what that
 * leaf waits on.
 *
 * Thread safety: any thread.
 *
 * Returns: the number of waits; 0 for a task without an async trace (none, or a
 *   running task's native stack) or for %NULL.
 * Since: 0.2
 */
size_t
asyncrt_dump_task_get_n_waits (const AsyncrtDumpTask *t)
{
  return t != NULL && t->trace != NULL && t->trace_kind != ASYNCRT_TRACE_KIND_NATIVE
         ? t->trace->n_backtraces : 0;
}

/**
 * asyncrt_dump_task_get_wait:
 * @t: a task of a dump
 * @i: an index below asyncrt_dump_task_get_n_waits()
 *
 * What the @i-th leaf of the task waits on: its kind, object, the object's name,
 * the holder, how long the task has waited, the facts of its kind (see the wait
 * section).  Wait @i goes with backtrace @i of the task's trace.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the wait, owned by the dump; %NULL if @i is
 *   out of range or @t is %NULL.
 * Since: 0.2
 */
const AsyncrtWait *
asyncrt_dump_task_get_wait (const AsyncrtDumpTask *t, size_t i)
{
  if (i >= asyncrt_dump_task_get_n_waits (t))
    return NULL;
  return &t->trace->backtraces[i]->wait;
}

/**
 * asyncrt_dump_task_get_n_blocked:
 * @t: a task of a dump
 *
 * How many tasks of the dump wait on this one, directly or through others: tasks
 * waiting for a mutex it holds, for permits it holds, for it to finish (a join),
 * and every task waiting on those, and so on (the chains of the wait-for graph).
 * Only certain holders count (see asyncrt_wait_get_holder_id()), and only traced
 * idle tasks wait.
 *
 * Thread safety: any thread.
 *
 * Returns: the number of tasks it blocks (0 for %NULL).
 * Since: 0.2
 */
size_t
asyncrt_dump_task_get_n_blocked (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->n_blocked : 0;
}

/**
 * asyncrt_dump_get_n_deadlocks:
 * @d: a dump
 *
 * The number of deadlocks the dump found: cycles of tasks each waiting on the next
 * through a certain holder (a mutex's holder, a semaphore's only holder, a joined
 * task), every one of them idle and waiting on nothing else.  A holder that is
 * running, queued, or waiting on anything outside the cycle (a timer, a socket, a
 * channel) may still make progress, so no cycle through it is reported.
 *
 * Thread safety: any thread.
 *
 * Returns: the number of deadlocks (0 for %NULL).
 * Since: 0.2
 */
size_t
asyncrt_dump_get_n_deadlocks (const AsyncrtDump *d)
{
  return d != NULL && d->deadlocks != NULL ? d->deadlocks->len : 0;
}

/**
 * asyncrt_dump_get_deadlock:
 * @d: a dump
 * @i: an index below asyncrt_dump_get_n_deadlocks()
 * @ret_ids: (out) (optional) (transfer none) (array length=return): the ids of the
 *   tasks in the cycle, ascending, each once; owned by the dump
 *
 * Reads the @i-th deadlock: exactly the tasks of the cycle (a strongly connected
 * set of tasks waiting on each other; tasks that only wait on it are not part of
 * it, see asyncrt_dump_task_get_n_blocked()).  Deadlocks are ordered by their
 * smallest task id.  @ret_ids is written only on success.
 *
 * Thread safety: any thread.
 *
 * Returns: the number of tasks in the cycle (1 for a task waiting on itself, say a
 *   mutex it holds); 0 if @d is %NULL or @i is out of range.
 * Since: 0.2
 */
size_t
asyncrt_dump_get_deadlock (const AsyncrtDump *d, size_t i, const AsyncrtTaskId **ret_ids)
{
  if (d == NULL || d->deadlocks == NULL || i >= d->deadlocks->len)
    return 0;
  const AsyncrtDumpDeadlock *dl = &g_array_index (d->deadlocks, AsyncrtDumpDeadlock, i);
  if (ret_ids != NULL)
    *ret_ids = (const AsyncrtTaskId *) (const void *) dl->ids->data;
  return dl->ids->len;
}
