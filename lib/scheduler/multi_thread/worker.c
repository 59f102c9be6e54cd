/* libasyncrt - multi-thread scheduler: workers, scheduling, the run loop
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each worker owns a LIFO slot and a 256-slot local run queue; the runtime has one
 * injection queue.  A worker looks for work in this order:
 *
 *   LIFO slot -> local queue -> injection queue (first, every event_interval ticks,
 *   so that it cannot be starved by local work; a batch of up to half a local queue
 *   moves to the local queue each time) -> as a searcher (idle.c: at most half of the
 *   workers), steal half of a random sibling's queue (random start, every sibling
 *   tried), the injection queue, a task left in a sibling's LIFO slot while that
 *   sibling stayed inside one poll for ASYNCRT_MT_LIFO_STEAL_NS (it is likely blocked),
 *   again and again for ASYNCRT_MT_SPIN_NS -> park (as the watcher if a sibling's LIFO
 *   slot holds a task: with a timeout, to look at it again).
 *
 * Where a woken or spawned task goes (asyncrt__mt_schedule):
 *   - on a worker of this runtime, during a task poll (the task spawns it, or wakes it,
 *     or its completion wakes it): the LIFO slot; the task it displaces goes to the
 *     back of the local queue.  Message passing between two tasks, and a spawn the
 *     spawner then waits for, run back to back on one worker (the LIFO slot is the
 *     first place the run loop looks, after each scheduling point), while at most
 *     ASYNCRT_MT_MAX_LIFO_POLLS LIFO polls in a row follow a task from elsewhere
 *     when other tasks wait in the local queue: past that cap the LIFO slot is
 *     disabled until the next task from elsewhere, so two tasks that ping-pong cannot
 *     starve the rest (with the queue empty nothing local waits; the injection queue
 *     and the driver keep their turns every event_interval ticks).  Filling an empty
 *     slot wakes a parked worker when nobody searches nor watches (idle.c), so a poll
 *     that blocks its thread does not strand the task in the slot;
 *   - on a worker, as a yield (is_yield), or outside a task poll (e.g. timers and I/O
 *     fired while parked in the driver): the back of the local queue; a full local
 *     queue moves half of itself to the injection queue (overflow).  Work pushed to
 *     the local queue (this way, displaced from the LIFO slot, or moved there from the
 *     injection queue) wakes a parked worker when nobody searches (Tokio's rule);
 *   - from any other thread: the injection queue, then one parked worker is unparked
 *     if idle coordination (idle.c) says so.
 *   - after shutdown the injection queue is closed: the notified reference is given
 *     back (asyncrt__task_drop_notified), never queued.
 *
 * Ownership:
 *   - queue push/pop, ticks_to_event, rng, is_searching, lifo_enabled, in_run,
 *     parking, exited, lifo_seen, lifo_run: the worker's thread.
 *   - lifo: the owner fills and empties it (seq_cst exchanges); any worker may take a
 *     task from it with a compare-and-swap (steal_stuck_lifo: acquire, pairing with the
 *     owner's exchange), the dump leader with an exchange while the owner is stopped.
 *     Whoever takes the task owns its notified reference.
 *   - queue steal: any thread (see lib/queue/local.c).
 *   - rt->attention: SHUTDOWN is set once (release, before the workers are unparked);
 *     workers load it with acquire at every scheduling point, after each wake-up and
 *     while they search.
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

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ volatile ("yield" ::: "memory");
#else
  atomic_signal_fence (memory_order_seq_cst);
#endif
}

/* What is in the LIFO slot (any thread; a hint: it may be taken meanwhile). */
static inline AsyncrtTask *
lifo_peek (AsyncrtMtWorker *w)
{
  return atomic_load_explicit (&w->lifo, memory_order_relaxed);
}

/* Owner: takes the task in its LIFO slot, unless another worker stole it. */
static inline AsyncrtTask *
lifo_take (AsyncrtMtWorker *w)
{
  if (lifo_peek (w) == NULL)
    return NULL;
  return atomic_exchange_explicit (&w->lifo, NULL, memory_order_acq_rel);
}

/* Owner: puts @t in its LIFO slot and returns the task it displaced, if any.  seq_cst:
 * the producer's half of the LIFO slots' Dekker pair with the watcher and the last
 * searcher (idle.c); release: a worker that steals @t sees it whole. */
static inline AsyncrtTask *
lifo_put (AsyncrtMtWorker *w, AsyncrtTask *t)
{
  return atomic_exchange_explicit (&w->lifo, t, memory_order_seq_cst);
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
  if (is_yield || !w->lifo_enabled || !w->in_run)
    {
      push_local (w, t);
      /* While parked in the driver wakes come in batches: notify once afterwards. */
      if (!w->parking)
        asyncrt__mt_notify_parked (w->rt);
      return;
    }

  AsyncrtTask *prev = lifo_put (w, t);
  if (prev != NULL)
    {
      /* Work to share: wake a worker if none searches (it will look at the slot
       * too). */
      push_local (w, prev);
      asyncrt__mt_notify_parked (w->rt);
    }
  else
    {
      /* The slot was empty: if nobody searches nor watches, wake a worker, which
       * will watch the slot (in case this poll blocks, see idle.c). */
      int i = asyncrt__mt_idle_worker_to_notify_lifo (&w->rt->idle);
      if (i >= 0)
        asyncrt__mt_parker_unpark (&w->rt->workers[i].parker);
    }
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
  return lifo_peek (w) != NULL || !asyncrt__local_queue_is_empty (&w->queue);
}

static bool
should_notify_others (AsyncrtMtWorker *w)
{
  /* A searcher will notify when it finds work; otherwise, more than one queued task
   * is worth sharing. */
  if (w->is_searching)
    return false;
  return (lifo_peek (w) != NULL ? 1u : 0u) + asyncrt__local_queue_len (&w->queue) > 1;
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
  bool queued = node != NULL;
  while (node != NULL)
    {
      AsyncrtQueueNode *next = node->next;
      drop_chain (asyncrt__local_queue_push_back_or_overflow (&w->queue, node, &rt->inject));
      node = next;
    }
  /* Work for others in our queue: wake a parked worker if nobody searches (a
   * searcher that scanned our queue before the push may be parking; and the task we
   * run first may block this thread).  A searcher wakes one as it stops searching. */
  if (queued && !w->is_searching)
    asyncrt__mt_notify_parked (rt);
  return first;
}

/* The LIFO slot, then the queue.  Counts the LIFO polls in a row: past
 * ASYNCRT_MT_MAX_LIFO_POLLS, while other tasks wait in the queue, wakes go to the
 * queue until a task is taken from elsewhere than the LIFO slot (lifo_run_end()). */
/* A task taken from elsewhere than the LIFO slot: LIFO polls may follow again. */
static inline void
lifo_run_end (AsyncrtMtWorker *w)
{
  w->lifo_run = 0;
  w->lifo_enabled = true;
}

static AsyncrtQueueNode *
next_local (AsyncrtMtWorker *w)
{
  AsyncrtTask *t = lifo_take (w);
  if (t != NULL)
    {
      if (++w->lifo_run >= ASYNCRT_MT_MAX_LIFO_POLLS
          && !asyncrt__local_queue_is_empty (&w->queue))
        w->lifo_enabled = false;   /* further wakes go to the queue */
      return &t->queue_node;
    }
  AsyncrtQueueNode *n = asyncrt__local_queue_pop (&w->queue);
  if (n != NULL)
    lifo_run_end (w);
  return n;
}

/* @interval: this tick is one of every event_interval (the run loop's countdown). */
static AsyncrtQueueNode *
next_task (AsyncrtMtWorker *w, bool interval)
{
  AsyncrtQueueNode *n;

  if (interval)
    {
      /* Fairness: the injection queue first, now and then.  A batch, not one task:
       * behind a local queue that never empties (tasks that keep yielding) remote
       * work would otherwise trickle in at one task per interval. */
      n = pop_inject_batch (w);
      if (n != NULL)
        {
          lifo_run_end (w);
          return n;
        }
    }
  n = next_local (w);
  if (n != NULL)
    return n;
  n = pop_inject_batch (w);
  if (n != NULL)
    lifo_run_end (w);
  return n;
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

/* One look at every sibling's queue (random start) and at the injection queue. */
static AsyncrtQueueNode *
steal_once (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;
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

/* The LIFO slots of the siblings.  A task that stays in one while its worker stays
 * inside one poll (the same task id) for ASYNCRT_MT_LIFO_STEAL_NS is taken: that
 * worker is probably blocked in the poll.  w->lifo_seen[i] remembers when we first
 * saw sibling i's slot hold that task during that poll (owner only).  *occupied:
 * whether any sibling's slot holds a task. */
static AsyncrtQueueNode *
steal_stuck_lifo (AsyncrtMtWorker *w, uint64_t now, bool *occupied)
{
  AsyncrtMtRuntime *rt = w->rt;
  *occupied = false;
  for (unsigned i = 0; i < rt->n_workers; i++)
    {
      if (i == w->index)
        continue;
      AsyncrtMtWorker *v = &rt->workers[i];
      AsyncrtMtLifoSeen *seen = &w->lifo_seen[i];
      AsyncrtTask *t = lifo_peek (v);
      if (t == NULL)
        {
          seen->task = NULL;
          continue;
        }
      *occupied = true;
      AsyncrtTaskId polling = atomic_load_explicit (&v->current_task_id,
                                                    memory_order_relaxed);
      if (seen->task != t || seen->polling != polling)
        {
          seen->task = t;
          seen->polling = polling;
          seen->since_ns = now;
          continue;
        }
      if (now - seen->since_ns < ASYNCRT_MT_LIFO_STEAL_NS)
        continue;
      seen->task = NULL;
      /* Acquire: pairs with the owner's exchange that put it there.  Success makes
       * the notified reference ours. */
      if (atomic_compare_exchange_strong_explicit (&v->lifo, &t, NULL,
                                                   memory_order_acquire,
                                                   memory_order_relaxed))
        return &t->queue_node;
    }
  return NULL;
}

/* Looks for work on the other workers, as a searcher (at most half of the workers
 * search; NULL at once if enough do).  Finding nothing, it keeps looking for
 * ASYNCRT_MT_SPIN_NS before it gives up: work that comes meanwhile is taken without a
 * wake-up (producers do not wake anybody while a worker searches). */
static AsyncrtQueueNode *
steal_work (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;

  if (!w->is_searching)
    w->is_searching = asyncrt__mt_idle_transition_to_searching (&rt->idle);
  if (!w->is_searching)
    return NULL;   /* enough searchers already */

  uint64_t start = 0;
  for (unsigned round = 0;; round++)
    {
      AsyncrtQueueNode *node = steal_once (w);
      if (node != NULL)
        return node;
      uint64_t now = asyncrt__clock_now_ns ();
      if (round == 0)
        start = now;
      bool occupied;
      node = steal_stuck_lifo (w, now, &occupied);
      if (node != NULL)
        return node;
      if (now - start >= ASYNCRT_MT_SPIN_NS || attention (rt) != 0)
        return NULL;
      for (unsigned k = 0; k < 32; k++)
        cpu_relax ();
    }
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
}

/* Called by a worker that parks leaving nobody searching (idle.c): work that arrived
 * between its last scan (or the last scan of the searcher it counted on) and its
 * transition must not be stranded. */
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

/* Whether another worker is inside a task's poll (a hint). */
static bool
siblings_polling (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;
  for (unsigned i = 0; i < rt->n_workers; i++)
    if (i != w->index
        && atomic_load_explicit (&rt->workers[i].current_task_id, memory_order_relaxed) != 0)
      return true;
  return false;
}

/* A watcher that leaves the sleepers for work of its own (not woken by a producer, who
 * makes it a searcher): if a sibling's LIFO slot is still occupied, another parked
 * worker takes over (woken unless somebody searches or watches). */
static void
hand_over_watch (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;
  atomic_thread_fence (memory_order_seq_cst);
  for (unsigned i = 0; i < rt->n_workers; i++)
    if (i != w->index && lifo_peek (&rt->workers[i]) != NULL)
      {
        int k = asyncrt__mt_idle_worker_to_notify_lifo (&rt->idle);
        if (k >= 0)
          asyncrt__mt_parker_unpark (&rt->workers[k].parker);
        return;
      }
}

/* Parks until there is work, a wake-up or something to attend to.  Returns a task
 * taken from a sibling's LIFO slot while parked (to run), or NULL.
 *
 * While a sibling's LIFO slot holds a task, or a sibling is inside a poll, this worker
 * may be the watcher (idle.c): it then parks for ASYNCRT_MT_WATCH_MS at a time and
 * takes such a task that has not moved (its worker stuck in one poll).  It stops
 * watching when every slot is empty and no sibling polls: a slot filled later wakes a
 * worker (schedule_local). */
static AsyncrtQueueNode *
park (AsyncrtMtWorker *w)
{
  AsyncrtMtRuntime *rt = w->rt;

  if (has_tasks (w))
    return NULL;

  bool none_searching = asyncrt__mt_idle_transition_to_parked (&rt->idle, w->index,
                                                               w->is_searching);
  w->is_searching = false;
  if (none_searching)
    notify_if_work_pending (rt);

  bool watching = false;
  for (;;)
    {
      /* Checked after joining the sleepers: a request published before that is seen
       * here; one published after finds us among the sleepers and unparks us. */
      if (needs_attention (w))
        {
          w->is_searching = !asyncrt__mt_idle_unpark_worker_by_id (&rt->idle, w->index);
          return NULL;
        }

      /* The LIFO slots, read after our last change of the idle state (its seq_cst
       * fence or read-modify-write): a slot filled before it is seen here, one filled
       * after it sees that nobody watches and wakes a worker. */
      atomic_thread_fence (memory_order_seq_cst);
      bool occupied;
      AsyncrtQueueNode *stolen = steal_stuck_lifo (w, asyncrt__clock_now_ns (), &occupied);
      if (stolen != NULL)
        {
          /* If somebody unparked us meanwhile we were counted as a searcher. */
          w->is_searching = !asyncrt__mt_idle_unpark_worker_by_id (&rt->idle, w->index);
          if (watching && !w->is_searching)
            hand_over_watch (w);
          return stolen;
        }
      /* Watch while a slot is occupied, and also while a sibling is inside a poll
       * (it may fill its slot at any moment: watching already, we spare it waking
       * somebody each time it does).  Only an occupied slot needs the watch: the
       * rest is to stop and start less often. */
      bool busy = occupied || siblings_polling (w);
      if (busy && !watching)
        watching = asyncrt__mt_idle_start_watching (&rt->idle, w->index);
      else if (!busy && watching)
        {
          asyncrt__mt_idle_stop_watching (&rt->idle, w->index);
          watching = false;
          continue;   /* look at the slots again, after that change */
        }

      w->parking = true;
      if (watching)
        asyncrt__mt_parker_park_timeout (&w->parker, ASYNCRT_MT_WATCH_MS);
      else
        asyncrt__mt_parker_park (&w->parker);
      w->parking = false;

      if (has_tasks (w))
        {
          /* Woken by the driver with work of our own.  If somebody unparked us
           * meanwhile we were counted as a searcher. */
          w->is_searching = !asyncrt__mt_idle_unpark_worker_by_id (&rt->idle, w->index);
          if (watching && !w->is_searching)
            hand_over_watch (w);
          if (should_notify_others (w))
            asyncrt__mt_notify_parked (rt);
          return NULL;
        }
      if (!asyncrt__mt_idle_is_parked (&rt->idle, w->index))
        {
          /* Unparked through the idle bookkeeping: we are a searcher. */
          w->is_searching = true;
          return NULL;
        }
      /* Timed out (watching), spurious, or a driver event that queued nothing here:
       * look again, park again. */
      if (watching)
        watching = asyncrt__mt_idle_is_watching (&rt->idle, w->index);
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

      /* Every event_interval ticks (a countdown: no division per task). */
      bool interval = --w->ticks_to_event == 0;
      if (interval)
        {
          w->ticks_to_event = rt->event_interval;
          maintenance (w);
        }

      /* The LIFO slot is looked at first (next_local): a task woken or spawned by
       * the poll before runs next, after this scheduling point. */
      AsyncrtQueueNode *node = next_task (w, interval);
      if (node == NULL)
        {
          node = steal_work (w);
          if (node == NULL)
            node = park (w);
          if (node != NULL)
            lifo_run_end (w);
        }
      if (node != NULL)
        run_task (w, node);
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

AsyncrtTask *
asyncrt__mt_worker_steal_lifo (AsyncrtMtWorker *w)
{
  AsyncrtTask *t = lifo_peek (w);
  /* Acquire: pairs with the owner's exchange that put it there. */
  while (t != NULL
         && !atomic_compare_exchange_weak_explicit (&w->lifo, &t, NULL, memory_order_acquire,
                                                    memory_order_relaxed))
    ;
  return t;
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
