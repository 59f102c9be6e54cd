/* The multi-thread dump barrier: arrive / lead / release / deadline / cancel and
 * withdraw, under many threads (run it under TSan too). */
#include "scheduler/multi_thread/multi-thread-private.h"
#include "test-util.h"

#define N 8

typedef struct
{
  AsyncrtMtBarrier *b;
  unsigned index;
  unsigned delay_us;
  AsyncrtMtBarrierResult res;
  bool lead_saw_all_present;      /* filled by the leader */
  unsigned lead_n_present;
  bool release;                   /* the leader releases (else the test does) */
} Arrival;

static void *
arrive_thread (void *p)
{
  Arrival *a = p;
  if (a->delay_us > 0)
    g_usleep (a->delay_us);
  a->res = asyncrt__mt_barrier_arrive (a->b, a->index);
  if (a->res == ASYNCRT_MT_BARRIER_LEAD)
    {
      a->lead_n_present = asyncrt__mt_barrier_n_present (a->b);
      if (a->release)
        asyncrt__mt_barrier_release (a->b);
    }
  return NULL;
}

static uint64_t
deadline_in_ms (unsigned ms)
{
  return asyncrt__clock_now_ns () + (uint64_t) ms * 1000000u;
}

static void
test_all_arrive (void)
{
  for (int round = 0; round < 50; round++)
    {
      AsyncrtMtBarrier b;
      asyncrt__mt_barrier_init (&b, N, deadline_in_ms (test_timeout_ms (10000)));
      Arrival a[N];
      pthread_t th[N];
      for (unsigned i = 0; i < N; i++)
        {
          a[i] = (Arrival) { &b, i, (unsigned) g_random_int_range (0, 200), 0, false, 0, true };
          pthread_create (&th[i], NULL, arrive_thread, &a[i]);
        }
      unsigned leads = 0, released = 0;
      for (unsigned i = 0; i < N; i++)
        {
          pthread_join (th[i], NULL);
          leads += a[i].res == ASYNCRT_MT_BARRIER_LEAD;
          released += a[i].res == ASYNCRT_MT_BARRIER_RELEASED;
          if (a[i].res == ASYNCRT_MT_BARRIER_LEAD)
            g_assert_cmpuint (a[i].lead_n_present, ==, N);
        }
      g_assert_cmpuint (leads, ==, 1);
      g_assert_cmpuint (released, ==, N - 1);
      /* Too late, or a second time: closed at once. */
      g_assert_cmpint (asyncrt__mt_barrier_arrive (&b, 0), ==, ASYNCRT_MT_BARRIER_CLOSED);
      g_assert_false (asyncrt__mt_barrier_cancel (&b));
      asyncrt__mt_barrier_clear (&b);
    }
}

static void
test_deadline_with_missing (void)
{
  const unsigned present = 5;
  AsyncrtMtBarrier b;
  uint64_t start = asyncrt__clock_now_ns ();
  asyncrt__mt_barrier_init (&b, N, start + 50000000u);
  Arrival a[N];
  pthread_t th[N];
  for (unsigned i = 0; i < present; i++)
    {
      a[i] = (Arrival) { &b, i, 0, 0, false, 0, false };
      pthread_create (&th[i], NULL, arrive_thread, &a[i]);
    }
  /* Wait for the leader (it does not release: the test checks the present set). */
  int leader = -1;
  while (leader < 0)
    {
      pthread_mutex_lock (&b.lock);
      leader = b.leader;
      pthread_mutex_unlock (&b.lock);
      g_usleep (1000);
    }
  g_assert_cmpuint (asyncrt__clock_now_ns (), >=, start + 50000000u);
  for (unsigned i = 0; i < N; i++)
    g_assert_cmpint (asyncrt__mt_barrier_is_present (&b, i), ==, i < present);
  /* A late worker does not wait, and is not counted. */
  g_assert_cmpint (asyncrt__mt_barrier_arrive (&b, present), ==, ASYNCRT_MT_BARRIER_CLOSED);
  g_assert_false (asyncrt__mt_barrier_is_present (&b, present));
  g_assert_false (asyncrt__mt_barrier_cancel (&b));   /* a leader exists */
  asyncrt__mt_barrier_release (&b);
  unsigned leads = 0, released = 0;
  for (unsigned i = 0; i < present; i++)
    {
      pthread_join (th[i], NULL);
      leads += a[i].res == ASYNCRT_MT_BARRIER_LEAD;
      released += a[i].res == ASYNCRT_MT_BARRIER_RELEASED;
    }
  g_assert_cmpuint (leads, ==, 1);
  g_assert_cmpuint (released, ==, present - 1);
  g_assert_cmpint (a[leader].res, ==, ASYNCRT_MT_BARRIER_LEAD);
  asyncrt__mt_barrier_clear (&b);
}

static void
test_cancel_withdraws (void)
{
  AsyncrtMtBarrier b;
  asyncrt__mt_barrier_init (&b, N, deadline_in_ms (test_timeout_ms (10000)));
  Arrival a[N - 1];
  pthread_t th[N - 1];
  for (unsigned i = 0; i < N - 1; i++)
    {
      a[i] = (Arrival) { &b, i, 0, 0, false, 0, true };
      pthread_create (&th[i], NULL, arrive_thread, &a[i]);
    }
  uint64_t give_up = deadline_in_ms (test_timeout_ms (5000));
  while (asyncrt__mt_barrier_n_present (&b) < N - 1)
    {
      g_assert_cmpuint (asyncrt__clock_now_ns (), <, give_up);
      g_usleep (1000);
    }
  g_assert_true (asyncrt__mt_barrier_cancel (&b));
  for (unsigned i = 0; i < N - 1; i++)
    {
      pthread_join (th[i], NULL);
      g_assert_cmpint (a[i].res, ==, ASYNCRT_MT_BARRIER_WITHDRAWN);
    }
  /* Every arrival was withdrawn: the last worker arriving now must not lead. */
  g_assert_cmpuint (asyncrt__mt_barrier_n_present (&b), ==, 0);
  g_assert_cmpint (asyncrt__mt_barrier_arrive (&b, N - 1), ==, ASYNCRT_MT_BARRIER_CLOSED);
  g_assert_false (asyncrt__mt_barrier_cancel (&b));
  asyncrt__mt_barrier_clear (&b);
}

static void
test_bad_worker (void)
{
  AsyncrtMtBarrier b;
  asyncrt__mt_barrier_init (&b, 2, deadline_in_ms (1000));
  g_assert_cmpint (asyncrt__mt_barrier_arrive (&b, 2), ==, ASYNCRT_MT_BARRIER_CLOSED);
  g_assert_false (asyncrt__mt_barrier_is_present (&b, 7));
  asyncrt__mt_barrier_clear (&b);
}

/* Random subsets, random deadlines and cancels racing the arrivals: exactly one
 * leader unless cancelled first; a cancelled round has no leader and every arrival
 * withdraws; the leader's present count equals the number it releases plus one. */
static void
test_stress (void)
{
  const int rounds = g_test_slow () ? 400 : 120;
  for (int round = 0; round < rounds; round++)
    {
      AsyncrtMtBarrier b;
      unsigned n_arrive = (unsigned) g_random_int_range (1, N + 1);
      asyncrt__mt_barrier_init (&b, N, deadline_in_ms ((unsigned) g_random_int_range (1, 5)));
      Arrival a[N];
      pthread_t th[N];
      for (unsigned i = 0; i < n_arrive; i++)
        {
          a[i] = (Arrival) { &b, i, (unsigned) g_random_int_range (0, 3000), 0, false, 0, true };
          pthread_create (&th[i], NULL, arrive_thread, &a[i]);
        }
      bool cancelled = false;
      if (g_random_boolean ())
        {
          g_usleep ((unsigned) g_random_int_range (0, 3000));
          cancelled = asyncrt__mt_barrier_cancel (&b);
        }
      unsigned leads = 0, released = 0, withdrawn = 0, closed = 0, lead_present = 0;
      for (unsigned i = 0; i < n_arrive; i++)
        {
          pthread_join (th[i], NULL);
          switch (a[i].res)
            {
            case ASYNCRT_MT_BARRIER_LEAD:
              leads++;
              lead_present = a[i].lead_n_present;
              break;
            case ASYNCRT_MT_BARRIER_RELEASED:
              released++;
              break;
            case ASYNCRT_MT_BARRIER_WITHDRAWN:
              withdrawn++;
              break;
            default:
              closed++;
              break;
            }
        }
      if (cancelled)
        {
          g_assert_cmpuint (leads, ==, 0);
          g_assert_cmpuint (released, ==, 0);
          g_assert_cmpuint (withdrawn + closed, ==, n_arrive);
          g_assert_cmpuint (asyncrt__mt_barrier_n_present (&b), ==, 0);
        }
      else
        {
          g_assert_cmpuint (leads, ==, 1);
          g_assert_cmpuint (withdrawn, ==, 0);
          g_assert_cmpuint (lead_present, ==, released + 1);
          g_assert_cmpuint (released + closed + 1, ==, n_arrive);
        }
      asyncrt__mt_barrier_clear (&b);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dump/barrier/all-arrive", test_all_arrive);
  g_test_add_func ("/dump/barrier/deadline-with-missing", test_deadline_with_missing);
  g_test_add_func ("/dump/barrier/cancel-withdraws", test_cancel_withdraws);
  g_test_add_func ("/dump/barrier/bad-worker", test_bad_worker);
  g_test_add_func ("/dump/barrier/stress", test_stress);
  return g_test_run ();
}
