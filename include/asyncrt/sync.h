/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_SYNC_H
#define ASYNCRT_SYNC_H

#include <asyncrt/future.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:sync
 * @title: Synchronisation
 * @short_description: notify, oneshot and mpsc channels, semaphore, async mutex
 *
 * Async synchronisation primitives in the style of Tokio's `tokio::sync`:
 * #AsyncrtNotify (wake one or all waiting tasks), a oneshot channel, a bounded or
 * unbounded multi-producer single-consumer channel (#AsyncrtMpscSender,
 * #AsyncrtMpscReceiver), a counting #AsyncrtSemaphore and a fair async #AsyncrtMutex.
 *
 * Every operation may be called from any thread.  Waiting is done by a leaf future
 * embedded in the caller's state (no allocation per wait): initialise it with its
 * `_init` function, poll it until %ASYNCRT_READY, read the outcome with its
 * `_result` function where it has one, and release it with `_clear`.
 *
 * Conventions shared by all primitives:
 *
 * - `_init` functions of futures never fail; misuse (a %NULL object, too many
 *   permits) makes the first poll finish at once with a negative result.
 * - Fallible operations return 0 or a negative errno.  Channels report a closed
 *   peer as `-EPIPE`; a closed semaphore reports `-ESHUTDOWN`; a non-blocking
 *   attempt that would wait returns `-EAGAIN` (`-EBUSY` for asyncrt_mutex_try_lock());
 *   %NULL arguments give `-EINVAL`.
 * - <emphasis>Cancellation safety</emphasis>: clearing a waiting future (its `_clear`)
 *   removes its waiter.  Nothing is lost: a notification, permit, lock hand-off or channel slot
 *   that was already handed to the cleared future passes on to the next waiter; a
 *   message not yet returned by a receive future stays in (or, once taken, is freed
 *   with) its channel; a message whose send did not finish with 0 still belongs to
 *   the caller.  A future may be cleared from any thread, but never while it is being
 *   polled.
 * - The object a future waits on (#AsyncrtNotify, #AsyncrtSemaphore, #AsyncrtMutex, a
 *   channel handle) must outlive the future until the future is cleared.
 * - Every poll starts with asyncrt_trace_leaf(), so a waiting task shows in task
 *   dumps with the primitive's poll function as its innermost frame.
 *
 * Waiting for a message:
 * |[<!-- language="C" -->
 * typedef struct { AsyncrtCoroutine co; AsyncrtMpscRecv recv; AsyncrtMpscReceiver *rx; } Consumer;
 * void handle_message (void *msg);     // yours
 *
 * static AsyncrtPoll
 * consumer_poll (void *p, AsyncrtContext *cx)
 * {
 *   Consumer *self = p;
 *   void *msg;
 *   ASYNCRT_BEGIN (&self->co);
 *   for (;;)
 *     {
 *       asyncrt_mpsc_recv_init (&self->recv, self->rx);
 *       ASYNCRT_AWAIT (&self->co, asyncrt_mpsc_recv_poll (&self->recv, cx));
 *       int r = asyncrt_mpsc_recv_result (&self->recv, &msg);
 *       asyncrt_mpsc_recv_clear (&self->recv);
 *       if (r < 0)
 *         break;             // -EPIPE: every sender is gone and the queue is empty
 *       handle_message (msg);
 *     }
 *   ASYNCRT_END (&self->co);
 * }
 * ]|
 */

/**
 * AsyncrtSyncLock:
 *
 * Storage for the lock of an embeddable primitive.  Its contents are private.
 */
typedef struct _AsyncrtSyncLock AsyncrtSyncLock;
struct _AsyncrtSyncLock
{
  /*< private >*/
  void *opaque[8];
};

/**
 * AsyncrtSyncWaiter:
 *
 * The intrusive wait-list node embedded in every waiting future.  Its fields are
 * private.
 */
typedef struct _AsyncrtSyncWaiter AsyncrtSyncWaiter;
struct _AsyncrtSyncWaiter
{
  /*< private >*/
  AsyncrtSyncWaiter *prev;
  AsyncrtSyncWaiter *next;
  AsyncrtWaker waker;
  unsigned state;         /* under the primitive's lock */
  unsigned owner_state;   /* touched only by the future's owner */
  size_t n;
  void *reserved[2];
};

/**
 * AsyncrtSyncWaitList:
 *
 * A FIFO list of #AsyncrtSyncWaiter nodes.  Its fields are private.
 */
typedef struct _AsyncrtSyncWaitList AsyncrtSyncWaitList;
struct _AsyncrtSyncWaitList
{
  /*< private >*/
  AsyncrtSyncWaiter *head;
  AsyncrtSyncWaiter *tail;
};

/**
 * AsyncrtMessageFreeFunc:
 * @msg: a message or value still held by a channel
 *
 * Frees a message that a channel drops because nobody will receive it.
 */
typedef void (*AsyncrtMessageFreeFunc) (void *msg);

/* --- Notify ------------------------------------------------------------------- */

/**
 * AsyncrtNotify:
 *
 * Notifies one or all waiting tasks, like Tokio's `Notify`.  Embeddable; its fields
 * are private.  Initialise with asyncrt_notify_init(), release with
 * asyncrt_notify_clear().
 */
typedef struct _AsyncrtNotify AsyncrtNotify;
struct _AsyncrtNotify
{
  /*< private >*/
  AsyncrtSyncLock lock;
  AsyncrtSyncWaitList waiters;
  uintptr_t permit;
  uintptr_t generation;
  void *reserved[4];
};

/**
 * AsyncrtNotified:
 *
 * The future that waits for a notification of an #AsyncrtNotify.  Embeddable; its
 * fields are private.
 */
typedef struct _AsyncrtNotified AsyncrtNotified;
struct _AsyncrtNotified
{
  /*< private >*/
  AsyncrtNotify *notify;
  AsyncrtSyncWaiter waiter;
  uintptr_t generation;
  void *reserved[4];
};

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_notify_init (AsyncrtNotify *n);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_notify_clear (AsyncrtNotify *n);
ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_notify_set_name (AsyncrtNotify *n, const char *name);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_notify_notify_one (AsyncrtNotify *n);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_notify_notify_waiters (AsyncrtNotify *n);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_notified_init (AsyncrtNotified *w, AsyncrtNotify *n);
ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_notified_poll (AsyncrtNotified *w, AsyncrtContext *cx);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_notified_clear (AsyncrtNotified *w);

/* --- Semaphore ------------------------------------------------------------------ */

/**
 * ASYNCRT_SEMAPHORE_MAX_PERMITS:
 *
 * The largest number of permits a semaphore can hold, and the most one acquire can
 * ask for.
 */
#define ASYNCRT_SEMAPHORE_MAX_PERMITS ((size_t) 0x7fffffffu)

/**
 * AsyncrtSemaphore:
 *
 * A counting semaphore with fair (FIFO) waiting.  Embeddable; its fields are private.
 */
typedef struct _AsyncrtSemaphore AsyncrtSemaphore;
struct _AsyncrtSemaphore
{
  /*< private >*/
  AsyncrtSyncLock lock;
  AsyncrtSyncWaitList waiters;
  size_t permits;
  uintptr_t closed;
  void *reserved[4];
};

/**
 * AsyncrtSemaphoreAcquire:
 *
 * The future that acquires permits of an #AsyncrtSemaphore.  Embeddable; its fields
 * are private.
 */
typedef struct _AsyncrtSemaphoreAcquire AsyncrtSemaphoreAcquire;
struct _AsyncrtSemaphoreAcquire
{
  /*< private >*/
  AsyncrtSemaphore *sem;
  AsyncrtSyncWaiter waiter;
  int result;
  void *reserved[4];
};

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_semaphore_init (AsyncrtSemaphore *s, size_t permits);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_semaphore_clear (AsyncrtSemaphore *s);
ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_semaphore_set_name (AsyncrtSemaphore *s, const char *name);
ASYNCRT_AVAILABLE_IN_0_1
size_t asyncrt_semaphore_get_available_permits (AsyncrtSemaphore *s);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_semaphore_release (AsyncrtSemaphore *s, size_t n);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_semaphore_try_acquire (AsyncrtSemaphore *s, size_t n);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_semaphore_close (AsyncrtSemaphore *s);
ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_semaphore_is_closed (AsyncrtSemaphore *s);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_semaphore_acquire_init (AsyncrtSemaphoreAcquire *a, AsyncrtSemaphore *s, size_t n);
ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_semaphore_acquire_poll (AsyncrtSemaphoreAcquire *a, AsyncrtContext *cx);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_semaphore_acquire_result (const AsyncrtSemaphoreAcquire *a);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_semaphore_acquire_clear (AsyncrtSemaphoreAcquire *a);

/* --- Mutex ---------------------------------------------------------------------- */

/**
 * AsyncrtMutex:
 *
 * An async mutex: waiting for it suspends the task, not the thread, and it may be
 * held across awaits.  Waiters get the lock in FIFO order (direct hand-off on
 * unlock).  Embeddable; its fields are private.
 */
typedef struct _AsyncrtMutex AsyncrtMutex;
struct _AsyncrtMutex
{
  /*< private >*/
  AsyncrtSemaphore sem;
  void *reserved[4];
};

/**
 * AsyncrtMutexLock:
 *
 * The future that locks an #AsyncrtMutex.  Embeddable; its fields are private.
 */
typedef struct _AsyncrtMutexLock AsyncrtMutexLock;
struct _AsyncrtMutexLock
{
  /*< private >*/
  AsyncrtSemaphoreAcquire acquire;
  void *reserved[2];
};

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mutex_init (AsyncrtMutex *m);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mutex_clear (AsyncrtMutex *m);
ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_mutex_set_name (AsyncrtMutex *m, const char *name);
ASYNCRT_AVAILABLE_IN_0_2
AsyncrtTaskId asyncrt_mutex_get_holder_id (AsyncrtMutex *m);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_mutex_try_lock (AsyncrtMutex *m);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_mutex_unlock (AsyncrtMutex *m);
ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_mutex_is_locked (AsyncrtMutex *m);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mutex_lock_init (AsyncrtMutexLock *l, AsyncrtMutex *m);
ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_mutex_lock_poll (AsyncrtMutexLock *l, AsyncrtContext *cx);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_mutex_lock_result (const AsyncrtMutexLock *l);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mutex_lock_clear (AsyncrtMutexLock *l);

/* --- Oneshot -------------------------------------------------------------------- */

/**
 * AsyncrtOneshotSender:
 *
 * The sending half of a oneshot channel (opaque).  Consumed by
 * asyncrt_oneshot_send() or asyncrt_oneshot_sender_free().
 */
typedef struct _AsyncrtOneshotSender AsyncrtOneshotSender;

/**
 * AsyncrtOneshotReceiver:
 *
 * The receiving half of a oneshot channel (opaque).  Free it with
 * asyncrt_oneshot_receiver_free().
 */
typedef struct _AsyncrtOneshotReceiver AsyncrtOneshotReceiver;

/**
 * AsyncrtOneshotRecv:
 *
 * The future that receives the value of a oneshot channel.  Embeddable; its fields
 * are private.
 */
typedef struct _AsyncrtOneshotRecv AsyncrtOneshotRecv;
struct _AsyncrtOneshotRecv
{
  /*< private >*/
  AsyncrtOneshotReceiver *rx;
  AsyncrtSyncWaiter waiter;
  void *value;
  int result;
  void *reserved[4];
};

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_oneshot_new (AsyncrtMessageFreeFunc value_free,
                         AsyncrtOneshotSender **ret_tx, AsyncrtOneshotReceiver **ret_rx);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_oneshot_send (AsyncrtOneshotSender *tx, void *value);
ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_oneshot_sender_is_closed (AsyncrtOneshotSender *tx);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_oneshot_sender_free (AsyncrtOneshotSender *tx);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_oneshot_try_recv (AsyncrtOneshotReceiver *rx, void **ret_value);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_oneshot_receiver_close (AsyncrtOneshotReceiver *rx);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_oneshot_receiver_free (AsyncrtOneshotReceiver *rx);
ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_oneshot_receiver_set_name (AsyncrtOneshotReceiver *rx, const char *name);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_oneshot_recv_init (AsyncrtOneshotRecv *r, AsyncrtOneshotReceiver *rx);
ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_oneshot_recv_poll (AsyncrtOneshotRecv *r, AsyncrtContext *cx);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_oneshot_recv_result (AsyncrtOneshotRecv *r, void **ret_value);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_oneshot_recv_clear (AsyncrtOneshotRecv *r);

/* --- MPSC channel ----------------------------------------------------------------- */

/**
 * ASYNCRT_MPSC_MAX_CAPACITY:
 *
 * The largest capacity of a bounded mpsc channel.
 */
#define ASYNCRT_MPSC_MAX_CAPACITY ((size_t) 1 << 28)

/**
 * AsyncrtMpscSender:
 *
 * A sending handle of an mpsc channel (opaque).  Clone it with
 * asyncrt_mpsc_sender_clone(); free each handle with asyncrt_mpsc_sender_free().
 */
typedef struct _AsyncrtMpscSender AsyncrtMpscSender;

/**
 * AsyncrtMpscReceiver:
 *
 * The receiving handle of an mpsc channel (opaque).  Free it with
 * asyncrt_mpsc_receiver_free().
 */
typedef struct _AsyncrtMpscReceiver AsyncrtMpscReceiver;

/**
 * AsyncrtMpscSend:
 *
 * The future that sends one message, waiting for capacity on a bounded channel.
 * Embeddable; its fields are private.
 */
typedef struct _AsyncrtMpscSend AsyncrtMpscSend;
struct _AsyncrtMpscSend
{
  /*< private >*/
  AsyncrtMpscSender *tx;
  AsyncrtSyncWaiter waiter;
  void *msg;
  int result;
  void *reserved[4];
};

/**
 * AsyncrtMpscRecv:
 *
 * The future that receives one message.  Embeddable; its fields are private.
 */
typedef struct _AsyncrtMpscRecv AsyncrtMpscRecv;
struct _AsyncrtMpscRecv
{
  /*< private >*/
  AsyncrtMpscReceiver *rx;
  AsyncrtSyncWaiter waiter;
  void *msg;
  int result;
  void *reserved[4];
};

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_mpsc_new (size_t capacity, AsyncrtMessageFreeFunc msg_free,
                      AsyncrtMpscSender **ret_tx, AsyncrtMpscReceiver **ret_rx);
ASYNCRT_AVAILABLE_IN_0_1
AsyncrtMpscSender *asyncrt_mpsc_sender_clone (AsyncrtMpscSender *tx);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mpsc_sender_free (AsyncrtMpscSender *tx);
ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_mpsc_sender_is_closed (AsyncrtMpscSender *tx);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_mpsc_try_send (AsyncrtMpscSender *tx, void *msg);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mpsc_send_init (AsyncrtMpscSend *s, AsyncrtMpscSender *tx, void *msg);
ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_mpsc_send_poll (AsyncrtMpscSend *s, AsyncrtContext *cx);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_mpsc_send_result (const AsyncrtMpscSend *s);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mpsc_send_clear (AsyncrtMpscSend *s);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_mpsc_try_recv (AsyncrtMpscReceiver *rx, void **ret_msg);
ASYNCRT_AVAILABLE_IN_0_1
size_t asyncrt_mpsc_receiver_get_length (AsyncrtMpscReceiver *rx);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mpsc_receiver_close (AsyncrtMpscReceiver *rx);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mpsc_receiver_free (AsyncrtMpscReceiver *rx);
ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_mpsc_receiver_set_name (AsyncrtMpscReceiver *rx, const char *name);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mpsc_recv_init (AsyncrtMpscRecv *r, AsyncrtMpscReceiver *rx);
ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_mpsc_recv_poll (AsyncrtMpscRecv *r, AsyncrtContext *cx);
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_mpsc_recv_result (AsyncrtMpscRecv *r, void **ret_msg);
ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_mpsc_recv_clear (AsyncrtMpscRecv *r);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_SYNC_H */
