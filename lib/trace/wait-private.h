/* libasyncrt - how a leaf future describes what it waits on (internal interface)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The one part of lib/trace the leaves of other modules (lib/sync, lib/driver,
 * lib/task, lib/blocking, lib/dump) use.  The fast path stays one thread-local load:
 * a leaf describes itself only after asyncrt_trace_leaf() returned true, in a cold
 * function of its own:
 *
 *   if (asyncrt_trace_leaf (cx))
 *     {
 *       describe_wait (self);      // ASYNCRT_WAIT_DESCRIBER: noinline, cold
 *       return ASYNCRT_PENDING;
 *     }
 *
 * and the describer fills the wait of the backtrace that leaf just captured:
 *
 *   AsyncrtWait *w = asyncrt__trace_leaf_wait ();
 *   if (w == NULL)
 *     return;
 *   asyncrt__wait_set (w, ASYNCRT_WAIT_MUTEX, (uintptr_t) m, name);
 *   asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_HELD_NS, held);
 *
 * It runs in trace mode (a dump or asyncrt_trace_capture()), never on a hot path: it
 * may take the primitive's own lock to read consistent facts (the dumping thread holds
 * no other lock then, and never an owned-list lock).  Threads: the wait belongs to the
 * capturing thread until the capture ends.
 */
#ifndef ASYNCRT_WAIT_PRIVATE_H
#define ASYNCRT_WAIT_PRIVATE_H

#include "util/common-private.h"

/* For describers: out of the leaf's fast path, out of its cache lines. */
#define ASYNCRT_WAIT_DESCRIBER __attribute__((noinline, cold))

/* The wait of the leaf whose asyncrt_trace_leaf() just returned true on this thread;
 * NULL outside a capture. */
AsyncrtWait *asyncrt__trace_leaf_wait (void);

/* Sets kind, object and name (copied; NULL: unnamed), replacing what was set. */
void asyncrt__wait_set (AsyncrtWait *w, AsyncrtWaitKind kind, uintptr_t object,
                        const char *name);
void asyncrt__wait_set_holder (AsyncrtWait *w, AsyncrtTaskId holder_id);
/* When the wait began (asyncrt__clock_now_ns() base), if the leaf knows; 0: unknown
 * (the dump then counts from the task's last poll). */
void asyncrt__wait_set_since (AsyncrtWait *w, uint64_t since_ns);
/* Sets or replaces a fact.  Returns -ENOSPC if the wait has no room left (at most
 * ASYNCRT__WAIT_MAX_FACTS distinct facts), -EINVAL for an unknown fact. */
int asyncrt__wait_set_fact (AsyncrtWait *w, AsyncrtWaitFact fact, int64_t value);

#endif /* ASYNCRT_WAIT_PRIVATE_H */
