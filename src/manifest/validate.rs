//! The checks serde cannot express: cross-references, name patterns, hashes, URLs and paths.
//!
//! Every check runs and every problem is collected, so one `slugplan validate` shows them all;
//! each problem underlines the exact key or value it is about. Problems come out in file order.
//!
//! Validation checks everything that can be checked without the network, with the rules the
//! build applies ([`AppPath`] for paths inside `./app`, [`project_path`] for paths read from the
//! project, [`crate::stack`] for stacks), so a manifest `validate` passes is one `plan` does
//! not refuse for a reason `validate` could have seen: a stack slugplan does not know, a
//! `file:` archive that is not there, a Procfile that is not a regular file.
//!
//! An app's `config` and `formation` tables are checked in `app_settings`.

mod app_settings;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::app_path::{AppPath, AppPathError};
use super::names::{
    APP_NAME_PATTERN, PIPELINE_NAME_PATTERN, PROCESS_TYPE_PATTERN, WORKSPACE_PATTERN, is_app_name,
    is_pipeline_name, is_process_type, is_sha256, is_workspace_name,
};
use super::project_path::{self, ReadError};
use super::{
    AppSpec, GoBuild, LoadedManifest, MAX_STRIP_COMPONENTS, Part, PlatformConfig, Runtime,
    SlugSpec, SourceDiagnostic, StateConfig, TomlLocator, defined, display_path, procfile,
    procfile_diagnostics, promotion, shown,
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
    checker.state(&m.state);
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
        // Written, not read into a slug or a message: it may lie anywhere, but it must be a
        // directory (or not exist yet) for the local platform to live in it.
        if let Some(dir) = &platform.data_dir
            && let path = self.loaded.resolve(dir)
            && path.exists()
            && !path.is_dir()
        {
            self.report(
                &["platform", "data_dir"],
                Part::Value,
                "slugplan::manifest::data_dir",
                format!(
                    "platform data_dir {} is not a directory",
                    shown(&display_path(&path))
                ),
                "not a directory",
                Some("name a directory (it is created if missing), relative to slug.toml".into()),
            );
        }
        if let Some(url) = &platform.api_url
            && let Err(why) = check_url(url, &["https", "http"])
        {
            self.report(
                &["platform", "api_url"],
                Part::Value,
                "slugplan::manifest::url",
                format!("platform api_url `{}` {why}", shown(url)),
                "not an http(s) URL",
                Some("e.g. api_url = \"https://api.heroku.com\"".to_owned()),
            );
        }
    }

    /// `[state]`: a literal `url` must be a PostgreSQL URL without a password (slug.toml is
    /// committed; messages never quote the URL); one with
    /// `${VAR}` references has its syntax checked here and is expanded at the edge.
    fn state(&mut self, state: &StateConfig) {
        if let Some(url) = &state.url
            && url.contains('$')
            && let Err(problem) = super::interpolate::check_at(self.locator, &["state", "url"], url)
        {
            self.problems.push(*problem);
        }
        if let Some(url) = state.url.as_deref().filter(|url| !url.contains('$')) {
            let problem = match url::Url::parse(url) {
                Ok(parsed) if !matches!(parsed.scheme(), "postgres" | "postgresql") => {
                    Some(("is not a postgres:// URL", "not a postgres:// URL"))
                }
                Err(_) => Some(("is not a URL", "not a URL")),
                Ok(parsed)
                    if parsed.password().is_some()
                        || parsed.query_pairs().any(|(key, _)| key == "password") =>
                {
                    Some((
                        "holds a password, and slug.toml is committed",
                        "a password in the manifest",
                    ))
                }
                Ok(_) => None,
            };
            if let Some((what, label)) = problem {
                self.report(
                    &["state", "url"],
                    Part::Value,
                    "slugplan::manifest::state_url",
                    format!("[state] url {what}"),
                    label,
                    Some(
                        "set the whole URL in SLUGPLAN_STATE_URL (a CI secret) and write url = \"${SLUGPLAN_STATE_URL}\", or leave url out".into(),
                    ),
                );
            }
        }
        if let Some(workspace) = &state.workspace
            && !is_workspace_name(workspace)
        {
            self.report(
                &["state", "workspace"],
                Part::Value,
                "slugplan::manifest::workspace",
                format!("[state] workspace `{workspace}` is not a valid workspace name"),
                "invalid workspace name",
                Some(format!("workspace names match {WORKSPACE_PATTERN}")),
            );
        }
    }

    fn runtime(&mut self, name: &str, runtime: &Runtime) {
        let at = |key: &'static str| ["runtimes", name, key];
        let shown_name = shown(name);
        match (&runtime.url, &runtime.path) {
            (Some(_), Some(_)) => self.both_given(
                &["runtimes", name],
                ["url", "path"],
                "slugplan::manifest::runtime_source",
                format!("runtime `{shown_name}` has both `url` and `path`"),
                "give `url` for an archive to fetch, or `path` for a local directory, not both",
            ),
            (None, None) => self.report(
                &["runtimes", name],
                Part::Key,
                "slugplan::manifest::runtime_source",
                format!("runtime `{shown_name}` has neither `url` nor `path`"),
                "needs `url` or `path`",
                Some(
                    "add url = \"https://…\" (an archive) or path = \"dir\" (a local tree)".into(),
                ),
            ),
            (Some(url), None) => match check_url(url, &["https", "http", "file"]) {
                Err(why) => self.report(
                    &at("url"),
                    Part::Value,
                    "slugplan::manifest::url",
                    format!("runtime `{shown_name}`: url `{}` {why}", shown(url)),
                    "unsupported URL",
                    Some("runtime URLs are https://, http:// or file://".into()),
                ),
                Ok(parsed) if parsed.scheme() == "file" => self.file_url(name, url),
                Ok(_) => {}
            },
            (None, Some(path)) => {
                if runtime.strip_components > 0 {
                    self.report(
                        &at("strip_components"),
                        Part::Key,
                        "slugplan::manifest::strip_components",
                        format!(
                            "runtime `{shown_name}`: strip_components applies to archives only"
                        ),
                        "only for `url` runtimes",
                        Some("remove strip_components, or point `url` at an archive".into()),
                    );
                }
                if let Some(dir) = self.project_path(&at("path"), "runtime", name, "path", path)
                    && !dir.is_dir()
                {
                    self.report(
                        &at("path"),
                        Part::Value,
                        "slugplan::manifest::missing_dir",
                        format!(
                            "runtime `{shown_name}`: directory {} does not exist",
                            shown(&display_path(&dir))
                        ),
                        "no such directory",
                        Some("`path` is relative to the manifest's directory".into()),
                    );
                }
            }
        }
        if runtime.strip_components > MAX_STRIP_COMPONENTS {
            self.report(
                &at("strip_components"),
                Part::Value,
                "slugplan::manifest::strip_components",
                format!(
                    "runtime `{shown_name}`: strip_components = {} is more than {MAX_STRIP_COMPONENTS}",
                    runtime.strip_components
                ),
                "too many components",
                Some(
                    "it is the number of leading folders to drop from each entry: 1 for an \
                     archive with one top-level folder, 0 for none"
                        .into(),
                ),
            );
        }
        if let Some(hash) = &runtime.sha256
            && !is_sha256(hash)
        {
            self.report(
                &at("sha256"),
                Part::Value,
                "slugplan::manifest::sha256",
                format!("runtime `{shown_name}`: sha256 must be 64 lowercase hex digits"),
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
                &format!("runtime `{shown_name}`: dest"),
                dest,
                checked,
            );
        }
    }

    /// A `file:` runtime URL names an archive on this machine: it must be there and be a
    /// regular file (a fifo would hang the fetch). It may lie outside the project (see
    /// [`project_path`]): it is the user's own archive, read into the cache, never quoted.
    fn file_url(&mut self, name: &str, url: &str) {
        let absolute = crate::runtime::absolute_url(self.loaded, url);
        let Ok(path) = url::Url::parse(&absolute).map(|u| u.to_file_path()) else {
            return;
        };
        let why = match path.as_ref().map(std::fs::metadata) {
            Err(()) => "is not a local file path".to_owned(),
            Ok(Ok(meta)) if meta.is_file() => return,
            Ok(Ok(_)) => "is not a regular file".to_owned(),
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::NotFound => {
                "names a file that does not exist".to_owned()
            }
            Ok(Err(err)) => format!("cannot be read: {err}"),
        };
        self.report(
            &["runtimes", name, "url"],
            Part::Value,
            "slugplan::manifest::file_url",
            format!("runtime `{}`: url `{}` {why}", shown(name), shown(url)),
            "no such archive",
            Some(
                "a relative `file:` URL is relative to the manifest's directory; \
                 put the archive there or fix the URL"
                    .into(),
            ),
        );
    }

    fn slug(&mut self, name: &str, slug: &SlugSpec) {
        let shown_name = shown(name);
        let source = self
            .project_path(
                &["slugs", name, "source"],
                "slug",
                name,
                "source",
                &slug.source,
            )
            .filter(|source| {
                let exists = source.is_dir();
                if !exists {
                    self.report(
                        &["slugs", name, "source"],
                        Part::Value,
                        "slugplan::manifest::missing_dir",
                        format!(
                            "slug `{shown_name}`: source directory {} does not exist",
                            shown(&display_path(source))
                        ),
                        "no such directory",
                        Some(
                            "`source` is relative to the manifest's directory (default: `.`)"
                                .into(),
                        ),
                    );
                }
                exists
            });
        self.slug_runtimes(name, slug);
        for (key, patterns) in [("include", &slug.include), ("exclude", &slug.exclude)] {
            for (i, pattern) in patterns.iter().enumerate() {
                let index = i.to_string();
                let at = ["slugs", name, key, index.as_str()];
                let pattern_shown = shown(pattern);
                if let Err(err) = globset::Glob::new(pattern) {
                    self.report(
                        &at,
                        Part::Value,
                        "slugplan::manifest::glob",
                        format!(
                            "slug `{shown_name}`: {key} pattern `{pattern_shown}` is not a valid glob"
                        ),
                        &err.kind().to_string(),
                        None,
                    );
                } else if pattern.split('/').any(|part| part == "..") {
                    self.report(
                        &at,
                        Part::Value,
                        "slugplan::manifest::glob",
                        format!(
                            "slug `{shown_name}`: {key} pattern `{pattern_shown}` climbs out of the source with `..`"
                        ),
                        "matches nothing",
                        Some(
                            "patterns match paths inside `source`, from its root: use a path \
                             below it, or change `source`"
                                .into(),
                        ),
                    );
                }
            }
        }
        if let Some(go) = &slug.go {
            self.go(name, slug, go);
        }
        if !crate::stack::is_known(&slug.stack) {
            self.report(
                &["slugs", name, "stack"],
                Part::Value,
                "slugplan::manifest::stack",
                format!(
                    "slug `{shown_name}`: stack `{}` is not one slugplan knows",
                    shown(&slug.stack)
                ),
                "unknown stack",
                Some(format!(
                    "known stacks: {}",
                    crate::stack::known().collect::<Vec<_>>().join(", ")
                )),
            );
        }
        self.slug_process_types(name, slug, source.is_some());
    }

    fn go(&mut self, name: &str, slug: &SlugSpec, go: &GoBuild) {
        let shown_name = shown(name);
        let at = |key: &'static str| ["slugs", name, "go", key];
        self.path_inside_app(
            &at("output"),
            &format!("slug `{shown_name}`: go output"),
            &go.output,
            AppPath::file(&go.output).map(drop),
        );
        let module = slug.source.join(&go.module);
        if let Some(module) = self.project_path(&at("module"), "slug", name, "go module", &module)
            && !module.join("go.mod").is_file()
        {
            self.report(
                &at("module"),
                Part::Value,
                "slugplan::manifest::go_module",
                format!(
                    "slug `{shown_name}`: no go.mod in the Go module directory {}",
                    shown(&display_path(&module))
                ),
                "no go.mod here",
                Some(
                    "`module` is relative to the slug's `source` (default `.`) and holds go.mod"
                        .into(),
                ),
            );
        }
        // Heroku's stacks run linux/amd64 and nothing else (the stack check refuses other ELF
        // machines; a binary for another OS would not even be checked, only fail to start).
        for (key, value, wanted) in [("goos", &go.goos, "linux"), ("goarch", &go.goarch, "amd64")] {
            if value != wanted {
                self.report(
                    &at(key),
                    Part::Value,
                    "slugplan::manifest::go_target",
                    format!(
                        "slug `{shown_name}`: {key} `{}` does not run on {}: its dynos run {wanted}",
                        shown(value),
                        shown(&slug.stack)
                    ),
                    "not the stack's",
                    Some(format!("remove `{key}` (the default is {wanted})")),
                );
            }
        }
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
                        "slug `{}`: runtimes `{}` and `{}` both unpack into ./app/{}",
                        shown(name),
                        shown(other),
                        shown(runtime),
                        shown(dest.as_str())
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
                    format!(
                        "slug `{}` names runtime `{}`, which is not defined",
                        shown(name),
                        shown(runtime)
                    ),
                    "no such runtime",
                    Some(defined("runtimes", known.keys())),
                );
            } else if !seen.insert(runtime) {
                self.report(
                    &at,
                    Part::Value,
                    "slugplan::manifest::duplicate_runtime",
                    format!(
                        "slug `{}` lists runtime `{}` twice",
                        shown(name),
                        shown(runtime)
                    ),
                    "listed again",
                    None,
                );
            }
        }
    }

    fn slug_process_types(&mut self, name: &str, slug: &SlugSpec, source_exists: bool) {
        let shown_name = shown(name);
        if let Some(types) = &slug.process_types {
            if slug.procfile.is_some() {
                self.both_given(
                    &["slugs", name],
                    ["process_types", "procfile"],
                    "slugplan::manifest::process_types_twice",
                    format!("slug `{shown_name}` has both `process_types` and `procfile`"),
                    "keep one: the table or the Procfile it came from",
                );
            }
            for (process, command) in types {
                let at = ["slugs", name, "process_types", process.as_str()];
                self.process_type_name(&at, &format!("slug `{shown_name}`"), process);
                if command.trim().is_empty() {
                    self.report(
                        &at,
                        Part::Value,
                        "slugplan::manifest::empty_command",
                        format!(
                            "slug `{shown_name}`: process type `{}` has no command",
                            shown(process)
                        ),
                        "empty command",
                        None,
                    );
                }
            }
            return;
        }
        if !source_exists {
            return;
        }
        // Read now, by the rule the build reads it with, so that `validate` catches a broken,
        // outside or unreadable Procfile before a deploy does.
        let Some((path, text)) = self.loaded.read_procfile(slug) else {
            return;
        };
        match text {
            Ok(text) => {
                if let Err(problems) = procfile::parse(&text) {
                    self.problems
                        .extend(procfile_diagnostics(&path, &text, problems));
                }
            }
            Err(why) => {
                // The `procfile` key when the manifest has one; else the Procfile found in the
                // source root, reported at the slug's table.
                let (at, part, help) = match slug.procfile {
                    Some(_) => (
                        vec!["slugs", name, "procfile"],
                        Part::Value,
                        "`procfile` is relative to the slug's `source` directory and must be a \
                         regular file inside the project",
                    ),
                    None => (
                        vec!["slugs", name],
                        Part::Key,
                        "without `procfile` or `process_types`, slugplan reads the source's \
                         Procfile, as Heroku does: fix it, or set `process_types` here",
                    ),
                };
                self.report(
                    &at,
                    part,
                    "slugplan::manifest::procfile_read",
                    format!("slug `{shown_name}`: {}", why.describe("Procfile", &path)),
                    &why.label(),
                    Some(help.into()),
                );
            }
        }
    }

    fn app(&mut self, name: &str, app: &AppSpec) {
        let apps = &self.loaded.manifest.apps;
        let name_shown = shown(name);
        if !is_app_name(name) {
            self.report(
                &["apps", name],
                Part::Key,
                "slugplan::manifest::app_name",
                format!(
                    "app name `{}` does not match Heroku's {APP_NAME_PATTERN}",
                    shown(name)
                ),
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
                format!("app `{name_shown}` has both `slug` and `promote_from`"),
                "an app either runs a slug built from source or promotes another app's slug",
            ),
            (None, None) => self.report(
                &["apps", name],
                Part::Key,
                "slugplan::manifest::app_target",
                format!("app `{name_shown}` has neither `slug` nor `promote_from`"),
                "runs nothing",
                Some("add slug = \"<slug name>\" or promote_from = \"<app name>\"".into()),
            ),
            (Some(slug), None) if !self.loaded.manifest.slugs.contains_key(slug) => self.report(
                &["apps", name, "slug"],
                Part::Value,
                "slugplan::manifest::unknown_slug",
                format!(
                    "app `{name_shown}` runs slug `{}`, which is not defined",
                    shown(slug)
                ),
                "no such slug",
                Some(defined("slugs", self.loaded.manifest.slugs.keys())),
            ),
            (None, Some(source)) if !apps.contains_key(source) => self.report(
                &["apps", name, "promote_from"],
                Part::Value,
                "slugplan::manifest::unknown_app",
                format!(
                    "app `{name_shown}` promotes from `{}`, which is not an app of this manifest",
                    shown(source)
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
                    "app `{name_shown}`: pipeline name `{}` does not match Heroku's {PIPELINE_NAME_PATTERN}",
                    shown(pipeline)
                ),
                "invalid pipeline name",
                None,
            ),
            (Some(_), None) => self.report(
                &["apps", name, "pipeline"],
                Part::Key,
                "slugplan::manifest::pipeline_stage",
                format!("app `{name_shown}` joins a pipeline but has no `stage`"),
                "needs a stage",
                Some("add stage = \"staging\" (or test, review, development, production)".into()),
            ),
            (None, Some(_)) => self.report(
                &["apps", name, "stage"],
                Part::Key,
                "slugplan::manifest::pipeline_stage",
                format!("app `{name_shown}` has a `stage` but no `pipeline`"),
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
        let chain: Vec<String> = names.iter().map(|name| shown(name)).collect();
        let mut diag = self.locator.diagnostic(
            "slugplan::manifest::promotion_cycle",
            format!("promotion cycle: {}", chain.join(" → ")),
        );
        for pair in names.windows(2) {
            if let Some(span) = self
                .locator
                .span(&["apps", pair[0], "promote_from"], Part::Value)
            {
                diag = diag.with_label(
                    span,
                    format!("{} promotes from {}", shown(pair[0]), shown(pair[1])),
                );
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
            format!(
                "{owner}: process type `{}` does not match {PROCESS_TYPE_PATTERN}",
                shown(process)
            ),
            "invalid process type",
            Some("use letters, digits, `_` and `-` (at most 128)".into()),
        );
        false
    }

    /// `value` (the `key` of `kind` `name`, relative to the manifest's directory as written)
    /// resolved inside the project, by the rule the build reads it with ([`project_path`]);
    /// None, with the problem reported, when it leads out.
    fn project_path(
        &mut self,
        at: &[&str],
        kind: &str,
        name: &str,
        key: &str,
        value: &Path,
    ) -> Option<PathBuf> {
        match project_path::inside_project(&self.loaded.dir, value) {
            Ok(path) => Some(path),
            Err(why) => {
                let label = why.label();
                self.report(
                    at,
                    Part::Value,
                    "slugplan::manifest::path_outside_project",
                    format!(
                        "{kind} `{}`: {key} `{}` {}",
                        shown(name),
                        shown(&value.display().to_string()),
                        ReadError::from(why)
                    ),
                    &label,
                    Some(
                        "the project is the manifest's directory: slugplan reads nothing from \
                         outside it into a slug or a message; move the files inside, or the \
                         manifest up"
                            .into(),
                    ),
                );
                None
            }
        }
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
            format!("{what} `{}` {why}", shown(value)),
            "must stay inside ./app",
            Some("write a path relative to ./app, e.g. \"bin/web\"".into()),
        );
    }
}

/// Checks that `url` parses and uses one of `schemes`; says why not.
fn check_url(url: &str, schemes: &[&str]) -> Result<url::Url, String> {
    match url::Url::parse(url) {
        Err(err) => Err(format!("is not a URL ({err})")),
        Ok(parsed) if !schemes.contains(&parsed.scheme()) => Err(format!(
            "has scheme `{}`; expected {}",
            shown(parsed.scheme()),
            schemes.join(", ")
        )),
        Ok(parsed) => Ok(parsed),
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
