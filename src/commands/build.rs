//! `slugplan build`: builds slugs from local sources into the cache.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use crate::build::{BuildOptions, build_slug};
use crate::cli::args::BuildArgs;
use crate::cli::reporters::fetch::FetchProgress;
use crate::cli::reporters::pack::PackProgress;
use crate::exit_status::ExitStatus;
use crate::runtime::{self, Lockfile};

use super::{JSON_FORMAT_VERSION, Session};

/// The `--json` document: `format_version` changes only when a field changes meaning.
#[derive(Debug, serde::Serialize)]
struct BuildOutput {
    format_version: u32,
    slugs: Vec<SlugOutput>,
}

#[derive(Debug, serde::Serialize)]
struct SlugOutput {
    name: String,
    path: PathBuf,
    size: u64,
    checksum: crate::checksum::Checksum,
    stack: String,
    process_types: BTreeMap<String, String>,
}

/// Fetches (or finds in the cache) the runtimes the slugs contain, in parallel, so a build
/// after a fresh checkout needs no separate `slugplan fetch`.
async fn fetch_runtimes(session: &Session, slugs: &[String], json: bool) -> miette::Result<()> {
    let loaded = session.manifest()?;
    let runtimes: BTreeSet<String> = slugs
        .iter()
        .filter_map(|s| loaded.manifest.slugs.get(s))
        .flat_map(|spec| spec.runtimes.iter().cloned())
        .collect();
    if runtimes.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = runtimes.into_iter().collect();
    let lock = Lockfile::load(loaded)?;
    let reporter = FetchProgress::new(session.printer().quiet_if(json));
    let fetch = &session.settings().fetch;
    runtime::fetch_all(loaded, &names, session.cache()?, &lock, fetch, &reporter).await?;
    Ok(())
}

/// Builds the requested slugs and prints path, size and checksum of each.
pub async fn run(args: &BuildArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let loaded = session.manifest()?;
    let cache = session.cache()?;
    let names: Vec<String> = if args.slugs.is_empty() {
        loaded.manifest.slugs.keys().cloned().collect()
    } else {
        args.slugs.clone()
    };
    fetch_runtimes(session, &names, args.json).await?;
    let progress = PackProgress::new(printer.quiet_if(args.json));
    let mut built = Vec::new();
    for name in &names {
        let started = Instant::now();
        let bar = progress.for_slug(name);
        let options = BuildOptions {
            threads: session.settings().threads(args.threads),
            reporter: Some(&bar),
            written: Some(&session.settings().written),
        };
        let result = build_slug(loaded, name, cache, &options);
        drop(bar);
        let slug = result?.archive;
        printer.status(
            "Built",
            format!(
                "{name} ({}) in {:.2}s",
                crate::human::size(slug.size),
                started.elapsed().as_secs_f64()
            ),
        );
        built.push(slug);
    }
    if args.json {
        printer.json(&BuildOutput {
            format_version: JSON_FORMAT_VERSION,
            slugs: built
                .into_iter()
                .map(|s| SlugOutput {
                    checksum: s.checksum,
                    name: s.name,
                    path: s.path,
                    size: s.size,
                    stack: s.stack,
                    process_types: s.process_types,
                })
                .collect(),
        });
    } else {
        for slug in &built {
            printer.data(format_args!(
                "{}\t{}\t{}\t{}",
                slug.name,
                slug.checksum,
                slug.size,
                slug.path.display()
            ));
        }
    }
    Ok(ExitStatus::Success)
}
