/* libasyncrt - tracing internals shared by lib/trace/ and lib/dump/
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership and threads
 * ---------------------
 * - The trace context (context.c) is thread-local: only its own thread reads or
 *   writes it, so it needs no atomics.  A frame lives on the C stack of the function
 *   that pushed it and is popped by the same function on every exit path.
 * - An AsyncrtTrace is built by one thread (the capturing one) and then handed over;
 *   afterwards it is immutable except for the per-frame symbol pointer, which is set
 *   lazily with an atomic store (release) and read with an atomic load (acquire); every
 *   thread that races on it stores the same pointer (the cache's canonical entry).
 * - The symbol cache (symbol.c) is global, protected by one mutex; its entries are
 *   immutable once published and are never freed before the library is unloaded.
 *   Every string of a symbol is interned in symbol.c's table (never g_intern_string),
 *   so equal strings are equal pointers.
 */
#ifndef ASYNCRT_TRACE_PRIVATE_H
#define ASYNCRT_TRACE_PRIVATE_H

#include "util/common-private.h"

#include <glib.h>

/* ---- context.c ------------------------------------------------------------------ */

/* A frame of the trace context: the address range [start, end) of the function that
 * pushed it (a root, or asyncrt_trace_capture), linked to the enclosing frame. */
typedef struct _AsyncrtTraceFrame AsyncrtTraceFrame;
struct _AsyncrtTraceFrame
{
  uintptr_t start;
  uintptr_t end;
  AsyncrtTraceFrame *parent;
};

typedef struct _AsyncrtTraceCollector AsyncrtTraceCollector;
typedef struct _AsyncrtTraceStore AsyncrtTraceStore;

typedef struct
{
  AsyncrtTraceCollector *collector;     /* first: the leaf's fast path loads only this */
  AsyncrtTraceFrame *active_frame;
} AsyncrtTraceContext;

/* initial-exec on the declaration too, or other files go through __tls_get_addr. */
extern _Thread_local AsyncrtTraceContext asyncrt__trace_context
  __attribute__((tls_model ("initial-exec")));

void asyncrt__trace_frame_push (AsyncrtTraceFrame *frame, uintptr_t start, uintptr_t end);
void asyncrt__trace_frame_pop (AsyncrtTraceFrame *frame);

/* Address ranges of the boundary functions (linker sections, see context.c). */
void asyncrt__trace_root_range (uintptr_t *start, uintptr_t *end);
void asyncrt__trace_leaf_range (uintptr_t *start, uintptr_t *end);
void asyncrt__trace_capture_range (uintptr_t *start, uintptr_t *end);

/* ---- capture.c / backtrace.c: the trace objects ------------------------------------ */

/* The resolution of one IP: immutable, owned by the symbol cache (or, for synthetic
 * traces, by asyncrt__trace_info_new()'s caller until handed to a trace). */
typedef struct _AsyncrtTraceInfo AsyncrtTraceInfo;

struct _AsyncrtBacktraceSymbol
{
  const char *name;        /* interned (symbol.c); never NULL: demangled name or "0x…" */
  const char *raw_name;    /* interned; the name as in the object file */
  const char *filename;    /* interned or NULL */
  unsigned lineno;         /* 0 if unknown */
  unsigned colno;          /* 0 if unknown */
};

struct _AsyncrtTraceInfo
{
  uintptr_t symbol_address;          /* 0 if unknown */
  size_t n_symbols;                  /* >= 1 */
  AsyncrtBacktraceSymbol symbols[];  /* innermost inlined first */
};

struct _AsyncrtBacktraceFrame
{
  uintptr_t ip;
  const AsyncrtTraceInfo *info;      /* atomic; NULL until resolved */
};

/* What a traced leaf waits on (wait.c, wait-private.h): filled by the leaf right after
 * its asyncrt_trace_leaf() returned true, on the capturing thread; completed by the
 * dump at seal time (waited_ns); immutable afterwards. */
#define ASYNCRT__WAIT_MAX_FACTS 8

struct _AsyncrtWait
{
  AsyncrtWaitKind kind;              /* 0 (UNKNOWN) until the leaf describes itself */
  uint8_t n_facts;
  /* Facts: only the first n_facts entries are meaningful (a trace store leaves the
   * others uninitialised). */
  uint8_t fact_keys[ASYNCRT__WAIT_MAX_FACTS];        /* AsyncrtWaitFact, in order set */
  int64_t fact_values[ASYNCRT__WAIT_MAX_FACTS];
  uintptr_t object;
  char *name;                        /* owned copy, or NULL */
  AsyncrtTaskId holder_id;           /* 0: none or unknown */
  uint64_t since_ns;                 /* when the wait began (asyncrt__clock_now_ns()
                                        base) as the leaf recorded it; 0: unknown */
  uint64_t waited_ns;                /* set by a dump's seal; 0: unknown */
};

struct _AsyncrtBacktrace
{
  size_t n_frames;
  AsyncrtBacktraceFrame *frames;     /* innermost first */
  bool truncated;                    /* cut at the walk limit: the root is missing */
  AsyncrtWait wait;                  /* of the leaf that captured it (zeroed: UNKNOWN) */
};

struct _AsyncrtTrace
{
  AsyncrtBacktrace **backtraces;     /* in capture order, each owned; inline_slots
                                        or g_malloc'ed */
  size_t n_backtraces;
  size_t backtraces_size;            /* allocated slots */
  AsyncrtBacktrace *inline_slots[2]; /* most traces have one or two backtraces */
  GPtrArray *owned_infos;            /* synthetic infos owned by this trace, or NULL */
  AsyncrtTraceStore *store;          /* the store that owns it (store.c), or NULL */
  uint32_t shape;                    /* in its store: 1 + its shape; 0: none (yet) */
};

AsyncrtTrace *asyncrt__trace_new (void);
/* Appends @bt (owned by whoever owns @t) to @t's list of backtraces. */
void asyncrt__trace_add_backtrace (AsyncrtTrace *t, AsyncrtBacktrace *bt);
/* Appends a backtrace of raw IPs, innermost first. */
AsyncrtBacktrace *asyncrt__trace_append_ips (AsyncrtTrace *t, const uintptr_t *ips, size_t n);

/* The backtrace the last leaf traced on this thread appended, while a capture runs;
 * NULL otherwise (capture.c).  Its wait is what that leaf describes. */
AsyncrtBacktrace *asyncrt__trace_last_leaf (void);

/* Captures like asyncrt_trace_capture() but without deferred wakes: a traced leaf
 * only records its backtrace (its registration stands, nothing is woken), for a dump's
 * trace poll (task-private.h, "Trace polls").  May run inside another capture (whose
 * collector is set aside meanwhile).  Returns NULL with errno EINVAL if @func is
 * NULL. */
AsyncrtTrace *asyncrt__trace_capture_quiet (AsyncrtTraceFunc func, void *data);

/* ---- store.c: the traces of many captures, identical stacks stored once ------------- */

AsyncrtTraceStore *asyncrt__trace_store_new (size_t n_traces_hint);
/* The same for a dump's helper (its traces adopted by the dump's store at the end):
 * its memory is kept for the next dump's helper, not its main store. */
AsyncrtTraceStore *asyncrt__trace_store_new_helper (size_t n_traces_hint);
/* Frees every trace captured into @s (asyncrt_trace_free() ignores them).  NULL is
 * ignored. */
void asyncrt__trace_store_free (AsyncrtTraceStore *s);
/* Captures like asyncrt__trace_capture_quiet(), into @s: the trace, its backtraces and
 * their frames belong to @s, and a backtrace whose instruction pointers (and truncated
 * mark) were seen before in @s shares their frames (bt->frames is the same pointer).
 * The trace gets its shape when the capture ends. */
AsyncrtTrace *asyncrt__trace_capture_quiet_into (AsyncrtTraceStore *s, AsyncrtTraceFunc func,
                                                 void *data);
/* Initialises the unwinder once per process, before captures may run on several
 * threads at once (a dump's helpers): libunwind sets itself up on first use behind a
 * plain flag.  Cheap after the first call; any thread. */
void asyncrt__trace_capture_init (void);
/* capture.c's side: a new empty trace of @s; a backtrace appended to one; the trace
 * complete, given its shape. */
AsyncrtTrace *asyncrt__trace_store_new_trace (AsyncrtTraceStore *s);
AsyncrtBacktrace *asyncrt__trace_store_append_ips (AsyncrtTraceStore *s, AsyncrtTrace *t,
                                                   const uintptr_t *ips, size_t n,
                                                   bool truncated);
void asyncrt__trace_store_seal_trace (AsyncrtTraceStore *s, AsyncrtTrace *t);
/* Counts a capture's stack walks by walker; they reach asyncrt__trace_get_walk_stats()
 * when the store is freed (capture.c calls it, the store's owner thread). */
void asyncrt__trace_store_count_walks (AsyncrtTraceStore *s, uint32_t rule_walks,
                                       uint32_t unwind_walks);
/* Adopts @from (filled by another thread, now done with it; adopted once): each of its
 * traces gets a shape of @into (asyncrt__trace_store_shape_of), as if it had been
 * captured there, and @from's memory is freed with @into.  Single-threaded, as a
 * store. */
void asyncrt__trace_store_adopt (AsyncrtTraceStore *into, AsyncrtTraceStore *from);
/* The shape of @t in @s (1 + its index, see below) if @t is a trace of @s or of a store
 * @s adopted; 0 otherwise. */
uint32_t asyncrt__trace_store_shape_of (const AsyncrtTraceStore *s, const AsyncrtTrace *t);
/* The store whose shapes @t has: the one that adopted its store, or its store; NULL
 * for a trace of no store. */
const AsyncrtTraceStore *asyncrt__trace_store_home (const AsyncrtTrace *t);
/* Shapes: the distinct traces of @s (same stacks in the same order), numbered from 0
 * in order of first capture; a trace's is t->shape - 1.  get_shape gives the trace
 * that stands for shape @shape (the first captured), NULL if out of range. */
size_t asyncrt__trace_store_get_n_shapes (const AsyncrtTraceStore *s);
const AsyncrtTrace *asyncrt__trace_store_get_shape (const AsyncrtTraceStore *s, size_t shape);

typedef struct
{
  size_t n_traces;         /* captured into the store, or moved in */
  size_t n_adopted;        /* of which moved in from other stores */
  size_t n_stacks;         /* distinct stacks stored */
  size_t n_shapes;         /* distinct traces */
  size_t n_frames;         /* frames stored, over the distinct stacks */
} AsyncrtTraceStoreStats;

void asyncrt__trace_store_get_stats (const AsyncrtTraceStore *s, AsyncrtTraceStoreStats *out);

/* How the frame of a return address is unwound, from its DWARF CFI (x86-64): what
 * capture.c's own walk can follow.  symbol.c reads it when it symbolises the address
 * and hands it to capture.c (asyncrt__trace_walk_learn), which keeps it for every
 * later capture. */
typedef enum
{
  ASYNCRT_CFA_NONE,        /* anything else: an expression, another register, none */
  ASYNCRT_CFA_RSP,         /* CFA = %rsp + cfa_offset */
  ASYNCRT_CFA_RBP          /* CFA = %rbp + cfa_offset */
} AsyncrtCfaBase;

typedef enum
{
  ASYNCRT_RBP_SAME,        /* the caller's %rbp is this frame's */
  ASYNCRT_RBP_SAVED,       /* saved at CFA + rbp_offset */
  ASYNCRT_RBP_LOST         /* anything else */
} AsyncrtRbpRule;

typedef struct
{
  AsyncrtCfaBase base;
  int32_t cfa_offset;
  AsyncrtRbpRule rbp;
  int32_t rbp_offset;
  bool ra_at_cfa_minus_8;  /* the return address is saved at CFA - 8 */
} AsyncrtFrameRule;

void asyncrt__trace_walk_learn (uintptr_t ip, const AsyncrtFrameRule *rule);
/* Whether @ip's rule was learnt (or needs none: not x86-64). */
bool asyncrt__trace_walk_knows (uintptr_t ip);
/* Forgets every rule learnt (tests; and asyncrt__trace_walk_revalidate()). */
void asyncrt__trace_walk_forget (void);

/* Forgets what the walk by rules knows of return addresses if a module was
 * unloaded since the last call (capture.c; takes the loader's lock: not in a leaf). */
void asyncrt__trace_walk_revalidate (void);

/* Leaf captures so far by walker: the walk by rules, libunwind (capture.c).  A
 * dump's captures count once its trace stores are freed (asyncrt_dump_free()). */
void asyncrt__trace_get_walk_stats (uint64_t *rule_walks, uint64_t *unwind_walks);
void asyncrt__trace_add_walk_stats (uint64_t rule_walks, uint64_t unwind_walks);

/* The walk limit of a leaf capture, in native frames (public: backtraces cut there
 * are marked truncated). */
#define ASYNCRT_TRACE_MAX_DEPTH ASYNCRT_TRACE_MAX_FRAMES

/* Synthetic traces (golden tests, and the dump for tasks it could not trace):
 * asyncrt__trace_info_new() builds a resolved frame description; the symbols'
 * strings are copied into the symbol module's string table.  asyncrt__trace_append_resolved() appends a backtrace of
 * n frames with the given infos (innermost first) and takes ownership of them. */
typedef struct
{
  const char *name;
  const char *filename;
  unsigned lineno;
  unsigned colno;
} AsyncrtTraceSymbolSpec;

AsyncrtTraceInfo *asyncrt__trace_info_new (uintptr_t symbol_address,
                                           const AsyncrtTraceSymbolSpec *symbols,
                                           size_t n_symbols);
void asyncrt__trace_append_resolved (AsyncrtTrace *t, const uintptr_t *ips,
                                     AsyncrtTraceInfo **infos, size_t n);

/* The resolution of a frame, resolving it (through the cache) on first use. */
const AsyncrtTraceInfo *asyncrt__trace_frame_info (const AsyncrtBacktraceFrame *f);

/* ---- symbol.c -------------------------------------------------------------------- */

/* Resolves one return address (the cache is consulted first).  Never NULL. */
const AsyncrtTraceInfo *asyncrt__symbol_resolve (uintptr_t ip);

typedef struct
{
  uint64_t hits;           /* look-ups answered by the cache */
  uint64_t misses;         /* look-ups that ran libdw */
  uint64_t refreshes;      /* times the module list was re-read */
} AsyncrtSymbolStats;

void asyncrt__symbol_get_stats (AsyncrtSymbolStats *out);

/* Drops cached answers if modules were unloaded since the last check (dlclose may
 * let new code reuse their addresses).  Cheap; called once per trace resolved. */
void asyncrt__symbol_revalidate (void);

/* ---- tree.c ---------------------------------------------------------------------- */

/* A tree of async call stacks merged from many backtraces.  A node's identity is
 * (name, file) plus its parent's identity, so shared prefixes merge, the same
 * function under different callers (or at a different depth) gives different nodes,
 * and a function suspended at several lines at once is one node listing them all.
 * Roots, children and locations keep the order of first appearance.
 * Not thread-safe: one tree belongs to one thread at a time. */
typedef struct _AsyncrtTraceTree AsyncrtTraceTree;

AsyncrtTraceTree *asyncrt__trace_tree_new (void);
void asyncrt__trace_tree_free (AsyncrtTraceTree *tree);
/* Adds every backtrace of @t (resolving symbols as needed). */
void asyncrt__trace_tree_add_trace (AsyncrtTraceTree *tree, const AsyncrtTrace *t);
/* The same, also recording at each leaf node which backtraces of @t end there, for
 * asyncrt__trace_tree_append_text_annotated(): a tree of one trace. */
void asyncrt__trace_tree_add_trace_leaves (AsyncrtTraceTree *tree, const AsyncrtTrace *t);
void asyncrt__trace_tree_add_backtrace (AsyncrtTraceTree *tree, const AsyncrtBacktrace *bt);
size_t asyncrt__trace_tree_get_n_roots (const AsyncrtTraceTree *tree);
size_t asyncrt__trace_tree_get_n_nodes (const AsyncrtTraceTree *tree);

/* ---- format.c -------------------------------------------------------------------- */

/* Appends the text form (DESIGN §5): one line per node, each line ends with '\n'.
 * @indent is prepended to every line (e.g. "  " under a task header); may be NULL. */
void asyncrt__trace_tree_append_text (const AsyncrtTraceTree *tree, GString *out,
                                      const char *indent);
/* The same, calling @annotate at the end of every line of a node that is the
 * innermost frame of some backtraces (before its newline), with their indices in the
 * trace added by asyncrt__trace_tree_add_trace_leaves(): a dump writes their waits
 * there. */
typedef void (*AsyncrtTraceAnnotateFunc) (GString *out, const guint *backtraces, size_t n,
                                          void *data);
void asyncrt__trace_tree_append_text_annotated (const AsyncrtTraceTree *tree, GString *out,
                                                const char *indent,
                                                AsyncrtTraceAnnotateFunc annotate,
                                                void *data);
char *asyncrt__trace_tree_to_string (const AsyncrtTraceTree *tree);   /* free() */
/* Appends the JSON array of root nodes (schema: see the trace SECTION comment). */
void asyncrt__trace_tree_append_json (const AsyncrtTraceTree *tree, GString *out);
/* Appends a native stack (lib/sample: one backtrace, innermost first) as text: one
 * line "INDENT#N name at file:line:col" per function, inlined ones marked, and a last
 * line if it was cut before its root. */
void asyncrt__backtrace_append_native_text (const AsyncrtBacktrace *bt, GString *out,
                                            const char *indent);
/* Appends the JSON array of backtraces of @t (resolving symbols as needed). */
void asyncrt__trace_append_backtraces_json (const AsyncrtTrace *t, GString *out);
/* Appends @s for the text forms (trace trees, dump headers): backslash, C0 and C1
 * controls, DEL, newlines and invisible format characters are shown as escapes (\\,
 * \n, \r, \t, \x1b, \u2028…), each invalid UTF-8 byte as U+FFFD, and with @quoted
 * the double quote as \" — so a program-supplied string can never start a line, move
 * the cursor or fake a field.  The one escaping helper of every text output.  NULL
 * appends nothing. */
void asyncrt__text_append_escaped (GString *out, const char *s, bool quoted);
/* Appends @s as a JSON string literal (quotes included); NULL gives null. */
void asyncrt__json_append_string (GString *out, const char *s);
char *asyncrt__trace_tree_to_json (const AsyncrtTraceTree *tree);      /* free() */

#define ASYNCRT_TRACE_JSON_VERSION 1

#endif /* ASYNCRT_TRACE_PRIVATE_H */
