/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_CANCEL_H
#define ASYNCRT_CANCEL_H

#include <asyncrt/future.h>
#include <asyncrt/sync.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:cancel
 * @title: Cancellation tokens
 * @short_description: trees of tokens that tell tasks to stop
 *
 * An #AsyncrtCancelToken is a flag that can be raised once, from any thread, and
 * awaited by any number of tasks — Tokio's `CancellationToken`.  Tokens form a tree:
 * asyncrt_cancel_token_new_child() makes a token that is cancelled when its parent
 * is (or when it is cancelled itself), while cancelling a child leaves its parent
 * and siblings alone.  A server typically has one root token, a child per listener
 * and a grandchild per connection: cancelling the root stops everything, cancelling
 * one connection's token stops that connection.
 *
 * Cancellation is cooperative: a task learns about it by polling an #AsyncrtCancelled
 * future (typically next to the operation it is waiting for) or by checking
 * asyncrt_cancel_token_is_cancelled(), and then winds down its own way.  To stop a
 * task by force, abort it (asyncrt_join_handle_abort(), asyncrt_join_set_abort_all()).
 *
 * |[<!-- language="C" -->
 * typedef struct
 * {
 *   AsyncrtCoroutine co;
 *   AsyncrtCancelToken *token;      // this session's token, a child of the server's
 *   AsyncrtCancelled stop;
 *   AsyncrtFd conn;
 *   char buf[4096];
 *   int64_t n;
 * } Session;
 *
 * static AsyncrtPoll
 * session_poll (void *p, AsyncrtContext *cx)
 * {
 *   Session *self = p;
 *   ASYNCRT_BEGIN (&self->co);
 *   asyncrt_cancelled_init (&self->stop, self->token);   // takes a reference
 *   for (;;)
 *     {
 *       if (asyncrt_cancelled_poll (&self->stop, cx) == ASYNCRT_READY)
 *         break;                                          // told to stop
 *       if (asyncrt_fd_read_poll (&self->conn, cx, self->buf, sizeof self->buf,
 *                                 &self->n) == ASYNCRT_PENDING)
 *         {
 *           ASYNCRT_YIELD_PENDING (&self->co);            // both registered their wakers
 *           continue;
 *         }
 *       if (self->n <= 0)
 *         break;                                          // end of file or error
 *       // ... use the self->n bytes of self->buf ...
 *     }
 *   asyncrt_cancelled_clear (&self->stop);
 *   asyncrt_fd_close (&self->conn);
 *   ASYNCRT_END (&self->co);
 * }
 * ]|
 *
 * Tokens are reference counted: asyncrt_cancel_token_new() and
 * asyncrt_cancel_token_new_child() return a reference, asyncrt_cancel_token_ref()
 * takes another, asyncrt_cancel_token_unref() drops one.  A child keeps its parent
 * alive; an #AsyncrtCancelled keeps its token alive until it is cleared.  Every
 * function may be called from any thread.
 */

/**
 * AsyncrtCancelToken:
 *
 * A cancellation token.  Opaque and reference counted.
 *
 * Since: 0.2
 */
typedef struct _AsyncrtCancelToken AsyncrtCancelToken;

/**
 * AsyncrtCancelled:
 *
 * The leaf future that waits for a token to be cancelled.  Embeddable; its fields are
 * private.  Initialise it with asyncrt_cancelled_init(), poll it with
 * asyncrt_cancelled_poll(), release it with asyncrt_cancelled_clear() — which is
 * also safe on a zero-filled #AsyncrtCancelled that was never initialised.
 *
 * Since: 0.2
 */
typedef struct _AsyncrtCancelled AsyncrtCancelled;
struct _AsyncrtCancelled
{
  /*< private >*/
  AsyncrtCancelToken *token;
  AsyncrtSyncWaiter waiter;
  void *reserved[4];
};

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtCancelToken *asyncrt_cancel_token_new (void);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtCancelToken *asyncrt_cancel_token_new_child (AsyncrtCancelToken *parent);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtCancelToken *asyncrt_cancel_token_ref (AsyncrtCancelToken *t);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_cancel_token_unref (AsyncrtCancelToken *t);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_cancel_token_cancel (AsyncrtCancelToken *t);

ASYNCRT_AVAILABLE_IN_0_2
bool asyncrt_cancel_token_is_cancelled (const AsyncrtCancelToken *t);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_cancelled_init (AsyncrtCancelled *w, AsyncrtCancelToken *t);

ASYNCRT_AVAILABLE_IN_0_2
AsyncrtPoll asyncrt_cancelled_poll (AsyncrtCancelled *w, AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_cancelled_clear (AsyncrtCancelled *w);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_CANCEL_H */
