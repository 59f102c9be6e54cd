/* libasyncrt - traces, backtraces, frames and symbols (the public accessors)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads: a trace is built by the capturing thread and is immutable afterwards,
 * except for each frame's `info` pointer, which is filled lazily: loaded with acquire,
 * stored with release, and every racing thread stores the same canonical pointer from
 * the symbol cache, so concurrent readers of one trace are safe.
 */
#include "trace/trace-private.h"

#include <stdlib.h>
#include <string.h>

AsyncrtTrace *
asyncrt__trace_new (void)
{
  /* Containers are created on first use: an empty capture costs one allocation. */
  AsyncrtTrace *t = g_new0 (AsyncrtTrace, 1);
  t->backtraces = t->inline_slots;
  t->backtraces_size = G_N_ELEMENTS (t->inline_slots);
  return t;
}

void
asyncrt__trace_add_backtrace (AsyncrtTrace *t, AsyncrtBacktrace *bt)
{
  if (t->n_backtraces == t->backtraces_size)
    {
      t->backtraces_size *= 2;
      if (t->backtraces == t->inline_slots)
        {
          t->backtraces = g_new (AsyncrtBacktrace *, t->backtraces_size);
          memcpy (t->backtraces, t->inline_slots, sizeof t->inline_slots);
        }
      else
        t->backtraces = g_renew (AsyncrtBacktrace *, t->backtraces, t->backtraces_size);
    }
  t->backtraces[t->n_backtraces++] = bt;
}

/* One allocation per backtrace: the header followed by its frames. */
static AsyncrtBacktrace *
backtrace_new (AsyncrtTrace *t, size_t n)
{
  AsyncrtBacktrace *bt = g_malloc0 (sizeof (AsyncrtBacktrace) + n * sizeof (AsyncrtBacktraceFrame));
  bt->n_frames = n;
  bt->frames = (AsyncrtBacktraceFrame *) (void *) (bt + 1);
  asyncrt__trace_add_backtrace (t, bt);
  return bt;
}

AsyncrtBacktrace *
asyncrt__trace_append_ips (AsyncrtTrace *t, const uintptr_t *ips, size_t n)
{
  AsyncrtBacktrace *bt = backtrace_new (t, n);
  for (size_t i = 0; i < n; i++)
    bt->frames[i].ip = ips[i];
  return bt;
}

void
asyncrt__trace_append_resolved (AsyncrtTrace *t, const uintptr_t *ips,
                                AsyncrtTraceInfo **infos, size_t n)
{
  AsyncrtBacktrace *bt = backtrace_new (t, n);
  if (t->owned_infos == NULL)
    t->owned_infos = g_ptr_array_new_with_free_func (g_free);
  for (size_t i = 0; i < n; i++)
    {
      bt->frames[i].ip = ips != NULL ? ips[i] : 0;
      bt->frames[i].info = infos[i];
      g_ptr_array_add (t->owned_infos, infos[i]);
    }
}

const AsyncrtTraceInfo *
asyncrt__trace_frame_info (const AsyncrtBacktraceFrame *f)
{
  const AsyncrtTraceInfo *info = __atomic_load_n (&f->info, __ATOMIC_ACQUIRE);
  if (info == NULL)
    {
      info = asyncrt__symbol_resolve (f->ip);
      /* The frame is never const-defined: it lives in a heap-allocated backtrace. */
      __atomic_store_n ((const AsyncrtTraceInfo **) &((AsyncrtBacktraceFrame *) f)->info,
                        info, __ATOMIC_RELEASE);
    }
  return info;
}

/**
 * asyncrt_trace_free:
 * @t: (nullable): a trace
 *
 * Frees a trace and everything obtained from it.  %NULL is ignored, and so is a
 * trace of a dump (asyncrt_dump_task_get_trace()), which its dump frees.
 *
 * Thread safety: any thread, once no other thread uses @t.
 *
 * Since: 0.1
 */
void
asyncrt_trace_free (AsyncrtTrace *t)
{
  if (t == NULL || t->store != NULL)
    return;
  for (size_t i = 0; i < t->n_backtraces; i++)
    {
      g_free (t->backtraces[i]->wait.name);
      g_free (t->backtraces[i]);
    }
  if (t->backtraces != t->inline_slots)
    g_free (t->backtraces);
  if (t->owned_infos != NULL)
    g_ptr_array_free (t->owned_infos, TRUE);
  g_free (t);
}

/**
 * asyncrt_trace_resolve:
 * @t: a trace
 *
 * Resolves the symbols of every frame of @t now (libdw: function names, source
 * locations, inlined functions).  Accessors and formatters resolve lazily anyway;
 * call this to pay the cost at a time of your choosing, e.g. on the blocking pool.
 * Results are cached per instruction pointer for the life of the process, so a
 * second resolution of the same code is cheap.
 *
 * Thread safety: any thread; several threads may resolve traces (even the same one)
 * at once.
 *
 * Returns: 0, or -%EINVAL if @t is %NULL.
 * Since: 0.1
 */
int
asyncrt_trace_resolve (AsyncrtTrace *t)
{
  if (t == NULL)
    return -EINVAL;
  asyncrt__symbol_revalidate ();
  for (size_t i = 0; i < t->n_backtraces; i++)
    {
      const AsyncrtBacktrace *bt = t->backtraces[i];
      for (size_t j = 0; j < bt->n_frames; j++)
        asyncrt__trace_frame_info (&bt->frames[j]);
    }
  return 0;
}

/**
 * asyncrt_trace_get_n_backtraces:
 * @t: a trace
 *
 * Thread safety: any thread.
 *
 * Returns: the number of backtraces in @t (one per traced leaf future, in the order
 *   the leaves were polled); 0 if @t is %NULL.
 * Since: 0.1
 */
size_t
asyncrt_trace_get_n_backtraces (const AsyncrtTrace *t)
{
  return t != NULL ? t->n_backtraces : 0;
}

/**
 * asyncrt_trace_get_backtrace:
 * @t: a trace
 * @i: the index of the backtrace
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the @i-th backtrace, owned by @t; %NULL if @t
 *   is %NULL or @i is out of range.
 * Since: 0.1
 */
const AsyncrtBacktrace *
asyncrt_trace_get_backtrace (const AsyncrtTrace *t, size_t i)
{
  if (i >= asyncrt_trace_get_n_backtraces (t))
    return NULL;
  return t->backtraces[i];
}

/**
 * asyncrt_backtrace_get_n_frames:
 * @bt: a backtrace
 *
 * Thread safety: any thread.
 *
 * Returns: the number of frames of @bt; 0 if @bt is %NULL.
 * Since: 0.1
 */
size_t
asyncrt_backtrace_get_n_frames (const AsyncrtBacktrace *bt)
{
  return bt != NULL ? bt->n_frames : 0;
}

/**
 * asyncrt_backtrace_is_truncated:
 * @bt: (nullable): a backtrace
 *
 * Tells whether the stack walk that captured @bt stopped at its limit
 * (%ASYNCRT_TRACE_MAX_FRAMES native frames) before reaching the trace root: the
 * frames are the innermost ones, the outer part of the async call stack (its root
 * side) is missing.  Text and JSON forms say so too.  A backtrace cut short because
 * the unwinder could not go further (a frame without unwind information) is not
 * truncated in this sense.
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if @bt was cut at the walk limit; %FALSE otherwise or for %NULL.
 * Since: 0.2
 */
bool
asyncrt_backtrace_is_truncated (const AsyncrtBacktrace *bt)
{
  return bt != NULL && bt->truncated;
}

/**
 * asyncrt_backtrace_get_frame:
 * @bt: a backtrace
 * @i: the index of the frame; 0 is the innermost (the leaf future's poll function)
 *
 * Frames run from the innermost outwards, up to but excluding the trace root, the
 * same order as a debugger's `bt`.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the frame, owned by the trace; %NULL if @bt is
 *   %NULL or @i is out of range.
 * Since: 0.1
 */
const AsyncrtBacktraceFrame *
asyncrt_backtrace_get_frame (const AsyncrtBacktrace *bt, size_t i)
{
  if (bt == NULL || i >= bt->n_frames)
    return NULL;
  return &bt->frames[i];
}

/**
 * asyncrt_backtrace_frame_get_ip:
 * @f: a frame
 *
 * The frame's instruction pointer as captured.  Every captured frame is a return
 * address (the innermost one returns into asyncrt_trace_leaf()'s caller), so it
 * points just after the call instruction; symbols are looked up at `ip - 1`.
 *
 * Thread safety: any thread.
 *
 * Returns: the instruction pointer, or 0 if @f is %NULL.
 * Since: 0.1
 */
uintptr_t
asyncrt_backtrace_frame_get_ip (const AsyncrtBacktraceFrame *f)
{
  return f != NULL ? f->ip : 0;
}

/**
 * asyncrt_backtrace_frame_get_symbol_address:
 * @f: a frame
 *
 * The start address of the (outermost, non-inlined) function the frame is in.
 * Resolves the frame's symbols if needed.
 *
 * Thread safety: any thread.
 *
 * Returns: the address, or 0 if unknown or @f is %NULL.
 * Since: 0.1
 */
uintptr_t
asyncrt_backtrace_frame_get_symbol_address (const AsyncrtBacktraceFrame *f)
{
  return f != NULL ? asyncrt__trace_frame_info (f)->symbol_address : 0;
}

/**
 * asyncrt_backtrace_frame_get_n_symbols:
 * @f: a frame
 *
 * The number of functions at this frame: 1, or more when functions were inlined
 * into it.  Resolves the frame's symbols if needed; an unresolvable frame still has
 * one symbol (named after its address).
 *
 * Thread safety: any thread.
 *
 * Returns: the number of symbols (at least 1), or 0 if @f is %NULL.
 * Since: 0.1
 */
size_t
asyncrt_backtrace_frame_get_n_symbols (const AsyncrtBacktraceFrame *f)
{
  return f != NULL ? asyncrt__trace_frame_info (f)->n_symbols : 0;
}

/**
 * asyncrt_backtrace_frame_get_symbol:
 * @f: a frame
 * @i: the index of the symbol; 0 is the innermost inlined function, the last one is
 *   the frame's own function
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the symbol, valid as long as the trace; %NULL
 *   if @f is %NULL or @i is out of range.
 * Since: 0.1
 */
const AsyncrtBacktraceSymbol *
asyncrt_backtrace_frame_get_symbol (const AsyncrtBacktraceFrame *f, size_t i)
{
  if (f == NULL)
    return NULL;
  const AsyncrtTraceInfo *info = asyncrt__trace_frame_info (f);
  return i < info->n_symbols ? &info->symbols[i] : NULL;
}

/**
 * asyncrt_backtrace_symbol_get_name:
 * @s: a symbol
 *
 * The function's name, demangled if it is a C++ name and `__cxa_demangle` is
 * available in the process.  Never truncated.  A function that could not be
 * resolved at all is named after its address (`0x…`).
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the name; %NULL only if @s is %NULL.
 * Since: 0.1
 */
const char *
asyncrt_backtrace_symbol_get_name (const AsyncrtBacktraceSymbol *s)
{
  return s != NULL ? s->name : NULL;
}

/**
 * asyncrt_backtrace_symbol_get_raw_name:
 * @s: a symbol
 *
 * The function's name as recorded in the object file (the linkage name, mangled for
 * C++); the same as asyncrt_backtrace_symbol_get_name() for C.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the raw name; %NULL only if @s is %NULL.
 * Since: 0.1
 */
const char *
asyncrt_backtrace_symbol_get_raw_name (const AsyncrtBacktraceSymbol *s)
{
  return s != NULL ? s->raw_name : NULL;
}

/**
 * asyncrt_backtrace_symbol_get_filename:
 * @s: a symbol
 *
 * The source file of the symbol's current location, as recorded in DWARF; relative
 * to the compilation directory when it lies below it.
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none) (nullable): the file name, or %NULL if unknown (no DWARF)
 *   or @s is %NULL.
 * Since: 0.1
 */
const char *
asyncrt_backtrace_symbol_get_filename (const AsyncrtBacktraceSymbol *s)
{
  return s != NULL ? s->filename : NULL;
}

/**
 * asyncrt_backtrace_symbol_get_lineno:
 * @s: a symbol
 *
 * For the innermost symbol of a frame, the line being executed; for an outer one,
 * the line where the next inner function was inlined (its call site).
 *
 * Thread safety: any thread.
 *
 * Returns: the line number, or 0 if unknown or @s is %NULL.
 * Since: 0.1
 */
unsigned
asyncrt_backtrace_symbol_get_lineno (const AsyncrtBacktraceSymbol *s)
{
  return s != NULL ? s->lineno : 0;
}

/**
 * asyncrt_backtrace_symbol_get_colno:
 * @s: a symbol
 *
 * Thread safety: any thread.
 *
 * Returns: the column number, or 0 if unknown or @s is %NULL.
 * Since: 0.1
 */
unsigned
asyncrt_backtrace_symbol_get_colno (const AsyncrtBacktraceSymbol *s)
{
  return s != NULL ? s->colno : 0;
}
