/* libasyncrt - naming the outcome of a sample (AsyncrtNativeStackStatus)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * No state.
 */
#include "sample/sample-private.h"

/**
 * asyncrt_native_stack_status_to_string:
 * @status: why a native stack is there or not
 *
 * A short phrase for @status, as the text form of a dump prints it, e.g. "the
 * thread blocks the sampling signal".
 *
 * Thread safety: any thread.
 *
 * Returns: (transfer none): a static string; "unknown" for a value this version does
 *   not know.
 * Since: 0.2
 */
const char *
asyncrt_native_stack_status_to_string (AsyncrtNativeStackStatus status)
{
  switch (status)
    {
    case ASYNCRT_NATIVE_STACK_OK: return "sampled";
    case ASYNCRT_NATIVE_STACK_NOT_SAMPLED: return "not sampled";
    case ASYNCRT_NATIVE_STACK_DISABLED: return "native stacks are turned off";
    case ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE: return "the program handles the sampling signal itself";
    case ASYNCRT_NATIVE_STACK_UNSUPPORTED: return "native stacks are not supported on this platform";
    case ASYNCRT_NATIVE_STACK_NO_ANSWER: return "the thread did not take the signal in time";
    case ASYNCRT_NATIVE_STACK_SIGNAL_BLOCKED: return "the thread blocks the sampling signal";
    case ASYNCRT_NATIVE_STACK_UNINTERRUPTIBLE: return "the thread is in an uninterruptible sleep";
    case ASYNCRT_NATIVE_STACK_MOVED_ON: return "its poll had ended when the thread was sampled";
    case ASYNCRT_NATIVE_STACK_NO_THREAD: return "no thread to sample";
    case ASYNCRT_NATIVE_STACK_FAILED: return "the thread could not be sampled";
    default: return "unknown";
    }
}

const char *
asyncrt__native_stack_status_name (AsyncrtNativeStackStatus status)
{
  switch (status)
    {
    case ASYNCRT_NATIVE_STACK_OK: return "ok";
    case ASYNCRT_NATIVE_STACK_NOT_SAMPLED: return "not_sampled";
    case ASYNCRT_NATIVE_STACK_DISABLED: return "disabled";
    case ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE: return "signal_in_use";
    case ASYNCRT_NATIVE_STACK_UNSUPPORTED: return "unsupported";
    case ASYNCRT_NATIVE_STACK_NO_ANSWER: return "no_answer";
    case ASYNCRT_NATIVE_STACK_SIGNAL_BLOCKED: return "signal_blocked";
    case ASYNCRT_NATIVE_STACK_UNINTERRUPTIBLE: return "uninterruptible";
    case ASYNCRT_NATIVE_STACK_MOVED_ON: return "moved_on";
    case ASYNCRT_NATIVE_STACK_NO_THREAD: return "no_thread";
    case ASYNCRT_NATIVE_STACK_FAILED: return "failed";
    default: return "unknown";
    }
}
