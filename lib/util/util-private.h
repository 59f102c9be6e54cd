/* libasyncrt - what every module may use to talk to the outside: the library's own
 * messages on stderr, signal names, writing output without hanging; and spare buffers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * output.c   asyncrt__output_write_all(): writing to stderr or a file, bounded in time
 *            and never raising SIGPIPE
 * warn.c     asyncrt__warn() and asyncrt__escape_value(): one-line messages about
 *            what the library was asked from outside (environment variables)
 * signals.c  signal names and numbers, and who owns a signal's disposition
 * spare.c    big buffers kept from one dump to the next (no page faults again)
 * (inline)   appending to a GString without a call per piece
 *
 * None of it keeps state that could be inherited locked across fork().
 */
#ifndef ASYNCRT_UTIL_PRIVATE_H
#define ASYNCRT_UTIL_PRIVATE_H

#include "util/common-private.h"

#include <glib.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

/* ---- output.c ----------------------------------------------------------------------- */

/* Writes @len bytes of @buf to @fd, giving up after @timeout_ms (a pipe or terminal
 * nobody reads is written through a non-blocking descriptor of its own; a socket with
 * MSG_DONTWAIT).  SIGPIPE is never raised: it is blocked in the calling thread for
 * the write and a SIGPIPE the write generated is consumed.  Returns 0 or a negative
 * errno (-ETIMEDOUT, -EPIPE...). */
int asyncrt__output_write_all (int fd, const char *buf, size_t len, unsigned timeout_ms);

/* ---- warn.c ------------------------------------------------------------------------- */

/* Writes "asyncrt: <message>\n" to stderr (through asyncrt__output_write_all()). */
void asyncrt__warn (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

/* Copies @s into @out (NUL-terminated within @size) with every byte that is not
 * printable ASCII, and the backslash, written as \xNN / \\, and cut after 64 input
 * bytes ("..."): for quoting hostile values in messages. */
void asyncrt__escape_value (const char *s, char *out, size_t size);

/* ---- appending to a GString --------------------------------------------------------- */

/* Appends @n bytes of @p (which must not point into @out): a memcpy when they fit in
 * the room already allocated (the dump's formats reserve it up front), else GLib's
 * g_string_append_len().  Inline: the formats call it a dozen times per task, and
 * GLib's own append (before 2.76) is a call with checks for every piece. */
static inline void
asyncrt__gstring_append_len (GString *out, const char *p, size_t n)
{
  if (G_LIKELY (out->len + n < out->allocated_len))
    {
      memcpy (out->str + out->len, p, n);
      out->len += n;
      out->str[out->len] = '\0';
    }
  else
    g_string_append_len (out, p, (gssize) n);
}

/* A string literal (its length known at compile time). */
#define ASYNCRT_GSTRING_APPEND_LIT(out, lit) \
  asyncrt__gstring_append_len ((out), "" lit, sizeof (lit) - 1)

/* A NUL-terminated string; NULL appends nothing. */
static inline void
asyncrt__gstring_append (GString *out, const char *s)
{
  if (s != NULL)
    asyncrt__gstring_append_len (out, s, strlen (s));
}

/* One step of waiting, without a lock, for another thread to finish a short phase
 * (a few milliseconds at most): yield the processor the first 64 times (step @k
 * counts from 0), then sleep 50 µs a time. */
static inline void
asyncrt__wait_step (unsigned k)
{
  if (k < 64)
    sched_yield ();
  else
    g_usleep (50);
}

/* ---- spare.c ------------------------------------------------------------------------ */

/* Kinds of spare buffers: each has at most one spare, process-wide. */
typedef enum
{
  ASYNCRT_SPARE_DUMP_RECORDS,   /* a dump's records: a GArray (its length kept) */
  ASYNCRT_SPARE_TRACE_SLOTS,    /* a dump's trace store's first chunk of slots: raw */
  ASYNCRT_SPARE_HELPER_TRACE_SLOTS,   /* the same of a store a dump's helper filled */
  ASYNCRT_SPARE_N
} AsyncrtSpareKind;

/* A spare is kept only up to this size (bigger ones are freed as usual). */
#define ASYNCRT_SPARE_MAX ((size_t) 16 << 20)

/* The spare raw buffer of @kind if it has at least @min_bytes (its size in
 * *@ret_bytes; its contents are garbage), else NULL (a smaller spare is freed). */
void *asyncrt__spare_take (AsyncrtSpareKind kind, size_t min_bytes, size_t *ret_bytes);
/* Keeps @p (g_malloc'ed, @bytes long) as @kind's spare, freeing the one it replaces;
 * frees @p instead if it is bigger than ASYNCRT_SPARE_MAX.  NULL is ignored. */
void asyncrt__spare_give (AsyncrtSpareKind kind, void *p, size_t bytes);
/* The same for arrays: taken empty (length 0, its allocation kept) if it had at
 * least @min_len elements when given; given with its length as it is. */
GArray *asyncrt__spare_take_array (AsyncrtSpareKind kind, size_t min_len);
void asyncrt__spare_give_array (AsyncrtSpareKind kind, GArray *a);
/* Frees every spare (asyncrt_runtime_free()). */
void asyncrt__spare_drop_all (void);

/* ---- signals.c ---------------------------------------------------------------------- */

/* Parses a signal name ("USR1", "SIGUSR1", "usr1", "RTMIN+2", "SIGRTMAX-1") or
 * number.  Returns 0 and the number; -EINVAL if it is neither; -ENOTSUP for a signal
 * that cannot be used (KILL, STOP, the ones that report faults: SEGV, BUS, FPE, ILL,
 * TRAP, ABRT, SYS, and the ones the C library reserves below SIGRTMIN). */
int asyncrt__signal_parse (const char *s, int *ret_signo);
/* Writes the name of @signo ("SIGUSR1", "SIGRTMIN+2", or "signal 40") into @out. */
void asyncrt__signal_name (int signo, char *out, size_t size);

/* Who has the disposition of a signal (sigaction with a NULL new action): the library
 * never replaces a handler of the program, nor SIG_IGN. */
typedef enum
{
  ASYNCRT_SIGNAL_FREE,      /* SIG_DFL: nobody handles it */
  ASYNCRT_SIGNAL_OURS,      /* the handler the caller asked about */
  ASYNCRT_SIGNAL_HANDLED,   /* another handler (the program's) */
  ASYNCRT_SIGNAL_IGNORED    /* SIG_IGN */
} AsyncrtSignalOwner;

/* @ours: the caller's handler, as installed (sa_handler, or sa_sigaction with
 * @ours_siginfo).  Returns ASYNCRT_SIGNAL_HANDLED too if sigaction() fails. */
AsyncrtSignalOwner asyncrt__signal_owner (int signo, void *ours, bool ours_siginfo);

#endif /* ASYNCRT_UTIL_PRIVATE_H */
