/* Review stress tests of the multi-thread scheduler's idle coordination: work that
 * arrives while the workers are going to sleep must always be picked up (no lost
 * wake-up), whichever path it takes — a remote spawn, a spawn from a worker as its
 * siblings park, a wake from a foreign thread.  Each round waits, bounded, for one
 * piece of work; a lost wake-up is a round that never finishes. */
#include <asyncrt/asyncrt.h>

#include <glib.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "test-util.h"

static AsyncrtRuntime *
mt_new (unsigned workers)
{
  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  g_assert_nonnull (b);
  g_assert_cmpint (asyncrt_builder_set_worker_threads (b, workers), ==, 0);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  g_assert_nonnull (rt);
  return rt;
}

static bool
wait_for (atomic_ulong *c, unsigned long target, unsigned base_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (base_ms) * 1000;
  while (atomic_load (c) < target)
    {
      if (g_get_monotonic_time () > deadline)
        return false;
      sched_yield ();
    }
  return true;
}

static atomic_ulong n_done;

static AsyncrtPoll
done_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  atomic_fetch_add (&n_done, 1);
  return ASYNCRT_READY;
}

/* A task that spawns a child from inside the runtime (local queue + notify) and
 * returns at once, so that its worker and its siblings head for parking while the
 * child is queued. */
static AsyncrtPoll
parent_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  asyncrt_join_handle_free (asyncrt_handle_spawn (asyncrt_handle_current (), done_poll,
                                                  NULL, NULL));
  return ASYNCRT_READY;
}

/* Spins for a random short while: to land the next event anywhere in the workers'
 * way to sleep (scan, transition, recheck, park). */
static void
jitter (GRand *r)
{
  unsigned k = (unsigned) g_rand_int_range (r, 0, 4);
  if (k == 0)
    return;
  if (k == 1)
    {
      sched_yield ();
      return;
    }
  volatile unsigned n = (unsigned) g_rand_int_range (r, 0, 20000);
  while (n-- > 0)
    ;
  if (k == 3)
    g_usleep ((gulong) g_rand_int_range (r, 0, 300));
}

static void
test_remote_spawn_while_parking (gconstpointer data)
{
  unsigned workers = GPOINTER_TO_UINT (data);
  unsigned rounds = g_test_slow () ? 20000 : 2000;
  AsyncrtRuntime *rt = mt_new (workers);
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  GRand *r = g_rand_new_with_seed (workers);
  atomic_store (&n_done, 0);

  for (unsigned i = 0; i < rounds; i++)
    {
      bool nested = (i & 1) != 0;
      asyncrt_join_handle_free (asyncrt_handle_spawn (h, nested ? parent_poll : done_poll,
                                                      NULL, NULL));
      if (!wait_for (&n_done, i + 1, 10000))
        g_error ("round %u (%s): the task never ran: lost wake-up", i,
                 nested ? "spawn from a worker" : "remote spawn");
      jitter (r);
    }
  g_rand_free (r);
  asyncrt_runtime_free (rt);
}

/* A task parked on a waker that a foreign thread wakes right as the runtime goes
 * idle; each wake must run the task. */
typedef struct
{
  atomic_ulong polls;
  pthread_mutex_t lock;
  AsyncrtWaker waker;
  bool stop;
} Sleeper;

static AsyncrtPoll
sleeper_poll (void *p, AsyncrtContext *cx)
{
  Sleeper *s = p;
  pthread_mutex_lock (&s->lock);
  bool stop = s->stop;
  if (!stop)
    {
      asyncrt_waker_free (&s->waker);
      s->waker = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
    }
  pthread_mutex_unlock (&s->lock);
  atomic_fetch_add (&s->polls, 1);
  return stop ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static void
test_foreign_wake_while_parking (gconstpointer data)
{
  unsigned workers = GPOINTER_TO_UINT (data);
  unsigned rounds = g_test_slow () ? 20000 : 2000;
  AsyncrtRuntime *rt = mt_new (workers);
  Sleeper s = { 0 };
  pthread_mutex_init (&s.lock, NULL);
  AsyncrtJoinHandle *jh = asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt),
                                                sleeper_poll, &s, NULL);
  g_assert_true (wait_for (&s.polls, 1, 10000));
  GRand *r = g_rand_new_with_seed (workers * 7);

  for (unsigned i = 1; i <= rounds; i++)
    {
      jitter (r);
      pthread_mutex_lock (&s.lock);
      AsyncrtWaker w = s.waker;
      s.waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
      if (i == rounds)
        s.stop = true;
      pthread_mutex_unlock (&s.lock);
      g_assert_false (asyncrt_waker_is_empty (&w));
      if (i & 1)
        asyncrt_waker_wake (&w);
      else
        {
          asyncrt_waker_wake_by_ref (&w);
          asyncrt_waker_free (&w);
        }
      if (!wait_for (&s.polls, i + 1, 10000))
        g_error ("round %u: the woken task never ran: lost wake-up", i);
    }
  g_assert_true (wait_for (&s.polls, rounds + 1, 10000));
  asyncrt_join_handle_free (jh);
  g_rand_free (r);
  asyncrt_runtime_free (rt);
  asyncrt_waker_free (&s.waker);
  pthread_mutex_destroy (&s.lock);
}


/* Foreign threads wake tasks by value while asyncrt_runtime_free() runs: a wake whose
 * notified reference is queued (and then drained by the shutdown) must not touch the
 * runtime afterwards.  Under ASan this catches the use-after-free the by-value wake
 * had while it handed its reference over to the queue. */
#define FREE_RACE_TASKS 32

typedef struct
{
  pthread_mutex_t lock;
  AsyncrtWaker wakers[FREE_RACE_TASKS];
  atomic_ulong polled;
  atomic_ulong freed;
  atomic_bool go;
} FreeRace;

typedef struct
{
  FreeRace *fr;
  unsigned index;
} FreeRaceTask;

static AsyncrtPoll
free_race_poll (void *p, AsyncrtContext *cx)
{
  FreeRaceTask *t = p;
  pthread_mutex_lock (&t->fr->lock);
  asyncrt_waker_free (&t->fr->wakers[t->index]);
  t->fr->wakers[t->index] = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
  pthread_mutex_unlock (&t->fr->lock);
  atomic_fetch_add (&t->fr->polled, 1);
  return ASYNCRT_PENDING;
}

static void
free_race_free (void *p)
{
  FreeRaceTask *t = p;
  atomic_fetch_add (&t->fr->freed, 1);
  g_free (t);
}

static gpointer
free_race_waker_main (gpointer data)
{
  FreeRace *fr = data;
  while (!atomic_load (&fr->go))
    sched_yield ();
  for (unsigned round = 0; round < 4; round++)
    for (unsigned i = 0; i < FREE_RACE_TASKS; i++)
      {
        pthread_mutex_lock (&fr->lock);
        AsyncrtWaker w = fr->wakers[i];
        fr->wakers[i] = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
        pthread_mutex_unlock (&fr->lock);
        asyncrt_waker_wake (&w);   /* by value; the empty waker does nothing */
      }
  return NULL;
}

static void
test_foreign_wake_vs_runtime_free (void)
{
  unsigned rounds = g_test_slow () ? 400 : 60;
  for (unsigned r = 0; r < rounds; r++)
    {
      FreeRace fr;
      memset (&fr, 0, sizeof fr);
      pthread_mutex_init (&fr.lock, NULL);
      AsyncrtRuntime *rt = mt_new (1 + r % 3);
      AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
      for (unsigned i = 0; i < FREE_RACE_TASKS; i++)
        {
          FreeRaceTask *t = g_new0 (FreeRaceTask, 1);
          t->fr = &fr;
          t->index = i;
          asyncrt_join_handle_free (asyncrt_handle_spawn (h, free_race_poll, t,
                                                          free_race_free));
        }
      g_assert_true (wait_for (&fr.polled, FREE_RACE_TASKS, 10000));
      GThread *th[2];
      for (unsigned k = 0; k < G_N_ELEMENTS (th); k++)
        th[k] = g_thread_new ("waker", free_race_waker_main, &fr);
      atomic_store (&fr.go, true);
      if (r & 1)
        sched_yield ();
      asyncrt_runtime_free (rt);
      for (unsigned k = 0; k < G_N_ELEMENTS (th); k++)
        g_thread_join (th[k]);
      for (unsigned i = 0; i < FREE_RACE_TASKS; i++)
        asyncrt_waker_free (&fr.wakers[i]);
      g_assert_cmpuint (atomic_load (&fr.freed), ==, FREE_RACE_TASKS);
      pthread_mutex_destroy (&fr.lock);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/review/mt/remote-spawn-while-parking/1", GUINT_TO_POINTER (1),
                        test_remote_spawn_while_parking);
  g_test_add_data_func ("/review/mt/remote-spawn-while-parking/2", GUINT_TO_POINTER (2),
                        test_remote_spawn_while_parking);
  g_test_add_data_func ("/review/mt/remote-spawn-while-parking/4", GUINT_TO_POINTER (4),
                        test_remote_spawn_while_parking);
  g_test_add_data_func ("/review/mt/foreign-wake-while-parking/2", GUINT_TO_POINTER (2),
                        test_foreign_wake_while_parking);
  g_test_add_data_func ("/review/mt/foreign-wake-while-parking/3", GUINT_TO_POINTER (3),
                        test_foreign_wake_while_parking);
  g_test_add_func ("/review/mt/foreign-wake-vs-runtime-free",
                   test_foreign_wake_vs_runtime_free);
  return g_test_run ();
}
