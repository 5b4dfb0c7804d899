#!/usr/bin/env python3
"""Riffle cross-client scenario: boto3 (botocore, JSON 1.1 over HTTP/1.1).

Usage: boto3_scenario.py ENDPOINT_URL

Drives one stream through its life with boto3 and checks every answer.
Exits non-zero with a message on the first mismatch; prints `ok` at the end.
"""

import hashlib
import json
import os
import sys
import time

# No user configuration may leak into the scenario.
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS"):
    os.environ.pop(var, None)

try:
    import boto3
    import botocore
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError as err:
    sys.exit(f"boto3 scenario FAILED: {err} ({sys.executable}); run tests/clients/setup.sh")

ACCOUNT = "000000000000"
REGION = "us-east-1"
FULL = True  # every section runs; kept as a name so sections read alike


class Mismatch(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Mismatch(what)


def check_eq(actual, expected, what):
    if actual != expected:
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}")


def expect_error(call, code, message=None, status=400, **kwargs):
    try:
        result = call(**kwargs)
    except ClientError as err:
        error = err.response.get("Error", {})
        check_eq(error.get("Code"), code, f"{call.__name__} error code")
        if message is not None:
            check_eq(error.get("Message"), message, f"{call.__name__} error message")
        check_eq(
            err.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
            status,
            f"{call.__name__} HTTP status",
        )
        return err
    raise Mismatch(f"{call.__name__} should have failed with {code}, got {result!r}")


def main():
    if len(sys.argv) != 2:
        print("usage: boto3_scenario.py ENDPOINT_URL", file=sys.stderr)
        return 2
    endpoint = sys.argv[1]
    print(f"boto3 {boto3.__version__} / botocore {botocore.__version__} against {endpoint}")

    client = boto3.session.Session().client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDRIFFLETEST",
        aws_secret_access_key="riffle-test-secret",
        # Every answer reaches the checks as sent: no retries.
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )

    stream = f"riffle-boto3-{os.getpid()}-{int(time.time() * 1000)}"
    sections = []

    # --- lifecycle -------------------------------------------------------
    client.create_stream(StreamName=stream, ShardCount=2)
    deadline = time.monotonic() + 30
    while True:
        summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            break
        check(summary["StreamStatus"] == "CREATING", f"unexpected status {summary['StreamStatus']}")
        check(time.monotonic() < deadline, f"stream {stream} never became ACTIVE")
        time.sleep(0.05)
    check_eq(summary["StreamName"], stream, "summary StreamName")
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}"
    check_eq(summary["StreamARN"], stream_arn, "summary StreamARN")
    check_eq(summary["OpenShardCount"], 2, "summary OpenShardCount")
    check_eq(summary["RetentionPeriodHours"], 24, "summary RetentionPeriodHours")
    # The waiter polls DescribeStream; the stream is already ACTIVE.
    client.get_waiter("stream_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )

    description = client.describe_stream(StreamName=stream)["StreamDescription"]
    check_eq(description["StreamName"], stream, "DescribeStream StreamName")
    check_eq(description["StreamARN"], stream_arn, "DescribeStream StreamARN")
    check_eq(description["StreamStatus"], "ACTIVE", "DescribeStream StreamStatus")
    check_eq(description["HasMoreShards"], False, "DescribeStream HasMoreShards")
    check_eq(len(description["Shards"]), 2, "DescribeStream shard count")

    names = []
    kwargs = {}
    while True:
        page = client.list_streams(**kwargs)
        names.extend(page["StreamNames"])
        if not page.get("HasMoreStreams"):
            break
        kwargs = {"ExclusiveStartStreamName": page["StreamNames"][-1]}
    check(stream in names, f"ListStreams does not list {stream}: {names}")
    # The paginator follows NextToken; pages of one.
    paged = []
    for page in client.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 1}):
        check(len(page["StreamNames"]) <= 1, "ListStreams Limit 1 returned more than one name")
        paged.extend(page["StreamNames"])
        check_eq(
            [s["StreamName"] for s in page.get("StreamSummaries", [])],
            page["StreamNames"],
            "ListStreams StreamSummaries names",
        )
    check(stream in paged, f"ListStreams paginated by NextToken does not list {stream}: {paged}")
    check_eq(len(paged), len(set(paged)), "ListStreams pages repeat a name")

    shards = client.list_shards(StreamName=stream)["Shards"]
    # Page by hand: AWS rejects StreamName together with NextToken, so the
    # botocore paginator (which resends StreamName) cannot be used.
    page = client.list_shards(StreamName=stream, MaxResults=1)
    paged = page["Shards"]
    while page.get("NextToken"):
        page = client.list_shards(NextToken=page["NextToken"], MaxResults=1)
        paged.extend(page["Shards"])
    check_eq(paged, shards, "ListShards paginated by NextToken")
    check_eq(
        [s["ShardId"] for s in shards],
        ["shardId-000000000000", "shardId-000000000001"],
        "ListShards shard ids",
    )
    check_eq(
        [s["ShardId"] for s in description["Shards"]],
        [s["ShardId"] for s in shards],
        "DescribeStream and ListShards shard ids",
    )
    ranges = {
        s["ShardId"]: (
            int(s["HashKeyRange"]["StartingHashKey"]),
            int(s["HashKeyRange"]["EndingHashKey"]),
        )
        for s in shards
    }
    check_eq(min(lo for lo, _ in ranges.values()), 0, "lowest StartingHashKey")
    check_eq(max(hi for _, hi in ranges.values()), 2**128 - 1, "highest EndingHashKey")

    def shard_for(partition_key, explicit_hash_key=None):
        if explicit_hash_key is not None:
            key = int(explicit_hash_key)
        else:
            key = int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")
        for shard_id, (lo, hi) in ranges.items():
            if lo <= key <= hi:
                return shard_id
        raise Mismatch(f"no shard covers hash key {key}")

    sections.append("lifecycle")

    # --- writes ----------------------------------------------------------
    # (partition key, data, explicit hash key) in the order they are put.
    records = [
        ("alpha", b"hello riffle", None),
        ("every-byte", bytes(range(256)), None),
        ("nul", b"\x00", None),
        ("utf8-\u00e9\u2713", "caf\u00e9 \u2713".encode("utf-8"), None),
        ("big", bytes((i * 7919) % 251 for i in range(100_000)), None),
        ("pinned-low", b"to shard 0 by explicit hash key", "0"),
        ("pinned-high", b"to shard 1 by explicit hash key", str(2**128 - 1)),
    ]
    records += [(f"batch-{i}", f"batch record {i}".encode() + bytes([i, 255 - i]), None) for i in range(10)]

    puts = []  # (shard id, sequence number, partition key, data)
    for key, data, explicit in records[:3]:
        args = {"StreamName": stream, "PartitionKey": key, "Data": data}
        if explicit is not None:
            args["ExplicitHashKey"] = explicit
        answer = client.put_record(**args)
        check_eq(answer["ShardId"], shard_for(key, explicit), f"PutRecord {key} ShardId")
        check(len(answer["SequenceNumber"]) == 56 and answer["SequenceNumber"].isdigit(),
              f"PutRecord sequence number {answer['SequenceNumber']!r} is not 56 digits")
        puts.append((answer["ShardId"], answer["SequenceNumber"], key, data))

    batch = records[3:]
    entries = []
    for key, data, explicit in batch:
        entry = {"PartitionKey": key, "Data": data}
        if explicit is not None:
            entry["ExplicitHashKey"] = explicit
        entries.append(entry)
    answer = client.put_records(StreamName=stream, Records=entries)
    check_eq(answer["FailedRecordCount"], 0, "PutRecords FailedRecordCount")
    check_eq(len(answer["Records"]), len(batch), "PutRecords result count")
    for (key, data, explicit), result in zip(batch, answer["Records"]):
        check("ErrorCode" not in result, f"PutRecords {key} failed: {result}")
        check_eq(result["ShardId"], shard_for(key, explicit), f"PutRecords {key} ShardId")
        puts.append((result["ShardId"], result["SequenceNumber"], key, data))
    check(len({shard for shard, _, _, _ in puts}) == 2, "the records did not reach both shards")
    sections.append("writes")

    # --- reads -----------------------------------------------------------
    def read_from(iterator):
        got = []
        for _ in range(100):
            page = client.get_records(ShardIterator=iterator, Limit=5)
            got.extend(page["Records"])
            check("NextShardIterator" in page, "open shard GetRecords lacks NextShardIterator")
            check("MillisBehindLatest" in page, "GetRecords lacks MillisBehindLatest")
            if not page["Records"]:
                return got
            iterator = page["NextShardIterator"]
        raise Mismatch("GetRecords never reached the end of the shard")

    def check_records(got, expected, what):
        check_eq(len(got), len(expected), f"{what}: record count")
        for index, (record, (_, seq, key, data)) in enumerate(zip(got, expected)):
            check_eq(record["SequenceNumber"], seq, f"{what}[{index}] SequenceNumber")
            check_eq(record["PartitionKey"], key, f"{what}[{index}] PartitionKey")
            check(record["Data"] == data,
                  f"{what}[{index}] Data differs: {len(record['Data'])} bytes back for {len(data)} put")
            check("ApproximateArrivalTimestamp" in record, f"{what}[{index}] lacks ApproximateArrivalTimestamp")

    for shard_id in ranges:
        expected = [p for p in puts if p[0] == shard_id]
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        check_records(read_from(iterator), expected, f"{shard_id} TRIM_HORIZON")

        if len(expected) >= 2:
            start = expected[1][1]
            iterator = client.get_shard_iterator(
                StreamName=stream,
                ShardId=shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=start,
            )["ShardIterator"]
            check_records(read_from(iterator), expected[1:], f"{shard_id} AT_SEQUENCE_NUMBER")
    sections.append("reads")

    # --- errors ----------------------------------------------------------
    missing = f"{stream}-missing"
    expect_error(
        client.describe_stream,
        "ResourceNotFoundException",
        f"Stream {missing} under account {ACCOUNT} not found.",
        StreamName=missing,
    )
    try:
        client.describe_stream(StreamName=missing)
    except client.exceptions.ResourceNotFoundException:
        pass  # botocore mapped the error code to the modelled exception class
    sections.append("errors")

    # --- tags, retention, resource policies ---------------------------
    if FULL:
        client.add_tags_to_stream(StreamName=stream, Tags={"team": "riffle", "env": "test", "empty": ""})
        tags = client.list_tags_for_stream(StreamName=stream)
        check_eq(
            {t["Key"]: t.get("Value", "") for t in tags["Tags"]},
            {"team": "riffle", "env": "test", "empty": ""},
            "ListTagsForStream after AddTagsToStream",
        )
        check_eq(tags["HasMoreTags"], False, "ListTagsForStream HasMoreTags")
        client.remove_tags_from_stream(StreamName=stream, TagKeys=["env", "empty"])
        tags = client.list_tags_for_stream(StreamName=stream)
        check_eq(
            {t["Key"]: t.get("Value", "") for t in tags["Tags"]},
            {"team": "riffle"},
            "ListTagsForStream after RemoveTagsFromStream",
        )
        sections.append("tags")

        client.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=48)
        summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        check_eq(summary["RetentionPeriodHours"], 48, "RetentionPeriodHours after increase")
        client.decrease_stream_retention_period(StreamName=stream, RetentionPeriodHours=24)
        summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        check_eq(summary["RetentionPeriodHours"], 24, "RetentionPeriodHours after decrease")
        sections.append("retention")

        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "riffle-test",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": ["kinesis:DescribeStreamSummary", "kinesis:GetRecords"],
                    "Resource": stream_arn,
                }
            ],
        }
        client.put_resource_policy(ResourceARN=stream_arn, Policy=json.dumps(policy))
        got = client.get_resource_policy(ResourceARN=stream_arn)["Policy"]
        check_eq(json.loads(got), policy, "GetResourcePolicy after PutResourcePolicy")
        client.delete_resource_policy(ResourceARN=stream_arn)
        got = client.get_resource_policy(ResourceARN=stream_arn).get("Policy")
        check(not got or json.loads(got) in ({}, None), f"GetResourcePolicy after delete: {got!r}")
        sections.append("resource-policy")

    # --- deletion --------------------------------------------------------
    client.delete_stream(StreamName=stream)
    deadline = time.monotonic() + 30
    while True:
        try:
            status = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
        except client.exceptions.ResourceNotFoundException:
            break
        check_eq(status, "DELETING", "status after DeleteStream")
        check(time.monotonic() < deadline, f"stream {stream} was never deleted")
        time.sleep(0.05)
    client.get_waiter("stream_not_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    check(stream not in client.list_streams()["StreamNames"], "ListStreams still lists the deleted stream")
    sections.append("delete")

    print("sections run: " + ", ".join(sections))
    print("ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Mismatch as err:
        print(f"boto3 scenario FAILED: {err}", file=sys.stderr)
        sys.exit(1)
    except ClientError as err:
        print(f"boto3 scenario FAILED: unexpected {err}", file=sys.stderr)
        print(f"  response: {err.response!r}", file=sys.stderr)
        sys.exit(1)
