//! RegisterStreamConsumer, DeregisterStreamConsumer, DescribeStreamConsumer
//! and ListStreamConsumers.
//!
//! A consumer's ARN is its stream's ARN plus `/consumer/{name}:{created}`,
//! with the registration time in epoch seconds, as on AWS. Consumers pass
//! through CREATING → ACTIVE and DELETING with the configured delays.

use riffle_model::{Millis, StreamArn, StreamName};
use riffle_store::ConsumerRecord;

use crate::error::{EngineError, EngineResult};
use crate::page_token::PageToken;
use crate::stream::StreamStatus;
use crate::{Engine, StreamRef};

/// Consumers registered on one stream at most (AWS's quota).
pub const CONSUMERS_PER_STREAM_MAX: usize = 20;

/// botocore's `ConsumerStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerStatus {
    Creating,
    Active,
    Deleting,
}

impl ConsumerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerStatus::Creating => "CREATING",
            ConsumerStatus::Active => "ACTIVE",
            ConsumerStatus::Deleting => "DELETING",
        }
    }
}

/// A consumer as the describe and list operations report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerView {
    pub name: String,
    pub arn: String,
    pub status: ConsumerStatus,
    pub created: Millis,
    pub stream_arn: String,
}

/// How a request names a consumer.
#[derive(Clone, Debug)]
pub enum ConsumerRef {
    Arn(String),
    Name { stream: StreamRef, name: String },
}

/// A parsed consumer ARN: `{stream arn}/consumer/{name}:{created seconds}`.
pub(crate) fn parse_consumer_arn(arn: &str) -> Option<(StreamArn, String, u64)> {
    let (stream_part, consumer_part) = arn.split_once("/consumer/")?;
    let (name, created) = consumer_part.rsplit_once(':')?;
    Some((
        StreamArn::parse(stream_part)?,
        name.to_owned(),
        created.parse().ok()?,
    ))
}

impl Engine {
    fn consumer_arn(&self, stream: &StreamName, consumer: &ConsumerRecord) -> String {
        format!(
            "{}/consumer/{}:{}",
            self.arn(stream),
            consumer.name,
            consumer.created_ms / 1000
        )
    }

    fn consumer_status(&self, consumer: &ConsumerRecord, now: Millis) -> Option<ConsumerStatus> {
        match consumer.deleting_since_ms {
            Some(since) if now.0 >= since + self.inner.config.delete_delay_ms => None,
            Some(_) => Some(ConsumerStatus::Deleting),
            None if now.0 < consumer.active_at_ms => Some(ConsumerStatus::Creating),
            None => Some(ConsumerStatus::Active),
        }
    }

    fn consumer_view(
        &self,
        stream: &StreamName,
        consumer: &ConsumerRecord,
        now: Millis,
    ) -> Option<ConsumerView> {
        Some(ConsumerView {
            name: consumer.name.clone(),
            arn: self.consumer_arn(stream, consumer),
            status: self.consumer_status(consumer, now)?,
            created: Millis(consumer.created_ms),
            stream_arn: self.arn(stream).to_string(),
        })
    }

    /// Registers a consumer on a stream.
    ///
    /// # Errors
    /// The name is taken, the stream has 20 consumers (by default), or the stream is
    /// missing or not ACTIVE.
    pub fn register_consumer(&self, stream: &StreamRef, name: &str) -> EngineResult<ConsumerView> {
        let account = self.inner.config.account.as_str().to_owned();
        let create_delay_ms = self.inner.config.create_delay_ms;
        let consumer_limit = self.inner.config.consumers_per_stream_max;
        let (stream_name, consumer) =
            self.modify_stream(stream, &[StreamStatus::Active, StreamStatus::Updating], |record, now| {
                record.consumers.retain(|c| self.consumer_status(c, now).is_some());
                if record.consumers.iter().any(|c| c.name == name) {
                    return Err(EngineError::ResourceInUse(format!(
                        "Consumer {name} under stream {} already exists for account {account}.",
                        record.name
                    )));
                }
                if record.consumers.len() >= consumer_limit {
                    return Err(EngineError::LimitExceeded(format!(
                        "Consumer limit of {consumer_limit} reached for stream {} under account {account}.",
                        record.name
                    )));
                }
                let consumer = ConsumerRecord {
                    name: name.to_owned(),
                    created_ms: now.0,
                    active_at_ms: now.0 + create_delay_ms,
                    deleting_since_ms: None,
                };
                record.consumers.push(consumer.clone());
                Ok((record.name.clone(), consumer))
            })?;
        let stream_name = StreamName::parse(&stream_name).expect("stored names are valid");
        Ok(self
            .consumer_view(&stream_name, &consumer, self.now())
            .expect("a new consumer exists"))
    }

    /// Finds a live consumer (CREATING, ACTIVE or DELETING).
    ///
    /// # Errors
    /// The stream or consumer does not exist.
    pub fn describe_consumer(&self, consumer: &ConsumerRef) -> EngineResult<ConsumerView> {
        let now = self.now();
        let (stream_ref, name, created_s) = self.resolve_consumer_ref(consumer)?;
        let stream = self.lookup(&stream_ref)?;
        let state = stream.state.read();
        state
            .record
            .consumers
            .iter()
            .filter(|c| c.name == name && created_s.is_none_or(|s| c.created_ms / 1000 == s))
            .find_map(|c| self.consumer_view(&stream.name, c, now))
            .ok_or_else(|| self.consumer_not_found(consumer))
    }

    /// Deregisters a consumer; it is DELETING for the delete delay.
    ///
    /// # Errors
    /// The stream or consumer does not exist.
    pub fn deregister_consumer(&self, consumer: &ConsumerRef) -> EngineResult<()> {
        let view = self.describe_consumer(consumer)?;
        let (stream_ref, _, _) = self.resolve_consumer_ref(consumer)?;
        let all_states = [
            StreamStatus::Active,
            StreamStatus::Updating,
            StreamStatus::Creating,
            StreamStatus::Deleting,
        ];
        self.modify_stream(&stream_ref, &all_states, |record, now| {
            for c in record
                .consumers
                .iter_mut()
                .filter(|c| c.name == view.name && c.deleting_since_ms.is_none())
            {
                c.deleting_since_ms = Some(now.0);
            }
            record
                .consumers
                .retain(|c| self.consumer_status(c, now).is_some());
            Ok(())
        })?;
        self.end_subscriptions_of(&view.arn);
        Ok(())
    }

    /// Lists a stream's consumers, `max_results` at a time.
    ///
    /// # Errors
    /// The stream does not exist, or the NextToken is invalid or expired.
    pub fn list_consumers(
        &self,
        stream: &StreamRef,
        next_token: Option<&str>,
        max_results: usize,
    ) -> EngineResult<(Vec<ConsumerView>, Option<String>)> {
        let now = self.now();
        let after = next_token
            .map(|token| PageToken::decode(token, now))
            .transpose()?
            .map(|t| t.after);
        let stream = self.lookup(stream)?;
        let state = stream.state.read();
        // Pages run in name order, so a NextToken can name where to resume.
        let mut all: Vec<_> = state
            .record
            .consumers
            .iter()
            .filter_map(|c| self.consumer_view(&stream.name, c, now))
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let mut views = all.into_iter().filter(|c| {
            after
                .as_ref()
                .is_none_or(|after| c.name.as_str() > after.as_str())
        });

        let page: Vec<_> = views.by_ref().take(max_results).collect();
        let next = views.next().is_some().then(|| {
            PageToken {
                subject: stream.name.to_string(),
                after: page.last().map(|c| c.name.clone()).unwrap_or_default(),
                issued_at: now,
            }
            .encode()
        });
        Ok((page, next))
    }

    /// How many consumers are registered and not being deleted.
    pub(crate) fn live_consumer_count(
        &self,
        record: &riffle_store::StreamRecord,
        now: Millis,
    ) -> usize {
        record
            .consumers
            .iter()
            .filter(|c| {
                matches!(
                    self.consumer_status(c, now),
                    Some(ConsumerStatus::Creating | ConsumerStatus::Active)
                )
            })
            .count()
    }

    fn resolve_consumer_ref(
        &self,
        consumer: &ConsumerRef,
    ) -> EngineResult<(StreamRef, String, Option<u64>)> {
        match consumer {
            ConsumerRef::Name { stream, name } => Ok((stream.clone(), name.clone(), None)),
            ConsumerRef::Arn(arn) => {
                let (stream, name, created) =
                    parse_consumer_arn(arn).ok_or_else(|| self.consumer_not_found(consumer))?;
                Ok((StreamRef::Arn(stream), name, Some(created)))
            }
        }
    }

    fn consumer_not_found(&self, consumer: &ConsumerRef) -> EngineError {
        let account = self.inner.config.account.as_str();
        EngineError::ResourceNotFound(match consumer {
            ConsumerRef::Arn(arn) => format!("Consumer {arn} under account {account} not found."),
            ConsumerRef::Name { stream, name } => {
                format!(
                    "Consumer {name} under stream {} under account {account} not found.",
                    stream.display_name()
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_arns_parse_back() {
        let (stream, name, created) = parse_consumer_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/app-1:1795316009",
        )
        .unwrap();
        assert_eq!(stream.stream.as_str(), "s");
        assert_eq!(name, "app-1");
        assert_eq!(created, 1_795_316_009);
        assert!(parse_consumer_arn("arn:aws:kinesis:us-east-1:000000000000:stream/s").is_none());
    }
}
