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
 * AsyncrtTraceRoot:
 *
 * The root of a traced future: it marks where a task's async call stack begins.
 * Embeddable (e.g. in a task or on the stack); its fields are private.  Initialise
 * it with asyncrt_trace_root_init() and poll it with asyncrt_trace_root_poll().
 */
typedef struct _AsyncrtTraceRoot AsyncrtTraceRoot;
struct _AsyncrtTraceRoot
{
  /*< private >*/
  AsyncrtPollFunc poll;
  void *future;
  void *reserved[4];
};

/**
 * AsyncrtTrace:
 *
 * The backtraces captured while one function ran inside asyncrt_trace_capture(): one
 * #AsyncrtBacktrace per leaf future reached.  Opaque; free with asyncrt_trace_free().
 */
typedef struct _AsyncrtTrace AsyncrtTrace;

/**
 * AsyncrtBacktrace:
 *
 * The async call stack of one leaf future: its frames, innermost (the leaf future's
 * poll function) first, up to and excluding the trace root.  Owned by its
 * #AsyncrtTrace.
 */
typedef struct _AsyncrtBacktrace AsyncrtBacktrace;

/**
 * AsyncrtBacktraceFrame:
 *
 * One native stack frame of an #AsyncrtBacktrace: an instruction pointer and the
 * symbols it resolves to (more than one when functions were inlined into the
 * frame).  Owned by its #AsyncrtTrace.
 */
typedef struct _AsyncrtBacktraceFrame AsyncrtBacktraceFrame;

/**
 * AsyncrtBacktraceSymbol:
 *
 * One function of a frame: its name and source location.  Owned by the library's
 * symbol cache; valid for as long as the #AsyncrtTrace it was obtained from.
 */
typedef struct _AsyncrtBacktraceSymbol AsyncrtBacktraceSymbol;

/**
 * AsyncrtTraceFunc:
 * @data: the user data passed to asyncrt_trace_capture()
 *
 * The function asyncrt_trace_capture() runs with tracing enabled; typically it polls
 * one future (wrapped in an #AsyncrtTraceRoot) once.
 */
typedef void (*AsyncrtTraceFunc) (void *data);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_trace_root_init (AsyncrtTraceRoot *root, AsyncrtPollFunc poll, void *future);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtPoll asyncrt_trace_root_poll (void *root, AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_trace_leaf (AsyncrtContext *cx);

ASYNCRT_AVAILABLE_IN_0_1
bool asyncrt_trace_is_tracing (void);

ASYNCRT_AVAILABLE_IN_0_1
AsyncrtTrace *asyncrt_trace_capture (AsyncrtTraceFunc func, void *data);

ASYNCRT_AVAILABLE_IN_0_1
void asyncrt_trace_free (AsyncrtTrace *t);

ASYNCRT_AVAILABLE_IN_0_1
int asyncrt_trace_resolve (AsyncrtTrace *t);

ASYNCRT_AVAILABLE_IN_0_1
char *asyncrt_trace_to_string (const AsyncrtTrace *t);

ASYNCRT_AVAILABLE_IN_0_1
char *asyncrt_trace_to_json (const AsyncrtTrace *t);

ASYNCRT_AVAILABLE_IN_0_1
size_t asyncrt_trace_get_n_backtraces (const AsyncrtTrace *t);

ASYNCRT_AVAILABLE_IN_0_1
const AsyncrtBacktrace *asyncrt_trace_get_backtrace (const AsyncrtTrace *t, size_t i);

ASYNCRT_AVAILABLE_IN_0_1
size_t asyncrt_backtrace_get_n_frames (const AsyncrtBacktrace *bt);

ASYNCRT_AVAILABLE_IN_0_1
const AsyncrtBacktraceFrame *asyncrt_backtrace_get_frame (const AsyncrtBacktrace *bt, size_t i);

ASYNCRT_AVAILABLE_IN_0_1
uintptr_t asyncrt_backtrace_frame_get_ip (const AsyncrtBacktraceFrame *f);

ASYNCRT_AVAILABLE_IN_0_1
uintptr_t asyncrt_backtrace_frame_get_symbol_address (const AsyncrtBacktraceFrame *f);

ASYNCRT_AVAILABLE_IN_0_1
size_t asyncrt_backtrace_frame_get_n_symbols (const AsyncrtBacktraceFrame *f);

ASYNCRT_AVAILABLE_IN_0_1
const AsyncrtBacktraceSymbol *asyncrt_backtrace_frame_get_symbol (const AsyncrtBacktraceFrame *f,
                                                                  size_t i);

ASYNCRT_AVAILABLE_IN_0_1
const char *asyncrt_backtrace_symbol_get_name (const AsyncrtBacktraceSymbol *s);

ASYNCRT_AVAILABLE_IN_0_1
const char *asyncrt_backtrace_symbol_get_raw_name (const AsyncrtBacktraceSymbol *s);

ASYNCRT_AVAILABLE_IN_0_1
const char *asyncrt_backtrace_symbol_get_filename (const AsyncrtBacktraceSymbol *s);

ASYNCRT_AVAILABLE_IN_0_1
unsigned asyncrt_backtrace_symbol_get_lineno (const AsyncrtBacktraceSymbol *s);

ASYNCRT_AVAILABLE_IN_0_1
unsigned asyncrt_backtrace_symbol_get_colno (const AsyncrtBacktraceSymbol *s);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_TRACE_H */
