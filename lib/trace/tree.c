/* libasyncrt - merging backtraces into a tree of async call stacks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A node's identity is (name, file, line, column) plus its parent's identity.  Nodes
 * are kept in one GHashTable keyed by that identity (hash: the fields and the parent's
 * hash; equality: the fields and the parent node itself, so a hash collision can
 * never merge two different parents' children).  Roots and children are GPtrArrays in
 * the order of first appearance, so output is stable, never in hash order.
 *
 * Strings of symbols are interned (symbol.c), so they compare by pointer.
 *
 * Threads: a tree belongs to one thread at a time; no locking.
 */
#include "trace/trace-private.h"

#include "trace/tree-private.h"

static guint
node_hash (gconstpointer p)
{
  const AsyncrtTraceNode *n = p;
  return n->hash;
}

static gboolean
node_equal (gconstpointer a, gconstpointer b)
{
  const AsyncrtTraceNode *x = a, *y = b;
  return x->parent == y->parent && x->name == y->name && x->filename == y->filename
         && x->lineno == y->lineno && x->colno == y->colno;
}

static guint
identity_hash (const AsyncrtTraceNode *parent, const AsyncrtBacktraceSymbol *s)
{
  guint h = parent != NULL ? parent->hash : 5381u;
  h = h * 33u + g_str_hash (s->name);
  h = h * 33u + (s->filename != NULL ? g_str_hash (s->filename) : 0u);
  h = h * 33u + s->lineno;
  h = h * 33u + s->colno;
  return h;
}

static void
node_free (gpointer p)
{
  AsyncrtTraceNode *n = p;
  if (n->children != NULL)
    g_ptr_array_free (n->children, TRUE);
  g_free (n);
}

AsyncrtTraceTree *
asyncrt__trace_tree_new (void)
{
  AsyncrtTraceTree *tree = g_new0 (AsyncrtTraceTree, 1);
  tree->roots = g_ptr_array_new ();
  tree->index = g_hash_table_new_full (node_hash, node_equal, node_free, NULL);
  return tree;
}

void
asyncrt__trace_tree_free (AsyncrtTraceTree *tree)
{
  if (tree == NULL)
    return;
  g_ptr_array_free (tree->roots, TRUE);
  g_hash_table_destroy (tree->index);
  g_free (tree);
}

static AsyncrtTraceNode *
get_or_add (AsyncrtTraceTree *tree, AsyncrtTraceNode *parent, const AsyncrtBacktraceSymbol *s)
{
  AsyncrtTraceNode key = {
    .parent = parent,
    .name = s->name,
    .filename = s->filename,
    .lineno = s->lineno,
    .colno = s->colno,
    .hash = identity_hash (parent, s),
  };
  AsyncrtTraceNode *n = g_hash_table_lookup (tree->index, &key);
  if (n != NULL)
    return n;
  n = g_new (AsyncrtTraceNode, 1);
  *n = key;
  g_hash_table_add (tree->index, n);
  if (parent == NULL)
    g_ptr_array_add (tree->roots, n);
  else
    {
      if (parent->children == NULL)
        parent->children = g_ptr_array_new ();
      g_ptr_array_add (parent->children, n);
    }
  return n;
}

void
asyncrt__trace_tree_add_backtrace (AsyncrtTraceTree *tree, const AsyncrtBacktrace *bt)
{
  AsyncrtTraceNode *parent = NULL;
  /* Root side first: the outermost frame, and in each frame its own function first. */
  for (size_t i = bt->n_frames; i-- > 0;)
    {
      const AsyncrtTraceInfo *info = asyncrt__trace_frame_info (&bt->frames[i]);
      for (size_t j = info->n_symbols; j-- > 0;)
        parent = get_or_add (tree, parent, &info->symbols[j]);
    }
}

void
asyncrt__trace_tree_add_trace (AsyncrtTraceTree *tree, const AsyncrtTrace *t)
{
  if (t->n_backtraces > 0)
    asyncrt__symbol_revalidate ();
  for (size_t i = 0; i < t->n_backtraces; i++)
    asyncrt__trace_tree_add_backtrace (tree, t->backtraces[i]);
}

size_t
asyncrt__trace_tree_get_n_roots (const AsyncrtTraceTree *tree)
{
  return tree->roots->len;
}

size_t
asyncrt__trace_tree_get_n_nodes (const AsyncrtTraceTree *tree)
{
  return g_hash_table_size (tree->index);
}
