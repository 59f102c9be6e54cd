/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_ENDPOINT_H
#define ASYNCRT_ENDPOINT_H

#include <asyncrt/macros.h>

ASYNCRT_BEGIN_DECLS

/**
 * SECTION:endpoint
 * @title: Dumps from outside the process
 * @short_description: asyncrt-dump PID, the dump endpoint, and a dump on a signal
 *
 * The people who need a task dump most often did not write the program: an operator
 * looking at a hung daemon.  Two ways to get one need no code in the program at all;
 * both are off unless enabled, and nothing (no socket, thread or signal handler)
 * exists unless they are.
 *
 * ## The dump endpoint and asyncrt-dump
 *
 * Start the program with `ASYNCRT_DUMP_ENDPOINT=1` in its environment (the variable
 * is read when the program builds its first runtime), or call
 * asyncrt_dump_endpoint_start().  Then, from a shell of the same user or root:
 *
 * |[<!-- language="plain" -->
 * $ asyncrt-dump 4242                 # the text dump of every runtime
 * $ asyncrt-dump --json 4242          # the same as JSON
 * $ asyncrt-dump --list 4242          # the runtimes: name, flavour, workers, tasks
 * $ asyncrt-dump --runtime http --timeout 500 4242
 * $ asyncrt-dump --watch 10 4242       # which tasks made no progress in 10 s?
 * $ asyncrt-dump --name 'conn-*' --min-idle 60 4242
 * $ asyncrt-dump --folded 4242         # flame-graph input
 * $ asyncrt-dump --pprof tasks.pb.gz 4242
 * ]|
 *
 * (`asyncrt-dump` is in the Debian package `asyncrt-tools`; see its manual page for
 * its options and exit statuses.)  Every runtime of the process is registered while
 * it lives, under its name (asyncrt_builder_set_name(); by default `rt-1`, `rt-2`…
 * in the order they were built); a request dumps all of them, or the ones with the
 * name it gives.
 *
 * The endpoint is a Unix stream socket with the <emphasis>abstract</emphasis> name
 * `@asyncrt/PID` (a NUL byte, then `asyncrt/` and the process id in decimal), served
 * by one library thread that is not a worker of any runtime, so it answers when every
 * worker is stuck: such a dump returns by its deadline and reports the workers that
 * did not stop.  The rules it keeps:
 *
 * - <emphasis>Who</emphasis>: the peer's credentials (`SO_PEERCRED`) are checked when
 *   the connection is accepted, before a byte of the request is read; only the
 *   process's effective user and root are served, anyone else gets an `EACCES`
 *   response.  Abstract names are visible to every process of the network namespace:
 *   the check is what keeps them out.  `asyncrt-dump` in turn checks that the socket
 *   belongs to the process it was asked about.  It must run in the program's network
 *   namespace (for a container, e.g. `nsenter -n -t PID asyncrt-dump PID`).
 * - <emphasis>Nothing on disk</emphasis>: an abstract name is dropped by the kernel
 *   with the process, also after `SIGKILL`.
 * - <emphasis>No effect on the program</emphasis>: every descriptor is close-on-exec,
 *   `SIGPIPE` is never raised (sends use `MSG_NOSIGNAL`), no signal handler is
 *   installed for the endpoint, the library's thread runs with every signal blocked,
 *   and there is one extra thread in all (shared with the dump on a signal).  After
 *   fork() the child has no endpoint; it reads the environment again when it builds
 *   its next runtime (and then listens under its own pid, offering only its own
 *   runtimes).
 * - <emphasis>Bounded</emphasis>: a request line is at most 1024 bytes and must arrive
 *   within 5 seconds of connecting; a response must be taken within 30 seconds; at
 *   most 16 connections are open at once (more wait in the listen backlog); requests
 *   are carried out one at a time, each within its dump timeout.  A silent, slow or
 *   malicious client delays the others by at most those bounds and never delays the
 *   program's own threads.
 *
 * ## The protocol, version 1
 *
 * One request per connection.  The client sends one line, ended by a newline (a
 * carriage return before it is allowed), of printable ASCII, at most 1024 bytes:
 *
 * |[<!-- language="plain" -->
 * asyncrt-dump 1 COMMAND [KEY=VALUE]...
 * ]|
 *
 * Fields are separated by exactly one space.  `1` is the protocol version the client
 * speaks.  COMMAND is `dump` (task dumps), `list` (the runtimes) or `watch` (two dumps
 * INTERVAL apart, compared: see below).  The keys, each at most once:
 *
 * - `format=NAME`: `text` (the default), `json`, `text-grouped` or `json-grouped`
 *   (the same with %ASYNCRT_DUMP_GROUP, see asyncrt_dump_format()); for `dump` also
 *   `folded` and `pprof`; other names are reserved for later formats.  A list is JSON
 *   for the JSON formats, text otherwise; a watch is text or JSON.
 * - `timeout=MS` (dump, watch): the deadline of the whole request (of each of the two
 *   rounds of a watch), 0 to 60000 milliseconds (default 2000); the runtimes are
 *   dumped one after the other within it, with asyncrt_handle_dump_full() and its
 *   deadline rule.
 * - `runtime=NAME`: only the runtimes with that name.
 * - Filters (dump, watch; see the filtered dumps section), applied before tracing:
 *   `name=GLOB` (1 to 255 printable ASCII characters without spaces; `*` and `?`),
 *   `state=STATES` (`idle`, `scheduled`, `running`, separated by commas, each at most
 *   once), `min-idle=MS` (milliseconds since the task's last poll started, at most
 *   10^12), `task=ID` (that task and its descendants), `wait=KINDS` (wait kinds as
 *   asyncrt_wait_kind_to_string() names them, separated by commas; applied after
 *   tracing; a name the library does not know is refused with `EINVAL`).
 * - `task-names=0|1` (dump, format=folded only): start every stack with its task's
 *   name.
 * - `interval=MS` (watch): the time between the two dumps, 1 to 600000 milliseconds
 *   (default 5000).
 *
 * Unknown commands and keys are errors, so a client never mistakes an older library
 * ignoring an option for an answer.  The endpoint answers with one header line and a
 * body, then closes the connection:
 *
 * |[<!-- language="plain" -->
 * asyncrt-dump 1 STATUS LENGTH
 * <LENGTH bytes of body>
 * ]|
 *
 * STATUS is `ok`; `incomplete` (the body is the answer, but a dump was not complete —
 * a task not traced, a worker that did not stop — or a runtime could not be dumped);
 * or an error, named after its errno, with a one-line explanation as the body:
 * `EINVAL` (malformed request, unknown command, key or format), `EPROTONOSUPPORT`
 * (another protocol version: the header carries the version the library speaks),
 * `EMSGSIZE` (request line too long), `ETIMEDOUT` (no complete request in time),
 * `EACCES` (the peer may not dump this process), `ENOENT` (no runtime of that name).
 * Clients must treat an unknown STATUS as an error.
 *
 * Bodies: a text dump is, for each runtime, a line
 * `==== runtime "NAME" (FLAVOUR, N workers) ====` followed by
 * asyncrt_dump_to_string() of its dump (asyncrt_dump_format() with %ASYNCRT_DUMP_GROUP
 * for `text-grouped`), or `(no dump: ERROR, reason)`.  A JSON dump is one object,
 * schema version 1, holding each runtime's dump in JSON schema version 2:
 *
 * |[<!-- language="plain" -->
 * { "version": 1, "pid": <n>, "program": <string>, "library_version": "0.2.0",
 *   "runtimes": [ { "name": <string>, "serial": <n>, "flavour": <string>,
 *                   "workers": <n>, "error": null | <errno name>,
 *                   "dump": null | <asyncrt_dump_to_json() of its dump> }, ... ],
 *   "complete": <bool> }
 * ]|
 *
 * A `folded` dump is the folded stacks of every runtime's dump, counted together (the
 * format of `asyncrt-dump --folded`, described in asyncrt-dump(1)); a `pprof` dump is
 * one gzipped profile (asyncrt_dump_write_pprof()) holding the samples of every
 * runtime, each labelled with its runtime's name.
 *
 * A `watch` takes a dump of each runtime (with the filters given), keeps them while
 * the connection waits INTERVAL milliseconds (other connections are served
 * meanwhile; a client that hangs up ends it), takes the second dumps and answers
 * with the comparison of each runtime's two (asyncrt_dump_progress_new()).  Runtimes
 * are matched by their serial: one freed, or built, in between is reported and not
 * compared, and the status is then `incomplete`.  Text: for each runtime its `====`
 * line and asyncrt_dump_progress_to_string() (the tasks that made no progress), or
 * `(no comparison: …)`.  JSON:
 *
 * |[<!-- language="plain" -->
 * { "version": 1, "pid": <n>, "program": <string>, "library_version": "0.2.0",
 *   "interval_ms": <n>,
 *   "runtimes": [ { "name": <string>, "serial": <n>, "flavour": <string>,
 *                   "workers": <n>, "error": null | "gone" | "new" | <errno name>,
 *                   "progress": null | <asyncrt_dump_progress_to_json()> }, ... ],
 *   "complete": <bool> }
 * ]|
 *
 * A list is a table (NAME, SERIAL, FLAVOUR, WORKERS, TASKS) after a line naming the
 * process, or, as JSON, `{ "version": 1, "pid", "program", "library_version",
 * "runtimes": [ { "name", "serial", "flavour", "workers", "tasks" } ] }`.  New members
 * and keys may be added without changing the versions; a change of meaning increments
 * them.
 *
 * ## A dump on a signal
 *
 * `ASYNCRT_DUMP_SIGNAL=USR1` (a name, with or without `SIG`, in any case, `RTMIN+N`,
 * `RTMAX-N`, or a number) in the environment, read when the first runtime is built,
 * makes the library install a handler for that signal that does one thing: an
 * async-signal-safe write() to an eventfd that wakes the library's thread.  That
 * thread then dumps every runtime (timeout 2 seconds) and writes the text dump,
 * between a `==== asyncrt task dump on SIGUSR1 ====` line and a
 * `==== end of asyncrt task dump ====` line, to stderr, or appends it to the file
 * `ASYNCRT_DUMP_FILE` names, where `%p` stands for the process id, `%t` for the time
 * in seconds since the Epoch and `%%` for `%` (as in core(5) patterns); the file is
 * created with mode 0600, must be a regular file and is not followed if it is a
 * symbolic link.  Signals that arrive while a dump is being written are coalesced into
 * one more dump.  Once the handler is installed, the signal never kills the program.
 *
 * The program's own choices win: if the signal already has a handler, or is ignored,
 * when the variable is read, the library leaves it alone and says so once on stderr.
 * `KILL`, `STOP` and the signals that report faults (`SEGV`, `BUS`, `FPE`, `ILL`,
 * `TRAP`, `ABRT`, `SYS`) cannot be used.  A value the library does not understand is
 * reported on stderr and ignored, never fatal; so is any other value of
 * `ASYNCRT_DUMP_ENDPOINT` than `1` or `0`.  In a set-user-ID or set-group-ID program
 * the three variables are ignored (they are read with `secure_getenv`).
 */

ASYNCRT_AVAILABLE_IN_0_2
int asyncrt_dump_endpoint_start (void);

ASYNCRT_AVAILABLE_IN_0_2
void asyncrt_dump_endpoint_stop (void);

ASYNCRT_END_DECLS

#endif /* ASYNCRT_ENDPOINT_H */
