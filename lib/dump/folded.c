/* libasyncrt - folded stacks: the input format of flame graphs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One line per distinct stack: the frames from the root to the leaf separated by `;`,
 * a space, and how many times the stack occurs (`a_poll;b_poll;asyncrt_sleep_poll 12`),
 * the format of flamegraph.pl's stackcollapse tools, read by Pyroscope's `folded`
 * ingest, speedscope, inferno and others.
 *
 * What counts: every backtrace of a task's trace counts once (a task waiting on two
 * leaves at once is in two stacks); a task without a trace counts once, in the stack
 * `[not traced: REASON]`; a traced task that reached no leaf in `[no leaf future]`.
 * A backtrace cut at the walk limit starts with `[truncated]`.  Inlined functions are
 * frames of their own, the outer one first.  Lines come in the order their stacks
 * first appear (tasks by id).
 *
 * Names are the program's: they go through the text escaping of every text form
 * (asyncrt__text_append_escaped: backslash, control characters and newlines as \\,
 * \n, \x1b…, invalid UTF-8 as U+FFFD), and a `;` becomes `\x3b`, so a name can neither
 * end a line nor split a frame.  Spaces stay (C++ names have them): readers take the
 * count after the last space.
 *
 * Threads: reads a sealed dump (immutable, see dump.c); any thread.
 */
#include "dump/dump-private.h"
#include "dump/export-private.h"
#include "trace/trace-private.h"
#include "util/util-private.h"

#include <stdlib.h>
#include <string.h>

/* Appends @name escaped for a frame of a folded stack. */
static void
append_frame (GString *out, const char *name)
{
  GString *esc = g_string_new (NULL);
  asyncrt__text_append_escaped (esc, name, false);
  for (gsize i = 0; i < esc->len; i++)
    if (esc->str[i] == ';')
      ASYNCRT_GSTRING_APPEND_LIT (out, "\\x3b");
    else
      g_string_append_c (out, esc->str[i]);
  g_string_free (esc, TRUE);
}

typedef struct
{
  GHashTable *counts;         /* stack (owned) -> count, as a pointer-sized integer */
  GPtrArray *order;           /* the stacks, in order of first appearance (borrowed) */
} Stacks;

static void
count_stack (Stacks *s, GString *stack)
{
  gpointer old;
  if (g_hash_table_lookup_extended (s->counts, stack->str, NULL, &old))
    {
      g_hash_table_insert (s->counts, g_strdup (stack->str),
                           GSIZE_TO_POINTER (GPOINTER_TO_SIZE (old) + 1));
      return;
    }
  char *key = g_strdup (stack->str);
  g_hash_table_insert (s->counts, key, GSIZE_TO_POINTER (1));
  g_ptr_array_add (s->order, key);
}

static void
start_stack (GString *stack, const struct _AsyncrtDumpTask *t, unsigned flags)
{
  g_string_truncate (stack, 0);
  if (flags & ASYNCRT_DUMP_FOLDED_TASK_NAMES)
    {
      append_frame (stack, t->name != NULL ? t->name : "[unnamed]");
      g_string_append_c (stack, ';');
    }
}

static void
append_backtrace (GString *stack, const AsyncrtBacktrace *bt)
{
  bool first = true;
  if (bt->truncated)
    {
      ASYNCRT_GSTRING_APPEND_LIT (stack, "[truncated]");
      first = false;
    }
  /* Frames are innermost first; a frame's symbols innermost inlined first. */
  for (size_t f = bt->n_frames; f-- > 0;)
    {
      const AsyncrtTraceInfo *info = asyncrt__trace_frame_info (&bt->frames[f]);
      for (size_t k = info->n_symbols; k-- > 0;)
        {
          if (!first)
            g_string_append_c (stack, ';');
          append_frame (stack, info->symbols[k].name);
          first = false;
        }
    }
}

static void
add_dump (Stacks *s, GString *stack, AsyncrtDump *d, unsigned flags)
{
  for (size_t i = 0; i < d->tasks->len; i++)
    {
      const struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, i);
      if (t->trace == NULL)
        {
          start_stack (stack, t, flags);
          g_string_append_printf (stack, "[not traced: %s]",
                                  asyncrt__dump_no_trace_name (t->no_trace) != NULL
                                  ? asyncrt__dump_no_trace_name (t->no_trace) : "unknown");
          count_stack (s, stack);
          continue;
        }
      size_t nb = asyncrt_trace_get_n_backtraces (t->trace);
      if (nb == 0)
        {
          start_stack (stack, t, flags);
          ASYNCRT_GSTRING_APPEND_LIT (stack, "[no leaf future]");
          count_stack (s, stack);
        }
      for (size_t b = 0; b < nb; b++)
        {
          start_stack (stack, t, flags);
          append_backtrace (stack, asyncrt_trace_get_backtrace (t->trace, b));
          count_stack (s, stack);
        }
    }
}

void
asyncrt__dump_append_folded (GString *out, AsyncrtDump *const *dumps, size_t n_dumps,
                             unsigned flags)
{
  /* g_hash_table_insert() on an existing key frees the new key: the order array
   * keeps pointing at the first one, which stays. */
  Stacks s = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
               g_ptr_array_new () };
  GString *stack = g_string_new (NULL);
  for (size_t n = 0; n < n_dumps; n++)
    add_dump (&s, stack, dumps[n], flags);
  for (guint i = 0; i < s.order->len; i++)
    {
      const char *key = g_ptr_array_index (s.order, i);
      g_string_append_printf (out, "%s %zu\n", key,
                              GPOINTER_TO_SIZE (g_hash_table_lookup (s.counts, key)));
    }
  g_string_free (stack, TRUE);
  g_ptr_array_free (s.order, TRUE);
  g_hash_table_destroy (s.counts);
}

char *
asyncrt__dump_to_folded (AsyncrtDump *d, unsigned flags)
{
  if (d == NULL)
    return NULL;
  GString *out = g_string_new (NULL);
  asyncrt__dump_append_folded (out, &d, 1, flags);
  char *s = strdup (out->str);
  g_string_free (out, TRUE);
  return s;
}
