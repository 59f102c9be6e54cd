# lib/task: task memory, state word, wakers, join handles, owned-task lists
libasyncrt_private_la_SOURCES += \
	lib/task/task-private.h \
	lib/task/current-private.h \
	lib/task/task.c \
	lib/task/site.c \
	lib/task/alloc.c \
	lib/task/owned.c \
	lib/task/labels-private.h \
	lib/task/labels.c \
	lib/task/joinset.c
# tests/core: tasks, schedulers, blocking pool, coroutines (the runtime core)
test_programs += tests/core/test-task-state
tests_core_test_task_state_SOURCES = tests/core/test-task-state.c
tests_core_test_task_state_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_core_test_task_state_LDADD = $(INTERNAL_TEST_LIBS)
test_programs += tests/core/test-runtime
tests_core_test_runtime_SOURCES = tests/core/test-runtime.c
tests_core_test_runtime_CPPFLAGS = $(TEST_CPPFLAGS)
tests_core_test_runtime_LDADD = $(TEST_LIBS)
test_programs += tests/core/test-coroutine tests/core/test-coroutine-cxx
tests_core_test_coroutine_SOURCES = tests/core/test-coroutine.c
tests_core_test_coroutine_CPPFLAGS = $(TEST_CPPFLAGS)
tests_core_test_coroutine_CFLAGS = $(AM_CFLAGS) -Wimplicit-fallthrough
tests_core_test_coroutine_LDADD = $(TEST_LIBS)
tests_core_test_coroutine_cxx_SOURCES = tests/core/test-coroutine-cxx.cc
EXTRA_tests_core_test_coroutine_cxx_DEPENDENCIES = tests/core/test-coroutine.c
tests_core_test_coroutine_cxx_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/tests/core
tests_core_test_coroutine_cxx_CXXFLAGS = -Wall -Wextra -Wimplicit-fallthrough $(SANITIZER_CFLAGS)
tests_core_test_coroutine_cxx_LDADD = $(TEST_LIBS)
test_programs += tests/core/test-joinset
tests_core_test_joinset_SOURCES = tests/core/test-joinset.c tests/flavour-util.h
tests_core_test_joinset_CPPFLAGS = $(TEST_CPPFLAGS)
tests_core_test_joinset_LDADD = $(TEST_LIBS)
valgrind_tests += tests/core/test-joinset
