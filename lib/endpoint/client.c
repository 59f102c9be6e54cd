/* libasyncrt - the dump endpoint's connections: credentials, request, response
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership.  `clients` is used by the service thread only, with one exception:
 * fork().  So that a child can close its copies of the connections (and free their
 * buffers) although the parent's thread does not exist in the child, each slot's fd
 * and out are changed under `fds_lock`, which the atfork handlers hold across
 * fork().  The lock is only ever held for a non-blocking system call (accept4(),
 * close()) or a pointer update.
 *
 * A connection lives through: accepted (peer credentials checked before a byte is
 * read: anyone but the process's effective uid and root gets an EACCES response and
 * is closed) -> READING (at most ASYNCRT_ENDPOINT_REQUEST_MAX bytes until a newline,
 * by ASYNCRT_ENDPOINT_READ_TIMEOUT_MS after accept) -> the request is carried out on
 * the service thread -> [a watch: WATCHING, holding its first dumps until its interval
 * has passed (a peer that hangs up meanwhile is closed), then its second dumps are
 * taken] -> WRITING (the response, by ASYNCRT_ENDPOINT_WRITE_TIMEOUT_MS) -> closed.
 * `watch` is changed under `fds_lock` too, so that a forked child can free it.  One request per connection; bytes after the request line are ignored.
 * Sends use MSG_NOSIGNAL: a peer that goes away never raises SIGPIPE.
 */
#include "endpoint/endpoint-private.h"

#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_mutex_t fds_lock = PTHREAD_MUTEX_INITIALIZER;
static AsyncrtClient clients[ASYNCRT_ENDPOINT_MAX_CLIENTS] = {
  [0 ... ASYNCRT_ENDPOINT_MAX_CLIENTS - 1] = { .fd = -1 }
};

AsyncrtClient *
asyncrt__clients_get (size_t i)
{
  return &clients[i];
}

size_t
asyncrt__clients_count (void)
{
  size_t n = 0;
  for (size_t i = 0; i < ASYNCRT_ENDPOINT_MAX_CLIENTS; i++)
    n += clients[i].fd >= 0;
  return n;
}

static void
set_out (AsyncrtClient *c, char *out, size_t len)
{
  pthread_mutex_lock (&fds_lock);
  char *old = c->out;
  c->out = out;
  pthread_mutex_unlock (&fds_lock);
  g_free (old);
  c->out_len = len;
  c->out_off = 0;
}

/* Sets the connection's watch, returning the one it had. */
static AsyncrtEndpointWatch *
swap_watch (AsyncrtClient *c, AsyncrtEndpointWatch *w)
{
  pthread_mutex_lock (&fds_lock);
  AsyncrtEndpointWatch *old = c->watch;
  c->watch = w;
  pthread_mutex_unlock (&fds_lock);
  return old;
}

void
asyncrt__client_close (AsyncrtClient *c)
{
  /* Unread bytes at close() turn the peer's end of file into ECONNRESET on Linux:
   * read what a well-behaved peer may have sent after its request line first (a
   * bounded amount, without waiting). */
  char sink[4096];
  for (int i = 0; i < 16; i++)
    {
      ssize_t n = recv (c->fd, sink, sizeof sink, MSG_DONTWAIT);
      if (n <= 0 && !(n < 0 && errno == EINTR))
        break;
    }
  set_out (c, NULL, 0);
  asyncrt__endpoint_watch_free (swap_watch (c, NULL));
  pthread_mutex_lock (&fds_lock);
  close (c->fd);            /* never retried on EINTR: Linux has closed it already */
  c->fd = -1;
  pthread_mutex_unlock (&fds_lock);
}

/* One non-blocking send of a short message, for peers that get nothing more. */
static void
send_once (int fd, int status, const char *message)
{
  char buf[ASYNCRT_ENDPOINT_RESPONSE_HEADER_MAX + 256];
  int n = asyncrt__endpoint_response_header_format (buf, sizeof buf,
                                                    asyncrt__endpoint_status_from_errno (status),
                                                    strlen (message));
  if (n < 0 || (size_t) n + strlen (message) >= sizeof buf)
    return;
  memcpy (buf + n, message, strlen (message));
  while (send (fd, buf, (size_t) n + strlen (message), MSG_NOSIGNAL | MSG_DONTWAIT) < 0
         && errno == EINTR)
    ;
}

static bool
write_response (AsyncrtClient *c)
{
  while (c->out_off < c->out_len)
    {
      ssize_t n = send (c->fd, c->out + c->out_off, c->out_len - c->out_off,
                        MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return errno == EAGAIN || errno == EWOULDBLOCK;   /* else: the peer left */
        }
      c->out_off += (size_t) n;
    }
  return false;                                           /* all sent */
}

/* Takes @body (a status's body) and starts sending the response. */
static bool
respond (AsyncrtClient *c, int status, GString *body)
{
  char header[ASYNCRT_ENDPOINT_RESPONSE_HEADER_MAX];
  int n = asyncrt__endpoint_response_header_format (header, sizeof header,
                                                    asyncrt__endpoint_status_from_errno (status),
                                                    body->len);
  if (n < 0)
    {
      g_string_free (body, TRUE);
      return false;
    }
  g_string_prepend_len (body, header, n);
  size_t len = body->len;
  set_out (c, g_string_free (body, FALSE), len);
  c->phase = ASYNCRT_CLIENT_WRITING;
  c->deadline_ms = asyncrt__clock_now_ms () + ASYNCRT_ENDPOINT_WRITE_TIMEOUT_MS;
  return write_response (c);
}

static bool
respond_error (AsyncrtClient *c, int status, const char *message)
{
  GString *body = g_string_new (message);
  g_string_append_c (body, '\n');
  return respond (c, status, body);
}

static bool
carry_out (AsyncrtClient *c)
{
  AsyncrtEndpointRequest req;
  char err[160] = "";
  int r = asyncrt__endpoint_request_parse (c->reader.buf, c->reader.len, &req, err, sizeof err);
  if (r < 0)
    return respond_error (c, r, err);
  GString *body = g_string_new (NULL);
  AsyncrtEndpointWatch *watch = NULL;
  int status = asyncrt__endpoint_respond (&req, body, &watch);
  if (status == ASYNCRT_ENDPOINT_LATER)
    {
      g_string_free (body, TRUE);
      c->phase = ASYNCRT_CLIENT_WATCHING;
      c->deadline_ms = asyncrt__clock_now_ms () + asyncrt__endpoint_watch_get_interval_ms (watch);
      swap_watch (c, watch);
      return true;
    }
  return respond (c, status, body);
}

/* The watch's interval has passed: its second dumps, and the answer. */
static bool
finish_watch (AsyncrtClient *c)
{
  GString *body = g_string_new (NULL);
  int status = asyncrt__endpoint_watch_finish (swap_watch (c, NULL), body);
  return respond (c, status, body);
}

static bool
read_request (AsyncrtClient *c)
{
  char buf[512];
  for (;;)
    {
      ssize_t n = recv (c->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return errno == EAGAIN || errno == EWOULDBLOCK;   /* else: the peer left */
        }
      if (n == 0)
        return respond_error (c, -EINVAL, "the request ended without a newline");
      switch (asyncrt__endpoint_reader_feed (&c->reader, buf, (size_t) n, NULL))
        {
        case ASYNCRT_ENDPOINT_READ_LINE:
          return carry_out (c);
        case ASYNCRT_ENDPOINT_READ_TOO_LONG:
          return respond_error (c, -EMSGSIZE, "request line too long (at most 1024 bytes)");
        case ASYNCRT_ENDPOINT_READ_MORE:
        default:
          break;
        }
    }
}

static bool
accepted (AsyncrtClient *c, int fd)
{
  c->phase = ASYNCRT_CLIENT_READING;
  c->deadline_ms = asyncrt__clock_now_ms () + ASYNCRT_ENDPOINT_READ_TIMEOUT_MS;
  asyncrt__endpoint_reader_init (&c->reader, ASYNCRT_ENDPOINT_REQUEST_MAX);
  c->out_len = c->out_off = 0;
  /* The peer's credentials, before a byte of its request is read. */
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof cred)
    return false;
  if (cred.uid != geteuid () && cred.uid != 0)
    {
      send_once (fd, -EACCES, "permission denied: only the process's user and root may "
                              "take its dumps\n");
      return false;
    }
  return true;
}

void
asyncrt__clients_accept (int listen_fd)
{
  for (size_t i = 0; i < ASYNCRT_ENDPOINT_MAX_CLIENTS; i++)
    {
      AsyncrtClient *c = &clients[i];
      if (c->fd >= 0)
        continue;
      pthread_mutex_lock (&fds_lock);
      int fd;
      do
        fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      while (fd < 0 && errno == EINTR);
      int e = errno;
      c->fd = fd;
      pthread_mutex_unlock (&fds_lock);
      if (fd < 0)
        {
          /* EAGAIN: nobody is waiting.  Out of descriptors or memory: the connection
           * stays in the backlog; pause so that the loop does not spin on it. */
          if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
            {
              struct timespec ts = { 0, 100 * 1000000 };
              nanosleep (&ts, NULL);
            }
          return;
        }
      if (!accepted (c, fd))
        asyncrt__client_close (c);
    }
}

bool
asyncrt__client_on_ready (AsyncrtClient *c)
{
  switch (c->phase)
    {
    case ASYNCRT_CLIENT_READING:
      return read_request (c);
    case ASYNCRT_CLIENT_WATCHING:
      return false;                 /* polled for nothing: the peer hung up, or an error */
    case ASYNCRT_CLIENT_WRITING:
    default:
      return write_response (c);
    }
}

bool
asyncrt__client_on_deadline (AsyncrtClient *c)
{
  if (c->phase == ASYNCRT_CLIENT_WRITING)
    return false;
  if (c->phase == ASYNCRT_CLIENT_WATCHING)
    return finish_watch (c);
  /* The request may have arrived while the thread was busy with another one. */
  if (!read_request (c))
    return false;
  if (c->phase == ASYNCRT_CLIENT_WRITING)
    return true;
  send_once (c->fd, -ETIMEDOUT, "no complete request line within 5000 ms\n");
  return false;
}

short
asyncrt__client_poll_events (const AsyncrtClient *c)
{
  switch (c->phase)
    {
    case ASYNCRT_CLIENT_READING:
      return POLLIN;
    case ASYNCRT_CLIENT_WATCHING:
      return 0;                     /* only hang-ups and errors are reported */
    case ASYNCRT_CLIENT_WRITING:
    default:
      return POLLOUT;
    }
}

void
asyncrt__clients_atfork_prepare (void)
{
  pthread_mutex_lock (&fds_lock);
}

void
asyncrt__clients_atfork_parent (void)
{
  pthread_mutex_unlock (&fds_lock);
}

void
asyncrt__clients_atfork_child (void)
{
  for (size_t i = 0; i < ASYNCRT_ENDPOINT_MAX_CLIENTS; i++)
    {
      if (clients[i].fd >= 0)
        close (clients[i].fd);
      clients[i].fd = -1;
      g_free (clients[i].out);
      clients[i].out = NULL;
      asyncrt__endpoint_watch_free (clients[i].watch);
      clients[i].watch = NULL;
    }
  pthread_mutex_unlock (&fds_lock);
}
