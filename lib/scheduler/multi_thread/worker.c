/* libasyncrt - multi-thread scheduler: workers, scheduling, the run loop
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each worker owns a LIFO slot and a 256-slot local run queue; the runtime has one
 * injection queue.  A worker looks for work in this order:
 *
 *   LIFO slot -> local queue -> injection queue (first, every event_interval ticks,
 *   so that it cannot be starved by local work; a batch of up to half a local queue
 *   moves to the local queue each time) -> steal half of a random sibling's queue
 *   (random start, every sibling tried) -> park.
 *
 * Where a woken task goes (asyncrt__mt_schedule):
 *   - on a worker of this runtime, during a task poll (the waker is woken by the task
 *     itself or by its completion): the LIFO slot; the task it displaces goes to the
 *     back of the local queue.  Message passing between two tasks then runs them
 *     back to back on one worker, while at most ASYNCRT_MT_MAX_LIFO_POLLS LIFO polls
 *     follow a task poll: past that cap the LIFO slot is disabled until the next task
 *     from the queues, so two tasks that ping-pong cannot starve the rest;
 *   - on a worker, as a yield (is_yield), a new spawn, or outside a task poll (e.g.
 *     timers and I/O fired while parked in the driver): the back of the local queue;
 *     a full local queue moves half of itself to the injection queue (overflow);
 *   - from any other thread: the injection queue, then one parked worker is unparked
 *     if idle coordination (idle.c) says so.
 *   - after shutdown the injection queue is closed: the notified reference is given
 *     back (asyncrt__task_drop_notified), never queued.
 *
 * Ownership:
 *   - lifo, queue push/pop, tick, rng, is_searching, lifo_enabled, in_run, parking,
 *     exited: the worker's thread (lifo is atomic only so that a dump leader may
 *     inspect it while the worker is stopped; the owner uses relaxed accesses).
 *   - queue steal: any thread (see lib/queue/local.c).
 *   - rt->attention: SHUTDOWN is set once (release, before the workers are unparked);
 *     workers load it with acquire at every scheduling point and after each wake-up.
 *
 * A new spawn is recognised by its poll count being zero: core's task harness counts
 * a poll before the task can be woken while idle, so a zero count at schedule() time
 * means the notified reference is the one created by spawn.
 */
#include "scheduler/multi_thread/multi-thread-private.h"
#include "sample/sample-private.h"
#include "scheduler/coop-private.h"

#include <glib.h>
#include <stdio.h>
#include <time.h>

static _Thread_local AsyncrtMtWorker *current_worker;

AsyncrtMtWorker *
asyncrt__mt_current_worker (void)
{
  return current_worker;
}

/* Coarse clock (a few ms resolution, a few ns to read): enough to tell how long a
 * worker has been stuck in one poll, cheap enough for every poll. */
static inline uint64_t
coarse_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static inline uint32_t
worker_rand (AsyncrtMtWorker *w)
{
  /* xorshift32 */
  uint32_t x = w->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  w->rng = x;
  return x;
}

static inline unsigned
attention (AsyncrtMtRuntime *rt)
{
  return atomic_load_explicit (&rt->attention, memory_order_acquire);
}

static inline AsyncrtTask *
lifo_get (AsyncrtMtWorker *w)
{
  return atomic_load_explicit (&w->lifo, memory_order_relaxed);
}

static inline void
lifo_set (AsyncrtMtWorker *w, AsyncrtTask *t)
{
  atomic_store_explicit (&w->lifo, t, memory_order_relaxed);
}

static void
drop_chain (AsyncrtQueueNode *n)
{
  while (n != NULL)
    {
      AsyncrtQueueNode *next = n->next;
      asyncrt__task_drop_notified (asyncrt__task_from_queue_node (n));
      n = next;
    }
}

void
asyncrt__mt_notify_parked (AsyncrtMtRuntime *rt)
{
  int i = asyncrt__mt_idle_worker_to_notify (&rt->idle);
  if (i >= 0)
    asyncrt__mt_parker_unpark (&rt->workers[i].parker);
}

/* ---- scheduling ------------------------------------------------------------------- */

static void
push_local (AsyncrtMtWorker *w, AsyncrtTask *t)
{
  drop_chain (asyncrt__local_queue_push_back_or_overflow (&w->queue, &t->queue_node,
                                                          &w->rt->inject));
}

static void
schedule_local (AsyncrtMtWorker *w, AsyncrtTask *t, bool is_yield)
{
  bool should_notify;

  if (is_yield || !w->lifo_enabled || !w->in_run
      || atomic_load_explicit (&t->poll_count, memory_order_relaxed) == 0)
    {
      push_local (w, t);
      should_notify = true;
    }
  else
    {
      AsyncrtTask *prev = lifo_get (w);
      lifo_set (w, t);
      should_notify = prev != NULL;
      if (prev != NULL)
        push_local (w, prev);
    }

  /* While parked in the driver wakes come in batches: notify once afterwards. */
  if (should_notify && !w->parking)
    asyncrt__mt_notify_parked (w->rt);
}

static void
schedule_remote (AsyncrtMtRuntime *rt, AsyncrtTask *t)
{
  if (!asyncrt__inject_push (&rt->inject, &t->queue_node))
    {
      /* Shut down: the task is already cancelled; nobody will run it. */
      asyncrt__task_drop_notified (t);
      return;
    }
  asyncrt__mt_notify_parked (rt);
}

void
asyncrt__mt_schedule (AsyncrtHandle *h, AsyncrtTask *t, bool is_yield)
{
  AsyncrtMtRuntime *rt = (AsyncrtMtRuntime *) (void *) h;
  AsyncrtMtWorker *w = current_worker;

  if (w != NULL && w->rt == rt && !w->exited)
    schedule_local (w, t, is_yield);
  else
    schedule_remote (rt, t);
}

/* Unparks every parked worker through the idle bookkeeping (they count as unparked
 * searchers, so later work is still noticed). */
void
asyncrt__mt_unpark_all (AsyncrtMtRuntime *rt)
{
  unsigned stack_buf[64];
  unsigned *woken = rt->n_workers <= G_N_ELEMENTS (stack_buf) ? stack_buf
                                                               : g_new (unsigned, rt->n_workers);
  size_t k = asyncrt__mt_idle_unpark_all (&rt->idle, woken);
  for (size_t i = 0; i < k; i++)
    asyncrt__mt_parker_unpark (&rt->workers[woken[i]].parker);
  if (woken != stack_buf)
    g_free (woken);
}

void
asyncrt__mt_unpark (AsyncrtHandle *h)
{
  asyncrt__mt_notify_parked ((AsyncrtMtRuntime *) (void *) h);
}

/* ---- finding work ------------------------------------------------------------------ */

static bool
has_tasks (AsyncrtMtWorker *w)
{
  return lifo_get (w) != NULL || !asyncrt__local_queue_is_empty (&w->queue);
}

static bool
should_notify_others (AsyncrtMtWorker *w)
{
  /* A searcher will notify when it finds work; otherwise, more than one queued task
   * is worth sharing. */
  if (w->is_searching)
    return false;
  return (lifo_get (w) != NULL ? 1u : 0u) + asyncrt__local_queue_len (&w->queue) > 1;
}

/* Moves a batch from the injection queue to the local queue; returns one to run. */
static AsyncrtQueueNode *
pop_inject_batch (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;

  if (asyncrt__inject_is_empty (&rt->inject))
    return NULL;

  /* Only stealers touch our queue besides us, and they only remove: the room we
   * see now is there when we push. */
  size_t len = asyncrt__local_queue_len (&w->queue);
  size_t room = len < ASYNCRT_LOCAL_QUEUE_CAPACITY ? ASYNCRT_LOCAL_QUEUE_CAPACITY - len : 0;
  size_t cap = MIN (room, ASYNCRT_LOCAL_QUEUE_CAPACITY / 2);
  size_t n = MIN (asyncrt__inject_len (&rt->inject) / rt->n_workers + 1, cap);

  if (n == 0)
    n = 1;   /* a full local queue: still take one to run now */
  AsyncrtQueueNode *first = NULL;
  if (asyncrt__inject_pop_batch (&rt->inject, n, &first) == 0)
    return NULL;
  /* One lock hold for the whole batch; the first runs now, the rest are queued. */
  AsyncrtQueueNode *node = first->next;
  while (node != NULL)
    {
      AsyncrtQueueNode *next = node->next;
      drop_chain (asyncrt__local_queue_push_back_or_overflow (&w->queue, node, &rt->inject));
      node = next;
    }
  return first;
}

static AsyncrtQueueNode *
next_local (AsyncrtMtWorker *w)
{
  AsyncrtTask *t = lifo_get (w);
  if (t != NULL)
    {
      lifo_set (w, NULL);
      return &t->queue_node;
    }
  return asyncrt__local_queue_pop (&w->queue);
}

static AsyncrtQueueNode *
next_task (AsyncrtMtWorker *w)
{
  AsyncrtQueueNode *n;

  if (w->tick % w->rt->event_interval == 0)
    {
      /* Fairness: the injection queue first, now and then.  A batch, not one task:
       * behind a local queue that never empties (tasks that keep yielding) remote
       * work would otherwise trickle in at one task per interval. */
      n = pop_inject_batch (w);
      if (n != NULL)
        return n;
    }
  n = next_local (w);
  if (n != NULL)
    return n;
  return pop_inject_batch (w);
}

static void
transition_from_searching (AsyncrtMtWorker *w)
{
  if (!w->is_searching)
    return;
  w->is_searching = false;
  /* The last searcher found work: more may follow, wake another to look. */
  if (asyncrt__mt_idle_transition_from_searching (&w->rt->idle))
    asyncrt__mt_notify_parked (w->rt);
}

static AsyncrtQueueNode *
steal_work (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;

  if (!w->is_searching)
    w->is_searching = asyncrt__mt_idle_transition_to_searching (&rt->idle);
  if (!w->is_searching)
    return NULL;   /* enough searchers already */

  unsigned n = rt->n_workers;
  unsigned start = worker_rand (w) % n;
  for (unsigned k = 0; k < n; k++)
    {
      unsigned i = (start + k) % n;
      if (i == w->index)
        continue;
      AsyncrtQueueNode *node = asyncrt__local_queue_steal_into (&rt->workers[i].queue,
                                                                &w->queue);
      if (node != NULL)
        return node;
    }
  return pop_inject_batch (w);
}

/* ---- running ------------------------------------------------------------------------ */

static void
poll_task (AsyncrtMtWorker *w, AsyncrtTask *t)
{
  atomic_store_explicit (&w->current_poll_start_ns, coarse_now_ns (), memory_order_relaxed);
  /* release: a reader that sees the id (acquire) sees this poll's start time. */
  atomic_store_explicit (&w->current_task_id, t->id, memory_order_release);
  w->in_run = true;
  /* asyncrt__task_run() sets the coop budget (ASYNCRT_COOP_BUDGET) around the poll. */
  asyncrt__task_run (t);
  w->in_run = false;
  atomic_store_explicit (&w->current_task_id, 0, memory_order_relaxed);
}

static void
run_task (AsyncrtMtWorker *w, AsyncrtQueueNode *node)
{
  transition_from_searching (w);
  poll_task (w, asyncrt__task_from_queue_node (node));

  /* Tasks woken into the LIFO slot run next, at most MAX_LIFO_POLLS of them. */
  unsigned lifo_polls = 0;
  for (;;)
    {
      AsyncrtTask *t = lifo_get (w);
      if (t == NULL)
        break;
      lifo_set (w, NULL);
      if (++lifo_polls >= ASYNCRT_MT_MAX_LIFO_POLLS)
        w->lifo_enabled = false;   /* further wakes go to the queue */
      poll_task (w, t);
    }
  w->lifo_enabled = true;
}

/* Called by the last searcher as it parks: work that arrived between its last scan
 * and its transition must not be stranded. */
static void
notify_if_work_pending (AsyncrtMtRuntime *rt)
{
  for (unsigned i = 0; i < rt->n_workers; i++)
    if (!asyncrt__local_queue_is_empty (&rt->workers[i].queue))
      {
        asyncrt__mt_notify_parked (rt);
        return;
      }
  if (!asyncrt__inject_is_empty (&rt->inject))
    asyncrt__mt_notify_parked (rt);
}

/* True when the worker must leave the park loop for the run loop's scheduling point. */
static bool
needs_attention (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;
  unsigned a = attention (rt);
  if (a & ASYNCRT_MT_ATTENTION_SHUTDOWN)
    return true;
  if ((a & ASYNCRT_MT_ATTENTION_DUMP)
      && atomic_load_explicit (&rt->dump_seq, memory_order_acquire) != w->seen_dump_seq)
    return true;
  return false;
}

static void
park (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;

  if (has_tasks (w))
    return;

  bool last_searcher = asyncrt__mt_idle_transition_to_parked (&rt->idle, w->index,
                                                              w->is_searching);
  w->is_searching = false;
  if (last_searcher)
    notify_if_work_pending (rt);

  for (;;)
    {
      /* Checked after joining the sleepers: a request published before that is seen
       * here; one published after finds us among the sleepers and unparks us. */
      if (needs_attention (w))
        {
          w->is_searching = !asyncrt__mt_idle_unpark_worker_by_id (&rt->idle, w->index);
          return;
        }

      w->parking = true;
      asyncrt__mt_parker_park (&w->parker);
      w->parking = false;

      if (has_tasks (w))
        {
          /* Woken by the driver with work of our own.  If somebody unparked us
           * meanwhile we were counted as a searcher. */
          w->is_searching = !asyncrt__mt_idle_unpark_worker_by_id (&rt->idle, w->index);
          if (should_notify_others (w))
            asyncrt__mt_notify_parked (rt);
          return;
        }
      if (!asyncrt__mt_idle_is_parked (&rt->idle, w->index))
        {
          /* Unparked through the idle bookkeeping: we are a searcher. */
          w->is_searching = true;
          return;
        }
      /* Spurious, or a driver event that queued nothing here: park again. */
    }
}

/* Every event_interval ticks: poll the driver without blocking (timers and I/O are
 * served even when every worker is busy). */
static void
maintenance (AsyncrtMtWorker *w)
{
  w->parking = true;
  asyncrt__mt_parker_park_timeout_zero (&w->parker);
  w->parking = false;
  if (should_notify_others (w))
    asyncrt__mt_notify_parked (w->rt);
}

/* The scheduling point: between two task polls and instead of parking. */
static void
serve_dump (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;
  AsyncrtMtDumpFunc func = NULL;
  void *data = NULL;

  pthread_mutex_lock (&rt->dump_lock);
  uint64_t seq = atomic_load_explicit (&rt->dump_seq, memory_order_relaxed);
  if (rt->dump_open && seq != w->seen_dump_seq)
    {
      func = rt->dump_func;
      data = rt->dump_data;
      rt->dump_in_func++;
    }
  w->seen_dump_seq = seq;
  pthread_mutex_unlock (&rt->dump_lock);

  if (func == NULL)
    return;
  w->in_dump_func = true;
  func (w, data);
  w->in_dump_func = false;

  pthread_mutex_lock (&rt->dump_lock);
  rt->dump_in_func--;
  /* end() may be waiting, possibly from inside func on another worker. */
  pthread_cond_broadcast (&rt->dump_cond);
  pthread_mutex_unlock (&rt->dump_lock);
}

static void
run (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;

  for (;;)
    {
      unsigned a = attention (rt);
      if (ASYNCRT_UNLIKELY (a != 0))
        {
          if (a & ASYNCRT_MT_ATTENTION_SHUTDOWN)
            return;
          if ((a & ASYNCRT_MT_ATTENTION_DUMP)
              && atomic_load_explicit (&rt->dump_seq, memory_order_acquire)
                 != w->seen_dump_seq)
            serve_dump (w);
        }

      w->tick++;
      if (w->tick % rt->event_interval == 0)
        maintenance (w);

      AsyncrtQueueNode *node = next_task (w);
      if (node == NULL)
        node = steal_work (w);
      if (node != NULL)
        {
          run_task (w, node);
          continue;
        }
      park (w);
    }
}

void
asyncrt__mt_worker_drain (AsyncrtMtWorker *w)
{
  AsyncrtQueueNode *n;
  while ((n = next_local (w)) != NULL)
    asyncrt__task_drop_notified (asyncrt__task_from_queue_node (n));
}

void *
asyncrt__mt_worker_main (void *data)
{
  AsyncrtMtWorker *w = data;
  AsyncrtMtRuntime *rt = w->rt;

  /* Linux allows 15 bytes, too few for "asyncrt-worker-N": the kernel (ps, top, gdb)
   * sees "asyncrt-wrk-N" ("asyncrt-w-N" from 1000 on); w->name keeps the full name. */
  char comm[16];
  snprintf (comm, sizeof comm, w->index < 1000 ? "asyncrt-wrk-%u" : "asyncrt-w-%u", w->index);
  pthread_setname_np (pthread_self (), comm);

  current_worker = w;
  AsyncrtHandle *prev_handle = asyncrt__handle_enter (&rt->handle);
  AsyncrtDriver *prev_driver = asyncrt__driver_enter (rt->handle.driver);
  /* Native stacks: this thread may be sampled (with its signal unblocked) from now
   * until it leaves the run loop. */
  AsyncrtSampleSlot *prev_slot = NULL;
  if (w->sample_slot != NULL)
    prev_slot = asyncrt__sample_slot_attach (w->sample_slot, rt->handle.sample_signo);

  run (w);

  if (w->sample_slot != NULL)
    asyncrt__sample_slot_detach (w->sample_slot, prev_slot);

  /* Shutdown: every task is already cancelled (asyncrt__owned_close_and_shutdown_all
   * ran before the flag was set); give back what our queues hold.  A wake after this
   * point on this thread goes to the (closed) injection queue. */
  asyncrt__mt_worker_drain (w);
  w->exited = true;

  asyncrt__driver_exit (prev_driver);
  asyncrt__handle_exit (prev_handle);
  current_worker = NULL;

  /* A shutdown that gave up waiting for us (its deadline passed while we were in a
   * task's poll) detached us and took a handle reference for us: the runtime's
   * memory stays until we drop it, which may free everything — touch nothing after. */
  pthread_mutex_lock (&rt->exit_lock);
  w->has_exited = true;
  bool abandoned = w->abandoned;
  pthread_cond_broadcast (&rt->exit_cond);
  pthread_mutex_unlock (&rt->exit_lock);
  if (abandoned)
    asyncrt__handle_unref (&rt->handle);
  return NULL;
}

/* ---- dump hooks ---------------------------------------------------------------------- */

AsyncrtTask *
asyncrt__mt_worker_take_lifo (AsyncrtMtWorker *w)
{
  return atomic_exchange_explicit (&w->lifo, NULL, memory_order_relaxed);
}

AsyncrtTask *
asyncrt__mt_worker_pop_local (AsyncrtMtWorker *w)
{
  AsyncrtQueueNode *n = asyncrt__local_queue_pop (&w->queue);
  return n != NULL ? asyncrt__task_from_queue_node (n) : NULL;
}

AsyncrtTask *
asyncrt__mt_worker_steal (AsyncrtMtWorker *w, AsyncrtMtWorker *into)
{
  AsyncrtQueueNode *n = asyncrt__local_queue_steal_into (&w->queue, &into->queue);
  return n != NULL ? asyncrt__task_from_queue_node (n) : NULL;
}

const AsyncrtTask *
asyncrt__mt_worker_peek_lifo (AsyncrtMtWorker *w)
{
  return atomic_load_explicit (&w->lifo, memory_order_relaxed);
}

AsyncrtTaskId
asyncrt__mt_worker_activity (AsyncrtHandle *h, unsigned i, uint64_t *ret_start_ns,
                             AsyncrtSampleSlot **ret_slot)
{
  AsyncrtMtWorker *w = asyncrt__mt_worker (h, i);
  if (w == NULL)
    {
      if (ret_start_ns != NULL)
        *ret_start_ns = 0;
      if (ret_slot != NULL)
        *ret_slot = NULL;
      return 0;
    }
  if (ret_slot != NULL)
    *ret_slot = w->sample_slot != NULL ? asyncrt__sample_slot_ref (w->sample_slot) : NULL;
  return asyncrt__mt_worker_current_task (w, ret_start_ns);
}

AsyncrtTaskId
asyncrt__mt_worker_current_task (AsyncrtMtWorker *w, uint64_t *start_ns)
{
  AsyncrtTaskId id = atomic_load_explicit (&w->current_task_id, memory_order_acquire);
  if (start_ns != NULL)
    *start_ns = atomic_load_explicit (&w->current_poll_start_ns, memory_order_relaxed);
  return id;
}
