libasyncrt_private_la_SOURCES += \
	lib/scheduler/coop-private.h \
	lib/scheduler/coop.c \
	lib/scheduler/scheduler-private.h \
	lib/scheduler/runtime.c \
	lib/scheduler/current_thread.c \
	lib/scheduler/multi-thread-stub.c
