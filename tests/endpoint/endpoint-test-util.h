/* Helpers of the endpoint tests: talk to a dump endpoint with raw bytes. */
#ifndef ASYNCRT_ENDPOINT_TEST_UTIL_H
#define ASYNCRT_ENDPOINT_TEST_UTIL_H

#include "test-util.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static inline gint64
now_ms (void)
{
  return g_get_monotonic_time () / 1000;
}

/* A connected socket to the endpoint of @pid, or -errno. */
static inline int
endpoint_connect (long pid)
{
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_un addr;
  memset (&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  int n = snprintf (addr.sun_path + 1, sizeof addr.sun_path - 1, "asyncrt/%ld", pid);
  socklen_t len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + (size_t) n);
  if (connect (fd, (struct sockaddr *) &addr, len) < 0)
    {
      int e = errno;
      close (fd);
      return -e;
    }
  return fd;
}

static inline bool
send_all (int fd, const void *data, size_t len)
{
  const char *p = data;
  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
      p += n;
      len -= (size_t) n;
    }
  return true;
}

/* Reads until end of file or @timeout_ms; returns false on timeout or error. */
static inline bool
read_to_end (int fd, GString *out, unsigned timeout_ms)
{
  gint64 deadline = now_ms () + timeout_ms;
  char buf[65536];
  for (;;)
    {
      gint64 left = deadline - now_ms ();
      if (left <= 0)
        return false;
      struct pollfd p = { .fd = fd, .events = POLLIN };
      int r = poll (&p, 1, (int) left);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return false;
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      /* A peer that closes with our bytes unread makes the end an ECONNRESET. */
      if (n < 0)
        return errno == ECONNRESET;
      if (n == 0)
        return true;
      g_string_append_len (out, buf, n);
    }
}

/* Sends @request (@len bytes; -1: strlen) in one connection, optionally shuts the
 * write side, and reads the whole answer.  Returns 0 or -errno (-ETIMEDOUT).  The
 * endpoint may answer and close before it has read all of an oversized request: then
 * the rest cannot be sent (EPIPE), and the answer already sent counts. */
static inline int
endpoint_exchange (long pid, const char *request, gssize len, bool shut_write,
                   unsigned timeout_ms, GString *answer)
{
  int fd = endpoint_connect (pid);
  if (fd < 0)
    return fd;
  if (len < 0)
    len = (gssize) strlen (request);
  int r = 0;
  bool sent = send_all (fd, request, (size_t) len);
  if (sent && shut_write)
    shutdown (fd, SHUT_WR);
  if (!read_to_end (fd, answer, timeout_ms))
    r = -ETIMEDOUT;
  else if (!sent && answer->len == 0)
    r = -EPIPE;
  close (fd);
  return r;
}

/* Splits an answer: checks the header's syntax and that the body has exactly the
 * announced length.  Returns the status word (to g_free) and the body's offset. */
static inline char *
answer_status (const GString *answer, size_t *ret_body)
{
  const char *nl = memchr (answer->str, '\n', answer->len);
  g_assert_nonnull (nl);
  char *line = g_strndup (answer->str, (gsize) (nl - answer->str));
  char **f = g_strsplit (line, " ", -1);
  g_assert_cmpuint (g_strv_length (f), ==, 4);
  g_assert_cmpstr (f[0], ==, "asyncrt-dump");
  g_assert_cmpstr (f[1], ==, "1");
  size_t body = (size_t) (nl + 1 - answer->str);
  g_assert_cmpuint (g_ascii_strtoull (f[3], NULL, 10), ==, answer->len - body);
  char *status = g_strdup (f[2]);
  g_strfreev (f);
  g_free (line);
  if (ret_body != NULL)
    *ret_body = body;
  return status;
}

/* Is there a listening socket @asyncrt/PID in /proc/net/unix? */
static inline bool
endpoint_is_listed (long pid)
{
  char *contents = NULL;
  g_assert_true (g_file_get_contents ("/proc/net/unix", &contents, NULL, NULL));
  char *name = g_strdup_printf (" @asyncrt/%ld\n", pid);
  bool found = strstr (contents, name) != NULL;
  g_free (name);
  g_free (contents);
  return found;
}

#endif
