/* libasyncrt - AsyncrtMutex: a semaphore with one permit
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The mutex is locked exactly when its semaphore has no free permit.  Unlocking
 * releases the permit, which semaphore.c grants straight to the head waiter (FIFO
 * hand-off: the mutex never appears unlocked while someone waits, so a late
 * try_lock cannot barge in).  All state lives in the semaphore and its lock; the
 * semaphore knows it is a mutex's and keeps the holder task and since when in the
 * mutex's reserved padding (semaphore.c, "Holders").
 */
#include "sync/sync-private.h"

/**
 * asyncrt_mutex_init:
 * @m: the mutex to initialise
 *
 * Initialises an unlocked async mutex.  %NULL is ignored.
 *
 * Thread safety: @m must not be in use by any other thread.
 *
 * Since: 0.1
 */
void
asyncrt_mutex_init (AsyncrtMutex *m)
{
  if (m == NULL)
    return;
  memset (m, 0, sizeof *m);
  asyncrt_semaphore_init (&m->sem, 1);
  asyncrt__semaphore_make_mutex (&m->sem);
}

/**
 * asyncrt_mutex_set_name:
 * @m: an initialised mutex
 * @name: (nullable): its name, copied; %NULL removes it
 *
 * Names the mutex for task dumps: a task waiting for it then shows
 * `waits for mutex "NAME" held by task 2 for 490.127 ms`, the dump's diagnosis names
 * it, and the JSON form and asyncrt_wait_get_object_name() carry the name.  The
 * name may hold anything (it is escaped wherever it is shown); it is freed by
 * asyncrt_mutex_clear().  Call it after asyncrt_mutex_init(), which forgets any
 * name.
 *
 * Thread safety: any thread, also while the mutex is held or waited for.
 *
 * Returns: 0, or -EINVAL if @m is %NULL.
 * Since: 0.2
 */
int
asyncrt_mutex_set_name (AsyncrtMutex *m, const char *name)
{
  if (m == NULL)
    return -EINVAL;
  return asyncrt_semaphore_set_name (&m->sem, name);
}

/**
 * asyncrt_mutex_clear:
 * @m: (nullable): a mutex
 *
 * Releases the resources of @m.  No lock future may still be waiting on it.  %NULL
 * is ignored.
 * Safe on a zero-initialised #AsyncrtMutex that was never initialised, and again on a
 * cleared one.
 *
 * Thread safety: once no other thread uses @m.
 *
 * Since: 0.1
 */
void
asyncrt_mutex_clear (AsyncrtMutex *m)
{
  if (m == NULL)
    return;
  asyncrt_semaphore_clear (&m->sem);
}

/**
 * asyncrt_mutex_try_lock:
 * @m: a mutex
 *
 * Locks @m if it is unlocked (and so nobody waits for it).
 *
 * Thread safety: any thread.
 *
 * Returns: 0 when locked; -EBUSY if @m is held; -EINVAL if @m is %NULL.
 * Since: 0.1
 */
int
asyncrt_mutex_try_lock (AsyncrtMutex *m)
{
  if (m == NULL)
    return -EINVAL;
  int r = asyncrt_semaphore_try_acquire (&m->sem, 1);
  return r == -EAGAIN ? -EBUSY : r;
}

/**
 * asyncrt_mutex_unlock:
 * @m: a locked mutex
 *
 * Unlocks @m.  If a lock future waits, the mutex passes directly to the
 * longest-waiting one, which is woken.  The mutex is not owned by a thread or a task:
 * any holder may unlock it, from any thread.
 *
 * Thread safety: any thread.
 *
 * Returns: 0; -EPERM if @m is not locked; -EINVAL if @m is %NULL.
 * Since: 0.1
 */
int
asyncrt_mutex_unlock (AsyncrtMutex *m)
{
  if (m == NULL)
    return -EINVAL;
  return asyncrt__semaphore_release (&m->sem, 1, ASYNCRT__RELEASE_IF_HELD);
}

/**
 * asyncrt_mutex_is_locked:
 * @m: a mutex
 *
 * Thread safety: any thread; the answer may be stale at once.
 *
 * Returns: %TRUE if @m is locked (%FALSE for %NULL).
 * Since: 0.1
 */
bool
asyncrt_mutex_is_locked (AsyncrtMutex *m)
{
  if (m == NULL)
    return false;
  return asyncrt_semaphore_get_available_permits (&m->sem) == 0;
}

/**
 * asyncrt_mutex_get_holder_id:
 * @m: a mutex
 *
 * The task that holds @m: the one that locked it (asyncrt_mutex_lock_poll(),
 * asyncrt_mutex_try_lock()), or the waiter an unlock handed it to.
 *
 * Thread safety: any thread; the answer may be stale at once.
 *
 * Returns: the holder's task id; 0 if @m is unlocked, was locked outside any task
 *   (a `block_on` future or a plain thread), or is %NULL.
 * Since: 0.2
 */
AsyncrtTaskId
asyncrt_mutex_get_holder_id (AsyncrtMutex *m)
{
  if (m == NULL)
    return 0;
  asyncrt__sync_lock (&m->sem.lock);
  AsyncrtTaskId id = asyncrt__u64_get (&asyncrt__mutex_ext_of_semaphore (&m->sem)->holder);
  asyncrt__sync_unlock (&m->sem.lock);
  return id;
}

/**
 * asyncrt_mutex_lock_init:
 * @l: the future to initialise
 * @m: the mutex; it must outlive @l until asyncrt_mutex_lock_clear()
 *
 * Prepares to lock @m.
 *
 * Thread safety: any thread; @l itself is used by one thread at a time.
 *
 * Since: 0.1
 */
void
asyncrt_mutex_lock_init (AsyncrtMutexLock *l, AsyncrtMutex *m)
{
  if (l == NULL)
    return;
  memset (l, 0, sizeof *l);
  asyncrt_semaphore_acquire_init (&l->acquire, m != NULL ? &m->sem : NULL, 1);
}

/**
 * asyncrt_mutex_lock_poll:
 * @l: an initialised lock future
 * @cx: the context of this poll
 *
 * Waits until @l holds the mutex; waiters are served in FIFO order.  Check
 * asyncrt_mutex_lock_result() (it fails only on bad arguments), then unlock with
 * asyncrt_mutex_unlock().  A %NULL @l is ready at once.
 *
 * Thread safety: the thread polling the future; the mutex may be used from any
 * thread meanwhile.
 *
 * Returns: %ASYNCRT_READY when finished, %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
static ASYNCRT_WAIT_DESCRIBER void
describe_lock (AsyncrtMutexLock *l)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  if (l == NULL || l->acquire.sem == NULL)
    asyncrt__wait_set (w, ASYNCRT_WAIT_MUTEX, 0, NULL);
  else
    asyncrt__semaphore_describe (&l->acquire, w);
}

AsyncrtPoll
asyncrt_mutex_lock_poll (AsyncrtMutexLock *l, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_lock (l);
      return ASYNCRT_PENDING;
    }
  if (l == NULL)
    return ASYNCRT_READY;
  return asyncrt__semaphore_acquire_poll (&l->acquire, cx);
}

/**
 * asyncrt_mutex_lock_result:
 * @l: a lock future
 *
 * Thread safety: the thread that owns @l.
 *
 * Returns: 0 when the mutex is held by the caller; -EINVAL for a %NULL @l or
 *   mutex; -EINPROGRESS before the future finished.
 * Since: 0.1
 */
int
asyncrt_mutex_lock_result (const AsyncrtMutexLock *l)
{
  if (l == NULL)
    return -EINVAL;
  return asyncrt_semaphore_acquire_result (&l->acquire);
}

/**
 * asyncrt_mutex_lock_clear:
 * @l: (nullable): a lock future
 *
 * Stops waiting.  If the mutex had already been handed to @l but @l had not returned
 * %ASYNCRT_READY, it is passed on to the next waiter (or unlocked).  Clearing a
 * future that finished does <emphasis>not</emphasis> unlock: call
 * asyncrt_mutex_unlock().  %NULL is ignored.
 * Safe on a zero-initialised #AsyncrtMutexLock that was never initialised, and again on
 * a cleared one.
 *
 * Thread safety: any thread, but not while @l is being polled.
 *
 * Since: 0.1
 */
void
asyncrt_mutex_lock_clear (AsyncrtMutexLock *l)
{
  if (l == NULL)
    return;
  asyncrt_semaphore_acquire_clear (&l->acquire);
}
