#!/usr/bin/env bash
# Benchmarks of `cointrail serve` (results go to BENCHMARKS.md):
#   BenchmarkBlockToAlert  a 3,000-transaction block moving the taint of 10
#                          cases: raw block in hand -> last alert at a webhook
#   BenchmarkAPI           GET /v1/address and 1-hop GET /v1/screen under wrk
# Installs Debian's wrk when it is missing. Usage: server/bench_api.sh [wrk duration, default 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
	echo "installing wrk"
	(apt-get install -y wrk || (apt-get update && apt-get install -y wrk)) >/dev/null
fi
go test ./server -run '^$' -bench 'BenchmarkBlockToAlert' -benchtime 100x -timeout 30m
COINTRAIL_BENCH_WRK_DURATION="${1:-10s}" go test ./server -run '^$' -bench 'BenchmarkAPI' -benchtime 1x -timeout 30m
