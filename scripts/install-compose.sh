#!/usr/bin/env bash
# install-compose.sh makes `docker compose` (Compose v2 or later, the Docker
# CLI plugin) available where the distribution ships only the standalone
# docker-compose 1.x:
#
#   scripts/install-compose.sh
#
#  - if `docker compose version` already reports 2 or later, it does nothing;
#  - else it builds the plugin from the Go module github.com/docker/compose/v5
#    (the version pinned below) with `go build` of its cmd package, into a
#    cache directory
#    ($XDG_CACHE_HOME or ~/.cache)/asyncbench/compose-<version>/, and copies
#    it to ${DOCKER_CONFIG:-~/.docker}/cli-plugins/docker-compose.
#
# A cached build that reports the pinned version is reused, so only the first
# run on a machine builds (a few minutes on 2 cores). Modules come from the Go
# module proxy only (GOPROXY without `direct`); nothing else is downloaded.
# Prints one line saying what it did; a failed build exits non-zero.
set -euo pipefail

COMPOSE_MODULE=github.com/docker/compose/v5
COMPOSE_VERSION=v5.6.0

say() { echo "install-compose: $*"; }
die() {
	echo "install-compose: FAIL: $*" >&2
	exit 1
}

command -v docker >/dev/null 2>&1 || die "no docker CLI: the compose plugin runs under it"

# major VERSION prints the major number of a version such as v5.6.0 or 2.29.1.
major() {
	local v=${1#v}
	v=${v%%.*}
	case $v in '' | *[!0-9]*) echo 0 ;; *) echo "$v" ;; esac
}

if have=$(docker compose version --short 2>/dev/null) && [ "$(major "$have")" -ge 2 ]; then
	say "docker compose $have already installed; nothing to do"
	exit 0
fi

plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
cache=${XDG_CACHE_HOME:-$HOME/.cache}/asyncbench/compose-$COMPOSE_VERSION
bin=$cache/docker-compose

# cached prints the version the cached binary reports, empty if none.
cached() {
	[ -x "$bin" ] || return 0
	"$bin" version --short 2>/dev/null || true
}

how="reused the cached build $bin"
if [ "$(cached)" != "${COMPOSE_VERSION#v}" ]; then
	if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
		PATH=/usr/local/go/bin:$PATH
	fi
	command -v go >/dev/null 2>&1 || die "no Go toolchain to build Compose $COMPOSE_VERSION"
	# The module proxy only: drop `direct` (and `off`) from GOPROXY.
	proxy=$(go env GOPROXY | tr ',|' '\n' | grep -vx -e direct -e off -e '' | paste -sd, -) || true
	[ -n "$proxy" ] || die "GOPROXY names no module proxy (is '$(go env GOPROXY)')"
	mkdir -p "$cache"
	log=$cache/build.log
	start=$SECONDS
	flags=$(go env GOFLAGS)
	export GOPROXY=$proxy GOFLAGS="$flags -mod=mod"
	# `go install …@version` refuses a module whose go.mod has exclude
	# directives, as this one has: build inside a copy of the module instead
	# (the module cache is read-only, and -mod=mod may update go.mod).
	dir=$(go mod download -json "$COMPOSE_MODULE@$COMPOSE_VERSION" 2>"$log" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p') || true
	if [ -z "$dir" ] || [ ! -f "$dir/go.mod" ]; then
		die "cannot download $COMPOSE_MODULE@$COMPOSE_VERSION from $proxy: $(grep -v '^\s*$' "$log" | tail -n 1)"
	fi
	src=$cache/src
	rm -rf "$src"
	cp -R "$dir" "$src"
	chmod -R u+w "$src"
	if ! (cd "$src" && go build -trimpath \
		-ldflags "-w -X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION" \
		-o "$bin.new" ./cmd) >>"$log" 2>&1; then
		die "building $COMPOSE_MODULE/cmd@$COMPOSE_VERSION failed after $((SECONDS - start))s: $(grep -v '^\s*$' "$log" | tail -n 1) (log: $log)"
	fi
	mv -f "$bin.new" "$bin"
	rm -rf "$src"
	got=$(cached)
	[ "$got" = "${COMPOSE_VERSION#v}" ] || die "the built $bin reports version '$got', not ${COMPOSE_VERSION#v}"
	how="built $COMPOSE_MODULE/cmd@$COMPOSE_VERSION in $((SECONDS - start))s (cached in $cache)"
fi

mkdir -p "$plugins"
cp -f "$bin" "$plugins/docker-compose.tmp.$$"
chmod 0755 "$plugins/docker-compose.tmp.$$"
mv -f "$plugins/docker-compose.tmp.$$" "$plugins/docker-compose"
have=$(docker compose version --short 2>/dev/null) || die "docker does not run the plugin $plugins/docker-compose"
say "docker compose $have: $how, installed as $plugins/docker-compose"
