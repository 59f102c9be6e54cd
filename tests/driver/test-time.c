/* Time driver tests: sleeps, yields and timeouts driven by hand (no runtime). */
#include "driver-test-util.h"

#include <glib.h>

static void
test_sleep_fires_not_early (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtSleep s;
  gint64 t0 = g_get_monotonic_time ();
  asyncrt_sleep_init (&s, 30);
  g_assert_cmpuint (asyncrt_sleep_get_deadline (&s), >=, asyncrt_time_now_ms () + 29);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_PENDING);  /* waker kept once */
  g_assert_cmpint (cw_refs (&c), ==, 2);
  g_assert_true (park_until_woken (fx.driver, &c, 1, 5000));
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 30000);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_READY);    /* stays ready */
  g_assert_cmpint (cw_wakes (&c), ==, 1);
  asyncrt_sleep_clear (&s);
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  driver_fixture_teardown (&fx);
}

static void
test_sleep_zero (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtSleep s;
  asyncrt_sleep_init (&s, 0);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_READY);
  asyncrt_sleep_init_until (&s, 1);         /* long past */
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_READY);
  g_assert_cmpint (cw_wakes (&c), ==, 0);
  g_assert_cmpint (cw_refs (&c), ==, 1);
  asyncrt_context_free (cx);
  driver_fixture_teardown (&fx);
}

/* Wakers that record the order in which they were woken. */
typedef struct
{
  int idx;
  uint64_t deadline;
  uint64_t woken_at;
  GArray *order;
} Rec;

static void *rec_clone (void *d) { return d; }
static void rec_wake (void *d)
{
  Rec *r = d;
  r->woken_at = asyncrt_time_now_ms ();
  g_array_append_val (r->order, r->idx);
}
static void rec_drop (void *d) { (void) d; }
static const AsyncrtWakerVTable rec_vtable = { rec_clone, rec_wake, rec_wake, rec_drop };

static void
test_sleeps_in_order (void)
{
  enum { N = 40 };
  DriverFixture fx;
  driver_fixture_setup (&fx);
  GArray *order = g_array_new (FALSE, FALSE, sizeof (int));
  AsyncrtSleep s[N];
  Rec rec[N];
  AsyncrtContext *cx[N];
  /* Far enough out that setting up (slow under valgrind) ends before the first. */
  uint64_t now = asyncrt_time_now_ms () + test_timeout_ms (50);
  for (int i = 0; i < N; i++)
    {
      /* Deadlines scrambled, 5..200 ms apart, some equal. */
      int k = (i * 17) % N;
      rec[i] = (Rec) { i, now + 5 + (uint64_t) (k / 2) * 10, 0, order };
      AsyncrtWaker w;
      asyncrt_waker_init (&w, &rec_vtable, &rec[i]);
      cx[i] = asyncrt_context_new (&w);
      asyncrt_sleep_init_until (&s[i], rec[i].deadline);
      g_assert_cmpint (asyncrt_sleep_poll (&s[i], cx[i]), ==, ASYNCRT_PENDING);
    }
  gint64 end = g_get_monotonic_time () + test_timeout_ms (5000) * 1000;
  while (order->len < N && g_get_monotonic_time () < end)
    asyncrt__driver_park (fx.driver, 100);
  g_assert_cmpuint (order->len, ==, N);
  for (unsigned j = 0; j < N; j++)
    {
      Rec *r = &rec[g_array_index (order, int, j)];
      g_assert_cmpuint (r->woken_at, >=, r->deadline);
      if (j > 0)
        g_assert_cmpuint (rec[g_array_index (order, int, j - 1)].deadline, <=, r->deadline);
    }
  for (int i = 0; i < N; i++)
    {
      g_assert_cmpint (asyncrt_sleep_poll (&s[i], cx[i]), ==, ASYNCRT_READY);
      asyncrt_context_free (cx[i]);
    }
  g_array_unref (order);
  driver_fixture_teardown (&fx);
}

static void
test_sleep_clear_and_reset (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtSleep s;
  asyncrt_sleep_init (&s, 10);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_PENDING);
  asyncrt_sleep_clear (&s);
  asyncrt_sleep_clear (&s);                 /* idempotent */
  g_assert_cmpint (cw_refs (&c), ==, 1);
  asyncrt__driver_park (fx.driver, 40);
  g_assert_cmpint (cw_wakes (&c), ==, 0);   /* a cleared sleep is never woken */

  /* Reset a pending sleep to a shorter deadline; then a finished one again. */
  asyncrt_sleep_init (&s, 100000);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_PENDING);
  gint64 t0 = g_get_monotonic_time ();
  asyncrt_sleep_reset (&s, 20);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_PENDING);
  g_assert_true (park_until_woken (fx.driver, &c, 1, 5000));
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 20000);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_READY);
  asyncrt_sleep_reset (&s, 5);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_PENDING);
  g_assert_true (park_until_woken (fx.driver, &c, 2, 5000));
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_READY);
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  driver_fixture_teardown (&fx);
}

static void
test_sleep_shutdown (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtSleep pending, late;
  asyncrt_sleep_init_until (&pending, ASYNCRT_TIME_FOREVER);
  g_assert_cmpint (asyncrt_sleep_poll (&pending, cx), ==, ASYNCRT_PENDING);
  asyncrt__driver_shutdown (fx.driver);
  g_assert_true (asyncrt__driver_is_shutdown (fx.driver));
  g_assert_cmpint (cw_wakes (&c), ==, 1);
  g_assert_cmpint (asyncrt_sleep_poll (&pending, cx), ==, ASYNCRT_READY);
  /* A sleep first polled after shutdown completes at once. */
  asyncrt_sleep_init (&late, 100000);
  g_assert_cmpint (asyncrt_sleep_poll (&late, cx), ==, ASYNCRT_READY);
  /* park() after shutdown returns at once. */
  asyncrt__driver_park (fx.driver, -1);

  /* A sleep still registered when the driver is freed may be cleared later. */
  AsyncrtDriver *d2;
  g_assert_cmpint (asyncrt__driver_new (&d2), ==, 0);
  AsyncrtDriver *prev = asyncrt__driver_enter (d2);
  AsyncrtSleep orphan;
  asyncrt_sleep_init (&orphan, 100000);
  g_assert_cmpint (asyncrt_sleep_poll (&orphan, cx), ==, ASYNCRT_PENDING);
  asyncrt__driver_exit (prev);
  asyncrt__driver_shutdown (d2);
  asyncrt__driver_free (d2);
  asyncrt_sleep_clear (&orphan);            /* drops the last driver reference */

  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  driver_fixture_teardown (&fx);
}

static void
test_sleep_null (void)
{
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  asyncrt_sleep_init (NULL, 5);
  asyncrt_sleep_init_until (NULL, 5);
  asyncrt_sleep_reset (NULL, 5);
  asyncrt_sleep_reset_until (NULL, 5);
  asyncrt_sleep_clear (NULL);
  g_assert_cmpuint (asyncrt_sleep_get_deadline (NULL), ==, 0);
  g_assert_cmpint (asyncrt_sleep_poll (NULL, cx), ==, ASYNCRT_READY);
  asyncrt_context_free (cx);
}

static void
test_sleep_outside_runtime (void)
{
  /* No driver entered: the fallback driver's thread wakes us. */
  g_assert_null (asyncrt__driver_current ());
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtSleep s;
  gint64 t0 = g_get_monotonic_time ();
  asyncrt_sleep_init (&s, 20);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_PENDING);
  gint64 end = t0 + test_timeout_ms (5000) * 1000;
  while (cw_wakes (&c) == 0 && g_get_monotonic_time () < end)
    g_usleep (1000);
  g_assert_cmpint (cw_wakes (&c), ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 20000);
  g_assert_cmpint (asyncrt_sleep_poll (&s, cx), ==, ASYNCRT_READY);
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
}

static gpointer
unpark_thread (gpointer data)
{
  g_usleep (20000);
  asyncrt__driver_unpark (data);
  return NULL;
}

static void
test_unpark (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  /* An unpark before the park makes it return at once. */
  asyncrt__driver_unpark (fx.driver);
  asyncrt__driver_unpark (fx.driver);
  asyncrt__driver_park (fx.driver, -1);
  /* An unpark from another thread ends a park without a deadline. */
  GThread *t = g_thread_new ("unpark", unpark_thread, fx.driver);
  asyncrt__driver_park (fx.driver, -1);
  g_thread_join (t);
  /* park(0) never blocks. */
  asyncrt__driver_park (fx.driver, 0);
  driver_fixture_teardown (&fx);
}

typedef struct
{
  AsyncrtDriver *driver;
  CountingWaker *c;
  AsyncrtSleep sleep;
} RemoteSleep;

static gpointer
register_thread (gpointer data)
{
  RemoteSleep *r = data;
  g_usleep (20000);                         /* main is parked by now, most likely */
  AsyncrtDriver *prev = asyncrt__driver_enter (r->driver);
  AsyncrtContext *cx = cw_context_new (r->c);
  asyncrt_sleep_init (&r->sleep, 10);
  g_assert_cmpint (asyncrt_sleep_poll (&r->sleep, cx), ==, ASYNCRT_PENDING);
  asyncrt_context_free (cx);
  asyncrt__driver_exit (prev);
  return NULL;
}

static void
test_register_while_parked (void)
{
  /* A parked driver with no timers must pick up an earlier timer registered from
   * another thread. */
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  RemoteSleep r = { fx.driver, &c, { 0 } };
  GThread *t = g_thread_new ("register", register_thread, &r);
  gint64 end = g_get_monotonic_time () + test_timeout_ms (5000) * 1000;
  while (cw_wakes (&c) == 0 && g_get_monotonic_time () < end)
    asyncrt__driver_park (fx.driver, -1);
  g_thread_join (t);
  g_assert_cmpint (cw_wakes (&c), ==, 1);
  asyncrt_sleep_clear (&r.sleep);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  driver_fixture_teardown (&fx);
}

typedef struct
{
  AsyncrtDriver *driver;
  int rounds;
  int stop;
} Stress;

static gpointer
stress_thread (gpointer data)
{
  Stress *st = data;
  AsyncrtDriver *prev = asyncrt__driver_enter (st->driver);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtSleep s[8];
  for (int round = 0; round < st->rounds; round++)
    {
      for (int i = 0; i < 8; i++)
        {
          asyncrt_sleep_init (&s[i], (uint64_t) (i % 3));
          asyncrt_sleep_poll (&s[i], cx);
        }
      if (round % 4 == 0)
        asyncrt__driver_unpark (st->driver);
      for (int i = 0; i < 8; i++)
        {
          asyncrt_sleep_poll (&s[i], cx);
          asyncrt_sleep_clear (&s[i]);
        }
    }
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs_settled (&c), ==, 0);
  asyncrt__driver_exit (prev);
  return NULL;
}

static void
test_stress_threads (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  Stress st = { fx.driver, 2000, 0 };
  GThread *t[3];
  for (int i = 0; i < 3; i++)
    t[i] = g_thread_new ("stress", stress_thread, &st);
  gint64 end = g_get_monotonic_time () + test_timeout_ms (20000) * 1000;
  /* The threads finish on their own; park concurrently meanwhile. */
  for (int i = 0; i < 200 && g_get_monotonic_time () < end; i++)
    asyncrt__driver_park (fx.driver, 1);
  for (int i = 0; i < 3; i++)
    g_thread_join (t[i]);
  driver_fixture_teardown (&fx);
}

static void
test_yield (void)
{
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtYield y;
  asyncrt_yield_init (&y);
  g_assert_cmpint (asyncrt_yield_poll (&y, cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (cw_wakes (&c), ==, 1);
  g_assert_cmpint (asyncrt_yield_poll (&y, cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_yield_poll (&y, cx), ==, ASYNCRT_READY);
  g_assert_cmpint (cw_wakes (&c), ==, 1);
  asyncrt_yield_init (NULL);
  g_assert_cmpint (asyncrt_yield_poll (NULL, cx), ==, ASYNCRT_READY);
  asyncrt_context_free (cx);
}

static AsyncrtPoll
never_poll (void *f, AsyncrtContext *cx)
{
  (void) cx;
  (*(int *) f)++;
  return ASYNCRT_PENDING;
}

static AsyncrtPoll
sleep_inner_poll (void *f, AsyncrtContext *cx)
{
  return asyncrt_sleep_poll (f, cx);
}

static void
test_timeout (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);

  /* Times out. */
  int polls = 0;
  AsyncrtTimeout t;
  gint64 t0 = g_get_monotonic_time ();
  asyncrt_timeout_init (&t, never_poll, &polls, 20);
  g_assert_cmpint (asyncrt_timeout_get_result (&t), ==, -EINPROGRESS);
  g_assert_cmpint (asyncrt_timeout_poll (&t, cx), ==, ASYNCRT_PENDING);
  g_assert_true (park_until_woken (fx.driver, &c, 1, 5000));
  g_assert_cmpint (asyncrt_timeout_poll (&t, cx), ==, ASYNCRT_READY);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 20000);
  g_assert_cmpint (asyncrt_timeout_get_result (&t), ==, -ETIMEDOUT);
  g_assert_cmpint (polls, ==, 2);
  g_assert_cmpint (asyncrt_timeout_poll (&t, cx), ==, ASYNCRT_READY);  /* stays */
  g_assert_cmpint (polls, ==, 2);
  asyncrt_timeout_clear (&t);

  /* Completes first: inner 10 ms sleep, 10 s limit. */
  AsyncrtSleep inner;
  asyncrt_sleep_init (&inner, 10);
  asyncrt_timeout_init_until (&t, sleep_inner_poll, &inner, asyncrt_time_now_ms () + 10000);
  g_assert_cmpint (asyncrt_timeout_poll (&t, cx), ==, ASYNCRT_PENDING);
  g_assert_true (park_until_woken (fx.driver, &c, 2, 5000));
  g_assert_cmpint (asyncrt_timeout_poll (&t, cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_timeout_get_result (&t), ==, 0);
  asyncrt_timeout_clear (&t);
  asyncrt_sleep_clear (&inner);

  /* Cleared while pending: its timer never fires. */
  asyncrt_timeout_init (&t, never_poll, &polls, 5);
  g_assert_cmpint (asyncrt_timeout_poll (&t, cx), ==, ASYNCRT_PENDING);
  asyncrt_timeout_clear (&t);
  asyncrt__driver_park (fx.driver, 30);
  g_assert_cmpint (cw_wakes (&c), ==, 2);

  /* Errors. */
  asyncrt_timeout_init (&t, NULL, NULL, 5);
  g_assert_cmpint (asyncrt_timeout_poll (&t, cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_timeout_get_result (&t), ==, -EINVAL);
  g_assert_cmpint (asyncrt_timeout_get_result (NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_timeout_poll (NULL, cx), ==, ASYNCRT_READY);
  asyncrt_timeout_init (NULL, never_poll, NULL, 5);
  asyncrt_timeout_init_until (NULL, never_poll, NULL, 5);
  asyncrt_timeout_clear (NULL);

  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  driver_fixture_teardown (&fx);
}

static void
test_driver_errors (void)
{
  g_assert_cmpint (asyncrt__driver_new (NULL), ==, -EINVAL);
  asyncrt__driver_free (NULL);
  asyncrt__driver_park (NULL, 0);
  asyncrt__driver_unpark (NULL);
  asyncrt__driver_shutdown (NULL);
  g_assert_true (asyncrt__driver_is_shutdown (NULL));
  /* free without an explicit shutdown shuts down. */
  AsyncrtDriver *d;
  g_assert_cmpint (asyncrt__driver_new (&d), ==, 0);
  g_assert_false (asyncrt__driver_is_shutdown (d));
  g_assert_null (asyncrt__driver_current ());
  g_assert_null (asyncrt__driver_enter (d));
  g_assert_true (asyncrt__driver_current () == d);
  asyncrt__driver_exit (NULL);
  g_assert_null (asyncrt__driver_current ());
  asyncrt__driver_free (d);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/driver/errors", test_driver_errors);
  g_test_add_func ("/driver/unpark", test_unpark);
  g_test_add_func ("/driver/register-while-parked", test_register_while_parked);
  g_test_add_func ("/driver/stress-threads", test_stress_threads);
  g_test_add_func ("/time/sleep/fires-not-early", test_sleep_fires_not_early);
  g_test_add_func ("/time/sleep/zero", test_sleep_zero);
  g_test_add_func ("/time/sleep/in-order", test_sleeps_in_order);
  g_test_add_func ("/time/sleep/clear-and-reset", test_sleep_clear_and_reset);
  g_test_add_func ("/time/sleep/shutdown", test_sleep_shutdown);
  g_test_add_func ("/time/sleep/null", test_sleep_null);
  g_test_add_func ("/time/sleep/outside-runtime", test_sleep_outside_runtime);
  g_test_add_func ("/time/yield", test_yield);
  g_test_add_func ("/time/timeout", test_timeout);
  return g_test_run ();
}
