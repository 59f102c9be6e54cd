/* libasyncrt - the text form of a dump
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads: a sealed dump is immutable (see dump.c), so formatting may run on several
 * threads at once.
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"

#include <stdlib.h>
#include <string.h>

static void
format_tree_text (const AsyncrtTrace *tr, GString *out)
{
  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  asyncrt__trace_tree_add_trace (tree, tr);
  asyncrt__trace_tree_append_text (tree, out, "  ");
  asyncrt__trace_tree_free (tree);
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
  g_string_append_printf (out, "task %" G_GUINT64_FORMAT " %s", t->id, asyncrt__dump_state_name (t->state));
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
  GHashTable *cache = asyncrt__dump_trace_cache_new ();
  asyncrt__dump_append_header (out, d, false);
  g_string_append_printf (out, "task dump of a %s runtime: %u task%s, %s",
                          d->flavour, d->tasks->len, d->tasks->len == 1 ? "" : "s",
                          d->complete ? "complete" : "incomplete");
  if (d->census != ASYNCRT_DUMP_NO_TRACE_NONE)
    g_string_append_printf (out, " (census: %s)", census_phrase (d->census));
  g_string_append_c (out, '\n');
  asyncrt__dump_append_native_availability_text (out, d);
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      const struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, i);
      append_task_header (out, t);
      append_labels_text (out, t);
      if (t->trace_kind == ASYNCRT_TRACE_KIND_NATIVE)
        {
          asyncrt__dump_append_task_native_text (out, t);
          continue;
        }
      if (t->trace == NULL)
        {
          g_string_append (out, "  (not traced: ");
          append_no_trace_phrase (out, t);
          asyncrt__dump_append_no_native_text (out, t);
          g_string_append (out, ")\n");
          continue;
        }
      if (asyncrt_trace_get_n_backtraces (t->trace) == 0)
        {
          g_string_append (out, "  (no leaf future reached)\n");
          continue;
        }
      asyncrt__dump_append_trace_cached (cache, t->trace, format_tree_text, out);
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
      asyncrt__dump_append_missing_native_text (out, d, w);   /* ends the line */
    }
  asyncrt__dump_append_blocking_jobs_text (out, d);
  /* GLib and libc share malloc on the platforms we support; hand out malloc memory
   * explicitly so free() is always right. */
  g_hash_table_unref (cache);
  char *s = strdup (out->str);
  g_string_free (out, TRUE);
  return s;
}
