/* Progress between two dumps, on both schedulers: a stuck task and a progressing one
 * told apart (also from two censuses), new and gone tasks, a poll that blocks its
 * worker through both dumps, a task woken but never run; the text and JSON forms;
 * dumps of different runtimes refused (also of a runtime rebuilt under the same
 * name); every error return. */
#include <asyncrt/asyncrt.h>
#include <glib.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "flavour-util.h"
#include "harness-util.h"

/* ---- tasks ---------------------------------------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotified wait;
  AsyncrtNotify *notify;
  atomic_int *polled;
} Waiter;

/* Waits for one notification, then completes. */
static AsyncrtPoll __attribute__ ((noinline))
progress_waiter_poll (void *p, AsyncrtContext *cx)
{
  Waiter *self = p;
  atomic_store (self->polled, 1);
  ASYNCRT_BEGIN (&self->co);
  asyncrt_notified_init (&self->wait, self->notify);
  ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->wait, cx));
  asyncrt_notified_clear (&self->wait);
  ASYNCRT_END (&self->co);
}

static void
waiter_free (void *p)
{
  Waiter *self = p;
  asyncrt_notified_clear (&self->wait);
  g_free (self);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSleep sleep;
  atomic_int *polled;
} Ticker;

/* Sleeps 1 ms, forever: polled all the time. */
static AsyncrtPoll
ticker_poll (void *p, AsyncrtContext *cx)
{
  Ticker *self = p;
  atomic_store (self->polled, 1);
  ASYNCRT_BEGIN (&self->co);
  for (;;)
    {
      asyncrt_sleep_init (&self->sleep, 1);
      ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->sleep, cx));
      asyncrt_sleep_clear (&self->sleep);
    }
  ASYNCRT_END (&self->co);
}

static void
ticker_free (void *p)
{
  Ticker *self = p;
  asyncrt_sleep_clear (&self->sleep);
  g_free (self);
}

/* ---- a runtime run by its own threads ----------------------------------------------- */

typedef struct
{
  Harness hs;                 /* the runtime (harness-util.h) */
  int pipe[2];
  atomic_int blocked;
  unsigned n_blockers;
} Fx;

static void
fx_start (Fx *fx)
{
  memset (fx, 0, sizeof *fx);
  fx->pipe[0] = fx->pipe[1] = -1;
  harness_start_runtime (&fx->hs, new_runtime ());
}

static void
fx_release_blockers (Fx *fx)
{
  if (fx->pipe[1] < 0)
    return;
  char c[16] = { 0 };
  g_assert_cmpint (write (fx->pipe[1], c, fx->n_blockers), ==, (ssize_t) fx->n_blockers);
  close (fx->pipe[1]);
  fx->pipe[1] = -1;
}

static void
fx_stop (Fx *fx)
{
  fx_release_blockers (fx);
  harness_stop (&fx->hs);
  if (fx->pipe[0] >= 0)
    close (fx->pipe[0]);
}

static void
wait_flag (atomic_int *flag)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (20000) * 1000;
  while (!atomic_load (flag))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static AsyncrtTaskId
spawn_waiter (Fx *fx, const char *name, AsyncrtNotify *notify, atomic_int *polled)
{
  Waiter *w = g_new0 (Waiter, 1);
  w->notify = notify;
  w->polled = polled;
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_named (fx->hs.h, name, progress_waiter_poll, w,
                                                      waiter_free);
  AsyncrtTaskId id = asyncrt_join_handle_get_id (jh);
  asyncrt_join_handle_free (jh);
  wait_flag (polled);
  return id;
}

static AsyncrtTaskId
spawn_ticker (Fx *fx, atomic_int *polled)
{
  Ticker *t = g_new0 (Ticker, 1);
  t->polled = polled;
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_named (fx->hs.h, "ticker", ticker_poll, t,
                                                      ticker_free);
  AsyncrtTaskId id = asyncrt_join_handle_get_id (jh);
  asyncrt_join_handle_free (jh);
  wait_flag (polled);
  return id;
}

static AsyncrtPoll
blocker_poll (void *p, AsyncrtContext *cx)
{
  Fx *fx = p;
  (void) cx;
  atomic_fetch_add (&fx->blocked, 1);
  char c;
  while (read (fx->pipe[0], &c, 1) < 0 && errno == EINTR)
    ;
  return ASYNCRT_READY;
}

/* Blocks every worker (the block_on thread of a current-thread runtime). */
static void
fx_block_all (Fx *fx, AsyncrtTaskId *ids)
{
  g_assert_cmpint (pipe (fx->pipe), ==, 0);
  fx->n_blockers = multi_flavour ? 4 : 1;
  for (unsigned i = 0; i < fx->n_blockers; i++)
    {
      AsyncrtJoinHandle *jh = asyncrt_handle_spawn_named (fx->hs.h, "blocker", blocker_poll, fx, NULL);
      ids[i] = asyncrt_join_handle_get_id (jh);
      asyncrt_join_handle_free (jh);
    }
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (20000) * 1000;
  while ((unsigned) atomic_load (&fx->blocked) < fx->n_blockers)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static AsyncrtDump *
dump (Fx *fx, unsigned timeout_ms)
{
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (fx->hs.h, timeout_ms, &d), ==, 0);
  return d;
}

static const AsyncrtDumpProgressTask *
find (const AsyncrtDumpProgress *p, AsyncrtTaskId id)
{
  const AsyncrtDumpProgressTask *t = asyncrt_dump_progress_find_task (p, id);
  g_assert_nonnull (t);
  g_assert_cmpuint (asyncrt_dump_progress_task_get_id (t), ==, id);
  return t;
}

/* Waits until a census no longer lists @id. */
static void
wait_gone (Fx *fx, AsyncrtTaskId id)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (20000) * 1000;
  for (;;)
    {
      AsyncrtDump *d = dump (fx, 0);
      bool gone = asyncrt_dump_find_task (d, id) == NULL;
      asyncrt_dump_free (d);
      if (gone)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

/* ---- a stuck task and a progressing one --------------------------------------------- */

static void
check_stuck_and_ticker (unsigned timeout_ms)
{
  Fx fx;
  fx_start (&fx);
  AsyncrtNotify never, finish, late_notify;
  asyncrt_notify_init (&never);
  asyncrt_notify_init (&finish);
  asyncrt_notify_init (&late_notify);
  atomic_int p_stuck = 0, p_ticker = 0, p_finisher = 0, p_late = 0;
  AsyncrtTaskId stuck = spawn_waiter (&fx, "stuck", &never, &p_stuck);
  AsyncrtTaskId ticker = spawn_ticker (&fx, &p_ticker);
  AsyncrtTaskId finisher = spawn_waiter (&fx, "finisher", &finish, &p_finisher);

  AsyncrtDump *a = dump (&fx, timeout_ms);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (a), ==, 3);
  asyncrt_notify_notify_one (&finish);
  wait_gone (&fx, finisher);
  AsyncrtTaskId late = spawn_waiter (&fx, "late", &late_notify, &p_late);
  g_usleep ((gulong) test_timeout_ms (100) * 1000);
  AsyncrtDump *b = dump (&fx, timeout_ms);

  g_assert_cmpuint (asyncrt_dump_get_runtime_serial (a), ==, asyncrt_dump_get_runtime_serial (b));
  g_assert_cmpuint (asyncrt_dump_get_runtime_serial (a), >, 0);
  AsyncrtDumpProgress *p = NULL;
  g_assert_cmpint (asyncrt_dump_progress_new (a, b, &p), ==, 0);
  uint64_t interval = asyncrt_dump_progress_get_interval_ns (p);
  g_assert_cmpuint (interval, >=, 100000000u);
  g_assert_cmpuint (asyncrt_dump_progress_get_n_tasks (p), ==, 4);

  const AsyncrtDumpProgressTask *t = find (p, stuck);
  g_assert_cmpint (asyncrt_dump_progress_task_get_progress (t), ==, ASYNCRT_TASK_PROGRESS_STUCK);
  g_assert_false (asyncrt_dump_progress_task_made_progress (t));
  g_assert_cmpuint (asyncrt_dump_progress_task_get_stuck_ns (t), >=, interval);
  g_assert_cmpuint (asyncrt_dump_progress_task_get_n_polls (t), ==, 0);
  g_assert_nonnull (asyncrt_dump_progress_task_get_earlier (t));
  g_assert_true (asyncrt_dump_progress_task_get_later (t) == asyncrt_dump_find_task (b, stuck));

  t = find (p, ticker);
  g_assert_cmpint (asyncrt_dump_progress_task_get_progress (t), ==, ASYNCRT_TASK_PROGRESS_POLLED);
  g_assert_true (asyncrt_dump_progress_task_made_progress (t));
  g_assert_cmpuint (asyncrt_dump_progress_task_get_n_polls (t), >, 0);
  g_assert_cmpuint (asyncrt_dump_progress_task_get_stuck_ns (t), ==, 0);

  t = find (p, finisher);
  g_assert_cmpint (asyncrt_dump_progress_task_get_progress (t), ==, ASYNCRT_TASK_PROGRESS_GONE);
  g_assert_null (asyncrt_dump_progress_task_get_later (t));
  t = find (p, late);
  g_assert_cmpint (asyncrt_dump_progress_task_get_progress (t), ==, ASYNCRT_TASK_PROGRESS_NEW);
  g_assert_null (asyncrt_dump_progress_task_get_earlier (t));

  g_assert_cmpuint (asyncrt_dump_progress_count (p, ASYNCRT_TASK_PROGRESS_STUCK), ==, 1);
  g_assert_cmpuint (asyncrt_dump_progress_count (p, ASYNCRT_TASK_PROGRESS_POLLED), ==, 1);
  g_assert_cmpuint (asyncrt_dump_progress_count (p, ASYNCRT_TASK_PROGRESS_NEW), ==, 1);
  g_assert_cmpuint (asyncrt_dump_progress_count (p, ASYNCRT_TASK_PROGRESS_GONE), ==, 1);
  g_assert_cmpuint (asyncrt_dump_progress_count (p, ASYNCRT_TASK_PROGRESS_WOKEN), ==, 0);

  /* Text: the stuck task with why and (traced dumps) where; not the ticker. */
  char *text = asyncrt_dump_progress_to_string (p, 0);
  g_assert_nonnull (strstr (text, "4 tasks, 1 made progress, 1 stuck, 1 new, 1 gone\n"));
  char *line = g_strdup_printf ("task %" G_GUINT64_FORMAT " stuck for ", stuck);
  g_assert_nonnull (strstr (text, line));
  g_free (line);
  g_assert_nonnull (strstr (text, "(idle, not polled and not woken since the earlier dump)"));
  g_assert_null (strstr (text, "\"ticker\""));
  if (timeout_ms > 0)
    g_assert_nonnull (strstr (text, "progress_waiter_poll"));
  free (text);
  text = asyncrt_dump_progress_to_string (p, ASYNCRT_DUMP_PROGRESS_ALL);
  g_assert_nonnull (strstr (text, "polled, "));
  g_assert_nonnull (strstr (text, "name \"ticker\""));
  free (text);
  char *json = asyncrt_dump_progress_to_json (p);
  g_assert_nonnull (strstr (json, "\"counts\":{\"polled\":1,\"woken\":0,\"stuck\":1,"
                                  "\"stuck_running\":0,\"stuck_queued\":0,\"new\":1,\"gone\":1}"));
  g_assert_nonnull (strstr (json, "\"progress\":\"stuck\",\"made_progress\":false"));
  free (json);
  asyncrt_dump_progress_free (p);

  /* The other way round: refused. */
  g_assert_cmpint (asyncrt_dump_progress_new (b, a, &p), ==, -EINVAL);
  asyncrt_dump_free (a);
  asyncrt_dump_free (b);
  asyncrt_notify_notify_one (&late_notify);
  fx_stop (&fx);
  asyncrt_notify_clear (&never);
  asyncrt_notify_clear (&finish);
  asyncrt_notify_clear (&late_notify);
}

static void
test_stuck_and_progressing (void)
{
  check_stuck_and_ticker (test_timeout_ms (5000));
}

static void
test_censuses (void)
{
  check_stuck_and_ticker (0);
}

/* ---- every worker blocked: a poll that never returns, a wake nobody runs ------------- */

static void
test_blocked (void)
{
  Fx fx;
  fx_start (&fx);
  AsyncrtNotify wake;
  asyncrt_notify_init (&wake);
  atomic_int polled = 0;
  AsyncrtTaskId waiter = spawn_waiter (&fx, "waiter", &wake, &polled);
  AsyncrtTaskId blockers[4];
  fx_block_all (&fx, blockers);

  /* Censuses: no worker can take a traced dump. */
  AsyncrtDump *d0 = dump (&fx, 0);
  asyncrt_notify_notify_one (&wake);                 /* queued; nobody runs it */
  AsyncrtDump *d1 = dump (&fx, 0);
  g_usleep ((gulong) test_timeout_ms (50) * 1000);
  AsyncrtDump *d2 = dump (&fx, 0);

  AsyncrtDumpProgress *p;
  g_assert_cmpint (asyncrt_dump_progress_new (d0, d1, &p), ==, 0);
  const AsyncrtDumpProgressTask *t = find (p, waiter);
  g_assert_cmpint (asyncrt_dump_progress_task_get_progress (t), ==, ASYNCRT_TASK_PROGRESS_WOKEN);
  g_assert_true (asyncrt_dump_progress_task_made_progress (t));
  asyncrt_dump_progress_free (p);

  g_assert_cmpint (asyncrt_dump_progress_new (d1, d2, &p), ==, 0);
  uint64_t interval = asyncrt_dump_progress_get_interval_ns (p);
  t = find (p, waiter);
  g_assert_cmpint (asyncrt_dump_progress_task_get_progress (t), ==,
                   ASYNCRT_TASK_PROGRESS_STUCK_QUEUED);
  g_assert_cmpuint (asyncrt_dump_progress_task_get_stuck_ns (t), >=, interval);
  for (unsigned i = 0; i < fx.n_blockers; i++)
    {
      t = find (p, blockers[i]);
      g_assert_cmpint (asyncrt_dump_progress_task_get_progress (t), ==,
                       ASYNCRT_TASK_PROGRESS_STUCK_RUNNING);
      g_assert_cmpuint (asyncrt_dump_progress_task_get_stuck_ns (t), >=, interval);
    }
  char *text = asyncrt_dump_progress_to_string (p, 0);
  g_assert_nonnull (strstr (text, "it blocks its worker"));
  g_assert_nonnull (strstr (text, "no worker ran it"));
  free (text);
  asyncrt_dump_progress_free (p);

  /* Once released, everything moves: the blockers finish, the waiter is polled. */
  fx_release_blockers (&fx);
  wait_gone (&fx, waiter);
  AsyncrtDump *d3 = dump (&fx, test_timeout_ms (5000));
  g_assert_cmpint (asyncrt_dump_progress_new (d2, d3, &p), ==, 0);
  g_assert_cmpint (asyncrt_dump_progress_task_get_progress (find (p, waiter)), ==,
                   ASYNCRT_TASK_PROGRESS_GONE);
  g_assert_cmpuint (asyncrt_dump_progress_count (p, ASYNCRT_TASK_PROGRESS_GONE), ==,
                    1 + fx.n_blockers);
  asyncrt_dump_progress_free (p);
  asyncrt_dump_free (d0);
  asyncrt_dump_free (d1);
  asyncrt_dump_free (d2);
  asyncrt_dump_free (d3);
  fx_stop (&fx);
  asyncrt_notify_clear (&wake);
}

/* ---- which runtime ------------------------------------------------------------------ */

static AsyncrtRuntime *
build_named (const char *name)
{
  AsyncrtBuilder *b = multi_flavour ? asyncrt_builder_new_multi_thread ()
                                    : asyncrt_builder_new_current_thread ();
  asyncrt_builder_set_name (b, name);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  return rt;
}

static void
test_identity (void)
{
  AsyncrtRuntime *one = build_named ("svc");
  AsyncrtDump *a = NULL, *b = NULL, *c = NULL;
  g_assert_cmpint (asyncrt_handle_dump (asyncrt_runtime_get_handle (one), 0, &a), ==, 0);
  g_assert_cmpstr (asyncrt_dump_get_runtime_name (a), ==, "svc");
  uint64_t serial = asyncrt_dump_get_runtime_serial (a);
  asyncrt_runtime_free (one);
  /* Another runtime under the same name: not the same runtime. */
  AsyncrtRuntime *two = build_named ("svc");
  g_assert_cmpint (asyncrt_handle_dump (asyncrt_runtime_get_handle (two), 0, &b), ==, 0);
  g_assert_cmpstr (asyncrt_dump_get_runtime_name (b), ==, "svc");
  g_assert_cmpuint (asyncrt_dump_get_runtime_serial (b), !=, serial);
  AsyncrtDumpProgress *p = NULL;
  g_assert_cmpint (asyncrt_dump_progress_new (a, b, &p), ==, -EXDEV);
  g_assert_null (p);
  g_assert_cmpint (asyncrt_handle_dump (asyncrt_runtime_get_handle (two), 0, &c), ==, 0);
  g_assert_cmpint (asyncrt_dump_progress_new (b, c, &p), ==, 0);
  g_assert_cmpuint (asyncrt_dump_progress_get_n_tasks (p), ==, 0);
  asyncrt_dump_progress_free (p);
  char *json = asyncrt_dump_to_json (c);
  char *want = g_strdup_printf ("\"runtime\":{\"name\":\"svc\",\"serial\":%" G_GUINT64_FORMAT "}",
                                asyncrt_dump_get_runtime_serial (c));
  g_assert_nonnull (strstr (json, want));
  g_assert_nonnull (strstr (json, "\"filter\":null"));
  g_free (want);
  free (json);
  asyncrt_dump_free (a);
  asyncrt_dump_free (b);
  asyncrt_dump_free (c);
  asyncrt_runtime_free (two);
}

static void
test_errors (void)
{
  AsyncrtDumpProgress *p = NULL;
  AsyncrtRuntime *rt = new_runtime ();
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (asyncrt_runtime_get_handle (rt), 0, &d), ==, 0);
  g_assert_cmpint (asyncrt_dump_progress_new (NULL, d, &p), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_progress_new (d, NULL, &p), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_progress_new (d, d, NULL), ==, -EINVAL);
  g_assert_null (p);
  g_assert_cmpint (asyncrt_dump_progress_new (d, d, &p), ==, 0);   /* the same moment */
  g_assert_cmpuint (asyncrt_dump_progress_get_interval_ns (p), ==, 0);
  g_assert_null (asyncrt_dump_progress_get_task (p, 0));
  g_assert_null (asyncrt_dump_progress_find_task (p, 1));
  g_assert_cmpuint (asyncrt_dump_progress_count (p, (AsyncrtTaskProgress) 99), ==, 0);
  asyncrt_dump_progress_free (p);
  asyncrt_dump_free (d);
  asyncrt_runtime_free (rt);

  asyncrt_dump_progress_free (NULL);
  g_assert_cmpuint (asyncrt_dump_progress_get_n_tasks (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_dump_progress_get_interval_ns (NULL), ==, 0);
  g_assert_null (asyncrt_dump_progress_get_task (NULL, 0));
  g_assert_null (asyncrt_dump_progress_find_task (NULL, 1));
  g_assert_cmpuint (asyncrt_dump_progress_count (NULL, ASYNCRT_TASK_PROGRESS_STUCK), ==, 0);
  g_assert_cmpuint (asyncrt_dump_progress_task_get_id (NULL), ==, 0);
  g_assert_cmpint (asyncrt_dump_progress_task_get_progress (NULL), ==, ASYNCRT_TASK_PROGRESS_GONE);
  g_assert_false (asyncrt_dump_progress_task_made_progress (NULL));
  g_assert_cmpuint (asyncrt_dump_progress_task_get_stuck_ns (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_dump_progress_task_get_n_polls (NULL), ==, 0);
  g_assert_null (asyncrt_dump_progress_task_get_earlier (NULL));
  g_assert_null (asyncrt_dump_progress_task_get_later (NULL));
  g_assert_null (asyncrt_dump_progress_to_string (NULL, 0));
  g_assert_null (asyncrt_dump_progress_to_json (NULL));
  g_assert_cmpuint (asyncrt_dump_get_runtime_serial (NULL), ==, 0);
  g_assert_null (asyncrt_dump_get_runtime_name (NULL));
  static const char *const names[] = { "polled", "woken", "stuck", "stuck_running",
                                       "stuck_queued", "new", "gone" };
  for (unsigned k = 0; k < G_N_ELEMENTS (names); k++)
    g_assert_cmpstr (asyncrt_task_progress_to_string ((AsyncrtTaskProgress) k), ==, names[k]);
  g_assert_cmpstr (asyncrt_task_progress_to_string ((AsyncrtTaskProgress) 42), ==, "unknown");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const FlavourTest tests[] = {
    { "stuck-and-progressing", test_stuck_and_progressing },
    { "censuses", test_censuses },
    { "blocked", test_blocked },
    { "identity", test_identity },
  };
  flavour_add_tests ("dump-progress", tests, G_N_ELEMENTS (tests));
  g_test_add_func ("/dump-progress/errors", test_errors);
  return g_test_run ();
}
