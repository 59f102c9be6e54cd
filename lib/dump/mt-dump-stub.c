/* libasyncrt - multi-thread dump hooks, placeholder
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Replaced by lib/scheduler/multi_thread/taskdump.c once the multi-thread flavour
 * lands; until then no multi-thread runtime can be built, so these are never called.
 */
#include "dump/dump-private.h"

unsigned
asyncrt__mt_dump_n_workers (AsyncrtHandle *h)
{
  (void) h;
  return 1;
}

void
asyncrt__mt_dump_kick (AsyncrtHandle *h)
{
  (void) h;
}

void
asyncrt__mt_dump_add_missing (AsyncrtHandle *h, AsyncrtDumpBarrier *b, AsyncrtDump *d)
{
  (void) h;
  (void) b;
  (void) d;
}
