/* libasyncrt - the AsyncrtDump object: accessors, text and JSON forms
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads: a dump is built by one thread (collect.c) and sealed before it is handed
 * to the requester; afterwards it is immutable.  The only lazily written state is in
 * its traces (the per-frame symbol pointer, see trace-private.h), which is safe to
 * race on, so every accessor and formatter here may run on several threads at once.
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"

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
  return d;
}

size_t
asyncrt__dump_add_task (AsyncrtDump *d, const struct _AsyncrtDumpTask *rec)
{
  g_array_append_vals (d->tasks, rec, 1);
  return d->tasks->len - 1;
}

void
asyncrt__dump_add_missing_worker (AsyncrtDump *d, unsigned index, AsyncrtTaskId task_id,
                                  uint64_t running_ns)
{
  AsyncrtDumpMissingWorker w = { index, task_id, running_ns };
  g_array_append_vals (d->missing, &w, 1);
}

static void
task_record_clear (struct _AsyncrtDumpTask *t)
{
  if (t->trace != NULL)
    asyncrt_trace_free (t->trace);
  g_free (t->name);
  asyncrt__labels_unref (t->labels);
  t->trace = NULL;
  t->name = NULL;
  t->labels = NULL;
}

static int
cmp_task (const void *a, const void *b)
{
  const struct _AsyncrtDumpTask *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

static int
cmp_missing (const void *a, const void *b)
{
  const AsyncrtDumpMissingWorker *x = a, *y = b;
  return x->index < y->index ? -1 : x->index > y->index;
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

void
asyncrt__dump_seal (AsyncrtDump *d)
{
  size_t w = 0;
  bool complete = d->missing->len == 0 && d->census == ASYNCRT_DUMP_NO_TRACE_NONE;
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, i);
      if (t->removed)
        {
          task_record_clear (t);
          continue;
        }
      if (t->trace == NULL)
        {
          complete = false;
          g_assert (t->no_trace != ASYNCRT_DUMP_NO_TRACE_NONE);
        }
      else
        t->no_trace = ASYNCRT_DUMP_NO_TRACE_NONE;
      if (t->last_poll_ns != 0)
        t->idle_ns = d->taken_ns > t->last_poll_ns ? d->taken_ns - t->last_poll_ns : 1;
      if (w != i)
        *asyncrt__dump_task_at (d, w) = *t;
      w++;
    }
  g_array_set_size (d->tasks, w);
  if (d->tasks->len > 1)
    qsort (d->tasks->data, d->tasks->len, sizeof (struct _AsyncrtDumpTask), cmp_task);
  if (d->missing->len > 1)
    qsort (d->missing->data, d->missing->len, sizeof (AsyncrtDumpMissingWorker), cmp_missing);
  match_missing_workers (d);
  d->complete = complete;
}

/**
 * asyncrt_dump_free:
 * @d: (nullable): a dump
 *
 * Frees a dump and everything it owns (its tasks and their traces).
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
  for (size_t i = 0; i < d->tasks->len; i++)
    task_record_clear (asyncrt__dump_task_at (d, i));
  g_array_free (d->tasks, TRUE);
  g_array_free (d->missing, TRUE);
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
 * no leaf future has a trace with no backtraces.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the trace, owned by the dump, or %NULL if the
 *   task could not be traced.
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
 * Why the task has no trace (asyncrt_dump_task_get_trace() is %NULL): it was
 * running, queued where the dump could not take it, or the dump was a census (runtime
 * not running, deadline passed, timeout 0).  The text form prints the same as
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

/* ---- text ------------------------------------------------------------------------- */

/* Tasks suspended at the same place have the same instruction pointers, hence the
 * same tree (symbols are cached per IP): format each distinct trace once per call
 * (thousands of tasks waiting in the same accept loop cost one tree).  The key is the
 * trace's IPs, backtrace by backtrace. */
typedef void (*FormatTraceFunc) (const AsyncrtTrace *tr, GString *out);

static GBytes *
trace_key (const AsyncrtTrace *tr)
{
  GByteArray *key = g_byte_array_new ();
  size_t nb = asyncrt_trace_get_n_backtraces (tr);
  for (size_t i = 0; i < nb; i++)
    {
      const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (tr, i);
      uintptr_t n = bt->n_frames;
      g_byte_array_append (key, (const guint8 *) &n, sizeof n);
      for (size_t j = 0; j < bt->n_frames; j++)
        {
          g_byte_array_append (key, (const guint8 *) &bt->frames[j].ip, sizeof (uintptr_t));
          /* Synthetic traces carry their own resolutions: an IP alone says nothing. */
          if (tr->owned_infos != NULL)
            {
              uintptr_t info = (uintptr_t) asyncrt__trace_frame_info (&bt->frames[j]);
              g_byte_array_append (key, (const guint8 *) &info, sizeof info);
            }
        }
    }
  return g_byte_array_free_to_bytes (key);
}

static void
append_trace_cached (GHashTable *cache, const AsyncrtTrace *tr, FormatTraceFunc format,
                     GString *out)
{
  GBytes *key = trace_key (tr);
  const char *text = g_hash_table_lookup (cache, key);
  if (text == NULL)
    {
      GString *s = g_string_new (NULL);
      format (tr, s);
      text = s->str;
      g_hash_table_insert (cache, key, g_string_free (s, FALSE));
    }
  else
    g_bytes_unref (key);
  g_string_append (out, text);
}

static GHashTable *
trace_cache_new (void)
{
  return g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                (GDestroyNotify) g_bytes_unref, g_free);
}

static void
format_tree_text (const AsyncrtTrace *tr, GString *out)
{
  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  asyncrt__trace_tree_add_trace (tree, tr);
  asyncrt__trace_tree_append_text (tree, out, "  ");
  asyncrt__trace_tree_free (tree);
}

static void
format_trace_json (const AsyncrtTrace *tr, GString *out)
{
  g_string_append (out, "{\"backtraces\":");
  asyncrt__trace_append_backtraces_json (tr, out);
  g_string_append (out, ",\"tree\":");
  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  asyncrt__trace_tree_add_trace (tree, tr);
  asyncrt__trace_tree_append_json (tree, out);
  asyncrt__trace_tree_free (tree);
  g_string_append_c (out, '}');
}

static const char *
state_name (AsyncrtTaskState s)
{
  switch (s)
    {
    case ASYNCRT_TASK_STATE_SCHEDULED:
      return "scheduled";
    case ASYNCRT_TASK_STATE_RUNNING:
      return "running";
    case ASYNCRT_TASK_STATE_IDLE:
    default:
      return "idle";
    }
}

/* The JSON names of the reasons (text: no_trace_phrase). */
static const char *
no_trace_name (AsyncrtDumpNoTraceReason r)
{
  switch (r)
    {
    case ASYNCRT_DUMP_NO_TRACE_RUNNING: return "running";
    case ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER: return "queued_on_missing_worker";
    case ASYNCRT_DUMP_NO_TRACE_WOKEN_DURING_DUMP: return "woken_during_dump";
    case ASYNCRT_DUMP_NO_TRACE_CANCELLED: return "cancelled";
    case ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING: return "runtime_not_running";
    case ASYNCRT_DUMP_NO_TRACE_DEADLINE: return "deadline";
    case ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO: return "timeout_zero";
    case ASYNCRT_DUMP_NO_TRACE_NONE:
    default: return NULL;
    }
}

static void
append_no_trace_phrase (GString *out, const struct _AsyncrtDumpTask *t)
{
  switch (t->no_trace)
    {
    case ASYNCRT_DUMP_NO_TRACE_RUNNING:
      if (t->worker >= 0)
        g_string_append_printf (out, "running on worker %d", t->worker);
      else
        g_string_append (out, "running");
      break;
    case ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER:
      if (t->worker >= 0)
        g_string_append_printf (out, "queued on worker %d, which did not stop", t->worker);
      else
        g_string_append (out, "queued on a worker that did not stop");
      break;
    case ASYNCRT_DUMP_NO_TRACE_WOKEN_DURING_DUMP:
      g_string_append (out, "woken while the dump was being taken");
      break;
    case ASYNCRT_DUMP_NO_TRACE_CANCELLED:
      g_string_append (out, "aborted, its cancellation is queued");
      break;
    case ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING:
      g_string_append (out, "runtime not running");
      break;
    case ASYNCRT_DUMP_NO_TRACE_DEADLINE:
      g_string_append (out, "deadline passed");
      break;
    case ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO:
      g_string_append (out, "dump taken with timeout 0");
      break;
    case ASYNCRT_DUMP_NO_TRACE_NONE:
    default:
      g_string_append (out, "unknown");
      break;
    }
}

static const char *
census_phrase (AsyncrtDumpNoTraceReason r)
{
  switch (r)
    {
    case ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING:
      return "runtime not running (no thread in block_on)";
    case ASYNCRT_DUMP_NO_TRACE_DEADLINE:
      return "deadline passed before the runtime took the dump up";
    case ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO:
      return "dump taken with timeout 0";
    default:
      return "nothing traced";
    }
}

static void
append_duration (GString *out, uint64_t ns)
{
  if (ns >= 1000000000u)
    g_string_append_printf (out, "%.3f s", (double) ns / 1e9);
  else if (ns >= 1000000u)
    g_string_append_printf (out, "%.3f ms", (double) ns / 1e6);
  else
    g_string_append_printf (out, "%.3f us", (double) ns / 1e3);
}

/* Labels (values may come from the network) on one line of their own, each value
 * quoted and escaped like every program-supplied string. */
static void
append_labels_text (GString *out, const struct _AsyncrtDumpTask *t)
{
  if (t->labels == NULL)
    return;
  g_string_append (out, "  labels:");
  for (unsigned i = 0; i < t->labels->n; i++)
    {
      g_string_append (out, i > 0 ? ", " : " ");
      asyncrt__text_append_escaped (out, t->labels->items[i].key, false);
      g_string_append (out, "=\"");
      asyncrt__text_append_escaped (out, t->labels->items[i].value, true);
      g_string_append_c (out, '"');
    }
  g_string_append_c (out, '\n');
}

/* One line, whatever the strings hold: every program-supplied one is escaped. */
static void
append_task_header (GString *out, const struct _AsyncrtDumpTask *t)
{
  g_string_append_printf (out, "task %" G_GUINT64_FORMAT " %s", t->id, state_name (t->state));
  if (t->state == ASYNCRT_TASK_STATE_RUNNING && t->worker >= 0)
    g_string_append_printf (out, " on worker %d", t->worker);
  if (t->name != NULL)
    {
      g_string_append (out, ", name \"");
      asyncrt__text_append_escaped (out, t->name, true);
      g_string_append_c (out, '"');
    }
  if (t->spawn_file != NULL)
    {
      g_string_append (out, ", spawned at ");
      asyncrt__text_append_escaped (out, t->spawn_file, false);
      g_string_append_printf (out, ":%u", t->spawn_line);
      if (t->spawn_func != NULL)
        {
          g_string_append (out, " (");
          asyncrt__text_append_escaped (out, t->spawn_func, false);
          g_string_append_c (out, ')');
        }
    }
  if (t->parent_id != 0)
    g_string_append_printf (out, ", parent %" G_GUINT64_FORMAT, t->parent_id);
  if (t->group_id != 0)
    g_string_append_printf (out, ", group %" G_GUINT64_FORMAT, t->group_id);
  if (t->last_poll_ns != 0)
    {
      g_string_append (out, t->state == ASYNCRT_TASK_STATE_RUNNING ? ", running " : ", idle ");
      append_duration (out, t->idle_ns);
    }
  else
    g_string_append (out, ", never polled");
  g_string_append_printf (out, ", %" G_GUINT64_FORMAT " poll%s\n", t->poll_count,
                          t->poll_count == 1 ? "" : "s");
}

/**
 * asyncrt_dump_to_string:
 * @d: a dump
 *
 * Formats the dump as text: a line naming the process (`process PID (PROGRAM), taken
 * at 2025-01-31T12:34:56.789Z, libasyncrt 0.2.0`, the time in UTC), a summary line,
 * then for every task a header line (id, state, name, spawn site, parent, join set
 * group, time since its last poll, number of polls), a line with its labels if it
 * has any (`  labels: key="value", ...`, values quoted with control characters,
 * quotes and backslashes escaped as in C and invalid UTF-8 shown as U+FFFD),
 * followed by its async call stacks as a tree (root side first, indented by two
 * spaces), or a `(not traced: …)` line saying why it has none; then the missing
 * workers.  Every string the program supplied is escaped (see the section
 * description): each task is exactly one header line.  Symbols are
 * resolved on first use and cached, so formatting a second time resolves nothing.
 *
 * Thread safety: any thread; several threads may format the same dump at once.
 *
 * Returns: (transfer full) (nullable): a string to free() with free(), or %NULL if
 *   @d is %NULL.
 * Since: 0.1
 */
char *
asyncrt_dump_to_string (AsyncrtDump *d)
{
  if (d == NULL)
    return NULL;
  GString *out = g_string_sized_new (256 + 160 * d->tasks->len);
  GHashTable *cache = trace_cache_new ();
  asyncrt__dump_append_header (out, d, false);
  g_string_append_printf (out, "task dump of a %s runtime: %u task%s, %s",
                          d->flavour, d->tasks->len, d->tasks->len == 1 ? "" : "s",
                          d->complete ? "complete" : "incomplete");
  if (d->census != ASYNCRT_DUMP_NO_TRACE_NONE)
    g_string_append_printf (out, " (census: %s)", census_phrase (d->census));
  g_string_append_c (out, '\n');
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      const struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, i);
      append_task_header (out, t);
      append_labels_text (out, t);
      if (t->trace == NULL)
        {
          g_string_append (out, "  (not traced: ");
          append_no_trace_phrase (out, t);
          g_string_append (out, ")\n");
          continue;
        }
      if (asyncrt_trace_get_n_backtraces (t->trace) == 0)
        {
          g_string_append (out, "  (no leaf future reached)\n");
          continue;
        }
      append_trace_cached (cache, t->trace, format_tree_text, out);
    }
  for (size_t i = 0; i < d->missing->len; i++)
    {
      const AsyncrtDumpMissingWorker *w = &g_array_index (d->missing, AsyncrtDumpMissingWorker, i);
      g_string_append_printf (out, "worker %u did not stop", w->index);
      if (w->task_id != 0)
        {
          g_string_append_printf (out, ": task %" G_GUINT64_FORMAT " running for ", w->task_id);
          append_duration (out, w->running_ns);
        }
      g_string_append_c (out, '\n');
    }
  /* GLib and libc share malloc on the platforms we support; hand out malloc memory
   * explicitly so free() is always right. */
  g_hash_table_unref (cache);
  char *s = strdup (out->str);
  g_string_free (out, TRUE);
  return s;
}

/* ---- JSON ------------------------------------------------------------------------- */

/**
 * asyncrt_dump_to_json:
 * @d: a dump
 *
 * Formats the dump as one JSON object, schema version 1:
 *
 * |[<!-- language="plain" -->
 * {
 *   "version": 1,
 *   "pid": <process id>, "program": <program name>,
 *   "taken_at": <UTC time, "2025-01-31T12:34:56.789Z">,
 *   "library_version": "0.2.0",
 *   "flavour": "current_thread" | "multi_thread",
 *   "workers": <number of workers>,
 *   "complete": <bool>,
 *   "census": <bool>,
 *   "census_reason": null | "runtime_not_running" | "deadline" | "timeout_zero",
 *   "missing_workers": [ { "index": <n>, "task_id": <id or null>,
 *                          "running_ns": <n> }, ... ],
 *   "tasks": [
 *     { "id": <n>, "state": "idle" | "scheduled" | "running",
 *       "worker": <index or null>, "name": <string or null>,
 *       "spawn": { "file": <string or null>, "line": <n>, "function": <string or null> },
 *       "parent_id": <id or null>, "poll_count": <n>,
 *       "idle_ns": <n or null (never polled)>,
 *       "group_id": <join set id or null>,
 *       "labels": { <key>: <value string>, ... },
 *       "no_trace": null | "running" | "queued_on_missing_worker" | "woken_during_dump"
 *                   | "cancelled" | "runtime_not_running" | "deadline" | "timeout_zero",
 *       "trace": null | { "backtraces": [...], "tree": [...] } },
 *     ...
 *   ]
 * }
 * ]|
 *
 * `trace.backtraces` and `trace.tree` are exactly as in asyncrt_trace_to_json()
 * (see the trace section).  "no_trace" is #AsyncrtDumpNoTraceReason (null for a
 * traced task), "census_reason" the reason shared by every task of a census;
 * "group_id" and "labels" are those of asyncrt_dump_task_get_group_id() and
 * asyncrt_task_set_label() (all since 0.2).  "worker" is set for running tasks and
 * for tasks queued on a worker that did not stop.  Task ids are JSON numbers; they
 * stay below 2^53 in any real program.  Strings are escaped as JSON requires;
 * invalid UTF-8 becomes U+FFFD.  New members may be added without changing the
 * version; a change of meaning increments it.
 *
 * Thread safety: any thread; several threads may format the same dump at once.
 *
 * Returns: (transfer full) (nullable): a string to free() with free(), or %NULL if
 *   @d is %NULL.
 * Since: 0.1
 */
char *
asyncrt_dump_to_json (AsyncrtDump *d)
{
  if (d == NULL)
    return NULL;
  GString *out = g_string_sized_new (256 + 256 * d->tasks->len);
  GHashTable *cache = trace_cache_new ();
  const char *census = no_trace_name (d->census);
  g_string_append_printf (out, "{\"version\":%d,", ASYNCRT_DUMP_JSON_VERSION);
  asyncrt__dump_append_header (out, d, true);
  g_string_append_printf (out,
                          "\"flavour\":\"%s\",\"workers\":%u,"
                          "\"complete\":%s,\"census\":%s,\"census_reason\":%s%s%s,"
                          "\"missing_workers\":[",
                          d->flavour, d->n_workers,
                          d->complete ? "true" : "false", census != NULL ? "true" : "false",
                          census != NULL ? "\"" : "", census != NULL ? census : "null",
                          census != NULL ? "\"" : "");
  for (size_t i = 0; i < d->missing->len; i++)
    {
      const AsyncrtDumpMissingWorker *w = &g_array_index (d->missing, AsyncrtDumpMissingWorker, i);
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append_printf (out, "{\"index\":%u,\"task_id\":", w->index);
      if (w->task_id != 0)
        g_string_append_printf (out, "%" G_GUINT64_FORMAT, w->task_id);
      else
        g_string_append (out, "null");
      g_string_append_printf (out, ",\"running_ns\":%" G_GUINT64_FORMAT "}", w->running_ns);
    }
  g_string_append (out, "],\"tasks\":[");
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      const struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, i);
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append_printf (out, "{\"id\":%" G_GUINT64_FORMAT ",\"state\":\"%s\",\"worker\":",
                              t->id, state_name (t->state));
      int worker = asyncrt_dump_task_get_worker (t);
      if (worker >= 0)
        g_string_append_printf (out, "%d", worker);
      else
        g_string_append (out, "null");
      g_string_append (out, ",\"name\":");
      asyncrt__json_append_string (out, t->name);
      g_string_append (out, ",\"spawn\":{\"file\":");
      asyncrt__json_append_string (out, t->spawn_file);
      g_string_append_printf (out, ",\"line\":%u,\"function\":", t->spawn_line);
      asyncrt__json_append_string (out, t->spawn_func);
      g_string_append (out, "},\"parent_id\":");
      if (t->parent_id != 0)
        g_string_append_printf (out, "%" G_GUINT64_FORMAT, t->parent_id);
      else
        g_string_append (out, "null");
      g_string_append_printf (out, ",\"poll_count\":%" G_GUINT64_FORMAT ",\"idle_ns\":",
                              t->poll_count);
      if (t->last_poll_ns != 0)
        g_string_append_printf (out, "%" G_GUINT64_FORMAT, t->idle_ns);
      else
        g_string_append (out, "null");
      const char *why = no_trace_name (t->no_trace);
      if (why != NULL)
        g_string_append_printf (out, ",\"no_trace\":\"%s\"", why);
      else
        g_string_append (out, ",\"no_trace\":null");
      g_string_append (out, ",\"group_id\":");
      if (t->group_id != 0)
        g_string_append_printf (out, "%" G_GUINT64_FORMAT, t->group_id);
      else
        g_string_append (out, "null");
      g_string_append (out, ",\"labels\":{");
      for (unsigned k = 0; t->labels != NULL && k < t->labels->n; k++)
        {
          if (k > 0)
            g_string_append_c (out, ',');
          asyncrt__json_append_string (out, t->labels->items[k].key);
          g_string_append_c (out, ':');
          asyncrt__json_append_string (out, t->labels->items[k].value);
        }
      g_string_append (out, "},\"trace\":");
      if (t->trace == NULL)
        g_string_append (out, "null");
      else
        append_trace_cached (cache, t->trace, format_trace_json, out);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "]}");
  g_hash_table_unref (cache);
  char *s = strdup (out->str);
  g_string_free (out, TRUE);
  return s;
}
