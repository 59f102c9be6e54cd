/* libasyncrt - what every module may use to talk to the outside: the library's own
 * messages on stderr, signal names, writing output without hanging
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * output.c   asyncrt__output_write_all(): writing to stderr or a file, bounded in time
 *            and never raising SIGPIPE
 * warn.c     asyncrt__warn() and asyncrt__escape_value(): one-line messages about
 *            what the library was asked from outside (environment variables)
 * signals.c  signal names and numbers, and who owns a signal's disposition
 *
 * None of it keeps state that could be inherited locked across fork().
 */
#ifndef ASYNCRT_UTIL_PRIVATE_H
#define ASYNCRT_UTIL_PRIVATE_H

#include "util/common-private.h"

#include <glib.h>
#include <signal.h>

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
