/* libasyncrt - unwinding a sampled stack, off the sampled thread
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A sample is the interrupted thread's registers and a copy of its stack
 * (handler.c).  libdw's unwinder (dwfl_getthread_frames) walks it with the modules'
 * call frame information (.eh_frame, .debug_frame), so code built without frame
 * pointers unwinds too: the thread state comes from the sample's registers
 * (set_initial_registers) and every stack read is served from the copy
 * (memory_read); a read outside it ends the walk.  The modules are this process's own
 * (dwfl_linux_proc_report), re-read when the loader's adds/subs counters say a
 * module was loaded or unloaded since.
 *
 * Frames are kept innermost first as the traces of lib/trace keep them: return
 * addresses, and the interrupted instruction (an "activation", not a return
 * address) as its address + 1, so that every frame's instruction is at ip - 1 and the
 * symbol cache treats them alike.  The walk ends before the first frame inside the
 * trace root's range the handler recorded (so the stack starts at the task's root
 * poll and the scheduler's frames are not shown), at ASYNCRT_SAMPLE_MAX_FRAMES, or
 * where the unwinder cannot go on.  TSan builds describe the handler's own context:
 * the frames up to the handler's section are dropped first.
 *
 * Threads: one libdw session, guarded by `unwind_lock` (libdw is not thread-safe for
 * one session); `current` is the sample being unwound, valid under the lock.  fork():
 * the lock is taken around fork() by pthread_atfork handlers, and a child makes a new
 * session (the old one was attached with the parent's pid).
 */
#include "sample/sample-private.h"

#include <elfutils/libdwfl.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t unwind_lock = PTHREAD_MUTEX_INITIALIZER;
static Dwfl *dwfl;                       /* guarded by unwind_lock */
static pid_t session_pid;
static unsigned long long seen_adds, seen_subs;
static const AsyncrtSampleRaw *current;  /* guarded by unwind_lock */

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
  .find_elf = dwfl_linux_proc_find_elf,
  .find_debuginfo = dwfl_build_id_find_debuginfo,
  .debuginfo_path = &debuginfo_path,
};

/* The one pseudo-thread of the session: the sample in `current`. */
#define SAMPLE_TID 1

static void
fork_prepare (void)
{
  pthread_mutex_lock (&unwind_lock);
}

static void
fork_release (void)
{
  pthread_mutex_unlock (&unwind_lock);
}

__attribute__((constructor)) static void
register_fork_handlers (void)
{
  pthread_atfork (fork_prepare, fork_release, fork_release);
}

/* ---- the thread callbacks ------------------------------------------------------------ */

static pid_t
next_thread (Dwfl *d, void *arg, void **thread_argp)
{
  (void) d;
  if (*thread_argp != NULL)
    return 0;
  *thread_argp = arg != NULL ? arg : (void *) &current;
  return SAMPLE_TID;
}

static bool
get_thread (Dwfl *d, pid_t tid, void *arg, void **thread_argp)
{
  (void) d;
  *thread_argp = arg != NULL ? arg : (void *) &current;
  return tid == SAMPLE_TID;
}

static bool
memory_read (Dwfl *d, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
  (void) d;
  (void) arg;
  const AsyncrtSampleRaw *raw = current;
  if (raw == NULL || addr < raw->base || addr - raw->base > raw->len
      || raw->len - (addr - raw->base) < sizeof (Dwarf_Word))
    return false;
  memcpy (result, raw->stack + (addr - raw->base), sizeof (Dwarf_Word));
  return true;
}

static bool
set_initial_registers (Dwfl_Thread *thread, void *arg)
{
  (void) arg;
  Dwarf_Word regs[ASYNCRT_SAMPLE_N_REGS];
  for (int i = 0; i < ASYNCRT_SAMPLE_N_REGS; i++)
    regs[i] = current->regs[i];
  return dwfl_thread_state_registers (thread, 0, ASYNCRT_SAMPLE_N_REGS, regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
  .next_thread = next_thread,
  .get_thread = get_thread,
  .memory_read = memory_read,
  .set_initial_registers = set_initial_registers,
};

/* ---- the session ------------------------------------------------------------------- */

static int
count_modules (struct dl_phdr_info *info, size_t size, void *data)
{
  unsigned long long *out = data;
  if (size >= offsetof (struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
    {
      out[0] = info->dlpi_adds;
      out[1] = info->dlpi_subs;
    }
  return 1;
}

/* Under the lock: a session that knows every module loaded now. */
static Dwfl *
session_locked (void)
{
  unsigned long long counts[2] = { 0, 0 };
  dl_iterate_phdr (count_modules, counts);
  if (dwfl != NULL && (session_pid != getpid () || counts[0] != seen_adds
                       || counts[1] != seen_subs))
    {
      dwfl_end (dwfl);
      dwfl = NULL;
    }
  if (dwfl != NULL)
    return dwfl;
  Dwfl *d = dwfl_begin (&callbacks);
  if (d == NULL)
    return NULL;
  dwfl_report_begin (d);
  if (dwfl_linux_proc_report (d, getpid ()) != 0 || dwfl_report_end (d, NULL, NULL) != 0
      || !dwfl_attach_state (d, NULL, getpid (), &thread_callbacks, NULL))
    {
      dwfl_end (d);
      return NULL;
    }
  dwfl = d;
  session_pid = getpid ();
  seen_adds = counts[0];
  seen_subs = counts[1];
  return dwfl;
}

/* ---- the walk -------------------------------------------------------------------------- */

typedef struct
{
  const AsyncrtSampleRaw *raw;
  uintptr_t *ips;
  size_t n;
  bool skipping;          /* TSan: still inside the handler's own frames */
  bool seen_handler;
  uintptr_t handler_start, handler_end;
  bool reached_cut;
  bool full;
} Walk;

static inline bool
ip_in (uintptr_t ip, uintptr_t start, uintptr_t end)
{
  return ip > start && ip - 1 < end;
}

static int
frame_cb (Dwfl_Frame *state, void *arg)
{
  Walk *w = arg;
  Dwarf_Addr pc;
  bool activation = false;
  if (!dwfl_frame_pc (state, &pc, &activation) || pc == 0)
    return DWARF_CB_ABORT;
  uintptr_t ip = activation ? (uintptr_t) pc + 1 : (uintptr_t) pc;
  if (w->skipping)
    {
      /* Drop everything up to the last of the handler's own frames. */
      bool in_handler = ip_in (ip, w->handler_start, w->handler_end);
      if (in_handler || !w->seen_handler)
        {
          w->seen_handler = w->seen_handler || in_handler;
          return DWARF_CB_OK;
        }
      w->skipping = false;
    }
  if (w->raw->cut_end != 0 && ip_in (ip, w->raw->cut_start, w->raw->cut_end))
    {
      w->reached_cut = true;
      return DWARF_CB_ABORT;
    }
  if (w->n == ASYNCRT_SAMPLE_MAX_FRAMES)
    {
      w->full = true;
      return DWARF_CB_ABORT;
    }
  w->ips[w->n++] = ip;
  return DWARF_CB_OK;
}

AsyncrtTrace *
asyncrt__sample_unwind (const AsyncrtSampleRaw *raw)
{
  uintptr_t *ips = g_new (uintptr_t, ASYNCRT_SAMPLE_MAX_FRAMES);
  Walk w = { raw, ips, 0, raw->own_context, false, 0, 0, false, false };
  asyncrt__sample_handler_range (&w.handler_start, &w.handler_end);

  pthread_mutex_lock (&unwind_lock);
  Dwfl *d = session_locked ();
  if (d != NULL)
    {
      current = raw;
      dwfl_getthread_frames (d, SAMPLE_TID, frame_cb, &w);
      current = NULL;
    }
  pthread_mutex_unlock (&unwind_lock);

#ifdef ASYNCRT_SAMPLE_SUPPORTED
  /* No session (or not one frame): still the interrupted instruction. */
  if (w.n == 0 && !raw->own_context && raw->regs[16] != 0)
    ips[w.n++] = (uintptr_t) raw->regs[16] + 1;
#endif
  AsyncrtTrace *t = asyncrt__trace_new ();
  AsyncrtBacktrace *bt = asyncrt__trace_append_ips (t, ips, w.n);
  bt->truncated = w.full || (raw->cut_end != 0 && !w.reached_cut);
  g_free (ips);
  return t;
}
