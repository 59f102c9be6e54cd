/* Native-stack sampling (lib/sample): what one sample costs.  A thread blocked in
 * read() four functions deep (-O2, no frame pointers) is sampled ROUNDS times:
 *   sample_roundtrip   signal sent -> handler done -> copy of the answer (the time a
 *                      requester waits for a thread that answers at once)
 *   sample_stack_bytes the bytes of stack the handler copied
 *   sample_unwind      unwinding that copy with libdw (after the first, which reads
 *                      the modules' CFI)
 *   sample_frames      frames found
 * and, for comparison, what a frame-pointer walk of the same stack would find (the
 * frames reachable from the interrupted context's frame pointer).  Prints
 * `name value unit` lines; the best of ROUNDS. */
#include "sample/sample-private.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#define ROUNDS 200

static int fds[2];
static AsyncrtSampleSlot *slot;
static atomic_bool attached;

__attribute__((noinline)) static void
level3 (void)
{
  char c;
  ssize_t n = read (fds[0], &c, 1);
  (void) n;
  __asm__ volatile ("" ::: "memory");
}

__attribute__((noinline)) static void
level2 (void)
{
  level3 ();
  __asm__ volatile ("" ::: "memory");
}

__attribute__((noinline)) static void
level1 (void)
{
  level2 ();
  __asm__ volatile ("" ::: "memory");
}

static void *
blocked_main (void *data)
{
  (void) data;
  asyncrt__sample_slot_attach (slot, 0);
  atomic_store (&attached, true);
  level1 ();
  asyncrt__sample_slot_detach (slot, NULL);
  return NULL;
}

/* The frames a frame-pointer walk of the copy would find: the interrupted pc, then
 * return addresses while the saved frame pointers stay inside the copy. */
static unsigned
frame_pointer_frames (const AsyncrtSampleRaw *raw)
{
#ifdef ASYNCRT_SAMPLE_SUPPORTED
  unsigned n = 1;
  uint64_t fp = raw->regs[6];                    /* rbp */
  while (n < 64 && fp >= raw->base && fp + 16 <= raw->base + raw->len && (fp & 7) == 0)
    {
      const uint64_t *f = (const uint64_t *) (const void *) (raw->stack + (fp - raw->base));
      if (f[1] == 0 || f[0] <= fp)
        break;
      n++;
      fp = f[0];
    }
  return n;
#else
  (void) raw;
  return 0;
#endif
}

int
main (void)
{
  int signo = asyncrt__sample_default_signal ();
  if (pipe (fds) < 0 || asyncrt__sample_signal_prepare (signo) != ASYNCRT_NATIVE_STACK_OK)
    return 1;
  slot = asyncrt__sample_slot_new ();
  pthread_t th;
  pthread_create (&th, NULL, blocked_main, NULL);
  while (!atomic_load (&attached))
    usleep (1000);
  usleep (20000);

  uint64_t best_rt = UINT64_MAX, best_unwind = UINT64_MAX;
  size_t bytes = 0, frames = 0;
  unsigned fp_frames = 0;
  for (int i = 0; i < ROUNDS; i++)
    {
      AsyncrtSamplePending p;
      AsyncrtSampleRaw *raw = NULL;
      uint64_t t0 = asyncrt__clock_now_ns ();
      asyncrt__sample_post (slot, signo, &p);
      if (asyncrt__sample_collect (&p, t0 + 1000000000u, &raw) != ASYNCRT_NATIVE_STACK_OK)
        return 1;
      uint64_t t1 = asyncrt__clock_now_ns ();
      AsyncrtTrace *tr = asyncrt__sample_unwind (raw);
      uint64_t t2 = asyncrt__clock_now_ns ();
      if (t1 - t0 < best_rt)
        best_rt = t1 - t0;
      if (i > 0 && t2 - t1 < best_unwind)
        best_unwind = t2 - t1;
      bytes = raw->len;
      frames = asyncrt_backtrace_get_n_frames (asyncrt_trace_get_backtrace (tr, 0));
      fp_frames = frame_pointer_frames (raw);
      asyncrt_trace_free (tr);
      g_free (raw);
    }
  if (write (fds[1], "x", 1) != 1)
    return 1;
  pthread_join (th, NULL);
  asyncrt__sample_slot_unref (slot);

  printf ("sample_roundtrip %.1f us\n", (double) best_rt / 1e3);
  printf ("sample_stack_bytes %zu bytes\n", bytes);
  printf ("sample_unwind %.1f us\n", (double) best_unwind / 1e3);
  printf ("sample_frames %zu frames\n", frames);
  printf ("sample_frames_frame_pointer_walk %u frames\n", fp_frames);
  return 0;
}
