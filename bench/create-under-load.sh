#!/usr/bin/env bash
# PutRecord throughput while control-plane calls create thousands of shard
# logs: shows whether that file creation stalls other requests.
#
#   bash bench/create-under-load.sh [riffle binary] create
#       4 clients put to a 4-shard stream while another client creates three
#       3,300-shard streams, and SplitShard on a small stream is timed while
#       each create runs
#   bash bench/create-under-load.sh [riffle binary] rescale
#       4 clients put to a 2,000-shard stream for 15 s while UpdateShardCount
#       doubles it
#
# Prints riffle-bench's JSON line, then each call's duration.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RIFFLE=${1:-$ROOT/target/release/riffle}
MODE=${2:-create}
BENCH=$ROOT/target/release/riffle-bench
ENDPOINT=127.0.0.1:4701
WORK=$(mktemp -d)
trap 'kill -9 ${PID:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT

call() {
    curl -s -w ' HTTP %{http_code}' -X POST -H "X-Amz-Target: Kinesis_20131202.$1" \
        -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Date: 20261122T000000Z' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=0' \
        -d "$2" "http://$ENDPOINT/"
}

timed() {
    local started answer
    started=$(date +%s%N)
    answer=$(call "$1" "$2" | tail -c 9)
    echo "$1 $3: $answer in $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
}

"$RIFFLE" serve --listen "$ENDPOINT" --data-dir "$WORK" --create-delay-ms 0 --delete-delay-ms 0 2>/dev/null &
PID=$!
disown
for _ in $(seq 1 200); do
    call ListStreams '{}' 2>/dev/null | grep -q 'HTTP 200' && break
    sleep 0.05
done
case "$MODE" in
create)
    SHARDS=4
    SECONDS_OF_LOAD=5
    call CreateStream '{"StreamName":"small","ShardCount":2}' >/dev/null
    control() {
        # Three creates within the load's 5 s (4 + 2 + 3 × 3,300 + 3 shards
        # is within the default account limit of 10,000). While each runs,
        # a split of another stream's shard: 0 at 2^126, then its lower
        # child (2, then 4) at 2^125 and 2^124.
        local splits=("0 85070591730234615865843651857942052864"
            "2 42535295865117307932921825928971026432"
            "4 21267647932558653966460912964485513216")
        for i in 1 2 3; do
            timed CreateStream "{\"StreamName\":\"big$i\",\"ShardCount\":3300}" "3300 shards" &
            sleep 0.1
            read -r shard key <<<"${splits[$((i - 1))]}"
            timed SplitShard "{\"StreamName\":\"small\",\"ShardToSplit\":\"shardId-00000000000$shard\",\"NewStartingHashKey\":\"$key\"}" "of another stream, during create $i"
            wait
            sleep 0.3
        done
    }
    ;;
rescale)
    SHARDS=2000
    SECONDS_OF_LOAD=15
    control() {
        local name=
        # The bench names its own stream; wait for it, then let puts run.
        for _ in $(seq 1 200); do
            name=$(call ListStreams '{}' | python3 -c 'import json,sys; print(*json.loads(sys.stdin.read().rsplit(" HTTP", 1)[0])["StreamNames"][:1])')
            [ -n "$name" ] && break
            sleep 0.1
        done
        sleep 1
        timed UpdateShardCount "{\"StreamName\":\"$name\",\"TargetShardCount\":4000,\"ScalingType\":\"UNIFORM_SCALING\"}" "2000 -> 4000"
    }
    ;;
*)
    echo "unknown mode $MODE (create or rescale)" >&2
    exit 2
    ;;
esac
(sleep 1 && control) &
CONTROL=$!
"$BENCH" --endpoint "$ENDPOINT" put-record --clients 4 --shards "$SHARDS" --seconds "$SECONDS_OF_LOAD" 2>/dev/null | tail -1
wait "$CONTROL"
