//! botocore's Kinesis model, loaded once from the vendored copy in `model/`.
//!
//! Validation reads its shapes: member order, required members, lengths,
//! ranges, patterns and enums. Nothing here is hand-copied from the model,
//! so a new operation or constraint cannot be forgotten.
//!
//! Names borrow from the embedded JSON and a pattern's regex is compiled when
//! a value is first checked against it: parsing the model is the first
//! request's work, and most patterns (ARNs of other services) are never used.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use regex_lite::Regex;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

const MODEL_JSON: &str = include_str!("../model/kinesis-2013-12-02.json");

/// Index of a shape in [`Model::shapes`].
pub type ShapeId = usize;

#[derive(Debug)]
pub struct Model {
    pub shapes: Vec<Shape>,
    pub by_name: HashMap<&'static str, ShapeId>,
    /// Operation name → its input shape.
    pub operations: HashMap<&'static str, Option<ShapeId>>,
}

#[derive(Debug)]
pub struct Shape {
    pub name: &'static str,
    pub kind: ShapeKind,
}

#[derive(Debug)]
pub enum ShapeKind {
    Structure {
        members: Vec<Member>,
        required: Vec<&'static str>,
    },
    List {
        member: ShapeId,
        min: Option<i64>,
        max: Option<i64>,
    },
    Map {
        key: ShapeId,
        value: ShapeId,
        min: Option<i64>,
        max: Option<i64>,
    },
    String {
        min: Option<i64>,
        max: Option<i64>,
        pattern: Option<Pattern>,
        allowed: Option<Vec<&'static str>>,
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
        long: bool,
    },
    Boolean,
    Blob {
        min: Option<i64>,
        max: Option<i64>,
    },
    Timestamp,
}

#[derive(Debug)]
pub struct Member {
    /// As in the model (`StreamName`); paths use it with a lower-case first letter.
    pub name: &'static str,
    pub path_name: String,
    pub shape: ShapeId,
}

/// A model pattern: the text AWS prints and the compiled whole-string match.
#[derive(Debug)]
pub struct Pattern {
    pub text: Cow<'static, str>,
    regex: OnceLock<Regex>,
    /// For patterns of the form `[…]+` (StreamName's, checked on every
    /// put): the ASCII bytes of the class, matched without the regex engine.
    class: Option<Box<[bool; 128]>>,
}

impl Pattern {
    fn new(text: Cow<'static, str>) -> Pattern {
        Pattern {
            class: byte_class_plus(&text).map(Box::new),
            text,
            regex: OnceLock::new(),
        }
    }

    fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| {
            // AWS (Java's `String.matches`) matches the whole value.
            let anchored = format!("^(?:{})$", self.text);
            Regex::new(&anchored).unwrap_or_else(|err| {
                panic!("model pattern {:?} does not compile: {err}", self.text)
            })
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        match &self.class {
            Some(class) => {
                !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| class.get(usize::from(b)).copied().unwrap_or(false))
            }
            None => self.regex().is_match(value),
        }
    }
}

/// The ASCII set of a pattern that is exactly one bracketed class of plain
/// characters and ranges followed by `+` (`[a-zA-Z0-9_.-]+`); `None` for
/// anything else (negation, escapes, other syntax), which the regex handles.
fn byte_class_plus(pattern: &str) -> Option<[bool; 128]> {
    let inner = pattern.strip_prefix('[')?.strip_suffix("]+")?.as_bytes();
    if inner.is_empty()
        || inner[0] == b'^'
        || inner
            .iter()
            .any(|&b| !b.is_ascii() || matches!(b, b'\\' | b'[' | b']' | b'&'))
    {
        return None;
    }
    let mut class = [false; 128];
    let mut i = 0;
    while i < inner.len() {
        if i + 2 < inner.len() && inner[i + 1] == b'-' {
            let (low, high) = (inner[i], inner[i + 2]);
            if low > high {
                return None;
            }
            for b in low..=high {
                class[usize::from(b)] = true;
            }
            i += 3;
        } else {
            class[usize::from(inner[i])] = true;
            i += 1;
        }
    }
    Some(class)
}

/// The model, parsed on first use.
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::parse(MODEL_JSON))
}

impl Model {
    pub fn shape(&self, id: ShapeId) -> &Shape {
        &self.shapes[id]
    }

    /// The input shape of an operation, if it has one.
    pub fn input_of(&self, operation: &str) -> Option<ShapeId> {
        self.operations.get(operation).copied().flatten()
    }

    fn parse(json: &'static str) -> Model {
        let raw: RawModel<'_> =
            serde_json::from_str(json).expect("the vendored model is valid JSON");
        let by_name: HashMap<&'static str, ShapeId> = raw
            .shapes
            .0
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (*name, i))
            .collect();
        let id = |name: &str| {
            *by_name
                .get(name)
                .unwrap_or_else(|| panic!("model refers to unknown shape {name}"))
        };
        let shapes = raw
            .shapes
            .0
            .iter()
            .map(|(name, shape)| {
                let kind = match shape.kind {
                    "structure" => ShapeKind::Structure {
                        members: shape
                            .members
                            .as_ref()
                            .map(|m| {
                                m.0.iter()
                                    .map(|(n, r)| Member {
                                        name: n,
                                        path_name: lower_first(n),
                                        shape: id(r.shape),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        required: shape.required.clone().unwrap_or_default(),
                    },
                    "list" => ShapeKind::List {
                        member: id(shape.member.as_ref().expect("lists have members").shape),
                        min: shape.min,
                        max: shape.max,
                    },
                    "map" => ShapeKind::Map {
                        key: id(shape.key.as_ref().expect("maps have keys").shape),
                        value: id(shape.value.as_ref().expect("maps have values").shape),
                        min: shape.min,
                        max: shape.max,
                    },
                    "string" => ShapeKind::String {
                        min: shape.min,
                        max: shape.max,
                        pattern: shape.pattern.clone().map(Pattern::new),
                        allowed: shape.allowed.clone(),
                    },
                    "integer" => ShapeKind::Integer {
                        min: shape.min,
                        max: shape.max,
                        long: false,
                    },
                    "long" => ShapeKind::Integer {
                        min: shape.min,
                        max: shape.max,
                        long: true,
                    },
                    "boolean" => ShapeKind::Boolean,
                    "blob" => ShapeKind::Blob {
                        min: shape.min,
                        max: shape.max,
                    },
                    "timestamp" => ShapeKind::Timestamp,
                    other => panic!("model shape {name} has unknown type {other}"),
                };
                Shape { name, kind }
            })
            .collect();
        let operations = raw
            .operations
            .0
            .iter()
            .map(|(name, op)| (*name, op.input.as_ref().map(|input| id(input.shape))))
            .collect();
        Model {
            shapes,
            by_name,
            operations,
        }
    }
}

/// `StreamName` → `streamName`, as AWS names members in validation messages.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

// Names and enum values in the model contain no JSON escapes, so they borrow
// from it; patterns do (`\\d`), so theirs is a `Cow`.
#[derive(Deserialize)]
struct RawModel<'a> {
    #[serde(borrow)]
    operations: Ordered<'a, RawOperation<'a>>,
    #[serde(borrow)]
    shapes: Ordered<'a, RawShape<'a>>,
}

#[derive(Deserialize)]
struct RawOperation<'a> {
    #[serde(borrow)]
    input: Option<RawRef<'a>>,
}

#[derive(Deserialize)]
struct RawRef<'a> {
    shape: &'a str,
}

#[derive(Deserialize)]
struct RawShape<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    members: Option<Ordered<'a, RawRef<'a>>>,
    #[serde(borrow)]
    required: Option<Vec<&'a str>>,
    #[serde(borrow)]
    member: Option<RawRef<'a>>,
    #[serde(borrow)]
    key: Option<RawRef<'a>>,
    #[serde(borrow)]
    value: Option<RawRef<'a>>,
    min: Option<i64>,
    max: Option<i64>,
    #[serde(borrow)]
    pattern: Option<Cow<'a, str>>,
    #[serde(rename = "enum", borrow)]
    allowed: Option<Vec<&'a str>>,
}

/// A JSON object read in document order (member order matters to AWS's messages).
struct Ordered<'a, T>(Vec<(&'a str, T)>);

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for Ordered<'a, T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<'a, T>(std::marker::PhantomData<(&'a (), T)>);
        impl<'de: 'a, 'a, T: Deserialize<'de>> Visitor<'de> for OrderedVisitor<'a, T> {
            type Value = Ordered<'a, T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<'a, T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_model_loads_with_all_57_operations() {
        let model = model();
        assert_eq!(model.operations.len(), 57);
        let input = model.input_of("PutRecords").unwrap();
        let ShapeKind::Structure { members, required } = &model.shape(input).kind else {
            panic!("structure")
        };
        assert_eq!(members[0].name, "Records");
        assert_eq!(members[0].path_name, "records");
        assert_eq!(required, &["Records"]);
    }

    /// Every string shape's pattern.
    fn model_patterns() -> Vec<&'static Pattern> {
        model()
            .shapes
            .iter()
            .filter_map(|shape| match &shape.kind {
                ShapeKind::String {
                    pattern: Some(p), ..
                } => Some(p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn class_patterns_match_exactly_as_the_regex_does() {
        let class_patterns: Vec<&Pattern> = model_patterns()
            .into_iter()
            .filter(|p| p.class.is_some())
            .collect();
        assert!(
            class_patterns.iter().any(|p| p.text == "[a-zA-Z0-9_.-]+"),
            "StreamName's pattern takes the fast match"
        );
        let samples = [
            "",
            "a",
            "abc-1.2_3",
            "a b",
            "a/b",
            "é",
            "ab\u{0}",
            "-",
            ".",
            "Z9",
            "a+",
            "[a]",
            "^",
        ];
        for pattern in class_patterns {
            for sample in samples {
                assert_eq!(
                    pattern.matches(sample),
                    pattern.regex().is_match(sample),
                    "{} on {sample:?}",
                    pattern.text
                );
            }
        }
    }

    /// Patterns compile on first use, in the middle of a request: this is
    /// where one that does not compile must show itself instead.
    #[test]
    fn every_model_pattern_compiles() {
        let patterns = model_patterns();
        assert!(patterns.len() > 20, "{} patterns", patterns.len());
        for pattern in patterns {
            assert!(
                pattern.regex().as_str().contains(pattern.text.as_ref()),
                "{}",
                pattern.text
            );
        }
    }

    #[test]
    fn patterns_match_whole_values() {
        let model = model();
        let ShapeKind::String {
            pattern: Some(pattern),
            ..
        } = &model.shape(model.by_name["StreamName"]).kind
        else {
            panic!("StreamName has a pattern")
        };
        assert!(pattern.matches("abc-1.2_3"));
        assert!(
            !pattern.matches("abc def"),
            "a partial match is not a match"
        );
    }
}
