#!/usr/bin/env python3
"""Riffle cross-client scenario: enhanced fan-out with boto3 (HTTP/1.1).

Usage: fanout_scenario.py ENDPOINT_URL

Registers a stream consumer and reads a shard with SubscribeToShard, whose
answer is an `application/vnd.amazon.eventstream` body that botocore parses
into an EventStream: an initial-response, then SubscribeToShardEvents. Checks
that every record arrives once, byte for byte and in order, that records put
while subscribed are pushed, and that resuming AFTER_SEQUENCE_NUMBER of the
last ContinuationSequenceNumber continues exactly. Exits non-zero with a
message on the first mismatch; prints `ok` at the end.
"""

import os
import sys
import threading
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
    sys.exit(f"boto3 fan-out scenario FAILED: {err} ({sys.executable}); run tests/clients/setup.sh")

ACCOUNT = "000000000000"
REGION = "us-east-1"
SHARD = "shardId-000000000000"
# How long any one wait may take. Riffle sends an (empty) event at least every
# 5 s on an idle subscription, so a read that blocks longer than the socket
# read timeout means the server stopped talking.
WAIT = 20
READ_TIMEOUT = 15
# A consumer may not resubscribe to a shard within 5 s of its previous
# subscription starting.
RESUBSCRIBE_AFTER = 5.5


class Mismatch(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Mismatch(what)


def check_eq(actual, expected, what):
    if actual != expected:
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}")


def payload(i):
    # Binary payloads: every byte value shows up across the records, so a
    # base64 or framing slip changes the bytes.
    return bytes((i * 7 + j) % 256 for j in range(1 + (i * 37) % 300)) + f"#{i}".encode()


def wait_until(what, probe, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        check(time.monotonic() < deadline, f"{what} within {timeout} s")
        time.sleep(0.05)


class Subscription:
    """Reads a SubscribeToShard EventStream on a thread, so every wait on it
    is bounded here and not only by the socket's read timeout."""

    def __init__(self, response):
        check_eq(response["ResponseMetadata"]["HTTPStatusCode"], 200, "SubscribeToShard HTTP status")
        content_type = response["ResponseMetadata"]["HTTPHeaders"].get("content-type")
        check_eq(content_type, "application/vnd.amazon.eventstream", "SubscribeToShard content-type")
        self.stream = response["EventStream"]
        self.lock = threading.Condition()
        self.records = []
        self.events = 0
        self.continuation = None
        self.millis_behind = []
        self.ended = False
        self.error = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for event in self.stream:
                with self.lock:
                    if "SubscribeToShardEvent" not in event:
                        raise Mismatch(f"unexpected event {event!r}")
                    body = event["SubscribeToShardEvent"]
                    self.events += 1
                    self.continuation = body["ContinuationSequenceNumber"]
                    self.millis_behind.append(body["MillisBehindLatest"])
                    self.records.extend(body["Records"])
                    self.lock.notify_all()
        except Exception as err:  # noqa: BLE001 - reported to the waiting thread
            with self.lock:
                if not self.ended:
                    self.error = err
                self.lock.notify_all()
        finally:
            with self.lock:
                self.ended = True
                self.lock.notify_all()

    def wait_records(self, count, what):
        """Waits until `count` records have arrived in all; returns them."""
        deadline = time.monotonic() + WAIT
        with self.lock:
            while len(self.records) < count:
                if self.error is not None:
                    raise Mismatch(f"{what}: the event stream failed: {type(self.error).__name__}: {self.error}")
                check(not self.ended, f"{what}: the event stream ended after {len(self.records)} of {count} records")
                left = deadline - time.monotonic()
                check(left > 0, f"{what}: only {len(self.records)} of {count} records within {WAIT} s")
                self.lock.wait(left)
            check_eq(len(self.records), count, f"{what}: record count")
            return list(self.records)

    def snapshot(self):
        with self.lock:
            return list(self.records), self.continuation, self.events

    def close(self):
        with self.lock:
            self.ended = True
        self.stream.close()
        self.thread.join(WAIT)
        check(not self.thread.is_alive(), "the event stream reader did not stop after close()")


def main():
    if len(sys.argv) != 2:
        print("usage: fanout_scenario.py ENDPOINT_URL", file=sys.stderr)
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
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            read_timeout=READ_TIMEOUT,
            connect_timeout=5,
        ),
    )

    stream = f"riffle-fanout-{os.getpid()}-{int(time.time() * 1000)}"
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}"
    sections = []

    # --- a one-shard stream with records ----------------------------------
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_until(
        f"stream {stream} ACTIVE",
        lambda: client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
        == "ACTIVE",
    )
    put = []  # (sequence number, data) in put order

    def put_record(i):
        data = payload(i)
        out = client.put_record(StreamName=stream, PartitionKey=f"pk-{i}", Data=data)
        check_eq(out["ShardId"], SHARD, "PutRecord ShardId")
        put.append((out["SequenceNumber"], data, f"pk-{i}"))

    first_batch = 25
    for i in range(first_batch):
        put_record(i)

    # --- consumer ---------------------------------------------------------
    consumer_name = "fanout-reader"
    registered = client.register_stream_consumer(StreamARN=stream_arn, ConsumerName=consumer_name)["Consumer"]
    consumer_arn = registered["ConsumerARN"]
    check_eq(registered["ConsumerName"], consumer_name, "RegisterStreamConsumer ConsumerName")
    check(
        consumer_arn.startswith(f"{stream_arn}/consumer/{consumer_name}:"),
        f"RegisterStreamConsumer ConsumerARN {consumer_arn}",
    )
    check(registered["ConsumerStatus"] in ("CREATING", "ACTIVE"), f"status {registered['ConsumerStatus']}")
    description = wait_until(
        "consumer ACTIVE",
        lambda: (
            lambda d: d if d["ConsumerStatus"] == "ACTIVE" else None
        )(client.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"]),
    )
    check_eq(description["ConsumerName"], consumer_name, "DescribeStreamConsumer ConsumerName")
    check_eq(description["StreamARN"], stream_arn, "DescribeStreamConsumer StreamARN")
    by_name = client.describe_stream_consumer(StreamARN=stream_arn, ConsumerName=consumer_name)
    check_eq(by_name["ConsumerDescription"]["ConsumerARN"], consumer_arn, "DescribeStreamConsumer by name")
    listed = client.list_stream_consumers(StreamARN=stream_arn)["Consumers"]
    check_eq([c["ConsumerARN"] for c in listed], [consumer_arn], "ListStreamConsumers")
    sections.append("consumer")

    def subscribe(position):
        return Subscription(
            client.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId=SHARD, StartingPosition=position)
        )

    def check_records(got, expected, what):
        check_eq(len(got), len(expected), f"{what}: record count")
        for n, (record, (sequence, data, key)) in enumerate(zip(got, expected)):
            check_eq(record["SequenceNumber"], sequence, f"{what}: record {n} SequenceNumber")
            check_eq(record["Data"], data, f"{what}: record {n} Data")
            check_eq(record["PartitionKey"], key, f"{what}: record {n} PartitionKey")
            check("ApproximateArrivalTimestamp" in record, f"{what}: record {n} has no ApproximateArrivalTimestamp")

    # --- subscribe from TRIM_HORIZON -------------------------------------
    sub = subscribe({"Type": "TRIM_HORIZON"})
    # Taken after the answer: the server's clock started no later than this.
    subscribed_at = time.monotonic()
    got = sub.wait_records(first_batch, "TRIM_HORIZON subscription")
    check_records(got, put[:first_batch], "TRIM_HORIZON subscription")
    sections.append("trim-horizon")

    # --- records put now are pushed to the open subscription --------------
    for i in range(first_batch, first_batch + 7):
        put_record(i)
    got = sub.wait_records(len(put), "pushed records")
    check_records(got, put, "pushed records")
    # The continuation number of an event covers every record in it; wait
    # until the last event seen carries the last record's number or later.
    _, continuation, _ = sub.snapshot()
    check(continuation is not None, "no ContinuationSequenceNumber")
    check(
        int(continuation) >= int(put[-1][0]),
        f"ContinuationSequenceNumber {continuation} is before the last record {put[-1][0]}",
    )
    check(all(m >= 0 for m in sub.millis_behind), f"MillisBehindLatest {sub.millis_behind}")
    sections.append("push")

    # A second subscription within five seconds of the first is refused.
    # (On a machine slow enough that five seconds have passed, it takes over
    # instead; then the next one must wait five seconds from it.)
    try:
        early = client.subscribe_to_shard(
            ConsumerARN=consumer_arn, ShardId=SHARD, StartingPosition={"Type": "LATEST"}
        )
        early_at = time.monotonic()
    except ClientError as err:
        check_eq(err.response["Error"]["Code"], "ResourceInUseException", "early resubscribe error code")
        check_eq(err.response["ResponseMetadata"]["HTTPStatusCode"], 400, "early resubscribe HTTP status")
        sections.append("resubscribe-refused")
    else:
        early["EventStream"].close()
        check(early_at - subscribed_at >= 4.5, "a second SubscribeToShard within 5 s was not refused")
        subscribed_at = early_at
        sections.append("resubscribe-took-over")

    # --- close, put while unsubscribed, resume after the continuation -----
    sub.close()
    # Anything that arrived before the close still counts as delivered.
    delivered, continuation, _ = sub.snapshot()
    check_records(delivered, put, "records delivered before close")
    between_start = len(put)
    for i in range(between_start, between_start + 6):
        put_record(i)
    left = RESUBSCRIBE_AFTER - (time.monotonic() - subscribed_at)
    if left > 0:
        time.sleep(left)
    resumed = subscribe({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": continuation})
    got = resumed.wait_records(len(put) - between_start, "resumed subscription")
    check_records(got, put[between_start:], "resumed subscription")
    # Nothing more turns up: wait for one more (heartbeat) event and check.
    _, _, events = resumed.snapshot()
    deadline = time.monotonic() + WAIT
    while resumed.snapshot()[2] == events:
        check(time.monotonic() < deadline, "no heartbeat event on an idle subscription")
        check(resumed.error is None, f"the resumed event stream failed: {resumed.error}")
        time.sleep(0.05)
    check_records(resumed.snapshot()[0], put[between_start:], "resumed subscription after a heartbeat")
    resumed.close()
    sections.append("resume")

    # --- clean up ---------------------------------------------------------
    client.deregister_stream_consumer(ConsumerARN=consumer_arn)
    def consumer_gone():
        try:
            client.describe_stream_consumer(ConsumerARN=consumer_arn)
        except client.exceptions.ResourceNotFoundException:
            return True
        return False
    wait_until("consumer deregistered", consumer_gone)
    check_eq(client.list_stream_consumers(StreamARN=stream_arn)["Consumers"], [], "consumers after deregister")
    client.delete_stream(StreamName=stream)

    def stream_gone():
        try:
            client.describe_stream_summary(StreamName=stream)
        except client.exceptions.ResourceNotFoundException:
            return True
        return False
    wait_until(f"stream {stream} deleted", stream_gone)
    sections.append("cleanup")

    print("sections run: " + ", ".join(sections))
    print("ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Mismatch as err:
        print(f"boto3 fan-out scenario FAILED: {err}", file=sys.stderr)
        sys.exit(1)
    except ClientError as err:
        print(f"boto3 fan-out scenario FAILED: unexpected {err}", file=sys.stderr)
        print(f"  response: {err.response!r}", file=sys.stderr)
        sys.exit(1)
