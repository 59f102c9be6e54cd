/* libasyncrt - what the dump's formats share: per-trace caching, state and reason names
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads: a sealed dump is immutable (see dump.c), so formatting may run on several
 * threads at once.
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"

/* Tasks suspended at the same place have the same instruction pointers, hence the
 * same tree (symbols are cached per IP): format each distinct trace once per call
 * (thousands of tasks waiting in the same accept loop cost one tree).  The key is the
 * trace's IPs, backtrace by backtrace. */

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

void
asyncrt__dump_append_trace_cached (GHashTable *cache, const AsyncrtTrace *tr, FormatTraceFunc format,
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

GHashTable *
asyncrt__dump_trace_cache_new (void)
{
  return g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                (GDestroyNotify) g_bytes_unref, g_free);
}

const char *
asyncrt__dump_state_name (AsyncrtTaskState s)
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
const char *
asyncrt__dump_no_trace_name (AsyncrtDumpNoTraceReason r)
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
