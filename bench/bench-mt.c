/* Benchmarks of the multi-thread runtime (2 workers), after Tokio's rt_multi_threaded
 * benchmarks; the same workloads as bench-runtime.c (current-thread) where both
 * exist, with an `_mt` suffix.  Prints `name value unit` lines; benchmarks never fail
 * on a number. */
#include <asyncrt/asyncrt.h>

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define WORKERS 2

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static AsyncrtRuntime *
new_rt (void)
{
  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  AsyncrtRuntime *rt = NULL;
  if (asyncrt_builder_set_worker_threads (b, WORKERS) < 0 || asyncrt_builder_build (b, &rt) < 0)
    abort ();
  asyncrt_builder_free (b);
  return rt;
}

static AsyncrtPoll
ready_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  return ASYNCRT_READY;
}

/* Runs @poll under block_on @rounds times; returns the best time in seconds. */
static double
best_of (AsyncrtRuntime *rt, int rounds, AsyncrtPollFunc poll, void *state,
         void (*reset) (void *state))
{
  double best = 1e9;
  for (int round = 0; round < rounds; round++)
    {
      reset (state);
      double t0 = now_s ();
      if (asyncrt_runtime_block_on (rt, poll, state) < 0)
        abort ();
      double dt = now_s () - t0;
      if (dt < best)
        best = dt;
    }
  return best;
}

/* ---- spawn_many: 10,000 empty tasks, joined ---------------------------------------- */
#define SPAWN_N 10000

typedef struct
{
  AsyncrtCoroutine co;
  int i;
  AsyncrtJoinHandle *jhs[SPAWN_N];
} SpawnMany;

static AsyncrtPoll
spawn_many_poll (void *p, AsyncrtContext *cx)
{
  SpawnMany *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < SPAWN_N; self->i++)
    self->jhs[self->i] = asyncrt_spawn (ready_poll, NULL, NULL);
  for (self->i = 0; self->i < SPAWN_N; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jhs[self->i], cx));
      asyncrt_join_handle_free (self->jhs[self->i]);
    }
  ASYNCRT_END (&self->co);
}

static void
spawn_many_reset (void *p)
{
  asyncrt_coroutine_reset (&((SpawnMany *) p)->co);
}

/* local: the spawning runs in a task on a worker, so spawns go to its local queue. */
typedef struct
{
  AsyncrtCoroutine co;
  SpawnMany inner;
  AsyncrtJoinHandle *jh;
} OnWorker;

static AsyncrtPoll
on_worker_poll (void *p, AsyncrtContext *cx)
{
  OnWorker *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_coroutine_reset (&self->inner.co);
  self->jh = asyncrt_spawn (spawn_many_poll, &self->inner, NULL);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
  asyncrt_join_handle_free (self->jh);
  ASYNCRT_END (&self->co);
}

static void
on_worker_reset (void *p)
{
  asyncrt_coroutine_reset (&((OnWorker *) p)->co);
}

static void
bench_spawn_many_local (AsyncrtRuntime *rt)
{
  OnWorker *s = g_new0 (OnWorker, 1);
  double best = best_of (rt, 20, on_worker_poll, s, on_worker_reset);
  printf ("spawn_many_local_mt %.1f us\n", best * 1e6);
  printf ("spawn_many_local_mt_per_task %.1f ns\n", best * 1e9 / SPAWN_N);
  g_free (s);
}

/* remote: block_on's thread is not a worker: every spawn goes through the injection
 * queue and may unpark a worker. */
static void
bench_spawn_many_remote_idle (AsyncrtRuntime *rt)
{
  SpawnMany *s = g_new0 (SpawnMany, 1);
  double best = best_of (rt, 20, spawn_many_poll, s, spawn_many_reset);
  printf ("spawn_many_remote_idle_mt %.1f us\n", best * 1e6);
  printf ("spawn_many_remote_idle_mt_per_task %.1f ns\n", best * 1e9 / SPAWN_N);
  g_free (s);
}

/* busy: the same while every worker runs a task that keeps yielding. */
typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtYield y;
  atomic_bool *stop;
} Busy;

static AsyncrtPoll
busy_poll (void *p, AsyncrtContext *cx)
{
  Busy *self = p;
  ASYNCRT_BEGIN (&self->co);
  while (!atomic_load_explicit (self->stop, memory_order_relaxed))
    {
      asyncrt_yield_init (&self->y);
      ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
    }
  ASYNCRT_END (&self->co);
}

static void
bench_spawn_many_remote_busy (AsyncrtRuntime *rt)
{
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  atomic_bool stop = false;
  Busy busy[WORKERS] = { 0 };
  AsyncrtJoinHandle *jhs[WORKERS];
  for (int i = 0; i < WORKERS; i++)
    {
      busy[i].stop = &stop;
      jhs[i] = asyncrt_handle_spawn (h, busy_poll, &busy[i], NULL);
    }
  SpawnMany *s = g_new0 (SpawnMany, 1);
  double best = best_of (rt, 20, spawn_many_poll, s, spawn_many_reset);
  printf ("spawn_many_remote_busy_mt %.1f us\n", best * 1e6);
  printf ("spawn_many_remote_busy_mt_per_task %.1f ns\n", best * 1e9 / SPAWN_N);
  g_free (s);
  atomic_store (&stop, true);
  for (int i = 0; i < WORKERS; i++)
    {
      while (!asyncrt_join_handle_is_finished (jhs[i]))
        g_usleep (100);
      asyncrt_join_handle_free (jhs[i]);
    }
}

/* ---- yield_many: 200 tasks x 500 yields -------------------------------------------- */
#define YIELD_TASKS 200
#define YIELD_N 500

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtYield y;
  int i;
} Yielder;

static AsyncrtPoll
yielder_poll (void *p, AsyncrtContext *cx)
{
  Yielder *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < YIELD_N; self->i++)
    {
      asyncrt_yield_init (&self->y);
      ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
    }
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtCoroutine co;
  int i;
  Yielder ys[YIELD_TASKS];
  AsyncrtJoinHandle *jhs[YIELD_TASKS];
} YieldMany;

static AsyncrtPoll
yield_many_poll (void *p, AsyncrtContext *cx)
{
  YieldMany *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < YIELD_TASKS; self->i++)
    {
      asyncrt_coroutine_reset (&self->ys[self->i].co);
      self->jhs[self->i] = asyncrt_spawn (yielder_poll, &self->ys[self->i], NULL);
    }
  for (self->i = 0; self->i < YIELD_TASKS; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jhs[self->i], cx));
      asyncrt_join_handle_free (self->jhs[self->i]);
    }
  ASYNCRT_END (&self->co);
}

static void
yield_many_reset (void *p)
{
  asyncrt_coroutine_reset (&((YieldMany *) p)->co);
}

static void
bench_yield_many (AsyncrtRuntime *rt)
{
  YieldMany *y = g_new0 (YieldMany, 1);
  double best = best_of (rt, 5, yield_many_poll, y, yield_many_reset);
  printf ("yield_many_mt %.2f ms\n", best * 1e3);
  printf ("yield_many_mt_per_yield %.1f ns\n", best * 1e9 / (YIELD_TASKS * YIELD_N));
  g_free (y);
}

/* ---- ping_pong: two tasks hand a token back and forth, 10,000 hops ------------------- */
#define PING_N 10000

typedef struct
{
  pthread_mutex_t lock;
  int turn;           /* 0: ping's turn, 1: pong's */
  int count;
  AsyncrtWaker waiting[2];
} Table;

typedef struct
{
  Table *t;
  int side;
} Player;

static AsyncrtPoll
player_poll (void *p, AsyncrtContext *cx)
{
  Player *pl = p;
  Table *t = pl->t;
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  pthread_mutex_lock (&t->lock);
  for (;;)
    {
      if (t->count >= PING_N)
        break;
      if (t->turn != pl->side)
        {
          if (!asyncrt_waker_will_wake (&t->waiting[pl->side], asyncrt_context_get_waker (cx)))
            {
              asyncrt_waker_free (&t->waiting[pl->side]);
              t->waiting[pl->side] = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
            }
          pthread_mutex_unlock (&t->lock);
          return ASYNCRT_PENDING;
        }
      t->turn = !pl->side;
      t->count++;
      AsyncrtWaker other = t->waiting[!pl->side];
      t->waiting[!pl->side] = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
      pthread_mutex_unlock (&t->lock);
      asyncrt_waker_wake (&other);
      pthread_mutex_lock (&t->lock);
    }
  AsyncrtWaker other = t->waiting[!pl->side];
  t->waiting[!pl->side] = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  pthread_mutex_unlock (&t->lock);
  asyncrt_waker_wake (&other);
  return ASYNCRT_READY;
}

typedef struct
{
  AsyncrtCoroutine co;
  Table t;
  Player a, b;
  AsyncrtJoinHandle *ja, *jb;
} PingPong;

static AsyncrtPoll
ping_pong_poll (void *p, AsyncrtContext *cx)
{
  PingPong *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->a = (Player) { &self->t, 0 };
  self->b = (Player) { &self->t, 1 };
  self->ja = asyncrt_spawn (player_poll, &self->a, NULL);
  self->jb = asyncrt_spawn (player_poll, &self->b, NULL);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->ja, cx));
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jb, cx));
  asyncrt_join_handle_free (self->ja);
  asyncrt_join_handle_free (self->jb);
  ASYNCRT_END (&self->co);
}

static void
ping_pong_reset (void *p)
{
  PingPong *pp = p;
  asyncrt_waker_free (&pp->t.waiting[0]);
  asyncrt_waker_free (&pp->t.waiting[1]);
  asyncrt_coroutine_reset (&pp->co);
  pp->t.turn = 0;
  pp->t.count = 0;
}

static void
bench_ping_pong (AsyncrtRuntime *rt)
{
  PingPong *pp = g_new0 (PingPong, 1);
  pthread_mutex_init (&pp->t.lock, NULL);
  double best = best_of (rt, 10, ping_pong_poll, pp, ping_pong_reset);
  printf ("ping_pong_mt_per_hop %.1f ns\n", best * 1e9 / PING_N);
  ping_pong_reset (pp);
  pthread_mutex_destroy (&pp->t.lock);
  g_free (pp);
}

/* ---- chained_spawn: each task spawns the next, depth 1,000 -------------------------- */
#define CHAIN_DEPTH 1000

typedef struct
{
  int left;
  atomic_int *done;
  AsyncrtWaker *main;
} Chain;

static AsyncrtPoll
chain_poll (void *p, AsyncrtContext *cx)
{
  Chain *c = p;
  (void) cx;
  if (c->left == 0)
    {
      /* Clone first: once done is set, block_on may return and free *c->main. */
      AsyncrtWaker w = asyncrt_waker_clone (c->main);
      atomic_store_explicit (c->done, 1, memory_order_release);
      asyncrt_waker_wake (&w);
      return ASYNCRT_READY;
    }
  c->left--;
  asyncrt_join_handle_free (asyncrt_spawn (chain_poll, c, NULL));
  return ASYNCRT_READY;
}

typedef struct
{
  int started;
  atomic_int done;
  AsyncrtWaker main;
  Chain c;
} ChainMain;

static AsyncrtPoll
chain_main_poll (void *p, AsyncrtContext *cx)
{
  ChainMain *m = p;
  if (!m->started)
    {
      m->started = 1;
      m->main = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
      m->c = (Chain) { CHAIN_DEPTH, &m->done, &m->main };
      asyncrt_join_handle_free (asyncrt_spawn (chain_poll, &m->c, NULL));
    }
  return atomic_load_explicit (&m->done, memory_order_acquire) ? ASYNCRT_READY
                                                               : ASYNCRT_PENDING;
}

static void
chain_reset (void *p)
{
  ChainMain *m = p;
  asyncrt_waker_free (&m->main);
  m->started = 0;
  atomic_store (&m->done, 0);
}

static void
bench_chained_spawn (AsyncrtRuntime *rt)
{
  ChainMain *m = g_new0 (ChainMain, 1);
  double best = best_of (rt, 20, chain_main_poll, m, chain_reset);
  printf ("chained_spawn_mt %.1f us\n", best * 1e6);
  chain_reset (m);
  g_free (m);
}

int
main (void)
{
  AsyncrtRuntime *rt = new_rt ();
  asyncrt_runtime_block_on (rt, ready_poll, NULL);   /* workers started */
  bench_spawn_many_local (rt);
  bench_spawn_many_remote_idle (rt);
  bench_spawn_many_remote_busy (rt);
  bench_yield_many (rt);
  bench_ping_pong (rt);
  bench_chained_spawn (rt);
  asyncrt_runtime_free (rt);
  return 0;
}
