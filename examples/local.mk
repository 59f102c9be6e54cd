# Examples and the demo.  `make demo` builds every example and runs the demo.
EXAMPLE_CPPFLAGS = -I$(top_srcdir)/include -I$(top_builddir)/include
EXAMPLE_LIBS = libasyncrt.la

.PHONY: demo
demo: $(example_programs)
	@if test -x examples/demo; then ./examples/demo; \
	else for e in $(example_programs); do echo "== $$e"; ./$$e || exit 1; done; fi
