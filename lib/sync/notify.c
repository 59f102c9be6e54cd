/* libasyncrt - AsyncrtNotify
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * State (see sync-private.h for the waiter protocol):
 * - n->lock guards n->waiters and n->permit (0 or 1: a notify_one nobody was
 *   waiting for).
 * - n->generation counts notify_waiters() calls.  It is written under the lock with
 *   release order and read by asyncrt_notified_init() without the lock (acquire), so
 *   a future created before a notify_waiters() call (in happens-before order) sees
 *   the old value and completes, as in Tokio.
 * - Waiter states: WAITING -> NOTIFIED (by notify_one: the notification is passed
 *   on if the future is cleared before it returns READY) or NOTIFIED_ALL (by
 *   notify_waiters: nothing to pass on).
 * - The name (asyncrt_notify_set_name) lives in reserved[0], under the lock.
 */
#include "sync/sync-private.h"
#include "scheduler/coop-private.h"

/**
 * asyncrt_notify_init:
 * @n: the notify to initialise
 *
 * Initialises an #AsyncrtNotify with no stored permit and no waiters.  %NULL is
 * ignored.
 *
 * Thread safety: @n must not be in use by any other thread.
 *
 * Since: 0.1
 */
void
asyncrt_notify_init (AsyncrtNotify *n)
{
  if (n == NULL)
    return;
  memset (n, 0, sizeof *n);
  asyncrt__sync_lock_init (&n->lock);
  asyncrt__wait_list_init (&n->waiters);
}

/**
 * asyncrt_notify_clear:
 * @n: (nullable): a notify
 *
 * Releases the resources of @n.  No #AsyncrtNotified may still be waiting on it
 * (clear them first).  %NULL is ignored.
 * Safe on a zero-initialised #AsyncrtNotify that was never initialised, and again on a
 * cleared one.
 *
 * Thread safety: once no other thread uses @n.
 *
 * Since: 0.1
 */
void
asyncrt_notify_clear (AsyncrtNotify *n)
{
  if (n == NULL)
    return;
  g_return_if_fail (asyncrt__wait_list_is_empty (&n->waiters));
  g_free (n->reserved[0]);
  n->reserved[0] = NULL;
  asyncrt__sync_lock_destroy (&n->lock);
}

/**
 * asyncrt_notify_set_name:
 * @n: an initialised notify
 * @name: (nullable): its name, copied; %NULL removes it
 *
 * Names the notify for task dumps: a task waiting for it then shows
 * `waits for notify "NAME"`, and the JSON form and asyncrt_wait_get_object_name()
 * carry the name.  The name may hold anything (it is escaped wherever it is shown);
 * it is freed by asyncrt_notify_clear().  Call it after asyncrt_notify_init(), which
 * forgets any name.
 *
 * Thread safety: any thread, also while tasks wait on @n.
 *
 * Returns: 0, or -EINVAL if @n is %NULL.
 * Since: 0.2
 */
int
asyncrt_notify_set_name (AsyncrtNotify *n, const char *name)
{
  if (n == NULL)
    return -EINVAL;
  char *copy = g_strdup (name);
  asyncrt__sync_lock (&n->lock);
  void *old = n->reserved[0];
  n->reserved[0] = copy;
  asyncrt__sync_unlock (&n->lock);
  g_free (old);
  return 0;
}

/**
 * asyncrt_notify_notify_one:
 * @n: a notify
 *
 * Wakes the longest-waiting #AsyncrtNotified.  If none is waiting, stores one permit
 * (at most one) so that the next wait completes at once.  %NULL is ignored.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_notify_notify_one (AsyncrtNotify *n)
{
  if (n == NULL)
    return;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  asyncrt__sync_lock (&n->lock);
  if (asyncrt__wait_list_grant_one (&n->waiters, ASYNCRT__WAITER_NOTIFIED, &wl) == NULL)
    n->permit = 1;
  asyncrt__sync_unlock (&n->lock);
  asyncrt__wake_list_wake_all (&wl);
}

/**
 * asyncrt_notify_notify_waiters:
 * @n: a notify
 *
 * Wakes every #AsyncrtNotified waiting now, and every one initialised before this
 * call even if it has not been polled yet.  Stores no permit.  %NULL is ignored.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_notify_notify_waiters (AsyncrtNotify *n)
{
  if (n == NULL)
    return;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  asyncrt__sync_lock (&n->lock);
  __atomic_store_n (&n->generation, n->generation + 1, __ATOMIC_RELEASE);
  asyncrt__wait_list_grant_all (&n->waiters, ASYNCRT__WAITER_NOTIFIED_ALL, &wl);
  asyncrt__sync_unlock (&n->lock);
  asyncrt__wake_list_wake_all (&wl);
}

/**
 * asyncrt_notified_init:
 * @w: the future to initialise
 * @n: the notify to wait on; it must outlive @w until asyncrt_notified_clear()
 *
 * Prepares a wait for a notification of @n.  From this call on, @w will complete
 * after asyncrt_notify_notify_waiters(), even before its first poll.  A %NULL @n
 * makes @w complete at once.
 *
 * Thread safety: any thread; @w itself is used by one thread at a time.
 *
 * Since: 0.1
 */
void
asyncrt_notified_init (AsyncrtNotified *w, AsyncrtNotify *n)
{
  if (w == NULL)
    return;
  memset (w, 0, sizeof *w);
  w->notify = n;
  asyncrt__waiter_reset (&w->waiter);
  if (n != NULL)
    w->generation = __atomic_load_n (&n->generation, __ATOMIC_ACQUIRE);
}

/**
 * asyncrt_notified_poll:
 * @w: an initialised #AsyncrtNotified
 * @cx: the context of this poll
 *
 * Waits for a notification: completes when a stored permit is consumed, when
 * asyncrt_notify_notify_one() picks this waiter, or after
 * asyncrt_notify_notify_waiters().  Once it returned %ASYNCRT_READY it keeps
 * returning it.  A %NULL @w or a @w initialised with a %NULL notify is ready at once.
 *
 * Thread safety: the thread polling the future; @n may be notified from any thread.
 *
 * Returns: %ASYNCRT_READY when notified, %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
static ASYNCRT_WAIT_DESCRIBER void
describe_notified (AsyncrtNotified *w)
{
  AsyncrtWait *wait = asyncrt__trace_leaf_wait ();
  if (wait == NULL)
    return;
  AsyncrtNotify *n = w != NULL ? w->notify : NULL;
  if (n == NULL)
    {
      asyncrt__wait_set (wait, ASYNCRT_WAIT_NOTIFY, 0, NULL);
      return;
    }
  asyncrt__sync_lock (&n->lock);
  asyncrt__wait_set (wait, ASYNCRT_WAIT_NOTIFY, (uintptr_t) n, n->reserved[0]);
  asyncrt__waiter_describe (&w->waiter, wait);
  asyncrt__sync_unlock (&n->lock);
}

AsyncrtPoll
asyncrt_notified_poll (AsyncrtNotified *w, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_notified (w);
      return ASYNCRT_PENDING;
    }
  if (w == NULL || w->notify == NULL || w->waiter.owner_state == ASYNCRT__OWNER_DONE)
    return ASYNCRT_READY;
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;

  AsyncrtNotify *n = w->notify;
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  AsyncrtPoll ret = ASYNCRT_PENDING;

  asyncrt__sync_lock (&n->lock);
  if (w->waiter.owner_state == ASYNCRT__OWNER_IDLE)
    {
      if (n->generation != w->generation)
        ret = ASYNCRT_READY;
      else if (n->permit)
        {
          n->permit = 0;
          ret = ASYNCRT_READY;
        }
      else
        asyncrt__waiter_enqueue (&n->waiters, &w->waiter, cx);
    }
  else if (w->waiter.state == ASYNCRT__WAITER_WAITING)
    asyncrt__waiter_update_waker (&w->waiter, cx, &old);
  else
    ret = ASYNCRT_READY;     /* NOTIFIED or NOTIFIED_ALL: already unlinked */
  if (ret == ASYNCRT_READY)
    {
      w->waiter.owner_state = ASYNCRT__OWNER_DONE;
      old = w->waiter.waker;
      w->waiter.waker.vtable = NULL;
      w->waiter.waker.data = NULL;
    }
  asyncrt__sync_unlock (&n->lock);

  asyncrt_waker_free (&old);
  return ret;
}

/**
 * asyncrt_notified_clear:
 * @w: (nullable): an #AsyncrtNotified
 *
 * Stops waiting.  If asyncrt_notify_notify_one() had already picked @w but @w had
 * not yet returned %ASYNCRT_READY, the notification passes on to the next waiter (or
 * is stored as the permit), so it is never lost.  Afterwards @w must be initialised
 * again before use.  %NULL is ignored.
 * Safe on a zero-initialised #AsyncrtNotified that was never initialised, and again on
 * a cleared one.
 *
 * Thread safety: any thread, but not while @w is being polled.
 *
 * Since: 0.1
 */
void
asyncrt_notified_clear (AsyncrtNotified *w)
{
  if (w == NULL)
    return;
  AsyncrtNotify *n = w->notify;
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);

  if (n != NULL && w->waiter.owner_state == ASYNCRT__OWNER_QUEUED)
    {
      asyncrt__sync_lock (&n->lock);
      if (w->waiter.state == ASYNCRT__WAITER_WAITING)
        asyncrt__wait_list_remove (&n->waiters, &w->waiter);
      else if (w->waiter.state == ASYNCRT__WAITER_NOTIFIED)
        {
          /* Pass the notify_one notification on. */
          if (asyncrt__wait_list_grant_one (&n->waiters, ASYNCRT__WAITER_NOTIFIED, &wl) == NULL)
            n->permit = 1;
        }
      old = w->waiter.waker;
      asyncrt__sync_unlock (&n->lock);
    }
  else
    old = w->waiter.waker;

  asyncrt__waiter_reset (&w->waiter);
  w->notify = NULL;
  asyncrt_waker_free (&old);
  asyncrt__wake_list_wake_all (&wl);
}
