/* Benchmarks of tracing: capture cost against a bare unw_backtrace() of the same
 * depth, without frame pointers and with them (the _fp figures), walked by the CFI
 * rules learnt when a first capture is resolved, and without frame pointers before
 * any rule is known (the _libunwind figures: libunwind walks); symbol resolution cold
 * and cached, formatting many traces.
 * Prints `name value unit` lines; never fails on a number. */
#include "trace/trace-private.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <stdio.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* A chain of `depth` poll frames: depth - 1 levels of deep_poll, then the leaf. */
typedef struct
{
  int depth;
  int bare;          /* 1: the leaf calls unw_backtrace() itself instead */
  int sink;
} Chain;

static void *bare_buf[256];
static volatile int bare_n;

/* The leaf: unw_backtrace() itself for the bare reference, else a traced leaf. */
#define LEAF_BODY(c, cx)                                      \
  if (c->bare)                                                \
    {                                                         \
      bare_n = unw_backtrace (bare_buf, 256);                 \
      return ASYNCRT_PENDING;                                 \
    }                                                         \
  if (asyncrt_trace_leaf (cx))                                \
    return ASYNCRT_PENDING;                                   \
  return ASYNCRT_READY;

static NOINLINE AsyncrtPoll
leaf_poll (Chain *c, AsyncrtContext *cx)
{
  LEAF_BODY (c, cx)
}

static NOINLINE AsyncrtPoll
deep_poll (Chain *c, int level, AsyncrtContext *cx)
{
  AsyncrtPoll r = level > 1 ? deep_poll (c, level - 1, cx) : leaf_poll (c, cx);
  c->sink += (int) r;
  return r;
}

static AsyncrtPoll
chain_poll (void *p, AsyncrtContext *cx)
{
  Chain *c = p;
  return c->depth > 1 ? deep_poll (c, c->depth - 1, cx) : leaf_poll (c, cx);
}

/* The same chain with frame pointers: captured by the frame-pointer walk. */
#define FP __attribute__((optimize ("no-omit-frame-pointer")))

static NOINLINE FP AsyncrtPoll
leaf_fp_poll (Chain *c, AsyncrtContext *cx)
{
  LEAF_BODY (c, cx)
}

static NOINLINE FP AsyncrtPoll
deep_fp_poll (Chain *c, int level, AsyncrtContext *cx)
{
  AsyncrtPoll r = level > 1 ? deep_fp_poll (c, level - 1, cx) : leaf_fp_poll (c, cx);
  c->sink += (int) r;
  return r;
}

static FP AsyncrtPoll
chain_fp_poll (void *p, AsyncrtContext *cx)
{
  Chain *c = p;
  return c->depth > 1 ? deep_fp_poll (c, c->depth - 1, cx) : leaf_fp_poll (c, cx);
}

typedef struct
{
  AsyncrtTraceRoot root;
  Chain chain;
} Probe;

static void
poll_probe (void *data)
{
  Probe *p = data;
  asyncrt_trace_root_poll (&p->root, NULL);
}

static AsyncrtTrace *
capture_chain (int depth)
{
  Probe p = { .chain = { .depth = depth } };
  asyncrt_trace_root_init (&p.root, chain_poll, &p.chain);
  return asyncrt_trace_capture (poll_probe, &p);
}

/* @fp: the chain with frame pointers, else without; @learnt: walked by the rules
 * learnt when a first capture is resolved, else with none known (libunwind).  Prints
 * which walker the captures took. */
static void
bench_capture (int depth, int iters, bool fp, bool learnt)
{
  Probe p = { .chain = { .depth = depth } };
  asyncrt_trace_root_init (&p.root, fp ? chain_fp_poll : chain_poll, &p.chain);
  const char *sfx = fp ? "_fp" : learnt ? "" : "_libunwind";

  asyncrt__trace_walk_forget ();
  if (learnt)
    {
      AsyncrtTrace *first = asyncrt_trace_capture (poll_probe, &p);
      asyncrt_trace_resolve (first);
      asyncrt_trace_free (first);
    }
  /* Warm libunwind's caches for both paths. */
  for (int i = 0; i < 100; i++)
    {
      asyncrt_trace_free (asyncrt_trace_capture (poll_probe, &p));
      p.chain.bare = 1;
      poll_probe (&p);
      p.chain.bare = 0;
    }

  AsyncrtTrace *check = asyncrt_trace_capture (poll_probe, &p);
  size_t frames = asyncrt_backtrace_get_n_frames (asyncrt_trace_get_backtrace (check, 0));
  asyncrt_trace_free (check);

  /* The machine is shared: interleave batches and keep each side's best batch. */
  uint64_t fp0, unw0, fp1, unw1;
  asyncrt__trace_get_walk_stats (&fp0, &unw0);
  double capture = 1e30, bare = 1e30;
  for (int b = 0; b < 40; b++)
    {
      p.chain.bare = 0;
      uint64_t t0 = now_ns ();
      for (int i = 0; i < iters; i++)
        asyncrt_trace_free (asyncrt_trace_capture (poll_probe, &p));
      uint64_t t1 = now_ns ();
      p.chain.bare = 1;
      for (int i = 0; i < iters; i++)
        poll_probe (&p);
      uint64_t t2 = now_ns ();
      capture = MIN (capture, (double) (t1 - t0) / iters);
      bare = MIN (bare, (double) (t2 - t1) / iters);
    }
  asyncrt__trace_get_walk_stats (&fp1, &unw1);
  printf ("trace_capture_depth%d%s %.0f ns\n", depth, sfx, capture);
  printf ("trace_capture_depth%d%s_frames %zu frames\n", depth, sfx, frames);
  printf ("trace_capture_depth%d%s_rule_walks %.0f %%\n", depth, sfx,
          100.0 * (double) (fp1 - fp0) / (double) MAX (fp1 - fp0 + unw1 - unw0, 1));
  printf ("unw_backtrace_depth%d%s %.0f ns\n", depth, sfx, bare);
  printf ("trace_capture_vs_unw_backtrace_depth%d%s %.2f x\n", depth, sfx, capture / bare);
}

/* Resolution of IPs never seen before: return addresses inside this library's public
 * functions (they have DWARF). */
static void
bench_resolve (void)
{
  /* Opening the Dwfl session (reading /proc/self/maps, opening ELF files). */
  uint64_t t0 = now_ns ();
  asyncrt__symbol_resolve ((uintptr_t) (void *) bench_resolve + 1);
  uint64_t t1 = now_ns ();
  printf ("symbol_session_open %.3f ms\n", (double) (t1 - t0) / 1e6);

  const void *fns[] = {
    (void *) asyncrt_trace_root_init, (void *) asyncrt_trace_root_poll,
    (void *) asyncrt_trace_is_tracing, (void *) asyncrt_trace_capture,
    (void *) asyncrt_trace_free, (void *) asyncrt_trace_resolve,
    (void *) asyncrt_trace_to_string, (void *) asyncrt_trace_to_json,
    (void *) asyncrt_trace_get_n_backtraces, (void *) asyncrt_trace_get_backtrace,
    (void *) asyncrt_backtrace_get_n_frames, (void *) asyncrt_backtrace_get_frame,
    (void *) asyncrt_backtrace_frame_get_ip, (void *) asyncrt_backtrace_frame_get_symbol_address,
    (void *) asyncrt_backtrace_frame_get_n_symbols, (void *) asyncrt_backtrace_frame_get_symbol,
    (void *) asyncrt_backtrace_symbol_get_name, (void *) asyncrt_backtrace_symbol_get_raw_name,
    (void *) asyncrt_backtrace_symbol_get_filename, (void *) asyncrt_backtrace_symbol_get_lineno,
    (void *) asyncrt_backtrace_symbol_get_colno, (void *) asyncrt_context_new,
    (void *) asyncrt_context_free, (void *) asyncrt_waker_clone,
  };
  size_t n = G_N_ELEMENTS (fns);
  t0 = now_ns ();
  for (size_t i = 0; i < n; i++)
    asyncrt__symbol_resolve ((uintptr_t) fns[i] + 8);
  t1 = now_ns ();
  printf ("symbol_resolve_cold %.0f ns/ip\n", (double) (t1 - t0) / n);

  /* A depth-20 trace: first resolution (its IPs are new), then a second trace of the
   * same code (all cached). */
  AsyncrtTrace *a = capture_chain (20);
  AsyncrtTrace *b = capture_chain (20);
  size_t frames = asyncrt_backtrace_get_n_frames (asyncrt_trace_get_backtrace (a, 0));
  t0 = now_ns ();
  asyncrt_trace_resolve (a);
  t1 = now_ns ();
  asyncrt_trace_resolve (b);
  uint64_t t2 = now_ns ();
  printf ("trace_resolve_depth20_first %.0f ns\n", (double) (t1 - t0));
  printf ("trace_resolve_depth20_cached %.0f ns\n", (double) (t2 - t1));
  printf ("trace_resolve_cached %.0f ns/frame\n", (double) (t2 - t1) / (double) frames);
  asyncrt_trace_free (a);
  asyncrt_trace_free (b);
}

static void
bench_format (int n)
{
  AsyncrtTrace **traces = g_new (AsyncrtTrace *, n);
  for (int i = 0; i < n; i++)
    {
      traces[i] = capture_chain (1 + i % 20);
      asyncrt_trace_resolve (traces[i]);
    }

  uint64_t t0 = now_ns ();
  size_t bytes = 0;
  for (int i = 0; i < n; i++)
    {
      char *s = asyncrt_trace_to_string (traces[i]);
      bytes += strlen (s);
      free (s);
    }
  uint64_t t1 = now_ns ();
  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  for (int i = 0; i < n; i++)
    asyncrt__trace_tree_add_trace (tree, traces[i]);
  char *merged = asyncrt__trace_tree_to_string (tree);
  uint64_t t2 = now_ns ();
  for (int i = 0; i < n; i++)
    {
      char *s = asyncrt_trace_to_json (traces[i]);
      free (s);
    }
  uint64_t t3 = now_ns ();

  printf ("trace_to_string_%d_traces %.3f ms\n", n, (double) (t1 - t0) / 1e6);
  printf ("trace_to_string_bytes_%d_traces %zu bytes\n", n, bytes);
  printf ("trace_tree_merge_format_%d_traces %.3f ms\n", n, (double) (t2 - t1) / 1e6);
  printf ("trace_to_json_%d_traces %.3f ms\n", n, (double) (t3 - t2) / 1e6);
  free (merged);
  asyncrt__trace_tree_free (tree);
  for (int i = 0; i < n; i++)
    asyncrt_trace_free (traces[i]);
  g_free (traces);
}

static void
nothing (void *data)
{
  (void) data;
}

/* The fixed cost of a capture that reaches no leaf. */
static void
bench_empty_capture (int iters)
{
  double best = 1e30;
  for (int b = 0; b < 40; b++)
    {
      uint64_t t0 = now_ns ();
      for (int i = 0; i < iters; i++)
        asyncrt_trace_free (asyncrt_trace_capture (nothing, NULL));
      best = MIN (best, (double) (now_ns () - t0) / iters);
    }
  printf ("trace_capture_empty %.0f ns\n", best);
}

static AsyncrtPoll
ready_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  (*(int *) p)++;
  return ASYNCRT_READY;
}

/* The costs every poll pays when no dump is running: the leaf's check, and polling
 * through a root instead of calling the poll function directly. */
static void
bench_not_tracing (int iters)
{
  bool (*volatile leaf) (AsyncrtContext *) = asyncrt_trace_leaf;
  AsyncrtPoll (*volatile direct) (void *, AsyncrtContext *) = ready_poll;
  AsyncrtPoll (*volatile rooted) (void *, AsyncrtContext *) = asyncrt_trace_root_poll;
  int counter = 0;
  AsyncrtTraceRoot root;
  asyncrt_trace_root_init (&root, ready_poll, &counter);
  double best_leaf = 1e30, best_direct = 1e30, best_root = 1e30;
  for (int b = 0; b < 20; b++)
    {
      uint64_t t0 = now_ns ();
      for (int i = 0; i < iters; i++)
        counter += leaf (NULL);
      uint64_t t1 = now_ns ();
      for (int i = 0; i < iters; i++)
        direct (&counter, NULL);
      uint64_t t2 = now_ns ();
      for (int i = 0; i < iters; i++)
        rooted (&root, NULL);
      uint64_t t3 = now_ns ();
      best_leaf = MIN (best_leaf, (double) (t1 - t0) / iters);
      best_direct = MIN (best_direct, (double) (t2 - t1) / iters);
      best_root = MIN (best_root, (double) (t3 - t2) / iters);
    }
  printf ("trace_leaf_not_tracing %.2f ns\n", best_leaf);
  printf ("poll_direct %.2f ns\n", best_direct);
  printf ("poll_through_root %.2f ns\n", best_root);
}

int
main (void)
{
  bench_not_tracing (1000000);
  bench_empty_capture (1000);
  bench_capture (5, 1000, false, true);
  bench_capture (5, 1000, true, true);
  bench_capture (5, 1000, false, false);
  bench_capture (20, 1000, false, true);
  bench_capture (20, 1000, true, true);
  bench_capture (20, 1000, false, false);
  bench_resolve ();
  bench_format (10000);

  AsyncrtSymbolStats st;
  asyncrt__symbol_get_stats (&st);
  printf ("symbol_cache_hits %" G_GUINT64_FORMAT " lookups\n", st.hits);
  printf ("symbol_cache_misses %" G_GUINT64_FORMAT " lookups\n", st.misses);
  return 0;
}
