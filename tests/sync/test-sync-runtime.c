/* The sync primitives used by real tasks on both runtimes (the multi-thread one with
 * 4 workers, so tasks contend for real): message
 * passing between tasks, a mutex held across awaits, a semaphore bounding
 * concurrency, and a task aborted while it waits for a mutex (its free function
 * clears the lock future, which must hand the mutex on). */
#include <asyncrt/asyncrt.h>
#include <glib.h>

#include <errno.h>

#include "test-util.h"

/* Yield to the scheduler: wake ourselves, return PENDING once. */
#define YIELD(co, cx)                                                        \
  do                                                                         \
    {                                                                        \
      asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));            \
      ASYNCRT_YIELD_PENDING (co);                                            \
    }                                                                        \
  while (0)

/* The flavour each test runs on: the test data says which. */
static AsyncrtRuntime *
new_runtime_flavour (gboolean multi)
{
  AsyncrtBuilder *b = multi ? asyncrt_builder_new_multi_thread ()
                            : asyncrt_builder_new_current_thread ();
  g_assert_nonnull (b);
  if (multi)
    g_assert_cmpint (asyncrt_builder_set_worker_threads (b, 4), ==, 0);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  return rt;
}

static gboolean multi_flavour;

static AsyncrtRuntime *
new_runtime (void)
{
  return new_runtime_flavour (multi_flavour);
}

/* --- mpsc between tasks --------------------------------------------------------------- */

#define N_PRODUCERS 4
#define PER_PRODUCER 500

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMpscSender *tx;
  AsyncrtMpscSend send;
  int id;
  int i;
} ProducerTask;

static AsyncrtPoll
producer_poll (void *p, AsyncrtContext *cx)
{
  ProducerTask *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 1; self->i <= PER_PRODUCER; self->i++)
    {
      asyncrt_mpsc_send_init (&self->send, self->tx, GINT_TO_POINTER ((self->id << 16) | self->i));
      ASYNCRT_AWAIT (&self->co, asyncrt_mpsc_send_poll (&self->send, cx));
      g_assert_cmpint (asyncrt_mpsc_send_result (&self->send), ==, 0);
      asyncrt_mpsc_send_clear (&self->send);
      if (self->i % 7 == 0)
        YIELD (&self->co, cx);
    }
  asyncrt_mpsc_sender_free (self->tx);
  self->tx = NULL;
  ASYNCRT_END (&self->co);
}

static void
producer_free (void *p)
{
  ProducerTask *self = p;
  asyncrt_mpsc_send_clear (&self->send);
  asyncrt_mpsc_sender_free (self->tx);
  g_free (self);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMpscReceiver *rx;
  AsyncrtMpscRecv recv;
  int last[N_PRODUCERS];
  int total;
  int end_result;
} ConsumerTask;

static AsyncrtPoll
consumer_poll (void *p, AsyncrtContext *cx)
{
  ConsumerTask *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (;;)
    {
      asyncrt_mpsc_recv_init (&self->recv, self->rx);
      ASYNCRT_AWAIT (&self->co, asyncrt_mpsc_recv_poll (&self->recv, cx));
      {
        void *m = NULL;
        int r = asyncrt_mpsc_recv_result (&self->recv, &m);
        asyncrt_mpsc_recv_clear (&self->recv);
        if (r < 0)
          {
            self->end_result = r;
            break;
          }
        int v = GPOINTER_TO_INT (m), id = v >> 16, seq = v & 0xffff;
        g_assert_cmpint (seq, ==, self->last[id] + 1);
        self->last[id] = seq;
        self->total++;
      }
    }
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtCoroutine co;
  size_t capacity;
  ConsumerTask *consumer;
  AsyncrtJoinHandle *consumer_jh;
  AsyncrtJoinHandle *producer_jh[N_PRODUCERS];
  int i;
} MpscRoot;

static AsyncrtPoll
mpsc_root_poll (void *p, AsyncrtContext *cx)
{
  MpscRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  {
    AsyncrtMpscSender *tx;
    g_assert_cmpint (asyncrt_mpsc_new (self->capacity, NULL, &tx, &self->consumer->rx), ==, 0);
    self->consumer_jh = asyncrt_spawn (consumer_poll, self->consumer, NULL);
    g_assert_nonnull (self->consumer_jh);
    /* Every handle exists before any producer runs: on the multi-thread runtime
     * producer 0 may finish (and free its sender) before the next spawn. */
    ProducerTask *pt[N_PRODUCERS];
    for (int i = 0; i < N_PRODUCERS; i++)
      {
        pt[i] = g_new0 (ProducerTask, 1);
        pt[i]->id = i;
        pt[i]->tx = i == 0 ? tx : asyncrt_mpsc_sender_clone (tx);
      }
    for (int i = 0; i < N_PRODUCERS; i++)
      {
        self->producer_jh[i] = asyncrt_spawn (producer_poll, pt[i], producer_free);
        g_assert_nonnull (self->producer_jh[i]);
      }
  }
  for (self->i = 0; self->i < N_PRODUCERS; self->i++)
    ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->producer_jh[self->i], cx));
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->consumer_jh, cx));
  ASYNCRT_END (&self->co);
}

static void
run_mpsc (size_t capacity)
{
  AsyncrtRuntime *rt = new_runtime ();
  ConsumerTask consumer = { 0 };
  MpscRoot root = { 0 };
  root.capacity = capacity;
  root.consumer = &consumer;
  g_assert_cmpint (asyncrt_runtime_block_on (rt, mpsc_root_poll, &root), ==, 0);
  g_assert_cmpint (consumer.total, ==, N_PRODUCERS * PER_PRODUCER);
  g_assert_cmpint (consumer.end_result, ==, -EPIPE);
  for (int i = 0; i < N_PRODUCERS; i++)
    asyncrt_join_handle_free (root.producer_jh[i]);
  asyncrt_join_handle_free (root.consumer_jh);
  asyncrt_mpsc_receiver_free (consumer.rx);
  asyncrt_runtime_free (rt);
}

static void
test_mpsc_tasks_bounded (void)
{
  run_mpsc (3);
}

static void
test_mpsc_tasks_unbounded (void)
{
  run_mpsc (0);
}

/* --- mutex held across awaits, semaphore bounding concurrency ------------------------ */

#define N_WORKERS 16            /* half on the mutex, half on the semaphore */
#define ROUNDS 50

typedef struct
{
  AsyncrtMutex mutex;
  AsyncrtSemaphore sem;
  long counter;           /* read-yield-write under the async mutex */
  gint in_flight;
  gint max_in_flight;
} SharedState;

typedef struct
{
  AsyncrtCoroutine co;
  SharedState *s;
  AsyncrtMutexLock lock;
  AsyncrtSemaphoreAcquire acq;
  long seen;
  int i;
  int j;
  gboolean use_semaphore;
} Worker;

static AsyncrtPoll
worker_poll (void *p, AsyncrtContext *cx)
{
  Worker *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < ROUNDS && !self->use_semaphore; self->i++)
    {
      asyncrt_mutex_lock_init (&self->lock, &self->s->mutex);
      ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
      g_assert_cmpint (asyncrt_mutex_lock_result (&self->lock), ==, 0);
      asyncrt_mutex_lock_clear (&self->lock);
      self->seen = self->s->counter;
      YIELD (&self->co, cx);                /* others run; they must wait for us */
      self->s->counter = self->seen + 1;
      g_assert_cmpint (asyncrt_mutex_unlock (&self->s->mutex), ==, 0);
    }
  for (self->i = 0; self->i < ROUNDS && self->use_semaphore; self->i++)
    {
      asyncrt_semaphore_acquire_init (&self->acq, &self->s->sem, 1);
      ASYNCRT_AWAIT (&self->co, asyncrt_semaphore_acquire_poll (&self->acq, cx));
      g_assert_cmpint (asyncrt_semaphore_acquire_result (&self->acq), ==, 0);
      asyncrt_semaphore_acquire_clear (&self->acq);
      {
        /* Holders may run in parallel on the multi-thread runtime. */
        gint h = g_atomic_int_add (&self->s->in_flight, 1) + 1, m;
        while ((m = g_atomic_int_get (&self->s->max_in_flight)) < h
               && !g_atomic_int_compare_and_exchange (&self->s->max_in_flight, m, h))
          ;
        g_assert_cmpint (h, <=, 3);
      }
      for (self->j = 0; self->j < 3; self->j++)
        YIELD (&self->co, cx);
      g_atomic_int_add (&self->s->in_flight, -1);
      asyncrt_semaphore_release (&self->s->sem, 1);
    }
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtCoroutine co;
  SharedState *s;
  Worker workers[N_WORKERS];
  AsyncrtJoinHandle *jh[N_WORKERS];
  int i;
} WorkerRoot;

static AsyncrtPoll
worker_root_poll (void *p, AsyncrtContext *cx)
{
  WorkerRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (int i = 0; i < N_WORKERS; i++)
    {
      self->workers[i].s = self->s;
      self->workers[i].use_semaphore = i % 2 == 1;
      self->jh[i] = asyncrt_spawn (worker_poll, &self->workers[i], NULL);
    }
  for (self->i = 0; self->i < N_WORKERS; self->i++)
    ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh[self->i], cx));
  ASYNCRT_END (&self->co);
}

static void
test_mutex_and_semaphore_tasks (void)
{
  AsyncrtRuntime *rt = new_runtime ();
  SharedState s = { 0 };
  asyncrt_mutex_init (&s.mutex);
  asyncrt_semaphore_init (&s.sem, 3);
  WorkerRoot *root = g_new0 (WorkerRoot, 1);
  root->s = &s;
  g_assert_cmpint (asyncrt_runtime_block_on (rt, worker_root_poll, root), ==, 0);
  g_assert_cmpint (s.counter, ==, N_WORKERS / 2 * ROUNDS);
  g_assert_cmpint (s.max_in_flight, <=, 3);
  if (!multi_flavour)
    g_assert_cmpint (s.max_in_flight, ==, 3);   /* deterministic there */
  g_assert_false (asyncrt_mutex_is_locked (&s.mutex));
  g_assert_cmpuint (asyncrt_semaphore_get_available_permits (&s.sem), ==, 3);
  for (int i = 0; i < N_WORKERS; i++)
    asyncrt_join_handle_free (root->jh[i]);
  asyncrt_runtime_free (rt);
  asyncrt_mutex_clear (&s.mutex);
  asyncrt_semaphore_clear (&s.sem);
  g_free (root);
}

/* --- abort while waiting: the mutex passes on ----------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMutex *m;
  AsyncrtMutexLock lock;
  gboolean got_it;
  gboolean *freed;
} Locker;

static AsyncrtPoll
locker_poll (void *p, AsyncrtContext *cx)
{
  Locker *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_mutex_lock_init (&self->lock, self->m);
  ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
  self->got_it = TRUE;
  asyncrt_mutex_unlock (self->m);
  ASYNCRT_END (&self->co);
}

static void
locker_free (void *p)
{
  Locker *self = p;
  asyncrt_mutex_lock_clear (&self->lock);   /* cancellation: hands a grant on */
  *self->freed = TRUE;
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMutex m;
  Locker a, b;
  gboolean a_freed, b_freed;
  AsyncrtJoinHandle *ja, *jb;
  int i;
} AbortRoot;

static AsyncrtPoll
abort_root_poll (void *p, AsyncrtContext *cx)
{
  AbortRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_cmpint (asyncrt_mutex_try_lock (&self->m), ==, 0);
  self->a.m = self->b.m = &self->m;
  self->a.freed = &self->a_freed;
  self->b.freed = &self->b_freed;
  self->ja = asyncrt_spawn (locker_poll, &self->a, locker_free);
  self->jb = asyncrt_spawn (locker_poll, &self->b, locker_free);
  for (self->i = 0; self->i < 5; self->i++)
    YIELD (&self->co, cx);                  /* both tasks queue on the mutex */
  g_assert_false (self->a.got_it);
  g_assert_false (self->b.got_it);
  /* Hand the mutex to a, then abort a before it can run. */
  g_assert_cmpint (asyncrt_mutex_unlock (&self->m), ==, 0);
  asyncrt_join_handle_abort (self->ja);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->ja, cx));
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jb, cx));
  ASYNCRT_END (&self->co);
}

static void
test_abort_waiting_task (void)
{
  AsyncrtRuntime *rt = new_runtime ();
  AbortRoot *root = g_new0 (AbortRoot, 1);
  asyncrt_mutex_init (&root->m);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, abort_root_poll, root), ==, 0);
  g_assert_true (asyncrt_join_handle_is_cancelled (root->ja));
  g_assert_false (root->a.got_it);
  g_assert_true (root->b.got_it);
  g_assert_false (asyncrt_mutex_is_locked (&root->m));
  asyncrt_join_handle_free (root->ja);
  asyncrt_join_handle_free (root->jb);
  asyncrt_runtime_free (rt);
  g_assert_true (root->a_freed);
  g_assert_true (root->b_freed);
  asyncrt_mutex_clear (&root->m);
  g_free (root);
}

/* --- notify and oneshot between tasks ----------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotify *n;
  AsyncrtNotified w;
  AsyncrtOneshotSender *reply;
} Waiter;

static AsyncrtPoll
waiter_poll (void *p, AsyncrtContext *cx)
{
  Waiter *self = p;
  ASYNCRT_BEGIN (&self->co);
  /* self->w was initialised by the spawner: notify_waiters() reaches it even if this
   * task has not been polled yet (on the multi-thread runtime it may not have). */
  ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->w, cx));
  asyncrt_notified_clear (&self->w);
  g_assert_cmpint (asyncrt_oneshot_send (self->reply, GINT_TO_POINTER (1)), ==, 0);
  self->reply = NULL;
  ASYNCRT_END (&self->co);
}

#define N_WAITERS 5

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotify n;
  Waiter waiters[N_WAITERS];
  AsyncrtOneshotReceiver *rx[N_WAITERS];
  AsyncrtOneshotRecv recv;
  AsyncrtJoinHandle *jh[N_WAITERS];
  int i;
  int replies;
} NotifyRoot;

static AsyncrtPoll
notify_root_poll (void *p, AsyncrtContext *cx)
{
  NotifyRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (int i = 0; i < N_WAITERS; i++)
    {
      self->waiters[i].n = &self->n;
      asyncrt_notified_init (&self->waiters[i].w, &self->n);
      g_assert_cmpint (asyncrt_oneshot_new (NULL, &self->waiters[i].reply, &self->rx[i]), ==, 0);
      self->jh[i] = asyncrt_spawn (waiter_poll, &self->waiters[i], NULL);
    }
  for (self->i = 0; self->i < 3; self->i++)
    YIELD (&self->co, cx);
  asyncrt_notify_notify_waiters (&self->n);
  for (self->i = 0; self->i < N_WAITERS; self->i++)
    {
      asyncrt_oneshot_recv_init (&self->recv, self->rx[self->i]);
      ASYNCRT_AWAIT (&self->co, asyncrt_oneshot_recv_poll (&self->recv, cx));
      if (asyncrt_oneshot_recv_result (&self->recv, NULL) == 0)
        self->replies++;
      asyncrt_oneshot_recv_clear (&self->recv);
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh[self->i], cx));
    }
  ASYNCRT_END (&self->co);
}

static void
test_notify_oneshot_tasks (void)
{
  AsyncrtRuntime *rt = new_runtime ();
  NotifyRoot *root = g_new0 (NotifyRoot, 1);
  asyncrt_notify_init (&root->n);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, notify_root_poll, root), ==, 0);
  g_assert_cmpint (root->replies, ==, N_WAITERS);
  for (int i = 0; i < N_WAITERS; i++)
    {
      asyncrt_join_handle_free (root->jh[i]);
      asyncrt_oneshot_receiver_free (root->rx[i]);
    }
  asyncrt_runtime_free (rt);
  asyncrt_notify_clear (&root->n);
  g_free (root);
}

static void
run_flavour (gconstpointer data)
{
  const struct { gboolean multi; GTestFunc func; } *t = data;
  multi_flavour = t->multi;
  t->func ();
}

int
main (int argc, char **argv)
{
  static const struct { const char *name; GTestFunc func; gboolean both; } tests[] = {
    { "mpsc-tasks-bounded", test_mpsc_tasks_bounded, TRUE },
    { "mpsc-tasks-unbounded", test_mpsc_tasks_unbounded, TRUE },
    { "mutex-and-semaphore-tasks", test_mutex_and_semaphore_tasks, TRUE },
    /* Aborting a task before it runs its grant is deterministic only here. */
    { "abort-waiting-task", test_abort_waiting_task, FALSE },
    { "notify-oneshot-tasks", test_notify_oneshot_tasks, TRUE },
  };
  static struct { gboolean multi; GTestFunc func; } cases[2 * G_N_ELEMENTS (tests)];
  g_test_init (&argc, &argv, NULL);
  size_t n = 0;
  for (size_t i = 0; i < G_N_ELEMENTS (tests); i++)
    for (int multi = 0; multi < 2; multi++)
      {
        if (multi && !tests[i].both)
          continue;
        cases[n].multi = multi;
        cases[n].func = tests[i].func;
        char *path = g_strdup_printf ("/sync/runtime/%s/%s",
                                      multi ? "multi-thread" : "current-thread", tests[i].name);
        g_test_add_data_func (path, &cases[n], run_flavour);
        g_free (path);
        n++;
      }
  return g_test_run ();
}
