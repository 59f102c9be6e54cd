/* Benchmarks of task dumps: 1,000 and 10,000 idle tasks at async depth 5, on both
 * schedulers.  For each: the time to take a dump, to format it the first time and
 * again (and how many symbol look-ups each formatting missed the cache), and, in the
 * same run, the cost of the bare stack captures the dump needs (one
 * asyncrt_trace_capture() of the same depth-5 future per task), with their ratio,
 * and how many real polls each dump caused afterwards (0: dumps have no side
 * effects).  A current-thread runtime is dumped while a thread is in block_on (its
 * dumps are taken there).
 *
 * The figures of issue 16's table: dump_mt_10000_time against
 * dump_mt_10000_bare_unw_backtrace (the same number of bare unw_backtrace() calls from
 * a leaf at the same depth, the physical limit), dump_mt_10000_dump_and_text (against
 * Go's runtime.Stack(all), bench/go/stack_all.go), and, in a process of its own so
 * its peak memory is its own, dump_mt_100000_{time,text,json,json_bytes,peak_rss}.
 * The depth-5 chain exists twice: compiled as the rest of this file (no frame
 * pointers at -O2 on x86-64: the capture falls back to libunwind), and with frame
 * pointers (the _fp figures: the frame-pointer walk).
 * Arguments: none (everything), `large` (the 100,000 tasks alone), `ct|mt N [fp]`
 * (one configuration), `loop ct|mt DUMPS TASKS` (dumps alone, to profile them), or
 * `loop-text ct|mt TIMES TASKS` (one dump's text, TIMES times).
 * Prints `name value unit` lines; never fails on a number. */
#include "trace/trace-private.h"
#include "util/common-private.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define REPEAT 5

/* depth 5: task root -> l1 -> l2 -> l3 -> l4 -> the leaf */
typedef struct
{
  atomic_int *polled;          /* tasks polled at least once */
  atomic_int *real_polls;      /* every real poll of every task */
  bool counted;
  bool unw;                    /* the bare reference: the leaf calls unw_backtrace() */
} Chain;

static void *unw_buf[128];
static volatile int unw_n;

/* A leaf that never becomes ready and needs no waker: the task stays idle. */
#define FOREVER_BODY(c, cx)                                    \
  if (c->unw)                                                 \
    {                                                         \
      unw_n = unw_backtrace (unw_buf, 128);                   \
      return ASYNCRT_PENDING;                                 \
    }                                                         \
  if (asyncrt_trace_leaf (cx))                                \
    return ASYNCRT_PENDING;                                   \
  if (c->real_polls != NULL)                                  \
    atomic_fetch_add (c->real_polls, 1);                      \
  if (!c->counted && c->polled != NULL)                       \
    {                                                         \
      c->counted = true;                                      \
      atomic_fetch_add (c->polled, 1);                        \
    }                                                         \
  return ASYNCRT_PENDING;

static NOINLINE AsyncrtPoll
forever_poll (Chain *c, AsyncrtContext *cx)
{
  FOREVER_BODY (c, cx)
}

/* The same chain with frame pointers. */
#define FP __attribute__((optimize ("no-omit-frame-pointer")))
static NOINLINE FP AsyncrtPoll
forever_fp_poll (Chain *c, AsyncrtContext *cx)
{
  FOREVER_BODY (c, cx)
}

#define LEVEL(name, next, ...)                                \
  static NOINLINE __VA_ARGS__ AsyncrtPoll                     \
  name (Chain *c, AsyncrtContext *cx)                         \
  {                                                           \
    AsyncrtPoll r = next (c, cx);                             \
    __asm__ volatile ("" ::: "memory"); /* not a tail call */ \
    return r;                                                 \
  }
LEVEL (l4_poll, forever_poll)
LEVEL (l3_poll, l4_poll)
LEVEL (l2_poll, l3_poll)
LEVEL (l1_poll, l2_poll)
LEVEL (l4_fp_poll, forever_fp_poll, FP)
LEVEL (l3_fp_poll, l4_fp_poll, FP)
LEVEL (l2_fp_poll, l3_fp_poll, FP)
LEVEL (l1_fp_poll, l2_fp_poll, FP)

static NOINLINE AsyncrtPoll
task_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtPoll r = l1_poll (p, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

static NOINLINE FP AsyncrtPoll
task_fp_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtPoll r = l1_fp_poll (p, cx);
  __asm__ volatile ("" ::: "memory");
  return r;
}

/* The bare capture: what the dump must do per task, without the runtime. */
typedef struct
{
  AsyncrtTraceRoot root;
  AsyncrtContext *cx;
} Bare;

static void
bare_func (void *data)
{
  Bare *b = data;
  asyncrt_trace_root_poll (&b->root, b->cx);
}

typedef struct
{
  atomic_int *polled;
  unsigned n;
} WaitAll;

static AsyncrtPoll
wait_all_poll (void *p, AsyncrtContext *cx)
{
  WaitAll *w = p;
  if ((unsigned) atomic_load (w->polled) >= w->n)
    return ASYNCRT_READY;
  g_usleep (100);
  asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));
  return ASYNCRT_PENDING;
}

/* block_on's future on the runner thread of a current-thread runtime: pending until
 * stopped. */
typedef struct
{
  pthread_mutex_t lock;
  bool stop;
  AsyncrtWaker waker;
  AsyncrtRuntime *rt;
  atomic_bool running;
} Runner;

static AsyncrtPoll
runner_poll (void *p, AsyncrtContext *cx)
{
  Runner *r = p;
  atomic_store (&r->running, true);
  pthread_mutex_lock (&r->lock);
  bool stop = r->stop;
  if (!stop && asyncrt_waker_is_empty (&r->waker))
    r->waker = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
  pthread_mutex_unlock (&r->lock);
  return stop ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static void *
runner_thread (void *p)
{
  Runner *r = p;
  if (asyncrt_runtime_block_on (r->rt, runner_poll, r) != 0)
    exit (1);
  return NULL;
}

static void
runner_stop (Runner *r)
{
  pthread_mutex_lock (&r->lock);
  r->stop = true;
  AsyncrtWaker w = r->waker;
  r->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  pthread_mutex_unlock (&r->lock);
  asyncrt_waker_wake (&w);
}

static uint64_t
now_ns (void)
{
  return asyncrt__clock_now_ns ();
}

static uint64_t
symbol_misses (void)
{
  AsyncrtSymbolStats st;
  asyncrt__symbol_get_stats (&st);
  return st.misses;
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

static uint64_t
median (uint64_t *v, int n)
{
  qsort (v, (size_t) n, sizeof *v, cmp_u64);
  return v[n / 2];
}

/* Peak and current resident set sizes of this process, in KiB (0 if unknown). */
static void
memory_kib (uint64_t *peak, uint64_t *current)
{
  *peak = *current = 0;
  FILE *f = fopen ("/proc/self/status", "r");
  if (f == NULL)
    return;
  char line[256];
  while (fgets (line, sizeof line, f) != NULL)
    {
      unsigned long long v;
      if (sscanf (line, "VmHWM: %llu kB", &v) == 1)
        *peak = v;
      else if (sscanf (line, "VmRSS: %llu kB", &v) == 1)
        *current = v;
    }
  fclose (f);
}

typedef struct
{
  AsyncrtRuntime *rt;
  AsyncrtHandle *h;
  Chain *chains;
  atomic_int polled, real_polls;
  Runner runner;
  pthread_t runner_th;
} Setup;

/* A runtime of @flavour with @n_tasks idle tasks at depth 5 (frame pointers or not),
 * each polled once, and a thread in block_on. */
static void
setup (Setup *s, const char *flavour, unsigned n_tasks, bool fp)
{
  AsyncrtBuilder *b = g_str_equal (flavour, "mt") ? asyncrt_builder_new_multi_thread ()
                                                   : asyncrt_builder_new_current_thread ();
  if (g_str_equal (flavour, "mt"))
    asyncrt_builder_set_worker_threads (b, 2);
  if (asyncrt_builder_build (b, &s->rt) != 0)
    {
      fprintf (stderr, "cannot build a %s runtime\n", flavour);
      exit (1);
    }
  asyncrt_builder_free (b);
  s->h = asyncrt_runtime_get_handle (s->rt);
  atomic_init (&s->polled, 0);
  atomic_init (&s->real_polls, 0);
  s->chains = g_new0 (Chain, n_tasks);
  for (unsigned i = 0; i < n_tasks; i++)
    {
      s->chains[i].polled = &s->polled;
      s->chains[i].real_polls = &s->real_polls;
      AsyncrtJoinHandle *jh = asyncrt_handle_spawn (s->h, fp ? task_fp_poll : task_poll,
                                                    &s->chains[i], NULL);
      asyncrt_join_handle_free (jh);
    }
  /* Let every task be polled once for real, so all are idle; then keep a thread in
   * block_on (a current-thread runtime's dumps are taken there). */
  WaitAll wa = { &s->polled, n_tasks };
  if (asyncrt_runtime_block_on (s->rt, wait_all_poll, &wa) != 0)
    exit (1);
  s->runner = (Runner) { .rt = s->rt, .waker = ASYNCRT_WAKER_INIT };
  pthread_mutex_init (&s->runner.lock, NULL);
  atomic_init (&s->runner.running, false);
  pthread_create (&s->runner_th, NULL, runner_thread, &s->runner);
  while (!atomic_load (&s->runner.running))
    g_usleep (100);
}

static void
teardown (Setup *s)
{
  runner_stop (&s->runner);
  pthread_join (s->runner_th, NULL);
  asyncrt_waker_free (&s->runner.waker);
  pthread_mutex_destroy (&s->runner.lock);
  asyncrt_runtime_free (s->rt);
  g_free (s->chains);
}

static AsyncrtDump *
dump_or_exit (AsyncrtHandle *h)
{
  AsyncrtDump *d = NULL;
  if (asyncrt_handle_dump (h, 10000, &d) != 0)
    exit (1);
  return d;
}

static void
bench (const char *flavour, unsigned n_tasks, bool fp)
{
  Setup su;
  setup (&su, flavour, n_tasks, fp);
  AsyncrtHandle *h = su.h;
  /* Warm up (and resolve every symbol once, so both configurations compare). */
  AsyncrtDump *d = dump_or_exit (h);
  free (asyncrt_dump_to_string (d));
  asyncrt_dump_free (d);

  uint64_t fp0, unw0, fp1, unw1;
  asyncrt__trace_get_walk_stats (&fp0, &unw0);
  uint64_t t_dump[REPEAT], t_capture[REPEAT], t_unw[REPEAT], t_dump_text[REPEAT];
  uint64_t t_fmt1 = 0, t_fmt2 = 0, miss1 = 0, miss2 = 0;
  uint64_t t_group = 0, t_json = 0;
  size_t text_bytes = 0, group_bytes = 0, group_lines = 0, json_bytes = 0;
  size_t got = 0;
  bool complete = true;
  g_usleep (20000);                  /* what the warm-up dump caused has run */
  int polls_before = atomic_load (&su.real_polls);
  for (int r = 0; r < REPEAT; r++)
    {
      uint64_t t0 = now_ns ();
      d = dump_or_exit (h);
      t_dump[r] = now_ns () - t0;
      got = asyncrt_dump_get_n_tasks (d);
      complete = complete && asyncrt_dump_is_complete (d);
      if (r == 0)
        {
          uint64_t m0 = symbol_misses ();
          t0 = now_ns ();
          free (asyncrt_dump_to_string (d));
          t_fmt1 = now_ns () - t0;
          uint64_t m1 = symbol_misses ();
          t0 = now_ns ();
          char *s = asyncrt_dump_to_string (d);
          t_fmt2 = now_ns () - t0;
          text_bytes = strlen (s);
          free (s);
          miss1 = m1 - m0;
          miss2 = symbol_misses () - m1;
          t0 = now_ns ();
          s = asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_TEXT, ASYNCRT_DUMP_GROUP);
          t_group = now_ns () - t0;
          group_bytes = strlen (s);
          for (const char *p = s; *p != '\0'; p++)
            group_lines += *p == '\n';
          free (s);
          t0 = now_ns ();
          s = asyncrt_dump_to_json (d);
          t_json = now_ns () - t0;
          json_bytes = strlen (s);
          free (s);
        }
      asyncrt_dump_free (d);

      /* A dump and its text, as one: what runtime.Stack(all) does. */
      t0 = now_ns ();
      d = dump_or_exit (h);
      free (asyncrt_dump_to_string (d));
      t_dump_text[r] = now_ns () - t0;
      asyncrt_dump_free (d);

      /* The bare captures of the same stacks, on this thread: asyncrt_trace_capture(),
       * then the leaf calling unw_backtrace() itself. */
      Chain c = { NULL, NULL, true, false };
      AsyncrtContext *cx = asyncrt_context_new (asyncrt_waker_noop ());
      Bare bare = { .cx = cx };
      asyncrt_trace_root_init (&bare.root, fp ? task_fp_poll : task_poll, &c);
      t0 = now_ns ();
      for (unsigned i = 0; i < n_tasks; i++)
        asyncrt_trace_free (asyncrt_trace_capture (bare_func, &bare));
      t_capture[r] = now_ns () - t0;
      c.unw = true;
      t0 = now_ns ();
      for (unsigned i = 0; i < n_tasks; i++)
        bare_func (&bare);
      t_unw[r] = now_ns () - t0;
      asyncrt_context_free (cx);
    }
  asyncrt__trace_get_walk_stats (&fp1, &unw1);
  g_usleep (20000);                  /* what the last dump caused has run */
  int caused = atomic_load (&su.real_polls) - polls_before;
  teardown (&su);

  uint64_t dump = median (t_dump, REPEAT), cap = median (t_capture, REPEAT);
  uint64_t unw = median (t_unw, REPEAT), dump_text = median (t_dump_text, REPEAT);
  char prefix[64];
  g_snprintf (prefix, sizeof prefix, "dump_%s_%u%s", flavour, n_tasks, fp ? "_fp" : "");
  printf ("%s_tasks %zu tasks\n", prefix, got);
  printf ("%s_complete %d bool\n", prefix, complete ? 1 : 0);
  printf ("%s_time %.3f ms\n", prefix, (double) dump / 1e6);
  printf ("%s_polls_caused_per_dump %.1f polls\n", prefix, (double) caused / REPEAT);
  if (n_tasks > 0)
    printf ("%s_per_task %.0f ns\n", prefix, (double) dump / n_tasks);
  printf ("%s_bare_captures %.3f ms\n", prefix, (double) cap / 1e6);
  if (n_tasks > 0)
    printf ("%s_vs_bare_captures %.2f x\n", prefix, (double) dump / (double) cap);
  printf ("%s_bare_unw_backtrace %.3f ms\n", prefix, (double) unw / 1e6);
  if (n_tasks > 0)
    printf ("%s_vs_bare_unw_backtrace %.2f x\n", prefix, (double) dump / (double) unw);
  printf ("%s_dump_and_text %.3f ms\n", prefix, (double) dump_text / 1e6);
  if (fp1 + unw1 > fp0 + unw0)
    printf ("%s_rule_walks %.0f %%\n", prefix,
            100.0 * (double) (fp1 - fp0) / (double) (fp1 - fp0 + unw1 - unw0));
  printf ("%s_format_first %.3f ms\n", prefix, (double) t_fmt1 / 1e6);
  printf ("%s_format_first_symbol_misses %" G_GUINT64_FORMAT " lookups\n", prefix, miss1);
  printf ("%s_format_again %.3f ms\n", prefix, (double) t_fmt2 / 1e6);
  printf ("%s_format_again_symbol_misses %" G_GUINT64_FORMAT " lookups\n", prefix, miss2);
  printf ("%s_text_bytes %zu bytes\n", prefix, text_bytes);
  printf ("%s_format_grouped %.3f ms\n", prefix, (double) t_group / 1e6);
  printf ("%s_grouped_bytes %zu bytes\n", prefix, group_bytes);
  printf ("%s_grouped_lines %zu lines\n", prefix, group_lines);
  printf ("%s_format_json %.3f ms\n", prefix, (double) t_json / 1e6);
  printf ("%s_json_bytes %zu bytes\n", prefix, json_bytes);
  if (n_tasks > 0)
    printf ("%s_json_bytes_per_task %zu bytes\n", prefix, json_bytes / n_tasks);
  fflush (stdout);
}

#define LARGE_REPEAT 7

/* 100,000 idle tasks on 2 workers: dump, text and JSON times (medians), the JSON's
 * size, and the process's peak RSS (this process does nothing else). */
static void
bench_large (unsigned n_tasks)
{
  Setup su;
  setup (&su, "mt", n_tasks, false);
  uint64_t peak0, rss0;
  memory_kib (&peak0, &rss0);
  AsyncrtDump *d = dump_or_exit (su.h);     /* warm-up: resolves the symbols */
  free (asyncrt_dump_to_string (d));
  asyncrt_dump_free (d);
  uint64_t t_dump[LARGE_REPEAT], t_text[LARGE_REPEAT], t_json[LARGE_REPEAT];
  size_t text_bytes = 0, json_bytes = 0, got = 0;
  for (int r = 0; r < LARGE_REPEAT; r++)
    {
      uint64_t t0 = now_ns ();
      d = dump_or_exit (su.h);
      t_dump[r] = now_ns () - t0;
      got = asyncrt_dump_get_n_tasks (d);
      t0 = now_ns ();
      char *s = asyncrt_dump_to_string (d);
      t_text[r] = now_ns () - t0;
      text_bytes = strlen (s);
      free (s);
      t0 = now_ns ();
      s = asyncrt_dump_to_json (d);
      t_json[r] = now_ns () - t0;
      json_bytes = strlen (s);
      free (s);
      asyncrt_dump_free (d);
    }
  uint64_t peak, rss;
  memory_kib (&peak, &rss);
  teardown (&su);
  const char *p = "dump_mt_100000";
  printf ("%s_tasks %zu tasks\n", p, got);
  printf ("%s_time %.3f ms\n", p, (double) median (t_dump, LARGE_REPEAT) / 1e6);
  printf ("%s_text %.3f ms\n", p, (double) median (t_text, LARGE_REPEAT) / 1e6);
  printf ("%s_text_bytes %zu bytes\n", p, text_bytes);
  printf ("%s_json %.3f ms\n", p, (double) median (t_json, LARGE_REPEAT) / 1e6);
  printf ("%s_json_bytes %zu bytes\n", p, json_bytes);
  printf ("%s_rss_before_dumps %.1f MiB\n", p, (double) rss0 / 1024);
  printf ("%s_peak_rss %.1f MiB\n", p, (double) peak / 1024);
  fflush (stdout);
}

/* For a profiler: @n_dumps dumps (`loop mt|ct N TASKS`), or one dump formatted
 * @n_dumps times as text (`loop-text mt|ct N TASKS`). */
static void
bench_loop (const char *flavour, unsigned n_dumps, unsigned n_tasks, bool text)
{
  Setup su;
  setup (&su, flavour, n_tasks, getenv ("FPCHAIN") != NULL);
  uint64_t *t = g_new (uint64_t, n_dumps > 0 ? n_dumps : 1);
  AsyncrtDump *d = dump_or_exit (su.h);     /* warm-up: resolves the symbols */
  free (asyncrt_dump_to_string (d));
  if (!text)
    g_clear_pointer (&d, asyncrt_dump_free);
  for (unsigned r = 0; r < n_dumps; r++)
    {
      uint64_t t0 = now_ns ();
      if (text)
        {
          char *s = asyncrt_dump_to_string (d);
          t[r] = now_ns () - t0;
          free (s);
          continue;
        }
      AsyncrtDump *e = dump_or_exit (su.h);
      t[r] = now_ns () - t0;
      asyncrt_dump_free (e);
    }
  asyncrt_dump_free (d);
  teardown (&su);
  if (n_dumps > 0)
    printf ("dump_%s_%u_%s_median %.3f ms\n", flavour, n_tasks, text ? "loop_text" : "loop",
            (double) median (t, (int) n_dumps) / 1e6);
  g_free (t);
}

int
main (int argc, char **argv)
{
  if (argc == 5 && (strcmp (argv[1], "loop") == 0 || strcmp (argv[1], "loop-text") == 0))
    {
      bench_loop (argv[2], (unsigned) strtoul (argv[3], NULL, 10),
                  (unsigned) strtoul (argv[4], NULL, 10), strcmp (argv[1], "loop-text") == 0);
      return 0;
    }
  if (argc == 2 && strcmp (argv[1], "large") == 0)
    {
      bench_large (100000);
      return 0;
    }
  /* One configuration alone (to profile it): ct|mt N [fp]. */
  if (argc >= 3)
    {
      bench (argv[1], (unsigned) strtoul (argv[2], NULL, 10), argc > 3 && strcmp (argv[3], "fp") == 0);
      return 0;
    }
  /* The very first formatting of the process resolves the symbols: measure it on a
   * fresh cache with a small dump first. */
  uint64_t m0 = symbol_misses ();
  bench ("ct", 1000, false);
  printf ("dump_symbols_resolved_in_process %" G_GUINT64_FORMAT " lookups\n",
          symbol_misses () - m0);
  bench ("ct", 10000, false);
  bench ("ct", 0, false);
  bench ("mt", 0, false);
  bench ("mt", 1000, false);
  bench ("mt", 10000, false);
  bench ("mt", 10000, true);
  fflush (stdout);
  /* The large dump in a process of its own: its peak RSS is its own. */
  pid_t pid = fork ();
  if (pid == 0)
    {
      execl ("/proc/self/exe", argv[0], "large", (char *) NULL);
      _exit (127);
    }
  int status = 0;
  if (pid > 0)
    waitpid (pid, &status, 0);
  return 0;
}
