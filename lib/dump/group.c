/* libasyncrt - grouping the tasks of a dump (ASYNCRT_DUMP_GROUP)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tasks are in one group when they are in the same state, have the same reason for
 * having no trace (and the same worker, where the reason names one), the same trace
 * (the same instruction pointers, asyncrt__dump_trace_key()) and the same kind of
 * wait at each leaf.  10,000 connections waiting in the same read are one group; a
 * mutex's holder is in a group of its own unless others wait exactly as it does.
 * Groups are ordered by their first (smallest) task id, members by id.
 *
 * Threads: reads a sealed dump only; the groups belong to the caller.
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"

#include <stdlib.h>

static GBytes *
group_key (const struct _AsyncrtDumpTask *t)
{
  GByteArray *key = g_byte_array_new ();
  int32_t head[3] = { (int32_t) t->state, (int32_t) t->no_trace, -1 };
  if (t->no_trace == ASYNCRT_DUMP_NO_TRACE_RUNNING
      || t->no_trace == ASYNCRT_DUMP_NO_TRACE_QUEUED_ON_MISSING_WORKER)
    head[2] = t->worker;
  g_byte_array_append (key, (const guint8 *) head, sizeof head);
  if (t->trace != NULL)
    {
      GBytes *tk = asyncrt__dump_trace_key (t->trace);
      gsize len;
      const guint8 *data = g_bytes_get_data (tk, &len);
      g_byte_array_append (key, data, (guint) len);
      g_bytes_unref (tk);
      for (size_t b = 0; b < t->trace->n_backtraces; b++)
        {
          uint8_t kind = (uint8_t) t->trace->backtraces[b]->wait.kind;
          g_byte_array_append (key, &kind, 1);
        }
    }
  return g_byte_array_free_to_bytes (key);
}

static void
group_free (gpointer p)
{
  AsyncrtDumpGroup *g = p;
  g_array_free (g->members, TRUE);
  g_free (g);
}

GPtrArray *
asyncrt__dump_groups (const AsyncrtDump *d)
{
  GPtrArray *groups = g_ptr_array_new_with_free_func (group_free);
  GHashTable *by_key = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                              (GDestroyNotify) g_bytes_unref, NULL);
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      const struct _AsyncrtDumpTask *t = &g_array_index (d->tasks, struct _AsyncrtDumpTask, i);
      GBytes *key = group_key (t);
      AsyncrtDumpGroup *g = g_hash_table_lookup (by_key, key);
      if (g == NULL)
        {
          g = g_new0 (AsyncrtDumpGroup, 1);
          g->members = g_array_new (FALSE, FALSE, sizeof (size_t));
          g_ptr_array_add (groups, g);
          g_hash_table_insert (by_key, key, g);
        }
      else
        g_bytes_unref (key);
      g_array_append_val (g->members, i);
    }
  g_hash_table_unref (by_key);
  return groups;
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

bool
asyncrt__dump_group_idle_stats (const AsyncrtDump *d, const AsyncrtDumpGroup *g,
                                uint64_t *ret_min, uint64_t *ret_median, uint64_t *ret_max)
{
  uint64_t *v = g_new (uint64_t, g->members->len + 1);
  size_t n = 0;
  for (guint k = 0; k < g->members->len; k++)
    {
      const struct _AsyncrtDumpTask *t =
        &g_array_index (d->tasks, struct _AsyncrtDumpTask, g_array_index (g->members, size_t, k));
      if (t->last_poll_ns != 0)
        v[n++] = t->idle_ns;
    }
  if (n == 0)
    {
      g_free (v);
      return false;
    }
  qsort (v, n, sizeof *v, cmp_u64);
  *ret_min = v[0];
  *ret_median = n % 2 ? v[n / 2] : v[n / 2 - 1] / 2 + v[n / 2] / 2
                                   + (v[n / 2 - 1] % 2 + v[n / 2] % 2) / 2;
  *ret_max = v[n - 1];
  g_free (v);
  return true;
}

bool
asyncrt__dump_group_same_object (const AsyncrtDump *d, const AsyncrtDumpGroup *g, guint backtrace)
{
  const AsyncrtWait *first = NULL;
  for (guint k = 0; k < g->members->len; k++)
    {
      const struct _AsyncrtDumpTask *t =
        &g_array_index (d->tasks, struct _AsyncrtDumpTask, g_array_index (g->members, size_t, k));
      const AsyncrtWait *w = &t->trace->backtraces[backtrace]->wait;
      if (first == NULL)
        first = w;
      else if (w->object != first->object || w->holder_id != first->holder_id
               || g_strcmp0 (w->name, first->name) != 0)
        return false;
    }
  return true;
}
