# Multi-thread (work-stealing) scheduler.
libasyncrt_private_la_SOURCES += \
	lib/scheduler/multi_thread/multi-thread-private.h \
	lib/scheduler/multi_thread/idle.c \
	lib/scheduler/multi_thread/park.c \
	lib/scheduler/multi_thread/worker.c \
	lib/scheduler/multi_thread/runtime.c \
	lib/scheduler/multi_thread/barrier.c \
	lib/scheduler/multi_thread/taskdump.c

test_programs += tests/mt/test-mt-internal
tests_mt_test_mt_internal_SOURCES = tests/mt/test-mt-internal.c
tests_mt_test_mt_internal_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_mt_test_mt_internal_LDADD = $(INTERNAL_TEST_LIBS)

# The dump barrier (arrive / lead / withdraw / release) under many threads.
test_programs += tests/mt/test-mt-barrier
tests_mt_test_mt_barrier_SOURCES = tests/mt/test-mt-barrier.c
tests_mt_test_mt_barrier_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_mt_test_mt_barrier_LDADD = $(INTERNAL_TEST_LIBS)

test_programs += tests/mt/test-mt
tests_mt_test_mt_SOURCES = tests/mt/test-mt.c
tests_mt_test_mt_CPPFLAGS = $(TEST_CPPFLAGS)
tests_mt_test_mt_LDADD = $(TEST_LIBS)
