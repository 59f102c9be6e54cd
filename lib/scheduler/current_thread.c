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
 */
#include "scheduler/scheduler-private.h"
#include "scheduler/coop-private.h"
#include "future/context-private.h"
#include "dump/dump-private.h"

#include <glib.h>
#include <sched.h>
#include <stdlib.h>

#define CT_DEFAULT_EVENT_INTERVAL 31u

typedef struct
{
  AsyncrtHandle base;   /* first: the runtime and the handle are this struct */

  atomic_bool core_taken;
  atomic_uint dump_core_users;   /* dumps taking the core (block_on waits, not EBUSY) */
  atomic_bool woken;
  unsigned event_interval;

  /* core owner only */
  AsyncrtQueueNode *local_head;
  AsyncrtQueueNode *local_tail;
  size_t local_len;
  uint32_t tick;

  AsyncrtInject remote;
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

/* ---- task dumps (lib/dump) ------------------------------------------------------------ */

/* A dump requester on another thread: if no thread owns the core, take it and serve
 * the dump here.  dump_core_users tells block_on to wait for it rather than fail. */
bool
asyncrt__current_thread_dump_try_serve (AsyncrtHandle *h)
{
  CurrentThread *ct = ct_from_handle (h);
  atomic_fetch_add_explicit (&ct->dump_core_users, 1, memory_order_acq_rel);
  bool took = !atomic_exchange_explicit (&ct->core_taken, true, memory_order_acq_rel);
  if (took)
    {
      if (!atomic_load_explicit (&h->is_shutdown, memory_order_acquire))
        {
          AsyncrtHandle *prev_handle = asyncrt__handle_enter (h);
          AsyncrtDriver *prev_driver = asyncrt__driver_enter (h->driver);
          CurrentThread *prev_ct = ct_current;
          ct_current = ct;
          asyncrt__dump_serve (h);
          ct_current = prev_ct;
          asyncrt__driver_exit (prev_driver);
          asyncrt__handle_exit (prev_handle);
        }
      atomic_store_explicit (&ct->core_taken, false, memory_order_release);
    }
  atomic_fetch_sub_explicit (&ct->dump_core_users, 1, memory_order_acq_rel);
  return took;
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
  while (atomic_exchange_explicit (&ct->core_taken, true, memory_order_acq_rel))
    {
      if (atomic_load_explicit (&ct->dump_core_users, memory_order_acquire) == 0)
        return -EBUSY;
      sched_yield ();   /* a dump holds the core briefly (asyncrt__current_thread_dump_try_serve) */
    }

  AsyncrtHandle *prev_handle = asyncrt__handle_enter (h);
  AsyncrtDriver *prev_driver = asyncrt__driver_enter (h->driver);
  CurrentThread *prev_ct = ct_current;
  ct_current = ct;

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

      AsyncrtDumpServeFunc serve = atomic_load_explicit (&h->dump_serve, memory_order_acquire);
      if (ASYNCRT_UNLIKELY (serve != NULL))
        serve (h);

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
          asyncrt__task_run (t);
        }

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
  /* No thread of its own: nothing to wait for but a dump's brief hold of the core. */
  (void) deadline_ns;
  (void) unfinished;
  /* A dump may hold the core (asyncrt__current_thread_dump_try_serve): wait for it. */
  while (atomic_exchange_explicit (&ct->core_taken, true, memory_order_acq_rel))
    sched_yield ();
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
  g_free (ct);
}

static AsyncrtTask *
ct_pop_queued (AsyncrtHandle *h)
{
  CurrentThread *ct = ct_from_handle (h);
  g_assert (ct_current == ct);
  AsyncrtTask *t = local_pop (ct);
  return t != NULL ? t : remote_pop (ct);
}

static const AsyncrtSchedulerOps ct_ops = {
  ct_schedule, ct_unpark, ct_block_on, ct_shutdown, ct_free, ct_pop_queued,
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
  atomic_init (&ct->dump_core_users, 0);
  atomic_init (&ct->woken, false);
  ct->event_interval = b->event_interval != 0 ? b->event_interval : CT_DEFAULT_EVENT_INTERVAL;
  asyncrt__inject_init (&ct->remote);
  *out = (AsyncrtRuntime *) (void *) ct;
  return 0;
}
