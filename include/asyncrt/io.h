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
 * AsyncrtFd:
 *
 * A non-blocking file descriptor registered with a runtime's I/O driver.  Embed it
 * in your state; all fields are private.
 */
typedef struct _AsyncrtFd AsyncrtFd;
struct _AsyncrtFd
{
  /*< private >*/
  int fd;                     /* owner */
  uint32_t flags;             /* owner */
  void *driver;               /* owner; holds a reference on the driver */
  uint64_t token;             /* owner; the epoll key */
  uint64_t state;             /* readiness bits | tick << 32 (atomic) */
  AsyncrtWaker read_waker;    /* driver lock */
  AsyncrtWaker write_waker;   /* driver lock */
  void *reserved[4];
};

ASYNCRT_END_DECLS

#endif /* ASYNCRT_IO_H */
