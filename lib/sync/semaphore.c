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
 *
 * Holders (for dumps; all under the lock, plain stores, in the reserved padding, see
 * sync-private.h).  Every acquisition and release goes through record_acquired() and
 * record_released(), on whichever path it happens (poll, try_acquire, a grant to a
 * waiter by a release or a clear, a release, a granted waiter's clear):
 * - a mutex (ASYNCRT__SEM_IS_MUTEX) records its one holder exactly: the acquiring
 *   task (the waiter's task for a hand-off, 0 outside a task) and since when (the
 *   start of the poll that locked it, or now for a hand-off); an unlock clears it.
 * - a semaphore records one holder task with its permits.  Permits acquired by
 *   another task while the holder holds some, or outside any task (or anywhere where
 *   there is no room for a holder), count as unrecorded.  A release comes first out
 *   of the releasing task's own recorded permits, then out of the unrecorded ones; a
 *   release beyond both (a task giving back another's permits, or adding new ones)
 *   makes the record SUSPECT until the recorded holder has none left.  A dump
 *   trusts the holder to be the only one only without unrecorded permits or
 *   suspicion (fact OTHER_HOLDERS).
 */
#include "sync/sync-private.h"
#include "scheduler/coop-private.h"

/* ---- holders (under the lock) ---------------------------------------------------------- */

static inline void
mutex_set_holder (AsyncrtSemaphore *s, AsyncrtTaskId task, uint64_t since_ns)
{
  AsyncrtMutexExt *m = asyncrt__mutex_ext_of_semaphore (s);
  asyncrt__u64_set (&m->holder, task);
  asyncrt__u64_set (&m->since, since_ns);
}

/* A semaphore (not a mutex) hands @n permits to @task (0: not a task). */
static void
semaphore_add_holder (AsyncrtSemaphoreExt *x, AsyncrtTaskId task, size_t n)
{
#ifdef ASYNCRT__SEM_HAS_HOLDER
  if (task != 0)
    {
      uint64_t holder = asyncrt__u64_get (&x->holder);
      if (x->holder_permits == 0 || holder == task)
        {
          asyncrt__u64_set (&x->holder, task);
          x->holder_permits += (uint32_t) n;      /* n <= MAX_PERMITS, and so the sum */
          return;
        }
    }
#else
  (void) task;
#endif
  x->unrecorded = n > UINT32_MAX - x->unrecorded ? UINT32_MAX : x->unrecorded + (uint32_t) n;
}

static void
record_acquired (AsyncrtSemaphore *s, AsyncrtTaskId task, uint64_t since_ns, size_t n)
{
  AsyncrtSemaphoreExt *x = asyncrt__semaphore_ext (s);
  if (x->flags & ASYNCRT__SEM_IS_MUTEX)
    mutex_set_holder (s, task, since_ns);
  else
    semaphore_add_holder (x, task, n);
}

static void
record_released (AsyncrtSemaphore *s, AsyncrtTaskId task, size_t n)
{
  AsyncrtSemaphoreExt *x = asyncrt__semaphore_ext (s);
  if (x->flags & ASYNCRT__SEM_IS_MUTEX)
    {
      mutex_set_holder (s, 0, 0);
      return;
    }
#ifdef ASYNCRT__SEM_HAS_HOLDER
  if (task != 0 && x->holder_permits > 0 && asyncrt__u64_get (&x->holder) == task)
    {
      size_t k = n < x->holder_permits ? n : x->holder_permits;
      x->holder_permits -= (uint32_t) k;
      n -= k;
    }
#else
  (void) task;
#endif
  if (n > 0 && x->unrecorded > 0)
    {
      size_t k = n < x->unrecorded ? n : x->unrecorded;
      x->unrecorded -= (uint32_t) k;
      n -= k;
    }
#ifdef ASYNCRT__SEM_HAS_HOLDER
  if (n > 0 && x->holder_permits > 0)
    x->flags |= ASYNCRT__SEM_SUSPECT;
  if (x->holder_permits == 0)
    {
      asyncrt__u64_set (&x->holder, 0);
      x->flags &= ~(uint32_t) ASYNCRT__SEM_SUSPECT;
    }
#endif
}

/* The calling task acquires @n permits now (a mutex: since the start of its poll,
 * which costs no clock read). */
static inline void
record_acquired_by_current (AsyncrtSemaphore *s, size_t n)
{
  AsyncrtSemaphoreExt *x = asyncrt__semaphore_ext (s);
  struct _AsyncrtTask *t = asyncrt__task_current ();
  if (x->flags & ASYNCRT__SEM_IS_MUTEX)
    mutex_set_holder (s, asyncrt__task_get_id (t), asyncrt__task_poll_start_ns (t));
  else
    semaphore_add_holder (x, asyncrt__task_get_id (t), n);
}

static inline AsyncrtTaskId
current_task_id (void)
{
  return asyncrt__task_get_id (asyncrt__task_current ());
}

void
asyncrt__semaphore_make_mutex (AsyncrtSemaphore *s)
{
  asyncrt__semaphore_ext (s)->flags |= ASYNCRT__SEM_IS_MUTEX;
}

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
  AsyncrtSemaphoreExt *x = asyncrt__semaphore_ext (s);
  g_free (x->name);
  x->name = NULL;
  asyncrt__sync_lock_destroy (&s->lock);
}

/**
 * asyncrt_semaphore_set_name:
 * @s: an initialised semaphore
 * @name: (nullable): its name, copied; %NULL removes it
 *
 * Names the semaphore for task dumps: a task waiting for its permits shows
 * `waits for 1 permit of semaphore "NAME"`, and the JSON form and
 * asyncrt_wait_get_object_name() carry the name.  The name may hold anything (it is
 * escaped wherever it is shown); it is freed by asyncrt_semaphore_clear().  Call it
 * after asyncrt_semaphore_init(), which forgets any name.
 *
 * Thread safety: any thread, also while tasks wait on @s.
 *
 * Returns: 0, or -EINVAL if @s is %NULL.
 * Since: 0.2
 */
int
asyncrt_semaphore_set_name (AsyncrtSemaphore *s, const char *name)
{
  if (s == NULL)
    return -EINVAL;
  asyncrt__sync_set_name (&s->lock, &asyncrt__semaphore_ext (s)->name, name);
  return 0;
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

/* Under the lock: hand free permits to the head waiters while they fit.  A waiter
 * granted its permits holds them from now on (a mutex: since now). */
static void
grant_waiters (AsyncrtSemaphore *s, AsyncrtWakeList *wl)
{
  uint64_t now = 0;
  while (s->waiters.head != NULL && s->waiters.head->n <= s->permits)
    {
      AsyncrtSyncWaiter *w = s->waiters.head;
      s->permits -= w->n;
      if (now == 0)
        {
          now = asyncrt__task_poll_start_ns (asyncrt__task_current ());
          if (now == 0)
            now = asyncrt__clock_now_ns ();
        }
      record_acquired (s, asyncrt__waiter_task_id (w), now, w->n);
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
      record_released (s, current_task_id (), n);
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
      record_acquired_by_current (s, n);
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
          record_acquired_by_current (s, a->waiter.n);
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
/* Trace mode: what acquire @a waits for, read under the semaphore's lock. */
void
asyncrt__semaphore_describe (AsyncrtSemaphoreAcquire *a, AsyncrtWait *w)
{
  AsyncrtSemaphore *s = a->sem;
  if (s == NULL)
    return;
  AsyncrtSemaphoreExt *x = asyncrt__semaphore_ext (s);
  asyncrt__sync_lock (&s->lock);
  if (x->flags & ASYNCRT__SEM_IS_MUTEX)
    {
      AsyncrtMutexExt *m = asyncrt__mutex_ext_of_semaphore (s);
      asyncrt__wait_set (w, ASYNCRT_WAIT_MUTEX, (uintptr_t) ASYNCRT_CONTAINER_OF (s, AsyncrtMutex, sem),
                         x->name);
      asyncrt__wait_set_holder (w, asyncrt__u64_get (&m->holder));
      asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_AVAILABLE, (int64_t) s->permits);
      uint64_t since = asyncrt__u64_get (&m->since);
      if (since != 0 && s->permits == 0)
        {
          uint64_t now = asyncrt__clock_now_ns ();
          asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_HELD_NS,
                                  (int64_t) (now > since ? now - since : 0));
        }
    }
  else
    {
      asyncrt__wait_set (w, ASYNCRT_WAIT_SEMAPHORE, (uintptr_t) s, x->name);
      asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_AVAILABLE, (int64_t) s->permits);
      asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_REQUESTED, (int64_t) a->waiter.n);
      asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_CLOSED, s->closed != 0);
      bool others = x->unrecorded > 0;
#ifdef ASYNCRT__SEM_HAS_HOLDER
      if (x->holder_permits > 0)
        {
          asyncrt__wait_set_holder (w, asyncrt__u64_get (&x->holder));
          asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_HOLDER_PERMITS, x->holder_permits);
        }
      others = others || (x->flags & ASYNCRT__SEM_SUSPECT);
#endif
      asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_OTHER_HOLDERS, others);
    }
  asyncrt__waiter_describe (&a->waiter, w);
  asyncrt__sync_unlock (&s->lock);
}

static ASYNCRT_WAIT_DESCRIBER void
describe_acquire (AsyncrtSemaphoreAcquire *a)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  if (a == NULL)
    asyncrt__wait_set (w, ASYNCRT_WAIT_SEMAPHORE, 0, NULL);
  else
    asyncrt__semaphore_describe (a, w);
}

AsyncrtPoll
asyncrt_semaphore_acquire_poll (AsyncrtSemaphoreAcquire *a, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_acquire (a);
      return ASYNCRT_PENDING;
    }
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
          record_released (s, asyncrt__waiter_task_id (&a->waiter), a->waiter.n);
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
