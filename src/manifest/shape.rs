//! The manifest's shape, checked against its own JSON Schema before serde reads it, so that
//! every unknown key, wrong type, missing key, value out of range and unknown variant is
//! reported at once, each underlined (serde stops at the first).
//!
//! The schema is the one [`super::json_schema`] generates from the manifest's types, so the
//! shape has a single source: a key added to a type is known here, with its type, without
//! anything to keep in step. Only what serde would refuse is checked here: types, keys,
//! `required`, the variants of an enum type, the range of an integer type. The schema's other
//! constraints (patterns, the known stacks, `maximum`s) are [`super::validate`]'s, with
//! messages of their own, because a shape problem stops the load before validation runs. A
//! document this walk passes is one serde reads; should serde still refuse it, its error is
//! reported as before.

use std::collections::BTreeSet;
use std::ops::Range;

use serde_json::{Map, Value};
use toml::de::{DeTable, DeValue};

use super::{SourceDiagnostic, TomlLocator, shown};

/// Every shape problem of the document `root`, in file order.
pub(super) fn check(
    root: &DeTable<'_>,
    root_span: Range<usize>,
    locator: &TomlLocator,
) -> Vec<SourceDiagnostic> {
    let schema = super::json_schema();
    let empty = Map::new();
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut walker = Walker {
        defs,
        locator,
        problems: Vec::new(),
    };
    walker.table(&schema, root, root_span, &mut Vec::new());
    let mut problems = walker.problems;
    problems.sort_by_key(SourceDiagnostic::line_column);
    problems
}

struct Walker<'a> {
    defs: &'a Map<String, Value>,
    locator: &'a TomlLocator,
    problems: Vec<SourceDiagnostic>,
}

/// What a schema allows, with `$ref`s followed and `null` (an `Option`'s absence) dropped.
struct Allowed<'s> {
    schema: &'s Value,
    /// The JSON types allowed, empty for any.
    types: Vec<&'s str>,
    /// The allowed values of an enum type (a `oneOf` of `const`s).
    values: Option<Vec<&'s str>>,
}

impl<'a> Walker<'a> {
    /// `schema` with `$ref`s followed and `anyOf`/`oneOf` narrowed: None when it says nothing
    /// this walk can check (a real union).
    fn allowed<'s>(&self, mut schema: &'s Value) -> Option<Allowed<'s>>
    where
        'a: 's,
    {
        for _ in 0..16 {
            if let Some(name) = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
            {
                schema = self.defs.get(name)?;
                continue;
            }
            let branches = schema
                .get("anyOf")
                .or_else(|| schema.get("oneOf"))
                .and_then(Value::as_array);
            let Some(branches) = branches else { break };
            let kept: Vec<&Value> = branches
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            let consts: Option<Vec<&str>> = kept
                .iter()
                .map(|b| b.get("const").and_then(Value::as_str))
                .collect();
            match (kept.as_slice(), consts) {
                (_, Some(values)) if !values.is_empty() => {
                    return Some(Allowed {
                        schema,
                        types: vec!["string"],
                        values: Some(values),
                    });
                }
                ([one], _) => schema = one,
                _ => return None,
            }
        }
        let types = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let types = types.into_iter().filter(|t| *t != "null").collect();
        Some(Allowed {
            schema,
            types,
            values: None,
        })
    }

    fn value(
        &mut self,
        schema: &Value,
        value: &DeValue<'_>,
        span: Range<usize>,
        path: &mut Vec<String>,
    ) {
        let Some(allowed) = self.allowed(schema) else {
            return;
        };
        let found = json_type(value);
        let fits = allowed.types.is_empty()
            || allowed
                .types
                .iter()
                .any(|t| *t == found.0 || (*t == "number" && found.0 == "integer"));
        if !fits {
            let expected: Vec<String> = allowed.types.iter().map(|t| article(t)).collect();
            self.problem(
                path,
                span,
                "slugplan::manifest::schema",
                format!("expected {}, found {}", expected.join(" or "), found.1),
                "wrong type",
            );
            return;
        }
        match value {
            DeValue::Table(table) => self.table(allowed.schema, table, span, path),
            DeValue::Array(array) => {
                if let Some(items) = allowed.schema.get("items") {
                    for (i, item) in array.iter().enumerate() {
                        path.push(i.to_string());
                        self.value(items, item.get_ref(), item.span(), path);
                        path.pop();
                    }
                }
            }
            DeValue::String(text) => {
                if let Some(values) = &allowed.values
                    && !values.contains(&text.as_ref())
                {
                    let listed: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
                    self.problem(
                        path,
                        span,
                        "slugplan::manifest::schema",
                        format!(
                            "unknown variant `{}`, expected one of {}",
                            shown(text),
                            listed.join(", ")
                        ),
                        "not an allowed value",
                    );
                }
            }
            DeValue::Integer(integer) => {
                let number = i128::from_str_radix(integer.as_str(), integer.radix()).ok();
                let (min, max) = range(allowed.schema);
                if let Some(number) = number
                    && (min.is_some_and(|min| number < min) || max.is_some_and(|max| number > max))
                {
                    let bounds = match (min, max) {
                        (Some(min), Some(max)) => format!("from {min} to {max}"),
                        (Some(min), None) => format!("at least {min}"),
                        (None, Some(max)) => format!("at most {max}"),
                        (None, None) => unreachable!("a bound was crossed"),
                    };
                    self.problem(
                        path,
                        span,
                        "slugplan::manifest::schema",
                        format!(
                            "{} is out of range: it must be {bounds}",
                            shown(integer.as_str())
                        ),
                        "out of range",
                    );
                }
            }
            _ => {}
        }
    }

    fn table(
        &mut self,
        schema: &Value,
        table: &DeTable<'_>,
        span: Range<usize>,
        path: &mut Vec<String>,
    ) {
        let Some(allowed) = self.allowed(schema) else {
            return;
        };
        let schema = allowed.schema;
        let empty = Map::new();
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let additional = schema.get("additionalProperties");
        for (key, value) in table.iter() {
            path.push(key.get_ref().to_string());
            match (properties.get(key.get_ref().as_ref()), additional) {
                (Some(property), _) => self.value(property, value.get_ref(), value.span(), path),
                (None, Some(Value::Bool(false))) => {
                    let expected: Vec<String> =
                        properties.keys().map(|k| format!("`{k}`")).collect();
                    self.problem(
                        path,
                        key.span(),
                        "slugplan::manifest::schema",
                        format!(
                            "unknown field `{}`, expected {}",
                            shown(key.get_ref()),
                            match expected.len() {
                                1 => expected[0].clone(),
                                _ => format!("one of {}", expected.join(", ")),
                            }
                        ),
                        "unknown key",
                    );
                }
                (None, Some(each)) if each.is_object() => {
                    self.value(each, value.get_ref(), value.span(), path);
                }
                (None, _) => {}
            }
            path.pop();
        }
        let present: BTreeSet<&str> = table.iter().map(|(k, _)| k.get_ref().as_ref()).collect();
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !present.contains(required) {
                // Where the table is written (its `[header]`); the document itself is not.
                let at = self
                    .locator
                    .span(
                        &path.iter().map(String::as_str).collect::<Vec<_>>(),
                        super::Part::Value,
                    )
                    .unwrap_or(span.clone());
                self.problem(
                    path,
                    at,
                    "slugplan::manifest::schema",
                    format!("missing field `{required}`"),
                    "required key missing in this table",
                );
            }
        }
    }

    fn problem(
        &mut self,
        path: &[String],
        span: Range<usize>,
        code: &'static str,
        what: String,
        label: &str,
    ) {
        let key: Vec<String> = path.iter().map(|p| shown(p)).collect();
        let message = if key.is_empty() {
            what
        } else {
            format!("{}: {what}", key.join("."))
        };
        self.problems.push(
            self.locator
                .diagnostic(code, message)
                .with_label(span, label)
                .with_help("`slugplan schema` prints every key slug.toml accepts, with its type"),
        );
    }
}

/// The bounds of the schema's integer type (its `format`), what serde refuses outside.
fn range(schema: &Value) -> (Option<i128>, Option<i128>) {
    match schema.get("format").and_then(Value::as_str) {
        Some("uint8") => (Some(0), Some(u8::MAX.into())),
        Some("uint16") => (Some(0), Some(u16::MAX.into())),
        Some("uint32") => (Some(0), Some(u32::MAX.into())),
        Some("uint64") => (Some(0), Some(u64::MAX.into())),
        Some("int32") => (Some(i32::MIN.into()), Some(i32::MAX.into())),
        Some("int64") => (Some(i64::MIN.into()), Some(i64::MAX.into())),
        _ => (None, None),
    }
}

/// The JSON type a TOML value maps to, and how a message names it.
fn json_type(value: &DeValue<'_>) -> (&'static str, &'static str) {
    match value {
        DeValue::String(_) => ("string", "a string"),
        DeValue::Integer(_) => ("integer", "an integer"),
        DeValue::Float(_) => ("number", "a float"),
        DeValue::Boolean(_) => ("boolean", "a boolean"),
        DeValue::Datetime(_) => ("datetime", "a date-time"),
        DeValue::Array(_) => ("array", "an array"),
        DeValue::Table(_) => ("object", "a table"),
    }
}

/// A JSON type as TOML users call it, with its article.
fn article(json_type: &str) -> String {
    match json_type {
        "object" => "a table".to_owned(),
        "array" => "an array".to_owned(),
        "integer" => "an integer".to_owned(),
        "number" => "a number".to_owned(),
        "boolean" => "a boolean".to_owned(),
        "string" => "a string".to_owned(),
        other => format!("a {other}"),
    }
}
