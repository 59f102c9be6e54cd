/* Join sets on both schedulers: members collected in completion order with their
 * exact ids, abort_all, freeing a set with live members, the empty set, results
 * through the join handle, the documented errors, and what a dump shows (the waiter
 * in asyncrt_join_set_join_next_poll, each member's group). */
#include <asyncrt/asyncrt.h>
#include <glib.h>

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "flavour-util.h"
#include "dump-json-util.h"

/* ---- a member: waits for its notify (if any), then stores a result ---------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotify *go;              /* NULL: finish at once */
  AsyncrtNotified wait;
  atomic_int *freed;
  atomic_int *started;            /* counts members that began waiting, or NULL */
  int value;
  int result;
} Member;

static AsyncrtPoll
member_poll (void *p, AsyncrtContext *cx)
{
  Member *self = p;
  ASYNCRT_BEGIN (&self->co);
  if (self->go != NULL)
    {
      asyncrt_notified_init (&self->wait, self->go);
      if (self->started != NULL)
        atomic_fetch_add (self->started, 1);
      ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->wait, cx));
      asyncrt_notified_clear (&self->wait);
    }
  self->result = self->value * 2;
  ASYNCRT_END (&self->co);
}

static void
member_free (void *p)
{
  Member *self = p;
  asyncrt_notified_clear (&self->wait);
  if (self->freed != NULL)
    atomic_fetch_add (self->freed, 1);
  g_free (self);
}

static Member *
member_new (AsyncrtNotify *go, atomic_int *freed, int value)
{
  Member *m = g_new0 (Member, 1);
  m->go = go;
  m->freed = freed;
  m->value = value;
  return m;
}

/* ---- 1,000 members released one at a time, in a shuffled order -------------------- */

#define N_ORDER 1000

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinSet *set;
  AsyncrtNotify go[N_ORDER];
  AsyncrtTaskId ids[N_ORDER];
  unsigned order[N_ORDER];
  atomic_int freed;
  atomic_int started;
  int i;
  AsyncrtTaskId got;
} OrderTest;

static AsyncrtPoll
order_poll (void *p, AsyncrtContext *cx)
{
  OrderTest *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->set = asyncrt_join_set_new ();
  g_assert_nonnull (self->set);
  g_assert_cmpuint (asyncrt_join_set_get_id (self->set), !=, 0);
  for (int i = 0; i < N_ORDER; i++)
    {
      asyncrt_notify_init (&self->go[i]);
      g_assert_cmpint (asyncrt_join_set_spawn_full (self->set, __FILE__, __LINE__, G_STRFUNC,
                                                    "member", member_poll,
                                                    member_new (&self->go[i], &self->freed, i),
                                                    member_free, &self->ids[i]), ==, 0);
      g_assert_cmpuint (self->ids[i], !=, 0);
    }
  g_assert_cmpuint (asyncrt_join_set_len (self->set), ==, N_ORDER);
  for (self->i = 0; self->i < N_ORDER; self->i++)
    {
      asyncrt_notify_notify_one (&self->go[self->order[self->i]]);
      ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_poll (self->set, cx, &self->got));
      /* Exactly the member released, nothing else. */
      g_assert_cmpuint (self->got, ==, self->ids[self->order[self->i]]);
      g_assert_cmpuint (asyncrt_join_set_len (self->set), ==, (size_t) (N_ORDER - 1 - self->i));
      g_assert_cmpint (atomic_load (&self->freed), ==, self->i + 1);   /* freed when joined */
    }
  ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_poll (self->set, cx, &self->got));
  g_assert_cmpuint (self->got, ==, 0);
  asyncrt_join_set_free (self->set);
  for (int i = 0; i < N_ORDER; i++)
    asyncrt_notify_clear (&self->go[i]);
  ASYNCRT_END (&self->co);
}

static void
shuffle (unsigned *order, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    order[i] = i;
  for (unsigned i = n - 1; i > 0; i--)
    {
      unsigned j = (unsigned) g_test_rand_int_range (0, (gint32) i + 1);
      unsigned t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
}

static void
test_completion_order (void)
{
  OrderTest *t = g_new0 (OrderTest, 1);
  shuffle (t->order, N_ORDER);
  run_on_new_runtime (order_poll, t);
  g_assert_cmpint (atomic_load (&t->freed), ==, N_ORDER);
  g_free (t);
}

/* ---- all 1,000 released at once: each collected once; on the current-thread
 * runtime (FIFO run queue) exactly in release order --------------------------------- */

static AsyncrtPoll
batch_poll (void *p, AsyncrtContext *cx)
{
  OrderTest *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->set = asyncrt_join_set_new ();
  for (int i = 0; i < N_ORDER; i++)
    {
      Member *m = member_new (&self->go[i], &self->freed, i);
      m->started = &self->started;
      asyncrt_notify_init (&self->go[i]);
      g_assert_cmpint (asyncrt_join_set_spawn_full (self->set, NULL, 0, NULL, NULL, member_poll,
                                                    m, member_free, &self->ids[i]), ==, 0);
    }
  /* Every member waits before any is released (else they would finish in spawn
   * order, on stored permits). */
  while (atomic_load (&self->started) < N_ORDER)
    YIELD (&self->co, cx);
  for (int i = 0; i < N_ORDER; i++)
    asyncrt_notify_notify_one (&self->go[self->order[i]]);
  for (self->i = 0; self->i < N_ORDER; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_poll (self->set, cx, &self->got));
      g_assert_cmpuint (self->got, !=, 0);
      int k = -1;
      for (int j = 0; j < N_ORDER; j++)
        if (self->ids[j] == self->got)
          k = j;
      g_assert_cmpint (k, >=, 0);
      self->ids[k] = 0;                         /* each id once */
      if (!multi_flavour)
        g_assert_cmpint (k, ==, (int) self->order[self->i]);
    }
  ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_poll (self->set, cx, &self->got));
  g_assert_cmpuint (self->got, ==, 0);
  asyncrt_join_set_free (self->set);
  for (int i = 0; i < N_ORDER; i++)
    asyncrt_notify_clear (&self->go[i]);
  ASYNCRT_END (&self->co);
}

static void
test_batch (void)
{
  OrderTest *t = g_new0 (OrderTest, 1);
  shuffle (t->order, N_ORDER);
  run_on_new_runtime (batch_poll, t);
  g_assert_cmpint (atomic_load (&t->freed), ==, N_ORDER);
  g_free (t);
}

/* ---- abort_all: every member is collected, cancelled, and freed --------------------- */

#define N_ABORT 100

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinSet *set;
  AsyncrtNotify never;
  AsyncrtJoinHandle *jh;
  AsyncrtTaskId ids[N_ABORT + 1];
  atomic_int freed;
  int i;
  int done_first;
} AbortTest;

static AsyncrtPoll
abort_poll (void *p, AsyncrtContext *cx)
{
  AbortTest *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_notify_init (&self->never);
  self->set = asyncrt_join_set_new ();
  /* One member finishes normally first; the others wait forever. */
  g_assert_cmpint (asyncrt_join_set_spawn_full (self->set, NULL, 0, NULL, NULL, member_poll,
                                                member_new (NULL, &self->freed, 21),
                                                member_free, &self->ids[N_ABORT]), ==, 0);
  for (int i = 0; i < N_ABORT; i++)
    g_assert_cmpint (asyncrt_join_set_spawn_full (self->set, NULL, 0, NULL, NULL, member_poll,
                                                  member_new (&self->never, &self->freed, i),
                                                  member_free, &self->ids[i]), ==, 0);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_handle_poll (self->set, cx, &self->jh));
  g_assert_nonnull (self->jh);
  g_assert_cmpuint (asyncrt_join_handle_get_id (self->jh), ==, self->ids[N_ABORT]);
  g_assert_false (asyncrt_join_handle_is_cancelled (self->jh));
  g_assert_cmpint (((Member *) asyncrt_join_handle_get_future (self->jh))->result, ==, 42);
  g_assert_cmpint (atomic_load (&self->freed), ==, 0);   /* the handle keeps it */
  asyncrt_join_handle_free (self->jh);
  g_assert_cmpint (atomic_load (&self->freed), ==, 1);

  /* Let the others start waiting (not required, but then abort hits idle tasks). */
  for (self->i = 0; self->i < 3; self->i++)
    YIELD (&self->co, cx);
  g_assert_cmpuint (asyncrt_join_set_len (self->set), ==, N_ABORT);
  asyncrt_join_set_abort_all (self->set);
  asyncrt_join_set_abort_all (self->set);                /* twice is harmless */
  for (self->i = 0; self->i < N_ABORT; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_handle_poll (self->set, cx,
                                                                          &self->jh));
      g_assert_nonnull (self->jh);
      g_assert_true (asyncrt_join_handle_is_cancelled (self->jh));
      g_assert_null (asyncrt_join_handle_get_future (self->jh));
      {
        AsyncrtTaskId id = asyncrt_join_handle_get_id (self->jh);
        int k = -1;
        for (int j = 0; j < N_ABORT; j++)
          if (self->ids[j] == id)
            k = j;
        g_assert_cmpint (k, >=, 0);
        self->ids[k] = 0;
      }
      asyncrt_join_handle_free (self->jh);
    }
  g_assert_cmpint (atomic_load (&self->freed), ==, N_ABORT + 1);
  g_assert_cmpuint (asyncrt_join_set_len (self->set), ==, 0);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_handle_poll (self->set, cx, &self->jh));
  g_assert_null (self->jh);
  asyncrt_join_set_free (self->set);
  asyncrt_notify_clear (&self->never);
  ASYNCRT_END (&self->co);
}

static void
test_abort_all (void)
{
  AbortTest *t = g_new0 (AbortTest, 1);
  run_on_new_runtime (abort_poll, t);
  g_free (t);
}

/* ---- free with live members: they are aborted (futures freed by the runtime while
 * it runs, not only at shutdown), finished ones freed at once ------------------------ */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinSet *set;
  AsyncrtNotify never;
  atomic_int freed;
  atomic_int started;
  AsyncrtSleep sleep;
  gint64 deadline;
  int i;
} FreeTest;

static AsyncrtPoll
free_poll (void *p, AsyncrtContext *cx)
{
  FreeTest *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_notify_init (&self->never);
  self->set = asyncrt_join_set_new ();
  for (int i = 0; i < 50; i++)
    {
      Member *m = member_new (&self->never, &self->freed, i);
      m->started = &self->started;
      g_assert_cmpint (asyncrt_join_set_spawn (self->set, member_poll, m, member_free), ==, 0);
    }
  for (int i = 0; i < 10; i++)
    g_assert_cmpint (asyncrt_join_set_spawn_named (self->set, "quick", member_poll,
                                                   member_new (NULL, &self->freed, i),
                                                   member_free), ==, 0);
  /* The waiting ones wait; the quick ones finish (not joined) meanwhile or not. */
  while (atomic_load (&self->started) < 50)
    YIELD (&self->co, cx);
  /* A pending join_next stores our waker in the set: free must release it. */
  {
    AsyncrtTaskId id = 1;
    while (asyncrt_join_set_join_next_poll (self->set, cx, &id) == ASYNCRT_READY)
      g_assert_cmpuint (id, !=, 0);
  }
  g_assert_cmpuint (asyncrt_join_set_len (self->set), >=, 50);
  asyncrt_join_set_free (self->set);
  self->set = NULL;
  /* Aborts run at the members' next scheduling point. */
  AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 10000,
               atomic_load (&self->freed) == 60);
  g_assert_cmpint (atomic_load (&self->freed), ==, 60);
  asyncrt_notify_clear (&self->never);
  ASYNCRT_END (&self->co);
}

static void
test_free_live (void)
{
  FreeTest *t = g_new0 (FreeTest, 1);
  run_on_new_runtime (free_poll, t);
  g_free (t);
}

/* ---- the empty set, NULL, and the documented errors --------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinSet *set;
  int polls;
} EmptyTest;

static AsyncrtPoll
empty_poll (void *p, AsyncrtContext *cx)
{
  EmptyTest *self = p;
  AsyncrtTaskId id = 99;
  AsyncrtJoinHandle *jh = (AsyncrtJoinHandle *) self;
  self->set = asyncrt_join_set_new ();
  g_assert_cmpuint (asyncrt_join_set_len (self->set), ==, 0);
  g_assert_cmpint (asyncrt_join_set_join_next_poll (self->set, cx, &id), ==, ASYNCRT_READY);
  g_assert_cmpuint (id, ==, 0);
  g_assert_cmpint (asyncrt_join_set_join_next_handle_poll (self->set, cx, &jh), ==, ASYNCRT_READY);
  g_assert_null (jh);
  g_assert_cmpint (asyncrt_join_set_join_next_poll (self->set, cx, NULL), ==, ASYNCRT_READY);
  id = 99;
  g_assert_cmpint (asyncrt_join_set_join_next_poll (NULL, cx, &id), ==, ASYNCRT_READY);
  g_assert_cmpuint (id, ==, 0);
  g_assert_cmpint (asyncrt_join_set_join_next_poll (self->set, NULL, &id), ==, ASYNCRT_READY);
  g_assert_cmpint (asyncrt_join_set_spawn (NULL, member_poll, NULL, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_join_set_spawn (self->set, NULL, NULL, NULL), ==, -EINVAL);
  g_assert_cmpuint (asyncrt_join_set_len (self->set), ==, 0);
  g_assert_cmpuint (asyncrt_join_set_len (NULL), ==, 0);
  g_assert_cmpuint (asyncrt_join_set_get_id (NULL), ==, 0);
  asyncrt_join_set_abort_all (NULL);
  asyncrt_join_set_abort_all (self->set);
  asyncrt_join_set_free (self->set);
  asyncrt_join_set_free (NULL);
  self->polls++;
  return ASYNCRT_READY;
}

static void
test_empty (void)
{
  EmptyTest t = { 0 };
  run_on_new_runtime (empty_poll, &t);
  g_assert_cmpint (t.polls, ==, 1);

  /* Outside a runtime there is nowhere to spawn. */
  AsyncrtJoinSet *s = asyncrt_join_set_new ();
  g_assert_cmpint (asyncrt_join_set_spawn (s, member_poll, NULL, NULL), ==, -ESRCH);
  g_assert_cmpuint (asyncrt_join_set_len (s), ==, 0);
  asyncrt_join_set_free (s);
}

/* ---- members of a runtime being shut down, and a set freed after its runtime ------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinSet *set;
  AsyncrtNotify never;
  atomic_int freed;
} ShutdownTest;

static AsyncrtPoll
shutdown_poll (void *p, AsyncrtContext *cx)
{
  ShutdownTest *self = p;
  (void) cx;
  asyncrt_notify_init (&self->never);
  self->set = asyncrt_join_set_new ();
  for (int i = 0; i < 20; i++)
    g_assert_cmpint (asyncrt_join_set_spawn (self->set, member_poll,
                                             member_new (&self->never, &self->freed, i),
                                             member_free), ==, 0);
  return ASYNCRT_READY;                        /* the set outlives block_on */
}

static void
test_runtime_freed_first (void)
{
  ShutdownTest *t = g_new0 (ShutdownTest, 1);
  AsyncrtRuntime *rt = new_runtime ();
  g_assert_cmpint (asyncrt_runtime_block_on (rt, shutdown_poll, t), ==, 0);
  asyncrt_runtime_free (rt);                   /* cancels every member */
  g_assert_cmpint (atomic_load (&t->freed), ==, 20);
  g_assert_cmpuint (asyncrt_join_set_len (t->set), ==, 20);
  asyncrt_join_set_free (t->set);              /* after the runtime: still safe */
  asyncrt_notify_clear (&t->never);
  g_free (t);
}

/* ---- dumps: the waiter waits in join_next, members carry their group ---------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinSet *set;
  AsyncrtNotify *never;
  atomic_int *freed;
  AsyncrtTaskId got;
} Waiter;

static AsyncrtPoll
waiter_poll (void *p, AsyncrtContext *cx)
{
  Waiter *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (int i = 0; i < 3; i++)
    g_assert_cmpint (asyncrt_join_set_spawn_named (self->set, "grouped", member_poll,
                                                   member_new (self->never, self->freed, i),
                                                   member_free), ==, 0);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_poll (self->set, cx, &self->got));
  ASYNCRT_END (&self->co);
}

static void
waiter_free (void *p)
{
  Waiter *self = p;
  asyncrt_join_set_free (self->set);
  g_free (self);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotify never;
  Waiter *w;
  AsyncrtJoinHandle *jh;
  AsyncrtDumpFuture df;
  atomic_int freed;
  AsyncrtSleep sleep;
  gint64 deadline;
  uint64_t set_id;
  int i;
  int attempts;
} DumpTest;

static const AsyncrtDumpTask *
find_waiter (AsyncrtDump *d, AsyncrtTaskId id)
{
  return asyncrt_dump_find_task (d, id);
}

static AsyncrtPoll
dump_poll (void *p, AsyncrtContext *cx)
{
  DumpTest *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_notify_init (&self->never);
  self->w = g_new0 (Waiter, 1);
  self->w->set = asyncrt_join_set_new ();
  self->w->never = &self->never;
  self->w->freed = &self->freed;
  self->set_id = asyncrt_join_set_get_id (self->w->set);
  self->jh = asyncrt_spawn_named ("waiter", waiter_poll, self->w, waiter_free);
  g_assert_nonnull (self->jh);
  for (self->attempts = 0; self->attempts < 20; self->attempts++)
    {
      for (self->i = 0; self->i < 20; self->i++)
        YIELD (&self->co, cx);
      asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), test_timeout_ms (5000));
      ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
      {
        AsyncrtDump *d = asyncrt_dump_future_take (&self->df);
        g_assert_nonnull (d);
        asyncrt_dump_future_clear (&self->df);
        const AsyncrtDumpTask *wt = find_waiter (d, asyncrt_join_handle_get_id (self->jh));
        g_assert_nonnull (wt);
        const AsyncrtTrace *tr = asyncrt_dump_task_get_trace (wt);
        gboolean ok = tr != NULL && asyncrt_dump_task_get_state (wt) == ASYNCRT_TASK_STATE_IDLE;
        if (ok)
          {
            char *s = asyncrt_trace_to_string (tr);
            /* Waiting in its set, under its own poll function. */
            g_assert_nonnull (strstr (s, "asyncrt_join_set_join_next_poll"));
            g_assert_nonnull (strstr (s, "waiter_poll"));
            free (s);
            g_assert_cmpuint (asyncrt_dump_task_get_group_id (wt), ==, 0);
            /* Its three members carry the set's id as their group. */
            unsigned members = 0;
            for (size_t i = 0; i < asyncrt_dump_get_n_tasks (d); i++)
              {
                const AsyncrtDumpTask *t = asyncrt_dump_get_task (d, i);
                const char *name = asyncrt_dump_task_get_name (t);
                if (name != NULL && strcmp (name, "grouped") == 0)
                  {
                    g_assert_cmpuint (asyncrt_dump_task_get_group_id (t), ==, self->set_id);
                    g_assert_cmpuint (asyncrt_dump_task_get_parent_id (t), ==,
                                      asyncrt_join_handle_get_id (self->jh));
                    members++;
                  }
              }
            g_assert_cmpuint (members, ==, 3);
            char *text = asyncrt_dump_to_string (d);
            char *want = g_strdup_printf (", group %" G_GUINT64_FORMAT ",", self->set_id);
            g_assert_nonnull (strstr (text, want));
            g_free (want);
            free (text);
            char *json = test_dump_json (d, 0);
            want = g_strdup_printf ("\"group_id\":%" G_GUINT64_FORMAT, self->set_id);
            g_assert_nonnull (strstr (json, want));
            g_assert_nonnull (strstr (json, "\"group_id\":null"));
            g_free (want);
            free (json);
          }
        asyncrt_dump_free (d);
        if (ok)
          break;
      }
    }
  g_assert_cmpint (self->attempts, <, 20);
  asyncrt_join_handle_abort (self->jh);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
  asyncrt_join_handle_free (self->jh);
  /* Freeing the waiter freed its set, which aborted the members. */
  AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 10000,
               atomic_load (&self->freed) == 3);
  g_assert_cmpint (atomic_load (&self->freed), ==, 3);
  asyncrt_notify_clear (&self->never);
  ASYNCRT_END (&self->co);
}

static void
test_dump (void)
{
  DumpTest *t = g_new0 (DumpTest, 1);
  run_on_new_runtime (dump_poll, t);
  g_free (t);
}

int
main (int argc, char **argv)
{
  static const FlavourTest tests[] = {
    { "completion-order", test_completion_order },
    { "batch", test_batch },
    { "abort-all", test_abort_all },
    { "free-live-members", test_free_live },
    { "empty-and-errors", test_empty },
    { "runtime-freed-first", test_runtime_freed_first },
    { "dump", test_dump },
  };
  g_test_init (&argc, &argv, NULL);
  flavour_add_tests ("joinset", tests, G_N_ELEMENTS (tests));
  test_dump_json_add_check ();
  return g_test_run ();
}
