/* Tests of the coroutine macros (C; the same file is compiled as C++ by
 * test-coroutine-cxx.cc). */
#include <asyncrt/asyncrt.h>
#include <glib.h>
#include <string.h>

typedef struct
{
  AsyncrtCoroutine co;
  int i;
  int steps;
  int sub_calls;
  bool early;
} Co;

/* A sub-future that is ready every other poll. */
static AsyncrtPoll
half_ready (Co *self)
{
  self->sub_calls++;
  return (self->sub_calls % 2) == 0 ? ASYNCRT_READY : ASYNCRT_PENDING;
}

static AsyncrtPoll
co_poll (void *p, AsyncrtContext *cx)
{
  Co *self = (Co *) p;
  (void) cx;
  ASYNCRT_BEGIN (&self->co);
  self->steps++;
  for (self->i = 0; self->i < 3; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, half_ready (self));
      self->steps++;
    }
  ASYNCRT_YIELD_PENDING (&self->co);
  if (self->early)
    ASYNCRT_RETURN (&self->co);
  self->steps++;
  switch (self->i)          /* a switch of one's own, not spanning an await */
    {
    case 3:
      self->steps += 10;
      break;
    default:
      break;
    }
  ASYNCRT_END (&self->co);
}

static int
run_to_end (Co *c, int max_polls)
{
  AsyncrtContext *cx = asyncrt_context_new (asyncrt_waker_noop ());
  int polls = 0;
  while (polls < max_polls)
    {
      polls++;
      if (co_poll (c, cx) == ASYNCRT_READY)
        break;
    }
  asyncrt_context_free (cx);
  return polls;
}

static void
test_coroutine_steps (void)
{
  Co c;
  memset (&c, 0, sizeof c);          /* zeroed state starts at the beginning */
  g_assert_false (asyncrt_coroutine_is_done (&c.co));
  int polls = run_to_end (&c, 100);
  /* 3 awaits pending once each (3) + the explicit yield (1) + the final poll (1) */
  g_assert_cmpint (polls, ==, 5);
  g_assert_cmpint (c.steps, ==, 1 + 3 + 1 + 10);
  g_assert_cmpint (c.sub_calls, ==, 6);
  g_assert_true (asyncrt_coroutine_is_done (&c.co));
  /* finished stays finished */
  AsyncrtContext *cx = asyncrt_context_new (NULL);
  g_assert_cmpint (co_poll (&c, cx), ==, ASYNCRT_READY);
  g_assert_cmpint (c.steps, ==, 15);
  asyncrt_context_free (cx);
  /* reset starts over */
  asyncrt_coroutine_reset (&c.co);
  c.steps = 0;
  c.sub_calls = 0;
  g_assert_cmpint (run_to_end (&c, 100), ==, 5);
  g_assert_cmpint (c.steps, ==, 15);
}

static void
test_coroutine_early_return (void)
{
  Co c;
  memset (&c, 0, sizeof c);
  c.early = true;
  g_assert_cmpint (run_to_end (&c, 100), ==, 5);
  g_assert_cmpint (c.steps, ==, 4);
  g_assert_true (asyncrt_coroutine_is_done (&c.co));
}

/* ASYNCRT_FORWARD: the inner poll's result, unchanged, in C and in C++ (whether it
 * keeps the frame is checked at -O2 in tests/trace). */
static AsyncrtPoll
forward_poll (void *p, AsyncrtContext *cx)
{
  Co *self = (Co *) p;
  ASYNCRT_FORWARD (co_poll (self, cx));
}

static void
test_forward (void)
{
  Co c;
  memset (&c, 0, sizeof c);
  AsyncrtContext *cx = asyncrt_context_new (asyncrt_waker_noop ());
  int polls = 0;
  while (forward_poll (&c, cx) != ASYNCRT_READY)
    polls++;
  g_assert_cmpint (polls, ==, 4);
  g_assert_cmpint (c.steps, ==, 15);
  asyncrt_context_free (cx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/coroutine/steps", test_coroutine_steps);
  g_test_add_func ("/coroutine/early-return", test_coroutine_early_return);
  g_test_add_func ("/coroutine/forward", test_forward);
  return g_test_run ();
}
