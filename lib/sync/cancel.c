/* libasyncrt - cancellation tokens and the AsyncrtCancelled leaf
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership and transitions:
 * - `refs` (relaxed increments, acq_rel decrement) counts the user's references, one
 *   per child (a child holds its parent) and one per initialised AsyncrtCancelled.
 *   The last unref unlinks the token from its parent's child list (under the
 *   parent's lock) and then drops its reference to the parent.  While the token
 *   sits in its parent's list with refs == 0 (about to unlink itself) a canceller
 *   cannot revive it: it takes references to children only with try_ref (a CAS from
 *   a non-zero count), skipping dying ones, which nobody can observe any more.
 * - `parent` is immutable.  `first_child` (the head of the child list) and the
 *   waiters belong to the token's own lock; `prev_sibling` / `next_sibling` to the
 *   parent's lock.  No thread ever holds two token locks at once.
 * - `cancelled` goes false -> true once, under the token's lock (release), and is
 *   read without it (acquire).  Cancelling a token sets its flag, grants every
 *   waiter (the wait-list protocol of sync-private.h: the waker is moved out under
 *   the lock and woken after unlocking) and then does the same to each child, with
 *   an explicit stack rather than recursion.  A child created after its parent was
 *   cancelled starts cancelled (its parent's flag is checked under the parent's lock
 *   while linking it).  asyncrt_cancel_token_is_cancelled() also walks up the
 *   parents, so a descendant reports cancelled as soon as an ancestor's cancel()
 *   has set its flag, before the walk down reached it.
 * - A waiter is enqueued only after checking the token's own flag under its lock, so
 *   the cancellation that sets the flag later finds it in the list.
 */
#include "sync/sync-private.h"
#include "scheduler/coop-private.h"

#include <stdatomic.h>
#include <stdlib.h>

struct _AsyncrtCancelToken
{
  _Atomic size_t refs;
  atomic_bool cancelled;
  AsyncrtCancelToken *parent;          /* immutable, holds a reference */
  pthread_mutex_t lock;
  AsyncrtCancelToken *first_child;     /* own lock */
  AsyncrtCancelToken *prev_sibling;    /* parent's lock */
  AsyncrtCancelToken *next_sibling;    /* parent's lock */
  AsyncrtSyncWaitList waiters;         /* own lock */
};

static AsyncrtCancelToken *
token_alloc (void)
{
  AsyncrtCancelToken *t = calloc (1, sizeof *t);
  if (t == NULL)
    return NULL;
  atomic_init (&t->refs, 1);
  atomic_init (&t->cancelled, false);
  pthread_mutex_init (&t->lock, NULL);
  asyncrt__wait_list_init (&t->waiters);
  return t;
}

static bool
token_try_ref (AsyncrtCancelToken *t)
{
  size_t n = atomic_load_explicit (&t->refs, memory_order_relaxed);
  while (n != 0)
    if (atomic_compare_exchange_weak_explicit (&t->refs, &n, n + 1, memory_order_relaxed,
                                               memory_order_relaxed))
      return true;
  return false;
}

/**
 * asyncrt_cancel_token_new:
 *
 * Creates a token that is not cancelled, with no parent.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer full) (nullable): the token, to release with
 *   asyncrt_cancel_token_unref(); %NULL with errno ENOMEM.
 * Since: 0.2
 */
AsyncrtCancelToken *
asyncrt_cancel_token_new (void)
{
  AsyncrtCancelToken *t = token_alloc ();
  if (t == NULL)
    errno = ENOMEM;
  return t;
}

/**
 * asyncrt_cancel_token_new_child:
 * @parent: a token
 *
 * Creates a child of @parent: it is cancelled when @parent (or any ancestor) is,
 * and can also be cancelled alone, which does not affect @parent.  A child of a
 * token that is cancelled already starts cancelled.  The child keeps @parent alive.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer full) (nullable): the new token; %NULL with errno EINVAL for a
 *   %NULL @parent, ENOMEM.
 * Since: 0.2
 */
AsyncrtCancelToken *
asyncrt_cancel_token_new_child (AsyncrtCancelToken *parent)
{
  if (parent == NULL)
    {
      errno = EINVAL;
      return NULL;
    }
  AsyncrtCancelToken *t = token_alloc ();
  if (t == NULL)
    {
      errno = ENOMEM;
      return NULL;
    }
  t->parent = asyncrt_cancel_token_ref (parent);
  pthread_mutex_lock (&parent->lock);
  if (atomic_load_explicit (&parent->cancelled, memory_order_relaxed))
    atomic_store_explicit (&t->cancelled, true, memory_order_relaxed);
  t->next_sibling = parent->first_child;
  if (parent->first_child != NULL)
    parent->first_child->prev_sibling = t;
  parent->first_child = t;
  pthread_mutex_unlock (&parent->lock);
  return t;
}

/**
 * asyncrt_cancel_token_ref:
 * @t: (nullable): a token
 *
 * Takes a new reference.
 *
 * Thread safety: any thread holding a reference.
 *
 * Returns: (transfer full) (nullable): @t.
 * Since: 0.2
 */
AsyncrtCancelToken *
asyncrt_cancel_token_ref (AsyncrtCancelToken *t)
{
  if (t != NULL)
    atomic_fetch_add_explicit (&t->refs, 1, memory_order_relaxed);
  return t;
}

/**
 * asyncrt_cancel_token_unref:
 * @t: (nullable): a token
 *
 * Drops a reference; the last one frees the token (its children and the futures
 * waiting on it hold references, so it cannot go while they exist).  Dropping a
 * token does not cancel it.  %NULL is ignored.
 *
 * Thread safety: any thread holding a reference.
 *
 * Since: 0.2
 */
void
asyncrt_cancel_token_unref (AsyncrtCancelToken *t)
{
  while (t != NULL)
    {
      if (atomic_fetch_sub_explicit (&t->refs, 1, memory_order_acq_rel) != 1)
        return;
      g_assert (t->first_child == NULL && asyncrt__wait_list_is_empty (&t->waiters));
      AsyncrtCancelToken *p = t->parent;
      if (p != NULL)
        {
          pthread_mutex_lock (&p->lock);
          if (t->prev_sibling != NULL)
            t->prev_sibling->next_sibling = t->next_sibling;
          else
            p->first_child = t->next_sibling;
          if (t->next_sibling != NULL)
            t->next_sibling->prev_sibling = t->prev_sibling;
          pthread_mutex_unlock (&p->lock);
        }
      pthread_mutex_destroy (&t->lock);
      free (t);
      t = p;                                   /* the child's reference to its parent */
    }
}

/**
 * asyncrt_cancel_token_cancel:
 * @t: (nullable): a token
 *
 * Cancels @t and all its descendants: every #AsyncrtCancelled waiting on one of them
 * is woken (once) and completes, and asyncrt_cancel_token_is_cancelled() returns
 * %TRUE for each of them from the moment this call starts.  Ancestors and siblings
 * are not affected.  Cancelling again does nothing.  %NULL is ignored.
 *
 * Thread safety: any thread, including threads outside every runtime.
 *
 * Since: 0.2
 */
void
asyncrt_cancel_token_cancel (AsyncrtCancelToken *t)
{
  if (t == NULL)
    return;
  GPtrArray *stack = NULL;
  AsyncrtCancelToken *n = asyncrt_cancel_token_ref (t);
  while (n != NULL)
    {
      AsyncrtWakeList wl;
      asyncrt__wake_list_init (&wl);
      pthread_mutex_lock (&n->lock);
      /* A token cancelled already has its subtree done (or being done) by whoever
       * cancelled it; nobody waits on it (waiters check the flag under this lock). */
      if (!atomic_load_explicit (&n->cancelled, memory_order_relaxed))
        {
          atomic_store_explicit (&n->cancelled, true, memory_order_release);
          asyncrt__wait_list_grant_all (&n->waiters, ASYNCRT__WAITER_NOTIFIED_ALL, &wl);
          for (AsyncrtCancelToken *c = n->first_child; c != NULL; c = c->next_sibling)
            if (token_try_ref (c))
              {
                if (stack == NULL)
                  stack = g_ptr_array_new ();
                g_ptr_array_add (stack, c);
              }
        }
      pthread_mutex_unlock (&n->lock);
      asyncrt__wake_list_wake_all (&wl);
      asyncrt_cancel_token_unref (n);
      n = stack != NULL && stack->len > 0 ? g_ptr_array_remove_index_fast (stack, stack->len - 1)
                                          : NULL;
    }
  if (stack != NULL)
    g_ptr_array_free (stack, TRUE);
}

/**
 * asyncrt_cancel_token_is_cancelled:
 * @t: (nullable): a token
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if @t or one of its ancestors has been cancelled; %FALSE otherwise
 *   (and for %NULL).
 * Since: 0.2
 */
bool
asyncrt_cancel_token_is_cancelled (const AsyncrtCancelToken *t)
{
  for (; t != NULL; t = t->parent)
    if (atomic_load_explicit (&t->cancelled, memory_order_acquire))
      return true;
  return false;
}

/**
 * asyncrt_cancelled_init:
 * @w: the future to initialise
 * @t: the token to wait on; @w takes a reference to it until asyncrt_cancelled_clear()
 *
 * Prepares a wait for the cancellation of @t.  A %NULL @t makes @w complete at its
 * first poll.
 *
 * Thread safety: any thread; @w itself is used by one thread at a time.
 *
 * Since: 0.2
 */
void
asyncrt_cancelled_init (AsyncrtCancelled *w, AsyncrtCancelToken *t)
{
  if (w == NULL)
    return;
  memset (w, 0, sizeof *w);
  asyncrt__waiter_reset (&w->waiter);
  w->token = asyncrt_cancel_token_ref (t);
}

/**
 * asyncrt_cancelled_poll:
 * @w: an initialised #AsyncrtCancelled
 * @cx: the context of this poll
 *
 * Waits until the token (or one of its ancestors) is cancelled.  Once it returned
 * %ASYNCRT_READY it keeps returning it.  A leaf future: it shows in task dumps and
 * takes part in the cooperative budget.  Dropping it while it waits is safe once it
 * is cleared with asyncrt_cancelled_clear().
 *
 * Thread safety: the thread polling the future; the token may be cancelled from any
 * thread.
 *
 * Returns: %ASYNCRT_READY once cancelled (at once for a %NULL @w or a @w initialised
 *   with a %NULL token), %ASYNCRT_PENDING otherwise; the context's waker is then
 *   woken by the cancellation.
 * Since: 0.2
 */
static ASYNCRT_WAIT_DESCRIBER void
describe_cancelled (AsyncrtCancelled *w)
{
  AsyncrtWait *wait = asyncrt__trace_leaf_wait ();
  if (wait == NULL)
    return;
  AsyncrtCancelToken *t = w != NULL ? w->token : NULL;
  asyncrt__wait_set (wait, ASYNCRT_WAIT_CANCELLED, (uintptr_t) t, NULL);
  if (t == NULL)
    return;
  pthread_mutex_lock (&t->lock);
  asyncrt__waiter_describe (&w->waiter, wait);
  pthread_mutex_unlock (&t->lock);
  if (asyncrt_cancel_token_is_cancelled (t))
    asyncrt__wait_set_fact (wait, ASYNCRT_WAIT_FACT_READY, 1);
}

AsyncrtPoll
asyncrt_cancelled_poll (AsyncrtCancelled *w, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_cancelled (w);
      return ASYNCRT_PENDING;
    }
  if (w == NULL || w->token == NULL || w->waiter.owner_state == ASYNCRT__OWNER_DONE)
    return ASYNCRT_READY;
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;

  AsyncrtCancelToken *t = w->token;
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  /* An ancestor's flag: the walk down may not have reached @t yet. */
  bool ready = asyncrt_cancel_token_is_cancelled (t);

  if (!ready || w->waiter.owner_state == ASYNCRT__OWNER_QUEUED)
    {
      pthread_mutex_lock (&t->lock);
      if (w->waiter.owner_state == ASYNCRT__OWNER_IDLE)
        {
          if (!ready && !atomic_load_explicit (&t->cancelled, memory_order_relaxed))
            asyncrt__waiter_enqueue (&t->waiters, &w->waiter, cx);
          else
            ready = true;
        }
      else if (w->waiter.state == ASYNCRT__WAITER_WAITING)
        {
          if (ready)
            asyncrt__wait_list_remove (&t->waiters, &w->waiter);
          else
            asyncrt__waiter_update_waker (&w->waiter, cx, &old);
        }
      else
        ready = true;                         /* granted: already unlinked */
      if (ready)
        {
          old = w->waiter.waker;
          w->waiter.waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
        }
      pthread_mutex_unlock (&t->lock);
    }
  if (ready)
    w->waiter.owner_state = ASYNCRT__OWNER_DONE;
  asyncrt_waker_free (&old);
  return ready ? ASYNCRT_READY : ASYNCRT_PENDING;
}

/**
 * asyncrt_cancelled_clear:
 * @w: (nullable): an #AsyncrtCancelled, initialised or zero-filled
 *
 * Stops waiting and drops the reference to the token.  Safe on a future that is
 * waiting (it leaves the token's wait list), finished, already cleared, or
 * zero-filled and never initialised.  %NULL is ignored.
 *
 * Thread safety: any thread, but not while @w is being polled.
 *
 * Since: 0.2
 */
void
asyncrt_cancelled_clear (AsyncrtCancelled *w)
{
  if (w == NULL)
    return;
  AsyncrtCancelToken *t = w->token;
  AsyncrtWaker old = w->waiter.waker;
  if (t != NULL && w->waiter.owner_state == ASYNCRT__OWNER_QUEUED)
    {
      pthread_mutex_lock (&t->lock);
      if (w->waiter.state == ASYNCRT__WAITER_WAITING)
        asyncrt__wait_list_remove (&t->waiters, &w->waiter);
      old = w->waiter.waker;
      pthread_mutex_unlock (&t->lock);
    }
  asyncrt__waiter_reset (&w->waiter);
  w->token = NULL;
  asyncrt_waker_free (&old);
  asyncrt_cancel_token_unref (t);
}
