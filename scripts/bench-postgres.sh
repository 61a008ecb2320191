#!/usr/bin/env bash
# Benchmark baseline for tracing (issue 4): the same forward reachability
# (poison, no stops) as `cointrail trace --model poison`, as a recursive CTE in
# PostgreSQL over the graph exported with `cointrail export --format csv`.
#
# usage: scripts/bench-postgres.sh DATA NETWORK SEED_OUTPOINT [RUNS]
# Installs Debian's PostgreSQL if missing, runs a throwaway cluster on a
# Unix socket in a temp dir (no TCP), and prints one JSON line.
set -euo pipefail
data=$1 network=$2 seed=$3 runs=${4:-5}
cd "$(dirname "$0")/.."
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
bin=$(mktemp -d)/cointrail
go build -o "$bin" ./cmd/cointrail
work=$(mktemp -d)
chmod 755 "$work"
trap 'su postgres -s /bin/sh -c "$pgbin/pg_ctl -D $work/pg -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$bin" export --data "$data" --network "$network" -o "$work/csv" >/dev/null
chmod -R a+rX "$work/csv"
mkdir "$work/pg" "$work/sock" && chown postgres "$work/pg" "$work/sock"
su postgres -s /bin/sh -c "$pgbin/initdb -D $work/pg -A trust -U postgres" >/dev/null
su postgres -s /bin/sh -c "$pgbin/pg_ctl -D $work/pg -o '-k $work/sock -c listen_addresses= -c shared_buffers=2GB -c work_mem=256MB -c fsync=off' -l $work/sock/pg.log -w start" >/dev/null
psql() { su postgres -s /bin/sh -c "psql -h $work/sock -U postgres -qAt -v ON_ERROR_STOP=1 $*"; }
seed_tx=${seed%:*} seed_vout=${seed#*:}
psql <<SQL
CREATE TABLE txs (tx bigint PRIMARY KEY, txid text, height int, fee_sat bigint);
CREATE TABLE outputs (out bigint PRIMARY KEY, tx bigint, vout int, value_sat bigint, address bigint, spender_tx bigint);
CREATE TABLE inputs (input bigint PRIMARY KEY, tx bigint, prev_out bigint);
COPY txs FROM '$work/csv/txs.csv' CSV HEADER;
COPY outputs FROM '$work/csv/outputs.csv' CSV HEADER;
COPY inputs FROM '$work/csv/inputs.csv' CSV HEADER;
CREATE INDEX ON outputs (tx);
CREATE INDEX ON txs (txid);
VACUUM ANALYZE;
SQL
query="WITH RECURSIVE r(out) AS (
  SELECT o.out FROM outputs o JOIN txs t ON t.tx = o.tx WHERE t.txid = '$seed_tx' AND o.vout = $seed_vout
  UNION
  SELECT o2.out FROM r JOIN outputs o1 ON o1.out = r.out JOIN outputs o2 ON o2.tx = o1.spender_tx
) SELECT count(*) FROM r;"
pg_count=$(echo "$query" | psql)
pg_ms=$( (echo '\timing on'; for i in $(seq "$runs"); do echo "$query"; done) | psql | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -g | head -1)
ct=$("$bin" bench trace --reach --data "$data" --network "$network" --json --runs "$runs" --from "$seed")
full=$("$bin" bench trace --data "$data" --network "$network" --json --runs "$runs" --model poison --min-sats 0 --max-txs 0 --no-stop-at-service --from "$seed")
full_s=$(echo "$full" | sed -n 's/.*"seconds": \([0-9.e-]*\).*/\1/p')
ct_count=$(echo "$ct" | sed -n 's/.*"outputs": \([0-9]*\).*/\1/p')
ct_s=$(echo "$ct" | sed -n 's/.*"seconds": \([0-9.e-]*\).*/\1/p')
pg_s=$(echo "scale=6; $pg_ms / 1000" | bc)
echo "{\"seed\":\"$seed\",\"outputs_reached_postgres\":$pg_count,\"outputs_reached_cointrail\":$ct_count,\"postgres_seconds\":$pg_s,\"cointrail_seconds\":$ct_s,\"speedup\":$(echo "scale=1; $pg_s / $(printf '%.9f' "$ct_s")" | bc),\"full_poison_trace_seconds\":$full_s,\"full_trace_speedup\":$(echo "scale=1; $pg_s / $(printf '%.9f' "$full_s")" | bc)}"
if [[ $pg_count != "$ct_count" ]]; then
	echo "mismatch: PostgreSQL reached $pg_count outputs, cointrail $ct_count" >&2
	exit 1
fi
