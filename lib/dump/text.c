/* libasyncrt - the text form of a dump
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * In this order (asyncrt__dump_format_text):
 *   the process line (header.c) and the summary line;
 *   the diagnosis: deadlocks, then holders that block others, longest-held first
 *     (append_diagnosis; from waitgraph.c);
 *   every task (append_task), or with ASYNCRT_DUMP_GROUP every group of tasks
 *     (append_group): its header line, its labels, and its async call stacks as a
 *     tree with each leaf's wait at the end of its line, or why it has no trace
 *     (append_untraced);
 *   the workers that did not stop (append_missing_workers).
 * Every program-supplied string is escaped (asyncrt__text_append_escaped), so each
 * task is exactly one header line.
 *
 * Threads: a sealed dump is immutable (see dump.c), so formatting may run on several
 * threads at once.
 */
#include "dump/dump-private.h"
#include "dump/buf-private.h"
#include "trace/trace-private.h"

#include <stdlib.h>
#include <string.h>

/* Ids listed in full up to this many; then "… (N more)". */
#define IDS_LIMIT 20
/* Distinct names listed in a group's header up to this many. */
#define NAMES_LIMIT 5

static void
append_no_trace_phrase (GString *out, const struct _AsyncrtDumpTask *t)
{
  switch (t->no_trace)
    {
    case ASYNCRT_DUMP_NO_TRACE_RUNNING:
      if (t->worker >= 0)
        g_string_append_printf (out, "running on worker %d", t->worker);
      else
        ASYNCRT_GSTRING_APPEND_LIT (out, "running");
      break;
    case ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER:
      if (t->worker >= 0)
        g_string_append_printf (out, "queued on worker %d, which did not stop", t->worker);
      else
        ASYNCRT_GSTRING_APPEND_LIT (out, "queued on a worker that did not stop");
      break;
    case ASYNCRT_DUMP_NO_TRACE_WOKEN_DURING_DUMP:
      ASYNCRT_GSTRING_APPEND_LIT (out, "woken while the dump was being taken");
      break;
    case ASYNCRT_DUMP_NO_TRACE_CANCELLED:
      ASYNCRT_GSTRING_APPEND_LIT (out, "aborted, its cancellation is queued");
      break;
    case ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING:
      ASYNCRT_GSTRING_APPEND_LIT (out, "runtime not running");
      break;
    case ASYNCRT_DUMP_NO_TRACE_DEADLINE:
      ASYNCRT_GSTRING_APPEND_LIT (out, "deadline passed");
      break;
    case ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO:
      ASYNCRT_GSTRING_APPEND_LIT (out, "dump taken with timeout 0");
      break;
    case ASYNCRT_DUMP_NO_TRACE_NONE:
    default:
      ASYNCRT_GSTRING_APPEND_LIT (out, "unknown");
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

static const struct _AsyncrtDumpTask *
task_at (const AsyncrtDump *d, size_t i)
{
  return &g_array_index (d->tasks, struct _AsyncrtDumpTask, i);
}

/* ` "name"` after a task id, if it has a name. */
static void
append_task_name (GString *out, const struct _AsyncrtDumpTask *t)
{
  if (t == NULL || t->name == NULL)
    return;
  ASYNCRT_GSTRING_APPEND_LIT (out, " \"");
  asyncrt__text_append_escaped (out, t->name, true);
  g_string_append_c (out, '"');
}

/* ---- one task ------------------------------------------------------------------------- */

/* Labels (values may come from the network) on one line of their own, each value
 * quoted and escaped like every program-supplied string. */
static void
append_labels_text (GString *out, const struct _AsyncrtDumpTask *t)
{
  if (t->labels == NULL)
    return;
  ASYNCRT_GSTRING_APPEND_LIT (out, "  labels:");
  for (unsigned i = 0; i < t->labels->n; i++)
    {
      g_string_append (out, i > 0 ? ", " : " ");
      asyncrt__text_append_escaped (out, t->labels->items[i].key, false);
      ASYNCRT_GSTRING_APPEND_LIT (out, "=\"");
      asyncrt__text_append_escaped (out, t->labels->items[i].value, true);
      g_string_append_c (out, '"');
    }
  g_string_append_c (out, '\n');
}

static void
append_spawn_site (GString *out, const struct _AsyncrtDumpTask *t)
{
  asyncrt__text_append_escaped (out, t->spawn_file, false);
  g_string_append_c (out, ':');
  asyncrt__buf_append_u64 (out, t->spawn_line);
  if (t->spawn_func != NULL)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, " (");
      asyncrt__text_append_escaped (out, t->spawn_func, false);
      g_string_append_c (out, ')');
    }
}

/* The text of the last spawn site written: tasks spawned at one place share its
 * strings (static storage: the same pointers and line mean the same text), so it is
 * escaped once and copied for the next tasks spawned there. */
typedef struct
{
  const char *file, *func;
  unsigned line;
  GString *text;            /* NULL: none yet */
} SiteCache;

static void
append_spawn_site_cached (GString *out, SiteCache *sc, const struct _AsyncrtDumpTask *t)
{
  if (sc == NULL)
    {
      append_spawn_site (out, t);
      return;
    }
  if (sc->text == NULL || sc->file != t->spawn_file || sc->func != t->spawn_func
      || sc->line != t->spawn_line)
    {
      if (sc->text == NULL)
        sc->text = g_string_new (NULL);
      g_string_truncate (sc->text, 0);
      append_spawn_site (sc->text, t);
      sc->file = t->spawn_file;
      sc->func = t->spawn_func;
      sc->line = t->spawn_line;
    }
  asyncrt__gstring_append_len (out, sc->text->str, sc->text->len);
}

/* One line, whatever the strings hold: every program-supplied one is escaped. */
static void
append_task_header (GString *out, SiteCache *sc, const struct _AsyncrtDumpTask *t)
{
  /* printf-free: this runs once per task of the dump. */
  ASYNCRT_GSTRING_APPEND_LIT (out, "task ");
  asyncrt__buf_append_u64 (out, t->id);
  g_string_append_c (out, ' ');
  asyncrt__gstring_append (out, asyncrt__dump_state_name (t->state));
  if (t->state == ASYNCRT_TASK_STATE_RUNNING && t->worker >= 0)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, " on worker ");
      asyncrt__buf_append_i64 (out, t->worker);
    }
  if (t->name != NULL)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, ", name");
      append_task_name (out, t);
    }
  if (t->spawn_file != NULL)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, ", spawned at ");
      append_spawn_site_cached (out, sc, t);
    }
  if (t->parent_id != 0)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, ", parent ");
      asyncrt__buf_append_u64 (out, t->parent_id);
    }
  if (t->group_id != 0)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, ", group ");
      asyncrt__buf_append_u64 (out, t->group_id);
    }
  if (t->last_poll_ns != 0)
    {
      g_string_append (out, t->state == ASYNCRT_TASK_STATE_RUNNING ? ", running " : ", idle ");
      asyncrt__dump_append_duration (out, t->idle_ns);
    }
  else
    ASYNCRT_GSTRING_APPEND_LIT (out, ", never polled");
  ASYNCRT_GSTRING_APPEND_LIT (out, ", ");
  asyncrt__buf_append_u64 (out, t->poll_count);
  g_string_append (out, t->poll_count == 1 ? " poll\n" : " polls\n");
}

/* A task without a trace: why, on a line of its own. */
static void
append_untraced (GString *out, const struct _AsyncrtDumpTask *t)
{
  ASYNCRT_GSTRING_APPEND_LIT (out, "  (not traced: ");
  append_no_trace_phrase (out, t);
  asyncrt__dump_append_no_native_text (out, t);
  ASYNCRT_GSTRING_APPEND_LIT (out, ")\n");
}

static void
annotate_task (GString *out, guint backtrace, void *data)
{
  const struct _AsyncrtDumpTask *t = data;
  asyncrt__dump_append_wait_text (out, &t->trace->backtraces[backtrace]->wait, WAIT_TEXT_ALL);
}

/* The trace of a traced task (or of a group's first member, annotated by @annotate). */
static void
append_trace (GString *out, AsyncrtDumpTreeCache *cache, const AsyncrtTrace *tr,
              AsyncrtDumpAnnotateFunc annotate, void *data)
{
  if (asyncrt_trace_get_n_backtraces (tr) == 0)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, "  (no leaf future reached)\n");
      return;
    }
  asyncrt__dump_tree_cache_append (cache, tr, annotate, data, out);
}

static void
append_task (GString *out, AsyncrtDumpTreeCache *cache, SiteCache *sc,
             const struct _AsyncrtDumpTask *t)
{
  append_task_header (out, sc, t);
  append_labels_text (out, t);
  if (t->trace_kind == ASYNCRT_TRACE_KIND_NATIVE)
    asyncrt__dump_append_task_native_text (out, t);
  else if (t->trace == NULL)
    append_untraced (out, t);
  else
    append_trace (out, cache, t->trace, annotate_task, (void *) t);
}

/* ---- a group of tasks (ASYNCRT_DUMP_GROUP) --------------------------------------------- */

typedef struct
{
  const AsyncrtDump *d;
  const AsyncrtDumpGroup *g;
} GroupCtx;

static void
annotate_group (GString *out, guint backtrace, void *data)
{
  const GroupCtx *c = data;
  const struct _AsyncrtDumpTask *first = task_at (c->d, g_array_index (c->g->members, size_t, 0));
  bool same = asyncrt__dump_group_same_object (c->d, c->g, backtrace);
  asyncrt__dump_append_wait_text (out, &first->trace->backtraces[backtrace]->wait,
                                  same ? WAIT_TEXT_OBJECT : 0);
}

/* The names of the members, each once with its count, in order of first appearance. */
static void
append_group_names (GString *out, const AsyncrtDump *d, const AsyncrtDumpGroup *g)
{
  GPtrArray *names = g_ptr_array_new ();
  GArray *counts = g_array_new (FALSE, TRUE, sizeof (size_t));
  size_t unnamed = 0;
  for (guint k = 0; k < g->members->len; k++)
    {
      const char *name = task_at (d, g_array_index (g->members, size_t, k))->name;
      if (name == NULL)
        {
          unnamed++;
          continue;
        }
      guint j;
      for (j = 0; j < names->len && strcmp (g_ptr_array_index (names, j), name) != 0; j++)
        ;
      if (j == names->len)
        {
          g_ptr_array_add (names, (gpointer) name);
          g_array_set_size (counts, names->len);
        }
      g_array_index (counts, size_t, j)++;
    }
  for (guint j = 0; j < names->len && j < NAMES_LIMIT; j++)
    {
      g_string_append (out, j == 0 ? ", name \"" : ", \"");
      asyncrt__text_append_escaped (out, g_ptr_array_index (names, j), true);
      g_string_append_printf (out, "\" (%zu)", g_array_index (counts, size_t, j));
    }
  if (names->len > NAMES_LIMIT)
    g_string_append_printf (out, ", … (%u more names)", names->len - NAMES_LIMIT);
  if (unnamed > 0 && names->len > 0)
    g_string_append_printf (out, ", %zu unnamed", unnamed);
  g_ptr_array_free (names, TRUE);
  g_array_free (counts, TRUE);
}

/* "12 tasks idle: 5, 6, 7, …; name "session" (12), spawned at …, idle min …" */
static void
append_group_header (GString *out, const AsyncrtDump *d, const AsyncrtDumpGroup *g)
{
  const struct _AsyncrtDumpTask *first = task_at (d, g_array_index (g->members, size_t, 0));
  size_t n = g->members->len;
  AsyncrtTaskId *ids = g_new (AsyncrtTaskId, n);
  bool same_spawn = true;
  for (size_t k = 0; k < n; k++)
    {
      const struct _AsyncrtDumpTask *t = task_at (d, g_array_index (g->members, size_t, k));
      ids[k] = t->id;
      if (g_strcmp0 (t->spawn_file, first->spawn_file) != 0 || t->spawn_line != first->spawn_line
          || g_strcmp0 (t->spawn_func, first->spawn_func) != 0)
        same_spawn = false;
    }
  g_string_append_printf (out, "%zu tasks %s", n, asyncrt__dump_state_name (first->state));
  if (first->state == ASYNCRT_TASK_STATE_RUNNING && first->worker >= 0)
    g_string_append_printf (out, " on worker %d", first->worker);
  ASYNCRT_GSTRING_APPEND_LIT (out, ": ");
  asyncrt__dump_append_ids (out, ids, n, IDS_LIMIT);
  append_group_names (out, d, g);
  if (same_spawn && first->spawn_file != NULL)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, ", spawned at ");
      append_spawn_site (out, first);
    }
  uint64_t lo, mid, hi;
  if (asyncrt__dump_group_idle_stats (d, g, &lo, &mid, &hi))
    {
      g_string_append (out, first->state == ASYNCRT_TASK_STATE_RUNNING ? ", running min "
                                                                       : ", idle min ");
      asyncrt__dump_append_duration (out, lo);
      ASYNCRT_GSTRING_APPEND_LIT (out, ", median ");
      asyncrt__dump_append_duration (out, mid);
      ASYNCRT_GSTRING_APPEND_LIT (out, ", max ");
      asyncrt__dump_append_duration (out, hi);
    }
  g_string_append_c (out, '\n');
  g_free (ids);
}

static void
append_group (GString *out, AsyncrtDumpTreeCache *cache, const AsyncrtDump *d,
              const AsyncrtDumpGroup *g)
{
  const struct _AsyncrtDumpTask *first = task_at (d, g_array_index (g->members, size_t, 0));
  if (g->members->len == 1)
    {
      append_task (out, cache, NULL, first);
      return;
    }
  append_group_header (out, d, g);
  if (first->trace == NULL)
    {
      append_untraced (out, first);
      return;
    }
  GroupCtx ctx = { d, g };
  append_trace (out, cache, first->trace, annotate_group, &ctx);
}

/* ---- the diagnosis ---------------------------------------------------------------------- */

static void
append_id_list (GString *out, const GArray *ids)
{
  asyncrt__dump_append_ids (out, (const AsyncrtTaskId *) (const void *) ids->data, ids->len,
                            IDS_LIMIT);
}

/* What @t waits on, in one line per wait: "  task 3 "left" waits for …". */
static void
append_waits_line (GString *out, const struct _AsyncrtDumpTask *t, const char *indent)
{
  if (t->trace_kind == ASYNCRT_TRACE_KIND_NATIVE)
    {
      g_string_append_printf (out, "%stask %" G_GUINT64_FORMAT, indent, t->id);
      append_task_name (out, t);
      g_string_append_printf (out, " is running on worker %d (its native stack is below, "
                              "with the task)\n", t->worker);
      return;
    }
  if (t->trace == NULL)
    {
      g_string_append_printf (out, "%stask %" G_GUINT64_FORMAT, indent, t->id);
      append_task_name (out, t);
      ASYNCRT_GSTRING_APPEND_LIT (out, " is not traced: ");
      append_no_trace_phrase (out, t);
      g_string_append_c (out, '\n');
      return;
    }
  if (t->state != ASYNCRT_TASK_STATE_IDLE)
    {
      g_string_append_printf (out, "%stask %" G_GUINT64_FORMAT, indent, t->id);
      append_task_name (out, t);
      g_string_append_printf (out, " is %s\n", asyncrt__dump_state_name (t->state));
      return;
    }
  for (size_t b = 0; b < t->trace->n_backtraces; b++)
    {
      GString *phrase = g_string_new (NULL);
      asyncrt__dump_append_wait_text (phrase, &t->trace->backtraces[b]->wait, WAIT_TEXT_ALL);
      g_string_append_printf (out, "%stask %" G_GUINT64_FORMAT, indent, t->id);
      append_task_name (out, t);
      g_string_append_c (out, ' ');
      g_string_append (out, phrase->len > 0 ? phrase->str : "waits in a leaf that gives no description");
      g_string_append_c (out, '\n');
      g_string_free (phrase, TRUE);
    }
}

/* The members of deadlock @k in the order of the cycle, from the smallest id: each
 * one's waits on another member. */
static void
append_deadlock (GString *out, const AsyncrtDump *d, guint k)
{
  const AsyncrtDumpDeadlock *dl = &g_array_index (d->deadlocks, AsyncrtDumpDeadlock, k);
  size_t n = dl->ids->len;
  const AsyncrtTaskId *ids = (const AsyncrtTaskId *) (const void *) dl->ids->data;
  if (n == 1)
    g_string_append_printf (out, "deadlock: task %" G_GUINT64_FORMAT " waits for itself", ids[0]);
  else
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, "deadlock: tasks ");
      asyncrt__dump_append_ids (out, ids, n, n);
      ASYNCRT_GSTRING_APPEND_LIT (out, " wait for each other");
    }
  if (dl->n_blocked > 0)
    g_string_append_printf (out, ", blocking %zu more task%s", dl->n_blocked,
                            dl->n_blocked == 1 ? "" : "s");
  g_string_append_c (out, '\n');

  bool *shown = g_new0 (bool, n);
  size_t next = 0;
  for (size_t done = 0; done < n; done++)
    {
      if (shown[next])
        for (next = 0; shown[next]; next++)
          ;
      shown[next] = true;
      const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, ids[next]);
      size_t follow = n;
      for (size_t b = 0; b < t->trace->n_backtraces; b++)
        {
          const AsyncrtWait *w = &t->trace->backtraces[b]->wait;
          AsyncrtTaskId target = asyncrt__wait_edge_target (w);
          const AsyncrtTaskId *m = bsearch (&target, ids, n, sizeof *ids, asyncrt__dump_cmp_id);
          if (m == NULL)
            continue;
          g_string_append_printf (out, "  task %" G_GUINT64_FORMAT, t->id);
          append_task_name (out, t);
          g_string_append_c (out, ' ');
          asyncrt__dump_append_wait_text (out, w, WAIT_TEXT_ALL);
          g_string_append_c (out, '\n');
          if (follow == n && !shown[m - ids])
            follow = (size_t) (m - ids);
        }
      next = follow < n ? follow : next;
    }
  g_free (shown);
}

/* "task 2 "snapshot" holds mutex "store" for 490.127 ms, blocking 4 tasks: 5, 6, 7, 8"
 * and, below, what the holder itself is doing. */
static void
append_holder (GString *out, const AsyncrtDumpHolder *h)
{
  const AsyncrtWait *w = h->wait;
  g_string_append_printf (out, "task %" G_GUINT64_FORMAT, h->holder_id);
  append_task_name (out, h->holder);
  switch (w->kind)
    {
    case ASYNCRT_WAIT_MUTEX:
      ASYNCRT_GSTRING_APPEND_LIT (out, " holds mutex");
      break;
    case ASYNCRT_WAIT_SEMAPHORE:
      {
        int64_t permits = 0;
        asyncrt_wait_get_fact (w, ASYNCRT_WAIT_FACT_HOLDER_PERMITS, &permits);
        g_string_append_printf (out, " holds %" G_GINT64_FORMAT " permit%s of semaphore",
                                permits, permits == 1 ? "" : "s");
      }
      break;
    case ASYNCRT_WAIT_JOIN:
      ASYNCRT_GSTRING_APPEND_LIT (out, " has not finished");
      break;
    default:
      g_string_append_printf (out, " holds %s", asyncrt_wait_kind_to_string (w->kind));
      break;
    }
  if (w->kind != ASYNCRT_WAIT_JOIN)
    {
      if (w->name != NULL)
        {
          ASYNCRT_GSTRING_APPEND_LIT (out, " \"");
          asyncrt__text_append_escaped (out, w->name, true);
          g_string_append_c (out, '"');
        }
      else
        g_string_append_printf (out, " 0x%" G_GINT64_MODIFIER "x", (guint64) w->object);
    }
  if (h->held_ns != 0)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, " for ");
      asyncrt__dump_append_duration (out, h->held_ns);
    }
  g_string_append_printf (out, ", blocking %zu task%s: ", h->n_blocked, h->n_blocked == 1 ? "" : "s");
  append_id_list (out, h->waiters);
  if (h->n_blocked > h->waiters->len)
    g_string_append_printf (out, " and %zu more waiting on them", h->n_blocked - h->waiters->len);
  g_string_append_c (out, '\n');
  if (h->holder == NULL)
    g_string_append_printf (out, "  task %" G_GUINT64_FORMAT " is not in this dump (finished "
                            "without releasing it, or a task of another runtime)\n", h->holder_id);
  else
    append_waits_line (out, h->holder, "  ");
}

static void
append_diagnosis (GString *out, const AsyncrtDump *d)
{
  for (guint k = 0; d->deadlocks != NULL && k < d->deadlocks->len; k++)
    append_deadlock (out, d, k);
  for (guint k = 0; d->holders != NULL && k < d->holders->len; k++)
    {
      const AsyncrtDumpHolder *h = &g_array_index (d->holders, AsyncrtDumpHolder, k);
      if (h->holder != NULL && h->holder->deadlock != 0)
        continue;                     /* shown with its deadlock */
      append_holder (out, h);
    }
}

/* ---- the whole dump --------------------------------------------------------------------- */

static void
append_summary (GString *out, const AsyncrtDump *d)
{
  g_string_append_printf (out, "task dump of a %s runtime: %u task%s, %s",
                          d->flavour, d->tasks->len, d->tasks->len == 1 ? "" : "s",
                          d->complete ? "complete" : "incomplete");
  if (d->census != ASYNCRT_DUMP_NO_TRACE_NONE)
    g_string_append_printf (out, " (census: %s)", census_phrase (d->census));
  if (d->options != NULL)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, " (filtered: ");
      asyncrt__dump_options_append_text (out, d->options);
      g_string_append_c (out, ')');
    }
  size_t n_deadlocks = asyncrt_dump_get_n_deadlocks (d);
  if (n_deadlocks > 0)
    g_string_append_printf (out, ", %zu deadlock%s", n_deadlocks, n_deadlocks == 1 ? "" : "s");
  g_string_append_c (out, '\n');
}

static void
append_missing_workers (GString *out, const AsyncrtDump *d)
{
  for (size_t i = 0; i < d->missing->len; i++)
    {
      const AsyncrtDumpMissingWorker *w = &g_array_index (d->missing, AsyncrtDumpMissingWorker, i);
      g_string_append_printf (out, "worker %u did not stop", w->index);
      if (w->task_id != 0)
        {
          g_string_append_printf (out, ": task %" G_GUINT64_FORMAT " running for ", w->task_id);
          asyncrt__dump_append_duration (out, w->running_ns);
        }
      asyncrt__dump_append_missing_native_text (out, d, w);   /* ends the line */
    }
}

char *
asyncrt__dump_format_text (const AsyncrtDump *d, unsigned flags)
{
  bool group = (flags & ASYNCRT_DUMP_GROUP) != 0;
  /* Small at first: the first tasks tell how much the rest need. */
  GString *out = g_string_sized_new (group ? 256 + 64 * d->tasks->len : 64 * 1024);
  AsyncrtDumpTreeCache *cache = asyncrt__dump_tree_cache_new ();
  asyncrt__dump_append_header (out, d, false);
  append_summary (out, d);
  asyncrt__dump_append_native_availability_text (out, d);
  append_diagnosis (out, d);
  if (group)
    {
      GPtrArray *groups = asyncrt__dump_groups (d);
      for (guint k = 0; k < groups->len; k++)
        append_group (out, cache, d, g_ptr_array_index (groups, k));
      g_ptr_array_unref (groups);
    }
  else
    {
      gsize start = out->len;
      SiteCache sites = { NULL, NULL, 0, NULL };
      for (size_t i = 0; i < d->tasks->len; i++)
        {
          if (i == 64)
            asyncrt__buf_reserve_rest (out, start, i, d->tasks->len);
          append_task (out, cache, &sites, task_at (d, i));
        }
      if (sites.text != NULL)
        g_string_free (sites.text, TRUE);
    }
  append_missing_workers (out, d);
  asyncrt__dump_append_blocking_jobs_text (out, d);
  asyncrt__dump_tree_cache_free (cache);
  return asyncrt__buf_steal (out);
}

/**
 * asyncrt_dump_to_string:
 * @d: a dump
 *
 * Formats the dump as text, every task on its own (the same as
 * asyncrt_dump_format() with %ASYNCRT_DUMP_FORMAT_TEXT and no flags; pass
 * %ASYNCRT_DUMP_GROUP there for big dumps):
 *
 * - a line naming the process (`process PID (PROGRAM), taken at
 *   2025-01-31T12:34:56.789Z, libasyncrt 0.2.0`, the time in UTC) and a summary line
 *   (flavour, number of tasks, complete or not, the number of deadlocks; for a dump
 *   taken with filters, `(filtered: …)`);
 * - the diagnosis, from the wait-for graph: each deadlock (`deadlock: tasks 3, 4
 *   wait for each other`, then one line per member saying what it waits for and who
 *   holds it, in the order of the cycle), then each holder that blocks other tasks,
 *   longest-held first (`task 2 "snapshot" holds mutex "store" for 490.127 ms,
 *   blocking 4 tasks: 5, 6, 7, 8`), followed by what that holder itself waits on;
 * - every task: a header line (id, state, name, spawn site, parent, join set group,
 *   time since its last poll, number of polls), a line with its labels if it has any
 *   (`  labels: key="value", ...`), then its async call stacks as a tree (root side
 *   first, indented by two spaces) with, at the end of each leaf's line, what it
 *   waits on (` — waits for mutex "store" held by task 2 for 490.127 ms`), or a
 *   `(not traced: …)` line saying why it has none;
 * - the workers that did not stop.
 *
 * Every string the program supplied (task names, labels, object names, spawn sites,
 * function and file names) is escaped: control characters, quotes and backslashes as
 * in C, invalid UTF-8 as U+FFFD (see the section description), so each task is
 * exactly one header line.  Symbols are resolved on first use and cached, so
 * formatting a second time resolves nothing.
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
  return asyncrt__dump_format_text (d, 0);
}
