/* The AsyncrtDump object: accessors, sealing, text and JSON forms, from hand-built
 * records with synthetic (pre-resolved) traces. */
#include "dump/dump-private.h"
#include "trace/trace-private.h"
#include "test-util.h"

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
  char *start = g_strdup_printf ("{\"version\":1,\"pid\":%ld,\"program\":\"test-dump-model\","
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
  memmove (s + strlen ("{\"version\":1,"), rest, strlen (rest) + 1);
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
  g_assert_cmpstr (s, ==, "{\"version\":1,\"flavour\":\"current_thread\",\"workers\":1,"
                          "\"complete\":true,\"census\":false,\"census_reason\":null,"
                          "\"missing_workers\":[],\"native_stacks\":\"not_sampled\","
                          "\"sample_signal\":null,\"blocking_jobs\":[],\"tasks\":[]}");
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
  g_assert_true (g_str_has_prefix (s, "{\"version\":1,\"flavour\":\"multi_thread\",\"workers\":4,"
                                      "\"complete\":false,\"census\":false,"
                                      "\"census_reason\":null,"
                                      "\"missing_workers\":[{\"index\":2,\"task_id\":9,"
                                      "\"running_ns\":2000000000,\"native_stack\":null,"
                                      "\"trace\":null}],\"native_stacks\":\"not_sampled\","
                                      "\"sample_signal\":null,\"blocking_jobs\":[],"
                                      "\"tasks\":[{\"id\":3,"));
  g_assert_nonnull (strstr (s, "\"name\":\"busy \\\"one\\\"\""));
#ifdef HAVE_JSON_GLIB
  GError *error = NULL;
  JsonParser *p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, s, -1, &error));
  g_assert_no_error (error);
  JsonObject *root = json_node_get_object (json_parser_get_root (p));
  g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 1);
  JsonArray *tasks = json_object_get_array_member (root, "tasks");
  g_assert_cmpuint (json_array_get_length (tasks), ==, 3);
  JsonObject *t0 = json_array_get_object_element (tasks, 0);
  g_assert_cmpstr (json_object_get_string_member (t0, "state"), ==, "idle");
  g_assert_cmpint (json_object_get_int_member (t0, "idle_ns"), ==, 1500000);
  JsonObject *spawn = json_object_get_object_member (t0, "spawn");
  g_assert_cmpstr (json_object_get_string_member (spawn, "function"), ==, "spawner");
  JsonObject *trace = json_object_get_object_member (t0, "trace");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (trace, "backtraces")), ==, 2);
  JsonArray *tree = json_object_get_array_member (trace, "tree");
  g_assert_cmpuint (json_array_get_length (tree), ==, 1);
  JsonObject *t2 = json_array_get_object_element (tasks, 2);
  g_assert_true (json_object_get_null_member (t2, "trace"));
  g_assert_cmpint (json_object_get_int_member (t2, "worker"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (t2, "no_trace"), ==, "running");
  g_assert_true (json_object_get_null_member (t0, "no_trace"));
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (tasks, 1),
                                                  "no_trace"), ==, NULL);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (tree, 0),
                                                  "name"), ==, "a_poll");
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
  char *first = strstr (s, "\"trace\":");
  char *third = strstr (strstr (strstr (first + 1, "\"trace\":") + 1, "\"id\":3"), "\"trace\":");
  g_assert_nonnull (third);
  g_assert_cmpint (strncmp (first, third, strlen (third) - 2), ==, 0);
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
  char *json = asyncrt_dump_to_json (d);
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
      json = asyncrt_dump_to_json (d);
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
  s = asyncrt_dump_to_json (d);
  g_assert_nonnull (strstr (s, "{\"truncated\":true,\"frames\":["));
  g_assert_nonnull (strstr (s, "{\"truncated\":false,\"frames\":["));
  g_assert_nonnull (strstr (s, "\"name\":\"…\",\"file\":null,\"line\":0,\"column\":0,"
                               "\"truncated\":true,"));
  free (s);
  asyncrt_dump_free (d);
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
  return g_test_run ();
}
