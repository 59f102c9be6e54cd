/* libasyncrt - AsyncrtFd: readiness futures, reads and writes on any non-blocking fd
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership: the fields marked "owner" in io.h belong to the code using the
 * AsyncrtFd (a reader and a writer may run concurrently: the reader owns read_tick,
 * the writer write_tick); `state` is shared with the driver (see reactor.c) and the
 * wakers belong to the driver lock.
 *
 * Every operation first tries to make progress only when readiness says it can; on
 * EAGAIN it clears the readiness it acted on (compare-and-swap on the tick, so a
 * newer event survives) and loops, which either retries (new event) or stores the
 * waker and returns PENDING.
 */
#include "driver/io/fd-private.h"
#include "scheduler/coop-private.h"
#include "trace/wait-private.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BITS  (ASYNCRT__IO_ANY_READ & ~ASYNCRT__IO_SHUTDOWN)
#define WRITE_BITS (ASYNCRT__IO_ANY_WRITE & ~ASYNCRT__IO_SHUTDOWN)

static inline bool
fd_ok (const AsyncrtFd *f)
{
  return f != NULL && (f->flags & ASYNCRT__FD_REGISTERED) != 0;
}

static inline void
set_int (int *result, int v)
{
  if (result != NULL)
    *result = v;
}

static inline void
set_i64 (int64_t *result, int64_t v)
{
  if (result != NULL)
    *result = v;
}

ASYNCRT_WAIT_DESCRIBER void
asyncrt__fd_describe_wait (const AsyncrtFd *f, int direction)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  asyncrt__wait_set (w, ASYNCRT_WAIT_FD, (uintptr_t) f, NULL);
  if (f != NULL)
    asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_FD, f->fd);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_DIRECTION, direction);
}

int
asyncrt__fd_init_with_driver (AsyncrtFd *f, int fd, AsyncrtDriver *d)
{
  memset (f, 0, sizeof *f);
  f->fd = -1;
  if (fd < 0)
    return -EBADF;
  int fl = fcntl (fd, F_GETFL);
  if (fl < 0)
    return -errno;
  if ((fl & O_NONBLOCK) == 0)
    return -EINVAL;
  if (d == NULL)
    return -ENOMEM;
  struct stat st;
  uint32_t flags = 0;
  if (fstat (fd, &st) == 0 && S_ISSOCK (st.st_mode))
    flags |= ASYNCRT__FD_SOCKET;
  f->fd = fd;
  f->flags = flags;
  int r = asyncrt__driver_io_register (d, f);
  if (r < 0)
    {
      f->fd = -1;
      f->flags = 0;
    }
  return r;
}

/**
 * asyncrt_fd_init:
 * @f: the #AsyncrtFd to initialise
 * @fd: an open file descriptor in non-blocking mode (O_NONBLOCK)
 *
 * Registers @fd with the I/O driver of the runtime running the calling thread (or
 * the fallback driver outside a runtime).  The descriptor stays owned by the
 * caller: asyncrt_fd_clear() deregisters it, asyncrt_fd_close() also closes it.
 * Anything epoll accepts works: sockets, pipes, FIFOs, eventfds, terminals…
 *
 * Thread safety: any thread; @f then belongs to its user (see the section
 * introduction for concurrent reader and writer).
 *
 * Returns: 0 on success; -EINVAL if @f is %NULL or @fd is in blocking mode; -EBADF
 *   if @fd is negative or not open; -EPERM if epoll does not support it (a regular
 *   file, a directory); -EEXIST if it is already registered with this driver;
 *   -ESHUTDOWN if the runtime has shut down; -ENOMEM.  On failure @f is left
 *   unregistered (asyncrt_fd_clear() is harmless on it).
 * Since: 0.1
 */
int
asyncrt_fd_init (AsyncrtFd *f, int fd)
{
  if (f == NULL)
    return -EINVAL;
  return asyncrt__fd_init_with_driver (f, fd, asyncrt__driver_current_or_fallback ());
}

/**
 * asyncrt_fd_get_fd:
 * @f: a registered #AsyncrtFd
 *
 * Thread safety: any thread while @f is registered.
 *
 * Returns: the file descriptor, or -EBADF if @f is %NULL or not registered.
 * Since: 0.1
 */
int
asyncrt_fd_get_fd (const AsyncrtFd *f)
{
  return fd_ok (f) ? f->fd : -EBADF;
}

/**
 * asyncrt_fd_clear:
 * @f: (nullable): an #AsyncrtFd
 *
 * Deregisters the descriptor from its driver, without closing it; stored wakers
 * are dropped (not woken).  Call it before you close the descriptor yourself (its
 * number could otherwise be reused by a new registration that this would then
 * disturb), or use asyncrt_fd_close().  Harmless on an unregistered (or
 * zero-filled) @f.  Safe after the runtime has been freed.
 *
 * Thread safety: the owner, when no poll of @f is running.
 *
 * Since: 0.1
 */
void
asyncrt_fd_clear (AsyncrtFd *f)
{
  if (!fd_ok (f))
    return;
  asyncrt__driver_io_deregister (f);
  f->fd = -1;
}

/**
 * asyncrt_fd_close:
 * @f: an #AsyncrtFd
 *
 * Deregisters the descriptor and closes it.
 *
 * Thread safety: the owner, when no poll of @f is running.
 *
 * Returns: 0, -EBADF if @f is %NULL or not registered, or the error of close(2)
 *   (the descriptor is released even then).
 * Since: 0.1
 */
int
asyncrt_fd_close (AsyncrtFd *f)
{
  if (!fd_ok (f))
    return -EBADF;
  int fd = f->fd;
  asyncrt_fd_clear (f);
  if (close (fd) < 0 && errno != EINTR)
    return -errno;
  return 0;
}

/* Shared by the readiness futures. */
static AsyncrtPoll
ready_poll (AsyncrtFd *f, AsyncrtContext *cx, uint32_t interest, uint32_t *tick_slot,
            int *result)
{
  uint32_t tick;
  uint32_t ready = asyncrt__fd_poll_ready (f, interest, asyncrt_context_get_waker (cx), &tick);
  if (ready == 0)
    return ASYNCRT_PENDING;
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;
  *tick_slot = tick;
  set_int (result, ready == ASYNCRT__IO_SHUTDOWN ? -ESHUTDOWN : 0);
  return ASYNCRT_READY;
}

/**
 * asyncrt_fd_readable_poll:
 * @f: a registered #AsyncrtFd
 * @cx: the context of this poll
 * @result: (out) (optional): 0, or a negative errno
 *
 * Waits until the descriptor may be read without blocking (data, end of file, an
 * error condition or a hang-up).  For your own system calls: call
 * asyncrt_fd_clear_readable() when one fails with EAGAIN, then wait again.
 *
 * Thread safety: the reader of @f, one thread at a time.
 *
 * Returns: %ASYNCRT_READY with *@result 0 when readable, -ESHUTDOWN once the
 *   driver has shut down (and no readiness is left), -EINVAL for a %NULL or
 *   unregistered @f; %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_fd_readable_poll (AsyncrtFd *f, AsyncrtContext *cx, int *result)
{
  if (asyncrt_trace_leaf (cx))
    {
      asyncrt__fd_describe_wait (f, ASYNCRT_WAIT_DIRECTION_READ);
      return ASYNCRT_PENDING;
    }
  if (!fd_ok (f))
    {
      set_int (result, -EINVAL);
      return ASYNCRT_READY;
    }
  return ready_poll (f, cx, ASYNCRT__IO_ANY_READ, &f->read_tick, result);
}

/**
 * asyncrt_fd_writable_poll:
 * @f: a registered #AsyncrtFd
 * @cx: the context of this poll
 * @result: (out) (optional): 0, or a negative errno
 *
 * Waits until the descriptor may be written without blocking (or is in an error or
 * hang-up state).  Call asyncrt_fd_clear_writable() when your own write fails with
 * EAGAIN.
 *
 * Thread safety: the writer of @f, one thread at a time.
 *
 * Returns: %ASYNCRT_READY with *@result 0 when writable, -ESHUTDOWN once the
 *   driver has shut down, -EINVAL for a %NULL or unregistered @f;
 *   %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_fd_writable_poll (AsyncrtFd *f, AsyncrtContext *cx, int *result)
{
  if (asyncrt_trace_leaf (cx))
    {
      asyncrt__fd_describe_wait (f, ASYNCRT_WAIT_DIRECTION_WRITE);
      return ASYNCRT_PENDING;
    }
  if (!fd_ok (f))
    {
      set_int (result, -EINVAL);
      return ASYNCRT_READY;
    }
  return ready_poll (f, cx, ASYNCRT__IO_ANY_WRITE, &f->write_tick, result);
}

/**
 * asyncrt_fd_clear_readable:
 * @f: (nullable): an #AsyncrtFd
 *
 * Records that a read-side system call returned EAGAIN after the last
 * asyncrt_fd_readable_poll() that returned ready, so the next one waits for a new
 * event.  If an event arrived in between, the readiness is kept.
 *
 * Thread safety: the reader of @f.
 *
 * Since: 0.1
 */
void
asyncrt_fd_clear_readable (AsyncrtFd *f)
{
  if (fd_ok (f))
    asyncrt__fd_clear_ready (f, READ_BITS, f->read_tick);
}

/**
 * asyncrt_fd_clear_writable:
 * @f: (nullable): an #AsyncrtFd
 *
 * The write-side counterpart of asyncrt_fd_clear_readable().
 *
 * Thread safety: the writer of @f.
 *
 * Since: 0.1
 */
void
asyncrt_fd_clear_writable (AsyncrtFd *f)
{
  if (fd_ok (f))
    asyncrt__fd_clear_ready (f, WRITE_BITS, f->write_tick);
}

/**
 * asyncrt_fd_read_poll:
 * @f: a registered #AsyncrtFd
 * @cx: the context of this poll
 * @buf: where to store the data
 * @len: the size of @buf
 * @result: (out): the number of bytes read, 0 at end of file, or a negative errno
 *
 * Reads at most @len bytes, waiting until some are available: one read(2) that
 * did not fail with EAGAIN (a short count is normal).  A @len of 0 completes at
 * once with 0.
 *
 * Thread safety: the reader of @f, one thread at a time.
 *
 * Returns: %ASYNCRT_READY with *@result set (-ECONNRESET for a reset connection,
 *   -ESHUTDOWN once the driver has shut down and nothing can be read, -EINVAL for
 *   a %NULL or unregistered @f or a %NULL @buf with a non-zero @len);
 *   %ASYNCRT_PENDING while nothing can be read.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_fd_read_poll (AsyncrtFd *f, AsyncrtContext *cx, void *buf, size_t len,
                      int64_t *result)
{
  if (asyncrt_trace_leaf (cx))
    {
      asyncrt__fd_describe_wait (f, ASYNCRT_WAIT_DIRECTION_READ);
      return ASYNCRT_PENDING;
    }
  if (!fd_ok (f) || (buf == NULL && len > 0))
    {
      set_i64 (result, -EINVAL);
      return ASYNCRT_READY;
    }
  if (len == 0)
    {
      set_i64 (result, 0);
      return ASYNCRT_READY;
    }
  bool budgeted = false;
  for (;;)
    {
      uint32_t tick;
      uint32_t ready = asyncrt__fd_poll_ready (f, ASYNCRT__IO_ANY_READ,
                                               asyncrt_context_get_waker (cx), &tick);
      if (ready == 0)
        return ASYNCRT_PENDING;
      if (!budgeted)
        {
          if (!asyncrt__coop_poll_proceed (cx))
            return ASYNCRT_PENDING;
          budgeted = true;
        }
      ssize_t n = read (f->fd, buf, len);
      if (n >= 0)
        {
          set_i64 (result, n);
          return ASYNCRT_READY;
        }
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        {
          set_i64 (result, -errno);
          return ASYNCRT_READY;
        }
      if (ready & ASYNCRT__IO_SHUTDOWN)
        {
          set_i64 (result, -ESHUTDOWN);
          return ASYNCRT_READY;
        }
      asyncrt__fd_clear_ready (f, READ_BITS, tick);
    }
}

static ssize_t
do_write (AsyncrtFd *f, const void *buf, size_t len)
{
  if (f->flags & ASYNCRT__FD_SOCKET)
    return send (f->fd, buf, len, MSG_NOSIGNAL);
  return write (f->fd, buf, len);
}

/* One write attempt loop: > 0 bytes written, 0 pending, < 0 -errno (READY). */
static int64_t
write_some (AsyncrtFd *f, AsyncrtContext *cx, const void *buf, size_t len)
{
  for (;;)
    {
      uint32_t tick;
      uint32_t ready = asyncrt__fd_poll_ready (f, ASYNCRT__IO_ANY_WRITE,
                                               asyncrt_context_get_waker (cx), &tick);
      if (ready == 0)
        return 0;
      ssize_t n = do_write (f, buf, len);
      if (n > 0)
        return n;
      if (n == 0)
        return -EIO;                      /* a 0-byte write of a non-empty buffer */
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return -errno;
      if (ready & ASYNCRT__IO_SHUTDOWN)
        return -ESHUTDOWN;
      asyncrt__fd_clear_ready (f, WRITE_BITS, tick);
    }
}

/**
 * asyncrt_fd_write_poll:
 * @f: a registered #AsyncrtFd
 * @cx: the context of this poll
 * @buf: the data
 * @len: how many bytes of @buf to write
 * @result: (out): the number of bytes written, or a negative errno
 *
 * Writes part of @buf, waiting until the descriptor accepts some: one successful
 * write (a short count is possible, as with write(2); see
 * asyncrt_fd_write_all_poll() to write everything).  A @len of 0 completes at once
 * with 0.
 *
 * Thread safety: the writer of @f, one thread at a time.
 *
 * Returns: %ASYNCRT_READY with *@result set (-EPIPE or -ECONNRESET when the peer
 *   is gone, -ESHUTDOWN once the driver has shut down and nothing can be written,
 *   -EINVAL for a %NULL or unregistered @f or a %NULL @buf with a non-zero @len);
 *   %ASYNCRT_PENDING while nothing can be written.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_fd_write_poll (AsyncrtFd *f, AsyncrtContext *cx, const void *buf, size_t len,
                       int64_t *result)
{
  if (asyncrt_trace_leaf (cx))
    {
      asyncrt__fd_describe_wait (f, ASYNCRT_WAIT_DIRECTION_WRITE);
      return ASYNCRT_PENDING;
    }
  if (!fd_ok (f) || (buf == NULL && len > 0))
    {
      set_i64 (result, -EINVAL);
      return ASYNCRT_READY;
    }
  if (len == 0)
    {
      set_i64 (result, 0);
      return ASYNCRT_READY;
    }
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;
  int64_t n = write_some (f, cx, buf, len);
  if (n == 0)
    return ASYNCRT_PENDING;
  set_i64 (result, n);
  return ASYNCRT_READY;
}

/**
 * asyncrt_fd_write_all_poll:
 * @f: a registered #AsyncrtFd
 * @cx: the context of this poll
 * @buf: the data
 * @len: how many bytes of @buf to write
 * @written: (inout): bytes of @buf already written; set it to 0 before the first
 *   poll, keep it (in the future's state) across polls
 * @result: (out): @len on success, or a negative errno
 *
 * Writes all of @buf, looping over short writes and waiting whenever the
 * descriptor is full.  *@written tells the progress at any time, including after
 * an error.
 *
 * Thread safety: the writer of @f, one thread at a time.
 *
 * Returns: %ASYNCRT_READY once everything is written (*@result = @len) or on an
 *   error (*@result < 0, as for asyncrt_fd_write_poll(); -EINVAL also for a %NULL
 *   @written or *@written > @len); %ASYNCRT_PENDING otherwise.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_fd_write_all_poll (AsyncrtFd *f, AsyncrtContext *cx, const void *buf, size_t len,
                           size_t *written, int64_t *result)
{
  if (asyncrt_trace_leaf (cx))
    {
      asyncrt__fd_describe_wait (f, ASYNCRT_WAIT_DIRECTION_WRITE);
      return ASYNCRT_PENDING;
    }
  if (!fd_ok (f) || written == NULL || *written > len || (buf == NULL && len > 0))
    {
      set_i64 (result, -EINVAL);
      return ASYNCRT_READY;
    }
  if (*written < len && !asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;
  while (*written < len)
    {
      int64_t n = write_some (f, cx, (const char *) buf + *written, len - *written);
      if (n == 0)
        return ASYNCRT_PENDING;
      if (n < 0)
        {
          set_i64 (result, n);
          return ASYNCRT_READY;
        }
      *written += (size_t) n;
    }
  set_i64 (result, (int64_t) len);
  return ASYNCRT_READY;
}
