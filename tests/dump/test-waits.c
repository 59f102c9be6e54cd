/* Why a task waits, through the public API, on both schedulers: every leaf future
 * describes its wait (kind, object, name, facts); a mutex's holder is right while it
 * is held across an await, passes to the next waiter, and is cleared after release,
 * also when the holder is cancelled; a semaphore's holder and permits; lock-order
 * deadlocks and join cycles are reported with exactly their tasks; a holder that is
 * merely slow makes no cycle; 10,000 tasks print in a few lines grouped; object names
 * are escaped; every JSON dump is validated against the schema. */
#include <asyncrt/asyncrt.h>
#include <glib.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "flavour-util.h"
#include "dump-json-util.h"

/* ---- a runtime of the case's flavour, with a thread in block_on for current_thread ---- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotify *stop;
  AsyncrtNotified wait;
} BlockOn;

static AsyncrtPoll
block_on_poll (void *p, AsyncrtContext *cx)
{
  BlockOn *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_notified_init (&self->wait, self->stop);
  ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->wait, cx));
  asyncrt_notified_clear (&self->wait);
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtRuntime *rt;
  AsyncrtHandle *h;
  AsyncrtNotify stop;
  BlockOn block_on;
  pthread_t runner;
  bool has_runner;
} Harness;

static void *
runner_main (void *data)
{
  Harness *hs = data;
  g_assert_cmpint (asyncrt_runtime_block_on (hs->rt, block_on_poll, &hs->block_on), ==, 0);
  return NULL;
}

static void
harness_start (Harness *hs)
{
  memset (hs, 0, sizeof *hs);
  hs->rt = new_runtime ();
  hs->h = asyncrt_runtime_get_handle (hs->rt);
  asyncrt_notify_init (&hs->stop);
  hs->block_on.stop = &hs->stop;
  if (!multi_flavour)
    {
      g_assert_cmpint (pthread_create (&hs->runner, NULL, runner_main, hs), ==, 0);
      hs->has_runner = true;
    }
}

/* Cancels every task left (their free functions clear their futures). */
static void
harness_stop (Harness *hs)
{
  if (hs->has_runner)
    {
      asyncrt_notify_notify_one (&hs->stop);
      pthread_join (hs->runner, NULL);
    }
  asyncrt_runtime_free (hs->rt);
  asyncrt_notify_clear (&hs->stop);
}

static AsyncrtDump *
take_dump (Harness *hs)
{
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (hs->h, test_timeout_ms (5000), &d), ==, 0);
  free (test_dump_json (d, ASYNCRT_DUMP_GROUP));
  return d;
}

/* Dumps until task @id is traced, idle, and its first leaf waits with @kind (and, if
 * @pred, @pred holds); returns that dump and its task. */
typedef bool (*WaitPred) (const AsyncrtWait *w);

static AsyncrtDump *
dump_until (Harness *hs, AsyncrtTaskId id, AsyncrtWaitKind kind, WaitPred pred,
            const AsyncrtDumpTask **ret_task)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  for (;;)
    {
      AsyncrtDump *d = take_dump (hs);
      const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, id);
      const AsyncrtWait *w = asyncrt_dump_task_get_wait (t, 0);
      if (t != NULL && asyncrt_dump_task_get_state (t) == ASYNCRT_TASK_STATE_IDLE
          && asyncrt_wait_get_kind (w) == kind && (pred == NULL || pred (w)))
        {
          *ret_task = t;
          return d;
        }
      if (g_get_monotonic_time () > deadline)
        {
          char *s = asyncrt_dump_to_string (d);
          g_error ("task %" G_GUINT64_FORMAT " never waited with kind %s:\n%s", id,
                   asyncrt_wait_kind_to_string (kind), s);
        }
      asyncrt_dump_free (d);
      g_usleep (5000);
    }
}

static int64_t
fact (const AsyncrtWait *w, AsyncrtWaitFact f)
{
  int64_t v = -12345;
  g_assert_cmpint (asyncrt_wait_get_fact (w, f, &v), ==, 0);
  return v;
}

static bool
has_fact (const AsyncrtWait *w, AsyncrtWaitFact f)
{
  return asyncrt_wait_get_fact (w, f, NULL) == 0;
}

static void
assert_text_has (AsyncrtDump *d, const char *needle)
{
  char *s = asyncrt_dump_to_string (d);
  if (strstr (s, needle) == NULL)
    g_error ("the dump lacks \"%s\":\n%s", needle, s);
  free (s);
}

/* ---- the shared objects every leaf waits on ---------------------------------------- */

typedef struct
{
  AsyncrtNotify bell;                     /* "bell": nobody rings it */
  AsyncrtMutex store;                     /* "store" */
  AsyncrtSemaphore pool;                  /* "pool", 2 permits */
  AsyncrtMpscSender *jobs_tx, *jobs_tx2;  /* "jobs": bounded 4, two senders, empty */
  AsyncrtMpscReceiver *jobs_rx;
  AsyncrtMpscSender *full_tx;             /* "full": bounded 1, one message queued */
  AsyncrtMpscReceiver *full_rx;
  AsyncrtOneshotSender *reply_tx;         /* "reply": the sender kept */
  AsyncrtOneshotReceiver *reply_rx;
  int pipe_r[2];                          /* nothing written: readers wait */
  int pipe_w[2];                          /* filled: writers wait */
  AsyncrtCancelToken *token;
  pthread_mutex_t blocking_lock;          /* the blocking call waits on it (pthread: */
  pthread_cond_t blocking_cond;           /* ThreadSanitizer does not see GMutex) */
  bool blocking_release;
  atomic_bool blocking_started;
  atomic_int ready;                       /* tasks that reached their setup */
  _Atomic AsyncrtTaskId sem_holder;
} Fixture;

static Fixture fx;

static void
fixture_init (void)
{
  memset (&fx, 0, sizeof fx);
  asyncrt_notify_init (&fx.bell);
  g_assert_cmpint (asyncrt_notify_set_name (&fx.bell, "bell"), ==, 0);
  asyncrt_mutex_init (&fx.store);
  g_assert_cmpint (asyncrt_mutex_set_name (&fx.store, "store"), ==, 0);
  g_assert_cmpint (asyncrt_semaphore_init (&fx.pool, 2), ==, 0);
  g_assert_cmpint (asyncrt_semaphore_set_name (&fx.pool, "pool"), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_new (4, NULL, &fx.jobs_tx, &fx.jobs_rx), ==, 0);
  fx.jobs_tx2 = asyncrt_mpsc_sender_clone (fx.jobs_tx);
  g_assert_cmpint (asyncrt_mpsc_receiver_set_name (fx.jobs_rx, "jobs"), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_new (1, NULL, &fx.full_tx, &fx.full_rx), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_receiver_set_name (fx.full_rx, "full"), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_try_send (fx.full_tx, GINT_TO_POINTER (1)), ==, 0);
  g_assert_cmpint (asyncrt_oneshot_new (NULL, &fx.reply_tx, &fx.reply_rx), ==, 0);
  g_assert_cmpint (asyncrt_oneshot_receiver_set_name (fx.reply_rx, "reply"), ==, 0);
  g_assert_cmpint (pipe (fx.pipe_r), ==, 0);
  g_assert_cmpint (pipe (fx.pipe_w), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      g_assert_cmpint (fcntl (fx.pipe_r[i], F_SETFL, O_NONBLOCK), ==, 0);
      g_assert_cmpint (fcntl (fx.pipe_w[i], F_SETFL, O_NONBLOCK), ==, 0);
    }
  char buf[4096] = { 0 };
  while (write (fx.pipe_w[1], buf, sizeof buf) > 0)
    ;
  fx.token = asyncrt_cancel_token_new ();
  pthread_mutex_init (&fx.blocking_lock, NULL);
  pthread_cond_init (&fx.blocking_cond, NULL);
}

static void
release_blocking (void)
{
  pthread_mutex_lock (&fx.blocking_lock);
  fx.blocking_release = true;
  pthread_cond_broadcast (&fx.blocking_cond);
  pthread_mutex_unlock (&fx.blocking_lock);
}

static void
fixture_clear (void)
{
  release_blocking ();
  asyncrt_notify_clear (&fx.bell);
  asyncrt_mutex_clear (&fx.store);
  asyncrt_semaphore_clear (&fx.pool);
  asyncrt_mpsc_sender_free (fx.jobs_tx);
  asyncrt_mpsc_sender_free (fx.jobs_tx2);
  asyncrt_mpsc_receiver_free (fx.jobs_rx);
  asyncrt_mpsc_sender_free (fx.full_tx);
  asyncrt_mpsc_receiver_free (fx.full_rx);
  asyncrt_oneshot_sender_free (fx.reply_tx);
  asyncrt_oneshot_receiver_free (fx.reply_rx);
  for (int i = 0; i < 2; i++)
    {
      close (fx.pipe_r[i]);
      close (fx.pipe_w[i]);
    }
  asyncrt_cancel_token_unref (fx.token);
  pthread_mutex_destroy (&fx.blocking_lock);
  pthread_cond_destroy (&fx.blocking_cond);
}

static void
blocking_wait (void *data)
{
  (void) data;
  atomic_store (&fx.blocking_started, true);
  pthread_mutex_lock (&fx.blocking_lock);
  while (!fx.blocking_release)
    pthread_cond_wait (&fx.blocking_cond, &fx.blocking_lock);
  pthread_mutex_unlock (&fx.blocking_lock);
}

/* ---- one task per kind of leaf ------------------------------------------------------- */

typedef enum
{
  LEAF_YIELD, LEAF_SLEEP, LEAF_READ, LEAF_WRITE, LEAF_NOTIFY, LEAF_ONESHOT, LEAF_RECV,
  LEAF_SEND, LEAF_SEMAPHORE, LEAF_SEM_HOLDER, LEAF_JOIN, LEAF_BLOCKING, LEAF_JOIN_SET,
  LEAF_CANCELLED, LEAF_SIGNAL, LEAF_DUMP, LEAF_USER_SILENT, LEAF_USER_DESCRIBED
} LeafKind;

typedef struct
{
  AsyncrtCoroutine co;
  LeafKind kind;
  /* Every future any kind uses; all are safe to clear zero-filled. */
  AsyncrtYield yield;
  AsyncrtSleep sleep;
  AsyncrtFd fd;
  AsyncrtNotified notified;
  AsyncrtOneshotRecv oneshot;
  AsyncrtMpscRecv recv;
  AsyncrtMpscSend send;
  AsyncrtSemaphoreAcquire acquire;
  AsyncrtJoinHandle *target;              /* LEAF_JOIN: joined (owned) */
  AsyncrtJoinHandle *blocking;            /* LEAF_BLOCKING (owned) */
  AsyncrtJoinSet *set;                    /* LEAF_JOIN_SET (owned) */
  AsyncrtCancelled cancelled;
  AsyncrtSignal signal;
  AsyncrtDumpFuture dump;
  AsyncrtHandle *dump_of;                 /* LEAF_DUMP: a runtime that cannot answer */
  char buf[64];
  int64_t n;
  size_t written;
  int res;
} Leaf;

static AsyncrtPoll
forever_poll (void *p, AsyncrtContext *cx)
{
  Leaf *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_notified_init (&self->notified, &fx.bell);
  ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->notified, cx));
  ASYNCRT_END (&self->co);
}

static void
leaf_free (void *p)
{
  Leaf *self = p;
  asyncrt_sleep_clear (&self->sleep);
  asyncrt_fd_clear (&self->fd);
  asyncrt_notified_clear (&self->notified);
  asyncrt_oneshot_recv_clear (&self->oneshot);
  asyncrt_mpsc_recv_clear (&self->recv);
  asyncrt_mpsc_send_clear (&self->send);
  asyncrt_semaphore_acquire_clear (&self->acquire);
  asyncrt_cancelled_clear (&self->cancelled);
  asyncrt_signal_clear (&self->signal);
  asyncrt_dump_future_clear (&self->dump);
  asyncrt_join_set_free (self->set);
  if (self->target != NULL)
    {
      asyncrt_join_handle_abort (self->target);
      asyncrt_join_handle_free (self->target);
    }
  asyncrt_join_handle_free (self->blocking);
  g_free (self);
}

/* A leaf of the program's own: pending forever, describing itself or not. */
static AsyncrtPoll
user_leaf_poll (Leaf *self, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    {
      if (self->kind == LEAF_USER_DESCRIBED)
        {
          g_assert_cmpint (asyncrt_trace_leaf_set_wait (ASYNCRT_WAIT_NOTIFY, (uintptr_t) self,
                                                        "my gate"), ==, 0);
          g_assert_cmpint (asyncrt_trace_leaf_set_wait_fact (ASYNCRT_WAIT_FACT_LENGTH, 3), ==, 0);
          g_assert_cmpint (asyncrt_trace_leaf_set_wait_holder (7), ==, 0);
        }
      return ASYNCRT_PENDING;
    }
  return ASYNCRT_PENDING;                 /* nobody wakes it: cancelled at shutdown */
}

static AsyncrtPoll
leaf_poll (void *p, AsyncrtContext *cx)
{
  Leaf *self = p;
  ASYNCRT_BEGIN (&self->co);
  if (self->kind == LEAF_YIELD)
    {
      for (;;)
        {
          asyncrt_yield_init (&self->yield);
          ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->yield, cx));
          g_usleep (100);                 /* leave the others some time */
        }
    }
  else if (self->kind == LEAF_SLEEP)
    {
      asyncrt_sleep_init (&self->sleep, 60000);
      ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->sleep, cx));
    }
  else if (self->kind == LEAF_READ)
    {
      g_assert_cmpint (asyncrt_fd_init (&self->fd, fx.pipe_r[0]), ==, 0);
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->fd, cx, self->buf, sizeof self->buf,
                                                      &self->n));
    }
  else if (self->kind == LEAF_WRITE)
    {
      g_assert_cmpint (asyncrt_fd_init (&self->fd, fx.pipe_w[1]), ==, 0);
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->fd, cx, self->buf,
                                                           sizeof self->buf, &self->written,
                                                           &self->n));
    }
  else if (self->kind == LEAF_NOTIFY)
    {
      asyncrt_notified_init (&self->notified, &fx.bell);
      ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->notified, cx));
    }
  else if (self->kind == LEAF_ONESHOT)
    {
      asyncrt_oneshot_recv_init (&self->oneshot, fx.reply_rx);
      ASYNCRT_AWAIT (&self->co, asyncrt_oneshot_recv_poll (&self->oneshot, cx));
    }
  else if (self->kind == LEAF_RECV)
    {
      asyncrt_mpsc_recv_init (&self->recv, fx.jobs_rx);
      ASYNCRT_AWAIT (&self->co, asyncrt_mpsc_recv_poll (&self->recv, cx));
    }
  else if (self->kind == LEAF_SEND)
    {
      asyncrt_mpsc_send_init (&self->send, fx.full_tx, GINT_TO_POINTER (2));
      ASYNCRT_AWAIT (&self->co, asyncrt_mpsc_send_poll (&self->send, cx));
    }
  else if (self->kind == LEAF_SEM_HOLDER)
    {
      asyncrt_semaphore_acquire_init (&self->acquire, &fx.pool, 2);
      ASYNCRT_AWAIT (&self->co, asyncrt_semaphore_acquire_poll (&self->acquire, cx));
      g_assert_cmpint (asyncrt_semaphore_acquire_result (&self->acquire), ==, 0);
      asyncrt_semaphore_acquire_clear (&self->acquire);
      atomic_store (&fx.sem_holder, asyncrt_task_id_current ());
      atomic_fetch_add (&fx.ready, 1);
      asyncrt_notified_init (&self->notified, &fx.bell);
      ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->notified, cx));
    }
  else if (self->kind == LEAF_SEMAPHORE)
    {
      asyncrt_semaphore_acquire_init (&self->acquire, &fx.pool, 1);
      ASYNCRT_AWAIT (&self->co, asyncrt_semaphore_acquire_poll (&self->acquire, cx));
    }
  else if (self->kind == LEAF_JOIN)
    {
      {
        Leaf *t = g_new0 (Leaf, 1);
        self->target = asyncrt_spawn_named ("joined", forever_poll, t, leaf_free);
      }
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->target, cx));
    }
  else if (self->kind == LEAF_BLOCKING)
    {
      self->blocking = asyncrt_spawn_blocking (blocking_wait, NULL);
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->blocking, cx));
    }
  else if (self->kind == LEAF_JOIN_SET)
    {
      self->set = asyncrt_join_set_new ();
      for (int i = 0; i < 2; i++)
        g_assert_cmpint (asyncrt_join_set_spawn_named (self->set, "member", forever_poll,
                                                       g_new0 (Leaf, 1), leaf_free), ==, 0);
      ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_poll (self->set, cx, NULL));
    }
  else if (self->kind == LEAF_CANCELLED)
    {
      asyncrt_cancelled_init (&self->cancelled, fx.token);
      ASYNCRT_AWAIT (&self->co, asyncrt_cancelled_poll (&self->cancelled, cx));
    }
  else if (self->kind == LEAF_SIGNAL)
    {
      g_assert_cmpint (asyncrt_signal_init (&self->signal, SIGUSR2), ==, 0);
      ASYNCRT_AWAIT (&self->co, asyncrt_signal_poll (&self->signal, cx, &self->res));
    }
  else if (self->kind == LEAF_DUMP)
    {
      asyncrt_dump_future_init (&self->dump, self->dump_of, 60000);
      ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->dump, cx));
    }
  else if (self->kind == LEAF_USER_SILENT || self->kind == LEAF_USER_DESCRIBED)
    {
      ASYNCRT_AWAIT (&self->co, user_leaf_poll (self, cx));
    }
  ASYNCRT_END (&self->co);
}

static AsyncrtJoinHandle *
spawn_leaf (Harness *hs, LeafKind kind, const char *name)
{
  Leaf *l = g_new0 (Leaf, 1);
  l->kind = kind;
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_named (hs->h, name, leaf_poll, l, leaf_free);
  g_assert_nonnull (jh);
  return jh;
}

/* Spawns one leaf of @kind, waits until a dump shows it waiting as @want, returns
 * the dump (free it) and the wait. */
static AsyncrtDump *
leaf_dump (Harness *hs, LeafKind kind, AsyncrtWaitKind want, WaitPred pred,
           AsyncrtJoinHandle **ret_jh, const AsyncrtWait **ret_wait)
{
  *ret_jh = spawn_leaf (hs, kind, "leaf");
  const AsyncrtDumpTask *t;
  AsyncrtDump *d = dump_until (hs, asyncrt_join_handle_get_id (*ret_jh), want, pred, &t);
  g_assert_cmpuint (asyncrt_dump_task_get_n_waits (t), ==, 1);
  *ret_wait = asyncrt_dump_task_get_wait (t, 0);
  g_assert_cmpstr (asyncrt_wait_kind_to_string (asyncrt_wait_get_kind (*ret_wait)), ==,
                   asyncrt_wait_kind_to_string (want));
  return d;
}

static bool
blocking_running (const AsyncrtWait *w)
{
  return has_fact (w, ASYNCRT_WAIT_FACT_RUNNING) && fact (w, ASYNCRT_WAIT_FACT_RUNNING) == 1;
}

static bool
is_yield (const AsyncrtWait *w)
{
  return asyncrt_wait_get_kind (w) == ASYNCRT_WAIT_YIELD;
}

/* A runtime no thread runs whose dumps wait for their deadline: its block_on thread
 * is blocked in a system call (a read of an empty pipe) until the test ends. */
typedef struct
{
  AsyncrtRuntime *rt;
  int pipe[2];
  pthread_t thread;
  atomic_bool inside;                     /* its thread is in block_on */
} Stuck;

static AsyncrtPoll
stuck_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  Stuck *s = p;
  atomic_store (&s->inside, true);
  char c;
  while (read (s->pipe[0], &c, 1) < 0 && errno == EINTR)
    ;
  return ASYNCRT_READY;
}

static void *
stuck_main (void *data)
{
  Stuck *s = data;
  asyncrt_runtime_block_on (s->rt, stuck_poll, s);
  return NULL;
}

static void wait_until_true (atomic_bool *b);

/* ---- every leaf kind shows its kind, object and facts ---------------------------------- */

static void
test_leaf_kinds (void)
{
  fixture_init ();
  Harness hs;
  harness_start (&hs);
  AsyncrtJoinHandle *jh[24];
  size_t n_jh = 0;
  const AsyncrtWait *w;
  AsyncrtDump *d;

  /* yield: the task is queued, or being polled, most of the time: the dump traces a
   * queued task too. */
  {
    gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
    jh[n_jh] = spawn_leaf (&hs, LEAF_YIELD, "yielder");
    for (;;)
      {
        d = take_dump (&hs);
        const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh[n_jh]));
        if (t != NULL && is_yield (asyncrt_dump_task_get_wait (t, 0)))
          break;
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        asyncrt_dump_free (d);
        g_usleep (2000);
      }
    assert_text_has (d, " — yields (runs again at once)");
    asyncrt_dump_free (d);
    asyncrt_join_handle_abort (jh[n_jh++]);
  }

  d = leaf_dump (&hs, LEAF_SLEEP, ASYNCRT_WAIT_SLEEP, NULL, &jh[n_jh++], &w);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_REMAINING_NS), >, 0);
  /* Deadlines are whole milliseconds, rounded up. */
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_REMAINING_NS), <=, 60002000000);
  g_assert_cmpuint (asyncrt_wait_get_object (w), !=, 0);
  g_assert_cmpuint (asyncrt_wait_get_holder_id (w), ==, 0);
  g_assert_cmpuint (asyncrt_wait_get_waited_ns (w), >, 0);
  assert_text_has (d, " s left\n");
  asyncrt_dump_free (d);

  d = leaf_dump (&hs, LEAF_READ, ASYNCRT_WAIT_FD, NULL, &jh[n_jh++], &w);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_FD), ==, fx.pipe_r[0]);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_DIRECTION), ==, ASYNCRT_WAIT_DIRECTION_READ);
  {
    char *want = g_strdup_printf (" — waits for fd %d to be readable\n", fx.pipe_r[0]);
    assert_text_has (d, want);
    g_free (want);
  }
  asyncrt_dump_free (d);

  d = leaf_dump (&hs, LEAF_WRITE, ASYNCRT_WAIT_FD, NULL, &jh[n_jh++], &w);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_FD), ==, fx.pipe_w[1]);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_DIRECTION), ==, ASYNCRT_WAIT_DIRECTION_WRITE);
  asyncrt_dump_free (d);

  d = leaf_dump (&hs, LEAF_NOTIFY, ASYNCRT_WAIT_NOTIFY, NULL, &jh[n_jh++], &w);
  g_assert_cmpuint (asyncrt_wait_get_object (w), ==, (uintptr_t) &fx.bell);
  g_assert_cmpstr (asyncrt_wait_get_object_name (w), ==, "bell");
  g_assert_false (has_fact (w, ASYNCRT_WAIT_FACT_READY));
  g_assert_cmpuint (asyncrt_wait_get_waited_ns (w), >, 0);
  assert_text_has (d, " — waits for notify \"bell\", waiting ");
  asyncrt_dump_free (d);

  d = leaf_dump (&hs, LEAF_ONESHOT, ASYNCRT_WAIT_ONESHOT, NULL, &jh[n_jh++], &w);
  g_assert_cmpstr (asyncrt_wait_get_object_name (w), ==, "reply");
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_SENDERS), ==, 1);
  assert_text_has (d, " — waits for oneshot \"reply\" (sender alive)");
  asyncrt_dump_free (d);

  d = leaf_dump (&hs, LEAF_RECV, ASYNCRT_WAIT_MPSC_RECV, NULL, &jh[n_jh++], &w);
  g_assert_cmpstr (asyncrt_wait_get_object_name (w), ==, "jobs");
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_LENGTH), ==, 0);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_CAPACITY), ==, 4);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_SENDERS), ==, 2);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_CLOSED), ==, 0);
  assert_text_has (d, " — waits for a message on channel \"jobs\" (0/4 queued, 2 senders)");
  asyncrt_dump_free (d);

  d = leaf_dump (&hs, LEAF_SEND, ASYNCRT_WAIT_MPSC_SEND, NULL, &jh[n_jh++], &w);
  g_assert_cmpstr (asyncrt_wait_get_object_name (w), ==, "full");
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_LENGTH), ==, 1);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_CAPACITY), ==, 1);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_SENDERS), ==, 1);
  assert_text_has (d, " — waits for room on channel \"full\" (1/1 queued, 1 sender)");
  asyncrt_dump_free (d);

  /* A semaphore: one task holds both permits, another waits for one. */
  jh[n_jh++] = spawn_leaf (&hs, LEAF_SEM_HOLDER, "sem-holder");
  {
    gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
    while (atomic_load (&fx.sem_holder) == 0)       /* it holds both permits */
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (1000);
      }
  }
  d = leaf_dump (&hs, LEAF_SEMAPHORE, ASYNCRT_WAIT_SEMAPHORE, NULL, &jh[n_jh++], &w);
  g_assert_cmpuint (fx.sem_holder, ==, asyncrt_join_handle_get_id (jh[n_jh - 2]));
  g_assert_cmpstr (asyncrt_wait_get_object_name (w), ==, "pool");
  g_assert_cmpuint (asyncrt_wait_get_object (w), ==, (uintptr_t) &fx.pool);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_AVAILABLE), ==, 0);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_REQUESTED), ==, 1);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_CLOSED), ==, 0);
#if UINTPTR_MAX > 0xffffffffu
  g_assert_cmpuint (asyncrt_wait_get_holder_id (w), ==, fx.sem_holder);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_HOLDER_PERMITS), ==, 2);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_OTHER_HOLDERS), ==, 0);
  g_assert_cmpuint (asyncrt_dump_task_get_n_blocked (asyncrt_dump_find_task (d, fx.sem_holder)), ==, 1);
  {
    char *want = g_strdup_printf (" — waits for 1 permit of semaphore \"pool\" (0 available; held "
                                  "by task %" G_GUINT64_FORMAT " (2 permits))", fx.sem_holder);
    assert_text_has (d, want);
    g_free (want);
  }
#endif
  asyncrt_dump_free (d);

  /* A join waits for the joined task: its holder.  (The leaf spawns the target.) */
  d = leaf_dump (&hs, LEAF_JOIN, ASYNCRT_WAIT_JOIN, NULL, &jh[n_jh++], &w);
  {
    AsyncrtTaskId target = asyncrt_wait_get_holder_id (w);
    g_assert_cmpuint (target, !=, 0);
    const AsyncrtDumpTask *tt = asyncrt_dump_find_task (d, target);
    g_assert_nonnull (tt);
    g_assert_cmpstr (asyncrt_dump_task_get_name (tt), ==, "joined");
    g_assert_cmpuint (asyncrt_dump_task_get_n_blocked (tt), ==, 1);
    char *want = g_strdup_printf (" — waits for task %" G_GUINT64_FORMAT " to finish", target);
    assert_text_has (d, want);
    g_free (want);
  }
  asyncrt_dump_free (d);

  /* asyncrt_spawn_blocking(): the caller joins the blocking call's task, which waits
   * for its function on the pool. */
  d = leaf_dump (&hs, LEAF_BLOCKING, ASYNCRT_WAIT_JOIN, NULL, &jh[n_jh++], &w);
  {
    AsyncrtTaskId call = asyncrt_wait_get_holder_id (w);
    asyncrt_dump_free (d);
    const AsyncrtDumpTask *t;
    d = dump_until (&hs, call, ASYNCRT_WAIT_BLOCKING, blocking_running, &t);
    g_assert_cmpstr (asyncrt_dump_task_get_name (t), ==, "blocking");
    g_assert_true (atomic_load (&fx.blocking_started));
    assert_text_has (d, " — waits for a blocking call (running on the blocking pool)");
    asyncrt_dump_free (d);
  }

  d = leaf_dump (&hs, LEAF_JOIN_SET, ASYNCRT_WAIT_JOIN_SET, NULL, &jh[n_jh++], &w);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_MEMBERS), ==, 2);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_GROUP_ID), >, 0);
  {
    char *want = g_strdup_printf (" — waits for the next task of join set %" G_GINT64_FORMAT
                                  " (2 members)", fact (w, ASYNCRT_WAIT_FACT_GROUP_ID));
    assert_text_has (d, want);
    g_free (want);
  }
  asyncrt_dump_free (d);

  d = leaf_dump (&hs, LEAF_CANCELLED, ASYNCRT_WAIT_CANCELLED, NULL, &jh[n_jh++], &w);
  g_assert_cmpuint (asyncrt_wait_get_object (w), ==, (uintptr_t) fx.token);
  asyncrt_dump_free (d);

  d = leaf_dump (&hs, LEAF_SIGNAL, ASYNCRT_WAIT_SIGNAL, NULL, &jh[n_jh++], &w);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_SIGNAL), ==, SIGUSR2);
  assert_text_has (d, " — waits for a signal 12 (SIGUSR2)");
  asyncrt_dump_free (d);

  /* A dump future whose runtime cannot answer before its deadline. */
  {
    Stuck stuck = { 0 };
    AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
    g_assert_cmpint (asyncrt_builder_build (b, &stuck.rt), ==, 0);
    asyncrt_builder_free (b);
    g_assert_cmpint (pipe (stuck.pipe), ==, 0);
    g_assert_cmpint (pthread_create (&stuck.thread, NULL, stuck_main, &stuck), ==, 0);
    wait_until_true (&stuck.inside);     /* or its dumps would be a census, at once */
    Leaf *l = g_new0 (Leaf, 1);
    l->kind = LEAF_DUMP;
    l->dump_of = asyncrt_runtime_get_handle (stuck.rt);
    jh[n_jh] = asyncrt_handle_spawn_named (hs.h, "dumper", leaf_poll, l, leaf_free);
    const AsyncrtDumpTask *t;
    d = dump_until (&hs, asyncrt_join_handle_get_id (jh[n_jh++]), ASYNCRT_WAIT_DUMP, NULL, &t);
    assert_text_has (d, " — waits for a task dump\n");
    asyncrt_dump_free (d);
    asyncrt_join_handle_abort (jh[n_jh - 1]);
    while (!asyncrt_join_handle_is_finished (jh[n_jh - 1]))
      g_usleep (1000);
    g_assert_cmpint (write (stuck.pipe[1], "x", 1), ==, 1);
    pthread_join (stuck.thread, NULL);
    asyncrt_runtime_free (stuck.rt);
    close (stuck.pipe[0]);
    close (stuck.pipe[1]);
  }

  /* The program's own leaves: silent, and describing itself. */
  d = leaf_dump (&hs, LEAF_USER_SILENT, ASYNCRT_WAIT_UNKNOWN, NULL, &jh[n_jh++], &w);
  g_assert_cmpuint (asyncrt_wait_get_object (w), ==, 0);
  g_assert_null (asyncrt_wait_get_object_name (w));
  g_assert_false (has_fact (w, ASYNCRT_WAIT_FACT_LENGTH));
  asyncrt_dump_free (d);
  d = leaf_dump (&hs, LEAF_USER_DESCRIBED, ASYNCRT_WAIT_NOTIFY, NULL, &jh[n_jh++], &w);
  g_assert_cmpstr (asyncrt_wait_get_object_name (w), ==, "my gate");
  g_assert_cmpuint (asyncrt_wait_get_holder_id (w), ==, 7);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_LENGTH), ==, 3);
  asyncrt_dump_free (d);

  g_assert_cmpuint (n_jh, <=, G_N_ELEMENTS (jh));
  release_blocking ();                    /* the runtime waits for its blocking calls */
  harness_stop (&hs);
  for (size_t i = 0; i < n_jh; i++)
    asyncrt_join_handle_free (jh[i]);
  fixture_clear ();
}

/* ---- a mutex's holder ------------------------------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMutex *m;
  AsyncrtMutexLock lock;
  AsyncrtNotify *release;                /* rung: unlock */
  AsyncrtNotified wait;
  atomic_bool locked;
  atomic_bool *wait_for;                 /* set: this task locks only once it is true */
  AsyncrtSleep sleep;
  gint64 deadline;
} Holder;

static AsyncrtPoll
holder_poll (void *p, AsyncrtContext *cx)
{
  Holder *self = p;
  ASYNCRT_BEGIN (&self->co);
  if (self->wait_for != NULL)
    AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 10000, atomic_load (self->wait_for));
  asyncrt_mutex_lock_init (&self->lock, self->m);
  ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
  g_assert_cmpint (asyncrt_mutex_lock_result (&self->lock), ==, 0);
  asyncrt_mutex_lock_clear (&self->lock);
  atomic_store (&self->locked, true);
  /* Held across an await. */
  asyncrt_notified_init (&self->wait, self->release);
  ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->wait, cx));
  asyncrt_notified_clear (&self->wait);
  atomic_store (&self->locked, false);
  asyncrt_mutex_unlock (self->m);
  ASYNCRT_END (&self->co);
}

/* Cancelled while it holds the lock: its free function unlocks. */
static void
holder_free (void *p)
{
  Holder *self = p;
  asyncrt_mutex_lock_clear (&self->lock);
  asyncrt_notified_clear (&self->wait);
  asyncrt_sleep_clear (&self->sleep);
  if (atomic_load (&self->locked))
    asyncrt_mutex_unlock (self->m);
  g_free (self);
}

static Holder *
holder_new (AsyncrtMutex *m, AsyncrtNotify *release, atomic_bool *wait_for)
{
  Holder *h = g_new0 (Holder, 1);
  h->m = m;
  h->release = release;
  h->wait_for = wait_for;
  return h;
}

static void
wait_until_true (atomic_bool *b)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (!atomic_load (b))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static void
wait_finished (AsyncrtJoinHandle *jh)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (!asyncrt_join_handle_is_finished (jh))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static bool
mutex_held (const AsyncrtWait *w)
{
  return asyncrt_wait_get_holder_id (w) != 0;
}

static void
test_mutex_holder (void)
{
  Harness hs;
  harness_start (&hs);
  AsyncrtMutex m;
  AsyncrtNotify release_a, release_b;
  asyncrt_mutex_init (&m);
  g_assert_cmpint (asyncrt_mutex_set_name (&m, "store"), ==, 0);
  asyncrt_notify_init (&release_a);
  asyncrt_notify_init (&release_b);
  g_assert_cmpuint (asyncrt_mutex_get_holder_id (&m), ==, 0);
  g_assert_cmpuint (asyncrt_mutex_get_holder_id (NULL), ==, 0);

  /* A locks and holds across an await; B waits for it. */
  Holder *a = holder_new (&m, &release_a, NULL);
  AsyncrtJoinHandle *ja = asyncrt_handle_spawn_named (hs.h, "a", holder_poll, a, holder_free);
  wait_until_true (&a->locked);
  AsyncrtTaskId ida = asyncrt_join_handle_get_id (ja);
  g_assert_cmpuint (asyncrt_mutex_get_holder_id (&m), ==, ida);
  Holder *b = holder_new (&m, &release_b, &a->locked);
  AsyncrtJoinHandle *jb = asyncrt_handle_spawn_named (hs.h, "b", holder_poll, b, holder_free);
  AsyncrtTaskId idb = asyncrt_join_handle_get_id (jb);
  const AsyncrtDumpTask *t;
  AsyncrtDump *d = dump_until (&hs, idb, ASYNCRT_WAIT_MUTEX, mutex_held, &t);
  const AsyncrtWait *w = asyncrt_dump_task_get_wait (t, 0);
  g_assert_cmpuint (asyncrt_wait_get_holder_id (w), ==, ida);
  g_assert_cmpuint (asyncrt_wait_get_object (w), ==, (uintptr_t) &m);
  g_assert_cmpstr (asyncrt_wait_get_object_name (w), ==, "store");
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_AVAILABLE), ==, 0);
  g_assert_cmpint (fact (w, ASYNCRT_WAIT_FACT_HELD_NS), >, 0);
  g_assert_cmpuint (asyncrt_wait_get_waited_ns (w), >, 0);
  g_assert_cmpuint (asyncrt_dump_task_get_n_blocked (asyncrt_dump_find_task (d, ida)), ==, 1);
  g_assert_cmpuint (asyncrt_dump_get_n_deadlocks (d), ==, 0);
  {
    char *want = g_strdup_printf (" — waits for mutex \"store\" held by task %" G_GUINT64_FORMAT
                                  " for ", ida);
    assert_text_has (d, want);
    g_free (want);
    want = g_strdup_printf ("\ntask %" G_GUINT64_FORMAT " \"a\" holds mutex \"store\" for ", ida);
    assert_text_has (d, want);
    g_free (want);
    want = g_strdup_printf (", blocking 1 task: %" G_GUINT64_FORMAT "\n  task %" G_GUINT64_FORMAT
                            " \"a\" waits for notify ", idb, ida);
    assert_text_has (d, want);
    g_free (want);
  }
  asyncrt_dump_free (d);

  /* A unlocks: the mutex passes to B, then B unlocks: nobody holds it. */
  asyncrt_notify_notify_one (&release_a);
  wait_until_true (&b->locked);
  g_assert_cmpuint (asyncrt_mutex_get_holder_id (&m), ==, idb);
  wait_finished (ja);
  d = take_dump (&hs);
  g_assert_cmpuint (asyncrt_dump_task_get_n_blocked (asyncrt_dump_find_task (d, idb)), ==, 0);
  asyncrt_dump_free (d);
  asyncrt_notify_notify_one (&release_b);
  wait_finished (jb);
  g_assert_cmpuint (asyncrt_mutex_get_holder_id (&m), ==, 0);
  g_assert_false (asyncrt_mutex_is_locked (&m));
  asyncrt_join_handle_free (ja);
  asyncrt_join_handle_free (jb);

  /* The holder is cancelled while it holds the lock: its free function unlocks, and
   * the mutex passes to the waiter. */
  Holder *c = holder_new (&m, &release_a, NULL);
  AsyncrtJoinHandle *jc = asyncrt_handle_spawn_named (hs.h, "c", holder_poll, c, holder_free);
  wait_until_true (&c->locked);
  AsyncrtTaskId idc = asyncrt_join_handle_get_id (jc);
  Holder *e = holder_new (&m, &release_b, &c->locked);
  AsyncrtJoinHandle *je = asyncrt_handle_spawn_named (hs.h, "e", holder_poll, e, holder_free);
  AsyncrtTaskId ide = asyncrt_join_handle_get_id (je);
  d = dump_until (&hs, ide, ASYNCRT_WAIT_MUTEX, mutex_held, &t);
  g_assert_cmpuint (asyncrt_wait_get_holder_id (asyncrt_dump_task_get_wait (t, 0)), ==, idc);
  asyncrt_dump_free (d);
  asyncrt_join_handle_abort (jc);
  wait_finished (jc);
  wait_until_true (&e->locked);
  g_assert_cmpuint (asyncrt_mutex_get_holder_id (&m), ==, ide);
  d = take_dump (&hs);
  g_assert_null (asyncrt_dump_find_task (d, idc));
  asyncrt_dump_free (d);
  /* And the last holder cancelled with nobody waiting: the mutex is free, no holder. */
  asyncrt_join_handle_abort (je);
  wait_finished (je);
  g_assert_cmpuint (asyncrt_mutex_get_holder_id (&m), ==, 0);
  g_assert_false (asyncrt_mutex_is_locked (&m));
  asyncrt_join_handle_free (jc);
  asyncrt_join_handle_free (je);

  /* Locked outside any task: no holder task. */
  g_assert_cmpint (asyncrt_mutex_try_lock (&m), ==, 0);
  g_assert_cmpuint (asyncrt_mutex_get_holder_id (&m), ==, 0);
  g_assert_cmpint (asyncrt_mutex_unlock (&m), ==, 0);

  harness_stop (&hs);
  asyncrt_mutex_clear (&m);
  asyncrt_notify_clear (&release_a);
  asyncrt_notify_clear (&release_b);
}

/* ---- deadlocks ------------------------------------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMutex *first, *second;
  AsyncrtMutexLock lock;
  atomic_int *have_first;
  bool locked_first, locked_second;
  AsyncrtSleep sleep;
  gint64 deadline;
  bool with_timeout;                      /* the second lock has a 60 s timeout */
  AsyncrtSleep timeout;
} Locker;

static AsyncrtPoll
second_lock_poll (Locker *self, AsyncrtContext *cx)
{
  if (asyncrt_mutex_lock_poll (&self->lock, cx) == ASYNCRT_READY)
    return ASYNCRT_READY;
  if (self->with_timeout && asyncrt_sleep_poll (&self->timeout, cx) == ASYNCRT_READY)
    return ASYNCRT_READY;
  return ASYNCRT_PENDING;
}

static AsyncrtPoll
locker_poll (void *p, AsyncrtContext *cx)
{
  Locker *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_mutex_lock_init (&self->lock, self->first);
  ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
  asyncrt_mutex_lock_clear (&self->lock);
  self->locked_first = true;
  atomic_fetch_add (self->have_first, 1);
  AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 10000,
               atomic_load (self->have_first) == 2);
  /* Each holds its first and takes the other's: the wrong order. */
  asyncrt_mutex_lock_init (&self->lock, self->second);
  asyncrt_sleep_init (&self->timeout, 60000);
  ASYNCRT_AWAIT (&self->co, second_lock_poll (self, cx));
  ASYNCRT_END (&self->co);
}

static void
locker_free (void *p)
{
  Locker *self = p;
  bool got_second = asyncrt_mutex_lock_result (&self->lock) == 0;
  asyncrt_mutex_lock_clear (&self->lock);
  asyncrt_sleep_clear (&self->sleep);
  asyncrt_sleep_clear (&self->timeout);
  if (got_second)
    asyncrt_mutex_unlock (self->second);
  if (self->locked_first)
    asyncrt_mutex_unlock (self->first);
  g_free (self);
}

static void
run_lockers (bool with_timeout)
{
  Harness hs;
  harness_start (&hs);
  AsyncrtMutex m1, m2;
  asyncrt_mutex_init (&m1);
  asyncrt_mutex_init (&m2);
  asyncrt_mutex_set_name (&m1, "accounts");
  asyncrt_mutex_set_name (&m2, "ledger");
  atomic_int have_first = 0;
  Locker *a = g_new0 (Locker, 1), *b = g_new0 (Locker, 1);
  *a = (Locker) { .first = &m1, .second = &m2, .have_first = &have_first };
  *b = (Locker) { .first = &m2, .second = &m1, .have_first = &have_first,
                  .with_timeout = with_timeout };
  AsyncrtJoinHandle *ja = asyncrt_handle_spawn_named (hs.h, "left", locker_poll, a, locker_free);
  AsyncrtJoinHandle *jb = asyncrt_handle_spawn_named (hs.h, "right", locker_poll, b, locker_free);
  AsyncrtTaskId ida = asyncrt_join_handle_get_id (ja), idb = asyncrt_join_handle_get_id (jb);
  const AsyncrtDumpTask *t;
  AsyncrtDump *d = dump_until (&hs, ida, ASYNCRT_WAIT_MUTEX, mutex_held, &t);
  asyncrt_dump_free (d);
  d = dump_until (&hs, idb, ASYNCRT_WAIT_MUTEX, mutex_held, &t);
  if (with_timeout)
    {
      /* B may give up (it waits on a timer too): not a deadlock, but the chain is told. */
      g_assert_cmpuint (asyncrt_dump_task_get_n_waits (t), ==, 2);
      g_assert_cmpint (asyncrt_wait_get_kind (asyncrt_dump_task_get_wait (t, 1)), ==,
                       ASYNCRT_WAIT_SLEEP);
      g_assert_cmpuint (asyncrt_dump_get_n_deadlocks (d), ==, 0);
      char *s = asyncrt_dump_to_string (d);
      g_assert_null (strstr (s, "deadlock"));
      free (s);
      g_assert_cmpuint (asyncrt_dump_task_get_n_blocked (asyncrt_dump_find_task (d, idb)), ==, 1);
    }
  else
    {
      g_assert_cmpuint (asyncrt_dump_get_n_deadlocks (d), ==, 1);
      const AsyncrtTaskId *ids = NULL;
      g_assert_cmpuint (asyncrt_dump_get_deadlock (d, 0, &ids), ==, 2);
      g_assert_cmpuint (ids[0], ==, MIN (ida, idb));
      g_assert_cmpuint (ids[1], ==, MAX (ida, idb));
      char *want = g_strdup_printf ("deadlock: tasks %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                                    " wait for each other\n", ids[0], ids[1]);
      assert_text_has (d, want);
      g_free (want);
      want = g_strdup_printf ("  task %" G_GUINT64_FORMAT " \"left\" waits for mutex \"ledger\" "
                              "held by task %" G_GUINT64_FORMAT " for ", ida, idb);
      assert_text_has (d, want);
      g_free (want);
      want = g_strdup_printf ("  task %" G_GUINT64_FORMAT " \"right\" waits for mutex \"accounts\" "
                              "held by task %" G_GUINT64_FORMAT " for ", idb, ida);
      assert_text_has (d, want);
      g_free (want);
    }
  asyncrt_dump_free (d);
  /* Break it: cancelling one frees both. */
  asyncrt_join_handle_abort (ja);
  wait_finished (ja);
  asyncrt_join_handle_abort (jb);
  wait_finished (jb);
  asyncrt_join_handle_free (ja);
  asyncrt_join_handle_free (jb);
  harness_stop (&hs);
  g_assert_false (asyncrt_mutex_is_locked (&m1));
  g_assert_false (asyncrt_mutex_is_locked (&m2));
  asyncrt_mutex_clear (&m1);
  asyncrt_mutex_clear (&m2);
}

static void
test_lock_order_deadlock (void)
{
  run_lockers (false);
}

static void
test_slow_holder_no_cycle (void)
{
  run_lockers (true);
}

/* A holder that sleeps is slow, not stuck. */
static void
test_sleeping_holder (void)
{
  fixture_init ();
  Harness hs;
  harness_start (&hs);
  AsyncrtNotify release;
  asyncrt_notify_init (&release);
  Holder *a = holder_new (&fx.store, &release, NULL);
  AsyncrtJoinHandle *ja = asyncrt_handle_spawn_named (hs.h, "a", holder_poll, a, holder_free);
  wait_until_true (&a->locked);
  Holder *b = holder_new (&fx.store, &release, &a->locked);
  AsyncrtJoinHandle *jb = asyncrt_handle_spawn_named (hs.h, "b", holder_poll, b, holder_free);
  const AsyncrtDumpTask *t;
  AsyncrtDump *d = dump_until (&hs, asyncrt_join_handle_get_id (jb), ASYNCRT_WAIT_MUTEX,
                               mutex_held, &t);
  g_assert_cmpuint (asyncrt_dump_get_n_deadlocks (d), ==, 0);
  asyncrt_dump_free (d);
  harness_stop (&hs);
  asyncrt_join_handle_free (ja);
  asyncrt_join_handle_free (jb);
  asyncrt_notify_clear (&release);
  fixture_clear ();
}

/* Two tasks joining each other. */
typedef struct
{
  AsyncrtCoroutine co;
  _Atomic (AsyncrtJoinHandle *) *other;   /* set by the test once both exist */
  AsyncrtSleep sleep;
  gint64 deadline;
} Joiner;

static AsyncrtPoll
joiner_poll (void *p, AsyncrtContext *cx)
{
  Joiner *self = p;
  ASYNCRT_BEGIN (&self->co);
  AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 10000, atomic_load (self->other) != NULL);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (atomic_load (self->other), cx));
  ASYNCRT_END (&self->co);
}

static void
joiner_free (void *p)
{
  Joiner *self = p;
  asyncrt_sleep_clear (&self->sleep);
  g_free (self);
}

static bool
join_held (const AsyncrtWait *w)
{
  return asyncrt_wait_get_holder_id (w) != 0;
}

static void
test_join_cycle (void)
{
  Harness hs;
  harness_start (&hs);
  _Atomic (AsyncrtJoinHandle *) x_other = NULL, y_other = NULL;
  Joiner *x = g_new0 (Joiner, 1), *y = g_new0 (Joiner, 1);
  x->other = &x_other;
  y->other = &y_other;
  AsyncrtJoinHandle *jx = asyncrt_handle_spawn_named (hs.h, "x", joiner_poll, x, joiner_free);
  AsyncrtJoinHandle *jy = asyncrt_handle_spawn_named (hs.h, "y", joiner_poll, y, joiner_free);
  atomic_store (&x_other, jy);            /* x joins y, y joins x */
  atomic_store (&y_other, jx);
  AsyncrtTaskId idx = asyncrt_join_handle_get_id (jx), idy = asyncrt_join_handle_get_id (jy);
  const AsyncrtDumpTask *t;
  AsyncrtDump *d = dump_until (&hs, idx, ASYNCRT_WAIT_JOIN, join_held, &t);
  asyncrt_dump_free (d);
  d = dump_until (&hs, idy, ASYNCRT_WAIT_JOIN, join_held, &t);
  g_assert_cmpuint (asyncrt_dump_get_n_deadlocks (d), ==, 1);
  const AsyncrtTaskId *ids = NULL;
  g_assert_cmpuint (asyncrt_dump_get_deadlock (d, 0, &ids), ==, 2);
  /* Ids come in ascending order (which one is smaller depends on the scheduler). */
  g_assert_cmpuint (ids[0], ==, MIN (idx, idy));
  g_assert_cmpuint (ids[1], ==, MAX (idx, idy));
  {
    char *want = g_strdup_printf ("deadlock: tasks %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                                  " wait for each other\n", ids[0], ids[1]);
    assert_text_has (d, want);
    g_free (want);
    want = g_strdup_printf ("\n  task %" G_GUINT64_FORMAT " \"x\" waits for task %"
                            G_GUINT64_FORMAT " to finish\n", idx, idy);
    assert_text_has (d, want);
    g_free (want);
    want = g_strdup_printf ("\n  task %" G_GUINT64_FORMAT " \"y\" waits for task %"
                            G_GUINT64_FORMAT " to finish\n", idy, idx);
    assert_text_has (d, want);
    g_free (want);
  }
  asyncrt_dump_free (d);
  asyncrt_join_handle_abort (jx);
  wait_finished (jx);
  wait_finished (jy);                     /* y's join saw x finish (cancelled) */
  harness_stop (&hs);
  asyncrt_join_handle_free (jx);
  asyncrt_join_handle_free (jy);
}

/* ---- 10,000 tasks, grouped ---------------------------------------------------------------- */

#define MANY 10000

static void
test_group_many (void)
{
  fixture_init ();
  Harness hs;
  harness_start (&hs);
  AsyncrtJoinHandle **jh = g_new (AsyncrtJoinHandle *, MANY + 1);
  for (int i = 0; i < MANY; i++)
    jh[i] = spawn_leaf (&hs, LEAF_NOTIFY, "conn");
  jh[MANY] = spawn_leaf (&hs, LEAF_SLEEP, "ticker");
  AsyncrtDump *d = NULL;
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (30000) * 1000;
  for (;;)
    {
      g_assert_cmpint (asyncrt_handle_dump (hs.h, test_timeout_ms (10000), &d), ==, 0);
      size_t waiting = 0;
      for (size_t i = 0; i < asyncrt_dump_get_n_tasks (d); i++)
        {
          const AsyncrtDumpTask *t = asyncrt_dump_get_task (d, i);
          if (asyncrt_dump_task_get_state (t) == ASYNCRT_TASK_STATE_IDLE
              && asyncrt_wait_get_kind (asyncrt_dump_task_get_wait (t, 0)) == ASYNCRT_WAIT_NOTIFY)
            waiting++;
        }
      if (waiting == MANY)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      asyncrt_dump_free (d);
      g_usleep (10000);
    }
  char *s = asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_TEXT, ASYNCRT_DUMP_GROUP);
  char **lines = g_strsplit (s, "\n", -1);
  guint n_lines = g_strv_length (lines);
  g_test_message ("%u lines:\n%s", n_lines, s);
  g_assert_cmpuint (n_lines, <, 50);
  AsyncrtTaskId first = G_MAXUINT64;
  for (int i = 0; i < MANY; i++)
    first = MIN (first, asyncrt_join_handle_get_id (jh[i]));
  char *want = g_strdup_printf ("\n%d tasks idle: %" G_GUINT64_FORMAT ", ", MANY, first);
  g_assert_nonnull (strstr (s, want));
  g_free (want);
  g_assert_nonnull (strstr (s, ", … (9980 more), name \"conn\" (10000), spawned at "));
  g_assert_nonnull (strstr (s, ", idle min "));
  g_assert_nonnull (strstr (s, " — waits for notify \"bell\"\n"));
  g_strfreev (lines);
  free (s);
  /* Ungrouped, every task is there. */
  s = asyncrt_dump_to_string (d);
  g_assert_cmpuint (g_strv_length (lines = g_strsplit (s, "\n", -1)), >, 3 * MANY);
  g_strfreev (lines);
  free (s);
  /* JSON: frames in a table, so each task costs a few hundred bytes. */
  s = test_dump_json (d, ASYNCRT_DUMP_GROUP);
  size_t bytes = strlen (s);
  g_test_message ("JSON: %zu bytes, %zu per task", bytes, bytes / (MANY + 1));
  g_assert_cmpuint (bytes / (MANY + 1), <, 400);
  free (s);
  asyncrt_dump_free (d);
  harness_stop (&hs);
  for (int i = 0; i <= MANY; i++)
    asyncrt_join_handle_free (jh[i]);
  g_free (jh);
  fixture_clear ();
}

/* ---- names from the program ----------------------------------------------------------------- */

static void
test_hostile_names (void)
{
  fixture_init ();
  const char *evil = "st\"ore\n\x1b[2Jtask 999 idle\\\xff";
  g_assert_cmpint (asyncrt_mutex_set_name (&fx.store, evil), ==, 0);
  g_assert_cmpint (asyncrt_notify_set_name (&fx.bell, evil), ==, 0);
  g_assert_cmpint (asyncrt_mutex_set_name (NULL, "x"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_notify_set_name (NULL, "x"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_semaphore_set_name (NULL, "x"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_mpsc_receiver_set_name (NULL, "x"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_oneshot_receiver_set_name (NULL, "x"), ==, -EINVAL);
  /* Renamed, and unnamed again. */
  g_assert_cmpint (asyncrt_semaphore_set_name (&fx.pool, NULL), ==, 0);
  Harness hs;
  harness_start (&hs);
  AsyncrtNotify release;
  asyncrt_notify_init (&release);
  Holder *a = holder_new (&fx.store, &release, NULL);
  AsyncrtJoinHandle *ja = asyncrt_handle_spawn_named (hs.h, evil, holder_poll, a, holder_free);
  wait_until_true (&a->locked);
  Holder *b = holder_new (&fx.store, &release, &a->locked);
  AsyncrtJoinHandle *jb = asyncrt_handle_spawn_named (hs.h, "b", holder_poll, b, holder_free);
  AsyncrtJoinHandle *jn = spawn_leaf (&hs, LEAF_NOTIFY, "n");
  const AsyncrtDumpTask *t;
  AsyncrtDump *d = dump_until (&hs, asyncrt_join_handle_get_id (jb), ASYNCRT_WAIT_MUTEX,
                               mutex_held, &t);
  asyncrt_dump_free (d);
  d = dump_until (&hs, asyncrt_join_handle_get_id (jn), ASYNCRT_WAIT_NOTIFY, NULL, &t);
  g_assert_cmpstr (asyncrt_wait_get_object_name (asyncrt_dump_task_get_wait (t, 0)), ==, evil);
  for (unsigned flags = 0; flags <= ASYNCRT_DUMP_GROUP; flags += ASYNCRT_DUMP_GROUP)
    {
      char *s = asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_TEXT, flags);
      g_assert_true (g_utf8_validate (s, -1, NULL));
      g_assert_null (strchr (s, '\x1b'));
      g_assert_null (strstr (s, "\ntask 999"));
      g_assert_nonnull (strstr (s, "mutex \"st\\\"ore\\n\\x1b[2Jtask 999 idle\\\\\xef\xbf\xbd\""));
      g_assert_nonnull (strstr (s, "notify \"st\\\"ore\\n\\x1b[2Jtask 999 idle\\\\\xef\xbf\xbd\""));
      free (s);
      free (test_dump_json (d, flags));
    }
  asyncrt_dump_free (d);
  harness_stop (&hs);
  asyncrt_join_handle_free (ja);
  asyncrt_join_handle_free (jb);
  asyncrt_join_handle_free (jn);
  asyncrt_notify_clear (&release);
  fixture_clear ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* The signal leaf's signal, blocked in every thread before any runtime exists. */
  g_assert_cmpint (asyncrt_signal_block (SIGUSR2), ==, 0);
  static const FlavourTest tests[] = {
    { "leaf-kinds", test_leaf_kinds },
    { "mutex-holder", test_mutex_holder },
    { "lock-order-deadlock", test_lock_order_deadlock },
    { "slow-holder-no-cycle", test_slow_holder_no_cycle },
    { "sleeping-holder", test_sleeping_holder },
    { "join-cycle", test_join_cycle },
    { "group-many", test_group_many },
    { "hostile-names", test_hostile_names },
  };
  flavour_add_tests ("waits", tests, G_N_ELEMENTS (tests));
  test_dump_json_add_check ();
  return g_test_run ();
}
