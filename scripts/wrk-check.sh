#!/usr/bin/env bash
# wrk-check.sh: cross-check the HTTP backends with wrk. For each backend the
# server runs on CPU 0 with GOMAXPROCS=1 and wrk on CPU 1, plain and then
# pipelined 16 deep; prints a markdown table and fails if wrk reports socket
# errors or non-2xx responses.
#
# Environment: DURATION (10s), CONNS (64), THREADS (1), DEPTH (16),
# BACKENDS ("stdlib gnet fasthttp"; cthreads and cepoll run from bin/), PORT (18080), SERVER_CPU (0),
# WRK_CPU (1), PATH_REQ (/plaintext).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
DEPTH=${DEPTH:-16}
BACKENDS=${BACKENDS:-"stdlib gnet fasthttp"}
PORT=${PORT:-18080}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
PATH_REQ=${PATH_REQ:-/plaintext}
GO=${GO:-go}

if ! command -v wrk >/dev/null; then
	echo "wrk-check: installing wrk" >&2
	apt-get install -y wrk >/dev/null
fi
command -v taskset >/dev/null || { echo "wrk-check: taskset not found (util-linux)" >&2; exit 1; }

tmp=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

"$GO" build -o "$tmp/server" ./cmd/server

start_server() { # backend
	local cmd=("$tmp/server" -backend "$1")
	case $1 in
	cthreads | cepoll) # C programs: built by make into bin/
		make --no-print-directory build-c >&2
		cmd=("bin/$1")
		;;
	esac
	GOMAXPROCS=1 taskset -c "$SERVER_CPU" "${cmd[@]}" -proto http -addr "127.0.0.1:$PORT" >"$tmp/server.out" 2>"$tmp/server.err" &
	server_pid=$!
	for _ in $(seq 100); do
		grep -q '^listening on ' "$tmp/server.out" 2>/dev/null && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "wrk-check: $1 did not start: $(cat "$tmp/server.err")" >&2
	return 1
}

stop_server() {
	kill -TERM "$server_pid"
	wait "$server_pid" || { echo "wrk-check: server exited with $?" >&2; return 1; }
	server_pid=
}

# Parsers of wrk output (file name as $1).
socket_errors() { grep -o 'Socket errors:.*' "$1" || true; }
non2xx() { grep -oE 'Non-2xx or 3xx responses: [0-9]+' "$1" | grep -oE '[0-9]+$' || echo 0; }
rps() { grep -oE 'Requests/sec: +[0-9.]+' "$1" | grep -oE '[0-9.]+$' || echo 0; }

fail=0
echo "| backend | mode | requests/sec | socket errors | non-2xx |"
echo "|---|---|---:|---|---:|"
for b in $BACKENDS; do
	start_server "$b"
	for mode in plain "pipeline-$DEPTH"; do
		out="$tmp/wrk-$b-$mode.txt"
		args=(-t "$THREADS" -c "$CONNS" -d "$DURATION" --timeout 5s)
		if [ "$mode" = plain ]; then
			taskset -c "$WRK_CPU" wrk "${args[@]}" "http://127.0.0.1:$PORT$PATH_REQ" >"$out"
		else
			taskset -c "$WRK_CPU" wrk "${args[@]}" -s scripts/pipeline.lua "http://127.0.0.1:$PORT$PATH_REQ" -- "$DEPTH" "$PATH_REQ" >"$out"
		fi
		se=$(socket_errors "$out")
		nx=$(non2xx "$out")
		echo "| $b | $mode | $(rps "$out") | ${se:-none} | $nx |"
		if [ -n "$se" ] || [ "$nx" != 0 ]; then
			fail=1
			echo "wrk-check: $b $mode: ${se:-} non-2xx=$nx" >&2
		fi
	done
	stop_server
done
exit "$fail"
