/* libasyncrt - a task dump on a signal, with no code in the program
 * (ASYNCRT_DUMP_SIGNAL, ASYNCRT_DUMP_FILE)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The handler does one thing: an async-signal-safe write() of 1 to `wake_fd`, an
 * eventfd the service thread polls (errno saved and restored).  Everything else
 * happens on the service thread: draining the eventfd (signals that arrive while a
 * dump is being written are coalesced into the next one), taking the dump, writing
 * it.
 *
 * Ownership.  `wake_fd` is atomic because the handler reads it; it is set when the
 * signal is armed and set to -1 (then closed) only in a child after fork(), where the
 * eventfd is shared with the parent and must not be written any more.  `armed_signo`
 * and `file_pattern` are written by asyncrt__dump_signal_arm_from_env(), which
 * endpoint.c calls under its lock with the service thread stopped, and read by the
 * service thread, which is started afterwards (pthread_create orders them).
 *
 * A disposition that is not SIG_DFL (a handler of the program, or SIG_IGN) is never
 * replaced: the library says so once on stderr and dumps nothing on that signal.
 * Once installed, the handler stays for the life of the process, so the signal never
 * kills the program again.
 */
#include "endpoint/endpoint-private.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_int wake_fd = -1;
static int armed_signo;
static char *file_pattern;              /* NULL: stderr */
static bool warned_taken;               /* "already handled" was said */

static void
on_signal (int signo)
{
  (void) signo;
  int saved = errno;
  int fd = atomic_load_explicit (&wake_fd, memory_order_relaxed);
  if (fd >= 0)
    {
      uint64_t one = 1;
      ssize_t r = write (fd, &one, sizeof one);
      (void) r;                /* EAGAIN: a wake-up is pending already */
    }
  errno = saved;
}

int
asyncrt__dump_file_expand (const char *pattern, long pid, long long t, char *out, size_t size)
{
  if (pattern == NULL || *pattern == '\0' || size == 0)
    return -EINVAL;
  size_t o = 0;
  for (const char *p = pattern; *p != '\0'; p++)
    {
      char tmp[32];
      const char *piece = tmp;
      if (*p != '%')
        {
          tmp[0] = *p;
          tmp[1] = '\0';
        }
      else
        {
          p++;
          if (*p == 'p')
            snprintf (tmp, sizeof tmp, "%ld", pid);
          else if (*p == 't')
            snprintf (tmp, sizeof tmp, "%lld", t);
          else if (*p == '%')
            piece = "%";
          else
            return -EINVAL;                 /* also a lone '%' at the end */
        }
      size_t n = strlen (piece);
      if (o + n >= size)
        return -ENAMETOOLONG;
      memcpy (out + o, piece, n);
      o += n;
    }
  out[o] = '\0';
  return 0;
}

/* ---- arming --------------------------------------------------------------------------- */

int
asyncrt__dump_signal_wake_fd (void)
{
  return atomic_load_explicit (&wake_fd, memory_order_relaxed);
}

static void
read_file_pattern (void)
{
  g_free (file_pattern);
  file_pattern = NULL;
  const char *value = secure_getenv ("ASYNCRT_DUMP_FILE");
  if (value == NULL || value[0] == '\0')
    return;
  char path[PATH_MAX];
  int r = asyncrt__dump_file_expand (value, (long) getpid (), (long long) time (NULL),
                                     path, sizeof path);
  if (r < 0)
    {
      char esc[300];
      asyncrt__escape_value (value, esc, sizeof esc);
      asyncrt__warn ("ignoring ASYNCRT_DUMP_FILE=%s (%s); dumps go to stderr", esc,
                     r == -EINVAL ? "'%' must be followed by p, t or %"
                     : "the path is too long");
      return;
    }
  file_pattern = g_strdup (value);
}

bool
asyncrt__dump_signal_arm_from_env (void)
{
  const char *value = secure_getenv ("ASYNCRT_DUMP_SIGNAL");
  if (value == NULL || value[0] == '\0')
    return asyncrt__dump_signal_wake_fd () >= 0;
  char esc[300];
  asyncrt__escape_value (value, esc, sizeof esc);
  int signo;
  int r = asyncrt__signal_parse (value, &signo);
  if (r < 0)
    {
      asyncrt__warn ("ignoring ASYNCRT_DUMP_SIGNAL=%s (%s); no dump on a signal", esc,
                     r == -ENOTSUP ? "that signal cannot be used for dumps"
                     : "not a signal name or number");
      return asyncrt__dump_signal_wake_fd () >= 0;
    }
  char name[32];
  asyncrt__signal_name (signo, name, sizeof name);
  read_file_pattern ();
  AsyncrtSignalOwner owner = asyncrt__signal_owner (signo, (void *) on_signal, false);
  bool ours = owner == ASYNCRT_SIGNAL_OURS;
  if (owner == ASYNCRT_SIGNAL_HANDLED || owner == ASYNCRT_SIGNAL_IGNORED)
    {
      if (!warned_taken)
        asyncrt__warn ("ASYNCRT_DUMP_SIGNAL=%s: the program already %s %s; "
                       "leaving it alone (no dump on that signal)", esc,
                       owner == ASYNCRT_SIGNAL_IGNORED ? "ignores" : "handles", name);
      warned_taken = true;
      return asyncrt__dump_signal_wake_fd () >= 0;
    }
  if (asyncrt__dump_signal_wake_fd () < 0)
    {
      int fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (fd < 0)
        {
          asyncrt__warn ("ASYNCRT_DUMP_SIGNAL=%s: cannot create an eventfd: %s", esc,
                         g_strerror (errno));
          return false;
        }
      atomic_store_explicit (&wake_fd, fd, memory_order_relaxed);
    }
  armed_signo = signo;
  if (!ours)
    {
      struct sigaction sa;
      memset (&sa, 0, sizeof sa);
      sa.sa_handler = on_signal;
      sigemptyset (&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      sigaction (signo, &sa, NULL);
    }
  return true;
}

void
asyncrt__dump_signal_atfork_child (void)
{
  int fd = atomic_exchange_explicit (&wake_fd, -1, memory_order_relaxed);
  if (fd >= 0)
    close (fd);
}

/* ---- serving --------------------------------------------------------------------------- */

static int
open_dump_file (const char *path)
{
  int fd;
  do
    fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW
               | O_NONBLOCK, 0600);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      return -EINVAL;
    }
  return fd;
}

void
asyncrt__dump_signal_serve (void)
{
  uint64_t count;
  ssize_t n;
  do
    n = read (asyncrt__dump_signal_wake_fd (), &count, sizeof count);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t) sizeof count)
    return;                                  /* nothing pending */

  char name[32];
  asyncrt__signal_name (armed_signo, name, sizeof name);
  AsyncrtEndpointRequest req;
  asyncrt__endpoint_request_init (&req, ASYNCRT_ENDPOINT_COMMAND_DUMP);
  req.timeout_ms = ASYNCRT_DUMP_SIGNAL_TIMEOUT_MS;
  GString *out = g_string_new (NULL);
  g_string_append_printf (out, "==== asyncrt task dump on %s ====\n", name);
  asyncrt__endpoint_respond (&req, out, NULL);
  g_string_append (out, "==== end of asyncrt task dump ====\n");

  int fd = STDERR_FILENO;
  if (file_pattern != NULL)
    {
      char path[PATH_MAX];
      int r = asyncrt__dump_file_expand (file_pattern, (long) getpid (), (long long) time (NULL),
                                         path, sizeof path);
      if (r == 0)
        r = open_dump_file (path);
      if (r >= 0)
        fd = r;
      else
        {
          char esc[300];
          asyncrt__escape_value (path, esc, sizeof esc);
          asyncrt__warn ("cannot write the dump to ASYNCRT_DUMP_FILE %s (%s); "
                         "writing it here", esc,
                         r == -EINVAL ? "not a regular file" : g_strerror (-r));
        }
    }
  asyncrt__output_write_all (fd, out->str, out->len, ASYNCRT_DUMP_OUTPUT_TIMEOUT_MS);
  if (fd != STDERR_FILENO)
    close (fd);
  g_string_free (out, TRUE);
}
