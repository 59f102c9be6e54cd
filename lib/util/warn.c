/* libasyncrt - the library's own one-line messages on stderr
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Used for what the library was asked from outside and cannot do (an environment
 * variable it ignores, a signal the program already handles).  No state.
 */
#include "util/util-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void
asyncrt__escape_value (const char *s, char *out, size_t size)
{
  size_t o = 0, i;
  if (size == 0)
    return;
  for (i = 0; s[i] != '\0' && i < 64; i++)
    {
      unsigned char c = (unsigned char) s[i];
      char tmp[8];
      if (c == '\\')
        snprintf (tmp, sizeof tmp, "\\\\");
      else if (c >= 0x20 && c <= 0x7e)
        snprintf (tmp, sizeof tmp, "%c", c);
      else
        snprintf (tmp, sizeof tmp, "\\x%02x", c);
      size_t n = strlen (tmp);
      if (o + n + 4 >= size)
        break;
      memcpy (out + o, tmp, n);
      o += n;
    }
  if (s[i] != '\0' && o + 4 < size)
    {
      memcpy (out + o, "...", 3);
      o += 3;
    }
  out[o] = '\0';
}

void
asyncrt__warn (const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (msg + 9, sizeof msg - 10, fmt, ap);
  va_end (ap);
  if (n < 0)
    return;
  memcpy (msg, "asyncrt: ", 9);
  size_t len = strlen (msg);
  msg[len++] = '\n';
  asyncrt__output_write_all (STDERR_FILENO, msg, len, 1000);
}
