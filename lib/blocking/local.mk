# lib/blocking: the blocking thread pool and asyncrt_spawn_blocking
libasyncrt_private_la_SOURCES += \
	lib/blocking/pool.c \
	lib/blocking/spawn-blocking.c
test_programs += tests/core/test-blocking
tests_core_test_blocking_SOURCES = tests/core/test-blocking.c
tests_core_test_blocking_CPPFLAGS = $(TEST_CPPFLAGS)
tests_core_test_blocking_LDADD = $(TEST_LIBS)
