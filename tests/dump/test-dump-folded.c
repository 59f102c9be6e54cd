/* Folded stacks (flame-graph input) of hand-built dumps with synthetic traces: the
 * exact output, parsed back to the exact counts of the dump; inlined functions as
 * frames of their own; tasks without a trace or without a leaf; the task-name prefix;
 * names holding ';', newlines, spaces and invalid UTF-8 that cannot break a line or a
 * frame. */
#include "dump/dump-private.h"
#include "dump/export-private.h"
#include "trace/trace-private.h"
#include "test-util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A frame: one or more symbols, innermost inlined first, separated by '|'. */
static void
add_backtrace (AsyncrtTrace *t, const char *const *frames, bool truncated)
{
  size_t n = g_strv_length ((char **) frames);
  AsyncrtTraceInfo **infos = g_new (AsyncrtTraceInfo *, n);
  uintptr_t *ips = g_new (uintptr_t, n);
  for (size_t i = 0; i < n; i++)
    {
      char **syms = g_strsplit (frames[i], "|", -1);
      size_t ns = g_strv_length (syms);
      AsyncrtTraceSymbolSpec *spec = g_new0 (AsyncrtTraceSymbolSpec, ns);
      for (size_t k = 0; k < ns; k++)
        {
          spec[k].name = syms[k];
          spec[k].filename = "t.c";
          spec[k].lineno = (unsigned) (10 * (k + 1));
        }
      infos[i] = asyncrt__trace_info_new (0x1000 * (i + 1), spec, ns);
      ips[i] = 0x1000 * (i + 1) + 0x10;
      g_free (spec);
      g_strfreev (syms);
    }
  asyncrt__trace_append_resolved (t, ips, infos, n);
  if (truncated)
    t->backtraces[t->n_backtraces - 1]->truncated = true;
  g_free (ips);
  g_free (infos);
}

static const char *const sleep_stack[] = { "asyncrt_sleep_poll", "handler_poll", "serve_poll", NULL };
static const char *const read_stack[] = { "asyncrt_fd_readable_poll", "handler_poll", "serve_poll",
                                           NULL };
/* read_line inlined into handler_poll: one native frame, two functions. */
static const char *const inlined_stack[] = { "asyncrt_fd_readable_poll",
                                             "read_line|handler_poll", "serve_poll", NULL };
static const char *const hostile_stack[] = { "leaf;poll", "evil\nname", "with space",
                                             "bad\xff" "utf8", NULL };

static void
add_task (AsyncrtDump *d, AsyncrtTaskId id, const char *name, const char *const *stack,
          const char *const *stack2)
{
  struct _AsyncrtDumpTask r = { 0 };
  r.id = id;
  r.state = ASYNCRT_TASK_STATE_IDLE;
  r.worker = -1;
  r.name = g_strdup (name);
  r.trace = asyncrt__trace_new ();
  if (stack != NULL)
    add_backtrace (r.trace, stack, false);
  if (stack2 != NULL)
    add_backtrace (r.trace, stack2, false);
  asyncrt__dump_add_task (d, &r);
}

static AsyncrtDump *
build (void)
{
  AsyncrtDump *d = asyncrt__dump_new ("multi_thread", 2);
  AsyncrtTaskId id = 1;
  for (int i = 0; i < 5; i++)
    add_task (d, id++, "conn", sleep_stack, NULL);
  for (int i = 0; i < 3; i++)
    add_task (d, id++, "conn", read_stack, NULL);
  add_task (d, id++, "select", sleep_stack, read_stack);        /* two leaves at once */
  for (int i = 0; i < 2; i++)
    add_task (d, id++, "inl", inlined_stack, NULL);
  add_task (d, id++, "evil;task\nname", hostile_stack, NULL);
  add_task (d, id++, NULL, NULL, NULL);                          /* no leaf reached */
  {
    struct _AsyncrtDumpTask r = { 0 };
    r.id = id++;
    r.state = ASYNCRT_TASK_STATE_RUNNING;
    r.no_trace = ASYNCRT_DUMP_NO_TRACE_RUNNING;
    r.worker = 1;
    asyncrt__dump_add_task (d, &r);
  }
  {
    struct _AsyncrtDumpTask r = { 0 };
    r.id = id++;
    r.state = ASYNCRT_TASK_STATE_IDLE;
    r.worker = -1;
    r.trace = asyncrt__trace_new ();
    add_backtrace (r.trace, sleep_stack, true);
    asyncrt__dump_add_task (d, &r);
  }
  asyncrt__dump_seal (d);
  return d;
}

/* Parses folded output into stack -> count, checking every line's shape. */
static GHashTable *
parse (const char *folded, size_t *ret_total)
{
  GHashTable *h = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  size_t total = 0;
  g_assert_true (folded[0] == '\0' || g_str_has_suffix (folded, "\n"));
  char **lines = g_strsplit (folded, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      if (**l == '\0')
        continue;
      char *sp = strrchr (*l, ' ');
      g_assert_nonnull (sp);
      char *end;
      guint64 n = g_ascii_strtoull (sp + 1, &end, 10);
      g_assert_true (*end == '\0' && n > 0);
      char *stack = g_strndup (*l, (gsize) (sp - *l));
      g_assert_false (g_hash_table_contains (h, stack));        /* each stack once */
      /* No empty frame, no control byte. */
      char **frames = g_strsplit (stack, ";", -1);
      for (char **f = frames; *f != NULL; f++)
        {
          g_assert_cmpuint (strlen (*f), >, 0);
          for (const char *c = *f; *c != '\0'; c++)
            g_assert_true ((unsigned char) *c >= 0x20 && *c != 0x7f);
        }
      g_strfreev (frames);
      g_hash_table_insert (h, stack, GSIZE_TO_POINTER ((gsize) n));
      total += n;
    }
  g_strfreev (lines);
  *ret_total = total;
  return h;
}

static gsize
count_of (GHashTable *h, const char *stack)
{
  return GPOINTER_TO_SIZE (g_hash_table_lookup (h, stack));
}

static void
test_counts (void)
{
  AsyncrtDump *d = build ();
  char *folded = asyncrt__dump_to_folded (d, 0);
  g_assert_cmpstr (folded, ==,
                   "serve_poll;handler_poll;asyncrt_sleep_poll 6\n"
                   "serve_poll;handler_poll;asyncrt_fd_readable_poll 4\n"
                   "serve_poll;handler_poll;read_line;asyncrt_fd_readable_poll 2\n"
                   "bad\xef\xbf\xbdutf8;with space;evil\\nname;leaf\\x3bpoll 1\n"
                   "[no leaf future] 1\n"
                   "[not traced: running] 1\n"
                   "[truncated];serve_poll;handler_poll;asyncrt_sleep_poll 1\n");
  size_t total;
  GHashTable *h = parse (folded, &total);
  /* Every task once, the one with two leaves twice. */
  g_assert_cmpuint (total, ==, asyncrt_dump_get_n_tasks (d) + 1);
  g_assert_cmpuint (count_of (h, "serve_poll;handler_poll;asyncrt_sleep_poll"), ==, 6);
  g_assert_cmpuint (count_of (h, "serve_poll;handler_poll;asyncrt_fd_readable_poll"), ==, 4);
  g_assert_cmpuint (count_of (h, "serve_poll;handler_poll;read_line;asyncrt_fd_readable_poll"), ==, 2);
  g_hash_table_destroy (h);
  free (folded);

  /* With the task names as the root frames. */
  folded = asyncrt__dump_to_folded (d, ASYNCRT_DUMP_FOLDED_TASK_NAMES);
  h = parse (folded, &total);
  g_assert_cmpuint (total, ==, asyncrt_dump_get_n_tasks (d) + 1);
  g_assert_cmpuint (count_of (h, "conn;serve_poll;handler_poll;asyncrt_sleep_poll"), ==, 5);
  g_assert_cmpuint (count_of (h, "select;serve_poll;handler_poll;asyncrt_sleep_poll"), ==, 1);
  g_assert_cmpuint (count_of (h, "select;serve_poll;handler_poll;asyncrt_fd_readable_poll"), ==, 1);
  g_assert_cmpuint (count_of (h, "inl;serve_poll;handler_poll;read_line;asyncrt_fd_readable_poll"), ==, 2);
  g_assert_cmpuint (count_of (h, "evil\\x3btask\\nname;bad\xef\xbf\xbdutf8;with space;evil\\nname;"
                                 "leaf\\x3bpoll"), ==, 1);
  g_assert_cmpuint (count_of (h, "[unnamed];[no leaf future]"), ==, 1);
  g_assert_cmpuint (count_of (h, "[unnamed];[not traced: running]"), ==, 2 - 1);
  g_hash_table_destroy (h);
  /* The public call gives the same. */
  char *pub = asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_FOLDED, ASYNCRT_DUMP_FOLDED_TASK_NAMES);
  g_assert_cmpstr (pub, ==, folded);
  free (pub);
  pub = asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_FOLDED, ASYNCRT_DUMP_GROUP);
  g_assert_nonnull (pub);
  g_assert_true (g_str_has_prefix (pub, "serve_poll;handler_poll;asyncrt_sleep_poll 6\n"));
  free (pub);
  errno = 0;
  g_assert_null (asyncrt_dump_format (d, ASYNCRT_DUMP_FORMAT_FOLDED, 1u << 20));
  g_assert_cmpint (errno, ==, EINVAL);
  g_assert_null (asyncrt_dump_format (NULL, ASYNCRT_DUMP_FORMAT_FOLDED, 0));
  free (folded);
  asyncrt_dump_free (d);

  /* An empty dump: nothing at all. */
  d = asyncrt__dump_new ("current_thread", 1);
  asyncrt__dump_seal (d);
  folded = asyncrt__dump_to_folded (d, 0);
  g_assert_cmpstr (folded, ==, "");
  free (folded);
  asyncrt_dump_free (d);
  g_assert_null (asyncrt__dump_to_folded (NULL, 0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dump-folded/counts", test_counts);
  return g_test_run ();
}
