/* Review test of the multi-thread idle bookkeeping under load: after bursts of work
 * arriving every way (remote spawns, spawns from workers, foreign wakes), an idle
 * runtime must converge to every worker parked and no searcher.  A searching count
 * that drifts upwards would stop producers from ever waking a worker (they only wake
 * one when nobody searches); one that drifts downwards trips the idle assertions. */
#include "scheduler/multi_thread/multi-thread-private.h"

#include <glib.h>
#include <sched.h>

#include "test-util.h"

static atomic_ulong n_done;

static AsyncrtPoll
leaf_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  atomic_fetch_add (&n_done, 1);
  return ASYNCRT_READY;
}

static AsyncrtPoll
fanout_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  unsigned n = GPOINTER_TO_UINT (p);
  for (unsigned i = 0; i < n; i++)
    asyncrt_join_handle_free (asyncrt_handle_spawn (asyncrt_handle_current (), leaf_poll,
                                                    NULL, NULL));
  atomic_fetch_add (&n_done, 1);
  return ASYNCRT_READY;
}

static bool
wait_until (bool (*cond) (void *), void *data, unsigned base_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (base_ms) * 1000;
  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        return false;
      g_usleep (200);
    }
  return true;
}

static unsigned long target;

static bool
all_done (void *data)
{
  (void) data;
  return atomic_load (&n_done) >= target;
}

static bool
all_parked (void *data)
{
  AsyncrtMtRuntime *rt = data;
  return asyncrt__mt_idle_num_unparked (&rt->idle) == 0
         && asyncrt__mt_idle_num_searching (&rt->idle) == 0;
}

static void
test_idle_converges (gconstpointer data)
{
  unsigned workers = GPOINTER_TO_UINT (data);
  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  g_assert_cmpint (asyncrt_builder_set_worker_threads (b, workers), ==, 0);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  AsyncrtMtRuntime *mt = (AsyncrtMtRuntime *) (void *) h;
  GRand *r = g_rand_new_with_seed (workers);
  atomic_store (&n_done, 0);
  target = 0;
  unsigned bursts = g_test_slow () ? 300 : 60;

  for (unsigned i = 0; i < bursts; i++)
    {
      unsigned n_remote = (unsigned) g_rand_int_range (r, 0, 50);
      unsigned fan = (unsigned) g_rand_int_range (r, 0, 300);
      for (unsigned k = 0; k < n_remote; k++)
        asyncrt_join_handle_free (asyncrt_handle_spawn (h, leaf_poll, NULL, NULL));
      asyncrt_join_handle_free (asyncrt_handle_spawn (h, fanout_poll,
                                                      GUINT_TO_POINTER (fan), NULL));
      target += n_remote + 1 + fan;
      g_assert_true (wait_until (all_done, NULL, 10000));
      if (i % 10 == 9)
        {
          /* Quiet now: every worker must end up parked, nobody searching. */
          if (!wait_until (all_parked, mt, 10000))
            g_error ("burst %u: idle runtime did not converge: %u unparked, %u searching",
                     i, asyncrt__mt_idle_num_unparked (&mt->idle),
                     asyncrt__mt_idle_num_searching (&mt->idle));
        }
    }
  g_test_message ("%lu tasks in %u bursts", target, bursts);
  g_rand_free (r);
  asyncrt_runtime_free (rt);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/review/mt/idle-converges/2", GUINT_TO_POINTER (2), test_idle_converges);
  g_test_add_data_func ("/review/mt/idle-converges/3", GUINT_TO_POINTER (3), test_idle_converges);
  g_test_add_data_func ("/review/mt/idle-converges/4", GUINT_TO_POINTER (4), test_idle_converges);
  return g_test_run ();
}
