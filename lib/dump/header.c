/* libasyncrt - the first line of every dump: which process, when, which library
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Called once at the top of the text and the JSON forms (dump.c).  No state: the
 * process id and name are read when the dump is formatted, the wall-clock time is
 * derived from the dump's monotonic timestamp.
 */
#include "dump/dump-private.h"
#include "trace/trace-private.h"

#include <stdio.h>
#include <unistd.h>

/* The wall-clock time at which @d was taken, as "2025-01-31T12:34:56.789Z". */
static void
format_taken_at (const AsyncrtDump *d, char *out, size_t size)
{
  struct timespec real;
  clock_gettime (CLOCK_REALTIME, &real);
  uint64_t mono_now = asyncrt__clock_now_ns ();
  uint64_t ago = mono_now > d->taken_ns ? mono_now - d->taken_ns : 0;
  int64_t real_ns = (int64_t) real.tv_sec * 1000000000 + real.tv_nsec - (int64_t) ago;
  time_t secs = (time_t) (real_ns / 1000000000);
  struct tm tm;
  if (gmtime_r (&secs, &tm) == NULL)
    {
      snprintf (out, size, "unknown");
      return;
    }
  snprintf (out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            (int) ((real_ns % 1000000000) / 1000000));
}

void
asyncrt__dump_append_header (GString *out, const AsyncrtDump *d, bool json)
{
  char taken[64];
  format_taken_at (d, taken, sizeof taken);
  const char *program = program_invocation_short_name;
  if (json)
    {
      g_string_append_printf (out, "\"pid\":%ld,\"program\":", (long) getpid ());
      asyncrt__json_append_string (out, program);
      g_string_append_printf (out, ",\"taken_at\":\"%s\",\"library_version\":\"%u.%u.%u\",",
                              taken, asyncrt_get_major_version (), asyncrt_get_minor_version (),
                              asyncrt_get_micro_version ());
      return;
    }
  g_string_append_printf (out, "process %ld (", (long) getpid ());
  /* The program name comes from argv[0]: shown visibly, never as control bytes. */
  asyncrt__text_append_escaped (out, program, false);
  g_string_append_printf (out, "), taken at %s, libasyncrt %u.%u.%u\n", taken,
                          asyncrt_get_major_version (), asyncrt_get_minor_version (),
                          asyncrt_get_micro_version ());
}
