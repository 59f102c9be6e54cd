/* libasyncrt - hierarchical timer wheel (see wheel-private.h)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "driver/time/wheel-private.h"

#include <assert.h>
#include <string.h>

#define LEVEL_BITS 6u
#define SLOT_MASK (ASYNCRT_WHEEL_SLOTS - 1u)
#define TOP_LEVEL (ASYNCRT_WHEEL_LEVELS - 1u)

void
asyncrt__wheel_init (AsyncrtWheel *w, uint64_t now)
{
  memset (w, 0, sizeof *w);
  w->elapsed = now;
}

static unsigned
level_for (uint64_t elapsed, uint64_t when)
{
  uint64_t masked = (elapsed ^ when) | SLOT_MASK;
  unsigned significant = 63u - (unsigned) __builtin_clzll (masked);
  unsigned level = significant / LEVEL_BITS;
  return level > TOP_LEVEL ? TOP_LEVEL : level;
}

static void
slot_push (AsyncrtWheel *w, AsyncrtSleep *e, unsigned level, unsigned slot)
{
  AsyncrtWheelLevel *l = &w->levels[level];
  e->slot = level * ASYNCRT_WHEEL_SLOTS + slot;
  e->next = NULL;
  e->prev = l->tail[slot];
  if (l->tail[slot] != NULL)
    l->tail[slot]->next = e;
  else
    l->head[slot] = e;
  l->tail[slot] = e;
  l->occupied |= UINT64_C (1) << slot;
}

void
asyncrt__wheel_insert (AsyncrtWheel *w, AsyncrtSleep *e)
{
  uint64_t when = e->deadline;
  if (when < w->elapsed)
    when = w->elapsed;
  if (when - w->elapsed > ASYNCRT_WHEEL_MAX_SPAN)
    when = w->elapsed + ASYNCRT_WHEEL_MAX_SPAN;
  e->when = when;
  unsigned level = level_for (w->elapsed, when);
  unsigned slot = (unsigned) (when >> (level * LEVEL_BITS)) & SLOT_MASK;
  slot_push (w, e, level, slot);
  w->n_entries++;
}

void
asyncrt__wheel_remove (AsyncrtWheel *w, AsyncrtSleep *e)
{
  unsigned level = e->slot / ASYNCRT_WHEEL_SLOTS;
  unsigned slot = e->slot % ASYNCRT_WHEEL_SLOTS;
  AsyncrtWheelLevel *l = &w->levels[level];
  assert (level < ASYNCRT_WHEEL_LEVELS);
  if (e->prev != NULL)
    e->prev->next = e->next;
  else
    l->head[slot] = e->next;
  if (e->next != NULL)
    e->next->prev = e->prev;
  else
    l->tail[slot] = e->prev;
  if (l->head[slot] == NULL)
    l->occupied &= ~(UINT64_C (1) << slot);
  e->prev = e->next = NULL;
  w->n_entries--;
}

/* The first occupied slot at or after elapsed's position on the lowest non-empty
 * level, and the time its span starts. */
static bool
next_slot (const AsyncrtWheel *w, unsigned *level_out, unsigned *slot_out,
           uint64_t *deadline_out)
{
  for (unsigned level = 0; level < ASYNCRT_WHEEL_LEVELS; level++)
    {
      uint64_t occ = w->levels[level].occupied;
      if (occ == 0)
        continue;
      unsigned shift = level * LEVEL_BITS;
      unsigned now_slot = (unsigned) (w->elapsed >> shift) & SLOT_MASK;
      uint64_t rotated = now_slot == 0 ? occ : (occ >> now_slot) | (occ << (64u - now_slot));
      unsigned slot = ((unsigned) __builtin_ctzll (rotated) + now_slot) & SLOT_MASK;
      uint64_t slot_range = UINT64_C (1) << shift;
      uint64_t level_range = slot_range << LEVEL_BITS;
      uint64_t level_start = w->elapsed & ~(level_range - 1);
      uint64_t deadline = level_start + (uint64_t) slot * slot_range;
      if (slot < now_slot)
        deadline += level_range;          /* only the top level wraps */
      *level_out = level;
      *slot_out = slot;
      *deadline_out = deadline;
      return true;
    }
  return false;
}

uint64_t
asyncrt__wheel_next_expiration (const AsyncrtWheel *w)
{
  unsigned level, slot;
  uint64_t deadline;
  if (!next_slot (w, &level, &slot, &deadline))
    return UINT64_MAX;
  return deadline < w->elapsed ? w->elapsed : deadline;
}

AsyncrtSleep *
asyncrt__wheel_poll (AsyncrtWheel *w, uint64_t now)
{
  for (;;)
    {
      unsigned level, slot;
      uint64_t deadline;
      if (!next_slot (w, &level, &slot, &deadline) || deadline > now)
        {
          if (now > w->elapsed)
            w->elapsed = now;
          return NULL;
        }
      if (deadline > w->elapsed)
        w->elapsed = deadline;

      AsyncrtWheelLevel *l = &w->levels[level];
      if (level == 0)
        {
          AsyncrtSleep *e = l->head[slot];
          asyncrt__wheel_remove (w, e);
          if (e->deadline <= w->elapsed)
            return e;
          /* Clamped (far deadline): move it further on. */
          asyncrt__wheel_insert (w, e);
          continue;
        }

      /* Cascade: every entry of this slot moves to a lower level. */
      AsyncrtSleep *e = l->head[slot];
      l->head[slot] = l->tail[slot] = NULL;
      l->occupied &= ~(UINT64_C (1) << slot);
      while (e != NULL)
        {
          AsyncrtSleep *next = e->next;
          w->n_entries--;
          asyncrt__wheel_insert (w, e);
          e = next;
        }
    }
}

AsyncrtSleep *
asyncrt__wheel_take_any (AsyncrtWheel *w)
{
  for (unsigned level = 0; level < ASYNCRT_WHEEL_LEVELS; level++)
    {
      uint64_t occ = w->levels[level].occupied;
      if (occ == 0)
        continue;
      AsyncrtSleep *e = w->levels[level].head[__builtin_ctzll (occ)];
      asyncrt__wheel_remove (w, e);
      return e;
    }
  return NULL;
}
