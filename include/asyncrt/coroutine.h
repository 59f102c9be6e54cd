/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_COROUTINE_H
#define ASYNCRT_COROUTINE_H

#include <asyncrt/future.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:coroutine
 * @title: Async functions
 * @short_description: stackless coroutines: ASYNCRT_BEGIN, ASYNCRT_AWAIT, ASYNCRT_END
 *
 * An async function is a future whose poll function is written as a stackless
 * coroutine: the resume point lives in an #AsyncrtCoroutine inside the future's
 * state, and each ASYNCRT_AWAIT() returns %ASYNCRT_PENDING until the awaited
 * expression is %ASYNCRT_READY, resuming there at the next poll.
 *
 * |[<!-- language="C" -->
 * typedef struct { AsyncrtCoroutine co; AsyncrtSleep sleep; int i; } Ticker;
 *
 * static AsyncrtPoll
 * ticker_poll (void *p, AsyncrtContext *cx)
 * {
 *   Ticker *self = p;
 *   ASYNCRT_BEGIN (&self->co);
 *   for (self->i = 0; self->i < 3; self->i++)
 *     {
 *       asyncrt_sleep_init (&self->sleep, 100);
 *       ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->sleep, cx));
 *     }
 *   ASYNCRT_END (&self->co);
 * }
 * ]|
 *
 * A zero-initialised #AsyncrtCoroutine is at the start, so calloc()ed state is ready
 * to poll.  After ASYNCRT_END() the coroutine stays finished: polling again returns
 * %ASYNCRT_READY at once.
 *
 * <emphasis>Locals do not survive an await.</emphasis>  The poll function returns at
 * every ASYNCRT_AWAIT() that is not ready, and its C locals are gone; when it resumes,
 * it jumps back into the middle of the function and the locals hold garbage.  Keep
 * every variable whose value must live across an await in the state struct.  The
 * mistake looks like this:
 *
 * |[<!-- language="C" --><!-- sample: ignore the mistake, shown on purpose -->
 * Ticker *self = p;
 * int i;                          // WRONG: a local
 * ASYNCRT_BEGIN (&self->co);
 * for (i = 0; i < 3; i++)
 *   ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->sleep, cx));
 * // after the first resume, i is indeterminate: the loop may run forever
 * ASYNCRT_END (&self->co);
 * ]|
 *
 * Write `self->i` instead, as in the first example.  For the same reason the macros
 * cannot be used inside a `switch` statement of your own that spans an await, and a
 * poll function may contain only one ASYNCRT_BEGIN() / ASYNCRT_END() pair.
 * ASYNCRT_AWAIT() and ASYNCRT_YIELD_PENDING() must appear directly in the poll
 * function between them (not in a nested function), at most one per source line
 * (the line number is the resume point).
 *
 * The macros compile without warnings under `-Wall -Wextra` (including
 * `-Wimplicit-fallthrough`) and work in C and C++; in C++, do not jump over the
 * initialisation of a local with an await (the compiler refuses it, as it should).
 */

/**
 * AsyncrtCoroutine:
 *
 * The resume point of an async function.  Embed it in the future's state; zero means
 * "at the start".  Its fields are private.
 */
typedef struct _AsyncrtCoroutine AsyncrtCoroutine;
struct _AsyncrtCoroutine
{
  /*< private >*/
  int line;
};

/* Resume point -1 is "finished". */
#define _ASYNCRT_CORO_DONE (-1)

#if defined(__cplusplus) && __cplusplus >= 201703L
#define _ASYNCRT_FALLTHROUGH [[fallthrough]]
#elif (defined(__GNUC__) && __GNUC__ >= 7) || (defined(__clang__) && __clang_major__ >= 10)
#define _ASYNCRT_FALLTHROUGH __attribute__((fallthrough))
#else
#define _ASYNCRT_FALLTHROUGH ((void) 0)
#endif

/**
 * ASYNCRT_BEGIN:
 * @co: pointer to the #AsyncrtCoroutine in the future's state
 *
 * Starts the body of an async function: jumps to the resume point saved in @co.
 * Pair it with ASYNCRT_END() at the end of the poll function.
 */
#define ASYNCRT_BEGIN(co) \
  switch ((co)->line) \
    { \
    case _ASYNCRT_CORO_DONE: \
      return ASYNCRT_READY; \
    case 0:

/**
 * ASYNCRT_AWAIT:
 * @co: pointer to the #AsyncrtCoroutine
 * @expr: an expression of type #AsyncrtPoll, typically a sub-future's poll call
 *
 * Evaluates @expr; if it is %ASYNCRT_PENDING, saves the resume point and returns
 * %ASYNCRT_PENDING.  At the next poll @expr is evaluated again, until it is
 * %ASYNCRT_READY.
 */
#define ASYNCRT_AWAIT(co, expr) \
  do \
    { \
      (co)->line = __LINE__; \
      _ASYNCRT_FALLTHROUGH; \
    case __LINE__: \
      if ((expr) != ASYNCRT_READY) \
        return ASYNCRT_PENDING; \
    } \
  while (0)

/**
 * ASYNCRT_YIELD_PENDING:
 * @co: pointer to the #AsyncrtCoroutine
 *
 * Returns %ASYNCRT_PENDING once and resumes after this point at the next poll.  It
 * does not wake the task: arrange for a wake first (or use #AsyncrtYield).
 */
#define ASYNCRT_YIELD_PENDING(co) \
  do \
    { \
      (co)->line = __LINE__; \
      return ASYNCRT_PENDING; \
    case __LINE__:; \
    } \
  while (0)

/**
 * ASYNCRT_RETURN:
 * @co: pointer to the #AsyncrtCoroutine
 *
 * Finishes the async function early: marks @co finished and returns %ASYNCRT_READY.
 */
#define ASYNCRT_RETURN(co) \
  do \
    { \
      (co)->line = _ASYNCRT_CORO_DONE; \
      return ASYNCRT_READY; \
    } \
  while (0)

/**
 * ASYNCRT_END:
 * @co: pointer to the #AsyncrtCoroutine
 *
 * Ends the body of an async function: marks @co finished and returns
 * %ASYNCRT_READY.  Must be the last statement of the poll function.
 */
#define ASYNCRT_END(co) \
    } \
  (co)->line = _ASYNCRT_CORO_DONE; \
  return ASYNCRT_READY

/**
 * ASYNCRT_FORWARD:
 * @expr: an expression of type #AsyncrtPoll, typically the poll call of the one
 *   future this poll function forwards to
 *
 * Returns the value of @expr from the poll function, keeping that function's frame
 * on the stack while @expr runs, so it shows in task dumps.  Use it as the last
 * statement of a poll function that hands its poll on, instead of
 * `return inner_poll (…);`:
 *
 * |[<!-- language="C" -->
 * typedef struct { AsyncrtCoroutine co; AsyncrtSleep nap; } Request;
 * typedef struct { Request request; unsigned polls; } Handler;
 *
 * static AsyncrtPoll
 * read_request_poll (Request *self, AsyncrtContext *cx)
 * {
 *   ASYNCRT_BEGIN (&self->co);
 *   asyncrt_sleep_init (&self->nap, 10);
 *   ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->nap, cx));
 *   ASYNCRT_END (&self->co);
 * }
 *
 * static AsyncrtPoll
 * handler_poll (void *p, AsyncrtContext *cx)
 * {
 *   Handler *self = p;
 *   self->polls++;
 *   ASYNCRT_FORWARD (read_request_poll (&self->request, cx));
 * }
 * ]|
 *
 * An optimising compiler (GCC and Clang from -O2) turns `return inner_poll (…);` into
 * a jump that reuses the caller's frame (a sibling call): the forwarding function is
 * no longer on the stack while `inner_poll` runs, and a dump's async call stack skips
 * it.  Coroutines written with ASYNCRT_AWAIT() never need this (the awaited result is
 * compared before returning); hand-written poll functions that end in a forwarding
 * call do.  The result goes through a `volatile` local, which the compiler must
 * store after the call returns: one store and one load.  Works in C (C11, `-pedantic`)
 * and C++.
 *
 * Since: 0.2
 */
#define ASYNCRT_FORWARD(expr) \
  do \
    { \
      AsyncrtPoll volatile asyncrt_forward_result_ = (expr); \
      return asyncrt_forward_result_; \
    } \
  while (0)

/**
 * asyncrt_coroutine_is_done:
 * @co: a coroutine
 *
 * Tells whether an async function has run to its end; polling it again would return
 * %ASYNCRT_READY at once.
 *
 * Returns: whether the async function has finished (reached ASYNCRT_END() or
 *   ASYNCRT_RETURN()).
 */
#define asyncrt_coroutine_is_done(co) ((co)->line == _ASYNCRT_CORO_DONE)

/**
 * asyncrt_coroutine_reset:
 * @co: a coroutine
 *
 * Puts the coroutine back at its start.
 */
#define asyncrt_coroutine_reset(co) ((void) ((co)->line = 0))

ASYNCRT_END_DECLS

#endif /* ASYNCRT_COROUTINE_H */
