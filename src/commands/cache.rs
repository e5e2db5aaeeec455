//! `slugplan cache ls` and `slugplan cache prune`: what the cache holds, and making it smaller.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

use crate::cache::prune::{self, EntryInfo, PruneOptions};
use crate::cli::args::{CacheCommand, CacheLsArgs, CachePruneArgs};
use crate::exit_status::ExitStatus;
use crate::human::{self, count};
use crate::ops::cache::{Described, Records};

use super::{JSON_FORMAT_VERSION, Session};

/// The `--json` document of `cache ls`: `format_version` changes only when a field changes
/// meaning.
#[derive(Debug, serde::Serialize)]
struct LsOutput<'a> {
    format_version: u32,
    root: &'a std::path::Path,
    size: u64,
    buckets: Vec<BucketOutput>,
    entries: Vec<EntryOutput<'a>>,
}

/// An entry and what it is.
#[derive(Debug, serde::Serialize)]
struct EntryOutput<'a> {
    #[serde(flatten)]
    entry: &'a EntryInfo,
    about: Described,
}

#[derive(Debug, serde::Serialize)]
struct BucketOutput {
    name: &'static str,
    entries: usize,
    size: u64,
}

/// The `--json` document of `cache prune`.
#[derive(Debug, serde::Serialize)]
struct PruneOutput<'a> {
    format_version: u32,
    #[serde(flatten)]
    pruned: &'a prune::Pruned,
}

/// Runs `slugplan cache …`.
pub fn run(command: &CacheCommand, session: &Session) -> miette::Result<ExitStatus> {
    match command {
        CacheCommand::Ls(args) => ls(args, session),
        CacheCommand::Prune(args) => prune(args, session),
    }
}

fn ls(args: &CacheLsArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let cache = session.cache_unlocked()?;
    let entries = prune::list(&cache)?;
    let mut buckets: BTreeMap<&'static str, BucketOutput> = BTreeMap::new();
    for entry in &entries {
        let bucket = buckets.entry(entry.bucket).or_insert(BucketOutput {
            name: entry.bucket,
            entries: 0,
            size: 0,
        });
        bucket.entries += 1;
        bucket.size += entry.size;
    }
    let size = entries.iter().map(|e| e.size).sum();
    let records = Records::read(&cache);
    if args.json {
        printer.json(&LsOutput {
            format_version: JSON_FORMAT_VERSION,
            root: cache.root(),
            size,
            buckets: buckets.into_values().collect(),
            entries: entries
                .iter()
                .map(|entry| EntryOutput {
                    entry,
                    about: records.describe(entry),
                })
                .collect(),
        });
        return Ok(ExitStatus::Success);
    }
    let now = SystemTime::now();
    let mut out = format!("{} ({})\n", cache.root().display(), human::size(size));
    for bucket in buckets.values() {
        let _ = writeln!(
            out,
            "\n{} ({}, {})",
            bucket.name,
            count(bucket.entries, "entry", "entries"),
            human::size(bucket.size)
        );
        // Most recently used first: what a prune would keep longest is on top.
        for entry in entries.iter().rev().filter(|e| e.bucket == bucket.name) {
            let _ = writeln!(
                out,
                "  {:>9}  {:>9}  {}  {}",
                human::size(entry.size),
                human_age(entry.age(now)),
                entry.name,
                records.describe(entry).line()
            );
        }
    }
    printer.data(out.trim_end());
    Ok(ExitStatus::Success)
}

fn prune(args: &CachePruneArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let cache = session.cache_unlocked()?;
    let options = PruneOptions {
        max_size: args.max_size,
        older_than: args.older_than,
        now: SystemTime::now(),
    };
    if options.max_size.is_none() && options.older_than.is_none() {
        printer.warn(
            "no --max-size or --older-than given: only temp files of interrupted writers are removed",
        );
    }
    let pruned = prune::prune(&cache, &options)?;
    if args.json {
        printer.json(&PruneOutput {
            format_version: JSON_FORMAT_VERSION,
            pruned: &pruned,
        });
        return Ok(ExitStatus::Success);
    }
    for entry in &pruned.removed {
        printer.verbose(format_args!(
            "removed {}/{} ({})",
            entry.bucket,
            entry.name,
            human::size(entry.size)
        ));
    }
    printer.data(format_args!(
        "Removed {}, freed {}; the cache now takes {}.",
        count(pruned.removed.len(), "entry", "entries"),
        human::size(pruned.freed),
        human::size(pruned.remaining)
    ));
    Ok(ExitStatus::Success)
}

fn human_age(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}
