//! The checks serde cannot express: cross-references, name patterns, hashes, URLs and paths.
//!
//! Every check runs and every problem is collected, so one `slugplan validate` shows them all;
//! each problem underlines the exact key or value it is about. Problems come out in file order.
//! An app's `config` and `formation` tables are checked in `app_settings`.

mod app_settings;

use std::collections::{BTreeMap, BTreeSet};

use super::app_path::{AppPath, AppPathError};
use super::names::{
    APP_NAME_PATTERN, PIPELINE_NAME_PATTERN, PROCESS_TYPE_PATTERN, STACK_PATTERN, is_app_name,
    is_pipeline_name, is_process_type, is_sha256, is_stack,
};
use super::{
    AppSpec, LoadedManifest, Part, PlatformConfig, Runtime, SlugSpec, SourceDiagnostic,
    TomlLocator, defined, display_path, procfile, procfile_diagnostics, promotion,
};

/// Runs every semantic check on a parsed manifest.
pub(super) fn check(loaded: &LoadedManifest, locator: &TomlLocator) -> Vec<SourceDiagnostic> {
    let mut checker = Checker {
        loaded,
        locator,
        problems: Vec::new(),
    };
    let m = &loaded.manifest;
    checker.platform(&m.platform);
    for (name, runtime) in &m.runtimes {
        checker.runtime(name, runtime);
    }
    for (name, slug) in &m.slugs {
        checker.slug(name, slug);
    }
    for (name, app) in &m.apps {
        checker.app(name, app);
    }
    checker.promotion_cycles();
    let mut problems = checker.problems;
    // Procfile problems live in other files; they sort after the manifest's own.
    problems.sort_by_key(|p| (p.file_name() != Some(locator.name()), p.line_column()));
    problems
}

struct Checker<'a> {
    loaded: &'a LoadedManifest,
    locator: &'a TomlLocator,
    problems: Vec<SourceDiagnostic>,
}

impl Checker<'_> {
    fn report(
        &mut self,
        path: &[&str],
        part: Part,
        code: &'static str,
        message: String,
        label: &str,
        help: Option<String>,
    ) {
        let diag = self.locator.diagnostic_at(path, part, code, message, label);
        self.problems.push(match help {
            Some(help) => diag.with_help(help),
            None => diag,
        });
    }

    fn platform(&mut self, platform: &PlatformConfig) {
        if let Some(url) = &platform.api_url
            && let Err(why) = check_url(url, &["https", "http"])
        {
            self.report(
                &["platform", "api_url"],
                Part::Value,
                "slugplan::manifest::url",
                format!("platform api_url `{url}` {why}"),
                "not an http(s) URL",
                Some("e.g. api_url = \"https://api.heroku.com\"".to_owned()),
            );
        }
    }

    fn runtime(&mut self, name: &str, runtime: &Runtime) {
        let at = |key: &'static str| ["runtimes", name, key];
        match (&runtime.url, &runtime.path) {
            (Some(_), Some(_)) => self.both_given(
                &["runtimes", name],
                ["url", "path"],
                "slugplan::manifest::runtime_source",
                format!("runtime `{name}` has both `url` and `path`"),
                "give `url` for an archive to fetch, or `path` for a local directory, not both",
            ),
            (None, None) => self.report(
                &["runtimes", name],
                Part::Key,
                "slugplan::manifest::runtime_source",
                format!("runtime `{name}` has neither `url` nor `path`"),
                "needs `url` or `path`",
                Some(
                    "add url = \"https://…\" (an archive) or path = \"dir\" (a local tree)".into(),
                ),
            ),
            (Some(url), None) => {
                if let Err(why) = check_url(url, &["https", "http", "file"]) {
                    self.report(
                        &at("url"),
                        Part::Value,
                        "slugplan::manifest::url",
                        format!("runtime `{name}`: url `{url}` {why}"),
                        "unsupported URL",
                        Some("runtime URLs are https://, http:// or file://".into()),
                    );
                }
            }
            (None, Some(path)) => {
                let dir = self.loaded.resolve(path);
                if runtime.strip_components > 0 {
                    self.report(
                        &at("strip_components"),
                        Part::Key,
                        "slugplan::manifest::strip_components",
                        format!("runtime `{name}`: strip_components applies to archives only"),
                        "only for `url` runtimes",
                        Some("remove strip_components, or point `url` at an archive".into()),
                    );
                }
                if !dir.is_dir() {
                    self.report(
                        &at("path"),
                        Part::Value,
                        "slugplan::manifest::missing_dir",
                        format!(
                            "runtime `{name}`: directory {} does not exist",
                            display_path(&dir)
                        ),
                        "no such directory",
                        Some("`path` is relative to the manifest's directory".into()),
                    );
                }
            }
        }
        if let Some(hash) = &runtime.sha256
            && !is_sha256(hash)
        {
            self.report(
                &at("sha256"),
                Part::Value,
                "slugplan::manifest::sha256",
                format!("runtime `{name}`: sha256 must be 64 lowercase hex digits"),
                "not a SHA-256",
                Some(
                    "remove it and run `slugplan lock` to record the right one in slug.lock".into(),
                ),
            );
        }
        if let Some(dest) = &runtime.dest {
            let checked = AppPath::dir(dest).map(drop);
            self.path_inside_app(
                &at("dest"),
                &format!("runtime `{name}`: dest"),
                dest,
                checked,
            );
        }
    }

    fn slug(&mut self, name: &str, slug: &SlugSpec) {
        let source = self.loaded.source_dir(slug);
        let source_exists = source.is_dir();
        if !source_exists {
            self.report(
                &["slugs", name, "source"],
                Part::Value,
                "slugplan::manifest::missing_dir",
                format!(
                    "slug `{name}`: source directory {} does not exist",
                    display_path(&source)
                ),
                "no such directory",
                Some("`source` is relative to the manifest's directory (default: `.`)".into()),
            );
        }
        self.slug_runtimes(name, slug);
        for (key, patterns) in [("include", &slug.include), ("exclude", &slug.exclude)] {
            for (i, pattern) in patterns.iter().enumerate() {
                if let Err(err) = globset::Glob::new(pattern) {
                    let index = i.to_string();
                    self.report(
                        &["slugs", name, key, &index],
                        Part::Value,
                        "slugplan::manifest::glob",
                        format!("slug `{name}`: {key} pattern `{pattern}` is not a valid glob"),
                        &err.kind().to_string(),
                        None,
                    );
                }
            }
        }
        if let Some(go) = &slug.go {
            self.path_inside_app(
                &["slugs", name, "go", "output"],
                &format!("slug `{name}`: go output"),
                &go.output,
                AppPath::file(&go.output).map(drop),
            );
        }
        if !is_stack(&slug.stack) {
            self.report(
                &["slugs", name, "stack"],
                Part::Value,
                "slugplan::manifest::stack",
                format!(
                    "slug `{name}`: stack `{}` does not match {STACK_PATTERN}",
                    slug.stack
                ),
                "not a stack name",
                Some("e.g. stack = \"heroku-24\"".into()),
            );
        }
        self.slug_process_types(name, slug, source_exists);
    }

    fn slug_runtimes(&mut self, name: &str, slug: &SlugSpec) {
        let known = &self.loaded.manifest.runtimes;
        let mut seen = BTreeSet::new();
        // Two runtimes unpacked into one directory would silently overwrite each other's files.
        let mut dests: BTreeMap<AppPath, &str> = BTreeMap::new();
        for (i, runtime) in slug.runtimes.iter().enumerate() {
            let index = i.to_string();
            let at = ["slugs", name, "runtimes", index.as_str()];
            // Compared as the build places them (`vendor` and `./vendor/` are one directory); a
            // bad dest is reported on its own, and runtimes at the root are merged by layout.
            let dest = known
                .get(runtime)
                .and_then(|r| AppPath::dir(r.dest.as_deref()?).ok())
                .filter(|d| !d.is_root());
            if let Some(dest) = dest
                && let Some(other) = dests.insert(dest.clone(), runtime)
                && other != runtime
            {
                self.report(
                    &at,
                    Part::Value,
                    "slugplan::manifest::dest_conflict",
                    format!(
                        "slug `{name}`: runtimes `{other}` and `{runtime}` both unpack into ./app/{dest}"
                    ),
                    "same dest as another runtime",
                    Some("give each runtime of a slug its own `dest`".into()),
                );
            }
            if !known.contains_key(runtime) {
                self.report(
                    &at,
                    Part::Value,
                    "slugplan::manifest::unknown_runtime",
                    format!("slug `{name}` names runtime `{runtime}`, which is not defined"),
                    "no such runtime",
                    Some(defined("runtimes", known.keys())),
                );
            } else if !seen.insert(runtime) {
                self.report(
                    &at,
                    Part::Value,
                    "slugplan::manifest::duplicate_runtime",
                    format!("slug `{name}` lists runtime `{runtime}` twice"),
                    "listed again",
                    None,
                );
            }
        }
    }

    fn slug_process_types(&mut self, name: &str, slug: &SlugSpec, source_exists: bool) {
        if let Some(types) = &slug.process_types {
            if slug.procfile.is_some() {
                self.both_given(
                    &["slugs", name],
                    ["process_types", "procfile"],
                    "slugplan::manifest::process_types_twice",
                    format!("slug `{name}` has both `process_types` and `procfile`"),
                    "keep one: the table or the Procfile it came from",
                );
            }
            for (process, command) in types {
                let at = ["slugs", name, "process_types", process.as_str()];
                self.process_type_name(&at, &format!("slug `{name}`"), process);
                if command.trim().is_empty() {
                    self.report(
                        &at,
                        Part::Value,
                        "slugplan::manifest::empty_command",
                        format!("slug `{name}`: process type `{process}` has no command"),
                        "empty command",
                        None,
                    );
                }
            }
        } else if source_exists && let Some(path) = self.loaded.procfile_path(slug) {
            // Read now so that `validate` catches a broken Procfile before a deploy does.
            match fs_err::read_to_string(&path) {
                Ok(text) => {
                    if let Err(problems) = procfile::parse(&text) {
                        self.problems
                            .extend(procfile_diagnostics(&path, &text, problems));
                    }
                }
                Err(err) => self.report(
                    &["slugs", name, "procfile"],
                    Part::Value,
                    "slugplan::manifest::procfile_read",
                    format!(
                        "slug `{name}`: cannot read Procfile {}",
                        display_path(&path)
                    ),
                    &io_label(&err),
                    Some("`procfile` is relative to the slug's `source` directory".into()),
                ),
            }
        }
    }

    fn app(&mut self, name: &str, app: &AppSpec) {
        let apps = &self.loaded.manifest.apps;
        if !is_app_name(name) {
            self.report(
                &["apps", name],
                Part::Key,
                "slugplan::manifest::app_name",
                format!("app name `{name}` does not match Heroku's {APP_NAME_PATTERN}"),
                "invalid app name",
                Some(
                    "app names are 3–30 characters: lowercase letters, digits and `-`, \
                     starting with a letter"
                        .into(),
                ),
            );
        }
        match (&app.slug, &app.promote_from) {
            (Some(_), Some(_)) => self.both_given(
                &["apps", name],
                ["slug", "promote_from"],
                "slugplan::manifest::app_target",
                format!("app `{name}` has both `slug` and `promote_from`"),
                "an app either runs a slug built from source or promotes another app's slug",
            ),
            (None, None) => self.report(
                &["apps", name],
                Part::Key,
                "slugplan::manifest::app_target",
                format!("app `{name}` has neither `slug` nor `promote_from`"),
                "runs nothing",
                Some("add slug = \"<slug name>\" or promote_from = \"<app name>\"".into()),
            ),
            (Some(slug), None) if !self.loaded.manifest.slugs.contains_key(slug) => self.report(
                &["apps", name, "slug"],
                Part::Value,
                "slugplan::manifest::unknown_slug",
                format!("app `{name}` runs slug `{slug}`, which is not defined"),
                "no such slug",
                Some(defined("slugs", self.loaded.manifest.slugs.keys())),
            ),
            (None, Some(source)) if !apps.contains_key(source) => self.report(
                &["apps", name, "promote_from"],
                Part::Value,
                "slugplan::manifest::unknown_app",
                format!(
                    "app `{name}` promotes from `{source}`, which is not an app of this manifest"
                ),
                "no such app",
                Some(defined("apps", apps.keys())),
            ),
            _ => {}
        }
        if app.promote.is_some() && app.promote_from.is_none() {
            self.report(
                &["apps", name, "promote"],
                Part::Key,
                "slugplan::manifest::promote_without_source",
                format!("app `{name}` has `promote` but no `promote_from`"),
                "nothing to promote from",
                Some(
                    "`promote` says who promotes an app that runs another app's slug: add \
                     promote_from = \"<app name>\" or remove it"
                        .into(),
                ),
            );
        }
        match (&app.pipeline, &app.stage) {
            (Some(pipeline), _) if !is_pipeline_name(pipeline) => self.report(
                &["apps", name, "pipeline"],
                Part::Value,
                "slugplan::manifest::pipeline_name",
                format!(
                    "app `{name}`: pipeline name `{pipeline}` does not match Heroku's {PIPELINE_NAME_PATTERN}"
                ),
                "invalid pipeline name",
                None,
            ),
            (Some(_), None) => self.report(
                &["apps", name, "pipeline"],
                Part::Key,
                "slugplan::manifest::pipeline_stage",
                format!("app `{name}` joins a pipeline but has no `stage`"),
                "needs a stage",
                Some("add stage = \"staging\" (or test, review, development, production)".into()),
            ),
            (None, Some(_)) => self.report(
                &["apps", name, "stage"],
                Part::Key,
                "slugplan::manifest::pipeline_stage",
                format!("app `{name}` has a `stage` but no `pipeline`"),
                "stage without pipeline",
                Some("add pipeline = \"<name>\" or remove the stage".into()),
            ),
            _ => {}
        }
        self.app_config(name, app);
        self.app_formation(name, app);
    }

    /// Each promotion cycle once, as `a → b → a`, with every link underlined.
    fn promotion_cycles(&mut self) {
        for cycle in promotion::cycles(&self.loaded.manifest.apps) {
            self.report_cycle(&cycle);
        }
    }

    fn report_cycle(&mut self, cycle: &[&str]) {
        let mut names: Vec<&str> = cycle.to_vec();
        names.push(cycle[0]);
        let shown = names.join(" → ");
        let mut diag = self.locator.diagnostic(
            "slugplan::manifest::promotion_cycle",
            format!("promotion cycle: {shown}"),
        );
        for pair in names.windows(2) {
            if let Some(span) = self
                .locator
                .span(&["apps", pair[0], "promote_from"], Part::Value)
            {
                diag = diag.with_label(span, format!("{} promotes from {}", pair[0], pair[1]));
            }
        }
        self.problems.push(diag.with_help(
            "one app of the chain must run a slug (slug = \"…\") instead of promote_from",
        ));
    }

    /// Two keys of `table` that exclude each other are both written: underline both.
    fn both_given<'k>(
        &mut self,
        table: &[&'k str],
        keys: [&'k str; 2],
        code: &'static str,
        message: String,
        help: &str,
    ) {
        let path = |key: &'k str| [table, &[key]].concat();
        let mut diag = self.locator.diagnostic_at(
            &path(keys[0]),
            Part::Key,
            code,
            message,
            format!("`{}` given", keys[0]),
        );
        if let Some(span) = self.locator.span(&path(keys[1]), Part::Key) {
            diag = diag.with_label(span, format!("`{}` also given", keys[1]));
        }
        self.problems.push(diag.with_help(help));
    }

    /// A process type's name (the key at `at`, of `owner`: ``slug `web` ``) matches
    /// [`PROCESS_TYPE_PATTERN`]; whether it is valid.
    fn process_type_name(&mut self, at: &[&str], owner: &str, process: &str) -> bool {
        if is_process_type(process) {
            return true;
        }
        self.report(
            at,
            Part::Key,
            "slugplan::manifest::process_type",
            format!("{owner}: process type `{process}` does not match {PROCESS_TYPE_PATTERN}"),
            "invalid process type",
            Some("use letters, digits, `_` and `-` (at most 128)".into()),
        );
        false
    }

    /// `dest` and Go `output` are written inside `./app`: `checked` is what [`AppPath`] (the
    /// rule the builder applies too) said of `value`.
    fn path_inside_app(
        &mut self,
        at: &[&str],
        what: &str,
        value: &str,
        checked: Result<(), AppPathError>,
    ) {
        let Err(why) = checked else { return };
        self.report(
            at,
            Part::Value,
            "slugplan::manifest::path_outside_app",
            format!("{what} `{}` {why}", value.escape_debug()),
            "must stay inside ./app",
            Some("write a path relative to ./app, e.g. \"bin/web\"".into()),
        );
    }
}

/// Checks that `url` parses and uses one of `schemes`; says why not.
fn check_url(url: &str, schemes: &[&str]) -> Result<(), String> {
    match url::Url::parse(url) {
        Err(err) => Err(format!("is not a URL ({err})")),
        Ok(parsed) if !schemes.contains(&parsed.scheme()) => Err(format!(
            "has scheme `{}`; expected {}",
            parsed.scheme(),
            schemes.join(", ")
        )),
        Ok(_) => Ok(()),
    }
}

fn io_label(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        _ => "cannot read it".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_use_an_allowed_scheme() {
        let schemes = ["https", "http", "file"];
        assert!(check_url("https://nodejs.org/dist/x.tar.gz", &schemes).is_ok());
        assert!(check_url("file:///tmp/x.tgz", &schemes).is_ok());
        assert!(
            check_url("ftp://example.com/x.tgz", &schemes)
                .unwrap_err()
                .contains("`ftp`")
        );
        assert!(
            check_url("nodejs.org/x.tgz", &schemes)
                .unwrap_err()
                .contains("not a URL")
        );
    }
}
