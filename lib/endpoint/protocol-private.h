/* libasyncrt - the dump endpoint's line protocol, version 1 (internal interface)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure functions over bytes: no I/O, no allocation, no global state, no GLib.  The
 * library's endpoint, the asyncrt-dump tool and the fuzzer all compile protocol.c, so
 * it includes nothing of the library but util/name-private.h.  The protocol is
 * specified for users in include/asyncrt/endpoint.h (the reference manual); in
 * short:
 *
 *   request   asyncrt-dump 1 COMMAND [KEY=VALUE]...\n        (at most 1024 bytes)
 *   response  asyncrt-dump 1 STATUS LENGTH\n  then LENGTH bytes of body
 *
 * COMMAND is `dump`, `list` or `watch` (two dumps INTERVAL apart, compared: which
 * tasks made no progress); keys are `format`, `timeout` (dump, watch), `runtime`,
 * the filters `name`, `state`, `min-idle`, `task`, `wait` (dump, watch), `task-names`
 * (dump, format=folded) and `interval` (watch), each at most once; STATUS is `ok`,
 * `incomplete` or an errno name.
 */
#ifndef ASYNCRT_ENDPOINT_PROTOCOL_PRIVATE_H
#define ASYNCRT_ENDPOINT_PROTOCOL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/name-private.h"

#define ASYNCRT_ENDPOINT_MAGIC "asyncrt-dump"
#define ASYNCRT_ENDPOINT_PROTOCOL_VERSION 1u
/* A request line, its newline included, is at most this long. */
#define ASYNCRT_ENDPOINT_REQUEST_MAX 1024u
/* A response header line, its newline included, is at most this long. */
#define ASYNCRT_ENDPOINT_RESPONSE_HEADER_MAX 128u
#define ASYNCRT_ENDPOINT_FORMAT_MAX 31u
#define ASYNCRT_ENDPOINT_STATUS_MAX 31u
#define ASYNCRT_ENDPOINT_TIMEOUT_DEFAULT_MS 2000u
#define ASYNCRT_ENDPOINT_TIMEOUT_MAX_MS 60000u

#define ASYNCRT_ENDPOINT_NAME_PATTERN_MAX 255u
#define ASYNCRT_ENDPOINT_WAIT_KINDS_MAX 255u
#define ASYNCRT_ENDPOINT_MIN_IDLE_MAX_MS 1000000000000u     /* about 31 years */
#define ASYNCRT_ENDPOINT_INTERVAL_DEFAULT_MS 5000u
#define ASYNCRT_ENDPOINT_INTERVAL_MAX_MS 600000u
/* States, as bits (1 << AsyncrtTaskState): idle 1, scheduled 2, running 4. */
#define ASYNCRT_ENDPOINT_STATE_IDLE 1u
#define ASYNCRT_ENDPOINT_STATE_SCHEDULED 2u
#define ASYNCRT_ENDPOINT_STATE_RUNNING 4u
#define ASYNCRT_ENDPOINT_STATE_ALL 7u

typedef enum
{
  ASYNCRT_ENDPOINT_COMMAND_DUMP = 1,
  ASYNCRT_ENDPOINT_COMMAND_LIST = 2,
  ASYNCRT_ENDPOINT_COMMAND_WATCH = 3
} AsyncrtEndpointCommand;

typedef struct
{
  unsigned version;                                /* as sent (always 1 once parsed) */
  AsyncrtEndpointCommand command;
  char format[ASYNCRT_ENDPOINT_FORMAT_MAX + 1];    /* [a-z0-9-]+; default "text" */
  unsigned timeout_ms;                             /* dump, watch: 0..TIMEOUT_MAX_MS */
  char runtime[ASYNCRT_RUNTIME_NAME_MAX + 1];      /* "" = every runtime */
  /* Filters (dump, watch). */
  char name[ASYNCRT_ENDPOINT_NAME_PATTERN_MAX + 1]; /* a glob of printable ASCII without
                                                       spaces; "" = any name */
  unsigned states;                                 /* ASYNCRT_ENDPOINT_STATE_*, never 0;
                                                      default ALL */
  uint64_t min_idle_ms;                            /* 0 = no minimum */
  uint64_t task;                                   /* a task and its descendants; 0 = any */
  char wait[ASYNCRT_ENDPOINT_WAIT_KINDS_MAX + 1];  /* wait kind names, comma-separated
                                                      ([a-z_]+ each; the library knows
                                                      which exist); "" = any */
  bool task_names;                                 /* dump, format=folded: prefix stacks */
  unsigned interval_ms;                            /* watch: 1..INTERVAL_MAX_MS */
} AsyncrtEndpointRequest;

/* Sets the defaults: a dump of every runtime, as text, with the default timeout. */
void asyncrt__endpoint_request_init (AsyncrtEndpointRequest *req,
                                     AsyncrtEndpointCommand command);

/* Parses one request line of @len bytes (without its '\n'; one trailing '\r' is
 * allowed).  Returns 0 and fills @out; -EINVAL if the line is malformed (@err, if
 * not NULL, says why, NUL-terminated within @err_size); -EPROTONOSUPPORT if the line
 * is well formed but speaks another protocol version.  @out is written only on
 * success. */
int asyncrt__endpoint_request_parse (const char *line, size_t len,
                                     AsyncrtEndpointRequest *out,
                                     char *err, size_t err_size);

/* Writes @req as a request line with its '\n' and a NUL into @buf.  Returns the
 * length (without the NUL), or -EINVAL if @req is not valid, -ENOSPC if @size is too
 * small. */
int asyncrt__endpoint_request_format (const AsyncrtEndpointRequest *req,
                                      char *buf, size_t size);

/* Incremental reading of one line, at most @max bytes with its '\n'
 * (ASYNCRT_ENDPOINT_REQUEST_MAX for requests). */
typedef enum
{
  ASYNCRT_ENDPOINT_READ_MORE,      /* no newline yet */
  ASYNCRT_ENDPOINT_READ_LINE,      /* buf[0 .. len) is the line, without its '\n' */
  ASYNCRT_ENDPOINT_READ_TOO_LONG   /* max bytes without a newline: give up */
} AsyncrtEndpointReadResult;

typedef struct
{
  char buf[ASYNCRT_ENDPOINT_REQUEST_MAX];
  size_t len;                  /* bytes kept in buf */
  size_t max;                  /* <= sizeof buf */
  AsyncrtEndpointReadResult state;
} AsyncrtEndpointReader;

void asyncrt__endpoint_reader_init (AsyncrtEndpointReader *r, size_t max);
/* Feeds @n bytes.  On READ_LINE, *@consumed (if not NULL) is the number of bytes of
 * @data used, the newline included; the rest belongs to what follows the line.
 * Feeding after READ_LINE or READ_TOO_LONG returns the same result again. */
AsyncrtEndpointReadResult asyncrt__endpoint_reader_feed (AsyncrtEndpointReader *r,
                                                         const char *data, size_t n,
                                                         size_t *consumed);

/* Writes a response header line ("asyncrt-dump 1 STATUS LENGTH\n") and a NUL into
 * @buf.  Returns its length, -EINVAL for a bad @status, -ENOSPC if @size is too
 * small. */
int asyncrt__endpoint_response_header_format (char *buf, size_t size,
                                              const char *status, uint64_t length);

/* Parses a response header line of @len bytes (without its '\n').  Returns 0 and
 * writes the status (NUL-terminated, at most ASYNCRT_ENDPOINT_STATUS_MAX bytes) and
 * the body length; -EINVAL if malformed, -EPROTONOSUPPORT for another version.
 * Outputs are written only on success. */
int asyncrt__endpoint_response_header_parse (const char *line, size_t len,
                                             char status[ASYNCRT_ENDPOINT_STATUS_MAX + 1],
                                             uint64_t *length);

/* The status word of a negative errno ("EACCES"...), or "EIO" for one the protocol
 * does not name; and back: the negative errno of a status, 0 for "ok", 1 for
 * "incomplete", -EIO for a word it does not know. */
const char *asyncrt__endpoint_status_from_errno (int err);
int asyncrt__endpoint_status_to_errno (const char *status);

#endif /* ASYNCRT_ENDPOINT_PROTOCOL_PRIVATE_H */
