/* libasyncrt - internal common header
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Included first by every library source file.  Internal non-static functions are
 * named asyncrt__*; they are never exported (the library is built with
 * -fvisibility=hidden and only ASYNCRT_AVAILABLE_IN_* declarations are public).
 */
#ifndef ASYNCRT_COMMON_PRIVATE_H
#define ASYNCRT_COMMON_PRIVATE_H

#include "config.h"

#include <asyncrt/asyncrt.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ASYNCRT_LIKELY(x) __builtin_expect (!!(x), 1)
#define ASYNCRT_UNLIKELY(x) __builtin_expect (!!(x), 0)
#define ASYNCRT_NOINLINE __attribute__((noinline))
#define ASYNCRT_CACHELINE 64
#define ASYNCRT_CONTAINER_OF(ptr, type, member) \
  ((type *) (void *) ((char *) (ptr) - offsetof (type, member)))

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC); the time base of every timer. */
static inline uint64_t
asyncrt__clock_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

/* Monotonic clock in nanoseconds. */
static inline uint64_t
asyncrt__clock_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Monotonic clock in nanoseconds at the kernel tick's resolution (a few ms), cheaper
 * than asyncrt__clock_now_ns(): the poll starts that dumps and the stall detector
 * read. */
static inline uint64_t
asyncrt__clock_coarse_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

#endif /* ASYNCRT_COMMON_PRIVATE_H */
