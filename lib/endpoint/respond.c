/* libasyncrt - carrying out an endpoint request: dumps (text, JSON, folded stacks,
 * pprof), lists of the process's runtimes, and watches (two dumps compared)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Runs on the service thread (or any thread that is not a worker of the runtimes it
 * dumps), one request at a time.  The runtimes come from a registry snapshot, which
 * holds a reference on each, so a runtime freed meanwhile only makes its dump fail
 * with -ESHUTDOWN.  Dumps are taken with the public blocking asyncrt_handle_dump_full()
 * (with the request's filters), one runtime after the other, all within the request's
 * one deadline.  Folded stacks and pprof profiles of several runtimes are one body
 * each (lib/dump/export-private.h).
 *
 * A watch has state: its first dumps (AsyncrtEndpointWatch), which the connection
 * owns (client.c) until the interval has passed and asyncrt__endpoint_watch_finish()
 * takes the second dumps and compares them (asyncrt_dump_progress_new()).  Runtimes
 * are matched by their registry serial, so a runtime freed and rebuilt under the same
 * name in between is reported gone and new, never compared with its predecessor.
 */
#include "endpoint/endpoint-private.h"
#include "scheduler/registry-private.h"
#include "dump/export-private.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
append_json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if (*p < 0x20 || *p == 0x7f)
        g_string_append_printf (out, "\\u%04x", *p);
      else if (*p < 0x80)
        g_string_append_c (out, (char) *p);
      else
        g_string_append_printf (out, "\\u%04x", 0xfffd);   /* keep the output ASCII */
    }
  g_string_append_c (out, '"');
}

static void
append_process_json (GString *out)
{
  g_string_append_printf (out, "\"version\":1,\"pid\":%ld,\"program\":", (long) getpid ());
  append_json_string (out, program_invocation_short_name);
  g_string_append_printf (out, ",\"library_version\":\"%u.%u.%u\"",
                          asyncrt_get_major_version (), asyncrt_get_minor_version (),
                          asyncrt_get_micro_version ());
}

static void
append_list (GString *out, const AsyncrtRuntimeInfo *infos, size_t n, bool json)
{
  if (json)
    {
      g_string_append_c (out, '{');
      append_process_json (out);
      g_string_append (out, ",\"runtimes\":[");
      for (size_t i = 0; i < n; i++)
        g_string_append_printf (out, "%s{\"name\":\"%s\",\"serial\":%" G_GUINT64_FORMAT
                                ",\"flavour\":\"%s\",\"workers\":%u,\"tasks\":%zu}",
                                i > 0 ? "," : "", infos[i].name, infos[i].serial,
                                infos[i].flavour, infos[i].n_workers,
                                asyncrt__registry_n_tasks (infos[i].handle));
      g_string_append (out, "]}\n");
      return;
    }
  char prog[300];
  asyncrt__escape_value (program_invocation_short_name, prog, sizeof prog);
  g_string_append_printf (out, "process %ld (%s), libasyncrt %u.%u.%u: %zu runtime%s\n",
                          (long) getpid (), prog, asyncrt_get_major_version (),
                          asyncrt_get_minor_version (), asyncrt_get_micro_version (), n,
                          n == 1 ? "" : "s");
  if (n == 0)
    return;
  g_string_append_printf (out, "%-24s %6s  %-14s %7s %9s\n", "NAME", "SERIAL", "FLAVOUR",
                          "WORKERS", "TASKS");
  for (size_t i = 0; i < n; i++)
    g_string_append_printf (out, "%-24s %6" G_GUINT64_FORMAT "  %-14s %7u %9zu\n",
                            infos[i].name, infos[i].serial, infos[i].flavour,
                            infos[i].n_workers, asyncrt__registry_n_tasks (infos[i].handle));
}

static const char *
error_name (int r)
{
  switch (r)
    {
    case -ESHUTDOWN:
      return "ESHUTDOWN";
    case -ETIMEDOUT:
      return "ETIMEDOUT";
    case -EDEADLK:
      return "EDEADLK";
    case -ENOMEM:
      return "ENOMEM";
    default:
      return "EIO";
    }
}

typedef enum
{
  FORMAT_TEXT,
  FORMAT_JSON,
  FORMAT_FOLDED,
  FORMAT_PPROF
} Format;

/* The formats a request may name: what asyncrt_dump_format() is asked for (TEXT and
 * JSON), or the forms of several dumps at once (FOLDED, PPROF). */
typedef struct
{
  const char *name;
  Format kind;
  AsyncrtDumpFormat format;
  unsigned flags;
} FormatName;

static const FormatName formats[] = {
  { "text", FORMAT_TEXT, ASYNCRT_DUMP_FORMAT_TEXT, 0 },
  { "json", FORMAT_JSON, ASYNCRT_DUMP_FORMAT_JSON, 0 },
  { "text-grouped", FORMAT_TEXT, ASYNCRT_DUMP_FORMAT_TEXT, ASYNCRT_DUMP_GROUP },
  { "json-grouped", FORMAT_JSON, ASYNCRT_DUMP_FORMAT_JSON, ASYNCRT_DUMP_GROUP },
  { "folded", FORMAT_FOLDED, ASYNCRT_DUMP_FORMAT_TEXT, 0 },
  { "pprof", FORMAT_PPROF, ASYNCRT_DUMP_FORMAT_TEXT, 0 },
};

/* The formats of each command (dump: all; list: the text and JSON ones; watch: text
 * and json); -EINVAL (with a reason in @body) for another. */
static int
format_of (const AsyncrtEndpointRequest *req, GString *body, const FormatName **out)
{
  size_t n = req->command == ASYNCRT_ENDPOINT_COMMAND_DUMP ? G_N_ELEMENTS (formats)
             : req->command == ASYNCRT_ENDPOINT_COMMAND_LIST ? 4 : 2;
  for (size_t i = 0; i < n; i++)
    if (strcmp (req->format, formats[i].name) == 0)
      {
        if (req->task_names && formats[i].kind != FORMAT_FOLDED)
          {
            g_string_append (body, "task-names=1 needs format=folded\n");
            return -EINVAL;
          }
        *out = &formats[i];
        return 0;
      }
  g_string_append_printf (body, "unknown format '%s' for %s (this library has: ", req->format,
                          req->command == ASYNCRT_ENDPOINT_COMMAND_DUMP ? "dump"
                          : req->command == ASYNCRT_ENDPOINT_COMMAND_WATCH ? "watch" : "list");
  for (size_t i = 0; i < n; i++)
    g_string_append_printf (body, "%s%s", i > 0 ? ", " : "", formats[i].name);
  g_string_append (body, ")\n");
  return -EINVAL;
}

/* The wait kinds named in @list (comma-separated); false (and the reason in @body, if
 * not NULL) for a name this library does not know. */
static bool
wait_kinds_of (const char *list, GString *body, uint64_t *ret)
{
  uint64_t kinds = 0;
  char **names = g_strsplit (list, ",", -1);
  bool ok = true;
  for (char **n = names; ok && *n != NULL && **n != '\0'; n++)
    {
      bool found = false;
      for (unsigned k = 0; k < 64 && !found; k++)
        if (k == ASYNCRT_WAIT_UNKNOWN
            || strcmp (asyncrt_wait_kind_to_string ((AsyncrtWaitKind) k), "unknown") != 0)
          if (strcmp (*n, asyncrt_wait_kind_to_string ((AsyncrtWaitKind) k)) == 0)
            {
              kinds |= ASYNCRT_WAIT_KIND_BIT (k);
              found = true;
            }
      if (!found)
        {
          ok = false;
          if (body != NULL)
            {
              g_string_append_printf (body, "unknown wait kind '%s' (this library has:", *n);
              for (unsigned k = 0; k < 64; k++)
                if (k == ASYNCRT_WAIT_UNKNOWN
                    || strcmp (asyncrt_wait_kind_to_string ((AsyncrtWaitKind) k), "unknown") != 0)
                  g_string_append_printf (body, " %s", asyncrt_wait_kind_to_string ((AsyncrtWaitKind) k));
              g_string_append (body, ")\n");
            }
        }
    }
  g_strfreev (names);
  if (ok)
    *ret = kinds;
  return ok;
}

/* The request's filters as dump options (NULL: none); its wait kinds were checked. */
static AsyncrtDumpOptions *
options_of (const AsyncrtEndpointRequest *req)
{
  AsyncrtDumpOptions *o = asyncrt_dump_options_new ();
  uint64_t kinds = 0;
  if (req->wait[0] != '\0' && wait_kinds_of (req->wait, NULL, &kinds))
    asyncrt_dump_options_set_wait_kinds (o, kinds);
  if (req->name[0] != '\0')
    asyncrt_dump_options_set_name_pattern (o, req->name);
  asyncrt_dump_options_set_states (o, req->states);
  asyncrt_dump_options_set_min_idle_ns (o, req->min_idle_ms * 1000000u);
  asyncrt_dump_options_set_descendants_of (o, req->task);
  if (!asyncrt_dump_options_is_filtered (o))
    {
      asyncrt_dump_options_free (o);
      return NULL;
    }
  return o;
}

/* Dumps each runtime of @infos within one deadline: dumps[i] or errors[i] (< 0). */
static void
take_dumps (const AsyncrtRuntimeInfo *infos, size_t n, const AsyncrtDumpOptions *opts,
            unsigned timeout_ms, AsyncrtDump **dumps, int *errors)
{
  const uint64_t deadline = asyncrt__clock_now_ms () + timeout_ms;
  for (size_t i = 0; i < n; i++)
    {
      uint64_t now = asyncrt__clock_now_ms ();
      unsigned left = now < deadline ? (unsigned) (deadline - now) : 0;
      dumps[i] = NULL;
      errors[i] = asyncrt_handle_dump_full (infos[i].handle, left, opts, &dumps[i]);
    }
}

static void
append_runtime_json (GString *out, size_t i, const char *name, uint64_t serial,
                     const char *flavour, unsigned n_workers)
{
  g_string_append_printf (out, "%s{\"name\":\"%s\",\"serial\":%" G_GUINT64_FORMAT
                          ",\"flavour\":\"%s\",\"workers\":%u,\"error\":",
                          i > 0 ? "," : "", name, serial, flavour, n_workers);
}

static void
append_runtime_text (GString *out, const char *name, const char *flavour, unsigned n_workers)
{
  g_string_append_printf (out, "==== runtime \"%s\" (%s, %u worker%s) ====\n", name, flavour,
                          n_workers, n_workers == 1 ? "" : "s");
}

/* Returns 0 if every dump is complete, 1 otherwise, -ENOMEM / -EIO if a pprof
 * profile could not be built. */
static int
append_dumps (GString *out, const AsyncrtRuntimeInfo *infos, size_t n, const FormatName *format,
              const AsyncrtEndpointRequest *req)
{
  AsyncrtDumpOptions *opts = options_of (req);
  AsyncrtDump **dumps = g_new0 (AsyncrtDump *, n + 1);
  int *errors = g_new0 (int, n + 1);
  take_dumps (infos, n, opts, req->timeout_ms, dumps, errors);
  asyncrt_dump_options_free (opts);
  bool complete = true;
  /* The dumps taken, in order, for the formats that merge them. */
  AsyncrtDump **taken = g_new0 (AsyncrtDump *, n + 1);
  size_t n_taken = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (errors[i] == 0 && !asyncrt_dump_is_complete (dumps[i]))
        complete = false;
      /* A runtime freed while the request ran is simply gone; any other failure makes
       * the answer incomplete. */
      if (errors[i] < 0 && errors[i] != -ESHUTDOWN)
        complete = false;
      if (errors[i] == 0)
        taken[n_taken++] = dumps[i];
    }
  int status = complete ? 0 : 1;
  if (format->kind == FORMAT_FOLDED)
    asyncrt__dump_append_folded (out, taken, n_taken,
                                 req->task_names ? ASYNCRT_DUMP_FOLDED_TASK_NAMES : 0);
  else if (format->kind == FORMAT_PPROF)
    {
      GByteArray *bytes = g_byte_array_new ();
      int r = asyncrt__dump_pprof_build (taken, n_taken, bytes);
      if (r < 0)
        {
          g_string_append (out, "the profile could not be built\n");
          status = r;
        }
      else
        g_string_append_len (out, (const char *) bytes->data, (gssize) bytes->len);
      g_byte_array_unref (bytes);
    }
  else
    {
      bool json = format->kind == FORMAT_JSON;
      if (json)
        {
          g_string_append_c (out, '{');
          append_process_json (out);
          g_string_append (out, ",\"runtimes\":[");
        }
      else if (n == 0)
        g_string_append_printf (out, "process %ld has no runtime\n", (long) getpid ());
      for (size_t i = 0; i < n; i++)
        {
          const AsyncrtRuntimeInfo *rt = &infos[i];
          int r = errors[i];
          char *text = r == 0 ? asyncrt_dump_format (dumps[i], format->format, format->flags)
                                 : NULL;
          if (json)
            {
              append_runtime_json (out, i, rt->name, rt->serial, rt->flavour, rt->n_workers);
              if (r < 0)
                g_string_append_printf (out, "\"%s\",\"dump\":null}", error_name (r));
              else
                g_string_append_printf (out, "null,\"dump\":%s}", text != NULL ? text : "null");
            }
          else
            {
              append_runtime_text (out, rt->name, rt->flavour, rt->n_workers);
              if (r < 0)
                g_string_append_printf (out, "(no dump: %s, %s)\n", error_name (r),
                                        g_strerror (-r));
              else if (text != NULL)
                g_string_append (out, text);
            }
          free (text);
        }
      if (json)
        g_string_append_printf (out, "],\"complete\":%s}\n", complete ? "true" : "false");
    }
  for (size_t i = 0; i < n; i++)
    asyncrt_dump_free (dumps[i]);
  g_free (taken);
  g_free (dumps);
  g_free (errors);
  return status;
}

/* ---- watches -------------------------------------------------------------------------- */

typedef struct
{
  uint64_t serial;
  char *name;
  const char *flavour;         /* static */
  unsigned n_workers;
  AsyncrtDump *first;          /* NULL: see error */
  int error;
} WatchedRuntime;

struct _AsyncrtEndpointWatch
{
  AsyncrtEndpointRequest req;
  const FormatName *format;
  size_t n;
  WatchedRuntime *runtimes;
};

void
asyncrt__endpoint_watch_free (AsyncrtEndpointWatch *w)
{
  if (w == NULL)
    return;
  for (size_t i = 0; i < w->n; i++)
    {
      g_free (w->runtimes[i].name);
      asyncrt_dump_free (w->runtimes[i].first);
    }
  g_free (w->runtimes);
  g_free (w);
}

unsigned
asyncrt__endpoint_watch_get_interval_ms (const AsyncrtEndpointWatch *w)
{
  return w->req.interval_ms;
}

static AsyncrtEndpointWatch *
watch_begin (const AsyncrtEndpointRequest *req, const FormatName *format, const AsyncrtRuntimeInfo *infos,
             size_t n)
{
  AsyncrtEndpointWatch *w = g_new0 (AsyncrtEndpointWatch, 1);
  w->req = *req;
  w->format = format;
  w->n = n;
  w->runtimes = g_new0 (WatchedRuntime, n + 1);
  AsyncrtDumpOptions *opts = options_of (req);
  AsyncrtDump **dumps = g_new0 (AsyncrtDump *, n + 1);
  int *errors = g_new0 (int, n + 1);
  take_dumps (infos, n, opts, req->timeout_ms, dumps, errors);
  for (size_t i = 0; i < n; i++)
    {
      WatchedRuntime *r = &w->runtimes[i];
      r->serial = infos[i].serial;
      r->name = g_strdup (infos[i].name);
      r->flavour = infos[i].flavour;
      r->n_workers = infos[i].n_workers;
      r->first = dumps[i];
      r->error = errors[i];
    }
  asyncrt_dump_options_free (opts);
  g_free (dumps);
  g_free (errors);
  return w;
}

int
asyncrt__endpoint_watch_finish (AsyncrtEndpointWatch *w, GString *out)
{
  const char *name = w->req.runtime[0] != '\0' ? w->req.runtime : NULL;
  size_t n = 0;
  AsyncrtRuntimeInfo *infos = asyncrt__registry_snapshot (name, &n);
  AsyncrtDump **later = g_new0 (AsyncrtDump *, n + 1);
  int *errors = g_new0 (int, n + 1);
  AsyncrtDumpOptions *opts = options_of (&w->req);
  take_dumps (infos, n, opts, w->req.timeout_ms, later, errors);
  asyncrt_dump_options_free (opts);
  bool json = w->format->kind == FORMAT_JSON;
  bool compared_all = true;
  size_t k = 0;                              /* runtimes listed so far (JSON commas) */
  if (json)
    {
      g_string_append_c (out, '{');
      append_process_json (out);
      g_string_append_printf (out, ",\"interval_ms\":%u,\"runtimes\":[", w->req.interval_ms);
    }
  else if (w->n == 0 && n == 0)
    g_string_append_printf (out, "process %ld has no runtime\n", (long) getpid ());
  for (size_t i = 0; i < w->n; i++)
    {
      const WatchedRuntime *r = &w->runtimes[i];
      size_t j = 0;
      while (j < n && infos[j].serial != r->serial)
        j++;
      int err = r->error < 0 ? r->error : j == n ? -ESHUTDOWN : errors[j];
      AsyncrtDumpProgress *p = NULL;
      if (err == 0)
        err = asyncrt_dump_progress_new (r->first, later[j], &p);
      char *report = p == NULL ? NULL : json ? asyncrt_dump_progress_to_json (p)
                                             : asyncrt_dump_progress_to_string (p, 0);
      if (p == NULL)
        compared_all = false;
      if (json)
        {
          append_runtime_json (out, k++, r->name, r->serial, r->flavour, r->n_workers);
          if (err < 0)
            g_string_append_printf (out, "\"%s\",\"progress\":null}",
                                    j == n ? "gone" : error_name (err));
          else
            g_string_append_printf (out, "null,\"progress\":%s}", report);
        }
      else
        {
          append_runtime_text (out, r->name, r->flavour, r->n_workers);
          if (j == n)
            g_string_append_printf (out, "(no comparison: runtime \"%s\" (serial %" G_GUINT64_FORMAT
                                    ") was freed after the first dump)\n", r->name, r->serial);
          else if (err < 0)
            g_string_append_printf (out, "(no comparison: %s, %s)\n", error_name (err),
                                    g_strerror (-err));
          else
            g_string_append (out, report);
        }
      free (report);
      asyncrt_dump_progress_free (p);
    }
  /* Runtimes built in between: nothing to compare them with. */
  for (size_t j = 0; j < n; j++)
    {
      bool known = false;
      for (size_t i = 0; i < w->n; i++)
        known |= w->runtimes[i].serial == infos[j].serial;
      if (known)
        continue;
      compared_all = false;
      if (json)
        {
          append_runtime_json (out, k++, infos[j].name, infos[j].serial, infos[j].flavour,
                               infos[j].n_workers);
          g_string_append (out, "\"new\",\"progress\":null}");
        }
      else
        {
          append_runtime_text (out, infos[j].name, infos[j].flavour, infos[j].n_workers);
          g_string_append_printf (out, "(no comparison: runtime \"%s\" (serial %" G_GUINT64_FORMAT
                                  ") was built after the first dump)\n", infos[j].name,
                                  infos[j].serial);
        }
    }
  if (json)
    g_string_append_printf (out, "],\"complete\":%s}\n", compared_all ? "true" : "false");
  for (size_t j = 0; j < n; j++)
    asyncrt_dump_free (later[j]);
  g_free (later);
  g_free (errors);
  asyncrt__registry_snapshot_free (infos, n);
  asyncrt__endpoint_watch_free (w);
  return compared_all ? 0 : 1;
}

int
asyncrt__endpoint_respond (const AsyncrtEndpointRequest *req, GString *body,
                           AsyncrtEndpointWatch **ret_watch)
{
  const FormatName *format;
  int r = format_of (req, body, &format);
  if (r < 0)
    return r;
  uint64_t kinds;
  if (req->wait[0] != '\0' && !wait_kinds_of (req->wait, body, &kinds))
    return -EINVAL;
  const char *name = req->runtime[0] != '\0' ? req->runtime : NULL;
  size_t n = 0;
  AsyncrtRuntimeInfo *infos = asyncrt__registry_snapshot (name, &n);
  int status;
  if (name != NULL && n == 0)
    {
      g_string_append_printf (body, "no runtime named '%s' (--list shows the runtimes)\n", name);
      status = -ENOENT;
    }
  else if (req->command == ASYNCRT_ENDPOINT_COMMAND_LIST)
    {
      append_list (body, infos, n, format->kind == FORMAT_JSON);
      status = 0;
    }
  else if (req->command == ASYNCRT_ENDPOINT_COMMAND_WATCH && ret_watch != NULL)
    {
      *ret_watch = watch_begin (req, format, infos, n);
      status = ASYNCRT_ENDPOINT_LATER;
    }
  else if (req->command == ASYNCRT_ENDPOINT_COMMAND_WATCH)
    {
      g_string_append (body, "watch is not served here\n");
      status = -EINVAL;
    }
  else
    status = append_dumps (body, infos, n, format, req);
  asyncrt__registry_snapshot_free (infos, n);
  return status;
}
