// Riffle cross-client scenario: enhanced fan-out with the AWS SDK for
// JavaScript v3 (@aws-sdk/client-kinesis) and its default Node.js request
// handler, NodeHttp2Handler, so SubscribeToShard's event stream arrives over
// h2c (HTTP/2 with prior knowledge).
//
// Usage: node fanout.mjs ENDPOINT_URL
//
// Registers a stream consumer and reads a shard with SubscribeToShard
// (`for await (const event of response.EventStream)`). Checks that every
// record arrives once, byte for byte and in order, that records put while
// subscribed are pushed, and that resuming AFTER_SEQUENCE_NUMBER of the last
// ContinuationSequenceNumber continues exactly. Every wait is bounded. Exits
// non-zero with a message on the first mismatch; prints `ok` at the end.

import { createRequire } from "node:module";

// No user configuration may leak into the scenario.
process.env.AWS_CONFIG_FILE = "/dev/null";
process.env.AWS_SHARED_CREDENTIALS_FILE = "/dev/null";
for (const name of ["AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_MAX_ATTEMPTS"]) {
  delete process.env[name];
}

const {
  KinesisClient,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  ListStreamConsumersCommand,
  DeregisterStreamConsumerCommand,
  SubscribeToShardCommand,
  DeleteStreamCommand,
  ResourceNotFoundException,
} = await import("@aws-sdk/client-kinesis");

const ACCOUNT = "000000000000";
const REGION = "us-east-1";
const SHARD = "shardId-000000000000";
// How long any one wait may take (Riffle sends an event at least every 5 s
// on an idle subscription).
const WAIT_MS = 20_000;
// A consumer may not resubscribe to a shard within 5 s of its previous
// subscription starting.
const RESUBSCRIBE_AFTER_MS = 5_500;

class Mismatch extends Error {}

function check(condition, what) {
  if (!condition) throw new Mismatch(what);
}

function checkEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Mismatch(`${what}: expected ${e}, got ${a}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with a Mismatch naming `what` unless `promise` settles within `ms`. */
function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Mismatch(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function waitUntil(what, probe, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await within(probe(), what);
    if (value) return value;
    check(Date.now() < deadline, `${what} within ${ms} ms`);
    await sleep(50);
  }
}

// Binary payloads: every byte value shows up across the records, so a base64
// or framing slip changes the bytes.
function payload(i) {
  const length = 1 + ((i * 37) % 300);
  const bytes = Buffer.alloc(length);
  for (let j = 0; j < length; j++) bytes[j] = (i * 7 + j) % 256;
  return Buffer.concat([bytes, Buffer.from(`#${i}`)]);
}

/** One SubscribeToShard call, read in the background with `for await`. */
class Subscription {
  static async open(client, consumerArn, position) {
    const controller = new AbortController();
    let response;
    try {
      response = await within(
        client.send(
          new SubscribeToShardCommand({ ConsumerARN: consumerArn, ShardId: SHARD, StartingPosition: position }),
          { abortSignal: controller.signal },
        ),
        "SubscribeToShard response",
      );
    } catch (err) {
      // A request that never answered must not keep its HTTP/2 session open.
      controller.abort();
      throw err;
    }
    checkEq(response.$metadata.httpStatusCode, 200, "SubscribeToShard HTTP status");
    check(response.EventStream, "SubscribeToShard has no EventStream");
    return new Subscription(response, controller);
  }

  constructor(response, controller) {
    this.controller = controller;
    this.records = [];
    this.events = 0;
    this.continuation = undefined;
    this.millisBehind = [];
    this.ended = false;
    this.closing = false;
    this.error = undefined;
    this.waiters = new Set();
    this.done = this.#read(response.EventStream);
  }

  async #read(eventStream) {
    try {
      for await (const event of eventStream) {
        if (!event.SubscribeToShardEvent) {
          throw new Mismatch(`unexpected event ${JSON.stringify(Object.keys(event))}`);
        }
        const body = event.SubscribeToShardEvent;
        this.events += 1;
        this.continuation = body.ContinuationSequenceNumber;
        this.millisBehind.push(body.MillisBehindLatest);
        this.records.push(...(body.Records ?? []));
        this.#wake();
      }
    } catch (err) {
      if (!this.closing) this.error = err;
    } finally {
      this.ended = true;
      this.#wake();
    }
  }

  #wake() {
    for (const wake of this.waiters) wake();
  }

  /** Resolves once `condition()` holds; fails if the stream ends or errs first. */
  async until(condition, what) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      if (condition()) return;
      if (this.error) {
        throw new Mismatch(`${what}: the event stream failed: ${this.error?.name}: ${this.error?.message}`);
      }
      check(!this.ended, `${what}: the event stream ended (${this.records.length} records)`);
      const left = deadline - Date.now();
      check(left > 0, `${what}: not within ${WAIT_MS} ms (${this.records.length} records)`);
      let wake;
      const woken = new Promise((resolve) => {
        wake = resolve;
        this.waiters.add(resolve);
      });
      const timer = setTimeout(wake, left);
      await woken;
      clearTimeout(timer);
      this.waiters.delete(wake);
    }
  }

  async waitRecords(count, what) {
    await this.until(() => this.records.length >= count, what);
    checkEq(this.records.length, count, `${what}: record count`);
    return [...this.records];
  }

  async close() {
    this.closing = true;
    this.controller.abort();
    await within(this.done, "the event stream reader stopping after abort");
  }
}

function checkRecords(got, expected, what) {
  checkEq(got.length, expected.length, `${what}: record count`);
  got.forEach((record, n) => {
    const want = expected[n];
    checkEq(record.SequenceNumber, want.sequence, `${what}: record ${n} SequenceNumber`);
    check(
      record.Data instanceof Uint8Array && Buffer.from(record.Data).equals(want.data),
      `${what}: record ${n} Data differs: expected ${want.data.toString("hex")}, got ${Buffer.from(record.Data ?? []).toString("hex")}`,
    );
    checkEq(record.PartitionKey, want.key, `${what}: record ${n} PartitionKey`);
    check(record.ApproximateArrivalTimestamp instanceof Date, `${what}: record ${n} ApproximateArrivalTimestamp`);
  });
}

async function main() {
  if (process.argv.length !== 3) {
    console.error("usage: node fanout.mjs ENDPOINT_URL");
    return 2;
  }
  const endpoint = process.argv[2];
  const require = createRequire(import.meta.url);
  const sdkVersion = require("@aws-sdk/client-kinesis/package.json").version;
  console.log(`@aws-sdk/client-kinesis ${sdkVersion} (node ${process.version}) against ${endpoint}`);

  const client = new KinesisClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: "AKIDRIFFLETEST", secretAccessKey: "riffle-test-secret" },
    // Every answer reaches the checks as sent: no retries.
    maxAttempts: 1,
    // requestHandler is deliberately left at the SDK's default.
  });
  const open = [];
  try {
    return await run(client, endpoint, open);
  } finally {
    // However the run ended, no subscription keeps the process alive.
    for (const sub of open) {
      if (!sub.ended) await sub.close().catch(() => {});
    }
    client.destroy();
  }
}

async function run(client, endpoint, open) {
  const handler = client.config.requestHandler;
  check(
    handler?.constructor?.name === "NodeHttp2Handler",
    `the default request handler is ${handler?.constructor?.name}, not NodeHttp2Handler`,
  );
  check(endpoint.startsWith("http://"), "the endpoint must be http:// so the handler speaks h2c");

  const send = (command) => within(client.send(command), command.constructor.name);
  const stream = `riffle-js-fanout-${process.pid}-${Date.now()}`;
  const streamArn = `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${stream}`;
  const sections = [];

  // --- a one-shard stream with records -----------------------------------
  await send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  await waitUntil(`stream ${stream} ACTIVE`, async () => {
    const summary = await send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    return summary.StreamDescriptionSummary.StreamStatus === "ACTIVE";
  });
  const put = []; // { sequence, data, key } in put order
  const putRecord = async (i) => {
    const data = payload(i);
    const key = `pk-${i}`;
    const out = await send(new PutRecordCommand({ StreamName: stream, PartitionKey: key, Data: data }));
    checkEq(out.ShardId, SHARD, "PutRecord ShardId");
    put.push({ sequence: out.SequenceNumber, data, key });
  };
  const firstBatch = 25;
  for (let i = 0; i < firstBatch; i++) await putRecord(i);

  // --- consumer -----------------------------------------------------------
  const consumerName = "fanout-reader";
  const registered = (await send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: consumerName })))
    .Consumer;
  const consumerArn = registered.ConsumerARN;
  checkEq(registered.ConsumerName, consumerName, "RegisterStreamConsumer ConsumerName");
  check(
    consumerArn.startsWith(`${streamArn}/consumer/${consumerName}:`),
    `RegisterStreamConsumer ConsumerARN ${consumerArn}`,
  );
  check(["CREATING", "ACTIVE"].includes(registered.ConsumerStatus), `status ${registered.ConsumerStatus}`);
  const description = await waitUntil("consumer ACTIVE", async () => {
    const d = (await send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn }))).ConsumerDescription;
    return d.ConsumerStatus === "ACTIVE" ? d : undefined;
  });
  checkEq(description.ConsumerName, consumerName, "DescribeStreamConsumer ConsumerName");
  checkEq(description.StreamARN, streamArn, "DescribeStreamConsumer StreamARN");
  const byName = await send(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: consumerName }));
  checkEq(byName.ConsumerDescription.ConsumerARN, consumerArn, "DescribeStreamConsumer by name");
  const listed = (await send(new ListStreamConsumersCommand({ StreamARN: streamArn }))).Consumers;
  checkEq(listed.map((c) => c.ConsumerARN), [consumerArn], "ListStreamConsumers");
  sections.push("consumer");

  const subscribe = async (position) => {
    const sub = await Subscription.open(client, consumerArn, position);
    open.push(sub);
    return sub;
  };

  // --- subscribe from TRIM_HORIZON ---------------------------------------
  const sub = await subscribe({ Type: "TRIM_HORIZON" });
  // Taken after the answer: the server's clock started no later than this.
  let subscribedAt = Date.now();
  checkRecords(await sub.waitRecords(firstBatch, "TRIM_HORIZON subscription"), put, "TRIM_HORIZON subscription");
  sections.push("trim-horizon");

  // --- records put now are pushed to the open subscription ----------------
  for (let i = firstBatch; i < firstBatch + 7; i++) await putRecord(i);
  checkRecords(await sub.waitRecords(put.length, "pushed records"), put, "pushed records");
  const continuation = sub.continuation;
  check(continuation !== undefined, "no ContinuationSequenceNumber");
  check(
    BigInt(continuation) >= BigInt(put[put.length - 1].sequence),
    `ContinuationSequenceNumber ${continuation} is before the last record ${put[put.length - 1].sequence}`,
  );
  check(sub.millisBehind.every((m) => Number.isInteger(m) && m >= 0), `MillisBehindLatest ${sub.millisBehind}`);
  sections.push("push");

  // A second subscription within five seconds of the first is refused.
  // (On a machine slow enough that five seconds have passed, it takes over
  // instead; then the next one must wait five seconds from it.)
  let early;
  let earlyAt;
  try {
    early = await subscribe({ Type: "LATEST" });
    earlyAt = Date.now();
  } catch (err) {
    if (err instanceof Mismatch) throw err;
    checkEq(err.name, "ResourceInUseException", "early resubscribe error name");
    checkEq(err.$metadata?.httpStatusCode, 400, "early resubscribe HTTP status");
    sections.push("resubscribe-refused");
  }
  if (early) {
    await early.close();
    check(earlyAt - subscribedAt >= 4_500, "a second SubscribeToShard within 5 s was not refused");
    subscribedAt = earlyAt;
    sections.push("resubscribe-took-over");
  }

  // --- close, put while unsubscribed, resume after the continuation -------
  await sub.close();
  check(sub.error === undefined, `the first subscription failed: ${sub.error}`);
  checkRecords(sub.records, put, "records delivered before close");
  const betweenStart = put.length;
  for (let i = betweenStart; i < betweenStart + 6; i++) await putRecord(i);
  const left = RESUBSCRIBE_AFTER_MS - (Date.now() - subscribedAt);
  if (left > 0) await sleep(left);
  const resumed = await subscribe({ Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: sub.continuation });
  const between = put.slice(betweenStart);
  checkRecords(await resumed.waitRecords(between.length, "resumed subscription"), between, "resumed subscription");
  // Nothing more turns up: wait for one more (heartbeat) event and check.
  const events = resumed.events;
  await resumed.until(() => resumed.events > events, "a heartbeat event on an idle subscription");
  checkRecords(resumed.records, between, "resumed subscription after a heartbeat");
  await resumed.close();
  sections.push("resume");

  // --- clean up -----------------------------------------------------------
  await send(new DeregisterStreamConsumerCommand({ ConsumerARN: consumerArn }));
  await waitUntil("consumer deregistered", async () => {
    try {
      await send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn }));
      return false;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return true;
      throw err;
    }
  });
  const after = await send(new ListStreamConsumersCommand({ StreamARN: streamArn }));
  checkEq(after.Consumers ?? [], [], "consumers after deregister");
  await send(new DeleteStreamCommand({ StreamName: stream }));
  await waitUntil(`stream ${stream} deleted`, async () => {
    try {
      await send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      return false;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return true;
      throw err;
    }
  });
  sections.push("cleanup");

  console.log(`sections run: ${sections.join(", ")}`);
  console.log("ok");
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  if (err instanceof Mismatch) {
    console.error(`js fan-out scenario FAILED: ${err.message}`);
  } else {
    console.error(`js fan-out scenario FAILED: unexpected ${err?.name}: ${err?.message}`);
    if (err?.$metadata) console.error(`  $metadata: ${JSON.stringify(err.$metadata)}`);
    if (err?.$response) console.error(`  $response status: ${err.$response.statusCode}`);
    console.error(err?.stack ?? err);
  }
  process.exitCode = 1;
}
// The client is destroyed and every subscription aborted, so the process
// should exit by itself; if a hung request still holds a socket, this timer
// (which alone does not keep the process alive) ends it.
setTimeout(() => {
  console.error("js fan-out scenario: something still held the event loop 5 s after the end; exiting");
  process.exit(process.exitCode ?? 1);
}, 5_000).unref();
