#!/usr/bin/env bash
# Riffle's scale, startup and restart figures (the issue's targets that have
# no peer to compare with): startup on an empty data directory and with 100
# streams × 10 shards, 1,000 streams, 10,000 shards in one stream, and a
# restart after kill -9 with SCALE_GB of data on disk. Appends JSON lines to
# bench/results/<date>-<host>-scale.jsonl; bench/report.py reads them.
#
#   bash bench/scale.sh               # SCALE_GB=10 by default
#   SCALE_GB=2 bash bench/scale.sh    # a quicker run
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SCALE_GB=${SCALE_GB:-10}
RESULTS=$ROOT/bench/results/$(date -u +%Y-%m-%d)-$(hostname)-scale.jsonl
mkdir -p "$(dirname "$RESULTS")"
: > "$RESULTS"
cargo build --release -p riffle -p riffle-bench
RIFFLE=$ROOT/target/release/riffle
BENCH=$ROOT/target/release/riffle-bench
PORT=4700
ENDPOINT=127.0.0.1:$PORT
WORK=$(mktemp -d)
trap 'kill -9 ${PID:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT

serve() {
    "$RIFFLE" serve --listen "$ENDPOINT" --data-dir "$1" --create-delay-ms 0 --delete-delay-ms 0 2>/dev/null &
    PID=$!
    for _ in $(seq 1 2000); do
        if curl -s -o /dev/null -X POST -H 'X-Amz-Target: Kinesis_20131202.ListStreams' \
            -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Date: 20261122T000000Z' \
            -H 'Authorization: AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=0' \
            -d '{}' "http://$ENDPOINT/"; then
            return 0
        fi
        sleep 0.05
    done
    echo "riffle did not start" >&2
    return 1
}

bench() {
    local label=$1; shift
    timeout 1800 "$BENCH" --endpoint "$ENDPOINT" --label "$label" "$@" >> "$RESULTS"
}

restart_times() {
    local label=$1 data=$2 runs=$3
    bench "$label" startup --runs "$runs" -- "$RIFFLE" serve --listen "$ENDPOINT" --data-dir "$data"
}

echo "== startup, empty data directory" >&2
mkdir "$WORK/empty"
restart_times empty "$WORK/empty" 10

echo "== 100 streams x 10 shards" >&2
serve "$WORK/s100"
bench s100x10 --server-pid "$PID" populate --streams 100 --shards 10 --records 100
kill -9 "$PID"; wait "$PID" 2>/dev/null || true
restart_times s100x10 "$WORK/s100" 10

echo "== 1,000 streams x 1 shard" >&2
serve "$WORK/s1000"
bench s1000x1 --server-pid "$PID" populate --streams 1000 --shards 1 --records 10
kill -9 "$PID"; wait "$PID" 2>/dev/null || true
restart_times s1000x1 "$WORK/s1000" 5

echo "== 10,000 shards in one stream, against 4 shards" >&2
serve "$WORK/wide"
bench shards-4 --server-pid "$PID" put-records --shards 4 --seconds 5
bench shards-10000 --server-pid "$PID" put-records --shards 10000 --seconds 5 --keep
kill -9 "$PID"; wait "$PID" 2>/dev/null || true
restart_times shards-10000 "$WORK/wide" 5
rm -rf "$WORK/wide"

echo "== ${SCALE_GB} GB on disk, then kill -9 and restart" >&2
serve "$WORK/big"
# 500 records of 1 KiB per batch: SCALE_GB GB is this many batches.
batches=$(( SCALE_GB * 1000 * 1000 * 1000 / (500 * 1024) ))
bench "fill-${SCALE_GB}gb" --server-pid "$PID" put-records --record-bytes 1024 --seconds 3600 \
    --batches-max "$batches" --keep
du -sb "$WORK/big" | awk -v gb="$SCALE_GB" '{ printf "{\"label\":\"fill-%sgb\",\"workload\":\"disk\",\"params\":{},\"bytes_on_disk\":%.0f}\n", gb, $1 }' >> "$RESULTS"
kill -9 "$PID"; wait "$PID" 2>/dev/null || true
# Drop what the page cache holds of the data where allowed, so the restart reads from disk.
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
restart_times "restart-${SCALE_GB}gb" "$WORK/big" 3
echo "wrote $RESULTS" >&2
