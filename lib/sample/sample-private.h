/* libasyncrt - native stacks of the library's threads, sampled with a signal
 * (internal interface of lib/sample)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A task that blocks its thread (a CPU loop, read(), a pthread mutex) never reaches
 * a scheduling point, so no trace poll can see it.  What it is doing is on its
 * thread's native stack: the sampler interrupts that thread with a signal, and the
 * handler copies the thread's registers and the live part of its stack into a buffer
 * allocated beforehand.  Turning that copy into instruction pointers (the unwinding)
 * and into names (the symbols) happens later, on the requester's thread.
 *
 * slot.c     AsyncrtSampleSlot: one per thread that may be sampled (a multi-thread
 *            worker, the current-thread runtime's block_on thread, a blocking-pool
 *            thread); attach/detach by the thread itself; the request/acknowledge
 *            protocol with a bounded wait; why a thread did not answer
 * handler.c  the signal handler: async-signal-safe, copies registers and stack,
 *            nothing else
 * signal.c   which signal (builder, ASYNCRT_SAMPLE_SIGNAL, default SIGRTMIN+6), and
 *            installing the handler, never over the program's own
 * unwind.c   a copied stack -> instruction pointers, with libdw's CFI unwinder, cut
 *            at the task's trace root
 * batch.c    sampling several threads with one bounded wait (dumps)
 * status.c   naming AsyncrtNativeStackStatus (text and JSON)
 *
 * ## Why copy the stack instead of walking it in the handler
 * A walk in the handler must never block: a dump must not be able to wedge a worker.
 * libunwind's unw_backtrace() is fast on its cached path, but an instruction pointer
 * it has not seen yet sends it to dl_iterate_phdr(), which takes the dynamic loader's
 * lock (libunwind#16, #580; gperftools#775, #1188 show the deadlocks), and its first
 * use on a thread allocates its per-thread cache (libunwind#331 for its one-time
 * initialisation; google/sanitizers#943 for its thread-exit destructor under TSan).
 * A frame-pointer walk bounded by the stack is always safe but ends at the first
 * function built without frame pointers, which on Debian's -O2 builds is the very
 * first one (libc's read, clock_nanosleep, __lll_lock_wait): it names the system
 * call and nothing else.  Copying the stack (at most ASYNCRT_SAMPLE_STACK_BYTES, from
 * the interrupted stack pointer up to the task's trace root) is a bounded loop of
 * loads and stores; libdw then unwinds the copy with the modules' .eh_frame CFI, as
 * perf does with --call-graph dwarf, and gives the whole stack of -O2 code without
 * frame pointers: read <- the task's function <- its poll function.
 *
 * ## Threads
 * A slot is reference counted (its thread's owner holds one, each requester one
 * while it samples).  Its lock serialises requesters and attach/detach; the handler
 * never takes it (see slot.c for the protocol).  unwind.c's libdw session has a lock
 * of its own, made consistent across fork() by pthread_atfork handlers.
 */
#ifndef ASYNCRT_SAMPLE_PRIVATE_H
#define ASYNCRT_SAMPLE_PRIVATE_H

#include "util/common-private.h"
#include "trace/trace-private.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>

#if defined(__linux__) && defined(__x86_64__)
#define ASYNCRT_SAMPLE_SUPPORTED 1
/* DWARF registers 0-16 of x86-64: rax rdx rcx rbx rsi rdi rbp rsp r8-r15, and the
 * return address column (rip). */
#define ASYNCRT_SAMPLE_N_REGS 17
#else
#define ASYNCRT_SAMPLE_N_REGS 1
#endif

/* The most stack a sample copies, from the interrupted stack pointer upwards (the
 * part up to the task's trace root is usually a few kilobytes).  The buffer is
 * mapped when a thread is first sampled; only the pages a copy touched use memory. */
#define ASYNCRT_SAMPLE_STACK_BYTES (64u * 1024u)
/* The most frames a native stack keeps (innermost first). */
#define ASYNCRT_SAMPLE_MAX_FRAMES 256u
/* How long a requester waits for a thread to take the signal, after sending it. */
#define ASYNCRT_SAMPLE_WAIT_MS 50u
/* The default signal: SIGRTMIN + this (see signal.c). */
#define ASYNCRT_SAMPLE_DEFAULT_RT_OFFSET 6

/* ---- what the handler writes ---------------------------------------------------------- */

typedef struct
{
  uint64_t regs[ASYNCRT_SAMPLE_N_REGS];   /* DWARF numbering */
  uintptr_t base;              /* the stack address of stack[0] */
  size_t len;                  /* bytes of stack copied */
  uintptr_t cut_start;         /* the thread's innermost trace frame: [start, end) of */
  uintptr_t cut_end;           /* the root that called into the task; 0, 0: none */
  uintptr_t outer_start;       /* the start of the outermost trace frame's range, 0:
                                  none (a blocking-pool thread inside a job: the
                                  pool's job runner) */
  AsyncrtTaskId task_id;       /* the task the thread was polling; 0: none */
  bool own_context;            /* regs are the handler's own (TSan builds, handler.c) */
  unsigned char stack[];       /* ASYNCRT_SAMPLE_STACK_BYTES in a slot's buffer */
} AsyncrtSampleRaw;

/* ---- slot.c / handler.c -------------------------------------------------------------- */

typedef struct _AsyncrtSampleSlot AsyncrtSampleSlot;

/* Fields: see slot.c's top comment for who writes what. */
struct _AsyncrtSampleSlot
{
  _Atomic unsigned refs;
  pthread_mutex_t lock;
  /* guarded by lock */
  pid_t tid;                   /* the attached thread, 0: none */
  uint32_t next_seq;
  uint32_t sent_seq;           /* the request current when the last signal was sent */
  AsyncrtSampleRaw *buf;       /* mapped by the first request, freed with the slot */
  /* written by the attaching thread (under lock), read by its own handler */
  uintptr_t stack_lo;
  uintptr_t stack_hi;
  /* the request (requester, under lock) and its acknowledgement (handler; futex) */
  _Atomic uint32_t req;
  _Atomic uint32_t ack;
};

AsyncrtSampleSlot *asyncrt__sample_slot_new (void);
AsyncrtSampleSlot *asyncrt__sample_slot_ref (AsyncrtSampleSlot *s);
/* NULL is ignored. */
void asyncrt__sample_slot_unref (AsyncrtSampleSlot *s);

/* On the thread itself: from now on it may be sampled through @s.  @unblock_signo > 0
 * unblocks that signal in the calling thread (for the library's own threads, whose
 * mask the library sets; a program's thread in block_on keeps its mask).  Returns the
 * slot the thread was attached to before (NULL: none), to give back to detach. */
AsyncrtSampleSlot *asyncrt__sample_slot_attach (AsyncrtSampleSlot *s, int unblock_signo);
/* On the thread itself, before it stops being what @s samples: later requests get
 * ASYNCRT_NATIVE_STACK_NO_THREAD.  @prev: what attach returned. */
void asyncrt__sample_slot_detach (AsyncrtSampleSlot *s, AsyncrtSampleSlot *prev);

/* One request in flight: between post and collect the slot is locked. */
typedef struct
{
  AsyncrtSampleSlot *slot;
  uint32_t seq;
  pid_t tid;
  int signo;
  AsyncrtNativeStackStatus status;   /* after post: OK while in flight, else final */
} AsyncrtSamplePending;

/* Any thread but the slot's own: locks @s and asks its thread for a sample with
 * @signo (already prepared, signal.c).  p->status is OK while the request is in
 * flight (collect it), otherwise why not (the slot is then unlocked already). */
void asyncrt__sample_post (AsyncrtSampleSlot *s, int signo, AsyncrtSamplePending *p);
/* Waits until @until_ns (asyncrt__clock_now_ns()) for the answer, unlocks the slot.
 * Returns OK and a copy of the answer in *ret_raw (g_free() it), or why there is none:
 * NO_ANSWER, SIGNAL_BLOCKED, UNINTERRUPTIBLE, NO_THREAD, or p->status. */
AsyncrtNativeStackStatus asyncrt__sample_collect (AsyncrtSamplePending *p, uint64_t until_ns,
                                                  AsyncrtSampleRaw **ret_raw);

/* handler.c: the handler, and the calling thread's slot (what the handler answers). */
void asyncrt__sample_handler (int signo, siginfo_t *info, void *ucontext);
AsyncrtSampleSlot *asyncrt__sample_thread_slot (void);
void asyncrt__sample_set_thread_slot (AsyncrtSampleSlot *s);
/* The handler's own code (its linker section): TSan builds unwind from inside it. */
void asyncrt__sample_handler_range (uintptr_t *start, uintptr_t *end);

/* ---- signal.c ------------------------------------------------------------------------ */

/* SIGRTMIN + ASYNCRT_SAMPLE_DEFAULT_RT_OFFSET. */
int asyncrt__sample_default_signal (void);
/* Whether @signo may be used for samples: SIGUSR1, SIGUSR2, or a real-time signal. */
bool asyncrt__sample_signal_is_valid (int signo);
/* The signal of a runtime whose builder did not choose one: ASYNCRT_SAMPLE_SIGNAL
 * (a name or number, or "none" / "0" to turn native stacks off), else the default.  A
 * value it cannot use is ignored with one message on stderr (per process). */
int asyncrt__sample_signal_from_env (void);
/* Before sampling with @signo (0: disabled): installs the handler if the signal is
 * free (SIG_DFL).  OK, or why native stacks are unavailable: DISABLED, SIGNAL_IN_USE
 * (the program handles or ignores it), UNSUPPORTED. */
AsyncrtNativeStackStatus asyncrt__sample_signal_prepare (int signo);
/* The same answer without installing anything (nothing to sample now). */
AsyncrtNativeStackStatus asyncrt__sample_signal_check (int signo);

/* ---- unwind.c ------------------------------------------------------------------------ */

/* The native stack of a sample: a new trace with one backtrace, innermost first (the
 * interrupted instruction as its address + 1, like every other frame a return
 * address), cut before the first frame inside [cut_start, cut_end) and marked
 * truncated if that frame was expected and not reached.  Any thread. */
AsyncrtTrace *asyncrt__sample_unwind (const AsyncrtSampleRaw *raw);

/* ---- status.c ----------------------------------------------------------------------- */

/* The JSON name of a status: "ok", "no_answer", "signal_in_use"... */
const char *asyncrt__native_stack_status_name (AsyncrtNativeStackStatus status);

/* ---- batch.c ------------------------------------------------------------------------- */

typedef struct _AsyncrtSampleBatch AsyncrtSampleBatch;

AsyncrtSampleBatch *asyncrt__sample_batch_new (int signo);
/* Adds a thread to sample (a new reference on @slot is taken; NULL is accepted and
 * gives NO_THREAD); the same slot twice is one sample.  Returns its index. */
size_t asyncrt__sample_batch_add (AsyncrtSampleBatch *b, AsyncrtSampleSlot *slot);
/* Prepares the signal (only checks it when the batch is empty) and sends every
 * request.  Returns OK, or why nothing can be sampled (every item then has that
 * status). */
AsyncrtNativeStackStatus asyncrt__sample_batch_post (AsyncrtSampleBatch *b);
/* Collects every answer, waiting until @until_ns at most, then unwinds them. */
void asyncrt__sample_batch_collect (AsyncrtSampleBatch *b, uint64_t until_ns);
/* The outcome of item @i: OK with the task the thread was polling (0: none) and its
 * stack (ownership passes to the caller; later calls give NULL), or why not. */
AsyncrtNativeStackStatus asyncrt__sample_batch_get (AsyncrtSampleBatch *b, size_t i,
                                                    AsyncrtTaskId *ret_task_id,
                                                    AsyncrtTrace **ret_trace);
/* The start of the outermost trace frame the thread had when it answered item @i (0:
 * none, or no answer): tells whether a pool thread was inside a job. */
uintptr_t asyncrt__sample_batch_get_outer_frame (AsyncrtSampleBatch *b, size_t i);
/* Collects what is still in flight (without waiting) and frees. */
void asyncrt__sample_batch_free (AsyncrtSampleBatch *b);

#endif /* ASYNCRT_SAMPLE_PRIVATE_H */
