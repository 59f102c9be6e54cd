/* libasyncrt - the wait-for graph of a dump: deadlocks, holders, what they block
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Built once per dump by asyncrt__dump_seal(), on the thread sealing it, before the
 * dump is handed over; immutable afterwards.
 *
 * The graph (DESIGN §11): task → object → holder task, alternating like Windows'
 * wait chain traversal.  An edge exists only where the holder is certain
 * (asyncrt__wait_edge_target()): a mutex's holder, the holder of a semaphore's
 * permits when nobody else may hold any, a joined task, a holder a program's leaf
 * named.  Only traced idle tasks wait: a scheduled or running task is making
 * progress, and a wait whose object has arrived already (READY) waits no more.
 *
 * - A task is stuck when every one of its waits is such an edge to a task of the
 *   dump that is stuck itself (the greatest fixpoint, computed by removing from the
 *   candidates every task that waits on one that is not stuck).  A holder that is
 *   running, queued, sleeping, reading a socket, waiting for a channel, or missing
 *   from the dump is not stuck, and neither is anyone who waits on it: a slow holder
 *   is never a deadlock.
 * - A deadlock is a strongly connected component of stuck tasks with a cycle (two
 *   tasks or more, or one waiting on itself): exactly those tasks, ascending.  Stuck
 *   tasks outside every cycle are blocked by one.
 * - What a task blocks (n_blocked): every task that waits on it, directly or
 *   transitively.  A holder entry (AsyncrtDumpHolder) per (holder, object) counts
 *   the tasks blocked through that object.
 *
 * Costs: linear when every task waits on at most one holder (the usual case: the
 * counts are sums over a forest hanging off at most one cycle per component);
 * otherwise one breadth-first walk per holder.
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"

#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

AsyncrtTaskId
asyncrt__wait_edge_target (const AsyncrtWait *w)
{
  int64_t v;
  if (w->holder_id == 0)
    return 0;
  if (asyncrt_wait_get_fact (w, ASYNCRT_WAIT_FACT_READY, &v) == 0 && v != 0)
    return 0;
  if (w->kind == ASYNCRT_WAIT_SEMAPHORE
      && (asyncrt_wait_get_fact (w, ASYNCRT_WAIT_FACT_OTHER_HOLDERS, &v) != 0 || v != 0))
    return 0;
  return w->holder_id;
}

typedef struct
{
  size_t from;                 /* the waiting task (index) */
  size_t to;                   /* the holder (index), or NONE: not in the dump */
  AsyncrtTaskId to_id;
  const AsyncrtWait *wait;
} Edge;

typedef struct
{
  AsyncrtDump *d;
  size_t n;                    /* tasks */
  GArray *edges;               /* Edge, grouped by `from` (in task order) */
  size_t *out_start;           /* n + 1: edges of task i are [out_start[i], out_start[i+1]) */
  size_t *in_start;            /* n + 1: reverse adjacency in `in_from` */
  size_t *in_from;
  bool functional;             /* every task has at most one edge into the dump */
  /* BFS scratch */
  uint32_t *stamp;
  uint32_t cur_stamp;
  size_t *queue;
} Graph;

static size_t
task_index (AsyncrtDump *d, AsyncrtTaskId id)
{
  const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, id);
  if (t == NULL)
    return NONE;
  return (size_t) (t - (const AsyncrtDumpTask *) (const void *) d->tasks->data);
}

static bool
task_waits (const struct _AsyncrtDumpTask *t)
{
  return t->trace != NULL && t->state == ASYNCRT_TASK_STATE_IDLE;
}

static void
graph_build_edges (Graph *g)
{
  AsyncrtDump *d = g->d;
  g->edges = g_array_new (FALSE, FALSE, sizeof (Edge));
  g->out_start = g_new0 (size_t, g->n + 1);
  g->functional = true;
  for (size_t i = 0; i < g->n; i++)
    {
      const struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (d, i);
      g->out_start[i] = g->edges->len;
      if (!task_waits (t))
        continue;
      size_t in_dump = 0;
      for (size_t b = 0; b < t->trace->n_backtraces; b++)
        {
          const AsyncrtWait *w = &t->trace->backtraces[b]->wait;
          AsyncrtTaskId target = asyncrt__wait_edge_target (w);
          if (target == 0)
            continue;
          Edge e = { i, task_index (d, target), target, w };
          in_dump += e.to != NONE;
          g_array_append_val (g->edges, e);
        }
      if (in_dump > 1)
        g->functional = false;
    }
  g->out_start[g->n] = g->edges->len;

  /* Reverse adjacency (edges into the dump only), counting sort by target. */
  g->in_start = g_new0 (size_t, g->n + 1);
  for (size_t k = 0; k < g->edges->len; k++)
    {
      const Edge *e = &g_array_index (g->edges, Edge, k);
      if (e->to != NONE)
        g->in_start[e->to + 1]++;
    }
  for (size_t i = 0; i < g->n; i++)
    g->in_start[i + 1] += g->in_start[i];
  g->in_from = g_new (size_t, g->in_start[g->n] + 1);
  size_t *fill = g_memdup2 (g->in_start, (g->n + 1) * sizeof (size_t));
  for (size_t k = 0; k < g->edges->len; k++)
    {
      const Edge *e = &g_array_index (g->edges, Edge, k);
      if (e->to != NONE)
        g->in_from[fill[e->to]++] = e->from;
    }
  g_free (fill);
  g->stamp = g_new0 (uint32_t, g->n);
  g->queue = g_new (size_t, g->n + 1);
}

static void
graph_free (Graph *g)
{
  g_array_free (g->edges, TRUE);
  g_free (g->out_start);
  g_free (g->in_start);
  g_free (g->in_from);
  g_free (g->stamp);
  g_free (g->queue);
}

/* The number of tasks that wait, transitively, on any of @seeds, counting neither
 * the seeds nor the tasks in @skip.  A breadth-first walk along reverse edges. */
static size_t
count_blocked (Graph *g, const size_t *seeds, size_t n_seeds, const size_t *skip, size_t n_skip)
{
  if (++g->cur_stamp == 0)
    {
      memset (g->stamp, 0, g->n * sizeof *g->stamp);
      g->cur_stamp = 1;
    }
  uint32_t st = g->cur_stamp;
  size_t head = 0, tail = 0, count = 0;
  for (size_t k = 0; k < n_skip; k++)
    g->stamp[skip[k]] = st;
  for (size_t k = 0; k < n_seeds; k++)
    g->stamp[seeds[k]] = st;
  for (size_t k = 0; k < n_seeds; k++)
    for (size_t e = g->in_start[seeds[k]]; e < g->in_start[seeds[k] + 1]; e++)
      {
        size_t x = g->in_from[e];
        if (g->stamp[x] == st)
          continue;
        g->stamp[x] = st;
        g->queue[tail++] = x;
        count++;
      }
  while (head < tail)
    {
      size_t v = g->queue[head++];
      for (size_t e = g->in_start[v]; e < g->in_start[v + 1]; e++)
        {
          size_t x = g->in_from[e];
          if (g->stamp[x] == st)
            continue;
          g->stamp[x] = st;
          g->queue[tail++] = x;
          count++;
        }
    }
  return count;
}

/* ---- stuck tasks and their cycles ---------------------------------------------------- */

static bool *
find_stuck (Graph *g)
{
  bool *stuck = g_new0 (bool, g->n);
  size_t *work = g_new (size_t, g->n + 1);
  size_t n_work = 0;
  for (size_t i = 0; i < g->n; i++)
    {
      const struct _AsyncrtDumpTask *t = asyncrt__dump_task_at (g->d, i);
      bool cand = task_waits (t) && t->trace->n_backtraces > 0;
      /* Every wait an edge into the dump. */
      if (cand && g->out_start[i + 1] - g->out_start[i] != t->trace->n_backtraces)
        cand = false;
      for (size_t e = g->out_start[i]; cand && e < g->out_start[i + 1]; e++)
        if (g_array_index (g->edges, Edge, e).to == NONE)
          cand = false;
      stuck[i] = cand;
      if (!cand)
        work[n_work++] = i;
    }
  /* Whoever waits on a task that is not stuck is not stuck. */
  while (n_work > 0)
    {
      size_t r = work[--n_work];
      for (size_t e = g->in_start[r]; e < g->in_start[r + 1]; e++)
        {
          size_t x = g->in_from[e];
          if (stuck[x])
            {
              stuck[x] = false;
              work[n_work++] = x;
            }
        }
    }
  g_free (work);
  return stuck;
}

typedef struct
{
  size_t v;
  size_t next_edge;
} Frame;

int
asyncrt__dump_cmp_id (const void *a, const void *b)
{
  AsyncrtTaskId x = *(const AsyncrtTaskId *) a, y = *(const AsyncrtTaskId *) b;
  return x < y ? -1 : x > y;
}

static int
cmp_deadlock (const void *a, const void *b)
{
  const AsyncrtDumpDeadlock *x = a, *y = b;
  return asyncrt__dump_cmp_id (&g_array_index (x->ids, AsyncrtTaskId, 0),
                 &g_array_index (y->ids, AsyncrtTaskId, 0));
}

static void
add_deadlock (Graph *g, const size_t *members, size_t n)
{
  AsyncrtDump *d = g->d;
  AsyncrtDumpDeadlock dl;
  dl.ids = g_array_sized_new (FALSE, FALSE, sizeof (AsyncrtTaskId), (guint) n);
  for (size_t k = 0; k < n; k++)
    g_array_append_val (dl.ids, asyncrt__dump_task_at (d, members[k])->id);
  g_array_sort (dl.ids, asyncrt__dump_cmp_id);
  dl.n_blocked = count_blocked (g, members, n, members, n);
  g_array_append_val (d->deadlocks, dl);
}

/* Tarjan's strongly connected components over the stuck tasks, iteratively (a chain
 * of 100,000 joins must not recurse 100,000 deep).  Components with a cycle become
 * deadlocks. */
static void
find_deadlocks (Graph *g, const bool *stuck)
{
  size_t n = g->n;
  size_t *index = g_new (size_t, n);
  size_t *low = g_new (size_t, n);
  bool *on_stack = g_new0 (bool, n);
  size_t *stack = g_new (size_t, n + 1);
  Frame *frames = g_new (Frame, n + 1);
  size_t sp = 0, counter = 0;
  for (size_t i = 0; i < n; i++)
    index[i] = NONE;

  for (size_t root = 0; root < n; root++)
    {
      if (!stuck[root] || index[root] != NONE)
        continue;
      size_t fp = 0;
      frames[fp++] = (Frame) { root, g->out_start[root] };
      index[root] = low[root] = counter++;
      stack[sp++] = root;
      on_stack[root] = true;
      while (fp > 0)
        {
          Frame *f = &frames[fp - 1];
          size_t v = f->v;
          if (f->next_edge < g->out_start[v + 1])
            {
              size_t w = g_array_index (g->edges, Edge, f->next_edge).to;
              f->next_edge++;
              if (w == NONE || !stuck[w])
                continue;
              if (index[w] == NONE)
                {
                  index[w] = low[w] = counter++;
                  stack[sp++] = w;
                  on_stack[w] = true;
                  frames[fp++] = (Frame) { w, g->out_start[w] };
                }
              else if (on_stack[w] && index[w] < low[v])
                low[v] = index[w];
              continue;
            }
          /* v is finished. */
          if (low[v] == index[v])
            {
              size_t start = sp;
              do
                start--;
              while (stack[start] != v);
              size_t size = sp - start;
              bool self_loop = false;
              if (size == 1)
                for (size_t e = g->out_start[v]; e < g->out_start[v + 1]; e++)
                  if (g_array_index (g->edges, Edge, e).to == v)
                    self_loop = true;
              if (size > 1 || self_loop)
                add_deadlock (g, stack + start, size);
              for (size_t k = start; k < sp; k++)
                on_stack[stack[k]] = false;
              sp = start;
            }
          fp--;
          if (fp > 0)
            {
              size_t parent = frames[fp - 1].v;
              if (low[v] < low[parent])
                low[parent] = low[v];
            }
        }
    }
  g_free (index);
  g_free (low);
  g_free (on_stack);
  g_free (stack);
  g_free (frames);

  if (g->d->deadlocks->len > 1)
    g_array_sort (g->d->deadlocks, cmp_deadlock);
  for (guint k = 0; k < g->d->deadlocks->len; k++)
    {
      const AsyncrtDumpDeadlock *dl = &g_array_index (g->d->deadlocks, AsyncrtDumpDeadlock, k);
      for (guint m = 0; m < dl->ids->len; m++)
        {
          size_t i = task_index (g->d, g_array_index (dl->ids, AsyncrtTaskId, m));
          asyncrt__dump_task_at (g->d, i)->deadlock = k + 1;
        }
    }
}

/* ---- what each task blocks -------------------------------------------------------------- */

/* Every task has at most one edge into the dump: the counts are subtree sizes of the
 * reverse forest, and a cycle's members each block its whole component.  @on_cycle
 * (out) tells which tasks lie on a cycle. */
static void
count_functional (Graph *g, bool *on_cycle)
{
  size_t n = g->n;
  size_t *target = g_new (size_t, n);
  size_t *pending = g_new0 (size_t, n);      /* in-edges not yet accounted for */
  size_t *size = g_new (size_t, n);
  size_t *work = g_new (size_t, n + 1);
  size_t n_work = 0;
  for (size_t i = 0; i < n; i++)
    {
      target[i] = NONE;
      for (size_t e = g->out_start[i]; e < g->out_start[i + 1]; e++)
        if (g_array_index (g->edges, Edge, e).to != NONE)
          target[i] = g_array_index (g->edges, Edge, e).to;
      pending[i] = g->in_start[i + 1] - g->in_start[i];
      size[i] = 1;
    }
  for (size_t i = 0; i < n; i++)
    if (pending[i] == 0)
      work[n_work++] = i;
  bool *done = g_new0 (bool, n);
  while (n_work > 0)
    {
      size_t v = work[--n_work];
      done[v] = true;
      size_t t = target[v];
      if (t == NONE)
        continue;
      size[t] += size[v];
      if (--pending[t] == 0)
        work[n_work++] = t;
    }
  for (size_t i = 0; i < n; i++)
    {
      if (done[i])
        {
          asyncrt__dump_task_at (g->d, i)->n_blocked = size[i] - 1;
          continue;
        }
      if (on_cycle[i])
        continue;
      /* An unvisited cycle: every member blocks the whole component. */
      size_t total = 0, v = i;
      do
        {
          total += size[v];
          on_cycle[v] = true;
          v = target[v];
        }
      while (v != i);
      do
        {
          asyncrt__dump_task_at (g->d, v)->n_blocked = total - 1;
          v = target[v];
        }
      while (v != i);
    }
  g_free (done);
  g_free (target);
  g_free (pending);
  g_free (size);
  g_free (work);
}

static void
count_general (Graph *g)
{
  for (size_t i = 0; i < g->n; i++)
    if (g->in_start[i + 1] > g->in_start[i])
      asyncrt__dump_task_at (g->d, i)->n_blocked = count_blocked (g, &i, 1, &i, 1);
}

/* ---- holders ----------------------------------------------------------------------------- */

static int
cmp_edge_holder (const void *a, const void *b)
{
  const Edge *x = *(const Edge *const *) a, *y = *(const Edge *const *) b;
  if (x->to_id != y->to_id)
    return x->to_id < y->to_id ? -1 : 1;
  if (x->wait->object != y->wait->object)
    return x->wait->object < y->wait->object ? -1 : 1;
  if (x->wait->kind != y->wait->kind)
    return x->wait->kind < y->wait->kind ? -1 : 1;
  return x->from < y->from ? -1 : x->from > y->from;
}

static int
cmp_holder (const void *a, const void *b)
{
  const AsyncrtDumpHolder *x = a, *y = b;
  if (x->held_ns != y->held_ns)
    return x->held_ns > y->held_ns ? -1 : 1;
  if (x->n_blocked != y->n_blocked)
    return x->n_blocked > y->n_blocked ? -1 : 1;
  if (x->holder_id != y->holder_id)
    return x->holder_id < y->holder_id ? -1 : 1;
  return x->wait->object < y->wait->object ? -1 : x->wait->object > y->wait->object;
}

static void
build_holders (Graph *g, const bool *on_cycle)
{
  AsyncrtDump *d = g->d;
  size_t m = g->edges->len;
  const Edge **sorted = g_new (const Edge *, m + 1);
  for (size_t k = 0; k < m; k++)
    sorted[k] = &g_array_index (g->edges, Edge, k);
  if (m > 1)
    qsort (sorted, m, sizeof *sorted, cmp_edge_holder);
  size_t *seeds = g_new (size_t, m + 1);
  for (size_t a = 0; a < m;)
    {
      size_t b = a + 1;
      while (b < m && sorted[b]->to_id == sorted[a]->to_id
             && sorted[b]->wait->object == sorted[a]->wait->object
             && sorted[b]->wait->kind == sorted[a]->wait->kind)
        b++;
      AsyncrtDumpHolder h = { 0 };
      h.holder_id = sorted[a]->to_id;
      h.holder = sorted[a]->to != NONE ? asyncrt__dump_task_at (d, sorted[a]->to) : NULL;
      h.wait = sorted[a]->wait;
      h.waiters = g_array_new (FALSE, FALSE, sizeof (AsyncrtTaskId));
      size_t n_seeds = 0;
      for (size_t k = a; k < b; k++)
        {
          size_t from = sorted[k]->from;
          if (n_seeds > 0 && seeds[n_seeds - 1] == from)
            continue;                         /* one task, two leaves on one object */
          seeds[n_seeds++] = from;
          g_array_append_val (h.waiters, asyncrt__dump_task_at (d, from)->id);
          int64_t held;
          if (h.wait->kind == ASYNCRT_WAIT_MUTEX
              && asyncrt_wait_get_fact (sorted[k]->wait, ASYNCRT_WAIT_FACT_HELD_NS, &held) == 0
              && (uint64_t) held > h.held_ns)
            h.held_ns = (uint64_t) held;
        }
      size_t holder = sorted[a]->to;
      if (g->functional && holder != NONE)
        {
          /* The waiters' blocked sets are disjoint; one of them holds the holder
           * itself when both lie on one cycle. */
          for (size_t k = 0; k < n_seeds; k++)
            {
              h.n_blocked += 1 + asyncrt__dump_task_at (d, seeds[k])->n_blocked;
              if (on_cycle[seeds[k]] && on_cycle[holder])
                h.n_blocked--;
            }
        }
      else
        {
          /* The waiters, and whoever waits on them, but not the holder. */
          size_t skip[1] = { holder };
          h.n_blocked = n_seeds + count_blocked (g, seeds, n_seeds, skip, holder != NONE);
          for (size_t k = 0; k < n_seeds; k++)
            if (seeds[k] == holder)
              h.n_blocked--;                  /* a task waiting on itself */
        }
      g_array_append_val (d->holders, h);
      a = b;
    }
  g_free (seeds);
  g_free (sorted);
  if (d->holders->len > 1)
    g_array_sort (d->holders, cmp_holder);
}

void
asyncrt__dump_graph_build (AsyncrtDump *d, bool any_edge)
{
  d->deadlocks = g_array_new (FALSE, FALSE, sizeof (AsyncrtDumpDeadlock));
  d->holders = g_array_new (FALSE, FALSE, sizeof (AsyncrtDumpHolder));
  if (d->tasks->len == 0 || !any_edge)
    return;
  Graph g = { .d = d, .n = d->tasks->len };
  graph_build_edges (&g);
  if (g.edges->len > 0)
    {
      bool *stuck = find_stuck (&g);
      find_deadlocks (&g, stuck);
      bool *on_cycle = g_new0 (bool, g.n);
      if (g.functional)
        count_functional (&g, on_cycle);
      else
        count_general (&g);
      build_holders (&g, on_cycle);
      g_free (on_cycle);
      g_free (stuck);
    }
  graph_free (&g);
}

void
asyncrt__dump_graph_clear (AsyncrtDump *d)
{
  if (d->deadlocks != NULL)
    {
      for (guint k = 0; k < d->deadlocks->len; k++)
        g_array_free (g_array_index (d->deadlocks, AsyncrtDumpDeadlock, k).ids, TRUE);
      g_array_free (d->deadlocks, TRUE);
      d->deadlocks = NULL;
    }
  if (d->holders != NULL)
    {
      for (guint k = 0; k < d->holders->len; k++)
        g_array_free (g_array_index (d->holders, AsyncrtDumpHolder, k).waiters, TRUE);
      g_array_free (d->holders, TRUE);
      d->holders = NULL;
    }
}
