# Tests that are not one module's: the exported ABI and the public headers.
TESTS += tests/check-exports.sh tests/check-headers.sh tests/check-examples.sh
# valgrind memcheck (`make check-valgrind`, run by CI): one representative program per
# module; the long stress programs are left to the sanitizer runs.
valgrind_tests += \
	tests/test-future \
	tests/queue/test-queue \
	tests/core/test-task-state \
	tests/core/test-runtime \
	tests/core/test-blocking \
	tests/driver/test-time \
	tests/driver/test-io \
	tests/driver/test-rt-io \
	tests/trace/test-trace-o2 \
	tests/trace/test-trace-internal \
	tests/sync/test-notify \
	tests/sync/test-mpsc \
	tests/sync/test-semaphore \
	tests/sync/test-oneshot \
	tests/mt/test-mt-internal
EXTRA_DIST += tests/check-examples.sh tests/tap-test tests/check-exports.sh tests/check-headers.sh tests/test-util.h
# Every JSON dump the tests make is validated against data/dump-schema-2.json.
EXTRA_DIST += tests/validate-dump-json.py tests/dump-json-util.h

test_programs += tests/test-future
tests_test_future_SOURCES = tests/test-future.c
tests_test_future_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_future_LDADD = $(TEST_LIBS)

# The sizes of the public embeddable structs never change (their padding takes new state).
test_programs += tests/test-abi
tests_test_abi_SOURCES = tests/test-abi.c
tests_test_abi_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_abi_LDADD = $(TEST_LIBS)

test_programs += tests/test-version
tests_test_version_SOURCES = tests/test-version.c
tests_test_version_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_version_LDADD = $(TEST_LIBS)

# The soak run (`make soak`, not part of `make check`): SOAK_MINUTES (default 1).
EXTRA_PROGRAMS += tests/soak/soak
CLEANFILES += tests/soak/soak
tests_soak_soak_SOURCES = tests/soak/soak.c
tests_soak_soak_CPPFLAGS = $(TEST_CPPFLAGS)
tests_soak_soak_LDADD = $(TEST_LIBS)
.PHONY: soak
soak: tests/soak/soak
	SOAK_MINUTES=$${SOAK_MINUTES:-1} ./tests/soak/soak

# Every public _clear/_free on NULL, on zeroed never-initialised structs, and twice.
test_programs += tests/test-clear
tests_test_clear_SOURCES = tests/test-clear.c
tests_test_clear_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_clear_LDADD = $(TEST_LIBS)
valgrind_tests += tests/test-clear

# Every C sample of the README and of the reference manual compiled with -Wall
# -Wextra -Werror, and the complete programs run (tests/check-samples.py says how).
TEST_EXTENSIONS += .py
PY_LOG_DRIVER = $(LOG_DRIVER)
PY_LOG_COMPILER = python3
AM_TESTS_ENVIRONMENT += SAMPLE_CFLAGS="$(SANITIZER_CFLAGS)"; export SAMPLE_CFLAGS;
TESTS += tests/check-samples.py
EXTRA_DIST += tests/check-samples.py

# The examples refuse bad arguments with status 2 and a message, never hang.
TESTS += tests/check-example-args.sh
EXTRA_DIST += tests/check-example-args.sh

# The sample output of the manual's chapter "Debugging a hung program": every sample
# made again by running the examples and compared with the chapter (numbers, times and
# addresses aside); `make regen-debugging` rewrites them.
TESTS += doc/reference/regen-debugging.py
.PHONY: regen-debugging
regen-debugging: $(example_programs) tools/asyncrt-dump
	top_srcdir="$(abs_top_srcdir)" top_builddir="$(abs_top_builddir)" \
	$(PYTHON3) $(top_srcdir)/doc/reference/regen-debugging.py --write
