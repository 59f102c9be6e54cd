/* Echo round-trips over loopback TCP on the current-thread runtime (public API):
 * one client task and one server task ping-pong 64-byte messages.
 * Prints `name value unit` lines; never fails on a number. */
#include <asyncrt/asyncrt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG 64
#define ROUNDS 20000

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd *listener;
  AsyncrtFd conn;
  char buf[MSG];
  int64_t n;
  size_t done;
  int rc;
} Server;

static AsyncrtPoll
server_poll (void *p, AsyncrtContext *cx)
{
  Server *self = p;
  ASYNCRT_BEGIN (&self->co);
  ASYNCRT_AWAIT (&self->co, asyncrt_socket_accept_poll (self->listener, cx, &self->conn, &self->rc));
  if (self->rc < 0)
    abort ();
  asyncrt_tcp_set_nodelay (&self->conn, true);
  for (;;)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->conn, cx, self->buf, MSG, &self->n));
      if (self->n <= 0)
        break;
      self->done = 0;
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->conn, cx, self->buf,
                                                           (size_t) self->n, &self->done,
                                                           &self->n));
      if (self->n < 0)
        break;
    }
  asyncrt_fd_close (&self->conn);
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd listener;
  AsyncrtFd fd;
  AsyncrtJoinHandle *server;
  Server srv;
  char out[MSG], in[MSG];
  int64_t n;
  size_t done, got;
  int rc, i;
  double t0, t1;
} Client;

static AsyncrtPoll
client_poll (void *p, AsyncrtContext *cx)
{
  Client *self = p;
  ASYNCRT_BEGIN (&self->co);
  if (asyncrt_tcp_listen (&self->listener, "127.0.0.1", 0, 1) < 0)
    abort ();
  self->srv.listener = &self->listener;
  self->server = asyncrt_spawn (server_poll, &self->srv, NULL);
  if (asyncrt_tcp_connect_start (&self->fd, "127.0.0.1",
                                 (uint16_t) asyncrt_socket_get_local_port (&self->listener)) < 0)
    abort ();
  ASYNCRT_AWAIT (&self->co, asyncrt_socket_connect_poll (&self->fd, cx, &self->rc));
  asyncrt_tcp_set_nodelay (&self->fd, true);
  memset (self->out, 'x', MSG);
  self->t0 = now_s ();
  for (self->i = 0; self->i < ROUNDS; self->i++)
    {
      self->done = 0;
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->fd, cx, self->out, MSG,
                                                           &self->done, &self->n));
      for (self->got = 0; self->got < MSG; self->got += (size_t) self->n)
        {
          ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->fd, cx, self->in + self->got,
                                                          MSG - self->got, &self->n));
          if (self->n <= 0)
            abort ();
        }
    }
  self->t1 = now_s ();
  asyncrt_socket_shutdown (&self->fd, ASYNCRT_SHUTDOWN_WRITE);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->server, cx));
  asyncrt_join_handle_free (self->server);
  asyncrt_fd_close (&self->fd);
  asyncrt_fd_close (&self->listener);
  ASYNCRT_END (&self->co);
}

int
main (void)
{
  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt;
  if (asyncrt_builder_build (b, &rt) < 0)
    return 1;
  asyncrt_builder_free (b);
  Client *c = calloc (1, sizeof *c);
  asyncrt_runtime_block_on (rt, client_poll, c);
  printf ("rt_ct_tcp_echo_64B %.2f us/roundtrip\n", (c->t1 - c->t0) * 1e6 / ROUNDS);
  printf ("rt_ct_tcp_echo_64B_rate %.0f roundtrips/s\n", ROUNDS / (c->t1 - c->t0));
  free (c);
  asyncrt_runtime_free (rt);
  return 0;
}
