/* libasyncrt - the poll context
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An AsyncrtContext lives on the stack of whoever polls a future (the task harness,
 * block_on, a combinator) for the duration of one poll.  It borrows the waker: the
 * poller keeps ownership, the future clones it if it needs to keep it.
 */
#ifndef ASYNCRT_CONTEXT_PRIVATE_H
#define ASYNCRT_CONTEXT_PRIVATE_H

#include "util/common-private.h"

struct _AsyncrtContext
{
  AsyncrtWaker waker;     /* borrowed */
};

static inline void
asyncrt__context_init (AsyncrtContext *cx, AsyncrtWaker waker)
{
  cx->waker = waker;
}

#endif
