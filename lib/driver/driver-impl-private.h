/* libasyncrt - the driver's state, shared by the driver's own sources only
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership and locking
 * ---------------------
 * `lock` (a mutex) protects the timer wheel, every AsyncrtSleep field marked "driver
 * lock" of a registered sleep, the I/O registration table and every AsyncrtFd field
 * marked "driver lock" (its two wakers), plus `parked` / `park_deadline`.
 * Wakers taken out under the lock are woken (or dropped) only after unlocking.
 *
 * Atomics
 * -------
 * - `refs`: the runtime's reference plus one per registered sleep or fd; relaxed
 *   increments, acq_rel decrement; the last one frees the driver, so a leaf may be
 *   cleared after the runtime freed its driver.
 * - `is_shutdown`: set once under the lock (release); read without it (acquire) by
 *   fast paths, and always re-checked under the lock before registering.
 * - `unpark_pending`: true while an eventfd write is outstanding, so a burst of
 *   unparks costs one write(2).  unpark: exchange(true) and write if it was false.
 *   park: drain the eventfd (read) *then* store false; an unpark racing between the
 *   two finds true and skips its write, which is fine since this park is returning.
 * - AsyncrtFd.state: readiness bits in the low 32 bits and a tick in the high 32
 *   bits.  The driver ORs in new readiness and bumps the tick under the lock; the
 *   owner clears readiness with a compare-and-swap that only succeeds if the tick is
 *   the one it observed before its syscall returned EAGAIN (so readiness that arrived
 *   meanwhile is never lost).  Acquire/release pair the readiness with the data.
 *
 * Sleep states (AsyncrtSleep.state)
 *   IDLE --poll--> REGISTERED --park (expired) / shutdown--> FIRED
 *   REGISTERED|FIRED --poll completes / clear--> IDLE (reference dropped)
 * While the sleep has a driver (driver != NULL) `state` is read and changed under
 * the lock only; otherwise it is IDLE and the owner's.  `done` (returned READY) is
 * the owner's alone, so the fast path of a finished sleep takes no lock.
 */
#ifndef ASYNCRT_DRIVER_IMPL_PRIVATE_H
#define ASYNCRT_DRIVER_IMPL_PRIVATE_H

#include "driver/driver-private.h"
#include "driver/time/wheel-private.h"

#include <pthread.h>

enum
{
  ASYNCRT__SLEEP_IDLE = 0,
  ASYNCRT__SLEEP_REGISTERED,
  ASYNCRT__SLEEP_FIRED,
};

/* AsyncrtFd.state readiness bits */
#define ASYNCRT__IO_READABLE     0x01u
#define ASYNCRT__IO_WRITABLE     0x02u
#define ASYNCRT__IO_READ_CLOSED  0x04u      /* EPOLLRDHUP */
#define ASYNCRT__IO_HUP          0x08u      /* EPOLLHUP */
#define ASYNCRT__IO_ERROR        0x10u      /* EPOLLERR */
#define ASYNCRT__IO_SHUTDOWN     0x20u      /* the driver shut down */
#define ASYNCRT__IO_ANY_READ  (ASYNCRT__IO_READABLE | ASYNCRT__IO_READ_CLOSED | \
                               ASYNCRT__IO_HUP | ASYNCRT__IO_ERROR | ASYNCRT__IO_SHUTDOWN)
#define ASYNCRT__IO_ANY_WRITE (ASYNCRT__IO_WRITABLE | ASYNCRT__IO_HUP | \
                               ASYNCRT__IO_ERROR | ASYNCRT__IO_SHUTDOWN)

/* AsyncrtFd.flags */
#define ASYNCRT__FD_REGISTERED   0x01u
#define ASYNCRT__FD_SOCKET       0x02u

#define ASYNCRT__WAKE_BATCH 64

typedef struct
{
  unsigned n;
  AsyncrtWaker wakers[ASYNCRT__WAKE_BATCH];
} AsyncrtWakeBatch;

struct _AsyncrtDriver
{
  pthread_mutex_t lock;
  int epfd;
  int evfd;
  int refs;                   /* atomic */
  bool is_shutdown;           /* atomic */
  bool unpark_pending;        /* atomic */

  /* lock: */
  bool parked;
  uint64_t park_deadline;     /* what the parked thread sleeps until (UINT64_MAX: I/O only) */
  AsyncrtWheel wheel;
  AsyncrtFd **regs;           /* registration table, indexed by token's low 32 bits - 1 */
  uint32_t *gens;             /* generation per table slot */
  uint32_t *free_slots;       /* stack of free table slots */
  uint32_t n_free;
  uint32_t n_used;            /* high-water mark */
  uint32_t cap;
  size_t n_live;
};

void asyncrt__driver_ref (AsyncrtDriver *d);
void asyncrt__driver_unref (AsyncrtDriver *d);
/* The current driver, or the process-wide fallback driver outside any runtime. */
AsyncrtDriver *asyncrt__driver_current_or_fallback (void);

/* Wake batch: push under the lock (flushes, unlocking briefly, when full). */
void asyncrt__wake_batch_push (AsyncrtDriver *d, AsyncrtWakeBatch *b, AsyncrtWaker w);
void asyncrt__wake_batch_wake (AsyncrtWakeBatch *b);

/* Timers (time/sleep.c). */
void asyncrt__driver_fire_timers (AsyncrtDriver *d, uint64_t now, AsyncrtWakeBatch *b);
void asyncrt__driver_shutdown_timers (AsyncrtDriver *d, AsyncrtWakeBatch *b);

/* I/O (io/reactor.c). */
void asyncrt__driver_dispatch_io (AsyncrtDriver *d, uint64_t token, uint32_t events,
                                  AsyncrtWakeBatch *b);
void asyncrt__driver_shutdown_io (AsyncrtDriver *d, AsyncrtWakeBatch *b);
void asyncrt__driver_free_io (AsyncrtDriver *d);

#endif /* ASYNCRT_DRIVER_IMPL_PRIVATE_H */
