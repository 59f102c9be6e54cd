/* libasyncrt - dump requests: asyncrt_handle_dump() and the dump future
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership and locking.  One process-wide mutex, `dump_lock`, guards every
 * request's refs, phase and result, and the publication of requests on handles
 * (h->dump_state); `dump_cond` (CLOCK_MONOTONIC) is broadcast whenever a phase
 * changes or a request is unpublished.  Dumps are rare, so one lock is plenty, and it
 * is never held while polling, tracing or taking another dump lock — except that
 * asyncrt__dump_barrier_cancel() takes a barrier lock under it (the order is always
 * dump_lock, then barrier lock; nobody takes dump_lock under a barrier lock).
 *
 * h->dump_state points to the handle's one published request or is NULL; it is
 * written under dump_lock (release) and read without it by the schedulers' hot paths
 * (relaxed: a stale NULL only delays the service to the next scheduling point; a
 * non-NULL value is re-read under the lock by asyncrt__dump_request_get()).  A
 * published request holds a reference for the handle, dropped when it is
 * unpublished.  Requests of one runtime are serialised: a requester waits until
 * h->dump_state is NULL before it publishes its own.
 *
 * Phases: PENDING -> TAKEN (a serving thread took it: the current-thread loop, a
 * thread that took the current-thread core, or the multi-thread leader) -> DONE
 * (result published, unpublished).  The requester, at its deadline, moves PENDING ->
 * CANCELLED (and cancels the barrier, so waiting workers withdraw) and returns a
 * census; and at its deadline plus ASYNCRT_DUMP_GRACE_MS moves TAKEN -> ABANDONED
 * and returns a census; a serving thread that finishes an abandoned request frees its
 * result.  On shutdown a PENDING request is cancelled with -ESHUTDOWN; a TAKEN one is
 * waited for (its serving thread finishes: shutdown only cancels tasks, which a
 * trace poll copes with).
 */
#include "dump/dump-private.h"
#include "future/context-private.h"

#include <string.h>

#define WAIT_SLICE_NS 10000000u     /* re-check shutdown / the current-thread core */

static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dump_cond;
static pthread_once_t dump_once = PTHREAD_ONCE_INIT;

static void
dump_cond_init (void)
{
  pthread_condattr_t attr;
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&dump_cond, &attr);
  pthread_condattr_destroy (&attr);
}

static void
lock (void)
{
  pthread_once (&dump_once, dump_cond_init);
  pthread_mutex_lock (&dump_lock);
}

static void
unlock (void)
{
  pthread_mutex_unlock (&dump_lock);
}

static void
wait_until (uint64_t deadline_ns)
{
  uint64_t now = asyncrt__clock_now_ns ();
  uint64_t until = deadline_ns < now + WAIT_SLICE_NS ? deadline_ns : now + WAIT_SLICE_NS;
  struct timespec ts = {
    .tv_sec = (time_t) (until / 1000000000u),
    .tv_nsec = (long) (until % 1000000000u),
  };
  pthread_cond_timedwait (&dump_cond, &dump_lock, &ts);
}

static bool
is_shutdown (AsyncrtHandle *h)
{
  return atomic_load_explicit (&h->is_shutdown, memory_order_acquire);
}

static void
request_free (AsyncrtDumpRequest *req)
{
  asyncrt_dump_free (req->result);
  asyncrt__dump_barrier_clear (&req->barrier);
  g_free (req);
}

/* Under dump_lock.  Drops the handle's reference (never the last: the caller holds
 * one). */
static void
unpublish_locked (AsyncrtDumpRequest *req)
{
  AsyncrtHandle *h = req->handle;
  if (atomic_load_explicit (&h->dump_state, memory_order_relaxed) == req)
    {
      if (h->flavour == ASYNCRT_FLAVOUR_CURRENT_THREAD)
        atomic_store_explicit (&h->dump_serve, NULL, memory_order_release);
      atomic_store_explicit (&h->dump_state, NULL, memory_order_release);
      req->refs--;
    }
  pthread_cond_broadcast (&dump_cond);
}

void
asyncrt__dump_notify (void)
{
  lock ();
  pthread_cond_broadcast (&dump_cond);
  unlock ();
}

AsyncrtDumpRequest *
asyncrt__dump_request_get (AsyncrtHandle *h)
{
  lock ();
  AsyncrtDumpRequest *req = atomic_load_explicit (&h->dump_state, memory_order_acquire);
  if (req != NULL)
    req->refs++;
  unlock ();
  return req;
}

void
asyncrt__dump_request_ref (AsyncrtDumpRequest *req)
{
  lock ();
  req->refs++;
  unlock ();
}

void
asyncrt__dump_request_unref (AsyncrtDumpRequest *req)
{
  if (req == NULL)
    return;
  lock ();
  bool last = --req->refs == 0;
  unlock ();
  if (last)
    request_free (req);
}

bool
asyncrt__dump_request_take (AsyncrtDumpRequest *req)
{
  lock ();
  bool taken = req->phase == ASYNCRT_DUMP_REQUEST_PENDING;
  if (taken)
    {
      req->phase = ASYNCRT_DUMP_REQUEST_TAKEN;
      pthread_cond_broadcast (&dump_cond);
    }
  unlock ();
  return taken;
}

void
asyncrt__dump_request_complete (AsyncrtDumpRequest *req, AsyncrtDump *d)
{
  lock ();
  if (req->phase == ASYNCRT_DUMP_REQUEST_TAKEN)
    {
      req->phase = ASYNCRT_DUMP_REQUEST_DONE;
      req->result = d;
      d = NULL;
    }
  unpublish_locked (req);
  unlock ();
  asyncrt_dump_free (d);                      /* the requester gave up on it */
}

static int
worker_zero (AsyncrtTask *t, void *data)
{
  (void) t;
  (void) data;
  return 0;
}

void
asyncrt__dump_serve (AsyncrtHandle *h)
{
  AsyncrtDumpRequest *req = asyncrt__dump_request_get (h);
  if (req == NULL)
    return;
  if (!asyncrt__dump_request_take (req))
    {
      asyncrt__dump_request_unref (req);
      return;
    }
  AsyncrtDumpRun *run = asyncrt__dump_run_new (h, 1, req->deadline_ns);
  AsyncrtTask *t;
  while ((t = h->ops->pop_queued (h)) != NULL)
    asyncrt__dump_run_add_queued (run, t);
  asyncrt__dump_run_collect_idle (run, worker_zero, NULL);
  asyncrt__dump_run_trace (run);
  asyncrt__dump_request_complete (req, asyncrt__dump_run_finish (run));
  asyncrt__dump_request_unref (req);
}

/* On the blocking pool, for a current-thread request: serve it if no thread owns
 * the core, until it is no longer pending or its deadline passes. */
static void
ct_serve_job (void *data)
{
  AsyncrtDumpRequest *req = data;
  AsyncrtHandle *h = req->handle;
  lock ();
  while (req->phase == ASYNCRT_DUMP_REQUEST_PENDING && !is_shutdown (h)
         && asyncrt__clock_now_ns () < req->deadline_ns)
    {
      unlock ();
      bool served = asyncrt__current_thread_dump_try_serve (h);
      lock ();
      if (served)
        break;
      wait_until (asyncrt__clock_now_ns () + 2000000u);  /* the core owner serves it */
    }
  unlock ();
  asyncrt__dump_request_unref (req);
}

int
asyncrt__dump_blocking (AsyncrtHandle *h, unsigned timeout_ms, AsyncrtDump **out)
{
  if (is_shutdown (h))
    return -ESHUTDOWN;
  const bool mt = h->flavour == ASYNCRT_FLAVOUR_MULTI_THREAD;
  const uint64_t start = asyncrt__clock_now_ns ();
  const uint64_t timeout_ns = (uint64_t) timeout_ms * 1000000u;
  const uint64_t deadline = start + timeout_ns;
  const uint64_t grace_deadline = deadline + (uint64_t) ASYNCRT_DUMP_GRACE_MS * 1000000u;
  AsyncrtDumpRequest *req = NULL;
  bool census = false, end_round = false;
  int r = 0;

  asyncrt__handle_ref (h);
  lock ();
  /* Serialise with other dumps of this runtime. */
  while (atomic_load_explicit (&h->dump_state, memory_order_relaxed) != NULL)
    {
      if (is_shutdown (h))
        {
          r = -ESHUTDOWN;
          goto out_unlock;
        }
      if (asyncrt__clock_now_ns () >= deadline)
        {
          r = -ETIMEDOUT;
          goto out_unlock;
        }
      wait_until (deadline);
    }
  if (is_shutdown (h))
    {
      r = -ESHUTDOWN;
      goto out_unlock;
    }
  req = g_new0 (AsyncrtDumpRequest, 1);
  req->refs = 2;                              /* the requester's and the handle's */
  req->phase = ASYNCRT_DUMP_REQUEST_PENDING;
  req->handle = h;
  req->deadline_ns = deadline;
  req->n_workers = mt ? asyncrt__mt_dump_n_workers (h) : 1;
  /* Leave the last quarter of the time (at most 250 ms) to the leader's tracing. */
  uint64_t trace_share = timeout_ns / 4 < 250000000u ? timeout_ns / 4 : 250000000u;
  asyncrt__dump_barrier_init (&req->barrier, req->n_workers, deadline - trace_share);
  atomic_store_explicit (&h->dump_state, req, memory_order_release);
  if (!mt)
    atomic_store_explicit (&h->dump_serve, asyncrt__dump_serve, memory_order_release);
  unlock ();

  bool kicked = false;        /* multi-thread: the scheduler's request is begun */
  if (mt)
    kicked = asyncrt__mt_dump_kick (h, req) == 0;
  else
    {
      h->ops->unpark (h);
      /* If no thread is in block_on, a blocking-pool thread takes the core and serves
       * the request (never the requester itself: a trace poll may block, and the
       * requester must return by its deadline). */
      lock ();
      req->refs++;
      unlock ();
      if (asyncrt__blocking_spawn (h, ct_serve_job, req) < 0)
        asyncrt__dump_request_unref (req);
    }

  lock ();
  for (;;)
    {
      if (req->phase == ASYNCRT_DUMP_REQUEST_DONE)
        {
          *out = req->result;
          req->result = NULL;
          break;
        }
      uint64_t now = asyncrt__clock_now_ns ();
      if (req->phase == ASYNCRT_DUMP_REQUEST_PENDING)
        {
          bool shut = is_shutdown (h);
          if (shut || now >= deadline)
            {
              req->phase = ASYNCRT_DUMP_REQUEST_CANCELLED;
              /* No leader yet: the waiting workers withdraw, and we end the round.
               * A leader already elected finds the request cancelled and ends it. */
              end_round = kicked && asyncrt__dump_barrier_cancel (&req->barrier);
              unpublish_locked (req);
              if (shut)
                r = -ESHUTDOWN;
              else
                census = true;
              break;
            }
          if (mt && !kicked)
            {
              /* The previous round's leader has not ended it yet: retry. */
              unlock ();
              kicked = asyncrt__mt_dump_kick (h, req) == 0;
              lock ();
              if (kicked)
                continue;
            }
          wait_until (deadline);
        }
      else /* TAKEN */
        {
          if (now >= grace_deadline)
            {
              req->phase = ASYNCRT_DUMP_REQUEST_ABANDONED;
              unpublish_locked (req);
              census = true;
              break;
            }
          wait_until (grace_deadline);
        }
    }

out_unlock:
  unlock ();
  if (end_round)
    asyncrt__mt_dump_cancelled (h, req);
  if (census)
    *out = asyncrt__dump_census (h, req->n_workers);
  asyncrt__dump_request_unref (req);
  asyncrt__handle_unref (h);
  return r;
}

/**
 * asyncrt_handle_dump:
 * @h: the handle of the runtime to dump
 * @timeout_ms: the deadline, in milliseconds from now (0: do not wait)
 * @out: (out): where to store the dump, to free with asyncrt_dump_free()
 *
 * Takes a task dump of the runtime of @h and waits for it.  The runtime's threads
 * take it at their next scheduling point, so this must not be called from one of
 * them: use an #AsyncrtDumpFuture inside tasks and `block_on` futures.  On a
 * current-thread runtime that no thread is running (no thread is in
 * asyncrt_runtime_block_on()), a thread of its blocking pool takes the dump.
 *
 * It returns by the deadline plus about 100 ms, with a complete dump, a partial one
 * (asyncrt_dump_is_complete() is %FALSE: running tasks, missing workers) or a census
 * (see the deadline rule in the section description).  @out is written only on
 * success.  Dumps of one runtime are serialised; the runtime keeps running normally
 * afterwards.
 *
 * Thread safety: any thread that is not running this runtime; while @h is alive (the
 * call may race with asyncrt_runtime_free() from another thread: it then returns
 * `-ESHUTDOWN`, or the dump if it was already being taken).
 *
 * Returns: 0; `-EINVAL` if @h or @out is %NULL; `-EDEADLK` if called from a thread
 *   running this runtime (one of its workers, or inside its `block_on`);
 *   `-ESHUTDOWN` if the runtime is shutting down; `-ETIMEDOUT` if the deadline passed
 *   while another dump of the same runtime was still in progress.
 * Since: 0.1
 */
int
asyncrt_handle_dump (AsyncrtHandle *h, unsigned timeout_ms, AsyncrtDump **out)
{
  if (h == NULL || out == NULL)
    return -EINVAL;
  if (asyncrt__current_handle == h)
    return -EDEADLK;
  return asyncrt__dump_blocking (h, timeout_ms, out);
}

/* ---- the dump future ------------------------------------------------------------------
 * The future runs the blocking dump on the runtime's blocking pool (so the waiting
 * and the symbol resolution happen off the workers) and waits for it.  The job is
 * shared by the future and the pool thread: refs, done, error, dump and waker are
 * guarded by job->lock.  The future may be dropped (cleared) mid-way: the job then
 * finishes alone and frees its dump. */

typedef struct
{
  pthread_mutex_t lock;
  unsigned refs;
  bool done;
  int error;
  AsyncrtDump *dump;
  AsyncrtWaker waker;
  AsyncrtHandle *handle;
  unsigned timeout_ms;
} DumpJob;

static void
job_unref (DumpJob *j)
{
  pthread_mutex_lock (&j->lock);
  bool last = --j->refs == 0;
  pthread_mutex_unlock (&j->lock);
  if (!last)
    return;
  asyncrt_waker_free (&j->waker);
  asyncrt_dump_free (j->dump);
  pthread_mutex_destroy (&j->lock);
  g_free (j);
}

static void
job_run (void *data)
{
  DumpJob *j = data;
  AsyncrtDump *d = NULL;
  int r = asyncrt__dump_blocking (j->handle, j->timeout_ms, &d);
  if (r == 0)
    asyncrt__dump_resolve (d);                /* symbols off the workers */
  pthread_mutex_lock (&j->lock);
  j->done = true;
  j->error = r;
  j->dump = d;
  AsyncrtWaker w = j->waker;
  j->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  pthread_mutex_unlock (&j->lock);
  asyncrt_waker_wake (&w);
  job_unref (j);
}

/**
 * asyncrt_dump_future_init:
 * @f: the future to initialise
 * @h: the handle of the runtime to dump (e.g. asyncrt_handle_current())
 * @timeout_ms: the deadline in milliseconds, counted from the first poll
 *
 * Initialises a dump future.  Nothing happens until it is first polled.  A %NULL @h
 * makes the future finish at its first poll with `-EINVAL`.
 *
 * Thread safety: the thread that owns @f.
 *
 * Since: 0.1
 */
void
asyncrt_dump_future_init (AsyncrtDumpFuture *f, AsyncrtHandle *h, unsigned timeout_ms)
{
  if (f == NULL)
    return;
  memset (f, 0, sizeof *f);
  f->handle = h;
  f->timeout_ms = timeout_ms;
  if (h == NULL)
    f->error = -EINVAL;
}

/**
 * asyncrt_dump_future_poll:
 * @f: an initialised dump future
 * @cx: the context of this poll
 *
 * Polls the dump.  The dump itself is requested and waited for on the runtime's
 * blocking pool, which also resolves its symbols, so formatting it afterwards is
 * cheap even on a worker.  A leaf future: it shows in task dumps.  Once it has
 * returned %ASYNCRT_READY, take the result with asyncrt_dump_future_take() or the
 * error with asyncrt_dump_future_get_error().
 *
 * Thread safety: the thread polling the task or `block_on` future that owns @f.
 *
 * Returns: %ASYNCRT_READY when the dump is taken or failed (also for a %NULL @f),
 *   %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_dump_future_poll (AsyncrtDumpFuture *f, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    return ASYNCRT_PENDING;
  if (f == NULL)
    return ASYNCRT_READY;
  if (f->error != 0 || f->result != NULL)
    return ASYNCRT_READY;
  if (cx == NULL)
    {
      f->error = -EINVAL;
      return ASYNCRT_READY;
    }
  DumpJob *j = f->job;
  if (j == NULL)
    {
      if (f->finished)
        return ASYNCRT_READY;                 /* finished and taken already */
      j = g_new0 (DumpJob, 1);
      pthread_mutex_init (&j->lock, NULL);
      j->refs = 2;
      j->handle = f->handle;
      j->timeout_ms = f->timeout_ms;
      j->waker = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
      int r = is_shutdown (f->handle) ? -ESHUTDOWN
              : asyncrt__blocking_spawn (f->handle, job_run, j);
      if (r < 0)
        {
          j->refs = 1;
          job_unref (j);
          f->error = r;
          return ASYNCRT_READY;
        }
      f->job = j;
      return ASYNCRT_PENDING;
    }
  pthread_mutex_lock (&j->lock);
  if (j->done)
    {
      f->error = j->error;
      f->result = j->dump;
      j->dump = NULL;
      pthread_mutex_unlock (&j->lock);
      job_unref (j);
      f->job = NULL;
      f->finished = 1;
      return ASYNCRT_READY;
    }
  const AsyncrtWaker *w = asyncrt_context_get_waker (cx);
  if (!asyncrt_waker_will_wake (&j->waker, w))
    {
      AsyncrtWaker old = j->waker;
      j->waker = asyncrt_waker_clone (w);
      pthread_mutex_unlock (&j->lock);
      asyncrt_waker_free (&old);
      return ASYNCRT_PENDING;
    }
  pthread_mutex_unlock (&j->lock);
  return ASYNCRT_PENDING;
}

/**
 * asyncrt_dump_future_take:
 * @f: a dump future that returned %ASYNCRT_READY
 *
 * Takes the dump out of the future.
 *
 * Thread safety: the thread that owns @f.
 *
 * Returns: (transfer full) (nullable): the dump, to free with asyncrt_dump_free();
 *   %NULL (with errno set) if the future has not finished (`EAGAIN`), failed (the
 *   error of asyncrt_dump_future_get_error()), or was taken already (`EINVAL`).
 * Since: 0.1
 */
AsyncrtDump *
asyncrt_dump_future_take (AsyncrtDumpFuture *f)
{
  if (f == NULL)
    {
      errno = EINVAL;
      return NULL;
    }
  if (f->result != NULL)
    {
      AsyncrtDump *d = f->result;
      f->result = NULL;
      return d;
    }
  errno = f->error != 0 ? -f->error : !f->finished ? EAGAIN : EINVAL;
  return NULL;
}

/**
 * asyncrt_dump_future_get_error:
 * @f: a dump future
 *
 * Thread safety: the thread that owns @f.
 *
 * Returns: 0 while pending or on success; otherwise the error the dump failed with,
 *   as asyncrt_handle_dump() returns it (`-EINVAL`, `-ESHUTDOWN`, `-ETIMEDOUT`), or
 *   `-EAGAIN` if the blocking pool could not start a thread.  `-EINVAL` for %NULL.
 * Since: 0.1
 */
int
asyncrt_dump_future_get_error (const AsyncrtDumpFuture *f)
{
  return f != NULL ? f->error : -EINVAL;
}

/**
 * asyncrt_dump_future_clear:
 * @f: (nullable): a dump future
 *
 * Releases what the future holds: a dump not taken, and — if it is dropped before it
 * finished — its share of the request, which then completes on its own and is freed.
 * The future may be initialised again afterwards.
 * Safe on a zero-initialised #AsyncrtDumpFuture that was never initialised, and again
 * on a cleared one.
 *
 * Thread safety: the thread that owns @f.
 *
 * Since: 0.1
 */
void
asyncrt_dump_future_clear (AsyncrtDumpFuture *f)
{
  if (f == NULL)
    return;
  DumpJob *j = f->job;
  if (j != NULL)
    {
      pthread_mutex_lock (&j->lock);
      AsyncrtWaker w = j->waker;
      j->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
      pthread_mutex_unlock (&j->lock);
      asyncrt_waker_free (&w);
      job_unref (j);
    }
  asyncrt_dump_free (f->result);
  AsyncrtHandle *h = f->handle;
  unsigned timeout_ms = f->timeout_ms;
  memset (f, 0, sizeof *f);
  f->handle = h;
  f->timeout_ms = timeout_ms;
  f->error = h == NULL ? -EINVAL : 0;
}
