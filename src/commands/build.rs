//! `slugplan build`: builds slugs from local sources into the cache.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::build::{BuildOptions, build_slug};
use crate::cli::ExitStatus;
use crate::cli::args::BuildArgs;
use crate::cli::settings::GlobalSettings;
use crate::slug::PackReporter;

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
    checksum: String,
    stack: String,
    process_types: BTreeMap<String, String>,
}

/// A progress bar of tar bytes packed.
struct Bar(ProgressBar);

impl PackReporter for Bar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

/// Fetches (or finds in the cache) the runtimes the slugs contain, in parallel, so a build
/// after a fresh checkout needs no separate `slugplan fetch`.
fn fetch_runtimes(
    loaded: &crate::manifest::LoadedManifest,
    slugs: &[String],
    cache: &crate::cache::Cache,
    settings: &GlobalSettings,
    json: bool,
) -> miette::Result<()> {
    let runtimes: std::collections::BTreeSet<String> = slugs
        .iter()
        .filter_map(|s| loaded.manifest.slugs.get(s))
        .flat_map(|spec| spec.runtimes.iter().cloned())
        .collect();
    if runtimes.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = runtimes.into_iter().collect();
    let lock = crate::runtime::Lockfile::load(loaded)?;
    let printer = if json {
        crate::cli::printer::Printer::new(crate::cli::printer::Verbosity::Quiet, false)
    } else {
        settings.printer
    };
    let reporter = crate::cli::reporters::fetch::FetchProgress::new(printer, false);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| miette::miette!("{e}"))?;
    runtime.block_on(crate::runtime::fetch_all(
        loaded,
        &names,
        cache,
        &lock,
        &settings.fetch_options(),
        &reporter,
    ))?;
    Ok(())
}

/// Builds the requested slugs and prints path, size and checksum of each.
pub fn run(args: &BuildArgs, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let printer = settings.printer;
    let loaded = crate::manifest::load(&settings.manifest)?;
    let cache = settings.cache()?;
    let names: Vec<String> = if args.slugs.is_empty() {
        loaded.manifest.slugs.keys().cloned().collect()
    } else {
        args.slugs.clone()
    };
    fetch_runtimes(&loaded, &names, &cache, settings, args.json)?;
    let mut built = Vec::new();
    for name in &names {
        let started = Instant::now();
        printer.status("Packing", name);
        let bar = (printer.progress_bars() && !args.json).then(|| {
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
                    .expect("template is valid"),
            );
            Bar(bar)
        });
        let options = BuildOptions {
            threads: args.threads.unwrap_or(0),
            reporter: bar.as_ref().map(|b| b as &dyn PackReporter),
        };
        let result = build_slug(&loaded, name, &cache, &options);
        if let Some(bar) = bar {
            bar.0.finish_and_clear();
        }
        let slug = result?;
        printer.status(
            "Built",
            format!(
                "{name} ({:.1} MB) in {:.2}s",
                slug.size as f64 / 1e6,
                started.elapsed().as_secs_f64()
            ),
        );
        built.push(slug);
    }
    if args.json {
        printer.json(&BuildOutput {
            format_version: 1,
            slugs: built
                .into_iter()
                .map(|s| SlugOutput {
                    checksum: s.checksum(),
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
                slug.checksum(),
                slug.size,
                slug.path.display()
            ));
        }
    }
    Ok(ExitStatus::Success)
}
