/* Runtime benchmarks after Tokio's rt_current_thread / rt_multi_threaded benches: every
 * workload runs on the current-thread scheduler (names without suffix) and on the
 * multi-thread scheduler with WORKERS workers (names with an `_mt` suffix after the
 * workload name), through one harness: the best of ROUNDS rounds (ping_pong_pairs:
 * the median and 90th percentile of ROUNDS rounds).  Two current-thread-only figures:
 * the memory of an idle task (first) and asyncrt_trace_leaf() through the public .so
 * (last).
 *
 * Prints `name value unit` lines; benchmarks never fail on a number. */
#include <asyncrt/asyncrt.h>

#include <glib.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORKERS 2     /* of the multi-thread runtime; the machine has 2 cores */
#define ROUNDS 20     /* rounds per workload and scheduler; the best one is printed */

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static AsyncrtPoll
ready_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  return ASYNCRT_READY;
}

/* ---- the harness --------------------------------------------------------------------- */

/* One scheduler under test. */
typedef struct
{
  const char *suffix;   /* "" for current-thread, "_mt" for multi-thread */
  int workers;          /* 0 for current-thread */
  AsyncrtRuntime *rt;
  AsyncrtHandle *h;
} Sched;

/* With @stall, the stall detector watches the runtime (threshold 1 s: it never
 * fires here); its cost on the poll path is what the "_stall" figures show. */
static void
sched_init (Sched *s, bool multi_thread, bool stall)
{
  AsyncrtBuilder *b;
  if (multi_thread)
    {
      b = asyncrt_builder_new_multi_thread ();
      if (asyncrt_builder_set_worker_threads (b, WORKERS) < 0)
        abort ();
    }
  else
    b = asyncrt_builder_new_current_thread ();
  if (stall && asyncrt_builder_set_stall_detector (b, 1000, NULL, NULL) < 0)
    abort ();
  s->suffix = multi_thread ? (stall ? "_mt_stall" : "_mt") : (stall ? "_stall" : "");
  s->workers = multi_thread ? WORKERS : 0;
  s->rt = NULL;
  if (asyncrt_builder_build (b, &s->rt) < 0)
    abort ();
  asyncrt_builder_free (b);
  s->h = asyncrt_runtime_get_handle (s->rt);
  if (asyncrt_runtime_block_on (s->rt, ready_poll, NULL) < 0)   /* workers started */
    abort ();
}

static void
sched_clear (Sched *s)
{
  asyncrt_runtime_free (s->rt);
  s->rt = NULL;
  s->h = NULL;
}

/* A workload: @reset (untimed) prepares @state for a round; block_on of @poll is
 * timed. */
typedef struct
{
  void (*reset) (void *state, const Sched *s);
  AsyncrtPollFunc poll;
} Workload;

/* Runs @w ROUNDS times on @s; returns the best round in seconds. */
static double
best_of (const Sched *s, const Workload *w, void *state)
{
  double best = 1e9;
  for (int round = 0; round < ROUNDS; round++)
    {
      w->reset (state, s);
      double t0 = now_s ();
      if (asyncrt_runtime_block_on (s->rt, w->poll, state) < 0)
        abort ();
      double dt = now_s () - t0;
      if (dt < best)
        best = dt;
    }
  return best;
}

/* Prints `<base><scheduler suffix><metric> <value> <unit>`, e.g.
 * spawn_many_local_mt_per_task, the names the two old programs printed. */
static void
emit (const Sched *s, const char *base, const char *metric, int decimals, double value,
      const char *unit)
{
  printf ("%s%s%s %.*f %s\n", base, s->suffix, metric, decimals, value, unit);
  fflush (stdout);
}

/* ---- spawning 10,000 empty tasks and joining them -------------------------------------- */
#define SPAWN_N 10000

typedef struct
{
  AsyncrtCoroutine co;
  int i;
  bool spawned;
  AsyncrtHandle *h;   /* remote spawns only */
  AsyncrtJoinHandle *jhs[SPAWN_N];
} SpawnMany;

/* Awaits and frees every handle in jhs. */
static AsyncrtPoll
join_all_poll (void *p, AsyncrtContext *cx)
{
  SpawnMany *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < SPAWN_N; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jhs[self->i], cx));
      asyncrt_join_handle_free (self->jhs[self->i]);
    }
  ASYNCRT_END (&self->co);
}

/* Spawns SPAWN_N tasks from inside the runtime, then joins them. */
static AsyncrtPoll
spawn_join_poll (void *p, AsyncrtContext *cx)
{
  SpawnMany *self = p;
  if (!self->spawned)
    {
      for (int i = 0; i < SPAWN_N; i++)
        self->jhs[i] = asyncrt_spawn (ready_poll, NULL, NULL);
      self->spawned = true;
    }
  return join_all_poll (self, cx);
}

/* spawn_many_local: the spawning runs in a task, so on the multi-thread runtime on a
 * worker and every spawn goes to its local queue (block_on's thread is no worker
 * there).  The current-thread runtime takes the same path: one extra spawn per round. */
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
  self->inner.spawned = false;
  self->jh = asyncrt_spawn (spawn_join_poll, &self->inner, NULL);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
  asyncrt_join_handle_free (self->jh);
  ASYNCRT_END (&self->co);
}

static void
on_worker_reset (void *p, const Sched *s)
{
  (void) s;
  asyncrt_coroutine_reset (&((OnWorker *) p)->co);
}

static void
bench_spawn_many_local (const Sched *s)
{
  static const Workload w = { on_worker_reset, on_worker_poll };
  OnWorker *state = g_new0 (OnWorker, 1);
  double best = best_of (s, &w, state);
  emit (s, "spawn_many_local", "", 1, best * 1e6, "us");
  emit (s, "spawn_many_local", "_per_task", 1, best * 1e9 / SPAWN_N, "ns");
  g_free (state);
}

/* spawn_many_remote_*: a thread outside the runtime spawns through the handle (every
 * spawn goes through the injection queue and may unpark a worker or the current-thread
 * runtime's driver) while block_on's future waits for that thread, so the runtime's
 * own thread is idle meanwhile; then the future joins the tasks.  The thread's
 * creation is inside the timed round.
 *
 * Spawning from block_on's thread outside block_on (as Tokio's rt_current_thread
 * bench does) would be uniform too, but measured the multi-thread figures about 2x
 * lower than the same spawns from another thread or from inside block_on (the old
 * bench-mt): this keeps the old figures comparable. */
static gpointer
remote_spawner (gpointer p)
{
  SpawnMany *self = p;
  for (int i = 0; i < SPAWN_N; i++)
    self->jhs[i] = asyncrt_handle_spawn (self->h, ready_poll, NULL, NULL);
  return NULL;
}

static AsyncrtPoll
remote_poll (void *p, AsyncrtContext *cx)
{
  SpawnMany *self = p;
  if (!self->spawned)
    {
      g_thread_join (g_thread_new ("spawner", remote_spawner, self));
      self->spawned = true;
    }
  return join_all_poll (self, cx);
}

static void
remote_reset (void *p, const Sched *s)
{
  SpawnMany *self = p;
  asyncrt_coroutine_reset (&self->co);
  self->spawned = false;
  self->h = s->h;
}

static void
bench_spawn_many_remote (const Sched *s, const char *base)
{
  static const Workload w = { remote_reset, remote_poll };
  SpawnMany *state = g_new0 (SpawnMany, 1);
  double best = best_of (s, &w, state);
  emit (s, base, "", 1, best * 1e6, "us");
  emit (s, base, "_per_task", 1, best * 1e9 / SPAWN_N, "ns");
  g_free (state);
}

/* busy: the same while one task per worker (one on the current-thread runtime) keeps
 * yielding.  On the current-thread runtime block_on's thread is blocked while the
 * spawner runs, so there the busy task does not compete with the spawning, only with
 * the joining (as in Tokio's rt_current_thread bench).  Its local queue is then never empty, so the scheduler
 * takes an injected task only every event_interval (31) ticks, each time after a
 * non-blocking driver poll: the current-thread figure measures that fairness policy
 * (about 30 busy polls and one epoll_wait per joined task) more than spawning. */
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

typedef struct
{
  AsyncrtCoroutine co;
  int i, n;
  AsyncrtJoinHandle *jhs[WORKERS];
} BusyJoin;

static AsyncrtPoll
busy_join_poll (void *p, AsyncrtContext *cx)
{
  BusyJoin *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < self->n; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jhs[self->i], cx));
      asyncrt_join_handle_free (self->jhs[self->i]);
    }
  ASYNCRT_END (&self->co);
}

static void
bench_spawn_many_remote_idle (const Sched *s)
{
  bench_spawn_many_remote (s, "spawn_many_remote_idle");
}

static void
bench_spawn_many_remote_busy (const Sched *s)
{
  atomic_bool stop = false;
  Busy busy[WORKERS] = { 0 };
  BusyJoin join = { .n = s->workers > 0 ? s->workers : 1 };
  for (int i = 0; i < join.n; i++)
    {
      busy[i].stop = &stop;
      join.jhs[i] = asyncrt_handle_spawn (s->h, busy_poll, &busy[i], NULL);
    }
  bench_spawn_many_remote (s, "spawn_many_remote_busy");
  atomic_store_explicit (&stop, true, memory_order_relaxed);
  if (asyncrt_runtime_block_on (s->rt, busy_join_poll, &join) < 0)
    abort ();
}

/* ---- yield_many: 200 tasks x 500 yields ------------------------------------------------ */
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
yield_many_reset (void *p, const Sched *s)
{
  (void) s;
  asyncrt_coroutine_reset (&((YieldMany *) p)->co);
}

static void
bench_yield_many (const Sched *s)
{
  static const Workload w = { yield_many_reset, yield_many_poll };
  YieldMany *state = g_new0 (YieldMany, 1);
  double best = best_of (s, &w, state);
  emit (s, "yield_many", "", 2, best * 1e3, "ms");
  emit (s, "yield_many", "_per_yield", 1, best * 1e9 / (YIELD_TASKS * YIELD_N), "ns");
  g_free (state);
}

/* ---- ping_pong: two tasks hand a token back and forth, 10,000 hops ------------------- */
#define PING_N 10000

/* The table is shared by the two players.  On the multi-thread runtime they may run on
 * two workers at once, so lock guards every field; on the current-thread runtime both
 * run on one thread and the lock is skipped (it would only add its own cost to the
 * figure the old current-thread bench printed).  A waker is taken out of its slot
 * under the lock and woken after unlocking. */
typedef struct
{
  bool shared;        /* the players may run concurrently: use lock */
  pthread_mutex_t lock;
  int turn;           /* 0: ping's turn, 1: pong's */
  int count;
  AsyncrtWaker waiting[2];
} Table;

static void
table_lock (Table *t)
{
  if (t->shared)
    pthread_mutex_lock (&t->lock);
}

static void
table_unlock (Table *t)
{
  if (t->shared)
    pthread_mutex_unlock (&t->lock);
}

/* Wakes and empties slot @side; called with the table locked, returns it locked. */
static void
table_wake (Table *t, int side)
{
  AsyncrtWaker w = t->waiting[side];
  t->waiting[side] = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  table_unlock (t);
  asyncrt_waker_wake (&w);
  table_lock (t);
}

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
  table_lock (t);
  while (t->count < PING_N)
    {
      if (t->turn != pl->side)
        {
          /* The other side empties the slot when it wakes us: nearly always empty. */
          asyncrt_waker_free (&t->waiting[pl->side]);
          t->waiting[pl->side] = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
          table_unlock (t);
          return ASYNCRT_PENDING;
        }
      t->turn = !pl->side;
      t->count++;
      table_wake (t, !pl->side);
    }
  table_wake (t, !pl->side);
  table_unlock (t);
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
ping_pong_clear (PingPong *pp)
{
  asyncrt_waker_free (&pp->t.waiting[0]);
  asyncrt_waker_free (&pp->t.waiting[1]);
}

static void
ping_pong_reset (void *p, const Sched *s)
{
  PingPong *pp = p;
  ping_pong_clear (pp);
  asyncrt_coroutine_reset (&pp->co);
  pp->t.shared = s->workers > 0;
  pp->t.turn = 0;
  pp->t.count = 0;
}

static void
bench_ping_pong (const Sched *s)
{
  static const Workload w = { ping_pong_reset, ping_pong_poll };
  PingPong *pp = g_new0 (PingPong, 1);
  pthread_mutex_init (&pp->t.lock, NULL);
  double best = best_of (s, &w, pp);
  emit (s, "ping_pong", "_per_hop", 1, best * 1e9 / PING_N, "ns");
  ping_pong_clear (pp);
  pthread_mutex_destroy (&pp->t.lock);
  g_free (pp);
}

/* ---- ping_pong_pairs: Tokio's ping_pong shape --------------------------------------
 * A task spawns PAIRS tasks; each spawns a partner, sends it one message on a oneshot
 * channel and waits for the answer on another; the partner waits for the first and
 * sends the second.  The last pair to finish wakes block_on's future.  Per pair: two
 * spawns, two oneshot channels, two messages.  Unlike the other workloads the figure
 * of every round is kept: the median and the 90th percentile of ROUNDS rounds are
 * printed (a scheduler that sometimes parks its workers at the wrong moment shows
 * there, not in the best round). */
#define PAIRS 1000

typedef struct _PairMain PairMain;

typedef struct
{
  bool started;
  PairMain *m;
  AsyncrtOneshotReceiver *rx;   /* partner: the ping; pinger: the pong */
  AsyncrtOneshotSender *tx;     /* partner: the pong */
  AsyncrtOneshotRecv recv;
} Player2;

typedef struct
{
  Player2 pinger, partner;
} Pair;

struct _PairMain
{
  bool started;
  atomic_int left;              /* players (two per pair) still to finish */
  atomic_int done;              /* set by the last player, after its last use of main */
  AsyncrtWaker main;
  Pair pairs[PAIRS];
};

/* A player's last step: it touches nothing of its pair afterwards (the next round
 * reuses the memory once every player is done). */
static AsyncrtPoll
player_done (PairMain *m)
{
  if (atomic_fetch_sub_explicit (&m->left, 1, memory_order_acq_rel) == 1)
    {
      /* Clone first: once done is set, block_on may return and free m->main. */
      AsyncrtWaker w = asyncrt_waker_clone (&m->main);
      atomic_store_explicit (&m->done, 1, memory_order_release);
      asyncrt_waker_wake (&w);
    }
  return ASYNCRT_READY;
}

/* Waits for the value of pl->rx; true once received (the receiver freed). */
static bool
player_recv (Player2 *pl, AsyncrtContext *cx)
{
  if (!pl->started)
    {
      pl->started = true;
      asyncrt_oneshot_recv_init (&pl->recv, pl->rx);
    }
  if (asyncrt_oneshot_recv_poll (&pl->recv, cx) == ASYNCRT_PENDING)
    return false;
  asyncrt_oneshot_recv_clear (&pl->recv);
  asyncrt_oneshot_receiver_free (pl->rx);
  return true;
}

static AsyncrtPoll
partner_poll (void *p, AsyncrtContext *cx)
{
  Player2 *pl = p;
  if (!player_recv (pl, cx))
    return ASYNCRT_PENDING;
  PairMain *m = pl->m;
  if (asyncrt_oneshot_send (pl->tx, NULL) < 0)
    abort ();
  return player_done (m);
}

static AsyncrtPoll
pinger_poll (void *p, AsyncrtContext *cx)
{
  Pair *pair = p;
  Player2 *pl = &pair->pinger;
  if (!pl->started)
    {
      AsyncrtOneshotSender *ping_tx;
      if (asyncrt_oneshot_new (NULL, &ping_tx, &pair->partner.rx) < 0
          || asyncrt_oneshot_new (NULL, &pair->partner.tx, &pl->rx) < 0)
        abort ();
      pair->partner.started = false;
      pair->partner.m = pl->m;
      asyncrt_join_handle_free (asyncrt_spawn (partner_poll, &pair->partner, NULL));
      if (asyncrt_oneshot_send (ping_tx, NULL) < 0)
        abort ();
    }
  if (!player_recv (pl, cx))
    return ASYNCRT_PENDING;
  return player_done (pl->m);
}

static AsyncrtPoll
pair_spawner_poll (void *p, AsyncrtContext *cx)
{
  PairMain *m = p;
  (void) cx;
  for (int i = 0; i < PAIRS; i++)
    {
      Pair *pair = &m->pairs[i];
      pair->pinger.started = false;
      pair->pinger.m = m;
      asyncrt_join_handle_free (asyncrt_spawn (pinger_poll, pair, NULL));
    }
  return ASYNCRT_READY;
}

static AsyncrtPoll
pair_main_poll (void *p, AsyncrtContext *cx)
{
  PairMain *m = p;
  if (!m->started)
    {
      m->started = true;
      m->main = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
      asyncrt_join_handle_free (asyncrt_spawn (pair_spawner_poll, m, NULL));
    }
  return atomic_load_explicit (&m->done, memory_order_acquire) ? ASYNCRT_READY
                                                               : ASYNCRT_PENDING;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
bench_ping_pong_pairs (const Sched *s)
{
  PairMain *m = g_new0 (PairMain, 1);
  double per_pair[ROUNDS];
  for (int round = -1; round < ROUNDS; round++)   /* round -1: warm-up */
    {
      asyncrt_waker_free (&m->main);
      m->started = false;
      atomic_store (&m->left, 2 * PAIRS);
      atomic_store (&m->done, 0);
      double t0 = now_s ();
      if (asyncrt_runtime_block_on (s->rt, pair_main_poll, m) < 0)
        abort ();
      double dt = now_s () - t0;
      if (round >= 0)
        per_pair[round] = dt * 1e9 / PAIRS;
    }
  asyncrt_waker_free (&m->main);
  qsort (per_pair, ROUNDS, sizeof per_pair[0], cmp_double);
  /* Nearest-rank percentiles of the ROUNDS rounds. */
  emit (s, "ping_pong_pairs", "_per_pair_median", 1, per_pair[(ROUNDS - 1) / 2], "ns");
  emit (s, "ping_pong_pairs", "_per_pair_p90", 1, per_pair[(ROUNDS * 9 + 9) / 10 - 1], "ns");
  emit (s, "ping_pong_pairs", "_per_pair_best", 1, per_pair[0], "ns");
  g_free (m);
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
  bool started;
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
      m->started = true;
      m->main = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
      m->c = (Chain) { CHAIN_DEPTH, &m->done, &m->main };
      asyncrt_join_handle_free (asyncrt_spawn (chain_poll, &m->c, NULL));
    }
  return atomic_load_explicit (&m->done, memory_order_acquire) ? ASYNCRT_READY
                                                               : ASYNCRT_PENDING;
}

static void
chain_clear (ChainMain *m)
{
  asyncrt_waker_free (&m->main);
}

static void
chain_reset (void *p, const Sched *s)
{
  ChainMain *m = p;
  (void) s;
  chain_clear (m);
  m->started = false;
  atomic_store (&m->done, 0);
}

static void
bench_chained_spawn (const Sched *s)
{
  static const Workload w = { chain_reset, chain_main_poll };
  ChainMain *m = g_new0 (ChainMain, 1);
  double best = best_of (s, &w, m);
  emit (s, "chained_spawn", "", 1, best * 1e6, "us");
  emit (s, "chained_spawn", "_per_spawn", 1, best * 1e9 / CHAIN_DEPTH, "ns");
  chain_clear (m);
  g_free (m);
}

/* ---- current-thread only: asyncrt_trace_leaf() when no dump runs ---------------------- */

/* Through the public .so (a PLT call); bench-trace prints the internal, inlined cost
 * as trace_leaf_not_tracing. */
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
  printf ("trace_leaf_not_tracing_public %.2f ns\n", dt * 1e9 / (double) n);
}

/* ---- current-thread only: bytes per idle task ------------------------------------------ */
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
  Sched s;
  sched_init (&s, false, false);
  struct mallinfo2 before = mallinfo2 ();
  asyncrt_runtime_block_on (s.rt, spawn_idle_poll, NULL);
  AsyncrtYield y;
  asyncrt_yield_init (&y);
  asyncrt_runtime_block_on (s.rt, drain_poll, &y);
  struct mallinfo2 after = mallinfo2 ();
  printf ("bytes_per_idle_task %.1f bytes\n",
          (double) (after.uordblks - before.uordblks) / IDLE_N);
  sched_clear (&s);
}

/* With arguments, only the workloads named (e.g. `ping_pong_pairs_mt`, or
 * `chained_spawn` for the current-thread one; `trace_leaf`, `bytes_per_idle_task`):
 * to time or profile one of them alone. */
static bool
wanted (int argc, char **argv, const char *name, const char *suffix)
{
  if (argc < 2)
    return true;
  char *full = g_strconcat (name, suffix, NULL);
  bool found = false;
  for (int i = 1; i < argc && !found; i++)
    found = strcmp (argv[i], full) == 0;
  g_free (full);
  return found;
}

int
main (int argc, char **argv)
{
  static const struct
  {
    const char *name;
    void (*run) (const Sched *s);
  } benches[] = {
    { "spawn_many_local", bench_spawn_many_local },
    { "spawn_many_remote_idle", bench_spawn_many_remote_idle },
    { "yield_many", bench_yield_many },
    { "ping_pong", bench_ping_pong },
    { "ping_pong_pairs", bench_ping_pong_pairs },
    { "chained_spawn", bench_chained_spawn },
    { "spawn_many_remote_busy", bench_spawn_many_remote_busy },
  };
  /* First, while the library keeps no freed task blocks for reuse (it keeps some
   * after the workloads): the memory of 100,000 new tasks. */
  if (wanted (argc, argv, "bytes_per_idle_task", ""))
    bench_bytes_per_idle_task ();
  /* A fresh runtime per workload, so none runs on what another left behind (grown
   * queues, the busy tasks of spawn_many_remote_busy). */
  for (int mt = 0; mt <= 1; mt++)
    for (size_t i = 0; i < G_N_ELEMENTS (benches); i++)
      {
        if (!wanted (argc, argv, benches[i].name, mt ? "_mt" : ""))
          continue;
        Sched s;
        sched_init (&s, mt, false);
        benches[i].run (&s);
        sched_clear (&s);
      }
  /* The poll-heaviest workloads again with the stall detector on. */
  for (int mt = 0; mt <= 1; mt++)
    for (size_t i = 0; i < G_N_ELEMENTS (benches); i++)
      {
        if (benches[i].run != bench_yield_many && benches[i].run != bench_ping_pong_pairs)
          continue;
        if (!wanted (argc, argv, benches[i].name, mt ? "_mt_stall" : "_stall"))
          continue;
        Sched s;
        sched_init (&s, mt, true);
        benches[i].run (&s);
        sched_clear (&s);
      }
  if (wanted (argc, argv, "trace_leaf", ""))
    bench_trace_leaf ();
  return 0;
}
