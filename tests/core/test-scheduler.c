/* Internal tests of the scheduler side: spawn metadata recorded for dumps, and a
 * storm of concurrent wakes and aborts against the task state machine.  (How each
 * scheduler serves dumps is tested through the public API in tests/dump.) */
#include "scheduler/scheduler-private.h"
#include "test-util.h"

#include <glib.h>
#include <pthread.h>

static AsyncrtRuntime *
new_rt (void)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  return rt;
}

/* ---- metadata ---------------------------------------------------------------------- */
typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtYield y;
  AsyncrtJoinHandle *child;
  AsyncrtTaskId self_id;
} Parent;

static AsyncrtPoll
child_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  return ASYNCRT_READY;
}

static AsyncrtPoll
parent_poll (void *p, AsyncrtContext *cx)
{
  Parent *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->self_id = asyncrt_task_id_current ();
  self->child = asyncrt_spawn_named ("child", child_poll, NULL, NULL);
  asyncrt_yield_init (&self->y);
  ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtJoinHandle *jh;
} Join;

static AsyncrtPoll
join_poll (void *p, AsyncrtContext *cx)
{
  return asyncrt_join_handle_poll (((Join *) p)->jh, cx);
}

static void
test_metadata (void)
{
  AsyncrtRuntime *rt = new_rt ();
  Parent parent = { 0 };
  uint64_t before = asyncrt__clock_now_ns ();
  int line = __LINE__ + 1;
  Join j = { asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt), parent_poll, &parent, NULL) };
  AsyncrtTask *t = asyncrt__task_from_join_handle (j.jh);
  g_assert_cmpstr (asyncrt__task_spawn_file (t), ==, __FILE__);
  g_assert_cmpint (asyncrt__task_spawn_line (t), ==, line);
  g_assert_cmpstr (asyncrt__task_spawn_func (t), ==, G_STRFUNC);
  g_assert_null (asyncrt__task_name (t));
  g_assert_null (t->extra);   /* nothing that needs the extra block */
  g_assert_cmpuint (t->parent_id, ==, 0);
  g_assert_cmpuint (atomic_load (&t->poll_count), ==, 0);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, join_poll, &j), ==, 0);
  g_assert_cmpuint (atomic_load (&t->poll_count), ==, 2);
  g_assert_cmpuint (atomic_load (&t->last_poll_ns), >=, before);
  g_assert_cmpuint (parent.self_id, ==, t->id);

  AsyncrtTask *c = asyncrt__task_from_join_handle (parent.child);
  g_assert_cmpstr (asyncrt__task_name (c), ==, "child");
  g_assert_cmpuint (c->parent_id, ==, t->id);
  g_assert_cmpuint (c->id, >, t->id);
  g_assert_cmpstr (asyncrt__task_spawn_func (c), ==, "parent_poll");
  asyncrt_join_handle_free (parent.child);
  asyncrt_join_handle_free (j.jh);
  asyncrt_runtime_free (rt);
}

/* ---- wake storm -------------------------------------------------------------------------- */
typedef struct
{
  pthread_mutex_t lock;
  AsyncrtWaker w;           /* guarded by lock */
  atomic_int polls;
  atomic_bool stop;
  atomic_int freed;
} Storm;

static AsyncrtPoll
storm_poll (void *p, AsyncrtContext *cx)
{
  Storm *s = p;
  atomic_fetch_add (&s->polls, 1);
  pthread_mutex_lock (&s->lock);
  if (asyncrt_waker_is_empty (&s->w))
    s->w = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
  pthread_mutex_unlock (&s->lock);
  return ASYNCRT_PENDING;   /* until aborted */
}

static void
storm_free (void *p)
{
  Storm *s = p;
  atomic_fetch_add (&s->freed, 1);
}

static gpointer
storm_thread (gpointer data)
{
  Storm *s = data;
  while (!atomic_load (&s->stop))
    {
      pthread_mutex_lock (&s->lock);
      AsyncrtWaker w = asyncrt_waker_clone (&s->w);
      pthread_mutex_unlock (&s->lock);
      if (g_random_boolean ())
        asyncrt_waker_wake (&w);
      else
        {
          asyncrt_waker_wake_by_ref (&w);
          asyncrt_waker_free (&w);
        }
    }
  return NULL;
}

typedef struct
{
  Storm *s;
  AsyncrtJoinHandle *jh;
  gint64 end;
  int min_polls;
} StormMain;

static AsyncrtPoll
storm_main_poll (void *p, AsyncrtContext *cx)
{
  StormMain *m = p;
  if (asyncrt_join_handle_poll (m->jh, cx) == ASYNCRT_READY)
    return ASYNCRT_READY;
  if (atomic_load (&m->s->polls) >= m->min_polls || g_get_monotonic_time () > m->end)
    asyncrt_join_handle_abort (m->jh);
  else
    asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));   /* spin politely */
  return ASYNCRT_PENDING;
}

static void
test_wake_storm (void)
{
  AsyncrtRuntime *rt = new_rt ();
  Storm s = { .w = ASYNCRT_WAKER_INIT };
  pthread_mutex_init (&s.lock, NULL);
  StormMain m = { .s = &s, .min_polls = 2000,
                  .end = g_get_monotonic_time () + (gint64) test_timeout_ms (5000) * 1000 };
  m.jh = asyncrt_handle_spawn (asyncrt_runtime_get_handle (rt), storm_poll, &s, storm_free);
  GThread *th[3];
  for (int i = 0; i < 3; i++)
    th[i] = g_thread_new ("storm", storm_thread, &s);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, storm_main_poll, &m), ==, 0);
  atomic_store (&s.stop, true);
  for (int i = 0; i < 3; i++)
    g_thread_join (th[i]);
  g_assert_true (asyncrt_join_handle_is_cancelled (m.jh));
  g_assert_cmpint (atomic_load (&s.freed), ==, 1);
  asyncrt_join_handle_free (m.jh);
  pthread_mutex_lock (&s.lock);
  asyncrt_waker_free (&s.w);   /* the last reference: the task is freed here */
  pthread_mutex_unlock (&s.lock);
  asyncrt_runtime_free (rt);
  g_assert_cmpint (atomic_load (&s.freed), ==, 1);
  pthread_mutex_destroy (&s.lock);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scheduler/metadata", test_metadata);
  g_test_add_func ("/scheduler/wake-storm", test_wake_storm);
  return g_test_run ();
}
