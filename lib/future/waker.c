/* libasyncrt - wakers and contexts
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "future/context-private.h"

#include <glib.h>
#include <stdlib.h>

/**
 * asyncrt_context_get_waker:
 * @cx: a context
 *
 * Returns the waker of the task being polled with @cx.  The waker is borrowed: clone
 * it with asyncrt_waker_clone() to keep it beyond the current poll.
 *
 * Thread safety: only during the poll that received @cx.
 *
 * Returns: (transfer none): the waker, or %NULL if @cx is %NULL.
 * Since: 0.1
 */
const AsyncrtWaker *
asyncrt_context_get_waker (AsyncrtContext *cx)
{
  if (cx == NULL)
    return NULL;
  return &cx->waker;
}

/**
 * asyncrt_context_new:
 * @waker: (nullable): the waker the context carries; cloned
 *
 * Creates a context for polling futures by hand, outside a runtime (custom executors,
 * tests).  With a %NULL @waker the context carries the empty waker.
 *
 * Thread safety: the new context may be used from one thread at a time.
 *
 * Returns: (transfer full): a new context; free it with asyncrt_context_free().
 * Since: 0.1
 */
AsyncrtContext *
asyncrt_context_new (const AsyncrtWaker *waker)
{
  AsyncrtContext *cx = g_new0 (AsyncrtContext, 1);
  if (waker != NULL)
    cx->waker = asyncrt_waker_clone (waker);
  return cx;
}

/**
 * asyncrt_context_free:
 * @cx: (nullable): a context made by asyncrt_context_new()
 *
 * Releases the context and its waker.  %NULL is ignored.  Never call this on a
 * context passed to a poll function.
 *
 * Thread safety: any thread, once no poll uses @cx.
 *
 * Since: 0.1
 */
void
asyncrt_context_free (AsyncrtContext *cx)
{
  if (cx == NULL)
    return;
  asyncrt_waker_free (&cx->waker);
  g_free (cx);
}

/**
 * asyncrt_waker_init:
 * @waker: the waker to initialise
 * @vtable: (nullable): its operations; %NULL makes the empty waker
 * @data: the reference @waker takes ownership of
 *
 * Builds a waker from a vtable and data, for leaf futures and executors written
 * outside the library.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_waker_init (AsyncrtWaker *waker, const AsyncrtWakerVTable *vtable, void *data)
{
  if (waker == NULL)
    return;
  waker->vtable = vtable;
  waker->data = vtable != NULL ? data : NULL;
}

/**
 * asyncrt_waker_clone:
 * @waker: (nullable): a waker
 *
 * Makes a new reference to the same waker.  Cloning the empty waker (or %NULL) gives
 * the empty waker.
 *
 * Thread safety: any thread.
 *
 * Returns: the new reference; consume it with asyncrt_waker_wake() or
 *   asyncrt_waker_free().
 * Since: 0.1
 */
AsyncrtWaker
asyncrt_waker_clone (const AsyncrtWaker *waker)
{
  AsyncrtWaker out = ASYNCRT_WAKER_INIT;
  if (waker == NULL || waker->vtable == NULL)
    return out;
  out.vtable = waker->vtable;
  out.data = waker->vtable->clone (waker->data);
  return out;
}

/**
 * asyncrt_waker_wake:
 * @waker: (nullable): a waker; left empty
 *
 * Wakes the task and consumes the reference.  Waking the empty waker does nothing.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_waker_wake (AsyncrtWaker *waker)
{
  if (waker == NULL || waker->vtable == NULL)
    return;
  const AsyncrtWakerVTable *vt = waker->vtable;
  void *data = waker->data;
  waker->vtable = NULL;
  waker->data = NULL;
  vt->wake (data);
}

/**
 * asyncrt_waker_wake_by_ref:
 * @waker: (nullable): a waker
 *
 * Wakes the task, keeping the reference.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_waker_wake_by_ref (const AsyncrtWaker *waker)
{
  if (waker == NULL || waker->vtable == NULL)
    return;
  waker->vtable->wake_by_ref (waker->data);
}

/**
 * asyncrt_waker_free:
 * @waker: (nullable): a waker; left empty
 *
 * Releases the reference without waking.  Freeing the empty waker does nothing.
 * A zero-initialised #AsyncrtWaker is the empty waker.
 *
 * Thread safety: any thread.
 *
 * Since: 0.1
 */
void
asyncrt_waker_free (AsyncrtWaker *waker)
{
  if (waker == NULL || waker->vtable == NULL)
    return;
  const AsyncrtWakerVTable *vt = waker->vtable;
  void *data = waker->data;
  waker->vtable = NULL;
  waker->data = NULL;
  vt->drop (data);
}

/**
 * asyncrt_waker_will_wake:
 * @a: (nullable): a waker
 * @b: (nullable): another waker
 *
 * Tells whether two wakers certainly wake the same task (same vtable and data), so a
 * leaf can skip replacing a stored waker.
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if waking either wakes the same task.
 * Since: 0.1
 */
bool
asyncrt_waker_will_wake (const AsyncrtWaker *a, const AsyncrtWaker *b)
{
  if (a == NULL || b == NULL)
    return false;
  return a->vtable == b->vtable && a->data == b->data;
}

/**
 * asyncrt_waker_is_empty:
 * @waker: (nullable): a waker
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE for the empty waker or %NULL.
 * Since: 0.1
 */
bool
asyncrt_waker_is_empty (const AsyncrtWaker *waker)
{
  return waker == NULL || waker->vtable == NULL;
}

static void *noop_clone (void *data) { return data; }
static void noop_wake (void *data) { (void) data; }

static const AsyncrtWakerVTable noop_vtable = {
  noop_clone, noop_wake, noop_wake, noop_wake,
};
static const AsyncrtWaker noop_waker = { &noop_vtable, NULL };

/**
 * asyncrt_waker_noop:
 *
 * A waker that does nothing when woken; for polling futures by hand in tests.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none): the no-op waker (it needs no freeing, but freeing a clone
 *   of it is harmless).
 * Since: 0.1
 */
const AsyncrtWaker *
asyncrt_waker_noop (void)
{
  return &noop_waker;
}
