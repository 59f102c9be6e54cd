/* Unit tests of the multi-thread scheduler's internals: idle coordination, the
 * parker, and the hooks task dumps use. */
#include "scheduler/multi_thread/multi-thread-private.h"

#include <glib.h>
#include <string.h>

#include "test-util.h"

static void
test_idle_searching_limit (void)
{
  AsyncrtMtIdle idle;
  asyncrt__mt_idle_init (&idle, 4);
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 4);
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 0);
  /* Everybody is awake: nobody to notify. */
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, -1);

  /* At most half of the workers search. */
  g_assert_true (asyncrt__mt_idle_transition_to_searching (&idle));
  g_assert_true (asyncrt__mt_idle_transition_to_searching (&idle));
  g_assert_false (asyncrt__mt_idle_transition_to_searching (&idle));
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 2);

  g_assert_false (asyncrt__mt_idle_transition_from_searching (&idle));
  g_assert_true (asyncrt__mt_idle_transition_from_searching (&idle)); /* the last */
  asyncrt__mt_idle_clear (&idle);

  /* One worker may always search. */
  asyncrt__mt_idle_init (&idle, 1);
  g_assert_true (asyncrt__mt_idle_transition_to_searching (&idle));
  g_assert_false (asyncrt__mt_idle_transition_to_searching (&idle));
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 0, true));
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 0);
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, 0);
  asyncrt__mt_idle_clear (&idle);
}

/* The watcher of the LIFO slots (idle.c): at most one, a parked worker; filling a slot
 * wakes a parked worker only when nobody searches nor watches. */
static void
test_idle_watching (void)
{
  AsyncrtMtIdle idle;
  asyncrt__mt_idle_init (&idle, 3);
  /* Only a parked worker watches. */
  g_assert_false (asyncrt__mt_idle_start_watching (&idle, 0));
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 0, false));
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 1, false));
  g_assert_true (asyncrt__mt_idle_start_watching (&idle, 0));
  g_assert_true (asyncrt__mt_idle_is_watching (&idle, 0));
  g_assert_cmpuint (asyncrt__mt_idle_num_watching (&idle), ==, 1);
  /* One watcher at a time. */
  g_assert_false (asyncrt__mt_idle_start_watching (&idle, 1));
  /* A watcher: a filled slot wakes nobody; a queue push still wakes one. */
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify_lifo (&idle), ==, -1);
  /* Stopping: now a filled slot wakes the most recently parked worker. */
  asyncrt__mt_idle_stop_watching (&idle, 0);
  g_assert_cmpuint (asyncrt__mt_idle_num_watching (&idle), ==, 0);
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify_lifo (&idle), ==, 1);
  /* ...as a searcher: no other while it searches. */
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify_lifo (&idle), ==, -1);
  g_assert_true (asyncrt__mt_idle_transition_from_searching (&idle));
  /* A watcher woken by a producer stops watching. */
  g_assert_true (asyncrt__mt_idle_start_watching (&idle, 0));
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, 0);
  g_assert_false (asyncrt__mt_idle_is_watching (&idle, 0));
  g_assert_cmpuint (asyncrt__mt_idle_num_watching (&idle), ==, 0);
  g_assert_true (asyncrt__mt_idle_transition_from_searching (&idle));
  /* ...and so does one that leaves by itself. */
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 0, false));
  g_assert_true (asyncrt__mt_idle_start_watching (&idle, 0));
  g_assert_true (asyncrt__mt_idle_unpark_worker_by_id (&idle, 0));
  g_assert_cmpuint (asyncrt__mt_idle_num_watching (&idle), ==, 0);
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 3);
  asyncrt__mt_idle_clear (&idle);
}

static void
test_idle_notify_one_at_a_time (void)
{
  AsyncrtMtIdle idle;
  asyncrt__mt_idle_init (&idle, 4);

  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 0, false));
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 1, false));
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 2, false));
  g_assert_true (asyncrt__mt_idle_is_parked (&idle, 2));
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 1);

  /* New work wakes the most recently parked worker, as a searcher... */
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, 2);
  g_assert_false (asyncrt__mt_idle_is_parked (&idle, 2));
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 1);
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 2);
  /* ...and no other while it searches (no thundering herd). */
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, -1);
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, -1);

  /* It finds work; being the last searcher it wakes the next one. */
  g_assert_true (asyncrt__mt_idle_transition_from_searching (&idle));
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, 1);

  /* A searcher that parks as the last searcher must re-check the queues. */
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 1, true));
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 0);

  /* A worker that finds work of its own removes itself (not searching). */
  g_assert_true (asyncrt__mt_idle_unpark_worker_by_id (&idle, 0));
  g_assert_false (asyncrt__mt_idle_unpark_worker_by_id (&idle, 0));
  g_assert_false (asyncrt__mt_idle_is_parked (&idle, 0));
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 0);
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 3);

  /* Unpark everybody through the bookkeeping. */
  unsigned out[4];
  g_assert_cmpuint (asyncrt__mt_idle_unpark_all (&idle, out), ==, 1);
  g_assert_cmpuint (out[0], ==, 1);
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 4);
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 1);
  g_assert_cmpuint (asyncrt__mt_idle_unpark_all (&idle, out), ==, 0);
  asyncrt__mt_idle_clear (&idle);
}

/* The interleaving behind a stranded task (CI, /mt/blocked-worker/remote-pair-busy):
 * worker 1 cannot search because worker 0 does (half of 2 workers), and goes to park
 * without looking at any queue.  Meanwhile worker 0 finds a batch in the injection
 * queue, keeps part of it in its local queue, stops searching and runs a task that
 * blocks; its wake as the last searcher goes to nobody (both workers count as
 * unparked).  Worker 1 then parks: nobody searches any more, so it must re-check the
 * queues (and find worker 0's). */
static void
test_idle_park_without_searching (void)
{
  AsyncrtMtIdle idle;
  asyncrt__mt_idle_init (&idle, 2);
  g_assert_true (asyncrt__mt_idle_transition_to_searching (&idle));    /* worker 0 */
  g_assert_false (asyncrt__mt_idle_transition_to_searching (&idle));   /* worker 1 */
  g_assert_true (asyncrt__mt_idle_transition_from_searching (&idle));  /* worker 0 */
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, -1);
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 1, false));
  /* The re-check finds the work and wakes somebody: the parker itself here. */
  g_assert_cmpint (asyncrt__mt_idle_worker_to_notify (&idle), ==, 1);
  g_assert_cmpuint (asyncrt__mt_idle_num_searching (&idle), ==, 1);

  /* While another worker still searches, parking needs no re-check: that searcher
   * either finds the work or re-checks as it parks itself. */
  g_assert_false (asyncrt__mt_idle_transition_to_parked (&idle, 0, false));
  g_assert_true (asyncrt__mt_idle_transition_to_parked (&idle, 1, true));
  g_assert_cmpuint (asyncrt__mt_idle_num_unparked (&idle), ==, 0);
  asyncrt__mt_idle_clear (&idle);
}

/* ---- parker ------------------------------------------------------------------------ */

typedef struct
{
  AsyncrtMtParker *p;
  atomic_int state;   /* 0 before park, 1 parked-ish, 2 returned */
} ParkThread;

static void *
park_thread (void *data)
{
  ParkThread *pt = data;
  atomic_store (&pt->state, 1);
  asyncrt__mt_parker_park (pt->p);
  atomic_store (&pt->state, 2);
  return NULL;
}

static bool
wait_state (atomic_int *s, int v, unsigned base_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (base_ms) * 1000;
  while (atomic_load (s) != v)
    {
      if (g_get_monotonic_time () > deadline)
        return false;
      g_usleep (200);
    }
  return true;
}

static bool
wait_state_ulong (atomic_ulong *s, unsigned long v, unsigned base_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (base_ms) * 1000;
  while (atomic_load (s) < v)
    {
      if (g_get_monotonic_time () > deadline)
        return false;
      g_usleep (200);
    }
  return true;
}

static size_t
asyncrt_inject_len_for_test (AsyncrtHandle *h)
{
  return asyncrt__inject_len (asyncrt__mt_inject (h));
}

static void
run_parker_test (AsyncrtDriver *driver)
{
  AsyncrtMtSharedDriver sd;
  asyncrt__mt_shared_driver_init (&sd, driver);
  AsyncrtMtParker a, b;
  asyncrt__mt_parker_init (&a, &sd);
  asyncrt__mt_parker_init (&b, &sd);

  /* A notify before park is not lost. */
  asyncrt__mt_parker_unpark (&a);
  asyncrt__mt_parker_unpark (&a);     /* idempotent */
  asyncrt__mt_parker_park (&a);       /* returns at once */
  asyncrt__mt_parker_park_timeout_zero (&a);  /* never blocks */

  /* Two sleepers: with a driver one parks in it, the other on its condvar. */
  for (int round = 0; round < 50; round++)
    {
      ParkThread ta = { &a, 0 }, tb = { &b, 0 };
      pthread_t tha, thb;
      pthread_create (&tha, NULL, park_thread, &ta);
      pthread_create (&thb, NULL, park_thread, &tb);
      g_assert_true (wait_state (&ta.state, 1, 5000));
      g_assert_true (wait_state (&tb.state, 1, 5000));
      if (round % 2)
        g_usleep (1000);   /* sometimes let them really sleep */
      asyncrt__mt_parker_unpark (&b);
      asyncrt__mt_parker_unpark (&a);
      g_assert_true (wait_state (&ta.state, 2, 5000));
      g_assert_true (wait_state (&tb.state, 2, 5000));
      pthread_join (tha, NULL);
      pthread_join (thb, NULL);
    }
  g_assert_false (atomic_load (&sd.locked));
  asyncrt__mt_parker_clear (&a);
  asyncrt__mt_parker_clear (&b);
}

static void
test_parker_condvar (void)
{
  run_parker_test (NULL);
}

static void
test_parker_driver (void)
{
  AsyncrtDriver *d = NULL;
  g_assert_cmpint (asyncrt__driver_new (&d), ==, 0);
  run_parker_test (d);
  asyncrt__driver_shutdown (d);
  asyncrt__driver_free (d);
}

/* ---- dump hooks --------------------------------------------------------------------- */

typedef struct
{
  unsigned n_workers;
  atomic_uint calls[4];
  atomic_uint arrived;
  atomic_bool lifo_was_empty;
  atomic_bool release;
  atomic_bool ended;
  atomic_uint left;
  gint64 deadline;
  AsyncrtHandle *h;
} DumpProbe;

/* A toy barrier: every worker but @skip arrives, then all leave. */
static void
probe_func (AsyncrtMtWorker *w, void *data)
{
  DumpProbe *p = data;
  g_assert_true (asyncrt__mt_current_worker () == w);
  g_assert_true (asyncrt__mt_worker (p->h, w->index) == w);
  atomic_fetch_add (&p->calls[w->index], 1);
  if (atomic_load_explicit (&w->lifo, memory_order_relaxed) != NULL)
    atomic_store (&p->lifo_was_empty, false);
  atomic_fetch_add (&p->arrived, 1);
  while (!atomic_load (&p->release) && g_get_monotonic_time () < p->deadline)
    g_usleep (100);
}

static atomic_ulong spins_done;
static atomic_ulong n_ran;

static AsyncrtPoll
spin_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  atomic_bool *stop = p;
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
  while (!atomic_load (stop) && g_get_monotonic_time () < deadline)
    g_usleep (100);
  atomic_fetch_add (&spins_done, 1);
  return ASYNCRT_READY;
}

static AsyncrtPoll
count_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  atomic_fetch_add (&n_ran, 1);
  return ASYNCRT_READY;
}

static AsyncrtRuntime *
mt_new (unsigned n)
{
  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  g_assert_cmpint (asyncrt_builder_set_worker_threads (b, n), ==, 0);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  return rt;
}

static void
test_dump_request_stops_every_worker (void)
{
  AsyncrtRuntime *rt = mt_new (2);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  g_assert_cmpuint (asyncrt__mt_num_workers (h), ==, 2);
  g_assert_null (asyncrt__mt_worker (h, 2));

  for (int round = 0; round < 20; round++)
    {
      DumpProbe p = { 0 };
      p.n_workers = 2;
      p.h = h;
      atomic_store (&p.lifo_was_empty, true);
      p.deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
      /* Parked workers are woken through the idle bookkeeping. */
      g_assert_cmpint (asyncrt__mt_dump_request_begin (h, probe_func, &p), ==, 0);
      g_assert_cmpint (asyncrt__mt_dump_request_begin (h, probe_func, &p), ==, -EBUSY);
      gint64 until = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
      while (atomic_load (&p.arrived) < 2 && g_get_monotonic_time () < until)
        g_usleep (100);
      g_assert_cmpuint (atomic_load (&p.arrived), ==, 2);
      /* Stopped workers run nothing. */
      atomic_store (&n_ran, 0);
      asyncrt_join_handle_free (asyncrt_handle_spawn (h, count_poll, NULL, NULL));
      g_usleep (2000);
      g_assert_cmpuint (atomic_load (&n_ran), ==, 0);
      g_assert_cmpuint (asyncrt_inject_len_for_test (h), ==, 1);
      atomic_store (&p.release, true);
      asyncrt__mt_dump_request_end (h);
      /* Exactly once per worker per request. */
      g_assert_cmpuint (atomic_load (&p.calls[0]), ==, 1);
      g_assert_cmpuint (atomic_load (&p.calls[1]), ==, 1);
      g_assert_true (atomic_load (&p.lifo_was_empty));
      /* Newly spawned work runs after the dump (the idle bookkeeping is intact). */
      g_assert_true (wait_state_ulong (&n_ran, 1, 5000));
      g_usleep (round % 3 == 0 ? 2000 : 0);   /* sometimes let the workers park */
    }
  asyncrt_runtime_free (rt);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtYield y;
  atomic_bool *stop;
} Yielder;

static AsyncrtPoll
yielder_poll (void *p, AsyncrtContext *cx)
{
  Yielder *self = p;
  ASYNCRT_BEGIN (&self->co);
  while (!atomic_load (self->stop))
    {
      asyncrt_yield_init (&self->y);
      ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
    }
  ASYNCRT_END (&self->co);
}

static void
test_dump_request_under_load (void)
{
  AsyncrtRuntime *rt = mt_new (2);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  atomic_bool stop = false;
  Yielder ys[8];
  AsyncrtJoinHandle *jhs[8];
  memset (ys, 0, sizeof ys);
  for (int i = 0; i < 8; i++)
    {
      ys[i].stop = &stop;
      jhs[i] = asyncrt_handle_spawn (h, yielder_poll, &ys[i], NULL);
    }
  for (int round = 0; round < 50; round++)
    {
      DumpProbe p = { 0 };
      p.h = h;
      atomic_store (&p.lifo_was_empty, true);
      p.deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
      g_assert_cmpint (asyncrt__mt_dump_request_begin (h, probe_func, &p), ==, 0);
      gint64 until = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
      while (atomic_load (&p.arrived) < 2 && g_get_monotonic_time () < until)
        g_usleep (50);
      /* Busy workers stop at their next scheduling point, between two polls. */
      g_assert_cmpuint (atomic_load (&p.arrived), ==, 2);
      g_assert_true (atomic_load (&p.lifo_was_empty));
      for (unsigned i = 0; i < 2; i++)
        g_assert_cmpuint (asyncrt__mt_worker_current_task (asyncrt__mt_worker (h, i), NULL),
                          ==, 0);
      atomic_store (&p.release, true);
      asyncrt__mt_dump_request_end (h);
      g_assert_cmpuint (atomic_load (&p.calls[0]) + atomic_load (&p.calls[1]), ==, 2);
    }
  atomic_store (&stop, true);
  for (int i = 0; i < 8; i++)
    {
      gint64 until = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
      while (!asyncrt_join_handle_is_finished (jhs[i]) && g_get_monotonic_time () < until)
        g_usleep (100);
      g_assert_true (asyncrt_join_handle_is_finished (jhs[i]));
      asyncrt_join_handle_free (jhs[i]);
    }
  asyncrt_runtime_free (rt);
}

/* The last worker to arrive leads: it ends the request itself, from inside func. */
static void
leader_func (AsyncrtMtWorker *w, void *data)
{
  DumpProbe *p = data;
  atomic_fetch_add (&p->calls[w->index], 1);
  if (atomic_fetch_add (&p->arrived, 1) + 1 == p->n_workers)
    {
      /* Release the others first: end() waits for them to leave func. */
      atomic_store (&p->release, true);
      asyncrt__mt_dump_request_end (p->h);
      atomic_store (&p->ended, true);
      return;
    }
  while (!atomic_load (&p->release) && g_get_monotonic_time () < p->deadline)
    g_usleep (100);
}

static void
test_dump_request_end_from_leader (void)
{
  AsyncrtRuntime *rt = mt_new (2);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  for (int round = 0; round < 20; round++)
    {
      DumpProbe p = { 0 };
      p.n_workers = 2;
      p.h = h;
      p.deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
      g_assert_cmpint (asyncrt__mt_dump_request_begin (h, leader_func, &p), ==, 0);
      gint64 until = p.deadline;
      while (!atomic_load (&p.ended) && g_get_monotonic_time () < until)
        g_usleep (100);
      g_assert_true (atomic_load (&p.ended));
      /* The request is over: a new one may start (after the followers left func). */
      int r;
      while ((r = asyncrt__mt_dump_request_begin (h, probe_func, &p)) == -EBUSY)
        g_usleep (100);
      g_assert_cmpint (r, ==, 0);
      asyncrt__mt_dump_request_end (h);
      g_assert_cmpuint (atomic_load (&p.calls[0]), >=, 1);
      g_assert_cmpuint (atomic_load (&p.calls[1]), >=, 1);
    }
  asyncrt_runtime_free (rt);
}

static void
test_dump_request_busy_worker (void)
{
  AsyncrtRuntime *rt = mt_new (2);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  atomic_bool stop = false;
  atomic_store (&spins_done, 0);
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (h, spin_poll, &stop, NULL);

  /* Find the worker that runs the spinning task. */
  AsyncrtMtWorker *busy = NULL;
  uint64_t start_ns = 0;
  gint64 until = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
  while (busy == NULL && g_get_monotonic_time () < until)
    {
      for (unsigned i = 0; i < 2 && busy == NULL; i++)
        if (asyncrt__mt_worker_current_task (asyncrt__mt_worker (h, i), &start_ns)
            == asyncrt_join_handle_get_id (jh))
          busy = asyncrt__mt_worker (h, i);
      g_usleep (100);
    }
  g_assert_nonnull (busy);
  g_assert_cmpuint (start_ns, >, 0);

  DumpProbe p = { 0 };
  p.h = h;
  atomic_store (&p.lifo_was_empty, true);
  p.deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
  g_assert_cmpint (asyncrt__mt_dump_request_begin (h, probe_func, &p), ==, 0);
  until = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
  while (atomic_load (&p.arrived) < 1 && g_get_monotonic_time () < until)
    g_usleep (100);
  g_usleep (2000);
  /* Only the idle worker arrived; the busy one is still inside its poll. */
  g_assert_cmpuint (atomic_load (&p.arrived), ==, 1);
  g_assert_cmpuint (atomic_load (&p.calls[busy->index]), ==, 0);
  atomic_store (&p.release, true);
  asyncrt__mt_dump_request_end (h);

  /* The late worker does not call the hook of a finished request. */
  atomic_store (&stop, true);
  g_assert_true (wait_state_ulong (&spins_done, 1, 5000));
  g_usleep (2000);
  g_assert_cmpuint (atomic_load (&p.calls[busy->index]), ==, 0);
  g_assert_cmpuint (asyncrt__mt_worker_current_task (busy, NULL), ==, 0);
  asyncrt_join_handle_free (jh);
  asyncrt_runtime_free (rt);
}

/* end() waits for the workers to leave the dump function, dropping its lock while it
 * waits.  A request begun meanwhile must be refused: accepted, its function and data
 * would be cleared by the ending request, and its workers would never be called. */
static gpointer
end_thread (gpointer data)
{
  asyncrt__mt_dump_request_end (data);
  return NULL;
}

static void
test_dump_request_begin_while_ending (void)
{
  AsyncrtRuntime *rt = mt_new (2);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  DumpProbe p = { 0 };
  p.n_workers = 2;
  p.h = h;
  p.deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
  g_assert_cmpint (asyncrt__mt_dump_request_begin (h, probe_func, &p), ==, 0);
  gint64 until = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
  while (atomic_load (&p.arrived) < 2 && g_get_monotonic_time () < until)
    g_usleep (100);
  g_assert_cmpuint (atomic_load (&p.arrived), ==, 2);

  GThread *ender = g_thread_new ("ender", end_thread, h);
  g_usleep (50000);                           /* the ender now waits for the workers */
  DumpProbe q = { 0 };
  q.h = h;
  q.deadline = p.deadline;
  g_assert_cmpint (asyncrt__mt_dump_request_begin (h, probe_func, &q), ==, -EBUSY);

  atomic_store (&p.release, true);
  g_thread_join (ender);
  /* Once ended, the next request is accepted and reaches every worker. */
  atomic_store (&q.release, true);
  g_assert_cmpint (asyncrt__mt_dump_request_begin (h, probe_func, &q), ==, 0);
  until = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
  while (atomic_load (&q.arrived) < 2 && g_get_monotonic_time () < until)
    g_usleep (100);
  g_assert_cmpuint (atomic_load (&q.arrived), ==, 2);
  asyncrt__mt_dump_request_end (h);
  asyncrt_runtime_free (rt);
}

static void
test_dump_request_errors (void)
{
  DumpProbe p = { 0 };
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  AsyncrtHandle *ct = asyncrt_runtime_get_handle (rt);
  g_assert_cmpint (asyncrt__mt_dump_request_begin (ct, probe_func, &p), ==, -EINVAL);
  g_assert_cmpint (asyncrt__mt_dump_request_begin (NULL, probe_func, &p), ==, -EINVAL);
  g_assert_cmpuint (asyncrt__mt_num_workers (ct), ==, 0);
  g_assert_null (asyncrt__mt_worker (ct, 0));
  g_assert_null (asyncrt__mt_inject (ct));
  asyncrt__mt_dump_request_end (ct);   /* ignored */
  asyncrt_runtime_free (rt);

  rt = mt_new (1);
  g_assert_cmpint (asyncrt__mt_dump_request_begin (asyncrt_runtime_get_handle (rt), NULL, NULL),
                   ==, -EINVAL);
  asyncrt_runtime_free (rt);
}

/* ---- the local queue overflows into the injection queue --------------------------- */

typedef struct
{
  size_t inject_len, local_len, lifo_len;
  atomic_ulong done;
} OverflowProbe;

static AsyncrtPoll
overflow_poll (void *p, AsyncrtContext *cx)
{
  OverflowProbe *o = p;
  (void) cx;
  AsyncrtHandle *h = asyncrt_handle_current ();
  AsyncrtMtWorker *w = asyncrt__mt_current_worker ();
  g_assert_nonnull (w);
  /* One worker, busy here: nothing runs or steals meanwhile. */
  for (int i = 0; i < 1000; i++)
    asyncrt_join_handle_free (asyncrt_spawn (count_poll, NULL, NULL));
  o->inject_len = asyncrt__inject_len (asyncrt__mt_inject (h));
  o->local_len = asyncrt__local_queue_len (&w->queue);
  o->lifo_len = asyncrt__mt_worker_peek_lifo (w) != NULL ? 1 : 0;
  atomic_store (&o->done, 1);
  return ASYNCRT_READY;
}

static void
test_local_queue_overflow (void)
{
  AsyncrtRuntime *rt = mt_new (1);
  OverflowProbe o = { 0 };
  atomic_store (&n_ran, 0);
  asyncrt_join_handle_free (asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt),
                                                  overflow_poll, &o, NULL));
  g_assert_true (wait_state_ulong (&o.done, 1, 5000));
  g_assert_cmpuint (o.local_len, <=, ASYNCRT_LOCAL_QUEUE_CAPACITY);
  /* The last spawn waits in the LIFO slot, the others in the queues. */
  g_assert_cmpuint (o.lifo_len, ==, 1);
  g_assert_cmpuint (o.local_len + o.inject_len + o.lifo_len, ==, 1000);
  g_assert_cmpuint (o.inject_len, >=, 1000 - 1 - ASYNCRT_LOCAL_QUEUE_CAPACITY);
  g_assert_true (wait_state_ulong (&n_ran, 1000, 10000));
  asyncrt_runtime_free (rt);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mt/idle/searching-limit", test_idle_searching_limit);
  g_test_add_func ("/mt/idle/notify-one-at-a-time", test_idle_notify_one_at_a_time);
  g_test_add_func ("/mt/idle/watching", test_idle_watching);
  g_test_add_func ("/mt/idle/park-without-searching", test_idle_park_without_searching);
  g_test_add_func ("/mt/parker/condvar", test_parker_condvar);
  g_test_add_func ("/mt/parker/driver", test_parker_driver);
  g_test_add_func ("/mt/dump-hooks/stop-every-worker", test_dump_request_stops_every_worker);
  g_test_add_func ("/mt/dump-hooks/under-load", test_dump_request_under_load);
  g_test_add_func ("/mt/dump-hooks/busy-worker", test_dump_request_busy_worker);
  g_test_add_func ("/mt/dump-hooks/end-from-leader", test_dump_request_end_from_leader);
  g_test_add_func ("/mt/dump-hooks/errors", test_dump_request_errors);
  g_test_add_func ("/mt/dump-hooks/begin-while-ending", test_dump_request_begin_while_ending);
  g_test_add_func ("/mt/local-queue-overflow", test_local_queue_overflow);
  return g_test_run ();
}
