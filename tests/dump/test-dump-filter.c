/* Filtered dumps on both schedulers: each filter (name pattern, states, minimum idle
 * time, a task and its descendants) on a runtime of 10,000 tasks traces only the
 * matching tasks, also when they wait in a run queue; the dump future and censuses
 * apply filters too; the filter shows in the text and JSON forms; every error return.
 *
 * How trace polls are counted: every task's poll function counts its own polls, the
 * ones made while asyncrt_trace_is_tracing() (the dump's trace polls) apart from the
 * real ones.  A dump that traced only the matching tasks raised only their trace
 * count, by exactly one each. */
#include <asyncrt/asyncrt.h>
#include <glib.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "flavour-util.h"
#include "harness-util.h"

#define N_BULK 10000u
#define N_MAX (N_BULK + 64u)

static atomic_uint trace_polls[N_MAX];
static atomic_uint real_polls[N_MAX];
static AsyncrtNotify never;                 /* never notified */

/* ---- tasks that count their polls ------------------------------------------------------ */

typedef enum
{
  PLAIN,
  SLEEPER,        /* waits on a long sleep instead of the notify */
  ROOT,           /* spawns "child" (which spawns "grandchild") and "middle" */
  CHILD,          /* spawns "grandchild" */
  MIDDLE          /* spawns "orphan", then completes */
} Kind;

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotified wait;
  AsyncrtSleep sleep;
  unsigned index;
  Kind kind;
} Waiter;

static AsyncrtTaskId middle_id;
static atomic_uint next_index;

static void waiter_free (void *p);
static AsyncrtPoll waiter_poll (void *p, AsyncrtContext *cx);

static AsyncrtJoinHandle *
spawn_in_task (const char *name, Kind kind)
{
  Waiter *w = g_new0 (Waiter, 1);
  w->index = atomic_fetch_add (&next_index, 1);
  g_assert_cmpuint (w->index, <, N_MAX);
  w->kind = kind;
  return asyncrt_spawn_named (name, waiter_poll, w, waiter_free);
}

static AsyncrtPoll
waiter_poll (void *p, AsyncrtContext *cx)
{
  Waiter *self = p;
  if (asyncrt_trace_is_tracing ())
    atomic_fetch_add (&trace_polls[self->index], 1);
  else
    atomic_fetch_add (&real_polls[self->index], 1);
  ASYNCRT_BEGIN (&self->co);
  if (self->kind == ROOT)
    {
      asyncrt_join_handle_free (spawn_in_task ("child", CHILD));
      AsyncrtJoinHandle *m = spawn_in_task ("middle", MIDDLE);
      middle_id = asyncrt_join_handle_get_id (m);
      asyncrt_join_handle_free (m);
    }
  else if (self->kind == CHILD)
    asyncrt_join_handle_free (spawn_in_task ("grandchild", PLAIN));
  else if (self->kind == MIDDLE)
    {
      asyncrt_join_handle_free (spawn_in_task ("orphan", PLAIN));
      ASYNCRT_RETURN (&self->co);               /* completes: "orphan" loses its link */
    }
  else if (self->kind == SLEEPER)
    {
      asyncrt_sleep_init (&self->sleep, 3600 * 1000);
      ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->sleep, cx));
    }
  asyncrt_notified_init (&self->wait, &never);
  ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->wait, cx));
  asyncrt_notified_clear (&self->wait);
  ASYNCRT_END (&self->co);
}

static void
waiter_free (void *p)
{
  Waiter *self = p;
  asyncrt_notified_clear (&self->wait);
  asyncrt_sleep_clear (&self->sleep);
  g_free (self);
}

/* ---- a runtime that runs while the test thread dumps it ------------------------------ */

typedef struct
{
  Harness hs;                 /* the runtime (harness-util.h) */
  int block_pipe[2];
  atomic_int blocked;
} Fx;

static void
fx_start (Fx *fx)
{
  memset (fx, 0, sizeof *fx);
  for (unsigned i = 0; i < N_MAX; i++)
    {
      atomic_store (&trace_polls[i], 0);
      atomic_store (&real_polls[i], 0);
    }
  atomic_store (&next_index, 0);
  asyncrt_notify_init (&never);
  fx->block_pipe[0] = fx->block_pipe[1] = -1;
  harness_start_runtime (&fx->hs, new_runtime ());
}

static void
fx_stop (Fx *fx)
{
  if (fx->block_pipe[1] >= 0)
    {
      char c[8] = { 0 };
      g_assert_cmpint (write (fx->block_pipe[1], c, sizeof c), ==, (ssize_t) sizeof c);
    }
  harness_stop (&fx->hs);
  asyncrt_notify_clear (&never);
  if (fx->block_pipe[0] >= 0)
    {
      close (fx->block_pipe[0]);
      close (fx->block_pipe[1]);
    }
}

/* Spawns a PLAIN (or other) task from the test thread; returns its id. */
static AsyncrtTaskId
fx_spawn (Fx *fx, const char *name, Kind kind)
{
  Waiter *w = g_new0 (Waiter, 1);
  w->index = atomic_fetch_add (&next_index, 1);
  g_assert_cmpuint (w->index, <, N_MAX);
  w->kind = kind;
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_named (fx->hs.h, name, waiter_poll, w, waiter_free);
  g_assert_nonnull (jh);
  AsyncrtTaskId id = asyncrt_join_handle_get_id (jh);
  asyncrt_join_handle_free (jh);
  return id;
}

/* Waits until every task spawned so far had its first real poll. */
static void
fx_wait_polled (void)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (60000) * 1000;
  for (;;)
    {
      unsigned n = atomic_load (&next_index), done = 0;
      for (unsigned i = 0; i < n; i++)
        done += atomic_load (&real_polls[i]) > 0;
      if (done == n)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (2000);
    }
}

/* Blocks one worker (multi-thread) in read(): a RUNNING task for as long as it lasts. */
static AsyncrtPoll
blocker_poll (void *p, AsyncrtContext *cx)
{
  Fx *fx = p;
  (void) cx;
  atomic_store (&fx->blocked, 1);
  char c;
  while (read (fx->block_pipe[0], &c, 1) < 0 && errno == EINTR)
    ;
  return ASYNCRT_READY;
}

static AsyncrtTaskId
fx_spawn_blocker (Fx *fx)
{
  g_assert_cmpint (pipe (fx->block_pipe), ==, 0);
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_named (fx->hs.h, "blocker", blocker_poll, fx, NULL);
  AsyncrtTaskId id = asyncrt_join_handle_get_id (jh);
  asyncrt_join_handle_free (jh);
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (20000) * 1000;
  while (!atomic_load (&fx->blocked))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
  return id;
}

static unsigned
trace_polls_of (unsigned first, unsigned n)
{
  unsigned sum = 0;
  for (unsigned i = first; i < first + n; i++)
    sum += atomic_load (&trace_polls[i]);
  return sum;
}

static AsyncrtDump *
dump_with (Fx *fx, const AsyncrtDumpOptions *opts, unsigned timeout_ms)
{
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump_full (fx->hs.h, timeout_ms, opts, &d), ==, 0);
  g_assert_nonnull (d);
  g_assert_true (asyncrt_dump_is_filtered (d) == asyncrt_dump_options_is_filtered (opts));
  return d;
}

static void
assert_names (const AsyncrtDump *d, const char *prefix)
{
  for (size_t i = 0; i < asyncrt_dump_get_n_tasks (d); i++)
    g_assert_true (g_str_has_prefix (asyncrt_dump_task_get_name (asyncrt_dump_get_task (d, i)),
                                     prefix));
}

/* ---- the filters on 10,000 tasks ----------------------------------------------------- */

static void
test_name_10k (void)
{
  Fx fx;
  fx_start (&fx);
  for (unsigned i = 0; i < N_BULK; i++)
    fx_spawn (&fx, "bulk", PLAIN);
  for (unsigned i = 0; i < 3; i++)
    {
      char name[32];
      g_snprintf (name, sizeof name, "needle-%u", i);
      fx_spawn (&fx, name, PLAIN);
    }
  fx_spawn (&fx, "a-needle-0", PLAIN);         /* the pattern matches whole names */
  fx_wait_polled ();

  AsyncrtDumpOptions *opts = asyncrt_dump_options_new ();
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (opts, "needle-*"), ==, 0);
  AsyncrtDump *d = dump_with (&fx, opts, test_timeout_ms (10000));
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 3);
  assert_names (d, "needle-");
  g_assert_true (asyncrt_dump_is_complete (d));
  for (size_t i = 0; i < 3; i++)
    g_assert_nonnull (asyncrt_dump_task_get_trace (asyncrt_dump_get_task (d, i)));
  /* Only the three were trace-polled, once each. */
  g_assert_cmpuint (trace_polls_of (0, N_BULK), ==, 0);
  for (unsigned i = N_BULK; i < N_BULK + 3; i++)
    g_assert_cmpuint (atomic_load (&trace_polls[i]), ==, 1);
  g_assert_cmpuint (atomic_load (&trace_polls[N_BULK + 3]), ==, 0);

  char *text = asyncrt_dump_to_string (d);
  g_assert_nonnull (strstr (text, ": 3 tasks, complete (filtered: name \"needle-*\")\n"));
  free (text);
  char *json = asyncrt_dump_to_json (d);
  g_assert_nonnull (strstr (json, "\"filter\":{\"name\":\"needle-*\",\"states\":[\"idle\","
                                  "\"scheduled\",\"running\"],\"min_idle_ns\":0,"
                                  "\"descendants_of\":null,\"wait_kinds\":null}"));
  free (json);
  asyncrt_dump_free (d);

  /* "?" is one character; an unnamed task is the empty name. */
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (opts, "needle-?"), ==, 0);
  d = dump_with (&fx, opts, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 3);
  asyncrt_dump_free (d);
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (opts, ""), ==, 0);
  d = dump_with (&fx, opts, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 0);
  asyncrt_dump_free (d);
  asyncrt_dump_options_free (opts);
  fx_stop (&fx);
}

/* Tasks that wait in a run queue when the dump is taken: the ones that do not match
 * are handed back untraced, and every one of them still gets its real poll. */
static void
test_name_queued (void)
{
  Fx fx;
  fx_start (&fx);
  AsyncrtDumpOptions *opts = asyncrt_dump_options_new ();
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (opts, "needle"), ==, 0);
  fx_spawn (&fx, "needle", PLAIN);
  for (unsigned i = 0; i < N_BULK; i++)
    fx_spawn (&fx, "bulk", PLAIN);
  /* At once: many of them have not run yet. */
  AsyncrtDump *d = dump_with (&fx, opts, test_timeout_ms (10000));
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 1);
  assert_names (d, "needle");
  g_assert_cmpuint (trace_polls_of (1, N_BULK), ==, 0);
  g_assert_cmpuint (atomic_load (&trace_polls[0]), <=, 1);
  asyncrt_dump_free (d);
  fx_wait_polled ();                  /* nothing was lost */
  for (unsigned i = 0; i <= N_BULK; i++)
    g_assert_cmpuint (atomic_load (&real_polls[i]), ==, 1);
  asyncrt_dump_options_free (opts);
  fx_stop (&fx);
}

static void
test_state_10k (void)
{
  Fx fx;
  fx_start (&fx);
  for (unsigned i = 0; i < N_BULK; i++)
    fx_spawn (&fx, "bulk", PLAIN);
  fx_wait_polled ();
  AsyncrtTaskId blocker = multi_flavour ? fx_spawn_blocker (&fx) : 0;

  AsyncrtDumpOptions *opts = asyncrt_dump_options_new ();
  g_assert_cmpint (asyncrt_dump_options_set_states (opts, ASYNCRT_TASK_STATE_FLAG_RUNNING
                                                          | ASYNCRT_TASK_STATE_FLAG_SCHEDULED),
                   ==, 0);
  /* The blocked worker does not stop: the dump goes ahead without it (3/4 of the
   * timeout), with nothing to trace. */
  AsyncrtDump *d = dump_with (&fx, opts, test_timeout_ms (1000));
  g_assert_cmpuint (trace_polls_of (0, N_BULK), ==, 0);
  if (multi_flavour)
    {
      g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 1);
      const AsyncrtDumpTask *t = asyncrt_dump_get_task (d, 0);
      g_assert_cmpuint (asyncrt_dump_task_get_id (t), ==, blocker);
      g_assert_cmpint (asyncrt_dump_task_get_state (t), ==, ASYNCRT_TASK_STATE_RUNNING);
      /* Not trace-polled: at most the native stack of its worker (blocked in read). */
      g_assert_cmpint (asyncrt_dump_task_get_trace_kind (t), !=, ASYNCRT_TRACE_KIND_ASYNC);
      g_assert_cmpuint (asyncrt_dump_task_get_n_waits (t), ==, 0);
    }
  else
    g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 0);
  char *text = asyncrt_dump_to_string (d);
  g_assert_nonnull (strstr (text, "(filtered: state scheduled or running)"));
  free (text);
  asyncrt_dump_free (d);

  /* Idle only: the blocker is left out, every idle task traced once. */
  if (multi_flavour)
    {
      char c[8] = { 0 };
      g_assert_cmpint (write (fx.block_pipe[1], c, sizeof c), ==, (ssize_t) sizeof c);
      gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (20000) * 1000;
      for (;;)
        {
          d = NULL;
          g_assert_cmpint (asyncrt_handle_dump_full (fx.hs.h, 0, NULL, &d), ==, 0);
          bool gone = asyncrt_dump_find_task (d, blocker) == NULL;
          asyncrt_dump_free (d);
          if (gone)
            break;
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (1000);
        }
    }
  g_assert_cmpint (asyncrt_dump_options_set_states (opts, ASYNCRT_TASK_STATE_FLAG_IDLE), ==, 0);
  d = dump_with (&fx, opts, test_timeout_ms (30000));
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, N_BULK);
  g_assert_true (asyncrt_dump_is_complete (d));
  for (unsigned i = 0; i < N_BULK; i++)
    g_assert_cmpuint (atomic_load (&trace_polls[i]), ==, 1);
  asyncrt_dump_free (d);
  asyncrt_dump_options_free (opts);
  fx_stop (&fx);
}

static void
test_min_idle_10k (void)
{
  Fx fx;
  fx_start (&fx);
  for (unsigned i = 0; i < 5; i++)
    fx_spawn (&fx, "old", PLAIN);
  fx_wait_polled ();
  gint64 old_done = g_get_monotonic_time ();
  g_usleep ((gulong) test_timeout_ms (400) * 1000);
  gint64 fresh_start = g_get_monotonic_time ();
  for (unsigned i = 0; i < N_BULK; i++)
    fx_spawn (&fx, "fresh", PLAIN);
  fx_wait_polled ();
  /* Halfway between the two groups: the old ones have been idle longer than that, the
   * fresh ones shorter, as long as the dump is taken within half the gap from now. */
  gint64 now = g_get_monotonic_time ();
  uint64_t threshold_us = (uint64_t) (now - (old_done + fresh_start) / 2);
  AsyncrtDumpOptions *opts = asyncrt_dump_options_new ();
  g_assert_cmpint (asyncrt_dump_options_set_min_idle_ns (opts, threshold_us * 1000), ==, 0);
  AsyncrtDump *d = dump_with (&fx, opts, test_timeout_ms (10000));
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 5);
  assert_names (d, "old");
  for (size_t i = 0; i < 5; i++)
    g_assert_cmpuint (asyncrt_dump_task_get_idle_ns (asyncrt_dump_get_task (d, i)), >=,
                      threshold_us * 1000);
  g_assert_cmpuint (trace_polls_of (0, 5), ==, 5);
  g_assert_cmpuint (trace_polls_of (5, N_BULK), ==, 0);
  char *text = asyncrt_dump_to_string (d);
  g_assert_nonnull (strstr (text, "(filtered: idle at least "));
  free (text);
  asyncrt_dump_free (d);
  asyncrt_dump_options_free (opts);
  fx_stop (&fx);
}

static void
test_descendants_10k (void)
{
  Fx fx;
  fx_start (&fx);
  for (unsigned i = 0; i < N_BULK / 2; i++)
    fx_spawn (&fx, "bulk", PLAIN);
  AsyncrtTaskId root = fx_spawn (&fx, "root", ROOT);   /* child, grandchild, middle, orphan */
  for (unsigned i = 0; i < N_BULK / 2; i++)
    fx_spawn (&fx, "bulk", PLAIN);
  /* Wait for the whole family (5 tasks past the bulk) and their first polls. */
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (30000) * 1000;
  while (atomic_load (&next_index) < N_BULK + 5)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
  fx_wait_polled ();
  /* "middle" has completed by now: it is gone from the task list. */
  AsyncrtDump *all = dump_with (&fx, NULL, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (all), ==, N_BULK + 4);
  g_assert_null (asyncrt_dump_find_task (all, middle_id));
  asyncrt_dump_free (all);
  for (unsigned i = 0; i < N_MAX; i++)
    atomic_store (&trace_polls[i], 0);

  AsyncrtDumpOptions *opts = asyncrt_dump_options_new ();
  g_assert_cmpint (asyncrt_dump_options_set_descendants_of (opts, root), ==, 0);
  AsyncrtDump *d = dump_with (&fx, opts, test_timeout_ms (10000));
  /* root, child, grandchild; not "orphan", whose parent "middle" completed. */
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 3);
  g_assert_cmpstr (asyncrt_dump_task_get_name (asyncrt_dump_get_task (d, 0)), ==, "root");
  g_assert_cmpuint (asyncrt_dump_task_get_id (asyncrt_dump_get_task (d, 0)), ==, root);
  bool child = false, grandchild = false;
  for (size_t i = 1; i < 3; i++)
    {
      const char *n = asyncrt_dump_task_get_name (asyncrt_dump_get_task (d, i));
      child |= g_strcmp0 (n, "child") == 0;
      grandchild |= g_strcmp0 (n, "grandchild") == 0;
    }
  g_assert_true (child && grandchild);
  unsigned total = 0;
  for (unsigned i = 0; i < N_MAX; i++)
    total += atomic_load (&trace_polls[i]);
  g_assert_cmpuint (total, ==, 3);
  char *text = asyncrt_dump_to_string (d);
  char *want = g_strdup_printf ("(filtered: task %" G_GUINT64_FORMAT " and its descendants)", root);
  g_assert_nonnull (strstr (text, want));
  g_free (want);
  free (text);
  asyncrt_dump_free (d);

  /* The descendants of a completed task: its children that are still alive. */
  g_assert_cmpint (asyncrt_dump_options_set_descendants_of (opts, middle_id), ==, 0);
  d = dump_with (&fx, opts, test_timeout_ms (10000));
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 1);
  g_assert_cmpstr (asyncrt_dump_task_get_name (asyncrt_dump_get_task (d, 0)), ==, "orphan");
  asyncrt_dump_free (d);

  /* Combined with a name: both must match. */
  g_assert_cmpint (asyncrt_dump_options_set_descendants_of (opts, root), ==, 0);
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (opts, "*child"), ==, 0);
  d = dump_with (&fx, opts, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 2);
  asyncrt_dump_free (d);
  asyncrt_dump_options_free (opts);
  fx_stop (&fx);
}

/* What a task waits on is known from its trace only: every task the other filters let
 * through is traced, and those not waiting on one of the kinds are left out. */
static void
test_wait_kinds_10k (void)
{
  Fx fx;
  fx_start (&fx);
  for (unsigned i = 0; i < N_BULK; i++)
    fx_spawn (&fx, "bulk", PLAIN);                     /* waiting on the notify */
  for (unsigned i = 0; i < 3; i++)
    fx_spawn (&fx, "sleeper", SLEEPER);
  fx_wait_polled ();
  AsyncrtDumpOptions *opts = asyncrt_dump_options_new ();
  g_assert_cmpint (asyncrt_dump_options_set_wait_kinds (opts, ASYNCRT_WAIT_KIND_BIT (ASYNCRT_WAIT_SLEEP)
                                                              | ASYNCRT_WAIT_KIND_BIT (ASYNCRT_WAIT_MUTEX)),
                   ==, 0);
  g_assert_true (asyncrt_dump_options_is_filtered (opts));
  AsyncrtDump *d = dump_with (&fx, opts, test_timeout_ms (30000));
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 3);
  assert_names (d, "sleeper");
  for (size_t i = 0; i < 3; i++)
    g_assert_cmpint (asyncrt_wait_get_kind (asyncrt_dump_task_get_wait (asyncrt_dump_get_task (d, i), 0)),
                     ==, ASYNCRT_WAIT_SLEEP);
  /* Every task was traced, once. */
  for (unsigned i = 0; i < N_BULK + 3; i++)
    g_assert_cmpuint (atomic_load (&trace_polls[i]), ==, 1);
  char *text = asyncrt_dump_to_string (d);
  g_assert_nonnull (strstr (text, "(filtered: waiting on sleep or mutex)"));
  free (text);
  char *json = asyncrt_dump_to_json (d);
  g_assert_nonnull (strstr (json, "\"wait_kinds\":[\"sleep\",\"mutex\"]}"));
  free (json);
  asyncrt_dump_free (d);

  /* With a name filter first: only the named tasks are traced at all. */
  for (unsigned i = 0; i < N_MAX; i++)
    atomic_store (&trace_polls[i], 0);
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (opts, "sleep*"), ==, 0);
  g_assert_cmpint (asyncrt_dump_options_set_wait_kinds (opts, ASYNCRT_WAIT_KIND_BIT (ASYNCRT_WAIT_NOTIFY)),
                   ==, 0);
  d = dump_with (&fx, opts, test_timeout_ms (10000));
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 0);
  g_assert_cmpuint (trace_polls_of (0, N_BULK), ==, 0);
  g_assert_cmpuint (trace_polls_of (N_BULK, 3), ==, 3);
  asyncrt_dump_free (d);
  /* A census knows no waits: nothing matches. */
  d = dump_with (&fx, opts, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 0);
  asyncrt_dump_free (d);
  asyncrt_dump_options_free (opts);
  fx_stop (&fx);
}

/* ---- the dump future and censuses ---------------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtDumpFuture df;
  AsyncrtDumpOptions *opts;
  AsyncrtSleep sleep;
  gint64 deadline;
} Inspect;

static AsyncrtPoll
inspect_poll (void *p, AsyncrtContext *cx)
{
  Inspect *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (unsigned i = 0; i < 20; i++)
    asyncrt_join_handle_free (spawn_in_task ("bulk", PLAIN));
  for (unsigned i = 0; i < 3; i++)
    asyncrt_join_handle_free (spawn_in_task ("needle", PLAIN));
  AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 10000,
               atomic_load (&real_polls[22]) > 0 && atomic_load (&real_polls[0]) > 0);
  self->opts = asyncrt_dump_options_new ();
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (self->opts, "needle"), ==, 0);
  asyncrt_dump_future_init_full (&self->df, asyncrt_handle_current (), test_timeout_ms (5000),
                                 self->opts);
  asyncrt_dump_options_free (self->opts);     /* copied: freeing it now is fine */
  self->opts = NULL;
  ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
  {
    AsyncrtDump *d = asyncrt_dump_future_take (&self->df);
    g_assert_nonnull (d);
    g_assert_true (asyncrt_dump_is_filtered (d));
    g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 3);
    assert_names (d, "needle");
    asyncrt_dump_free (d);
  }
  asyncrt_dump_future_clear (&self->df);
  /* A census through the future, filtered the same way. */
  self->opts = asyncrt_dump_options_new ();
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (self->opts, "bulk"), ==, 0);
  asyncrt_dump_future_init_full (&self->df, asyncrt_handle_current (), 0, self->opts);
  asyncrt_dump_options_free (self->opts);
  self->opts = NULL;
  ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
  {
    AsyncrtDump *d = asyncrt_dump_future_take (&self->df);
    g_assert_nonnull (d);
    g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 20);
    g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (asyncrt_dump_get_task (d, 0)), ==,
                     ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO);
    asyncrt_dump_free (d);
  }
  asyncrt_dump_future_clear (&self->df);
  ASYNCRT_END (&self->co);
}

static void
test_future (void)
{
  for (unsigned i = 0; i < N_MAX; i++)
    {
      atomic_store (&trace_polls[i], 0);
      atomic_store (&real_polls[i], 0);
    }
  atomic_store (&next_index, 0);
  asyncrt_notify_init (&never);
  Inspect in = { 0 };
  run_on_new_runtime (inspect_poll, &in);
  g_assert_cmpuint (trace_polls_of (0, 20), ==, 0);
  g_assert_cmpuint (trace_polls_of (20, 3), ==, 3);
  asyncrt_notify_clear (&never);
}

static void
test_census (void)
{
  Fx fx;
  fx_start (&fx);
  for (unsigned i = 0; i < 50; i++)
    fx_spawn (&fx, i % 10 == 0 ? "tenth" : "other", PLAIN);
  fx_wait_polled ();
  AsyncrtDumpOptions *opts = asyncrt_dump_options_new ();
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (opts, "tenth"), ==, 0);
  g_assert_cmpint (asyncrt_dump_options_set_states (opts, ASYNCRT_TASK_STATE_FLAG_IDLE), ==, 0);
  AsyncrtDump *d = dump_with (&fx, opts, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 5);
  assert_names (d, "tenth");
  g_assert_false (asyncrt_dump_is_complete (d));
  asyncrt_dump_free (d);
  g_assert_cmpuint (trace_polls_of (0, 50), ==, 0);
  asyncrt_dump_options_free (opts);
  fx_stop (&fx);
}

/* ---- errors --------------------------------------------------------------------------- */

static void
test_errors (void)
{
  AsyncrtDumpOptions *o = asyncrt_dump_options_new ();
  g_assert_false (asyncrt_dump_options_is_filtered (o));
  g_assert_false (asyncrt_dump_options_is_filtered (NULL));
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (NULL, "x"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (o, "\xff\xfe"), ==, -EINVAL);
  char *long_pattern = g_strnfill (256, 'a');
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (o, long_pattern), ==, -EINVAL);
  long_pattern[255] = '\0';
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (o, long_pattern), ==, 0);
  g_free (long_pattern);
  g_assert_true (asyncrt_dump_options_is_filtered (o));
  g_assert_cmpint (asyncrt_dump_options_set_name_pattern (o, NULL), ==, 0);
  g_assert_false (asyncrt_dump_options_is_filtered (o));
  g_assert_cmpint (asyncrt_dump_options_set_states (NULL, 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_options_set_states (o, 0), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_options_set_states (o, 0x8), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_options_set_states (o, ASYNCRT_TASK_STATE_FLAG_ALL), ==, 0);
  g_assert_false (asyncrt_dump_options_is_filtered (o));
  g_assert_cmpint (asyncrt_dump_options_set_min_idle_ns (NULL, 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_options_set_descendants_of (NULL, 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_options_set_wait_kinds (NULL, 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_options_set_wait_kinds (o, ASYNCRT_WAIT_KIND_BIT (63)), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_options_set_wait_kinds (o, ASYNCRT_WAIT_KIND_BIT (ASYNCRT_WAIT_SIGNAL)),
                   ==, 0);
  g_assert_true (asyncrt_dump_options_is_filtered (o));
  g_assert_cmpint (asyncrt_dump_options_set_wait_kinds (o, 0), ==, 0);
  g_assert_false (asyncrt_dump_options_is_filtered (o));
  g_assert_cmpint (asyncrt_dump_options_set_descendants_of (o, 7), ==, 0);
  AsyncrtDumpOptions *c = asyncrt_dump_options_copy (o);
  g_assert_true (asyncrt_dump_options_is_filtered (c));
  asyncrt_dump_options_free (c);
  g_assert_null (asyncrt_dump_options_copy (NULL));
  asyncrt_dump_options_free (NULL);

  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump_full (NULL, 100, o, &d), ==, -EINVAL);
  AsyncrtRuntime *rt = new_runtime ();
  g_assert_cmpint (asyncrt_handle_dump_full (asyncrt_runtime_get_handle (rt), 100, o, NULL), ==,
                   -EINVAL);
  g_assert_null (d);
  g_assert_false (asyncrt_dump_is_filtered (NULL));
  /* A runtime nobody runs: a census, filtered. */
  g_assert_cmpint (asyncrt_handle_dump_full (asyncrt_runtime_get_handle (rt), 100, o, &d), ==, 0);
  g_assert_true (asyncrt_dump_is_filtered (d));
  asyncrt_dump_free (d);
  asyncrt_runtime_free (rt);
  AsyncrtDumpFuture f;
  asyncrt_dump_future_init_full (&f, NULL, 100, o);
  g_assert_cmpint (asyncrt_dump_future_get_error (&f), ==, -EINVAL);
  asyncrt_dump_future_clear (&f);
  asyncrt_dump_future_clear (&f);
  asyncrt_dump_future_init_full (NULL, NULL, 0, o);
  asyncrt_dump_options_free (o);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const FlavourTest tests[] = {
    { "name-10k", test_name_10k },
    { "name-queued", test_name_queued },
    { "state-10k", test_state_10k },
    { "min-idle-10k", test_min_idle_10k },
    { "descendants-10k", test_descendants_10k },
    { "wait-kinds-10k", test_wait_kinds_10k },
    { "future", test_future },
    { "census", test_census },
  };
  flavour_add_tests ("dump-filter", tests, G_N_ELEMENTS (tests));
  g_test_add_func ("/dump-filter/errors", test_errors);
  return g_test_run ();
}
