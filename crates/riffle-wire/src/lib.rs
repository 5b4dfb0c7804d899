//! The Kinesis wire protocol, without the transport: AWS JSON 1.1 request
//! and response shapes, validation with AWS's messages, and AWS error bodies.
//!
//! - [`operation`]: the `X-Amz-Target` operation names.
//! - [`auth`]: the signature-presence checks AWS makes before anything else.
//! - [`dispatch`](mod@dispatch): decode → validate → execute → encode, for one request body.
//! - [`ops`]: one file per operation with its request and response shapes.
//! - [`model`]: botocore's Kinesis model, vendored in `model/`.
//! - [`checker`]: checks a body against its model shape (types, then
//!   constraints) before any typed decoding.
//! - [`hot`]: PutRecords, PutRecord and GetRecords in one typed pass, with
//!   the checker as the fallback that phrases every error; `cbor` is its
//!   borrowing CBOR reader.
//! - [`validate`]: AWS's "N validation errors detected: …" messages.
//! - [`error`]: [`AwsError`] and the one mapping from engine errors to AWS.
//! - [`json`]: blob and timestamp fields in both encodings, and serde errors
//!   phrased as AWS's SerializationException.
//! - [`protocol`]: JSON or CBOR, chosen by `Content-Type`, answered in kind.
//! - [`eventstream`]: the `application/vnd.amazon.eventstream` framing of
//!   SubscribeToShard.
//!
//! Requests decode straight into typed structs; no JSON or CBOR value tree
//! is built. Each operation's body is read twice (the model check, then
//! the typed decode) except on the hot path, which reads it once.

pub mod auth;
mod cbor;
pub mod checker;
pub mod dispatch;
pub mod error;
pub mod eventstream;
pub mod hot;
pub mod json;
pub mod model;
pub mod operation;
pub mod ops;
pub mod protocol;
mod scan;
pub mod validate;

pub use dispatch::{Reply, dispatch};
pub use error::AwsError;
pub use operation::Operation;
pub use protocol::Format;

/// The content type of AWS JSON 1.1 requests and responses.
pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
