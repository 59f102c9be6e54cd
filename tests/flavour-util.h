/* Helpers for tests that run every case on both schedulers: a runtime of the flavour
 * under test (the multi-thread one with 4 workers, so tasks really run in parallel),
 * a yield for coroutines, and the registration of "/prefix/current-thread/name" and
 * "/prefix/multi-thread/name" cases. */
#ifndef ASYNCRT_FLAVOUR_UTIL_H
#define ASYNCRT_FLAVOUR_UTIL_H

#include <asyncrt/asyncrt.h>
#include <glib.h>

#include "test-util.h"

/* Yield to the scheduler: wake ourselves, return PENDING once. */
#define YIELD(co, cx)                                                        \
  do                                                                         \
    {                                                                        \
      asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));            \
      ASYNCRT_YIELD_PENDING (co);                                            \
    }                                                                        \
  while (0)

/* In a coroutine: awaits until @cond holds or @ms (scaled) have passed, sleeping
 * 1 ms between checks.  @sleep (an AsyncrtSleep *) and @deadline (a gint64) live in
 * the future's state.  Check @cond again afterwards. */
#define AWAIT_UNTIL(co, cx, sleep, deadline, ms, cond)                                 \
  do                                                                                   \
    {                                                                                  \
      (deadline) = g_get_monotonic_time () + (gint64) test_timeout_ms (ms) * 1000;     \
      while (!(cond) && g_get_monotonic_time () < (deadline))                          \
        {                                                                              \
          asyncrt_sleep_init ((sleep), 1);                                             \
          ASYNCRT_AWAIT ((co), asyncrt_sleep_poll ((sleep), (cx)));                    \
          asyncrt_sleep_clear (sleep);                                                 \
        }                                                                              \
    }                                                                                  \
  while (0)

/* The flavour of the running case. */
static gboolean multi_flavour;

static inline AsyncrtRuntime *
new_runtime (void)
{
  AsyncrtBuilder *b = multi_flavour ? asyncrt_builder_new_multi_thread ()
                                    : asyncrt_builder_new_current_thread ();
  g_assert_nonnull (b);
  if (multi_flavour)
    g_assert_cmpint (asyncrt_builder_set_worker_threads (b, 4), ==, 0);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  return rt;
}

/* Runs @poll on a fresh runtime of the case's flavour until it is ready. */
static inline void
run_on_new_runtime (AsyncrtPollFunc poll, void *future)
{
  AsyncrtRuntime *rt = new_runtime ();
  g_assert_cmpint (asyncrt_runtime_block_on (rt, poll, future), ==, 0);
  asyncrt_runtime_free (rt);
}

typedef struct
{
  const char *name;
  GTestFunc func;
} FlavourTest;

typedef struct
{
  gboolean multi;
  GTestFunc func;
} FlavourCase;

static void
flavour_case_run (gconstpointer data)
{
  const FlavourCase *c = data;
  multi_flavour = c->multi;
  c->func ();
}

/* Adds every test twice, "/@prefix/current-thread/name" and
 * "/@prefix/multi-thread/name".  The cases live as long as the program. */
static FlavourCase *flavour_cases;     /* kept reachable for leak checkers */

static void
flavour_add_tests (const char *prefix, const FlavourTest *tests, size_t n)
{
  g_assert_null (flavour_cases);
  FlavourCase *cases = flavour_cases = g_new (FlavourCase, 2 * n);
  for (size_t i = 0; i < n; i++)
    for (int multi = 0; multi < 2; multi++)
      {
        FlavourCase *c = &cases[2 * i + (size_t) multi];
        c->multi = multi;
        c->func = tests[i].func;
        char *path = g_strdup_printf ("/%s/%s/%s", prefix,
                                      multi ? "multi-thread" : "current-thread", tests[i].name);
        g_test_add_data_func (path, c, flavour_case_run);
        g_free (path);
      }
}

#endif
