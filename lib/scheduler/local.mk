libasyncrt_private_la_SOURCES += \
	lib/scheduler/coop-private.h \
	lib/scheduler/coop.c \
	lib/scheduler/scheduler-private.h \
	lib/scheduler/runtime.c \
	lib/scheduler/registry-private.h \
	lib/scheduler/registry.c \
	lib/scheduler/shutdown.c \
	lib/scheduler/current_thread.c
include lib/scheduler/multi_thread/local.mk

bench_programs += bench/bench-runtime
bench_bench_runtime_SOURCES = bench/bench-runtime.c
bench_bench_runtime_CPPFLAGS = $(TEST_CPPFLAGS)
bench_bench_runtime_LDADD = $(TEST_LIBS)

test_programs += tests/core/test-scheduler
tests_core_test_scheduler_SOURCES = tests/core/test-scheduler.c
tests_core_test_scheduler_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_core_test_scheduler_LDADD = $(INTERNAL_TEST_LIBS)

test_programs += tests/core/test-shutdown
tests_core_test_shutdown_SOURCES = tests/core/test-shutdown.c tests/flavour-util.h
tests_core_test_shutdown_CPPFLAGS = $(TEST_CPPFLAGS)
tests_core_test_shutdown_LDADD = $(TEST_LIBS)
valgrind_tests += tests/core/test-shutdown
