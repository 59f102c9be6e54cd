/* Benchmarks of the synchronisation primitives, driven by hand on OS threads (each
 * "task" is a thread polling its future and sleeping on a condition variable until
 * its waker fires).  Prints `name value unit` lines; never fails on a number. */
#include "sync/sync-test-util.h"

#include <stdio.h>

static double
now_s (void)
{
  return (double) g_get_monotonic_time () / 1e6;
}

/* --- mpsc throughput ---------------------------------------------------------------- */

typedef struct
{
  AsyncrtMpscSender *tx;
  int n;
  TestCx cx;
} Producer;

static gpointer
producer_main (gpointer data)
{
  Producer *p = data;
  for (int i = 0; i < p->n; i++)
    {
      AsyncrtMpscSend s;
      asyncrt_mpsc_send_init (&s, p->tx, GINT_TO_POINTER (i + 1));
      TEST_BLOCK_ON (&p->cx, asyncrt_mpsc_send_poll (&s, p->cx.cx));
      asyncrt_mpsc_send_clear (&s);
    }
  asyncrt_mpsc_sender_free (p->tx);
  return NULL;
}

static void
bench_mpsc (const char *name, size_t capacity, int n_producers, int total)
{
  AsyncrtMpscSender *tx;
  AsyncrtMpscReceiver *rx;
  asyncrt_mpsc_new (capacity, NULL, &tx, &rx);
  Producer *p = g_new0 (Producer, n_producers);
  GThread **th = g_new (GThread *, n_producers);
  for (int i = 0; i < n_producers; i++)
    {
      p[i].tx = i == 0 ? tx : asyncrt_mpsc_sender_clone (tx);
      p[i].n = total / n_producers;
      test_cx_init (&p[i].cx);
    }
  TestCx cx;
  test_cx_init (&cx);
  double t0 = now_s ();
  for (int i = 0; i < n_producers; i++)
    th[i] = g_thread_new ("producer", producer_main, &p[i]);
  long got = 0;
  for (;;)
    {
      AsyncrtMpscRecv r;
      asyncrt_mpsc_recv_init (&r, rx);
      TEST_BLOCK_ON (&cx, asyncrt_mpsc_recv_poll (&r, cx.cx));
      int res = asyncrt_mpsc_recv_result (&r, NULL);
      asyncrt_mpsc_recv_clear (&r);
      if (res < 0)
        break;
      got++;
    }
  double dt = now_s () - t0;
  for (int i = 0; i < n_producers; i++)
    g_thread_join (th[i]);
  printf ("%s %.0f msgs/s\n", name, (double) got / dt);
  asyncrt_mpsc_receiver_free (rx);
  for (int i = 0; i < n_producers; i++)
    test_cx_clear (&p[i].cx);
  test_cx_clear (&cx);
  g_free (p);
  g_free (th);
}

/* --- notify round trip -------------------------------------------------------------- */

typedef struct
{
  AsyncrtNotify ping;
  AsyncrtNotify pong;
  int rounds;
  TestCx cx;
} PingPong;

static gpointer
ponger_main (gpointer data)
{
  PingPong *pp = data;
  for (int i = 0; i < pp->rounds; i++)
    {
      AsyncrtNotified w;
      asyncrt_notified_init (&w, &pp->ping);
      TEST_BLOCK_ON (&pp->cx, asyncrt_notified_poll (&w, pp->cx.cx));
      asyncrt_notified_clear (&w);
      asyncrt_notify_notify_one (&pp->pong);
    }
  return NULL;
}

static void
bench_notify_round_trip (int rounds)
{
  PingPong pp;
  asyncrt_notify_init (&pp.ping);
  asyncrt_notify_init (&pp.pong);
  pp.rounds = rounds;
  test_cx_init (&pp.cx);
  TestCx cx;
  test_cx_init (&cx);
  GThread *th = g_thread_new ("ponger", ponger_main, &pp);
  double t0 = now_s ();
  for (int i = 0; i < rounds; i++)
    {
      AsyncrtNotified w;
      asyncrt_notified_init (&w, &pp.pong);
      asyncrt_notify_notify_one (&pp.ping);
      TEST_BLOCK_ON (&cx, asyncrt_notified_poll (&w, cx.cx));
      asyncrt_notified_clear (&w);
    }
  double dt = now_s () - t0;
  g_thread_join (th);
  printf ("notify_round_trip_threads %.0f ns\n", dt * 1e9 / rounds);
  test_cx_clear (&cx);
  test_cx_clear (&pp.cx);
  asyncrt_notify_clear (&pp.ping);
  asyncrt_notify_clear (&pp.pong);

  /* Same thread: notify_one stores the permit, the wait consumes it. */
  AsyncrtNotify n;
  asyncrt_notify_init (&n);
  test_cx_init (&cx);
  const int local = rounds * 20;
  t0 = now_s ();
  for (int i = 0; i < local; i++)
    {
      AsyncrtNotified w;
      asyncrt_notified_init (&w, &n);
      asyncrt_notify_notify_one (&n);
      asyncrt_notified_poll (&w, cx.cx);
      asyncrt_notified_clear (&w);
    }
  dt = now_s () - t0;
  printf ("notify_permit_same_thread %.1f ns\n", dt * 1e9 / local);
  test_cx_clear (&cx);
  asyncrt_notify_clear (&n);
}

/* --- mutex contention ---------------------------------------------------------------- */

typedef struct
{
  AsyncrtMutex *m;
  long *counter;
  int iters;
  TestCx cx;
} Locker;

static gpointer
locker_main (gpointer data)
{
  Locker *l = data;
  for (int i = 0; i < l->iters; i++)
    {
      AsyncrtMutexLock lk;
      asyncrt_mutex_lock_init (&lk, l->m);
      TEST_BLOCK_ON (&l->cx, asyncrt_mutex_lock_poll (&lk, l->cx.cx));
      asyncrt_mutex_lock_clear (&lk);
      (*l->counter)++;
      asyncrt_mutex_unlock (l->m);
    }
  return NULL;
}

static void
bench_mutex (int n_threads, int iters)
{
  AsyncrtMutex m;
  long counter = 0;
  asyncrt_mutex_init (&m);
  Locker *l = g_new0 (Locker, n_threads);
  GThread **th = g_new (GThread *, n_threads);
  for (int i = 0; i < n_threads; i++)
    {
      l[i].m = &m;
      l[i].counter = &counter;
      l[i].iters = iters;
      test_cx_init (&l[i].cx);
    }
  double t0 = now_s ();
  for (int i = 0; i < n_threads; i++)
    th[i] = g_thread_new ("locker", locker_main, &l[i]);
  for (int i = 0; i < n_threads; i++)
    g_thread_join (th[i]);
  double dt = now_s () - t0;
  g_assert_cmpint (counter, ==, (long) n_threads * iters);
  printf ("mutex_lock_unlock_%d_threads %.0f ns\n", n_threads, dt * 1e9 / ((double) n_threads * iters));
  for (int i = 0; i < n_threads; i++)
    test_cx_clear (&l[i].cx);
  asyncrt_mutex_clear (&m);
  g_free (l);
  g_free (th);
}

int
main (void)
{
  const int n = 400000;
  bench_mpsc ("mpsc_unbounded_1_producer", 0, 1, n);
  bench_mpsc ("mpsc_unbounded_4_producers", 0, 4, n);
  bench_mpsc ("mpsc_bounded128_1_producer", 128, 1, n);
  bench_mpsc ("mpsc_bounded128_4_producers", 128, 4, n);
  bench_notify_round_trip (20000);
  bench_mutex (1, 400000);
  bench_mutex (4, 100000);
  return 0;
}
