/* Unit tests of the run queues (lib/queue): the local ring and the injection queue. */
#include "util/common-private.h"

#include "queue/queue-private.h"

#include <glib.h>

#include "test-util.h"

#define CAP ASYNCRT_LOCAL_QUEUE_CAPACITY

typedef struct
{
  AsyncrtQueueNode link;
  unsigned id;
} Item;

static unsigned
item_id (AsyncrtQueueNode *n)
{
  g_assert_nonnull (n);
  return ASYNCRT_CONTAINER_OF (n, Item, link)->id;
}

static Item *
items_new (unsigned count)
{
  Item *items = g_new0 (Item, count);
  for (unsigned i = 0; i < count; i++)
    items[i].id = i;
  return items;
}

/* Pushes items [from, to) and asserts nothing overflowed. */
static void
push_range (AsyncrtLocalQueue *q, AsyncrtInject *inj, Item *items, unsigned from,
            unsigned to)
{
  for (unsigned i = from; i < to; i++)
    g_assert_null (asyncrt__local_queue_push_back_or_overflow (q, &items[i].link, inj));
}

static void
test_local_push_pop_order (void)
{
  AsyncrtLocalQueue q;
  AsyncrtInject inj;
  Item *items = items_new (3 * CAP);
  asyncrt__local_queue_init (&q);
  asyncrt__inject_init (&inj);

  g_assert_true (asyncrt__local_queue_is_empty (&q));
  g_assert_cmpuint (asyncrt__local_queue_len (&q), ==, 0);
  g_assert_null (asyncrt__local_queue_pop (&q));

  push_range (&q, &inj, items, 0, 10);
  g_assert_false (asyncrt__local_queue_is_empty (&q));
  g_assert_cmpuint (asyncrt__local_queue_len (&q), ==, 10);
  for (unsigned i = 0; i < 10; i++)
    g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&q)), ==, i);
  g_assert_null (asyncrt__local_queue_pop (&q));
  g_assert_true (asyncrt__local_queue_is_empty (&q));

  /* Many laps around the ring, interleaved: FIFO throughout, nothing overflows. */
  unsigned next_push = 0, next_pop = 0;
  for (unsigned round = 0; round < 3 * CAP - 2; round++)
    {
      asyncrt__local_queue_push_back_or_overflow (&q, &items[next_push].link, &inj);
      next_push = (next_push + 1) % (3 * CAP);
      if (round % 3 != 0)
        {
          g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&q)), ==, next_pop);
          next_pop = (next_pop + 1) % (3 * CAP);
        }
    }
  g_assert_cmpuint (asyncrt__local_queue_len (&q), ==, CAP);
  while (asyncrt__local_queue_pop (&q) != NULL)
    ;
  g_assert_true (asyncrt__inject_is_empty (&inj));

  asyncrt__inject_clear (&inj);
  g_free (items);
}

static void
test_local_overflow (void)
{
  AsyncrtLocalQueue q;
  AsyncrtInject inj;
  Item *items = items_new (2 * CAP);
  asyncrt__local_queue_init (&q);
  asyncrt__inject_init (&inj);

  /* Start off position 0 so the overflow crosses the ring's wrap point. */
  push_range (&q, &inj, items, 0, 7);
  for (unsigned i = 0; i < 7; i++)
    g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&q)), ==, i);

  push_range (&q, &inj, items, 7, 7 + CAP);
  g_assert_cmpuint (asyncrt__local_queue_len (&q), ==, CAP);
  g_assert_true (asyncrt__inject_is_empty (&inj));

  /* Full: the next push moves the oldest half plus the new node, in order. */
  unsigned extra = 7 + CAP;
  g_assert_null (asyncrt__local_queue_push_back_or_overflow (&q, &items[extra].link, &inj));
  g_assert_cmpuint (asyncrt__inject_len (&inj), ==, CAP / 2 + 1);
  g_assert_cmpuint (asyncrt__local_queue_len (&q), ==, CAP / 2);
  for (unsigned i = 0; i < CAP / 2; i++)
    g_assert_cmpuint (item_id (asyncrt__inject_pop (&inj)), ==, 7 + i);
  g_assert_cmpuint (item_id (asyncrt__inject_pop (&inj)), ==, extra);
  g_assert_null (asyncrt__inject_pop (&inj));
  g_assert_true (asyncrt__inject_is_empty (&inj));

  /* The newer half stayed, still in order, and there is room again. */
  push_range (&q, &inj, items, extra + 1, extra + 1 + CAP / 2);
  g_assert_cmpuint (asyncrt__local_queue_len (&q), ==, CAP);
  for (unsigned i = 0; i < CAP / 2; i++)
    g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&q)), ==, 7 + CAP / 2 + i);
  for (unsigned i = 0; i < CAP / 2; i++)
    g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&q)), ==, extra + 1 + i);
  g_assert_null (asyncrt__local_queue_pop (&q));

  asyncrt__inject_clear (&inj);
  g_free (items);
}

static void
test_local_overflow_closed (void)
{
  AsyncrtLocalQueue q;
  AsyncrtInject inj;
  Item *items = items_new (CAP + 1);
  asyncrt__local_queue_init (&q);
  asyncrt__inject_init (&inj);
  g_assert_true (asyncrt__inject_close (&inj));

  push_range (&q, &inj, items, 0, CAP);
  /* The injection queue refuses the batch: it comes back as a chain, in order. */
  AsyncrtQueueNode *chain = asyncrt__local_queue_push_back_or_overflow (&q, &items[CAP].link, &inj);
  unsigned count = 0;
  for (AsyncrtQueueNode *n = chain; n != NULL; n = n->next, count++)
    g_assert_cmpuint (item_id (n), ==, count < CAP / 2 ? count : CAP);
  g_assert_cmpuint (count, ==, CAP / 2 + 1);
  g_assert_cmpuint (asyncrt__local_queue_len (&q), ==, CAP / 2);
  g_assert_true (asyncrt__inject_is_empty (&inj));

  asyncrt__inject_clear (&inj);
  g_free (items);
}

static void
test_local_steal_half (void)
{
  AsyncrtLocalQueue src, dst;
  AsyncrtInject inj;
  Item *items = items_new (2 * CAP);
  asyncrt__local_queue_init (&src);
  asyncrt__local_queue_init (&dst);
  asyncrt__inject_init (&inj);

  push_range (&src, &inj, items, 0, 10);
  /* Half of 10: 5 taken, the last of them returned, 4 published in dst. */
  g_assert_cmpuint (item_id (asyncrt__local_queue_steal_into (&src, &dst)), ==, 4);
  g_assert_cmpuint (asyncrt__local_queue_len (&src), ==, 5);
  g_assert_cmpuint (asyncrt__local_queue_len (&dst), ==, 4);
  for (unsigned i = 0; i < 4; i++)
    g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&dst)), ==, i);
  g_assert_null (asyncrt__local_queue_pop (&dst));

  /* Odd counts round up: of 5, 3 are taken. */
  g_assert_cmpuint (item_id (asyncrt__local_queue_steal_into (&src, &dst)), ==, 7);
  g_assert_cmpuint (asyncrt__local_queue_len (&src), ==, 2);
  g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&dst)), ==, 5);
  g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&dst)), ==, 6);
  g_assert_null (asyncrt__local_queue_pop (&dst));

  /* A single node is stolen and returned; nothing lands in dst. */
  g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&src)), ==, 8);
  g_assert_cmpuint (item_id (asyncrt__local_queue_steal_into (&src, &dst)), ==, 9);
  g_assert_true (asyncrt__local_queue_is_empty (&dst));
  g_assert_true (asyncrt__local_queue_is_empty (&src));

  /* A full queue gives exactly half. */
  push_range (&src, &inj, items, 0, CAP);
  g_assert_cmpuint (item_id (asyncrt__local_queue_steal_into (&src, &dst)), ==, CAP / 2 - 1);
  g_assert_cmpuint (asyncrt__local_queue_len (&src), ==, CAP / 2);
  g_assert_cmpuint (asyncrt__local_queue_len (&dst), ==, CAP / 2 - 1);
  /* The owner can push again after the steal freed room, without overflowing. */
  push_range (&src, &inj, items, CAP, CAP + CAP / 2);
  g_assert_cmpuint (asyncrt__local_queue_len (&src), ==, CAP);
  g_assert_true (asyncrt__inject_is_empty (&inj));

  /* dst more than half full: it refuses to take more. */
  Item extra[2] = { { .id = 1000 }, { .id = 1001 } };
  push_range (&dst, &inj, extra, 0, 2);
  g_assert_null (asyncrt__local_queue_steal_into (&src, &dst));
  g_assert_cmpuint (asyncrt__local_queue_len (&src), ==, CAP);

  asyncrt__inject_clear (&inj);
  g_free (items);
}

static void
test_local_steal_empty (void)
{
  AsyncrtLocalQueue src, dst;
  AsyncrtInject inj;
  Item it = { .id = 1 };
  asyncrt__local_queue_init (&src);
  asyncrt__local_queue_init (&dst);
  asyncrt__inject_init (&inj);

  g_assert_null (asyncrt__local_queue_steal_into (&src, &dst));
  g_assert_true (asyncrt__local_queue_is_empty (&dst));

  /* Emptied by the owner: still nothing to steal. */
  push_range (&src, &inj, &it, 0, 1);
  g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&src)), ==, 1);
  g_assert_null (asyncrt__local_queue_steal_into (&src, &dst));
  g_assert_true (asyncrt__local_queue_is_empty (&dst));

  asyncrt__inject_clear (&inj);
}

/* White box: simulates a stealer that has claimed positions [0, 128) and not yet
 * finished (head = (steal 0, real 128)), to check what the owner may do meanwhile. */
static void
test_local_steal_in_progress (void)
{
  AsyncrtLocalQueue q;
  AsyncrtInject inj;
  Item *items = items_new (CAP + 4);
  asyncrt__local_queue_init (&q);
  asyncrt__inject_init (&inj);

  push_range (&q, &inj, items, 0, CAP);
  atomic_store (&q.head, ((uint64_t) 0 << 32) | (CAP / 2));
  g_assert_cmpuint (asyncrt__local_queue_len (&q), ==, CAP / 2);

  /* The owner pops past the claimed range; steal stays where the stealer put it. */
  g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&q)), ==, CAP / 2);
  g_assert_cmpuint (atomic_load (&q.head), ==, ((uint64_t) 0 << 32) | (CAP / 2 + 1));

  /* The claimed slots are not free yet: the ring counts as full from `steal`, so a
   * push sends only the new node to the injection queue, not half the ring. */
  g_assert_null (asyncrt__local_queue_push_back_or_overflow (&q, &items[CAP].link, &inj));
  g_assert_cmpuint (asyncrt__inject_len (&inj), ==, 1);
  g_assert_cmpuint (item_id (asyncrt__inject_pop (&inj)), ==, CAP);
  g_assert_cmpuint (asyncrt__local_queue_len (&q), ==, CAP / 2 - 1);

  /* Another stealer backs off while this one is at work. */
  AsyncrtLocalQueue dst;
  asyncrt__local_queue_init (&dst);
  g_assert_null (asyncrt__local_queue_steal_into (&q, &dst));

  /* The stealer finishes: steal catches up with real, the space is usable again. */
  atomic_store (&q.head, ((uint64_t) (CAP / 2 + 1) << 32) | (CAP / 2 + 1));
  push_range (&q, &inj, items, CAP + 1, CAP + 4);
  g_assert_true (asyncrt__inject_is_empty (&inj));
  g_assert_cmpuint (asyncrt__local_queue_len (&q), ==, CAP / 2 + 2);
  for (unsigned i = CAP / 2 + 1; i < CAP; i++)
    g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&q)), ==, i);
  for (unsigned i = CAP + 1; i < CAP + 4; i++)
    g_assert_cmpuint (item_id (asyncrt__local_queue_pop (&q)), ==, i);
  g_assert_null (asyncrt__local_queue_pop (&q));

  asyncrt__inject_clear (&inj);
  g_free (items);
}

static void
test_inject_basic (void)
{
  AsyncrtInject inj;
  Item *items = items_new (16);
  asyncrt__inject_init (&inj);

  g_assert_true (asyncrt__inject_is_empty (&inj));
  g_assert_cmpuint (asyncrt__inject_len (&inj), ==, 0);
  g_assert_null (asyncrt__inject_pop (&inj));
  g_assert_false (asyncrt__inject_is_closed (&inj));

  for (unsigned i = 0; i < 3; i++)
    g_assert_true (asyncrt__inject_push (&inj, &items[i].link));
  g_assert_false (asyncrt__inject_is_empty (&inj));
  g_assert_cmpuint (asyncrt__inject_len (&inj), ==, 3);
  g_assert_cmpuint (item_id (asyncrt__inject_pop (&inj)), ==, 0);
  g_assert_cmpuint (asyncrt__inject_len (&inj), ==, 2);

  /* A batch goes in behind what is there, in chain order. */
  for (unsigned i = 3; i < 8; i++)
    items[i].link.next = &items[i + 1].link;
  items[8].link.next = &items[15].link;     /* garbage past the end must be cut off */
  g_assert_true (asyncrt__inject_push_batch (&inj, &items[3].link, &items[8].link, 6));
  g_assert_null (items[8].link.next);
  g_assert_cmpuint (asyncrt__inject_len (&inj), ==, 8);
  g_assert_true (asyncrt__inject_push_batch (&inj, NULL, NULL, 0));
  g_assert_cmpuint (asyncrt__inject_len (&inj), ==, 8);

  for (unsigned i = 1; i < 9; i++)
    {
      AsyncrtQueueNode *n = asyncrt__inject_pop (&inj);
      g_assert_cmpuint (item_id (n), ==, i);
      g_assert_null (n->next);
    }
  g_assert_null (asyncrt__inject_pop (&inj));
  g_assert_true (asyncrt__inject_is_empty (&inj));

  /* Refills after draining (tail was reset). */
  g_assert_true (asyncrt__inject_push (&inj, &items[9].link));
  g_assert_true (asyncrt__inject_push (&inj, &items[10].link));
  g_assert_cmpuint (item_id (asyncrt__inject_pop (&inj)), ==, 9);
  g_assert_cmpuint (item_id (asyncrt__inject_pop (&inj)), ==, 10);
  g_assert_null (asyncrt__inject_pop (&inj));

  asyncrt__inject_clear (&inj);
  asyncrt__inject_clear (NULL);
  g_free (items);
}

static void
test_inject_pop_batch (void)
{
  AsyncrtInject inj;
  Item *items = items_new (10);
  AsyncrtQueueNode *chain = &items[0].link;      /* must be overwritten */
  asyncrt__inject_init (&inj);

  g_assert_cmpuint (asyncrt__inject_pop_batch (&inj, 4, &chain), ==, 0);
  g_assert_null (chain);

  for (unsigned i = 0; i < 10; i++)
    g_assert_true (asyncrt__inject_push (&inj, &items[i].link));
  chain = &items[0].link;
  g_assert_cmpuint (asyncrt__inject_pop_batch (&inj, 0, &chain), ==, 0);
  g_assert_null (chain);

  /* Up to max, oldest first, NULL-terminated. */
  g_assert_cmpuint (asyncrt__inject_pop_batch (&inj, 4, &chain), ==, 4);
  unsigned id = 0;
  for (AsyncrtQueueNode *n = chain; n != NULL; n = n->next)
    g_assert_cmpuint (item_id (n), ==, id++);
  g_assert_cmpuint (id, ==, 4);
  g_assert_cmpuint (asyncrt__inject_len (&inj), ==, 6);

  /* More than there is: all of it, and the queue is usable afterwards. */
  g_assert_cmpuint (asyncrt__inject_pop_batch (&inj, 100, &chain), ==, 6);
  for (AsyncrtQueueNode *n = chain; n != NULL; n = n->next)
    g_assert_cmpuint (item_id (n), ==, id++);
  g_assert_cmpuint (id, ==, 10);
  g_assert_true (asyncrt__inject_is_empty (&inj));
  g_assert_null (asyncrt__inject_pop (&inj));
  g_assert_true (asyncrt__inject_push (&inj, &items[3].link));
  g_assert_cmpuint (item_id (asyncrt__inject_pop (&inj)), ==, 3);

  asyncrt__inject_clear (&inj);
  g_free (items);
}

static void
test_inject_close (void)
{
  AsyncrtInject inj;
  Item *items = items_new (4);
  asyncrt__inject_init (&inj);

  g_assert_true (asyncrt__inject_push (&inj, &items[0].link));
  g_assert_true (asyncrt__inject_close (&inj));
  g_assert_false (asyncrt__inject_close (&inj));      /* only the first call closes */
  g_assert_true (asyncrt__inject_is_closed (&inj));

  /* Pushes are refused and the nodes stay the caller's; pops still drain. */
  g_assert_false (asyncrt__inject_push (&inj, &items[1].link));
  items[2].link.next = &items[3].link;
  g_assert_false (asyncrt__inject_push_batch (&inj, &items[2].link, &items[3].link, 2));
  g_assert_false (asyncrt__inject_push_batch (&inj, NULL, NULL, 0));
  g_assert_cmpuint (asyncrt__inject_len (&inj), ==, 1);
  g_assert_cmpuint (item_id (asyncrt__inject_pop (&inj)), ==, 0);
  g_assert_null (asyncrt__inject_pop (&inj));
  g_assert_true (asyncrt__inject_is_empty (&inj));

  asyncrt__inject_clear (&inj);
  g_free (items);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/queue/local/push-pop-order", test_local_push_pop_order);
  g_test_add_func ("/queue/local/overflow", test_local_overflow);
  g_test_add_func ("/queue/local/overflow-closed", test_local_overflow_closed);
  g_test_add_func ("/queue/local/steal-half", test_local_steal_half);
  g_test_add_func ("/queue/local/steal-empty", test_local_steal_empty);
  g_test_add_func ("/queue/local/steal-in-progress", test_local_steal_in_progress);
  g_test_add_func ("/queue/inject/basic", test_inject_basic);
  g_test_add_func ("/queue/inject/pop-batch", test_inject_pop_batch);
  g_test_add_func ("/queue/inject/close", test_inject_close);
  return g_test_run ();
}
