/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_DUMP_PROGRESS_H
#define ASYNCRT_DUMP_PROGRESS_H

#include <asyncrt/dump.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:dump-progress
 * @title: Progress between dumps
 * @short_description: which tasks are stuck, and for how long
 *
 * One dump shows where every task waits; it cannot show whether a task waits there
 * for a long time or passes there every millisecond.  Two dumps of the same runtime
 * can: a dump changes no poll count and no idle time (see the dump section), so a
 * task whose poll count did not move between two dumps was not polled in between.
 * asyncrt_dump_progress_new() compares two dumps and tells, for every task of either,
 * one #AsyncrtTaskProgress:
 *
 * - <emphasis>made progress</emphasis>: polled in between
 *   (%ASYNCRT_TASK_PROGRESS_POLLED), or woken in between and waiting for its poll
 *   (%ASYNCRT_TASK_PROGRESS_WOKEN);
 * - <emphasis>no progress</emphasis>: idle in both, with no poll and no wake in
 *   between (%ASYNCRT_TASK_PROGRESS_STUCK); in the same poll in both, which has run
 *   the whole time and blocks its worker (%ASYNCRT_TASK_PROGRESS_STUCK_RUNNING); woken
 *   before the first dump and still not polled by the second, so no worker got to it
 *   (%ASYNCRT_TASK_PROGRESS_STUCK_QUEUED);
 * - in one dump only: spawned in between (%ASYNCRT_TASK_PROGRESS_NEW), or gone — it
 *   finished or was aborted (%ASYNCRT_TASK_PROGRESS_GONE).
 *
 * A wake is seen through the task's state, never counted: the wake path has no
 * counter to read (it would cost an atomic operation on every wake).  So a task woken
 * and polled in between shows as polled, one woken and not yet polled as woken, and
 * one whose wakes all came to nothing cannot be told from a stuck one — which is
 * what it is.  For a task without progress, asyncrt_dump_progress_task_get_stuck_ns()
 * says for how long: the time since its last poll started, as the later dump saw it,
 * which is at least the time between the two dumps.
 *
 * |[<!-- language="C" --><!-- sample: body -->
 * AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
 * AsyncrtDump *earlier, *later;
 * if (asyncrt_handle_dump (h, 1000, &earlier) == 0)
 *   {
 *     sleep (5);
 *     if (asyncrt_handle_dump (h, 1000, &later) == 0)
 *       {
 *         AsyncrtDumpProgress *p;
 *         if (asyncrt_dump_progress_new (earlier, later, &p) == 0)
 *           {
 *             char *text = asyncrt_dump_progress_to_string (p, 0);  // the stuck tasks
 *             fputs (text, stderr);
 *             free (text);
 *             asyncrt_dump_progress_free (p);
 *           }
 *         asyncrt_dump_free (later);
 *       }
 *     asyncrt_dump_free (earlier);
 *   }
 * ]|
 *
 * Both dumps must be of the same runtime: each records which (its registry serial,
 * unique in the process, and its name: asyncrt_dump_get_runtime_serial(),
 * asyncrt_dump_get_runtime_name()), and dumps of two runtimes — also of a runtime
 * freed and another built under the same name — are refused.  A census (timeout 0)
 * carries the same poll counts and states, so two censuses are the cheapest way to
 * find stuck tasks (without their traces).  Tasks are matched by id; with filters
 * that depend on the moment (a state, a minimum idle time) a task may be left out of
 * one dump and not of the other, and is then reported new or gone.
 *
 * From outside the process, `asyncrt-dump --watch SECONDS PID` takes two dumps that
 * many seconds apart and prints the tasks that made no progress.
 */

/**
 * AsyncrtDumpProgress:
 *
 * Two dumps of one runtime compared.  Opaque; it borrows both dumps, which must
 * outlive it; immutable, so it may be read from several threads at once.  Free it
 * with asyncrt_dump_progress_free().
 *
 * Since: 0.2
 */
typedef struct _AsyncrtDumpProgress AsyncrtDumpProgress;

/**
 * AsyncrtDumpProgressTask:
 *
 * One task of an #AsyncrtDumpProgress.  Owned by it.
 *
 * Since: 0.2
 */
typedef struct _AsyncrtDumpProgressTask AsyncrtDumpProgressTask;

/**
 * AsyncrtTaskProgress:
 * @ASYNCRT_TASK_PROGRESS_POLLED: polled between the two dumps (its poll count grew,
 *   or the poll it was in when the earlier dump was taken has ended)
 * @ASYNCRT_TASK_PROGRESS_WOKEN: idle in the earlier dump, woken since and waiting in
 *   a run queue for its poll in the later one
 * @ASYNCRT_TASK_PROGRESS_STUCK: idle in both dumps, not polled and not woken in
 *   between: still waiting for what it waited for
 * @ASYNCRT_TASK_PROGRESS_STUCK_RUNNING: in the same poll in both dumps: that poll has
 *   run the whole time without returning, blocking its worker thread
 * @ASYNCRT_TASK_PROGRESS_STUCK_QUEUED: woken before the earlier dump and not polled
 *   by the later one: no worker ran it
 * @ASYNCRT_TASK_PROGRESS_NEW: only in the later dump: spawned in between
 * @ASYNCRT_TASK_PROGRESS_GONE: only in the earlier dump: it finished or was aborted in
 *   between
 *
 * What a task did between two dumps.  POLLED and WOKEN are progress; the three STUCK
 * kinds are not (asyncrt_dump_progress_task_made_progress()).
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_TASK_PROGRESS_POLLED = 0,
  ASYNCRT_TASK_PROGRESS_WOKEN = 1,
  ASYNCRT_TASK_PROGRESS_STUCK = 2,
  ASYNCRT_TASK_PROGRESS_STUCK_RUNNING = 3,
  ASYNCRT_TASK_PROGRESS_STUCK_QUEUED = 4,
  ASYNCRT_TASK_PROGRESS_NEW = 5,
  ASYNCRT_TASK_PROGRESS_GONE = 6
} AsyncrtTaskProgress;

/**
 * AsyncrtDumpProgressFlags:
 * @ASYNCRT_DUMP_PROGRESS_ALL: list every task, not only those that made no progress
 *
 * Flags of asyncrt_dump_progress_to_string().
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_DUMP_PROGRESS_ALL = 1 << 0
} AsyncrtDumpProgressFlags;

ASYNCRT_AVAILABLE_IN_0_2
uint64_t asyncrt_dump_get_runtime_serial (const AsyncrtDump *d);

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_dump_get_runtime_name (const AsyncrtDump *d);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_dump_progress_new (const AsyncrtDump *earlier, const AsyncrtDump *later,
                               AsyncrtDumpProgress **out);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_dump_progress_free (AsyncrtDumpProgress *p);

ASYNCRT_AVAILABLE_IN_0_2
uint64_t asyncrt_dump_progress_get_interval_ns (const AsyncrtDumpProgress *p);

ASYNCRT_AVAILABLE_IN_0_2
size_t asyncrt_dump_progress_get_n_tasks (const AsyncrtDumpProgress *p);

ASYNCRT_AVAILABLE_IN_0_2
const AsyncrtDumpProgressTask *asyncrt_dump_progress_get_task (const AsyncrtDumpProgress *p,
                                                               size_t i);

ASYNCRT_AVAILABLE_IN_0_2
const AsyncrtDumpProgressTask *asyncrt_dump_progress_find_task (const AsyncrtDumpProgress *p,
                                                                AsyncrtTaskId id);

ASYNCRT_AVAILABLE_IN_0_2
size_t asyncrt_dump_progress_count (const AsyncrtDumpProgress *p, AsyncrtTaskProgress kind);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtTaskId asyncrt_dump_progress_task_get_id (const AsyncrtDumpProgressTask *t);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtTaskProgress asyncrt_dump_progress_task_get_progress (const AsyncrtDumpProgressTask *t);

ASYNCRT_AVAILABLE_IN_0_2
bool asyncrt_dump_progress_task_made_progress (const AsyncrtDumpProgressTask *t);

ASYNCRT_AVAILABLE_IN_0_2
uint64_t asyncrt_dump_progress_task_get_stuck_ns (const AsyncrtDumpProgressTask *t);

ASYNCRT_AVAILABLE_IN_0_2
uint64_t asyncrt_dump_progress_task_get_n_polls (const AsyncrtDumpProgressTask *t);

ASYNCRT_AVAILABLE_IN_0_2
const AsyncrtDumpTask *asyncrt_dump_progress_task_get_earlier (const AsyncrtDumpProgressTask *t);

ASYNCRT_AVAILABLE_IN_0_2
const AsyncrtDumpTask *asyncrt_dump_progress_task_get_later (const AsyncrtDumpProgressTask *t);

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_task_progress_to_string (AsyncrtTaskProgress progress);

ASYNCRT_AVAILABLE_IN_0_2
char *asyncrt_dump_progress_to_string (AsyncrtDumpProgress *p, unsigned flags);

ASYNCRT_AVAILABLE_IN_0_2
char *asyncrt_dump_progress_to_json (AsyncrtDumpProgress *p);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_DUMP_PROGRESS_H */
