/* asyncrt-dump: the task dump of a running program that uses libasyncrt, from outside
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A thin client of the program's dump endpoint (the abstract Unix socket
 * @asyncrt/PID, protocol version 1: lib/endpoint/protocol-private.h and the "Dumps
 * from outside the process" section of the reference manual).  It sends one request
 * line and copies the body of the response to stdout; every format is produced by the
 * library inside the program, so new formats and options only need a new request
 * key here.  It does not link libasyncrt: the protocol code is compiled in.
 *
 * Exit statuses (also in asyncrt-dump(1)):
 *   0  the dump (or list) was printed and is complete
 *   1  the dump was printed but is incomplete (a task not traced, a worker that did
 *      not stop, a runtime that could not be dumped)
 *   2  usage error
 *   3  no endpoint: no such process, or it does not serve one
 *   4  permission denied
 *   5  the program refused the request (no runtime of that name, unknown format,
 *      another protocol version)
 *   6  the exchange failed (time out, connection lost, malformed response, the
 *      socket belongs to another process)
 */
#include "config.h"

#include "endpoint/protocol-private.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum
{
  EXIT_COMPLETE = 0,
  EXIT_INCOMPLETE = 1,
  EXIT_USAGE = 2,
  EXIT_NO_ENDPOINT = 3,
  EXIT_DENIED = 4,
  EXIT_REFUSED = 5,
  EXIT_FAILED = 6
};

/* How long asyncrt-dump waits, beyond the dump's own timeout, for the program to
 * format and send its answer (symbols are resolved then). */
#define ANSWER_SLACK_MS 30000u
#define CONNECT_TIMEOUT_MS 5000u

static const char *program_name = "asyncrt-dump";

static void __attribute__ ((format (printf, 1, 2)))
fail_message (const char *fmt, ...)
{
  va_list ap;
  fprintf (stderr, "%s: ", program_name);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: %s [OPTION]... PID\n"
           "Print the task dump of PID, a running program that uses libasyncrt and serves\n"
           "a dump endpoint (start it with ASYNCRT_DUMP_ENDPOINT=1 in its environment).\n"
           "\n"
           "  -j, --json            print the dump as JSON (the same as --format=json)\n"
           "  -f, --format=FORMAT   text (the default) or json\n"
           "  -g, --group           print tasks with the same stack and waits once, with\n"
           "                        their count, ids and idle times\n"
           "  -t, --timeout=MS      how long the program may take to dump, in milliseconds\n"
           "                        (0 to 60000, default 2000)\n"
           "  -r, --runtime=NAME    only the runtimes named NAME\n"
           "  -l, --list            list the runtimes (name, flavour, workers, tasks)\n"
           "  -h, --help            print this help and exit\n"
           "  -V, --version         print the version and exit\n"
           "\n"
           "Exit status: 0 complete dump, 1 incomplete dump, 2 usage error, 3 no such\n"
           "process or no dump endpoint, 4 permission denied, 5 request refused by the\n"
           "program, 6 communication failure.  See asyncrt-dump(1).\n",
           program_name);
}

static uint64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

/* Strict decimal in [min, max]. */
static bool
parse_uint (const char *s, unsigned long long min, unsigned long long max,
            unsigned long long *out)
{
  if (s == NULL || *s < '0' || *s > '9')
    return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull (s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return false;
  *out = v;
  return true;
}

/* Waits until @fd is ready for @events or @deadline passes: 0, -ETIMEDOUT, -errno. */
static int
wait_fd (int fd, short events, uint64_t deadline)
{
  for (;;)
    {
      uint64_t now = now_ms ();
      if (now >= deadline)
        return -ETIMEDOUT;
      struct pollfd p = { .fd = fd, .events = events };
      uint64_t left = deadline - now;
      int r = poll (&p, 1, left > INT_MAX ? INT_MAX : (int) left);
      if (r > 0)
        return 0;
      if (r < 0 && errno != EINTR)
        return -errno;
    }
}

static int
connect_endpoint (long pid, int *ret_fd)
{
  struct sockaddr_un addr;
  memset (&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  int n = snprintf (addr.sun_path + 1, sizeof addr.sun_path - 1, "asyncrt/%ld", pid);
  socklen_t len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + (size_t) n);
  const uint64_t deadline = now_ms () + CONNECT_TIMEOUT_MS;
  for (;;)
    {
      int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0)
        return -errno;
      if (connect (fd, (struct sockaddr *) &addr, len) == 0)
        {
          *ret_fd = fd;
          return 0;
        }
      int e = errno;
      close (fd);
      /* EAGAIN: the endpoint's backlog is full for now (it serves one dump at a time). */
      if ((e != EAGAIN && e != EINTR) || now_ms () >= deadline)
        return -e;
      struct timespec ts = { 0, 20 * 1000000 };
      nanosleep (&ts, NULL);
    }
}

static int
send_all (int fd, const char *buf, size_t len, uint64_t deadline)
{
  size_t off = 0;
  while (off < len)
    {
      ssize_t n = send (fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0)
        off += (size_t) n;
      else if (errno == EAGAIN || errno == EWOULDBLOCK)
        {
          int r = wait_fd (fd, POLLOUT, deadline);
          if (r < 0)
            return r;
        }
      else if (errno != EINTR)
        return -errno;
    }
  return 0;
}

/* Reads up to @size bytes (at least 1) before @deadline.  Returns the count, 0 at end
 * of file, or a negative errno. */
static ssize_t
recv_some (int fd, char *buf, size_t size, uint64_t deadline)
{
  for (;;)
    {
      ssize_t n = recv (fd, buf, size, MSG_DONTWAIT);
      if (n >= 0)
        return n;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        {
          int r = wait_fd (fd, POLLIN, deadline);
          if (r < 0)
            return r;
        }
      else if (errno != EINTR)
        return -errno;
    }
}

static int
write_stdout (const char *buf, size_t len)
{
  size_t off = 0;
  while (off < len)
    {
      ssize_t n = write (STDOUT_FILENO, buf + off, len - off);
      if (n >= 0)
        off += (size_t) n;
      else if (errno != EINTR)
        return -errno;
    }
  return 0;
}

static int
no_endpoint (long pid, bool exists)
{
  if (!exists)
    fail_message ("no process %ld", pid);
  else
    fail_message ("process %ld serves no dump endpoint.\n"
                  "Start the program with ASYNCRT_DUMP_ENDPOINT=1 in its environment, e.g.\n"
                  "  ASYNCRT_DUMP_ENDPOINT=1 ./program\n"
                  "or have it call asyncrt_dump_endpoint_start().  The endpoint is an abstract\n"
                  "Unix socket: in a container, run asyncrt-dump in the program's network\n"
                  "namespace (nsenter -n -t %ld %s %ld).", pid, pid, program_name, pid);
  return EXIT_NO_ENDPOINT;
}

/* Exchanges @request with process @pid; copies the body to stdout. */
static int
run (long pid, const char *request, unsigned timeout_ms)
{
  bool exists = kill ((pid_t) pid, 0) == 0 || errno == EPERM;
  if (!exists)
    return no_endpoint (pid, false);
  int fd = -1;
  int r = connect_endpoint (pid, &fd);
  if (r == -ECONNREFUSED || r == -ENOENT)
    return no_endpoint (pid, true);
  if (r == -EACCES || r == -EPERM)
    {
      fail_message ("permission denied connecting to process %ld", pid);
      return EXIT_DENIED;
    }
  if (r < 0)
    {
      fail_message ("cannot connect to the dump endpoint of process %ld: %s", pid, strerror (-r));
      return EXIT_FAILED;
    }
  /* The endpoint's socket must belong to the process we were asked about: another
   * process could have taken the name first. */
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || (long) cred.pid != pid)
    {
      fail_message ("the socket @asyncrt/%ld belongs to process %ld, not to %ld: not trusted",
                    pid, (long) cred.pid, pid);
      close (fd);
      return EXIT_FAILED;
    }

  const uint64_t deadline = now_ms () + timeout_ms + ANSWER_SLACK_MS;
  int status = EXIT_FAILED;
  /* A program that refuses us answers and closes without reading the request, so a
   * failed send is reported only if no answer can be read either. */
  int send_error = send_all (fd, request, strlen (request), deadline);

  AsyncrtEndpointReader header;
  asyncrt__endpoint_reader_init (&header, ASYNCRT_ENDPOINT_RESPONSE_HEADER_MAX);
  char buf[65536];
  size_t have = 0, used = 0;
  AsyncrtEndpointReadResult res = ASYNCRT_ENDPOINT_READ_MORE;
  while (res == ASYNCRT_ENDPOINT_READ_MORE)
    {
      ssize_t n = recv_some (fd, buf, sizeof buf, deadline);
      if (n <= 0)
        {
          if (send_error < 0)
            fail_message ("cannot send the request to process %ld: %s", pid,
                          strerror (-send_error));
          else
            fail_message ("no answer from process %ld: %s", pid,
                          n == 0 ? "connection closed" : strerror ((int) -n));
          goto out;
        }
      have = (size_t) n;
      res = asyncrt__endpoint_reader_feed (&header, buf, have, &used);
    }
  char word[ASYNCRT_ENDPOINT_STATUS_MAX + 1];
  uint64_t length;
  if (res != ASYNCRT_ENDPOINT_READ_LINE
      || (r = asyncrt__endpoint_response_header_parse (header.buf, header.len, word, &length)) < 0)
    {
      fail_message ("malformed answer from process %ld", pid);
      goto out;
    }
  int code = asyncrt__endpoint_status_to_errno (word);
  bool to_stdout = code == 0 || code == 1;
  /* Error bodies are one line for stderr; keep at most this much of them. */
  char message[1024];
  size_t message_len = 0;
  uint64_t got = 0;
  for (;;)
    {
      size_t chunk = have - used;
      if (chunk > length - got)
        chunk = (size_t) (length - got);
      if (to_stdout)
        {
          if (write_stdout (buf + used, chunk) < 0)
            {
              fail_message ("cannot write the dump: %s", strerror (errno));
              goto out;
            }
        }
      else
        {
          size_t room = sizeof message - 1 - message_len;
          size_t keep = chunk < room ? chunk : room;
          memcpy (message + message_len, buf + used, keep);
          message_len += keep;
        }
      got += chunk;
      if (got == length)
        break;
      ssize_t n = recv_some (fd, buf, sizeof buf, deadline);
      if (n <= 0)
        {
          fail_message ("the answer of process %ld was cut after %llu of %llu bytes: %s", pid,
                        (unsigned long long) got, (unsigned long long) length,
                        n == 0 ? "connection closed" : strerror ((int) -n));
          goto out;
        }
      have = (size_t) n;
      used = 0;
    }
  while (message_len > 0 && message[message_len - 1] == '\n')
    message_len--;
  message[message_len] = '\0';
  /* The message comes from the other process: show it, but never its control bytes. */
  for (size_t i = 0; i < message_len; i++)
    if ((unsigned char) message[i] < 0x20 || (unsigned char) message[i] == 0x7f)
      message[i] = '?';

  switch (code)
    {
    case 0:
      status = EXIT_COMPLETE;
      break;
    case 1:
      fail_message ("the dump is incomplete (see the notes in it)");
      status = EXIT_INCOMPLETE;
      break;
    case -EACCES:
      fail_message ("permission denied by process %ld: %s", pid, message);
      status = EXIT_DENIED;
      break;
    case -ENOENT:
    case -EINVAL:
    case -EPROTONOSUPPORT:
      fail_message ("process %ld refused the request (%s): %s", pid, word, message);
      status = EXIT_REFUSED;
      break;
    default:
      fail_message ("process %ld answered %s: %s", pid, word, message);
      status = EXIT_FAILED;
      break;
    }
out:
  close (fd);
  return status;
}

int
main (int argc, char **argv)
{
  static const struct option options[] = {
    { "json", no_argument, NULL, 'j' },
    { "format", required_argument, NULL, 'f' },
    { "group", no_argument, NULL, 'g' },
    { "timeout", required_argument, NULL, 't' },
    { "runtime", required_argument, NULL, 'r' },
    { "list", no_argument, NULL, 'l' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 }
  };
  AsyncrtEndpointRequest req;
  asyncrt__endpoint_request_init (&req, ASYNCRT_ENDPOINT_COMMAND_DUMP);
  const char *format = NULL, *runtime = NULL;
  bool json = false, list = false, group = false;
  unsigned long long v;
  int c;

  opterr = 0;
  while ((c = getopt_long (argc, argv, "+jf:gt:r:lhV", options, NULL)) != -1)
    switch (c)
      {
      case 'j':
        json = true;
        break;
      case 'f':
        format = optarg;
        break;
      case 'g':
        group = true;
        break;
      case 't':
        if (!parse_uint (optarg, 0, ASYNCRT_ENDPOINT_TIMEOUT_MAX_MS, &v))
          {
            fail_message ("--timeout: '%s' is not a number of milliseconds from 0 to %u",
                          optarg, ASYNCRT_ENDPOINT_TIMEOUT_MAX_MS);
            return EXIT_USAGE;
          }
        req.timeout_ms = (unsigned) v;
        break;
      case 'r':
        runtime = optarg;
        break;
      case 'l':
        list = true;
        break;
      case 'h':
        usage (stdout);
        return 0;
      case 'V':
        printf ("asyncrt-dump (libasyncrt) %s\ndump endpoint protocol version %u\n",
                PACKAGE_VERSION, ASYNCRT_ENDPOINT_PROTOCOL_VERSION);
        return 0;
      default:
        if (optopt != 0)
          fail_message ("unknown option or missing argument: -%c", optopt);
        else
          fail_message ("unknown option or missing argument: %s", argv[optind - 1]);
        fprintf (stderr, "Try '%s --help'.\n", program_name);
        return EXIT_USAGE;
      }
  if (optind != argc - 1)
    {
      fail_message (optind == argc ? "missing PID" : "too many arguments");
      fprintf (stderr, "Try '%s --help'.\n", program_name);
      return EXIT_USAGE;
    }
  if (!parse_uint (argv[optind], 1, INT_MAX, &v))
    {
      fail_message ("'%s' is not a process id", argv[optind]);
      return EXIT_USAGE;
    }
  long pid = (long) v;
  if (json && format != NULL && strcmp (format, "json") != 0)
    {
      fail_message ("--json and --format=%s disagree", format);
      return EXIT_USAGE;
    }
  if (list && group)
    {
      fail_message ("--group is for dumps, not for --list");
      return EXIT_USAGE;
    }
  if (list)
    req.command = ASYNCRT_ENDPOINT_COMMAND_LIST;
  const char *f = json ? "json" : format != NULL ? format : "text";
  /* --group asks for the grouped variant of the format: "text-grouped"... */
  char grouped[ASYNCRT_ENDPOINT_FORMAT_MAX + 1];
  if (group && snprintf (grouped, sizeof grouped, "%s-grouped", f) < (int) sizeof grouped)
    f = grouped;
  if (strlen (f) > ASYNCRT_ENDPOINT_FORMAT_MAX)
    {
      fail_message ("--format: '%s' is not a format name", f);
      return EXIT_USAGE;
    }
  strcpy (req.format, f);
  if (runtime != NULL)
    {
      if (!asyncrt__runtime_name_is_valid (runtime, strlen (runtime)))
        {
          fail_message ("--runtime: '%s' is not a runtime name "
                        "(1 to %d letters, digits and ._:@+-)", runtime, ASYNCRT_RUNTIME_NAME_MAX);
          return EXIT_USAGE;
        }
      strcpy (req.runtime, runtime);
    }
  char line[ASYNCRT_ENDPOINT_REQUEST_MAX];
  if (asyncrt__endpoint_request_format (&req, line, sizeof line) < 0)
    {
      fail_message ("--format: '%s' is not a format name (lower-case letters, digits, -)", f);
      return EXIT_USAGE;
    }
  return run (pid, line, req.timeout_ms);
}
