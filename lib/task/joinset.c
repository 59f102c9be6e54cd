/* libasyncrt - join sets: a group of tasks collected in completion order
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A join set owns the join handles of its members.  Each member has an Entry whose
 * waker sits in the member task's join-waker slot (asyncrt__task_set_join_waker(), the
 * JOIN_WAKER protocol of task-private.h), so the task's completion — normal or
 * cancelled — wakes the entry, which moves itself to the set's done list and wakes
 * the task waiting in join_next.  No wrapper future: the member's trace in a dump is
 * its own.
 *
 * Ownership:
 *   - AsyncrtJoinSet (len, members list, Entry.prev / .next / .jh): the set's owner,
 *     one thread at a time (a task or a block_on future);
 *   - Core (done list, Entry.done / .done_next, closed, waker): core->lock, taken by
 *     the owner and by completing threads; wakers taken out under it are woken after
 *     unlocking;
 *   - Core.refs: the set's reference plus one per Entry (relaxed increments, acq_rel
 *     decrement); an entry may outlive the set while its waker is still in a task's
 *     join slot, so completions after asyncrt_join_set_free() find a closed core;
 *   - Entry.refs: the set's (until the member is joined, or the set freed) plus one
 *     per clone of the entry's waker (at most one, in the task's join slot).
 * Transitions of an entry: member (owner list) -> done (completion, under the lock;
 * at most once) -> joined (popped by join_next: unlinked from both) or dropped
 * (asyncrt_join_set_free: aborted, its join handle freed).
 */
#include "task/task-private.h"
#include "scheduler/scheduler-private.h"
#include "scheduler/coop-private.h"
#include "trace/wait-private.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct _Entry Entry;
typedef struct _Core Core;

struct _Core
{
  _Atomic size_t refs;
  pthread_mutex_t lock;
  bool closed;                 /* lock: the set is freed, completions are ignored */
  Entry *done_head;            /* lock: finished members, in completion order */
  Entry *done_tail;
  AsyncrtWaker waker;          /* lock: the task waiting in join_next */
};

struct _Entry
{
  _Atomic unsigned refs;
  Core *core;                  /* immutable; the entry holds a core reference */
  AsyncrtTaskId id;            /* immutable */
  AsyncrtJoinHandle *jh;       /* owner */
  Entry *prev, *next;          /* owner: the members list */
  Entry *done_next;            /* lock */
  bool done;                   /* lock */
};

struct _AsyncrtJoinSet
{
  Core *core;
  uint64_t id;
  size_t len;                  /* members not joined yet (running or done) */
  Entry *members;
};

static atomic_uint_fast64_t next_set_id = 1;

static void
core_unref (Core *c)
{
  if (atomic_fetch_sub_explicit (&c->refs, 1, memory_order_acq_rel) != 1)
    return;
  asyncrt_waker_free (&c->waker);
  pthread_mutex_destroy (&c->lock);
  free (c);
}

static void
entry_unref (Entry *e)
{
  if (atomic_fetch_sub_explicit (&e->refs, 1, memory_order_acq_rel) != 1)
    return;
  Core *c = e->core;
  free (e);
  core_unref (c);
}

/* ---- the entry's waker: woken once, when the member task completes --------------- */

static void *
entry_waker_clone (void *data)
{
  Entry *e = data;
  atomic_fetch_add_explicit (&e->refs, 1, memory_order_relaxed);
  return e;
}

static void
entry_waker_wake_by_ref (void *data)
{
  Entry *e = data;
  Core *c = e->core;
  AsyncrtWaker w = ASYNCRT_WAKER_INIT;
  pthread_mutex_lock (&c->lock);
  if (!c->closed && !e->done)
    {
      e->done = true;
      e->done_next = NULL;
      if (c->done_tail != NULL)
        c->done_tail->done_next = e;
      else
        c->done_head = e;
      c->done_tail = e;
      w = c->waker;
      c->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
    }
  pthread_mutex_unlock (&c->lock);
  asyncrt_waker_wake (&w);
}

static void
entry_waker_drop (void *data)
{
  entry_unref (data);
}

static void
entry_waker_wake (void *data)
{
  entry_waker_wake_by_ref (data);
  entry_waker_drop (data);
}

static const AsyncrtWakerVTable entry_waker_vtable = {
  entry_waker_clone, entry_waker_wake, entry_waker_wake_by_ref, entry_waker_drop,
};

/* ---- owner side ---------------------------------------------------------------------- */

static void
members_unlink (AsyncrtJoinSet *s, Entry *e)
{
  if (e->prev != NULL)
    e->prev->next = e->next;
  else
    s->members = e->next;
  if (e->next != NULL)
    e->next->prev = e->prev;
  e->prev = e->next = NULL;
}

/**
 * asyncrt_join_set_new:
 *
 * Creates an empty join set.
 *
 * Thread safety: any thread; the set then belongs to its creator (see the section
 * description).
 *
 * Returns: (transfer full) (nullable): the set, to free with asyncrt_join_set_free(),
 *   or %NULL with errno ENOMEM.
 * Since: 0.2
 */
AsyncrtJoinSet *
asyncrt_join_set_new (void)
{
  AsyncrtJoinSet *s = calloc (1, sizeof *s);
  Core *c = calloc (1, sizeof *c);
  if (s == NULL || c == NULL)
    {
      free (s);
      free (c);
      errno = ENOMEM;
      return NULL;
    }
  atomic_init (&c->refs, 1);
  pthread_mutex_init (&c->lock, NULL);
  s->core = c;
  s->id = atomic_fetch_add_explicit (&next_set_id, 1, memory_order_relaxed);
  return s;
}

/**
 * asyncrt_join_set_spawn_full:
 * @s: a join set
 * @file: (nullable): source file of the spawn site (asyncrt_join_set_spawn() passes
 *   __FILE__); static storage
 * @line: its line
 * @func: (nullable): its function; static storage
 * @name: (nullable): a name for the task, shown by dumps (copied)
 * @poll: the future's poll function
 * @future: (nullable): the future's state; the task owns it from now on
 * @free_func: (nullable): frees @future, called exactly once
 * @ret_id: (out) (optional): the new task's id
 *
 * Spawns @future as a task of the runtime running on this thread (inside a task or a
 * `block_on` future) and makes it a member of @s.  The task inherits the calling
 * task's labels, as with asyncrt_spawn(); dumps show @s's id as its group.  On a
 * runtime being shut down the member is cancelled at once and is collected as
 * such.
 *
 * Thread safety: the owner of @s, on a thread running a runtime.
 *
 * Returns: 0; -EINVAL if @s or @poll is %NULL; -ESRCH outside a runtime; -ENOMEM.
 *   On error @future is not freed and @s is unchanged.
 * Since: 0.2
 */
int
asyncrt_join_set_spawn_full (AsyncrtJoinSet *s, const char *file, int line,
                             const char *func, const char *name, AsyncrtPollFunc poll,
                             void *future, AsyncrtFreeFunc free_func,
                             AsyncrtTaskId *ret_id)
{
  if (s == NULL || poll == NULL)
    return -EINVAL;
  AsyncrtHandle *h = asyncrt__current_handle;
  if (h == NULL)
    return -ESRCH;
  Entry *e = calloc (1, sizeof *e);
  if (e == NULL)
    return -ENOMEM;

  AsyncrtSpawnInfo info = { file, line, func, name, s->id };
  AsyncrtJoinHandle *jh = asyncrt__handle_spawn_task (h, &info, poll, future, free_func);
  if (jh == NULL)
    {
      int err = errno;
      free (e);
      return -err;
    }
  atomic_init (&e->refs, 1);                 /* the set's */
  atomic_fetch_add_explicit (&s->core->refs, 1, memory_order_relaxed);
  e->core = s->core;
  e->jh = jh;
  e->id = asyncrt_join_handle_get_id (jh);
  e->next = s->members;
  if (s->members != NULL)
    s->members->prev = e;
  s->members = e;
  s->len++;

  AsyncrtWaker w = { &entry_waker_vtable, e };
  if (asyncrt__task_set_join_waker (asyncrt__task_from_join_handle (jh), &w))
    entry_waker_wake_by_ref (e);             /* finished already */
  if (ret_id != NULL)
    *ret_id = e->id;
  return 0;
}

/* Pops the next finished member, or stores the waker (core lock). */
static Entry *
pop_done (AsyncrtJoinSet *s, AsyncrtContext *cx)
{
  Core *c = s->core;
  const AsyncrtWaker *w = asyncrt_context_get_waker (cx);
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  pthread_mutex_lock (&c->lock);
  Entry *e = c->done_head;
  if (e != NULL)
    {
      c->done_head = e->done_next;
      if (c->done_head == NULL)
        c->done_tail = NULL;
      e->done_next = NULL;
    }
  else if (!asyncrt_waker_will_wake (&c->waker, w))
    {
      old = c->waker;
      c->waker = asyncrt_waker_clone (w);
    }
  pthread_mutex_unlock (&c->lock);
  asyncrt_waker_free (&old);
  return e;
}

/* Both join_next polls after their leaf check: READY with the collected member's
 * join handle in *@ret_jh (NULL: the set is empty), or PENDING. */
static AsyncrtPoll
join_next (AsyncrtJoinSet *s, AsyncrtContext *cx, AsyncrtJoinHandle **ret_jh)
{
  *ret_jh = NULL;
  if (s == NULL || cx == NULL || s->len == 0)
    return ASYNCRT_READY;
  if (!asyncrt__coop_poll_proceed (cx))
    return ASYNCRT_PENDING;
  Entry *e = pop_done (s, cx);
  if (e == NULL)
    return ASYNCRT_PENDING;
  members_unlink (s, e);
  s->len--;
  *ret_jh = e->jh;
  entry_unref (e);
  return ASYNCRT_READY;
}

/**
 * asyncrt_join_set_join_next_poll:
 * @s: a join set
 * @cx: the context of this poll
 * @ret_id: (out) (optional): the id of the member collected, or 0
 *
 * Waits for the next member to finish and collects it: it leaves the set, and its
 * future is freed (use asyncrt_join_set_join_next_handle_poll() to read its result
 * first).  Members are collected in the order they finished; a member cancelled by
 * asyncrt_join_set_abort_all() or by the runtime's shutdown counts as finished.  A
 * leaf future: it shows in task dumps and takes part in the cooperative budget.
 * Dropping the wait (not polling again) is safe: nothing is collected until a poll
 * returns it.
 *
 * Thread safety: the owner of @s.
 *
 * Returns: %ASYNCRT_READY with *@ret_id set to the collected member's id, or to 0
 *   when the set is empty (and for a %NULL @s or @cx); %ASYNCRT_PENDING while every
 *   member is still running (the context's waker is woken when one finishes).
 * Since: 0.2
 */
/* Trace mode: the set, its members, whether one is done already (the owner's
 * fields need no lock: we are its owner; the done list is under the core's). */
static ASYNCRT_WAIT_DESCRIBER void
describe_join_next (AsyncrtJoinSet *s)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  asyncrt__wait_set (w, ASYNCRT_WAIT_JOIN_SET, (uintptr_t) s, NULL);
  if (s == NULL)
    return;
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_GROUP_ID, (int64_t) s->id);
  asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_MEMBERS, (int64_t) s->len);
  pthread_mutex_lock (&s->core->lock);
  bool ready = s->core->done_head != NULL || s->len == 0;
  pthread_mutex_unlock (&s->core->lock);
  if (ready)
    asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_READY, 1);
}

AsyncrtPoll
asyncrt_join_set_join_next_poll (AsyncrtJoinSet *s, AsyncrtContext *cx,
                                 AsyncrtTaskId *ret_id)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_join_next (s);
      return ASYNCRT_PENDING;
    }
  AsyncrtJoinHandle *jh;
  if (join_next (s, cx, &jh) == ASYNCRT_PENDING)
    return ASYNCRT_PENDING;
  if (ret_id != NULL)
    *ret_id = asyncrt_join_handle_get_id (jh);   /* 0 for NULL: the set is empty */
  asyncrt_join_handle_free (jh);
  return ASYNCRT_READY;
}

/**
 * asyncrt_join_set_join_next_handle_poll:
 * @s: a join set
 * @cx: the context of this poll
 * @ret_jh: (out) (transfer full) (optional): the join handle of the member collected,
 *   or %NULL
 *
 * Like asyncrt_join_set_join_next_poll(), but hands over the finished member's join
 * handle instead of freeing it: read the result with asyncrt_join_handle_get_future()
 * (unless asyncrt_join_handle_is_cancelled()), its id with
 * asyncrt_join_handle_get_id(), then free it with asyncrt_join_handle_free().
 *
 * Thread safety: the owner of @s.
 *
 * Returns: %ASYNCRT_READY with *@ret_jh set to a finished member's join handle, or to
 *   %NULL when the set is empty (and for a %NULL @s or @cx); %ASYNCRT_PENDING while
 *   every member is still running.
 * Since: 0.2
 */
AsyncrtPoll
asyncrt_join_set_join_next_handle_poll (AsyncrtJoinSet *s, AsyncrtContext *cx,
                                        AsyncrtJoinHandle **ret_jh)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_join_next (s);
      return ASYNCRT_PENDING;
    }
  AsyncrtJoinHandle *jh;
  if (join_next (s, cx, &jh) == ASYNCRT_PENDING)
    return ASYNCRT_PENDING;
  if (ret_jh != NULL)
    *ret_jh = jh;
  else
    asyncrt_join_handle_free (jh);
  return ASYNCRT_READY;
}

/**
 * asyncrt_join_set_len:
 * @s: (nullable): a join set
 *
 * The number of members not collected yet, running or finished.
 *
 * Thread safety: the owner of @s.
 *
 * Returns: the number of members (0 for %NULL).
 * Since: 0.2
 */
size_t
asyncrt_join_set_len (const AsyncrtJoinSet *s)
{
  return s != NULL ? s->len : 0;
}

/**
 * asyncrt_join_set_get_id:
 * @s: (nullable): a join set
 *
 * The set's id, unique in the process and never 0: task dumps show it as the group
 * of every member (asyncrt_dump_task_get_group_id()).
 *
 * Thread safety: any thread.
 *
 * Returns: the id, or 0 for %NULL.
 * Since: 0.2
 */
uint64_t
asyncrt_join_set_get_id (const AsyncrtJoinSet *s)
{
  return s != NULL ? s->id : 0;
}

/**
 * asyncrt_join_set_abort_all:
 * @s: (nullable): a join set
 *
 * Aborts every member that has not finished (see asyncrt_join_handle_abort()).  They
 * stay in the set until collected: keep calling asyncrt_join_set_join_next_poll()
 * until it reports 0 to wait for every cancellation to complete.  %NULL is ignored.
 *
 * Thread safety: the owner of @s.
 *
 * Since: 0.2
 */
void
asyncrt_join_set_abort_all (AsyncrtJoinSet *s)
{
  if (s == NULL)
    return;
  for (Entry *e = s->members; e != NULL; e = e->next)
    asyncrt_join_handle_abort (e->jh);
}

/**
 * asyncrt_join_set_free:
 * @s: (nullable): a join set
 *
 * Frees the set.  Members still running are aborted (their futures are freed when
 * their cancellation runs, as with asyncrt_join_handle_abort()); finished members not
 * yet collected are freed now.  A waker stored by a pending
 * asyncrt_join_set_join_next_poll() is released.  %NULL is ignored.
 *
 * Thread safety: the owner of @s, not while @s is being polled.
 *
 * Since: 0.2
 */
void
asyncrt_join_set_free (AsyncrtJoinSet *s)
{
  if (s == NULL)
    return;
  Core *c = s->core;
  pthread_mutex_lock (&c->lock);
  c->closed = true;
  c->done_head = c->done_tail = NULL;        /* every done entry is a member too */
  AsyncrtWaker w = c->waker;
  c->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  pthread_mutex_unlock (&c->lock);
  asyncrt_waker_free (&w);

  Entry *e = s->members;
  while (e != NULL)
    {
      Entry *next = e->next;
      asyncrt_join_handle_abort (e->jh);
      asyncrt_join_handle_free (e->jh);
      entry_unref (e);
      e = next;
    }
  core_unref (c);
  free (s);
}
