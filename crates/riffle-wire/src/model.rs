//! botocore's Kinesis model, loaded once from the vendored copy in `model/`.
//!
//! Validation reads its shapes: member order, required members, lengths,
//! ranges, patterns and enums. Nothing here is hand-copied from the model,
//! so a new operation or constraint cannot be forgotten.

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
    pub by_name: HashMap<String, ShapeId>,
    /// Operation name → its input shape.
    pub operations: HashMap<String, Option<ShapeId>>,
}

#[derive(Debug)]
pub struct Shape {
    pub name: String,
    pub kind: ShapeKind,
}

#[derive(Debug)]
pub enum ShapeKind {
    Structure {
        members: Vec<Member>,
        required: Vec<String>,
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
        allowed: Option<Vec<String>>,
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
    pub name: String,
    pub path_name: String,
    pub shape: ShapeId,
}

/// A model pattern: the text AWS prints and the compiled whole-string match.
#[derive(Debug)]
pub struct Pattern {
    pub text: String,
    regex: Regex,
    /// For patterns of the form `[…]+` (StreamName's, checked on every
    /// put): the ASCII bytes of the class, matched without the regex engine.
    class: Option<Box<[bool; 128]>>,
}

impl Pattern {
    fn new(text: &str) -> Pattern {
        // AWS (Java's `String.matches`) matches the whole value.
        let anchored = format!("^(?:{text})$");
        let regex = Regex::new(&anchored)
            .unwrap_or_else(|err| panic!("model pattern {text:?} does not compile: {err}"));
        Pattern {
            text: text.to_owned(),
            regex,
            class: byte_class_plus(text).map(Box::new),
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        match &self.class {
            Some(class) => {
                !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| class.get(usize::from(b)).copied().unwrap_or(false))
            }
            None => self.regex.is_match(value),
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

    fn parse(json: &str) -> Model {
        let raw: RawModel = serde_json::from_str(json).expect("the vendored model is valid JSON");
        let by_name: HashMap<String, ShapeId> = raw
            .shapes
            .0
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
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
                let kind = match shape.kind.as_str() {
                    "structure" => ShapeKind::Structure {
                        members: shape
                            .members
                            .as_ref()
                            .map(|m| {
                                m.0.iter()
                                    .map(|(n, r)| Member {
                                        name: n.clone(),
                                        path_name: lower_first(n),
                                        shape: id(&r.shape),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        required: shape.required.clone().unwrap_or_default(),
                    },
                    "list" => ShapeKind::List {
                        member: id(&shape.member.as_ref().expect("lists have members").shape),
                        min: shape.min,
                        max: shape.max,
                    },
                    "map" => ShapeKind::Map {
                        key: id(&shape.key.as_ref().expect("maps have keys").shape),
                        value: id(&shape.value.as_ref().expect("maps have values").shape),
                        min: shape.min,
                        max: shape.max,
                    },
                    "string" => ShapeKind::String {
                        min: shape.min,
                        max: shape.max,
                        pattern: shape.pattern.as_deref().map(Pattern::new),
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
                Shape {
                    name: name.clone(),
                    kind,
                }
            })
            .collect();
        let operations = raw
            .operations
            .0
            .iter()
            .map(|(name, op)| {
                (
                    name.clone(),
                    op.input.as_ref().map(|input| id(&input.shape)),
                )
            })
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

#[derive(Deserialize)]
struct RawModel {
    operations: Ordered<RawOperation>,
    shapes: Ordered<RawShape>,
}

#[derive(Deserialize)]
struct RawOperation {
    input: Option<RawRef>,
}

#[derive(Deserialize)]
struct RawRef {
    shape: String,
}

#[derive(Deserialize)]
struct RawShape {
    #[serde(rename = "type")]
    kind: String,
    members: Option<Ordered<RawRef>>,
    required: Option<Vec<String>>,
    member: Option<RawRef>,
    key: Option<RawRef>,
    value: Option<RawRef>,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    allowed: Option<Vec<String>>,
}

/// A JSON object read in document order (member order matters to AWS's messages).
struct Ordered<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OrderedVisitor<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<T>, A::Error> {
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

    #[test]
    fn class_patterns_match_exactly_as_the_regex_does() {
        let class_patterns: Vec<&Pattern> = model()
            .shapes
            .iter()
            .filter_map(|shape| match &shape.kind {
                ShapeKind::String {
                    pattern: Some(p), ..
                } => Some(p),
                _ => None,
            })
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
                    pattern.regex.is_match(sample),
                    "{} on {sample:?}",
                    pattern.text
                );
            }
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
