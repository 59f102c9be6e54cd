/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_DUMP_EXPORT_H
#define ASYNCRT_DUMP_EXPORT_H

#include <asyncrt/dump.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:dump-export
 * @title: Dumps in other tools
 * @short_description: pprof profiles and flame graphs of task dumps
 *
 * A dump of a big program is a data set.  Besides its text and JSON forms it can be
 * written in the formats of the tools people already use for CPU and memory
 * profiles:
 *
 * - asyncrt_dump_write_pprof() writes a pprof profile (a gzipped `profile.proto`) in
 *   the shape of Go's goroutine profile: `go tool pprof` reads it, and so do the
 *   fleet profilers that take pprof uploads (Pyroscope, Parca and others), next to
 *   the CPU profiles of the same program;
 * - asyncrt_dump_format() with %ASYNCRT_DUMP_FORMAT_FOLDED writes folded stacks
 *   (`frame;frame;frame count`, one line per distinct stack, the root first), the
 *   input of flame graphs (flamegraph.pl, inferno, speedscope) and of Pyroscope's
 *   `folded` ingest; the dump endpoint serves them too (`asyncrt-dump --folded`).
 *
 * In both, a stack is one backtrace of a task's trace; every task counts once per
 * backtrace, and a task without a trace is counted at a pseudo-frame
 * `[not traced: REASON]`.  The library only ever writes to the descriptor it is
 * given: it sends nothing anywhere by itself.  The chapter "Dumps beyond one machine"
 * shows how to feed these files, and JSON dumps, to the usual tools.
 */

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_dump_write_pprof (AsyncrtDump *d, int fd);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_DUMP_EXPORT_H */
