/* Helpers for the driver tests: a counting waker and a hand-driven driver. */
#ifndef DRIVER_TEST_UTIL_H
#define DRIVER_TEST_UTIL_H

#include "driver/driver-private.h"
#include "test-util.h"

#include <glib.h>

typedef struct
{
  int refs;                   /* atomic */
  int wakes;                  /* atomic */
} CountingWaker;

static void *cw_clone (void *d) { __atomic_fetch_add (&((CountingWaker *) d)->refs, 1, __ATOMIC_RELAXED); return d; }
static void cw_wake (void *d)
{
  CountingWaker *c = d;
  __atomic_fetch_add (&c->wakes, 1, __ATOMIC_RELEASE);
  __atomic_fetch_sub (&c->refs, 1, __ATOMIC_RELAXED);
}
static void cw_wake_by_ref (void *d) { __atomic_fetch_add (&((CountingWaker *) d)->wakes, 1, __ATOMIC_RELEASE); }
static void cw_drop (void *d) { __atomic_fetch_sub (&((CountingWaker *) d)->refs, 1, __ATOMIC_RELAXED); }
static const AsyncrtWakerVTable cw_vtable = { cw_clone, cw_wake, cw_wake_by_ref, cw_drop };

static inline int
cw_wakes (CountingWaker *c)
{
  return __atomic_load_n (&c->wakes, __ATOMIC_ACQUIRE);
}

static inline int
cw_refs (CountingWaker *c)
{
  return __atomic_load_n (&c->refs, __ATOMIC_ACQUIRE);
}

/* Waits (bounded) until every clone of @c's waker is dropped: a timer fired on another
 * thread holds its clone until its wake by value returns, which may be after the
 * sleep that registered it was cleared. */
static inline int
cw_refs_settled (CountingWaker *c)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (cw_refs (c) != 0 && g_get_monotonic_time () < end)
    g_thread_yield ();
  return cw_refs (c);
}

/* A context whose waker counts on @c (the context holds one reference). */
static inline AsyncrtContext *
cw_context_new (CountingWaker *c)
{
  AsyncrtWaker w;
  asyncrt_waker_init (&w, &cw_vtable, c);
  return asyncrt_context_new (&w);      /* clones: refs == 1 */
}

typedef struct
{
  AsyncrtDriver *driver;
  AsyncrtDriver *prev;
} DriverFixture;

static inline void
driver_fixture_setup (DriverFixture *f)
{
  g_assert_cmpint (asyncrt__driver_new (&f->driver), ==, 0);
  f->prev = asyncrt__driver_enter (f->driver);
}

static inline void
driver_fixture_teardown (DriverFixture *f)
{
  asyncrt__driver_exit (f->prev);
  asyncrt__driver_shutdown (f->driver);
  asyncrt__driver_free (f->driver);
}

/* Parks until @c was woken at least @n times, bounded by @timeout_ms (scaled). */
static inline bool
park_until_woken (AsyncrtDriver *d, CountingWaker *c, int n, unsigned timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) test_timeout_ms (timeout_ms) * 1000;
  while (cw_wakes (c) < n)
    {
      gint64 left = (end - g_get_monotonic_time ()) / 1000;
      if (left <= 0)
        return false;
      asyncrt__driver_park (d, left);
    }
  return true;
}

#endif
