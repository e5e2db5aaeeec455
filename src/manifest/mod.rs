//! `slug.toml`: the types, loading with source spans, validation and the JSON Schema.
//!
//! [`load`] is the only way the rest of slugplan gets a manifest: it parses, validates every
//! cross-reference (apps → slugs, slugs → runtimes, promotion chains), every name and path, and
//! returns a [`LoadedManifest`] that remembers where it came from, so later errors (a stale lock
//! entry, a cycle in the step graph) can still point into the file with
//! `loaded.locator().diagnostic_at(…)`.
//!
//! Guarantees of a loaded manifest: its keys and types are the schema's (`shape`, every
//! problem at once), every app runs exactly one of a known slug or a known app (and promotion
//! chains end in a slug), every slug's runtimes exist, every name matches Heroku's pattern,
//! every stack is one slugplan knows, every sha256 is well formed, every path written into
//! `./app` stays inside it ([`AppPath`]), every path read from the project stays inside the
//! project ([`project_path`]), every `file:` archive is there, and each slug's process types
//! (table, or a Procfile that is a regular file of bounded size) are well formed.

pub mod app_path;
mod diagnostic;
pub mod interpolate;
pub mod names;
pub mod procfile;
pub mod project_path;
pub mod promotion;
mod shape;
mod spans;
mod types;
mod validate;

pub use app_path::{AppPath, AppPathError};
pub use diagnostic::{MAX_QUOTED_LINE, MAX_SHOWN_VALUE, QuotedText, SourceDiagnostic, shown};
pub use project_path::{ProjectPathError, ReadError};
pub use spans::{Part, TomlLocator};
pub use types::*;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};
use serde::Deserialize;

/// Errors found while reading or checking a manifest (or a file it names, such as a Procfile).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ManifestError {
    /// The manifest file could not be read.
    #[error("cannot read manifest {}", path.display())]
    #[diagnostic(
        code(slugplan::manifest::read),
        help("pass the manifest's path with -f PATH (default: ./slug.toml)")
    )]
    Read {
        /// The manifest's path.
        path: PathBuf,
        /// Why (it is missing, not a regular file, too large, not UTF-8).
        #[source]
        source: ReadError,
    },
    /// One problem, located in the file it is about.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Problem(Box<SourceDiagnostic>),
    /// Several problems, all reported at once.
    #[error("{} has {} problems", display_path(path), problems.len())]
    #[diagnostic(code(slugplan::manifest::invalid))]
    Problems {
        /// The manifest's path.
        path: PathBuf,
        /// Each problem, located.
        #[related]
        problems: Vec<SourceDiagnostic>,
    },
    /// A Procfile named by the manifest (or found in the source root) could not be read.
    #[error("cannot read Procfile {} of slug `{slug}`", display_path(path))]
    #[diagnostic(
        code(slugplan::manifest::procfile_read),
        help(
            "the `procfile` path is relative to the slug's `source` directory and must be a regular file inside the project"
        )
    )]
    ReadProcfile {
        /// The slug whose Procfile it is.
        slug: String,
        /// The Procfile's path.
        path: PathBuf,
        /// Why: outside the project, not a regular file, too large, not UTF-8, or an I/O error.
        #[source]
        source: ReadError,
    },
    /// A slug name that the manifest does not define.
    #[error(transparent)]
    #[diagnostic(transparent)]
    UnknownSlug(#[from] UnknownSlug),
}

impl ManifestError {
    /// Wraps located problems: one becomes [`ManifestError::Problem`], more become
    /// [`ManifestError::Problems`] (rendered together, each with its own snippet).
    pub fn from_problems(path: &Path, mut problems: Vec<SourceDiagnostic>) -> Self {
        if problems.len() == 1 {
            ManifestError::Problem(Box::new(problems.remove(0)))
        } else {
            ManifestError::Problems {
                path: path.to_owned(),
                problems,
            }
        }
    }

    /// The file the error is about, when it is not located inside one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ManifestError::Read { path, .. }
            | ManifestError::Problems { path, .. }
            | ManifestError::ReadProcfile { path, .. } => Some(path),
            ManifestError::Problem(_) | ManifestError::UnknownSlug(_) => None,
        }
    }

    /// The located problems this error carries (none for I/O errors).
    pub fn problems(&self) -> Vec<&SourceDiagnostic> {
        match self {
            ManifestError::Problem(problem) => vec![problem],
            ManifestError::Problems { problems, .. } => problems.iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// A slug asked for by name (on the command line, by a caller) that the manifest does not
/// define: the one error every lookup of a slug by name gives ([`LoadedManifest::slug`]).
/// An app naming an undefined slug is a located validation problem with the same code.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("no slug `{name}` in {}", display_path(manifest))]
#[diagnostic(code(slugplan::manifest::unknown_slug), help("{defined}"))]
pub struct UnknownSlug {
    /// The name asked for.
    pub name: String,
    /// The manifest's path.
    pub manifest: PathBuf,
    /// The slugs it does define, as a help line ("defined slugs: api, web").
    pub defined: String,
}

/// slug.toml as errors outside the manifest module quote it ([`LoadedManifest::snippet`]).
pub type ManifestSource = Arc<NamedSource<Arc<str>>>;

/// A parsed and validated manifest together with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    /// The manifest file's path as given.
    pub path: PathBuf,
    /// The directory relative paths in the manifest are resolved against.
    pub dir: PathBuf,
    /// The file's text, kept for diagnostics that point into it.
    pub text: String,
    /// The parsed manifest.
    pub manifest: Manifest,
}

impl LoadedManifest {
    /// Resolves a path written in the manifest against the manifest's directory, lexically
    /// (`.` components dropped, so a file of `source = "."` shows as `./web.js`, not
    /// `././web.js`). Whether it stays inside the project is [`project_path`]'s rule, which
    /// validation applies.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.dir.join(path).components().collect()
    }

    /// Slug `name`'s spec, or the error saying the manifest has no such slug.
    pub fn slug(&self, name: &str) -> Result<&SlugSpec, UnknownSlug> {
        self.manifest.slugs.get(name).ok_or_else(|| UnknownSlug {
            name: name.to_owned(),
            manifest: self.path.clone(),
            defined: defined("slugs", self.manifest.slugs.keys()),
        })
    }

    /// The directory holding slug `slug`'s source files.
    pub fn source_dir(&self, slug: &SlugSpec) -> PathBuf {
        self.resolve(&slug.source)
    }

    /// The Procfile slug `slug` reads its process types from: the one its `procfile` names,
    /// else, when it has no `process_types` either, a `Procfile` in its source root (as Heroku
    /// reads it), if there is one. The path is as written, relative to the manifest's
    /// directory: [`LoadedManifest::read_procfile`] checks it stays inside the project.
    pub fn procfile_path(&self, slug: &SlugSpec) -> Option<PathBuf> {
        match (&slug.procfile, &slug.process_types) {
            (Some(procfile), _) => Some(slug.source.join(procfile)),
            (None, Some(_)) => None,
            (None, None) => {
                let default = slug.source.join(DEFAULT_PROCFILE);
                // Any kind of entry counts: reading it says what is wrong with one that is not
                // a regular file, rather than silently releasing no process types.
                self.resolve(&default)
                    .symlink_metadata()
                    .is_ok()
                    .then_some(default)
            }
        }
    }

    /// Reads slug `slug`'s Procfile ([`LoadedManifest::procfile_path`]), if it has one: its
    /// path resolved against the manifest's directory, and its text, or why it cannot be read
    /// (outside the project, not a regular file, over [`project_path::MAX_PROCFILE_BYTES`]).
    pub fn read_procfile(&self, slug: &SlugSpec) -> Option<(PathBuf, Result<String, ReadError>)> {
        let written = self.procfile_path(slug)?;
        Some(match project_path::inside_project(&self.dir, &written) {
            Ok(path) => {
                let text = project_path::read_file(&path, project_path::MAX_PROCFILE_BYTES);
                (path, text)
            }
            Err(why) => (self.resolve(&written), Err(why.into())),
        })
    }

    /// The process types of slug `name`: its `process_types` table, or its Procfile read now.
    /// No table and no Procfile: no process types.
    pub fn process_types(&self, name: &str) -> Result<BTreeMap<String, String>, ManifestError> {
        let spec = self.slug(name)?;
        let Some((path, text)) = self.read_procfile(spec) else {
            return Ok(spec.process_types.clone().unwrap_or_default());
        };
        let text = text.map_err(|source| ManifestError::ReadProcfile {
            slug: name.to_owned(),
            path: path.clone(),
            source,
        })?;
        procfile::parse(&text).map_err(|problems| {
            ManifestError::from_problems(&path, procfile_diagnostics(&path, &text, problems))
        })
    }

    /// The span of the value at `path` (e.g. `&["apps", "web", "slug"]`; array elements by
    /// index), if the manifest writes it.
    pub fn span_of(&self, path: &[&str]) -> Option<SourceSpan> {
        self.locator().span(path, Part::Value).map(Into::into)
    }

    /// The span of the key at `path` (for a table, its name in the `[header]`).
    pub fn key_span_of(&self, path: &[&str]) -> Option<SourceSpan> {
        self.locator().span(path, Part::Key).map(Into::into)
    }

    /// slug.toml as an error raised outside this module quotes it, and the span in it of the
    /// value at `path` (long lines cut as [`QuotedText`] cuts them); both None when the
    /// manifest does not write that value. The one way such an error (a failed download, a
    /// stack a binary cannot run on) underlines the manifest value at fault.
    pub fn snippet(&self, path: &[&str]) -> (Option<ManifestSource>, Option<SourceSpan>) {
        let Some(span) = self.locator().span(path, Part::Value) else {
            return (None, None);
        };
        // The same starred-out copy the locator indexes, so no snippet shows a URL password.
        let quoted = QuotedText::new(Arc::from(mask_url_passwords(&self.text)));
        let span = quoted.map(span);
        let source = NamedSource::new(display_path(&self.path), Arc::clone(quoted.view()));
        (
            Some(Arc::new(source)),
            Some((span.start, span.len()).into()),
        )
    }

    /// A [`TomlLocator`] over this manifest: build diagnostics at key paths with
    /// [`TomlLocator::diagnostic_at`]. It indexes the text once; [`LoadedManifest::span_of`] and
    /// [`LoadedManifest::key_span_of`] index it on every call.
    pub fn locator(&self) -> TomlLocator {
        TomlLocator::new(&self.path, &mask_url_passwords(&self.text))
    }
}

/// Reads, parses and validates the manifest at `path`. Every problem found is reported at once.
pub fn load(path: &Path) -> Result<LoadedManifest, ManifestError> {
    let text = project_path::read_file(path, project_path::MAX_MANIFEST_BYTES).map_err(|err| {
        ManifestError::Read {
            path: path.to_owned(),
            source: err,
        }
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    // Snippets are rendered from a copy whose URL passwords are starred out, so no problem
    // reported about this file ever prints one (`[state] url` refuses them, but a snippet of
    // a neighbouring line would show it).
    let locator = TomlLocator::new(path, &mask_url_passwords(&text));
    let manifest =
        parse(&text, &locator).map_err(|problems| ManifestError::from_problems(path, problems))?;
    let loaded = LoadedManifest {
        path: path.to_owned(),
        dir,
        text,
        manifest,
    };
    let problems = validate::check(&loaded, &locator);
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(ManifestError::from_problems(path, problems))
    }
}

/// `text` with the password of every `scheme://user:password@` URL (up to the last `@` of
/// the authority, as URL parsers split it) and every `password=` query value replaced by as
/// many `*` as it has bytes, so spans into it still point at the same places.
fn mask_url_passwords(text: &str) -> String {
    static SECRETS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"[a-z][a-z0-9+.-]*://[^:/?#@\s"']*:([^/\s"']*)@|[?&]password=([^&#\s"']*)"#,
        )
        .expect("a valid regex")
    });
    let mut masked = text.to_owned().into_bytes();
    for captures in SECRETS.captures_iter(text) {
        // A `${VAR}` reference is where a secret comes from, not one: it stays visible.
        let secrets = captures.iter().skip(1).flatten();
        for secret in secrets.filter(|m| !m.as_str().starts_with("${")) {
            masked[secret.range()].fill(b'*');
        }
    }
    String::from_utf8(masked).expect("ASCII replaced whole UTF-8 sequences")
}

/// Parses the TOML and maps it onto [`Manifest`]; a syntax error, or every unknown key, wrong
/// type and missing key ([`shape`]), becomes a diagnostic underlining the offending text.
fn parse(text: &str, locator: &TomlLocator) -> Result<Manifest, Vec<SourceDiagnostic>> {
    let root = toml::de::DeTable::parse(text).map_err(|err| {
        vec![toml_diagnostic(
            locator,
            "slugplan::manifest::syntax",
            &err,
            "invalid TOML here",
        )]
    })?;
    let problems = shape::check(root.get_ref(), root.span(), locator);
    if !problems.is_empty() {
        return Err(problems);
    }
    Manifest::deserialize(toml::de::Deserializer::from(root)).map_err(|err| {
        let message = err.message();
        let label = if message.starts_with("unknown field") {
            "unknown key"
        } else if message.starts_with("invalid type") {
            "wrong type"
        } else if message.starts_with("missing field") {
            "required key missing in this table"
        } else if message.starts_with("unknown variant") {
            "not an allowed value"
        } else {
            "here"
        };
        let diag = toml_diagnostic(locator, "slugplan::manifest::schema", &err, label)
            .with_help("`slugplan schema` prints every key slug.toml accepts, with its type");
        vec![diag]
    })
}

fn toml_diagnostic(
    locator: &TomlLocator,
    code: &'static str,
    err: &toml::de::Error,
    label: &str,
) -> SourceDiagnostic {
    // toml's messages may span lines ("expected ..."); keep them on one.
    // serde speaks of sequences and maps; TOML users write arrays and tables.
    // Cut: the message may quote a key or value of any length.
    let mut message = err
        .message()
        .trim_end()
        .replace('\n', "; ")
        .replace("a sequence", "an array")
        .replace("a map", "a table");
    if message.chars().count() > diagnostic::MAX_QUOTED_LINE {
        message = format!(
            "{}…",
            message
                .chars()
                .take(diagnostic::MAX_QUOTED_LINE)
                .collect::<String>()
        );
    }
    if let Some(key) = err.span().and_then(|span| locator.path_at(&span)) {
        message = format!("{key}: {message}");
    }
    let diag = locator.diagnostic(code, message);
    match err.span() {
        Some(span) => diag.with_label(span, label),
        None => diag,
    }
}

/// Turns Procfile problems into diagnostics pointing into the Procfile at `path`.
fn procfile_diagnostics(
    path: &Path,
    text: &str,
    problems: Vec<procfile::ProcfileProblem>,
) -> Vec<SourceDiagnostic> {
    let name = display_path(path);
    // Only the offending line is quoted: the file's other lines are none of the diagnostic's
    // business (a Procfile is read because the manifest names it, whatever it holds).
    let quoted = Arc::new(QuotedText::new(Arc::from(text)));
    problems
        .into_iter()
        .map(|p| {
            SourceDiagnostic::new("slugplan::manifest::procfile", p.message)
                .in_quoted_file(&name, Arc::clone(&quoted))
                .offending_line_only()
                .with_label(p.span, p.label)
                .with_help("each Procfile line is `name: command`; `#` starts a comment")
        })
        .collect()
}

/// "defined slugs: a, b" (or "no slugs are defined in this manifest") for a help line.
fn defined<'a>(what: &str, names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        format!("no {what} are defined in this manifest")
    } else {
        format!("defined {what}: {}", names.join(", "))
    }
}

/// The Procfile a slug without `procfile` and `process_types` reads, from its source root.
pub const DEFAULT_PROCFILE: &str = "Procfile";

/// `path` as shown to users: without a leading `./`.
fn display_path(path: &Path) -> String {
    let mut components = path.components().peekable();
    if components.peek() == Some(&Component::CurDir) && path.components().count() > 1 {
        components.next();
    }
    components.collect::<PathBuf>().display().to_string()
}

/// The JSON Schema of slug.toml, as `slugplan schema` prints it and `schema/slug.schema.json`
/// holds it.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Manifest)).expect("the schema serialises")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_snippet_for_an_error_outside_the_module_stars_out_passwords_too() {
        // A stack error quotes the lines around `stack`, the runtime's URL among them.
        let text = "[runtimes.node]\nurl = \"https://u:hunter2@example.test/node.tgz\"\n\
                    [slugs.web]\nstack = \"heroku-99\"\n";
        let loaded = super::LoadedManifest {
            path: "slug.toml".into(),
            dir: ".".into(),
            text: text.to_owned(),
            manifest: toml::from_str(text).unwrap(),
        };
        let (source, span) = loaded.snippet(&["slugs", "web", "stack"]);
        let quoted = source.expect("slug.toml writes the stack");
        let quoted: &str = quoted.inner();
        assert!(!quoted.contains("hunter2"), "{quoted}");
        assert!(
            quoted.contains("https://u:*******@example.test"),
            "{quoted}"
        );
        let span = span.unwrap();
        assert_eq!(
            &quoted[span.offset()..span.offset() + span.len()],
            "\"heroku-99\""
        );
    }

    #[test]
    fn passwords_in_urls_are_starred_out_in_place() {
        let text = "a = \"postgres://u:p@ss:w@h:5/db?password=x&y=1\"\nb = \"https://h/p?q=1\"\n";
        let masked = super::mask_url_passwords(text);
        assert_eq!(
            masked,
            "a = \"postgres://u:******@h:5/db?password=*&y=1\"\nb = \"https://h/p?q=1\"\n"
        );
        assert_eq!(masked.len(), text.len(), "spans still fit");
        let reference = "u = \"postgres://shop:${SHOP_TOKEN}@db/shop\"";
        assert_eq!(
            super::mask_url_passwords(reference),
            reference,
            "a reference is no secret"
        );
        let unicode = "u = \"postgres://u:pässwörd@h/db\"";
        assert_eq!(
            super::mask_url_passwords(unicode),
            "u = \"postgres://u:**********@h/db\""
        );
    }
}
