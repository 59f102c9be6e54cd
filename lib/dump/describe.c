/* libasyncrt - a wait in words, for the text form
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One phrase per kind of wait, with its facts, appended after the leaf's line:
 *
 *   └╼ asyncrt_mutex_lock_poll at lib/sync/mutex.c:160:7 — waits for mutex "store"
 *      held by task 2 for 490.127 ms (waiting 482.856 ms)
 *
 * (on one line).  Object names come from the program: escaped like every
 * program-supplied string (asyncrt__text_append_escaped).  Threads: reads only.
 */
#include "dump/dump-private.h"
#include "dump/buf-private.h"
#include "trace/trace-private.h"

#include <signal.h>
#include <string.h>

void
asyncrt__dump_append_duration (GString *out, uint64_t ns)
{
  /* Rounded to the nearest thousandth of the unit, without printf (once per task). */
  if (ns >= 1000000000u)
    {
      asyncrt__buf_append_milli (out, ns / 1000000u + (ns % 1000000u >= 500000u));
      ASYNCRT_GSTRING_APPEND_LIT (out, " s");
    }
  else if (ns >= 1000000u)
    {
      asyncrt__buf_append_milli (out, ns / 1000u + (ns % 1000u >= 500u));
      ASYNCRT_GSTRING_APPEND_LIT (out, " ms");
    }
  else
    {
      asyncrt__buf_append_milli (out, ns);
      ASYNCRT_GSTRING_APPEND_LIT (out, " us");
    }
}

void
asyncrt__dump_append_ids (GString *out, const AsyncrtTaskId *ids, size_t n, size_t limit)
{
  for (size_t i = 0; i < n && i < limit; i++)
    {
      if (i > 0)
        g_string_append_len (out, ", ", 2);
      asyncrt__buf_append_u64 (out, ids[i]);
    }
  if (n > limit)
    g_string_append_printf (out, ", … (%zu more)", n - limit);
}

static bool
fact (const AsyncrtWait *w, AsyncrtWaitFact f, int64_t *v)
{
  return asyncrt_wait_get_fact (w, f, v) == 0;
}

/* `mutex "store"` or `mutex 0x55d0c0de1234`; just the noun without the object. */
static void
append_object (GString *out, const char *noun, const AsyncrtWait *w, bool with_object)
{
  g_string_append (out, noun);
  if (!with_object)
    return;
  if (w->name != NULL)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, " \"");
      asyncrt__text_append_escaped (out, w->name, true);
      g_string_append_c (out, '"');
    }
  else if (w->object != 0)
    g_string_append_printf (out, " 0x%" G_GINT64_MODIFIER "x", (guint64) w->object);
}

static void
append_holder (GString *out, const AsyncrtWait *w, bool with_object)
{
  if (!with_object)
    return;
  if (w->holder_id != 0)
    g_string_append_printf (out, " held by task %" G_GUINT64_FORMAT, w->holder_id);
}

static void
append_channel (GString *out, const AsyncrtWait *w, bool with_object, bool recv)
{
  int64_t len = 0, cap = 0, senders = 0, closed = 0;
  bool has_len = fact (w, ASYNCRT_WAIT_FACT_LENGTH, &len);
  fact (w, ASYNCRT_WAIT_FACT_CAPACITY, &cap);
  bool has_senders = fact (w, ASYNCRT_WAIT_FACT_SENDERS, &senders);
  fact (w, ASYNCRT_WAIT_FACT_CLOSED, &closed);
  g_string_append (out, recv ? "waits for a message on " : "waits for room on ");
  append_object (out, "channel", w, with_object);
  if (!with_object || !has_len)
    return;
  ASYNCRT_GSTRING_APPEND_LIT (out, " (");
  if (cap > 0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " queued", len, cap);
  else
    g_string_append_printf (out, "%" G_GINT64_FORMAT " queued, unbounded", len);
  if (has_senders)
    g_string_append_printf (out, ", %" G_GINT64_FORMAT " sender%s", senders,
                            senders == 1 ? "" : "s");
  if (closed)
    ASYNCRT_GSTRING_APPEND_LIT (out, ", closed");
  g_string_append_c (out, ')');
}

static void
append_semaphore (GString *out, const AsyncrtWait *w, bool with_object)
{
  int64_t requested = 1, avail = 0, permits = 0, others = 1, closed = 0;
  fact (w, ASYNCRT_WAIT_FACT_REQUESTED, &requested);
  g_string_append_printf (out, "waits for %" G_GINT64_FORMAT " permit%s of ", requested,
                          requested == 1 ? "" : "s");
  append_object (out, "semaphore", w, with_object);
  if (!with_object || !fact (w, ASYNCRT_WAIT_FACT_AVAILABLE, &avail))
    return;
  fact (w, ASYNCRT_WAIT_FACT_HOLDER_PERMITS, &permits);
  fact (w, ASYNCRT_WAIT_FACT_OTHER_HOLDERS, &others);
  fact (w, ASYNCRT_WAIT_FACT_CLOSED, &closed);
  g_string_append_printf (out, " (%" G_GINT64_FORMAT " available", avail);
  if (w->holder_id != 0)
    g_string_append_printf (out, "; held by task %" G_GUINT64_FORMAT " (%" G_GINT64_FORMAT
                            " permit%s)%s", w->holder_id, permits, permits == 1 ? "" : "s",
                            others ? " and others not recorded" : "");
  else if (others)
    ASYNCRT_GSTRING_APPEND_LIT (out, "; holders not recorded");
  if (closed)
    ASYNCRT_GSTRING_APPEND_LIT (out, ", closed");
  g_string_append_c (out, ')');
}

static const char *
signal_name (int64_t signo)
{
  static const struct { int signo; const char *name; } names[] = {
    { SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" },
    { SIGUSR1, "SIGUSR1" }, { SIGUSR2, "SIGUSR2" }, { SIGPIPE, "SIGPIPE" },
    { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" }, { SIGCHLD, "SIGCHLD" },
    { SIGWINCH, "SIGWINCH" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    if (names[i].signo == signo)
      return names[i].name;
  return NULL;
}

static void
append_signal (GString *out, const AsyncrtWait *w, bool with_object)
{
  int64_t signo;
  ASYNCRT_GSTRING_APPEND_LIT (out, "waits for a signal");
  if (!with_object || !fact (w, ASYNCRT_WAIT_FACT_SIGNAL, &signo))
    return;
  g_string_append_printf (out, " %" G_GINT64_FORMAT, signo);
  const char *name = signal_name (signo);
  if (name != NULL)
    g_string_append_printf (out, " (%s)", name);
}

void
asyncrt__dump_append_wait_text (GString *out, const AsyncrtWait *w, unsigned flags)
{
  int64_t v = 0;
  bool with_object = (flags & WAIT_TEXT_OBJECT) != 0;
  switch (w->kind)
    {
    case ASYNCRT_WAIT_YIELD:
      ASYNCRT_GSTRING_APPEND_LIT (out, "yields (runs again at once)");
      break;
    case ASYNCRT_WAIT_SLEEP:
      ASYNCRT_GSTRING_APPEND_LIT (out, "sleeps");
      if (with_object && fact (w, ASYNCRT_WAIT_FACT_REMAINING_NS, &v))
        {
          if (v == INT64_MAX)
            ASYNCRT_GSTRING_APPEND_LIT (out, ", no deadline");
          else if (v >= 0)
            {
              ASYNCRT_GSTRING_APPEND_LIT (out, ", ");
              asyncrt__dump_append_duration (out, (uint64_t) v);
              ASYNCRT_GSTRING_APPEND_LIT (out, " left");
            }
          else
            {
              ASYNCRT_GSTRING_APPEND_LIT (out, ", deadline passed ");
              asyncrt__dump_append_duration (out, (uint64_t) -v);
              ASYNCRT_GSTRING_APPEND_LIT (out, " ago");
            }
        }
      break;
    case ASYNCRT_WAIT_FD:
      {
        int64_t dir = 0;
        fact (w, ASYNCRT_WAIT_FACT_DIRECTION, &dir);
        ASYNCRT_GSTRING_APPEND_LIT (out, "waits for fd");
        if (with_object && fact (w, ASYNCRT_WAIT_FACT_FD, &v))
          g_string_append_printf (out, " %" G_GINT64_FORMAT, v);
        g_string_append (out, dir == ASYNCRT_WAIT_DIRECTION_WRITE ? " to be writable"
                              : dir == ASYNCRT_WAIT_DIRECTION_READ ? " to be readable" : "");
      }
      break;
    case ASYNCRT_WAIT_NOTIFY:
      ASYNCRT_GSTRING_APPEND_LIT (out, "waits for ");
      append_object (out, "notify", w, with_object);
      break;
    case ASYNCRT_WAIT_ONESHOT:
      ASYNCRT_GSTRING_APPEND_LIT (out, "waits for ");
      append_object (out, "oneshot", w, with_object);
      if (with_object && fact (w, ASYNCRT_WAIT_FACT_SENDERS, &v))
        g_string_append (out, v ? " (sender alive)" : " (sender gone)");
      break;
    case ASYNCRT_WAIT_MPSC_RECV:
      append_channel (out, w, with_object, true);
      break;
    case ASYNCRT_WAIT_MPSC_SEND:
      append_channel (out, w, with_object, false);
      break;
    case ASYNCRT_WAIT_SEMAPHORE:
      append_semaphore (out, w, with_object);
      break;
    case ASYNCRT_WAIT_MUTEX:
      ASYNCRT_GSTRING_APPEND_LIT (out, "waits for ");
      append_object (out, "mutex", w, with_object);
      if (!with_object)
        break;
      if (w->holder_id != 0)
        {
          g_string_append_printf (out, " held by task %" G_GUINT64_FORMAT, w->holder_id);
          if (fact (w, ASYNCRT_WAIT_FACT_HELD_NS, &v))
            {
              ASYNCRT_GSTRING_APPEND_LIT (out, " for ");
              asyncrt__dump_append_duration (out, (uint64_t) v);
            }
        }
      else if (fact (w, ASYNCRT_WAIT_FACT_AVAILABLE, &v) && v == 0)
        ASYNCRT_GSTRING_APPEND_LIT (out, " held outside any task");
      break;
    case ASYNCRT_WAIT_JOIN:
      if (w->holder_id != 0 && with_object)
        g_string_append_printf (out, "waits for task %" G_GUINT64_FORMAT " to finish",
                                w->holder_id);
      else
        ASYNCRT_GSTRING_APPEND_LIT (out, "waits for a task to finish");
      break;
    case ASYNCRT_WAIT_BLOCKING:
      ASYNCRT_GSTRING_APPEND_LIT (out, "waits for a blocking call");
      if (with_object && fact (w, ASYNCRT_WAIT_FACT_RUNNING, &v))
        g_string_append (out, v ? " (running on the blocking pool)" : " (queued)");
      break;
    case ASYNCRT_WAIT_DUMP:
      ASYNCRT_GSTRING_APPEND_LIT (out, "waits for a task dump");
      break;
    case ASYNCRT_WAIT_JOIN_SET:
      ASYNCRT_GSTRING_APPEND_LIT (out, "waits for the next task of ");
      if (with_object && fact (w, ASYNCRT_WAIT_FACT_GROUP_ID, &v))
        g_string_append_printf (out, "join set %" G_GINT64_FORMAT, v);
      else
        ASYNCRT_GSTRING_APPEND_LIT (out, "a join set");
      if (with_object && fact (w, ASYNCRT_WAIT_FACT_MEMBERS, &v))
        g_string_append_printf (out, " (%" G_GINT64_FORMAT " member%s)", v, v == 1 ? "" : "s");
      break;
    case ASYNCRT_WAIT_CANCELLED:
      ASYNCRT_GSTRING_APPEND_LIT (out, "waits for ");
      append_object (out, "cancellation token", w, with_object);
      break;
    case ASYNCRT_WAIT_SIGNAL:
      append_signal (out, w, with_object);
      break;
    case ASYNCRT_WAIT_UNKNOWN:
    default:
      if (w->name == NULL && w->object == 0 && w->holder_id == 0)
        return;                       /* a leaf that said nothing: no phrase */
      ASYNCRT_GSTRING_APPEND_LIT (out, "waits for ");
      append_object (out, "an object", w, with_object);
      append_holder (out, w, with_object);
      break;
    }
  if (!with_object)
    return;
  if (fact (w, ASYNCRT_WAIT_FACT_READY, &v) && v)
    ASYNCRT_GSTRING_APPEND_LIT (out, " (ready: runs next)");
  else if ((flags & WAIT_TEXT_WAITED) && w->since_ns != 0 && w->waited_ns != 0)
    {
      ASYNCRT_GSTRING_APPEND_LIT (out, ", waiting ");
      asyncrt__dump_append_duration (out, w->waited_ns);
    }
}
