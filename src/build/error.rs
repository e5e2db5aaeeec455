//! What can go wrong building a slug, each error naming the slug (and the file, runtime or
//! value) it is about.

use miette::SourceSpan;

use crate::manifest::{AppPathError, LoadedManifest, ManifestError, ManifestSource, UnknownSlug};
use crate::runtime::RuntimeError;
use crate::slug::SlugError;

use super::go;

/// Errors while building a slug.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BuildError {
    /// The manifest has no slug of that name.
    #[error(transparent)]
    #[diagnostic(transparent)]
    UnknownSlug(#[from] UnknownSlug),
    /// The manifest could not give what the build needs (e.g. a malformed Procfile).
    #[error("slug `{slug}`: manifest error")]
    Manifest {
        /// The slug.
        slug: String,
        /// The underlying error.
        #[source]
        #[diagnostic_source]
        source: ManifestError,
    },
    /// A binary in the slug cannot run on the slug's stack.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stack(Box<StackFailure>),
    /// A process type's command names a program the slug does not have where it says.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Command(Box<super::commands::CommandError>),
    /// A runtime could not be made available (the runtime's error names it).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Runtime(Box<RuntimeError>),
    /// The Go build failed.
    #[error("slug `{slug}`: Go build failed")]
    Go {
        /// The slug.
        slug: String,
        /// The underlying error.
        #[source]
        #[diagnostic_source]
        source: go::GoError,
    },
    /// A runtime `dest` or Go `output` is not a path inside `./app` ([`crate::manifest::AppPath`]
    /// is the rule; validation applies it too, so only a manifest built by hand gets here).
    #[error("slug `{slug}`: `{}` is not a path inside ./app", value.escape_debug())]
    #[diagnostic(
        code(slugplan::build::bad_path),
        help("use a relative path without `..`, e.g. `bin/web` or `vendor/ruby`")
    )]
    BadPath {
        /// The slug.
        slug: String,
        /// The offending value.
        value: String,
        /// Why it is not.
        #[source]
        reason: AppPathError,
    },
    /// Reading the slug's files or writing the archive failed.
    #[error("slug `{slug}` could not be packed")]
    Slug {
        /// The slug.
        slug: String,
        /// The underlying error.
        #[source]
        source: Box<SlugError>,
        /// The underlying error's hint, shown as this error's.
        #[help]
        help: Option<String>,
    },
}

/// A binary in slug `slug` that its stack cannot run: what [`BuildError::Stack`] holds.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("slug `{slug}` cannot be built for its stack")]
pub struct StackFailure {
    /// The slug.
    pub slug: String,
    /// What is wrong, naming the file.
    #[source]
    #[diagnostic_source]
    pub source: crate::stack::StackError,
    /// slug.toml, when it writes the slug's stack.
    #[source_code]
    pub manifest: Option<ManifestSource>,
    /// The slug's `stack` in slug.toml.
    #[label("the stack it is built for")]
    pub span: Option<SourceSpan>,
}

impl BuildError {
    /// The stack check's error for slug `slug`, underlining its `stack` in slug.toml.
    pub(super) fn stack(
        loaded: &LoadedManifest,
        slug: &str,
        source: crate::stack::StackError,
    ) -> Self {
        let (manifest, span) = loaded.snippet(&["slugs", slug, "stack"]);
        BuildError::Stack(Box::new(StackFailure {
            slug: slug.to_owned(),
            source,
            manifest,
            span,
        }))
    }

    /// Wraps `source`, an error packing slug `slug`, lifting its hint.
    pub(super) fn slug(slug: &str, source: SlugError) -> Self {
        use miette::Diagnostic;
        BuildError::Slug {
            slug: slug.to_owned(),
            help: source.help().map(|h| h.to_string()),
            source: Box::new(source),
        }
    }
}
