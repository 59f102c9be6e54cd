/* libasyncrt - dumps as pprof profiles: asyncrt_dump_write_pprof()
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The shape of Go's goroutine profile: one sample type, tasks/count; one sample per
 * distinct stack and label set, whose value is the number of tasks in it.  Stacks
 * are the backtraces of the dump's traces (each backtrace of a task counts once, as
 * in the folded form: folded.c); a task without a trace is one sample at the pseudo
 * function `[not traced: REASON]`, one whose trace reached no leaf at
 * `[no leaf future]`, and a backtrace cut at the walk limit has `[truncated]` at its
 * root.  Locations are native frames (address: the return address minus one, the
 * address symbols are resolved at), each with one line per function, the innermost
 * inlined first, so pprof shows inlined functions as frames of their own.  Mappings
 * are the executable segments of the loaded objects with their GNU build ids
 * (mappings.c), marked as symbolised, so pprof never looks the addresses up again.
 *
 * Encoding: the messages of profile.proto (written here from pprof's documented field
 * numbers) filled in and packed by protobuf-c, gzipped by zlib.  Memory: every
 * message, array and string below belongs to the Builder and is freed with it.
 *
 * Threads: reads sealed dumps (immutable, see dump.c); resolves symbols through the
 * shared cache; any thread, not a signal handler (dl_iterate_phdr).
 */
#include "dump/dump-private.h"
#include "dump/export-private.h"
#include "trace/trace-private.h"
#include "dump/profile.pb-c.h"

#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__ValueType ValueType;

typedef struct
{
  GHashTable *string_ids;     /* string (owned by strings) -> index + 1 */
  GPtrArray *strings;         /* char* (owned) */
  GHashTable *function_ids;   /* "name\1raw\1file" (owned) -> id */
  GPtrArray *functions;       /* Function* (owned) */
  GHashTable *location_ids;   /* ip -> id, for native frames */
  GHashTable *pseudo_ids;     /* pseudo-function name (owned) -> location id */
  GPtrArray *locations;       /* Location* (owned, with their lines) */
  GArray *maps;               /* AsyncrtMapping, read once */
  GHashTable *mapping_ids;    /* index in maps + 1 -> mapping id */
  GPtrArray *mappings;        /* Mapping* (owned) */
  GHashTable *sample_ids;     /* sample key (owned) -> index + 1 */
  GPtrArray *samples;         /* Sample* (owned, with their labels) */
  GArray *stack;              /* uint64_t location ids of the sample being built */
} Builder;

static int64_t
str_id (Builder *b, const char *s)
{
  if (s == NULL)
    s = "";
  gpointer v = g_hash_table_lookup (b->string_ids, s);
  if (v != NULL)
    return (int64_t) GPOINTER_TO_SIZE (v) - 1;
  char *copy = g_strdup (s);
  g_ptr_array_add (b->strings, copy);
  g_hash_table_insert (b->string_ids, copy, GSIZE_TO_POINTER (b->strings->len));
  return (int64_t) b->strings->len - 1;
}

static void
builder_init (Builder *b)
{
  memset (b, 0, sizeof *b);
  b->string_ids = g_hash_table_new (g_str_hash, g_str_equal);
  b->strings = g_ptr_array_new_with_free_func (g_free);
  b->function_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b->functions = g_ptr_array_new_with_free_func (g_free);
  b->location_ids = g_hash_table_new (g_direct_hash, g_direct_equal);
  b->pseudo_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b->locations = g_ptr_array_new ();
  b->maps = asyncrt__mappings_read ();
  b->mapping_ids = g_hash_table_new (g_direct_hash, g_direct_equal);
  b->mappings = g_ptr_array_new_with_free_func (g_free);
  b->sample_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b->samples = g_ptr_array_new ();
  b->stack = g_array_new (FALSE, FALSE, sizeof (uint64_t));
  str_id (b, "");                              /* string_table[0] is "" */
}

static void
builder_clear (Builder *b)
{
  for (guint i = 0; i < b->locations->len; i++)
    {
      Location *l = g_ptr_array_index (b->locations, i);
      for (size_t k = 0; k < l->n_line; k++)
        g_free (l->line[k]);
      g_free (l->line);
      g_free (l);
    }
  for (guint i = 0; i < b->samples->len; i++)
    {
      Sample *s = g_ptr_array_index (b->samples, i);
      for (size_t k = 0; k < s->n_label; k++)
        g_free (s->label[k]);
      g_free (s->label);
      g_free (s->location_id);
      g_free (s->value);
      g_free (s);
    }
  g_ptr_array_free (b->locations, TRUE);
  g_ptr_array_free (b->samples, TRUE);
  g_hash_table_destroy (b->string_ids);
  g_ptr_array_free (b->strings, TRUE);
  g_hash_table_destroy (b->function_ids);
  g_ptr_array_free (b->functions, TRUE);
  g_hash_table_destroy (b->location_ids);
  g_hash_table_destroy (b->pseudo_ids);
  g_array_free (b->maps, TRUE);
  g_hash_table_destroy (b->mapping_ids);
  g_ptr_array_free (b->mappings, TRUE);
  g_hash_table_destroy (b->sample_ids);
  g_array_free (b->stack, TRUE);
}

static uint64_t
function_id (Builder *b, const char *name, const char *raw_name, const char *file)
{
  char *key = g_strjoin ("\1", name, raw_name != NULL ? raw_name : "",
                         file != NULL ? file : "", NULL);
  gpointer v = g_hash_table_lookup (b->function_ids, key);
  if (v != NULL)
    {
      g_free (key);
      return GPOINTER_TO_SIZE (v);
    }
  Function *f = g_new (Function, 1);
  perftools__profiles__function__init (f);
  f->id = b->functions->len + 1;
  f->name = str_id (b, name);
  f->system_name = str_id (b, raw_name != NULL ? raw_name : name);
  f->filename = str_id (b, file);
  g_ptr_array_add (b->functions, f);
  g_hash_table_insert (b->function_ids, key, GSIZE_TO_POINTER (f->id));
  return f->id;
}

static uint64_t
mapping_id (Builder *b, uintptr_t addr)
{
  int i = asyncrt__mappings_find (b->maps, addr);
  if (i < 0)
    return 0;
  gpointer v = g_hash_table_lookup (b->mapping_ids, GINT_TO_POINTER (i + 1));
  if (v != NULL)
    return GPOINTER_TO_SIZE (v);
  const AsyncrtMapping *m = &g_array_index (b->maps, AsyncrtMapping, i);
  Mapping *mp = g_new (Mapping, 1);
  perftools__profiles__mapping__init (mp);
  mp->id = b->mappings->len + 1;
  mp->memory_start = m->start;
  mp->memory_limit = m->limit;
  mp->file_offset = m->offset;
  mp->filename = str_id (b, m->file);
  mp->build_id = str_id (b, m->build_id);
  /* Symbolised here: pprof must not look the addresses up again. */
  mp->has_functions = true;
  mp->has_filenames = true;
  mp->has_line_numbers = true;
  mp->has_inline_frames = true;
  g_ptr_array_add (b->mappings, mp);
  g_hash_table_insert (b->mapping_ids, GINT_TO_POINTER (i + 1), GSIZE_TO_POINTER (mp->id));
  return mp->id;
}

static Location *
location_new (Builder *b, uint64_t mapping, uint64_t address, size_t n_lines)
{
  Location *l = g_new (Location, 1);
  perftools__profiles__location__init (l);
  l->id = b->locations->len + 1;
  l->mapping_id = mapping;
  l->address = address;
  l->n_line = n_lines;
  l->line = g_new (Line *, n_lines);
  for (size_t k = 0; k < n_lines; k++)
    {
      l->line[k] = g_new (Line, 1);
      perftools__profiles__line__init (l->line[k]);
    }
  g_ptr_array_add (b->locations, l);
  return l;
}

static uint64_t
frame_location (Builder *b, const AsyncrtBacktraceFrame *frame)
{
  gpointer v = g_hash_table_lookup (b->location_ids, GSIZE_TO_POINTER (frame->ip));
  if (v != NULL)
    return GPOINTER_TO_SIZE (v);
  const AsyncrtTraceInfo *info = asyncrt__trace_frame_info (frame);
  uintptr_t addr = frame->ip > 0 ? frame->ip - 1 : 0;     /* inside the call */
  Location *l = location_new (b, mapping_id (b, addr), addr, info->n_symbols);
  for (size_t k = 0; k < info->n_symbols; k++)
    {
      const AsyncrtBacktraceSymbol *s = &info->symbols[k];
      l->line[k]->function_id = function_id (b, s->name, s->raw_name, s->filename);
      l->line[k]->line = s->lineno;
      l->line[k]->column = s->colno;
    }
  g_hash_table_insert (b->location_ids, GSIZE_TO_POINTER (frame->ip), GSIZE_TO_POINTER (l->id));
  return l->id;
}

/* A location of its own for a pseudo function such as "[not traced: running]". */
static uint64_t
pseudo_location (Builder *b, const char *name)
{
  gpointer v = g_hash_table_lookup (b->pseudo_ids, name);
  if (v != NULL)
    return GPOINTER_TO_SIZE (v);
  Location *l = location_new (b, 0, 0, 1);
  l->line[0]->function_id = function_id (b, name, name, NULL);
  g_hash_table_insert (b->pseudo_ids, g_strdup (name), GSIZE_TO_POINTER (l->id));
  return l->id;
}

typedef struct
{
  const char *key;
  const char *value;
} Pair;

static bool
is_builtin_key (const char *key)
{
  return strcmp (key, "runtime") == 0 || strcmp (key, "task_name") == 0
         || strcmp (key, "task_state") == 0 || strcmp (key, "wait_kind") == 0;
}

/* The labels of a task's samples: the built-in ones, then the task's own (a task
 * label named like a built-in one gets the prefix "label:"). */
static GArray *
labels_of (const AsyncrtDump *d, const struct _AsyncrtDumpTask *t, GPtrArray *scratch)
{
  GArray *pairs = g_array_new (FALSE, FALSE, sizeof (Pair));
  Pair p;
  if (d->runtime_name != NULL)
    {
      p = (Pair) { "runtime", d->runtime_name };
      g_array_append_val (pairs, p);
    }
  if (t->name != NULL)
    {
      p = (Pair) { "task_name", t->name };
      g_array_append_val (pairs, p);
    }
  p = (Pair) { "task_state", asyncrt__dump_state_name (t->state) };
  g_array_append_val (pairs, p);
  for (unsigned i = 0; t->labels != NULL && i < t->labels->n; i++)
    {
      const char *key = t->labels->items[i].key;
      if (is_builtin_key (key))
        {
          char *k = g_strconcat ("label:", key, NULL);
          g_ptr_array_add (scratch, k);
          key = k;
        }
      p = (Pair) { key, t->labels->items[i].value };
      g_array_append_val (pairs, p);
    }
  return pairs;
}

/* Adds one task to the sample of (b->stack, @pairs). */
static void
count_sample (Builder *b, GArray *pairs)
{
  GString *key = g_string_new (NULL);
  for (guint i = 0; i < b->stack->len; i++)
    g_string_append_printf (key, "%" G_GUINT64_FORMAT ",", g_array_index (b->stack, uint64_t, i));
  for (guint i = 0; i < pairs->len; i++)
    {
      const Pair *p = &g_array_index (pairs, Pair, i);
      g_string_append_printf (key, "\1%s\2%s", p->key, p->value);
    }
  gpointer v = g_hash_table_lookup (b->sample_ids, key->str);
  if (v != NULL)
    {
      Sample *s = g_ptr_array_index (b->samples, GPOINTER_TO_SIZE (v) - 1);
      s->value[0]++;
      g_string_free (key, TRUE);
      return;
    }
  Sample *s = g_new (Sample, 1);
  perftools__profiles__sample__init (s);
  s->n_location_id = b->stack->len;
  s->location_id = g_memdup2 (b->stack->data, b->stack->len * sizeof (uint64_t));
  s->n_value = 1;
  s->value = g_new (int64_t, 1);
  s->value[0] = 1;
  s->n_label = pairs->len;
  s->label = g_new (Label *, pairs->len);
  for (guint i = 0; i < pairs->len; i++)
    {
      const Pair *p = &g_array_index (pairs, Pair, i);
      s->label[i] = g_new (Label, 1);
      perftools__profiles__label__init (s->label[i]);
      s->label[i]->key = str_id (b, p->key);
      s->label[i]->str = str_id (b, p->value);
    }
  g_ptr_array_add (b->samples, s);
  g_hash_table_insert (b->sample_ids, g_string_free (key, FALSE),
                       GSIZE_TO_POINTER (b->samples->len));
}

static void
add_pseudo_sample (Builder *b, GArray *pairs, const char *name)
{
  g_array_set_size (b->stack, 0);
  uint64_t id = pseudo_location (b, name);
  g_array_append_val (b->stack, id);
  count_sample (b, pairs);
}

static void
add_dump (Builder *b, const AsyncrtDump *d)
{
  GPtrArray *scratch = g_ptr_array_new_with_free_func (g_free);
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      const struct _AsyncrtDumpTask *t = &g_array_index (d->tasks, struct _AsyncrtDumpTask, i);
      GArray *pairs = labels_of (d, t, scratch);
      if (t->trace == NULL)
        {
          const char *why = asyncrt__dump_no_trace_name (t->no_trace);
          char *name = g_strdup_printf ("[not traced: %s]", why != NULL ? why : "unknown");
          add_pseudo_sample (b, pairs, name);
          g_free (name);
        }
      else if (asyncrt_trace_get_n_backtraces (t->trace) == 0)
        add_pseudo_sample (b, pairs, "[no leaf future]");
      for (size_t k = 0; t->trace != NULL && k < asyncrt_trace_get_n_backtraces (t->trace); k++)
        {
          const AsyncrtBacktrace *bt = asyncrt_trace_get_backtrace (t->trace, k);
          g_array_set_size (b->stack, 0);
          for (size_t f = 0; f < bt->n_frames; f++)       /* the leaf first */
            {
              uint64_t id = frame_location (b, &bt->frames[f]);
              g_array_append_val (b->stack, id);
            }
          if (bt->truncated)
            {
              uint64_t id = pseudo_location (b, "[truncated]");
              g_array_append_val (b->stack, id);
            }
          /* What this backtrace's leaf waits on: a label of this sample only. */
          const AsyncrtWait *w = asyncrt_dump_task_get_wait (t, k);
          Pair p = { "wait_kind", asyncrt_wait_kind_to_string (asyncrt_wait_get_kind (w)) };
          if (w != NULL)
            g_array_append_val (pairs, p);
          count_sample (b, pairs);
          if (w != NULL)
            g_array_set_size (pairs, pairs->len - 1);
        }
      g_array_free (pairs, TRUE);
    }
  g_ptr_array_free (scratch, TRUE);
}

/* The wall-clock time (ns since the Epoch) at which @d was taken. */
static int64_t
taken_at_unix_ns (const AsyncrtDump *d)
{
  struct timespec real;
  clock_gettime (CLOCK_REALTIME, &real);
  uint64_t now = asyncrt__clock_now_ns ();
  uint64_t ago = now > d->taken_ns ? now - d->taken_ns : 0;
  return (int64_t) real.tv_sec * 1000000000 + real.tv_nsec - (int64_t) ago;
}

static int
gzip_bytes (const uint8_t *in, size_t len, GByteArray *out)
{
  z_stream z;
  memset (&z, 0, sizeof z);
  /* windowBits 15 + 16: a gzip header and trailer around the deflate stream. */
  if (deflateInit2 (&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return -ENOMEM;
  uLong bound = deflateBound (&z, (uLong) len);
  g_byte_array_set_size (out, (guint) bound);
  z.next_in = (Bytef *) in;
  z.avail_in = (uInt) len;
  z.next_out = out->data;
  z.avail_out = (uInt) bound;
  int r = deflate (&z, Z_FINISH);
  g_byte_array_set_size (out, (guint) z.total_out);
  deflateEnd (&z);
  return r == Z_STREAM_END ? 0 : -EIO;
}

int
asyncrt__dump_pprof_build (AsyncrtDump *const *dumps, size_t n, GByteArray *out)
{
  Builder b;
  builder_init (&b);
  for (size_t i = 0; i < n; i++)
    add_dump (&b, dumps[i]);

  ValueType tasks;
  perftools__profiles__value_type__init (&tasks);
  tasks.type = str_id (&b, "tasks");
  tasks.unit = str_id (&b, "count");
  ValueType period = tasks;
  ValueType *sample_types[] = { &tasks };
  Profile p;
  perftools__profiles__profile__init (&p);
  p.n_sample_type = 1;
  p.sample_type = sample_types;
  p.period_type = &period;
  p.period = 1;
  p.default_sample_type = tasks.type;
  p.time_nanos = n > 0 ? taken_at_unix_ns (dumps[0]) : 0;
  int64_t comments[16];
  size_t n_comments = 0;
  char *what = g_strdup_printf ("libasyncrt %u.%u.%u task dump", asyncrt_get_major_version (),
                                asyncrt_get_minor_version (), asyncrt_get_micro_version ());
  comments[n_comments++] = str_id (&b, what);
  g_free (what);
  for (size_t i = 0; i < n && n_comments < G_N_ELEMENTS (comments); i++)
    {
      char *c = g_strdup_printf ("runtime \"%s\": %s, %u worker%s, %u tasks%s%s",
                                 dumps[i]->runtime_name != NULL ? dumps[i]->runtime_name : "",
                                 dumps[i]->flavour, dumps[i]->n_workers,
                                 dumps[i]->n_workers == 1 ? "" : "s", dumps[i]->tasks->len,
                                 dumps[i]->complete ? "" : ", incomplete",
                                 dumps[i]->options != NULL ? ", filtered" : "");
      comments[n_comments++] = str_id (&b, c);
      g_free (c);
    }
  p.n_comment = n_comments;
  p.comment = comments;
  p.n_sample = b.samples->len;
  p.sample = (Sample **) b.samples->pdata;
  p.n_mapping = b.mappings->len;
  p.mapping = (Mapping **) b.mappings->pdata;
  p.n_location = b.locations->len;
  p.location = (Location **) b.locations->pdata;
  p.n_function = b.functions->len;
  p.function = (Function **) b.functions->pdata;
  p.n_string_table = b.strings->len;
  p.string_table = (char **) b.strings->pdata;

  size_t len = perftools__profiles__profile__get_packed_size (&p);
  uint8_t *packed = g_malloc (len > 0 ? len : 1);
  perftools__profiles__profile__pack (&p, packed);
  int r = gzip_bytes (packed, len, out);
  g_free (packed);
  builder_clear (&b);
  return r;
}

static int
write_all (int fd, const uint8_t *buf, size_t len)
{
  size_t off = 0;
  while (off < len)
    {
      ssize_t n = write (fd, buf + off, len - off);
      if (n >= 0)
        {
          off += (size_t) n;
          continue;
        }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        {
          struct pollfd p = { .fd = fd, .events = POLLOUT };
          if (poll (&p, 1, -1) < 0 && errno != EINTR)
            return -errno;
          continue;
        }
      return -errno;
    }
  return 0;
}

/**
 * asyncrt_dump_write_pprof:
 * @d: a dump
 * @fd: a file descriptor open for writing (a file, a pipe, a socket)
 *
 * Writes the dump to @fd as a gzipped `profile.proto`, the format of pprof (`go tool
 * pprof`, the pprof web UI) and of the fleet profilers that take pprof uploads
 * (Pyroscope, Parca, Google Cloud Profiler…), in the shape of Go's goroutine profile:
 *
 * - one sample type, `tasks` / `count` (also the period type, period 1);
 * - one sample per distinct stack and label set, whose value is the number of tasks
 *   with that stack and those labels.  A stack is a backtrace of a task's trace, the
 *   leaf first; a task waiting on several leaf futures at once counts once in each
 *   of its stacks.  A task without a trace is counted at a pseudo-function
 *   `[not traced: REASON]` (the reasons of the JSON form: `running`, `deadline`…), a
 *   traced task that reached no leaf at `[no leaf future]`, and a stack cut at the
 *   walk limit has `[truncated]` at its root;
 * - labels: `runtime` (the runtime's name), `task_name` (if the task has one),
 *   `task_state` (`idle`, `scheduled`, `running`), `wait_kind` (what the stack's leaf
 *   waits on, asyncrt_wait_kind_to_string(): `mutex`, `sleep`, `fd`…; not for the
 *   pseudo-functions) and every label of the task
 *   (asyncrt_task_set_label(); one named like a built-in label is written as
 *   `label:KEY`), so `pprof -tagfocus=tenant=acme` or `-tags` work as with Go's
 *   profiler labels;
 * - locations: one per native frame, at its return address minus one, with one line
 *   per function of the frame — the innermost inlined function first, the function
 *   the code belongs to last — so inlined async functions show as frames of their
 *   own; lines carry file, line and column;
 * - mappings: the executable segments of the loaded objects, with the file name and
 *   the GNU build id (`.note.gnu.build-id`) of each, marked as symbolised (pprof does
 *   not look the addresses up again; the build ids let a symbol server do it);
 * - the time the dump was taken, and comments naming the library version and the
 *   runtime (flavour, workers, tasks, whether it is incomplete or filtered).
 *
 * |[<!-- language="C" --><!-- sample: body -->
 * AsyncrtDump *dump;
 * if (asyncrt_handle_dump (asyncrt_runtime_get_handle (rt), 1000, &dump) == 0)
 *   {
 *     int fd = open ("tasks.pb.gz", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
 *     if (fd >= 0)
 *       {
 *         if (asyncrt_dump_write_pprof (dump, fd) < 0)
 *           perror ("asyncrt_dump_write_pprof");
 *         close (fd);
 *       }
 *     asyncrt_dump_free (dump);
 *   }
 * ]|
 *
 * and then `go tool pprof -top tasks.pb.gz`, `go tool pprof -http=: tasks.pb.gz`, or
 * an upload to a profiler.  Symbols are resolved on the calling thread (cached, as for
 * every format).  The whole profile is built in memory, then written with as many
 * write() calls as needed (waiting with poll() on a non-blocking @fd); @fd is not
 * closed.  As with write(), a pipe whose reader has gone raises `SIGPIPE` unless the
 * program ignores or blocks it.  The library writes only to @fd: it never sends a
 * profile anywhere by itself.
 *
 * Thread safety: any thread (not a signal handler); several threads may format the
 * same dump at once.
 *
 * Returns: 0; `-EINVAL` if @d is %NULL or @fd is negative; the negative errno of a
 *   failed write() (`-EBADF`, `-EPIPE`, `-ENOSPC`…); `-ENOMEM` or `-EIO` if the
 *   compression failed.
 * Since: 0.2
 */
int
asyncrt_dump_write_pprof (AsyncrtDump *d, int fd)
{
  if (d == NULL || fd < 0)
    return -EINVAL;
  GByteArray *out = g_byte_array_new ();
  int r = asyncrt__dump_pprof_build (&d, 1, out);
  if (r == 0)
    r = write_all (fd, out->data, out->len);
  g_byte_array_unref (out);
  return r;
}
