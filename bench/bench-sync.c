/* Benchmarks of the synchronisation primitives, twice: driven by hand on OS threads
 * (each "task" is a thread polling its future and sleeping on a condition variable
 * until its waker fires), and as tasks on the current-thread runtime (`_current_thread`
 * names).  Prints `name value unit` lines; never fails on a number. */
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

/* --- uncontended: the bookkeeping every lock and permit pays ------------------------- */

/* One thread, nobody else: lock/unlock through the lock future, try_lock/unlock, and
 * acquire/release of one semaphore permit (future and try_acquire).  The best of 20
 * batches, so a busy machine shows less. */
static void
bench_uncontended (int iters)
{
  AsyncrtMutex m;
  AsyncrtSemaphore s;
  TestCx cx;
  asyncrt_mutex_init (&m);
  asyncrt_semaphore_init (&s, 4);
  test_cx_init (&cx);
  double best_lock = 1e30, best_try = 1e30, best_acq = 1e30, best_tryacq = 1e30;
  for (int b = 0; b < 20; b++)
    {
      double t0 = now_s ();
      for (int i = 0; i < iters; i++)
        {
          AsyncrtMutexLock lk;
          asyncrt_mutex_lock_init (&lk, &m);
          if (asyncrt_mutex_lock_poll (&lk, cx.cx) != ASYNCRT_READY)
            g_error ("uncontended lock pending");
          asyncrt_mutex_lock_clear (&lk);
          asyncrt_mutex_unlock (&m);
        }
      double t1 = now_s ();
      for (int i = 0; i < iters; i++)
        {
          if (asyncrt_mutex_try_lock (&m) != 0)
            g_error ("uncontended try_lock failed");
          asyncrt_mutex_unlock (&m);
        }
      double t2 = now_s ();
      for (int i = 0; i < iters; i++)
        {
          AsyncrtSemaphoreAcquire a;
          asyncrt_semaphore_acquire_init (&a, &s, 1);
          if (asyncrt_semaphore_acquire_poll (&a, cx.cx) != ASYNCRT_READY)
            g_error ("uncontended acquire pending");
          asyncrt_semaphore_acquire_clear (&a);
          asyncrt_semaphore_release (&s, 1);
        }
      double t3 = now_s ();
      for (int i = 0; i < iters; i++)
        {
          if (asyncrt_semaphore_try_acquire (&s, 1) != 0)
            g_error ("uncontended try_acquire failed");
          asyncrt_semaphore_release (&s, 1);
        }
      double t4 = now_s ();
      best_lock = MIN (best_lock, (t1 - t0) * 1e9 / iters);
      best_try = MIN (best_try, (t2 - t1) * 1e9 / iters);
      best_acq = MIN (best_acq, (t3 - t2) * 1e9 / iters);
      best_tryacq = MIN (best_tryacq, (t4 - t3) * 1e9 / iters);
    }
  printf ("mutex_lock_unlock_uncontended %.1f ns\n", best_lock);
  printf ("mutex_try_lock_unlock_uncontended %.1f ns\n", best_try);
  printf ("semaphore_acquire_release_uncontended %.1f ns\n", best_acq);
  printf ("semaphore_try_acquire_release_uncontended %.1f ns\n", best_tryacq);
  test_cx_clear (&cx);
  asyncrt_semaphore_clear (&s);
  asyncrt_mutex_clear (&m);
}

/* --- the same on the current-thread runtime (tasks instead of threads) -------------- */

#define RT_YIELD(co, cx)                                                     \
  do                                                                         \
    {                                                                        \
      asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));            \
      ASYNCRT_YIELD_PENDING (co);                                            \
    }                                                                        \
  while (0)

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMpscSender *tx;
  AsyncrtMpscSend send;
  int n;
  int i;
} RtProducer;

static AsyncrtPoll
rt_producer_poll (void *p, AsyncrtContext *cx)
{
  RtProducer *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < self->n; self->i++)
    {
      asyncrt_mpsc_send_init (&self->send, self->tx, GINT_TO_POINTER (self->i + 1));
      ASYNCRT_AWAIT (&self->co, asyncrt_mpsc_send_poll (&self->send, cx));
      asyncrt_mpsc_send_clear (&self->send);
    }
  asyncrt_mpsc_sender_free (self->tx);
  self->tx = NULL;
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtCoroutine co;
  size_t capacity;
  int n_producers;
  int total;
  AsyncrtMpscReceiver *rx;
  AsyncrtMpscRecv recv;
  RtProducer *producers;
  AsyncrtJoinHandle **jh;
  long got;
  int i;
} RtMpscRoot;

static AsyncrtPoll
rt_mpsc_root_poll (void *p, AsyncrtContext *cx)
{
  RtMpscRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  {
    AsyncrtMpscSender *tx;
    asyncrt_mpsc_new (self->capacity, NULL, &tx, &self->rx);
    for (int i = 0; i < self->n_producers; i++)
      {
        self->producers[i].tx = i == 0 ? tx : asyncrt_mpsc_sender_clone (tx);
        self->producers[i].n = self->total / self->n_producers;
      }
    for (int i = 0; i < self->n_producers; i++)
      self->jh[i] = asyncrt_spawn (rt_producer_poll, &self->producers[i], NULL);
  }
  for (;;)
    {
      asyncrt_mpsc_recv_init (&self->recv, self->rx);
      ASYNCRT_AWAIT (&self->co, asyncrt_mpsc_recv_poll (&self->recv, cx));
      {
        int r = asyncrt_mpsc_recv_result (&self->recv, NULL);
        asyncrt_mpsc_recv_clear (&self->recv);
        if (r < 0)
          break;
        self->got++;
      }
    }
  for (self->i = 0; self->i < self->n_producers; self->i++)
    ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh[self->i], cx));
  ASYNCRT_END (&self->co);
}

static void
bench_rt_mpsc (const char *name, size_t capacity, int n_producers, int total)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  if (asyncrt_builder_build (b, &rt) != 0)
    g_error ("cannot build a runtime");
  asyncrt_builder_free (b);
  RtMpscRoot root = { 0 };
  root.capacity = capacity;
  root.n_producers = n_producers;
  root.total = total;
  root.producers = g_new0 (RtProducer, n_producers);
  root.jh = g_new0 (AsyncrtJoinHandle *, n_producers);
  double t0 = now_s ();
  asyncrt_runtime_block_on (rt, rt_mpsc_root_poll, &root);
  double dt = now_s () - t0;
  printf ("%s %.0f msgs/s\n", name, (double) root.got / dt);
  for (int i = 0; i < n_producers; i++)
    asyncrt_join_handle_free (root.jh[i]);
  asyncrt_mpsc_receiver_free (root.rx);
  asyncrt_runtime_free (rt);
  g_free (root.producers);
  g_free (root.jh);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotify *ping;
  AsyncrtNotify *pong;
  AsyncrtNotified w;
  int rounds;
  int i;
} RtPonger;

static AsyncrtPoll
rt_ponger_poll (void *p, AsyncrtContext *cx)
{
  RtPonger *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < self->rounds; self->i++)
    {
      asyncrt_notified_init (&self->w, self->ping);
      ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->w, cx));
      asyncrt_notified_clear (&self->w);
      asyncrt_notify_notify_one (self->pong);
    }
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotify ping;
  AsyncrtNotify pong;
  AsyncrtNotified w;
  RtPonger ponger;
  AsyncrtJoinHandle *jh;
  int rounds;
  int i;
} RtPingRoot;

static AsyncrtPoll
rt_ping_root_poll (void *p, AsyncrtContext *cx)
{
  RtPingRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->ponger.ping = &self->ping;
  self->ponger.pong = &self->pong;
  self->ponger.rounds = self->rounds;
  self->jh = asyncrt_spawn (rt_ponger_poll, &self->ponger, NULL);
  for (self->i = 0; self->i < self->rounds; self->i++)
    {
      asyncrt_notified_init (&self->w, &self->pong);
      asyncrt_notify_notify_one (&self->ping);
      ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->w, cx));
      asyncrt_notified_clear (&self->w);
    }
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
  ASYNCRT_END (&self->co);
}

static void
bench_rt_notify (int rounds)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  if (asyncrt_builder_build (b, &rt) != 0)
    g_error ("cannot build a runtime");
  asyncrt_builder_free (b);
  RtPingRoot *root = g_new0 (RtPingRoot, 1);
  asyncrt_notify_init (&root->ping);
  asyncrt_notify_init (&root->pong);
  root->rounds = rounds;
  double t0 = now_s ();
  asyncrt_runtime_block_on (rt, rt_ping_root_poll, root);
  double dt = now_s () - t0;
  printf ("notify_round_trip_current_thread %.0f ns\n", dt * 1e9 / rounds);
  asyncrt_join_handle_free (root->jh);
  asyncrt_runtime_free (rt);
  asyncrt_notify_clear (&root->ping);
  asyncrt_notify_clear (&root->pong);
  g_free (root);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMutex *m;
  AsyncrtMutexLock lock;
  long *counter;
  int iters;
  int i;
} RtLocker;

static AsyncrtPoll
rt_locker_poll (void *p, AsyncrtContext *cx)
{
  RtLocker *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < self->iters; self->i++)
    {
      asyncrt_mutex_lock_init (&self->lock, self->m);
      ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
      asyncrt_mutex_lock_clear (&self->lock);
      (*self->counter)++;
      if (self->i % 4 == 0)
        RT_YIELD (&self->co, cx);       /* held across an await: others queue */
      asyncrt_mutex_unlock (self->m);
    }
  ASYNCRT_END (&self->co);
}

/* The same inside a task (the holder is then a task): lock/unlock and one permit's
 * acquire/release, never contended. */
typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMutex m;
  AsyncrtSemaphore s;
  AsyncrtMutexLock lock;
  AsyncrtSemaphoreAcquire acq;
  int iters;
  int i;
  double lock_ns, acq_ns;   /* summed over the batches, then per iteration */
} RtUncontended;

/* The coop budget allows 128 leaf polls per task poll: batches of 64, with a yield
 * in between that is not timed. */
#define RT_BATCH 64

static AsyncrtPoll
rt_uncontended_poll (void *p, AsyncrtContext *cx)
{
  RtUncontended *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < self->iters; self->i += RT_BATCH)
    {
      {
        double t0 = now_s ();
        for (int k = 0; k < RT_BATCH; k++)
          {
            asyncrt_mutex_lock_init (&self->lock, &self->m);
            if (asyncrt_mutex_lock_poll (&self->lock, cx) != ASYNCRT_READY)
              g_error ("uncontended lock pending");
            asyncrt_mutex_lock_clear (&self->lock);
            asyncrt_mutex_unlock (&self->m);
          }
        self->lock_ns += (now_s () - t0) * 1e9;
      }
      RT_YIELD (&self->co, cx);
      {
        double t0 = now_s ();
        for (int k = 0; k < RT_BATCH; k++)
          {
            asyncrt_semaphore_acquire_init (&self->acq, &self->s, 1);
            if (asyncrt_semaphore_acquire_poll (&self->acq, cx) != ASYNCRT_READY)
              g_error ("uncontended acquire pending");
            asyncrt_semaphore_acquire_clear (&self->acq);
            asyncrt_semaphore_release (&self->s, 1);
          }
        self->acq_ns += (now_s () - t0) * 1e9;
      }
      RT_YIELD (&self->co, cx);
    }
  self->lock_ns /= self->iters;
  self->acq_ns /= self->iters;
  ASYNCRT_END (&self->co);
}

/* Polls a task through the runtime: the coop budget is refilled at each poll, so
 * the loop above (no await) never runs out of it. */
static void
bench_rt_uncontended (int iters)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  if (asyncrt_builder_build (b, &rt) != 0)
    g_error ("cannot build a runtime");
  asyncrt_builder_free (b);
  double best_lock = 1e30, best_acq = 1e30;
  for (int k = 0; k < 20; k++)
    {
      RtUncontended *u = g_new0 (RtUncontended, 1);
      asyncrt_mutex_init (&u->m);
      asyncrt_semaphore_init (&u->s, 4);
      u->iters = iters;
      AsyncrtJoinHandle *jh = asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt),
                                                    rt_uncontended_poll, u, NULL);
      asyncrt_runtime_block_on (rt, (AsyncrtPollFunc) asyncrt_join_handle_poll, jh);
      asyncrt_join_handle_free (jh);
      best_lock = MIN (best_lock, u->lock_ns);
      best_acq = MIN (best_acq, u->acq_ns);
      asyncrt_mutex_clear (&u->m);
      asyncrt_semaphore_clear (&u->s);
      g_free (u);
    }
  printf ("mutex_lock_unlock_uncontended_task %.1f ns\n", best_lock);
  printf ("semaphore_acquire_release_uncontended_task %.1f ns\n", best_acq);
  asyncrt_runtime_free (rt);
}

#define RT_LOCKERS 16

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMutex m;
  long counter;
  RtLocker lockers[RT_LOCKERS];
  AsyncrtJoinHandle *jh[RT_LOCKERS];
  int iters;
  int i;
} RtMutexRoot;

static AsyncrtPoll
rt_mutex_root_poll (void *p, AsyncrtContext *cx)
{
  RtMutexRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (int i = 0; i < RT_LOCKERS; i++)
    {
      self->lockers[i].m = &self->m;
      self->lockers[i].counter = &self->counter;
      self->lockers[i].iters = self->iters;
      self->jh[i] = asyncrt_spawn (rt_locker_poll, &self->lockers[i], NULL);
    }
  for (self->i = 0; self->i < RT_LOCKERS; self->i++)
    ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh[self->i], cx));
  ASYNCRT_END (&self->co);
}

static void
bench_rt_mutex (int iters)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  if (asyncrt_builder_build (b, &rt) != 0)
    g_error ("cannot build a runtime");
  asyncrt_builder_free (b);
  RtMutexRoot *root = g_new0 (RtMutexRoot, 1);
  asyncrt_mutex_init (&root->m);
  root->iters = iters;
  double t0 = now_s ();
  asyncrt_runtime_block_on (rt, rt_mutex_root_poll, root);
  double dt = now_s () - t0;
  g_assert_cmpint (root->counter, ==, (long) RT_LOCKERS * iters);
  printf ("mutex_lock_unlock_%d_tasks_current_thread %.0f ns\n", RT_LOCKERS,
          dt * 1e9 / ((double) RT_LOCKERS * iters));
  for (int i = 0; i < RT_LOCKERS; i++)
    asyncrt_join_handle_free (root->jh[i]);
  asyncrt_runtime_free (rt);
  asyncrt_mutex_clear (&root->m);
  g_free (root);
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
  bench_uncontended (200000);
  bench_rt_uncontended (64 * 3125);
  bench_mutex (1, 400000);
  bench_mutex (4, 100000);
  bench_rt_mpsc ("mpsc_unbounded_1_producer_current_thread", 0, 1, n);
  bench_rt_mpsc ("mpsc_unbounded_4_producers_current_thread", 0, 4, n);
  bench_rt_mpsc ("mpsc_bounded128_1_producer_current_thread", 128, 1, n);
  bench_rt_mpsc ("mpsc_bounded128_4_producers_current_thread", 128, 4, n);
  bench_rt_notify (200000);
  bench_rt_mutex (20000);
  return 0;
}
