/* The run-time version calls agree with the headers' version macros. */
#include <asyncrt/asyncrt.h>
#include <glib.h>

static void
test_version_matches_headers (void)
{
  g_assert_cmpuint (asyncrt_get_major_version (), ==, ASYNCRT_MAJOR_VERSION);
  g_assert_cmpuint (asyncrt_get_minor_version (), ==, ASYNCRT_MINOR_VERSION);
  g_assert_cmpuint (asyncrt_get_micro_version (), ==, ASYNCRT_MICRO_VERSION);
  g_assert_true (ASYNCRT_CHECK_VERSION (0, 2, 0));
  g_assert_false (ASYNCRT_CHECK_VERSION (ASYNCRT_MAJOR_VERSION + 1, 0, 0));
}

static void
test_check_version (void)
{
  g_assert_null (asyncrt_check_version (ASYNCRT_MAJOR_VERSION, ASYNCRT_MINOR_VERSION,
                                        ASYNCRT_MICRO_VERSION));
  g_assert_null (asyncrt_check_version (ASYNCRT_MAJOR_VERSION, 0, 0));
  /* Newer than the library: refused, with a reason. */
  g_assert_nonnull (asyncrt_check_version (ASYNCRT_MAJOR_VERSION,
                                           ASYNCRT_MINOR_VERSION + 1, 0));
  g_assert_nonnull (asyncrt_check_version (ASYNCRT_MAJOR_VERSION, ASYNCRT_MINOR_VERSION,
                                           ASYNCRT_MICRO_VERSION + 1));
  /* Another major version is incompatible either way. */
  g_assert_nonnull (asyncrt_check_version (ASYNCRT_MAJOR_VERSION + 1, 0, 0));
  if (ASYNCRT_MAJOR_VERSION > 0)
    g_assert_nonnull (asyncrt_check_version (ASYNCRT_MAJOR_VERSION - 1, 0, 0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/version/matches-headers", test_version_matches_headers);
  g_test_add_func ("/version/check", test_check_version);
  return g_test_run ();
}
