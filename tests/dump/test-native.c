/* Native stacks in dumps, through the public API, on both schedulers, at -O2 -g (as
 * Debian builds): a task spinning in a CPU loop, one blocked in read() on a pipe
 * nobody writes, one in nanosleep(), one in pthread_mutex_lock(), a blocking-pool job
 * blocked in read(); a dump from another thread lists each with the native stack of
 * its thread, naming the loop or the call and the task's own function, starting at
 * the task's poll; a running task among idle ones keeps its place and its stack.  Afterwards every blocked call completes normally and the runtime
 * goes on.  Then: a signal the program owns, native stacks turned off, a thread that
 * blocks the signal, the environment variable with hostile values. */
#include <asyncrt/asyncrt.h>

#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flavour-util.h"
#include "harness-util.h"

#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif

/* ThreadSanitizer runs a program's handler for an asynchronous signal at once only
 * when the thread waits in one of a few interceptors (nanosleep, sleep...); otherwise
 * it keeps the signal pending until the thread next enters or leaves an interceptor.
 * A thread spinning in plain code, waiting in read() or in pthread_mutex_lock() takes
 * it only once it is done: those cases cannot be sampled under TSan. */
#define TSAN_SKIP_REASON \
  "ThreadSanitizer keeps an asynchronous signal pending until the thread leaves this " \
  "call (it runs handlers at once only inside a few interceptors, such as nanosleep)"

/* ---- the harness (harness-util.h), and a task that proves the runtime goes on ---------- */

static AsyncrtPoll
ready_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  atomic_store ((atomic_bool *) p, true);
  return ASYNCRT_READY;
}

/* The runtime goes on: a new task runs to completion. */
static void
check_runtime_goes_on (Harness *hs)
{
  atomic_bool ran = false;
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (hs->h, ready_poll, &ran, NULL);
  g_assert_nonnull (jh);
  wait_finished (jh);
  g_assert_true (atomic_load (&ran));
  asyncrt_join_handle_free (jh);
}

/* ---- looking at a dump ------------------------------------------------------------------ */

static AsyncrtDump *
dump_of (Harness *hs)
{
  /* The current-thread runtime's only thread is blocked: the dump ends as a census at
   * its deadline, with the running task sampled.  Keep it short there. */
  unsigned timeout = test_timeout_ms (multi_flavour ? 1000 : 300);
  gint64 t0 = g_get_monotonic_time ();
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (hs->h, timeout, &d), ==, 0);
  gint64 took_ms = (g_get_monotonic_time () - t0) / 1000;
  /* The deadline rule holds: the deadline plus the grace, plus the bounded sampling
   * (generous: the machine may be busy). */
  g_assert_cmpint (took_ms, <, (gint64) timeout + (gint64) test_timeout_ms (1000));
  return d;
}

static const char *
frame_name (const AsyncrtBacktraceFrame *f, size_t k)
{
  return asyncrt_backtrace_symbol_get_name (asyncrt_backtrace_frame_get_symbol (f, k));
}

static bool
stack_has (const AsyncrtTrace *tr, const char *needle)
{
  const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (tr, 0);
  for (size_t i = 0; i < asyncrt_backtrace_get_n_frames (bt); i++)
    {
      const AsyncrtBacktraceFrame *f = asyncrt_backtrace_get_frame (bt, i);
      for (size_t k = 0; k < asyncrt_backtrace_frame_get_n_symbols (f); k++)
        if (strstr (frame_name (f, k), needle) != NULL)
          return true;
    }
  return false;
}

/* The task's native stack: innermost first, ending at the task's own poll function
 * (the scheduler's frames above its root are cut), naming @needle somewhere. */
static const AsyncrtDumpTask *
check_native_task (AsyncrtDump *d, AsyncrtTaskId id, const char *poll_name,
                   const char *const *needles)
{
  const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, id);
  g_assert_nonnull (t);
  g_assert_cmpint (asyncrt_dump_task_get_state (t), ==, ASYNCRT_TASK_STATE_RUNNING);
  g_assert_cmpint (asyncrt_dump_task_get_no_trace_reason (t), ==, ASYNCRT_DUMP_NO_TRACE_RUNNING);
  if (asyncrt_dump_task_get_native_stack_status (t) != ASYNCRT_NATIVE_STACK_OK)
    g_test_message ("no native stack: %s", asyncrt_native_stack_status_to_string (
                      asyncrt_dump_task_get_native_stack_status (t)));
  g_assert_cmpint (asyncrt_dump_task_get_native_stack_status (t), ==, ASYNCRT_NATIVE_STACK_OK);
  g_assert_cmpint (asyncrt_dump_task_get_trace_kind (t), ==, ASYNCRT_TRACE_KIND_NATIVE);
  g_assert_cmpint (asyncrt_dump_task_get_worker (t), >=, 0);
  const AsyncrtTrace *tr = asyncrt_dump_task_get_trace (t);
  g_assert_nonnull (tr);
  g_assert_cmpuint (asyncrt_trace_get_n_backtraces (tr), ==, 1);
  const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (tr, 0);
  size_t n = asyncrt_backtrace_get_n_frames (bt);
  char *text = asyncrt_trace_to_string (tr);
  g_test_message ("native stack of task %" G_GUINT64_FORMAT ":\n%s", id, text);
  free (text);
  g_assert_cmpuint (n, >=, 2);
  g_assert_false (asyncrt_backtrace_is_truncated (bt));
  /* The outermost frame is the task's poll: nothing of the scheduler above it. */
  const AsyncrtBacktraceFrame *outer = asyncrt_backtrace_get_frame (bt, n - 1);
  g_assert_cmpstr (frame_name (outer, asyncrt_backtrace_frame_get_n_symbols (outer) - 1), ==,
                   poll_name);
  g_assert_false (stack_has (tr, "asyncrt_trace_root_poll"));
  g_assert_false (stack_has (tr, "asyncrt__task_run"));
  for (size_t i = 0; needles[i] != NULL; i++)
    {
      if (!stack_has (tr, needles[i]))
        g_test_message ("'%s' not in the stack", needles[i]);
      g_assert_true (stack_has (tr, needles[i]));
    }

  /* Text and JSON say it. */
  char *s = asyncrt_dump_to_string (d);
  g_test_message ("%s", s);
  g_assert_nonnull (strstr (s, "— native stack:"));
  g_assert_nonnull (strstr (s, poll_name));
  free (s);
  s = asyncrt_dump_to_json (d);
  g_assert_nonnull (strstr (s, "\"trace_kind\":\"native\""));
  g_assert_nonnull (strstr (s, "\"native_stack\":\"ok\""));
  g_assert_nonnull (strstr (s, "\"native_stacks\":\"available\""));
  free (s);
  return t;
}

/* ---- the blocked tasks --------------------------------------------------------------------- */

typedef struct
{
  atomic_bool started;
  atomic_bool stop;
  atomic_int eintr;
  pthread_t thread;
  int fd;
  pthread_mutex_t *mutex;
  ssize_t result;
  int error;
} Blocker;

__attribute__((noinline)) static void
sampled_spin_loop (Blocker *b)
{
  while (!atomic_load_explicit (&b->stop, memory_order_relaxed))
    __asm__ volatile ("" ::: "memory");
}

__attribute__((noinline)) static AsyncrtPoll
spin_task_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  Blocker *b = p;
  atomic_store (&b->started, true);
  sampled_spin_loop (b);
  __asm__ volatile ("" ::: "memory");
  return ASYNCRT_READY;
}

/* A plain read(): no EINTR loop, since SA_RESTART restarts it. */
__attribute__((noinline)) static void
sampled_read_call (Blocker *b)
{
  char c;
  b->result = read (b->fd, &c, 1);
  b->error = b->result < 0 ? errno : 0;
  __asm__ volatile ("" ::: "memory");
}

__attribute__((noinline)) static AsyncrtPoll
read_task_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  Blocker *b = p;
  atomic_store (&b->started, true);
  sampled_read_call (b);
  __asm__ volatile ("" ::: "memory");
  return ASYNCRT_READY;
}

/* nanosleep() is never restarted (SA_RESTART or not): code that may be sampled
 * handles EINTR, as here, by sleeping again for the rest. */
__attribute__((noinline)) static void
sampled_nanosleep_call (Blocker *b)
{
  while (!atomic_load (&b->stop))
    {
      struct timespec req = { 3600, 0 }, rem;
      if (nanosleep (&req, &rem) < 0 && errno == EINTR)
        atomic_fetch_add (&b->eintr, 1);
    }
  __asm__ volatile ("" ::: "memory");
}

__attribute__((noinline)) static AsyncrtPoll
sleep_task_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  Blocker *b = p;
  b->thread = pthread_self ();
  atomic_store (&b->started, true);
  sampled_nanosleep_call (b);
  __asm__ volatile ("" ::: "memory");
  return ASYNCRT_READY;
}

/* Naps of 10 ms until stopped: a thread that any build (ThreadSanitizer too) can
 * sample, for the tests that check why there is or is not a stack. */
__attribute__((noinline)) static AsyncrtPoll
nap_task_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  Blocker *b = p;
  atomic_store (&b->started, true);
  while (!atomic_load (&b->stop))
    {
      struct timespec ts = { 0, 10 * 1000000 };
      nanosleep (&ts, NULL);
    }
  return ASYNCRT_READY;
}

__attribute__((noinline)) static void
sampled_lock_call (Blocker *b)
{
  b->error = pthread_mutex_lock (b->mutex);
  if (b->error == 0)
    pthread_mutex_unlock (b->mutex);
  __asm__ volatile ("" ::: "memory");
}

__attribute__((noinline)) static AsyncrtPoll
lock_task_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  Blocker *b = p;
  atomic_store (&b->started, true);
  sampled_lock_call (b);
  __asm__ volatile ("" ::: "memory");
  return ASYNCRT_READY;
}

static AsyncrtJoinHandle *
spawn_blocker (Harness *hs, const char *name, AsyncrtPollFunc poll, Blocker *b)
{
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_named (hs->h, name, poll, b, NULL);
  g_assert_nonnull (jh);
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (!atomic_load (&b->started) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_true (atomic_load (&b->started));
  g_usleep (20000);          /* from the flag into the call */
  return jh;
}

/* Ends a spinning blocker: it finishes, and the runtime goes on. */
static void
stop_spinner (Harness *hs, Blocker *b, AsyncrtJoinHandle *jh)
{
  atomic_store (&b->stop, true);
  wait_finished (jh);
  asyncrt_join_handle_free (jh);
  check_runtime_goes_on (hs);
  harness_stop (hs);
}

/* ---- the four blocked tasks ---------------------------------------------------------------- */

static void
test_spin (void)
{
#ifdef TEST_TSAN
  g_test_skip (TSAN_SKIP_REASON);
  return;
#endif
  Harness hs;
  harness_start (&hs);
  Blocker b = { 0 };
  AsyncrtJoinHandle *jh = spawn_blocker (&hs, "spinner", spin_task_poll, &b);
  AsyncrtDump *d = dump_of (&hs);
  const char *needles[] = { "sampled_spin_loop", NULL };
  const AsyncrtDumpTask *t = check_native_task (d, asyncrt_join_handle_get_id (jh),
                                                "spin_task_poll", needles);
  g_assert_cmpstr (asyncrt_dump_task_get_name (t), ==, "spinner");
  /* The worker that did not stop shows the same stack. */
  for (size_t i = 0; i < asyncrt_dump_get_n_missing_workers (d); i++)
    {
      AsyncrtTaskId id = 0;
      const AsyncrtTrace *tr = NULL;
      AsyncrtNativeStackStatus st;
      g_assert_cmpint (asyncrt_dump_get_missing_worker (d, i, NULL, &id, NULL), ==, 0);
      g_assert_cmpint (asyncrt_dump_get_missing_worker_stack (d, i, &tr, &st), ==, 0);
      if (id == asyncrt_join_handle_get_id (jh))
        {
          g_assert_cmpint (st, ==, ASYNCRT_NATIVE_STACK_OK);
          g_assert_true (tr == asyncrt_dump_task_get_trace (t));
        }
    }
  g_assert_cmpint (asyncrt_dump_get_missing_worker_stack (d, 99, NULL, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_get_missing_worker_stack (NULL, 0, NULL, NULL), ==, -EINVAL);
  asyncrt_dump_free (d);

  stop_spinner (&hs, &b, jh);
}

/* ---- a running task among idle ones ------------------------------------------------------ */

typedef struct
{
  atomic_int *polled;
  bool counted;
} IdleTask;

__attribute__((noinline)) static AsyncrtPoll
idle_leaf_poll (void *p, AsyncrtContext *cx)
{
  IdleTask *t = p;
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  if (!t->counted)
    {
      t->counted = true;
      atomic_fetch_add (t->polled, 1);
    }
  return ASYNCRT_PENDING;
}

#define N_IDLE_EACH_SIDE 40

/* Idle tasks spawned before and after a running one: the dump lists every task in id
 * order, the running one (recorded while the others were collected) in its place and
 * with its own native stack, and, on the multi-thread runtime, every idle task
 * traced. */
static void
test_running_among_idle (void)
{
#ifdef TEST_TSAN
  g_test_skip (TSAN_SKIP_REASON);
  return;
#endif
  Harness hs;
  harness_start (&hs);
  atomic_int polled;
  atomic_init (&polled, 0);
  IdleTask idle[2 * N_IDLE_EACH_SIDE];
  AsyncrtTaskId idle_ids[2 * N_IDLE_EACH_SIDE];
  Blocker b = { 0 };
  AsyncrtJoinHandle *jh = NULL;
  for (int i = 0; i < 2 * N_IDLE_EACH_SIDE; i++)
    {
      if (i == N_IDLE_EACH_SIDE)
        jh = spawn_blocker (&hs, "spinner", spin_task_poll, &b);
      idle[i] = (IdleTask) { &polled, false };
      AsyncrtJoinHandle *ij = asyncrt_handle_spawn (hs.h, idle_leaf_poll, &idle[i], NULL);
      g_assert_nonnull (ij);
      idle_ids[i] = asyncrt_join_handle_get_id (ij);
      asyncrt_join_handle_free (ij);
    }
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (atomic_load (&polled) < 2 * N_IDLE_EACH_SIDE && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  /* On the current-thread runtime the spinner holds the only thread: the idle tasks
   * after it are never polled, and the dump is a census. */
  if (multi_flavour)
    g_assert_cmpint (atomic_load (&polled), ==, 2 * N_IDLE_EACH_SIDE);

  AsyncrtDump *d = dump_of (&hs);
  g_assert_cmpuint (asyncrt_dump_get_n_tasks (d), ==, 2 * N_IDLE_EACH_SIDE + 1);
  for (size_t i = 1; i < asyncrt_dump_get_n_tasks (d); i++)
    g_assert_cmpuint (asyncrt_dump_task_get_id (asyncrt_dump_get_task (d, i - 1)), <,
                      asyncrt_dump_task_get_id (asyncrt_dump_get_task (d, i)));
  const char *needles[] = { "sampled_spin_loop", NULL };
  check_native_task (d, asyncrt_join_handle_get_id (jh), "spin_task_poll", needles);
  for (int i = 0; i < 2 * N_IDLE_EACH_SIDE; i++)
    {
      const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, idle_ids[i]);
      g_assert_nonnull (t);
      if (!multi_flavour)
        continue;
      g_assert_cmpint (asyncrt_dump_task_get_state (t), ==, ASYNCRT_TASK_STATE_IDLE);
      g_assert_cmpint (asyncrt_dump_task_get_trace_kind (t), ==, ASYNCRT_TRACE_KIND_ASYNC);
      g_assert_true (stack_has (asyncrt_dump_task_get_trace (t), "idle_leaf_poll"));
    }
  asyncrt_dump_free (d);

  stop_spinner (&hs, &b, jh);
}

static void
test_read (void)
{
#ifdef TEST_TSAN
  g_test_skip (TSAN_SKIP_REASON);
  return;
#endif
  Harness hs;
  harness_start (&hs);
  int fds[2];
  g_assert_cmpint (pipe (fds), ==, 0);
  Blocker b = { .fd = fds[0] };
  AsyncrtJoinHandle *jh = spawn_blocker (&hs, "reader", read_task_poll, &b);
  AsyncrtDump *d = dump_of (&hs);
  const char *needles[] = { "read", "sampled_read_call", NULL };
  check_native_task (d, asyncrt_join_handle_get_id (jh), "read_task_poll", needles);
  asyncrt_dump_free (d);
  /* A second dump samples it again (the signal is answered each time). */
  d = dump_of (&hs);
  check_native_task (d, asyncrt_join_handle_get_id (jh), "read_task_poll", needles);
  asyncrt_dump_free (d);

  /* The read was restarted, not failed: it returns the byte written now. */
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  wait_finished (jh);
  g_assert_cmpint (b.result, ==, 1);
  g_assert_cmpint (b.error, ==, 0);
  asyncrt_join_handle_free (jh);
  check_runtime_goes_on (&hs);
  harness_stop (&hs);
  close (fds[0]);
  close (fds[1]);
}

static void
test_nanosleep (void)
{
  Harness hs;
  harness_start (&hs);
  Blocker b = { 0 };
  AsyncrtJoinHandle *jh = spawn_blocker (&hs, "sleeper", sleep_task_poll, &b);
  AsyncrtDump *d = dump_of (&hs);
  const char *needles[] = { "nanosleep", "sampled_nanosleep_call", NULL };
  check_native_task (d, asyncrt_join_handle_get_id (jh), "sleep_task_poll", needles);
  asyncrt_dump_free (d);
  /* nanosleep() is never restarted: the sample interrupted it with EINTR (seen by the
   * task just after its thread answered), and the task, which handles EINTR, went
   * back to sleep. */
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000;
  while (atomic_load (&b.eintr) < 1 && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpint (atomic_load (&b.eintr), >=, 1);
  g_assert_false (asyncrt_join_handle_is_finished (jh));

  /* Wake it the same way and let it see `stop`. */
  atomic_store (&b.stop, true);
  int signo = SIGRTMIN + 6;
  g_assert_cmpint (pthread_kill (b.thread, signo), ==, 0);
  wait_finished (jh);
  asyncrt_join_handle_free (jh);
  check_runtime_goes_on (&hs);
  harness_stop (&hs);
}

static void
test_mutex (void)
{
#ifdef TEST_TSAN
  g_test_skip (TSAN_SKIP_REASON);
  return;
#endif
  Harness hs;
  harness_start (&hs);
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock (&m);
  Blocker b = { .mutex = &m };
  AsyncrtJoinHandle *jh = spawn_blocker (&hs, "locker", lock_task_poll, &b);
  AsyncrtDump *d = dump_of (&hs);
  const char *needles[] = { "lock", "sampled_lock_call", NULL };
  check_native_task (d, asyncrt_join_handle_get_id (jh), "lock_task_poll", needles);
  asyncrt_dump_free (d);

  pthread_mutex_unlock (&m);
  wait_finished (jh);
  g_assert_cmpint (b.error, ==, 0);
  asyncrt_join_handle_free (jh);
  check_runtime_goes_on (&hs);
  harness_stop (&hs);
  pthread_mutex_destroy (&m);
}

/* ---- a blocking-pool job ---------------------------------------------------------------------- */

__attribute__((noinline)) static void
sampled_blocking_job (void *data)
{
  Blocker *b = data;
  atomic_store (&b->started, true);
  while (!atomic_load (&b->stop))
    {
      struct timespec ts = { 0, 10 * 1000000 };
      nanosleep (&ts, NULL);
    }
  b->result = 1;
  __asm__ volatile ("" ::: "memory");
}

static void
test_blocking_job (void)
{
  Harness hs;
  harness_start (&hs);
  Blocker b = { 0 };
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn_blocking (hs.h, sampled_blocking_job, &b);
  g_assert_nonnull (jh);
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  while (!atomic_load (&b.started) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_usleep (20000);

  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (hs.h, test_timeout_ms (3000), &d), ==, 0);
  g_assert_cmpuint (asyncrt_dump_get_n_blocking_jobs (d), ==, 1);
  const AsyncrtDumpBlockingJob *j = asyncrt_dump_get_blocking_job (d, 0);
  g_assert_nonnull (j);
  g_assert_null (asyncrt_dump_get_blocking_job (d, 1));
  g_assert_cmpstr (asyncrt_dump_blocking_job_get_function (j), ==, "sampled_blocking_job");
  g_assert_cmpuint (asyncrt_dump_blocking_job_get_address (j), ==,
                    (uintptr_t) sampled_blocking_job);
  g_assert_cmpuint (asyncrt_dump_blocking_job_get_task_id (j), ==, asyncrt_join_handle_get_id (jh));
  g_assert_cmpuint (asyncrt_dump_blocking_job_get_running_ns (j), >=, 10000000u);
  g_assert_cmpint (asyncrt_dump_blocking_job_get_native_stack_status (j), ==,
                   ASYNCRT_NATIVE_STACK_OK);
  const AsyncrtTrace *tr = asyncrt_dump_blocking_job_get_trace (j);
  g_assert_nonnull (tr);
  g_assert_true (stack_has (tr, "nanosleep"));
  g_assert_true (stack_has (tr, "sampled_blocking_job"));
  /* Cut at the pool's job runner: none of its thread's own frames. */
  g_assert_false (stack_has (tr, "worker_main"));
  g_assert_false (stack_has (tr, "start_thread"));
  g_assert_false (asyncrt_backtrace_is_truncated (asyncrt_trace_get_backtrace (tr, 0)));
  char *s = asyncrt_dump_to_string (d);
  g_test_message ("%s", s);
  g_assert_nonnull (strstr (s, "blocking job sampled_blocking_job (task "));
  free (s);
  s = asyncrt_dump_to_json (d);
  g_assert_nonnull (strstr (s, "\"blocking_jobs\":[{\"function\":\"sampled_blocking_job\""));
  free (s);
  asyncrt_dump_free (d);

  /* NULL-safety of the accessors. */
  g_assert_cmpuint (asyncrt_dump_get_n_blocking_jobs (NULL), ==, 0);
  g_assert_null (asyncrt_dump_get_blocking_job (NULL, 0));
  g_assert_null (asyncrt_dump_blocking_job_get_function (NULL));
  g_assert_cmpuint (asyncrt_dump_blocking_job_get_address (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_dump_blocking_job_get_task_id (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_dump_blocking_job_get_running_ns (NULL), ==, 0);
  g_assert_null (asyncrt_dump_blocking_job_get_trace (NULL));
  g_assert_cmpint (asyncrt_dump_blocking_job_get_native_stack_status (NULL), ==,
                   ASYNCRT_NATIVE_STACK_NOT_SAMPLED);

  atomic_store (&b.stop, true);
  wait_finished (jh);
  g_assert_cmpint (b.result, ==, 1);
  asyncrt_join_handle_free (jh);
  check_runtime_goes_on (&hs);
  harness_stop (&hs);
}

/* ---- a census with timeout 0 asks no thread anything ----------------------------------------- */

static void
test_census_zero (void)
{
  Harness hs;
  harness_start (&hs);
  int fds[2];
  g_assert_cmpint (pipe (fds), ==, 0);
  Blocker b = { .fd = fds[0] };
  AsyncrtJoinHandle *jh = spawn_blocker (&hs, "reader", read_task_poll, &b);
  AsyncrtDump *d = NULL;
  g_assert_cmpint (asyncrt_handle_dump (hs.h, 0, &d), ==, 0);
  const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh));
  g_assert_cmpint (asyncrt_dump_task_get_state (t), ==, ASYNCRT_TASK_STATE_RUNNING);
  g_assert_cmpint (asyncrt_dump_task_get_trace_kind (t), ==, ASYNCRT_TRACE_KIND_NONE);
  g_assert_null (asyncrt_dump_task_get_trace (t));
  g_assert_cmpint (asyncrt_dump_task_get_native_stack_status (t), ==,
                   ASYNCRT_NATIVE_STACK_NOT_SAMPLED);
  asyncrt_dump_free (d);
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  wait_finished (jh);
  asyncrt_join_handle_free (jh);
  harness_stop (&hs);
  close (fds[0]);
  close (fds[1]);
  g_assert_cmpint (asyncrt_dump_task_get_trace_kind (NULL), ==, ASYNCRT_TRACE_KIND_NONE);
  g_assert_cmpint (asyncrt_dump_task_get_native_stack_status (NULL), ==,
                   ASYNCRT_NATIVE_STACK_NOT_SAMPLED);
  g_assert_cmpint (asyncrt_dump_get_native_stacks (NULL), ==, ASYNCRT_NATIVE_STACK_NOT_SAMPLED);
}

/* ---- when native stacks are unavailable --------------------------------------------------------- */

static volatile sig_atomic_t program_calls;

static void
program_handler (int signo)
{
  (void) signo;
  program_calls++;
}

/* A dump of a napping task, with the runtime built from @b: the task's native stack
 * status. */
static AsyncrtNativeStackStatus
status_of_napping_task (AsyncrtBuilder *b, AsyncrtNativeStackStatus *ret_dump_status,
                        char **ret_text, char **ret_json)
{
  Harness hs;
  harness_start_with (&hs, b);
  Blocker blk = { 0 };
  AsyncrtJoinHandle *jh = spawn_blocker (&hs, "napper", nap_task_poll, &blk);
  AsyncrtDump *d = dump_of (&hs);
  const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh));
  AsyncrtNativeStackStatus st = asyncrt_dump_task_get_native_stack_status (t);
  if (st != ASYNCRT_NATIVE_STACK_OK)
    {
      g_assert_null (asyncrt_dump_task_get_trace (t));
      g_assert_cmpint (asyncrt_dump_task_get_trace_kind (t), ==, ASYNCRT_TRACE_KIND_NONE);
    }
  *ret_dump_status = asyncrt_dump_get_native_stacks (d);
  *ret_text = asyncrt_dump_to_string (d);
  *ret_json = asyncrt_dump_to_json (d);
  asyncrt_dump_free (d);
  atomic_store (&blk.stop, true);
  wait_finished (jh);
  asyncrt_join_handle_free (jh);
  harness_stop (&hs);
  return st;
}

static void
test_signal_owned_by_program (void)
{
  int signo = SIGRTMIN + 8;
  struct sigaction sa, old;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = program_handler;
  sigemptyset (&sa.sa_mask);
  g_assert_cmpint (sigaction (signo, &sa, &old), ==, 0);

  AsyncrtBuilder *b = new_builder ();
  g_assert_cmpint (asyncrt_builder_set_sample_signal (b, signo), ==, 0);
  AsyncrtNativeStackStatus whole;
  char *text, *json;
  g_assert_cmpint (status_of_napping_task (b, &whole, &text, &json), ==,
                   ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE);
  g_assert_cmpint (whole, ==, ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE);
  g_test_message ("%s", text);
  g_assert_nonnull (strstr (text, "native stacks unavailable: the program handles the "
                                  "sampling signal itself (SIGRTMIN+8)"));
  g_assert_nonnull (strstr (json, "\"native_stacks\":\"signal_in_use\""));
  g_assert_nonnull (strstr (json, "\"sample_signal\":\"SIGRTMIN+8\""));
  g_assert_nonnull (strstr (json, "\"native_stack\":\"signal_in_use\""));
  free (text);
  free (json);

  /* The program's handler is still there, and still works. */
  struct sigaction now;
  g_assert_cmpint (sigaction (signo, NULL, &now), ==, 0);
  g_assert_true (now.sa_handler == program_handler);
  int before = program_calls;
  raise (signo);
  g_assert_cmpint (program_calls, ==, before + 1);
  g_assert_cmpint (sigaction (signo, &old, NULL), ==, 0);
}

static void
test_disabled (void)
{
  AsyncrtBuilder *b = new_builder ();
  g_assert_cmpint (asyncrt_builder_set_sample_signal (b, 0), ==, 0);
  AsyncrtNativeStackStatus whole;
  char *text, *json;
  g_assert_cmpint (status_of_napping_task (b, &whole, &text, &json), ==,
                   ASYNCRT_NATIVE_STACK_DISABLED);
  g_assert_cmpint (whole, ==, ASYNCRT_NATIVE_STACK_DISABLED);
  g_assert_nonnull (strstr (text, "native stacks unavailable: native stacks are turned off"));
  g_assert_nonnull (strstr (json, "\"native_stacks\":\"disabled\",\"sample_signal\":null"));
  free (text);
  free (json);
}

static void
test_other_signal (void)
{
  AsyncrtBuilder *b = new_builder ();
  g_assert_cmpint (asyncrt_builder_set_sample_signal (b, SIGUSR2), ==, 0);
  AsyncrtNativeStackStatus whole;
  char *text, *json;
  g_assert_cmpint (status_of_napping_task (b, &whole, &text, &json), ==, ASYNCRT_NATIVE_STACK_OK);
  g_assert_cmpint (whole, ==, ASYNCRT_NATIVE_STACK_OK);
  g_assert_nonnull (strstr (json, "\"sample_signal\":\"SIGUSR2\""));
  free (text);
  free (json);
}

/* The task blocks the sampling signal itself, then blocks in read(). */
__attribute__((noinline)) static AsyncrtPoll
masked_read_task_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  Blocker *b = p;
  sigset_t set, old;
  sigemptyset (&set);
  sigaddset (&set, SIGRTMIN + 6);
  pthread_sigmask (SIG_BLOCK, &set, &old);
  atomic_store (&b->started, true);
  sampled_read_call (b);
  /* Unblocked, the pending signal is taken now, harmlessly. */
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  return ASYNCRT_READY;
}

static void
test_signal_blocked (void)
{
  Harness hs;
  harness_start (&hs);
  int fds[2];
  g_assert_cmpint (pipe (fds), ==, 0);
  Blocker b = { .fd = fds[0] };
  AsyncrtJoinHandle *jh = spawn_blocker (&hs, "masked", masked_read_task_poll, &b);
  AsyncrtDump *d = dump_of (&hs);
  const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh));
  g_assert_cmpint (asyncrt_dump_task_get_native_stack_status (t), ==,
                   ASYNCRT_NATIVE_STACK_SIGNAL_BLOCKED);
  g_assert_null (asyncrt_dump_task_get_trace (t));
  char *s = asyncrt_dump_to_string (d);
  g_assert_nonnull (strstr (s, "no native stack: the thread blocks the sampling signal"));
  free (s);
  s = asyncrt_dump_to_json (d);
  g_assert_nonnull (strstr (s, "\"native_stack\":\"signal_blocked\""));
  free (s);
  asyncrt_dump_free (d);
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  wait_finished (jh);
  g_assert_cmpint (b.result, ==, 1);
  asyncrt_join_handle_free (jh);
  check_runtime_goes_on (&hs);
  harness_stop (&hs);
  close (fds[0]);
  close (fds[1]);
}

/* The task's thread is a vfork() parent while the child naps: it is in an
 * uninterruptible wait (state D) and takes no signal until the child exits. */
__attribute__((noinline)) static AsyncrtPoll
vfork_task_poll (void *p, AsyncrtContext *cx)
{
  (void) cx;
  Blocker *b = p;
  atomic_store (&b->started, true);
  struct timespec nap = { (time_t) (2 * test_timeout_scale ()), 0 };
  pid_t pid = vfork ();
  if (pid == 0)
    {
      /* The child shares the parent's memory: a raw system call and _exit only. */
      syscall (SYS_nanosleep, &nap, NULL);
      _exit (0);
    }
  int status = 0;
  if (pid > 0)
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
      ;
  b->result = pid > 0 && WIFEXITED (status) ? 1 : -1;
  return ASYNCRT_READY;
}

static void
test_uninterruptible (void)
{
#ifdef TEST_TSAN
  g_test_skip ("ThreadSanitizer runs vfork() as fork(): the parent does not wait in state D");
  return;
#endif
  Harness hs;
  harness_start (&hs);
  Blocker b = { 0 };
  AsyncrtJoinHandle *jh = spawn_blocker (&hs, "vforker", vfork_task_poll, &b);
  AsyncrtDump *d = dump_of (&hs);
  const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_join_handle_get_id (jh));
  g_assert_nonnull (t);
  g_assert_cmpint (asyncrt_dump_task_get_native_stack_status (t), ==,
                   ASYNCRT_NATIVE_STACK_UNINTERRUPTIBLE);
  g_assert_null (asyncrt_dump_task_get_trace (t));
  char *s = asyncrt_dump_to_string (d);
  g_assert_nonnull (strstr (s, "no native stack: the thread is in an uninterruptible sleep"));
  free (s);
  asyncrt_dump_free (d);
  wait_finished (jh);
  g_assert_cmpint (b.result, ==, 1);
  asyncrt_join_handle_free (jh);
  check_runtime_goes_on (&hs);
  harness_stop (&hs);
}

/* ---- the builder and the environment ---------------------------------------------------------------- */

static void
test_builder_errors (void)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  g_assert_cmpint (asyncrt_builder_set_sample_signal (NULL, SIGRTMIN + 6), ==, -EINVAL);
  const int bad[] = { -1, SIGINT, SIGTERM, SIGKILL, SIGSEGV, SIGCHLD, SIGPROF, 32, 33, 65, 9999 };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_cmpint (asyncrt_builder_set_sample_signal (b, bad[i]), ==, -EINVAL);
  g_assert_cmpint (asyncrt_builder_set_sample_signal (b, SIGUSR1), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_sample_signal (b, SIGRTMAX), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_sample_signal (b, 0), ==, 0);
  asyncrt_builder_free (b);
  for (int s = 0; s <= ASYNCRT_NATIVE_STACK_FAILED + 1; s++)
    g_assert_nonnull (asyncrt_native_stack_status_to_string (s));
  g_assert_cmpstr (asyncrt_native_stack_status_to_string (ASYNCRT_NATIVE_STACK_FAILED + 1), ==,
                   "unknown");
}

/* In a subprocess: ASYNCRT_SAMPLE_SIGNAL as given (the runtime still builds, with
 * the default signal when the value is unusable); prints the JSON's signal. */
static void
env_child (void)
{
  AsyncrtBuilder *b = new_builder ();
  AsyncrtNativeStackStatus whole;
  char *text, *json;
  status_of_napping_task (b, &whole, &text, &json);
  const char *p = strstr (json, "\"sample_signal\":");
  g_assert_nonnull (p);
  printf ("%.*s\n", (int) strcspn (p, ","), p);
  free (text);
  free (json);
}

static void
test_env (void)
{
  if (g_test_subprocess ())
    {
      env_child ();
      return;
    }
  const struct
  {
    const char *value;
    const char *expect;       /* in the child's stdout */
    bool warns;
  } cases[] = {
    { "RTMIN+3", "\"sample_signal\":\"SIGRTMIN+3\"", false },
    { "usr2", "\"sample_signal\":\"SIGUSR2\"", false },
    { "none", "\"sample_signal\":null", false },
    { "0", "\"sample_signal\":null", false },
    { "INT", "\"sample_signal\":\"SIGRTMIN+6\"", true },
    { "KILL", "\"sample_signal\":\"SIGRTMIN+6\"", true },
    { "RTMIN+99", "\"sample_signal\":\"SIGRTMIN+6\"", true },
    { "garbage\x1b[2J\n", "\"sample_signal\":\"SIGRTMIN+6\"", true },
    { "-5", "\"sample_signal\":\"SIGRTMIN+6\"", true },
    { "99999999999999999999", "\"sample_signal\":\"SIGRTMIN+6\"", true },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *path = g_strdup_printf ("/native/%s/env", multi_flavour ? "multi-thread"
                                                                     : "current-thread");
      g_setenv ("ASYNCRT_SAMPLE_SIGNAL", cases[i].value, TRUE);
      g_test_trap_subprocess (path, (guint64) test_timeout_ms (20000) * 1000, 0);
      g_unsetenv ("ASYNCRT_SAMPLE_SIGNAL");
      g_free (path);
      g_test_trap_assert_passed ();
      char *pattern = g_strdup_printf ("*%s*", cases[i].expect);
      g_test_trap_assert_stdout (pattern);
      g_free (pattern);
      if (cases[i].warns)
        {
          /* Said once, escaped: no raw escape sequence or newline reaches stderr. */
          g_test_trap_assert_stderr ("*asyncrt: ignoring ASYNCRT_SAMPLE_SIGNAL=*");
          g_test_trap_assert_stderr_unmatched ("*\x1b*");
        }
      else
        g_test_trap_assert_stderr_unmatched ("*ASYNCRT_SAMPLE_SIGNAL*");
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const FlavourTest tests[] = {
    { "spin", test_spin },
    { "running-among-idle", test_running_among_idle },
    { "read", test_read },
    { "nanosleep", test_nanosleep },
    { "mutex", test_mutex },
    { "blocking-job", test_blocking_job },
    { "census-zero", test_census_zero },
    { "signal-owned-by-program", test_signal_owned_by_program },
    { "disabled", test_disabled },
    { "other-signal", test_other_signal },
    { "signal-blocked", test_signal_blocked },
    { "uninterruptible", test_uninterruptible },
    { "env", test_env },
  };
  flavour_add_tests ("native", tests, G_N_ELEMENTS (tests));
  g_test_add_func ("/native/builder-errors", test_builder_errors);
  return g_test_run ();
}
