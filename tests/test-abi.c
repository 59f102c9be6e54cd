/* The ABI of the public embeddable structs: their sizes and alignments must never
 * change (programs built against an older libasyncrt embed them).  New state goes
 * into their reserved padding (lib/sync/sync-private.h says how).  Checked at compile
 * time on LP64 (the sizes depend only on the data model) and reported at run time. */
#include <asyncrt/asyncrt.h>
#include <glib.h>
#include <stdint.h>

#define ABI(T, size, align) { #T, sizeof (T), _Alignof (T), size, align }

typedef struct
{
  const char *name;
  size_t size, align;
  size_t want_size, want_align;
} Abi;

#if UINTPTR_MAX == UINT64_MAX && UINT_MAX == 0xffffffffu
#define CHECK(T, size, align)                                                \
  _Static_assert (sizeof (T) == size && _Alignof (T) == align, #T " changed size")
/* 0.1 */
CHECK (AsyncrtCoroutine, 4, 4);
CHECK (AsyncrtDumpFuture, 72, 8);
CHECK (AsyncrtFd, 104, 8);
CHECK (AsyncrtMpscRecv, 120, 8);
CHECK (AsyncrtMpscSend, 120, 8);
CHECK (AsyncrtMutex, 160, 8);
CHECK (AsyncrtMutexLock, 128, 8);
CHECK (AsyncrtNotified, 112, 8);
CHECK (AsyncrtNotify, 128, 8);
CHECK (AsyncrtOneshotRecv, 120, 8);
CHECK (AsyncrtSemaphore, 128, 8);
CHECK (AsyncrtSemaphoreAcquire, 112, 8);
CHECK (AsyncrtSleep, 104, 8);
CHECK (AsyncrtSyncLock, 64, 8);
CHECK (AsyncrtSyncWaitList, 16, 8);
CHECK (AsyncrtSyncWaiter, 64, 8);
CHECK (AsyncrtTimeout, 144, 8);
CHECK (AsyncrtTraceRoot, 48, 8);
CHECK (AsyncrtWaker, 16, 8);
CHECK (AsyncrtWakerVTable, 32, 8);
CHECK (AsyncrtYield, 24, 8);
/* 0.2 */
CHECK (AsyncrtCancelled, 104, 8);
CHECK (AsyncrtSignal, 144, 8);
#define LP64 1
#endif

static void
test_sizes (void)
{
#ifdef LP64
  static const Abi abi[] = {
    ABI (AsyncrtCoroutine, 4, 4), ABI (AsyncrtDumpFuture, 72, 8), ABI (AsyncrtFd, 104, 8),
    ABI (AsyncrtMpscRecv, 120, 8), ABI (AsyncrtMpscSend, 120, 8), ABI (AsyncrtMutex, 160, 8),
    ABI (AsyncrtMutexLock, 128, 8), ABI (AsyncrtNotified, 112, 8), ABI (AsyncrtNotify, 128, 8),
    ABI (AsyncrtOneshotRecv, 120, 8), ABI (AsyncrtSemaphore, 128, 8),
    ABI (AsyncrtSemaphoreAcquire, 112, 8), ABI (AsyncrtSleep, 104, 8),
    ABI (AsyncrtSyncLock, 64, 8), ABI (AsyncrtSyncWaitList, 16, 8),
    ABI (AsyncrtSyncWaiter, 64, 8), ABI (AsyncrtTimeout, 144, 8), ABI (AsyncrtTraceRoot, 48, 8),
    ABI (AsyncrtWaker, 16, 8), ABI (AsyncrtWakerVTable, 32, 8), ABI (AsyncrtYield, 24, 8),
    ABI (AsyncrtCancelled, 104, 8), ABI (AsyncrtSignal, 144, 8),
  };
  for (size_t i = 0; i < G_N_ELEMENTS (abi); i++)
    {
      g_test_message ("%s: %zu bytes, aligned to %zu", abi[i].name, abi[i].size, abi[i].align);
      g_assert_cmpuint (abi[i].size, ==, abi[i].want_size);
      g_assert_cmpuint (abi[i].align, ==, abi[i].want_align);
    }
#else
  g_test_skip ("the recorded sizes are those of LP64 platforms");
#endif
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/abi/struct-sizes", test_sizes);
  return g_test_run ();
}
