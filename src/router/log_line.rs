//! The router's one line per request, in Heroku's format:
//!
//! ```text
//! at=info method=GET path="/" host=127.0.0.1:20123 request_id=8601b555-… fwd="127.0.0.1" dyno=web.1 connect=0ms service=3ms status=200 bytes=12 protocol=http
//! at=error code=H14 desc="No web processes running" method=GET path="/" host=… request_id=… fwd="…" dyno= connect= service= status=503 bytes= protocol=http
//! ```
//!
//! Quoted values (`path`, `fwd`, `desc`) have `"` and `\` escaped and control characters
//! dropped, so one request is always one line whatever a client sends.

use std::fmt::Write;
use std::time::Duration;

use super::pages::Failure;

/// What a line says about the request, known when it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    /// `GET`.
    pub method: String,
    /// The path and query, as sent.
    pub path: String,
    /// The `Host` the client sent.
    pub host: String,
    /// The request id the dyno got as `X-Request-Id`.
    pub request_id: String,
    /// The `X-Forwarded-For` the dyno got: the client's address last.
    pub fwd: String,
}

/// How a request went: what the line ends with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The dyno that served it, if one was reached.
    pub dyno: Option<String>,
    /// Time to get a connection to the dyno.
    pub connect: Option<Duration>,
    /// Time from the connection to the end of the response.
    pub service: Option<Duration>,
    /// The status the client got.
    pub status: u16,
    /// Body bytes sent to the client, if any were relayed.
    pub bytes: Option<u64>,
}

impl RequestLine {
    /// The line, for a request that ended with `outcome`, or with `failure` when the router
    /// answered (or cut the answer short) itself.
    pub fn render(&self, failure: Option<Failure>, outcome: &Outcome) -> String {
        let mut line = String::with_capacity(256);
        match failure {
            Some(failure) => {
                let _ = write!(
                    line,
                    "at={} code={} desc=\"{}\" ",
                    failure.level(),
                    failure.code(),
                    quoted(failure.description())
                );
            }
            None => line.push_str("at=info "),
        }
        let ms = |d: Option<Duration>| d.map(|d| format!("{}ms", d.as_millis()));
        let _ = write!(
            line,
            "method={} path=\"{}\" host={} request_id={} fwd=\"{}\" dyno={} connect={} service={} \
             status={} bytes={} protocol=http",
            token(&self.method),
            quoted(&self.path),
            token(&self.host),
            token(&self.request_id),
            quoted(&self.fwd),
            outcome.dyno.as_deref().unwrap_or_default(),
            ms(outcome.connect).unwrap_or_default(),
            ms(outcome.service).unwrap_or_default(),
            outcome.status,
            outcome.bytes.map(|b| b.to_string()).unwrap_or_default(),
        );
        line
    }
}

/// A value written inside quotes.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A value written bare: no spaces, quotes or control characters.
fn token(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && *c != '"')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RequestLine {
        RequestLine {
            method: "GET".to_owned(),
            path: "/search?q=\"x\"".to_owned(),
            host: "127.0.0.1:20123".to_owned(),
            request_id: "4b8a0ad3-1c52-4c8c-8b4d-63a2d5e1e3f4".to_owned(),
            fwd: "10.0.0.1, 127.0.0.1".to_owned(),
        }
    }

    #[test]
    fn an_answered_request_reads_as_herokus() {
        let line = request().render(
            None,
            &Outcome {
                dyno: Some("web.1".to_owned()),
                connect: Some(Duration::from_micros(400)),
                service: Some(Duration::from_millis(12)),
                status: 200,
                bytes: Some(13),
            },
        );
        assert_eq!(
            line,
            "at=info method=GET path=\"/search?q=\\\"x\\\"\" host=127.0.0.1:20123 \
             request_id=4b8a0ad3-1c52-4c8c-8b4d-63a2d5e1e3f4 fwd=\"10.0.0.1, 127.0.0.1\" \
             dyno=web.1 connect=0ms service=12ms status=200 bytes=13 protocol=http"
        );
    }

    #[test]
    fn a_router_error_names_its_code_and_leaves_the_dyno_blank() {
        let line = request().render(
            Some(Failure::NoWebProcesses),
            &Outcome {
                status: 503,
                ..Outcome::default()
            },
        );
        assert!(
            line.starts_with("at=error code=H14 desc=\"No web processes running\" method=GET "),
            "{line}"
        );
        assert!(
            line.ends_with(" dyno= connect= service= status=503 bytes= protocol=http"),
            "{line}"
        );
        let maintenance = request().render(Some(Failure::Maintenance), &Outcome::default());
        assert!(
            maintenance.starts_with("at=info code=H80 "),
            "{maintenance}"
        );
    }

    #[test]
    fn a_client_cannot_break_the_line() {
        let mut evil = request();
        evil.path = "/\nat=info forged".to_owned();
        evil.host = "a b\r\nc".to_owned();
        let line = evil.render(None, &Outcome::default());
        assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        assert!(line.contains("host=abc "), "{line}");
    }
}
