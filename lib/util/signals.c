/* libasyncrt - signals: names and numbers, and who owns a signal's disposition
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Shared by the two places where the library takes a signal: the dump on a signal
 * (lib/endpoint/signal.c, ASYNCRT_DUMP_SIGNAL) and native stacks (lib/sample,
 * ASYNCRT_SAMPLE_SIGNAL).  Both follow one rule: a disposition that is not SIG_DFL
 * belongs to the program and is never replaced.  No state.
 */
#include "util/util-private.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct
{
  const char *name;
  int signo;
} signal_names[] = {
  { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
  { "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "IOT", SIGABRT }, { "BUS", SIGBUS },
  { "FPE", SIGFPE }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
  { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
  { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
  { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
  { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
  { "WINCH", SIGWINCH }, { "IO", SIGIO }, { "POLL", SIGPOLL }, { "PWR", SIGPWR },
  { "SYS", SIGSYS },
};

static bool
parse_small (const char *s, int max, int *out)
{
  if (*s == '\0' || strlen (s) > 3)
    return false;
  int v = 0;
  for (; *s != '\0'; s++)
    {
      if (*s < '0' || *s > '9')
        return false;
      v = v * 10 + (*s - '0');
    }
  if (v > max)
    return false;
  *out = v;
  return true;
}

int
asyncrt__signal_parse (const char *s, int *ret_signo)
{
  if (s == NULL || *s == '\0' || strlen (s) > 32)
    return -EINVAL;
  int signo = 0;
  if (*s >= '0' && *s <= '9')
    {
      if (!parse_small (s, SIGRTMAX, &signo) || signo < 1)
        return -EINVAL;
    }
  else
    {
      if (strncasecmp (s, "SIG", 3) == 0)
        s += 3;
      for (size_t i = 0; i < G_N_ELEMENTS (signal_names) && signo == 0; i++)
        if (strcasecmp (s, signal_names[i].name) == 0)
          signo = signal_names[i].signo;
      if (signo == 0 && strncasecmp (s, "RTMIN", 5) == 0)
        {
          int k = 0;
          if (s[5] != '\0' && (s[5] != '+' || !parse_small (s + 6, SIGRTMAX, &k)))
            return -EINVAL;
          signo = SIGRTMIN + k;
        }
      else if (signo == 0 && strncasecmp (s, "RTMAX", 5) == 0)
        {
          int k = 0;
          if (s[5] != '\0' && (s[5] != '-' || !parse_small (s + 6, SIGRTMAX, &k)))
            return -EINVAL;
          signo = SIGRTMAX - k;
        }
      if (signo == 0 || signo < 1 || signo > SIGRTMAX)
        return -EINVAL;
    }
  if (signo > SIGSYS && signo < SIGRTMIN)   /* reserved by the C library's threads */
    return -ENOTSUP;
  switch (signo)
    {
    case SIGKILL: case SIGSTOP:
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGABRT:
    case SIGSYS:
      return -ENOTSUP;
    default:
      break;
    }
  *ret_signo = signo;
  return 0;
}

void
asyncrt__signal_name (int signo, char *out, size_t size)
{
  for (size_t i = 0; i < G_N_ELEMENTS (signal_names); i++)
    if (signal_names[i].signo == signo)
      {
        snprintf (out, size, "SIG%s", signal_names[i].name);
        return;
      }
  if (signo >= SIGRTMIN && signo <= SIGRTMAX)
    snprintf (out, size, "SIGRTMIN+%d", signo - SIGRTMIN);
  else
    snprintf (out, size, "signal %d", signo);
}

AsyncrtSignalOwner
asyncrt__signal_owner (int signo, void *ours, bool ours_siginfo)
{
  struct sigaction old;
  if (sigaction (signo, NULL, &old) < 0)
    return ASYNCRT_SIGNAL_HANDLED;
  if (old.sa_flags & SA_SIGINFO)
    return ours_siginfo && (void *) old.sa_sigaction == ours ? ASYNCRT_SIGNAL_OURS
                                                              : ASYNCRT_SIGNAL_HANDLED;
  if (old.sa_handler == SIG_DFL)
    return ASYNCRT_SIGNAL_FREE;
  if (old.sa_handler == SIG_IGN)
    return ASYNCRT_SIGNAL_IGNORED;
  return !ours_siginfo && (void *) old.sa_handler == ours ? ASYNCRT_SIGNAL_OURS
                                                          : ASYNCRT_SIGNAL_HANDLED;
}
