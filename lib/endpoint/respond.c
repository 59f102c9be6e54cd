/* libasyncrt - carrying out an endpoint request: dumps and lists of the process's
 * runtimes, as text or JSON
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Runs on the service thread (or any thread that is not a worker of the runtimes it
 * dumps), one request at a time; no state of its own.  The runtimes come from a
 * registry snapshot, which holds a reference on each, so a runtime freed meanwhile
 * only makes its dump fail with -ESHUTDOWN.  Dumps are taken with the public blocking
 * asyncrt_handle_dump(), one runtime after the other, all within the request's one
 * deadline.
 */
#include "endpoint/endpoint-private.h"
#include "scheduler/registry-private.h"

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

/* Returns 0 if every dump is complete, 1 otherwise. */
static int
append_dumps (GString *out, const AsyncrtRuntimeInfo *infos, size_t n, bool json,
              unsigned timeout_ms)
{
  const uint64_t deadline = asyncrt__clock_now_ms () + timeout_ms;
  bool complete = true;
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
      uint64_t now = asyncrt__clock_now_ms ();
      unsigned left = now < deadline ? (unsigned) (deadline - now) : 0;
      AsyncrtDump *d = NULL;
      int r = asyncrt_handle_dump (rt->handle, left, &d);
      if (r == 0 && !asyncrt_dump_is_complete (d))
        complete = false;
      /* A runtime freed while the request ran is simply gone; any other failure makes
       * the answer incomplete. */
      if (r < 0 && r != -ESHUTDOWN)
        complete = false;
      char *text = r == 0 ? (json ? asyncrt_dump_to_json (d) : asyncrt_dump_to_string (d)) : NULL;
      if (json)
        {
          g_string_append_printf (out, "%s{\"name\":\"%s\",\"serial\":%" G_GUINT64_FORMAT
                                  ",\"flavour\":\"%s\",\"workers\":%u,\"error\":",
                                  i > 0 ? "," : "", rt->name, rt->serial, rt->flavour,
                                  rt->n_workers);
          if (r < 0)
            g_string_append_printf (out, "\"%s\",\"dump\":null}", error_name (r));
          else
            g_string_append_printf (out, "null,\"dump\":%s}", text != NULL ? text : "null");
        }
      else
        {
          g_string_append_printf (out, "==== runtime \"%s\" (%s, %u worker%s) ====\n", rt->name,
                                  rt->flavour, rt->n_workers, rt->n_workers == 1 ? "" : "s");
          if (r < 0)
            g_string_append_printf (out, "(no dump: %s, %s)\n", error_name (r), g_strerror (-r));
          else if (text != NULL)
            g_string_append (out, text);
        }
      free (text);
      asyncrt_dump_free (d);
    }
  if (json)
    g_string_append_printf (out, "],\"complete\":%s}\n", complete ? "true" : "false");
  return complete ? 0 : 1;
}

int
asyncrt__endpoint_respond (const AsyncrtEndpointRequest *req, GString *body)
{
  bool json = strcmp (req->format, "json") == 0;
  if (!json && strcmp (req->format, "text") != 0)
    {
      g_string_append_printf (body, "unknown format '%s' (this library has: text, json)\n",
                              req->format);
      return -EINVAL;
    }
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
      append_list (body, infos, n, json);
      status = 0;
    }
  else
    status = append_dumps (body, infos, n, json, req->timeout_ms);
  asyncrt__registry_snapshot_free (infos, n);
  return status;
}
