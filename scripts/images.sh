#!/usr/bin/env bash
# images.sh builds static binaries into bin/ and the three FROM scratch
# images asyncbench/{server,loadgen,bench}:$IMAGE_TAG from them. Nothing is
# pulled, so it works without a registry. It then writes UID and GID into
# .env (compose reads it; git ignores it): the owner of results/runs/, so
# that a plain `docker compose up` runs its containers as the user who can
# write there and leaves files owned by that user. Other lines of an
# existing .env are kept.
#
#   scripts/images.sh            # IMAGE_TAG=latest
#   IMAGE_TAG=v1 scripts/images.sh
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
BIN=${BIN:-bin}
IMAGE_TAG=${IMAGE_TAG:-latest}

if [ "$BIN" != bin ]; then
	echo "images: BIN must be bin (docker/Dockerfile copies from bin/)" >&2
	exit 2
fi

# -buildvcs=auto stamps the commit into the binaries (the images have no
# git for bench to ask) and overrides a -buildvcs=false in GOFLAGS.
CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=auto -o "$BIN/" ./cmd/server ./cmd/loadgen ./cmd/bench

for t in server loadgen bench; do
	# Output only on failure: the legacy builder warns on every build.
	if ! out=$(docker build -f docker/Dockerfile --target "$t" \
		-t "asyncbench/$t:$IMAGE_TAG" . 2>&1); then
		printf '%s\n' "$out" >&2
		echo "images: docker build of asyncbench/$t failed" >&2
		exit 1
	fi
	echo "images: built asyncbench/$t:$IMAGE_TAG"
done

# The containers write to results/runs/ (part of the repository, created
# here for checkouts from before it was). Its owner is who the containers
# run as: the caller in a normal checkout, and still the checkout's owner
# when root runs this in someone else's.
mkdir -p results/runs
uid=$(stat -c %u results/runs)
gid=$(stat -c %g results/runs)
env_tmp=$(mktemp .env.XXXXXX)
trap 'rm -f "$env_tmp"' EXIT
if [ -f .env ]; then
	grep -v -e '^UID=' -e '^GID=' -e '^# UID and GID: written by scripts/images.sh' .env >"$env_tmp" || true
fi
{
	echo "# UID and GID: written by scripts/images.sh (owner of results/runs/), read by docker compose"
	echo "UID=$uid"
	echo "GID=$gid"
} >>"$env_tmp"
chmod 644 "$env_tmp"
[ "$(id -u)" != 0 ] || chown "$uid:$gid" "$env_tmp"
mv "$env_tmp" .env
echo "images: .env: containers run as $uid:$gid (owner of results/runs/)"
