/* Review stress tests of the task state machine under real concurrency: a fake
 * scheduler whose queue is shared by a runner thread, and separate threads that wake,
 * abort, join and shut down tasks at the same time.  Every future must be freed
 * exactly once and every task deallocated (the handle's reference count returns to
 * the test's own reference).  Run under TSan and ASan. */
#include "scheduler/scheduler-private.h"
#include "test-util.h"

#include <glib.h>
#include <sched.h>

/* ---- a thread-safe fake scheduler ---------------------------------------------------- */

typedef struct
{
  AsyncrtHandle base;
  pthread_mutex_t lock;  /* not GMutex: its futexes are invisible to TSan */
  GQueue queue;               /* AsyncrtTask *, each with its notified reference */
  atomic_bool closed;         /* after shutdown: schedule() gives the reference back */
  atomic_bool stop;
} Sched;

static void
sched_schedule (AsyncrtHandle *h, AsyncrtTask *t, bool is_yield)
{
  Sched *s = (Sched *) h;
  (void) is_yield;
  if (atomic_load (&s->closed))
    {
      asyncrt__task_drop_notified (t);
      return;
    }
  pthread_mutex_lock (&s->lock);
  g_queue_push_tail (&s->queue, t);
  pthread_mutex_unlock (&s->lock);
}

static void sched_unpark (AsyncrtHandle *h) { (void) h; }
static int sched_block_on (AsyncrtHandle *h, AsyncrtPollFunc p, void *f) { (void) h; (void) p; (void) f; return -ENOTSUP; }
static int sched_shutdown (AsyncrtHandle *h, uint64_t deadline_ns, GArray *unfinished) { (void) h; (void) deadline_ns; (void) unfinished; return 0; }
static void sched_free (AsyncrtHandle *h) { (void) h; g_assert_not_reached (); }

static const AsyncrtSchedulerOps sched_ops = {
  sched_schedule, sched_unpark, sched_block_on, sched_shutdown, sched_free,
};

static void
sched_init (Sched *s)
{
  memset (s, 0, sizeof *s);
  s->base.ops = &sched_ops;
  atomic_init (&s->base.refs, 1);
  asyncrt__owned_init (&s->base.owned);
  pthread_mutex_init (&s->lock, NULL);
  g_queue_init (&s->queue);
}

static AsyncrtTask *
sched_pop (Sched *s)
{
  pthread_mutex_lock (&s->lock);
  AsyncrtTask *t = g_queue_pop_head (&s->queue);
  pthread_mutex_unlock (&s->lock);
  return t;
}

static void
sched_clear (Sched *s)
{
  AsyncrtTask *t;
  while ((t = sched_pop (s)) != NULL)
    asyncrt__task_run (t);
  /* Every task is gone: only the test's reference is left. */
  g_assert_cmpuint (atomic_load (&s->base.refs), ==, 1);
  asyncrt__owned_clear (&s->base.owned);
  pthread_mutex_destroy (&s->lock);
}

static gpointer
runner_main (gpointer data)
{
  Sched *s = data;
  while (!atomic_load (&s->stop))
    {
      AsyncrtTask *t = sched_pop (s);
      if (t != NULL)
        asyncrt__task_run (t);
      else
        sched_yield ();
    }
  return NULL;
}

static AsyncrtJoinHandle *
spawn (Sched *s, AsyncrtPollFunc poll, void *future, AsyncrtFreeFunc free_func)
{
  AsyncrtTask *t = asyncrt__task_new (&s->base, NULL, poll, future, free_func);
  g_assert_nonnull (t);
  if (!asyncrt__owned_bind (&s->base.owned, t))
    asyncrt__task_cancel_unbound (t);
  else
    sched_schedule (&s->base, t, false);
  return asyncrt__task_to_join_handle (t);
}

/* ---- the future ---------------------------------------------------------------------- */

/* Wakers handed from futures to the waker thread. */
#define N_SLOTS 8
static AsyncrtWaker slots[N_SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

static atomic_uint *free_counts;   /* per future index */

typedef struct
{
  unsigned index;
  unsigned polls;
  unsigned pending;   /* PENDING this many times, then READY */
  unsigned result;
} Fut;

static AsyncrtPoll
fut_poll (void *p, AsyncrtContext *cx)
{
  Fut *f = p;
  if (f->polls++ >= f->pending)
    {
      f->result = f->index * 7u + 1u;
      return ASYNCRT_READY;
    }
  AsyncrtWaker w = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
  pthread_mutex_lock (&slots_lock);
  AsyncrtWaker old = slots[f->index % N_SLOTS];
  slots[f->index % N_SLOTS] = w;
  pthread_mutex_unlock (&slots_lock);
  asyncrt_waker_free (&old);
  return ASYNCRT_PENDING;
}

static void
fut_free (void *p)
{
  Fut *f = p;
  atomic_fetch_add (&free_counts[f->index], 1);
  g_free (f);
}

typedef struct
{
  Sched *s;
  atomic_bool stop;
} WakerArg;

static gpointer
waker_main (gpointer data)
{
  WakerArg *a = data;
  unsigned i = 0;
  while (!atomic_load (&a->stop))
    {
      pthread_mutex_lock (&slots_lock);
      AsyncrtWaker w = slots[i % N_SLOTS];
      slots[i % N_SLOTS] = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
      pthread_mutex_unlock (&slots_lock);
      if (!asyncrt_waker_is_empty (&w))
        {
          if (i & 1)
            asyncrt_waker_wake (&w);          /* by value */
          else
            {
              asyncrt_waker_wake_by_ref (&w);
              asyncrt_waker_free (&w);
            }
        }
      else
        sched_yield ();
      i++;
    }
  return NULL;
}

static void
slots_drop_all (void)
{
  for (unsigned i = 0; i < N_SLOTS; i++)
    {
      pthread_mutex_lock (&slots_lock);
      AsyncrtWaker w = slots[i];
      slots[i] = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
      pthread_mutex_unlock (&slots_lock);
      asyncrt_waker_free (&w);
    }
}

/* ---- the joiner's waker: a flag -------------------------------------------------------- */

static void *flag_clone (void *d) { return d; }
static void flag_wake (void *d) { atomic_store ((atomic_bool *) d, true); }
static void flag_drop (void *d) { (void) d; }
static const AsyncrtWakerVTable flag_vtable = { flag_clone, flag_wake, flag_wake, flag_drop };

/* ---- abort vs completion vs join poll ---------------------------------------------------- */

typedef struct
{
  _Atomic (AsyncrtJoinHandle *) jh;   /* the task to abort; NULL when done */
  atomic_uint seed;
  atomic_bool stop;
} AbortArg;

static gpointer
aborter_main (gpointer data)
{
  AbortArg *a = data;
  while (!atomic_load (&a->stop))
    {
      AsyncrtJoinHandle *jh = atomic_load (&a->jh);
      if (jh == NULL)
        {
          sched_yield ();
          continue;
        }
      unsigned spin = atomic_load (&a->seed) % 2000u;
      for (volatile unsigned k = 0; k < spin; k++)
        ;
      asyncrt_join_handle_abort (jh);
      atomic_store (&a->jh, NULL);   /* done with it: the joiner may free it */
    }
  return NULL;
}

static void
test_abort_complete_join (void)
{
  const unsigned n = g_test_slow () ? 20000 : 3000;
  Sched s;
  sched_init (&s);
  free_counts = g_new0 (atomic_uint, n);

  WakerArg wa = { &s, false };
  AbortArg aa = { NULL, 0, false };
  GThread *runner = g_thread_new ("runner", runner_main, &s);
  GThread *waker = g_thread_new ("waker", waker_main, &wa);
  GThread *aborter = g_thread_new ("aborter", aborter_main, &aa);
  GRand *rand = g_rand_new_with_seed (1234);
  unsigned n_cancelled = 0;
  uint64_t deadline = g_get_monotonic_time () + 1000 * (uint64_t) test_timeout_ms (60000);

  for (unsigned i = 0; i < n; i++)
    {
      Fut *f = g_new0 (Fut, 1);
      f->index = i;
      f->pending = g_rand_int_range (rand, 0, 3);
      AsyncrtJoinHandle *jh = spawn (&s, fut_poll, f, fut_free);
      atomic_store (&aa.seed, g_rand_int (rand));
      bool do_abort = g_rand_boolean (rand);
      if (do_abort)
        atomic_store (&aa.jh, jh);

      /* Join: poll with our flag waker until READY. */
      atomic_bool flag = false;
      AsyncrtWaker w;
      asyncrt_waker_init (&w, &flag_vtable, &flag);
      AsyncrtContext *cx = asyncrt_context_new (&w);
      for (;;)
        {
          atomic_store (&flag, false);
          if (asyncrt_join_handle_poll (jh, cx) == ASYNCRT_READY)
            break;
          while (!atomic_load (&flag))
            {
              g_assert_cmpint (g_get_monotonic_time (), <, deadline);
              sched_yield ();
            }
        }
      asyncrt_context_free (cx);

      g_assert_true (asyncrt_join_handle_is_finished (jh));
      if (asyncrt_join_handle_is_cancelled (jh))
        {
          n_cancelled++;
          g_assert_true (do_abort);
          g_assert_null (asyncrt_join_handle_get_future (jh));
          g_assert_cmpuint (atomic_load (&free_counts[i]), ==, 1);
        }
      else
        {
          Fut *out = asyncrt_join_handle_get_future (jh);
          g_assert_nonnull (out);
          g_assert_cmpuint (out->result, ==, i * 7u + 1u);
          g_assert_cmpuint (atomic_load (&free_counts[i]), ==, 0);
        }
      while (atomic_load (&aa.jh) != NULL)
        sched_yield ();
      asyncrt_join_handle_free (jh);
    }

  atomic_store (&aa.stop, true);
  atomic_store (&wa.stop, true);
  atomic_store (&s.stop, true);
  g_thread_join (aborter);
  g_thread_join (waker);
  g_thread_join (runner);
  slots_drop_all ();
  sched_clear (&s);
  for (unsigned i = 0; i < n; i++)
    g_assert_cmpuint (atomic_load (&free_counts[i]), ==, 1);
  g_test_message ("%u of %u tasks cancelled", n_cancelled, n);
  g_rand_free (rand);
  g_free (free_counts);
}

/* ---- wakes, aborts and join-handle drops racing shutdown ---------------------------------- */

static gpointer
shutdown_main (gpointer data)
{
  Sched *s = data;
  g_usleep (g_random_int_range (0, 2000));
  asyncrt__owned_close_and_shutdown_all (&s->base.owned);
  atomic_store (&s->closed, true);
  return NULL;
}

static void
test_wake_vs_shutdown (void)
{
  const unsigned rounds = g_test_slow () ? 200 : 40;
  const unsigned per_round = 64;

  for (unsigned r = 0; r < rounds; r++)
    {
      Sched s;
      sched_init (&s);
      free_counts = g_new0 (atomic_uint, per_round);
      WakerArg wa = { &s, false };
      GThread *runner = g_thread_new ("runner", runner_main, &s);
      GThread *waker = g_thread_new ("waker", waker_main, &wa);

      AsyncrtJoinHandle *jhs[64];
      for (unsigned i = 0; i < per_round; i++)
        {
          Fut *f = g_new0 (Fut, 1);
          f->index = i;
          f->pending = 1000000;   /* never finishes on its own */
          jhs[i] = spawn (&s, fut_poll, f, fut_free);
        }
      GThread *sd = g_thread_new ("shutdown", shutdown_main, &s);
      for (unsigned i = 0; i < per_round; i++)
        {
          if (i % 3 == 0)
            asyncrt_join_handle_abort (jhs[i]);
          if (i % 2 == 0)
            {
              asyncrt_join_handle_free (jhs[i]);   /* detach while it may be running */
              jhs[i] = NULL;
            }
        }
      g_thread_join (sd);
      /* Every task is now cancelled: wakes still in flight must be harmless. */
      atomic_store (&wa.stop, true);
      g_thread_join (waker);
      atomic_store (&s.stop, true);
      g_thread_join (runner);
      slots_drop_all ();

      for (unsigned i = 0; i < per_round; i++)
        if (jhs[i] != NULL)
          {
            g_assert_true (asyncrt_join_handle_is_finished (jhs[i]));
            g_assert_true (asyncrt_join_handle_is_cancelled (jhs[i]));
            asyncrt_join_handle_free (jhs[i]);
          }
      sched_clear (&s);
      for (unsigned i = 0; i < per_round; i++)
        g_assert_cmpuint (atomic_load (&free_counts[i]), ==, 1);
      g_free (free_counts);
    }
}


/* ---- wake by value racing shutdown: who keeps the task alive during schedule()? ----------
 *
 * A foreign thread wakes an idle task by value.  The wake's reference must stay the
 * waker's until ops->schedule() returns: once schedule() has queued the notified
 * reference, runtime shutdown may run on another thread at any moment — cancel the
 * task, drain the queue (dropping the notified reference), free the runtime — while
 * schedule() still has work to do (the multi-thread scheduler unparks a worker
 * through rt->idle; the current-thread one unparks h->driver).  If the notified
 * reference were the wake's own, nothing would pin the task, hence its handle.  This
 * schedule() runs that whole shutdown itself, right after queuing, and then checks
 * that the task still holds its handle reference. */

typedef struct
{
  Sched s;
  AsyncrtTask *expect;
  bool checked;
} PinSched;

static void
pin_schedule (AsyncrtHandle *h, AsyncrtTask *t, bool is_yield)
{
  PinSched *p = (PinSched *) h;
  sched_schedule (h, t, is_yield);
  if (t != p->expect)
    return;
  /* What a concurrent asyncrt_runtime_free() does meanwhile. */
  asyncrt__owned_close_and_shutdown_all (&h->owned);
  atomic_store (&p->s.closed, true);
  AsyncrtTask *q;
  while ((q = sched_pop (&p->s)) != NULL)
    asyncrt__task_drop_notified (q);
  /* The test's reference plus the task's: the waker still pins the task. */
  g_assert_cmpuint (atomic_load (&h->refs), ==, 2);
  g_assert_true (asyncrt__task_state (t) & ASYNCRT_TASK_COMPLETE);
  p->checked = true;
}

static const AsyncrtSchedulerOps pin_ops = {
  pin_schedule, sched_unpark, sched_block_on, sched_shutdown, sched_free,
};

static void
test_wake_by_val_pins_task (void)
{
  PinSched p;
  sched_init (&p.s);
  p.s.base.ops = &pin_ops;
  p.expect = NULL;
  p.checked = false;
  free_counts = g_new0 (atomic_uint, 1);

  Fut *f = g_new0 (Fut, 1);
  f->pending = 1000;
  AsyncrtJoinHandle *jh = spawn (&p.s, fut_poll, f, fut_free);
  asyncrt_join_handle_free (jh);                 /* detached */
  asyncrt__task_run (sched_pop (&p.s));          /* polled once: idle, waker in slot 0 */
  pthread_mutex_lock (&slots_lock);
  AsyncrtWaker w = slots[0];
  slots[0] = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  pthread_mutex_unlock (&slots_lock);
  g_assert_false (asyncrt_waker_is_empty (&w));
  p.expect = (AsyncrtTask *) w.data;

  asyncrt_waker_wake (&w);                       /* by value, from "a foreign thread" */
  g_assert_true (p.checked);
  g_assert_cmpuint (atomic_load (&free_counts[0]), ==, 1);
  sched_clear (&p.s);
  g_free (free_counts);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/review/task/abort-complete-join", test_abort_complete_join);
  g_test_add_func ("/review/task/wake-vs-shutdown", test_wake_vs_shutdown);
  g_test_add_func ("/review/task/wake-by-val-pins-task", test_wake_by_val_pins_task);
  return g_test_run ();
}
