/* libasyncrt - sample slots: one per thread that may be sampled, and the
 * request/acknowledge protocol
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership.  A slot is reference counted (refs, atomic): whoever owns the thread's
 * record (a multi-thread worker, the current-thread runtime, a blocking-pool thread)
 * holds one; a requester takes one while it samples, so a thread that exits and
 * frees its record meanwhile leaves the slot valid.
 *
 * `lock` serialises the requesters (one sample of a thread at a time, from post to
 * collect) with attach/detach; the handler never takes it.  Under the lock: `tid` (0
 * when no thread is attached: nothing is ever sent to a thread that detached, so a
 * recycled thread id is never signalled), `next_seq`, `sent_seq` and `buf` (mapped by
 * the first request, written only by the handler afterwards, unmapped with the
 * slot).  `stack_lo` / `stack_hi` are written by the attaching thread and read by its
 * own handler.
 *
 * The protocol.  The requester (lock held) stores a new sequence number in `req`
 * (seq_cst), then reads `ack` (seq_cst) and sends the signal (tgkill) only if the
 * last signal it sent has been answered (ack has reached sent_seq): a thread that
 * cannot take its signal (signal blocked, uninterruptible sleep) gets exactly one,
 * never a growing queue of real-time signals.  The handler (handler.c) answers while
 * req != ack: it fills `buf`, stores ack = req (seq_cst), reads req again.  So a
 * request posted without a signal is either seen by the handler's second read, or
 * the requester saw that handler's ack and sent a new signal (the two seq_cst pairs
 * cannot both miss).  The requester then waits on `ack` (futex) until it equals its
 * request or its deadline passes, copies the answer out and unlocks.  The buffer is
 * stable while it is read: only the thread's handler writes it, and only for a
 * request that differs from ack, which nobody else can post while the lock is held.
 * A request abandoned at its deadline stays pending: when the thread finally takes
 * the signal it answers whatever request is current then, which is harmless.
 *
 * attach/detach run on the thread itself, under the lock, and reset sent_seq so that
 * a signal lost to a thread that was not attached never stops later requests.
 */
#include "sample/sample-private.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Thread_local uintptr_t thread_stack_lo, thread_stack_hi;

AsyncrtSampleSlot *
asyncrt__sample_slot_new (void)
{
  AsyncrtSampleSlot *s = g_new0 (AsyncrtSampleSlot, 1);
  atomic_init (&s->refs, 1);
  atomic_init (&s->req, 0);
  atomic_init (&s->ack, 0);
  pthread_mutex_init (&s->lock, NULL);
  return s;
}

AsyncrtSampleSlot *
asyncrt__sample_slot_ref (AsyncrtSampleSlot *s)
{
  atomic_fetch_add_explicit (&s->refs, 1, memory_order_relaxed);
  return s;
}

static size_t
buf_size (void)
{
  size_t page = (size_t) sysconf (_SC_PAGESIZE);
  size_t n = sizeof (AsyncrtSampleRaw) + ASYNCRT_SAMPLE_STACK_BYTES;
  return (n + page - 1) / page * page;
}

void
asyncrt__sample_slot_unref (AsyncrtSampleSlot *s)
{
  if (s == NULL || atomic_fetch_sub_explicit (&s->refs, 1, memory_order_acq_rel) != 1)
    return;
  g_assert (s->tid == 0);
  if (s->buf != NULL)
    munmap (s->buf, buf_size ());
  pthread_mutex_destroy (&s->lock);
  g_free (s);
}

static pid_t
own_tid (void)
{
  return (pid_t) syscall (SYS_gettid);
}

/* The calling thread's stack, looked up once per thread. */
static void
stack_bounds (uintptr_t *lo, uintptr_t *hi)
{
  if (thread_stack_hi == 0)
    {
      pthread_attr_t a;
      if (pthread_getattr_np (pthread_self (), &a) == 0)
        {
          void *addr = NULL;
          size_t size = 0;
          if (pthread_attr_getstack (&a, &addr, &size) == 0 && addr != NULL)
            {
              thread_stack_lo = (uintptr_t) addr;
              thread_stack_hi = (uintptr_t) addr + size;
            }
          pthread_attr_destroy (&a);
        }
    }
  *lo = thread_stack_lo;
  *hi = thread_stack_hi;
}

AsyncrtSampleSlot *
asyncrt__sample_slot_attach (AsyncrtSampleSlot *s, int unblock_signo)
{
  uintptr_t lo, hi;
  stack_bounds (&lo, &hi);
  pthread_mutex_lock (&s->lock);
  s->tid = own_tid ();
  s->stack_lo = lo;
  s->stack_hi = hi;
  s->sent_seq = atomic_load_explicit (&s->ack, memory_order_relaxed);
  pthread_mutex_unlock (&s->lock);
  AsyncrtSampleSlot *prev = asyncrt__sample_thread_slot ();
  asyncrt__sample_set_thread_slot (s);
  if (unblock_signo > 0)
    {
      sigset_t set;
      sigemptyset (&set);
      sigaddset (&set, unblock_signo);
      pthread_sigmask (SIG_UNBLOCK, &set, NULL);
    }
  return prev;
}

void
asyncrt__sample_slot_detach (AsyncrtSampleSlot *s, AsyncrtSampleSlot *prev)
{
  /* Under the lock: a requester that is waiting for us is answered first (our
   * handler still finds the slot while we wait for the lock). */
  pthread_mutex_lock (&s->lock);
  asyncrt__sample_set_thread_slot (prev);
  s->tid = 0;
  s->sent_seq = atomic_load_explicit (&s->ack, memory_order_relaxed);
  pthread_mutex_unlock (&s->lock);
}

/* ---- requests ------------------------------------------------------------------------ */

void
asyncrt__sample_post (AsyncrtSampleSlot *s, int signo, AsyncrtSamplePending *p)
{
  memset (p, 0, sizeof *p);
  p->slot = s;
  p->signo = signo;
  pthread_mutex_lock (&s->lock);
  p->tid = s->tid;
  if (s->tid == 0)
    p->status = ASYNCRT_NATIVE_STACK_NO_THREAD;
  else if (s->tid == own_tid ())
    p->status = ASYNCRT_NATIVE_STACK_NOT_SAMPLED;   /* the thread taking the dump */
  else if (s->buf == NULL)
    {
      void *m = mmap (NULL, buf_size (), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
      if (m == MAP_FAILED)
        p->status = ASYNCRT_NATIVE_STACK_FAILED;
      else
        s->buf = m;
    }
  if (p->status != ASYNCRT_NATIVE_STACK_OK)
    {
      pthread_mutex_unlock (&s->lock);
      return;
    }

  if (++s->next_seq == 0)
    s->next_seq = 1;
  p->seq = s->next_seq;
  atomic_store_explicit (&s->req, p->seq, memory_order_seq_cst);
  uint32_t ack = atomic_load_explicit (&s->ack, memory_order_seq_cst);
  if ((int32_t) (ack - s->sent_seq) >= 0)
    {
      /* tgkill: the thread id alone is ours only while it is attached, and the
       * process id keeps the signal inside this process whatever happens. */
      if (syscall (SYS_tgkill, (long) getpid (), (long) s->tid, (long) signo) < 0)
        {
          p->status = errno == ESRCH ? ASYNCRT_NATIVE_STACK_NO_THREAD
                                     : ASYNCRT_NATIVE_STACK_FAILED;
          pthread_mutex_unlock (&s->lock);
          return;
        }
      s->sent_seq = p->seq;
    }
}

/* /proc/self/task/TID/status: why a thread did not take its signal. */
static AsyncrtNativeStackStatus
diagnose (pid_t tid, int signo)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/self/task/%ld/status", (long) tid);
  int fd;
  do
    fd = open (path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return errno == ENOENT ? ASYNCRT_NATIVE_STACK_NO_THREAD : ASYNCRT_NATIVE_STACK_NO_ANSWER;
  char text[4096];
  size_t len = 0;
  for (;;)
    {
      ssize_t n = read (fd, text + len, sizeof text - 1 - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (size_t) n;
      if (len == sizeof text - 1)
        break;
    }
  close (fd);
  text[len] = '\0';

  const char *blk = strstr (text, "\nSigBlk:");
  if (blk != NULL)
    {
      unsigned long long mask = strtoull (blk + 8, NULL, 16);
      if (signo >= 1 && signo <= 64 && (mask & (1ULL << (signo - 1))))
        return ASYNCRT_NATIVE_STACK_SIGNAL_BLOCKED;
    }
  const char *state = strstr (text, "\nState:");
  if (state != NULL)
    {
      state += 7;
      while (*state == ' ' || *state == '\t')
        state++;
      if (*state == 'D')
        return ASYNCRT_NATIVE_STACK_UNINTERRUPTIBLE;
    }
  return ASYNCRT_NATIVE_STACK_NO_ANSWER;
}

AsyncrtNativeStackStatus
asyncrt__sample_collect (AsyncrtSamplePending *p, uint64_t until_ns, AsyncrtSampleRaw **ret_raw)
{
  if (p->status != ASYNCRT_NATIVE_STACK_OK)
    return p->status;
  AsyncrtSampleSlot *s = p->slot;
  for (;;)
    {
      uint32_t ack = atomic_load_explicit (&s->ack, memory_order_acquire);
      if (ack == p->seq)
        break;
      uint64_t now = asyncrt__clock_now_ns ();
      if (now >= until_ns)
        {
          p->status = diagnose (p->tid, p->signo);
          pthread_mutex_unlock (&s->lock);
          return p->status;
        }
      uint64_t left = until_ns - now;
      struct timespec ts = { (time_t) (left / 1000000000u), (long) (left % 1000000000u) };
      /* EINTR, EAGAIN (ack changed already), ETIMEDOUT: look again. */
      syscall (SYS_futex, &s->ack, FUTEX_WAIT_PRIVATE, ack, &ts, NULL, 0);
    }
  const AsyncrtSampleRaw *b = s->buf;
  size_t len = b->len <= ASYNCRT_SAMPLE_STACK_BYTES ? b->len : 0;
  AsyncrtSampleRaw *copy = g_malloc (sizeof (AsyncrtSampleRaw) + len);
  memcpy (copy, b, sizeof (AsyncrtSampleRaw) + len);
  copy->len = len;
  pthread_mutex_unlock (&s->lock);
  *ret_raw = copy;
  return ASYNCRT_NATIVE_STACK_OK;
}
