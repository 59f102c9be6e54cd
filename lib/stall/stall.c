/* libasyncrt - one stall report (AsyncrtStall) and its text
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership: an AsyncrtStall is built by the watchdog thread on its stack, passed to
 * the program's function for the duration of the call, and cleared afterwards.  Its
 * accessors only read; the trace's symbols are resolved lazily (thread-safe, see
 * lib/trace).
 */
#include "stall/stall-private.h"
#include "trace/trace-private.h"
#include "util/util-private.h"

#include <stdlib.h>
#include <string.h>

void
asyncrt__stall_clear (AsyncrtStall *s)
{
  g_free (s->task_name);
  asyncrt_trace_free (s->trace);
  s->task_name = NULL;
  s->trace = NULL;
}

/**
 * asyncrt_stall_get_task_id:
 * @stall: a stall
 *
 * Thread safety: during the stall function's call, on any thread.
 *
 * Returns: the id of the task whose poll stalled (0 for %NULL).
 * Since: 0.2
 */
AsyncrtTaskId
asyncrt_stall_get_task_id (const AsyncrtStall *stall)
{
  return stall != NULL ? stall->task_id : 0;
}

/**
 * asyncrt_stall_get_task_name:
 * @stall: a stall
 *
 * Thread safety: during the stall function's call, on any thread.
 *
 * Returns: (nullable) (transfer none): the task's name, as given at spawn (not
 *   escaped: it is the program's string), or %NULL if it has none (or for %NULL).
 * Since: 0.2
 */
const char *
asyncrt_stall_get_task_name (const AsyncrtStall *stall)
{
  return stall != NULL ? stall->task_name : NULL;
}

/**
 * asyncrt_stall_get_worker:
 * @stall: a stall
 *
 * Thread safety: during the stall function's call, on any thread.
 *
 * Returns: the index of the worker whose poll stalled (the current-thread runtime's
 *   thread in `block_on` is worker 0), or -1 for %NULL.
 * Since: 0.2
 */
int
asyncrt_stall_get_worker (const AsyncrtStall *stall)
{
  return stall != NULL ? stall->worker : -1;
}

/**
 * asyncrt_stall_get_duration_ns:
 * @stall: a stall
 *
 * Thread safety: during the stall function's call, on any thread.
 *
 * Returns: how long the poll had been running when its stack was sampled, in
 *   nanoseconds (at the kernel tick's resolution, a few milliseconds); 0 for %NULL.
 * Since: 0.2
 */
uint64_t
asyncrt_stall_get_duration_ns (const AsyncrtStall *stall)
{
  return stall != NULL ? stall->duration_ns : 0;
}

/**
 * asyncrt_stall_get_trace:
 * @stall: a stall
 *
 * The native stack of the stalled thread, innermost first, starting at the task's
 * root poll (%ASYNCRT_TRACE_KIND_NATIVE, as in dumps).  Format it with
 * asyncrt_trace_to_string() or read its frames.
 *
 * Thread safety: during the stall function's call, on any thread.
 *
 * Returns: (transfer none) (nullable): the stack, valid during the call, or %NULL
 *   (see asyncrt_stall_get_native_stack_status()).
 * Since: 0.2
 */
const AsyncrtTrace *
asyncrt_stall_get_trace (const AsyncrtStall *stall)
{
  return stall != NULL ? stall->trace : NULL;
}

/**
 * asyncrt_stall_get_native_stack_status:
 * @stall: a stall
 *
 * Thread safety: during the stall function's call, on any thread.
 *
 * Returns: %ASYNCRT_NATIVE_STACK_OK when the stall has a native stack, or why not
 *   (%ASYNCRT_NATIVE_STACK_MOVED_ON: the poll ended before its thread took the
 *   signal); %ASYNCRT_NATIVE_STACK_NOT_SAMPLED for %NULL.
 * Since: 0.2
 */
AsyncrtNativeStackStatus
asyncrt_stall_get_native_stack_status (const AsyncrtStall *stall)
{
  return stall != NULL ? stall->native : ASYNCRT_NATIVE_STACK_NOT_SAMPLED;
}

/**
 * asyncrt_stall_get_n_suppressed:
 * @stall: a stall
 *
 * Thread safety: during the stall function's call, on any thread.
 *
 * Returns: how many stalls the rate limit kept from being reported since the
 *   previous report (0 for %NULL).
 * Since: 0.2
 */
uint64_t
asyncrt_stall_get_n_suppressed (const AsyncrtStall *stall)
{
  return stall != NULL ? stall->n_suppressed : 0;
}

/**
 * asyncrt_stall_to_string:
 * @stall: a stall
 *
 * The report as the detector writes it to stderr when it has no function: a line
 * `asyncrt: stall: task 12 "resize" has been running for 0.104 s on worker 1 —
 * native stack:` followed by the stack, one function per line, innermost first; or
 * the reason it has no stack; and a last line when stalls were left out by the rate
 * limit.  The task's name and every symbol are escaped (control characters, invalid
 * UTF-8, terminal escapes), so the report has exactly the lines its structure gives
 * it.  Symbols are resolved here, on the calling thread.
 *
 * Thread safety: during the stall function's call, on any thread.
 *
 * Returns: (transfer full) (nullable): a string to free() with free(), or %NULL for
 *   %NULL.
 * Since: 0.2
 */
char *
asyncrt_stall_to_string (const AsyncrtStall *stall)
{
  if (stall == NULL)
    return NULL;
  GString *out = g_string_new (NULL);
  g_string_append_printf (out, "asyncrt: stall: task %" G_GUINT64_FORMAT, stall->task_id);
  if (stall->task_name != NULL)
    {
      g_string_append (out, " \"");
      asyncrt__text_append_escaped (out, stall->task_name, true);
      g_string_append_c (out, '"');
    }
  g_string_append_printf (out, " has been running for %.3f s on worker %d",
                          (double) stall->duration_ns / 1e9, stall->worker);
  if (stall->trace != NULL)
    {
      g_string_append (out, " — native stack:\n");
      asyncrt__backtrace_append_native_text (asyncrt_trace_get_backtrace (stall->trace, 0), out,
                                             "    ");
    }
  else
    {
      g_string_append (out, " (no native stack: ");
      g_string_append (out, asyncrt_native_stack_status_to_string (stall->native));
      if (stall->native == ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE && stall->sample_signo > 0)
        {
          char name[32];
          asyncrt__signal_name (stall->sample_signo, name, sizeof name);
          g_string_append_printf (out, ", %s", name);
        }
      g_string_append (out, ")\n");
    }
  if (stall->n_suppressed > 0)
    g_string_append_printf (out, "asyncrt: stall: %" G_GUINT64_FORMAT " more stall%s not "
                            "reported before this one (rate limit)\n", stall->n_suppressed,
                            stall->n_suppressed == 1 ? " was" : "s were");
  char *s = strdup (out->str);
  g_string_free (out, TRUE);
  return s;
}
