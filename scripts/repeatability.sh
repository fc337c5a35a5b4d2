#!/usr/bin/env bash
# repeatability.sh [PLAN]: run one cell several times (default
# scripts/repeatability.plan.yaml) and print the coefficient of variation
# (sample standard deviation / mean) of rps and p99 over the repetitions.
set -euo pipefail
cd "$(dirname "$0")/.."
plan=${1:-scripts/repeatability.plan.yaml}
BIN=${BIN:-bin}
[ -x "$BIN/bench" ] || CGO_ENABLED=0 go build -trimpath -o "$BIN/" ./cmd/...
out=$("$BIN/bench" run -plan "$plan" | tail -n 1)
csv="$out/summary.csv"
echo "run: $out"
awk -F, '
NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
$col["status"] == "ok" {
	n++; r = $col["rps"]; p = $col["p99_us"]
	sr += r; srr += r * r; sp += p; spp += p * p
	printf "rep %s: %.0f req/s, p99 %d us\n", $col["rep"], r, p
}
END {
	if (n < 2) { print "need at least 2 ok repetitions"; exit 1 }
	mr = sr / n; mp = sp / n
	sdr = sqrt((srr - n * mr * mr) / (n - 1)); sdp = sqrt((spp - n * mp * mp) / (n - 1))
	printf "n=%d  rps mean %.0f, CV %.1f%%  |  p99 mean %.0f us, CV %.1f%%\n", n, mr, 100 * sdr / mr, mp, 100 * sdp / mp
}' "$csv"
