/* Tests of the waker and context API. */
#include <asyncrt/asyncrt.h>
#include <glib.h>

typedef struct
{
  int refs;
  int wakes;
} Counter;

static void *c_clone (void *d) { ((Counter *) d)->refs++; return d; }
static void c_wake (void *d) { Counter *c = d; c->wakes++; c->refs--; }
static void c_wake_by_ref (void *d) { ((Counter *) d)->wakes++; }
static void c_drop (void *d) { ((Counter *) d)->refs--; }
static const AsyncrtWakerVTable counter_vtable = { c_clone, c_wake, c_wake_by_ref, c_drop };

static void
test_waker_lifecycle (void)
{
  Counter c = { 1, 0 };
  AsyncrtWaker w;
  asyncrt_waker_init (&w, &counter_vtable, &c);
  g_assert_false (asyncrt_waker_is_empty (&w));

  AsyncrtWaker w2 = asyncrt_waker_clone (&w);
  g_assert_cmpint (c.refs, ==, 2);
  g_assert_true (asyncrt_waker_will_wake (&w, &w2));

  asyncrt_waker_wake_by_ref (&w2);
  g_assert_cmpint (c.wakes, ==, 1);
  g_assert_cmpint (c.refs, ==, 2);

  asyncrt_waker_wake (&w2);
  g_assert_cmpint (c.wakes, ==, 2);
  g_assert_cmpint (c.refs, ==, 1);
  g_assert_true (asyncrt_waker_is_empty (&w2));
  asyncrt_waker_wake (&w2);                /* empty: nothing happens */
  g_assert_cmpint (c.wakes, ==, 2);

  asyncrt_waker_free (&w);
  g_assert_cmpint (c.refs, ==, 0);
  g_assert_true (asyncrt_waker_is_empty (&w));
  asyncrt_waker_free (&w);                 /* empty: nothing happens */
  g_assert_cmpint (c.refs, ==, 0);
}

static void
test_waker_null_and_empty (void)
{
  AsyncrtWaker empty = ASYNCRT_WAKER_INIT;
  g_assert_true (asyncrt_waker_is_empty (NULL));
  g_assert_true (asyncrt_waker_is_empty (&empty));
  AsyncrtWaker c = asyncrt_waker_clone (NULL);
  g_assert_true (asyncrt_waker_is_empty (&c));
  c = asyncrt_waker_clone (&empty);
  g_assert_true (asyncrt_waker_is_empty (&c));
  asyncrt_waker_wake (NULL);
  asyncrt_waker_wake_by_ref (NULL);
  asyncrt_waker_free (NULL);
  asyncrt_waker_init (NULL, &counter_vtable, NULL);
  g_assert_false (asyncrt_waker_will_wake (NULL, &empty));
  g_assert_false (asyncrt_waker_will_wake (&empty, NULL));

  Counter k = { 1, 0 };
  AsyncrtWaker w;
  asyncrt_waker_init (&w, NULL, &k);       /* NULL vtable: the empty waker */
  g_assert_true (asyncrt_waker_is_empty (&w));
  g_assert_null (w.data);
}

static void
test_context (void)
{
  Counter c = { 1, 0 };
  AsyncrtWaker w;
  asyncrt_waker_init (&w, &counter_vtable, &c);
  AsyncrtContext *cx = asyncrt_context_new (&w);
  g_assert_cmpint (c.refs, ==, 2);
  const AsyncrtWaker *cw = asyncrt_context_get_waker (cx);
  g_assert_true (asyncrt_waker_will_wake (cw, &w));
  asyncrt_waker_wake_by_ref (cw);
  g_assert_cmpint (c.wakes, ==, 1);
  asyncrt_context_free (cx);
  g_assert_cmpint (c.refs, ==, 1);
  asyncrt_waker_free (&w);

  g_assert_null (asyncrt_context_get_waker (NULL));
  asyncrt_context_free (NULL);
  cx = asyncrt_context_new (NULL);
  g_assert_true (asyncrt_waker_is_empty (asyncrt_context_get_waker (cx)));
  asyncrt_context_free (cx);
}

static void
test_noop (void)
{
  const AsyncrtWaker *n = asyncrt_waker_noop ();
  g_assert_false (asyncrt_waker_is_empty (n));
  AsyncrtWaker c = asyncrt_waker_clone (n);
  asyncrt_waker_wake_by_ref (&c);
  asyncrt_waker_wake (&c);
  g_assert_true (asyncrt_waker_is_empty (&c));
  g_assert_true (asyncrt_waker_will_wake (n, asyncrt_waker_noop ()));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/future/waker/lifecycle", test_waker_lifecycle);
  g_test_add_func ("/future/waker/null-and-empty", test_waker_null_and_empty);
  g_test_add_func ("/future/context", test_context);
  g_test_add_func ("/future/waker/noop", test_noop);
  return g_test_run ();
}
