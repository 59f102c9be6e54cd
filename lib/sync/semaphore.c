/* libasyncrt - AsyncrtSemaphore (and the core of AsyncrtMutex)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * State (see sync-private.h for the waiter protocol):
 * - s->lock guards s->permits (free permits), s->closed and s->waiters.
 * - Fair FIFO: a waiter is granted only from the head of the list, and only when
 *   its whole request fits; a later, smaller request never overtakes it.  An
 *   acquire completes at once only when nobody waits.
 * - Waiter states: WAITING -> GRANTED (its n permits were taken out of s->permits
 *   for it) or CLOSED.  Clearing a GRANTED waiter that has not returned READY
 *   releases its permits again, which grants the next waiters.
 * - Invariant, under the lock: the list is empty, or its head asks for more than
 *   s->permits (so waiters never sit next to enough free permits).
 */
#include "sync/sync-private.h"
#include "scheduler/coop-private.h"

/**
 * asyncrt_semaphore_init:
 * @s: the semaphore to initialise
 * @permits: the number of permits it starts with
 *
 * Initialises a semaphore holding @permits permits.
 *
 * Thread safety: @s must not be in use by any other thread.
 *
 * Returns: 0, or -EINVAL if @s is %NULL or @permits exceeds
 *   %ASYNCRT_SEMAPHORE_MAX_PERMITS (then @s is left untouched).
 * Since: 0.1
 */
int
asyncrt_semaphore_init (AsyncrtSemaphore *s, size_t permits)
{
  if (s == NULL || permits > ASYNCRT_SEMAPHORE_MAX_PERMITS)
    return -EINVAL;
  memset (s, 0, sizeof *s);
  asyncrt__sync_lock_init (&s->lock);
  asyncrt__wait_list_init (&s->waiters);
  s->permits = permits;
  return 0;
}

/**
 * asyncrt_semaphore_clear:
 * @s: (nullable): a semaphore
 *
 * Releases the resources of @s.  No acquire may still be waiting on it.  %NULL is
 * ignored.
 * Safe on a zero-initialised #AsyncrtSemaphore that was never initialised, and again on
 * a cleared one.
 *
 * Thread safety: once no other thread uses @s.
 *
 * Since: 0.1
 */
void
asyncrt_semaphore_clear (AsyncrtSemaphore *s)
{
  if (s == NULL)
    return;
  g_return_if_fail (asyncrt__wait_list_is_empty (&s->waiters));
  asyncrt__sync_lock_destroy (&s->lock);
}

/**
 * asyncrt_semaphore_get_available_permits:
 * @s: a semaphore
 *
 * Thread safety: any thread; the answer may be stale at once.
 *
 * Returns: the number of free permits (0 for %NULL).
 * Since: 0.1
 */
size_t
asyncrt_semaphore_get_available_permits (AsyncrtSemaphore *s)
{
  if (s == NULL)
    return 0;
  asyncrt__sync_lock (&s->lock);
  size_t p = s->permits;
  asyncrt__sync_unlock (&s->lock);
  return p;
}

/* Under the lock: hand free permits to the head waiters while they fit. */
static void
grant_waiters (AsyncrtSemaphore *s, AsyncrtWakeList *wl)
{
  while (s->waiters.head != NULL && s->waiters.head->n <= s->permits)
    {
      s->permits -= s->waiters.head->n;
      asyncrt__wait_list_grant_one (&s->waiters, ASYNCRT__WAITER_GRANTED, wl);
    }
}

int
asyncrt__semaphore_release (AsyncrtSemaphore *s, size_t n, AsyncrtReleaseMode mode)
{
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  int ret = 0;

  asyncrt__sync_lock (&s->lock);
  if (mode == ASYNCRT__RELEASE_IF_HELD && s->permits != 0)
    ret = -EPERM;
  else if (n > ASYNCRT_SEMAPHORE_MAX_PERMITS - s->permits)
    ret = -EOVERFLOW;
  else
    {
      s->permits += n;
      grant_waiters (s, &wl);
    }
  asyncrt__sync_unlock (&s->lock);

  asyncrt__wake_list_wake_all (&wl);
  return ret;
}

/**
 * asyncrt_semaphore_release:
 * @s: a semaphore
 * @n: the number of permits to add
 *
 * Adds @n permits (returning acquired ones, or growing the semaphore) and hands them
 * to waiting acquires in FIFO order.  Works on a closed semaphore too.
 *
 * Thread safety: any thread.
 *
 * Returns: 0; -EINVAL if @s is %NULL; -EOVERFLOW if the semaphore would hold more
 *   than %ASYNCRT_SEMAPHORE_MAX_PERMITS free permits (nothing is added).
 * Since: 0.1
 */
int
asyncrt_semaphore_release (AsyncrtSemaphore *s, size_t n)
{
  if (s == NULL)
    return -EINVAL;
  return asyncrt__semaphore_release (s, n, ASYNCRT__RELEASE_ANY);
}

/**
 * asyncrt_semaphore_try_acquire:
 * @s: a semaphore
 * @n: the number of permits wanted
 *
 * Takes @n permits if they are free and no acquire is waiting (waiters are served
 * first).  Release them with asyncrt_semaphore_release().
 *
 * Thread safety: any thread.
 *
 * Returns: 0 when acquired; -EAGAIN if not available now; -ESHUTDOWN if @s is
 *   closed; -EINVAL if @s is %NULL or @n exceeds %ASYNCRT_SEMAPHORE_MAX_PERMITS.
 * Since: 0.1
 */
int
asyncrt_semaphore_try_acquire (AsyncrtSemaphore *s, size_t n)
{
  if (s == NULL || n > ASYNCRT_SEMAPHORE_MAX_PERMITS)
    return -EINVAL;
  int ret;
  asyncrt__sync_lock (&s->lock);
  if (s->closed)
    ret = -ESHUTDOWN;
  else if (asyncrt__wait_list_is_empty (&s->waiters) && s->permits >= n)
    {
      s->permits -= n;
      ret = 0;
    }
  else
    ret = -EAGAIN;
  asyncrt__sync_unlock (&s->lock);
  return ret;
}

/**
 * asyncrt_semaphore_close:
 * @s: a semaphore
 *
 * Closes @s: every waiting acquire completes with -ESHUTDOWN, and so does every later
 * acquire or try-acquire.  Permits already acquired stay valid and may be released.
 * %NULL is ignored.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_semaphore_close (AsyncrtSemaphore *s)
{
  if (s == NULL)
    return;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  asyncrt__sync_lock (&s->lock);
  s->closed = 1;
  asyncrt__wait_list_grant_all (&s->waiters, ASYNCRT__WAITER_CLOSED, &wl);
  asyncrt__sync_unlock (&s->lock);
  asyncrt__wake_list_wake_all (&wl);
}

/**
 * asyncrt_semaphore_is_closed:
 * @s: a semaphore
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if asyncrt_semaphore_close() was called (or @s is %NULL).
 * Since: 0.1
 */
bool
asyncrt_semaphore_is_closed (AsyncrtSemaphore *s)
{
  if (s == NULL)
    return true;
  asyncrt__sync_lock (&s->lock);
  bool c = s->closed != 0;
  asyncrt__sync_unlock (&s->lock);
  return c;
}

/**
 * asyncrt_semaphore_acquire_init:
 * @a: the future to initialise
 * @s: the semaphore; it must outlive @a until asyncrt_semaphore_acquire_clear()
 * @n: the number of permits to acquire (0 completes at once)
 *
 * Prepares to acquire @n permits of @s.  Bad arguments are reported by the first
 * poll (see asyncrt_semaphore_acquire_result()).
 *
 * Thread safety: any thread; @a itself is used by one thread at a time.
 *
 * Since: 0.1
 */
void
asyncrt_semaphore_acquire_init (AsyncrtSemaphoreAcquire *a, AsyncrtSemaphore *s, size_t n)
{
  if (a == NULL)
    return;
  memset (a, 0, sizeof *a);
  a->sem = s;
  asyncrt__waiter_reset (&a->waiter);
  a->waiter.n = n;
  a->result = -EINPROGRESS;
}

AsyncrtPoll
asyncrt__semaphore_acquire_poll (AsyncrtSemaphoreAcquire *a, AsyncrtContext *cx)
{
  if (a->waiter.owner_state == ASYNCRT__OWNER_DONE)
    return ASYNCRT_READY;
  AsyncrtSemaphore *s = a->sem;
  if (s == NULL || a->waiter.n > ASYNCRT_SEMAPHORE_MAX_PERMITS)
    {
      a->result = -EINVAL;
      a->waiter.owner_state = ASYNCRT__OWNER_DONE;
      return ASYNCRT_READY;
    }
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;

  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  int result = -EINPROGRESS;

  asyncrt__sync_lock (&s->lock);
  if (a->waiter.owner_state == ASYNCRT__OWNER_IDLE)
    {
      if (s->closed)
        result = -ESHUTDOWN;
      else if (asyncrt__wait_list_is_empty (&s->waiters) && s->permits >= a->waiter.n)
        {
          s->permits -= a->waiter.n;
          result = 0;
        }
      else
        asyncrt__waiter_enqueue (&s->waiters, &a->waiter, cx);
    }
  else
    {
      switch (a->waiter.state)
        {
        case ASYNCRT__WAITER_WAITING:
          asyncrt__waiter_update_waker (&a->waiter, cx, &old);
          break;
        case ASYNCRT__WAITER_GRANTED:
          result = 0;
          break;
        default:
          result = -ESHUTDOWN;
          break;
        }
    }
  if (result != -EINPROGRESS)
    {
      a->result = result;
      a->waiter.owner_state = ASYNCRT__OWNER_DONE;
      old = a->waiter.waker;
      a->waiter.waker.vtable = NULL;
      a->waiter.waker.data = NULL;
    }
  asyncrt__sync_unlock (&s->lock);

  asyncrt_waker_free (&old);
  return result != -EINPROGRESS ? ASYNCRT_READY : ASYNCRT_PENDING;
}

/**
 * asyncrt_semaphore_acquire_poll:
 * @a: an initialised acquire future
 * @cx: the context of this poll
 *
 * Waits until the permits are acquired (in FIFO order with other waiters), or the
 * semaphore is closed.  Read the outcome with asyncrt_semaphore_acquire_result().
 * A %NULL @a is ready at once.
 *
 * Thread safety: the thread polling the future; the semaphore may be used from any
 * thread meanwhile.
 *
 * Returns: %ASYNCRT_READY when finished, %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_semaphore_acquire_poll (AsyncrtSemaphoreAcquire *a, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  if (a == NULL)
    return ASYNCRT_READY;
  return asyncrt__semaphore_acquire_poll (a, cx);
}

/**
 * asyncrt_semaphore_acquire_result:
 * @a: an acquire future
 *
 * The outcome of a finished acquire.  On 0 the caller owns the permits and returns
 * them with asyncrt_semaphore_release(); clearing @a does not release them.
 *
 * Thread safety: the thread that owns @a.
 *
 * Returns: 0 when acquired; -ESHUTDOWN if the semaphore was closed; -EINVAL for a
 *   %NULL @a or semaphore, or more than %ASYNCRT_SEMAPHORE_MAX_PERMITS asked;
 *   -EINPROGRESS before the future finished.
 * Since: 0.1
 */
int
asyncrt_semaphore_acquire_result (const AsyncrtSemaphoreAcquire *a)
{
  if (a == NULL)
    return -EINVAL;
  return a->result;
}

/**
 * asyncrt_semaphore_acquire_clear:
 * @a: (nullable): an acquire future
 *
 * Stops waiting.  Permits that were already granted to @a but not yet reported by a
 * %ASYNCRT_READY poll are released again (and go to the next waiters), so none is
 * lost; permits acquired by a finished poll stay the caller's.  Afterwards @a must be
 * initialised again before use.  %NULL is ignored.
 * Safe on a zero-initialised #AsyncrtSemaphoreAcquire that was never initialised, and
 * again on a cleared one.
 *
 * Thread safety: any thread, but not while @a is being polled.
 *
 * Since: 0.1
 */
void
asyncrt_semaphore_acquire_clear (AsyncrtSemaphoreAcquire *a)
{
  if (a == NULL)
    return;
  AsyncrtSemaphore *s = a->sem;
  /* The waker of a queued waiter is read under the lock only (granters move it). */
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);

  if (s != NULL && a->waiter.owner_state == ASYNCRT__OWNER_QUEUED)
    {
      asyncrt__sync_lock (&s->lock);
      old = a->waiter.waker;
      if (a->waiter.state == ASYNCRT__WAITER_WAITING)
        {
          bool was_head = s->waiters.head == &a->waiter;
          asyncrt__wait_list_remove (&s->waiters, &a->waiter);
          /* A large request at the head may have held smaller ones back. */
          if (was_head)
            grant_waiters (s, &wl);
        }
      else if (a->waiter.state == ASYNCRT__WAITER_GRANTED)
        {
          s->permits += a->waiter.n;
          grant_waiters (s, &wl);
        }
      asyncrt__sync_unlock (&s->lock);
    }

  asyncrt__waiter_reset (&a->waiter);
  a->sem = NULL;
  a->result = -EINVAL;
  asyncrt_waker_free (&old);
  asyncrt__wake_list_wake_all (&wl);
}
