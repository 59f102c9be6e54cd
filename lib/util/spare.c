/* libasyncrt - big buffers kept from one dump to the next
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A dump of n tasks allocates a few arrays of n entries: its records and its trace
 * slots, about 350 bytes a task.  Freed, they are big enough for malloc to hand them
 * back to the kernel, and the next dump faults every page in again: at 10,000 tasks
 * about 760 page faults a dump, a fifth of its time and most of its variance
 * (bench-dump loop).  So asyncrt_dump_free() hands them here, and the next dump of
 * the process takes them back, already mapped.
 *
 * What is kept: at most one spare per kind, each at most ASYNCRT_SPARE_MAX bytes
 * (larger buffers are freed as before); asyncrt_runtime_free() frees them all.
 *
 * Threads: a kind's spare is one atomic pointer, swapped whole (take: exchange with
 * NULL; give: exchange in and free what comes out), so any thread may give or take
 * and nothing is ever locked (nothing to inherit across fork()).  A raw buffer
 * carries its own size in its first bytes while it is a spare; an array keeps its
 * length (its size when given) until taken.
 */
#include "util/util-private.h"

#include <stdatomic.h>

static _Atomic (void *) spares[ASYNCRT_SPARE_N];

static bool
is_array (AsyncrtSpareKind kind)
{
  return kind == ASYNCRT_SPARE_DUMP_RECORDS;
}

static void
spare_free (AsyncrtSpareKind kind, void *p)
{
  if (p == NULL)
    return;
  if (is_array (kind))
    g_array_free (p, TRUE);
  else
    g_free (p);
}

static void
put (AsyncrtSpareKind kind, void *p)
{
  spare_free (kind, atomic_exchange_explicit (&spares[kind], p, memory_order_acq_rel));
}

void *
asyncrt__spare_take (AsyncrtSpareKind kind, size_t min_bytes, size_t *ret_bytes)
{
  g_assert (!is_array (kind));
  void *p = atomic_exchange_explicit (&spares[kind], NULL, memory_order_acq_rel);
  if (p == NULL)
    return NULL;
  size_t bytes = *(size_t *) p;
  if (bytes < min_bytes)
    {
      g_free (p);                /* smaller than dumps are now: not worth keeping */
      return NULL;
    }
  *ret_bytes = bytes;
  return p;
}

void
asyncrt__spare_give (AsyncrtSpareKind kind, void *p, size_t bytes)
{
  g_assert (!is_array (kind));
  if (p == NULL)
    return;
  if (bytes < sizeof (size_t) || bytes > ASYNCRT_SPARE_MAX)
    {
      g_free (p);
      return;
    }
  *(size_t *) p = bytes;
  put (kind, p);
}

GArray *
asyncrt__spare_take_array (AsyncrtSpareKind kind, size_t min_len)
{
  g_assert (is_array (kind));
  GArray *a = atomic_exchange_explicit (&spares[kind], NULL, memory_order_acq_rel);
  if (a == NULL)
    return NULL;
  if (a->len < min_len)
    {
      g_array_free (a, TRUE);
      return NULL;
    }
  g_array_set_size (a, 0);
  return a;
}

void
asyncrt__spare_give_array (AsyncrtSpareKind kind, GArray *a)
{
  g_assert (is_array (kind));
  if (a == NULL)
    return;
  if ((size_t) a->len * g_array_get_element_size (a) > ASYNCRT_SPARE_MAX)
    {
      g_array_free (a, TRUE);
      return;
    }
  put (kind, a);
}

void
asyncrt__spare_drop_all (void)
{
  for (unsigned k = 0; k < ASYNCRT_SPARE_N; k++)
    put ((AsyncrtSpareKind) k, NULL);
}
