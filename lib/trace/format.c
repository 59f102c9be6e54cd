/* libasyncrt - text and JSON forms of traces and trace trees
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Text (DESIGN §5): root side first, one node per line, one root per line, names
 * never truncated, three columns per level:
 *
 *   ╼ handler_poll at examples/server.c:120:5
 *   └╼ read_request_poll at examples/server.c:60:9
 *      ├╼ asyncrt_fd_readable_poll at lib/driver/io/fd.c:40:3
 *      └╼ asyncrt_sleep_poll at lib/driver/time/sleep.c:31:3
 *
 * A function suspended at several places at once (two awaits in flight) is one node
 * listing every place: "join_both at t.c:10:5, 11:5".  A location prints as
 * file:line:col, file:line when the column is unknown, file when the line is unknown,
 * and ?? when nothing is known.  A function that could not be named at all carries
 * its address as its name (0x…).  Backtraces cut at the walk limit hang below one
 * "… (cut …)" root.
 *
 * Every string that comes from the program (symbol and file names here; task names
 * and spawn sites in dump.c) goes through asyncrt__text_append_escaped(), so the
 * text always has exactly the lines its structure gives it.
 *
 * JSON: see the schema in the SECTION comment of include/asyncrt/trace.h.
 *
 * Threads: these functions only read; a trace may be formatted from several threads.
 */
#include "trace/trace-private.h"

#include "trace/tree-private.h"
#include "util/util-private.h"

#include <string.h>

/* ---- escaping for text output ----------------------------------------------------- */

/* Characters shown as \uXXXX although they are valid: they move text around without
 * being visible (line and paragraph separators, bidirectional controls). */
static bool
is_invisible_format (gunichar c)
{
  return (c >= 0x80 && c <= 0x9f)                   /* C1 controls, e.g. CSI */
         || c == 0x200e || c == 0x200f               /* LRM, RLM */
         || (c >= 0x2028 && c <= 0x202e)             /* LS, PS, bidi embeddings */
         || (c >= 0x2066 && c <= 0x2069);            /* bidi isolates */
}

void
asyncrt__text_append_escaped (GString *out, const char *s, bool quoted)
{
  if (s == NULL)
    return;
  const char *p = s;
  while (*p != '\0')
    {
      /* Fast path: a run of printable ASCII. */
      const char *run = p;
      while (*p >= 0x20 && *p < 0x7f && *p != '\\' && !(quoted && *p == '"'))
        p++;
      if (p > run)
        asyncrt__gstring_append_len (out, run, (size_t) (p - run));
      if (*p == '\0')
        break;
      unsigned char b = (unsigned char) *p;
      if (b < 0x80)
        {
          switch (b)
            {
            case '\\': g_string_append (out, "\\\\"); break;
            case '"': g_string_append (out, "\\\""); break;
            case '\n': g_string_append (out, "\\n"); break;
            case '\r': g_string_append (out, "\\r"); break;
            case '\t': g_string_append (out, "\\t"); break;
            default: g_string_append_printf (out, "\\x%02x", b); break;   /* C0, DEL */
            }
          p++;
          continue;
        }
      gunichar c = g_utf8_get_char_validated (p, -1);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append (out, "\xef\xbf\xbd");   /* U+FFFD for each bad byte */
          p++;
          continue;
        }
      const char *next = g_utf8_next_char (p);
      if (is_invisible_format (c))
        g_string_append_printf (out, "\\u%04x", (unsigned) c);
      else
        g_string_append_len (out, p, next - p);
      p = next;
    }
}

/* ---- text --------------------------------------------------------------------------- */

static void
append_label (GString *out, const AsyncrtTraceNode *n)
{
  if (n->cut)
    {
      g_string_append_printf (out, "… (cut: the stack walk stops at %d frames)",
                              ASYNCRT_TRACE_MAX_DEPTH);
      return;
    }
  asyncrt__text_append_escaped (out, n->name, false);
  g_string_append (out, " at ");
  if (n->filename == NULL)
    {
      g_string_append (out, "??");
      return;
    }
  asyncrt__text_append_escaped (out, n->filename, false);
  bool first = true;
  for (guint i = 0; n->locations != NULL && i < n->locations->len; i++)
    {
      const AsyncrtTraceLocation *l = &g_array_index (n->locations, AsyncrtTraceLocation, i);
      if (l->lineno == 0)
        continue;
      g_string_append (out, first ? ":" : ", ");
      first = false;
      if (l->colno == 0)
        g_string_append_printf (out, "%u", l->lineno);
      else
        g_string_append_printf (out, "%u:%u", l->lineno, l->colno);
    }
}

typedef struct
{
  const char *indent;
  GString *prefix;
  AsyncrtTraceAnnotateFunc annotate;
  void *data;
} TextCtx;

/* The node's label, its leaves' annotation if any, and the newline. */
static void
append_line_end (GString *out, const TextCtx *c, const AsyncrtTraceNode *n)
{
  append_label (out, n);
  if (c->annotate != NULL && n->leaves != NULL)
    c->annotate (out, (const guint *) (const void *) n->leaves->data, n->leaves->len, c->data);
  g_string_append_c (out, '\n');
}

static void
append_children (GString *out, const TextCtx *ctx, const AsyncrtTraceNode *n)
{
  if (n->children == NULL)
    return;
  GString *prefix = ctx->prefix;
  for (size_t i = 0; i < n->children->len; i++)
    {
      const AsyncrtTraceNode *c = g_ptr_array_index (n->children, i);
      bool last = i + 1 == n->children->len;
      g_string_append (out, ctx->indent);
      g_string_append_len (out, prefix->str, (gssize) prefix->len);
      g_string_append (out, last ? "└╼ " : "├╼ ");
      append_line_end (out, ctx, c);
      size_t saved = prefix->len;
      g_string_append (prefix, last ? "   " : "│  ");
      append_children (out, ctx, c);
      g_string_truncate (prefix, saved);
    }
}

void
asyncrt__trace_tree_append_text_annotated (const AsyncrtTraceTree *tree, GString *out,
                                           const char *indent,
                                           AsyncrtTraceAnnotateFunc annotate, void *data)
{
  TextCtx ctx = { indent != NULL ? indent : "", g_string_new (NULL), annotate, data };
  for (size_t i = 0; i < tree->roots->len; i++)
    {
      const AsyncrtTraceNode *r = g_ptr_array_index (tree->roots, i);
      g_string_append (out, ctx.indent);
      g_string_append (out, "╼ ");
      append_line_end (out, &ctx, r);
      append_children (out, &ctx, r);
    }
  g_string_free (ctx.prefix, TRUE);
}

void
asyncrt__trace_tree_append_text (const AsyncrtTraceTree *tree, GString *out, const char *indent)
{
  asyncrt__trace_tree_append_text_annotated (tree, out, indent, NULL, NULL);
}

char *
asyncrt__trace_tree_to_string (const AsyncrtTraceTree *tree)
{
  GString *out = g_string_new (NULL);
  asyncrt__trace_tree_append_text (tree, out, NULL);
  return g_string_free (out, FALSE);
}

/* ---- native stacks --------------------------------------------------------------------- */

/* One line per function, innermost first, numbered as a debugger numbers frames (an
 * inlined function gets its own number and says so):
 *
 *   #0 __libc_read at ../sysdeps/unix/sysv/linux/read.c:26:10
 *   #1 read_line (inlined) at src/conf.c:20:3
 *   #2 load_config_poll at src/conf.c:41:5
 */
void
asyncrt__backtrace_append_native_text (const AsyncrtBacktrace *bt, GString *out,
                                       const char *indent)
{
  unsigned number = 0;
  for (size_t i = 0; bt != NULL && i < bt->n_frames; i++)
    {
      const AsyncrtTraceInfo *info = asyncrt__trace_frame_info (&bt->frames[i]);
      for (size_t k = 0; k < info->n_symbols; k++)
        {
          const AsyncrtBacktraceSymbol *sym = &info->symbols[k];
          g_string_append (out, indent != NULL ? indent : "");
          g_string_append_printf (out, "#%u ", number++);
          asyncrt__text_append_escaped (out, sym->name, false);
          if (k + 1 < info->n_symbols)
            g_string_append (out, " (inlined)");
          g_string_append (out, " at ");
          if (sym->filename == NULL)
            g_string_append (out, "??");
          else
            {
              asyncrt__text_append_escaped (out, sym->filename, false);
              if (sym->lineno != 0 && sym->colno != 0)
                g_string_append_printf (out, ":%u:%u", sym->lineno, sym->colno);
              else if (sym->lineno != 0)
                g_string_append_printf (out, ":%u", sym->lineno);
            }
          g_string_append_c (out, '\n');
        }
    }
  if (bt != NULL && bt->truncated)
    {
      g_string_append (out, indent != NULL ? indent : "");
      g_string_append (out, "… (cut: the stack could not be followed further)\n");
    }
}

/* ---- JSON ----------------------------------------------------------------------- */

void
asyncrt__json_append_string (GString *out, const char *s)
{
  if (s == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  char *valid = NULL;
  if (!g_utf8_validate (s, -1, NULL))
    s = valid = g_utf8_make_valid (s, -1);
  g_string_append_c (out, '"');
  const unsigned char *run = (const unsigned char *) s;
  for (const unsigned char *p = run; *p != '\0'; p++)
    {
      if (*p >= 0x20 && *p != '"' && *p != '\\')
        continue;                   /* a run of bytes written as they are, at once */
      asyncrt__gstring_append_len (out, (const char *) run, (size_t) (p - run));
      run = p + 1;
      switch (*p)
        {
        case '"': ASYNCRT_GSTRING_APPEND_LIT (out, "\\\""); break;
        case '\\': ASYNCRT_GSTRING_APPEND_LIT (out, "\\\\"); break;
        case '\n': ASYNCRT_GSTRING_APPEND_LIT (out, "\\n"); break;
        case '\r': ASYNCRT_GSTRING_APPEND_LIT (out, "\\r"); break;
        case '\t': ASYNCRT_GSTRING_APPEND_LIT (out, "\\t"); break;
        default: g_string_append_printf (out, "\\u%04x", *p); break;
        }
    }
  asyncrt__gstring_append (out, (const char *) run);
  g_string_append_c (out, '"');
  g_free (valid);
}

static void
append_address (GString *out, uintptr_t a)
{
  g_string_append_printf (out, "\"0x%" G_GINT64_MODIFIER "x\"", (guint64) a);
}

static void
append_location_json (GString *out, const char *name, const char *filename, unsigned lineno,
                      unsigned colno)
{
  g_string_append (out, "\"name\":");
  asyncrt__json_append_string (out, name);
  g_string_append (out, ",\"file\":");
  asyncrt__json_append_string (out, filename);
  g_string_append_printf (out, ",\"line\":%u,\"column\":%u", lineno, colno);
}

static void
append_node_json (GString *out, const AsyncrtTraceNode *n)
{
  const AsyncrtTraceLocation none = { 0, 0 };
  const AsyncrtTraceLocation *first = n->locations != NULL && n->locations->len > 0
                                      ? &g_array_index (n->locations, AsyncrtTraceLocation, 0)
                                      : &none;
  g_string_append_c (out, '{');
  append_location_json (out, n->name, n->filename, first->lineno, first->colno);
  if (n->cut)
    g_string_append (out, ",\"truncated\":true");
  g_string_append (out, ",\"locations\":[");
  for (guint i = 0; n->locations != NULL && i < n->locations->len; i++)
    {
      const AsyncrtTraceLocation *l = &g_array_index (n->locations, AsyncrtTraceLocation, i);
      g_string_append_printf (out, "%s{\"line\":%u,\"column\":%u}", i > 0 ? "," : "",
                              l->lineno, l->colno);
    }
  g_string_append (out, "],\"children\":[");
  for (size_t i = 0; n->children != NULL && i < n->children->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      append_node_json (out, g_ptr_array_index (n->children, i));
    }
  g_string_append (out, "]}");
}

void
asyncrt__trace_tree_append_json (const AsyncrtTraceTree *tree, GString *out)
{
  g_string_append_c (out, '[');
  for (size_t i = 0; i < tree->roots->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      append_node_json (out, g_ptr_array_index (tree->roots, i));
    }
  g_string_append_c (out, ']');
}

char *
asyncrt__trace_tree_to_json (const AsyncrtTraceTree *tree)
{
  GString *out = g_string_new (NULL);
  g_string_append_printf (out, "{\"version\":%d,\"tree\":", ASYNCRT_TRACE_JSON_VERSION);
  asyncrt__trace_tree_append_json (tree, out);
  g_string_append (out, "}");
  return g_string_free (out, FALSE);
}

void
asyncrt__trace_append_backtraces_json (const AsyncrtTrace *t, GString *out)
{
  g_string_append_c (out, '[');
  for (size_t i = 0; i < t->n_backtraces; i++)
    {
      const AsyncrtBacktrace *bt = t->backtraces[i];
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append_printf (out, "{\"truncated\":%s,\"frames\":[",
                              bt->truncated ? "true" : "false");
      for (size_t j = 0; j < bt->n_frames; j++)
        {
          const AsyncrtBacktraceFrame *f = &bt->frames[j];
          const AsyncrtTraceInfo *info = asyncrt__trace_frame_info (f);
          if (j > 0)
            g_string_append_c (out, ',');
          g_string_append (out, "{\"ip\":");
          append_address (out, f->ip);
          g_string_append (out, ",\"symbol_address\":");
          if (info->symbol_address != 0)
            append_address (out, info->symbol_address);
          else
            g_string_append (out, "null");
          g_string_append (out, ",\"symbols\":[");
          for (size_t k = 0; k < info->n_symbols; k++)
            {
              const AsyncrtBacktraceSymbol *s = &info->symbols[k];
              if (k > 0)
                g_string_append_c (out, ',');
              g_string_append_c (out, '{');
              append_location_json (out, s->name, s->filename, s->lineno, s->colno);
              g_string_append (out, ",\"raw_name\":");
              asyncrt__json_append_string (out, s->raw_name);
              g_string_append_c (out, '}');
            }
          g_string_append (out, "]}");
        }
      g_string_append (out, "]}");
    }
  g_string_append_c (out, ']');
}

/**
 * asyncrt_trace_to_string:
 * @t: a trace
 *
 * Formats @t as a tree of async call stacks, root side first, resolving symbols
 * first if needed (see the example in the description of this section).  Backtraces
 * that share a prefix are merged; siblings appear in the order they were captured.
 * An empty trace gives an empty string.
 *
 * Thread safety: any thread; several threads may format the same trace at once.
 *
 * Returns: (transfer full) (nullable): the text, one node per line, each line ending
 *   in a newline; free it with free().  %NULL with errno %EINVAL if @t is %NULL.
 * Since: 0.1
 */
char *
asyncrt_trace_to_string (const AsyncrtTrace *t)
{
  if (t == NULL)
    {
      errno = EINVAL;
      return NULL;
    }
  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  asyncrt__trace_tree_add_trace (tree, t);
  char *s = asyncrt__trace_tree_to_string (tree);
  asyncrt__trace_tree_free (tree);
  return s;
}

/**
 * asyncrt_trace_to_json:
 * @t: a trace
 *
 * Formats @t as JSON (schema version 1, see the description of this section):
 * its backtraces frame by frame, and the merged tree.  Resolves symbols first if
 * needed.
 *
 * Thread safety: any thread; several threads may format the same trace at once.
 *
 * Returns: (transfer full) (nullable): the JSON text; free it with free().  %NULL
 *   with errno %EINVAL if @t is %NULL.
 * Since: 0.1
 */
char *
asyncrt_trace_to_json (const AsyncrtTrace *t)
{
  if (t == NULL)
    {
      errno = EINVAL;
      return NULL;
    }
  AsyncrtTraceTree *tree = asyncrt__trace_tree_new ();
  asyncrt__trace_tree_add_trace (tree, t);
  GString *out = g_string_new (NULL);
  g_string_append_printf (out, "{\"version\":%d,\"backtraces\":", ASYNCRT_TRACE_JSON_VERSION);
  asyncrt__trace_append_backtraces_json (t, out);
  g_string_append (out, ",\"tree\":");
  asyncrt__trace_tree_append_json (tree, out);
  g_string_append (out, "}");
  asyncrt__trace_tree_free (tree);
  return g_string_free (out, FALSE);
}
