/* libasyncrt - dump requests: each runtime's queue of them, and their life
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership and locking.  Each runtime has one AsyncrtDumpQueue (h->dump_queue,
 * created with the handle, freed with its last reference): a mutex, a condition
 * variable (CLOCK_MONOTONIC) broadcast whenever one of its requests changes phase, the
 * request its scheduler is serving (`active`) and the requests waiting for their turn
 * (`waiting`, FIFO).  The mutex guards those and every request's phase, result, error,
 * waker and canceller.  It is never held while calling the scheduler (ops->dump, a
 * canceller), waking a waker, or tracing; nothing else is taken under it.  There is no
 * process-wide dump state: a forked child never inherits one of these locked unless
 * it is a runtime of the parent, which the child must not use (see the dump section).
 *
 * Requests are reference counted (atomic): the requester's reference, and the queue's
 * from submission until the scheduler releases the request (or the requester
 * withdraws it before it was started).  A request holds no handle reference of its
 * own: the requester holds one for as long as it holds the request, and the
 * scheduler's part ends (release) before the runtime can be freed.
 *
 * Phases of a TRACE request and who moves them (all under the queue's mutex):
 *
 *   QUEUED  --(the one before it released)-------------> PENDING   (lib/dump)
 *   QUEUED  --(requester: deadline, shutdown, drop)----> CANCELLED (lib/dump)
 *   PENDING --(scheduler: take)------------------------> TAKEN
 *   PENDING --(scheduler: complete / fail)-------------> DONE      (answered at once)
 *   PENDING --(requester: deadline, shutdown, drop)----> CANCELLED (+ the canceller)
 *   TAKEN   --(scheduler: complete)--------------------> DONE
 *   TAKEN   --(requester: deadline + grace, drop)------> ABANDONED (result freed later)
 *   PENDING / TAKEN --(scheduler releases unanswered)--> DONE, -ESHUTDOWN
 *
 * A CENSUS request is never queued: the requester hands it to ops->dump, which answers
 * it before returning (PENDING -> DONE).
 */
#include "dump/dump-private.h"

#include <string.h>

typedef enum
{
  PHASE_QUEUED,
  PHASE_PENDING,
  PHASE_TAKEN,
  PHASE_DONE,
  PHASE_CANCELLED,
  PHASE_ABANDONED
} Phase;

struct _AsyncrtDumpQueue
{
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool shutdown;                    /* the runtime is shutting down */
  AsyncrtDumpRequest *active;       /* handed to the scheduler, not released yet */
  GQueue waiting;                   /* AsyncrtDumpRequest*, QUEUED, oldest first */
};

struct _AsyncrtDumpRequest
{
  atomic_uint refs;
  /* immutable */
  AsyncrtHandle *h;
  AsyncrtDumpKind kind;
  AsyncrtDumpNoTraceReason census_reason;
  uint64_t deadline_ns;
  uint64_t stop_deadline_ns;
  AsyncrtDumpOptions *options;      /* set before submission (filters), or NULL */
  /* guarded by the queue's lock */
  Phase phase;
  int error;
  AsyncrtDump *result;
  AsyncrtWaker waker;
  AsyncrtDumpCancelFunc cancel;
  void *cancel_data;
  /* the requester's, guarded by the lock: what its last check saw, so the blocking
   * wait sleeps only until something changed */
  Phase seen_phase;
  bool seen_shutdown;
};

/* ---- the queue ----------------------------------------------------------------------- */

AsyncrtDumpQueue *
asyncrt__dump_queue_new (void)
{
  AsyncrtDumpQueue *q = g_new0 (AsyncrtDumpQueue, 1);
  pthread_condattr_t attr;
  pthread_mutex_init (&q->lock, NULL);
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&q->cond, &attr);
  pthread_condattr_destroy (&attr);
  g_queue_init (&q->waiting);
  return q;
}

void
asyncrt__dump_queue_free (AsyncrtDumpQueue *q)
{
  if (q == NULL)
    return;
  /* Every requester holds a handle reference: none is left. */
  g_assert (q->active == NULL && g_queue_is_empty (&q->waiting));
  pthread_mutex_destroy (&q->lock);
  pthread_cond_destroy (&q->cond);
  g_free (q);
}

static void
take_waker_locked (AsyncrtDumpRequest *req, GArray *wakers)
{
  if (req == NULL || asyncrt_waker_is_empty (&req->waker))
    return;
  g_array_append_val (wakers, req->waker);
  req->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
}

void
asyncrt__dump_queue_shutdown (AsyncrtDumpQueue *q)
{
  GArray *wakers = g_array_new (FALSE, FALSE, sizeof (AsyncrtWaker));
  pthread_mutex_lock (&q->lock);
  q->shutdown = true;
  take_waker_locked (q->active, wakers);
  for (GList *l = q->waiting.head; l != NULL; l = l->next)
    take_waker_locked (l->data, wakers);
  pthread_cond_broadcast (&q->cond);
  pthread_mutex_unlock (&q->lock);
  for (guint i = 0; i < wakers->len; i++)
    asyncrt_waker_wake (&g_array_index (wakers, AsyncrtWaker, i));
  g_array_free (wakers, TRUE);
}

/* ---- requests ------------------------------------------------------------------------ */

AsyncrtDumpRequest *
asyncrt__dump_request_new (AsyncrtHandle *h, AsyncrtDumpKind kind, uint64_t deadline_ns,
                           AsyncrtDumpNoTraceReason census_reason)
{
  AsyncrtDumpRequest *req = g_new0 (AsyncrtDumpRequest, 1);
  atomic_init (&req->refs, 1);
  req->h = h;
  req->kind = kind;
  req->census_reason = census_reason;
  req->deadline_ns = deadline_ns;
  /* The last quarter of the time, at most 250 ms, is left for tracing. */
  uint64_t now = asyncrt__clock_now_ns ();
  uint64_t span = deadline_ns > now ? deadline_ns - now : 0;
  uint64_t trace_share = span / 4 < 250000000u ? span / 4 : 250000000u;
  req->stop_deadline_ns = deadline_ns - trace_share;
  req->phase = PHASE_PENDING;
  req->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  return req;
}

static void
request_ref (AsyncrtDumpRequest *req)
{
  atomic_fetch_add_explicit (&req->refs, 1, memory_order_relaxed);
}

void
asyncrt__dump_request_unref (AsyncrtDumpRequest *req)
{
  if (req == NULL)
    return;
  if (atomic_fetch_sub_explicit (&req->refs, 1, memory_order_acq_rel) != 1)
    return;
  asyncrt_dump_free (req->result);
  asyncrt_waker_free (&req->waker);
  asyncrt_dump_options_free (req->options);
  g_free (req);
}

void
asyncrt__dump_request_set_options (AsyncrtDumpRequest *req, const AsyncrtDumpOptions *opts)
{
  asyncrt_dump_options_free (req->options);
  req->options = asyncrt__dump_options_dup_filtered (opts);
}

const AsyncrtDumpOptions *
asyncrt__dump_request_get_options (const AsyncrtDumpRequest *req)
{
  return req->options;
}

AsyncrtDumpKind
asyncrt__dump_request_get_kind (const AsyncrtDumpRequest *req)
{
  return req->kind;
}

AsyncrtDumpNoTraceReason
asyncrt__dump_request_get_census_reason (const AsyncrtDumpRequest *req)
{
  return req->census_reason;
}

uint64_t
asyncrt__dump_request_get_deadline_ns (const AsyncrtDumpRequest *req)
{
  return req->deadline_ns;
}

uint64_t
asyncrt__dump_request_get_stop_deadline_ns (const AsyncrtDumpRequest *req)
{
  return req->stop_deadline_ns;
}

static AsyncrtDumpQueue *
queue_of (const AsyncrtDumpRequest *req)
{
  return req->h->dump_queue;
}

/* Under the lock: the phase changed; wakes blocking requesters, and hands back the
 * future's waker to wake after unlocking. */
static AsyncrtWaker
changed_locked (AsyncrtDumpRequest *req)
{
  pthread_cond_broadcast (&queue_of (req)->cond);
  AsyncrtWaker w = req->waker;
  req->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  return w;
}

static void
start (AsyncrtDumpRequest *req)
{
  /* PENDING, active: the scheduler's now. */
  req->h->ops->dump (req->h, req);
}

void
asyncrt__dump_request_submit (AsyncrtDumpRequest *req)
{
  AsyncrtDumpQueue *q = queue_of (req);
  g_assert (req->kind == ASYNCRT_DUMP_KIND_TRACE);
  request_ref (req);                          /* the queue's */
  pthread_mutex_lock (&q->lock);
  bool now = q->active == NULL;
  if (now)
    {
      q->active = req;
      req->phase = PHASE_PENDING;
    }
  else
    {
      req->phase = PHASE_QUEUED;
      g_queue_push_tail (&q->waiting, req);
    }
  pthread_mutex_unlock (&q->lock);
  if (now)
    start (req);
}

void
asyncrt__dump_request_set_waker (AsyncrtDumpRequest *req, const AsyncrtWaker *w)
{
  AsyncrtDumpQueue *q = queue_of (req);
  AsyncrtWaker old = ASYNCRT_WAKER_INIT;
  pthread_mutex_lock (&q->lock);
  if (!asyncrt_waker_will_wake (&req->waker, w))
    {
      old = req->waker;
      req->waker = asyncrt_waker_clone (w);
    }
  pthread_mutex_unlock (&q->lock);
  asyncrt_waker_free (&old);
}

/* ---- the scheduler's side ------------------------------------------------------------- */

bool
asyncrt__dump_request_set_canceller (AsyncrtDumpRequest *req, AsyncrtDumpCancelFunc func,
                                     void *data)
{
  AsyncrtDumpQueue *q = queue_of (req);
  pthread_mutex_lock (&q->lock);
  bool ok = req->phase != PHASE_CANCELLED;
  if (req->phase == PHASE_PENDING)
    {
      req->cancel = func;
      req->cancel_data = data;
    }
  pthread_mutex_unlock (&q->lock);
  return ok;
}

bool
asyncrt__dump_request_take (AsyncrtDumpRequest *req)
{
  AsyncrtDumpQueue *q = queue_of (req);
  pthread_mutex_lock (&q->lock);
  bool taken = req->phase == PHASE_PENDING;
  if (taken)
    {
      req->phase = PHASE_TAKEN;
      req->cancel = NULL;                     /* too late to cancel */
      pthread_cond_broadcast (&q->cond);
    }
  pthread_mutex_unlock (&q->lock);
  return taken;
}

static void
answer (AsyncrtDumpRequest *req, AsyncrtDump *d, int error)
{
  AsyncrtDumpQueue *q = queue_of (req);
  AsyncrtWaker w = ASYNCRT_WAKER_INIT;
  pthread_mutex_lock (&q->lock);
  if (req->phase == PHASE_PENDING || req->phase == PHASE_TAKEN)
    {
      req->phase = PHASE_DONE;
      req->result = d;
      req->error = error;
      req->cancel = NULL;
      d = NULL;
      w = changed_locked (req);
    }
  pthread_mutex_unlock (&q->lock);
  asyncrt_dump_free (d);                      /* the requester gave up on it */
  asyncrt_waker_wake (&w);
}

void
asyncrt__dump_request_complete (AsyncrtDumpRequest *req, AsyncrtDump *d)
{
  g_assert (d != NULL);
  answer (req, d, 0);
}

void
asyncrt__dump_request_fail (AsyncrtDumpRequest *req, int error)
{
  g_assert (error < 0);
  answer (req, NULL, error);
}

void
asyncrt__dump_request_release (AsyncrtDumpRequest *req)
{
  AsyncrtDumpQueue *q = queue_of (req);
  g_assert (req->kind == ASYNCRT_DUMP_KIND_TRACE);
  AsyncrtWaker w = ASYNCRT_WAKER_INIT;
  pthread_mutex_lock (&q->lock);
  g_assert (q->active == req);
  req->cancel = NULL;
  if (req->phase == PHASE_PENDING || req->phase == PHASE_TAKEN)
    {
      /* Released unanswered: only a scheduler shutting down does that. */
      req->phase = PHASE_DONE;
      req->error = -ESHUTDOWN;
      w = changed_locked (req);
    }
  AsyncrtDumpRequest *next = g_queue_pop_head (&q->waiting);
  q->active = next;
  if (next != NULL)
    next->phase = PHASE_PENDING;
  pthread_cond_broadcast (&q->cond);
  pthread_mutex_unlock (&q->lock);
  asyncrt_waker_wake (&w);
  asyncrt__dump_request_unref (req);          /* the queue's */
  if (next != NULL)
    start (next);
}

/* ---- the requester's side -------------------------------------------------------------- */

AsyncrtDump *
asyncrt__dump_census (AsyncrtHandle *h, AsyncrtDumpNoTraceReason reason,
                      const AsyncrtDumpOptions *opts)
{
  AsyncrtDumpRequest *req = asyncrt__dump_request_new (h, ASYNCRT_DUMP_KIND_CENSUS, 0, reason);
  asyncrt__dump_request_set_options (req, opts);
  h->ops->dump (h, req);
  AsyncrtDumpQueue *q = queue_of (req);
  pthread_mutex_lock (&q->lock);
  g_assert (req->phase == PHASE_DONE && req->result != NULL);
  AsyncrtDump *d = req->result;
  req->result = NULL;
  pthread_mutex_unlock (&q->lock);
  asyncrt__dump_request_unref (req);
  return d;
}

static bool
is_shutdown (AsyncrtHandle *h)
{
  return atomic_load_explicit (&h->is_shutdown, memory_order_acquire);
}

typedef enum
{
  GIVE_UP_AT_DEADLINE,     /* census afterwards */
  GIVE_UP_SHUTDOWN,        /* -ESHUTDOWN, unless taken */
  GIVE_UP_DROP             /* the requester goes away */
} GiveUp;

/* Under the lock: withdraws or abandons @req.  Returns what the requester gets: 0 (a
 * census is due), -ETIMEDOUT / -ESHUTDOWN, or -EINPROGRESS (taken during a shutdown:
 * keep waiting).  Sets *cancel to the canceller to call after unlocking and *unref
 * when the queue's reference must be dropped. */
static int
give_up_locked (AsyncrtDumpRequest *req, GiveUp why, AsyncrtDumpCancelFunc *cancel,
                void **cancel_data, bool *unref)
{
  AsyncrtDumpQueue *q = queue_of (req);
  switch (req->phase)
    {
    case PHASE_QUEUED:
      g_queue_remove (&q->waiting, req);
      req->phase = PHASE_CANCELLED;
      *unref = true;
      return why == GIVE_UP_SHUTDOWN ? -ESHUTDOWN : -ETIMEDOUT;
    case PHASE_PENDING:
      req->phase = PHASE_CANCELLED;
      *cancel = req->cancel;
      *cancel_data = req->cancel_data;
      req->cancel = NULL;
      pthread_cond_broadcast (&q->cond);
      return why == GIVE_UP_SHUTDOWN ? -ESHUTDOWN : 0;
    case PHASE_TAKEN:
      if (why == GIVE_UP_SHUTDOWN)
        return -EINPROGRESS;                  /* its serving thread finishes it */
      req->phase = PHASE_ABANDONED;
      return 0;
    case PHASE_DONE:
    case PHASE_CANCELLED:
    case PHASE_ABANDONED:
    default:
      return 0;
    }
}

int
asyncrt__dump_request_check (AsyncrtDumpRequest *req, uint64_t now, AsyncrtDump **out,
                             uint64_t *ret_until)
{
  AsyncrtDumpQueue *q = queue_of (req);
  AsyncrtDumpCancelFunc cancel = NULL;
  void *cancel_data = NULL;
  bool unref = false, census = false;
  AsyncrtDump *d = NULL;
  int r;

  pthread_mutex_lock (&q->lock);
  bool shut = q->shutdown || is_shutdown (req->h);
  const uint64_t grace_deadline = req->deadline_ns + (uint64_t) ASYNCRT_DUMP_GRACE_MS * 1000000u;
  switch (req->phase)
    {
    case PHASE_DONE:
      r = req->error;
      d = req->result;
      req->result = NULL;
      break;
    case PHASE_QUEUED:
    case PHASE_PENDING:
      if (shut || now >= req->deadline_ns)
        {
          r = give_up_locked (req, shut ? GIVE_UP_SHUTDOWN : GIVE_UP_AT_DEADLINE, &cancel,
                              &cancel_data, &unref);
          census = r == 0;
        }
      else
        {
          r = -EINPROGRESS;
          *ret_until = req->deadline_ns;
        }
      break;
    case PHASE_TAKEN:
      if (now >= grace_deadline)
        {
          r = give_up_locked (req, GIVE_UP_AT_DEADLINE, &cancel, &cancel_data, &unref);
          census = true;
        }
      else
        {
          r = -EINPROGRESS;
          *ret_until = grace_deadline;
        }
      break;
    case PHASE_CANCELLED:
    case PHASE_ABANDONED:
    default:
      g_assert_not_reached ();
    }
  req->seen_phase = req->phase;
  req->seen_shutdown = q->shutdown;
  pthread_mutex_unlock (&q->lock);

  if (cancel != NULL)
    cancel (req, cancel_data);
  if (unref)
    asyncrt__dump_request_unref (req);        /* the queue's: never started */
  if (census)
    d = asyncrt__dump_census (req->h, ASYNCRT_DUMP_NO_TRACE_DEADLINE, req->options);
  if (r == 0)
    *out = d;
  else
    asyncrt_dump_free (d);
  return r;
}

int
asyncrt__dump_request_wait (AsyncrtDumpRequest *req, AsyncrtDump **out)
{
  AsyncrtDumpQueue *q = queue_of (req);
  for (;;)
    {
      uint64_t until = 0;
      int r = asyncrt__dump_request_check (req, asyncrt__clock_now_ns (), out, &until);
      if (r != -EINPROGRESS)
        return r;
      struct timespec ts = {
        .tv_sec = (time_t) (until / 1000000000u),
        .tv_nsec = (long) (until % 1000000000u),
      };
      pthread_mutex_lock (&q->lock);
      /* Sleep only if nothing changed since the check (no lost wake-up). */
      if (req->phase == req->seen_phase && q->shutdown == req->seen_shutdown)
        pthread_cond_timedwait (&q->cond, &q->lock, &ts);
      pthread_mutex_unlock (&q->lock);
    }
}

void
asyncrt__dump_request_drop (AsyncrtDumpRequest *req)
{
  if (req == NULL)
    return;
  AsyncrtDumpQueue *q = queue_of (req);
  AsyncrtDumpCancelFunc cancel = NULL;
  void *cancel_data = NULL;
  bool unref = false;
  pthread_mutex_lock (&q->lock);
  give_up_locked (req, GIVE_UP_DROP, &cancel, &cancel_data, &unref);
  AsyncrtWaker w = req->waker;
  req->waker = (AsyncrtWaker) ASYNCRT_WAKER_INIT;
  pthread_mutex_unlock (&q->lock);
  asyncrt_waker_free (&w);
  if (cancel != NULL)
    cancel (req, cancel_data);
  if (unref)
    asyncrt__dump_request_unref (req);
  asyncrt__dump_request_unref (req);          /* the requester's */
}
