# Examples and the demo.  `make demo` builds every example and runs the demo.
EXAMPLE_CPPFLAGS = -I$(top_srcdir)/include -I$(top_builddir)/include
EXAMPLE_LIBS = libasyncrt.la $(PTHREAD_LIBS)

example_programs += examples/demo examples/echo-server examples/echo-client
examples_demo_SOURCES = examples/demo.c
examples_demo_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_demo_LDADD = $(EXAMPLE_LIBS)
examples_echo_server_SOURCES = examples/echo-server.c
examples_echo_server_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_echo_server_LDADD = $(EXAMPLE_LIBS)
examples_echo_client_SOURCES = examples/echo-client.c
examples_echo_client_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_echo_client_LDADD = $(EXAMPLE_LIBS)

.PHONY: demo
demo: $(example_programs)
	@if test -x examples/demo; then ./examples/demo; \
	else for e in $(example_programs); do echo "== $$e"; ./$$e || exit 1; done; fi
