/* libasyncrt - wait lists shared by the synchronisation primitives
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership and transitions (every primitive in lib/sync follows them):
 *
 * - Each primitive has one lock (a pthread mutex living in AsyncrtSyncLock storage).
 *   Its wait lists, counters and every AsyncrtSyncWaiter.state / .prev / .next / .waker
 *   of a *queued* waiter are read and written only under that lock.
 * - AsyncrtSyncWaiter.owner_state belongs to the future's owner (the thread polling
 *   or clearing the future; never two at once) and is never touched by others:
 *     OWNER_IDLE   -> the waiter is not in any list; nobody else can see it.
 *     OWNER_QUEUED -> the waiter was put in the list by a poll; others may move it
 *                     (under the lock) from WAITING to a "granted" state (NOTIFIED,
 *                     GRANTED, CLOSED), unlinking it and taking its waker out.
 *     OWNER_DONE   -> the poll returned READY; the waiter is unlinked again.
 * - A granter moves the waker out of the node under the lock and wakes it after
 *   unlocking, so no waker runs under a primitive's lock and no node is touched
 *   after the lock is released (its owner may clear and free it at once).
 * - Clearing a QUEUED waiter takes the lock: WAITING -> unlink; granted but not yet
 *   consumed -> hand what it was granted to the next waiter (the "pass on" rule
 *   that makes waiting cancellation-safe).
 * - Wakers are cloned under the lock (a clone must only take a reference: it may not
 *   block or call back into the primitive); they are woken and dropped outside it.
 * No atomics are needed beyond the lock, except AsyncrtNotify.generation (see
 * notify.c).
 */
#ifndef ASYNCRT_SYNC_PRIVATE_H
#define ASYNCRT_SYNC_PRIVATE_H

#include "util/common-private.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>
#include <glib.h>

_Static_assert (sizeof (pthread_mutex_t) <= sizeof (AsyncrtSyncLock),
                "AsyncrtSyncLock too small for pthread_mutex_t");
_Static_assert (_Alignof (pthread_mutex_t) <= _Alignof (AsyncrtSyncLock),
                "AsyncrtSyncLock alignment too small for pthread_mutex_t");

enum
{
  ASYNCRT__WAITER_WAITING = 0,
  ASYNCRT__WAITER_NOTIFIED,     /* woken; may or may not get what it waits for */
  ASYNCRT__WAITER_NOTIFIED_ALL, /* woken by notify_waiters: nothing to pass on */
  ASYNCRT__WAITER_GRANTED,      /* permits / slot reserved for it */
  ASYNCRT__WAITER_CLOSED,       /* the primitive was closed */
};

enum
{
  ASYNCRT__OWNER_IDLE = 0,
  ASYNCRT__OWNER_QUEUED,
  ASYNCRT__OWNER_DONE,
};

static inline pthread_mutex_t *
asyncrt__sync_mutex (AsyncrtSyncLock *l)
{
  return (pthread_mutex_t *) (void *) l;
}

static inline void
asyncrt__sync_lock_init (AsyncrtSyncLock *l)
{
  pthread_mutex_init (asyncrt__sync_mutex (l), NULL);
}

static inline void
asyncrt__sync_lock_destroy (AsyncrtSyncLock *l)
{
  pthread_mutex_destroy (asyncrt__sync_mutex (l));
}

static inline void
asyncrt__sync_lock (AsyncrtSyncLock *l)
{
  pthread_mutex_lock (asyncrt__sync_mutex (l));
}

static inline void
asyncrt__sync_unlock (AsyncrtSyncLock *l)
{
  pthread_mutex_unlock (asyncrt__sync_mutex (l));
}

/* --- intrusive FIFO ---------------------------------------------------------------- */

static inline void
asyncrt__wait_list_init (AsyncrtSyncWaitList *list)
{
  list->head = list->tail = NULL;
}

static inline bool
asyncrt__wait_list_is_empty (const AsyncrtSyncWaitList *list)
{
  return list->head == NULL;
}

static inline void
asyncrt__wait_list_push (AsyncrtSyncWaitList *list, AsyncrtSyncWaiter *w)
{
  w->next = NULL;
  w->prev = list->tail;
  if (list->tail != NULL)
    list->tail->next = w;
  else
    list->head = w;
  list->tail = w;
}

static inline void
asyncrt__wait_list_remove (AsyncrtSyncWaitList *list, AsyncrtSyncWaiter *w)
{
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    list->head = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  else
    list->tail = w->prev;
  w->prev = w->next = NULL;
}

static inline AsyncrtSyncWaiter *
asyncrt__wait_list_pop (AsyncrtSyncWaitList *list)
{
  AsyncrtSyncWaiter *w = list->head;
  if (w != NULL)
    asyncrt__wait_list_remove (list, w);
  return w;
}

/* --- wakers collected under a lock, woken after it -------------------------------- */

#define ASYNCRT__WAKE_LIST_INLINE 16

typedef struct
{
  AsyncrtWaker inline_wakers[ASYNCRT__WAKE_LIST_INLINE];
  AsyncrtWaker *heap;
  size_t n;
  size_t cap;
} AsyncrtWakeList;

static inline void
asyncrt__wake_list_init (AsyncrtWakeList *wl)
{
  wl->heap = NULL;
  wl->n = 0;
  wl->cap = ASYNCRT__WAKE_LIST_INLINE;
}

static inline void
asyncrt__wake_list_push (AsyncrtWakeList *wl, AsyncrtWaker *waker)
{
  if (asyncrt_waker_is_empty (waker))
    return;
  if (wl->n == wl->cap)
    {
      size_t cap = wl->cap * 2;
      AsyncrtWaker *h = g_new (AsyncrtWaker, cap);
      memcpy (h, wl->heap != NULL ? wl->heap : wl->inline_wakers, wl->n * sizeof *h);
      g_free (wl->heap);
      wl->heap = h;
      wl->cap = cap;
    }
  AsyncrtWaker *arr = wl->heap != NULL ? wl->heap : wl->inline_wakers;
  arr[wl->n++] = *waker;
  waker->vtable = NULL;
  waker->data = NULL;
}

/* Outside any lock. */
static inline void
asyncrt__wake_list_wake_all (AsyncrtWakeList *wl)
{
  AsyncrtWaker *arr = wl->heap != NULL ? wl->heap : wl->inline_wakers;
  for (size_t i = 0; i < wl->n; i++)
    asyncrt_waker_wake (&arr[i]);
  g_free (wl->heap);
  asyncrt__wake_list_init (wl);
}

/* --- waiter helpers (under the lock) ---------------------------------------------- */

/* Pops the head waiter, marks it @state and moves its waker into @wl. */
static inline AsyncrtSyncWaiter *
asyncrt__wait_list_grant_one (AsyncrtSyncWaitList *list, unsigned state, AsyncrtWakeList *wl)
{
  AsyncrtSyncWaiter *w = asyncrt__wait_list_pop (list);
  if (w != NULL)
    {
      w->state = state;
      asyncrt__wake_list_push (wl, &w->waker);
    }
  return w;
}

static inline void
asyncrt__wait_list_grant_all (AsyncrtSyncWaitList *list, unsigned state, AsyncrtWakeList *wl)
{
  while (asyncrt__wait_list_grant_one (list, state, wl) != NULL)
    ;
}

/* First poll: enqueue @w with a clone of the context's waker. */
static inline void
asyncrt__waiter_enqueue (AsyncrtSyncWaitList *list, AsyncrtSyncWaiter *w, AsyncrtContext *cx)
{
  w->state = ASYNCRT__WAITER_WAITING;
  w->waker = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
  w->owner_state = ASYNCRT__OWNER_QUEUED;
  asyncrt__wait_list_push (list, w);
}

/* Re-poll of a WAITING waiter: store the new waker if it differs.  The replaced one
 * is returned through @old, to be freed after unlocking. */
static inline void
asyncrt__waiter_update_waker (AsyncrtSyncWaiter *w, AsyncrtContext *cx, AsyncrtWaker *old)
{
  const AsyncrtWaker *cur = asyncrt_context_get_waker (cx);
  if (asyncrt_waker_will_wake (&w->waker, cur))
    return;
  *old = w->waker;
  w->waker = asyncrt_waker_clone (cur);
}

static inline void
asyncrt__waiter_reset (AsyncrtSyncWaiter *w)
{
  w->prev = w->next = NULL;
  w->waker.vtable = NULL;
  w->waker.data = NULL;
  w->state = ASYNCRT__WAITER_WAITING;
  w->owner_state = ASYNCRT__OWNER_IDLE;
}

/* Semaphore core shared with the mutex (semaphore.c). */
typedef enum
{
  ASYNCRT__RELEASE_ANY,
  ASYNCRT__RELEASE_IF_HELD,     /* mutex unlock: -EPERM unless no permit is free */
} AsyncrtReleaseMode;

int asyncrt__semaphore_release (AsyncrtSemaphore *s, size_t n, AsyncrtReleaseMode mode);
AsyncrtPoll asyncrt__semaphore_acquire_poll (AsyncrtSemaphoreAcquire *a, AsyncrtContext *cx);

#endif /* ASYNCRT_SYNC_PRIVATE_H */
