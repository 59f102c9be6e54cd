/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_DUMP_FILTER_H
#define ASYNCRT_DUMP_FILTER_H

#include <asyncrt/dump.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:dump-filter
 * @title: Filtered dumps
 * @short_description: dump only the tasks you care about, cheaply
 *
 * A dump of a runtime with a hundred thousand tasks is big, and taking it means a
 * trace poll of every one of them.  Most of the time the question is about a few:
 * the connections of one client, the tasks stuck for more than a minute, what one
 * task spawned.  An #AsyncrtDumpOptions says which tasks a dump lists:
 *
 * - a <emphasis>name pattern</emphasis>, a glob where `*` matches any run of
 *   characters and `?` any one character (the rules of GLib's `GPatternSpec`; an
 *   unnamed task is matched as the empty name);
 * - a set of <emphasis>states</emphasis> (#AsyncrtTaskStateFlags);
 * - a <emphasis>minimum idle time</emphasis>: the time since the task's last poll
 *   started (asyncrt_dump_task_get_idle_ns()); a task that was never polled has no
 *   idle time and does not match;
 * - a <emphasis>task and its descendants</emphasis>: the task with that id and every
 *   task spawned by it, by the tasks it spawned, and so on
 *   (asyncrt_dump_task_get_parent_id()).  The links are followed through the tasks
 *   alive when the dump is taken: the children of a task that has completed are
 *   still found (their parent id names it), but a task whose parent completed is no
 *   longer linked to its grandparent, so it and what it spawned are left out.  To
 *   keep a whole subtree together whatever completes in between, give its root a
 *   label (asyncrt_task_set_label(): spawned tasks inherit their spawner's labels)
 *   and look for the label in the dump.
 * - a set of <emphasis>wait kinds</emphasis> (#AsyncrtWaitKind, see the wait section):
 *   the tasks with at least one leaf waiting on one of those kinds (a mutex, a
 *   sleep…).  What a task waits on is known only once it has been traced, so this
 *   filter applies after tracing, to the tasks the others let through: it saves the
 *   formatting, not the trace polls; and a task without a trace (running, or in a
 *   census) has no known wait and is left out.
 *
 * A task is listed when it matches every filter that is set.  The filters other than
 * the wait kinds are applied <emphasis>before</emphasis> tracing, while the dump
 * collects the tasks: a task that does not match is neither claimed nor trace-polled
 * (a queued one is put back in its queue untouched), so a filtered dump of a few
 * tasks in a big runtime costs a walk of the task list and the trace polls of the
 * tasks it lists.  The same filters apply to a census (timeout 0, or a dump past its
 * deadline).  The wait-for graph of a filtered dump (deadlocks, holders) is built
 * from the tasks it lists.
 *
 * |[<!-- language="C" --><!-- sample: body -->
 * AsyncrtDumpOptions *opts = asyncrt_dump_options_new ();
 * asyncrt_dump_options_set_name_pattern (opts, "conn-*");
 * asyncrt_dump_options_set_min_idle_ns (opts, 60 * (uint64_t) 1000000000);
 * AsyncrtDump *dump;
 * if (asyncrt_handle_dump_full (asyncrt_runtime_get_handle (rt), 1000, opts, &dump) == 0)
 *   {
 *     char *text = asyncrt_dump_to_string (dump);   // only the matching tasks
 *     fputs (text, stderr);
 *     free (text);
 *     asyncrt_dump_free (dump);
 *   }
 * asyncrt_dump_options_free (opts);
 * ]|
 *
 * The text form of a filtered dump says so on its summary line, the JSON form in its
 * `"filter"` member; asyncrt_dump_is_complete() speaks of the tasks listed.  From
 * outside the process, `asyncrt-dump --name`, `--state`, `--min-idle`, `--task` and
 * `--wait` ask for the same (see asyncrt-dump(1)).
 */

/**
 * ASYNCRT_WAIT_KIND_BIT:
 * @kind: an #AsyncrtWaitKind
 *
 * The bit of @kind in a set of wait kinds (asyncrt_dump_options_set_wait_kinds()):
 * `ASYNCRT_WAIT_KIND_BIT (ASYNCRT_WAIT_MUTEX) | ASYNCRT_WAIT_KIND_BIT (ASYNCRT_WAIT_SEMAPHORE)`.
 *
 * Since: 0.2
 */
#define ASYNCRT_WAIT_KIND_BIT(kind) ((uint64_t) 1 << (kind))

/**
 * AsyncrtDumpOptions:
 *
 * What a dump should list (and, later, how to take it).  Opaque; create it with
 * asyncrt_dump_options_new(), set filters, pass it to asyncrt_handle_dump_full() or
 * asyncrt_dump_future_init_full() (which copy what they need, so it may be freed or
 * changed right after), free it with asyncrt_dump_options_free().  A new options
 * object has no filter: every task is listed.
 *
 * Since: 0.2
 */
typedef struct _AsyncrtDumpOptions AsyncrtDumpOptions;

/**
 * AsyncrtTaskStateFlags:
 * @ASYNCRT_TASK_STATE_FLAG_IDLE: %ASYNCRT_TASK_STATE_IDLE
 * @ASYNCRT_TASK_STATE_FLAG_SCHEDULED: %ASYNCRT_TASK_STATE_SCHEDULED
 * @ASYNCRT_TASK_STATE_FLAG_RUNNING: %ASYNCRT_TASK_STATE_RUNNING
 * @ASYNCRT_TASK_STATE_FLAG_ALL: any state
 *
 * A set of task states, for asyncrt_dump_options_set_states().
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_TASK_STATE_FLAG_IDLE = 1 << ASYNCRT_TASK_STATE_IDLE,
  ASYNCRT_TASK_STATE_FLAG_SCHEDULED = 1 << ASYNCRT_TASK_STATE_SCHEDULED,
  ASYNCRT_TASK_STATE_FLAG_RUNNING = 1 << ASYNCRT_TASK_STATE_RUNNING,
  ASYNCRT_TASK_STATE_FLAG_ALL = 0x7
} AsyncrtTaskStateFlags;

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtDumpOptions *asyncrt_dump_options_new (void);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtDumpOptions *asyncrt_dump_options_copy (const AsyncrtDumpOptions *opts);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_dump_options_free (AsyncrtDumpOptions *opts);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_dump_options_set_name_pattern (AsyncrtDumpOptions *opts, const char *pattern);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_dump_options_set_states (AsyncrtDumpOptions *opts, unsigned states);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_dump_options_set_min_idle_ns (AsyncrtDumpOptions *opts, uint64_t min_idle_ns);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_dump_options_set_descendants_of (AsyncrtDumpOptions *opts, AsyncrtTaskId id);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_dump_options_set_wait_kinds (AsyncrtDumpOptions *opts, uint64_t kinds);

ASYNCRT_AVAILABLE_IN_0_2
bool asyncrt_dump_options_is_filtered (const AsyncrtDumpOptions *opts);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_handle_dump_full (AsyncrtHandle *h, unsigned timeout_ms,
                              const AsyncrtDumpOptions *opts, AsyncrtDump **out);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_dump_future_init_full (AsyncrtDumpFuture *f, AsyncrtHandle *h,
                                    unsigned timeout_ms, const AsyncrtDumpOptions *opts);

ASYNCRT_AVAILABLE_IN_0_2
bool asyncrt_dump_is_filtered (const AsyncrtDump *d);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_DUMP_FILTER_H */
