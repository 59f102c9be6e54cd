#!/bin/sh
# TAP test: the public headers compile warning-free as C11 -pedantic and as C++, and
# sub-headers refuse direct inclusion.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}" "${CC:=cc}" "${CXX:=c++}"
echo "1..4"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
inc="-I$top_srcdir/include -I$top_builddir/include"
printf '#include <asyncrt/asyncrt.h>\nint main (void) { return ASYNCRT_CHECK_VERSION (0, 1, 0) ? 0 : 1; }\n' > "$tmp/c.c"
cp "$tmp/c.c" "$tmp/cxx.cc"
n=0
check () {
  n=$((n + 1)); desc=$1; shift
  if "$@" > "$tmp/out" 2>&1; then echo "ok $n - $desc"
  else echo "not ok $n - $desc"; sed 's/^/#   /' "$tmp/out"; fi
}
check "C11 -pedantic -Wall -Wextra -Werror" $CC -std=c11 -pedantic -Wall -Wextra -Werror $inc -c "$tmp/c.c" -o "$tmp/c.o"
check "C99 is not required: gnu11 -Werror" $CC -std=gnu11 -Wall -Wextra -Werror $inc -c "$tmp/c.c" -o "$tmp/c2.o"
check "C++11 -pedantic -Wall -Wextra -Werror" $CXX -std=c++11 -pedantic -Wall -Wextra -Werror $inc -c "$tmp/cxx.cc" -o "$tmp/cxx.o"
bad=""
for h in "$top_srcdir"/include/asyncrt/*.h "$top_builddir"/include/asyncrt/version.h; do
  b=$(basename "$h"); [ "$b" = asyncrt.h ] && continue
  printf '#include <asyncrt/%s>\n' "$b" > "$tmp/direct.c"
  if $CC $inc -fsyntax-only "$tmp/direct.c" > /dev/null 2>&1; then bad="$bad $b"; fi
done
n=$((n + 1))
if [ -z "$bad" ]; then echo "ok $n - sub-headers refuse direct inclusion"
else echo "not ok $n - these sub-headers can be included directly:$bad"; fi
