/* libasyncrt - sampling several threads with one bounded wait
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A dump samples every thread it found running a task, every worker that did not
 * stop and every blocking-pool thread running a job: all the signals go out first,
 * then the answers are collected against one deadline, so the wait is bounded once
 * for all of them, not once each.  Only then are the stacks unwound (outside every
 * slot lock).
 *
 * Ownership: a batch belongs to the thread that made it.  Between post and collect
 * it holds the lock of each slot it posted to (slot.c): a dump's serving thread
 * posts before tracing and collects afterwards, so a thread that detaches meanwhile
 * waits for the collect (at most until the batch's deadline).
 */
#include "sample/sample-private.h"

typedef struct
{
  AsyncrtSampleSlot *slot;          /* a reference, or NULL */
  AsyncrtSamplePending pending;
  bool posted;
  bool collected;
  AsyncrtNativeStackStatus status;
  AsyncrtSampleRaw *raw;
  AsyncrtTaskId task_id;
  uintptr_t outer_start;
  AsyncrtTrace *trace;
} Item;

struct _AsyncrtSampleBatch
{
  int signo;
  GArray *items;                    /* Item */
};

AsyncrtSampleBatch *
asyncrt__sample_batch_new (int signo)
{
  AsyncrtSampleBatch *b = g_new0 (AsyncrtSampleBatch, 1);
  b->signo = signo;
  b->items = g_array_new (FALSE, TRUE, sizeof (Item));
  return b;
}

size_t
asyncrt__sample_batch_add (AsyncrtSampleBatch *b, AsyncrtSampleSlot *slot)
{
  for (size_t i = 0; slot != NULL && i < b->items->len; i++)
    if (g_array_index (b->items, Item, i).slot == slot)
      return i;
  Item it = { 0 };
  it.slot = slot != NULL ? asyncrt__sample_slot_ref (slot) : NULL;
  it.status = ASYNCRT_NATIVE_STACK_NO_THREAD;
  g_array_append_val (b->items, it);
  return b->items->len - 1;
}

AsyncrtNativeStackStatus
asyncrt__sample_batch_post (AsyncrtSampleBatch *b)
{
  /* Installed at the first real need only: a dump with nothing to sample checks. */
  if (b->items->len == 0)
    return asyncrt__sample_signal_check (b->signo);
  AsyncrtNativeStackStatus ready = asyncrt__sample_signal_prepare (b->signo);
  for (size_t i = 0; i < b->items->len; i++)
    {
      Item *it = &g_array_index (b->items, Item, i);
      if (it->posted)
        continue;
      if (ready != ASYNCRT_NATIVE_STACK_OK)
        {
          it->status = ready;
          continue;
        }
      if (it->slot == NULL)
        continue;                   /* NO_THREAD */
      asyncrt__sample_post (it->slot, b->signo, &it->pending);
      it->posted = true;
      it->status = it->pending.status;
    }
  return ready;
}

void
asyncrt__sample_batch_collect (AsyncrtSampleBatch *b, uint64_t until_ns)
{
  for (size_t i = 0; i < b->items->len; i++)
    {
      Item *it = &g_array_index (b->items, Item, i);
      if (!it->posted || it->collected)
        continue;
      it->collected = true;
      it->status = asyncrt__sample_collect (&it->pending, until_ns, &it->raw);
    }
  /* Every slot is unlocked now: unwind at leisure. */
  for (size_t i = 0; i < b->items->len; i++)
    {
      Item *it = &g_array_index (b->items, Item, i);
      if (it->raw == NULL)
        continue;
      it->task_id = it->raw->task_id;
      it->outer_start = it->raw->outer_start;
      it->trace = asyncrt__sample_unwind (it->raw);
      g_free (it->raw);
      it->raw = NULL;
    }
}

AsyncrtNativeStackStatus
asyncrt__sample_batch_get (AsyncrtSampleBatch *b, size_t i, AsyncrtTaskId *ret_task_id,
                           AsyncrtTrace **ret_trace)
{
  g_assert (i < b->items->len);
  Item *it = &g_array_index (b->items, Item, i);
  if (it->status != ASYNCRT_NATIVE_STACK_OK)
    return it->status;
  if (ret_task_id != NULL)
    *ret_task_id = it->task_id;
  if (ret_trace != NULL)
    {
      *ret_trace = it->trace;
      it->trace = NULL;
    }
  return ASYNCRT_NATIVE_STACK_OK;
}

uintptr_t
asyncrt__sample_batch_get_outer_frame (AsyncrtSampleBatch *b, size_t i)
{
  g_assert (i < b->items->len);
  Item *it = &g_array_index (b->items, Item, i);
  return it->status == ASYNCRT_NATIVE_STACK_OK ? it->outer_start : 0;
}

void
asyncrt__sample_batch_free (AsyncrtSampleBatch *b)
{
  if (b == NULL)
    return;
  asyncrt__sample_batch_collect (b, 0);
  for (size_t i = 0; i < b->items->len; i++)
    {
      Item *it = &g_array_index (b->items, Item, i);
      if (it->trace != NULL)
        asyncrt_trace_free (it->trace);
      asyncrt__sample_slot_unref (it->slot);
    }
  g_array_free (b->items, TRUE);
  g_free (b);
}
