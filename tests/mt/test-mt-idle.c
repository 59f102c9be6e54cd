/* Unit tests of the multi-thread scheduler's idle coordination and parker. */
#include "scheduler/multi_thread/multi-thread-private.h"

#include <glib.h>

#include "test-util.h"

static void
test_idle_searching_limit (void)
{
  AsyncrtMtIdle idle;
  asyncrt__mt_idle_init (&idle, 4);
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 4);
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 0);
  /* Everybody is awake: nobody to notify. */
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, -1);

  /* At most half of the workers search. */
  g_assert_true (asyncrt__mt_idle_transition_to_searching (&idle));
  g_assert_true (asyncrt__mt_idle_transition_to_searching (&idle));
  g_assert_false (asyncrt__mt_idle_transition_to_searching (&idle));
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 2);

  g_assert_false (asyncrt__mt_idle_transition_from_searching (&idle));
  g_assert_true (asyncrt__mt_idle_transition_from_searching (&idle)); /* the last */
  asyncrt__mt_idle_clear (&idle);

  /* One worker may always search. */
  asyncrt__mt_idle_init (&idle, 1);
  g_assert_true (asyncrt__mt_idle_transition_to_searching (&idle));
  g_assert_false (asyncrt__mt_idle_transition_to_searching (&idle));
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 0, true));
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 0);
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, 0);
  asyncrt__mt_idle_clear (&idle);
}

static void
test_idle_notify_one_at_a_time (void)
{
  AsyncrtMtIdle idle;
  asyncrt__mt_idle_init (&idle, 4);

  g_assert_false (asyncrt__mt_idle_transition_to_parked (&idle, 0, false));
  g_assert_false (asyncrt__mt_idle_transition_to_parked (&idle, 1, false));
  g_assert_false (asyncrt__mt_idle_transition_to_parked (&idle, 2, false));
  g_assert_true (asyncrt__mt_idle_is_parked (&idle, 2));
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 1);

  /* New work wakes the most recently parked worker, as a searcher... */
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, 2);
  g_assert_false (asyncrt__mt_idle_is_parked (&idle, 2));
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 1);
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 2);
  /* ...and no other while it searches (no thundering herd). */
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, -1);
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, -1);

  /* It finds work; being the last searcher it wakes the next one. */
  g_assert_true (asyncrt__mt_idle_transition_from_searching (&idle));
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, 1);

  /* A searcher that parks as the last searcher must re-check the queues. */
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 1, true));
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 0);

  /* A worker that finds work of its own removes itself (not searching). */
  g_assert_true (asyncrt__mt_idle_unpark_worker_by_id (&idle, 0));
  g_assert_false (asyncrt__mt_idle_unpark_worker_by_id (&idle, 0));
  g_assert_false (asyncrt__mt_idle_is_parked (&idle, 0));
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 0);
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 3);

  /* Unpark everybody through the bookkeeping. */
  unsigned out[4];
  g_assert_cmpuint (asyncrt__mt_idle_unpark_all (&idle, out), ==, 1);
  g_assert_cmpuint (out[0], ==, 1);
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 4);
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 1);
  g_assert_cmpuint (asyncrt__mt_idle_unpark_all (&idle, out), ==, 0);
  asyncrt__mt_idle_clear (&idle);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mt/idle/searching-limit", test_idle_searching_limit);
  g_test_add_func ("/mt/idle/notify-one-at-a-time", test_idle_notify_one_at_a_time);
  return g_test_run ();
}
