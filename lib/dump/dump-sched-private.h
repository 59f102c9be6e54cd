/* libasyncrt - task dumps: the interface a scheduler serves them through
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The dump module asks, the scheduler answers (DESIGN §6).  This header is all a
 * scheduler flavour sees of lib/dump; lib/dump sees of a scheduler only its hooks,
 * ops->dump (scheduler-private.h) and, for native stacks, ops->worker_activity (which
 * worker runs what, and its sample slot), and never branches on the flavour.
 *
 * ## The hook: ops->dump (h, req)
 * Called by lib/dump from the requester's thread (any thread, possibly one of the
 * runtime's own, e.g. a dump future polled by a worker), with no lock held.  It must
 * not wait for the runtime's threads.  What it does depends on the request's kind:
 *
 *   CENSUS  Answer now, on the calling thread, without running any task code: make a
 *           run, asyncrt__dump_run_census() with the request's census reason and the
 *           scheduler's worker_of, add missing workers if the reason is DEADLINE,
 *           asyncrt__dump_request_complete().  Never released (not queued).
 *   TRACE   Serve it: the scheduler now holds a reference on @req, and must in the
 *           end call asyncrt__dump_request_release() exactly once, after which it
 *           never touches @req again (lib/dump then starts the next queued request,
 *           possibly from inside that call).  Serving means, on a thread that may run
 *           the runtime's tasks, at a scheduling point (between two task polls, no
 *           lock held): asyncrt__dump_request_take() (false: the requester gave up;
 *           release), then a run: every queued task popped (add_queued), the idle ones
 *           claimed (asyncrt__dump_run_collect()), workers that did not stop recorded,
 *           asyncrt__dump_run_trace() (stopped workers may help walk and trace: see
 *           asyncrt__dump_run_help), asyncrt__dump_request_complete(), release.
 *           A scheduler that cannot serve (shut down: asyncrt__dump_request_fail();
 *           no thread to run tasks on: a census with ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING)
 *           answers at once and releases.  Before returning from the hook it may
 *           register a canceller (asyncrt__dump_request_set_canceller), called once if
 *           the requester gives up before the request was taken; the canceller must
 *           make sure the request is released promptly (without waiting for a stuck
 *           thread).
 *
 * Requests of one runtime are served one at a time: lib/dump starts the next only
 * once the scheduler released the previous one.
 *
 * ## Threads
 * A request's accessors and state changes may be used from any thread (they lock the
 * runtime's dump queue).  A run belongs to the thread that created it.
 */
#ifndef ASYNCRT_DUMP_SCHED_PRIVATE_H
#define ASYNCRT_DUMP_SCHED_PRIVATE_H

#include "util/common-private.h"
#include "scheduler/scheduler-private.h"

typedef enum
{
  ASYNCRT_DUMP_KIND_TRACE,    /* stop the runtime's threads, trace every task */
  ASYNCRT_DUMP_KIND_CENSUS    /* states and metadata from the state words only */
} AsyncrtDumpKind;

/* ---- each runtime's dump queue (request.c) -----------------------------------------
 * Created with the handle (asyncrt__handle_init), freed with it (last reference):
 * the lock and condition variable dumps of one runtime wait on, so nothing
 * process-wide can be inherited locked by a forked child. */
AsyncrtDumpQueue *asyncrt__dump_queue_new (void);
void asyncrt__dump_queue_free (AsyncrtDumpQueue *q);
/* asyncrt_runtime_free(), right after setting is_shutdown: wakes every requester so
 * it sees the shutdown. */
void asyncrt__dump_queue_shutdown (AsyncrtDumpQueue *q);

/* ---- the request (request.c) -------------------------------------------------------- */

AsyncrtDumpKind asyncrt__dump_request_get_kind (const AsyncrtDumpRequest *req);
/* CENSUS: why nothing is traced (DEADLINE, TIMEOUT_ZERO). */
AsyncrtDumpNoTraceReason asyncrt__dump_request_get_census_reason (const AsyncrtDumpRequest *req);
/* The filters the dump applies (lib/dump's business: the run reads them), or NULL. */
const AsyncrtDumpOptions *asyncrt__dump_request_get_options (const AsyncrtDumpRequest *req);
/* TRACE: when the requester gives up (CLOCK_MONOTONIC ns, asyncrt__clock_now_ns()). */
uint64_t asyncrt__dump_request_get_deadline_ns (const AsyncrtDumpRequest *req);
/* TRACE: when threads that stopped stop waiting for those that did not (about three
 * quarters of the time, at most 250 ms before the deadline: the rest is for
 * tracing). */
uint64_t asyncrt__dump_request_get_stop_deadline_ns (const AsyncrtDumpRequest *req);

typedef void (*AsyncrtDumpCancelFunc) (AsyncrtDumpRequest *req, void *data);
/* From inside ops->dump only, once the scheduler is ready to be cancelled.  false: the
 * requester gave up already (before any canceller was there to call): the scheduler
 * cancels it itself.  true otherwise (also when it was taken or answered meanwhile). */
bool asyncrt__dump_request_set_canceller (AsyncrtDumpRequest *req, AsyncrtDumpCancelFunc func,
                                          void *data);
/* PENDING -> TAKEN: true, serve it now; false: the requester gave up (release it). */
bool asyncrt__dump_request_take (AsyncrtDumpRequest *req);
/* The result (ownership passes; freed if the requester gave up meanwhile). */
void asyncrt__dump_request_complete (AsyncrtDumpRequest *req, AsyncrtDump *d);
/* A negative errno instead of a result (e.g. -ESHUTDOWN); ignored unless pending. */
void asyncrt__dump_request_fail (AsyncrtDumpRequest *req, int error);
/* The scheduler is done with @req (TRACE only); see the top. */
void asyncrt__dump_request_release (AsyncrtDumpRequest *req);

/* ---- the run (collect.c) -------------------------------------------------------------
 * One dump being taken: the records of every task, the notified references and claims
 * the dump holds, the missing workers.  Only the thread that created it touches it,
 * but for asyncrt__dump_run_help(), which other threads may call while it traces. */
typedef struct _AsyncrtDumpRun AsyncrtDumpRun;

/* Which worker is running @t (its state word says RUNNING), or -1 if unknown. */
typedef int (*AsyncrtDumpWorkerOfFunc) (AsyncrtTask *t, void *data);

/* @flavour: the scheduler's name for the dump ("current_thread", static storage). */
AsyncrtDumpRun *asyncrt__dump_run_new (AsyncrtHandle *h, const AsyncrtDumpRequest *req,
                                       const char *flavour, unsigned n_workers);
/* A task popped from a run queue: its notified reference passes to the run, which
 * traces it and then queues it again (task-private.h, "Trace polls"). */
void asyncrt__dump_run_add_queued (AsyncrtDumpRun *run, AsyncrtTask *t);
/* Before collect: @t sits where the run cannot take it, in the queue (LIFO slot) of
 * @worker, which did not stop. */
void asyncrt__dump_run_note_queued_on (AsyncrtDumpRun *run, AsyncrtTask *t, unsigned worker);
/* A worker that did not stop: the task it is running (0: none) and for how long (0:
 * unknown; then taken from that task's record when the run finishes). */
void asyncrt__dump_run_add_missing_worker (AsyncrtDumpRun *run, unsigned index,
                                           AsyncrtTaskId task_id, uint64_t running_ns);
/* After the queues were drained: walks the owned list (never polling under its lock),
 * claims every idle task (asyncrt__task_claim_for_trace) and records the others:
 * running (worker from @worker_of, may be NULL), queued elsewhere.  The list is walked
 * by groups of shards; helpers (asyncrt__dump_run_help) may walk some of them, from
 * asyncrt__dump_run_collect_open() on.  Returns once every group was walked. */
void asyncrt__dump_run_collect (AsyncrtDumpRun *run, AsyncrtDumpWorkerOfFunc worker_of,
                                void *data);
/* Optional, before asyncrt__dump_run_collect() (which calls it otherwise), on the
 * run's thread once every queue was drained: from here on, helpers can help walk. */
void asyncrt__dump_run_collect_open (AsyncrtDumpRun *run, AsyncrtDumpWorkerOfFunc worker_of,
                                     void *data);
/* Trace-polls every task the run holds, each once inside a quiet capture, until the
 * request's deadline; what is left is released untraced (reason DEADLINE).  No lock
 * held; the calling thread must be one that may run the runtime's tasks.  Tasks are
 * handed out by chunks: other threads of the runtime may take some of them at the
 * same time (asyncrt__dump_run_help); this returns once every chunk was taken, not
 * once the helpers are done with theirs. */
void asyncrt__dump_run_trace (AsyncrtDumpRun *run);
/* Optional, before asyncrt__dump_run_trace() (which calls it otherwise), on the run's
 * thread: everything tracing needs before the first task is handed out (the records'
 * places, native stacks asked for).  Helpers can only help after it. */
void asyncrt__dump_run_trace_begin (AsyncrtDumpRun *run);
/* Another thread that may run the runtime's tasks (a worker the run's thread
 * stopped, now released, which runs no task until this returns) walks groups of the
 * owned list that are left, waits for the run's thread to begin tracing
 * (asyncrt__dump_run_trace_begin(), which it always reaches after collecting), then
 * takes chunks of the run's tasks and traces them; returns at once if collection
 * was not opened (asyncrt__dump_run_collect_open()).  The scheduler makes sure every
 * helper has returned before it calls asyncrt__dump_run_finish(), and that none
 * starts afterwards. */
void asyncrt__dump_run_help (AsyncrtDumpRun *run);
/* Instead of collect + trace: records every task from its state word, untraced, with
 * @reason (running ones: RUNNING, worker from @worker_of).  Any thread; runs no task
 * code. */
void asyncrt__dump_run_census (AsyncrtDumpRun *run, AsyncrtDumpNoTraceReason reason,
                               AsyncrtDumpWorkerOfFunc worker_of, void *data);
/* Frees the run and returns the sealed dump (every reference it held given back). */
AsyncrtDump *asyncrt__dump_run_finish (AsyncrtDumpRun *run);

#endif /* ASYNCRT_DUMP_SCHED_PRIVATE_H */
