/* Dumps cost what their distinct stacks cost (issue 16): a dump of 10,000 tasks
 * suspended at the same place stores one stack, one trace shape, and the text form
 * builds and symbolises one tree; tasks at two places give two of each.  Also:
 * once its addresses are symbolised, a chain is captured by the walk by CFI rules
 * (with and without frame pointers, and mixed), with the frames libunwind finds.  Internal API: the dump's trace store, the walk and
 * tree counters. */
#include "dump/dump-private.h"
#include "trace/trace-private.h"
#include "util/util-private.h"
#include "dump-json-util.h"
#include "test-util.h"

#include <stdatomic.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))
#define N_TASKS 10000

typedef struct
{
  atomic_int *polled;
  bool counted;
  bool other;                 /* suspend in other_leaf_poll instead */
} Idle;

static AsyncrtPoll
count_once (Idle *c)
{
  if (!c->counted)
    {
      c->counted = true;
      atomic_fetch_add (c->polled, 1);
    }
  return ASYNCRT_PENDING;
}

static NOINLINE AsyncrtPoll
idle_leaf_poll (Idle *c, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  return count_once (c);
}

static NOINLINE AsyncrtPoll
other_leaf_poll (Idle *c, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  __asm__ volatile ("nop");     /* not folded into idle_leaf_poll */
  return count_once (c);
}

static NOINLINE AsyncrtPoll
middle_poll (Idle *c, AsyncrtContext *cx)
{
  AsyncrtPoll r = c->other ? other_leaf_poll (c, cx) : idle_leaf_poll (c, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

static NOINLINE AsyncrtPoll
idle_task_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtPoll r = middle_poll (p, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

typedef struct
{
  atomic_int *polled;
  int n;
} WaitAll;

static AsyncrtPoll
wait_all_poll (void *p, AsyncrtContext *cx)
{
  WaitAll *w = p;
  if (atomic_load (w->polled) >= w->n)
    return ASYNCRT_READY;
  g_usleep (200);
  asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));
  return ASYNCRT_PENDING;
}

static size_t
count_substr (const char *s, const char *sub)
{
  size_t n = 0;
  for (const char *p = strstr (s, sub); p != NULL; p = strstr (p + 1, sub))
    n++;
  return n;
}

/* @n_other of the N_TASKS tasks suspend in other_leaf_poll. */
static void
check_interned (AsyncrtRuntime *rt, size_t n_other)
{
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  atomic_int polled;
  atomic_init (&polled, 0);
  Idle *idle = g_new0 (Idle, N_TASKS);
  for (size_t i = 0; i < N_TASKS; i++)
    {
      idle[i].polled = &polled;
      idle[i].other = i < n_other;
      asyncrt_join_handle_free (asyncrt_handle_spawn (h, idle_task_poll, &idle[i], NULL));
    }
  WaitAll wa = { &polled, N_TASKS };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, wait_all_poll, &wa), ==, 0);

  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (20000), &d), ==, 0);
  g_assert_true (asyncrt_dump_is_complete (d));
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, N_TASKS);
  size_t distinct = n_other > 0 ? 2 : 1;

  /* Stored once per tracing thread: one stack and one shape per place in the dump's
   * store; a helper's traces keep its own copy of a stack and have the dump's shape of
   * their place. */
  AsyncrtTraceStoreStats st;
  asyncrt__trace_store_get_stats (d->store, &st);
  g_assert_cmpuint (st.n_traces, ==, N_TASKS);
  /* However the work was shared between the workers (the other one helps trace). */
  g_test_message ("traced by the other worker: %zu of %d", st.n_adopted, N_TASKS);
  g_assert_cmpuint (st.n_adopted, <=, N_TASKS);
  g_assert_cmpuint (st.n_stacks, ==, distinct);
  g_assert_cmpuint (st.n_shapes, ==, distinct);
  const AsyncrtBacktraceFrame *frames_seen[4] = { NULL, NULL, NULL, NULL };
  const AsyncrtBacktrace *by_shape[2] = { NULL, NULL };
  size_t n_frame_arrays = 0, n_frames = 0;
  for (size_t i = 0; i < N_TASKS; i++)
    {
      const AsyncrtTrace *tr = asyncrt_dump_task_get_trace (asyncrt_dump_get_task (d, i));
      g_assert_cmpuint (asyncrt_trace_get_n_backtraces (tr), ==, 1);
      const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (tr, 0);
      const AsyncrtBacktraceFrame *f = asyncrt_backtrace_get_frame (bt, 0);
      g_assert_nonnull (f);
      uint32_t shape = asyncrt__trace_store_shape_of (d->store, tr);
      g_assert_cmpuint (shape, >=, 1);
      g_assert_cmpuint (shape, <=, distinct);
      /* A shape is one stack: the same IPs. */
      const AsyncrtBacktrace *first = by_shape[shape - 1];
      if (first == NULL)
        {
          by_shape[shape - 1] = bt;
          n_frames += asyncrt_backtrace_get_n_frames (bt);
        }
      else
        {
          g_assert_cmpuint (asyncrt_backtrace_get_n_frames (bt), ==,
                            asyncrt_backtrace_get_n_frames (first));
          for (size_t k = 0; k < asyncrt_backtrace_get_n_frames (bt); k++)
            g_assert_cmpuint (asyncrt_backtrace_frame_get_ip (asyncrt_backtrace_get_frame (bt, k)),
                              ==, asyncrt_backtrace_frame_get_ip (
                                    asyncrt_backtrace_get_frame (first, k)));
        }
      /* Frames shared: one array per place and tracing thread (two workers). */
      size_t j = 0;
      while (j < n_frame_arrays && frames_seen[j] != f)
        j++;
      if (j == n_frame_arrays)
        {
          g_assert_cmpuint (n_frame_arrays, <, 2 * distinct);
          frames_seen[n_frame_arrays++] = f;
        }
    }
  g_assert_nonnull (by_shape[0]);
  g_assert_true ((by_shape[1] != NULL) == (n_other > 0));
  g_assert_cmpuint (st.n_frames, ==, n_frames);

  /* Formatted once per place: one tree built, symbols looked up for its frames only
   * (each distinct frame once: the frames are shared). */
  AsyncrtSymbolStats s0, s1;
  asyncrt__symbol_get_stats (&s0);
  size_t trees0 = asyncrt__dump_get_n_trees_built ();
  char *text = asyncrt_dump_to_string (d);
  g_assert_cmpuint (asyncrt__dump_get_n_trees_built () - trees0, ==, distinct);
  asyncrt__symbol_get_stats (&s1);
  g_assert_cmpuint ((s1.hits + s1.misses) - (s0.hits + s0.misses), <=, n_frames);
  g_assert_cmpuint (count_substr (text, "idle_leaf_poll"), ==, N_TASKS - n_other);
  g_assert_cmpuint (count_substr (text, "other_leaf_poll"), ==, n_other);
  g_assert_cmpuint (count_substr (text, "\ntask "), ==, N_TASKS + 1);   /* and the summary */
  free (text);

  /* JSON: one entry in "traces" per place. */
  char *json = test_dump_json (d, 0);
  g_assert_cmpuint (count_substr (json, "{\"backtraces\":"), ==, distinct);
  free (json);
  asyncrt_dump_free (d);
  g_free (idle);
}

static AsyncrtRuntime *
build (bool mt)
{
  AsyncrtBuilder *b = mt ? asyncrt_builder_new_multi_thread () : asyncrt_builder_new_current_thread ();
  if (mt)
    asyncrt_builder_set_worker_threads (b, 2);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  return rt;
}

static void
test_identical_mt (void)
{
  AsyncrtRuntime *rt = build (true);
  check_interned (rt, 0);
  asyncrt_runtime_free (rt);
}

static void
test_two_places_mt (void)
{
  AsyncrtRuntime *rt = build (true);
  check_interned (rt, 100);
  asyncrt_runtime_free (rt);
}

/* ---- spare buffers: dumps in a row reuse the last one's arrays --------------------------- */

static void
test_spare_buffers (void)
{
  asyncrt__spare_drop_all ();
  size_t bytes = 0;
  g_assert_null (asyncrt__spare_take (ASYNCRT_SPARE_TRACE_SLOTS, 16, &bytes));
  /* Given, then taken back once, whole, if it is big enough. */
  void *p = g_malloc (4096);
  asyncrt__spare_give (ASYNCRT_SPARE_TRACE_SLOTS, p, 4096);
  g_assert_true (asyncrt__spare_take (ASYNCRT_SPARE_TRACE_SLOTS, 1000, &bytes) == p);
  g_assert_cmpuint (bytes, ==, 4096);
  g_assert_null (asyncrt__spare_take (ASYNCRT_SPARE_TRACE_SLOTS, 16, &bytes));
  /* Too small for what is asked: freed, not handed out. */
  asyncrt__spare_give (ASYNCRT_SPARE_TRACE_SLOTS, p, 4096);
  g_assert_null (asyncrt__spare_take (ASYNCRT_SPARE_TRACE_SLOTS, 8192, &bytes));
  g_assert_null (asyncrt__spare_take (ASYNCRT_SPARE_TRACE_SLOTS, 16, &bytes));
  /* Bigger than the cap, or NULL: not kept. */
  asyncrt__spare_give (ASYNCRT_SPARE_TRACE_SLOTS, g_malloc (ASYNCRT_SPARE_MAX + 1),
                       ASYNCRT_SPARE_MAX + 1);
  g_assert_null (asyncrt__spare_take (ASYNCRT_SPARE_TRACE_SLOTS, 16, &bytes));
  asyncrt__spare_give (ASYNCRT_SPARE_TRACE_SLOTS, NULL, 100);
  /* A second spare replaces the first (which is freed). */
  asyncrt__spare_give (ASYNCRT_SPARE_TRACE_SLOTS, g_malloc (100), 100);
  p = g_malloc (200);
  asyncrt__spare_give (ASYNCRT_SPARE_TRACE_SLOTS, p, 200);
  g_assert_true (asyncrt__spare_take (ASYNCRT_SPARE_TRACE_SLOTS, 16, &bytes) == p);
  g_free (p);
  /* Arrays: taken empty, with their allocation. */
  GArray *a = g_array_new (FALSE, FALSE, sizeof (int));
  g_array_set_size (a, 50);
  asyncrt__spare_give_array (ASYNCRT_SPARE_DUMP_RECORDS, a);
  g_assert_null (asyncrt__spare_take_array (ASYNCRT_SPARE_DUMP_RECORDS, 51));   /* freed */
  a = g_array_new (FALSE, FALSE, sizeof (int));
  g_array_set_size (a, 50);
  asyncrt__spare_give_array (ASYNCRT_SPARE_DUMP_RECORDS, a);
  GArray *b = asyncrt__spare_take_array (ASYNCRT_SPARE_DUMP_RECORDS, 50);
  g_assert_true (b == a);
  g_assert_cmpuint (b->len, ==, 0);
  asyncrt__spare_give_array (ASYNCRT_SPARE_DUMP_RECORDS, b);
  asyncrt__spare_drop_all ();
  g_assert_null (asyncrt__spare_take_array (ASYNCRT_SPARE_DUMP_RECORDS, 0));
}

/* Dumps of a growing, then shrinking, set of tasks in a row: each reuses what the
 * last one freed (bigger, smaller or none), and each is whole and well formed (the
 * reused records are written field by field, never cleared: ASan and valgrind
 * watch every read). */
static void
test_dumps_in_a_row (void)
{
  AsyncrtRuntime *rt = NULL;
  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  asyncrt_builder_set_worker_threads (b, 2);
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  atomic_int polled;
  atomic_init (&polled, 0);
  enum { STEP = 300, STEPS = 3 };
  Idle *idle = g_new0 (Idle, STEP * STEPS);
  for (int round = 0; round < 2 * STEPS; round++)
    {
      /* Rounds 0..2 add 300 tasks each; rounds 3..5 dump fewer with a filter. */
      int n_total = STEP * MIN (round + 1, STEPS);
      if (round < STEPS)
        {
          for (int i = STEP * round; i < n_total; i++)
            {
              idle[i].polled = &polled;
              idle[i].other = i % 2 == 1;
              char name[32];
              g_snprintf (name, sizeof name, "%s-%d", i % 2 ? "odd" : "even", i);
              asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, name, idle_task_poll,
                                                                    &idle[i], NULL));
            }
          WaitAll wa = { &polled, n_total };
          g_assert_cmpint (asyncrt_runtime_block_on (rt, wait_all_poll, &wa), ==, 0);
        }
      AsyncrtDumpOptions *o = asyncrt_dump_options_new ();
      if (round >= STEPS)
        g_assert_cmpint (asyncrt_dump_options_set_name_pattern (o, round == STEPS ? "odd-*" : "even-1*"), ==, 0);
      AsyncrtDump *d = NULL;
      g_assert_cmpint (asyncrt_handle_dump_full (h, test_timeout_ms (20000), o, &d), ==, 0);
      asyncrt_dump_options_free (o);
      g_assert_true (asyncrt_dump_is_complete (d));
      size_t n = asyncrt_dump_get_n_tasks (d);
      if (round < STEPS)
        g_assert_cmpuint (n, ==, (size_t) n_total);
      else if (round == STEPS)
        g_assert_cmpuint (n, ==, (size_t) n_total / 2);
      else
        g_assert_cmpuint (n, >, 0);
      for (size_t i = 0; i < n; i++)
        {
          const AsyncrtDumpTask *t = asyncrt_dump_get_task (d, i);
          if (i > 0)
            g_assert_cmpuint (asyncrt_dump_task_get_id (asyncrt_dump_get_task (d, i - 1)), <,
                              asyncrt_dump_task_get_id (t));
          g_assert_cmpint (asyncrt_dump_task_get_state (t), ==, ASYNCRT_TASK_STATE_IDLE);
          g_assert_cmpint (asyncrt_dump_task_get_trace_kind (t), ==, ASYNCRT_TRACE_KIND_ASYNC);
          g_assert_cmpint (asyncrt_dump_task_get_worker (t), ==, -1);
          g_assert_cmpuint (asyncrt_dump_task_get_n_waits (t), ==, 1);
          const char *name = asyncrt_dump_task_get_name (t);
          g_assert_nonnull (name);
          if (round == STEPS)
            g_assert_true (g_str_has_prefix (name, "odd-"));
          const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (asyncrt_dump_task_get_trace (t), 0);
          const char *leaf = asyncrt_backtrace_symbol_get_name (
            asyncrt_backtrace_frame_get_symbol (asyncrt_backtrace_get_frame (bt, 0), 0));
          g_assert_cmpstr (leaf, ==, g_str_has_prefix (name, "odd-") ? "other_leaf_poll"
                                                                       : "idle_leaf_poll");
        }
      free (asyncrt_dump_to_string (d));
      free (test_dump_json (d, 0));
      asyncrt_dump_free (d);
    }
  asyncrt_runtime_free (rt);
  g_free (idle);
}

/* ---- the walk by learnt CFI rules ------------------------------------------------------- */

#define FP __attribute__((optimize ("no-omit-frame-pointer")))
#define NO_FP __attribute__((optimize ("omit-frame-pointer")))

static NOINLINE FP AsyncrtPoll
fp_leaf_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  return ASYNCRT_READY;
}

static NOINLINE FP AsyncrtPoll
fp_middle_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtPoll r = fp_leaf_poll (p, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

static NOINLINE FP AsyncrtPoll
fp_outer_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtPoll r = fp_middle_poll (p, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

/* A chain of every kind of frame the walk follows, from the leaf up: no frame
 * pointer (CFA from %rsp, %rbp untouched); a variable-size frame (alloca: CFA from
 * %rbp); no frame pointer but %rbp holding a value while it calls (CFA from %rsp,
 * %rbp restored from its slot); and a frame-pointer frame, whose CFA needs the %rbp
 * restored one frame below. */
static volatile size_t mix_size = 40;

static NOINLINE NO_FP AsyncrtPoll
mix_leaf_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  return ASYNCRT_READY;
}

static NOINLINE AsyncrtPoll
mix_alloca_poll (void *p, AsyncrtContext *cx)
{
  size_t n = mix_size;
  volatile char *buf = __builtin_alloca (n);
  buf[0] = 1;
  buf[n - 1] = 2;
  AsyncrtPoll r = mix_leaf_poll (p, cx);
  __asm__ volatile ("" ::: "memory");
  return r + buf[0] - 1;
}

/* Seven values live across the call: with six callee-saved registers, %rbp holds one
 * of them (0x5a5a...) while mix_alloca_poll runs. */
static volatile uintptr_t mix_vals[8] = { 0x5a5a1, 0x5a5a2, 0x5a5a3, 0x5a5a4, 0x5a5a5,
                                          0x5a5a6, 0x5a5a7, 0 };

static NOINLINE NO_FP AsyncrtPoll
mix_busy_poll (void *p, AsyncrtContext *cx)
{
  uintptr_t a = mix_vals[0], b = mix_vals[1], c = mix_vals[2], d = mix_vals[3];
  uintptr_t e = mix_vals[4], f = mix_vals[5], g = mix_vals[6];
  AsyncrtPoll r = mix_alloca_poll (p, cx);
  mix_vals[7] = a + 3 * b + 5 * c + 7 * d + 11 * e + 13 * f + 17 * g;
  return r;
}

static NOINLINE FP AsyncrtPoll
mix_outer_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtPoll r = mix_busy_poll (p, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

static void
poll_rooted (void *data)
{
  asyncrt_trace_root_poll (data, NULL);
}

static const char *
frame_function (const AsyncrtBacktrace *bt, size_t i)
{
  const AsyncrtBacktraceFrame *f = asyncrt_backtrace_get_frame (bt, i);
  size_t n = asyncrt_backtrace_frame_get_n_symbols (f);
  return asyncrt_backtrace_symbol_get_name (asyncrt_backtrace_frame_get_symbol (f, n - 1));
}

static uintptr_t
frame_ip (const AsyncrtTrace *t, size_t i)
{
  return asyncrt_backtrace_frame_get_ip (asyncrt_backtrace_get_frame (
                                           asyncrt_trace_get_backtrace (t, 0), i));
}

/* Captures @root's chain and says which walker took it (true: the walk by rules). */
static AsyncrtTrace *
capture_walked (AsyncrtTraceRoot *root, bool *by_rules)
{
  uint64_t fp0, unw0, fp1, unw1;
  asyncrt__trace_get_walk_stats (&fp0, &unw0);
  AsyncrtTrace *t = asyncrt_trace_capture (poll_rooted, root);
  asyncrt__trace_get_walk_stats (&fp1, &unw1);
  g_assert_cmpuint (fp1 - fp0 + unw1 - unw0, ==, 1);
  *by_rules = fp1 - fp0 == 1;
  return t;
}

/* Nothing learnt: libunwind walks.  Once the frames are symbolised, their rules are
 * known and the walk by rules gives the same frames, @names from the leaf up. */
static void
check_walk_by_rules (AsyncrtPollFunc outer, void *data, const char *const *names, size_t n)
{
#if !defined(__x86_64__) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void) outer, (void) data, (void) names, (void) n;
  g_test_skip ("the walk by rules is used on x86-64 builds without sanitizers");
#else
  AsyncrtTraceRoot root;
  asyncrt_trace_root_init (&root, outer, data);
  asyncrt__trace_walk_forget ();
  bool by_rules;
  AsyncrtTrace *first = capture_walked (&root, &by_rules);
  g_assert_false (by_rules);
  g_assert_cmpint (asyncrt_trace_resolve (first), ==, 0);
  AsyncrtTrace *t = capture_walked (&root, &by_rules);
  g_assert_true (by_rules);
  const AsyncrtBacktrace *a = asyncrt_trace_get_backtrace (first, 0);
  const AsyncrtBacktrace *b = asyncrt_trace_get_backtrace (t, 0);
  g_assert_cmpuint (asyncrt_backtrace_get_n_frames (a), ==, n);
  g_assert_cmpuint (asyncrt_backtrace_get_n_frames (b), ==, n);
  for (size_t i = 0; i < n; i++)
    {
      g_assert_cmpuint (frame_ip (first, i), ==, frame_ip (t, i));
      g_assert_cmpstr (frame_function (b, i), ==, names[i]);
    }
  g_assert_false (asyncrt_backtrace_is_truncated (b));
  asyncrt_trace_free (first);
  asyncrt_trace_free (t);
#endif
}

static void
test_walk_frame_pointers (void)
{
  static const char *const names[] = { "fp_leaf_poll", "fp_middle_poll", "fp_outer_poll" };
  check_walk_by_rules (fp_outer_poll, NULL, names, 3);
}

static void
test_walk_no_frame_pointers (void)
{
  Idle idle = { NULL, true, false };
  static const char *const names[] = { "idle_leaf_poll", "middle_poll", "idle_task_poll" };
  check_walk_by_rules (idle_task_poll, &idle, names, 3);
}

static void
test_walk_mixed (void)
{
  static const char *const names[] = { "mix_leaf_poll", "mix_alloca_poll", "mix_busy_poll",
                                       "mix_outer_poll" };
  check_walk_by_rules (mix_outer_poll, NULL, names, 4);
}

/* A rule the walk cannot follow, or one that would lead outside the stack, makes the
 * capture fall back to libunwind, with the right frames. */
static void
test_walk_refuses (void)
{
#if !defined(__x86_64__) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  g_test_skip ("the walk by rules is used on x86-64 builds without sanitizers");
#else
  AsyncrtTraceRoot root;
  asyncrt_trace_root_init (&root, fp_outer_poll, NULL);
  asyncrt__trace_walk_forget ();
  bool by_rules;
  AsyncrtTrace *good = capture_walked (&root, &by_rules);
  g_assert_cmpint (asyncrt_trace_resolve (good), ==, 0);
  const AsyncrtFrameRule rules[] = {
    { ASYNCRT_CFA_NONE, 16, ASYNCRT_RBP_SAVED, -16, true },
    { ASYNCRT_CFA_RBP, 16, ASYNCRT_RBP_SAVED, -16, false },     /* return address elsewhere */
    { ASYNCRT_CFA_RSP, 30000, ASYNCRT_RBP_SAME, 0, true },      /* past the root */
    { ASYNCRT_CFA_RBP, 16, ASYNCRT_RBP_SAVED, 8, true },        /* slot above the CFA */
    { ASYNCRT_CFA_RSP, -8, ASYNCRT_RBP_SAME, 0, true },         /* CFA below the frame */
  };
  for (size_t k = 0; k < G_N_ELEMENTS (rules); k++)
    {
      asyncrt__trace_walk_learn (frame_ip (good, 1), &rules[k]);
      AsyncrtTrace *t = capture_walked (&root, &by_rules);
      g_assert_false (by_rules);
      for (size_t i = 0; i < 3; i++)
        g_assert_cmpuint (frame_ip (good, i), ==, frame_ip (t, i));
      asyncrt_trace_free (t);
    }
  /* %rbp lost in the middle frame: the outer frame's CFA cannot be found. */
  const AsyncrtFrameRule lost = { ASYNCRT_CFA_RBP, 16, ASYNCRT_RBP_LOST, 0, true };
  asyncrt__trace_walk_learn (frame_ip (good, 1), &lost);
  AsyncrtTrace *t = capture_walked (&root, &by_rules);
  g_assert_false (by_rules);
  asyncrt_trace_free (t);
  asyncrt__trace_walk_forget ();
  asyncrt_trace_free (good);
#endif
}

/* ---- traces of two stores in one (a helper's, asyncrt__trace_store_adopt) -------------- */

static void
capture_rooted_into (AsyncrtTraceStore *s, AsyncrtTraceRoot *root, const AsyncrtTrace **out)
{
  *out = asyncrt__trace_capture_quiet_into (s, poll_rooted, root);
}

static void
test_store_adopt (void)
{
  Idle a = { NULL, true, false }, b = { NULL, true, true };
  AsyncrtTraceRoot ra, rb;
  asyncrt_trace_root_init (&ra, idle_task_poll, &a);
  asyncrt_trace_root_init (&rb, idle_task_poll, &b);
  AsyncrtTraceStore *into = asyncrt__trace_store_new (4);
  AsyncrtTraceStore *from = asyncrt__trace_store_new (4);
  const AsyncrtTrace *t_into, *t_from[3];
  capture_rooted_into (into, &ra, &t_into);            /* place A */
  capture_rooted_into (from, &rb, &t_from[0]);         /* place B */
  capture_rooted_into (from, &ra, &t_from[1]);         /* place A again */
  capture_rooted_into (from, &rb, &t_from[2]);         /* place B again */
  AsyncrtTraceStoreStats st;
  asyncrt__trace_store_get_stats (from, &st);
  g_assert_cmpuint (st.n_stacks, ==, 2);
  asyncrt__trace_store_adopt (into, from);
  asyncrt__trace_store_get_stats (into, &st);
  g_assert_cmpuint (st.n_traces, ==, 4);
  g_assert_cmpuint (st.n_adopted, ==, 3);
  g_assert_cmpuint (st.n_stacks, ==, 2);              /* A once, B once */
  g_assert_cmpuint (st.n_shapes, ==, 2);
  /* Every adopted trace has the store's shape of its place. */
  uint32_t sh_into = asyncrt__trace_store_shape_of (into, t_into);
  uint32_t sh[3];
  for (int i = 0; i < 3; i++)
    {
      sh[i] = asyncrt__trace_store_shape_of (into, t_from[i]);
      g_assert_cmpuint (sh[i], !=, 0);
      g_assert_true (asyncrt__trace_store_home (t_from[i]) == into);
    }
  g_assert_cmpuint (sh_into, !=, 0);
  g_assert_cmpuint (sh[1], ==, sh_into);
  g_assert_cmpuint (sh[0], ==, sh[2]);
  g_assert_cmpuint (sh[0], !=, sh_into);
  /* The trace that stands for a shape moved in, with the store's frames. */
  const AsyncrtTrace *b_first = asyncrt__trace_store_get_shape (into, sh[0] - 1);
  g_assert_true (b_first == t_from[0]);
  g_assert_true (b_first->store == into);
  g_assert_true (t_from[1]->backtraces[0]->frames == t_into->backtraces[0]->frames);
  g_assert_cmpuint (asyncrt__trace_store_shape_of (NULL, t_from[2]), ==, 0);
  g_assert_cmpstr (frame_function (t_from[0]->backtraces[0], 0), ==, "other_leaf_poll");
  g_assert_cmpstr (frame_function (t_from[2]->backtraces[0], 0), ==, "other_leaf_poll");
  g_assert_cmpstr (frame_function (t_from[1]->backtraces[0], 0), ==, "idle_leaf_poll");
  /* A store adopts nothing from NULL; freeing it frees what it adopted. */
  asyncrt__trace_store_adopt (into, NULL);
  asyncrt__trace_store_free (into);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dump/intern/identical-mt", test_identical_mt);
  g_test_add_func ("/dump/intern/two-places-mt", test_two_places_mt);
  g_test_add_func ("/dump/intern/store-adopt", test_store_adopt);
  g_test_add_func ("/dump/intern/spare-buffers", test_spare_buffers);
  g_test_add_func ("/dump/intern/dumps-in-a-row", test_dumps_in_a_row);
  g_test_add_func ("/dump/intern/walk/frame-pointers", test_walk_frame_pointers);
  g_test_add_func ("/dump/intern/walk/no-frame-pointers", test_walk_no_frame_pointers);
  g_test_add_func ("/dump/intern/walk/mixed", test_walk_mixed);
  g_test_add_func ("/dump/intern/walk/refuses", test_walk_refuses);
  test_dump_json_add_check ();
  return g_test_run ();
}
