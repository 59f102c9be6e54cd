/* libasyncrt - Unix-domain stream socket helpers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "driver/io/fd-private.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

static int
unix_addr (const char *path, struct sockaddr_un *sun, socklen_t *len)
{
  if (path == NULL || path[0] == '\0')
    return -EINVAL;
  memset (sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  bool abstract = path[0] == '@';
  size_t n = strlen (path);
  if (n >= sizeof sun->sun_path)
    return -ENAMETOOLONG;
  memcpy (sun->sun_path, path, n);
  if (abstract)
    {
      sun->sun_path[0] = '\0';
      *len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + n);
    }
  else
    *len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + n + 1);
  return 0;
}

/**
 * asyncrt_unix_listen:
 * @listener: (out caller-allocates): where to register the listening socket
 * @path: the socket's path; a leading '@' names a socket in Linux's abstract
 *   namespace instead (no file is created)
 * @backlog: the listen(2) backlog; 0 or less for SOMAXCONN
 *
 * Creates a non-blocking Unix stream socket, binds it to @path and listens.  An
 * existing file at @path is not removed (-EADDRINUSE); removing the socket file
 * after closing is the caller's business.
 *
 * Thread safety: any thread.
 *
 * Returns: 0; -EINVAL for a %NULL argument or an empty @path; -ENAMETOOLONG if
 *   @path does not fit a sockaddr_un; -EADDRINUSE, -EACCES, -ENOENT… from the
 *   system; -ESHUTDOWN.
 * Since: 0.1
 */
int
asyncrt_unix_listen (AsyncrtFd *listener, const char *path, int backlog)
{
  if (listener == NULL)
    return -EINVAL;
  memset (listener, 0, sizeof *listener);
  listener->fd = -1;
  struct sockaddr_un sun;
  socklen_t len;
  int r = unix_addr (path, &sun, &len);
  if (r < 0)
    return r;
  return asyncrt__socket_open (listener, AF_UNIX, (struct sockaddr *) &sun, len,
                               backlog > 0 ? backlog : SOMAXCONN);
}

/**
 * asyncrt_unix_connect_start:
 * @stream: (out caller-allocates): where to register the new socket
 * @path: the socket's path ('@' prefix: abstract namespace)
 *
 * Starts connecting to a Unix stream socket and registers the new socket.  Await
 * the outcome with asyncrt_socket_connect_poll(); release the socket with
 * asyncrt_fd_close() whenever this returned 0.  Unix connects usually finish or
 * fail at once.
 *
 * Thread safety: any thread.
 *
 * Returns: 0; -EINVAL, -ENAMETOOLONG as for asyncrt_unix_listen();
 *   -ECONNREFUSED (nobody listening), -ENOENT (no such socket), -EAGAIN (the
 *   listener's backlog is full) and other errors of connect(2); -ESHUTDOWN.  On
 *   error nothing is left to release.
 * Since: 0.1
 */
int
asyncrt_unix_connect_start (AsyncrtFd *stream, const char *path)
{
  if (stream == NULL)
    return -EINVAL;
  memset (stream, 0, sizeof *stream);
  stream->fd = -1;
  struct sockaddr_un sun;
  socklen_t len;
  int r = unix_addr (path, &sun, &len);
  if (r < 0)
    return r;
  return asyncrt__socket_open (stream, AF_UNIX, (struct sockaddr *) &sun, len, -1);
}
