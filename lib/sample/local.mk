# lib/sample: native stacks of the library's threads, sampled with a signal
# (sample-private.h); used by dumps (lib/dump) and the stall detector (lib/stall).
libasyncrt_private_la_SOURCES += \
	lib/sample/sample-private.h \
	lib/sample/slot.c \
	lib/sample/handler.c \
	lib/sample/signal.c \
	lib/sample/unwind.c \
	lib/sample/batch.c \
	lib/sample/status.c

# The sampler on its own: slots, the handler, ownership of the signal, 10,000 samples.
test_programs += tests/sample/test-sample
tests_sample_test_sample_SOURCES = tests/sample/test-sample.c
tests_sample_test_sample_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_sample_test_sample_CFLAGS = $(AM_CFLAGS) -O2 -g
tests_sample_test_sample_LDADD = $(INTERNAL_TEST_LIBS)

# What one sample costs (signal round trip, stack copy, libdw unwinding), and what a
# frame-pointer walk of the same -O2 stack would have found.
bench_programs += bench/bench-sample
bench_bench_sample_SOURCES = bench/bench-sample.c
bench_bench_sample_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
bench_bench_sample_CFLAGS = $(AM_CFLAGS) -O2 -g
bench_bench_sample_LDADD = $(INTERNAL_TEST_LIBS)
