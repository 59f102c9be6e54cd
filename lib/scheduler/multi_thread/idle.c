/* libasyncrt - multi-thread scheduler: idle coordination
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Decides which workers are searching for work, which are parked, and which parked
 * worker (if any) a producer of new work unparks.  The scheme is Tokio's:
 *
 *  - At most half of the workers (at least one) search at once; a worker that cannot
 *    become a searcher parks instead of stealing, so an idle runtime does not spin.
 *  - New work unparks one parked worker only when no worker is searching and not
 *    every worker is unparked (a searcher will find the work; an unparked worker that
 *    runs out of work will search).  The unparked worker starts out searching.
 *  - When a searcher finds work it stops searching; if it was the last searcher it
 *    unparks another worker (more work may be coming), so parallelism ramps up one
 *    worker at a time: no thundering herd.
 *  - A worker that parks leaving nobody searching re-checks every queue once more
 *    (the caller's job, told by the return value of
 *    asyncrt__mt_idle_transition_to_parked()).  For the last searcher this closes the
 *    window between its last scan and its transition.  It holds for a worker that
 *    parks without having searched, too: it did not look because another worker was
 *    searching, but that searcher may have stopped meanwhile (it found work and left
 *    more in its local queue, then ran a task that blocks), and the wake it sent as it
 *    stopped went to nobody, since this worker still counted as unparked.  Either the
 *    searcher's change of state comes first and this worker's re-check sees its
 *    queue, or this worker's comes first and the searcher's wake finds it parked.
 *  - Searchers spin (worker.c): one that finds nothing keeps looking for a while
 *    before it parks, so that producers of work coming meanwhile wake nobody.
 *  - LIFO slots (worker.c): a task put in a worker's LIFO slot runs when that worker
 *    ends its current poll, unless the poll blocks; then a searcher or the watcher
 *    steals it.  The watcher is at most one parked worker that parks with a timeout,
 *    to look again, while some LIFO slot is occupied (or a worker is inside a poll:
 *    it may fill one) (num_watching, is_watching).  A worker that fills an empty LIFO
 *    slot wakes a parked worker when nobody searches nor watches
 *    (asyncrt__mt_idle_worker_to_notify_lifo()); a watcher that leaves for work of
 *    its own does the same if a slot is occupied; so an occupied slot is always seen
 *    by a searcher, the watcher, or a busy worker that will search.
 *
 * Ownership:
 *  - state: atomic, any thread.
 *    (num_unparked << 32) | (num_watching << 16) | num_searching.
 *    Producers read it lock-free (fast path: no lock when nobody needs waking).
 *    Every change is a seq_cst read-modify-write.  The Dekker pair "producer pushes
 *    work, then reads state" / "parking worker changes state, then reads the queues"
 *    is ordered by a seq_cst fence on the producer side
 *    (asyncrt__mt_idle_worker_to_notify) and the seq_cst RMW plus fence on the
 *    parker side, so one of the two always sees the other: no lost wake-up.
 *  - sleepers / is_sleeping / is_watching: guarded by lock.  sleepers is a stack of
 *    the indices of parked workers; is_sleeping[i] mirrors membership for O(1)
 *    look-ups; is_watching[i] (only for a parked worker) mirrors num_watching.
 *    num_unparked and num_watching change only under lock, together with the stack,
 *    so num_unparked + n_sleepers == num_workers whenever lock is free.
 *    The Dekker pair of the LIFO slots, "worker fills a slot (seq_cst exchange), then
 *    reads state" / "watcher or last searcher changes state, then reads the slots",
 *    is ordered by those seq_cst operations themselves.
 *
 * Legal transitions of one worker (the worker's own view is its is_searching flag,
 * kept in the worker; it must match the counters):
 *    running --to_searching--> searching --from_searching--> running
 *    running|searching --to_parked--> parked (pushed on the stack)
 *    parked --worker_to_notify / unpark_all--> unparked and searching (popped by the
 *        waker; the worker notices it is no longer on the stack and searches)
 *    parked --unpark_worker_by_id--> unparked, not searching (the worker removed
 *        itself because it found work of its own)
 *    parked --start_watching / stop_watching--> parked and watching / not watching
 *        (watching ends too when the worker leaves the stack)
 */
#include "scheduler/multi_thread/multi-thread-private.h"

#include <glib.h>
#include <string.h>

#define SEARCHING_MASK UINT64_C (0xffff)
#define WATCHING_SHIFT 16
#define WATCHING_ONE (UINT64_C (1) << WATCHING_SHIFT)
#define UNPARKED_SHIFT 32
#define UNPARKED_ONE (UINT64_C (1) << UNPARKED_SHIFT)

_Static_assert (ASYNCRT_MT_MAX_WORKERS < 0xffff, "searchers and watchers fit 16 bits");

static inline unsigned
state_searching (uint64_t s)
{
  return (unsigned) (s & SEARCHING_MASK);
}

static inline unsigned
state_watching (uint64_t s)
{
  return (unsigned) ((s >> WATCHING_SHIFT) & 0xffff);
}

static inline unsigned
state_unparked (uint64_t s)
{
  return (unsigned) (s >> UNPARKED_SHIFT);
}

void
asyncrt__mt_idle_init (AsyncrtMtIdle *idle, unsigned num_workers)
{
  g_assert (num_workers > 0);
  idle->num_workers = num_workers;
  atomic_init (&idle->state, (uint64_t) num_workers << UNPARKED_SHIFT);
  pthread_mutex_init (&idle->lock, NULL);
  idle->sleepers = g_new0 (unsigned, num_workers);
  idle->is_sleeping = g_new0 (bool, num_workers);
  idle->is_watching = g_new0 (bool, num_workers);
  idle->n_sleepers = 0;
}

void
asyncrt__mt_idle_clear (AsyncrtMtIdle *idle)
{
  pthread_mutex_destroy (&idle->lock);
  g_clear_pointer (&idle->sleepers, g_free);
  g_clear_pointer (&idle->is_sleeping, g_free);
  g_clear_pointer (&idle->is_watching, g_free);
}

static bool
should_wake (const AsyncrtMtIdle *idle, uint64_t s)
{
  return state_searching (s) == 0 && state_unparked (s) < idle->num_workers;
}

/* A parked worker leaves the stack: it no longer watches. */
static void
stop_watching_locked (AsyncrtMtIdle *idle, unsigned w)
{
  if (!idle->is_watching[w])
    return;
  idle->is_watching[w] = false;
  atomic_fetch_sub_explicit (&idle->state, WATCHING_ONE, memory_order_seq_cst);
}

/* Pops the most recently parked worker, counting it unparked and searching. */
static int
pop_sleeper_locked (AsyncrtMtIdle *idle)
{
  if (idle->n_sleepers == 0)
    return -1;
  unsigned w = idle->sleepers[--idle->n_sleepers];
  idle->is_sleeping[w] = false;
  stop_watching_locked (idle, w);
  atomic_fetch_add_explicit (&idle->state, UNPARKED_ONE | 1u, memory_order_seq_cst);
  return (int) w;
}

/* Whether new work should wake a worker; for a LIFO slot only if nobody watches
 * either. */
static bool
should_wake_for (const AsyncrtMtIdle *idle, uint64_t s, bool lifo)
{
  return should_wake (idle, s) && (!lifo || state_watching (s) == 0);
}

static int
worker_to_notify (AsyncrtMtIdle *idle, bool lifo)
{
  if (!should_wake_for (idle, atomic_load_explicit (&idle->state, memory_order_seq_cst),
                        lifo))
    return -1;

  pthread_mutex_lock (&idle->lock);
  int w = -1;
  /* Re-check under the lock: another producer may have woken someone already. */
  if (should_wake_for (idle, atomic_load_explicit (&idle->state, memory_order_seq_cst),
                       lifo))
    w = pop_sleeper_locked (idle);
  pthread_mutex_unlock (&idle->lock);
  return w;
}

int
asyncrt__mt_idle_worker_to_notify (AsyncrtMtIdle *idle)
{
  /* Pairs with the fence in asyncrt__mt_idle_transition_to_parked(): our caller has
   * just published work; either we see the parker's state change or it sees the work. */
  atomic_thread_fence (memory_order_seq_cst);
  return worker_to_notify (idle, false);
}

int
asyncrt__mt_idle_worker_to_notify_lifo (AsyncrtMtIdle *idle)
{
  /* No fence: the caller's seq_cst exchange of the slot and our seq_cst load are the
   * producer's half of the pair (see the top). */
  return worker_to_notify (idle, true);
}

bool
asyncrt__mt_idle_start_watching (AsyncrtMtIdle *idle, unsigned worker)
{
  bool ok = false;
  pthread_mutex_lock (&idle->lock);
  if (idle->is_sleeping[worker] && !idle->is_watching[worker]
      && state_watching (atomic_load_explicit (&idle->state, memory_order_seq_cst)) == 0)
    {
      idle->is_watching[worker] = true;
      atomic_fetch_add_explicit (&idle->state, WATCHING_ONE, memory_order_seq_cst);
      ok = true;
    }
  pthread_mutex_unlock (&idle->lock);
  return ok;
}

void
asyncrt__mt_idle_stop_watching (AsyncrtMtIdle *idle, unsigned worker)
{
  pthread_mutex_lock (&idle->lock);
  stop_watching_locked (idle, worker);
  pthread_mutex_unlock (&idle->lock);
}

bool
asyncrt__mt_idle_is_watching (AsyncrtMtIdle *idle, unsigned worker)
{
  pthread_mutex_lock (&idle->lock);
  bool r = idle->is_watching[worker];
  pthread_mutex_unlock (&idle->lock);
  return r;
}

bool
asyncrt__mt_idle_transition_to_parked (AsyncrtMtIdle *idle, unsigned worker, bool is_searching)
{
  g_assert (worker < idle->num_workers);
  pthread_mutex_lock (&idle->lock);
  g_assert (!idle->is_sleeping[worker]);
  uint64_t dec = UNPARKED_ONE | (is_searching ? 1u : 0u);
  uint64_t prev = atomic_fetch_sub_explicit (&idle->state, dec, memory_order_seq_cst);
  g_assert (state_unparked (prev) > 0);
  g_assert (!is_searching || state_searching (prev) > 0);
  idle->sleepers[idle->n_sleepers++] = worker;
  idle->is_sleeping[worker] = true;
  pthread_mutex_unlock (&idle->lock);
  /* See asyncrt__mt_idle_worker_to_notify(). */
  atomic_thread_fence (memory_order_seq_cst);
  /* Nobody searches now (see the top): the caller re-checks the queues. */
  return state_searching (prev) == (is_searching ? 1u : 0u);
}

bool
asyncrt__mt_idle_transition_to_searching (AsyncrtMtIdle *idle)
{
  uint64_t s = atomic_load_explicit (&idle->state, memory_order_seq_cst);
  /* At most half of the workers search (one when there is a single worker). */
  if (2u * state_searching (s) >= idle->num_workers)
    return false;
  atomic_fetch_add_explicit (&idle->state, 1u, memory_order_seq_cst);
  return true;
}

bool
asyncrt__mt_idle_transition_from_searching (AsyncrtMtIdle *idle)
{
  uint64_t prev = atomic_fetch_sub_explicit (&idle->state, 1u, memory_order_seq_cst);
  g_assert (state_searching (prev) > 0);
  return state_searching (prev) == 1;
}

bool
asyncrt__mt_idle_unpark_worker_by_id (AsyncrtMtIdle *idle, unsigned worker)
{
  bool removed = false;
  pthread_mutex_lock (&idle->lock);
  if (idle->is_sleeping[worker])
    {
      for (size_t i = 0; i < idle->n_sleepers; i++)
        if (idle->sleepers[i] == worker)
          {
            memmove (&idle->sleepers[i], &idle->sleepers[i + 1],
                     (idle->n_sleepers - i - 1) * sizeof idle->sleepers[0]);
            idle->n_sleepers--;
            break;
          }
      idle->is_sleeping[worker] = false;
      stop_watching_locked (idle, worker);
      atomic_fetch_add_explicit (&idle->state, UNPARKED_ONE, memory_order_seq_cst);
      removed = true;
    }
  pthread_mutex_unlock (&idle->lock);
  return removed;
}

bool
asyncrt__mt_idle_is_parked (AsyncrtMtIdle *idle, unsigned worker)
{
  pthread_mutex_lock (&idle->lock);
  bool r = idle->is_sleeping[worker];
  pthread_mutex_unlock (&idle->lock);
  return r;
}

size_t
asyncrt__mt_idle_unpark_all (AsyncrtMtIdle *idle, unsigned *out)
{
  size_t n = 0;
  pthread_mutex_lock (&idle->lock);
  for (int w; (w = pop_sleeper_locked (idle)) >= 0;)
    out[n++] = (unsigned) w;
  pthread_mutex_unlock (&idle->lock);
  return n;
}

unsigned
asyncrt__mt_idle_num_searching (AsyncrtMtIdle *idle)
{
  return state_searching (atomic_load_explicit (&idle->state, memory_order_seq_cst));
}

unsigned
asyncrt__mt_idle_num_watching (AsyncrtMtIdle *idle)
{
  return state_watching (atomic_load_explicit (&idle->state, memory_order_seq_cst));
}

unsigned
asyncrt__mt_idle_num_unparked (AsyncrtMtIdle *idle)
{
  return state_unparked (atomic_load_explicit (&idle->state, memory_order_seq_cst));
}
