/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_TASK_H
#define ASYNCRT_TASK_H

#include <asyncrt/future.h>

ASYNCRT_BEGIN_DECLS

/* (module not written yet) */

ASYNCRT_END_DECLS

#endif /* ASYNCRT_TASK_H */
