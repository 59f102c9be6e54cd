/* libasyncrt - native stacks in dumps: running tasks, workers that did not stop,
 * blocking-pool jobs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A dump cannot trace a task that is running: its thread is inside the task's poll.
 * It can sample that thread (lib/sample): the thread's native stack, cut at the task's
 * trace root, shows where the poll is stuck (a CPU loop, read(), a pthread mutex).
 * What is sampled, by the thread that takes the dump, after it has collected every
 * task and before it traces the idle ones (so the answers arrive while it traces):
 *   - the worker of every RUNNING record (ops->worker_activity gives its slot);
 *   - every worker that did not stop;
 *   - every blocking-pool thread running a job (listed in the dump as blocking jobs).
 * A thread is sampled once even if it is several of these.  Each answer says which
 * task the thread was polling when it took the signal: the RUNNING record of that
 * task gets the stack (trace kind NATIVE); a record whose task was no longer being
 * polled gets MOVED_ON; a missing worker keeps the stack when no record took it.  A
 * blocking job whose thread was not inside the job's runner any more is MOVED_ON too.
 *
 * When: every tracing run, and a census taken because the deadline passed (its
 * running tasks are the reason it is a census); never a census with timeout 0 or of
 * a runtime that is not running (nothing may wait there).  The answers are awaited
 * once for all, at most ASYNCRT_SAMPLE_WAIT_MS after the signals went out.
 *
 * Ownership: an AsyncrtDumpSampling belongs to the run's thread, like the run; it
 * holds the sample batch (and with it the locks of the sampled slots, see
 * lib/sample/batch.c) from begin to end.  The records it fills are the dump's, before
 * the dump is sealed.  The accessors below read a sealed, immutable dump.
 */
#include "dump/dump-private.h"
#include "sample/sample-private.h"
#include "trace/trace-private.h"
#include "util/util-private.h"

#include <stdlib.h>
#include <string.h>

typedef struct
{
  size_t rec;                 /* index of the RUNNING record */
  size_t sample;              /* its item in the batch, or SIZE_MAX */
} RunningSample;

struct _AsyncrtDumpSampling
{
  AsyncrtSampleBatch *batch;  /* NULL: nothing sampled */
  GArray *running;            /* RunningSample */
  uint64_t posted_ns;
};

/* ---- begin: list the blocking jobs, send the signals ---------------------------------- */

typedef struct
{
  AsyncrtDump *d;
  AsyncrtSampleBatch *batch;
} JobCollect;

/* Under the pool's lock: only records and references. */
static void
collect_job (const AsyncrtBlockingRunning *job, void *data)
{
  JobCollect *c = data;
  struct _AsyncrtDumpBlockingJob j = { 0 };
  j.function = (uintptr_t) job->symbol;
  j.task_id = job->task_id;
  j.start_ns = job->start_ns;
  j.native = ASYNCRT_NATIVE_STACK_NOT_SAMPLED;
  j.sample = SIZE_MAX;
  if (c->batch != NULL)
    j.sample = asyncrt__sample_batch_add (c->batch, job->slot);
  g_array_append_val (c->d->blocking_jobs, j);
}

/* A new batch item for worker @worker (its slot, or no thread). */
static size_t
add_worker (AsyncrtSampleBatch *b, AsyncrtHandle *h, int worker)
{
  AsyncrtSampleSlot *slot = NULL;
  if (worker >= 0)
    h->ops->worker_activity (h, (unsigned) worker, NULL, &slot);
  size_t i = asyncrt__sample_batch_add (b, slot);
  asyncrt__sample_slot_unref (slot);
  return i;
}

AsyncrtDumpSampling *
asyncrt__dump_sampling_begin (AsyncrtDump *d, AsyncrtHandle *h, const GArray *running,
                              bool sample)
{
  AsyncrtDumpSampling *s = g_new0 (AsyncrtDumpSampling, 1);
  s->running = g_array_new (FALSE, FALSE, sizeof (RunningSample));
  d->sample_signo = h->sample_signo;
  if (sample)
    s->batch = asyncrt__sample_batch_new (h->sample_signo);

  for (size_t i = 0; running != NULL && i < running->len; i++)
    {
      RunningSample r = { g_array_index (running, size_t, i), SIZE_MAX };
      struct _AsyncrtDumpTask *rec = asyncrt__dump_task_at (d, r.rec);
      rec->native = ASYNCRT_NATIVE_STACK_NOT_SAMPLED;
      if (s->batch != NULL)
        r.sample = add_worker (s->batch, h, rec->worker);
      g_array_append_val (s->running, r);
    }
  for (size_t i = 0; i < d->missing->len; i++)
    {
      AsyncrtDumpMissingWorker *w = asyncrt__dump_missing_at (d, i);
      w->native = ASYNCRT_NATIVE_STACK_NOT_SAMPLED;
      w->sample = s->batch != NULL ? add_worker (s->batch, h, (int) w->index) : SIZE_MAX;
    }
  JobCollect c = { d, s->batch };
  asyncrt__blocking_pool_foreach_running (h->blocking, collect_job, &c);

  if (s->batch != NULL)
    d->native_stacks = asyncrt__sample_batch_post (s->batch);
  else
    d->native_stacks = asyncrt__sample_signal_check (h->sample_signo);
  s->posted_ns = asyncrt__clock_now_ns ();
  return s;
}

/* ---- end: collect, and give each record its stack ---------------------------------------- */

void
asyncrt__dump_sampling_end (AsyncrtDump *d, AsyncrtDumpSampling *s)
{
  if (s == NULL)
    return;
  AsyncrtSampleBatch *b = s->batch;
  if (b == NULL)
    goto done;
  asyncrt__sample_batch_collect (b, s->posted_ns + (uint64_t) ASYNCRT_SAMPLE_WAIT_MS * 1000000u);

  for (size_t i = 0; i < s->running->len; i++)
    {
      RunningSample *r = &g_array_index (s->running, RunningSample, i);
      struct _AsyncrtDumpTask *rec = asyncrt__dump_task_at (d, r->rec);
      AsyncrtTaskId sampled = 0;
      AsyncrtNativeStackStatus st = asyncrt__sample_batch_get (b, r->sample, &sampled, NULL);
      if (st == ASYNCRT_NATIVE_STACK_OK && sampled != rec->id)
        st = ASYNCRT_NATIVE_STACK_MOVED_ON;
      else if (st == ASYNCRT_NATIVE_STACK_OK)
        {
          AsyncrtTrace *tr = NULL;
          asyncrt__sample_batch_get (b, r->sample, NULL, &tr);
          if (tr != NULL && rec->trace == NULL)
            {
              rec->trace = tr;
              rec->trace_kind = ASYNCRT_TRACE_KIND_NATIVE;
            }
          else if (tr != NULL)
            asyncrt_trace_free (tr);
          else
            st = ASYNCRT_NATIVE_STACK_MOVED_ON;     /* another record of it took it */
        }
      rec->native = st;
    }
  for (size_t i = 0; i < d->missing->len; i++)
    {
      AsyncrtDumpMissingWorker *w = asyncrt__dump_missing_at (d, i);
      AsyncrtTrace *tr = NULL;
      /* OK with no trace left: a RUNNING record took it (the accessor finds it). */
      w->native = asyncrt__sample_batch_get (b, w->sample, NULL, &tr);
      w->trace = tr;
    }
  uintptr_t run_start, run_end;
  asyncrt__blocking_run_range (&run_start, &run_end);
  (void) run_end;
  for (size_t i = 0; i < d->blocking_jobs->len; i++)
    {
      struct _AsyncrtDumpBlockingJob *j = &g_array_index (d->blocking_jobs,
                                                          struct _AsyncrtDumpBlockingJob, i);
      AsyncrtTrace *tr = NULL;
      j->native = asyncrt__sample_batch_get (b, j->sample, NULL, &tr);
      /* Inside a job the pool thread's outermost trace frame is the job runner's;
       * without it the job had returned by the time the thread took the signal. */
      if (tr != NULL && asyncrt__sample_batch_get_outer_frame (b, j->sample) != run_start)
        {
          asyncrt_trace_free (tr);
          tr = NULL;
          j->native = ASYNCRT_NATIVE_STACK_MOVED_ON;
        }
      j->trace = tr;
    }
  asyncrt__sample_batch_free (b);
done:
  g_array_free (s->running, TRUE);
  g_free (s);
}

/* ---- accessors ---------------------------------------------------------------------------- */

/**
 * asyncrt_dump_task_get_trace_kind:
 * @t: a task of a dump
 *
 * What asyncrt_dump_task_get_trace() returns for this task: the async call stacks of
 * its trace poll (%ASYNCRT_TRACE_KIND_ASYNC, a task that was waiting), the native
 * stack of the thread that was running it (%ASYNCRT_TRACE_KIND_NATIVE, see "Native
 * stacks" in the section description), or nothing (%ASYNCRT_TRACE_KIND_NONE).  A
 * task with a native stack was not traced: asyncrt_dump_task_get_no_trace_reason()
 * still says %ASYNCRT_DUMP_NO_TRACE_RUNNING.
 *
 * Thread safety: any thread.
 *
 * Returns: the kind; %ASYNCRT_TRACE_KIND_NONE for %NULL.
 * Since: 0.2
 */
AsyncrtTraceKind
asyncrt_dump_task_get_trace_kind (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->trace_kind : ASYNCRT_TRACE_KIND_NONE;
}

/**
 * asyncrt_dump_task_get_native_stack_status:
 * @t: a task of a dump
 *
 * For a task that was running: whether its thread's native stack was sampled
 * (%ASYNCRT_NATIVE_STACK_OK, and asyncrt_dump_task_get_trace() returns it), or why
 * not (the thread did not take the signal in time, blocks it, sleeps
 * uninterruptibly; the poll had ended meanwhile; native stacks are unavailable…).
 *
 * Thread safety: any thread.
 *
 * Returns: the status; %ASYNCRT_NATIVE_STACK_NOT_SAMPLED for a task that was not
 *   running, a census with timeout 0, or %NULL.
 * Since: 0.2
 */
AsyncrtNativeStackStatus
asyncrt_dump_task_get_native_stack_status (const AsyncrtDumpTask *t)
{
  return t != NULL ? t->native : ASYNCRT_NATIVE_STACK_NOT_SAMPLED;
}

/**
 * asyncrt_dump_get_native_stacks:
 * @d: a dump
 *
 * Whether the runtime's threads could be sampled for this dump at all: native stacks
 * may be turned off (asyncrt_builder_set_sample_signal() with 0,
 * `ASYNCRT_SAMPLE_SIGNAL=none`), the program may handle the sampling signal itself
 * (the library then leaves it alone), or the platform may lack them.  The text form
 * says so after its summary line when a running task, a missing worker or a
 * blocking job has no native stack for that reason; the JSON form in its
 * `"native_stacks"` member.
 *
 * Thread safety: any thread.
 *
 * Returns: %ASYNCRT_NATIVE_STACK_OK when native stacks are available,
 *   %ASYNCRT_NATIVE_STACK_DISABLED, %ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE,
 *   %ASYNCRT_NATIVE_STACK_UNSUPPORTED or %ASYNCRT_NATIVE_STACK_FAILED otherwise;
 *   %ASYNCRT_NATIVE_STACK_NOT_SAMPLED for %NULL.
 * Since: 0.2
 */
AsyncrtNativeStackStatus
asyncrt_dump_get_native_stacks (const AsyncrtDump *d)
{
  return d != NULL ? d->native_stacks : ASYNCRT_NATIVE_STACK_NOT_SAMPLED;
}

static const AsyncrtTrace *
missing_trace (const AsyncrtDump *d, const AsyncrtDumpMissingWorker *w)
{
  if (w->trace != NULL)
    return w->trace;
  if (w->native != ASYNCRT_NATIVE_STACK_OK || w->task_id == 0)
    return NULL;
  const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, w->task_id);
  return t != NULL && t->trace_kind == ASYNCRT_TRACE_KIND_NATIVE ? t->trace : NULL;
}

/**
 * asyncrt_dump_get_missing_worker_stack:
 * @d: a dump
 * @i: an index below asyncrt_dump_get_n_missing_workers()
 * @ret_trace: (out) (optional) (transfer none) (nullable): the worker's native stack,
 *   owned by the dump, or %NULL if it has none
 * @ret_status: (out) (optional): whether it was sampled, or why not
 *
 * The native stack of a worker that did not stop for the dump: what it was doing
 * instead (a task's poll — the same stack as that task's
 * asyncrt_dump_task_get_trace() — or the scheduler's own code, e.g. a waker that
 * blocks).  Outputs are written only on success.
 *
 * Thread safety: any thread.
 *
 * Returns: 0, or -EINVAL if @d is %NULL or @i is out of range.
 * Since: 0.2
 */
int
asyncrt_dump_get_missing_worker_stack (const AsyncrtDump *d, size_t i,
                                       const AsyncrtTrace **ret_trace,
                                       AsyncrtNativeStackStatus *ret_status)
{
  if (d == NULL || i >= d->missing->len)
    return -EINVAL;
  const AsyncrtDumpMissingWorker *w = &g_array_index (d->missing, AsyncrtDumpMissingWorker, i);
  if (ret_trace != NULL)
    *ret_trace = missing_trace (d, w);
  if (ret_status != NULL)
    *ret_status = w->native;
  return 0;
}

/**
 * asyncrt_dump_get_n_blocking_jobs:
 * @d: a dump
 *
 * The number of functions that were running on the runtime's blocking pool when the
 * dump was taken (from asyncrt_spawn_blocking(), or the library's own jobs).  Each
 * is listed with its function, the task awaiting it, how long it had run and the
 * native stack of its thread.
 *
 * Thread safety: any thread.
 *
 * Returns: the number of blocking jobs (0 for %NULL).
 * Since: 0.2
 */
size_t
asyncrt_dump_get_n_blocking_jobs (const AsyncrtDump *d)
{
  return d != NULL ? d->blocking_jobs->len : 0;
}

/**
 * asyncrt_dump_get_blocking_job:
 * @d: a dump
 * @i: an index below asyncrt_dump_get_n_blocking_jobs()
 *
 * Blocking jobs are ordered by the time they started, the longest-running first.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the @i-th blocking job, owned by @d; %NULL if
 *   @d is %NULL or @i is out of range.
 * Since: 0.2
 */
const AsyncrtDumpBlockingJob *
asyncrt_dump_get_blocking_job (const AsyncrtDump *d, size_t i)
{
  if (d == NULL || i >= d->blocking_jobs->len)
    return NULL;
  return &g_array_index (d->blocking_jobs, struct _AsyncrtDumpBlockingJob, i);
}

/**
 * asyncrt_dump_blocking_job_get_address:
 * @j: a blocking job of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: the address of the job's function (the one given to
 *   asyncrt_spawn_blocking()); 0 for %NULL.
 * Since: 0.2
 */
uintptr_t
asyncrt_dump_blocking_job_get_address (const AsyncrtDumpBlockingJob *j)
{
  return j != NULL ? j->function : 0;
}

/**
 * asyncrt_dump_blocking_job_get_function:
 * @j: a blocking job of a dump
 *
 * The name of the job's function, from the program's symbols (resolved on first use
 * and cached, like the symbols of traces), or its address as `0x…` when it has none.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the name, valid for the life of the process;
 *   %NULL for %NULL.
 * Since: 0.2
 */
const char *
asyncrt_dump_blocking_job_get_function (const AsyncrtDumpBlockingJob *j)
{
  if (j == NULL)
    return NULL;
  /* Resolution takes return addresses (it looks up ip - 1): point inside. */
  const AsyncrtTraceInfo *info = asyncrt__symbol_resolve (j->function + 1);
  return info->symbols[info->n_symbols - 1].name;
}

/**
 * asyncrt_dump_blocking_job_get_task_id:
 * @j: a blocking job of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: the task awaiting the job (asyncrt_spawn_blocking() from a task), or 0
 *   if none (or for %NULL).
 * Since: 0.2
 */
AsyncrtTaskId
asyncrt_dump_blocking_job_get_task_id (const AsyncrtDumpBlockingJob *j)
{
  return j != NULL ? j->task_id : 0;
}

/**
 * asyncrt_dump_blocking_job_get_running_ns:
 * @j: a blocking job of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: how long the job had been running when the dump was taken, in
 *   nanoseconds (0 for %NULL).
 * Since: 0.2
 */
uint64_t
asyncrt_dump_blocking_job_get_running_ns (const AsyncrtDumpBlockingJob *j)
{
  return j != NULL ? j->running_ns : 0;
}

/**
 * asyncrt_dump_blocking_job_get_trace:
 * @j: a blocking job of a dump
 *
 * The native stack of the pool thread running the job, innermost first, cut above
 * the job's function (the pool's own frames are not shown); a native trace, as for a
 * running task.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the stack, owned by the dump, or %NULL (see
 *   asyncrt_dump_blocking_job_get_native_stack_status()).
 * Since: 0.2
 */
const AsyncrtTrace *
asyncrt_dump_blocking_job_get_trace (const AsyncrtDumpBlockingJob *j)
{
  return j != NULL ? j->trace : NULL;
}

/**
 * asyncrt_dump_blocking_job_get_native_stack_status:
 * @j: a blocking job of a dump
 *
 * Thread safety: any thread.
 *
 * Returns: %ASYNCRT_NATIVE_STACK_OK if the job's thread was sampled, or why not
 *   (%ASYNCRT_NATIVE_STACK_MOVED_ON: the job had returned by then);
 *   %ASYNCRT_NATIVE_STACK_NOT_SAMPLED for %NULL.
 * Since: 0.2
 */
AsyncrtNativeStackStatus
asyncrt_dump_blocking_job_get_native_stack_status (const AsyncrtDumpBlockingJob *j)
{
  return j != NULL ? j->native : ASYNCRT_NATIVE_STACK_NOT_SAMPLED;
}

/* ---- text ---------------------------------------------------------------------------------- */

static void
append_stack (GString *out, const AsyncrtTrace *tr)
{
  asyncrt__backtrace_append_native_text (asyncrt_trace_get_backtrace (tr, 0), out, "    ");
}

void
asyncrt__dump_append_task_native_text (GString *out, const struct _AsyncrtDumpTask *t)
{
  if (t->trace_kind != ASYNCRT_TRACE_KIND_NATIVE)
    return;
  g_string_append (out, "  running for ");
  asyncrt__dump_append_duration (out, t->idle_ns);
  if (t->worker >= 0)
    g_string_append_printf (out, " on worker %d", t->worker);
  g_string_append (out, " — native stack:\n");
  append_stack (out, t->trace);
}

void
asyncrt__dump_append_no_native_text (GString *out, const struct _AsyncrtDumpTask *t)
{
  if (t->state != ASYNCRT_TASK_STATE_RUNNING || t->native == ASYNCRT_NATIVE_STACK_OK
      || t->native == ASYNCRT_NATIVE_STACK_NOT_SAMPLED)
    return;
  g_string_append (out, "; no native stack: ");
  g_string_append (out, asyncrt_native_stack_status_to_string (t->native));
}

static bool
is_unavailable (AsyncrtNativeStackStatus s)
{
  return s == ASYNCRT_NATIVE_STACK_DISABLED || s == ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE
         || s == ASYNCRT_NATIVE_STACK_UNSUPPORTED || s == ASYNCRT_NATIVE_STACK_FAILED;
}

void
asyncrt__dump_append_native_availability_text (GString *out, const AsyncrtDump *d)
{
  if (!is_unavailable (d->native_stacks))
    return;
  bool wanted = d->missing->len > 0 || d->blocking_jobs->len > 0;
  for (size_t i = 0; i < d->tasks->len && !wanted; i++)
    wanted = g_array_index (d->tasks, struct _AsyncrtDumpTask, i).state
             == ASYNCRT_TASK_STATE_RUNNING;
  if (!wanted)
    return;
  char name[32];
  asyncrt__signal_name (d->sample_signo, name, sizeof name);
  g_string_append (out, "native stacks unavailable: ");
  g_string_append (out, asyncrt_native_stack_status_to_string (d->native_stacks));
  if (d->native_stacks == ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE)
    g_string_append_printf (out, " (%s)", name);
  g_string_append_c (out, '\n');
}

void
asyncrt__dump_append_missing_native_text (GString *out, const AsyncrtDump *d,
                                          const AsyncrtDumpMissingWorker *w)
{
  if (w->trace != NULL)
    {
      g_string_append (out, " — native stack:\n");
      append_stack (out, w->trace);
      return;
    }
  if (missing_trace (d, w) != NULL)
    g_string_append (out, " (native stack above, with the task)");
  else if (w->native != ASYNCRT_NATIVE_STACK_NOT_SAMPLED && !is_unavailable (w->native))
    {
      g_string_append (out, "; no native stack: ");
      g_string_append (out, asyncrt_native_stack_status_to_string (w->native));
    }
  g_string_append_c (out, '\n');
}

void
asyncrt__dump_append_blocking_jobs_text (GString *out, const AsyncrtDump *d)
{
  for (size_t i = 0; i < d->blocking_jobs->len; i++)
    {
      const struct _AsyncrtDumpBlockingJob *j = &g_array_index (d->blocking_jobs,
                                                                struct _AsyncrtDumpBlockingJob, i);
      g_string_append (out, "blocking job ");
      asyncrt__text_append_escaped (out, asyncrt_dump_blocking_job_get_function (j), false);
      if (j->task_id != 0)
        g_string_append_printf (out, " (task %" G_GUINT64_FORMAT ")", j->task_id);
      g_string_append (out, ", running for ");
      asyncrt__dump_append_duration (out, j->running_ns);
      if (j->trace != NULL)
        {
          g_string_append (out, " — native stack:\n");
          append_stack (out, j->trace);
          continue;
        }
      if (j->native != ASYNCRT_NATIVE_STACK_NOT_SAMPLED && !is_unavailable (j->native))
        {
          g_string_append (out, "; no native stack: ");
          g_string_append (out, asyncrt_native_stack_status_to_string (j->native));
        }
      g_string_append_c (out, '\n');
    }
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void
append_status_json (GString *out, AsyncrtNativeStackStatus s)
{
  if (s == ASYNCRT_NATIVE_STACK_NOT_SAMPLED)
    g_string_append (out, "null");
  else
    g_string_append_printf (out, "\"%s\"", asyncrt__native_stack_status_name (s));
}

void
asyncrt__dump_append_native_json (GString *out, const AsyncrtDump *d, const size_t *job_trace)
{
  g_string_append (out, "\"native_stacks\":");
  g_string_append_printf (out, "\"%s\"", d->native_stacks == ASYNCRT_NATIVE_STACK_OK
                                          ? "available"
                                          : asyncrt__native_stack_status_name (d->native_stacks));
  g_string_append (out, ",\"sample_signal\":");
  if (d->sample_signo > 0)
    {
      char name[32];
      asyncrt__signal_name (d->sample_signo, name, sizeof name);
      asyncrt__json_append_string (out, name);
    }
  else
    g_string_append (out, "null");
  g_string_append (out, ",\"blocking_jobs\":[");
  for (size_t i = 0; i < d->blocking_jobs->len; i++)
    {
      const struct _AsyncrtDumpBlockingJob *j = &g_array_index (d->blocking_jobs,
                                                                struct _AsyncrtDumpBlockingJob, i);
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append (out, "{\"function\":");
      asyncrt__json_append_string (out, asyncrt_dump_blocking_job_get_function (j));
      g_string_append_printf (out, ",\"address\":\"0x%" G_GINT64_MODIFIER "x\",\"task_id\":",
                              (guint64) j->function);
      if (j->task_id != 0)
        g_string_append_printf (out, "%" G_GUINT64_FORMAT, j->task_id);
      else
        g_string_append (out, "null");
      g_string_append_printf (out, ",\"running_ns\":%" G_GUINT64_FORMAT ",\"native_stack\":",
                              j->running_ns);
      append_status_json (out, j->native);
      g_string_append (out, ",\"trace\":");
      if (job_trace[i] != SIZE_MAX)
        g_string_append_printf (out, "%zu", job_trace[i]);
      else
        g_string_append (out, "null");
      g_string_append_c (out, '}');
    }
  g_string_append (out, "],");
}

void
asyncrt__dump_append_task_native_json (GString *out, const struct _AsyncrtDumpTask *t)
{
  static const char *const kinds[] = { "none", "async", "native" };
  g_string_append_printf (out, ",\"trace_kind\":\"%s\",\"native_stack\":",
                          (unsigned) t->trace_kind < G_N_ELEMENTS (kinds) ? kinds[t->trace_kind]
                                                                          : "none");
  append_status_json (out, t->native);
}

void
asyncrt__dump_append_missing_native_json (GString *out, const AsyncrtDumpMissingWorker *w)
{
  g_string_append (out, ",\"native_stack\":");
  append_status_json (out, w->native);
}
