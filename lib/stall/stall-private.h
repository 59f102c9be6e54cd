/* libasyncrt - the stall detector (internal interface of lib/stall)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * watchdog.c  the detector: configuration (builder, ASYNCRT_STALL_MS), the watchdog
 *             thread, noticing a poll past the threshold, sampling its worker, the
 *             rate limit, the counts
 * stall.c     AsyncrtStall: one report, its public accessors, its text
 *
 * The detector reads what the scheduler publishes through ops->worker_activity and
 * samples with lib/sample; it never touches a scheduler's internals.
 */
#ifndef ASYNCRT_STALL_PRIVATE_H
#define ASYNCRT_STALL_PRIVATE_H

#include "util/common-private.h"
#include "scheduler/scheduler-private.h"

#include <glib.h>

/* Thresholds accepted from the builder and ASYNCRT_STALL_MS (1 ms to one hour). */
#define ASYNCRT_STALL_MAX_THRESHOLD_MS 3600000u
/* The rate limit: a burst of this many reports, then one per ASYNCRT_STALL_REFILL_MS. */
#define ASYNCRT_STALL_BURST 10u
#define ASYNCRT_STALL_REFILL_MS 1000u
/* How long the watchdog waits for a stalled thread to take the sampling signal. */
#define ASYNCRT_STALL_SAMPLE_WAIT_MS 100u

/* ---- watchdog.c ---------------------------------------------------------------------- */

/* asyncrt_builder_build(), after the flavour built the runtime and before it is
 * handed out: starts the watchdog if @b or the environment asks for one (sets
 * h->stall).  Returns 0 or a negative errno (the thread could not be created). */
int asyncrt__stall_detector_start (AsyncrtHandle *h, const AsyncrtBuilder *b);
/* Shutdown, step 1: stops the watchdog and waits for it until @deadline_ns
 * (UINT64_MAX: no limit).  A watchdog still inside the program's stall function then
 * is left to finish on its own (it holds a handle reference).  Idempotent; NULL is
 * ignored. */
void asyncrt__stall_detector_stop (AsyncrtStallDetector *sd, uint64_t deadline_ns);
/* With the handle's last reference; NULL is ignored. */
void asyncrt__stall_detector_free (AsyncrtStallDetector *sd);

/* ---- stall.c ------------------------------------------------------------------------- */

struct _AsyncrtStall
{
  AsyncrtTaskId task_id;
  char *task_name;                    /* owned, or NULL */
  int worker;
  uint64_t duration_ns;
  AsyncrtTrace *trace;                /* owned; NULL without a native stack */
  AsyncrtNativeStackStatus native;
  uint64_t n_suppressed;
  int sample_signo;
};

void asyncrt__stall_clear (AsyncrtStall *s);

#endif /* ASYNCRT_STALL_PRIVATE_H */
