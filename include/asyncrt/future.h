/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_FUTURE_H
#define ASYNCRT_FUTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asyncrt/macros.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:future
 * @title: Futures and wakers
 * @short_description: the poll protocol, contexts and wakers
 *
 * A future is a state struct plus an #AsyncrtPollFunc.  Polling it either finishes
 * (%ASYNCRT_READY) or, before returning %ASYNCRT_PENDING, arranges for the waker of
 * the #AsyncrtContext it was polled with to be woken when progress is possible.
 *
 * Wakers are two words (a vtable and a data pointer) passed by value, as in Rust's
 * `RawWaker`.  A waker obtained with asyncrt_waker_clone() owns a reference and must
 * be consumed exactly once, by asyncrt_waker_wake() or asyncrt_waker_free().  These
 * functions are what a user needs to write leaf futures of their own; such a leaf
 * should start its poll function with asyncrt_trace_leaf() so that it shows in task
 * dumps.
 */

/**
 * AsyncrtPoll:
 * @ASYNCRT_PENDING: the future cannot finish yet; the context's waker will be woken
 * @ASYNCRT_READY: the future has finished
 *
 * The result of polling a future.
 */
typedef enum
{
  ASYNCRT_PENDING = 0,
  ASYNCRT_READY = 1
} AsyncrtPoll;

/**
 * AsyncrtContext:
 *
 * The context a future is polled with.  It carries the waker of the task (or of the
 * `block_on` call) that is polling.  It is only valid for the duration of one poll.
 */
typedef struct _AsyncrtContext AsyncrtContext;

/**
 * AsyncrtPollFunc:
 * @future: the future's state
 * @cx: the context of this poll
 *
 * Polls a future once.
 *
 * Returns: %ASYNCRT_READY when finished, %ASYNCRT_PENDING otherwise.
 */
typedef AsyncrtPoll (*AsyncrtPollFunc) (void *future, AsyncrtContext *cx);

/**
 * AsyncrtFreeFunc:
 * @future: the future's state
 *
 * Frees a future's state.  Called exactly once per spawned task.
 */
typedef void (*AsyncrtFreeFunc) (void *future);

/**
 * AsyncrtTaskId:
 *
 * A task identifier: unique within the process, never 0.
 */
typedef uint64_t AsyncrtTaskId;

/**
 * AsyncrtWakerVTable:
 * @clone: returns the data of a new reference to the same waker
 * @wake: wakes and consumes the reference held by @data
 * @wake_by_ref: wakes without consuming the reference
 * @drop: releases the reference held by @data
 *
 * The operations behind an #AsyncrtWaker.  Every function must be safe to call from
 * any thread.
 */
typedef struct _AsyncrtWakerVTable AsyncrtWakerVTable;
struct _AsyncrtWakerVTable
{
  void *(*clone) (void *data);
  void (*wake) (void *data);
  void (*wake_by_ref) (void *data);
  void (*drop) (void *data);
};

/**
 * AsyncrtWaker:
 * @vtable: the operations, or %NULL for the empty waker
 * @data: the data passed to each operation
 *
 * A handle that wakes a task.  Treat the fields as read-only; use the
 * `asyncrt_waker_*` functions.  A zero-initialised waker is empty: waking or freeing
 * it does nothing.
 */
typedef struct _AsyncrtWaker AsyncrtWaker;
struct _AsyncrtWaker
{
  const AsyncrtWakerVTable *vtable;
  void *data;
};

/**
 * ASYNCRT_WAKER_INIT:
 *
 * Initialiser for an empty #AsyncrtWaker.
 */
#define ASYNCRT_WAKER_INIT { NULL, NULL }

ASYNCRT_AVAILABLE_IN_0_1
const AsyncrtWaker *asyncrt_context_get_waker (AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtContext *asyncrt_context_new (const AsyncrtWaker *waker);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_context_free (AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_waker_init (AsyncrtWaker *waker, const AsyncrtWakerVTable *vtable, void *data);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtWaker asyncrt_waker_clone (const AsyncrtWaker *waker);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_waker_wake (AsyncrtWaker *waker);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_waker_wake_by_ref (const AsyncrtWaker *waker);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_waker_free (AsyncrtWaker *waker);

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_waker_will_wake (const AsyncrtWaker *a, const AsyncrtWaker *b);

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_waker_is_empty (const AsyncrtWaker *waker);

ASYNCRT_AVAILABLE_IN_0_1
const AsyncrtWaker *asyncrt_waker_noop (void);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_FUTURE_H */
