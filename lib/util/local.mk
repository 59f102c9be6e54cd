# lib/util: what every module may use to talk to the outside (util-private.h):
# messages on stderr, signal names and ownership, bounded output, spare buffers.
libasyncrt_private_la_SOURCES += \
	lib/util/util-private.h \
	lib/util/output.c \
	lib/util/warn.c \
	lib/util/signals.c \
	lib/util/spare.c
