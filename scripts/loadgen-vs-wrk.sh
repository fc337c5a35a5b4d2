#!/usr/bin/env bash
# loadgen-vs-wrk.sh: requests per generator CPU-second, loadgen against wrk.
#
# Runs the fasthttp backend on CPU 0 (GOMAXPROCS=1) and alternates RUNS runs
# of wrk and of loadgen on CPU 1, 64 connections, GET /plaintext. Both
# generators are measured the same way: requests completed divided by the
# user+system CPU seconds /usr/bin/time reports for the whole process.
# loadgen runs with response verification and latency recording on (they
# cannot be turned off). Prints every run and the median ratio loadgen/wrk.
#
# Environment: RUNS (3), DURATION (5s), CONNS (64), SERVER_CPU (0),
# GEN_CPU (1), BIN (a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
GO=${GO:-go}

for tool in wrk taskset /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "loadgen-vs-wrk: $tool not found" >&2; exit 1; }
done

BIN=${BIN:-$(mktemp -d)}
work=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

"$GO" build -o "$BIN/server" ./cmd/server
"$GO" build -o "$BIN/loadgen" ./cmd/loadgen

GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$BIN/server" -backend fasthttp -proto http -addr 127.0.0.1:0 >"$work/server.out" 2>&1 &
server_pid=$!
addr=
for _ in $(seq 100); do
	addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/server.out" | head -n1)
	[ -n "$addr" ] && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.out" >&2; exit 1; }
	sleep 0.1
done
[ -n "$addr" ] || { echo "loadgen-vs-wrk: server did not print its address" >&2; exit 1; }
url="http://$addr/plaintext"
echo "server $server_pid at $addr (cpu $SERVER_CPU), generators on cpu $GEN_CPU, $CONNS connections, $DURATION per run"

# cpu_of FILE: user+sys seconds from /usr/bin/time -f '%U %S'.
cpu_of() { awk '{print $1 + $2}' "$1"; }

ratios=()
printf '%-4s %12s %8s %12s   %12s %8s %12s   %6s\n' run wrk_req wrk_cpu wrk_req/cpu lg_req lg_cpu lg_req/cpu ratio
for i in $(seq "$RUNS"); do
	/usr/bin/time -f '%U %S' -o "$work/wrk.time" \
		taskset -c "$GEN_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" "$url" >"$work/wrk.out"
	wrk_req=$(awk '/requests in/ {print $1}' "$work/wrk.out")
	wrk_cpu=$(cpu_of "$work/wrk.time")

	GOMAXPROCS=1 /usr/bin/time -f '%U %S' -o "$work/lg.time" \
		taskset -c "$GEN_CPU" "$BIN/loadgen" -c "$CONNS" -d "$DURATION" -warmup 0 -json "$url" >"$work/lg.json"
	lg_req=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' "$work/lg.json")
	lg_err=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' "$work/lg.json")
	lg_cpu=$(cpu_of "$work/lg.time")
	[ "$lg_err" = 0 ] || echo "warning: loadgen counted $lg_err errors" >&2

	read -r wrk_rate lg_rate ratio < <(awk -v wr="$wrk_req" -v wc="$wrk_cpu" -v lr="$lg_req" -v lc="$lg_cpu" \
		'BEGIN { a = wr / wc; b = lr / lc; printf "%.0f %.0f %.3f\n", a, b, b / a }')
	printf '%-4s %12s %8s %12s   %12s %8s %12s   %6s\n' "$i" "$wrk_req" "$wrk_cpu" "$wrk_rate" "$lg_req" "$lg_cpu" "$lg_rate" "$ratio"
	ratios+=("$ratio")
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
echo "median requests per generator CPU-second, loadgen/wrk: ${median}x"
