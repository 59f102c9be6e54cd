/* libasyncrt - task dumps on the multi-thread scheduler: the ops->dump hook
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The protocol (DESIGN §6), on top of the stop mechanism of runtime.c
 * (asyncrt__mt_dump_request_begin / _end) and the interface of
 * lib/dump/dump-sched-private.h:
 *
 *   1. asyncrt__mt_dump() gets a TRACE request: it makes a round (the request and a
 *      barrier whose deadline is the request's stop deadline), publishes it in
 *      rt->dump_round and begins the stop: the DUMP attention bit is set and every
 *      parked worker unparked through the idle bookkeeping, so each reaches a
 *      scheduling point and calls mt_dump_func() once.  Then it registers
 *      mt_dump_cancel() as the request's canceller.
 *   2. mt_dump_func() arrives at the barrier.  Exactly one worker leads: the last of
 *      all to arrive, or — once the stop deadline passes — the first present worker
 *      to notice.  A worker that waited while the round was cancelled withdraws.
 *   3. The leader takes the request (false: the requester gave up; it just releases
 *      the others), then, while the present workers are stopped: takes their LIFO
 *      slots and local queues, steals what it can from the missing workers' queues
 *      and LIFO slots, notes what is left in their LIFO slots (filled again
 *      meanwhile), drains the injection queue, opens the run's collection — and
 *      releases the barrier.  Each released worker then helps
 *      (asyncrt__dump_run_help) before it runs any task: it walks groups of the owned
 *      list with the leader (the run claims the idle tasks), waits while the leader
 *      records the missing workers and gives every record its place
 *      (asyncrt__dump_run_trace_begin), and takes chunks of the held tasks and traces
 *      them, as the leader does, until none is left.  Once every chunk is taken, the
 *      leader closes the round's help word and waits for the helpers still tracing
 *      their last chunk, then answers the request.
 *   4. The round ends exactly once, by whoever owns its end: the leader (after
 *      answering), or — while no leader exists — whoever cancels the barrier: the
 *      requester through mt_dump_cancel(), or shutdown (asyncrt__mt_dump_shutdown).
 *      Ending = asyncrt__mt_dump_request_end() (waits until no other worker is inside
 *      mt_dump_func), then rt->dump_round cleared, the round freed, the request
 *      released (lib/dump may start the next request from inside that call).
 *
 * Ownership: rt->dump_round is guarded by rt->dump_lock; the barrier's phase decides,
 * under that lock, who ends a round (asyncrt__mt_barrier_cancel() succeeds only while
 * no leader exists, and only once).  The leader alone touches the stopped workers'
 * LIFO slots and queues (the barrier's mutex orders those accesses with the owners');
 * a missing worker's queue and LIFO slot are only stolen from.  Running tasks are never touched: the
 * state word refuses to let them be claimed, and the run records them as RUNNING.
 * Lock order: rt->dump_lock, then a barrier's lock, then a dump queue's.
 *
 * Helping: round->help counts the helpers inside asyncrt__dump_run_help(), with
 * HELP_CLOSED set by the leader once every chunk was handed out.  A released worker
 * enters only if its increment found the word open, and leaves with a decrement
 * (release: its records and traces are then the leader's to read); the leader finishes
 * the run only after it closed the word and saw the count drop to zero (acquire).
 * round->run is written by the leader before it releases the barrier and read by the
 * released workers after (the barrier's mutex orders the two); the round itself
 * outlives every worker inside mt_dump_func (round_end waits for them).  A released
 * worker that helps runs no task until asyncrt__dump_run_help() returns, so the
 * workers that were stopped stay stopped while the owned list is walked.
 */
#include "scheduler/multi_thread/multi-thread-private.h"
#include "dump/dump-sched-private.h"
#include "util/util-private.h"

#include <glib.h>
#include <stdatomic.h>

typedef struct _AsyncrtMtDumpRound
{
  AsyncrtDumpRequest *req;        /* held until released at the round's end */
  AsyncrtMtBarrier barrier;
  AsyncrtDumpRun *run;            /* the leader's, from before the release; or NULL */
  atomic_uint help;               /* helpers inside the run, | HELP_CLOSED (see top) */
} AsyncrtMtDumpRound;

#define HELP_CLOSED (1u << 31)

static AsyncrtMtRuntime *
mt_of (AsyncrtHandle *h)
{
  return (AsyncrtMtRuntime *) (void *) h;
}

/* Which worker is polling @t (any thread, racy but never wrong about a task that
 * stays running). */
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

static void
add_missing (AsyncrtDumpRun *run, AsyncrtHandle *h, unsigned i)
{
  uint64_t start = 0;
  AsyncrtTaskId id = asyncrt__mt_worker_current_task (asyncrt__mt_worker (h, i), &start);
  asyncrt__dump_run_add_missing_worker (run, i, id, id != 0 ? running_for (start) : 0);
}

static void
census (AsyncrtHandle *h, AsyncrtDumpRequest *req, AsyncrtDumpNoTraceReason reason)
{
  unsigned n = asyncrt__mt_num_workers (h);
  AsyncrtDumpRun *run = asyncrt__dump_run_new (h, req, "multi_thread", n);
  asyncrt__dump_run_census (run, reason, worker_of, h);
  if (reason == ASYNCRT_DUMP_NO_TRACE_DEADLINE)
    for (unsigned i = 0; i < n; i++)          /* none of them took the dump up */
      add_missing (run, h, i);
  asyncrt__dump_request_complete (req, asyncrt__dump_run_finish (run));
}

/* The leader's part, between LEAD and the release of the others, then tracing. */
static void
lead (AsyncrtMtWorker *self, AsyncrtMtDumpRound *round)
{
  AsyncrtHandle *h = &self->rt->handle;
  unsigned n = asyncrt__mt_num_workers (h);
  AsyncrtMtBarrier *b = &round->barrier;
  AsyncrtDumpRun *run = asyncrt__dump_run_new (h, round->req, "multi_thread", n);
  AsyncrtTask *t;

  for (unsigned i = 0; i < n; i++)
    {
      AsyncrtMtWorker *w = asyncrt__mt_worker (h, i);
      if (w != self && !asyncrt__mt_barrier_is_present (b, i))
        continue;
      while ((t = asyncrt__mt_worker_take_lifo (w)) != NULL)
        asyncrt__dump_run_add_queued (run, t);
      while ((t = asyncrt__mt_worker_pop_local (w)) != NULL)
        asyncrt__dump_run_add_queued (run, t);
    }
  /* Missing workers keep running; what waits in their queues and LIFO slots can
   * still be stolen (a task the owner takes first meanwhile is listed as queued on
   * it). */
  for (unsigned i = 0; i < n; i++)
    {
      AsyncrtMtWorker *w = asyncrt__mt_worker (h, i);
      if (w == self || asyncrt__mt_barrier_is_present (b, i))
        continue;
      while ((t = asyncrt__mt_worker_steal (w, self)) != NULL)
        {
          asyncrt__dump_run_add_queued (run, t);
          while ((t = asyncrt__mt_worker_pop_local (self)) != NULL)
            asyncrt__dump_run_add_queued (run, t);
        }
      if ((t = asyncrt__mt_worker_steal_lifo (w)) != NULL)
        asyncrt__dump_run_add_queued (run, t);
      const AsyncrtTask *lifo = asyncrt__mt_worker_peek_lifo (w);
      if (lifo != NULL)
        asyncrt__dump_run_note_queued_on (run, (AsyncrtTask *) lifo, i);
    }
  AsyncrtInject *inject = asyncrt__mt_inject (h);
  AsyncrtQueueNode *node;
  while ((node = asyncrt__inject_pop (inject)) != NULL)
    asyncrt__dump_run_add_queued (run, asyncrt__task_from_queue_node (node));

  /* The queues are drained: the stopped workers may help walk the owned list, then
   * trace; they run no task before that is done (asyncrt__dump_run_help). */
  asyncrt__dump_run_collect_open (run, worker_of, h);
  round->run = run;
  asyncrt__mt_barrier_release (b);
  asyncrt__dump_run_collect (run, worker_of, h);

  for (unsigned i = 0; i < n; i++)
    if (asyncrt__mt_worker (h, i) != self && !asyncrt__mt_barrier_is_present (b, i))
      add_missing (run, h, i);

  asyncrt__dump_run_trace (run);
  /* Every chunk is taken: no helper may enter now; wait for those tracing their
   * last one (each a few dozen trace polls). */
  atomic_fetch_or_explicit (&round->help, HELP_CLOSED, memory_order_relaxed);
  for (unsigned k = 0;
       (atomic_load_explicit (&round->help, memory_order_acquire) & ~HELP_CLOSED) != 0; k++)
    asyncrt__wait_step (k);
  asyncrt__dump_request_complete (round->req, asyncrt__dump_run_finish (run));
}

/* A worker the leader released: trace some of the run's tasks (see the top). */
static void
help (AsyncrtMtDumpRound *round)
{
  if (round->run == NULL)
    return;                       /* the requester gave up: nothing to trace */
  if (!(atomic_fetch_add_explicit (&round->help, 1, memory_order_acquire) & HELP_CLOSED))
    asyncrt__dump_run_help (round->run);
  atomic_fetch_sub_explicit (&round->help, 1, memory_order_release);
}

/* The end of a round, by the one who owns it (see the top); rt->dump_round is
 * already cleared unless @clear. */
static void
round_end (AsyncrtMtRuntime *rt, AsyncrtMtDumpRound *round, bool clear, int error)
{
  asyncrt__mt_dump_request_end (&rt->handle);     /* no other worker in mt_dump_func */
  if (clear)
    {
      pthread_mutex_lock (&rt->dump_lock);
      g_assert (rt->dump_round == round);
      rt->dump_round = NULL;
      pthread_mutex_unlock (&rt->dump_lock);
    }
  AsyncrtDumpRequest *req = round->req;
  asyncrt__mt_barrier_clear (&round->barrier);
  g_free (round);
  if (error < 0)
    asyncrt__dump_request_fail (req, error);
  asyncrt__dump_request_release (req);
}

static void
mt_dump_func (AsyncrtMtWorker *w, void *data)
{
  AsyncrtMtDumpRound *round = data;
  switch (asyncrt__mt_barrier_arrive (&round->barrier, w->index))
    {
    case ASYNCRT_MT_BARRIER_LEAD:
      break;
    case ASYNCRT_MT_BARRIER_RELEASED:
      help (round);
      return;
    case ASYNCRT_MT_BARRIER_WITHDRAWN:
    case ASYNCRT_MT_BARRIER_CLOSED:
    default:
      return;                                 /* withdrawn, or too late */
    }
  if (asyncrt__dump_request_take (round->req))
    lead (w, round);
  else
    asyncrt__mt_barrier_release (&round->barrier);   /* the requester gave up */
  round_end (w->rt, round, true, 0);
}

/* Cancels the current round if no worker leads it yet (then ends it); @req: only if
 * it is that request's round (NULL: whichever). */
static void
cancel_round (AsyncrtMtRuntime *rt, AsyncrtDumpRequest *req, int error)
{
  pthread_mutex_lock (&rt->dump_lock);
  AsyncrtMtDumpRound *round = rt->dump_round;
  bool ours = round != NULL && (req == NULL || round->req == req)
              && asyncrt__mt_barrier_cancel (&round->barrier);
  if (ours)
    rt->dump_round = NULL;
  pthread_mutex_unlock (&rt->dump_lock);
  if (ours)
    round_end (rt, round, false, error);      /* the waiting workers withdraw */
}

/* The requester gave up before the request was taken. */
static void
mt_dump_cancel (AsyncrtDumpRequest *req, void *data)
{
  cancel_round (data, req, 0);
}

void
asyncrt__mt_dump_shutdown (AsyncrtHandle *h)
{
  cancel_round (mt_of (h), NULL, -ESHUTDOWN);
}

void
asyncrt__mt_dump (AsyncrtHandle *h, AsyncrtDumpRequest *req)
{
  AsyncrtMtRuntime *rt = mt_of (h);
  if (asyncrt__dump_request_get_kind (req) == ASYNCRT_DUMP_KIND_CENSUS)
    {
      census (h, req, asyncrt__dump_request_get_census_reason (req));
      return;
    }

  AsyncrtMtDumpRound *round = g_new0 (AsyncrtMtDumpRound, 1);
  round->req = req;
  asyncrt__mt_barrier_init (&round->barrier, rt->n_workers,
                            asyncrt__dump_request_get_stop_deadline_ns (req));
  pthread_mutex_lock (&rt->dump_lock);
  /* lib/dump serves one request at a time and each round ends before its release. */
  g_assert (rt->dump_round == NULL);
  rt->dump_round = round;
  pthread_mutex_unlock (&rt->dump_lock);

  int r = asyncrt__mt_dump_request_begin (h, mt_dump_func, round);
  if (r < 0)
    {
      /* Shut down (rounds never overlap, so never -EBUSY).  Unless the shutdown's
       * own cancel got to the round first, it is ours to end. */
      g_assert (r == -ESHUTDOWN);
      pthread_mutex_lock (&rt->dump_lock);
      bool ours = rt->dump_round == round;
      if (ours)
        rt->dump_round = NULL;
      pthread_mutex_unlock (&rt->dump_lock);
      if (ours)
        round_end (rt, round, false, r);
      return;
    }
  if (!asyncrt__dump_request_set_canceller (req, mt_dump_cancel, rt))
    mt_dump_cancel (req, rt);                 /* it gave up before we were ready */
}
