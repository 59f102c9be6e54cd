#!/bin/sh
# TAP test: the examples work as the README says.  The demo prints a task dump that
# shows where each stuck task waits (text and JSON); the echo server and client
# round-trip data over loopback and the server stops cleanly on SIGTERM.
set -u
: "${top_builddir:=.}"
ex="$top_builddir/examples"
tmp=$(mktemp -d) || exit 1
server_pid=""
cleanup () { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
echo "1..5"
n=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $1"; shift; for f in "$@"; do sed 's/^/#   /' "$f"; done; }

if "$ex/demo" > "$tmp/demo.out" 2>&1; then
  missing=""
  for want in "task dump" session snapshot disk-writer client \
              handle_request_poll asyncrt_mutex_lock_poll flush_to_disk_poll \
              asyncrt_oneshot_recv_poll asyncrt_mpsc_recv_poll asyncrt_fd_read_poll \
              "examples/demo.c"; do
    grep -q -- "$want" "$tmp/demo.out" || missing="$missing '$want'"
  done
  if [ -z "$missing" ]; then ok "demo prints a dump naming every stuck await"
  else echo "# missing:$missing"; not_ok "demo prints a dump naming every stuck await" "$tmp/demo.out"; fi
else
  not_ok "demo runs" "$tmp/demo.out"
fi

if "$ex/demo" --json > "$tmp/demo.json" 2> "$tmp/demo.err" \
   && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["tasks"] else 1)' "$tmp/demo.json" 2> "$tmp/json.err"; then
  ok "demo --json prints JSON a parser accepts"
else
  not_ok "demo --json prints JSON a parser accepts" "$tmp/demo.err" "$tmp/json.err"
fi

"$ex/echo-server" 0 > "$tmp/server.out" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/server.out")
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -n "$port" ]; then ok "echo-server listens (port $port)"; else not_ok "echo-server listens" "$tmp/server.out"; fi

if [ -n "$port" ] && "$ex/echo-client" "$port" 16 1048576 > "$tmp/client.out" 2>&1; then
  ok "echo-client: 16 connections x 1 MiB echoed intact"
else
  not_ok "echo-client: 16 connections x 1 MiB echoed intact" "$tmp/client.out"
fi

kill -TERM "$server_pid" 2>/dev/null
i=0
while kill -0 "$server_pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$server_pid" 2>/dev/null; then
  not_ok "echo-server stops on SIGTERM" "$tmp/server.out"
else
  wait "$server_pid"; st=$?; server_pid=""
  if [ $st -eq 0 ]; then ok "echo-server stops cleanly on SIGTERM"
  else not_ok "echo-server stops cleanly on SIGTERM (exit $st)" "$tmp/server.out"; fi
fi
