/* echo-server: a TCP echo server on the multi-thread runtime, written the way a real
 * server is.
 *
 *   ./examples/echo-server [PORT]     (default 0: an ephemeral port, printed)
 *
 * Listens on 127.0.0.1 and echoes every connection in its own task.  It uses every
 * piece a daemon needs:
 *
 *   - a join set of sessions (AsyncrtJoinSet): finished sessions are collected as
 *     they end, and at shutdown the server waits for the rest;
 *   - a cancellation token tree (AsyncrtCancelToken): root -> sessions -> one token
 *     per session; cancelling the root tells every session to close;
 *   - SIGINT and SIGTERM as futures (AsyncrtSignal): they stop the server cleanly;
 *     SIGUSR1 prints a task dump to stderr and the server carries on;
 *   - a label per connection (asyncrt_task_set_label): the peer address, shown by
 *     the dumps;
 *   - shutdown with a deadline (asyncrt_runtime_shutdown_timeout): sessions get 2 s
 *     to finish, then are aborted; the runtime gets 2 s more, and whatever is still
 *     running then is named on stderr instead of hanging the exit.
 *
 * Exit status: 0 after a clean stop, 1 if the server could not start, 2 for a usage
 * error.
 */
#include <asyncrt/asyncrt.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SESSION_GRACE_MS 2000u      /* sessions' time to close after a stop signal */
#define RUNTIME_GRACE_MS 2000u      /* the runtime's, after that */
#define DUMP_TIMEOUT_MS 1000u

/* ---- one connection ------------------------------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd conn;
  bool open;
  char peer[INET6_ADDRSTRLEN + 8];
  AsyncrtCancelToken *token;        /* a child of the server's "sessions" token */
  AsyncrtCancelled stop;
  char buf[16384];
  int64_t n;
  size_t done;
} Session;

static AsyncrtPoll
session_poll (void *p, AsyncrtContext *cx)
{
  Session *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_task_set_label ("peer", self->peer);   /* dumps show who this task serves */
  asyncrt_cancelled_init (&self->stop, self->token);
  for (;;)
    {
      /* Data, or the server asks us to stop: whichever comes first. */
      if (asyncrt_cancelled_poll (&self->stop, cx) == ASYNCRT_READY)
        break;
      if (asyncrt_fd_read_poll (&self->conn, cx, self->buf, sizeof self->buf,
                                &self->n) == ASYNCRT_PENDING)
        {
          ASYNCRT_YIELD_PENDING (&self->co);   /* both leaves registered their wakers */
          continue;
        }
      if (self->n <= 0)                         /* 0: the peer closed; < 0: -errno */
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
session_free (void *p)
{
  Session *self = p;
  asyncrt_cancelled_clear (&self->stop);        /* safe in any state, even zero-filled */
  if (self->open)
    asyncrt_fd_close (&self->conn);
  asyncrt_cancel_token_unref (self->token);
  free (self);
}

static void
format_peer (int fd, char *out, size_t size)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (getpeername (fd, (struct sockaddr *) &ss, &len) == 0)
    {
      if (ss.ss_family == AF_INET)
        {
          struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
          inet_ntop (AF_INET, &sin->sin_addr, host, sizeof host);
          port = ntohs (sin->sin_port);
        }
      else if (ss.ss_family == AF_INET6)
        {
          struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
          inet_ntop (AF_INET6, &sin6->sin6_addr, host, sizeof host);
          port = ntohs (sin6->sin6_port);
        }
    }
  snprintf (out, size, "%s:%u", host, port);
}

/* ---- the server: block_on's future -------------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  uint16_t port;
  AsyncrtFd listener;
  bool listening;
  AsyncrtSignal sigint, sigterm, sigusr1;
  AsyncrtCancelToken *root;         /* everything */
  AsyncrtCancelToken *sessions;     /* every session: root's child */
  AsyncrtJoinSet *set;
  AsyncrtDumpFuture dump;
  bool dumping;
  AsyncrtSleep grace;
  Session *next;
  AsyncrtTaskId id;
  int res;
  int n;
  int stop_signal;
  unsigned long served;
} Server;

static void
print_dump (AsyncrtDumpFuture *f)
{
  AsyncrtDump *d = asyncrt_dump_future_take (f);
  if (d == NULL)
    {
      fprintf (stderr, "echo-server: dump: %s\n", strerror (-asyncrt_dump_future_get_error (f)));
      return;
    }
  char *text = asyncrt_dump_to_string (d);
  fprintf (stderr, "echo-server: SIGUSR1: %s", text);
  fflush (stderr);
  free (text);
  asyncrt_dump_free (d);
}

/* Makes the accepted connection a session of the set (closed again on failure). */
static void
start_session (Server *self)
{
  Session *s = self->next;
  self->next = NULL;
  s->open = true;
  format_peer (asyncrt_fd_get_fd (&s->conn), s->peer, sizeof s->peer);
  s->token = asyncrt_cancel_token_new_child (self->sessions);
  int r = s->token == NULL ? -ENOMEM
          : asyncrt_join_set_spawn_named (self->set, "session", session_poll, s, session_free);
  if (r < 0)
    {
      fprintf (stderr, "echo-server: session for %s: %s\n", s->peer, strerror (-r));
      session_free (s);
      return;
    }
  self->served++;
}

static AsyncrtPoll
server_poll (void *p, AsyncrtContext *cx)
{
  Server *self = p;
  bool progress;
  ASYNCRT_BEGIN (&self->co);
  self->res = asyncrt_tcp_listen (&self->listener, "127.0.0.1", self->port, 128);
  if (self->res < 0)
    {
      fprintf (stderr, "echo-server: listen: %s\n", strerror (-self->res));
      goto out;
    }
  self->listening = true;
  if ((self->res = asyncrt_signal_init (&self->sigint, SIGINT)) < 0
      || (self->res = asyncrt_signal_init (&self->sigterm, SIGTERM)) < 0
      || (self->res = asyncrt_signal_init (&self->sigusr1, SIGUSR1)) < 0)
    {
      fprintf (stderr, "echo-server: signals: %s\n", strerror (-self->res));
      goto out;
    }
  self->root = asyncrt_cancel_token_new ();
  self->sessions = self->root != NULL ? asyncrt_cancel_token_new_child (self->root) : NULL;
  self->set = asyncrt_join_set_new ();
  if (self->sessions == NULL || self->set == NULL)
    {
      self->res = -ENOMEM;
      fprintf (stderr, "echo-server: %s\n", strerror (ENOMEM));
      goto out;
    }
  printf ("echo-server: listening on 127.0.0.1:%d\n",
          asyncrt_socket_get_local_port (&self->listener));
  fflush (stdout);

  for (;;)
    {
      /* Every source is polled each time round; we sleep only when all are pending,
       * with every waker registered. */
      progress = false;
      if (asyncrt_signal_poll (&self->sigint, cx, &self->n) == ASYNCRT_READY)
        {
          self->stop_signal = SIGINT;
          break;
        }
      if (asyncrt_signal_poll (&self->sigterm, cx, &self->n) == ASYNCRT_READY)
        {
          self->stop_signal = SIGTERM;
          break;
        }
      if (asyncrt_signal_poll (&self->sigusr1, cx, &self->n) == ASYNCRT_READY)
        {
          if (self->n < 0)
            break;                              /* the runtime is shutting down */
          if (!self->dumping)
            {
              asyncrt_dump_future_init (&self->dump, asyncrt_handle_current (), DUMP_TIMEOUT_MS);
              self->dumping = true;
            }
          progress = true;
        }
      if (self->dumping && asyncrt_dump_future_poll (&self->dump, cx) == ASYNCRT_READY)
        {
          print_dump (&self->dump);
          asyncrt_dump_future_clear (&self->dump);
          self->dumping = false;
          progress = true;
        }
      /* Collect the sessions that ended (the set would grow otherwise). */
      while (asyncrt_join_set_join_next_poll (self->set, cx, &self->id) == ASYNCRT_READY
             && self->id != 0)
        progress = true;
      if (self->next == NULL && (self->next = calloc (1, sizeof *self->next)) == NULL)
        {
          self->res = -ENOMEM;
          break;
        }
      if (asyncrt_socket_accept_poll (&self->listener, cx, &self->next->conn,
                                      &self->res) == ASYNCRT_READY)
        {
          if (self->res < 0)
            fprintf (stderr, "echo-server: accept: %s\n", strerror (-self->res));
          else
            start_session (self);
          self->res = 0;
          progress = true;
        }
      if (!progress)
        ASYNCRT_YIELD_PENDING (&self->co);
    }

  /* Stop: no new connections; every session is told to close and gets some time. */
  if (self->stop_signal != 0)
    fprintf (stderr, "echo-server: %s: stopping\n",
             self->stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
  asyncrt_fd_close (&self->listener);
  self->listening = false;
  asyncrt_cancel_token_cancel (self->root);
  asyncrt_sleep_init (&self->grace, SESSION_GRACE_MS);
  for (;;)
    {
      if (asyncrt_join_set_join_next_poll (self->set, cx, &self->id) == ASYNCRT_READY)
        {
          if (self->id == 0)
            break;                              /* every session has ended */
          continue;
        }
      if (asyncrt_sleep_poll (&self->grace, cx) == ASYNCRT_READY)
        {
          fprintf (stderr, "echo-server: aborting %zu session(s) after %u ms\n",
                   asyncrt_join_set_len (self->set), SESSION_GRACE_MS);
          asyncrt_join_set_abort_all (self->set);
          do
            ASYNCRT_AWAIT (&self->co, asyncrt_join_set_join_next_poll (self->set, cx, &self->id));
          while (self->id != 0);
          break;
        }
      ASYNCRT_YIELD_PENDING (&self->co);
    }
  asyncrt_sleep_clear (&self->grace);

out:
  if (self->dumping)
    asyncrt_dump_future_clear (&self->dump);
  self->dumping = false;
  if (self->listening)
    asyncrt_fd_close (&self->listener);
  self->listening = false;
  free (self->next);
  self->next = NULL;
  asyncrt_join_set_free (self->set);            /* empty by now, or NULL */
  self->set = NULL;
  asyncrt_cancel_token_unref (self->sessions);
  asyncrt_cancel_token_unref (self->root);
  self->sessions = self->root = NULL;
  asyncrt_signal_clear (&self->sigint);         /* safe even if never initialised */
  asyncrt_signal_clear (&self->sigterm);
  asyncrt_signal_clear (&self->sigusr1);
  ASYNCRT_END (&self->co);
}

/* ---- command line ----------------------------------------------------------------------- */

static void
usage (FILE *out)
{
  fprintf (out,
           "usage: echo-server [PORT]\n"
           "Echoes TCP connections on 127.0.0.1:PORT (0 to 65535; default 0: any free\n"
           "port, printed).  SIGINT or SIGTERM stops it cleanly; SIGUSR1 prints a task\n"
           "dump to stderr.\n"
           "\n"
           "  -h, --help     show this help and exit\n"
           "  -V, --version  show the library version and exit\n"
           "\n"
           "Exit status: 0 after a clean stop, 1 if it could not start, 2 on a usage\n"
           "error.\n");
}

/* Parses the arguments; returns -1 to go on, or an exit status. */
static int
parse_args (int argc, char **argv, uint16_t *port)
{
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
      {
        usage (stdout);
        return 0;
      }
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--version") == 0 || strcmp (argv[i], "-V") == 0)
      {
        printf ("echo-server (libasyncrt %u.%u.%u)\n", asyncrt_get_major_version (),
                asyncrt_get_minor_version (), asyncrt_get_micro_version ());
        return 0;
      }
  const char *arg = NULL;
  for (int i = 1; i < argc; i++)
    {
      if (argv[i][0] == '-' && argv[i][1] != '\0' && strcmp (argv[i], "--") != 0)
        {
          fprintf (stderr, "echo-server: unknown option '%s'\n", argv[i]);
          usage (stderr);
          return 2;
        }
      if (strcmp (argv[i], "--") == 0)
        continue;
      if (arg != NULL)
        {
          fprintf (stderr, "echo-server: too many arguments ('%s')\n", argv[i]);
          usage (stderr);
          return 2;
        }
      arg = argv[i];
    }
  if (arg == NULL)
    {
      *port = 0;
      return -1;
    }
  /* Digits only (no sign, no spaces, no hex), at most 65535. */
  unsigned long v = 0;
  bool ok = arg[0] != '\0' && strlen (arg) <= 5;
  for (const char *c = arg; ok && *c != '\0'; c++)
    {
      if (*c < '0' || *c > '9')
        ok = false;
      else
        v = v * 10 + (unsigned long) (*c - '0');
    }
  if (!ok || v > 65535)
    {
      fprintf (stderr, "echo-server: invalid port '%s': expected a number from 0 to 65535\n",
               arg);
      usage (stderr);
      return 2;
    }
  *port = (uint16_t) v;
  return -1;
}

int
main (int argc, char **argv)
{
  Server server;
  memset (&server, 0, sizeof server);
  int st = parse_args (argc, argv, &server.port);
  if (st >= 0)
    return st;

  /* Signals become futures only if no thread takes them the usual way: block them
   * here, before the runtime creates its threads (they inherit the mask). */
  asyncrt_signal_block (SIGINT);
  asyncrt_signal_block (SIGTERM);
  asyncrt_signal_block (SIGUSR1);

  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  AsyncrtRuntime *rt = NULL;
  int r = asyncrt_builder_build (b, &rt);
  asyncrt_builder_free (b);
  if (r < 0)
    {
      fprintf (stderr, "echo-server: runtime: %s\n", strerror (-r));
      return 1;
    }
  r = asyncrt_runtime_block_on (rt, server_poll, &server);

  /* Bounded: a stuck blocking job or task is named, not waited for. */
  if (asyncrt_runtime_shutdown_timeout (rt, RUNTIME_GRACE_MS) == -ETIMEDOUT)
    for (size_t i = 0; i < asyncrt_runtime_get_n_unfinished (rt); i++)
      {
        const char *what = NULL;
        asyncrt_runtime_get_unfinished (rt, i, NULL, NULL, NULL, &what);
        fprintf (stderr, "echo-server: still running at exit: %s\n", what);
      }
  asyncrt_runtime_free (rt);
  printf ("echo-server: stopped after %lu connections\n", server.served);
  return r < 0 || server.res < 0 ? 1 : 0;
}
