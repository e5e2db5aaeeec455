//! The local platform's per-app log, in Heroku's format, rotated and bounded on disk.
//!
//! Each line is one record: `2026-12-01T09:00:00.123456+00:00 app[web.1]: Server listening`
//! (a dyno's output), `… heroku[web.1]: State changed from starting to up` (the platform's
//! own lines) and `… heroku[router]: at=info method=GET …` (the router's). The log of app
//! `shop` is `logs/shop.log` in the data directory; when it passes
//! [`LogLimits::file_bytes`] it is renamed `logs/shop.log.1` (replacing the one before) and a
//! new one starts, so an app's log never takes more than twice that. Lines longer than
//! [`LogLimits::line_bytes`] are cut there, as Logplex cuts them.
//!
//! Guarantees:
//! - one process writes an app's log (the supervisor's, which owns the dynos and the router),
//!   through one [`AppLogs`], whose lock orders appends and rotation; each record is one
//!   `write` to a file opened for appending, so a reader sees whole lines or none of one;
//! - readers in any process ([`AppLogs::tail`], [`LogFollower`]) see every line once, in order,
//!   across a rotation: a follower finishes the file it holds open before it turns to the new one
//!   (a follower that waits while more than a whole file is written misses the file between);
//! - appending never fails its caller: a log that cannot be written is reported once per app to
//!   the tracing log, and the dyno or request it describes goes on.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::platform::{LogQuery, LogStream, PlatformError};

/// The log directory, inside the data directory.
pub const LOG_DIR: &str = "logs";

/// The most lines a backlog holds (Logplex keeps 1,500 per app).
pub const MAX_LINES: usize = 1500;

/// How often a follower looks for new lines.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

/// How big an app's log may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// The size at which the current file is rotated: an app's log takes at most twice this.
    pub file_bytes: u64,
    /// The longest message kept (longer ones are cut, at a character boundary).
    pub line_bytes: usize,
}

impl Default for LogLimits {
    /// 1 MiB per file (a few thousand lines, more than Logplex's 1,500), 10,000 bytes per line
    /// (Logplex's cut).
    fn default() -> Self {
        LogLimits {
            file_bytes: 1 << 20,
            line_bytes: 10_000,
        }
    }
}

/// The per-app logs of one local platform: appended to by the supervisor and the router,
/// read by log sessions and `slugplan logs`. Cheap to clone; clones share one lock.
#[derive(Debug, Clone)]
pub struct AppLogs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    limits: LogLimits,
    writers: Mutex<Writers>,
}

#[derive(Debug, Default)]
struct Writers {
    open: HashMap<String, Writer>,
    /// Apps whose log could not be written, already reported.
    failed: HashSet<String>,
}

#[derive(Debug)]
struct Writer {
    file: File,
    len: u64,
}

impl AppLogs {
    /// The logs of the local platform in `data_dir`, with the default limits. Nothing is
    /// written until a line is appended.
    pub fn open(data_dir: &Path) -> AppLogs {
        AppLogs::with_limits(data_dir, LogLimits::default())
    }

    /// Like [`AppLogs::open`], with other limits.
    pub fn with_limits(data_dir: &Path, limits: LogLimits) -> AppLogs {
        AppLogs {
            inner: Arc::new(Inner {
                dir: data_dir.join(LOG_DIR),
                limits,
                writers: Mutex::new(Writers::default()),
            }),
        }
    }

    /// The file `app`'s current log is in.
    pub fn path(&self, app: &str) -> PathBuf {
        self.inner.dir.join(format!("{app}.log"))
    }

    fn rotated_path(&self, app: &str) -> PathBuf {
        self.inner.dir.join(format!("{app}.log.1"))
    }

    /// Appends `line` to `app`'s log, stamped now, from `source` (`app`, `heroku`, or `router`,
    /// written `heroku[router]` as Heroku writes its router's lines) and `dyno` (`web.1`,
    /// `router`). Each line of a multi-line `line` becomes a record of its own.
    pub fn append(&self, app: &str, source: &str, dyno: &str, line: &str) {
        if !is_app_name(app) {
            return;
        }
        let now = jiff::Timestamp::now();
        let mut records = String::new();
        for part in line.split('\n') {
            let part = part.strip_suffix('\r').unwrap_or(part);
            let part = truncate(part, self.inner.limits.line_bytes);
            records.push_str(&format_line(now, source, dyno, part));
            records.push('\n');
        }
        let mut writers = crate::sync::lock(&self.inner.writers);
        if let Err(err) = self.write(&mut writers, app, records.as_bytes()) {
            writers.open.remove(app);
            if writers.failed.insert(app.to_owned()) {
                tracing::warn!(app, error = %err, path = %self.path(app).display(), "cannot write the app's log");
            }
        }
    }

    fn write(&self, writers: &mut Writers, app: &str, bytes: &[u8]) -> io::Result<()> {
        let writer = match writers.open.entry(app.to_owned()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                fs_err::create_dir_all(&self.inner.dir)?;
                let file = open_append(&self.path(app))?;
                let len = file.metadata()?.len();
                entry.insert(Writer { file, len })
            }
        };
        writer.file.write_all(bytes)?;
        writer.len += bytes.len() as u64;
        if writer.len >= self.inner.limits.file_bytes {
            // Renamed while open: a follower holding the old file finishes it, then sees the
            // new one under the same name.
            fs_err::rename(self.path(app), self.rotated_path(app))?;
            writer.file = open_append(&self.path(app))?;
            writer.len = 0;
        }
        Ok(())
    }

    /// Moves `from`'s log to `to` (the app was renamed).
    pub fn rename(&self, from: &str, to: &str) {
        if !is_app_name(from) || !is_app_name(to) {
            return;
        }
        let mut writers = crate::sync::lock(&self.inner.writers);
        writers.open.remove(from);
        writers.open.remove(to);
        for (old, new) in [
            (self.rotated_path(from), self.rotated_path(to)),
            (self.path(from), self.path(to)),
        ] {
            if let Err(err) = std::fs::rename(&old, &new)
                && err.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(error = %err, path = %old.display(), "cannot rename the app's log");
            }
        }
    }

    /// Removes `app`'s log (the app was deleted).
    pub fn remove(&self, app: &str) {
        if !is_app_name(app) {
            return;
        }
        let mut writers = crate::sync::lock(&self.inner.writers);
        writers.open.remove(app);
        writers.failed.remove(app);
        for path in [self.rotated_path(app), self.path(app)] {
            if let Err(err) = std::fs::remove_file(&path)
                && err.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(error = %err, path = %path.display(), "cannot remove the app's log");
            }
        }
    }

    /// The newest `lines` lines of `app`'s log that pass `filter` (at most [`MAX_LINES`]), and
    /// a follower that reads the lines written after them.
    pub fn tail(
        &self,
        app: &str,
        filter: &LogFilter,
        lines: usize,
    ) -> io::Result<(Vec<String>, LogFollower)> {
        let path = self.path(app);
        // The current file first: if it is rotated meanwhile, the rotated one is this very file
        // (same inode) and is read once.
        let current = open_if_exists(&path)?;
        let current_ino = current
            .as_ref()
            .map(File::metadata)
            .transpose()?
            .map(|m| m.ino());
        let mut backlog = Vec::new();
        if let Some(mut rotated) = open_if_exists(&self.rotated_path(app))?
            && Some(rotated.metadata()?.ino()) != current_ino
        {
            rotated.read_to_end(&mut backlog)?;
            // A rotated file always ends with a whole line.
            if !backlog.is_empty() && !backlog.ends_with(b"\n") {
                backlog.push(b'\n');
            }
        }
        let mut follower = LogFollower {
            path,
            file: current,
            ino: current_ino,
            partial: Vec::new(),
            filter: filter.clone(),
        };
        if let Some(file) = &mut follower.file {
            file.read_to_end(&mut backlog)?;
        }
        let mut complete = Vec::new();
        split_lines(&mut backlog, &mut complete);
        follower.partial = backlog;
        let matching: Vec<String> = complete.into_iter().filter(|l| filter.matches(l)).collect();
        let keep = lines.min(MAX_LINES);
        let skip = matching.len().saturating_sub(keep);
        Ok((matching.into_iter().skip(skip).collect(), follower))
    }

    /// `app`'s log as a stream, for `query`: the backlog, then (with `query.tail`) each new
    /// line, looked for every [`FOLLOW_INTERVAL`].
    pub async fn stream(&self, app: &str, query: &LogQuery) -> Result<LogStream, PlatformError> {
        let (logs, name, filter, lines) = (
            self.clone(),
            app.to_owned(),
            LogFilter::from(query),
            query.lines,
        );
        let path = self.path(app);
        let (backlog, follower) =
            tokio::task::spawn_blocking(move || logs.tail(&name, &filter, lines))
                .await
                .map_err(|e| PlatformError::Storage {
                    message: "a log reader panicked".to_owned(),
                    source: Some(Box::new(e)),
                })?
                .map_err(|e| super::blobs::io_error(&path, e))?;
        let tail = query.tail;
        let state = (
            backlog.into_iter(),
            follower,
            std::collections::VecDeque::new(),
        );
        Ok(Box::pin(futures_util::stream::unfold(
            state,
            move |(mut backlog, mut follower, mut fresh)| async move {
                if let Some(line) = backlog.next() {
                    return Some((Ok(line), (backlog, follower, fresh)));
                }
                if !tail {
                    return None;
                }
                loop {
                    if let Some(line) = fresh.pop_front() {
                        return Some((Ok(line), (backlog, follower, fresh)));
                    }
                    match follower.poll() {
                        Ok(lines) if lines.is_empty() => tokio::time::sleep(FOLLOW_INTERVAL).await,
                        Ok(lines) => fresh.extend(lines),
                        Err(e) => {
                            let err = super::blobs::io_error(&follower.path, e);
                            return Some((Err(err), (backlog, follower, fresh)));
                        }
                    }
                }
            },
        )))
    }
}

/// Reads the lines appended to an app's log after a [`AppLogs::tail`], across rotations.
#[derive(Debug)]
pub struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    ino: Option<u64>,
    partial: Vec<u8>,
    filter: LogFilter,
}

impl LogFollower {
    /// The whole lines written since the last call that pass the filter; none when there are
    /// none yet. Reads a few bytes of a local file: cheap enough to call from async code.
    pub fn poll(&mut self) -> io::Result<Vec<String>> {
        let mut complete = Vec::new();
        let now_ino = match std::fs::metadata(&self.path) {
            Ok(meta) => Some(meta.ino()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(err) => return Err(err),
        };
        if let Some(file) = &mut self.file {
            file.read_to_end(&mut self.partial)?;
            split_lines(&mut self.partial, &mut complete);
        }
        if now_ino.is_some() && now_ino != self.ino {
            // Rotated (or created): the old file was read to its end above; a line it ended
            // without a newline is whole.
            if !self.partial.is_empty() {
                self.partial.push(b'\n');
                split_lines(&mut self.partial, &mut complete);
            }
            self.file = open_if_exists(&self.path)?;
            self.ino = self
                .file
                .as_ref()
                .map(File::metadata)
                .transpose()?
                .map(|m| m.ino());
            if let Some(file) = &mut self.file {
                file.read_to_end(&mut self.partial)?;
                split_lines(&mut self.partial, &mut complete);
            }
        }
        Ok(complete
            .into_iter()
            .filter(|line| self.filter.matches(line))
            .collect())
    }
}

/// Which lines a reader wants: Heroku's `--dyno` (a dyno name, or a process type that matches
/// all of its dynos) and `--source` (`app`, `heroku`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// A dyno name (`web.1`) or process type (`web`, `router`).
    pub dyno: Option<String>,
    /// A source (`app`, `heroku`).
    pub source: Option<String>,
}

impl From<&LogQuery> for LogFilter {
    fn from(query: &LogQuery) -> Self {
        LogFilter {
            dyno: query.dyno.clone().filter(|d| !d.is_empty()),
            source: query.source.clone().filter(|s| !s.is_empty()),
        }
    }
}

impl LogFilter {
    /// Whether the record `line` passes.
    pub fn matches(&self, line: &str) -> bool {
        let Some(parsed) = LogLine::parse(line) else {
            return self.dyno.is_none() && self.source.is_none();
        };
        let source_ok = self.source.as_deref().is_none_or(|s| s == parsed.source);
        let dyno_ok = self.dyno.as_deref().is_none_or(|d| {
            parsed.dyno == d
                || parsed
                    .dyno
                    .strip_prefix(d)
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        source_ok && dyno_ok
    }
}

/// A record of the log, read back: `TIMESTAMP SOURCE[DYNO]: MESSAGE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// RFC 3339 with microseconds and `+00:00`.
    pub timestamp: &'a str,
    /// `app` or `heroku`.
    pub source: &'a str,
    /// `web.1`, `router`, `run.1234`.
    pub dyno: &'a str,
    /// The message.
    pub message: &'a str,
}

impl<'a> LogLine<'a> {
    /// Parses one record; None when it is not in the log's format.
    pub fn parse(line: &'a str) -> Option<LogLine<'a>> {
        let (timestamp, rest) = line.split_once(' ')?;
        let (token, message) = rest
            .split_once("]: ")
            .or_else(|| rest.strip_suffix("]:").map(|token| (token, "")))?;
        let (source, dyno) = token.split_once('[')?;
        Some(LogLine {
            timestamp,
            source,
            dyno,
            message,
        })
    }
}

/// One record: `at` as `2026-12-01T09:00:00.123456+00:00`, then `source[dyno]: message`.
pub fn format_line(at: jiff::Timestamp, source: &str, dyno: &str, message: &str) -> String {
    let source = match source {
        // Heroku's router writes as the platform, from the process `router`.
        "router" => "heroku",
        "app" | "heroku" => source,
        _ => "app",
    };
    let dyno: String = dyno
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(64)
        .collect();
    format!(
        "{}.{:06}+00:00 {source}[{dyno}]: {message}",
        at.strftime("%Y-%m-%dT%H:%M:%S"),
        at.subsec_microsecond()
    )
}

/// Whether `app` is an app name, so a path built from it stays in the log directory.
fn is_app_name(app: &str) -> bool {
    !app.is_empty()
        && app
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `text` cut to at most `max` bytes at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Moves the whole lines at the front of `buffer` to `out` (without their newlines, decoded
/// lossily), leaving a line not yet ended in `buffer`.
fn split_lines(buffer: &mut Vec<u8>, out: &mut Vec<String>) {
    let Some(last) = buffer.iter().rposition(|b| *b == b'\n') else {
        return;
    };
    let rest = buffer.split_off(last + 1);
    for line in buffer[..last].split(|b| *b == b'\n') {
        out.push(String::from_utf8_lossy(line).into_owned());
    }
    *buffer = rest;
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn open_if_exists(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(dir: &tempfile::TempDir, file_bytes: u64) -> AppLogs {
        AppLogs::with_limits(
            dir.path(),
            LogLimits {
                file_bytes,
                line_bytes: 20,
            },
        )
    }

    fn messages(lines: &[String]) -> Vec<&str> {
        lines
            .iter()
            .map(|l| LogLine::parse(l).expect("a record").message)
            .collect()
    }

    #[test]
    fn records_are_herokus_format_and_parse_back() {
        let at: jiff::Timestamp = "2026-12-01T09:00:00.123456789Z".parse().unwrap();
        let line = format_line(at, "app", "web.1", "Server listening on port 5000");
        assert_eq!(
            line,
            "2026-12-01T09:00:00.123456+00:00 app[web.1]: Server listening on port 5000"
        );
        let parsed = LogLine::parse(&line).unwrap();
        assert_eq!(
            (parsed.source, parsed.dyno, parsed.message),
            ("app", "web.1", "Server listening on port 5000")
        );
        let router = format_line(at, "router", "router", "at=info method=GET");
        assert!(router.contains(" heroku[router]: at=info"), "{router}");
        assert_eq!(
            LogLine::parse(&format_line(at, "app", "web.1", ""))
                .unwrap()
                .message,
            ""
        );
    }

    #[test]
    fn filters_take_a_dyno_a_process_type_or_a_source() {
        let at = jiff::Timestamp::now();
        let web1 = format_line(at, "app", "web.1", "a");
        let web12 = format_line(at, "app", "web.12", "b");
        let state = format_line(at, "heroku", "web.1", "State changed");
        let router = format_line(at, "router", "router", "at=info");
        let filter = |dyno: Option<&str>, source: Option<&str>| LogFilter {
            dyno: dyno.map(str::to_owned),
            source: source.map(str::to_owned),
        };
        let all = [&web1, &web12, &state, &router];
        let passing = |f: LogFilter| all.iter().filter(|l| f.matches(l)).count();
        assert_eq!(passing(filter(None, None)), 4);
        assert_eq!(passing(filter(Some("web.1"), None)), 2, "web.1, not web.12");
        assert_eq!(passing(filter(Some("web"), None)), 3);
        assert_eq!(passing(filter(Some("router"), None)), 1);
        assert_eq!(passing(filter(None, Some("app"))), 2);
        assert_eq!(passing(filter(None, Some("heroku"))), 2, "the router's too");
    }

    #[test]
    fn the_log_is_rotated_and_bounded_and_a_follower_misses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let logs = logs(&dir, 400);
        let none = LogFilter::default();
        let (backlog, mut follower) = logs.tail("shop", &none, 10).unwrap();
        assert!(backlog.is_empty());
        let mut followed = Vec::new();
        for n in 0..40 {
            logs.append("shop", "app", "web.1", &format!("line {n}"));
            followed.extend(follower.poll().unwrap());
        }
        followed.extend(follower.poll().unwrap());
        let expected: Vec<String> = (0..40).map(|n| format!("line {n}")).collect();
        assert_eq!(messages(&followed), expected, "every line once, in order");
        for path in [logs.path("shop"), logs.rotated_path("shop")] {
            let size = std::fs::metadata(&path).unwrap().len();
            assert!(size <= 400 + 100, "{} is {size} bytes", path.display());
        }
        let (recent, _) = logs.tail("shop", &none, 3).unwrap();
        assert_eq!(messages(&recent), ["line 37", "line 38", "line 39"]);
        let (kept, _) = logs.tail("shop", &none, 100).unwrap();
        assert!(kept.len() < 40, "older lines are dropped: {}", kept.len());
        assert_eq!(messages(&kept).last(), Some(&"line 39"));
    }

    #[test]
    fn long_and_multi_line_messages_become_bounded_records() {
        let dir = tempfile::tempdir().unwrap();
        let logs = logs(&dir, 1 << 20);
        logs.append(
            "shop",
            "app",
            "web.1",
            "first\r\nsecond é is long enough to cut",
        );
        let (lines, _) = logs.tail("shop", &LogFilter::default(), 10).unwrap();
        assert_eq!(messages(&lines), ["first", "second é is long en"]);
    }

    #[test]
    fn removing_or_renaming_an_app_takes_its_log_along() {
        let dir = tempfile::tempdir().unwrap();
        let logs = logs(&dir, 1 << 20);
        logs.append("old-name", "app", "web.1", "kept");
        logs.rename("old-name", "new-name");
        let (lines, _) = logs.tail("new-name", &LogFilter::default(), 10).unwrap();
        assert_eq!(messages(&lines), ["kept"]);
        logs.append("new-name", "app", "web.1", "more");
        logs.remove("new-name");
        assert!(!logs.path("new-name").exists());
        logs.append("../escape", "app", "web.1", "refused");
        assert!(!dir.path().join("escape.log").exists());
    }
}
