//! Checks JSON answers against the schemas of Prefect Cloud's public API document
//! (`tests/fixtures/prefect-cloud-openapi.json`, a copy of `shared/reference/`): required
//! fields present, types, formats (uuid, date-time) and enums as the reference says.

use serde_json::Value;
use std::sync::OnceLock;

fn reference() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/prefect-cloud-openapi.json"
        );
        let text = std::fs::read_to_string(path).expect("reference document");
        serde_json::from_str(&text).expect("reference document is JSON")
    })
}

/// The named schema of `components.schemas`.
pub fn schema(name: &str) -> &'static Value {
    let s = &reference()["components"]["schemas"][name];
    assert!(!s.is_null(), "no schema {name} in the reference document");
    s
}

/// Panics with every mismatch when `value` does not match the reference schema `name`.
pub fn assert_matches_schema(value: &Value, name: &str) {
    let mut errors = Vec::new();
    check(value, schema(name), name, &mut errors);
    assert!(
        errors.is_empty(),
        "{name} does not match the reference:\n  {}\nvalue: {value:#}",
        errors.join("\n  ")
    );
}

/// Each item of the array `value` matches `name`.
pub fn assert_items_match_schema(value: &Value, name: &str) {
    let items = value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array of {name}: {value}"));
    for item in items {
        assert_matches_schema(item, name);
    }
}

fn resolve(s: &'static Value) -> &'static Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(schema(name))
        }
        None => s,
    }
}

fn matches(v: &Value, s: &'static Value, at: &str) -> bool {
    let mut e = Vec::new();
    check(v, s, at, &mut e);
    e.is_empty()
}

fn check(v: &Value, s: &'static Value, at: &str, errors: &mut Vec<String>) {
    let s = resolve(s);
    if let Some(any) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
    {
        if !any.iter().any(|alt| matches(v, alt, at)) {
            errors.push(format!("{at}: {v} matches none of the alternatives"));
        }
        return;
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for part in all {
            check(v, part, at, errors);
        }
        return;
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {allowed:?}"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{at}: {v} is not {c}"));
    }
    let Some(ty) = s.get("type").and_then(Value::as_str) else {
        return; // any value
    };
    match (ty, v) {
        ("null", Value::Null) | ("boolean", Value::Bool(_)) => {}
        ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        ("number", Value::Number(_)) => {}
        ("string", Value::String(text)) => match s.get("format").and_then(Value::as_str) {
            Some("uuid") if uuid::Uuid::parse_str(text).is_err() => {
                errors.push(format!("{at}: {text:?} is not a UUID"))
            }
            Some("date-time") if !looks_like_datetime(text) => {
                errors.push(format!("{at}: {text:?} is not a date-time"))
            }
            _ => {}
        },
        ("array", Value::Array(items)) => {
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item, item_schema, &format!("{at}[{i}]"), errors);
                }
            }
        }
        ("object", Value::Object(map)) => {
            let props = s.get("properties").and_then(Value::as_object);
            if let Some(required) = s.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(r) {
                        errors.push(format!("{at}: required field {r:?} is missing"));
                    }
                }
            }
            if let Some(props) = props {
                for (k, val) in map {
                    if let Some(ps) = props.get(k) {
                        check(val, ps, &format!("{at}.{k}"), errors);
                    }
                }
            }
        }
        _ => errors.push(format!("{at}: expected {ty}, got {v}")),
    }
}

/// `YYYY-MM-DDTHH:MM:SS…` with a zone (`Z` or an offset).
fn looks_like_datetime(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
        && (t.ends_with('Z') || t[19..].contains('+') || t[19..].contains('-'))
}

#[test]
fn the_checker_finds_missing_fields_and_wrong_types() {
    let ok = serde_json::json!({
        "account_id": "5c5e8f3e-7f2b-4b8e-9d6a-1f1f2a3b4c5d",
        "account_name": "Acme", "account_handle": "acme",
        "workspace_id": "5c5e8f3e-7f2b-4b8e-9d6a-1f1f2a3b4c5e",
        "workspace_name": "Prod", "workspace_description": "", "workspace_handle": "prod"
    });
    assert_matches_schema(&ok, "UserWorkspaceResponse");
    let mut bad = ok.clone();
    bad["workspace_description"] = Value::Null;
    assert!(!matches(&bad, schema("UserWorkspaceResponse"), "x"));
    let mut missing = ok;
    missing
        .as_object_mut()
        .map(|m| m.remove("workspace_handle"));
    assert!(!matches(&missing, schema("UserWorkspaceResponse"), "x"));
}
