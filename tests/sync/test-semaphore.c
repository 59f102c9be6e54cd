/* Tests of AsyncrtSemaphore and AsyncrtMutex, driven by hand (no runtime). */
#include "sync-test-util.h"

#include <errno.h>

static void
test_sem_basic (void)
{
  AsyncrtSemaphore s;
  g_assert_cmpint (asyncrt_semaphore_init (&s, 3), ==, 0);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s), ==, 3);
  g_assert_cmpint (asyncrt_semaphore_try_acquire (&s, 2), ==, 0);
  g_assert_cmpint (asyncrt_semaphore_try_acquire (&s, 2), ==, -EAGAIN);
  g_assert_cmpint (asyncrt_semaphore_try_acquire (&s, 0), ==, 0);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s), ==, 1);

  TestCx t;
  test_cx_init (&t);
  AsyncrtSemaphoreAcquire a;
  asyncrt_semaphore_acquire_init (&a, &s, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_result (&a), ==, -EINPROGRESS);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_semaphore_acquire_result (&a), ==, 0);
  asyncrt_semaphore_acquire_clear (&a);    /* does not release */
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s), ==, 0);

  asyncrt_semaphore_acquire_init (&a, &s, 2);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, t.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_semaphore_release (&s, 1), ==, 0);
  g_assert_cmpint (test_cx_wakes (&t), ==, 0);
  g_assert_cmpint (asyncrt_semaphore_release (&s, 2), ==, 0);
  g_assert_cmpint (test_cx_wakes (&t), ==, 1);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s), ==, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_semaphore_acquire_result (&a), ==, 0);
  asyncrt_semaphore_acquire_clear (&a);
  g_assert_cmpint (asyncrt_semaphore_release (&s, 2), ==, 0);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s), ==, 3);

  test_cx_clear (&t);
  asyncrt_semaphore_clear (&s);
}

static void
test_sem_errors (void)
{
  AsyncrtSemaphore s;
  TestCx t;
  test_cx_init (&t);
  g_assert_cmpint (asyncrt_semaphore_init (NULL, 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_semaphore_init (&s, ASYNCRT_SEMAPHORE_MAX_PERMITS + 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_semaphore_init (&s, ASYNCRT_SEMAPHORE_MAX_PERMITS), ==, 0);
  g_assert_cmpint (asyncrt_semaphore_release (&s, 1), ==, -EOVERFLOW);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s), ==, ASYNCRT_SEMAPHORE_MAX_PERMITS);
  g_assert_cmpint (asyncrt_semaphore_try_acquire (&s, ASYNCRT_SEMAPHORE_MAX_PERMITS + 1), ==, -EINVAL);

  AsyncrtSemaphoreAcquire a;
  asyncrt_semaphore_acquire_init (&a, &s, ASYNCRT_SEMAPHORE_MAX_PERMITS + 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_semaphore_acquire_result (&a), ==, -EINVAL);
  asyncrt_semaphore_acquire_clear (&a);
  asyncrt_semaphore_acquire_init (&a, NULL, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_semaphore_acquire_result (&a), ==, -EINVAL);
  asyncrt_semaphore_acquire_clear (&a);
  asyncrt_semaphore_clear (&s);

  g_assert_cmpint (asyncrt_semaphore_release (NULL, 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_semaphore_try_acquire (NULL, 1), ==, -EINVAL);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (NULL), ==, 0);
  g_assert_true (asyncrt_semaphore_is_closed (NULL));
  asyncrt_semaphore_close (NULL);
  asyncrt_semaphore_clear (NULL);
  asyncrt_semaphore_acquire_init (NULL, &s, 1);
  asyncrt_semaphore_acquire_clear (NULL);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (NULL, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_semaphore_acquire_result (NULL), ==, -EINVAL);
  test_cx_clear (&t);
}

static void
test_sem_fifo (void)
{
  AsyncrtSemaphore s;
  AsyncrtSemaphoreAcquire big, small;
  TestCx tb, ts;
  test_cx_init (&tb);
  test_cx_init (&ts);
  asyncrt_semaphore_init (&s, 0);
  asyncrt_semaphore_acquire_init (&big, &s, 2);
  asyncrt_semaphore_acquire_init (&small, &s, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&big, tb.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&small, ts.cx), ==, ASYNCRT_PENDING);
  /* One permit: the small request must not overtake the big one at the head. */
  asyncrt_semaphore_release (&s, 1);
  g_assert_cmpint (test_cx_wakes (&ts), ==, 0);
  g_assert_cmpint (asyncrt_semaphore_try_acquire (&s, 1), ==, -EAGAIN);
  asyncrt_semaphore_release (&s, 1);
  g_assert_cmpint (test_cx_wakes (&tb), ==, 1);
  g_assert_cmpint (test_cx_wakes (&ts), ==, 0);
  asyncrt_semaphore_release (&s, 1);
  g_assert_cmpint (test_cx_wakes (&ts), ==, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&small, ts.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&big, tb.cx), ==, ASYNCRT_READY);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s), ==, 0);
  asyncrt_semaphore_acquire_clear (&big);
  asyncrt_semaphore_acquire_clear (&small);
  test_cx_clear (&tb);
  test_cx_clear (&ts);
  asyncrt_semaphore_clear (&s);
}

static void
test_sem_close (void)
{
  AsyncrtSemaphore s;
  AsyncrtSemaphoreAcquire a, b;
  TestCx t;
  test_cx_init (&t);
  asyncrt_semaphore_init (&s, 0);
  asyncrt_semaphore_acquire_init (&a, &s, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, t.cx), ==, ASYNCRT_PENDING);
  g_assert_false (asyncrt_semaphore_is_closed (&s));
  asyncrt_semaphore_close (&s);
  g_assert_true (asyncrt_semaphore_is_closed (&s));
  g_assert_cmpint (test_cx_wakes (&t), ==, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_semaphore_acquire_result (&a), ==, -ESHUTDOWN);
  asyncrt_semaphore_acquire_init (&b, &s, 0);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&b, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_semaphore_acquire_result (&b), ==, -ESHUTDOWN);
  g_assert_cmpint (asyncrt_semaphore_release (&s, 1), ==, 0);
  g_assert_cmpint (asyncrt_semaphore_try_acquire (&s, 1), ==, -ESHUTDOWN);
  asyncrt_semaphore_acquire_clear (&a);
  asyncrt_semaphore_acquire_clear (&b);
  test_cx_clear (&t);
  asyncrt_semaphore_clear (&s);
}

static void
test_sem_cancel (void)
{
  AsyncrtSemaphore s;
  AsyncrtSemaphoreAcquire a, b, c;
  TestCx ta, tb, tc;
  test_cx_init (&ta);
  test_cx_init (&tb);
  test_cx_init (&tc);
  asyncrt_semaphore_init (&s, 0);

  /* Granted, then cleared before READY: the permit goes to the next waiter. */
  asyncrt_semaphore_acquire_init (&a, &s, 1);
  asyncrt_semaphore_acquire_init (&b, &s, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, ta.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&b, tb.cx), ==, ASYNCRT_PENDING);
  asyncrt_semaphore_release (&s, 1);
  g_assert_cmpint (test_cx_wakes (&ta), ==, 1);
  asyncrt_semaphore_acquire_clear (&a);
  g_assert_cmpint (test_cx_wakes (&tb), ==, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&b, tb.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_semaphore_acquire_result (&b), ==, 0);
  asyncrt_semaphore_acquire_clear (&b);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s), ==, 0);

  /* Granted and cleared with nobody else waiting: the permit is free again. */
  asyncrt_semaphore_acquire_init (&a, &s, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, ta.cx), ==, ASYNCRT_PENDING);
  asyncrt_semaphore_release (&s, 1);
  asyncrt_semaphore_acquire_clear (&a);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s), ==, 1);

  /* A big request at the head leaves: the smaller one behind it fits now. */
  asyncrt_semaphore_acquire_init (&a, &s, 5);
  asyncrt_semaphore_acquire_init (&c, &s, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, ta.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&c, tc.cx), ==, ASYNCRT_PENDING);
  asyncrt_semaphore_acquire_clear (&a);
  g_assert_cmpint (test_cx_wakes (&tc), ==, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&c, tc.cx), ==, ASYNCRT_READY);
  asyncrt_semaphore_acquire_clear (&c);

  /* Cleared while waiting: removed. */
  asyncrt_semaphore_acquire_init (&a, &s, 1);
  g_assert_cmpint (asyncrt_semaphore_acquire_poll (&a, ta.cx), ==, ASYNCRT_PENDING);
  asyncrt_semaphore_acquire_clear (&a);
  g_assert_cmpint (asyncrt_semaphore_try_acquire (&s, 0), ==, 0); /* nobody waits */
  asyncrt_semaphore_release (&s, 1);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s), ==, 1);

  test_cx_clear (&ta);
  test_cx_clear (&tb);
  test_cx_clear (&tc);
  asyncrt_semaphore_clear (&s);
}

/* Contention: threads acquire 1 of 3 permits, check that at most 3 hold at once,
 * and sometimes abandon a wait; exact totals at the end. */
#define N_THREADS 6
#define ITERS 2000
#define SEM_PERMITS 3

typedef struct
{
  AsyncrtSemaphore sem;
  AsyncrtMutex mutex;
  gint holders;
  gint max_holders;
  gint acquired;
  gint next_cx;
  long plain_counter;            /* guarded by the async mutex only */
  gint cancelled;                /* waits abandoned half-way (for the log) */
  TestCx cxs[N_THREADS];
} Contention;

static gpointer
sem_thread (gpointer data)
{
  Contention *c = data;
  int idx = g_atomic_int_add (&c->next_cx, 1);
  TestCx t = c->cxs[idx];
  for (int i = 0; i < ITERS; i++)
    {
      AsyncrtSemaphoreAcquire a;
      if ((i + idx) % 5 == 0)
        {
          /* Start a wait and abandon it half-way (a cancelled task). */
          asyncrt_semaphore_acquire_init (&a, &c->sem, 1);
          if (asyncrt_semaphore_acquire_poll (&a, t.cx) == ASYNCRT_READY)
            {
              asyncrt_semaphore_acquire_clear (&a);
              asyncrt_semaphore_release (&c->sem, 1);
            }
          else
            {
              g_usleep (20);                        /* a release may grant meanwhile */
              asyncrt_semaphore_acquire_clear (&a); /* cancel mid-wait */
              g_atomic_int_inc (&c->cancelled);
            }
        }
      asyncrt_semaphore_acquire_init (&a, &c->sem, 1);
      TEST_BLOCK_ON (&t, asyncrt_semaphore_acquire_poll (&a, t.cx));
      g_assert_cmpint (asyncrt_semaphore_acquire_result (&a), ==, 0);
      asyncrt_semaphore_acquire_clear (&a);
      gint h = g_atomic_int_add (&c->holders, 1) + 1;
      gint m;
      while ((m = g_atomic_int_get (&c->max_holders)) < h
             && !g_atomic_int_compare_and_exchange (&c->max_holders, m, h))
        ;
      g_atomic_int_inc (&c->acquired);
      if (i % 2 == 0)
        g_usleep (1);                         /* hold it a while: others queue */
      g_atomic_int_add (&c->holders, -1);
      g_assert_cmpint (asyncrt_semaphore_release (&c->sem, 1), ==, 0);
    }
  return NULL;
}

static void
test_sem_threads (void)
{
  Contention *c = g_new0 (Contention, 1);
  asyncrt_semaphore_init (&c->sem, SEM_PERMITS);
  GThread *th[N_THREADS];
  for (int i = 0; i < N_THREADS; i++)
    test_cx_init (&c->cxs[i]);
  for (int i = 0; i < N_THREADS; i++)
    th[i] = g_thread_new ("sem", sem_thread, c);
  for (int i = 0; i < N_THREADS; i++)
    g_thread_join (th[i]);
  g_test_message ("%d waits abandoned", c->cancelled);
  g_assert_cmpint (c->acquired, ==, N_THREADS * ITERS);
  g_assert_cmpint (c->max_holders, <=, SEM_PERMITS);
  g_assert_cmpint (c->max_holders, >=, 1);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&c->sem), ==, SEM_PERMITS);
  for (int i = 0; i < N_THREADS; i++)
    test_cx_clear (&c->cxs[i]);
  asyncrt_semaphore_clear (&c->sem);
  g_free (c);
}

/* --- mutex ------------------------------------------------------------------------ */

static void
test_mutex_basic (void)
{
  AsyncrtMutex m;
  AsyncrtMutexLock l;
  TestCx t;
  test_cx_init (&t);
  asyncrt_mutex_init (&m);
  g_assert_false (asyncrt_mutex_is_locked (&m));
  asyncrt_mutex_lock_init (&l, &m);
  g_assert_cmpint (asyncrt_mutex_lock_result (&l), ==, -EINPROGRESS);
  g_assert_cmpint (asyncrt_mutex_lock_poll (&l, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mutex_lock_result (&l), ==, 0);
  asyncrt_mutex_lock_clear (&l);             /* does not unlock */
  g_assert_true (asyncrt_mutex_is_locked (&m));
  g_assert_cmpint (asyncrt_mutex_try_lock (&m), ==, -EBUSY);
  g_assert_cmpint (asyncrt_mutex_unlock (&m), ==, 0);
  g_assert_cmpint (asyncrt_mutex_unlock (&m), ==, -EPERM);
  g_assert_cmpint (asyncrt_mutex_try_lock (&m), ==, 0);
  g_assert_cmpint (asyncrt_mutex_unlock (&m), ==, 0);
  g_assert_false (asyncrt_mutex_is_locked (&m));

  g_assert_cmpint (asyncrt_mutex_try_lock (NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_mutex_unlock (NULL), ==, -EINVAL);
  g_assert_false (asyncrt_mutex_is_locked (NULL));
  asyncrt_mutex_init (NULL);
  asyncrt_mutex_clear (NULL);
  asyncrt_mutex_lock_init (NULL, &m);
  asyncrt_mutex_lock_clear (NULL);
  g_assert_cmpint (asyncrt_mutex_lock_poll (NULL, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mutex_lock_result (NULL), ==, -EINVAL);
  asyncrt_mutex_lock_init (&l, NULL);
  g_assert_cmpint (asyncrt_mutex_lock_poll (&l, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mutex_lock_result (&l), ==, -EINVAL);
  asyncrt_mutex_lock_clear (&l);

  test_cx_clear (&t);
  asyncrt_mutex_clear (&m);
}

static void
test_mutex_handoff_and_cancel (void)
{
  AsyncrtMutex m;
  AsyncrtMutexLock a, b, c;
  TestCx ta, tb, tc;
  test_cx_init (&ta);
  test_cx_init (&tb);
  test_cx_init (&tc);
  asyncrt_mutex_init (&m);
  g_assert_cmpint (asyncrt_mutex_try_lock (&m), ==, 0);

  asyncrt_mutex_lock_init (&a, &m);
  asyncrt_mutex_lock_init (&b, &m);
  asyncrt_mutex_lock_init (&c, &m);
  g_assert_cmpint (asyncrt_mutex_lock_poll (&a, ta.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_mutex_lock_poll (&b, tb.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_mutex_lock_poll (&c, tc.cx), ==, ASYNCRT_PENDING);

  /* Unlock hands the mutex straight to a (FIFO): it never looks unlocked. */
  g_assert_cmpint (asyncrt_mutex_unlock (&m), ==, 0);
  g_assert_cmpint (test_cx_wakes (&ta), ==, 1);
  g_assert_true (asyncrt_mutex_is_locked (&m));
  g_assert_cmpint (asyncrt_mutex_try_lock (&m), ==, -EBUSY);

  /* a is cleared before it saw READY: the mutex passes on to b. */
  asyncrt_mutex_lock_clear (&a);
  g_assert_cmpint (test_cx_wakes (&tb), ==, 1);
  g_assert_cmpint (test_cx_wakes (&tc), ==, 0);
  g_assert_cmpint (asyncrt_mutex_lock_poll (&b, tb.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mutex_unlock (&m), ==, 0);
  g_assert_cmpint (test_cx_wakes (&tc), ==, 1);
  g_assert_cmpint (asyncrt_mutex_lock_poll (&c, tc.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mutex_unlock (&m), ==, 0);
  g_assert_false (asyncrt_mutex_is_locked (&m));

  asyncrt_mutex_lock_clear (&b);
  asyncrt_mutex_lock_clear (&c);
  test_cx_clear (&ta);
  test_cx_clear (&tb);
  test_cx_clear (&tc);
  asyncrt_mutex_clear (&m);
}

static gpointer
mutex_thread (gpointer data)
{
  Contention *c = data;
  int idx = g_atomic_int_add (&c->next_cx, 1);
  TestCx t = c->cxs[idx];
  for (int i = 0; i < ITERS; i++)
    {
      if (i % 4 == 1 && asyncrt_mutex_try_lock (&c->mutex) == 0)
        goto locked;
      AsyncrtMutexLock l;
      if ((i + idx) % 3 == 0)
        {
          /* Start a wait and abandon it half-way (a cancelled task). */
          asyncrt_mutex_lock_init (&l, &c->mutex);
          if (asyncrt_mutex_lock_poll (&l, t.cx) == ASYNCRT_READY)
            {
              asyncrt_mutex_lock_clear (&l);
              g_assert_cmpint (asyncrt_mutex_unlock (&c->mutex), ==, 0);
            }
          else
            {
              g_usleep (20);                 /* an unlock may hand it over meanwhile */
              asyncrt_mutex_lock_clear (&l); /* cancel mid-wait */
              g_atomic_int_inc (&c->cancelled);
            }
        }
      asyncrt_mutex_lock_init (&l, &c->mutex);
      TEST_BLOCK_ON (&t, asyncrt_mutex_lock_poll (&l, t.cx));
      g_assert_cmpint (asyncrt_mutex_lock_result (&l), ==, 0);
      asyncrt_mutex_lock_clear (&l);
    locked:
      c->plain_counter++;
      if (i % 2 == 0)
        g_usleep (1);
      g_assert_cmpint (asyncrt_mutex_unlock (&c->mutex), ==, 0);
    }
  return NULL;
}

static void
test_mutex_threads (void)
{
  Contention *c = g_new0 (Contention, 1);
  asyncrt_mutex_init (&c->mutex);
  GThread *th[N_THREADS];
  for (int i = 0; i < N_THREADS; i++)
    test_cx_init (&c->cxs[i]);
  for (int i = 0; i < N_THREADS; i++)
    th[i] = g_thread_new ("mutex", mutex_thread, c);
  for (int i = 0; i < N_THREADS; i++)
    g_thread_join (th[i]);
  g_test_message ("%d waits abandoned", c->cancelled);
  g_assert_cmpint (c->plain_counter, ==, N_THREADS * ITERS);
  g_assert_false (asyncrt_mutex_is_locked (&c->mutex));
  for (int i = 0; i < N_THREADS; i++)
    test_cx_clear (&c->cxs[i]);
  asyncrt_mutex_clear (&c->mutex);
  g_free (c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sync/semaphore/basic", test_sem_basic);
  g_test_add_func ("/sync/semaphore/errors", test_sem_errors);
  g_test_add_func ("/sync/semaphore/fifo", test_sem_fifo);
  g_test_add_func ("/sync/semaphore/close", test_sem_close);
  g_test_add_func ("/sync/semaphore/cancel", test_sem_cancel);
  g_test_add_func ("/sync/semaphore/threads", test_sem_threads);
  g_test_add_func ("/sync/mutex/basic", test_mutex_basic);
  g_test_add_func ("/sync/mutex/handoff-and-cancel", test_mutex_handoff_and_cancel);
  g_test_add_func ("/sync/mutex/threads", test_mutex_threads);
  return g_test_run ();
}
