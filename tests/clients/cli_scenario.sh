#!/usr/bin/env bash
# Riffle cross-client scenario: AWS CLI v1 (the `aws` of the venv made by
# tests/clients/setup.sh).
#
# Usage: cli_scenario.sh ENDPOINT_URL
#
# Drives one stream through its life with `aws kinesis ...` and checks every
# answer. Exits non-zero with a message on the first mismatch; prints `ok` at
# the end.
#
# The venv is target/client-venv at the repository root unless
# RIFFLE_CLIENT_VENV names another one. Its python parses the JSON answers, so
# nothing beyond the venv (no jq) is needed.
#
# Note on blobs: AWS CLI v1 sends a `--data` string as its raw UTF-8 bytes
# (v2 would base64-decode it), and `fileb://` as the file's bytes; it prints
# blobs it receives base64-encoded.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: cli_scenario.sh ENDPOINT_URL" >&2
    exit 2
fi
ENDPOINT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${RIFFLE_CLIENT_VENV:-$HERE/../../target/client-venv}
AWS=$VENV/bin/aws
PY=$VENV/bin/python
if [[ ! -x $AWS || ! -x $PY ]]; then
    echo "cli scenario FAILED: no AWS CLI at $AWS; run tests/clients/setup.sh" >&2
    exit 1
fi

# Dummy credentials, fixed region, no user configuration, no retries.
export AWS_ACCESS_KEY_ID=AKIDRIFFLETEST AWS_SECRET_ACCESS_KEY=riffle-test-secret
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard AWS_PAGER=""
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KINESIS AWS_CLI_FILE_ENCODING || true
export PYTHONIOENCODING=utf-8

ACCOUNT=000000000000
REGION=us-east-1
STREAM="riffle-cli-$$-$(date +%s%N)"
STREAM_ARN="arn:aws:kinesis:$REGION:$ACCOUNT:stream/$STREAM"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SECTIONS=()

fail() {
    echo "cli scenario FAILED: $*" >&2
    exit 1
}

# kinesis OP ARGS...: runs `aws kinesis OP` and prints its JSON answer; any
# failure ends the scenario with the CLI's own error text.
kinesis() {
    local out err
    if ! out=$("$AWS" --endpoint-url "$ENDPOINT" --output json kinesis "$@" 2>"$WORK/stderr"); then
        fail "aws kinesis $1 failed: $(cat "$WORK/stderr")"
    fi
    printf '%s' "$out"
}

# check_json JSON PYTHON-EXPRESSION DESCRIPTION: evaluates the expression with
# `r` bound to the parsed JSON (and `env` to os.environ); it must be true.
check_json() {
    local json=$1 expr=$2 what=$3
    if ! printf '%s' "$json" | "$PY" -c '
import base64, hashlib, json, os, sys
text = sys.stdin.read()
r = json.loads(text) if text else None
env = os.environ
sys.exit(0 if eval(sys.argv[1]) else 1)
' "$expr"; then
        fail "$what (check: $expr) in answer: $json"
    fi
}

# field JSON PYTHON-EXPRESSION: prints the expression's value (`r` = JSON).
field() {
    printf '%s' "$1" | "$PY" -c '
import json, sys
r = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))
' "$2"
}

echo "$("$AWS" --version 2>&1) against $ENDPOINT"

# --- lifecycle ---------------------------------------------------------------
kinesis create-stream --stream-name "$STREAM" --shard-count 2 >/dev/null
for attempt in $(seq 1 600); do
    summary=$(kinesis describe-stream-summary --stream-name "$STREAM")
    status=$(field "$summary" 'r["StreamDescriptionSummary"]["StreamStatus"]')
    [[ $status == ACTIVE ]] && break
    [[ $status == CREATING ]] || fail "unexpected status $status while creating"
    [[ $attempt -lt 600 ]] || fail "stream $STREAM never became ACTIVE"
    sleep 0.05
done
export STREAM STREAM_ARN
check_json "$summary" 'r["StreamDescriptionSummary"]["StreamName"] == env["STREAM"]' "summary StreamName"
check_json "$summary" 'r["StreamDescriptionSummary"]["StreamARN"] == env["STREAM_ARN"]' "summary StreamARN"
check_json "$summary" 'r["StreamDescriptionSummary"]["OpenShardCount"] == 2' "summary OpenShardCount"
check_json "$summary" 'r["StreamDescriptionSummary"]["RetentionPeriodHours"] == 24' "summary RetentionPeriodHours"
# The CLI waiter polls DescribeStream; the stream is already ACTIVE.
"$AWS" --endpoint-url "$ENDPOINT" kinesis wait stream-exists --stream-name "$STREAM" 2>"$WORK/stderr" \
    || fail "aws kinesis wait stream-exists: $(cat "$WORK/stderr")"

description=$(kinesis describe-stream --stream-name "$STREAM")
raw=$(kinesis describe-stream --stream-name "$STREAM" --no-paginate)
check_json "$raw" 'r["StreamDescription"]["HasMoreShards"] is False' "DescribeStream HasMoreShards"
check_json "$description" 'r["StreamDescription"]["StreamName"] == env["STREAM"]' "DescribeStream StreamName"
check_json "$description" 'r["StreamDescription"]["StreamARN"] == env["STREAM_ARN"]' "DescribeStream StreamARN"
check_json "$description" 'r["StreamDescription"]["StreamStatus"] == "ACTIVE"' "DescribeStream StreamStatus"
# (The CLI follows DescribeStream's shard pagination itself and drops HasMoreShards.)
check_json "$description" 'len(r["StreamDescription"]["Shards"]) == 2' "DescribeStream shard count"

# The CLI follows ListStreams pagination (NextToken) itself; pages of one.
streams=$(kinesis list-streams --page-size 1)
check_json "$streams" 'env["STREAM"] in r["StreamNames"]' "ListStreams lists the stream"
check_json "$streams" 'env["STREAM"] in [s["StreamName"] for s in r["StreamSummaries"]]' "ListStreams StreamSummaries lists the stream"

shards=$(kinesis list-shards --stream-name "$STREAM")
check_json "$shards" '[s["ShardId"] for s in r["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]' "ListShards shard ids"
check_json "$shards" 'min(int(s["HashKeyRange"]["StartingHashKey"]) for s in r["Shards"]) == 0' "lowest StartingHashKey"
check_json "$shards" 'max(int(s["HashKeyRange"]["EndingHashKey"]) for s in r["Shards"]) == 2**128 - 1' "highest EndingHashKey"
printf '%s' "$shards" >"$WORK/shards.json"
SECTIONS+=(lifecycle)

# --- writes ------------------------------------------------------------------
# Every record put is appended to puts.jsonl as
# {"shard", "seq", "key", "data" (base64 of the bytes put)}, in put order.
: >"$WORK/puts.jsonl"
export WORK

# record_put ANSWER KEY DATA_FILE [EXPLICIT_HASH_KEY]: checks a PutRecord(s)
# result (56-digit sequence number, shard chosen by MD5 of the key or by the
# explicit hash key) and remembers the record.
record_put() {
    printf '%s' "$1" | "$PY" -c '
import base64, hashlib, json, os, sys
answer = json.load(sys.stdin)
key, data_file, explicit = sys.argv[1], sys.argv[2], sys.argv[3]
work = os.environ["WORK"]
shards = json.load(open(os.path.join(work, "shards.json")))["Shards"]
h = int(explicit) if explicit else int.from_bytes(hashlib.md5(key.encode("utf-8")).digest(), "big")
want = [s["ShardId"] for s in shards
        if int(s["HashKeyRange"]["StartingHashKey"]) <= h <= int(s["HashKeyRange"]["EndingHashKey"])]
if "ErrorCode" in answer:
    sys.exit(f"record {key!r} failed: {answer}")
got = answer["ShardId"]
if [got] != want:
    sys.exit(f"record {key!r} went to {got}, expected {want}")
seq = answer["SequenceNumber"]
if len(seq) != 56 or not seq.isdigit():
    sys.exit(f"record {key!r}: sequence number {seq!r} is not 56 digits")
data = base64.b64encode(open(data_file, "rb").read()).decode()
with open(os.path.join(work, "puts.jsonl"), "a") as f:
    f.write(json.dumps({"shard": answer["ShardId"], "seq": seq, "key": key, "data": data}) + "\n")
' "$2" "$3" "${4:-}" || fail "PutRecord(s) answer for $2: $1"
}

# PutRecord with a binary file (fileb://), with every byte value.
"$PY" -c 'import sys; sys.stdout.buffer.write(bytes(range(256)))' >"$WORK/every-byte.bin"
answer=$(kinesis put-record --stream-name "$STREAM" --partition-key every-byte --data "fileb://$WORK/every-byte.bin")
record_put "$answer" every-byte "$WORK/every-byte.bin"

# PutRecord with a text --data (sent as its UTF-8 bytes by CLI v1).
printf 'caf\xc3\xa9 \xe2\x9c\x93' >"$WORK/utf8.bin"
answer=$(kinesis put-record --stream-name "$STREAM" --partition-key alpha --data "$(cat "$WORK/utf8.bin")")
record_put "$answer" alpha "$WORK/utf8.bin"

# PutRecord pinned to shard 1 by ExplicitHashKey, 100 KB of binary.
"$PY" -c 'import sys; sys.stdout.buffer.write(bytes((i * 7919) % 251 for i in range(100000)))' >"$WORK/big.bin"
answer=$(kinesis put-record --stream-name "$STREAM" --partition-key big \
    --explicit-hash-key 340282366920938463463374607431768211455 --data "fileb://$WORK/big.bin")
record_put "$answer" big "$WORK/big.bin" 340282366920938463463374607431768211455

# PutRecords: several text records (JSON strings are sent as UTF-8 bytes).
entries="["
for i in $(seq 0 9); do
    printf 'batch record %d \xe2\x82\xac' "$i" >"$WORK/batch-$i.bin"
    [[ $i -gt 0 ]] && entries+=","
    entries+="{\"PartitionKey\":\"batch-$i\",\"Data\":\"batch record $i €\"}"
done
entries+="]"
answer=$(kinesis put-records --stream-name "$STREAM" --records "$entries")
check_json "$answer" 'r["FailedRecordCount"] == 0' "PutRecords FailedRecordCount"
check_json "$answer" 'len(r["Records"]) == 10' "PutRecords result count"
for i in $(seq 0 9); do
    result=$(field "$answer" "r[\"Records\"][$i]")
    record_put "$result" "batch-$i" "$WORK/batch-$i.bin"
done
check_json "" 'len({json.loads(l)["shard"] for l in open(env["WORK"] + "/puts.jsonl")}) == 2' \
    "the records reached both shards"
SECTIONS+=(writes)

# --- reads -------------------------------------------------------------------
# read_from ITERATOR OUT: GetRecords (pages of 4) to the end of the shard,
# collecting every record into OUT as a JSON list.
read_from() {
    local iterator=$1 out=$2 page
    echo "[]" >"$out"
    for _ in $(seq 1 100); do
        page=$(kinesis get-records --shard-iterator "$iterator" --limit 4)
        check_json "$page" '"NextShardIterator" in r and "MillisBehindLatest" in r' "GetRecords page fields"
        printf '%s' "$page" | "$PY" -c '
import json, sys
out = sys.argv[1]
page = json.load(sys.stdin)
json.dump(json.load(open(out)) + page["Records"], open(out, "w"))
' "$out"
        if [[ $(field "$page" 'len(r["Records"])') == 0 ]]; then
            return 0
        fi
        iterator=$(field "$page" 'r["NextShardIterator"]')
    done
    fail "GetRecords never reached the end of the shard"
}

# check_read OUT SHARD FROM WHAT: the records in OUT are exactly the records
# put to SHARD, from index FROM on, in order, with the same bytes.
check_read() {
    "$PY" -c '
import base64, json, os, sys
out, shard, start, what = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
got = json.load(open(out))
puts = [json.loads(l) for l in open(os.path.join(os.environ["WORK"], "puts.jsonl"))]
want = [p for p in puts if p["shard"] == shard][start:]
if len(got) != len(want):
    sys.exit(f"{what}: {len(got)} records back, {len(want)} expected")
for i, (g, w) in enumerate(zip(got, want)):
    where = "%s[%d]" % (what, i)
    if g["SequenceNumber"] != w["seq"]:
        sys.exit("%s: SequenceNumber %s, expected %s" % (where, g["SequenceNumber"], w["seq"]))
    if g["PartitionKey"] != w["key"]:
        sys.exit("%s: PartitionKey %r, expected %r" % (where, g["PartitionKey"], w["key"]))
    back, put = base64.b64decode(g["Data"]), base64.b64decode(w["data"])
    if back != put:
        sys.exit("%s: Data differs (%d bytes back, %d put)" % (where, len(back), len(put)))
    if "ApproximateArrivalTimestamp" not in g:
        sys.exit(f"{what}[{i}]: no ApproximateArrivalTimestamp")
' "$1" "$2" "$3" "$4" || fail "GetRecords mismatch"
}

for shard in shardId-000000000000 shardId-000000000001; do
    answer=$(kinesis get-shard-iterator --stream-name "$STREAM" --shard-id "$shard" \
        --shard-iterator-type TRIM_HORIZON)
    iterator=$(field "$answer" 'r["ShardIterator"]')
    read_from "$iterator" "$WORK/read.json"
    check_read "$WORK/read.json" "$shard" 0 "$shard TRIM_HORIZON"

    second=$("$PY" -c '
import json, os, sys
puts = [json.loads(l) for l in open(os.path.join(os.environ["WORK"], "puts.jsonl"))]
mine = [p for p in puts if p["shard"] == sys.argv[1]]
print(mine[1]["seq"] if len(mine) > 1 else "")
' "$shard")
    if [[ -n $second ]]; then
        answer=$(kinesis get-shard-iterator --stream-name "$STREAM" --shard-id "$shard" \
            --shard-iterator-type AT_SEQUENCE_NUMBER --starting-sequence-number "$second")
        iterator=$(field "$answer" 'r["ShardIterator"]')
        read_from "$iterator" "$WORK/read.json"
        check_read "$WORK/read.json" "$shard" 1 "$shard AT_SEQUENCE_NUMBER"
    fi
done
SECTIONS+=(reads)

# --- errors ------------------------------------------------------------------
missing="$STREAM-missing"
if "$AWS" --endpoint-url "$ENDPOINT" kinesis describe-stream --stream-name "$missing" \
    >"$WORK/stdout" 2>"$WORK/stderr"; then
    fail "DescribeStream of a missing stream succeeded: $(cat "$WORK/stdout")"
else
    rc=$?
fi
[[ $rc -eq 254 || $rc -eq 255 ]] || fail "DescribeStream of a missing stream: exit status $rc, expected 254/255"
expected="An error occurred (ResourceNotFoundException) when calling the DescribeStream operation: Stream $missing under account $ACCOUNT not found."
# With retries off the CLI adds " (reached max retries: 0)" after the operation name.
sed -E 's/ \(reached max retries: [0-9]+\)//' "$WORK/stderr" | grep -qxF "$expected" \
    || fail "DescribeStream of a missing stream: expected the line
  $expected
got:
  $(cat "$WORK/stderr")"
SECTIONS+=(errors)

# --- tags, retention, resource policies -------------------------------------
if true; then
    kinesis add-tags-to-stream --stream-name "$STREAM" --tags team=riffle,env=test >/dev/null
    tags=$(kinesis list-tags-for-stream --stream-name "$STREAM")
    check_json "$tags" '{t["Key"]: t.get("Value", "") for t in r["Tags"]} == {"team": "riffle", "env": "test"}' \
        "ListTagsForStream after AddTagsToStream"
    check_json "$tags" 'r["HasMoreTags"] is False' "ListTagsForStream HasMoreTags"
    kinesis remove-tags-from-stream --stream-name "$STREAM" --tag-keys env >/dev/null
    tags=$(kinesis list-tags-for-stream --stream-name "$STREAM")
    check_json "$tags" '{t["Key"]: t.get("Value", "") for t in r["Tags"]} == {"team": "riffle"}' \
        "ListTagsForStream after RemoveTagsFromStream"
    SECTIONS+=(tags)

    kinesis increase-stream-retention-period --stream-name "$STREAM" --retention-period-hours 48 >/dev/null
    summary=$(kinesis describe-stream-summary --stream-name "$STREAM")
    check_json "$summary" 'r["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48' "RetentionPeriodHours after increase"
    kinesis decrease-stream-retention-period --stream-name "$STREAM" --retention-period-hours 24 >/dev/null
    summary=$(kinesis describe-stream-summary --stream-name "$STREAM")
    check_json "$summary" 'r["StreamDescriptionSummary"]["RetentionPeriodHours"] == 24' "RetentionPeriodHours after decrease"
    SECTIONS+=(retention)

    policy="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"riffle-test\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::$ACCOUNT:root\"},\"Action\":[\"kinesis:DescribeStreamSummary\",\"kinesis:GetRecords\"],\"Resource\":\"$STREAM_ARN\"}]}"
    export POLICY=$policy
    kinesis put-resource-policy --resource-arn "$STREAM_ARN" --policy "$policy" >/dev/null
    got=$(kinesis get-resource-policy --resource-arn "$STREAM_ARN")
    check_json "$got" 'json.loads(r["Policy"]) == json.loads(env["POLICY"])' "GetResourcePolicy after PutResourcePolicy"
    kinesis delete-resource-policy --resource-arn "$STREAM_ARN" >/dev/null
    got=$(kinesis get-resource-policy --resource-arn "$STREAM_ARN")
    check_json "$got" 'not r.get("Policy") or json.loads(r["Policy"]) in ({}, None)' "GetResourcePolicy after DeleteResourcePolicy"
    SECTIONS+=(resource-policy)
fi

# --- deletion ----------------------------------------------------------------
kinesis delete-stream --stream-name "$STREAM" >/dev/null
for attempt in $(seq 1 600); do
    if ! "$AWS" --endpoint-url "$ENDPOINT" --output json kinesis describe-stream-summary --stream-name "$STREAM" \
        >"$WORK/stdout" 2>"$WORK/stderr"; then
        grep -q "(ResourceNotFoundException)" "$WORK/stderr" \
            || fail "DescribeStreamSummary while deleting: $(cat "$WORK/stderr")"
        break
    fi
    check_json "$(cat "$WORK/stdout")" 'r["StreamDescriptionSummary"]["StreamStatus"] == "DELETING"' "status after DeleteStream"
    [[ $attempt -lt 600 ]] || fail "stream $STREAM was never deleted"
    sleep 0.05
done
"$AWS" --endpoint-url "$ENDPOINT" kinesis wait stream-not-exists --stream-name "$STREAM" 2>"$WORK/stderr" \
    || fail "aws kinesis wait stream-not-exists: $(cat "$WORK/stderr")"
streams=$(kinesis list-streams)
check_json "$streams" 'env["STREAM"] not in r["StreamNames"]' "ListStreams no longer lists the deleted stream"
SECTIONS+=(delete)

echo "sections run: $(IFS=,; echo "${SECTIONS[*]}" | sed 's/,/, /g')"
echo ok
