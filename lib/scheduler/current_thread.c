/* libasyncrt - the current-thread scheduler
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything runs on the one thread inside asyncrt_runtime_block_on() (the "core
 * owner").  Ownership:
 *   - core_taken (atomic exchange, acq_rel): at most one thread owns the core; the
 *     owner alone touches the local queue and `tick`;
 *   - the local queue: an intrusive FIFO of task queue nodes, owner only;
 *   - the remote queue (AsyncrtInject, its own mutex): wakes and spawns from other
 *     threads, and from this thread while no thread owns the core; closed at
 *     shutdown, after which schedule() gives the notified reference back;
 *   - woken (atomic, release on wake / acquire-exchange on the owner): the block_on
 *     future's waker was woken;
 *   - ct_current (thread-local): the core this thread owns, so a wake on the owner
 *     thread goes to the local queue without any atomic or lock.
 * A wake from another thread pushes to the remote queue and then unparks the driver
 * (eventfd), so a park that started before the push returns.
 *
 * Task dumps (ops->dump, see lib/dump/dump-sched-private.h) are served by the thread
 * in block_on, between two polls, or as it leaves block_on; a request it cannot serve
 * because no thread is in block_on is answered at once with a census (no task code
 * runs anywhere else).  dump_lock guards in_block_on and dump_req (the request to
 * serve, also read without the lock, relaxed, as the loop's cheap check): the thread
 * entering or leaving block_on and the requester agree under it on who answers.
 *
 * Native stacks and stalls (ops->worker_activity): the thread in block_on is worker 0.
 * It attaches the runtime's sample slot (immutable after build; NULL when native
 * stacks are off) for as long as it is in block_on, so a dump from another thread
 * can sample it while a task blocks it.  Only when a stall detector watches the
 * runtime (h->stall, set before the runtime is handed out) does the loop publish the
 * task it polls and the start of that poll (watch_task_id, release, after
 * watch_start_ns, relaxed; written by the owner only), as multi-thread workers always
 * do: the loop is compiled twice (run_queued with a constant `watched`) and picks one
 * per batch, so a runtime without a detector pays nothing per poll.
 */
#include "scheduler/scheduler-private.h"
#include "scheduler/coop-private.h"
#include "future/context-private.h"
#include "dump/dump-sched-private.h"
#include "sample/sample-private.h"

#include <glib.h>
#include <sched.h>
#include <stdlib.h>

#define CT_DEFAULT_EVENT_INTERVAL 31u

typedef struct
{
  AsyncrtHandle base;   /* first: the runtime and the handle are this struct */

  atomic_bool core_taken;
  atomic_bool woken;
  unsigned event_interval;

  /* core owner only */
  AsyncrtQueueNode *local_head;
  AsyncrtQueueNode *local_tail;
  size_t local_len;
  uint32_t tick;

  AsyncrtInject remote;

  /* Task dumps (see the top). */
  pthread_mutex_t dump_lock;
  bool in_block_on;                              /* guarded by dump_lock */
  _Atomic (AsyncrtDumpRequest *) dump_req;       /* written under dump_lock */

  /* Native stacks and stalls (see the top). */
  AsyncrtSampleSlot *sample_slot;
  _Atomic uint64_t watch_task_id;
  _Atomic uint64_t watch_start_ns;
} CurrentThread;

static _Thread_local CurrentThread *ct_current;

static inline CurrentThread *
ct_from_handle (AsyncrtHandle *h)
{
  return (CurrentThread *) (void *) h;
}

static void
local_push (CurrentThread *ct, AsyncrtTask *t)
{
  AsyncrtQueueNode *n = &t->queue_node;
  n->next = NULL;
  if (ct->local_tail != NULL)
    ct->local_tail->next = n;
  else
    ct->local_head = n;
  ct->local_tail = n;
  ct->local_len++;
}

static AsyncrtTask *
local_pop (CurrentThread *ct)
{
  AsyncrtQueueNode *n = ct->local_head;
  if (n == NULL)
    return NULL;
  ct->local_head = n->next;
  if (ct->local_head == NULL)
    ct->local_tail = NULL;
  ct->local_len--;
  n->next = NULL;
  return asyncrt__task_from_queue_node (n);
}

static AsyncrtTask *
remote_pop (CurrentThread *ct)
{
  if (asyncrt__inject_is_empty (&ct->remote))
    return NULL;
  AsyncrtQueueNode *n = asyncrt__inject_pop (&ct->remote);
  return n != NULL ? asyncrt__task_from_queue_node (n) : NULL;
}

/* ---- ops ---------------------------------------------------------------------------- */

static void
ct_unpark (AsyncrtHandle *h)
{
  asyncrt__driver_unpark (h->driver);
}

static void
ct_schedule (AsyncrtHandle *h, AsyncrtTask *t, bool is_yield)
{
  CurrentThread *ct = ct_from_handle (h);
  (void) is_yield;   /* the local queue is FIFO: a yielded task goes behind the others */
  if (ct_current == ct)
    {
      local_push (ct, t);
      return;
    }
  if (!asyncrt__inject_push (&ct->remote, &t->queue_node))
    {
      asyncrt__task_drop_notified (t);   /* shut down: the task is already cancelled */
      return;
    }
  asyncrt__driver_unpark (h->driver);
}

/* ---- task dumps ------------------------------------------------------------------- */

/* The one task this runtime may be running is on its only worker, the block_on
 * thread (worker 0). */
static int
ct_worker_of (AsyncrtTask *t, void *data)
{
  (void) t;
  (void) data;
  return 0;
}

static void
ct_census (CurrentThread *ct, AsyncrtDumpRequest *req, AsyncrtDumpNoTraceReason reason)
{
  AsyncrtDumpRun *run = asyncrt__dump_run_new (&ct->base, req, "current_thread", 1);
  asyncrt__dump_run_census (run, reason, ct_worker_of, NULL);
  if (reason == ASYNCRT_DUMP_NO_TRACE_DEADLINE)
    {
      /* The block_on thread did not take the dump up: it is stuck in a poll.  The
       * task and for how long come from the RUNNING record (worker 0). */
      asyncrt__dump_run_add_missing_worker (run, 0, 0, 0);
    }
  asyncrt__dump_request_complete (req, asyncrt__dump_run_finish (run));
}

/* On the block_on thread, at a scheduling point (or as it leaves block_on: @leaving):
 * serves the pending request.  The thread owns the core: every queue is ours. */
static void
ct_dump_serve (CurrentThread *ct, bool leaving)
{
  pthread_mutex_lock (&ct->dump_lock);
  AsyncrtDumpRequest *req = atomic_load_explicit (&ct->dump_req, memory_order_relaxed);
  atomic_store_explicit (&ct->dump_req, NULL, memory_order_relaxed);
  if (leaving)
    ct->in_block_on = false;          /* from now on requests get a census at once */
  pthread_mutex_unlock (&ct->dump_lock);
  if (req == NULL)
    return;
  if (asyncrt__dump_request_take (req))
    {
      AsyncrtDumpRun *run = asyncrt__dump_run_new (&ct->base, req, "current_thread", 1);
      AsyncrtTask *t;
      while ((t = local_pop (ct)) != NULL || (t = remote_pop (ct)) != NULL)
        asyncrt__dump_run_add_queued (run, t);
      asyncrt__dump_run_collect (run, ct_worker_of, NULL);
      asyncrt__dump_run_trace (run);
      asyncrt__dump_request_complete (req, asyncrt__dump_run_finish (run));
    }
  asyncrt__dump_request_release (req);
}

/* The requester gave up before the request was taken. */
static void
ct_dump_cancel (AsyncrtDumpRequest *req, void *data)
{
  CurrentThread *ct = data;
  pthread_mutex_lock (&ct->dump_lock);
  bool ours = atomic_load_explicit (&ct->dump_req, memory_order_relaxed) == req;
  if (ours)
    atomic_store_explicit (&ct->dump_req, NULL, memory_order_relaxed);
  pthread_mutex_unlock (&ct->dump_lock);
  if (ours)
    asyncrt__dump_request_release (req);
}

static void
ct_dump (AsyncrtHandle *h, AsyncrtDumpRequest *req)
{
  CurrentThread *ct = ct_from_handle (h);
  if (asyncrt__dump_request_get_kind (req) == ASYNCRT_DUMP_KIND_CENSUS)
    {
      ct_census (ct, req, asyncrt__dump_request_get_census_reason (req));
      return;
    }
  pthread_mutex_lock (&ct->dump_lock);
  bool shut = atomic_load_explicit (&h->is_shutdown, memory_order_acquire);
  bool serve = !shut && ct->in_block_on;
  bool cancelled = false;
  if (serve)
    {
      g_assert (atomic_load_explicit (&ct->dump_req, memory_order_relaxed) == NULL);
      /* Lock order: dump_lock, then the request's queue. */
      cancelled = !asyncrt__dump_request_set_canceller (req, ct_dump_cancel, ct);
      if (!cancelled)
        atomic_store_explicit (&ct->dump_req, req, memory_order_relaxed);
    }
  pthread_mutex_unlock (&ct->dump_lock);
  if (serve && !cancelled)
    {
      asyncrt__driver_unpark (h->driver);    /* the loop serves it at its next turn */
      return;
    }
  if (shut)
    asyncrt__dump_request_fail (req, -ESHUTDOWN);
  else if (!cancelled && asyncrt__dump_request_take (req))
    ct_census (ct, req, ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING);   /* no task code runs here */
  asyncrt__dump_request_release (req);
}

/* ---- native stacks and stalls ----------------------------------------------------- */

static AsyncrtTaskId
ct_worker_activity (AsyncrtHandle *h, unsigned i, uint64_t *ret_start_ns,
                    AsyncrtSampleSlot **ret_slot)
{
  CurrentThread *ct = ct_from_handle (h);
  AsyncrtTaskId id = 0;
  uint64_t start = 0;
  if (i == 0)
    {
      id = atomic_load_explicit (&ct->watch_task_id, memory_order_acquire);
      start = atomic_load_explicit (&ct->watch_start_ns, memory_order_relaxed);
    }
  if (ret_start_ns != NULL)
    *ret_start_ns = start;
  if (ret_slot != NULL)
    *ret_slot = i == 0 && ct->sample_slot != NULL ? asyncrt__sample_slot_ref (ct->sample_slot)
                                                  : NULL;
  return id;
}

/* Runs up to event_interval queued tasks and returns how many.  Inlined twice, with
 * @watched a constant: only the watched copy publishes each poll (see the top). */
static inline __attribute__((always_inline)) unsigned
run_queued (CurrentThread *ct, bool watched)
{
  unsigned ran = 0;
  for (; ran < ct->event_interval; ran++)
    {
      ct->tick++;
      AsyncrtTask *t;
      if (ct->tick % ct->event_interval == 0)
        {
          t = remote_pop (ct);
          if (t == NULL)
            t = local_pop (ct);
        }
      else
        {
          t = local_pop (ct);
          if (t == NULL)
            t = remote_pop (ct);
        }
      if (t == NULL)
        break;
      if (watched)
        {
          atomic_store_explicit (&ct->watch_start_ns, asyncrt__clock_coarse_now_ns (),
                                 memory_order_relaxed);
          atomic_store_explicit (&ct->watch_task_id, t->id, memory_order_release);
          asyncrt__task_run (t);
          atomic_store_explicit (&ct->watch_task_id, 0, memory_order_relaxed);
        }
      else
        asyncrt__task_run (t);
    }
  return ran;
}

/* The block_on future's waker: holds a handle reference so that it may outlive the
 * block_on call, and even the runtime. */
static void *
bo_clone (void *data)
{
  asyncrt__handle_ref (data);
  return data;
}

static void
bo_wake_by_ref (void *data)
{
  CurrentThread *ct = data;
  atomic_store_explicit (&ct->woken, true, memory_order_release);
  if (ct_current != ct)
    asyncrt__driver_unpark (ct->base.driver);
}

static void
bo_drop (void *data)
{
  asyncrt__handle_unref (data);
}

static void
bo_wake (void *data)
{
  bo_wake_by_ref (data);
  bo_drop (data);
}

static const AsyncrtWakerVTable bo_waker_vtable = {
  bo_clone, bo_wake, bo_wake_by_ref, bo_drop,
};

static int
ct_block_on (AsyncrtHandle *h, AsyncrtPollFunc poll, void *future)
{
  CurrentThread *ct = ct_from_handle (h);
  if (atomic_exchange_explicit (&ct->core_taken, true, memory_order_acq_rel))
    return -EBUSY;
  pthread_mutex_lock (&ct->dump_lock);
  ct->in_block_on = true;
  pthread_mutex_unlock (&ct->dump_lock);

  AsyncrtHandle *prev_handle = asyncrt__handle_enter (h);
  AsyncrtDriver *prev_driver = asyncrt__driver_enter (h->driver);
  CurrentThread *prev_ct = ct_current;
  ct_current = ct;

  /* Whether a stall detector watches (set before the runtime was handed out). */
  const bool watched = h->stall != NULL;
  AsyncrtSampleSlot *prev_slot = NULL;
  if (ct->sample_slot != NULL)
    prev_slot = asyncrt__sample_slot_attach (ct->sample_slot, 0);   /* the caller's mask */

  AsyncrtTraceRoot root;
  asyncrt_trace_root_init (&root, poll, future);
  AsyncrtWaker waker = { &bo_waker_vtable, ct };
  AsyncrtContext cx;
  asyncrt__context_init (&cx, waker);
  atomic_store_explicit (&ct->woken, true, memory_order_relaxed);

  for (;;)
    {
      if (atomic_exchange_explicit (&ct->woken, false, memory_order_acquire))
        {
          unsigned prev_budget = asyncrt__coop_set_budget (ASYNCRT_COOP_BUDGET);
          AsyncrtPoll res = asyncrt_trace_root_poll (&root, &cx);
          asyncrt__coop_set_budget (prev_budget);
          if (res == ASYNCRT_READY)
            break;
        }

      if (ASYNCRT_UNLIKELY (atomic_load_explicit (&ct->dump_req, memory_order_relaxed) != NULL))
        ct_dump_serve (ct, false);

      unsigned ran = watched ? run_queued (ct, true) : run_queued (ct, false);

      if (atomic_load_explicit (&ct->woken, memory_order_acquire))
        {
          if (ran > 0)
            asyncrt__driver_park (h->driver, 0);   /* keep I/O and timers moving */
          continue;
        }
      if (ct->local_head != NULL || !asyncrt__inject_is_empty (&ct->remote))
        asyncrt__driver_park (h->driver, 0);      /* busy: poll the driver, don't block */
      else
        asyncrt__driver_park (h->driver, -1);     /* idle: until a timer, I/O or unpark */
    }

  /* A dump asked for while we were here is ours to serve, before we leave. */
  ct_dump_serve (ct, true);
  if (ct->sample_slot != NULL)
    asyncrt__sample_slot_detach (ct->sample_slot, prev_slot);

  ct_current = prev_ct;
  asyncrt__driver_exit (prev_driver);
  asyncrt__handle_exit (prev_handle);
  atomic_store_explicit (&ct->core_taken, false, memory_order_release);
  return 0;
}

static int
ct_shutdown (AsyncrtHandle *h, uint64_t deadline_ns, GArray *unfinished)
{
  CurrentThread *ct = ct_from_handle (h);
  /* No thread of its own, and no thread is in block_on any more (the caller's
   * precondition): nothing to wait for. */
  (void) deadline_ns;
  (void) unfinished;
  while (atomic_exchange_explicit (&ct->core_taken, true, memory_order_acq_rel))
    sched_yield ();
  /* A dump asked for since the last thread left: nobody will serve it. */
  pthread_mutex_lock (&ct->dump_lock);
  AsyncrtDumpRequest *req = atomic_load_explicit (&ct->dump_req, memory_order_relaxed);
  atomic_store_explicit (&ct->dump_req, NULL, memory_order_relaxed);
  pthread_mutex_unlock (&ct->dump_lock);
  if (req != NULL)
    {
      asyncrt__dump_request_fail (req, -ESHUTDOWN);
      asyncrt__dump_request_release (req);
    }
  /* Every task is cancelled already; queued ones hold only their notified reference. */
  asyncrt__inject_close (&ct->remote);
  AsyncrtTask *t;
  while ((t = local_pop (ct)) != NULL)
    asyncrt__task_drop_notified (t);
  while ((t = remote_pop (ct)) != NULL)
    asyncrt__task_drop_notified (t);
  return 0;
}

static void
ct_free (AsyncrtHandle *h)
{
  CurrentThread *ct = ct_from_handle (h);
  asyncrt__inject_clear (&ct->remote);
  pthread_mutex_destroy (&ct->dump_lock);
  asyncrt__sample_slot_unref (ct->sample_slot);
  g_free (ct);
}

static const AsyncrtSchedulerOps ct_ops = {
  ct_schedule, ct_unpark, ct_block_on, ct_shutdown, ct_free, ct_dump, ct_worker_activity,
};

int
asyncrt__current_thread_build (const AsyncrtBuilder *b, AsyncrtRuntime **out)
{
  CurrentThread *ct = g_new0 (CurrentThread, 1);
  int r = asyncrt__handle_init (&ct->base, &ct_ops, b);
  if (r < 0)
    {
      g_free (ct);
      return r;
    }
  atomic_init (&ct->core_taken, false);
  atomic_init (&ct->woken, false);
  pthread_mutex_init (&ct->dump_lock, NULL);
  atomic_init (&ct->dump_req, NULL);
  atomic_init (&ct->watch_task_id, 0);
  atomic_init (&ct->watch_start_ns, 0);
  if (ct->base.sample_signo != 0)
    ct->sample_slot = asyncrt__sample_slot_new ();
  ct->event_interval = b->event_interval != 0 ? b->event_interval : CT_DEFAULT_EVENT_INTERVAL;
  asyncrt__inject_init (&ct->remote);
  *out = (AsyncrtRuntime *) (void *) ct;
  return 0;
}
