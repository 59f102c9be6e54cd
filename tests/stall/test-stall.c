/* The stall detector through the public API, on both schedulers, at -O2 -g: a task
 * spinning in a CPU loop is reported within about the threshold, once per stall, with
 * the native stack of its thread; the rate limit; reports on stderr
 * (ASYNCRT_STALL_MS) with every program-supplied string escaped; hostile values of
 * the variable; no watchdog thread when the detector is off.  Timings are asserted
 * generously (scaled by ASYNCRT_TEST_TIMEOUT_SCALE): they check the mechanism, not
 * the machine. */
#include <asyncrt/asyncrt.h>

#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flavour-util.h"
#include "harness-util.h"

#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif

/* ---- what the callback saw ----------------------------------------------------------- */

typedef struct
{
  AsyncrtTaskId id;
  char *name;
  int worker;
  uint64_t duration_ns;
  AsyncrtNativeStackStatus native;
  bool names_loop;
  bool ends_at_poll;
  uint64_t suppressed;
  gint64 when_us;
  char *text;
} Report;

/* A pthread mutex, not a GMutex: ThreadSanitizer does not see GLib's futexes. */
typedef struct
{
  pthread_mutex_t lock;
  GArray *reports;          /* Report */
} Reports;

static bool
stack_has (const AsyncrtTrace *tr, const char *needle)
{
  const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (tr, 0);
  for (size_t i = 0; i < asyncrt_backtrace_get_n_frames (bt); i++)
    {
      const AsyncrtBacktraceFrame *f = asyncrt_backtrace_get_frame (bt, i);
      for (size_t k = 0; k < asyncrt_backtrace_frame_get_n_symbols (f); k++)
        if (strstr (asyncrt_backtrace_symbol_get_name (asyncrt_backtrace_frame_get_symbol (f, k)),
                    needle) != NULL)
          return true;
    }
  return false;
}

static void
on_stall (const AsyncrtStall *stall, void *user_data)
{
  Reports *r = user_data;
  Report rep = { 0 };
  rep.when_us = g_get_monotonic_time ();
  rep.id = asyncrt_stall_get_task_id (stall);
  rep.name = g_strdup (asyncrt_stall_get_task_name (stall));
  rep.worker = asyncrt_stall_get_worker (stall);
  rep.duration_ns = asyncrt_stall_get_duration_ns (stall);
  rep.native = asyncrt_stall_get_native_stack_status (stall);
  rep.suppressed = asyncrt_stall_get_n_suppressed (stall);
  const AsyncrtTrace *tr = asyncrt_stall_get_trace (stall);
  if (tr != NULL)
    {
      rep.names_loop = stack_has (tr, "sampled_stall_loop");
      const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (tr, 0);
      size_t n = asyncrt_backtrace_get_n_frames (bt);
      const AsyncrtBacktraceFrame *outer = asyncrt_backtrace_get_frame (bt, n - 1);
      const char *outer_name = asyncrt_backtrace_symbol_get_name (
        asyncrt_backtrace_frame_get_symbol (outer, asyncrt_backtrace_frame_get_n_symbols (outer) - 1));
      rep.ends_at_poll = strcmp (outer_name, "staller_poll") == 0;
    }
  char *text = asyncrt_stall_to_string (stall);
  rep.text = g_strdup (text);
  free (text);
  pthread_mutex_lock (&r->lock);
  g_array_append_val (r->reports, rep);
  pthread_mutex_unlock (&r->lock);
}

static void
reports_init (Reports *r)
{
  pthread_mutex_init (&r->lock, NULL);
  r->reports = g_array_new (FALSE, TRUE, sizeof (Report));
}

static void
reports_clear (Reports *r)
{
  for (guint i = 0; i < r->reports->len; i++)
    {
      g_free (g_array_index (r->reports, Report, i).name);
      g_free (g_array_index (r->reports, Report, i).text);
    }
  g_array_free (r->reports, TRUE);
  pthread_mutex_destroy (&r->lock);
}

static guint
reports_len (Reports *r)
{
  pthread_mutex_lock (&r->lock);
  guint n = r->reports->len;
  pthread_mutex_unlock (&r->lock);
  return n;
}

/* ---- the stalling task: @n_polls polls, each spinning @spin_ms in a loop ---------------- */

typedef struct
{
  AsyncrtCoroutine co;
  unsigned n_polls;
  unsigned spin_ms;
  unsigned done_polls;
  gint64 poll_start_us[64];
} Staller;

__attribute__((noinline)) static void
sampled_stall_loop (gint64 until_us)
{
  while (g_get_monotonic_time () < until_us)
    __asm__ volatile ("" ::: "memory");
}

__attribute__((noinline)) static AsyncrtPoll
staller_poll (void *p, AsyncrtContext *cx)
{
  Staller *s = p;
  gint64 now = g_get_monotonic_time ();
  s->poll_start_us[s->done_polls] = now;
  sampled_stall_loop (now + (gint64) s->spin_ms * 1000);
  if (++s->done_polls == s->n_polls)
    return ASYNCRT_READY;
  asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));   /* a new poll */
  __asm__ volatile ("" ::: "memory");
  return ASYNCRT_PENDING;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void
test_spin_reported_once (void)
{
  Reports r;
  reports_init (&r);
  const unsigned threshold = 100;
  AsyncrtBuilder *b = new_builder ();
  g_assert_cmpint (asyncrt_builder_set_stall_detector (b, threshold, on_stall, &r), ==, 0);
  Harness hs;
  harness_start_with (&hs, b);

  /* One poll spinning four thresholds long: one stall, one report. */
  Staller s = { .n_polls = 1, .spin_ms = 4 * threshold * test_timeout_scale () };
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_named (hs.h, "spinner", staller_poll, &s, NULL);
  wait_finished (jh);
  AsyncrtTaskId id = asyncrt_join_handle_get_id (jh);
  asyncrt_join_handle_free (jh);

  g_assert_cmpuint (reports_len (&r), ==, 1);
  Report *rep = &g_array_index (r.reports, Report, 0);
  g_test_message ("%s", rep->text);
  g_assert_cmpuint (rep->id, ==, id);
  g_assert_cmpstr (rep->name, ==, "spinner");
  g_assert_cmpint (rep->worker, >=, 0);
  g_assert_cmpint (rep->worker, <, multi_flavour ? 2 : 1);
  gint64 delay_ms = (rep->when_us - s.poll_start_us[0]) / 1000;
  g_test_message ("reported %" G_GINT64_FORMAT " ms after the poll started (threshold %u ms)",
                  delay_ms, threshold);
  /* Never before the threshold, and within about threshold + 50 ms. */
  g_assert_cmpint (delay_ms, >=, (gint64) threshold);
  g_assert_cmpint (delay_ms, <=, (gint64) threshold + (gint64) test_timeout_ms (50));
  g_assert_cmpuint (rep->duration_ns, >=, (uint64_t) threshold * 1000000u);
  g_assert_cmpuint (rep->suppressed, ==, 0);
  g_assert_cmpint (rep->native, ==, ASYNCRT_NATIVE_STACK_OK);
  g_assert_true (rep->names_loop);
  g_assert_true (rep->ends_at_poll);
  g_assert_nonnull (strstr (rep->text, "asyncrt: stall: task "));
  g_assert_nonnull (strstr (rep->text, "\"spinner\" has been running for "));
  g_assert_nonnull (strstr (rep->text, "— native stack:\n"));
  g_assert_nonnull (strstr (rep->text, "sampled_stall_loop"));

  uint64_t detected = 99, reported = 99;
  g_assert_cmpint (asyncrt_runtime_get_stall_counts (hs.rt, &detected, &reported), ==, 0);
  g_assert_cmpuint (detected, ==, 1);
  g_assert_cmpuint (reported, ==, 1);

  /* The same task stalling again, in two more polls: two new stalls. */
  Staller s2 = { .n_polls = 2, .spin_ms = 3 * threshold * test_timeout_scale () };
  jh = asyncrt_handle_spawn_named (hs.h, "spinner", staller_poll, &s2, NULL);
  wait_finished (jh);
  asyncrt_join_handle_free (jh);
  g_assert_cmpuint (reports_len (&r), ==, 3);
  g_assert_cmpint (asyncrt_runtime_get_stall_counts (hs.rt, &detected, NULL), ==, 0);
  g_assert_cmpuint (detected, ==, 3);

  harness_stop (&hs);
  reports_clear (&r);
}

static void
test_rate_limit (void)
{
  Reports r;
  reports_init (&r);
  const unsigned threshold = 20;
  AsyncrtBuilder *b = new_builder ();
  g_assert_cmpint (asyncrt_builder_set_stall_detector (b, threshold, on_stall, &r), ==, 0);
  Harness hs;
  harness_start_with (&hs, b);

  /* 20 polls each stalling four thresholds: more stalls than the burst allows. */
  Staller s = { .n_polls = 20, .spin_ms = 4 * threshold * test_timeout_scale () };
  gint64 t0 = g_get_monotonic_time ();
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_named (hs.h, "burst", staller_poll, &s, NULL);
  wait_finished (jh);
  asyncrt_join_handle_free (jh);
  double elapsed_s = (double) (g_get_monotonic_time () - t0) / 1e6;

  uint64_t detected = 0, reported = 0;
  g_assert_cmpint (asyncrt_runtime_get_stall_counts (hs.rt, &detected, &reported), ==, 0);
  g_test_message ("%" G_GUINT64_FORMAT " stalls detected, %" G_GUINT64_FORMAT
                  " reported, in %.2f s", detected, reported, elapsed_s);
  g_assert_cmpuint (reported, ==, reports_len (&r));
  g_assert_cmpuint (detected, <=, 20);
  g_assert_cmpuint (detected, >=, 14);       /* most of them are noticed */
  /* A burst of 10, then one per second. */
  g_assert_cmpuint (reported, <=, 10 + (uint64_t) elapsed_s + 1);
  g_assert_cmpuint (reported, <, detected);
  /* Each report says how many were left out before it; the rest are still pending. */
  uint64_t left_out = 0;
  for (guint i = 0; i < r.reports->len; i++)
    left_out += g_array_index (r.reports, Report, i).suppressed;
  g_assert_cmpuint (left_out, <=, detected - reported);

  harness_stop (&hs);
  reports_clear (&r);
}

/* Whether a thread named like the watchdog exists in this process. */
static bool
has_watchdog_thread (void)
{
  DIR *dir = opendir ("/proc/self/task");
  g_assert_nonnull (dir);
  bool found = false;
  struct dirent *e;
  while ((e = readdir (dir)) != NULL && !found)
    {
      if (e->d_name[0] == '.')
        continue;
      char path[300], comm[64] = "";
      snprintf (path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
      FILE *f = fopen (path, "r");
      if (f == NULL)
        continue;
      if (fgets (comm, sizeof comm, f) != NULL && strncmp (comm, "asyncrt-watchdo", 15) == 0)
        found = true;
      fclose (f);
    }
  closedir (dir);
  return found;
}

/* The watchdog names itself as it starts: give it the time. */
static bool
watchdog_thread_appears (void)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
  while (!has_watchdog_thread ())
    {
      if (g_get_monotonic_time () > deadline)
        return false;
      g_usleep (1000);
    }
  return true;
}

static void
test_off_costs_no_thread (void)
{
  if (g_test_subprocess ())
    {
      /* In a fresh process, without ASYNCRT_STALL_MS: no watchdog, counts 0. */
      Harness hs;
      harness_start_with (&hs, new_builder ());
      g_assert_false (has_watchdog_thread ());
      uint64_t detected = 9, reported = 9;
      g_assert_cmpint (asyncrt_runtime_get_stall_counts (hs.rt, &detected, &reported), ==, 0);
      g_assert_cmpuint (detected, ==, 0);
      g_assert_cmpuint (reported, ==, 0);
      harness_stop (&hs);

      /* With one: its thread, gone again after the runtime. */
      AsyncrtBuilder *b = new_builder ();
      g_assert_cmpint (asyncrt_builder_set_stall_detector (b, 1000, NULL, NULL), ==, 0);
      harness_start_with (&hs, b);
      g_assert_true (watchdog_thread_appears ());
      harness_stop (&hs);
      g_assert_false (has_watchdog_thread ());

      /* Turned off by the builder although the environment asks for one. */
      g_setenv ("ASYNCRT_STALL_MS", "50", TRUE);
      b = new_builder ();
      g_assert_cmpint (asyncrt_builder_set_stall_detector (b, 0, on_stall, NULL), ==, 0);
      harness_start_with (&hs, b);
      g_assert_false (has_watchdog_thread ());
      harness_stop (&hs);
      /* And on through the environment alone. */
      harness_start_with (&hs, new_builder ());
      g_assert_true (watchdog_thread_appears ());
      harness_stop (&hs);
      return;
    }
  char *path = g_strdup_printf ("/stall/%s/off", multi_flavour ? "multi-thread" : "current-thread");
  g_unsetenv ("ASYNCRT_STALL_MS");
  g_test_trap_subprocess (path, (guint64) test_timeout_ms (20000) * 1000, 0);
  g_free (path);
  g_test_trap_assert_passed ();
}

/* In a subprocess, with ASYNCRT_STALL_MS set by the parent: a task with a hostile name
 * stalls (reports go to stderr, escaped), or nothing does (a bad value). */
static void
stderr_child (void)
{
  Harness hs;
  harness_start_with (&hs, new_builder ());
  Staller s = { .n_polls = 1, .spin_ms = 300 * test_timeout_scale () };
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_named (hs.h, "evil\n\x1b[2Jname\xff", staller_poll,
                                                      &s, NULL);
  wait_finished (jh);
  asyncrt_join_handle_free (jh);
  uint64_t reported = 0;
  asyncrt_runtime_get_stall_counts (hs.rt, NULL, &reported);
  printf ("reported %" G_GUINT64_FORMAT "\n", reported);
  harness_stop (&hs);
}

static void
test_stderr_and_env (void)
{
  if (g_test_subprocess ())
    {
      stderr_child ();
      return;
    }
  char *path = g_strdup_printf ("/stall/%s/stderr-and-env",
                                multi_flavour ? "multi-thread" : "current-thread");
  g_setenv ("ASYNCRT_STALL_MS", "50", TRUE);
  g_test_trap_subprocess (path, (guint64) test_timeout_ms (20000) * 1000, 0);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*reported 1*");
  g_test_trap_assert_stderr ("*asyncrt: stall: task * \"evil\\n\\x1b[2Jname\xef\xbf\xbd\" "
                             "has been running for *");
  g_test_trap_assert_stderr_unmatched ("*\x1b*");
#ifndef TEST_TSAN
  g_test_trap_assert_stderr ("*sampled_stall_loop*");
#endif

  const char *bad[] = { "abc", "-5", "10ms", "99999999999", "3600001", " 50", "5\n0" };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_setenv ("ASYNCRT_STALL_MS", bad[i], TRUE);
      g_test_trap_subprocess (path, (guint64) test_timeout_ms (20000) * 1000, 0);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stdout ("*reported 0*");
      g_test_trap_assert_stderr ("*asyncrt: ignoring ASYNCRT_STALL_MS=*no stall detector*");
      g_test_trap_assert_stderr_unmatched ("*asyncrt: stall:*");
    }
  const char *off[] = { "", "0" };
  for (size_t i = 0; i < G_N_ELEMENTS (off); i++)
    {
      g_setenv ("ASYNCRT_STALL_MS", off[i], TRUE);
      g_test_trap_subprocess (path, (guint64) test_timeout_ms (20000) * 1000, 0);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stdout ("*reported 0*");
      g_test_trap_assert_stderr_unmatched ("*ASYNCRT_STALL_MS*");
    }
  g_unsetenv ("ASYNCRT_STALL_MS");
  g_free (path);
}

/* The stall function frees the runtime (multi-thread: no thread of the program is in
 * block_on): the free waits for the stalled poll, not for the watchdog itself. */
typedef struct
{
  AsyncrtRuntime *rt;
  atomic_bool freed;
} FreeFromStall;

static void
free_on_stall (const AsyncrtStall *stall, void *user_data)
{
  (void) stall;
  FreeFromStall *f = user_data;
  if (atomic_load (&f->freed))
    return;
  asyncrt_runtime_free (f->rt);
  atomic_store (&f->freed, true);
}

static void
test_free_from_stall_function (void)
{
  FreeFromStall f = { 0 };
  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  g_assert_cmpint (asyncrt_builder_set_worker_threads (b, 2), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_stall_detector (b, 50, free_on_stall, &f), ==, 0);
  g_assert_cmpint (asyncrt_builder_build (b, &f.rt), ==, 0);
  asyncrt_builder_free (b);
  Staller s = { .n_polls = 1, .spin_ms = 200 };
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (asyncrt_runtime_get_handle (f.rt), staller_poll,
                                                &s, NULL);
  asyncrt_join_handle_free (jh);
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (!atomic_load (&f.freed) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_true (atomic_load (&f.freed));
  g_assert_cmpuint (s.done_polls, ==, 1);
  /* Give the detached watchdog the time to drop the last reference (ASan/valgrind
   * would see a leak otherwise). */
  g_usleep (50000);
}

static void
test_api_errors (void)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  g_assert_cmpint (asyncrt_builder_set_stall_detector (NULL, 100, NULL, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_stall_detector (b, 3600001, NULL, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_stall_detector (b, 3600000, NULL, NULL), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_stall_detector (b, 0, on_stall, NULL), ==, 0);
  asyncrt_builder_free (b);
  uint64_t n = 7;
  g_assert_cmpint (asyncrt_runtime_get_stall_counts (NULL, &n, &n), ==, -EINVAL);
  g_assert_cmpuint (n, ==, 7);
  g_assert_cmpuint (asyncrt_stall_get_task_id (NULL), ==, 0);
  g_assert_null (asyncrt_stall_get_task_name (NULL));
  g_assert_cmpint (asyncrt_stall_get_worker (NULL), ==, -1);
  g_assert_cmpuint (asyncrt_stall_get_duration_ns (NULL), ==, 0);
  g_assert_null (asyncrt_stall_get_trace (NULL));
  g_assert_cmpint (asyncrt_stall_get_native_stack_status (NULL), ==,
                   ASYNCRT_NATIVE_STACK_NOT_SAMPLED);
  g_assert_cmpuint (asyncrt_stall_get_n_suppressed (NULL), ==, 0);
  g_assert_null (asyncrt_stall_to_string (NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const FlavourTest tests[] = {
    { "spin-reported-once", test_spin_reported_once },
    { "rate-limit", test_rate_limit },
    { "off", test_off_costs_no_thread },
    { "stderr-and-env", test_stderr_and_env },
  };
  flavour_add_tests ("stall", tests, G_N_ELEMENTS (tests));
  g_test_add_func ("/stall/api-errors", test_api_errors);
  g_test_add_func ("/stall/multi-thread/free-from-stall-function", test_free_from_stall_function);
  return g_test_run ();
}
