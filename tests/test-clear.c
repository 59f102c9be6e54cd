/* Every public _clear and _free is safe on NULL, on a zero-initialised struct that was
 * never initialised, twice in a row, and after _init without a poll: the contract a
 * task's free function relies on when it is cancelled before reaching every await
 * (see the "Writing async functions" chapter).  Each struct is put in a heap block
 * of its exact size, filled with zero bytes, so that ASan and valgrind see any read
 * or write past it, and any free of a pointer the library never allocated. */
#include <asyncrt/asyncrt.h>
#include <glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* A zeroed heap copy of one struct type, never initialised. */
#define ZEROED(Type) ((Type *) g_malloc0 (sizeof (Type)))

/* Calls CLEAR on NULL, then twice on a zeroed, never initialised Type. */
#define CHECK_ZEROED_CLEAR(Type, clear) \
  do \
    { \
      clear (NULL); \
      Type *z_ = ZEROED (Type); \
      clear (z_); \
      clear (z_); \
      g_free (z_); \
    } \
  while (0)

static AsyncrtPoll
sleep_poll (void *p, AsyncrtContext *cx)
{
  return asyncrt_sleep_poll (p, cx);
}

static void
test_time (void)
{
  CHECK_ZEROED_CLEAR (AsyncrtSleep, asyncrt_sleep_clear);
  CHECK_ZEROED_CLEAR (AsyncrtTimeout, asyncrt_timeout_clear);

  /* Initialised but never polled (so never registered with a driver), then cleared
   * twice. */
  AsyncrtSleep *s = ZEROED (AsyncrtSleep);
  asyncrt_sleep_init (s, 1000);
  asyncrt_sleep_clear (s);
  asyncrt_sleep_clear (s);
  g_free (s);

  AsyncrtSleep *inner = ZEROED (AsyncrtSleep);
  asyncrt_sleep_init (inner, 1000);
  AsyncrtTimeout *t = ZEROED (AsyncrtTimeout);
  asyncrt_timeout_init (t, sleep_poll, inner, 10);
  asyncrt_timeout_clear (t);
  asyncrt_timeout_clear (t);
  asyncrt_sleep_clear (inner);
  g_free (t);
  g_free (inner);

  /* AsyncrtYield holds nothing and has no _clear; a zeroed one is simply dropped. */
}

static void
test_io (void)
{
  CHECK_ZEROED_CLEAR (AsyncrtFd, asyncrt_fd_clear);
  /* Closing a zeroed AsyncrtFd is refused, never a close(0). */
  AsyncrtFd *f = ZEROED (AsyncrtFd);
  g_assert_cmpint (asyncrt_fd_close (f), ==, -EBADF);
  asyncrt_fd_clear (f);
  g_assert_cmpint (asyncrt_fd_close (NULL), ==, -EBADF);
  g_free (f);
}

static void
test_sync (void)
{
  CHECK_ZEROED_CLEAR (AsyncrtNotify, asyncrt_notify_clear);
  CHECK_ZEROED_CLEAR (AsyncrtNotified, asyncrt_notified_clear);
  CHECK_ZEROED_CLEAR (AsyncrtSemaphore, asyncrt_semaphore_clear);
  CHECK_ZEROED_CLEAR (AsyncrtSemaphoreAcquire, asyncrt_semaphore_acquire_clear);
  CHECK_ZEROED_CLEAR (AsyncrtMutex, asyncrt_mutex_clear);
  CHECK_ZEROED_CLEAR (AsyncrtMutexLock, asyncrt_mutex_lock_clear);
  CHECK_ZEROED_CLEAR (AsyncrtOneshotRecv, asyncrt_oneshot_recv_clear);
  CHECK_ZEROED_CLEAR (AsyncrtMpscSend, asyncrt_mpsc_send_clear);
  CHECK_ZEROED_CLEAR (AsyncrtMpscRecv, asyncrt_mpsc_recv_clear);

  asyncrt_oneshot_sender_free (NULL);
  asyncrt_oneshot_receiver_free (NULL);
  asyncrt_mpsc_sender_free (NULL);
  asyncrt_mpsc_receiver_free (NULL);

  /* Initialised, never polled, cleared twice; the object waited on cleared after. */
  AsyncrtNotify *n = ZEROED (AsyncrtNotify);
  asyncrt_notify_init (n);
  AsyncrtNotified *w = ZEROED (AsyncrtNotified);
  asyncrt_notified_init (w, n);
  asyncrt_notified_clear (w);
  asyncrt_notified_clear (w);
  asyncrt_notify_clear (n);
  asyncrt_notify_clear (n);
  g_free (w);
  g_free (n);

  AsyncrtMutex *m = ZEROED (AsyncrtMutex);
  asyncrt_mutex_init (m);
  AsyncrtMutexLock *l = ZEROED (AsyncrtMutexLock);
  asyncrt_mutex_lock_init (l, m);
  asyncrt_mutex_lock_clear (l);
  asyncrt_mutex_lock_clear (l);
  g_assert_false (asyncrt_mutex_is_locked (m));
  asyncrt_mutex_clear (m);
  asyncrt_mutex_clear (m);
  g_free (l);
  g_free (m);

  AsyncrtSemaphore *sem = ZEROED (AsyncrtSemaphore);
  g_assert_cmpint (asyncrt_semaphore_init (sem, 1), ==, 0);
  AsyncrtSemaphoreAcquire *a = ZEROED (AsyncrtSemaphoreAcquire);
  asyncrt_semaphore_acquire_init (a, sem, 1);
  asyncrt_semaphore_acquire_clear (a);
  asyncrt_semaphore_acquire_clear (a);
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (sem), ==, 1);
  asyncrt_semaphore_clear (sem);
  asyncrt_semaphore_clear (sem);
  g_free (a);
  g_free (sem);

  AsyncrtOneshotSender *otx;
  AsyncrtOneshotReceiver *orx;
  g_assert_cmpint (asyncrt_oneshot_new (NULL, &otx, &orx), ==, 0);
  AsyncrtOneshotRecv *orecv = ZEROED (AsyncrtOneshotRecv);
  asyncrt_oneshot_recv_init (orecv, orx);
  asyncrt_oneshot_recv_clear (orecv);
  asyncrt_oneshot_recv_clear (orecv);
  asyncrt_oneshot_sender_free (otx);
  asyncrt_oneshot_receiver_free (orx);
  g_free (orecv);

  AsyncrtMpscSender *tx;
  AsyncrtMpscReceiver *rx;
  g_assert_cmpint (asyncrt_mpsc_new (1, NULL, &tx, &rx), ==, 0);
  AsyncrtMpscSend *send = ZEROED (AsyncrtMpscSend);
  asyncrt_mpsc_send_init (send, tx, &send);
  asyncrt_mpsc_send_clear (send);
  asyncrt_mpsc_send_clear (send);
  AsyncrtMpscRecv *recv = ZEROED (AsyncrtMpscRecv);
  asyncrt_mpsc_recv_init (recv, rx);
  asyncrt_mpsc_recv_clear (recv);
  asyncrt_mpsc_recv_clear (recv);
  asyncrt_mpsc_sender_free (tx);
  asyncrt_mpsc_receiver_free (rx);
  g_free (send);
  g_free (recv);
}

static void
test_servers (void)
{
  CHECK_ZEROED_CLEAR (AsyncrtCancelled, asyncrt_cancelled_clear);
  CHECK_ZEROED_CLEAR (AsyncrtSignal, asyncrt_signal_clear);
  asyncrt_cancel_token_unref (NULL);
  asyncrt_join_set_free (NULL);

  /* Initialised, never polled, cleared twice; the token released after. */
  AsyncrtCancelToken *t = asyncrt_cancel_token_new ();
  AsyncrtCancelled *c = ZEROED (AsyncrtCancelled);
  asyncrt_cancelled_init (c, t);
  asyncrt_cancelled_clear (c);
  asyncrt_cancelled_clear (c);
  asyncrt_cancel_token_unref (t);
  g_free (c);

  /* A signal future that failed to initialise, and one initialised then cleared. */
  AsyncrtSignal *sig = ZEROED (AsyncrtSignal);
  g_assert_cmpint (asyncrt_signal_init (sig, SIGKILL), ==, -EINVAL);
  asyncrt_signal_clear (sig);
  g_assert_cmpint (asyncrt_signal_block (SIGURG), ==, 0);
  g_assert_cmpint (asyncrt_signal_init (sig, SIGURG), ==, 0);
  asyncrt_signal_clear (sig);
  asyncrt_signal_clear (sig);
  g_free (sig);

  AsyncrtJoinSet *set = asyncrt_join_set_new ();
  asyncrt_join_set_free (set);
}

static void
test_dump (void)
{
  CHECK_ZEROED_CLEAR (AsyncrtDumpFuture, asyncrt_dump_future_clear);
  asyncrt_dump_free (NULL);
  asyncrt_trace_free (NULL);
  asyncrt_dump_options_free (NULL);
  asyncrt_dump_progress_free (NULL);

  /* A trace root holds nothing and has no _clear. */
}

static void
test_future_and_runtime (void)
{
  /* A zeroed waker is the empty waker. */
  AsyncrtWaker *wk = ZEROED (AsyncrtWaker);
  g_assert_true (asyncrt_waker_is_empty (wk));
  asyncrt_waker_free (wk);
  asyncrt_waker_free (wk);
  asyncrt_waker_free (NULL);
  g_free (wk);

  asyncrt_context_free (NULL);
  asyncrt_builder_free (NULL);
  asyncrt_runtime_free (NULL);
  asyncrt_join_handle_free (NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/clear/time", test_time);
  g_test_add_func ("/clear/io", test_io);
  g_test_add_func ("/clear/sync", test_sync);
  g_test_add_func ("/clear/servers", test_servers);
  g_test_add_func ("/clear/dump", test_dump);
  g_test_add_func ("/clear/future-and-runtime", test_future_and_runtime);
  return g_test_run ();
}
