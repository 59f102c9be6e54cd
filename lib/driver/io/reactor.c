/* libasyncrt - the epoll reactor: registration table and readiness dispatch
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every AsyncrtFd registered with a driver occupies one slot of the driver's table
 * (under the driver lock).  The epoll key is a token: slot index + 1 in the low 32
 * bits and the slot's generation in the high 32 bits, so an event that epoll_wait
 * returned for a registration removed meanwhile (and whose memory may be gone) is
 * recognised as stale and ignored; the fd's memory is only reached through the
 * table, under the lock.
 *
 * Fds are registered once, edge-triggered, for EPOLLIN | EPOLLOUT | EPOLLRDHUP.  Each
 * event ORs its readiness into AsyncrtFd.state and bumps the tick (under the lock,
 * with release stores), then takes the wakers that wait for it.  Readiness is cleared
 * only by the owner after a syscall returned EAGAIN, with a compare-and-swap on the
 * tick it observed (see asyncrt__fd_clear_ready()), so an edge that arrives between
 * the syscall and the clear is never lost.
 */
#include "driver/driver-impl-private.h"
#include "driver/io/fd-private.h"

#include <glib.h>
#include <sys/epoll.h>

static uint32_t
events_to_ready (uint32_t ev)
{
  uint32_t r = 0;
  if (ev & EPOLLIN)
    r |= ASYNCRT__IO_READABLE;
  if (ev & EPOLLOUT)
    r |= ASYNCRT__IO_WRITABLE;
  if (ev & EPOLLRDHUP)
    r |= ASYNCRT__IO_READ_CLOSED;
  if (ev & EPOLLHUP)
    r |= ASYNCRT__IO_HUP;
  if (ev & EPOLLERR)
    r |= ASYNCRT__IO_ERROR;
  return r;
}

/* Lock held.  ORs @ready into the state, bumps the tick and takes the wakers. */
static void
set_ready (AsyncrtDriver *d, AsyncrtFd *f, uint32_t ready, AsyncrtWakeBatch *b)
{
  uint64_t st = __atomic_load_n (&f->state, __ATOMIC_RELAXED);
  uint64_t tick = (st >> 32) + 1;
  uint64_t nst = (tick << 32) | ((uint32_t) st | ready);
  /* Only the driver changes the tick, and only under the lock, but the owner may
   * clear bits concurrently: CAS loop. */
  while (!__atomic_compare_exchange_n (&f->state, &st, nst, false,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED))
    nst = (tick << 32) | ((uint32_t) st | ready);
  /* Take both wakers before pushing: a push may drop the lock to flush, after
   * which @f may be deregistered and freed. */
  AsyncrtWaker r = ASYNCRT_WAKER_INIT, w = ASYNCRT_WAKER_INIT;
  if (ready & ASYNCRT__IO_ANY_READ)
    {
      r = f->read_waker;
      f->read_waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
    }
  if (ready & ASYNCRT__IO_ANY_WRITE)
    {
      w = f->write_waker;
      f->write_waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
    }
  asyncrt__wake_batch_push (d, b, r);
  asyncrt__wake_batch_push (d, b, w);
}

static AsyncrtFd *
lookup (AsyncrtDriver *d, uint64_t token)
{
  uint32_t idx = (uint32_t) token;
  uint32_t gen = (uint32_t) (token >> 32);
  if (idx == 0 || idx > d->n_used)
    return NULL;
  idx--;
  if (d->gens[idx] != gen || d->regs[idx] == NULL)
    return NULL;
  return d->regs[idx];
}

void
asyncrt__driver_dispatch_io (AsyncrtDriver *d, uint64_t token, uint32_t events,
                             AsyncrtWakeBatch *b)
{
  AsyncrtFd *f = lookup (d, token);
  if (f == NULL)
    return;                                     /* stale: deregistered meanwhile */
  set_ready (d, f, events_to_ready (events), b);
}

void
asyncrt__driver_shutdown_io (AsyncrtDriver *d, AsyncrtWakeBatch *b)
{
  for (uint32_t i = 0; i < d->n_used; i++)
    {
      if (d->regs[i] == NULL)
        continue;
      /* set_ready may flush the batch, dropping the lock: new registrations see
       * is_shutdown and fail; removals only clear slots. */
      set_ready (d, d->regs[i], ASYNCRT__IO_SHUTDOWN, b);
    }
}

void
asyncrt__driver_free_io (AsyncrtDriver *d)
{
  g_free (d->regs);
  g_free (d->gens);
  g_free (d->free_slots);
}

int
asyncrt__driver_io_register (AsyncrtDriver *d, AsyncrtFd *f)
{
  uint32_t idx;
  pthread_mutex_lock (&d->lock);
  if (__atomic_load_n (&d->is_shutdown, __ATOMIC_RELAXED))
    {
      pthread_mutex_unlock (&d->lock);
      return -ESHUTDOWN;
    }
  if (d->n_free > 0)
    idx = d->free_slots[--d->n_free];
  else
    {
      if (d->n_used == UINT32_MAX - 1)
        {
          pthread_mutex_unlock (&d->lock);
          return -ENOSPC;
        }
      if (d->n_used == d->cap)
        {
          uint32_t cap = d->cap == 0 ? 64 : d->cap * 2;
          d->regs = g_renew (AsyncrtFd *, d->regs, cap);
          d->gens = g_renew (uint32_t, d->gens, cap);
          d->free_slots = g_renew (uint32_t, d->free_slots, cap);
          d->cap = cap;
        }
      idx = d->n_used++;
      d->gens[idx] = 0;
    }
  d->gens[idx]++;
  d->regs[idx] = f;
  d->n_live++;
  f->token = ((uint64_t) d->gens[idx] << 32) | (uint64_t) (idx + 1);
  __atomic_store_n (&f->state, 0, __ATOMIC_RELAXED);
  f->read_waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  f->write_waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  asyncrt__driver_ref (d);
  pthread_mutex_unlock (&d->lock);

  struct epoll_event ev = {
    .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
    .data.u64 = f->token,
  };
  if (epoll_ctl (d->epfd, EPOLL_CTL_ADD, f->fd, &ev) < 0)
    {
      int err = -errno;
      pthread_mutex_lock (&d->lock);
      d->regs[idx] = NULL;
      d->free_slots[d->n_free++] = idx;
      d->n_live--;
      pthread_mutex_unlock (&d->lock);
      f->token = 0;
      asyncrt__driver_unref (d);
      return err;
    }
  f->driver = d;
  f->flags |= ASYNCRT__FD_REGISTERED;
  return 0;
}

void
asyncrt__driver_io_deregister (AsyncrtFd *f)
{
  AsyncrtDriver *d = f->driver;
  if (d == NULL)
    return;
  /* Before the table slot is reused, so a later event can't reach another fd. */
  epoll_ctl (d->epfd, EPOLL_CTL_DEL, f->fd, NULL);
  pthread_mutex_lock (&d->lock);
  uint32_t idx = (uint32_t) f->token - 1;
  d->regs[idx] = NULL;
  d->free_slots[d->n_free++] = idx;
  d->n_live--;
  AsyncrtWaker r = f->read_waker, w = f->write_waker;
  f->read_waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  f->write_waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  pthread_mutex_unlock (&d->lock);
  asyncrt_waker_free (&r);
  asyncrt_waker_free (&w);
  f->driver = NULL;
  f->token = 0;
  f->flags &= ~ASYNCRT__FD_REGISTERED;
  asyncrt__driver_unref (d);
}

/* Owner side.  Returns the ready bits of @interest (and the tick they were seen at),
 * or 0 after storing the waker to be woken on the next matching event. */
uint32_t
asyncrt__fd_poll_ready (AsyncrtFd *f, uint32_t interest, const AsyncrtWaker *waker,
                        uint32_t *tick_out)
{
  uint64_t st = __atomic_load_n (&f->state, __ATOMIC_ACQUIRE);
  uint32_t ready = (uint32_t) st & interest;
  if (ready != 0)
    {
      *tick_out = (uint32_t) (st >> 32);
      return ready;
    }
  AsyncrtDriver *d = f->driver;
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  AsyncrtWaker *slot = (interest & ASYNCRT__IO_READABLE) ? &f->read_waker : &f->write_waker;
  pthread_mutex_lock (&d->lock);
  /* Re-check under the lock: the driver sets readiness and takes wakers under it. */
  st = __atomic_load_n (&f->state, __ATOMIC_ACQUIRE);
  ready = (uint32_t) st & interest;
  if (ready == 0 && !asyncrt_waker_will_wake (slot, waker))
    {
      old = *slot;
      *slot = asyncrt_waker_clone (waker);
    }
  pthread_mutex_unlock (&d->lock);
  asyncrt_waker_free (&old);
  *tick_out = (uint32_t) (st >> 32);
  return ready;
}

void
asyncrt__fd_clear_ready (AsyncrtFd *f, uint32_t bits, uint32_t tick)
{
  uint64_t st = __atomic_load_n (&f->state, __ATOMIC_RELAXED);
  while ((uint32_t) (st >> 32) == tick)
    {
      uint64_t nst = st & ~(uint64_t) bits;
      if (__atomic_compare_exchange_n (&f->state, &st, nst, false,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return;
    }
}
