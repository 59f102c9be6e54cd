/* libasyncrt - the blocking thread pool
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership: every field of AsyncrtBlockingPool, and every Worker field but
 * `thread`, is guarded by `lock`.  Jobs are a FIFO; threads are created on demand when
 * a job arrives and no idle thread is left to take it (n_idle counts waiting threads,
 * n_wakeups the signals sent to them and not yet consumed), up to max_threads; a
 * thread that stays idle keep_alive_ms exits, moving itself from the `live` list to
 * the `exited` list, which the next spawn or the shutdown joins.  Pool threads block
 * every signal and are named "asyncrt-blocking" (truncated by the kernel to 15
 * characters).
 *
 * Lifetime: `refs` counts the owner's reference (the runtime's handle, dropped by
 * asyncrt__blocking_pool_free()) and one per live thread; the last one frees the
 * pool.  So a thread may outlive the runtime and still find its pool.
 *
 * Shutdown: the threads run what is queued, then exit; shutdown waits (cond `done`,
 * CLOCK_MONOTONIC) for n_threads == 0 and joins them all.  With a deadline
 * (asyncrt_runtime_shutdown_timeout()), a shutdown still waiting when it passes
 * *abandons* the pool: the jobs not started are taken out of the queue (their cancel
 * function runs instead, outside the lock), every live thread is marked detached
 * (pthread_detach) and reported with the job it runs; those threads finish their job
 * whenever it returns, find the pool shut down and the queue empty, free their own
 * Worker and drop their pool reference.  Nothing they touch after their job belongs
 * to the runtime.  State: running -> shutdown -> (all joined | abandoned), once.
 *
 * Native stacks (lib/sample): with a sampling signal, each Worker owns a sample slot
 * (a reference, dropped when the Worker is freed) that its thread attaches while it
 * lives, with that one signal unblocked.  Each job runs inside run_job(), which
 * pushes a trace frame naming its own code, so a sampled stack is cut there and shows
 * the job's frames only.  Dumps list the running jobs (foreach_running, under the
 * lock) and take their own references on the slots.
 */
#include "scheduler/scheduler-private.h"
#include "sample/sample-private.h"
#include "trace/trace-private.h"

#include <glib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <time.h>

typedef struct _Job Job;
struct _Job
{
  Job *next;
  AsyncrtBlockingJob spec;
};

typedef struct _Worker Worker;
struct _Worker
{
  Worker *prev, *next;        /* the live list, or `next` on the exited list */
  pthread_t thread;           /* written before the thread may exit; read by joiners */
  AsyncrtBlockingPool *pool;
  bool detached;              /* abandoned by a timed-out shutdown: frees itself */
  /* the job it runs (for shutdown reports) */
  bool busy;
  const void *job_symbol;
  AsyncrtTaskId job_task;
  uint64_t job_start_ns;
  AsyncrtSampleSlot *slot;    /* immutable; NULL without a sampling signal */
};

struct _AsyncrtBlockingPool
{
  pthread_mutex_t lock;
  pthread_cond_t cond;        /* idle workers wait here (CLOCK_MONOTONIC) */
  pthread_cond_t done;        /* shutdown waits here for n_threads == 0 (CLOCK_MONOTONIC) */
  Job *head;
  Job *tail;
  unsigned max_threads;
  unsigned keep_alive_ms;
  unsigned n_threads;
  unsigned n_idle;
  unsigned n_wakeups;
  unsigned refs;
  int sample_signo;           /* immutable */
  bool shutdown;
  bool abandoned;
  Worker *live;               /* threads running worker_main */
  Worker *exited;             /* finished threads, to be joined */
};

int
asyncrt__blocking_pool_new (unsigned max_threads, unsigned keep_alive_ms, int sample_signo,
                            AsyncrtBlockingPool **out)
{
  AsyncrtBlockingPool *p = calloc (1, sizeof *p);
  if (p == NULL)
    return -ENOMEM;
  pthread_condattr_t ca;
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_mutex_init (&p->lock, NULL);
  pthread_cond_init (&p->cond, &ca);
  pthread_cond_init (&p->done, &ca);
  pthread_condattr_destroy (&ca);
  p->max_threads = max_threads > 0 ? max_threads : 1;
  p->keep_alive_ms = keep_alive_ms;
  p->refs = 1;
  p->sample_signo = sample_signo;
  *out = p;
  return 0;
}

static void
pool_destroy (AsyncrtBlockingPool *p)
{
  g_assert (p->head == NULL && p->live == NULL && p->exited == NULL);
  pthread_mutex_destroy (&p->lock);
  pthread_cond_destroy (&p->cond);
  pthread_cond_destroy (&p->done);
  free (p);
}

/* Lock held.  true: the caller dropped the last reference and must destroy the pool
 * after unlocking. */
static bool
unref_locked (AsyncrtBlockingPool *p)
{
  return --p->refs == 0;
}

static Worker *
take_exited_locked (AsyncrtBlockingPool *p)
{
  Worker *w = p->exited;
  p->exited = NULL;
  return w;
}

static void
worker_free (Worker *w)
{
  asyncrt__sample_slot_unref (w->slot);
  free (w);
}

static void
join_workers (Worker *w)
{
  while (w != NULL)
    {
      Worker *next = w->next;
      pthread_join (w->thread, NULL);
      worker_free (w);
      w = next;
    }
}

/* ---- running a job ------------------------------------------------------------------- */

#define ASYNCRT_BLOCKING_RUN_SECTION __attribute__((section ("asyncrt_section_blocking_run")))

extern const char __start_asyncrt_section_blocking_run[] __attribute__((visibility ("hidden")));
extern const char __stop_asyncrt_section_blocking_run[] __attribute__((visibility ("hidden")));

void
asyncrt__blocking_run_range (uintptr_t *start, uintptr_t *end)
{
  *start = (uintptr_t) __start_asyncrt_section_blocking_run;
  *end = (uintptr_t) __stop_asyncrt_section_blocking_run;
}

/* Runs one job below a trace frame naming this function's own code (its section), as
 * a task's root does: a native stack sampled meanwhile is cut here.  The function is
 * called through a volatile pointer, so it is never inlined into this frame. */
static ASYNCRT_NOINLINE ASYNCRT_BLOCKING_RUN_SECTION void
run_job (void (*fn) (void *data), void *data)
{
  AsyncrtTraceFrame frame;
  asyncrt__trace_frame_push (&frame, (uintptr_t) __start_asyncrt_section_blocking_run,
                             (uintptr_t) __stop_asyncrt_section_blocking_run);
  void (*volatile job) (void *) = fn;
  job (data);
  asyncrt__trace_frame_pop (&frame);
}

static void
timespec_at (struct timespec *ts, uint64_t ns)
{
  ts->tv_sec = (time_t) (ns / 1000000000u);
  ts->tv_nsec = (long) (ns % 1000000000u);
}

static void *
worker_main (void *data)
{
  Worker *self = data;
  AsyncrtBlockingPool *p = self->pool;
  /* The kernel keeps 15 characters: ps and gdb show "asyncrt-blockin". */
  prctl (PR_SET_NAME, "asyncrt-blocking", 0, 0, 0);
  if (self->slot != NULL)
    asyncrt__sample_slot_attach (self->slot, p->sample_signo);

  pthread_mutex_lock (&p->lock);
  for (;;)
    {
      Job *j = p->head;
      if (j != NULL)
        {
          p->head = j->next;
          if (p->head == NULL)
            p->tail = NULL;
          self->busy = true;
          self->job_symbol = j->spec.symbol != NULL ? j->spec.symbol
                                                    : (const void *) j->spec.fn;
          self->job_task = j->spec.task_id;
          self->job_start_ns = asyncrt__clock_now_ns ();
          pthread_mutex_unlock (&p->lock);
          run_job (j->spec.fn, j->spec.data);
          free (j);
          pthread_mutex_lock (&p->lock);
          self->busy = false;
          continue;
        }
      if (p->shutdown)
        break;

      struct timespec deadline;
      timespec_at (&deadline, asyncrt__clock_now_ns () + (uint64_t) p->keep_alive_ms * 1000000u);
      p->n_idle++;
      int r = 0;
      while (p->n_wakeups == 0 && !p->shutdown && r != ETIMEDOUT)
        r = pthread_cond_timedwait (&p->cond, &p->lock, &deadline);
      p->n_idle--;
      if (p->n_wakeups > 0)
        {
          p->n_wakeups--;
          continue;
        }
      if (p->shutdown)
        continue;   /* run what is left, then exit */
      if (r == ETIMEDOUT && p->head == NULL)
        break;      /* idle for keep_alive_ms */
    }
  p->n_threads--;
  if (self->prev != NULL)
    self->prev->next = self->next;
  else
    p->live = self->next;
  if (self->next != NULL)
    self->next->prev = self->prev;
  bool detached = self->detached;
  if (!detached)
    {
      self->next = p->exited;
      p->exited = self;
    }
  if (p->n_threads == 0)
    pthread_cond_broadcast (&p->done);
  bool last = unref_locked (p);
  pthread_mutex_unlock (&p->lock);
  if (self->slot != NULL)
    asyncrt__sample_slot_detach (self->slot, NULL);
  if (detached)
    worker_free (self);
  if (last)
    pool_destroy (p);
  return NULL;
}

int
asyncrt__blocking_pool_spawn (AsyncrtBlockingPool *p, const AsyncrtBlockingJob *spec)
{
  if (p == NULL || spec == NULL || spec->fn == NULL)
    return -EINVAL;
  Job *j = calloc (1, sizeof *j);
  if (j == NULL)
    return -ENOMEM;
  j->spec = *spec;

  int ret = 0;
  pthread_mutex_lock (&p->lock);
  if (p->shutdown)
    {
      pthread_mutex_unlock (&p->lock);
      free (j);
      return -ESHUTDOWN;
    }
  if (p->tail != NULL)
    p->tail->next = j;
  else
    p->head = j;
  p->tail = j;

  if (p->n_idle > p->n_wakeups)
    {
      p->n_wakeups++;
      pthread_cond_signal (&p->cond);
    }
  else if (p->n_threads < p->max_threads)
    {
      Worker *w = calloc (1, sizeof *w);
      int r = w != NULL ? 0 : ENOMEM;
      if (w != NULL)
        {
          w->pool = p;
          if (p->sample_signo != 0)
            w->slot = asyncrt__sample_slot_new ();
          sigset_t all, old;
          sigfillset (&all);
          pthread_sigmask (SIG_SETMASK, &all, &old);
          /* Under the lock: the thread cannot exit (nor be detached) before
           * w->thread is written. */
          r = pthread_create (&w->thread, NULL, worker_main, w);
          pthread_sigmask (SIG_SETMASK, &old, NULL);
        }
      if (r == 0)
        {
          p->n_threads++;
          p->refs++;
          w->next = p->live;
          if (p->live != NULL)
            p->live->prev = w;
          p->live = w;
        }
      else
        {
          if (w != NULL)
            worker_free (w);
          if (p->n_threads == 0)
            {
              /* Nobody would ever run it: take it back. */
              if (p->head == j)
                p->head = p->tail = NULL;
              else
                {
                  Job *prev = p->head;
                  while (prev->next != j)
                    prev = prev->next;
                  prev->next = NULL;
                  p->tail = prev;
                }
              free (j);
              ret = -EAGAIN;
            }
        }
    }
  Worker *exited = take_exited_locked (p);
  pthread_mutex_unlock (&p->lock);
  join_workers (exited);
  return ret;
}

int
asyncrt__blocking_pool_shutdown (AsyncrtBlockingPool *p, uint64_t deadline_ns,
                                 GArray *unfinished)
{
  if (p == NULL)
    return 0;
  pthread_mutex_lock (&p->lock);
  if (p->abandoned)
    {
      pthread_mutex_unlock (&p->lock);
      return -ETIMEDOUT;
    }
  p->shutdown = true;
  pthread_cond_broadcast (&p->cond);
  struct timespec ts;
  timespec_at (&ts, deadline_ns);
  int r = 0;
  while (p->n_threads > 0 && r != ETIMEDOUT)
    {
      if (deadline_ns == UINT64_MAX)
        pthread_cond_wait (&p->done, &p->lock);
      else
        r = pthread_cond_timedwait (&p->done, &p->lock, &ts);
    }

  Job *dropped = NULL;
  int ret = 0;
  if (p->n_threads > 0)
    {
      /* Deadline passed: abandon what still runs. */
      ret = -ETIMEDOUT;
      p->abandoned = true;
      dropped = p->head;
      p->head = p->tail = NULL;
      uint64_t now = asyncrt__clock_now_ns ();
      for (Worker *w = p->live; w != NULL; w = w->next)
        {
          w->detached = true;
          pthread_detach (w->thread);
          if (w->busy && unfinished != NULL)
            {
              AsyncrtUnfinished u = { 0 };
              u.kind = ASYNCRT_UNFINISHED_BLOCKING_JOB;
              u.task_id = w->job_task;
              u.running_ns = now > w->job_start_ns ? now - w->job_start_ns : 0;
              u.symbol = (uintptr_t) w->job_symbol;
              g_array_append_val (unfinished, u);
            }
        }
    }
  Worker *exited = take_exited_locked (p);
  pthread_mutex_unlock (&p->lock);
  join_workers (exited);

  while (dropped != NULL)
    {
      Job *next = dropped->next;
      if (dropped->spec.cancel != NULL)
        dropped->spec.cancel (dropped->spec.data);
      free (dropped);
      dropped = next;
    }
  return ret;
}

void
asyncrt__blocking_pool_foreach_running (AsyncrtBlockingPool *p, AsyncrtBlockingRunningFunc func,
                                        void *data)
{
  if (p == NULL)
    return;
  pthread_mutex_lock (&p->lock);
  for (Worker *w = p->live; w != NULL; w = w->next)
    if (w->busy)
      {
        AsyncrtBlockingRunning job = { w->job_symbol, w->job_task, w->job_start_ns, w->slot };
        func (&job, data);
      }
  pthread_mutex_unlock (&p->lock);
}

void
asyncrt__blocking_pool_free (AsyncrtBlockingPool *p)
{
  if (p == NULL)
    return;
  asyncrt__blocking_pool_shutdown (p, UINT64_MAX, NULL);   /* at once if done or abandoned */
  pthread_mutex_lock (&p->lock);
  bool last = unref_locked (p);
  pthread_mutex_unlock (&p->lock);
  if (last)
    pool_destroy (p);
}

int
asyncrt__blocking_spawn_job (AsyncrtHandle *h, const AsyncrtBlockingJob *job)
{
  if (h == NULL || job == NULL)
    return -EINVAL;
  return asyncrt__blocking_pool_spawn (h->blocking, job);
}

int
asyncrt__blocking_spawn (AsyncrtHandle *h, void (*fn) (void *data), void *data)
{
  AsyncrtBlockingJob job = { fn, NULL, data, NULL, 0 };
  return asyncrt__blocking_spawn_job (h, &job);
}
