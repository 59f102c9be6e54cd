# lib/dump: task dumps (object and formatters, collection, requests, the blocking
# requester, the dump future)
libasyncrt_private_la_SOURCES += \
	lib/dump/dump-private.h \
	lib/dump/buf-private.h \
	lib/dump/dump-sched-private.h \
	lib/dump/dump.c \
	lib/dump/header.c \
	lib/dump/format.c \
	lib/dump/native.c \
	lib/dump/text.c \
	lib/dump/json.c \
	lib/dump/describe.c \
	lib/dump/group.c \
	lib/dump/waitgraph.c \
	lib/dump/collect.c \
	lib/dump/request.c \
	lib/dump/wait.c \
	lib/dump/future.c \
	lib/dump/filter.c \
	lib/dump/progress.c \
	lib/dump/folded.c \
	lib/dump/export-private.h \
	lib/dump/mappings.c \
	lib/dump/pprof.c
nodist_libasyncrt_private_la_SOURCES = lib/dump/profile.pb-c.c lib/dump/profile.pb-c.h

# pprof's profile.proto (the messages the library writes), compiled by protoc-c into
# the build tree.
EXTRA_DIST += lib/dump/profile.proto
BUILT_SOURCES += lib/dump/profile.pb-c.c lib/dump/profile.pb-c.h
CLEANFILES += lib/dump/profile.pb-c.c lib/dump/profile.pb-c.h
lib/dump/profile.pb-c.h: lib/dump/profile.pb-c.c
	@test -f $@ || { rm -f $<; $(MAKE) $(AM_MAKEFLAGS) $<; }
lib/dump/profile.pb-c.c: $(srcdir)/lib/dump/profile.proto
	$(AM_V_GEN)$(MKDIR_P) lib/dump && \
	$(PROTOC_C) --proto_path=$(srcdir)/lib/dump --c_out=lib/dump $(srcdir)/lib/dump/profile.proto

# Internals: the dump object and formatters from synthetic records.
test_programs += tests/dump/test-dump-model
tests_dump_test_dump_model_SOURCES = tests/dump/test-dump-model.c
tests_dump_test_dump_model_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_dump_test_dump_model_LDADD = $(INTERNAL_TEST_LIBS)
if HAVE_JSON_GLIB
tests_dump_test_dump_model_CPPFLAGS += $(JSON_GLIB_CFLAGS)
tests_dump_test_dump_model_LDADD += $(JSON_GLIB_LIBS)
endif

valgrind_tests += tests/dump/test-dump-model

# Internals: identical stacks stored and formatted once, records written once in
# place (and their arrays reused by the next dump), the frame-pointer walk.  Under
# valgrind too: reused records and slots are never cleared, every field is written.
test_programs += tests/dump/test-dump-intern
tests_dump_test_dump_intern_SOURCES = tests/dump/test-dump-intern.c
tests_dump_test_dump_intern_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_dump_test_dump_intern_CFLAGS = $(AM_CFLAGS) -O2 -g
tests_dump_test_dump_intern_LDADD = $(INTERNAL_TEST_LIBS)
valgrind_tests += tests/dump/test-dump-intern

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

# Why tasks wait (every leaf kind, holders, deadlocks, grouping) on both schedulers.
test_programs += tests/dump/test-waits
tests_dump_test_waits_SOURCES = tests/dump/test-waits.c tests/flavour-util.h tests/dump-json-util.h
tests_dump_test_waits_CPPFLAGS = $(TEST_CPPFLAGS)
tests_dump_test_waits_LDADD = $(TEST_LIBS)

# Dump cost: 1,000 and 10,000 idle tasks at depth 5, both schedulers, against the bare
# captures; formatting first and again.  Internal flags for the symbol-cache stats.
bench_programs += bench/bench-dump
bench_bench_dump_SOURCES = bench/bench-dump.c
bench_bench_dump_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
bench_bench_dump_CFLAGS = $(AM_CFLAGS) -O2 -g
bench_bench_dump_LDADD = $(INTERNAL_TEST_LIBS) $(LIBUNWIND_LIBS)

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
tests_dump_test_native_SOURCES = tests/dump/test-native.c tests/flavour-util.h tests/harness-util.h
tests_dump_test_native_CPPFLAGS = $(TEST_CPPFLAGS)
tests_dump_test_native_CFLAGS = $(AM_CFLAGS) -O2 -g
tests_dump_test_native_LDADD = $(TEST_LIBS)
# Filtered dumps on both schedulers: each filter on 10,000 tasks traces only the
# matching ones (the tasks count their own trace polls).
test_programs += tests/dump/test-dump-filter
tests_dump_test_dump_filter_SOURCES = tests/dump/test-dump-filter.c tests/flavour-util.h tests/harness-util.h
tests_dump_test_dump_filter_CPPFLAGS = $(TEST_CPPFLAGS)
tests_dump_test_dump_filter_LDADD = $(TEST_LIBS)

# Progress between two dumps on both schedulers: stuck, progressing, new, gone, a poll
# blocking its worker, a wake nobody runs; runtime identity.
test_programs += tests/dump/test-dump-progress
tests_dump_test_dump_progress_SOURCES = tests/dump/test-dump-progress.c tests/flavour-util.h tests/harness-util.h
tests_dump_test_dump_progress_CPPFLAGS = $(TEST_CPPFLAGS)
tests_dump_test_dump_progress_CFLAGS = $(AM_CFLAGS) -O2 -g
tests_dump_test_dump_progress_LDADD = $(TEST_LIBS)
valgrind_tests += tests/dump/test-dump-progress

# Folded stacks of hand-built dumps: exact output, counts parsed back, hostile names.
test_programs += tests/dump/test-dump-folded
tests_dump_test_dump_folded_SOURCES = tests/dump/test-dump-folded.c
tests_dump_test_dump_folded_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_dump_test_dump_folded_LDADD = $(INTERNAL_TEST_LIBS)
valgrind_tests += tests/dump/test-dump-folded

# pprof profiles of real dumps read back by `go tool pprof` (skipped without go):
# counts, labels, inlined functions, build ids.  At -O2 -g, for the inlined frames.
test_programs += tests/dump/test-dump-pprof
tests_dump_test_dump_pprof_SOURCES = tests/dump/test-dump-pprof.c tests/flavour-util.h
tests_dump_test_dump_pprof_CPPFLAGS = $(TEST_CPPFLAGS)
tests_dump_test_dump_pprof_CFLAGS = $(AM_CFLAGS) -O2 -g
tests_dump_test_dump_pprof_LDADD = $(TEST_LIBS)
