//! ListStreams.

use std::ops::Bound;

use riffle_model::StreamName;

use super::describe_stream::StreamSummary;
use crate::error::EngineResult;
use crate::page_token::PageToken;
use crate::{Engine, StreamRef};

/// Where a ListStreams page starts.
#[derive(Clone, Debug)]
pub enum ListStreamsFrom {
    Start,
    AfterName(StreamName),
    Token(String),
}

#[derive(Clone, Debug)]
pub struct StreamList {
    pub streams: Vec<StreamSummary>,
    pub has_more: bool,
    pub next_token: Option<String>,
}

impl Engine {
    /// Lists up to `limit` streams in name order.
    ///
    /// # Errors
    /// An invalid or expired NextToken.
    pub fn list_streams(&self, from: ListStreamsFrom, limit: usize) -> EngineResult<StreamList> {
        let now = self.now();
        let after = match from {
            ListStreamsFrom::Start => None,
            ListStreamsFrom::AfterName(name) => Some(name.as_str().to_owned()),
            ListStreamsFrom::Token(token) => Some(PageToken::decode(&token, now)?.after),
        };
        let streams = self.inner.streams.read();
        let lower = match &after {
            Some(after) => match StreamName::parse(after) {
                Some(name) => Bound::Excluded(name),
                None => Bound::Unbounded,
            },
            None => Bound::Unbounded,
        };
        let mut names = streams
            .by_name
            .range((lower, Bound::Unbounded))
            .map(|(name, _)| name.clone());
        let page: Vec<_> = names.by_ref().take(limit).collect();
        let has_more = names.next().is_some();
        drop(streams);
        let next_token = has_more.then(|| {
            PageToken {
                subject: String::new(),
                after: page.last().map(|n| n.to_string()).unwrap_or_default(),
                issued_at: now,
            }
            .encode()
        });
        let streams = page
            .into_iter()
            // A stream deleted between the two locks simply drops out of the page.
            .filter_map(|name| self.describe_stream_summary(&StreamRef::Name(name)).ok())
            .collect();
        Ok(StreamList {
            streams,
            has_more,
            next_token,
        })
    }
}
