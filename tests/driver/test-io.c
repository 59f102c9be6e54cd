/* I/O driver tests: fd readiness and sockets on loopback, driven by hand (no
 * runtime).  A tiny executor polls a "task" only after its waker fired, so a lost
 * wake-up shows as a timeout rather than being papered over by spurious polls. */
#include "driver-test-util.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* --- a hand executor ---------------------------------------------------------- */

typedef struct
{
  AsyncrtPollFunc poll;
  void *state;
  CountingWaker c;
  AsyncrtContext *cx;
  int seen;
  bool done;
} HTask;

typedef struct
{
  AsyncrtDriver *driver;
  GPtrArray *tasks;
} HExec;

static HTask *
hexec_add (HExec *ex, AsyncrtPollFunc poll, void *state)
{
  HTask *t = g_new0 (HTask, 1);
  t->poll = poll;
  t->state = state;
  t->cx = cw_context_new (&t->c);
  t->seen = -1;                             /* poll once at the start */
  g_ptr_array_add (ex->tasks, t);
  return t;
}

/* Runs until every task is done; false on timeout. */
static bool
hexec_run (HExec *ex, unsigned timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) test_timeout_ms (timeout_ms) * 1000;
  for (;;)
    {
      bool all_done = true, polled = false;
      for (guint i = 0; i < ex->tasks->len; i++)   /* tasks may be added meanwhile */
        {
          HTask *t = g_ptr_array_index (ex->tasks, i);
          if (t->done)
            continue;
          all_done = false;
          int w = cw_wakes (&t->c);
          if (w == t->seen)
            continue;
          t->seen = w;
          polled = true;
          if (t->poll (t->state, t->cx) == ASYNCRT_READY)
            t->done = true;
        }
      if (all_done)
        return true;
      if (g_get_monotonic_time () > end)
        return false;
      if (!polled)
        asyncrt__driver_park (ex->driver, 100);
    }
}

static void
hexec_init (HExec *ex, AsyncrtDriver *d)
{
  ex->driver = d;
  ex->tasks = g_ptr_array_new ();
}

static void
hexec_clear (HExec *ex)
{
  for (guint i = 0; i < ex->tasks->len; i++)
    {
      HTask *t = g_ptr_array_index (ex->tasks, i);
      asyncrt_context_free (t->cx);
      g_assert_cmpint (cw_refs (&t->c), ==, 0);   /* no waker leaked */
      g_free (t);
    }
  g_ptr_array_unref (ex->tasks);
}

/* --- AsyncrtFd basics --------------------------------------------------------- */

static void
test_fd_errors (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  AsyncrtFd f;
  int fds[2];
  g_assert_cmpint (asyncrt_fd_init (NULL, 0), ==, -EINVAL);
  g_assert_cmpint (asyncrt_fd_init (&f, -1), ==, -EBADF);
  g_assert_cmpint (asyncrt_fd_get_fd (&f), ==, -EBADF);
  g_assert_cmpint (asyncrt_fd_close (&f), ==, -EBADF);
  asyncrt_fd_clear (&f);
  asyncrt_fd_clear (NULL);
  g_assert_cmpint (asyncrt_fd_close (NULL), ==, -EBADF);
  g_assert_cmpint (asyncrt_fd_get_fd (NULL), ==, -EBADF);

  g_assert_cmpint (pipe (fds), ==, 0);           /* blocking */
  g_assert_cmpint (asyncrt_fd_init (&f, fds[0]), ==, -EINVAL);
  close (fds[0]);
  close (fds[1]);
  g_assert_cmpint (asyncrt_fd_init (&f, fds[0]), ==, -EBADF);   /* closed */

  /* Regular files are not pollable. */
  char *path = NULL;
  int file = g_file_open_tmp ("asyncrt-io-XXXXXX", &path, NULL);
  g_assert_cmpint (file, >=, 0);
  fcntl (file, F_SETFL, O_NONBLOCK);
  g_assert_cmpint (asyncrt_fd_init (&f, file), ==, -EPERM);
  close (file);
  g_unlink (path);
  g_free (path);

  /* Registering the same fd twice with one driver. */
  int efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  AsyncrtFd a, b;
  g_assert_cmpint (asyncrt_fd_init (&a, efd), ==, 0);
  g_assert_cmpint (asyncrt_fd_get_fd (&a), ==, efd);
  g_assert_cmpint (asyncrt_fd_init (&b, efd), ==, -EEXIST);
  asyncrt_fd_clear (&b);

  /* Polls on unregistered fds and bad arguments report -EINVAL. */
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  int rc = 0;
  int64_t n = 0;
  char buf[4];
  size_t done = 0;
  AsyncrtFd none;
  memset (&none, 0, sizeof none);
  g_assert_cmpint (asyncrt_fd_readable_poll (&none, cx, &rc), ==, ASYNCRT_READY);
  g_assert_cmpint (rc, ==, -EINVAL);
  rc = 0;
  g_assert_cmpint (asyncrt_fd_writable_poll (NULL, cx, &rc), ==, ASYNCRT_READY);
  g_assert_cmpint (rc, ==, -EINVAL);
  g_assert_cmpint (asyncrt_fd_read_poll (NULL, cx, buf, 4, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, -EINVAL);
  n = 0;
  g_assert_cmpint (asyncrt_fd_read_poll (&a, cx, NULL, 4, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, -EINVAL);
  n = 0;
  g_assert_cmpint (asyncrt_fd_write_poll (&none, cx, buf, 4, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, -EINVAL);
  n = 0;
  g_assert_cmpint (asyncrt_fd_write_all_poll (&a, cx, buf, 4, NULL, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, -EINVAL);
  n = 0;
  done = 5;
  g_assert_cmpint (asyncrt_fd_write_all_poll (&a, cx, buf, 4, &done, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, -EINVAL);
  n = 1;
  g_assert_cmpint (asyncrt_fd_read_poll (&a, cx, buf, 0, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, 0);
  n = 1;
  g_assert_cmpint (asyncrt_fd_write_poll (&a, cx, buf, 0, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, 0);
  asyncrt_fd_clear_readable (NULL);
  asyncrt_fd_clear_writable (&none);
  g_assert_cmpint (asyncrt_socket_shutdown (NULL, ASYNCRT_SHUTDOWN_BOTH), ==, -EINVAL);
  g_assert_cmpint (asyncrt_socket_shutdown (&a, (AsyncrtShutdownHow) 7), ==, -EINVAL);
  g_assert_cmpint (asyncrt_socket_shutdown (&a, ASYNCRT_SHUTDOWN_WRITE), ==, -ENOTSOCK);
  g_assert_cmpint (asyncrt_socket_get_local_port (NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_socket_get_local_port (&a), ==, -ENOTSOCK);
  g_assert_cmpint (asyncrt_tcp_set_nodelay (NULL, true), ==, -EINVAL);
  g_assert_cmpint (asyncrt_socket_accept_poll (&a, cx, NULL, &rc), ==, ASYNCRT_READY);
  g_assert_cmpint (rc, ==, -EINVAL);
  g_assert_cmpint (asyncrt_socket_connect_poll (&none, cx, &rc), ==, ASYNCRT_READY);
  g_assert_cmpint (rc, ==, -EINVAL);

  g_assert_cmpint (asyncrt_fd_close (&a), ==, 0);
  g_assert_cmpint (asyncrt_fd_close (&a), ==, -EBADF);
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  driver_fixture_teardown (&fx);
}

static void
test_fd_pipe (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  int fds[2];
  g_assert_cmpint (pipe2 (fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
  AsyncrtFd r, w;
  g_assert_cmpint (asyncrt_fd_init (&r, fds[0]), ==, 0);
  g_assert_cmpint (asyncrt_fd_init (&w, fds[1]), ==, 0);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  char buf[16];
  int64_t n = 0;

  asyncrt__driver_park (fx.driver, 0);         /* initial EPOLLOUT edge */
  g_assert_cmpint (asyncrt_fd_read_poll (&r, cx, buf, sizeof buf, &n), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_fd_write_poll (&w, cx, "hello", 5, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, 5);
  g_assert_true (park_until_woken (fx.driver, &c, 1, 5000));
  g_assert_cmpint (asyncrt_fd_read_poll (&r, cx, buf, sizeof buf, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, 5);
  g_assert_cmpmem (buf, 5, "hello", 5);
  /* Drained: the next read observes EAGAIN, clears readiness and waits. */
  g_assert_cmpint (asyncrt_fd_read_poll (&r, cx, buf, sizeof buf, &n), ==, ASYNCRT_PENDING);
  /* A write that happens before the park still wakes the reader (edge kept). */
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  g_assert_true (park_until_woken (fx.driver, &c, 2, 5000));
  g_assert_cmpint (asyncrt_fd_read_poll (&r, cx, buf, sizeof buf, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, 1);

  /* Writer closes: EOF. */
  g_assert_cmpint (asyncrt_fd_read_poll (&r, cx, buf, sizeof buf, &n), ==, ASYNCRT_PENDING);
  g_assert_cmpint (asyncrt_fd_close (&w), ==, 0);
  g_assert_true (park_until_woken (fx.driver, &c, 3, 5000));
  g_assert_cmpint (asyncrt_fd_read_poll (&r, cx, buf, sizeof buf, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, 0);
  g_assert_cmpint (asyncrt_fd_close (&r), ==, 0);
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  driver_fixture_teardown (&fx);
}

static void
test_fd_readiness_protocol (void)
{
  /* readable_poll / clear_readable around the caller's own syscalls. */
  DriverFixture fx;
  driver_fixture_setup (&fx);
  int efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  AsyncrtFd f;
  g_assert_cmpint (asyncrt_fd_init (&f, efd), ==, 0);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  int rc = -1;
  uint64_t v = 1;

  asyncrt__driver_park (fx.driver, 0);
  g_assert_cmpint (asyncrt_fd_writable_poll (&f, cx, &rc), ==, ASYNCRT_READY);
  g_assert_cmpint (rc, ==, 0);
  g_assert_cmpint (asyncrt_fd_readable_poll (&f, cx, &rc), ==, ASYNCRT_PENDING);
  g_assert_cmpint (write (efd, &v, 8), ==, 8);
  g_assert_true (park_until_woken (fx.driver, &c, 1, 5000));
  rc = -1;
  g_assert_cmpint (asyncrt_fd_readable_poll (&f, cx, &rc), ==, ASYNCRT_READY);
  g_assert_cmpint (rc, ==, 0);
  g_assert_cmpint (read (efd, &v, 8), ==, 8);
  /* Not cleared yet: still reported readable. */
  g_assert_cmpint (asyncrt_fd_readable_poll (&f, cx, &rc), ==, ASYNCRT_READY);
  g_assert_cmpint (read (efd, &v, 8), ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);
  /* An event arriving between the EAGAIN and the clear is not lost. */
  v = 1;
  g_assert_cmpint (write (efd, &v, 8), ==, 8);
  asyncrt__driver_park (fx.driver, 0);          /* bumps the tick */
  asyncrt_fd_clear_readable (&f);
  g_assert_cmpint (asyncrt_fd_readable_poll (&f, cx, &rc), ==, ASYNCRT_READY);
  g_assert_cmpint (read (efd, &v, 8), ==, 8);
  g_assert_cmpint (asyncrt_fd_readable_poll (&f, cx, &rc), ==, ASYNCRT_READY);
  asyncrt_fd_clear_readable (&f);
  g_assert_cmpint (asyncrt_fd_readable_poll (&f, cx, &rc), ==, ASYNCRT_PENDING);

  /* Shutdown wakes the waiting reader with -ESHUTDOWN. */
  int wakes = cw_wakes (&c);
  asyncrt__driver_shutdown (fx.driver);
  g_assert_cmpint (cw_wakes (&c), ==, wakes + 1);
  rc = 0;
  g_assert_cmpint (asyncrt_fd_readable_poll (&f, cx, &rc), ==, ASYNCRT_READY);
  g_assert_cmpint (rc, ==, -ESHUTDOWN);
  int64_t n = 0;
  char buf[8];
  g_assert_cmpint (asyncrt_fd_read_poll (&f, cx, buf, 8, &n), ==, ASYNCRT_READY);
  g_assert_cmpint (n, ==, -ESHUTDOWN);
  /* New registrations fail. */
  AsyncrtFd g;
  int efd2 = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  g_assert_cmpint (asyncrt_fd_init (&g, efd2), ==, -ESHUTDOWN);
  close (efd2);
  g_assert_cmpint (asyncrt_fd_close (&f), ==, 0);
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  driver_fixture_teardown (&fx);
}

static void
test_fd_stale_event (void)
{
  /* An fd deregistered (and its memory freed) with an event pending: the driver
   * must not touch it (ASan checks). */
  DriverFixture fx;
  driver_fixture_setup (&fx);
  for (int i = 0; i < 50; i++)
    {
      int efd = eventfd (1, EFD_NONBLOCK | EFD_CLOEXEC);   /* readable at once */
      AsyncrtFd *f = g_new0 (AsyncrtFd, 1);
      g_assert_cmpint (asyncrt_fd_init (f, efd), ==, 0);
      int efd2 = dup (efd);                   /* keeps the file in the epoll set */
      asyncrt_fd_close (f);
      g_free (f);
      asyncrt__driver_park (fx.driver, 0);
      close (efd2);
    }
  driver_fixture_teardown (&fx);
}

typedef struct
{
  int fd;
  int n;
} Writer;

static gpointer
pipe_writer_thread (gpointer data)
{
  Writer *w = data;
  for (int i = 0; i < w->n; i++)
    {
      while (write (w->fd, "z", 1) != 1)
        g_usleep (100);
      if (i % 16 == 0)
        g_usleep (50);
    }
  close (w->fd);
  return NULL;
}

typedef struct
{
  AsyncrtFd fd;
  int total;
  char buf[7];
} PipeReader;

static AsyncrtPoll
pipe_reader_poll (void *p, AsyncrtContext *cx)
{
  PipeReader *r = p;
  for (;;)
    {
      int64_t n;
      if (asyncrt_fd_read_poll (&r->fd, cx, r->buf, sizeof r->buf, &n) == ASYNCRT_PENDING)
        return ASYNCRT_PENDING;
      g_assert_cmpint (n, >=, 0);
      if (n == 0)
        return ASYNCRT_READY;
      r->total += (int) n;
    }
}

static void
test_fd_cross_thread (void)
{
  /* Readiness produced by another thread while this one parks: no lost wake-up. */
  DriverFixture fx;
  driver_fixture_setup (&fx);
  int fds[2];
  g_assert_cmpint (pipe2 (fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
  PipeReader r = { .total = 0 };
  g_assert_cmpint (asyncrt_fd_init (&r.fd, fds[0]), ==, 0);
  Writer w = { fds[1], 2000 };
  HExec ex;
  hexec_init (&ex, fx.driver);
  hexec_add (&ex, pipe_reader_poll, &r);
  GThread *t = g_thread_new ("writer", pipe_writer_thread, &w);
  g_assert_true (hexec_run (&ex, 20000));
  g_thread_join (t);
  g_assert_cmpint (r.total, ==, 2000);
  asyncrt_fd_close (&r.fd);
  hexec_clear (&ex);
  driver_fixture_teardown (&fx);
}

typedef struct
{
  AsyncrtDriver *driver;
  int done;                                 /* atomic */
} RegThread;

static gpointer
reg_thread (gpointer data)
{
  RegThread *rt = data;
  AsyncrtDriver *prev = asyncrt__driver_enter (rt->driver);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  for (int i = 0; i < 300; i++)
    {
      int efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
      AsyncrtFd f;
      g_assert_cmpint (asyncrt_fd_init (&f, efd), ==, 0);
      int rc = 1;
      int wakes = cw_wakes (&c);
      bool pending = asyncrt_fd_readable_poll (&f, cx, &rc) == ASYNCRT_PENDING;
      uint64_t v = 1;
      g_assert_cmpint (write (efd, &v, 8), ==, 8);
      /* The main thread's park dispatches the event and wakes us. */
      gint64 end = g_get_monotonic_time () + test_timeout_ms (5000) * 1000;
      while (pending && cw_wakes (&c) == wakes)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, end);
          g_usleep (50);
        }
      g_assert_cmpint (asyncrt_fd_readable_poll (&f, cx, &rc), ==, ASYNCRT_READY);
      g_assert_cmpint (rc, ==, 0);
      if (i % 2 == 0)
        asyncrt_fd_close (&f);
      else
        {
          asyncrt_fd_clear (&f);
          close (efd);
        }
    }
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  asyncrt__driver_exit (prev);
  __atomic_store_n (&rt->done, 1, __ATOMIC_RELEASE);
  return NULL;
}

static void
test_fd_register_while_parking (void)
{
  /* Two threads register, wait on and deregister fds while this one parks. */
  DriverFixture fx;
  driver_fixture_setup (&fx);
  RegThread rt[2] = { { fx.driver, 0 }, { fx.driver, 0 } };
  GThread *t[2];
  for (int i = 0; i < 2; i++)
    t[i] = g_thread_new ("reg", reg_thread, &rt[i]);
  gint64 end = g_get_monotonic_time () + test_timeout_ms (30000) * 1000;
  while (!(__atomic_load_n (&rt[0].done, __ATOMIC_ACQUIRE)
           && __atomic_load_n (&rt[1].done, __ATOMIC_ACQUIRE))
         && g_get_monotonic_time () < end)
    asyncrt__driver_park (fx.driver, 10);
  for (int i = 0; i < 2; i++)
    g_thread_join (t[i]);
  driver_fixture_teardown (&fx);
}

/* --- sockets ------------------------------------------------------------------- */

typedef struct
{
  int step;
  AsyncrtFd fd;
  char buf[65536];
  int64_t n;
  size_t done;
  int rc;
} EchoConn;

/* Server side: read, write everything back, until EOF. */
static AsyncrtPoll
echo_conn_poll (void *p, AsyncrtContext *cx)
{
  EchoConn *c = p;
  for (;;)
    switch (c->step)
      {
      case 0:
        if (asyncrt_fd_read_poll (&c->fd, cx, c->buf, sizeof c->buf, &c->n) == ASYNCRT_PENDING)
          return ASYNCRT_PENDING;
        g_assert_cmpint (c->n, >=, 0);
        if (c->n == 0)
          {
            g_assert_cmpint (asyncrt_fd_close (&c->fd), ==, 0);
            return ASYNCRT_READY;
          }
        c->done = 0;
        c->step = 1;
        /* fall through */
      case 1:
        {
          int64_t res;
          if (asyncrt_fd_write_all_poll (&c->fd, cx, c->buf, (size_t) c->n, &c->done, &res)
              == ASYNCRT_PENDING)
            return ASYNCRT_PENDING;
          g_assert_cmpint (res, ==, c->n);
          c->step = 0;
          break;
        }
      default:
        g_assert_not_reached ();
      }
}

typedef struct
{
  AsyncrtFd listener;
  int remaining;
  HExec *ex;
  GPtrArray *conns;
  AsyncrtFd conn;
} Acceptor;

static AsyncrtPoll
acceptor_poll (void *p, AsyncrtContext *cx)
{
  Acceptor *a = p;
  while (a->remaining > 0)
    {
      int rc;
      EchoConn *c = g_new0 (EchoConn, 1);
      if (asyncrt_socket_accept_poll (&a->listener, cx, &c->fd, &rc) == ASYNCRT_PENDING)
        {
          g_free (c);
          return ASYNCRT_PENDING;
        }
      g_assert_cmpint (rc, ==, 0);
      g_ptr_array_add (a->conns, c);
      hexec_add (a->ex, echo_conn_poll, c);
      a->remaining--;
    }
  return ASYNCRT_READY;
}

typedef struct
{
  int step;
  AsyncrtFd fd;
  const guint8 *out;
  guint8 *in;
  size_t len;
  size_t written;
  size_t got;
  bool write_done;
} EchoClient;

/* Client: connect, then write everything and read it back concurrently (the same
 * task polls both halves). */
static AsyncrtPoll
echo_client_poll (void *p, AsyncrtContext *cx)
{
  EchoClient *c = p;
  if (c->step == 0)
    {
      int rc;
      if (asyncrt_socket_connect_poll (&c->fd, cx, &rc) == ASYNCRT_PENDING)
        return ASYNCRT_PENDING;
      g_assert_cmpint (rc, ==, 0);
      c->step = 1;
    }
  if (!c->write_done)
    {
      int64_t res;
      if (asyncrt_fd_write_all_poll (&c->fd, cx, c->out, c->len, &c->written, &res)
          == ASYNCRT_READY)
        {
          g_assert_cmpint (res, ==, (int64_t) c->len);
          g_assert_cmpint (asyncrt_socket_shutdown (&c->fd, ASYNCRT_SHUTDOWN_WRITE), ==, 0);
          c->write_done = true;
        }
    }
  for (;;)
    {
      int64_t n;
      size_t room = c->len + 1 - c->got;        /* one spare byte catches excess */
      if (asyncrt_fd_read_poll (&c->fd, cx, c->in + c->got, room, &n) == ASYNCRT_PENDING)
        return ASYNCRT_PENDING;
      g_assert_cmpint (n, >=, 0);
      if (n == 0)
        break;
      c->got += (size_t) n;
      g_assert_cmpuint (c->got, <=, c->len);
    }
  g_assert_true (c->write_done);
  g_assert_cmpuint (c->got, ==, c->len);
  g_assert_true (memcmp (c->in, c->out, c->len) == 0);
  g_assert_cmpint (asyncrt_fd_close (&c->fd), ==, 0);
  return ASYNCRT_READY;
}

static void
run_echo (bool unix_socket, int n_conns, size_t per_conn)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  HExec ex;
  hexec_init (&ex, fx.driver);
  Acceptor a = { .remaining = n_conns, .ex = &ex, .conns = g_ptr_array_new_with_free_func (g_free) };
  char *dir = NULL, *path = NULL;
  int port = 0;
  if (unix_socket)
    {
      dir = g_dir_make_tmp ("asyncrt-io-XXXXXX", NULL);
      path = g_build_filename (dir, "echo.sock", NULL);
      g_assert_cmpint (asyncrt_unix_listen (&a.listener, path, 0), ==, 0);
    }
  else
    {
      g_assert_cmpint (asyncrt_tcp_listen (&a.listener, "127.0.0.1", 0, 0), ==, 0);
      port = asyncrt_socket_get_local_port (&a.listener);
      g_assert_cmpint (port, >, 0);
    }
  hexec_add (&ex, acceptor_poll, &a);

  guint8 *data = g_malloc (per_conn);
  for (size_t i = 0; i < per_conn; i++)
    data[i] = (guint8) (i * 131 + i / 977);
  EchoClient *clients = g_new0 (EchoClient, n_conns);
  for (int i = 0; i < n_conns; i++)
    {
      EchoClient *c = &clients[i];
      c->out = data;
      c->len = per_conn;
      c->in = g_malloc (per_conn + 1);
      int r = unix_socket ? asyncrt_unix_connect_start (&c->fd, path)
                          : asyncrt_tcp_connect_start (&c->fd, "127.0.0.1", (uint16_t) port);
      g_assert_cmpint (r, ==, 0);
      if (!unix_socket && i % 2 == 0)
        g_assert_cmpint (asyncrt_tcp_set_nodelay (&c->fd, true), ==, 0);
      hexec_add (&ex, echo_client_poll, c);
    }
  g_assert_true (hexec_run (&ex, 60000));
  g_assert_cmpint (asyncrt_fd_close (&a.listener), ==, 0);
  for (int i = 0; i < n_conns; i++)
    g_free (clients[i].in);
  g_free (clients);
  g_free (data);
  g_ptr_array_unref (a.conns);
  hexec_clear (&ex);
  if (unix_socket)
    {
      g_unlink (path);
      g_rmdir (dir);
      g_free (path);
      g_free (dir);
    }
  driver_fixture_teardown (&fx);
}

static void test_tcp_echo (void) { run_echo (false, 16, 640 * 1024); }   /* 10 MiB */
static void test_unix_echo (void) { run_echo (true, 4, 256 * 1024); }

/* Accepts one connection (driving the driver by hand) into @conn. */
static void
accept_one (AsyncrtDriver *d, AsyncrtFd *listener, AsyncrtFd *conn)
{
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  int rc = 1;
  gint64 end = g_get_monotonic_time () + test_timeout_ms (5000) * 1000;
  while (asyncrt_socket_accept_poll (listener, cx, conn, &rc) == ASYNCRT_PENDING)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      asyncrt__driver_park (d, 100);
    }
  g_assert_cmpint (rc, ==, 0);
  asyncrt_context_free (cx);
}

/* Polls @poll until ready, parking between polls. */
#define DRIVE(d, expr)                                                      \
  G_STMT_START {                                                            \
    gint64 _end = g_get_monotonic_time () + test_timeout_ms (5000) * 1000;  \
    while ((expr) == ASYNCRT_PENDING)                                       \
      {                                                                     \
        g_assert_cmpint (g_get_monotonic_time (), <, _end);                 \
        asyncrt__driver_park ((d), 100);                                    \
      }                                                                     \
  } G_STMT_END

static void
test_tcp_peer_closes (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtFd listener, client, server;
  g_assert_cmpint (asyncrt_tcp_listen (&listener, "127.0.0.1", 0, 4), ==, 0);
  int port = asyncrt_socket_get_local_port (&listener);
  g_assert_cmpint (asyncrt_tcp_connect_start (&client, "127.0.0.1", (uint16_t) port), ==, 0);
  accept_one (fx.driver, &listener, &server);
  int rc = 1;
  DRIVE (fx.driver, asyncrt_socket_connect_poll (&client, cx, &rc));
  g_assert_cmpint (rc, ==, 0);

  /* The peer sends a little and closes early: data, then EOF. */
  int64_t n = 0;
  DRIVE (fx.driver, asyncrt_fd_write_poll (&server, cx, "bye", 3, &n));
  g_assert_cmpint (n, ==, 3);
  g_assert_cmpint (asyncrt_fd_close (&server), ==, 0);
  char buf[16];
  DRIVE (fx.driver, asyncrt_fd_read_poll (&client, cx, buf, sizeof buf, &n));
  g_assert_cmpint (n, ==, 3);
  DRIVE (fx.driver, asyncrt_fd_read_poll (&client, cx, buf, sizeof buf, &n));
  g_assert_cmpint (n, ==, 0);
  DRIVE (fx.driver, asyncrt_fd_read_poll (&client, cx, buf, sizeof buf, &n));
  g_assert_cmpint (n, ==, 0);                    /* EOF stays EOF */
  /* Writing to the closed peer fails (first write may still be accepted). */
  static char big[65536];
  size_t done = 0;
  int64_t res = 0;
  for (int i = 0; i < 50 && res >= 0; i++)
    {
      done = 0;
      DRIVE (fx.driver, asyncrt_fd_write_all_poll (&client, cx, big, sizeof big, &done, &res));
      if (res >= 0)
        g_usleep (1000);
    }
  g_assert_true (res == -EPIPE || res == -ECONNRESET);
  g_assert_cmpint (asyncrt_fd_close (&client), ==, 0);
  g_assert_cmpint (asyncrt_fd_close (&listener), ==, 0);
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  driver_fixture_teardown (&fx);
}

static void
test_tcp_reset (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtFd listener, client, server;
  g_assert_cmpint (asyncrt_tcp_listen (&listener, "127.0.0.1", 0, 4), ==, 0);
  int port = asyncrt_socket_get_local_port (&listener);
  g_assert_cmpint (asyncrt_tcp_connect_start (&client, "127.0.0.1", (uint16_t) port), ==, 0);
  accept_one (fx.driver, &listener, &server);
  int rc = 1;
  DRIVE (fx.driver, asyncrt_socket_connect_poll (&client, cx, &rc));
  g_assert_cmpint (rc, ==, 0);

  /* The client waits in read; the server closes with SO_LINGER 0: RST. */
  char buf[16];
  int64_t n = 0;
  g_assert_cmpint (asyncrt_fd_read_poll (&client, cx, buf, sizeof buf, &n), ==, ASYNCRT_PENDING);
  struct linger lg = { 1, 0 };
  g_assert_cmpint (setsockopt (asyncrt_fd_get_fd (&server), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), ==, 0);
  g_assert_cmpint (asyncrt_fd_close (&server), ==, 0);
  g_assert_true (park_until_woken (fx.driver, &c, 1, 5000));
  DRIVE (fx.driver, asyncrt_fd_read_poll (&client, cx, buf, sizeof buf, &n));
  g_assert_cmpint (n, ==, -ECONNRESET);
  g_assert_cmpint (asyncrt_fd_close (&client), ==, 0);
  g_assert_cmpint (asyncrt_fd_close (&listener), ==, 0);
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
  driver_fixture_teardown (&fx);
}

static void
test_tcp_connect_refused (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  /* A port that was just free: bind, note, close. */
  AsyncrtFd tmp, client;
  g_assert_cmpint (asyncrt_tcp_listen (&tmp, "127.0.0.1", 0, 1), ==, 0);
  int port = asyncrt_socket_get_local_port (&tmp);
  g_assert_cmpint (asyncrt_fd_close (&tmp), ==, 0);
  int r = asyncrt_tcp_connect_start (&client, "127.0.0.1", (uint16_t) port);
  if (r == 0)
    {
      int rc = 0;
      DRIVE (fx.driver, asyncrt_socket_connect_poll (&client, cx, &rc));
      g_assert_cmpint (rc, ==, -ECONNREFUSED);
      g_assert_cmpint (asyncrt_fd_close (&client), ==, 0);
    }
  else
    g_assert_cmpint (r, ==, -ECONNREFUSED);

  /* Argument errors. */
  g_assert_cmpint (asyncrt_tcp_connect_start (NULL, "127.0.0.1", 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_tcp_connect_start (&client, NULL, 1), ==, -EINVAL);
  g_assert_cmpint (asyncrt_tcp_connect_start (&client, "127.0.0.1", 0), ==, -EINVAL);
  g_assert_cmpint (asyncrt_tcp_connect_start (&client, "localhost", 80), ==, -EINVAL);
  g_assert_cmpint (asyncrt_tcp_listen (NULL, "127.0.0.1", 0, 0), ==, -EINVAL);
  g_assert_cmpint (asyncrt_tcp_listen (&tmp, NULL, 0, 0), ==, -EINVAL);
  g_assert_cmpint (asyncrt_tcp_listen (&tmp, "not-an-address", 0, 0), ==, -EINVAL);
  asyncrt_fd_clear (&tmp);                      /* harmless after a failure */
  /* Address in use. */
  AsyncrtFd l1, l2;
  g_assert_cmpint (asyncrt_tcp_listen (&l1, "127.0.0.1", 0, 1), ==, 0);
  port = asyncrt_socket_get_local_port (&l1);
  g_assert_cmpint (asyncrt_tcp_listen (&l2, "127.0.0.1", (uint16_t) port, 1), ==, -EADDRINUSE);
  g_assert_cmpint (asyncrt_fd_close (&l1), ==, 0);
  /* IPv6 loopback, where available. */
  if (asyncrt_tcp_listen (&l1, "::1", 0, 1) == 0)
    {
      g_assert_cmpint (asyncrt_socket_get_local_port (&l1), >, 0);
      g_assert_cmpint (asyncrt_fd_close (&l1), ==, 0);
    }
  asyncrt_context_free (cx);
  driver_fixture_teardown (&fx);
}

static void
test_unix_errors (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtFd f, l, s, conn;
  char *dir = g_dir_make_tmp ("asyncrt-io-XXXXXX", NULL);
  char *path = g_build_filename (dir, "none.sock", NULL);
  g_assert_cmpint (asyncrt_unix_connect_start (&f, path), ==, -ENOENT);
  g_assert_cmpint (asyncrt_unix_connect_start (&f, NULL), ==, -EINVAL);
  g_assert_cmpint (asyncrt_unix_connect_start (NULL, path), ==, -EINVAL);
  g_assert_cmpint (asyncrt_unix_listen (&f, "", 0), ==, -EINVAL);
  g_assert_cmpint (asyncrt_unix_listen (NULL, path, 0), ==, -EINVAL);
  char longp[200];
  memset (longp, 'a', sizeof longp - 1);
  longp[sizeof longp - 1] = '\0';
  g_assert_cmpint (asyncrt_unix_listen (&f, longp, 0), ==, -ENAMETOOLONG);
  g_assert_cmpint (asyncrt_unix_connect_start (&f, longp), ==, -ENAMETOOLONG);
  /* Listening twice on one path. */
  g_assert_cmpint (asyncrt_unix_listen (&l, path, 0), ==, 0);
  g_assert_cmpint (asyncrt_unix_listen (&f, path, 0), ==, -EADDRINUSE);
  g_assert_cmpint (asyncrt_socket_get_local_port (&l), ==, -EAFNOSUPPORT);
  g_assert_cmpint (asyncrt_fd_close (&l), ==, 0);
  /* The file is left behind; nobody listens: refused. */
  g_assert_cmpint (asyncrt_unix_connect_start (&f, path), ==, -ECONNREFUSED);
  g_unlink (path);

  /* Abstract namespace. */
  char *abs_name = g_strdup_printf ("@asyncrt-test-%d-%p", getpid (), (void *) &f);
  g_assert_cmpint (asyncrt_unix_listen (&l, abs_name, 0), ==, 0);
  g_assert_cmpint (asyncrt_unix_connect_start (&s, abs_name), ==, 0);
  accept_one (fx.driver, &l, &conn);
  int rc = 1;
  DRIVE (fx.driver, asyncrt_socket_connect_poll (&s, cx, &rc));
  g_assert_cmpint (rc, ==, 0);
  g_assert_cmpint (asyncrt_fd_close (&conn), ==, 0);
  g_assert_cmpint (asyncrt_fd_close (&s), ==, 0);
  g_assert_cmpint (asyncrt_fd_close (&l), ==, 0);
  g_free (abs_name);

  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  asyncrt_context_free (cx);
  driver_fixture_teardown (&fx);
}

static void
test_accept_shutdown (void)
{
  DriverFixture fx;
  driver_fixture_setup (&fx);
  CountingWaker c = { 0, 0 };
  AsyncrtContext *cx = cw_context_new (&c);
  AsyncrtFd l, conn;
  g_assert_cmpint (asyncrt_tcp_listen (&l, "127.0.0.1", 0, 1), ==, 0);
  int rc = 1;
  g_assert_cmpint (asyncrt_socket_accept_poll (&l, cx, &conn, &rc), ==, ASYNCRT_PENDING);
  asyncrt__driver_shutdown (fx.driver);
  g_assert_cmpint (cw_wakes (&c), ==, 1);
  g_assert_cmpint (asyncrt_socket_accept_poll (&l, cx, &conn, &rc), ==, ASYNCRT_READY);
  g_assert_cmpint (rc, ==, -ESHUTDOWN);
  g_assert_cmpint (asyncrt_fd_get_fd (&conn), ==, -EBADF);
  /* The driver is freed while l is still registered; closing later is fine. */
  asyncrt__driver_exit (fx.prev);
  asyncrt__driver_free (fx.driver);
  g_assert_cmpint (asyncrt_fd_close (&l), ==, 0);
  asyncrt_context_free (cx);
  g_assert_cmpint (cw_refs (&c), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/io/fd/errors", test_fd_errors);
  g_test_add_func ("/io/fd/pipe", test_fd_pipe);
  g_test_add_func ("/io/fd/readiness-protocol", test_fd_readiness_protocol);
  g_test_add_func ("/io/fd/stale-event", test_fd_stale_event);
  g_test_add_func ("/io/fd/cross-thread", test_fd_cross_thread);
  g_test_add_func ("/io/fd/register-while-parking", test_fd_register_while_parking);
  g_test_add_func ("/io/tcp/echo-10MiB", test_tcp_echo);
  g_test_add_func ("/io/tcp/peer-closes", test_tcp_peer_closes);
  g_test_add_func ("/io/tcp/reset", test_tcp_reset);
  g_test_add_func ("/io/tcp/connect-refused", test_tcp_connect_refused);
  g_test_add_func ("/io/tcp/accept-shutdown", test_accept_shutdown);
  g_test_add_func ("/io/unix/echo", test_unix_echo);
  g_test_add_func ("/io/unix/errors", test_unix_errors);
  return g_test_run ();
}
