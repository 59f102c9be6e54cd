/* libasyncrt - the injection queue
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A FIFO of intrusive AsyncrtQueueNode links shared by every worker of a runtime:
 * tasks woken from outside a worker, spawned from outside the runtime, or overflowing
 * from a full local run queue land here.
 *
 * Ownership
 *   - head, tail, closed and every ->next link of a queued node are guarded by `lock`;
 *     any thread may take it.  A node belongs to the queue from a successful push until
 *     the pop that returns it; a refused push (closed queue) leaves it to the caller.
 *   - len is written only while holding `lock` (so its stores are totally ordered and
 *     always equal the number of linked nodes at the moment of the store) and may be
 *     read by anyone without the lock.
 *
 * Transitions
 *   open -> closed, once (asyncrt__inject_close); never back.  A closed queue refuses
 *   pushes but still hands out what it holds, so shutdown can drain it.
 *
 * Memory ordering
 *   - The mutex orders everything about the list itself: a pop that returns a node
 *     happens after the push that linked it, so the node's contents written before the
 *     push are visible to the popper.
 *   - len uses relaxed loads and stores.  It carries no data: a reader that sees
 *     len > 0 still takes the lock before touching a node.  asyncrt__inject_is_empty()
 *     and asyncrt__inject_len() are therefore hints, exact only when no push or pop is
 *     concurrent.  A caller that must not miss a push (a worker deciding to park) must
 *     order its own "I am idle" store before the check with a sequentially consistent
 *     fence, paired with one on the pushing side between the push and its look at the
 *     idle set; the queue does not do that for it.
 */
#include "util/common-private.h"

#include "queue/queue-private.h"

#include <assert.h>

static inline void
len_set (AsyncrtInject *q, size_t v)
{
  atomic_store_explicit (&q->len, v, memory_order_relaxed);
}

static inline size_t
len_get_locked (AsyncrtInject *q)
{
  /* Under the lock, we are the only writer: a relaxed load is exact. */
  return atomic_load_explicit (&q->len, memory_order_relaxed);
}

void
asyncrt__inject_init (AsyncrtInject *q)
{
  assert (q != NULL);
  int r = pthread_mutex_init (&q->lock, NULL);
  assert (r == 0);
  (void) r;
  q->head = NULL;
  q->tail = NULL;
  q->closed = false;
  atomic_init (&q->len, 0);
}

void
asyncrt__inject_clear (AsyncrtInject *q)
{
  if (q == NULL)
    return;
  /* Clearing a queue that still holds nodes would strand them: a caller bug. */
  assert (q->head == NULL);
  assert (atomic_load_explicit (&q->len, memory_order_relaxed) == 0);
  pthread_mutex_destroy (&q->lock);
}

bool
asyncrt__inject_is_empty (const AsyncrtInject *q)
{
  return atomic_load_explicit (&q->len, memory_order_relaxed) == 0;
}

size_t
asyncrt__inject_len (const AsyncrtInject *q)
{
  return atomic_load_explicit (&q->len, memory_order_relaxed);
}

bool
asyncrt__inject_push (AsyncrtInject *q, AsyncrtQueueNode *n)
{
  assert (n != NULL);
  n->next = NULL;
  return asyncrt__inject_push_batch (q, n, n, 1);
}

bool
asyncrt__inject_push_batch (AsyncrtInject *q, AsyncrtQueueNode *first,
                            AsyncrtQueueNode *last, size_t n)
{
  if (n == 0)
    {
      /* Nothing to link; still report whether the queue takes pushes. */
      pthread_mutex_lock (&q->lock);
      bool open = !q->closed;
      pthread_mutex_unlock (&q->lock);
      return open;
    }
  assert (first != NULL && last != NULL);

  /* Terminate the chain before taking the lock: the nodes are still ours. */
  last->next = NULL;

  pthread_mutex_lock (&q->lock);
  if (ASYNCRT_UNLIKELY (q->closed))
    {
      pthread_mutex_unlock (&q->lock);
      return false;
    }
  if (q->tail != NULL)
    q->tail->next = first;
  else
    q->head = first;
  q->tail = last;
  len_set (q, len_get_locked (q) + n);
  pthread_mutex_unlock (&q->lock);
  return true;
}

AsyncrtQueueNode *
asyncrt__inject_pop (AsyncrtInject *q)
{
  /* Fast path: most polls of an idle runtime find nothing; skip the lock. */
  if (asyncrt__inject_is_empty (q))
    return NULL;

  pthread_mutex_lock (&q->lock);
  AsyncrtQueueNode *n = q->head;
  if (n != NULL)
    {
      q->head = n->next;
      if (q->head == NULL)
        q->tail = NULL;
      len_set (q, len_get_locked (q) - 1);
    }
  pthread_mutex_unlock (&q->lock);

  if (n != NULL)
    n->next = NULL;
  return n;
}

size_t
asyncrt__inject_pop_batch (AsyncrtInject *q, size_t max, AsyncrtQueueNode **ret_first)
{
  assert (ret_first != NULL);
  if (max == 0 || asyncrt__inject_is_empty (q))
    {
      *ret_first = NULL;
      return 0;
    }

  pthread_mutex_lock (&q->lock);
  AsyncrtQueueNode *first = q->head;
  AsyncrtQueueNode *last = NULL;
  size_t n = 0;
  for (AsyncrtQueueNode *cur = first; cur != NULL && n < max; cur = cur->next)
    {
      last = cur;
      n++;
    }
  if (n > 0)
    {
      q->head = last->next;
      if (q->head == NULL)
        q->tail = NULL;
      len_set (q, len_get_locked (q) - n);
    }
  pthread_mutex_unlock (&q->lock);

  if (last != NULL)
    last->next = NULL;
  *ret_first = first;
  return n;
}

bool
asyncrt__inject_close (AsyncrtInject *q)
{
  pthread_mutex_lock (&q->lock);
  bool was_open = !q->closed;
  q->closed = true;
  pthread_mutex_unlock (&q->lock);
  return was_open;
}

bool
asyncrt__inject_is_closed (AsyncrtInject *q)
{
  pthread_mutex_lock (&q->lock);
  bool closed = q->closed;
  pthread_mutex_unlock (&q->lock);
  return closed;
}
