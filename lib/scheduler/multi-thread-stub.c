/* libasyncrt - placeholder for the multi-thread flavour
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The multi-thread scheduler (lib/scheduler/multi_thread/) defines
 * asyncrt__multi_thread_build(); when it lands, this file is removed from
 * lib/scheduler/local.mk.
 */
#include "scheduler/scheduler-private.h"

int
asyncrt__multi_thread_build (const AsyncrtBuilder *b, AsyncrtRuntime **out)
{
  (void) b;
  (void) out;
  return -ENOTSUP;
}
