# lib/dump: task dumps (object and formatters, collection, requests, the blocking
# requester, the dump future)
libasyncrt_private_la_SOURCES += \
	lib/dump/dump-private.h \
	lib/dump/dump-sched-private.h \
	lib/dump/dump.c \
	lib/dump/header.c \
	lib/dump/format.c \
	lib/dump/native.c \
	lib/dump/text.c \
	lib/dump/json.c \
	lib/dump/collect.c \
	lib/dump/request.c \
	lib/dump/wait.c \
	lib/dump/future.c

# Internals: the dump object and formatters from synthetic records.
test_programs += tests/dump/test-dump-model
tests_dump_test_dump_model_SOURCES = tests/dump/test-dump-model.c
tests_dump_test_dump_model_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_dump_test_dump_model_LDADD = $(INTERNAL_TEST_LIBS)
if HAVE_JSON_GLIB
tests_dump_test_dump_model_CPPFLAGS += $(JSON_GLIB_CFLAGS)
tests_dump_test_dump_model_LDADD += $(JSON_GLIB_LIBS)
endif

# The public API on both schedulers, at -O2 -g (Tokio's dump scenarios and more).
test_programs += tests/dump/test-dump
tests_dump_test_dump_SOURCES = tests/dump/test-dump.c
tests_dump_test_dump_CPPFLAGS = $(TEST_CPPFLAGS) -DTEST_DUMP_HAVE_MT
tests_dump_test_dump_CFLAGS = $(AM_CFLAGS) -O2 -g
tests_dump_test_dump_LDADD = $(TEST_LIBS)
if HAVE_JSON_GLIB
tests_dump_test_dump_CPPFLAGS += $(JSON_GLIB_CFLAGS) -DHAVE_JSON_GLIB
tests_dump_test_dump_LDADD += $(JSON_GLIB_LIBS)
endif

# Dump cost: 1,000 and 10,000 idle tasks at depth 5, both schedulers, against the bare
# captures; formatting first and again.  Internal flags for the symbol-cache stats.
bench_programs += bench/bench-dump
bench_bench_dump_SOURCES = bench/bench-dump.c
bench_bench_dump_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
bench_bench_dump_CFLAGS = $(AM_CFLAGS) -O2 -g
bench_bench_dump_LDADD = $(INTERNAL_TEST_LIBS)

# Task labels through the public API, on both schedulers.
test_programs += tests/dump/test-labels
tests_dump_test_labels_SOURCES = tests/dump/test-labels.c tests/flavour-util.h
tests_dump_test_labels_CPPFLAGS = $(TEST_CPPFLAGS)
tests_dump_test_labels_LDADD = $(TEST_LIBS)
if HAVE_JSON_GLIB
tests_dump_test_labels_CPPFLAGS += $(JSON_GLIB_CFLAGS) -DHAVE_JSON_GLIB
tests_dump_test_labels_LDADD += $(JSON_GLIB_LIBS)
endif
valgrind_tests += tests/dump/test-labels

# Native stacks of running tasks, blocking jobs and stuck workers, on both
# schedulers, at -O2 -g like distribution builds.
test_programs += tests/dump/test-native
tests_dump_test_native_SOURCES = tests/dump/test-native.c tests/flavour-util.h
tests_dump_test_native_CPPFLAGS = $(TEST_CPPFLAGS)
tests_dump_test_native_CFLAGS = $(AM_CFLAGS) -O2 -g
tests_dump_test_native_LDADD = $(TEST_LIBS)
