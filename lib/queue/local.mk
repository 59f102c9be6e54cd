# lib/queue: the per-worker local run queue and the injection queue.
libasyncrt_private_la_SOURCES += \
	lib/queue/queue-private.h \
	lib/queue/inject.c \
	lib/queue/local.c

test_programs += tests/queue/test-queue tests/queue/test-queue-stress
tests_queue_test_queue_SOURCES = tests/queue/test-queue.c
tests_queue_test_queue_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_queue_test_queue_LDADD = $(INTERNAL_TEST_LIBS)
tests_queue_test_queue_stress_SOURCES = tests/queue/test-queue-stress.c
tests_queue_test_queue_stress_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_queue_test_queue_stress_LDADD = $(INTERNAL_TEST_LIBS)

bench_programs += bench/bench-queue
bench_bench_queue_SOURCES = bench/bench-queue.c
bench_bench_queue_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
bench_bench_queue_LDADD = $(INTERNAL_TEST_LIBS)
