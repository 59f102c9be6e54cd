/* libasyncrt - progress between two dumps of one runtime
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership: an AsyncrtDumpProgress is built by one thread and immutable afterwards;
 * it borrows its two dumps (pointers to their task records), which are immutable too
 * (dump.c), so it may be read and formatted from several threads at once.
 *
 * The rule (the public enum documents it for users), for a task in both dumps, from
 * what each dump recorded: its state, poll count and the start of its last poll.
 *   a poll started in between (count or start differ)        -> POLLED
 *   same poll: running in both                                -> STUCK_RUNNING
 *              running earlier, not any more                  -> POLLED (the poll ended)
 *              scheduled later: scheduled earlier too         -> STUCK_QUEUED
 *                               idle earlier                  -> WOKEN
 *              idle later: idle earlier                       -> STUCK
 *                          scheduled earlier                  -> WOKEN (a wake was seen;
 *                             only a racy read of a task woken during the earlier dump
 *                             gets here)
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"

#include <stdlib.h>
#include <string.h>

struct _AsyncrtDumpProgressTask
{
  AsyncrtTaskId id;
  AsyncrtTaskProgress progress;
  uint64_t stuck_ns;                  /* 0 unless stuck */
  uint64_t n_polls;                   /* polls in between (0 unless in both) */
  const AsyncrtDumpTask *earlier;     /* borrowed; NULL: NEW */
  const AsyncrtDumpTask *later;       /* borrowed; NULL: GONE */
};

struct _AsyncrtDumpProgress
{
  const AsyncrtDump *earlier, *later;
  GArray *tasks;                      /* struct _AsyncrtDumpProgressTask, sorted by id */
  size_t counts[ASYNCRT_TASK_PROGRESS_GONE + 1];
};

/**
 * asyncrt_dump_get_runtime_serial:
 * @d: a dump
 *
 * Which runtime @d is of: the number the process-wide registry gave the runtime when
 * it was built (1, 2… in the order runtimes are built, never reused in the process;
 * the `serial` of `asyncrt-dump --list`).  Two dumps with the same serial are of the
 * same runtime.
 *
 * Thread safety: any thread.
 *
 * Returns: the runtime's serial, or 0 for %NULL.
 * Since: 0.2
 */
uint64_t
asyncrt_dump_get_runtime_serial (const AsyncrtDump *d)
{
  return d != NULL ? d->runtime_serial : 0;
}

/**
 * asyncrt_dump_get_runtime_name:
 * @d: a dump
 *
 * Thread safety: any thread.
 *
 * Returns: (nullable) (transfer none): the name of the runtime @d is of
 *   (asyncrt_builder_set_name(), or the default `rt-N`), owned by the dump; %NULL for
 *   %NULL.
 * Since: 0.2
 */
const char *
asyncrt_dump_get_runtime_name (const AsyncrtDump *d)
{
  return d != NULL ? d->runtime_name : NULL;
}

static AsyncrtTaskProgress
classify (const struct _AsyncrtDumpTask *a, const struct _AsyncrtDumpTask *b)
{
  if (a->poll_count != b->poll_count || a->last_poll_ns != b->last_poll_ns)
    return ASYNCRT_TASK_PROGRESS_POLLED;
  if (a->state == ASYNCRT_TASK_STATE_RUNNING)
    return b->state == ASYNCRT_TASK_STATE_RUNNING ? ASYNCRT_TASK_PROGRESS_STUCK_RUNNING
                                                  : ASYNCRT_TASK_PROGRESS_POLLED;
  if (b->state == ASYNCRT_TASK_STATE_SCHEDULED)
    return a->state == ASYNCRT_TASK_STATE_SCHEDULED ? ASYNCRT_TASK_PROGRESS_STUCK_QUEUED
                                                    : ASYNCRT_TASK_PROGRESS_WOKEN;
  if (b->state == ASYNCRT_TASK_STATE_IDLE)
    return a->state == ASYNCRT_TASK_STATE_IDLE ? ASYNCRT_TASK_PROGRESS_STUCK
                                               : ASYNCRT_TASK_PROGRESS_WOKEN;
  /* Running later with the same poll as an idle or queued earlier record: that poll
   * started before the earlier dump, which cannot be; take it as polled. */
  return ASYNCRT_TASK_PROGRESS_POLLED;
}

static void
add (AsyncrtDumpProgress *p, const struct _AsyncrtDumpTask *a, const struct _AsyncrtDumpTask *b)
{
  struct _AsyncrtDumpProgressTask t = { 0 };
  t.earlier = a;
  t.later = b;
  if (a == NULL)
    {
      t.id = b->id;
      t.progress = ASYNCRT_TASK_PROGRESS_NEW;
    }
  else if (b == NULL)
    {
      t.id = a->id;
      t.progress = ASYNCRT_TASK_PROGRESS_GONE;
    }
  else
    {
      t.id = a->id;
      t.progress = classify (a, b);
      t.n_polls = b->poll_count > a->poll_count ? b->poll_count - a->poll_count : 0;
      if (!asyncrt_dump_progress_task_made_progress (&t))
        t.stuck_ns = b->last_poll_ns != 0 ? b->idle_ns
                     : p->later->taken_ns - p->earlier->taken_ns;   /* never polled */
    }
  p->counts[t.progress]++;
  g_array_append_val (p->tasks, t);
}

/**
 * asyncrt_dump_progress_new:
 * @earlier: a dump
 * @later: a dump of the same runtime, taken after @earlier
 * @out: (out): where to store the comparison, to free with
 *   asyncrt_dump_progress_free() before either dump
 *
 * Compares two dumps of one runtime: for every task listed in either, what it did in
 * between (#AsyncrtTaskProgress; see the section description).  The dumps may be full
 * dumps, filtered dumps or censuses; @out borrows them.  @out is written only on
 * success.
 *
 * Thread safety: any thread.
 *
 * Returns: 0; `-EINVAL` if an argument is %NULL or @later was taken before
 *   @earlier; `-EXDEV` if the dumps are of two runtimes (their serials differ, see
 *   asyncrt_dump_get_runtime_serial()).
 * Since: 0.2
 */
int
asyncrt_dump_progress_new (const AsyncrtDump *earlier, const AsyncrtDump *later,
                           AsyncrtDumpProgress **out)
{
  if (earlier == NULL || later == NULL || out == NULL)
    return -EINVAL;
  if (earlier->runtime_serial != later->runtime_serial)
    return -EXDEV;
  if (later->taken_ns < earlier->taken_ns)
    return -EINVAL;
  AsyncrtDumpProgress *p = g_new0 (AsyncrtDumpProgress, 1);
  p->earlier = earlier;
  p->later = later;
  p->tasks = g_array_new (FALSE, FALSE, sizeof (struct _AsyncrtDumpProgressTask));
  /* Both are sorted by id (asyncrt__dump_seal): merge. */
  size_t i = 0, j = 0, na = earlier->tasks->len, nb = later->tasks->len;
  while (i < na || j < nb)
    {
      const struct _AsyncrtDumpTask *a = i < na ? &g_array_index (earlier->tasks, struct _AsyncrtDumpTask, i) : NULL;
      const struct _AsyncrtDumpTask *b = j < nb ? &g_array_index (later->tasks, struct _AsyncrtDumpTask, j) : NULL;
      if (b == NULL || (a != NULL && a->id < b->id))
        {
          add (p, a, NULL);
          i++;
        }
      else if (a == NULL || b->id < a->id)
        {
          add (p, NULL, b);
          j++;
        }
      else
        {
          add (p, a, b);
          i++;
          j++;
        }
    }
  *out = p;
  return 0;
}

/**
 * asyncrt_dump_progress_free:
 * @p: (nullable): a comparison
 *
 * Frees the comparison (not the dumps it borrows).
 *
 * Thread safety: any thread, once no other thread uses @p.
 *
 * Since: 0.2
 */
void
asyncrt_dump_progress_free (AsyncrtDumpProgress *p)
{
  if (p == NULL)
    return;
  g_array_free (p->tasks, TRUE);
  g_free (p);
}

/**
 * asyncrt_dump_progress_get_interval_ns:
 * @p: a comparison
 *
 * Thread safety: any thread.
 *
 * Returns: the time between the two dumps, in nanoseconds (0 for %NULL).
 * Since: 0.2
 */
uint64_t
asyncrt_dump_progress_get_interval_ns (const AsyncrtDumpProgress *p)
{
  return p != NULL ? p->later->taken_ns - p->earlier->taken_ns : 0;
}

/**
 * asyncrt_dump_progress_get_n_tasks:
 * @p: a comparison
 *
 * Thread safety: any thread.
 *
 * Returns: the number of tasks listed in either dump (0 for %NULL).
 * Since: 0.2
 */
size_t
asyncrt_dump_progress_get_n_tasks (const AsyncrtDumpProgress *p)
{
  return p != NULL ? p->tasks->len : 0;
}

/**
 * asyncrt_dump_progress_get_task:
 * @p: a comparison
 * @i: an index below asyncrt_dump_progress_get_n_tasks()
 *
 * Tasks are ordered by id.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the @i-th task, owned by @p; %NULL if @p is
 *   %NULL or @i is out of range.
 * Since: 0.2
 */
const AsyncrtDumpProgressTask *
asyncrt_dump_progress_get_task (const AsyncrtDumpProgress *p, size_t i)
{
  if (p == NULL || i >= p->tasks->len)
    return NULL;
  return &g_array_index (p->tasks, struct _AsyncrtDumpProgressTask, i);
}

/**
 * asyncrt_dump_progress_find_task:
 * @p: a comparison
 * @id: a task id
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the task @id, owned by @p, or %NULL if neither
 *   dump lists it (or @p is %NULL).
 * Since: 0.2
 */
const AsyncrtDumpProgressTask *
asyncrt_dump_progress_find_task (const AsyncrtDumpProgress *p, AsyncrtTaskId id)
{
  if (p == NULL)
    return NULL;
  size_t lo = 0, hi = p->tasks->len;
  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      const struct _AsyncrtDumpProgressTask *t =
        &g_array_index (p->tasks, struct _AsyncrtDumpProgressTask, mid);
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
 * asyncrt_dump_progress_count:
 * @p: a comparison
 * @kind: what the tasks did
 *
 * Thread safety: any thread.
 *
 * Returns: the number of tasks whose progress is @kind (0 for %NULL or an unknown
 *   @kind).
 * Since: 0.2
 */
size_t
asyncrt_dump_progress_count (const AsyncrtDumpProgress *p, AsyncrtTaskProgress kind)
{
  if (p == NULL || (unsigned) kind > ASYNCRT_TASK_PROGRESS_GONE)
    return 0;
  return p->counts[kind];
}

/**
 * asyncrt_dump_progress_task_get_id:
 * @t: a task of a comparison
 *
 * Thread safety: any thread.
 *
 * Returns: the task's id (0 for %NULL).
 * Since: 0.2
 */
AsyncrtTaskId
asyncrt_dump_progress_task_get_id (const AsyncrtDumpProgressTask *t)
{
  return t != NULL ? t->id : 0;
}

/**
 * asyncrt_dump_progress_task_get_progress:
 * @t: a task of a comparison
 *
 * Thread safety: any thread.
 *
 * Returns: what the task did between the two dumps (%ASYNCRT_TASK_PROGRESS_GONE for
 *   %NULL).
 * Since: 0.2
 */
AsyncrtTaskProgress
asyncrt_dump_progress_task_get_progress (const AsyncrtDumpProgressTask *t)
{
  return t != NULL ? t->progress : ASYNCRT_TASK_PROGRESS_GONE;
}

/**
 * asyncrt_dump_progress_task_made_progress:
 * @t: a task of a comparison
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if the task was polled or woken between the dumps
 *   (%ASYNCRT_TASK_PROGRESS_POLLED, %ASYNCRT_TASK_PROGRESS_WOKEN); %FALSE if it is
 *   stuck, new or gone, or for %NULL.
 * Since: 0.2
 */
bool
asyncrt_dump_progress_task_made_progress (const AsyncrtDumpProgressTask *t)
{
  return t != NULL && (t->progress == ASYNCRT_TASK_PROGRESS_POLLED
                       || t->progress == ASYNCRT_TASK_PROGRESS_WOKEN);
}

/**
 * asyncrt_dump_progress_task_get_stuck_ns:
 * @t: a task of a comparison
 *
 * For how long a task without progress has been stuck: the time since its last poll
 * started, as the later dump saw it (its asyncrt_dump_task_get_idle_ns()), which is
 * at least asyncrt_dump_progress_get_interval_ns(); for a task never polled, the
 * interval.
 *
 * Thread safety: any thread.
 *
 * Returns: nanoseconds; 0 for a task that made progress, a new or gone one, or %NULL.
 * Since: 0.2
 */
uint64_t
asyncrt_dump_progress_task_get_stuck_ns (const AsyncrtDumpProgressTask *t)
{
  return t != NULL ? t->stuck_ns : 0;
}

/**
 * asyncrt_dump_progress_task_get_n_polls:
 * @t: a task of a comparison
 *
 * Thread safety: any thread.
 *
 * Returns: the number of polls the task started between the two dumps (the
 *   difference of its poll counts); 0 for a new or gone task, or %NULL.
 * Since: 0.2
 */
uint64_t
asyncrt_dump_progress_task_get_n_polls (const AsyncrtDumpProgressTask *t)
{
  return t != NULL ? t->n_polls : 0;
}

/**
 * asyncrt_dump_progress_task_get_earlier:
 * @t: a task of a comparison
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the task's record in the earlier dump, owned
 *   by that dump; %NULL for a new task (or %NULL).
 * Since: 0.2
 */
const AsyncrtDumpTask *
asyncrt_dump_progress_task_get_earlier (const AsyncrtDumpProgressTask *t)
{
  return t != NULL ? t->earlier : NULL;
}

/**
 * asyncrt_dump_progress_task_get_later:
 * @t: a task of a comparison
 *
 * The record to show for a stuck task: its state, name, idle time and the trace of
 * where it waits now.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the task's record in the later dump, owned by
 *   that dump; %NULL for a gone task (or %NULL).
 * Since: 0.2
 */
const AsyncrtDumpTask *
asyncrt_dump_progress_task_get_later (const AsyncrtDumpProgressTask *t)
{
  return t != NULL ? t->later : NULL;
}

/**
 * asyncrt_task_progress_to_string:
 * @progress: what a task did between two dumps
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none): its name in the text and JSON forms: `"polled"`,
 *   `"woken"`, `"stuck"`, `"stuck_running"`, `"stuck_queued"`, `"new"`, `"gone"`;
 *   `"unknown"` for another value.
 * Since: 0.2
 */
const char *
asyncrt_task_progress_to_string (AsyncrtTaskProgress progress)
{
  switch (progress)
    {
    case ASYNCRT_TASK_PROGRESS_POLLED: return "polled";
    case ASYNCRT_TASK_PROGRESS_WOKEN: return "woken";
    case ASYNCRT_TASK_PROGRESS_STUCK: return "stuck";
    case ASYNCRT_TASK_PROGRESS_STUCK_RUNNING: return "stuck_running";
    case ASYNCRT_TASK_PROGRESS_STUCK_QUEUED: return "stuck_queued";
    case ASYNCRT_TASK_PROGRESS_NEW: return "new";
    case ASYNCRT_TASK_PROGRESS_GONE: return "gone";
    default: return "unknown";
    }
}

/* ---- formats ------------------------------------------------------------------------ */

static void
append_seconds (GString *out, uint64_t ns)
{
  g_string_append_printf (out, "%.3f s", (double) ns / 1e9);
}

static const char *
stuck_phrase (AsyncrtTaskProgress k)
{
  switch (k)
    {
    case ASYNCRT_TASK_PROGRESS_STUCK:
      return "idle, not polled and not woken since the earlier dump";
    case ASYNCRT_TASK_PROGRESS_STUCK_RUNNING:
      return "in the same poll since before the earlier dump: it blocks its worker";
    case ASYNCRT_TASK_PROGRESS_STUCK_QUEUED:
      return "woken before the earlier dump, still not polled: no worker ran it";
    default:
      return asyncrt_task_progress_to_string (k);
    }
}

static void
append_task_text (GString *out, const struct _AsyncrtDumpProgressTask *t)
{
  const struct _AsyncrtDumpTask *r = t->later != NULL ? t->later : t->earlier;
  g_string_append_printf (out, "task %" G_GUINT64_FORMAT " %s", t->id,
                          asyncrt_task_progress_to_string (t->progress));
  if (!asyncrt_dump_progress_task_made_progress (t) && t->later != NULL && t->earlier != NULL)
    {
      g_string_append (out, " for ");
      append_seconds (out, t->stuck_ns);
    }
  g_string_append_printf (out, ", %s", asyncrt__dump_state_name (r->state));
  if (r->name != NULL)
    {
      g_string_append (out, ", name \"");
      asyncrt__text_append_escaped (out, r->name, true);
      g_string_append_c (out, '"');
    }
  if (r->spawn_file != NULL)
    {
      g_string_append (out, ", spawned at ");
      asyncrt__text_append_escaped (out, r->spawn_file, false);
      g_string_append_printf (out, ":%u", r->spawn_line);
    }
  if (t->earlier != NULL && t->later != NULL)
    g_string_append_printf (out, ", %" G_GUINT64_FORMAT " poll%s in between", t->n_polls,
                            t->n_polls == 1 ? "" : "s");
  g_string_append_c (out, '\n');
  if (t->earlier != NULL && t->later != NULL && !asyncrt_dump_progress_task_made_progress (t))
    g_string_append_printf (out, "  (%s)\n", stuck_phrase (t->progress));
  if (t->later != NULL && t->later->trace != NULL
      && asyncrt_trace_get_n_backtraces (t->later->trace) > 0)
    {
      AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
      asyncrt__trace_tree_add_trace (tree, t->later->trace);
      asyncrt__trace_tree_append_text (tree, out, "  ");
      asyncrt__trace_tree_free (tree);
    }
}

/**
 * asyncrt_dump_progress_to_string:
 * @p: a comparison
 * @flags: #AsyncrtDumpProgressFlags
 *
 * Formats the comparison as text: a summary line naming the runtime, the time between
 * the dumps and how many tasks made progress, were stuck, new or gone; then, for each
 * task without progress (every task with %ASYNCRT_DUMP_PROGRESS_ALL), a line with its
 * id, what it did, for how long it has been stuck, its state, name and spawn site,
 * a line saying why it counts as stuck, and its async call stack from the later dump
 * (if that dump traced it).  Program-supplied strings are escaped as in
 * asyncrt_dump_to_string().
 *
 * |[<!-- language="plain" -->
 * progress of runtime "web" (serial 1) over 5.002 s: 12 tasks, 10 made progress, 2 stuck, 0 new, 1 gone
 * task 7 stuck for 65.310 s, idle, name "handler", spawned at server.c:88, 0 polls in between
 *   (idle, not polled and not woken since the earlier dump)
 *   ╼ handler_poll at server.c:120:5
 *   └╼ asyncrt_notified_poll at lib/sync/notify.c:210:3
 * ]|
 *
 * Thread safety: any thread; several threads may format the same comparison at once.
 *
 * Returns: (transfer full) (nullable): a string to free() with free(), or %NULL if
 *   @p is %NULL.
 * Since: 0.2
 */
char *
asyncrt_dump_progress_to_string (AsyncrtDumpProgress *p, unsigned flags)
{
  if (p == NULL)
    return NULL;
  GString *out = g_string_new (NULL);
  size_t stuck = p->counts[ASYNCRT_TASK_PROGRESS_STUCK]
                 + p->counts[ASYNCRT_TASK_PROGRESS_STUCK_RUNNING]
                 + p->counts[ASYNCRT_TASK_PROGRESS_STUCK_QUEUED];
  size_t progressed = p->counts[ASYNCRT_TASK_PROGRESS_POLLED]
                      + p->counts[ASYNCRT_TASK_PROGRESS_WOKEN];
  g_string_append (out, "progress of runtime \"");
  asyncrt__text_append_escaped (out, p->later->runtime_name, true);
  g_string_append_printf (out, "\" (serial %" G_GUINT64_FORMAT ") over ", p->later->runtime_serial);
  append_seconds (out, asyncrt_dump_progress_get_interval_ns (p));
  g_string_append_printf (out, ": %u task%s, %zu made progress, %zu stuck, %zu new, %zu gone\n",
                          p->tasks->len, p->tasks->len == 1 ? "" : "s", progressed, stuck,
                          p->counts[ASYNCRT_TASK_PROGRESS_NEW],
                          p->counts[ASYNCRT_TASK_PROGRESS_GONE]);
  for (size_t i = 0; i < p->tasks->len; i++)
    {
      const struct _AsyncrtDumpProgressTask *t =
        &g_array_index (p->tasks, struct _AsyncrtDumpProgressTask, i);
      bool no_progress = t->earlier != NULL && t->later != NULL
                         && !asyncrt_dump_progress_task_made_progress (t);
      if (no_progress || (flags & ASYNCRT_DUMP_PROGRESS_ALL))
        append_task_text (out, t);
    }
  char *s = strdup (out->str);
  g_string_free (out, TRUE);
  return s;
}

/**
 * asyncrt_dump_progress_to_json:
 * @p: a comparison
 *
 * Formats the comparison as one JSON object, version 1:
 *
 * |[<!-- language="plain" -->
 * {
 *   "version": 1,
 *   "runtime": { "name": <string>, "serial": <n> },
 *   "interval_ns": <n>,
 *   "counts": { "polled": <n>, "woken": <n>, "stuck": <n>, "stuck_running": <n>,
 *               "stuck_queued": <n>, "new": <n>, "gone": <n> },
 *   "tasks": [ { "id": <n>, "progress": "polled" | "woken" | "stuck" | ...,
 *                "made_progress": <bool>, "stuck_ns": <n>, "polls": <n>,
 *                "name": <string or null>, "state": "idle" | "scheduled" | "running" },
 *              ... ]
 * }
 * ]|
 *
 * Every task of either dump is listed, by id; "state" and "name" are from the later
 * dump (the earlier for a gone task).  New members may be added without changing the
 * version.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer full) (nullable): a string to free() with free(), or %NULL if
 *   @p is %NULL.
 * Since: 0.2
 */
char *
asyncrt_dump_progress_to_json (AsyncrtDumpProgress *p)
{
  if (p == NULL)
    return NULL;
  GString *out = g_string_new ("{\"version\":1,\"runtime\":{\"name\":");
  asyncrt__json_append_string (out, p->later->runtime_name);
  g_string_append_printf (out, ",\"serial\":%" G_GUINT64_FORMAT "},\"interval_ns\":%" G_GUINT64_FORMAT
                          ",\"counts\":{", p->later->runtime_serial,
                          asyncrt_dump_progress_get_interval_ns (p));
  for (unsigned k = 0; k <= ASYNCRT_TASK_PROGRESS_GONE; k++)
    g_string_append_printf (out, "%s\"%s\":%zu", k > 0 ? "," : "",
                            asyncrt_task_progress_to_string ((AsyncrtTaskProgress) k),
                            p->counts[k]);
  g_string_append (out, "},\"tasks\":[");
  for (size_t i = 0; i < p->tasks->len; i++)
    {
      const struct _AsyncrtDumpProgressTask *t =
        &g_array_index (p->tasks, struct _AsyncrtDumpProgressTask, i);
      const struct _AsyncrtDumpTask *r = t->later != NULL ? t->later : t->earlier;
      g_string_append_printf (out, "%s{\"id\":%" G_GUINT64_FORMAT ",\"progress\":\"%s\","
                              "\"made_progress\":%s,\"stuck_ns\":%" G_GUINT64_FORMAT
                              ",\"polls\":%" G_GUINT64_FORMAT ",\"name\":",
                              i > 0 ? "," : "", t->id,
                              asyncrt_task_progress_to_string (t->progress),
                              asyncrt_dump_progress_task_made_progress (t) ? "true" : "false",
                              t->stuck_ns, t->n_polls);
      asyncrt__json_append_string (out, r->name);
      g_string_append_printf (out, ",\"state\":\"%s\"}", asyncrt__dump_state_name (r->state));
    }
  g_string_append (out, "]}");
  char *s = strdup (out->str);
  g_string_free (out, TRUE);
  return s;
}
