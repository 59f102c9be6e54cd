/* libasyncrt - the service thread: the dump endpoint's connections and the dump signal
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One thread, one poll() loop over its stop eventfd, the dump-signal eventfd, the
 * listening socket and the open connections (client.c owns them).  It holds no lock
 * while it waits or works, and nothing a peer does can hold it: every descriptor is
 * non-blocking, every connection has a deadline (ASYNCRT_ENDPOINT_READ_TIMEOUT_MS for
 * the request, ASYNCRT_ENDPOINT_WRITE_TIMEOUT_MS for the response), at most
 * ASYNCRT_ENDPOINT_MAX_CLIENTS are open at once (others wait in the listen backlog),
 * and requests are carried out one at a time, on this thread, within their dump
 * timeout.  The thread exits when the stop eventfd becomes readable, after closing
 * every connection.
 */
#include "endpoint/endpoint-private.h"

#include <poll.h>
#include <pthread.h>
#include <unistd.h>

void *
asyncrt__service_main (void *data)
{
  AsyncrtServiceConfig cfg = *(AsyncrtServiceConfig *) data;
  g_free (data);
  pthread_setname_np (pthread_self (), "asyncrt-dump");     /* for top -H, gdb */
  struct pollfd pfds[3 + ASYNCRT_ENDPOINT_MAX_CLIENTS];
  AsyncrtClient *polled[ASYNCRT_ENDPOINT_MAX_CLIENTS];

  for (;;)
    {
      nfds_t n = 0;
      int listen_at = -1, signal_at = -1;
      pfds[n++] = (struct pollfd) { .fd = cfg.stop_fd, .events = POLLIN };
      if (cfg.signal_fd >= 0)
        {
          signal_at = (int) n;
          pfds[n++] = (struct pollfd) { .fd = cfg.signal_fd, .events = POLLIN };
        }
      if (cfg.listen_fd >= 0 && asyncrt__clients_count () < ASYNCRT_ENDPOINT_MAX_CLIENTS)
        {
          listen_at = (int) n;
          pfds[n++] = (struct pollfd) { .fd = cfg.listen_fd, .events = POLLIN };
        }
      const nfds_t first_client = n;
      uint64_t next_deadline = UINT64_MAX;
      for (size_t i = 0; i < ASYNCRT_ENDPOINT_MAX_CLIENTS; i++)
        {
          AsyncrtClient *c = asyncrt__clients_get (i);
          if (c->fd < 0)
            continue;
          polled[n - first_client] = c;
          pfds[n++] = (struct pollfd) { .fd = c->fd, .events = asyncrt__client_poll_events (c) };
          if (c->deadline_ms < next_deadline)
            next_deadline = c->deadline_ms;
        }
      int timeout = -1;
      if (next_deadline != UINT64_MAX)
        {
          uint64_t now = asyncrt__clock_now_ms ();
          timeout = next_deadline <= now ? 0
                    : next_deadline - now > 60000 ? 60000 : (int) (next_deadline - now);
        }

      if (poll (pfds, n, timeout) < 0)
        {
          if (errno != EINTR)
            {
              struct timespec ts = { 0, 10000000 };   /* ENOMEM: try again soon */
              nanosleep (&ts, NULL);
            }
          continue;
        }
      if (pfds[0].revents != 0)
        break;
      if (signal_at >= 0 && pfds[signal_at].revents != 0)
        asyncrt__dump_signal_serve ();
      for (nfds_t k = first_client; k < n; k++)
        {
          AsyncrtClient *c = polled[k - first_client];
          if (pfds[k].revents != 0 && !asyncrt__client_on_ready (c))
            asyncrt__client_close (c);
        }
      if (listen_at >= 0 && pfds[listen_at].revents != 0)
        asyncrt__clients_accept (cfg.listen_fd);
      /* A request that arrived while another was being carried out is read before
       * its deadline is judged (asyncrt__client_on_deadline() reads first). */
      uint64_t now = asyncrt__clock_now_ms ();
      for (size_t i = 0; i < ASYNCRT_ENDPOINT_MAX_CLIENTS; i++)
        {
          AsyncrtClient *c = asyncrt__clients_get (i);
          if (c->fd >= 0 && now >= c->deadline_ms && !asyncrt__client_on_deadline (c))
            asyncrt__client_close (c);
        }
    }

  for (size_t i = 0; i < ASYNCRT_ENDPOINT_MAX_CLIENTS; i++)
    {
      AsyncrtClient *c = asyncrt__clients_get (i);
      if (c->fd >= 0)
        asyncrt__client_close (c);
    }
  return NULL;
}
