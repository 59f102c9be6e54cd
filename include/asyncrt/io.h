/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_IO_H
#define ASYNCRT_IO_H

#include <asyncrt/future.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:io
 * @title: I/O
 * @short_description: fd readiness, reads and writes, TCP and Unix sockets
 *
 * An #AsyncrtFd is a non-blocking file descriptor registered with the epoll reactor
 * of the runtime that initialises it (outside a runtime: with the process-wide
 * fallback driver, see the Time section).  It is embedded in your state, allocates
 * nothing per await, and must not move in memory while registered.  Release it with
 * asyncrt_fd_clear() (the descriptor stays open and yours) or asyncrt_fd_close()
 * (deregisters and closes); one of them is required before its memory goes away.
 *
 * Every I/O future is a poll function that takes the #AsyncrtFd, the context, its
 * arguments and a result pointer last.  The result is written only when the poll
 * returns %ASYNCRT_READY: a count or 0 on success, a negative errno on failure
 * (the system's error, e.g. -ECONNRESET, -ECONNREFUSED, -EPIPE; -ESHUTDOWN once
 * the runtime's driver has shut down and the operation would have to wait; -EINVAL
 * for a %NULL or unregistered fd).  Polls never return the would-block condition:
 * EAGAIN is handled inside by waiting for readiness.  A %NULL result pointer is
 * allowed where the result is not needed.
 *
 * Readiness is tracked per registration (edge-triggered epoll): it is set when the
 * kernel reports an event and cleared only when an operation observes EAGAIN, so a
 * wake-up is never lost.  When you issue the system call yourself, wait with
 * asyncrt_fd_readable_poll() / asyncrt_fd_writable_poll() and call
 * asyncrt_fd_clear_readable() / asyncrt_fd_clear_writable() when the call fails
 * with EAGAIN.  One task may read and another write the same #AsyncrtFd at the same
 * time; two tasks reading (or two writing) the same fd at once is not supported
 * (only the last waker is kept).
 *
 * Writes to sockets use MSG_NOSIGNAL, so a closed peer gives -EPIPE rather than
 * SIGPIPE; writes to pipes use write(2), and SIGPIPE is the program's business.
 *
 * |[<!-- language="C" -->
 * typedef struct {
 *   AsyncrtCoroutine co;
 *   AsyncrtFd conn;
 *   char buf[4096];
 *   int64_t n;
 *   size_t done;
 * } Echo;
 *
 * static AsyncrtPoll
 * echo_poll (void *p, AsyncrtContext *cx)
 * {
 *   Echo *self = p;
 *   ASYNCRT_BEGIN (&self->co);
 *   for (;;)
 *     {
 *       ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->conn, cx, self->buf,
 *                                                       sizeof self->buf, &self->n));
 *       if (self->n <= 0)          // 0: end of file; < 0: -errno
 *         break;
 *       self->done = 0;
 *       ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->conn, cx, self->buf,
 *                                                            (size_t) self->n,
 *                                                            &self->done, &self->n));
 *       if (self->n < 0)
 *         break;
 *     }
 *   asyncrt_fd_close (&self->conn);
 *   ASYNCRT_END (&self->co);
 * }
 * ]|
 */

/**
 * AsyncrtFd:
 *
 * A non-blocking file descriptor registered with a runtime's I/O driver.  Embed it
 * in your state; all fields are private.
 */
typedef struct _AsyncrtFd AsyncrtFd;
struct _AsyncrtFd
{
  /*< private >*/
  int fd;                     /* owner; -1 when not registered */
  uint32_t flags;             /* owner */
  void *driver;               /* owner; holds a reference on the driver */
  uint64_t token;             /* owner; the epoll key */
  uint64_t state;             /* readiness bits | tick << 32 (atomic) */
  AsyncrtWaker read_waker;    /* driver lock */
  AsyncrtWaker write_waker;   /* driver lock */
  uint32_t read_tick;         /* reader: tick of the readiness last acted on */
  uint32_t write_tick;        /* writer: likewise */
  void *reserved[4];
};

/**
 * AsyncrtShutdownHow:
 * @ASYNCRT_SHUTDOWN_READ: no more receptions
 * @ASYNCRT_SHUTDOWN_WRITE: no more transmissions (the peer reads end of file)
 * @ASYNCRT_SHUTDOWN_BOTH: both
 *
 * Which half of a socket connection asyncrt_socket_shutdown() shuts down.
 */
typedef enum
{
  ASYNCRT_SHUTDOWN_READ = 0,
  ASYNCRT_SHUTDOWN_WRITE = 1,
  ASYNCRT_SHUTDOWN_BOTH = 2
} AsyncrtShutdownHow;

/* Any non-blocking fd */
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_fd_init (AsyncrtFd *f, int fd);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_fd_get_fd (const AsyncrtFd *f);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_fd_clear (AsyncrtFd *f);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_fd_close (AsyncrtFd *f);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_fd_readable_poll (AsyncrtFd *f, AsyncrtContext *cx, int *result);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_fd_writable_poll (AsyncrtFd *f, AsyncrtContext *cx, int *result);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_fd_clear_readable (AsyncrtFd *f);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_fd_clear_writable (AsyncrtFd *f);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_fd_read_poll (AsyncrtFd *f, AsyncrtContext *cx, void *buf, size_t len,
                                  int64_t *result);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_fd_write_poll (AsyncrtFd *f, AsyncrtContext *cx, const void *buf,
                                   size_t len, int64_t *result);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_fd_write_all_poll (AsyncrtFd *f, AsyncrtContext *cx, const void *buf,
                                       size_t len, size_t *written, int64_t *result);

/* Sockets */
ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_tcp_listen (AsyncrtFd *listener, const char *host, uint16_t port, int backlog);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_tcp_connect_start (AsyncrtFd *stream, const char *host, uint16_t port);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_tcp_set_nodelay (AsyncrtFd *stream, bool nodelay);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_unix_listen (AsyncrtFd *listener, const char *path, int backlog);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_unix_connect_start (AsyncrtFd *stream, const char *path);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_socket_get_local_port (const AsyncrtFd *f);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_socket_accept_poll (AsyncrtFd *listener, AsyncrtContext *cx,
                                        AsyncrtFd *conn, int *result);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_socket_connect_poll (AsyncrtFd *stream, AsyncrtContext *cx,
                                         int *result);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_socket_shutdown (AsyncrtFd *f, AsyncrtShutdownHow how);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_IO_H */
