/* libasyncrt - the I/O + time driver: epoll, eventfd unpark, park loop, enter/exit
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking and atomics: see driver-impl-private.h.  park() runs on one thread at a
 * time; it fires expired timers and dispatches epoll events under the lock, collects
 * the wakers and wakes them after unlocking.  A timer registered while a thread is
 * parked with a later deadline unparks it (sleep.c), so the parked thread always
 * sleeps until the earliest timer at most.
 */
#include "driver/driver-impl-private.h"

#include <glib.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVENTS_PER_PARK 128
#define UNPARK_TOKEN 0

static _Thread_local AsyncrtDriver *current_driver;

int
asyncrt__driver_new (AsyncrtDriver **out)
{
  if (out == NULL)
    return -EINVAL;
  AsyncrtDriver *d = g_new0 (AsyncrtDriver, 1);
  d->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (d->epfd < 0)
    {
      int err = -errno;
      g_free (d);
      return err;
    }
  d->evfd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (d->evfd < 0)
    {
      int err = -errno;
      close (d->epfd);
      g_free (d);
      return err;
    }
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UNPARK_TOKEN };
  if (epoll_ctl (d->epfd, EPOLL_CTL_ADD, d->evfd, &ev) < 0)
    {
      int err = -errno;
      close (d->evfd);
      close (d->epfd);
      g_free (d);
      return err;
    }
  pthread_mutex_init (&d->lock, NULL);
  asyncrt__wheel_init (&d->wheel, asyncrt__clock_now_ms ());
  d->refs = 1;
  *out = d;
  return 0;
}

void
asyncrt__driver_ref (AsyncrtDriver *d)
{
  __atomic_fetch_add (&d->refs, 1, __ATOMIC_RELAXED);
}

void
asyncrt__driver_unref (AsyncrtDriver *d)
{
  if (__atomic_sub_fetch (&d->refs, 1, __ATOMIC_ACQ_REL) != 0)
    return;
  asyncrt__driver_free_io (d);
  close (d->evfd);
  close (d->epfd);
  pthread_mutex_destroy (&d->lock);
  g_free (d);
}

void
asyncrt__driver_free (AsyncrtDriver *d)
{
  if (d == NULL)
    return;
  if (!asyncrt__driver_is_shutdown (d))
    asyncrt__driver_shutdown (d);
  asyncrt__driver_unref (d);
}

void
asyncrt__wake_batch_wake (AsyncrtWakeBatch *b)
{
  for (unsigned i = 0; i < b->n; i++)
    asyncrt_waker_wake (&b->wakers[i]);
  b->n = 0;
}

void
asyncrt__wake_batch_push (AsyncrtDriver *d, AsyncrtWakeBatch *b, AsyncrtWaker w)
{
  if (w.vtable == NULL)
    return;
  if (b->n == ASYNCRT__WAKE_BATCH)
    {
      pthread_mutex_unlock (&d->lock);
      asyncrt__wake_batch_wake (b);
      pthread_mutex_lock (&d->lock);
    }
  b->wakers[b->n++] = w;
}

void
asyncrt__driver_unpark (AsyncrtDriver *d)
{
  if (d == NULL)
    return;
  if (__atomic_exchange_n (&d->unpark_pending, true, __ATOMIC_ACQ_REL))
    return;
  uint64_t one = 1;
  ssize_t r;
  do
    r = write (d->evfd, &one, sizeof one);
  while (r < 0 && errno == EINTR);
  /* EAGAIN (counter saturated) means a wake-up is pending anyway. */
}

static void
drain_unpark (AsyncrtDriver *d)
{
  uint64_t v;
  ssize_t r;
  do
    r = read (d->evfd, &v, sizeof v);
  while (r < 0 && errno == EINTR);
  /* An exchange, not a store: an unparker that found the flag still set skipped its
   * write, and its acq_rel exchange published the work it queued before unparking.
   * Reading that true here (acquire) makes that work visible to the caller's queue
   * checks after park() returns.  An unparker that comes after this exchange finds
   * false and writes the eventfd, so the next park() returns at once.  (Resetting
   * the flag before the read instead could swallow that write and leave the flag
   * set with the eventfd empty: every later unpark would be skipped.) */
  (void) __atomic_exchange_n (&d->unpark_pending, false, __ATOMIC_ACQ_REL);
}

/* epoll_pwait2 (Linux 5.11, glibc 2.35) takes a nanosecond timeout, so a timer
 * wakes the parked thread at its millisecond boundary rather than up to 1 ms late;
 * older kernels fall back to epoll_wait and whole milliseconds (rounded up). */
static bool no_pwait2;                  /* atomic, relaxed: a cache of ENOSYS */

static int
wait_events (AsyncrtDriver *d, struct epoll_event *events, int max, int64_t wait_ns)
{
#if defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 35)
  if (!__atomic_load_n (&no_pwait2, __ATOMIC_RELAXED))
    {
      struct timespec ts, *tsp = NULL;
      if (wait_ns >= 0)
        {
          ts.tv_sec = (time_t) (wait_ns / 1000000000);
          ts.tv_nsec = (long) (wait_ns % 1000000000);
          tsp = &ts;
        }
      int n = epoll_pwait2 (d->epfd, events, max, tsp, NULL);
      if (n >= 0 || (errno != ENOSYS && errno != EPERM))
        return n;
      __atomic_store_n (&no_pwait2, true, __ATOMIC_RELAXED);
    }
#endif
#endif
  int ms;
  if (wait_ns < 0)
    ms = -1;
  else
    {
      int64_t m = (wait_ns + 999999) / 1000000;
      ms = m > INT_MAX ? INT_MAX : (int) m;
    }
  return epoll_wait (d->epfd, events, max, ms);
}

void
asyncrt__driver_park (AsyncrtDriver *d, int64_t timeout_ms)
{
  AsyncrtWakeBatch batch;
  batch.n = 0;
  if (d == NULL)
    return;

  pthread_mutex_lock (&d->lock);
  if (__atomic_load_n (&d->is_shutdown, __ATOMIC_ACQUIRE))
    {
      pthread_mutex_unlock (&d->lock);
      return;
    }
  uint64_t now_ns = asyncrt__clock_now_ns ();
  uint64_t now = now_ns / 1000000u;
  asyncrt__driver_fire_timers (d, now, &batch);

  /* How long to wait, in ns (-1: until an event or unpark). */
  int64_t wait_ns;
  uint64_t next = asyncrt__wheel_next_expiration (&d->wheel);
  if (batch.n > 0 || timeout_ms == 0 || next <= now)
    wait_ns = 0;
  else
    {
      uint64_t w = UINT64_MAX;
      if (next != UINT64_MAX && next < UINT64_MAX / 1000000u)
        w = next * 1000000u - now_ns;   /* to the start of the deadline's ms */
      if (timeout_ms > 0 && (uint64_t) timeout_ms < w / 1000000u)
        w = (uint64_t) timeout_ms * 1000000u;
      wait_ns = w > (uint64_t) INT64_MAX ? -1 : (int64_t) w;
    }
  if (wait_ns == 0 && d->n_live == 0)
    {
      /* Nothing to poll without blocking: no fds, and an unpark (eventfd) that
       * may be pending only asks this or the next park to return, which this one
       * does.  Saves the epoll_wait of a busy scheduler's park(0). */
      pthread_mutex_unlock (&d->lock);
      asyncrt__wake_batch_wake (&batch);
      return;
    }
  d->parked = wait_ns != 0;
  d->park_deadline = wait_ns < 0 ? UINT64_MAX
                                 : (now_ns + (uint64_t) wait_ns + 999999u) / 1000000u;
  pthread_mutex_unlock (&d->lock);

  asyncrt__wake_batch_wake (&batch);

  struct epoll_event events[EVENTS_PER_PARK];
  int n = wait_events (d, events, EVENTS_PER_PARK, wait_ns);
  if (n < 0)
    n = 0;                              /* EINTR: just return early */

  pthread_mutex_lock (&d->lock);
  d->parked = false;
  d->park_deadline = 0;
  for (int i = 0; i < n; i++)
    {
      if (events[i].data.u64 == UNPARK_TOKEN)
        drain_unpark (d);
      else
        asyncrt__driver_dispatch_io (d, events[i].data.u64, events[i].events, &batch);
    }
  asyncrt__driver_fire_timers (d, asyncrt__clock_now_ms (), &batch);
  pthread_mutex_unlock (&d->lock);

  asyncrt__wake_batch_wake (&batch);
}

void
asyncrt__driver_shutdown (AsyncrtDriver *d)
{
  AsyncrtWakeBatch batch;
  batch.n = 0;
  if (d == NULL)
    return;
  pthread_mutex_lock (&d->lock);
  if (__atomic_load_n (&d->is_shutdown, __ATOMIC_RELAXED))
    {
      pthread_mutex_unlock (&d->lock);
      return;
    }
  __atomic_store_n (&d->is_shutdown, true, __ATOMIC_RELEASE);
  asyncrt__driver_shutdown_timers (d, &batch);
  asyncrt__driver_shutdown_io (d, &batch);
  pthread_mutex_unlock (&d->lock);
  asyncrt__wake_batch_wake (&batch);
  asyncrt__driver_unpark (d);         /* a parked thread returns */
}

bool
asyncrt__driver_is_shutdown (AsyncrtDriver *d)
{
  return d == NULL || __atomic_load_n (&d->is_shutdown, __ATOMIC_ACQUIRE);
}

AsyncrtDriver *
asyncrt__driver_current (void)
{
  return current_driver;
}

AsyncrtDriver *
asyncrt__driver_enter (AsyncrtDriver *d)
{
  AsyncrtDriver *prev = current_driver;
  current_driver = d;
  return prev;
}

void
asyncrt__driver_exit (AsyncrtDriver *prev)
{
  current_driver = prev;
}

/* The fallback driver: serves leaves polled outside any runtime (and the dump
 * future's deadline timer).  Created on first use with one detached thread that
 * parks on it forever; never freed.
 *
 * fork: fallback_lock guards the creation; pthread_atfork handlers (registered when
 * the library is loaded) take it across fork().  The child has no fallback thread,
 * so it forgets the parent's driver (left allocated: its timers belong to the parent)
 * and creates its own on first use. */
static pthread_mutex_t fallback_lock = PTHREAD_MUTEX_INITIALIZER;
static AsyncrtDriver *fallback_driver;       /* guarded by fallback_lock; atomic reads */

static void *
fallback_thread (void *data)
{
  AsyncrtDriver *d = data;
  for (;;)
    asyncrt__driver_park (d, -1);
  return NULL;
}

/* Under fallback_lock. */
static AsyncrtDriver *
fallback_create (void)
{
  AsyncrtDriver *d;
  if (asyncrt__driver_new (&d) < 0)
    return NULL;
  pthread_attr_t attr;
  pthread_t th;
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create (&th, &attr, fallback_thread, d) != 0)
    {
      asyncrt__driver_free (d);
      d = NULL;
    }
  pthread_attr_destroy (&attr);
  return d;
}

static void
fallback_fork_prepare (void)
{
  pthread_mutex_lock (&fallback_lock);
}

static void
fallback_fork_parent (void)
{
  pthread_mutex_unlock (&fallback_lock);
}

static void
fallback_fork_child (void)
{
  __atomic_store_n (&fallback_driver, NULL, __ATOMIC_RELAXED);
  pthread_mutex_unlock (&fallback_lock);
}

__attribute__((constructor)) static void
fallback_register_fork_handlers (void)
{
  pthread_atfork (fallback_fork_prepare, fallback_fork_parent, fallback_fork_child);
}

AsyncrtDriver *
asyncrt__driver_current_or_fallback (void)
{
  AsyncrtDriver *d = current_driver;
  if (ASYNCRT_LIKELY (d != NULL))
    return d;
  d = __atomic_load_n (&fallback_driver, __ATOMIC_ACQUIRE);
  if (d != NULL)
    return d;
  pthread_mutex_lock (&fallback_lock);
  d = fallback_driver;
  if (d == NULL)
    {
      /* A failure is retried at the next use (the caller polls again soon). */
      d = fallback_create ();
      __atomic_store_n (&fallback_driver, d, __ATOMIC_RELEASE);
    }
  pthread_mutex_unlock (&fallback_lock);
  return d;
}
