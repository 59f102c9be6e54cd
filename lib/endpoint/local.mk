# lib/endpoint: dumps from outside the process (the dump endpoint, dump on a signal)
libasyncrt_private_la_SOURCES += \
	lib/endpoint/endpoint-private.h \
	lib/endpoint/protocol-private.h \
	lib/endpoint/protocol.c \
	lib/endpoint/endpoint.c \
	lib/endpoint/service.c \
	lib/endpoint/client.c \
	lib/endpoint/respond.c \
	lib/endpoint/signal.c \
	lib/endpoint/output.c
