//! Walks botocore's model and proves that every constraint on every input
//! member of every routed operation is enforced, with AWS's message: for
//! each constraint it builds a request that breaks exactly that member and
//! checks the ValidationException names the member and the constraint.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use riffle_wire::Format;
use riffle_wire::checker::check;
use riffle_wire::model::{Model, ShapeId, ShapeKind, model};
use riffle_wire::operation::Operation;
use serde_json::{Map, Value};

/// One broken value: where it goes, and the constraint text AWS must report.
struct Case {
    /// JSON member names from the input root to the member.
    json_path: Vec<String>,
    /// AWS's path (`shardFilter.type`, `records.1.member.data`).
    aws_path: String,
    value: Option<Value>,
    expected: String,
}

/// A value of `shape` that satisfies its own constraints (used to fill lists).
fn valid_value(model: &Model, shape: ShapeId) -> Value {
    match &model.shape(shape).kind {
        ShapeKind::Structure { .. } => Value::Object(Map::new()),
        ShapeKind::List { .. } => Value::Array(Vec::new()),
        ShapeKind::Map { .. } => Value::Object(Map::new()),
        ShapeKind::String {
            allowed: Some(allowed),
            ..
        } => Value::String(allowed[0].to_owned()),
        ShapeKind::String { .. } => Value::String("a".into()),
        ShapeKind::Integer { min, .. } => Value::from(min.unwrap_or(1)),
        ShapeKind::Boolean => Value::Bool(true),
        ShapeKind::Blob { .. } => Value::String(String::new()),
        ShapeKind::Timestamp => Value::from(1),
    }
}

/// Every violation of the constraints of `shape`, as it would appear at `aws_path`.
fn violations(
    model: &Model,
    shape: ShapeId,
    json_path: Vec<String>,
    aws_path: String,
    depth: usize,
    out: &mut Vec<Case>,
) {
    let case = |value: Value, expected: String| Case {
        json_path: json_path.clone(),
        aws_path: aws_path.clone(),
        value: Some(value),
        expected,
    };
    match &model.shape(shape).kind {
        ShapeKind::Structure { members, required } if depth < 3 => {
            for member in members {
                let mut member_json = json_path.clone();
                member_json.push(member.name.to_owned());
                let member_aws = if aws_path.is_empty() {
                    member.path_name.clone()
                } else {
                    format!("{aws_path}.{}", member.path_name)
                };
                if required.contains(&member.name) {
                    out.push(Case {
                        json_path: member_json.clone(),
                        aws_path: member_aws.clone(),
                        value: None,
                        expected: "Member must not be null".into(),
                    });
                }
                violations(model, member.shape, member_json, member_aws, depth + 1, out);
            }
        }
        ShapeKind::Structure { .. } => {}
        ShapeKind::List { member, min, max } => {
            // Members of a list of structures: one element breaking one member.
            if matches!(model.shape(*member).kind, ShapeKind::Structure { .. }) && depth < 3 {
                let mut element_cases = Vec::new();
                violations(
                    model,
                    *member,
                    Vec::new(),
                    format!("{aws_path}.1.member"),
                    depth + 1,
                    &mut element_cases,
                );
                for element_case in element_cases {
                    let mut element = Map::new();
                    place(&mut element, &element_case.json_path, element_case.value);
                    out.push(Case {
                        json_path: json_path.clone(),
                        aws_path: element_case.aws_path,
                        value: Some(Value::Array(vec![Value::Object(element)])),
                        expected: element_case.expected,
                    });
                }
            }
            if let Some(min) = min.filter(|&m| m > 0) {
                out.push(case(
                    Value::Array(Vec::new()),
                    format!("Member must have length greater than or equal to {min}"),
                ));
            }
            if let Some(max) = max {
                let items = vec![valid_value(model, *member); *max as usize + 1];
                out.push(case(
                    Value::Array(items),
                    format!("Member must have length less than or equal to {max}"),
                ));
            }
        }
        ShapeKind::Map { min, max, .. } => {
            if let Some(min) = min.filter(|&m| m > 0) {
                out.push(case(
                    Value::Object(Map::new()),
                    format!("Member must have length greater than or equal to {min}"),
                ));
            }
            if let Some(max) = max {
                let entries = (0..=*max)
                    .map(|i| (format!("k{i}"), Value::String("v".into())))
                    .collect();
                out.push(case(
                    Value::Object(entries),
                    format!("Member must have length less than or equal to {max}"),
                ));
            }
        }
        ShapeKind::String {
            min,
            max,
            pattern,
            allowed,
        } => {
            if let Some(min) = min.filter(|&m| m > 0) {
                out.push(case(
                    Value::String(String::new()),
                    format!("Member must have length greater than or equal to {min}"),
                ));
            }
            if let Some(max) = max {
                let long = "a".repeat(*max as usize + 1);
                out.push(case(
                    Value::String(long),
                    format!("Member must have length less than or equal to {max}"),
                ));
            }
            if let Some(pattern) = pattern {
                let min_len = min.unwrap_or(0).max(1) as usize;
                let bad = ["!", " ", ":*", "\u{0}", "A-"]
                    .iter()
                    .map(|c| c.repeat(min_len))
                    .find(|candidate| !pattern.matches(candidate))
                    .expect("some candidate breaks every pattern");
                out.push(case(
                    Value::String(bad),
                    format!(
                        "Member must satisfy regular expression pattern: {}",
                        pattern.text
                    ),
                ));
            }
            if let Some(allowed) = allowed {
                out.push(case(
                    Value::String("NOT_A_MEMBER".into()),
                    format!(
                        "Member must satisfy enum value set: [{}]",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        ShapeKind::Integer { min, max, .. } => {
            if let Some(min) = min {
                out.push(case(
                    Value::from(min - 1),
                    format!("Member must have value greater than or equal to {min}"),
                ));
            }
            if let Some(max) = max {
                out.push(case(
                    Value::from(max + 1),
                    format!("Member must have value less than or equal to {max}"),
                ));
            }
        }
        ShapeKind::Blob { min, max } => {
            if let Some(min) = min.filter(|&m| m > 0) {
                out.push(case(
                    Value::String(String::new()),
                    format!("Member must have length greater than or equal to {min}"),
                ));
            }
            if let Some(max) = max {
                let bytes = vec![0u8; *max as usize + 1];
                out.push(case(
                    Value::String(STANDARD.encode(bytes)),
                    format!("Member must have length less than or equal to {max}"),
                ));
            }
        }
        ShapeKind::Boolean | ShapeKind::Timestamp => {}
    }
}

/// Puts `value` at `path` inside `root`, creating objects on the way.
fn place(root: &mut Map<String, Value>, path: &[String], value: Option<Value>) {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut node = root;
    for key in parents {
        node = node
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("objects on the way");
    }
    match value {
        Some(value) => {
            node.insert(last.clone(), value);
        }
        None => {
            node.remove(last);
        }
    }
}

#[test]
fn every_constraint_of_every_routed_operation_is_enforced() {
    let model = model();
    let mut checked = 0;
    for operation in Operation::ALL {
        let Some(input) = model.input_of(operation.name()) else {
            continue;
        };
        let mut cases = Vec::new();
        violations(model, input, Vec::new(), String::new(), 0, &mut cases);
        for case in cases {
            let mut body = Map::new();
            place(&mut body, &case.json_path, case.value);
            let body = Value::Object(body);
            let json = serde_json::to_vec(&body).unwrap();
            let mut cbor = Vec::new();
            ciborium::ser::into_writer(&body, &mut cbor).unwrap();
            for (format, bytes) in [(Format::Json, json), (Format::Cbor, cbor)] {
                let err = check(operation.name(), &bytes, format).expect_err(&format!(
                    "{} ({format:?}) with a broken {} must be rejected ({})",
                    operation.name(),
                    case.aws_path,
                    case.expected
                ));
                let message = err.message.clone().unwrap_or_default();
                assert_eq!(
                    err.type_name,
                    "ValidationException",
                    "{} ({format:?}): {message}",
                    operation.name()
                );
                let needle = format!(
                    "at '{}' failed to satisfy constraint: {}",
                    case.aws_path, case.expected
                );
                assert!(
                    message.contains(&needle),
                    "{} ({format:?}): expected `{needle}` in `{message}`",
                    operation.name()
                );
            }
            checked += 1;
        }
    }
    eprintln!("checked {checked} constraints");
    assert!(
        checked > 100,
        "the walk covered the model ({checked} constraints)"
    );
}

/// The hot operations and a body each that satisfies every constraint.
fn hot_bases() -> Vec<(&'static str, Value)> {
    vec![
        (
            "PutRecords",
            serde_json::json!({"StreamName": "s", "Records": [{"Data": "AAAA", "PartitionKey": "k", "ExplicitHashKey": "7"}], "DryRun": false}),
        ),
        (
            "PutRecord",
            serde_json::json!({"StreamName": "s", "Data": "AAAA", "PartitionKey": "k", "SequenceNumberForOrdering": "1"}),
        ),
        (
            "GetRecords",
            serde_json::json!({"ShardIterator": "it", "Limit": 5, "StreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s"}),
        ),
    ]
}

/// A JSON value as CBOR the way SDKs send it: blobs (`Data`) as byte
/// strings when they are valid base64, otherwise left as they are.
fn cbor_value(value: &Value, key: Option<&str>) -> ciborium::Value {
    use ciborium::Value as C;
    match value {
        Value::String(text) if key == Some("Data") => match STANDARD.decode(text) {
            Ok(bytes) => C::Bytes(bytes),
            Err(_) => C::Text(text.clone()),
        },
        Value::Array(items) => C::Array(items.iter().map(|item| cbor_value(item, None)).collect()),
        Value::Object(members) => C::Map(
            members
                .iter()
                .map(|(k, v)| (C::Text(k.clone()), cbor_value(v, Some(k))))
                .collect(),
        ),
        other => ciborium::Value::serialized(other).unwrap(),
    }
}

fn encodings(body: &Value) -> [(Format, Vec<u8>); 2] {
    let mut cbor = Vec::new();
    ciborium::ser::into_writer(&cbor_value(body, None), &mut cbor).unwrap();
    [
        (Format::Json, serde_json::to_vec(body).unwrap()),
        (Format::Cbor, cbor),
    ]
}

/// The hot path reads a body once and checks the model's constraints on the
/// typed values; the checker phrases errors. Breaking any one constraint of
/// an otherwise valid body must send it to the checker.
#[test]
fn the_hot_path_takes_valid_bodies_and_refuses_every_broken_constraint() {
    let model = model();
    let mut refused = 0;
    for (operation, base) in hot_bases() {
        for (format, bytes) in encodings(&base) {
            assert!(check(operation, &bytes, format).is_ok(), "{operation} base");
            assert!(
                riffle_wire::hot::accepts(operation, &bytes, format),
                "{operation} ({format:?}): the hot path takes a valid body"
            );
        }
        let mut cases = Vec::new();
        violations(
            model,
            model.input_of(operation).unwrap(),
            Vec::new(),
            String::new(),
            0,
            &mut cases,
        );
        for case in cases {
            let mut body = base.as_object().unwrap().clone();
            let value = match (&case.value, case.aws_path.contains(".member.")) {
                // One element breaking one member: the rest of it stays valid.
                (Some(Value::Array(items)), true) => {
                    let mut element = base["Records"][0].as_object().unwrap().clone();
                    for (key, value) in items[0].as_object().unwrap() {
                        element.insert(key.clone(), value.clone());
                    }
                    if case.expected == "Member must not be null" {
                        let member = case.aws_path.rsplit('.').next().unwrap();
                        element.retain(|key, _| !key.eq_ignore_ascii_case(member));
                    }
                    Some(Value::Array(vec![Value::Object(element)]))
                }
                _ => case.value.clone(),
            };
            place(&mut body, &case.json_path, value);
            for (format, bytes) in encodings(&Value::Object(body.clone())) {
                assert!(
                    check(operation, &bytes, format).is_err(),
                    "{operation}: broken {} ({})",
                    case.aws_path,
                    case.expected
                );
                assert!(
                    !riffle_wire::hot::accepts(operation, &bytes, format),
                    "{operation} ({format:?}): the hot path took a broken {} ({})",
                    case.aws_path,
                    case.expected
                );
                refused += 1;
            }
        }
    }
    assert!(refused > 20, "only {refused} cases");
}

mod hot_path_agrees_with_the_checker {
    use super::*;
    use proptest::prelude::*;

    /// Any JSON value, leaning towards the shapes these members take.
    fn member_value() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            Just(Some(Value::Bool(true))),
            Just(Some(Value::from(5))),
            Just(Some(Value::from(0))),
            Just(Some(Value::from(20_000))),
            Just(Some(Value::from(1.5))),
            Just(Some(Value::String(String::new()))),
            Just(Some(Value::String("true".into()))),
            Just(Some(Value::String("s".into()))),
            Just(Some(Value::String("AAAA".into()))),
            Just(Some(Value::String("AAA=".into()))),
            Just(Some(Value::String("AAB=".into()))),
            Just(Some(Value::String("A===".into()))),
            Just(Some(Value::String("*AAA".into()))),
            Just(Some(Value::String("0".into()))),
            Just(Some(Value::String("01".into()))),
            Just(Some(Value::String("k".repeat(257)))),
            Just(Some(Value::String("é".repeat(200)))),
            Just(Some(Value::String(
                "arn:aws:kinesis:us-east-1:123456789012:stream/s".into()
            ))),
            Just(Some(Value::String("abcdefghij0123456789-abc".into()))),
            Just(Some(Value::Array(Vec::new()))),
            Just(Some(serde_json::json!({}))),
        ]
    }

    fn object(members: &[&str], values: Vec<Option<Value>>) -> Value {
        let mut map = Map::new();
        for (member, value) in members.iter().zip(values) {
            if let Some(value) = value {
                map.insert((*member).to_owned(), value);
            }
        }
        Value::Object(map)
    }

    fn body() -> impl Strategy<Value = (&'static str, Value)> {
        const ENTRY: [&str; 4] = ["Data", "PartitionKey", "ExplicitHashKey", "Unknown"];
        let entry = prop::collection::vec(member_value(), ENTRY.len())
            .prop_map(|values| object(&ENTRY, values));
        let records = prop_oneof![
            Just(None),
            Just(Some(Value::from(3))),
            prop::collection::vec(entry, 0..3).prop_map(|items| Some(Value::Array(items))),
        ];
        const PUT_RECORDS: [&str; 5] = ["StreamName", "StreamARN", "StreamId", "DryRun", "Unknown"];
        let put_records = (
            prop::collection::vec(member_value(), PUT_RECORDS.len()),
            records,
        )
            .prop_map(|(values, records)| {
                let mut body = object(&PUT_RECORDS, values);
                if let Some(records) = records {
                    body["Records"] = records;
                }
                ("PutRecords", body)
            });
        const PUT_RECORD: [&str; 8] = [
            "StreamName",
            "Data",
            "PartitionKey",
            "ExplicitHashKey",
            "SequenceNumberForOrdering",
            "StreamARN",
            "StreamId",
            "DryRun",
        ];
        let put_record = prop::collection::vec(member_value(), PUT_RECORD.len())
            .prop_map(|values| ("PutRecord", object(&PUT_RECORD, values)));
        const GET_RECORDS: [&str; 5] =
            ["ShardIterator", "Limit", "StreamARN", "StreamId", "DryRun"];
        let get_records = prop::collection::vec(member_value(), GET_RECORDS.len())
            .prop_map(|values| ("GetRecords", object(&GET_RECORDS, values)));
        prop_oneof![put_records, put_record, get_records]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, .. ProptestConfig::default() })]

        #[test]
        fn whatever_the_hot_path_takes_the_checker_accepts((operation, body) in body()) {
            for (format, bytes) in encodings(&body) {
                if riffle_wire::hot::accepts(operation, &bytes, format) {
                    prop_assert!(
                        check(operation, &bytes, format).is_ok(),
                        "{} ({:?}) taken by the hot path but refused by the checker: {}",
                        operation, format, body
                    );
                }
            }
        }
    }
}

/// serde's derive builds a structure from a list as readily as from an
/// object; AWS refuses a list there, so the hot path must too.
#[test]
fn a_structure_given_as_a_list_is_refused_by_both_paths() {
    let bodies = [
        (
            "PutRecords",
            serde_json::json!({"StreamName": "s", "Records": [["AAAA", null, "k"]]}),
        ),
        (
            "PutRecords",
            serde_json::json!({"StreamName": "s", "Records": [[]]}),
        ),
        ("PutRecord", serde_json::json!(["s", "AAAA", "k"])),
        ("GetRecords", serde_json::json!(["it", 5])),
    ];
    for (operation, body) in bodies {
        for (format, bytes) in encodings(&body) {
            assert!(
                check(operation, &bytes, format).is_err(),
                "{operation} ({format:?}) {body}"
            );
            assert!(
                !riffle_wire::hot::accepts(operation, &bytes, format),
                "{operation} ({format:?}): the hot path took {body}"
            );
        }
    }
}
