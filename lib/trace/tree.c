/* libasyncrt - merging backtraces into a tree of async call stacks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A node is one function (name and file) under one parent: its identity is (name,
 * file) plus its parent's identity (DESIGN §5).  The line and column where the
 * function is suspended are not part of it: they belong to the edge to each child.
 * So a function suspended at two awaits at once (two leaves polled from lines 10 and
 * 11 of one poll function) is one node that lists both locations, with the two leaves
 * as its children, and every task's tree has exactly one root (plus, if some of its
 * backtraces were cut at the walk limit, one "cut" root above their outermost
 * frames).
 *
 * Nodes are kept in one GHashTable keyed by identity (hash: the fields and the
 * parent's hash; equality: the fields and the parent node itself, so a hash collision
 * can never merge two different parents' children).  Roots, children and locations
 * keep the order of first appearance, so output is stable, never in hash order.
 *
 * Strings of symbols are interned (symbol.c), so they compare by pointer.
 *
 * Threads: a tree belongs to one thread at a time; no locking.
 */
#include "trace/trace-private.h"

#include "trace/tree-private.h"

/* The name of the synthetic root above truncated backtraces: compared by address,
 * never equal to an interned symbol name. */
static const char cut_name[] = "…";

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
  return x->parent == y->parent && x->name == y->name && x->filename == y->filename;
}

static guint
identity_hash (const AsyncrtTraceNode *parent, const char *name, const char *filename)
{
  guint h = parent != NULL ? parent->hash : 5381u;
  h = h * 33u + g_str_hash (name);
  h = h * 33u + (filename != NULL ? g_str_hash (filename) : 0u);
  return h;
}

static void
node_free (gpointer p)
{
  AsyncrtTraceNode *n = p;
  if (n->children != NULL)
    g_ptr_array_free (n->children, TRUE);
  if (n->locations != NULL)
    g_array_free (n->locations, TRUE);
  if (n->leaves != NULL)
    g_array_free (n->leaves, TRUE);
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
get_or_add (AsyncrtTraceTree *tree, AsyncrtTraceNode *parent, const char *name,
            const char *filename)
{
  AsyncrtTraceNode key = {
    .parent = parent,
    .name = name,
    .filename = filename,
    .hash = identity_hash (parent, name, filename),
  };
  AsyncrtTraceNode *n = g_hash_table_lookup (tree->index, &key);
  if (n != NULL)
    return n;
  n = g_new0 (AsyncrtTraceNode, 1);
  *n = key;
  n->cut = name == cut_name;
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

static void
add_location (AsyncrtTraceNode *n, unsigned lineno, unsigned colno)
{
  if (n->locations == NULL)
    n->locations = g_array_sized_new (FALSE, FALSE, sizeof (AsyncrtTraceLocation), 1);
  for (guint i = 0; i < n->locations->len; i++)
    {
      const AsyncrtTraceLocation *l = &g_array_index (n->locations, AsyncrtTraceLocation, i);
      if (l->lineno == lineno && l->colno == colno)
        return;
    }
  AsyncrtTraceLocation l = { lineno, colno };
  g_array_append_val (n->locations, l);
}

/* Returns the node of the innermost frame, or NULL for an empty backtrace. */
static AsyncrtTraceNode *
add_backtrace (AsyncrtTraceTree *tree, const AsyncrtBacktrace *bt)
{
  /* A backtrace cut at the walk limit lacks its root side: hang it below the cut
   * marker rather than let its outermost walked frame pose as the task's root. */
  AsyncrtTraceNode *parent = bt->truncated ? get_or_add (tree, NULL, cut_name, NULL) : NULL;
  /* Root side first: the outermost frame, and in each frame its own function first. */
  for (size_t i = bt->n_frames; i-- > 0;)
    {
      const AsyncrtTraceInfo *info = asyncrt__trace_frame_info (&bt->frames[i]);
      for (size_t j = info->n_symbols; j-- > 0;)
        {
          const AsyncrtBacktraceSymbol *s = &info->symbols[j];
          parent = get_or_add (tree, parent, s->name, s->filename);
          add_location (parent, s->lineno, s->colno);
        }
    }
  return bt->n_frames > 0 ? parent : NULL;
}

void
asyncrt__trace_tree_add_backtrace (AsyncrtTraceTree *tree, const AsyncrtBacktrace *bt)
{
  add_backtrace (tree, bt);
}

void
asyncrt__trace_tree_add_trace (AsyncrtTraceTree *tree, const AsyncrtTrace *t)
{
  if (t->n_backtraces > 0)
    asyncrt__symbol_revalidate ();
  for (size_t i = 0; i < t->n_backtraces; i++)
    add_backtrace (tree, t->backtraces[i]);
}

void
asyncrt__trace_tree_add_trace_leaves (AsyncrtTraceTree *tree, const AsyncrtTrace *t)
{
  if (t->n_backtraces > 0)
    asyncrt__symbol_revalidate ();
  for (size_t i = 0; i < t->n_backtraces; i++)
    {
      AsyncrtTraceNode *leaf = add_backtrace (tree, t->backtraces[i]);
      if (leaf == NULL)
        continue;
      if (leaf->leaves == NULL)
        leaf->leaves = g_array_new (FALSE, FALSE, sizeof (guint));
      guint index = (guint) i;
      g_array_append_val (leaf->leaves, index);
    }
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
