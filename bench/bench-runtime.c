/* Benchmarks of the current-thread runtime, after Tokio's runtime benchmarks.
 * Prints `name value unit` lines.  Benchmarks never fail on a number. */
#include <asyncrt/asyncrt.h>

#include <glib.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  if (asyncrt_builder_build (b, &rt) < 0)
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

/* ---- spawn_many_local: spawn 10,000 tasks, await them all ------------------------- */
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
bench_spawn_many_local (AsyncrtRuntime *rt)
{
  SpawnMany *s = g_new0 (SpawnMany, 1);
  double best = 1e9;
  for (int round = 0; round < 20; round++)
    {
      asyncrt_coroutine_reset (&s->co);
      double t0 = now_s ();
      asyncrt_runtime_block_on (rt, spawn_many_poll, s);
      double dt = now_s () - t0;
      if (dt < best)
        best = dt;
    }
  printf ("spawn_many_local %.1f us\n", best * 1e6);
  printf ("spawn_many_local_per_task %.1f ns\n", best * 1e9 / SPAWN_N);
  g_free (s);
}

/* ---- spawn_many_remote_idle: 10,000 spawns from another thread, runtime idle ------ */
typedef struct
{
  AsyncrtHandle *h;
  AsyncrtJoinHandle *jhs[SPAWN_N];
  double t0;
} Remote;

static gpointer
remote_spawner (gpointer data)
{
  Remote *r = data;
  r->t0 = now_s ();
  for (int i = 0; i < SPAWN_N; i++)
    r->jhs[i] = asyncrt_handle_spawn (r->h, ready_poll, NULL, NULL);
  return NULL;
}

typedef struct
{
  AsyncrtCoroutine co;
  int i;
  Remote *r;
  GThread *th;
} RemoteMain;

static AsyncrtPoll
remote_main_poll (void *p, AsyncrtContext *cx)
{
  RemoteMain *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->th = g_thread_new ("spawner", remote_spawner, self->r);
  g_thread_join (self->th);   /* the runtime is idle meanwhile; tasks queue up */
  for (self->i = 0; self->i < SPAWN_N; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->r->jhs[self->i], cx));
      asyncrt_join_handle_free (self->r->jhs[self->i]);
    }
  ASYNCRT_END (&self->co);
}

static void
bench_spawn_many_remote_idle (AsyncrtRuntime *rt)
{
  Remote *r = g_new0 (Remote, 1);
  r->h = asyncrt_runtime_get_handle (rt);
  double best = 1e9;
  for (int round = 0; round < 20; round++)
    {
      RemoteMain m = { .r = r };
      asyncrt_runtime_block_on (rt, remote_main_poll, &m);
      double dt = now_s () - r->t0;
      if (dt < best)
        best = dt;
    }
  printf ("spawn_many_remote_idle %.1f us\n", best * 1e6);
  g_free (r);
}

/* ---- yield_many: 200 tasks x 500 yields --------------------------------------------- */
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
bench_yield_many (AsyncrtRuntime *rt)
{
  YieldMany *y = g_new0 (YieldMany, 1);
  double best = 1e9;
  for (int round = 0; round < 5; round++)
    {
      asyncrt_coroutine_reset (&y->co);
      double t0 = now_s ();
      asyncrt_runtime_block_on (rt, yield_many_poll, y);
      double dt = now_s () - t0;
      if (dt < best)
        best = dt;
    }
  printf ("yield_many %.2f ms\n", best * 1e3);
  printf ("yield_many_per_yield %.1f ns\n", best * 1e9 / (YIELD_TASKS * YIELD_N));
  g_free (y);
}

/* ---- ping_pong: two tasks hand a token back and forth through waker slots ----------- */
#define PING_N 10000

typedef struct
{
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
  while (t->count < PING_N)
    {
      if (t->turn != pl->side)
        {
          asyncrt_waker_free (&t->waiting[pl->side]);
          t->waiting[pl->side] = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
          return ASYNCRT_PENDING;
        }
      t->turn = !pl->side;
      t->count++;
      asyncrt_waker_wake (&t->waiting[!pl->side]);
    }
  asyncrt_waker_wake (&t->waiting[!pl->side]);
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
bench_ping_pong (AsyncrtRuntime *rt)
{
  double best = 1e9;
  for (int round = 0; round < 10; round++)
    {
      PingPong *pp = g_new0 (PingPong, 1);
      double t0 = now_s ();
      asyncrt_runtime_block_on (rt, ping_pong_poll, pp);
      double dt = now_s () - t0;
      if (dt < best)
        best = dt;
      asyncrt_waker_free (&pp->t.waiting[0]);
      asyncrt_waker_free (&pp->t.waiting[1]);
      g_free (pp);
    }
  printf ("ping_pong_per_hop %.1f ns\n", best * 1e9 / PING_N);
}

/* ---- chained_spawn: each task spawns the next, depth 1,000 -------------------------- */
#define CHAIN_DEPTH 1000

typedef struct
{
  int left;
  int *done;
  AsyncrtWaker *main;
} Chain;

static AsyncrtPoll
chain_poll (void *p, AsyncrtContext *cx)
{
  Chain *c = p;
  (void) cx;
  if (c->left == 0)
    {
      *c->done = 1;
      asyncrt_waker_wake (c->main);
      return ASYNCRT_READY;
    }
  c->left--;
  asyncrt_join_handle_free (asyncrt_spawn (chain_poll, c, NULL));
  return ASYNCRT_READY;
}

typedef struct
{
  int started;
  int done;
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
  return m->done ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static void
bench_chained_spawn (AsyncrtRuntime *rt)
{
  double best = 1e9;
  for (int round = 0; round < 20; round++)
    {
      ChainMain m = { 0 };
      double t0 = now_s ();
      asyncrt_runtime_block_on (rt, chain_main_poll, &m);
      double dt = now_s () - t0;
      asyncrt_waker_free (&m.main);
      if (dt < best)
        best = dt;
    }
  printf ("chained_spawn %.1f us\n", best * 1e6);
}

/* ---- asyncrt_trace_leaf when no dump runs ------------------------------------------- */
static void
bench_trace_leaf (void)
{
  AsyncrtContext *cx = asyncrt_context_new (asyncrt_waker_noop ());
  const long n = 100000000;
  volatile long sink = 0;
  double t0 = now_s ();
  for (long i = 0; i < n; i++)
    sink += asyncrt_trace_leaf (cx);
  double dt = now_s () - t0;
  (void) sink;
  asyncrt_context_free (cx);
  printf ("trace_leaf_not_tracing %.2f ns\n", dt * 1e9 / (double) n);
}

/* ---- bytes per idle task ------------------------------------------------------------- */
static AsyncrtPoll
idle_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  return ASYNCRT_PENDING;   /* never woken: idle forever */
}

#define IDLE_N 100000

static AsyncrtPoll
spawn_idle_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  for (int i = 0; i < IDLE_N; i++)
    asyncrt_join_handle_free (asyncrt_spawn (idle_poll, p, NULL));
  return ASYNCRT_READY;
}

static AsyncrtPoll
drain_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtYield *y = p;
  return asyncrt_yield_poll (y, cx);   /* lets every spawned task run once */
}

static void
bench_bytes_per_idle_task (void)
{
  AsyncrtRuntime *rt = new_rt ();
  asyncrt_runtime_block_on (rt, ready_poll, NULL);
  struct mallinfo2 before = mallinfo2 ();
  asyncrt_runtime_block_on (rt, spawn_idle_poll, NULL);
  AsyncrtYield y;
  asyncrt_yield_init (&y);
  asyncrt_runtime_block_on (rt, drain_poll, &y);
  struct mallinfo2 after = mallinfo2 ();
  printf ("bytes_per_idle_task %.1f bytes\n",
          (double) (after.uordblks - before.uordblks) / IDLE_N);
  asyncrt_runtime_free (rt);
}

int
main (void)
{
  AsyncrtRuntime *rt = new_rt ();
  bench_spawn_many_local (rt);
  bench_spawn_many_remote_idle (rt);
  bench_yield_many (rt);
  bench_ping_pong (rt);
  bench_chained_spawn (rt);
  asyncrt_runtime_free (rt);
  bench_trace_leaf ();
  bench_bytes_per_idle_task ();
  return 0;
}
