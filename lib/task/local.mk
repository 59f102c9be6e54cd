# lib/task: task memory, state word, wakers, join handles, owned-task lists
libasyncrt_private_la_SOURCES += \
	lib/task/task-private.h \
	lib/task/task.c \
	lib/task/owned.c
# tests/core: tasks, schedulers, blocking pool, coroutines (the runtime core)
test_programs += tests/core/test-task-state
tests_core_test_task_state_SOURCES = tests/core/test-task-state.c
tests_core_test_task_state_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_core_test_task_state_LDADD = $(INTERNAL_TEST_LIBS)
