/* libasyncrt - shutting a runtime down, with or without a deadline
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The steps are listed at the top of scheduler-private.h.  Ownership: the thread
 * shutting down owns the AsyncrtUnfinished array until it stores it in
 * handle->unfinished and sets handle->shut_down (release); from then on the array is
 * read by the accessors below and freed with the handle.  Descriptions are built on
 * first access, by whoever owns the runtime (one thread at a time, like free).
 */
#include "scheduler/scheduler-private.h"
#include "scheduler/registry-private.h"
#include "dump/dump-sched-private.h"
#include "trace/trace-private.h"
#include "stall/stall-private.h"

#include <glib.h>
#include <stdlib.h>

int
asyncrt__runtime_shutdown (AsyncrtHandle *h, uint64_t deadline_ns, GArray *unfinished)
{
  asyncrt__dump_queue_shutdown (h->dump_queue);
  asyncrt__stall_detector_stop (h->stall, deadline_ns);
  asyncrt__owned_close_and_shutdown_all (&h->owned);
  int r1 = asyncrt__blocking_pool_shutdown (h->blocking, deadline_ns, unfinished);
  int r2 = h->ops->shutdown (h, deadline_ns, unfinished);
  asyncrt__driver_shutdown (h->driver);
  return r1 < 0 ? r1 : r2;
}

void
asyncrt__unfinished_free (GArray *unfinished)
{
  if (unfinished == NULL)
    return;
  for (guint i = 0; i < unfinished->len; i++)
    free (g_array_index (unfinished, AsyncrtUnfinished, i).description);
  g_array_free (unfinished, TRUE);
}

/**
 * asyncrt_runtime_shutdown_timeout:
 * @rt: a runtime
 * @timeout_ms: how long to wait for the runtime's threads, in milliseconds
 *
 * Shuts the runtime down like asyncrt_runtime_free() — every task is cancelled and
 * its future freed, later spawns are cancelled at once, blocking functions already
 * queued still run — but waits at most @timeout_ms for the blocking pool and the
 * worker threads.  What is still running then is left running and reported: a
 * blocking function that has not returned (from asyncrt_spawn_blocking(): a stuck
 * system call, a slow disk), or a worker thread stuck inside a task's poll.  Read
 * the report with asyncrt_runtime_get_n_unfinished() and
 * asyncrt_runtime_get_unfinished(); blocking functions still queued, not started,
 * are not run.  The call returns by the deadline plus the time to cancel the tasks
 * (their free functions run on the calling thread).
 *
 * Then call asyncrt_runtime_free(), which returns at once.  The threads left running
 * keep what they use alive, so they never touch freed memory: a blocking function
 * that returns later finds its task cancelled and its pool thread exits; a worker
 * that leaves its poll cancels that task and exits.  They keep the runtime's memory
 * (not its service) until then.
 *
 * On the current-thread runtime only blocking functions can be left running (tasks
 * run on the thread in asyncrt_runtime_block_on(), which must have returned).
 *
 * Thread safety: any thread outside the runtime, once no other thread is in
 * asyncrt_runtime_block_on() on it (as for asyncrt_runtime_free()).
 *
 * Returns: 0 when everything stopped in time; -ETIMEDOUT when something was left
 *   running (see above); -EINVAL if @rt is %NULL; -EDEADLK when called from inside
 *   the runtime (a task or its `block_on` future); -EALREADY if the runtime was shut
 *   down already (by an earlier call).
 * Since: 0.2
 */
int
asyncrt_runtime_shutdown_timeout (AsyncrtRuntime *rt, unsigned timeout_ms)
{
  if (rt == NULL)
    return -EINVAL;
  AsyncrtHandle *h = asyncrt__runtime_handle (rt);
  if (asyncrt__current_handle == h)
    return -EDEADLK;
  if (atomic_exchange_explicit (&h->is_shutdown, true, memory_order_acq_rel))
    return -EALREADY;
  asyncrt__registry_remove (h);               /* no longer a live runtime to dump */
  uint64_t deadline = asyncrt__clock_now_ns () + (uint64_t) timeout_ms * 1000000u;
  GArray *unfinished = g_array_new (FALSE, TRUE, sizeof (AsyncrtUnfinished));
  int r = asyncrt__runtime_shutdown (h, deadline, unfinished);
  if (unfinished->len == 0)
    {
      g_array_free (unfinished, TRUE);
      unfinished = NULL;
    }
  h->unfinished = unfinished;
  atomic_store_explicit (&h->shut_down, true, memory_order_release);
  return r;
}

/**
 * asyncrt_runtime_get_n_unfinished:
 * @rt: (nullable): a runtime
 *
 * How many things asyncrt_runtime_shutdown_timeout() left running when its deadline
 * passed.
 *
 * Thread safety: the thread that owns the runtime, until asyncrt_runtime_free().
 *
 * Returns: the number of entries, 0 if the shutdown completed in time, or the
 *   runtime has not been shut down with a deadline, or for %NULL.
 * Since: 0.2
 */
size_t
asyncrt_runtime_get_n_unfinished (AsyncrtRuntime *rt)
{
  if (rt == NULL)
    return 0;
  AsyncrtHandle *h = asyncrt__runtime_handle (rt);
  if (!atomic_load_explicit (&h->shut_down, memory_order_acquire) || h->unfinished == NULL)
    return 0;
  return h->unfinished->len;
}

static const char *
symbol_name (uintptr_t address, char *buf, size_t size)
{
  if (address == 0)
    return "an unknown function";
  /* Resolution takes a return address (it looks up ip - 1): point inside. */
  const AsyncrtTraceInfo *info = asyncrt__symbol_resolve (address + 1);
  if (info != NULL && info->n_symbols > 0 && info->symbols[info->n_symbols - 1].name != NULL)
    return info->symbols[info->n_symbols - 1].name;
  g_snprintf (buf, size, "0x%" G_GINT64_MODIFIER "x", (guint64) address);
  return buf;
}

static char *
describe (const AsyncrtUnfinished *u)
{
  GString *s = g_string_new (NULL);
  char buf[32];
  if (u->kind == ASYNCRT_UNFINISHED_WORKER)
    {
      g_string_append_printf (s, "worker %u", u->worker);
      if (u->task_id != 0)
        g_string_append_printf (s, " inside the poll of task %" G_GUINT64_FORMAT,
                                u->task_id);
      else
        g_string_append (s, " busy");
    }
  else
    {
      g_string_append_printf (s, "blocking job %s", symbol_name (u->symbol, buf, sizeof buf));
      if (u->task_id != 0)
        g_string_append_printf (s, " (task %" G_GUINT64_FORMAT ")", u->task_id);
    }
  g_string_append_printf (s, ", running for %.3f s", (double) u->running_ns / 1e9);
  char *out = strdup (s->str);
  g_string_free (s, TRUE);
  return out;
}

/**
 * asyncrt_runtime_get_unfinished:
 * @rt: a runtime shut down by asyncrt_runtime_shutdown_timeout()
 * @i: an index below asyncrt_runtime_get_n_unfinished()
 * @ret_kind: (out) (optional): what it is
 * @ret_task_id: (out) (optional): the task it works for: the task awaiting the
 *   blocking function (asyncrt_spawn_blocking()), or the task whose poll the worker
 *   is in; 0 if none or unknown
 * @ret_running_ns: (out) (optional): how long it had been running when the deadline
 *   passed, in nanoseconds
 * @ret_description: (out) (optional) (transfer none): one line for humans, e.g.
 *   `blocking job read_config (task 12), running for 5.002 s`, naming the blocking
 *   function from the program's symbols; owned by the runtime until
 *   asyncrt_runtime_free()
 *
 * Describes one thing asyncrt_runtime_shutdown_timeout() left running.  The first
 * call may resolve symbols (reading debug information), so call it after the
 * shutdown, not on a hot path.  Outputs are written only on success.
 *
 * Thread safety: the thread that owns the runtime, until asyncrt_runtime_free().
 *
 * Returns: 0, or -EINVAL if @rt is %NULL or @i is out of range.
 * Since: 0.2
 */
int
asyncrt_runtime_get_unfinished (AsyncrtRuntime *rt, size_t i, AsyncrtUnfinishedKind *ret_kind,
                                AsyncrtTaskId *ret_task_id, uint64_t *ret_running_ns,
                                const char **ret_description)
{
  if (i >= asyncrt_runtime_get_n_unfinished (rt))
    return -EINVAL;
  AsyncrtUnfinished *u = &g_array_index (asyncrt__runtime_handle (rt)->unfinished,
                                         AsyncrtUnfinished, i);
  if (ret_description != NULL && u->description == NULL)
    u->description = describe (u);
  if (ret_kind != NULL)
    *ret_kind = u->kind;
  if (ret_task_id != NULL)
    *ret_task_id = u->task_id;
  if (ret_running_ns != NULL)
    *ret_running_ns = u->running_ns;
  if (ret_description != NULL)
    *ret_description = u->description;
  return 0;
}
