# Tracing: trace context, leaf captures, symbolisation, trees and formatters.
libasyncrt_private_la_SOURCES += \
	lib/trace/trace-private.h \
	lib/trace/tree-private.h \
	lib/trace/wait-private.h \
	lib/trace/context.c \
	lib/trace/capture.c \
	lib/trace/backtrace.c \
	lib/trace/store.c \
	lib/trace/symbol.c \
	lib/trace/tree.c \
	lib/trace/format.c \
	lib/trace/wait.c

# The same public-API test at -O0 and at -O2 (inlining, clones, no frame pointers).
test_programs += tests/trace/test-trace-o0 tests/trace/test-trace-o2
tests_trace_test_trace_o0_SOURCES = tests/trace/test-trace-o0.c
tests_trace_test_trace_o0_CPPFLAGS = $(TEST_CPPFLAGS)
tests_trace_test_trace_o0_CFLAGS = $(AM_CFLAGS) -O0 -g
tests_trace_test_trace_o0_LDADD = $(TEST_LIBS)
tests_trace_test_trace_o2_SOURCES = tests/trace/test-trace-o2.c
tests_trace_test_trace_o2_CPPFLAGS = $(TEST_CPPFLAGS)
tests_trace_test_trace_o2_CFLAGS = $(AM_CFLAGS) -O2 -g
tests_trace_test_trace_o2_LDADD = $(TEST_LIBS)
EXTRA_DIST += tests/trace/test-trace.c

# Internals: golden output from synthetic traces, tree identity, the symbol cache.
test_programs += tests/trace/test-trace-internal
tests_trace_test_trace_internal_SOURCES = tests/trace/test-trace-internal.c
tests_trace_test_trace_internal_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_trace_test_trace_internal_LDADD = $(INTERNAL_TEST_LIBS)
if HAVE_JSON_GLIB
tests_trace_test_trace_internal_CPPFLAGS += $(JSON_GLIB_CFLAGS)
tests_trace_test_trace_internal_LDADD += $(JSON_GLIB_LIBS)
endif

bench_programs += bench/bench-trace
bench_bench_trace_SOURCES = bench/bench-trace.c
bench_bench_trace_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
bench_bench_trace_LDADD = $(INTERNAL_TEST_LIBS) $(LIBUNWIND_LIBS)
