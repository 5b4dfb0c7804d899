#!/usr/bin/env bash
# Runs the same bounded workloads against Riffle and its peers on this
# machine, on loopback, and writes BENCHMARKS.md with the ratios.
#
#   bash bench/compare.sh            # all servers that can be installed
#   PEERS="riffle kinesalite" bash bench/compare.sh
#
# Peers are installed from the registries on first use into target/peers:
# kinesalite and kinesis-local (npm), ferrokinesis (crates.io). `floor` is
# not a peer: `riffle-bench floor`, an endpoint that stores nothing on
# hyper, measured with the PutRecord workloads only, the floor under the
# latency of any server on that stack on this machine; `floor-bare` is the
# same without hyper (`floor --bare`), parsing HTTP/1.1 as Riffle does.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PEERS=${PEERS:-"riffle floor floor-bare kinesalite kinesis-local ferrokinesis-memory ferrokinesis-durable"}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
PEER_DIR=$ROOT/target/peers
RESULTS=$ROOT/bench/results/$(date -u +%Y-%m-%d)-$(hostname).jsonl
mkdir -p "$PEER_DIR" "$(dirname "$RESULTS")"
# Re-running some peers replaces their lines and keeps the others'.
touch "$RESULTS"
for peer in $PEERS; do
    grep -v "\"label\":\"$peer\"" "$RESULTS" > "$RESULTS.tmp" || true
    mv "$RESULTS.tmp" "$RESULTS"
done

cargo build --release -p riffle -p riffle-bench
BENCH=$ROOT/target/release/riffle-bench
# The build leaves hundreds of megabytes of dirty pages; written back during
# the first server's runs they would take the device from its flushes.
sync

# The device's flush latency now, where the servers keep their data: every
# durable acknowledgement waits for at least one.
grep -v '"label":"machine"' "$RESULTS" > "$RESULTS.tmp" || true
mv "$RESULTS.tmp" "$RESULTS"
PROBE_DIR=$(mktemp -d)
"$BENCH" --label machine disk --dir "$PROBE_DIR" >> "$RESULTS"
rmdir "$PROBE_DIR"

install_peers() {
    if [[ ! -x $PEER_DIR/node_modules/.bin/kinesalite ]]; then
        (cd "$PEER_DIR" && npm install --no-audit --no-fund kinesalite@3.3.3 kinesis-local >/dev/null)
    fi
    if [[ ! -x $PEER_DIR/bin/ferrokinesis ]]; then
        cargo install ferrokinesis --version 0.7.0 --root "$PEER_DIR" --locked
    fi
}

PORT=4610
SERVER_PID=
# The command line that runs server $1 on $PORT with data directory $2, in CMD.
server_command() {
    local name=$1 data=$2
    case $name in
        riffle) CMD=("$ROOT/target/release/riffle" serve --listen 127.0.0.1:$PORT --data-dir "$data"
                    --create-delay-ms 0 --delete-delay-ms 0 --consumer-limit 500) ;;
        kinesalite) CMD=("$PEER_DIR/node_modules/.bin/kinesalite" --port $PORT --createStreamMs 0
                    --deleteStreamMs 0 --updateStreamMs 0 --path "$data") ;;
        kinesis-local) CMD=(bash -c "cd '$PEER_DIR/node_modules/kinesis-local' && KINESIS_MOCK_PLAIN_PORT=$PORT \
                    KINESIS_MOCK_TLS_PORT=$((PORT + 500)) CREATE_STREAM_DURATION=0ms DELETE_STREAM_DURATION=0ms \
                    LOG_LEVEL=ERROR exec node main.js") ;;
        ferrokinesis-memory) CMD=("$PEER_DIR/bin/ferrokinesis" --port $PORT --create-stream-ms 0
                    --delete-stream-ms 0) ;;
        ferrokinesis-durable) CMD=("$PEER_DIR/bin/ferrokinesis" --port $PORT --create-stream-ms 0
                    --delete-stream-ms 0 --state-dir "$data") ;;
        floor) CMD=("$BENCH" --endpoint 127.0.0.1:$PORT floor) ;;
        floor-bare) CMD=("$BENCH" --endpoint 127.0.0.1:$PORT floor --bare) ;;
    esac
}

start_server() {
    local name=$1
    PORT=$((PORT + 1))
    # Startup: spawn to first answered ListStreams, polled every 0.5 ms, on
    # an empty data directory; idle RSS is read at that moment.
    server_command "$name" "$(mktemp -d)"
    if [[ $name != floor* ]]; then
        timeout 600 "$BENCH" --endpoint 127.0.0.1:$PORT --label "$name" startup --runs 5 -- "${CMD[@]}" >> "$RESULTS" \
            || echo "{\"label\":\"$name\",\"workload\":\"startup\",\"error\":true}" >> "$RESULTS"
    fi
    server_command "$name" "$(mktemp -d)"
    "${CMD[@]}" >/dev/null 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        if curl -s -o /dev/null -X POST -H 'X-Amz-Target: Kinesis_20131202.ListStreams' \
            -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Date: 20261122T000000Z' \
            -H 'Authorization: AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=0' \
            -d '{}' "http://127.0.0.1:$PORT/"; then
            return 0
        fi
        sleep 0.02
    done
    echo "$name did not start" >&2
    return 1
}

rss_mib() {
    local pid=$SERVER_PID
    # The server may run under a wrapper subshell: take the largest RSS in its process tree.
    local kib
    kib=$(ps -o rss= --ppid "$pid" -p "$pid" 2>/dev/null | sort -n | tail -1)
    if [[ -n $kib ]]; then awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }'; else echo null; fi
}

stop_server() {
    # kinesis-local runs as a grandchild (subshell, then node).
    pkill -P "$(pgrep -P "$SERVER_PID" | tr '\n' ',' | sed 's/,$//')" 2>/dev/null || true
    pkill -P "$SERVER_PID" 2>/dev/null || true
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

run() {
    local name=$1; shift
    local encoding=json workload=$1
    [[ $1 == --cbor ]] && { encoding=cbor; workload=$2; }
    [[ $1 == --server-pid ]] && workload=$3
    timeout 300 "$BENCH" --endpoint 127.0.0.1:$PORT --label "$name" "$@" >> "$RESULTS" \
        || echo "{\"label\":\"$name\",\"workload\":\"$workload\",\"encoding\":\"$encoding\",\"error\":true}" >> "$RESULTS"
}

put_record_runs() {
    local peer=$1
    run "$peer" put-record --clients 16 --record-bytes 100 --seconds "$SECONDS_PER_RUN"
    run "$peer" put-record --clients 64 --record-bytes 100 --seconds "$SECONDS_PER_RUN"
    # The same clients on a schedule: latency at a given load rather than
    # at saturation (a light one, and the performance issue's 40,000/s).
    run "$peer" put-record --clients 64 --record-bytes 100 --rate 10000 --seconds "$SECONDS_PER_RUN"
    run "$peer" put-record --clients 64 --record-bytes 100 --rate 40000 --seconds "$SECONDS_PER_RUN"
}

install_peers
for peer in $PEERS; do
    echo "== $peer" >&2
    start_server "$peer" || continue
    if [[ $peer == floor* ]]; then
        put_record_runs "$peer"
        stop_server
        continue
    fi
    run "$peer" put-records --batch 500 --record-bytes 100 --seconds "$SECONDS_PER_RUN"
    # More connections in flight: more batches share each group commit.
    run "$peer" put-records --connections 16 --batch 500 --record-bytes 100 --seconds "$SECONDS_PER_RUN"
    run "$peer" put-records --batch 500 --record-bytes 1024 --seconds "$SECONDS_PER_RUN"
    put_record_runs "$peer"
    run "$peer" read --records 100000 --record-bytes 100
    run "$peer" tail --rate 100 --seconds "$SECONDS_PER_RUN"
    run "$peer" tail --rate 1000 --seconds "$SECONDS_PER_RUN"
    run "$peer" fanout --rate 1000 --seconds "$SECONDS_PER_RUN"
    run "$peer" --cbor put-records --batch 500 --record-bytes 100 --seconds "$SECONDS_PER_RUN"
    run "$peer" --cbor read --records 100000 --record-bytes 100
    if [[ $peer == riffle ]]; then
        # Hundreds of subscribers on one shard (AWS allows 20 consumers per
        # stream; --consumer-limit lifts that). No peer supports this many.
        run "$peer" --server-pid "$SERVER_PID" fanout --rate 1000 --seconds "$SECONDS_PER_RUN" --subscribers 300
    fi
    echo "{\"label\":\"$peer\",\"workload\":\"rss-after\",\"params\":{},\"rss_mib\":$(rss_mib)}" >> "$RESULTS"
    stop_server
done
SCALE=$ROOT/bench/results/$(date -u +%Y-%m-%d)-$(hostname)-scale.jsonl
if [[ ! -s $SCALE ]]; then
    SCALE=$(ls -t "$ROOT"/bench/results/*-scale.jsonl 2>/dev/null | head -1 || true)
fi
python3 "$ROOT/bench/report.py" "$RESULTS" ${SCALE:+"$SCALE"} > "$ROOT/BENCHMARKS.md"
echo "wrote BENCHMARKS.md from $RESULTS" >&2
