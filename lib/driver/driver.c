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
  __atomic_store_n (&d->unpark_pending, false, __ATOMIC_RELEASE);
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
  uint64_t now = asyncrt__clock_now_ms ();
  asyncrt__driver_fire_timers (d, now, &batch);

  int wait_ms;
  uint64_t next = asyncrt__wheel_next_expiration (&d->wheel);
  if (batch.n > 0 || timeout_ms == 0 || next <= now)
    wait_ms = 0;
  else
    {
      uint64_t w = next == UINT64_MAX ? UINT64_MAX : next - now;
      if (timeout_ms > 0 && (uint64_t) timeout_ms < w)
        w = (uint64_t) timeout_ms;
      wait_ms = w == UINT64_MAX ? -1 : w > INT_MAX ? INT_MAX : (int) w;
    }
  d->parked = wait_ms != 0;
  d->park_deadline = wait_ms < 0 ? UINT64_MAX : now + (uint64_t) wait_ms;
  pthread_mutex_unlock (&d->lock);

  asyncrt__wake_batch_wake (&batch);

  struct epoll_event events[EVENTS_PER_PARK];
  int n = epoll_wait (d->epfd, events, EVENTS_PER_PARK, wait_ms);
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

/* The fallback driver: serves leaves polled outside any runtime.  Created on first
 * use with one detached thread that parks on it forever; never freed. */
static AsyncrtDriver *fallback_driver;

static void *
fallback_thread (void *data)
{
  AsyncrtDriver *d = data;
  for (;;)
    asyncrt__driver_park (d, -1);
  return NULL;
}

static void
fallback_init (void)
{
  AsyncrtDriver *d;
  if (asyncrt__driver_new (&d) < 0)
    return;
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
  __atomic_store_n (&fallback_driver, d, __ATOMIC_RELEASE);
}

AsyncrtDriver *
asyncrt__driver_current_or_fallback (void)
{
  AsyncrtDriver *d = current_driver;
  if (ASYNCRT_LIKELY (d != NULL))
    return d;
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once (&once, fallback_init);
  return __atomic_load_n (&fallback_driver, __ATOMIC_ACQUIRE);
}
