/* libasyncrt - AsyncrtSignal: signals as futures, through a signalfd
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership: an AsyncrtSignal is its owner's (one task polls it at a time); its
 * signalfd is an AsyncrtFd registered with the driver like any other fd, so
 * readiness, wakers and shutdown follow fd.c and reactor.c.  A poll reads every
 * queued siginfo (up to a batch) and reports how many it got; on EAGAIN it clears
 * the readiness it acted on (the tick rule of fd.c keeps an edge that arrives in
 * between), so a delivery is never lost and never reported twice.
 */
#include "driver/io/fd-private.h"
#include "trace/wait-private.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* siginfo records read per read(2), and at most per poll (a flood of real-time
 * signals must not keep one poll busy; the rest is reported by the next poll). */
#define SIGINFO_BATCH 16
#define MAX_PER_POLL 1024

static bool
signo_ok (int signo)
{
  return signo > 0 && signo < NSIG && signo != SIGKILL && signo != SIGSTOP;
}

/**
 * asyncrt_signal_block:
 * @signo: a signal number, e.g. `SIGTERM`
 *
 * Blocks @signo in the calling thread (pthread_sigmask(3)), so that it is kept for an
 * #AsyncrtSignal instead of being delivered.  Threads created afterwards inherit the
 * mask: call it in main() before building any runtime or creating any thread (see
 * the section description).
 *
 * Thread safety: any thread; it changes the calling thread's mask only.
 *
 * Returns: 0, or -EINVAL if @signo is not a signal number, or is `SIGKILL` or
 *   `SIGSTOP` (which cannot be blocked).
 * Since: 0.2
 */
int
asyncrt_signal_block (int signo)
{
  if (!signo_ok (signo))
    return -EINVAL;
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, signo);
  int r = pthread_sigmask (SIG_BLOCK, &set, NULL);
  return r == 0 ? 0 : -r;
}

/**
 * asyncrt_signal_init:
 * @s: the future to initialise
 * @signo: the signal to wait for, blocked in the calling thread (and, for it to be
 *   reliable, in every thread: see asyncrt_signal_block())
 *
 * Creates a signalfd for @signo and registers it with the I/O driver of the runtime
 * running the calling thread (outside a runtime, with the process-wide fallback
 * driver).  Deliveries that are pending already are reported by the first poll.
 *
 * Thread safety: any thread; @s then belongs to its user, one poller at a time.
 *
 * Returns: 0; -EINVAL if @s is %NULL or @signo is not a signal number or is
 *   `SIGKILL` or `SIGSTOP`; -EPERM if @signo is not blocked in the calling thread;
 *   -ESHUTDOWN if the runtime's driver has shut down; -EMFILE, -ENFILE, -ENOMEM
 *   (out of descriptors or memory).  On failure @s is left cleared
 *   (asyncrt_signal_clear() is harmless on it).
 * Since: 0.2
 */
int
asyncrt_signal_init (AsyncrtSignal *s, int signo)
{
  if (s == NULL)
    return -EINVAL;
  memset (s, 0, sizeof *s);
  s->fd.fd = -1;
  if (!signo_ok (signo))
    return -EINVAL;
  sigset_t cur;
  if (pthread_sigmask (SIG_BLOCK, NULL, &cur) != 0 || !sigismember (&cur, signo))
    return -EPERM;

  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, signo);
  int sfd = signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0)
    return -errno;
  int r = asyncrt_fd_init (&s->fd, sfd);
  if (r < 0)
    {
      close (sfd);
      memset (s, 0, sizeof *s);
      s->fd.fd = -1;
      return r;
    }
  s->signo = signo;
  return 0;
}

/* Reads what is queued: the number of siginfo records (0: none), or -errno. */
static int
drain (AsyncrtSignal *s)
{
  struct signalfd_siginfo info[SIGINFO_BATCH];
  int n = 0;
  while (n < MAX_PER_POLL)
    {
      ssize_t r = read (s->fd.fd, info, sizeof info);
      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
          return n > 0 ? n : -errno;
        }
      n += (int) ((size_t) r / sizeof info[0]);
      if ((size_t) r < sizeof info)
        break;                                  /* short: nothing more queued now */
    }
  return n;
}

/**
 * asyncrt_signal_poll:
 * @s: an initialised #AsyncrtSignal
 * @cx: the context of this poll
 * @result: (out) (optional): how many deliveries this %ASYNCRT_READY stands for (1
 *   or more), or a negative errno
 *
 * Waits for the next delivery of the signal.  Each %ASYNCRT_READY reports the
 * deliveries that arrived since the previous one (coalesced, counted in *@result);
 * poll again to wait for the next.  A leaf future: it shows in task dumps and takes
 * part in the cooperative budget.  Dropping it while it waits is safe once it is
 * cleared with asyncrt_signal_clear(); pending deliveries then stay with the kernel.
 *
 * Thread safety: the owner of @s, one poll at a time.
 *
 * Returns: %ASYNCRT_READY with *@result > 0 after deliveries, with -ESHUTDOWN once
 *   the runtime's driver has shut down (and nothing is pending), with -EINVAL for a
 *   %NULL or uninitialised @s; %ASYNCRT_PENDING otherwise.
 * Since: 0.2
 */
static ASYNCRT_WAIT_DESCRIBER void
describe_signal (const AsyncrtSignal *s)
{
  AsyncrtWait *w = asyncrt__trace_leaf_wait ();
  if (w == NULL)
    return;
  asyncrt__wait_set (w, ASYNCRT_WAIT_SIGNAL, (uintptr_t) s, NULL);
  if (s != NULL && s->signo != 0)
    asyncrt__wait_set_fact (w, ASYNCRT_WAIT_FACT_SIGNAL, s->signo);
}

AsyncrtPoll
asyncrt_signal_poll (AsyncrtSignal *s, AsyncrtContext *cx, int *result)
{
  if (asyncrt_trace_leaf (cx))
    {
      describe_signal (s);
      return ASYNCRT_PENDING;
    }
  if (s == NULL || s->signo == 0 || asyncrt_fd_get_fd (&s->fd) < 0)
    {
      if (result != NULL)
        *result = -EINVAL;
      return ASYNCRT_READY;
    }
  for (;;)
    {
      int ready = 0;
      if (asyncrt_fd_readable_poll (&s->fd, cx, &ready) == ASYNCRT_PENDING)
        return ASYNCRT_PENDING;
      int n = drain (s);
      if (n != 0 || ready < 0)
        {
          if (result != NULL)
            *result = n != 0 ? n : ready;
          return ASYNCRT_READY;
        }
      /* Nothing queued: wait for the next edge (or take one that came meanwhile). */
      asyncrt_fd_clear_readable (&s->fd);
    }
}

/**
 * asyncrt_signal_clear:
 * @s: (nullable): an #AsyncrtSignal, initialised, cleared or zero-filled
 *
 * Deregisters and closes the signalfd.  Deliveries not yet reported stay pending in
 * the kernel (the signal is still blocked).  Safe on a zero-filled @s, one whose
 * initialisation failed, or one cleared already, and after the runtime was freed.
 * %NULL is ignored.
 *
 * Thread safety: the owner of @s, not while it is being polled.
 *
 * Since: 0.2
 */
void
asyncrt_signal_clear (AsyncrtSignal *s)
{
  if (s == NULL)
    return;
  if (s->signo != 0)
    asyncrt_fd_close (&s->fd);
  memset (s, 0, sizeof *s);
  s->fd.fd = -1;
}
