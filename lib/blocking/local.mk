# lib/blocking: the blocking thread pool and asyncrt_spawn_blocking
libasyncrt_private_la_SOURCES += \
	lib/blocking/pool.c \
	lib/blocking/spawn-blocking.c
