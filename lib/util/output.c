/* libasyncrt - writing the library's own output (dumps on a signal, warnings) to
 * stderr or a file without hanging and without SIGPIPE
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The program's stderr may be a pipe nobody reads any more, a terminal that is
 * stopped, or a socket: a plain blocking write() could hang the service thread
 * forever, and a write to a closed pipe raises SIGPIPE, which would kill a program
 * that never asked for any of this.  So: the descriptor's own flags are never changed
 * (they belong to the program); a pipe or terminal is written through a new,
 * non-blocking open file description of its own (/proc/self/fd/N); a socket with
 * send(MSG_DONTWAIT | MSG_NOSIGNAL); regular files plainly.  All of it until a
 * deadline.  SIGPIPE is blocked in the calling thread for the duration and, if the
 * write generated one, consumed.  No state.
 */
#include "util/util-private.h"

#include <pthread.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum
{
  PLAIN,          /* write(), may block (regular files) */
  NONBLOCKING,    /* write() on our own non-blocking descriptor */
  SOCKET          /* send (MSG_DONTWAIT | MSG_NOSIGNAL) */
} Mode;

static int
wait_writable (int fd, uint64_t deadline_ms)
{
  for (;;)
    {
      uint64_t now = asyncrt__clock_now_ms ();
      if (now >= deadline_ms)
        return -ETIMEDOUT;
      struct pollfd p = { .fd = fd, .events = POLLOUT };
      int r = poll (&p, 1, (int) (deadline_ms - now));
      if (r > 0)
        return 0;
      if (r < 0 && errno != EINTR)
        return -errno;
    }
}

static int
write_loop (int fd, Mode mode, const char *buf, size_t len, uint64_t deadline_ms)
{
  size_t off = 0;
  while (off < len)
    {
      ssize_t n = mode == SOCKET
                  ? send (fd, buf + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL)
                  : write (fd, buf + off, len - off);
      if (n >= 0)
        {
          off += (size_t) n;
          continue;
        }
      if (errno == EINTR)
        continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && mode != PLAIN)
        {
          int r = wait_writable (fd, deadline_ms);
          if (r < 0)
            return r;
          continue;
        }
      return -errno;
    }
  return 0;
}

int
asyncrt__output_write_all (int fd, const char *buf, size_t len, unsigned timeout_ms)
{
  const uint64_t deadline = asyncrt__clock_now_ms () + timeout_ms;
  struct stat st;
  if (fstat (fd, &st) < 0)
    return -errno;

  sigset_t pipe_set, old_mask, pending;
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old_mask);
  sigpending (&pending);
  bool was_pending = sigismember (&pending, SIGPIPE);

  int r;
  if (S_ISSOCK (st.st_mode))
    r = write_loop (fd, SOCKET, buf, len, deadline);
  else if (S_ISFIFO (st.st_mode) || S_ISCHR (st.st_mode))
    {
      char path[64];
      snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
      int own = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
      if (own >= 0)
        {
          r = write_loop (own, NONBLOCKING, buf, len, deadline);
          close (own);
        }
      else
        r = write_loop (fd, PLAIN, buf, len, deadline);
    }
  else
    r = write_loop (fd, PLAIN, buf, len, deadline);

  if (!was_pending)
    {
      sigpending (&pending);
      if (sigismember (&pending, SIGPIPE))
        {
          struct timespec zero = { 0, 0 };
          while (sigtimedwait (&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
        }
    }
  pthread_sigmask (SIG_SETMASK, &old_mask, NULL);
  return r;
}
