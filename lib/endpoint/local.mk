# lib/endpoint: dumps from outside the process (the dump endpoint, dump on a signal)
libasyncrt_private_la_SOURCES += \
	lib/endpoint/endpoint-private.h \
	lib/endpoint/protocol-private.h \
	lib/endpoint/protocol.c \
	lib/endpoint/endpoint.c \
	lib/endpoint/service.c \
	lib/endpoint/client.c \
	lib/endpoint/respond.c \
	lib/endpoint/signal.c

# In one process: names, start/stop, the protocol and environment parsers (internals).
test_programs += tests/endpoint/test-endpoint-api
valgrind_tests += tests/endpoint/test-endpoint-api
tests_endpoint_test_endpoint_api_SOURCES = tests/endpoint/test-endpoint-api.c \
	tests/endpoint/endpoint-test-util.h
tests_endpoint_test_endpoint_api_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_endpoint_test_endpoint_api_LDADD = $(INTERNAL_TEST_LIBS)

# Across processes: asyncrt-dump and raw clients against endpoint-target (check only:
# it runs programs of the build tree).
check_PROGRAMS += tests/endpoint/test-endpoint tests/endpoint/endpoint-target
TESTS += tests/endpoint/test-endpoint
tests_endpoint_test_endpoint_SOURCES = tests/endpoint/test-endpoint.c \
	tests/endpoint/endpoint-test-util.h
tests_endpoint_test_endpoint_CPPFLAGS = $(TEST_CPPFLAGS)
tests_endpoint_test_endpoint_LDADD = $(GLIB_LIBS)
if ENABLE_SANITIZER
tests_endpoint_test_endpoint_CPPFLAGS += -DASYNCRT_TEST_SANITIZED
endif
if ENABLE_TSAN
tests_endpoint_test_endpoint_CPPFLAGS += -DASYNCRT_TEST_TSAN
endif
tests_endpoint_endpoint_target_SOURCES = tests/endpoint/endpoint-target.c
tests_endpoint_endpoint_target_CPPFLAGS = $(TEST_CPPFLAGS)
tests_endpoint_endpoint_target_CFLAGS = $(AM_CFLAGS) -O2 -g
tests_endpoint_endpoint_target_LDFLAGS = -no-install
tests_endpoint_endpoint_target_LDADD = $(TEST_LIBS)
