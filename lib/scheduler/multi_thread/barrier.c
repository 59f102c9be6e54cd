/* libasyncrt - the multi-thread dump barrier
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One barrier per dump request (so nothing of one round can leak into the next).
 * Everything below `lock` is guarded by it; the mutex orders every write a worker
 * made before arriving (its LIFO slot, its local queue) before the leader's reads,
 * and the leader's writes before the release of the followers.
 *
 * Phases and legal transitions:
 *
 *   GATHERING --(last of n_workers arrives)----------------> LEADING (leader: it)
 *   GATHERING --(a present worker sees the deadline pass)--> LEADING (leader: it)
 *   GATHERING --(cancel)-----------------------------------> CANCELLED
 *   LEADING   --(leader releases)--------------------------> RELEASED
 *
 * A worker's arrival mark: ABSENT -> PRESENT on arrival; PRESENT -> ABSENT when it
 * withdraws (the round was cancelled while it waited: n_arrived is decremented, so an
 * arrival that gave up is never counted towards electing a leader); PRESENT stays
 * PRESENT once a leader exists (the leader may be reading that worker's queues: a
 * present worker leaves only when released).  Arriving in any phase but GATHERING,
 * or a second time, returns CLOSED at once: a late worker rejoins normal scheduling.
 *
 * Waiting: followers wait on `cond` with the deadline while GATHERING (so one of them
 * can lead when it passes) and without a deadline once LEADING: the leader only
 * drains queues before it releases, no user code, so the wait is short and
 * bounded.
 */
#include "scheduler/multi_thread/multi-thread-private.h"

#include <glib.h>

enum
{
  PHASE_GATHERING,
  PHASE_LEADING,
  PHASE_RELEASED,
  PHASE_CANCELLED
};

enum
{
  BARRIER_ABSENT = 0,
  BARRIER_PRESENT = 1
};

void
asyncrt__mt_barrier_init (AsyncrtMtBarrier *b, unsigned n_workers, uint64_t deadline_ns)
{
  pthread_condattr_t attr;
  pthread_mutex_init (&b->lock, NULL);
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&b->cond, &attr);
  pthread_condattr_destroy (&attr);
  b->n_workers = n_workers;
  b->deadline_ns = deadline_ns;
  b->phase = PHASE_GATHERING;
  b->n_arrived = 0;
  b->leader = -1;
  b->arrived = g_new0 (uint8_t, n_workers > 0 ? n_workers : 1);
}

void
asyncrt__mt_barrier_clear (AsyncrtMtBarrier *b)
{
  pthread_mutex_destroy (&b->lock);
  pthread_cond_destroy (&b->cond);
  g_free (b->arrived);
  b->arrived = NULL;
}

static void
wait_until (AsyncrtMtBarrier *b, uint64_t deadline_ns)
{
  struct timespec ts = {
    .tv_sec = (time_t) (deadline_ns / 1000000000u),
    .tv_nsec = (long) (deadline_ns % 1000000000u),
  };
  pthread_cond_timedwait (&b->cond, &b->lock, &ts);
}

AsyncrtMtBarrierResult
asyncrt__mt_barrier_arrive (AsyncrtMtBarrier *b, unsigned worker)
{
  AsyncrtMtBarrierResult res;
  if (worker >= b->n_workers)
    return ASYNCRT_MT_BARRIER_CLOSED;
  pthread_mutex_lock (&b->lock);
  if (b->phase != PHASE_GATHERING || b->arrived[worker] != BARRIER_ABSENT)
    {
      pthread_mutex_unlock (&b->lock);
      return ASYNCRT_MT_BARRIER_CLOSED;
    }
  b->arrived[worker] = BARRIER_PRESENT;
  b->n_arrived++;
  if (b->n_arrived == b->n_workers)
    {
      b->phase = PHASE_LEADING;
      b->leader = (int) worker;
      pthread_cond_broadcast (&b->cond);
      pthread_mutex_unlock (&b->lock);
      return ASYNCRT_MT_BARRIER_LEAD;
    }
  for (;;)
    {
      if (b->phase == PHASE_RELEASED)
        {
          res = ASYNCRT_MT_BARRIER_RELEASED;
          break;
        }
      if (b->phase == PHASE_CANCELLED)
        {
          b->arrived[worker] = BARRIER_ABSENT;   /* withdraw */
          b->n_arrived--;
          res = ASYNCRT_MT_BARRIER_WITHDRAWN;
          break;
        }
      if (b->phase == PHASE_GATHERING)
        {
          if (asyncrt__clock_now_ns () >= b->deadline_ns)
            {
              /* Not everyone came: proceed with the workers present. */
              b->phase = PHASE_LEADING;
              b->leader = (int) worker;
              pthread_cond_broadcast (&b->cond);
              res = ASYNCRT_MT_BARRIER_LEAD;
              break;
            }
          wait_until (b, b->deadline_ns);
        }
      else
        pthread_cond_wait (&b->cond, &b->lock);   /* LEADING: until released */
    }
  pthread_mutex_unlock (&b->lock);
  return res;
}

bool
asyncrt__mt_barrier_is_present (AsyncrtMtBarrier *b, unsigned worker)
{
  pthread_mutex_lock (&b->lock);
  bool present = worker < b->n_workers && b->arrived[worker] == BARRIER_PRESENT;
  pthread_mutex_unlock (&b->lock);
  return present;
}

unsigned
asyncrt__mt_barrier_n_present (AsyncrtMtBarrier *b)
{
  pthread_mutex_lock (&b->lock);
  unsigned n = b->n_arrived;
  pthread_mutex_unlock (&b->lock);
  return n;
}

void
asyncrt__mt_barrier_release (AsyncrtMtBarrier *b)
{
  pthread_mutex_lock (&b->lock);
  g_assert (b->phase == PHASE_LEADING);
  b->phase = PHASE_RELEASED;
  pthread_cond_broadcast (&b->cond);
  pthread_mutex_unlock (&b->lock);
}

bool
asyncrt__mt_barrier_cancel (AsyncrtMtBarrier *b)
{
  pthread_mutex_lock (&b->lock);
  bool cancelled = b->phase == PHASE_GATHERING;
  if (cancelled)
    {
      b->phase = PHASE_CANCELLED;
      pthread_cond_broadcast (&b->cond);
    }
  pthread_mutex_unlock (&b->lock);
  return cancelled;
}
