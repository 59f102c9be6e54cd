/* libasyncrt - trace context (fast path only; capture arrives with lib/trace/capture.c)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "util/common-private.h"

/* The collector of the capture running on this thread, or NULL. */
static _Thread_local void *asyncrt__trace_collector;

/**
 * asyncrt_trace_leaf:
 * @cx: the context the leaf future is polled with
 *
 * The first call of every leaf future's poll function.  When no capture is running
 * on this thread it costs one thread-local load and returns %FALSE.
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if the leaf must return %ASYNCRT_PENDING at once, without side
 *   effects, because its task is being traced.
 * Since: 0.1
 */
bool
asyncrt_trace_leaf (AsyncrtContext *cx)
{
  (void) cx;
  return ASYNCRT_UNLIKELY (asyncrt__trace_collector != NULL);
}

/**
 * asyncrt_trace_is_tracing:
 *
 * Thread safety: any thread; the answer is about the calling thread.
 *
 * Returns: %TRUE while a capture is running on the calling thread.
 * Since: 0.1
 */
bool
asyncrt_trace_is_tracing (void)
{
  return asyncrt__trace_collector != NULL;
}
