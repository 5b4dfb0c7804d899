#!/usr/bin/env python3
"""Resharding with boto3: split, merge and update the shard count while
writing, then read the whole stream the way the KCL does (a shard only after
its parents are finished) and check that every record arrives exactly once,
in order per partition key.

Usage: reshard_scenario.py ENDPOINT. Prints `ok` at the end.
"""

import sys
import time
import uuid

import boto3
from botocore.config import Config

HALF = 1 << 127


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def main():
    client = boto3.client(
        "kinesis", endpoint_url=sys.argv[1], region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )
    stream = f"reshard-{uuid.uuid4().hex[:10]}"
    client.create_stream(StreamName=stream, ShardCount=1)
    client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})

    def wait_active():
        for _ in range(200):
            status = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
            if status == "ACTIVE":
                return
            time.sleep(0.05)
        fail("stream stuck in UPDATING")

    sent = {}

    def put_round(label):
        records = []
        for k in range(16):
            key = f"key-{k}"
            n = sent.get(key, 0)
            sent[key] = n + 1
            records.append({"PartitionKey": key, "Data": f"{key}:{n}:{label}".encode()})
        out = client.put_records(StreamName=stream, Records=records)
        check(out["FailedRecordCount"] == 0, f"put failed: {out}")

    put_round("one-shard")
    client.split_shard(StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(HALF))
    wait_active()
    put_round("after-split")
    client.merge_shards(StreamName=stream, ShardToMerge="shardId-000000000001", AdjacentShardToMerge="shardId-000000000002")
    wait_active()
    put_round("after-merge")
    out = client.update_shard_count(StreamName=stream, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    check(out["CurrentShardCount"] == 1 and out["TargetShardCount"] == 2, f"update_shard_count: {out}")
    wait_active()
    put_round("after-update")

    shards = []
    token = None
    while True:
        page = client.list_shards(NextToken=token) if token else client.list_shards(StreamName=stream)
        shards += page["Shards"]
        token = page.get("NextToken")
        if not token:
            break
    by_id = {s["ShardId"]: s for s in shards}
    check(len([s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]) == 2, "two open shards")

    finished, got = set(), {}
    while len(finished) < len(shards):
        ready = [s for s in shards if s["ShardId"] not in finished
                 and all(p in finished for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p)]
        check(ready, "lineage has no cycle")
        for shard in ready:
            it = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while True:
                page = client.get_records(ShardIterator=it)
                for record in page["Records"]:
                    key, n, _ = record["Data"].decode().split(":")
                    check(record["PartitionKey"] == key, "key and payload agree")
                    got.setdefault(key, []).append(int(n))
                nxt = page.get("NextShardIterator")
                if nxt is None:
                    children = {c["ShardId"] for c in page.get("ChildShards", [])}
                    expected = {s["ShardId"] for s in shards
                                if shard["ShardId"] in (s.get("ParentShardId"), s.get("AdjacentParentShardId"))}
                    check(children == expected, f"ChildShards of {shard['ShardId']}: {children} vs {expected}")
                    break
                if not page["Records"]:
                    break
                it = nxt
            finished.add(shard["ShardId"])
    for key, count in sent.items():
        check(got.get(key) == list(range(count)), f"{key}: read {got.get(key)}, expected 0..{count}")
    check(set(by_id) >= {"shardId-000000000000", "shardId-000000000003"}, "lineage ids")
    client.delete_stream(StreamName=stream)
    print(f"sections run: split, merge, update-shard-count, lineage read of {len(shards)} shards")
    print("ok")


if __name__ == "__main__":
    main()
