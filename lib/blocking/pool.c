/* libasyncrt - the blocking thread pool
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership: every field of AsyncrtBlockingPool is guarded by `lock`.  Jobs are a
 * FIFO; threads are created on demand when a job arrives and no idle thread is left
 * to take it (n_idle counts waiting threads, n_wakeups the signals sent to them and
 * not yet consumed), up to max_threads; a thread that stays idle keep_alive_ms exits,
 * putting itself on the `exited` list, which the next spawn or the shutdown joins.
 * At shutdown the threads run what is queued, then exit; shutdown waits for
 * n_threads == 0 (cond `done`) and joins them all.  Pool threads block every signal
 * and are named "asyncrt-blocking" (truncated by the kernel to 15 characters).
 */
#include "scheduler/scheduler-private.h"

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
  void (*fn) (void *data);
  void *data;
};

typedef struct _Worker Worker;
struct _Worker
{
  Worker *next;
  pthread_t thread;
  AsyncrtBlockingPool *pool;
};

struct _AsyncrtBlockingPool
{
  pthread_mutex_t lock;
  pthread_cond_t cond;        /* idle workers wait here */
  pthread_cond_t done;        /* shutdown waits here for n_threads == 0 */
  Job *head;
  Job *tail;
  unsigned max_threads;
  unsigned keep_alive_ms;
  unsigned n_threads;
  unsigned n_idle;
  unsigned n_wakeups;
  bool shutdown;
  Worker *exited;             /* finished threads, to be joined */
};

int
asyncrt__blocking_pool_new (unsigned max_threads, unsigned keep_alive_ms,
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
  pthread_cond_init (&p->done, NULL);
  pthread_condattr_destroy (&ca);
  p->max_threads = max_threads > 0 ? max_threads : 1;
  p->keep_alive_ms = keep_alive_ms;
  *out = p;
  return 0;
}

static Worker *
take_exited_locked (AsyncrtBlockingPool *p)
{
  Worker *w = p->exited;
  p->exited = NULL;
  return w;
}

static void
join_workers (Worker *w)
{
  while (w != NULL)
    {
      Worker *next = w->next;
      pthread_join (w->thread, NULL);
      free (w);
      w = next;
    }
}

static void *
worker_main (void *data)
{
  Worker *self = data;
  AsyncrtBlockingPool *p = self->pool;
  /* The kernel keeps 15 characters: ps and gdb show "asyncrt-blockin". */
  prctl (PR_SET_NAME, "asyncrt-blocking", 0, 0, 0);

  pthread_mutex_lock (&p->lock);
  for (;;)
    {
      Job *j = p->head;
      if (j != NULL)
        {
          p->head = j->next;
          if (p->head == NULL)
            p->tail = NULL;
          pthread_mutex_unlock (&p->lock);
          j->fn (j->data);
          free (j);
          pthread_mutex_lock (&p->lock);
          continue;
        }
      if (p->shutdown)
        break;

      struct timespec deadline;
      clock_gettime (CLOCK_MONOTONIC, &deadline);
      deadline.tv_sec += p->keep_alive_ms / 1000u;
      deadline.tv_nsec += (long) (p->keep_alive_ms % 1000u) * 1000000L;
      if (deadline.tv_nsec >= 1000000000L)
        {
          deadline.tv_sec++;
          deadline.tv_nsec -= 1000000000L;
        }
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
  self->next = p->exited;
  p->exited = self;
  if (p->n_threads == 0)
    pthread_cond_broadcast (&p->done);
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

int
asyncrt__blocking_pool_spawn (AsyncrtBlockingPool *p, void (*fn) (void *data), void *data)
{
  if (p == NULL || fn == NULL)
    return -EINVAL;
  Job *j = calloc (1, sizeof *j);
  if (j == NULL)
    return -ENOMEM;
  j->fn = fn;
  j->data = data;

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
          sigset_t all, old;
          sigfillset (&all);
          pthread_sigmask (SIG_SETMASK, &all, &old);
          r = pthread_create (&w->thread, NULL, worker_main, w);
          pthread_sigmask (SIG_SETMASK, &old, NULL);
        }
      if (r == 0)
        p->n_threads++;
      else
        {
          free (w);
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

void
asyncrt__blocking_pool_shutdown (AsyncrtBlockingPool *p)
{
  if (p == NULL)
    return;
  pthread_mutex_lock (&p->lock);
  p->shutdown = true;
  pthread_cond_broadcast (&p->cond);
  while (p->n_threads > 0)
    pthread_cond_wait (&p->done, &p->lock);
  Worker *exited = take_exited_locked (p);
  pthread_mutex_unlock (&p->lock);
  join_workers (exited);
}

void
asyncrt__blocking_pool_free (AsyncrtBlockingPool *p)
{
  if (p == NULL)
    return;
  asyncrt__blocking_pool_shutdown (p);
  g_assert (p->head == NULL);
  pthread_mutex_destroy (&p->lock);
  pthread_cond_destroy (&p->cond);
  pthread_cond_destroy (&p->done);
  free (p);
}

int
asyncrt__blocking_spawn (AsyncrtHandle *h, void (*fn) (void *data), void *data)
{
  if (h == NULL || fn == NULL)
    return -EINVAL;
  return asyncrt__blocking_pool_spawn (h->blocking, fn, data);
}
