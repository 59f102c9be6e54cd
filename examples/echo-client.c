/* echo-client: opens connections to an echo server and checks every byte comes back.
 *
 *   ./examples/echo-client [--timeout SECONDS] PORT [CONNECTIONS [BYTES]]
 *
 * Each connection sends BYTES (default 1 MiB, at most 1 GiB) in 16 KiB chunks,
 * reading each chunk back before the next, then shuts down its writing side and
 * expects end of file.  Runs on the current-thread runtime, CONNECTIONS (default 8,
 * at most 1000) at once, and gives up after SECONDS (default 60).  Exit status: 0
 * when every connection got its bytes back intact, 1 when one did not (or the time
 * ran out), 2 for bad arguments.
 */
#include <asyncrt/asyncrt.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 16384
#define MAX_CONNECTIONS 1000u
#define MAX_BYTES ((unsigned long long) 1 << 30)
#define MAX_TIMEOUT_S 86400u

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
    {
      self->handles[self->i] = asyncrt_spawn_named ("echo-conn", conn_poll,
                                                    &self->conns[self->i], NULL);
      if (self->handles[self->i] == NULL)
        self->conns[self->i].res = -errno;
    }
  for (self->i = 0; self->i < self->n; self->i++)
    if (self->handles[self->i] != NULL)
      {
        ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->handles[self->i], cx));
        asyncrt_join_handle_free (self->handles[self->i]);
        self->handles[self->i] = NULL;
      }
  ASYNCRT_END (&self->co);
}

static AsyncrtPoll
timeout_poll (void *p, AsyncrtContext *cx)
{
  return asyncrt_timeout_poll (p, cx);
}

/* ---- command line ------------------------------------------------------------------ */

static void
usage (FILE *to)
{
  fprintf (to,
           "usage: echo-client [--timeout SECONDS] PORT [CONNECTIONS [BYTES]]\n"
           "Sends BYTES on each of CONNECTIONS connections to an echo server on\n"
           "127.0.0.1:PORT and checks that every byte comes back.\n"
           "\n"
           "  PORT                 1 to 65535\n"
           "  CONNECTIONS          1 to %u (default 8)\n"
           "  BYTES                0 to %llu, 1 GiB (default 1048576, 1 MiB)\n"
           "  --timeout SECONDS    give up after 1 to %u seconds (default 60)\n"
           "  -h, --help           show this help and exit\n"
           "  --version            show the library version and exit\n"
           "\n"
           "Exit status: 0 all bytes echoed, 1 a connection failed or time ran out,\n"
           "2 bad arguments.\n",
           MAX_CONNECTIONS, MAX_BYTES, MAX_TIMEOUT_S);
}

static int
usage_error (const char *fmt, const char *arg)
{
  fputs ("echo-client: ", stderr);
  fprintf (stderr, fmt, arg);
  fputs ("\n", stderr);
  usage (stderr);
  return 2;
}

/* Parses a whole decimal number in [min, max]; prints why not and returns false. */
static bool
parse_number (const char *what, const char *s, unsigned long long min,
              unsigned long long max, unsigned long long *ret)
{
  const char *p = s;
  char *end = NULL;
  errno = 0;
  unsigned long long v = (*p >= '0' && *p <= '9') ? strtoull (p, &end, 10) : 0;
  if (end == NULL || end == p || *end != '\0' || errno == ERANGE || v < min || v > max)
    {
      fprintf (stderr, "echo-client: %s must be a whole number from %llu to %llu, not '%s'\n",
               what, min, max, s);
      usage (stderr);
      return false;
    }
  *ret = v;
  return true;
}

/* "-5" and the like are numbers (refused by parse_number with the argument's name),
 * not options. */
static bool
looks_like_number (const char *s)
{
  return s[0] == '-' && s[1] >= '0' && s[1] <= '9';
}

int
main (int argc, char **argv)
{
  const char *pos[4];
  int n_pos = 0;
  const char *timeout_arg = NULL;
  bool only_positional = false;

  for (int i = 1; i < argc; i++)          /* --help anywhere wins */
    if (strcmp (argv[i], "--") == 0)
      break;
    else if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
      {
        usage (stdout);
        return 0;
      }
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (only_positional || a[0] != '-' || a[1] == '\0' || looks_like_number (a))
        {
          if (n_pos == 3)
            return usage_error ("unexpected argument '%s'", a);
          pos[n_pos++] = a;
        }
      else if (strcmp (a, "--") == 0)
        only_positional = true;
      else if (strcmp (a, "--version") == 0)
        {
          printf ("echo-client (libasyncrt %u.%u.%u)\n", asyncrt_get_major_version (),
                  asyncrt_get_minor_version (), asyncrt_get_micro_version ());
          return 0;
        }
      else if (strcmp (a, "--timeout") == 0)
        {
          if (i + 1 == argc)
            return usage_error ("%s needs a number of seconds", a);
          timeout_arg = argv[++i];
        }
      else if (strncmp (a, "--timeout=", 10) == 0)
        timeout_arg = a + 10;
      else
        return usage_error ("unknown option '%s'", a);
    }
  if (n_pos == 0)
    return usage_error ("%s", "missing PORT");

  unsigned long long port, n = 8, bytes = (unsigned long long) 1 << 20, timeout_s = 60;
  if (!parse_number ("PORT", pos[0], 1, 65535, &port)
      || (n_pos > 1 && !parse_number ("CONNECTIONS", pos[1], 1, MAX_CONNECTIONS, &n))
      || (n_pos > 2 && !parse_number ("BYTES", pos[2], 0, MAX_BYTES, &bytes))
      || (timeout_arg != NULL
          && !parse_number ("--timeout", timeout_arg, 1, MAX_TIMEOUT_S, &timeout_s)))
    return 2;

  Main m = { .n = (unsigned) n };
  m.conns = calloc (m.n, sizeof *m.conns);
  m.handles = calloc (m.n, sizeof *m.handles);
  if (m.conns == NULL || m.handles == NULL)
    {
      fprintf (stderr, "echo-client: out of memory for %u connections\n", m.n);
      return 1;
    }
  for (unsigned i = 0; i < m.n; i++)
    {
      m.conns[i].port = (uint16_t) port;
      m.conns[i].total = (size_t) bytes;
    }

  AsyncrtBuilder *b = asyncrt_builder_new_current_thread ();
  AsyncrtRuntime *rt = NULL;
  int r = asyncrt_builder_build (b, &rt);
  asyncrt_builder_free (b);
  if (r < 0)
    {
      fprintf (stderr, "echo-client: cannot build the runtime: %s\n", strerror (-r));
      return 1;
    }
  AsyncrtTimeout limit;
  asyncrt_timeout_init (&limit, main_poll, &m, timeout_s * 1000);
  uint64_t start = asyncrt_time_now_ms ();
  r = asyncrt_runtime_block_on (rt, timeout_poll, &limit);
  uint64_t ms = asyncrt_time_now_ms () - start;
  if (r == 0)
    r = asyncrt_timeout_get_result (&limit);
  asyncrt_timeout_clear (&limit);
  for (unsigned i = 0; i < m.n; i++)
    asyncrt_join_handle_free (m.handles[i]);  /* those still running, after a time-out */
  asyncrt_runtime_free (rt);                  /* cancels them */

  unsigned ok = 0;
  for (unsigned i = 0; i < m.n; i++)
    {
      if (m.conns[i].open)
        asyncrt_fd_close (&m.conns[i].conn);
      if (m.conns[i].ok)
        ok++;
      else if (r == 0)
        fprintf (stderr, "echo-client: connection %u failed: %s\n", i,
                 m.conns[i].res < 0 ? strerror (-m.conns[i].res) : "no end of file");
    }
  if (r == -ETIMEDOUT)
    fprintf (stderr, "echo-client: gave up after %llu s (--timeout)\n", timeout_s);
  else if (r < 0)
    fprintf (stderr, "echo-client: %s\n", strerror (-r));
  printf ("echo-client: %u/%u connections echoed %llu bytes each in %llu ms\n", ok, m.n,
          bytes, (unsigned long long) ms);
  free (m.conns);
  free (m.handles);
  return r == 0 && ok == m.n ? 0 : 1;
}
