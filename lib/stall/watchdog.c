/* libasyncrt - the stall detector's watchdog
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One watchdog thread per runtime whose builder (or ASYNCRT_STALL_MS) asks for it.
 * It reads, through ops->worker_activity, which task each worker is polling and since
 * when; a poll that has run past the threshold is a stall, reported once: the
 * watchdog remembers, per worker, the (task, poll start) it reported last.  Reporting
 * = sampling that worker's native stack (lib/sample, one slot, bounded wait), then
 * calling the program's function, or writing the report to stderr.  A token bucket
 * (ASYNCRT_STALL_BURST, one more every ASYNCRT_STALL_REFILL_MS) bounds the rate;
 * stalls over it are counted and the next report says how many were left out.
 *
 * When it looks: it sleeps until the earliest moment a poll it saw running could
 * cross the threshold, or one threshold from now if no worker was busy (a poll that
 * starts later crosses later).  The poll starts workers publish come from the coarse
 * clock (a kernel tick), which is never ahead of the precise one: a poll that looks
 * past the threshold by it is confirmed with the task's own last-poll time (precise,
 * written at every poll start; read under its owned-list shard lock, where the task
 * cannot be freed), so a stall is never reported early.  It sleeps at least 1 ms at a
 * time.
 *
 * Ownership and lifetime.  The handle owns the detector (h->stall, freed with the
 * handle's last reference).  The thread holds a handle reference of its own from its
 * start until the very end of its life, so the handle (and the detector) outlive it
 * in every case.  `lock` guards stop / exited / detached; `cond` (CLOCK_MONOTONIC)
 * carries the watchdog's sleeps, the stop request and its exit.  Stopping (shutdown
 * step 1) sets stop and waits for exited until the shutdown's deadline, then joins —
 * or, past the deadline (the thread is inside the program's function), detaches it:
 * it finishes its call, sees stop, drops its reference and exits.  The counts are
 * atomics (relaxed: statistics).  Everything else is the watchdog thread's alone.
 */
#include "stall/stall-private.h"
#include "sample/sample-private.h"
#include "util/util-private.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

struct _AsyncrtStallDetector
{
  AsyncrtHandle *h;
  uint64_t threshold_ns;
  AsyncrtStallFunc func;            /* NULL: stderr */
  void *user_data;
  unsigned n_workers;

  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool stop;                        /* guarded by lock */
  bool exited;                      /* guarded by lock */
  bool detached;                    /* guarded by lock */
  bool joined;                      /* the stopper's */

  _Atomic uint64_t n_detected;
  _Atomic uint64_t n_reported;

  /* the watchdog thread's */
  AsyncrtTaskId *last_id;
  uint64_t *last_start;
  double tokens;
  uint64_t refilled_ns;
  uint64_t n_suppressed;
};

static atomic_bool warned_env;

/* ---- configuration -------------------------------------------------------------------- */

/* ASYNCRT_STALL_MS: 0 (or unset, or empty) for none. */
static unsigned
threshold_from_env (void)
{
  const char *value = secure_getenv ("ASYNCRT_STALL_MS");
  if (value == NULL || value[0] == '\0')
    return 0;
  unsigned long v = 0;
  bool ok = strlen (value) <= 10;
  for (const char *p = value; ok && *p != '\0'; p++)
    {
      if (*p < '0' || *p > '9')
        ok = false;
      else
        v = v * 10 + (unsigned long) (*p - '0');
    }
  if (ok && v <= ASYNCRT_STALL_MAX_THRESHOLD_MS)
    return (unsigned) v;
  if (!atomic_exchange_explicit (&warned_env, true, memory_order_relaxed))
    {
      char esc[300];
      asyncrt__escape_value (value, esc, sizeof esc);
      asyncrt__warn ("ignoring ASYNCRT_STALL_MS=%s (expected milliseconds, 1 to %u); "
                     "no stall detector", esc, ASYNCRT_STALL_MAX_THRESHOLD_MS);
    }
  return 0;
}

/* ---- reporting -------------------------------------------------------------------------- */

static bool
take_token (AsyncrtStallDetector *sd, uint64_t now)
{
  double refill = (double) (now - sd->refilled_ns) / ((double) ASYNCRT_STALL_REFILL_MS * 1e6);
  sd->refilled_ns = now;
  sd->tokens += refill;
  if (sd->tokens > ASYNCRT_STALL_BURST)
    sd->tokens = ASYNCRT_STALL_BURST;
  if (sd->tokens < 1.0)
    return false;
  sd->tokens -= 1.0;
  return true;
}

/* Samples worker @i, which was polling task @id. */
static void
sample_worker (AsyncrtStallDetector *sd, unsigned i, AsyncrtTaskId id, AsyncrtStall *st)
{
  AsyncrtHandle *h = sd->h;
  AsyncrtSampleSlot *slot = NULL;
  h->ops->worker_activity (h, i, NULL, &slot);
  if (slot == NULL)
    {
      st->native = h->sample_signo == 0 ? ASYNCRT_NATIVE_STACK_DISABLED
                                        : ASYNCRT_NATIVE_STACK_NO_THREAD;
      return;
    }
  AsyncrtSampleBatch *b = asyncrt__sample_batch_new (h->sample_signo);
  size_t k = asyncrt__sample_batch_add (b, slot);
  asyncrt__sample_slot_unref (slot);
  asyncrt__sample_batch_post (b);
  asyncrt__sample_batch_collect (b, asyncrt__clock_now_ns ()
                                    + (uint64_t) ASYNCRT_STALL_SAMPLE_WAIT_MS * 1000000u);
  AsyncrtTaskId sampled = 0;
  AsyncrtTrace *tr = NULL;
  st->native = asyncrt__sample_batch_get (b, k, &sampled, &tr);
  if (st->native == ASYNCRT_NATIVE_STACK_OK && sampled != id)
    {
      /* The poll ended before the thread took the signal: it did stall, but this
       * stack belongs to something else. */
      st->native = ASYNCRT_NATIVE_STACK_MOVED_ON;
      asyncrt_trace_free (tr);
      tr = NULL;
    }
  st->trace = tr;
  asyncrt__sample_batch_free (b);
}

/* Worker @i has been polling task @id for @duration_ns, more than the threshold. */
static void
report (AsyncrtStallDetector *sd, unsigned i, AsyncrtTaskId id, uint64_t poll_start,
        char *name)
{
  AsyncrtHandle *h = sd->h;
  atomic_fetch_add_explicit (&sd->n_detected, 1, memory_order_relaxed);
  if (!take_token (sd, asyncrt__clock_now_ns ()))
    {
      sd->n_suppressed++;
      g_free (name);
      return;
    }
  AsyncrtStall st = { 0 };
  st.task_id = id;
  st.task_name = name;
  st.worker = (int) i;
  st.sample_signo = h->sample_signo;
  sample_worker (sd, i, id, &st);
  uint64_t now = asyncrt__clock_now_ns ();
  st.duration_ns = now > poll_start ? now - poll_start : 1;
  st.n_suppressed = sd->n_suppressed;
  sd->n_suppressed = 0;
  atomic_fetch_add_explicit (&sd->n_reported, 1, memory_order_relaxed);
  if (sd->func != NULL)
    sd->func (&st, sd->user_data);
  else
    {
      char *text = asyncrt_stall_to_string (&st);
      asyncrt__output_write_all (STDERR_FILENO, text, strlen (text), 1000);
      free (text);
    }
  asyncrt__stall_clear (&st);
}

/* One look at every worker.  Returns when to look again (asyncrt__clock_now_ns()). */
static uint64_t
scan (AsyncrtStallDetector *sd)
{
  AsyncrtHandle *h = sd->h;
  uint64_t now = asyncrt__clock_now_ns ();
  uint64_t next = now + sd->threshold_ns;
  for (unsigned i = 0; i < sd->n_workers; i++)
    {
      uint64_t start = 0;
      AsyncrtTaskId id = h->ops->worker_activity (h, i, &start, NULL);
      if (id == 0 || start == 0 || (id == sd->last_id[i] && start == sd->last_start[i]))
        continue;
      if (now < start || now - start < sd->threshold_ns)
        {
          if (start + sd->threshold_ns < next)
            next = start + sd->threshold_ns;
          continue;
        }
      /* Past the threshold by the coarse start: confirm with the precise one. */
      char *name = NULL;
      uint64_t precise = 0;
      if (!asyncrt__owned_lookup (&h->owned, id, &name, &precise))
        continue;                           /* finished meanwhile */
      if (precise > now || now - precise < sd->threshold_ns)
        {
          g_free (name);
          uint64_t at = precise > now ? now + 1000000u : precise + sd->threshold_ns;
          if (at < next)
            next = at;
          continue;
        }
      sd->last_id[i] = id;
      sd->last_start[i] = start;
      report (sd, i, id, precise, name);
      now = asyncrt__clock_now_ns ();
    }
  return next;
}

static void *
watchdog_main (void *data)
{
  AsyncrtStallDetector *sd = data;
  AsyncrtHandle *h = sd->h;
  prctl (PR_SET_NAME, "asyncrt-watchdog", 0, 0, 0);

  pthread_mutex_lock (&sd->lock);
  while (!sd->stop)
    {
      pthread_mutex_unlock (&sd->lock);
      uint64_t next = scan (sd);
      pthread_mutex_lock (&sd->lock);
      uint64_t now = asyncrt__clock_now_ns ();
      uint64_t until = next > now + 1000000u ? next : now + 1000000u;
      struct timespec ts = { (time_t) (until / 1000000000u), (long) (until % 1000000000u) };
      if (!sd->stop)
        pthread_cond_timedwait (&sd->cond, &sd->lock, &ts);
    }
  sd->exited = true;
  pthread_cond_broadcast (&sd->cond);
  pthread_mutex_unlock (&sd->lock);
  /* Last: this may free the handle, and with it the detector. */
  asyncrt__handle_unref (h);
  return NULL;
}

/* ---- life ------------------------------------------------------------------------------- */

int
asyncrt__stall_detector_start (AsyncrtHandle *h, const AsyncrtBuilder *b)
{
  unsigned threshold = b->stall_set ? b->stall_threshold_ms : threshold_from_env ();
  if (threshold == 0)
    return 0;
  AsyncrtStallDetector *sd = g_new0 (AsyncrtStallDetector, 1);
  sd->h = h;
  sd->threshold_ns = (uint64_t) threshold * 1000000u;
  sd->func = b->stall_set ? b->stall_func : NULL;
  sd->user_data = b->stall_set ? b->stall_data : NULL;
  sd->n_workers = h->n_workers;
  sd->last_id = g_new0 (AsyncrtTaskId, sd->n_workers);
  sd->last_start = g_new0 (uint64_t, sd->n_workers);
  sd->tokens = ASYNCRT_STALL_BURST;
  sd->refilled_ns = asyncrt__clock_now_ns ();
  atomic_init (&sd->n_detected, 0);
  atomic_init (&sd->n_reported, 0);
  pthread_mutex_init (&sd->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (&sd->cond, &ca);
  pthread_condattr_destroy (&ca);

  /* Set before the thread exists: the current-thread runtime reads it as it enters
   * block_on (its watched loop). */
  h->stall = sd;
  asyncrt__handle_ref (h);                  /* the watchdog's */
  sigset_t all, old;
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  int r = pthread_create (&sd->thread, NULL, watchdog_main, sd);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (r != 0)
    {
      asyncrt__handle_unref (h);
      sd->exited = true;
      sd->joined = true;                    /* nothing to join */
      return -r;
    }
  return 0;
}

void
asyncrt__stall_detector_stop (AsyncrtStallDetector *sd, uint64_t deadline_ns)
{
  if (sd == NULL)
    return;
  pthread_mutex_lock (&sd->lock);
  if (sd->joined || sd->detached)
    {
      pthread_mutex_unlock (&sd->lock);
      return;
    }
  sd->stop = true;
  pthread_cond_broadcast (&sd->cond);
  if (pthread_equal (pthread_self (), sd->thread))
    {
      /* The program's stall function frees its runtime: never wait for ourselves.
       * The watchdog leaves its loop when the function returns (it holds its own
       * handle reference meanwhile). */
      sd->detached = true;
      pthread_mutex_unlock (&sd->lock);
      pthread_detach (sd->thread);
      return;
    }
  struct timespec ts = { (time_t) (deadline_ns / 1000000000u),
                         (long) (deadline_ns % 1000000000u) };
  int r = 0;
  while (!sd->exited && r != ETIMEDOUT)
    {
      if (deadline_ns == UINT64_MAX)
        pthread_cond_wait (&sd->cond, &sd->lock);
      else
        r = pthread_cond_timedwait (&sd->cond, &sd->lock, &ts);
    }
  bool exited = sd->exited;
  if (!exited)
    sd->detached = true;                    /* still in the program's function */
  else
    sd->joined = true;
  pthread_mutex_unlock (&sd->lock);
  if (exited)
    pthread_join (sd->thread, NULL);
  else
    pthread_detach (sd->thread);
}

void
asyncrt__stall_detector_free (AsyncrtStallDetector *sd)
{
  if (sd == NULL)
    return;
  /* The handle's last reference: the watchdog's is gone, so the thread has left
   * watchdog_main's loop (joined, or detached and past its last access). */
  pthread_mutex_destroy (&sd->lock);
  pthread_cond_destroy (&sd->cond);
  g_free (sd->last_id);
  g_free (sd->last_start);
  g_free (sd);
}

/* ---- public ------------------------------------------------------------------------------ */

/**
 * asyncrt_builder_set_stall_detector:
 * @b: a builder
 * @threshold_ms: how long a poll may run before it is a stall, in milliseconds (1 to
 *   3600000); 0 turns the detector off, also when `ASYNCRT_STALL_MS` is set
 * @func: (nullable): called on the watchdog thread for each reported
 *   stall; %NULL writes the reports to stderr
 * @user_data: (nullable): passed to @func
 *
 * Turns on the stall detector of the runtimes built from @b (see the section
 * description): a watchdog thread that reports each task whose poll runs longer than
 * @threshold_ms, with the native stack of its thread, once per stall and at a bounded
 * rate.  The builder's choice replaces the `ASYNCRT_STALL_MS` environment variable.
 *
 * Thread safety: one thread at a time per builder.
 *
 * Returns: 0, or -EINVAL if @b is %NULL or @threshold_ms is above 3600000.
 * Since: 0.2
 */
int
asyncrt_builder_set_stall_detector (AsyncrtBuilder *b, unsigned threshold_ms,
                                    AsyncrtStallFunc func, void *user_data)
{
  if (b == NULL || threshold_ms > ASYNCRT_STALL_MAX_THRESHOLD_MS)
    return -EINVAL;
  b->stall_set = true;
  b->stall_threshold_ms = threshold_ms;
  b->stall_func = threshold_ms != 0 ? func : NULL;
  b->stall_data = threshold_ms != 0 ? user_data : NULL;
  return 0;
}

/**
 * asyncrt_runtime_get_stall_counts:
 * @rt: a runtime
 * @ret_detected: (out) (optional): how many stalls the detector noticed
 * @ret_reported: (out) (optional): how many of them it reported (the others were over
 *   the rate limit)
 *
 * Reads the stall detector's counts since the runtime was built; both are 0 for a
 * runtime without a detector.  Outputs are written only on success.
 *
 * Thread safety: any thread, until asyncrt_runtime_free().
 *
 * Returns: 0, or -EINVAL if @rt is %NULL.
 * Since: 0.2
 */
int
asyncrt_runtime_get_stall_counts (AsyncrtRuntime *rt, uint64_t *ret_detected,
                                  uint64_t *ret_reported)
{
  if (rt == NULL)
    return -EINVAL;
  AsyncrtStallDetector *sd = asyncrt__runtime_handle (rt)->stall;
  if (ret_detected != NULL)
    *ret_detected = sd != NULL ? atomic_load_explicit (&sd->n_detected, memory_order_relaxed) : 0;
  if (ret_reported != NULL)
    *ret_reported = sd != NULL ? atomic_load_explicit (&sd->n_reported, memory_order_relaxed) : 0;
  return 0;
}
