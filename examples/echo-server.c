/* echo-server: a TCP echo server on the multi-thread runtime.
 *
 *   ./examples/echo-server [PORT]     (default 0: an ephemeral port, printed)
 *
 * Listens on 127.0.0.1, echoes every connection in its own task, and stops cleanly
 * on SIGINT or SIGTERM: a thread waits for them with sigwait() and wakes the accept
 * loop through an AsyncrtNotify.
 */
#include <asyncrt/asyncrt.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd conn;
  bool open;
  char buf[16384];
  int64_t n;
  size_t done;
} Echo;

static AsyncrtPoll
echo_poll (void *p, AsyncrtContext *cx)
{
  Echo *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (;;)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->conn, cx, self->buf,
                                                      sizeof self->buf, &self->n));
      if (self->n <= 0)                 /* 0: the peer closed; < 0: -errno */
        break;
      self->done = 0;
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->conn, cx, self->buf,
                                                           (size_t) self->n,
                                                           &self->done, &self->n));
      if (self->n < 0)
        break;
    }
  asyncrt_fd_close (&self->conn);
  self->open = false;
  ASYNCRT_END (&self->co);
}

static void
echo_free (void *p)
{
  Echo *self = p;
  if (self->open)
    asyncrt_fd_close (&self->conn);
  free (self);
}

typedef struct
{
  AsyncrtCoroutine co;
  uint16_t port;
  AsyncrtNotify *stop;
  AsyncrtNotified stopped;
  AsyncrtFd listener;
  Echo *next;
  int res;
  unsigned long served;
} Server;

static AsyncrtPoll
server_poll (void *p, AsyncrtContext *cx)
{
  Server *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->res = asyncrt_tcp_listen (&self->listener, "127.0.0.1", self->port, 128);
  if (self->res < 0)
    {
      fprintf (stderr, "echo-server: listen: %s\n", strerror (-self->res));
      goto out;
    }
  printf ("echo-server: listening on 127.0.0.1:%d\n",
          asyncrt_socket_get_local_port (&self->listener));
  fflush (stdout);
  asyncrt_notified_init (&self->stopped, self->stop);
  for (;;)
    {
      if (self->next == NULL)
        self->next = calloc (1, sizeof *self->next);
      /* Wait for either a connection or the stop notification. */
      if (asyncrt_notified_poll (&self->stopped, cx) == ASYNCRT_READY)
        break;
      if (asyncrt_socket_accept_poll (&self->listener, cx, &self->next->conn,
                                      &self->res) == ASYNCRT_PENDING)
        {
          ASYNCRT_YIELD_PENDING (&self->co);  /* both leaves registered their wakers */
          continue;
        }
      if (self->res < 0)
        {
          fprintf (stderr, "echo-server: accept: %s\n", strerror (-self->res));
          continue;
        }
      self->next->open = true;
      asyncrt_join_handle_free (asyncrt_spawn_named ("echo", echo_poll, self->next, echo_free));
      self->next = NULL;
      self->served++;
    }
  asyncrt_notified_clear (&self->stopped);
  asyncrt_fd_close (&self->listener);
out:
  free (self->next);
  self->next = NULL;
  ASYNCRT_END (&self->co);
}

static void *
signal_thread (void *data)
{
  sigset_t set;
  int sig;
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  if (sigwait (&set, &sig) == 0)
    asyncrt_notify_notify_waiters (data);
  return NULL;
}

int
main (int argc, char **argv)
{
  char *end = NULL;
  long port = argc > 1 ? strtol (argv[1], &end, 10) : 0;
  if (argc > 2 || (argc > 1 && (*end != '\0' || port < 0 || port > 65535)))
    {
      bool help = strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0;
      fprintf (help ? stdout : stderr,
               "usage: echo-server [PORT]\n"
               "Echoes TCP connections on 127.0.0.1:PORT (default 0: any free port, printed)\n"
               "until SIGINT or SIGTERM.\n");
      return help ? 0 : 2;
    }

  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &set, NULL);

  AsyncrtNotify stop;
  asyncrt_notify_init (&stop);
  Server server = { .port = (uint16_t) port, .stop = &stop };

  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  AsyncrtRuntime *rt = NULL;
  int r = asyncrt_builder_build (b, &rt);
  asyncrt_builder_free (b);
  if (r < 0)
    {
      fprintf (stderr, "echo-server: runtime: %s\n", strerror (-r));
      return 1;
    }
  pthread_t thread;
  pthread_create (&thread, NULL, signal_thread, &stop);
  r = asyncrt_runtime_block_on (rt, server_poll, &server);
  pthread_cancel (thread);
  pthread_join (thread, NULL);
  asyncrt_runtime_free (rt);
  asyncrt_notify_clear (&stop);
  printf ("echo-server: stopped after %lu connections\n", server.served);
  return r < 0 || server.res < 0 ? 1 : 0;
}
