// Riffle cross-client scenario: AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis)
// with its default Node.js request handler, NodeHttp2Handler, which speaks
// h2c (HTTP/2 with prior knowledge) to an http:// endpoint.
//
// Usage: node scenario.mjs ENDPOINT_URL
//
// Drives one stream through its life and checks every answer. Exits non-zero
// with a message on the first mismatch; prints `ok` at the end.

import { createHash } from "node:crypto";
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
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  ListStreamsCommand,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  GetShardIteratorCommand,
  GetRecordsCommand,
  DeleteStreamCommand,
  AddTagsToStreamCommand,
  ListTagsForStreamCommand,
  RemoveTagsFromStreamCommand,
  IncreaseStreamRetentionPeriodCommand,
  DecreaseStreamRetentionPeriodCommand,
  PutResourcePolicyCommand,
  GetResourcePolicyCommand,
  DeleteResourcePolicyCommand,
  ResourceNotFoundException,
  paginateListStreams,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
} = await import("@aws-sdk/client-kinesis");

const ACCOUNT = "000000000000";
const REGION = "us-east-1";
const FULL = true; // every section runs; kept as a name so sections read alike
const MAX_HASH_KEY = (1n << 128n) - 1n;

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

async function main() {
  if (process.argv.length !== 3) {
    console.error("usage: node scenario.mjs ENDPOINT_URL");
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
  try {
    return await run(client, endpoint);
  } finally {
    client.destroy();
  }
}

async function run(client, endpoint) {
  const handler = client.config.requestHandler;
  check(
    handler?.constructor?.name === "NodeHttp2Handler",
    `the default request handler is ${handler?.constructor?.name}, not NodeHttp2Handler`,
  );
  check(endpoint.startsWith("http://"), "the endpoint must be http:// so the handler speaks h2c");

  const send = (command) => client.send(command);
  const stream = `riffle-js-${process.pid}-${Date.now()}`;
  const streamArn = `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${stream}`;
  const sections = [];

  // --- lifecycle -----------------------------------------------------------
  await send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
  const deadline = Date.now() + 30_000;
  let summary;
  for (;;) {
    summary = (await send(new DescribeStreamSummaryCommand({ StreamName: stream })))
      .StreamDescriptionSummary;
    if (summary.StreamStatus === "ACTIVE") break;
    check(summary.StreamStatus === "CREATING", `unexpected status ${summary.StreamStatus}`);
    check(Date.now() < deadline, `stream ${stream} never became ACTIVE`);
    await sleep(50);
  }
  checkEq(summary.StreamName, stream, "summary StreamName");
  checkEq(summary.StreamARN, streamArn, "summary StreamARN");
  checkEq(summary.OpenShardCount, 2, "summary OpenShardCount");
  checkEq(summary.RetentionPeriodHours, 24, "summary RetentionPeriodHours");
  check(summary.StreamCreationTimestamp instanceof Date, "summary StreamCreationTimestamp is not a Date");
  // The waiter polls DescribeStream; the stream is already ACTIVE.
  const waited = await waitUntilStreamExists(
    { client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
    { StreamName: stream },
  );
  checkEq(waited.state, "SUCCESS", "waitUntilStreamExists state");

  const description = (await send(new DescribeStreamCommand({ StreamName: stream }))).StreamDescription;
  checkEq(description.StreamName, stream, "DescribeStream StreamName");
  checkEq(description.StreamARN, streamArn, "DescribeStream StreamARN");
  checkEq(description.StreamStatus, "ACTIVE", "DescribeStream StreamStatus");
  checkEq(description.HasMoreShards, false, "DescribeStream HasMoreShards");
  checkEq(description.Shards.length, 2, "DescribeStream shard count");

  const first = await send(new ListStreamsCommand({}));
  check(first.StreamNames.includes(stream), `ListStreams does not list ${stream}`);
  // The paginator follows NextToken; pages of one.
  const paged = [];
  for await (const page of paginateListStreams({ client, pageSize: 1 }, {})) {
    check(page.StreamNames.length <= 1, "ListStreams Limit 1 returned more than one name");
    checkEq(
      (page.StreamSummaries ?? []).map((s) => s.StreamName),
      page.StreamNames,
      "ListStreams StreamSummaries names",
    );
    paged.push(...page.StreamNames);
  }
  check(paged.includes(stream), `paginated ListStreams does not list ${stream}: ${paged}`);

  const shards = (await send(new ListShardsCommand({ StreamName: stream }))).Shards;
  checkEq(
    shards.map((s) => s.ShardId),
    ["shardId-000000000000", "shardId-000000000001"],
    "ListShards shard ids",
  );
  checkEq(
    description.Shards.map((s) => s.ShardId),
    shards.map((s) => s.ShardId),
    "DescribeStream and ListShards shard ids",
  );
  // Page by hand: AWS rejects StreamName together with NextToken.
  let page = await send(new ListShardsCommand({ StreamName: stream, MaxResults: 1 }));
  const pagedShards = [...page.Shards];
  while (page.NextToken) {
    page = await send(new ListShardsCommand({ NextToken: page.NextToken, MaxResults: 1 }));
    pagedShards.push(...page.Shards);
  }
  checkEq(pagedShards, shards, "ListShards paginated by NextToken");

  const ranges = shards.map((s) => ({
    id: s.ShardId,
    lo: BigInt(s.HashKeyRange.StartingHashKey),
    hi: BigInt(s.HashKeyRange.EndingHashKey),
  }));
  checkEq(String(ranges.reduce((m, r) => (r.lo < m ? r.lo : m), MAX_HASH_KEY)), "0", "lowest StartingHashKey");
  checkEq(String(ranges.reduce((m, r) => (r.hi > m ? r.hi : m), 0n)), String(MAX_HASH_KEY), "highest EndingHashKey");
  const shardFor = (partitionKey, explicitHashKey) => {
    const key =
      explicitHashKey !== undefined
        ? BigInt(explicitHashKey)
        : BigInt("0x" + createHash("md5").update(partitionKey, "utf8").digest("hex"));
    const found = ranges.find((r) => r.lo <= key && key <= r.hi);
    if (!found) throw new Mismatch(`no shard covers hash key ${key}`);
    return found.id;
  };
  sections.push("lifecycle");

  // --- writes --------------------------------------------------------------
  const bytes = (n, f) => Uint8Array.from({ length: n }, (_, i) => f(i));
  const records = [
    { key: "alpha", data: new TextEncoder().encode("hello riffle") },
    { key: "every-byte", data: bytes(256, (i) => i) },
    { key: "nul", data: Uint8Array.of(0) },
    { key: "utf8-\u00e9\u2713", data: new TextEncoder().encode("caf\u00e9 \u2713") },
    { key: "big", data: bytes(100_000, (i) => (i * 7919) % 251) },
    { key: "pinned-low", data: new TextEncoder().encode("to shard 0 by explicit hash key"), explicit: "0" },
    {
      key: "pinned-high",
      data: new TextEncoder().encode("to shard 1 by explicit hash key"),
      explicit: String(MAX_HASH_KEY),
    },
  ];
  for (let i = 0; i < 10; i++) {
    const text = new TextEncoder().encode(`batch record ${i}`);
    records.push({ key: `batch-${i}`, data: Uint8Array.from([...text, i, 255 - i]) });
  }

  const puts = []; // { shard, seq, key, data } in put order
  for (const r of records.slice(0, 3)) {
    const answer = await send(
      new PutRecordCommand({ StreamName: stream, PartitionKey: r.key, Data: r.data, ExplicitHashKey: r.explicit }),
    );
    checkEq(answer.ShardId, shardFor(r.key, r.explicit), `PutRecord ${r.key} ShardId`);
    check(/^\d{56}$/.test(answer.SequenceNumber), `PutRecord sequence number ${answer.SequenceNumber} is not 56 digits`);
    puts.push({ shard: answer.ShardId, seq: answer.SequenceNumber, key: r.key, data: r.data });
  }
  const batch = records.slice(3);
  const answer = await send(
    new PutRecordsCommand({
      StreamName: stream,
      Records: batch.map((r) => ({ PartitionKey: r.key, Data: r.data, ExplicitHashKey: r.explicit })),
    }),
  );
  checkEq(answer.FailedRecordCount, 0, "PutRecords FailedRecordCount");
  checkEq(answer.Records.length, batch.length, "PutRecords result count");
  batch.forEach((r, i) => {
    const result = answer.Records[i];
    check(result.ErrorCode === undefined, `PutRecords ${r.key} failed: ${JSON.stringify(result)}`);
    checkEq(result.ShardId, shardFor(r.key, r.explicit), `PutRecords ${r.key} ShardId`);
    puts.push({ shard: result.ShardId, seq: result.SequenceNumber, key: r.key, data: r.data });
  });
  check(new Set(puts.map((p) => p.shard)).size === 2, "the records did not reach both shards");
  sections.push("writes");

  // --- reads ---------------------------------------------------------------
  const readFrom = async (iterator) => {
    const got = [];
    for (let i = 0; i < 100; i++) {
      const page = await send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 5 }));
      got.push(...page.Records);
      check(page.NextShardIterator !== undefined, "open shard GetRecords lacks NextShardIterator");
      check(page.MillisBehindLatest !== undefined, "GetRecords lacks MillisBehindLatest");
      if (page.Records.length === 0) return got;
      iterator = page.NextShardIterator;
    }
    throw new Mismatch("GetRecords never reached the end of the shard");
  };
  const checkRecords = (got, expected, what) => {
    checkEq(got.length, expected.length, `${what}: record count`);
    got.forEach((record, i) => {
      const want = expected[i];
      checkEq(record.SequenceNumber, want.seq, `${what}[${i}] SequenceNumber`);
      checkEq(record.PartitionKey, want.key, `${what}[${i}] PartitionKey`);
      check(record.Data instanceof Uint8Array, `${what}[${i}] Data is not a Uint8Array`);
      check(
        Buffer.compare(Buffer.from(record.Data), Buffer.from(want.data)) === 0,
        `${what}[${i}] Data differs: ${record.Data.length} bytes back for ${want.data.length} put`,
      );
      check(record.ApproximateArrivalTimestamp instanceof Date, `${what}[${i}] ApproximateArrivalTimestamp is not a Date`);
    });
  };
  for (const { id } of ranges) {
    const expected = puts.filter((p) => p.shard === id);
    let iterator = (
      await send(new GetShardIteratorCommand({ StreamName: stream, ShardId: id, ShardIteratorType: "TRIM_HORIZON" }))
    ).ShardIterator;
    checkRecords(await readFrom(iterator), expected, `${id} TRIM_HORIZON`);
    if (expected.length >= 2) {
      iterator = (
        await send(
          new GetShardIteratorCommand({
            StreamName: stream,
            ShardId: id,
            ShardIteratorType: "AT_SEQUENCE_NUMBER",
            StartingSequenceNumber: expected[1].seq,
          }),
        )
      ).ShardIterator;
      checkRecords(await readFrom(iterator), expected.slice(1), `${id} AT_SEQUENCE_NUMBER`);
    }
  }
  sections.push("reads");

  // --- errors --------------------------------------------------------------
  const missing = `${stream}-missing`;
  let error;
  try {
    await send(new DescribeStreamCommand({ StreamName: missing }));
  } catch (err) {
    error = err;
  }
  check(error !== undefined, "DescribeStream of a missing stream succeeded");
  checkEq(error.name, "ResourceNotFoundException", "DescribeStream error name");
  checkEq(error.message, `Stream ${missing} under account ${ACCOUNT} not found.`, "DescribeStream error message");
  checkEq(error.$metadata?.httpStatusCode, 400, "DescribeStream error HTTP status");
  checkEq(error.$fault, "client", "DescribeStream error $fault");
  check(error instanceof ResourceNotFoundException, "the error is not the modelled ResourceNotFoundException class");
  check(error.$metadata?.requestId, "the error carries no request id");
  sections.push("errors");

  // --- tags, retention, resource policies -------------------------------
  if (FULL) {
    const tagMap = (tags) => Object.fromEntries(tags.map((t) => [t.Key, t.Value ?? ""]));
    await send(new AddTagsToStreamCommand({ StreamName: stream, Tags: { team: "riffle", env: "test", empty: "" } }));
    let tags = await send(new ListTagsForStreamCommand({ StreamName: stream }));
    checkEq(
      Object.entries(tagMap(tags.Tags)).sort(),
      Object.entries({ team: "riffle", env: "test", empty: "" }).sort(),
      "ListTagsForStream after AddTagsToStream",
    );
    checkEq(tags.HasMoreTags, false, "ListTagsForStream HasMoreTags");
    await send(new RemoveTagsFromStreamCommand({ StreamName: stream, TagKeys: ["env", "empty"] }));
    tags = await send(new ListTagsForStreamCommand({ StreamName: stream }));
    checkEq(tagMap(tags.Tags), { team: "riffle" }, "ListTagsForStream after RemoveTagsFromStream");
    sections.push("tags");

    await send(new IncreaseStreamRetentionPeriodCommand({ StreamName: stream, RetentionPeriodHours: 48 }));
    summary = (await send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary;
    checkEq(summary.RetentionPeriodHours, 48, "RetentionPeriodHours after increase");
    await send(new DecreaseStreamRetentionPeriodCommand({ StreamName: stream, RetentionPeriodHours: 24 }));
    summary = (await send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary;
    checkEq(summary.RetentionPeriodHours, 24, "RetentionPeriodHours after decrease");
    sections.push("retention");

    const policy = {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "riffle-test",
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: ["kinesis:DescribeStreamSummary", "kinesis:GetRecords"],
          Resource: streamArn,
        },
      ],
    };
    await send(new PutResourcePolicyCommand({ ResourceARN: streamArn, Policy: JSON.stringify(policy) }));
    const got = await send(new GetResourcePolicyCommand({ ResourceARN: streamArn }));
    checkEq(JSON.parse(got.Policy), policy, "GetResourcePolicy after PutResourcePolicy");
    await send(new DeleteResourcePolicyCommand({ ResourceARN: streamArn }));
    const after = (await send(new GetResourcePolicyCommand({ ResourceARN: streamArn }))).Policy;
    check(
      !after || JSON.stringify(JSON.parse(after)) === "{}",
      `GetResourcePolicy after DeleteResourcePolicy: ${after}`,
    );
    sections.push("resource-policy");
  }

  // --- deletion ------------------------------------------------------------
  await send(new DeleteStreamCommand({ StreamName: stream }));
  const deleteDeadline = Date.now() + 30_000;
  for (;;) {
    let status;
    try {
      status = (await send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary
        .StreamStatus;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) break;
      throw err;
    }
    checkEq(status, "DELETING", "status after DeleteStream");
    check(Date.now() < deleteDeadline, `stream ${stream} was never deleted`);
    await sleep(50);
  }
  const gone = await waitUntilStreamNotExists(
    { client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
    { StreamName: stream },
  );
  checkEq(gone.state, "SUCCESS", "waitUntilStreamNotExists state");
  const after = await send(new ListStreamsCommand({}));
  check(!after.StreamNames.includes(stream), "ListStreams still lists the deleted stream");
  sections.push("delete");

  console.log(`sections run: ${sections.join(", ")}`);
  console.log("ok");
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  if (err instanceof Mismatch) {
    console.error(`js scenario FAILED: ${err.message}`);
  } else {
    console.error(`js scenario FAILED: unexpected ${err?.name}: ${err?.message}`);
    if (err?.$metadata) console.error(`  $metadata: ${JSON.stringify(err.$metadata)}`);
    if (err?.$response) console.error(`  $response status: ${err.$response.statusCode}`);
    console.error(err?.stack ?? err);
  }
  process.exitCode = 1;
}
