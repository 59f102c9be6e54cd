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
 *
 * While a task is polled, the C stack <emphasis>is</emphasis> its async call stack: every
 * async function
 * awaits its child by calling the child's poll function.  Tracing captures that stack
 * at each leaf future, up to the task's root, without running the task any further.
 *
 * - An #AsyncrtTraceRoot marks where a future's async call stack begins; the task
 *   harness and `block_on` poll every future through one.
 * - Every leaf future calls asyncrt_trace_leaf() first.  Outside a capture this costs
 *   one thread-local load; inside one it records the stack as raw instruction
 *   pointers and makes the leaf return %ASYNCRT_PENDING at once, before any state
 *   change (its stored waker stays registered).  asyncrt_trace_capture() then wakes
 *   the leaf's waker after the capture, so the future is polled again normally; a
 *   task dump wakes nothing (see the dump section).
 * - asyncrt_trace_capture() runs a function with tracing enabled and returns the
 *   #AsyncrtTrace: one #AsyncrtBacktrace per leaf reached, frames innermost first,
 *   each frame with one or more symbols (inlined functions are symbols of their
 *   caller's frame, innermost first).  Symbols are resolved with libdw on first
 *   access and cached per instruction pointer.
 *
 * |[<!-- language="C" -->
 * typedef struct { AsyncrtTraceRoot root; AsyncrtContext *cx; } Probe;
 *
 * static void
 * poll_once (void *data)
 * {
 *   Probe *p = data;
 *   asyncrt_trace_root_poll (&p->root, p->cx);
 * }
 *
 * static void
 * print_trace (AsyncrtPollFunc handler_poll, void *handler)
 * {
 *   Probe p = { .cx = asyncrt_context_new (NULL) };
 *   asyncrt_trace_root_init (&p.root, handler_poll, handler);
 *   AsyncrtTrace *trace = asyncrt_trace_capture (poll_once, &p);
 *   char *text = asyncrt_trace_to_string (trace);
 *   fputs (text, stderr);
 *   free (text);
 *   asyncrt_trace_free (trace);
 *   asyncrt_context_free (p.cx);
 * }
 * ]|
 *
 * prints, root side first, one node per line, three columns per level:
 *
 * |[<!-- language="plain" -->
 * ╼ handler_poll at examples/server.c:120:5
 * └╼ read_request_poll at examples/server.c:60:9
 *    ├╼ asyncrt_fd_readable_poll at lib/driver/io/fd.c:40:3
 *    └╼ asyncrt_sleep_poll at lib/driver/time/sleep.c:31:3
 * ]|
 *
 * A location prints as `file:line:col` (`file:line` without a column, `file` without
 * a line, `??` when unknown); a function that cannot be named prints as its address
 * (`0x…`).  File names are those recorded in DWARF, made relative to the compilation
 * directory when they lie below it.  Names and file names are escaped (control
 * characters, invalid UTF-8, terminal escapes), so every node is one line.
 *
 * A node is one function (name and file) under one parent: backtraces with a common
 * prefix share nodes, and the same function under a different caller or at a
 * different depth is a different node.  The line and column printed are where the
 * function is suspended — a property of the edge to each child — so a function
 * suspended at two awaits at once (a join polling two leaves from lines 10 and 11)
 * is one node listing both places, with both leaves as its children:
 *
 * |[<!-- language="plain" -->
 * ╼ join_poll at t.c:10:5, 11:5
 * ├╼ asyncrt_sleep_poll at lib/driver/time/sleep.c:31:3
 * └╼ gate_poll at g.c:7:3
 * ]|
 *
 * Siblings and places keep the order in which they were first captured.  A
 * backtrace cut at the walk limit (asyncrt_backtrace_is_truncated()) lacks its root
 * side; it hangs below a first line `╼ … (cut: the stack walk stops at 8192 frames)`.
 *
 * A poll function that ends in `return inner_poll (…);` may be compiled into a jump
 * and be missing from traces at `-O2`; end it with ASYNCRT_FORWARD() instead.
 *
 * ## JSON schema, version 1
 *
 * asyncrt_trace_to_json() returns one object:
 * |[<!-- language="plain" -->
 * {
 *   "version": 1,
 *   "backtraces": [                      // in capture order
 *     { "truncated": false,              // cut at the walk limit (since 0.2)
 *       "frames": [                      // innermost first
 *         { "ip": "0x55d0c0de1234",      // hex string (64-bit safe)
 *           "symbol_address": "0x55d0c0de1200" | null,
 *           "symbols": [                 // innermost inlined first
 *             { "name": "c_poll", "file": "src/c.c" | null, "line": 12,
 *               "column": 5, "raw_name": "c_poll" } ] } ] } ],
 *   "tree": [ NODE, … ]                  // roots, in order of first appearance
 * }
 * NODE = { "name": …, "file": … | null, "line": N, "column": N,
 *          "locations": [ { "line": N, "column": N }, … ],   // since 0.2
 *          "truncated": true,            // only on the root above cut backtraces
 *          "children": [ NODE, … ] }
 * ]|
 * A node's "locations" are the places the function is suspended at, in order of
 * first appearance; "line" and "column" repeat the first one.  The root above
 * backtraces cut at the walk limit has the name "…", no file, and "truncated": true.
 * Unknown lines and columns are 0.  Later versions only add members; a consumer
 * must ignore members it does not know and check "version".
 *
 * ## How stacks are walked
 *
 * A capture never walks past its root.  Two walkers exist (x86-64):
 *
 * - <emphasis>By unwind rules</emphasis> (a few nanoseconds a frame): each return
 *   address between the leaf and the root is followed by the rule the DWARF call
 *   frame information (`.eh_frame`) gives for its call — the caller's frame lies at
 *   a fixed offset from the stack pointer or the frame pointer, and the frame
 *   pointer is kept or saved in a slot — so code with and without frame pointers
 *   (the usual `-O2` builds), and variable-size frames, are all walked this way.
 *   The rules are learnt when an address is symbolised (the first time a trace
 *   through it is resolved or formatted, e.g. a dump's first text or JSON) and are
 *   remembered until a module is unloaded; until then, captures through an address
 *   use libunwind.  Every slot read must lie within the thread's stack, below the
 *   root, above the frame before; an address whose rule is anything else (a signal
 *   frame, a computed frame address, no call frame information), or a walk that
 *   fails a check, makes that capture use libunwind: this walk can neither crash
 *   nor lose a frame.
 * - <emphasis>libunwind</emphasis> (its cached fast path, `unw_backtrace`): for
 *   addresses whose rule is not learnt yet or not followable, other
 *   architectures, and builds with AddressSanitizer or ThreadSanitizer (where it
 *   steps with `unw_step`).  It walks as many frames as the thread's previous
 *   capture needed to reach its root, and again deeper only when the root is not
 *   among them.
 *
 * Both give the same frames.  A task dump captures into one store per tracing
 * thread: identical stacks (the same instruction pointers) are kept once per thread
 * and shared by the backtraces of every task suspended there, and every distinct
 * trace is known to the dump once, so its tree is built and formatted once per
 * dump rather than once per task (`make bench` prints the share of captures walked
 * by rules and both walkers' costs).
 *
 * Limits: a capture walks at most %ASYNCRT_TRACE_MAX_FRAMES (8192) native frames
 * looking for its root (deeper stacks are marked truncated); stacks that are not
 * walkable with DWARF CFI (hand-written assembly without CFI, foreign
 * coroutine stacks) are cut where the unwinder stops.  Debug information is read
 * from the modules themselves and from the build-id tree under the standard debug
 * directories, never from the network (debuginfod).
 */

/**
 * ASYNCRT_TRACE_MAX_FRAMES:
 *
 * How many native stack frames a leaf future's capture walks at most, looking for
 * its trace root.  A deeper async call stack keeps its innermost frames and is
 * marked truncated (asyncrt_backtrace_is_truncated()).
 *
 * Since: 0.2
 */
#define ASYNCRT_TRACE_MAX_FRAMES 8192

/**
 * AsyncrtTraceRoot:
 *
 * The root of a traced future: it marks where a task's async call stack begins.
 * Embeddable (e.g. in a task or on the stack); its fields are private.  Initialise
 * it with asyncrt_trace_root_init() and poll it with asyncrt_trace_root_poll().  It
 * holds nothing, so it has no <literal>_clear</literal>: drop it at any point.
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

/**
 * AsyncrtTraceKind:
 * @ASYNCRT_TRACE_KIND_NONE: no trace
 * @ASYNCRT_TRACE_KIND_ASYNC: async call stacks, one backtrace per leaf future the
 *   task's trace poll reached (a task that was waiting)
 * @ASYNCRT_TRACE_KIND_NATIVE: one backtrace: the native stack of the thread that was
 *   running the task, sampled with a signal while it ran (see "Native stacks" in the
 *   dump section); innermost frame first, the scheduler's own frames above the task's
 *   root cut off
 *
 * What the trace of a task of a dump is (asyncrt_dump_task_get_trace_kind()).  Both
 * kinds are #AsyncrtTrace objects, read and formatted the same way.
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_TRACE_KIND_NONE = 0,
  ASYNCRT_TRACE_KIND_ASYNC = 1,
  ASYNCRT_TRACE_KIND_NATIVE = 2
} AsyncrtTraceKind;

/**
 * AsyncrtNativeStackStatus:
 * @ASYNCRT_NATIVE_STACK_OK: the thread was sampled: its native stack is there
 * @ASYNCRT_NATIVE_STACK_NOT_SAMPLED: nothing was sampled here: the task was not
 *   running, or the dump was a census taken with timeout 0 (which asks no thread
 *   anything), or the thread to sample was the one taking the dump
 * @ASYNCRT_NATIVE_STACK_DISABLED: native stacks are turned off for the runtime
 *   (asyncrt_builder_set_sample_signal() with 0, or `ASYNCRT_SAMPLE_SIGNAL=none`)
 * @ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE: the program handles (or ignores) the sampling
 *   signal itself; the library leaves it alone
 * @ASYNCRT_NATIVE_STACK_UNSUPPORTED: native stacks are not available on this
 *   platform (they are on Linux x86-64)
 * @ASYNCRT_NATIVE_STACK_NO_ANSWER: the thread did not take the signal within the
 *   bounded wait (about 50 ms)
 * @ASYNCRT_NATIVE_STACK_SIGNAL_BLOCKED: the thread did not answer because it blocks
 *   the sampling signal (its signal mask)
 * @ASYNCRT_NATIVE_STACK_UNINTERRUPTIBLE: the thread did not answer because it is in
 *   an uninterruptible sleep (state D: a disk or NFS wait, a stuck driver)
 * @ASYNCRT_NATIVE_STACK_MOVED_ON: the task's poll had ended by the time its thread
 *   took the signal (the stack would have been another task's, or the scheduler's)
 * @ASYNCRT_NATIVE_STACK_NO_THREAD: the thread had exited, or the task ran on no
 *   known thread
 * @ASYNCRT_NATIVE_STACK_FAILED: the signal could not be sent, or the buffer for the
 *   stack could not be allocated
 *
 * Why a running task, a worker or a blocking job of a dump, or a stall, has a native
 * stack or not.  asyncrt_native_stack_status_to_string() phrases it.  New values may
 * be added in later versions.
 *
 * Since: 0.2
 */
typedef enum
{
  ASYNCRT_NATIVE_STACK_OK = 0,
  ASYNCRT_NATIVE_STACK_NOT_SAMPLED = 1,
  ASYNCRT_NATIVE_STACK_DISABLED = 2,
  ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE = 3,
  ASYNCRT_NATIVE_STACK_UNSUPPORTED = 4,
  ASYNCRT_NATIVE_STACK_NO_ANSWER = 5,
  ASYNCRT_NATIVE_STACK_SIGNAL_BLOCKED = 6,
  ASYNCRT_NATIVE_STACK_UNINTERRUPTIBLE = 7,
  ASYNCRT_NATIVE_STACK_MOVED_ON = 8,
  ASYNCRT_NATIVE_STACK_NO_THREAD = 9,
  ASYNCRT_NATIVE_STACK_FAILED = 10
} AsyncrtNativeStackStatus;

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

ASYNCRT_AVAILABLE_IN_0_2
bool asyncrt_backtrace_is_truncated (const AsyncrtBacktrace *bt);

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

ASYNCRT_AVAILABLE_IN_0_2
const char *asyncrt_native_stack_status_to_string (AsyncrtNativeStackStatus status);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_TRACE_H */
