# tools: asyncrt-dump, the operator's tool (package asyncrt-tools).  It speaks the dump
# endpoint's protocol (lib/endpoint/protocol.c, compiled in) and does not link
# libasyncrt.
bin_PROGRAMS = tools/asyncrt-dump
tools_asyncrt_dump_SOURCES = tools/asyncrt-dump.c lib/endpoint/protocol.c \
	lib/endpoint/protocol-private.h lib/util/name-private.h
tools_asyncrt_dump_CPPFLAGS = -I$(top_srcdir)/lib -I$(top_builddir)
dist_man1_MANS = tools/asyncrt-dump.1
