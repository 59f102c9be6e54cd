#!/bin/sh
# TAP test: libasyncrt.so exports exactly the functions declared in the public
# headers, and nothing that is not asyncrt_*.  Checks the built object, not the flags.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}" "${CC:=cc}" "${NM:=nm}"
echo "1..4"
so=$(ls "$top_builddir"/.libs/libasyncrt.so.[0-9]* 2>/dev/null | head -n 1)
if [ -z "$so" ]; then
  echo "Bail out! libasyncrt.so not built in $top_builddir/.libs"
  exit 1
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

$NM -D --defined-only "$so" | awk 'NF >= 3 { print $3 }' | grep -v '^ASYNCRT_[0-9.]*$' \
  | sed 's/@@*/ /' | sort -u > "$tmp/exported-versioned"   # "name NODE"
cut -d' ' -f1 "$tmp/exported-versioned" | sort -u > "$tmp/exported"
# "name NODE" from the declarations: ASYNCRT_AVAILABLE_IN_X_Y means node ASYNCRT_X.Y,
# except 0.1, whose node is ASYNCRT_0.
$CC -E -P -DASYNCRT_CHECK_EXPORTS -I"$top_srcdir/include" -I"$top_builddir/include" \
  "$top_srcdir/include/asyncrt/asyncrt.h" | tr '\n' ' ' \
  | perl -ne 'while (/__asyncrt_since_(\d+)_(\d+)__\s+__asyncrt_exported__\s+extern\s+[^;]*?\b(asyncrt_\w+)\s*\(/g) {
      my $node = ($1 == 0 && $2 == 1) ? "ASYNCRT_0" : "ASYNCRT_$1.$2"; print "$3 $node\n" }' \
  | sort -u > "$tmp/declared-versioned"
cut -d' ' -f1 "$tmp/declared-versioned" | sort -u > "$tmp/declared"

foreign=$(grep -v '^asyncrt_' "$tmp/exported")
if [ -z "$foreign" ]; then echo "ok 1 - only asyncrt_* symbols are exported"
else echo "not ok 1 - non-asyncrt_ symbols exported:"; echo "$foreign" | sed 's/^/#   /'; fi

missing=$(comm -23 "$tmp/declared" "$tmp/exported")
if [ -z "$missing" ]; then echo "ok 2 - every function declared in a public header is exported ($(wc -l < "$tmp/declared") declared)"
else echo "not ok 2 - declared but missing from $so:"; echo "$missing" | sed 's/^/#   /'; fi

undeclared=$(comm -13 "$tmp/declared" "$tmp/exported")
if [ -z "$undeclared" ]; then echo "ok 3 - every exported symbol is declared in a public header"
else echo "not ok 3 - exported but not declared (internal symbol leak):"; echo "$undeclared" | sed 's/^/#   /'; fi

wrong=$(comm -13 "$tmp/declared-versioned" "$tmp/exported-versioned" | cut -d' ' -f1 \
  | while read -r f; do grep -q "^$f " "$tmp/declared-versioned" && \
      echo "$f is $(grep "^$f " "$tmp/exported-versioned" | cut -d' ' -f2), declared $(grep "^$f " "$tmp/declared-versioned" | cut -d' ' -f2)"; done)
if [ -z "$wrong" ]; then echo "ok 4 - every function carries the symbol version of its ASYNCRT_AVAILABLE_IN_ macro"
else echo "not ok 4 - symbol versions disagree with the declarations:"; echo "$wrong" | sed 's/^/#   /'; fi
