/* A runtime of the flavour under test (flavour-util.h) for tests that look at its
 * threads from outside: on the current-thread runtime a thread of its own sits in
 * block_on until harness_stop(), so tasks run as they would in a program.
 * Shared by the tests of native stacks, stalls, filters and progress. */
#ifndef ASYNCRT_TEST_HARNESS_UTIL_H
#define ASYNCRT_TEST_HARNESS_UTIL_H

#include <asyncrt/asyncrt.h>

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "flavour-util.h"
#include "test-util.h"

typedef struct
{
  AsyncrtRuntime *rt;
  AsyncrtHandle *h;
  pthread_t block_on_thread;
  AsyncrtNotify done;
  atomic_bool stop;
} Harness;

typedef struct
{
  AsyncrtCoroutine co;
  Harness *hs;
  AsyncrtNotified n;
} KeeperMain;

/* block_on's future: waits until harness_stop() sets hs->stop. */
static inline AsyncrtPoll
keeper_poll (void *p, AsyncrtContext *cx)
{
  KeeperMain *self = p;
  ASYNCRT_BEGIN (&self->co);
  while (!atomic_load (&self->hs->stop))
    {
      asyncrt_notified_init (&self->n, &self->hs->done);
      ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->n, cx));
      asyncrt_notified_clear (&self->n);
    }
  ASYNCRT_END (&self->co);
}

static inline void *
block_on_main (void *data)
{
  Harness *hs = data;
  KeeperMain m = { 0 };
  m.hs = hs;
  g_assert_cmpint (asyncrt_runtime_block_on (hs->rt, keeper_poll, &m), ==, 0);
  return NULL;
}

/* A builder of the flavour under test (2 workers for the multi-thread one). */
static inline AsyncrtBuilder *
new_builder (void)
{
  AsyncrtBuilder *b = multi_flavour ? asyncrt_builder_new_multi_thread ()
                                    : asyncrt_builder_new_current_thread ();
  if (multi_flavour)
    g_assert_cmpint (asyncrt_builder_set_worker_threads (b, 2), ==, 0);
  return b;
}

/* Takes @rt and, on the current-thread runtime, starts the block_on thread. */
static inline void
harness_start_runtime (Harness *hs, AsyncrtRuntime *rt)
{
  memset (hs, 0, sizeof *hs);
  hs->rt = rt;
  hs->h = asyncrt_runtime_get_handle (hs->rt);
  asyncrt_notify_init (&hs->done);
  if (!multi_flavour)
    g_assert_cmpint (pthread_create (&hs->block_on_thread, NULL, block_on_main, hs), ==, 0);
}

/* Builds the runtime from @b (freed here), then as harness_start_runtime(). */
static inline void
harness_start_with (Harness *hs, AsyncrtBuilder *b)
{
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  harness_start_runtime (hs, rt);
}

static inline void
harness_start (Harness *hs)
{
  harness_start_with (hs, new_builder ());
}

static inline void
harness_stop (Harness *hs)
{
  if (!multi_flavour)
    {
      atomic_store (&hs->stop, true);
      asyncrt_notify_notify_one (&hs->done);
      pthread_join (hs->block_on_thread, NULL);
    }
  asyncrt_runtime_free (hs->rt);
  asyncrt_notify_clear (&hs->done);
}

/* Waits (at most 20 s, scaled) for @jh's task to finish. */
static inline void
wait_finished (AsyncrtJoinHandle *jh)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_timeout_ms (20000) * 1000;
  while (!asyncrt_join_handle_is_finished (jh) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_true (asyncrt_join_handle_is_finished (jh));
}

#endif
