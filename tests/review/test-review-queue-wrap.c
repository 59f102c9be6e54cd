/* Review test of the local run queue across the 2^32 wrap of its free-running
 * positions: push, overflow, pop and steal with head and tail straddling
 * UINT32_MAX must behave exactly as at position 0 (every node once, FIFO order). */
#include "util/common-private.h"

#include "queue/queue-private.h"

#include <glib.h>

#include "test-util.h"

typedef struct
{
  AsyncrtQueueNode link;
  unsigned id;
} Item;

#define N_ITEMS 2000

static Item items[N_ITEMS];
static unsigned seen[N_ITEMS];

static unsigned
id_of (AsyncrtQueueNode *n)
{
  return ASYNCRT_CONTAINER_OF (n, Item, link)->id;
}

/* An empty queue whose positions start at @pos. */
static void
queue_at (AsyncrtLocalQueue *q, uint32_t pos)
{
  asyncrt__local_queue_init (q);
  atomic_store (&q->head, ((uint64_t) pos << 32) | pos);
  atomic_store (&q->tail, pos);
}

static void
test_wrap (gconstpointer data)
{
  uint32_t start = GPOINTER_TO_UINT (data);
  AsyncrtLocalQueue a, b;
  AsyncrtInject inj;
  asyncrt__inject_init (&inj);
  memset (seen, 0, sizeof seen);

  for (unsigned delta = 0; delta < 600; delta += 37)
    {
      memset (seen, 0, sizeof seen);
      queue_at (&a, start - delta);
      queue_at (&b, start - 2 * delta);
      unsigned next = 0, consumed = 0, expect_fifo = 0;
      bool fifo = true;

      /* Fill past capacity: one overflow of 128 + 1 into the injection queue. */
      for (; next < ASYNCRT_LOCAL_QUEUE_CAPACITY + 1; next++)
        {
          items[next].id = next;
          g_assert_null (asyncrt__local_queue_push_back_or_overflow (&a, &items[next].link, &inj));
        }
      g_assert_cmpuint (asyncrt__inject_len (&inj), ==, ASYNCRT_LOCAL_QUEUE_CAPACITY / 2 + 1);
      g_assert_cmpuint (asyncrt__local_queue_len (&a), ==, ASYNCRT_LOCAL_QUEUE_CAPACITY / 2);

      /* Steal half into b across the wrap, then interleave pushes, pops and steals. */
      AsyncrtQueueNode *n = asyncrt__local_queue_steal_into (&a, &b);
      g_assert_nonnull (n);
      seen[id_of (n)]++, consumed++;
      for (unsigned round = 0; round < 6; round++)
        {
          for (unsigned k = 0; k < 100 && next < N_ITEMS; k++, next++)
            {
              items[next].id = next;
              g_assert_null (asyncrt__local_queue_push_back_or_overflow (&a, &items[next].link, &inj));
            }
          for (unsigned k = 0; k < 40; k++)
            {
              AsyncrtQueueNode *p = asyncrt__local_queue_pop (&a);
              if (p == NULL)
                break;
              seen[id_of (p)]++, consumed++;
            }
          /* Drain b (its owner is us) and steal again into it. */
          while ((n = asyncrt__local_queue_pop (&b)) != NULL)
            seen[id_of (n)]++, consumed++;
          if ((n = asyncrt__local_queue_steal_into (&a, &b)) != NULL)
            seen[id_of (n)]++, consumed++;
        }
      while ((n = asyncrt__local_queue_pop (&a)) != NULL)
        seen[id_of (n)]++, consumed++;
      while ((n = asyncrt__local_queue_pop (&b)) != NULL)
        seen[id_of (n)]++, consumed++;
      while ((n = asyncrt__inject_pop (&inj)) != NULL)
        {
          unsigned id = id_of (n);
          /* The injection queue receives overflow batches oldest first. */
          if (id < expect_fifo)
            fifo = false;
          expect_fifo = id;
          seen[id]++, consumed++;
        }
      g_assert_true (fifo);
      g_assert_cmpuint (consumed, ==, next);
      for (unsigned i = 0; i < next; i++)
        if (seen[i] != 1)
          g_error ("start %u delta %u: item %u seen %u times", start, delta, i, seen[i]);
      g_assert_true (asyncrt__local_queue_is_empty (&a));
      g_assert_true (asyncrt__local_queue_is_empty (&b));
    }
  asyncrt__inject_clear (&inj);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/review/queue/wrap/0", GUINT_TO_POINTER (0u), test_wrap);
  g_test_add_data_func ("/review/queue/wrap/max", GUINT_TO_POINTER (UINT32_MAX), test_wrap);
  g_test_add_data_func ("/review/queue/wrap/max-100", GUINT_TO_POINTER (UINT32_MAX - 100u), test_wrap);
  return g_test_run ();
}
