//! The binaries' JSON summary line, checked against its published schema
//! (`docs/reference/summary.schema.json`).
//!
//! Why a validator of our own: no JSON Schema crate is in the lockfile, and
//! the schema uses a small subset (`type`, `const`, `enum`, `required`,
//! `properties`, `additionalProperties`, `items`, `minimum`, `minLength` and
//! annotations). A keyword outside that subset is an error here, so the
//! schema cannot grow a rule the tests silently skip.

use serde_json::{Map, Value};

/// The published schema, as the docs hold it.
pub const SCHEMA: &str = include_str!("../../docs/reference/summary.schema.json");

/// Keywords that only describe.
const ANNOTATIONS: &[&str] = &["$schema", "$id", "$comment", "title", "description"];

/// `line` (one line of a binary's stdout) parsed and checked against
/// [`SCHEMA`], and against the exit table: `meaning` is `exit_code`'s.
pub fn validate(line: &str) -> Result<Value, String> {
    let schema: Value =
        serde_json::from_str(SCHEMA).map_err(|e| format!("the schema is no JSON: {e}"))?;
    let value: Value = serde_json::from_str(line)
        .map_err(|e| format!("the summary line is no JSON object ({e})"))?;
    check(&schema, &value, "$")?;
    let code = value["exit_code"].as_i64().unwrap_or(-1);
    let meaning = common::error::Exit::from_code(i32::try_from(code).unwrap_or(-1))
        .map(common::error::Exit::meaning);
    if meaning != value["meaning"].as_str() {
        return Err(format!(
            "$.meaning: {} is not the meaning of exit {code} in the exit table",
            value["meaning"]
        ));
    }
    Ok(value)
}

/// Checks `value` at `path` against `schema`.
pub fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let Value::Object(rules) = schema else {
        return Err(format!("{path}: the schema here is not an object"));
    };
    for (keyword, rule) in rules {
        match keyword.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "type" => check_type(rule, value, path)?,
            "const" => {
                if value != rule {
                    return Err(format!("{path}: {value} is not {rule}"));
                }
            }
            "enum" => {
                let allowed = rule.as_array().ok_or("enum is not an array")?;
                if !allowed.contains(value) {
                    return Err(format!("{path}: {value} is none of {rule}"));
                }
            }
            "required" => {
                let Value::Object(map) = value else { continue };
                for name in rule.as_array().ok_or("required is not an array")? {
                    let name = name.as_str().ok_or("required holds a non-string")?;
                    if !map.contains_key(name) {
                        return Err(format!("{path}: '{name}' is missing"));
                    }
                }
            }
            "properties" => {
                let Value::Object(map) = value else { continue };
                let properties = rule.as_object().ok_or("properties is not an object")?;
                for (name, field) in map {
                    if let Some(rule) = properties.get(name) {
                        check(rule, field, &format!("{path}.{name}"))?;
                    }
                }
            }
            "additionalProperties" => {
                let Value::Object(map) = value else { continue };
                if rule == &Value::Bool(false) {
                    let known = rules
                        .get("properties")
                        .and_then(Value::as_object)
                        .map_or_else(Map::new, Clone::clone);
                    if let Some(extra) = map.keys().find(|k| !known.contains_key(*k)) {
                        return Err(format!("{path}: '{extra}' is not a field of the schema"));
                    }
                } else {
                    return Err(format!(
                        "{path}: additionalProperties other than false is not supported"
                    ));
                }
            }
            "items" => {
                let Value::Array(items) = value else { continue };
                for (index, item) in items.iter().enumerate() {
                    check(rule, item, &format!("{path}[{index}]"))?;
                }
            }
            "minimum" => {
                let Some(n) = value.as_f64() else { continue };
                if n < rule.as_f64().ok_or("minimum is not a number")? {
                    return Err(format!("{path}: {value} is less than {rule}"));
                }
            }
            "minLength" => {
                let Some(text) = value.as_str() else { continue };
                let min = rule.as_u64().ok_or("minLength is not a number")?;
                if (text.chars().count() as u64) < min {
                    return Err(format!("{path}: shorter than {min} characters"));
                }
            }
            other => {
                return Err(format!(
                    "{path}: the schema keyword '{other}' is outside the subset this validator \
                     checks"
                ));
            }
        }
    }
    Ok(())
}

fn check_type(rule: &Value, value: &Value, path: &str) -> Result<(), String> {
    let names: Vec<&str> = match rule {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => return Err(format!("{path}: type is neither a name nor a list")),
    };
    let matches = |name: &str| match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => false,
    };
    if names.iter().any(|n| matches(n)) {
        Ok(())
    } else {
        Err(format!("{path}: {value} is not of type {rule}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> Value {
        serde_json::json!({
            "schema": "keeper-rotators/summary/v1",
            "binary": "rotate-x",
            "version": "0.1.0",
            "dry_run": false,
            "exit_code": 3,
            "meaning": "rotated and stored, but an old credential is still valid",
            "record_uid": "u1",
            "created": ["NEW"],
            "stored": ["NEW"],
            "retired": [],
            "left": ["OLD"],
            "summary": "rotate-x: exit 3 (...)",
            "next": "delete OLD",
            "duration_ms": 12,
        })
    }

    #[test]
    fn a_line_of_the_schema_validates() {
        validate(&line().to_string()).unwrap();
    }

    #[test]
    fn a_line_off_the_schema_is_refused_naming_where() {
        for (field, bad, says) in [
            ("exit_code", serde_json::json!(5), "$.exit_code"),
            ("meaning", serde_json::json!("rotated"), "meaning of exit 3"),
            ("created", serde_json::json!([1]), "$.created[0]"),
            ("next", serde_json::json!(7), "$.next"),
            ("schema", serde_json::json!("v2"), "$.schema"),
        ] {
            let mut value = line();
            value[field] = bad;
            let error = validate(&value.to_string()).unwrap_err();
            assert!(error.contains(says), "{field}: {error}");
        }
        let mut extra = line();
        extra["secret"] = serde_json::json!("x");
        assert!(
            validate(&extra.to_string())
                .unwrap_err()
                .contains("'secret'")
        );
        let mut missing = line();
        missing.as_object_mut().unwrap().remove("left");
        assert!(
            validate(&missing.to_string())
                .unwrap_err()
                .contains("'left'")
        );
        assert!(validate("rotate-x: exit 0 (rotated)").is_err());
    }
}
