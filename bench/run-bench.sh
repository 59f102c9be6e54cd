#!/bin/sh
# Runs every benchmark given and prints one table of `name value unit`.
# A program is run as it is; a Go file (bench/go/*.go: the Go references of the
# runtime and dump benchmarks) is run with `go run` and GOMAXPROCS=2, offline, with a
# build cache of its own that is removed afterwards — or skipped, with a note on
# stderr, when `go` is not installed (Debian: apt-get install golang-go).
set -e
gocache=
trap '[ -z "$gocache" ] || rm -rf "$gocache"' EXIT

run_one () {
  case "$1" in
    *.go)
      [ -n "$gocache" ] || gocache=$(mktemp -d)
      env GOMAXPROCS=2 GOCACHE="$gocache" GOPROXY=off GOFLAGS= GO111MODULE=off \
        go run "$1" ;;
    *)
      ./"$1" ;;
  esac
}

printf '%-48s %14s  %s\n' benchmark value unit
for b in "$@"; do
  case "$b" in
    *.go)
      if ! command -v go >/dev/null 2>&1; then
        echo "run-bench.sh: go not found, skipping $b (apt-get install golang-go)" >&2
        continue
      fi ;;
  esac
  run_one "$b" | while read -r name value unit; do
    [ -n "$name" ] && printf '%-48s %14s  %s\n' "$name" "$value" "$unit"
  done
done
