/* asyncrt_runtime_shutdown_timeout() on both schedulers: a blocking job that never
 * ends makes it return -ETIMEDOUT once the deadline has passed (and within the
 * deadline plus 100 ms, scaled by ASYNCRT_TEST_TIMEOUT_SCALE), reported with its
 * function and task; asyncrt_runtime_free() then returns at once; the job, released
 * later, finishes on memory that is still valid (ASan/TSan runs check that); a job
 * still queued is never run; a shutdown in time returns 0 having cancelled every
 * task; a worker stuck inside a poll is abandoned the same way; the documented
 * errors. */
#include <asyncrt/asyncrt.h>
#include <glib.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "flavour-util.h"

/* ---- a gate that blocks a thread until the test opens it --------------------------- */

typedef struct
{
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool open;
  atomic_int entered;
  atomic_int left;
} Gate;

static void
gate_init (Gate *g)
{
  pthread_mutex_init (&g->lock, NULL);
  pthread_cond_init (&g->cond, NULL);
  g->open = false;
  atomic_init (&g->entered, 0);
  atomic_init (&g->left, 0);
}

static void
gate_wait (Gate *g)
{
  atomic_fetch_add (&g->entered, 1);
  pthread_mutex_lock (&g->lock);
  while (!g->open)
    pthread_cond_wait (&g->cond, &g->lock);
  pthread_mutex_unlock (&g->lock);
  atomic_fetch_add (&g->left, 1);
}

static void
gate_open (Gate *g)
{
  pthread_mutex_lock (&g->lock);
  g->open = true;
  pthread_cond_broadcast (&g->cond);
  pthread_mutex_unlock (&g->lock);
}

static void
gate_clear (Gate *g)
{
  pthread_mutex_destroy (&g->lock);
  pthread_cond_destroy (&g->cond);
}

static void
wait_for (atomic_int *v, int want)
{
  gint64 end = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (atomic_load (v) < want && g_get_monotonic_time () < end)
    g_usleep (1000);
  g_assert_cmpint (atomic_load (v), >=, want);
}

/* The runtime threads of this process: blocking-pool threads ("asyncrt-blockin" as
 * the kernel truncates it) and workers ("asyncrt-wrk-N").  Sanitizers and GLib may
 * add threads of their own, so those are not counted. */
static unsigned
n_runtime_threads (void)
{
  unsigned n = 0;
  GDir *d = g_dir_open ("/proc/self/task", 0, NULL);
  g_assert_nonnull (d);
  const char *tid;
  while ((tid = g_dir_read_name (d)) != NULL)
    {
      char *path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      char *comm = NULL;
      if (g_file_get_contents (path, &comm, NULL, NULL)
          && (g_str_has_prefix (comm, "asyncrt-blockin") || g_str_has_prefix (comm, "asyncrt-wrk")))
        n++;
      g_free (comm);
      g_free (path);
    }
  g_dir_close (d);
  return n;
}

/* Waits until every runtime thread has exited. */
static void
wait_runtime_threads_gone (void)
{
  gint64 end = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (n_runtime_threads () > 0 && g_get_monotonic_time () < end)
    g_usleep (1000);
  g_assert_cmpuint (n_runtime_threads (), ==, 0);
}

/* ---- blocking functions ---------------------------------------------------------------- */

static Gate stuck_gate;
static atomic_int queued_ran;

/* Never inlined: the report names it from the program's symbols. */
__attribute__ ((noinline)) static void
stuck_blocking_function (void *data)
{
  (void) data;
  gate_wait (&stuck_gate);
}

static void
queued_function (void *data)
{
  (void) data;
  atomic_fetch_add (&queued_ran, 1);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtTaskId stuck_id;
  bool queue_another;
} Spawner;

static AsyncrtPoll
spawner_poll (void *p, AsyncrtContext *cx)
{
  Spawner *self = p;
  (void) cx;
  AsyncrtJoinHandle *jh = asyncrt_spawn_blocking (stuck_blocking_function, NULL);
  g_assert_nonnull (jh);
  self->stuck_id = asyncrt_join_handle_get_id (jh);
  asyncrt_join_handle_free (jh);
  if (self->queue_another)
    {
      jh = asyncrt_spawn_blocking (queued_function, NULL);
      g_assert_nonnull (jh);
      asyncrt_join_handle_free (jh);
    }
  return ASYNCRT_READY;
}

static AsyncrtRuntime *
new_runtime_with_pool (unsigned max_blocking)
{
  AsyncrtBuilder *b = multi_flavour ? asyncrt_builder_new_multi_thread ()
                                    : asyncrt_builder_new_current_thread ();
  if (multi_flavour)
    g_assert_cmpint (asyncrt_builder_set_worker_threads (b, 2), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_max_blocking_threads (b, max_blocking), ==, 0);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  return rt;
}

static void
check_stuck (bool queue_another)
{
  g_assert_cmpuint (n_runtime_threads (), ==, 0);
  gate_init (&stuck_gate);
  atomic_store (&queued_ran, 0);
  AsyncrtRuntime *rt = new_runtime_with_pool (1);
  Spawner s = { .queue_another = queue_another };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, spawner_poll, &s), ==, 0);
  wait_for (&stuck_gate.entered, 1);

  const unsigned timeout = 200;
  gint64 t0 = g_get_monotonic_time ();
  int r = asyncrt_runtime_shutdown_timeout (rt, timeout);
  gint64 took_ms = (g_get_monotonic_time () - t0) / 1000;
  g_assert_cmpint (r, ==, -ETIMEDOUT);
  /* It waited for the deadline, and not (much) longer. */
  g_assert_cmpint (took_ms, >=, timeout);
  g_assert_cmpint (took_ms, <=, timeout + test_timeout_ms (100));

  g_assert_cmpuint (asyncrt_runtime_get_n_unfinished (rt), ==, 1);
  AsyncrtUnfinishedKind kind = 0;
  AsyncrtTaskId id = 0;
  uint64_t running = 0;
  const char *what = NULL;
  g_assert_cmpint (asyncrt_runtime_get_unfinished (rt, 0, &kind, &id, &running, &what), ==, 0);
  g_assert_cmpint (kind, ==, ASYNCRT_UNFINISHED_BLOCKING_JOB);
  g_assert_cmpuint (id, ==, s.stuck_id);
  g_assert_cmpuint (running, >=, (uint64_t) timeout * 1000000u);
  g_assert_nonnull (what);
  if (strstr (what, "stuck_blocking_function") == NULL)
    g_error ("the report does not name the function: %s", what);
  g_test_message ("unfinished: %s", what);
  g_assert_cmpint (asyncrt_runtime_get_unfinished (rt, 1, &kind, &id, &running, &what), ==, -EINVAL);
  g_assert_cmpint (asyncrt_runtime_shutdown_timeout (rt, timeout), ==, -EALREADY);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, spawner_poll, &s), ==, -ESHUTDOWN);

  t0 = g_get_monotonic_time ();
  asyncrt_runtime_free (rt);
  g_assert_cmpint ((g_get_monotonic_time () - t0) / 1000, <=, test_timeout_ms (100));

  /* The job finishes after its runtime is gone; its thread then exits. */
  gate_open (&stuck_gate);
  wait_for (&stuck_gate.left, 1);
  wait_runtime_threads_gone ();
  g_assert_cmpint (atomic_load (&queued_ran), ==, 0);   /* dropped, never run */
  gate_clear (&stuck_gate);
}

static void
test_stuck_job (void)
{
  check_stuck (false);
}

static void
test_queued_job_dropped (void)
{
  check_stuck (true);
}

/* ---- in time: every task cancelled, nothing unfinished --------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSleep sleep;
  atomic_int *freed;
} Sleeper;

static AsyncrtPoll
sleeper_poll (void *p, AsyncrtContext *cx)
{
  Sleeper *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_sleep_init (&self->sleep, 3600 * 1000);
  ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->sleep, cx));
  ASYNCRT_END (&self->co);
}

static void
sleeper_free (void *p)
{
  Sleeper *self = p;
  asyncrt_sleep_clear (&self->sleep);
  atomic_fetch_add (self->freed, 1);
  g_free (self);
}

static void
quick_function (void *data)
{
  atomic_fetch_add ((atomic_int *) data, 1);
}

typedef struct
{
  atomic_int freed;
  atomic_int quick;
} InTime;

static AsyncrtPoll
in_time_poll (void *p, AsyncrtContext *cx)
{
  InTime *self = p;
  (void) cx;
  for (int i = 0; i < 100; i++)
    {
      Sleeper *s = g_new0 (Sleeper, 1);
      s->freed = &self->freed;
      asyncrt_join_handle_free (asyncrt_spawn (sleeper_poll, s, sleeper_free));
    }
  asyncrt_join_handle_free (asyncrt_spawn_blocking (quick_function, &self->quick));
  return ASYNCRT_READY;
}

static void
test_in_time (void)
{
  InTime t = { 0 };
  AsyncrtRuntime *rt = new_runtime ();
  g_assert_cmpint (asyncrt_runtime_block_on (rt, in_time_poll, &t), ==, 0);
  g_assert_cmpuint (asyncrt_runtime_get_n_unfinished (rt), ==, 0);   /* not shut down yet */
  g_assert_cmpint (asyncrt_runtime_shutdown_timeout (rt, test_timeout_ms (10000)), ==, 0);
  g_assert_cmpint (atomic_load (&t.freed), ==, 100);
  g_assert_cmpint (atomic_load (&t.quick), ==, 1);   /* queued jobs still run in time */
  g_assert_cmpuint (asyncrt_runtime_get_n_unfinished (rt), ==, 0);
  g_assert_cmpint (asyncrt_runtime_get_unfinished (rt, 0, NULL, NULL, NULL, NULL), ==, -EINVAL);
  asyncrt_runtime_free (rt);
}

/* ---- errors ------------------------------------------------------------------------------ */

static AsyncrtPoll
inside_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  g_assert_cmpint (asyncrt_runtime_shutdown_timeout (p, 10), ==, -EDEADLK);
  return ASYNCRT_READY;
}

static void
test_errors (void)
{
  g_assert_cmpint (asyncrt_runtime_shutdown_timeout (NULL, 10), ==, -EINVAL);
  g_assert_cmpuint (asyncrt_runtime_get_n_unfinished (NULL), ==, 0);
  g_assert_cmpint (asyncrt_runtime_get_unfinished (NULL, 0, NULL, NULL, NULL, NULL), ==, -EINVAL);
  AsyncrtRuntime *rt = new_runtime ();
  g_assert_cmpint (asyncrt_runtime_block_on (rt, inside_poll, rt), ==, 0);
  g_assert_cmpint (asyncrt_runtime_shutdown_timeout (rt, 0), ==, 0);   /* nothing to wait for */
  g_assert_cmpint (asyncrt_runtime_shutdown_timeout (rt, 0), ==, -EALREADY);
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt), sleeper_poll,
                                                NULL, NULL);
  g_assert_true (asyncrt_join_handle_is_cancelled (jh));   /* spawned after: cancelled */
  asyncrt_join_handle_free (jh);
  asyncrt_runtime_free (rt);
}

/* ---- a worker stuck inside a poll (multi-thread only) ------------------------------------ */

static Gate poll_gate;

typedef struct
{
  atomic_int *freed;
} Blocker;

static AsyncrtPoll
blocker_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  gate_wait (&poll_gate);               /* blocks its worker: a bug this must survive */
  return ASYNCRT_PENDING;
}

static void
blocker_free (void *p)
{
  Blocker *self = p;
  atomic_fetch_add (self->freed, 1);
  g_free (self);
}

typedef struct
{
  atomic_int freed;
  AsyncrtTaskId id;
} StuckWorker;

static AsyncrtPoll
stuck_worker_poll (void *p, AsyncrtContext *cx)
{
  StuckWorker *self = p;
  (void) cx;
  Blocker *b = g_new0 (Blocker, 1);
  b->freed = &self->freed;
  AsyncrtJoinHandle *jh = asyncrt_spawn (blocker_poll, b, blocker_free);
  self->id = asyncrt_join_handle_get_id (jh);
  asyncrt_join_handle_free (jh);
  return ASYNCRT_READY;
}

static void
test_stuck_worker (void)
{
  if (!multi_flavour)
    {
      g_test_skip ("tasks of the current-thread runtime run in block_on only");
      return;
    }
  g_assert_cmpuint (n_runtime_threads (), ==, 0);
  gate_init (&poll_gate);
  StuckWorker t = { 0 };
  AsyncrtRuntime *rt = new_runtime ();
  g_assert_cmpint (asyncrt_runtime_block_on (rt, stuck_worker_poll, &t), ==, 0);
  wait_for (&poll_gate.entered, 1);

  gint64 t0 = g_get_monotonic_time ();
  g_assert_cmpint (asyncrt_runtime_shutdown_timeout (rt, 200), ==, -ETIMEDOUT);
  gint64 took_ms = (g_get_monotonic_time () - t0) / 1000;
  g_assert_cmpint (took_ms, >=, 200);
  g_assert_cmpint (took_ms, <=, 200 + test_timeout_ms (100));
  g_assert_cmpuint (asyncrt_runtime_get_n_unfinished (rt), ==, 1);
  AsyncrtUnfinishedKind kind = 0;
  AsyncrtTaskId id = 0;
  const char *what = NULL;
  g_assert_cmpint (asyncrt_runtime_get_unfinished (rt, 0, &kind, &id, NULL, &what), ==, 0);
  g_assert_cmpint (kind, ==, ASYNCRT_UNFINISHED_WORKER);
  g_assert_cmpuint (id, ==, t.id);
  g_assert_nonnull (strstr (what, "inside the poll of task"));
  g_test_message ("unfinished: %s", what);
  g_assert_cmpint (atomic_load (&t.freed), ==, 0);      /* still inside its poll */

  t0 = g_get_monotonic_time ();
  asyncrt_runtime_free (rt);
  g_assert_cmpint ((g_get_monotonic_time () - t0) / 1000, <=, test_timeout_ms (100));

  /* Released: the poll returns, the task is cancelled (its future freed) and the
   * worker exits, freeing what is left of the runtime. */
  gate_open (&poll_gate);
  wait_for (&t.freed, 1);
  wait_runtime_threads_gone ();
  gate_clear (&poll_gate);
}

int
main (int argc, char **argv)
{
  static const FlavourTest tests[] = {
    { "stuck-blocking-job", test_stuck_job },
    { "queued-job-dropped", test_queued_job_dropped },
    { "in-time", test_in_time },
    { "errors", test_errors },
    { "stuck-worker", test_stuck_worker },
  };
  g_test_init (&argc, &argv, NULL);
  flavour_add_tests ("shutdown", tests, G_N_ELEMENTS (tests));
  return g_test_run ();
}
