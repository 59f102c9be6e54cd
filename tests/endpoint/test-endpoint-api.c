/* Dumps from outside the process, in one process: runtime names, the endpoint's
 * start/stop and its errors, the protocol parser and formatter, and the parsers of
 * ASYNCRT_DUMP_SIGNAL and ASYNCRT_DUMP_FILE.  (tests/endpoint/test-endpoint runs the
 * real thing across processes.) */
#include "endpoint/endpoint-private.h"
#include "endpoint-test-util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

/* ---- runtime names -------------------------------------------------------------------- */

static void
test_names (void)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  g_assert_cmpint (asyncrt_builder_set_name (NULL, "x"), ==, -EINVAL);
  const char *bad[] = { "", "a b", "tab\t", "new\nline", "quote\"", "slash/", "caf\xc3\xa9",
                        "\x1b[2J", "0123456789012345678901234567890123456789012345678901234567890123" };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_cmpint (asyncrt_builder_set_name (b, bad[i]), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_name (b, "012345678901234567890123456789012345678901234567890123456789012"), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_name (b, "http-1.a_b:c@d+e"), ==, 0);

  AsyncrtRuntime *named, *dflt;
  g_assert_cmpint (asyncrt_builder_build (b, &named), ==, 0);
  /* The builder keeps its name (the runtime has its own copy); NULL resets it. */
  g_assert_cmpint (asyncrt_builder_set_name (b, NULL), ==, 0);
  g_assert_cmpint (asyncrt_builder_build (b, &dflt), ==, 0);
  asyncrt_builder_free (b);
  g_assert_cmpstr (asyncrt_handle_get_name (asyncrt_runtime_get_handle (named)), ==,
                   "http-1.a_b:c@d+e");
  const char *d = asyncrt_handle_get_name (asyncrt_runtime_get_handle (dflt));
  g_assert_true (g_str_has_prefix (d, "rt-"));
  g_assert_cmpuint (g_ascii_strtoull (d + 3, NULL, 10), >=, 2);
  g_assert_null (asyncrt_handle_get_name (NULL));
  asyncrt_builder_free (NULL);
  asyncrt_runtime_free (dflt);
  asyncrt_runtime_free (named);
}

/* ---- start / stop ---------------------------------------------------------------------- */

static int
listening_fd (void)
{
  /* The library's listening socket: the socket descriptor whose address is ours. */
  char *want = g_strdup_printf ("asyncrt/%ld", (long) getpid ());
  int found = -1;
  for (int fd = 3; fd < 1024 && found < 0; fd++)
    {
      struct sockaddr_un a;
      socklen_t len = sizeof a;
      if (getsockname (fd, (struct sockaddr *) &a, &len) == 0 && a.sun_family == AF_UNIX
          && len > offsetof (struct sockaddr_un, sun_path) + 1 && a.sun_path[0] == '\0'
          && len - offsetof (struct sockaddr_un, sun_path) - 1 == strlen (want)
          && memcmp (a.sun_path + 1, want, strlen (want)) == 0)
        found = fd;
    }
  g_free (want);
  return found;
}

static void
test_start_stop (void)
{
  long pid = (long) getpid ();
  g_assert_false (endpoint_is_listed (pid));
  g_assert_cmpint (endpoint_connect (pid), ==, -ECONNREFUSED);
  g_assert_cmpint (asyncrt_dump_endpoint_start (), ==, 0);
  g_assert_cmpint (asyncrt_dump_endpoint_start (), ==, 0);          /* already */
  g_assert_true (endpoint_is_listed (pid));
  int fd = listening_fd ();
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (fcntl (fd, F_GETFD) & FD_CLOEXEC);

  /* Served from the library's thread, here in the same process (same uid). */
  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  asyncrt_builder_set_worker_threads (b, 2);
  asyncrt_builder_set_name (b, "api");
  AsyncrtRuntime *rt;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  GString *answer = g_string_new (NULL);
  g_assert_cmpint (endpoint_exchange (pid, "asyncrt-dump 1 list runtime=api\n", -1, false,
                                      test_timeout_ms (20000), answer), ==, 0);
  size_t body;
  char *st = answer_status (answer, &body);
  g_assert_cmpstr (st, ==, "ok");
  g_assert_nonnull (strstr (answer->str + body, "\napi "));
  g_free (st);
  g_string_truncate (answer, 0);
  g_assert_cmpint (endpoint_exchange (pid, "asyncrt-dump 1 dump runtime=api\n", -1, false,
                                      test_timeout_ms (20000), answer), ==, 0);
  st = answer_status (answer, &body);
  g_assert_cmpstr (st, ==, "ok");
  g_assert_true (g_str_has_prefix (answer->str + body, "==== runtime \"api\" (multi_thread, 2 workers) ====\n"));
  g_free (st);
  /* A runtime freed is no longer offered. */
  asyncrt_runtime_free (rt);
  g_string_truncate (answer, 0);
  g_assert_cmpint (endpoint_exchange (pid, "asyncrt-dump 1 list runtime=api\n", -1, false,
                                      test_timeout_ms (20000), answer), ==, 0);
  st = answer_status (answer, NULL);
  g_assert_cmpstr (st, ==, "ENOENT");
  g_free (st);
  g_string_free (answer, TRUE);

  asyncrt_dump_endpoint_stop ();
  g_assert_false (endpoint_is_listed (pid));
  g_assert_cmpint (listening_fd (), ==, -1);
  g_assert_cmpint (endpoint_connect (pid), ==, -ECONNREFUSED);
  asyncrt_dump_endpoint_stop ();                                     /* not started */
  g_assert_cmpint (asyncrt_dump_endpoint_start (), ==, 0);           /* again */
  g_assert_true (endpoint_is_listed (pid));
  asyncrt_dump_endpoint_stop ();
  g_assert_false (endpoint_is_listed (pid));
}

/* start/stop from several threads at once, with clients and runtimes coming and going
 * meanwhile: no crash, no deadlock, no race (TSan), and the end state is right. */
static atomic_bool race_done;

static gpointer
race_starter (gpointer data)
{
  GRand *rand = g_rand_new_with_seed (GPOINTER_TO_UINT (data));
  for (int i = 0; i < 40; i++)
    {
      if (g_rand_boolean (rand))
        g_assert_cmpint (asyncrt_dump_endpoint_start (), ==, 0);
      else
        asyncrt_dump_endpoint_stop ();
    }
  g_rand_free (rand);
  return NULL;
}

static gpointer
race_client (gpointer data)
{
  (void) data;
  while (!atomic_load (&race_done))
    {
      GString *answer = g_string_new (NULL);
      int r = endpoint_exchange ((long) getpid (), "asyncrt-dump 1 dump timeout=200\n", -1,
                                 false, test_timeout_ms (20000), answer);
      /* Refused while stopped, cut when stopped mid-way, or a whole answer. */
      g_assert_cmpint (r, <=, 0);
      const char *nl = memchr (answer->str, '\n', answer->len);
      unsigned long long len = 0;
      char status[32] = "";
      if (r == 0 && nl != NULL
          && sscanf (answer->str, "asyncrt-dump 1 %31s %llu", status, &len) == 2
          && len == answer->len - (size_t) (nl + 1 - answer->str))
        g_assert_true (strcmp (status, "ok") == 0 || strcmp (status, "incomplete") == 0);
      g_string_free (answer, TRUE);
    }
  return NULL;
}

static gpointer
race_builder (gpointer data)
{
  (void) data;
  while (!atomic_load (&race_done))
    {
      AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
      asyncrt_builder_set_worker_threads (b, 1);
      AsyncrtRuntime *rt;
      g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
      asyncrt_builder_free (b);
      asyncrt_runtime_free (rt);
    }
  return NULL;
}

static void
test_start_stop_race (void)
{
  atomic_store (&race_done, false);
  GThread *client = g_thread_new ("client", race_client, NULL);
  GThread *builder = g_thread_new ("builder", race_builder, NULL);
  GThread *starters[3];
  for (unsigned i = 0; i < G_N_ELEMENTS (starters); i++)
    starters[i] = g_thread_new ("starter", race_starter, GUINT_TO_POINTER (i + 1));
  for (unsigned i = 0; i < G_N_ELEMENTS (starters); i++)
    g_thread_join (starters[i]);
  atomic_store (&race_done, true);
  g_thread_join (client);
  g_thread_join (builder);
  g_assert_cmpint (asyncrt_dump_endpoint_start (), ==, 0);
  g_assert_true (endpoint_is_listed ((long) getpid ()));
  asyncrt_dump_endpoint_stop ();
  g_assert_false (endpoint_is_listed ((long) getpid ()));
}

static void
test_address_in_use (void)
{
  /* Someone else holds the name: start fails cleanly, and works once it is gone. */
  int squatter = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr;
  memset (&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  int n = snprintf (addr.sun_path + 1, sizeof addr.sun_path - 1, "asyncrt/%ld", (long) getpid ());
  g_assert_cmpint (bind (squatter, (struct sockaddr *) &addr,
                         (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + (size_t) n)),
                   ==, 0);
  g_assert_cmpint (asyncrt_dump_endpoint_start (), ==, -EADDRINUSE);
  asyncrt_dump_endpoint_stop ();
  close (squatter);
  g_assert_cmpint (asyncrt_dump_endpoint_start (), ==, 0);
  asyncrt_dump_endpoint_stop ();
}

/* ---- the protocol ------------------------------------------------------------------------ */

static void
test_protocol_parse (void)
{
  const struct
  {
    const char *line;
    int result;
    AsyncrtEndpointCommand command;
    const char *format;
    unsigned timeout;
    const char *runtime;
  } cases[] = {
    { "asyncrt-dump 1 dump", 0, ASYNCRT_ENDPOINT_COMMAND_DUMP, "text", 2000, "" },
    { "asyncrt-dump 1 dump\r", 0, ASYNCRT_ENDPOINT_COMMAND_DUMP, "text", 2000, "" },
    { "asyncrt-dump 1 list", 0, ASYNCRT_ENDPOINT_COMMAND_LIST, "text", 2000, "" },
    { "asyncrt-dump 1 dump format=json timeout=0 runtime=a.b", 0,
      ASYNCRT_ENDPOINT_COMMAND_DUMP, "json", 0, "a.b" },
    { "asyncrt-dump 1 dump runtime=x timeout=60000 format=folded-2", 0,
      ASYNCRT_ENDPOINT_COMMAND_DUMP, "folded-2", 60000, "x" },
    { "asyncrt-dump 1 list format=json runtime=web", 0, ASYNCRT_ENDPOINT_COMMAND_LIST, "json",
      2000, "web" },
    { "", -EINVAL }, { "asyncrt-dump", -EINVAL }, { "asyncrt-dump 1", -EINVAL },
    { "asyncrt-dump x dump", -EINVAL }, { "asyncrt-dump 01x dump", -EINVAL },
    { "asyncrt-dump 2 dump", -EPROTONOSUPPORT }, { "asyncrt-dump 0 dump", -EPROTONOSUPPORT },
    { "asyncrt-dump 999999999 whatever", -EPROTONOSUPPORT },
    { "asyncrt-dump 9999999999 dump", -EINVAL },
    { "ASYNCRT-DUMP 1 dump", -EINVAL }, { " asyncrt-dump 1 dump", -EINVAL },
    { "asyncrt-dump  1 dump", -EINVAL }, { "asyncrt-dump 1 dump ", -EINVAL },
    { "asyncrt-dump 1 DUMP", -EINVAL }, { "asyncrt-dump 1 dump format", -EINVAL },
    { "asyncrt-dump 1 dump =json", -EINVAL }, { "asyncrt-dump 1 dump format=", -EINVAL },
    { "asyncrt-dump 1 dump format=JSON", -EINVAL },
    { "asyncrt-dump 1 dump format=0123456789012345678901234567890123", -EINVAL },
    { "asyncrt-dump 1 dump timeout=60001", -EINVAL },
    { "asyncrt-dump 1 dump timeout=-1", -EINVAL }, { "asyncrt-dump 1 dump timeout=1e3", -EINVAL },
    { "asyncrt-dump 1 dump timeout=000001", -EINVAL },
    { "asyncrt-dump 1 list timeout=5", -EINVAL },
    { "asyncrt-dump 1 dump runtime=", -EINVAL }, { "asyncrt-dump 1 dump runtime=a/b", -EINVAL },
    { "asyncrt-dump 1 dump format=text format=json", -EINVAL },
    { "asyncrt-dump 1 dump timeout=1 timeout=1", -EINVAL },
    { "asyncrt-dump 1 dump filter=x", -EINVAL },
    { "asyncrt-dump 1 dump\ttimeout=1", -EINVAL },
    { "asyncrt-dump 1 dump\r\r", -EINVAL },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      AsyncrtEndpointRequest req;
      memset (&req, 0x5a, sizeof req);
      char err[128] = "";
      int r = asyncrt__endpoint_request_parse (cases[i].line, strlen (cases[i].line), &req, err,
                                               sizeof err);
      if (r != cases[i].result)
        g_test_message ("case %zu '%s': %d (%s)", i, cases[i].line, r, err);
      g_assert_cmpint (r, ==, cases[i].result);
      if (r < 0)
        {
          g_assert_cmpstr (err, !=, "");
          g_assert_cmpint (req.timeout_ms, ==, 0x5a5a5a5a);        /* untouched */
          continue;
        }
      g_assert_cmpint (req.command, ==, cases[i].command);
      g_assert_cmpstr (req.format, ==, cases[i].format);
      g_assert_cmpuint (req.timeout_ms, ==, cases[i].timeout);
      g_assert_cmpstr (req.runtime, ==, cases[i].runtime);
    }
  /* Too long, and hostile bytes. */
  char *big = g_strnfill (2000, 'a');
  AsyncrtEndpointRequest req;
  g_assert_cmpint (asyncrt__endpoint_request_parse (big, 2000, &req, NULL, 0), ==, -EINVAL);
  g_free (big);
  g_assert_cmpint (asyncrt__endpoint_request_parse ("asyncrt-dump 1 dump\0x", 21, &req, NULL, 0),
                   ==, -EINVAL);
  g_assert_cmpint (asyncrt__endpoint_request_parse (NULL, 0, &req, NULL, 0), ==, -EINVAL);
  char err[8];
  g_assert_cmpint (asyncrt__endpoint_request_parse ("\xff", 1, &req, err, sizeof err), ==, -EINVAL);
  g_assert_cmpuint (strlen (err), ==, sizeof err - 1);           /* cut, terminated */
}

static void
test_protocol_format (void)
{
  AsyncrtEndpointRequest req;
  asyncrt__endpoint_request_init (&req, ASYNCRT_ENDPOINT_COMMAND_DUMP);
  char line[ASYNCRT_ENDPOINT_REQUEST_MAX];
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, line, sizeof line), >, 0);
  g_assert_cmpstr (line, ==, "asyncrt-dump 1 dump format=text timeout=2000\n");
  strcpy (req.format, "json");
  strcpy (req.runtime, "web");
  req.timeout_ms = 0;
  asyncrt__endpoint_request_format (&req, line, sizeof line);
  g_assert_cmpstr (line, ==, "asyncrt-dump 1 dump format=json timeout=0 runtime=web\n");
  req.command = ASYNCRT_ENDPOINT_COMMAND_LIST;
  asyncrt__endpoint_request_format (&req, line, sizeof line);
  g_assert_cmpstr (line, ==, "asyncrt-dump 1 list format=json runtime=web\n");
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, line, 10), ==, -ENOSPC);
  strcpy (req.runtime, "a b");
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, line, sizeof line), ==, -EINVAL);
  strcpy (req.runtime, "");
  strcpy (req.format, "");
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, line, sizeof line), ==, -EINVAL);
  strcpy (req.format, "text");
  req.timeout_ms = 60001;
  req.command = ASYNCRT_ENDPOINT_COMMAND_DUMP;
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, line, sizeof line), ==, -EINVAL);
  req.timeout_ms = 1;
  req.command = 7;
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, line, sizeof line), ==, -EINVAL);
}

/* The keys of filtered dumps, folded stacks and watches (0.2). */
static void
test_protocol_filters (void)
{
  const struct
  {
    const char *line;
    int result;
    AsyncrtEndpointCommand command;
    const char *name;
    unsigned states;
    uint64_t min_idle_ms, task;
    bool task_names;
    unsigned interval_ms;
  } cases[] = {
    { "asyncrt-dump 1 dump", 0, ASYNCRT_ENDPOINT_COMMAND_DUMP, "", 7, 0, 0, false, 5000 },
    { "asyncrt-dump 1 dump format=folded task-names=1 name=conn-* state=idle,running "
      "min-idle=60000 task=42", 0, ASYNCRT_ENDPOINT_COMMAND_DUMP, "conn-*", 5, 60000, 42, true,
      5000 },
    { "asyncrt-dump 1 dump task-names=0 state=running,scheduled", 0,
      ASYNCRT_ENDPOINT_COMMAND_DUMP, "", 6, 0, 0, false, 5000 },
    { "asyncrt-dump 1 dump name==x= task=18446744073709551615", 0,
      ASYNCRT_ENDPOINT_COMMAND_DUMP, "=x=", 7, 0, UINT64_MAX, false, 5000 },
    { "asyncrt-dump 1 watch", 0, ASYNCRT_ENDPOINT_COMMAND_WATCH, "", 7, 0, 0, false, 5000 },
    { "asyncrt-dump 1 watch interval=600000 format=json timeout=0 state=idle name=h?ndler", 0,
      ASYNCRT_ENDPOINT_COMMAND_WATCH, "h?ndler", 1, 0, 0, false, 600000 },
    { "asyncrt-dump 1 watch interval=0", -EINVAL },
    { "asyncrt-dump 1 watch interval=600001", -EINVAL },
    { "asyncrt-dump 1 dump interval=5", -EINVAL },
    { "asyncrt-dump 1 watch task-names=1", -EINVAL },
    { "asyncrt-dump 1 dump task-names=2", -EINVAL },
    { "asyncrt-dump 1 dump state=idle,idle", -EINVAL },
    { "asyncrt-dump 1 dump state=idle,,running", -EINVAL },
    { "asyncrt-dump 1 dump state=", -EINVAL },
    { "asyncrt-dump 1 dump state=IDLE", -EINVAL },
    { "asyncrt-dump 1 dump state=idle state=running", -EINVAL },
    { "asyncrt-dump 1 list name=x", -EINVAL },
    { "asyncrt-dump 1 list state=idle", -EINVAL },
    { "asyncrt-dump 1 dump task=0", -EINVAL },
    { "asyncrt-dump 1 dump task=18446744073709551616", -EINVAL },
    { "asyncrt-dump 1 dump min-idle=1000000000001", -EINVAL },
    { "asyncrt-dump 1 dump min-idle=-1", -EINVAL },
    { "asyncrt-dump 1 dump name=", -EINVAL },
    { "asyncrt-dump 1 dump name=a name=b", -EINVAL },
    { "asyncrt-dump 1 dump wait=mutex,join_set", 0, ASYNCRT_ENDPOINT_COMMAND_DUMP, "", 7, 0, 0,
      false, 5000 },
    { "asyncrt-dump 1 dump wait=mutex,,sleep", -EINVAL },
    { "asyncrt-dump 1 dump wait=,mutex", -EINVAL },
    { "asyncrt-dump 1 dump wait=mutex,", -EINVAL },
    { "asyncrt-dump 1 dump wait=Mutex", -EINVAL },
    { "asyncrt-dump 1 dump wait=", -EINVAL },
    { "asyncrt-dump 1 list wait=mutex", -EINVAL },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      AsyncrtEndpointRequest req;
      memset (&req, 0x5a, sizeof req);
      char err[128] = "";
      int r = asyncrt__endpoint_request_parse (cases[i].line, strlen (cases[i].line), &req, err,
                                               sizeof err);
      if (r != cases[i].result)
        g_test_message ("case %zu '%s': %d (%s)", i, cases[i].line, r, err);
      g_assert_cmpint (r, ==, cases[i].result);
      if (r < 0)
        {
          g_assert_cmpstr (err, !=, "");
          continue;
        }
      g_assert_cmpint (req.command, ==, cases[i].command);
      g_assert_cmpstr (req.name, ==, cases[i].name);
      g_assert_cmpuint (req.states, ==, cases[i].states);
      g_assert_cmpuint (req.min_idle_ms, ==, cases[i].min_idle_ms);
      g_assert_cmpuint (req.task, ==, cases[i].task);
      g_assert_cmpint (req.task_names, ==, cases[i].task_names);
      g_assert_cmpuint (req.interval_ms, ==, cases[i].interval_ms);
      /* Round trip. */
      char line[ASYNCRT_ENDPOINT_REQUEST_MAX];
      int n = asyncrt__endpoint_request_format (&req, line, sizeof line);
      g_assert_cmpint (n, >, 0);
      AsyncrtEndpointRequest again;
      g_assert_cmpint (asyncrt__endpoint_request_parse (line, (size_t) n - 1, &again, NULL, 0), ==, 0);
      g_assert_cmpstr (again.name, ==, req.name);
      g_assert_cmpstr (again.wait, ==, req.wait);
      g_assert_cmpuint (again.states, ==, req.states);
      g_assert_cmpuint (again.task, ==, req.task);
      g_assert_cmpuint (again.interval_ms, ==, req.interval_ms);
    }
  /* The longest pattern, and one byte more. */
  char line[1100];
  char *pattern = g_strnfill (255, '*');
  g_snprintf (line, sizeof line, "asyncrt-dump 1 dump name=%s", pattern);
  AsyncrtEndpointRequest req;
  g_assert_cmpint (asyncrt__endpoint_request_parse (line, strlen (line), &req, NULL, 0), ==, 0);
  g_assert_cmpstr (req.name, ==, pattern);
  g_free (pattern);
  pattern = g_strnfill (256, '*');
  g_snprintf (line, sizeof line, "asyncrt-dump 1 dump name=%s", pattern);
  g_assert_cmpint (asyncrt__endpoint_request_parse (line, strlen (line), &req, NULL, 0), ==, -EINVAL);
  g_free (pattern);
  /* The formatter refuses what the parser would. */
  asyncrt__endpoint_request_init (&req, ASYNCRT_ENDPOINT_COMMAND_WATCH);
  char out[ASYNCRT_ENDPOINT_REQUEST_MAX];
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, out, sizeof out), >, 0);
  g_assert_cmpstr (out, ==, "asyncrt-dump 1 watch format=text timeout=2000 interval=5000\n");
  req.task_names = true;
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, out, sizeof out), ==, -EINVAL);
  req.task_names = false;
  req.interval_ms = 0;
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, out, sizeof out), ==, -EINVAL);
  asyncrt__endpoint_request_init (&req, ASYNCRT_ENDPOINT_COMMAND_LIST);
  strcpy (req.name, "x");
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, out, sizeof out), ==, -EINVAL);
  asyncrt__endpoint_request_init (&req, ASYNCRT_ENDPOINT_COMMAND_DUMP);
  strcpy (req.name, "a b");
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, out, sizeof out), ==, -EINVAL);
  strcpy (req.name, "");
  req.states = 0;
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, out, sizeof out), ==, -EINVAL);
  req.states = 8;
  g_assert_cmpint (asyncrt__endpoint_request_format (&req, out, sizeof out), ==, -EINVAL);
}

static void
test_protocol_reader (void)
{
  AsyncrtEndpointReader r;
  size_t used;
  asyncrt__endpoint_reader_init (&r, ASYNCRT_ENDPOINT_REQUEST_MAX);
  g_assert_cmpint (asyncrt__endpoint_reader_feed (&r, "asyncrt-", 8, &used), ==,
                   ASYNCRT_ENDPOINT_READ_MORE);
  g_assert_cmpuint (used, ==, 8);
  g_assert_cmpint (asyncrt__endpoint_reader_feed (&r, "dump\nrest", 9, &used), ==,
                   ASYNCRT_ENDPOINT_READ_LINE);
  g_assert_cmpuint (used, ==, 5);
  g_assert_cmpuint (r.len, ==, 12);
  g_assert_cmpint (memcmp (r.buf, "asyncrt-dump", 12), ==, 0);
  g_assert_cmpint (asyncrt__endpoint_reader_feed (&r, "\n", 1, &used), ==,
                   ASYNCRT_ENDPOINT_READ_LINE);
  g_assert_cmpuint (used, ==, 0);
  /* 1023 bytes and the newline fit; 1024 bytes without one do not. */
  char *big = g_strnfill (1100, 'a');
  asyncrt__endpoint_reader_init (&r, ASYNCRT_ENDPOINT_REQUEST_MAX);
  big[1023] = '\n';
  g_assert_cmpint (asyncrt__endpoint_reader_feed (&r, big, 1100, &used), ==,
                   ASYNCRT_ENDPOINT_READ_LINE);
  g_assert_cmpuint (r.len, ==, 1023);
  big[1023] = 'a';
  asyncrt__endpoint_reader_init (&r, ASYNCRT_ENDPOINT_REQUEST_MAX);
  g_assert_cmpint (asyncrt__endpoint_reader_feed (&r, big, 1100, &used), ==,
                   ASYNCRT_ENDPOINT_READ_TOO_LONG);
  g_free (big);
}

static void
test_protocol_response (void)
{
  char buf[ASYNCRT_ENDPOINT_RESPONSE_HEADER_MAX], status[ASYNCRT_ENDPOINT_STATUS_MAX + 1];
  uint64_t len;
  g_assert_cmpint (asyncrt__endpoint_response_header_format (buf, sizeof buf, "ok", 42), ==, 21);
  g_assert_cmpstr (buf, ==, "asyncrt-dump 1 ok 42\n");
  g_assert_cmpint (asyncrt__endpoint_response_header_parse (buf, 20, status, &len), ==, 0);
  g_assert_cmpstr (status, ==, "ok");
  g_assert_cmpuint (len, ==, 42);
  g_assert_cmpint (asyncrt__endpoint_response_header_format (buf, sizeof buf, "e 1", 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt__endpoint_response_header_format (buf, 5, "ok", 1), ==, -ENOSPC);
  const char *bad[] = { "", "asyncrt-dump 1 ok", "asyncrt-dump 1 ok -1", "asyncrt-dump 1 ok 1 x",
                        "asyncrt-dump 1 o:k 1", "asyncrt-dump 1  ok 1", "asyncrt-dump 1 ok 1x",
                        "asyncrt-dump 1 ok 18446744073709551616", "asyncrt-dump 1 ok 1 " };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_cmpint (asyncrt__endpoint_response_header_parse (bad[i], strlen (bad[i]), status, &len),
                     ==, -EINVAL);
  g_assert_cmpint (asyncrt__endpoint_response_header_parse ("asyncrt-dump 3 ok 1", 19, status, &len),
                   ==, -EPROTONOSUPPORT);
  g_assert_cmpint (asyncrt__endpoint_response_header_parse ("asyncrt-dump 1 ok 18446744073709551615",
                                                            38, status, &len), ==, 0);
  g_assert_cmpuint (len, ==, G_MAXUINT64);
  /* Status words both ways. */
  const int errs[] = { -EACCES, -EINVAL, -EMSGSIZE, -ETIMEDOUT, -EPROTONOSUPPORT, -ENOENT };
  for (size_t i = 0; i < G_N_ELEMENTS (errs); i++)
    g_assert_cmpint (asyncrt__endpoint_status_to_errno (asyncrt__endpoint_status_from_errno (errs[i])),
                     ==, errs[i]);
  g_assert_cmpstr (asyncrt__endpoint_status_from_errno (0), ==, "ok");
  g_assert_cmpstr (asyncrt__endpoint_status_from_errno (1), ==, "incomplete");
  g_assert_cmpstr (asyncrt__endpoint_status_from_errno (-EXDEV), ==, "EIO");
  g_assert_cmpint (asyncrt__endpoint_status_to_errno ("EWHATEVER"), ==, -EIO);
  g_assert_cmpint (asyncrt__endpoint_status_to_errno (NULL), ==, -EIO);
}

/* ---- the environment's parsers ------------------------------------------------------ */

static void
test_signal_parse (void)
{
  const struct
  {
    const char *s;
    int result, signo;
  } cases[] = {
    { "USR1", 0, SIGUSR1 }, { "usr1", 0, SIGUSR1 }, { "SIGUSR1", 0, SIGUSR1 },
    { "sigusr2", 0, SIGUSR2 }, { "10", 0, SIGUSR1 }, { "1", 0, SIGHUP }, { "HUP", 0, SIGHUP },
    { "QUIT", 0, SIGQUIT }, { "PWR", 0, SIGPWR }, { "WINCH", 0, SIGWINCH },
    { "KILL", -ENOTSUP }, { "9", -ENOTSUP }, { "STOP", -ENOTSUP }, { "SEGV", -ENOTSUP },
    { "BUS", -ENOTSUP }, { "FPE", -ENOTSUP }, { "ILL", -ENOTSUP }, { "TRAP", -ENOTSUP },
    { "ABRT", -ENOTSUP }, { "IOT", -ENOTSUP }, { "SYS", -ENOTSUP }, { "32", -ENOTSUP },
    { "33", -ENOTSUP },
    { "", -EINVAL }, { "0", -EINVAL }, { "-1", -EINVAL }, { "+1", -EINVAL }, { " 10", -EINVAL },
    { "10 ", -EINVAL }, { "65", -EINVAL }, { "1000", -EINVAL }, { "USR", -EINVAL },
    { "USR1x", -EINVAL }, { "SIG", -EINVAL }, { "SIGSIGUSR1", -EINVAL }, { "RTMIN-1", -EINVAL },
    { "RTMAX+1", -EINVAL }, { "RTMIN+", -EINVAL }, { "RTMIN+99", -EINVAL }, { "RTMINX", -EINVAL },
    { "\xff", -EINVAL },
    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -EINVAL },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      int signo = -7;
      int r = asyncrt__signal_parse (cases[i].s, &signo);
      if (r != cases[i].result)
        g_test_message ("'%s': %d", cases[i].s, r);
      g_assert_cmpint (r, ==, cases[i].result);
      g_assert_cmpint (signo, ==, r == 0 ? cases[i].signo : -7);
    }
  int signo;
  g_assert_cmpint (asyncrt__signal_parse ("RTMIN", &signo), ==, 0);
  g_assert_cmpint (signo, ==, SIGRTMIN);
  g_assert_cmpint (asyncrt__signal_parse ("rtmin+3", &signo), ==, 0);
  g_assert_cmpint (signo, ==, SIGRTMIN + 3);
  g_assert_cmpint (asyncrt__signal_parse ("SIGRTMAX-2", &signo), ==, 0);
  g_assert_cmpint (signo, ==, SIGRTMAX - 2);
  g_assert_cmpint (asyncrt__signal_parse (NULL, &signo), ==, -EINVAL);
  char name[32];
  asyncrt__signal_name (SIGUSR1, name, sizeof name);
  g_assert_cmpstr (name, ==, "SIGUSR1");
  asyncrt__signal_name (SIGRTMIN + 2, name, sizeof name);
  g_assert_cmpstr (name, ==, "SIGRTMIN+2");
}

static void
test_file_expand (void)
{
  char out[64];
  g_assert_cmpint (asyncrt__dump_file_expand ("/tmp/d-%p-%t.txt", 42, 1700000000, out, sizeof out), ==, 0);
  g_assert_cmpstr (out, ==, "/tmp/d-42-1700000000.txt");
  g_assert_cmpint (asyncrt__dump_file_expand ("100%%-%p%%", 7, 0, out, sizeof out), ==, 0);
  g_assert_cmpstr (out, ==, "100%-7%");
  g_assert_cmpint (asyncrt__dump_file_expand ("plain", 7, 0, out, sizeof out), ==, 0);
  g_assert_cmpstr (out, ==, "plain");
  const char *bad[] = { "", "%", "x%", "%z", "%%%", "%P", "%\n" };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_cmpint (asyncrt__dump_file_expand (bad[i], 7, 0, out, sizeof out), ==, -EINVAL);
  g_assert_cmpint (asyncrt__dump_file_expand (NULL, 7, 0, out, sizeof out), ==, -EINVAL);
  g_assert_cmpint (asyncrt__dump_file_expand ("%p%p%p%p%p%p%p%p%p%p%p%p", 1234567, 0, out,
                                              sizeof out), ==, -ENAMETOOLONG);
  g_assert_cmpint (asyncrt__dump_file_expand ("0123456789", 1, 0, out, 10), ==, -ENAMETOOLONG);
  g_assert_cmpint (asyncrt__dump_file_expand ("012345678", 1, 0, out, 10), ==, 0);
}

static void
test_escape (void)
{
  char out[300];
  asyncrt__escape_value ("plain text", out, sizeof out);
  g_assert_cmpstr (out, ==, "plain text");
  asyncrt__escape_value ("a\nb\x1b[2J\\\xff", out, sizeof out);
  g_assert_cmpstr (out, ==, "a\\x0ab\\x1b[2J\\\\\\xff");
  char *long_value = g_strnfill (5000, 'x');
  asyncrt__escape_value (long_value, out, sizeof out);
  g_assert_true (g_str_has_suffix (out, "..."));
  g_assert_cmpuint (strlen (out), ==, 64 + 3);
  asyncrt__escape_value (long_value, out, 10);
  g_assert_cmpuint (strlen (out), <, 10);
  g_free (long_value);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  signal (SIGPIPE, SIG_IGN);
  g_test_add_func ("/endpoint/api/names", test_names);
  g_test_add_func ("/endpoint/api/start-stop", test_start_stop);
  g_test_add_func ("/endpoint/api/address-in-use", test_address_in_use);
  g_test_add_func ("/endpoint/api/start-stop-race", test_start_stop_race);
  g_test_add_func ("/endpoint/protocol/parse", test_protocol_parse);
  g_test_add_func ("/endpoint/protocol/format", test_protocol_format);
  g_test_add_func ("/endpoint/protocol/filters", test_protocol_filters);
  g_test_add_func ("/endpoint/protocol/reader", test_protocol_reader);
  g_test_add_func ("/endpoint/protocol/response", test_protocol_response);
  g_test_add_func ("/endpoint/env/signal-parse", test_signal_parse);
  g_test_add_func ("/endpoint/env/file-expand", test_file_expand);
  g_test_add_func ("/endpoint/env/escape", test_escape);
  return g_test_run ();
}
