/* Benchmarks of the run queues: local push/pop, steal, overflow, injection queue.
 * Prints `name value unit` lines.  Single-threaded unless the name says otherwise;
 * numbers are for comparison between builds, never pass/fail. */
#include "util/common-private.h"

#include "queue/queue-private.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define CAP ASYNCRT_LOCAL_QUEUE_CAPACITY

typedef struct
{
  AsyncrtQueueNode link;
  unsigned id;
} Item;

static Item items[2 * CAP];
static volatile uintptr_t sink;     /* keeps results alive */

static void
report (const char *name, uint64_t ns, uint64_t ops)
{
  printf ("%s %.2f ns/op\n", name, (double) ns / (double) ops);
}

/* Owner pushes a full ring, then pops it: per operation (a push or a pop). */
static void
bench_local_push_pop (void)
{
  AsyncrtLocalQueue q;
  AsyncrtInject inj;
  asyncrt__local_queue_init (&q);
  asyncrt__inject_init (&inj);
  const unsigned rounds = 40000;

  uint64_t t0 = asyncrt__clock_now_ns ();
  for (unsigned r = 0; r < rounds; r++)
    {
      for (unsigned i = 0; i < CAP; i++)
        asyncrt__local_queue_push_back_or_overflow (&q, &items[i].link, &inj);
      for (unsigned i = 0; i < CAP; i++)
        sink += (uintptr_t) asyncrt__local_queue_pop (&q);
    }
  report ("queue_local_push_pop", asyncrt__clock_now_ns () - t0, 2ull * rounds * CAP);
  asyncrt__inject_clear (&inj);
}

/* Steady state of one push then one pop (the queue stays near empty). */
static void
bench_local_push_pop_single (void)
{
  AsyncrtLocalQueue q;
  AsyncrtInject inj;
  asyncrt__local_queue_init (&q);
  asyncrt__inject_init (&inj);
  const unsigned n = 10000000;

  uint64_t t0 = asyncrt__clock_now_ns ();
  for (unsigned i = 0; i < n; i++)
    {
      asyncrt__local_queue_push_back_or_overflow (&q, &items[i & (CAP - 1)].link, &inj);
      sink += (uintptr_t) asyncrt__local_queue_pop (&q);
    }
  report ("queue_local_push_then_pop_pair", asyncrt__clock_now_ns () - t0, n);
  asyncrt__inject_clear (&inj);
}

/* Full ring, one more push: half the ring plus the new node go to the injection
 * queue; per node moved (the refill and the drain of the injection queue are not
 * timed). */
static void
bench_local_overflow (void)
{
  AsyncrtLocalQueue q;
  AsyncrtInject inj;
  asyncrt__local_queue_init (&q);
  asyncrt__inject_init (&inj);
  const unsigned rounds = 50000;
  uint64_t total = 0;

  for (unsigned i = 0; i < CAP; i++)
    asyncrt__local_queue_push_back_or_overflow (&q, &items[i].link, &inj);
  for (unsigned r = 0; r < rounds; r++)
    {
      uint64_t t0 = asyncrt__clock_now_ns ();
      asyncrt__local_queue_push_back_or_overflow (&q, &items[CAP].link, &inj);
      total += asyncrt__clock_now_ns () - t0;
      /* Back to a full ring of distinct nodes: drain everything, refill. */
      while (asyncrt__inject_pop (&inj) != NULL)
        ;
      while (asyncrt__local_queue_pop (&q) != NULL)
        ;
      for (unsigned i = 0; i < CAP; i++)
        asyncrt__local_queue_push_back_or_overflow (&q, &items[i].link, &inj);
    }
  report ("queue_local_overflow_per_node", total, (uint64_t) rounds * (CAP / 2 + 1));
  while (asyncrt__local_queue_pop (&q) != NULL)
    ;
  asyncrt__inject_clear (&inj);
}

/* Uncontended steal: fill src, steal half into dst, drain dst; per node stolen. */
static void
bench_local_steal (void)
{
  AsyncrtLocalQueue src, dst;
  AsyncrtInject inj;
  asyncrt__local_queue_init (&src);
  asyncrt__local_queue_init (&dst);
  asyncrt__inject_init (&inj);
  const unsigned rounds = 100000;
  uint64_t stolen = 0, total = 0;

  for (unsigned r = 0; r < rounds; r++)
    {
      while (asyncrt__local_queue_len (&src) < CAP)
        asyncrt__local_queue_push_back_or_overflow (&src, &items[r % CAP].link, &inj);
      uint64_t t0 = asyncrt__clock_now_ns ();
      AsyncrtQueueNode *n = asyncrt__local_queue_steal_into (&src, &dst);
      total += asyncrt__clock_now_ns () - t0;
      sink += (uintptr_t) n;
      stolen += 1 + asyncrt__local_queue_len (&dst);
      while (asyncrt__local_queue_pop (&dst) != NULL)
        ;
    }
  report ("queue_local_steal_per_node", total, stolen);
  printf ("queue_local_steal_per_batch %.2f ns/op\n", (double) total / rounds);
  while (asyncrt__local_queue_pop (&src) != NULL)
    ;
  asyncrt__inject_clear (&inj);
}

/* Contended: the owner pushes and pops while another thread steals all the time.
 * Reports the owner's cost per push+pop pair and the stealer's nodes per second. */
typedef struct
{
  AsyncrtLocalQueue *src;
  _Atomic bool stop;
  uint64_t stolen;
} Thief;

static void *
thief_main (void *data)
{
  Thief *t = data;
  AsyncrtLocalQueue dst;
  asyncrt__local_queue_init (&dst);
  while (!atomic_load_explicit (&t->stop, memory_order_relaxed))
    {
      if (asyncrt__local_queue_steal_into (t->src, &dst) == NULL)
        continue;
      t->stolen++;
      while (asyncrt__local_queue_pop (&dst) != NULL)
        t->stolen++;
    }
  return NULL;
}

static void
bench_local_contended (void)
{
  static Item many[4096];
  AsyncrtLocalQueue q;
  AsyncrtInject inj;
  asyncrt__local_queue_init (&q);
  asyncrt__inject_init (&inj);
  Thief t = { .src = &q, .stolen = 0 };
  atomic_init (&t.stop, false);
  pthread_t th;
  if (pthread_create (&th, NULL, thief_main, &t) != 0)
    return;

  const unsigned n = 4000000;
  uint64_t t0 = asyncrt__clock_now_ns ();
  for (unsigned i = 0; i < n; i++)
    {
      asyncrt__local_queue_push_back_or_overflow (&q, &many[i % 4096].link, &inj);
      if (i % 2 == 0)
        sink += (uintptr_t) asyncrt__local_queue_pop (&q);
      if (i % 256 == 0)
        while (asyncrt__inject_pop (&inj) != NULL)
          ;
    }
  uint64_t dt = asyncrt__clock_now_ns () - t0;
  atomic_store (&t.stop, true);
  pthread_join (th, NULL);
  while (asyncrt__local_queue_pop (&q) != NULL)
    ;
  while (asyncrt__inject_pop (&inj) != NULL)
    ;
  report ("queue_local_push_with_thief", dt, n);
  printf ("queue_local_thief_rate %.2f Mnodes/s\n", (double) t.stolen * 1e3 / (double) dt);
  asyncrt__inject_clear (&inj);
}

static void
bench_inject (void)
{
  AsyncrtInject inj;
  asyncrt__inject_init (&inj);
  const unsigned rounds = 40000;

  uint64_t t0 = asyncrt__clock_now_ns ();
  for (unsigned r = 0; r < rounds; r++)
    {
      for (unsigned i = 0; i < CAP; i++)
        asyncrt__inject_push (&inj, &items[i].link);
      for (unsigned i = 0; i < CAP; i++)
        sink += (uintptr_t) asyncrt__inject_pop (&inj);
    }
  report ("queue_inject_push_pop", asyncrt__clock_now_ns () - t0, 2ull * rounds * CAP);

  /* Batch push of 129 nodes (an overflow's worth), then single pops. */
  const unsigned batch = CAP / 2 + 1;
  uint64_t push_ns = 0;
  for (unsigned r = 0; r < rounds; r++)
    {
      for (unsigned i = 0; i + 1 < batch; i++)
        items[i].link.next = &items[i + 1].link;
      uint64_t t1 = asyncrt__clock_now_ns ();
      asyncrt__inject_push_batch (&inj, &items[0].link, &items[batch - 1].link, batch);
      push_ns += asyncrt__clock_now_ns () - t1;
      while (asyncrt__inject_pop (&inj) != NULL)
        ;
    }
  report ("queue_inject_push_batch_per_node", push_ns, (uint64_t) rounds * batch);

  /* Pops in batches of 32 from a queue of 256, per node. */
  uint64_t pop_ns = 0;
  for (unsigned r = 0; r < rounds; r++)
    {
      for (unsigned i = 0; i < CAP; i++)
        asyncrt__inject_push (&inj, &items[i].link);
      AsyncrtQueueNode *chain;
      uint64_t t1 = asyncrt__clock_now_ns ();
      while (asyncrt__inject_pop_batch (&inj, 32, &chain) > 0)
        sink += (uintptr_t) chain;
      pop_ns += asyncrt__clock_now_ns () - t1;
    }
  report ("queue_inject_pop_batch32_per_node", pop_ns, (uint64_t) rounds * CAP);

  const unsigned n = 20000000;
  t0 = asyncrt__clock_now_ns ();
  for (unsigned i = 0; i < n; i++)
    sink += asyncrt__inject_is_empty (&inj);
  report ("queue_inject_is_empty", asyncrt__clock_now_ns () - t0, n);
  asyncrt__inject_clear (&inj);
}

int
main (void)
{
  bench_local_push_pop ();
  bench_local_push_pop_single ();
  bench_local_overflow ();
  bench_local_steal ();
  bench_local_contended ();
  bench_inject ();
  return 0;
}
