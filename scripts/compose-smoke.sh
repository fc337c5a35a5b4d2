#!/usr/bin/env bash
# compose-smoke.sh checks the containerised runs end to end (make compose-smoke):
#
#  1. builds the FROM scratch images (scripts/images.sh);
#  2. runs a tiny plan (scripts/compose-smoke.plan.yaml) in the bench
#     container and checks that summary.csv and report.md appear under
#     results/runs/ owned by the caller;
#  3. runs a 2-generator distributed measurement (scripts/compose-dist.sh)
#     and checks that the merged request count is the sum of the generators'.
#
# Without a reachable Docker engine it prints a SKIP line and exits 0.
# Every container it starts is removed on exit; its result directories are
# removed on success unless KEEP=1. Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "compose-smoke: $*"; }
die() {
	echo "compose-smoke: FAIL: $*" >&2
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
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
	say "SKIP: no Docker Compose (neither 'docker compose' nor 'docker-compose')"
	exit 0
fi

export COMPOSE_PROJECT_NAME=asyncbench-smoke-$$
export IMAGE_TAG=${IMAGE_TAG:-latest}
export UID
export GID=${GID:-$(id -g)}
stamp=$(date -u +%Y%m%dT%H%M%SZ)

compose() { scripts/compose.sh "$@"; }

cleanup() {
	local ids
	ids=$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" 2>/dev/null || true)
	# shellcheck disable=SC2086 # one argument per container id
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
	compose --profile server --profile distributed down --remove-orphans >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# csv_column FILE NAME... prints columns NAME... of every data row of FILE,
# tab-separated (RFC 4180 quoting; fields must not span lines).
csv_column() {
	f=$1
	shift
	awk -v names="$*" '
		function split_csv(line, i, c, f, q, n) {
			n = 0; f = ""; q = 0
			for (i = 1; i <= length(line); i++) {
				c = substr(line, i, 1)
				if (q) {
					if (c != "\"") f = f c
					else if (substr(line, i + 1, 1) == "\"") { f = f c; i++ }
					else q = 0
				} else if (c == "\"") q = 1
				else if (c == ",") { fld[++n] = f; f = "" }
				else f = f c
			}
			fld[++n] = f
			return n
		}
		{ sub(/\r$/, "") }
		NR == 1 {
			n = split_csv($0); k = split(names, want, " ")
			for (j = 1; j <= k; j++) {
				for (i = 1; i <= n; i++) if (fld[i] == want[j]) col[j] = i
				if (!col[j]) exit 2
			}
			next
		}
		{
			split_csv($0); out = fld[col[1]]
			for (j = 2; j <= k; j++) out = out "\t" fld[col[j]]
			print out
		}' "$f"
}

# owned_by_caller FILE fails unless FILE belongs to the calling user.
owned_by_caller() {
	local owner
	owner=$(stat -c %u "$1")
	[ "$owner" = "$(id -u)" ] || die "$1 is owned by uid $owner, not by the caller (uid $(id -u))"
}

# scripts/compose.sh runs the plugin when it is installed, else the standalone tool.
if v=$(docker compose version --short 2>/dev/null); then
	say "with 'docker compose' $v"
else
	say "with 'docker-compose' $(docker-compose version --short 2>/dev/null || echo '?')"
fi
say "building images (tag $IMAGE_TAG)"
scripts/images.sh >/dev/null || die "scripts/images.sh failed"

# 1. A tiny plan in the bench container. bench puts the run in a new
# directory under OUT and points OUT/latest at it.
runs=results/runs/smoke-$stamp
mkdir -p "$runs"
say "bench run in a container -> $runs/"
if ! out=$(OUT=/$runs PLAN=/smoke/plan.yaml timeout 120 scripts/compose.sh run --rm -T \
	-v "$PWD/scripts/compose-smoke.plan.yaml:/smoke/plan.yaml:ro" bench 2>&1 </dev/null); then
	printf '%s\n' "$out" | tail -n 20 >&2
	die "bench run in the container failed"
fi
[ -L "$runs/latest" ] || die "$runs/latest missing: bench wrote no run directory"
dir=$runs/$(readlink "$runs/latest")
for f in summary.csv report.md; do
	[ -s "$dir/$f" ] || die "$dir/$f missing or empty after the containerised run"
	owned_by_caller "$dir/$f"
done
owned_by_caller "$dir"
# bench measures a noisy or generator-bound cell again and appends the new
# row, so a cell repetition may have several rows: its status is that of
# the last completed one (ok, backlog or saturated), else of its last
# (runner.Latest). The smoke checks the container path, not the host: a
# cell the host kept noisy or the generator kept saturated through its
# re-runs passes with a warning, a failed one fails.
rows=$(csv_column "$dir/summary.csv" cell rep status) ||
	die "$dir/summary.csv lacks a cell, rep or status column"
cells=$(printf '%s\n' "$rows" | awk -F '\t' '
	function completed(s) { return s == "ok" || s == "backlog" || s == "saturated" }
	NF == 3 {
		id = $1 "#" $2
		if (!(id in st)) order[++n] = id
		if (!(id in st) || completed($3) || !completed(st[id])) st[id] = $3
	}
	END { for (i = 1; i <= n; i++) print order[i] " " st[order[i]] }')
joined() { printf '%s\n' "$1" | paste -sd ';' - | sed 's/;/; /g'; }
[ "$(printf '%s\n' "$cells" | grep -c .)" = 2 ] ||
	die "$dir/summary.csv: want 2 cells, have: $(joined "$cells")"
bad=$(printf '%s\n' "$cells" | grep -Ev ' (ok|backlog|noisy|saturated)$' || true)
[ -z "$bad" ] || die "$dir/summary.csv: cells not measured: $(joined "$bad")"
warn=$(printf '%s\n' "$cells" | grep -E ' (noisy|saturated)$' || true)
[ -z "$warn" ] || say "warning: these cells stayed noisy or saturated through their re-runs: $(joined "$warn")"
say "ok: summary.csv (2 cells) and report.md, owned by uid $(id -u)"

# 2. Two generators against one server, merged.
drun=smoke-dist-$stamp
say "distributed run, 2 generators -> results/runs/$drun"
if ! out=$(RUN_ID=$drun GENERATORS=2 CONNS=4 DURATION=3s \
	timeout 90 scripts/compose-dist.sh 2>&1); then
	printf '%s\n' "$out" | tail -n 20 >&2
	die "distributed run failed"
fi
ddir=results/runs/$drun
sum=0
n=0
for j in "$ddir"/gen-*.json; do
	[ -s "$j" ] || die "$j missing or empty"
	r=$(grep -o '"requests": *[0-9]*' "$j" | head -n 1 | grep -o '[0-9]*$') ||
		die "$j has no requests field"
	[ "$r" -gt 0 ] || die "$j: generator completed no requests"
	sum=$((sum + r))
	n=$((n + 1))
done
[ "$n" = 2 ] || die "$ddir: want 2 generator summaries, have $n"
[ -s "$ddir/merged.csv" ] || die "$ddir/merged.csv missing or empty"
owned_by_caller "$ddir/merged.csv"
merged=$(csv_column "$ddir/merged.csv" requests) || die "$ddir/merged.csv has no requests column"
[ "$merged" = "$sum" ] || die "merged requests $merged != sum of the generators' $sum"
say "ok: merged requests $merged = sum of 2 generators"
# Kept on failure for a look; KEEP=1 keeps them on success too.
[ "${KEEP:-0}" = 1 ] || rm -rf "$runs" "$ddir"
say "PASS"
