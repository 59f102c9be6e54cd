/* libasyncrt - spawn sites
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every task records where it was spawned: file, function and line, the caller's
 * static strings (asyncrt_spawn() passes __FILE__, __func__, __LINE__).  Tasks spawned
 * from one place share one interned AsyncrtSpawnSite instead of carrying the three
 * fields each.  A site is identified by the three values themselves (the pointers, not
 * the text they point to), so interning changes nothing a dump reads.
 *
 * Ownership
 *   - `sites` (every interned site) is guarded by `lock`; it holds at most MAX_SITES
 *     sites, kept for the life of the process.  Past that (a caller that makes up new
 *     strings for each spawn) asyncrt__spawn_site_intern() returns NULL and the task
 *     keeps a copy of its site in its extra block (task.c), so memory stays bounded.
 *   - A site is written once, before it is published, and never changed or freed.
 *   - `cache` is a lock-free front of the table: CACHE_SLOTS slots, each site hashed
 *     to two neighbouring ones.  Slots are written (release) under `lock` and read
 *     (acquire) by anyone: a reader that finds its own site there uses it (the acquire
 *     pairs with the release, so the site's fields are visible); one that finds
 *     another site, or none, takes the lock.
 *   - fork: `lock` is process-wide, so pthread_atfork handlers (registered when the
 *     library is loaded) take it before fork() and release it in the parent and the
 *     child, which inherits the table whole with the lock free.
 */
#include "task/task-private.h"

#include <glib.h>

#define CACHE_SLOTS 512u   /* a power of two */
#define MAX_SITES 65536u

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *sites;                                     /* guarded by lock */
static _Atomic (const AsyncrtSpawnSite *) cache[CACHE_SLOTS];

static inline guint
site_hash_values (const char *file, const char *func, int line)
{
  uint64_t h = (uint64_t) (uintptr_t) file * UINT64_C (0x9e3779b97f4a7c15);
  h ^= (uint64_t) (uintptr_t) func * UINT64_C (0xc2b2ae3d27d4eb4f);
  h ^= (uint64_t) (uint32_t) line * UINT64_C (0x165667b19e3779f9);
  return (guint) (h ^ (h >> 32) ^ (h >> 17));
}

static guint
site_hash (gconstpointer p)
{
  const AsyncrtSpawnSite *s = p;
  return site_hash_values (s->file, s->func, s->line);
}

static gboolean
site_equal (gconstpointer a, gconstpointer b)
{
  const AsyncrtSpawnSite *x = a, *y = b;
  return x->file == y->file && x->func == y->func && x->line == y->line;
}

static inline bool
is_site (const AsyncrtSpawnSite *s, const char *file, const char *func, int line)
{
  return s != NULL && s->file == file && s->func == func && s->line == line;
}

static const AsyncrtSpawnSite *
intern_locked (const AsyncrtSpawnSite *key, guint slot)
{
  if (sites == NULL)
    sites = g_hash_table_new (site_hash, site_equal);
  AsyncrtSpawnSite *s = g_hash_table_lookup (sites, key);
  if (s == NULL)
    {
      if (g_hash_table_size (sites) >= MAX_SITES)
        return NULL;
      s = g_new (AsyncrtSpawnSite, 1);
      *s = *key;
      g_hash_table_add (sites, s);
    }
  /* The first of the two slots that is free, else the first. */
  guint other = (slot + 1) & (CACHE_SLOTS - 1);
  if (atomic_load_explicit (&cache[slot], memory_order_relaxed) != NULL
      && atomic_load_explicit (&cache[other], memory_order_relaxed) == NULL)
    slot = other;
  atomic_store_explicit (&cache[slot], s, memory_order_release);
  return s;
}

static void
fork_prepare (void)
{
  pthread_mutex_lock (&lock);
}

static void
fork_release (void)
{
  pthread_mutex_unlock (&lock);
}

__attribute__((constructor)) static void
register_fork_handlers (void)
{
  pthread_atfork (fork_prepare, fork_release, fork_release);
}

const AsyncrtSpawnSite *
asyncrt__spawn_site_intern (const char *file, const char *func, int line)
{
  guint slot = site_hash_values (file, func, line) & (CACHE_SLOTS - 1);
  const AsyncrtSpawnSite *s = atomic_load_explicit (&cache[slot], memory_order_acquire);
  if (is_site (s, file, func, line))
    return s;
  s = atomic_load_explicit (&cache[(slot + 1) & (CACHE_SLOTS - 1)], memory_order_acquire);
  if (is_site (s, file, func, line))
    return s;

  AsyncrtSpawnSite key = { file, func, line };
  pthread_mutex_lock (&lock);
  s = intern_locked (&key, slot);
  pthread_mutex_unlock (&lock);
  return s;
}
