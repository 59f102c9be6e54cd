/* libasyncrt - trace stores: many captures (a dump's), identical stacks stored once
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A dump traces every task once; tasks suspended at the same place have the same
 * instruction pointers.  A store keeps what those captures produce:
 *
 * - traces (AsyncrtTrace), each with room for its first backtrace (AsyncrtBacktrace:
 *   a header and its wait) beside it, in one array sized up front for the number of
 *   tasks the dump holds, grown by chunks only if more are captured;
 * - further backtraces (a task waiting on several leaves) in chunks;
 * - stacks: each distinct sequence of instruction pointers (with its truncated mark)
 *   once, as an array of AsyncrtBacktraceFrame every backtrace with those IPs points
 *   to (bt->frames): two backtraces of a store have the same stack if and only if
 *   their frames pointers are equal.  Symbols are resolved into the shared frames, so
 *   once per distinct stack, not once per task;
 * - shapes: each distinct trace (its sequence of stacks) gets an index, its shape
 *   (asyncrt__trace_store_shape), and the first trace of that shape stands for all of
 *   them: formatters build and render one tree per shape and reuse its text.
 *
 * Nothing of a store is allocated per capture in the common case (a trace of one or
 * two backtraces whose stack was seen before): a trace slot, a backtrace slot, one
 * hash probe for the stack and one for the shape.  asyncrt_trace_free() on a trace
 * of a store does nothing; the store frees everything at once.  Its first array of
 * slots comes from, and goes back to, the process's spare buffers (util/spare.c), so
 * a dump after a dump does not fault the same pages in again.
 *
 * A dump's helpers (threads that trace some of its tasks) fill stores of their own;
 * the dump's store then adopts each (asyncrt__trace_store_adopt): the trace that
 * stands for each of the adopted store's shapes moves in (its backtraces pointing to
 * this store's frames of the same stack, its shape one of this store's), and the
 * adopted store keeps the map of its shapes to this store's, so that every trace of
 * it has a shape here (asyncrt__trace_store_shape_of) without being touched: the
 * other traces keep the adopted store's frames (the same IPs).  Formatters see one
 * store; the adopted store's memory stays where it is and is freed with this one.
 *
 * Threads: a store is filled by one thread (the dump's serving thread or a helper,
 * inside quiet captures) and then handed over (a helper's to the serving thread, which
 * adopts it; the dump's with the dump); afterwards it is immutable except for the
 * frames' lazily resolved symbols (trace-private.h).
 */
#include "trace/trace-private.h"
#include "util/util-private.h"

#include <string.h>

#define CHUNK 1024           /* backtrace slots, trace slots, frames per chunk */

typedef struct
{
  guint hash;
  uint32_t n;                /* frames */
  bool truncated;
  AsyncrtBacktraceFrame *frames;
} Stack;

/* A trace and its first backtrace side by side: most traces have exactly one, and a
 * formatter reading a task's trace then reads its wait from the next cache lines. */
typedef struct
{
  AsyncrtTrace trace;        /* first: a Slot* is an AsyncrtTrace* */
  AsyncrtBacktrace first;
} Slot;

typedef struct
{
  guint hash;
  uint32_t n;                /* backtraces */
  uint32_t shape;
  const AsyncrtTrace *first; /* the trace that stands for the shape */
} Shape;

struct _AsyncrtTraceStore
{
  /* Trace slots: the first array sized up front, then chunks. */
  GPtrArray *trace_chunks;   /* Slot[] */
  size_t trace_chunk_size;   /* slots in the newest chunk */
  size_t trace_chunk_used;
  size_t first_chunk_size;
  /* Backtrace slots past each trace's first. */
  GPtrArray *bt_chunks;      /* AsyncrtBacktrace[] */
  size_t bt_chunk_size;
  size_t bt_chunk_used;
  /* Frames of the distinct stacks. */
  GPtrArray *frame_chunks;   /* AsyncrtBacktraceFrame[CHUNK] (or larger, for one stack) */
  size_t frame_chunk_size;
  size_t frame_chunk_used;
  /* Open addressing, power-of-two sizes, at most half full. */
  Stack *stacks;
  size_t stacks_size;
  size_t n_stacks;
  Shape *shapes;
  size_t shapes_size;
  size_t n_shapes;
  GPtrArray *shape_list;     /* const AsyncrtTrace*, by shape */
  size_t n_traces;
  size_t n_frames;           /* stored, over every distinct stack */
  GPtrArray *adopted;        /* stores whose traces were moved here, or NULL */
  AsyncrtSpareKind spare;    /* where its first chunk comes from and goes back to */
  size_t n_adopted;          /* traces moved here */
  uint64_t n_rule_walks, n_unwind_walks;  /* walks of its own captures */
  /* Once adopted: by which store, and its shapes' there (index: 1 + shape). */
  const AsyncrtTraceStore *adopted_by;
  uint32_t *shape_into;
};

static AsyncrtTraceStore *
store_new (size_t n_traces_hint, AsyncrtSpareKind spare)
{
  AsyncrtTraceStore *s = g_new0 (AsyncrtTraceStore, 1);
  s->spare = spare;
  size_t n = MAX (n_traces_hint, 16);
  s->trace_chunks = g_ptr_array_new ();
  /* The last store's first chunk if it was kept and is big enough (mapped already). */
  size_t bytes = 0;
  Slot *first = asyncrt__spare_take (spare, n * sizeof (Slot), &bytes);
  if (first != NULL)
    n = bytes / sizeof (Slot);
  else
    first = g_new (Slot, n);
  g_ptr_array_add (s->trace_chunks, first);
  s->trace_chunk_size = n;
  s->first_chunk_size = n;
  s->bt_chunks = g_ptr_array_new ();           /* first chunk on first use */
  s->frame_chunks = g_ptr_array_new ();
  s->stacks_size = 64;
  s->stacks = g_new0 (Stack, s->stacks_size);
  s->shapes_size = 64;
  s->shapes = g_new0 (Shape, s->shapes_size);
  s->shape_list = g_ptr_array_new ();
  return s;
}

AsyncrtTraceStore *
asyncrt__trace_store_new (size_t n_traces_hint)
{
  asyncrt__trace_walk_revalidate ();     /* a dump starts: no verdict on unloaded code */
  return store_new (n_traces_hint, ASYNCRT_SPARE_TRACE_SLOTS);
}

AsyncrtTraceStore *
asyncrt__trace_store_new_helper (size_t n_traces_hint)
{
  return store_new (n_traces_hint, ASYNCRT_SPARE_HELPER_TRACE_SLOTS);
}

/* Slots in use in chunk @c: every chunk but the newest is full; the first is as big
 * as the hint. */
static size_t
slots_used (const AsyncrtTraceStore *s, guint c)
{
  return c + 1 == s->trace_chunks->len ? s->trace_chunk_used
         : c == 0 ? s->first_chunk_size : CHUNK;
}

static void
trace_clear (AsyncrtTrace *t)
{
  for (size_t i = 0; i < t->n_backtraces; i++)
    g_free (t->backtraces[i]->wait.name);
  if (t->backtraces != t->inline_slots)
    g_free (t->backtraces);
}

void
asyncrt__trace_store_free (AsyncrtTraceStore *s)
{
  if (s == NULL)
    return;
  /* The stores it adopted first: its own first chunk, sized for a whole dump, is then
   * the one kept for the next dump (a helper's is smaller). */
  if (s->adopted != NULL)
    {
      for (guint k = 0; k < s->adopted->len; k++)
        asyncrt__trace_store_free (g_ptr_array_index (s->adopted, k));
      g_ptr_array_free (s->adopted, TRUE);
    }
  for (guint c = 0; c < s->trace_chunks->len; c++)
    {
      Slot *chunk = g_ptr_array_index (s->trace_chunks, c);
      size_t used = slots_used (s, c);
      for (size_t i = 0; i < used; i++)
        trace_clear (&chunk[i].trace);
      if (c == 0)
        asyncrt__spare_give (s->spare, chunk, s->first_chunk_size * sizeof (Slot));
      else
        g_free (chunk);
    }
  g_ptr_array_free (s->trace_chunks, TRUE);
  g_ptr_array_set_free_func (s->bt_chunks, g_free);
  g_ptr_array_free (s->bt_chunks, TRUE);
  g_ptr_array_set_free_func (s->frame_chunks, g_free);
  g_ptr_array_free (s->frame_chunks, TRUE);
  g_free (s->stacks);
  g_free (s->shapes);
  g_ptr_array_free (s->shape_list, TRUE);
  g_free (s->shape_into);
  asyncrt__trace_add_walk_stats (s->n_rule_walks, s->n_unwind_walks);
  g_free (s);
}

void
asyncrt__trace_store_count_walks (AsyncrtTraceStore *s, uint32_t rule_walks, uint32_t unwind_walks)
{
  s->n_rule_walks += rule_walks;
  s->n_unwind_walks += unwind_walks;
}

AsyncrtTrace *
asyncrt__trace_store_new_trace (AsyncrtTraceStore *s)
{
  if (s->trace_chunk_used == s->trace_chunk_size)
    {
      g_ptr_array_add (s->trace_chunks, g_new (Slot, CHUNK));
      s->trace_chunk_size = CHUNK;
      s->trace_chunk_used = 0;
    }
  Slot *chunk = g_ptr_array_index (s->trace_chunks, s->trace_chunks->len - 1);
  AsyncrtTrace *t = &chunk[s->trace_chunk_used++].trace;
  memset (t, 0, sizeof *t);
  t->backtraces = t->inline_slots;
  t->backtraces_size = G_N_ELEMENTS (t->inline_slots);
  t->store = s;
  s->n_traces++;
  return t;
}

/* FNV-1a over the IPs, folded. */
static guint
hash_ips (const uintptr_t *ips, size_t n, bool truncated)
{
  uint64_t h = 1469598103934665603u ^ (uint64_t) truncated;
  for (size_t i = 0; i < n; i++)
    {
      h ^= (uint64_t) ips[i];
      h *= 1099511628211u;
      h ^= h >> 29;
    }
  return (guint) (h ^ (h >> 32));
}

static bool
stack_equal (const Stack *st, const uintptr_t *ips, size_t n, bool truncated)
{
  if (st->n != n || st->truncated != truncated)
    return false;
  for (size_t i = 0; i < n; i++)
    if (st->frames[i].ip != ips[i])
      return false;
  return true;
}

static AsyncrtBacktraceFrame *
frames_alloc (AsyncrtTraceStore *s, size_t n)
{
  if (s->frame_chunks->len == 0 || s->frame_chunk_used + n > s->frame_chunk_size)
    {
      size_t size = MAX ((size_t) CHUNK, n);
      g_ptr_array_add (s->frame_chunks, g_new0 (AsyncrtBacktraceFrame, size));
      s->frame_chunk_size = size;
      s->frame_chunk_used = 0;
    }
  AsyncrtBacktraceFrame *chunk = g_ptr_array_index (s->frame_chunks, s->frame_chunks->len - 1);
  AsyncrtBacktraceFrame *f = &chunk[s->frame_chunk_used];
  s->frame_chunk_used += n;
  return f;
}

static void
stacks_grow (AsyncrtTraceStore *s)
{
  size_t size = s->stacks_size * 2;
  Stack *table = g_new0 (Stack, size);
  for (size_t i = 0; i < s->stacks_size; i++)
    if (s->stacks[i].hash != 0)
      {
        size_t j = s->stacks[i].hash & (size - 1);
        while (table[j].hash != 0)
          j = (j + 1) & (size - 1);
        table[j] = s->stacks[i];
      }
  g_free (s->stacks);
  s->stacks = table;
  s->stacks_size = size;
}

/* The shared frames of the stack @ips (interned on first sight). */
static AsyncrtBacktraceFrame *
intern_stack (AsyncrtTraceStore *s, const uintptr_t *ips, size_t n, bool truncated)
{
  guint hash = hash_ips (ips, n, truncated) | 1u;   /* 0 marks an empty slot */
  size_t mask = s->stacks_size - 1;
  size_t i = hash & mask;
  for (; s->stacks[i].hash != 0; i = (i + 1) & mask)
    if (s->stacks[i].hash == hash && stack_equal (&s->stacks[i], ips, n, truncated))
      return s->stacks[i].frames;
  /* n == 0 still gets a distinct (non-NULL) frames pointer: one slot. */
  AsyncrtBacktraceFrame *frames = frames_alloc (s, MAX (n, (size_t) 1));
  for (size_t k = 0; k < n; k++)
    frames[k].ip = ips[k];
  s->stacks[i] = (Stack) { hash, (uint32_t) n, truncated, frames };
  s->n_stacks++;
  s->n_frames += n;
  if (2 * s->n_stacks > s->stacks_size)
    stacks_grow (s);
  return frames;
}

AsyncrtBacktrace *
asyncrt__trace_store_append_ips (AsyncrtTraceStore *s, AsyncrtTrace *t, const uintptr_t *ips,
                                 size_t n, bool truncated)
{
  AsyncrtBacktrace *bt;
  if (t->n_backtraces == 0)
    bt = &((Slot *) (void *) t)->first;       /* t is the trace of a Slot of @s */
  else
    {
      if (s->bt_chunk_used == s->bt_chunk_size)
        {
          g_ptr_array_add (s->bt_chunks, g_new (AsyncrtBacktrace, CHUNK));
          s->bt_chunk_size = CHUNK;
          s->bt_chunk_used = 0;
        }
      AsyncrtBacktrace *chunk = g_ptr_array_index (s->bt_chunks, s->bt_chunks->len - 1);
      bt = &chunk[s->bt_chunk_used++];
    }
  /* Field by field: a memset of the whole backtrace was a tenth of this function.
   * The wait's fact arrays are read only below n_facts, so they are not cleared. */
  bt->n_frames = n;
  bt->truncated = truncated;
  bt->wait.kind = ASYNCRT_WAIT_UNKNOWN;
  bt->wait.n_facts = 0;
  bt->wait.object = 0;
  bt->wait.name = NULL;
  bt->wait.holder_id = 0;
  bt->wait.since_ns = 0;
  bt->wait.waited_ns = 0;
  bt->frames = intern_stack (s, ips, n, truncated);
  asyncrt__trace_add_backtrace (t, bt);
  return bt;
}

static guint
hash_trace (const AsyncrtTrace *t)
{
  uint64_t h = 1469598103934665603u ^ t->n_backtraces;
  for (size_t i = 0; i < t->n_backtraces; i++)
    {
      h ^= (uint64_t) (uintptr_t) t->backtraces[i]->frames;
      h *= 1099511628211u;
      h ^= h >> 29;
    }
  return (guint) (h ^ (h >> 32)) | 1u;
}

static bool
same_shape (const AsyncrtTrace *a, const AsyncrtTrace *b)
{
  if (a->n_backtraces != b->n_backtraces)
    return false;
  for (size_t i = 0; i < a->n_backtraces; i++)
    if (a->backtraces[i]->frames != b->backtraces[i]->frames)
      return false;
  return true;
}

static void
shapes_grow (AsyncrtTraceStore *s)
{
  size_t size = s->shapes_size * 2;
  Shape *table = g_new0 (Shape, size);
  for (size_t i = 0; i < s->shapes_size; i++)
    if (s->shapes[i].hash != 0)
      {
        size_t j = s->shapes[i].hash & (size - 1);
        while (table[j].hash != 0)
          j = (j + 1) & (size - 1);
        table[j] = s->shapes[i];
      }
  g_free (s->shapes);
  s->shapes = table;
  s->shapes_size = size;
}

void
asyncrt__trace_store_seal_trace (AsyncrtTraceStore *s, AsyncrtTrace *t)
{
  guint hash = hash_trace (t);
  size_t mask = s->shapes_size - 1;
  size_t i = hash & mask;
  for (; s->shapes[i].hash != 0; i = (i + 1) & mask)
    if (s->shapes[i].hash == hash && same_shape (s->shapes[i].first, t))
      {
        t->shape = s->shapes[i].shape + 1;
        return;
      }
  s->shapes[i] = (Shape) { hash, (uint32_t) t->n_backtraces, (uint32_t) s->n_shapes, t };
  g_ptr_array_add (s->shape_list, t);
  t->shape = (uint32_t) ++s->n_shapes;
  if (2 * s->n_shapes > s->shapes_size)
    shapes_grow (s);
}

size_t
asyncrt__trace_store_get_n_shapes (const AsyncrtTraceStore *s)
{
  return s != NULL ? s->n_shapes : 0;
}

const AsyncrtTrace *
asyncrt__trace_store_get_shape (const AsyncrtTraceStore *s, size_t shape)
{
  return shape < s->n_shapes ? g_ptr_array_index (s->shape_list, shape) : NULL;
}

void
asyncrt__trace_store_get_stats (const AsyncrtTraceStore *s, AsyncrtTraceStoreStats *out)
{
  memset (out, 0, sizeof *out);
  if (s == NULL)
    return;
  out->n_traces = s->n_traces;
  out->n_adopted = s->n_adopted;
  out->n_stacks = s->n_stacks;
  out->n_shapes = s->n_shapes;
  out->n_frames = s->n_frames;
}

typedef struct
{
  AsyncrtTraceStore *into;
  GHashTable *frames_map;          /* the other store's frames -> @into's */
} Move;

/* @into's frames of the stack @frames of the other store (interned on first sight). */
static AsyncrtBacktraceFrame *
move_frames (Move *m, const AsyncrtBacktrace *bt)
{
  AsyncrtBacktraceFrame *mapped = g_hash_table_lookup (m->frames_map, bt->frames);
  if (mapped == NULL)
    {
      uintptr_t stack_ips[64];
      uintptr_t *ips = bt->n_frames <= G_N_ELEMENTS (stack_ips)
                       ? stack_ips : g_new (uintptr_t, bt->n_frames);
      for (size_t k = 0; k < bt->n_frames; k++)
        ips[k] = bt->frames[k].ip;
      mapped = intern_stack (m->into, ips, bt->n_frames, bt->truncated);
      if (ips != stack_ips)
        g_free (ips);
      g_hash_table_insert (m->frames_map, bt->frames, mapped);
    }
  return mapped;
}

/* Moves trace @t of another store into @into: its backtraces point to @into's frames
 * of the same stacks, and it gets @into's shape. */
static void
move_trace (Move *m, AsyncrtTrace *t)
{
  for (size_t b = 0; b < t->n_backtraces; b++)
    t->backtraces[b]->frames = move_frames (m, t->backtraces[b]);
  t->store = m->into;
  t->shape = 0;
  asyncrt__trace_store_seal_trace (m->into, t);
}

void
asyncrt__trace_store_adopt (AsyncrtTraceStore *into, AsyncrtTraceStore *from)
{
  if (from == NULL)
    return;
  g_assert (into != NULL && into != from && from->adopted_by == NULL);
  Move m = { into, g_hash_table_new (g_direct_hash, g_direct_equal) };
  /* One trace per shape moves in; the others are mapped through shape_into. */
  from->shape_into = g_new0 (uint32_t, from->n_shapes + 1);
  for (size_t k = 0; k < from->n_shapes; k++)
    {
      AsyncrtTrace *first = g_ptr_array_index (from->shape_list, k);
      move_trace (&m, first);
      from->shape_into[k + 1] = first->shape;
    }
  g_hash_table_destroy (m.frames_map);
  from->adopted_by = into;
  into->n_traces += from->n_traces;
  into->n_adopted += from->n_traces;
  /* Its slots, backtraces and wait names stay where they are, freed with @into. */
  if (into->adopted == NULL)
    into->adopted = g_ptr_array_new ();
  g_ptr_array_add (into->adopted, from);
}

uint32_t
asyncrt__trace_store_shape_of (const AsyncrtTraceStore *s, const AsyncrtTrace *t)
{
  if (s == NULL || t->store == NULL)
    return 0;
  if (t->store == s)
    return t->shape;
  if (t->store->adopted_by == s && t->shape <= t->store->n_shapes)
    return t->store->shape_into[t->shape];
  return 0;
}

const AsyncrtTraceStore *
asyncrt__trace_store_home (const AsyncrtTrace *t)
{
  if (t->store == NULL)
    return NULL;
  return t->store->adopted_by != NULL ? t->store->adopted_by : t->store;
}
