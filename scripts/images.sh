#!/usr/bin/env bash
# images.sh builds static binaries into bin/ and the three FROM scratch
# images asyncbench/{server,loadgen,bench}:$IMAGE_TAG from them. Nothing is
# pulled, so it works without a registry.
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
