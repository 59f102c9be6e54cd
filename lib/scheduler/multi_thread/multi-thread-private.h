/* libasyncrt - multi-thread scheduler (internal interface)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * idle.c   which workers search, which are parked, whom new work wakes
 * park.c   the per-worker parker and the shared driver lock
 * worker.c the workers, their run loop, scheduling, shutdown
 * The ownership rules of each part open its source file.
 */
#ifndef ASYNCRT_MULTI_THREAD_PRIVATE_H
#define ASYNCRT_MULTI_THREAD_PRIVATE_H

#include "util/common-private.h"
#include "driver/driver-private.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- idle.c ----------------------------------------------------------------- */

typedef struct
{
  _Atomic uint64_t state;      /* (num_unparked << 32) | num_searching */
  unsigned num_workers;        /* immutable */
  pthread_mutex_t lock;
  unsigned *sleepers;          /* guarded by lock: stack of parked worker indices */
  bool *is_sleeping;           /* guarded by lock */
  size_t n_sleepers;           /* guarded by lock */
} AsyncrtMtIdle;

void asyncrt__mt_idle_init (AsyncrtMtIdle *idle, unsigned num_workers);
void asyncrt__mt_idle_clear (AsyncrtMtIdle *idle);
/* After publishing work: the index of a parked worker to unpark (now counted as
 * unparked and searching), or -1 if none should be woken. */
int  asyncrt__mt_idle_worker_to_notify (AsyncrtMtIdle *idle);
/* Returns true if the caller was the last searcher: it must then re-check every
 * queue and notify a worker if it finds work. */
bool asyncrt__mt_idle_transition_to_parked (AsyncrtMtIdle *idle, unsigned worker,
                                            bool is_searching);
bool asyncrt__mt_idle_transition_to_searching (AsyncrtMtIdle *idle);
/* Returns true if the caller was the last searcher (it should notify another). */
bool asyncrt__mt_idle_transition_from_searching (AsyncrtMtIdle *idle);
/* Removes @worker from the sleepers (unparked, not searching); false if it was not
 * parked (someone else unparked it, as a searcher). */
bool asyncrt__mt_idle_unpark_worker_by_id (AsyncrtMtIdle *idle, unsigned worker);
bool asyncrt__mt_idle_is_parked (AsyncrtMtIdle *idle, unsigned worker);
/* Unparks every parked worker through the bookkeeping (each counted unparked and
 * searching); writes their indices to @out (room for num_workers) and returns how
 * many.  The caller then unparks their parkers.  Used by shutdown and dumps. */
size_t asyncrt__mt_idle_unpark_all (AsyncrtMtIdle *idle, unsigned *out);
unsigned asyncrt__mt_idle_num_searching (AsyncrtMtIdle *idle);
unsigned asyncrt__mt_idle_num_unparked (AsyncrtMtIdle *idle);

/* ---- park.c ----------------------------------------------------------------- */

typedef struct
{
  AsyncrtDriver *driver;       /* immutable; NULL: every worker parks on its condvar */
  _Atomic bool locked;         /* the driver lock (try-lock only) */
} AsyncrtMtSharedDriver;

void asyncrt__mt_shared_driver_init (AsyncrtMtSharedDriver *sd, AsyncrtDriver *driver);
bool asyncrt__mt_shared_driver_trylock (AsyncrtMtSharedDriver *sd);
void asyncrt__mt_shared_driver_unlock (AsyncrtMtSharedDriver *sd);

typedef struct
{
  _Atomic unsigned state;      /* EMPTY, PARKED_CONDVAR, PARKED_DRIVER, NOTIFIED */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  AsyncrtMtSharedDriver *shared;
} AsyncrtMtParker;

void asyncrt__mt_parker_init (AsyncrtMtParker *p, AsyncrtMtSharedDriver *shared);
void asyncrt__mt_parker_clear (AsyncrtMtParker *p);
/* Owner only.  Returns after an unpark (possibly one that came before the call) or
 * spuriously; callers loop on their own condition. */
void asyncrt__mt_parker_park (AsyncrtMtParker *p);
/* Owner only.  Consumes a pending unpark, or polls the driver without blocking if
 * its lock is free. */
void asyncrt__mt_parker_park_timeout_zero (AsyncrtMtParker *p);
/* Any thread. */
void asyncrt__mt_parker_unpark (AsyncrtMtParker *p);

#endif /* ASYNCRT_MULTI_THREAD_PRIVATE_H */
