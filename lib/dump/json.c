/* libasyncrt - the JSON form of a dump (schema version 2)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The schema is documented in asyncrt_dump_to_json() below and installed as a JSON
 * Schema file (data/dump-schema-2.json).  What repeats is written once, in tables
 * referenced by index: "functions" (name, raw name, file), "frames" (one per
 * distinct instruction pointer, with its symbols), "traces" (one per distinct
 * trace: backtraces as lists of frame indices, and the merged tree), "spawn_sites".
 * A task then costs its own facts and its waits: about 300 bytes at any depth.
 *
 * Threads: a sealed dump is immutable (see dump.c), so formatting may run on several
 * threads at once.
 */
#include "dump/dump-private.h"
#include "dump/buf-private.h"
#include "trace/trace-private.h"
#include "trace/tree-private.h"

#include <stdlib.h>
#include <string.h>

/* ---- the tables ------------------------------------------------------------------------- */

typedef struct
{
  const char *name;
  const char *raw_name;
  const char *file;
} FunctionKey;

static guint
function_hash (gconstpointer p)
{
  const FunctionKey *k = p;
  return g_str_hash (k->name) * 31u + (k->raw_name != NULL ? g_str_hash (k->raw_name) : 0u) * 7u
         + (k->file != NULL ? g_str_hash (k->file) : 0u);
}

static gboolean
function_equal (gconstpointer a, gconstpointer b)
{
  const FunctionKey *x = a, *y = b;
  return strcmp (x->name, y->name) == 0 && g_strcmp0 (x->raw_name, y->raw_name) == 0
         && g_strcmp0 (x->file, y->file) == 0;
}

typedef struct
{
  uintptr_t ip;
  const AsyncrtTraceInfo *info;
} FrameKey;

static guint
frame_hash (gconstpointer p)
{
  const FrameKey *k = p;
  return (guint) (k->ip ^ (k->ip >> 32)) ^ (guint) (uintptr_t) k->info;
}

static gboolean
frame_equal (gconstpointer a, gconstpointer b)
{
  const FrameKey *x = a, *y = b;
  return x->ip == y->ip && x->info == y->info;
}

typedef struct
{
  GHashTable *functions;        /* FunctionKey* (owned) -> index + 1 */
  GHashTable *tree_functions;   /* FunctionKey* with raw_name NULL (owned) -> index + 1 */
  GPtrArray *function_list;     /* FunctionKey*, borrowed from `functions` */
  GHashTable *frames;           /* FrameKey* (owned) -> index + 1 */
  GPtrArray *frame_list;        /* FrameKey* */
  GHashTable *traces;           /* GBytes key -> index + 1 */
  GPtrArray *trace_list;        /* const AsyncrtTrace*, the first task's */
  GHashTable *spawns;           /* FunctionKey* (name: file, raw_name: func, line in
                                   file? no: keyed below) -> index + 1 */
  GPtrArray *spawn_list;        /* const struct _AsyncrtDumpTask* */
  size_t *task_trace;           /* per task: its trace's index, or SIZE_MAX */
  size_t *task_spawn;           /* per task: its spawn site's index, or SIZE_MAX */
  size_t *missing_trace;        /* per missing worker: its native stack's index, or SIZE_MAX */
  size_t *job_trace;            /* per blocking job: its native stack's index, or SIZE_MAX */
} Tables;

static size_t
function_index (Tables *tb, const char *name, const char *raw_name, const char *file)
{
  FunctionKey key = { name, raw_name, file };
  gpointer v = g_hash_table_lookup (tb->functions, &key);
  if (v != NULL)
    return GPOINTER_TO_SIZE (v) - 1;
  FunctionKey *k = g_memdup2 (&key, sizeof key);
  g_ptr_array_add (tb->function_list, k);
  size_t index = tb->function_list->len - 1;
  g_hash_table_insert (tb->functions, k, GSIZE_TO_POINTER (index + 1));
  /* A tree node knows name and file only: the first function with them. */
  FunctionKey tkey = { name, NULL, file };
  if (g_hash_table_lookup (tb->tree_functions, &tkey) == NULL)
    g_hash_table_insert (tb->tree_functions, g_memdup2 (&tkey, sizeof tkey),
                         GSIZE_TO_POINTER (index + 1));
  return index;
}

static void
add_frames (Tables *tb, const AsyncrtTrace *tr)
{
  for (size_t b = 0; b < tr->n_backtraces; b++)
    {
      const AsyncrtBacktrace *bt = tr->backtraces[b];
      for (size_t j = 0; j < bt->n_frames; j++)
        {
          FrameKey key = { bt->frames[j].ip, asyncrt__trace_frame_info (&bt->frames[j]) };
          if (g_hash_table_lookup (tb->frames, &key) != NULL)
            continue;
          FrameKey *k = g_memdup2 (&key, sizeof key);
          g_ptr_array_add (tb->frame_list, k);
          g_hash_table_insert (tb->frames, k, GSIZE_TO_POINTER (tb->frame_list->len));
          for (size_t s = 0; s < key.info->n_symbols; s++)
            {
              const AsyncrtBacktraceSymbol *sym = &key.info->symbols[s];
              function_index (tb, sym->name, sym->raw_name, sym->filename);
            }
        }
    }
}

/* A spawn site, hashed and compared by content (the same file name may sit at two
 * addresses), looked up without allocating. */
typedef struct
{
  const char *file;
  unsigned line;
  const char *func;
} SpawnKey;

static guint
spawn_hash (gconstpointer p)
{
  const SpawnKey *k = p;
  return (k->file != NULL ? g_str_hash (k->file) : 0u) * 31u + k->line * 7u
         + (k->func != NULL ? g_str_hash (k->func) : 0u);
}

static gboolean
spawn_equal (gconstpointer a, gconstpointer b)
{
  const SpawnKey *x = a, *y = b;
  return x->line == y->line && g_strcmp0 (x->file, y->file) == 0
         && g_strcmp0 (x->func, y->func) == 0;
}

/* The index of @tr in the "traces" table, adding it on first sight: by shape for the
 * traces of the dump's store (no key to build), by key for any other (native stacks,
 * synthetic traces); SIZE_MAX for NULL. */
static size_t
trace_index (Tables *tb, const AsyncrtDump *d, const AsyncrtTrace *tr, size_t *by_shape)
{
  if (tr == NULL)
    return SIZE_MAX;
  uint32_t shape = by_shape != NULL ? asyncrt__trace_store_shape_of (d->store, tr) : 0;
  if (shape != 0)
    {
      size_t *slot = &by_shape[shape - 1];
      if (*slot == SIZE_MAX)
        {
          g_ptr_array_add (tb->trace_list, (gpointer) tr);
          *slot = tb->trace_list->len - 1;
          asyncrt__symbol_revalidate ();
          add_frames (tb, tr);
        }
      return *slot;
    }
  GBytes *key = asyncrt__dump_trace_key (tr);
  gpointer v = g_hash_table_lookup (tb->traces, key);
  if (v == NULL)
    {
      g_ptr_array_add (tb->trace_list, (gpointer) tr);
      v = GSIZE_TO_POINTER (tb->trace_list->len);
      g_hash_table_insert (tb->traces, key, v);
      asyncrt__symbol_revalidate ();
      add_frames (tb, tr);
    }
  else
    g_bytes_unref (key);
  return GPOINTER_TO_SIZE (v) - 1;
}

static void
tables_build (Tables *tb, const AsyncrtDump *d)
{
  tb->functions = g_hash_table_new_full (function_hash, function_equal, g_free, NULL);
  tb->tree_functions = g_hash_table_new_full (function_hash, function_equal, g_free, NULL);
  tb->function_list = g_ptr_array_new ();
  tb->frames = g_hash_table_new_full (frame_hash, frame_equal, g_free, NULL);
  tb->frame_list = g_ptr_array_new ();
  tb->traces = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                      (GDestroyNotify) g_bytes_unref, NULL);
  tb->trace_list = g_ptr_array_new ();
  tb->spawn_list = g_ptr_array_new ();
  tb->task_trace = g_new (size_t, d->tasks->len + 1);
  tb->task_spawn = g_new (size_t, d->tasks->len + 1);
  size_t n_shapes = asyncrt__trace_store_get_n_shapes (d->store);
  size_t *by_shape = n_shapes > 0 ? g_new (size_t, n_shapes) : NULL;
  for (size_t k = 0; k < n_shapes; k++)
    by_shape[k] = SIZE_MAX;
  /* Spawn sites: keys point into the tasks (immutable), values are index + 1. */
  GHashTable *spawns = g_hash_table_new_full (spawn_hash, spawn_equal, g_free, NULL);
  SpawnKey last = { NULL, 0, NULL };
  size_t last_index = SIZE_MAX;
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      const struct _AsyncrtDumpTask *t = &g_array_index (d->tasks, struct _AsyncrtDumpTask, i);
      tb->task_trace[i] = SIZE_MAX;
      tb->task_spawn[i] = SIZE_MAX;
      if (t->spawn_file != NULL || t->spawn_func != NULL)
        {
          SpawnKey key = { t->spawn_file, t->spawn_line, t->spawn_func };
          /* Tasks spawned at one place usually follow each other: same pointers. */
          if (last_index == SIZE_MAX || key.file != last.file || key.line != last.line
              || key.func != last.func)
            {
              gpointer v = g_hash_table_lookup (spawns, &key);
              if (v == NULL)
                {
                  g_ptr_array_add (tb->spawn_list, (gpointer) t);
                  v = GSIZE_TO_POINTER (tb->spawn_list->len);
                  g_hash_table_insert (spawns, g_memdup2 (&key, sizeof key), v);
                }
              last = key;
              last_index = GPOINTER_TO_SIZE (v) - 1;
            }
          tb->task_spawn[i] = last_index;
        }
      tb->task_trace[i] = trace_index (tb, d, t->trace, by_shape);
    }
  g_hash_table_unref (spawns);
  /* Native stacks outside the tasks: workers that did not stop, blocking jobs. */
  size_t n_missing = asyncrt_dump_get_n_missing_workers (d);
  size_t n_jobs = asyncrt_dump_get_n_blocking_jobs (d);
  tb->missing_trace = g_new (size_t, n_missing + 1);
  tb->job_trace = g_new (size_t, n_jobs + 1);
  for (size_t i = 0; i < n_missing; i++)
    {
      const AsyncrtTrace *tr = NULL;
      asyncrt_dump_get_missing_worker_stack (d, i, &tr, NULL);
      tb->missing_trace[i] = trace_index (tb, d, tr, by_shape);
    }
  for (size_t i = 0; i < n_jobs; i++)
    tb->job_trace[i] = trace_index (tb, d, asyncrt_dump_blocking_job_get_trace (
                                              asyncrt_dump_get_blocking_job (d, i)), by_shape);
  g_free (by_shape);
}

static void
tables_free (Tables *tb)
{
  g_ptr_array_free (tb->function_list, TRUE);
  g_hash_table_unref (tb->functions);
  g_hash_table_unref (tb->tree_functions);
  g_ptr_array_free (tb->frame_list, TRUE);
  g_hash_table_unref (tb->frames);
  g_ptr_array_free (tb->trace_list, TRUE);
  g_hash_table_unref (tb->traces);
  g_ptr_array_free (tb->spawn_list, TRUE);
  g_free (tb->task_trace);
  g_free (tb->task_spawn);
  g_free (tb->missing_trace);
  g_free (tb->job_trace);
}

/* ---- small writers --------------------------------------------------------------------- */

static void
append_id_or_null (GString *out, uint64_t v)
{
  if (v != 0)
    asyncrt__buf_append_u64 (out, v);
  else
    ASYNCRT_GSTRING_APPEND_LIT (out, "null");
}

static void
append_index_or_null (GString *out, size_t v)
{
  if (v != SIZE_MAX)
    asyncrt__buf_append_u64 (out, v);
  else
    ASYNCRT_GSTRING_APPEND_LIT (out, "null");
}

static void
append_address (GString *out, uintptr_t a)
{
  g_string_append_c (out, '"');
  asyncrt__buf_append_hex (out, a);
  g_string_append_c (out, '"');
}

static void
append_ids (GString *out, const AsyncrtTaskId *ids, size_t n)
{
  g_string_append_c (out, '[');
  for (size_t k = 0; k < n; k++)
    g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, k > 0 ? "," : "", ids[k]);
  g_string_append_c (out, ']');
}

/* ---- tables ---------------------------------------------------------------------------- */

static void
append_functions (GString *out, const Tables *tb)
{
  ASYNCRT_GSTRING_APPEND_LIT (out, "\"functions\":[");
  for (guint k = 0; k < tb->function_list->len; k++)
    {
      const FunctionKey *f = g_ptr_array_index (tb->function_list, k);
      asyncrt__gstring_append (out, k > 0 ? ",{\"name\":" : "{\"name\":");
      asyncrt__json_append_string (out, f->name);
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"raw_name\":");
      asyncrt__json_append_string (out, f->raw_name);
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"file\":");
      asyncrt__json_append_string (out, f->file);
      g_string_append_c (out, '}');
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "],");
}

static void
append_frames (GString *out, Tables *tb)
{
  ASYNCRT_GSTRING_APPEND_LIT (out, "\"frames\":[");
  for (guint k = 0; k < tb->frame_list->len; k++)
    {
      const FrameKey *f = g_ptr_array_index (tb->frame_list, k);
      asyncrt__gstring_append (out, k > 0 ? ",{\"ip\":" : "{\"ip\":");
      append_address (out, f->ip);
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"symbol_address\":");
      if (f->info->symbol_address != 0)
        append_address (out, f->info->symbol_address);
      else
        ASYNCRT_GSTRING_APPEND_LIT (out, "null");
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"symbols\":[");
      for (size_t s = 0; s < f->info->n_symbols; s++)
        {
          const AsyncrtBacktraceSymbol *sym = &f->info->symbols[s];
          g_string_append_printf (out, "%s{\"function\":%zu,\"line\":%u,\"column\":%u}",
                                  s > 0 ? "," : "",
                                  function_index (tb, sym->name, sym->raw_name, sym->filename),
                                  sym->lineno, sym->colno);
        }
      ASYNCRT_GSTRING_APPEND_LIT (out, "]}");
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "],");
}

static void
append_node (GString *out, const Tables *tb, const AsyncrtTraceNode *n)
{
  ASYNCRT_GSTRING_APPEND_LIT (out, "{\"function\":");
  if (n->cut)
    ASYNCRT_GSTRING_APPEND_LIT (out, "null,\"truncated\":true");
  else
    {
      FunctionKey key = { n->name, NULL, n->filename };
      gpointer v = g_hash_table_lookup (tb->tree_functions, &key);
      append_index_or_null (out, v != NULL ? GPOINTER_TO_SIZE (v) - 1 : SIZE_MAX);
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"locations\":[");
  for (guint i = 0; n->locations != NULL && i < n->locations->len; i++)
    {
      const AsyncrtTraceLocation *l = &g_array_index (n->locations, AsyncrtTraceLocation, i);
      g_string_append_printf (out, "%s[%u,%u]", i > 0 ? "," : "", l->lineno, l->colno);
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "],\"children\":[");
  for (size_t i = 0; n->children != NULL && i < n->children->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      append_node (out, tb, g_ptr_array_index (n->children, i));
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "]}");
}

static void
append_traces (GString *out, const Tables *tb)
{
  ASYNCRT_GSTRING_APPEND_LIT (out, "\"traces\":[");
  for (guint k = 0; k < tb->trace_list->len; k++)
    {
      const AsyncrtTrace *tr = g_ptr_array_index (tb->trace_list, k);
      asyncrt__gstring_append (out, k > 0 ? ",{\"backtraces\":[" : "{\"backtraces\":[");
      for (size_t b = 0; b < tr->n_backtraces; b++)
        {
          const AsyncrtBacktrace *bt = tr->backtraces[b];
          g_string_append_printf (out, "%s{\"truncated\":%s,\"frames\":[", b > 0 ? "," : "",
                                  bt->truncated ? "true" : "false");
          for (size_t j = 0; j < bt->n_frames; j++)
            {
              FrameKey key = { bt->frames[j].ip, asyncrt__trace_frame_info (&bt->frames[j]) };
              size_t index = GPOINTER_TO_SIZE (g_hash_table_lookup (tb->frames, &key)) - 1;
              g_string_append_printf (out, "%s%zu", j > 0 ? "," : "", index);
            }
          ASYNCRT_GSTRING_APPEND_LIT (out, "]}");
        }
      ASYNCRT_GSTRING_APPEND_LIT (out, "],\"tree\":[");
      AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
      asyncrt__trace_tree_add_trace (tree, tr);
      for (size_t r = 0; r < tree->roots->len; r++)
        {
          if (r > 0)
            g_string_append_c (out, ',');
          append_node (out, tb, g_ptr_array_index (tree->roots, r));
        }
      asyncrt__trace_tree_free (tree);
      ASYNCRT_GSTRING_APPEND_LIT (out, "]}");
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "],");
}

static void
append_spawn_sites (GString *out, const Tables *tb)
{
  ASYNCRT_GSTRING_APPEND_LIT (out, "\"spawn_sites\":[");
  for (guint k = 0; k < tb->spawn_list->len; k++)
    {
      const struct _AsyncrtDumpTask *t = g_ptr_array_index (tb->spawn_list, k);
      asyncrt__gstring_append (out, k > 0 ? ",{\"file\":" : "{\"file\":");
      asyncrt__json_append_string (out, t->spawn_file);
      g_string_append_printf (out, ",\"line\":%u,\"function\":", t->spawn_line);
      asyncrt__json_append_string (out, t->spawn_func);
      g_string_append_c (out, '}');
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "],");
}

/* ---- tasks and their waits --------------------------------------------------------------- */

static void
append_wait (GString *out, const AsyncrtWait *w)
{
  ASYNCRT_GSTRING_APPEND_LIT (out, "{\"kind\":\"");
  asyncrt__gstring_append (out, asyncrt_wait_kind_to_string (w->kind));
  ASYNCRT_GSTRING_APPEND_LIT (out, "\",\"object\":");
  if (w->object != 0)
    append_address (out, w->object);
  else
    ASYNCRT_GSTRING_APPEND_LIT (out, "null");
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"name\":");
  asyncrt__json_append_string (out, w->name);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"holder_id\":");
  append_id_or_null (out, w->holder_id);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"waited_ns\":");
  append_id_or_null (out, w->waited_ns);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"facts\":{");
  for (unsigned k = 0; k < w->n_facts; k++)
    {
      asyncrt__gstring_append (out, k > 0 ? ",\"" : "\"");
      asyncrt__gstring_append (out, asyncrt_wait_fact_to_string ((AsyncrtWaitFact) w->fact_keys[k]));
      ASYNCRT_GSTRING_APPEND_LIT (out, "\":");
      asyncrt__buf_append_i64 (out, w->fact_values[k]);
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "}}");
}

static void
append_task (GString *out, const Tables *tb, const AsyncrtDump *d, size_t i)
{
  const struct _AsyncrtDumpTask *t = &g_array_index (d->tasks, struct _AsyncrtDumpTask, i);
  /* printf-free: this runs once per task of the dump. */
  ASYNCRT_GSTRING_APPEND_LIT (out, "{\"id\":");
  asyncrt__buf_append_u64 (out, t->id);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"state\":\"");
  asyncrt__gstring_append (out, asyncrt__dump_state_name (t->state));
  ASYNCRT_GSTRING_APPEND_LIT (out, "\",\"worker\":");
  int worker = asyncrt_dump_task_get_worker (t);
  if (worker >= 0)
    asyncrt__buf_append_i64 (out, worker);
  else
    ASYNCRT_GSTRING_APPEND_LIT (out, "null");
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"name\":");
  asyncrt__json_append_string (out, t->name);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"spawn\":");
  append_index_or_null (out, tb->task_spawn[i]);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"parent_id\":");
  append_id_or_null (out, t->parent_id);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"poll_count\":");
  asyncrt__buf_append_u64 (out, t->poll_count);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"idle_ns\":");
  if (t->last_poll_ns != 0)
    asyncrt__buf_append_u64 (out, t->idle_ns);
  else
    ASYNCRT_GSTRING_APPEND_LIT (out, "null");
  const char *why = asyncrt__dump_no_trace_name (t->no_trace);
  if (why != NULL)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"no_trace\":\"");
      asyncrt__gstring_append (out, why);
      g_string_append_c (out, '"');
    }
  else
    ASYNCRT_GSTRING_APPEND_LIT (out, ",\"no_trace\":null");
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"group_id\":");
  append_id_or_null (out, t->group_id);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"labels\":{");
  for (unsigned k = 0; t->labels != NULL && k < t->labels->n; k++)
    {
      if (k > 0)
        g_string_append_c (out, ',');
      asyncrt__json_append_string (out, t->labels->items[k].key);
      g_string_append_c (out, ':');
      asyncrt__json_append_string (out, t->labels->items[k].value);
    }
  g_string_append_c (out, '}');
  asyncrt__dump_append_task_native_json (out, t);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"trace\":");
  append_index_or_null (out, tb->task_trace[i]);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"waits\":[");
  size_t n_waits = t->trace != NULL && t->trace_kind != ASYNCRT_TRACE_KIND_NATIVE
                   ? t->trace->n_backtraces : 0;
  for (size_t b = 0; b < n_waits; b++)
    {
      if (b > 0)
        g_string_append_c (out, ',');
      append_wait (out, &t->trace->backtraces[b]->wait);
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "],\"blocks\":");
  asyncrt__buf_append_u64 (out, t->n_blocked);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"deadlock\":");
  append_index_or_null (out, t->deadlock != 0 ? t->deadlock - 1 : SIZE_MAX);
  g_string_append_c (out, '}');
}

/* ---- the diagnosis and groups ------------------------------------------------------------ */

static void
append_deadlocks (GString *out, const AsyncrtDump *d)
{
  ASYNCRT_GSTRING_APPEND_LIT (out, "\"deadlocks\":[");
  for (guint k = 0; d->deadlocks != NULL && k < d->deadlocks->len; k++)
    {
      const AsyncrtDumpDeadlock *dl = &g_array_index (d->deadlocks, AsyncrtDumpDeadlock, k);
      asyncrt__gstring_append (out, k > 0 ? ",{\"tasks\":" : "{\"tasks\":");
      append_ids (out, (const AsyncrtTaskId *) (const void *) dl->ids->data, dl->ids->len);
      g_string_append_printf (out, ",\"blocks\":%zu}", dl->n_blocked);
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "],");
}

static void
append_holders (GString *out, const AsyncrtDump *d)
{
  ASYNCRT_GSTRING_APPEND_LIT (out, "\"holders\":[");
  for (guint k = 0; d->holders != NULL && k < d->holders->len; k++)
    {
      const AsyncrtDumpHolder *h = &g_array_index (d->holders, AsyncrtDumpHolder, k);
      g_string_append_printf (out, "%s{\"task_id\":%" G_GUINT64_FORMAT ",\"in_dump\":%s,"
                              "\"kind\":\"%s\",\"object\":", k > 0 ? "," : "", h->holder_id,
                              h->holder != NULL ? "true" : "false",
                              asyncrt_wait_kind_to_string (h->wait->kind));
      if (h->wait->object != 0)
        append_address (out, h->wait->object);
      else
        ASYNCRT_GSTRING_APPEND_LIT (out, "null");
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"name\":");
      asyncrt__json_append_string (out, h->wait->name);
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"held_ns\":");
      append_id_or_null (out, h->held_ns);
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"waiters\":");
      append_ids (out, (const AsyncrtTaskId *) (const void *) h->waiters->data, h->waiters->len);
      g_string_append_printf (out, ",\"blocks\":%zu}", h->n_blocked);
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "]");
}

static void
append_groups (GString *out, const Tables *tb, const AsyncrtDump *d)
{
  GPtrArray *groups = asyncrt__dump_groups (d);
  ASYNCRT_GSTRING_APPEND_LIT (out, ",\"groups\":[");
  for (guint k = 0; k < groups->len; k++)
    {
      const AsyncrtDumpGroup *g = g_ptr_array_index (groups, k);
      size_t first_index = g_array_index (g->members, size_t, 0);
      const struct _AsyncrtDumpTask *first =
        &g_array_index (d->tasks, struct _AsyncrtDumpTask, first_index);
      g_string_append_printf (out, "%s{\"count\":%u,\"state\":\"%s\",\"no_trace\":",
                              k > 0 ? "," : "", g->members->len,
                              asyncrt__dump_state_name (first->state));
      const char *why = asyncrt__dump_no_trace_name (first->no_trace);
      if (why != NULL)
        g_string_append_printf (out, "\"%s\"", why);
      else
        ASYNCRT_GSTRING_APPEND_LIT (out, "null");
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"trace\":");
      append_index_or_null (out, tb->task_trace[first_index]);
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"wait_kinds\":[");
      for (size_t b = 0; first->trace != NULL && b < first->trace->n_backtraces; b++)
        g_string_append_printf (out, "%s\"%s\"", b > 0 ? "," : "",
                                asyncrt_wait_kind_to_string (first->trace->backtraces[b]->wait.kind));
      ASYNCRT_GSTRING_APPEND_LIT (out, "],\"tasks\":[");
      for (guint m = 0; m < g->members->len; m++)
        g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, m > 0 ? "," : "",
                                g_array_index (d->tasks, struct _AsyncrtDumpTask,
                                               g_array_index (g->members, size_t, m)).id);
      ASYNCRT_GSTRING_APPEND_LIT (out, "],\"idle_ns\":");
      uint64_t lo, mid, hi;
      if (asyncrt__dump_group_idle_stats (d, g, &lo, &mid, &hi))
        g_string_append_printf (out, "{\"min\":%" G_GUINT64_FORMAT ",\"median\":%" G_GUINT64_FORMAT
                                ",\"max\":%" G_GUINT64_FORMAT "}", lo, mid, hi);
      else
        ASYNCRT_GSTRING_APPEND_LIT (out, "null");
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, ']');
  g_ptr_array_unref (groups);
}

char *
asyncrt__dump_format_json (const AsyncrtDump *d, unsigned flags)
{
  Tables tb = { 0 };
  tables_build (&tb, d);
  /* Small at first: the first tasks tell how much the rest need. */
  GString *out = g_string_sized_new (64 * 1024);
  const char *census = asyncrt__dump_no_trace_name (d->census);
  g_string_append_printf (out, "{\"version\":%d,", ASYNCRT_DUMP_JSON_VERSION);
  asyncrt__dump_append_header (out, d, true);
  ASYNCRT_GSTRING_APPEND_LIT (out, "\"runtime\":{\"name\":");
  asyncrt__json_append_string (out, d->runtime_name);
  g_string_append_printf (out, ",\"serial\":%" G_GUINT64_FORMAT "},\"filter\":", d->runtime_serial);
  asyncrt__dump_options_append_json (out, d->options);
  g_string_append_c (out, ',');
  g_string_append_printf (out,
                          "\"flavour\":\"%s\",\"workers\":%u,"
                          "\"complete\":%s,\"census\":%s,\"census_reason\":%s%s%s,"
                          "\"missing_workers\":[",
                          d->flavour, d->n_workers,
                          d->complete ? "true" : "false", census != NULL ? "true" : "false",
                          census != NULL ? "\"" : "", census != NULL ? census : "null",
                          census != NULL ? "\"" : "");
  for (size_t i = 0; i < d->missing->len; i++)
    {
      const AsyncrtDumpMissingWorker *w = &g_array_index (d->missing, AsyncrtDumpMissingWorker, i);
      g_string_append_printf (out, "%s{\"index\":%u,\"task_id\":", i > 0 ? "," : "", w->index);
      append_id_or_null (out, w->task_id);
      g_string_append_printf (out, ",\"running_ns\":%" G_GUINT64_FORMAT, w->running_ns);
      asyncrt__dump_append_missing_native_json (out, w);
      ASYNCRT_GSTRING_APPEND_LIT (out, ",\"trace\":");
      append_index_or_null (out, tb.missing_trace[i]);
      g_string_append_c (out, '}');
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "],");
  asyncrt__dump_append_native_json (out, d, tb.job_trace);
  append_functions (out, &tb);
  append_frames (out, &tb);
  append_traces (out, &tb);
  append_spawn_sites (out, &tb);
  ASYNCRT_GSTRING_APPEND_LIT (out, "\"tasks\":[");
  gsize start = out->len;
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      if (i == 64)
        asyncrt__buf_reserve_rest (out, start, i, d->tasks->len);
      if (i > 0)
        g_string_append_c (out, ',');
      append_task (out, &tb, d, i);
    }
  ASYNCRT_GSTRING_APPEND_LIT (out, "],");
  append_deadlocks (out, d);
  append_holders (out, d);
  if (flags & ASYNCRT_DUMP_GROUP)
    append_groups (out, &tb, d);
  g_string_append_c (out, '}');
  tables_free (&tb);
  return asyncrt__buf_steal (out);
}

/**
 * asyncrt_dump_to_json:
 * @d: a dump
 *
 * Formats the dump as one JSON object (the same as asyncrt_dump_format() with
 * %ASYNCRT_DUMP_FORMAT_JSON and no flags), schema version 2, installed as a JSON
 * Schema with the development package (`$(datadir)/asyncrt/dump-schema-2.json`):
 *
 * |[<!-- language="plain" -->
 * {
 *   "version": 2,
 *   "pid": <process id>, "program": <program name>,
 *   "taken_at": <UTC time, "2025-01-31T12:34:56.789Z">,
 *   "library_version": "0.2.0",
 *   "runtime": { "name": <string>, "serial": <n> },
 *   "filter": null | { "name": <glob or null>, "states": [ "idle", ... ],
 *                      "min_idle_ns": <n>, "descendants_of": <id or null>,
 *                      "wait_kinds": null | [ "mutex", ... ] },
 *   "flavour": "current_thread" | "multi_thread",
 *   "workers": <number of workers>,
 *   "complete": <bool>,
 *   "census": <bool>,
 *   "census_reason": null | "runtime_not_running" | "deadline" | "timeout_zero",
 *   "missing_workers": [ { "index": <n>, "task_id": <id or null>,
 *                          "running_ns": <n>,
 *                          "native_stack": null | <native stack status>,
 *                          "trace": <index into traces or null> }, ... ],
 *   "native_stacks": "available" | "disabled" | "signal_in_use" | "unsupported"
 *                    | "failed",
 *   "sample_signal": <signal name, "SIGRTMIN+6"> | null,
 *   "blocking_jobs": [ { "function": <name>, "address": <"0x…">,
 *                        "task_id": <id or null>, "running_ns": <n>,
 *                        "native_stack": null | <native stack status>,
 *                        "trace": <index into traces or null> }, ... ],
 *   "functions": [ { "name": <demangled>, "raw_name": <string or null>,
 *                    "file": <string or null> }, ... ],
 *   "frames": [ { "ip": "0x55d0c0de1234", "symbol_address": <"0x…" or null>,
 *                 "symbols": [ { "function": <index into functions>, "line": <n>,
 *                                "column": <n> }, ... ] }, ... ],
 *   "traces": [ { "backtraces": [ { "truncated": <bool>,
 *                                   "frames": [ <index into frames>, ... ] }, ... ],
 *                 "tree": [ NODE, ... ] }, ... ],
 *   "spawn_sites": [ { "file": <string or null>, "line": <n>,
 *                      "function": <string or null> }, ... ],
 *   "tasks": [
 *     { "id": <n>, "state": "idle" | "scheduled" | "running",
 *       "worker": <index or null>, "name": <string or null>,
 *       "spawn": <index into spawn_sites or null>,
 *       "parent_id": <id or null>, "poll_count": <n>,
 *       "idle_ns": <n or null (never polled)>,
 *       "no_trace": null | "running" | "queued_on_missing_worker" | "woken_during_dump"
 *                   | "cancelled" | "runtime_not_running" | "deadline" | "timeout_zero",
 *       "group_id": <join set id or null>,
 *       "labels": { <key>: <value string>, ... },
 *       "trace_kind": "none" | "async" | "native",
 *       "native_stack": null | <native stack status>,
 *       "trace": <index into traces or null>,
 *       "waits": [ WAIT, ... ],          // one per backtrace of its trace, in order
 *       "blocks": <tasks waiting on it, transitively>,
 *       "deadlock": <index into deadlocks or null> },
 *     ...
 *   ],
 *   "deadlocks": [ { "tasks": [ <id>, ... ],          // ascending
 *                    "blocks": <other tasks waiting on the cycle> }, ... ],
 *   "holders": [ { "task_id": <id>, "in_dump": <bool>, "kind": <wait kind>,
 *                  "object": <"0x…" or null>, "name": <string or null>,
 *                  "held_ns": <n or null>, "waiters": [ <id>, ... ],
 *                  "blocks": <n> }, ... ],             // longest-held first
 *   "groups": [ { "count": <n>, "state": <state>, "no_trace": <reason or null>,
 *                 "trace": <index or null>, "wait_kinds": [ <kind>, ... ],
 *                 "tasks": [ <id>, ... ],
 *                 "idle_ns": { "min": <n>, "median": <n>, "max": <n> } | null }, ... ]
 *                                                       // with ASYNCRT_DUMP_GROUP only
 * }
 * NODE = { "function": <index into functions, or null for the cut marker>,
 *          "locations": [ [ <line>, <column> ], ... ],
 *          "truncated": true,                           // only on the cut marker
 *          "children": [ NODE, ... ] }
 * WAIT = { "kind": "unknown" | "yield" | "sleep" | "fd" | "notify" | "oneshot"
 *                  | "mpsc_recv" | "mpsc_send" | "semaphore" | "mutex" | "join"
 *                  | "blocking" | "dump" | "join_set" | "cancelled" | "signal",
 *          "object": <"0x…" or null>, "name": <string or null>,
 *          "holder_id": <id or null>, "waited_ns": <n or null>,
 *          "facts": { <fact name>: <integer>, ... } }
 * ]|
 *
 * Traces, frames and functions are shared: tasks suspended at the same place refer to
 * one trace, and a frame appears once however many traces contain it, so a task
 * costs about 300 bytes whatever its depth.  A trace's backtraces list frames
 * innermost first, each frame's symbols run from the innermost inlined function out,
 * and the tree is the one the text form prints (see the trace section): a node's
 * "locations" are the places the function is suspended at, in order of first
 * appearance; unknown lines and columns are 0.  A task's "waits" follow its trace's
 * backtraces one for one (see the wait section for the kinds and the facts: the
 * fact names are those of asyncrt_wait_fact_to_string()).  "deadlocks", "holders",
 * "blocks" and "deadlock" come from the wait-for graph (asyncrt_dump_get_deadlock(),
 * asyncrt_dump_task_get_n_blocked()).  "no_trace" is #AsyncrtDumpNoTraceReason (null
 * for a traced task), "census_reason" the reason shared by every task of a census;
 * "group_id" and "labels" are those of asyncrt_dump_task_get_group_id() and
 * asyncrt_task_set_label().  "worker" is set for running tasks and for tasks queued
 * on a worker that did not stop.  Task ids are JSON numbers; they stay below 2^53 in
 * any real program.  Strings are escaped as JSON requires; invalid UTF-8 becomes
 * U+FFFD.
 *
 * Native stacks: a running task's "trace" is its thread's native stack when
 * "trace_kind" is "native" (one backtrace, innermost first, in the same tables as
 * async traces; its "waits" is empty); a native stack status is one
 * of "ok", "no_answer", "signal_blocked", "uninterruptible", "moved_on",
 * "no_thread", "disabled", "signal_in_use", "unsupported", "failed"
 * (#AsyncrtNativeStackStatus), null where nothing was sampled.  A missing worker's
 * "trace" is the same as its running task's.  "blocking_jobs" lists the functions
 * running on the blocking pool (asyncrt_dump_get_blocking_job()).
 *
 * "runtime" names the runtime the dump is of (asyncrt_dump_get_runtime_name(),
 * asyncrt_dump_get_runtime_serial()), "filter" the filters it was taken with
 * (asyncrt_handle_dump_full(); null: every task).
 *
 * Changes from version 1: frames, functions, traces and spawn sites moved to tables
 * referenced by index (a task's "trace" and "spawn" are indices, tree nodes name
 * their function by index and their locations as [line, column] pairs); "waits",
 * "blocks", "deadlock", "deadlocks", "holders", "groups", the native stacks
 * ("trace_kind", "native_stack", "native_stacks", "sample_signal",
 * "blocking_jobs") are new.  New members may be added without changing the
 * version; a consumer must ignore members it does not know, and check "version".
 *
 * Thread safety: any thread; several threads may format the same dump at once.
 *
 * Returns: (transfer full) (nullable): a string to free() with free(), or %NULL if
 *   @d is %NULL.
 * Since: 0.1
 */
char *
asyncrt_dump_to_json (AsyncrtDump *d)
{
  if (d == NULL)
    return NULL;
  return asyncrt__dump_format_json (d, 0);
}
