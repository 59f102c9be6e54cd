/* libasyncrt - asyncrt_spawn_blocking: a task awaiting a function on the blocking pool
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A blocking call is a small task whose future (BlockingCall) waits for the pool
 * thread to run the function.  The BlockingCall is shared by the task and the pool
 * job and freed by whichever lets go last (`refs`, acq_rel).  `running`, `done` and
 * `waker` are guarded by `lock`: the task stores its waker under it, the pool thread
 * sets running when it starts the function (for dumps), then done, and takes the
 * waker under it, then wakes outside the lock.
 */
#include "scheduler/scheduler-private.h"
#include "scheduler/coop-private.h"
#include "trace/wait-private.h"

#include <glib.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct
{
  _Atomic int refs;
  pthread_mutex_t lock;
  bool running;                 /* lock: the pool thread has started the function */
  bool done;
  AsyncrtWaker waker;
  AsyncrtBlockingFunc func;
  void *data;
} BlockingCall;

static void
call_unref (BlockingCall *c)
{
  if (atomic_fetch_sub_explicit (&c->refs, 1, memory_order_acq_rel) != 1)
    return;
  asyncrt_waker_free (&c->waker);
  pthread_mutex_destroy (&c->lock);
  free (c);
}

static ASYNCRT_WAIT_DESCRIBER void
describe_call (BlockingCall *c)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  asyncrt__wait_set (w, ASYNCRT_WAIT_BLOCKING, (uintptr_t) c, NULL);
  pthread_mutex_lock (&c->lock);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_RUNNING, c->running && !c->done);
  if (c->done)
    asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_READY, 1);
  pthread_mutex_unlock (&c->lock);
}

static AsyncrtPoll
blocking_call_poll (void *future, AsyncrtContext *cx)
{
  BlockingCall *c = future;
  if (asyncrt_trace_leaf (cx))
    {
      describe_call (c);
      return ASYNCRT_PENDING;
    }
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;
  const AsyncrtWaker *w = asyncrt_context_get_waker (cx);
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  pthread_mutex_lock (&c->lock);
  bool done = c->done;
  if (!done && !asyncrt_waker_will_wake (&c->waker, w))
    {
      old = c->waker;
      c->waker = asyncrt_waker_clone (w);
    }
  pthread_mutex_unlock (&c->lock);
  asyncrt_waker_free (&old);
  return done ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static void
blocking_call_free (void *future)
{
  BlockingCall *c = future;
  AsyncrtWaker old;
  pthread_mutex_lock (&c->lock);
  old = c->waker;
  c->waker.vtable = NULL;
  c->waker.data = NULL;
  pthread_mutex_unlock (&c->lock);
  asyncrt_waker_free (&old);
  call_unref (c);
}

/* The function has returned, or will never run: wake the task, let go. */
static void
blocking_finish (BlockingCall *c)
{
  pthread_mutex_lock (&c->lock);
  c->done = true;
  AsyncrtWaker w = c->waker;
  c->waker.vtable = NULL;
  c->waker.data = NULL;
  pthread_mutex_unlock (&c->lock);
  asyncrt_waker_wake (&w);
  call_unref (c);
}

static void
blocking_job (void *data)
{
  BlockingCall *c = data;
  pthread_mutex_lock (&c->lock);
  c->running = true;
  pthread_mutex_unlock (&c->lock);
  c->func (c->data);
  blocking_finish (c);
}

/* A shutdown deadline dropped the job before it started: @func never runs.  The task
 * is cancelled already (shutdown cancels tasks first). */
static void
blocking_cancel (void *data)
{
  blocking_finish (data);
}

/**
 * asyncrt_handle_spawn_blocking:
 * @h: a runtime handle
 * @func: the blocking function
 * @data: (nullable): its argument, where it also stores its results
 *
 * Runs @func (@data) on the blocking pool of @h's runtime and returns a join handle
 * that becomes ready when @func has returned.  The join handle is that of a task
 * (named "blocking") and supports the whole #AsyncrtJoinHandle API; its future is
 * internal, so asyncrt_join_handle_get_future() is of no use: read the results from
 * @data.  Aborting it does not interrupt @func.  A shutdown with a deadline
 * (asyncrt_runtime_shutdown_timeout()) names @func in its report if it is still
 * running, and never runs it if it had not started.
 *
 * Thread safety: any thread, until asyncrt_runtime_free() of the runtime returns.
 *
 * Returns: (transfer full) (nullable): the join handle, or %NULL with errno EINVAL
 *   (@h or @func %NULL), ESHUTDOWN (runtime shut down), EAGAIN (no pool thread could
 *   be created) or ENOMEM; @func is then not run.
 * Since: 0.1
 */
AsyncrtJoinHandle *
asyncrt_handle_spawn_blocking (AsyncrtHandle *h, AsyncrtBlockingFunc func, void *data)
{
  if (h == NULL || func == NULL)
    {
      errno = EINVAL;
      return NULL;
    }
  if (atomic_load_explicit (&h->is_shutdown, memory_order_acquire))
    {
      errno = ESHUTDOWN;
      return NULL;
    }
  BlockingCall *c = calloc (1, sizeof *c);
  if (c == NULL)
    {
      errno = ENOMEM;
      return NULL;
    }
  atomic_init (&c->refs, 2);   /* the task's future and the pool job */
  pthread_mutex_init (&c->lock, NULL);
  c->func = func;
  c->data = data;

  AsyncrtSpawnInfo info = { __FILE__, __LINE__, G_STRFUNC, "blocking" };
  AsyncrtJoinHandle *jh = asyncrt__handle_spawn_task (h, &info, blocking_call_poll, c,
                                                      blocking_call_free);
  if (jh == NULL)
    {
      int e = errno;
      pthread_mutex_destroy (&c->lock);
      free (c);
      errno = e;
      return NULL;
    }
  AsyncrtBlockingJob job = { blocking_job, blocking_cancel, c, (const void *) func,
                             asyncrt_join_handle_get_id (jh) };
  int r = asyncrt__blocking_spawn_job (h, &job);
  if (r < 0)
    {
      call_unref (c);                  /* the job's reference */
      asyncrt_join_handle_abort (jh);
      asyncrt_join_handle_free (jh);
      errno = -r;
      return NULL;
    }
  return jh;
}

/**
 * asyncrt_spawn_blocking:
 * @func: the blocking function
 * @data: (nullable): its argument, where it also stores its results
 *
 * Like asyncrt_handle_spawn_blocking() on the runtime running on this thread.
 *
 * Thread safety: any thread running a runtime (a task or a block_on future).
 *
 * Returns: (transfer full) (nullable): the join handle, or %NULL with errno ESRCH
 *   outside a runtime, or as asyncrt_handle_spawn_blocking().
 * Since: 0.1
 */
AsyncrtJoinHandle *
asyncrt_spawn_blocking (AsyncrtBlockingFunc func, void *data)
{
  AsyncrtHandle *h = asyncrt__current_handle;
  if (h == NULL)
    {
      errno = ESRCH;
      return NULL;
    }
  return asyncrt_handle_spawn_blocking (h, func, data);
}
