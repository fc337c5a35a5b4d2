#!/usr/bin/env bash
# compose-dist.sh runs one distributed measurement with docker compose: one
# server, GENERATORS loadgen containers that start together at a shared
# wall-clock time, then `bench merge` over their .hlog and .json files.
#
#   scripts/compose-dist.sh                      # 2 generators, 10s, stdlib/http
#   GENERATORS=4 BACKEND=gnet DURATION=30s scripts/compose-dist.sh
#
# Settings (environment, defaults in brackets): GENERATORS [2], BACKEND
# [stdlib], PROTO [http], CONNS [16, per generator], RATE [0 = closed loop,
# per generator], DURATION [10s], WARMUP [1s], START_DELAY [seconds from now
# to the shared start: 4 + GENERATORS], MAX_START_SPREAD [0.5, seconds the
# measured windows may start apart], SERVER_CPUS [0], GEN_CPUS [1], ADDR
# [127.0.0.1:0: the server picks a port], RUN_ID [dist-<UTC time>],
# IMAGE_TAG [latest].
# Output: results/runs/$RUN_ID/gen-<i>.hlog, gen-<i>.json and merged.csv.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
	echo "compose-dist: $*" >&2
	exit 1
}

GENERATORS=${GENERATORS:-2}
case $GENERATORS in '' | *[!0-9]* | 0*) die "GENERATORS must be a positive integer, got '$GENERATORS'" ;; esac
START_DELAY=${START_DELAY:-$((4 + GENERATORS))}
RUN_ID=${RUN_ID:-dist-$(date -u +%Y%m%dT%H%M%SZ)}
export BACKEND=${BACKEND:-stdlib} PROTO=${PROTO:-http}
export CONNS=${CONNS:-16} DURATION=${DURATION:-10s} WARMUP=${WARMUP:-1s} RATE=${RATE:-0}
export SERVER_CPUS=${SERVER_CPUS:-0} GEN_CPUS=${GEN_CPUS:-1}
export ADDR=${ADDR:-127.0.0.1:0} RUN_ID
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-asyncbench-dist}

case $START_DELAY in '' | *[!0-9]* | 0?*) die "START_DELAY must be whole seconds, got '$START_DELAY'" ;; esac
case $RUN_ID in */* | .*) die "RUN_ID must be a plain name, got '$RUN_ID'" ;; esac

compose() { scripts/compose.sh "$@"; }

out=results/runs/$RUN_ID
# Created here, not by Docker, so that the caller owns it. bench merge reads
# every summary in it, so it must not hold an earlier run's.
mkdir -p "$out"
if compgen -G "$out/*.json" >/dev/null || compgen -G "$out/*.hlog" >/dev/null; then
	die "$out already holds generator files; pick another RUN_ID"
fi

work=$(mktemp -d)
cleanup() {
	local ids
	ids=$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" 2>/dev/null || true)
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
	compose --profile distributed down --remove-orphans >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

compose --profile distributed up -d server >"$work/up.log" 2>&1 || {
	cat "$work/up.log" >&2
	die "cannot start the server container"
}
server=$(compose --profile distributed ps -q server 2>/dev/null | tail -n 1)
[ -n "$server" ] || die "no server container after 'up -d server'"

# The server prints `listening on HOST:PORT` once it accepts connections.
addr=
deadline=$((SECONDS + 15))
while [ -z "$addr" ] && [ $SECONDS -lt $deadline ]; do
	addr=$(docker logs "$server" 2>&1 | sed -n 's/.*listening on \([^ ]*\).*/\1/p' | head -n 1 | tr -d '\r')
	[ -n "$addr" ] || sleep 0.2
done
if [ -z "$addr" ]; then
	docker logs "$server" 2>&1 | tail -n 5 >&2
	die "server did not print 'listening on' within 15s"
fi

case $PROTO in
http) target=http://$addr/plaintext ;;
echo) target=tcp://$addr ;;
*) die "PROTO must be http or echo, got '$PROTO'" ;;
esac
export TARGET=$target
export START_AT=$(($(date +%s) + START_DELAY))
echo "compose-dist: $GENERATORS generators -> $target, start at $(date -u -d "@$START_AT" +%H:%M:%SZ), output $out"

# All generators are created at once; each waits for START_AT.
for i in $(seq 0 $((GENERATORS - 1))); do
	(
		rc=0
		GEN_INDEX=$i compose --profile distributed run -d loadgen >"$work/run-$i.out" 2>"$work/run-$i.err" || rc=$?
		echo "$rc" >"$work/run-$i.rc"
	) &
done
wait
if [ "$(date +%s)" -ge "$START_AT" ]; then
	die "generators were still being created at START_AT; raise START_DELAY (now $START_DELAY s)"
fi
gens=()
for i in $(seq 0 $((GENERATORS - 1))); do
	c=$(tail -n 1 "$work/run-$i.out" | tr -d '\r')
	if [ "$(cat "$work/run-$i.rc")" != 0 ] || [ -z "$c" ]; then
		tail -n 5 "$work/run-$i.err" >&2
		die "cannot start generator $i"
	fi
	gens+=("$c")
done

fail=0
for i in "${!gens[@]}"; do
	c=${gens[$i]}
	rc=$(docker wait "$c")
	# loadgen -json prints the summary on stdout; the scratch image cannot
	# redirect it to a file, so it is taken from the container's log.
	docker logs "$c" 2>/dev/null >"$out/gen-$i.json"
	if [ "$rc" != 0 ]; then
		echo "compose-dist: generator $i exited with $rc:" >&2
		docker logs "$c" 2>&1 >/dev/null | tail -n 5 >&2
		fail=1
	fi
done
[ "$fail" = 0 ] || die "a generator failed; partial output in $out"

# The measured windows must have started together: a generator that came up
# after START_AT starts at once, and its window would not overlap the others'.
starts=$(for i in "${!gens[@]}"; do
	t=$(grep -o '"start_time": *"[^"]*"' "$out/gen-$i.json" | sed 's/.*"\([^"]*\)"$/\1/')
	[ -n "$t" ] || die "$out/gen-$i.json has no start_time"
	date -u -d "$t" +%s.%N
done)
spread=$(printf '%s\n' "$starts" | awk 'NR == 1 { lo = hi = $1 } { if ($1 < lo) lo = $1; if ($1 > hi) hi = $1 } END { printf "%.3f", hi - lo }')
if awk -v s="$spread" -v max="${MAX_START_SPREAD:-0.5}" 'BEGIN { exit !(s > max) }'; then
	die "measured windows started ${spread}s apart (max ${MAX_START_SPREAD:-0.5}s); raise START_DELAY"
fi

compose run --rm -T merge >"$work/merge.log" 2>&1 </dev/null || {
	tail -n 5 "$work/merge.log" >&2
	die "bench merge failed (scripts/compose.sh run --rm merge, RUN_ID=$RUN_ID)"
}
[ -s "$out/merged.csv" ] || die "bench merge wrote no $out/merged.csv"
echo "compose-dist: merged $GENERATORS generators into $out/merged.csv (windows started within ${spread}s)"
