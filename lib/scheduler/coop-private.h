/* libasyncrt - cooperative scheduling budget
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each task poll gets ASYNCRT_COOP_BUDGET leaf polls.  A leaf that could make progress
 * calls asyncrt__coop_poll_proceed() right after asyncrt_trace_leaf(); once the budget
 * is spent it wakes the task and returns PENDING, so a task whose leaves are always
 * ready still yields to the scheduler (and to dumps).
 *
 * Owner: the budget is per thread.  The scheduler sets it before polling a task and
 * restores the previous value afterwards; outside a task poll it is unconstrained.
 */
#ifndef ASYNCRT_COOP_PRIVATE_H
#define ASYNCRT_COOP_PRIVATE_H

#include "util/common-private.h"

#include <limits.h>

#define ASYNCRT_COOP_BUDGET 128u
#define ASYNCRT_COOP_UNCONSTRAINED UINT_MAX

extern _Thread_local unsigned asyncrt__coop_budget;

/* Returns the previous budget, to be restored with the same call. */
static inline unsigned
asyncrt__coop_set_budget (unsigned budget)
{
  unsigned prev = asyncrt__coop_budget;
  asyncrt__coop_budget = budget;
  return prev;
}

/* true: go on.  false: budget spent; the task has been woken; return PENDING. */
static inline bool
asyncrt__coop_poll_proceed (AsyncrtContext *cx)
{
  unsigned b = asyncrt__coop_budget;
  if (ASYNCRT_LIKELY (b > 0))
    {
      if (b != ASYNCRT_COOP_UNCONSTRAINED)
        asyncrt__coop_budget = b - 1;
      return true;
    }
  asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));
  return false;
}

#endif
