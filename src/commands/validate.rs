//! `slugplan validate`.

use crate::cli::ExitStatus;
use crate::cli::args::ValidateArgs;
use crate::cli::settings::GlobalSettings;

/// Loads and checks the manifest; prints a summary.
pub fn run(args: &ValidateArgs, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let loaded = crate::manifest::load(&settings.manifest)?;
    let m = &loaded.manifest;
    if args.json {
        settings.printer.json(&serde_json::json!({
            "valid": true,
            "manifest": loaded.path,
            "runtimes": m.runtimes.len(),
            "slugs": m.slugs.len(),
            "apps": m.apps.len(),
        }));
    } else {
        settings.printer.status(
            "Valid",
            format_args!(
                "{}: {} runtimes, {} slugs, {} apps",
                loaded.path.display(),
                m.runtimes.len(),
                m.slugs.len(),
                m.apps.len()
            ),
        );
    }
    Ok(ExitStatus::Success)
}
