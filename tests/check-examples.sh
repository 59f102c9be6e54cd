#!/bin/sh
# TAP test: the examples work as the README says.  The demo prints a task dump that
# shows where each stuck task waits and why: who holds the lock the sessions wait for
# (text, and JSON valid against the schema); its --deadlock and --join-cycle programs
# are named deadlocks with exactly their two tasks; its --blocking program shows the
# native stack of the task that blocks its worker in read(); the echo server and client
# round-trip data over loopback; the server prints a task dump on SIGUSR1 (its
# sessions labelled with their peer) and keeps serving, and stops cleanly on SIGTERM
# even with a connection open.  Argument handling: check-example-args.sh.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
ex="$top_builddir/examples"
tmp=$(mktemp -d) || exit 1
server_pid=""
holder_pid=""
cleanup () {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  [ -n "$holder_pid" ] && kill "$holder_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
echo "1..11"
n=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $1"; shift; for f in "$@"; do sed 's/^/#   /' "$f"; done; }

if "$ex/demo" > "$tmp/demo.out" 2>&1; then
  missing=""
  for want in "task dump" session snapshot disk-writer client \
              handle_request_poll asyncrt_mutex_lock_poll flush_to_disk_poll \
              asyncrt_oneshot_recv_poll asyncrt_mpsc_recv_poll asyncrt_fd_read_poll \
              "examples/demo.c" \
              '"snapshot" holds mutex "store" for ' 'blocking 4 tasks: ' \
              '"snapshot" waits for oneshot "disk-ack"' \
              'waits for a message on channel "orphan"' \
              '4 tasks idle: ' 'name "session" (4)'; do
    grep -q -- "$want" "$tmp/demo.out" || missing="$missing '$want'"
  done
  if grep -q "How to read it" "$tmp/demo.out"; then missing="$missing (a hand-written explanation)"; fi
  if [ -z "$missing" ]; then ok "demo prints a dump naming every stuck await and who holds the lock"
  else echo "# missing:$missing"; not_ok "demo prints a dump naming every stuck await and who holds the lock" "$tmp/demo.out"; fi
else
  not_ok "demo runs" "$tmp/demo.out"
fi

# JSON valid against the installed schema (skipped without python3-jsonschema).
validate () {
  python3 "$top_srcdir/tests/validate-dump-json.py" "$top_srcdir/data/dump-schema-2.json" "$@"
}
if "$ex/demo" --json > "$tmp/demo.json" 2> "$tmp/demo.err" \
   && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["tasks"] and d["holders"][0]["name"] == "store" else 1)' "$tmp/demo.json" 2> "$tmp/json.err"; then
  validate "$tmp/demo.json" > "$tmp/valid.out" 2>&1; st=$?
  if [ $st -eq 0 ]; then ok "demo --json prints JSON valid against the schema"
  elif [ $st -eq 77 ]; then ok "demo --json prints JSON # SKIP python3-jsonschema is not installed"
  else not_ok "demo --json prints JSON valid against the schema" "$tmp/valid.out"; fi
else
  not_ok "demo --json prints JSON valid against the schema" "$tmp/demo.err" "$tmp/json.err"
fi

# The two other stuck programs: each a deadlock of exactly its two tasks, A and B
# (task ids depend on where a task is spawned: read them from the dump).
id_of () { sed -n "s/^  task \([0-9]*\) \"$1\" waits for .*/\1/p" "$2" | head -n 1; }
for scenario in deadlock join-cycle; do
  if "$ex/demo" --$scenario > "$tmp/$scenario.out" 2>&1 \
     && grep -q "^task dump of a multi_thread runtime: 2 tasks, complete, 1 deadlock$" "$tmp/$scenario.out"; then
    case $scenario in
      deadlock) a=$(id_of transfer-a "$tmp/$scenario.out"); b=$(id_of transfer-b "$tmp/$scenario.out") ;;
      join-cycle) a=$(id_of supervisor "$tmp/$scenario.out"); b=$(id_of worker "$tmp/$scenario.out") ;;
    esac
    if [ "${a:-0}" -lt "${b:-0}" ]; then lo=$a hi=$b; else lo=$b hi=$a; fi
    grep -q "^deadlock: tasks $lo, $hi wait for each other$" "$tmp/$scenario.out" && \
    case $scenario in
      deadlock) grep -q "^  task $a \"transfer-a\" waits for mutex \"ledger\" held by task $b for " "$tmp/$scenario.out" \
                && grep -q "^  task $b \"transfer-b\" waits for mutex \"accounts\" held by task $a for " "$tmp/$scenario.out" ;;
      join-cycle) grep -q "^  task $a \"supervisor\" waits for task $b to finish$" "$tmp/$scenario.out" \
                  && grep -q "^  task $b \"worker\" waits for task $a to finish$" "$tmp/$scenario.out" ;;
    esac && ok "demo --$scenario: the dump names the deadlock and its two tasks" \
         || not_ok "demo --$scenario: the dump names the deadlock and its two tasks" "$tmp/$scenario.out"
  else
    not_ok "demo --$scenario: the dump names the deadlock and its two tasks" "$tmp/$scenario.out"
  fi
done
if "$ex/demo" --deadlock --json > "$tmp/deadlock.json" 2> "$tmp/deadlock.err" \
   && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); ids=sorted(t["id"] for t in d["tasks"] if t["name"] in ("transfer-a", "transfer-b")); sys.exit(0 if d["deadlocks"] == [{"tasks": ids, "blocks": 0}] and len(ids) == 2 else 1)' "$tmp/deadlock.json" \
   && { validate "$tmp/deadlock.json" > "$tmp/valid2.out" 2>&1; st=$?; [ $st -eq 0 ] || [ $st -eq 77 ]; }; then
  ok "demo --deadlock --json: the deadlock in JSON, valid against the schema"
else
  not_ok "demo --deadlock --json: the deadlock in JSON, valid against the schema" "$tmp/deadlock.err" "$tmp/valid2.out"
fi

# --blocking: "reload" blocks its worker in read() while holding "settings"; the dump
# shows that thread's native stack down to load_config (ThreadSanitizer holds the
# sampling signal until the read returns: there the stack is reported as missing).
if grep -q -- '-fsanitize=thread' "$top_builddir/Makefile" 2>/dev/null; then
  want_stack='native stack'
else
  want_stack='#[0-9]* load_config at examples/demo.c:'
fi
if "$ex/demo" --blocking > "$tmp/blocking.out" 2>&1 \
   && grep -q '^task [0-9]* "reload" holds mutex "settings" for .*, blocking 3 tasks: ' "$tmp/blocking.out" \
   && grep -q '^task [0-9]* running on worker [0-9], name "reload"' "$tmp/blocking.out" \
   && grep -q -- "$want_stack" "$tmp/blocking.out" \
   && grep -q '^worker [0-9] did not stop: task [0-9]* running for ' "$tmp/blocking.out"; then
  ok "demo --blocking: the dump shows the native stack of the task blocking its worker"
else
  not_ok "demo --blocking: the dump shows the native stack of the task blocking its worker" "$tmp/blocking.out"
fi

"$ex/echo-server" 0 > "$tmp/server.out" 2> "$tmp/server.err" &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/server.out")
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -n "$port" ]; then ok "echo-server listens (port $port)"; else not_ok "echo-server listens" "$tmp/server.out" "$tmp/server.err"; fi

if [ -n "$port" ] && "$ex/echo-client" "$port" 16 1048576 > "$tmp/client.out" 2>&1; then
  ok "echo-client: 16 connections x 1 MiB echoed intact"
else
  not_ok "echo-client: 16 connections x 1 MiB echoed intact" "$tmp/client.out"
fi

# A connection that stays open: its session shows in the dump with its peer label,
# and SIGTERM must still stop the server cleanly (its session is cancelled).
holder_pid=""
if [ -n "$port" ]; then
  python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"ping")
assert s.recv(4) == b"ping"
print("held", s.getsockname()[1], flush=True)
time.sleep(60)
' "$port" > "$tmp/holder.out" 2>&1 &
  holder_pid=$!
  for _ in $(seq 1 100); do grep -q held "$tmp/holder.out" && break; sleep 0.1; done
fi
kill -USR1 "$server_pid" 2>/dev/null
for _ in $(seq 1 100); do grep -q 'labels: peer=' "$tmp/server.err" && break; sleep 0.1; done
hport=$(sed -n 's/held \([0-9]*\)/\1/p' "$tmp/holder.out")
if kill -0 "$server_pid" 2>/dev/null && grep -q "SIGUSR1: " "$tmp/server.err" && grep -q "task dump of a multi_thread runtime" "$tmp/server.err" \
   && grep -q "labels: peer=\"127.0.0.1:$hport\"" "$tmp/server.err" \
   && grep -q "session_poll" "$tmp/server.err" && grep -q ", group " "$tmp/server.err"; then
  ok "echo-server: SIGUSR1 prints a task dump (sessions with their peer label) and keeps running"
else
  not_ok "echo-server: SIGUSR1 prints a task dump (sessions with their peer label) and keeps running" "$tmp/server.err" "$tmp/holder.out"
fi
if [ -n "$port" ] && "$ex/echo-client" "$port" 4 65536 > "$tmp/client2.out" 2>&1; then
  ok "echo-server keeps serving after the dump"
else
  not_ok "echo-server keeps serving after the dump" "$tmp/client2.out" "$tmp/server.err"
fi

kill -TERM "$server_pid" 2>/dev/null
i=0
while kill -0 "$server_pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -n "$holder_pid" ] && kill "$holder_pid" 2>/dev/null
if kill -0 "$server_pid" 2>/dev/null; then
  not_ok "echo-server stops on SIGTERM" "$tmp/server.out" "$tmp/server.err"
else
  wait "$server_pid"; st=$?; server_pid=""
  if [ $st -eq 0 ] && grep -q "SIGTERM: stopping" "$tmp/server.err" \
     && grep -q "stopped after" "$tmp/server.out" && ! grep -q "still running" "$tmp/server.err"; then
    ok "echo-server stops cleanly on SIGTERM with a connection open"
  else not_ok "echo-server stops cleanly on SIGTERM (exit $st)" "$tmp/server.out" "$tmp/server.err"; fi
fi
