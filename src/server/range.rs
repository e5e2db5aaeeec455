//! List pagination: the `Range` request header and the `Next-Range` answer.
//!
//! Real clients spell `Range` many ways (`version ..; max=15, order=desc`,
//! `version ..; order=desc,max=10;`, `id ..; max=1000;`, `version ..; ;`, or nothing), so the
//! parser is lenient: `;` and `,` both separate parameters, whitespace and empty parameters are
//! ignored, and an unknown field or a bad `max` falls back to the default. `Next-Range` is
//! `<field> ]<last value>..; max=<n>, order=<asc|desc>`: the `]` makes the start exclusive.

use std::cmp::Ordering;

use serde_json::Value;

/// Page size when the client asks for none.
pub const DEFAULT_MAX: usize = 200;
/// The largest page a client may ask for.
pub const LIMIT_MAX: usize = 1000;

/// A parsed `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSpec {
    /// The field to sort and bound on, as the client wrote it.
    pub field: Option<String>,
    /// The first value (in the requested order); `exclusive` skips items equal to it.
    pub start: Option<String>,
    /// Whether `start` itself is excluded (`]value..`).
    pub exclusive: bool,
    /// The last value (inclusive).
    pub end: Option<String>,
    /// Page size, 1..=[`LIMIT_MAX`].
    pub max: usize,
    /// Descending order.
    pub desc: bool,
}

impl RangeSpec {
    /// Parses a `Range` header leniently; `None` (no header) is the default range.
    pub fn parse(header: Option<&str>) -> RangeSpec {
        let mut spec = RangeSpec {
            field: None,
            start: None,
            exclusive: false,
            end: None,
            max: DEFAULT_MAX,
            desc: false,
        };
        let Some(header) = header else {
            return spec;
        };
        let (head, tail) = header.split_once(';').unwrap_or((header, ""));
        let mut words = head.split_whitespace();
        spec.field = words
            .next()
            .filter(|w| !w.contains(".."))
            .map(str::to_owned);
        let range = if spec.field.is_some() {
            words.next()
        } else {
            head.split_whitespace().next()
        };
        if let Some((start, end)) = range.and_then(|r| r.split_once("..")) {
            let (start, exclusive) = match start.strip_prefix(']') {
                Some(rest) => (rest, true),
                None => (start.strip_prefix('[').unwrap_or(start), false),
            };
            spec.exclusive = exclusive;
            spec.start = Some(start.to_owned()).filter(|s| !s.is_empty());
            spec.end = Some(end.trim_end_matches(['[', ']']).to_owned()).filter(|s| !s.is_empty());
        }
        for param in tail.split([',', ';']).map(str::trim) {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            match (key.trim(), value.trim()) {
                ("max", n) => {
                    if let Ok(n) = n.parse::<usize>() {
                        spec.max = n.clamp(1, LIMIT_MAX);
                    }
                }
                ("order", "desc") => spec.desc = true,
                ("order", "asc") => spec.desc = false,
                _ => {}
            }
        }
        spec
    }
}

/// One page of a list and, when more remain, the `Next-Range` to ask for them.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The items of this page.
    pub items: Vec<Value>,
    /// The `Next-Range` header value, when the list goes on.
    pub next_range: Option<String>,
}

/// Cuts one page out of `items` (JSON objects). `fields` are the sortable fields of the
/// resource; the first is the default. With no fields, the items keep their given order.
pub fn paginate(mut items: Vec<Value>, spec: &RangeSpec, fields: &[&str]) -> Page {
    let field = spec
        .field
        .as_deref()
        .filter(|f| fields.contains(f))
        .or(fields.first().copied());
    if let Some(field) = field {
        items.sort_by(|a, b| compare(&a[field], &b[field]));
        if spec.desc {
            items.reverse();
        }
        let ordered = |a: &Value, b: &Value| {
            let ord = compare(a, b);
            if spec.desc { ord.reverse() } else { ord }
        };
        if let Some(start) = &spec.start {
            items.retain(|item| {
                let bound = typed_like(start, &item[field]);
                match ordered(&item[field], &bound) {
                    Ordering::Less => false,
                    Ordering::Equal => !spec.exclusive,
                    Ordering::Greater => true,
                }
            });
        }
        if let Some(end) = &spec.end {
            items.retain(|item| {
                let bound = typed_like(end, &item[field]);
                ordered(&item[field], &bound) != Ordering::Greater
            });
        }
    }
    let more = items.len() > spec.max;
    items.truncate(spec.max);
    let next_range = match (more, field, items.last()) {
        (true, Some(field), Some(last)) => {
            let value = match &last[field] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let order = if spec.desc { "desc" } else { "asc" };
            Some(format!(
                "{field} ]{value}..; max={}, order={order}",
                spec.max
            ))
        }
        _ => None,
    };
    Page { items, next_range }
}

/// `text` as a JSON value of the same kind as `like` (a number bound for a number field).
fn typed_like(text: &str, like: &Value) -> Value {
    match like {
        Value::Number(_) => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_owned())),
        _ => Value::String(text.to_owned()),
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(_), _) => Ordering::Less,
        (_, Value::Number(_)) => Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_clients_send_parses() {
        let cases = [
            ("version ..; max=15, order=desc", "version", 15, true),
            ("version ..; max=10,order=desc", "version", 10, true),
            ("version ..; order=desc,max=10;", "version", 10, true),
            ("id ..; max=1000;", "id", 1000, false),
            ("version ..; ;", "version", DEFAULT_MAX, false),
            ("version ..; max=5000", "version", LIMIT_MAX, false),
            (
                "version ..; max=abc, order=desc",
                "version",
                DEFAULT_MAX,
                true,
            ),
        ];
        for (header, field, max, desc) in cases {
            let spec = RangeSpec::parse(Some(header));
            assert_eq!(spec.field.as_deref(), Some(field), "{header}");
            assert_eq!((spec.max, spec.desc), (max, desc), "{header}");
            assert_eq!(spec.start, None, "{header}");
        }
        assert_eq!(RangeSpec::parse(None).max, DEFAULT_MAX);
    }

    #[test]
    fn next_range_round_trips_to_the_following_page() {
        let items: Vec<Value> = (1..=5)
            .map(|v| serde_json::json!({ "version": v }))
            .collect();
        let spec = RangeSpec::parse(Some("version ..; max=2, order=desc"));
        let first = paginate(items.clone(), &spec, &["version"]);
        let versions = |p: &Page| {
            p.items
                .iter()
                .map(|i| i["version"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(&first), [5, 4]);
        let next = first.next_range.expect("more pages");
        assert_eq!(next, "version ]4..; max=2, order=desc");
        let second = paginate(items.clone(), &RangeSpec::parse(Some(&next)), &["version"]);
        assert_eq!(versions(&second), [3, 2]);
        let third = paginate(
            items,
            &RangeSpec::parse(second.next_range.as_deref()),
            &["version"],
        );
        assert_eq!(versions(&third), [1]);
        assert_eq!(third.next_range, None);
    }

    #[test]
    fn inclusive_bounds_and_unknown_fields() {
        let items: Vec<Value> = (1..=5)
            .map(|v| serde_json::json!({ "version": v }))
            .collect();
        let spec = RangeSpec::parse(Some("version 2..4"));
        let page = paginate(items.clone(), &spec, &["version"]);
        assert_eq!(page.items.len(), 3);
        let spec = RangeSpec::parse(Some("colour ..; order=desc"));
        let page = paginate(items, &spec, &["version"]);
        assert_eq!(page.items[0]["version"], 5);
    }
}
