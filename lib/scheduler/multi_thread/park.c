/* libasyncrt - multi-thread scheduler: per-worker parker and the shared driver
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A worker with nothing to do parks here.  The runtime has one I/O + time driver
 * and one driver lock (a try-lock: nobody ever waits for it).  The parking worker
 * that takes the lock parks inside the driver (epoll_wait bounded by the next timer
 * deadline) and so serves timers and I/O for every worker; the others sleep on their
 * own condition variable.
 *
 * Ownership:
 *  - state: atomic; the owning worker moves it EMPTY -> PARKED_* -> EMPTY, any thread
 *    moves it to NOTIFIED (unpark) and only the owner consumes NOTIFIED.
 *  - lock / cond: protect the PARKED_CONDVAR sleep.  An unparker that finds
 *    PARKED_CONDVAR takes and drops the lock before signalling, so the signal cannot
 *    fall between the sleeper's state change and its pthread_cond_wait.
 *  - shared->driver_locked: the driver lock; acquire on taking, release on dropping,
 *    so park() calls never overlap (the driver's contract).
 *
 * Transitions of state:
 *    EMPTY    --park (driver lock taken)-->  PARKED_DRIVER --park returns--> EMPTY
 *    EMPTY    --park (no driver lock)   -->  PARKED_CONDVAR --woken or timed out-->
 *                                            EMPTY (a timed-out sleeper swaps EMPTY
 *                                            in under the lock, consuming an unpark
 *                                            that came meanwhile)
 *    any      --unpark-->                    NOTIFIED (swap; the previous value says
 *                                            whom to wake: the driver or the condvar)
 *    NOTIFIED --park / park_timeout_zero-->  EMPTY (consumed, returns at once)
 * A notify is never lost: an unpark before park leaves NOTIFIED, which park consumes
 * without sleeping; an unpark during park sees PARKED_* and wakes the sleeper.
 * The swap and the compare-and-swaps are acq_rel: work published before unpark() is
 * visible after park() returns.
 */
#include "scheduler/multi_thread/multi-thread-private.h"

#include <errno.h>
#include <glib.h>
#include <time.h>

enum
{
  PARK_EMPTY = 0,
  PARK_PARKED_CONDVAR = 1,
  PARK_PARKED_DRIVER = 2,
  PARK_NOTIFIED = 3,
};

void
asyncrt__mt_shared_driver_init (AsyncrtMtSharedDriver *sd, AsyncrtDriver *driver)
{
  sd->driver = driver;
  atomic_init (&sd->locked, false);
}

bool
asyncrt__mt_shared_driver_trylock (AsyncrtMtSharedDriver *sd)
{
  if (sd->driver == NULL)
    return false;
  /* Cheap pre-check avoids bouncing the cache line between idle workers. */
  if (atomic_load_explicit (&sd->locked, memory_order_relaxed))
    return false;
  return !atomic_exchange_explicit (&sd->locked, true, memory_order_acquire);
}

void
asyncrt__mt_shared_driver_unlock (AsyncrtMtSharedDriver *sd)
{
  atomic_store_explicit (&sd->locked, false, memory_order_release);
}

void
asyncrt__mt_parker_init (AsyncrtMtParker *p, AsyncrtMtSharedDriver *shared)
{
  atomic_init (&p->state, PARK_EMPTY);
  pthread_mutex_init (&p->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (&p->cond, &ca);
  pthread_condattr_destroy (&ca);
  p->shared = shared;
}

void
asyncrt__mt_parker_clear (AsyncrtMtParker *p)
{
  pthread_cond_destroy (&p->cond);
  pthread_mutex_destroy (&p->lock);
}

static bool
consume_notified (AsyncrtMtParker *p)
{
  unsigned expected = PARK_NOTIFIED;
  return atomic_compare_exchange_strong_explicit (&p->state, &expected, PARK_EMPTY,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire);
}

static void
park_driver (AsyncrtMtParker *p, int64_t timeout_ms)
{
  unsigned expected = PARK_EMPTY;
  if (!atomic_compare_exchange_strong_explicit (&p->state, &expected, PARK_PARKED_DRIVER,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
    {
      /* Notified between the first check and here: consume it. */
      g_assert (expected == PARK_NOTIFIED);
      atomic_store_explicit (&p->state, PARK_EMPTY, memory_order_release);
      return;
    }
  asyncrt__driver_park (p->shared->driver, timeout_ms);
  unsigned prev = atomic_exchange_explicit (&p->state, PARK_EMPTY, memory_order_acq_rel);
  g_assert (prev == PARK_PARKED_DRIVER || prev == PARK_NOTIFIED);
}

static void
park_condvar (AsyncrtMtParker *p, unsigned timeout_ms)
{
  struct timespec until;
  if (timeout_ms > 0)
    {
      clock_gettime (CLOCK_MONOTONIC, &until);
      until.tv_nsec += (long) (timeout_ms % 1000u) * 1000000L;
      until.tv_sec += (time_t) (timeout_ms / 1000u) + until.tv_nsec / 1000000000L;
      until.tv_nsec %= 1000000000L;
    }
  pthread_mutex_lock (&p->lock);
  unsigned expected = PARK_EMPTY;
  if (!atomic_compare_exchange_strong_explicit (&p->state, &expected, PARK_PARKED_CONDVAR,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
    {
      g_assert (expected == PARK_NOTIFIED);
      atomic_store_explicit (&p->state, PARK_EMPTY, memory_order_release);
      pthread_mutex_unlock (&p->lock);
      return;
    }
  for (;;)
    {
      if (timeout_ms == 0)
        pthread_cond_wait (&p->cond, &p->lock);
      else if (pthread_cond_timedwait (&p->cond, &p->lock, &until) == ETIMEDOUT)
        {
          /* Back to EMPTY, unless an unpark came at the last moment: consume it. */
          atomic_exchange_explicit (&p->state, PARK_EMPTY, memory_order_acq_rel);
          break;
        }
      if (consume_notified (p))
        break;
      /* Spurious wake-up: still PARKED_CONDVAR. */
    }
  pthread_mutex_unlock (&p->lock);
}

static void
park (AsyncrtMtParker *p, unsigned timeout_ms)
{
  if (consume_notified (p))
    return;
  if (asyncrt__mt_shared_driver_trylock (p->shared))
    {
      park_driver (p, timeout_ms > 0 ? (int64_t) timeout_ms : -1);
      asyncrt__mt_shared_driver_unlock (p->shared);
    }
  else
    park_condvar (p, timeout_ms);
}

void
asyncrt__mt_parker_park (AsyncrtMtParker *p)
{
  park (p, 0);
}

void
asyncrt__mt_parker_park_timeout (AsyncrtMtParker *p, unsigned timeout_ms)
{
  park (p, timeout_ms > 0 ? timeout_ms : 1u);
}

void
asyncrt__mt_parker_park_timeout_zero (AsyncrtMtParker *p)
{
  if (consume_notified (p))
    return;
  /* Polls the driver if no other worker is in it; never sleeps. */
  if (asyncrt__mt_shared_driver_trylock (p->shared))
    {
      park_driver (p, 0);
      asyncrt__mt_shared_driver_unlock (p->shared);
    }
}

void
asyncrt__mt_parker_unpark (AsyncrtMtParker *p)
{
  switch (atomic_exchange_explicit (&p->state, PARK_NOTIFIED, memory_order_acq_rel))
    {
    case PARK_EMPTY:
    case PARK_NOTIFIED:
      break;
    case PARK_PARKED_CONDVAR:
      /* The sleeper holds the lock from its state change to pthread_cond_wait. */
      pthread_mutex_lock (&p->lock);
      pthread_mutex_unlock (&p->lock);
      pthread_cond_signal (&p->cond);
      break;
    case PARK_PARKED_DRIVER:
      asyncrt__driver_unpark (p->shared->driver);
      break;
    default:
      g_assert_not_reached ();
    }
}
