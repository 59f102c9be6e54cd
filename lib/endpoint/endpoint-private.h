/* libasyncrt - dumps from outside the process: the dump endpoint and dump on a signal
 * (internal interface)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * endpoint.c  the public start/stop, the environment (read when the first runtime is
 *             built), the one service thread's life, the listening socket, fork
 * service.c   the service thread: one poll() loop over the stop eventfd, the signal
 *             eventfd, the listening socket and up to ASYNCRT_ENDPOINT_MAX_CLIENTS
 *             connections, each with a deadline
 * client.c    one connection: peer credentials, reading the request line, writing
 *             the response, without ever blocking
 * respond.c   a parsed request -> status and body (dumps every runtime or one as
 *             text, JSON, folded stacks or pprof, lists, watches)
 * signal.c    ASYNCRT_DUMP_SIGNAL / ASYNCRT_DUMP_FILE: parsing, the handler (one
 *             write to an eventfd), writing the dump when the service thread wakes
 * protocol.c  the line protocol (pure; also compiled into asyncrt-dump and the fuzzer)
 *
 * Other modules use only asyncrt__endpoint_runtime_built() (the registry calls it).
 * The endpoint uses the rest of the library through the public API and two documented
 * interfaces: the registry's (scheduler/registry-private.h) and lib/dump's formats
 * for several dumps at once (dump/export-private.h), never another module's
 * internals; its messages, output and signal names are lib/util's
 * (util/util-private.h).
 *
 * Threads: the state in endpoint.c is guarded by its lock, which the service thread
 * never takes (start/stop join the thread while holding it).  The service thread's
 * configuration (its descriptors, the signal module's settings) is fixed before the
 * thread is created and is not changed while it runs: every change stops the thread,
 * changes, and starts a new one.
 */
#ifndef ASYNCRT_ENDPOINT_PRIVATE_H
#define ASYNCRT_ENDPOINT_PRIVATE_H

#include "util/common-private.h"
#include "endpoint/protocol-private.h"
#include "util/util-private.h"

#include <glib.h>
#include <stdarg.h>

/* Limits of the endpoint (documented in include/asyncrt/endpoint.h). */
#define ASYNCRT_ENDPOINT_MAX_CLIENTS 16
#define ASYNCRT_ENDPOINT_BACKLOG 16
#define ASYNCRT_ENDPOINT_READ_TIMEOUT_MS 5000u      /* accept -> complete request */
#define ASYNCRT_ENDPOINT_WRITE_TIMEOUT_MS 30000u    /* response ready -> fully sent */
#define ASYNCRT_DUMP_SIGNAL_TIMEOUT_MS 2000u        /* the dump taken on a signal */
#define ASYNCRT_DUMP_OUTPUT_TIMEOUT_MS 10000u       /* writing it */

/* ---- endpoint.c --------------------------------------------------------------------- */

/* The registry calls this after every runtime is built, with no lock held.  The first
 * call of the process (and the first in a child after fork()) reads the environment
 * and starts what it asks for. */
void asyncrt__endpoint_runtime_built (void);

/* ---- service.c ---------------------------------------------------------------------- */

typedef struct
{
  int stop_fd;       /* eventfd: readable -> the thread exits */
  int listen_fd;     /* the endpoint's listening socket, or -1 */
  int signal_fd;     /* the dump-on-signal eventfd, or -1 */
} AsyncrtServiceConfig;

/* The service thread's function; @data is a g_new'd AsyncrtServiceConfig it frees.
 * It closes every connection it accepted before returning, never the three
 * descriptors of its configuration. */
void *asyncrt__service_main (void *data);

/* ---- client.c ----------------------------------------------------------------------- */

typedef enum
{
  ASYNCRT_CLIENT_READING,      /* waiting for the request line */
  ASYNCRT_CLIENT_WATCHING,     /* a watch: its first dumps taken, waiting for the interval */
  ASYNCRT_CLIENT_WRITING       /* sending the response */
} AsyncrtClientPhase;

/* A watch between its two dumps (respond.c); owned by its connection. */
typedef struct _AsyncrtEndpointWatch AsyncrtEndpointWatch;

typedef struct
{
  int fd;                      /* -1: the slot is free */
  AsyncrtClientPhase phase;
  uint64_t deadline_ms;        /* asyncrt__clock_now_ms() */
  AsyncrtEndpointReader reader;
  char *out;                   /* header + body (g_malloc) */
  size_t out_len, out_off;
  AsyncrtEndpointWatch *watch; /* WATCHING: the first dumps (changed under the fork lock) */
} AsyncrtClient;

/* The connections: a table of ASYNCRT_ENDPOINT_MAX_CLIENTS slots that only the
 * service thread uses, except for fork (below). */
AsyncrtClient *asyncrt__clients_get (size_t i);
size_t asyncrt__clients_count (void);
/* Accepts waiting connections into free slots and checks each peer's credentials
 * before anything is read (a refused peer gets an EACCES response and is closed). */
void asyncrt__clients_accept (int listen_fd);
void asyncrt__client_close (AsyncrtClient *c);
/* I/O is ready (poll said so): reads the request, carries it out, writes the
 * response.  Returns false when the connection is finished and must be closed. */
bool asyncrt__client_on_ready (AsyncrtClient *c);
/* The deadline passed.  Returns false when the connection must be closed. */
bool asyncrt__client_on_deadline (AsyncrtClient *c);
short asyncrt__client_poll_events (const AsyncrtClient *c);

/* fork(): the table's lock is held across fork(); in the child every connection of
 * the parent's thread (which does not exist there) is closed and its buffer freed. */
void asyncrt__clients_atfork_prepare (void);
void asyncrt__clients_atfork_parent (void);
void asyncrt__clients_atfork_child (void);

/* ---- respond.c ---------------------------------------------------------------------- */

/* asyncrt__endpoint_respond(): the watch has begun, the answer comes later. */
#define ASYNCRT_ENDPOINT_LATER 2

/* Carries out @req and appends the body to @body.  Returns 0 (status "ok"), 1
 * ("incomplete": a dump was not complete or a runtime could not be dumped), or a
 * negative errno with a one-line reason in @body: -EINVAL (unknown format, or a watch
 * where @ret_watch is NULL), -ENOENT (no runtime of that name), -ENOMEM / -EIO (a
 * pprof profile could not be built).  A watch takes its first dumps and returns
 * ASYNCRT_ENDPOINT_LATER with *@ret_watch: call asyncrt__endpoint_watch_finish() once
 * its interval has passed.  Runs the dumps on the calling thread. */
int asyncrt__endpoint_respond (const AsyncrtEndpointRequest *req, GString *body,
                               AsyncrtEndpointWatch **ret_watch);
unsigned asyncrt__endpoint_watch_get_interval_ms (const AsyncrtEndpointWatch *w);
/* Takes the second dumps, compares each runtime's two, appends the report and frees
 * @w.  Returns 0, or 1 if some runtime could not be compared (it failed, was freed or
 * built in between). */
int asyncrt__endpoint_watch_finish (AsyncrtEndpointWatch *w, GString *body);
void asyncrt__endpoint_watch_free (AsyncrtEndpointWatch *w);

/* ---- signal.c ----------------------------------------------------------------------- */

/* Expands %p (the pid), %t (seconds since the Epoch) and %% in @pattern into @out.
 * Returns 0, -EINVAL (empty, or % followed by anything else), -ENAMETOOLONG. */
int asyncrt__dump_file_expand (const char *pattern, long pid, long long t,
                               char *out, size_t size);
/* Reads ASYNCRT_DUMP_SIGNAL and ASYNCRT_DUMP_FILE (endpoint.c, under its lock, with
 * the service thread stopped).  Returns true if the signal is armed and the service
 * thread must watch asyncrt__dump_signal_wake_fd(). */
bool asyncrt__dump_signal_arm_from_env (void);
int  asyncrt__dump_signal_wake_fd (void);          /* -1 if not armed */
/* The service thread, when the wake fd is readable: drains it and writes one dump. */
void asyncrt__dump_signal_serve (void);
/* In a child after fork(): the handler stays installed, but stops writing to the
 * eventfd shared with the parent (which is closed); arm again to get a new one. */
void asyncrt__dump_signal_atfork_child (void);

#endif /* ASYNCRT_ENDPOINT_PRIVATE_H */
