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
#include <fcntl.h>
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
           "  -f, --format=FORMAT   text (the default), json, folded or pprof\n"
           "  -g, --group           print tasks with the same stack and waits once, with\n"
           "                        their count, ids and idle times\n"
           "      --folded          print folded stacks, the input of flame graphs\n"
           "                        (the same as --format=folded)\n"
           "      --task-names      with --folded: start every stack with the task's name\n"
           "      --pprof=FILE      write a gzipped pprof profile to FILE ('-': stdout)\n"
           "  -w, --watch=SECONDS   take two dumps SECONDS apart (e.g. 5 or 0.5) and print\n"
           "                        the tasks that made no progress in between\n"
           "  -t, --timeout=MS      how long the program may take to dump, in milliseconds\n"
           "                        (0 to 60000, default 2000; 0: states only, no traces)\n"
           "  -r, --runtime=NAME    only the runtimes named NAME\n"
           "  -n, --name=GLOB       only the tasks whose name matches GLOB (* and ?)\n"
           "  -s, --state=STATES    only the tasks in these states: idle, scheduled,\n"
           "                        running, separated by commas\n"
           "      --min-idle=SECONDS  only the tasks not polled for at least SECONDS\n"
           "      --task=ID         only task ID and the tasks it spawned, recursively\n"
           "      --wait=KINDS      only the tasks waiting on one of KINDS (mutex, sleep, fd,\n"
           "                        notify, join...; separated by commas)\n"
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

/* Seconds as a decimal number with at most 3 digits after the point ("5", "0.25"),
 * in milliseconds, within [min_ms, max_ms]. */
static bool
parse_seconds (const char *s, unsigned long long min_ms, unsigned long long max_ms,
               unsigned long long *out)
{
  if (s == NULL || *s < '0' || *s > '9')
    return false;
  unsigned long long ms = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; p++)
    {
      ms = ms * 10 + (unsigned long long) (*p - '0');
      if (ms > max_ms / 1000 + 1)
        return false;
    }
  ms *= 1000;
  if (*p == '.')
    {
      p++;
      unsigned long long scale = 100;
      if (*p < '0' || *p > '9')
        return false;
      for (; *p >= '0' && *p <= '9'; p++)
        {
          if (scale == 0)
            return false;                       /* more than milliseconds */
          ms += (unsigned long long) (*p - '0') * scale;
          scale /= 10;
        }
    }
  if (*p != '\0' || ms < min_ms || ms > max_ms)
    return false;
  *out = ms;
  return true;
}

/* "idle,running" -> ASYNCRT_ENDPOINT_STATE_* bits (the protocol checks it again). */
static bool
parse_states (const char *s, unsigned *out)
{
  static const char *const names[] = { "idle", "scheduled", "running" };
  unsigned states = 0;
  const char *p = s;
  for (;;)
    {
      size_t len = strcspn (p, ",");
      unsigned bit = 0;
      for (unsigned i = 0; i < 3; i++)
        if (strlen (names[i]) == len && strncmp (p, names[i], len) == 0)
          bit = 1u << i;
      if (bit == 0 || (states & bit))
        return false;
      states |= bit;
      if (p[len] == '\0')
        break;
      p += len + 1;
    }
  *out = states;
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
write_fd (int fd, const char *buf, size_t len)
{
  size_t off = 0;
  while (off < len)
    {
      ssize_t n = write (fd, buf + off, len - off);
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

/* Exchanges @request with process @pid; copies the body to stdout, or to the file
 * @out_path ("-": stdout), created only once the program has answered with a dump. */
static int
run (long pid, const char *request, unsigned timeout_ms, const char *out_path)
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
  int out_fd = STDOUT_FILENO;
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
  if (to_stdout && out_path != NULL && strcmp (out_path, "-") != 0)
    {
      out_fd = open (out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
      if (out_fd < 0)
        {
          fail_message ("cannot create %s: %s", out_path, strerror (errno));
          goto out;
        }
    }
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
          int w = write_fd (out_fd, buf + used, chunk);
          if (w < 0)
            {
              fail_message ("cannot write the dump%s%s: %s", out_fd != STDOUT_FILENO ? " to " : "",
                            out_fd != STDOUT_FILENO ? out_path : "", strerror (-w));
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
  if (out_fd != STDOUT_FILENO && out_fd >= 0 && close (out_fd) < 0 && status <= EXIT_INCOMPLETE)
    {
      fail_message ("cannot write %s: %s", out_path, strerror (errno));
      status = EXIT_FAILED;
    }
  close (fd);
  return status;
}

static int
usage_error (const char *fmt, const char *arg)
{
  fprintf (stderr, "%s: ", program_name);
  fprintf (stderr, fmt, arg);
  fprintf (stderr, "\nTry '%s --help'.\n", program_name);
  return EXIT_USAGE;
}

enum
{
  OPT_FOLDED = 256,
  OPT_TASK_NAMES,
  OPT_PPROF,
  OPT_MIN_IDLE,
  OPT_TASK,
  OPT_WAIT
};

int
main (int argc, char **argv)
{
  static const struct option options[] = {
    { "json", no_argument, NULL, 'j' },
    { "format", required_argument, NULL, 'f' },
    { "folded", no_argument, NULL, OPT_FOLDED },
    { "task-names", no_argument, NULL, OPT_TASK_NAMES },
    { "pprof", required_argument, NULL, OPT_PPROF },
    { "watch", required_argument, NULL, 'w' },
    { "group", no_argument, NULL, 'g' },
    { "timeout", required_argument, NULL, 't' },
    { "runtime", required_argument, NULL, 'r' },
    { "name", required_argument, NULL, 'n' },
    { "state", required_argument, NULL, 's' },
    { "min-idle", required_argument, NULL, OPT_MIN_IDLE },
    { "task", required_argument, NULL, OPT_TASK },
    { "wait", required_argument, NULL, OPT_WAIT },
    { "list", no_argument, NULL, 'l' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 }
  };
  AsyncrtEndpointRequest req;
  asyncrt__endpoint_request_init (&req, ASYNCRT_ENDPOINT_COMMAND_DUMP);
  const char *format = NULL, *runtime = NULL, *name = NULL, *pprof = NULL;
  bool json = false, list = false, folded = false, watch = false, filtered = false,
       group = false;
  unsigned long long v;
  int c;

  opterr = 0;
  while ((c = getopt_long (argc, argv, "+jf:gw:t:r:n:s:lhV", options, NULL)) != -1)
    switch (c)
      {
      case 'j':
        json = true;
        break;
      case 'f':
        format = optarg;
        break;
      case OPT_FOLDED:
        folded = true;
        break;
      case OPT_TASK_NAMES:
        req.task_names = true;
        break;
      case OPT_PPROF:
        if (*optarg == '\0')
          return usage_error ("--pprof: the file name is empty%s", "");
        pprof = optarg;
        break;
      case 'w':
        if (!parse_seconds (optarg, 1, ASYNCRT_ENDPOINT_INTERVAL_MAX_MS, &v))
          return usage_error ("--watch: '%s' is not a number of seconds from 0.001 to 600", optarg);
        watch = true;
        req.interval_ms = (unsigned) v;
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
      case 'n':
        name = optarg;
        filtered = true;
        break;
      case 's':
        if (!parse_states (optarg, &req.states))
          return usage_error ("--state: '%s' is not a list of idle, scheduled, running "
                              "separated by commas", optarg);
        filtered = true;
        break;
      case OPT_MIN_IDLE:
        if (!parse_seconds (optarg, 0, ASYNCRT_ENDPOINT_MIN_IDLE_MAX_MS, &v))
          return usage_error ("--min-idle: '%s' is not a number of seconds (e.g. 60 or 0.5)",
                              optarg);
        req.min_idle_ms = v;
        filtered = true;
        break;
      case OPT_TASK:
        if (!parse_uint (optarg, 1, UINT64_MAX, &v))
          return usage_error ("--task: '%s' is not a task id", optarg);
        req.task = v;
        filtered = true;
        break;
      case OPT_WAIT:
        {
          size_t len = strlen (optarg);
          bool ok = len > 0 && len <= ASYNCRT_ENDPOINT_WAIT_KINDS_MAX && optarg[0] != ','
                    && optarg[len - 1] != ',' && strstr (optarg, ",,") == NULL
                    && strspn (optarg, "abcdefghijklmnopqrstuvwxyz_,") == len;
          if (!ok)
            return usage_error ("--wait: '%s' is not a list of wait kinds (mutex, sleep, fd, "
                                "...) separated by commas", optarg);
          strcpy (req.wait, optarg);
          filtered = true;
        }
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
  /* One format, from whichever options name it. */
  const char *f = format, *f_from = "--format=";
  const char *const named[] = { json ? "json" : NULL, folded ? "folded" : NULL,
                                pprof != NULL ? "pprof" : NULL };
  const char *const flags[] = { "--json", "--folded", "--pprof" };
  for (size_t i = 0; i < 3; i++)
    {
      if (named[i] == NULL)
        continue;
      if (f != NULL && strcmp (f, named[i]) != 0)
        {
          fail_message ("%s and %s%s disagree", flags[i], f_from,
                        strcmp (f_from, "--format=") == 0 ? f : "");
          return EXIT_USAGE;
        }
      f = named[i];
      f_from = flags[i];
    }
  if (f == NULL)
    f = "text";
  if (strcmp (f, "pprof") == 0 && pprof == NULL)
    {
      if (isatty (STDOUT_FILENO))
        return usage_error ("--format=pprof writes a binary profile: use --pprof=FILE%s", "");
      pprof = "-";
    }
  if (req.task_names && strcmp (f, "folded") != 0)
    return usage_error ("--task-names goes with --folded%s", "");
  if (list && (watch || filtered || req.task_names || pprof != NULL || group))
    return usage_error ("--list takes no --watch, filter, --group, --task-names or "
                        "--pprof%s", "");
  if (watch && strcmp (f, "text") != 0 && strcmp (f, "json") != 0)
    return usage_error ("--watch prints text or JSON, not %s", f);
  if (watch && group)
    return usage_error ("--watch does not group%s", "");
  if (group && strcmp (f, "text") != 0 && strcmp (f, "json") != 0)
    return usage_error ("--group goes with text or JSON, not %s", f);
  if (list)
    req.command = ASYNCRT_ENDPOINT_COMMAND_LIST;
  else if (watch)
    req.command = ASYNCRT_ENDPOINT_COMMAND_WATCH;
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
  if (name != NULL)
    {
      size_t len = strlen (name);
      bool ok = len > 0 && len <= ASYNCRT_ENDPOINT_NAME_PATTERN_MAX;
      for (size_t i = 0; ok && i < len; i++)
        ok = name[i] > 0x20 && name[i] < 0x7f;
      if (!ok)
        return usage_error ("--name: '%s' is not a pattern of 1 to 255 printable ASCII "
                            "characters without spaces (use ? for a space or any other "
                            "character)", name);
      strcpy (req.name, name);
    }
  char line[ASYNCRT_ENDPOINT_REQUEST_MAX];
  if (asyncrt__endpoint_request_format (&req, line, sizeof line) < 0)
    {
      fail_message ("--format: '%s' is not a format name (lower-case letters, digits, -)", f);
      return EXIT_USAGE;
    }
  return run (pid, line, req.timeout_ms + (watch ? req.interval_ms + req.timeout_ms : 0), pprof);
}
