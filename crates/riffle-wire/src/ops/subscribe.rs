//! SubscribeToShard: an HTTP 200 whose body is an event stream.
//!
//! Errors found before streaming starts are ordinary error responses. Then
//! an `initial-response` event goes first, followed by one
//! `SubscribeToShardEvent` per batch of records (or heartbeat); an error
//! while streaming is sent as an exception event and ends the stream. The
//! channel to the transport holds one event, so a slow reader holds back
//! only its own subscription.

use bytes::Bytes;
use riffle_engine::Engine;
use riffle_engine::ops::subscribe::SubscribeEvent;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::get_records::{ChildShardJson, RecordJson, push_records, records_json_len};
use super::get_shard_iterator::iterator_start;
use crate::dispatch::{decode, encode_as, engine_error};
use crate::error::AwsError;
use crate::eventstream;
use crate::json::{Timestamp, push_plain};
use crate::protocol::{self, Format};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    #[serde(rename = "ConsumerARN")]
    consumer_arn: Option<String>,
    shard_id: Option<String>,
    starting_position: Option<StartingPosition>,
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartingPosition {
    #[serde(rename = "Type")]
    kind: Option<String>,
    sequence_number: Option<String>,
    timestamp: Option<Timestamp>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventJson<'a> {
    records: Vec<RecordJson<'a>>,
    continuation_sequence_number: String,
    millis_behind_latest: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    child_shards: Vec<ChildShardJson>,
}

#[derive(Serialize)]
struct Empty {}

/// Events buffered between a subscription and its connection.
const EVENTS_IN_FLIGHT_MAX: usize = 1;

pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<mpsc::Receiver<Bytes>, AwsError> {
    let request: Request = decode(body)?;
    let position = request
        .starting_position
        .expect("the model requires StartingPosition");
    let kind = position
        .kind
        .as_deref()
        .expect("the model requires StartingPosition.Type");
    let start = iterator_start(
        kind,
        position.sequence_number,
        position.timestamp.map(|t| t.0),
    )?;
    let consumer = request
        .consumer_arn
        .as_deref()
        .expect("the model requires ConsumerARN");
    let shard = request
        .shard_id
        .as_deref()
        .expect("the model requires ShardId");
    if request.dry_run == Some(true) {
        return Err(engine_error(
            engine,
            engine.dry_run_subscribe(consumer, shard, start),
        ));
    }
    let mut subscription = engine
        .subscribe_to_shard(consumer, shard, start)
        .map_err(|err| engine_error(engine, err))?;

    let format = protocol::current();
    let content_type = format.content_type();
    let (sender, receiver) = mpsc::channel(EVENTS_IN_FLIGHT_MAX);
    let engine = engine.clone();
    tokio::spawn(async move {
        let initial = encode_as(format, &Empty {}).unwrap_or_default();
        if sender
            .send(eventstream::event(
                "initial-response",
                content_type,
                &initial,
            ))
            .await
            .is_err()
        {
            return;
        }
        while let Some(next) = subscription.next_event().await {
            let frame = match next {
                Ok(event) => match encode_event(format, &event) {
                    Ok(payload) => {
                        eventstream::event("SubscribeToShardEvent", content_type, &payload)
                    }
                    Err(_) => break,
                },
                Err(err) => {
                    let aws = engine_error(&engine, err);
                    let payload = aws.body(format);
                    let _ = sender
                        .send(eventstream::exception(
                            aws.type_name,
                            content_type,
                            &payload,
                        ))
                        .await;
                    break;
                }
            };
            // The connection is gone: dropping the subscription frees its lease.
            if sender.send(frame).await.is_err() {
                break;
            }
        }
    });
    Ok(receiver)
}

fn encode_event(format: Format, event: &SubscribeEvent) -> Result<Vec<u8>, AwsError> {
    let event = EventJson {
        records: RecordJson::list(&event.records, event.encrypted),
        continuation_sequence_number: event.continuation.to_string(),
        millis_behind_latest: event.millis_behind_latest,
        child_shards: event
            .child_shards
            .iter()
            .cloned()
            .map(ChildShardJson::from)
            .collect(),
    };
    match format {
        Format::Json if event.child_shards.is_empty() => Ok(event.to_json()),
        _ => encode_as(format, &event),
    }
}

impl EventJson<'_> {
    /// The JSON event, written directly as GetRecords' answer is (one per
    /// record per subscriber under fan-out). Equal to serde's output
    /// (tested); events with ChildShards, the last of a closed shard, go
    /// through serde.
    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(records_json_len(&self.records) + 160);
        out.push(b'{');
        push_records(&mut out, &self.records);
        out.extend_from_slice(b",\"ContinuationSequenceNumber\":");
        push_plain(&mut out, &self.continuation_sequence_number);
        out.extend_from_slice(b",\"MillisBehindLatest\":");
        out.extend_from_slice(self.millis_behind_latest.to_string().as_bytes());
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::get_records::tests::sample_records;

    #[test]
    fn the_hand_written_event_json_equals_serdes() {
        let records = sample_records();
        for count in [0, records.len()] {
            for encrypted in [false, true] {
                let event = EventJson {
                    records: RecordJson::list(&records[..count], encrypted),
                    continuation_sequence_number:
                        "49590338271490256608559692538361571095921575989136588898".to_owned(),
                    millis_behind_latest: 1234,
                    child_shards: Vec::new(),
                };
                assert_eq!(
                    String::from_utf8(event.to_json()).unwrap(),
                    serde_json::to_string(&event).unwrap()
                );
            }
        }
    }
}
