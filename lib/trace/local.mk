libasyncrt_private_la_SOURCES += \
	lib/trace/context.c
