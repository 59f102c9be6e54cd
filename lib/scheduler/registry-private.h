/* libasyncrt - the process-wide registry of live runtimes (internal interface)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every runtime is registered, with its name, from the end of asyncrt_builder_build()
 * to the start of asyncrt_runtime_free().  This header is the registry's whole
 * interface to other modules (the dump endpoint reads it); the ownership rules are at
 * the top of registry.c.
 */
#ifndef ASYNCRT_REGISTRY_PRIVATE_H
#define ASYNCRT_REGISTRY_PRIVATE_H

#include "util/common-private.h"

/* One live runtime, as a snapshot saw it. */
typedef struct
{
  AsyncrtHandle *handle;      /* holds a handle reference until the snapshot is freed */
  const char *name;           /* the runtime's name; lives as long as the reference */
  uint64_t serial;            /* 1, 2, ... in the order runtimes were built */
  const char *flavour;        /* "current_thread" or "multi_thread" (static) */
  unsigned n_workers;         /* 1 for current_thread */
} AsyncrtRuntimeInfo;

/* The live runtimes in the order they were built: all of them if @name is NULL,
 * otherwise those named @name (names need not be unique).  Never fails; *n_out may
 * be 0.  Any thread. */
AsyncrtRuntimeInfo *asyncrt__registry_snapshot (const char *name, size_t *n_out);
void asyncrt__registry_snapshot_free (AsyncrtRuntimeInfo *infos, size_t n);

/* The number of tasks alive on the runtime of @h (approximate: a relaxed count). */
size_t asyncrt__registry_n_tasks (AsyncrtHandle *h);

/* The process-wide part of asyncrt_builder_build() and asyncrt_runtime_free(), called
 * with no lock held.  add() names the runtime (NULL: the default "rt-<serial>") and
 * then tells the dump endpoint a runtime was built (it reads the environment the
 * first time); remove() is idempotent. */
void asyncrt__registry_add (AsyncrtHandle *h, const char *name);
void asyncrt__registry_remove (AsyncrtHandle *h);

#endif /* ASYNCRT_REGISTRY_PRIVATE_H */
