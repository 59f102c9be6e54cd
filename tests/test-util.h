/* Shared helpers for the test programs. */
#ifndef ASYNCRT_TEST_UTIL_H
#define ASYNCRT_TEST_UTIL_H

#include <glib.h>
#include <stdlib.h>

/* Multiplier for every timeout in the tests: ASYNCRT_TEST_TIMEOUT_SCALE (default 1;
 * sanitizer and valgrind runs set it higher). */
static inline unsigned
test_timeout_scale (void)
{
  const char *s = g_getenv ("ASYNCRT_TEST_TIMEOUT_SCALE");
  long v = s != NULL ? strtol (s, NULL, 10) : 1;
  return v > 0 ? (unsigned) v : 1u;
}

static inline unsigned
test_timeout_ms (unsigned base_ms)
{
  return base_ms * test_timeout_scale ();
}

#endif
