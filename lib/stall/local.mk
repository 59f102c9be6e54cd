# lib/stall: the stall detector (stall-private.h): the watchdog thread and its reports.
libasyncrt_private_la_SOURCES += \
	lib/stall/stall-private.h \
	lib/stall/watchdog.c \
	lib/stall/stall.c

# The detector through the public API, on both schedulers, at -O2 -g.
test_programs += tests/stall/test-stall
tests_stall_test_stall_SOURCES = tests/stall/test-stall.c tests/flavour-util.h tests/harness-util.h
tests_stall_test_stall_CPPFLAGS = $(TEST_CPPFLAGS)
tests_stall_test_stall_CFLAGS = $(AM_CFLAGS) -O2 -g
tests_stall_test_stall_LDADD = $(TEST_LIBS)
