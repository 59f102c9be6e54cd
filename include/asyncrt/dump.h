/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_DUMP_H
#define ASYNCRT_DUMP_H

#include <asyncrt/future.h>
#include <asyncrt/runtime.h>
#include <asyncrt/trace.h>
#include <asyncrt/wait.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:dump
 * @title: Task dumps
 * @short_description: what every task of a runtime is doing right now
 *
 * A task dump lists every task of a runtime with its id, its state, and — for every
 * task that could be traced — its <emphasis>async call stack</emphasis>: the chain of
 * async functions
 * from the task's root down to the leaf future (sleep, channel, fd readiness…) it is
 * suspended on.  It also records, for every task, its name, spawn site, parent task,
 * number of polls and the time since its last poll, its labels
 * (asyncrt_task_set_label()) and, for a member of an #AsyncrtJoinSet, its group.
 *
 * Take a dump from any thread that is not one of the runtime's own (a watchdog, a
 * signal-handling thread, main while the runtime runs elsewhere) with
 * asyncrt_handle_dump(), or from inside a task or a `block_on` future with the
 * #AsyncrtDumpFuture:
 *
 * |[<!-- language="C" --><!-- sample: body -->
 * AsyncrtDump *dump;
 * int r = asyncrt_handle_dump (asyncrt_runtime_get_handle (rt), 1000, &dump);
 * if (r == 0)
 *   {
 *     char *text = asyncrt_dump_to_string (dump);
 *     fputs (text, stderr);
 *     free (text);
 *     asyncrt_dump_free (dump);
 *   }
 * ]|
 *
 * prints, for example:
 *
 * |[<!-- language="plain" -->
 * process 4242 (server), taken at 2025-01-31T12:34:56.789Z, libasyncrt 0.2.0
 * task dump of a multi_thread runtime: 3 tasks, incomplete
 * task 9 holds mutex "sessions" for 2.004 s, blocking 1 task: 12
 *   task 9 is running on worker 1 (its native stack is below, with the task)
 * task 7 idle, name "handler", spawned at server.c:88 (accept_loop), parent 1, idle 1.250 s, 12 polls
 *   ╼ handler_poll at server.c:120:5
 *   └╼ read_request_poll at server.c:60:9, 64:9
 *      ├╼ asyncrt_fd_readable_poll at lib/driver/io/fd.c:40:3 — waits for fd 7 to be readable
 *      └╼ asyncrt_sleep_poll at lib/driver/time/sleep.c:31:3 — sleeps, 28.750 s left
 * task 9 running on worker 1, spawned at server.c:95 (accept_loop), running 2.004 s, 3 polls
 *   running for 2.004 s on worker 1 — native stack:
 *     #0 __libc_read at ../sysdeps/unix/sysv/linux/read.c:26:10
 *     #1 load_config at server.c:40:13
 *     #2 reload_poll at server.c:52:5
 * task 12 idle, name "reaper", spawned at server.c:40 (main), idle 1.995 s, 4 polls
 *   ╼ reaper_poll at server.c:44:5
 *   └╼ asyncrt_mutex_lock_poll at lib/sync/mutex.c:160:7 — waits for mutex "sessions" held by task 9 for 2.004 s, waiting 1.995 s
 * worker 1 did not stop: task 9 running for 2.004 s (native stack above, with the task)
 * ]|
 *
 * A function suspended at several places at once (here read_request_poll, waiting
 * on a read and a timeout) is one line listing each place, its leaves below it.
 *
 * ## Why a task waits: waits, holders, deadlocks
 *
 * Each leaf reached by a trace poll also says what it waits on (the wait section):
 * the text writes it after the leaf's line, and asyncrt_dump_task_get_wait() gives
 * it, one per backtrace.  From the waits whose holder is certain (a mutex's holder, a
 * semaphore's only holder, a joined task) the dump builds the wait-for graph, once,
 * when it is taken: tasks waiting for each other are a deadlock
 * (asyncrt_dump_get_deadlock()), provided each of them is idle and waits on nothing
 * else — a holder that runs, is queued, or also waits for a timer, a socket or a
 * channel may still go on, and is never reported as deadlocked.  What a task blocks,
 * transitively, is asyncrt_dump_task_get_n_blocked().  The text form leads with this
 * diagnosis: every deadlock, with what each of its tasks waits for, then every task
 * holding something others wait for, longest-held first, with what it is doing
 * itself.  asyncrt_dump_format() with %ASYNCRT_DUMP_GROUP prints tasks that wait in
 * the same place for the same kinds of things once.  The graph reads the holders as
 * the leaves saw them, one task after the other, while the runtime's threads were
 * stopped; a thread outside the runtime that locks or unlocks meanwhile can make it
 * out of date, never inconsistent.
 * Every string the program supplied (task names, spawn sites, function and file
 * names) is escaped in the text form (`\n`, `\x1b`, `\u202e`, U+FFFD for invalid
 * UTF-8), so one task is always exactly one header line and nothing reaches a
 * terminal raw.
 *
 * ## How a dump is taken, without side effects
 *
 * Tasks waiting in a run queue are taken out of it; idle tasks are claimed (never
 * polled) under the owned-task lock; then each is polled once in <emphasis>trace mode</emphasis>,
 * where every leaf future records the native backtrace from itself up to the task's
 * root and returns %ASYNCRT_PENDING at once, leaving its registration (its stored
 * waker) as it was.  A dump changes nothing it reports: trace polls do not count as
 * polls (asyncrt_dump_task_get_poll_count() and asyncrt_dump_task_get_idle_ns() go on
 * as if no dump had happened, so two dumps tell a stuck task from one that makes
 * progress), and afterwards each task is exactly where it was: a task that was queued
 * is queued again, an idle one waits again for the wake it was waiting for — no
 * extra poll happens.  A real wake that arrives during a task's trace poll is kept
 * and runs the task afterwards, as any wake would.  A task that finishes during its
 * trace poll (its future was ready, no leaf reached) is not listed.
 *
 * A task's trace poll runs the task's own code up to its first leaf future, on a
 * thread of its runtime, at a scheduling point: the current-thread runtime's thread
 * inside asyncrt_runtime_block_on(), or a multi-thread worker.  A task that is
 * running on a worker at that moment cannot be traced: it is listed as
 * %ASYNCRT_TASK_STATE_RUNNING, with the native stack of its thread instead (see
 * below).  On a multi-thread runtime every
 * worker stops at its next scheduling point; a worker that does not stop (say it is
 * blocked in a system call) is reported by asyncrt_dump_get_missing_worker() and the
 * dump goes ahead without it.  The workers that stopped share the walk over the
 * runtime's tasks and then the trace polls, and only then go back to running tasks.
 * On a current-thread runtime that no thread is
 * running (nobody is in asyncrt_runtime_block_on()), no task code may run anywhere,
 * so the dump lists every task with its state and metadata and nothing traced.  Every
 * task without a trace says why (asyncrt_dump_task_get_no_trace_reason(), and a
 * `(not traced: …)` line in the text).
 *
 * Capturing stores instruction pointers only; they are turned into function names,
 * files and lines lazily, the first time a dump is formatted, through a
 * per-address cache, so the runtime's threads never resolve symbols and a second
 * formatting resolves nothing.  An async call stack deeper than
 * %ASYNCRT_TRACE_MAX_FRAMES native frames keeps its innermost frames and is marked
 * cut (asyncrt_backtrace_is_truncated()).
 *
 * ## Native stacks: running tasks, stuck workers, blocking jobs
 *
 * The tasks that hang a program are often the ones a trace poll cannot see: a task
 * that blocks its thread in a CPU loop, in read(2), in a pthread mutex, in a
 * blocking call that should have gone to asyncrt_spawn_blocking().  For those the
 * dump samples the thread: it interrupts it with a signal, the library's handler
 * copies the thread's registers and the live part of its stack into a buffer
 * allocated beforehand (nothing else: no allocation, no lock, `errno` preserved), and
 * the dump unwinds that copy afterwards, on its own thread, with the modules' call
 * frame information — so code built without frame pointers (`-O2` as distributions
 * build it) shows its whole stack.  Symbols are resolved later still, through the
 * same cache as async traces.  What is sampled:
 *
 * - every task found running: asyncrt_dump_task_get_trace_kind() is then
 *   %ASYNCRT_TRACE_KIND_NATIVE and asyncrt_dump_task_get_trace() returns its
 *   thread's stack, innermost first, starting at the task's poll function (the
 *   scheduler's own frames above it are cut off);
 * - every worker that did not stop for the dump
 *   (asyncrt_dump_get_missing_worker_stack());
 * - every blocking-pool thread running a job, listed as a blocking job with its
 *   function, the task awaiting it and its stack, cut above the job's function
 *   (asyncrt_dump_get_blocking_job()).
 *
 * On the current-thread runtime the thread in asyncrt_runtime_block_on() is sampled
 * when a dump from another thread finds it running a task: that dump is the census
 * taken at its deadline (the thread cannot take the dump up), and its running task
 * shows its native stack.  Each sample waits at most about 50 ms for its thread; a
 * thread that does not take the signal in time is reported with the reason
 * (asyncrt_dump_task_get_native_stack_status(): it blocks the signal, it is in an
 * uninterruptible sleep, it did not answer), and the dump still returns by its
 * deadline rule.  A census taken with timeout 0 samples nothing.
 *
 * The signal is `SIGRTMIN+6` unless asyncrt_builder_set_sample_signal() or the
 * `ASYNCRT_SAMPLE_SIGNAL` environment variable (a name or number, or `none`) says
 * otherwise.  The handler is installed the first time a thread is sampled, with
 * `SA_RESTART`, and only if the program has no disposition of its own for that
 * signal: a program's handler (or `SIG_IGN`) is never replaced, and native stacks are
 * then reported unavailable (asyncrt_dump_get_native_stacks(), a line after the
 * summary in the text, `"native_stacks"` in JSON).  What a sample does to the
 * sampled thread: system calls that `SA_RESTART` restarts (read(2), write(2),
 * pthread_mutex_lock(3), accept(2) on a blocking socket…) go on as if nothing had
 * happened; those the kernel never restarts — nanosleep(2), clock_nanosleep(2), poll(2),
 * epoll_wait(2), select(2), sigtimedwait(2), and reads with a socket timeout — return
 * `EINTR` early, as they do for any signal, so code that may be sampled while in one
 * of them must handle `EINTR` (sleep again for the remaining time, poll again).  The
 * library's own system calls all do.
 *
 * ## The deadline rule, and timeout 0
 *
 * asyncrt_handle_dump() and the #AsyncrtDumpFuture return by their deadline plus a
 * small constant (about 100 ms, and at most about 50 ms more when threads running
 * tasks must be sampled for their native stacks).  Dumps of one runtime are taken one at a time, in
 * the order they were asked for.  On a multi-thread runtime the workers that stopped
 * go ahead without the others once about three quarters of the time has passed (at
 * most 250 ms before the deadline), which leaves the rest for tracing; tasks not
 * traced by the deadline are listed untraced (%ASYNCRT_DUMP_NO_TRACE_DEADLINE).  When
 * no thread of the runtime has taken the dump up by the deadline (a current-thread
 * runtime whose thread is stuck in a task, or a multi-thread runtime whose every
 * worker is), or the thread that took it has not finished 100 ms after the deadline
 * (say a task blocked its thread during its trace poll), the result is still a dump:
 * a <emphasis>census</emphasis> that lists every task with its state read from the task's state word
 * and its metadata, without traces, and every worker as missing; it is not complete.
 * `-ETIMEDOUT` is returned only when the deadline passed before the dump could even
 * be started, because earlier dumps of the same runtime were still in progress.
 *
 * A timeout of 0 asks for a census at once: no thread of the runtime is asked
 * anything and nothing is traced (reason %ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO); it
 * never waits, not even for another dump in progress.  It is the cheapest way to
 * list a runtime's tasks with their states, names, spawn sites, poll counts and idle
 * times.
 *
 * A task polled in trace mode runs its own code up to its first leaf future, so a
 * task that blocks its thread before any leaf (a blocking system call in an async
 * function) also blocks the dump's thread; this is why dumps time out rather than
 * wait.
 *
 * ## Handles that outlive their runtime
 *
 * A watchdog or monitoring thread that may outlive the runtime it dumps keeps its own
 * reference on the handle (asyncrt_handle_ref()).  A dump of a handle whose runtime
 * was freed returns `-ESHUTDOWN`; nothing of the freed runtime is touched.
 *
 * ## fork()
 *
 * The library keeps no process-wide lock that a child of fork() could inherit taken:
 * each runtime has its own dump lock, and the two process-wide ones (the symbol cache
 * and the timer thread for leaves outside any runtime) are made consistent across
 * fork() by `pthread_atfork` handlers.  In the child:
 *
 * - the parent's runtimes must not be used at all — not spawned on, not dumped, not
 *   freed (their threads do not exist in the child; their locks may be held by
 *   threads that no longer exist).  Their memory is simply left behind.  Futures and
 *   wakers of the parent's tasks belong to those runtimes too.
 * - the child may build runtimes of its own, run them, and dump them
 *   (asyncrt_handle_dump(), the dump future, formatting with symbols), as any
 *   process can; a timer used outside any runtime gets a new timer thread.
 * - fork() from a thread that is not running one of the library's runtimes (not from
 *   inside a task or a `block_on` future); a child forked from inside one should
 *   only exec().
 */

/**
 * AsyncrtDump:
 *
 * The result of a task dump.  Opaque; immutable except for the lazily resolved
 * symbols, so it may be read from several threads at once.  Free it with
 * asyncrt_dump_free().
 */
typedef struct _AsyncrtDump AsyncrtDump;

/**
 * AsyncrtDumpTask:
 *
 * One task of an #AsyncrtDump.  Owned by the dump.
 */
typedef struct _AsyncrtDumpTask AsyncrtDumpTask;

/**
 * AsyncrtDumpBlockingJob:
 *
 * A function that was running on the runtime's blocking pool when the dump was taken
 * (asyncrt_spawn_blocking() or the library's own jobs).  Owned by the dump.
 *
 * Since: 0.2
 */
typedef struct _AsyncrtDumpBlockingJob AsyncrtDumpBlockingJob;

/**
 * AsyncrtTaskState:
 * @ASYNCRT_TASK_STATE_IDLE: the task was waiting for a wake-up
 * @ASYNCRT_TASK_STATE_SCHEDULED: the task had been woken and was waiting in a run
 *   queue
 * @ASYNCRT_TASK_STATE_RUNNING: the task was being polled by a thread of the runtime;
 *   it has no async trace, but may have the native stack of that thread
 *
 * The state of a task when the dump was taken.
 */
typedef enum
{
  ASYNCRT_TASK_STATE_IDLE = 0,
  ASYNCRT_TASK_STATE_SCHEDULED = 1,
  ASYNCRT_TASK_STATE_RUNNING = 2
} AsyncrtTaskState;

/**
 * AsyncrtDumpNoTraceReason:
 * @ASYNCRT_DUMP_NO_TRACE_NONE: the task was traced (it has a trace)
 * @ASYNCRT_DUMP_NO_TRACE_RUNNING: the task was being polled on a worker (see
 *   asyncrt_dump_task_get_worker()); a running task is never traced, its thread's
 *   native stack is sampled instead (asyncrt_dump_task_get_trace_kind())
 * @ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER: the task was queued on a worker
 *   that did not stop for the dump (asyncrt_dump_task_get_worker() tells which),
 *   where the dump cannot take it
 * @ASYNCRT_DUMP_NO_TRACE_WOKEN_DURING_DUMP: the task was woken by another thread
 *   while the dump was being taken, after the run queues had been emptied; it is
 *   queued and runs normally
 * @ASYNCRT_DUMP_NO_TRACE_CANCELLED: the task had been aborted and its cancellation
 *   was queued
 * @ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING: the runtime was not running: a current-thread
 *   runtime with no thread inside asyncrt_runtime_block_on(), whose tasks may run
 *   nowhere else, so nothing was traced
 * @ASYNCRT_DUMP_NO_TRACE_DEADLINE: the deadline passed before the task could be
 *   traced (or before any thread of the runtime took the dump up: a census)
 * @ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO: the dump was taken with a timeout of 0, which
 *   asks for a census: states and metadata only, nothing traced
 *
 * Why a task of a dump has no trace (asyncrt_dump_task_get_no_trace_reason()).  The
 * text form says it in words, the JSON form in the task's `"no_trace"` member.  New
 * values may be added in later versions.
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_DUMP_NO_TRACE_NONE = 0,
  ASYNCRT_DUMP_NO_TRACE_RUNNING = 1,
  ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER = 2,
  ASYNCRT_DUMP_NO_TRACE_WOKEN_DURING_DUMP = 3,
  ASYNCRT_DUMP_NO_TRACE_CANCELLED = 4,
  ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING = 5,
  ASYNCRT_DUMP_NO_TRACE_DEADLINE = 6,
  ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO = 7
} AsyncrtDumpNoTraceReason;

/**
 * AsyncrtDumpFormat:
 * @ASYNCRT_DUMP_FORMAT_TEXT: the text form: the diagnosis, then every task (or every
 *   group of tasks) with its async call stacks as a tree (asyncrt_dump_to_string())
 * @ASYNCRT_DUMP_FORMAT_JSON: one JSON object, schema version 2
 *   (asyncrt_dump_to_json())
 * @ASYNCRT_DUMP_FORMAT_FOLDED: folded stacks, the input of flame graphs: one line per
 *   distinct async call stack, `frame;frame;frame count` from the root to the leaf
 *   (see asyncrt_dump_format())
 *
 * The formats of asyncrt_dump_format().  More may be added in later versions.
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_DUMP_FORMAT_TEXT = 0,
  ASYNCRT_DUMP_FORMAT_JSON = 1,
  ASYNCRT_DUMP_FORMAT_FOLDED = 2
} AsyncrtDumpFormat;

/**
 * AsyncrtDumpFlags:
 * @ASYNCRT_DUMP_GROUP: tasks with the same async call stack, the same kinds of wait
 *   and the same state are printed once, with their number, their ids (abridged past
 *   20 in the text), their names and their idle times (min, median, max); the JSON
 *   form gains a "groups" member (and still lists every task)
 * @ASYNCRT_DUMP_FOLDED_TASK_NAMES: %ASYNCRT_DUMP_FORMAT_FOLDED: start every stack with
 *   the name of its task (`[unnamed]` for a task without one), so that a flame graph
 *   splits by task first; ignored by the other formats
 *
 * Options of asyncrt_dump_format(), to be or-ed together.  More may be added in
 * later versions.
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_DUMP_GROUP = 1 << 0,
  ASYNCRT_DUMP_FOLDED_TASK_NAMES = 1 << 1
} AsyncrtDumpFlags;

/**
 * AsyncrtDumpFuture:
 *
 * A future that takes a task dump, for use inside a task or a `block_on` future,
 * where the blocking asyncrt_handle_dump() would deadlock.  Its deadline counts from
 * its first poll; it is woken when the dump is ready or the deadline passes (by a
 * timer of the library's own, so it fires even when every worker is stuck), and it
 * never waits on the blocking pool.  Embeddable; its fields are private.  Initialise it with asyncrt_dump_future_init(), poll it with
 * asyncrt_dump_future_poll() until %ASYNCRT_READY, take the result with
 * asyncrt_dump_future_take(), and release it with asyncrt_dump_future_clear()
 * (needed also when it is dropped before it finished).
 *
 * |[<!-- language="C" -->
 * typedef struct { AsyncrtCoroutine co; AsyncrtDumpFuture df; } Inspect;
 *
 * static AsyncrtPoll
 * inspect_poll (void *p, AsyncrtContext *cx)
 * {
 *   Inspect *self = p;
 *   ASYNCRT_BEGIN (&self->co);
 *   asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), 1000);
 *   ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
 *   AsyncrtDump *dump = asyncrt_dump_future_take (&self->df);
 *   if (dump != NULL)           // NULL: see asyncrt_dump_future_get_error()
 *     {
 *       char *text = asyncrt_dump_to_string (dump);
 *       fputs (text, stderr);
 *       free (text);
 *       asyncrt_dump_free (dump);
 *     }
 *   asyncrt_dump_future_clear (&self->df);
 *   ASYNCRT_END (&self->co);
 * }
 * ]|
 */
typedef struct _AsyncrtDumpFuture AsyncrtDumpFuture;
struct _AsyncrtDumpFuture
{
  /*< private >*/
  AsyncrtHandle *handle;
  unsigned timeout_ms;
  int error;
  unsigned finished;
  void *job;
  AsyncrtDump *result;
  struct _AsyncrtDumpOptions *options;
  void *reserved[3];
};

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_handle_dump (AsyncrtHandle *h, unsigned timeout_ms, AsyncrtDump **out);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_dump_future_init (AsyncrtDumpFuture *f, AsyncrtHandle *h, unsigned timeout_ms);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_dump_future_poll (AsyncrtDumpFuture *f, AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtDump *asyncrt_dump_future_take (AsyncrtDumpFuture *f);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_dump_future_get_error (const AsyncrtDumpFuture *f);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_dump_future_clear (AsyncrtDumpFuture *f);

ASYNCRT_AVAILABLE_IN_0_1
size_t asyncrt_dump_get_n_tasks (const AsyncrtDump *d);

ASYNCRT_AVAILABLE_IN_0_1
const AsyncrtDumpTask *asyncrt_dump_get_task (const AsyncrtDump *d, size_t i);

ASYNCRT_AVAILABLE_IN_0_1
const AsyncrtDumpTask *asyncrt_dump_find_task (const AsyncrtDump *d, AsyncrtTaskId id);

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_dump_is_complete (const AsyncrtDump *d);

ASYNCRT_AVAILABLE_IN_0_1
size_t asyncrt_dump_get_n_missing_workers (const AsyncrtDump *d);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_dump_get_missing_worker (const AsyncrtDump *d, size_t i, unsigned *ret_index,
                                     AsyncrtTaskId *ret_task_id, uint64_t *ret_running_ns);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtTaskId asyncrt_dump_task_get_id (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtTaskState asyncrt_dump_task_get_state (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_1
const AsyncrtTrace *asyncrt_dump_task_get_trace (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtDumpNoTraceReason asyncrt_dump_task_get_no_trace_reason (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_1
const char *asyncrt_dump_task_get_name (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_1
const char *asyncrt_dump_task_get_spawn_file (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_1
unsigned asyncrt_dump_task_get_spawn_line (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_1
const char *asyncrt_dump_task_get_spawn_func (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtTaskId asyncrt_dump_task_get_parent_id (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_1
uint64_t asyncrt_dump_task_get_poll_count (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_1
uint64_t asyncrt_dump_task_get_idle_ns (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_dump_task_get_worker (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_2
uint64_t asyncrt_dump_task_get_group_id (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_2
size_t asyncrt_dump_task_get_n_labels (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_dump_task_get_label (const AsyncrtDumpTask *t, size_t i, const char **ret_key,
                                 const char **ret_value);

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_dump_task_lookup_label (const AsyncrtDumpTask *t, const char *key);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtTraceKind asyncrt_dump_task_get_trace_kind (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtNativeStackStatus asyncrt_dump_task_get_native_stack_status (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtNativeStackStatus asyncrt_dump_get_native_stacks (const AsyncrtDump *d);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_dump_get_missing_worker_stack (const AsyncrtDump *d, size_t i,
                                           const AsyncrtTrace **ret_trace,
                                           AsyncrtNativeStackStatus *ret_status);

ASYNCRT_AVAILABLE_IN_0_2
size_t asyncrt_dump_get_n_blocking_jobs (const AsyncrtDump *d);

ASYNCRT_AVAILABLE_IN_0_2
const AsyncrtDumpBlockingJob *asyncrt_dump_get_blocking_job (const AsyncrtDump *d, size_t i);

ASYNCRT_AVAILABLE_IN_0_2
uintptr_t asyncrt_dump_blocking_job_get_address (const AsyncrtDumpBlockingJob *j);

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_dump_blocking_job_get_function (const AsyncrtDumpBlockingJob *j);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtTaskId asyncrt_dump_blocking_job_get_task_id (const AsyncrtDumpBlockingJob *j);

ASYNCRT_AVAILABLE_IN_0_2
uint64_t asyncrt_dump_blocking_job_get_running_ns (const AsyncrtDumpBlockingJob *j);

ASYNCRT_AVAILABLE_IN_0_2
const AsyncrtTrace *asyncrt_dump_blocking_job_get_trace (const AsyncrtDumpBlockingJob *j);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtNativeStackStatus asyncrt_dump_blocking_job_get_native_stack_status (const AsyncrtDumpBlockingJob *j);

ASYNCRT_AVAILABLE_IN_0_2
size_t asyncrt_dump_task_get_n_waits (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_2
const AsyncrtWait *asyncrt_dump_task_get_wait (const AsyncrtDumpTask *t, size_t i);

ASYNCRT_AVAILABLE_IN_0_2
size_t asyncrt_dump_task_get_n_blocked (const AsyncrtDumpTask *t);

ASYNCRT_AVAILABLE_IN_0_2
size_t asyncrt_dump_get_n_deadlocks (const AsyncrtDump *d);

ASYNCRT_AVAILABLE_IN_0_2
size_t asyncrt_dump_get_deadlock (const AsyncrtDump *d, size_t i, const AsyncrtTaskId **ret_ids);

ASYNCRT_AVAILABLE_IN_0_2
char *asyncrt_dump_format (AsyncrtDump *d, AsyncrtDumpFormat format, unsigned flags);

ASYNCRT_AVAILABLE_IN_0_1
char *asyncrt_dump_to_string (AsyncrtDump *d);

ASYNCRT_AVAILABLE_IN_0_1
char *asyncrt_dump_to_json (AsyncrtDump *d);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_dump_free (AsyncrtDump *d);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_DUMP_H */
