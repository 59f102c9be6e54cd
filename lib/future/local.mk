libasyncrt_private_la_SOURCES += \
	lib/util/common-private.h \
	lib/util/name-private.h \
	lib/util/version.c \
	lib/future/context-private.h \
	lib/future/waker.c
