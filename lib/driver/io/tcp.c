/* libasyncrt - TCP helpers (numeric IPv4 / IPv6 addresses)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "driver/io/fd-private.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

static int
tcp_addr (const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
  memset (ss, 0, sizeof *ss);
  struct sockaddr_in *in4 = (struct sockaddr_in *) ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
  if (inet_pton (AF_INET, host, &in4->sin_addr) == 1)
    {
      in4->sin_family = AF_INET;
      in4->sin_port = htons (port);
      *len = sizeof *in4;
      return AF_INET;
    }
  if (inet_pton (AF_INET6, host, &in6->sin6_addr) == 1)
    {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons (port);
      *len = sizeof *in6;
      return AF_INET6;
    }
  return -EINVAL;
}

/**
 * asyncrt_tcp_listen:
 * @listener: (out caller-allocates): where to register the listening socket
 * @host: a numeric IPv4 or IPv6 address to bind ("127.0.0.1", "::1", "0.0.0.0");
 *   names are not resolved
 * @port: the port, or 0 to let the kernel choose (see
 *   asyncrt_socket_get_local_port())
 * @backlog: the listen(2) backlog; 0 or less for SOMAXCONN
 *
 * Creates a non-blocking TCP socket with SO_REUSEADDR, binds and listens, and
 * registers it with the current runtime's driver.  Accept connections with
 * asyncrt_socket_accept_poll(); close with asyncrt_fd_close().
 *
 * Thread safety: any thread.
 *
 * Returns: 0; -EINVAL for a %NULL argument or a @host that is not a numeric
 *   address; -EADDRINUSE, -EACCES… from the system; -ESHUTDOWN.
 * Since: 0.1
 */
int
asyncrt_tcp_listen (AsyncrtFd *listener, const char *host, uint16_t port, int backlog)
{
  if (listener == NULL)
    return -EINVAL;
  memset (listener, 0, sizeof *listener);
  listener->fd = -1;
  if (host == NULL)
    return -EINVAL;
  struct sockaddr_storage ss;
  socklen_t len;
  int family = tcp_addr (host, port, &ss, &len);
  if (family < 0)
    return family;
  return asyncrt__socket_open (listener, family, (struct sockaddr *) &ss, len,
                               backlog > 0 ? backlog : SOMAXCONN);
}

/**
 * asyncrt_tcp_connect_start:
 * @stream: (out caller-allocates): where to register the new socket
 * @host: a numeric IPv4 or IPv6 address; names are not resolved
 * @port: the port
 *
 * Starts a non-blocking TCP connection and registers the socket.  Await the
 * outcome with asyncrt_socket_connect_poll(); release the socket with
 * asyncrt_fd_close() in every case where this returned 0.
 *
 * Thread safety: any thread.
 *
 * Returns: 0 when the connection is under way (or already established); -EINVAL
 *   for a %NULL argument, port 0 or a @host that is not a numeric address; an
 *   error of socket(2) or connect(2) that was known at once; -ESHUTDOWN.  On
 *   error nothing is left to release.
 * Since: 0.1
 */
int
asyncrt_tcp_connect_start (AsyncrtFd *stream, const char *host, uint16_t port)
{
  if (stream == NULL)
    return -EINVAL;
  memset (stream, 0, sizeof *stream);
  stream->fd = -1;
  if (host == NULL || port == 0)
    return -EINVAL;
  struct sockaddr_storage ss;
  socklen_t len;
  int family = tcp_addr (host, port, &ss, &len);
  if (family < 0)
    return family;
  return asyncrt__socket_open (stream, family, (struct sockaddr *) &ss, len, -1);
}

/**
 * asyncrt_tcp_set_nodelay:
 * @stream: a registered TCP socket
 * @nodelay: %TRUE to disable Nagle's algorithm (TCP_NODELAY)
 *
 * Thread safety: any thread that may use @stream.
 *
 * Returns: 0, -EINVAL for a %NULL or unregistered @stream, or the error of
 *   setsockopt(2) (-EOPNOTSUPP / -ENOPROTOOPT for a socket that is not TCP).
 * Since: 0.1
 */
int
asyncrt_tcp_set_nodelay (AsyncrtFd *stream, bool nodelay)
{
  if (stream == NULL || (stream->flags & ASYNCRT__FD_REGISTERED) == 0)
    return -EINVAL;
  int v = nodelay ? 1 : 0;
  if (setsockopt (stream->fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0)
    return -errno;
  return 0;
}
