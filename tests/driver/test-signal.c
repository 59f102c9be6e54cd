/* Signals as futures on both schedulers: deliveries reach the future (sent by the
 * polling task and by another thread), coalesced deliveries are counted (queued
 * real-time signals; a standard signal merged by the kernel counts once), two
 * signals at once, a delivery pending before the future existed, the driver shut
 * down under a waiting future, the documented errors, zero-filled futures, and the
 * leaf in dumps.  main() blocks the test signals before any thread exists. */
#include <asyncrt/asyncrt.h>
#include <glib.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "flavour-util.h"
#include "../sync/sync-test-util.h"

#define SIG_RT (SIGRTMIN + 1)

static void
send_signal (int signo)
{
  g_assert_cmpint (kill (getpid (), signo), ==, 0);
}

static void *
send_later (void *data)
{
  g_usleep (20000);
  send_signal (GPOINTER_TO_INT (data));
  return NULL;
}

/* A waker woken by value on another thread counts the wake before it drops its
 * reference: wait for that drop before checking that no reference is left. */
static void
wait_refs_released (TestCx *c)
{
  gint64 end = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (test_cx_extra_refs (c) > 0 && g_get_monotonic_time () < end)
    g_usleep (1000);
}

/* ---- delivered: one READY per delivery ----------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSignal sig;
  int n;
  int round;
  pthread_t th;
} Delivered;

static AsyncrtPoll
delivered_poll (void *p, AsyncrtContext *cx)
{
  Delivered *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_cmpint (asyncrt_signal_init (&self->sig, SIGUSR1), ==, 0);
  g_assert_cmpint (asyncrt_signal_poll (&self->sig, cx, &self->n), ==, ASYNCRT_PENDING);
  for (self->round = 0; self->round < 3; self->round++)
    {
      /* From this thread, then from others while we wait. */
      if (self->round == 0)
        send_signal (SIGUSR1);
      else
        pthread_create (&self->th, NULL, send_later, GINT_TO_POINTER (SIGUSR1));
      self->n = 0;
      ASYNCRT_AWAIT (&self->co, asyncrt_signal_poll (&self->sig, cx, &self->n));
      g_assert_cmpint (self->n, ==, 1);
      if (self->round > 0)
        pthread_join (self->th, NULL);
      /* Reported once: nothing more now. */
      g_assert_cmpint (asyncrt_signal_poll (&self->sig, cx, &self->n), ==, ASYNCRT_PENDING);
    }
  asyncrt_signal_clear (&self->sig);
  ASYNCRT_END (&self->co);
}

static void
test_delivered (void)
{
  Delivered t = { 0 };
  run_on_new_runtime (delivered_poll, &t);
}

/* ---- coalesced: counted -------------------------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSignal rt;
  AsyncrtSignal usr2;
  int n;
} Coalesced;

static AsyncrtPoll
coalesced_poll (void *p, AsyncrtContext *cx)
{
  Coalesced *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_cmpint (asyncrt_signal_init (&self->rt, SIG_RT), ==, 0);
  g_assert_cmpint (asyncrt_signal_poll (&self->rt, cx, &self->n), ==, ASYNCRT_PENDING);
  /* Real-time signals are queued: five deliveries before the next poll, one READY
   * that counts five. */
  for (int i = 0; i < 5; i++)
    {
      union sigval v = { .sival_int = i };
      g_assert_cmpint (sigqueue (getpid (), SIG_RT, v), ==, 0);
    }
  self->n = 0;
  ASYNCRT_AWAIT (&self->co, asyncrt_signal_poll (&self->rt, cx, &self->n));
  g_assert_cmpint (self->n, ==, 5);
  g_assert_cmpint (asyncrt_signal_poll (&self->rt, cx, &self->n), ==, ASYNCRT_PENDING);

  /* A standard signal sent three times while pending is merged by the kernel: one. */
  g_assert_cmpint (asyncrt_signal_init (&self->usr2, SIGUSR2), ==, 0);
  for (int i = 0; i < 3; i++)
    send_signal (SIGUSR2);
  self->n = 0;
  ASYNCRT_AWAIT (&self->co, asyncrt_signal_poll (&self->usr2, cx, &self->n));
  g_assert_cmpint (self->n, ==, 1);
  g_assert_cmpint (asyncrt_signal_poll (&self->usr2, cx, &self->n), ==, ASYNCRT_PENDING);
  asyncrt_signal_clear (&self->rt);
  asyncrt_signal_clear (&self->usr2);
  ASYNCRT_END (&self->co);
}

static void
test_coalesced (void)
{
  Coalesced t = { 0 };
  run_on_new_runtime (coalesced_poll, &t);
}

/* ---- two signals: each future sees its own -------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSignal usr1;
  AsyncrtSignal usr2;
  int n1, n2;
} Two;

static AsyncrtPoll
two_poll (void *p, AsyncrtContext *cx)
{
  Two *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_cmpint (asyncrt_signal_init (&self->usr1, SIGUSR1), ==, 0);
  g_assert_cmpint (asyncrt_signal_init (&self->usr2, SIGUSR2), ==, 0);
  g_assert_cmpint (asyncrt_signal_poll (&self->usr1, cx, &self->n1), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_signal_poll (&self->usr2, cx, &self->n2), ==, ASYNCRT_PENDING);
  send_signal (SIGUSR2);
  ASYNCRT_AWAIT (&self->co, asyncrt_signal_poll (&self->usr2, cx, &self->n2));
  g_assert_cmpint (self->n2, ==, 1);
  g_assert_cmpint (asyncrt_signal_poll (&self->usr1, cx, &self->n1), ==, ASYNCRT_PENDING);
  send_signal (SIGUSR1);
  ASYNCRT_AWAIT (&self->co, asyncrt_signal_poll (&self->usr1, cx, &self->n1));
  g_assert_cmpint (self->n1, ==, 1);
  g_assert_cmpint (asyncrt_signal_poll (&self->usr2, cx, &self->n2), ==, ASYNCRT_PENDING);
  asyncrt_signal_clear (&self->usr1);
  asyncrt_signal_clear (&self->usr2);
  ASYNCRT_END (&self->co);
}

static void
test_two (void)
{
  Two t = { 0 };
  run_on_new_runtime (two_poll, &t);
}

/* ---- a delivery pending before the future was created ---------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSignal sig;
  int n;
} Pending;

static AsyncrtPoll
pending_poll (void *p, AsyncrtContext *cx)
{
  Pending *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_cmpint (asyncrt_signal_init (&self->sig, SIGUSR1), ==, 0);
  ASYNCRT_AWAIT (&self->co, asyncrt_signal_poll (&self->sig, cx, &self->n));
  g_assert_cmpint (self->n, ==, 1);
  asyncrt_signal_clear (&self->sig);
  ASYNCRT_END (&self->co);
}

static void
test_pending_before (void)
{
  send_signal (SIGUSR1);                     /* blocked: stays pending */
  Pending t = { 0 };
  run_on_new_runtime (pending_poll, &t);
}

/* ---- a task waiting on a signal: in dumps, and cancelled by runtime shutdown ---------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSignal sig;
  int n;
  int *freed;
  int *waiting;
} SigTask;

static AsyncrtPoll
sig_task_poll (void *p, AsyncrtContext *cx)
{
  SigTask *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_cmpint (asyncrt_signal_init (&self->sig, SIGUSR2), ==, 0);
  __atomic_store_n (self->waiting, 1, __ATOMIC_RELEASE);
  ASYNCRT_AWAIT (&self->co, asyncrt_signal_poll (&self->sig, cx, &self->n));
  ASYNCRT_END (&self->co);
}

static void
sig_task_free (void *p)
{
  SigTask *self = p;
  asyncrt_signal_clear (&self->sig);         /* dropping mid-wait releases everything */
  __atomic_add_fetch (self->freed, 1, __ATOMIC_RELAXED);
  g_free (self);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinHandle *jh;
  AsyncrtDumpFuture df;
  AsyncrtSleep sleep;
  gint64 deadline;
  int freed;
  int waiting;
} DumpTest;

static AsyncrtPoll
dump_poll (void *p, AsyncrtContext *cx)
{
  DumpTest *self = p;
  ASYNCRT_BEGIN (&self->co);
  {
    SigTask *t = g_new0 (SigTask, 1);
    t->freed = &self->freed;
    t->waiting = &self->waiting;
    self->jh = asyncrt_spawn (sig_task_poll, t, sig_task_free);
  }
  AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 10000,
               __atomic_load_n (&self->waiting, __ATOMIC_ACQUIRE) == 1);
  asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), test_timeout_ms (5000));
  ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
  {
    AsyncrtDump *d = asyncrt_dump_future_take (&self->df);
    g_assert_nonnull (d);
    const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (self->jh));
    g_assert_nonnull (t);
    g_assert_nonnull (asyncrt_dump_task_get_trace (t));
    char *s = asyncrt_trace_to_string (asyncrt_dump_task_get_trace (t));
    g_assert_nonnull (strstr (s, "asyncrt_signal_poll"));
    g_assert_nonnull (strstr (s, "sig_task_poll"));
    free (s);
    asyncrt_dump_free (d);
    asyncrt_dump_future_clear (&self->df);
  }
  asyncrt_join_handle_free (self->jh);       /* detached: shutdown cancels it */
  ASYNCRT_END (&self->co);
}

static void
test_dump_and_shutdown (void)
{
  DumpTest t = { 0 };
  run_on_new_runtime (dump_poll, &t);
  g_assert_cmpint (t.freed, ==, 1);
}

/* ---- the driver shuts down under an initialised signal ------------------------------- */

static AsyncrtPoll
init_only_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  g_assert_cmpint (asyncrt_signal_init (p, SIGUSR1), ==, 0);
  return ASYNCRT_READY;
}

static void
test_after_runtime (void)
{
  AsyncrtSignal sig;
  AsyncrtRuntime *rt = new_runtime ();
  g_assert_cmpint (asyncrt_runtime_block_on (rt, init_only_poll, &sig), ==, 0);
  asyncrt_runtime_free (rt);
  TestCx c;
  test_cx_init (&c);
  int n = 0;
  g_assert_cmpint (asyncrt_signal_poll (&sig, c.cx, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, -ESHUTDOWN);
  asyncrt_signal_clear (&sig);               /* after the runtime: fine */
  test_cx_clear (&c);
}

/* ---- outside any runtime (the fallback driver) ---------------------------------------- */

static void
test_no_runtime (void)
{
  AsyncrtSignal sig;
  g_assert_cmpint (asyncrt_signal_init (&sig, SIGUSR1), ==, 0);
  TestCx c;
  test_cx_init (&c);
  int n = 0;
  g_assert_cmpint (asyncrt_signal_poll (&sig, c.cx, &n), ==, ASYNCRT_PENDING);
  pthread_t th;
  pthread_create (&th, NULL, send_later, GINT_TO_POINTER (SIGUSR1));
  TEST_BLOCK_ON (&c, asyncrt_signal_poll (&sig, c.cx, &n));
  pthread_join (th, NULL);
  g_assert_cmpint (n, ==, 1);
  asyncrt_signal_clear (&sig);
  wait_refs_released (&c);
  test_cx_clear (&c);
}

/* ---- errors and zero-filled futures --------------------------------------------------- */

static void
test_errors (void)
{
  AsyncrtSignal sig;
  g_assert_cmpint (asyncrt_signal_init (NULL, SIGUSR1), ==, -EINVAL);
  int bad[] = { 0, -1, NSIG, NSIG + 100, SIGKILL, SIGSTOP };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_cmpint (asyncrt_signal_init (&sig, bad[i]), ==, -EINVAL);
      asyncrt_signal_clear (&sig);           /* harmless after a failed init */
      g_assert_cmpint (asyncrt_signal_block (bad[i]), ==, -EINVAL);
    }
  /* Not blocked in this thread: refused, the signal would never reach the future. */
  g_assert_cmpint (asyncrt_signal_init (&sig, SIGWINCH), ==, -EPERM);
  asyncrt_signal_clear (&sig);

  TestCx c;
  test_cx_init (&c);
  int n = 0;
  AsyncrtSignal zero;
  memset (&zero, 0, sizeof zero);
  g_assert_cmpint (asyncrt_signal_poll (&zero, c.cx, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, -EINVAL);
  g_assert_cmpint (asyncrt_signal_poll (NULL, c.cx, &n), ==, ASYNCRT_READY);
  asyncrt_signal_clear (&zero);              /* never initialised: nothing to do */
  asyncrt_signal_clear (&zero);
  asyncrt_signal_clear (NULL);
  /* Must not close fd 0, which a zero-filled AsyncrtFd would name. */
  g_assert_cmpint (fcntl (0, F_GETFD), !=, -1);

  /* The helper blocks for real. */
  sigset_t cur;
  g_assert_cmpint (asyncrt_signal_block (SIGWINCH), ==, 0);
  pthread_sigmask (SIG_BLOCK, NULL, &cur);
  g_assert_true (sigismember (&cur, SIGWINCH));
  g_assert_cmpint (asyncrt_signal_init (&sig, SIGWINCH), ==, 0);
  asyncrt_signal_clear (&sig);
  sigemptyset (&cur);
  sigaddset (&cur, SIGWINCH);
  pthread_sigmask (SIG_UNBLOCK, &cur, NULL);
  test_cx_clear (&c);
}

int
main (int argc, char **argv)
{
  /* Before any thread exists, so that every thread inherits the mask. */
  g_assert_cmpint (asyncrt_signal_block (SIGUSR1), ==, 0);
  g_assert_cmpint (asyncrt_signal_block (SIGUSR2), ==, 0);
  g_assert_cmpint (asyncrt_signal_block (SIG_RT), ==, 0);

  static const FlavourTest tests[] = {
    { "delivered", test_delivered },
    { "coalesced", test_coalesced },
    { "two-signals", test_two },
    { "pending-before-init", test_pending_before },
    { "dump-and-shutdown", test_dump_and_shutdown },
    { "after-runtime-free", test_after_runtime },
  };
  g_test_init (&argc, &argv, NULL);
  flavour_add_tests ("signal", tests, G_N_ELEMENTS (tests));
  g_test_add_func ("/signal/no-runtime", test_no_runtime);
  g_test_add_func ("/signal/errors", test_errors);
  return g_test_run ();
}
