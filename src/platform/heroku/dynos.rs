//! An app's dynos and log over the API: `GET /apps/{app}/dynos`, and a log session
//! (`POST /apps/{app}/log-sessions`) whose `logplex_url` streams the log.
//!
//! The stream is read as Heroku's CLI reads it: `Accept: text/event-stream`, each event's
//! `data` one or more log lines (blank lines dropped), comments and other fields ignored. A
//! stream in plain text (older Logplex answers `text/plain`) is read line by line. The URL
//! carries its own token, like a blob URL, so no `Authorization` goes with it.

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;

use super::http::{Api, failure_from_answer, header};
use super::retry::Repeat;
use crate::platform::{Dyno, DynoState, LogQuery, LogStream, PlatformError, Result};

/// `#/definitions/dyno`, the fields `ps` shows.
#[derive(Debug, Clone, Deserialize)]
pub struct DynoWire {
    name: String,
    #[serde(rename = "type")]
    process_type: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    release: Option<ReleaseRef>,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct ReleaseRef {
    #[serde(default)]
    version: Option<u64>,
}

impl From<DynoWire> for Dyno {
    fn from(w: DynoWire) -> Dyno {
        Dyno {
            name: w.name,
            process_type: w.process_type,
            state: DynoState::parse(&w.state).unwrap_or(DynoState::Down),
            command: w.command.unwrap_or_default(),
            size: w.size.unwrap_or_default(),
            release_version: w.release.and_then(|r| r.version),
            previous_release: false,
            updated_at: w.updated_at.unwrap_or_default(),
            port: None,
            detail: None,
        }
    }
}

/// `POST /apps/{app}/log-sessions`' answer.
#[derive(Debug, Clone, Deserialize)]
struct LogSessionWire {
    logplex_url: String,
}

/// The body of `POST /apps/{app}/log-sessions` for `query`.
pub fn log_session_body(query: &LogQuery) -> serde_json::Value {
    let mut body = serde_json::json!({ "lines": query.lines, "tail": query.tail });
    if let Some(dyno) = &query.dyno {
        body["dyno_name"] = serde_json::json!(dyno);
    }
    if let Some(source) = &query.source {
        body["source"] = serde_json::json!(source);
    }
    body
}

/// The app's dynos.
pub async fn dynos(api: &Api, app: &str) -> Result<Vec<Dyno>> {
    api.list::<DynoWire, Dyno>(&["apps", app, "dynos"], None, |_| false)
        .await
}

/// Opens a log session for `query` and streams it.
pub async fn logs(api: &Api, app: &str, query: &LogQuery) -> Result<LogStream> {
    // A second session, after a lost answer, is one nobody reads: harmless.
    let session: LogSessionWire = api
        .post(
            &["apps", app, "log-sessions"],
            &log_session_body(query),
            Repeat::Harmless,
        )
        .await?;
    let url = api
        .base()
        .join(&session.logplex_url)
        .map_err(|e| invalid_url(&e.to_string()))?;
    let shown = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    // No timeout: a tailed stream lasts as long as the reader wants it.
    let response = api
        .http
        .get(url.clone())
        .header(ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|e| PlatformError::Transport {
            url: shown.clone(),
            source: Box::new(e),
        })?;
    let status = response.status();
    if !status.is_success() {
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        return Err(failure_from_answer(status, &headers, &body, api.host()).error);
    }
    let events = header(response.headers(), CONTENT_TYPE.as_str())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let mut reader = LineReader::new(events);
    let bytes = response.bytes_stream();
    let stream = bytes
        .map(move |chunk| match chunk {
            Ok(chunk) => Ok(reader.feed(&chunk)),
            Err(e) => Err(PlatformError::Transport {
                url: shown.clone(),
                source: Box::new(e),
            }),
        })
        .flat_map(|lines| {
            futures_util::stream::iter(match lines {
                Ok(lines) => lines.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        });
    Ok(Box::pin(stream))
}

fn invalid_url(reason: &str) -> PlatformError {
    PlatformError::Api {
        status: 201,
        id: "invalid_response".to_owned(),
        message: format!("the log session's logplex_url is not a URL: {reason}"),
        request_id: None,
    }
}

/// Turns a stream's bytes into log lines: server-sent events' `data`, or plain lines.
#[derive(Debug)]
struct LineReader {
    events: bool,
    pending: Vec<u8>,
    data: Vec<String>,
}

impl LineReader {
    fn new(events: bool) -> Self {
        LineReader {
            events,
            pending: Vec::new(),
            data: Vec::new(),
        }
    }

    /// The log lines `chunk` completes.
    fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw[..end]);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if !self.events {
                out.push(line.to_owned());
                continue;
            }
            if line.is_empty() {
                // The event is complete: its data lines, as the CLI splits them.
                let data = std::mem::take(&mut self.data).join("\n");
                out.extend(
                    data.split('\n')
                        .filter(|l| !l.trim().is_empty())
                        .map(str::to_owned),
                );
            } else if let Some(value) = line.strip_prefix("data:") {
                self.data
                    .push(value.strip_prefix(' ').unwrap_or(value).to_owned());
            }
            // Comments (`:`), `id:`, `event:` and `retry:` carry no log lines.
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_as_the_cli_reads_them() {
        let mut reader = LineReader::new(true);
        let mut lines = reader.feed(b": keep-alive\n\nid: 1\ndata: first line\n");
        assert!(lines.is_empty(), "an event ends with a blank line");
        lines.extend(reader.feed(b"\ndata: two\ndata: three\r\n\r\ndata:no space\n\n"));
        assert_eq!(lines, ["first line", "two", "three", "no space"]);
        let mut plain = LineReader::new(false);
        assert_eq!(plain.feed(b"a\nb"), ["a"]);
        assert_eq!(plain.feed(b"\n"), ["b"]);
    }

    #[test]
    fn the_session_asks_with_the_schemas_fields() {
        let query = LogQuery {
            lines: 10,
            tail: true,
            dyno: Some("web.1".into()),
            source: None,
        };
        assert_eq!(
            log_session_body(&query),
            serde_json::json!({ "lines": 10, "tail": true, "dyno_name": "web.1" })
        );
    }
}
