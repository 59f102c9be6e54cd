#!/bin/sh
# Regenerates debian/libasyncrt0.symbols from the built library (run after `make`).
# New symbols get the current version; the package build (dpkg-gensymbols -c4)
# fails whenever the file and the library disagree.
set -eu
cd "$(dirname "$0")/.."
so=$(ls .libs/libasyncrt.so.[0-9]* | head -n 1)
version=$(sed -n 's/^PACKAGE_VERSION=.\(.*\).$/\1/p' configure | head -n 1)
old=debian/libasyncrt0.symbols
{
  echo "libasyncrt.so.0 libasyncrt0 #MINVER#"
  echo "* Build-Depends-Package: libasyncrt-dev"
  nm -D --defined-only "$so" | awk '
    $3 ~ /^ASYNCRT_[0-9.]+$/ { print $3 "@" $3; next }   # the version node itself
    $3 ~ /^asyncrt_/ { sub(/@@/, "@", $3); print $3 }' | LC_ALL=C sort |
  while read -r sym; do
    v=$(awk -v s="$sym" '$1 == s { print $2 }' "$old" 2>/dev/null)
    echo " $sym ${v:-$version}"
  done
} > "$old.new"
mv "$old.new" "$old"
