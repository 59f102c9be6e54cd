/* Tests of the oneshot channel, driven by hand (no runtime). */
#include "sync-test-util.h"

#include <errno.h>

static gint freed;

static void
count_free (void *v)
{
  g_atomic_int_inc (&freed);
  g_free (v);
}

static void
test_send_then_recv (void)
{
  AsyncrtOneshotSender *tx;
  AsyncrtOneshotReceiver *rx;
  void *v = NULL;
  g_assert_cmpint (asyncrt_oneshot_new (NULL, &tx, &rx), ==, 0);
  g_assert_cmpint (asyncrt_oneshot_try_recv (rx, &v), ==, -EAGAIN);
  g_assert_false (asyncrt_oneshot_sender_is_closed (tx));
  g_assert_cmpint (asyncrt_oneshot_send (tx, GINT_TO_POINTER (42)), ==, 0);

  TestCx t;
  test_cx_init (&t);
  AsyncrtOneshotRecv r;
  asyncrt_oneshot_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_oneshot_recv_result (&r, &v), ==, -EINPROGRESS);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_oneshot_recv_result (&r, &v), ==, 0);
  g_assert_cmpint (GPOINTER_TO_INT (v), ==, 42);
  g_assert_cmpint (asyncrt_oneshot_recv_result (&r, &v), ==, -ENOMSG);
  asyncrt_oneshot_recv_clear (&r);
  /* The value was taken: nothing more to receive. */
  g_assert_cmpint (asyncrt_oneshot_try_recv (rx, &v), ==, -EPIPE);
  asyncrt_oneshot_receiver_free (rx);
  test_cx_clear (&t);
}

static void
test_recv_waits (void)
{
  AsyncrtOneshotSender *tx;
  AsyncrtOneshotReceiver *rx;
  void *v = NULL;
  TestCx t;
  test_cx_init (&t);
  asyncrt_oneshot_new (NULL, &tx, &rx);
  AsyncrtOneshotRecv r;
  asyncrt_oneshot_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (test_cx_extra_refs (&t), ==, 1);
  g_assert_cmpint (asyncrt_oneshot_send (tx, GINT_TO_POINTER (7)), ==, 0);
  g_assert_cmpint (test_cx_wakes (&t), ==, 1);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_oneshot_recv_result (&r, &v), ==, 0);
  g_assert_cmpint (GPOINTER_TO_INT (v), ==, 7);
  asyncrt_oneshot_recv_clear (&r);
  asyncrt_oneshot_receiver_free (rx);
  test_cx_clear (&t);
}

static void
test_sender_dropped (void)
{
  AsyncrtOneshotSender *tx;
  AsyncrtOneshotReceiver *rx;
  void *v = NULL;
  TestCx t;
  test_cx_init (&t);
  asyncrt_oneshot_new (NULL, &tx, &rx);
  AsyncrtOneshotRecv r;
  asyncrt_oneshot_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_PENDING);
  asyncrt_oneshot_sender_free (tx);
  g_assert_cmpint (test_cx_wakes (&t), ==, 1);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_oneshot_recv_result (&r, &v), ==, -EPIPE);
  asyncrt_oneshot_recv_clear (&r);
  g_assert_cmpint (asyncrt_oneshot_try_recv (rx, &v), ==, -EPIPE);
  asyncrt_oneshot_receiver_free (rx);
  test_cx_clear (&t);
}

static void
test_receiver_close_and_free (void)
{
  AsyncrtOneshotSender *tx;
  AsyncrtOneshotReceiver *rx;
  void *v = NULL;

  /* Close refuses later sends; the caller keeps the value. */
  asyncrt_oneshot_new (count_free, &tx, &rx);
  asyncrt_oneshot_receiver_close (rx);
  g_assert_true (asyncrt_oneshot_sender_is_closed (tx));
  int *val = g_new (int, 1);
  g_assert_cmpint (asyncrt_oneshot_send (tx, val), ==, -EPIPE);
  g_free (val);
  g_assert_cmpint (asyncrt_oneshot_try_recv (rx, &v), ==, -EPIPE);
  asyncrt_oneshot_receiver_free (rx);

  /* A value sent before close is still received. */
  asyncrt_oneshot_new (count_free, &tx, &rx);
  g_assert_cmpint (asyncrt_oneshot_send (tx, g_new (int, 1)), ==, 0);
  asyncrt_oneshot_receiver_close (rx);
  g_assert_cmpint (asyncrt_oneshot_try_recv (rx, &v), ==, 0);
  g_free (v);
  asyncrt_oneshot_receiver_free (rx);

  /* Freeing the receiver frees an unreceived value; later sends fail. */
  g_atomic_int_set (&freed, 0);
  asyncrt_oneshot_new (count_free, &tx, &rx);
  g_assert_cmpint (asyncrt_oneshot_send (tx, g_new (int, 1)), ==, 0);
  asyncrt_oneshot_receiver_free (rx);
  g_assert_cmpint (freed, ==, 1);

  asyncrt_oneshot_new (count_free, &tx, &rx);
  asyncrt_oneshot_receiver_free (rx);
  g_assert_true (asyncrt_oneshot_sender_is_closed (tx));
  val = g_new (int, 1);
  g_assert_cmpint (asyncrt_oneshot_send (tx, val), ==, -EPIPE);
  g_free (val);

  /* A receive future that took the value but was cleared uncollected frees it. */
  g_atomic_int_set (&freed, 0);
  TestCx t;
  test_cx_init (&t);
  asyncrt_oneshot_new (count_free, &tx, &rx);
  asyncrt_oneshot_send (tx, g_new (int, 1));
  AsyncrtOneshotRecv r;
  asyncrt_oneshot_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  asyncrt_oneshot_recv_clear (&r);
  g_assert_cmpint (freed, ==, 1);
  asyncrt_oneshot_receiver_free (rx);
  g_assert_cmpint (freed, ==, 1);
  test_cx_clear (&t);
}

static void
test_cancel (void)
{
  AsyncrtOneshotSender *tx;
  AsyncrtOneshotReceiver *rx;
  void *v = NULL;
  TestCx t;
  test_cx_init (&t);
  asyncrt_oneshot_new (NULL, &tx, &rx);
  AsyncrtOneshotRecv r;
  asyncrt_oneshot_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_PENDING);
  asyncrt_oneshot_recv_clear (&r);
  g_assert_cmpint (test_cx_extra_refs (&t), ==, 0);
  g_assert_cmpint (asyncrt_oneshot_send (tx, GINT_TO_POINTER (9)), ==, 0);
  g_assert_cmpint (test_cx_wakes (&t), ==, 0);
  /* The value is still there for the next receive. */
  asyncrt_oneshot_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_oneshot_recv_result (&r, &v), ==, 0);
  g_assert_cmpint (GPOINTER_TO_INT (v), ==, 9);
  asyncrt_oneshot_recv_clear (&r);
  asyncrt_oneshot_receiver_free (rx);
  test_cx_clear (&t);
}

static void
test_null (void)
{
  AsyncrtOneshotSender *tx;
  AsyncrtOneshotReceiver *rx;
  void *v;
  TestCx t;
  test_cx_init (&t);
  g_assert_cmpint (asyncrt_oneshot_new (NULL, NULL, &rx), ==, -EINVAL);
  g_assert_cmpint (asyncrt_oneshot_new (NULL, &tx, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_oneshot_send (NULL, NULL), ==, -EINVAL);
  g_assert_true (asyncrt_oneshot_sender_is_closed (NULL));
  asyncrt_oneshot_sender_free (NULL);
  g_assert_cmpint (asyncrt_oneshot_try_recv (NULL, &v), ==, -EINVAL);
  asyncrt_oneshot_receiver_close (NULL);
  asyncrt_oneshot_receiver_free (NULL);
  asyncrt_oneshot_recv_init (NULL, NULL);
  asyncrt_oneshot_recv_clear (NULL);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (NULL, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_oneshot_recv_result (NULL, &v), ==, -EINVAL);
  AsyncrtOneshotRecv r;
  asyncrt_oneshot_recv_init (&r, NULL);
  g_assert_cmpint (asyncrt_oneshot_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_oneshot_recv_result (&r, &v), ==, -EINVAL);
  asyncrt_oneshot_recv_clear (&r);

  asyncrt_oneshot_new (NULL, &tx, &rx);
  g_assert_cmpint (asyncrt_oneshot_try_recv (rx, NULL), ==, -EINVAL);
  asyncrt_oneshot_sender_free (tx);
  asyncrt_oneshot_receiver_free (rx);
  test_cx_clear (&t);
}

/* Many channels, each sent on one thread and received on another, with the sender
 * and the receiver racing; every value arrives exactly once. */
#define N_CHANNELS 2000

typedef struct
{
  AsyncrtOneshotSender *tx[N_CHANNELS];
  AsyncrtOneshotReceiver *rx[N_CHANNELS];
  TestCx cx;
} Pairs;

static gpointer
oneshot_sender_thread (gpointer data)
{
  Pairs *p = data;
  for (int i = 0; i < N_CHANNELS; i++)
    {
      if (i % 10 == 9)
        asyncrt_oneshot_sender_free (p->tx[i]);
      else
        g_assert_cmpint (asyncrt_oneshot_send (p->tx[i], GINT_TO_POINTER (i + 1)), ==, 0);
    }
  return NULL;
}

static void
test_threads (void)
{
  Pairs *p = g_new0 (Pairs, 1);
  test_cx_init (&p->cx);
  for (int i = 0; i < N_CHANNELS; i++)
    asyncrt_oneshot_new (NULL, &p->tx[i], &p->rx[i]);
  GThread *th = g_thread_new ("sender", oneshot_sender_thread, p);
  long sum = 0, expected = 0;
  int epipe = 0;
  for (int i = 0; i < N_CHANNELS; i++)
    {
      AsyncrtOneshotRecv r;
      void *v = NULL;
      asyncrt_oneshot_recv_init (&r, p->rx[i]);
      TEST_BLOCK_ON (&p->cx, asyncrt_oneshot_recv_poll (&r, p->cx.cx));
      int res = asyncrt_oneshot_recv_result (&r, &v);
      if (res == -EPIPE)
        epipe++;
      else
        {
          g_assert_cmpint (res, ==, 0);
          sum += GPOINTER_TO_INT (v);
        }
      if (i % 10 != 9)
        expected += i + 1;
      asyncrt_oneshot_recv_clear (&r);
      asyncrt_oneshot_receiver_free (p->rx[i]);
    }
  g_thread_join (th);
  g_assert_cmpint (sum, ==, expected);
  g_assert_cmpint (epipe, ==, N_CHANNELS / 10);
  test_cx_clear (&p->cx);
  g_free (p);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sync/oneshot/send-then-recv", test_send_then_recv);
  g_test_add_func ("/sync/oneshot/recv-waits", test_recv_waits);
  g_test_add_func ("/sync/oneshot/sender-dropped", test_sender_dropped);
  g_test_add_func ("/sync/oneshot/receiver-close-and-free", test_receiver_close_and_free);
  g_test_add_func ("/sync/oneshot/cancel", test_cancel);
  g_test_add_func ("/sync/oneshot/null", test_null);
  g_test_add_func ("/sync/oneshot/threads", test_threads);
  return g_test_run ();
}
