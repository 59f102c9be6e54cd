/* Unit tests of the task state machine (lib/task), driven directly with a fake
 * scheduler that records what it is asked to schedule. */
#include "scheduler/scheduler-private.h"
#include "test-util.h"

#include <glib.h>

typedef struct
{
  AsyncrtHandle base;
  GPtrArray *scheduled;     /* tasks passed to schedule(), each with a notified ref */
  unsigned yields;
} FakeHandle;

static void
fake_schedule (AsyncrtHandle *h, AsyncrtTask *t, bool is_yield)
{
  FakeHandle *f = (FakeHandle *) h;
  g_ptr_array_add (f->scheduled, t);
  if (is_yield)
    f->yields++;
}

static void fake_unpark (AsyncrtHandle *h) { (void) h; }
static int fake_block_on (AsyncrtHandle *h, AsyncrtPollFunc p, void *f) { (void) h; (void) p; (void) f; return -ENOTSUP; }
static int fake_shutdown (AsyncrtHandle *h, uint64_t deadline_ns, GArray *unfinished) { (void) h; (void) deadline_ns; (void) unfinished; return 0; }
static void fake_free (AsyncrtHandle *h) { (void) h; g_assert_not_reached (); }

static const AsyncrtSchedulerOps fake_ops = {
  fake_schedule, fake_unpark, fake_block_on, fake_shutdown, fake_free,
};

static void
fake_init (FakeHandle *f)
{
  memset (f, 0, sizeof *f);
  f->base.ops = &fake_ops;
  atomic_init (&f->base.refs, 1);   /* the test's; never dropped, so never freed */
  asyncrt__owned_init (&f->base.owned);
  f->scheduled = g_ptr_array_new ();
}

static void
fake_clear (FakeHandle *f)
{
  g_assert_cmpuint (f->scheduled->len, ==, 0);
  g_assert_cmpuint (atomic_load (&f->base.refs), ==, 1);
  asyncrt__owned_clear (&f->base.owned);
  g_ptr_array_unref (f->scheduled);
}

static AsyncrtTask *
pop_scheduled (FakeHandle *f)
{
  g_assert_cmpuint (f->scheduled->len, >, 0);
  return g_ptr_array_steal_index (f->scheduled, 0);
}

/* A future that returns PENDING `pending` times, optionally waking itself. */
typedef struct
{
  int polls;
  int pending;
  bool wake_self;
  int *freed;
  AsyncrtWaker saved;
} Fut;

static AsyncrtPoll
fut_poll (void *p, AsyncrtContext *cx)
{
  Fut *f = p;
  f->polls++;
  if (f->polls > f->pending)
    return ASYNCRT_READY;
  if (f->wake_self)
    asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));
  else if (asyncrt_waker_is_empty (&f->saved))
    f->saved = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
  return ASYNCRT_PENDING;
}

static void
fut_free (void *p)
{
  Fut *f = p;
  (*f->freed)++;
  asyncrt_waker_free (&f->saved);
}

static AsyncrtTask *
spawn (FakeHandle *h, Fut *f)
{
  AsyncrtSpawnInfo info = { __FILE__, __LINE__, G_STRFUNC, "t" };
  AsyncrtJoinHandle *jh = asyncrt__handle_spawn_task (&h->base, &info, fut_poll, f, fut_free);
  g_assert_nonnull (jh);
  return asyncrt__task_from_join_handle (jh);
}

#define REFS(t) ASYNCRT_TASK_REF_COUNT (asyncrt__task_state (t))
#define HAS(t, bit) ((asyncrt__task_state (t) & (bit)) != 0)

static void
test_initial_state (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;
  Fut f = { .pending = 0, .freed = &freed };
  AsyncrtTask *t = spawn (&h, &f);
  g_assert_cmpuint (t->id, >, 0);
  g_assert_cmpstr (asyncrt__task_name (t), ==, "t");
  g_assert_true (HAS (t, ASYNCRT_TASK_NOTIFIED));
  g_assert_true (HAS (t, ASYNCRT_TASK_JOIN_INTEREST));
  g_assert_false (HAS (t, ASYNCRT_TASK_RUNNING | ASYNCRT_TASK_COMPLETE));
  g_assert_cmpuint (REFS (t), ==, 3);
  g_assert_cmpuint (asyncrt__owned_len (&h.base.owned), ==, 1);
  g_assert_true (pop_scheduled (&h) == t);

  asyncrt__task_run (t);                  /* READY at once */
  g_assert_true (HAS (t, ASYNCRT_TASK_COMPLETE));
  g_assert_false (HAS (t, ASYNCRT_TASK_CANCELLED));
  g_assert_cmpuint (REFS (t), ==, 1);      /* only the join handle */
  g_assert_cmpuint (asyncrt__owned_len (&h.base.owned), ==, 0);
  g_assert_cmpint (freed, ==, 0);          /* the join handle keeps the output */
  g_assert_true (asyncrt_join_handle_get_future (asyncrt__task_to_join_handle (t)) == &f);
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (t));
  g_assert_cmpint (freed, ==, 1);
  fake_clear (&h);
}

static void
test_wake_while_idle_and_running (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;
  Fut f = { .pending = 2, .freed = &freed };
  AsyncrtTask *t = spawn (&h, &f);
  AsyncrtJoinHandle *jh = asyncrt__task_to_join_handle (t);
  asyncrt__task_run (pop_scheduled (&h));
  g_assert_cmpint (f.polls, ==, 1);
  g_assert_false (HAS (t, ASYNCRT_TASK_RUNNING | ASYNCRT_TASK_NOTIFIED));
  g_assert_cmpuint (REFS (t), ==, 3);      /* owned, join, saved waker */
  g_assert_cmpuint (h.scheduled->len, ==, 0);

  /* by_ref on an idle task: notified, one more ref, submitted once. */
  asyncrt_waker_wake_by_ref (&f.saved);
  asyncrt_waker_wake_by_ref (&f.saved);
  g_assert_cmpuint (h.scheduled->len, ==, 1);
  g_assert_cmpuint (REFS (t), ==, 4);
  asyncrt__task_run (pop_scheduled (&h));
  g_assert_cmpint (f.polls, ==, 2);
  g_assert_cmpuint (REFS (t), ==, 3);

  /* by_val: the waker's reference becomes the notified one. */
  asyncrt_waker_wake (&f.saved);
  g_assert_cmpuint (h.scheduled->len, ==, 1);
  g_assert_cmpuint (REFS (t), ==, 3);
  asyncrt__task_run (pop_scheduled (&h));
  g_assert_cmpint (f.polls, ==, 3);
  g_assert_true (asyncrt_join_handle_is_finished (jh));
  g_assert_cmpuint (REFS (t), ==, 1);
  asyncrt_join_handle_free (jh);
  g_assert_cmpint (freed, ==, 1);
  fake_clear (&h);
}

static void
test_wake_self_while_running_yields (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;
  Fut f = { .pending = 3, .wake_self = true, .freed = &freed };
  AsyncrtTask *t = spawn (&h, &f);
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (t));   /* detach */
  for (int i = 0; i < 3; i++)
    {
      asyncrt__task_run (pop_scheduled (&h));
      g_assert_cmpuint (h.scheduled->len, ==, 1);     /* rescheduled as a yield */
      g_assert_cmpuint (h.yields, ==, (unsigned) i + 1);
    }
  asyncrt__task_run (pop_scheduled (&h));
  g_assert_cmpint (f.polls, ==, 4);
  g_assert_cmpint (freed, ==, 1);                     /* detached: freed at completion */
  fake_clear (&h);
}

static void
test_abort_idle_notified_running (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;

  /* idle */
  Fut f1 = { .pending = 5, .freed = &freed };
  AsyncrtTask *t1 = spawn (&h, &f1);
  asyncrt__task_run (pop_scheduled (&h));
  asyncrt_join_handle_abort (asyncrt__task_to_join_handle (t1));
  g_assert_cmpuint (h.scheduled->len, ==, 1);
  asyncrt_join_handle_abort (asyncrt__task_to_join_handle (t1));   /* twice: no-op */
  g_assert_cmpuint (h.scheduled->len, ==, 1);
  asyncrt__task_run (pop_scheduled (&h));
  g_assert_cmpint (f1.polls, ==, 1);                  /* cancelled, not polled */
  g_assert_cmpint (freed, ==, 1);
  g_assert_true (asyncrt_join_handle_is_cancelled (asyncrt__task_to_join_handle (t1)));
  g_assert_null (asyncrt_join_handle_get_future (asyncrt__task_to_join_handle (t1)));
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (t1));
  g_assert_cmpint (freed, ==, 1);

  /* notified (never polled) */
  Fut f2 = { .pending = 5, .freed = &freed };
  AsyncrtTask *t2 = spawn (&h, &f2);
  asyncrt_join_handle_abort (asyncrt__task_to_join_handle (t2));
  g_assert_cmpuint (h.scheduled->len, ==, 1);
  asyncrt__task_run (pop_scheduled (&h));
  g_assert_cmpint (f2.polls, ==, 0);
  g_assert_cmpint (freed, ==, 2);
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (t2));

  /* complete: abort does nothing */
  Fut f3 = { .pending = 0, .freed = &freed };
  AsyncrtTask *t3 = spawn (&h, &f3);
  asyncrt__task_run (pop_scheduled (&h));
  asyncrt_join_handle_abort (asyncrt__task_to_join_handle (t3));
  g_assert_cmpuint (h.scheduled->len, ==, 0);
  g_assert_false (asyncrt_join_handle_is_cancelled (asyncrt__task_to_join_handle (t3)));
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (t3));
  g_assert_cmpint (freed, ==, 3);
  fake_clear (&h);
}

static void
test_raw_transitions (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;
  Fut f = { .pending = 1, .freed = &freed };
  AsyncrtTask *t = spawn (&h, &f);
  g_assert_true (pop_scheduled (&h) == t);

  /* notified: running succeeds once, a second attempt fails */
  g_assert_cmpint (asyncrt__task_transition_to_running (t), ==, ASYNCRT_TRANSITION_SUCCESS);
  g_assert_true (HAS (t, ASYNCRT_TASK_RUNNING));
  g_assert_false (HAS (t, ASYNCRT_TASK_NOTIFIED));
  g_assert_cmpint (asyncrt__task_transition_to_running (t), ==, ASYNCRT_TRANSITION_FAILED);
  /* notified while running: no new reference, no submit */
  g_assert_cmpint (asyncrt__task_transition_to_notified_by_ref (t), ==, ASYNCRT_TRANSITION_DO_NOTHING);
  g_assert_cmpuint (REFS (t), ==, 3);
  g_assert_false (asyncrt__task_claim_for_trace (t));
  g_assert_cmpint (asyncrt__task_transition_to_idle (t), ==, ASYNCRT_TRANSITION_IDLE_NOTIFIED);
  /* the runner's reference is now the notified one: run again, go idle */
  g_assert_cmpint (asyncrt__task_transition_to_running (t), ==, ASYNCRT_TRANSITION_SUCCESS);
  g_assert_cmpint (asyncrt__task_transition_to_idle (t), ==, ASYNCRT_TRANSITION_IDLE_OK);
  asyncrt__task_unref (t);
  g_assert_cmpuint (REFS (t), ==, 2);

  /* a claim for tracing: idle -> RUNNING with a new reference; refused while claimed */
  g_assert_true (asyncrt__task_claim_for_trace (t));
  g_assert_cmpuint (REFS (t), ==, 3);
  g_assert_true (HAS (t, ASYNCRT_TASK_RUNNING));
  g_assert_false (HAS (t, ASYNCRT_TASK_NOTIFIED));
  g_assert_false (asyncrt__task_claim_for_trace (t));
  g_assert_cmpint (asyncrt__task_transition_to_running (t), ==, ASYNCRT_TRANSITION_FAILED);
  /* the claimer is the runner: a wake marks it, queues nothing, takes no reference */
  g_assert_cmpint (asyncrt__task_transition_to_notified_by_ref (t), ==, ASYNCRT_TRANSITION_DO_NOTHING);
  g_assert_cmpuint (REFS (t), ==, 3);
  g_assert_cmpuint (h.scheduled->len, ==, 0);

  /* cancel while running: the runner sees it at transition_to_idle */
  g_assert_cmpint (asyncrt__task_transition_to_notified_and_cancel (t), ==, ASYNCRT_TRANSITION_DO_NOTHING);
  g_assert_true (HAS (t, ASYNCRT_TASK_CANCELLED | ASYNCRT_TASK_NOTIFIED));
  g_assert_cmpint (asyncrt__task_transition_to_idle (t), ==, ASYNCRT_TRANSITION_IDLE_CANCELLED);
  g_assert_true (HAS (t, ASYNCRT_TASK_RUNNING));
  /* ... but a future that finishes anyway completes normally */
  uint64_t prev = asyncrt__task_transition_to_complete (t, false);
  g_assert_true (prev & ASYNCRT_TASK_RUNNING);
  g_assert_true (HAS (t, ASYNCRT_TASK_COMPLETE));
  g_assert_false (HAS (t, ASYNCRT_TASK_CANCELLED | ASYNCRT_TASK_RUNNING));
  g_assert_false (asyncrt__task_transition_to_shutdown (t));
  g_assert_false (HAS (t, ASYNCRT_TASK_CANCELLED));
  g_assert_cmpint (asyncrt__task_transition_to_notified_and_cancel (t), ==, ASYNCRT_TRANSITION_DO_NOTHING);
  g_assert_cmpint (asyncrt__task_transition_to_running (t), ==, ASYNCRT_TRANSITION_FAILED);
  /* release by hand what task_run would have */
  g_assert_true (asyncrt__owned_remove (&h.base.owned, t));
  g_assert_false (asyncrt__owned_remove (&h.base.owned, t));
  asyncrt__task_unref (t);   /* owned */
  asyncrt__task_unref (t);   /* runner */
  g_assert_cmpuint (REFS (t), ==, 1);
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (t));
  g_assert_cmpint (freed, ==, 1);
  fake_clear (&h);
}

static void
test_shutdown_and_closed_spawn (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;
  Fut fs[3] = { { .pending = 9, .freed = &freed }, { .pending = 9, .freed = &freed },
                { .pending = 9, .freed = &freed } };
  AsyncrtTask *a = spawn (&h, &fs[0]);   /* never polled, still queued */
  AsyncrtTask *b = spawn (&h, &fs[1]);   /* idle with a saved waker */
  AsyncrtTask *c = spawn (&h, &fs[2]);   /* detached */
  g_assert_true (pop_scheduled (&h) == a);
  asyncrt__task_run (pop_scheduled (&h));
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (c));
  g_assert_cmpuint (asyncrt__owned_len (&h.base.owned), ==, 3);

  AsyncrtWaker keep = asyncrt_waker_clone (&fs[1].saved);
  asyncrt__owned_close_and_shutdown_all (&h.base.owned);
  g_assert_cmpint (freed, ==, 3);
  g_assert_cmpuint (asyncrt__owned_len (&h.base.owned), ==, 0);
  g_assert_true (asyncrt_join_handle_is_cancelled (asyncrt__task_to_join_handle (a)));
  g_assert_true (asyncrt_join_handle_is_cancelled (asyncrt__task_to_join_handle (b)));
  /* the queue still holds c's and a's notified references: running them is a no-op */
  asyncrt__task_run (pop_scheduled (&h));   /* c */
  asyncrt__task_run (a);
  /* a wake after shutdown does nothing */
  asyncrt_waker_wake_by_ref (&keep);
  g_assert_cmpuint (h.scheduled->len, ==, 0);
  asyncrt_waker_wake (&keep);
  g_assert_cmpuint (h.scheduled->len, ==, 0);

  /* spawn after close: cancelled at once */
  Fut late = { .pending = 0, .freed = &freed };
  AsyncrtTask *d = spawn (&h, &late);
  g_assert_cmpuint (h.scheduled->len, ==, 0);
  g_assert_cmpint (freed, ==, 4);
  g_assert_cmpint (late.polls, ==, 0);
  g_assert_true (asyncrt_join_handle_is_cancelled (asyncrt__task_to_join_handle (d)));
  g_assert_cmpuint (REFS (d), ==, 1);
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (d));
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (a));
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (b));
  g_assert_cmpint (freed, ==, 4);
  fake_clear (&h);
}

/* Join waker protocol: replaced wakers are released, the final one woken once. */
typedef struct { int wakes; int refs; } Counter;
static void *c_clone (void *d) { ((Counter *) d)->refs++; return d; }
static void c_wake (void *d) { ((Counter *) d)->wakes++; ((Counter *) d)->refs--; }
static void c_wake_by_ref (void *d) { ((Counter *) d)->wakes++; }
static void c_drop (void *d) { ((Counter *) d)->refs--; }
static const AsyncrtWakerVTable counter_vt = { c_clone, c_wake, c_wake_by_ref, c_drop };

static void
test_join_waker (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;
  Fut f = { .pending = 1, .freed = &freed };
  AsyncrtTask *t = spawn (&h, &f);
  AsyncrtJoinHandle *jh = asyncrt__task_to_join_handle (t);
  Counter c1 = { 0, 1 }, c2 = { 0, 1 };   /* w1, w2 hold one each */
  AsyncrtWaker w1, w2;
  asyncrt_waker_init (&w1, &counter_vt, &c1);
  asyncrt_waker_init (&w2, &counter_vt, &c2);
  AsyncrtContext *cx1 = asyncrt_context_new (&w1);
  AsyncrtContext *cx2 = asyncrt_context_new (&w2);
  g_assert_cmpint (asyncrt_join_handle_poll (jh, cx1), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_join_handle_poll (jh, cx1), ==, ASYNCRT_PENDING);
  g_assert_cmpint (c1.refs, ==, 3);      /* w1 + context + slot */
  g_assert_true (HAS (t, ASYNCRT_TASK_JOIN_WAKER));
  g_assert_cmpint (asyncrt_join_handle_poll (jh, cx2), ==, ASYNCRT_PENDING);
  g_assert_cmpint (c1.refs, ==, 2);
  g_assert_cmpint (c2.refs, ==, 3);
  asyncrt__task_run (pop_scheduled (&h));   /* pending */
  asyncrt_waker_wake (&f.saved);
  asyncrt__task_run (pop_scheduled (&h));   /* ready */
  g_assert_cmpint (c2.wakes, ==, 1);
  g_assert_cmpint (c1.wakes, ==, 0);
  g_assert_false (HAS (t, ASYNCRT_TASK_JOIN_WAKER));
  g_assert_cmpint (asyncrt_join_handle_poll (jh, cx2), ==, ASYNCRT_READY);
  asyncrt_join_handle_free (jh);
  g_assert_cmpint (c2.refs, ==, 2);
  g_assert_cmpint (freed, ==, 1);
  asyncrt_context_free (cx1);
  asyncrt_context_free (cx2);
  asyncrt_waker_free (&w1);
  asyncrt_waker_free (&w2);
  g_assert_cmpint (c1.refs, ==, 0);
  g_assert_cmpint (c2.refs, ==, 0);
  fake_clear (&h);
}

static void
foreach_claim (AsyncrtTask *t, void *data)
{
  if (asyncrt__task_claim_for_trace (t))
    g_ptr_array_add (data, t);
}

static void
test_owned_foreach_for_tracing (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;
  Fut fs[40];
  AsyncrtTask *ts[40];
  for (int i = 0; i < 40; i++)
    {
      fs[i] = (Fut) { .pending = 9, .freed = &freed };
      ts[i] = spawn (&h, &fs[i]);
    }
  /* run half of them once: those become idle */
  for (int i = 0; i < 40; i++)
    {
      AsyncrtTask *t = pop_scheduled (&h);
      if (i % 2 == 0)
        asyncrt__task_run (t);
      else
        g_ptr_array_add (h.scheduled, t);
    }
  GPtrArray *claimed = g_ptr_array_new ();
  g_assert_cmpuint (asyncrt__owned_foreach (&h.base.owned, foreach_claim, claimed), ==, 40);
  g_assert_cmpuint (claimed->len, ==, 20);
  for (guint i = 0; i < claimed->len; i++)
    {
      bool completed = true;
      g_assert_true (asyncrt__task_trace_poll (claimed->pdata[i], false, &completed));
      g_assert_false (completed);
    }
  g_ptr_array_unref (claimed);
  /* Back to idle: nothing more was scheduled, no poll was counted. */
  g_assert_cmpuint (h.scheduled->len, ==, 20);
  for (int i = 0; i < 40; i += 2)
    {
      g_assert_cmpint (fs[i].polls, ==, 2);                        /* real + trace */
      g_assert_cmpuint (atomic_load (&ts[i]->poll_count), ==, 1);  /* real only */
      g_assert_false (HAS (ts[i], ASYNCRT_TASK_RUNNING | ASYNCRT_TASK_NOTIFIED));
    }
  asyncrt__owned_close_and_shutdown_all (&h.base.owned);
  g_assert_cmpint (freed, ==, 40);
  while (h.scheduled->len > 0)
    asyncrt__task_drop_notified (pop_scheduled (&h));
  for (int i = 0; i < 40; i++)
    asyncrt_join_handle_free (asyncrt__task_to_join_handle (ts[i]));
  fake_clear (&h);
}

/* ---- the trace-poll rule (task-private.h, "Trace polls") --------------------------- */

/* A future whose poll may wake its own task (as another thread could during a trace
 * poll), complete, or stay pending; it records each poll's last_poll_ns/poll_count. */
typedef struct
{
  int polls;
  bool wake_by_ref, wake_by_val, ready;
  AsyncrtWaker saved;
  int *freed;
} Tr;

static AsyncrtPoll
tr_poll (void *p, AsyncrtContext *cx)
{
  Tr *f = p;
  f->polls++;
  if (f->ready)
    return ASYNCRT_READY;
  if (asyncrt_waker_is_empty (&f->saved))
    f->saved = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
  if (f->wake_by_ref)
    asyncrt_waker_wake_by_ref (asyncrt_context_get_waker (cx));
  if (f->wake_by_val)
    {
      AsyncrtWaker w = asyncrt_waker_clone (asyncrt_context_get_waker (cx));
      asyncrt_waker_wake (&w);
    }
  return ASYNCRT_PENDING;
}

static void
tr_free (void *p)
{
  Tr *f = p;
  (*f->freed)++;
  asyncrt_waker_free (&f->saved);
}

/* Spawned and polled once for real: idle, its waker saved. */
static AsyncrtTask *
spawn_idle (FakeHandle *h, Tr *f)
{
  AsyncrtSpawnInfo info = { __FILE__, __LINE__, G_STRFUNC, NULL };
  AsyncrtTask *t = asyncrt__task_from_join_handle (
    asyncrt__handle_spawn_task (&h->base, &info, tr_poll, f, tr_free));
  asyncrt__task_run (pop_scheduled (h));
  g_assert_cmpint (f->polls, ==, 1);
  g_assert_false (HAS (t, ASYNCRT_TASK_RUNNING | ASYNCRT_TASK_NOTIFIED));
  return t;
}

static void
finish (FakeHandle *h, AsyncrtTask *t)
{
  asyncrt__owned_close_and_shutdown_all (&h->base.owned);
  while (h->scheduled->len > 0)
    asyncrt__task_drop_notified (pop_scheduled (h));
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (t));
}

static void
test_trace_poll_idle (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;
  Tr f = { .freed = &freed };
  AsyncrtTask *t = spawn_idle (&h, &f);
  uint64_t polls = atomic_load (&t->poll_count);
  uint64_t last = atomic_load (&t->last_poll_ns);
  uint64_t refs = REFS (t);
  g_usleep (1000);
  g_assert_true (asyncrt__task_claim_for_trace (t));
  g_assert_true (asyncrt__task_trace_poll (t, false, NULL));
  /* Idle again: polled, but nothing counted, nothing queued, the same references. */
  g_assert_cmpint (f.polls, ==, 2);
  g_assert_cmpuint (atomic_load (&t->poll_count), ==, polls);
  g_assert_cmpuint (atomic_load (&t->last_poll_ns), ==, last);
  g_assert_cmpuint (h.scheduled->len, ==, 0);
  g_assert_cmpuint (REFS (t), ==, refs);
  g_assert_false (HAS (t, ASYNCRT_TASK_RUNNING | ASYNCRT_TASK_NOTIFIED));
  /* The registration made by the real poll still works. */
  asyncrt_waker_wake_by_ref (&f.saved);
  g_assert_cmpuint (h.scheduled->len, ==, 1);
  asyncrt__task_run (pop_scheduled (&h));
  g_assert_cmpuint (atomic_load (&t->poll_count), ==, polls + 1);
  finish (&h, t);
  g_assert_cmpint (freed, ==, 1);
  fake_clear (&h);
}

/* A real wake during the trace poll: the task is requeued exactly once, and that poll
 * counts; by reference and by value, from its own poll or (released untraced) from
 * outside while it was claimed. */
static void
test_trace_poll_woken (void)
{
  for (int mode = 0; mode < 4; mode++)
    {
      FakeHandle h;
      fake_init (&h);
      int freed = 0;
      Tr f = { .freed = &freed };
      AsyncrtTask *t = spawn_idle (&h, &f);
      uint64_t refs = REFS (t);
      g_assert_true (asyncrt__task_claim_for_trace (t));
      if (mode == 0)
        f.wake_by_ref = true;
      else if (mode == 1)
        f.wake_by_val = true;
      else
        {
          /* Another thread wakes it while it is claimed: no reference taken, nothing
           * queued until the claim ends. */
          if (mode == 2)
            asyncrt_waker_wake_by_ref (&f.saved);
          else
            {
              AsyncrtWaker w = asyncrt_waker_clone (&f.saved);
              asyncrt_waker_wake (&w);
            }
          g_assert_cmpuint (h.scheduled->len, ==, 0);
          g_assert_true (HAS (t, ASYNCRT_TASK_NOTIFIED | ASYNCRT_TASK_RUNNING));
        }
      if (mode < 2)
        g_assert_true (asyncrt__task_trace_poll (t, false, NULL));
      else
        asyncrt__task_trace_release (t, false);
      f.wake_by_ref = f.wake_by_val = false;
      g_assert_cmpuint (h.scheduled->len, ==, 1);
      g_assert_cmpuint (atomic_load (&t->poll_count), ==, 1);
      g_assert_true (HAS (t, ASYNCRT_TASK_NOTIFIED));
      g_assert_false (HAS (t, ASYNCRT_TASK_RUNNING));
      g_assert_cmpuint (REFS (t), ==, refs + 1);     /* the notified reference */
      asyncrt__task_run (pop_scheduled (&h));
      g_assert_cmpuint (atomic_load (&t->poll_count), ==, 2);
      g_assert_cmpuint (REFS (t), ==, refs);
      finish (&h, t);
      g_assert_cmpint (freed, ==, 1);
      fake_clear (&h);
    }
}

/* A task popped from a run queue: traced, then queued again as it was. */
static void
test_trace_poll_queued (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;
  Tr f = { .freed = &freed };
  AsyncrtTask *t = spawn_idle (&h, &f);
  asyncrt_waker_wake_by_ref (&f.saved);
  AsyncrtTask *q = pop_scheduled (&h);            /* the dump drains the queue */
  g_assert_true (q == t);
  uint64_t refs = REFS (t);
  g_assert_true (asyncrt__task_trace_poll (t, true, NULL));
  g_assert_cmpint (f.polls, ==, 2);
  g_assert_cmpuint (atomic_load (&t->poll_count), ==, 1);
  g_assert_cmpuint (h.scheduled->len, ==, 1);     /* back in the queue, once */
  g_assert_true (HAS (t, ASYNCRT_TASK_NOTIFIED));
  g_assert_cmpuint (REFS (t), ==, refs);
  /* Even with a wake during its trace poll: still exactly once. */
  f.wake_by_ref = true;
  g_assert_true (asyncrt__task_trace_poll (pop_scheduled (&h), true, NULL));
  f.wake_by_ref = false;
  g_assert_cmpuint (h.scheduled->len, ==, 1);
  /* Out of time: handed back untouched. */
  asyncrt__task_trace_release (pop_scheduled (&h), true);
  g_assert_cmpuint (h.scheduled->len, ==, 1);
  g_assert_cmpint (f.polls, ==, 3);
  asyncrt__task_run (pop_scheduled (&h));
  g_assert_cmpuint (atomic_load (&t->poll_count), ==, 2);
  g_assert_cmpuint (REFS (t), ==, refs - 1);
  finish (&h, t);
  fake_clear (&h);
}

/* Aborted while claimed or queued; completing in its trace poll. */
static void
test_trace_poll_cancel_complete (void)
{
  FakeHandle h;
  fake_init (&h);
  int freed = 0;
  Tr a = { .freed = &freed }, b = { .freed = &freed }, c = { .freed = &freed };
  AsyncrtTask *ta = spawn_idle (&h, &a);
  AsyncrtTask *tb = spawn_idle (&h, &b);
  AsyncrtTask *tc = spawn_idle (&h, &c);

  /* claimed, then aborted: the claim's end cancels it */
  g_assert_true (asyncrt__task_claim_for_trace (ta));
  asyncrt_join_handle_abort (asyncrt__task_to_join_handle (ta));
  g_assert_cmpuint (h.scheduled->len, ==, 0);
  bool completed = false;
  g_assert_true (asyncrt__task_trace_poll (ta, false, &completed));
  g_assert_true (completed);
  g_assert_true (asyncrt_join_handle_is_cancelled (asyncrt__task_to_join_handle (ta)));
  g_assert_cmpint (freed, ==, 1);
  g_assert_cmpuint (h.scheduled->len, ==, 0);

  /* aborted while queued: not polled, handed back for its runner to cancel */
  asyncrt_join_handle_abort (asyncrt__task_to_join_handle (tb));
  completed = true;
  g_assert_false (asyncrt__task_trace_poll (pop_scheduled (&h), true, &completed));
  g_assert_false (completed);
  g_assert_cmpint (b.polls, ==, 1);
  g_assert_cmpuint (h.scheduled->len, ==, 1);
  asyncrt__task_run (pop_scheduled (&h));
  g_assert_true (asyncrt_join_handle_is_cancelled (asyncrt__task_to_join_handle (tb)));

  /* ready in its trace poll: completes normally, not counted as a poll */
  c.ready = true;
  g_assert_true (asyncrt__task_claim_for_trace (tc));
  completed = false;
  g_assert_true (asyncrt__task_trace_poll (tc, false, &completed));
  g_assert_true (completed);
  g_assert_true (asyncrt_join_handle_is_finished (asyncrt__task_to_join_handle (tc)));
  g_assert_false (asyncrt_join_handle_is_cancelled (asyncrt__task_to_join_handle (tc)));
  g_assert_cmpuint (atomic_load (&tc->poll_count), ==, 1);
  g_assert_cmpuint (asyncrt__owned_len (&h.base.owned), ==, 0);

  asyncrt_join_handle_free (asyncrt__task_to_join_handle (ta));
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (tb));
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (tc));
  g_assert_cmpint (freed, ==, 3);
  fake_clear (&h);
}

/* ---- spawn sites and the extra block ------------------------------------------------ */

static AsyncrtTask *
spawn_at (FakeHandle *h, Fut *f, const char *file, int line, const char *name)
{
  AsyncrtSpawnInfo info = { file, line, file != NULL ? "spawn_at" : NULL, name };
  AsyncrtJoinHandle *jh = asyncrt__handle_spawn_task (&h->base, &info, fut_poll, f, NULL);
  g_assert_nonnull (jh);
  return asyncrt__task_from_join_handle (jh);
}

/* Runs @t (it is READY at once) and frees its join handle. */
static void
run_ready_and_free (FakeHandle *h, AsyncrtTask *t)
{
  g_assert_true (pop_scheduled (h) == t);
  asyncrt__task_run (t);
  asyncrt_join_handle_free (asyncrt__task_to_join_handle (t));
}

static void
test_spawn_sites (void)
{
  FakeHandle h;
  fake_init (&h);
  Fut f = { .pending = 0 };
  static const char file[] = "a-file.c";

  /* One place, one site; what a dump reads is the caller's values. */
  AsyncrtTask *a = spawn_at (&h, &f, file, 7, NULL);
  AsyncrtTask *b = spawn_at (&h, &f, file, 7, NULL);
  g_assert_true (a->site == b->site);
  g_assert_true (asyncrt__task_spawn_file (a) == file);
  g_assert_cmpint (asyncrt__task_spawn_line (a), ==, 7);
  g_assert_cmpstr (asyncrt__task_spawn_func (a), ==, "spawn_at");
  g_assert_null (a->extra);
  g_assert_null (asyncrt__task_name (a));
  g_assert_cmpuint (asyncrt__task_group_id (a), ==, 0);
  g_assert_null (asyncrt__task_labels (a));
  /* Another line is another site; a name needs the extra block. */
  AsyncrtTask *c = spawn_at (&h, &f, file, 8, "named");
  g_assert_true (c->site != a->site);
  g_assert_cmpint (asyncrt__task_spawn_line (c), ==, 8);
  g_assert_nonnull (c->extra);
  g_assert_cmpstr (asyncrt__task_name (c), ==, "named");
  /* No site at all. */
  AsyncrtTask *d = spawn_at (&h, &f, NULL, 0, NULL);
  g_assert_null (d->site);
  g_assert_null (asyncrt__task_spawn_file (d));
  g_assert_cmpint (asyncrt__task_spawn_line (d), ==, 0);
  run_ready_and_free (&h, a);
  run_ready_and_free (&h, b);
  run_ready_and_free (&h, c);
  run_ready_and_free (&h, d);
  fake_clear (&h);
}

/* Past the table's bound (a caller inventing sites) a task keeps its own copy. */
static void
test_spawn_sites_bounded (void)
{
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      return;
    }
  static const char file[] = "many.c";
  int line = 1;
  while (asyncrt__spawn_site_intern (file, NULL, line) != NULL)
    {
      line++;
      g_assert_cmpint (line, <, 1 << 20);
    }
  g_assert_cmpint (line, >, 1000);
  /* Sites interned before stay. */
  g_assert_nonnull (asyncrt__spawn_site_intern (file, NULL, 1));

  FakeHandle h;
  fake_init (&h);
  Fut f = { .pending = 0 };
  AsyncrtTask *t = spawn_at (&h, &f, file, line, NULL);
  g_assert_nonnull (t->extra);
  g_assert_true (t->site == &t->extra->site);
  g_assert_true (asyncrt__task_spawn_file (t) == file);
  g_assert_cmpint (asyncrt__task_spawn_line (t), ==, line);
  g_assert_null (asyncrt__task_name (t));
  run_ready_and_free (&h, t);
  fake_clear (&h);
}

static void
test_task_size (void)
{
  /* The header fits a 144-byte malloc chunk on 64-bit targets (bench-runtime prints
   * bytes_per_idle_task): a new field there needs a reason and a look at this. */
  if (sizeof (void *) == 8)
    g_assert_cmpuint (sizeof (AsyncrtTask), <=, 136);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/task/state/initial", test_initial_state);
  g_test_add_func ("/task/spawn-sites", test_spawn_sites);
  g_test_add_func ("/task/spawn-sites-bounded", test_spawn_sites_bounded);
  g_test_add_func ("/task/size", test_task_size);
  g_test_add_func ("/task/state/wake-idle-running", test_wake_while_idle_and_running);
  g_test_add_func ("/task/state/wake-self-yields", test_wake_self_while_running_yields);
  g_test_add_func ("/task/state/abort", test_abort_idle_notified_running);
  g_test_add_func ("/task/state/raw-transitions", test_raw_transitions);
  g_test_add_func ("/task/state/shutdown-closed-spawn", test_shutdown_and_closed_spawn);
  g_test_add_func ("/task/state/join-waker", test_join_waker);
  g_test_add_func ("/task/owned/foreach-for-tracing", test_owned_foreach_for_tracing);
  g_test_add_func ("/task/trace-poll/idle", test_trace_poll_idle);
  g_test_add_func ("/task/trace-poll/woken", test_trace_poll_woken);
  g_test_add_func ("/task/trace-poll/queued", test_trace_poll_queued);
  g_test_add_func ("/task/trace-poll/cancel-complete", test_trace_poll_cancel_complete);
  return g_test_run ();
}
