/* libasyncrt - the dump future: a requester inside a task or a block_on future
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * At its first poll the future submits its request to the runtime's dump queue (the
 * deadline counts from there) and stores its waker with the request; it is woken when
 * the request is answered, and by a timer at its deadline (and at the grace deadline
 * after it).  It never waits on anything: each poll applies the requester's deadline
 * rule of request.c once.  Nothing runs on the blocking pool, so a saturated pool
 * cannot delay it.
 *
 * The timer runs on the process-wide fallback timer thread, not on the runtime's
 * driver: a multi-thread runtime's timers fire only when one of its workers gets to
 * them, and a dump is wanted most when every worker is stuck.
 *
 * Ownership: the DumpWait (f->job) belongs to the future's owner (one thread at a
 * time): the request reference, the timer, and a handle reference that keeps the
 * runtime's dump queue alive until the future is finished or cleared (the future may
 * outlive asyncrt_runtime_free()).  Symbols are resolved lazily, when the dump is
 * formatted.
 */
#include "dump/dump-private.h"
#include "trace/wait-private.h"

#include <string.h>

typedef struct
{
  AsyncrtHandle *h;                /* a reference */
  AsyncrtDumpRequest *req;         /* the requester's reference */
  AsyncrtSleep timer;
  uint64_t timer_until_ns;         /* what the timer is set for; 0: not set */
} DumpWait;

static void
wait_free (DumpWait *w, bool answered)
{
  if (answered)
    asyncrt__dump_request_unref (w->req);
  else
    asyncrt__dump_request_drop (w->req);    /* withdrawn or abandoned, as at a deadline */
  asyncrt_sleep_clear (&w->timer);
  asyncrt__handle_unref (w->h);
  g_free (w);
}

/* Polls the timer, registering it with the fallback driver (see the top). */
static AsyncrtPoll
timer_poll (DumpWait *w, AsyncrtContext *cx)
{
  AsyncrtDriver *prev = asyncrt__driver_enter (NULL);
  AsyncrtPoll r = asyncrt_sleep_poll (&w->timer, cx);
  asyncrt__driver_exit (prev);
  return r;
}

static bool
is_shutdown (AsyncrtHandle *h)
{
  return atomic_load_explicit (&h->is_shutdown, memory_order_acquire);
}

/**
 * asyncrt_dump_future_init:
 * @f: the future to initialise
 * @h: the handle of the runtime to dump (e.g. asyncrt_handle_current())
 * @timeout_ms: the deadline in milliseconds, counted from the first poll; 0 asks for
 *   a census, as with asyncrt_handle_dump()
 *
 * Initialises a dump future.  Nothing happens until it is first polled.  A %NULL @h
 * makes the future finish at its first poll with `-EINVAL`.  @h must stay valid until
 * the first poll (borrowed from a running runtime, or a reference of the caller's);
 * from then on the future holds a reference of its own until it is cleared.
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
 * asyncrt_dump_future_init_full:
 * @f: the future to initialise
 * @h: the handle of the runtime to dump
 * @timeout_ms: the deadline in milliseconds, counted from the first poll; 0 asks for
 *   a census
 * @opts: (nullable): which tasks to list (see the filtered dumps section), or %NULL
 *   for all of them; copied, so it may be freed as soon as the call returns
 *
 * Initialises a dump future as asyncrt_dump_future_init() does, for a dump that lists
 * only the tasks matching the filters of @opts (see asyncrt_handle_dump_full()).  The
 * future keeps its copy of @opts until asyncrt_dump_future_clear().
 *
 * Thread safety: the thread that owns @f.
 *
 * Since: 0.2
 */
void
asyncrt_dump_future_init_full (AsyncrtDumpFuture *f, AsyncrtHandle *h, unsigned timeout_ms,
                               const AsyncrtDumpOptions *opts)
{
  if (f == NULL)
    return;
  asyncrt_dump_future_init (f, h, timeout_ms);
  f->options = asyncrt__dump_options_dup_filtered (opts);
}

/**
 * asyncrt_dump_future_poll:
 * @f: an initialised dump future
 * @cx: the context of this poll
 *
 * Polls the dump.  The first poll asks the runtime for the dump; the deadline counts
 * from then, and the future is woken when the dump is ready or the deadline passes,
 * following the same rule as asyncrt_handle_dump() (a census after the deadline,
 * `-ETIMEDOUT` if earlier dumps of the runtime took all the time).  Nothing waits on
 * the blocking pool.  A dump of the runtime that polls the future is taken at the
 * runtime's next scheduling point, and lists the future's own task as traced, waiting
 * in asyncrt_dump_future_poll().  A leaf future: it shows in task dumps.  Once it has
 * returned %ASYNCRT_READY, take the result with asyncrt_dump_future_take() or the
 * error with asyncrt_dump_future_get_error().  Symbols are resolved when the dump is
 * first formatted.
 *
 * Thread safety: the thread polling the task or `block_on` future that owns @f.
 *
 * Returns: %ASYNCRT_READY when the dump is taken or failed (also for a %NULL @f),
 *   %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
static ASYNCRT_WAIT_DESCRIBER void
describe_dump_future (const AsyncrtDumpFuture *f)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w != NULL)
    asyncrt__wait_set (w, ASYNCRT_WAIT_DUMP, (uintptr_t) f, NULL);
}

AsyncrtPoll
asyncrt_dump_future_poll (AsyncrtDumpFuture *f, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_dump_future (f);
      return ASYNCRT_PENDING;
    }
  if (f == NULL)
    return ASYNCRT_READY;
  if (f->error != 0 || f->result != NULL || f->finished)
    return ASYNCRT_READY;
  if (cx == NULL)
    {
      f->error = -EINVAL;
      return ASYNCRT_READY;
    }

  DumpWait *w = f->job;
  if (w == NULL)
    {
      AsyncrtHandle *h = f->handle;
      if (is_shutdown (h))
        {
          f->error = -ESHUTDOWN;
          f->finished = 1;
          return ASYNCRT_READY;
        }
      if (f->timeout_ms == 0)
        {
          f->result = asyncrt__dump_census (h, ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO, f->options);
          f->finished = 1;
          return ASYNCRT_READY;
        }
      w = g_new0 (DumpWait, 1);
      w->h = h;
      asyncrt__handle_ref (h);
      uint64_t deadline = asyncrt__clock_now_ns () + (uint64_t) f->timeout_ms * 1000000u;
      w->req = asyncrt__dump_request_new (h, ASYNCRT_DUMP_KIND_TRACE, deadline,
                                          ASYNCRT_DUMP_NO_TRACE_NONE);
      asyncrt__dump_request_set_options (w->req, f->options);
      asyncrt_sleep_init_until (&w->timer, ASYNCRT_TIME_FOREVER);
      f->job = w;
      /* The waker first: an answer that comes at once must find it. */
      asyncrt__dump_request_set_waker (w->req, asyncrt_context_get_waker (cx));
      asyncrt__dump_request_submit (w->req);
    }
  else
    asyncrt__dump_request_set_waker (w->req, asyncrt_context_get_waker (cx));

  for (;;)
    {
      uint64_t until = 0;
      AsyncrtDump *d = NULL;
      int r = asyncrt__dump_request_check (w->req, asyncrt__clock_now_ns (), &d, &until);
      if (r != -EINPROGRESS)
        {
          f->error = r;
          f->result = d;
          f->finished = 1;
          f->job = NULL;
          wait_free (w, true);
          return ASYNCRT_READY;
        }
      if (w->timer_until_ns != until)
        {
          /* Rounded up: once the timer fires, the clock has reached @until. */
          asyncrt_sleep_reset_until (&w->timer, (until + 999999u) / 1000000u);
          w->timer_until_ns = until;
        }
      if (timer_poll (w, cx) == ASYNCRT_PENDING)
        return ASYNCRT_PENDING;
      /* The time has come: apply the rule again. */
    }
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
 *   as asyncrt_handle_dump() returns it (`-EINVAL`, `-ESHUTDOWN`, `-ETIMEDOUT`).
 *   `-EINVAL` for %NULL.
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
 * Releases what the future holds: a dump not taken, its timer, its handle reference,
 * the filters of asyncrt_dump_future_init_full(), and — if it is dropped before it
 * finished — its request, which is withdrawn (or,
 * if the runtime is already taking it, finished and freed by the runtime).  The
 * future may be initialised again afterwards.  Safe after the runtime was freed, on
 * a zero-initialised #AsyncrtDumpFuture that was never initialised, and again on a
 * cleared one.
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
  if (f->job != NULL)
    wait_free (f->job, false);
  asyncrt_dump_free (f->result);
  asyncrt_dump_options_free (f->options);
  AsyncrtHandle *h = f->handle;
  unsigned timeout_ms = f->timeout_ms;
  memset (f, 0, sizeof *f);
  f->handle = h;
  f->timeout_ms = timeout_ms;
  f->error = h == NULL ? -EINVAL : 0;
}
