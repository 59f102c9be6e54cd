/* The libFuzzer target of the dump endpoint's protocol: the request reader and parser
 * (the bytes a hostile peer controls), the request formatter (round trip), and the
 * response header parser asyncrt-dump runs on what a program sends back.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The first input byte chooses how the rest is cut into chunks for the reader (a
 * request arrives in arbitrary pieces).  Any broken invariant aborts.
 *
 *   make fuzz-run FUZZ_SECONDS=60    clang -fsanitize=fuzzer,address,undefined
 * Built with -DFUZZ_STANDALONE it is a plain program that runs every file of the
 * seed corpus through the same function (make check does, under the sanitizers of
 * the build).
 */
#include "config.h"

#include "endpoint/protocol-private.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
  do { if (!(cond)) { fprintf (stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort (); } } while (0)

static void
check_request (const AsyncrtEndpointRequest *req)
{
  CHECK (req->version == ASYNCRT_ENDPOINT_PROTOCOL_VERSION);
  CHECK (req->command == ASYNCRT_ENDPOINT_COMMAND_DUMP || req->command == ASYNCRT_ENDPOINT_COMMAND_LIST
         || req->command == ASYNCRT_ENDPOINT_COMMAND_WATCH);
  size_t f = strnlen (req->format, sizeof req->format);
  CHECK (f > 0 && f < sizeof req->format);
  size_t r = strnlen (req->runtime, sizeof req->runtime);
  CHECK (r < sizeof req->runtime);
  CHECK (r == 0 || asyncrt__runtime_name_is_valid (req->runtime, r));
  CHECK (req->timeout_ms <= ASYNCRT_ENDPOINT_TIMEOUT_MAX_MS);
  size_t name = strnlen (req->name, sizeof req->name);
  CHECK (name < sizeof req->name);
  for (size_t i = 0; i < name; i++)
    CHECK (req->name[i] > 0x20 && req->name[i] < 0x7f);
  CHECK (req->states != 0 && (req->states & ~ASYNCRT_ENDPOINT_STATE_ALL) == 0);
  size_t wait = strnlen (req->wait, sizeof req->wait);
  CHECK (wait < sizeof req->wait);
  for (size_t i = 0; i < wait; i++)
    CHECK ((req->wait[i] >= 'a' && req->wait[i] <= 'z') || req->wait[i] == '_'
           || (req->wait[i] == ',' && i > 0 && i + 1 < wait && req->wait[i + 1] != ','));
  CHECK (req->min_idle_ms <= ASYNCRT_ENDPOINT_MIN_IDLE_MAX_MS);
  CHECK (req->interval_ms > 0 && req->interval_ms <= ASYNCRT_ENDPOINT_INTERVAL_MAX_MS);
  if (req->command == ASYNCRT_ENDPOINT_COMMAND_LIST)
    CHECK (name == 0 && wait == 0 && req->states == ASYNCRT_ENDPOINT_STATE_ALL && req->min_idle_ms == 0
           && req->task == 0 && !req->task_names);
  if (req->command != ASYNCRT_ENDPOINT_COMMAND_DUMP)
    CHECK (!req->task_names);

  /* Round trip: what the formatter writes parses back to the same request. */
  char line[ASYNCRT_ENDPOINT_REQUEST_MAX];
  int n = asyncrt__endpoint_request_format (req, line, sizeof line);
  CHECK (n > 0 && (size_t) n < sizeof line && line[n - 1] == '\n');
  AsyncrtEndpointRequest again;
  char err[128];
  CHECK (asyncrt__endpoint_request_parse (line, (size_t) n - 1, &again, err, sizeof err) == 0);
  CHECK (again.command == req->command && again.timeout_ms == req->timeout_ms
         && strcmp (again.format, req->format) == 0 && strcmp (again.runtime, req->runtime) == 0
         && strcmp (again.name, req->name) == 0 && strcmp (again.wait, req->wait) == 0
         && again.states == req->states
         && again.min_idle_ms == req->min_idle_ms && again.task == req->task
         && again.task_names == req->task_names && again.interval_ms == req->interval_ms);
}

static void
parse_request (const char *line, size_t len)
{
  AsyncrtEndpointRequest req;
  memset (&req, 0xa5, sizeof req);
  AsyncrtEndpointRequest before = req;
  char err[160];
  memset (err, 'x', sizeof err);
  err[sizeof err - 1] = '\0';
  int r = asyncrt__endpoint_request_parse (line, len, &req, err, sizeof err);
  CHECK (r == 0 || r == -EINVAL || r == -EPROTONOSUPPORT);
  if (r == 0)
    check_request (&req);
  else
    {
      CHECK (memcmp (&req, &before, sizeof req) == 0);     /* written only on success */
      CHECK (strnlen (err, sizeof err) < sizeof err);
    }
}

static void
parse_response (const char *line, size_t len)
{
  char status[ASYNCRT_ENDPOINT_STATUS_MAX + 1];
  uint64_t length = 0;
  int r = asyncrt__endpoint_response_header_parse (line, len, status, &length);
  CHECK (r == 0 || r == -EINVAL || r == -EPROTONOSUPPORT);
  if (r != 0)
    return;
  CHECK (strlen (status) > 0 && strlen (status) <= ASYNCRT_ENDPOINT_STATUS_MAX);
  char again[ASYNCRT_ENDPOINT_RESPONSE_HEADER_MAX];
  int n = asyncrt__endpoint_response_header_format (again, sizeof again, status, length);
  CHECK (n > 0);
  char status2[ASYNCRT_ENDPOINT_STATUS_MAX + 1];
  uint64_t length2;
  CHECK (asyncrt__endpoint_response_header_parse (again, (size_t) n - 1, status2, &length2) == 0);
  CHECK (strcmp (status, status2) == 0 && length == length2);
  int code = asyncrt__endpoint_status_to_errno (status);
  CHECK (code == 0 || code == 1 || code < 0);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  size_t chunk = 1 + (data[0] & 0x7f);
  const char *in = (const char *) data + 1;
  size--;

  /* The reader, fed in chunks. */
  AsyncrtEndpointReader reader;
  asyncrt__endpoint_reader_init (&reader, ASYNCRT_ENDPOINT_REQUEST_MAX);
  AsyncrtEndpointReadResult res = ASYNCRT_ENDPOINT_READ_MORE;
  size_t off = 0;
  while (off < size && res == ASYNCRT_ENDPOINT_READ_MORE)
    {
      size_t n = size - off < chunk ? size - off : chunk;
      size_t used = (size_t) -1;
      res = asyncrt__endpoint_reader_feed (&reader, in + off, n, &used);
      CHECK (used <= n);
      CHECK (res != ASYNCRT_ENDPOINT_READ_MORE || used == n);
      off += used;
    }
  CHECK (reader.len < ASYNCRT_ENDPOINT_REQUEST_MAX);
  CHECK (memchr (reader.buf, '\n', reader.len) == NULL);
  if (res == ASYNCRT_ENDPOINT_READ_LINE)
    {
      CHECK (in[off - 1] == '\n' && off - 1 == reader.len);
      parse_request (reader.buf, reader.len);
    }
  if (res == ASYNCRT_ENDPOINT_READ_TOO_LONG)
    CHECK (reader.len == ASYNCRT_ENDPOINT_REQUEST_MAX - 1);
  /* Fed again after the end: the same answer, nothing consumed. */
  size_t used = 1;
  if (res != ASYNCRT_ENDPOINT_READ_MORE)
    CHECK (asyncrt__endpoint_reader_feed (&reader, "x\n", 2, &used) == res && used == 0);

  /* The whole input as one line, and as a response header. */
  parse_request (in, size);
  parse_response (in, size);

  /* Status words from anywhere. */
  char word[64];
  size_t w = size < sizeof word - 1 ? size : sizeof word - 1;
  memcpy (word, in, w);
  word[w] = '\0';
  int code = asyncrt__endpoint_status_to_errno (word);
  CHECK (strcmp (asyncrt__endpoint_status_from_errno (code), word) == 0 || code == -EIO);
  return 0;
}

#ifdef FUZZ_STANDALONE
#include <dirent.h>

static int
run_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return -1;
  static uint8_t buf[1 << 16];
  size_t n = fread (buf, 1, sizeof buf, f);
  fclose (f);
  LLVMFuzzerTestOneInput (buf, n);
  return 0;
}

/* `make check`: every seed of the corpus, as a TAP test (--tap is accepted and
 * ignored: the output is always TAP). */
int
main (int argc, char **argv)
{
  const char *top = getenv ("top_srcdir");
  char dir[4096];
  snprintf (dir, sizeof dir, "%s/fuzz/corpus/endpoint-protocol", top != NULL ? top : ".");
  size_t n = 0;
  printf ("1..1\n");
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--tap") != 0 && run_file (argv[i]) == 0)
      n++;
  DIR *d = opendir (dir);
  if (d == NULL)
    {
      printf ("not ok 1 - cannot open %s\n", dir);
      return 1;
    }
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      if (e->d_name[0] == '.')
        continue;
      char path[8192];
      snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
      if (run_file (path) == 0)
        n++;
    }
  closedir (d);
  printf ("%s 1 - %zu seed inputs of the endpoint protocol fuzzer\n", n > 0 ? "ok" : "not ok", n);
  return n > 0 ? 0 : 1;
}
#endif
