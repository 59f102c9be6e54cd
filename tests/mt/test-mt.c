/* Tests of the multi-thread runtime, through the public API. */
#define _GNU_SOURCE
#include <asyncrt/asyncrt.h>
#include <glib.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "test-util.h"

/* ---- helpers ---------------------------------------------------------------------- */

static AsyncrtRuntime *
mt_new (unsigned workers)
{
  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  g_assert_nonnull (b);
  g_assert_cmpint (asyncrt_builder_set_worker_threads (b, workers), ==, 0);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  g_assert_nonnull (rt);
  return rt;
}

/* Waits (bounded) until *c >= target. */
static bool
wait_for_count (atomic_ulong *c, unsigned long target, unsigned base_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (base_ms) * 1000;
  while (atomic_load (c) < target)
    {
      if (g_get_monotonic_time () > deadline)
        return false;
      g_usleep (500);
    }
  return true;
}

static atomic_ulong n_freed;

static void
count_free (void *p)
{
  g_free (p);
  atomic_fetch_add (&n_freed, 1);
}

/* A leaf future of our own: a counter of messages with one registered waker.  Each
 * post wakes the registered waker through the scheduler (a clone, consumed). */
typedef struct
{
  pthread_mutex_t lock;   /* not GMutex: TSan understands pthread locks only */
  AsyncrtWaker waker;
  unsigned long pending;
} Mailbox;

static void
mailbox_init (Mailbox *m)
{
  pthread_mutex_init (&m->lock, NULL);
  m->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  m->pending = 0;
}

static void
mailbox_clear (Mailbox *m)
{
  asyncrt_waker_free (&m->waker);
  pthread_mutex_destroy (&m->lock);
}

static void
mailbox_post (Mailbox *m)
{
  AsyncrtWaker w = ASYNCRT_WAKER_INIT;
  pthread_mutex_lock (&m->lock);
  m->pending++;
  if (!asyncrt_waker_is_empty (&m->waker))
    w = asyncrt_waker_clone (&m->waker);
  pthread_mutex_unlock (&m->lock);
  asyncrt_waker_wake (&w);
}

static AsyncrtPoll
mailbox_recv (Mailbox *m, AsyncrtContext *cx, unsigned long *got)
{
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  AsyncrtPoll r = ASYNCRT_PENDING;
  pthread_mutex_lock (&m->lock);
  if (m->pending > 0)
    {
      *got = m->pending;
      m->pending = 0;
      r = ASYNCRT_READY;
    }
  else if (!asyncrt_waker_will_wake (&m->waker, asyncrt_context_get_waker (cx)))
    {
      asyncrt_waker_free (&m->waker);
      m->waker = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
    }
  pthread_mutex_unlock (&m->lock);
  return r;
}

/* ---- errors ---------------------------------------------------------------------- */

static AsyncrtPoll
ready_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  return ASYNCRT_READY;
}

static void
test_builder_errors (void)
{
  g_assert_cmpint (asyncrt_builder_set_worker_threads (NULL, 2), ==, -EINVAL);

  AsyncrtBuilder *ct = asyncrt_builder_new_current_thread ();
  g_assert_cmpint (asyncrt_builder_set_worker_threads (ct, 2), ==, -EINVAL);
  asyncrt_builder_free (ct);

  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  g_assert_cmpint (asyncrt_builder_set_worker_threads (b, 1025), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_worker_threads (b, 1024), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_worker_threads (b, 0), ==, 0);   /* nproc */
  g_assert_cmpint (asyncrt_builder_build (b, NULL), ==, -EINVAL);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);

  g_assert_cmpint (asyncrt_runtime_block_on (rt, NULL, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, ready_poll, NULL), ==, 0);
  g_assert_null (asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt), NULL, NULL, NULL));
  g_assert_cmpint (errno, ==, EINVAL);
  asyncrt_runtime_free (rt);
}

/* ---- thread-locals on workers, block_on ------------------------------------------- */

typedef struct
{
  char name[32];
  AsyncrtHandle *handle;
  AsyncrtTaskId id;
  int block_on_ret;
  atomic_ulong done;
} WorkerInfo;

static AsyncrtPoll
worker_info_poll (void *p, AsyncrtContext *cx)
{
  WorkerInfo *wi = p;
  (void) cx;
  pthread_getname_np (pthread_self (), wi->name, sizeof wi->name);
  wi->handle = asyncrt_handle_current ();
  wi->id = asyncrt_task_id_current ();
  wi->block_on_ret = asyncrt_runtime_block_on ((AsyncrtRuntime *) (void *) wi->handle,
                                               ready_poll, NULL);
  atomic_store (&wi->done, 1);
  return ASYNCRT_READY;
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinHandle *jh;
  AsyncrtHandle *handle;
  AsyncrtTaskId id;
  atomic_ulong child_ran;
} BlockOnState;

static AsyncrtPoll
child_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  atomic_store ((atomic_ulong *) p, 1);
  return ASYNCRT_READY;
}

static AsyncrtPoll
block_on_poll (void *p, AsyncrtContext *cx)
{
  BlockOnState *s = p;
  ASYNCRT_BEGIN (&s->co);
  s->handle = asyncrt_handle_current ();
  s->id = asyncrt_task_id_current ();
  s->jh = asyncrt_spawn (child_poll, &s->child_ran, NULL);
  g_assert_nonnull (s->jh);
  ASYNCRT_AWAIT (&s->co, asyncrt_join_handle_poll (s->jh, cx));
  asyncrt_join_handle_free (s->jh);
  ASYNCRT_END (&s->co);
}

static void
test_worker_context (void)
{
  AsyncrtRuntime *rt = mt_new (2);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);

  WorkerInfo wi = { 0 };
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (h, worker_info_poll, &wi, NULL);
  g_assert_nonnull (jh);
  g_assert_true (wait_for_count (&wi.done, 1, 5000));
  g_assert_true (g_str_has_prefix (wi.name, "asyncrt-wrk-"));
  g_assert_true (wi.handle == h);
  g_assert_cmpuint (wi.id, ==, asyncrt_join_handle_get_id (jh));
  g_assert_cmpint (wi.block_on_ret, ==, -EDEADLK);   /* would block a worker */
  asyncrt_join_handle_free (jh);

  /* Outside the runtime nothing is current. */
  g_assert_null (asyncrt_handle_current ());
  g_assert_cmpuint (asyncrt_task_id_current (), ==, 0);

  BlockOnState s = { 0 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, block_on_poll, &s), ==, 0);
  g_assert_true (s.handle == h);
  g_assert_cmpuint (s.id, ==, 0);   /* the block_on future is not a task */
  g_assert_cmpuint (atomic_load (&s.child_ran), ==, 1);
  g_assert_null (asyncrt_handle_current ());
  asyncrt_runtime_free (rt);
}

/* ---- spawn storms ------------------------------------------------------------------ */

static atomic_ulong n_ran;

static AsyncrtPoll
count_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  atomic_fetch_add (&n_ran, 1);
  return ASYNCRT_READY;
}

#define STORM_THREADS 4
#define STORM_PER_THREAD 5000

static gpointer
storm_thread (gpointer data)
{
  AsyncrtHandle *h = data;
  for (int i = 0; i < STORM_PER_THREAD; i++)
    {
      AsyncrtJoinHandle *jh = asyncrt_handle_spawn (h, count_poll, g_new0 (int, 1), count_free);
      g_assert_nonnull (jh);
      asyncrt_join_handle_free (jh);
    }
  return NULL;
}

static void
test_spawn_storm_outside (void)
{
  atomic_store (&n_ran, 0);
  atomic_store (&n_freed, 0);
  AsyncrtRuntime *rt = mt_new (2);
  GThread *th[STORM_THREADS];
  for (int i = 0; i < STORM_THREADS; i++)
    th[i] = g_thread_new ("storm", storm_thread, asyncrt_runtime_get_handle (rt));
  for (int i = 0; i < STORM_THREADS; i++)
    g_thread_join (th[i]);
  g_assert_true (wait_for_count (&n_ran, STORM_THREADS * STORM_PER_THREAD, 20000));
  asyncrt_runtime_free (rt);
  g_assert_cmpuint (atomic_load (&n_ran), ==, STORM_THREADS * STORM_PER_THREAD);
  g_assert_cmpuint (atomic_load (&n_freed), ==, STORM_THREADS * STORM_PER_THREAD);
}

#define STORM_INSIDE 20000   /* far beyond one local queue: exercises the overflow */

typedef struct
{
  int depth;
} Spawner;

static AsyncrtPoll
spawner_poll (void *p, AsyncrtContext *cx)
{
  Spawner *s = p;
  (void) cx;
  if (s->depth == 0)
    {
      /* Fan out: every child goes to this worker's local queue. */
      for (int i = 0; i < STORM_INSIDE; i++)
        {
          AsyncrtJoinHandle *jh = asyncrt_spawn (count_poll, g_new0 (int, 1), count_free);
          g_assert_nonnull (jh);
          asyncrt_join_handle_free (jh);
        }
      /* And a chain: each link spawns the next. */
      Spawner *next = g_new0 (Spawner, 1);
      next->depth = 1;
      asyncrt_join_handle_free (asyncrt_spawn (spawner_poll, next, count_free));
    }
  else if (s->depth < 1000)
    {
      Spawner *next = g_new0 (Spawner, 1);
      next->depth = s->depth + 1;
      asyncrt_join_handle_free (asyncrt_spawn (spawner_poll, next, count_free));
    }
  atomic_fetch_add (&n_ran, 1);
  return ASYNCRT_READY;
}

static void
test_spawn_storm_inside (void)
{
  atomic_store (&n_ran, 0);
  atomic_store (&n_freed, 0);
  AsyncrtRuntime *rt = mt_new (2);
  Spawner *root = g_new0 (Spawner, 1);
  asyncrt_join_handle_free (asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt),
                                                  spawner_poll, root, count_free));
  /* root + STORM_INSIDE children + 1000 chain links */
  unsigned long total = 1 + STORM_INSIDE + 1000;
  g_assert_true (wait_for_count (&n_ran, total, 20000));
  asyncrt_runtime_free (rt);
  g_assert_cmpuint (atomic_load (&n_ran), ==, total);
  g_assert_cmpuint (atomic_load (&n_freed), ==, total);
}

/* ---- ping-pong ---------------------------------------------------------------------- */

#define PING_PONG_PAIRS 4
#define PING_PONG_ROUNDS 5000

typedef struct
{
  AsyncrtCoroutine co;
  Mailbox *mine, *peer;
  unsigned long rounds, got;
  bool serve;          /* the pong side receives first */
  atomic_ulong *done;
} Player;

static AsyncrtPoll
player_poll (void *p, AsyncrtContext *cx)
{
  Player *pl = p;
  ASYNCRT_BEGIN (&pl->co);
  for (pl->rounds = 0; pl->rounds < PING_PONG_ROUNDS; pl->rounds++)
    {
      if (pl->serve)
        mailbox_post (pl->peer);
      ASYNCRT_AWAIT (&pl->co, mailbox_recv (pl->mine, cx, &pl->got));
      g_assert_cmpuint (pl->got, ==, 1);
      if (!pl->serve)
        mailbox_post (pl->peer);
    }
  atomic_fetch_add (pl->done, 1);
  ASYNCRT_END (&pl->co);
}

static void
test_ping_pong (gconstpointer data)
{
  AsyncrtRuntime *rt = mt_new (GPOINTER_TO_UINT (data));
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Mailbox boxes[2 * PING_PONG_PAIRS];
  Player players[2 * PING_PONG_PAIRS];
  atomic_ulong done = 0;
  memset (players, 0, sizeof players);
  for (int i = 0; i < 2 * PING_PONG_PAIRS; i++)
    mailbox_init (&boxes[i]);
  for (int i = 0; i < 2 * PING_PONG_PAIRS; i++)
    {
      players[i].mine = &boxes[i];
      players[i].peer = &boxes[i ^ 1];
      players[i].serve = (i & 1) == 0;
      players[i].done = &done;
      asyncrt_join_handle_free (asyncrt_handle_spawn (h, player_poll, &players[i], NULL));
    }
  g_assert_true (wait_for_count (&done, 2 * PING_PONG_PAIRS, 30000));
  asyncrt_runtime_free (rt);
  for (int i = 0; i < 2 * PING_PONG_PAIRS; i++)
    {
      g_assert_cmpuint (players[i].rounds, ==, PING_PONG_ROUNDS);
      mailbox_clear (&boxes[i]);
    }
}

/* ---- wakes from a foreign thread, one at a time ------------------------------------ */

#define HANDSHAKE_ROUNDS 2000

typedef struct
{
  AsyncrtCoroutine co;
  Mailbox box;
  unsigned long got, rounds;
  atomic_ulong acked;
} Handshake;

static AsyncrtPoll
handshake_poll (void *p, AsyncrtContext *cx)
{
  Handshake *hs = p;
  ASYNCRT_BEGIN (&hs->co);
  for (hs->rounds = 0; hs->rounds < HANDSHAKE_ROUNDS; hs->rounds++)
    {
      ASYNCRT_AWAIT (&hs->co, mailbox_recv (&hs->box, cx, &hs->got));
      g_assert_cmpuint (hs->got, ==, 1);
      atomic_fetch_add (&hs->acked, 1);
    }
  ASYNCRT_END (&hs->co);
}

static void
test_foreign_wake_handshake (void)
{
  /* Every wake comes from this (non-worker) thread while the workers are idle: each
   * goes through the injection queue and unparks a parked worker.  One lost wake-up
   * and the round never completes. */
  AsyncrtRuntime *rt = mt_new (2);
  Handshake *hs = g_new0 (Handshake, 1);
  mailbox_init (&hs->box);
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt),
                                                handshake_poll, hs, NULL);
  for (unsigned long i = 0; i < HANDSHAKE_ROUNDS; i++)
    {
      mailbox_post (&hs->box);
      g_assert_true (wait_for_count (&hs->acked, i + 1, 5000));
      if (i % 100 == 0)
        g_usleep (1000);   /* sometimes long enough for every worker to park */
    }
  while (!asyncrt_join_handle_is_finished (jh))
    g_usleep (100);
  g_assert_false (asyncrt_join_handle_is_cancelled (jh));
  asyncrt_join_handle_free (jh);
  asyncrt_runtime_free (rt);
  mailbox_clear (&hs->box);
  g_free (hs);
}

/* ---- one million wakes, from foreign threads and from tasks ---------------------------- */

#define WAKE_CONSUMERS 8
#define WAKE_PRODUCER_THREADS 2
#define WAKE_PRODUCER_TASKS 2
#define WAKE_TOTAL 1000000ul
#define WAKE_PER_PRODUCER (WAKE_TOTAL / (WAKE_PRODUCER_THREADS + WAKE_PRODUCER_TASKS))

static Mailbox wake_boxes[WAKE_CONSUMERS];
static atomic_ulong wake_received[WAKE_CONSUMERS];
static atomic_ulong wake_consumers_done;

typedef struct
{
  AsyncrtCoroutine co;
  unsigned idx;
  unsigned long total, got;
} Consumer;

static AsyncrtPoll
consumer_poll (void *p, AsyncrtContext *cx)
{
  Consumer *c = p;
  ASYNCRT_BEGIN (&c->co);
  while (c->total < WAKE_TOTAL / WAKE_CONSUMERS)
    {
      ASYNCRT_AWAIT (&c->co, mailbox_recv (&wake_boxes[c->idx], cx, &c->got));
      c->total += c->got;
    }
  atomic_store (&wake_received[c->idx], c->total);
  atomic_fetch_add (&wake_consumers_done, 1);
  ASYNCRT_END (&c->co);
}

static gpointer
producer_thread (gpointer data)
{
  (void) data;
  for (unsigned long i = 0; i < WAKE_PER_PRODUCER; i++)
    mailbox_post (&wake_boxes[i % WAKE_CONSUMERS]);
  return NULL;
}

typedef struct
{
  AsyncrtCoroutine co;
  unsigned long i;
  AsyncrtYield y;
} ProducerTask;

static AsyncrtPoll
producer_task_poll (void *p, AsyncrtContext *cx)
{
  ProducerTask *pt = p;
  ASYNCRT_BEGIN (&pt->co);
  for (pt->i = 0; pt->i < WAKE_PER_PRODUCER; pt->i++)
    {
      mailbox_post (&wake_boxes[pt->i % WAKE_CONSUMERS]);
      if (pt->i % 64 == 63)
        {
          asyncrt_yield_init (&pt->y);
          ASYNCRT_AWAIT (&pt->co, asyncrt_yield_poll (&pt->y, cx));
        }
    }
  ASYNCRT_END (&pt->co);
}

static void
test_million_wakes (gconstpointer data)
{
  unsigned workers = GPOINTER_TO_UINT (data);
  atomic_store (&wake_consumers_done, 0);
  for (int i = 0; i < WAKE_CONSUMERS; i++)
    {
      mailbox_init (&wake_boxes[i]);
      atomic_store (&wake_received[i], 0);
    }
  AsyncrtRuntime *rt = mt_new (workers);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  for (unsigned i = 0; i < WAKE_CONSUMERS; i++)
    {
      Consumer *c = g_new0 (Consumer, 1);
      c->idx = i;
      asyncrt_join_handle_free (asyncrt_handle_spawn (h, consumer_poll, c, g_free));
    }
  for (int i = 0; i < WAKE_PRODUCER_TASKS; i++)
    asyncrt_join_handle_free (asyncrt_handle_spawn (h, producer_task_poll,
                                                    g_new0 (ProducerTask, 1), g_free));
  GThread *th[WAKE_PRODUCER_THREADS];
  for (int i = 0; i < WAKE_PRODUCER_THREADS; i++)
    th[i] = g_thread_new ("producer", producer_thread, NULL);
  for (int i = 0; i < WAKE_PRODUCER_THREADS; i++)
    g_thread_join (th[i]);

  /* A lost wake-up leaves a consumer waiting forever: this times out. */
  g_assert_true (wait_for_count (&wake_consumers_done, WAKE_CONSUMERS, 60000));
  unsigned long sum = 0;
  for (int i = 0; i < WAKE_CONSUMERS; i++)
    {
      g_assert_cmpuint (atomic_load (&wake_received[i]), ==, WAKE_TOTAL / WAKE_CONSUMERS);
      sum += atomic_load (&wake_received[i]);
    }
  g_assert_cmpuint (sum, ==, WAKE_TOTAL);
  asyncrt_runtime_free (rt);
  for (int i = 0; i < WAKE_CONSUMERS; i++)
    mailbox_clear (&wake_boxes[i]);
}

/* ---- fairness: LIFO cap and coop budget, on one worker -------------------------------- */

typedef struct
{
  atomic_bool stop;
  atomic_bool timed_out;
  atomic_ulong done;
  gint64 deadline;
} Fairness;

typedef struct
{
  AsyncrtCoroutine co;
  Fairness *f;
  Mailbox *mine, *peer;
  unsigned long got;
  bool serve;
} Pinger;

static AsyncrtPoll
stopper_poll (void *p, AsyncrtContext *cx)
{
  Fairness *f = p;
  (void) cx;
  atomic_store (&f->stop, true);
  return ASYNCRT_READY;
}

static AsyncrtPoll
pinger_poll (void *p, AsyncrtContext *cx)
{
  Pinger *pg = p;
  ASYNCRT_BEGIN (&pg->co);
  for (;;)
    {
      if (atomic_load (&pg->f->stop))
        break;
      if (g_get_monotonic_time () > pg->f->deadline)
        {
          atomic_store (&pg->f->timed_out, true);
          break;
        }
      if (pg->serve)
        mailbox_post (pg->peer);
      ASYNCRT_AWAIT (&pg->co, mailbox_recv (pg->mine, cx, &pg->got));
      if (!pg->serve)
        mailbox_post (pg->peer);
    }
  /* Let the peer finish too. */
  mailbox_post (pg->peer);
  atomic_fetch_add (&pg->f->done, 1);
  ASYNCRT_END (&pg->co);
}

typedef struct
{
  Fairness *f;
  Pinger a, b;
} PingStarter;

static AsyncrtPoll
ping_starter_poll (void *p, AsyncrtContext *cx)
{
  PingStarter *s = p;
  (void) cx;
  /* All three go to this worker's local queue, the stopper last. */
  asyncrt_join_handle_free (asyncrt_spawn (pinger_poll, &s->a, NULL));
  asyncrt_join_handle_free (asyncrt_spawn (pinger_poll, &s->b, NULL));
  asyncrt_join_handle_free (asyncrt_spawn (stopper_poll, s->f, NULL));
  return ASYNCRT_READY;
}

static void
test_lifo_cap (void)
{
  AsyncrtRuntime *rt = mt_new (1);
  Fairness f = { 0 };
  f.deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
  Mailbox ma, mb;
  mailbox_init (&ma);
  mailbox_init (&mb);
  PingStarter s = { 0 };
  s.f = &f;
  s.a = (Pinger) { .f = &f, .mine = &ma, .peer = &mb, .serve = true };
  s.b = (Pinger) { .f = &f, .mine = &mb, .peer = &ma, .serve = false };
  asyncrt_join_handle_free (asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt),
                                                  ping_starter_poll, &s, NULL));
  g_assert_true (wait_for_count (&f.done, 2, 10000));
  /* Two tasks waking each other through the LIFO slot did not starve the third. */
  g_assert_false (atomic_load (&f.timed_out));
  g_assert_true (atomic_load (&f.stop));
  asyncrt_runtime_free (rt);
  mailbox_clear (&ma);
  mailbox_clear (&mb);
}

typedef struct
{
  Fairness *f;
  AsyncrtJoinHandle *finished;
  unsigned long leaf_polls;
  unsigned long polls;
} Hog;

static AsyncrtPoll
hog_poll (void *p, AsyncrtContext *cx)
{
  Hog *h = p;
  h->polls++;
  /* Never yields by itself: its leaf (joining a finished task) is always ready. */
  while (!atomic_load (&h->f->stop))
    {
      if (g_get_monotonic_time () > h->f->deadline)
        {
          atomic_store (&h->f->timed_out, true);
          break;
        }
      if (asyncrt_join_handle_poll (h->finished, cx) == ASYNCRT_PENDING)
        return ASYNCRT_PENDING;   /* budget spent: the leaf woke us */
      h->leaf_polls++;
    }
  atomic_fetch_add (&h->f->done, 1);
  return ASYNCRT_READY;
}

static void
test_coop_budget (void)
{
  AsyncrtRuntime *rt = mt_new (1);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Fairness f = { 0 };
  f.deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;

  atomic_store (&n_ran, 0);
  AsyncrtJoinHandle *finished = asyncrt_handle_spawn (h, count_poll, NULL, NULL);
  g_assert_true (wait_for_count (&n_ran, 1, 5000));
  while (!asyncrt_join_handle_is_finished (finished))
    g_usleep (100);

  Hog hog = { &f, finished, 0, 0 };
  asyncrt_join_handle_free (asyncrt_handle_spawn (h, hog_poll, &hog, NULL));
  g_usleep (1000);   /* let the hog take the only worker (not required to fail) */
  asyncrt_join_handle_free (asyncrt_handle_spawn (h, stopper_poll, &f, NULL));

  g_assert_true (wait_for_count (&f.done, 1, 10000));
  g_assert_false (atomic_load (&f.timed_out));
  g_assert_true (atomic_load (&f.stop));
  asyncrt_runtime_free (rt);
  asyncrt_join_handle_free (finished);
}

/* ---- timers through the shared driver; yields; concurrent block_on ------------------ */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSleep sleep;
  AsyncrtYield y;
  unsigned ms;
  int i;
} Sleeper;

static void
sleeper_free (void *p)
{
  Sleeper *s = p;
  asyncrt_sleep_clear (&s->sleep);
  count_free (s);
}

static AsyncrtPoll
sleeper_poll (void *p, AsyncrtContext *cx)
{
  Sleeper *s = p;
  ASYNCRT_BEGIN (&s->co);
  asyncrt_sleep_init (&s->sleep, s->ms);
  ASYNCRT_AWAIT (&s->co, asyncrt_sleep_poll (&s->sleep, cx));
  for (s->i = 0; s->i < 100; s->i++)
    {
      asyncrt_yield_init (&s->y);
      ASYNCRT_AWAIT (&s->co, asyncrt_yield_poll (&s->y, cx));
    }
  atomic_fetch_add (&n_ran, 1);
  ASYNCRT_END (&s->co);
}

static void
test_timers_and_yields (void)
{
  atomic_store (&n_ran, 0);
  atomic_store (&n_freed, 0);
  AsyncrtRuntime *rt = mt_new (2);
  for (unsigned i = 0; i < 200; i++)
    {
      Sleeper *s = g_new0 (Sleeper, 1);
      s->ms = 1 + i % 20;
      asyncrt_join_handle_free (asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt),
                                                      sleeper_poll, s, sleeper_free));
    }
  g_assert_true (wait_for_count (&n_ran, 200, 10000));
  asyncrt_runtime_free (rt);
  g_assert_cmpuint (atomic_load (&n_freed), ==, 200);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSleep sleep;
  BlockOnState inner;
} SleepThenSpawn;

static AsyncrtPoll
sleep_then_spawn_poll (void *p, AsyncrtContext *cx)
{
  SleepThenSpawn *s = p;
  ASYNCRT_BEGIN (&s->co);
  asyncrt_sleep_init (&s->sleep, 5);
  ASYNCRT_AWAIT (&s->co, asyncrt_sleep_poll (&s->sleep, cx));
  asyncrt_sleep_clear (&s->sleep);
  ASYNCRT_AWAIT (&s->co, block_on_poll (&s->inner, cx));
  ASYNCRT_END (&s->co);
}

static gpointer
block_on_thread (gpointer data)
{
  AsyncrtRuntime *rt = data;
  for (int i = 0; i < 20; i++)
    {
      SleepThenSpawn s;
      memset (&s, 0, sizeof s);
      g_assert_cmpint (asyncrt_runtime_block_on (rt, sleep_then_spawn_poll, &s), ==, 0);
      g_assert_cmpuint (atomic_load (&s.inner.child_ran), ==, 1);
    }
  return NULL;
}

static void
test_concurrent_block_on (void)
{
  AsyncrtRuntime *rt = mt_new (2);
  GThread *th[3];
  for (int i = 0; i < 3; i++)
    th[i] = g_thread_new ("block-on", block_on_thread, rt);
  for (int i = 0; i < 3; i++)
    g_thread_join (th[i]);
  asyncrt_runtime_free (rt);
}

/* ---- I/O readiness through the shared driver ------------------------------------------ */

#define PIPES 8
#define PIPE_MSGS 200

typedef struct
{
  AsyncrtCoroutine co;
  int rfd;
  AsyncrtFd fd;
  char buf[64];
  int64_t n;
  unsigned long total;
  int init_ret;
  atomic_ulong *done;
} PipeReader;

static AsyncrtPoll
pipe_reader_poll (void *p, AsyncrtContext *cx)
{
  PipeReader *r = p;
  ASYNCRT_BEGIN (&r->co);
  /* Registered from a worker: with the runtime's driver. */
  r->init_ret = asyncrt_fd_init (&r->fd, r->rfd);
  if (r->init_ret < 0)
    ASYNCRT_RETURN (&r->co);
  for (;;)
    {
      ASYNCRT_AWAIT (&r->co, asyncrt_fd_read_poll (&r->fd, cx, r->buf, sizeof r->buf, &r->n));
      if (r->n <= 0)
        break;   /* end of file (or an error, which the count then shows) */
      r->total += (unsigned long) r->n;
    }
  asyncrt_fd_clear (&r->fd);
  atomic_fetch_add (r->done, 1);
  ASYNCRT_END (&r->co);
}

static void
test_pipes (void)
{
  AsyncrtRuntime *rt = mt_new (2);
  PipeReader readers[PIPES];
  int wfds[PIPES];
  atomic_ulong done = 0;
  memset (readers, 0, sizeof readers);
  for (int i = 0; i < PIPES; i++)
    {
      int fds[2];
      g_assert_cmpint (pipe2 (fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
      readers[i].rfd = fds[0];
      readers[i].done = &done;
      wfds[i] = fds[1];
      asyncrt_join_handle_free (asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt),
                                                      pipe_reader_poll, &readers[i], NULL));
    }
  /* Writes from this thread, with pauses long enough for every worker to park (one
   * of them in the driver's epoll_wait). */
  for (int m = 0; m < PIPE_MSGS; m++)
    {
      for (int i = 0; i < PIPES; i++)
        {
          ssize_t w;
          do
            w = write (wfds[i], "0123456789", 10);
          while (w < 0 && errno == EAGAIN);
          g_assert_cmpint (w, ==, 10);
        }
      if (m % 20 == 0)
        g_usleep (1000);
    }
  for (int i = 0; i < PIPES; i++)
    close (wfds[i]);
  g_assert_true (wait_for_count (&done, PIPES, 10000));
  for (int i = 0; i < PIPES; i++)
    {
      g_assert_cmpint (readers[i].init_ret, ==, 0);
      g_assert_cmpuint (readers[i].total, ==, 10 * PIPE_MSGS);
      close (readers[i].rfd);
    }
  asyncrt_runtime_free (rt);
}

/* ---- shutdown under load -------------------------------------------------------------- */

#define RING 200
#define LOAD_SLEEPERS 100

static Mailbox ring_boxes[RING];
static atomic_bool foreign_stop;

typedef struct
{
  AsyncrtCoroutine co;
  unsigned idx;
  unsigned long got;
} RingTask;

static void
ring_free (void *p)
{
  RingTask *r = p;
  /* Wakes another task from inside a cancellation, during shutdown. */
  mailbox_post (&ring_boxes[(r->idx + 7) % RING]);
  count_free (p);
}

static AsyncrtPoll
ring_poll (void *p, AsyncrtContext *cx)
{
  RingTask *r = p;
  ASYNCRT_BEGIN (&r->co);
  for (;;)
    {
      ASYNCRT_AWAIT (&r->co, mailbox_recv (&ring_boxes[r->idx], cx, &r->got));
      mailbox_post (&ring_boxes[(r->idx + 1) % RING]);
      mailbox_post (&ring_boxes[(r->idx + 2) % RING]);
    }
  ASYNCRT_END (&r->co);
}

static gpointer
foreign_waker_thread (gpointer data)
{
  (void) data;
  unsigned i = 0;
  while (!atomic_load (&foreign_stop))
    mailbox_post (&ring_boxes[i++ % RING]);
  return NULL;
}

static void
test_shutdown_under_load (void)
{
  atomic_store (&n_freed, 0);
  atomic_store (&foreign_stop, false);
  for (int i = 0; i < RING; i++)
    mailbox_init (&ring_boxes[i]);

  AsyncrtRuntime *rt = mt_new (2);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  for (unsigned i = 0; i < RING; i++)
    {
      RingTask *r = g_new0 (RingTask, 1);
      r->idx = i;
      asyncrt_join_handle_free (asyncrt_handle_spawn (h, ring_poll, r, ring_free));
    }
  for (unsigned i = 0; i < LOAD_SLEEPERS; i++)
    {
      Sleeper *s = g_new0 (Sleeper, 1);
      s->ms = 60000;
      asyncrt_join_handle_free (asyncrt_handle_spawn (h, sleeper_poll, s, sleeper_free));
    }
  /* Keep a join handle across the shutdown: it must report cancellation. */
  Sleeper *kept = g_new0 (Sleeper, 1);
  kept->ms = 60000;
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (h, sleeper_poll, kept, sleeper_free);

  GThread *foreign = g_thread_new ("foreign-waker", foreign_waker_thread, NULL);
  for (int i = 0; i < RING; i++)
    mailbox_post (&ring_boxes[i]);
  g_usleep (20000);   /* let the ring spin (not required to fail) */

  asyncrt_runtime_free (rt);
  /* Every future freed exactly once, by the time runtime_free returns. */
  g_assert_cmpuint (atomic_load (&n_freed), ==, RING + LOAD_SLEEPERS + 1);
  g_assert_true (asyncrt_join_handle_is_finished (jh));
  g_assert_true (asyncrt_join_handle_is_cancelled (jh));
  asyncrt_join_handle_free (jh);

  /* Wakes after shutdown: no-ops that only drop references. */
  g_usleep (5000);
  atomic_store (&foreign_stop, true);
  g_thread_join (foreign);
  for (int i = 0; i < RING; i++)
    mailbox_clear (&ring_boxes[i]);
  g_assert_cmpuint (atomic_load (&n_freed), ==, RING + LOAD_SLEEPERS + 1);
}

/* Tasks that keep spawning (from workers) and yielding while the runtime shuts down:
 * every future that was handed to a successful spawn is freed exactly once. */
static atomic_ulong n_spawned;

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtYield y;
  int i;
} Breeder;

static AsyncrtPoll
breeder_poll (void *p, AsyncrtContext *cx)
{
  Breeder *b = p;
  ASYNCRT_BEGIN (&b->co);
  for (b->i = 0;; b->i++)
    {
      AsyncrtJoinHandle *jh = asyncrt_spawn (b->i % 2 ? count_poll : breeder_poll,
                                             g_new0 (Breeder, 1), count_free);
      g_assert_nonnull (jh);
      atomic_fetch_add (&n_spawned, 1);
      if (b->i % 3 == 0)
        asyncrt_join_handle_abort (jh);
      asyncrt_join_handle_free (jh);
      if (b->i >= 3)
        break;   /* each breeder has a few children: the population grows slowly */
      asyncrt_yield_init (&b->y);
      ASYNCRT_AWAIT (&b->co, asyncrt_yield_poll (&b->y, cx));
    }
  ASYNCRT_END (&b->co);
}

static void
test_shutdown_while_spawning (void)
{
  for (int round = 0; round < 30; round++)
    {
      atomic_store (&n_spawned, 0);
      atomic_store (&n_freed, 0);
      AsyncrtRuntime *rt = mt_new (1 + round % 3);
      for (int i = 0; i < 4; i++)
        {
          AsyncrtJoinHandle *jh = asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt),
                                                        breeder_poll, g_new0 (Breeder, 1),
                                                        count_free);
          g_assert_nonnull (jh);
          atomic_fetch_add (&n_spawned, 1);
          asyncrt_join_handle_free (jh);
        }
      g_usleep ((gulong) (round % 5) * 1000);
      asyncrt_runtime_free (rt);
      g_assert_cmpuint (atomic_load (&n_freed), ==, atomic_load (&n_spawned));
    }
}

static void
test_idle_runtime_free (void)
{
  /* Build and free quickly, over and over: workers may not even have parked yet. */
  for (int i = 0; i < 20; i++)
    {
      AsyncrtRuntime *rt = mt_new (1 + i % 3);
      asyncrt_runtime_free (rt);
    }
}

/* ---- a worker blocked inside a poll does not strand queued work --------------------- */

/* A task that blocks its worker's thread (as a blocking system call inside a task
 * would) until released, and a quick one spawned right after it: the quick one must
 * run on the other worker while the first still blocks.  Spawned from outside the
 * runtime both go through the injection queue, and a worker may take them both in one
 * batch (the second to its local queue) before it runs the first; the other worker,
 * parked, must then be woken to steal it.  Each round waits for the quick task with a
 * generous bound; the blocker is released only after that, so a stranded quick task is
 * a round that times out. */
typedef struct
{
  atomic_bool release;     /* set by the test: the blocker may return */
  atomic_ulong quick_ran;
  atomic_ulong finished;   /* tasks done with this struct (blocker, quick, spawner) */
  unsigned max_block_ms;   /* bound of the blocking wait, whatever happens */
} Blocker;

static AsyncrtPoll
blocker_poll (void *p, AsyncrtContext *cx)
{
  Blocker *b = p;
  (void) cx;
  gint64 deadline = g_get_monotonic_time () + (gint64) b->max_block_ms * 1000;
  while (!atomic_load (&b->release) && g_get_monotonic_time () < deadline)
    g_usleep (200);   /* the worker's thread sleeps: it polls nothing else */
  atomic_fetch_add (&b->finished, 1);
  return ASYNCRT_READY;
}

static AsyncrtPoll
quick_poll (void *p, AsyncrtContext *cx)
{
  Blocker *b = p;
  (void) cx;
  atomic_fetch_add (&b->quick_ran, 1);
  atomic_fetch_add (&b->finished, 1);
  return ASYNCRT_READY;
}

static AsyncrtPoll
spawn_pair_poll (void *p, AsyncrtContext *cx)
{
  Blocker *b = p;
  (void) cx;
  asyncrt_join_handle_free (asyncrt_spawn (blocker_poll, b, NULL));
  asyncrt_join_handle_free (asyncrt_spawn (quick_poll, b, NULL));
  atomic_fetch_add (&b->finished, 1);
  return ASYNCRT_READY;
}

/* The blocker of modes 3 and 4: first makes the quick task runnable from inside its
 * own poll (it lands in this worker's LIFO slot), then blocks. */
typedef struct
{
  Blocker *b;
  Mailbox *quick_box;      /* mode 3: the quick task waits on it; we post */
} WakeThenBlock;

static AsyncrtPoll
quick_waiting_poll (void *p, AsyncrtContext *cx)
{
  WakeThenBlock *wb = p;
  unsigned long got;
  if (mailbox_recv (wb->quick_box, cx, &got) == ASYNCRT_PENDING)
    return ASYNCRT_PENDING;
  return quick_poll (wb->b, cx);
}

static AsyncrtPoll
wake_then_block_poll (void *p, AsyncrtContext *cx)
{
  WakeThenBlock *wb = p;
  if (wb->quick_box != NULL)
    mailbox_post (wb->quick_box);                                         /* mode 3 */
  else
    asyncrt_join_handle_free (asyncrt_spawn (quick_poll, wb->b, NULL));   /* mode 4 */
  return blocker_poll (wb->b, cx);
}

/* how: 0 both spawned from outside the runtime (injection queue), 1 both spawned by
 * a task (the spawner's local queue), 2 from outside right after a short task (one
 * worker may still be running it when the pair arrives), 3 the blocker wakes the
 * (idle) quick task and then blocks, 4 the blocker spawns the quick task and then
 * blocks. */
static void
test_blocked_worker (gconstpointer data)
{
  unsigned how = GPOINTER_TO_UINT (data);
  AsyncrtRuntime *rt = mt_new (2);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  unsigned stranded = 0;

  for (unsigned round = 0; round < 50 && stranded == 0; round++)
    {
      Blocker *b = g_new0 (Blocker, 1);
      b->max_block_ms = test_timeout_ms (10000);
      unsigned long n_tasks = 2;
      Mailbox box;
      mailbox_init (&box);
      WakeThenBlock wb = { b, how == 3 ? &box : NULL };
      AsyncrtJoinHandle *quick = NULL;
      if (how == 2)
        asyncrt_join_handle_free (asyncrt_handle_spawn (h, ready_poll, NULL, NULL));
      if (how == 1)
        {
          asyncrt_join_handle_free (asyncrt_handle_spawn (h, spawn_pair_poll, b, NULL));
          n_tasks = 3;
        }
      else if (how >= 3)
        {
          if (how == 3)
            {
              /* The quick task first waits, idle, for the blocker's post. */
              quick = asyncrt_handle_spawn (h, quick_waiting_poll, &wb, NULL);
              gint64 give_up = g_get_monotonic_time () + test_timeout_ms (5000) * 1000;
              for (;;)
                {
                  pthread_mutex_lock (&box.lock);
                  bool waiting = !asyncrt_waker_is_empty (&box.waker);
                  pthread_mutex_unlock (&box.lock);
                  if (waiting)
                    break;
                  g_assert_cmpint (g_get_monotonic_time (), <, give_up);
                  g_usleep (200);
                }
            }
          asyncrt_join_handle_free (asyncrt_handle_spawn (h, wake_then_block_poll, &wb, NULL));
        }
      else
        {
          asyncrt_join_handle_free (asyncrt_handle_spawn (h, blocker_poll, b, NULL));
          asyncrt_join_handle_free (asyncrt_handle_spawn (h, quick_poll, b, NULL));
        }
      /* The quick task runs while the blocker still blocks its worker. */
      if (!wait_for_count (&b->quick_ran, 1, 3000))
        stranded++;
      atomic_store (&b->release, true);
      g_assert_true (wait_for_count (&b->finished, n_tasks, 20000));
      if (quick != NULL)
        {
          while (!asyncrt_join_handle_is_finished (quick))
            g_usleep (100);
          asyncrt_join_handle_free (quick);
        }
      mailbox_clear (&box);
      g_free (b);
    }
  asyncrt_runtime_free (rt);
  g_assert_cmpuint (stranded, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mt/builder-errors", test_builder_errors);
  g_test_add_func ("/mt/worker-context", test_worker_context);
  g_test_add_func ("/mt/idle-runtime-free", test_idle_runtime_free);
  g_test_add_func ("/mt/spawn-storm-outside", test_spawn_storm_outside);
  g_test_add_func ("/mt/spawn-storm-inside", test_spawn_storm_inside);
  g_test_add_data_func ("/mt/ping-pong/2-workers", GUINT_TO_POINTER (2), test_ping_pong);
  g_test_add_data_func ("/mt/ping-pong/3-workers", GUINT_TO_POINTER (3), test_ping_pong);
  g_test_add_func ("/mt/foreign-wake-handshake", test_foreign_wake_handshake);
  g_test_add_data_func ("/mt/million-wakes/1-worker", GUINT_TO_POINTER (1), test_million_wakes);
  g_test_add_data_func ("/mt/million-wakes/2-workers", GUINT_TO_POINTER (2), test_million_wakes);
  g_test_add_data_func ("/mt/million-wakes/4-workers", GUINT_TO_POINTER (4), test_million_wakes);
  g_test_add_func ("/mt/lifo-cap", test_lifo_cap);
  g_test_add_func ("/mt/coop-budget", test_coop_budget);
  g_test_add_func ("/mt/timers-and-yields", test_timers_and_yields);
  g_test_add_func ("/mt/concurrent-block-on", test_concurrent_block_on);
  g_test_add_func ("/mt/pipes", test_pipes);
  g_test_add_func ("/mt/shutdown-under-load", test_shutdown_under_load);
  g_test_add_func ("/mt/shutdown-while-spawning", test_shutdown_while_spawning);
  g_test_add_data_func ("/mt/blocked-worker/remote-pair", GUINT_TO_POINTER (0),
                        test_blocked_worker);
  g_test_add_data_func ("/mt/blocked-worker/local-pair", GUINT_TO_POINTER (1),
                        test_blocked_worker);
  g_test_add_data_func ("/mt/blocked-worker/remote-pair-busy", GUINT_TO_POINTER (2),
                        test_blocked_worker);
  g_test_add_data_func ("/mt/blocked-worker/wake-then-block", GUINT_TO_POINTER (3),
                        test_blocked_worker);
  g_test_add_data_func ("/mt/blocked-worker/spawn-then-block", GUINT_TO_POINTER (4),
                        test_blocked_worker);
  return g_test_run ();
}
