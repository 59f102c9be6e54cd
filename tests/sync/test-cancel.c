/* Cancellation tokens: trees (a parent cancels its children, never the reverse),
 * cancel from another thread, 10,000 waiters each woken exactly once (by hand and as
 * tasks on both schedulers), clearing a waiting future (and a zero-filled one),
 * concurrent child creation while cancelling, the documented NULL handling, and the
 * leaf in dumps. */
#include <asyncrt/asyncrt.h>
#include <glib.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "sync-test-util.h"
#include "flavour-util.h"

/* A waker woken by value on another thread counts the wake before it drops its
 * reference: wait for that drop before checking that no reference is left. */
static void
wait_refs_released (TestCx *c)
{
  gint64 end = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (test_cx_extra_refs (c) > 0 && g_get_monotonic_time () < end)
    g_usleep (1000);
}

/* ---- a minimal counting waker: data points to the waiter's own counter ------------- */

static void *
cw_clone (void *d)
{
  return d;
}

static void
cw_wake_by_ref (void *d)
{
  atomic_fetch_add ((atomic_int *) d, 1);
}

static void
cw_drop (void *d)
{
  (void) d;
}

static const AsyncrtWakerVTable counting_vtable = { cw_clone, cw_wake_by_ref, cw_wake_by_ref,
                                                    cw_drop };

/* ---- one token, one waiter ----------------------------------------------------------- */

static void
test_basic (void)
{
  AsyncrtCancelToken *t = asyncrt_cancel_token_new ();
  g_assert_nonnull (t);
  g_assert_false (asyncrt_cancel_token_is_cancelled (t));
  TestCx c;
  test_cx_init (&c);
  AsyncrtCancelled w;
  asyncrt_cancelled_init (&w, t);
  g_assert_cmpint (asyncrt_cancelled_poll (&w, c.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_cancelled_poll (&w, c.cx), ==, ASYNCRT_PENDING);  /* same waker */
  g_assert_cmpint (test_cx_extra_refs (&c), ==, 1);
  asyncrt_cancel_token_unref (t);            /* the future keeps it alive */
  g_assert_cmpint (test_cx_wakes (&c), ==, 0);
  asyncrt_cancel_token_cancel (t);           /* still valid: w holds a reference */
  g_assert_cmpint (test_cx_wakes (&c), ==, 1);
  g_assert_cmpint (test_cx_extra_refs (&c), ==, 0);
  g_assert_cmpint (asyncrt_cancelled_poll (&w, c.cx), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_cancelled_poll (&w, c.cx), ==, ASYNCRT_READY);
  asyncrt_cancelled_clear (&w);
  asyncrt_cancelled_clear (&w);              /* twice is harmless */
  g_assert_cmpint (test_cx_wakes (&c), ==, 1);
  test_cx_clear (&c);
}

/* ---- a tree of three levels ---------------------------------------------------------- */

static void
test_tree (void)
{
  /* root -> a, b; a -> a1, a2; b -> b1, b2 */
  AsyncrtCancelToken *root = asyncrt_cancel_token_new ();
  AsyncrtCancelToken *a = asyncrt_cancel_token_new_child (root);
  AsyncrtCancelToken *b = asyncrt_cancel_token_new_child (root);
  AsyncrtCancelToken *a1 = asyncrt_cancel_token_new_child (a);
  AsyncrtCancelToken *a2 = asyncrt_cancel_token_new_child (a);
  AsyncrtCancelToken *b1 = asyncrt_cancel_token_new_child (b);
  AsyncrtCancelToken *b2 = asyncrt_cancel_token_new_child (b);
  AsyncrtCancelToken *all[] = { root, a, b, a1, a2, b1, b2 };
  enum { N = G_N_ELEMENTS (all) };
  AsyncrtCancelled w[N];
  atomic_int wakes[N];
  AsyncrtContext *cx[N];
  for (int i = 0; i < N; i++)
    {
      atomic_init (&wakes[i], 0);
      AsyncrtWaker wk;
      asyncrt_waker_init (&wk, &counting_vtable, &wakes[i]);
      cx[i] = asyncrt_context_new (&wk);
      asyncrt_cancelled_init (&w[i], all[i]);
      g_assert_cmpint (asyncrt_cancelled_poll (&w[i], cx[i]), ==, ASYNCRT_PENDING);
    }

  /* A child alone: its subtree only. */
  asyncrt_cancel_token_cancel (a);
  gboolean want_a[N] = { FALSE, TRUE, FALSE, TRUE, TRUE, FALSE, FALSE };
  for (int i = 0; i < N; i++)
    {
      g_assert_cmpint (asyncrt_cancel_token_is_cancelled (all[i]), ==, want_a[i]);
      g_assert_cmpint (atomic_load (&wakes[i]), ==, want_a[i] ? 1 : 0);
      g_assert_cmpint (asyncrt_cancelled_poll (&w[i], cx[i]), ==,
                       want_a[i] ? ASYNCRT_READY : ASYNCRT_PENDING);
    }
  /* A leaf alone: nothing above it. */
  asyncrt_cancel_token_cancel (b2);
  g_assert_true (asyncrt_cancel_token_is_cancelled (b2));
  g_assert_false (asyncrt_cancel_token_is_cancelled (b));
  g_assert_false (asyncrt_cancel_token_is_cancelled (b1));
  g_assert_false (asyncrt_cancel_token_is_cancelled (root));
  g_assert_cmpint (atomic_load (&wakes[6]), ==, 1);

  /* The root: everything, each waiter woken exactly once overall. */
  asyncrt_cancel_token_cancel (root);
  asyncrt_cancel_token_cancel (root);
  for (int i = 0; i < N; i++)
    {
      g_assert_true (asyncrt_cancel_token_is_cancelled (all[i]));
      g_assert_cmpint (atomic_load (&wakes[i]), ==, 1);
      g_assert_cmpint (asyncrt_cancelled_poll (&w[i], cx[i]), ==, ASYNCRT_READY);
    }

  /* A child of a cancelled token starts cancelled; so does its future. */
  AsyncrtCancelToken *late = asyncrt_cancel_token_new_child (a1);
  g_assert_true (asyncrt_cancel_token_is_cancelled (late));
  AsyncrtCancelled lw;
  asyncrt_cancelled_init (&lw, late);
  g_assert_cmpint (asyncrt_cancelled_poll (&lw, cx[0]), ==, ASYNCRT_READY);
  asyncrt_cancelled_clear (&lw);
  asyncrt_cancel_token_unref (late);

  for (int i = 0; i < N; i++)
    {
      asyncrt_cancelled_clear (&w[i]);
      asyncrt_context_free (cx[i]);
    }
  /* Children keep parents alive: drop the root first. */
  for (int i = 0; i < N; i++)
    asyncrt_cancel_token_unref (all[i]);
}

/* ---- an ancestor cancelled: a descendant reports it at once --------------------------- */

static void
test_deep_chain (void)
{
  enum { DEPTH = 2000 };   /* no recursion: deep chains cancel and free iteratively */
  AsyncrtCancelToken *chain[DEPTH];
  chain[0] = asyncrt_cancel_token_new ();
  for (int i = 1; i < DEPTH; i++)
    chain[i] = asyncrt_cancel_token_new_child (chain[i - 1]);
  AsyncrtCancelToken *leaf = chain[DEPTH - 1];
  asyncrt_cancel_token_ref (leaf);
  for (int i = 0; i < DEPTH; i++)
    asyncrt_cancel_token_unref (chain[i]);       /* the leaf keeps the whole chain */
  g_assert_false (asyncrt_cancel_token_is_cancelled (leaf));
  asyncrt_cancel_token_cancel (leaf);
  g_assert_true (asyncrt_cancel_token_is_cancelled (leaf));
  asyncrt_cancel_token_unref (leaf);             /* frees 2000 tokens, iteratively */
}

/* ---- cancel from another thread ------------------------------------------------------- */

static void *
cancel_thread (void *data)
{
  g_usleep (10000);
  asyncrt_cancel_token_cancel (data);
  return NULL;
}

static void
test_other_thread (void)
{
  AsyncrtCancelToken *root = asyncrt_cancel_token_new ();
  AsyncrtCancelToken *child = asyncrt_cancel_token_new_child (root);
  AsyncrtCancelToken *grandchild = asyncrt_cancel_token_new_child (child);
  TestCx c;
  test_cx_init (&c);
  AsyncrtCancelled w;
  asyncrt_cancelled_init (&w, grandchild);
  pthread_t th;
  pthread_create (&th, NULL, cancel_thread, root);
  TEST_BLOCK_ON (&c, asyncrt_cancelled_poll (&w, c.cx));
  pthread_join (th, NULL);
  g_assert_cmpint (test_cx_wakes (&c), <=, 1);
  asyncrt_cancelled_clear (&w);
  wait_refs_released (&c);
  test_cx_clear (&c);
  asyncrt_cancel_token_unref (grandchild);
  asyncrt_cancel_token_unref (child);
  asyncrt_cancel_token_unref (root);
}

/* ---- 10,000 waiters, each woken once ---------------------------------------------------- */

#define N_WAITERS 10000

static void
test_many_waiters (void)
{
  AsyncrtCancelToken *root = asyncrt_cancel_token_new ();
  AsyncrtCancelToken *child = asyncrt_cancel_token_new_child (root);
  AsyncrtCancelled *w = g_new0 (AsyncrtCancelled, N_WAITERS);
  atomic_int *wakes = g_new0 (atomic_int, N_WAITERS);
  AsyncrtContext **cx = g_new0 (AsyncrtContext *, N_WAITERS);
  for (int i = 0; i < N_WAITERS; i++)
    {
      AsyncrtWaker wk;
      asyncrt_waker_init (&wk, &counting_vtable, &wakes[i]);
      cx[i] = asyncrt_context_new (&wk);
      asyncrt_cancelled_init (&w[i], i % 2 ? root : child);
      g_assert_cmpint (asyncrt_cancelled_poll (&w[i], cx[i]), ==, ASYNCRT_PENDING);
      if (i % 3 == 0)   /* re-polls with the same waker store nothing new */
        g_assert_cmpint (asyncrt_cancelled_poll (&w[i], cx[i]), ==, ASYNCRT_PENDING);
    }
  pthread_t th;
  pthread_create (&th, NULL, cancel_thread, root);
  pthread_join (th, NULL);
  for (int i = 0; i < N_WAITERS; i++)
    {
      g_assert_cmpint (atomic_load (&wakes[i]), ==, 1);
      g_assert_cmpint (asyncrt_cancelled_poll (&w[i], cx[i]), ==, ASYNCRT_READY);
      asyncrt_cancelled_clear (&w[i]);
      asyncrt_context_free (cx[i]);
    }
  asyncrt_cancel_token_cancel (root);
  for (int i = 0; i < N_WAITERS; i++)
    g_assert_cmpint (atomic_load (&wakes[i]), ==, 1);
  g_free (w);
  g_free (wakes);
  g_free (cx);
  asyncrt_cancel_token_unref (child);
  asyncrt_cancel_token_unref (root);
}

/* ---- dropping a waiting future; zero-filled futures ---------------------------------- */

static void
test_clear (void)
{
  AsyncrtCancelled zero;
  memset (&zero, 0, sizeof zero);
  asyncrt_cancelled_clear (&zero);            /* never initialised */
  asyncrt_cancelled_clear (NULL);

  AsyncrtCancelToken *t = asyncrt_cancel_token_new ();
  TestCx c;
  test_cx_init (&c);
  AsyncrtCancelled *w = g_new0 (AsyncrtCancelled, 1);
  asyncrt_cancelled_init (w, t);
  g_assert_cmpint (asyncrt_cancelled_poll (w, c.cx), ==, ASYNCRT_PENDING);
  g_assert_cmpint (test_cx_extra_refs (&c), ==, 1);
  asyncrt_cancelled_clear (w);                /* leaves the list, drops the waker */
  g_assert_cmpint (test_cx_extra_refs (&c), ==, 0);
  g_free (w);                                 /* ASan: cancel must not touch it */
  asyncrt_cancel_token_cancel (t);
  g_assert_cmpint (test_cx_wakes (&c), ==, 0);
  test_cx_clear (&c);
  asyncrt_cancel_token_unref (t);
}

/* ---- NULL everywhere ------------------------------------------------------------------ */

static void
test_errors (void)
{
  errno = 0;
  g_assert_null (asyncrt_cancel_token_new_child (NULL));
  g_assert_cmpint (errno, ==, EINVAL);
  g_assert_null (asyncrt_cancel_token_ref (NULL));
  asyncrt_cancel_token_unref (NULL);
  asyncrt_cancel_token_cancel (NULL);
  g_assert_false (asyncrt_cancel_token_is_cancelled (NULL));
  asyncrt_cancelled_init (NULL, NULL);

  TestCx c;
  test_cx_init (&c);
  g_assert_cmpint (asyncrt_cancelled_poll (NULL, c.cx), ==, ASYNCRT_READY);
  AsyncrtCancelled w;
  asyncrt_cancelled_init (&w, NULL);          /* no token: ready at once */
  g_assert_cmpint (asyncrt_cancelled_poll (&w, c.cx), ==, ASYNCRT_READY);
  asyncrt_cancelled_clear (&w);
  test_cx_clear (&c);
}

/* ---- children created and dropped while another thread cancels (TSan) ----------------- */

typedef struct
{
  AsyncrtCancelToken *root;
  atomic_bool stop;
  atomic_int late_ok;
} Churn;

static void *
churn_thread (void *data)
{
  Churn *c = data;
  while (!atomic_load (&c->stop))
    {
      AsyncrtCancelToken *child = asyncrt_cancel_token_new_child (c->root);
      AsyncrtCancelToken *grandchild = asyncrt_cancel_token_new_child (child);
      bool root_was = asyncrt_cancel_token_is_cancelled (c->root);
      asyncrt_cancel_token_unref (child);
      /* Once the root is cancelled, every later descendant is too. */
      if (root_was)
        {
          g_assert_true (asyncrt_cancel_token_is_cancelled (grandchild));
          atomic_fetch_add (&c->late_ok, 1);
        }
      asyncrt_cancel_token_unref (grandchild);
    }
  return NULL;
}

static void
test_concurrent_children (void)
{
  Churn c = { asyncrt_cancel_token_new (), false, 0 };
  pthread_t th[3];
  for (int i = 0; i < 3; i++)
    pthread_create (&th[i], NULL, churn_thread, &c);
  g_usleep (20000);
  asyncrt_cancel_token_cancel (c.root);
  while (atomic_load (&c.late_ok) < 100)
    g_usleep (1000);
  atomic_store (&c.stop, true);
  for (int i = 0; i < 3; i++)
    pthread_join (th[i], NULL);
  asyncrt_cancel_token_unref (c.root);
}

/* ---- 10,000 tasks waiting on one token, on both schedulers ---------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtCancelled stop;
  atomic_int *polls;
  atomic_int *waiting;
  int index;
} Sleeper;

static AsyncrtPoll
sleeper_poll (void *p, AsyncrtContext *cx)
{
  Sleeper *self = p;
  if (!asyncrt_trace_is_tracing ())           /* a dump's trace poll is not a wake-up */
    atomic_fetch_add (&self->polls[self->index], 1);
  ASYNCRT_BEGIN (&self->co);
  atomic_fetch_add (self->waiting, 1);
  ASYNCRT_AWAIT (&self->co, asyncrt_cancelled_poll (&self->stop, cx));
  ASYNCRT_END (&self->co);
}

static void
sleeper_free (void *p)
{
  Sleeper *self = p;
  asyncrt_cancelled_clear (&self->stop);
  g_free (self);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtCancelToken *root;
  AsyncrtCancelToken *child;
  AsyncrtJoinSet *set;
  atomic_int *polls;
  atomic_int waiting;
  AsyncrtTaskId id;
  AsyncrtSleep sleep;
  gint64 deadline;
  pthread_t th;
  int joined;
} ManyTasks;

static AsyncrtPoll
many_tasks_poll (void *p, AsyncrtContext *cx)
{
  ManyTasks *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->set = asyncrt_join_set_new ();
  for (int i = 0; i < N_WAITERS; i++)
    {
      Sleeper *s = g_new0 (Sleeper, 1);
      s->polls = self->polls;
      s->waiting = &self->waiting;
      s->index = i;
      asyncrt_cancelled_init (&s->stop, i % 2 ? self->child : self->root);
      g_assert_cmpint (asyncrt_join_set_spawn (self->set, sleeper_poll, s, sleeper_free), ==, 0);
    }
  AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 30000,
               atomic_load (&self->waiting) == N_WAITERS);
  g_assert_cmpint (atomic_load (&self->waiting), ==, N_WAITERS);

  pthread_create (&self->th, NULL, cancel_thread, self->root);
  for (;;)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_poll (self->set, cx, &self->id));
      if (self->id == 0)
        break;
      self->joined++;
    }
  pthread_join (self->th, NULL);
  g_assert_cmpint (self->joined, ==, N_WAITERS);
  asyncrt_join_set_free (self->set);
  ASYNCRT_END (&self->co);
}

static void
test_many_tasks (void)
{
  ManyTasks *t = g_new0 (ManyTasks, 1);
  t->root = asyncrt_cancel_token_new ();
  t->child = asyncrt_cancel_token_new_child (t->root);
  t->polls = g_new0 (atomic_int, N_WAITERS);
  run_on_new_runtime (many_tasks_poll, t);
  /* One poll to start waiting, one after the single wake-up: never more. */
  for (int i = 0; i < N_WAITERS; i++)
    g_assert_cmpint (atomic_load (&t->polls[i]), ==, 2);
  asyncrt_cancel_token_unref (t->child);
  asyncrt_cancel_token_unref (t->root);
  g_free (t->polls);
  g_free (t);
}

/* ---- a task waiting on a token shows the leaf in dumps -------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtCancelToken *root;
  AsyncrtJoinSet *set;
  atomic_int *polls;
  atomic_int waiting;
  AsyncrtTaskId id;
  AsyncrtDumpFuture df;
  AsyncrtSleep sleep;
  gint64 deadline;
} DumpTest;

static AsyncrtPoll
dump_test_poll (void *p, AsyncrtContext *cx)
{
  DumpTest *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->set = asyncrt_join_set_new ();
  {
    Sleeper *s = g_new0 (Sleeper, 1);
    s->polls = self->polls;
    s->waiting = &self->waiting;
    asyncrt_cancelled_init (&s->stop, self->root);
    g_assert_cmpint (asyncrt_join_set_spawn (self->set, sleeper_poll, s, sleeper_free), ==, 0);
  }
  AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 10000,
               atomic_load (&self->waiting) == 1);
  asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), test_timeout_ms (5000));
  ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
  {
    AsyncrtDump *d = asyncrt_dump_future_take (&self->df);
    g_assert_nonnull (d);
    gboolean seen = FALSE;
    for (size_t i = 0; i < asyncrt_dump_get_n_tasks (d) && !seen; i++)
      {
        const AsyncrtTrace *tr = asyncrt_dump_task_get_trace (asyncrt_dump_get_task (d, i));
        if (tr == NULL)
          continue;
        char *s = asyncrt_trace_to_string (tr);
        seen = strstr (s, "asyncrt_cancelled_poll") != NULL && strstr (s, "sleeper_poll") != NULL;
        free (s);
      }
    g_assert_true (seen);
    asyncrt_dump_free (d);
    asyncrt_dump_future_clear (&self->df);
  }
  asyncrt_cancel_token_cancel (self->root);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_poll (self->set, cx, &self->id));
  g_assert_cmpuint (self->id, !=, 0);
  asyncrt_join_set_free (self->set);
  ASYNCRT_END (&self->co);
}

static void
test_dump (void)
{
  DumpTest *t = g_new0 (DumpTest, 1);
  t->root = asyncrt_cancel_token_new ();
  t->polls = g_new0 (atomic_int, 1);
  run_on_new_runtime (dump_test_poll, t);
  asyncrt_cancel_token_unref (t->root);
  g_free (t->polls);
  g_free (t);
}

int
main (int argc, char **argv)
{
  static const FlavourTest runtime_tests[] = {
    { "10000-tasks", test_many_tasks },
    { "dump", test_dump },
  };
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cancel/basic", test_basic);
  g_test_add_func ("/cancel/tree-3-levels", test_tree);
  g_test_add_func ("/cancel/deep-chain", test_deep_chain);
  g_test_add_func ("/cancel/other-thread", test_other_thread);
  g_test_add_func ("/cancel/10000-waiters", test_many_waiters);
  g_test_add_func ("/cancel/clear", test_clear);
  g_test_add_func ("/cancel/errors", test_errors);
  g_test_add_func ("/cancel/concurrent-children", test_concurrent_children);
  flavour_add_tests ("cancel/runtime", runtime_tests, G_N_ELEMENTS (runtime_tests));
  return g_test_run ();
}
