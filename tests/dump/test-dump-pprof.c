/* pprof profiles of real dumps, on both schedulers, read back by a real pprof reader
 * (`go tool pprof -raw`, Debian's golang-go): the sample counts, the labels (task
 * name, state, runtime, the task's own labels), the function names with the inlined
 * ones as lines of their own location, and the mappings with build ids; and every
 * error return of asyncrt_dump_write_pprof().  Without `go` the reader checks are
 * skipped with a TAP skip that says so. */
#include <asyncrt/asyncrt.h>
#include <glib.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flavour-util.h"

static AsyncrtNotify never;

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotified wait;
  const char *tenant;
  atomic_int *polled;
} Task;

/* Always inlined into pprof_outer_poll: a line of its own in the same location. */
static inline __attribute__ ((always_inline)) AsyncrtPoll
pprof_inlined_wait (Task *self, AsyncrtContext *cx)
{
  return asyncrt_notified_poll (&self->wait, cx);
}

static AsyncrtPoll __attribute__ ((noinline))
pprof_outer_poll (void *p, AsyncrtContext *cx)
{
  Task *self = p;
  atomic_fetch_add (self->polled, 1);
  ASYNCRT_BEGIN (&self->co);
  if (self->tenant != NULL)
    g_assert_cmpint (asyncrt_task_set_label ("tenant", self->tenant), ==, 0);
  asyncrt_notified_init (&self->wait, &never);
  ASYNCRT_AWAIT (&self->co, pprof_inlined_wait (self, cx));
  asyncrt_notified_clear (&self->wait);
  ASYNCRT_END (&self->co);
}

static AsyncrtPoll __attribute__ ((noinline))
pprof_other_poll (void *p, AsyncrtContext *cx)
{
  Task *self = p;
  atomic_fetch_add (self->polled, 1);
  ASYNCRT_BEGIN (&self->co);
  asyncrt_notified_init (&self->wait, &never);
  ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->wait, cx));
  asyncrt_notified_clear (&self->wait);
  ASYNCRT_END (&self->co);
}

static void
task_free (void *p)
{
  Task *self = p;
  asyncrt_notified_clear (&self->wait);
  g_free (self);
}

static void
spawn (AsyncrtHandle *h, const char *name, AsyncrtPollFunc poll, const char *tenant,
       atomic_int *polled)
{
  Task *t = g_new0 (Task, 1);
  t->tenant = tenant;
  t->polled = polled;
  asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, name, poll, t, task_free));
}

/* ---- the dump ---------------------------------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSleep sleep;
  gint64 deadline;
  AsyncrtDumpFuture df;
  atomic_int polled;
  AsyncrtDump *dump;
} Main;

static AsyncrtPoll
main_poll (void *p, AsyncrtContext *cx)
{
  Main *self = p;
  ASYNCRT_BEGIN (&self->co);
  {
    AsyncrtHandle *h = asyncrt_handle_current ();
    for (int i = 0; i < 5; i++)
      spawn (h, "alpha", pprof_outer_poll, "acme", &self->polled);
    for (int i = 0; i < 2; i++)
      spawn (h, "alpha", pprof_outer_poll, "other", &self->polled);
    for (int i = 0; i < 3; i++)
      spawn (h, "beta", pprof_other_poll, NULL, &self->polled);
    spawn (h, NULL, pprof_other_poll, NULL, &self->polled);
  }
  AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 10000,
               atomic_load (&self->polled) == 11);
  g_assert_cmpint (atomic_load (&self->polled), ==, 11);
  asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), test_timeout_ms (5000));
  ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
  self->dump = asyncrt_dump_future_take (&self->df);
  g_assert_nonnull (self->dump);
  asyncrt_dump_future_clear (&self->df);
  ASYNCRT_END (&self->co);
}

/* ---- reading it back with go tool pprof ------------------------------------------------ */

typedef struct
{
  GHashTable *locations;    /* id (string) -> GPtrArray of function names, leaf side first */
  GPtrArray *samples;       /* Sample* */
  char *mappings;           /* the Mappings section */
} Raw;

typedef struct
{
  long count;
  char **locs;              /* location ids */
  char *labels;             /* the label line */
} Sample;

static void
sample_free (gpointer p)
{
  Sample *s = p;
  g_strfreev (s->locs);
  g_free (s->labels);
  g_free (s);
}

/* `go tool pprof -raw` prints "Samples:", a header line, then per sample
 * "  COUNT: LOC LOC ..." and a line of labels "key:[value] ..."; "Locations", then
 * "  ID: 0xADDR M=N FUNC FILE:LINE s=0" and, for each inlined caller, a line
 * "  FUNC FILE:LINE s=0"; then "Mappings". */
static Raw *
parse_raw (const char *text)
{
  Raw *r = g_new0 (Raw, 1);
  r->locations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) g_ptr_array_unref);
  r->samples = g_ptr_array_new_with_free_func (sample_free);
  char **lines = g_strsplit (text, "\n", -1);
  enum { NONE, SAMPLES, LOCATIONS, MAPPINGS } section = NONE;
  GPtrArray *loc = NULL;
  GString *maps = g_string_new (NULL);
  GRegex *sample_re = g_regex_new ("^\\s*(\\d+): ([\\d ]+)$", 0, 0, NULL);
  GRegex *loc_re = g_regex_new ("^\\s*(\\d+): 0x[0-9a-f]+ M=\\d+ (\\S+) ", 0, 0, NULL);
  GRegex *inl_re = g_regex_new ("^\\s+(\\S+) \\S+:\\d+ s=\\d+$", 0, 0, NULL);
  for (char **l = lines; *l != NULL; l++)
    {
      GMatchInfo *m = NULL;
      if (g_str_has_prefix (*l, "Samples:"))
        section = SAMPLES;
      else if (g_str_has_prefix (*l, "Locations"))
        section = LOCATIONS;
      else if (g_str_has_prefix (*l, "Mappings"))
        section = MAPPINGS;
      else if (section == SAMPLES)
        {
          if (g_regex_match (sample_re, *l, 0, &m))
            {
              Sample *s = g_new0 (Sample, 1);
              char *count = g_match_info_fetch (m, 1), *locs = g_match_info_fetch (m, 2);
              s->count = atol (count);
              s->locs = g_strsplit (g_strstrip (locs), " ", -1);
              g_free (count);
              g_free (locs);
              if (l[1] != NULL)
                s->labels = g_strstrip (g_strdup (l[1]));
              g_ptr_array_add (r->samples, s);
            }
        }
      else if (section == LOCATIONS)
        {
          if (g_regex_match (loc_re, *l, 0, &m))
            {
              loc = g_ptr_array_new_with_free_func (g_free);
              g_hash_table_insert (r->locations, g_match_info_fetch (m, 1), loc);
              g_ptr_array_add (loc, g_match_info_fetch (m, 2));
            }
          else
            {
              g_match_info_free (m);
              m = NULL;
              if (loc != NULL && g_regex_match (inl_re, *l, 0, &m))
                g_ptr_array_add (loc, g_match_info_fetch (m, 1));
            }
        }
      else if (section == MAPPINGS)
        g_string_append_printf (maps, "%s\n", *l);
      g_match_info_free (m);
    }
  r->mappings = g_string_free (maps, FALSE);
  g_regex_unref (sample_re);
  g_regex_unref (loc_re);
  g_regex_unref (inl_re);
  g_strfreev (lines);
  return r;
}

static void
raw_free (Raw *r)
{
  g_hash_table_destroy (r->locations);
  g_ptr_array_free (r->samples, TRUE);
  g_free (r->mappings);
  g_free (r);
}

/* The functions of a sample, leaf first, inlined ones included. */
static char *
functions_of (Raw *r, const Sample *s)
{
  GString *out = g_string_new (NULL);
  for (char **id = s->locs; *id != NULL; id++)
    {
      GPtrArray *fns = g_hash_table_lookup (r->locations, *id);
      g_assert_nonnull (fns);
      for (guint i = 0; i < fns->len; i++)
        g_string_append_printf (out, "%s%s", out->len > 0 ? ";" : "",
                                (const char *) g_ptr_array_index (fns, i));
    }
  return g_string_free (out, FALSE);
}

static const Sample *
find_sample (Raw *r, const char *labels)
{
  const Sample *found = NULL;
  for (guint i = 0; i < r->samples->len; i++)
    {
      const Sample *s = g_ptr_array_index (r->samples, i);
      if (s->labels != NULL && strstr (s->labels, labels) != NULL)
        {
          g_assert_null (found);                    /* exactly one */
          found = s;
        }
    }
  if (found == NULL)
    g_test_message ("no sample with labels %s", labels);
  g_assert_nonnull (found);
  return found;
}

/* Runs `go tool pprof ARGS FILE` offline, with its caches in @home. */
static char *
run_pprof (const char *go, const char *home, const char *arg, const char *file)
{
  char **env = g_get_environ ();
  env = g_environ_setenv (env, "HOME", home, TRUE);
  char *cache = g_build_filename (home, "go-cache", NULL);
  env = g_environ_setenv (env, "GOCACHE", cache, TRUE);
  env = g_environ_setenv (env, "GOPATH", home, TRUE);
  env = g_environ_setenv (env, "GOFLAGS", "", TRUE);
  env = g_environ_setenv (env, "GOPROXY", "off", TRUE);
  env = g_environ_setenv (env, "GOTOOLCHAIN", "local", TRUE);
  env = g_environ_setenv (env, "GOTELEMETRY", "off", TRUE);
  env = g_environ_setenv (env, "PPROF_TMPDIR", home, TRUE);
  const char *argv[] = { go, "tool", "pprof", arg, file, NULL };
  char *out = NULL, *err = NULL;
  int status = 0;
  GError *error = NULL;
  g_assert_true (g_spawn_sync (home, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_test_message ("go tool pprof %s failed:\n%s", arg, err);
      g_assert_not_reached ();
    }
  g_free (err);
  g_free (cache);
  g_strfreev (env);
  return out;
}

/* The GNU build id of this program, as readelf shows it (NULL without readelf). */
static char *
own_build_id (void)
{
  char *readelf = g_find_program_in_path ("readelf");
  if (readelf == NULL)
    return NULL;
  char *exe = g_file_read_link ("/proc/self/exe", NULL);
  const char *argv[] = { readelf, "-n", exe, NULL };
  char *out = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                               &out, NULL, NULL, NULL));
  char *id = NULL;
  const char *p = strstr (out, "Build ID: ");
  if (p != NULL)
    id = g_strndup (p + strlen ("Build ID: "), strspn (p + strlen ("Build ID: "), "0123456789abcdef"));
  g_free (out);
  g_free (exe);
  g_free (readelf);
  return id;
}

static void
test_read_back (void)
{
  asyncrt_notify_init (&never);
  Main m = { 0 };
  AsyncrtRuntime *rt = new_runtime ();
  g_assert_cmpint (asyncrt_runtime_block_on (rt, main_poll, &m), ==, 0);
  AsyncrtDump *d = m.dump;
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 11);

  char *dir = g_dir_make_tmp ("asyncrt-pprof-XXXXXX", NULL);
  char *path = g_build_filename (dir, "tasks.pb.gz", NULL);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (asyncrt_dump_write_pprof (d, fd), ==, 0);
  close (fd);
  char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &bytes, &len, NULL));
  g_assert_cmpuint (len, >, 20);
  g_assert_cmpint ((unsigned char) bytes[0], ==, 0x1f);     /* gzip */
  g_assert_cmpint ((unsigned char) bytes[1], ==, 0x8b);
  g_free (bytes);

  char *go = g_find_program_in_path ("go");
  if (go == NULL)
    g_test_skip ("go not found (Debian: golang-go): the profile was not read by pprof");
  else
    {
      char *raw = run_pprof (go, dir, "-raw", path);
      Raw *r = parse_raw (raw);
      long total = 0;
      for (guint i = 0; i < r->samples->len; i++)
        total += ((Sample *) g_ptr_array_index (r->samples, i))->count;
      g_assert_cmpint (total, ==, 11);
      g_assert_cmpuint (r->samples->len, ==, 4);

      const Sample *acme = find_sample (r, "task_name:[alpha] task_state:[idle] tenant:[acme] "
                                           "wait_kind:[notify]");
      g_assert_cmpint (acme->count, ==, 5);
      char *fns = functions_of (r, acme);
      /* The leaf, then the inlined function and the function it was inlined into, as
       * two lines of one location. */
      g_assert_true (g_str_has_prefix (fns, "asyncrt_notified_poll;pprof_inlined_wait;"
                                            "pprof_outer_poll"));
      gboolean inlined_pair = FALSE;
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, r->locations);
      while (g_hash_table_iter_next (&it, &k, &v))
        {
          GPtrArray *a = v;
          if (a->len == 2 && g_strcmp0 (g_ptr_array_index (a, 0), "pprof_inlined_wait") == 0
              && g_strcmp0 (g_ptr_array_index (a, 1), "pprof_outer_poll") == 0)
            inlined_pair = TRUE;
        }
      g_assert_true (inlined_pair);
      g_free (fns);
      const Sample *other = find_sample (r, "tenant:[other]");
      g_assert_cmpint (other->count, ==, 2);
      const Sample *beta = find_sample (r, "task_name:[beta]");
      g_assert_cmpint (beta->count, ==, 3);
      fns = functions_of (r, beta);
      g_assert_true (g_str_has_prefix (fns, "asyncrt_notified_poll;pprof_other_poll"));
      g_free (fns);
      char *rt_label = g_strdup_printf ("runtime:[%s]", asyncrt_dump_get_runtime_name (d));
      g_assert_nonnull (strstr (beta->labels, rt_label));
      g_free (rt_label);
      /* The unnamed task: no task_name label. */
      const Sample *unnamed = NULL;
      for (guint i = 0; i < r->samples->len; i++)
        {
          const Sample *s = g_ptr_array_index (r->samples, i);
          if (strstr (s->labels, "task_name:") == NULL)
            unnamed = s;
        }
      g_assert_nonnull (unnamed);
      g_assert_cmpint (unnamed->count, ==, 1);

      /* Mappings: this program, symbolised, with its build id. */
      char *exe = g_file_read_link ("/proc/self/exe", NULL);
      g_assert_nonnull (strstr (r->mappings, exe));
      g_assert_nonnull (strstr (r->mappings, "[FN][FL][LN][IN]"));
      char *id = own_build_id ();
      if (id != NULL && *id != '\0')
        {
          char *want = g_strdup_printf ("%s %s", exe, id);
          g_assert_nonnull (strstr (r->mappings, want));
          g_free (want);
        }
      g_free (id);
      g_free (exe);
      raw_free (r);
      g_free (raw);

      /* -traces agrees: every function name there, inlined ones included. */
      char *traces = run_pprof (go, dir, "-traces", path);
      g_assert_nonnull (strstr (traces, "pprof_inlined_wait"));
      g_assert_nonnull (strstr (traces, "pprof_outer_poll"));
      g_assert_nonnull (strstr (traces, "pprof_other_poll"));
      g_free (traces);
      g_free (go);
    }
  char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (cmd);
  g_free (path);
  g_free (dir);
  asyncrt_dump_free (d);
  asyncrt_runtime_free (rt);
  asyncrt_notify_clear (&never);
}

static void
test_errors (void)
{
  AsyncrtRuntime *rt = new_runtime ();
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (asyncrt_runtime_get_handle (rt), 0, &d), ==, 0);
  g_assert_cmpint (asyncrt_dump_write_pprof (NULL, 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_write_pprof (d, -1), ==, -EINVAL);
  int p[2];
  g_assert_cmpint (pipe (p), ==, 0);
  close (p[1]);
  g_assert_cmpint (asyncrt_dump_write_pprof (d, p[1]), ==, -EBADF);     /* closed */
  g_assert_cmpint (pipe (p + 0), ==, 0);
  close (p[0]);
  signal (SIGPIPE, SIG_IGN);
  g_assert_cmpint (asyncrt_dump_write_pprof (d, p[1]), ==, -EPIPE);     /* no reader */
  close (p[1]);
  int ro = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (asyncrt_dump_write_pprof (d, ro), ==, -EBADF);       /* not writable */
  close (ro);
  /* An empty runtime: still a valid profile. */
  int null = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (asyncrt_dump_write_pprof (d, null), ==, 0);
  close (null);
  asyncrt_dump_free (d);
  asyncrt_runtime_free (rt);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const FlavourTest tests[] = {
    { "read-back", test_read_back },
  };
  flavour_add_tests ("dump-pprof", tests, G_N_ELEMENTS (tests));
  g_test_add_func ("/dump-pprof/errors", test_errors);
  return g_test_run ();
}
