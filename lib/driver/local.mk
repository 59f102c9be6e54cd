# lib/driver: the I/O + time driver
libasyncrt_private_la_SOURCES += \
	lib/driver/driver-private.h \
	lib/driver/driver-impl-private.h \
	lib/driver/driver.c \
	lib/driver/time/wheel-private.h \
	lib/driver/time/wheel.c \
	lib/driver/time/sleep.c \
	lib/driver/time/yield.c \
	lib/driver/time/timeout.c \
	lib/driver/io/fd-private.h \
	lib/driver/io/reactor.c \
	lib/driver/io/fd.c \
	lib/driver/io/socket.c \
	lib/driver/io/tcp.c \
	lib/driver/io/unix.c \
	lib/driver/io/signal.c

test_programs += tests/driver/test-wheel
tests_driver_test_wheel_SOURCES = tests/driver/test-wheel.c
tests_driver_test_wheel_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_driver_test_wheel_LDADD = $(INTERNAL_TEST_LIBS)

test_programs += tests/driver/test-time
tests_driver_test_time_SOURCES = tests/driver/test-time.c tests/driver/driver-test-util.h
tests_driver_test_time_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_driver_test_time_LDADD = $(INTERNAL_TEST_LIBS)

test_programs += tests/driver/test-io
tests_driver_test_io_SOURCES = tests/driver/test-io.c tests/driver/driver-test-util.h
tests_driver_test_io_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_driver_test_io_LDADD = $(INTERNAL_TEST_LIBS)

bench_programs += bench/bench-driver
bench_bench_driver_SOURCES = bench/bench-driver.c
bench_bench_driver_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
bench_bench_driver_LDADD = $(INTERNAL_TEST_LIBS)

# Leaves on the real current-thread runtime (public API).
test_programs += tests/driver/test-rt-io
tests_driver_test_rt_io_SOURCES = tests/driver/test-rt-io.c
tests_driver_test_rt_io_CPPFLAGS = $(TEST_CPPFLAGS)
tests_driver_test_rt_io_LDADD = $(TEST_LIBS)

bench_programs += bench/bench-driver-rt
bench_bench_driver_rt_SOURCES = bench/bench-driver-rt.c
bench_bench_driver_rt_CPPFLAGS = $(TEST_CPPFLAGS)
bench_bench_driver_rt_LDADD = $(TEST_LIBS)

test_programs += tests/driver/test-signal
tests_driver_test_signal_SOURCES = tests/driver/test-signal.c tests/flavour-util.h
tests_driver_test_signal_CPPFLAGS = $(TEST_CPPFLAGS)
tests_driver_test_signal_LDADD = $(TEST_LIBS)
valgrind_tests += tests/driver/test-signal
