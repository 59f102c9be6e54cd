/* libasyncrt - the I/O + time driver (interface)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One driver per runtime: an epoll instance, an eventfd for unparking and a
 * hierarchical timer wheel.  Leaf futures (sleep, fd readiness) register with the
 * driver of the runtime the polling thread belongs to (asyncrt__driver_current()).
 *
 * Threads: park() is called by one thread at a time (the scheduler guarantees it,
 * with its driver lock on the multi-thread runtime).  Registration, deregistration
 * and unpark() are safe from any thread.  Wakers are woken from park() (expired
 * timers, ready fds) or from shutdown(), never with an internal lock held.
 */
#ifndef ASYNCRT_DRIVER_PRIVATE_H
#define ASYNCRT_DRIVER_PRIVATE_H

#include "util/common-private.h"

typedef struct _AsyncrtDriver AsyncrtDriver;

/* Returns 0 or a negative errno (epoll_create1 / eventfd failures). */
int  asyncrt__driver_new (AsyncrtDriver **out);
/* After shutdown(), once no thread is parked or registering (shuts down first if
 * that was not done).  Drops the runtime's reference: sleeps and fds still
 * registered keep the memory (not the service) alive until they are cleared, so
 * futures may be freed, and their leaves cleared, after the driver. */
void asyncrt__driver_free (AsyncrtDriver *d);

/* Waits for I/O readiness, an expired timer or an unpark, at most @timeout_ms
 * (-1: no limit other than the next timer; 0: do not block), then wakes the wakers
 * of expired timers and ready fds.  Timers due at entry are fired without
 * blocking.  Returns at once after shutdown().  The wait is exact to the
 * millisecond of the next timer (epoll_pwait2 where the kernel has it). */
void asyncrt__driver_park (AsyncrtDriver *d, int64_t timeout_ms);
/* Any thread; async-signal-safe.  Makes a current or the next park() return. */
void asyncrt__driver_unpark (AsyncrtDriver *d);
/* Wakes every registered timer and I/O waiter; from now on registrations fail and
 * the leaves report -ESHUTDOWN (or finish) instead of waiting forever. */
void asyncrt__driver_shutdown (AsyncrtDriver *d);
bool asyncrt__driver_is_shutdown (AsyncrtDriver *d);

/* The driver of the runtime the calling thread is running (a worker, or a thread
 * inside block_on), or NULL.  enter() returns the previous value for exit().
 * Leaves polled with no current driver use a process-wide fallback driver served
 * by one library thread (created on first use), so they still complete. */
AsyncrtDriver *asyncrt__driver_current (void);
AsyncrtDriver *asyncrt__driver_enter (AsyncrtDriver *d);
void asyncrt__driver_exit (AsyncrtDriver *prev);

#endif /* ASYNCRT_DRIVER_PRIVATE_H */
