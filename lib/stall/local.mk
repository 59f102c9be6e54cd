# lib/stall: the stall detector (stall-private.h): the watchdog thread and its reports.
libasyncrt_private_la_SOURCES += \
	lib/stall/stall-private.h \
	lib/stall/watchdog.c \
	lib/stall/stall.c
