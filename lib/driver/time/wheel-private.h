/* libasyncrt - hierarchical timer wheel (internal)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Six levels of 64 slots; a slot of level L spans 64^L ms, so level 0 has 1 ms slots
 * and the wheel covers 2^36 ms (about 2.2 years) ahead of `elapsed`; deadlines further
 * out are parked at a clamped position and re-inserted when they get there, so they
 * are never fired early.  Entries are the AsyncrtSleep structs themselves (intrusive,
 * doubly linked per slot, FIFO): insert and remove are O(1), finding the next
 * expiration is O(levels) with one bitmap per level.
 *
 * An entry sits at the level of the highest 6-bit group in which its position `when`
 * differs from `elapsed`, so every entry of a lower level expires before every entry
 * of a higher one.  Expiring a slot of level L > 0 re-inserts (cascades) its entries,
 * which then land on lower levels; only level-0 slots (1 ms each) fire, so entries
 * fire in deadline order and never before their deadline (entries inserted directly
 * into the same level-0 slot fire first-in first-out).
 *
 * Not thread-safe: the driver holds its lock around every call.
 */
#ifndef ASYNCRT_WHEEL_PRIVATE_H
#define ASYNCRT_WHEEL_PRIVATE_H

#include "util/common-private.h"

#define ASYNCRT_WHEEL_LEVELS 6
#define ASYNCRT_WHEEL_SLOTS 64
/* How far beyond `elapsed` an entry may be placed; later deadlines are clamped (and
 * re-inserted when reached).  Half the top level's span, so a clamped entry never
 * lands in the top-level slot `elapsed` is in. */
#define ASYNCRT_WHEEL_MAX_SPAN (UINT64_C (1) << 35)

typedef struct
{
  uint64_t occupied;                          /* bit s: slot s is non-empty */
  AsyncrtSleep *head[ASYNCRT_WHEEL_SLOTS];
  AsyncrtSleep *tail[ASYNCRT_WHEEL_SLOTS];
} AsyncrtWheelLevel;

typedef struct
{
  uint64_t elapsed;                           /* ms; only moves forward */
  size_t n_entries;
  AsyncrtWheelLevel levels[ASYNCRT_WHEEL_LEVELS];
} AsyncrtWheel;

void asyncrt__wheel_init (AsyncrtWheel *w, uint64_t now);
/* Inserts @e at e->deadline (a deadline already passed fires at the next poll). */
void asyncrt__wheel_insert (AsyncrtWheel *w, AsyncrtSleep *e);
/* Removes @e, which must be in @w. */
void asyncrt__wheel_remove (AsyncrtWheel *w, AsyncrtSleep *e);
/* The earliest time at which asyncrt__wheel_poll() may return an entry (a lower
 * bound of the earliest deadline), or UINT64_MAX when empty. */
uint64_t asyncrt__wheel_next_expiration (const AsyncrtWheel *w);
/* Removes and returns the entry with the earliest deadline if it is <= @now, else
 * NULL (and advances elapsed to @now).  Call until NULL. */
AsyncrtSleep *asyncrt__wheel_poll (AsyncrtWheel *w, uint64_t now);
/* Removes and returns any entry (order unspecified), or NULL when empty. */
AsyncrtSleep *asyncrt__wheel_take_any (AsyncrtWheel *w);

static inline size_t
asyncrt__wheel_len (const AsyncrtWheel *w)
{
  return w->n_entries;
}

#endif /* ASYNCRT_WHEEL_PRIVATE_H */
