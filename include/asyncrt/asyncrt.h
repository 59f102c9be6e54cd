/* libasyncrt - asynchronous task runtime for C, with task dumps
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The only header to include: #include <asyncrt/asyncrt.h>
 */
#ifndef ASYNCRT_H
#define ASYNCRT_H

#define __ASYNCRT_H_INSIDE__

/* Include only <asyncrt/asyncrt.h>: it includes every module header.  Build with
 * `pkg-config --cflags --libs asyncrt`. */

#include <asyncrt/macros.h>
#include <asyncrt/version.h>
#include <asyncrt/future.h>
#include <asyncrt/coroutine.h>
#include <asyncrt/trace.h>
#include <asyncrt/wait.h>
#include <asyncrt/runtime.h>
#include <asyncrt/task.h>
#include <asyncrt/time.h>
#include <asyncrt/blocking.h>
#include <asyncrt/sync.h>
#include <asyncrt/io.h>
#include <asyncrt/signals.h>
#include <asyncrt/joinset.h>
#include <asyncrt/cancel.h>
#include <asyncrt/dump.h>
#include <asyncrt/stall.h>
#include <asyncrt/dump-filter.h>
#include <asyncrt/dump-progress.h>
#include <asyncrt/dump-export.h>
#include <asyncrt/endpoint.h>

#undef __ASYNCRT_H_INSIDE__

#endif /* ASYNCRT_H */
