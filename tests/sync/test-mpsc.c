/* Tests of the mpsc channel, driven by hand (no runtime). */
#include "sync-test-util.h"

#include <errno.h>

static gint freed;

static void
count_free (void *v)
{
  g_atomic_int_inc (&freed);
  g_free (v);
}

#define P(i) GINT_TO_POINTER (i)

static int
recv_now (AsyncrtMpscReceiver *rx)
{
  void *m = NULL;
  int r = asyncrt_mpsc_try_recv (rx, &m);
  return r == 0 ? GPOINTER_TO_INT (m) : r;
}

static void
test_unbounded (void)
{
  AsyncrtMpscSender *tx;
  AsyncrtMpscReceiver *rx;
  void *m = NULL;
  g_assert_cmpint (asyncrt_mpsc_new (0, NULL, &tx, &rx), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_try_recv (rx, &m), ==, -EAGAIN);
  for (int i = 1; i <= 1000; i++)
    g_assert_cmpint (asyncrt_mpsc_try_send (tx, P (i)), ==, 0);
  g_assert_cmpuint (asyncrt_mpsc_receiver_get_length (rx), ==, 1000);
  for (int i = 1; i <= 500; i++)
    g_assert_cmpint (recv_now (rx), ==, i);
  /* Wrap around the ring while it holds messages. */
  for (int i = 1001; i <= 1500; i++)
    g_assert_cmpint (asyncrt_mpsc_try_send (tx, P (i)), ==, 0);
  for (int i = 501; i <= 1500; i++)
    g_assert_cmpint (recv_now (rx), ==, i);

  /* The send future never waits on an unbounded channel. */
  TestCx t;
  test_cx_init (&t);
  AsyncrtMpscSend s;
  asyncrt_mpsc_send_init (&s, tx, P (5));
  g_assert_cmpint (asyncrt_mpsc_send_result (&s), ==, -EINPROGRESS);
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_send_result (&s), ==, 0);
  asyncrt_mpsc_send_clear (&s);

  AsyncrtMpscRecv r;
  asyncrt_mpsc_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_recv_result (&r, &m), ==, 0);
  g_assert_cmpint (GPOINTER_TO_INT (m), ==, 5);
  g_assert_cmpint (asyncrt_mpsc_recv_result (&r, &m), ==, -ENOMSG);
  asyncrt_mpsc_recv_clear (&r);

  asyncrt_mpsc_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, t.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_mpsc_try_send (tx, P (6)), ==, 0);
  g_assert_cmpint (test_cx_wakes (&t), ==, 1);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_recv_result (&r, &m), ==, 0);
  g_assert_cmpint (GPOINTER_TO_INT (m), ==, 6);
  asyncrt_mpsc_recv_clear (&r);

  asyncrt_mpsc_sender_free (tx);
  asyncrt_mpsc_receiver_free (rx);
  test_cx_clear (&t);
}

static void
test_bounded (void)
{
  AsyncrtMpscSender *tx;
  AsyncrtMpscReceiver *rx;
  TestCx t1, t2;
  test_cx_init (&t1);
  test_cx_init (&t2);
  g_assert_cmpint (asyncrt_mpsc_new (2, NULL, &tx, &rx), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_try_send (tx, P (1)), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_try_send (tx, P (2)), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_try_send (tx, P (99)), ==, -EAGAIN);

  AsyncrtMpscSend s1, s2;
  asyncrt_mpsc_send_init (&s1, tx, P (3));
  asyncrt_mpsc_send_init (&s2, tx, P (4));
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s1, t1.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s2, t2.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (recv_now (rx), ==, 1);
  g_assert_cmpint (test_cx_wakes (&t1), ==, 1);
  g_assert_cmpint (test_cx_wakes (&t2), ==, 0);
  /* The freed slot is reserved for s1: try_send cannot take it. */
  g_assert_cmpint (asyncrt_mpsc_try_send (tx, P (99)), ==, -EAGAIN);
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s1, t1.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_send_result (&s1), ==, 0);
  g_assert_cmpint (recv_now (rx), ==, 2);
  g_assert_cmpint (test_cx_wakes (&t2), ==, 1);
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s2, t2.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (recv_now (rx), ==, 3);
  g_assert_cmpint (recv_now (rx), ==, 4);
  g_assert_cmpint (recv_now (rx), ==, -EAGAIN);
  asyncrt_mpsc_send_clear (&s1);
  asyncrt_mpsc_send_clear (&s2);

  asyncrt_mpsc_sender_free (tx);
  asyncrt_mpsc_receiver_free (rx);
  test_cx_clear (&t1);
  test_cx_clear (&t2);
}

static void
test_senders_dropped (void)
{
  AsyncrtMpscSender *tx, *tx2;
  AsyncrtMpscReceiver *rx;
  void *m;
  TestCx t;
  test_cx_init (&t);
  asyncrt_mpsc_new (0, NULL, &tx, &rx);
  tx2 = asyncrt_mpsc_sender_clone (tx);
  g_assert_nonnull (tx2);
  asyncrt_mpsc_try_send (tx2, P (1));
  asyncrt_mpsc_sender_free (tx);

  AsyncrtMpscRecv r;
  asyncrt_mpsc_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_recv_result (&r, &m), ==, 0);
  asyncrt_mpsc_recv_clear (&r);
  asyncrt_mpsc_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, t.cx), ==, ASYNCRT_PENDING);
  asyncrt_mpsc_try_send (tx2, P (2));
  /* The last sender goes: the queued message first, then the end. */
  asyncrt_mpsc_sender_free (tx2);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_recv_result (&r, &m), ==, 0);
  g_assert_cmpint (GPOINTER_TO_INT (m), ==, 2);
  asyncrt_mpsc_recv_clear (&r);

  asyncrt_mpsc_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_recv_result (&r, &m), ==, -EPIPE);
  asyncrt_mpsc_recv_clear (&r);
  g_assert_cmpint (asyncrt_mpsc_try_recv (rx, &m), ==, -EPIPE);

  /* A receive waiting on an empty channel is woken by the last sender's drop. */
  asyncrt_mpsc_receiver_free (rx);
  asyncrt_mpsc_new (4, NULL, &tx, &rx);
  asyncrt_mpsc_recv_init (&r, rx);
  int seen = test_cx_wakes (&t);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, t.cx), ==, ASYNCRT_PENDING);
  asyncrt_mpsc_sender_free (tx);
  g_assert_cmpint (test_cx_wakes (&t), ==, seen + 1);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_recv_result (&r, &m), ==, -EPIPE);
  asyncrt_mpsc_recv_clear (&r);
  asyncrt_mpsc_receiver_free (rx);
  test_cx_clear (&t);
}

static void
test_receiver_close (void)
{
  AsyncrtMpscSender *tx;
  AsyncrtMpscReceiver *rx;
  void *m;
  TestCx t, tr;
  test_cx_init (&t);
  test_cx_init (&tr);
  asyncrt_mpsc_new (1, NULL, &tx, &rx);
  asyncrt_mpsc_try_send (tx, P (1));
  AsyncrtMpscSend s;
  asyncrt_mpsc_send_init (&s, tx, P (2));
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s, t.cx), ==, ASYNCRT_PENDING);
  g_assert_false (asyncrt_mpsc_sender_is_closed (tx));
  asyncrt_mpsc_receiver_close (rx);
  g_assert_true (asyncrt_mpsc_sender_is_closed (tx));
  g_assert_cmpint (test_cx_wakes (&t), ==, 1);
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_send_result (&s), ==, -EPIPE);
  asyncrt_mpsc_send_clear (&s);
  g_assert_cmpint (asyncrt_mpsc_try_send (tx, P (3)), ==, -EPIPE);
  asyncrt_mpsc_send_init (&s, tx, P (3));
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_send_result (&s), ==, -EPIPE);
  asyncrt_mpsc_send_clear (&s);
  /* Queued messages survive the close. */
  g_assert_cmpint (recv_now (rx), ==, 1);
  g_assert_cmpint (asyncrt_mpsc_try_recv (rx, &m), ==, -EPIPE);

  /* A receive waiting on an empty channel sees the end when it is closed. */
  asyncrt_mpsc_sender_free (tx);
  asyncrt_mpsc_receiver_free (rx);
  asyncrt_mpsc_new (1, NULL, &tx, &rx);
  AsyncrtMpscRecv r;
  asyncrt_mpsc_recv_init (&r, rx);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, tr.cx), ==, ASYNCRT_PENDING);
  asyncrt_mpsc_receiver_close (rx);
  g_assert_cmpint (test_cx_wakes (&tr), ==, 1);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, tr.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_recv_result (&r, &m), ==, -EPIPE);
  asyncrt_mpsc_recv_clear (&r);
  asyncrt_mpsc_receiver_free (rx);
  asyncrt_mpsc_sender_free (tx);
  test_cx_clear (&t);
  test_cx_clear (&tr);
}

static void
test_receiver_free (void)
{
  AsyncrtMpscSender *tx;
  AsyncrtMpscReceiver *rx;
  TestCx t;
  test_cx_init (&t);
  g_atomic_int_set (&freed, 0);
  asyncrt_mpsc_new (2, count_free, &tx, &rx);
  asyncrt_mpsc_try_send (tx, g_new (int, 1));
  asyncrt_mpsc_try_send (tx, g_new (int, 1));
  int *unsent = g_new (int, 1);
  AsyncrtMpscSend s;
  asyncrt_mpsc_send_init (&s, tx, unsent);
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s, t.cx), ==, ASYNCRT_PENDING);
  asyncrt_mpsc_receiver_free (rx);
  g_assert_cmpint (freed, ==, 2);
  g_assert_cmpint (test_cx_wakes (&t), ==, 1);
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_send_result (&s), ==, -EPIPE);
  asyncrt_mpsc_send_clear (&s);
  g_free (unsent);                         /* still ours */
  asyncrt_mpsc_sender_free (tx);

  /* Messages left when the last handle is a sender: freed with the channel. */
  asyncrt_mpsc_new (0, count_free, &tx, &rx);
  asyncrt_mpsc_try_send (tx, g_new (int, 1));
  asyncrt_mpsc_sender_free (tx);
  asyncrt_mpsc_receiver_free (rx);
  g_assert_cmpint (freed, ==, 3);
  test_cx_clear (&t);
}

static void
test_cancel_recv (void)
{
  AsyncrtMpscSender *tx;
  AsyncrtMpscReceiver *rx;
  void *m;
  TestCx t1, t2;
  test_cx_init (&t1);
  test_cx_init (&t2);
  g_atomic_int_set (&freed, 0);
  asyncrt_mpsc_new (0, count_free, &tx, &rx);

  /* Two receive futures (e.g. in a select): a wake-up for a cleared one passes on. */
  AsyncrtMpscRecv r1, r2;
  asyncrt_mpsc_recv_init (&r1, rx);
  asyncrt_mpsc_recv_init (&r2, rx);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r1, t1.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r2, t2.cx), ==, ASYNCRT_PENDING);
  int *msg = g_new (int, 1);
  *msg = 11;
  asyncrt_mpsc_try_send (tx, msg);
  g_assert_cmpint (test_cx_wakes (&t1), ==, 1);
  g_assert_cmpint (test_cx_wakes (&t2), ==, 0);
  asyncrt_mpsc_recv_clear (&r1);
  g_assert_cmpint (test_cx_wakes (&t2), ==, 1);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r2, t2.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_recv_result (&r2, &m), ==, 0);
  g_assert_true (m == msg);
  g_free (m);
  asyncrt_mpsc_recv_clear (&r2);

  /* Cleared while waiting: nothing is taken; the message stays queued. */
  asyncrt_mpsc_recv_init (&r1, rx);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r1, t1.cx), ==, ASYNCRT_PENDING);
  asyncrt_mpsc_recv_clear (&r1);
  asyncrt_mpsc_try_send (tx, g_new (int, 1));
  g_assert_cmpuint (asyncrt_mpsc_receiver_get_length (rx), ==, 1);

  /* Taken but never collected: freed by clear, not leaked. */
  asyncrt_mpsc_recv_init (&r1, rx);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r1, t1.cx), ==, ASYNCRT_READY);
  asyncrt_mpsc_recv_clear (&r1);
  g_assert_cmpint (freed, ==, 1);

  asyncrt_mpsc_sender_free (tx);
  asyncrt_mpsc_receiver_free (rx);
  test_cx_clear (&t1);
  test_cx_clear (&t2);
}

static void
test_cancel_send (void)
{
  AsyncrtMpscSender *tx;
  AsyncrtMpscReceiver *rx;
  TestCx t1, t2;
  test_cx_init (&t1);
  test_cx_init (&t2);
  asyncrt_mpsc_new (1, NULL, &tx, &rx);
  asyncrt_mpsc_try_send (tx, P (1));

  AsyncrtMpscSend s1, s2;
  asyncrt_mpsc_send_init (&s1, tx, P (2));
  asyncrt_mpsc_send_init (&s2, tx, P (3));
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s1, t1.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s2, t2.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (recv_now (rx), ==, 1);
  g_assert_cmpint (test_cx_wakes (&t1), ==, 1);
  /* s1 got the slot but is cleared: its message is not sent, the slot goes to s2. */
  asyncrt_mpsc_send_clear (&s1);
  g_assert_cmpint (test_cx_wakes (&t2), ==, 1);
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s2, t2.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_send_result (&s2), ==, 0);
  asyncrt_mpsc_send_clear (&s2);
  g_assert_cmpint (recv_now (rx), ==, 3);
  g_assert_cmpint (recv_now (rx), ==, -EAGAIN);

  /* Cleared while waiting: removed; the next free slot is anyone's. */
  asyncrt_mpsc_try_send (tx, P (4));
  asyncrt_mpsc_send_init (&s1, tx, P (5));
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s1, t1.cx), ==, ASYNCRT_PENDING);
  asyncrt_mpsc_send_clear (&s1);
  g_assert_cmpint (recv_now (rx), ==, 4);
  g_assert_cmpint (asyncrt_mpsc_try_send (tx, P (6)), ==, 0);
  g_assert_cmpint (recv_now (rx), ==, 6);

  asyncrt_mpsc_sender_free (tx);
  asyncrt_mpsc_receiver_free (rx);
  test_cx_clear (&t1);
  test_cx_clear (&t2);
}

static void
test_errors (void)
{
  AsyncrtMpscSender *tx;
  AsyncrtMpscReceiver *rx;
  void *m;
  TestCx t;
  test_cx_init (&t);
  g_assert_cmpint (asyncrt_mpsc_new (0, NULL, NULL, &rx), ==, -EINVAL);
  g_assert_cmpint (asyncrt_mpsc_new (0, NULL, &tx, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_mpsc_new (ASYNCRT_MPSC_MAX_CAPACITY + 1, NULL, &tx, &rx), ==, -EINVAL);
  g_assert_null (asyncrt_mpsc_sender_clone (NULL));
  asyncrt_mpsc_sender_free (NULL);
  g_assert_true (asyncrt_mpsc_sender_is_closed (NULL));
  g_assert_cmpint (asyncrt_mpsc_try_send (NULL, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_mpsc_try_recv (NULL, &m), ==, -EINVAL);
  g_assert_cmpuint (asyncrt_mpsc_receiver_get_length (NULL), ==, 0);
  asyncrt_mpsc_receiver_close (NULL);
  asyncrt_mpsc_receiver_free (NULL);
  asyncrt_mpsc_send_init (NULL, NULL, NULL);
  asyncrt_mpsc_send_clear (NULL);
  asyncrt_mpsc_recv_init (NULL, NULL);
  asyncrt_mpsc_recv_clear (NULL);
  g_assert_cmpint (asyncrt_mpsc_send_poll (NULL, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (NULL, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_send_result (NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_mpsc_recv_result (NULL, &m), ==, -EINVAL);

  AsyncrtMpscSend s;
  AsyncrtMpscRecv r;
  asyncrt_mpsc_send_init (&s, NULL, P (1));
  g_assert_cmpint (asyncrt_mpsc_send_poll (&s, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_send_result (&s), ==, -EINVAL);
  asyncrt_mpsc_send_clear (&s);
  asyncrt_mpsc_recv_init (&r, NULL);
  g_assert_cmpint (asyncrt_mpsc_recv_poll (&r, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_mpsc_recv_result (&r, &m), ==, -EINVAL);
  asyncrt_mpsc_recv_clear (&r);

  g_assert_cmpint (asyncrt_mpsc_new (ASYNCRT_MPSC_MAX_CAPACITY, NULL, &tx, &rx), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_try_recv (rx, NULL), ==, -EINVAL);
  asyncrt_mpsc_receiver_free (rx);
  asyncrt_mpsc_sender_free (tx);
  test_cx_clear (&t);
}

/* Contention: producers on their own threads send numbered messages through send
 * futures (sometimes abandoning a wait and retrying); one consumer receives.  Every
 * message arrives exactly once and in order per producer; the end of stream comes
 * after the last sender is freed. */
#define N_PRODUCERS 4
#define PER_PRODUCER 10000

typedef struct
{
  AsyncrtMpscSender *tx[N_PRODUCERS];
  AsyncrtMpscReceiver *rx;
  gint next;
  TestCx cxs[N_PRODUCERS + 1];
} Flow;

static gpointer
producer_thread (gpointer data)
{
  Flow *f = data;
  int id = g_atomic_int_add (&f->next, 1);
  TestCx t = f->cxs[id];
  for (int i = 0; i < PER_PRODUCER; i++)
    {
      void *msg = GINT_TO_POINTER ((id << 24) | (i + 1));
      AsyncrtMpscSend s;
      if (i % 5 == 0)
        {
          /* Start a send and abandon it half-way (a cancelled task). */
          asyncrt_mpsc_send_init (&s, f->tx[id], msg);
          if (asyncrt_mpsc_send_poll (&s, t.cx) == ASYNCRT_READY)
            {
              g_assert_cmpint (asyncrt_mpsc_send_result (&s), ==, 0);
              asyncrt_mpsc_send_clear (&s);
              continue;                         /* sent after all */
            }
          g_usleep (20);                        /* a slot may be granted meanwhile */
          asyncrt_mpsc_send_clear (&s);         /* not sent: send it again below */
        }
      asyncrt_mpsc_send_init (&s, f->tx[id], msg);
      TEST_BLOCK_ON (&t, asyncrt_mpsc_send_poll (&s, t.cx));
      g_assert_cmpint (asyncrt_mpsc_send_result (&s), ==, 0);
      asyncrt_mpsc_send_clear (&s);
    }
  asyncrt_mpsc_sender_free (f->tx[id]);
  return NULL;
}

static void
run_flow (size_t capacity)
{
  Flow *f = g_new0 (Flow, 1);
  for (int i = 0; i <= N_PRODUCERS; i++)
    test_cx_init (&f->cxs[i]);
  g_assert_cmpint (asyncrt_mpsc_new (capacity, NULL, &f->tx[0], &f->rx), ==, 0);
  for (int i = 1; i < N_PRODUCERS; i++)
    f->tx[i] = asyncrt_mpsc_sender_clone (f->tx[0]);
  GThread *th[N_PRODUCERS];
  for (int i = 0; i < N_PRODUCERS; i++)
    th[i] = g_thread_new ("producer", producer_thread, f);

  TestCx *t = &f->cxs[N_PRODUCERS];
  int last[N_PRODUCERS] = { 0 };
  int total = 0;
  for (;;)
    {
      AsyncrtMpscRecv r;
      void *m = NULL;
      asyncrt_mpsc_recv_init (&r, f->rx);
      TEST_BLOCK_ON (t, asyncrt_mpsc_recv_poll (&r, t->cx));
      int res = asyncrt_mpsc_recv_result (&r, &m);
      asyncrt_mpsc_recv_clear (&r);
      if (res == -EPIPE)
        break;
      g_assert_cmpint (res, ==, 0);
      int v = GPOINTER_TO_INT (m);
      int id = v >> 24, seq = v & 0xffffff;
      g_assert_cmpint (id, <, N_PRODUCERS);
      g_assert_cmpint (seq, ==, last[id] + 1);
      last[id] = seq;
      total++;
    }
  for (int i = 0; i < N_PRODUCERS; i++)
    g_thread_join (th[i]);
  g_assert_cmpint (total, ==, N_PRODUCERS * PER_PRODUCER);
  asyncrt_mpsc_receiver_free (f->rx);
  for (int i = 0; i <= N_PRODUCERS; i++)
    test_cx_clear (&f->cxs[i]);
  g_free (f);
}

static void
test_threads_bounded (void)
{
  run_flow (8);
}

static void
test_threads_bounded_one (void)
{
  run_flow (1);
}

static void
test_threads_unbounded (void)
{
  run_flow (0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sync/mpsc/unbounded", test_unbounded);
  g_test_add_func ("/sync/mpsc/bounded", test_bounded);
  g_test_add_func ("/sync/mpsc/senders-dropped", test_senders_dropped);
  g_test_add_func ("/sync/mpsc/receiver-close", test_receiver_close);
  g_test_add_func ("/sync/mpsc/receiver-free", test_receiver_free);
  g_test_add_func ("/sync/mpsc/cancel-recv", test_cancel_recv);
  g_test_add_func ("/sync/mpsc/cancel-send", test_cancel_send);
  g_test_add_func ("/sync/mpsc/errors", test_errors);
  g_test_add_func ("/sync/mpsc/threads-bounded", test_threads_bounded);
  g_test_add_func ("/sync/mpsc/threads-bounded-1", test_threads_bounded_one);
  g_test_add_func ("/sync/mpsc/threads-unbounded", test_threads_unbounded);
  return g_test_run ();
}
