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

/**
 * asyncrt_trace_root_init:
 * @root: the root to initialise
 * @poll: the poll function of the wrapped future
 * @future: the wrapped future
 *
 * Wraps a future in a trace root.  The task harness and `block_on` poll every task
 * through a root; wrap a future yourself only to trace it with
 * asyncrt_trace_capture().
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_trace_root_init (AsyncrtTraceRoot *root, AsyncrtPollFunc poll, void *future)
{
  if (root == NULL)
    return;
  root->poll = poll;
  root->future = future;
}

/**
 * asyncrt_trace_root_poll:
 * @root: an #AsyncrtTraceRoot
 * @cx: the context of this poll
 *
 * Polls the wrapped future, marking this frame as the root of its async call stack.
 * An #AsyncrtPollFunc itself.
 *
 * Thread safety: the thread polling the future.
 *
 * Returns: what the wrapped future returns; %ASYNCRT_READY for a %NULL @root or poll
 *   function.
 * Since: 0.1
 */
ASYNCRT_NOINLINE AsyncrtPoll
asyncrt_trace_root_poll (void *root, AsyncrtContext *cx)
{
  AsyncrtTraceRoot *r = root;
  if (r == NULL || r->poll == NULL)
    return ASYNCRT_READY;
  /* Called through a function pointer so the future can never be inlined here. */
  AsyncrtPollFunc volatile poll = r->poll;
  return poll (r->future, cx);
}
