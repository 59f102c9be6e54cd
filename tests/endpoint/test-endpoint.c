/* Dumps from outside the process, with real processes: asyncrt-dump and raw clients
 * against tests/endpoint/endpoint-target, which the test starts (with
 * ASYNCRT_DUMP_ENDPOINT=1 and the other variables in its environment) and stops. */
#include "endpoint-test-util.h"
#include "dump-json-util.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

typedef struct
{
  long pid;
  char *dir;
  char *out_path, *err_path;
  bool reaped;
  int status;
} Target;

static char *cli_path, *target_path;

static char *
read_file (const char *path)
{
  char *s = NULL;
  if (!g_file_get_contents (path, &s, NULL, NULL))
    return g_strdup ("");
  return s;
}

static void
sleep_ms (unsigned ms)
{
  g_usleep ((gulong) ms * 1000);
}

/* Starts the target with @args (NULL-terminated) and @env (NAME=VALUE strings added
 * to this environment, NULL-terminated, may be NULL), waits for "ready". */
static Target *
target_start_env (const char *const *args, const char *const *env)
{
  Target *t = g_new0 (Target, 1);
  t->dir = g_dir_make_tmp ("asyncrt-endpoint-XXXXXX", NULL);
  g_assert_nonnull (t->dir);
  t->out_path = g_build_filename (t->dir, "stdout", NULL);
  t->err_path = g_build_filename (t->dir, "stderr", NULL);

  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, target_path);
  for (size_t i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  char **envp = g_get_environ ();
  envp = g_environ_unsetenv (envp, "ASYNCRT_DUMP_ENDPOINT");
  envp = g_environ_unsetenv (envp, "ASYNCRT_DUMP_SIGNAL");
  envp = g_environ_unsetenv (envp, "ASYNCRT_DUMP_FILE");
  for (size_t i = 0; env != NULL && env[i] != NULL; i++)
    {
      const char *eq = strchr (env[i], '=');
      char *name = g_strndup (env[i], (gsize) (eq - env[i]));
      envp = g_environ_setenv (envp, name, eq + 1, TRUE);
      g_free (name);
    }
  int out = open (t->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = open (t->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  g_assert_cmpint (out, >=, 0);
  g_assert_cmpint (err, >=, 0);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      sigset_t none;
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      signal (SIGPIPE, SIG_DFL);          /* the test ignores it; the target must not */
      dup2 (out, STDOUT_FILENO);
      dup2 (err, STDERR_FILENO);
      execve (target_path, (char **) argv->pdata, envp);
      _exit (127);
    }
  close (out);
  close (err);
  g_strfreev (envp);
  g_ptr_array_free (argv, TRUE);
  t->pid = pid;

  char *ready = g_strdup_printf ("ready %ld\n", t->pid);
  gint64 deadline = now_ms () + test_timeout_ms (20000);
  for (;;)
    {
      char *s = read_file (t->out_path);
      bool ok = strstr (s, ready) != NULL;
      g_free (s);
      if (ok)
        break;
      int st;
      if (waitpid (pid, &st, WNOHANG) == pid)
        {
          t->reaped = true;
          char *e = read_file (t->err_path);
          g_test_message ("target exited early (status 0x%x): %s", st, e);
          g_free (e);
          g_assert_not_reached ();
        }
      g_assert_cmpint (now_ms (), <, deadline);
      sleep_ms (10);
    }
  g_free (ready);
  return t;
}

static Target *
target_start (const char *const *args)
{
  static const char *const env[] = { "ASYNCRT_DUMP_ENDPOINT=1", NULL };
  return target_start_env (args, env);
}

/* Waits for the target to exit; returns its wait status, or -1 on timeout. */
static int
target_wait (Target *t, unsigned timeout_ms)
{
  if (t->reaped)
    return t->status;
  gint64 deadline = now_ms () + timeout_ms;
  for (;;)
    {
      int st;
      pid_t r = waitpid ((pid_t) t->pid, &st, WNOHANG);
      if (r == (pid_t) t->pid)
        {
          t->reaped = true;
          t->status = st;
          return st;
        }
      if (now_ms () >= deadline)
        return -1;
      sleep_ms (10);
    }
}

static void
target_free (Target *t)
{
  if (!t->reaped)
    {
      kill ((pid_t) t->pid, SIGKILL);
      target_wait (t, 60000);
    }
  char *cmd = g_strdup_printf ("rm -rf '%s'", t->dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (cmd);
  g_free (t->dir);
  g_free (t->out_path);
  g_free (t->err_path);
  g_free (t);
}

/* SIGTERM; the target must exit 0 (a sanitizer report makes it fail) and leave no
 * endpoint behind. */
static void
target_stop (Target *t)
{
  kill ((pid_t) t->pid, SIGTERM);
  int st = target_wait (t, test_timeout_ms (30000));
  if (st != 0)
    {
      char *e = read_file (t->err_path);
      g_test_message ("target status 0x%x, stderr:\n%s", st, e);
      g_free (e);
    }
  g_assert_cmpint (st, ==, 0);
  g_assert_false (endpoint_is_listed (t->pid));
  target_free (t);
}

/* Runs asyncrt-dump with @args; returns its exit status, its output in @out/@err. */
static int
run_cli (const char *const *args, char **out, char **err)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, cli_path);
  for (size_t i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  int status = -1;
  GError *error = NULL;
  char *o = NULL, *e = NULL;
  gboolean ok = g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                              &o, &e, &status, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_ptr_array_free (argv, TRUE);
  g_assert_true (WIFEXITED (status));
  if (out != NULL)
    *out = o;
  else
    g_free (o);
  if (err != NULL)
    *err = e;
  else
    g_free (e);
  return WEXITSTATUS (status);
}

static int
run_cli_pid (const char *opt1, const char *opt2, const char *opt3, long pid, char **out,
             char **err)
{
  char *p = g_strdup_printf ("%ld", pid);
  const char *args[5];
  size_t n = 0;
  if (opt1 != NULL)
    args[n++] = opt1;
  if (opt2 != NULL)
    args[n++] = opt2;
  if (opt3 != NULL)
    args[n++] = opt3;
  args[n++] = p;
  args[n] = NULL;
  int r = run_cli (args, out, err);
  g_free (p);
  return r;
}

static void
assert_contains (const char *haystack, const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    {
      g_test_message ("'%s' not found in:\n%s", needle, haystack);
      g_assert_not_reached ();
    }
}

static char *
python3 (void)
{
  return g_find_program_in_path ("python3");
}

/* Checks @json with python3's parser and @script (reading the object as `d`). */
static void
assert_json (const char *json, const char *script)
{
  if (strstr (json, "\"runtimes\":[") != NULL && strstr (json, "\"dump\":{") != NULL)
    test_dump_json_record (json);     /* every runtime's dump: schema 2 */
  char *py = python3 ();
  if (py == NULL)
    {
      g_test_message ("python3 not found: JSON not parsed");
      return;
    }
  char *path = g_build_filename (g_get_tmp_dir (), "asyncrt-endpoint-json-XXXXXX", NULL);
  int fd = g_mkstemp (path);
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (write (fd, json, strlen (json)) == (ssize_t) strlen (json));
  close (fd);
  char *code = g_strdup_printf ("import json,sys\nd=json.load(open(sys.argv[1]))\n%s\n", script);
  const char *argv[] = { py, "-c", code, path, NULL };
  int status;
  char *err = NULL;
  GError *error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                               NULL, NULL, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_test_message ("python3 says: %s", err);
      g_assert_not_reached ();
    }
  unlink (path);
  g_free (err);
  g_free (code);
  g_free (path);
  g_free (py);
}

/* ---- the CLI ---------------------------------------------------------------------- */

static void
test_cli_text (void)
{
  const char *args[] = { "--ct", NULL };
  Target *t = target_start (args);
  char *out, *err;
  int st = run_cli_pid (NULL, NULL, NULL, t->pid, &out, &err);
  if (st != 0)
    g_test_message ("stderr: %s", err);
  g_assert_cmpint (st, ==, 0);
  char *process = g_strdup_printf ("process %ld (endpoint-target), taken at ", t->pid);
  assert_contains (out, process);
  assert_contains (out, "==== runtime \"web\" (multi_thread, 2 workers) ====\n");
  assert_contains (out, "==== runtime \"bg\" (current_thread, 1 worker) ====\n");
  assert_contains (out, "name \"waiter\"");
  assert_contains (out, "target_wait_poll");
  assert_contains (out, "asyncrt_notified_poll");
  assert_contains (out, ", libasyncrt 0.2.");
  /* "web" comes first: runtimes are listed in the order they were built. */
  g_assert_true (strstr (out, "\"web\"") < strstr (out, "\"bg\""));
  g_assert_cmpstr (err, ==, "");
  g_free (process);
  g_free (out);
  g_free (err);
  target_stop (t);
}

static void
test_cli_json (void)
{
  const char *args[] = { "--ct", "--tasks", "5", NULL };
  Target *t = target_start (args);
  char *out;
  g_assert_cmpint (run_cli_pid ("--json", NULL, NULL, t->pid, &out, NULL), ==, 0);
  char *script = g_strdup_printf (
    "assert d['version'] == 1 and d['pid'] == %ld and d['program'] == 'endpoint-target', d\n"
    "assert d['complete'] is True\n"
    "assert [r['name'] for r in d['runtimes']] == ['web', 'bg']\n"
    "web = d['runtimes'][0]\n"
    "assert web['flavour'] == 'multi_thread' and web['workers'] == 2 and web['error'] is None\n"
    "assert web['dump']['pid'] == %ld and web['dump']['library_version'].startswith('0.2.')\n"
    "names = [t['name'] for t in web['dump']['tasks']]\n"
    "assert names.count('waiter') == 5, names\n"
    "assert len(d['runtimes'][1]['dump']['tasks']) == 2\n", t->pid, t->pid);
  assert_json (out, script);
  g_free (script);
  g_free (out);
  /* --format=json is the same request. */
  g_assert_cmpint (run_cli_pid ("--format=json", NULL, NULL, t->pid, &out, NULL), ==, 0);
  assert_json (out, "assert len(d['runtimes']) == 2");
  g_free (out);
  target_stop (t);
}

/* --group: the waiters of "web" are one group, in text and in JSON. */
static void
test_cli_group (void)
{
  const char *args[] = { "--ct", "--tasks", "5", NULL };
  Target *t = target_start (args);
  char *out, *err;
  g_assert_cmpint (run_cli_pid ("--group", NULL, NULL, t->pid, &out, &err), ==, 0);
  assert_contains (out, "==== runtime \"web\" (multi_thread, 2 workers) ====\n");
  assert_contains (out, "5 tasks idle: ");
  assert_contains (out, ", name \"waiter\" (5), ");
  assert_contains (out, "2 tasks idle: ");                /* "bg"'s two waiters */
  assert_contains (out, " — waits for notify ");
  g_assert_cmpstr (err, ==, "");
  g_free (out);
  g_free (err);
  g_assert_cmpint (run_cli_pid ("--json", "--group", NULL, t->pid, &out, NULL), ==, 0);
  assert_json (out, "g = d['runtimes'][0]['dump']['groups']\n"
                    "assert [x['count'] for x in g] == [5], g\n"
                    "assert g[0]['wait_kinds'] == ['notify'], g\n"
                    "assert len(d['runtimes'][0]['dump']['tasks']) == 5");
  g_free (out);
  g_assert_cmpint (run_cli_pid ("-g", "--format=json", NULL, t->pid, &out, NULL), ==, 0);
  assert_json (out, "assert 'groups' in d['runtimes'][1]['dump']");
  g_free (out);
  target_stop (t);
}

static void
test_cli_list (void)
{
  const char *args[] = { "--ct", "--tasks", "4", NULL };
  Target *t = target_start (args);
  char *out;
  g_assert_cmpint (run_cli_pid ("--list", NULL, NULL, t->pid, &out, NULL), ==, 0);
  assert_contains (out, "2 runtimes\n");
  assert_contains (out, "NAME");
  g_assert_true (g_regex_match_simple ("\\nweb +1  multi_thread +2 +4\\n", out, 0, 0));
  g_assert_true (g_regex_match_simple ("\\nbg +2  current_thread +1 +2\\n", out, 0, 0));
  g_free (out);
  g_assert_cmpint (run_cli_pid ("--list", "--json", NULL, t->pid, &out, NULL), ==, 0);
  assert_json (out, "assert [(r['name'], r['serial'], r['flavour'], r['workers'], r['tasks'])"
                    " for r in d['runtimes']] == [('web', 1, 'multi_thread', 2, 4),"
                    " ('bg', 2, 'current_thread', 1, 2)], d");
  g_free (out);
  target_stop (t);
}

static void
test_cli_runtime (void)
{
  const char *args[] = { "--ct", NULL };
  Target *t = target_start (args);
  char *out, *err;
  g_assert_cmpint (run_cli_pid ("--runtime", "bg", NULL, t->pid, &out, NULL), ==, 0);
  assert_contains (out, "==== runtime \"bg\"");
  g_assert_null (strstr (out, "\"web\""));
  g_free (out);
  g_assert_cmpint (run_cli_pid ("--runtime=nope", NULL, NULL, t->pid, &out, &err), ==, 5);
  g_assert_cmpstr (out, ==, "");
  assert_contains (err, "no runtime named 'nope'");
  g_free (out);
  g_free (err);
  g_assert_cmpint (run_cli_pid ("--format", "svg", NULL, t->pid, &out, &err), ==, 5);
  assert_contains (err, "unknown format 'svg'");
  g_free (out);
  g_free (err);
  g_assert_cmpint (run_cli_pid ("--timeout", "100", "--list", t->pid, &out, NULL), ==, 0);
  g_free (out);
  target_stop (t);
}

static void
test_cli_usage (void)
{
  char *out, *err;
  const char *none[] = { NULL };
  g_assert_cmpint (run_cli (none, &out, &err), ==, 2);
  g_assert_cmpstr (out, ==, "");
  assert_contains (err, "missing PID");
  g_free (out);
  g_free (err);
  const char *help[] = { "--help", NULL };
  g_assert_cmpint (run_cli (help, &out, &err), ==, 0);
  assert_contains (out, "Usage: asyncrt-dump");
  g_assert_cmpstr (err, ==, "");
  g_free (out);
  g_free (err);
  const char *version[] = { "--version", NULL };
  g_assert_cmpint (run_cli (version, &out, &err), ==, 0);
  assert_contains (out, "asyncrt-dump (libasyncrt) 0.2.");
  g_free (out);
  g_free (err);
  const char *const bad[][4] = {
    { "--bogus", "1", NULL }, { "abc", NULL }, { "0", NULL }, { "-5", NULL },
    { "99999999999999999999", NULL }, { "1", "2", NULL }, { "--timeout", "x", "1", NULL },
    { "--timeout", "60001", "1", NULL }, { "--timeout", "-1", "1", NULL },
    { "--runtime", "a b", "1", NULL }, { "--runtime", "", "1", NULL },
    { "--format", "JSON!", "1", NULL }, { "--json", "--format=text", "1", NULL },
    { "--list", "--group", "1", NULL },
    { "--timeout", NULL },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_cmpint (run_cli (bad[i], &out, &err), ==, 2);
      g_assert_cmpstr (out, ==, "");
      g_assert_cmpstr (err, !=, "");
      g_free (out);
      g_free (err);
    }
}

static unsigned
count_threads (long pid)
{
  char *task_dir = g_strdup_printf ("/proc/%ld/task", pid);
  GDir *d = g_dir_open (task_dir, 0, NULL);
  g_assert_nonnull (d);
  unsigned n = 0;
  while (g_dir_read_name (d) != NULL)
    n++;
  g_dir_close (d);
  g_free (task_dir);
  return n;
}

static void
test_cli_no_endpoint (void)
{
  char *out, *err;
  /* A process that does not exist. */
  long pid = 0;
  for (long p = 4000000; p > 300000 && pid == 0; p -= 7919)
    if (kill ((pid_t) p, 0) < 0 && errno == ESRCH)
      pid = p;
  g_assert_cmpint (pid, !=, 0);
  g_assert_cmpint (run_cli_pid (NULL, NULL, NULL, pid, &out, &err), ==, 3);
  assert_contains (err, "no process");
  g_free (out);
  g_free (err);
  /* A program without the endpoint. */
  Target *t = target_start_env (NULL, NULL);
  g_assert_false (endpoint_is_listed (t->pid));
  g_assert_cmpint (run_cli_pid (NULL, NULL, NULL, t->pid, &out, &err), ==, 3);
  assert_contains (err, "ASYNCRT_DUMP_ENDPOINT=1");
  g_assert_cmpstr (out, ==, "");
  g_free (out);
  g_free (err);
  /* Off: no extra thread.  On (endpoint, signal or both): one. */
  unsigned n_off = count_threads (t->pid);
  target_stop (t);
  const char *const on[][3] = {
    { "ASYNCRT_DUMP_ENDPOINT=1", NULL },
    { "ASYNCRT_DUMP_SIGNAL=USR2", NULL },
    { "ASYNCRT_DUMP_ENDPOINT=1", "ASYNCRT_DUMP_SIGNAL=USR2", NULL },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (on); i++)
    {
      t = target_start_env (NULL, on[i]);
      g_assert_cmpuint (count_threads (t->pid), ==, n_off + 1);
      target_stop (t);
    }
  /* ... and the same program with the API call. */
  const char *args[] = { "--start", NULL };
  t = target_start_env (args, NULL);
  g_assert_cmpuint (count_threads (t->pid), ==, n_off + 1);
  g_assert_cmpint (run_cli_pid ("--list", NULL, NULL, t->pid, &out, NULL), ==, 0);
  assert_contains (out, "web");
  g_free (out);
  target_stop (t);
}

/* ---- who may dump ----------------------------------------------------------------- */

static void
test_other_uid_refused (void)
{
  if (geteuid () != 0)
    {
      g_test_skip ("needs root to switch to another uid");
      return;
    }
  struct passwd *pw = getpwnam ("nobody");
  uid_t uid = pw != NULL ? pw->pw_uid : 65534;
  gid_t gid = pw != NULL ? pw->pw_gid : 65534;
  Target *t = target_start (NULL);

  /* A raw client as nobody: refused before its request is read. */
  int fds[2];
  g_assert_cmpint (pipe (fds), ==, 0);
  pid_t child = fork ();
  if (child == 0)
    {
      close (fds[0]);
      if (setgroups (0, NULL) < 0 || setgid (gid) < 0 || setuid (uid) < 0)
        _exit (10);
      int fd = endpoint_connect (t->pid);
      if (fd < 0)
        _exit (11);
      static const char req[] = "asyncrt-dump 1 dump\n";
      send (fd, req, sizeof req - 1, MSG_NOSIGNAL);
      char buf[512];
      ssize_t n, total = 0;
      while ((n = recv (fd, buf + total, sizeof buf - 1 - (size_t) total, 0)) > 0)
        total += n;
      if (write (fds[1], buf, (size_t) total) != total)
        _exit (12);
      _exit (0);
    }
  close (fds[1]);
  GString *answer = g_string_new (NULL);
  g_assert_true (read_to_end (fds[0], answer, test_timeout_ms (10000)));
  close (fds[0]);
  int st;
  g_assert_cmpint (waitpid (child, &st, 0), ==, child);
  g_assert_true (WIFEXITED (st));
  g_assert_cmpint (WEXITSTATUS (st), ==, 0);
  char *status = answer_status (answer, NULL);
  g_assert_cmpstr (status, ==, "EACCES");
  g_free (status);
  g_string_free (answer, TRUE);

  /* asyncrt-dump as nobody exits 4 (if nobody can run it from where it is built). */
  child = fork ();
  if (child == 0)
    {
      int devnull = open ("/dev/null", O_RDWR);
      dup2 (devnull, STDOUT_FILENO);
      dup2 (devnull, STDERR_FILENO);
      if (setgroups (0, NULL) < 0 || setgid (gid) < 0 || setuid (uid) < 0)
        _exit (10);
      if (access (cli_path, X_OK) < 0)
        _exit (77);
      char pid[32];
      snprintf (pid, sizeof pid, "%ld", t->pid);
      execl (cli_path, cli_path, pid, (char *) NULL);
      _exit (78);
    }
  g_assert_cmpint (waitpid (child, &st, 0), ==, child);
  g_assert_true (WIFEXITED (st));
  if (WEXITSTATUS (st) == 77)
    g_test_message ("nobody cannot run %s: the CLI's exit status 4 not checked", cli_path);
  else
    g_assert_cmpint (WEXITSTATUS (st), ==, 4);

  /* The program is unaffected. */
  char *out;
  g_assert_cmpint (run_cli_pid (NULL, NULL, NULL, t->pid, &out, NULL), ==, 0);
  assert_contains (out, "target_wait_poll");
  g_free (out);
  target_stop (t);
}

/* ---- hostile clients ----------------------------------------------------------------- */

static void
expect_status (long pid, const char *request, gssize len, bool shut_write, const char *status,
               const char *in_body)
{
  GString *answer = g_string_new (NULL);
  int r = endpoint_exchange (pid, request, len, shut_write, test_timeout_ms (20000), answer);
  g_assert_cmpint (r, ==, 0);
  size_t body;
  char *st = answer_status (answer, &body);
  if (g_strcmp0 (st, status) != 0)
    g_test_message ("answer: %s", answer->str);
  g_assert_cmpstr (st, ==, status);
  if (in_body != NULL)
    assert_contains (answer->str + body, in_body);
  g_free (st);
  g_string_free (answer, TRUE);
}

static void
test_garbage (void)
{
  Target *t = target_start (NULL);
  expect_status (t->pid, "asyncrt-dump 1 dump\n", -1, false, "ok", "target_wait_poll");
  expect_status (t->pid, "asyncrt-dump 1 list format=json\r\n", -1, false, "ok", "\"web\"");
  expect_status (t->pid, "GET / HTTP/1.0\r\n\r\n", -1, false, "EINVAL", "not an asyncrt-dump");
  expect_status (t->pid, "\n", -1, false, "EINVAL", NULL);
  expect_status (t->pid, "asyncrt-dump 2 dump\n", -1, false, "EPROTONOSUPPORT", "version 1");
  expect_status (t->pid, "asyncrt-dump 1 frobnicate\n", -1, false, "EINVAL", "unknown command");
  expect_status (t->pid, "asyncrt-dump 1 dump filter=x\n", -1, false, "EINVAL", "unknown option");
  expect_status (t->pid, "asyncrt-dump 1 dump timeout=99999\n", -1, false, "EINVAL", "timeout");
  expect_status (t->pid, "asyncrt-dump 1 dump runtime=a\x1b[2J\n", -1, false, "EINVAL",
                 "not printable");
  expect_status (t->pid, "asyncrt-dump 1 dump\0 junk\n", 26, false, "EINVAL", "0x00");
  /* Random bytes, with and without a newline at the end. */
  GRand *rand = g_rand_new_with_seed (12);
  for (int i = 0; i < 20; i++)
    {
      char buf[300];
      size_t n = 1 + (size_t) g_rand_int_range (rand, 0, (gint32) sizeof buf - 1);
      for (size_t k = 0; k < n; k++)
        buf[k] = (char) g_rand_int_range (rand, 0, 256);
      if (memchr (buf, '\n', n) == NULL)
        buf[n - 1] = '\n';
      expect_status (t->pid, buf, (gssize) n, false, "EINVAL", NULL);
    }
  g_rand_free (rand);
  /* Oversized: no newline in the first 1024 bytes. */
  char *big = g_malloc (100000);
  memset (big, 'a', 100000);
  expect_status (t->pid, big, 100000, false, "EMSGSIZE", "too long");
  memcpy (big, "asyncrt-dump 1 dump ", 20);
  expect_status (t->pid, big, 2000, true, "EMSGSIZE", NULL);
  g_free (big);
  /* Half sent, then the write side closed. */
  expect_status (t->pid, "asyncrt-dump 1 du", -1, true, "EINVAL", "without a newline");
  /* Bytes after the request line are ignored. */
  expect_status (t->pid, "asyncrt-dump 1 list\nasyncrt-dump 1 garbage\n", -1, false, "ok", NULL);
  /* The program is unaffected. */
  char *out;
  g_assert_cmpint (run_cli_pid (NULL, NULL, NULL, t->pid, &out, NULL), ==, 0);
  g_free (out);
  target_stop (t);
}

static bool
peer_closed (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  return poll (&p, 1, 0) > 0;
}

/* Silent and half-sent clients do not stall the endpoint: others are served while
 * they hang on, and they are cut off at the request deadline (5 s). */
static void
test_silent_clients (void)
{
  Target *t = target_start (NULL);
  int silent = endpoint_connect (t->pid);
  int half = endpoint_connect (t->pid);
  g_assert_cmpint (silent, >=, 0);
  g_assert_cmpint (half, >=, 0);
  g_assert_true (send_all (half, "asyncrt-dump 1 dump form", 24));
  gint64 start = now_ms ();
  /* Served meanwhile, while both are still connected. */
  for (int i = 0; i < 5; i++)
    {
      char *out;
      g_assert_cmpint (run_cli_pid (NULL, NULL, NULL, t->pid, &out, NULL), ==, 0);
      g_free (out);
    }
  gboolean still_open = !peer_closed (silent) && !peer_closed (half);
  if (!still_open)
    /* Only possible if the five dumps took longer than the 5 s deadline. */
    g_assert_cmpint (now_ms () - start, >=, 5000);
  /* Then cut off, with an ETIMEDOUT answer, by the deadline (plus slack). */
  GString *answer = g_string_new (NULL);
  g_assert_true (read_to_end (silent, answer, test_timeout_ms (5000 + 20000)));
  char *st = answer_status (answer, NULL);
  g_assert_cmpstr (st, ==, "ETIMEDOUT");
  g_free (st);
  g_string_truncate (answer, 0);
  g_assert_true (read_to_end (half, answer, test_timeout_ms (5000 + 20000)));
  st = answer_status (answer, NULL);
  g_assert_cmpstr (st, ==, "ETIMEDOUT");
  g_free (st);
  g_string_free (answer, TRUE);
  close (silent);
  close (half);
  target_stop (t);
}

/* More connections than the endpoint keeps open at once, all silent: the extra ones
 * wait in the backlog and are served as slots free up. */
static void
test_many_silent (void)
{
  Target *t = target_start (NULL);
  int fds[20];
  for (size_t i = 0; i < G_N_ELEMENTS (fds); i++)
    {
      fds[i] = endpoint_connect (t->pid);
      g_assert_cmpint (fds[i], >=, 0);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
  char *out;
  g_assert_cmpint (run_cli_pid ("--list", NULL, NULL, t->pid, &out, NULL), ==, 0);
  g_free (out);
  target_stop (t);
}

/* Is SIGPIPE pending on any thread of @pid?  (The library's thread blocks every
 * signal, so a SIGPIPE raised there would stay pending rather than kill.) */
static bool
sigpipe_pending (long pid)
{
  char *task_dir = g_strdup_printf ("/proc/%ld/task", pid);
  GDir *d = g_dir_open (task_dir, 0, NULL);
  g_assert_nonnull (d);
  bool pending = false;
  const char *tid;
  while ((tid = g_dir_read_name (d)) != NULL)
    {
      char *path = g_strdup_printf ("%s/%s/status", task_dir, tid);
      char *s = read_file (path);
      for (const char *key = "SigPnd:"; key != NULL; key = strcmp (key, "SigPnd:") ? NULL : "ShdPnd:")
        {
          const char *line = strstr (s, key);
          if (line != NULL
              && g_ascii_strtoull (line + strlen (key), NULL, 16) & (1ull << (SIGPIPE - 1)))
            pending = true;
        }
      g_free (s);
      g_free (path);
    }
  g_dir_close (d);
  g_free (task_dir);
  return pending;
}

/* Clients that read the header and leave, with a response bigger than the socket
 * buffers: the program neither gets a SIGPIPE nor stalls. */
static void
test_disconnect_mid_response (void)
{
  const char *args[] = { "--tasks", "3000", NULL };
  Target *t = target_start (args);
  for (int i = 0; i < 10; i++)
    {
      int fd = endpoint_connect (t->pid);
      g_assert_cmpint (fd, >=, 0);
      g_assert_true (send_all (fd, i % 2 ? "asyncrt-dump 1 dump format=json\n"
                                          : "asyncrt-dump 1 dump\n", i % 2 ? 33 : 20));
      char buf[256] = "";
      struct pollfd p = { .fd = fd, .events = POLLIN };
      g_assert_cmpint (poll (&p, 1, (int) test_timeout_ms (30000)), ==, 1);
      g_assert_cmpint (recv (fd, buf, sizeof buf - 1, 0), >, 0);
      g_assert_true (g_str_has_prefix (buf, "asyncrt-dump 1 ok "));
      close (fd);
    }
  char *out;
  g_assert_cmpint (run_cli_pid ("--list", NULL, NULL, t->pid, &out, NULL), ==, 0);
  assert_contains (out, "3000");
  g_free (out);
  g_assert_false (sigpipe_pending (t->pid));
  target_stop (t);
}

typedef struct
{
  long pid;
  int index;
  int result;
} ConcurrentClient;

static gpointer
concurrent_client (gpointer data)
{
  ConcurrentClient *c = data;
  GString *answer = g_string_new (NULL);
  const char *req = c->index % 2 ? "asyncrt-dump 1 dump format=json timeout=5000\n"
                                 : "asyncrt-dump 1 dump\n";
  c->result = endpoint_exchange (c->pid, req, -1, false, test_timeout_ms (60000), answer);
  if (c->result == 0)
    {
      char *st = answer_status (answer, NULL);
      c->result = strcmp (st, "ok") == 0 && strstr (answer->str, "target_wait_poll") ? 0 : -1;
      g_free (st);
      if (c->result == 0 && c->index % 2)
        test_dump_json_record (strchr (answer->str, '\n') + 1);   /* the body */
    }
  g_string_free (answer, TRUE);
  return NULL;
}

static void
test_concurrent_clients (void)
{
  const char *args[] = { "--ct", NULL };
  Target *t = target_start (args);
  ConcurrentClient clients[8];
  GThread *threads[8];
  for (int i = 0; i < 8; i++)
    {
      clients[i] = (ConcurrentClient) { t->pid, i, 1 };
      threads[i] = g_thread_new ("client", concurrent_client, &clients[i]);
    }
  for (int i = 0; i < 8; i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpint (clients[i].result, ==, 0);
    }
  target_stop (t);
}

static unsigned
count_fds (long pid)
{
  char *path = g_strdup_printf ("/proc/%ld/fd", pid);
  GDir *d = g_dir_open (path, 0, NULL);
  g_assert_nonnull (d);
  unsigned n = 0;
  while (g_dir_read_name (d) != NULL)
    n++;
  g_dir_close (d);
  g_free (path);
  return n;
}

static unsigned long
rss_kb (long pid)
{
  char *path = g_strdup_printf ("/proc/%ld/status", pid);
  char *s = read_file (path);
  char *line = strstr (s, "VmRSS:");
  g_assert_nonnull (line);
  unsigned long kb = strtoul (line + 6, NULL, 10);
  g_free (s);
  g_free (path);
  return kb;
}

static void
test_sequential_dumps (void)
{
  const char *args[] = { "--ct", NULL };
  Target *t = target_start (args);
  GString *answer = g_string_new (NULL);
  unsigned long rss_warm = 0;
  /* The first dump opens the ELF files symbols are read from (libdw keeps them, with
   * the symbol cache): count after it. */
  g_assert_cmpint (endpoint_exchange (t->pid, "asyncrt-dump 1 dump\n", -1, false,
                                      test_timeout_ms (20000), answer), ==, 0);
  unsigned fds_before = count_fds (t->pid);
  for (int i = 0; i < 1000; i++)
    {
      g_string_truncate (answer, 0);
      const char *req = i % 3 == 0 ? "asyncrt-dump 1 dump format=json\n"
                        : i % 3 == 1 ? "asyncrt-dump 1 dump\n" : "asyncrt-dump 1 list\n";
      g_assert_cmpint (endpoint_exchange (t->pid, req, -1, false, test_timeout_ms (20000),
                                          answer), ==, 0);
      char *st = answer_status (answer, NULL);
      g_assert_cmpstr (st, ==, "ok");
      g_free (st);
      if (i == 99)
        {
          rss_warm = rss_kb (t->pid);
          g_assert_cmpuint (count_fds (t->pid), ==, fds_before);
        }
    }
  g_string_free (answer, TRUE);
  g_assert_cmpuint (count_fds (t->pid), ==, fds_before);
  unsigned long rss_end = rss_kb (t->pid);
  g_test_message ("RSS after 100 dumps: %lu kB, after 1000: %lu kB", rss_warm, rss_end);
#ifndef ASYNCRT_TEST_SANITIZED
  /* Flat: what 900 more dumps add is noise, not a leak of a dump per request. */
  g_assert_cmpuint (rss_end, <=, rss_warm + MAX (4096, rss_warm / 4));
#endif
  target_stop (t);
}

/* ---- stuck workers, process exit ---------------------------------------------------------- */

static void
test_blocked_workers (void)
{
  const char *args[] = { "--block-all", NULL };
  Target *t = target_start (args);
  char *out, *err;
  gint64 start = now_ms ();
  int st = run_cli_pid ("--timeout", "500", NULL, t->pid, &out, &err);
  gint64 took = now_ms () - start;
  g_test_message ("a dump with every worker blocked took %" G_GINT64_FORMAT " ms", took);
  g_assert_cmpint (st, ==, 1);                       /* incomplete */
  assert_contains (out, "==== runtime \"web\"");
  assert_contains (out, "worker 0 did not stop");
  assert_contains (out, "worker 1 did not stop");
  assert_contains (out, "incomplete");
  assert_contains (err, "incomplete");
  /* By its deadline plus generous slack. */
  g_assert_cmpint (took, <, (gint64) test_timeout_ms (500 + 10000));
  g_free (out);
  g_free (err);
  /* JSON says the same. */
  g_assert_cmpint (run_cli_pid ("--json", "--timeout=300", NULL, t->pid, &out, NULL), ==, 1);
  assert_json (out, "assert d['complete'] is False\n"
                    "w = d['runtimes'][0]['dump']\n"
                    "assert sorted(m['index'] for m in w['missing_workers']) == [0, 1], w");
  g_free (out);
  /* Killed while stuck: nothing is left behind. */
  long pid = t->pid;
  g_assert_true (endpoint_is_listed (pid));
  kill ((pid_t) pid, SIGKILL);
  g_assert_cmpint (target_wait (t, test_timeout_ms (10000)), !=, -1);
  g_assert_false (endpoint_is_listed (pid));
  target_free (t);
}

static void
test_exit_leaves_nothing (void)
{
  Target *t = target_start (NULL);
  long pid = t->pid;
  g_assert_true (endpoint_is_listed (pid));
  /* Close-on-exec: every descriptor the library opened. */
  char *fd_dir = g_strdup_printf ("/proc/%ld/fdinfo", pid);
  GDir *d = g_dir_open (fd_dir, 0, NULL);
  const char *name;
  unsigned n_checked = 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      /* The library's descriptors are sockets, eventfds and the epoll instance; others
       * (inherited from the test harness) are not its business. */
      char *link_path = g_strdup_printf ("/proc/%ld/fd/%s", pid, name);
      char *link = g_file_read_link (link_path, NULL);
      g_free (link_path);
      bool ours = link != NULL && (g_str_has_prefix (link, "socket:")
                                   || g_str_has_prefix (link, "anon_inode:"));
      g_free (link);
      if (!ours)
        continue;
      int fd = atoi (name);
      char *path = g_build_filename (fd_dir, name, NULL);
      char *info = read_file (path);
      char *flags = strstr (info, "flags:");
      g_assert_nonnull (flags);
      unsigned long f = strtoul (flags + 6, NULL, 8);
      if (!(f & O_CLOEXEC))
        g_test_message ("fd %d of the target is not close-on-exec: %s", fd, info);
      g_assert_true (f & O_CLOEXEC);
      n_checked++;
      g_free (info);
      g_free (path);
    }
  g_dir_close (d);
  g_free (fd_dir);
  g_assert_cmpuint (n_checked, >=, 3);     /* epoll, eventfds, the listening socket */
  /* Exits normally: the name goes. */
  target_stop (t);
  g_assert_false (endpoint_is_listed (pid));
  char *err;
  g_assert_cmpint (run_cli_pid (NULL, NULL, NULL, pid, NULL, &err), ==, 3);
  g_free (err);
  /* Killed: the name goes too. */
  t = target_start (NULL);
  pid = t->pid;
  g_assert_true (endpoint_is_listed (pid));
  kill ((pid_t) pid, SIGKILL);
  g_assert_cmpint (target_wait (t, test_timeout_ms (10000)), !=, -1);
  g_assert_false (endpoint_is_listed (pid));
  target_free (t);
}

static void
test_fork_child (void)
{
#ifdef ASYNCRT_TEST_TSAN
  g_test_skip ("ThreadSanitizer kills a child that starts threads after a multi-threaded fork");
  return;
#elif defined(ASYNCRT_TEST_SANITIZED)
  /* AddressSanitizer's allocator takes no lock across fork(): the child's new threads
   * hang in malloc (SizeClassAllocator64::GetFromAllocator) about one run in two. */
  g_test_skip ("AddressSanitizer's allocator is not fork-safe in threaded processes");
  return;
#endif
  const char *args[] = { "--fork-child", NULL };
  Target *t = target_start (args);
  /* The parent prints "child PID"; the child itself may already have printed
   * "child ready PID" before it (both write to the same file). */
  char *s = read_file (t->out_path);
  long child = 0;
  char **lines = g_strsplit (s, "\n", -1);
  for (char **l = lines; *l != NULL && child == 0; l++)
    if (g_str_has_prefix (*l, "child ") && g_ascii_isdigit ((*l)[6]))
      child = strtol (*l + 6, NULL, 10);
  g_strfreev (lines);
  g_assert_cmpint (child, >, 0);
  g_free (s);
  /* The child reads the environment again when it builds its runtime: its own
   * endpoint, under its own pid, with its own runtime. */
  char *ready = g_strdup_printf ("child ready %ld\n", child);
  gint64 deadline = now_ms () + test_timeout_ms (20000);
  for (;;)
    {
      s = read_file (t->out_path);
      bool ok = strstr (s, ready) != NULL;
      g_free (s);
      if (ok)
        break;
      g_assert_cmpint (now_ms (), <, deadline);
      sleep_ms (10);
    }
  g_free (ready);
  char *out;
  g_assert_cmpint (run_cli_pid ("--list", NULL, NULL, child, &out, NULL), ==, 0);
  assert_contains (out, "\nchild ");
  g_free (out);
  g_assert_cmpint (run_cli_pid (NULL, NULL, NULL, child, &out, NULL), ==, 0);
  assert_contains (out, "target_wait_poll");
  g_free (out);
  g_assert_cmpint (run_cli_pid ("--list", NULL, NULL, t->pid, &out, NULL), ==, 0);
  assert_contains (out, "\nweb ");
  g_free (out);
  target_stop (t);                          /* stops the child first, checks it exited 0 */
  g_assert_false (endpoint_is_listed (child));
}

/* ---- dump on a signal ---------------------------------------------------------------- */

/* Waits until @path contains @n complete signal dumps; returns its contents. */
static char *
wait_for_dumps (const char *path, unsigned n)
{
  gint64 deadline = now_ms () + test_timeout_ms (20000);
  for (;;)
    {
      char *s = read_file (path);
      unsigned k = 0;
      for (const char *p = s; (p = strstr (p, "==== end of asyncrt task dump ====\n")) != NULL; p++)
        k++;
      if (k >= n)
        return s;
      g_free (s);
      if (now_ms () >= deadline)
        return NULL;
      sleep_ms (10);
    }
}

static void
test_signal_stderr (void)
{
  static const char *const env[] = { "ASYNCRT_DUMP_SIGNAL=USR1", NULL };
  const char *args[] = { "--ct", NULL };
  Target *t = target_start_env (args, env);
  /* No endpoint (not asked for), but one thread for the signal. */
  g_assert_false (endpoint_is_listed (t->pid));
  kill ((pid_t) t->pid, SIGUSR1);
  char *s = wait_for_dumps (t->err_path, 1);
  g_assert_nonnull (s);
  assert_contains (s, "==== asyncrt task dump on SIGUSR1 ====\n==== runtime \"web\"");
  assert_contains (s, "==== runtime \"bg\"");
  assert_contains (s, "target_wait_poll");
  char *process = g_strdup_printf ("process %ld (endpoint-target)", t->pid);
  assert_contains (s, process);
  g_free (process);
  g_free (s);
  /* Again: the signal never kills it. */
  kill ((pid_t) t->pid, SIGUSR1);
  s = wait_for_dumps (t->err_path, 2);
  g_assert_nonnull (s);
  g_free (s);
  target_stop (t);
}

static void
test_signal_file (void)
{
  char *dir = g_dir_make_tmp ("asyncrt-dumpfile-XXXXXX", NULL);
  char *file_env = g_strdup_printf ("ASYNCRT_DUMP_FILE=%s/dump-%%p-%%t.txt", dir);
  const char *env[] = { "ASYNCRT_DUMP_SIGNAL=SIGUSR2", file_env, "ASYNCRT_DUMP_ENDPOINT=1", NULL };
  Target *t = target_start_env (NULL, env);
  kill ((pid_t) t->pid, SIGUSR2);
  char *prefix = g_strdup_printf ("dump-%ld-", t->pid);
  char *found = NULL;
  gint64 deadline = now_ms () + test_timeout_ms (20000);
  while (found == NULL && now_ms () < deadline)
    {
      GDir *d = g_dir_open (dir, 0, NULL);
      const char *name;
      while ((name = g_dir_read_name (d)) != NULL)
        if (g_str_has_prefix (name, prefix) && g_str_has_suffix (name, ".txt"))
          found = g_build_filename (dir, name, NULL);
      g_dir_close (d);
      if (found == NULL)
        sleep_ms (10);
    }
  g_assert_nonnull (found);
  char *s = wait_for_dumps (found, 1);
  g_assert_nonnull (s);
  assert_contains (s, "==== asyncrt task dump on SIGUSR2 ====");
  assert_contains (s, "target_wait_poll");
  struct stat st;
  g_assert_cmpint (stat (found, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  /* %t is seconds since the Epoch, around now. */
  long long when = g_ascii_strtoll (strrchr (found, '-') + 1, NULL, 10);
  g_assert_cmpint (llabs (when - (long long) time (NULL)), <, 600);
  char *err = read_file (t->err_path);
  g_assert_null (strstr (err, "task dump"));
  g_free (err);
  /* The endpoint works beside it (one thread serves both). */
  char *out;
  g_assert_cmpint (run_cli_pid ("--list", NULL, NULL, t->pid, &out, NULL), ==, 0);
  g_free (out);
  g_free (s);
  g_free (found);
  g_free (prefix);
  target_stop (t);
  char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (cmd);
  g_free (file_env);
  g_free (dir);
}

static unsigned
count_occurrences (const char *s, const char *needle)
{
  unsigned n = 0;
  for (const char *p = s; (p = strstr (p, needle)) != NULL; p++)
    n++;
  return n;
}

static void
test_signal_existing_handler (void)
{
  static const char *const env[] = { "ASYNCRT_DUMP_SIGNAL=USR1", NULL };
  const char *args[] = { "--own-usr1", NULL };
  Target *t = target_start_env (args, env);
  char *err = read_file (t->err_path);
  g_assert_cmpuint (count_occurrences (err, "already handles SIGUSR1"), ==, 1);
  g_free (err);
  kill ((pid_t) t->pid, SIGUSR1);
  gint64 deadline = now_ms () + test_timeout_ms (20000);
  for (;;)
    {
      char *out = read_file (t->out_path);
      bool ok = strstr (out, "own handler\n") != NULL;
      g_free (out);
      if (ok)
        break;
      g_assert_cmpint (now_ms (), <, deadline);
      sleep_ms (10);
    }
  sleep_ms (200);
  err = read_file (t->err_path);
  g_assert_null (strstr (err, "task dump"));
  g_assert_cmpuint (count_occurrences (err, "already handles"), ==, 1);
  g_free (err);
  target_stop (t);

  /* An ignored signal is the program's choice too. */
  const char *args2[] = { "--ignore-usr1", NULL };
  t = target_start_env (args2, env);
  kill ((pid_t) t->pid, SIGUSR1);
  sleep_ms (200);
  err = read_file (t->err_path);
  assert_contains (err, "already ignores SIGUSR1");
  g_assert_null (strstr (err, "task dump"));
  g_free (err);
  target_stop (t);
}

/* ---- hostile environment values ------------------------------------------------------- */

static void
test_env_endpoint_values (void)
{
  char *long_value = g_strnfill (5000, '1');
  char *long_env = g_strdup_printf ("ASYNCRT_DUMP_ENDPOINT=%s", long_value);
  const struct
  {
    const char *env;
    bool enabled, warns;
  } cases[] = {
    { "ASYNCRT_DUMP_ENDPOINT=", false, false },
    { "ASYNCRT_DUMP_ENDPOINT=0", false, false },
    { "ASYNCRT_DUMP_ENDPOINT=1", true, false },
    { "ASYNCRT_DUMP_ENDPOINT=2", false, true },
    { "ASYNCRT_DUMP_ENDPOINT=yes", false, true },
    { "ASYNCRT_DUMP_ENDPOINT= 1", false, true },
    { "ASYNCRT_DUMP_ENDPOINT=1\n", false, true },
    { "ASYNCRT_DUMP_ENDPOINT=\x1b[2J\x07", false, true },
    { "ASYNCRT_DUMP_ENDPOINT=%s%n%s", false, true },
    { long_env, false, true },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *env[] = { cases[i].env, NULL };
      Target *t = target_start_env (NULL, env);
      char *err = read_file (t->err_path);
      g_assert_cmpint (endpoint_is_listed (t->pid), ==, cases[i].enabled);
      if (cases[i].warns)
        {
          assert_contains (err, "asyncrt: ignoring ASYNCRT_DUMP_ENDPOINT=");
          g_assert_null (strchr (err, '\x1b'));          /* shown visibly, escaped */
          g_assert_cmpuint (count_occurrences (err, "\n"), ==, 1);
          g_assert_cmpuint (strlen (err), <, 400);
        }
      else
        g_assert_cmpstr (err, ==, "");
      g_free (err);
      target_stop (t);
    }
  g_free (long_env);
  g_free (long_value);
}

static void
test_env_signal_values (void)
{
  char *long_value = g_strnfill (5000, 'U');
  char *long_env = g_strdup_printf ("ASYNCRT_DUMP_SIGNAL=%s", long_value);
  /* Refused or not understood: a warning, the program runs as before (and the signal
   * keeps its default action, so it is not sent). */
  const char *bad[] = {
    "ASYNCRT_DUMP_SIGNAL=KILL", "ASYNCRT_DUMP_SIGNAL=9", "ASYNCRT_DUMP_SIGNAL=STOP",
    "ASYNCRT_DUMP_SIGNAL=SEGV", "ASYNCRT_DUMP_SIGNAL=sigbus", "ASYNCRT_DUMP_SIGNAL=ABRT",
    "ASYNCRT_DUMP_SIGNAL=0", "ASYNCRT_DUMP_SIGNAL=-1", "ASYNCRT_DUMP_SIGNAL=65",
    "ASYNCRT_DUMP_SIGNAL=32", "ASYNCRT_DUMP_SIGNAL=99999999999999999999",
    "ASYNCRT_DUMP_SIGNAL=USR1junk", "ASYNCRT_DUMP_SIGNAL=SIGUSR1\n",
    "ASYNCRT_DUMP_SIGNAL= USR1", "ASYNCRT_DUMP_SIGNAL=%s%n", "ASYNCRT_DUMP_SIGNAL=\x1b[2J",
    "ASYNCRT_DUMP_SIGNAL=RTMIN+99", "ASYNCRT_DUMP_SIGNAL=RTMAX-", "ASYNCRT_DUMP_SIGNAL=RTMIN-1",
    "ASYNCRT_DUMP_SIGNAL=SIG", "ASYNCRT_DUMP_SIGNAL=\xff\xfe", long_env,
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char *env[] = { bad[i], "ASYNCRT_DUMP_ENDPOINT=1", NULL };
      Target *t = target_start_env (NULL, env);
      char *err = read_file (t->err_path);
      if (strstr (err, "asyncrt: ignoring ASYNCRT_DUMP_SIGNAL=") == NULL)
        g_test_message ("value %zu: stderr '%s'", i, err);
      assert_contains (err, "asyncrt: ignoring ASYNCRT_DUMP_SIGNAL=");
      g_assert_null (strchr (err, '\x1b'));
      g_assert_cmpuint (count_occurrences (err, "\n"), ==, 1);
      g_free (err);
      /* The endpoint is not affected by the bad value. */
      char *out;
      g_assert_cmpint (run_cli_pid ("--list", NULL, NULL, t->pid, &out, NULL), ==, 0);
      g_free (out);
      target_stop (t);
    }
  /* Every spelling of a good one arms it. */
  const struct
  {
    const char *env;
    int signo;
  } good[] = {
    { "ASYNCRT_DUMP_SIGNAL=usr2", SIGUSR2 }, { "ASYNCRT_DUMP_SIGNAL=SIGUSR1", SIGUSR1 },
    { "ASYNCRT_DUMP_SIGNAL=10", SIGUSR1 }, { "ASYNCRT_DUMP_SIGNAL=Hup", SIGHUP },
    { "ASYNCRT_DUMP_SIGNAL=RTMIN+3", 0 }, { "ASYNCRT_DUMP_SIGNAL=sigrtmax", 0 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (good); i++)
    {
      const char *env[] = { good[i].env, NULL };
      Target *t = target_start_env (NULL, env);
      int signo = good[i].signo;
      if (signo == 0)
        signo = strstr (good[i].env, "RTMIN") ? SIGRTMIN + 3 : SIGRTMAX;
      kill ((pid_t) t->pid, signo);
      char *s = wait_for_dumps (t->err_path, 1);
      if (s == NULL)
        {
          char *e = read_file (t->err_path);
          g_test_message ("%s: no dump; stderr: %s", good[i].env, e);
          g_free (e);
        }
      g_assert_nonnull (s);
      assert_contains (s, "target_wait_poll");
      g_free (s);
      target_stop (t);
    }
  g_free (long_env);
  g_free (long_value);
}

static void
test_env_file_values (void)
{
  char *dir = g_dir_make_tmp ("asyncrt-dumpfile-XXXXXX", NULL);
  char *link = g_build_filename (dir, "link", NULL);
  char *target = g_build_filename (dir, "elsewhere", NULL);
  g_assert_cmpint (symlink (target, link), ==, 0);
  char *long_pattern = g_strnfill (5000, 'p');
  char *env_link = g_strdup_printf ("ASYNCRT_DUMP_FILE=%s", link);
  char *env_long = g_strdup_printf ("ASYNCRT_DUMP_FILE=/tmp/%s", long_pattern);
  char *env_percent = g_strdup_printf ("ASYNCRT_DUMP_FILE=%s/100%%%%-%%p", dir);
  char *percent_file = NULL;
  /* Each: the dump still arrives, in the file or (with a warning) on stderr. */
  const struct
  {
    const char *env;
    bool to_file;
    const char *warning;
  } cases[] = {
    { "ASYNCRT_DUMP_FILE=", false, NULL },
    { "ASYNCRT_DUMP_FILE=%", false, "ignoring ASYNCRT_DUMP_FILE" },
    { "ASYNCRT_DUMP_FILE=/tmp/x%z", false, "ignoring ASYNCRT_DUMP_FILE" },
    { env_long, false, "ignoring ASYNCRT_DUMP_FILE" },
    { "ASYNCRT_DUMP_FILE=/nonexistent/dir/dump-%p", false, "cannot write the dump" },
    { "ASYNCRT_DUMP_FILE=/dev/null", false, "cannot write the dump" },
    { env_link, false, "cannot write the dump" },
    { env_percent, true, NULL },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *env[] = { "ASYNCRT_DUMP_SIGNAL=USR1", cases[i].env, NULL };
      Target *t = target_start_env (NULL, env);
      kill ((pid_t) t->pid, SIGUSR1);
      char *s;
      if (cases[i].to_file)
        {
          percent_file = g_strdup_printf ("%s/100%%-%ld", dir, t->pid);
          s = wait_for_dumps (percent_file, 1);
        }
      else
        s = wait_for_dumps (t->err_path, 1);
      if (s == NULL)
        g_test_message ("case %zu (%s): no dump", i, cases[i].env);
      g_assert_nonnull (s);
      g_free (s);
      char *err = read_file (t->err_path);
      if (cases[i].warning != NULL)
        assert_contains (err, cases[i].warning);
      else
        g_assert_null (strstr (err, "asyncrt: "));
      g_free (err);
      target_stop (t);
    }
  /* The symbolic link was not followed. */
  g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));
  char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (cmd);
  g_free (percent_file);
  g_free (env_percent);
  g_free (env_long);
  g_free (env_link);
  g_free (long_pattern);
  g_free (target);
  g_free (link);
  g_free (dir);
}

/* ---- folded stacks, pprof, filters, watches (0.2) ------------------------------------ */

/* Parses folded output: stack -> count; every line "STACK COUNT". */
static GHashTable *
parse_folded (const char *out)
{
  GHashTable *h = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  char **lines = g_strsplit (out, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      if (**l == '\0')
        continue;
      char *sp = strrchr (*l, ' ');
      g_assert_nonnull (sp);
      char *end;
      guint64 n = g_ascii_strtoull (sp + 1, &end, 10);
      g_assert_true (*end == '\0' && n > 0);
      g_hash_table_insert (h, g_strndup (*l, (gsize) (sp - *l)), GSIZE_TO_POINTER ((gsize) n));
    }
  g_strfreev (lines);
  return h;
}

static void
test_cli_folded (void)
{
  const char *args[] = { "--ct", NULL };
  Target *t = target_start (args);
  char *out, *err;
  g_assert_cmpint (run_cli_pid ("--folded", NULL, NULL, t->pid, &out, &err), ==, 0);
  g_assert_cmpstr (err, ==, "");
  GHashTable *h = parse_folded (out);
  /* 3 waiters on "web" and 2 on "bg", counted together. */
  g_assert_cmpuint (g_hash_table_size (h), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_SIZE (g_hash_table_lookup (h, "target_wait_poll;asyncrt_notified_poll")),
                    ==, 5);
  g_hash_table_destroy (h);
  g_free (out);
  g_free (err);
  g_assert_cmpint (run_cli_pid ("--folded", "--task-names", "--runtime=web", t->pid, &out, NULL),
                   ==, 0);
  g_assert_cmpstr (out, ==, "waiter;target_wait_poll;asyncrt_notified_poll 3\n");
  g_free (out);
  g_assert_cmpint (run_cli_pid ("--format=folded", "--name=nothing", NULL, t->pid, &out, NULL),
                   ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_free (out);
  target_stop (t);
}

static char *
go_tool_pprof_raw (const char *path, const char *dir)
{
  char *go = g_find_program_in_path ("go");
  if (go == NULL)
    return NULL;
  char **env = g_get_environ ();
  env = g_environ_setenv (env, "HOME", dir, TRUE);
  char *cache = g_build_filename (dir, "go-cache", NULL);
  env = g_environ_setenv (env, "GOCACHE", cache, TRUE);
  env = g_environ_setenv (env, "GOFLAGS", "", TRUE);
  env = g_environ_setenv (env, "GOPROXY", "off", TRUE);
  env = g_environ_setenv (env, "GOTOOLCHAIN", "local", TRUE);
  env = g_environ_setenv (env, "PPROF_TMPDIR", dir, TRUE);
  const char *argv[] = { go, "tool", "pprof", "-raw", path, NULL };
  char *out = NULL, *err = NULL;
  int status;
  g_assert_true (g_spawn_sync (dir, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, NULL));
  if (!g_spawn_check_wait_status (status, NULL))
    g_test_message ("go tool pprof: %s", err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_free (err);
  g_free (cache);
  g_strfreev (env);
  g_free (go);
  return out;
}

static void
test_cli_pprof (void)
{
  const char *args[] = { "--ct", NULL };
  Target *t = target_start (args);
  char *path = g_build_filename (t->dir, "tasks.pb.gz", NULL);
  char *out, *err;
  g_assert_cmpint (run_cli_pid ("--pprof", path, NULL, t->pid, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpstr (err, ==, "");
  g_free (out);
  g_free (err);
  char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &bytes, &len, NULL));
  g_assert_cmpuint (len, >, 2);
  g_assert_cmpint ((unsigned char) bytes[0], ==, 0x1f);
  g_assert_cmpint ((unsigned char) bytes[1], ==, 0x8b);
  g_free (bytes);
  char *raw = go_tool_pprof_raw (path, t->dir);
  if (raw == NULL)
    g_test_message ("go not found (Debian: golang-go): the profile was not read by pprof");
  else
    {
      /* One sample per runtime (the runtime is a label), 3 and 2 tasks. */
      g_assert_true (g_regex_match_simple ("\\n +3: [0-9 ]+\\n +runtime:\\[web\\] task_name:\\[waiter\\]"
                                           " task_state:\\[idle\\] wait_kind:\\[notify\\]\\n",
                                           raw, 0, 0));
      g_assert_true (g_regex_match_simple ("\\n +2: [0-9 ]+\\n +runtime:\\[bg\\] task_name:\\[waiter\\]"
                                           " task_state:\\[idle\\] wait_kind:\\[notify\\]\\n",
                                           raw, 0, 0));
      assert_contains (raw, " target_wait_poll ");
      assert_contains (raw, "tests/endpoint/endpoint-target ");
      g_free (raw);
    }
  /* "-" is stdout; --format=pprof alone writes to stdout when it is not a terminal. */
  g_assert_cmpint (run_cli_pid ("--pprof=-", "--runtime=bg", NULL, t->pid, &out, NULL), ==, 0);
  g_assert_cmpint ((unsigned char) out[0], ==, 0x1f);
  g_free (out);
  g_assert_cmpint (run_cli_pid ("--format=pprof", NULL, NULL, t->pid, &out, NULL), ==, 0);
  g_assert_cmpint ((unsigned char) out[0], ==, 0x1f);
  g_free (out);
  /* A file that cannot be created; a refused request creates no file. */
  char *bad = g_build_filename (t->dir, "no-such-dir", "x.pb.gz", NULL);
  g_assert_cmpint (run_cli_pid ("--pprof", bad, NULL, t->pid, &out, &err), ==, 6);
  assert_contains (err, "cannot create");
  g_free (out);
  g_free (err);
  char *other = g_build_filename (t->dir, "refused.pb.gz", NULL);
  g_assert_cmpint (run_cli_pid ("--pprof", other, "--runtime=nope", t->pid, &out, &err), ==, 5);
  g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));
  g_free (out);
  g_free (err);
  g_free (other);
  g_free (bad);
  g_free (path);
  target_stop (t);
}

static void
test_cli_filters (void)
{
  const char *args[] = { "--ct", "--ticker", NULL };
  Target *t = target_start (args);
  char *out, *err;
  g_assert_cmpint (run_cli_pid ("--name=wait*", "--state=idle", "--runtime=bg", t->pid, &out, &err),
                   ==, 0);
  assert_contains (out, "2 tasks, complete (filtered: name \"wait*\", state idle)");
  g_free (out);
  g_free (err);
  /* Names match whole: the ticker only. */
  g_assert_cmpint (run_cli_pid ("--name", "t?cker", NULL, t->pid, &out, NULL), ==, 0);
  assert_contains (out, "name \"ticker\"");
  g_assert_null (strstr (out, "name \"waiter\""));
  g_free (out);
  g_assert_cmpint (run_cli_pid ("--min-idle=3600", "--json", NULL, t->pid, &out, NULL), ==, 0);
  assert_json (out, "for r in d['runtimes']:\n"
                    "  assert r['dump']['tasks'] == [], r\n"
                    "  assert r['dump']['filter']['min_idle_ns'] == 3600000000000, r\n");
  g_free (out);
  g_assert_cmpint (run_cli_pid ("--task=2", "--runtime=web", "--json", t->pid, &out, NULL), ==, 0);
  assert_json (out, "ts = d['runtimes'][0]['dump']['tasks']\n"
                    "assert [x['id'] for x in ts] == [2], ts\n"
                    "assert d['runtimes'][0]['dump']['filter']['descendants_of'] == 2\n");
  g_free (out);
  /* By what they wait on: the waiters wait on a notify, the ticker on a sleep. */
  g_assert_cmpint (run_cli_pid ("--wait=notify", "--runtime=web", NULL, t->pid, &out, NULL), ==, 0);
  assert_contains (out, ": 3 tasks, complete (filtered: waiting on notify)");
  g_assert_null (strstr (out, "name \"ticker\""));
  g_free (out);
  g_assert_cmpint (run_cli_pid ("--wait=sleep,mutex", "--json", NULL, t->pid, &out, NULL), ==, 0);
  assert_json (out, "ts = [x['name'] for r in d['runtimes'] for x in r['dump']['tasks']]\n"
                    "assert ts == ['ticker'], ts\n"
                    "assert d['runtimes'][0]['dump']['filter']['wait_kinds'] == ['sleep', 'mutex']\n");
  g_free (out);
  g_assert_cmpint (run_cli_pid ("--wait=nothing", NULL, NULL, t->pid, &out, &err), ==, 5);
  assert_contains (err, "unknown wait kind 'nothing'");
  g_free (out);
  g_free (err);
  g_assert_cmpint (run_cli_pid ("--state=running,scheduled", "--timeout=0", NULL, t->pid, &out,
                                NULL), ==, 1);            /* a census is never complete */
  g_assert_null (strstr (out, "name \"waiter\""));
  g_free (out);
  target_stop (t);
}

static void
test_cli_watch (void)
{
  const char *args[] = { "--ct", "--ticker", NULL };
  Target *t = target_start (args);
  char *out, *err;
  g_assert_cmpint (run_cli_pid ("--watch", "0.5", "--runtime=web", t->pid, &out, &err), ==, 0);
  g_assert_cmpstr (err, ==, "");
  assert_contains (out, "==== runtime \"web\" (multi_thread, 2 workers) ====\n");
  assert_contains (out, ": 4 tasks, 1 made progress, 3 stuck, 0 new, 0 gone\n");
  /* The three waiters, with why and where; not the ticker. */
  for (int id = 1; id <= 3; id++)
    {
      char *line = g_strdup_printf ("task %d stuck for ", id);
      assert_contains (out, line);
      g_free (line);
    }
  assert_contains (out, "(idle, not polled and not woken since the earlier dump)");
  assert_contains (out, "target_wait_poll");
  g_assert_null (strstr (out, "\"ticker\""));
  g_free (out);
  g_free (err);
  /* JSON, from censuses: both runtimes. */
  g_assert_cmpint (run_cli_pid ("-w", "0.3", "--json", t->pid, &out, NULL), ==, 0);
  char *script = g_strdup_printf (
    "assert d['pid'] == %ld and d['interval_ms'] == 300 and d['complete'] is True, d\n"
    "web, bg = d['runtimes']\n"
    "assert web['name'] == 'web' and bg['name'] == 'bg'\n"
    "c = web['progress']['counts']\n"
    "assert c['stuck'] == 3 and c['polled'] == 1 and c['new'] == 0 and c['gone'] == 0, c\n"
    "assert web['progress']['interval_ns'] >= 300000000\n"
    "tick = [x for x in web['progress']['tasks'] if x['name'] == 'ticker'][0]\n"
    "assert tick['made_progress'] is True and tick['polls'] > 0, tick\n"
    "assert bg['progress']['counts']['stuck'] == 2\n", t->pid);
  assert_json (out, script);
  g_free (script);
  g_free (out);
  /* With a filter: the stuck waiters of "bg" only. */
  g_assert_cmpint (run_cli_pid ("--watch=0.2", "--name=waiter", "--runtime=bg", t->pid, &out, NULL),
                   ==, 0);
  assert_contains (out, ": 2 tasks, 0 made progress, 2 stuck, 0 new, 0 gone\n");
  g_free (out);
  target_stop (t);
}

/* The runtime is freed and another built under the same name between the two dumps:
 * the watch must not compare them. */
static void
test_cli_watch_replaced (void)
{
  const char *args[] = { "--rebuild-on-usr2", NULL };
  Target *t = target_start (args);
  char *p = g_strdup_printf ("%ld", t->pid);
  char *interval = g_strdup_printf ("%u", test_timeout_ms (3));
  const char *argv[] = { cli_path, "--watch", interval, "--timeout=0", p, NULL };
  GPid child;
  int out_fd;
  GError *error = NULL;
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                           NULL, NULL, &child, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  sleep_ms (test_timeout_ms (1000));           /* the first (census) dump is taken by now */
  kill ((pid_t) t->pid, SIGUSR2);
  gint64 deadline = now_ms () + test_timeout_ms (20000);
  for (;;)
    {
      char *s = read_file (t->out_path);
      bool done = strstr (s, "rebuilt\n") != NULL;
      g_free (s);
      if (done)
        break;
      g_assert_cmpint (now_ms (), <, deadline);
      sleep_ms (10);
    }
  GString *out = g_string_new (NULL);
  g_assert_true (read_to_end (out_fd, out, test_timeout_ms (30000)));
  close (out_fd);
  int status;
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_spawn_close_pid (child);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);            /* incomplete */
  assert_contains (out->str, "(no comparison: runtime \"web\" (serial 1) was freed after the "
                             "first dump)\n");
  assert_contains (out->str, "(no comparison: runtime \"web\" (serial 2) was built after the "
                             "first dump)\n");
  g_assert_null (strstr (out->str, "stuck for"));
  g_string_free (out, TRUE);
  g_free (interval);
  g_free (p);
  target_stop (t);
}

/* A watch whose client hangs up between the two dumps, and a watch in a format it does
 * not have: the endpoint goes on serving. */
static void
test_watch_hostile (void)
{
  Target *t = target_start (NULL);
  int fd = endpoint_connect (t->pid);
  g_assert_cmpint (fd, >=, 0);
  const char *req = "asyncrt-dump 1 watch interval=60000 timeout=0\n";
  g_assert_true (send_all (fd, req, strlen (req)));
  sleep_ms (200);
  close (fd);
  GString *answer = g_string_new (NULL);
  g_assert_cmpint (endpoint_exchange (t->pid, "asyncrt-dump 1 watch format=folded\n", -1, false,
                                      test_timeout_ms (10000), answer), ==, 0);
  char *status = answer_status (answer, NULL);
  g_assert_cmpstr (status, ==, "EINVAL");
  assert_contains (answer->str, "unknown format 'folded' for watch");
  g_free (status);
  g_string_truncate (answer, 0);
  g_assert_cmpint (endpoint_exchange (t->pid, "asyncrt-dump 1 watch interval=1 timeout=0\n", -1,
                                      false, test_timeout_ms (10000), answer), ==, 0);
  status = answer_status (answer, NULL);
  g_assert_cmpstr (status, ==, "ok");
  g_free (status);
  g_string_free (answer, TRUE);
  target_stop (t);
}

static void
test_cli_usage_export (void)
{
  const char *const bad[][5] = {
    { "--json", "--folded", "1", NULL }, { "--folded", "--pprof=x", "1", NULL },
    { "--format=json", "--folded", "1", NULL }, { "--task-names", "1", NULL },
    { "--task-names", "--json", "1", NULL }, { "--list", "--name=x", "1", NULL },
    { "--list", "--watch=1", "1", NULL }, { "--list", "--pprof=x", "1", NULL },
    { "--watch=0", "1", NULL }, { "--watch=abc", "1", NULL }, { "--watch=1.0001", "1", NULL },
    { "--watch=601", "1", NULL }, { "--watch=-1", "1", NULL }, { "--watch=1", "--folded", "1", NULL },
    { "--watch=1", "--pprof=x", "1", NULL }, { "--state=bogus", "1", NULL },
    { "--state=idle,idle", "1", NULL }, { "--state=", "1", NULL }, { "--min-idle=x", "1", NULL },
    { "--min-idle=-1", "1", NULL }, { "--task=0", "1", NULL }, { "--task=x", "1", NULL },
    { "--name=a b", "1", NULL }, { "--name=", "1", NULL }, { "--pprof=", "1", NULL },
    { "--wait=Mutex", "1", NULL }, { "--wait=", "1", NULL }, { "--wait=a,,b", "1", NULL },
    { "--group", "--folded", "1", NULL }, { "--group", "--watch=1", "1", NULL },
    { "--list", "--wait=mutex", "1", NULL },
    { "--pprof", NULL },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      char *out, *err;
      int st = run_cli (bad[i], &out, &err);
      if (st != 2)
        g_test_message ("case %zu (%s %s): status %d, %s", i, bad[i][0], bad[i][1], st, err);
      g_assert_cmpint (st, ==, 2);
      g_assert_cmpstr (out, ==, "");
      g_assert_cmpstr (err, !=, "");
      g_free (out);
      g_free (err);
    }
  const char *help[] = { "--help", NULL };
  char *out;
  g_assert_cmpint (run_cli (help, &out, NULL), ==, 0);
  assert_contains (out, "--watch=SECONDS");
  assert_contains (out, "--pprof=FILE");
  assert_contains (out, "--folded");
  g_free (out);
}

/* The commands of the chapter "Dumps beyond one machine" (doc/reference/fleet.xml), as
 * written there: every <screen> after a "run" comment, each "$ " line a command (a
 * trailing backslash continues it), run with sh in a scratch directory with $PID set
 * to a live program and asyncrt-dump on the PATH; every command must succeed. */
static char *
xml_unescape (const char *s)
{
  GString *out = g_string_new (NULL);
  for (const char *p = s; *p != '\0'; p++)
    {
      if (g_str_has_prefix (p, "&lt;"))
        g_string_append_c (out, '<'), p += 3;
      else if (g_str_has_prefix (p, "&gt;"))
        g_string_append_c (out, '>'), p += 3;
      else if (g_str_has_prefix (p, "&amp;"))
        g_string_append_c (out, '&'), p += 4;
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static void
test_fleet_examples (void)
{
  const char *top = g_getenv ("top_srcdir");
  char *path = g_build_filename (top != NULL ? top : ".", "doc", "reference", "fleet.xml", NULL);
  char *xml = NULL;
  g_assert_true (g_file_get_contents (path, &xml, NULL, NULL));
  const char *args[] = { "--ct", NULL };
  Target *t = target_start (args);
  char *go = g_find_program_in_path ("go");
  char **env = g_get_environ ();
  char *pid = g_strdup_printf ("%ld", t->pid);
  env = g_environ_setenv (env, "PID", pid, TRUE);
  char *tools = g_path_get_dirname (cli_path);
  char *abs_tools = g_canonicalize_filename (tools, NULL);
  char *path_env = g_strdup_printf ("%s:%s", abs_tools, g_getenv ("PATH"));
  env = g_environ_setenv (env, "PATH", path_env, TRUE);
  env = g_environ_setenv (env, "HOME", t->dir, TRUE);
  char *cache = g_build_filename (t->dir, "go-cache", NULL);
  env = g_environ_setenv (env, "GOCACHE", cache, TRUE);
  env = g_environ_setenv (env, "GOFLAGS", "", TRUE);
  env = g_environ_setenv (env, "GOPROXY", "off", TRUE);
  env = g_environ_setenv (env, "GOTOOLCHAIN", "local", TRUE);
  env = g_environ_setenv (env, "PPROF_TMPDIR", t->dir, TRUE);
  unsigned n_run = 0, n_skipped = 0;
  const char *p = xml;
  while ((p = strstr (p, "<!-- run -->")) != NULL)
    {
      const char *start = strstr (p, "<screen>"), *end = start ? strstr (start, "</screen>") : NULL;
      g_assert_nonnull (end);
      char *screen = g_strndup (start + strlen ("<screen>"), (gsize) (end - start - strlen ("<screen>")));
      char **lines = g_strsplit (screen, "\n", -1);
      for (char **l = lines; *l != NULL; l++)
        {
          if (!g_str_has_prefix (*l, "$ "))
            continue;
          GString *cmd = g_string_new (*l + 2);
          while (cmd->len > 0 && cmd->str[cmd->len - 1] == '\\' && l[1] != NULL)
            {
              g_string_truncate (cmd, cmd->len - 1);
              g_string_append (cmd, *++l);
            }
          char *command = xml_unescape (cmd->str);
          g_string_free (cmd, TRUE);
          if (go == NULL && strstr (command, "go tool") != NULL)
            {
              g_test_message ("go not found (Debian: golang-go): not run: %s", command);
              n_skipped++;
              g_free (command);
              continue;
            }
          const char *argv[] = { "/bin/sh", "-ec", command, NULL };
          char *out = NULL, *err = NULL;
          int status;
          g_assert_true (g_spawn_sync (t->dir, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL,
                                       &out, &err, &status, NULL));
          if (!g_spawn_check_wait_status (status, NULL))
            {
              g_test_message ("the manual's command failed (status 0x%x): %s\nstdout: %s\nstderr: %s",
                              status, command, out, err);
              g_assert_not_reached ();
            }
          g_free (out);
          g_free (err);
          g_free (command);
          n_run++;
        }
      g_strfreev (lines);
      g_free (screen);
      p = end;
    }
  g_assert_cmpuint (n_run + n_skipped, >=, 9);
  /* What the commands wrote, checked. */
  char *file = g_build_filename (t->dir, "tasks.folded", NULL);
  char *folded = read_file (file);
  g_assert_cmpstr (folded, ==, "waiter;target_wait_poll;asyncrt_notified_poll 5\n");
  g_free (folded);
  g_free (file);
  file = g_build_filename (t->dir, "tasks.ndjson", NULL);
  char *ndjson = read_file (file);
  char **rows = g_strsplit (g_strchomp (ndjson), "\n", -1);
  g_assert_cmpuint (g_strv_length (rows), ==, 5);
  assert_contains (rows[0], "\"runtime\": \"web\"");
  g_strfreev (rows);
  g_free (ndjson);
  g_free (file);
  g_free (cache);
  g_free (path_env);
  g_free (abs_tools);
  g_free (tools);
  g_free (pid);
  g_strfreev (env);
  g_free (go);
  g_free (xml);
  g_free (path);
  target_stop (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *top = g_getenv ("top_builddir");
  if (top == NULL)
    top = ".";
  cli_path = g_build_filename (top, "tools", "asyncrt-dump", NULL);
  target_path = g_build_filename (top, "tests", "endpoint", "endpoint-target", NULL);
  signal (SIGPIPE, SIG_IGN);

  g_test_add_func ("/endpoint/cli/text", test_cli_text);
  g_test_add_func ("/endpoint/cli/json", test_cli_json);
  g_test_add_func ("/endpoint/cli/group", test_cli_group);
  g_test_add_func ("/endpoint/cli/list", test_cli_list);
  g_test_add_func ("/endpoint/cli/runtime-and-format", test_cli_runtime);
  g_test_add_func ("/endpoint/cli/usage", test_cli_usage);
  g_test_add_func ("/endpoint/cli/no-endpoint", test_cli_no_endpoint);
  g_test_add_func ("/endpoint/cli/folded", test_cli_folded);
  g_test_add_func ("/endpoint/cli/pprof", test_cli_pprof);
  g_test_add_func ("/endpoint/cli/filters", test_cli_filters);
  g_test_add_func ("/endpoint/cli/watch", test_cli_watch);
  g_test_add_func ("/endpoint/cli/watch-runtime-replaced", test_cli_watch_replaced);
  g_test_add_func ("/endpoint/cli/usage-export", test_cli_usage_export);
  g_test_add_func ("/endpoint/hostile/watch", test_watch_hostile);
  g_test_add_func ("/endpoint/fleet-examples", test_fleet_examples);
  g_test_add_func ("/endpoint/other-uid-refused", test_other_uid_refused);
  g_test_add_func ("/endpoint/hostile/garbage", test_garbage);
  g_test_add_func ("/endpoint/hostile/silent", test_silent_clients);
  g_test_add_func ("/endpoint/hostile/many-silent", test_many_silent);
  g_test_add_func ("/endpoint/hostile/disconnect-mid-response", test_disconnect_mid_response);
  g_test_add_func ("/endpoint/concurrent-clients", test_concurrent_clients);
  g_test_add_func ("/endpoint/sequential-dumps", test_sequential_dumps);
  g_test_add_func ("/endpoint/blocked-workers", test_blocked_workers);
  g_test_add_func ("/endpoint/exit-leaves-nothing", test_exit_leaves_nothing);
  g_test_add_func ("/endpoint/fork-child", test_fork_child);
  g_test_add_func ("/endpoint/signal/stderr", test_signal_stderr);
  g_test_add_func ("/endpoint/signal/file", test_signal_file);
  g_test_add_func ("/endpoint/signal/existing-handler", test_signal_existing_handler);
  g_test_add_func ("/endpoint/env/endpoint", test_env_endpoint_values);
  g_test_add_func ("/endpoint/env/signal", test_env_signal_values);
  g_test_add_func ("/endpoint/env/file", test_env_file_values);
  test_dump_json_add_check ();
  int r = g_test_run ();
  g_free (cli_path);
  g_free (target_path);
  return r;
}
