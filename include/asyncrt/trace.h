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

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_trace_leaf (AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_trace_is_tracing (void);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_TRACE_H */
