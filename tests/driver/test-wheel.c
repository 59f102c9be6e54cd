/* Unit tests of the hierarchical timer wheel (internal). */
#include "driver/driver-impl-private.h"
#include "test-util.h"

#include <glib.h>
#include <stdlib.h>

static int
cmp_deadline (const void *a, const void *b)
{
  const AsyncrtSleep *x = *(AsyncrtSleep *const *) a, *y = *(AsyncrtSleep *const *) b;
  return x->deadline < y->deadline ? -1 : x->deadline > y->deadline;
}

/* Polls up to @now, checking order and no early fire; marks fired entries. */
static void
poll_to (AsyncrtWheel *w, uint64_t now, uint64_t *last, size_t *fired)
{
  AsyncrtSleep *e;
  while ((e = asyncrt__wheel_poll (w, now)) != NULL)
    {
      g_assert_cmpuint (e->deadline, <=, now);      /* never early */
      g_assert_cmpuint (e->deadline, >=, *last);    /* deadline order */
      g_assert_cmpuint (e->state, ==, 0);
      e->state = 1;
      *last = e->deadline;
      (*fired)++;
    }
}

static void
check_random (unsigned n, uint64_t spread, bool remove_some)
{
  AsyncrtWheel w;
  uint64_t start = 123456;
  asyncrt__wheel_init (&w, start);
  AsyncrtSleep *es = g_new0 (AsyncrtSleep, n);
  AsyncrtSleep **sorted = g_new (AsyncrtSleep *, n);
  GRand *r = g_rand_new_with_seed (n ^ (guint32) spread);
  for (unsigned i = 0; i < n; i++)
    {
      es[i].deadline = start + (uint64_t) (g_rand_double (r) * (double) spread);
      asyncrt__wheel_insert (&w, &es[i]);
      sorted[i] = &es[i];
    }
  g_assert_cmpuint (asyncrt__wheel_len (&w), ==, n);
  size_t removed = 0;
  if (remove_some)
    for (unsigned i = 0; i < n; i += 3)
      {
        asyncrt__wheel_remove (&w, &es[i]);
        es[i].state = 2;
        removed++;
      }
  qsort (sorted, n, sizeof *sorted, cmp_deadline);

  uint64_t now = start, last = 0;
  size_t fired = 0, k = 0;
  while (fired + removed < n)
    {
      /* Next expiration is a lower bound of every remaining deadline. */
      uint64_t next = asyncrt__wheel_next_expiration (&w);
      while (k < n && sorted[k]->state != 0)
        k++;
      g_assert_true (k < n);
      g_assert_cmpuint (next, <=, sorted[k]->deadline);
      /* Advance by a random step, sometimes straight to the next expiration. */
      switch (g_rand_int_range (r, 0, 3))
        {
        case 0: now = next > now ? next : now + 1; break;
        case 1: now += (uint64_t) g_rand_int_range (r, 0, 70); break;
        default: now += (uint64_t) (g_rand_double (r) * (double) spread / 50); break;
        }
      poll_to (&w, now, &last, &fired);
      /* Everything due has fired. */
      for (size_t j = k; j < n && sorted[j]->deadline <= now; j++)
        g_assert_cmpuint (sorted[j]->state, !=, 0);
    }
  g_assert_cmpuint (asyncrt__wheel_len (&w), ==, 0);
  g_assert_cmpuint (asyncrt__wheel_next_expiration (&w), ==, UINT64_MAX);
  g_assert_null (asyncrt__wheel_poll (&w, UINT64_MAX - 1));
  g_rand_free (r);
  g_free (sorted);
  g_free (es);
}

static void test_random_level0 (void) { check_random (2000, 64, false); }
static void test_random_level1 (void) { check_random (5000, 4096, false); }
static void test_random_deep (void) { check_random (20000, UINT64_C (1) << 32, false); }
static void test_random_remove (void) { check_random (20000, 1u << 24, true); }

static void
test_cascade_exact (void)
{
  /* One entry per level boundary; each fires exactly at its deadline. */
  AsyncrtWheel w;
  asyncrt__wheel_init (&w, 0);
  AsyncrtSleep es[6] = { { 0 } };
  uint64_t d[6] = { 63, 64, 4095 + 7, 262144 + 3, 16777216 + 1, (UINT64_C (1) << 30) + 5 };
  for (int i = 5; i >= 0; i--)
    {
      es[i].deadline = d[i];
      asyncrt__wheel_insert (&w, &es[i]);
      g_assert_cmpuint (es[i].slot / 64, ==, (unsigned) i);   /* one per level */
    }
  for (int i = 0; i < 6; i++)
    {
      g_assert_null (asyncrt__wheel_poll (&w, d[i] - 1));
      g_assert_cmpuint (asyncrt__wheel_next_expiration (&w), <=, d[i]);
      AsyncrtSleep *e = asyncrt__wheel_poll (&w, d[i]);
      g_assert_true (e == &es[i]);
      g_assert_null (asyncrt__wheel_poll (&w, d[i]));
    }
}

static void
test_far_and_past (void)
{
  AsyncrtWheel w;
  uint64_t start = 1000000;
  asyncrt__wheel_init (&w, start);
  AsyncrtSleep past = { 0 }, forever = { 0 }, far = { 0 };
  past.deadline = 5;                            /* already passed: fires at once */
  forever.deadline = UINT64_MAX;
  far.deadline = start + (UINT64_C (1) << 40);  /* beyond the wheel's span */
  asyncrt__wheel_insert (&w, &forever);
  asyncrt__wheel_insert (&w, &far);
  asyncrt__wheel_insert (&w, &past);
  g_assert_true (asyncrt__wheel_poll (&w, start) == &past);
  /* Walk to the far deadline by expirations: clamped entries never fire early. */
  uint64_t now = start;
  AsyncrtSleep *e = NULL;
  for (int i = 0; i < 1000 && e == NULL; i++)
    {
      now = asyncrt__wheel_next_expiration (&w);
      g_assert_cmpuint (now, <=, far.deadline);
      e = asyncrt__wheel_poll (&w, now);
    }
  g_assert_true (e == &far);
  g_assert_cmpuint (now, ==, far.deadline);
  g_assert_cmpuint (asyncrt__wheel_len (&w), ==, 1);
  g_assert_true (asyncrt__wheel_take_any (&w) == &forever);
  g_assert_null (asyncrt__wheel_take_any (&w));
}

static void
test_fifo_same_deadline (void)
{
  AsyncrtWheel w;
  asyncrt__wheel_init (&w, 0);
  AsyncrtSleep es[10] = { { 0 } };
  for (int i = 0; i < 10; i++)
    {
      es[i].deadline = 10;
      asyncrt__wheel_insert (&w, &es[i]);
    }
  asyncrt__wheel_remove (&w, &es[0]);
  asyncrt__wheel_remove (&w, &es[9]);
  asyncrt__wheel_remove (&w, &es[5]);
  for (int i = 1; i < 9; i++)
    if (i != 5)
      g_assert_true (asyncrt__wheel_poll (&w, 10) == &es[i]);
  g_assert_null (asyncrt__wheel_poll (&w, 10));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wheel/random/level0", test_random_level0);
  g_test_add_func ("/wheel/random/level1", test_random_level1);
  g_test_add_func ("/wheel/random/deep", test_random_deep);
  g_test_add_func ("/wheel/random/remove", test_random_remove);
  g_test_add_func ("/wheel/cascade-exact", test_cascade_exact);
  g_test_add_func ("/wheel/far-and-past", test_far_and_past);
  g_test_add_func ("/wheel/fifo-same-deadline", test_fifo_same_deadline);
  return g_test_run ();
}
