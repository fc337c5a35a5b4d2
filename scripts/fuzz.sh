#!/usr/bin/env bash
# fuzz.sh TIME: run every Fuzz* target in the module for TIME each.
set -euo pipefail
t=${1:-10s}
GO=${GO:-go}
cd "$(dirname "$0")/.."
found=0
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do
	for f in $(grep -h '^func Fuzz' "$dir"/*_test.go | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/'); do
		found=1
		echo "fuzz $dir $f ($t)"
		"$GO" test -run='^$' -fuzz="^$f\$" -fuzztime="$t" "$dir"
	done
done
[ "$found" = 1 ] || echo "fuzz: no Fuzz targets found"
