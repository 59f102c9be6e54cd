/* libasyncrt - AsyncrtYield
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "util/common-private.h"
#include "scheduler/coop-private.h"
#include "trace/wait-private.h"

#include <string.h>

/**
 * asyncrt_yield_init:
 * @y: the yield future to initialise
 *
 * Initialises a future that gives other tasks a turn: its first poll wakes the
 * polling task and returns %ASYNCRT_PENDING, the next returns %ASYNCRT_READY.
 *
 * Thread safety: the future's owner only.
 *
 * Since: 0.1
 */
void
asyncrt_yield_init (AsyncrtYield *y)
{
  if (y == NULL)
    return;
  memset (y, 0, sizeof *y);
}

/**
 * asyncrt_yield_poll:
 * @y: an initialised yield future
 * @cx: the context of this poll
 *
 * Polls the yield future (see asyncrt_yield_init()).  It stays ready once it has
 * returned %ASYNCRT_READY; a %NULL @y is ready.
 *
 * Thread safety: the future's owner, one thread at a time.
 *
 * Returns: %ASYNCRT_PENDING at the first poll, %ASYNCRT_READY after.
 * Since: 0.1
 */
static ASYNCRT_WAIT_DESCRIBER void
describe_yield (const AsyncrtYield *y)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w != NULL)
    asyncrt__wait_set (w, ASYNCRT_WAIT_YIELD, (uintptr_t) y, NULL);
}

AsyncrtPoll
asyncrt_yield_poll (AsyncrtYield *y, AsyncrtContext *cx)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_yield (y);
      return ASYNCRT_PENDING;
    }
  if (y == NULL)
    return ASYNCRT_READY;
  if (y->state == 0)
    {
      y->state = 1;
      asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));
      return ASYNCRT_PENDING;
    }
  if (y->state == 1)
    {
      if (!asyncrt__coop_poll_proceed (cx))
        return ASYNCRT_PENDING;
      y->state = 2;
    }
  return ASYNCRT_READY;
}
