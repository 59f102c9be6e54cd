/* libasyncrt - the per-worker local run queue
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A fixed ring of ASYNCRT_LOCAL_QUEUE_CAPACITY (256) slots.  One thread, the owner
 * (the worker the queue belongs to), pushes at the tail and pops at the head (FIFO;
 * LIFO behaviour is the scheduler's LIFO slot, not this ring's).  Any number of other
 * threads, stealers, may take about half of the queued nodes at once and move them
 * into a queue they own.  The algorithm is the one of Tokio's multi-thread run queue.
 *
 * Indices are free-running uint32_t positions; a position p lives in slot
 * p % 256.  All index arithmetic is modulo 2^32, so wrapping is harmless.
 *
 * Ownership
 *   - tail: written only by the owner (relaxed load by the owner itself, release store
 *     after filling a slot); read by stealers with acquire.
 *   - buffer[]: slots are written only by the owner of the queue (push), or by the
 *     owner of a destination queue while it steals into it -- in both cases the
 *     writer is the queue's owner.  A slot is read by whoever claimed its position
 *     through `head` (the owner popping or overflowing, a stealer stealing).  The
 *     slots are atomics accessed relaxed; the happens-before edges below are what
 *     keeps a write from overtaking a read of the previous lap.
 *   - head: a packed 64-bit word (steal << 32 | real), changed only by
 *     compare-and-swap (so every change is part of the release sequence of every
 *     earlier release CAS).  `real` is the next position to consume; positions in
 *     [steal, real) are being copied out by the one stealer in progress.
 *
 *   Invariants: steal <= real <= tail and tail - steal <= 256 (as distances mod 2^32).
 *
 * Legal transitions of head = (steal, real)
 *   owner pop       (s, r)  -> (s, r+1)    r != tail; if s == r both move: (r+1, r+1)
 *   owner overflow  (r, r)  -> (r+128, r+128)   only when no steal is in progress and
 *                                               the ring is full (tail - r == 256)
 *   stealer claim   (r, r)  -> (r, r+n)    1 <= n <= 128, only when no steal is in
 *                                          progress: at most one stealer at a time
 *   stealer finish  (s, r') -> (r', r')    only by the stealer that claimed s; r' may
 *                                          have moved on through owner pops meanwhile
 *   While steal != real only two parties touch head: the owner (pops, which move
 *   `real` alone) and the stealer that claimed (its finish, which moves `steal`).
 *   The owner's push does not touch head: it writes slot `tail` and then tail + 1,
 *   only when tail - steal < 256.  Full with a steal in progress, it sends the node
 *   to the injection queue instead; full without one, it overflows as above.
 *
 * Memory ordering (acquire/release pairs)
 *   1. Owner's tail store (release) -> stealer's tail load (acquire): the stealer sees
 *      the node pointers written into the slots it claims.
 *   2. Any CAS that advances `real` (owner pop, owner overflow: release) -> stealer's
 *      head load (acquire) followed by its tail load: the tail the stealer then reads
 *      is at least the tail the owner had when it advanced `real`, so tail - real
 *      never underflows.  A stealer's claim moves `real` too but needs no release:
 *      any other stealer that reads the claimed value sees steal != real and backs
 *      off without reading tail, and the finish CAS that ends the claim is a release
 *      (it is also in the release sequence of the owner pops it overwrites).
 *   3. Stealer finish CAS (release) -> owner's head load in push (acquire): the
 *      stealer's slot reads happen before the owner writes the same slots on the next
 *      lap (the owner only writes position tail when tail - steal < 256).
 *   4. Steal into a destination: the stealer (the destination's owner) loads the
 *      destination's head with acquire (pairing with 3 on that queue) before writing
 *      its slots, and publishes them with a release store of its tail (pairing with 1).
 *   No other ordering is needed: the owner reads only slots it wrote itself, and
 *   stealers never write a source slot.
 *
 *   ABA on head would need 2^32 consumptions between a stealer's load and its CAS;
 *   as in Tokio, this is not guarded against.
 */
#include "util/common-private.h"

#include "queue/queue-private.h"

#include <assert.h>

#define CAP  ASYNCRT_LOCAL_QUEUE_CAPACITY
#define MASK (ASYNCRT_LOCAL_QUEUE_CAPACITY - 1u)
#define HALF (ASYNCRT_LOCAL_QUEUE_CAPACITY / 2u)

_Static_assert ((CAP & MASK) == 0, "the capacity must be a power of two");
_Static_assert (CAP <= UINT32_MAX / 2, "positions are uint32_t");

static inline uint64_t
pack (uint32_t steal, uint32_t real)
{
  return ((uint64_t) steal << 32) | real;
}

static inline uint32_t
unpack_steal (uint64_t h)
{
  return (uint32_t) (h >> 32);
}

static inline uint32_t
unpack_real (uint64_t h)
{
  return (uint32_t) h;
}

static inline AsyncrtQueueNode *
slot_get (const AsyncrtLocalQueue *q, uint32_t pos)
{
  return atomic_load_explicit (&((AsyncrtLocalQueue *) q)->buffer[pos & MASK],
                               memory_order_relaxed);
}

static inline void
slot_set (AsyncrtLocalQueue *q, uint32_t pos, AsyncrtQueueNode *n)
{
  atomic_store_explicit (&q->buffer[pos & MASK], n, memory_order_relaxed);
}

void
asyncrt__local_queue_init (AsyncrtLocalQueue *q)
{
  assert (q != NULL);
  atomic_init (&q->head, 0);
  atomic_init (&q->tail, 0);
  for (unsigned i = 0; i < CAP; i++)
    atomic_init (&q->buffer[i], NULL);
}

/* Owner only: the ring is full and no steal is in progress (head was (real, real)).
 * Claims the oldest half and, if that worked, pushes it and @n to @overflow as one
 * batch.  Returns false when a stealer moved head first: the caller retries. */
static bool
push_overflow (AsyncrtLocalQueue *q, AsyncrtQueueNode *n, uint32_t real, uint32_t tail,
               AsyncrtInject *overflow, AsyncrtQueueNode **ret_refused)
{
  assert (tail - real == CAP);
  uint64_t expected = pack (real, real);
  /* Release: pairs with the stealers' acquire load of head (ordering rule 2). */
  if (!atomic_compare_exchange_strong_explicit (&q->head, &expected,
                                                pack (real + HALF, real + HALF),
                                                memory_order_release,
                                                memory_order_relaxed))
    return false;

  /* Positions [real, real + HALF) are ours now; nobody else can reach them. */
  AsyncrtQueueNode *first = slot_get (q, real);
  AsyncrtQueueNode *prev = first;
  for (uint32_t i = 1; i < HALF; i++)
    {
      AsyncrtQueueNode *cur = slot_get (q, real + i);
      prev->next = cur;
      prev = cur;
    }
  prev->next = n;
  n->next = NULL;

  if (asyncrt__inject_push_batch (overflow, first, n, HALF + 1))
    *ret_refused = NULL;
  else
    *ret_refused = first;
  return true;
}

AsyncrtQueueNode *
asyncrt__local_queue_push_back_or_overflow (AsyncrtLocalQueue *q, AsyncrtQueueNode *n,
                                            AsyncrtInject *overflow)
{
  assert (q != NULL && n != NULL && overflow != NULL);
  /* The owner is the only writer of tail. */
  uint32_t tail = atomic_load_explicit (&q->tail, memory_order_relaxed);

  for (;;)
    {
      /* Acquire: pairs with a stealer's finish CAS (ordering rule 3). */
      uint64_t head = atomic_load_explicit (&q->head, memory_order_acquire);
      uint32_t steal = unpack_steal (head);
      uint32_t real = unpack_real (head);

      if (tail - steal < CAP)
        break;                                  /* room */

      if (steal != real)
        {
          /* Full, and a stealer is copying out: it will free half the ring soon.
           * Don't wait for it; send just this node to the injection queue. */
          n->next = NULL;
          return asyncrt__inject_push (overflow, n) ? NULL : n;
        }

      AsyncrtQueueNode *refused;
      if (push_overflow (q, n, real, tail, overflow, &refused))
        return refused;
      /* A stealer claimed part of the ring under our feet: there may be room now. */
    }

  slot_set (q, tail, n);
  /* Release: publishes the slot to stealers (ordering rule 1). */
  atomic_store_explicit (&q->tail, tail + 1, memory_order_release);
  return NULL;
}

AsyncrtQueueNode *
asyncrt__local_queue_pop (AsyncrtLocalQueue *q)
{
  assert (q != NULL);
  uint32_t tail = atomic_load_explicit (&q->tail, memory_order_relaxed);
  /* Relaxed: the owner reads only slots it wrote itself; the CAS below validates. */
  uint64_t head = atomic_load_explicit (&q->head, memory_order_relaxed);

  for (;;)
    {
      uint32_t steal = unpack_steal (head);
      uint32_t real = unpack_real (head);
      if (real == tail)
        return NULL;

      uint32_t next_real = real + 1;
      uint64_t next = steal == real ? pack (next_real, next_real) : pack (steal, next_real);
      /* Release on success: ordering rule 2.  The failure value is only reused to
       * retry, so relaxed is enough there. */
      if (atomic_compare_exchange_weak_explicit (&q->head, &head, next,
                                                 memory_order_release,
                                                 memory_order_relaxed))
        return slot_get (q, real);
    }
}

size_t
asyncrt__local_queue_len (const AsyncrtLocalQueue *q)
{
  AsyncrtLocalQueue *mq = (AsyncrtLocalQueue *) q;
  /* Head first, then tail, both acquire: when head was last moved by a release CAS
   * (rule 2), tail is at least the tail seen then.  A stealer's claim is not a
   * release, so tail may still look older than real; and the owner may race ahead
   * between the two loads.  The result is a snapshot: clamp it to [0, capacity]. */
  uint64_t head = atomic_load_explicit (&mq->head, memory_order_acquire);
  uint32_t tail = atomic_load_explicit (&mq->tail, memory_order_acquire);
  int32_t len = (int32_t) (tail - unpack_real (head));
  if (len < 0)
    return 0;
  return (uint32_t) len > CAP ? CAP : (size_t) len;
}

bool
asyncrt__local_queue_is_empty (const AsyncrtLocalQueue *q)
{
  return asyncrt__local_queue_len (q) == 0;
}

/* Claims about half of @src (rounded up) and copies it into @dst's slots from
 * @dst_tail on, without publishing them.  Returns the number copied (0: nothing to
 * steal, or another stealer is at work on @src). */
static uint32_t
steal_into_slots (AsyncrtLocalQueue *src, AsyncrtLocalQueue *dst, uint32_t dst_tail)
{
  /* Acquire head, then acquire tail: ordering rules 2 and 1. */
  uint64_t prev = atomic_load_explicit (&src->head, memory_order_acquire);
  uint64_t next;
  uint32_t n;

  for (;;)
    {
      uint32_t steal = unpack_steal (prev);
      uint32_t real = unpack_real (prev);
      if (steal != real)
        return 0;                               /* another stealer is at work */

      uint32_t src_tail = atomic_load_explicit (&src->tail, memory_order_acquire);
      uint32_t avail = src_tail - real;
      n = avail - avail / 2;
      if (n == 0)
        return 0;
      /* If head moved since we loaded it, avail may be stale (even above the
       * capacity); the CAS fails and we retry with fresh values. */
      next = pack (steal, real + n);
      /* Success needs no ordering of its own (the slots were acquired through tail
       * above); acquire on failure because the retry reads tail again (rule 2).  C11
       * wants success at least as strong as failure, hence acquire on both. */
      if (atomic_compare_exchange_weak_explicit (&src->head, &prev, next,
                                                 memory_order_acquire,
                                                 memory_order_acquire))
        break;
    }
  assert (n <= HALF);

  uint32_t first = unpack_steal (next);
  for (uint32_t i = 0; i < n; i++)
    slot_set (dst, dst_tail + i, slot_get (src, first + i));

  /* Finish: steal catches up with real, wherever the owner has moved it meanwhile.
   * Release: our slot reads happen before the owner rewrites them (rule 3). */
  prev = next;
  for (;;)
    {
      uint32_t real = unpack_real (prev);
      assert (unpack_steal (prev) == first && real != first);
      if (atomic_compare_exchange_weak_explicit (&src->head, &prev, pack (real, real),
                                                 memory_order_release,
                                                 memory_order_relaxed))
        return n;
    }
}

AsyncrtQueueNode *
asyncrt__local_queue_steal_into (AsyncrtLocalQueue *src, AsyncrtLocalQueue *dst)
{
  assert (src != NULL && dst != NULL && src != dst);
  /* We own dst: its tail is ours to read relaxed. */
  uint32_t dst_tail = atomic_load_explicit (&dst->tail, memory_order_relaxed);
  /* Acquire: pairs with the finish CAS of whoever last stole from dst, so their reads
   * of the slots we are about to overwrite are done (rules 3 and 4). */
  uint32_t dst_steal = unpack_steal (atomic_load_explicit (&dst->head,
                                                           memory_order_acquire));
  /* We may write up to HALF slots from dst_tail on; they must not reach positions
   * that a stealer of dst may still be reading (from dst_steal on). */
  if (dst_tail - dst_steal > CAP - HALF)
    return NULL;

  uint32_t n = steal_into_slots (src, dst, dst_tail);
  if (n == 0)
    return NULL;

  /* Hand the last node stolen to the caller to run now; publish the rest. */
  n--;
  AsyncrtQueueNode *ret = slot_get (dst, dst_tail + n);
  if (n > 0)
    atomic_store_explicit (&dst->tail, dst_tail + n, memory_order_release);
  return ret;
}
