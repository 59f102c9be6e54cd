/* libasyncrt - oneshot channel
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One heap object (Oneshot) shared by the two handles, which are the same pointer
 * seen through two types.  State, all under o->lock:
 *   value_state: EMPTY -> SENT (asyncrt_oneshot_send) -> TAKEN (a receive took it)
 *   tx_alive:    1 -> 0 when the sender is consumed (send or free)
 *   rx_closed:   0 -> 1 on receiver close or free (a later send fails with -EPIPE)
 *   refs:        2 at creation; each handle drops one; the last frees the object.
 * Receive waiters are all woken (NOTIFIED) when the value arrives or the sender goes
 * away; a woken waiter re-checks the state, so a cleared waiter passes nothing on.
 */
#include "sync/sync-private.h"
#include "scheduler/coop-private.h"

enum { VALUE_EMPTY, VALUE_SENT, VALUE_TAKEN };

typedef struct
{
  AsyncrtSyncLock lock;
  AsyncrtSyncWaitList waiters;
  AsyncrtMessageFreeFunc value_free;
  void *value;
  unsigned value_state;
  bool tx_alive;
  bool rx_closed;
  unsigned refs;
  char *name;                  /* asyncrt_oneshot_receiver_set_name(), or NULL */
} Oneshot;

static inline Oneshot *from_tx (AsyncrtOneshotSender *tx) { return (Oneshot *) (void *) tx; }
static inline Oneshot *from_rx (AsyncrtOneshotReceiver *rx) { return (Oneshot *) (void *) rx; }

/* Called with the lock held; unlocks; frees @o if this was the last reference. */
static void
unref_unlock (Oneshot *o)
{
  bool last = --o->refs == 0;
  asyncrt__sync_unlock (&o->lock);
  if (last)
    {
      asyncrt__sync_lock_destroy (&o->lock);
      g_free (o->name);
      g_free (o);
    }
}

/**
 * asyncrt_oneshot_new:
 * @value_free: (nullable): frees a value that was sent but never received
 * @ret_tx: (out): the sender
 * @ret_rx: (out): the receiver
 *
 * Creates a channel that carries one `void *` value from @ret_tx to @ret_rx.
 *
 * Thread safety: any thread; the two handles may then be used on different threads.
 *
 * Returns: 0, or -EINVAL if @ret_tx or @ret_rx is %NULL.
 * Since: 0.1
 */
int
asyncrt_oneshot_new (AsyncrtMessageFreeFunc value_free,
                     AsyncrtOneshotSender **ret_tx, AsyncrtOneshotReceiver **ret_rx)
{
  if (ret_tx == NULL || ret_rx == NULL)
    return -EINVAL;
  Oneshot *o = g_new0 (Oneshot, 1);
  asyncrt__sync_lock_init (&o->lock);
  asyncrt__wait_list_init (&o->waiters);
  o->value_free = value_free;
  o->tx_alive = true;
  o->refs = 2;
  *ret_tx = (AsyncrtOneshotSender *) (void *) o;
  *ret_rx = (AsyncrtOneshotReceiver *) (void *) o;
  return 0;
}

static int
sender_finish (Oneshot *o, bool send, void *value)
{
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  int ret = 0;
  asyncrt__sync_lock (&o->lock);
  if (send)
    {
      if (o->rx_closed)
        ret = -EPIPE;
      else
        {
          o->value = value;
          o->value_state = VALUE_SENT;
        }
    }
  o->tx_alive = false;
  asyncrt__wait_list_grant_all (&o->waiters, ASYNCRT__WAITER_NOTIFIED, &wl);
  unref_unlock (o);
  asyncrt__wake_list_wake_all (&wl);
  return ret;
}

/**
 * asyncrt_oneshot_send:
 * @tx: (transfer full): the sender; consumed in every case
 * @value: the value; the channel owns it if this returns 0
 *
 * Sends the value and wakes the receiver.
 *
 * Thread safety: any thread.
 *
 * Returns: 0; -EPIPE if the receiver was closed or freed (the caller keeps @value);
 *   -EINVAL if @tx is %NULL.
 * Since: 0.1
 */
int
asyncrt_oneshot_send (AsyncrtOneshotSender *tx, void *value)
{
  if (tx == NULL)
    return -EINVAL;
  return sender_finish (from_tx (tx), true, value);
}

/**
 * asyncrt_oneshot_sender_free:
 * @tx: (nullable) (transfer full): a sender
 *
 * Drops the sender without sending: the receiver then sees -EPIPE.  %NULL is
 * ignored.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_oneshot_sender_free (AsyncrtOneshotSender *tx)
{
  if (tx == NULL)
    return;
  sender_finish (from_tx (tx), false, NULL);
}

/**
 * asyncrt_oneshot_sender_is_closed:
 * @tx: a sender
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if the receiver was closed or freed (or @tx is %NULL), so sending
 *   would fail.
 * Since: 0.1
 */
bool
asyncrt_oneshot_sender_is_closed (AsyncrtOneshotSender *tx)
{
  if (tx == NULL)
    return true;
  Oneshot *o = from_tx (tx);
  asyncrt__sync_lock (&o->lock);
  bool c = o->rx_closed;
  asyncrt__sync_unlock (&o->lock);
  return c;
}

/* Under the lock: 0 (value taken into *value), -EPIPE, or -EAGAIN. */
static int
take_locked (Oneshot *o, void **value)
{
  if (o->value_state == VALUE_SENT)
    {
      *value = o->value;
      o->value = NULL;
      o->value_state = VALUE_TAKEN;
      return 0;
    }
  if (o->value_state == VALUE_TAKEN || !o->tx_alive)
    return -EPIPE;
  return -EAGAIN;
}

/**
 * asyncrt_oneshot_try_recv:
 * @rx: the receiver
 * @ret_value: (out): the value, owned by the caller, on success
 *
 * Takes the value if it has been sent.
 *
 * Thread safety: any thread.
 *
 * Returns: 0; -EAGAIN if nothing was sent yet; -EPIPE if the sender was dropped
 *   without sending or the value was already received; -EINVAL for %NULL arguments.
 * Since: 0.1
 */
int
asyncrt_oneshot_try_recv (AsyncrtOneshotReceiver *rx, void **ret_value)
{
  if (rx == NULL || ret_value == NULL)
    return -EINVAL;
  Oneshot *o = from_rx (rx);
  void *v = NULL;
  asyncrt__sync_lock (&o->lock);
  int r = take_locked (o, &v);
  asyncrt__sync_unlock (&o->lock);
  if (r == 0)
    *ret_value = v;
  return r;
}

/**
 * asyncrt_oneshot_receiver_close:
 * @rx: the receiver
 *
 * Refuses any later send (it fails with -EPIPE).  A value sent before still can be
 * received.  %NULL is ignored.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_oneshot_receiver_close (AsyncrtOneshotReceiver *rx)
{
  if (rx == NULL)
    return;
  Oneshot *o = from_rx (rx);
  asyncrt__sync_lock (&o->lock);
  o->rx_closed = true;
  asyncrt__sync_unlock (&o->lock);
}

/**
 * asyncrt_oneshot_receiver_free:
 * @rx: (nullable) (transfer full): the receiver
 *
 * Closes and drops the receiver; a value sent but not received is freed with the
 * channel's value free function.  No receive future may still use @rx.  %NULL is
 * ignored.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_oneshot_receiver_free (AsyncrtOneshotReceiver *rx)
{
  if (rx == NULL)
    return;
  Oneshot *o = from_rx (rx);
  AsyncrtMessageFreeFunc value_free = o->value_free;
  void *v = NULL;
  asyncrt__sync_lock (&o->lock);
  o->rx_closed = true;
  bool had = take_locked (o, &v) == 0;
  unref_unlock (o);
  if (had && value_free != NULL)
    value_free (v);
}

/**
 * asyncrt_oneshot_receiver_set_name:
 * @rx: the receiver
 * @name: (nullable): the channel's name, copied; %NULL removes it
 *
 * Names the channel for task dumps: a task waiting for its value then shows
 * `waits for oneshot "NAME"`, and the JSON form and asyncrt_wait_get_object_name()
 * carry the name.  The name may hold anything (it is escaped wherever it is shown);
 * it goes with the channel.
 *
 * Thread safety: any thread.
 *
 * Returns: 0, or -EINVAL if @rx is %NULL.
 * Since: 0.2
 */
int
asyncrt_oneshot_receiver_set_name (AsyncrtOneshotReceiver *rx, const char *name)
{
  if (rx == NULL)
    return -EINVAL;
  Oneshot *o = from_rx (rx);
  asyncrt__sync_set_name (&o->lock, &o->name, name);
  return 0;
}

static ASYNCRT_WAIT_DESCRIBER void
describe_recv (AsyncrtOneshotRecv *r)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  if (r == NULL || r->rx == NULL)
    {
      asyncrt__wait_set (w, ASYNCRT_WAIT_ONESHOT, 0, NULL);
      return;
    }
  Oneshot *o = from_rx (r->rx);
  asyncrt__sync_lock (&o->lock);
  asyncrt__wait_set (w, ASYNCRT_WAIT_ONESHOT, (uintptr_t) o, o->name);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_SENDERS, o->tx_alive);
  asyncrt__waiter_describe (&r->waiter, w);
  if (o->value_state == VALUE_SENT)
    asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_READY, 1);
  asyncrt__sync_unlock (&o->lock);
}

/**
 * asyncrt_oneshot_recv_init:
 * @r: the future to initialise
 * @rx: the receiver; it must outlive @r until asyncrt_oneshot_recv_clear()
 *
 * Prepares to receive the value.
 *
 * Thread safety: any thread; @r itself is used by one thread at a time.
 *
 * Since: 0.1
 */
void
asyncrt_oneshot_recv_init (AsyncrtOneshotRecv *r, AsyncrtOneshotReceiver *rx)
{
  if (r == NULL)
    return;
  memset (r, 0, sizeof *r);
  r->rx = rx;
  asyncrt__waiter_reset (&r->waiter);
  r->result = -EINPROGRESS;
}

/**
 * asyncrt_oneshot_recv_poll:
 * @r: an initialised receive future
 * @cx: the context of this poll
 *
 * Waits for the value, or for the sender to go away.  Read the outcome with
 * asyncrt_oneshot_recv_result().  A %NULL @r is ready at once.
 *
 * Thread safety: the thread polling the future; the sender may be used from any
 * thread meanwhile.
 *
 * Returns: %ASYNCRT_READY when finished, %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_oneshot_recv_poll (AsyncrtOneshotRecv *r, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_recv (r);
      return ASYNCRT_PENDING;
    }
  if (r == NULL || r->waiter.owner_state == ASYNCRT__OWNER_DONE)
    return ASYNCRT_READY;
  if (r->rx == NULL)
    {
      r->result = -EINVAL;
      r->waiter.owner_state = ASYNCRT__OWNER_DONE;
      return ASYNCRT_READY;
    }
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;

  Oneshot *o = from_rx (r->rx);
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  asyncrt__sync_lock (&o->lock);
  int res = take_locked (o, &r->value);
  bool queued = r->waiter.owner_state == ASYNCRT__OWNER_QUEUED;
  if (res != -EAGAIN)
    {
      if (queued && r->waiter.state == ASYNCRT__WAITER_WAITING)
        asyncrt__wait_list_remove (&o->waiters, &r->waiter);
      r->result = res;
      r->waiter.owner_state = ASYNCRT__OWNER_DONE;
      old = r->waiter.waker;
      r->waiter.waker.vtable = NULL;
      r->waiter.waker.data = NULL;
    }
  else if (!queued)
    asyncrt__waiter_enqueue (&o->waiters, &r->waiter, cx);
  else if (r->waiter.state == ASYNCRT__WAITER_WAITING)
    asyncrt__waiter_update_waker (&r->waiter, cx, &old);
  else
    {
      /* Woken, but nothing to take (cannot happen with one receiver): wait again. */
      old = r->waiter.waker;
      asyncrt__waiter_enqueue (&o->waiters, &r->waiter, cx);
    }
  asyncrt__sync_unlock (&o->lock);
  asyncrt_waker_free (&old);
  return res != -EAGAIN ? ASYNCRT_READY : ASYNCRT_PENDING;
}

/**
 * asyncrt_oneshot_recv_result:
 * @r: a finished receive future
 * @ret_value: (out) (optional): the value, now owned by the caller
 *
 * The outcome of a finished receive.  On the first successful call the value moves
 * to the caller; if it is never collected, asyncrt_oneshot_recv_clear() frees it with
 * the channel's value free function.
 *
 * Thread safety: the thread that owns @r.
 *
 * Returns: 0 with the value; -EPIPE if the sender was dropped without sending;
 *   -ENOMSG if the value was already collected from @r; -EINPROGRESS before the
 *   future finished; -EINVAL for a %NULL @r or receiver.
 * Since: 0.1
 */
int
asyncrt_oneshot_recv_result (AsyncrtOneshotRecv *r, void **ret_value)
{
  if (r == NULL)
    return -EINVAL;
  int res = r->result;
  if (res == 0)
    {
      if (ret_value != NULL)
        *ret_value = r->value;
      r->value = NULL;
      r->result = -ENOMSG;
    }
  return res;
}

/**
 * asyncrt_oneshot_recv_clear:
 * @r: (nullable): a receive future
 *
 * Stops waiting; a value the future took but that was not collected with
 * asyncrt_oneshot_recv_result() is freed with the channel's value free function.
 * Afterwards @r must be initialised again before use.  %NULL is ignored.
 * Safe on a zero-initialised #AsyncrtOneshotRecv that was never initialised, and again
 * on a cleared one.
 *
 * Thread safety: any thread, but not while @r is being polled.
 *
 * Since: 0.1
 */
void
asyncrt_oneshot_recv_clear (AsyncrtOneshotRecv *r)
{
  if (r == NULL)
    return;
  /* The waker of a queued waiter is read under the lock only (granters move it). */
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  if (r->rx != NULL)
    {
      Oneshot *o = from_rx (r->rx);
      if (r->waiter.owner_state == ASYNCRT__OWNER_QUEUED)
        {
          asyncrt__sync_lock (&o->lock);
          old = r->waiter.waker;
          if (r->waiter.state == ASYNCRT__WAITER_WAITING)
            asyncrt__wait_list_remove (&o->waiters, &r->waiter);
          asyncrt__sync_unlock (&o->lock);
        }
      if (r->result == 0 && o->value_free != NULL)
        o->value_free (r->value);
    }
  asyncrt__waiter_reset (&r->waiter);
  r->rx = NULL;
  r->value = NULL;
  r->result = -EINVAL;
  asyncrt_waker_free (&old);
}
