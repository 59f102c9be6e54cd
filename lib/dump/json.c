/* libasyncrt - the JSON form of a dump
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
 *                          "running_ns": <n>,
 *                          "native_stack": null | <native stack status>,
 *                          "trace": null | { "backtraces": [...], "tree": [...] } },
 *                        ... ],
 *   "native_stacks": "available" | "disabled" | "signal_in_use" | "unsupported"
 *                    | "failed",
 *   "sample_signal": <signal name, "SIGRTMIN+6"> | null,
 *   "blocking_jobs": [ { "function": <name>, "address": <"0x…">,
 *                        "task_id": <id or null>, "running_ns": <n>,
 *                        "native_stack": null | <native stack status>,
 *                        "trace": null | { "backtraces": [...], "tree": [...] } },
 *                      ... ],
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
 *       "trace_kind": "none" | "async" | "native",
 *       "native_stack": null | <native stack status>,
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
 * asyncrt_task_set_label() (all since 0.2).  Native stacks (since 0.2): a running
 * task's "trace" is its thread's native stack when "trace_kind" is "native" (one
 * backtrace, innermost first, in the same shape as async traces); a native stack
 * status is one of "ok", "no_answer", "signal_blocked", "uninterruptible",
 * "moved_on", "no_thread", "disabled", "signal_in_use", "unsupported", "failed"
 * (#AsyncrtNativeStackStatus), null where nothing was sampled.  A missing worker's
 * "trace" is the same as its running task's.  "worker" is set for running tasks and
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
  GHashTable *cache = asyncrt__dump_trace_cache_new ();
  const char *census = asyncrt__dump_no_trace_name (d->census);
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
      g_string_append_printf (out, ",\"running_ns\":%" G_GUINT64_FORMAT, w->running_ns);
      asyncrt__dump_append_missing_native_json (out, d, w);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "],");
  asyncrt__dump_append_native_json (out, d);
  g_string_append (out, "\"tasks\":[");
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      const struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, i);
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append_printf (out, "{\"id\":%" G_GUINT64_FORMAT ",\"state\":\"%s\",\"worker\":",
                              t->id, asyncrt__dump_state_name (t->state));
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
      const char *why = asyncrt__dump_no_trace_name (t->no_trace);
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
      g_string_append_c (out, '}');
      asyncrt__dump_append_task_native_json (out, t);
      g_string_append (out, ",\"trace\":");
      if (t->trace == NULL)
        g_string_append (out, "null");
      else
        asyncrt__dump_append_trace_cached (cache, t->trace, format_trace_json, out);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "]}");
  g_hash_table_unref (cache);
  char *s = strdup (out->str);
  g_string_free (out, TRUE);
  return s;
}
