/* libasyncrt - the version of the library loaded at run time
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "util/common-private.h"

/**
 * asyncrt_get_major_version:
 *
 * The major version of the libasyncrt library the program runs with, which may
 * differ from %ASYNCRT_MAJOR_VERSION, the version of the headers it was compiled
 * against.
 *
 * Thread safety: any thread.
 *
 * Returns: the major version number.
 * Since: 0.2
 */
unsigned
asyncrt_get_major_version (void)
{
  return ASYNCRT_MAJOR_VERSION;
}

/**
 * asyncrt_get_minor_version:
 *
 * The minor version of the libasyncrt library the program runs with (see
 * asyncrt_get_major_version()).
 *
 * Thread safety: any thread.
 *
 * Returns: the minor version number.
 * Since: 0.2
 */
unsigned
asyncrt_get_minor_version (void)
{
  return ASYNCRT_MINOR_VERSION;
}

/**
 * asyncrt_get_micro_version:
 *
 * The micro version of the libasyncrt library the program runs with (see
 * asyncrt_get_major_version()).
 *
 * Thread safety: any thread.
 *
 * Returns: the micro version number.
 * Since: 0.2
 */
unsigned
asyncrt_get_micro_version (void)
{
  return ASYNCRT_MICRO_VERSION;
}

/**
 * asyncrt_check_version:
 * @required_major: the required major version
 * @required_minor: the required minor version
 * @required_micro: the required micro version
 *
 * Checks that the library the program runs with is compatible with the given
 * version: the same major version, and at least the given minor and micro versions.
 * Pass %ASYNCRT_MAJOR_VERSION, %ASYNCRT_MINOR_VERSION and %ASYNCRT_MICRO_VERSION to
 * check that the library is at least as new as the headers the program was compiled
 * against.
 *
 * Thread safety: any thread.
 *
 * Returns: (nullable): %NULL if the library is compatible; otherwise a static
 *   string, not to be freed, saying why not.
 * Since: 0.2
 */
const char *
asyncrt_check_version (unsigned required_major, unsigned required_minor,
                       unsigned required_micro)
{
  if (required_major > ASYNCRT_MAJOR_VERSION)
    return "libasyncrt version too old (major mismatch)";
  if (required_major != ASYNCRT_MAJOR_VERSION)
    return "libasyncrt version too new (major mismatch)";
  if (required_minor > ASYNCRT_MINOR_VERSION)
    return "libasyncrt version too old (minor mismatch)";
  if (required_minor == ASYNCRT_MINOR_VERSION && required_micro > ASYNCRT_MICRO_VERSION)
    return "libasyncrt version too old (micro mismatch)";
  return NULL;
}
