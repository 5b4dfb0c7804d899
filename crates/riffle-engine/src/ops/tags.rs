//! AddTagsToStream, RemoveTagsFromStream, ListTagsForStream (and the
//! ARN-addressed TagResource family, which resolve to the same stream tags).

use riffle_model::limits::STREAM_TAGS_MAX;

use crate::error::{EngineError, EngineResult};
use crate::stream::StreamStatus;
use crate::{Engine, StreamRef};

/// Tag changes are allowed while a stream is usable.
const TAGGABLE: [StreamStatus; 2] = [StreamStatus::Active, StreamStatus::Updating];

/// One page of a stream's tags, sorted by key.
#[derive(Clone, Debug)]
pub struct TagPage {
    pub tags: Vec<(String, String)>,
    pub has_more: bool,
}

/// AWS allows Unicode letters, digits, white space and `_ . / = + - % @`.
fn valid_tag_text(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_./=+-%@".contains(c))
}

fn check_tag_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> EngineResult<()> {
    if texts.into_iter().all(valid_tag_text) {
        Ok(())
    } else {
        Err(EngineError::InvalidArgument(
            "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
                .to_owned(),
        ))
    }
}

impl Engine {
    /// Adds or overwrites tags.
    ///
    /// # Errors
    /// Invalid characters, more than 50 tags on the stream, the stream is
    /// missing or not usable.
    pub fn add_tags(&self, stream: &StreamRef, tags: Vec<(String, String)>) -> EngineResult<()> {
        check_tag_texts(tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))?;
        let account = self.inner.config.account.as_str().to_owned();
        self.modify_stream(stream, &TAGGABLE, |record, _| {
            for (key, value) in tags {
                match record.tags.binary_search_by(|(k, _)| k.cmp(&key)) {
                    Ok(i) => record.tags[i].1 = value,
                    Err(i) => record.tags.insert(i, (key, value)),
                }
            }
            if record.tags.len() > STREAM_TAGS_MAX {
                return Err(EngineError::LimitExceeded(format!(
                    "Failed to add tags to stream {} under account {account} because a given stream cannot have more than {STREAM_TAGS_MAX} tags associated with it.",
                    record.name
                )));
            }
            Ok(())
        })
    }

    /// Removes tags by key; unknown keys are ignored.
    ///
    /// # Errors
    /// Invalid characters, or the stream is missing or not usable.
    pub fn remove_tags(&self, stream: &StreamRef, keys: &[String]) -> EngineResult<()> {
        check_tag_texts(keys.iter().map(String::as_str))?;
        self.modify_stream(stream, &TAGGABLE, |record, _| {
            record.tags.retain(|(k, _)| !keys.contains(k));
            Ok(())
        })
    }

    /// Lists tags in key order, `limit` at a time, after `exclusive_start_key`.
    ///
    /// # Errors
    /// The stream does not exist.
    pub fn list_tags(
        &self,
        stream: &StreamRef,
        exclusive_start_key: Option<&str>,
        limit: usize,
    ) -> EngineResult<TagPage> {
        let stream = self.lookup(stream)?;
        let state = stream.state.read();
        let mut after = state
            .record
            .tags
            .iter()
            .filter(|(k, _)| exclusive_start_key.is_none_or(|start| k.as_str() > start));
        let tags: Vec<_> = after.by_ref().take(limit).cloned().collect();
        let has_more = after.next().is_some();
        Ok(TagPage { tags, has_more })
    }
}
