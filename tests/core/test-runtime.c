/* Tests of the runtime core through the public API: spawn, join, abort, detach,
 * wakes from foreign threads, shutdown, the current-thread scheduler and its
 * documented errors. */
#include <asyncrt/asyncrt.h>
#include "test-util.h"

#include <errno.h>
#include <pthread.h>
#include <glib.h>
#include <stdatomic.h>

static AsyncrtRuntime *
new_rt (void)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  g_assert_nonnull (rt);
  return rt;
}

/* ---- a waker slot shared with other threads ---------------------------------------- */
/* pthread rather than GMutex: GLib's futex-based mutex is invisible to TSan. */
typedef struct
{
  pthread_mutex_t lock;
  AsyncrtWaker w;
} Slot;

static void
slot_set (Slot *s, AsyncrtContext *cx)
{
  pthread_mutex_lock (&s->lock);
  if (!asyncrt_waker_will_wake (&s->w, asyncrt_context_get_waker (cx)))
    {
      asyncrt_waker_free (&s->w);
      s->w = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
    }
  pthread_mutex_unlock (&s->lock);
}

static void
slot_wake (Slot *s)
{
  pthread_mutex_lock (&s->lock);
  AsyncrtWaker w = s->w;
  s->w.vtable = NULL;
  s->w.data = NULL;
  pthread_mutex_unlock (&s->lock);
  asyncrt_waker_wake (&w);
}

static void
slot_clear (Slot *s)
{
  asyncrt_waker_free (&s->w);
}

/* ---- a task that computes something ------------------------------------------------ */
static atomic_int n_freed;

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtYield y;
  int in;
  int out;
  AsyncrtTaskId seen_id;
  AsyncrtHandle *seen_handle;
} Square;

static AsyncrtPoll
square_poll (void *p, AsyncrtContext *cx)
{
  Square *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->seen_id = asyncrt_task_id_current ();
  self->seen_handle = asyncrt_handle_current ();
  asyncrt_yield_init (&self->y);
  ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
  self->out = self->in * self->in;
  ASYNCRT_END (&self->co);
}

static void
counted_free (void *p)
{
  atomic_fetch_add (&n_freed, 1);
  g_free (p);
}

/* block_on future: spawns N squares, joins them, checks the results. */
typedef struct
{
  AsyncrtCoroutine co;
  int n;
  int i;
  AsyncrtJoinHandle **jhs;
  Square **sq;
  long sum;
  AsyncrtRuntime *rt;
} SpawnJoin;

static AsyncrtPoll
spawn_join_poll (void *p, AsyncrtContext *cx)
{
  SpawnJoin *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_cmpuint (asyncrt_task_id_current (), ==, 0);   /* block_on is not a task */
  g_assert_true (asyncrt_handle_current () == asyncrt_runtime_get_handle (self->rt));
  for (self->i = 0; self->i < self->n; self->i++)
    {
      self->sq[self->i] = g_new0 (Square, 1);
      self->sq[self->i]->in = self->i;
      self->jhs[self->i] = asyncrt_spawn_named ("square", square_poll, self->sq[self->i],
                                                counted_free);
      g_assert_nonnull (self->jhs[self->i]);
    }
  for (self->i = 0; self->i < self->n; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jhs[self->i], cx));
      g_assert_true (asyncrt_join_handle_is_finished (self->jhs[self->i]));
      g_assert_false (asyncrt_join_handle_is_cancelled (self->jhs[self->i]));
      Square *sq = asyncrt_join_handle_get_future (self->jhs[self->i]);
      g_assert_true (sq == self->sq[self->i]);
      g_assert_cmpint (sq->out, ==, self->i * self->i);
      g_assert_cmpuint (sq->seen_id, ==, asyncrt_join_handle_get_id (self->jhs[self->i]));
      g_assert_true (sq->seen_handle == asyncrt_runtime_get_handle (self->rt));
      self->sum += sq->out;
      asyncrt_join_handle_free (self->jhs[self->i]);
    }
  ASYNCRT_END (&self->co);
}

static void
test_spawn_join (void)
{
  AsyncrtRuntime *rt = new_rt ();
  atomic_store (&n_freed, 0);
  SpawnJoin sj = { .n = 50, .rt = rt };
  sj.jhs = g_new0 (AsyncrtJoinHandle *, sj.n);
  sj.sq = g_new0 (Square *, sj.n);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, spawn_join_poll, &sj), ==, 0);
  long expect = 0;
  for (int i = 0; i < sj.n; i++)
    expect += (long) i * i;
  g_assert_cmpint (sj.sum, ==, expect);
  g_assert_cmpint (atomic_load (&n_freed), ==, sj.n);
  /* ids are distinct and never 0 */
  asyncrt_runtime_free (rt);
  g_assert_cmpint (atomic_load (&n_freed), ==, sj.n);
  g_free (sj.jhs);
  g_free (sj.sq);
}

/* ---- abort and detach ---------------------------------------------------------------- */
typedef struct
{
  int polls;
  atomic_int *freed;
} Forever;

static AsyncrtPoll
forever_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  ((Forever *) p)->polls++;
  return ASYNCRT_PENDING;   /* never woken */
}

static void
forever_free (void *p)
{
  atomic_fetch_add (((Forever *) p)->freed, 1);
}

typedef struct
{
  AsyncrtCoroutine co;
  Forever f;
  AsyncrtJoinHandle *jh;
  AsyncrtYield y;
  atomic_int freed;
} AbortTest;

static AsyncrtPoll
abort_poll (void *p, AsyncrtContext *cx)
{
  AbortTest *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->f.freed = &self->freed;
  self->jh = asyncrt_spawn (forever_poll, &self->f, forever_free);
  g_assert_nonnull (self->jh);
  /* let it run once */
  asyncrt_yield_init (&self->y);
  ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
  g_assert_cmpint (self->f.polls, ==, 1);
  g_assert_false (asyncrt_join_handle_is_finished (self->jh));
  g_assert_cmpint (asyncrt_join_handle_poll (self->jh, cx), ==, ASYNCRT_PENDING);
  asyncrt_join_handle_abort (self->jh);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
  g_assert_true (asyncrt_join_handle_is_cancelled (self->jh));
  g_assert_null (asyncrt_join_handle_get_future (self->jh));
  g_assert_cmpint (atomic_load (&self->freed), ==, 1);
  g_assert_cmpint (self->f.polls, ==, 1);
  asyncrt_join_handle_abort (self->jh);
  asyncrt_join_handle_free (self->jh);
  g_assert_cmpint (atomic_load (&self->freed), ==, 1);
  ASYNCRT_END (&self->co);
}

static void
test_abort (void)
{
  AsyncrtRuntime *rt = new_rt ();
  AbortTest t = { 0 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, abort_poll, &t), ==, 0);
  asyncrt_runtime_free (rt);
  g_assert_cmpint (atomic_load (&t.freed), ==, 1);
}

typedef struct
{
  AsyncrtCoroutine co;
  int i;
  AsyncrtYield y;
} Detached;

static AsyncrtPoll
detached_poll (void *p, AsyncrtContext *cx)
{
  Detached *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < 3; self->i++)
    {
      asyncrt_yield_init (&self->y);
      ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
    }
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSleep s;
} WaitFreed;

static AsyncrtPoll
wait_freed_poll (void *p, AsyncrtContext *cx)
{
  WaitFreed *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (int i = 0; i < 10; i++)
    {
      AsyncrtJoinHandle *jh = asyncrt_spawn (detached_poll, g_new0 (Detached, 1), counted_free);
      g_assert_nonnull (jh);
      asyncrt_join_handle_free (jh);
    }
  while (atomic_load (&n_freed) < 10)
    {
      asyncrt_sleep_init (&self->s, 1);
      ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->s, cx));
      asyncrt_sleep_clear (&self->s);
    }
  ASYNCRT_END (&self->co);
}

static void
test_detach (void)
{
  AsyncrtRuntime *rt = new_rt ();
  atomic_store (&n_freed, 0);
  WaitFreed w = { 0 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, wait_freed_poll, &w), ==, 0);
  g_assert_cmpint (atomic_load (&n_freed), ==, 10);
  asyncrt_runtime_free (rt);
  g_assert_cmpint (atomic_load (&n_freed), ==, 10);
}

/* ---- wakes from foreign threads ----------------------------------------------------- */
typedef struct
{
  Slot slot;
  atomic_int polls;
  atomic_int wakes_wanted;
  atomic_bool ready;
} Remote;

static AsyncrtPoll
remote_leaf_poll (void *p, AsyncrtContext *cx)
{
  Remote *r = p;
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  if (atomic_load (&r->ready))
    {
      atomic_fetch_add (&r->polls, 1);
      return ASYNCRT_READY;
    }
  /* Store the waker before counting the poll: the waker thread takes the count as
   * "parked again" and wakes at once; counting first let it find the slot empty. */
  slot_set (&r->slot, cx);
  atomic_fetch_add (&r->polls, 1);
  return ASYNCRT_PENDING;
}

static gpointer
remote_waker_thread (gpointer data)
{
  Remote *r = data;
  gint64 end = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  int n = atomic_load (&r->wakes_wanted);
  for (int i = 0; i < n && g_get_monotonic_time () < end; i++)
    {
      /* wait for the task to be parked on its waker again */
      int seen = atomic_load (&r->polls);
      slot_wake (&r->slot);
      while (atomic_load (&r->polls) == seen && g_get_monotonic_time () < end)
        g_usleep (50);
    }
  atomic_store (&r->ready, true);
  slot_wake (&r->slot);
  return NULL;
}

typedef struct
{
  AsyncrtCoroutine co;
  Remote *r;
  AsyncrtJoinHandle *jh;
} RemoteMain;

static AsyncrtPoll
remote_main_poll (void *p, AsyncrtContext *cx)
{
  RemoteMain *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->jh = asyncrt_spawn (remote_leaf_poll, self->r, NULL);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
  asyncrt_join_handle_free (self->jh);
  ASYNCRT_END (&self->co);
}

static void
test_foreign_wakes (void)
{
  AsyncrtRuntime *rt = new_rt ();
  Remote r = { 0 };
  pthread_mutex_init (&r.slot.lock, NULL);
  atomic_store (&r.wakes_wanted, 200);
  GThread *th = g_thread_new ("waker", remote_waker_thread, &r);
  RemoteMain m = { .r = &r };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, remote_main_poll, &m), ==, 0);
  g_thread_join (th);
  g_assert_cmpint (atomic_load (&r.polls), >=, 200);
  g_assert_true (atomic_load (&r.ready));
  slot_clear (&r.slot);
  pthread_mutex_destroy (&r.slot.lock);
  asyncrt_runtime_free (rt);
}

/* block_on future woken from a foreign thread, and spawns through the handle. */
typedef struct
{
  AsyncrtHandle *h;
  int n;
  atomic_int done;
  Slot main;
} RemoteSpawn;

static AsyncrtPoll
count_poll (void *p, AsyncrtContext *cx)
{
  RemoteSpawn *rs = p;
  (void) cx;
  g_assert_true (asyncrt_handle_current () == rs->h);
  if (atomic_fetch_add (&rs->done, 1) + 1 == rs->n)
    slot_wake (&rs->main);
  return ASYNCRT_READY;
}

static gpointer
remote_spawner (gpointer data)
{
  RemoteSpawn *rs = data;
  g_assert_null (asyncrt_handle_current ());
  for (int i = 0; i < rs->n; i++)
    {
      AsyncrtJoinHandle *jh = asyncrt_handle_spawn (rs->h, count_poll, rs, NULL);
      g_assert_nonnull (jh);
      asyncrt_join_handle_free (jh);
    }
  return NULL;
}

static AsyncrtPoll
wait_done_poll (void *p, AsyncrtContext *cx)
{
  RemoteSpawn *rs = p;
  slot_set (&rs->main, cx);
  return atomic_load (&rs->done) == rs->n ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static void
test_remote_spawn (void)
{
  AsyncrtRuntime *rt = new_rt ();
  RemoteSpawn rs = { .h = asyncrt_runtime_get_handle (rt), .n = 1000 };
  pthread_mutex_init (&rs.main.lock, NULL);
  GThread *th = g_thread_new ("spawner", remote_spawner, &rs);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, wait_done_poll, &rs), ==, 0);
  g_thread_join (th);
  g_assert_cmpint (atomic_load (&rs.done), ==, rs.n);
  slot_clear (&rs.main);
  pthread_mutex_destroy (&rs.main.lock);
  asyncrt_runtime_free (rt);
}

/* ---- 100,000 tasks ------------------------------------------------------------------ */
typedef struct
{
  AsyncrtCoroutine co;
  int n;
  int i;
  AsyncrtJoinHandle *last;
  atomic_int *count;
} Many;

static AsyncrtPoll
tiny_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  atomic_fetch_add ((atomic_int *) p, 1);
  return ASYNCRT_READY;
}

static AsyncrtPoll
many_poll (void *p, AsyncrtContext *cx)
{
  Many *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < self->n; self->i++)
    {
      AsyncrtJoinHandle *jh = asyncrt_spawn (tiny_poll, self->count, NULL);
      g_assert_nonnull (jh);
      if (self->i == self->n - 1)
        self->last = jh;
      else
        asyncrt_join_handle_free (jh);
    }
  /* FIFO: when the last has run, all have */
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->last, cx));
  asyncrt_join_handle_free (self->last);
  ASYNCRT_END (&self->co);
}

static void
test_many_tasks (void)
{
  AsyncrtRuntime *rt = new_rt ();
  atomic_int count = 0;
  Many m = { .n = 100000, .count = &count };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, many_poll, &m), ==, 0);
  g_assert_cmpint (atomic_load (&count), ==, 100000);
  asyncrt_runtime_free (rt);
}

/* ---- shutdown with live tasks --------------------------------------------------------- */
typedef struct
{
  AsyncrtSleep s;
  atomic_int *freed;
  int polls;
} Sleeper;

static AsyncrtPoll
sleeper_poll (void *p, AsyncrtContext *cx)
{
  Sleeper *s = p;
  s->polls++;
  return asyncrt_sleep_poll (&s->s, cx);
}

static void
sleeper_free (void *p)
{
  Sleeper *s = p;
  asyncrt_sleep_clear (&s->s);
  atomic_fetch_add (s->freed, 1);
  g_free (s);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtYield y;
  atomic_int *freed;
  AsyncrtJoinHandle *kept;
} ShutdownMain;

static void forever_free_and_g_free (void *p);

static AsyncrtPoll
shutdown_main_poll (void *p, AsyncrtContext *cx)
{
  ShutdownMain *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (int i = 0; i < 20; i++)
    {
      Sleeper *s = g_new0 (Sleeper, 1);
      s->freed = self->freed;
      asyncrt_sleep_init (&s->s, 3600 * 1000);
      AsyncrtJoinHandle *jh = asyncrt_spawn (sleeper_poll, s, sleeper_free);
      if (i == 0)
        self->kept = jh;
      else
        asyncrt_join_handle_free (jh);
    }
  for (int i = 0; i < 20; i++)
    {
      Forever *f = g_new0 (Forever, 1);
      f->freed = self->freed;
      asyncrt_join_handle_free (asyncrt_spawn (forever_poll, f, forever_free_and_g_free));
    }
  asyncrt_yield_init (&self->y);
  ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
  ASYNCRT_END (&self->co);
}

static void
forever_free_and_g_free (void *p)
{
  forever_free (p);
  g_free (p);
}

static AsyncrtPoll
shutdown_main2_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  ShutdownMain *self = p;
  for (int i = 0; i < 20; i++)
    {
      Forever *f = g_new0 (Forever, 1);
      f->freed = self->freed;
      asyncrt_join_handle_free (asyncrt_spawn (forever_poll, f, forever_free_and_g_free));
    }
  return ASYNCRT_READY;
}

static void
test_shutdown_live_tasks (void)
{
  AsyncrtRuntime *rt = new_rt ();
  atomic_int freed = 0;
  ShutdownMain m = { .freed = &freed };
  /* 20 sleeping (one joined), then 20 never-polled spawned right before block_on
   * returns, then 30 never-polled from a foreign spawn with no block_on at all. */
  g_assert_cmpint (asyncrt_runtime_block_on (rt, shutdown_main_poll, &m), ==, 0);
  ShutdownMain m2 = { .freed = &freed };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, shutdown_main2_poll, &m2), ==, 0);
  GPtrArray *jhs = g_ptr_array_new ();
  for (int i = 0; i < 30; i++)
    {
      Forever *f = g_new0 (Forever, 1);
      f->freed = &freed;
      g_ptr_array_add (jhs, asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt), forever_poll,
                                                  f, forever_free_and_g_free));
    }
  g_assert_cmpint (atomic_load (&freed), ==, 0);
  asyncrt_runtime_free (rt);
  /* 20 sleepers + 20 forever (m) + 20 (m2) + 30 foreign: each freed exactly once */
  g_assert_cmpint (atomic_load (&freed), ==, 90);
  g_assert_true (asyncrt_join_handle_is_finished (m.kept));
  g_assert_true (asyncrt_join_handle_is_cancelled (m.kept));
  asyncrt_join_handle_free (m.kept);
  for (guint i = 0; i < jhs->len; i++)
    {
      g_assert_true (asyncrt_join_handle_is_cancelled (jhs->pdata[i]));
      asyncrt_join_handle_abort (jhs->pdata[i]);   /* harmless after shutdown */
      asyncrt_join_handle_free (jhs->pdata[i]);
    }
  g_ptr_array_unref (jhs);
  g_assert_cmpint (atomic_load (&freed), ==, 90);
}

/* ---- errors --------------------------------------------------------------------------- */
typedef struct
{
  AsyncrtRuntime *rt;
  AsyncrtRuntime *other;
  int inner;
  int inner_other;
} Reenter;

static AsyncrtPoll
ready_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  return ASYNCRT_READY;
}

static AsyncrtPoll
reenter_poll (void *p, AsyncrtContext *cx)
{
  Reenter *r = p;
  (void) cx;
  r->inner = asyncrt_runtime_block_on (r->rt, ready_poll, NULL);
  r->inner_other = asyncrt_runtime_block_on (r->other, ready_poll, NULL);
  return ASYNCRT_READY;
}

typedef struct
{
  AsyncrtCoroutine co;
  Reenter *r;
  AsyncrtJoinHandle *jh;
} ReenterMain;

static AsyncrtPoll
reenter_main_poll (void *p, AsyncrtContext *cx)
{
  ReenterMain *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->jh = asyncrt_spawn (reenter_poll, self->r, NULL);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
  asyncrt_join_handle_free (self->jh);
  ASYNCRT_END (&self->co);
}

static void
test_errors (void)
{
  AsyncrtRuntime *rt = new_rt ();
  AsyncrtRuntime *other = new_rt ();

  g_assert_cmpint (asyncrt_builder_build (NULL, &rt), ==, -EINVAL);
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  g_assert_cmpint (asyncrt_builder_build (b, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_max_blocking_threads (b, 0), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_max_blocking_threads (NULL, 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_blocking_keep_alive (NULL, 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_event_interval (b, 0), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_event_interval (NULL, 3), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_event_interval (b, 3), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_max_blocking_threads (b, 2), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_blocking_keep_alive (b, 5), ==, 0);
  asyncrt_builder_free (b);
  asyncrt_builder_free (NULL);

  g_assert_cmpint (asyncrt_runtime_block_on (NULL, ready_poll, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, NULL, NULL), ==, -EINVAL);
  g_assert_null (asyncrt_runtime_get_handle (NULL));
  g_assert_null (asyncrt_handle_current ());
  g_assert_cmpuint (asyncrt_task_id_current (), ==, 0);

  errno = 0;
  g_assert_null (asyncrt_spawn (ready_poll, NULL, NULL));
  g_assert_cmpint (errno, ==, ESRCH);
  errno = 0;
  g_assert_null (asyncrt_handle_spawn (NULL, ready_poll, NULL, NULL));
  g_assert_cmpint (errno, ==, EINVAL);
  errno = 0;
  g_assert_null (asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt), NULL, NULL, NULL));
  g_assert_cmpint (errno, ==, EINVAL);

  /* NULL join handles */
  g_assert_cmpint (asyncrt_join_handle_poll (NULL, NULL), ==, ASYNCRT_READY);
  g_assert_true (asyncrt_join_handle_is_finished (NULL));
  g_assert_false (asyncrt_join_handle_is_cancelled (NULL));
  g_assert_cmpuint (asyncrt_join_handle_get_id (NULL), ==, 0);
  g_assert_null (asyncrt_join_handle_get_future (NULL));
  asyncrt_join_handle_abort (NULL);
  asyncrt_join_handle_free (NULL);

  /* block_on from inside a task (of this runtime and of another) */
  Reenter r = { .rt = rt, .other = other };
  ReenterMain m = { .r = &r };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, reenter_main_poll, &m), ==, 0);
  g_assert_cmpint (r.inner, ==, -EDEADLK);
  g_assert_cmpint (r.inner_other, ==, -EDEADLK);
  /* ... and from inside a block_on future */
  Reenter r2 = { .rt = rt, .other = other };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, reenter_poll, &r2), ==, 0);
  g_assert_cmpint (r2.inner, ==, -EDEADLK);
  g_assert_cmpint (r2.inner_other, ==, -EDEADLK);

  asyncrt_runtime_free (other);
  asyncrt_runtime_free (rt);
  asyncrt_runtime_free (NULL);
}

/* -EBUSY: a second thread calling block_on while the first is inside. */
typedef struct
{
  AsyncrtRuntime *rt;
  atomic_bool inside;
  atomic_bool release;
  Slot slot;
  int other_result;
} Busy;

static AsyncrtPoll
busy_poll (void *p, AsyncrtContext *cx)
{
  Busy *b = p;
  atomic_store (&b->inside, true);
  slot_set (&b->slot, cx);
  return atomic_load (&b->release) ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static gpointer
busy_thread (gpointer data)
{
  Busy *b = data;
  gint64 end = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (!atomic_load (&b->inside) && g_get_monotonic_time () < end)
    g_usleep (100);
  b->other_result = asyncrt_runtime_block_on (b->rt, ready_poll, NULL);
  atomic_store (&b->release, true);
  slot_wake (&b->slot);
  return NULL;
}

static void
test_block_on_busy (void)
{
  Busy b = { .rt = new_rt () };
  pthread_mutex_init (&b.slot.lock, NULL);
  GThread *th = g_thread_new ("busy", busy_thread, &b);
  g_assert_cmpint (asyncrt_runtime_block_on (b.rt, busy_poll, &b), ==, 0);
  g_thread_join (th);
  g_assert_cmpint (b.other_result, ==, -EBUSY);
  /* the runtime is usable again afterwards */
  g_assert_cmpint (asyncrt_runtime_block_on (b.rt, ready_poll, NULL), ==, 0);
  slot_clear (&b.slot);
  pthread_mutex_destroy (&b.slot.lock);
  asyncrt_runtime_free (b.rt);
}

/* -ESHUTDOWN: a free function run by asyncrt_runtime_free() tries block_on and spawn. */
typedef struct
{
  AsyncrtRuntime *rt;
  int block_on_result;
  bool spawn_cancelled;
  int late_freed;
} Late;

static void
late_inner_free (void *p)
{
  ((Late *) p)->late_freed++;
}

static void
late_free (void *p)
{
  Late *l = p;
  l->block_on_result = asyncrt_runtime_block_on (l->rt, ready_poll, NULL);
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (asyncrt_runtime_get_handle (l->rt),
                                                ready_poll, l, late_inner_free);
  l->spawn_cancelled = jh != NULL && asyncrt_join_handle_is_cancelled (jh);
  asyncrt_join_handle_free (jh);
}

static void
test_use_during_shutdown (void)
{
  Late l = { .rt = new_rt () };
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (asyncrt_runtime_get_handle (l.rt),
                                                forever_poll, &l, late_free);
  asyncrt_join_handle_free (jh);
  asyncrt_runtime_free (l.rt);
  g_assert_cmpint (l.block_on_result, ==, -ESHUTDOWN);
  g_assert_true (l.spawn_cancelled);
  g_assert_cmpint (l.late_freed, ==, 1);
}

/* Tasks run only while a thread is in block_on; a sleep in a task fires. */
typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSleep s;
  uint64_t start;
  uint64_t end;
} SleepTask;

static AsyncrtPoll
sleep_task_poll (void *p, AsyncrtContext *cx)
{
  SleepTask *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->start = asyncrt_time_now_ms ();
  asyncrt_sleep_init (&self->s, 20);
  ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->s, cx));
  asyncrt_sleep_clear (&self->s);
  self->end = asyncrt_time_now_ms ();
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtJoinHandle *jh;
} JoinOnly;

static AsyncrtPoll
join_only_poll (void *p, AsyncrtContext *cx)
{
  return asyncrt_join_handle_poll (((JoinOnly *) p)->jh, cx);
}

static void
test_runs_only_in_block_on (void)
{
  AsyncrtRuntime *rt = new_rt ();
  SleepTask st = { 0 };
  JoinOnly j = { asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt), sleep_task_poll, &st, NULL) };
  g_usleep (20000);
  g_assert_cmpuint (st.start, ==, 0);   /* nobody in block_on: not run */
  g_assert_false (asyncrt_join_handle_is_finished (j.jh));
  g_assert_cmpint (asyncrt_runtime_block_on (rt, join_only_poll, &j), ==, 0);
  g_assert_cmpuint (st.end - st.start, >=, 20);   /* never early */
  asyncrt_join_handle_free (j.jh);
  asyncrt_runtime_free (rt);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/runtime/spawn-join", test_spawn_join);
  g_test_add_func ("/runtime/abort", test_abort);
  g_test_add_func ("/runtime/detach", test_detach);
  g_test_add_func ("/runtime/foreign-wakes", test_foreign_wakes);
  g_test_add_func ("/runtime/remote-spawn", test_remote_spawn);
  g_test_add_func ("/runtime/many-tasks", test_many_tasks);
  g_test_add_func ("/runtime/shutdown-live-tasks", test_shutdown_live_tasks);
  g_test_add_func ("/runtime/errors", test_errors);
  g_test_add_func ("/runtime/block-on-busy", test_block_on_busy);
  g_test_add_func ("/runtime/use-during-shutdown", test_use_during_shutdown);
  g_test_add_func ("/runtime/runs-only-in-block-on", test_runs_only_in_block_on);
  return g_test_run ();
}
