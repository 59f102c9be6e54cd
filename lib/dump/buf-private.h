/* libasyncrt - the output buffer of the dump's formats: numbers without printf
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every format (text.c, json.c, folded.c) writes into one GString that grows as it
 * goes (sized up front from the number of tasks) and is handed to the caller as it is
 * (asyncrt__dump_buf_steal): no copy at the end.  Per task, numbers are the bulk of
 * what is written; these writers avoid printf's parsing and locale work.  Header-only
 * and static inline: no state, any thread.
 */
#ifndef ASYNCRT_DUMP_BUF_PRIVATE_H
#define ASYNCRT_DUMP_BUF_PRIVATE_H

#include "util/util-private.h"

#include <glib.h>
#include <stdint.h>
#include <sys/mman.h>

/* Decimal. */
static inline void
asyncrt__buf_append_u64 (GString *out, uint64_t v)
{
  char tmp[24];
  char *p = tmp + sizeof tmp;
  do
    {
      *--p = (char) ('0' + v % 10);
      v /= 10;
    }
  while (v != 0);
  asyncrt__gstring_append_len (out, p, (size_t) (tmp + sizeof tmp - p));
}

static inline void
asyncrt__buf_append_i64 (GString *out, int64_t v)
{
  if (v < 0)
    {
      g_string_append_c (out, '-');
      asyncrt__buf_append_u64 (out, (uint64_t) 0 - (uint64_t) v);
    }
  else
    asyncrt__buf_append_u64 (out, (uint64_t) v);
}

/* @v / 1000 with three decimals ("12.345"). */
static inline void
asyncrt__buf_append_milli (GString *out, uint64_t v)
{
  asyncrt__buf_append_u64 (out, v / 1000);
  char tmp[4] = { '.', (char) ('0' + v / 100 % 10), (char) ('0' + v / 10 % 10),
                  (char) ('0' + v % 10) };
  asyncrt__gstring_append_len (out, tmp, 4);
}

/* Lower-case hexadecimal with "0x". */
static inline void
asyncrt__buf_append_hex (GString *out, uint64_t v)
{
  char tmp[20];
  char *p = tmp + sizeof tmp;
  do
    {
      *--p = "0123456789abcdef"[v & 15];
      v >>= 4;
    }
  while (v != 0);
  *--p = 'x';
  *--p = '0';
  asyncrt__gstring_append_len (out, p, (size_t) (tmp + sizeof tmp - p));
}

/* A large output is written once from start to end, a page fault per 4 KiB page:
 * at 100,000 tasks (38 MB of text) those faults were 40% of the formatting.  The
 * buffer's aligned interior is offered transparent huge pages (one fault and one
 * clear per 2 MiB) when the system allows them on request
 * (/sys/kernel/mm/transparent_hugepage/enabled: "madvise" or "always"); otherwise,
 * or if the advice fails, nothing changes.  The memory is still the caller's, freed
 * with free(). */
#define ASYNCRT_BUF_HUGE_MIN (4u << 20)
#define ASYNCRT_BUF_HUGE_PAGE ((uintptr_t) 2 << 20)

static inline void
asyncrt__buf_advise_huge (GString *out)
{
#ifdef MADV_HUGEPAGE
  if (out->allocated_len < ASYNCRT_BUF_HUGE_MIN)
    return;
  uintptr_t start = ((uintptr_t) out->str + ASYNCRT_BUF_HUGE_PAGE - 1)
                    & ~(ASYNCRT_BUF_HUGE_PAGE - 1);
  uintptr_t end = ((uintptr_t) out->str + out->allocated_len) & ~(ASYNCRT_BUF_HUGE_PAGE - 1);
  if (end > start)
    (void) madvise ((void *) start, end - start, MADV_HUGEPAGE);
#else
  (void) out;
#endif
}

/* Per-task output is regular: after the first @done of @total tasks, written since
 * @start, make room for the rest at the same rate (plus a little), so the buffer
 * grows once, while it is small, instead of doubling (and copying) at its full
 * size. */
static inline void
asyncrt__buf_reserve_rest (GString *out, gsize start, size_t done, size_t total)
{
  if (done == 0 || total <= done || out->len < start)
    return;
  gsize per = (out->len - start) / done + 1;
  gsize want = out->len + per * (total - done) + per * (total - done) / 16 + 4096;
  if (want <= out->allocated_len)
    return;
  gsize len = out->len;
  g_string_set_size (out, want);
  g_string_truncate (out, len);
  asyncrt__buf_advise_huge (out);
}

/* The buffer's text, handed over without a copy: free() it.  GLib (>= 2.46) allocates
 * with the system malloc, so g_free and free are the same. */
static inline char *
asyncrt__buf_steal (GString *out)
{
  return g_string_free (out, FALSE);
}

#endif /* ASYNCRT_DUMP_BUF_PRIVATE_H */
