#!/usr/bin/env python3
"""CBOR (application/x-amz-cbor-1.1) scenario, encoded by PyPI's cbor2.

The Java SDK, and so the KCL, speaks CBOR by default: blobs are byte strings,
timestamps are tag 1 around epoch milliseconds, and streaming encoders such as
Jackson write indefinite-length maps and strings. This drives Riffle with an
encoder that is not Riffle's own and checks every answer.

Usage: cbor_scenario.py ENDPOINT. Exits non-zero on the first mismatch,
prints `ok` at the end.
"""

import http.client
import sys
import time
import urllib.parse
import uuid

import cbor2

CONTENT_TYPE = "application/x-amz-cbor-1.1"
SIGNED = (
    "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0"
)


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


class Client:
    def __init__(self, endpoint):
        url = urllib.parse.urlparse(endpoint)
        self.host, self.port = url.hostname, url.port

    def raw(self, operation, body):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {
            "Content-Type": CONTENT_TYPE,
            "X-Amz-Target": f"Kinesis_20131202.{operation}",
            "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            "Authorization": SIGNED,
        }
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        check(response.getheader("Content-Type") == CONTENT_TYPE,
              f"{operation}: content type {response.getheader('Content-Type')!r}")
        check(response.getheader("x-amzn-RequestId"), f"{operation}: no request id")
        return response.status, (decode(data) if data else None)

    def call(self, operation, **members):
        status, answer = self.raw(operation, cbor2.dumps(members))
        check(status == 200, f"{operation}: HTTP {status}: {answer}")
        return answer


def decode(data):
    """Decodes keeping tag 1 raw: cbor2 would read its value as seconds, but
    Kinesis (like the Java SDK) puts epoch milliseconds there."""
    return cbor2.loads(data, semantic_decoders={1: lambda value, *_: cbor2.CBORTag(1, value)})


def check_millis(value, what):
    check(isinstance(value, cbor2.CBORTag) and value.tag == 1, f"{what} is tag 1: {value!r}")
    now_ms = time.time() * 1000
    check(isinstance(value.value, int) and now_ms - 3_600_000 < value.value <= now_ms + 60_000,
          f"{what} holds epoch milliseconds of today: {value.value}")


def indefinite_map(pairs):
    """A map of indefinite length whose text values are chunked strings."""
    out = bytearray([0xBF])
    for key, value in pairs:
        out += cbor2.dumps(key)
        if isinstance(value, str) and len(value) > 1:
            half = len(value) // 2
            out += bytes([0x7F]) + cbor2.dumps(value[:half]) + cbor2.dumps(value[half:]) + bytes([0xFF])
        else:
            out += cbor2.dumps(value)
    out.append(0xFF)
    return bytes(out)


def main():
    client = Client(sys.argv[1])
    stream = f"cbor-{uuid.uuid4().hex[:12]}"
    client.call("CreateStream", StreamName=stream, ShardCount=2)
    for _ in range(200):
        summary = client.call("DescribeStreamSummary", StreamName=stream)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    check(summary["StreamStatus"] == "ACTIVE", "stream never became ACTIVE")
    check_millis(summary["StreamCreationTimestamp"], "StreamCreationTimestamp")

    payloads = [bytes([i]) * (i + 1) for i in range(10)] + [bytes(range(256))]
    sequences = {}
    put = client.call("PutRecord", StreamName=stream, PartitionKey="pk-0", Data=payloads[0])
    check(len(put["SequenceNumber"]) == 56, f"sequence number {put['SequenceNumber']}")
    sequences[put["SequenceNumber"]] = payloads[0]
    records = [{"PartitionKey": f"pk-{i}", "Data": data} for i, data in enumerate(payloads[1:], start=1)]
    out = client.call("PutRecords", StreamName=stream, Records=records)
    check(out["FailedRecordCount"] == 0, f"failed records: {out}")
    for entry, data in zip(out["Records"], payloads[1:]):
        sequences[entry["SequenceNumber"]] = data

    # GetShardIterator as an indefinite-length map with chunked strings.
    seen = {}
    per_shard = {}
    shards = client.call("ListShards", StreamName=stream)["Shards"]
    check(len(shards) == 2, f"shards: {shards}")
    for shard in shards:
        body = indefinite_map([("StreamName", stream), ("ShardId", shard["ShardId"]), ("ShardIteratorType", "TRIM_HORIZON")])
        status, answer = client.raw("GetShardIterator", body)
        check(status == 200, f"indefinite-length GetShardIterator: {status} {answer}")
        got = client.call("GetRecords", ShardIterator=answer["ShardIterator"])
        per_shard[shard["ShardId"]] = len(got["Records"])
        for record in got["Records"]:
            check(isinstance(record["Data"], bytes), f"Data is a byte string: {record['Data']!r}")
            seen[record["SequenceNumber"]] = record["Data"]
            check_millis(record["ApproximateArrivalTimestamp"], "ApproximateArrivalTimestamp")
    check(seen == sequences, "every record came back with its exact bytes and sequence number")

    # AT_TIMESTAMP with tag 1 around milliseconds, as the Java SDK writes it.
    past_ms = int((time.time() - 3600) * 1000)
    shard_id = shards[0]["ShardId"]
    status, answer = client.raw("GetShardIterator", cbor2.dumps({
        "StreamName": stream, "ShardId": shard_id, "ShardIteratorType": "AT_TIMESTAMP",
        "Timestamp": cbor2.CBORTag(1, past_ms),
    }))
    check(status == 200, f"AT_TIMESTAMP: {status} {answer}")
    got = client.call("GetRecords", ShardIterator=answer["ShardIterator"])
    check(len(got["Records"]) == per_shard[shard_id],
          f"AT_TIMESTAMP an hour ago reads the shard from its start ({len(got['Records'])} of {per_shard[shard_id]})")

    # Errors are CBOR with AWS's type and message.
    status, error = client.raw("DescribeStream", cbor2.dumps({"StreamName": "does-not-exist"}))
    check(status == 400, f"missing stream status {status}")
    check(error == {"__type": "ResourceNotFoundException",
                    "message": "Stream does-not-exist under account 000000000000 not found."}, f"error body {error}")
    status, error = client.raw("PutRecord", cbor2.dumps({"StreamName": stream, "PartitionKey": "k", "Data": True}))
    check(status == 400 and error["__type"] == "SerializationException", f"type error {error}")
    status, error = client.raw("GetRecords", cbor2.dumps({"ShardIterator": "x", "Limit": 0}))
    check(error.get("__type") == "ValidationException", f"validation error {error}")

    client.call("DeleteStream", StreamName=stream)
    print("sections run: create, put (bytes), indefinite-length read, AT_TIMESTAMP tag 1 ms, errors, delete")
    print("ok")


if __name__ == "__main__":
    main()
