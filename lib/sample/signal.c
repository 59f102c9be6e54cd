/* libasyncrt - the sampling signal: which one, and installing its handler
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The default is SIGRTMIN+6 (SIGRTMIN itself is chosen at run time by the C library:
 * 34 with glibc, which keeps 32 and 33 for its threads, so 40; 41 with musl).  Why a
 * real-time signal: the kernel never sends one on its own, no C library facility
 * uses one past SIGRTMIN, and a default action of "terminate" is what any unclaimed
 * signal has anyway.  Why not the first few: programs and libraries that take "the
 * first free real-time signal" (timers created with SIGEV_SIGNAL, reactors with
 * their own wake-up signals) take SIGRTMIN, SIGRTMIN+1, SIGRTMIN+2; why not the
 * last: tools count down from SIGRTMAX (valgrind keeps the top one).  SIGUSR1 and
 * SIGUSR2 may be chosen instead; no other standard signal is accepted, as taking one
 * would change what it does to the program (SIGINT, SIGTERM, SIGCHLD…).
 *
 * A runtime's signal comes from its builder (asyncrt_builder_set_sample_signal),
 * else from ASYNCRT_SAMPLE_SIGNAL (a name or number, "none" or "0" for no native
 * stacks), else the default, fixed when the runtime is built.
 *
 * Installing: lazily, when a sample is first needed, and never over the program's
 * own disposition (asyncrt__signal_owner: a handler or SIG_IGN means the program
 * owns the signal; native stacks are then reported unavailable).  The check is
 * repeated before every sample, so a program that installs its handler later simply
 * takes the signal back.  Once installed the handler stays for the life of the
 * process (with SA_RESTART, so interrupted system calls that can be restarted are).
 * No state is kept here: the disposition itself is the state, so there is nothing to
 * inherit locked across fork().
 */
#include "sample/sample-private.h"
#include "util/util-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static atomic_bool warned_env;

int
asyncrt__sample_default_signal (void)
{
  return SIGRTMIN + ASYNCRT_SAMPLE_DEFAULT_RT_OFFSET;
}

bool
asyncrt__sample_signal_is_valid (int signo)
{
  return signo == SIGUSR1 || signo == SIGUSR2 || (signo >= SIGRTMIN && signo <= SIGRTMAX);
}

int
asyncrt__sample_signal_from_env (void)
{
  const char *value = secure_getenv ("ASYNCRT_SAMPLE_SIGNAL");
  if (value == NULL || value[0] == '\0')
    return asyncrt__sample_default_signal ();
  if (strcmp (value, "0") == 0 || strcasecmp (value, "none") == 0
      || strcasecmp (value, "off") == 0)
    return 0;
  int signo = 0;
  int r = asyncrt__signal_parse (value, &signo);
  if (r == 0 && asyncrt__sample_signal_is_valid (signo))
    return signo;
  if (!atomic_exchange_explicit (&warned_env, true, memory_order_relaxed))
    {
      char esc[300];
      char name[32];
      asyncrt__escape_value (value, esc, sizeof esc);
      asyncrt__signal_name (asyncrt__sample_default_signal (), name, sizeof name);
      asyncrt__warn ("ignoring ASYNCRT_SAMPLE_SIGNAL=%s (%s); native stacks use %s", esc,
                     r == -EINVAL ? "not a signal name or number"
                                  : "use SIGUSR1, SIGUSR2, a real-time signal, or none",
                     name);
    }
  return asyncrt__sample_default_signal ();
}

AsyncrtNativeStackStatus
asyncrt__sample_signal_prepare (int signo)
{
#ifndef ASYNCRT_SAMPLE_SUPPORTED
  return signo == 0 ? ASYNCRT_NATIVE_STACK_DISABLED : ASYNCRT_NATIVE_STACK_UNSUPPORTED;
#else
  if (signo == 0)
    return ASYNCRT_NATIVE_STACK_DISABLED;
  switch (asyncrt__signal_owner (signo, (void *) asyncrt__sample_handler, true))
    {
    case ASYNCRT_SIGNAL_OURS:
      return ASYNCRT_NATIVE_STACK_OK;
    case ASYNCRT_SIGNAL_FREE:
      {
        struct sigaction sa;
        memset (&sa, 0, sizeof sa);
        sa.sa_sigaction = asyncrt__sample_handler;
        sigemptyset (&sa.sa_mask);
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        /* Two threads may race here: both install the same handler. */
        if (sigaction (signo, &sa, NULL) < 0)
          return ASYNCRT_NATIVE_STACK_FAILED;
        return ASYNCRT_NATIVE_STACK_OK;
      }
    case ASYNCRT_SIGNAL_HANDLED:
    case ASYNCRT_SIGNAL_IGNORED:
    default:
      return ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE;
    }
#endif
}

AsyncrtNativeStackStatus
asyncrt__sample_signal_check (int signo)
{
#ifndef ASYNCRT_SAMPLE_SUPPORTED
  return signo == 0 ? ASYNCRT_NATIVE_STACK_DISABLED : ASYNCRT_NATIVE_STACK_UNSUPPORTED;
#else
  if (signo == 0)
    return ASYNCRT_NATIVE_STACK_DISABLED;
  switch (asyncrt__signal_owner (signo, (void *) asyncrt__sample_handler, true))
    {
    case ASYNCRT_SIGNAL_OURS:
    case ASYNCRT_SIGNAL_FREE:
      return ASYNCRT_NATIVE_STACK_OK;
    case ASYNCRT_SIGNAL_HANDLED:
    case ASYNCRT_SIGNAL_IGNORED:
    default:
      return ASYNCRT_NATIVE_STACK_SIGNAL_IN_USE;
    }
#endif
}
