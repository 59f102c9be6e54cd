/* tests/trace/test-trace.c compiled at -O0, whatever CFLAGS the user configured
 * (automake puts $(CFLAGS) after the per-target flags, so a pragma is the only way). */
#pragma GCC optimize ("O0")
#include "test-trace.c"
