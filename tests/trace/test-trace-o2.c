/* tests/trace/test-trace.c compiled at -O2, whatever CFLAGS the user configured
 * (automake puts $(CFLAGS) after the per-target flags, so a pragma is the only way). */
#pragma GCC optimize ("O2")
#include "test-trace.c"
