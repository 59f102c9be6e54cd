/* libasyncrt - multi-producer single-consumer channel, bounded or unbounded
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One heap object (Chan) plus one small handle per sender and one receiver handle.
 * Everything below is guarded by c->lock:
 *   ring (buf, buf_cap, head, len): the queued messages, a power-of-two ring that
 *     grows on demand (for a bounded channel never beyond the capacity).
 *   reserved: slots of a bounded channel granted to send waiters that have not yet
 *     polled to push their message.  Invariant: len + reserved <= capacity, and send
 *     waiters exist only while len + reserved == capacity.
 *   senders: live sender handles; 0 means no more messages can come.
 *   closed: set by receiver close/free; sends fail with -EPIPE from then on.
 *   refs: live handles (senders + receiver); the last one frees the channel and the
 *     messages still queued (with msg_free).
 * Send waiters: WAITING -> GRANTED (a slot reserved for them) or CLOSED.  Clearing a
 * GRANTED sender returns its reservation, which goes to the next send waiter.
 * Receive waiters: WAITING -> NOTIFIED, one per pushed message (all on end of
 * stream).  Clearing a NOTIFIED receive future while messages remain passes the
 * wake-up on to the next receive waiter.  Messages stay in the ring until a poll
 * takes them, so a cleared receive future never loses one.
 */
#include "sync/sync-private.h"
#include "scheduler/coop-private.h"

typedef struct
{
  AsyncrtSyncLock lock;
  AsyncrtSyncWaitList send_waiters;
  AsyncrtSyncWaitList recv_waiters;
  AsyncrtMessageFreeFunc msg_free;
  size_t capacity;                      /* 0: unbounded */
  void **buf;
  size_t buf_cap;
  size_t head;
  size_t len;
  size_t reserved;
  size_t senders;
  size_t refs;
  bool closed;
  char *name;                           /* asyncrt_mpsc_receiver_set_name(), or NULL */
} Chan;

struct _AsyncrtMpscSender { Chan *chan; };
struct _AsyncrtMpscReceiver { Chan *chan; };

/* --- ring, under the lock --------------------------------------------------------- */

static void
ring_push (Chan *c, void *msg)
{
  if (c->len == c->buf_cap)
    {
      size_t ncap = c->buf_cap ? c->buf_cap * 2 : 16;
      void **nbuf = g_new (void *, ncap);
      for (size_t i = 0; i < c->len; i++)
        nbuf[i] = c->buf[(c->head + i) & (c->buf_cap - 1)];
      g_free (c->buf);
      c->buf = nbuf;
      c->buf_cap = ncap;
      c->head = 0;
    }
  c->buf[(c->head + c->len) & (c->buf_cap - 1)] = msg;
  c->len++;
}

static void *
ring_pop (Chan *c)
{
  void *msg = c->buf[c->head];
  c->head = (c->head + 1) & (c->buf_cap - 1);
  c->len--;
  return msg;
}

static bool
has_room (Chan *c)
{
  return c->capacity == 0 || c->len + c->reserved < c->capacity;
}

/* Under the lock: give free slots to the head send waiters. */
static void
grant_senders (Chan *c, AsyncrtWakeList *wl)
{
  while (!asyncrt__wait_list_is_empty (&c->send_waiters) && has_room (c))
    {
      c->reserved++;
      asyncrt__wait_list_grant_one (&c->send_waiters, ASYNCRT__WAITER_GRANTED, wl);
    }
}

/* Under the lock: push and wake one receive waiter. */
static void
push_locked (Chan *c, void *msg, AsyncrtWakeList *wl)
{
  ring_push (c, msg);
  asyncrt__wait_list_grant_one (&c->recv_waiters, ASYNCRT__WAITER_NOTIFIED, wl);
}

/* Under the lock: pop and let a send waiter in. */
static void *
pop_locked (Chan *c, AsyncrtWakeList *wl)
{
  void *msg = ring_pop (c);
  grant_senders (c, wl);
  return msg;
}

static bool
at_end_locked (Chan *c)
{
  return c->len == 0 && (c->closed || c->senders == 0);
}

/* Unlocks; frees the channel if @drop_ref released the last handle. */
static void
unlock_unref (Chan *c, bool drop_ref)
{
  bool last = drop_ref && --c->refs == 0;
  asyncrt__sync_unlock (&c->lock);
  if (!last)
    return;
  while (c->len > 0)
    {
      void *msg = ring_pop (c);
      if (c->msg_free != NULL)
        c->msg_free (msg);
    }
  g_free (c->buf);
  g_free (c->name);
  asyncrt__sync_lock_destroy (&c->lock);
  g_free (c);
}

/* Trace mode: the facts of a channel wait, under the lock.  @ready: what the waiter
 * waits for is there already. */
static void
describe_chan (Chan *c, const AsyncrtSyncWaiter *waiter, AsyncrtWaitKind kind, AsyncrtWait *w)
{
  asyncrt__sync_lock (&c->lock);
  asyncrt__wait_set (w, kind, (uintptr_t) c, c->name);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_LENGTH, (int64_t) c->len);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_CAPACITY, (int64_t) c->capacity);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_SENDERS, (int64_t) c->senders);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_CLOSED, c->closed);
  asyncrt__waiter_describe (waiter, w);
  bool ready = kind == ASYNCRT_WAIT_MPSC_RECV ? c->len > 0 || at_end_locked (c)
                                              : c->closed || has_room (c);
  if (ready)
    asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_READY, 1);
  asyncrt__sync_unlock (&c->lock);
}

static ASYNCRT_WAIT_DESCRIBER void
describe_send (AsyncrtMpscSend *s)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  if (s == NULL || s->tx == NULL)
    asyncrt__wait_set (w, ASYNCRT_WAIT_MPSC_SEND, 0, NULL);
  else
    describe_chan (s->tx->chan, &s->waiter, ASYNCRT_WAIT_MPSC_SEND, w);
}

static ASYNCRT_WAIT_DESCRIBER void
describe_recv (AsyncrtMpscRecv *r)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  if (r == NULL || r->rx == NULL)
    asyncrt__wait_set (w, ASYNCRT_WAIT_MPSC_RECV, 0, NULL);
  else
    describe_chan (r->rx->chan, &r->waiter, ASYNCRT_WAIT_MPSC_RECV, w);
}

/**
 * asyncrt_mpsc_new:
 * @capacity: the most messages the channel buffers, or 0 for an unbounded channel
 * @msg_free: (nullable): frees messages still queued when the channel goes away
 * @ret_tx: (out): the first sender
 * @ret_rx: (out): the receiver
 *
 * Creates a multi-producer single-consumer channel of `void *` messages.  A sent
 * message belongs to the channel until it is received; messages left when the
 * receiver is freed are passed to @msg_free.
 *
 * Thread safety: any thread; the handles may then be used on different threads.
 *
 * Returns: 0; -EINVAL if @ret_tx or @ret_rx is %NULL or @capacity exceeds
 *   %ASYNCRT_MPSC_MAX_CAPACITY.
 * Since: 0.1
 */
int
asyncrt_mpsc_new (size_t capacity, AsyncrtMessageFreeFunc msg_free,
                  AsyncrtMpscSender **ret_tx, AsyncrtMpscReceiver **ret_rx)
{
  if (ret_tx == NULL || ret_rx == NULL || capacity > ASYNCRT_MPSC_MAX_CAPACITY)
    return -EINVAL;
  Chan *c = g_new0 (Chan, 1);
  asyncrt__sync_lock_init (&c->lock);
  asyncrt__wait_list_init (&c->send_waiters);
  asyncrt__wait_list_init (&c->recv_waiters);
  c->msg_free = msg_free;
  c->capacity = capacity;
  c->senders = 1;
  c->refs = 2;
  AsyncrtMpscSender *tx = g_new (AsyncrtMpscSender, 1);
  AsyncrtMpscReceiver *rx = g_new (AsyncrtMpscReceiver, 1);
  tx->chan = rx->chan = c;
  *ret_tx = tx;
  *ret_rx = rx;
  return 0;
}

/**
 * asyncrt_mpsc_sender_clone:
 * @tx: a sender
 *
 * Makes another sender for the same channel.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer full) (nullable): the new sender; %NULL if @tx is %NULL.
 * Since: 0.1
 */
AsyncrtMpscSender *
asyncrt_mpsc_sender_clone (AsyncrtMpscSender *tx)
{
  if (tx == NULL)
    return NULL;
  Chan *c = tx->chan;
  asyncrt__sync_lock (&c->lock);
  c->senders++;
  c->refs++;
  asyncrt__sync_unlock (&c->lock);
  AsyncrtMpscSender *n = g_new (AsyncrtMpscSender, 1);
  n->chan = c;
  return n;
}

/**
 * asyncrt_mpsc_sender_free:
 * @tx: (nullable) (transfer full): a sender
 *
 * Drops a sender.  When the last one goes, the receiver gets the queued messages and
 * then -EPIPE; waiting receive futures are woken.  No send future may still use
 * @tx.  %NULL is ignored.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_mpsc_sender_free (AsyncrtMpscSender *tx)
{
  if (tx == NULL)
    return;
  Chan *c = tx->chan;
  g_free (tx);
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  asyncrt__sync_lock (&c->lock);
  if (--c->senders == 0)
    asyncrt__wait_list_grant_all (&c->recv_waiters, ASYNCRT__WAITER_NOTIFIED, &wl);
  unlock_unref (c, true);
  asyncrt__wake_list_wake_all (&wl);
}

/**
 * asyncrt_mpsc_sender_is_closed:
 * @tx: a sender
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if the receiver was closed or freed (or @tx is %NULL), so sends fail.
 * Since: 0.1
 */
bool
asyncrt_mpsc_sender_is_closed (AsyncrtMpscSender *tx)
{
  if (tx == NULL)
    return true;
  Chan *c = tx->chan;
  asyncrt__sync_lock (&c->lock);
  bool closed = c->closed;
  asyncrt__sync_unlock (&c->lock);
  return closed;
}

/**
 * asyncrt_mpsc_try_send:
 * @tx: a sender
 * @msg: the message; the channel owns it if this returns 0
 *
 * Sends without waiting.
 *
 * Thread safety: any thread.
 *
 * Returns: 0; -EAGAIN if a bounded channel is full; -EPIPE if the receiver was
 *   closed or freed; -EINVAL if @tx is %NULL.  On error the caller keeps @msg.
 * Since: 0.1
 */
int
asyncrt_mpsc_try_send (AsyncrtMpscSender *tx, void *msg)
{
  if (tx == NULL)
    return -EINVAL;
  Chan *c = tx->chan;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  int ret = 0;
  asyncrt__sync_lock (&c->lock);
  if (c->closed)
    ret = -EPIPE;
  else if (!has_room (c))
    ret = -EAGAIN;
  else
    push_locked (c, msg, &wl);
  asyncrt__sync_unlock (&c->lock);
  asyncrt__wake_list_wake_all (&wl);
  return ret;
}

/**
 * asyncrt_mpsc_send_init:
 * @s: the future to initialise
 * @tx: the sender; it must outlive @s until asyncrt_mpsc_send_clear()
 * @msg: the message to send
 *
 * Prepares to send @msg.  The channel owns @msg only once the future finished with
 * result 0; until then (and on any error, or if the future is cleared before it
 * finished) it stays the caller's.
 *
 * Thread safety: any thread; @s itself is used by one thread at a time.
 *
 * Since: 0.1
 */
void
asyncrt_mpsc_send_init (AsyncrtMpscSend *s, AsyncrtMpscSender *tx, void *msg)
{
  if (s == NULL)
    return;
  memset (s, 0, sizeof *s);
  s->tx = tx;
  s->msg = msg;
  asyncrt__waiter_reset (&s->waiter);
  s->result = -EINPROGRESS;
}

/**
 * asyncrt_mpsc_send_poll:
 * @s: an initialised send future
 * @cx: the context of this poll
 *
 * Sends the message, waiting while a bounded channel is full (senders are served in
 * FIFO order).  An unbounded channel never waits.  Read the outcome with
 * asyncrt_mpsc_send_result().  A %NULL @s is ready at once.
 *
 * Thread safety: the thread polling the future; the channel may be used from any
 * thread meanwhile.
 *
 * Returns: %ASYNCRT_READY when finished, %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_mpsc_send_poll (AsyncrtMpscSend *s, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_send (s);
      return ASYNCRT_PENDING;
    }
  if (s == NULL || s->waiter.owner_state == ASYNCRT__OWNER_DONE)
    return ASYNCRT_READY;
  if (s->tx == NULL)
    {
      s->result = -EINVAL;
      s->waiter.owner_state = ASYNCRT__OWNER_DONE;
      return ASYNCRT_READY;
    }
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;

  Chan *c = s->tx->chan;
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  int res = -EINPROGRESS;

  asyncrt__sync_lock (&c->lock);
  if (s->waiter.owner_state == ASYNCRT__OWNER_IDLE)
    {
      if (c->closed)
        res = -EPIPE;
      else if (has_room (c) && asyncrt__wait_list_is_empty (&c->send_waiters))
        {
          push_locked (c, s->msg, &wl);
          res = 0;
        }
      else
        asyncrt__waiter_enqueue (&c->send_waiters, &s->waiter, cx);
    }
  else
    {
      switch (s->waiter.state)
        {
        case ASYNCRT__WAITER_WAITING:
          asyncrt__waiter_update_waker (&s->waiter, cx, &old);
          break;
        case ASYNCRT__WAITER_GRANTED:
          c->reserved--;
          if (c->closed)
            res = -EPIPE;
          else
            {
              push_locked (c, s->msg, &wl);
              res = 0;
            }
          break;
        default:
          res = -EPIPE;
          break;
        }
    }
  if (res != -EINPROGRESS)
    {
      s->result = res;
      s->waiter.owner_state = ASYNCRT__OWNER_DONE;
      old = s->waiter.waker;
      s->waiter.waker.vtable = NULL;
      s->waiter.waker.data = NULL;
    }
  asyncrt__sync_unlock (&c->lock);

  asyncrt_waker_free (&old);
  asyncrt__wake_list_wake_all (&wl);
  return res != -EINPROGRESS ? ASYNCRT_READY : ASYNCRT_PENDING;
}

/**
 * asyncrt_mpsc_send_result:
 * @s: a send future
 *
 * Thread safety: the thread that owns @s.
 *
 * Returns: 0 when the message was sent (the channel owns it); -EPIPE if the
 *   receiver was closed or freed (the caller keeps the message); -EINVAL for a %NULL
 *   @s or sender; -EINPROGRESS before the future finished.
 * Since: 0.1
 */
int
asyncrt_mpsc_send_result (const AsyncrtMpscSend *s)
{
  if (s == NULL)
    return -EINVAL;
  return s->result;
}

/**
 * asyncrt_mpsc_send_clear:
 * @s: (nullable): a send future
 *
 * Stops waiting.  A slot that was reserved for @s but not yet used passes on to the
 * next waiting sender.  The message was sent only if the future finished with 0;
 * otherwise it is still the caller's.  Afterwards @s must be initialised again
 * before use.  %NULL is ignored.
 * Safe on a zero-initialised #AsyncrtMpscSend that was never initialised, and again on
 * a cleared one.
 *
 * Thread safety: any thread, but not while @s is being polled.
 *
 * Since: 0.1
 */
void
asyncrt_mpsc_send_clear (AsyncrtMpscSend *s)
{
  if (s == NULL)
    return;
  /* The waker of a queued waiter is read under the lock only (granters move it). */
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  if (s->tx != NULL && s->waiter.owner_state == ASYNCRT__OWNER_QUEUED)
    {
      Chan *c = s->tx->chan;
      asyncrt__sync_lock (&c->lock);
      old = s->waiter.waker;
      if (s->waiter.state == ASYNCRT__WAITER_WAITING)
        asyncrt__wait_list_remove (&c->send_waiters, &s->waiter);
      else if (s->waiter.state == ASYNCRT__WAITER_GRANTED)
        {
          c->reserved--;
          grant_senders (c, &wl);
        }
      asyncrt__sync_unlock (&c->lock);
    }
  asyncrt__waiter_reset (&s->waiter);
  s->tx = NULL;
  s->msg = NULL;
  s->result = -EINVAL;
  asyncrt_waker_free (&old);
  asyncrt__wake_list_wake_all (&wl);
}

/**
 * asyncrt_mpsc_try_recv:
 * @rx: the receiver
 * @ret_msg: (out): the message, owned by the caller, on success
 *
 * Receives without waiting.
 *
 * Thread safety: any thread.
 *
 * Returns: 0; -EAGAIN if the channel is empty; -EPIPE if it is empty and every
 *   sender is gone or the receiver was closed; -EINVAL for %NULL arguments.
 * Since: 0.1
 */
int
asyncrt_mpsc_try_recv (AsyncrtMpscReceiver *rx, void **ret_msg)
{
  if (rx == NULL || ret_msg == NULL)
    return -EINVAL;
  Chan *c = rx->chan;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  int ret;
  void *msg = NULL;
  asyncrt__sync_lock (&c->lock);
  if (c->len > 0)
    {
      msg = pop_locked (c, &wl);
      ret = 0;
    }
  else
    ret = at_end_locked (c) ? -EPIPE : -EAGAIN;
  asyncrt__sync_unlock (&c->lock);
  asyncrt__wake_list_wake_all (&wl);
  if (ret == 0)
    *ret_msg = msg;
  return ret;
}

/**
 * asyncrt_mpsc_receiver_get_length:
 * @rx: the receiver
 *
 * Thread safety: any thread; the answer may be stale at once.
 *
 * Returns: the number of queued messages (0 for %NULL).
 * Since: 0.1
 */
size_t
asyncrt_mpsc_receiver_get_length (AsyncrtMpscReceiver *rx)
{
  if (rx == NULL)
    return 0;
  Chan *c = rx->chan;
  asyncrt__sync_lock (&c->lock);
  size_t len = c->len;
  asyncrt__sync_unlock (&c->lock);
  return len;
}

static void
close_locked (Chan *c, AsyncrtWakeList *wl)
{
  c->closed = true;
  asyncrt__wait_list_grant_all (&c->send_waiters, ASYNCRT__WAITER_CLOSED, wl);
  /* Receive futures waiting on an empty channel see the end now. */
  if (c->len == 0)
    asyncrt__wait_list_grant_all (&c->recv_waiters, ASYNCRT__WAITER_NOTIFIED, wl);
}

/**
 * asyncrt_mpsc_receiver_close:
 * @rx: the receiver
 *
 * Closes the channel: every later or waiting send fails with -EPIPE; messages
 * already queued can still be received, then receiving gives -EPIPE.  %NULL is
 * ignored.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_mpsc_receiver_close (AsyncrtMpscReceiver *rx)
{
  if (rx == NULL)
    return;
  Chan *c = rx->chan;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  asyncrt__sync_lock (&c->lock);
  close_locked (c, &wl);
  asyncrt__sync_unlock (&c->lock);
  asyncrt__wake_list_wake_all (&wl);
}

/**
 * asyncrt_mpsc_receiver_free:
 * @rx: (nullable) (transfer full): the receiver
 *
 * Closes the channel and drops the receiver.  Queued messages are freed with the
 * channel's message free function; waiting senders complete with -EPIPE.  No
 * receive future may still use @rx.  %NULL is ignored.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_mpsc_receiver_free (AsyncrtMpscReceiver *rx)
{
  if (rx == NULL)
    return;
  Chan *c = rx->chan;
  g_free (rx);
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  void **drop = NULL;
  size_t n_drop = 0;
  asyncrt__sync_lock (&c->lock);
  close_locked (c, &wl);
  if (c->len > 0 && c->refs > 1)
    {
      /* Free the messages outside the lock. */
      drop = g_new (void *, c->len);
      while (c->len > 0)
        drop[n_drop++] = ring_pop (c);
    }
  AsyncrtMessageFreeFunc msg_free = c->msg_free;
  unlock_unref (c, true);
  asyncrt__wake_list_wake_all (&wl);
  for (size_t i = 0; i < n_drop; i++)
    if (msg_free != NULL)
      msg_free (drop[i]);
  g_free (drop);
}

/**
 * asyncrt_mpsc_receiver_set_name:
 * @rx: the receiver
 * @name: (nullable): the channel's name, copied; %NULL removes it
 *
 * Names the channel for task dumps: tasks waiting to receive from it or to send to
 * it then show `waits for a message on channel "NAME"` and the like, and the JSON
 * form and asyncrt_wait_get_object_name() carry the name.  The name may hold
 * anything (it is escaped wherever it is shown); it goes with the channel.
 *
 * Thread safety: any thread.
 *
 * Returns: 0, or -EINVAL if @rx is %NULL.
 * Since: 0.2
 */
int
asyncrt_mpsc_receiver_set_name (AsyncrtMpscReceiver *rx, const char *name)
{
  if (rx == NULL)
    return -EINVAL;
  asyncrt__sync_set_name (&rx->chan->lock, &rx->chan->name, name);
  return 0;
}

/**
 * asyncrt_mpsc_recv_init:
 * @r: the future to initialise
 * @rx: the receiver; it must outlive @r until asyncrt_mpsc_recv_clear()
 *
 * Prepares to receive one message.
 *
 * Thread safety: any thread; @r itself is used by one thread at a time.
 *
 * Since: 0.1
 */
void
asyncrt_mpsc_recv_init (AsyncrtMpscRecv *r, AsyncrtMpscReceiver *rx)
{
  if (r == NULL)
    return;
  memset (r, 0, sizeof *r);
  r->rx = rx;
  asyncrt__waiter_reset (&r->waiter);
  r->result = -EINPROGRESS;
}

/**
 * asyncrt_mpsc_recv_poll:
 * @r: an initialised receive future
 * @cx: the context of this poll
 *
 * Waits for a message, or for the end of the stream (every sender freed, or the
 * receiver closed, and the queue empty).  Read the outcome with
 * asyncrt_mpsc_recv_result().  A %NULL @r is ready at once.
 *
 * Thread safety: the thread polling the future; senders may be used from any thread
 * meanwhile.
 *
 * Returns: %ASYNCRT_READY when finished, %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_mpsc_recv_poll (AsyncrtMpscRecv *r, AsyncrtContext *cx)
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

  Chan *c = r->rx->chan;
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  int res = -EINPROGRESS;
  bool queued = r->waiter.owner_state == ASYNCRT__OWNER_QUEUED;

  asyncrt__sync_lock (&c->lock);
  if (c->len > 0)
    {
      r->msg = pop_locked (c, &wl);
      res = 0;
    }
  else if (at_end_locked (c))
    res = -EPIPE;

  if (res != -EINPROGRESS)
    {
      if (queued && r->waiter.state == ASYNCRT__WAITER_WAITING)
        asyncrt__wait_list_remove (&c->recv_waiters, &r->waiter);
      r->result = res;
      r->waiter.owner_state = ASYNCRT__OWNER_DONE;
      old = r->waiter.waker;
      r->waiter.waker.vtable = NULL;
      r->waiter.waker.data = NULL;
    }
  else if (!queued)
    asyncrt__waiter_enqueue (&c->recv_waiters, &r->waiter, cx);
  else if (r->waiter.state == ASYNCRT__WAITER_WAITING)
    asyncrt__waiter_update_waker (&r->waiter, cx, &old);
  else
    /* Woken, but another receive future took the message: wait again. */
    asyncrt__waiter_enqueue (&c->recv_waiters, &r->waiter, cx);
  asyncrt__sync_unlock (&c->lock);

  asyncrt_waker_free (&old);
  asyncrt__wake_list_wake_all (&wl);
  return res != -EINPROGRESS ? ASYNCRT_READY : ASYNCRT_PENDING;
}

/**
 * asyncrt_mpsc_recv_result:
 * @r: a finished receive future
 * @ret_msg: (out) (optional): the message, now owned by the caller
 *
 * The outcome of a finished receive.  On the first successful call the message moves
 * to the caller; if it is never collected, asyncrt_mpsc_recv_clear() frees it with
 * the channel's message free function.
 *
 * Thread safety: the thread that owns @r.
 *
 * Returns: 0 with the message; -EPIPE at the end of the stream; -ENOMSG if the
 *   message was already collected from @r; -EINPROGRESS before the future finished;
 *   -EINVAL for a %NULL @r or receiver.
 * Since: 0.1
 */
int
asyncrt_mpsc_recv_result (AsyncrtMpscRecv *r, void **ret_msg)
{
  if (r == NULL)
    return -EINVAL;
  int res = r->result;
  if (res == 0)
    {
      if (ret_msg != NULL)
        *ret_msg = r->msg;
      r->msg = NULL;
      r->result = -ENOMSG;
    }
  return res;
}

/**
 * asyncrt_mpsc_recv_clear:
 * @r: (nullable): a receive future
 *
 * Stops waiting.  No message is lost: messages stay queued until a poll takes one,
 * a wake-up meant for @r passes on to another receive future, and a message @r took
 * but nobody collected with asyncrt_mpsc_recv_result() is freed with the channel's
 * message free function.  Afterwards @r must be initialised again before use.  %NULL
 * is ignored.
 * Safe on a zero-initialised #AsyncrtMpscRecv that was never initialised, and again on
 * a cleared one.
 *
 * Thread safety: any thread, but not while @r is being polled.
 *
 * Since: 0.1
 */
void
asyncrt_mpsc_recv_clear (AsyncrtMpscRecv *r)
{
  if (r == NULL)
    return;
  /* The waker of a queued waiter is read under the lock only (granters move it). */
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  AsyncrtWakeList wl;
  asyncrt__wake_list_init (&wl);
  if (r->rx != NULL)
    {
      Chan *c = r->rx->chan;
      if (r->waiter.owner_state == ASYNCRT__OWNER_QUEUED)
        {
          asyncrt__sync_lock (&c->lock);
          old = r->waiter.waker;
          if (r->waiter.state == ASYNCRT__WAITER_WAITING)
            asyncrt__wait_list_remove (&c->recv_waiters, &r->waiter);
          else if (c->len > 0)
            asyncrt__wait_list_grant_one (&c->recv_waiters, ASYNCRT__WAITER_NOTIFIED, &wl);
          asyncrt__sync_unlock (&c->lock);
        }
      if (r->result == 0 && c->msg_free != NULL)
        c->msg_free (r->msg);
    }
  asyncrt__waiter_reset (&r->waiter);
  r->rx = NULL;
  r->msg = NULL;
  r->result = -EINVAL;
  asyncrt_waker_free (&old);
  asyncrt__wake_list_wake_all (&wl);
}
