#!/usr/bin/env bash
# swarm-smoke.sh checks bench swarm end to end (make swarm-smoke) on a
# single-node swarm:
#
#  1. builds the FROM scratch images (scripts/images.sh) under their own
#     tag, so that no other build of :latest can stand in for them;
#  2. runs one server and 3 generator replicas for 3 s with bench swarm and
#     checks that it exits 0, that every replica left its JSON summary and
#     interval log, and that the merged row's requests are the sum of the
#     replicas' (arithmetic on the files);
#  3. runs it again with a deadline shorter than the run and checks that it
#     fails with one line naming a replica.
#
# Swarm is turned on only for this run (docker swarm init --advertise-addr
# 127.0.0.1) and left as it was found: when it was inactive, the trap leaves
# it again (docker swarm leave --force), on failure too. A swarm that was
# already active is used as it is and kept. Without a reachable Docker
# engine it prints a SKIP line and exits 0. Result directories are removed
# on success unless KEEP=1. Takes under a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "swarm-smoke: $*"; }
die() {
	echo "swarm-smoke: FAIL: $*" >&2
	exit 1
}

if ! command -v docker >/dev/null 2>&1; then
	say "SKIP: no Docker engine (docker CLI not installed)"
	exit 0
fi
if ! err=$(timeout 20 docker info 2>&1 >/dev/null); then
	say "SKIP: no Docker engine ($(printf '%s' "$err" | grep -v '^$' | tail -n 1))"
	exit 0
fi

export IMAGE_TAG=${IMAGE_TAG:-swarm-smoke}
stack=asyncbench-smoke-$$
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=results/runs/swarm-smoke-$stamp
joined=0

cleanup() {
	docker stack rm "$stack" >/dev/null 2>&1 || true
	if [ "$joined" = 1 ]; then
		# Services first, so that leaving does not strand their containers.
		for _ in $(seq 20); do
			[ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack" 2>/dev/null)" ] && break
			sleep 0.5
		done
		docker swarm leave --force >/dev/null 2>&1 || echo "swarm-smoke: could not leave the swarm; run: docker swarm leave --force" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

state=$(docker info --format '{{.Swarm.LocalNodeState}}')
case $state in
inactive)
	say "swarm inactive: docker swarm init --advertise-addr 127.0.0.1 (left again on exit)"
	joined=1
	docker swarm init --advertise-addr 127.0.0.1 >/dev/null || die "docker swarm init failed"
	;;
active) say "swarm already active: using it, leaving it active" ;;
*) die "swarm state is '$state'; want inactive or active (docker swarm leave --force?)" ;;
esac

say "building images (tag $IMAGE_TAG)"
scripts/images.sh >/dev/null || die "scripts/images.sh failed"

# A port nothing listens on, so that the check that the server listens is
# about this server.
port=
for p in $(seq 18400 18499); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		port=$p
		break
	fi
done
[ -n "$port" ] || die "no free port in 18400-18499"

swarm() {
	timeout 120 bin/bench swarm -image-tag "$IMAGE_TAG" -stack "$stack" -addr "127.0.0.1:$port" \
		-backend stdlib -replicas 3 -conns 4 -duration 3s -warmup 500ms -start-delay 4s -out "$out" "$@"
}

# 2. Three generators, merged.
say "bench swarm: 1 server, 3 generators, 3 s -> $out/ok"
if ! swarm -run-id ok >"$out.log" 2>&1; then
	tail -n 5 "$out.log" >&2
	die "bench swarm failed"
fi
cat "$out.log"
dir=$out/ok
sum=0
n=0
for j in "$dir"/replica-*/gen.json; do
	[ -s "$j" ] || die "$j missing or empty"
	[ -s "${j%.json}.hlog" ] || die "${j%.json}.hlog missing or empty"
	r=$(grep -o '"requests": *[0-9]*' "$j" | head -n 1 | grep -o '[0-9]*$') || die "$j has no requests field"
	[ "$r" -gt 0 ] || die "$j: generator completed no requests"
	grep -q '"start_skew_us":' "$j" || die "$j records no start_skew_us"
	say "  $j: requests $r"
	sum=$((sum + r))
	n=$((n + 1))
done
[ "$n" = 3 ] || die "$dir: want 3 replica summaries, have $n"
[ -s "$dir/report.md" ] || die "$dir/report.md missing"
[ "$(wc -l <"$dir/replicas.csv")" = 4 ] || die "$dir/replicas.csv: want a header and 3 lines"
col=$(head -n 1 "$dir/summary.csv" | tr ',' '\n' | grep -nx requests | cut -d: -f1)
[ -n "$col" ] || die "$dir/summary.csv has no requests column"
[ "$(wc -l <"$dir/summary.csv")" = 2 ] || die "$dir/summary.csv: want one merged row"
merged=$(sed -n 2p "$dir/summary.csv" | cut -d, -f"$col")
[ "$merged" = "$sum" ] || die "merged requests $merged != sum of the replicas' $sum"
say "ok: merged requests $merged = sum of 3 replicas"

# 3. A deadline shorter than the run: one line naming a replica, exit 1.
say "bench swarm with -deadline 2s (shorter than the run): must fail"
rc=0
swarm -run-id short -deadline 2s >"$out.log" 2>&1 || rc=$?
line=$(grep '^bench: ' "$out.log" || true)
[ "$rc" = 1 ] || die "want exit 1 from a run past its deadline, got $rc: $line"
case $line in
"bench: swarm: replica "*" did not finish within the deadline 2s"*) say "ok: $line" ;;
*) die "want one line naming a replica, got: $(tail -n 1 "$out.log")" ;;
esac
[ -z "$(docker service ls -q --filter "label=com.docker.stack.namespace=$stack")" ] || die "stack $stack left behind"

[ "${KEEP:-0}" = 1 ] || rm -rf "$out" "$out.log"
say "PASS"
