/* libasyncrt - the sampling signal's handler
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything here runs inside a signal handler, on the interrupted thread, so it
 * follows the async-signal-safe rules strictly: no allocation, no lock, no call into
 * the C library but the futex wake-up (a raw system call), errno saved and restored,
 * and every loop bounded.  It reads only:
 *   - `thread_slot`, this thread's slot (initial-exec TLS: a %fs-relative load, never
 *     __tls_get_addr, which may allocate), set by the thread itself in attach/detach;
 *   - in the slot: `req` (seq_cst), `buf` (published before req), the stack bounds
 *     (written by this same thread when it attached);
 *   - this thread's trace context and current task (initial-exec TLS, lib/trace and
 *     lib/task), for where to cut and which task it was polling;
 *   - its own stack, between the interrupted stack pointer and the bounds.
 * and writes only the slot's buffer and `ack` (seq_cst), then wakes the requester.
 *
 * The protocol with the requester (slot.c): answer while req != ack; after storing
 * ack, read req again (a requester that posted meanwhile without sending a new signal
 * relies on this), at most four rounds.
 *
 * What is copied: the general registers of the interrupted context (the ucontext the
 * kernel passes) and its stack from 128 bytes below the stack pointer (the x86-64
 * red zone, which the interrupted function may use) up to a little above the
 * thread's innermost trace frame — the task's root, whose return address is all the
 * unwinder needs of it — or, without one, up to the top of the stack; never more than
 * the buffer, never outside the thread's stack (a handler of the program running on
 * an alternate signal stack gives an empty copy).
 *
 * ThreadSanitizer delays asynchronous signals until the thread enters one of its
 * interceptors and then passes the ucontext saved at delivery, which no longer
 * matches the stack.  TSan builds therefore describe the handler's own context
 * (unw_getcontext) and copy from the handler's own stack pointer: the unwinder walks
 * through the handler, TSan's runtime and the signal frame, and drops the frames up to
 * the handler's section (unwind.c).  A thread spinning without calling any intercepted
 * function never takes the signal under TSan.
 */
#include "sample/sample-private.h"
#include "task/task-private.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define ASYNCRT_SAMPLE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ASYNCRT_SAMPLE_TSAN 1
#endif
#endif

#ifdef ASYNCRT_SAMPLE_TSAN
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#endif

#define ASYNCRT_SAMPLE_HANDLER_SECTION __attribute__((section ("asyncrt_section_sample_handler")))

extern const char __start_asyncrt_section_sample_handler[] __attribute__((visibility ("hidden")));
extern const char __stop_asyncrt_section_sample_handler[] __attribute__((visibility ("hidden")));

static _Thread_local AsyncrtSampleSlot *thread_slot __attribute__((tls_model ("initial-exec")));

/* The x86-64 red zone: the 128 bytes below the stack pointer a leaf function may use
 * without moving it. */
#define RED_ZONE 128u

AsyncrtSampleSlot *
asyncrt__sample_thread_slot (void)
{
  return thread_slot;
}

void
asyncrt__sample_set_thread_slot (AsyncrtSampleSlot *s)
{
  /* The handler runs on this thread: order the slot's fields before the pointer as
   * the compiler sees it (no fence instruction is needed for the same thread). */
  atomic_signal_fence (memory_order_seq_cst);
  thread_slot = s;
  atomic_signal_fence (memory_order_seq_cst);
}

void
asyncrt__sample_handler_range (uintptr_t *start, uintptr_t *end)
{
  *start = (uintptr_t) __start_asyncrt_section_sample_handler;
  *end = (uintptr_t) __stop_asyncrt_section_sample_handler;
}

#ifdef ASYNCRT_SAMPLE_SUPPORTED

/* Word by word through volatile loads: no memcpy (an instrumented interceptor under
 * the sanitizers), and the stack holds AddressSanitizer's poisoned redzones, which
 * are ours to read here. */
__attribute__((no_sanitize ("address", "thread", "undefined"), noinline))
ASYNCRT_SAMPLE_HANDLER_SECTION static void
copy_words (uintptr_t *dst, uintptr_t src, size_t n_words)
{
  const volatile uintptr_t *p = (const volatile uintptr_t *) src;
  for (size_t i = 0; i < n_words; i++)
    dst[i] = p[i];
}

ASYNCRT_SAMPLE_HANDLER_SECTION static void
fill (AsyncrtSampleSlot *s, AsyncrtSampleRaw *raw, const ucontext_t *uc, bool own)
{
  static const int map[ASYNCRT_SAMPLE_N_REGS] = {
    REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
    REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP,
  };
  for (int i = 0; i < ASYNCRT_SAMPLE_N_REGS; i++)
    raw->regs[i] = (uint64_t) uc->uc_mcontext.gregs[map[i]];
  raw->own_context = own;

  uintptr_t sp = (uintptr_t) uc->uc_mcontext.gregs[REG_RSP];
  uintptr_t lo = own ? sp : sp - RED_ZONE;
  uintptr_t hi = s->stack_hi;
  raw->cut_start = raw->cut_end = 0;
  raw->outer_start = 0;
  const AsyncrtTraceFrame *f = asyncrt__trace_context.active_frame;
  if (f != NULL && (uintptr_t) f > sp && (uintptr_t) f < hi)
    {
      raw->cut_start = f->start;
      raw->cut_end = f->end;
      /* The outermost frame: each record lives on this stack, above the one before
       * (checked, and the walk bounded, so garbage cannot lead it astray). */
      const AsyncrtTraceFrame *outer = f;
      for (int depth = 0; depth < 16; depth++)
        {
          const AsyncrtTraceFrame *up = outer->parent;
          if (up == NULL || (uintptr_t) up <= (uintptr_t) outer || (uintptr_t) up >= hi)
            break;
          outer = up;
        }
      raw->outer_start = outer->start;
      /* The frame record is a local of the root: everything the unwinder reads of
       * the task's frames lies below it. */
      uintptr_t want = (uintptr_t) f + sizeof *f + 256u;
      if (want < hi)
        hi = want;
    }
  size_t len = 0;
  if (lo >= s->stack_lo && lo < hi)
    {
      len = (hi - lo) & ~(uintptr_t) (sizeof (uintptr_t) - 1);
      if (len > ASYNCRT_SAMPLE_STACK_BYTES)
        len = ASYNCRT_SAMPLE_STACK_BYTES;
      copy_words ((uintptr_t *) (void *) raw->stack, lo, len / sizeof (uintptr_t));
    }
  raw->base = lo;
  raw->len = len;
  const AsyncrtTask *t = asyncrt__current_task;
  raw->task_id = t != NULL ? t->id : 0;
}

ASYNCRT_SAMPLE_HANDLER_SECTION static void
answer (AsyncrtSampleSlot *s, const ucontext_t *uc)
{
  bool own = false;
#ifdef ASYNCRT_SAMPLE_TSAN
  ucontext_t self;
  if (unw_getcontext ((unw_context_t *) &self) == 0)
    {
      uc = &self;
      own = true;
    }
#endif
  bool answered = false;
  for (int round = 0; round < 4; round++)
    {
      uint32_t seq = atomic_load_explicit (&s->req, memory_order_seq_cst);
      if (seq == atomic_load_explicit (&s->ack, memory_order_relaxed))
        break;
      fill (s, s->buf, uc, own);
      atomic_store_explicit (&s->ack, seq, memory_order_seq_cst);
      answered = true;
    }
  if (answered)
    syscall (SYS_futex, &s->ack, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

#endif /* ASYNCRT_SAMPLE_SUPPORTED */

ASYNCRT_SAMPLE_HANDLER_SECTION void
asyncrt__sample_handler (int signo, siginfo_t *info, void *ucontext)
{
  (void) signo;
  (void) info;
  int saved = errno;
#ifdef ASYNCRT_SAMPLE_SUPPORTED
  AsyncrtSampleSlot *s = thread_slot;
  /* A signal for a thread that is not (or no longer) sampled, or sent by someone
   * else (kill -RTMIN+6 PID reaches any thread): nothing to do. */
  if (s != NULL && ucontext != NULL)
    answer (s, ucontext);
#else
  (void) ucontext;
#endif
  errno = saved;
}
