/* libasyncrt - asyncrt_handle_dump(): the blocking requester
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The calling thread submits a request to the runtime's dump queue and sleeps on the
 * queue's condition variable until the request is answered or the deadline rule of
 * request.c says what to return.  It holds a handle reference meanwhile (and the
 * request its own), so the runtime may be freed concurrently: the dump then returns
 * -ESHUTDOWN (or its result, if the dump was already being taken).
 */
#include "dump/dump-private.h"

/**
 * asyncrt_handle_dump:
 * @h: the handle of the runtime to dump
 * @timeout_ms: the deadline, in milliseconds from now; 0 asks for a census (see the
 *   section description)
 * @out: (out): where to store the dump, to free with asyncrt_dump_free()
 *
 * Takes a task dump of the runtime of @h and waits for it.  The runtime's threads
 * take it at their next scheduling point, so this must not be called from one of
 * them: use an #AsyncrtDumpFuture inside tasks and `block_on` futures.  On a
 * current-thread runtime that no thread is running (no thread is in
 * asyncrt_runtime_block_on()), no task code may run anywhere, so the result is a
 * census listing every task with the reason %ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING.
 *
 * With @timeout_ms 0 it returns at once with a census: every task with its state
 * (from its state word) and metadata, no traces, reason
 * %ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO, without asking the runtime's threads
 * anything — cheap, and possible even while another dump of the runtime is in
 * progress.
 *
 * Otherwise it returns by the deadline plus about 100 ms, with a complete dump, a
 * partial one (asyncrt_dump_is_complete() is %FALSE; each untraced task says why) or
 * a census (see the deadline rule in the section description).  @out is written only
 * on success.  Dumps of one runtime are served one at a time, in the order they were
 * asked for; the runtime keeps running normally afterwards, and no task's poll count
 * or idle time changes because of the dump.
 *
 * Thread safety: any thread that is not running this runtime, while the caller holds
 * @h: borrowed from a live runtime, or a reference of its own (asyncrt_handle_ref()),
 * with which the call may race with, or follow, asyncrt_runtime_free(): it then
 * returns `-ESHUTDOWN` (or the dump, if it was already being taken).
 *
 * Returns: 0; `-EINVAL` if @h or @out is %NULL; `-EDEADLK` if called from a thread
 *   running this runtime (one of its workers, or inside its `block_on`);
 *   `-ESHUTDOWN` if the runtime is shutting down or was freed; `-ETIMEDOUT` if the
 *   deadline passed while earlier dumps of the same runtime were still in progress.
 * Since: 0.1
 */
int
asyncrt_handle_dump (AsyncrtHandle *h, unsigned timeout_ms, AsyncrtDump **out)
{
  return asyncrt_handle_dump_full (h, timeout_ms, NULL, out);
}

/**
 * asyncrt_handle_dump_full:
 * @h: the handle of the runtime to dump
 * @timeout_ms: the deadline, in milliseconds from now; 0 asks for a census
 * @opts: (nullable): which tasks to list (see the filtered dumps section), or %NULL
 *   for all of them; copied, so it may be freed as soon as the call returns
 * @out: (out): where to store the dump, to free with asyncrt_dump_free()
 *
 * Takes a task dump as asyncrt_handle_dump() does, listing only the tasks that match
 * the filters of @opts.  Tasks that do not match are never claimed nor trace-polled:
 * the cost of a filtered dump grows with the tasks it lists, plus a walk of the
 * runtime's task list.  A census (timeout 0, or a dump past its deadline) applies
 * the same filters.
 *
 * Thread safety: as asyncrt_handle_dump().
 *
 * Returns: 0, or the errors of asyncrt_handle_dump().
 * Since: 0.2
 */
int
asyncrt_handle_dump_full (AsyncrtHandle *h, unsigned timeout_ms, const AsyncrtDumpOptions *opts,
                          AsyncrtDump **out)
{
  if (h == NULL || out == NULL)
    return -EINVAL;
  if (asyncrt__current_handle == h)
    return -EDEADLK;
  if (atomic_load_explicit (&h->is_shutdown, memory_order_acquire))
    return -ESHUTDOWN;

  asyncrt__handle_ref (h);
  int r = 0;
  AsyncrtDump *d = NULL;
  if (timeout_ms == 0)
    d = asyncrt__dump_census (h, ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO, opts);
  else
    {
      uint64_t deadline = asyncrt__clock_now_ns () + (uint64_t) timeout_ms * 1000000u;
      AsyncrtDumpRequest *req = asyncrt__dump_request_new (h, ASYNCRT_DUMP_KIND_TRACE, deadline,
                                                           ASYNCRT_DUMP_NO_TRACE_NONE);
      asyncrt__dump_request_set_options (req, opts);
      asyncrt__dump_request_submit (req);
      r = asyncrt__dump_request_wait (req, &d);
      asyncrt__dump_request_unref (req);
    }
  asyncrt__handle_unref (h);
  if (r == 0)
    *out = d;
  return r;
}
