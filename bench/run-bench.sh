#!/bin/sh
# Runs every benchmark program given and prints one table of `name value unit`.
set -e
printf '%-48s %14s  %s\n' benchmark value unit
for b in "$@"; do
  ./"$b" | while read -r name value unit; do
    [ -n "$name" ] && printf '%-48s %14s  %s\n' "$name" "$value" "$unit"
  done
done
