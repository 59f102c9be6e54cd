/* echo-client: opens connections to an echo server and checks every byte comes back.
 *
 *   ./examples/echo-client PORT [CONNECTIONS [BYTES]]     (defaults: 8, 1 MiB)
 *
 * Each connection sends BYTES in 16 KiB chunks, reading each chunk back before the
 * next, then shuts down its writing side and expects end of file.  Runs on the
 * current-thread runtime; exits 0 when every connection got its bytes back intact.
 */
#include <asyncrt/asyncrt.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 16384

typedef struct
{
  AsyncrtCoroutine co;
  uint16_t port;
  size_t total, sent, got, done;
  AsyncrtFd conn;
  bool open;
  int res;
  int64_t n;
  size_t chunk;
  unsigned char out[CHUNK], in[CHUNK];
  bool ok;
} Conn;

static unsigned char
pattern (size_t i)
{
  return (unsigned char) (i * 31u + (i >> 12));
}

static AsyncrtPoll
conn_poll (void *p, AsyncrtContext *cx)
{
  Conn *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->res = asyncrt_tcp_connect_start (&self->conn, "127.0.0.1", self->port);
  if (self->res < 0)
    goto out;
  self->open = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_socket_connect_poll (&self->conn, cx, &self->res));
  if (self->res < 0)
    goto out;
  while (self->sent < self->total)
    {
      self->chunk = self->total - self->sent < CHUNK ? self->total - self->sent : CHUNK;
      for (size_t i = 0; i < self->chunk; i++)
        self->out[i] = pattern (self->sent + i);
      self->done = 0;
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->conn, cx, self->out,
                                                           self->chunk, &self->done,
                                                           &self->n));
      if (self->n < 0)
        { self->res = (int) self->n; goto out; }
      for (self->done = 0; self->done < self->chunk; self->done += (size_t) self->n)
        {
          ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->conn, cx,
                                                          self->in + self->done,
                                                          self->chunk - self->done,
                                                          &self->n));
          if (self->n <= 0)
            { self->res = self->n < 0 ? (int) self->n : -ECONNRESET; goto out; }
        }
      if (memcmp (self->in, self->out, self->chunk) != 0)
        { self->res = -EPROTO; goto out; }
      self->sent += self->chunk;
    }
  asyncrt_socket_shutdown (&self->conn, ASYNCRT_SHUTDOWN_WRITE);
  ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->conn, cx, self->in, 1, &self->n));
  self->ok = self->n == 0;                    /* end of file after the echo */
out:
  if (self->open)
    asyncrt_fd_close (&self->conn);
  self->open = false;
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtCoroutine co;
  Conn *conns;
  AsyncrtJoinHandle **handles;
  unsigned n, i;
} Main;

static AsyncrtPoll
main_poll (void *p, AsyncrtContext *cx)
{
  Main *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < self->n; self->i++)
    self->handles[self->i] = asyncrt_spawn_named ("echo-conn", conn_poll,
                                                  &self->conns[self->i], NULL);
  for (self->i = 0; self->i < self->n; self->i++)
    if (self->handles[self->i] != NULL)
      {
        ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->handles[self->i], cx));
        asyncrt_join_handle_free (self->handles[self->i]);
      }
  ASYNCRT_END (&self->co);
}

int
main (int argc, char **argv)
{
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      bool help = argc >= 2;
      fprintf (help ? stdout : stderr,
               "usage: echo-client PORT [CONNECTIONS [BYTES]]\n"
               "Sends BYTES (default 1 MiB) on each of CONNECTIONS (default 8) connections\n"
               "to an echo server on 127.0.0.1:PORT and checks every byte comes back.\n");
      return help ? 0 : 2;
    }
  Main m = { .n = argc > 2 ? (unsigned) atoi (argv[2]) : 8u };
  size_t bytes = argc > 3 ? (size_t) strtoull (argv[3], NULL, 10) : (size_t) 1 << 20;
  m.conns = calloc (m.n, sizeof *m.conns);
  m.handles = calloc (m.n, sizeof *m.handles);
  for (unsigned i = 0; i < m.n; i++)
    {
      m.conns[i].port = (uint16_t) atoi (argv[1]);
      m.conns[i].total = bytes;
    }

  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  int r = asyncrt_builder_build (b, &rt);
  asyncrt_builder_free (b);
  if (r < 0)
    return 1;
  uint64_t start = asyncrt_time_now_ms ();
  r = asyncrt_runtime_block_on (rt, main_poll, &m);
  uint64_t ms = asyncrt_time_now_ms () - start;
  asyncrt_runtime_free (rt);

  unsigned ok = 0;
  for (unsigned i = 0; i < m.n; i++)
    {
      if (m.conns[i].ok)
        ok++;
      else
        fprintf (stderr, "echo-client: connection %u failed: %s\n", i,
                 m.conns[i].res < 0 ? strerror (-m.conns[i].res) : "no end of file");
    }
  printf ("echo-client: %u/%u connections echoed %zu bytes each in %llu ms\n", ok, m.n,
          bytes, (unsigned long long) ms);
  free (m.conns);
  free (m.handles);
  return r == 0 && ok == m.n ? 0 : 1;
}
