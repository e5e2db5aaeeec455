//! The headers the router adds, keeps and drops, as Heroku's router does.
//!
//! Toward the dyno it adds `X-Forwarded-For` (the client's address appended to any the client
//! sent), `X-Forwarded-Proto` (`http`), `X-Forwarded-Port` (the app's port), `X-Request-Start`
//! (when the router received the request, in milliseconds since the epoch) and `X-Request-Id`
//! (the client's own when it is 20 to 200 characters of `[A-Za-z0-9+/=-]`, as Heroku keeps it,
//! else a new UUID), and `Via`. Hop-by-hop headers (RFC 9110 §7.6.1: `Connection` and the
//! headers it names, `Keep-Alive`, `Proxy-*`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`)
//! are not forwarded either way, except `Connection: upgrade` and `Upgrade` on a request to
//! switch protocols (WebSocket), which the router relays.

use std::net::IpAddr;

use hyper::HeaderMap;
use hyper::header::{self, HeaderName, HeaderValue};

/// `Via`'s pseudonym for the router.
const VIA: &str = "1.1 slugplan";

/// The headers that concern one connection only.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether `headers` ask to switch protocols (`Connection: upgrade` with `Upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Removes the hop-by-hop headers from `headers`; with `upgrade`, keeps `Upgrade` and sets
/// `Connection: upgrade`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    let protocol = headers.get(header::UPGRADE).cloned();
    for name in &named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
    if upgrade && let Some(protocol) = protocol {
        headers.insert(header::UPGRADE, protocol);
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// The request id the dyno gets: the client's when Heroku would keep it, else a new one.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (20..=200).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-'))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// `X-Forwarded-For` as the dyno gets it: what the client sent, then the client's address.
pub fn forwarded_for(headers: &HeaderMap, client: IpAddr) -> String {
    let sent: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if sent.is_empty() {
        client.to_string()
    } else {
        format!("{}, {client}", sent.join(", "))
    }
}

/// What the router tells the dyno about the request.
pub struct Forwarded<'a> {
    /// `X-Forwarded-For`.
    pub forwarded_for: &'a str,
    /// The app's port, `X-Forwarded-Port`.
    pub port: u16,
    /// Milliseconds since the epoch, `X-Request-Start`.
    pub request_start: i64,
    /// `X-Request-Id`.
    pub request_id: &'a str,
}

/// Sets the headers of [`Forwarded`] on a request going to a dyno, and `Via`.
pub fn add_forwarded(headers: &mut HeaderMap, forwarded: &Forwarded<'_>) {
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-forwarded-for", forwarded.forwarded_for.to_owned());
    set("x-forwarded-proto", "http".to_owned());
    set("x-forwarded-port", forwarded.port.to_string());
    set("x-request-start", forwarded.request_start.to_string());
    set("x-request-id", forwarded.request_id.to_owned());
    add_via(headers);
}

/// Appends the router to `Via` (requests and responses both carry it).
pub fn add_via(headers: &mut HeaderMap) {
    headers.append(header::VIA, HeaderValue::from_static(VIA));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        headers
    }

    #[test]
    fn hop_by_hop_headers_stay_behind_unless_upgrading() {
        let mut headers = map(&[
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("transfer-encoding", "chunked"),
            ("accept", "text/html"),
        ]);
        strip_hop_by_hop(&mut headers, false);
        assert_eq!(headers, map(&[("accept", "text/html")]));

        let mut headers = map(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        assert!(is_upgrade(&headers));
        strip_hop_by_hop(&mut headers, true);
        assert_eq!(
            headers,
            map(&[("upgrade", "websocket"), ("connection", "upgrade")])
        );
        assert!(!is_upgrade(&map(&[("upgrade", "websocket")])));
    }

    #[test]
    fn a_clients_request_id_is_kept_only_when_heroku_would() {
        let good = "abcdefghij0123456789+/=-";
        assert_eq!(request_id(&map(&[("x-request-id", good)])), good);
        for bad in [
            "short",
            "has spaces in it, twenty chars",
            "ünïcödé-ünïcödé-ünïcödé",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                "x-request-id",
                HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            );
            let id = request_id(&headers);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad} → {id}");
        }
    }

    #[test]
    fn the_client_is_appended_to_forwarded_for() {
        let client: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(forwarded_for(&HeaderMap::new(), client), "127.0.0.1");
        assert_eq!(
            forwarded_for(&map(&[("x-forwarded-for", "203.0.113.9")]), client),
            "203.0.113.9, 127.0.0.1"
        );
        let mut headers = HeaderMap::new();
        add_forwarded(
            &mut headers,
            &Forwarded {
                forwarded_for: "127.0.0.1",
                port: 20123,
                request_start: 1_700_000_000_123,
                request_id: "id-0123456789abcdefghij",
            },
        );
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-port"], "20123");
        assert_eq!(headers["x-request-start"], "1700000000123");
        assert_eq!(headers["x-request-id"], "id-0123456789abcdefghij");
        assert_eq!(headers["via"], "1.1 slugplan");
    }
}
