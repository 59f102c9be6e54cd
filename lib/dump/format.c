/* libasyncrt - what the dump's formats share: asyncrt_dump_format(), per-trace caching,
 * state and reason names
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads: a sealed dump is immutable (see dump.c), so formatting may run on several
 * threads at once.
 */
#include "dump/dump-private.h"
#include "dump/export-private.h"
#include "trace/trace-private.h"
#include "util/util-private.h"

/* Tasks suspended at the same place have the same instruction pointers, hence the
 * same tree (symbols are cached per IP): format each distinct trace once per call
 * (thousands of tasks waiting in the same accept loop cost one tree).  The key is the
 * trace's IPs, backtrace by backtrace (asyncrt__dump_trace_key). */

GBytes *
asyncrt__dump_trace_key (const AsyncrtTrace *tr)
{
  GByteArray *key = g_byte_array_new ();
  size_t nb = asyncrt_trace_get_n_backtraces (tr);
  for (size_t i = 0; i < nb; i++)
    {
      const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (tr, i);
      uintptr_t n = bt->n_frames | (bt->truncated ? (uintptr_t) 1 << (sizeof n * 8 - 1) : 0);
      g_byte_array_append (key, (const guint8 *) &n, sizeof n);
      for (size_t j = 0; j < bt->n_frames; j++)
        {
          g_byte_array_append (key, (const guint8 *) &bt->frames[j].ip, sizeof (uintptr_t));
          /* Synthetic traces carry their own resolutions: an IP alone says nothing. */
          if (tr->owned_infos != NULL)
            {
              uintptr_t info = (uintptr_t) asyncrt__trace_frame_info (&bt->frames[j]);
              g_byte_array_append (key, (const guint8 *) &info, sizeof info);
            }
        }
    }
  return g_byte_array_free_to_bytes (key);
}

/* ---- the text of trees, formatted once per distinct trace ------------------------------
 * A cached tree is its text with, at the end of each leaf line, a slot: the offset
 * where the waits of its backtraces go and which backtraces those are.  Emitting a
 * task's tree copies the text between slots and writes the task's own waits in them,
 * so tasks at the same place share the formatting but never each other's waits. */

typedef struct
{
  size_t offset;             /* in text: where the annotation goes */
  guint first;               /* its backtraces: indices[first .. first + n) */
  guint n;
} Slot;

typedef struct
{
  char *text;
  size_t len;
  GArray *slots;             /* Slot, in text order */
  GArray *indices;           /* guint */
} CachedTree;

struct _AsyncrtDumpTreeCache
{
  GHashTable *trees;         /* GBytes key -> CachedTree (traces of no store) */
  /* Traces of a dump's store: by shape, no key to build (lib/trace/store.c). */
  const AsyncrtTraceStore *store;
  GPtrArray *by_shape;       /* CachedTree*, NULL until built */
  GString *phrase;           /* one annotation at a time */
};

/* Trees built by every cache of the process (tests: once per distinct trace). */
static atomic_size_t trees_built;

size_t
asyncrt__dump_get_n_trees_built (void)
{
  return atomic_load_explicit (&trees_built, memory_order_relaxed);
}

static void
cached_tree_free (gpointer p)
{
  CachedTree *c = p;
  if (c == NULL)
    return;                  /* a shape no formatted task has */
  g_free (c->text);
  g_array_free (c->slots, TRUE);
  g_array_free (c->indices, TRUE);
  g_free (c);
}

AsyncrtDumpTreeCache *
asyncrt__dump_tree_cache_new (void)
{
  AsyncrtDumpTreeCache *c = g_new0 (AsyncrtDumpTreeCache, 1);
  c->trees = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                    (GDestroyNotify) g_bytes_unref, cached_tree_free);
  c->phrase = g_string_sized_new (128);
  return c;
}

void
asyncrt__dump_tree_cache_free (AsyncrtDumpTreeCache *c)
{
  if (c == NULL)
    return;
  g_hash_table_unref (c->trees);
  if (c->by_shape != NULL)
    g_ptr_array_free (c->by_shape, TRUE);
  g_string_free (c->phrase, TRUE);
  g_free (c);
}

static void
record_slot (GString *out, const guint *backtraces, size_t n, void *data)
{
  CachedTree *c = data;
  Slot slot = { out->len, c->indices->len, (guint) n };
  g_array_append_vals (c->indices, backtraces, (guint) n);
  g_array_append_val (c->slots, slot);
}

static CachedTree *
build_tree (const AsyncrtTrace *tr)
{
  CachedTree *c = g_new0 (CachedTree, 1);
  c->slots = g_array_new (FALSE, FALSE, sizeof (Slot));
  c->indices = g_array_new (FALSE, FALSE, sizeof (guint));
  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  asyncrt__trace_tree_add_trace_leaves (tree, tr);
  GString *s = g_string_new (NULL);
  asyncrt__trace_tree_append_text_annotated (tree, s, "  ", record_slot, c);
  asyncrt__trace_tree_free (tree);
  c->len = s->len;
  c->text = g_string_free (s, FALSE);
  atomic_fetch_add_explicit (&trees_built, 1, memory_order_relaxed);
  return c;
}

static CachedTree *
cached_tree (AsyncrtDumpTreeCache *cache, const AsyncrtTrace *tr)
{
  /* A trace of a store: its shape says which tree it has (one store per cache, with
   * the stores it adopted). */
  const AsyncrtTraceStore *home = asyncrt__trace_store_home (tr);
  guint shape1 = home != NULL && (cache->store == NULL || cache->store == home)
                 ? asyncrt__trace_store_shape_of (home, tr) : 0;
  if (shape1 != 0)
    {
      if (cache->by_shape == NULL)
        {
          cache->store = home;
          cache->by_shape = g_ptr_array_new_with_free_func (cached_tree_free);
        }
      guint shape = shape1 - 1;
      if (shape >= cache->by_shape->len)
        g_ptr_array_set_size (cache->by_shape, (gint) asyncrt__trace_store_get_n_shapes (home));
      CachedTree *c = g_ptr_array_index (cache->by_shape, shape);
      if (c == NULL)
        {
          c = build_tree (tr);
          g_ptr_array_index (cache->by_shape, shape) = c;
        }
      return c;
    }
  GBytes *key = asyncrt__dump_trace_key (tr);
  CachedTree *c = g_hash_table_lookup (cache->trees, key);
  if (c != NULL)
    {
      g_bytes_unref (key);
      return c;
    }
  c = build_tree (tr);
  g_hash_table_insert (cache->trees, key, c);
  return c;
}

void
asyncrt__dump_tree_cache_append (AsyncrtDumpTreeCache *cache, const AsyncrtTrace *tr,
                                 AsyncrtDumpAnnotateFunc annotate, void *data, GString *out)
{
  const CachedTree *c = cached_tree (cache, tr);
  size_t pos = 0;
  GString *phrase = cache->phrase;
  for (guint k = 0; k < c->slots->len; k++)
    {
      const Slot *slot = &g_array_index (c->slots, Slot, k);
      asyncrt__gstring_append_len (out, c->text + pos, slot->offset - pos);
      pos = slot->offset;
      bool first = true;
      for (guint i = 0; i < slot->n; i++)
        {
          g_string_truncate (phrase, 0);
          annotate (phrase, g_array_index (c->indices, guint, slot->first + i), data);
          if (phrase->len == 0)
            continue;
          asyncrt__gstring_append (out, first ? " — " : "; ");
          asyncrt__gstring_append_len (out, phrase->str, phrase->len);
          first = false;
        }
    }
  asyncrt__gstring_append_len (out, c->text + pos, c->len - pos);
}

const char *
asyncrt__dump_state_name (AsyncrtTaskState s)
{
  switch (s)
    {
    case ASYNCRT_TASK_STATE_SCHEDULED:
      return "scheduled";
    case ASYNCRT_TASK_STATE_RUNNING:
      return "running";
    case ASYNCRT_TASK_STATE_IDLE:
    default:
      return "idle";
    }
}

/* The JSON names of the reasons (text: no_trace_phrase). */
const char *
asyncrt__dump_no_trace_name (AsyncrtDumpNoTraceReason r)
{
  switch (r)
    {
    case ASYNCRT_DUMP_NO_TRACE_RUNNING: return "running";
    case ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER: return "queued_on_missing_worker";
    case ASYNCRT_DUMP_NO_TRACE_WOKEN_DURING_DUMP: return "woken_during_dump";
    case ASYNCRT_DUMP_NO_TRACE_CANCELLED: return "cancelled";
    case ASYNCRT_DUMP_NO_TRACE_NOT_RUNNING: return "runtime_not_running";
    case ASYNCRT_DUMP_NO_TRACE_DEADLINE: return "deadline";
    case ASYNCRT_DUMP_NO_TRACE_TIMEOUT_ZERO: return "timeout_zero";
    case ASYNCRT_DUMP_NO_TRACE_NONE:
    default: return NULL;
    }
}

/* Every flag this version knows. */
#define KNOWN_FLAGS ((unsigned) (ASYNCRT_DUMP_GROUP | ASYNCRT_DUMP_FOLDED_TASK_NAMES))

/**
 * asyncrt_dump_format:
 * @d: a dump
 * @format: the format
 * @flags: #AsyncrtDumpFlags or-ed together, or 0
 *
 * Formats the dump: %ASYNCRT_DUMP_FORMAT_TEXT as asyncrt_dump_to_string() describes,
 * %ASYNCRT_DUMP_FORMAT_JSON as asyncrt_dump_to_json() does (schema version 2).  With
 * %ASYNCRT_DUMP_GROUP, tasks in the same state, with the same async call stack and
 * the same kinds of wait are one group: the text prints each group once,
 *
 * |[<!-- language="plain" -->
 * 10000 tasks idle: 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, … (9980 more), name "conn" (10000), spawned at server.c:88 (accept_loop), idle min 1.002 s, median 1.250 s, max 1.498 s
 *   ╼ conn_poll at server.c:120:5
 *   └╼ asyncrt_fd_read_poll at lib/driver/io/fd.c:320:7 — waits for fd to be readable
 * ]|
 *
 * (a group of one task prints as that task); a leaf's wait names its object only
 * when every member waits on the same one.  The JSON form lists every task as
 * without the flag and adds a "groups" member.  asyncrt_dump_to_string() and
 * asyncrt_dump_to_json() do not group: they list every task, as in 0.1.
 *
 * %ASYNCRT_DUMP_FORMAT_FOLDED writes folded stacks, the input of flame graphs
 * (flamegraph.pl, inferno, speedscope, Pyroscope's `folded` ingest): one line per
 * distinct stack, its frames from the root to the leaf separated by `;`, a space and
 * how many times it occurs, in the order stacks first appear:
 *
 * |[<!-- language="plain" -->
 * serve_poll;handler_poll;read_line;asyncrt_fd_readable_poll 9870
 * serve_poll;handler_poll;asyncrt_sleep_poll 130
 * [not traced: running] 2
 * ]|
 *
 * Every backtrace of a task's trace counts once (a task waiting on several leaf
 * futures at once is in each of its stacks); a task without a trace counts once at
 * `[not traced: REASON]` (the reasons of the JSON form), one whose trace poll reached
 * no leaf at `[no leaf future]`; a backtrace cut at the walk limit starts with
 * `[truncated]`.  Inlined functions are frames of their own, after the function they
 * were inlined into.  With %ASYNCRT_DUMP_FOLDED_TASK_NAMES every stack starts with its
 * task's name.  Names are the program's, so they are escaped: backslashes, control
 * characters and newlines as in the text form (`\\`, `\n`, `\x1b`, invalid UTF-8 as
 * U+FFFD), and `;` as `\x3b`, so a name can neither end a line nor split a frame;
 * spaces stay (C++ names have them), and readers take the count after the last space.
 * %ASYNCRT_DUMP_GROUP has no effect on folded stacks, which are grouped by nature.
 *
 * Thread safety: any thread; several threads may format the same dump at once.
 *
 * Returns: (transfer full) (nullable): a string to free() with free(); %NULL with
 *   errno %EINVAL if @d is %NULL, @format is not an #AsyncrtDumpFormat, or @flags
 *   holds a bit that is not an #AsyncrtDumpFlags of this version.
 * Since: 0.2
 */
char *
asyncrt_dump_format (AsyncrtDump *d, AsyncrtDumpFormat format, unsigned flags)
{
  if (d == NULL || (flags & ~KNOWN_FLAGS) != 0)
    {
      errno = EINVAL;
      return NULL;
    }
  switch (format)
    {
    case ASYNCRT_DUMP_FORMAT_TEXT:
      return asyncrt__dump_format_text (d, flags);
    case ASYNCRT_DUMP_FORMAT_JSON:
      return asyncrt__dump_format_json (d, flags);
    case ASYNCRT_DUMP_FORMAT_FOLDED:
      return asyncrt__dump_to_folded (d, flags);
    default:
      errno = EINVAL;
      return NULL;
    }
}
