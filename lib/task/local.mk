# lib/task: task memory, state word, wakers, join handles, owned-task lists
libasyncrt_private_la_SOURCES += \
	lib/task/task-private.h \
	lib/task/task.c \
	lib/task/owned.c
