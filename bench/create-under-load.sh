#!/usr/bin/env bash
# PutRecord throughput on one stream while another client creates large
# streams: shows whether CreateStream's file creation stalls other requests.
# Prints riffle-bench's JSON line and each CreateStream's duration.
#
#   bash bench/create-under-load.sh [riffle binary] [shards per stream]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RIFFLE=${1:-$ROOT/target/release/riffle}
SHARDS=${2:-3300}
BENCH=$ROOT/target/release/riffle-bench
ENDPOINT=127.0.0.1:4701
WORK=$(mktemp -d)
trap 'kill -9 ${PID:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT

call() {
    curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Amz-Target: Kinesis_20131202.$1" \
        -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Date: 20261122T000000Z' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=0' \
        -d "$2" "http://$ENDPOINT/"
}

"$RIFFLE" serve --listen "$ENDPOINT" --data-dir "$WORK" --create-delay-ms 0 --delete-delay-ms 0 2>/dev/null &
PID=$!
disown
for _ in $(seq 1 200); do
    [ "$(call ListStreams '{}' || true)" = 200 ] && break
    sleep 0.05
done
(
    sleep 1.5
    # Three creates within the load's 5 s (the bench's own stream has 4
    # shards; the default account limit is 10,000).
    for i in 1 2 3; do
        started=$(date +%s.%N)
        status=$(call CreateStream "{\"StreamName\":\"big$i\",\"ShardCount\":$SHARDS}")
        echo "CreateStream $SHARDS shards: HTTP $status in $(echo "$(date +%s.%N) - $started" | bc) s" >&2
        sleep 0.3
    done
) &
CREATOR=$!
"$BENCH" --endpoint "$ENDPOINT" put-record --clients 4 --seconds 5 2>/dev/null | tail -1
wait "$CREATOR"
