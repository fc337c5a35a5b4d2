#!/usr/bin/env bash
# slo-check.sh: re-measure every answer of a bench slo run, outside bench.
#
# Usage: scripts/slo-check.sh SLO.CSV
#
# For each row of SLO.CSV (written by bench slo) that has a max_rate, starts
# a fresh server for the backend on SERVER_CPU with GOMAXPROCS=1 and runs
# loadgen on GEN_CPU at that rate, with the row's connections, for
# DURATION after WARMUP, directly (no bench, no runner). It prints the
# measured p99 against the row's target and says "holds" when p99 ≤ target
# with zero errors, the generator on schedule and the server answering at
# least 98% of the offered rate (bench slo's rules), else "misses" and why.
# Exit status: 0 every answer held, 1 at least one missed.
#
# Environment: DURATION (5s), WARMUP (1s), SERVER_CPU (0), GEN_CPU (1),
# BIN (bin: the directory with server and loadgen; make build).
set -euo pipefail
[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: scripts/slo-check.sh SLO.CSV (from a bench slo run directory)" >&2; exit 2; }
csv=$(realpath "$1")
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
BIN=${BIN:-bin}
for tool in jq python3 taskset "$BIN/server" "$BIN/loadgen"; do
	command -v "$tool" >/dev/null || { echo "slo-check: $tool not found (apt-get install jq python3; make build)" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# target URL and generator flags for a workload as bench slo writes it
target() { # workload addr
	case "$1" in
	plaintext) echo "http://$2/plaintext" ;;
	delay:*) echo "http://$2/delay?us=${1#delay:}" ;;
	cpu:*) echo "http://$2/cpu?us=${1#cpu:}" ;;
	echo) echo "tcp://$2" ;;
	*) echo "slo-check: workload $1 not supported here (plaintext, delay:N, cpu:N, echo)" >&2; return 1 ;;
	esac
}

missed=0
printf '%-10s %-10s %6s %10s %8s %8s  %s\n' backend workload conns rate target_us p99_us verdict
# slo.csv's rows as tab-separated backend, workload, conns, target, rate
# (quoted fields may hold commas: read with a CSV parser)
rows=$(python3 -c '
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print("\t".join(r[k] for k in ("backend", "workload", "conns", "target_p99_us", "max_rate")))
' "$csv")
while IFS=$'\t' read -r backend workload conns tgt rate <&3; do
	if [ -z "$rate" ]; then
		printf '%-10s %-10s %6s %10s %8s %8s  %s\n' "$backend" "$workload" "$conns" - "$tgt" - "no answer to check"
		continue
	fi
	proto=http
	[ "$workload" = echo ] && proto=echo
	url=$(target "$workload" 127.0.0.1:0) || exit 1
	GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$BIN/server" -backend "$backend" -proto "$proto" -addr 127.0.0.1:0 >"$work/server.out" 2>&1 </dev/null &
	server_pid=$!
	addr=
	for _ in $(seq 100); do
		addr=$(awk '/listening on/ {print $NF; exit}' "$work/server.out")
		[ -n "$addr" ] && break
		sleep 0.05
	done
	[ -n "$addr" ] || { echo "slo-check: $backend did not start: $(cat "$work/server.out")" >&2; exit 1; }
	url=$(target "$workload" "$addr")
	extra=()
	[ "$workload" = echo ] && extra=(-payload 64)
	GOMAXPROCS=1 taskset -c "$GEN_CPU" "$BIN/loadgen" -c "$conns" -R "$rate" -d "$DURATION" -warmup "$WARMUP" \
		"${extra[@]}" -json "$url" >"$work/out.json" 2>"$work/err" </dev/null || true
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	if ! jq -e . "$work/out.json" >/dev/null 2>&1; then
		printf '%-10s %-10s %6s %10s %8s %8s  %s\n' "$backend" "$workload" "$conns" "$rate" "$tgt" - "misses: loadgen failed: $(tail -1 "$work/err")"
		missed=1
		continue
	fi
	read -r p99 errors sat rps requests < <(jq -r '[.latency_us.p99, .errors, .saturated, .rps, .requests] | @tsv' "$work/out.json")
	verdict=holds
	if [ "$requests" = 0 ]; then
		verdict="misses: no request completed"
	elif [ "$errors" != 0 ]; then
		verdict="misses: $errors errors"
	elif [ "$sat" = true ]; then
		verdict="misses: generator fell behind ($(jq -r .saturated_reason "$work/out.json"))"
	elif awk -v a="$rps" -v r="$rate" 'BEGIN { exit !(a < 0.98 * r) }'; then
		verdict="misses: the server answered $(printf '%.0f' "$rps") of $rate req/s"
	elif [ "$p99" -gt "$tgt" ]; then
		verdict="misses: p99 above target"
	fi
	[ "$verdict" = holds ] || missed=1
	printf '%-10s %-10s %6s %10s %8s %8s  %s\n' "$backend" "$workload" "$conns" "$rate" "$tgt" "$p99" "$verdict"
done 3<<<"$rows"
exit "$missed"
