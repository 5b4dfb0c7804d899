//! Enhanced fan-out: stream consumers and SubscribeToShard through the Rust
//! SDK (event stream over HTTP/1.1 chunked and over h2c), checked record by
//! record.

use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{ShardIteratorType, StartingPosition, SubscribeToShardEventStream};

use crate::support::{Riffle, aws_error};

const STREAM_ARN_PREFIX: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/";

async fn put(riffle: &Riffle, stream: &str, data: &str) -> String {
    let out = riffle
        .client
        .put_record()
        .stream_name(stream)
        .partition_key("k")
        .data(Blob::new(data))
        .send()
        .await
        .unwrap();
    out.sequence_number().to_owned()
}

async fn register(riffle: &Riffle, stream: &str, name: &str) -> String {
    let out = riffle
        .client
        .register_stream_consumer()
        .stream_arn(format!("{STREAM_ARN_PREFIX}{stream}"))
        .consumer_name(name)
        .send()
        .await
        .unwrap();
    out.consumer().unwrap().consumer_arn().to_owned()
}

/// Receives events until `count` records have arrived (or the stream ends),
/// returning the payloads and the last continuation sequence number.
async fn receive(
    events: &mut aws_sdk_kinesis::primitives::event_stream::EventReceiver<
        SubscribeToShardEventStream,
        aws_sdk_kinesis::types::error::SubscribeToShardEventStreamError,
    >,
    count: usize,
) -> (Vec<String>, Option<String>) {
    let mut data = Vec::new();
    let mut continuation = None;
    while data.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("an event within 20 s");
        match next.expect("a well-formed event") {
            Some(SubscribeToShardEventStream::SubscribeToShardEvent(event)) => {
                continuation = Some(event.continuation_sequence_number().to_owned());
                data.extend(
                    event
                        .records()
                        .iter()
                        .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap()),
                );
            }
            Some(other) => panic!("unexpected event {other:?}"),
            None => break,
        }
    }
    (data, continuation)
}

#[tokio::test]
async fn consumers_register_describe_list_and_deregister() {
    let riffle = Riffle::start();
    riffle.create_stream("fan", 1).await;
    let arn = register(&riffle, "fan", "app-a").await;
    assert!(
        arn.starts_with(&format!("{STREAM_ARN_PREFIX}fan/consumer/app-a:")),
        "{arn}"
    );
    let described = riffle
        .client
        .describe_stream_consumer()
        .consumer_arn(&arn)
        .send()
        .await
        .unwrap();
    let description = described.consumer_description().unwrap();
    assert_eq!(description.consumer_name(), "app-a");
    assert_eq!(description.consumer_status().as_str(), "ACTIVE");
    assert_eq!(description.stream_arn(), format!("{STREAM_ARN_PREFIX}fan"));
    let by_name = riffle
        .client
        .describe_stream_consumer()
        .stream_arn(format!("{STREAM_ARN_PREFIX}fan"))
        .consumer_name("app-a")
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.consumer_description().unwrap().consumer_arn(), arn);

    let (code, _) = aws_error(
        riffle
            .client
            .register_stream_consumer()
            .stream_arn(format!("{STREAM_ARN_PREFIX}fan"))
            .consumer_name("app-a")
            .send()
            .await,
    );
    assert_eq!(
        code, "ResourceInUseException",
        "names are unique per stream"
    );
    for i in 1..20 {
        register(&riffle, "fan", &format!("app-{i}")).await;
    }
    let (code, _) = aws_error(
        riffle
            .client
            .register_stream_consumer()
            .stream_arn(format!("{STREAM_ARN_PREFIX}fan"))
            .consumer_name("one-too-many")
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceededException", "20 consumers per stream");

    let summary = riffle
        .client
        .describe_stream_summary()
        .stream_name("fan")
        .send()
        .await
        .unwrap();
    assert_eq!(
        summary
            .stream_description_summary()
            .unwrap()
            .consumer_count(),
        Some(20)
    );

    let first = riffle
        .client
        .list_stream_consumers()
        .stream_arn(format!("{STREAM_ARN_PREFIX}fan"))
        .max_results(15)
        .send()
        .await
        .unwrap();
    assert_eq!(first.consumers().len(), 15);
    let rest = riffle
        .client
        .list_stream_consumers()
        .stream_arn(format!("{STREAM_ARN_PREFIX}fan"))
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.consumers().len(), 5);
    assert!(rest.next_token().is_none());

    let (code, _) = aws_error(
        riffle
            .client
            .delete_stream()
            .stream_name("fan")
            .send()
            .await,
    );
    assert_eq!(
        code, "ResourceInUseException",
        "a stream with consumers needs EnforceConsumerDeletion"
    );

    riffle
        .client
        .deregister_stream_consumer()
        .consumer_arn(&arn)
        .send()
        .await
        .unwrap();
    let (code, _) = aws_error(
        riffle
            .client
            .describe_stream_consumer()
            .consumer_arn(&arn)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    riffle
        .client
        .delete_stream()
        .stream_name("fan")
        .enforce_consumer_deletion(true)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn subscribe_to_shard_pushes_every_record_once_in_order_and_resumes_over_http1() {
    let riffle = Riffle::start();
    push_and_resume(&riffle, &riffle.client).await;
}

#[tokio::test]
async fn subscribe_to_shard_pushes_every_record_once_in_order_and_resumes_over_h2c() {
    let riffle = Riffle::start();
    push_and_resume(&riffle, &crate::h2c::h2c_client_for(riffle.addr)).await;
}

/// Subscribes from TRIM_HORIZON, receives pushed records, is refused a second
/// subscription within five seconds, then resumes from the continuation
/// number: every record arrives once, in order. All calls go through `client`.
async fn push_and_resume(riffle: &Riffle, client: &aws_sdk_kinesis::Client) {
    riffle.create_stream("push", 1).await;
    let put = |data: String| {
        client
            .put_record()
            .stream_name("push")
            .partition_key("k")
            .data(Blob::new(data))
            .send()
    };
    for i in 0..5 {
        put(format!("r{i}")).await.unwrap();
    }
    let consumer = client
        .register_stream_consumer()
        .stream_arn(format!("{STREAM_ARN_PREFIX}push"))
        .consumer_name("reader")
        .send()
        .await
        .unwrap()
        .consumer()
        .unwrap()
        .consumer_arn()
        .to_owned();
    let subscribe = |position: StartingPosition| {
        client
            .subscribe_to_shard()
            .consumer_arn(&consumer)
            .shard_id("shardId-000000000000")
            .starting_position(position)
            .send()
    };
    let mut output = subscribe(
        StartingPosition::builder()
            .r#type(ShardIteratorType::TrimHorizon)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let (first, _) = receive(&mut output.event_stream, 5).await;
    assert_eq!(first, ["r0", "r1", "r2", "r3", "r4"]);
    // Records put now are pushed to the open subscription.
    for i in 5..8 {
        put(format!("r{i}")).await.unwrap();
    }
    let (pushed, continuation) = receive(&mut output.event_stream, 3).await;
    assert_eq!(pushed, ["r5", "r6", "r7"]);

    // A second subscription within five seconds is refused; after that it takes over.
    let (code, _) = aws_error(
        subscribe(
            StartingPosition::builder()
                .r#type(ShardIteratorType::Latest)
                .build()
                .unwrap(),
        )
        .await,
    );
    assert_eq!(code, "ResourceInUseException");
    drop(output);
    for i in 8..10 {
        put(format!("r{i}")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    let resume = StartingPosition::builder()
        .r#type(ShardIteratorType::AfterSequenceNumber)
        .sequence_number(continuation.unwrap())
        .build()
        .unwrap();
    let mut resumed = subscribe(resume).await.unwrap();
    let (rest, _) = receive(&mut resumed.event_stream, 2).await;
    assert_eq!(
        rest,
        ["r8", "r9"],
        "resuming after the continuation number continues exactly"
    );
}

#[tokio::test]
async fn a_closed_shard_ends_its_subscription_with_child_shards() {
    let riffle = Riffle::start();
    riffle.create_stream("closing", 1).await;
    put(&riffle, "closing", "before").await;
    let consumer = register(&riffle, "closing", "reader").await;
    riffle
        .client
        .split_shard()
        .stream_name("closing")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key((1u128 << 127).to_string())
        .send()
        .await
        .unwrap();
    let mut output = riffle
        .client
        .subscribe_to_shard()
        .consumer_arn(&consumer)
        .shard_id("shardId-000000000000")
        .starting_position(
            StartingPosition::builder()
                .r#type(ShardIteratorType::TrimHorizon)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut records = Vec::new();
    let mut children = Vec::new();
    while let Some(event) =
        tokio::time::timeout(Duration::from_secs(20), output.event_stream.recv())
            .await
            .unwrap()
            .unwrap()
    {
        if let SubscribeToShardEventStream::SubscribeToShardEvent(event) = event {
            records.extend(event.records().iter().map(|r| r.data().as_ref().to_vec()));
            children.extend(event.child_shards().iter().map(|c| c.shard_id().to_owned()));
        }
    }
    assert_eq!(records, [b"before".to_vec()]);
    assert_eq!(children, ["shardId-000000000001", "shardId-000000000002"]);
}

#[tokio::test]
async fn subscribing_needs_a_known_consumer_and_shard() {
    let riffle = Riffle::start();
    riffle.create_stream("nosub", 1).await;
    let consumer = register(&riffle, "nosub", "reader").await;
    let trim = || {
        StartingPosition::builder()
            .r#type(ShardIteratorType::TrimHorizon)
            .build()
            .unwrap()
    };
    let (code, _) = aws_error(
        riffle
            .client
            .subscribe_to_shard()
            .consumer_arn(format!("{consumer}9"))
            .shard_id("shardId-000000000000")
            .starting_position(trim())
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = aws_error(
        riffle
            .client
            .subscribe_to_shard()
            .consumer_arn(&consumer)
            .shard_id("shardId-000000000005")
            .starting_position(trim())
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
}
