/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_TRACE_H
#define ASYNCRT_TRACE_H

#include <asyncrt/future.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:trace
 * @title: Tracing
 * @short_description: async call stacks of suspended futures
 */

/**
 * AsyncrtTraceRoot:
 *
 * The root of a traced future: it marks where a task's async call stack begins.
 * Embeddable; its fields are private.
 */
typedef struct _AsyncrtTraceRoot AsyncrtTraceRoot;
struct _AsyncrtTraceRoot
{
  /*< private >*/
  AsyncrtPollFunc poll;
  void *future;
  void *reserved[4];
};

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_trace_root_init (AsyncrtTraceRoot *root, AsyncrtPollFunc poll, void *future);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_trace_root_poll (void *root, AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_trace_leaf (AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_trace_is_tracing (void);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_TRACE_H */
