/* Unit tests of the trace internals: golden text and JSON output built from synthetic
 * traces (so they do not depend on line numbers), tree identity, the symbol cache,
 * ELF fallback, demangling and modules loaded after the first resolution. */
#include "trace/trace-private.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_JSON_GLIB
#include <json-glib/json-glib.h>
#endif

#include "test-util.h"

/* Builds a synthetic backtrace from frames described as
 * "name@file:line:col|name@file:line:col" (inlined symbols of one frame, innermost
 * first), innermost frame first.  "?" as file means unknown. */
static void
add_backtrace (AsyncrtTrace *t, const char *const *frames)
{
  size_t n = g_strv_length ((char **) frames);
  AsyncrtTraceInfo **infos = g_new (AsyncrtTraceInfo *, n);
  uintptr_t *ips = g_new (uintptr_t, n);
  for (size_t i = 0; i < n; i++)
    {
      char **syms = g_strsplit (frames[i], "|", -1);
      size_t m = g_strv_length (syms);
      AsyncrtTraceSymbolSpec *specs = g_new0 (AsyncrtTraceSymbolSpec, m);
      for (size_t j = 0; j < m; j++)
        {
          char **nf = g_strsplit (syms[j], "@", 2);
          specs[j].name = g_intern_string (nf[0]);
          if (nf[1] != NULL && strcmp (nf[1], "?") != 0)
            {
              char **loc = g_strsplit (nf[1], ":", 3);
              specs[j].filename = g_intern_string (loc[0]);
              specs[j].lineno = loc[1] != NULL ? (unsigned) atoi (loc[1]) : 0;
              specs[j].colno = loc[1] != NULL && loc[2] != NULL ? (unsigned) atoi (loc[2]) : 0;
              g_strfreev (loc);
            }
          g_strfreev (nf);
        }
      infos[i] = asyncrt__trace_info_new (0x1000 * (i + 1), specs, m);
      ips[i] = 0x1000 * (i + 1) + 0x10;
      g_free (specs);
      g_strfreev (syms);
    }
  asyncrt__trace_append_resolved (t, ips, infos, n);
  g_free (ips);
  g_free (infos);
}

static const char *const server_fd[] = {
  "asyncrt_fd_readable_poll@lib/driver/io/fd.c:40:3",
  "read_request_poll@examples/server.c:60:9",
  "handler_poll@examples/server.c:120:5",
  NULL,
};
static const char *const server_sleep[] = {
  "asyncrt_sleep_poll@lib/driver/time/sleep.c:31:3",
  "read_request_poll@examples/server.c:60:9",
  "handler_poll@examples/server.c:120:5",
  NULL,
};
static const char *const worker_a[] = {
  "inner_inlined@src/x.c:10|0x7f0000001234@?",
  "worker_poll@?",
  NULL,
};
static const char *const worker_b[] = {
  "other@src/y.c",
  "worker_poll@?",
  NULL,
};

static void
test_golden_text (void)
{
  AsyncrtTrace *t = asyncrt__trace_new ();
  add_backtrace (t, server_fd);
  add_backtrace (t, server_sleep);
  add_backtrace (t, worker_a);
  add_backtrace (t, worker_b);
  add_backtrace (t, server_fd);                 /* a duplicate merges completely */
  char *text = asyncrt_trace_to_string (t);
  g_assert_cmpstr (text, ==,
    "╼ handler_poll at examples/server.c:120:5\n"
    "└╼ read_request_poll at examples/server.c:60:9\n"
    "   ├╼ asyncrt_fd_readable_poll at lib/driver/io/fd.c:40:3\n"
    "   └╼ asyncrt_sleep_poll at lib/driver/time/sleep.c:31:3\n"
    "╼ worker_poll at ??\n"
    "├╼ 0x7f0000001234 at ??\n"
    "│  └╼ inner_inlined at src/x.c:10\n"
    "└╼ other at src/y.c\n");
  free (text);

  /* With an indent, as a dump prints it under a task header. */
  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  asyncrt__trace_tree_add_trace (tree, t);
  GString *out = g_string_new ("task 7:\n");
  asyncrt__trace_tree_append_text (tree, out, "  ");
  g_assert_cmpstr (out->str, ==,
    "task 7:\n"
    "  ╼ handler_poll at examples/server.c:120:5\n"
    "  └╼ read_request_poll at examples/server.c:60:9\n"
    "     ├╼ asyncrt_fd_readable_poll at lib/driver/io/fd.c:40:3\n"
    "     └╼ asyncrt_sleep_poll at lib/driver/time/sleep.c:31:3\n"
    "  ╼ worker_poll at ??\n"
    "  ├╼ 0x7f0000001234 at ??\n"
    "  │  └╼ inner_inlined at src/x.c:10\n"
    "  └╼ other at src/y.c\n");
  g_string_free (out, TRUE);
  g_assert_cmpuint (asyncrt__trace_tree_get_n_roots (tree), ==, 2);
  g_assert_cmpuint (asyncrt__trace_tree_get_n_nodes (tree), ==, 8);
  asyncrt__trace_tree_free (tree);
  asyncrt_trace_free (t);
}

/* Order of first appearance, not hash order, for many siblings and roots. */
static void
test_sibling_order (void)
{
  AsyncrtTrace *t = asyncrt__trace_new ();
  GString *expected = g_string_new (NULL);
  for (int r = 0; r < 3; r++)
    {
      g_string_append_printf (expected, "╼ root%d at r.c:%d:1\n", 9 - r, r + 1);
      for (int i = 0; i < 20; i++)
        {
          char *leaf = g_strdup_printf ("leaf_%02d@l.c:%d:2", (i * 7) % 20, 100 - i);
          char *root = g_strdup_printf ("root%d@r.c:%d:1", 9 - r, r + 1);
          const char *frames[] = { leaf, root, NULL };
          add_backtrace (t, frames);
          g_string_append_printf (expected, "%s leaf_%02d at l.c:%d:2\n",
                                  i == 19 ? "└╼" : "├╼", (i * 7) % 20, 100 - i);
          g_free (leaf);
          g_free (root);
        }
    }
  char *text = asyncrt_trace_to_string (t);
  g_assert_cmpstr (text, ==, expected->str);
  free (text);
  g_string_free (expected, TRUE);
  asyncrt_trace_free (t);
}

/* The same function at different depths or under different parents: distinct nodes;
 * shared prefixes merge. */
static void
test_tree_identity (void)
{
  AsyncrtTrace *t = asyncrt__trace_new ();
  const char *const d1[] = { "leaf@l.c:1:1", "rec@r.c:5:3", "top@t.c:9:1", NULL };
  const char *const d2[] = { "leaf@l.c:1:1", "rec@r.c:5:3", "rec@r.c:5:3", "top@t.c:9:1", NULL };
  const char *const d3[] = { "leaf@l.c:1:1", "rec@r.c:5:3", "rec@r.c:5:3", "rec@r.c:5:3", "top@t.c:9:1", NULL };
  add_backtrace (t, d1);
  add_backtrace (t, d2);
  add_backtrace (t, d3);
  add_backtrace (t, d2);
  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  asyncrt__trace_tree_add_trace (tree, t);
  /* top, rec1, leaf1, rec2, leaf2, rec3, leaf3 */
  g_assert_cmpuint (asyncrt__trace_tree_get_n_nodes (tree), ==, 7);
  char *text = asyncrt__trace_tree_to_string (tree);
  g_assert_cmpstr (text, ==,
    "╼ top at t.c:9:1\n"
    "└╼ rec at r.c:5:3\n"
    "   ├╼ leaf at l.c:1:1\n"
    "   └╼ rec at r.c:5:3\n"
    "      ├╼ leaf at l.c:1:1\n"
    "      └╼ rec at r.c:5:3\n"
    "         └╼ leaf at l.c:1:1\n");
  free (text);
  asyncrt__trace_tree_free (tree);
  asyncrt_trace_free (t);
}

/* One root per task: a function suspended at two awaits at once is one node listing
 * both places, with the two leaves as its children (never two roots, never two
 * sibling nodes for one function). */
static void
test_one_root (void)
{
  AsyncrtTrace *t = asyncrt__trace_new ();
  const char *const a[] = { "sleep_poll@s.c:31:3", "poll@t.c:10:5", NULL };
  const char *const b[] = { "gate_poll@g.c:7:3", "poll@t.c:11:5", NULL };
  const char *const c[] = { "gate_poll@g.c:7:3", "wait_gate@t.c:20:9", "join@t.c:41:7",
                            "poll@t.c:12:5", NULL };
  const char *const d[] = { "sleep_poll@s.c:31:3", "wait_sleep@t.c:30:9", "join@t.c:40:7",
                            "poll@t.c:12:5", NULL };
  const char *const e[] = { "other@o.c", "poll@t.c", NULL };     /* line unknown */
  add_backtrace (t, a);
  add_backtrace (t, b);
  add_backtrace (t, a);                         /* the same place again: no new line */
  char *text = asyncrt_trace_to_string (t);
  g_assert_cmpstr (text, ==,
    "╼ poll at t.c:10:5, 11:5\n"
    "├╼ sleep_poll at s.c:31:3\n"
    "└╼ gate_poll at g.c:7:3\n");
  free (text);
  add_backtrace (t, c);
  add_backtrace (t, d);
  add_backtrace (t, e);
  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  asyncrt__trace_tree_add_trace (tree, t);
  g_assert_cmpuint (asyncrt__trace_tree_get_n_roots (tree), ==, 1);
  text = asyncrt__trace_tree_to_string (tree);
  g_assert_cmpstr (text, ==,
    "╼ poll at t.c:10:5, 11:5, 12:5\n"
    "├╼ sleep_poll at s.c:31:3\n"
    "├╼ gate_poll at g.c:7:3\n"
    "├╼ join at t.c:41:7, 40:7\n"
    "│  ├╼ wait_gate at t.c:20:9\n"
    "│  │  └╼ gate_poll at g.c:7:3\n"
    "│  └╼ wait_sleep at t.c:30:9\n"
    "│     └╼ sleep_poll at s.c:31:3\n"
    "└╼ other at o.c\n");
  free (text);
  char *json = asyncrt__trace_tree_to_json (tree);
  g_assert_true (g_str_has_prefix (json,
    "{\"version\":1,\"tree\":[{\"name\":\"poll\",\"file\":\"t.c\",\"line\":10,\"column\":5,"
    "\"locations\":[{\"line\":10,\"column\":5},{\"line\":11,\"column\":5},"
    "{\"line\":12,\"column\":5},{\"line\":0,\"column\":0}],\"children\":["));
  free (json);
  asyncrt__trace_tree_free (tree);
  asyncrt_trace_free (t);
}

static void
test_golden_json (void)
{
  AsyncrtTrace *t = asyncrt__trace_new ();
  const char *const bt[] = { "leaf@l.c:1:2", "b@\"q\\.c:3|a@?", NULL };
  add_backtrace (t, bt);
  char *json = asyncrt_trace_to_json (t);
  g_assert_cmpstr (json, ==,
    "{\"version\":1,\"backtraces\":[{\"truncated\":false,\"frames\":["
    "{\"ip\":\"0x1010\",\"symbol_address\":\"0x1000\",\"symbols\":["
    "{\"name\":\"leaf\",\"file\":\"l.c\",\"line\":1,\"column\":2,\"raw_name\":\"leaf\"}]},"
    "{\"ip\":\"0x2010\",\"symbol_address\":\"0x2000\",\"symbols\":["
    "{\"name\":\"b\",\"file\":\"\\\"q\\\\.c\",\"line\":3,\"column\":0,\"raw_name\":\"b\"},"
    "{\"name\":\"a\",\"file\":null,\"line\":0,\"column\":0,\"raw_name\":\"a\"}]}]}],"
    "\"tree\":[{\"name\":\"a\",\"file\":null,\"line\":0,\"column\":0,"
    "\"locations\":[{\"line\":0,\"column\":0}],\"children\":["
    "{\"name\":\"b\",\"file\":\"\\\"q\\\\.c\",\"line\":3,\"column\":0,"
    "\"locations\":[{\"line\":3,\"column\":0}],\"children\":["
    "{\"name\":\"leaf\",\"file\":\"l.c\",\"line\":1,\"column\":2,"
    "\"locations\":[{\"line\":1,\"column\":2}],\"children\":[]}]}]}]}");
  free (json);

  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  asyncrt__trace_tree_add_trace (tree, t);
  json = asyncrt__trace_tree_to_json (tree);
  g_assert_true (g_str_has_prefix (json, "{\"version\":1,\"tree\":[{\"name\":\"a\","));
  free (json);
  asyncrt__trace_tree_free (tree);

  GString *s = g_string_new (NULL);
  asyncrt__json_append_string (s, "a\x01\n\t\"\\é");
  asyncrt__json_append_string (s, NULL);
  asyncrt__json_append_string (s, "bad\xff");
  g_assert_cmpstr (s->str, ==, "\"a\\u0001\\n\\t\\\"\\\\é\"null\"bad\xef\xbf\xbd\"");
  g_string_free (s, TRUE);
  asyncrt_trace_free (t);
}

/* The one escaping helper of the text forms. */
static void
test_text_escaping (void)
{
  static const struct { const char *in; bool quoted; const char *out; } cases[] = {
    { "plain name_poll", false, "plain name_poll" },
    { "a\nb\rc\td", false, "a\\nb\\rc\\td" },
    { "\x1b[2J\x01\x7f", false, "\\x1b[2J\\x01\\x7f" },
    { "back\\slash", false, "back\\\\slash" },
    { "\"q\"", false, "\"q\"" },
    { "\"q\"", true, "\\\"q\\\"" },
    { "bad\xff\xfe!", false, "bad\xef\xbf\xbd\xef\xbf\xbd!" },
    { "cut\xe2\x80", false, "cut\xef\xbf\xbd\xef\xbf\xbd" },
    { "over\xc0\xaflong", false, "over\xef\xbf\xbd\xef\xbf\xbdlong" },
    { "csi\xc2\x9b", false, "csi\\u009b" },
    { "ls\xe2\x80\xa8ps\xe2\x80\xa9rlo\xe2\x80\xae", false, "ls\\u2028ps\\u2029rlo\\u202e" },
    { "é ü ╼ 名前", false, "é ü ╼ 名前" },
    { "", false, "" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GString *s = g_string_new (NULL);
      asyncrt__text_append_escaped (s, cases[i].in, cases[i].quoted);
      g_assert_cmpstr (s->str, ==, cases[i].out);
      g_assert_true (g_utf8_validate (s->str, -1, NULL));
      g_string_free (s, TRUE);
    }
  GString *s = g_string_new ("x");
  asyncrt__text_append_escaped (s, NULL, false);
  g_assert_cmpstr (s->str, ==, "x");
  g_string_free (s, TRUE);
}

/* ---- real captures through the internal library ----------------------------------- */

static __attribute__((noinline)) AsyncrtPoll
leaf_poll (void *p, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  (*(int *) p)++;
  return ASYNCRT_READY;
}

static __attribute__((noinline)) AsyncrtPoll
outer_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtPoll r = leaf_poll (p, cx);
  *(int *) p += 10;
  return r;
}

static void
poll_root (void *data)
{
  AsyncrtTraceRoot *root = data;
  asyncrt_trace_root_poll (root, NULL);
}

static AsyncrtTrace *
capture_outer (int *state)
{
  AsyncrtTraceRoot root;
  asyncrt_trace_root_init (&root, outer_poll, state);
  return asyncrt_trace_capture (poll_root, &root);
}

static void
test_cache_hits (void)
{
  int state = 0;
  AsyncrtTrace *t1 = capture_outer (&state);
  AsyncrtTrace *t2 = capture_outer (&state);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (t1), ==, 1);
  size_t n = asyncrt_backtrace_get_n_frames (asyncrt_trace_get_backtrace (t1, 0));
  g_assert_cmpuint (n, ==, 2);

  AsyncrtSymbolStats before, mid, after;
  asyncrt__symbol_get_stats (&before);
  asyncrt_trace_resolve (t1);
  asyncrt__symbol_get_stats (&mid);
  /* A second trace of the same code: everything comes from the cache. */
  asyncrt_trace_resolve (t2);
  char *text = asyncrt_trace_to_string (t2);
  asyncrt__symbol_get_stats (&after);
  g_assert_cmpuint (mid.hits + mid.misses, ==, before.hits + before.misses + n);
  g_assert_cmpuint (after.misses, ==, mid.misses);
  g_assert_cmpuint (after.hits, ==, mid.hits + n);
  /* Resolving the same trace again does not even consult the cache. */
  asyncrt_trace_resolve (t2);
  AsyncrtSymbolStats again;
  asyncrt__symbol_get_stats (&again);
  g_assert_cmpuint (again.hits, ==, after.hits);

  g_assert_true (g_str_has_prefix (text, "╼ outer_poll at "));
  g_assert_nonnull (strstr (text, "\n└╼ leaf_poll at "));
  /* Relative to the compilation directory: tests/… in-tree, ../tests/… out of tree. */
  g_assert_nonnull (strstr (text, "tests/trace/test-trace-internal.c:"));
  g_assert_null (strstr (text, "at /"));
  free (text);
  asyncrt_trace_free (t1);
  asyncrt_trace_free (t2);
}

#ifdef HAVE_JSON_GLIB
static void
test_json_glib (void)
{
  int state = 0;
  AsyncrtTrace *t = capture_outer (&state);
  char *json = asyncrt_trace_to_json (t);
  JsonParser *parser = json_parser_new ();
  GError *error = NULL;
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 1);
  JsonArray *bts = json_object_get_array_member (root, "backtraces");
  g_assert_cmpuint (json_array_get_length (bts), ==, 1);
  JsonArray *frames = json_object_get_array_member (json_array_get_object_element (bts, 0), "frames");
  g_assert_cmpuint (json_array_get_length (frames), ==, 2);
  JsonObject *f0 = json_array_get_object_element (frames, 0);
  JsonObject *s0 = json_array_get_object_element (json_object_get_array_member (f0, "symbols"), 0);
  g_assert_cmpstr (json_object_get_string_member (s0, "name"), ==, "leaf_poll");
  JsonArray *tree = json_object_get_array_member (root, "tree");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (tree, 0), "name"),
                   ==, "outer_poll");
  g_object_unref (parser);
  free (json);
  asyncrt_trace_free (t);
}
#endif

/* ELF symbols without DWARF, unknown addresses, and a module loaded after the Dwfl
 * session was opened (C++ names demangled, raw name kept). */
static void
test_fallbacks (void)
{
  AsyncrtSymbolStats before, after;

  const AsyncrtTraceInfo *none = asyncrt__symbol_resolve (0x10);
  g_assert_cmpuint (none->n_symbols, ==, 1);
  g_assert_cmpstr (none->symbols[0].name, ==, "0x10");
  g_assert_null (none->symbols[0].filename);
  g_assert_cmpuint (none->symbols[0].lineno, ==, 0);
  g_assert_cmpuint (none->symbol_address, ==, 0);
  g_assert_true (asyncrt__symbol_resolve (0x10) == none);        /* cached */

  /* GLib: its symbol table at least (DWARF only if debug symbols are installed). */
  const AsyncrtTraceInfo *gi = asyncrt__symbol_resolve ((uintptr_t) (void *) g_strdup + 1);
  g_assert_cmpstr (gi->symbols[gi->n_symbols - 1].name, ==, "g_strdup");
  g_assert_cmpuint (gi->symbol_address, ==, (uintptr_t) (void *) g_strdup);

  asyncrt__symbol_get_stats (&before);
  /* Sanitizer runtimes already load the C++ runtime; then there is nothing new. */
  void *already = dlopen ("libstdc++.so.6", RTLD_NOW | RTLD_NOLOAD);
  void *h = dlopen ("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
  if (h == NULL)
    {
      g_test_skip ("libstdc++ not available");
      return;
    }
  void *fn = dlsym (h, "_ZNSt9exceptionD2Ev");           /* std::exception::~exception() */
  g_assert_nonnull (fn);
  const AsyncrtTraceInfo *cxx = asyncrt__symbol_resolve ((uintptr_t) fn + 1);
  asyncrt__symbol_get_stats (&after);
  if (already == NULL)
    g_assert_cmpuint (after.refreshes, >, before.refreshes);
  const AsyncrtBacktraceSymbol *s = &cxx->symbols[cxx->n_symbols - 1];
  g_test_message ("%s / %s", s->name, s->raw_name);
  g_assert_true (g_str_has_prefix (s->raw_name, "_ZNSt9exceptionD"));
  g_assert_true (g_str_has_prefix (s->name, "std::exception::~exception"));
  /* Deliberately not dlclose()d: the C++ runtime does not support unloading.  The
   * reference taken by the RTLD_NOLOAD probe is not released either. */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/trace-internal/golden/text", test_golden_text);
  g_test_add_func ("/trace-internal/golden/json", test_golden_json);
  g_test_add_func ("/trace-internal/tree/sibling-order", test_sibling_order);
  g_test_add_func ("/trace-internal/tree/identity", test_tree_identity);
  g_test_add_func ("/trace-internal/tree/one-root", test_one_root);
  g_test_add_func ("/trace-internal/text/escaping", test_text_escaping);
  g_test_add_func ("/trace-internal/symbol/cache-hits", test_cache_hits);
#ifdef HAVE_JSON_GLIB
  g_test_add_func ("/trace-internal/json-glib", test_json_glib);
#endif
  g_test_add_func ("/trace-internal/symbol/fallbacks", test_fallbacks);
  return g_test_run ();
}
