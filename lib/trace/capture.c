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
 *
 * Two walkers, and neither goes past the root:
 *
 * - The walk by rules (rule_walk, x86-64 only; a few ns a frame): from leaf_slow's own
 *   frame (it keeps a frame pointer) up to the first return address inside the active
 *   frame's range, it follows for each return address the unwind rule of its call, as
 *   the DWARF CFI gives it: the CFA is %rsp or %rbp plus an offset, the caller's
 *   return address is at CFA - 8, and the caller's %rbp is the same or saved in a
 *   slot below the CFA.  That covers code with and without frame pointers, and
 *   variable-size frames.  The rules are facts of the code, kept per return address
 *   in walk_rules; they are learnt when an address is symbolised (symbol.c reads the
 *   module's CFI with libdw), never in a leaf, so the first capture of a stack uses
 *   libunwind and, once its trace was resolved or formatted, every later one is
 *   walked by rules.  Any other rule (a CFA expression, a signal frame, no CFI) keeps
 *   libunwind for captures through that address.  Every rule is forgotten when a dump
 *   starts after a module was unloaded (new code may reuse its addresses:
 *   asyncrt__trace_walk_revalidate).  Every slot read must also be 8-aligned, lie
 *   within this thread's stack (pthread_getattr_np, read once per thread) and below
 *   the active frame (which lives in the root's own stack frame), and each CFA must
 *   lie above the last: a walk that fails any check stops and the capture falls back
 *   to libunwind, so it can neither crash nor run away.  In practice every frame
 *   between a leaf and its root is walked by rules once symbolised; the sanitizer
 *   builds and other architectures use libunwind.
 * - libunwind (unw_backtrace, its cached fast path; unw_step under TSan): cannot stop
 *   at a condition, so it walks as many frames as the last capture on this thread
 *   needed to reach its root (walk_hint), and walks again deeper only if the root is
 *   not within them: identical stacks in a row (a dump) walk exactly to the root.
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

#include <link.h>
#include <pthread.h>
#include <stdatomic.h>

/* Deepest stack a leaf walks before giving up finding its root. */
#define MAX_DEPTH ASYNCRT_TRACE_MAX_DEPTH
#define STACK_DEPTH 128
/* The first libunwind walk of a thread: enough for most stacks up to their root. */
#define FIRST_WALK 32

struct _AsyncrtTraceCollector
{
  AsyncrtTrace *trace;
  AsyncrtTraceStore *store;  /* where the trace lives (a dump's), or NULL: the heap */
  /* asyncrt_trace_capture(): a clone of each traced leaf's waker (AsyncrtWaker),
   * woken after the capture; created on first use.  Dumps
   * (asyncrt__trace_capture_quiet): NULL and never used: nothing is deferred, the
   * leaves' registrations stand and the task is not re-polled. */
  bool defer_wakes;
  GArray *deferred;
  /* The backtrace of the last leaf traced, for its description (wait.c). */
  AsyncrtBacktrace *last;
  /* Walks by walker, added to the store's counts (or the global ones) at the end. */
  uint32_t n_rule_walks, n_unwind_walks;
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

void
asyncrt__trace_capture_init (void)
{
  static atomic_bool done;
  if (atomic_load_explicit (&done, memory_order_acquire))
    return;
  unw_context_t uc;
  unw_cursor_t cursor;
  if (unw_getcontext (&uc) == 0)
    (void) unw_init_local (&cursor, &uc);     /* runs libunwind's own set-up */
  atomic_store_explicit (&done, true, memory_order_release);
}

/* Frames the last libunwind walk of this thread needed to reach its root. */
static _Thread_local int walk_hint;

/* Captures by walker, statistics for tests and benchmarks.  A capture into a trace
 * store adds its walks to the store's counts, which reach these when the store is
 * freed: the threads tracing one dump do not write one shared cache line per task. */
static atomic_uint_fast64_t n_rule_walks, n_unwind_walks;

void
asyncrt__trace_add_walk_stats (uint64_t rule_walks, uint64_t unwind_walks)
{
  if (rule_walks > 0)
    atomic_fetch_add_explicit (&n_rule_walks, rule_walks, memory_order_relaxed);
  if (unwind_walks > 0)
    atomic_fetch_add_explicit (&n_unwind_walks, unwind_walks, memory_order_relaxed);
}

void
asyncrt__trace_get_walk_stats (uint64_t *rule_walks, uint64_t *unwind_walks)
{
  *rule_walks = atomic_load_explicit (&n_rule_walks, memory_order_relaxed);
  *unwind_walks = atomic_load_explicit (&n_unwind_walks, memory_order_relaxed);
}

/* ---- the walk by CFI rules ---------------------------------------------------------- */

/* Sanitizer builds keep libunwind: their instrumented loads of other frames' slots
 * are not worth reasoning about. */
#if defined(__SANITIZE_ADDRESS__)
#define ASYNCRT_TRACE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASYNCRT_TRACE_ASAN 1
#endif
#endif

#if defined(__x86_64__) && !defined(ASYNCRT_TRACE_TSAN) && !defined(ASYNCRT_TRACE_ASAN)
#define ASYNCRT_TRACE_RULE_WALK 1
#endif

#ifdef ASYNCRT_TRACE_RULE_WALK

/* What is known of a return address: the rule of its call's frame (trace-private.h,
 * AsyncrtFrameRule), packed into one word, 0 while nothing is known.  Learnt from the
 * DWARF CFI when the address is symbolised (symbol.c calls asyncrt__trace_walk_learn):
 * never in a leaf.  A fixed open-addressing table, process-wide and lock-free (so
 * nothing is inherited locked across fork): a slot's key is claimed once by
 * compare-and-swap and never changes; its rule is stored after (release) and read after
 * the key (acquire), so a reader sees 0 or a whole rule; two threads learning one
 * address store the same rule.  A full table leaves new addresses unknown: their
 * captures use libunwind. */
#define RULE_TABLE_SIZE 4096
#define RULE_PROBES 16

/* The packed rule: bits 0-1 the CFA's base (RULE_*), 2-3 how %rbp is restored
 * (AsyncrtRbpRule + 1), 16-31 the CFA's offset, 32-47 %rbp's slot from the CFA. */
enum { RULE_UNKNOWN = 0, RULE_RSP = 1, RULE_RBP = 2, RULE_NONE = 3 };

static atomic_uintptr_t walk_keys[RULE_TABLE_SIZE];
static atomic_uint_least64_t walk_rules[RULE_TABLE_SIZE];

static inline size_t
walk_slot (uintptr_t ip)
{
  return (size_t) ((ip * 0x9e3779b97f4a7c15u) >> 52) & (RULE_TABLE_SIZE - 1);
}

static inline uint64_t
walk_rule (uintptr_t ip)
{
  size_t i = walk_slot (ip);
  for (int k = 0; k < RULE_PROBES; k++, i = (i + 1) & (RULE_TABLE_SIZE - 1))
    {
      uintptr_t key = atomic_load_explicit (&walk_keys[i], memory_order_acquire);
      if (key == ip)
        return atomic_load_explicit (&walk_rules[i], memory_order_acquire);
      if (key == 0)
        return RULE_UNKNOWN;
    }
  return RULE_UNKNOWN;
}

static uint64_t
rule_pack (const AsyncrtFrameRule *r)
{
  /* Only what the walk can follow: the return address at CFA - 8, a CFA above the
   * frame's stack pointer or frame pointer, %rbp's slot below the CFA. */
  if (r->base == ASYNCRT_CFA_NONE || !r->ra_at_cfa_minus_8
      || r->cfa_offset <= 0 || r->cfa_offset > INT16_MAX
      || (r->rbp == ASYNCRT_RBP_SAVED && (r->rbp_offset >= 0 || r->rbp_offset < INT16_MIN)))
    return RULE_NONE;
  uint64_t base = r->base == ASYNCRT_CFA_RSP ? RULE_RSP : RULE_RBP;
  return base | (uint64_t) (r->rbp + 1) << 2 | (uint64_t) (uint16_t) r->cfa_offset << 16
         | (uint64_t) (uint16_t) (r->rbp == ASYNCRT_RBP_SAVED ? r->rbp_offset : 0) << 32;
}

void
asyncrt__trace_walk_learn (uintptr_t ip, const AsyncrtFrameRule *rule)
{
  uint64_t packed = rule_pack (rule);
  size_t i = walk_slot (ip);
  for (int k = 0; k < RULE_PROBES; k++, i = (i + 1) & (RULE_TABLE_SIZE - 1))
    {
      uintptr_t key = atomic_load_explicit (&walk_keys[i], memory_order_acquire);
      if (key == 0)
        {
          uintptr_t expected = 0;
          if (atomic_compare_exchange_strong_explicit (&walk_keys[i], &expected, ip,
                                                       memory_order_acq_rel,
                                                       memory_order_acquire))
            key = ip;
          else
            key = expected;
        }
      if (key == ip)
        {
          atomic_store_explicit (&walk_rules[i], packed, memory_order_release);
          return;
        }
    }
}

/* Rules are facts of the code at an address; after a module is unloaded, new code
 * may sit at its addresses, so every rule is forgotten (set back to unknown: a
 * reader sees the old rule or unknown, and unknown is learnt again when the address
 * is next symbolised).  Checked when a dump starts (asyncrt__trace_walk_revalidate,
 * from asyncrt__trace_store_new): the loader's counter of unloads, read through
 * dl_iterate_phdr (its lock: never in a leaf capture). */
static atomic_ullong rules_seen_subs;

static int
count_unloads (struct dl_phdr_info *info, size_t size, void *data)
{
  unsigned long long *out = data;
  if (size >= offsetof (struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
    *out = info->dlpi_subs;
  return 1;     /* the counter is the same in every entry */
}

bool
asyncrt__trace_walk_knows (uintptr_t ip)
{
  return walk_rule (ip) != RULE_UNKNOWN;
}

void
asyncrt__trace_walk_forget (void)
{
  for (size_t i = 0; i < RULE_TABLE_SIZE; i++)
    atomic_store_explicit (&walk_rules[i], RULE_UNKNOWN, memory_order_release);
}

void
asyncrt__trace_walk_revalidate (void)
{
  unsigned long long subs = 0;
  dl_iterate_phdr (count_unloads, &subs);
  if (subs == atomic_load_explicit (&rules_seen_subs, memory_order_acquire))
    return;
  asyncrt__trace_walk_forget ();
  atomic_store_explicit (&rules_seen_subs, subs, memory_order_release);
}

/* This thread's stack: [lo, hi), read once; lo == hi == 1: unknown. */
static _Thread_local uintptr_t stack_lo, stack_hi;

static bool
stack_bounds (uintptr_t *lo, uintptr_t *hi)
{
  if (stack_hi == 0)
    {
      pthread_attr_t attr;
      void *addr = NULL;
      size_t size = 0;
      stack_lo = stack_hi = 1;
      if (pthread_getattr_np (pthread_self (), &attr) == 0)
        {
          if (pthread_attr_getstack (&attr, &addr, &size) == 0 && addr != NULL && size > 0)
            {
              stack_lo = (uintptr_t) addr;
              stack_hi = (uintptr_t) addr + size;
            }
          pthread_attr_destroy (&attr);
        }
    }
  *lo = stack_lo;
  *hi = stack_hi;
  return stack_hi > stack_lo;
}

/* Walks from the frame of leaf_slow (@fp: it keeps a frame pointer) up to @root by
 * the learnt rules, leaving out the leaf section's frames.  The state of a frame is
 * its return address, stack pointer and %rbp as they are when its callee returns;
 * each rule gives the caller's: CFA = %rsp or %rbp + offset, the return address at
 * CFA - 8, %rbp the same or restored from its slot.  Returns the number of return
 * addresses written to @ips (the root reached), or -1: the walk cannot be trusted
 * here, or an address has no rule yet (libunwind walks instead). */
static inline __attribute__((always_inline)) int
rule_walk (uintptr_t fp, const AsyncrtTraceFrame *root, uintptr_t *ips, int cap,
         uintptr_t leaf_start, uintptr_t leaf_end)
{
  uintptr_t lo, hi;
  if (root == NULL || !stack_bounds (&lo, &hi))
    return -1;
  /* The active frame lives in the root's own stack frame, above every frame below the
   * root: no slot read lies at or beyond it. */
  uintptr_t limit = (uintptr_t) root;
  if (limit > hi || fp < lo || (fp & 7) != 0 || fp + 16 > limit)
    return -1;
  uintptr_t ip = ((const uintptr_t *) fp)[1];
  uintptr_t sp = fp + 16;
  uintptr_t bp = ((const uintptr_t *) fp)[0];
  bool bp_known = true;
  int n = 0;
  for (;;)
    {
      if (ip_in (ip, root->start, root->end))
        return n;
      uint64_t rule = walk_rule (ip);
      unsigned base = (unsigned) (rule & 3);
      if (base == RULE_UNKNOWN || base == RULE_NONE)
        return -1;
      if (n > 0 || !ip_in (ip, leaf_start, leaf_end))
        {
          if (n == cap)
            return -1;          /* deeper than the buffer: libunwind cuts it */
          ips[n++] = ip;
        }
      uintptr_t offset = (uint16_t) (rule >> 16);
      uintptr_t cfa;
      if (base == RULE_RSP)
        cfa = sp + offset;
      else if (bp_known && bp >= sp)
        cfa = bp + offset;
      else
        return -1;
      /* Each frame lies strictly above the last, below the root's. */
      if ((cfa & 7) != 0 || cfa <= sp || cfa > limit)
        return -1;
      uintptr_t next_ip = ((const uintptr_t *) cfa)[-1];
      switch ((unsigned) (rule >> 2) & 3)
        {
        case ASYNCRT_RBP_SAME + 1:
          break;
        case ASYNCRT_RBP_SAVED + 1:
          {
            uintptr_t slot = cfa + (uintptr_t) (intptr_t) (int16_t) (uint16_t) (rule >> 32);
            if ((slot & 7) != 0 || slot < sp || slot + 8 > cfa)
              return -1;
            bp = *(const uintptr_t *) slot;
            bp_known = true;
            break;
          }
        default:
          bp_known = false;
          break;
        }
      sp = cfa;
      ip = next_ip;
    }
}

#else

void
asyncrt__trace_walk_learn (uintptr_t ip, const AsyncrtFrameRule *rule)
{
  (void) ip;
  (void) rule;
}

bool
asyncrt__trace_walk_knows (uintptr_t ip)
{
  (void) ip;
  return true;
}

void
asyncrt__trace_walk_forget (void)
{
}

void
asyncrt__trace_walk_revalidate (void)
{
}

#endif /* ASYNCRT_TRACE_RULE_WALK */

AsyncrtBacktrace *
asyncrt__trace_last_leaf (void)
{
  AsyncrtTraceCollector *c = asyncrt__trace_context.collector;
  return c != NULL ? c->last : NULL;
}

/* Appends a backtrace to @c, of the collector's kind (store or heap). */
static inline __attribute__((always_inline)) AsyncrtBacktrace *
append (AsyncrtTraceCollector *c, const uintptr_t *ips, size_t n, bool truncated)
{
  if (c->store != NULL)
    return asyncrt__trace_store_append_ips (c->store, c->trace, ips, n, truncated);
  AsyncrtBacktrace *bt = asyncrt__trace_append_ips (c->trace, ips, n);
  bt->truncated = truncated;
  return bt;
}

/* Appends the backtrace of the current leaf to @c; returns false if the stack could
 * not be walked at all.  Inlined into leaf_slow: one frame less to walk, and @fp is
 * leaf_slow's own frame. */
static inline __attribute__((always_inline)) bool
leaf_capture (AsyncrtTraceCollector *c, uintptr_t fp)
{
  const uintptr_t leaf_start = (uintptr_t) __start_asyncrt_section_trace_leaf;
  const uintptr_t leaf_end = (uintptr_t) __stop_asyncrt_section_trace_leaf;
  const AsyncrtTraceFrame *frame = asyncrt__trace_context.active_frame;
  void *stack_buf[STACK_DEPTH];

#ifdef ASYNCRT_TRACE_RULE_WALK
  {
    uintptr_t *ips = (uintptr_t *) (void *) stack_buf;
    int n = rule_walk (fp, frame, ips, STACK_DEPTH, leaf_start, leaf_end);
    if (n >= 0)
      {
        c->last = append (c, ips, (size_t) n, false);
        c->n_rule_walks++;
        return true;
      }
  }
#else
  (void) fp;
#endif

  c->n_unwind_walks++;
  void **buf = stack_buf;
  /* No deeper than the last walk needed to reach its root (the root included). */
  int cap = walk_hint > 0 ? MIN (walk_hint, STACK_DEPTH) : FIRST_WALK;
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
          /* The walk stopped before the root: walk again, deeper. */
          if (cap < STACK_DEPTH)
            cap = STACK_DEPTH;
          else
            {
              cap *= 4;
              if (buf != stack_buf)
                g_free (buf);
              buf = g_new (void *, cap);
            }
          continue;
        }
      if (found && frame != NULL)
        walk_hint = last + 1;
      /* Without a root in reach, keep what was walked: cut at the walk limit (the
       * stack goes on), or a foreign stack the unwinder could not follow further. */
      c->last = append (c, (const uintptr_t *) (void *) (buf + first), (size_t) (last - first),
                        !found && n == cap);
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
  /* A stack that cannot be walked still counts as a traced leaf: empty backtrace.
   * __builtin_frame_address makes this function keep a frame pointer. */
  if (!leaf_capture (c, (uintptr_t) __builtin_frame_address (0)))
    c->last = append (c, NULL, 0, false);
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
capture_run (AsyncrtTraceFunc func, void *data, GArray **deferred, AsyncrtTraceStore *store)
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

  AsyncrtTrace *t = store != NULL ? asyncrt__trace_store_new_trace (store) : asyncrt__trace_new ();
  AsyncrtTraceCollector c = { t, store, deferred != NULL, NULL, NULL, 0, 0 };
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
  if (store != NULL)
    {
      asyncrt__trace_store_count_walks (store, c.n_rule_walks, c.n_unwind_walks);
      asyncrt__trace_store_seal_trace (store, t);
    }
  else
    asyncrt__trace_add_walk_stats (c.n_rule_walks, c.n_unwind_walks);
  return t;
}

ASYNCRT_NOINLINE ASYNCRT_TRACE_CAPTURE_SECTION AsyncrtTrace *
asyncrt__trace_capture_quiet (AsyncrtTraceFunc func, void *data)
{
  /* A dump served inside someone's capture (a block_on called from a capture's
   * function) traces with its own collector and gives theirs back afterwards. */
  AsyncrtTraceCollector *outer = asyncrt__trace_context.collector;
  asyncrt__trace_context.collector = NULL;
  AsyncrtTrace *t = capture_run (func, data, NULL, NULL);
  asyncrt__trace_context.collector = outer;
  return t;
}

ASYNCRT_NOINLINE ASYNCRT_TRACE_CAPTURE_SECTION AsyncrtTrace *
asyncrt__trace_capture_quiet_into (AsyncrtTraceStore *s, AsyncrtTraceFunc func, void *data)
{
  AsyncrtTraceCollector *outer = asyncrt__trace_context.collector;
  asyncrt__trace_context.collector = NULL;
  AsyncrtTrace *t = capture_run (func, data, NULL, s);
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
  AsyncrtTrace *t = capture_run (func, data, &deferred, NULL);
  wake_deferred (deferred);
  return t;
}
