libasyncrt_private_la_SOURCES += \
	lib/scheduler/coop-private.h \
	lib/scheduler/coop.c
include lib/scheduler/multi_thread/local.mk
