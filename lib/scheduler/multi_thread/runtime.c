/* libasyncrt - multi-thread scheduler: build, block_on, shutdown, stopping workers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Lifetime: the AsyncrtMtRuntime embeds its AsyncrtHandle first and is freed by
 * ops->free when the last handle reference goes (tasks hold references, so a waker
 * woken from a foreign thread after asyncrt_runtime_free() still finds the closed
 * injection queue and gives its reference back).
 *
 * block_on: the future runs on the calling thread (never on a worker), through a
 * trace root, with the coop budget set around each poll.  Between polls the thread
 * sleeps on a condition variable of its own (BlockOnSignal) that the future's waker
 * signals.  The signal is reference counted because wakers may outlive the call.
 * Each running block_on is on rt->block_ons (under block_ons_lock) so that shutdown
 * can wake it: it then returns -ESHUTDOWN instead of waiting forever.
 *
 * Shutdown (ops->shutdown, after the common code cancelled every task):
 *   SHUTDOWN attention bit (release) -> injection queue closed (later remote wakes
 *   give their reference back) -> every worker and block_on unparked -> each worker
 *   leaves its loop at its next scheduling point, drains its LIFO slot and local
 *   queue, and exits (has_exited under exit_lock) -> joined -> the injection queue is
 *   drained.  With a deadline, a worker that has not exited by then (it is inside a
 *   task's poll that does not return) is abandoned: detached, given a handle
 *   reference that it drops when it finally exits, reported as unfinished.
 */
#include "scheduler/multi_thread/multi-thread-private.h"
#include "scheduler/coop-private.h"
#include "future/context-private.h"
#include "sample/sample-private.h"

#include <glib.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- block_on ------------------------------------------------------------------------ */

typedef struct _BlockOnSignal BlockOnSignal;
struct _BlockOnSignal
{
  _Atomic size_t refs;
  _Atomic bool notified;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* rt->block_ons list, guarded by rt->block_ons_lock */
  BlockOnSignal *prev, *next;
};

static void
signal_unref (BlockOnSignal *s)
{
  if (atomic_fetch_sub_explicit (&s->refs, 1, memory_order_acq_rel) == 1)
    {
      pthread_cond_destroy (&s->cond);
      pthread_mutex_destroy (&s->lock);
      g_free (s);
    }
}

static void
signal_notify (BlockOnSignal *s)
{
  if (atomic_exchange_explicit (&s->notified, true, memory_order_acq_rel))
    return;   /* already pending */
  pthread_mutex_lock (&s->lock);
  pthread_cond_signal (&s->cond);
  pthread_mutex_unlock (&s->lock);
}

static void
signal_wait (BlockOnSignal *s)
{
  if (atomic_exchange_explicit (&s->notified, false, memory_order_acq_rel))
    return;
  pthread_mutex_lock (&s->lock);
  while (!atomic_exchange_explicit (&s->notified, false, memory_order_acq_rel))
    pthread_cond_wait (&s->cond, &s->lock);
  pthread_mutex_unlock (&s->lock);
}

static void *
block_on_waker_clone (void *data)
{
  BlockOnSignal *s = data;
  atomic_fetch_add_explicit (&s->refs, 1, memory_order_relaxed);
  return s;
}

static void
block_on_waker_wake_by_ref (void *data)
{
  signal_notify (data);
}

static void
block_on_waker_wake (void *data)
{
  signal_notify (data);
  signal_unref (data);
}

static void
block_on_waker_drop (void *data)
{
  signal_unref (data);
}

static const AsyncrtWakerVTable block_on_waker_vtable = {
  block_on_waker_clone,
  block_on_waker_wake,
  block_on_waker_wake_by_ref,
  block_on_waker_drop,
};

static int
mt_block_on (AsyncrtHandle *h, AsyncrtPollFunc poll, void *future)
{
  AsyncrtMtRuntime *rt = (AsyncrtMtRuntime *) (void *) h;

  /* Called from a worker this would block the worker: the common checks refuse
   * calls from inside a runtime, keep a guard for internal callers. */
  if (asyncrt__mt_current_worker () != NULL)
    return -EDEADLK;

  BlockOnSignal *s = g_new0 (BlockOnSignal, 1);
  atomic_init (&s->refs, 1);
  atomic_init (&s->notified, false);
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->cond, NULL);

  asyncrt__handle_ref (h);
  pthread_mutex_lock (&rt->block_ons_lock);
  bool shut = atomic_load_explicit (&rt->attention, memory_order_acquire)
              & ASYNCRT_MT_ATTENTION_SHUTDOWN;
  if (!shut)
    {
      s->next = rt->block_ons;
      if (s->next != NULL)
        s->next->prev = s;
      rt->block_ons = s;
    }
  pthread_mutex_unlock (&rt->block_ons_lock);
  if (shut)
    {
      signal_unref (s);
      asyncrt__handle_unref (h);
      return -ESHUTDOWN;
    }

  AsyncrtWaker waker;
  asyncrt_waker_init (&waker, &block_on_waker_vtable, s);
  AsyncrtContext cx;
  asyncrt__context_init (&cx, waker);
  AsyncrtTraceRoot root;
  asyncrt_trace_root_init (&root, poll, future);

  AsyncrtHandle *prev_handle = asyncrt__handle_enter (h);
  AsyncrtDriver *prev_driver = asyncrt__driver_enter (h->driver);

  int ret = 0;
  for (;;)
    {
      unsigned prev_budget = asyncrt__coop_set_budget (ASYNCRT_COOP_BUDGET);
      AsyncrtPoll r = asyncrt_trace_root_poll (&root, &cx);
      asyncrt__coop_set_budget (prev_budget);
      if (r == ASYNCRT_READY)
        break;
      signal_wait (s);
      if (atomic_load_explicit (&rt->attention, memory_order_acquire)
          & ASYNCRT_MT_ATTENTION_SHUTDOWN)
        {
          ret = -ESHUTDOWN;
          break;
        }
    }

  asyncrt__driver_exit (prev_driver);
  asyncrt__handle_exit (prev_handle);

  pthread_mutex_lock (&rt->block_ons_lock);
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    rt->block_ons = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
  pthread_mutex_unlock (&rt->block_ons_lock);

  asyncrt_waker_free (&waker);   /* our reference to s */
  asyncrt__handle_unref (h);
  return ret;
}

/* ---- shutdown and free ---------------------------------------------------------------- */

static uint64_t
coarse_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Waits until every started worker but @self has left its run loop.  Past
 * @deadline_ns it keeps waiting only for workers that are not inside a task's poll
 * (those leave within a scheduling step: they were unparked, and a dump round they
 * may be in has its own deadline); the ones still inside a poll — a task blocking its
 * thread — are abandoned (see multi-thread-private.h) and reported.  Returns 0 or
 * -ETIMEDOUT. */
static int
join_workers (AsyncrtMtRuntime *rt, AsyncrtMtWorker *self, uint64_t deadline_ns,
              GArray *unfinished)
{
  int ret = 0;
  pthread_mutex_lock (&rt->exit_lock);
  for (;;)
    {
      uint64_t now = asyncrt__clock_now_ns ();
      bool late = deadline_ns != UINT64_MAX && now >= deadline_ns;
      bool wait_more = false;
      for (unsigned i = 0; i < rt->n_workers && !wait_more; i++)
        {
          AsyncrtMtWorker *w = &rt->workers[i];
          if (w->thread_started && w != self && !w->has_exited
              && (!late || asyncrt__mt_worker_current_task (w, NULL) == 0))
            wait_more = true;
        }
      if (!wait_more)
        break;
      if (deadline_ns == UINT64_MAX)
        pthread_cond_wait (&rt->exit_cond, &rt->exit_lock);
      else
        {
          uint64_t until = late ? now + 1000000u : deadline_ns;   /* late: re-check */
          struct timespec ts = { (time_t) (until / 1000000000u), (long) (until % 1000000000u) };
          pthread_cond_timedwait (&rt->exit_cond, &rt->exit_lock, &ts);
        }
    }
  for (unsigned i = 0; i < rt->n_workers; i++)
    {
      AsyncrtMtWorker *w = &rt->workers[i];
      if (!w->thread_started || w == self || w->has_exited)
        continue;
      /* Still inside a poll: leave it running, with a reference of its own. */
      ret = -ETIMEDOUT;
      w->abandoned = true;
      asyncrt__handle_ref (&rt->handle);
      pthread_detach (w->thread);
      w->thread_started = false;
      if (unfinished != NULL)
        {
          uint64_t start = 0;
          AsyncrtUnfinished u = { 0 };
          u.kind = ASYNCRT_UNFINISHED_WORKER;
          u.task_id = asyncrt__mt_worker_current_task (w, &start);
          uint64_t now = coarse_now_ns ();
          u.running_ns = u.task_id != 0 && now > start ? now - start : 0;
          u.worker = w->index;
          g_array_append_val (unfinished, u);
        }
    }
  pthread_mutex_unlock (&rt->exit_lock);

  for (unsigned i = 0; i < rt->n_workers; i++)
    {
      AsyncrtMtWorker *w = &rt->workers[i];
      if (!w->thread_started)
        continue;
      if (w == self)
        {
          /* Never join ourselves; the common code refuses this case already. */
          pthread_detach (w->thread);
          w->thread_started = false;
          continue;
        }
      pthread_join (w->thread, NULL);
      w->thread_started = false;
    }
  return ret;
}

static int
mt_shutdown (AsyncrtHandle *h, uint64_t deadline_ns, GArray *unfinished)
{
  AsyncrtMtRuntime *rt = (AsyncrtMtRuntime *) (void *) h;
  AsyncrtMtWorker *self = asyncrt__mt_current_worker ();

  atomic_fetch_or_explicit (&rt->attention, ASYNCRT_MT_ATTENTION_SHUTDOWN,
                            memory_order_release);
  asyncrt__inject_close (&rt->inject);
  /* Workers waiting at a dump barrier withdraw; a leader finishes its round. */
  asyncrt__mt_dump_shutdown (h);

  pthread_mutex_lock (&rt->block_ons_lock);
  for (BlockOnSignal *s = rt->block_ons; s != NULL; s = s->next)
    signal_notify (s);
  pthread_mutex_unlock (&rt->block_ons_lock);

  /* Directly, not through the idle bookkeeping: nobody runs anything afterwards. */
  for (unsigned i = 0; i < rt->n_workers; i++)
    asyncrt__mt_parker_unpark (&rt->workers[i].parker);

  int ret = join_workers (rt, self, deadline_ns, unfinished);

  AsyncrtQueueNode *n;
  while ((n = asyncrt__inject_pop (&rt->inject)) != NULL)
    asyncrt__task_drop_notified (asyncrt__task_from_queue_node (n));
  return ret;
}

static void
mt_free (AsyncrtHandle *h)
{
  AsyncrtMtRuntime *rt = (AsyncrtMtRuntime *) (void *) h;

  if (rt->workers != NULL)
    for (unsigned i = 0; i < rt->n_workers; i++)
      {
        asyncrt__mt_parker_clear (&rt->workers[i].parker);
        asyncrt__sample_slot_unref (rt->workers[i].sample_slot);
        g_free (rt->workers[i].lifo_seen);
      }
  free (rt->workers);
  asyncrt__inject_clear (&rt->inject);
  asyncrt__mt_idle_clear (&rt->idle);
  pthread_mutex_destroy (&rt->dump_lock);
  pthread_cond_destroy (&rt->dump_cond);
  pthread_mutex_destroy (&rt->block_ons_lock);
  pthread_mutex_destroy (&rt->exit_lock);
  pthread_cond_destroy (&rt->exit_cond);
  g_free (rt);
}

static const AsyncrtSchedulerOps mt_ops = {
  .schedule = asyncrt__mt_schedule,
  .unpark = asyncrt__mt_unpark,
  .block_on = mt_block_on,
  .shutdown = mt_shutdown,
  .free = mt_free,
  .dump = asyncrt__mt_dump,
  .worker_activity = asyncrt__mt_worker_activity,
};

/* ---- build ---------------------------------------------------------------------------- */

static unsigned
number_of_cpus (void)
{
  cpu_set_t set;
  if (sched_getaffinity (0, sizeof set, &set) == 0)
    {
      int n = CPU_COUNT (&set);
      if (n > 0)
        return (unsigned) n;
    }
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned) n : 1u;
}

/* Undoes a half-built runtime in asyncrt_runtime_free()'s order (no task exists
 * yet), dropping the only handle reference. */
static void
build_failed (AsyncrtMtRuntime *rt)
{
  AsyncrtHandle *h = &rt->handle;
  atomic_store_explicit (&h->is_shutdown, true, memory_order_release);
  asyncrt__owned_close_and_shutdown_all (&h->owned);
  asyncrt__blocking_pool_shutdown (h->blocking, UINT64_MAX, NULL);
  if (rt->workers != NULL)
    mt_shutdown (h, UINT64_MAX, NULL);
  asyncrt__driver_shutdown (h->driver);
  asyncrt__handle_unref (h);
}

int
asyncrt__multi_thread_build (const AsyncrtBuilder *b, AsyncrtRuntime **out)
{
  unsigned n = b->worker_threads != 0 ? b->worker_threads : number_of_cpus ();
  if (n > ASYNCRT_MT_MAX_WORKERS)
    return -EINVAL;

  AsyncrtMtRuntime *rt = g_new0 (AsyncrtMtRuntime, 1);
  int ret = asyncrt__handle_init (&rt->handle, &mt_ops, b);
  if (ret < 0)
    {
      g_free (rt);
      return ret;
    }

  rt->n_workers = n;
  rt->handle.n_workers = n;
  rt->event_interval = b->event_interval != 0 ? b->event_interval
                                              : ASYNCRT_MT_DEFAULT_EVENT_INTERVAL;
  asyncrt__inject_init (&rt->inject);
  asyncrt__mt_idle_init (&rt->idle, n);
  asyncrt__mt_shared_driver_init (&rt->driver, rt->handle.driver);
  atomic_init (&rt->attention, 0);
  pthread_mutex_init (&rt->dump_lock, NULL);
  pthread_cond_init (&rt->dump_cond, NULL);
  atomic_init (&rt->dump_seq, 0);
  pthread_mutex_init (&rt->block_ons_lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_mutex_init (&rt->exit_lock, NULL);
  pthread_cond_init (&rt->exit_cond, &ca);
  pthread_condattr_destroy (&ca);

  void *mem = NULL;
  if (posix_memalign (&mem, ASYNCRT_CACHELINE, n * sizeof (AsyncrtMtWorker)) != 0)
    {
      build_failed (rt);
      return -ENOMEM;
    }
  memset (mem, 0, n * sizeof (AsyncrtMtWorker));
  rt->workers = mem;
  for (unsigned i = 0; i < n; i++)
    {
      AsyncrtMtWorker *w = &rt->workers[i];
      asyncrt__local_queue_init (&w->queue);
      atomic_init (&w->lifo, NULL);
      atomic_init (&w->current_task_id, 0);
      atomic_init (&w->current_poll_start_ns, 0);
      asyncrt__mt_parker_init (&w->parker, &rt->driver);
      w->rt = rt;
      w->index = i;
      snprintf (w->name, sizeof w->name, "asyncrt-worker-%u", i);
      w->rng = 0x9e3779b9u * (i + 1u) ^ (uint32_t) asyncrt__clock_now_ns ();
      if (w->rng == 0)
        w->rng = 1;
      w->lifo_enabled = true;
      if (rt->handle.sample_signo != 0)
        w->sample_slot = asyncrt__sample_slot_new ();
      w->ticks_to_event = rt->event_interval;
      w->lifo_seen = g_new0 (AsyncrtMtLifoSeen, n);
    }

  for (unsigned i = 0; i < n; i++)
    {
      AsyncrtMtWorker *w = &rt->workers[i];
      int err = pthread_create (&w->thread, NULL, asyncrt__mt_worker_main, w);
      if (err != 0)
        {
          build_failed (rt);
          return -err;
        }
      w->thread_started = true;
    }

  *out = (AsyncrtRuntime *) (void *) rt;
  return 0;
}

/* ---- dump hooks ---------------------------------------------------------------------- */

static AsyncrtMtRuntime *
mt_runtime (AsyncrtHandle *h)
{
  if (h == NULL || h->flavour != ASYNCRT_FLAVOUR_MULTI_THREAD)
    return NULL;
  return (AsyncrtMtRuntime *) (void *) h;
}

int
asyncrt__mt_dump_request_begin (AsyncrtHandle *h, AsyncrtMtDumpFunc func, void *data)
{
  AsyncrtMtRuntime *rt = mt_runtime (h);
  if (rt == NULL || func == NULL)
    return -EINVAL;

  pthread_mutex_lock (&rt->dump_lock);
  if (rt->dump_active)
    {
      pthread_mutex_unlock (&rt->dump_lock);
      return -EBUSY;
    }
  if (atomic_load_explicit (&rt->attention, memory_order_acquire)
      & ASYNCRT_MT_ATTENTION_SHUTDOWN)
    {
      pthread_mutex_unlock (&rt->dump_lock);
      return -ESHUTDOWN;
    }
  rt->dump_active = true;
  rt->dump_open = true;
  rt->dump_func = func;
  rt->dump_data = data;
  atomic_fetch_add_explicit (&rt->dump_seq, 1, memory_order_seq_cst);
  atomic_fetch_or_explicit (&rt->attention, ASYNCRT_MT_ATTENTION_DUMP, memory_order_seq_cst);
  pthread_mutex_unlock (&rt->dump_lock);

  /* Through the idle bookkeeping: the woken workers count as unparked searchers. */
  asyncrt__mt_unpark_all (rt);
  return 0;
}

void
asyncrt__mt_dump_request_end (AsyncrtHandle *h)
{
  AsyncrtMtRuntime *rt = mt_runtime (h);
  if (rt == NULL)
    return;
  pthread_mutex_lock (&rt->dump_lock);
  /* Close entry first; stay active (refusing new requests) until every worker has
   * left dump_func: the wait below drops the lock, and a request begun meanwhile
   * would otherwise have its func and data cleared under it. */
  rt->dump_open = false;
  atomic_fetch_and_explicit (&rt->attention, ~ASYNCRT_MT_ATTENTION_DUMP,
                             memory_order_seq_cst);
  AsyncrtMtWorker *self = asyncrt__mt_current_worker ();
  unsigned own = self != NULL && self->rt == rt && self->in_dump_func ? 1u : 0u;
  while (rt->dump_in_func > own)
    pthread_cond_wait (&rt->dump_cond, &rt->dump_lock);
  rt->dump_func = NULL;
  rt->dump_data = NULL;
  rt->dump_active = false;
  pthread_mutex_unlock (&rt->dump_lock);
}

unsigned
asyncrt__mt_num_workers (AsyncrtHandle *h)
{
  AsyncrtMtRuntime *rt = mt_runtime (h);
  return rt != NULL ? rt->n_workers : 0;
}

AsyncrtMtWorker *
asyncrt__mt_worker (AsyncrtHandle *h, unsigned i)
{
  AsyncrtMtRuntime *rt = mt_runtime (h);
  if (rt == NULL || i >= rt->n_workers)
    return NULL;
  return &rt->workers[i];
}

AsyncrtInject *
asyncrt__mt_inject (AsyncrtHandle *h)
{
  AsyncrtMtRuntime *rt = mt_runtime (h);
  return rt != NULL ? &rt->inject : NULL;
}

/* ---- public builder API ------------------------------------------------------------- */

/**
 * asyncrt_builder_new_multi_thread:
 *
 * Creates a builder for a multi-thread runtime: a pool of worker threads (as many as
 * CPUs by default, see asyncrt_builder_set_worker_threads()) runs the tasks, with
 * work stealing between them; tasks run whether or not a thread is inside
 * asyncrt_runtime_block_on().  The workers share the I/O and timer driver.  A task
 * spawned or woken by a running task runs next on the same worker; if that worker's
 * poll blocks its thread instead (a blocking call inside a task), an idle worker
 * takes the task over, within about a millisecond.
 *
 * Worker threads are named `asyncrt-worker-N`; as Linux limits thread names to 15
 * bytes, tools such as `ps -L` and `top -H` show them as `asyncrt-wrk-N`.
 *
 * Thread safety: any thread; a builder is used by one thread at a time.
 *
 * Returns: (transfer full): a new builder; free it with asyncrt_builder_free().
 * Since: 0.1
 */
AsyncrtBuilder *
asyncrt_builder_new_multi_thread (void)
{
  return asyncrt__builder_new (ASYNCRT_FLAVOUR_MULTI_THREAD);
}

/**
 * asyncrt_builder_set_worker_threads:
 * @b: a builder made by asyncrt_builder_new_multi_thread()
 * @n: the number of worker threads, at most 1024; 0 (the default) means one per CPU
 *   the process may run on
 *
 * Sets how many worker threads the multi-thread runtime runs.
 *
 * Thread safety: one thread at a time per builder.
 *
 * Returns: 0; -EINVAL if @b is %NULL, is not a multi-thread builder, or @n is larger
 *   than 1024.
 * Since: 0.1
 */
int
asyncrt_builder_set_worker_threads (AsyncrtBuilder *b, unsigned n)
{
  if (b == NULL || b->flavour != ASYNCRT_FLAVOUR_MULTI_THREAD || n > ASYNCRT_MT_MAX_WORKERS)
    return -EINVAL;
  b->worker_threads = n;
  return 0;
}
