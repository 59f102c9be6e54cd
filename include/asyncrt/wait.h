/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_WAIT_H
#define ASYNCRT_WAIT_H

#include <asyncrt/future.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:wait
 * @title: Waits
 * @short_description: what a traced leaf future waits on, and who holds it
 *
 * When a task is traced (a task dump), every leaf future it reaches records, next to
 * its backtrace, <emphasis>what</emphasis> it waits on: an #AsyncrtWait with its
 * kind (#AsyncrtWaitKind), the object (the mutex, channel, fd…) and the object's name
 * if the program gave it one (asyncrt_mutex_set_name() and the like), the task that
 * holds the object where that is known for certain, how long the task has waited,
 * and the facts of its kind (#AsyncrtWaitFact): a sleep's remaining time, an fd and
 * its direction, a channel's length, capacity and live senders, a semaphore's free
 * and requested permits, a mutex's hold time…  A task dump keeps one wait per leaf
 * (asyncrt_dump_task_get_n_waits(), asyncrt_dump_task_get_wait()), builds the
 * wait-for graph from them and names deadlocks (asyncrt_dump_get_n_deadlocks()).
 *
 * Holders are recorded where that is cheap and certain, never guessed:
 *
 * - an #AsyncrtMutex records the task that locked it (or was handed it by an
 *   unlock) and since when, and forgets it when it is unlocked — also by the free
 *   function of a cancelled holder.  A mutex locked outside any task (a `block_on`
 *   future, a plain thread) has no holder task: holder 0;
 * - an #AsyncrtSemaphore records one holder task and its permits
 *   (%ASYNCRT_WAIT_FACT_HOLDER_PERMITS); permits taken outside a task or by a
 *   second task at once, or given back by another task than the one that took them,
 *   make %ASYNCRT_WAIT_FACT_OTHER_HOLDERS 1: other holders exist or may exist, and
 *   the dump draws no conclusion from the semaphore;
 * - joining a task (asyncrt_join_handle_poll()) waits for that task: its id is the
 *   holder.
 *
 * Recording costs plain stores under the lock the primitive takes anyway; no atomic
 * read-modify-write is added to any path.
 *
 * A leaf future of your own describes itself the same way: after
 * asyncrt_trace_leaf() returned %TRUE, call asyncrt_trace_leaf_set_wait() (and, if
 * you know them, asyncrt_trace_leaf_set_wait_holder() and
 * asyncrt_trace_leaf_set_wait_fact()) before returning %ASYNCRT_PENDING; a leaf that
 * says nothing has a wait of kind %ASYNCRT_WAIT_UNKNOWN.
 *
 * |[<!-- language="C" -->
 * typedef struct { int fd; const char *what; } Gate;
 *
 * static AsyncrtPoll
 * gate_poll (Gate *g, AsyncrtContext *cx)
 * {
 *   if (asyncrt_trace_leaf (cx))
 *     {
 *       asyncrt_trace_leaf_set_wait (ASYNCRT_WAIT_FD, (uintptr_t) g, g->what);
 *       asyncrt_trace_leaf_set_wait_fact (ASYNCRT_WAIT_FACT_FD, g->fd);
 *       asyncrt_trace_leaf_set_wait_fact (ASYNCRT_WAIT_FACT_DIRECTION,
 *                                         ASYNCRT_WAIT_DIRECTION_READ);
 *       return ASYNCRT_PENDING;
 *     }
 *   // ... the real poll: register the waker, return ASYNCRT_PENDING or ASYNCRT_READY
 *   return ASYNCRT_READY;
 * }
 * ]|
 *
 * In the text form of a dump each wait is written next to its leaf, after a dash:
 *
 * |[<!-- language="plain" -->
 * task 8 idle, name "session", spawned at server.c:306 (server_poll), parent 3, idle 482.856 ms, 12 polls
 *   ╼ session_poll at server.c:174:7
 *   └╼ handle_request_poll at server.c:113:3
 *      └╼ asyncrt_mutex_lock_poll at lib/sync/mutex.c:160:7 — waits for mutex "store" held by task 2 for 490.127 ms (waiting 482.856 ms)
 * ]|
 */

/**
 * AsyncrtWaitKind:
 * @ASYNCRT_WAIT_UNKNOWN: a leaf future that gave no description (a user-written leaf
 *   that did not call asyncrt_trace_leaf_set_wait())
 * @ASYNCRT_WAIT_YIELD: asyncrt_yield_poll(): the task gave others a turn and runs
 *   again at once
 * @ASYNCRT_WAIT_SLEEP: asyncrt_sleep_poll() (also inside an #AsyncrtTimeout): facts
 *   %ASYNCRT_WAIT_FACT_REMAINING_NS
 * @ASYNCRT_WAIT_FD: fd readiness (asyncrt_fd_readable_poll() and the read, write,
 *   accept and connect futures built on it): facts %ASYNCRT_WAIT_FACT_FD and
 *   %ASYNCRT_WAIT_FACT_DIRECTION
 * @ASYNCRT_WAIT_NOTIFY: asyncrt_notified_poll(): the #AsyncrtNotify
 * @ASYNCRT_WAIT_ONESHOT: asyncrt_oneshot_recv_poll(): the channel, fact
 *   %ASYNCRT_WAIT_FACT_SENDERS (1 while the sender lives)
 * @ASYNCRT_WAIT_MPSC_RECV: asyncrt_mpsc_recv_poll(): facts
 *   %ASYNCRT_WAIT_FACT_LENGTH, %ASYNCRT_WAIT_FACT_CAPACITY, %ASYNCRT_WAIT_FACT_SENDERS,
 *   %ASYNCRT_WAIT_FACT_CLOSED
 * @ASYNCRT_WAIT_MPSC_SEND: asyncrt_mpsc_send_poll(): the same facts as
 *   %ASYNCRT_WAIT_MPSC_RECV
 * @ASYNCRT_WAIT_SEMAPHORE: asyncrt_semaphore_acquire_poll(): facts
 *   %ASYNCRT_WAIT_FACT_AVAILABLE, %ASYNCRT_WAIT_FACT_REQUESTED,
 *   %ASYNCRT_WAIT_FACT_CLOSED, and the recorded holder
 *   (%ASYNCRT_WAIT_FACT_HOLDER_PERMITS, %ASYNCRT_WAIT_FACT_OTHER_HOLDERS)
 * @ASYNCRT_WAIT_MUTEX: asyncrt_mutex_lock_poll(): the holder and
 *   %ASYNCRT_WAIT_FACT_HELD_NS
 * @ASYNCRT_WAIT_JOIN: asyncrt_join_handle_poll(): the holder is the joined task
 * @ASYNCRT_WAIT_BLOCKING: asyncrt_spawn_blocking()'s task, waiting for its function
 *   on the blocking pool: fact %ASYNCRT_WAIT_FACT_RUNNING
 * @ASYNCRT_WAIT_DUMP: asyncrt_dump_future_poll(): waiting for a task dump
 * @ASYNCRT_WAIT_JOIN_SET: asyncrt_join_set_join_next_poll() and
 *   asyncrt_join_set_join_next_handle_poll(): the join set (its id is
 *   %ASYNCRT_WAIT_FACT_GROUP_ID), fact %ASYNCRT_WAIT_FACT_MEMBERS
 * @ASYNCRT_WAIT_CANCELLED: asyncrt_cancelled_poll(): the #AsyncrtCancelToken
 * @ASYNCRT_WAIT_SIGNAL: asyncrt_signal_poll(): fact %ASYNCRT_WAIT_FACT_SIGNAL
 *
 * What a leaf future waits on.  New kinds may be added in later versions (after the
 * existing ones); treat a kind you do not know as %ASYNCRT_WAIT_UNKNOWN.
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_WAIT_UNKNOWN = 0,
  ASYNCRT_WAIT_YIELD = 1,
  ASYNCRT_WAIT_SLEEP = 2,
  ASYNCRT_WAIT_FD = 3,
  ASYNCRT_WAIT_NOTIFY = 4,
  ASYNCRT_WAIT_ONESHOT = 5,
  ASYNCRT_WAIT_MPSC_RECV = 6,
  ASYNCRT_WAIT_MPSC_SEND = 7,
  ASYNCRT_WAIT_SEMAPHORE = 8,
  ASYNCRT_WAIT_MUTEX = 9,
  ASYNCRT_WAIT_JOIN = 10,
  ASYNCRT_WAIT_BLOCKING = 11,
  ASYNCRT_WAIT_DUMP = 12,
  ASYNCRT_WAIT_JOIN_SET = 13,
  ASYNCRT_WAIT_CANCELLED = 14,
  ASYNCRT_WAIT_SIGNAL = 15
} AsyncrtWaitKind;

/**
 * AsyncrtWaitFact:
 * @ASYNCRT_WAIT_FACT_REMAINING_NS: sleep: nanoseconds until its deadline when the
 *   task was traced (negative: the deadline had passed and the wake is on its way)
 * @ASYNCRT_WAIT_FACT_FD: fd readiness: the file descriptor
 * @ASYNCRT_WAIT_FACT_DIRECTION: fd readiness: %ASYNCRT_WAIT_DIRECTION_READ or
 *   %ASYNCRT_WAIT_DIRECTION_WRITE
 * @ASYNCRT_WAIT_FACT_LENGTH: channel: messages queued
 * @ASYNCRT_WAIT_FACT_CAPACITY: channel: its capacity, 0 for unbounded
 * @ASYNCRT_WAIT_FACT_SENDERS: channel: live sender handles
 * @ASYNCRT_WAIT_FACT_CLOSED: channel or semaphore: 1 if closed
 * @ASYNCRT_WAIT_FACT_AVAILABLE: semaphore: free permits
 * @ASYNCRT_WAIT_FACT_REQUESTED: semaphore: permits the task asks for
 * @ASYNCRT_WAIT_FACT_HELD_NS: mutex: how long its holder has held it (present only
 *   when known: locked inside a task)
 * @ASYNCRT_WAIT_FACT_HOLDER_PERMITS: semaphore: permits held by the recorded holder
 *   (asyncrt_wait_get_holder_id())
 * @ASYNCRT_WAIT_FACT_OTHER_HOLDERS: semaphore: 1 if permits are, or may be, held by
 *   others than the recorded holder
 * @ASYNCRT_WAIT_FACT_READY: 1 when what the leaf waits for has arrived already (a
 *   lock or permit handed over, a message or notification delivered) and the task
 *   has been woken to take it; the task is not blocked
 * @ASYNCRT_WAIT_FACT_RUNNING: blocking call: 1 while its function runs on the
 *   blocking pool, 0 while it is queued
 * @ASYNCRT_WAIT_FACT_SIGNAL: signal: the signal number
 * @ASYNCRT_WAIT_FACT_MEMBERS: join set: members not collected yet
 * @ASYNCRT_WAIT_FACT_GROUP_ID: join set: its id (asyncrt_join_set_get_id())
 *
 * The facts a wait may carry, read with asyncrt_wait_get_fact().  Which ones a wait
 * has depends on its kind (see #AsyncrtWaitKind); new facts may be added in later
 * versions.
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_WAIT_FACT_REMAINING_NS = 1,
  ASYNCRT_WAIT_FACT_FD = 2,
  ASYNCRT_WAIT_FACT_DIRECTION = 3,
  ASYNCRT_WAIT_FACT_LENGTH = 4,
  ASYNCRT_WAIT_FACT_CAPACITY = 5,
  ASYNCRT_WAIT_FACT_SENDERS = 6,
  ASYNCRT_WAIT_FACT_CLOSED = 7,
  ASYNCRT_WAIT_FACT_AVAILABLE = 8,
  ASYNCRT_WAIT_FACT_REQUESTED = 9,
  ASYNCRT_WAIT_FACT_HELD_NS = 10,
  ASYNCRT_WAIT_FACT_HOLDER_PERMITS = 11,
  ASYNCRT_WAIT_FACT_OTHER_HOLDERS = 12,
  ASYNCRT_WAIT_FACT_READY = 13,
  ASYNCRT_WAIT_FACT_RUNNING = 14,
  ASYNCRT_WAIT_FACT_SIGNAL = 15,
  ASYNCRT_WAIT_FACT_MEMBERS = 16,
  ASYNCRT_WAIT_FACT_GROUP_ID = 17
} AsyncrtWaitFact;

/**
 * ASYNCRT_WAIT_DIRECTION_READ:
 *
 * The value of %ASYNCRT_WAIT_FACT_DIRECTION for a wait until an fd is readable (or
 * a listening socket has a connection).
 *
 * Since: 0.2
 */
#define ASYNCRT_WAIT_DIRECTION_READ 1

/**
 * ASYNCRT_WAIT_DIRECTION_WRITE:
 *
 * The value of %ASYNCRT_WAIT_FACT_DIRECTION for a wait until an fd is writable (or a
 * connection is established).
 *
 * Since: 0.2
 */
#define ASYNCRT_WAIT_DIRECTION_WRITE 2

/**
 * AsyncrtWait:
 *
 * What one traced leaf future waits on.  Opaque; owned by the dump (or trace) it was
 * obtained from, and immutable.
 *
 * Since: 0.2
 */
typedef struct _AsyncrtWait AsyncrtWait;

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtWaitKind asyncrt_wait_get_kind (const AsyncrtWait *w);

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_wait_kind_to_string (AsyncrtWaitKind kind);

ASYNCRT_AVAILABLE_IN_0_2
uintptr_t asyncrt_wait_get_object (const AsyncrtWait *w);

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_wait_get_object_name (const AsyncrtWait *w);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtTaskId asyncrt_wait_get_holder_id (const AsyncrtWait *w);

ASYNCRT_AVAILABLE_IN_0_2
uint64_t asyncrt_wait_get_waited_ns (const AsyncrtWait *w);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_wait_get_fact (const AsyncrtWait *w, AsyncrtWaitFact fact, int64_t *ret_value);

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_wait_fact_to_string (AsyncrtWaitFact fact);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_trace_leaf_set_wait (AsyncrtWaitKind kind, uintptr_t object, const char *name);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_trace_leaf_set_wait_holder (AsyncrtTaskId holder_id);

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_trace_leaf_set_wait_fact (AsyncrtWaitFact fact, int64_t value);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_WAIT_H */
