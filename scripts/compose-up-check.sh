#!/usr/bin/env bash
# compose-up-check.sh checks the first-hour path of the README literally:
# `make images`, then `docker compose up`, with no exported UID/GID. It runs
# the checks with every Compose it finds: the `docker compose` plugin (v2 or
# later; scripts/install-compose.sh installs it) and the standalone
# `docker-compose` (1.28 or later), one after the other, and names the one
# each line is about.
#
#   scripts/compose-up-check.sh                  # as the caller, in this checkout
#   AS_USER=tester scripts/compose-up-check.sh   # as root: the same in a fresh
#                                                # clone owned by user tester
#
# With PLAN=/plans/ci/compose-up.yaml (one 1 s cell) and OUT set to a new
# directory under results/runs/, it checks that
#  1. plain `up` leaves summary.csv and report.md in results/runs/, owned by
#     the caller (and so does every directory bench created there);
#  2. `up --exit-code-from bench` (the README's command) exits 0 for that plan
#     and non-zero for a plan that does not exist;
#  3. `--profile server up server` (the README's server command, with
#     ADDR=127.0.0.1:0) serves /plaintext;
# and prints what plain `up` returns for the failing plan (compose decides
# that: docker-compose 1.29.2 and the plugin v5.6.0 both return 0).
#
# AS_USER (root only) creates the user if missing (useradd -m), adds it to the
# docker group, clones this repository's HEAD into the user's home, gives
# the clone to the user and runs this script there as that user. A user
# without a compose plugin of their own gets a copy of the caller's (as if
# they had run scripts/install-compose.sh), and must then have
# `docker compose`. Without a reachable Docker engine or compose it prints a
# SKIP line and exits 0. Takes a minute or two (image builds).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "compose-up-check: $*"; }
die() {
	echo "compose-up-check: FAIL: $*" >&2
	exit 1
}

if [ -n "${AS_USER:-}" ]; then
	[ "$(id -u)" = 0 ] || die "AS_USER needs root"
	id "$AS_USER" >/dev/null 2>&1 || useradd -m "$AS_USER" || die "useradd $AS_USER failed"
	if getent group docker >/dev/null; then
		usermod -aG docker "$AS_USER" || die "cannot add $AS_USER to group docker"
	fi
	home=$(getent passwd "$AS_USER" | cut -d: -f6)
	clone=$home/asyncbench-compose-up-check
	rm -rf "$clone"
	# A fresh clone of this commit, handed to the user: everything in it is
	# theirs, as if they had cloned it themselves.
	git clone -q --no-hardlinks "$PWD" "$clone" || die "git clone into $clone failed"
	git -C "$clone" checkout -q --detach "$(git rev-parse HEAD)"
	chown -R "$AS_USER:$(id -g "$AS_USER")" "$clone"
	# The caller's compose plugin, for a user who has none.
	need_plugin=0
	if docker compose version >/dev/null 2>&1; then
		need_plugin=1
		mine=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose
		theirs=$home/.docker/cli-plugins
		if [ -x "$mine" ] && [ ! -e "$theirs/docker-compose" ]; then
			mkdir -p "$theirs"
			cp "$mine" "$theirs/docker-compose"
			chmod 0755 "$theirs/docker-compose"
			chown "$AS_USER:$(id -g "$AS_USER")" "$home/.docker" "$theirs" "$theirs/docker-compose"
			say "gave $AS_USER a copy of $mine"
		fi
	fi
	say "as user $AS_USER (uid $(id -u "$AS_USER")) in a fresh clone: $clone"
	# If root reaches the engine, the user must too: no SKIP then.
	strict=0
	timeout 20 docker info >/dev/null 2>&1 && strict=1
	rc=0
	su "$AS_USER" -s /bin/bash -c "unset AS_USER; unset DOCKER_CONFIG; export PATH='$PATH' STRICT=$strict NEED_PLUGIN=$need_plugin; cd '$clone' && scripts/compose-up-check.sh" || rc=$?
	[ "$rc" != 0 ] || [ "${KEEP:-0}" = 1 ] || rm -rf "$clone"
	exit "$rc"
fi

skip() {
	[ "${STRICT:-0}" != 1 ] || die "$*"
	say "SKIP: $*"
	exit 0
}
if ! command -v docker >/dev/null 2>&1; then
	skip "no Docker engine (docker CLI not installed)"
fi
if ! err=$(timeout 20 docker info 2>&1 >/dev/null); then
	skip "no Docker engine ($(printf '%s' "$err" | grep -v '^$' | tail -n 1))"
fi
# The commands users type: the plugin and the standalone tool, each checked
# when installed.
tools=()
if docker compose version >/dev/null 2>&1; then
	tools+=("docker compose")
elif [ "${NEED_PLUGIN:-0}" = 1 ]; then
	die "'docker compose' does not work for uid $(id -u), but it does for the caller"
fi
if command -v docker-compose >/dev/null 2>&1; then
	tools+=("docker-compose")
fi
[ "${#tools[@]}" -gt 0 ] || skip "no Docker Compose (neither 'docker compose' nor 'docker-compose')"
versions=
for t in "${tools[@]}"; do
	read -ra compose <<<"$t"
	versions+="${versions:+, }'$t' $("${compose[@]}" version --short 2>/dev/null | tr -d '\r' || echo '?')"
done
say "as uid $(id -u), with: $versions"
compose=()

# What a user's shell exports: UID is a bash variable, never exported.
unset GID
export -n UID 2>/dev/null || true
export COMPOSE_PROJECT_NAME=asyncbench-upcheck-$$
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=results/runs/compose-up-check-$stamp
log=$(mktemp)
cleanup() {
	[ "${#compose[@]}" = 0 ] || "${compose[@]}" --profile server down --remove-orphans >/dev/null 2>&1 || true
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

owned_by_caller() {
	local owner
	owner=$(stat -c %u "$1")
	[ "$owner" = "$(id -u)" ] || die "$1 is owned by uid $owner, not by the caller (uid $(id -u))"
}

say "make images"
make --no-print-directory images >"$log" 2>&1 || {
	tail -n 20 "$log" >&2
	die "make images failed"
}
grep '^images: \.env' "$log" || true

# up NAME PLAN OUTDIR [ARGS…] runs `compose up ARGS…` with PLAN and OUT set
# and sets rc; the output goes to $log and its last lines to stdout.
up() {
	local name=$1 plan=$2 dir=$3
	shift 3
	say "\$ PLAN=$plan OUT=/$dir ${compose[*]} up $*   # $name"
	rc=0
	PLAN=$plan OUT=/$dir timeout 300 "${compose[@]}" up "$@" >"$log" 2>&1 </dev/null || rc=$?
	sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" | tr '\r' '\n' | grep -v '^\s*$' | tail -n 4 | sed 's/^/    /'
	say "${compose[*]}: exit code $rc"
	"${compose[@]}" down --remove-orphans >/dev/null 2>&1 || true
}

check_run() {
	local dir=$1 run
	[ -L "$dir/latest" ] || die "$dir/latest missing: bench wrote no run directory"
	run=$dir/$(readlink "$dir/latest")
	for f in summary.csv report.md; do
		[ -s "$run/$f" ] || die "$run/$f missing or empty"
		owned_by_caller "$run/$f"
	done
	owned_by_caller "$run"
	owned_by_caller "$dir"
	say "${compose[*]}: ok: $run/summary.csv and report.md, owned by uid $(id -u) ($(stat -c %U "$run/summary.csv"))"
}

# server_check runs the README's server command, `compose --profile server
# up server`, in the background with ADDR=127.0.0.1:0 (the server picks a
# free port and prints it), asks it for /plaintext and stops it.
server_check() {
	local pid addr='' deadline body
	say "\$ ADDR=127.0.0.1:0 ${compose[*]} --profile server up server   # the README's server command"
	ADDR=127.0.0.1:0 timeout 120 "${compose[@]}" --profile server up server >"$log" 2>&1 </dev/null &
	pid=$!
	deadline=$((SECONDS + 60))
	while [ -z "$addr" ] && [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null; do
		addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -n 1)
		[ -n "$addr" ] || sleep 0.2
	done
	body=
	if [ -n "$addr" ]; then
		# shellcheck disable=SC2016 # expanded by the inner bash
		body=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/${0%:*}/${0##*:}" &&
			printf "GET /plaintext HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$0" >&3 &&
			cat <&3' "$addr" 2>/dev/null | tr -d '\r' | tail -n 1) || true
	fi
	"${compose[@]}" --profile server down --remove-orphans >/dev/null 2>&1 || true
	wait "$pid" 2>/dev/null || true
	if [ -z "$addr" ]; then
		sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" | tr '\r' '\n' | grep -v '^\s*$' | tail -n 8 >&2
		die "'${compose[*]} --profile server up server' printed no 'listening on' within 60s"
	fi
	[ "$body" = "Hello, World!" ] || die "GET http://$addr/plaintext from the server container answered '$body'"
	say "${compose[*]}: ok: the server container listened on $addr and answered /plaintext"
}

good=/plans/ci/compose-up.yaml
bad=/plans/ci/no-such-plan.yaml

for t in "${tools[@]}"; do
	read -ra compose <<<"$t"
	case $t in "docker compose") d=$out/plugin ;; *) d=$out/standalone ;; esac
	say "--- ${compose[*]} ---"

	up "plain up, the literal command" "$good" "$d/plain"
	[ "$rc" = 0 ] || die "plain '${compose[*]} up' exited $rc"
	check_run "$d/plain"

	up "the README's command" "$good" "$d/exit-code" --exit-code-from bench
	[ "$rc" = 0 ] || die "'${compose[*]} up --exit-code-from bench' exited $rc for a good plan"
	check_run "$d/exit-code"

	up "a failing plan must fail" "$bad" "$d/fail" --exit-code-from bench
	[ "$rc" != 0 ] || die "'${compose[*]} up --exit-code-from bench' exited 0 for a plan that does not exist"
	say "${compose[*]}: ok: a failing bench run gives exit code $rc"

	up "plain up with a failing plan (what compose returns)" "$bad" "$d/fail-plain"
	say "${compose[*]}: note: plain '${compose[*]} up' returned $rc for a failing bench run"

	server_check
done

[ "${KEEP:-0}" = 1 ] || rm -rf "$out"
say "PASS with: $versions"
