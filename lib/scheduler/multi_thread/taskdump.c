/* libasyncrt - task dumps on the multi-thread scheduler
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The protocol (DESIGN §6), on top of the scheduler's dump hooks (see the dump
 * section of multi-thread-private.h) and lib/dump:
 *
 *   1. The requester (request.c) publishes a request and calls
 *      asyncrt__mt_dump_kick(): asyncrt__mt_dump_request_begin() sets the DUMP
 *      attention bit and unparks every parked worker through the idle bookkeeping,
 *      so each reaches a scheduling point and calls mt_dump_func() once.
 *   2. mt_dump_func() arrives at the request's barrier (barrier.c) with the
 *      request's barrier deadline.  Exactly one worker leads: the last of all to
 *      arrive, or — once the deadline passes — the first present worker to notice.
 *      A worker that waited while the request was cancelled withdraws its arrival.
 *   3. The leader takes the request (PENDING -> TAKEN; if the requester gave up it
 *      just releases the others), then, while the present workers are stopped:
 *      takes their LIFO slots and local queues, steals what it can from the missing
 *      workers' queues, drains the injection queue, collects the idle tasks under the
 *      owned-list lock, records the missing workers (the task each is running and
 *      for how long) — and releases the barrier.  Then it traces the tasks it holds,
 *      with the other workers running again, flushes the deferred wakes and
 *      publishes the dump.
 *   4. Whoever ends the scheduler's request calls asyncrt__mt_dump_request_end()
 *      exactly once: the leader (from inside mt_dump_func, after releasing the
 *      others), or — if the round was cancelled before any leader existed — the
 *      requester (asyncrt__mt_dump_cancelled).  That request holds a reference on
 *      the AsyncrtDumpRequest, dropped right after the end.
 *
 * Rounds of one runtime never overlap: asyncrt__mt_dump_request_begin() refuses a new
 * request (-EBUSY, the requester retries when notified) until the previous
 * asyncrt__mt_dump_request_end() has seen every worker leave the old func.
 *
 * Ownership: the leader alone touches the stopped workers' LIFO slots and queues
 * (the barrier's mutex orders those accesses with the owners'); a missing worker's
 * queue is only stolen from (the queue allows any thread to steal).  Running tasks
 * are never touched: the state word refuses the notified-for-tracing transition, and
 * the collector lists them as RUNNING.
 */
#include "dump/dump-private.h"
#include "scheduler/multi_thread/multi-thread-private.h"

static void
round_end (AsyncrtHandle *h, AsyncrtDumpRequest *req)
{
  asyncrt__mt_dump_request_end (h);
  asyncrt__dump_request_unref (req);
  asyncrt__dump_notify ();                    /* a requester may be waiting to kick */
}

unsigned
asyncrt__mt_dump_n_workers (AsyncrtHandle *h)
{
  return asyncrt__mt_num_workers (h);
}

static int
worker_of (AsyncrtTask *t, void *data)
{
  AsyncrtHandle *h = data;
  unsigned n = asyncrt__mt_num_workers (h);
  for (unsigned i = 0; i < n; i++)
    if (asyncrt__mt_worker_current_task (asyncrt__mt_worker (h, i), NULL) == t->id)
      return (int) i;
  return -1;
}

static uint64_t
running_for (uint64_t start_ns)
{
  uint64_t now = asyncrt__clock_now_ns ();
  /* The start is read from a coarse clock: never report 0 for a running task. */
  return start_ns != 0 && now > start_ns ? now - start_ns : 1;
}

void
asyncrt__mt_dump_add_missing (AsyncrtHandle *h, AsyncrtDumpBarrier *b, AsyncrtDump *d)
{
  unsigned n = asyncrt__mt_num_workers (h);
  for (unsigned i = 0; i < n; i++)
    {
      if (b != NULL && asyncrt__dump_barrier_is_present (b, i))
        continue;
      uint64_t start = 0;
      AsyncrtTaskId id = asyncrt__mt_worker_current_task (asyncrt__mt_worker (h, i), &start);
      asyncrt__dump_add_missing_worker (d, i, id, id != 0 ? running_for (start) : 0);
      /* Tell which worker runs each RUNNING task of a census. */
      for (size_t k = 0; id != 0 && k < d->tasks->len; k++)
        {
          struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, k);
          if (t->id == id && t->state == ASYNCRT_TASK_STATE_RUNNING)
            t->worker = (int) i;
        }
    }
}

/* The leader's part, between LEAD and the release of the others. */
static void
lead (AsyncrtMtWorker *self, AsyncrtDumpRequest *req)
{
  AsyncrtHandle *h = req->handle;
  unsigned n = asyncrt__mt_num_workers (h);
  AsyncrtDumpBarrier *b = &req->barrier;
  AsyncrtDumpRun *run = asyncrt__dump_run_new (h, n, req->deadline_ns);
  AsyncrtTask *t;

  for (unsigned i = 0; i < n; i++)
    {
      AsyncrtMtWorker *w = asyncrt__mt_worker (h, i);
      if (w != self && !asyncrt__dump_barrier_is_present (b, i))
        continue;
      while ((t = asyncrt__mt_worker_take_lifo (w)) != NULL)
        asyncrt__dump_run_add_queued (run, t);
      while ((t = asyncrt__mt_worker_pop_local (w)) != NULL)
        asyncrt__dump_run_add_queued (run, t);
    }
  /* Missing workers keep running; what waits in their queues can still be stolen
   * (their LIFO slot cannot: those tasks are listed as scheduled, untraced). */
  for (unsigned i = 0; i < n; i++)
    {
      AsyncrtMtWorker *w = asyncrt__mt_worker (h, i);
      if (w == self || asyncrt__dump_barrier_is_present (b, i))
        continue;
      while ((t = asyncrt__mt_worker_steal (w, self)) != NULL)
        {
          asyncrt__dump_run_add_queued (run, t);
          while ((t = asyncrt__mt_worker_pop_local (self)) != NULL)
            asyncrt__dump_run_add_queued (run, t);
        }
    }
  AsyncrtInject *inject = asyncrt__mt_inject (h);
  AsyncrtQueueNode *node;
  while ((node = asyncrt__inject_pop (inject)) != NULL)
    asyncrt__dump_run_add_queued (run, asyncrt__task_from_queue_node (node));

  asyncrt__dump_run_collect_idle (run, worker_of, h);

  for (unsigned i = 0; i < n; i++)
    {
      AsyncrtMtWorker *w = asyncrt__mt_worker (h, i);
      if (w == self || asyncrt__dump_barrier_is_present (b, i))
        continue;
      uint64_t start = 0;
      AsyncrtTaskId id = asyncrt__mt_worker_current_task (w, &start);
      asyncrt__dump_run_add_missing_worker (run, i, id, id != 0 ? running_for (start) : 0);
    }

  /* Everything is collected: the others may run again while we trace. */
  asyncrt__dump_barrier_release (b);
  asyncrt__dump_run_trace (run);
  asyncrt__dump_request_complete (req, asyncrt__dump_run_finish (run));
}

static void
mt_dump_func (AsyncrtMtWorker *w, void *data)
{
  AsyncrtDumpRequest *req = data;
  if (asyncrt__dump_barrier_arrive (&req->barrier, w->index) != ASYNCRT_DUMP_BARRIER_LEAD)
    return;                                   /* released, withdrawn, or too late */
  if (asyncrt__dump_request_take (req))
    lead (w, req);
  else
    asyncrt__dump_barrier_release (&req->barrier);   /* the requester gave up */
  /* The leader ends the scheduler's request (it waits for the others to leave). */
  round_end (req->handle, req);
}

int
asyncrt__mt_dump_kick (AsyncrtHandle *h, AsyncrtDumpRequest *req)
{
  asyncrt__dump_request_ref (req);            /* held by the scheduler's request */
  int r = asyncrt__mt_dump_request_begin (h, mt_dump_func, req);
  if (r < 0)
    asyncrt__dump_request_unref (req);
  return r;
}

void
asyncrt__mt_dump_cancelled (AsyncrtHandle *h, AsyncrtDumpRequest *req)
{
  round_end (h, req);
}
