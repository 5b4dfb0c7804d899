//! Stream ARNs: `arn:aws:kinesis:{region}:{account}:stream/{name}`.

use std::fmt;

use crate::name::StreamName;

/// A 12-digit AWS account id. Riffle serves a single, configurable account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(id: &str) -> Option<AccountId> {
        (id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())).then(|| AccountId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for AccountId {
    /// The account id LocalStack and kinesalite use, so existing local setups match.
    fn default() -> Self {
        AccountId("000000000000".to_owned())
    }
}

/// An AWS region name such as `us-east-1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region(String);

impl Region {
    pub fn parse(region: &str) -> Option<Region> {
        let valid = !region.is_empty()
            && region.len() <= 32
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        valid.then(|| Region(region.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Region {
    fn default() -> Self {
        Region("us-east-1".to_owned())
    }
}

/// A parsed stream ARN. Whether it names *this* server's account and region is
/// the engine's question, not the parser's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub stream: StreamName,
}

impl StreamArn {
    pub fn new(region: &Region, account: &AccountId, stream: &StreamName) -> StreamArn {
        StreamArn {
            partition: "aws".to_owned(),
            region: region.as_str().to_owned(),
            account: account.as_str().to_owned(),
            stream: stream.clone(),
        }
    }

    /// Parses `arn:{partition}:kinesis:{region}:{account}:stream/{name}`.
    pub fn parse(arn: &str) -> Option<StreamArn> {
        let mut parts = arn.splitn(6, ':');
        let (prefix, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
        let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
        if prefix != "arn" || !partition.starts_with("aws") || service != "kinesis" {
            return None;
        }
        AccountId::parse(account)?;
        let stream = StreamName::parse(resource.strip_prefix("stream/")?)?;
        Some(StreamArn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            stream,
        })
    }
}

impl fmt::Display for StreamArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:kinesis:{}:{}:stream/{}",
            self.partition, self.region, self.account, self.stream
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_round_trips() {
        let text = "arn:aws:kinesis:us-east-1:000000000000:stream/orders";
        let arn = StreamArn::parse(text).unwrap();
        assert_eq!(arn.stream.as_str(), "orders");
        assert_eq!(arn.to_string(), text);
    }

    #[test]
    fn arn_rejects_other_services_and_resources() {
        assert!(StreamArn::parse("arn:aws:sqs:us-east-1:000000000000:stream/x").is_none());
        assert!(StreamArn::parse("arn:aws:kinesis:us-east-1:000000000000:queue/x").is_none());
        assert!(StreamArn::parse("arn:aws:kinesis:us-east-1:123:stream/x").is_none());
    }
}
