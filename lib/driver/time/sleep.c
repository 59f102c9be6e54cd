/* libasyncrt - AsyncrtSleep and the driver's timer side
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership (see also driver-impl-private.h): the task polling a sleep owns
 * `deadline` and `driver`.  While the sleep is REGISTERED or FIRED, `state`, `waker`
 * and the wheel links belong to the driver's lock.  The driver moves a fired sleep's
 * waker out and marks it FIRED under the lock; the owner sees FIRED under the lock at
 * its next poll and completes.  Registration takes a driver reference, dropped when
 * the sleep completes or is cleared.
 */
#include "driver/driver-impl-private.h"
#include "scheduler/coop-private.h"
#include "trace/wait-private.h"

#include <string.h>

/* --- driver side (called with the lock held) ------------------------------------ */

void
asyncrt__driver_fire_timers (AsyncrtDriver *d, uint64_t now, AsyncrtWakeBatch *b)
{
  AsyncrtSleep *s;
  while ((s = asyncrt__wheel_poll (&d->wheel, now)) != NULL)
    {
      AsyncrtWaker w = s->waker;
      s->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
      s->state = ASYNCRT__SLEEP_FIRED;
      asyncrt__wake_batch_push (d, b, w);
    }
}

void
asyncrt__driver_shutdown_timers (AsyncrtDriver *d, AsyncrtWakeBatch *b)
{
  AsyncrtSleep *s;
  while ((s = asyncrt__wheel_take_any (&d->wheel)) != NULL)
    {
      AsyncrtWaker w = s->waker;
      s->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
      s->state = ASYNCRT__SLEEP_FIRED;
      asyncrt__wake_batch_push (d, b, w);
    }
}

/* --- owner side ------------------------------------------------------------------ */

/* Drops the registration of a sleep the owner has finished with. */
static void
sleep_deregister (AsyncrtSleep *s)
{
  AsyncrtDriver *d = s->driver;
  if (d == NULL)
    return;
  AsyncrtWaker w;
  pthread_mutex_lock (&d->lock);
  if (s->state == ASYNCRT__SLEEP_REGISTERED)
    asyncrt__wheel_remove (&d->wheel, s);
  w = s->waker;
  s->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  s->state = ASYNCRT__SLEEP_IDLE;
  pthread_mutex_unlock (&d->lock);
  asyncrt_waker_free (&w);
  s->driver = NULL;
  asyncrt__driver_unref (d);
}

/* true: registered (PENDING); false: the driver is shut down (complete). */
static bool
sleep_register (AsyncrtDriver *d, AsyncrtSleep *s, const AsyncrtWaker *waker)
{
  bool unpark = false;
  AsyncrtWaker w = asyncrt_waker_clone (waker);
  pthread_mutex_lock (&d->lock);
  if (__atomic_load_n (&d->is_shutdown, __ATOMIC_RELAXED))
    {
      pthread_mutex_unlock (&d->lock);
      asyncrt_waker_free (&w);
      return false;
    }
  s->waker = w;
  s->state = ASYNCRT__SLEEP_REGISTERED;
  asyncrt__wheel_insert (&d->wheel, s);
  unpark = d->parked && s->when < d->park_deadline;
  asyncrt__driver_ref (d);
  pthread_mutex_unlock (&d->lock);
  s->driver = d;
  if (unpark)
    asyncrt__driver_unpark (d);
  return true;
}

/* true: fired (complete); false: still waiting, waker updated. */
static bool
sleep_update (AsyncrtSleep *s, const AsyncrtWaker *waker)
{
  AsyncrtDriver *d = s->driver;
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  bool fired;
  pthread_mutex_lock (&d->lock);
  fired = s->state != ASYNCRT__SLEEP_REGISTERED;
  if (!fired && !asyncrt_waker_will_wake (&s->waker, waker))
    {
      old = s->waker;
      /* Cloning under the lock: wakers never take driver locks. */
      s->waker = asyncrt_waker_clone (waker);
    }
  pthread_mutex_unlock (&d->lock);
  asyncrt_waker_free (&old);
  return fired;
}

static uint64_t
deadline_after (uint64_t ms)
{
  if (ms == 0)
    return asyncrt__clock_now_ms ();
  /* Rounded up, so that the sleep never ends before @ms have passed. */
  uint64_t now_ns = asyncrt__clock_now_ns ();
  uint64_t ceil_ms = (now_ns + 999999u) / 1000000u;
  return ms > UINT64_MAX - ceil_ms ? UINT64_MAX : ceil_ms + ms;
}

/**
 * asyncrt_time_now_ms:
 *
 * The library's clock: CLOCK_MONOTONIC in whole milliseconds (rounded down), the
 * time base of asyncrt_sleep_init_until() and asyncrt_timeout_init_until().
 *
 * Thread safety: any thread.
 *
 * Returns: the current monotonic time in milliseconds.
 * Since: 0.1
 */
uint64_t
asyncrt_time_now_ms (void)
{
  return asyncrt__clock_now_ms ();
}

/**
 * asyncrt_sleep_init:
 * @s: the sleep to initialise
 * @ms: how long to sleep, in milliseconds, from now
 *
 * Initialises a sleep that completes @ms milliseconds after this call (never
 * earlier; the deadline is rounded up to the next millisecond of
 * asyncrt_time_now_ms()).  A 0 ms sleep completes at its first poll.  Durations
 * that overflow the clock give a sleep that never completes.  The sleep registers
 * with a driver only when first polled.  Do not re-initialise a sleep that is
 * registered: use asyncrt_sleep_reset() or clear it first.
 *
 * Thread safety: the sleep's owner only.
 *
 * Since: 0.1
 */
void
asyncrt_sleep_init (AsyncrtSleep *s, uint64_t ms)
{
  asyncrt_sleep_init_until (s, deadline_after (ms));
}

/**
 * asyncrt_sleep_init_until:
 * @s: the sleep to initialise
 * @deadline_ms: the absolute deadline, in the time base of asyncrt_time_now_ms()
 *
 * Initialises a sleep that completes once asyncrt_time_now_ms() has reached
 * @deadline_ms.  A deadline in the past completes at the first poll;
 * %ASYNCRT_TIME_FOREVER never completes (until the runtime shuts down).
 *
 * Thread safety: the sleep's owner only.
 *
 * Since: 0.1
 */
void
asyncrt_sleep_init_until (AsyncrtSleep *s, uint64_t deadline_ms)
{
  if (s == NULL)
    return;
  memset (s, 0, sizeof *s);
  s->deadline = deadline_ms;
  s->state = ASYNCRT__SLEEP_IDLE;
}

/**
 * asyncrt_sleep_poll:
 * @s: an initialised sleep
 * @cx: the context of this poll
 *
 * Polls the sleep.  The first pending poll registers it with the driver of the
 * runtime running the calling thread (outside a runtime: with the process-wide
 * fallback driver, see the section introduction); later polls only update the
 * waker.  Once it has returned %ASYNCRT_READY the sleep stays ready (and holds no
 * registration) until reset.  After its runtime's driver has shut down, the sleep
 * completes at once.  A %NULL @s is ready.
 *
 * Thread safety: the sleep's owner, from one thread at a time (it may move between
 * threads between polls).
 *
 * Returns: %ASYNCRT_READY once the deadline has passed, %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
static ASYNCRT_WAIT_DESCRIBER void
describe_sleep (const AsyncrtSleep *s)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  asyncrt__wait_set (w, ASYNCRT_WAIT_SLEEP, (uintptr_t) s, NULL);
  if (s == NULL)
    return;
  /* The deadline is the owner's (we are polling it): no lock. */
  int64_t now = (int64_t) asyncrt__clock_now_ns ();
  int64_t remaining = s->deadline >= (uint64_t) INT64_MAX / 1000000
                      ? INT64_MAX : (int64_t) s->deadline * 1000000 - now;
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_REMAINING_NS, remaining);
}

AsyncrtPoll
asyncrt_sleep_poll (AsyncrtSleep *s, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_sleep (s);
      return ASYNCRT_PENDING;
    }
  if (s == NULL || s->done)
    return ASYNCRT_READY;

  bool done;
  if (s->deadline <= asyncrt__clock_now_ms ())
    done = true;
  else if (s->driver != NULL)
    done = sleep_update (s, asyncrt_context_get_waker (cx));
  else
    {
      AsyncrtDriver *d = asyncrt__driver_current_or_fallback ();
      if (ASYNCRT_UNLIKELY (d == NULL))
        {
          /* No driver could be created: poll again soon rather than hang. */
          asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));
          return ASYNCRT_PENDING;
        }
      done = !sleep_register (d, s, asyncrt_context_get_waker (cx));
    }
  if (!done)
    return ASYNCRT_PENDING;
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;
  sleep_deregister (s);
  s->done = 1;
  return ASYNCRT_READY;
}

/**
 * asyncrt_sleep_reset:
 * @s: a sleep (initialised, pending, finished or cleared)
 * @ms: the new duration from now, in milliseconds
 *
 * Gives the sleep a new deadline, @ms from now, as asyncrt_sleep_init() would,
 * dropping any registration first; the next poll registers again.
 *
 * Thread safety: the sleep's owner only.
 *
 * Since: 0.1
 */
void
asyncrt_sleep_reset (AsyncrtSleep *s, uint64_t ms)
{
  asyncrt_sleep_reset_until (s, deadline_after (ms));
}

/**
 * asyncrt_sleep_reset_until:
 * @s: a sleep (initialised, pending, finished or cleared)
 * @deadline_ms: the new absolute deadline (asyncrt_time_now_ms() time base)
 *
 * Like asyncrt_sleep_reset() with an absolute deadline.
 *
 * Thread safety: the sleep's owner only.
 *
 * Since: 0.1
 */
void
asyncrt_sleep_reset_until (AsyncrtSleep *s, uint64_t deadline_ms)
{
  if (s == NULL)
    return;
  sleep_deregister (s);
  asyncrt_sleep_init_until (s, deadline_ms);
}

/**
 * asyncrt_sleep_get_deadline:
 * @s: a sleep
 *
 * Thread safety: any thread, while the owner does not reset the sleep.
 *
 * Returns: the sleep's absolute deadline in milliseconds (asyncrt_time_now_ms()
 *   time base), or 0 for %NULL.
 * Since: 0.1
 */
uint64_t
asyncrt_sleep_get_deadline (const AsyncrtSleep *s)
{
  return s != NULL ? s->deadline : 0;
}

/**
 * asyncrt_sleep_clear:
 * @s: (nullable): a sleep
 *
 * Removes the sleep from its driver, if it is registered, and drops the stored
 * waker.  Required before freeing a sleep that was polled but did not finish;
 * harmless otherwise, and idempotent.  The sleep may be re-initialised afterwards.
 * Safe after the runtime has been freed.
 * Safe on a zero-initialised #AsyncrtSleep that was never initialised.
 *
 * Thread safety: the sleep's owner only (any thread, not concurrently with a poll).
 *
 * Since: 0.1
 */
void
asyncrt_sleep_clear (AsyncrtSleep *s)
{
  if (s == NULL)
    return;
  sleep_deregister (s);
}
