#!/usr/bin/env bash
# compose.sh runs `docker compose` if the plugin is installed, otherwise the
# standalone `docker-compose` (1.28 or later, for profiles), with the
# repository's docker-compose.yml. Arguments are passed through:
#
#   scripts/compose.sh up                       # default service: bench
#   scripts/compose.sh --profile server up server
#
# UID and GID are exported so containers write files owned by the caller.
set -euo pipefail
cd "$(dirname "$0")/.."

export UID
GID=${GID:-$(id -g)}
export GID

if docker compose version >/dev/null 2>&1; then
	exec docker compose -f docker-compose.yml "$@"
elif command -v docker-compose >/dev/null 2>&1; then
	exec docker-compose -f docker-compose.yml "$@"
fi
echo "compose: neither 'docker compose' nor 'docker-compose' is installed" >&2
exit 127
