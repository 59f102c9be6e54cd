/* libasyncrt - waits: what a traced leaf waits on (the record and its accessors)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A wait lives inside the backtrace its leaf captured (trace-private.h): written by
 * the capturing thread right after the leaf's asyncrt_trace_leaf() returned true
 * (wait-private.h for the library's leaves, the asyncrt_trace_leaf_set_wait*() calls
 * for the program's), completed by a dump's seal (waited_ns), and immutable once the
 * trace is handed over: every accessor may run on several threads at once.
 */
#include "trace/trace-private.h"
#include "trace/wait-private.h"

#include <string.h>

static const char *const kind_names[] = {
  [ASYNCRT_WAIT_UNKNOWN] = "unknown",
  [ASYNCRT_WAIT_YIELD] = "yield",
  [ASYNCRT_WAIT_SLEEP] = "sleep",
  [ASYNCRT_WAIT_FD] = "fd",
  [ASYNCRT_WAIT_NOTIFY] = "notify",
  [ASYNCRT_WAIT_ONESHOT] = "oneshot",
  [ASYNCRT_WAIT_MPSC_RECV] = "mpsc_recv",
  [ASYNCRT_WAIT_MPSC_SEND] = "mpsc_send",
  [ASYNCRT_WAIT_SEMAPHORE] = "semaphore",
  [ASYNCRT_WAIT_MUTEX] = "mutex",
  [ASYNCRT_WAIT_JOIN] = "join",
  [ASYNCRT_WAIT_BLOCKING] = "blocking",
  [ASYNCRT_WAIT_DUMP] = "dump",
  [ASYNCRT_WAIT_JOIN_SET] = "join_set",
  [ASYNCRT_WAIT_CANCELLED] = "cancelled",
  [ASYNCRT_WAIT_SIGNAL] = "signal",
};

static const char *const fact_names[] = {
  [ASYNCRT_WAIT_FACT_REMAINING_NS] = "remaining_ns",
  [ASYNCRT_WAIT_FACT_FD] = "fd",
  [ASYNCRT_WAIT_FACT_DIRECTION] = "direction",
  [ASYNCRT_WAIT_FACT_LENGTH] = "length",
  [ASYNCRT_WAIT_FACT_CAPACITY] = "capacity",
  [ASYNCRT_WAIT_FACT_SENDERS] = "senders",
  [ASYNCRT_WAIT_FACT_CLOSED] = "closed",
  [ASYNCRT_WAIT_FACT_AVAILABLE] = "available",
  [ASYNCRT_WAIT_FACT_REQUESTED] = "requested",
  [ASYNCRT_WAIT_FACT_HELD_NS] = "held_ns",
  [ASYNCRT_WAIT_FACT_HOLDER_PERMITS] = "holder_permits",
  [ASYNCRT_WAIT_FACT_OTHER_HOLDERS] = "other_holders",
  [ASYNCRT_WAIT_FACT_READY] = "ready",
  [ASYNCRT_WAIT_FACT_RUNNING] = "running",
  [ASYNCRT_WAIT_FACT_SIGNAL] = "signal",
  [ASYNCRT_WAIT_FACT_MEMBERS] = "members",
  [ASYNCRT_WAIT_FACT_GROUP_ID] = "group_id",
};

/* ---- the library's leaves (wait-private.h) ------------------------------------------- */

AsyncrtWait *
asyncrt__trace_leaf_wait (void)
{
  AsyncrtBacktrace *bt = asyncrt__trace_last_leaf ();
  return bt != NULL ? &bt->wait : NULL;
}

void
asyncrt__wait_set (AsyncrtWait *w, AsyncrtWaitKind kind, uintptr_t object, const char *name)
{
  w->kind = kind;
  w->object = object;
  if (w->name != name)
    {
      g_free (w->name);
      w->name = g_strdup (name);
    }
}

void
asyncrt__wait_set_holder (AsyncrtWait *w, AsyncrtTaskId holder_id)
{
  w->holder_id = holder_id;
}

void
asyncrt__wait_set_since (AsyncrtWait *w, uint64_t since_ns)
{
  w->since_ns = since_ns;
}

static bool
fact_is_known (AsyncrtWaitFact fact)
{
  return (unsigned) fact < G_N_ELEMENTS (fact_names) && fact_names[fact] != NULL;
}

int
asyncrt__wait_set_fact (AsyncrtWait *w, AsyncrtWaitFact fact, int64_t value)
{
  if (!fact_is_known (fact))
    return -EINVAL;
  for (unsigned i = 0; i < w->n_facts; i++)
    if (w->fact_keys[i] == (uint8_t) fact)
      {
        w->fact_values[i] = value;
        return 0;
      }
  if (w->n_facts == ASYNCRT__WAIT_MAX_FACTS)
    return -ENOSPC;
  w->fact_keys[w->n_facts] = (uint8_t) fact;
  w->fact_values[w->n_facts] = value;
  w->n_facts++;
  return 0;
}

/* ---- the program's leaves ------------------------------------------------------------ */

/**
 * asyncrt_trace_leaf_set_wait:
 * @kind: what the leaf waits on (%ASYNCRT_WAIT_UNKNOWN if it cannot say)
 * @object: the object it waits on (its address, say), or 0
 * @name: (nullable): the object's name, copied; %NULL for none
 *
 * Describes the wait of a leaf future of your own, in trace mode: call it after
 * asyncrt_trace_leaf() returned %TRUE and before returning %ASYNCRT_PENDING (see the
 * example in the section description).  The description goes with the backtrace
 * asyncrt_trace_leaf() just captured on this thread, and replaces whatever was set
 * for it before.  @name may hold anything: every output escapes it.
 *
 * Thread safety: the thread that polls the leaf; it is about that thread's capture.
 *
 * Returns: 0; -EINVAL if @kind is not an #AsyncrtWaitKind; -ENOENT if no leaf was
 *   traced on this thread (no capture is running, or asyncrt_trace_leaf() was not
 *   called, or returned %FALSE).
 * Since: 0.2
 */
int
asyncrt_trace_leaf_set_wait (AsyncrtWaitKind kind, uintptr_t object, const char *name)
{
  if ((unsigned) kind >= G_N_ELEMENTS (kind_names))
    return -EINVAL;
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return -ENOENT;
  asyncrt__wait_set (w, kind, object, name);
  return 0;
}

/**
 * asyncrt_trace_leaf_set_wait_holder:
 * @holder_id: the task that holds what the leaf waits for (0: none, or unknown)
 *
 * Names the task that must act for the leaf's wait to end, when you know it for
 * certain (the owner of a lock of your own, say).  The dump's wait-for graph uses it
 * like a mutex's holder: a cycle of such holders is reported as a deadlock.  Call it
 * as asyncrt_trace_leaf_set_wait().
 *
 * Thread safety: the thread that polls the leaf.
 *
 * Returns: 0; -ENOENT if no leaf was traced on this thread.
 * Since: 0.2
 */
int
asyncrt_trace_leaf_set_wait_holder (AsyncrtTaskId holder_id)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return -ENOENT;
  asyncrt__wait_set_holder (w, holder_id);
  return 0;
}

/**
 * asyncrt_trace_leaf_set_wait_fact:
 * @fact: an #AsyncrtWaitFact
 * @value: its value
 *
 * Adds a fact to the wait of the leaf traced last on this thread (or replaces it),
 * as the library's own leaves do; the text and JSON forms show it.  Call it as
 * asyncrt_trace_leaf_set_wait().  A wait holds at most 8 distinct facts.
 *
 * Thread safety: the thread that polls the leaf.
 *
 * Returns: 0; -EINVAL if @fact is not an #AsyncrtWaitFact; -ENOSPC if the wait holds
 *   8 other facts already; -ENOENT if no leaf was traced on this thread.
 * Since: 0.2
 */
int
asyncrt_trace_leaf_set_wait_fact (AsyncrtWaitFact fact, int64_t value)
{
  if (!fact_is_known (fact))
    return -EINVAL;
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return -ENOENT;
  return asyncrt__wait_set_fact (w, fact, value);
}

/* ---- accessors ----------------------------------------------------------------------- */

/**
 * asyncrt_wait_get_kind:
 * @w: (nullable): a wait
 *
 * Thread safety: any thread.
 *
 * Returns: what the leaf waits on; %ASYNCRT_WAIT_UNKNOWN for a leaf that gave no
 *   description, or for %NULL.
 * Since: 0.2
 */
AsyncrtWaitKind
asyncrt_wait_get_kind (const AsyncrtWait *w)
{
  return w != NULL ? w->kind : ASYNCRT_WAIT_UNKNOWN;
}

/**
 * asyncrt_wait_kind_to_string:
 * @kind: a wait kind
 *
 * The name of a kind as the JSON form writes it: "unknown", "yield", "sleep", "fd",
 * "notify", "oneshot", "mpsc_recv", "mpsc_send", "semaphore", "mutex", "join",
 * "blocking", "dump", "join_set", "cancelled", "signal".
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none): a static string; "unknown" for a value that is not a
 *   kind.
 * Since: 0.2
 */
const char *
asyncrt_wait_kind_to_string (AsyncrtWaitKind kind)
{
  if ((unsigned) kind >= G_N_ELEMENTS (kind_names))
    return kind_names[ASYNCRT_WAIT_UNKNOWN];
  return kind_names[kind];
}

/**
 * asyncrt_wait_fact_to_string:
 * @fact: a wait fact
 *
 * The name of a fact as the JSON form writes it (the member of a wait's "facts"
 * object): "remaining_ns", "fd", "direction", "length", "capacity", "senders",
 * "closed", "available", "requested", "held_ns", "holder_permits", "other_holders",
 * "ready", "running", "signal", "members", "group_id".
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): a static string, or %NULL for a value that is
 *   not a fact.
 * Since: 0.2
 */
const char *
asyncrt_wait_fact_to_string (AsyncrtWaitFact fact)
{
  return fact_is_known (fact) ? fact_names[fact] : NULL;
}

/**
 * asyncrt_wait_get_object:
 * @w: (nullable): a wait
 *
 * The object the leaf waits on: the address of the #AsyncrtMutex, #AsyncrtSemaphore,
 * #AsyncrtNotify, #AsyncrtFd (its descriptor is %ASYNCRT_WAIT_FACT_FD), the channel,
 * the join handle (the joined task is the holder), the join set, the cancellation
 * token…  Waits on the same object have the same value within one dump; an address
 * may be reused once its object is gone.
 *
 * Thread safety: any thread.
 *
 * Returns: the object, or 0 if there is none (a yield, a sleep) or for %NULL.
 * Since: 0.2
 */
uintptr_t
asyncrt_wait_get_object (const AsyncrtWait *w)
{
  return w != NULL ? w->object : 0;
}

/**
 * asyncrt_wait_get_object_name:
 * @w: (nullable): a wait
 *
 * The name the program gave the object (asyncrt_mutex_set_name(),
 * asyncrt_semaphore_set_name(), asyncrt_notify_set_name(),
 * asyncrt_mpsc_receiver_set_name(), asyncrt_oneshot_receiver_set_name(), or
 * asyncrt_trace_leaf_set_wait()), when the task was traced.  Exactly as set: the
 * formats escape it, this does not.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the name, owned by the dump; %NULL if the
 *   object has none (or for %NULL).
 * Since: 0.2
 */
const char *
asyncrt_wait_get_object_name (const AsyncrtWait *w)
{
  return w != NULL ? w->name : NULL;
}

/**
 * asyncrt_wait_get_holder_id:
 * @w: (nullable): a wait
 *
 * The task the wait depends on, when it is known for certain: a mutex's holder, the
 * task holding a semaphore's permits (see %ASYNCRT_WAIT_FACT_OTHER_HOLDERS for
 * whether it is the only one), the joined task, or what a program's leaf named with
 * asyncrt_trace_leaf_set_wait_holder().
 *
 * Thread safety: any thread.
 *
 * Returns: the holder's task id; 0 if there is none, or it is not known (a mutex
 *   locked outside any task), or for %NULL.
 * Since: 0.2
 */
AsyncrtTaskId
asyncrt_wait_get_holder_id (const AsyncrtWait *w)
{
  return w != NULL ? w->holder_id : 0;
}

/**
 * asyncrt_wait_get_waited_ns:
 * @w: (nullable): a wait
 *
 * How long the task had been waiting here when the dump was taken.  The leaves of
 * the synchronisation primitives (mutex, semaphore, notify, channels, cancellation)
 * know when their wait began (the start of the poll that queued them); for the
 * others it is the time since the task's last poll
 * (asyncrt_dump_task_get_idle_ns()).
 *
 * Thread safety: any thread.
 *
 * Returns: nanoseconds; 0 if unknown (the task was never polled, the wait is not
 *   part of a dump, or %NULL).
 * Since: 0.2
 */
uint64_t
asyncrt_wait_get_waited_ns (const AsyncrtWait *w)
{
  return w != NULL ? w->waited_ns : 0;
}

/**
 * asyncrt_wait_get_fact:
 * @w: (nullable): a wait
 * @fact: the fact to read
 * @ret_value: (out) (optional): its value
 *
 * Reads one of the facts of a wait (which ones a wait has: see #AsyncrtWaitKind).
 * @ret_value is written only on success.
 *
 * Thread safety: any thread.
 *
 * Returns: 0; -ENOENT if the wait does not have that fact; -EINVAL if @w is %NULL or
 *   @fact is not an #AsyncrtWaitFact.
 * Since: 0.2
 */
int
asyncrt_wait_get_fact (const AsyncrtWait *w, AsyncrtWaitFact fact, int64_t *ret_value)
{
  if (w == NULL || !fact_is_known (fact))
    return -EINVAL;
  for (unsigned i = 0; i < w->n_facts; i++)
    if (w->fact_keys[i] == (uint8_t) fact)
      {
        if (ret_value != NULL)
          *ret_value = w->fact_values[i];
        return 0;
      }
  return -ENOENT;
}
