# lib/sync: notify, oneshot, mpsc, semaphore, mutex
libasyncrt_private_la_SOURCES += \
	lib/sync/sync-private.h \
	lib/sync/notify.c \
	lib/sync/semaphore.c \
	lib/sync/mutex.c \
	lib/sync/oneshot.c \
	lib/sync/mpsc.c \
	lib/sync/cancel.c

EXTRA_DIST += tests/sync/sync-test-util.h

test_programs += tests/sync/test-notify
tests_sync_test_notify_SOURCES = tests/sync/test-notify.c
tests_sync_test_notify_CPPFLAGS = $(TEST_CPPFLAGS)
tests_sync_test_notify_LDADD = $(TEST_LIBS)

test_programs += tests/sync/test-semaphore
tests_sync_test_semaphore_SOURCES = tests/sync/test-semaphore.c
tests_sync_test_semaphore_CPPFLAGS = $(TEST_CPPFLAGS)
tests_sync_test_semaphore_LDADD = $(TEST_LIBS)

test_programs += tests/sync/test-oneshot
tests_sync_test_oneshot_SOURCES = tests/sync/test-oneshot.c
tests_sync_test_oneshot_CPPFLAGS = $(TEST_CPPFLAGS)
tests_sync_test_oneshot_LDADD = $(TEST_LIBS)

test_programs += tests/sync/test-mpsc
tests_sync_test_mpsc_SOURCES = tests/sync/test-mpsc.c
tests_sync_test_mpsc_CPPFLAGS = $(TEST_CPPFLAGS)
tests_sync_test_mpsc_LDADD = $(TEST_LIBS)

bench_programs += bench/bench-sync
bench_bench_sync_SOURCES = bench/bench-sync.c
bench_bench_sync_CPPFLAGS = $(TEST_CPPFLAGS)
bench_bench_sync_LDADD = $(TEST_LIBS)

test_programs += tests/sync/test-sync-runtime
tests_sync_test_sync_runtime_SOURCES = tests/sync/test-sync-runtime.c
tests_sync_test_sync_runtime_CPPFLAGS = $(TEST_CPPFLAGS)
tests_sync_test_sync_runtime_LDADD = $(TEST_LIBS)

test_programs += tests/sync/test-cancel
tests_sync_test_cancel_SOURCES = tests/sync/test-cancel.c tests/flavour-util.h
tests_sync_test_cancel_CPPFLAGS = $(TEST_CPPFLAGS)
tests_sync_test_cancel_LDADD = $(TEST_LIBS)
valgrind_tests += tests/sync/test-cancel
