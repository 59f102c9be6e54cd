/* Time and I/O leaves on the real runtimes, current-thread and multi-thread (public
 * API only).  Each test runs once per scheduler flavour. */
#define _GNU_SOURCE
#include <asyncrt/asyncrt.h>

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "test-util.h"

typedef enum { CURRENT_THREAD, MULTI_THREAD } Flavour;

static AsyncrtRuntime *
new_runtime (gconstpointer flavour)
{
  AsyncrtBuilder *b;
  if (GPOINTER_TO_INT (flavour) == MULTI_THREAD)
    {
      b = asyncrt_builder_new_multi_thread ();
      g_assert_cmpint (asyncrt_builder_set_worker_threads (b, 2), ==, 0);
    }
  else
    b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  g_assert_cmpint (asyncrt_builder_build (b, &rt), ==, 0);
  asyncrt_builder_free (b);
  return rt;
}

/* --- echo: many concurrent connections, 10 MiB in all --------------------------- */

#define N_CONNS 32
#define PER_CONN (320 * 1024)                /* 32 x 320 KiB = 10 MiB */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd fd;
  char buf[16384];
  int64_t n;
  size_t done;
} Conn;

static AsyncrtPoll
conn_poll (void *p, AsyncrtContext *cx)
{
  Conn *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (;;)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->fd, cx, self->buf,
                                                      sizeof self->buf, &self->n));
      g_assert_cmpint (self->n, >=, 0);
      if (self->n == 0)
        break;
      self->done = 0;
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->fd, cx, self->buf,
                                                           (size_t) self->n,
                                                           &self->done, &self->n));
      g_assert_cmpint (self->n, >, 0);
    }
  g_assert_cmpint (asyncrt_fd_close (&self->fd), ==, 0);
  ASYNCRT_END (&self->co);
}

static void
conn_free (void *p)
{
  Conn *self = p;
  asyncrt_fd_close (&self->fd);             /* -EBADF when already closed: fine */
  g_free (self);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd *listener;
  int remaining;
  Conn *conn;
  int rc;
} Acceptor;

static AsyncrtPoll
acceptor_poll (void *p, AsyncrtContext *cx)
{
  Acceptor *self = p;
  ASYNCRT_BEGIN (&self->co);
  while (self->remaining > 0)
    {
      self->conn = g_new0 (Conn, 1);
      ASYNCRT_AWAIT (&self->co, asyncrt_socket_accept_poll (self->listener, cx,
                                                            &self->conn->fd, &self->rc));
      g_assert_cmpint (self->rc, ==, 0);
      AsyncrtJoinHandle *jh = asyncrt_spawn (conn_poll, self->conn, conn_free);
      g_assert_nonnull (jh);
      asyncrt_join_handle_free (jh);        /* detached */
      self->conn = NULL;
      self->remaining--;
    }
  ASYNCRT_END (&self->co);
}

static void
acceptor_free (void *p)
{
  Acceptor *self = p;
  g_free (self->conn);
  g_free (self);
}

typedef struct
{
  int step;
  int port;
  AsyncrtFd fd;
  const guint8 *out;
  guint8 *in;
  size_t written;
  size_t got;
  bool write_done;
  bool ok;
} Client;

/* Writes everything and reads it back concurrently, in one task. */
static AsyncrtPoll
client_poll (void *p, AsyncrtContext *cx)
{
  Client *c = p;
  if (c->step == 0)
    {
      g_assert_cmpint (asyncrt_tcp_connect_start (&c->fd, "127.0.0.1", (uint16_t) c->port), ==, 0);
      c->step = 1;
    }
  if (c->step == 1)
    {
      int rc;
      if (asyncrt_socket_connect_poll (&c->fd, cx, &rc) == ASYNCRT_PENDING)
        return ASYNCRT_PENDING;
      g_assert_cmpint (rc, ==, 0);
      c->step = 2;
    }
  if (!c->write_done)
    {
      int64_t res;
      if (asyncrt_fd_write_all_poll (&c->fd, cx, c->out, PER_CONN, &c->written, &res)
          == ASYNCRT_READY)
        {
          g_assert_cmpint (res, ==, PER_CONN);
          g_assert_cmpint (asyncrt_socket_shutdown (&c->fd, ASYNCRT_SHUTDOWN_WRITE), ==, 0);
          c->write_done = true;
        }
    }
  for (;;)
    {
      int64_t n;
      if (asyncrt_fd_read_poll (&c->fd, cx, c->in + c->got, PER_CONN + 1 - c->got, &n)
          == ASYNCRT_PENDING)
        return ASYNCRT_PENDING;
      g_assert_cmpint (n, >=, 0);
      if (n == 0)
        break;
      c->got += (size_t) n;
      g_assert_cmpuint (c->got, <=, PER_CONN);
    }
  g_assert_true (c->write_done);
  g_assert_cmpuint (c->got, ==, PER_CONN);
  c->ok = memcmp (c->in, c->out, PER_CONN) == 0;
  g_assert_cmpint (asyncrt_fd_close (&c->fd), ==, 0);
  return ASYNCRT_READY;
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd listener;
  guint8 *data;
  Client clients[N_CONNS];
  AsyncrtJoinHandle *jh[N_CONNS];
  AsyncrtJoinHandle *acceptor;
  int i;
} EchoRoot;

static AsyncrtPoll
echo_root_poll (void *p, AsyncrtContext *cx)
{
  EchoRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_cmpint (asyncrt_tcp_listen (&self->listener, "127.0.0.1", 0, 0), ==, 0);
  {
    Acceptor *a = g_new0 (Acceptor, 1);
    a->listener = &self->listener;
    a->remaining = N_CONNS;
    self->acceptor = asyncrt_spawn (acceptor_poll, a, acceptor_free);
    g_assert_nonnull (self->acceptor);
  }
  for (self->i = 0; self->i < N_CONNS; self->i++)
    {
      Client *c = &self->clients[self->i];
      c->port = asyncrt_socket_get_local_port (&self->listener);
      c->out = self->data;
      c->in = g_malloc (PER_CONN + 1);
      self->jh[self->i] = asyncrt_spawn (client_poll, c, NULL);
      g_assert_nonnull (self->jh[self->i]);
    }
  for (self->i = 0; self->i < N_CONNS; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh[self->i], cx));
      g_assert_true (self->clients[self->i].ok);
      asyncrt_join_handle_free (self->jh[self->i]);
      g_free (self->clients[self->i].in);
    }
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->acceptor, cx));
  asyncrt_join_handle_free (self->acceptor);
  g_assert_cmpint (asyncrt_fd_close (&self->listener), ==, 0);
  ASYNCRT_END (&self->co);
}

static void
test_tcp_echo_10mib (gconstpointer flavour)
{
  AsyncrtRuntime *rt = new_runtime (flavour);
  EchoRoot *root = g_new0 (EchoRoot, 1);
  root->data = g_malloc (PER_CONN);
  for (size_t i = 0; i < PER_CONN; i++)
    root->data[i] = (guint8) (i * 7 + i / 251);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, echo_root_poll, root), ==, 0);
  asyncrt_runtime_free (rt);
  g_free (root->data);
  g_free (root);
}

/* --- sleeps ----------------------------------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSleep sleep;
  uint64_t ms;
  gint64 started;
  gint64 took;
  atomic_int *freed;          /* free functions run on workers and on the freeing thread */
} Sleeper;

static AsyncrtPoll
sleeper_poll (void *p, AsyncrtContext *cx)
{
  Sleeper *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->started = g_get_monotonic_time ();
  asyncrt_sleep_init (&self->sleep, self->ms);
  ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->sleep, cx));
  self->took = g_get_monotonic_time () - self->started;
  ASYNCRT_END (&self->co);
}

static void
sleeper_free (void *p)
{
  Sleeper *self = p;
  asyncrt_sleep_clear (&self->sleep);
  if (self->freed != NULL)
    atomic_fetch_add (self->freed, 1);
  g_free (self);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinHandle *jh[20];
  int i;
} SleepRoot;

static AsyncrtPoll
sleep_root_poll (void *p, AsyncrtContext *cx)
{
  SleepRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < 20; self->i++)
    {
      Sleeper *s = g_new0 (Sleeper, 1);
      s->ms = (uint64_t) ((self->i * 7) % 20) * 5;
      self->jh[self->i] = asyncrt_spawn (sleeper_poll, s, sleeper_free);
    }
  for (self->i = 0; self->i < 20; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh[self->i], cx));
      {
        Sleeper *s = asyncrt_join_handle_get_future (self->jh[self->i]);
        g_assert_nonnull (s);
        g_assert_cmpint (s->took, >=, (gint64) s->ms * 1000);   /* never early */
      }
      asyncrt_join_handle_free (self->jh[self->i]);
    }
  ASYNCRT_END (&self->co);
}

static void
test_sleeps (gconstpointer flavour)
{
  AsyncrtRuntime *rt = new_runtime (flavour);
  SleepRoot root = { { 0 } };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, sleep_root_poll, &root), ==, 0);
  asyncrt_runtime_free (rt);
}

/* --- a timeout around a read that never completes ----------------------------------- */

typedef struct
{
  AsyncrtFd fd;
  char buf[8];
  int64_t n;
} PipeRead;

static AsyncrtPoll
pipe_read_poll (void *p, AsyncrtContext *cx)
{
  PipeRead *r = p;
  return asyncrt_fd_read_poll (&r->fd, cx, r->buf, sizeof r->buf, &r->n);
}

typedef struct
{
  AsyncrtCoroutine co;
  int fds[2];
  PipeRead read;
  AsyncrtTimeout timeout;
  AsyncrtYield yield;
  gint64 t0;
} TimeoutRoot;

static AsyncrtPoll
timeout_root_poll (void *p, AsyncrtContext *cx)
{
  TimeoutRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_cmpint (asyncrt_fd_init (&self->read.fd, self->fds[0]), ==, 0);
  self->t0 = g_get_monotonic_time ();
  asyncrt_timeout_init (&self->timeout, pipe_read_poll, &self->read, 30);
  ASYNCRT_AWAIT (&self->co, asyncrt_timeout_poll (&self->timeout, cx));
  g_assert_cmpint (asyncrt_timeout_get_result (&self->timeout), ==, -ETIMEDOUT);
  g_assert_cmpint (g_get_monotonic_time () - self->t0, >=, 30000);
  asyncrt_timeout_clear (&self->timeout);
  /* Now the data comes first. */
  g_assert_cmpint (write (self->fds[1], "hi", 2), ==, 2);
  asyncrt_timeout_init (&self->timeout, pipe_read_poll, &self->read, 10000);
  ASYNCRT_AWAIT (&self->co, asyncrt_timeout_poll (&self->timeout, cx));
  g_assert_cmpint (asyncrt_timeout_get_result (&self->timeout), ==, 0);
  g_assert_cmpint (self->read.n, ==, 2);
  asyncrt_timeout_clear (&self->timeout);
  asyncrt_yield_init (&self->yield);
  ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->yield, cx));
  asyncrt_fd_clear (&self->read.fd);
  ASYNCRT_END (&self->co);
}

static void
test_timeout_read (gconstpointer flavour)
{
  AsyncrtRuntime *rt = new_runtime (flavour);
  TimeoutRoot root = { { 0 } };
  g_assert_cmpint (pipe2 (root.fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
  g_assert_cmpint (asyncrt_runtime_block_on (rt, timeout_root_poll, &root), ==, 0);
  asyncrt_runtime_free (rt);
  close (root.fds[0]);
  close (root.fds[1]);
}

/* --- shutdown with tasks blocked in leaves ------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd fd;
  char buf[4];
  int64_t n;
  atomic_int *freed;
} Reader;

static AsyncrtPoll
reader_poll (void *p, AsyncrtContext *cx)
{
  Reader *self = p;
  ASYNCRT_BEGIN (&self->co);
  ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->fd, cx, self->buf,
                                                  sizeof self->buf, &self->n));
  ASYNCRT_END (&self->co);
}

static void
reader_free (void *p)
{
  Reader *self = p;
  asyncrt_fd_clear (&self->fd);
  atomic_fetch_add (self->freed, 1);
  g_free (self);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtYield y;
  int fd;
  atomic_int *freed;
  int i;
} ShutdownRoot;

static AsyncrtPoll
shutdown_root_poll (void *p, AsyncrtContext *cx)
{
  ShutdownRoot *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < 10; self->i++)
    {
      Sleeper *s = g_new0 (Sleeper, 1);
      s->ms = 3600 * 1000;
      s->freed = self->freed;
      asyncrt_join_handle_free (asyncrt_spawn (sleeper_poll, s, sleeper_free));
    }
  {
    Reader *r = g_new0 (Reader, 1);
    r->freed = self->freed;
    g_assert_cmpint (asyncrt_fd_init (&r->fd, self->fd), ==, 0);
    asyncrt_join_handle_free (asyncrt_spawn (reader_poll, r, reader_free));
  }
  /* Let every task run and register. */
  for (self->i = 0; self->i < 3; self->i++)
    {
      asyncrt_yield_init (&self->y);
      ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->y, cx));
    }
  ASYNCRT_END (&self->co);
}

static void
test_shutdown_pending (gconstpointer flavour)
{
  int fds[2];
  atomic_int freed = 0;
  g_assert_cmpint (pipe2 (fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
  AsyncrtRuntime *rt = new_runtime (flavour);
  ShutdownRoot root = { { 0 }, { 0 }, fds[0], &freed, 0 };
  g_assert_cmpint (asyncrt_runtime_block_on (rt, shutdown_root_poll, &root), ==, 0);
  asyncrt_runtime_free (rt);                /* frees every task: leaves cleared */
  g_assert_cmpint (atomic_load (&freed), ==, 11);
  close (fds[0]);
  close (fds[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const struct { const char *name; GTestDataFunc func; } tests[] = {
    { "tcp-echo-10MiB", test_tcp_echo_10mib },
    { "sleeps", test_sleeps },
    { "timeout-read", test_timeout_read },
    { "shutdown-pending", test_shutdown_pending },
  };
  for (int f = CURRENT_THREAD; f <= MULTI_THREAD; f++)
    for (size_t i = 0; i < G_N_ELEMENTS (tests); i++)
      {
        char *path = g_strdup_printf ("/rt-io/%s/%s",
                                      f == MULTI_THREAD ? "multi-thread" : "current-thread",
                                      tests[i].name);
        g_test_add_data_func (path, GINT_TO_POINTER (f), tests[i].func);
        g_free (path);
      }
  return g_test_run ();
}
