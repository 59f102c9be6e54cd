/* libasyncrt - AsyncrtFd internals shared by the reactor and the I/O helpers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef ASYNCRT_FD_PRIVATE_H
#define ASYNCRT_FD_PRIVATE_H

#include "driver/driver-impl-private.h"

/* Registers f->fd (set by the caller) with @d: 0, -ESHUTDOWN, -ENOSPC or the
 * epoll_ctl error. */
int asyncrt__driver_io_register (AsyncrtDriver *d, AsyncrtFd *f);
void asyncrt__driver_io_deregister (AsyncrtFd *f);
uint32_t asyncrt__fd_poll_ready (AsyncrtFd *f, uint32_t interest,
                                 const AsyncrtWaker *waker, uint32_t *tick_out);
/* Clears @bits if no event arrived since @tick was observed. */
void asyncrt__fd_clear_ready (AsyncrtFd *f, uint32_t bits, uint32_t tick);
/* Trace mode (wait-private.h): describes the wait of the leaf just traced as fd
 * readiness of @f in @direction (ASYNCRT_WAIT_DIRECTION_READ / _WRITE). */
void asyncrt__fd_describe_wait (const AsyncrtFd *f, int direction);


/* The socket-creating helpers share these (io/socket.c). */
int asyncrt__fd_init_with_driver (AsyncrtFd *f, int fd, AsyncrtDriver *d);
struct sockaddr;
/* Creates a non-blocking stream socket of @family, then binds and listens
 * (@listen_backlog >= 0; < 0 means connect), and registers it into @f.  On failure
 * the socket is closed and a negative errno returned. */
int asyncrt__socket_open (AsyncrtFd *f, int family, const struct sockaddr *addr,
                          unsigned addrlen, int listen_backlog);

#endif
