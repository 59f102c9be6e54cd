/* Helpers for the lib/sync tests: counting wakers that can be waited on from real
 * threads, so futures can be driven by hand without a runtime. */
#ifndef ASYNCRT_SYNC_TEST_UTIL_H
#define ASYNCRT_SYNC_TEST_UTIL_H

#include <asyncrt/asyncrt.h>
#include <glib.h>

#include "test-util.h"

typedef struct
{
  gint refs;
  gint wakes;
  GMutex lock;
  GCond cond;
} TestWaker;

static void *
tw_clone (void *d)
{
  g_atomic_int_inc (&((TestWaker *) d)->refs);
  return d;
}

static void
tw_unref (TestWaker *tw)
{
  if (g_atomic_int_dec_and_test (&tw->refs))
    {
      g_mutex_clear (&tw->lock);
      g_cond_clear (&tw->cond);
      g_free (tw);
    }
}

static void
tw_wake_by_ref (void *d)
{
  TestWaker *tw = d;
  g_mutex_lock (&tw->lock);
  g_atomic_int_inc (&tw->wakes);
  g_cond_broadcast (&tw->cond);
  g_mutex_unlock (&tw->lock);
}

static void
tw_wake (void *d)
{
  tw_wake_by_ref (d);
  tw_unref (d);
}

static void
tw_drop (void *d)
{
  tw_unref (d);
}

static const AsyncrtWakerVTable test_waker_vtable = { tw_clone, tw_wake, tw_wake_by_ref, tw_drop };

/* A counting waker with its own context.  test_waker_free() checks that every
 * reference the library took was given back. */
typedef struct
{
  TestWaker *tw;
  AsyncrtContext *cx;
} TestCx;

static inline void
test_cx_init (TestCx *t)
{
  TestWaker *tw = g_new0 (TestWaker, 1);
  tw->refs = 1;
  g_mutex_init (&tw->lock);
  g_cond_init (&tw->cond);
  AsyncrtWaker w;
  asyncrt_waker_init (&w, &test_waker_vtable, tw);
  t->tw = tw;
  t->cx = asyncrt_context_new (&w);   /* clones: refs 2 */
  asyncrt_waker_free (&w);            /* refs 1, held by the context */
  g_atomic_int_inc (&tw->refs);       /* ours */
}

static inline int
test_cx_wakes (TestCx *t)
{
  return g_atomic_int_get (&t->tw->wakes);
}

/* References held by others than the context and us. */
static inline int
test_cx_extra_refs (TestCx *t)
{
  return g_atomic_int_get (&t->tw->refs) - 2;
}

/* Waits until the waker has been woken more than @seen times; false on timeout. */
static inline gboolean
test_cx_wait (TestCx *t, int seen, unsigned timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean ok = TRUE;
  g_mutex_lock (&t->tw->lock);
  while (g_atomic_int_get (&t->tw->wakes) <= seen)
    if (!g_cond_wait_until (&t->tw->cond, &t->tw->lock, end))
      {
        ok = g_atomic_int_get (&t->tw->wakes) > seen;
        break;
      }
  g_mutex_unlock (&t->tw->lock);
  return ok;
}

static inline void
test_cx_clear (TestCx *t)
{
  g_assert_cmpint (test_cx_extra_refs (t), ==, 0);
  asyncrt_context_free (t->cx);
  tw_unref (t->tw);
}

/* Polls EXPR (which uses t->cx) until READY, waiting on the waker in between.
 * Fails the test if no wake-up comes within the (scaled) timeout. */
#define TEST_BLOCK_ON(t, expr)                                                \
  G_STMT_START                                                                \
  {                                                                           \
    for (;;)                                                                  \
      {                                                                       \
        int seen_ = test_cx_wakes (t);                                        \
        if ((expr) == ASYNCRT_READY)                                          \
          break;                                                              \
        if (!test_cx_wait ((t), seen_, test_timeout_ms (10000)))              \
          g_error ("lost wake-up: %s did not wake within the timeout", #expr); \
      }                                                                       \
  }                                                                           \
  G_STMT_END

#endif
