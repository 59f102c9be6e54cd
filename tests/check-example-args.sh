#!/bin/sh
# TAP test: the examples refuse bad arguments the way command-line tools should.
# Every bad argument (negative, zero where invalid, huge, non-numeric, out-of-range
# port, unknown option, one argument too many) exits with status 2, prints a message
# (naming the argument, for the programs that do) and the usage on stderr, nothing
# on stdout, and never runs or hangs (each run is under `timeout`).  --help anywhere
# on the line prints the usage on stdout with status 0, as --version prints the
# version.
set -u
: "${top_builddir:=.}"
ex="$top_builddir/examples"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
limit=10

# program|arguments|text stderr must contain ("-": just non-empty)
bad_cases='
echo-client||missing PORT
echo-client|abc|abc
echo-client|-3|-3
echo-client|0|PORT
echo-client|99999|99999
echo-client|1x|1x
echo-client|4294967297|4294967297
echo-client|1 0|CONNECTIONS
echo-client|1 -3|-3
echo-client|1 1001|1001
echo-client|1 abc|abc
echo-client|1 2 -5|-5
echo-client|1 2 abc|abc
echo-client|1 2 99999999999999999999999|99999999999999999999999
echo-client|1 2 1073741825|1073741825
echo-client|1 2 3 4|4
echo-client|--bogus 1|--bogus
echo-client|-x 1|-x
echo-client|--timeout|--timeout
echo-client|--timeout 0 1|--timeout
echo-client|--timeout -1 1|-1
echo-client|--timeout abc 1|abc
echo-client|--timeout=99999999 1|99999999
demo|--bogus|--bogus
demo|-x|-x
demo|extra|extra
demo|--json=1|--json=1
demo|--json --bogus|--bogus
demo|--deadlock --join-cycle|pick one
demo|--blocking --deadlock|pick one
echo-server|abc|abc
echo-server|-3|-3
echo-server|99999|99999
echo-server|65536|65536
echo-server|12x|12x
echo-server|0x10|0x10
echo-server|--bogus|--bogus
echo-server|1 2|2
'
# program|arguments: exit 0 with the usage on stdout
help_cases='
echo-client|--help
echo-client|-h
echo-client|1 2 --help
echo-client|--timeout 5 -h
echo-client|abc --help
demo|--help
demo|-h
demo|--json --help
demo|--bogus --help
echo-server|--help
echo-server|-h
echo-server|8080 --help
echo-server|abc --help
'
version_cases='
echo-client
demo
echo-server
'

n_bad=$(printf '%s\n' "$bad_cases" | grep -c '|')
n_help=$(printf '%s\n' "$help_cases" | grep -c '|')
n_version=$(printf '%s\n' "$version_cases" | grep -c '[a-z]')
echo "1..$((n_bad + n_help + n_version))"

n=0
report () {  # report OK DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    sed 's/^/#   stdout: /' "$tmp/out"; sed 's/^/#   stderr: /' "$tmp/err"
  fi
}

run () {  # run PROGRAM ARGS...: status in $st
  prog=$1; shift
  timeout "$limit" "$ex/$prog" "$@" > "$tmp/out" 2> "$tmp/err"
  st=$?
}

printf '%s\n' "$bad_cases" | grep '|' > "$tmp/bad"
while IFS='|' read -r prog args want; do
  # shellcheck disable=SC2086
  run "$prog" $args
  bad=0
  why=""
  if [ $st -eq 124 ]; then bad=1; why="hung (killed after ${limit} s)"
  elif [ $st -ne 2 ]; then bad=1; why="exit status $st, not 2"
  elif [ -s "$tmp/out" ]; then bad=1; why="printed on stdout"
  elif [ ! -s "$tmp/err" ]; then bad=1; why="no message on stderr"
  elif ! grep -qi usage "$tmp/err"; then bad=1; why="no usage on stderr"
  elif [ "$want" != "-" ] && ! grep -qF -- "$want" "$tmp/err"; then
    bad=1; why="the message does not mention '$want'"
  fi
  report $bad "$prog $args: refused with status 2${why:+ — $why}"
done < "$tmp/bad"

printf '%s\n' "$help_cases" | grep '|' > "$tmp/help"
while IFS='|' read -r prog args; do
  # shellcheck disable=SC2086
  run "$prog" $args
  bad=0
  if [ $st -ne 0 ] || ! grep -q '^usage:' "$tmp/out" || [ -s "$tmp/err" ]; then bad=1; fi
  report $bad "$prog $args: usage on stdout, status 0 (got $st)"
done < "$tmp/help"

for prog in $version_cases; do
  run "$prog" --version
  bad=0
  if [ $st -ne 0 ] || ! grep -q '[0-9]\.[0-9]' "$tmp/out" || [ -s "$tmp/err" ]; then bad=1; fi
  report $bad "$prog --version: version on stdout, status 0 (got $st)"
done
