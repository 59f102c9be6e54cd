/* libasyncrt - filtered dumps: AsyncrtDumpOptions and the filter a run applies
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership.  An AsyncrtDumpOptions belongs to its caller; a request keeps a copy of
 * its own (request.c), the dump another (to describe the filter it was taken with),
 * and a run compiles the request's copy into an AsyncrtDumpFilter that only the run's
 * thread uses.  Nothing here is shared between threads.
 *
 * When the filters apply (collect.c): the name, the descendants and the minimum idle
 * time are judged from fields of the task that are immutable (name, parent id; the
 * name lives in the task's extra part, set at spawn) or
 * read with a relaxed load (last poll time), before a task is claimed; the state once
 * it is known (claimed idle, drained from a queue, running, queued elsewhere).  A task
 * that does not match is never claimed, never trace-polled and never recorded.  The
 * wait kinds are known only from a trace: asyncrt__dump_filter_waits() drops the
 * records that do not match after tracing, before the dump is sealed (so the
 * wait-for graph is built from the tasks listed).
 *
 * Descendants are found by a walk of the owned list when the run starts: (id, parent)
 * of every live task, then a breadth-first search from the chosen task.  A task spawned
 * after that walk is matched if its parent was found (one level: workers are stopped
 * while a dump collects, so only a task spawned from outside the runtime, or by a
 * worker that did not stop, can be that late).
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"

#include <string.h>

struct _AsyncrtDumpFilter
{
  const AsyncrtDumpOptions *opts;   /* the request's copy: outlives the run */
  GPatternSpec *pattern;            /* NULL: any name */
  GHashTable *family;               /* task ids (descendants_of and its descendants), or NULL */
  AsyncrtTaskId *family_ids;        /* the keys of @family */
  uint64_t taken_ns;
};

/* ---- the options ------------------------------------------------------------------ */

/**
 * asyncrt_dump_options_new:
 *
 * Creates dump options with no filter (every task is listed).
 *
 * Thread safety: any thread; the object belongs to its caller.
 *
 * Returns: (transfer full): new options, to free with asyncrt_dump_options_free().
 * Since: 0.2
 */
AsyncrtDumpOptions *
asyncrt_dump_options_new (void)
{
  AsyncrtDumpOptions *o = g_new0 (AsyncrtDumpOptions, 1);
  o->states = ASYNCRT_TASK_STATE_FLAG_ALL;
  return o;
}

/**
 * asyncrt_dump_options_copy:
 * @opts: (nullable): dump options
 *
 * Thread safety: any thread, while no other thread changes @opts.
 *
 * Returns: (transfer full) (nullable): a copy of @opts, or %NULL if @opts is %NULL.
 * Since: 0.2
 */
AsyncrtDumpOptions *
asyncrt_dump_options_copy (const AsyncrtDumpOptions *opts)
{
  if (opts == NULL)
    return NULL;
  AsyncrtDumpOptions *o = g_new0 (AsyncrtDumpOptions, 1);
  *o = *opts;
  o->name_pattern = g_strdup (opts->name_pattern);
  return o;
}

/**
 * asyncrt_dump_options_free:
 * @opts: (nullable): dump options
 *
 * Thread safety: any thread, once no other thread uses @opts.
 *
 * Since: 0.2
 */
void
asyncrt_dump_options_free (AsyncrtDumpOptions *opts)
{
  if (opts == NULL)
    return;
  g_free (opts->name_pattern);
  g_free (opts);
}

/**
 * asyncrt_dump_options_set_name_pattern:
 * @opts: dump options
 * @pattern: (nullable): a glob (`*` any run of characters, `?` any one character), or
 *   %NULL for any name
 *
 * Lists only the tasks whose name matches @pattern as a whole (`conn-*` matches
 * `conn-7`, not `my-conn-7`).  An unnamed task is matched as the empty name, so only
 * a pattern such as `*` matches it.  Names are compared byte for byte, except that `?`
 * matches one UTF-8 character.
 *
 * Thread safety: the thread that owns @opts.
 *
 * Returns: 0; `-EINVAL` if @opts is %NULL or @pattern is not valid UTF-8 or longer
 *   than 255 bytes.
 * Since: 0.2
 */
int
asyncrt_dump_options_set_name_pattern (AsyncrtDumpOptions *opts, const char *pattern)
{
  if (opts == NULL)
    return -EINVAL;
  if (pattern != NULL
      && (strlen (pattern) > ASYNCRT_DUMP_NAME_PATTERN_MAX || !g_utf8_validate (pattern, -1, NULL)))
    return -EINVAL;
  g_free (opts->name_pattern);
  opts->name_pattern = g_strdup (pattern);
  return 0;
}

/**
 * asyncrt_dump_options_set_states:
 * @opts: dump options
 * @states: the states to list, a non-empty set of #AsyncrtTaskStateFlags
 *
 * Lists only the tasks in one of @states when the dump is taken.  The default is
 * %ASYNCRT_TASK_STATE_FLAG_ALL.  Leaving %ASYNCRT_TASK_STATE_FLAG_IDLE out is what
 * makes a dump of a busy runtime cheap: idle tasks are the ones a dump trace-polls.
 *
 * Thread safety: the thread that owns @opts.
 *
 * Returns: 0; `-EINVAL` if @opts is %NULL, @states is 0 or has bits outside
 *   %ASYNCRT_TASK_STATE_FLAG_ALL.
 * Since: 0.2
 */
int
asyncrt_dump_options_set_states (AsyncrtDumpOptions *opts, unsigned states)
{
  if (opts == NULL || states == 0 || (states & ~(unsigned) ASYNCRT_TASK_STATE_FLAG_ALL) != 0)
    return -EINVAL;
  opts->states = states;
  return 0;
}

/**
 * asyncrt_dump_options_set_min_idle_ns:
 * @opts: dump options
 * @min_idle_ns: the minimum time since the task's last poll started, in nanoseconds;
 *   0 for no minimum
 *
 * Lists only the tasks whose last poll started at least @min_idle_ns before the dump
 * was taken (asyncrt_dump_task_get_idle_ns(): for an idle task, how long it has been
 * waiting; for a running one, how long its poll has been running).  A task that was
 * never polled has no idle time and is left out by any minimum.
 *
 * Thread safety: the thread that owns @opts.
 *
 * Returns: 0, or `-EINVAL` if @opts is %NULL.
 * Since: 0.2
 */
int
asyncrt_dump_options_set_min_idle_ns (AsyncrtDumpOptions *opts, uint64_t min_idle_ns)
{
  if (opts == NULL)
    return -EINVAL;
  opts->min_idle_ns = min_idle_ns;
  return 0;
}

/**
 * asyncrt_dump_options_set_descendants_of:
 * @opts: dump options
 * @id: a task id (e.g. asyncrt_join_handle_get_id()), or 0 for no such filter
 *
 * Lists only the task @id and its descendants: the tasks it spawned, the tasks they
 * spawned, and so on, linked through the tasks alive when the dump is taken (see the
 * section description for what happens when a task of the chain has completed).  The
 * task @id itself need not be alive.
 *
 * Thread safety: the thread that owns @opts.
 *
 * Returns: 0, or `-EINVAL` if @opts is %NULL.
 * Since: 0.2
 */
int
asyncrt_dump_options_set_descendants_of (AsyncrtDumpOptions *opts, AsyncrtTaskId id)
{
  if (opts == NULL)
    return -EINVAL;
  opts->descendants_of = id;
  return 0;
}

/**
 * asyncrt_dump_options_set_wait_kinds:
 * @opts: dump options
 * @kinds: a set of wait kinds, ASYNCRT_WAIT_KIND_BIT() of each #AsyncrtWaitKind or-ed
 *   together; 0 for any
 *
 * Lists only the tasks with at least one leaf waiting on one of @kinds (see
 * asyncrt_dump_task_get_wait()).  Known only from a trace, this filter applies after
 * the trace polls (see the section description): tasks without a trace are left out.
 *
 * Thread safety: the thread that owns @opts.
 *
 * Returns: 0; `-EINVAL` if @opts is %NULL or @kinds has a bit that is not an
 *   #AsyncrtWaitKind of this version.
 * Since: 0.2
 */
int
asyncrt_dump_options_set_wait_kinds (AsyncrtDumpOptions *opts, uint64_t kinds)
{
  if (opts == NULL || (kinds & ~ASYNCRT_DUMP_KNOWN_WAIT_KINDS) != 0)
    return -EINVAL;
  opts->wait_kinds = kinds;
  return 0;
}

/**
 * asyncrt_dump_options_is_filtered:
 * @opts: (nullable): dump options
 *
 * Thread safety: any thread, while no other thread changes @opts.
 *
 * Returns: %TRUE if some filter is set (a dump with @opts may leave tasks out);
 *   %FALSE for %NULL or options that list every task.
 * Since: 0.2
 */
bool
asyncrt_dump_options_is_filtered (const AsyncrtDumpOptions *opts)
{
  return opts != NULL
         && (opts->name_pattern != NULL || opts->states != ASYNCRT_TASK_STATE_FLAG_ALL
             || opts->min_idle_ns != 0 || opts->descendants_of != 0 || opts->wait_kinds != 0);
}

/**
 * asyncrt_dump_is_filtered:
 * @d: a dump
 *
 * Thread safety: any thread.
 *
 * Returns: %TRUE if @d was taken with filters (asyncrt_handle_dump_full()), so it may
 *   leave tasks of the runtime out; %FALSE otherwise or for %NULL.
 * Since: 0.2
 */
bool
asyncrt_dump_is_filtered (const AsyncrtDump *d)
{
  return d != NULL && d->options != NULL;
}

AsyncrtDumpOptions *
asyncrt__dump_options_dup_filtered (const AsyncrtDumpOptions *opts)
{
  return asyncrt_dump_options_is_filtered (opts) ? asyncrt_dump_options_copy (opts) : NULL;
}

/* ---- descriptions ------------------------------------------------------------------ */

static void
append_states (GString *out, unsigned states, const char *sep)
{
  bool first = true;
  for (unsigned s = ASYNCRT_TASK_STATE_IDLE; s <= ASYNCRT_TASK_STATE_RUNNING; s++)
    if (states & (1u << s))
      {
        g_string_append_printf (out, "%s%s", first ? "" : sep,
                                asyncrt__dump_state_name ((AsyncrtTaskState) s));
        first = false;
      }
}

void
asyncrt__dump_options_append_text (GString *out, const AsyncrtDumpOptions *o)
{
  const char *sep = "";
  if (o->name_pattern != NULL)
    {
      g_string_append (out, "name \"");
      asyncrt__text_append_escaped (out, o->name_pattern, true);
      g_string_append_c (out, '"');
      sep = ", ";
    }
  if (o->states != ASYNCRT_TASK_STATE_FLAG_ALL)
    {
      g_string_append_printf (out, "%sstate ", sep);
      append_states (out, o->states, " or ");
      sep = ", ";
    }
  if (o->min_idle_ns != 0)
    {
      g_string_append_printf (out, "%sidle at least %.3f s", sep, (double) o->min_idle_ns / 1e9);
      sep = ", ";
    }
  if (o->descendants_of != 0)
    {
      g_string_append_printf (out, "%stask %" G_GUINT64_FORMAT " and its descendants", sep,
                              o->descendants_of);
      sep = ", ";
    }
  if (o->wait_kinds != 0)
    {
      g_string_append_printf (out, "%swaiting on ", sep);
      for (unsigned k = 0, n = 0; k < 64; k++)
        if (o->wait_kinds & ASYNCRT_WAIT_KIND_BIT (k))
          g_string_append_printf (out, "%s%s", n++ > 0 ? " or " : "",
                                  asyncrt_wait_kind_to_string ((AsyncrtWaitKind) k));
    }
}

void
asyncrt__dump_options_append_json (GString *out, const AsyncrtDumpOptions *o)
{
  if (o == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append (out, "{\"name\":");
  asyncrt__json_append_string (out, o->name_pattern);
  g_string_append (out, ",\"states\":[");
  for (unsigned s = ASYNCRT_TASK_STATE_IDLE, n = 0; s <= ASYNCRT_TASK_STATE_RUNNING; s++)
    if (o->states & (1u << s))
      g_string_append_printf (out, "%s\"%s\"", n++ > 0 ? "," : "",
                              asyncrt__dump_state_name ((AsyncrtTaskState) s));
  g_string_append_printf (out, "],\"min_idle_ns\":%" G_GUINT64_FORMAT ",\"descendants_of\":",
                          o->min_idle_ns);
  if (o->descendants_of != 0)
    g_string_append_printf (out, "%" G_GUINT64_FORMAT, o->descendants_of);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\"wait_kinds\":");
  if (o->wait_kinds == 0)
    g_string_append (out, "null}");
  else
    {
      g_string_append_c (out, '[');
      for (unsigned k = 0, n = 0; k < 64; k++)
        if (o->wait_kinds & ASYNCRT_WAIT_KIND_BIT (k))
          g_string_append_printf (out, "%s\"%s\"", n++ > 0 ? "," : "",
                                  asyncrt_wait_kind_to_string ((AsyncrtWaitKind) k));
      g_string_append (out, "]}");
    }
}

/* ---- the compiled filter ------------------------------------------------------------ */

typedef struct
{
  AsyncrtTaskId id;
  AsyncrtTaskId parent;
} Link;

static void
collect_link (AsyncrtTask *t, void *data)
{
  Link l = { t->id, t->parent_id };
  g_array_append_val ((GArray *) data, l);
}

static int
cmp_link_parent (const void *a, const void *b)
{
  const Link *x = a, *y = b;
  return x->parent < y->parent ? -1 : x->parent > y->parent;
}

/* The ids of @root and of every live task linked to it through live parents: keys of
 * the returned set point into *@ret_ids (to free with the set). */
static GHashTable *
family_of (AsyncrtHandle *h, AsyncrtTaskId root, AsyncrtTaskId **ret_ids)
{
  GArray *links = g_array_new (FALSE, FALSE, sizeof (Link));
  asyncrt__owned_foreach (&h->owned, collect_link, links);
  g_array_sort (links, cmp_link_parent);
  GHashTable *family = g_hash_table_new (g_int64_hash, g_int64_equal);
  /* One slot per live task at most, plus the root: the keys never move. */
  AsyncrtTaskId *ids = g_new (AsyncrtTaskId, links->len + 1);
  size_t n_ids = 0;
  ids[n_ids] = root;
  g_hash_table_add (family, &ids[n_ids++]);
  /* Breadth first: ids[] is also the queue of parents whose children to add. */
  for (size_t k = 0; k < n_ids; k++)
    {
      AsyncrtTaskId parent = ids[k];
      size_t lo = 0, hi = links->len;
      while (lo < hi)
        {
          size_t mid = lo + (hi - lo) / 2;
          if (g_array_index (links, Link, mid).parent < parent)
            lo = mid + 1;
          else
            hi = mid;
        }
      for (size_t i = lo; i < links->len && g_array_index (links, Link, i).parent == parent; i++)
        {
          AsyncrtTaskId child = g_array_index (links, Link, i).id;
          if (n_ids > links->len || g_hash_table_contains (family, &child))
            continue;                       /* ids are unique; this is only a guard */
          ids[n_ids] = child;
          g_hash_table_add (family, &ids[n_ids++]);
        }
    }
  g_array_free (links, TRUE);
  *ret_ids = ids;
  return family;
}

AsyncrtDumpFilter *
asyncrt__dump_filter_new (const AsyncrtDumpOptions *opts, AsyncrtHandle *h, uint64_t taken_ns)
{
  if (!asyncrt_dump_options_is_filtered (opts))
    return NULL;
  AsyncrtDumpFilter *f = g_new0 (AsyncrtDumpFilter, 1);
  f->opts = opts;
  f->taken_ns = taken_ns;
  if (opts->name_pattern != NULL)
    f->pattern = g_pattern_spec_new (opts->name_pattern);
  if (opts->descendants_of != 0)
    f->family = family_of (h, opts->descendants_of, &f->family_ids);
  return f;
}

void
asyncrt__dump_filter_free (AsyncrtDumpFilter *f)
{
  if (f == NULL)
    return;
  if (f->pattern != NULL)
    g_pattern_spec_free (f->pattern);
  if (f->family != NULL)
    g_hash_table_destroy (f->family);
  g_free (f->family_ids);
  g_free (f);
}

bool
asyncrt__dump_filter_match_task (const AsyncrtDumpFilter *f, const AsyncrtTask *t)
{
  if (f == NULL)
    return true;
  const AsyncrtDumpOptions *o = f->opts;
  if (f->family != NULL && !g_hash_table_contains (f->family, &t->id)
      && !g_hash_table_contains (f->family, &t->parent_id))
    return false;
  if (o->min_idle_ns != 0)
    {
      uint64_t last = atomic_load_explicit (&t->last_poll_ns, memory_order_relaxed);
      if (last == 0)
        return false;                       /* never polled: no idle time */
      uint64_t idle = f->taken_ns > last ? f->taken_ns - last : 1;
      if (idle < o->min_idle_ns)
        return false;
    }
  const char *name = asyncrt__task_name (t);
  if (f->pattern != NULL && !g_pattern_spec_match_string (f->pattern, name != NULL ? name : ""))
    return false;
  return true;
}

bool
asyncrt__dump_filter_wants_state (const AsyncrtDumpFilter *f, AsyncrtTaskState s)
{
  return f == NULL || (f->opts->states & (1u << s)) != 0;
}

bool
asyncrt__dump_filter_waits (AsyncrtDump *d)
{
  bool dropped = false;
  if (d->options == NULL || d->options->wait_kinds == 0)
    return false;
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, i);
      bool match = false;
      size_t n = asyncrt_dump_task_get_n_waits (t);
      for (size_t k = 0; k < n && !match; k++)
        {
          const AsyncrtWait *w = asyncrt_dump_task_get_wait (t, k);
          match = w != NULL
                  && (d->options->wait_kinds & ASYNCRT_WAIT_KIND_BIT (asyncrt_wait_get_kind (w)));
        }
      if (!match)
        {
          t->removed = true;
          dropped = true;
        }
    }
  return dropped;
}
