/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_STALL_H
#define ASYNCRT_STALL_H

#include <asyncrt/future.h>
#include <asyncrt/runtime.h>
#include <asyncrt/trace.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:stall
 * @title: Stall detector
 * @short_description: noticing a task that holds its thread too long
 *
 * A task's poll should return quickly: while it runs, nothing else runs on its
 * thread.  A poll that spins in a loop, blocks in read() or waits for a pthread mutex
 * stalls every task queued behind it.  The stall detector, off by default, notices
 * such a poll while it is still running, and tells which task it is and where it is
 * stuck, with the native stack of its thread:
 *
 * |[<!-- language="C" --><!-- sample: unit -->
 * static void
 * on_stall (const AsyncrtStall *stall, void *user_data)
 * {
 *   (void) user_data;
 *   char *text = asyncrt_stall_to_string (stall);
 *   fputs (text, stderr);         // or send it to the program's log
 *   free (text);
 * }
 *
 * static AsyncrtRuntime *
 * build_watched_runtime (void)
 * {
 *   AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
 *   asyncrt_builder_set_stall_detector (b, 100, on_stall, NULL);   // 100 ms
 *   AsyncrtRuntime *rt = NULL;
 *   if (asyncrt_builder_build (b, &rt) < 0)
 *     rt = NULL;
 *   asyncrt_builder_free (b);
 *   return rt;
 * }
 * ]|
 *
 * reports, for example:
 *
 * |[<!-- language="plain" -->
 * asyncrt: stall: task 12 "resize" has been running for 0.104 s on worker 1 — native stack:
 *     #0 scale_rows at image.c:212:9
 *     #1 resize_poll at image.c:301:5
 * ]|
 *
 * Without a program change, `ASYNCRT_STALL_MS=100` in the environment turns the
 * detector on with that threshold for every runtime whose builder did not set one,
 * and reports go to stderr (every program-supplied string escaped, one report per
 * line group).  Values that are not a number of milliseconds from 1 to 3600000 are
 * ignored with a message.
 *
 * How it works: a watchdog thread of the runtime's own reads, for each worker, which
 * task it is polling and since when (a timestamp every poll takes anyway on the
 * multi-thread runtime).  When a poll has run past the threshold the watchdog samples
 * that worker's native stack, as a task dump does for a running task (see "Native
 * stacks" in the dump section), and calls the function on the watchdog thread.
 *
 * - One report per stall: a poll that stays stuck for a minute is reported once;
 *   the same task stuck again in a later poll is a new stall.
 * - A bounded rate overall: at most 10 reports in a burst, then one per second per
 *   runtime.  Stalls over the rate are counted, not reported
 *   (asyncrt_runtime_get_stall_counts(); the next report says how many were left
 *   out, asyncrt_stall_get_n_suppressed()).
 * - The report comes within about the threshold plus a few milliseconds (the
 *   watchdog sleeps until the earliest moment a running poll could cross the
 *   threshold), and later if the machine is overloaded.
 * - Cost: off, nothing anywhere.  On, a multi-thread runtime pays nothing more (its
 *   workers publish the running task and its start for dumps already), a
 *   current-thread runtime two stores and a coarse clock read per poll; the watchdog
 *   thread wakes about once per threshold and looks at each worker (two atomic
 *   loads).
 *
 * The function runs on the watchdog thread, never on a worker: it may take its time
 * (format, log, even take a task dump of the runtime), but while it runs the next
 * stall is not looked for.  It must not free the runtime.  The #AsyncrtStall it gets
 * is valid during the call only.
 */

/**
 * AsyncrtStall:
 *
 * One stall: a task whose poll had been running longer than the threshold when the
 * watchdog looked.  Opaque; passed to an #AsyncrtStallFunc and valid during that call
 * only.
 *
 * Since: 0.2
 */
typedef struct _AsyncrtStall AsyncrtStall;

/**
 * AsyncrtStallFunc:
 * @stall: the stall, valid during the call
 * @user_data: the user data given to asyncrt_builder_set_stall_detector()
 *
 * Called on the runtime's watchdog thread once for each stall it reports.
 *
 * Since: 0.2
 */
typedef void (*AsyncrtStallFunc) (const AsyncrtStall *stall, void *user_data);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_builder_set_stall_detector (AsyncrtBuilder *b, unsigned threshold_ms,
                                        AsyncrtStallFunc func, void *user_data);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_runtime_get_stall_counts (AsyncrtRuntime *rt, uint64_t *ret_detected,
                                      uint64_t *ret_reported);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtTaskId asyncrt_stall_get_task_id (const AsyncrtStall *stall);

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_stall_get_task_name (const AsyncrtStall *stall);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_stall_get_worker (const AsyncrtStall *stall);

ASYNCRT_AVAILABLE_IN_0_2
uint64_t asyncrt_stall_get_duration_ns (const AsyncrtStall *stall);

ASYNCRT_AVAILABLE_IN_0_2
const AsyncrtTrace *asyncrt_stall_get_trace (const AsyncrtStall *stall);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtNativeStackStatus asyncrt_stall_get_native_stack_status (const AsyncrtStall *stall);

ASYNCRT_AVAILABLE_IN_0_2
uint64_t asyncrt_stall_get_n_suppressed (const AsyncrtStall *stall);

ASYNCRT_AVAILABLE_IN_0_2
char *asyncrt_stall_to_string (const AsyncrtStall *stall);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_STALL_H */
