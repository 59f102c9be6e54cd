/* Tests of the blocking pool through asyncrt_spawn_blocking(). */
#include <asyncrt/asyncrt.h>
#include "test-util.h"

#include <errno.h>
#include <glib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>

typedef struct
{
  atomic_int running;
  atomic_int max_running;
  atomic_int done;
  unsigned sleep_us;
} Pool;

typedef struct
{
  Pool *pool;
  int in;
  int out;
  char thread_name[32];
} Job;

static void
job_func (void *data)
{
  Job *j = data;
  int now = atomic_fetch_add (&j->pool->running, 1) + 1;
  int max = atomic_load (&j->pool->max_running);
  while (now > max && !atomic_compare_exchange_weak (&j->pool->max_running, &max, now))
    ;
  prctl (PR_GET_NAME, j->thread_name);
  g_usleep (j->pool->sleep_us);
  j->out = j->in * 2;
  atomic_fetch_sub (&j->pool->running, 1);
  atomic_fetch_add (&j->pool->done, 1);
}

typedef struct
{
  AsyncrtCoroutine co;
  int n;
  int i;
  Job *jobs;
  AsyncrtJoinHandle **jhs;
} Main;

static AsyncrtPoll
main_poll (void *p, AsyncrtContext *cx)
{
  Main *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < self->n; self->i++)
    {
      self->jobs[self->i].in = self->i;
      self->jhs[self->i] = asyncrt_spawn_blocking (job_func, &self->jobs[self->i]);
      g_assert_nonnull (self->jhs[self->i]);
    }
  for (self->i = 0; self->i < self->n; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jhs[self->i], cx));
      g_assert_false (asyncrt_join_handle_is_cancelled (self->jhs[self->i]));
      g_assert_cmpint (self->jobs[self->i].out, ==, 2 * self->i);
      /* "asyncrt-blocking", as far as the kernel's 15 characters go */
      g_assert_true (g_str_has_prefix (self->jobs[self->i].thread_name, "asyncrt-blockin"));
      asyncrt_join_handle_free (self->jhs[self->i]);
    }
  ASYNCRT_END (&self->co);
}

static AsyncrtRuntime *
new_rt (unsigned max_threads, unsigned keep_alive)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  g_assert_cmpint (asyncrt_builder_set_max_blocking_threads (b, max_threads), ==, 0);
  g_assert_cmpint (asyncrt_builder_set_blocking_keep_alive (b, keep_alive), ==, 0);
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  return rt;
}

static void
test_saturation (void)
{
  AsyncrtRuntime *rt = new_rt (3, 10000);
  Pool pool = { .sleep_us = 5000 };
  Main m = { .n = 24 };
  m.jobs = g_new0 (Job, m.n);
  m.jhs = g_new0 (AsyncrtJoinHandle *, m.n);
  for (int i = 0; i < m.n; i++)
    m.jobs[i].pool = &pool;
  g_assert_cmpint (asyncrt_runtime_block_on (rt, main_poll, &m), ==, 0);
  g_assert_cmpint (atomic_load (&pool.done), ==, m.n);
  g_assert_cmpint (atomic_load (&pool.max_running), <=, 3);   /* the limit holds */
  g_assert_cmpint (atomic_load (&pool.max_running), >=, 1);
  asyncrt_runtime_free (rt);
  g_free (m.jobs);
  g_free (m.jhs);
}

static void
test_keep_alive_zero (void)
{
  /* Idle threads exit at once; later jobs create new threads. */
  AsyncrtRuntime *rt = new_rt (2, 0);
  Pool pool = { .sleep_us = 100 };
  for (int round = 0; round < 3; round++)
    {
      Main m = { .n = 4 };
      m.jobs = g_new0 (Job, m.n);
      m.jhs = g_new0 (AsyncrtJoinHandle *, m.n);
      for (int i = 0; i < m.n; i++)
        m.jobs[i].pool = &pool;
      g_assert_cmpint (asyncrt_runtime_block_on (rt, main_poll, &m), ==, 0);
      g_free (m.jobs);
      g_free (m.jhs);
      g_usleep (2000);
    }
  g_assert_cmpint (atomic_load (&pool.done), ==, 12);
  asyncrt_runtime_free (rt);
}

/* Shutdown waits for queued and running blocking functions. */
static void
test_shutdown_waits (void)
{
  AsyncrtRuntime *rt = new_rt (1, 10000);
  Pool pool = { .sleep_us = 2000 };
  Job jobs[5];
  memset (jobs, 0, sizeof jobs);
  for (int i = 0; i < 5; i++)
    {
      jobs[i].pool = &pool;
      AsyncrtJoinHandle *jh = asyncrt_handle_spawn_blocking (asyncrt_runtime_get_handle (rt),
                                                             job_func, &jobs[i]);
      g_assert_nonnull (jh);
      if (i == 0)
        asyncrt_join_handle_abort (jh);   /* does not stop the function */
      asyncrt_join_handle_free (jh);
    }
  asyncrt_runtime_free (rt);
  g_assert_cmpint (atomic_load (&pool.done), ==, 5);
  g_assert_cmpint (atomic_load (&pool.max_running), ==, 1);
}

static void
test_errors (void)
{
  errno = 0;
  g_assert_null (asyncrt_spawn_blocking (job_func, NULL));
  g_assert_cmpint (errno, ==, ESRCH);
  errno = 0;
  g_assert_null (asyncrt_handle_spawn_blocking (NULL, job_func, NULL));
  g_assert_cmpint (errno, ==, EINVAL);
  AsyncrtRuntime *rt = new_rt (1, 0);
  errno = 0;
  g_assert_null (asyncrt_handle_spawn_blocking (asyncrt_runtime_get_handle (rt), NULL, NULL));
  g_assert_cmpint (errno, ==, EINVAL);
  asyncrt_runtime_free (rt);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/blocking/saturation", test_saturation);
  g_test_add_func ("/blocking/keep-alive-zero", test_keep_alive_zero);
  g_test_add_func ("/blocking/shutdown-waits", test_shutdown_waits);
  g_test_add_func ("/blocking/errors", test_errors);
  return g_test_run ();
}
