/* The sampler on its own (lib/sample internals): threads that attach a slot, blocked
 * or busy in known functions, sampled from another thread; the signal's ownership;
 * why a thread does not answer; 10,000 samples of a thread that keeps calling into
 * the C library, without a crash or a lost answer. */
#include "sample/sample-private.h"
#include "scheduler/scheduler-private.h"
#include "util/util-private.h"
#include "test-util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif

static int sample_signo;

/* ---- threads to sample ------------------------------------------------------------------ */

typedef struct
{
  AsyncrtSampleSlot *slot;
  atomic_bool attached;
  atomic_bool stop;
  int fd;                      /* read(): a pipe nobody writes until the end */
  bool block_signal;
  atomic_ulong count;
} Target;

static void
attach (Target *t)
{
  if (t->block_signal)
    {
      sigset_t set;
      sigemptyset (&set);
      sigaddset (&set, sample_signo);
      pthread_sigmask (SIG_BLOCK, &set, NULL);
    }
  asyncrt__sample_slot_attach (t->slot, 0);
  atomic_store (&t->attached, true);
}

__attribute__((noinline)) static void
sampled_read_here (Target *t)
{
  char c;
  ssize_t n;
  do
    n = read (t->fd, &c, 1);
  while (n < 0 && errno == EINTR);
  __asm__ volatile ("" ::: "memory");
}

static void *
reader_main (void *data)
{
  Target *t = data;
  attach (t);
  sampled_read_here (t);
  asyncrt__sample_slot_detach (t->slot, NULL);
  return NULL;
}

__attribute__((noinline)) static void
sampled_spin_here (Target *t)
{
  while (!atomic_load_explicit (&t->stop, memory_order_relaxed))
    __asm__ volatile ("" ::: "memory");
}

static void *
spinner_main (void *data)
{
  Target *t = data;
  attach (t);
  sampled_spin_here (t);
  asyncrt__sample_slot_detach (t->slot, NULL);
  return NULL;
}

/* Churn: allocations, a system call, a lock, in a loop. */
__attribute__((noinline)) static void
sampled_churn_here (Target *t)
{
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  while (!atomic_load_explicit (&t->stop, memory_order_relaxed))
    {
      void *p = g_malloc (64 + atomic_load (&t->count) % 512);
      pthread_mutex_lock (&m);
      atomic_fetch_add (&t->count, 1);
      pthread_mutex_unlock (&m);
      if (atomic_load (&t->count) % 64 == 0)
        (void) getppid ();
      g_free (p);
    }
}

static void *
churn_main (void *data)
{
  Target *t = data;
  attach (t);
  sampled_churn_here (t);
  asyncrt__sample_slot_detach (t->slot, NULL);
  return NULL;
}

static void
target_start (Target *t, pthread_t *th, void *(*main_func) (void *))
{
  t->slot = asyncrt__sample_slot_new ();
  g_assert_cmpint (pthread_create (th, NULL, main_func, t), ==, 0);
  while (!atomic_load (&t->attached))
    g_usleep (1000);
}

static AsyncrtNativeStackStatus
sample_once (AsyncrtSampleSlot *slot, AsyncrtTrace **ret_trace, AsyncrtTaskId *ret_task)
{
  AsyncrtSampleBatch *b = asyncrt__sample_batch_new (sample_signo);
  size_t i = asyncrt__sample_batch_add (b, slot);
  asyncrt__sample_batch_post (b);
  asyncrt__sample_batch_collect (b, asyncrt__clock_now_ns ()
                                    + (uint64_t) test_timeout_ms (2000) * 1000000u);
  AsyncrtNativeStackStatus st = asyncrt__sample_batch_get (b, i, ret_task, ret_trace);
  asyncrt__sample_batch_free (b);
  return st;
}

/* Whether some symbol of some frame has a name containing @needle. */
static bool
trace_names (const AsyncrtTrace *tr, const char *needle)
{
  const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (tr, 0);
  for (size_t i = 0; i < asyncrt_backtrace_get_n_frames (bt); i++)
    {
      const AsyncrtBacktraceFrame *f = asyncrt_backtrace_get_frame (bt, i);
      for (size_t k = 0; k < asyncrt_backtrace_frame_get_n_symbols (f); k++)
        if (strstr (asyncrt_backtrace_symbol_get_name (asyncrt_backtrace_frame_get_symbol (f, k)),
                    needle) != NULL)
          return true;
    }
  return false;
}

static void
print_trace (const AsyncrtTrace *tr)
{
  const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (tr, 0);
  for (size_t i = 0; i < asyncrt_backtrace_get_n_frames (bt); i++)
    {
      const AsyncrtBacktraceFrame *f = asyncrt_backtrace_get_frame (bt, i);
      const AsyncrtBacktraceSymbol *s = asyncrt_backtrace_frame_get_symbol (f, 0);
      g_test_message ("  #%zu %s", i, asyncrt_backtrace_symbol_get_name (s));
    }
}

/* ---- tests --------------------------------------------------------------------------------- */

static void
test_read (void)
{
#ifdef TEST_TSAN
  g_test_skip ("ThreadSanitizer keeps an asynchronous signal pending while the thread "
               "waits in its read() interceptor");
  return;
#endif
  int fds[2];
  g_assert_cmpint (pipe (fds), ==, 0);
  Target t = { .fd = fds[0] };
  pthread_t th;
  target_start (&t, &th, reader_main);
  g_usleep (20000);           /* into read() */

  AsyncrtTrace *tr = NULL;
  AsyncrtTaskId task = 99;
  g_assert_cmpint (sample_once (t.slot, &tr, &task), ==, ASYNCRT_NATIVE_STACK_OK);
  g_assert_cmpuint (task, ==, 0);                   /* not a task */
  print_trace (tr);
  g_assert_true (trace_names (tr, "read"));
  g_assert_true (trace_names (tr, "sampled_read_here"));
  g_assert_true (trace_names (tr, "reader_main"));
  asyncrt_trace_free (tr);

  /* The read goes on and completes normally (SA_RESTART). */
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  pthread_join (th, NULL);
  asyncrt__sample_slot_unref (t.slot);
  close (fds[0]);
  close (fds[1]);
}

static void
test_spin (void)
{
#ifdef TEST_TSAN
  g_test_skip ("ThreadSanitizer keeps an asynchronous signal pending until the thread "
               "enters one of its interceptors: a thread spinning in plain code never does");
  return;
#endif
  Target t = { 0 };
  pthread_t th;
  target_start (&t, &th, spinner_main);
  AsyncrtTrace *tr = NULL;
  g_assert_cmpint (sample_once (t.slot, &tr, NULL), ==, ASYNCRT_NATIVE_STACK_OK);
  print_trace (tr);
  g_assert_true (trace_names (tr, "sampled_spin_here"));
  asyncrt_trace_free (tr);
  atomic_store (&t.stop, true);
  pthread_join (th, NULL);
  asyncrt__sample_slot_unref (t.slot);
}

static void
test_no_thread (void)
{
  AsyncrtSampleSlot *slot = asyncrt__sample_slot_new ();
  g_assert_cmpint (sample_once (slot, NULL, NULL), ==, ASYNCRT_NATIVE_STACK_NO_THREAD);
  asyncrt__sample_slot_unref (slot);

  /* A thread that detached is never signalled again. */
  int fds[2];
  g_assert_cmpint (pipe (fds), ==, 0);
  Target t = { .fd = fds[0] };
  pthread_t th;
  target_start (&t, &th, reader_main);
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  pthread_join (th, NULL);
  g_assert_cmpint (sample_once (t.slot, NULL, NULL), ==, ASYNCRT_NATIVE_STACK_NO_THREAD);
  asyncrt__sample_slot_unref (t.slot);
  close (fds[0]);
  close (fds[1]);
}

static void
test_blocked (void)
{
  int fds[2];
  g_assert_cmpint (pipe (fds), ==, 0);
  Target t = { .fd = fds[0], .block_signal = true };
  pthread_t th;
  target_start (&t, &th, reader_main);
  AsyncrtSampleBatch *b = asyncrt__sample_batch_new (sample_signo);
  size_t i = asyncrt__sample_batch_add (b, t.slot);
  uint64_t t0 = asyncrt__clock_now_ns ();
  asyncrt__sample_batch_post (b);
  asyncrt__sample_batch_collect (b, t0 + 100 * 1000000u);
  g_assert_cmpint (asyncrt__sample_batch_get (b, i, NULL, NULL), ==,
                   ASYNCRT_NATIVE_STACK_SIGNAL_BLOCKED);
  asyncrt__sample_batch_free (b);
  /* A second request does not queue a second signal, and still says why. */
  g_assert_cmpint (sample_once (t.slot, NULL, NULL), ==, ASYNCRT_NATIVE_STACK_SIGNAL_BLOCKED);
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  pthread_join (th, NULL);
  asyncrt__sample_slot_unref (t.slot);
  close (fds[0]);
  close (fds[1]);
}

static void
test_churn (void)
{
  Target t = { 0 };
  pthread_t th;
  target_start (&t, &th, churn_main);
  unsigned n = 10000, named = 0, ok = 0;
  g_assert_cmpint (asyncrt__sample_signal_prepare (sample_signo), ==, ASYNCRT_NATIVE_STACK_OK);
  for (unsigned i = 0; i < n; i++)
    {
      AsyncrtSamplePending p;
      AsyncrtSampleRaw *raw = NULL;
      asyncrt__sample_post (t.slot, sample_signo, &p);
      AsyncrtNativeStackStatus st =
        asyncrt__sample_collect (&p, asyncrt__clock_now_ns ()
                                     + (uint64_t) test_timeout_ms (2000) * 1000000u, &raw);
      if (st == ASYNCRT_NATIVE_STACK_OK)
        ok++;
      else
        g_test_message ("sample %u: %s", i, asyncrt_native_stack_status_to_string (st));
      /* Every sample is signalled, handled and copied; one in 50 is unwound (libdw). */
      if (raw != NULL && i % 50 == 0)
        {
          AsyncrtTrace *tr = asyncrt__sample_unwind (raw);
          if (trace_names (tr, "sampled_churn_here"))
            named++;
          asyncrt_trace_free (tr);
        }
      g_free (raw);
    }
  atomic_store (&t.stop, true);
  pthread_join (th, NULL);
  asyncrt__sample_slot_unref (t.slot);
  g_test_message ("%u samples answered, %u of %u unwound through the loop, %lu iterations",
                  ok, named, n / 50, (unsigned long) atomic_load (&t.count));
  g_assert_cmpuint (ok, ==, n);
  /* Some samples land where the unwinder cannot go on (inside a lock's fast path),
   * most do not. */
  g_assert_cmpuint (named, >=, n / 50 / 2);
}

/* ---- 10,000 samples of a multi-thread runtime's workers while tasks churn --------------- */

typedef struct
{
  AsyncrtCoroutine co;
  unsigned yields;
} Child;

static AsyncrtPoll
child_poll (void *p, AsyncrtContext *cx)
{
  Child *c = p;
  void *garbage = g_malloc (32 + c->yields);
  g_free (garbage);
  if (c->yields-- == 0)
    return ASYNCRT_READY;
  asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));
  return ASYNCRT_PENDING;
}

typedef struct
{
  AsyncrtCoroutine co;
  atomic_bool *stop;
  AsyncrtJoinHandle *jh[16];
  Child children[16];
  unsigned i;
  unsigned rounds;          /* 0: until *stop */
  unsigned long spawned;
} Churn;

static AsyncrtPoll
churn_poll (void *p, AsyncrtContext *cx)
{
  Churn *c = p;
  ASYNCRT_BEGIN (&c->co);
  while (c->rounds == 0 ? !atomic_load (c->stop) : c->spawned < 16ul * c->rounds)
    {
      for (c->i = 0; c->i < 16; c->i++)
        {
          c->children[c->i].yields = c->i % 5;
          c->jh[c->i] = asyncrt_spawn (child_poll, &c->children[c->i], NULL);
          g_assert_nonnull (c->jh[c->i]);
          c->spawned++;
        }
      for (c->i = 0; c->i < 16; c->i++)
        {
          ASYNCRT_AWAIT (&c->co, asyncrt_join_handle_poll (c->jh[c->i], cx));
          asyncrt_join_handle_free (c->jh[c->i]);
        }
    }
  ASYNCRT_END (&c->co);
}

typedef struct
{
  AsyncrtHandle *h;
  atomic_bool stop;
  unsigned ok, unwound, failed;
} Sampler;

static void *
sampler_main (void *data)
{
  Sampler *s = data;
  g_assert_cmpint (asyncrt__sample_signal_prepare (s->h->sample_signo), ==,
                   ASYNCRT_NATIVE_STACK_OK);
  /* The workers attach their slots as their threads start: wait for both. */
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (10000) * 1000;
  for (unsigned w = 0; w < 2; w++)
    for (;;)
      {
        AsyncrtSampleSlot *slot = NULL;
        s->h->ops->worker_activity (s->h, w, NULL, &slot);
        pthread_mutex_lock (&slot->lock);
        bool attached = slot->tid != 0;
        pthread_mutex_unlock (&slot->lock);
        asyncrt__sample_slot_unref (slot);
        if (attached)
          break;
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (1000);
      }
  for (unsigned i = 0; i < 10000; i++)
    {
      AsyncrtSampleSlot *slot = NULL;
      s->h->ops->worker_activity (s->h, i % 2, NULL, &slot);
      g_assert_nonnull (slot);
      AsyncrtSamplePending p;
      AsyncrtSampleRaw *raw = NULL;
      asyncrt__sample_post (slot, s->h->sample_signo, &p);
      AsyncrtNativeStackStatus st =
        asyncrt__sample_collect (&p, asyncrt__clock_now_ns ()
                                     + (uint64_t) test_timeout_ms (2000) * 1000000u, &raw);
      if (st == ASYNCRT_NATIVE_STACK_OK)
        s->ok++;
      else
        {
          s->failed++;
          g_test_message ("sample %u: %s", i, asyncrt_native_stack_status_to_string (st));
        }
      if (raw != NULL && i % 50 == 0)
        {
          AsyncrtTrace *tr = asyncrt__sample_unwind (raw);
          if (asyncrt_backtrace_get_n_frames (asyncrt_trace_get_backtrace (tr, 0)) > 0)
            s->unwound++;
          asyncrt_trace_free (tr);
        }
      g_free (raw);
      asyncrt__sample_slot_unref (slot);
    }
  atomic_store (&s->stop, true);
  return NULL;
}

static void
test_runtime_churn (void)
{
  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  g_assert_cmpint (asyncrt_builder_set_worker_threads (b, 2), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_sample_signal (b, sample_signo), ==, 0);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  Sampler s = { .h = asyncrt_runtime_get_handle (rt) };
  pthread_t th;
  g_assert_cmpint (pthread_create (&th, NULL, sampler_main, &s), ==, 0);
  Churn c = { .stop = &s.stop };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, churn_poll, &c), ==, 0);
  pthread_join (th, NULL);
  g_test_message ("10000 samples: %u answered, %u of 200 unwound; %lu tasks ran meanwhile",
                  s.ok, s.unwound, c.spawned);
  g_assert_cmpuint (s.ok, ==, 10000);
  g_assert_cmpuint (s.failed, ==, 0);
  g_assert_cmpuint (s.unwound, ==, 200);
  g_assert_cmpuint (c.spawned, >, 0);
  /* Still a working runtime: one more round of tasks. */
  Churn again = { .stop = &s.stop, .rounds = 10 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, churn_poll, &again), ==, 0);
  g_assert_cmpuint (again.spawned, ==, 160);
  asyncrt_runtime_free (rt);
}

static volatile sig_atomic_t program_handler_calls;

static void
program_handler (int signo)
{
  (void) signo;
  program_handler_calls++;
}

static void
test_signal_owned_by_program (void)
{
  int signo = SIGRTMIN + 9;
  struct sigaction sa, old;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = program_handler;
  sigemptyset (&sa.sa_mask);
  g_assert_cmpint (sigaction (signo, &sa, &old), ==, 0);
  g_assert_cmpint (asyncrt__sample_signal_prepare (signo), ==, ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE);
  struct sigaction now;
  g_assert_cmpint (sigaction (signo, NULL, &now), ==, 0);
  g_assert_true (now.sa_handler == program_handler);
  raise (signo);
  g_assert_cmpint (program_handler_calls, ==, 1);

  sa.sa_handler = SIG_IGN;
  g_assert_cmpint (sigaction (signo, &sa, NULL), ==, 0);
  g_assert_cmpint (asyncrt__sample_signal_prepare (signo), ==, ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE);
  g_assert_cmpint (sigaction (signo, &old, NULL), ==, 0);

  g_assert_cmpint (asyncrt__sample_signal_prepare (0), ==, ASYNCRT_NATIVE_STACK_DISABLED);
}

static void
test_signal_names (void)
{
  g_assert_cmpint (asyncrt__sample_default_signal (), ==, SIGRTMIN + 6);
  g_assert_true (asyncrt__sample_signal_is_valid (SIGUSR1));
  g_assert_true (asyncrt__sample_signal_is_valid (SIGUSR2));
  g_assert_true (asyncrt__sample_signal_is_valid (SIGRTMAX));
  g_assert_false (asyncrt__sample_signal_is_valid (SIGINT));
  g_assert_false (asyncrt__sample_signal_is_valid (SIGKILL));
  g_assert_false (asyncrt__sample_signal_is_valid (0));
  g_assert_false (asyncrt__sample_signal_is_valid (SIGRTMAX + 1));
  g_assert_false (asyncrt__sample_signal_is_valid (-1));
  for (int s = 0; s <= ASYNCRT_NATIVE_STACK_FAILED + 1; s++)
    {
      g_assert_nonnull (asyncrt_native_stack_status_to_string (s));
      g_assert_nonnull (asyncrt__native_stack_status_name (s));
    }
  g_assert_cmpstr (asyncrt__native_stack_status_name (ASYNCRT_NATIVE_STACK_SIGNAL_BLOCKED), ==,
                   "signal_blocked");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  sample_signo = asyncrt__sample_default_signal ();
  g_test_add_func ("/sample/names", test_signal_names);
  g_test_add_func ("/sample/read", test_read);
  g_test_add_func ("/sample/spin", test_spin);
  g_test_add_func ("/sample/no-thread", test_no_thread);
  g_test_add_func ("/sample/signal-blocked", test_blocked);
  g_test_add_func ("/sample/churn-10000", test_churn);
  g_test_add_func ("/sample/runtime-churn-10000", test_runtime_churn);
  g_test_add_func ("/sample/signal-owned-by-program", test_signal_owned_by_program);
  return g_test_run ();
}
