/* Benchmarks of task dumps: 1,000 and 10,000 idle tasks at async depth 5, on both
 * schedulers.  For each: the time to take a dump, to format it the first time and
 * again (and how many symbol look-ups each formatting missed the cache), and, in the
 * same run, the cost of the bare stack captures the dump needs (one
 * asyncrt_trace_capture() of the same depth-5 future per task), with their ratio,
 * and how many real polls each dump caused afterwards (0: dumps have no side
 * effects).  A current-thread runtime is dumped while a thread is in block_on (its
 * dumps are taken there).  Prints `name value unit` lines; never fails on a number. */
#include "trace/trace-private.h"
#include "util/common-private.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))
#define REPEAT 5

/* depth 5: task root -> l1 -> l2 -> l3 -> l4 -> the leaf */
typedef struct
{
  atomic_int *polled;          /* tasks polled at least once */
  atomic_int *real_polls;      /* every real poll of every task */
  bool counted;
} Chain;

/* A leaf that never becomes ready and needs no waker: the task stays idle. */
static NOINLINE AsyncrtPoll
forever_poll (Chain *c, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  if (c->real_polls != NULL)
    atomic_fetch_add (c->real_polls, 1);
  if (!c->counted && c->polled != NULL)
    {
      c->counted = true;
      atomic_fetch_add (c->polled, 1);
    }
  return ASYNCRT_PENDING;
}

#define LEVEL(name, next)                                     \
  static NOINLINE AsyncrtPoll                                 \
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

static NOINLINE AsyncrtPoll
task_poll (void *p, AsyncrtContext *cx)
{
  AsyncrtPoll r = l1_poll (p, cx);
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

static void
bench (const char *flavour, unsigned n_tasks)
{
  AsyncrtBuilder *b = g_str_equal (flavour, "mt") ? asyncrt_builder_new_multi_thread ()
                                                   : asyncrt_builder_new_current_thread ();
  if (g_str_equal (flavour, "mt"))
    asyncrt_builder_set_worker_threads (b, 2);
  AsyncrtRuntime *rt = NULL;
  if (asyncrt_builder_build (b, &rt) != 0)
    {
      fprintf (stderr, "cannot build a %s runtime\n", flavour);
      exit (1);
    }
  asyncrt_builder_free (b);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);

  atomic_int polled, real_polls;
  atomic_init (&polled, 0);
  atomic_init (&real_polls, 0);
  Chain *chains = g_new0 (Chain, n_tasks);
  for (unsigned i = 0; i < n_tasks; i++)
    {
      chains[i].polled = &polled;
      chains[i].real_polls = &real_polls;
      AsyncrtJoinHandle *jh = asyncrt_handle_spawn (h, task_poll, &chains[i], NULL);
      asyncrt_join_handle_free (jh);
    }
  /* Let every task be polled once for real, so all are idle; then keep a thread in
   * block_on (a current-thread runtime's dumps are taken there). */
  WaitAll wa = { &polled, n_tasks };
  if (asyncrt_runtime_block_on (rt, wait_all_poll, &wa) != 0)
    exit (1);
  Runner runner = { .rt = rt, .waker = ASYNCRT_WAKER_INIT };
  pthread_mutex_init (&runner.lock, NULL);
  atomic_init (&runner.running, false);
  pthread_t runner_th;
  pthread_create (&runner_th, NULL, runner_thread, &runner);
  while (!atomic_load (&runner.running))
    g_usleep (100);
  AsyncrtDump *d = NULL;
  /* Warm up (and resolve every symbol once, so both configurations compare). */
  if (asyncrt_handle_dump (h, 10000, &d) != 0)
    exit (1);
  asyncrt_dump_free (d);

  uint64_t t_dump[REPEAT], t_capture[REPEAT];
  uint64_t t_fmt1 = 0, t_fmt2 = 0, miss1 = 0, miss2 = 0;
  uint64_t t_group = 0, t_json = 0;
  size_t text_bytes = 0, group_bytes = 0, group_lines = 0, json_bytes = 0;
  size_t got = 0;
  bool complete = true;
  g_usleep (20000);                  /* what the warm-up dump caused has run */
  int polls_before = atomic_load (&real_polls);
  for (int r = 0; r < REPEAT; r++)
    {
      uint64_t t0 = now_ns ();
      if (asyncrt_handle_dump (h, 10000, &d) != 0)
        exit (1);
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

      /* The bare captures of the same stacks, on this thread. */
      Chain c = { NULL, NULL, true };
      AsyncrtContext *cx = asyncrt_context_new (asyncrt_waker_noop ());
      Bare bare = { .cx = cx };
      asyncrt_trace_root_init (&bare.root, task_poll, &c);
      t0 = now_ns ();
      for (unsigned i = 0; i < n_tasks; i++)
        asyncrt_trace_free (asyncrt_trace_capture (bare_func, &bare));
      t_capture[r] = now_ns () - t0;
      asyncrt_context_free (cx);
    }
  g_usleep (20000);                  /* what the last dump caused has run */
  int caused = atomic_load (&real_polls) - polls_before;
  runner_stop (&runner);
  pthread_join (runner_th, NULL);
  asyncrt_waker_free (&runner.waker);
  pthread_mutex_destroy (&runner.lock);
  asyncrt_runtime_free (rt);
  g_free (chains);

  uint64_t dump = median (t_dump, REPEAT), cap = median (t_capture, REPEAT);
  char prefix[64];
  g_snprintf (prefix, sizeof prefix, "dump_%s_%u", flavour, n_tasks);
  printf ("%s_tasks %zu tasks\n", prefix, got);
  printf ("%s_complete %d bool\n", prefix, complete ? 1 : 0);
  printf ("%s_time %.3f ms\n", prefix, (double) dump / 1e6);
  printf ("%s_polls_caused_per_dump %.1f polls\n", prefix, (double) caused / REPEAT);
  if (n_tasks > 0)
    printf ("%s_per_task %.0f ns\n", prefix, (double) dump / n_tasks);
  printf ("%s_bare_captures %.3f ms\n", prefix, (double) cap / 1e6);
  if (n_tasks > 0)
    printf ("%s_vs_bare_captures %.2f x\n", prefix, (double) dump / (double) cap);
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

int
main (void)
{
  /* The very first formatting of the process resolves the symbols: measure it on a
   * fresh cache with a small dump first. */
  uint64_t m0 = symbol_misses ();
  bench ("ct", 1000);
  printf ("dump_symbols_resolved_in_process %" G_GUINT64_FORMAT " lookups\n",
          symbol_misses () - m0);
  bench ("ct", 10000);
  bench ("ct", 0);
  bench ("mt", 0);
  bench ("mt", 1000);
  bench ("mt", 10000);
  return 0;
}
