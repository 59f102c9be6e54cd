/* Task dumps through the public API, on both schedulers.  Built at -O2 -g. */
#include <asyncrt/asyncrt.h>
#include "test-util.h"
#include "dump-json-util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef HAVE_JSON_GLIB
#include <json-glib/json-glib.h>
#endif

#define NOINLINE __attribute__((noinline))

typedef enum { CT, MT } Flavour;

static AsyncrtRuntime *
new_rt (Flavour f)
{
  AsyncrtBuilder *b;
  AsyncrtRuntime *rt = NULL;
#ifdef TEST_DUMP_HAVE_MT
  if (f == MT)
    {
      b = asyncrt_builder_new_multi_thread ();
      asyncrt_builder_set_worker_threads (b, 2);
    }
  else
#endif
    {
      g_assert (f == CT);
      b = asyncrt_builder_new_current_thread ();
    }
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  return rt;
}

static bool
skip_unless_supported (Flavour f)
{
#ifndef TEST_DUMP_HAVE_MT
  if (f == MT)
    {
      g_test_skip ("multi-thread scheduler not built");
      return true;
    }
#endif
  (void) f;
  return false;
}

static uint64_t
now_ms (void)
{
  return (uint64_t) (g_get_monotonic_time () / 1000);
}

/* ---- a gate: a user leaf future opened from any thread ------------------------------ */

/* pthread (not GLib) mutexes: ThreadSanitizer sees those. */
typedef struct
{
  pthread_mutex_t lock;
  bool open;
  AsyncrtWaker waker;
} Gate;

static void
gate_init (Gate *g)
{
  pthread_mutex_init (&g->lock, NULL);
  g->open = false;
  g->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
}

static void
gate_clear (Gate *g)
{
  asyncrt_waker_free (&g->waker);
  pthread_mutex_destroy (&g->lock);
}

static NOINLINE AsyncrtPoll
gate_poll (void *p, AsyncrtContext *cx)
{
  Gate *g = p;
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  pthread_mutex_lock (&g->lock);
  if (g->open)
    {
      pthread_mutex_unlock (&g->lock);
      return ASYNCRT_READY;
    }
  AsyncrtWaker old = g->waker;
  g->waker = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
  pthread_mutex_unlock (&g->lock);
  asyncrt_waker_free (&old);
  return ASYNCRT_PENDING;
}

static void
gate_open (Gate *g)
{
  pthread_mutex_lock (&g->lock);
  g->open = true;
  AsyncrtWaker w = g->waker;
  g->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  pthread_mutex_unlock (&g->lock);
  asyncrt_waker_wake (&w);
}

/* Runs the runtime (block_on on a gate) on a thread of its own. */
typedef struct
{
  AsyncrtRuntime *rt;
  Gate *g;
  atomic_bool started;
} Runner;

static AsyncrtPoll
runner_poll (void *p, AsyncrtContext *cx)
{
  Runner *run = p;
  atomic_store (&run->started, true);
  return gate_poll (run->g, cx);
}

static void *
blocked_runner (void *p)
{
  Runner *run = p;
  g_assert_cmpint (asyncrt_runtime_block_on (run->rt, runner_poll, run), ==, 0);
  return NULL;
}

/* Until the runner thread is inside block_on (a current-thread runtime runs). */
static void
start_runner (Runner *run, pthread_t *th)
{
  atomic_init (&run->started, false);
  pthread_create (th, NULL, blocked_runner, run);
  while (!atomic_load (&run->started))
    g_usleep (100);
}

/* ---- Tokio's scenario: a -> b -> c -> yield, forever -------------------------------- */

typedef struct { AsyncrtCoroutine co; AsyncrtYield y; } C;
typedef struct { AsyncrtCoroutine co; C c; } B;
typedef struct { AsyncrtCoroutine co; B b; } A;

static NOINLINE AsyncrtPoll
c_poll (C *self, AsyncrtContext *cx)
{
  ASYNCRT_BEGIN (&self->co);
  for (;;)
    {
      asyncrt_yield_init (&self->y);
      ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
    }
  ASYNCRT_END (&self->co);
}

static NOINLINE AsyncrtPoll
b_poll (B *self, AsyncrtContext *cx)
{
  ASYNCRT_BEGIN (&self->co);
  ASYNCRT_AWAIT (&self->co, c_poll (&self->c, cx));
  ASYNCRT_END (&self->co);
}

static NOINLINE AsyncrtPoll
a_poll (void *p, AsyncrtContext *cx)
{
  A *self = p;
  ASYNCRT_BEGIN (&self->co);
  ASYNCRT_AWAIT (&self->co, b_poll (&self->b, cx));
  ASYNCRT_END (&self->co);
}

/* Names of a backtrace's symbols, innermost first (inlined ones included). */
static GPtrArray *
backtrace_names (const AsyncrtBacktrace *bt)
{
  GPtrArray *names = g_ptr_array_new ();
  for (size_t i = 0; i < asyncrt_backtrace_get_n_frames (bt); i++)
    {
      const AsyncrtBacktraceFrame *f = asyncrt_backtrace_get_frame (bt, i);
      for (size_t k = 0; k < asyncrt_backtrace_frame_get_n_symbols (f); k++)
        g_ptr_array_add (names, (gpointer) asyncrt_backtrace_symbol_get_name (
                                  asyncrt_backtrace_frame_get_symbol (f, k)));
    }
  return names;
}

/* @want (innermost first, NULL-terminated) appears in order in the backtrace, and
 * the first name is the leaf. */
static void
assert_backtrace (const AsyncrtBacktrace *bt, const char *const *want)
{
  GPtrArray *names = backtrace_names (bt);
  size_t w = 0;
  GString *all = g_string_new (NULL);
  for (size_t i = 0; i < names->len; i++)
    {
      const char *n = g_ptr_array_index (names, i);
      g_string_append_printf (all, " %s", n);
      if (want[w] != NULL && g_strcmp0 (n, want[w]) == 0)
        w++;
    }
  if (want[w] != NULL)
    g_error ("backtrace lacks %s in order; has:%s", want[w], all->str);
  g_assert_cmpuint (names->len, >, 0);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, want[0]);
  g_string_free (all, TRUE);
  g_ptr_array_free (names, TRUE);
}

static const char *const abc_yield[] = { "asyncrt_yield_poll", "c_poll", "b_poll", "a_poll", NULL };

static void
assert_abc_dump (AsyncrtDump *d, AsyncrtJoinHandle **jh, size_t n)
{
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, n);
  for (size_t i = 0; i < n; i++)
    {
      const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh[i]));
      g_assert_nonnull (t);
      const AsyncrtTrace *tr = asyncrt_dump_task_get_trace (t);
      if (tr == NULL)
        {
          char *text = asyncrt_dump_to_string (d);
          g_test_message ("%s", text);
          free (text);
        }
      g_assert_nonnull (tr);
      g_assert_cmpuint (asyncrt_trace_get_n_backtraces (tr), ==, 1);
      assert_backtrace (asyncrt_trace_get_backtrace (tr, 0), abc_yield);
      g_assert_cmpstr (asyncrt_dump_task_get_spawn_file (t), ==, __FILE__);
      g_assert_cmpuint (asyncrt_dump_task_get_spawn_line (t), >, 0);
    }
  g_assert_true (asyncrt_dump_is_complete (d));
  char *s = asyncrt_dump_to_string (d);
  const char *pa = strstr (s, "a_poll"), *pb = strstr (s, "b_poll");
  const char *pc = strstr (s, "c_poll"), *py = strstr (s, "asyncrt_yield_poll");
  g_assert_true (pa != NULL && pb > pa && pc > pb && py > pc);
  g_assert_nonnull (strstr (s, "idle") != NULL ? s : strstr (s, "scheduled"));
  free (s);
}

static void
spawn_abc (AsyncrtHandle *h, AsyncrtJoinHandle **jh, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      jh[i] = asyncrt_handle_spawn_full (h, __FILE__, __LINE__, __func__, "abc", a_poll,
                                         g_new0 (A, 1), g_free);
      g_assert_nonnull (jh[i]);
    }
}

/* From inside block_on, with the dump future. */
typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtDumpFuture df;
  AsyncrtDump *dump;
  int error;
  AsyncrtJoinHandle *jh[3];
} DumpMain;

static AsyncrtPoll
dump_main_poll (void *p, AsyncrtContext *cx)
{
  DumpMain *self = p;
  ASYNCRT_BEGIN (&self->co);
  spawn_abc (asyncrt_handle_current (), self->jh, 3);
  asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), test_timeout_ms (5000));
  ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
  self->error = asyncrt_dump_future_get_error (&self->df);
  self->dump = asyncrt_dump_future_take (&self->df);
  asyncrt_dump_future_clear (&self->df);
  ASYNCRT_END (&self->co);
}

static void
test_abc_future (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  DumpMain m = { 0 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, dump_main_poll, &m), ==, 0);
  g_assert_cmpint (m.error, ==, 0);
  g_assert_nonnull (m.dump);
  assert_abc_dump (m.dump, m.jh, 3);
  asyncrt_dump_free (m.dump);
  for (int i = 0; i < 3; i++)
    asyncrt_join_handle_free (m.jh[i]);
  asyncrt_runtime_free (rt);
}

/* From a plain thread while the runtime runs. */
typedef struct
{
  AsyncrtHandle *h;
  Gate *gate;
  unsigned timeout_ms;
  int result;
  AsyncrtDump *dump;
  uint64_t elapsed_ms;
  Runner *after;          /* if set: dump once this runner is inside block_on */
} DumpThread;

static void *
dump_thread (void *p)
{
  DumpThread *d = p;
  while (d->after != NULL && !atomic_load (&d->after->started))
    g_usleep (100);
  uint64_t t0 = now_ms ();
  d->result = asyncrt_handle_dump (d->h, d->timeout_ms, &d->dump);
  d->elapsed_ms = now_ms () - t0;
  if (d->gate != NULL)
    gate_open (d->gate);
  return NULL;
}

static void
test_abc_blocking (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  AsyncrtJoinHandle *jh[3];
  spawn_abc (h, jh, 3);
  Gate gate;
  gate_init (&gate);
  /* This thread runs the runtime; the dump starts once it is inside block_on. */
  Runner run = { rt, &gate };
  atomic_init (&run.started, false);
  DumpThread d = { h, &gate, test_timeout_ms (5000), -1, NULL, 0, &run };
  pthread_t th;
  pthread_create (&th, NULL, dump_thread, &d);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, runner_poll, &run), ==, 0);
  pthread_join (th, NULL);
  g_assert_cmpint (d.result, ==, 0);
  assert_abc_dump (d.dump, jh, 3);
  asyncrt_dump_free (d.dump);

  /* A second dump.  Multi-thread: the same.  Current-thread with nobody in
   * block_on: no task code may run anywhere, so a census (tested further below). */
  AsyncrtDump *d2 = NULL;
  g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d2), ==, 0);
  if (f == MT)
    assert_abc_dump (d2, jh, 3);
  else
    {
      g_assert_cmpuint (asyncrt_dump_get_n_tasks (d2), ==, 3);
      for (int i = 0; i < 3; i++)
        g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (asyncrt_dump_get_task (d2, i)),
                         ==, ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING);
    }
  asyncrt_dump_free (d2);

  for (int i = 0; i < 3; i++)
    asyncrt_join_handle_free (jh[i]);
  gate_clear (&gate);
  asyncrt_runtime_free (rt);
}

/* ---- two leaves in one poll (a branch) ---------------------------------------------- */

typedef struct
{
  AsyncrtSleep sleep;
  Gate gate;
  bool slept, gated;
} Both;

/* The empty asm keeps these from being tail calls (which would drop the frame). */
static NOINLINE AsyncrtPoll
wait_sleep (Both *self, AsyncrtContext *cx)
{
  AsyncrtPoll r = asyncrt_sleep_poll (&self->sleep, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

static NOINLINE AsyncrtPoll
wait_gate (Both *self, AsyncrtContext *cx)
{
  AsyncrtPoll r = gate_poll (&self->gate, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

/* Polls both leaves in one poll: the tree branches below this function. */
static NOINLINE AsyncrtPoll
join_both (Both *self, AsyncrtContext *cx)
{
  if (!self->slept)
    self->slept = wait_sleep (self, cx) == ASYNCRT_READY;
  if (!self->gated)
    self->gated = wait_gate (self, cx) == ASYNCRT_READY;
  return self->slept && self->gated ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static NOINLINE AsyncrtPoll
both_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtPoll r = join_both (p, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

static void
both_free (void *p)
{
  Both *self = p;
  asyncrt_sleep_clear (&self->sleep);
  gate_clear (&self->gate);
  g_free (self);
}

static void
test_branch (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Both *both = g_new0 (Both, 1);
  asyncrt_sleep_init (&both->sleep, 3600 * 1000);
  gate_init (&both->gate);
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (h, both_poll, both, both_free);

  AsyncrtDump *d = NULL;
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  atomic_init (&run.started, false);
  DumpThread dt = { h, &main_gate, test_timeout_ms (5000), -1, NULL, 0, &run };
  pthread_t th;
  pthread_create (&th, NULL, dump_thread, &dt);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, runner_poll, &run), ==, 0);
  pthread_join (th, NULL);
  g_assert_cmpint (dt.result, ==, 0);
  d = dt.dump;
  const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh));
  g_assert_nonnull (t);
  const AsyncrtTrace *tr = asyncrt_dump_task_get_trace (t);
  g_assert_nonnull (tr);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (tr), ==, 2);
  const char *const s1[] = { "asyncrt_sleep_poll", "wait_sleep", "join_both", "both_poll", NULL };
  const char *const s2[] = { "gate_poll", "wait_gate", "join_both", "both_poll", NULL };
  assert_backtrace (asyncrt_trace_get_backtrace (tr, 0), s1);
  assert_backtrace (asyncrt_trace_get_backtrace (tr, 1), s2);
  char *s = asyncrt_dump_to_string (d);
  g_test_message ("%s", s);
  /* One root; join_both is one node suspended at two places (both lines shown), the
   * two leaves' paths its two children. */
  const char *root = strstr (s, "  ╼ both_poll at ");
  g_assert_nonnull (root);
  g_assert_null (strstr (root + strlen ("  ╼ both_poll"), "╼ both_poll"));
  const char *join = strstr (s, "\n  └╼ join_both at ");
  g_assert_nonnull (join);
  g_assert_null (strstr (join + strlen ("\n  └╼ join_both"), "join_both"));
  const char *eol = strchr (join + 1, '\n');
  const char *comma = strstr (join, ", ");
  g_assert_true (comma != NULL && comma < eol);        /* two locations on one line */
  g_assert_nonnull (strstr (s, "\n     ├╼ wait_sleep at "));
  g_assert_nonnull (strstr (s, "\n     └╼ wait_gate at "));
  free (s);
  asyncrt_dump_free (d);

  /* After the dump the task still completes when both leaves are ready. */
  gate_open (&both->gate);
  asyncrt_sleep_reset (&both->sleep, 0);
  asyncrt_join_handle_free (jh);
  gate_clear (&main_gate);
  asyncrt_runtime_free (rt);
}

/* ---- a task completing during its trace poll ---------------------------------------- */

/* Waits for a flag without a traced leaf: a dump's trace poll sees the flag. */
typedef struct
{
  atomic_bool flag;
  atomic_int polls;
} Untraced;

static AsyncrtPoll
untraced_poll (void *p, AsyncrtContext *cx)
{
  Untraced *u = p;
  (void) cx;
  atomic_fetch_add (&u->polls, 1);
  return atomic_load (&u->flag) ? ASYNCRT_READY : ASYNCRT_PENDING;
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinHandle *jh;
  Gate gate;
} JoinMain;

static AsyncrtPoll
join_main_poll (void *p, AsyncrtContext *cx)
{
  JoinMain *self = p;
  ASYNCRT_BEGIN (&self->co);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
  ASYNCRT_END (&self->co);
}

static void
test_complete_during_trace (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  Untraced u;
  atomic_init (&u.flag, false);
  atomic_init (&u.polls, 0);
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (h, untraced_poll, &u, NULL);
  /* Let it be polled once and go idle. */
  uint64_t give_up = now_ms () + test_timeout_ms (5000);
  while (atomic_load (&u.polls) < 1)
    {
      g_assert_cmpuint (now_ms (), <, give_up);
      g_usleep (1000);
    }
  atomic_store (&u.flag, true);
  /* Nobody wakes it: only the dump's trace poll sees the flag and completes it. */
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
  g_assert_null (asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh)));
  asyncrt_dump_free (d);
  g_assert_true (asyncrt_join_handle_is_finished (jh));
  g_assert_false (asyncrt_join_handle_is_cancelled (jh));
  asyncrt_join_handle_free (jh);
  /* The runtime is fine: later dumps work and are empty. */
  g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 0);
  g_assert_true (asyncrt_dump_is_complete (d));
  asyncrt_dump_free (d);
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_runtime_free (rt);
  gate_clear (&main_gate);
}

/* ---- a task waking another, and spawning one, during its trace poll ----------------- */

typedef struct
{
  Gate *wakee_gate;       /* opened by the waker task in its trace polls */
  Gate forever;
  Untraced *child_state;  /* a task spawned by the waker's first trace poll */
  AsyncrtJoinHandle *child;
  atomic_int real_polls;
} Waker;

static AsyncrtPoll
waker_poll (void *p, AsyncrtContext *cx)
{
  Waker *self = p;
  if (asyncrt_trace_is_tracing ())
    {
      /* Code before the first leaf runs in a trace poll too: this one wakes a task
       * (maybe claimed by the same dump) and spawns one. */
      if (self->child == NULL)
        self->child = asyncrt_spawn (untraced_poll, self->child_state, NULL);
      gate_open (self->wakee_gate);
    }
  else
    atomic_fetch_add (&self->real_polls, 1);
  return gate_poll (&self->forever, cx);
}

/* Waits until the dump shows @jh idle after at least one real poll. */
static void
wait_idle (AsyncrtHandle *h, AsyncrtJoinHandle *jh)
{
  uint64_t give_up = now_ms () + test_timeout_ms (5000);
  for (;;)
    {
      AsyncrtDump *d = NULL;
      g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
      const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh));
      bool idle = t != NULL && asyncrt_dump_task_get_state (t) == ASYNCRT_TASK_STATE_IDLE
                  && asyncrt_dump_task_get_poll_count (t) >= 1;
      asyncrt_dump_free (d);
      if (idle)
        return;
      g_assert_cmpuint (now_ms (), <, give_up);
      g_usleep (1000);
    }
}

static void
wait_finished (AsyncrtJoinHandle *jh)
{
  uint64_t give_up = now_ms () + test_timeout_ms (5000);
  while (!asyncrt_join_handle_is_finished (jh))
    {
      g_assert_cmpuint (now_ms (), <, give_up);
      g_usleep (1000);
    }
}

static void
test_wake_during_trace (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  for (int round = 0; round < 20; round++)
    {
      AsyncrtRuntime *rt = new_rt (f);
      AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
      Gate main_gate;
      gate_init (&main_gate);
      Runner run = { rt, &main_gate };
      pthread_t runner;
      start_runner (&run, &runner);
      Gate wakee_gate;
      gate_init (&wakee_gate);
      AsyncrtJoinHandle *wakee = asyncrt_handle_spawn (h, gate_poll, &wakee_gate, NULL);
      wait_idle (h, wakee);
      Waker *w = g_new0 (Waker, 1);
      w->wakee_gate = &wakee_gate;
      gate_init (&w->forever);
      Untraced child_state;
      atomic_init (&child_state.flag, true);
      atomic_init (&child_state.polls, 0);
      w->child_state = &child_state;
      AsyncrtJoinHandle *waker = asyncrt_handle_spawn (h, waker_poll, w, NULL);
      /* Dump until one traces the waker (it may be queued or running at first). */
      uint64_t give_up = now_ms () + test_timeout_ms (5000);
      for (bool traced = false; !traced;)
        {
          AsyncrtDump *d = NULL;
          g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
          const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (waker));
          g_assert_nonnull (t);
          traced = asyncrt_dump_task_get_trace (t) != NULL;
          asyncrt_dump_free (d);
          g_assert_cmpuint (now_ms (), <, give_up);
        }
      /* The wakee was woken during a trace poll: it must finish. */
      wait_finished (wakee);
      g_assert_false (asyncrt_join_handle_is_cancelled (wakee));
      /* The task spawned during the trace poll runs too, once. */
      g_assert_nonnull (w->child);
      wait_finished (w->child);
      g_assert_cmpint (atomic_load (&child_state.polls), ==, 1);
      /* The waker is polled for real exactly once (it may have been traced while still
       * queued); the dumps never re-poll it. */
      give_up = now_ms () + test_timeout_ms (5000);
      while (atomic_load (&w->real_polls) < 1)
        {
          g_assert_cmpuint (now_ms (), <, give_up);
          g_usleep (1000);
        }
      g_usleep (20000);
      g_assert_cmpint (atomic_load (&w->real_polls), ==, 1);
      gate_open (&main_gate);
      pthread_join (runner, NULL);
      asyncrt_join_handle_free (w->child);
      asyncrt_join_handle_free (wakee);
      asyncrt_join_handle_free (waker);
      asyncrt_runtime_free (rt);
      gate_clear (&w->forever);
      g_free (w);
      gate_clear (&wakee_gate);
      gate_clear (&main_gate);
    }
}

/* ---- a worker blocked in a system call ---------------------------------------------- */

typedef struct
{
  int fd;
  atomic_bool started;
} Blocker;

static AsyncrtPoll
blocker_poll (void *p, AsyncrtContext *cx)
{
  Blocker *b = p;
  char c;
  (void) cx;
  atomic_store (&b->started, true);
  /* A read nobody answers until the test writes: the worker is stuck in the kernel. */
  if (read (b->fd, &c, 1) != 1)
    g_error ("read failed");
  return ASYNCRT_READY;
}

/* Not traced, but its thread was sampled: the native stack, from its poll down.
 * (ThreadSanitizer keeps the signal pending while the thread waits in read(): no
 * answer there.) */
static void
check_blocker_native_stack (const AsyncrtDumpTask *bt)
{
#if defined(__SANITIZE_THREAD__)
  if (asyncrt_dump_task_get_native_stack_status (bt) == ASYNCRT_NATIVE_STACK_NO_ANSWER)
    {
      g_assert_null (asyncrt_dump_task_get_trace (bt));
      return;
    }
#endif
  g_assert_cmpint (asyncrt_dump_task_get_native_stack_status (bt), ==, ASYNCRT_NATIVE_STACK_OK);
  g_assert_cmpint (asyncrt_dump_task_get_trace_kind (bt), ==, ASYNCRT_TRACE_KIND_NATIVE);
  const AsyncrtBacktrace *nb = asyncrt_trace_get_backtrace (asyncrt_dump_task_get_trace (bt), 0);
  size_t nf = asyncrt_backtrace_get_n_frames (nb);
  g_assert_cmpuint (nf, >=, 1);
  const AsyncrtBacktraceFrame *outer = asyncrt_backtrace_get_frame (nb, nf - 1);
  g_assert_cmpstr (asyncrt_backtrace_symbol_get_name (asyncrt_backtrace_frame_get_symbol (
                     outer, asyncrt_backtrace_frame_get_n_symbols (outer) - 1)), ==,
                   "blocker_poll");
}

/* Until the blocker is stuck in its read on a runtime thread (polled for real, not by
 * a dump: no dump is taken before). */
static void
wait_started (Blocker *b)
{
  uint64_t give_up = now_ms () + test_timeout_ms (5000);
  while (!atomic_load (&b->started))
    {
      g_assert_cmpuint (now_ms (), <, give_up);
      g_usleep (1000);
    }
  g_usleep (20000);
}

static void
test_blocked_worker (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  int pipefd[2];
  g_assert_cmpint (pipe (pipefd), ==, 0);
  AsyncrtJoinHandle *abc[2];
  spawn_abc (h, abc, 2);
  Blocker blk = { pipefd[0], false };
  AsyncrtJoinHandle *blocker = asyncrt_handle_spawn (h, blocker_poll, &blk, NULL);

  /* Run the runtime on a thread of its own (current-thread: block_on on a gate). */
  Gate main_gate;
  gate_init (&main_gate);
  DumpThread dt = { h, NULL, 300, -1, NULL, 0, NULL };
  pthread_t runner;
  Runner run = { rt, &main_gate };
  start_runner (&run, &runner);
  wait_started (&blk);

  dump_thread (&dt);
  g_assert_cmpint (dt.result, ==, 0);
  /* By its deadline plus the grace and some scheduling slack. */
  g_assert_cmpuint (dt.elapsed_ms, <, 300 + 100 + test_timeout_ms (400));
  AsyncrtDump *d = dt.dump;
  g_assert_false (asyncrt_dump_is_complete (d));
  const AsyncrtDumpTask *bt = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (blocker));
  g_assert_nonnull (bt);
  g_assert_cmpint (asyncrt_dump_task_get_state (bt), ==, ASYNCRT_TASK_STATE_RUNNING);
  g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (bt), ==, ASYNCRT_DUMP_NO_TRACE_RUNNING);
  check_blocker_native_stack (bt);
  g_assert_cmpint (asyncrt_dump_task_get_worker (bt), >=, 0);
  if (f == CT)
    {
      /* The only thread never took the dump up: a census at the deadline. */
      for (int i = 0; i < 2; i++)
        g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (
                           asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (abc[i]))),
                         ==, ASYNCRT_DUMP_NO_TRACE_DEADLINE);
    }
  g_assert_cmpuint (asyncrt_dump_get_n_missing_workers (d), >=, 1);
  bool found = false;
  for (size_t i = 0; i < asyncrt_dump_get_n_missing_workers (d); i++)
    {
      AsyncrtTaskId id = 0;
      uint64_t ns = 0;
      g_assert_cmpint (asyncrt_dump_get_missing_worker (d, i, NULL, &id, &ns), ==, 0);
      if (id == asyncrt_join_handle_get_id (blocker))
        {
          found = true;
          g_assert_cmpuint (ns, >, 0);
        }
    }
  if (!found)
    {
      char *dbg = asyncrt_dump_to_string (d);
      g_test_message ("blocker %" G_GUINT64_FORMAT " not reported missing:\n%s",
                      asyncrt_join_handle_get_id (blocker), dbg);
      free (dbg);
    }
  g_assert_true (found);
  if (f == MT)
    {
      /* The other worker traced the a-b-c tasks. */
      for (int i = 0; i < 2; i++)
        {
          const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (abc[i]));
          g_assert_nonnull (t);
          g_assert_nonnull (asyncrt_dump_task_get_trace (t));
          assert_backtrace (asyncrt_trace_get_backtrace (asyncrt_dump_task_get_trace (t), 0), abc_yield);
        }
    }
  char *s = asyncrt_dump_to_string (d);
  g_assert_nonnull (strstr (s, "did not stop"));
  free (s);
  asyncrt_dump_free (d);

  /* Unblock: the runtime carries on, later dumps are complete, new work runs. */
  g_assert_cmpint (write (pipefd[1], "x", 1), ==, 1);
  uint64_t give_up = now_ms () + test_timeout_ms (5000);
  while (!asyncrt_join_handle_is_finished (blocker))
    {
      g_assert_cmpuint (now_ms (), <, give_up);
      g_usleep (1000);
    }
  d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
  g_assert_true (asyncrt_dump_is_complete (d));
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 2);
  asyncrt_dump_free (d);
  Untraced u;
  atomic_init (&u.flag, true);
  atomic_init (&u.polls, 0);
  AsyncrtJoinHandle *late = asyncrt_handle_spawn (h, untraced_poll, &u, NULL);
  give_up = now_ms () + test_timeout_ms (5000);
  while (!asyncrt_join_handle_is_finished (late))
    {
      g_assert_cmpuint (now_ms (), <, give_up);
      g_usleep (1000);
    }
  asyncrt_join_handle_free (late);

  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_join_handle_free (blocker);
  for (int i = 0; i < 2; i++)
    asyncrt_join_handle_free (abc[i]);
  asyncrt_runtime_free (rt);
  gate_clear (&main_gate);
  close (pipefd[0]);
  close (pipefd[1]);
}


/* ---- hundreds of dumps while tasks churn ------------------------------------------- */

#define CHURN_TASKS 16
#define CHURN_ITERS 2000

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtYield y;
  AsyncrtSleep s;
  int i;
  atomic_int *count;
} Churn;

static NOINLINE AsyncrtPoll
churn_poll (void *p, AsyncrtContext *cx)
{
  Churn *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < CHURN_ITERS; self->i++)
    {
      atomic_fetch_add (self->count, 1);
      if (self->i % 16 == 0)
        {
          asyncrt_sleep_init (&self->s, 1);
          ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->s, cx));
          asyncrt_sleep_clear (&self->s);
        }
      else
        {
          asyncrt_yield_init (&self->y);
          ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
        }
    }
  ASYNCRT_END (&self->co);
}

static void
churn_free (void *p)
{
  Churn *self = p;
  asyncrt_sleep_clear (&self->s);
  g_free (self);
}

typedef struct
{
  AsyncrtHandle *h;
  atomic_bool stop;
  atomic_int n_dumps;
  int n_traced;
} Dumper;

static void *
dumper_thread (void *p)
{
  Dumper *dp = p;
  while (!atomic_load (&dp->stop))
    {
      AsyncrtDump *d = NULL;
      int r = asyncrt_handle_dump (dp->h, test_timeout_ms (5000), &d);
      g_assert_cmpint (r, ==, 0);
      for (size_t i = 0; i < asyncrt_dump_get_n_tasks (d); i++)
        dp->n_traced += asyncrt_dump_task_get_trace (asyncrt_dump_get_task (d, i)) != NULL;
      if (atomic_load (&dp->n_dumps) % 50 == 0)
        free (asyncrt_dump_to_string (d));
      asyncrt_dump_free (d);
      atomic_fetch_add (&dp->n_dumps, 1);
    }
  return NULL;
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinHandle *jh[CHURN_TASKS];
  int i;
} ChurnMain;

static AsyncrtPoll
churn_main_poll (void *p, AsyncrtContext *cx)
{
  ChurnMain *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < CHURN_TASKS; self->i++)
    ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh[self->i], cx));
  ASYNCRT_END (&self->co);
}

static void
test_churn (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  atomic_int counts[CHURN_TASKS];
  ChurnMain m = { 0 };
  for (int i = 0; i < CHURN_TASKS; i++)
    {
      atomic_init (&counts[i], 0);
      Churn *c = g_new0 (Churn, 1);
      c->count = &counts[i];
      m.jh[i] = asyncrt_handle_spawn (h, churn_poll, c, churn_free);
    }
  Dumper dp = { .h = h };
  atomic_init (&dp.stop, false);
  atomic_init (&dp.n_dumps, 0);
  pthread_t th;
  pthread_create (&th, NULL, dumper_thread, &dp);
  /* Keep dumping for a while even if the tasks are quick. */
  while (atomic_load (&dp.n_dumps) < 20)
    g_usleep (1000);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, churn_main_poll, &m), ==, 0);
  atomic_store (&dp.stop, true);
  pthread_join (th, NULL);
  g_test_message ("%d dumps, %d traced tasks", atomic_load (&dp.n_dumps), dp.n_traced);
  g_assert_cmpint (atomic_load (&dp.n_dumps), >=, 20);
  for (int i = 0; i < CHURN_TASKS; i++)
    {
      g_assert_cmpint (atomic_load (&counts[i]), ==, CHURN_ITERS);
      g_assert_true (asyncrt_join_handle_is_finished (m.jh[i]));
      asyncrt_join_handle_free (m.jh[i]);
    }
  asyncrt_runtime_free (rt);
}

/* ---- dumps racing shutdown --------------------------------------------------------- */

typedef struct
{
  AsyncrtHandle *h;
  atomic_bool go;
  atomic_bool stop;
  int ok, shutdown;
} Racer;

static void *
racer_thread (void *p)
{
  Racer *r = p;
  while (!atomic_load (&r->go))
    ;
  while (!atomic_load (&r->stop))
    {
      AsyncrtDump *d = NULL;
      int res = asyncrt_handle_dump (r->h, test_timeout_ms (5000), &d);
      if (res == 0)
        {
          r->ok++;
          asyncrt_dump_free (d);
        }
      else
        {
          g_assert_cmpint (res, ==, -ESHUTDOWN);
          r->shutdown++;
          break;
        }
    }
  return NULL;
}

/* Spins on asyncrt_handle_dump() until shutdown, on the blocking pool: the handle is
 * guaranteed alive there until asyncrt_runtime_free() has joined the pool. */
typedef struct
{
  AsyncrtHandle *h;
  int last;
} Spinner;

static void
spinner_func (void *p)
{
  Spinner *s = p;
  uint64_t give_up = now_ms () + test_timeout_ms (10000);
  do
    {
      AsyncrtDump *d = NULL;
      s->last = asyncrt_handle_dump (s->h, 50, &d);
      if (s->last == 0)
        asyncrt_dump_free (d);
      g_usleep (1000);
    }
  while (s->last != -ESHUTDOWN && now_ms () < give_up);
}

static void
test_race_shutdown (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  for (int round = 0; round < 10; round++)
    {
      AsyncrtRuntime *rt = new_rt (f);
      AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
      AsyncrtJoinHandle *jh[3];
      spawn_abc (h, jh, 3);
      Spinner sp = { h, 0 };
      AsyncrtJoinHandle *bj = asyncrt_handle_spawn_blocking (h, spinner_func, &sp);
      g_assert_nonnull (bj);
      Racer r = { h, false, false, 0, 0 };
      pthread_t th;
      pthread_create (&th, NULL, racer_thread, &r);
      atomic_store (&r.go, true);
      g_usleep ((unsigned) g_random_int_range (0, 5000));
      /* The racer must stop before the handle may go away; the spinner runs on. */
      atomic_store (&r.stop, true);
      pthread_join (th, NULL);
      asyncrt_runtime_free (rt);          /* waits for the spinner */
      g_assert_cmpint (sp.last, ==, -ESHUTDOWN);
      for (int i = 0; i < 3; i++)
        asyncrt_join_handle_free (jh[i]);
      asyncrt_join_handle_free (bj);
    }
}

/* ---- the dump future from inside a task -------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtDumpFuture df;
  AsyncrtDump *dump;
  int error;
  AsyncrtTaskId self_id;
} InTask;

static NOINLINE AsyncrtPoll
in_task_poll (void *p, AsyncrtContext *cx)
{
  InTask *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->self_id = asyncrt_task_id_current ();
  asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), test_timeout_ms (5000));
  ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
  self->error = asyncrt_dump_future_get_error (&self->df);
  self->dump = asyncrt_dump_future_take (&self->df);
  g_assert_null (asyncrt_dump_future_take (&self->df));
  asyncrt_dump_future_clear (&self->df);
  ASYNCRT_END (&self->co);
}

static void
test_future_in_task (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  AsyncrtJoinHandle *abc[2];
  spawn_abc (h, abc, 2);
  InTask it = { 0 };
  JoinMain jm = { 0 };
  jm.jh = asyncrt_handle_spawn (h, in_task_poll, &it, NULL);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, join_main_poll, &jm), ==, 0);
  g_assert_cmpint (it.error, ==, 0);
  g_assert_nonnull (it.dump);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (it.dump), ==, 3);
  /* The dumping task itself is traced, waiting in the dump future. */
  const AsyncrtDumpTask *t = asyncrt_dump_find_task (it.dump, it.self_id);
  g_assert_nonnull (t);
  const char *const want[] = { "asyncrt_dump_future_poll", "in_task_poll", NULL };
  assert_backtrace (asyncrt_trace_get_backtrace (asyncrt_dump_task_get_trace (t), 0), want);
  asyncrt_dump_free (it.dump);
  asyncrt_join_handle_free (jm.jh);
  for (int i = 0; i < 2; i++)
    asyncrt_join_handle_free (abc[i]);
  asyncrt_runtime_free (rt);
}

/* A dump future dropped before it finished: no leak, no hang, the runtime goes on. */
typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtDumpFuture df;
  int polls;
} Dropper;

static AsyncrtPoll
dropper_poll (void *p, AsyncrtContext *cx)
{
  Dropper *self = p;
  if (self->polls++ == 0)
    {
      /* An idle multi-thread worker may serve the request, and answer it, before
       * this first poll checks it (the runtime has nothing else to do): then it is
       * ready at once and was not dropped half-way.  Try again until one is pending
       * (almost always the first). */
      for (int tries = 0;; tries++)
        {
          g_assert_cmpint (tries, <, 1000);
          asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), test_timeout_ms (5000));
          if (asyncrt_dump_future_poll (&self->df, cx) == ASYNCRT_PENDING)
            break;
          asyncrt_dump_free (asyncrt_dump_future_take (&self->df));
          asyncrt_dump_future_clear (&self->df);
        }
    }
  asyncrt_dump_future_clear (&self->df);
  return ASYNCRT_READY;
}

static void
test_future_dropped (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  Dropper dr = { 0 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, dropper_poll, &dr), ==, 0);
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (asyncrt_runtime_get_handle (rt), test_timeout_ms (5000), &d), ==, 0);
  asyncrt_dump_free (d);
  asyncrt_runtime_free (rt);
}

/* ---- errors ------------------------------------------------------------------------ */

typedef struct
{
  AsyncrtCoroutine co;
  int in_block_on;
  int in_task;
} Deadlk;

static AsyncrtPoll
deadlk_task_poll (void *p, AsyncrtContext *cx)
{
  Deadlk *self = p;
  AsyncrtDump *d = NULL;
  (void) cx;
  self->in_task = asyncrt_handle_dump (asyncrt_handle_current (), 1000, &d);
  return ASYNCRT_READY;
}

static AsyncrtPoll
deadlk_main_poll (void *p, AsyncrtContext *cx)
{
  Deadlk *self = p;
  static AsyncrtJoinHandle *jh;
  ASYNCRT_BEGIN (&self->co);
  {
    AsyncrtDump *d = NULL;
    self->in_block_on = asyncrt_handle_dump (asyncrt_handle_current (), 1000, &d);
  }
  jh = asyncrt_spawn (deadlk_task_poll, self, NULL);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (jh, cx));
  asyncrt_join_handle_free (jh);
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtDumpFuture df;
  int error;
  AsyncrtDump *dump;
} NullFuture;

static AsyncrtPoll
null_future_poll (void *p, AsyncrtContext *cx)
{
  NullFuture *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_dump_future_init (&self->df, NULL, 100);
  ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
  self->error = asyncrt_dump_future_get_error (&self->df);
  self->dump = asyncrt_dump_future_take (&self->df);
  asyncrt_dump_future_clear (&self->df);
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtDumpFuture df;
  int error;
  AsyncrtDump *dump;
  bool started;
} TimeoutZero;

/* A census gives every task its reason, except the ones a worker was running. */
static void
assert_census_reason (const AsyncrtDumpTask *t, AsyncrtDumpNoTraceReason reason)
{
  if (asyncrt_dump_task_get_state (t) == ASYNCRT_TASK_STATE_RUNNING)
    g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (t), ==, ASYNCRT_DUMP_NO_TRACE_RUNNING);
  else
    g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (t), ==, reason);
}

static AsyncrtPoll
timeout_zero_poll (void *p, AsyncrtContext *cx)
{
  TimeoutZero *self = p;
  if (!self->started)
    {
      self->started = true;
      asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), 0);
    }
  /* Ready at its first poll. */
  g_assert_true (asyncrt_dump_future_poll (&self->df, cx) == ASYNCRT_READY);
  self->error = asyncrt_dump_future_get_error (&self->df);
  self->dump = asyncrt_dump_future_take (&self->df);
  asyncrt_dump_future_clear (&self->df);
  return ASYNCRT_READY;
}

static void
test_errors (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  AsyncrtDump *d = (AsyncrtDump *) 0x1;

  /* -EINVAL */
  g_assert_cmpint (asyncrt_handle_dump (NULL, 100, &d), ==, -EINVAL);
  g_assert_cmpint (asyncrt_handle_dump (h, 100, NULL), ==, -EINVAL);
  g_assert_true (d == (AsyncrtDump *) 0x1);           /* untouched */
  NullFuture nf = { 0 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, null_future_poll, &nf), ==, 0);
  g_assert_cmpint (nf.error, ==, -EINVAL);
  g_assert_null (nf.dump);
  g_assert_cmpint (asyncrt_dump_future_get_error (NULL), ==, -EINVAL);
  errno = 0;
  g_assert_null (asyncrt_dump_future_take (NULL));
  g_assert_cmpint (errno, ==, EINVAL);
  g_assert_true (asyncrt_dump_future_poll (NULL, NULL) == ASYNCRT_READY);
  asyncrt_dump_future_init (NULL, h, 1);
  asyncrt_dump_future_clear (NULL);
  AsyncrtDumpFuture unpolled;
  asyncrt_dump_future_init (&unpolled, h, 100);
  errno = 0;
  g_assert_null (asyncrt_dump_future_take (&unpolled));
  g_assert_cmpint (errno, ==, EAGAIN);
  asyncrt_dump_future_clear (&unpolled);

  /* -EDEADLK: inside block_on and inside a task. */
  Deadlk dl = { 0 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, deadlk_main_poll, &dl), ==, 0);
  g_assert_cmpint (dl.in_block_on, ==, -EDEADLK);
  g_assert_cmpint (dl.in_task, ==, -EDEADLK);

  /* timeout 0 is valid: a census at once, every task untraced for that reason. */
  AsyncrtJoinHandle *abc[2];
  spawn_abc (h, abc, 2);
  d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (h, 0, &d), ==, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 2);
  g_assert_false (asyncrt_dump_is_complete (d));
  g_assert_cmpuint (asyncrt_dump_get_n_missing_workers (d), ==, 0);
  for (size_t i = 0; i < 2; i++)
    {
      const AsyncrtDumpTask *t = asyncrt_dump_get_task (d, i);
      g_assert_null (asyncrt_dump_task_get_trace (t));
      assert_census_reason (t, ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO);
    }
  char *text = asyncrt_dump_to_string (d);
  g_assert_nonnull (strstr (text, "(census: dump taken with timeout 0)"));
  bool all_running = true;
  for (size_t i = 0; i < 2; i++)
    all_running &= asyncrt_dump_task_get_state (asyncrt_dump_get_task (d, i))
                   == ASYNCRT_TASK_STATE_RUNNING;
  if (!all_running)
    g_assert_nonnull (strstr (text, "(not traced: dump taken with timeout 0)"));
  free (text);
  asyncrt_dump_free (d);
  /* The same from the future. */
  TimeoutZero tz = { 0 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, timeout_zero_poll, &tz), ==, 0);
  g_assert_cmpint (tz.error, ==, 0);
  g_assert_nonnull (tz.dump);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (tz.dump), ==, 2);
  for (size_t i = 0; i < 2; i++)
    assert_census_reason (asyncrt_dump_get_task (tz.dump, i), ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO);
  asyncrt_dump_free (tz.dump);
  for (int i = 0; i < 2; i++)
    asyncrt_join_handle_free (abc[i]);

  asyncrt_runtime_free (rt);
}

/* -ETIMEDOUT: the deadline passes while another dump of the runtime is in progress
 * (the runtime's only thread is stuck, so the first one waits for its deadline). */
static void
test_timedout (void)
{
  AsyncrtRuntime *rt = new_rt (CT);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  int pipefd[2];
  g_assert_cmpint (pipe (pipefd), ==, 0);
  Blocker blk = { pipefd[0], false };
  AsyncrtJoinHandle *blocker = asyncrt_handle_spawn (h, blocker_poll, &blk, NULL);
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  wait_started (&blk);
  DumpThread first = { h, NULL, 1000, -1, NULL, 0, NULL };
  pthread_t th;
  pthread_create (&th, NULL, dump_thread, &first);
  g_usleep (100000);
  AsyncrtDump *d = (AsyncrtDump *) 0x1;
  uint64_t t0 = now_ms ();
  g_assert_cmpint (asyncrt_handle_dump (h, 100, &d), ==, -ETIMEDOUT);
  g_assert_cmpuint (now_ms () - t0, <, 100 + test_timeout_ms (400));
  g_assert_true (d == (AsyncrtDump *) 0x1);
  pthread_join (th, NULL);
  g_assert_cmpint (first.result, ==, 0);                 /* a census */
  g_assert_false (asyncrt_dump_is_complete (first.dump));
  asyncrt_dump_free (first.dump);

  g_assert_cmpint (write (pipefd[1], "x", 1), ==, 1);
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_join_handle_free (blocker);
  asyncrt_runtime_free (rt);
  gate_clear (&main_gate);
  close (pipefd[0]);
  close (pipefd[1]);
}

/* ---- no side effects: stats and JSON of real dumps ------------------------------- */

/* Three dumps 200 ms apart of a task waiting on a gate nobody opens: the poll count
 * stays, the idle time grows by the time between the dumps (a dump that re-polled the
 * task would reset it every time). */
static void
test_stats_and_json (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Gate g, main_gate;
  gate_init (&g);
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_full (h, __FILE__, 4242, "spawner", "waiter",
                                                     gate_poll, &g, NULL);
  wait_idle (h, jh);
  AsyncrtDump *d = NULL;
  uint64_t first_polls = 0, prev_idle = 0, first_idle = 0;
  for (int i = 0; i < 3; i++)
    {
      if (i > 0)
        g_usleep (200000);
      g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
      g_assert_true (asyncrt_dump_is_complete (d));
      const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh));
      g_assert_nonnull (t);
      g_assert_cmpint (asyncrt_dump_task_get_state (t), ==, ASYNCRT_TASK_STATE_IDLE);
      g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (t), ==, ASYNCRT_DUMP_NO_TRACE_NONE);
      g_assert_cmpstr (asyncrt_dump_task_get_name (t), ==, "waiter");
      g_assert_cmpstr (asyncrt_dump_task_get_spawn_func (t), ==, "spawner");
      g_assert_cmpuint (asyncrt_dump_task_get_spawn_line (t), ==, 4242);
      g_assert_cmpuint (asyncrt_dump_task_get_parent_id (t), ==, 0);
      uint64_t polls = asyncrt_dump_task_get_poll_count (t);
      uint64_t idle = asyncrt_dump_task_get_idle_ns (t);
      g_test_message ("dump %d: %" G_GUINT64_FORMAT " polls, idle %" G_GUINT64_FORMAT " ns",
                      i, polls, idle);
      if (i == 0)
        {
          g_assert_cmpuint (polls, >=, 1);
          first_polls = polls;
          first_idle = idle;
        }
      else
        {
          /* Neither the trace polls nor anything after them counted as a poll. */
          g_assert_cmpuint (polls, ==, first_polls);
          /* Idle since the same last poll: it grew by (about) the 200 ms slept. */
          g_assert_cmpuint (idle, >, prev_idle + 100000000u);
        }
      prev_idle = idle;
      char *s = asyncrt_dump_to_string (d);
      g_assert_nonnull (strstr (s, "name \"waiter\""));
      g_assert_nonnull (strstr (s, "gate_poll"));
      char *want = g_strdup_printf (", %" G_GUINT64_FORMAT " poll%s\n", first_polls,
                                    first_polls == 1 ? "" : "s");
      g_assert_nonnull (strstr (s, want));
      g_free (want);
      free (s);
      char *json = test_dump_json (d, 0);
#ifdef HAVE_JSON_GLIB
      JsonParser *p = json_parser_new ();
      GError *error = NULL;
      g_assert_true (json_parser_load_from_data (p, json, -1, &error));
      g_assert_no_error (error);
      JsonObject *root = json_node_get_object (json_parser_get_root (p));
      g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 2);
      g_assert_true (json_object_get_boolean_member (root, "complete"));
      g_assert_false (json_object_get_boolean_member (root, "census"));
      g_object_unref (p);
#endif
      free (json);
      asyncrt_dump_free (d);
    }
  g_assert_cmpuint (prev_idle, >, first_idle + 300000000u);
  gate_open (&g);
  wait_finished (jh);
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_join_handle_free (jh);
  asyncrt_runtime_free (rt);
  gate_clear (&g);
  gate_clear (&main_gate);
}

/* A dump of many idle tasks causes no poll at all afterwards (each task is traced,
 * and goes back to waiting untouched). */
#define MANY 10000

/* A gate shared by many tasks: every waiter's waker is kept. */
typedef struct
{
  pthread_mutex_t lock;
  bool open;
  GArray *wakers;
} Crowd;

typedef struct
{
  atomic_int *real_polls;          /* shared by all */
  Crowd *crowd;                    /* shared by all: opened at the end */
} Quiet;

static NOINLINE AsyncrtPoll
crowd_poll (void *p, AsyncrtContext *cx)
{
  Quiet *q = p;
  Crowd *c = q->crowd;
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  atomic_fetch_add (q->real_polls, 1);
  pthread_mutex_lock (&c->lock);
  bool open = c->open;
  if (!open)
    {
      AsyncrtWaker w = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
      g_array_append_val (c->wakers, w);
    }
  pthread_mutex_unlock (&c->lock);
  return open ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static void
test_many_idle_no_polls (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  atomic_int real_polls;
  atomic_init (&real_polls, 0);
  Crowd crowd;
  pthread_mutex_init (&crowd.lock, NULL);
  crowd.open = false;
  crowd.wakers = g_array_new (FALSE, FALSE, sizeof (AsyncrtWaker));
  Quiet *qs = g_new0 (Quiet, MANY);
  AsyncrtJoinHandle **jh = g_new (AsyncrtJoinHandle *, MANY);
  for (int i = 0; i < MANY; i++)
    {
      qs[i].real_polls = &real_polls;
      qs[i].crowd = &crowd;
      jh[i] = asyncrt_handle_spawn (h, crowd_poll, &qs[i], NULL);
    }
  uint64_t give_up = now_ms () + test_timeout_ms (20000);
  while (atomic_load (&real_polls) < MANY)
    {
      g_assert_cmpuint (now_ms (), <, give_up);
      g_usleep (1000);
    }
  g_usleep (20000);
  g_assert_cmpint (atomic_load (&real_polls), ==, MANY);

  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (20000), &d), ==, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, MANY);
  g_assert_true (asyncrt_dump_is_complete (d));
  for (size_t i = 0; i < MANY; i++)
    {
      const AsyncrtDumpTask *t = asyncrt_dump_get_task (d, i);
      g_assert_cmpuint (asyncrt_dump_task_get_poll_count (t), ==, 1);
      g_assert_cmpuint (asyncrt_trace_get_n_backtraces (asyncrt_dump_task_get_trace (t)), ==, 1);
    }
  asyncrt_dump_free (d);
  /* Nothing was queued by the dump: no task is polled afterwards. */
  g_usleep (100000);
  g_assert_cmpint (atomic_load (&real_polls), ==, MANY);
  /* A second dump finds the same. */
  g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (20000), &d), ==, 0);
  for (size_t i = 0; i < MANY; i++)
    g_assert_cmpuint (asyncrt_dump_task_get_poll_count (asyncrt_dump_get_task (d, i)), ==, 1);
  asyncrt_dump_free (d);
  g_usleep (20000);
  g_assert_cmpint (atomic_load (&real_polls), ==, MANY);

  /* The registrations stood: opening the gate finishes every task. */
  pthread_mutex_lock (&crowd.lock);
  crowd.open = true;
  GArray *wakers = crowd.wakers;
  crowd.wakers = NULL;
  pthread_mutex_unlock (&crowd.lock);
  for (guint i = 0; i < wakers->len; i++)
    asyncrt_waker_wake (&g_array_index (wakers, AsyncrtWaker, i));
  g_array_free (wakers, TRUE);
  for (int i = 0; i < MANY; i++)
    {
      wait_finished (jh[i]);
      asyncrt_join_handle_free (jh[i]);
    }
  g_assert_cmpint (atomic_load (&real_polls), ==, 2 * MANY);
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_runtime_free (rt);
  g_free (jh);
  g_free (qs);
  pthread_mutex_destroy (&crowd.lock);
  gate_clear (&main_gate);
}

/* ---- every kind of leaf shows in a dump, naming the leaf -------------------------- */

typedef enum
{
  LEAF_NOTIFIED, LEAF_SEMAPHORE, LEAF_MUTEX, LEAF_ONESHOT, LEAF_MPSC_RECV, LEAF_MPSC_SEND,
  LEAF_FD, LEAF_JOIN, LEAF_SLEEP, N_LEAVES
} LeafKind;

static const char *const leaf_names[N_LEAVES] = {
  "asyncrt_notified_poll", "asyncrt_semaphore_acquire_poll", "asyncrt_mutex_lock_poll",
  "asyncrt_oneshot_recv_poll", "asyncrt_mpsc_recv_poll", "asyncrt_mpsc_send_poll",
  "asyncrt_fd_readable_poll", "asyncrt_join_handle_poll", "asyncrt_sleep_poll",
};

typedef struct
{
  AsyncrtNotify notify;
  AsyncrtSemaphore sem;
  AsyncrtMutex mutex;
  AsyncrtOneshotSender *otx;
  AsyncrtOneshotReceiver *orx;
  AsyncrtMpscSender *mtx;
  AsyncrtMpscReceiver *mrx;
  AsyncrtMpscSender *ftx;          /* a full bounded channel */
  AsyncrtMpscReceiver *frx;
  int pipefd[2];
  AsyncrtJoinHandle *never;        /* a task that never finishes, to join */
  Gate never_gate;
} Shared;

typedef struct
{
  LeafKind kind;
  Shared *sh;
  bool started;
  AsyncrtNotified notified;
  AsyncrtSemaphoreAcquire acquire;
  AsyncrtMutexLock lock;
  AsyncrtOneshotRecv orecv;
  AsyncrtMpscRecv mrecv;
  AsyncrtMpscSend msend;
  AsyncrtFd fd;
  AsyncrtSleep sleep;
  int fd_result;
} Waiter;

static NOINLINE AsyncrtPoll
wait_on_leaf (Waiter *w, AsyncrtContext *cx)
{
  AsyncrtPoll r = ASYNCRT_PENDING;
  if (!w->started)
    {
      w->started = true;
      switch (w->kind)
        {
        case LEAF_NOTIFIED: asyncrt_notified_init (&w->notified, &w->sh->notify); break;
        case LEAF_SEMAPHORE: asyncrt_semaphore_acquire_init (&w->acquire, &w->sh->sem, 1); break;
        case LEAF_MUTEX: asyncrt_mutex_lock_init (&w->lock, &w->sh->mutex); break;
        case LEAF_ONESHOT: asyncrt_oneshot_recv_init (&w->orecv, w->sh->orx); break;
        case LEAF_MPSC_RECV: asyncrt_mpsc_recv_init (&w->mrecv, w->sh->mrx); break;
        case LEAF_MPSC_SEND: asyncrt_mpsc_send_init (&w->msend, w->sh->ftx, NULL); break;
        case LEAF_FD: g_assert_cmpint (asyncrt_fd_init (&w->fd, w->sh->pipefd[0]), ==, 0); break;
        case LEAF_SLEEP: asyncrt_sleep_init (&w->sleep, 3600 * 1000); break;
        default: break;
        }
    }
  switch (w->kind)
    {
    case LEAF_NOTIFIED: r = asyncrt_notified_poll (&w->notified, cx); break;
    case LEAF_SEMAPHORE: r = asyncrt_semaphore_acquire_poll (&w->acquire, cx); break;
    case LEAF_MUTEX: r = asyncrt_mutex_lock_poll (&w->lock, cx); break;
    case LEAF_ONESHOT: r = asyncrt_oneshot_recv_poll (&w->orecv, cx); break;
    case LEAF_MPSC_RECV: r = asyncrt_mpsc_recv_poll (&w->mrecv, cx); break;
    case LEAF_MPSC_SEND: r = asyncrt_mpsc_send_poll (&w->msend, cx); break;
    case LEAF_FD: r = asyncrt_fd_readable_poll (&w->fd, cx, &w->fd_result); break;
    case LEAF_JOIN: r = asyncrt_join_handle_poll (w->sh->never, cx); break;
    case LEAF_SLEEP: r = asyncrt_sleep_poll (&w->sleep, cx); break;
    default: break;
    }
  __asm__ volatile ("" ::: "memory");
  return r;
}

static NOINLINE AsyncrtPoll
waiter_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtPoll r = wait_on_leaf (p, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

static void
waiter_free (void *p)
{
  Waiter *w = p;
  if (w->started)
    switch (w->kind)
      {
      case LEAF_NOTIFIED: asyncrt_notified_clear (&w->notified); break;
      case LEAF_SEMAPHORE: asyncrt_semaphore_acquire_clear (&w->acquire); break;
      case LEAF_MUTEX: asyncrt_mutex_lock_clear (&w->lock); break;
      case LEAF_ONESHOT: asyncrt_oneshot_recv_clear (&w->orecv); break;
      case LEAF_MPSC_RECV: asyncrt_mpsc_recv_clear (&w->mrecv); break;
      case LEAF_MPSC_SEND: asyncrt_mpsc_send_clear (&w->msend); break;
      case LEAF_FD: asyncrt_fd_clear (&w->fd); break;
      case LEAF_SLEEP: asyncrt_sleep_clear (&w->sleep); break;
      default: break;
      }
  g_free (w);
}

static void
test_every_leaf (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Shared sh;
  memset (&sh, 0, sizeof sh);
  asyncrt_notify_init (&sh.notify);
  g_assert_cmpint (asyncrt_semaphore_init (&sh.sem, 0), ==, 0);
  asyncrt_mutex_init (&sh.mutex);
  g_assert_cmpint (asyncrt_mutex_try_lock (&sh.mutex), ==, 0);
  g_assert_cmpint (asyncrt_oneshot_new (NULL, &sh.otx, &sh.orx), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_new (0, NULL, &sh.mtx, &sh.mrx), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_new (1, NULL, &sh.ftx, &sh.frx), ==, 0);
  g_assert_cmpint (asyncrt_mpsc_try_send (sh.ftx, &sh), ==, 0);
  g_assert_cmpint (pipe (sh.pipefd), ==, 0);
  g_assert_cmpint (fcntl (sh.pipefd[0], F_SETFL, O_NONBLOCK), ==, 0);
  gate_init (&sh.never_gate);
  sh.never = asyncrt_handle_spawn (h, gate_poll, &sh.never_gate, NULL);

  AsyncrtJoinHandle *jh[N_LEAVES];
  for (int k = 0; k < N_LEAVES; k++)
    {
      Waiter *w = g_new0 (Waiter, 1);
      w->kind = (LeafKind) k;
      w->sh = &sh;
      jh[k] = asyncrt_handle_spawn (h, waiter_poll, w, waiter_free);
    }
  /* Let every waiter poll once for real (registering with its primitive), then dump. */
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  g_usleep (50000);
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
  g_assert_true (asyncrt_dump_is_complete (d));
  for (int k = 0; k < N_LEAVES; k++)
    {
      const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh[k]));
      g_assert_nonnull (t);
      const AsyncrtTrace *tr = asyncrt_dump_task_get_trace (t);
      g_assert_nonnull (tr);
      g_assert_cmpuint (asyncrt_trace_get_n_backtraces (tr), ==, 1);
      GPtrArray *names = backtrace_names (asyncrt_trace_get_backtrace (tr, 0));
      /* The leaf (possibly with internal helpers inside it), then our functions. */
      size_t w = 0;
      const char *want[] = { leaf_names[k], "wait_on_leaf", "waiter_poll", NULL };
      for (size_t i = 0; i < names->len && want[w] != NULL; i++)
        if (g_strcmp0 (g_ptr_array_index (names, i), want[w]) == 0)
          w++;
      if (want[w] != NULL)
        {
          char *s = asyncrt_dump_to_string (d);
          g_test_message ("%s", s);
          free (s);
          g_error ("leaf %s: %s missing", leaf_names[k], want[w]);
        }
      g_ptr_array_free (names, TRUE);
    }
  char *s = asyncrt_dump_to_string (d);
  for (int k = 0; k < N_LEAVES; k++)
    g_assert_nonnull (strstr (s, leaf_names[k]));
  free (s);
  asyncrt_dump_free (d);

  /* Everything still works after the dump: release the mutex waiter. */
  g_assert_cmpint (asyncrt_mutex_unlock (&sh.mutex), ==, 0);
  uint64_t give_up = now_ms () + test_timeout_ms (5000);
  while (!asyncrt_join_handle_is_finished (jh[LEAF_MUTEX]))
    {
      g_assert_cmpuint (now_ms (), <, give_up);
      g_usleep (1000);
    }
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_runtime_free (rt);
  for (int k = 0; k < N_LEAVES; k++)
    asyncrt_join_handle_free (jh[k]);
  asyncrt_join_handle_free (sh.never);
  gate_clear (&sh.never_gate);
  gate_clear (&main_gate);
  asyncrt_mpsc_sender_free (sh.ftx);
  asyncrt_mpsc_receiver_free (sh.frx);
  asyncrt_mpsc_sender_free (sh.mtx);
  asyncrt_mpsc_receiver_free (sh.mrx);
  asyncrt_oneshot_sender_free (sh.otx);
  asyncrt_oneshot_receiver_free (sh.orx);
  if (asyncrt_mutex_is_locked (&sh.mutex))
    asyncrt_mutex_unlock (&sh.mutex);
  asyncrt_mutex_clear (&sh.mutex);
  asyncrt_semaphore_clear (&sh.sem);
  asyncrt_notify_clear (&sh.notify);
  close (sh.pipefd[0]);
  close (sh.pipefd[1]);
}

/* ---- concurrent requests are serialised; each gets a whole dump -------------------- */

typedef struct
{
  AsyncrtHandle *h;
  AsyncrtJoinHandle **jh;
  int n_ok;
} Concurrent;

static void *
concurrent_thread (void *p)
{
  Concurrent *c = p;
  for (int i = 0; i < 40; i++)
    {
      AsyncrtDump *d = NULL;
      g_assert_cmpint (asyncrt_handle_dump (c->h, test_timeout_ms (10000), &d), ==, 0);
      assert_abc_dump (d, c->jh, 3);
      asyncrt_dump_free (d);
      c->n_ok++;
    }
  return NULL;
}

static void
test_concurrent (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  AsyncrtJoinHandle *jh[3];
  spawn_abc (h, jh, 3);
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  Concurrent c[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    {
      c[i] = (Concurrent) { h, jh, 0 };
      pthread_create (&th[i], NULL, concurrent_thread, &c[i]);
    }
  for (int i = 0; i < 4; i++)
    {
      pthread_join (th[i], NULL);
      g_assert_cmpint (c[i].n_ok, ==, 40);
    }
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  for (int i = 0; i < 3; i++)
    asyncrt_join_handle_free (jh[i]);
  gate_clear (&main_gate);
  asyncrt_runtime_free (rt);
}

/* ---- multi-thread: a round cancelled by shutdown while a worker waits at the barrier:
 * the waiting worker withdraws, the dump returns -ESHUTDOWN at once, shutdown ends. */

typedef struct
{
  AsyncrtRuntime *rt;
} Freer;

static void *
free_thread (void *p)
{
  Freer *fr = p;
  asyncrt_runtime_free (fr->rt);
  return NULL;
}

static void
test_withdraw_on_shutdown (void)
{
  AsyncrtRuntime *rt = new_rt (MT);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  int pipefd[2];
  g_assert_cmpint (pipe (pipefd), ==, 0);
  Blocker blk = { pipefd[0], false };
  AsyncrtJoinHandle *blocker = asyncrt_handle_spawn (h, blocker_poll, &blk, NULL);
  wait_started (&blk);
  /* One worker is stuck: the other waits at the barrier (a long deadline). */
  DumpThread dt = { h, NULL, test_timeout_ms (20000), -1, NULL, 0, NULL };
  pthread_t th;
  pthread_create (&th, NULL, dump_thread, &dt);
  g_usleep (100000);
  Freer fr = { rt };
  pthread_t ft;
  pthread_create (&ft, NULL, free_thread, &fr);
  pthread_join (th, NULL);
  g_assert_cmpint (dt.result, ==, -ESHUTDOWN);
  g_assert_cmpuint (dt.elapsed_ms, <, test_timeout_ms (5000));
  /* Shutdown waits for the stuck worker only. */
  g_assert_cmpint (write (pipefd[1], "x", 1), ==, 1);
  pthread_join (ft, NULL);
  asyncrt_join_handle_free (blocker);
  close (pipefd[0]);
  close (pipefd[1]);
}

/* ---- out of time while tracing: the rest are released untraced, not stranded -------- */

typedef struct
{
  Gate *gate;
  atomic_int real_polls;
} Slow;

/* Blocks its thread for 100 ms before its leaf, but only in trace polls. */
static AsyncrtPoll
slow_poll (void *p, AsyncrtContext *cx)
{
  Slow *self = p;
  if (asyncrt_trace_is_tracing ())
    g_usleep (100000);
  else
    atomic_fetch_add (&self->real_polls, 1);
  return gate_poll (self->gate, cx);
}

#define N_SLOW 6

static void
test_out_of_time (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  Gate gates[N_SLOW];
  Slow slow[N_SLOW];
  AsyncrtJoinHandle *jh[N_SLOW];
  for (int i = 0; i < N_SLOW; i++)
    {
      gate_init (&gates[i]);
      slow[i].gate = &gates[i];
      atomic_init (&slow[i].real_polls, 0);
      jh[i] = asyncrt_handle_spawn (h, slow_poll, &slow[i], NULL);
    }
  /* Let every one go idle on its gate (one real poll each). */
  uint64_t give_up = now_ms () + test_timeout_ms (5000);
  for (int i = 0; i < N_SLOW; i++)
    while (atomic_load (&slow[i].real_polls) < 1)
      {
        g_assert_cmpuint (now_ms (), <, give_up);
        g_usleep (1000);
      }
  g_usleep (20000);

  AsyncrtDump *d = NULL;
  uint64_t t0 = now_ms ();
  g_assert_cmpint (asyncrt_handle_dump (h, 300, &d), ==, 0);
  g_assert_cmpuint (now_ms () - t0, <, 300 + 100 + test_timeout_ms (300));
  g_assert_false (asyncrt_dump_is_complete (d));
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, N_SLOW);
  char *text = asyncrt_dump_to_string (d);
  g_test_message ("%s", text);
  if (asyncrt_dump_get_n_missing_workers (d) == 0)
    {
      /* Traced one by one until the deadline; the rest listed untraced. */
      unsigned traced = 0, late = 0;
      for (int i = 0; i < N_SLOW; i++)
        {
          const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh[i]));
          if (asyncrt_dump_task_get_trace (t) != NULL)
            traced++;
          else
            {
              g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (t), ==,
                               ASYNCRT_DUMP_NO_TRACE_DEADLINE);
              late++;
            }
        }
      g_assert_cmpuint (traced, >=, 1);
      g_assert_cmpuint (late, >=, 1);
      g_assert_nonnull (strstr (text, "(not traced: deadline passed)"));
    }
  else
    g_test_message ("the dump was abandoned (slow machine): a census");
  free (text);
  asyncrt_dump_free (d);
  /* Those released untraced went back to idle: not one real poll since. */
  g_usleep (test_timeout_ms (500));    /* the abandoned dump's tracing ends meanwhile */
  for (int i = 0; i < N_SLOW; i++)
    g_assert_cmpint (atomic_load (&slow[i].real_polls), ==, 1);
  /* Nobody was stranded: every task finishes once its gate opens. */
  for (int i = 0; i < N_SLOW; i++)
    gate_open (&gates[i]);
  for (int i = 0; i < N_SLOW; i++)
    {
      wait_finished (jh[i]);
      asyncrt_join_handle_free (jh[i]);
      g_assert_cmpint (atomic_load (&slow[i].real_polls), ==, 2);
    }
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_runtime_free (rt);
  for (int i = 0; i < N_SLOW; i++)
    gate_clear (&gates[i]);
  gate_clear (&main_gate);
}

/* ---- current-thread with nobody in block_on: no task code runs anywhere ----------- */

typedef struct
{
  Gate gate;
  atomic_int polls;              /* every poll, trace polls too */
  atomic_int trace_polls;
  pthread_t trace_thread;        /* where the last trace poll ran */
} Counted;

static NOINLINE AsyncrtPoll
counted_poll (void *p, AsyncrtContext *cx)
{
  Counted *c = p;
  atomic_fetch_add (&c->polls, 1);
  if (asyncrt_trace_is_tracing ())
    {
      c->trace_thread = pthread_self ();
      atomic_fetch_add (&c->trace_polls, 1);
    }
  ASYNCRT_FORWARD (gate_poll (&c->gate, cx));
}

typedef struct
{
  Counted *c;
} UntilPolled;

static AsyncrtPoll
until_polled (void *p, AsyncrtContext *cx)
{
  UntilPolled *u = p;
  if (atomic_load (&u->c->polls) >= 1)
    return ASYNCRT_READY;
  asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));
  return ASYNCRT_PENDING;
}

static void
test_not_running (void)
{
  AsyncrtRuntime *rt = new_rt (CT);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Counted *idle = g_new0 (Counted, 1), *fresh = g_new0 (Counted, 1);
  gate_init (&idle->gate);
  gate_init (&fresh->gate);
  AsyncrtJoinHandle *ji = asyncrt_handle_spawn_full (h, __FILE__, __LINE__, __func__, "idle",
                                                     counted_poll, idle, NULL);
  UntilPolled up = { idle };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, until_polled, &up), ==, 0);
  AsyncrtJoinHandle *jf = asyncrt_handle_spawn_full (h, __FILE__, __LINE__, __func__, "fresh",
                                                     counted_poll, fresh, NULL);
  g_assert_cmpint (atomic_load (&idle->polls), ==, 1);
  g_assert_cmpint (atomic_load (&fresh->polls), ==, 0);

  /* Nobody in block_on: the blocking dump and a dump future (polled by hand, outside
   * any runtime) both answer at once with every task listed and nothing run. */
  for (int round = 0; round < 2; round++)
    {
      AsyncrtDump *d = NULL;
      uint64_t t0 = now_ms ();
      if (round == 0)
        g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
      else
        {
          AsyncrtDumpFuture df;
          AsyncrtContext *cx = asyncrt_context_new (asyncrt_waker_noop ());
          asyncrt_dump_future_init (&df, h, test_timeout_ms (5000));
          g_assert_true (asyncrt_dump_future_poll (&df, cx) == ASYNCRT_READY);
          d = asyncrt_dump_future_take (&df);
          asyncrt_dump_future_clear (&df);
          asyncrt_context_free (cx);
        }
      g_assert_cmpuint (now_ms () - t0, <, test_timeout_ms (1000));   /* did not wait */
      g_assert_nonnull (d);
      g_assert_false (asyncrt_dump_is_complete (d));
      g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 2);
      g_assert_cmpuint (asyncrt_dump_get_n_missing_workers (d), ==, 0);
      const AsyncrtDumpTask *ti = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (ji));
      const AsyncrtDumpTask *tf = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jf));
      g_assert_cmpint (asyncrt_dump_task_get_state (ti), ==, ASYNCRT_TASK_STATE_IDLE);
      g_assert_cmpint (asyncrt_dump_task_get_state (tf), ==, ASYNCRT_TASK_STATE_SCHEDULED);
      g_assert_cmpuint (asyncrt_dump_task_get_poll_count (ti), ==, 1);
      g_assert_cmpuint (asyncrt_dump_task_get_poll_count (tf), ==, 0);
      g_assert_cmpstr (asyncrt_dump_task_get_name (tf), ==, "fresh");
      for (size_t i = 0; i < 2; i++)
        {
          const AsyncrtDumpTask *t = asyncrt_dump_get_task (d, i);
          g_assert_null (asyncrt_dump_task_get_trace (t));
          g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (t), ==,
                           ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING);
        }
      char *s = asyncrt_dump_to_string (d);
      g_assert_nonnull (strstr (s, "(census: runtime not running (no thread in block_on))"));
      g_assert_nonnull (strstr (s, "(not traced: runtime not running)"));
      free (s);
      asyncrt_dump_free (d);
      /* No task code ran: not the idle one's, not the never-polled one's. */
      g_assert_cmpint (atomic_load (&idle->polls), ==, 1);
      g_assert_cmpint (atomic_load (&fresh->polls), ==, 0);
    }

  /* With a thread in block_on the dump is traced there, on that thread. */
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
  g_assert_true (asyncrt_dump_is_complete (d));
  asyncrt_dump_free (d);
  g_assert_cmpint (atomic_load (&idle->trace_polls), ==, 1);
  g_assert_true (pthread_equal (idle->trace_thread, runner));
  gate_open (&idle->gate);
  gate_open (&fresh->gate);
  wait_finished (ji);
  wait_finished (jf);
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_join_handle_free (ji);
  asyncrt_join_handle_free (jf);
  asyncrt_runtime_free (rt);
  gate_clear (&idle->gate);
  gate_clear (&fresh->gate);
  gate_clear (&main_gate);
  g_free (idle);
  g_free (fresh);
}

/* ---- hostile strings cannot forge the text dump ---------------------------------- */

static void
test_hostile_names (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  char *big = g_strnfill (4096, 'A');
  big[2000] = '\n';
  const char *names[] = {
    "x\"\ntask 999 idle, name \"fake\"",
    "quote\"and\\backslash",
    "\x01\x02\x03",
    "\x1b[2J\x1b]0;pwned\x07",
    "\xff\xfe",
    "\r\nworker 0 did not stop",
    "\xe2\x80\xae" "bidi\xc2\x9b" "31m",
    big,
    "",
    "é 名前 ╼",
  };
  const size_t n = G_N_ELEMENTS (names);
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  Gate *gates = g_new0 (Gate, n);
  AsyncrtJoinHandle **jh = g_new0 (AsyncrtJoinHandle *, n);
  for (size_t i = 0; i < n; i++)
    {
      gate_init (&gates[i]);
      /* The spawn site is the program's too. */
      jh[i] = asyncrt_handle_spawn_full (h, i % 2 ? "evil\nfile.c" : __FILE__, (int) i,
                                         i % 3 ? "fn\x1b[1m" : __func__, names[i],
                                         gate_poll, &gates[i], NULL);
    }
  for (size_t i = 0; i < n; i++)
    wait_idle (h, jh[i]);

  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, n);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpstr (asyncrt_dump_task_get_name (asyncrt_dump_find_task (
                       d, asyncrt_join_handle_get_id (jh[i]))), ==, names[i]);
  char *s = asyncrt_dump_to_string (d);
  g_assert_true (g_utf8_validate (s, -1, NULL));
  /* Nothing reaches a terminal raw: no control character but the line ends. */
  for (const char *p = s; *p != '\0'; p++)
    g_assert_true ((unsigned char) *p >= 0x20 || *p == '\n');
  g_assert_null (strstr (s, "\x7f"));
  g_assert_null (strstr (s, "\xc2\x9b"));
  g_assert_null (strstr (s, "\xe2\x80\xae"));
  /* One header line per task, and every line is a header, the summary, or indented. */
  /* (Line 0 names the process, line 1 is the summary.) */
  char **lines = g_strsplit (s, "\n", -1);
  g_assert_true (g_str_has_prefix (lines[0], "process "));
  g_assert_true (g_str_has_prefix (lines[1], "task dump of "));
  size_t headers = 0;
  for (size_t i = 2; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      if (g_str_has_prefix (lines[i], "task "))
        headers++;
      else
        g_assert_true (g_str_has_prefix (lines[i], "  "));
    }
  g_assert_cmpuint (headers, ==, n);
  g_assert_null (strstr (s, "\ntask 999"));
  g_strfreev (lines);
  free (s);

  char *json = test_dump_json (d, 0);
  g_assert_true (g_utf8_validate (json, -1, NULL));
  for (const char *p = json; *p != '\0'; p++)
    g_assert_cmpuint ((unsigned char) *p, >=, 0x20);
#ifdef HAVE_JSON_GLIB
  JsonParser *parser = json_parser_new ();
  GError *error = NULL;
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  JsonArray *tasks = json_object_get_array_member (
    json_node_get_object (json_parser_get_root (parser)), "tasks");
  g_assert_cmpuint (json_array_get_length (tasks), ==, n);
  for (size_t i = 0; i < n; i++)
    {
      JsonObject *t = json_array_get_object_element (tasks, i);
      size_t k = 0;
      while (asyncrt_join_handle_get_id (jh[k]) != (AsyncrtTaskId) json_object_get_int_member (t, "id"))
        k++;
      char *valid = g_utf8_make_valid (names[k], -1);
      g_assert_cmpstr (json_object_get_string_member (t, "name"), ==, valid);
      g_free (valid);
    }
  g_object_unref (parser);
#endif
  free (json);
  asyncrt_dump_free (d);

  for (size_t i = 0; i < n; i++)
    {
      gate_open (&gates[i]);
      wait_finished (jh[i]);
      asyncrt_join_handle_free (jh[i]);
    }
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_runtime_free (rt);
  for (size_t i = 0; i < n; i++)
    gate_clear (&gates[i]);
  gate_clear (&main_gate);
  g_free (gates);
  g_free (jh);
  g_free (big);
}

/* ---- real wakes racing trace polls: none is lost -------------------------------------- */

/* A leaf that becomes ready once per pulse (a counting gate). */
typedef struct
{
  pthread_mutex_t lock;
  unsigned pulses;                 /* given */
  unsigned taken;                  /* consumed by the task */
  AsyncrtWaker waker;
} Pulse;

static NOINLINE AsyncrtPoll
pulse_poll (Pulse *p, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  pthread_mutex_lock (&p->lock);
  if (p->pulses > p->taken)
    {
      p->taken++;
      pthread_mutex_unlock (&p->lock);
      return ASYNCRT_READY;
    }
  const AsyncrtWaker *w = asyncrt_context_get_waker (cx);
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  if (!asyncrt_waker_will_wake (&p->waker, w))
    {
      old = p->waker;
      p->waker = asyncrt_waker_clone (w);
    }
  pthread_mutex_unlock (&p->lock);
  asyncrt_waker_free (&old);
  return ASYNCRT_PENDING;
}

static void
pulse_give (Pulse *p)
{
  pthread_mutex_lock (&p->lock);
  p->pulses++;
  AsyncrtWaker w = p->waker;
  p->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  pthread_mutex_unlock (&p->lock);
  asyncrt_waker_wake (&w);
}

typedef struct
{
  AsyncrtCoroutine co;
  Pulse pulse;
  unsigned rounds, i;
} Pulsed;

static NOINLINE AsyncrtPoll
pulsed_poll (void *p, AsyncrtContext *cx)
{
  Pulsed *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < self->rounds; self->i++)
    ASYNCRT_AWAIT (&self->co, pulse_poll (&self->pulse, cx));
  ASYNCRT_END (&self->co);
}

#define RACE_TASKS 32

typedef struct
{
  Pulsed *tasks;
  unsigned rounds;
} Pulser;

static void *
pulser_thread (void *p)
{
  Pulser *pl = p;
  for (unsigned r = 0; r < pl->rounds; r++)
    for (unsigned i = 0; i < RACE_TASKS; i++)
      {
        pulse_give (&pl->tasks[i].pulse);
        if ((i & 7) == 0)
          sched_yield ();
      }
  return NULL;
}

static void
test_wake_race (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  const unsigned rounds = 300;
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  Pulsed *tasks = g_new0 (Pulsed, RACE_TASKS);
  AsyncrtJoinHandle *jh[RACE_TASKS];
  for (unsigned i = 0; i < RACE_TASKS; i++)
    {
      pthread_mutex_init (&tasks[i].pulse.lock, NULL);
      tasks[i].pulse.waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
      tasks[i].rounds = rounds;
      jh[i] = asyncrt_handle_spawn (h, pulsed_poll, &tasks[i], NULL);
    }
  Dumper dp = { .h = h };
  atomic_init (&dp.stop, false);
  atomic_init (&dp.n_dumps, 0);
  pthread_t dumper;
  pthread_create (&dumper, NULL, dumper_thread, &dp);
  while (atomic_load (&dp.n_dumps) < 2)
    g_usleep (1000);
  Pulser pl = { tasks, rounds };
  pthread_t pulser;
  pthread_create (&pulser, NULL, pulser_thread, &pl);
  pthread_join (pulser, NULL);
  /* Every pulse was given; a lost wake leaves its task waiting forever. */
  uint64_t give_up = now_ms () + test_timeout_ms (30000);
  for (unsigned i = 0; i < RACE_TASKS; i++)
    while (!asyncrt_join_handle_is_finished (jh[i]))
      {
        if (now_ms () >= give_up)
          g_error ("task %u stuck after %u of %u pulses (%d dumps): a wake was lost", i,
                   tasks[i].i, rounds, atomic_load (&dp.n_dumps));
        g_usleep (1000);
      }
  atomic_store (&dp.stop, true);
  pthread_join (dumper, NULL);
  g_test_message ("%d dumps, %d traced tasks", atomic_load (&dp.n_dumps), dp.n_traced);
  g_assert_cmpint (atomic_load (&dp.n_dumps), >=, 2);
  for (unsigned i = 0; i < RACE_TASKS; i++)
    {
      g_assert_cmpuint (tasks[i].pulse.taken, ==, rounds);
      asyncrt_join_handle_free (jh[i]);
      asyncrt_waker_free (&tasks[i].pulse.waker);
      pthread_mutex_destroy (&tasks[i].pulse.lock);
    }
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_runtime_free (rt);
  gate_clear (&main_gate);
  g_free (tasks);
}

/* ---- the dump future keeps its deadline, whatever the blocking pool does ----------- */

typedef struct
{
  AsyncrtDumpFuture df;
  unsigned timeout_ms;
  bool started;
  uint64_t first_poll_ms, ready_ms;
  int error;
  AsyncrtDump *dump;
} Timed;

static AsyncrtPoll
timed_poll (void *p, AsyncrtContext *cx)
{
  Timed *self = p;
  if (!self->started)
    {
      self->started = true;
      self->first_poll_ms = now_ms ();
      asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), self->timeout_ms);
    }
  if (asyncrt_dump_future_poll (&self->df, cx) == ASYNCRT_PENDING)
    return ASYNCRT_PENDING;
  self->ready_ms = now_ms ();
  self->error = asyncrt_dump_future_get_error (&self->df);
  self->dump = asyncrt_dump_future_take (&self->df);
  asyncrt_dump_future_clear (&self->df);
  return ASYNCRT_READY;
}

typedef struct
{
  atomic_bool release;
  atomic_bool running;
} PoolHog;

static void
hog_func (void *p)
{
  PoolHog *hog = p;
  atomic_store (&hog->running, true);
  uint64_t give_up = now_ms () + test_timeout_ms (20000);
  while (!atomic_load (&hog->release) && now_ms () < give_up)
    g_usleep (1000);
}

static void
test_future_deadline (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  AsyncrtBuilder *b;
#ifdef TEST_DUMP_HAVE_MT
  if (f == MT)
    {
      b = asyncrt_builder_new_multi_thread ();
      asyncrt_builder_set_worker_threads (b, 2);
    }
  else
#endif
    b = asyncrt_builder_new_current_thread ();
  g_assert_cmpint (asyncrt_builder_set_max_blocking_threads (b, 1), ==, 0);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  /* The only blocking-pool thread is busy for as long as the test lasts. */
  PoolHog hog;
  atomic_init (&hog.release, false);
  atomic_init (&hog.running, false);
  AsyncrtJoinHandle *hj = asyncrt_handle_spawn_blocking (h, hog_func, &hog);
  while (!atomic_load (&hog.running))
    g_usleep (1000);
  AsyncrtJoinHandle *abc[2];
  spawn_abc (h, abc, 2);

  /* 1. The dump does not need the pool: done well before the deadline. */
  Timed t = { .timeout_ms = 100 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, timed_poll, &t), ==, 0);
  g_test_message ("dump future: %" G_GUINT64_FORMAT " ms", t.ready_ms - t.first_poll_ms);
  g_assert_cmpint (t.error, ==, 0);
  g_assert_nonnull (t.dump);
  g_assert_cmpuint (t.ready_ms - t.first_poll_ms, <, 100 + test_timeout_ms (100));
  g_assert_true (asyncrt_dump_is_complete (t.dump));
  asyncrt_dump_free (t.dump);

  int pipefd[2] = { -1, -1 };
  AsyncrtJoinHandle *blockers[2] = { NULL, NULL };
  Blocker blk[2];
  if (f == MT)
    {
      /* 2. Every worker stuck: nobody takes the dump up; its timer (not a worker, not
       * the pool) ends it at the deadline with a census. */
      g_assert_cmpint (pipe (pipefd), ==, 0);
      for (int i = 0; i < 2; i++)
        {
          /* One at a time: each lands on the worker that is still free. */
          blk[i] = (Blocker) { pipefd[0], false };
          blockers[i] = asyncrt_handle_spawn (h, blocker_poll, &blk[i], NULL);
          wait_started (&blk[i]);
        }
      Timed t2 = { .timeout_ms = 100 };
      g_assert_cmpint (asyncrt_runtime_block_on (rt, timed_poll, &t2), ==, 0);
      uint64_t took = t2.ready_ms - t2.first_poll_ms;
      g_test_message ("dump future, every worker stuck: %" G_GUINT64_FORMAT " ms", took);
      g_assert_cmpuint (took, >=, 100);
      g_assert_cmpuint (took, <, 100 + test_timeout_ms (100));
      g_assert_cmpint (t2.error, ==, 0);
      g_assert_nonnull (t2.dump);
      g_assert_cmpuint (asyncrt_dump_get_n_missing_workers (t2.dump), ==, 2);
      g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (
                         asyncrt_dump_find_task (t2.dump, asyncrt_join_handle_get_id (abc[0]))),
                       ==, ASYNCRT_DUMP_NO_TRACE_DEADLINE);
      g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (
                         asyncrt_dump_find_task (t2.dump, asyncrt_join_handle_get_id (blockers[0]))),
                       ==, ASYNCRT_DUMP_NO_TRACE_RUNNING);
      asyncrt_dump_free (t2.dump);
      g_assert_cmpint (write (pipefd[1], "xy", 2), ==, 2);
      for (int i = 0; i < 2; i++)
        wait_finished (blockers[i]);
    }
  atomic_store (&hog.release, true);   /* asyncrt_runtime_free() waits for the pool */
  asyncrt_join_handle_free (hj);
  for (int i = 0; i < 2; i++)
    {
      asyncrt_join_handle_free (abc[i]);
      asyncrt_join_handle_free (blockers[i]);
    }
  asyncrt_runtime_free (rt);
  if (pipefd[0] >= 0)
    {
      close (pipefd[0]);
      close (pipefd[1]);
    }
}

/* ---- a handle a watchdog keeps across asyncrt_runtime_free() ----------------------- */

typedef struct
{
  AsyncrtHandle *h;                /* the watchdog's own reference */
  atomic_int ok, shutdown;
} Watchdog;

static void *
watchdog_thread (void *p)
{
  Watchdog *w = p;
  for (int after = 0; after < 20;)
    {
      AsyncrtDump *d = NULL;
      int r = asyncrt_handle_dump (w->h, test_timeout_ms (2000), &d);
      if (r == 0)
        {
          g_assert_cmpint (atomic_load (&w->shutdown), ==, 0);   /* never after */
          free (asyncrt_dump_to_string (d));
          asyncrt_dump_free (d);
          atomic_fetch_add (&w->ok, 1);
        }
      else
        {
          g_assert_cmpint (r, ==, -ESHUTDOWN);
          atomic_fetch_add (&w->shutdown, 1);
          after++;
        }
    }
  asyncrt_handle_unref (w->h);
  return NULL;
}

static void
test_handle_ref (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
  g_assert_null (asyncrt_handle_ref (NULL));
  asyncrt_handle_unref (NULL);

  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_handle_ref (asyncrt_runtime_get_handle (rt));
  g_assert_true (h == asyncrt_runtime_get_handle (rt));
  AsyncrtJoinHandle *abc[2];
  spawn_abc (h, abc, 2);
  Watchdog w = { asyncrt_handle_ref (h) };
  atomic_init (&w.ok, 0);
  atomic_init (&w.shutdown, 0);
  pthread_t th;
  pthread_create (&th, NULL, watchdog_thread, &w);
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  while (atomic_load (&w.ok) < 3)
    g_usleep (1000);
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  asyncrt_runtime_free (rt);          /* the watchdog may be in the middle of a dump */
  pthread_join (th, NULL);
  g_assert_cmpint (atomic_load (&w.shutdown), ==, 20);

  /* After the runtime is gone, the handle still answers, about the shutdown. */
  AsyncrtDump *d = (AsyncrtDump *) 0x1;
  g_assert_cmpint (asyncrt_handle_dump (h, 100, &d), ==, -ESHUTDOWN);
  g_assert_cmpint (asyncrt_handle_dump (h, 0, &d), ==, -ESHUTDOWN);
  g_assert_true (d == (AsyncrtDump *) 0x1);
  AsyncrtDumpFuture df;
  AsyncrtContext *cx = asyncrt_context_new (asyncrt_waker_noop ());
  asyncrt_dump_future_init (&df, h, 100);
  g_assert_true (asyncrt_dump_future_poll (&df, cx) == ASYNCRT_READY);
  g_assert_cmpint (asyncrt_dump_future_get_error (&df), ==, -ESHUTDOWN);
  asyncrt_dump_future_clear (&df);
  asyncrt_context_free (cx);
  AsyncrtJoinHandle *late = asyncrt_handle_spawn (h, gate_poll, &main_gate, NULL);
  g_assert_nonnull (late);
  g_assert_true (asyncrt_join_handle_is_cancelled (late));
  asyncrt_join_handle_free (late);
  for (int i = 0; i < 2; i++)
    {
      g_assert_true (asyncrt_join_handle_is_cancelled (abc[i]));
      asyncrt_join_handle_free (abc[i]);
    }
  asyncrt_handle_unref (h);           /* the last reference: the memory goes */
  gate_clear (&main_gate);
}

/* ---- multi-thread: a task left in the LIFO slot of a worker that did not stop ------ */

typedef struct
{
  int fd;
  atomic_bool started;
  Gate *wake;                     /* opened first: its task lands in our LIFO slot */
} WakeThenBlock;

static AsyncrtPoll
wake_then_block_poll (void *p, AsyncrtContext *cx)
{
  WakeThenBlock *b = p;
  char c;
  (void) cx;
  gate_open (b->wake);
  atomic_store (&b->started, true);
  if (read (b->fd, &c, 1) != 1)
    g_error ("read failed");
  return ASYNCRT_READY;
}

/* The task woken into the LIFO slot of a worker whose poll then blocks is not left
 * there: the other worker takes it and runs it (the scheduler steals a task that stays
 * in the slot of a worker stuck in one poll), and a dump meanwhile shows the blocked
 * task running on its worker.  (A task still in such a slot when a dump stops the
 * workers is taken and traced by the dump's leader, or, if its worker took it back
 * first, listed as queued on that worker: test-dump-model covers that text.) */
static void
test_queued_on_missing_worker (void)
{
  AsyncrtRuntime *rt = new_rt (MT);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  int pipefd[2];
  g_assert_cmpint (pipe (pipefd), ==, 0);
  Gate gate;
  gate_init (&gate);
  AsyncrtJoinHandle *waiter = asyncrt_handle_spawn (h, gate_poll, &gate, NULL);
  wait_idle (h, waiter);
  WakeThenBlock wb = { pipefd[0], false, &gate };
  AsyncrtJoinHandle *blocker = asyncrt_handle_spawn (h, wake_then_block_poll, &wb, NULL);
  uint64_t give_up = now_ms () + test_timeout_ms (5000);
  while (!atomic_load (&wb.started))
    {
      g_assert_cmpuint (now_ms (), <, give_up);
      g_usleep (1000);
    }
  /* Still blocked: the waiter runs all the same. */
  wait_finished (waiter);
  g_assert_false (asyncrt_join_handle_is_finished (blocker));
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (h, 300, &d), ==, 0);
  char *s = asyncrt_dump_to_string (d);
  g_test_message ("%s", s);
  const AsyncrtDumpTask *tb = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (blocker));
  g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (tb), ==, ASYNCRT_DUMP_NO_TRACE_RUNNING);
  g_assert_cmpint (asyncrt_dump_task_get_worker (tb), >=, 0);
  g_assert_null (asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (waiter)));
  free (s);
  asyncrt_dump_free (d);
  g_assert_cmpint (write (pipefd[1], "x", 1), ==, 1);
  wait_finished (blocker);
  asyncrt_join_handle_free (blocker);
  asyncrt_join_handle_free (waiter);
  asyncrt_runtime_free (rt);
  gate_clear (&gate);
  close (pipefd[0]);
  close (pipefd[1]);
}

/* ---- fork: children of a process with dumps in flight build and dump runtimes ------- */

/* In the child: a runtime of its own, dumped from inside (the future) and from
 * outside (the blocking call), formatted (symbols resolved).  Exit status 0 if all
 * went well; a hang ends in SIGALRM. */
static int
fork_child (Flavour f)
{
  alarm (test_timeout_ms (20000) / 1000 + 1);
  AsyncrtBuilder *b = f == MT ? asyncrt_builder_new_multi_thread ()
                              : asyncrt_builder_new_current_thread ();
  if (f == MT)
    asyncrt_builder_set_worker_threads (b, 2);
  AsyncrtRuntime *rt = NULL;
  if (asyncrt_builder_build (b, &rt) != 0)
    return 10;
  asyncrt_builder_free (b);
  DumpMain m;
  memset (&m, 0, sizeof m);
  if (asyncrt_runtime_block_on (rt, dump_main_poll, &m) != 0 || m.error != 0 || m.dump == NULL)
    return 11;
  if (asyncrt_dump_get_n_tasks (m.dump) != 3 || !asyncrt_dump_is_complete (m.dump))
    {
      char *text = asyncrt_dump_to_string (m.dump);
      fprintf (stderr, "child's dump:\n%s", text);
      free (text);
      return 12;
    }
  char *s = asyncrt_dump_to_string (m.dump);
  bool named = strstr (s, "a_poll") != NULL && strstr (s, "asyncrt_yield_poll") != NULL;
  free (s);
  asyncrt_dump_free (m.dump);
  if (!named)
    return 13;
  AsyncrtDump *d = NULL;
  if (asyncrt_handle_dump (asyncrt_runtime_get_handle (rt), test_timeout_ms (5000), &d) != 0)
    return 14;
  free (asyncrt_dump_to_json (d));
  asyncrt_dump_free (d);
  for (int i = 0; i < 3; i++)
    asyncrt_join_handle_free (m.jh[i]);
  asyncrt_runtime_free (rt);
  return 0;
}

static void
test_fork (gconstpointer data)
{
  Flavour f = GPOINTER_TO_INT (data);
  if (skip_unless_supported (f))
    return;
#if defined(__SANITIZE_THREAD__)
  g_test_skip ("ThreadSanitizer does not support threads in a child of a threaded process");
  return;
#elif defined(__SANITIZE_ADDRESS__)
  /* This AddressSanitizer's allocator takes no lock across fork(): a child forked
   * while another thread allocates can hang in malloc (seen in libasan's
   * SizeClassAllocator64::GetFromAllocator), whatever the program does. */
  g_test_skip ("AddressSanitizer's allocator is not fork-safe in threaded processes");
  return;
#endif
  AsyncrtRuntime *rt = new_rt (f);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  AsyncrtJoinHandle *jh[3];
  spawn_abc (h, jh, 3);
  Gate main_gate;
  gate_init (&main_gate);
  Runner run = { rt, &main_gate };
  pthread_t runner;
  start_runner (&run, &runner);
  /* Dumps in flight all the time: captures, the runtime's dump queue, symbol look-ups
   * (dumper_thread formats every 50th; formatting here too). */
  Dumper dp[2] = { { .h = h }, { .h = h } };
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    {
      atomic_init (&dp[i].stop, false);
      atomic_init (&dp[i].n_dumps, 0);
      pthread_create (&th[i], NULL, dumper_thread, &dp[i]);
    }
  for (int i = 0; i < 50; i++)
    {
      AsyncrtDump *d = NULL;
      g_assert_cmpint (asyncrt_handle_dump (h, test_timeout_ms (5000), &d), ==, 0);
      free (asyncrt_dump_to_string (d));
      asyncrt_dump_free (d);
      fflush (stdout);
      fflush (stderr);
      pid_t pid = fork ();
      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        _exit (fork_child (f));
      int status = 0;
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        g_error ("child %d: %s %d", i, WIFEXITED (status) ? "exit status" : "killed by signal",
                 WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status));
    }
  for (int i = 0; i < 2; i++)
    {
      atomic_store (&dp[i].stop, true);
      pthread_join (th[i], NULL);
    }
  gate_open (&main_gate);
  pthread_join (runner, NULL);
  for (int i = 0; i < 3; i++)
    asyncrt_join_handle_free (jh[i]);
  asyncrt_runtime_free (rt);
  gate_clear (&main_gate);
}

static void
add (const char *name, Flavour f, GTestDataFunc fn)
{
  char *path = g_strdup_printf ("/dump/%s/%s", f == CT ? "current-thread" : "multi-thread", name);
  g_test_add_data_func (path, GINT_TO_POINTER (f), fn);
  g_free (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (Flavour f = CT; f <= MT; f++)
    {
      add ("abc-future", f, test_abc_future);
      add ("abc-blocking", f, test_abc_blocking);
      add ("branch", f, test_branch);
      add ("complete-during-trace", f, test_complete_during_trace);
      add ("wake-during-trace", f, test_wake_during_trace);
      add ("blocked-worker", f, test_blocked_worker);
      add ("churn", f, test_churn);
      add ("race-shutdown", f, test_race_shutdown);
      add ("future-in-task", f, test_future_in_task);
      add ("future-dropped", f, test_future_dropped);
      add ("errors", f, test_errors);
      add ("stats-and-json", f, test_stats_and_json);
      add ("every-leaf", f, test_every_leaf);
      add ("concurrent", f, test_concurrent);
      add ("out-of-time", f, test_out_of_time);
      add ("many-idle-no-polls", f, test_many_idle_no_polls);
      add ("hostile-names", f, test_hostile_names);
      add ("wake-race", f, test_wake_race);
      add ("future-deadline", f, test_future_deadline);
      add ("handle-ref", f, test_handle_ref);
      add ("fork", f, test_fork);
    }
  g_test_add_func ("/dump/current-thread/timedout", test_timedout);
  g_test_add_func ("/dump/current-thread/not-running", test_not_running);
  g_test_add_func ("/dump/multi-thread/queued-on-missing-worker", test_queued_on_missing_worker);
  g_test_add_func ("/dump/multi-thread/withdraw-on-shutdown", test_withdraw_on_shutdown);
  test_dump_json_add_check ();
  return g_test_run ();
}
