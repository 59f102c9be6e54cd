/* libasyncrt - leaf captures
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads: a collector belongs to the thread whose context points at it (it lives on
 * the stack of asyncrt_trace_capture()), so nothing here is shared between threads.
 *
 * What a leaf keeps.  unw_backtrace() (libunwind's cached fast path) returns return
 * addresses from the innermost frame outwards:
 *
 *   [unwinder internals] [asyncrt_trace_leaf / leaf_capture] leaf_poll ... outer_poll
 *   [asyncrt_trace_root_poll] ...
 *
 * Frames are classified by IP range only (see context.c): everything up to and
 * including the last frame inside the asyncrt_trace_leaf section is dropped (this is
 * robust against the compiler tail-calling or inlining leaf_capture), and the walk is
 * cut at the first frame inside the active frame's range (the innermost root, or the
 * capture itself when a leaf is polled without a root).  Only raw IPs are stored.
 * A stack with no root within MAX_DEPTH frames keeps its innermost MAX_DEPTH frames
 * and is marked truncated (asyncrt_backtrace_is_truncated()).
 */
#include "trace/trace-private.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#define ASYNCRT_TRACE_LEAF_SECTION __attribute__((section ("asyncrt_section_trace_leaf")))
#define ASYNCRT_TRACE_CAPTURE_SECTION __attribute__((section ("asyncrt_section_trace_capture")))

extern const char __start_asyncrt_section_trace_leaf[] __attribute__((visibility ("hidden")));
extern const char __stop_asyncrt_section_trace_leaf[] __attribute__((visibility ("hidden")));
extern const char __start_asyncrt_section_trace_capture[] __attribute__((visibility ("hidden")));
extern const char __stop_asyncrt_section_trace_capture[] __attribute__((visibility ("hidden")));

/* Deepest stack a leaf walks before giving up finding its root. */
#define MAX_DEPTH ASYNCRT_TRACE_MAX_DEPTH
#define STACK_DEPTH 128

struct _AsyncrtTraceCollector
{
  AsyncrtTrace *trace;
  /* asyncrt_trace_capture(): a clone of each traced leaf's waker (AsyncrtWaker),
   * woken after the capture; created on first use.  Dumps
   * (asyncrt__trace_capture_quiet): NULL and never used: nothing is deferred, the
   * leaves' registrations stand and the task is not re-polled. */
  bool defer_wakes;
  GArray *deferred;
  /* The backtrace of the last leaf traced, for its description (wait.c). */
  AsyncrtBacktrace *last;
};

void
asyncrt__trace_leaf_range (uintptr_t *start, uintptr_t *end)
{
  *start = (uintptr_t) __start_asyncrt_section_trace_leaf;
  *end = (uintptr_t) __stop_asyncrt_section_trace_leaf;
}

void
asyncrt__trace_capture_range (uintptr_t *start, uintptr_t *end)
{
  *start = (uintptr_t) __start_asyncrt_section_trace_capture;
  *end = (uintptr_t) __stop_asyncrt_section_trace_capture;
}

/* ThreadSanitizer crashes when a thread exits after using unw_backtrace(): libunwind
 * frees its per-thread trace cache from a pthread key destructor that locks a mutex,
 * after TSan has torn the thread down (google/sanitizers#943).  TSan builds therefore
 * walk with unw_step(), which keeps no per-thread state; it is slower, and TSan builds
 * are not for speed. */
#if defined(__SANITIZE_THREAD__)
#define ASYNCRT_TRACE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ASYNCRT_TRACE_TSAN 1
#endif
#endif

static inline __attribute__((always_inline)) int
walk_stack (void **buf, int cap)
{
#ifdef ASYNCRT_TRACE_TSAN
  unw_context_t uc;
  unw_cursor_t cursor;
  if (unw_getcontext (&uc) != 0 || unw_init_local (&cursor, &uc) != 0)
    return 0;
  int n = 0;
  while (n < cap && unw_step (&cursor) > 0)
    {
      unw_word_t ip = 0;
      if (unw_get_reg (&cursor, UNW_REG_IP, &ip) != 0 || ip == 0)
        break;
      buf[n++] = (void *) (uintptr_t) ip;
    }
  return n;
#else
  return unw_backtrace (buf, cap);
#endif
}

/* A return address belongs to the call instruction just before it. */
static inline bool
ip_in (uintptr_t ip, uintptr_t start, uintptr_t end)
{
  return ip > start && ip - 1 < end;
}

AsyncrtBacktrace *
asyncrt__trace_last_leaf (void)
{
  AsyncrtTraceCollector *c = asyncrt__trace_context.collector;
  return c != NULL ? c->last : NULL;
}

/* Appends the backtrace of the current leaf to @c; returns false if the stack could
 * not be walked at all.  Inlined into leaf_slow: one frame less to walk. */
static inline __attribute__((always_inline)) bool
leaf_capture (AsyncrtTraceCollector *c)
{
  const uintptr_t leaf_start = (uintptr_t) __start_asyncrt_section_trace_leaf;
  const uintptr_t leaf_end = (uintptr_t) __stop_asyncrt_section_trace_leaf;
  const AsyncrtTraceFrame *frame = asyncrt__trace_context.active_frame;
  void *stack_buf[STACK_DEPTH];
  void **buf = stack_buf;
  int cap = STACK_DEPTH;
  bool ok = false;

  for (;;)
    {
      int n = walk_stack (buf, cap);
      if (n <= 0)
        break;

      /* Skip the unwinder and this section's frames.  If no frame is in the section
       * (the unw_step walk starts at our caller's frame, and asyncrt_trace_leaf tail
       * calls leaf_slow), the walk already starts at the leaf future's poll. */
      int first = 0;
      while (first < n && !ip_in ((uintptr_t) buf[first], leaf_start, leaf_end))
        first++;
      if (first == n)
        first = 0;
      while (first < n && ip_in ((uintptr_t) buf[first], leaf_start, leaf_end))
        first++;

      /* Cut at the innermost root. */
      int last = first;
      bool found = frame == NULL;
      if (frame != NULL)
        for (; last < n; last++)
          if (ip_in ((uintptr_t) buf[last], frame->start, frame->end))
            {
              found = true;
              break;
            }
      if (!found && n == cap && cap < MAX_DEPTH)
        {
          /* The buffer was too small to reach the root: walk again, deeper. */
          cap *= 4;
          if (buf != stack_buf)
            g_free (buf);
          buf = g_new (void *, cap);
          continue;
        }
      /* Without a root in reach, keep what was walked: cut at the walk limit (the
       * stack goes on), or a foreign stack the unwinder could not follow further. */
      AsyncrtBacktrace *bt =
        asyncrt__trace_append_ips (c->trace, (const uintptr_t *) (void *) (buf + first),
                                   (size_t) (last - first));
      bt->truncated = !found && n == cap;
      c->last = bt;
      ok = true;
      break;
    }
  if (buf != stack_buf)
    g_free (buf);
  return ok;
}

static ASYNCRT_NOINLINE ASYNCRT_TRACE_LEAF_SECTION bool
leaf_slow (AsyncrtContext *cx, AsyncrtTraceCollector *c)
{
  /* A stack that cannot be walked still counts as a traced leaf: empty backtrace. */
  if (!leaf_capture (c))
    c->last = asyncrt__trace_append_ips (c->trace, NULL, 0);
  /* asyncrt_trace_capture(): defer a wake of the leaf's own waker, so the task (or
   * the combinator that gave this leaf its own waker) is re-polled after the
   * capture.  A dump's capture leaves the registration alone instead. */
  if (!c->defer_wakes)
    return true;
  const AsyncrtWaker *w = asyncrt_context_get_waker (cx);
  if (w != NULL && !asyncrt_waker_is_empty (w))
    {
      AsyncrtWaker clone = asyncrt_waker_clone (w);
      if (c->deferred == NULL)
        c->deferred = g_array_new (FALSE, FALSE, sizeof (AsyncrtWaker));
      g_array_append_val (c->deferred, clone);
    }
  return true;
}

/**
 * asyncrt_trace_leaf:
 * @cx: the context the leaf future is polled with
 *
 * The first call of every leaf future's poll function, before any state change:
 * |[<!-- language="C" --><!-- sample: body -->
 * if (asyncrt_trace_leaf (cx))
 *   return ASYNCRT_PENDING;
 * ]|
 * When no capture is running on this thread it costs one thread-local load and
 * returns %FALSE.  During a capture it records the backtrace from the calling poll
 * function up to (excluding) the innermost #AsyncrtTraceRoot and returns %TRUE; the
 * leaf must then return %ASYNCRT_PENDING before any state change, so its earlier
 * registration (its stored waker) stays as it was.  Inside asyncrt_trace_capture()
 * the waker of @cx is also woken once the capture has finished; inside a task dump
 * nothing is woken (the task goes back to waiting, see the dump section).
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if the leaf must return %ASYNCRT_PENDING at once, without side
 *   effects, because its task is being traced.
 * Since: 0.1
 */
ASYNCRT_TRACE_LEAF_SECTION bool
asyncrt_trace_leaf (AsyncrtContext *cx)
{
  AsyncrtTraceCollector *c = asyncrt__trace_context.collector;
  if (ASYNCRT_LIKELY (c == NULL))
    return false;
  return leaf_slow (cx, c);   /* cx stays in the first argument register */
}

/* Runs @func with a collector installed.  Inlined into its callers, which live in
 * the capture section: when a leaf is polled without any root, its backtrace stops
 * there. */
static inline __attribute__((always_inline)) AsyncrtTrace *
capture_run (AsyncrtTraceFunc func, void *data, GArray **deferred)
{
  if (func == NULL)
    {
      errno = EINVAL;
      return NULL;
    }
  if (asyncrt__trace_context.collector != NULL)
    {
      errno = EBUSY;
      return NULL;
    }

  AsyncrtTrace *t = asyncrt__trace_new ();
  AsyncrtTraceCollector c = { t, deferred != NULL, NULL, NULL };
  AsyncrtTraceFrame frame;
  asyncrt__trace_frame_push (&frame, (uintptr_t) __start_asyncrt_section_trace_capture,
                             (uintptr_t) __stop_asyncrt_section_trace_capture);
  asyncrt__trace_context.collector = &c;

  AsyncrtTraceFunc volatile f = func;
  f (data);

  asyncrt__trace_context.collector = NULL;
  asyncrt__trace_frame_pop (&frame);
  if (deferred != NULL)
    *deferred = c.deferred;
  return t;
}

ASYNCRT_NOINLINE ASYNCRT_TRACE_CAPTURE_SECTION AsyncrtTrace *
asyncrt__trace_capture_quiet (AsyncrtTraceFunc func, void *data)
{
  /* A dump served inside someone's capture (a block_on called from a capture's
   * function) traces with its own collector and gives theirs back afterwards. */
  AsyncrtTraceCollector *outer = asyncrt__trace_context.collector;
  asyncrt__trace_context.collector = NULL;
  AsyncrtTrace *t = capture_run (func, data, NULL);
  asyncrt__trace_context.collector = outer;
  return t;
}

/* Wakes (and frees) the wakers deferred by a capture, exactly once each. */
static void
wake_deferred (GArray *wakers)
{
  if (wakers == NULL)
    return;
  for (size_t i = 0; i < wakers->len; i++)
    asyncrt_waker_wake (&g_array_index (wakers, AsyncrtWaker, i));
  g_array_free (wakers, TRUE);
}

/**
 * asyncrt_trace_capture:
 * @func: the function to run with tracing enabled
 * @data: (nullable): user data for @func
 *
 * Runs @func on the calling thread with tracing enabled: every leaf future it polls
 * (through an #AsyncrtTraceRoot, see asyncrt_trace_root_poll()) records its async
 * call stack as one #AsyncrtBacktrace and returns %ASYNCRT_PENDING without side
 * effects.  When @func returns, tracing is disabled and then the wakers of the traced
 * leaves are woken, so every traced future is polled again normally.
 *
 * Only raw instruction pointers are recorded here; symbols are resolved later, on
 * first access or with asyncrt_trace_resolve().
 *
 * Captures do not nest: calling this from inside @func (or from a leaf polled by
 * it) fails with %EBUSY and leaves the running capture untouched.
 *
 * Thread safety: any thread; captures on different threads are independent.
 *
 * Returns: (transfer full) (nullable): the trace, to free with asyncrt_trace_free();
 *   %NULL with errno set to %EINVAL if @func is %NULL, or %EBUSY if a capture is
 *   already running on this thread.
 * Since: 0.1
 */
ASYNCRT_NOINLINE ASYNCRT_TRACE_CAPTURE_SECTION AsyncrtTrace *
asyncrt_trace_capture (AsyncrtTraceFunc func, void *data)
{
  GArray *deferred = NULL;
  AsyncrtTrace *t = capture_run (func, data, &deferred);
  wake_deferred (deferred);
  return t;
}
