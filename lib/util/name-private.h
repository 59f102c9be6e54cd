/* libasyncrt - runtime names: the one syntax rule, shared by the registry (builders)
 * and the dump endpoint's request parser
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Self-contained (no other include) so that the endpoint protocol code, which is
 * also compiled into asyncrt-dump and the fuzzer, can use it.
 */
#ifndef ASYNCRT_NAME_PRIVATE_H
#define ASYNCRT_NAME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest runtime name, in bytes (without the terminating NUL). */
#define ASYNCRT_RUNTIME_NAME_MAX 63

/* A runtime name is 1 to ASYNCRT_RUNTIME_NAME_MAX bytes of ASCII letters, digits and
 * "._:@+-": it goes into request lines and dumps as is, so it can never contain a
 * space, a quote, a control character or anything a terminal interprets. */
static inline bool
asyncrt__runtime_name_is_valid (const char *s, size_t len)
{
  if (s == NULL || len == 0 || len > ASYNCRT_RUNTIME_NAME_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    {
      char c = s[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '.' || c == '_' || c == ':' || c == '@' || c == '+' || c == '-';
      if (!ok)
        return false;
    }
  return true;
}

#endif /* ASYNCRT_NAME_PRIVATE_H */
