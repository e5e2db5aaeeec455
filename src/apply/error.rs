//! How an apply fails: every failed step by its address, with a typed reason.
//!
//! A step's failure never repeats its cause in its own message (the cause is its `source`), so
//! the rendered report and the one-line detail of the progress output, `--json` and the audit
//! log both say each cause once.

use std::fmt;

use crate::error_chain::Shared;
use crate::graph::Address;
use crate::platform::PlatformError;
use crate::release::{Refusal, ReleaseError, SourceError};
use crate::state::StateError;

use super::StepOutcome;

/// What a step reports when it ends well: how, and a detail for the log.
pub(super) type StepResult = Result<(StepOutcome, String), StepError>;

/// Errors of an apply.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ApplyError {
    /// Some steps failed; the others finished.
    #[error("{} failed: {}", crate::human::count(failures.len(), "step", "steps"), failures.iter().map(|f| f.address.0.as_str()).collect::<Vec<_>>().join(", "))]
    #[diagnostic(help(
        "fix the cause and run `slugplan apply` again: finished steps are not redone"
    ))]
    Steps {
        /// Each failure.
        #[related]
        failures: Vec<StepError>,
    },
    /// The apply was interrupted (Ctrl-C, `SIGTERM`): the steps running then finished, the rest
    /// were never started.
    #[error(
        "interrupted: {} finished, {} not run{}",
        crate::human::count(finished.len(), "step", "steps"),
        not_run.len(),
        if failures.is_empty() { String::new() } else { format!(", {} failed", failures.len()) },
    )]
    #[diagnostic(
        code(slugplan::apply::interrupted),
        help("run `slugplan apply` again to finish: what is done is not redone")
    )]
    Interrupted {
        /// The steps that finished (done, or already done before).
        finished: Vec<Address>,
        /// The steps never started, in plan order.
        not_run: Vec<Address>,
        /// The steps that failed before the interruption.
        #[related]
        failures: Vec<StepError>,
    },
    /// slugplan's state failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
}

/// One failed step: its address and why.
///
/// It reads `<address>: <failure>`, followed by the failure's causes. The failure's message never
/// repeats its cause (the cause is its `source`), so a rendered chain says each cause once.
#[derive(Debug)]
pub struct StepError {
    /// The step.
    pub address: Address,
    /// Why it failed.
    pub failure: StepFailure,
}

impl StepError {
    /// The failure and its causes on one line, without the address: the step's detail in the
    /// progress output, `--json` and the audit log.
    pub fn detail(&self) -> String {
        crate::error_chain::one_line(&self.failure)
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.address, self.failure)
    }
}

// The failure's message is part of this one, so its causes (not the failure itself) follow.
impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.failure.source()
    }
}

impl miette::Diagnostic for StepError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.failure.code()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.failure.help()
    }

    fn diagnostic_source(&self) -> Option<&dyn miette::Diagnostic> {
        self.failure.diagnostic_source()
    }
}

/// Why a step failed. Each variant's message says what went wrong without its cause, which is
/// its `source`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StepFailure {
    /// A platform call failed.
    #[error("{doing}")]
    Platform {
        /// What the step was doing, e.g. `creating the slug`.
        doing: &'static str,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: PlatformError,
    },
    /// A release or promotion did not end up running.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Release(#[from] ReleaseError),
    /// The promotion's source could not be read, or runs nothing (the same error for every
    /// promote step of that source).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Source(Shared<SourceError>),
    /// The target may not take the source's slug.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Refused(#[from] Refusal),
    /// The target runs a release newer than the source's, and downgrades were not allowed.
    #[error(
        "{target}'s release v{target_version} ({target_created_at}) is newer than {source_app}'s v{source_version} ({source_created_at}); pass --allow-downgrade to overwrite it"
    )]
    Downgrade {
        /// The target.
        target: String,
        /// Its running version.
        target_version: u64,
        /// When what it runs was released (for a rollback: the release it went back to).
        target_created_at: String,
        /// The source.
        source_app: String,
        /// The source's running version.
        source_version: u64,
        /// When what it runs was released (for a rollback: the release it went back to).
        source_created_at: String,
    },
    /// The rollbacks slugplan made could not be read from slugplan's state (the same error for
    /// every promote step of that source).
    #[error("reading the rollbacks slugplan made from its state")]
    Rollbacks(
        #[source]
        #[diagnostic_source]
        Shared<StateError>,
    ),
    /// What the step did could not be recorded in slugplan's state.
    #[error("recording in the state")]
    State(
        #[source]
        #[diagnostic_source]
        StateError,
    ),
    /// The slug to upload was not built.
    #[error("slug `{slug}` was not built")]
    NotBuilt {
        /// The slug.
        slug: String,
    },
    /// The release has no slug id: no upload made one and the plan knew none.
    #[error("no slug id for `{slug}`: its upload did not run")]
    NoSlugId {
        /// The slug.
        slug: String,
    },
    /// A config step has no value for a key it sets (the plan and the manifest disagree).
    #[error("config var {key} has no declared value")]
    NoValue {
        /// The config var.
        key: String,
    },
    /// A formation step's process type is not in the app's running release.
    #[error("{app}'s running release has no process type `{process_type}`")]
    #[diagnostic(help(
        "the release that brings it must succeed first; `slugplan releases {app}` shows what runs"
    ))]
    NoProcessType {
        /// The app.
        app: String,
        /// The process type.
        process_type: String,
    },
    /// A platform call that several steps share failed (one batch update for an app's
    /// formation steps).
    #[error("{doing}")]
    PlatformShared {
        /// What the steps were doing.
        doing: &'static str,
        /// The cause, the same for each step.
        #[source]
        #[diagnostic_source]
        source: Shared<PlatformError>,
    },
    /// The plan holds a step that apply does not run.
    #[error("{step} is not an apply step")]
    NotAnApplyStep {
        /// The step, as debug output.
        step: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_chain::Shared;

    /// A platform error with a cause of its own, as a broken connection gives.
    fn unreachable() -> PlatformError {
        PlatformError::Transport {
            url: "http://127.0.0.1:9/apps/web/releases".into(),
            source: Box::new(std::io::Error::other("connection refused")),
        }
    }

    /// Rendered as `slugplan` prints errors, without colour (and without the renderer's
    /// trailing spaces, which a snapshot in source cannot keep).
    fn render(diagnostic: &dyn miette::Diagnostic) -> String {
        let rendered = crate::cli::diagnostics::render(diagnostic, false);
        let lines: Vec<&str> = rendered.lines().map(str::trim_end).collect();
        lines.join("\n")
    }

    #[test]
    fn a_failed_apply_prints_each_cause_once() {
        let err = ApplyError::Steps {
            failures: vec![
                StepError {
                    address: Address("release.web".into()),
                    failure: StepFailure::Release(ReleaseError::Create {
                        app: "web".into(),
                        slug_id: "s-1".into(),
                        source: Shared::new(unreachable()),
                    }),
                },
                StepError {
                    address: Address("upload.api→api".into()),
                    failure: StepFailure::Platform {
                        doing: "creating the slug",
                        source: unreachable(),
                    },
                },
            ],
        };
        let rendered = render(&err);
        for line in ["cannot reach the platform at", "connection refused"] {
            assert_eq!(
                rendered.matches(line).count(),
                2,
                "one per step:\n{rendered}"
            );
        }
        insta::assert_snapshot!(rendered, @"
        × 2 steps failed: release.web, upload.api→api
        help: fix the cause and run `slugplan apply` again: finished steps are not redone

        × release.web: releasing slug s-1 to web
        ├─▶   × cannot reach the platform at http://127.0.0.1:9/apps/web/releases

        ╰─▶ connection refused

        × upload.api→api: creating the slug
        ├─▶   × cannot reach the platform at http://127.0.0.1:9/apps/web/releases

        ╰─▶ connection refused
        ");
    }

    #[test]
    fn a_step_detail_is_its_failure_and_causes_on_one_line() {
        let err = StepError {
            address: Address("release.web".into()),
            failure: StepFailure::Platform {
                doing: "reading the current release",
                source: unreachable(),
            },
        };
        assert_eq!(
            err.detail(),
            "reading the current release: cannot reach the platform at \
             http://127.0.0.1:9/apps/web/releases: connection refused"
        );
        assert_eq!(
            err.to_string(),
            "release.web: reading the current release",
            "the address once, the cause only in the chain"
        );
    }
}
