//! List answers as the Platform API gives them: filtered by `eq[field]=value` query parameters,
//! then cut into one page per the `Range` header (`206` and `Next-Range` when more remain).
//!
//! The fields a list can be sorted and bounded on are its link's range fields in the schema
//! (see `links.rs`): the router attaches each served link to its requests.
//!
//! Filters keep the items whose top-level `field` equals `value` (compared as text, so
//! `eq[version]=3` works too), as Heroku filters `GET /pipelines?eq[name]=NAME`; several filters
//! must all hold. Other query parameters are ignored, as the API ignores them.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::json;
use super::range::{RangeSpec, paginate};
use super::routes::ServedLink;

/// What a list request asks for: its filters and its range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListQuery {
    /// `eq[field]=value` pairs, as (field, value).
    pub(crate) filters: Vec<(String, String)>,
    /// The parsed `Range` header.
    pub(crate) range: RangeSpec,
    /// The list's sortable fields (the first is the default order).
    pub(crate) fields: &'static [&'static str],
}

impl ListQuery {
    /// The query of a request with `query` (the URI's query string) and `range` (its header),
    /// for a list sortable on `fields`.
    pub(crate) fn parse(
        query: Option<&str>,
        range: Option<&str>,
        fields: &'static [&'static str],
    ) -> ListQuery {
        let filters = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter_map(|(key, value)| {
                let field = key.strip_prefix("eq[")?.strip_suffix(']')?;
                Some((field.to_owned(), value.into_owned()))
            })
            .collect();
        ListQuery {
            filters,
            range: RangeSpec::parse(range),
            fields,
        }
    }

    /// Whether `item` passes every filter.
    fn keeps(&self, item: &Value) -> bool {
        self.filters
            .iter()
            .all(|(field, value)| match &item[field] {
                Value::String(s) => s == value,
                Value::Number(n) => n.to_string() == *value,
                Value::Bool(b) => value.parse() == Ok(*b),
                _ => false,
            })
    }

    /// The answer: the items that pass the filters, one page of them, with the sortable fields
    /// in `Accept-Ranges`.
    pub(crate) fn answer(&self, items: Vec<Value>) -> Response {
        let items = items.into_iter().filter(|item| self.keeps(item)).collect();
        let page = paginate(items, &self.range, self.fields);
        let status = if page.next_range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        };
        let mut response = json(status, Value::Array(page.items));
        if let Some(next) = page.next_range.and_then(|n| HeaderValue::from_str(&n).ok()) {
            response.headers_mut().insert("next-range", next);
        }
        if let Ok(accept) = HeaderValue::from_str(&self.fields.join(", ")) {
            response.headers_mut().insert(header::ACCEPT_RANGES, accept);
        }
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let range = parts
            .headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok());
        let fields = parts
            .extensions
            .get::<ServedLink>()
            .map_or(&[][..], |served| &served.0.ranges[..]);
        Ok(ListQuery::parse(parts.uri.query(), range, fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn eq_filters_keep_matching_items_only() {
        let query = ListQuery::parse(Some("eq%5Bname%5D=shop&other=1"), None, &["id"]);
        assert_eq!(query.filters, [("name".to_owned(), "shop".to_owned())]);
        assert!(query.keeps(&json!({ "name": "shop" })));
        assert!(!query.keeps(&json!({ "name": "shop-eu" })));
        assert!(!query.keeps(&json!({ "id": "shop" })));
        let query = ListQuery::parse(Some("eq[version]=3"), None, &["id"]);
        assert!(query.keeps(&json!({ "version": 3 })));
        assert!(ListQuery::parse(None, None, &[]).keeps(&json!({})));
    }
}
