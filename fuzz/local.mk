# fuzz: the libFuzzer target of the dump endpoint's protocol (lib/endpoint/protocol.c).
#   make fuzz                      builds fuzz/fuzz-endpoint-protocol with clang
#                                  (-fsanitize=fuzzer,address,undefined)
#   make fuzz-run FUZZ_SECONDS=60  runs it from the seed corpus; fails on any finding
# `make check` runs the seed corpus through the same code, built with the normal
# compiler (and the sanitizers of the build, if any).
FUZZ_SECONDS = 60
FUZZ_SRCS = fuzz/fuzz-endpoint-protocol.c lib/endpoint/protocol.c
FUZZ_HDRS = lib/endpoint/protocol-private.h lib/util/name-private.h
EXTRA_DIST += $(FUZZ_SRCS) $(FUZZ_HDRS) fuzz/corpus
CLEANFILES += fuzz/fuzz-endpoint-protocol

check_PROGRAMS += fuzz/fuzz-endpoint-protocol-seeds
TESTS += fuzz/fuzz-endpoint-protocol-seeds
fuzz_fuzz_endpoint_protocol_seeds_SOURCES = $(FUZZ_SRCS) $(FUZZ_HDRS)
fuzz_fuzz_endpoint_protocol_seeds_CPPFLAGS = -I$(top_srcdir)/lib -I$(top_builddir) -DFUZZ_STANDALONE

fuzz/fuzz-endpoint-protocol: $(FUZZ_SRCS) $(FUZZ_HDRS)
	@if test -z "$(CLANG)"; then \
	  echo "make fuzz: clang not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2; \
	  exit 1; fi
	$(AM_V_CC)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir)/lib -I$(top_builddir) \
	  -o $@ $(addprefix $(srcdir)/,$(FUZZ_SRCS))

.PHONY: fuzz fuzz-run
fuzz: fuzz/fuzz-endpoint-protocol

# New inputs go to a scratch corpus in the build tree; the seeds are only read.
fuzz-run: fuzz/fuzz-endpoint-protocol
	rm -rf fuzz/corpus-work fuzz/artifacts && $(MKDIR_P) fuzz/corpus-work fuzz/artifacts
	./fuzz/fuzz-endpoint-protocol -max_total_time=$(FUZZ_SECONDS) -max_len=2048 \
	  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	  -artifact_prefix=fuzz/artifacts/ fuzz/corpus-work $(srcdir)/fuzz/corpus/endpoint-protocol

clean-local: clean-fuzz
.PHONY: clean-fuzz
clean-fuzz:
	rm -rf fuzz/corpus-work fuzz/artifacts
