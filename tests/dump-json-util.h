/* Every JSON dump a test program makes is validated against the installed schema
 * (data/dump-schema-2.json) by tests/validate-dump-json.py, which also checks every
 * index and cross-reference.
 *
 *   char *json = test_dump_json (dump, flags);   // asyncrt_dump_format (…JSON…) + record
 *   test_dump_json_record (json);                // a dump made elsewhere (endpoint)
 *   ...
 *   test_dump_json_add_check ();                 // in main(), after every other test
 *
 * Records are files in a directory of this process (made on first use, removed by
 * the check).  The check is one test case, "/json-schema/every-dump": it fails if
 * any recorded dump is invalid, and is skipped (with the reason) when
 * python3-jsonschema is not installed or no dump was made (a single test run with
 * -p).  Thread-safe: tests record from
 * several threads. */
#ifndef ASYNCRT_DUMP_JSON_UTIL_H
#define ASYNCRT_DUMP_JSON_UTIL_H

#include <asyncrt/asyncrt.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* A pthread mutex: ThreadSanitizer does not see GMutex (futexes). */
static pthread_mutex_t test_json_lock = PTHREAD_MUTEX_INITIALIZER;
static char *test_json_dir;
static unsigned test_json_count;

static inline void
test_dump_json_record (const char *json)
{
  g_assert_nonnull (json);
  pthread_mutex_lock (&test_json_lock);
  if (test_json_dir == NULL)
    {
      GError *error = NULL;
      test_json_dir = g_dir_make_tmp ("asyncrt-dumps-XXXXXX", &error);
      g_assert_no_error (error);
    }
  char *path = g_strdup_printf ("%s/dump-%04u.json", test_json_dir, test_json_count++);
  GError *error = NULL;
  g_file_set_contents (path, json, -1, &error);
  g_assert_no_error (error);
  g_free (path);
  pthread_mutex_unlock (&test_json_lock);
}

/* Formats @d as JSON (asyncrt_dump_format), records it, returns it (free()). */
static inline char *
test_dump_json (AsyncrtDump *d, unsigned flags)
{
  char *json = asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_JSON, flags);
  test_dump_json_record (json);
  return json;
}

static void
test_dump_json_remove (char *dir, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    {
      char *path = g_strdup_printf ("%s/dump-%04u.json", dir, i);
      g_unlink (path);
      g_free (path);
    }
  g_rmdir (dir);
  g_free (dir);
}

static void
test_dump_json_check (void)
{
  pthread_mutex_lock (&test_json_lock);
  char *dir = test_json_dir;
  unsigned n = test_json_count;
  test_json_dir = NULL;
  test_json_count = 0;
  pthread_mutex_unlock (&test_json_lock);
  if (dir == NULL)
    {
      g_test_skip ("no JSON dump was made (a test selected with -p?)");
      return;
    }
  char *python = g_find_program_in_path ("python3");
  if (python == NULL)
    {
      test_dump_json_remove (dir, n);
      g_test_skip ("python3 is not installed");
      return;
    }
  /* The source tree's tests/ (G_TEST_SRCDIR) and data/, or the installed tests'
   * directory and the schema libasyncrt-dev installs. */
  char *script = g_test_build_filename (G_TEST_DIST, "validate-dump-json.py", NULL);
  char *schema = g_test_build_filename (G_TEST_DIST, "..", "data", "dump-schema-2.json", NULL);
#ifdef ASYNCRT_INSTALLED_SCHEMA
  if (!g_file_test (schema, G_FILE_TEST_EXISTS))
    {
      g_free (schema);
      schema = g_strdup (ASYNCRT_INSTALLED_SCHEMA);
    }
#endif
  if (!g_file_test (schema, G_FILE_TEST_EXISTS))
    {
      test_dump_json_remove (dir, n);
      g_test_skip ("the schema dump-schema-2.json is not installed (libasyncrt-dev)");
      g_free (python);
      g_free (script);
      g_free (schema);
      return;
    }
  if (!g_file_test (script, G_FILE_TEST_EXISTS))
    {
      test_dump_json_remove (dir, n);
      g_test_skip ("tests/validate-dump-json.py not found (run under make check, which sets "
                   "G_TEST_SRCDIR, or as an installed test)");
      g_free (python);
      g_free (script);
      g_free (schema);
      return;
    }
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, python);
  g_ptr_array_add (argv, script);
  g_ptr_array_add (argv, schema);
  for (unsigned i = 0; i < n; i++)
    g_ptr_array_add (argv, g_strdup_printf ("%s/dump-%04u.json", dir, i));
  g_ptr_array_add (argv, NULL);
  char *out = NULL, *err = NULL;
  int status = 0;
  GError *error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("%s%s", out, err);
  test_dump_json_remove (dir, n);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 77)
    g_test_skip ("python3-jsonschema is not installed");
  else
    {
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        g_printerr ("%s%s", out, err);
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 0);
    }
  g_free (out);
  g_free (err);
  g_ptr_array_unref (argv);
}

/* Last in main(): GTest runs test cases in the order they were added. */
static inline void
test_dump_json_add_check (void)
{
  g_test_add_func ("/json-schema/every-dump", test_dump_json_check);
}

#endif
