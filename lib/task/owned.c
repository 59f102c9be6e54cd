/* libasyncrt - owned-task lists
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership: a task's owned_prev / owned_next fields belong to the lock of shard
 * (id % ASYNCRT_OWNED_SHARDS).  A task is on its shard's list iff it is the head or
 * has a previous task (unlinking clears both links).  Being on the list is one task
 * reference, handed over to whoever removes the task (asyncrt__owned_remove() returns
 * true exactly once).  Each shard's `closed` flag is set under its lock by
 * asyncrt__owned_close_and_shutdown_all(), so a bind() either lands on the list before
 * the close and is then shut down by the walk, or sees `closed` and is refused.
 * Each shard's `len` is written under its lock (a plain store: no read-modify-write
 * on a line every worker shares) and read relaxed; their sum and the global `closed`
 * are hints (statistics, fast checks).
 *
 * No task is ever polled or freed with a shard lock held.
 */
#include "task/task-private.h"

#include <glib.h>

static inline AsyncrtOwnedShard *
shard_of (AsyncrtOwnedTasks *o, AsyncrtTask *t)
{
  return &o->shards[t->id % ASYNCRT_OWNED_SHARDS];
}

/* Shard lock held: the only writer. */
static inline void
shard_len_add (AsyncrtOwnedShard *s, int d)
{
  size_t n = atomic_load_explicit (&s->len, memory_order_relaxed);
  atomic_store_explicit (&s->len, n + (size_t) d, memory_order_relaxed);
}

void
asyncrt__owned_init (AsyncrtOwnedTasks *o)
{
  for (unsigned i = 0; i < ASYNCRT_OWNED_SHARDS; i++)
    {
      pthread_mutex_init (&o->shards[i].lock, NULL);
      o->shards[i].head = NULL;
      atomic_init (&o->shards[i].len, 0);
      o->shards[i].closed = false;
    }
  atomic_init (&o->closed, false);
}

void
asyncrt__owned_clear (AsyncrtOwnedTasks *o)
{
  for (unsigned i = 0; i < ASYNCRT_OWNED_SHARDS; i++)
    {
      g_assert (o->shards[i].head == NULL);
      pthread_mutex_destroy (&o->shards[i].lock);
    }
}

bool
asyncrt__owned_bind (AsyncrtOwnedTasks *o, AsyncrtTask *t)
{
  AsyncrtOwnedShard *s = shard_of (o, t);
  pthread_mutex_lock (&s->lock);
  if (s->closed)
    {
      pthread_mutex_unlock (&s->lock);
      return false;
    }
  t->owned_prev = NULL;
  t->owned_next = s->head;
  if (s->head != NULL)
    s->head->owned_prev = t;
  s->head = t;
  shard_len_add (s, 1);
  pthread_mutex_unlock (&s->lock);
  return true;
}

/* Shard lock held. */
static void
unlink_locked (AsyncrtOwnedTasks *o, AsyncrtOwnedShard *s, AsyncrtTask *t)
{
  if (t->owned_prev != NULL)
    t->owned_prev->owned_next = t->owned_next;
  else
    s->head = t->owned_next;
  if (t->owned_next != NULL)
    t->owned_next->owned_prev = t->owned_prev;
  t->owned_prev = t->owned_next = NULL;
  shard_len_add (s, -1);
}

bool
asyncrt__owned_remove (AsyncrtOwnedTasks *o, AsyncrtTask *t)
{
  AsyncrtOwnedShard *s = shard_of (o, t);
  pthread_mutex_lock (&s->lock);
  bool was = t->owned_prev != NULL || s->head == t;
  if (was)
    unlink_locked (o, s, t);
  pthread_mutex_unlock (&s->lock);
  return was;
}

size_t
asyncrt__owned_len (AsyncrtOwnedTasks *o)
{
  size_t n = 0;
  for (unsigned i = 0; i < ASYNCRT_OWNED_SHARDS; i++)
    n += atomic_load_explicit (&o->shards[i].len, memory_order_relaxed);
  return n;
}

bool
asyncrt__owned_is_closed (AsyncrtOwnedTasks *o)
{
  return atomic_load_explicit (&o->closed, memory_order_acquire);
}

void
asyncrt__owned_close_and_shutdown_all (AsyncrtOwnedTasks *o)
{
  atomic_store_explicit (&o->closed, true, memory_order_release);
  for (unsigned i = 0; i < ASYNCRT_OWNED_SHARDS; i++)
    {
      pthread_mutex_lock (&o->shards[i].lock);
      o->shards[i].closed = true;
      pthread_mutex_unlock (&o->shards[i].lock);
    }
  for (unsigned i = 0; i < ASYNCRT_OWNED_SHARDS; i++)
    {
      AsyncrtOwnedShard *s = &o->shards[i];
      for (;;)
        {
          pthread_mutex_lock (&s->lock);
          AsyncrtTask *t = s->head;
          if (t != NULL)
            unlink_locked (o, s, t);
          pthread_mutex_unlock (&s->lock);
          if (t == NULL)
            break;
          /* We now own the list's reference. */
          asyncrt__task_shutdown (t);
          asyncrt__task_unref (t);
        }
    }
}

/* A walk follows ASYNCRT_OWNED_WALK_LANES shards' lists at once, one task of each in
 * turn: a list walk waits on a cache miss per task (the tasks are spread over the
 * heap), and independent lists let those misses overlap (with 100,000 tasks the walk
 * took twice as long one list at a time, and 8 lanes took 6.9 ms where 4 took 8.3).
 * It holds those shards' locks together, taken in ascending order.  Two walks of
 * different groups (a dump's walkers on two threads) hold disjoint sets; no other code
 * holds two shard locks, so none can wait on a walk while holding one it needs. */
#define WALK_LANES ASYNCRT_OWNED_WALK_LANES

G_STATIC_ASSERT (ASYNCRT_OWNED_SHARDS % WALK_LANES == 0);

size_t
asyncrt__owned_foreach_group (AsyncrtOwnedTasks *o, unsigned group,
                              AsyncrtOwnedForeachFunc func, void *data)
{
  g_assert (group < ASYNCRT_OWNED_WALK_GROUPS);
  size_t n = 0;
  unsigned i = group * WALK_LANES;
  AsyncrtTask *cur[WALK_LANES];
  unsigned live = 0;
  for (unsigned k = 0; k < WALK_LANES; k++)
    {
      pthread_mutex_lock (&o->shards[i + k].lock);
      cur[k] = o->shards[i + k].head;
      live += cur[k] != NULL;
    }
  while (live > 0)
    for (unsigned k = 0; k < WALK_LANES; k++)
      {
        AsyncrtTask *t = cur[k];
        if (t == NULL)
          continue;
        /* @func never unlinks (the lock is held): the next link stands. */
        cur[k] = t->owned_next;
        if (cur[k] != NULL)
          asyncrt__task_prefetch (cur[k]);   /* @func reads it all over */
        else
          live--;
        func (t, data);
        n++;
      }
  for (unsigned k = WALK_LANES; k-- > 0;)
    pthread_mutex_unlock (&o->shards[i + k].lock);
  return n;
}

size_t
asyncrt__owned_foreach (AsyncrtOwnedTasks *o, AsyncrtOwnedForeachFunc func, void *data)
{
  size_t n = 0;
  for (unsigned g = 0; g < ASYNCRT_OWNED_WALK_GROUPS; g++)
    n += asyncrt__owned_foreach_group (o, g, func, data);
  return n;
}

void
asyncrt__owned_lock_task (AsyncrtOwnedTasks *o, AsyncrtTask *t)
{
  pthread_mutex_lock (&shard_of (o, t)->lock);
}

void
asyncrt__owned_unlock_task (AsyncrtOwnedTasks *o, AsyncrtTask *t)
{
  pthread_mutex_unlock (&shard_of (o, t)->lock);
}

bool
asyncrt__owned_lookup (AsyncrtOwnedTasks *o, AsyncrtTaskId id, char **ret_name,
                       uint64_t *ret_last_poll_ns)
{
  AsyncrtOwnedShard *s = &o->shards[id % ASYNCRT_OWNED_SHARDS];
  bool found = false;
  pthread_mutex_lock (&s->lock);
  for (AsyncrtTask *t = s->head; t != NULL; t = t->owned_next)
    if (t->id == id)
      {
        found = true;
        if (ret_name != NULL)
          *ret_name = g_strdup (asyncrt__task_name (t));
        if (ret_last_poll_ns != NULL)
          *ret_last_poll_ns = atomic_load_explicit (&t->last_poll_ns, memory_order_relaxed);
        break;
      }
  pthread_mutex_unlock (&s->lock);
  return found;
}
