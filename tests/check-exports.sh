#!/bin/sh
# TAP test: libasyncrt.so exports exactly the functions declared in the public
# headers, and nothing that is not asyncrt_*.  Checks the built object, not the flags.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}" "${CC:=cc}" "${NM:=nm}"
echo "1..3"
so=$(ls "$top_builddir"/.libs/libasyncrt.so.[0-9]* 2>/dev/null | head -n 1)
if [ -z "$so" ]; then
  echo "Bail out! libasyncrt.so not built in $top_builddir/.libs"
  exit 1
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

$NM -D --defined-only "$so" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' \
  | grep -v '^ASYNCRT_[0-9]*$' | sort -u > "$tmp/exported"
$CC -E -P -DASYNCRT_CHECK_EXPORTS -I"$top_srcdir/include" -I"$top_builddir/include" \
  "$top_srcdir/include/asyncrt/asyncrt.h" | tr '\n' ' ' \
  | perl -ne 'while (/__asyncrt_exported__\s+extern\s+[^;]*?\b(asyncrt_\w+)\s*\(/g) { print "$1\n" }' \
  | sort -u > "$tmp/declared"

foreign=$(grep -v '^asyncrt_' "$tmp/exported")
if [ -z "$foreign" ]; then echo "ok 1 - only asyncrt_* symbols are exported"
else echo "not ok 1 - non-asyncrt_ symbols exported:"; echo "$foreign" | sed 's/^/#   /'; fi

missing=$(comm -23 "$tmp/declared" "$tmp/exported")
if [ -z "$missing" ]; then echo "ok 2 - every function declared in a public header is exported ($(wc -l < "$tmp/declared") declared)"
else echo "not ok 2 - declared but missing from $so:"; echo "$missing" | sed 's/^/#   /'; fi

undeclared=$(comm -13 "$tmp/declared" "$tmp/exported")
if [ -z "$undeclared" ]; then echo "ok 3 - every exported symbol is declared in a public header"
else echo "not ok 3 - exported but not declared (internal symbol leak):"; echo "$undeclared" | sed 's/^/#   /'; fi
