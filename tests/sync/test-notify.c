/* Tests of AsyncrtNotify / AsyncrtNotified, driven by hand (no runtime). */
#include "sync-test-util.h"

static void
test_permit (void)
{
  AsyncrtNotify n;
  AsyncrtNotified w;
  TestCx t;
  test_cx_init (&t);
  asyncrt_notify_init (&n);

  /* notify_one with nobody waiting stores one permit; a second one is not counted. */
  asyncrt_notify_notify_one (&n);
  asyncrt_notify_notify_one (&n);
  asyncrt_notified_init (&w, &n);
  g_assert_cmpint (asyncrt_notified_poll (&w, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_notified_poll (&w, t.cx), ==, ASYNCRT_READY); /* stays ready */
  asyncrt_notified_clear (&w);

  asyncrt_notified_init (&w, &n);
  g_assert_cmpint (asyncrt_notified_poll (&w, t.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (test_cx_extra_refs (&t), ==, 1);   /* the waiter holds a clone */
  asyncrt_notify_notify_one (&n);
  g_assert_cmpint (test_cx_wakes (&t), ==, 1);
  g_assert_cmpint (asyncrt_notified_poll (&w, t.cx), ==, ASYNCRT_READY);
  asyncrt_notified_clear (&w);

  test_cx_clear (&t);
  asyncrt_notify_clear (&n);
}

static void
test_fifo_and_waker_update (void)
{
  AsyncrtNotify n;
  AsyncrtNotified a, b;
  TestCx ta, tb, tb2;
  test_cx_init (&ta);
  test_cx_init (&tb);
  test_cx_init (&tb2);
  asyncrt_notify_init (&n);
  asyncrt_notified_init (&a, &n);
  asyncrt_notified_init (&b, &n);
  g_assert_cmpint (asyncrt_notified_poll (&a, ta.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_notified_poll (&b, tb.cx), ==, ASYNCRT_PENDING);
  /* b moves to another task: the new waker replaces the old one. */
  g_assert_cmpint (asyncrt_notified_poll (&b, tb2.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (test_cx_extra_refs (&tb), ==, 0);

  asyncrt_notify_notify_one (&n);
  g_assert_cmpint (test_cx_wakes (&ta), ==, 1);
  g_assert_cmpint (test_cx_wakes (&tb2), ==, 0);
  asyncrt_notify_notify_one (&n);
  g_assert_cmpint (test_cx_wakes (&tb), ==, 0);
  g_assert_cmpint (test_cx_wakes (&tb2), ==, 1);
  g_assert_cmpint (asyncrt_notified_poll (&b, tb2.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_notified_poll (&a, ta.cx), ==, ASYNCRT_READY);
  asyncrt_notified_clear (&a);
  asyncrt_notified_clear (&b);
  test_cx_clear (&ta);
  test_cx_clear (&tb);
  test_cx_clear (&tb2);
  asyncrt_notify_clear (&n);
}

static void
test_notify_waiters (void)
{
  AsyncrtNotify n;
  AsyncrtNotified a, b, early, late;
  TestCx t;
  test_cx_init (&t);
  asyncrt_notify_init (&n);
  asyncrt_notified_init (&a, &n);
  asyncrt_notified_init (&b, &n);
  asyncrt_notified_init (&early, &n);
  g_assert_cmpint (asyncrt_notified_poll (&a, t.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_notified_poll (&b, t.cx), ==, ASYNCRT_PENDING);

  asyncrt_notify_notify_waiters (&n);
  g_assert_cmpint (test_cx_wakes (&t), ==, 2);
  asyncrt_notified_init (&late, &n);
  g_assert_cmpint (asyncrt_notified_poll (&a, t.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_notified_poll (&b, t.cx), ==, ASYNCRT_READY);
  /* Created before the call, polled after: notified too. */
  g_assert_cmpint (asyncrt_notified_poll (&early, t.cx), ==, ASYNCRT_READY);
  /* Created after: no permit was stored. */
  g_assert_cmpint (asyncrt_notified_poll (&late, t.cx), ==, ASYNCRT_PENDING);

  /* Clearing a future woken by notify_waiters passes nothing on. */
  asyncrt_notified_clear (&a);
  asyncrt_notified_init (&a, &n);
  g_assert_cmpint (asyncrt_notified_poll (&a, t.cx), ==, ASYNCRT_PENDING);
  asyncrt_notify_notify_waiters (&n);
  asyncrt_notified_clear (&a);
  g_assert_cmpint (asyncrt_notified_poll (&late, t.cx), ==, ASYNCRT_READY);
  asyncrt_notified_clear (&late);
  asyncrt_notified_init (&late, &n);
  g_assert_cmpint (asyncrt_notified_poll (&late, t.cx), ==, ASYNCRT_PENDING);

  asyncrt_notified_clear (&late);
  asyncrt_notified_clear (&b);
  asyncrt_notified_clear (&early);
  test_cx_clear (&t);
  asyncrt_notify_clear (&n);
}

static void
test_cancel (void)
{
  AsyncrtNotify n;
  AsyncrtNotified a, b;
  TestCx ta, tb;
  test_cx_init (&ta);
  test_cx_init (&tb);
  asyncrt_notify_init (&n);

  /* Cleared while waiting: removed, the notification goes to the next one. */
  asyncrt_notified_init (&a, &n);
  asyncrt_notified_init (&b, &n);
  g_assert_cmpint (asyncrt_notified_poll (&a, ta.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_notified_poll (&b, tb.cx), ==, ASYNCRT_PENDING);
  asyncrt_notified_clear (&a);
  g_assert_cmpint (test_cx_extra_refs (&ta), ==, 0);
  asyncrt_notify_notify_one (&n);
  g_assert_cmpint (test_cx_wakes (&ta), ==, 0);
  g_assert_cmpint (test_cx_wakes (&tb), ==, 1);
  g_assert_cmpint (asyncrt_notified_poll (&b, tb.cx), ==, ASYNCRT_READY);
  asyncrt_notified_clear (&b);

  /* Cleared after being picked but before READY: passed on to the next waiter. */
  asyncrt_notified_init (&a, &n);
  asyncrt_notified_init (&b, &n);
  g_assert_cmpint (asyncrt_notified_poll (&a, ta.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_notified_poll (&b, tb.cx), ==, ASYNCRT_PENDING);
  asyncrt_notify_notify_one (&n);
  g_assert_cmpint (test_cx_wakes (&ta), ==, 1);
  asyncrt_notified_clear (&a);
  g_assert_cmpint (test_cx_wakes (&tb), ==, 2);
  g_assert_cmpint (asyncrt_notified_poll (&b, tb.cx), ==, ASYNCRT_READY);
  asyncrt_notified_clear (&b);

  /* ... or stored as the permit when nobody else waits. */
  asyncrt_notified_init (&a, &n);
  g_assert_cmpint (asyncrt_notified_poll (&a, ta.cx), ==, ASYNCRT_PENDING);
  asyncrt_notify_notify_one (&n);
  asyncrt_notified_clear (&a);
  asyncrt_notified_init (&b, &n);
  g_assert_cmpint (asyncrt_notified_poll (&b, tb.cx), ==, ASYNCRT_READY);
  asyncrt_notified_clear (&b);

  /* Clearing a finished or never-polled future changes nothing. */
  asyncrt_notified_init (&a, &n);
  asyncrt_notified_clear (&a);
  asyncrt_notified_clear (&a);
  asyncrt_notified_init (&b, &n);
  g_assert_cmpint (asyncrt_notified_poll (&b, tb.cx), ==, ASYNCRT_PENDING);
  asyncrt_notified_clear (&b);

  test_cx_clear (&ta);
  test_cx_clear (&tb);
  asyncrt_notify_clear (&n);
}

static void
test_null (void)
{
  TestCx t;
  test_cx_init (&t);
  AsyncrtNotified w;
  asyncrt_notify_init (NULL);
  asyncrt_notify_clear (NULL);
  asyncrt_notify_notify_one (NULL);
  asyncrt_notify_notify_waiters (NULL);
  asyncrt_notified_init (NULL, NULL);
  asyncrt_notified_clear (NULL);
  g_assert_cmpint (asyncrt_notified_poll (NULL, t.cx), ==, ASYNCRT_READY);
  asyncrt_notified_init (&w, NULL);
  g_assert_cmpint (asyncrt_notified_poll (&w, t.cx), ==, ASYNCRT_READY);
  asyncrt_notified_clear (&w);
  test_cx_clear (&t);
}

/* Contention: producers hand out tokens (an atomic count) and notify_one each; the
 * consumers take tokens and wait on the notify when there is none, sometimes
 * abandoning a wait half-way (clear).  Every token must be taken and nobody may
 * hang: a lost notification would leave a consumer asleep with tokens left. */
#define N_CONSUMERS 3
#define N_CANCELLERS 2
#define N_PRODUCERS 2
#define TOKENS_PER_PRODUCER 5000

typedef struct
{
  AsyncrtNotify notify;
  gint tokens;
  gint taken;
  gint done;
  gint next_cx;
  TestCx cxs[N_CONSUMERS + N_CANCELLERS];   /* checked after every thread is joined */
} Shared;

static gboolean
take_token (Shared *s)
{
  for (;;)
    {
      gint v = g_atomic_int_get (&s->tokens);
      if (v == 0)
        return FALSE;
      if (g_atomic_int_compare_and_exchange (&s->tokens, v, v - 1))
        return TRUE;
    }
}

static gpointer
consumer_thread (gpointer data)
{
  Shared *s = data;
  int idx = g_atomic_int_add (&s->next_cx, 1);
  TestCx t = s->cxs[idx];
  while (!g_atomic_int_get (&s->done))
    {
      /* Create the future before looking at the tokens (no lost wake-up window). */
      AsyncrtNotified w;
      gboolean any = FALSE;
      asyncrt_notified_init (&w, &s->notify);
      while (take_token (s))
        {
          g_atomic_int_inc (&s->taken);
          any = TRUE;
        }
      if (any)
        {
          asyncrt_notified_clear (&w);
          continue;
        }
      int seen = test_cx_wakes (&t);
      while (asyncrt_notified_poll (&w, t.cx) == ASYNCRT_PENDING
             && !g_atomic_int_get (&s->done))
        {
          test_cx_wait (&t, seen, 50);
          seen = test_cx_wakes (&t);
        }
      asyncrt_notified_clear (&w);
    }
  return NULL;
}

/* Waits that are abandoned half-way (a task cancelled while waiting).  Such a waiter
 * never takes a token, so a notification handed to it must pass on to a consumer, or
 * its token is stranded with every consumer asleep. */
static gpointer
canceller_thread (gpointer data)
{
  Shared *s = data;
  int idx = g_atomic_int_add (&s->next_cx, 1);
  TestCx t = s->cxs[idx];
  while (!g_atomic_int_get (&s->done))
    {
      AsyncrtNotified w;
      asyncrt_notified_init (&w, &s->notify);
      if (asyncrt_notified_poll (&w, t.cx) == ASYNCRT_READY)
        {
          /* Took a stored permit: hand it back as a real cancelled task would not
           * have consumed anything either. */
          asyncrt_notify_notify_one (&s->notify);
        }
      g_usleep (20);
      asyncrt_notified_clear (&w);
    }
  return NULL;
}

static gpointer
producer_thread (gpointer data)
{
  Shared *s = data;
  for (int i = 0; i < TOKENS_PER_PRODUCER; i++)
    {
      g_atomic_int_inc (&s->tokens);
      asyncrt_notify_notify_one (&s->notify);
      if (i % 8 == 0)
        g_usleep (5);             /* let the consumers fall asleep now and then */
    }
  return NULL;
}

static void
test_threads (void)
{
  Shared s = { 0 };
  asyncrt_notify_init (&s.notify);
  for (int i = 0; i < N_CONSUMERS + N_CANCELLERS; i++)
    test_cx_init (&s.cxs[i]);
  GThread *c[N_CONSUMERS + N_CANCELLERS], *p[N_PRODUCERS];
  for (int i = 0; i < N_CONSUMERS; i++)
    c[i] = g_thread_new ("consumer", consumer_thread, &s);
  for (int i = N_CONSUMERS; i < N_CONSUMERS + N_CANCELLERS; i++)
    c[i] = g_thread_new ("canceller", canceller_thread, &s);
  for (int i = 0; i < N_PRODUCERS; i++)
    p[i] = g_thread_new ("producer", producer_thread, &s);
  for (int i = 0; i < N_PRODUCERS; i++)
    g_thread_join (p[i]);

  const int total = N_PRODUCERS * TOKENS_PER_PRODUCER;
  /* A lost notification leaves a token behind with every consumer asleep. */
  gint64 end = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (g_atomic_int_get (&s.taken) < total && g_get_monotonic_time () < end)
    g_usleep (1000);
  g_atomic_int_set (&s.done, 1);
  asyncrt_notify_notify_waiters (&s.notify);
  for (int i = 0; i < N_CONSUMERS + N_CANCELLERS; i++)
    g_thread_join (c[i]);
  g_assert_cmpint (g_atomic_int_get (&s.taken), ==, total);
  g_assert_cmpint (g_atomic_int_get (&s.tokens), ==, 0);
  for (int i = 0; i < N_CONSUMERS + N_CANCELLERS; i++)
    test_cx_clear (&s.cxs[i]);
  asyncrt_notify_clear (&s.notify);
}

/* Lockstep: one token at a time, each announced by one notify_one, while cancellers
 * keep joining and leaving the wait list.  Whenever the notification lands on a
 * canceller it must pass on; if it were dropped, the consumers would sleep through
 * the round and the token would never be taken. */
#define LOCKSTEP_ROUNDS 1000

static void
test_threads_lockstep (void)
{
  Shared s = { 0 };
  asyncrt_notify_init (&s.notify);
  for (int i = 0; i < N_CONSUMERS + N_CANCELLERS; i++)
    test_cx_init (&s.cxs[i]);
  GThread *c[N_CONSUMERS + N_CANCELLERS];
  for (int i = 0; i < N_CANCELLERS; i++)
    c[i] = g_thread_new ("canceller", canceller_thread, &s);
  for (int i = N_CANCELLERS; i < N_CONSUMERS + N_CANCELLERS; i++)
    c[i] = g_thread_new ("consumer", consumer_thread, &s);

  gboolean stranded = FALSE;
  for (int r = 1; r <= LOCKSTEP_ROUNDS && !stranded; r++)
    {
      g_atomic_int_inc (&s.tokens);
      asyncrt_notify_notify_one (&s.notify);
      /* The consumers sleep on the notify only (their timed re-polls do not look at
       * the tokens), so only a delivered notification gets this token taken. */
      gint64 end = g_get_monotonic_time () + (gint64) test_timeout_ms (2000) * 1000;
      while (g_atomic_int_get (&s.taken) < r)
        {
          if (g_get_monotonic_time () > end)
            {
              stranded = TRUE;
              break;
            }
          g_usleep (10);
        }
    }
  g_atomic_int_set (&s.done, 1);
  asyncrt_notify_notify_waiters (&s.notify);
  for (int i = 0; i < N_CONSUMERS + N_CANCELLERS; i++)
    g_thread_join (c[i]);
  g_assert_false (stranded);
  g_assert_cmpint (g_atomic_int_get (&s.taken), ==, LOCKSTEP_ROUNDS);
  for (int i = 0; i < N_CONSUMERS + N_CANCELLERS; i++)
    test_cx_clear (&s.cxs[i]);
  asyncrt_notify_clear (&s.notify);
}

/* Two threads bounce a notification back and forth: every round must arrive. */
#define PP_ROUNDS 5000

typedef struct
{
  AsyncrtNotify to_a;
  AsyncrtNotify to_b;
  TestCx tb;                 /* checked after the join */
} PingPong;

static gpointer
pong_thread (gpointer data)
{
  PingPong *pp = data;
  TestCx t = pp->tb;
  for (int i = 0; i < PP_ROUNDS; i++)
    {
      AsyncrtNotified w;
      asyncrt_notified_init (&w, &pp->to_b);
      TEST_BLOCK_ON (&t, asyncrt_notified_poll (&w, t.cx));
      asyncrt_notified_clear (&w);
      asyncrt_notify_notify_one (&pp->to_a);
    }
  return NULL;
}

static void
test_ping_pong_threads (void)
{
  PingPong pp;
  asyncrt_notify_init (&pp.to_a);
  asyncrt_notify_init (&pp.to_b);
  test_cx_init (&pp.tb);
  GThread *b = g_thread_new ("pong", pong_thread, &pp);
  TestCx t;
  test_cx_init (&t);
  for (int i = 0; i < PP_ROUNDS; i++)
    {
      AsyncrtNotified w;
      asyncrt_notified_init (&w, &pp.to_a);
      asyncrt_notify_notify_one (&pp.to_b);
      TEST_BLOCK_ON (&t, asyncrt_notified_poll (&w, t.cx));
      asyncrt_notified_clear (&w);
    }
  g_thread_join (b);
  test_cx_clear (&t);
  test_cx_clear (&pp.tb);
  asyncrt_notify_clear (&pp.to_a);
  asyncrt_notify_clear (&pp.to_b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sync/notify/permit", test_permit);
  g_test_add_func ("/sync/notify/fifo-and-waker-update", test_fifo_and_waker_update);
  g_test_add_func ("/sync/notify/notify-waiters", test_notify_waiters);
  g_test_add_func ("/sync/notify/cancel", test_cancel);
  g_test_add_func ("/sync/notify/null", test_null);
  g_test_add_func ("/sync/notify/threads", test_threads);
  g_test_add_func ("/sync/notify/threads-cancel-lockstep", test_threads_lockstep);
  g_test_add_func ("/sync/notify/ping-pong-threads", test_ping_pong_threads);
  return g_test_run ();
}
