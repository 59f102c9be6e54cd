/* libasyncrt - tasks: the state word, the harness, wakers of tasks and join handles
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The ownership rules, the legal transitions of the state word and what each atomic
 * orders are stated at the top of task-private.h; this file implements them.  Every
 * change of the state word is one compare-and-swap (acq_rel on success, acquire on
 * failure), so each transition sees the effects of the one before it.
 */
#include "task/task-private.h"
#include "task/labels-private.h"
#include "scheduler/scheduler-private.h"
#include "scheduler/coop-private.h"
#include "future/context-private.h"
#include "trace/wait-private.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

__attribute__((tls_model ("initial-exec")))
_Thread_local AsyncrtTask *asyncrt__current_task;

/* Task ids: unique per process, never 0.  Each thread takes them from a block of
 * ID_BLOCK ids of its own (one atomic add per block), so ids grow in spawn order on
 * one thread only. */
#define ID_BLOCK 1024u
static _Atomic uint64_t next_task_id = 1;
static _Thread_local uint64_t id_next, id_end;

static inline AsyncrtTaskId
new_task_id (void)
{
  if (id_next == id_end)
    {
      id_next = atomic_fetch_add_explicit (&next_task_id, ID_BLOCK, memory_order_relaxed);
      id_end = id_next + ID_BLOCK;
    }
  return id_next++;
}

#define CAS(t, cur, next) \
  atomic_compare_exchange_weak_explicit (&(t)->state, (cur), (next), \
                                         memory_order_acq_rel, memory_order_acquire)

static void task_dealloc (AsyncrtTask *t);

/* ---- references --------------------------------------------------------------------- */

void
asyncrt__task_ref (AsyncrtTask *t)
{
  uint64_t prev = atomic_fetch_add_explicit (&t->state, ASYNCRT_TASK_REF_ONE,
                                             memory_order_relaxed);
  g_assert (ASYNCRT_TASK_REF_COUNT (prev) > 0);
}

void
asyncrt__task_unref (AsyncrtTask *t)
{
  uint64_t prev = atomic_fetch_sub_explicit (&t->state, ASYNCRT_TASK_REF_ONE,
                                             memory_order_acq_rel);
  g_assert (ASYNCRT_TASK_REF_COUNT (prev) > 0);
  if (ASYNCRT_TASK_REF_COUNT (prev) == 1)
    task_dealloc (t);
}

/* ---- transitions -------------------------------------------------------------------- */

AsyncrtTransitionToRunning
asyncrt__task_transition_to_running (AsyncrtTask *t)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      if (cur & (ASYNCRT_TASK_RUNNING | ASYNCRT_TASK_COMPLETE))
        return ASYNCRT_TRANSITION_FAILED;
      uint64_t next = (cur | ASYNCRT_TASK_RUNNING) & ~ASYNCRT_TASK_NOTIFIED;
      if (CAS (t, &cur, next))
        return (cur & ASYNCRT_TASK_CANCELLED) ? ASYNCRT_TRANSITION_CANCELLED
                                              : ASYNCRT_TRANSITION_SUCCESS;
    }
}

AsyncrtTransitionToIdle
asyncrt__task_transition_to_idle (AsyncrtTask *t)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      g_assert (cur & ASYNCRT_TASK_RUNNING);
      if (cur & ASYNCRT_TASK_CANCELLED)
        return ASYNCRT_TRANSITION_IDLE_CANCELLED;
      uint64_t next = cur & ~ASYNCRT_TASK_RUNNING;
      if (CAS (t, &cur, next))
        return (cur & ASYNCRT_TASK_NOTIFIED) ? ASYNCRT_TRANSITION_IDLE_NOTIFIED
                                             : ASYNCRT_TRANSITION_IDLE_OK;
    }
}

AsyncrtTransitionToNotified
asyncrt__task_transition_to_notified_by_val (AsyncrtTask *t)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      uint64_t next;
      AsyncrtTransitionToNotified action;
      if (cur & ASYNCRT_TASK_RUNNING)
        {
          /* The runner reschedules; it holds a reference, so this cannot be the last. */
          g_assert (ASYNCRT_TASK_REF_COUNT (cur) >= 2);
          next = (cur | ASYNCRT_TASK_NOTIFIED) - ASYNCRT_TASK_REF_ONE;
          action = ASYNCRT_TRANSITION_DO_NOTHING;
        }
      else if (cur & (ASYNCRT_TASK_COMPLETE | ASYNCRT_TASK_NOTIFIED))
        {
          g_assert (ASYNCRT_TASK_REF_COUNT (cur) >= 1);
          next = cur - ASYNCRT_TASK_REF_ONE;
          action = ASYNCRT_TRANSITION_DO_NOTHING;
        }
      else
        {
          /* A new notified reference; the caller keeps its own until schedule()
           * has returned (see task-private.h, "References across schedule()"). */
          next = (cur | ASYNCRT_TASK_NOTIFIED) + ASYNCRT_TASK_REF_ONE;
          action = ASYNCRT_TRANSITION_SUBMIT;
        }
      if (CAS (t, &cur, next))
        {
          if (action == ASYNCRT_TRANSITION_DO_NOTHING && ASYNCRT_TASK_REF_COUNT (next) == 0)
            task_dealloc (t);
          return action;
        }
    }
}

AsyncrtTransitionToNotified
asyncrt__task_transition_to_notified_by_ref (AsyncrtTask *t)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      uint64_t next;
      AsyncrtTransitionToNotified action;
      if (cur & ASYNCRT_TASK_RUNNING)
        {
          if (cur & ASYNCRT_TASK_NOTIFIED)
            return ASYNCRT_TRANSITION_DO_NOTHING;
          next = cur | ASYNCRT_TASK_NOTIFIED;
          action = ASYNCRT_TRANSITION_DO_NOTHING;
        }
      else if (cur & (ASYNCRT_TASK_COMPLETE | ASYNCRT_TASK_NOTIFIED))
        return ASYNCRT_TRANSITION_DO_NOTHING;
      else
        {
          next = (cur | ASYNCRT_TASK_NOTIFIED) + ASYNCRT_TASK_REF_ONE;
          action = ASYNCRT_TRANSITION_SUBMIT;
        }
      if (CAS (t, &cur, next))
        return action;
    }
}

bool
asyncrt__task_claim_for_trace (AsyncrtTask *t)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      if (cur & (ASYNCRT_TASK_RUNNING | ASYNCRT_TASK_NOTIFIED | ASYNCRT_TASK_COMPLETE))
        return false;
      uint64_t next = (cur | ASYNCRT_TASK_RUNNING) + ASYNCRT_TASK_REF_ONE;
      if (CAS (t, &cur, next))
        return true;
    }
}

typedef enum
{
  QUEUED_TRACE,            /* RUNNING now: the notified reference is the dumper's */
  QUEUED_CANCELLED,        /* aborted while queued: hand it back as it is */
  QUEUED_GONE              /* shut down meanwhile (being or already completed) */
} QueuedToTrace;

/* The dumper popped @t from a run queue (it holds the notified reference): become its
 * runner, unless it was cancelled (its scheduler's runner cancels it) or shutdown
 * cancelled it in the queue (asyncrt__task_shutdown claims RUNNING even for queued
 * tasks; the queue's reference is then just dropped, as asyncrt__task_run() would). */
static QueuedToTrace
transition_queued_to_trace (AsyncrtTask *t)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      g_assert (cur & ASYNCRT_TASK_NOTIFIED);
      if (cur & (ASYNCRT_TASK_RUNNING | ASYNCRT_TASK_COMPLETE))
        return QUEUED_GONE;
      if (cur & ASYNCRT_TASK_CANCELLED)
        return QUEUED_CANCELLED;
      uint64_t next = (cur | ASYNCRT_TASK_RUNNING) & ~ASYNCRT_TASK_NOTIFIED;
      if (CAS (t, &cur, next))
        return QUEUED_TRACE;
    }
}

typedef enum
{
  TRACE_END_IDLE,          /* idle again; drop the dumper's reference */
  TRACE_END_RESCHEDULE,    /* NOTIFIED: the dumper's reference is the notified one */
  TRACE_END_CANCEL         /* still RUNNING: cancel it */
} TraceEnd;

/* The end of a trace poll (task-private.h, "Trace polls"): one CAS from RUNNING. */
static TraceEnd
transition_from_trace (AsyncrtTask *t, bool requeue)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      g_assert ((cur & ASYNCRT_TASK_RUNNING) && !(cur & ASYNCRT_TASK_COMPLETE));
      if (cur & ASYNCRT_TASK_CANCELLED)
        return TRACE_END_CANCEL;
      uint64_t next = cur & ~ASYNCRT_TASK_RUNNING;
      bool resched = requeue || (cur & ASYNCRT_TASK_NOTIFIED);
      if (resched)
        next |= ASYNCRT_TASK_NOTIFIED;
      if (CAS (t, &cur, next))
        return resched ? TRACE_END_RESCHEDULE : TRACE_END_IDLE;
    }
}

AsyncrtTransitionToNotified
asyncrt__task_transition_to_notified_and_cancel (AsyncrtTask *t)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      uint64_t next;
      AsyncrtTransitionToNotified action = ASYNCRT_TRANSITION_DO_NOTHING;
      if (cur & (ASYNCRT_TASK_COMPLETE | ASYNCRT_TASK_CANCELLED))
        return ASYNCRT_TRANSITION_DO_NOTHING;
      if (cur & ASYNCRT_TASK_RUNNING)
        next = cur | ASYNCRT_TASK_CANCELLED | ASYNCRT_TASK_NOTIFIED;
      else if (cur & ASYNCRT_TASK_NOTIFIED)
        next = cur | ASYNCRT_TASK_CANCELLED;
      else
        {
          next = (cur | ASYNCRT_TASK_CANCELLED | ASYNCRT_TASK_NOTIFIED) + ASYNCRT_TASK_REF_ONE;
          action = ASYNCRT_TRANSITION_SUBMIT;
        }
      if (CAS (t, &cur, next))
        return action;
    }
}

bool
asyncrt__task_transition_to_shutdown (AsyncrtTask *t)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      if (cur & ASYNCRT_TASK_COMPLETE)
        return false;
      bool claim = !(cur & ASYNCRT_TASK_RUNNING);
      uint64_t next = cur | ASYNCRT_TASK_CANCELLED | (claim ? ASYNCRT_TASK_RUNNING : 0);
      if (CAS (t, &cur, next))
        return claim;
    }
}

uint64_t
asyncrt__task_transition_to_complete (AsyncrtTask *t, bool cancelled)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      g_assert ((cur & ASYNCRT_TASK_RUNNING) && !(cur & ASYNCRT_TASK_COMPLETE));
      uint64_t next = (cur & ~ASYNCRT_TASK_RUNNING) | ASYNCRT_TASK_COMPLETE;
      if (cancelled)
        next |= ASYNCRT_TASK_CANCELLED;
      else
        next &= ~ASYNCRT_TASK_CANCELLED;
      if (CAS (t, &cur, next))
        return cur;
    }
}

/* ---- wakers of tasks ---------------------------------------------------------------- */

static void
task_schedule (AsyncrtTask *t, bool is_yield)
{
  t->handle->ops->schedule (t->handle, t, is_yield);
}

static void *
task_waker_clone (void *data)
{
  asyncrt__task_ref (data);
  return data;
}

static void
task_waker_wake (void *data)
{
  AsyncrtTask *t = data;
  if (asyncrt__task_transition_to_notified_by_val (t) == ASYNCRT_TRANSITION_SUBMIT)
    {
      /* Our reference pins the task, and through it the handle, while schedule()
       * runs: once it has queued the notified reference, a shutdown on another
       * thread may drain and free the task and the runtime. */
      task_schedule (t, false);
      asyncrt__task_unref (t);
    }
}

static void
task_waker_wake_by_ref (void *data)
{
  AsyncrtTask *t = data;
  if (asyncrt__task_transition_to_notified_by_ref (t) == ASYNCRT_TRANSITION_SUBMIT)
    task_schedule (t, false);
}

static void
task_waker_drop (void *data)
{
  asyncrt__task_unref (data);
}

static const AsyncrtWakerVTable task_waker_vtable = {
  task_waker_clone, task_waker_wake, task_waker_wake_by_ref, task_waker_drop,
};

AsyncrtWaker
asyncrt__task_borrowed_waker (AsyncrtTask *t)
{
  AsyncrtWaker w = { &task_waker_vtable, t };
  return w;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

/* The extra block (task-private.h), allocated only for a task that needs one. */
static AsyncrtTaskExtra *
extra_new (void)
{
  AsyncrtTaskExtra *x = malloc (sizeof *x);
  if (x != NULL)
    *x = (AsyncrtTaskExtra) { NULL, 0, NULL, { NULL, NULL, 0 } };
  return x;
}

static void
extra_free (AsyncrtTaskExtra *x)
{
  if (x == NULL)
    return;
  asyncrt__labels_unref (x->labels);
  free (x->name);
  free (x);
}

AsyncrtTask *
asyncrt__task_new (AsyncrtHandle *h, const AsyncrtSpawnInfo *info, AsyncrtPollFunc poll,
                   void *future, AsyncrtFreeFunc free_func)
{
  static const AsyncrtSpawnInfo no_info = { NULL, 0, NULL, NULL, 0 };
  if (info == NULL)
    info = &no_info;
  AsyncrtTask *spawner = asyncrt__current_task;
  struct _AsyncrtLabels *labels = spawner != NULL ? asyncrt__task_labels (spawner) : NULL;

  const AsyncrtSpawnSite *site = NULL;
  bool own_site = false;
  if (info->file != NULL || info->func != NULL || info->line != 0)
    {
      site = asyncrt__spawn_site_intern (info->file, info->func, info->line);
      own_site = site == NULL;
    }

  AsyncrtTaskExtra *x = NULL;
  if (info->name != NULL || info->group_id != 0 || labels != NULL || own_site)
    {
      x = extra_new ();
      if (x == NULL)
        return NULL;
      if (info->name != NULL && (x->name = strdup (info->name)) == NULL)
        {
          extra_free (x);
          return NULL;
        }
      x->group_id = info->group_id;
      /* Inherited labels: the spawner is the current task, the only writer of its
       * own. */
      x->labels = asyncrt__labels_ref (labels);
      if (own_site)
        {
          x->site = (AsyncrtSpawnSite) { info->file, info->func, info->line };
          site = &x->site;
        }
    }

  /* Every field written here, one by one (alloc.c keeps freed blocks). */
  AsyncrtTask *t = asyncrt__task_alloc ();
  if (t == NULL)
    {
      extra_free (x);
      return NULL;
    }
  /* References: owned list, notified, join handle. */
  atomic_init (&t->state, 3 * ASYNCRT_TASK_REF_ONE | ASYNCRT_TASK_NOTIFIED
                          | ASYNCRT_TASK_JOIN_INTEREST);
  t->queue_node.next = NULL;
  t->handle = h;
  asyncrt__handle_ref_for_task (h);
  t->owned_prev = NULL;
  t->owned_next = NULL;
  t->id = new_task_id ();
  t->parent_id = spawner != NULL ? spawner->id : 0;
  t->poll = poll;
  t->free_func = free_func;
  t->future = future;
  atomic_init (&t->poll_count, 0);
  atomic_init (&t->last_poll_ns, 0);
  t->join_waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  atomic_init (&t->dump_data, 0);
  t->site = site;
  t->extra = x;
  return t;
}

static void
task_dealloc (AsyncrtTask *t)
{
  AsyncrtHandle *h = t->handle;
  asyncrt_waker_free (&t->join_waker);
  extra_free (t->extra);
  asyncrt__task_release (t);
  asyncrt__handle_unref_for_task (h);
}

static void
task_free_future (AsyncrtTask *t)
{
  void *future = t->future;
  t->future = NULL;
  if (t->free_func != NULL)
    t->free_func (future);
}

/* The caller holds RUNNING.  Completes the task (cancelled: freeing the future first),
 * wakes the joiner and releases the task from the owned list.  The caller still owns
 * the reference it ran the task with. */
static void
task_complete (AsyncrtTask *t, bool cancelled)
{
  if (cancelled)
    task_free_future (t);
  uint64_t prev = asyncrt__task_transition_to_complete (t, cancelled);
  if (!cancelled && !(prev & ASYNCRT_TASK_JOIN_INTEREST))
    task_free_future (t);   /* detached: nobody will read the output */
  if ((prev & ASYNCRT_TASK_JOIN_INTEREST) && (prev & ASYNCRT_TASK_JOIN_WAKER))
    {
      asyncrt_waker_wake_by_ref (&t->join_waker);
      /* Give the slot back to the join handle, or free it if that is gone. */
      uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
      while (!CAS (t, &cur, cur & ~ASYNCRT_TASK_JOIN_WAKER))
        ;
      if (!(cur & ASYNCRT_TASK_JOIN_INTEREST))
        asyncrt_waker_free (&t->join_waker);
    }
  if (asyncrt__owned_remove (&t->handle->owned, t))
    asyncrt__task_unref (t);
}

/* Polls the future once, with the task's waker, through a trace root of this
 * frame's (a dump's capture stops at it). */
static AsyncrtPoll
poll_through_root (AsyncrtTask *t)
{
  AsyncrtContext cx;
  asyncrt__context_init (&cx, asyncrt__task_borrowed_waker (t));
  /* As asyncrt_trace_root_init() would, without the call. */
  AsyncrtTraceRoot root = { .poll = t->poll, .future = t->future };
  return asyncrt_trace_root_poll (&root, &cx);
}

void
asyncrt__task_run (AsyncrtTask *t)
{
  switch (asyncrt__task_transition_to_running (t))
    {
    case ASYNCRT_TRANSITION_FAILED:
      asyncrt__task_unref (t);
      return;
    case ASYNCRT_TRANSITION_CANCELLED:
      task_complete (t, true);
      asyncrt__task_unref (t);
      return;
    case ASYNCRT_TRANSITION_SUCCESS:
    default:
      break;
    }

  AsyncrtTask *prev_task = asyncrt__current_task;
  asyncrt__current_task = t;
  /* Only real polls count: a dump's trace poll goes through asyncrt__task_trace_poll(). */
  atomic_store_explicit (&t->poll_count,
                         atomic_load_explicit (&t->poll_count, memory_order_relaxed) + 1,
                         memory_order_relaxed);
  atomic_store_explicit (&t->last_poll_ns, asyncrt__clock_now_ns (), memory_order_relaxed);
  unsigned prev_budget = asyncrt__coop_set_budget (ASYNCRT_COOP_BUDGET);

  AsyncrtPoll res = poll_through_root (t);

  asyncrt__coop_set_budget (prev_budget);
  asyncrt__current_task = prev_task;

  if (res == ASYNCRT_READY)
    {
      task_complete (t, false);
      asyncrt__task_unref (t);
      return;
    }
  switch (asyncrt__task_transition_to_idle (t))
    {
    case ASYNCRT_TRANSITION_IDLE_OK:
      asyncrt__task_unref (t);
      break;
    case ASYNCRT_TRANSITION_IDLE_NOTIFIED:
      task_schedule (t, true);   /* our reference is the notified one */
      break;
    case ASYNCRT_TRANSITION_IDLE_CANCELLED:
    default:
      task_complete (t, true);
      asyncrt__task_unref (t);
      break;
    }
}

/* ---- trace polls ---------------------------------------------------------------- */

/* Hands a task back to its scheduler from a dump, with the notified reference; the
 * caller's own reference pins the task and its handle across schedule(). */
static void
trace_reschedule (AsyncrtTask *t)
{
  asyncrt__task_ref (t);
  task_schedule (t, false);
  asyncrt__task_unref (t);
}

/* The dump module's mark is cleared by the end of its hold (task-private.h, "Trace
 * polls"): after the end CAS (a census never sees a RUNNING task unmarked while it is
 * held), before the holder's reference goes (the task may be freed after it). */
static inline void
unmark (AsyncrtTask *t)
{
  atomic_store_explicit (&t->dump_data, 0, memory_order_relaxed);
}

/* Returns true if the task completed (cancelled). */
static bool
trace_end (AsyncrtTask *t, bool requeue)
{
  TraceEnd end = transition_from_trace (t, requeue);
  unmark (t);
  switch (end)
    {
    case TRACE_END_IDLE:
      asyncrt__task_unref (t);
      return false;
    case TRACE_END_RESCHEDULE:
      trace_reschedule (t);   /* our reference is the notified one now */
      return false;
    case TRACE_END_CANCEL:
    default:
      task_complete (t, true);
      asyncrt__task_unref (t);
      return true;
    }
}

bool
asyncrt__task_trace_poll (AsyncrtTask *t, bool queued, bool *ret_completed)
{
  bool completed = false;
  if (queued)
    switch (transition_queued_to_trace (t))
      {
      case QUEUED_CANCELLED:
        unmark (t);
        trace_reschedule (t);   /* its runner cancels it */
        if (ret_completed != NULL)
          *ret_completed = false;
        return false;
      case QUEUED_GONE:
        unmark (t);
        asyncrt__task_unref (t);
        if (ret_completed != NULL)
          *ret_completed = true;   /* shut down: being or already completed */
        return false;
      case QUEUED_TRACE:
      default:
        break;
      }

  AsyncrtTask *prev_task = asyncrt__current_task;
  asyncrt__current_task = t;
  /* No budget: a leaf's coop check would wake the task, which is a side effect. */
  unsigned prev_budget = asyncrt__coop_set_budget (ASYNCRT_COOP_UNCONSTRAINED);
  AsyncrtPoll res = poll_through_root (t);
  asyncrt__coop_set_budget (prev_budget);
  asyncrt__current_task = prev_task;

  if (res == ASYNCRT_READY)
    {
      unmark (t);
      task_complete (t, false);
      asyncrt__task_unref (t);
      completed = true;
    }
  else
    completed = trace_end (t, queued);
  if (ret_completed != NULL)
    *ret_completed = completed;
  return true;
}

void
asyncrt__task_trace_release (AsyncrtTask *t, bool queued)
{
  if (queued)
    {
      unmark (t);
      trace_reschedule (t);     /* still NOTIFIED, never became ours */
    }
  else
    trace_end (t, false);
}

void
asyncrt__task_drop_notified (AsyncrtTask *t)
{
  asyncrt__task_unref (t);
}

void
asyncrt__task_shutdown (AsyncrtTask *t)
{
  if (asyncrt__task_transition_to_shutdown (t))
    task_complete (t, true);
}

void
asyncrt__task_cancel_unbound (AsyncrtTask *t)
{
  /* A new task: NOTIFIED, not on any queue, not on the owned list. */
  AsyncrtTransitionToRunning r = asyncrt__task_transition_to_running (t);
  g_assert (r != ASYNCRT_TRANSITION_FAILED);
  task_complete (t, true);
  asyncrt__task_unref (t);   /* the notified reference */
  asyncrt__task_unref (t);   /* the owned-list reference */
}

/* ---- join handles ------------------------------------------------------------------- */

/**
 * asyncrt_join_handle_poll:
 * @jh: (nullable): a join handle
 * @cx: the context of the poll
 *
 * Polls for the task's completion.  This is a leaf future: it shows in task dumps
 * and takes part in the cooperative budget.  After %ASYNCRT_READY, read the result
 * from the task's future state (see asyncrt_join_handle_get_future()) unless
 * asyncrt_join_handle_is_cancelled() says it was cancelled.
 *
 * Thread safety: one thread at a time per join handle (its owner); the task may run
 * anywhere.
 *
 * Returns: %ASYNCRT_READY once the task has finished or was cancelled (and for a
 *   %NULL @jh or @cx), %ASYNCRT_PENDING otherwise; the context's waker is then woken
 *   when the task finishes.
 * Since: 0.1
 */
/* Trace mode: a join waits for its task, which is the holder (id immutable). */
static ASYNCRT_WAIT_DESCRIBER void
describe_join (AsyncrtTask *t)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  asyncrt__wait_set (w, ASYNCRT_WAIT_JOIN, (uintptr_t) t, NULL);
  asyncrt__wait_set_holder (w, t->id);
  if (asyncrt__task_state (t) & ASYNCRT_TASK_COMPLETE)
    asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_READY, 1);
}

AsyncrtPoll
asyncrt_join_handle_poll (AsyncrtJoinHandle *jh, AsyncrtContext *cx)
{
  if (jh == NULL || cx == NULL)
    return ASYNCRT_READY;
  if (asyncrt_trace_leaf (cx))
    {
      describe_join (asyncrt__task_from_join_handle (jh));
      return ASYNCRT_PENDING;
    }
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;

  AsyncrtTask *t = asyncrt__task_from_join_handle (jh);
  return asyncrt__task_set_join_waker (t, asyncrt_context_get_waker (cx))
         ? ASYNCRT_READY : ASYNCRT_PENDING;
}

bool
asyncrt__task_set_join_waker (AsyncrtTask *t, const AsyncrtWaker *w)
{
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  if (cur & ASYNCRT_TASK_COMPLETE)
    return true;

  if (cur & ASYNCRT_TASK_JOIN_WAKER)
    {
      if (asyncrt_waker_will_wake (&t->join_waker, w))
        return false;
      /* Take the slot back before replacing the waker. */
      for (;;)
        {
          if (cur & ASYNCRT_TASK_COMPLETE)
            return true;
          if (CAS (t, &cur, cur & ~ASYNCRT_TASK_JOIN_WAKER))
            break;
        }
      asyncrt_waker_free (&t->join_waker);
    }

  /* We own the slot (JOIN_WAKER clear). */
  t->join_waker = asyncrt_waker_clone (w);
  cur = atomic_load_explicit (&t->state, memory_order_acquire);
  for (;;)
    {
      if (cur & ASYNCRT_TASK_COMPLETE)
        {
          asyncrt_waker_free (&t->join_waker);
          return true;
        }
      if (CAS (t, &cur, cur | ASYNCRT_TASK_JOIN_WAKER))
        return false;
    }
}

/**
 * asyncrt_join_handle_abort:
 * @jh: (nullable): a join handle
 *
 * Cancels the task.  If it has not finished yet, its future is freed (through its
 * free function, exactly once) at the next scheduling point of the task — at once if
 * it is idle and its runtime is running, at the end of its current poll if it is
 * running — and the join handle becomes ready with
 * asyncrt_join_handle_is_cancelled() returning %TRUE.  Aborting a finished task does
 * nothing.  %NULL is ignored.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_join_handle_abort (AsyncrtJoinHandle *jh)
{
  if (jh == NULL)
    return;
  AsyncrtTask *t = asyncrt__task_from_join_handle (jh);
  if (asyncrt__task_transition_to_notified_and_cancel (t) == ASYNCRT_TRANSITION_SUBMIT)
    task_schedule (t, false);
}

/**
 * asyncrt_join_handle_is_finished:
 * @jh: (nullable): a join handle
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if the task has finished or was cancelled (%TRUE for %NULL).
 * Since: 0.1
 */
bool
asyncrt_join_handle_is_finished (AsyncrtJoinHandle *jh)
{
  if (jh == NULL)
    return true;
  return (asyncrt__task_state (asyncrt__task_from_join_handle (jh))
          & ASYNCRT_TASK_COMPLETE) != 0;
}

/**
 * asyncrt_join_handle_is_cancelled:
 * @jh: (nullable): a join handle
 *
 * Tells whether the task ended by cancellation (asyncrt_join_handle_abort(), or the
 * runtime shutting down, or a spawn onto a runtime already shut down) rather than by
 * its future returning %ASYNCRT_READY.  A cancelled task's future has been freed;
 * do not read it.
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if the task is finished and was cancelled; %FALSE otherwise
 *   (including for %NULL).
 * Since: 0.1
 */
bool
asyncrt_join_handle_is_cancelled (AsyncrtJoinHandle *jh)
{
  if (jh == NULL)
    return false;
  uint64_t s = asyncrt__task_state (asyncrt__task_from_join_handle (jh));
  return (s & ASYNCRT_TASK_COMPLETE) && (s & ASYNCRT_TASK_CANCELLED);
}

/**
 * asyncrt_join_handle_get_id:
 * @jh: (nullable): a join handle
 *
 * Thread safety: any thread.
 *
 * Returns: the id of the task, or 0 for %NULL.
 * Since: 0.1
 */
AsyncrtTaskId
asyncrt_join_handle_get_id (AsyncrtJoinHandle *jh)
{
  if (jh == NULL)
    return 0;
  return asyncrt__task_from_join_handle (jh)->id;
}

/**
 * asyncrt_join_handle_get_future:
 * @jh: (nullable): a join handle
 *
 * Returns the task's future state, for reading the result once the task has finished
 * and was not cancelled.  The join handle keeps it alive until
 * asyncrt_join_handle_free().
 *
 * Thread safety: the owner of the join handle.
 *
 * Returns: (transfer none) (nullable): the future, or %NULL if the task is not
 *   finished, was cancelled, or @jh is %NULL.
 * Since: 0.1
 */
void *
asyncrt_join_handle_get_future (AsyncrtJoinHandle *jh)
{
  if (jh == NULL)
    return NULL;
  AsyncrtTask *t = asyncrt__task_from_join_handle (jh);
  uint64_t s = asyncrt__task_state (t);
  if (!(s & ASYNCRT_TASK_COMPLETE) || (s & ASYNCRT_TASK_CANCELLED))
    return NULL;
  return t->future;
}

/**
 * asyncrt_join_handle_free:
 * @jh: (nullable): a join handle
 *
 * Releases the join handle.  A task that has not finished is detached: it keeps
 * running and its future is freed when it finishes.  A finished task's future is
 * freed now.  %NULL is ignored.
 *
 * Thread safety: the owner of the join handle, from any thread.
 *
 * Since: 0.1
 */
void
asyncrt_join_handle_free (AsyncrtJoinHandle *jh)
{
  if (jh == NULL)
    return;
  AsyncrtTask *t = asyncrt__task_from_join_handle (jh);
  uint64_t cur = atomic_load_explicit (&t->state, memory_order_acquire);
  uint64_t next;
  do
    {
      g_assert (cur & ASYNCRT_TASK_JOIN_INTEREST);
      next = cur & ~ASYNCRT_TASK_JOIN_INTEREST;
      if (!(cur & ASYNCRT_TASK_COMPLETE))
        next &= ~ASYNCRT_TASK_JOIN_WAKER;
    }
  while (!CAS (t, &cur, next));

  if (!(next & ASYNCRT_TASK_JOIN_WAKER))
    asyncrt_waker_free (&t->join_waker);
  if ((cur & ASYNCRT_TASK_COMPLETE) && !(cur & ASYNCRT_TASK_CANCELLED))
    task_free_future (t);
  asyncrt__task_unref (t);
}

/**
 * asyncrt_task_id_current:
 *
 * Thread safety: any thread; the answer is about the calling thread.
 *
 * Returns: the id of the task being polled on this thread, or 0 outside a task (the
 *   future given to asyncrt_runtime_block_on() is not a task).
 * Since: 0.1
 */
AsyncrtTaskId
asyncrt_task_id_current (void)
{
  return asyncrt__current_task != NULL ? asyncrt__current_task->id : 0;
}
