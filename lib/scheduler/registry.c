/* libasyncrt - the process-wide registry of live runtimes, and their names
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership.  `registry_lock` guards `registry` (the registered handles, in the
 * order they were built), `next_serial` and every handle's `registered` flag.  A
 * handle's name, serial and worker count are written once, by asyncrt__registry_add()
 * before the runtime is returned to the program, and freed with the handle (its last
 * reference), so a reader holding a reference may read them without the lock.
 *
 * The registry holds no reference of its own: a handle is added at the end of
 * asyncrt_builder_build() and removed at the start of asyncrt_runtime_free(), while
 * the runtime's own reference is held, so every registered handle is alive.
 * Snapshots take a reference per handle under the lock and are used without it; a
 * runtime freed meanwhile stays allocated until its snapshot is freed (a dump of it
 * then returns -ESHUTDOWN).
 *
 * The lock is never held while calling out of this file (the endpoint notification in
 * asyncrt__registry_add() runs after it is released).  fork(): atfork handlers take it
 * around fork(), so a child never inherits it locked.  The child starts with an empty
 * registry: the parent's runtimes are not usable there (their threads do not exist),
 * so they are not offered to the child's dump endpoint; freeing them in the child
 * finds them unregistered, which asyncrt__registry_remove() accepts.
 */
#include "scheduler/registry-private.h"
#include "scheduler/scheduler-private.h"
#include "endpoint/endpoint-private.h"
#include "util/name-private.h"

#include <glib.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static GPtrArray *registry;                 /* AsyncrtHandle *, guarded by the lock */
static uint64_t next_serial = 1;            /* guarded by the lock */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
atfork_prepare (void)
{
  pthread_mutex_lock (&registry_lock);
}

static void
atfork_parent (void)
{
  pthread_mutex_unlock (&registry_lock);
}

static void
atfork_child (void)
{
  for (size_t i = 0; registry != NULL && i < registry->len; i++)
    ((AsyncrtHandle *) g_ptr_array_index (registry, i))->registered = false;
  if (registry != NULL)
    g_ptr_array_set_size (registry, 0);
  pthread_mutex_unlock (&registry_lock);
}

static void
atfork_register (void)
{
  pthread_atfork (atfork_prepare, atfork_parent, atfork_child);
}

void
asyncrt__registry_add (AsyncrtHandle *h, const char *name)
{
  pthread_once (&atfork_once, atfork_register);
  pthread_mutex_lock (&registry_lock);
  if (registry == NULL)
    registry = g_ptr_array_new ();
  h->serial = next_serial++;
  h->name = name != NULL ? g_strdup (name) : g_strdup_printf ("rt-%" PRIu64, h->serial);
  h->registered = true;
  g_ptr_array_add (registry, h);
  pthread_mutex_unlock (&registry_lock);
  asyncrt__endpoint_runtime_built ();
}

void
asyncrt__registry_remove (AsyncrtHandle *h)
{
  pthread_mutex_lock (&registry_lock);
  if (h->registered)
    {
      g_ptr_array_remove (registry, h);       /* keeps the order of the others */
      h->registered = false;
    }
  pthread_mutex_unlock (&registry_lock);
}

AsyncrtRuntimeInfo *
asyncrt__registry_snapshot (const char *name, size_t *n_out)
{
  pthread_mutex_lock (&registry_lock);
  size_t n = registry != NULL ? registry->len : 0;
  AsyncrtRuntimeInfo *infos = g_new0 (AsyncrtRuntimeInfo, n + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    {
      AsyncrtHandle *h = g_ptr_array_index (registry, i);
      if (name != NULL && strcmp (h->name, name) != 0)
        continue;
      asyncrt__handle_ref (h);
      infos[k].handle = h;
      infos[k].name = h->name;
      infos[k].serial = h->serial;
      infos[k].flavour = h->flavour == ASYNCRT_FLAVOUR_MULTI_THREAD ? "multi_thread"
                                                                    : "current_thread";
      infos[k].n_workers = h->n_workers;
      k++;
    }
  pthread_mutex_unlock (&registry_lock);
  *n_out = k;
  return infos;
}

void
asyncrt__registry_snapshot_free (AsyncrtRuntimeInfo *infos, size_t n)
{
  if (infos == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    asyncrt__handle_unref (infos[i].handle);
  g_free (infos);
}

size_t
asyncrt__registry_n_tasks (AsyncrtHandle *h)
{
  return asyncrt__owned_len (&h->owned);
}

/**
 * asyncrt_builder_set_name:
 * @b: a builder
 * @name: (nullable): the name of the runtimes built from @b, or %NULL for the default
 *
 * Names the runtimes built from @b.  The name identifies a runtime to the dump
 * endpoint and to `asyncrt-dump --runtime` (see the Dumps from outside section); it
 * is 1 to 63 ASCII letters, digits and `._:@+-`.  The default is `rt-N`, where N
 * counts the runtimes built by the process (1 for the first).  Names need not be
 * unique: a request for a name dumps every runtime that has it.
 *
 * Thread safety: one thread at a time per builder.
 *
 * Returns: 0, or -EINVAL if @b is %NULL or @name is not a valid name (empty, too
 *   long, or with another character).
 * Since: 0.2
 */
int
asyncrt_builder_set_name (AsyncrtBuilder *b, const char *name)
{
  if (b == NULL)
    return -EINVAL;
  if (name != NULL
      && !asyncrt__runtime_name_is_valid (name, strnlen (name, ASYNCRT_RUNTIME_NAME_MAX + 1)))
    return -EINVAL;
  g_free (b->name);
  b->name = g_strdup (name);
  return 0;
}

/**
 * asyncrt_handle_get_name:
 * @h: (nullable): a runtime handle
 *
 * The runtime's name: the one given with asyncrt_builder_set_name(), or the default
 * `rt-N`.
 *
 * Thread safety: any thread.
 *
 * Returns: (nullable): the name, owned by the runtime and valid as long as @h is;
 *   %NULL if @h is %NULL.
 * Since: 0.2
 */
const char *
asyncrt_handle_get_name (AsyncrtHandle *h)
{
  return h != NULL ? h->name : NULL;
}
