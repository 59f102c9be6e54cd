/* libasyncrt - AsyncrtTimeout: an inner future raced against a deadline
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Not a leaf itself: it polls the inner future (through its function pointer, so
 * the inner's leaves show in a dump below it) and then its own sleep, a leaf.
 */
#include "util/common-private.h"

#include <string.h>

enum { TIMEOUT_RUNNING = 0, TIMEOUT_DONE = 1 };

/**
 * asyncrt_timeout_init:
 * @t: the timeout future to initialise
 * @poll: the poll function of the inner future
 * @future: (nullable): the inner future's state, passed to @poll
 * @ms: the time limit in milliseconds, from now
 *
 * Initialises a future that polls the inner future until it is ready or @ms
 * milliseconds have passed (see asyncrt_sleep_init() for how the deadline is
 * computed).  The inner future is polled first on every poll, so an inner future
 * that is ready when the deadline has also passed counts as completed.  After a
 * time-out the inner future is left as it was: it is not polled again, and
 * releasing it is up to the caller.  A %NULL @poll makes the timeout finish with
 * -EINVAL at its first poll.
 *
 * Thread safety: the future's owner only.
 *
 * Since: 0.1
 */
void
asyncrt_timeout_init (AsyncrtTimeout *t, AsyncrtPollFunc poll, void *future, uint64_t ms)
{
  if (t == NULL)
    return;
  memset (t, 0, sizeof *t);
  t->poll = poll;
  t->future = future;
  t->result = -EINPROGRESS;
  asyncrt_sleep_init (&t->sleep, ms);
}

/**
 * asyncrt_timeout_init_until:
 * @t: the timeout future to initialise
 * @poll: the poll function of the inner future
 * @future: (nullable): the inner future's state, passed to @poll
 * @deadline_ms: the absolute deadline (asyncrt_time_now_ms() time base)
 *
 * Like asyncrt_timeout_init() with an absolute deadline.
 *
 * Thread safety: the future's owner only.
 *
 * Since: 0.1
 */
void
asyncrt_timeout_init_until (AsyncrtTimeout *t, AsyncrtPollFunc poll, void *future,
                            uint64_t deadline_ms)
{
  if (t == NULL)
    return;
  memset (t, 0, sizeof *t);
  t->poll = poll;
  t->future = future;
  t->result = -EINPROGRESS;
  asyncrt_sleep_init_until (&t->sleep, deadline_ms);
}

/**
 * asyncrt_timeout_poll:
 * @t: an initialised timeout future
 * @cx: the context of this poll
 *
 * Polls the inner future, then (if it is still pending) the deadline.  When this
 * returns %ASYNCRT_READY, asyncrt_timeout_get_result() tells which came first.
 * Once ready it stays ready and does not poll the inner future again.  A %NULL @t
 * is ready.
 *
 * Thread safety: the future's owner, one thread at a time.
 *
 * Returns: %ASYNCRT_READY when the inner future finished or the deadline passed.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_timeout_poll (AsyncrtTimeout *t, AsyncrtContext *cx)
{
  if (t == NULL || t->state == TIMEOUT_DONE)
    return ASYNCRT_READY;
  if (t->poll == NULL)
    t->result = -EINVAL;
  else if (t->poll (t->future, cx) == ASYNCRT_READY)
    t->result = 0;
  else if (asyncrt_sleep_poll (&t->sleep, cx) == ASYNCRT_READY)
    t->result = -ETIMEDOUT;
  else
    return ASYNCRT_PENDING;
  asyncrt_sleep_clear (&t->sleep);
  t->state = TIMEOUT_DONE;
  return ASYNCRT_READY;
}

/**
 * asyncrt_timeout_get_result:
 * @t: a timeout future
 *
 * Thread safety: the future's owner only.
 *
 * Returns: 0 if the inner future completed, -ETIMEDOUT if the deadline passed
 *   first, -EINPROGRESS before asyncrt_timeout_poll() has returned
 *   %ASYNCRT_READY, -EINVAL for a %NULL @t or a %NULL inner poll function.
 * Since: 0.1
 */
int
asyncrt_timeout_get_result (const AsyncrtTimeout *t)
{
  if (t == NULL)
    return -EINVAL;
  return t->result;
}

/**
 * asyncrt_timeout_clear:
 * @t: (nullable): a timeout future
 *
 * Releases the timeout's own timer registration (see asyncrt_sleep_clear()); the
 * inner future is not touched.  Required before freeing a timeout that was polled
 * but did not finish; harmless otherwise.
 * Safe on a zero-initialised #AsyncrtTimeout that was never initialised, and again on a
 * cleared one.
 *
 * Thread safety: the future's owner only.
 *
 * Since: 0.1
 */
void
asyncrt_timeout_clear (AsyncrtTimeout *t)
{
  if (t == NULL)
    return;
  asyncrt_sleep_clear (&t->sleep);
}
