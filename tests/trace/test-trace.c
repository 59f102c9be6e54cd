/* Tests of trace captures and symbolisation through the public API.
 *
 * Built twice from this source: tests/trace/test-trace-o0 (-O0 -g) and
 * tests/trace/test-trace-o2 (-O2 -g).  The async functions below are hand-written
 * stackless coroutines; every level does work after awaiting its child, as real
 * coroutines do, so no call is a tail call.  b_poll is always inlined into a_poll, at
 * every optimisation level, so "inlined functions appear as extra symbols of their
 * frame" is checked deterministically.
 */
#include <asyncrt/asyncrt.h>
#include <glib.h>
#include <stdlib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "test-util.h"

#define NOINLINE __attribute__((noinline))

/* ---- a counting waker ------------------------------------------------------------ */

typedef struct
{
  gint refs;
  gint wakes;
  gint wakes_while_tracing;
} Counter;

static void *c_clone (void *d) { g_atomic_int_inc (&((Counter *) d)->refs); return d; }
static void
c_wake_by_ref (void *d)
{
  Counter *c = d;
  g_atomic_int_inc (&c->wakes);
  if (asyncrt_trace_is_tracing ())
    g_atomic_int_inc (&c->wakes_while_tracing);
}
static void c_drop (void *d) { g_atomic_int_add (&((Counter *) d)->refs, -1); }
static void c_wake (void *d) { c_wake_by_ref (d); c_drop (d); }
static const AsyncrtWakerVTable counter_vtable = { c_clone, c_wake, c_wake_by_ref, c_drop };

/* ---- the async functions ----------------------------------------------------------- */

typedef struct
{
  int polls;      /* how often the leaf got past its trace check */
} Leaf;

static NOINLINE AsyncrtPoll
leaf_poll (Leaf *self, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  self->polls++;
  return ASYNCRT_PENDING;
}

typedef struct { int state; Leaf leaf; } C;
typedef struct { int state; C c; } B;
typedef struct { int state; B b; } A;

static NOINLINE AsyncrtPoll
c_poll (C *self, AsyncrtContext *cx)
{
  AsyncrtPoll r = leaf_poll (&self->leaf, cx);
  if (r == ASYNCRT_PENDING)
    {
      self->state = 1;
      return ASYNCRT_PENDING;
    }
  self->state = 2;
  return ASYNCRT_READY;
}

static inline __attribute__((always_inline)) AsyncrtPoll
b_poll (B *self, AsyncrtContext *cx)
{
  AsyncrtPoll r = c_poll (&self->c, cx);
  self->state += r == ASYNCRT_PENDING ? 1 : 2;
  return r;
}

static NOINLINE AsyncrtPoll
a_poll (void *p, AsyncrtContext *cx)
{
  A *self = p;
  AsyncrtPoll r = b_poll (&self->b, cx);
  self->state += r == ASYNCRT_PENDING ? 1 : 2;
  return r;
}

/* Polls one future through a root, like the task harness. */
typedef struct
{
  AsyncrtTraceRoot root;
  AsyncrtContext *cx;
  AsyncrtPoll result;
} RootPoll;

static void
poll_root (void *data)
{
  RootPoll *rp = data;
  rp->result = asyncrt_trace_root_poll (&rp->root, rp->cx);
}

/* Flattened symbol names of a backtrace, innermost first, as "n1,n2,...". */
static char *
backtrace_names (const AsyncrtBacktrace *bt)
{
  GString *s = g_string_new (NULL);
  for (size_t i = 0; i < asyncrt_backtrace_get_n_frames (bt); i++)
    {
      const AsyncrtBacktraceFrame *f = asyncrt_backtrace_get_frame (bt, i);
      for (size_t j = 0; j < asyncrt_backtrace_frame_get_n_symbols (f); j++)
        {
          if (s->len > 0)
            g_string_append_c (s, ',');
          g_string_append (s, asyncrt_backtrace_symbol_get_name (asyncrt_backtrace_frame_get_symbol (f, j)));
        }
    }
  return g_string_free (s, FALSE);
}

static void
test_chain (void)
{
  Counter counter = { 1, 0, 0 };
  AsyncrtWaker w;
  asyncrt_waker_init (&w, &counter_vtable, &counter);
  AsyncrtContext *cx = asyncrt_context_new (&w);
  A a = { 0 };
  RootPoll rp = { .cx = cx };
  asyncrt_trace_root_init (&rp.root, a_poll, &a);

  g_assert_false (asyncrt_trace_is_tracing ());
  AsyncrtTrace *t = asyncrt_trace_capture (poll_root, &rp);
  g_assert_nonnull (t);
  g_assert_false (asyncrt_trace_is_tracing ());
  g_assert_cmpint (rp.result, ==, ASYNCRT_PENDING);
  g_assert_cmpint (a.b.c.leaf.polls, ==, 0);       /* no side effect in trace mode */

  /* The leaf's waker was woken once, after the capture. */
  g_assert_cmpint (counter.wakes, ==, 1);
  g_assert_cmpint (counter.wakes_while_tracing, ==, 0);
  g_assert_cmpint (counter.refs, ==, 2);            /* ours + the context's */

  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (t), ==, 1);
  const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (t, 0);
  g_assert_nonnull (bt);
  g_assert_null (asyncrt_trace_get_backtrace (t, 1));
  g_assert_cmpint (asyncrt_trace_resolve (t), ==, 0);

  /* Exactly leaf, c, a (with b inlined): the root and the leaf entry never appear. */
  g_assert_cmpuint (asyncrt_backtrace_get_n_frames (bt), ==, 3);
  char *names = backtrace_names (bt);
  g_assert_cmpstr (names, ==, "leaf_poll,c_poll,b_poll,a_poll");
  g_free (names);

  const AsyncrtBacktraceFrame *f0 = asyncrt_backtrace_get_frame (bt, 0);
  const AsyncrtBacktraceFrame *f2 = asyncrt_backtrace_get_frame (bt, 2);
  g_assert_null (asyncrt_backtrace_get_frame (bt, 3));
  g_assert_cmpuint (asyncrt_backtrace_frame_get_n_symbols (f0), ==, 1);
  g_assert_cmpuint (asyncrt_backtrace_frame_get_n_symbols (f2), ==, 2);
  g_assert_null (asyncrt_backtrace_frame_get_symbol (f2, 2));
  /* IPs are return addresses inside their function. */
  uintptr_t ip0 = asyncrt_backtrace_frame_get_ip (f0);
  uintptr_t sa0 = asyncrt_backtrace_frame_get_symbol_address (f0);
  g_assert_cmpuint (sa0, ==, (uintptr_t) (void *) leaf_poll);
  g_assert_cmpuint (ip0, >, sa0);
  g_assert_cmpuint (asyncrt_backtrace_frame_get_symbol_address (f2), ==, (uintptr_t) (void *) a_poll);

  for (size_t i = 0; i < 3; i++)
    {
      const AsyncrtBacktraceFrame *f = asyncrt_backtrace_get_frame (bt, i);
      for (size_t j = 0; j < asyncrt_backtrace_frame_get_n_symbols (f); j++)
        {
          const AsyncrtBacktraceSymbol *s = asyncrt_backtrace_frame_get_symbol (f, j);
          g_assert_true (g_str_has_suffix (asyncrt_backtrace_symbol_get_filename (s), "test-trace.c"));
          g_assert_cmpuint (asyncrt_backtrace_symbol_get_lineno (s), >, 0);
          g_assert_cmpstr (asyncrt_backtrace_symbol_get_raw_name (s), ==,
                           asyncrt_backtrace_symbol_get_name (s));
        }
    }
  /* b_poll's location is inside b_poll; a_poll's is the line b_poll was inlined at. */
  const AsyncrtBacktraceSymbol *sb = asyncrt_backtrace_frame_get_symbol (f2, 0);
  const AsyncrtBacktraceSymbol *sa = asyncrt_backtrace_frame_get_symbol (f2, 1);
  g_assert_cmpuint (asyncrt_backtrace_symbol_get_lineno (sb), <, asyncrt_backtrace_symbol_get_lineno (sa));

  /* The tree: one root, one node per symbol, root side first. */
  char *text = asyncrt_trace_to_string (t);
  g_test_message ("%s", text);
  char **lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 5);   /* 4 nodes + the empty tail */
  g_assert_true (g_str_has_prefix (lines[0], "╼ a_poll at "));
  g_assert_true (g_str_has_prefix (lines[1], "└╼ b_poll at "));
  g_assert_true (g_str_has_prefix (lines[2], "   └╼ c_poll at "));
  g_assert_true (g_str_has_prefix (lines[3], "      └╼ leaf_poll at "));
  g_assert_nonnull (strstr (lines[3], "test-trace.c:"));
  g_assert_cmpstr (lines[4], ==, "");
  g_strfreev (lines);
  free (text);

  asyncrt_trace_free (t);
  g_assert_cmpint (counter.refs, ==, 2);
  asyncrt_context_free (cx);
  asyncrt_waker_free (&w);
  g_assert_cmpint (counter.refs, ==, 0);
}

/* ---- two leaves in one poll; recursion -------------------------------------------- */

typedef struct { int depth; Leaf leaf; } Rec;

static NOINLINE AsyncrtPoll
rec_poll (Rec *self, int depth, AsyncrtContext *cx)
{
  AsyncrtPoll r;
  if (depth > 0)
    r = rec_poll (self, depth - 1, cx);
  else
    r = leaf_poll (&self->leaf, cx);
  self->depth = r == ASYNCRT_PENDING ? depth : -1;
  return r;
}

typedef struct { Rec kids[2]; int depths[2]; int done; } Join;

/* Polls both children from the same call site, like a join combinator. */
static NOINLINE AsyncrtPoll
join_poll (void *p, AsyncrtContext *cx)
{
  Join *self = p;
  int ready = 0;
  for (int i = 0; i < 2; i++)
    ready += rec_poll (&self->kids[i], self->depths[i], cx) == ASYNCRT_READY;
  self->done = ready;
  return ready == 2 ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static AsyncrtTrace *
capture_join (int d0, int d1, Counter *counter)
{
  AsyncrtWaker w;
  asyncrt_waker_init (&w, &counter_vtable, counter);
  AsyncrtContext *cx = asyncrt_context_new (&w);
  Join j = { .depths = { d0, d1 } };
  RootPoll rp = { .cx = cx };
  asyncrt_trace_root_init (&rp.root, join_poll, &j);
  AsyncrtTrace *t = asyncrt_trace_capture (poll_root, &rp);
  asyncrt_context_free (cx);
  asyncrt_waker_free (&w);
  return t;
}

static void
test_two_leaves (void)
{
  Counter counter = { 1, 0, 0 };
  AsyncrtTrace *t = capture_join (0, 0, &counter);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (t), ==, 2);
  g_assert_cmpint (counter.wakes, ==, 2);                 /* one deferred wake per leaf */
  g_assert_cmpint (counter.wakes_while_tracing, ==, 0);
  for (size_t i = 0; i < 2; i++)
    {
      char *names = backtrace_names (asyncrt_trace_get_backtrace (t, i));
      g_assert_cmpstr (names, ==, "leaf_poll,rec_poll,join_poll");
      g_free (names);
    }
  /* Same call sites: the backtraces are equal and merge completely. */
  char *text = asyncrt_trace_to_string (t);
  char **lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  g_strfreev (lines);
  free (text);
  asyncrt_trace_free (t);
  g_assert_cmpint (counter.refs, ==, 0);
}

static void
test_recursion_branch (void)
{
  Counter counter = { 1, 0, 0 };
  AsyncrtTrace *t = capture_join (1, 2, &counter);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (t), ==, 2);
  char *n0 = backtrace_names (asyncrt_trace_get_backtrace (t, 0));
  char *n1 = backtrace_names (asyncrt_trace_get_backtrace (t, 1));
  g_assert_cmpstr (n0, ==, "leaf_poll,rec_poll,rec_poll,join_poll");
  g_assert_cmpstr (n1, ==, "leaf_poll,rec_poll,rec_poll,rec_poll,join_poll");
  g_free (n0);
  g_free (n1);

  /* join → rec(recursing) → rec, which calls the leaf in the first backtrace and
   * recurses in the second: one node (one function under one parent) suspended at
   * both places, with both continuations as children; the same function at another
   * depth is another node. */
  char *text = asyncrt_trace_to_string (t);
  g_test_message ("%s", text);
  char **lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 7);
  g_assert_true (g_str_has_prefix (lines[0], "╼ join_poll at "));
  g_assert_true (g_str_has_prefix (lines[1], "└╼ rec_poll at "));
  g_assert_true (g_str_has_prefix (lines[2], "   └╼ rec_poll at "));
  g_assert_true (g_str_has_prefix (lines[3], "      ├╼ leaf_poll at "));
  g_assert_true (g_str_has_prefix (lines[4], "      └╼ rec_poll at "));
  g_assert_true (g_str_has_prefix (lines[5], "         └╼ leaf_poll at "));
  /* The middle rec_poll lists the place that calls the leaf (first seen, as the
   * deepest rec_poll's), then the place that recurses (as the outer one's). */
  const char *outer = strstr (lines[1], " at "), *mid = strstr (lines[2], " at ");
  const char *deepest = strstr (lines[4], " at ");
  g_assert_true (g_str_has_prefix (mid, deepest));
  const char *second = strstr (mid, ", ");
  g_assert_nonnull (second);
  const char *outer_line = strstr (outer, "test-trace.c:");
  g_assert_nonnull (outer_line);
  g_assert_cmpstr (second + 2, ==, outer_line + strlen ("test-trace.c:"));
  g_assert_cmpstr (outer, !=, deepest);
  g_strfreev (lines);
  free (text);
  asyncrt_trace_free (t);
}

/* A combinator that gives each child its own waker (as a select or join with
 * per-child wake-up tracking does): each traced leaf defers a wake of *its own*
 * context's waker, so every level is re-polled after the capture. */
typedef struct
{
  Rec kids[2];
  Counter child_counters[2];
} PerChildJoin;

static NOINLINE AsyncrtPoll
per_child_join_poll (void *p, AsyncrtContext *cx)
{
  PerChildJoin *self = p;
  int ready = 0;
  for (int i = 0; i < 2; i++)
    {
      AsyncrtWaker w;
      asyncrt_waker_init (&w, &counter_vtable, &self->child_counters[i]);
      AsyncrtContext *child_cx = asyncrt_context_new (&w);
      asyncrt_waker_free (&w);
      ready += rec_poll (&self->kids[i], 0, child_cx) == ASYNCRT_READY;
      asyncrt_context_free (child_cx);
    }
  return ready == 2 ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static void
test_per_child_wakers (void)
{
  Counter task = { 1, 0, 0 };
  AsyncrtWaker w;
  asyncrt_waker_init (&w, &counter_vtable, &task);
  AsyncrtContext *cx = asyncrt_context_new (&w);
  PerChildJoin j = { .child_counters = { { 1, 0, 0 }, { 1, 0, 0 } } };   /* one ref each: the poll's */
  RootPoll rp = { .cx = cx };
  asyncrt_trace_root_init (&rp.root, per_child_join_poll, &j);
  AsyncrtTrace *t = asyncrt_trace_capture (poll_root, &rp);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (t), ==, 2);
  g_assert_cmpint (task.wakes, ==, 0);
  for (int i = 0; i < 2; i++)
    {
      g_assert_cmpint (j.child_counters[i].wakes, ==, 1);
      g_assert_cmpint (j.child_counters[i].wakes_while_tracing, ==, 0);
      g_assert_cmpint (j.child_counters[i].refs, ==, 0);
    }
  asyncrt_trace_free (t);
  asyncrt_context_free (cx);
  asyncrt_waker_free (&w);
}

/* A root inside a traced future (e.g. a future that polls another one through its own
 * root): the backtrace stops at the innermost root. */
typedef struct { AsyncrtTraceRoot inner; A a; int state; } Outer;

static NOINLINE AsyncrtPoll
outer_poll (void *p, AsyncrtContext *cx)
{
  Outer *self = p;
  AsyncrtPoll r = asyncrt_trace_root_poll (&self->inner, cx);
  self->state++;
  return r;
}

static void
test_nested_roots (void)
{
  Outer o = { .state = 0 };
  asyncrt_trace_root_init (&o.inner, a_poll, &o.a);
  RootPoll rp = { .cx = asyncrt_context_new (NULL) };
  asyncrt_trace_root_init (&rp.root, outer_poll, &o);
  AsyncrtTrace *t = asyncrt_trace_capture (poll_root, &rp);
  g_assert_cmpint (o.state, ==, 1);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (t), ==, 1);
  char *names = backtrace_names (asyncrt_trace_get_backtrace (t, 0));
  g_assert_cmpstr (names, ==, "leaf_poll,c_poll,b_poll,a_poll");
  g_free (names);
  asyncrt_trace_free (t);
  /* After the inner root returned, the outer one is active again. */
  A a2 = { 0 };
  RootPoll rp2 = { .cx = rp.cx };
  asyncrt_trace_root_init (&rp2.root, a_poll, &a2);
  t = asyncrt_trace_capture (poll_root, &rp2);
  names = backtrace_names (asyncrt_trace_get_backtrace (t, 0));
  g_assert_cmpstr (names, ==, "leaf_poll,c_poll,b_poll,a_poll");
  g_free (names);
  asyncrt_trace_free (t);
  asyncrt_context_free (rp.cx);
}

/* ---- errors and edge cases ----------------------------------------------------------- */

typedef struct
{
  AsyncrtTrace *inner;
  int inner_errno;
  RootPoll rp;
} Nested;

static void
nested_capture (void *data)
{
  Nested *n = data;
  errno = 0;
  n->inner = asyncrt_trace_capture (poll_root, &n->rp);
  n->inner_errno = errno;
  g_assert_true (asyncrt_trace_is_tracing ());        /* the outer one still runs */
  poll_root (&n->rp);                                   /* and still collects */
}

static void
test_nested_capture (void)
{
  A a = { 0 };
  Nested n = { .rp.cx = asyncrt_context_new (NULL) };
  asyncrt_trace_root_init (&n.rp.root, a_poll, &a);
  AsyncrtTrace *t = asyncrt_trace_capture (nested_capture, &n);
  g_assert_nonnull (t);
  g_assert_null (n.inner);
  g_assert_cmpint (n.inner_errno, ==, EBUSY);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (t), ==, 1);
  char *names = backtrace_names (asyncrt_trace_get_backtrace (t, 0));
  g_assert_cmpstr (names, ==, "leaf_poll,c_poll,b_poll,a_poll");
  g_free (names);
  asyncrt_trace_free (t);
  asyncrt_context_free (n.rp.cx);
}

static void
test_errors (void)
{
  errno = 0;
  g_assert_null (asyncrt_trace_capture (NULL, NULL));
  g_assert_cmpint (errno, ==, EINVAL);
  g_assert_cmpint (asyncrt_trace_resolve (NULL), ==, -EINVAL);
  errno = 0;
  g_assert_null (asyncrt_trace_to_string (NULL));
  g_assert_cmpint (errno, ==, EINVAL);
  errno = 0;
  g_assert_null (asyncrt_trace_to_json (NULL));
  g_assert_cmpint (errno, ==, EINVAL);
  asyncrt_trace_free (NULL);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (NULL), ==, 0);
  g_assert_null (asyncrt_trace_get_backtrace (NULL, 0));
  g_assert_cmpuint (asyncrt_backtrace_get_n_frames (NULL), ==, 0);
  g_assert_null (asyncrt_backtrace_get_frame (NULL, 0));
  g_assert_cmpuint (asyncrt_backtrace_frame_get_ip (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_backtrace_frame_get_symbol_address (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_backtrace_frame_get_n_symbols (NULL), ==, 0);
  g_assert_null (asyncrt_backtrace_frame_get_symbol (NULL, 0));
  g_assert_null (asyncrt_backtrace_symbol_get_name (NULL));
  g_assert_null (asyncrt_backtrace_symbol_get_raw_name (NULL));
  g_assert_null (asyncrt_backtrace_symbol_get_filename (NULL));
  g_assert_cmpuint (asyncrt_backtrace_symbol_get_lineno (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_backtrace_symbol_get_colno (NULL), ==, 0);
  asyncrt_trace_root_init (NULL, a_poll, NULL);
  g_assert_cmpint (asyncrt_trace_root_poll (NULL, NULL), ==, ASYNCRT_READY);
  AsyncrtTraceRoot empty;
  asyncrt_trace_root_init (&empty, NULL, NULL);
  g_assert_cmpint (asyncrt_trace_root_poll (&empty, NULL), ==, ASYNCRT_READY);

  /* Not tracing: the leaf proceeds. */
  g_assert_false (asyncrt_trace_leaf (NULL));
  Leaf leaf = { 0 };
  leaf_poll (&leaf, NULL);
  g_assert_cmpint (leaf.polls, ==, 1);
}

static void
noop (void *data)
{
  (*(int *) data)++;
}

static void
test_empty_capture (void)
{
  int calls = 0;
  AsyncrtTrace *t = asyncrt_trace_capture (noop, &calls);
  g_assert_cmpint (calls, ==, 1);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (t), ==, 0);
  char *text = asyncrt_trace_to_string (t);
  g_assert_cmpstr (text, ==, "");
  free (text);
  char *json = asyncrt_trace_to_json (t);
  g_assert_cmpstr (json, ==, "{\"version\":1,\"backtraces\":[],\"tree\":[]}");
  free (json);
  asyncrt_trace_free (t);
}

/* A leaf polled without any root: its backtrace stops at the capture. */
static void
rootless (void *data)
{
  A *a = data;
  a_poll (a, NULL);
}

static void
test_no_root (void)
{
  A a = { 0 };
  AsyncrtTrace *t = asyncrt_trace_capture (rootless, &a);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (t), ==, 1);
  char *names = backtrace_names (asyncrt_trace_get_backtrace (t, 0));
  g_assert_true (g_str_has_prefix (names, "leaf_poll,c_poll,b_poll,a_poll"));
  g_assert_null (strstr (names, "asyncrt_trace_capture"));
  g_free (names);
  asyncrt_trace_free (t);
}

/* ---- JSON ---------------------------------------------------------------------- */

static void
test_json (void)
{
  Counter counter = { 1, 0, 0 };
  AsyncrtTrace *t = capture_join (1, 2, &counter);
  char *json = asyncrt_trace_to_json (t);
  g_assert_true (g_str_has_prefix (json, "{\"version\":1,"));

  char *python = g_find_program_in_path ("python3");
  if (python == NULL)
    {
      g_test_skip ("python3 not available");
    }
  else
    {
      g_free (python);
      /* A real parser must accept it, and see the structure we expect. */
      char *path = NULL;
      int fd = g_file_open_tmp ("asyncrt-trace-XXXXXX.json", &path, NULL);
      g_assert_cmpint (fd, >=, 0);
      g_assert_true (g_file_set_contents (path, json, -1, NULL));
      close (fd);
      char *script = g_strdup_printf (
        "import json,sys\n"
        "d=json.load(open(sys.argv[1]))\n"
        "assert d['version']==1\n"
        "bt=d['backtraces']\n"
        "assert len(bt)==2\n"
        "names=[s['name'] for f in bt[1]['frames'] for s in f['symbols']]\n"
        "assert names==['leaf_poll','rec_poll','rec_poll','rec_poll','join_poll'],names\n"
        "assert all(f['ip'].startswith('0x') for f in bt[0]['frames'])\n"
        "t=d['tree']\n"
        "assert len(t)==1 and t[0]['name']=='join_poll'\n"
        "assert t[0]['file'].endswith('test-trace.c') and t[0]['line']>0\n"
        "mid=t[0]['children'][0]['children']\n"
        "assert len(mid)==1 and mid[0]['name']=='rec_poll'\n"
        "assert len(mid[0]['locations'])==2 and len(mid[0]['children'])==2\n"
        "assert mid[0]['line']==mid[0]['locations'][0]['line']\n"
        "assert all(not b['truncated'] for b in bt)\n");
      char *argv[] = { "python3", "-c", script, path, NULL };
      int status = -1;
      char *err = NULL;
      g_assert_true (g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                                   &err, &status, NULL));
      if (!g_spawn_check_wait_status (status, NULL))
        g_error ("python3 rejected the JSON: %s\n%s", err, json);
      g_free (err);
      g_free (script);
      g_unlink (path);
      g_free (path);
    }
  free (json);
  asyncrt_trace_free (t);
}

/* ---- forwarding polls keep their frame with ASYNCRT_FORWARD ------------------------- */

/* `return inner (…);`: at -O2 a sibling call, and this frame is gone. */
static NOINLINE AsyncrtPoll
forward_plain_poll (void *p, AsyncrtContext *cx)
{
  return leaf_poll (p, cx);
}

static NOINLINE AsyncrtPoll
forward_macro_poll (void *p, AsyncrtContext *cx)
{
  ASYNCRT_FORWARD (leaf_poll (p, cx));
}

static char *
capture_names (AsyncrtPollFunc poll)
{
  Leaf leaf = { 0 };
  RootPoll rp = { .cx = asyncrt_context_new (NULL) };
  asyncrt_trace_root_init (&rp.root, poll, &leaf);
  AsyncrtTrace *t = asyncrt_trace_capture (poll_root, &rp);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (t), ==, 1);
  char *names = backtrace_names (asyncrt_trace_get_backtrace (t, 0));
  asyncrt_trace_free (t);
  asyncrt_context_free (rp.cx);
  /* Outside a capture the macro returns what the inner poll returns. */
  rp.cx = asyncrt_context_new (NULL);
  g_assert_true (poll (&leaf, rp.cx) == ASYNCRT_PENDING);
  g_assert_cmpint (leaf.polls, ==, 1);
  asyncrt_context_free (rp.cx);
  return names;
}

static void
test_forward (void)
{
  char *plain = capture_names (forward_plain_poll);
  char *macro = capture_names (forward_macro_poll);
  g_test_message ("return inner (…): %s; ASYNCRT_FORWARD: %s", plain, macro);
  /* With the macro the forwarding frame is there at every optimisation level (the
   * plain form loses it at -O2: it shows the leaf alone). */
  g_assert_cmpstr (macro, ==, "leaf_poll,forward_macro_poll");
  /* Not asserted: whether the plain form keeps its frame depends on the compiler and
   * on instrumentation (TSan's function-exit hook prevents sibling calls). */
  if (g_strcmp0 (plain, "leaf_poll") == 0)
    g_test_message ("the plain form lost its frame in this build; the macro kept it");
  else
    g_assert_cmpstr (plain, ==, "leaf_poll,forward_plain_poll");
  g_free (plain);
  g_free (macro);
}

/* ---- a stack deeper than the walk limit: cut, and said so ---------------------------- */

#define DEEPER (ASYNCRT_TRACE_MAX_FRAMES + 200)

typedef struct
{
  int depth;
  Leaf leaf;
} Deep;

static NOINLINE AsyncrtPoll
deep_poll (Deep *self, int level, AsyncrtContext *cx)
{
  AsyncrtPoll r = level == 0 ? leaf_poll (&self->leaf, cx) : deep_poll (self, level - 1, cx);
  self->depth++;                 /* work after the call: never a tail call */
  return r;
}

static AsyncrtPoll
deep_root_poll (void *p, AsyncrtContext *cx)
{
  Deep *self = p;
  AsyncrtPoll r = deep_poll (self, DEEPER, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

static AsyncrtPoll
shallow_root_poll (void *p, AsyncrtContext *cx)
{
  Deep *self = p;
  AsyncrtPoll r = deep_poll (self, 10, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

static void *
deep_thread (void *data)
{
  AsyncrtTrace **out = data;
  Deep deep = { 0 };
  RootPoll rp = { .cx = asyncrt_context_new (NULL) };
  asyncrt_trace_root_init (&rp.root, deep_root_poll, &deep);
  out[0] = asyncrt_trace_capture (poll_root, &rp);
  asyncrt_trace_root_init (&rp.root, shallow_root_poll, &deep);
  out[1] = asyncrt_trace_capture (poll_root, &rp);
  asyncrt_context_free (rp.cx);
  return NULL;
}

static void
test_truncated (void)
{
  /* On a thread with a big stack: sanitizers make frames large. */
  AsyncrtTrace *t[2] = { NULL, NULL };
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, 64u << 20);
  pthread_t th;
  g_assert_cmpint (pthread_create (&th, &attr, deep_thread, t), ==, 0);
  pthread_join (th, NULL);
  pthread_attr_destroy (&attr);

  const AsyncrtBacktrace *deep = asyncrt_trace_get_backtrace (t[0], 0);
  const AsyncrtBacktrace *shallow = asyncrt_trace_get_backtrace (t[1], 0);
  g_assert_true (asyncrt_backtrace_is_truncated (deep));
  g_assert_false (asyncrt_backtrace_is_truncated (shallow));
  /* The innermost frames are kept: the leaf, then the recursion. */
  g_assert_cmpuint (asyncrt_backtrace_get_n_frames (deep), >, ASYNCRT_TRACE_MAX_FRAMES - 16);
  g_assert_cmpuint (asyncrt_backtrace_get_n_frames (deep), <=, ASYNCRT_TRACE_MAX_FRAMES);
  g_assert_cmpstr (asyncrt_backtrace_symbol_get_name (asyncrt_backtrace_frame_get_symbol (
                     asyncrt_backtrace_get_frame (deep, 0), 0)), ==, "leaf_poll");
  g_assert_cmpuint (asyncrt_backtrace_get_n_frames (shallow), ==, 13);   /* leaf, 11 deep, root */

  /* (The text form of 8,000 nested frames is huge: the marker's text is checked on a
   * synthetic trace in tests/dump/test-dump-model.) */
  char *text = asyncrt_trace_to_string (t[1]);
  g_assert_true (g_str_has_prefix (text, "╼ shallow_root_poll at "));
  free (text);
  char *json = asyncrt_trace_to_json (t[0]);
  g_assert_true (g_str_has_prefix (json, "{\"version\":1,\"backtraces\":[{\"truncated\":true,"));
  g_assert_nonnull (strstr (json, "\"tree\":[{\"name\":\"…\",\"file\":null,\"line\":0,"
                                  "\"column\":0,\"truncated\":true,"));
  free (json);
  asyncrt_trace_free (t[0]);
  asyncrt_trace_free (t[1]);
}

/* ---- threads --------------------------------------------------------------------- */

#define N_THREADS 4
#define N_ROUNDS 50

static gpointer
capture_thread (gpointer data)
{
  gint *failures = data;
  for (int i = 0; i < N_ROUNDS; i++)
    {
      A a = { 0 };
      RootPoll rp = { .cx = asyncrt_context_new (NULL) };
      asyncrt_trace_root_init (&rp.root, a_poll, &a);
      AsyncrtTrace *t = asyncrt_trace_capture (poll_root, &rp);
      char *names = t != NULL ? backtrace_names (asyncrt_trace_get_backtrace (t, 0)) : NULL;
      if (g_strcmp0 (names, "leaf_poll,c_poll,b_poll,a_poll") != 0)
        g_atomic_int_inc (failures);
      g_free (names);
      char *text = asyncrt_trace_to_string (t);
      free (text);
      asyncrt_trace_free (t);
      asyncrt_context_free (rp.cx);
    }
  return NULL;
}

static void
test_threads (void)
{
  gint failures = 0;
  GThread *threads[N_THREADS];
  for (int i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("capture", capture_thread, &failures);
  for (int i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (failures, ==, 0);
}

/* The same trace resolved and formatted by several threads at once. */
static gpointer
resolve_thread (gpointer data)
{
  AsyncrtTrace *t = data;
  asyncrt_trace_resolve (t);
  char *text = asyncrt_trace_to_string (t);
  char *json = asyncrt_trace_to_json (t);
  free (json);
  return text;
}

static void
test_shared_resolution (void)
{
  Counter counter = { 1, 0, 0 };
  AsyncrtTrace *t = capture_join (3, 4, &counter);
  GThread *threads[N_THREADS];
  for (int i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("resolve", resolve_thread, t);
  char *first = NULL;
  for (int i = 0; i < N_THREADS; i++)
    {
      char *text = g_thread_join (threads[i]);
      if (first == NULL)
        first = text;
      else
        {
          g_assert_cmpstr (text, ==, first);
          free (text);
        }
    }
  g_assert_nonnull (strstr (first, "leaf_poll at "));
  free (first);
  asyncrt_trace_free (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/trace/chain", test_chain);
  g_test_add_func ("/trace/two-leaves", test_two_leaves);
  g_test_add_func ("/trace/recursion-branch", test_recursion_branch);
  g_test_add_func ("/trace/per-child-wakers", test_per_child_wakers);
  g_test_add_func ("/trace/nested-roots", test_nested_roots);
  g_test_add_func ("/trace/nested-capture", test_nested_capture);
  g_test_add_func ("/trace/errors", test_errors);
  g_test_add_func ("/trace/empty-capture", test_empty_capture);
  g_test_add_func ("/trace/no-root", test_no_root);
  g_test_add_func ("/trace/json", test_json);
  g_test_add_func ("/trace/forward", test_forward);
  g_test_add_func ("/trace/truncated", test_truncated);
  g_test_add_func ("/trace/threads/capture", test_threads);
  g_test_add_func ("/trace/threads/shared-resolution", test_shared_resolution);
  return g_test_run ();
}
