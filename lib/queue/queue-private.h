/* libasyncrt - run queues (interface; implementation in local.c and inject.c)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Queues hold intrusive AsyncrtQueueNode links embedded in task headers: enqueueing
 * never allocates.  A node is on at most one queue at a time; the task state word
 * (NOTIFIED) guarantees that.
 *
 * The full ownership and memory-ordering rules are stated at the top of local.c and
 * inject.c.
 */
#ifndef ASYNCRT_QUEUE_PRIVATE_H
#define ASYNCRT_QUEUE_PRIVATE_H

#include "util/common-private.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct _AsyncrtQueueNode AsyncrtQueueNode;
struct _AsyncrtQueueNode
{
  AsyncrtQueueNode *next;
};

/* ------------------------------------------------------------------------------
 * Injection queue: mutex-protected intrusive FIFO, lock-free emptiness check.
 * Any thread may push and pop.  Once closed, pushes are refused (the caller keeps
 * ownership of the refused nodes) and pops still drain what is left.
 */
typedef struct
{
  pthread_mutex_t lock;
  AsyncrtQueueNode *head;     /* guarded by lock */
  AsyncrtQueueNode *tail;     /* guarded by lock */
  bool closed;                /* guarded by lock */
  atomic_size_t len;          /* written under lock, read lock-free */
} AsyncrtInject;

void   asyncrt__inject_init (AsyncrtInject *q);
void   asyncrt__inject_clear (AsyncrtInject *q);           /* must be empty; NULL ok */
/* Lock-free, relaxed snapshots: exact only without concurrent pushes/pops, and they
 * order nothing.  A worker that checks emptiness before parking needs its own
 * seq_cst fence pairing with one on the pushing side (see inject.c). */
bool   asyncrt__inject_is_empty (const AsyncrtInject *q);
size_t asyncrt__inject_len (const AsyncrtInject *q);
/* Returns false (and leaves @n to the caller) if the queue is closed. */
bool   asyncrt__inject_push (AsyncrtInject *q, AsyncrtQueueNode *n);
/* Pushes the chain first..last (linked by ->next, @n nodes) in one lock hold;
 * last->next is set to NULL.  With @n == 0 (first and last ignored) only reports
 * whether the queue is open.  Returns false if closed: the chain stays the caller's. */
bool   asyncrt__inject_push_batch (AsyncrtInject *q, AsyncrtQueueNode *first,
                                   AsyncrtQueueNode *last, size_t n);
AsyncrtQueueNode *asyncrt__inject_pop (AsyncrtInject *q);  /* NULL when empty */
/* Pops up to @max nodes in one lock hold (e.g. to refill a local queue, or to drain
 * the queue for a dump).  Returns how many; *@ret_first gets the chain, oldest
 * first, linked by ->next and NULL-terminated (NULL when 0 are popped). */
size_t asyncrt__inject_pop_batch (AsyncrtInject *q, size_t max,
                                  AsyncrtQueueNode **ret_first);
/* Closes the queue; returns true if this call closed it. */
bool   asyncrt__inject_close (AsyncrtInject *q);
bool   asyncrt__inject_is_closed (AsyncrtInject *q);

/* ------------------------------------------------------------------------------
 * Local run queue: fixed 256-slot ring; one owner thread pushes and pops, any number
 * of stealers take half at a time.
 */
#define ASYNCRT_LOCAL_QUEUE_CAPACITY 256u

typedef struct
{
  /* Packed (steal << 32 | real) head; see local.c. */
  _Atomic uint64_t head;
  /* Written only by the owner. */
  _Atomic uint32_t tail;
  _Atomic (AsyncrtQueueNode *) buffer[ASYNCRT_LOCAL_QUEUE_CAPACITY];
} AsyncrtLocalQueue;

void   asyncrt__local_queue_init (AsyncrtLocalQueue *q);
/* Owner only.  When the ring is full, moves its oldest half (128 nodes) plus @n, in
 * FIFO order, to @overflow in one batch.  If the ring is full while a stealer is
 * still copying out (it is about to free half the ring), only @n goes to @overflow.
 * If @overflow is closed the nodes are handed back through the return value (a
 * chain linked by ->next, oldest first, @n last; NULL on success) for the caller to
 * dispose of -- they are no longer in the ring. */
AsyncrtQueueNode *asyncrt__local_queue_push_back_or_overflow (AsyncrtLocalQueue *q,
                                                             AsyncrtQueueNode *n,
                                                             AsyncrtInject *overflow);
AsyncrtQueueNode *asyncrt__local_queue_pop (AsyncrtLocalQueue *q);   /* owner only */
size_t asyncrt__local_queue_len (const AsyncrtLocalQueue *q);        /* any thread, approx. */
bool   asyncrt__local_queue_is_empty (const AsyncrtLocalQueue *q);   /* any thread, approx. */
/* Any thread other than @dst's owner may steal from @src; @dst must be owned by the
 * caller and empty.  Moves about half of @src into @dst and returns one node to run
 * right away, or NULL if there was nothing to steal. */
/* Details: takes ceil(len/2) nodes (at most 128), the last of them is returned and
 * the others are appended to @dst in order.  Returns NULL without stealing when @src
 * is empty, when another stealer is mid-steal on @src (so NULL does not prove @src
 * empty: to drain a queue whose owner is stopped, loop while !is_empty), or when @dst
 * holds more than 128 nodes. */
AsyncrtQueueNode *asyncrt__local_queue_steal_into (AsyncrtLocalQueue *src,
                                                   AsyncrtLocalQueue *dst);

#endif /* ASYNCRT_QUEUE_PRIVATE_H */
