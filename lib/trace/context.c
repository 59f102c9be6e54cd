/* libasyncrt - the trace context and trace roots
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership
 * ---------
 * The context is thread-local (asyncrt__trace_context): { collector, active_frame }.
 * Only its own thread touches it, so no atomics are involved.
 *
 * - active_frame is the innermost frame of an intrusive list that lives on the C
 *   stack: asyncrt_trace_root_poll() and asyncrt_trace_capture() each push a frame
 *   naming their own code's address range before calling out, and pop it when the
 *   call returns (they have a single exit path; there is no other way out of them
 *   short of longjmp() across a poll, which the runtime does not support).
 * - collector is set only by asyncrt_trace_capture() for the duration of its call.
 *
 * Address ranges
 * --------------
 * Each boundary function is placed in its own linker section (asyncrt_section_trace_root,
 * asyncrt_section_trace_leaf, asyncrt_section_trace_capture).  GNU ld, gold, lld and mold define
 * __start_SECTION / __stop_SECTION for sections whose name is a C identifier, so the
 * exact [start, end) range of the function is a link-time constant: no symbol look-up
 * (which would take the loader lock) ever happens, not even once.  Leaf captures
 * compare return addresses against these ranges (IP-range matching, DESIGN §5).
 *
 * The TLS variable uses the initial-exec model so that asyncrt_trace_leaf()'s fast
 * path is a single %fs-relative load (16 bytes of static TLS).
 */
#include "trace/trace-private.h"

#define ASYNCRT_TRACE_ROOT_SECTION __attribute__((section ("asyncrt_section_trace_root")))

extern const char __start_asyncrt_section_trace_root[] __attribute__((visibility ("hidden")));
extern const char __stop_asyncrt_section_trace_root[] __attribute__((visibility ("hidden")));

__attribute__((tls_model ("initial-exec")))
_Thread_local AsyncrtTraceContext asyncrt__trace_context;

void
asyncrt__trace_root_range (uintptr_t *start, uintptr_t *end)
{
  *start = (uintptr_t) __start_asyncrt_section_trace_root;
  *end = (uintptr_t) __stop_asyncrt_section_trace_root;
}

void
asyncrt__trace_frame_push (AsyncrtTraceFrame *frame, uintptr_t start, uintptr_t end)
{
  frame->start = start;
  frame->end = end;
  frame->parent = asyncrt__trace_context.active_frame;
  asyncrt__trace_context.active_frame = frame;
}

void
asyncrt__trace_frame_pop (AsyncrtTraceFrame *frame)
{
  /* Frames are strictly nested on one thread's stack. */
  g_assert (asyncrt__trace_context.active_frame == frame);
  asyncrt__trace_context.active_frame = frame->parent;
}

/**
 * asyncrt_trace_is_tracing:
 *
 * Tells whether a capture (asyncrt_trace_capture()) is running on the calling
 * thread, i.e. whether leaf futures polled now would be traced.
 *
 * Thread safety: any thread; the answer is about the calling thread.
 *
 * Returns: %TRUE while a capture is running on the calling thread.
 * Since: 0.1
 */
bool
asyncrt_trace_is_tracing (void)
{
  return asyncrt__trace_context.collector != NULL;
}

/**
 * asyncrt_trace_root_init:
 * @root: the root to initialise
 * @poll: the poll function of the wrapped future
 * @future: (nullable): the wrapped future
 *
 * Wraps a future in a trace root.  The task harness and `block_on` poll every task
 * through a root; wrap a future yourself only to trace it with
 * asyncrt_trace_capture().  A %NULL @root is ignored.
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
  for (size_t i = 0; i < G_N_ELEMENTS (root->reserved); i++)
    root->reserved[i] = NULL;
}

/**
 * asyncrt_trace_root_poll:
 * @root: an #AsyncrtTraceRoot
 * @cx: the context of this poll
 *
 * Polls the wrapped future, marking this frame as the root of its async call stack:
 * backtraces captured by leaf futures below it stop just above it.  An
 * #AsyncrtPollFunc itself.  The wrapped poll function is always called through a
 * function pointer, so it can never be inlined into the root and lost.
 *
 * Thread safety: the thread polling the future.
 *
 * Returns: what the wrapped future returns; %ASYNCRT_READY for a %NULL @root or poll
 *   function.
 * Since: 0.1
 */
ASYNCRT_NOINLINE ASYNCRT_TRACE_ROOT_SECTION AsyncrtPoll
asyncrt_trace_root_poll (void *root, AsyncrtContext *cx)
{
  AsyncrtTraceRoot *r = root;
  if (r == NULL || r->poll == NULL)
    return ASYNCRT_READY;

  AsyncrtTraceFrame frame;
  frame.start = (uintptr_t) __start_asyncrt_section_trace_root;
  frame.end = (uintptr_t) __stop_asyncrt_section_trace_root;
  frame.parent = asyncrt__trace_context.active_frame;
  asyncrt__trace_context.active_frame = &frame;

  /* volatile: the compiler must make an indirect call, never inline the future. */
  AsyncrtPollFunc volatile poll = r->poll;
  AsyncrtPoll ret = poll (r->future, cx);

  asyncrt__trace_context.active_frame = frame.parent;
  return ret;
}
