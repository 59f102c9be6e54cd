# Tests that are not one module's: the exported ABI and the public headers.
TESTS += tests/check-exports.sh tests/check-headers.sh
valgrind_tests += tests/test-future
EXTRA_DIST += tests/tap-test tests/check-exports.sh tests/check-headers.sh tests/test-util.h

test_programs += tests/test-future
tests_test_future_SOURCES = tests/test-future.c
tests_test_future_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_future_LDADD = $(TEST_LIBS)
