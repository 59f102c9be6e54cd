/* libasyncrt - stream-socket helpers shared by TCP and Unix sockets
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership as for any AsyncrtFd (fd.c): accept is a read-side operation, connect
 * completion a write-side one.
 */
#include "driver/io/fd-private.h"
#include "scheduler/coop-private.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

int
asyncrt__socket_open (AsyncrtFd *f, int family, const struct sockaddr *addr,
                      unsigned addrlen, int listen_backlog)
{
  int fd = socket (family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int r = 0;
  if (listen_backlog >= 0)
    {
      int one = 1;
      if (family != AF_UNIX)
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind (fd, addr, addrlen) < 0 || listen (fd, listen_backlog) < 0)
        r = -errno;
    }
  /* EINTR (a signal, e.g. a native-stack sample, during the call): the connection
   * goes on asynchronously, exactly as with EINPROGRESS; never call connect() again. */
  else if (connect (fd, addr, addrlen) < 0 && errno != EINPROGRESS && errno != EINTR)
    r = -errno;
  if (r == 0)
    r = asyncrt__fd_init_with_driver (f, fd, asyncrt__driver_current_or_fallback ());
  if (r < 0)
    close (fd);
  return r;
}

/**
 * asyncrt_socket_accept_poll:
 * @listener: a listening socket (asyncrt_tcp_listen(), asyncrt_unix_listen(), or
 *   any listening socket registered with asyncrt_fd_init())
 * @cx: the context of this poll
 * @conn: (out caller-allocates): where to register the accepted connection
 * @result: (out) (optional): 0, or a negative errno
 *
 * Accepts one connection, waiting for one to arrive.  The new socket is
 * non-blocking and close-on-exec, registered with the same driver as @listener in
 * @conn (release it with asyncrt_fd_close()).  Aborted connections
 * (ECONNABORTED) are skipped.
 *
 * Thread safety: the reader of @listener, one thread at a time.
 *
 * Returns: %ASYNCRT_READY with *@result 0 and @conn registered, or a negative
 *   errno (-EMFILE, -ENFILE, -ENOBUFS, -ENOMEM: the listener stays usable;
 *   -ESHUTDOWN once the driver has shut down; -EINVAL for a %NULL or unregistered
 *   @listener or a %NULL @conn) and @conn unregistered; %ASYNCRT_PENDING while no
 *   connection is waiting.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_socket_accept_poll (AsyncrtFd *listener, AsyncrtContext *cx, AsyncrtFd *conn,
                            int *result)
{
  if (asyncrt_trace_leaf (cx))
    {
      asyncrt__fd_describe_wait (listener, ASYNCRT_WAIT_DIRECTION_READ);
      return ASYNCRT_PENDING;
    }
  if (!fd_ok (listener) || conn == NULL)
    {
      set_int (result, -EINVAL);
      return ASYNCRT_READY;
    }
  bool budgeted = false;
  for (;;)
    {
      uint32_t tick;
      uint32_t ready = asyncrt__fd_poll_ready (listener, ASYNCRT__IO_ANY_READ,
                                               asyncrt_context_get_waker (cx), &tick);
      if (ready == 0)
        return ASYNCRT_PENDING;
      if (!budgeted)
        {
          if (!asyncrt__coop_poll_proceed (cx))
            return ASYNCRT_PENDING;
          budgeted = true;
        }
      int fd = accept4 (listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0)
        {
          int r = asyncrt__fd_init_with_driver (conn, fd, listener->driver);
          if (r < 0)
            close (fd);
          set_int (result, r);
          return ASYNCRT_READY;
        }
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        {
          int err = -errno;
          memset (conn, 0, sizeof *conn);
          conn->fd = -1;
          set_int (result, err);
          return ASYNCRT_READY;
        }
      if (ready & ASYNCRT__IO_SHUTDOWN)
        {
          memset (conn, 0, sizeof *conn);
          conn->fd = -1;
          set_int (result, -ESHUTDOWN);
          return ASYNCRT_READY;
        }
      asyncrt__fd_clear_ready (listener, ASYNCRT__IO_ANY_READ & ~ASYNCRT__IO_SHUTDOWN, tick);
    }
}

/**
 * asyncrt_socket_connect_poll:
 * @stream: a socket whose connection was started with asyncrt_tcp_connect_start()
 *   or asyncrt_unix_connect_start()
 * @cx: the context of this poll
 * @result: (out) (optional): 0 once connected, or a negative errno
 *
 * Waits for a non-blocking connect to finish and reports its outcome (SO_ERROR).
 * Polling again after it finished reports the same success.
 *
 * Thread safety: the writer of @stream, one thread at a time.
 *
 * Returns: %ASYNCRT_READY with *@result 0 when connected, or -ECONNREFUSED,
 *   -ETIMEDOUT, -ENETUNREACH… from the system, -ESHUTDOWN once the driver has shut
 *   down, -EINVAL for a %NULL or unregistered @stream; %ASYNCRT_PENDING while
 *   connecting.
 * Since: 0.1
 */
AsyncrtPoll
asyncrt_socket_connect_poll (AsyncrtFd *stream, AsyncrtContext *cx, int *result)
{
  if (asyncrt_trace_leaf (cx))
    {
      asyncrt__fd_describe_wait (stream, ASYNCRT_WAIT_DIRECTION_WRITE);
      return ASYNCRT_PENDING;
    }
  if (!fd_ok (stream))
    {
      set_int (result, -EINVAL);
      return ASYNCRT_READY;
    }
  uint32_t tick;
  uint32_t ready = asyncrt__fd_poll_ready (stream, ASYNCRT__IO_ANY_WRITE,
                                           asyncrt_context_get_waker (cx), &tick);
  if (ready == 0)
    return ASYNCRT_PENDING;
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt (stream->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err == 0 && ready == ASYNCRT__IO_SHUTDOWN)
    err = ESHUTDOWN;
  set_int (result, -err);
  return ASYNCRT_READY;
}

/**
 * asyncrt_socket_shutdown:
 * @f: a registered socket
 * @how: which direction to shut down
 *
 * Shuts down one or both directions of a connection (shutdown(2)); it never
 * blocks.  After %ASYNCRT_SHUTDOWN_WRITE the peer reads end of file.  The socket
 * stays registered: close it with asyncrt_fd_close().
 *
 * Thread safety: any thread that may use @f.
 *
 * Returns: 0, -EINVAL for a %NULL or unregistered @f or a bad @how, -ENOTCONN,
 *   -ENOTSOCK or another error of shutdown(2).
 * Since: 0.1
 */
int
asyncrt_socket_shutdown (AsyncrtFd *f, AsyncrtShutdownHow how)
{
  if (!fd_ok (f))
    return -EINVAL;
  int h;
  switch (how)
    {
    case ASYNCRT_SHUTDOWN_READ: h = SHUT_RD; break;
    case ASYNCRT_SHUTDOWN_WRITE: h = SHUT_WR; break;
    case ASYNCRT_SHUTDOWN_BOTH: h = SHUT_RDWR; break;
    default: return -EINVAL;
    }
  if (shutdown (f->fd, h) < 0)
    return -errno;
  return 0;
}

/**
 * asyncrt_socket_get_local_port:
 * @f: a registered TCP socket
 *
 * The local port a TCP socket is bound to, e.g. the one the kernel chose for a
 * listener created with port 0.
 *
 * Thread safety: any thread that may use @f.
 *
 * Returns: the port (1–65535), -EINVAL for a %NULL or unregistered @f,
 *   -EAFNOSUPPORT for a socket that is not TCP/IP, or the error of getsockname(2).
 * Since: 0.1
 */
int
asyncrt_socket_get_local_port (const AsyncrtFd *f)
{
  if (!fd_ok (f))
    return -EINVAL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname (f->fd, (struct sockaddr *) &ss, &len) < 0)
    return -errno;
  if (ss.ss_family == AF_INET)
    return ntohs (((struct sockaddr_in *) &ss)->sin_port);
  if (ss.ss_family == AF_INET6)
    return ntohs (((struct sockaddr_in6 *) &ss)->sin6_port);
  return -EAFNOSUPPORT;
}
