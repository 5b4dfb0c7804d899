//! AWS error responses, and the single mapping from engine errors to them.
//!
//! The `__type` names and message templates here are a wire contract: SDKs
//! branch on the type, and users' tests assert on the text. They follow what
//! AWS sends (see docs/aws-errors.md for sources); change them only to match
//! AWS more closely.

use riffle_engine::EngineError;
use serde::Serialize;

use crate::protocol::Format;
use crate::validate::{Shown, Violations};

/// An error as AWS sends it: HTTP status, `__type` and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsError {
    pub status: u16,
    pub type_name: &'static str,
    pub message: Option<String>,
    /// SerializationException spells its key `Message`; everything else `message`.
    pub capital_message_key: bool,
}

#[derive(Serialize)]
struct LowerBody<'a> {
    #[serde(rename = "__type")]
    type_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct UpperBody<'a> {
    #[serde(rename = "__type")]
    type_name: &'a str,
    #[serde(rename = "Message", skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

impl AwsError {
    /// A client error (HTTP 400) with a message.
    pub fn client(type_name: &'static str, message: impl Into<String>) -> AwsError {
        AwsError {
            status: 400,
            type_name,
            message: Some(message.into()),
            capital_message_key: false,
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> AwsError {
        AwsError::client("InvalidArgumentException", message)
    }

    pub fn resource_not_found(message: impl Into<String>) -> AwsError {
        AwsError::client("ResourceNotFoundException", message)
    }

    pub fn serialization(message: Option<String>) -> AwsError {
        AwsError {
            status: 400,
            type_name: "SerializationException",
            message,
            capital_message_key: true,
        }
    }

    pub fn unknown_operation() -> AwsError {
        AwsError {
            status: 400,
            type_name: "UnknownOperationException",
            message: None,
            capital_message_key: false,
        }
    }

    /// HTTP 500 with no detail: the detail goes to the log, not the client.
    pub fn internal_failure() -> AwsError {
        AwsError {
            status: 500,
            type_name: "InternalFailure",
            message: None,
            capital_message_key: false,
        }
    }

    /// The body, in the request's encoding.
    pub fn body(&self, format: Format) -> Vec<u8> {
        let message = self.message.as_deref();
        let mut body = Vec::new();
        let encoded = match (format, self.capital_message_key) {
            (Format::Json, false) => serde_json::to_writer(
                &mut body,
                &LowerBody {
                    type_name: self.type_name,
                    message,
                },
            )
            .ok(),
            (Format::Json, true) => serde_json::to_writer(
                &mut body,
                &UpperBody {
                    type_name: self.type_name,
                    message,
                },
            )
            .ok(),
            (Format::Cbor, false) => ciborium::ser::into_writer(
                &LowerBody {
                    type_name: self.type_name,
                    message,
                },
                &mut body,
            )
            .ok(),
            (Format::Cbor, true) => ciborium::ser::into_writer(
                &UpperBody {
                    type_name: self.type_name,
                    message,
                },
                &mut body,
            )
            .ok(),
        };
        encoded.expect("serializing two strings cannot fail");
        body
    }

    /// Maps an engine error to what AWS sends. `account` fills the
    /// "under account …" part of AWS's messages.
    pub fn from_engine(err: &EngineError, account: &str) -> AwsError {
        match err {
            EngineError::StreamNotFound { stream } => AwsError::resource_not_found(format!(
                "Stream {stream} under account {account} not found."
            )),
            EngineError::StreamExists { stream } => AwsError::client(
                "ResourceInUseException",
                format!("Stream {stream} under account {account} already exists."),
            ),
            EngineError::StreamNotActive { stream, status } => AwsError::client(
                "ResourceInUseException",
                format!(
                    "Stream {stream} under account {account} not ACTIVE, instead in state {}",
                    status.as_str()
                ),
            ),
            EngineError::ShardNotFound { stream, shard } => AwsError::resource_not_found(format!(
                "Shard {shard} in stream {stream} under account {account} does not exist"
            )),
            EngineError::ShardIdUnparsable { stream, raw } => AwsError::resource_not_found(
                format!("Could not find shard {raw} in stream {stream} under account {account}."),
            ),
            EngineError::MissingPartitionKey { record } => {
                let mut violations = Violations::new();
                violations.required(&record_path(*record, "partitionKey"), &None::<()>);
                violations.finish().expect_err("one violation was recorded")
            }
            EngineError::RecordTooLarge { record, len, max } => {
                let mut violations = Violations::new();
                violations.length(
                    Shown::Blob(*len),
                    &record_path(*record, "data"),
                    *len,
                    None,
                    Some(*max),
                );
                violations.finish().expect_err("one violation was recorded")
            }
            EngineError::ShardUnknownForReshard { stream, raw } => AwsError::resource_not_found(
                format!("Could not find shard {raw} in stream {stream} under account {account}."),
            ),
            EngineError::ResourceInUse(message) => {
                AwsError::client("ResourceInUseException", message.clone())
            }
            EngineError::ResourceNotFound(message) => AwsError::resource_not_found(message.clone()),
            EngineError::Throttled { stream, shard } => AwsError::client(
                "ProvisionedThroughputExceededException",
                throttled_message(stream, *shard, account),
            ),
            EngineError::InvalidIterator => AwsError::invalid_argument("Invalid ShardIterator."),
            EngineError::ExpiredIterator { issued_at, now } => AwsError::client(
                "ExpiredIteratorException",
                format!(
                    "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {} milliseconds.",
                    issued_at.java_date(),
                    now.java_date(),
                    riffle_model::limits::ITERATOR_TTL_MS
                ),
            ),
            EngineError::InvalidArgument(message) => AwsError::invalid_argument(message.clone()),
            EngineError::LimitExceeded(message) => {
                AwsError::client("LimitExceededException", message.clone())
            }
            EngineError::ExpiredNextToken(message) => {
                AwsError::client("ExpiredNextTokenException", message.clone())
            }
            EngineError::DryRun => AwsError::client(
                "DryRunOperationException",
                "The request would have succeeded, but the DryRun parameter was set.",
            ),
            EngineError::Store(_) => AwsError::internal_failure(),
        }
    }
}

/// AWS's message when a shard's throughput limit is exceeded.
pub(crate) fn throttled_message(
    stream: &str,
    shard: riffle_model::ShardId,
    account: &str,
) -> String {
    format!("Rate exceeded for shard {shard} in stream {stream} under account {account}.")
}

/// The member path AWS names for a record field: `data` for PutRecord,
/// `records.N.member.data` (from 1) for PutRecords.
fn record_path(record: Option<usize>, member: &str) -> String {
    match record {
        Some(i) => format!("records.{}.member.{member}", i + 1),
        None => member.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riffle_model::Millis;

    #[test]
    fn error_bodies_use_aws_keys() {
        let not_found = AwsError::from_engine(
            &EngineError::StreamNotFound { stream: "s".into() },
            "000000000000",
        );
        assert_eq!(
            String::from_utf8(not_found.body(Format::Json)).unwrap(),
            r#"{"__type":"ResourceNotFoundException","message":"Stream s under account 000000000000 not found."}"#
        );
        let ser = AwsError::serialization(Some("Expected list or null".into()));
        assert_eq!(
            String::from_utf8(ser.body(Format::Json)).unwrap(),
            r#"{"__type":"SerializationException","Message":"Expected list or null"}"#
        );
        assert_eq!(
            String::from_utf8(AwsError::unknown_operation().body(Format::Json)).unwrap(),
            r#"{"__type":"UnknownOperationException"}"#
        );
    }

    #[test]
    fn expired_iterator_message_matches_aws() {
        let err = EngineError::ExpiredIterator {
            issued_at: Millis(1_449_712_779_000),
            now: Millis(1_449_713_175_000),
        };
        assert_eq!(
            AwsError::from_engine(&err, "0").message.unwrap(),
            "Iterator expired. The iterator was created at time Thu Dec 10 01:59:39 UTC 2015 while right now it is Thu Dec 10 02:06:15 UTC 2015 which is further in the future than the tolerated delay of 300000 milliseconds."
        );
    }
}
