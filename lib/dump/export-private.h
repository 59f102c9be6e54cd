/* libasyncrt - dumps for other tools: the interface lib/dump offers the dump endpoint
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The endpoint answers a request for several runtimes with one body: the folded
 * stacks of every dump one after the other, or one pprof profile holding the samples
 * of every dump (each sample has a "runtime" label).  These two calls are all it uses
 * of lib/dump beyond the public API.  Both read sealed dumps; any thread.
 */
#ifndef ASYNCRT_DUMP_EXPORT_PRIVATE_H
#define ASYNCRT_DUMP_EXPORT_PRIVATE_H

#include "util/common-private.h"

#include <glib.h>

/* Appends the folded stacks of @n dumps, counted together (folded.c describes the
 * format; @flags: ASYNCRT_DUMP_FOLDED_TASK_NAMES). */
void asyncrt__dump_append_folded (GString *out, AsyncrtDump *const *dumps, size_t n,
                                  unsigned flags);
char *asyncrt__dump_to_folded (AsyncrtDump *d, unsigned flags);   /* free() */

/* Builds one gzipped pprof profile of @n dumps into @out (pprof.c describes it).
 * Returns 0, -ENOMEM or -EIO (compression). */
int asyncrt__dump_pprof_build (AsyncrtDump *const *dumps, size_t n, GByteArray *out);

#endif /* ASYNCRT_DUMP_EXPORT_PRIVATE_H */
