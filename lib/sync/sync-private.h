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
 *
 * What dumps read (the waits of trace mode, include/asyncrt/wait.h):
 * - a queued waiter remembers, in its reserved padding, the task that queued it and
 *   when (the start of that task's poll, no clock read): written by the enqueueing
 *   poll under the lock, read under the lock (a granter records the waiter's task as
 *   the new holder).  The task outlives the queued waiter (its future, which holds
 *   the waiter, is cleared before the task goes);
 * - names (asyncrt_*_set_name) and holders (semaphore.c) live in the primitives'
 *   reserved padding, under the primitive's lock; a describer copies them under it.
 *   No primitive grows and nothing here is an atomic read-modify-write.
 */
#ifndef ASYNCRT_SYNC_PRIVATE_H
#define ASYNCRT_SYNC_PRIVATE_H

#include "util/common-private.h"
#include "task/current-private.h"
#include "trace/wait-private.h"

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

/* --- what a queued waiter remembers for dumps (its reserved padding) --------------- */

/* reserved[0]: the task that queued it (NULL outside a task); reserved[1]: when, where
 * a pointer holds 64 bits (elsewhere the dump falls back on the task's last poll). */
static inline void
asyncrt__waiter_note_task (AsyncrtSyncWaiter *w)
{
  struct _AsyncrtTask *t = asyncrt__task_current ();
  w->reserved[0] = t;
#if UINTPTR_MAX > 0xffffffffu
  w->reserved[1] = (void *) (uintptr_t) asyncrt__task_poll_start_ns (t);
#else
  w->reserved[1] = NULL;
#endif
}

static inline AsyncrtTaskId
asyncrt__waiter_task_id (const AsyncrtSyncWaiter *w)
{
  return asyncrt__task_get_id (w->reserved[0]);
}

/* When the waiter was queued; 0 if unknown or not queued. */
static inline uint64_t
asyncrt__waiter_since_ns (const AsyncrtSyncWaiter *w)
{
  if (w->owner_state != ASYNCRT__OWNER_QUEUED)
    return 0;
  return (uint64_t) (uintptr_t) w->reserved[1];
}

/* First poll: enqueue @w with a clone of the context's waker. */
static inline void
asyncrt__waiter_enqueue (AsyncrtSyncWaitList *list, AsyncrtSyncWaiter *w, AsyncrtContext *cx)
{
  w->state = ASYNCRT__WAITER_WAITING;
  w->waker = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
  w->owner_state = ASYNCRT__OWNER_QUEUED;
  asyncrt__waiter_note_task (w);
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
  w->reserved[0] = w->reserved[1] = NULL;
}

/* The wait's "since" (when it was queued) and READY fact (granted or notified, not yet
 * taken by a poll), for a describer holding the primitive's lock. */
static inline void
asyncrt__waiter_describe (const AsyncrtSyncWaiter *w, AsyncrtWait *wait)
{
  asyncrt__wait_set_since (wait, asyncrt__waiter_since_ns (w));
  if (w->owner_state == ASYNCRT__OWNER_QUEUED && w->state != ASYNCRT__WAITER_WAITING)
    asyncrt__wait_set_fact (wait, ASYNCRT_WAIT_FACT_READY, 1);
}

/* --- names (asyncrt_*_set_name) ------------------------------------------------------ */

/* Swaps *@slot for a copy of @name under @lock; the old name is freed after. */
static inline void
asyncrt__sync_set_name (AsyncrtSyncLock *lock, char **slot, const char *name)
{
  char *copy = g_strdup (name);
  asyncrt__sync_lock (lock);
  char *old = *slot;
  *slot = copy;
  asyncrt__sync_unlock (lock);
  g_free (old);
}

/* --- the private parts of a semaphore and a mutex, in their reserved padding ----------
 * 64-bit values are kept as two 32-bit halves, so nothing needs more alignment than
 * the public structs have on any platform.  All of it under the semaphore's lock. */

typedef struct
{
  uint32_t lo, hi;
} AsyncrtU64Halves;

static inline uint64_t
asyncrt__u64_get (const AsyncrtU64Halves *h)
{
  return (uint64_t) h->hi << 32 | h->lo;
}

static inline void
asyncrt__u64_set (AsyncrtU64Halves *h, uint64_t v)
{
  h->lo = (uint32_t) v;
  h->hi = (uint32_t) (v >> 32);
}

enum
{
  ASYNCRT__SEM_IS_MUTEX = 1 << 0,        /* the semaphore of an AsyncrtMutex */
  ASYNCRT__SEM_SUSPECT = 1 << 1,         /* a release was not the holder's own */
};

/* Where a pointer holds 64 bits the semaphore has room to record one holder task;
 * elsewhere every permit counts as unrecorded. */
#if UINTPTR_MAX > 0xffffffffu
#define ASYNCRT__SEM_HAS_HOLDER 1
#endif

typedef struct
{
  char *name;                            /* owned copy, or NULL */
  uint32_t flags;
  uint32_t unrecorded;                   /* permits out, not the holder's (saturates) */
#ifdef ASYNCRT__SEM_HAS_HOLDER
  AsyncrtU64Halves holder;               /* the recorded holder task, 0: none */
  uint32_t holder_permits;
#endif
} AsyncrtSemaphoreExt;

_Static_assert (sizeof (AsyncrtSemaphoreExt) <= sizeof (((AsyncrtSemaphore *) 0)->reserved),
                "AsyncrtSemaphoreExt does not fit the semaphore's reserved padding");
_Static_assert (_Alignof (AsyncrtSemaphoreExt) <= _Alignof (void *),
                "AsyncrtSemaphoreExt needs more alignment than the padding has");

static inline AsyncrtSemaphoreExt *
asyncrt__semaphore_ext (AsyncrtSemaphore *s)
{
  return (AsyncrtSemaphoreExt *) (void *) s->reserved;
}

typedef struct
{
  AsyncrtU64Halves holder;               /* the task holding the lock, 0: none/not a task */
  AsyncrtU64Halves since;                /* when it got it, 0: unknown */
} AsyncrtMutexExt;

_Static_assert (sizeof (AsyncrtMutexExt) <= sizeof (((AsyncrtMutex *) 0)->reserved),
                "AsyncrtMutexExt does not fit the mutex's reserved padding");
_Static_assert (_Alignof (AsyncrtMutexExt) <= _Alignof (void *),
                "AsyncrtMutexExt needs more alignment than the padding has");

static inline AsyncrtMutexExt *
asyncrt__mutex_ext_of_semaphore (AsyncrtSemaphore *s)
{
  AsyncrtMutex *m = ASYNCRT_CONTAINER_OF (s, AsyncrtMutex, sem);
  return (AsyncrtMutexExt *) (void *) m->reserved;
}

/* Semaphore core shared with the mutex (semaphore.c). */
typedef enum
{
  ASYNCRT__RELEASE_ANY,
  ASYNCRT__RELEASE_IF_HELD,     /* mutex unlock: -EPERM unless no permit is free */
} AsyncrtReleaseMode;

int asyncrt__semaphore_release (AsyncrtSemaphore *s, size_t n, AsyncrtReleaseMode mode);
AsyncrtPoll asyncrt__semaphore_acquire_poll (AsyncrtSemaphoreAcquire *a, AsyncrtContext *cx);
/* Marks @s as the semaphore of a mutex (mutex_init): holders go to the mutex. */
void asyncrt__semaphore_make_mutex (AsyncrtSemaphore *s);
/* Describes the wait of acquire @a, as a mutex lock if @s is a mutex's (trace mode). */
void asyncrt__semaphore_describe (AsyncrtSemaphoreAcquire *a, AsyncrtWait *w);

#endif /* ASYNCRT_SYNC_PRIVATE_H */
