/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_TIME_H
#define ASYNCRT_TIME_H

#include <asyncrt/future.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:time
 * @title: Time
 * @short_description: sleeps, deadlines, timeouts and yielding
 *
 * Time in libasyncrt is CLOCK_MONOTONIC in milliseconds (asyncrt_time_now_ms()).
 * Timers live in the hierarchical timer wheel of the runtime's driver; a sleep is an
 * embeddable struct that doubles as the wheel entry, so awaiting one allocates
 * nothing.
 *
 * An #AsyncrtSleep computes its absolute deadline when it is initialised (that may
 * happen anywhere, even outside a runtime) and registers with the driver of the
 * runtime that polls it first.  It completes when the monotonic clock has reached
 * the deadline, never earlier: asyncrt_sleep_init (s, 100) completes no sooner than
 * 100 ms after the call (a 0 ms sleep completes at its first poll).  A sleep that
 * has been polled and is not finished is linked into the driver: call
 * asyncrt_sleep_clear() before its memory goes away (clearing a finished or
 * never-polled sleep is harmless).  Once its runtime has shut down, a sleep
 * completes at once.
 *
 * Polled outside any runtime (from a hand-written executor using
 * asyncrt_context_new(), say), a sleep registers with a process-wide fallback
 * driver served by one library thread, started on first use, which wakes the
 * context's waker at the deadline.
 *
 * |[<!-- language="C" -->
 * typedef struct { AsyncrtCoroutine co; AsyncrtSleep sleep; } Nap;
 *
 * static AsyncrtPoll
 * nap_poll (void *p, AsyncrtContext *cx)
 * {
 *   Nap *self = p;
 *   ASYNCRT_BEGIN (&self->co);
 *   asyncrt_sleep_init (&self->sleep, 250);
 *   ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->sleep, cx));
 *   ASYNCRT_END (&self->co);
 * }
 * ]|
 *
 * #AsyncrtTimeout runs another future against a deadline; #AsyncrtYield gives the
 * scheduler a chance to run other tasks.
 */

/**
 * ASYNCRT_TIME_FOREVER:
 *
 * A deadline (for asyncrt_sleep_init_until()) that is never reached.
 */
#define ASYNCRT_TIME_FOREVER UINT64_MAX

/**
 * AsyncrtSleep:
 *
 * A future that completes at a deadline.  Embed it in your state; all fields are
 * private.
 */
typedef struct _AsyncrtSleep AsyncrtSleep;
struct _AsyncrtSleep
{
  /*< private >*/
  uint64_t deadline;          /* absolute, ms of asyncrt_time_now_ms() */
  uint64_t when;              /* position in the wheel (driver lock) */
  AsyncrtSleep *prev;         /* wheel slot list (driver lock) */
  AsyncrtSleep *next;
  void *driver;               /* the driver registered with (owner), holds a ref */
  AsyncrtWaker waker;         /* driver lock */
  uint32_t state;             /* driver lock once registered */
  uint32_t slot;              /* level * 64 + slot (driver lock) */
  uint32_t done;              /* owner: returned READY */
  uint32_t reserved0;
  void *reserved[4];
};

/**
 * AsyncrtYield:
 *
 * A future that returns %ASYNCRT_PENDING once (waking its own task first) and then
 * %ASYNCRT_READY.  All fields are private.  It holds nothing, so it has no
 * <literal>_clear</literal>: it may be dropped at any point, zeroed or not.
 */
typedef struct _AsyncrtYield AsyncrtYield;
struct _AsyncrtYield
{
  /*< private >*/
  uint32_t state;
  uint32_t reserved0;
  void *reserved[2];
};

/**
 * AsyncrtTimeout:
 *
 * Polls an inner future until it finishes or a deadline passes, whichever comes
 * first.  All fields are private; see asyncrt_timeout_init().
 */
typedef struct _AsyncrtTimeout AsyncrtTimeout;
struct _AsyncrtTimeout
{
  /*< private >*/
  AsyncrtPollFunc poll;
  void *future;
  AsyncrtSleep sleep;
  int32_t result;
  uint32_t state;
  void *reserved[2];
};

ASYNCRT_AVAILABLE_IN_0_1
uint64_t asyncrt_time_now_ms (void);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_sleep_init (AsyncrtSleep *s, uint64_t ms);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_sleep_init_until (AsyncrtSleep *s, uint64_t deadline_ms);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_sleep_poll (AsyncrtSleep *s, AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_sleep_reset (AsyncrtSleep *s, uint64_t ms);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_sleep_reset_until (AsyncrtSleep *s, uint64_t deadline_ms);

ASYNCRT_AVAILABLE_IN_0_1
uint64_t asyncrt_sleep_get_deadline (const AsyncrtSleep *s);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_sleep_clear (AsyncrtSleep *s);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_yield_init (AsyncrtYield *y);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_yield_poll (AsyncrtYield *y, AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_timeout_init (AsyncrtTimeout *t, AsyncrtPollFunc poll, void *future,
                           uint64_t ms);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_timeout_init_until (AsyncrtTimeout *t, AsyncrtPollFunc poll, void *future,
                                 uint64_t deadline_ms);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_timeout_poll (AsyncrtTimeout *t, AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_timeout_get_result (const AsyncrtTimeout *t);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_timeout_clear (AsyncrtTimeout *t);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_TIME_H */
