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
# with zero errors and the generator on schedule, else "misses" and why.
# Exit status: 0 every answer held, 1 at least one missed.
#
# Environment: DURATION (5s), WARMUP (1s), SERVER_CPU (0), GEN_CPU (1),
# BIN (bin: the directory with server and loadgen; make build).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: scripts/slo-check.sh SLO.CSV (from a bench slo run directory)" >&2; exit 2; }
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
BIN=${BIN:-bin}
for tool in jq taskset "$BIN/server" "$BIN/loadgen"; do
	command -v "$tool" >/dev/null || { echo "slo-check: $tool not found (apt-get install jq; make build)" >&2; exit 1; }
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
	json) echo "http://$2/json" ;;
	delay:*) echo "http://$2/delay?us=${1#delay:}" ;;
	cpu:*) echo "http://$2/cpu?us=${1#cpu:}" ;;
	echo) echo "tcp://$2" ;;
	*) echo "slo-check: workload $1 not supported here" >&2; return 1 ;;
	esac
}

missed=0
printf '%-10s %-10s %6s %10s %8s %8s  %s\n' backend workload conns rate target_us p99_us verdict
# columns by name, whatever their order
{
	IFS=, read -r -a hdr
	col() { local i; for i in "${!hdr[@]}"; do [ "${hdr[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo "slo-check: no column $1" >&2; exit 1; }
	ib=$(col backend); iw=$(col workload); ic=$(col conns); it=$(col target_p99_us); ir=$(col max_rate)
	while IFS=, read -r -a f; do
		backend=${f[$ib]} workload=${f[$iw]} conns=${f[$ic]} tgt=${f[$it]} rate=${f[$ir]}
		if [ -z "$rate" ]; then
			printf '%-10s %-10s %6s %10s %8s %8s  %s\n' "$backend" "$workload" "$conns" - "$tgt" - "no answer to check"
			continue
		fi
		proto=http
		[ "$workload" = echo ] && proto=echo
		GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$BIN/server" -backend "$backend" -proto "$proto" -addr 127.0.0.1:0 >"$work/server.out" 2>&1 &
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
			-dial-rate 5000 "${extra[@]}" -json "$url" >"$work/out.json" 2>"$work/err" || true
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
		if ! jq -e . "$work/out.json" >/dev/null 2>&1; then
			printf '%-10s %-10s %6s %10s %8s %8s  %s\n' "$backend" "$workload" "$conns" "$rate" "$tgt" - "misses: loadgen failed: $(tail -1 "$work/err")"
			missed=1
			continue
		fi
		read -r p99 errors sat < <(jq -r '[.latency_us.p99, .errors, .saturated] | @tsv' "$work/out.json")
		verdict=holds
		if [ "$errors" != 0 ]; then
			verdict="misses: $errors errors"
		elif [ "$sat" = true ]; then
			verdict="misses: generator fell behind ($(jq -r .saturated_reason "$work/out.json"))"
		elif [ "$p99" -gt "$tgt" ]; then
			verdict="misses: p99 above target"
		fi
		[ "$verdict" = holds ] || missed=1
		printf '%-10s %-10s %6s %10s %8s %8s  %s\n' "$backend" "$workload" "$conns" "$rate" "$tgt" "$p99" "$verdict"
	done
} <"$1"
exit "$missed"
