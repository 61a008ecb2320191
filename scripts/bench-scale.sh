#!/usr/bin/env bash
# Scale benchmark (issue 9): ingest a chain with no cap and then inside a
# cgroup v1 memory cap of 512 MiB + 8 % of the index size — mainnet's
# RAM : index ratio on a 24 GB machine; page cache counts against the cap —
# and compare both with a single-core decode-only pass over the same files.
#
#   scripts/bench-scale.sh BLOCKS_DIR [WORK_DIR]
#
# Needs root (cgroup, drop_caches). Prints a markdown table row at the end;
# the logs of every run stay in WORK_DIR (default /tmp/bench-scale).
set -euo pipefail
blocks=${1:?usage: scripts/bench-scale.sh BLOCKS_DIR [WORK_DIR]}
work=${2:-/tmp/bench-scale}
net=${NETWORK:-regtest}
cd "$(dirname "$0")/.."
mkdir -p "$work"
bin=${COINTRAIL_BIN:-$work/cointrail}   # COINTRAIL_BIN: use a binary built already
[ -n "${COINTRAIL_BIN:-}" ] || go build -o "$bin" ./cmd/cointrail
cg=/sys/fs/cgroup/memory/cointrail-bench-scale
[ -d /sys/fs/cgroup/memory ] || { echo "bench-scale: no cgroup v1 memory controller at /sys/fs/cgroup/memory" >&2; exit 1; }

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# run NAME LIMIT CMD...: runs CMD (in the cgroup when LIMIT > 0), records
# seconds, peak memory (cgroup max usage incl. page cache, or maxrss) and
# bytes written (from /proc/PID/io, sampled each second).
run() {
  local name=$1 limit=$2; shift 2
  local log="$work/$name.log" wb=0
  if [ "$limit" -gt 0 ]; then
    rmdir "$cg" 2>/dev/null || true
    mkdir -p "$cg"
    echo "$limit" > "$cg/memory.limit_in_bytes"
    echo 0 > "$cg/memory.max_usage_in_bytes" 2>/dev/null || true
  fi
  local t0 pid
  t0=$(date +%s.%N)
  if [ "$limit" -gt 0 ]; then
    ( echo $BASHPID > "$cg/cgroup.procs"; exec /usr/bin/time -f '%M' -o "$log.rss" "$@" ) > "$log" 2>&1 &
  else
    ( exec /usr/bin/time -f '%M' -o "$log.rss" "$@" ) > "$log" 2>&1 &
  fi
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for c in $(pgrep -P "$pid" 2>/dev/null) ; do
      w=$(awk '/^write_bytes/ {print $2}' "/proc/$c/io" 2>/dev/null || echo 0)
      [ -n "$w" ] && [ "$w" -gt "$wb" ] && wb=$w
    done
    sleep 0.2
  done
  wait "$pid" || { echo "bench-scale: $name failed, see $log" >&2; tail -5 "$log" >&2; exit 1; }
  secs=$(echo "$(date +%s.%N) - $t0" | bc)
  if [ "$limit" -gt 0 ]; then
    peak=$(cat "$cg/memory.max_usage_in_bytes")
  else
    peak=$(( $(cat "$log.rss") * 1024 ))
  fi
  written=$wb
  echo "$name: ${secs}s peak $((peak >> 20)) MiB written $((written >> 20)) MiB" >&2
}

drop
run decode 0 "$bin" bench decode --network "$net" --workers 1 --blocks "$blocks"
dec=$(grep -o 'in [0-9.]*s' "$work/decode.log" | tr -dc '0-9.')
txs=$(grep -o '[0-9]* txs' "$work/decode.log" | head -1 | tr -dc '0-9')

rm -rf "$work/free"
drop
run free 0 "$bin" ingest --network "$net" --data "$work/free" --blocks "$blocks"
free_s=$secs free_peak=$peak free_w=$written
size=$("$bin" status --json --network "$net" --data "$work/free" | sed -n 's/.*"disk_bytes": *\([0-9]*\).*/\1/p')
limit=$(( (512 << 20) + size * 8 / 100 ))

rm -rf "$work/capped"
drop
run capped "$limit" "$bin" ingest --network "$net" --data "$work/capped" --blocks "$blocks"
cap_s=$secs cap_peak=$peak cap_w=$written

# Lookups on the capped index, cold cache, inside the same cap.
drop
run lookups-capped "$limit" "$bin" bench lookups --network "$net" --data "$work/capped" --n "${LOOKUPS:-20000}"
run lookups-warm 0 "$bin" bench lookups --network "$net" --data "$work/capped" --n "${LOOKUPS:-20000}"

d1=$("$bin" index digest --network "$net" --data "$work/free" | sed -n 1p)
d2=$("$bin" index digest --network "$net" --data "$work/capped" | sed -n 1p)
[ "$d1" = "$d2" ] || { echo "bench-scale: digests differ: $d1 $d2" >&2; exit 1; }
"$bin" index verify --network "$net" --data "$work/capped" > /dev/null
rmdir "$cg" 2>/dev/null || true

echo
echo "tx/s per tenth of the chain (capped forward pass):"
grep -o 'tenth=[0-9]* .*tx_per_s=[0-9]*' "$work/capped.log" | sed 's/ height=.*tx_per_s=/ tx_per_s=/' || true
echo
echo "| chain | txs | index | cap | decode 1 core | ingest, no cap | ingest, capped | capped/decode | capped/no cap | peak (capped) | written |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '| %s | %s | %.2f GB | %d MiB | %.1f s | %.1f s | %.1f s | **%.2f×** | %.2f× | %d MiB | %.2f GB |\n' \
  "$(basename "$(dirname "$blocks")")" "$txs" "$(echo "$size/1000000000" | bc -l)" $((limit >> 20)) "$dec" "$free_s" "$cap_s" \
  "$(echo "$cap_s/$dec" | bc -l)" "$(echo "$cap_s/$free_s" | bc -l)" $((cap_peak >> 20)) "$(echo "$cap_w/1000000000" | bc -l)"
echo "digest $d1 (equal in both runs; verify clean)"
echo
echo "lookups under the cap, cold cache:"; grep -v level= "$work/lookups-capped.log"
echo "lookups, no cap, warm:"; grep -v level= "$work/lookups-warm.log"
