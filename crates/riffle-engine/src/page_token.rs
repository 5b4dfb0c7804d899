//! NextTokens for ListStreams and ListShards: where the next page starts,
//! and when the token was issued (AWS expires them after 300 seconds).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use riffle_model::Millis;
use riffle_model::limits::NEXT_TOKEN_TTL_MS;

use crate::error::{EngineError, EngineResult};

/// A decoded NextToken: the subject (stream name), the position after which
/// the next page starts, and its issue time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageToken {
    pub subject: String,
    pub after: String,
    pub issued_at: Millis,
}

impl PageToken {
    pub fn encode(&self) -> String {
        STANDARD.encode(format!(
            "1\n{}\n{}\n{}",
            self.issued_at.0, self.subject, self.after
        ))
    }

    /// # Errors
    /// `InvalidArgumentException` for a token Riffle did not issue;
    /// `ExpiredNextTokenException` for one older than 300 seconds.
    pub fn decode(text: &str, now: Millis) -> EngineResult<PageToken> {
        let invalid = || EngineError::InvalidArgument("Invalid NextToken.".to_owned());
        let raw = STANDARD.decode(text).map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let mut parts = raw.splitn(4, '\n');
        let (Some("1"), Some(issued), Some(subject), Some(after)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let issued_at = Millis(issued.parse().map_err(|_| invalid())?);
        if now.saturating_sub(issued_at) > NEXT_TOKEN_TTL_MS {
            return Err(EngineError::ExpiredNextToken(format!(
                "The timestamp in the NextToken expired. Request timestamp: {}, NextToken timestamp: {}",
                now.0, issued_at.0
            )));
        }
        Ok(PageToken {
            subject: subject.to_owned(),
            after: after.to_owned(),
            issued_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_expire() {
        let token = PageToken {
            subject: "s".into(),
            after: "shardId-000000000001".into(),
            issued_at: Millis(1000),
        };
        assert_eq!(
            PageToken::decode(&token.encode(), Millis(2000)).unwrap(),
            token
        );
        assert!(matches!(
            PageToken::decode(&token.encode(), Millis(1000 + 300_001)),
            Err(EngineError::ExpiredNextToken(_))
        ));
        assert!(matches!(
            PageToken::decode("garbage!", Millis(0)),
            Err(EngineError::InvalidArgument(_))
        ));
    }
}
