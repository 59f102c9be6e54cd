/* libasyncrt - the dump endpoint's line protocol: parsing and formatting
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every byte here may come from a hostile peer: nothing is trusted, nothing is
 * allocated, every length is checked before use, and the only state is the caller's.
 * fuzz/fuzz-endpoint-protocol.c drives all of it.
 */
#include "config.h"

#include "endpoint/protocol-private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAGIC_LEN (sizeof ASYNCRT_ENDPOINT_MAGIC - 1)

static void
set_err (char *err, size_t err_size, const char *what, const char *tok, size_t tok_len)
{
  if (err == NULL || err_size == 0)
    return;
  if (tok != NULL)
    snprintf (err, err_size, "%s: '%.*s%s'", what, (int) (tok_len > 40 ? 40 : tok_len), tok,
              tok_len > 40 ? "..." : "");
  else
    snprintf (err, err_size, "%s", what);
}

static bool
token_is (const char *tok, size_t len, const char *word)
{
  size_t n = strlen (word);
  return len == n && memcmp (tok, word, n) == 0;
}

/* Parses 1 to @max_digits decimal digits (no sign, no spaces) into *@out. */
static bool
parse_decimal (const char *s, size_t len, size_t max_digits, uint64_t *out)
{
  if (len == 0 || len > max_digits)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return false;
      unsigned d = (unsigned) (s[i] - '0');
      if (v > (UINT64_MAX - d) / 10)
        return false;
      v = v * 10 + d;
    }
  *out = v;
  return true;
}

static bool
format_is_valid (const char *s, size_t len)
{
  if (len == 0 || len > ASYNCRT_ENDPOINT_FORMAT_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return false;
  return true;
}

/* Splits the next space-separated token off [*p, end).  Tokens are separated by
 * exactly one space; an empty token (two spaces, a leading or trailing space) is an
 * error.  Returns false at the end of the line. */
static bool
next_token (const char **p, const char *end, const char **tok, size_t *tok_len, bool *empty)
{
  *empty = false;
  if (*p > end)
    return false;
  const char *s = *p;
  const char *sp = memchr (s, ' ', (size_t) (end - s));
  const char *e = sp != NULL ? sp : end;
  *tok = s;
  *tok_len = (size_t) (e - s);
  *empty = *tok_len == 0;
  *p = sp != NULL ? sp + 1 : end + 1;
  return true;
}

/* A glob for task names: 1 to NAME_PATTERN_MAX printable ASCII bytes, no space (the
 * line check has excluded control bytes already; checked again for the formatter). */
static bool
name_pattern_is_valid (const char *s, size_t len)
{
  if (len == 0 || len > ASYNCRT_ENDPOINT_NAME_PATTERN_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (s[i] <= 0x20 || s[i] > 0x7e)
      return false;
  return true;
}

/* Wait kind names: "mutex", "sleep,fd"...: [a-z_]+ items separated by single commas. */
static bool
wait_kinds_are_valid (const char *s, size_t len)
{
  if (len == 0 || len > ASYNCRT_ENDPOINT_WAIT_KINDS_MAX || s[0] == ',' || s[len - 1] == ',')
    return false;
  for (size_t i = 0; i < len; i++)
    {
      if (s[i] == ',' && s[i + 1] == ',')
        return false;
      if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || s[i] == ','))
        return false;
    }
  return true;
}

static const char *const state_names[] = { "idle", "scheduled", "running" };

/* "idle", "idle,running"...: each state at most once. */
static bool
parse_states (const char *s, size_t len, unsigned *out)
{
  unsigned states = 0;
  const char *p = s, *end = s + len;
  for (;;)
    {
      const char *comma = memchr (p, ',', (size_t) (end - p));
      const char *e = comma != NULL ? comma : end;
      unsigned bit = 0;
      for (unsigned i = 0; i < 3; i++)
        if (token_is (p, (size_t) (e - p), state_names[i]))
          bit = 1u << i;
      if (bit == 0 || (states & bit))
        return false;
      states |= bit;
      if (comma == NULL)
        break;
      p = comma + 1;
    }
  *out = states;
  return true;
}

void
asyncrt__endpoint_request_init (AsyncrtEndpointRequest *req, AsyncrtEndpointCommand command)
{
  memset (req, 0, sizeof *req);
  req->version = ASYNCRT_ENDPOINT_PROTOCOL_VERSION;
  req->command = command;
  memcpy (req->format, "text", sizeof "text");
  req->timeout_ms = ASYNCRT_ENDPOINT_TIMEOUT_DEFAULT_MS;
  req->states = ASYNCRT_ENDPOINT_STATE_ALL;
  req->interval_ms = ASYNCRT_ENDPOINT_INTERVAL_DEFAULT_MS;
}

int
asyncrt__endpoint_request_parse (const char *line, size_t len, AsyncrtEndpointRequest *out,
                                 char *err, size_t err_size)
{
  if (line == NULL || out == NULL)
    return -EINVAL;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  if (len >= ASYNCRT_ENDPOINT_REQUEST_MAX)
    {
      set_err (err, err_size, "request line too long", NULL, 0);
      return -EINVAL;
    }
  for (size_t i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char) line[i];
      if (c < 0x20 || c > 0x7e)
        {
          char what[64];
          snprintf (what, sizeof what, "byte 0x%02x at offset %zu is not printable ASCII",
                    c, i);
          set_err (err, err_size, what, NULL, 0);
          return -EINVAL;
        }
    }

  const char *p = line, *end = line + len, *tok;
  size_t tok_len;
  bool empty;
  if (!next_token (&p, end, &tok, &tok_len, &empty) || empty
      || !token_is (tok, tok_len, ASYNCRT_ENDPOINT_MAGIC))
    {
      set_err (err, err_size,
               "not an asyncrt-dump request (expected 'asyncrt-dump VERSION COMMAND')", NULL, 0);
      return -EINVAL;
    }
  uint64_t version;
  if (!next_token (&p, end, &tok, &tok_len, &empty) || empty
      || !parse_decimal (tok, tok_len, 9, &version))
    {
      set_err (err, err_size, "expected a protocol version after 'asyncrt-dump'", NULL, 0);
      return -EINVAL;
    }
  if (version != ASYNCRT_ENDPOINT_PROTOCOL_VERSION)
    {
      set_err (err, err_size, "unsupported protocol version (this library speaks version 1)",
               NULL, 0);
      return -EPROTONOSUPPORT;
    }

  AsyncrtEndpointRequest req;
  if (!next_token (&p, end, &tok, &tok_len, &empty) || empty)
    {
      set_err (err, err_size, "expected a command ('dump', 'list' or 'watch')", NULL, 0);
      return -EINVAL;
    }
  if (token_is (tok, tok_len, "dump"))
    asyncrt__endpoint_request_init (&req, ASYNCRT_ENDPOINT_COMMAND_DUMP);
  else if (token_is (tok, tok_len, "list"))
    asyncrt__endpoint_request_init (&req, ASYNCRT_ENDPOINT_COMMAND_LIST);
  else if (token_is (tok, tok_len, "watch"))
    asyncrt__endpoint_request_init (&req, ASYNCRT_ENDPOINT_COMMAND_WATCH);
  else
    {
      set_err (err, err_size, "unknown command", tok, tok_len);
      return -EINVAL;
    }

  bool seen_format = false, seen_timeout = false, seen_runtime = false, seen_name = false,
       seen_state = false, seen_min_idle = false, seen_task = false, seen_task_names = false,
       seen_interval = false, seen_wait = false;
  const bool dumps = req.command != ASYNCRT_ENDPOINT_COMMAND_LIST;
  while (next_token (&p, end, &tok, &tok_len, &empty))
    {
      if (empty)
        {
          set_err (err, err_size, "empty field (fields are separated by exactly one space)",
                   NULL, 0);
          return -EINVAL;
        }
      const char *eq = memchr (tok, '=', tok_len);
      if (eq == NULL || eq == tok)
        {
          set_err (err, err_size, "expected KEY=VALUE", tok, tok_len);
          return -EINVAL;
        }
      size_t key_len = (size_t) (eq - tok);
      const char *val = eq + 1;
      size_t val_len = tok_len - key_len - 1;
      bool *seen;
      if (token_is (tok, key_len, "format"))
        {
          seen = &seen_format;
          if (!format_is_valid (val, val_len))
            {
              set_err (err, err_size, "bad format name", tok, tok_len);
              return -EINVAL;
            }
          memcpy (req.format, val, val_len);
          req.format[val_len] = '\0';
        }
      else if (token_is (tok, key_len, "timeout") && dumps)
        {
          seen = &seen_timeout;
          uint64_t ms;
          if (!parse_decimal (val, val_len, 5, &ms) || ms > ASYNCRT_ENDPOINT_TIMEOUT_MAX_MS)
            {
              set_err (err, err_size, "bad timeout (milliseconds, 0 to 60000)", tok, tok_len);
              return -EINVAL;
            }
          req.timeout_ms = (unsigned) ms;
        }
      else if (token_is (tok, key_len, "runtime"))
        {
          seen = &seen_runtime;
          if (!asyncrt__runtime_name_is_valid (val, val_len))
            {
              set_err (err, err_size, "bad runtime name", tok, tok_len);
              return -EINVAL;
            }
          memcpy (req.runtime, val, val_len);
          req.runtime[val_len] = '\0';
        }
      else if (token_is (tok, key_len, "name") && dumps)
        {
          seen = &seen_name;
          if (!name_pattern_is_valid (val, val_len))
            {
              set_err (err, err_size, "bad name pattern (1 to 255 printable bytes, no space)",
                       tok, tok_len);
              return -EINVAL;
            }
          memcpy (req.name, val, val_len);
          req.name[val_len] = '\0';
        }
      else if (token_is (tok, key_len, "state") && dumps)
        {
          seen = &seen_state;
          if (!parse_states (val, val_len, &req.states))
            {
              set_err (err, err_size, "bad state list (idle, scheduled, running, separated "
                       "by commas, each once)", tok, tok_len);
              return -EINVAL;
            }
        }
      else if (token_is (tok, key_len, "min-idle") && dumps)
        {
          seen = &seen_min_idle;
          uint64_t ms;
          if (!parse_decimal (val, val_len, 13, &ms) || ms > ASYNCRT_ENDPOINT_MIN_IDLE_MAX_MS)
            {
              set_err (err, err_size, "bad min-idle (milliseconds)", tok, tok_len);
              return -EINVAL;
            }
          req.min_idle_ms = ms;
        }
      else if (token_is (tok, key_len, "task") && dumps)
        {
          seen = &seen_task;
          uint64_t id;
          if (!parse_decimal (val, val_len, 20, &id) || id == 0)
            {
              set_err (err, err_size, "bad task id", tok, tok_len);
              return -EINVAL;
            }
          req.task = id;
        }
      else if (token_is (tok, key_len, "wait") && dumps)
        {
          seen = &seen_wait;
          if (!wait_kinds_are_valid (val, val_len))
            {
              set_err (err, err_size, "bad wait kinds (names such as mutex or sleep, separated "
                       "by commas)", tok, tok_len);
              return -EINVAL;
            }
          memcpy (req.wait, val, val_len);
          req.wait[val_len] = '\0';
        }
      else if (token_is (tok, key_len, "task-names") && req.command == ASYNCRT_ENDPOINT_COMMAND_DUMP)
        {
          seen = &seen_task_names;
          if (!token_is (val, val_len, "0") && !token_is (val, val_len, "1"))
            {
              set_err (err, err_size, "bad task-names (0 or 1)", tok, tok_len);
              return -EINVAL;
            }
          req.task_names = val[0] == '1';
        }
      else if (token_is (tok, key_len, "interval") && req.command == ASYNCRT_ENDPOINT_COMMAND_WATCH)
        {
          seen = &seen_interval;
          uint64_t ms;
          if (!parse_decimal (val, val_len, 6, &ms) || ms == 0
              || ms > ASYNCRT_ENDPOINT_INTERVAL_MAX_MS)
            {
              set_err (err, err_size, "bad interval (milliseconds, 1 to 600000)", tok, tok_len);
              return -EINVAL;
            }
          req.interval_ms = (unsigned) ms;
        }
      else
        {
          set_err (err, err_size, "unknown option for this command", tok, key_len);
          return -EINVAL;
        }
      if (*seen)
        {
          set_err (err, err_size, "option given twice", tok, key_len);
          return -EINVAL;
        }
      *seen = true;
    }
  *out = req;
  return 0;
}

int
asyncrt__endpoint_request_format (const AsyncrtEndpointRequest *req, char *buf, size_t size)
{
  if (req == NULL || buf == NULL)
    return -EINVAL;
  const char *command;
  switch (req->command)
    {
    case ASYNCRT_ENDPOINT_COMMAND_DUMP:
      command = "dump";
      break;
    case ASYNCRT_ENDPOINT_COMMAND_LIST:
      command = "list";
      break;
    case ASYNCRT_ENDPOINT_COMMAND_WATCH:
      command = "watch";
      break;
    default:
      return -EINVAL;
    }
  const bool dumps = req->command != ASYNCRT_ENDPOINT_COMMAND_LIST;
  size_t format_len = strnlen (req->format, sizeof req->format);
  size_t runtime_len = strnlen (req->runtime, sizeof req->runtime);
  size_t name_len = strnlen (req->name, sizeof req->name);
  size_t wait_len = strnlen (req->wait, sizeof req->wait);
  if (!format_is_valid (req->format, format_len)
      || (runtime_len > 0 && !asyncrt__runtime_name_is_valid (req->runtime, runtime_len))
      || runtime_len == sizeof req->runtime
      || req->timeout_ms > ASYNCRT_ENDPOINT_TIMEOUT_MAX_MS
      || name_len == sizeof req->name
      || wait_len == sizeof req->wait
      || (wait_len > 0 && (!dumps || !wait_kinds_are_valid (req->wait, wait_len)))
      || (name_len > 0 && (!dumps || !name_pattern_is_valid (req->name, name_len)))
      || req->states == 0 || (req->states & ~ASYNCRT_ENDPOINT_STATE_ALL) != 0
      || (!dumps && req->states != ASYNCRT_ENDPOINT_STATE_ALL)
      || req->min_idle_ms > ASYNCRT_ENDPOINT_MIN_IDLE_MAX_MS || (!dumps && req->min_idle_ms != 0)
      || (!dumps && req->task != 0)
      || (req->task_names && req->command != ASYNCRT_ENDPOINT_COMMAND_DUMP)
      || (req->command == ASYNCRT_ENDPOINT_COMMAND_WATCH
          && (req->interval_ms == 0 || req->interval_ms > ASYNCRT_ENDPOINT_INTERVAL_MAX_MS)))
    return -EINVAL;
  size_t n = 0;
#define PUT(...)                                                          \
  do                                                                      \
    {                                                                     \
      int k_ = n < size ? snprintf (buf + n, size - n, __VA_ARGS__)    \
                        : snprintf (NULL, 0, __VA_ARGS__);                \
      if (k_ < 0)                                                         \
        return -EINVAL;                                                   \
      n += (size_t) k_;                                                   \
    }                                                                     \
  while (0)
  PUT ("%s %u %s format=%s", ASYNCRT_ENDPOINT_MAGIC, ASYNCRT_ENDPOINT_PROTOCOL_VERSION, command,
       req->format);
  if (dumps)
    PUT (" timeout=%u", req->timeout_ms);
  if (runtime_len > 0)
    PUT (" runtime=%s", req->runtime);
  if (name_len > 0)
    PUT (" name=%s", req->name);
  if (req->states != ASYNCRT_ENDPOINT_STATE_ALL)
    {
      PUT (" state=");
      bool first = true;
      for (unsigned i = 0; i < 3; i++)
        if (req->states & (1u << i))
          {
            PUT ("%s%s", first ? "" : ",", state_names[i]);
            first = false;
          }
    }
  if (req->min_idle_ms != 0)
    PUT (" min-idle=%llu", (unsigned long long) req->min_idle_ms);
  if (req->task != 0)
    PUT (" task=%llu", (unsigned long long) req->task);
  if (wait_len > 0)
    PUT (" wait=%s", req->wait);
  if (req->task_names)
    PUT (" task-names=1");
  if (req->command == ASYNCRT_ENDPOINT_COMMAND_WATCH)
    PUT (" interval=%u", req->interval_ms);
  PUT ("\n");
#undef PUT
  if (n >= size || n >= ASYNCRT_ENDPOINT_REQUEST_MAX)
    return -ENOSPC;
  return (int) n;
}

void
asyncrt__endpoint_reader_init (AsyncrtEndpointReader *r, size_t max)
{
  r->len = 0;
  r->max = max == 0 || max > sizeof r->buf ? sizeof r->buf : max;
  r->state = ASYNCRT_ENDPOINT_READ_MORE;
}

AsyncrtEndpointReadResult
asyncrt__endpoint_reader_feed (AsyncrtEndpointReader *r, const char *data, size_t n,
                               size_t *consumed)
{
  if (r->state != ASYNCRT_ENDPOINT_READ_MORE)
    {
      if (consumed != NULL)
        *consumed = 0;
      return r->state;
    }
  for (size_t i = 0; i < n; i++)
    {
      if (data[i] == '\n')
        {
          if (consumed != NULL)
            *consumed = i + 1;
          r->state = ASYNCRT_ENDPOINT_READ_LINE;
          return r->state;
        }
      /* The line and its newline must fit in max bytes. */
      if (r->len + 1 >= r->max)
        {
          if (consumed != NULL)
            *consumed = i;
          r->state = ASYNCRT_ENDPOINT_READ_TOO_LONG;
          return r->state;
        }
      r->buf[r->len++] = data[i];
    }
  if (consumed != NULL)
    *consumed = n;
  return ASYNCRT_ENDPOINT_READ_MORE;
}

static bool
status_is_valid (const char *s, size_t len)
{
  if (len == 0 || len > ASYNCRT_ENDPOINT_STATUS_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
      return false;
  return true;
}

int
asyncrt__endpoint_response_header_format (char *buf, size_t size, const char *status,
                                          uint64_t length)
{
  if (buf == NULL || status == NULL
      || !status_is_valid (status, strnlen (status, ASYNCRT_ENDPOINT_STATUS_MAX + 1)))
    return -EINVAL;
  int n = snprintf (buf, size, "%s %u %s %llu\n", ASYNCRT_ENDPOINT_MAGIC,
                    ASYNCRT_ENDPOINT_PROTOCOL_VERSION, status, (unsigned long long) length);
  if (n < 0 || (size_t) n >= size)
    return -ENOSPC;
  return n;
}

int
asyncrt__endpoint_response_header_parse (const char *line, size_t len,
                                         char status[ASYNCRT_ENDPOINT_STATUS_MAX + 1],
                                         uint64_t *length)
{
  if (line == NULL || status == NULL || length == NULL)
    return -EINVAL;
  if (len >= ASYNCRT_ENDPOINT_RESPONSE_HEADER_MAX)
    return -EINVAL;
  const char *p = line, *end = line + len, *tok;
  size_t tok_len;
  bool empty;
  if (!next_token (&p, end, &tok, &tok_len, &empty) || empty
      || !token_is (tok, tok_len, ASYNCRT_ENDPOINT_MAGIC))
    return -EINVAL;
  uint64_t version;
  if (!next_token (&p, end, &tok, &tok_len, &empty) || empty
      || !parse_decimal (tok, tok_len, 9, &version))
    return -EINVAL;
  if (version != ASYNCRT_ENDPOINT_PROTOCOL_VERSION)
    return -EPROTONOSUPPORT;
  const char *st;
  size_t st_len;
  if (!next_token (&p, end, &st, &st_len, &empty) || empty || !status_is_valid (st, st_len))
    return -EINVAL;
  uint64_t n;
  if (!next_token (&p, end, &tok, &tok_len, &empty) || empty
      || !parse_decimal (tok, tok_len, 20, &n))
    return -EINVAL;
  if (p <= end)                              /* anything after the length */
    return -EINVAL;
  memcpy (status, st, st_len);
  status[st_len] = '\0';
  *length = n;
  return 0;
}

static const struct
{
  int err;
  const char *name;
} statuses[] = {
  { EACCES, "EACCES" },
  { EINVAL, "EINVAL" },
  { EMSGSIZE, "EMSGSIZE" },
  { ETIMEDOUT, "ETIMEDOUT" },
  { EPROTONOSUPPORT, "EPROTONOSUPPORT" },
  { ENOENT, "ENOENT" },
  { ENOMEM, "ENOMEM" },
  { ESHUTDOWN, "ESHUTDOWN" },
  { EBUSY, "EBUSY" },
  { EIO, "EIO" },
};

const char *
asyncrt__endpoint_status_from_errno (int err)
{
  if (err == 0)
    return "ok";
  if (err == 1)
    return "incomplete";
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
    if (-err == statuses[i].err)
      return statuses[i].name;
  return "EIO";
}

int
asyncrt__endpoint_status_to_errno (const char *status)
{
  if (status == NULL)
    return -EIO;
  if (strcmp (status, "ok") == 0)
    return 0;
  if (strcmp (status, "incomplete") == 0)
    return 1;
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
    if (strcmp (status, statuses[i].name) == 0)
      return -statuses[i].err;
  return -EIO;
}
