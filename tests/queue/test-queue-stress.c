/* Stress test of the run queues: one owner pushing, popping and overflowing into an
 * injection queue, two stealer threads that also steal from each other; every item
 * must be consumed exactly once. */
#include "util/common-private.h"

#include "queue/queue-private.h"

#include <glib.h>
#include <sched.h>

#include "test-util.h"

typedef struct
{
  AsyncrtQueueNode link;
  size_t id;
  /* Plain (non-atomic) data written by the owner just before the push and read by
   * whoever consumes the item: the queues must order it (TSan checks). */
  size_t payload;
} Item;

static inline size_t
payload_of (size_t id)
{
  return id * 2654435761u + 1;
}

#define N_STEALERS 2

typedef struct
{
  size_t n_items;
  Item *items;
  atomic_uint *seen;               /* per item: how many times it was consumed */
  atomic_size_t n_seen;            /* total consumptions */
  atomic_bool stop;                /* set on timeout */
  uint64_t deadline_ns;

  AsyncrtLocalQueue owner_q;
  AsyncrtInject inject;
  AsyncrtLocalQueue stealer_q[N_STEALERS];

  /* Statistics, for the log only (their values depend on scheduling). */
  atomic_size_t n_full_pushes;
  atomic_size_t n_steals;
  atomic_size_t n_peer_steals;
  atomic_size_t n_inject_pops;
} Stress;

typedef struct
{
  Stress *s;
  unsigned index;
} StealerArg;

static void
consume (Stress *s, AsyncrtQueueNode *n)
{
  Item *it = ASYNCRT_CONTAINER_OF (n, Item, link);
  /* Not g_assert: the counters must be checked even if this is corrupted. */
  if (it < s->items || it >= s->items + s->n_items)
    g_error ("node %p is not an item", (void *) n);
  if (it->payload != payload_of (it->id))
    g_error ("item %zu: payload not visible to its consumer", it->id);
  atomic_fetch_add_explicit (&s->seen[it->id], 1, memory_order_relaxed);
  atomic_fetch_add_explicit (&s->n_seen, 1, memory_order_relaxed);
}

static bool
finished (Stress *s)
{
  if (atomic_load_explicit (&s->n_seen, memory_order_relaxed) >= s->n_items)
    return true;
  if (atomic_load_explicit (&s->stop, memory_order_relaxed))
    return true;
  if (asyncrt__clock_now_ns () > s->deadline_ns)
    {
      atomic_store_explicit (&s->stop, true, memory_order_relaxed);
      return true;
    }
  return false;
}

static gpointer
stealer_main (gpointer data)
{
  StealerArg *arg = data;
  Stress *s = arg->s;
  AsyncrtLocalQueue *mine = &s->stealer_q[arg->index];
  AsyncrtLocalQueue *peer = &s->stealer_q[(arg->index + 1) % N_STEALERS];
  unsigned idle = 0;

  while (!finished (s))
    {
      /* A worker's order: own queue, steal (owner first, then the peer, which is
       * itself being stolen from meanwhile), then the injection queue. */
      AsyncrtQueueNode *n = asyncrt__local_queue_pop (mine);
      if (n == NULL)
        {
          if ((n = asyncrt__local_queue_steal_into (&s->owner_q, mine)) != NULL)
            atomic_fetch_add_explicit (&s->n_steals, 1, memory_order_relaxed);
          else if ((n = asyncrt__local_queue_steal_into (peer, mine)) != NULL)
            atomic_fetch_add_explicit (&s->n_peer_steals, 1, memory_order_relaxed);
          else if (asyncrt__inject_pop_batch (&s->inject, 32, &n) > 0)
            {
              /* Refill from the injection queue as a worker does: run the first,
               * queue the rest locally (where the peer may steal them). */
              atomic_fetch_add_explicit (&s->n_inject_pops, 1, memory_order_relaxed);
              AsyncrtQueueNode *rest = n->next;
              while (rest != NULL)
                {
                  AsyncrtQueueNode *next = rest->next;
                  g_assert_null (asyncrt__local_queue_push_back_or_overflow (mine, rest,
                                                                             &s->inject));
                  rest = next;
                }
            }
        }
      if (n == NULL)
        {
          if (++idle % 64 == 0)
            sched_yield ();
          continue;
        }
      idle = 0;
      consume (s, n);
    }
  /* On a normal finish our queue is empty (every item was counted). */
  return NULL;
}

static uint32_t
xorshift (uint32_t *state)
{
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *state = x;
}

static void
owner_run (Stress *s)
{
  uint32_t rng = 0x9e3779b9u;
  size_t next = 0;

  while (next < s->n_items && !finished (s))
    {
      /* Back-pressure: while the injection queue is long, let the stealers work, so
       * the run stays a contest over the ring rather than a drain of that queue. */
      if (asyncrt__inject_len (&s->inject) > 2 * ASYNCRT_LOCAL_QUEUE_CAPACITY)
        {
          AsyncrtQueueNode *n = asyncrt__local_queue_pop (&s->owner_q);
          if (n != NULL)
            consume (s, n);
          sched_yield ();
          continue;
        }
      /* A burst of up to twice the capacity: the ring overflows unless the stealers
       * keep up. */
      size_t burst = 1 + xorshift (&rng) % (2 * ASYNCRT_LOCAL_QUEUE_CAPACITY);
      for (size_t i = 0; i < burst && next < s->n_items; i++, next++)
        {
          s->items[next].payload = payload_of (next);
          bool full = asyncrt__local_queue_len (&s->owner_q) == ASYNCRT_LOCAL_QUEUE_CAPACITY;
          AsyncrtQueueNode *refused =
            asyncrt__local_queue_push_back_or_overflow (&s->owner_q, &s->items[next].link,
                                                        &s->inject);
          g_assert_null (refused);            /* the injection queue is never closed */
          if (full)
            atomic_fetch_add_explicit (&s->n_full_pushes, 1, memory_order_relaxed);
        }
      /* The owner runs a few itself; most go to the stealers. */
      size_t pops = xorshift (&rng) % 32;
      for (size_t i = 0; i < pops; i++)
        {
          AsyncrtQueueNode *n = asyncrt__local_queue_pop (&s->owner_q);
          if (n == NULL)
            break;
          consume (s, n);
        }
      if (xorshift (&rng) % 4 == 0)
        {
          AsyncrtQueueNode *n = asyncrt__inject_pop (&s->inject);
          if (n != NULL)
            consume (s, n);
        }
    }

  /* Everything is pushed: help drain until every item has been seen. */
  while (!finished (s))
    {
      AsyncrtQueueNode *n = asyncrt__local_queue_pop (&s->owner_q);
      if (n == NULL)
        n = asyncrt__inject_pop (&s->inject);
      if (n != NULL)
        consume (s, n);
      else
        sched_yield ();
    }
}

static void
test_stress (void)
{
  Stress *s = g_new0 (Stress, 1);
  /* At least a million items normally; sanitizer runs (scaled timeouts) use fewer. */
  s->n_items = test_timeout_scale () > 1 ? 200000 : 2000000;
  s->items = g_new (Item, s->n_items);
  s->seen = g_new (atomic_uint, s->n_items);
  for (size_t i = 0; i < s->n_items; i++)
    {
      s->items[i].id = i;
      s->items[i].link.next = NULL;
      s->items[i].payload = 0;
      atomic_init (&s->seen[i], 0);
    }
  atomic_init (&s->n_seen, 0);
  atomic_init (&s->stop, false);
  atomic_init (&s->n_full_pushes, 0);
  atomic_init (&s->n_steals, 0);
  atomic_init (&s->n_peer_steals, 0);
  atomic_init (&s->n_inject_pops, 0);
  s->deadline_ns = asyncrt__clock_now_ns () + (uint64_t) test_timeout_ms (60000) * 1000000u;
  asyncrt__local_queue_init (&s->owner_q);
  asyncrt__inject_init (&s->inject);

  StealerArg args[N_STEALERS];
  GThread *threads[N_STEALERS];
  for (unsigned i = 0; i < N_STEALERS; i++)
    {
      asyncrt__local_queue_init (&s->stealer_q[i]);
      args[i] = (StealerArg) { s, i };
      threads[i] = g_thread_new ("stealer", stealer_main, &args[i]);
    }

  owner_run (s);

  for (unsigned i = 0; i < N_STEALERS; i++)
    g_thread_join (threads[i]);

  g_test_message ("%zu items: %zu pushes onto a full ring, %zu steals from the owner, "
                  "%zu from the peer, %zu injection batch pops",
                  s->n_items, atomic_load (&s->n_full_pushes),
                  atomic_load (&s->n_steals), atomic_load (&s->n_peer_steals), atomic_load (&s->n_inject_pops));

  g_assert_false (atomic_load (&s->stop));       /* no timeout */
  size_t bad = 0;
  for (size_t i = 0; i < s->n_items; i++)
    if (atomic_load_explicit (&s->seen[i], memory_order_relaxed) != 1)
      {
        if (bad++ < 10)
          g_test_message ("item %zu seen %u times", i,
                          atomic_load_explicit (&s->seen[i], memory_order_relaxed));
      }
  g_assert_cmpuint (bad, ==, 0);
  g_assert_cmpuint (atomic_load (&s->n_seen), ==, s->n_items);
  g_assert_true (asyncrt__local_queue_is_empty (&s->owner_q));
  for (unsigned i = 0; i < N_STEALERS; i++)
    g_assert_true (asyncrt__local_queue_is_empty (&s->stealer_q[i]));
  g_assert_true (asyncrt__inject_is_empty (&s->inject));

  asyncrt__inject_clear (&s->inject);
  g_free (s->seen);
  g_free (s->items);
  g_free (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/queue/stress/owner-two-stealers", test_stress);
  return g_test_run ();
}
