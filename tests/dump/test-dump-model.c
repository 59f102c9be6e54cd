/* The AsyncrtDump object: accessors, sealing, text and JSON forms, from hand-built
 * records with synthetic (pre-resolved) traces. */
#include "dump/dump-private.h"
#include "trace/trace-private.h"
#include "trace/wait-private.h"
#include "test-util.h"
#include "dump-json-util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_JSON_GLIB
#include <json-glib/json-glib.h>
#endif

/* Appends one backtrace, innermost first: "name@file:line:col". */
static void
add_backtrace (AsyncrtTrace *t, const char *const *frames)
{
  size_t n = g_strv_length ((char **) frames);
  AsyncrtTraceInfo **infos = g_new (AsyncrtTraceInfo *, n);
  uintptr_t *ips = g_new (uintptr_t, n);
  for (size_t i = 0; i < n; i++)
    {
      char **parts = g_strsplit_set (frames[i], "@:", 4);
      AsyncrtTraceSymbolSpec spec = { parts[0], parts[1],
                                      (unsigned) atoi (parts[2]), (unsigned) atoi (parts[3]) };
      infos[i] = asyncrt__trace_info_new (0x1000 * (i + 1), &spec, 1);
      ips[i] = 0x1000 * (i + 1) + 0x10;
      g_strfreev (parts);
    }
  asyncrt__trace_append_resolved (t, ips, infos, n);
  g_free (ips);
  g_free (infos);
}

static const char *const abc_yield[] = {
  "asyncrt_yield_poll@lib/driver/time/yield.c:40:3", "c_poll@t.c:30:5", "b_poll@t.c:20:5",
  "a_poll@t.c:10:5", NULL
};
static const char *const abc_sleep[] = {
  "asyncrt_sleep_poll@lib/driver/time/sleep.c:31:3", "c_poll@t.c:31:5", "b_poll@t.c:20:5",
  "a_poll@t.c:10:5", NULL
};

/* Every dump starts with the process line (text) or members (JSON): check them and
 * strip them, in place, so the rest can be compared exactly. */
static char *
text_without_header (char *s)
{
  g_assert_nonnull (s);
  char *expected_start = g_strdup_printf ("process %ld (test-dump-model), taken at ",
                                          (long) getpid ());
  g_assert_true (g_str_has_prefix (s, expected_start));
  char *eol = strchr (s, '\n');
  g_assert_nonnull (eol);
  char *expected_end = g_strdup_printf ("Z, libasyncrt %u.%u.%u\n", asyncrt_get_major_version (),
                                        asyncrt_get_minor_version (), asyncrt_get_micro_version ());
  g_assert_cmpint (strncmp (eol + 1 - strlen (expected_end), expected_end, strlen (expected_end)), ==, 0);
  memmove (s, eol + 1, strlen (eol + 1) + 1);
  g_free (expected_start);
  g_free (expected_end);
  return s;
}

static char *
json_without_header (char *s)
{
  g_assert_nonnull (s);
  test_dump_json_record (s);
  char *start = g_strdup_printf ("{\"version\":2,\"pid\":%ld,\"program\":\"test-dump-model\","
                                 "\"taken_at\":\"", (long) getpid ());
  g_assert_true (g_str_has_prefix (s, start));
  char *version = g_strdup_printf ("\",\"library_version\":\"%u.%u.%u\",",
                                   asyncrt_get_major_version (), asyncrt_get_minor_version (),
                                   asyncrt_get_micro_version ());
  char *end = strstr (s, version);
  g_assert_nonnull (end);
  /* "taken_at" is an ISO 8601 UTC time with milliseconds. */
  g_assert_cmpint (end - (s + strlen (start)), ==, (int) strlen ("2025-01-31T12:34:56.789Z"));
  char *taken = g_strndup (s + strlen (start), 24);
  g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$",
                                       taken, 0, 0));
  g_free (taken);
  char *rest = end + strlen (version);
  /* Synthetic dumps are of no runtime and taken without filters. */
  static const char identity[] = "\"runtime\":{\"name\":null,\"serial\":0},\"filter\":null,";
  g_assert_true (g_str_has_prefix (rest, identity));
  rest += strlen (identity);
  memmove (s + strlen ("{\"version\":2,"), rest, strlen (rest) + 1);
  g_free (start);
  g_free (version);
  return s;
}

static AsyncrtDump *
build_dump (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("multi_thread", 4);
  struct _AsyncrtDumpTask r = { 0 };

  /* Added out of id order on purpose. */
  r.id = 9;
  r.state = ASYNCRT_TASK_STATE_RUNNING;
  r.no_trace = ASYNCRT_DUMP_NO_TRACE_RUNNING;
  r.worker = 2;
  r.name = g_strdup ("busy \"one\"");
  r.spawn_file = "main.c";
  r.spawn_line = 77;
  r.spawn_func = "main";
  r.poll_count = 3;
  r.last_poll_ns = d->taken_ns - 2000000000u;
  asyncrt__dump_add_task (d, &r);

  memset (&r, 0, sizeof r);
  r.id = 3;
  r.parent_id = 1;
  r.state = ASYNCRT_TASK_STATE_IDLE;
  r.worker = -1;
  r.spawn_file = "t.c";
  r.spawn_line = 100;
  r.spawn_func = "spawner";
  r.poll_count = 12;
  r.last_poll_ns = d->taken_ns - 1500000u;
  r.trace = asyncrt__trace_new ();
  add_backtrace (r.trace, abc_yield);
  add_backtrace (r.trace, abc_sleep);
  asyncrt__dump_add_task (d, &r);

  memset (&r, 0, sizeof r);
  r.id = 5;
  r.state = ASYNCRT_TASK_STATE_SCHEDULED;
  r.trace = asyncrt__trace_new ();
  r.removed = true;                     /* completed during its trace poll */
  asyncrt__dump_add_task (d, &r);

  memset (&r, 0, sizeof r);
  r.id = 4;
  r.state = ASYNCRT_TASK_STATE_SCHEDULED;
  r.trace = asyncrt__trace_new ();      /* traced, but no leaf reached */
  asyncrt__dump_add_task (d, &r);

  asyncrt__dump_add_missing_worker (d, 2, 9, 2000000000u);
  asyncrt__dump_seal (d);
  return d;
}

static void
test_accessors (void)
{
  AsyncrtDump *d = build_dump ();
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 3);
  g_assert_false (asyncrt_dump_is_complete (d));

  const AsyncrtDumpTask *t0 = asyncrt_dump_get_task (d, 0);
  const AsyncrtDumpTask *t1 = asyncrt_dump_get_task (d, 1);
  const AsyncrtDumpTask *t2 = asyncrt_dump_get_task (d, 2);
  g_assert_null (asyncrt_dump_get_task (d, 3));
  g_assert_cmpuint (asyncrt_dump_task_get_id (t0), ==, 3);
  g_assert_cmpuint (asyncrt_dump_task_get_id (t1), ==, 4);
  g_assert_cmpuint (asyncrt_dump_task_get_id (t2), ==, 9);
  g_assert_true (asyncrt_dump_find_task (d, 9) == t2);
  g_assert_null (asyncrt_dump_find_task (d, 5));        /* removed */
  g_assert_null (asyncrt_dump_find_task (d, 1000));

  g_assert_cmpint (asyncrt_dump_task_get_state (t0), ==, ASYNCRT_TASK_STATE_IDLE);
  g_assert_cmpint (asyncrt_dump_task_get_state (t1), ==, ASYNCRT_TASK_STATE_SCHEDULED);
  g_assert_cmpint (asyncrt_dump_task_get_state (t2), ==, ASYNCRT_TASK_STATE_RUNNING);
  g_assert_cmpuint (asyncrt_dump_task_get_parent_id (t0), ==, 1);
  g_assert_cmpuint (asyncrt_dump_task_get_poll_count (t0), ==, 12);
  g_assert_cmpuint (asyncrt_dump_task_get_idle_ns (t0), ==, 1500000u);
  g_assert_cmpuint (asyncrt_dump_task_get_idle_ns (t1), ==, 0);
  g_assert_cmpstr (asyncrt_dump_task_get_spawn_file (t0), ==, "t.c");
  g_assert_cmpuint (asyncrt_dump_task_get_spawn_line (t0), ==, 100);
  g_assert_cmpstr (asyncrt_dump_task_get_spawn_func (t0), ==, "spawner");
  g_assert_null (asyncrt_dump_task_get_name (t0));
  g_assert_cmpstr (asyncrt_dump_task_get_name (t2), ==, "busy \"one\"");
  g_assert_nonnull (asyncrt_dump_task_get_trace (t0));
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (asyncrt_dump_task_get_trace (t0)), ==, 2);
  g_assert_null (asyncrt_dump_task_get_trace (t2));
  g_assert_cmpint (asyncrt_dump_task_get_worker (t2), ==, 2);
  g_assert_cmpint (asyncrt_dump_task_get_worker (t0), ==, -1);
  g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (t0), ==, ASYNCRT_DUMP_NO_TRACE_NONE);
  g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (t1), ==, ASYNCRT_DUMP_NO_TRACE_NONE);
  g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (t2), ==, ASYNCRT_DUMP_NO_TRACE_RUNNING);

  g_assert_cmpuint (asyncrt_dump_get_n_missing_workers (d), ==, 1);
  unsigned idx = 99;
  AsyncrtTaskId tid = 0;
  uint64_t ns = 0;
  g_assert_cmpint (asyncrt_dump_get_missing_worker (d, 0, &idx, &tid, &ns), ==, 0);
  g_assert_cmpuint (idx, ==, 2);
  g_assert_cmpuint (tid, ==, 9);
  g_assert_cmpuint (ns, ==, 2000000000u);
  g_assert_cmpint (asyncrt_dump_get_missing_worker (d, 0, NULL, NULL, NULL), ==, 0);
  idx = 99;
  g_assert_cmpint (asyncrt_dump_get_missing_worker (d, 1, &idx, &tid, &ns), ==, -EINVAL);
  g_assert_cmpuint (idx, ==, 99);                       /* untouched on error */
  asyncrt_dump_free (d);
}

static void
test_null (void)
{
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (NULL), ==, 0);
  g_assert_null (asyncrt_dump_get_task (NULL, 0));
  g_assert_null (asyncrt_dump_find_task (NULL, 1));
  g_assert_false (asyncrt_dump_is_complete (NULL));
  g_assert_cmpuint (asyncrt_dump_get_n_missing_workers (NULL), ==, 0);
  g_assert_cmpint (asyncrt_dump_get_missing_worker (NULL, 0, NULL, NULL, NULL), ==, -EINVAL);
  g_assert_cmpuint (asyncrt_dump_task_get_id (NULL), ==, 0);
  g_assert_cmpint (asyncrt_dump_task_get_state (NULL), ==, ASYNCRT_TASK_STATE_IDLE);
  g_assert_null (asyncrt_dump_task_get_trace (NULL));
  g_assert_null (asyncrt_dump_task_get_name (NULL));
  g_assert_null (asyncrt_dump_task_get_spawn_file (NULL));
  g_assert_null (asyncrt_dump_task_get_spawn_func (NULL));
  g_assert_cmpuint (asyncrt_dump_task_get_spawn_line (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_dump_task_get_parent_id (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_dump_task_get_poll_count (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_dump_task_get_idle_ns (NULL), ==, 0);
  g_assert_cmpint (asyncrt_dump_task_get_worker (NULL), ==, -1);
  g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (NULL), ==, ASYNCRT_DUMP_NO_TRACE_NONE);
  g_assert_null (asyncrt_dump_to_string (NULL));
  g_assert_null (asyncrt_dump_to_json (NULL));
  asyncrt_dump_free (NULL);
}

static void
test_complete_and_empty (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("current_thread", 1);
  asyncrt__dump_seal (d);
  g_assert_true (asyncrt_dump_is_complete (d));
  char *s = text_without_header (asyncrt_dump_to_string (d));
  g_assert_cmpstr (s, ==, "task dump of a current_thread runtime: 0 tasks, complete\n");
  free (s);
  s = json_without_header (asyncrt_dump_to_json (d));
  g_assert_cmpstr (s, ==, "{\"version\":2,\"flavour\":\"current_thread\",\"workers\":1,"
                          "\"complete\":true,\"census\":false,\"census_reason\":null,"
                          "\"missing_workers\":[],\"native_stacks\":\"not_sampled\","
                          "\"sample_signal\":null,\"blocking_jobs\":[],"
                          "\"functions\":[],\"frames\":[],"
                          "\"traces\":[],\"spawn_sites\":[],\"tasks\":[],"
                          "\"deadlocks\":[],\"holders\":[]}");
  free (s);
  asyncrt_dump_free (d);
}

static void
test_to_string (void)
{
  AsyncrtDump *d = build_dump ();
  char *s = text_without_header (asyncrt_dump_to_string (d));
  const char *expected =
    "task dump of a multi_thread runtime: 3 tasks, incomplete\n"
    "task 3 idle, spawned at t.c:100 (spawner), parent 1, idle 1.500 ms, 12 polls\n"
    "  ╼ a_poll at t.c:10:5\n"
    "  └╼ b_poll at t.c:20:5\n"
    "     └╼ c_poll at t.c:30:5, 31:5\n"
    "        ├╼ asyncrt_yield_poll at lib/driver/time/yield.c:40:3\n"
    "        └╼ asyncrt_sleep_poll at lib/driver/time/sleep.c:31:3\n"
    "task 4 scheduled, never polled, 0 polls\n"
    "  (no leaf future reached)\n"
    "task 9 running on worker 2, name \"busy \\\"one\\\"\", spawned at main.c:77 (main), running 2.000 s, 3 polls\n"
    "  (not traced: running on worker 2)\n"
    "worker 2 did not stop: task 9 running for 2.000 s\n";
  if (g_strcmp0 (s, expected) != 0)
    g_test_message ("got:\n%s", s);
  g_assert_cmpstr (s, ==, expected);
  /* The second formatting is identical. */
  char *s2 = text_without_header (asyncrt_dump_to_string (d));
  g_assert_cmpstr (s, ==, s2);
  free (s);
  free (s2);
  asyncrt_dump_free (d);
}

static void
test_to_json (void)
{
  AsyncrtDump *d = build_dump ();
  char *s = json_without_header (asyncrt_dump_to_json (d));
  g_assert_nonnull (s);
  g_assert_true (g_str_has_prefix (s, "{\"version\":2,\"flavour\":\"multi_thread\",\"workers\":4,"
                                      "\"complete\":false,\"census\":false,"
                                      "\"census_reason\":null,"
                                      "\"missing_workers\":[{\"index\":2,\"task_id\":9,"
                                      "\"running_ns\":2000000000,\"native_stack\":null,"
                                      "\"trace\":null}],\"native_stacks\":\"not_sampled\","
                                      "\"sample_signal\":null,\"blocking_jobs\":[],"
                                      "\"functions\":["));
  g_assert_nonnull (strstr (s, "\"name\":\"busy \\\"one\\\"\""));
  /* Synthetic frames: one per distinct IP and resolution, functions once each. */
  g_assert_nonnull (strstr (s, "{\"name\":\"a_poll\",\"raw_name\":\"a_poll\",\"file\":\"t.c\"}"));
  g_assert_nonnull (strstr (s, "\"spawn_sites\":[{\"file\":\"t.c\",\"line\":100,"
                               "\"function\":\"spawner\"},{\"file\":\"main.c\",\"line\":77,"
                               "\"function\":\"main\"}]"));
#ifdef HAVE_JSON_GLIB
  GError *error = NULL;
  JsonParser *p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, s, -1, &error));
  g_assert_no_error (error);
  JsonObject *root = json_node_get_object (json_parser_get_root (p));
  g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 2);
  JsonArray *functions = json_object_get_array_member (root, "functions");
  JsonArray *frames = json_object_get_array_member (root, "frames");
  JsonArray *traces = json_object_get_array_member (root, "traces");
  g_assert_cmpuint (json_array_get_length (functions), ==, 5);
  g_assert_cmpuint (json_array_get_length (frames), ==, 8);
  g_assert_cmpuint (json_array_get_length (traces), ==, 2);
  JsonArray *tasks = json_object_get_array_member (root, "tasks");
  g_assert_cmpuint (json_array_get_length (tasks), ==, 3);
  JsonObject *t0 = json_array_get_object_element (tasks, 0);
  g_assert_cmpstr (json_object_get_string_member (t0, "state"), ==, "idle");
  g_assert_cmpint (json_object_get_int_member (t0, "idle_ns"), ==, 1500000);
  g_assert_cmpint (json_object_get_int_member (t0, "spawn"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (t0, "trace"), ==, 0);
  JsonObject *trace = json_array_get_object_element (traces, 0);
  JsonArray *bts = json_object_get_array_member (trace, "backtraces");
  g_assert_cmpuint (json_array_get_length (bts), ==, 2);
  /* Backtrace 0 is abc_yield, innermost first: its first frame's symbol is
   * asyncrt_yield_poll. */
  JsonArray *bt0 = json_object_get_array_member (json_array_get_object_element (bts, 0), "frames");
  g_assert_cmpuint (json_array_get_length (bt0), ==, 4);
  JsonObject *f0 = json_array_get_object_element (frames, json_array_get_int_element (bt0, 0));
  JsonObject *s0 = json_array_get_object_element (json_object_get_array_member (f0, "symbols"), 0);
  g_assert_cmpint (json_object_get_int_member (s0, "line"), ==, 40);
  JsonObject *fn = json_array_get_object_element (functions, json_object_get_int_member (s0, "function"));
  g_assert_cmpstr (json_object_get_string_member (fn, "name"), ==, "asyncrt_yield_poll");
  /* The tree merges the two backtraces below one root, a_poll. */
  JsonArray *tree = json_object_get_array_member (trace, "tree");
  g_assert_cmpuint (json_array_get_length (tree), ==, 1);
  JsonObject *root_node = json_array_get_object_element (tree, 0);
  fn = json_array_get_object_element (functions, json_object_get_int_member (root_node, "function"));
  g_assert_cmpstr (json_object_get_string_member (fn, "name"), ==, "a_poll");
  JsonArray *loc = json_array_get_array_element (json_object_get_array_member (root_node, "locations"), 0);
  g_assert_cmpint (json_array_get_int_element (loc, 0), ==, 10);
  g_assert_cmpint (json_array_get_int_element (loc, 1), ==, 5);
  /* One wait per backtrace; synthetic leaves said nothing. */
  JsonArray *waits = json_object_get_array_member (t0, "waits");
  g_assert_cmpuint (json_array_get_length (waits), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (waits, 0), "kind"),
                   ==, "unknown");
  JsonObject *t2 = json_array_get_object_element (tasks, 2);
  g_assert_true (json_object_get_null_member (t2, "trace"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (t2, "waits")), ==, 0);
  g_assert_cmpint (json_object_get_int_member (t2, "worker"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (t2, "no_trace"), ==, "running");
  g_assert_true (json_object_get_null_member (t0, "no_trace"));
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (tasks, 1),
                                                  "no_trace"), ==, NULL);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (tasks, 1), "trace"),
                   ==, 1);
  g_object_unref (p);
#endif
  free (s);
  asyncrt_dump_free (d);
}

/* Identical traces (formatted once and reused) print the same tree under each task;
 * a different one does not reuse it. */
static void
test_same_traces (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("current_thread", 1);
  for (int i = 1; i <= 3; i++)
    {
      struct _AsyncrtDumpTask r = { 0 };
      r.id = (AsyncrtTaskId) i;
      r.worker = -1;
      r.trace = asyncrt__trace_new ();
      add_backtrace (r.trace, i == 2 ? abc_sleep : abc_yield);
      asyncrt__dump_add_task (d, &r);
    }
  asyncrt__dump_seal (d);
  char *s = text_without_header (asyncrt_dump_to_string (d));
  const char *tree_yield =
    "  ╼ a_poll at t.c:10:5\n"
    "  └╼ b_poll at t.c:20:5\n"
    "     └╼ c_poll at t.c:30:5\n"
    "        └╼ asyncrt_yield_poll at lib/driver/time/yield.c:40:3\n";
  const char *tree_sleep =
    "  ╼ a_poll at t.c:10:5\n"
    "  └╼ b_poll at t.c:20:5\n"
    "     └╼ c_poll at t.c:31:5\n"
    "        └╼ asyncrt_sleep_poll at lib/driver/time/sleep.c:31:3\n";
  char *expected = g_strconcat (
    "task dump of a current_thread runtime: 3 tasks, complete\n",
    "task 1 idle, never polled, 0 polls\n", tree_yield,
    "task 2 idle, never polled, 0 polls\n", tree_sleep,
    "task 3 idle, never polled, 0 polls\n", tree_yield, NULL);
  g_assert_cmpstr (s, ==, expected);
  g_free (expected);
  free (s);
  s = json_without_header (asyncrt_dump_to_json (d));
  /* Synthetic traces carry resolutions of their own: three traces.  (Real ones at the
   * same place share one: test-waits.) */
  g_assert_nonnull (strstr (strstr (s, "{\"id\":1,"), "\"trace\":0,"));
  g_assert_nonnull (strstr (strstr (s, "{\"id\":2,"), "\"trace\":1,"));
  g_assert_nonnull (strstr (strstr (s, "{\"id\":3,"), "\"trace\":2,"));
  free (s);
  asyncrt_dump_free (d);
}

/* Every reason a task has no trace: its phrase in the text, its name in the JSON. */
static void
test_reasons (void)
{
  static const struct
  {
    AsyncrtDumpNoTraceReason reason;
    AsyncrtTaskState state;
    int worker;
    const char *phrase;
    const char *json;
  } cases[] = {
    { ASYNCRT_DUMP_NO_TRACE_RUNNING, ASYNCRT_TASK_STATE_RUNNING, 1, "running on worker 1", "running" },
    { ASYNCRT_DUMP_NO_TRACE_RUNNING, ASYNCRT_TASK_STATE_RUNNING, -1, "running", "running" },
    { ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER, ASYNCRT_TASK_STATE_SCHEDULED, 3,
      "queued on worker 3, which did not stop", "queued_on_missing_worker" },
    { ASYNCRT_DUMP_NO_TRACE_WOKEN_DURING_DUMP, ASYNCRT_TASK_STATE_SCHEDULED, -1,
      "woken while the dump was being taken", "woken_during_dump" },
    { ASYNCRT_DUMP_NO_TRACE_CANCELLED, ASYNCRT_TASK_STATE_SCHEDULED, -1,
      "aborted, its cancellation is queued", "cancelled" },
    { ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING, ASYNCRT_TASK_STATE_IDLE, -1, "runtime not running",
      "runtime_not_running" },
    { ASYNCRT_DUMP_NO_TRACE_DEADLINE, ASYNCRT_TASK_STATE_IDLE, -1, "deadline passed", "deadline" },
    { ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO, ASYNCRT_TASK_STATE_SCHEDULED, -1,
      "dump taken with timeout 0", "timeout_zero" },
  };
  AsyncrtDump *d = asyncrt__dump_new ("multi_thread", 4);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      struct _AsyncrtDumpTask r = { 0 };
      r.id = i + 1;
      r.state = cases[i].state;
      r.worker = cases[i].worker;
      r.no_trace = cases[i].reason;
      asyncrt__dump_add_task (d, &r);
    }
  asyncrt__dump_seal (d);
  g_assert_false (asyncrt_dump_is_complete (d));
  char *s = asyncrt_dump_to_string (d);
  char *json = test_dump_json (d, 0);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const AsyncrtDumpTask *t = asyncrt_dump_get_task (d, i);
      g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (t), ==, cases[i].reason);
      g_assert_null (asyncrt_dump_task_get_trace (t));
      bool has_worker = cases[i].state == ASYNCRT_TASK_STATE_RUNNING
                        || cases[i].reason == ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER;
      g_assert_cmpint (asyncrt_dump_task_get_worker (t), ==, has_worker ? cases[i].worker : -1);
      char *line = g_strdup_printf ("\n  (not traced: %s)\n", cases[i].phrase);
      char *member = g_strdup_printf ("\"id\":%zu,", i + 1);
      char *why = g_strdup_printf ("\"no_trace\":\"%s\"", cases[i].json);
      const char *task = strstr (json, member);
      g_assert_nonnull (task);
      const char *next = strstr (task + 1, "{\"id\":");
      const char *found = strstr (task, why);
      g_assert_true (found != NULL && (next == NULL || found < next));
      /* The phrase follows this task's header line. */
      char *header = g_strdup_printf ("task %zu ", i + 1);
      const char *h = strstr (s, header);
      g_assert_nonnull (h);
      g_assert_true (strstr (h, line) == strchr (h, '\n'));
      g_free (header);
      g_free (line);
      g_free (member);
      g_free (why);
    }
  free (s);
  free (json);
  asyncrt_dump_free (d);

  /* A census says so in its summary line and in the JSON. */
  static const struct
  {
    AsyncrtDumpNoTraceReason reason;
    const char *summary;
    const char *json;
  } census[] = {
    { ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING, "(census: runtime not running (no thread in block_on))",
      "runtime_not_running" },
    { ASYNCRT_DUMP_NO_TRACE_DEADLINE,
      "(census: deadline passed before the runtime took the dump up)", "deadline" },
    { ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO, "(census: dump taken with timeout 0)", "timeout_zero" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (census); i++)
    {
      d = asyncrt__dump_new ("current_thread", 1);
      d->census = census[i].reason;
      asyncrt__dump_seal (d);
      g_assert_false (asyncrt_dump_is_complete (d));
      s = text_without_header (asyncrt_dump_to_string (d));
      char *want = g_strdup_printf ("task dump of a current_thread runtime: 0 tasks, incomplete %s\n",
                                    census[i].summary);
      g_assert_cmpstr (s, ==, want);
      g_free (want);
      free (s);
      json = test_dump_json (d, 0);
      want = g_strdup_printf ("\"census\":true,\"census_reason\":\"%s\"", census[i].json);
      g_assert_nonnull (strstr (json, want));
      g_free (want);
      free (json);
      asyncrt_dump_free (d);
    }
}

/* Program-supplied strings cannot forge lines or reach the terminal raw. */
static void
test_escaping (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("current_thread", 1);
  struct _AsyncrtDumpTask r = { 0 };
  r.id = 1;
  r.worker = -1;
  r.name = g_strdup ("x\"\ntask 999 idle, name \"fake\"\\\x01\x7f");
  r.spawn_file = "f\x1b[2J.c";
  r.spawn_func = "fn\xff\xfe\xc2\x9b\xe2\x80\xae\tend";
  r.spawn_line = 5;
  r.trace = asyncrt__trace_new ();
  const char *const frames[] = { "leaf\nfake@a\rb.c:1:2", "root@r\x1b]0;t\x07.c:3:4", NULL };
  add_backtrace (r.trace, frames);
  asyncrt__dump_add_task (d, &r);
  asyncrt__dump_seal (d);
  char *s = text_without_header (asyncrt_dump_to_string (d));
  g_assert_cmpstr (s, ==,
    "task dump of a current_thread runtime: 1 task, complete\n"
    "task 1 idle, name \"x\\\"\\ntask 999 idle, name \\\"fake\\\"\\\\\\x01\\x7f\", "
    "spawned at f\\x1b[2J.c:5 (fn\xef\xbf\xbd\xef\xbf\xbd\\u009b\\u202e\\tend), never polled, 0 polls\n"
    "  ╼ root at r\\x1b]0;t\\x07.c:3:4\n"
    "  └╼ leaf\\nfake at a\\rb.c:1:2\n");
  g_assert_true (g_utf8_validate (s, -1, NULL));
  free (s);
  asyncrt_dump_free (d);
}

/* A backtrace cut at the walk limit hangs below a marked root, in text and JSON. */
static void
test_truncated (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("current_thread", 1);
  struct _AsyncrtDumpTask r = { 0 };
  r.id = 1;
  r.worker = -1;
  r.trace = asyncrt__trace_new ();
  const char *const deep[] = { "leaf@l.c:1:1", "rec@r.c:5:3", "rec@r.c:5:3", NULL };
  add_backtrace (r.trace, deep);
  r.trace->backtraces[0]->truncated = true;
  add_backtrace (r.trace, abc_sleep);
  asyncrt__dump_add_task (d, &r);
  asyncrt__dump_seal (d);
  const AsyncrtTrace *tr = asyncrt_dump_task_get_trace (asyncrt_dump_get_task (d, 0));
  g_assert_true (asyncrt_backtrace_is_truncated (asyncrt_trace_get_backtrace (tr, 0)));
  g_assert_false (asyncrt_backtrace_is_truncated (asyncrt_trace_get_backtrace (tr, 1)));
  g_assert_false (asyncrt_backtrace_is_truncated (NULL));
  char *s = text_without_header (asyncrt_dump_to_string (d));
  g_assert_cmpstr (s, ==,
    "task dump of a current_thread runtime: 1 task, complete\n"
    "task 1 idle, never polled, 0 polls\n"
    "  ╼ … (cut: the stack walk stops at 8192 frames)\n"
    "  └╼ rec at r.c:5:3\n"
    "     └╼ rec at r.c:5:3\n"
    "        └╼ leaf at l.c:1:1\n"
    "  ╼ a_poll at t.c:10:5\n"
    "  └╼ b_poll at t.c:20:5\n"
    "     └╼ c_poll at t.c:31:5\n"
    "        └╼ asyncrt_sleep_poll at lib/driver/time/sleep.c:31:3\n");
  free (s);
  s = test_dump_json (d, 0);
  g_assert_nonnull (strstr (s, "{\"truncated\":true,\"frames\":["));
  g_assert_nonnull (strstr (s, "{\"truncated\":false,\"frames\":["));
  g_assert_nonnull (strstr (s, "\"tree\":[{\"function\":null,\"truncated\":true,"
                               "\"locations\":[],\"children\":["));
  free (s);
  asyncrt_dump_free (d);
}


/* ---- waits and the wait-for graph, from synthetic records ------------------------------ */

static const char *const lock_frames[] = {
  "asyncrt_mutex_lock_poll@lib/sync/mutex.c:160:7", "worker_poll@w.c:10:3", NULL
};
static const char *const join_frames[] = {
  "asyncrt_join_handle_poll@lib/task/task.c:600:7", "boss_poll@b.c:20:3", NULL
};
static const char *const sleep_frames[] = {
  "asyncrt_sleep_poll@lib/driver/time/sleep.c:31:3", "worker_poll@w.c:12:3", NULL
};

static AsyncrtTrace *
wait_trace (void)
{
  return asyncrt__trace_new ();
}

/* Appends a leaf to @tr that waits on @object held by @holder. */
static AsyncrtWait *
add_wait (AsyncrtTrace *tr, const char *const *frames, AsyncrtWaitKind kind, uintptr_t object,
          const char *name, AsyncrtTaskId holder)
{
  add_backtrace (tr, frames);
  AsyncrtWait *w = &tr->backtraces[tr->n_backtraces - 1]->wait;
  asyncrt__wait_set (w, kind, object, name);
  asyncrt__wait_set_holder (w, holder);
  return w;
}

static void
add_task (AsyncrtDump *d, AsyncrtTaskId id, AsyncrtTaskState state, AsyncrtTrace *tr,
          const char *name)
{
  struct _AsyncrtDumpTask r = { 0 };
  r.id = id;
  r.state = state;
  r.worker = -1;
  r.trace = tr;
  r.name = g_strdup (name);
  r.last_poll_ns = d->taken_ns - 1000000000u;
  if (tr == NULL)
    {
      r.no_trace = ASYNCRT_DUMP_NO_TRACE_RUNNING;
      r.state = ASYNCRT_TASK_STATE_RUNNING;
    }
  asyncrt__dump_add_task (d, &r);
}

static void
assert_deadlock (AsyncrtDump *d, size_t i, const AsyncrtTaskId *want, size_t n)
{
  const AsyncrtTaskId *ids = NULL;
  g_assert_cmpuint (asyncrt_dump_get_deadlock (d, i, &ids), ==, n);
  g_assert_nonnull (ids);
  for (size_t k = 0; k < n; k++)
    g_assert_cmpuint (ids[k], ==, want[k]);
}

static size_t
blocked (AsyncrtDump *d, AsyncrtTaskId id)
{
  return asyncrt_dump_task_get_n_blocked (asyncrt_dump_find_task (d, id));
}

/* Two tasks taking two mutexes in opposite order: a deadlock of exactly those two; a
 * third waiting on one of them is blocked by it but not part of it. */
static void
test_lock_order_deadlock (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("multi_thread", 2);
  AsyncrtTrace *t1 = wait_trace (), *t2 = wait_trace (), *t3 = wait_trace (), *t4 = wait_trace ();
  AsyncrtWait *w = add_wait (t1, lock_frames, ASYNCRT_WAIT_MUTEX, 0xa0, "accounts", 2);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_HELD_NS, 1500000000);
  w = add_wait (t2, lock_frames, ASYNCRT_WAIT_MUTEX, 0xb0, "ledger", 1);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_HELD_NS, 1400000000);
  add_wait (t3, lock_frames, ASYNCRT_WAIT_MUTEX, 0xa0, "accounts", 2);
  add_wait (t4, sleep_frames, ASYNCRT_WAIT_SLEEP, 0xc0, NULL, 0);
  add_task (d, 4, ASYNCRT_TASK_STATE_IDLE, t4, "sleeper");
  add_task (d, 2, ASYNCRT_TASK_STATE_IDLE, t2, "right");
  add_task (d, 3, ASYNCRT_TASK_STATE_IDLE, t3, "bystander");
  add_task (d, 1, ASYNCRT_TASK_STATE_IDLE, t1, "left");
  asyncrt__dump_seal (d);

  g_assert_cmpuint (asyncrt_dump_get_n_deadlocks (d), ==, 1);
  static const AsyncrtTaskId want[] = { 1, 2 };
  assert_deadlock (d, 0, want, 2);
  g_assert_cmpuint (blocked (d, 1), ==, 2);             /* 2, and 3 through 2 */
  g_assert_cmpuint (blocked (d, 2), ==, 2);             /* 1 and 3 */
  g_assert_cmpuint (blocked (d, 3), ==, 0);
  g_assert_cmpuint (blocked (d, 4), ==, 0);
  /* The waits, through the public accessors. */
  const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, 1);
  g_assert_cmpuint (asyncrt_dump_task_get_n_waits (t), ==, 1);
  const AsyncrtWait *wait = asyncrt_dump_task_get_wait (t, 0);
  g_assert_cmpint (asyncrt_wait_get_kind (wait), ==, ASYNCRT_WAIT_MUTEX);
  g_assert_cmpuint (asyncrt_wait_get_object (wait), ==, 0xa0);
  g_assert_cmpstr (asyncrt_wait_get_object_name (wait), ==, "accounts");
  g_assert_cmpuint (asyncrt_wait_get_holder_id (wait), ==, 2);
  g_assert_cmpuint (asyncrt_wait_get_waited_ns (wait), ==, 1000000000u);   /* the task's idle time */
  int64_t v = 0;
  g_assert_cmpint (asyncrt_wait_get_fact (wait, ASYNCRT_WAIT_FACT_HELD_NS, &v), ==, 0);
  g_assert_cmpint (v, ==, 1500000000);
  g_assert_null (asyncrt_dump_task_get_wait (t, 1));

  char *s = text_without_header (asyncrt_dump_to_string (d));
  const char *expected =
    "task dump of a multi_thread runtime: 4 tasks, complete, 1 deadlock\n"
    "deadlock: tasks 1, 2 wait for each other, blocking 1 more task\n"
    "  task 1 \"left\" waits for mutex \"accounts\" held by task 2 for 1.500 s\n"
    "  task 2 \"right\" waits for mutex \"ledger\" held by task 1 for 1.400 s\n"
    "task 1 idle, name \"left\", idle 1.000 s, 0 polls\n"
    "  ╼ worker_poll at w.c:10:3\n"
    "  └╼ asyncrt_mutex_lock_poll at lib/sync/mutex.c:160:7 — waits for mutex \"accounts\" held by task 2 for 1.500 s\n"
    "task 2 idle, name \"right\", idle 1.000 s, 0 polls\n"
    "  ╼ worker_poll at w.c:10:3\n"
    "  └╼ asyncrt_mutex_lock_poll at lib/sync/mutex.c:160:7 — waits for mutex \"ledger\" held by task 1 for 1.400 s\n"
    "task 3 idle, name \"bystander\", idle 1.000 s, 0 polls\n"
    "  ╼ worker_poll at w.c:10:3\n"
    "  └╼ asyncrt_mutex_lock_poll at lib/sync/mutex.c:160:7 — waits for mutex \"accounts\" held by task 2\n"
    "task 4 idle, name \"sleeper\", idle 1.000 s, 0 polls\n"
    "  ╼ worker_poll at w.c:12:3\n"
    "  └╼ asyncrt_sleep_poll at lib/driver/time/sleep.c:31:3 — sleeps\n";
  if (g_strcmp0 (s, expected) != 0)
    g_test_message ("got:\n%s", s);
  g_assert_cmpstr (s, ==, expected);
  free (s);
  s = test_dump_json (d, 0);
  g_assert_nonnull (strstr (s, "\"deadlocks\":[{\"tasks\":[1,2],\"blocks\":1}]"));
  g_assert_nonnull (strstr (s, "{\"kind\":\"mutex\",\"object\":\"0xa0\",\"name\":\"accounts\","
                               "\"holder_id\":2,\"waited_ns\":1000000000,"
                               "\"facts\":{\"held_ns\":1500000000}}"));
  free (s);
  asyncrt_dump_free (d);
}

/* Cycles of joins, a three-task cycle mixing a join and mutexes, a task waiting for a
 * mutex it holds: each reported with exactly its tasks, in ascending order. */
static void
test_cycles (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("current_thread", 1);
  AsyncrtTrace *tr;
  /* 5 <-> 6 by joins. */
  tr = wait_trace ();
  add_wait (tr, join_frames, ASYNCRT_WAIT_JOIN, 0x600, NULL, 6);
  add_task (d, 5, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  tr = wait_trace ();
  add_wait (tr, join_frames, ASYNCRT_WAIT_JOIN, 0x500, NULL, 5);
  add_task (d, 6, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  /* 9 -> 7 -> 8 -> 9. */
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x80, NULL, 8);
  add_task (d, 7, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  tr = wait_trace ();
  add_wait (tr, join_frames, ASYNCRT_WAIT_JOIN, 0x900, NULL, 9);
  add_task (d, 8, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x70, NULL, 7);
  add_task (d, 9, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  /* 16 waits for a mutex it holds. */
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x160, "self", 16);
  add_task (d, 16, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  /* 17 was handed the mutex it waited for: not waiting any more. */
  tr = wait_trace ();
  AsyncrtWait *w = add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x170, NULL, 17);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_READY, 1);
  add_task (d, 17, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  /* 18 joins 5: blocked by the first deadlock, not part of it. */
  tr = wait_trace ();
  add_wait (tr, join_frames, ASYNCRT_WAIT_JOIN, 0x500, NULL, 5);
  add_task (d, 18, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  asyncrt__dump_seal (d);

  g_assert_cmpuint (asyncrt_dump_get_n_deadlocks (d), ==, 3);
  static const AsyncrtTaskId a[] = { 5, 6 }, b[] = { 7, 8, 9 }, c[] = { 16 };
  assert_deadlock (d, 0, a, 2);
  assert_deadlock (d, 1, b, 3);
  assert_deadlock (d, 2, c, 1);
  g_assert_cmpuint (blocked (d, 5), ==, 2);             /* 6 and 18 */
  g_assert_cmpuint (blocked (d, 6), ==, 2);             /* 5, and 18 through 5 */
  g_assert_cmpuint (blocked (d, 7), ==, 2);
  g_assert_cmpuint (blocked (d, 16), ==, 0);
  g_assert_cmpuint (blocked (d, 17), ==, 0);

  /* Out of range, NULL: 0 and the output untouched. */
  const AsyncrtTaskId *ids = (const AsyncrtTaskId *) 0x1;
  g_assert_cmpuint (asyncrt_dump_get_deadlock (d, 3, &ids), ==, 0);
  g_assert_true (ids == (const AsyncrtTaskId *) 0x1);
  g_assert_cmpuint (asyncrt_dump_get_deadlock (NULL, 0, &ids), ==, 0);
  g_assert_cmpuint (asyncrt_dump_get_deadlock (d, 0, NULL), ==, 2);
  g_assert_cmpuint (asyncrt_dump_get_n_deadlocks (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_dump_task_get_n_blocked (NULL), ==, 0);

  char *s = text_without_header (asyncrt_dump_to_string (d));
  g_assert_nonnull (strstr (s, "task dump of a current_thread runtime: 8 tasks, complete, 3 deadlocks\n"
                               "deadlock: tasks 5, 6 wait for each other, blocking 1 more task\n"
                               "  task 5 waits for task 6 to finish\n"
                               "  task 6 waits for task 5 to finish\n"
                               "deadlock: tasks 7, 8, 9 wait for each other\n"
                               "  task 7 waits for mutex 0x80 held by task 8\n"
                               "  task 8 waits for task 9 to finish\n"
                               "  task 9 waits for mutex 0x70 held by task 7\n"
                               "deadlock: task 16 waits for itself\n"
                               "  task 16 waits for mutex \"self\" held by task 16\n"
                               "task 5 idle"));
  g_assert_nonnull (strstr (s, "— waits for mutex 0x170 held by task 17 (ready: runs next)\n"));
  free (s);
  free (test_dump_json (d, ASYNCRT_DUMP_GROUP));
  asyncrt_dump_free (d);
}

/* A holder that may still make progress is never part of a deadlock, nor is anyone
 * waiting on it: a holder also waiting on a timer, running, queued, untraced, or not
 * in the dump; a semaphore whose other holders are unknown. */
static void
test_no_false_cycle (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("multi_thread", 2);
  AsyncrtTrace *tr;
  /* 10 <-> 11, but 11 also waits on a timer (a select with a timeout). */
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x100, NULL, 11);
  add_task (d, 10, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x110, NULL, 10);
  add_wait (tr, sleep_frames, ASYNCRT_WAIT_SLEEP, 0x111, NULL, 0);
  add_task (d, 11, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  /* 12 waits for 13, which is running. */
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x120, NULL, 13);
  add_task (d, 12, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  add_task (d, 13, ASYNCRT_TASK_STATE_RUNNING, NULL, NULL);
  /* 14 <-> 15, but 15 is queued (woken): it will run. */
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x140, NULL, 15);
  add_task (d, 14, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  tr = wait_trace ();
  add_wait (tr, join_frames, ASYNCRT_WAIT_JOIN, 0x141, NULL, 14);
  add_task (d, 15, ASYNCRT_TASK_STATE_SCHEDULED, tr, NULL);
  /* 19 waits for 99, not in the dump (finished without unlocking). */
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x190, "leaked", 99);
  add_task (d, 19, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  /* 20 <-> 21 through a semaphore with other holders, and back through a mutex. */
  tr = wait_trace ();
  AsyncrtWait *w = add_wait (tr, lock_frames, ASYNCRT_WAIT_SEMAPHORE, 0x200, NULL, 21);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_OTHER_HOLDERS, 1);
  add_task (d, 20, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x210, NULL, 20);
  add_task (d, 21, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  /* 22 <-> 23, but 23's leaf gave no description. */
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x220, NULL, 23);
  add_task (d, 22, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  tr = wait_trace ();
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x230, NULL, 22);
  add_backtrace (tr, sleep_frames);
  add_task (d, 23, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  asyncrt__dump_seal (d);

  g_assert_cmpuint (asyncrt_dump_get_n_deadlocks (d), ==, 0);
  for (size_t i = 0; i < asyncrt_dump_get_n_tasks (d); i++)
    {
      const struct _AsyncrtDumpTask *t = (const struct _AsyncrtDumpTask *) asyncrt_dump_get_task (d, i);
      g_assert_cmpuint (t->deadlock, ==, 0);
    }
  /* The chains are still told. */
  g_assert_cmpuint (blocked (d, 11), ==, 1);
  g_assert_cmpuint (blocked (d, 13), ==, 1);
  g_assert_cmpuint (blocked (d, 20), ==, 1);            /* 21 waits for 20's mutex… */
  g_assert_cmpuint (blocked (d, 21), ==, 0);            /* …but 21's permits are not certain */
  char *s = text_without_header (asyncrt_dump_to_string (d));
  g_assert_null (strstr (s, "deadlock"));
  g_assert_nonnull (strstr (s, "\ntask 99 holds mutex \"leaked\", blocking 1 task: 19\n"
                               "  task 99 is not in this dump (finished without releasing it, "
                               "or a task of another runtime)\n"));
  g_assert_nonnull (strstr (s, "\ntask 13 holds mutex 0x120, blocking 1 task: 12\n"
                               "  task 13 is not traced: running\n"));
  g_assert_nonnull (strstr (s, "\ntask 11 holds mutex 0x100, blocking 1 task: 10\n"
                               "  task 11 waits for mutex 0x110 held by task 10\n"
                               "  task 11 sleeps\n"));
  free (s);
  free (test_dump_json (d, 0));
  asyncrt_dump_free (d);
}

/* Chains: a holder blocks its waiters and everyone waiting on them; a task waiting on
 * two holders (joins) makes the graph general.  Holders are listed longest-held
 * first. */
static void
test_chains (void)
{
  for (int general = 0; general < 2; general++)
    {
      AsyncrtDump *d = asyncrt__dump_new ("multi_thread", 2);
      AsyncrtTrace *tr;
      /* 30 holds m1 (held 2 s) and sleeps; 31, 32 wait for m1; 33 joins 31; 34 joins 33. */
      tr = wait_trace ();
      add_wait (tr, sleep_frames, ASYNCRT_WAIT_SLEEP, 0x300, NULL, 0);
      add_task (d, 30, ASYNCRT_TASK_STATE_IDLE, tr, "holder");
      for (AsyncrtTaskId id = 31; id <= 32; id++)
        {
          tr = wait_trace ();
          AsyncrtWait *w = add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x310, "m1", 30);
          asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_HELD_NS, 2000000000);
          add_task (d, id, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
        }
      tr = wait_trace ();
      add_wait (tr, join_frames, ASYNCRT_WAIT_JOIN, 0x331, NULL, 31);
      if (general)
        add_wait (tr, join_frames, ASYNCRT_WAIT_JOIN, 0x332, NULL, 32);
      add_task (d, 33, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
      tr = wait_trace ();
      add_wait (tr, join_frames, ASYNCRT_WAIT_JOIN, 0x333, NULL, 33);
      add_task (d, 34, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
      /* 40 holds m2 (held 3 s), 41 waits for it. */
      add_task (d, 40, ASYNCRT_TASK_STATE_RUNNING, NULL, NULL);
      tr = wait_trace ();
      AsyncrtWait *w = add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x400, "m2", 40);
      asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_HELD_NS, 3000000000);
      add_task (d, 41, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
      asyncrt__dump_seal (d);

      g_assert_cmpuint (asyncrt_dump_get_n_deadlocks (d), ==, 0);
      g_assert_cmpuint (blocked (d, 30), ==, 4);          /* 31, 32, 33, 34 */
      g_assert_cmpuint (blocked (d, 31), ==, 2);          /* 33, 34 */
      g_assert_cmpuint (blocked (d, 32), ==, general ? 2 : 0);
      g_assert_cmpuint (blocked (d, 33), ==, 1);
      g_assert_cmpuint (blocked (d, 34), ==, 0);
      g_assert_cmpuint (blocked (d, 40), ==, 1);
      char *s = text_without_header (asyncrt_dump_to_string (d));
      const char *m2 = strstr (s, "task 40 holds mutex \"m2\" for 3.000 s, blocking 1 task: 41\n");
      const char *m1 = strstr (s, "task 30 \"holder\" holds mutex \"m1\" for 2.000 s, blocking 4 tasks: "
                                  "31, 32 and 2 more waiting on them\n"
                                  "  task 30 \"holder\" sleeps\n");
      g_assert_nonnull (m2);
      g_assert_nonnull (m1);
      g_assert_true (m2 < m1);                            /* longest-held first */
      g_assert_nonnull (strstr (s, "task 31 has not finished, blocking 2 tasks: 33 and 1 more "
                                   "waiting on them\n"));
      free (s);
      free (test_dump_json (d, 0));
      asyncrt_dump_free (d);
    }
}

/* Names come from the program: escaped in the text (one line per wait), valid in JSON. */
static void
test_hostile_names (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("current_thread", 1);
  AsyncrtTrace *tr = wait_trace ();
  const char *evil = "store\"\n\x1b[31mtask 99 idle\\\xff\xe2\x80\xae";
  add_wait (tr, lock_frames, ASYNCRT_WAIT_MUTEX, 0x10, evil, 2);
  add_task (d, 1, ASYNCRT_TASK_STATE_IDLE, tr, NULL);
  tr = wait_trace ();
  add_wait (tr, sleep_frames, ASYNCRT_WAIT_SLEEP, 0x20, NULL, 0);
  add_task (d, 2, ASYNCRT_TASK_STATE_IDLE, tr, evil);
  asyncrt__dump_seal (d);
  g_assert_cmpstr (asyncrt_wait_get_object_name (asyncrt_dump_task_get_wait (asyncrt_dump_get_task (d, 0), 0)),
                   ==, evil);
  const char *escaped = "\"store\\\"\\n\\x1b[31mtask 99 idle\\\\\xef\xbf\xbd\\u202e\"";
  for (unsigned flags = 0; flags <= ASYNCRT_DUMP_GROUP; flags += ASYNCRT_DUMP_GROUP)
    {
      char *s = asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_TEXT, flags);
      g_assert_true (g_utf8_validate (s, -1, NULL));
      g_assert_null (strchr (s, '\x1b'));
      char *want = g_strconcat ("waits for mutex ", escaped, " held by task 2\n", NULL);
      g_assert_nonnull (strstr (s, want));
      g_free (want);
      want = g_strconcat ("\ntask 2 ", escaped, " holds mutex ", escaped,
                          ", blocking 1 task: 1\n", NULL);
      g_assert_nonnull (strstr (s, want));
      g_free (want);
      g_assert_null (strstr (s, "\ntask 99"));
      free (s);
      s = test_dump_json (d, flags);
      g_assert_true (g_utf8_validate (s, -1, NULL));
      g_assert_null (strchr (s, '\n'));
      g_assert_nonnull (strstr (s, "\"name\":\"store\\\"\\n\\u001b[31mtask 99 idle\\\\\xef\xbf\xbd\xe2\x80\xae\""));
      free (s);
    }
  asyncrt_dump_free (d);
}

/* Grouping: the same trace, the same kinds of wait and the same state make a group,
 * printed once with its ids (abridged past 20), names and idle times; a group of one
 * is printed as its task; a leaf names its object only when all members share it. */
static void
test_groups (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("current_thread", 1);
  /* Real (unresolvable) IPs: the same for every task of a group. */
  static const uintptr_t ips_a[] = { 0x11, 0x12 }, ips_b[] = { 0x21, 0x22 };
  for (AsyncrtTaskId id = 1; id <= 30; id++)
    {
      AsyncrtTrace *tr = asyncrt__trace_new ();
      bool a = id <= 25;
      asyncrt__trace_append_ips (tr, a ? ips_a : ips_b, 2);
      AsyncrtWait *w = &tr->backtraces[0]->wait;
      if (a)
        asyncrt__wait_set (w, ASYNCRT_WAIT_FD, 0x1000 + id, NULL);    /* each its own fd */
      else
        {
          asyncrt__wait_set (w, ASYNCRT_WAIT_MUTEX, 0x2000, "store");  /* all the same mutex */
          asyncrt__wait_set_holder (w, 31);
        }
      struct _AsyncrtDumpTask r = { 0 };
      r.id = id;
      r.worker = -1;
      r.trace = tr;
      r.name = g_strdup (id % 5 == 0 ? "five" : a ? "conn" : NULL);
      r.last_poll_ns = d->taken_ns - id * 1000000u;
      asyncrt__dump_add_task (d, &r);
    }
  add_task (d, 31, ASYNCRT_TASK_STATE_RUNNING, NULL, "holder");
  asyncrt__dump_seal (d);
  char *s = text_without_header (asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_TEXT, ASYNCRT_DUMP_GROUP));
  char *a_tree = NULL, *b_tree = NULL;
  {
    /* The trees as the ungrouped text prints them for one member of each group. */
    char *full = asyncrt_dump_to_string (d);
    const char *p = strstr (full, "\ntask 1 idle");
    p = strchr (p + 1, '\n') + 1;
    const char *e = strstr (p, "\ntask 2 idle");
    a_tree = g_strndup (p, (gsize) (e + 1 - p));
    p = strstr (full, "\ntask 26 idle");
    p = strchr (p + 1, '\n') + 1;
    e = strstr (p, "\ntask 27 idle");
    b_tree = g_strndup (p, (gsize) (e + 1 - p));
    free (full);
  }
  g_assert_nonnull (strstr (a_tree, " — waits for fd\n"));
  g_assert_nonnull (strstr (b_tree, " — waits for mutex \"store\" held by task 31\n"));
  char *expected = g_strconcat (
    "task dump of a current_thread runtime: 31 tasks, incomplete\n"
    "task 31 \"holder\" holds mutex \"store\", blocking 5 tasks: 26, 27, 28, 29, 30\n"
    "  task 31 \"holder\" is not traced: running\n"
    "25 tasks idle: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, "
    "… (5 more), name \"conn\" (20), \"five\" (5), idle min 1.000 ms, median 13.000 ms, "
    "max 25.000 ms\n", a_tree,
    "5 tasks idle: 26, 27, 28, 29, 30, name \"five\" (1), 4 unnamed, idle min 26.000 ms, "
    "median 28.000 ms, max 30.000 ms\n", b_tree,
    "task 31 running, name \"holder\", running 1.000 s, 0 polls\n"
    "  (not traced: running)\n", NULL);
  if (g_strcmp0 (s, expected) != 0)
    g_test_message ("got:\n%s", s);
  g_assert_cmpstr (s, ==, expected);
  g_free (expected);
  g_free (a_tree);
  g_free (b_tree);
  free (s);
  s = test_dump_json (d, ASYNCRT_DUMP_GROUP);
  g_assert_nonnull (strstr (s, "\"groups\":[{\"count\":25,\"state\":\"idle\",\"no_trace\":null,"
                               "\"trace\":0,\"wait_kinds\":[\"fd\"],\"tasks\":[1,2,3,"));
  g_assert_nonnull (strstr (s, "\"idle_ns\":{\"min\":1000000,\"median\":13000000,\"max\":25000000}}"));
  free (s);
  s = test_dump_json (d, 0);
  g_assert_null (strstr (s, "\"groups\""));
  free (s);
  asyncrt_dump_free (d);
}

/* asyncrt_dump_format(): the shorthands, and its errors. */
static void
test_format_errors (void)
{
  AsyncrtDump *d = build_dump ();
  char *a = asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_TEXT, 0);
  char *b = asyncrt_dump_to_string (d);
  g_assert_cmpstr (text_without_header (a), ==, text_without_header (b));
  free (a);
  free (b);
  a = asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_JSON, 0);
  b = asyncrt_dump_to_json (d);
  g_assert_cmpstr (json_without_header (a), ==, json_without_header (b));
  free (a);
  free (b);
  errno = 0;
  g_assert_null (asyncrt_dump_format (NULL, ASYNCRT_DUMP_FORMAT_TEXT, 0));
  g_assert_cmpint (errno, ==, EINVAL);
  errno = 0;
  g_assert_null (asyncrt_dump_format (d, (AsyncrtDumpFormat) 77, 0));
  g_assert_cmpint (errno, ==, EINVAL);
  errno = 0;
  g_assert_null (asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_TEXT, 1u << 30));
  g_assert_cmpint (errno, ==, EINVAL);
  errno = 0;
  g_assert_null (asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_JSON, ASYNCRT_DUMP_GROUP | 4u));
  g_assert_cmpint (errno, ==, EINVAL);
  asyncrt_dump_free (d);
}

/* The wait accessors on NULL and on facts a wait does not have; kinds and facts by
 * name; a program's leaf outside any capture. */
static void
test_wait_accessors (void)
{
  g_assert_cmpint (asyncrt_wait_get_kind (NULL), ==, ASYNCRT_WAIT_UNKNOWN);
  g_assert_cmpuint (asyncrt_wait_get_object (NULL), ==, 0);
  g_assert_null (asyncrt_wait_get_object_name (NULL));
  g_assert_cmpuint (asyncrt_wait_get_holder_id (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_wait_get_waited_ns (NULL), ==, 0);
  int64_t v = 42;
  g_assert_cmpint (asyncrt_wait_get_fact (NULL, ASYNCRT_WAIT_FACT_FD, &v), ==, -EINVAL);
  g_assert_cmpint (v, ==, 42);
  g_assert_cmpuint (asyncrt_dump_task_get_n_waits (NULL), ==, 0);
  g_assert_null (asyncrt_dump_task_get_wait (NULL, 0));
  AsyncrtWait w = { 0 };
  asyncrt__wait_set_fact (&w, ASYNCRT_WAIT_FACT_FD, 7);
  g_assert_cmpint (asyncrt_wait_get_fact (&w, ASYNCRT_WAIT_FACT_FD, NULL), ==, 0);
  g_assert_cmpint (asyncrt_wait_get_fact (&w, ASYNCRT_WAIT_FACT_LENGTH, &v), ==, -ENOENT);
  g_assert_cmpint (asyncrt_wait_get_fact (&w, (AsyncrtWaitFact) 0, &v), ==, -EINVAL);
  g_assert_cmpint (asyncrt_wait_get_fact (&w, (AsyncrtWaitFact) 99, &v), ==, -EINVAL);
  g_assert_cmpint (v, ==, 42);
  /* At most ASYNCRT__WAIT_MAX_FACTS distinct facts; replacing one takes no room. */
  for (int f = ASYNCRT_WAIT_FACT_REMAINING_NS; f < ASYNCRT_WAIT_FACT_REMAINING_NS + ASYNCRT__WAIT_MAX_FACTS; f++)
    g_assert_cmpint (asyncrt__wait_set_fact (&w, (AsyncrtWaitFact) f, f), ==, 0);
  g_assert_cmpint (asyncrt__wait_set_fact (&w, ASYNCRT_WAIT_FACT_GROUP_ID, 1), ==, -ENOSPC);
  g_assert_cmpint (asyncrt__wait_set_fact (&w, ASYNCRT_WAIT_FACT_FD, 9), ==, 0);
  g_assert_cmpint (asyncrt_wait_get_fact (&w, ASYNCRT_WAIT_FACT_FD, &v), ==, 0);
  g_assert_cmpint (v, ==, 9);

  g_assert_cmpstr (asyncrt_wait_kind_to_string (ASYNCRT_WAIT_MUTEX), ==, "mutex");
  g_assert_cmpstr (asyncrt_wait_kind_to_string (ASYNCRT_WAIT_SIGNAL), ==, "signal");
  g_assert_cmpstr (asyncrt_wait_kind_to_string ((AsyncrtWaitKind) 1000), ==, "unknown");
  g_assert_cmpstr (asyncrt_wait_fact_to_string (ASYNCRT_WAIT_FACT_HELD_NS), ==, "held_ns");
  g_assert_null (asyncrt_wait_fact_to_string ((AsyncrtWaitFact) 0));
  g_assert_null (asyncrt_wait_fact_to_string ((AsyncrtWaitFact) 1000));

  /* Outside a capture no leaf was traced. */
  g_assert_cmpint (asyncrt_trace_leaf_set_wait (ASYNCRT_WAIT_FD, 1, "x"), ==, -ENOENT);
  g_assert_cmpint (asyncrt_trace_leaf_set_wait ((AsyncrtWaitKind) 99, 1, "x"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_trace_leaf_set_wait_holder (3), ==, -ENOENT);
  g_assert_cmpint (asyncrt_trace_leaf_set_wait_fact (ASYNCRT_WAIT_FACT_FD, 3), ==, -ENOENT);
  g_assert_cmpint (asyncrt_trace_leaf_set_wait_fact ((AsyncrtWaitFact) 0, 3), ==, -EINVAL);
  g_free (w.name);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dump/model/accessors", test_accessors);
  g_test_add_func ("/dump/model/null", test_null);
  g_test_add_func ("/dump/model/empty", test_complete_and_empty);
  g_test_add_func ("/dump/model/to-string", test_to_string);
  g_test_add_func ("/dump/model/to-json", test_to_json);
  g_test_add_func ("/dump/model/same-traces", test_same_traces);
  g_test_add_func ("/dump/model/reasons", test_reasons);
  g_test_add_func ("/dump/model/escaping", test_escaping);
  g_test_add_func ("/dump/model/truncated", test_truncated);
  g_test_add_func ("/dump/model/waits/lock-order-deadlock", test_lock_order_deadlock);
  g_test_add_func ("/dump/model/waits/cycles", test_cycles);
  g_test_add_func ("/dump/model/waits/no-false-cycle", test_no_false_cycle);
  g_test_add_func ("/dump/model/waits/chains", test_chains);
  g_test_add_func ("/dump/model/waits/hostile-names", test_hostile_names);
  g_test_add_func ("/dump/model/waits/accessors", test_wait_accessors);
  g_test_add_func ("/dump/model/groups", test_groups);
  g_test_add_func ("/dump/model/format-errors", test_format_errors);
  test_dump_json_add_check ();
  return g_test_run ();
}
