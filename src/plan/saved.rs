//! Saved plans (`plan -out FILE`, `apply FILE`).
//!
//! A saved plan is the plan document itself (JSON, [`FORMAT_VERSION`]): it already holds the
//! manifest's hash and the fingerprint of what it observed (each app's running release id).
//! Applying it first re-reads those releases; if anything moved, the plan no longer describes
//! the platform and is refused rather than half-right.
//!
//! The values its config steps set come from the manifest and the environment. A plan holds a
//! sensitive one only as its keyed hash; applying it expands the manifest again in the
//! environment it runs in and refuses the plan when any value differs ([`check_config`]), so a
//! plan never sets a secret other than the one that was reviewed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::desired::config::ResolvedConfig;
use crate::graph::StepKind;
use crate::plan::config::KeyChange;
use crate::plan::{FORMAT_VERSION, Plan};
use crate::sensitive::ValueKey;

/// Errors reading or checking a saved plan.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SavedPlanError {
    /// The file could not be read or written.
    #[error("cannot access plan file {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a plan this version understands.
    #[error("{} is not a slugplan plan (format version {FORMAT_VERSION})", path.display())]
    #[diagnostic(help("make a new one with `slugplan plan -out FILE`"))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: serde_json::Error,
    },
    /// The plan was made with another format version.
    #[error("{} has plan format version {found}; this slugplan reads version {FORMAT_VERSION}", path.display())]
    #[diagnostic(help("make a new one with `slugplan plan -out FILE`"))]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// A slug's checksum in the plan is not a checksum (the file was edited).
    #[error("the plan's checksum of slug `{slug}` is not a slug checksum")]
    #[diagnostic(
        code(slugplan::plan::bad_checksum),
        help("make a new one with `slugplan plan -out FILE`")
    )]
    BadChecksum {
        /// The slug.
        slug: String,
        /// What is wrong with it.
        #[source]
        source: crate::checksum::ChecksumError,
    },
    /// The manifest or the platform changed since the plan was made.
    #[error("plan is stale: {reason}")]
    #[diagnostic(
        code(slugplan::plan::stale),
        help("run `slugplan plan -out FILE` again, review it, then apply the new file")
    )]
    Stale {
        /// What changed.
        reason: String,
    },
}

/// Writes `plan` to `path` (temp file + rename, so a reader never sees half a plan).
pub fn save(plan: &Plan, path: &Path) -> Result<(), SavedPlanError> {
    let io = |source| SavedPlanError::Io {
        path: path.to_owned(),
        source,
    };
    let text = serde_json::to_string_pretty(plan).expect("plans serialise");
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut temp, text.as_bytes()).map_err(io)?;
    temp.persist(path).map_err(|err| io(err.error))?;
    Ok(())
}

/// Reads a saved plan.
pub fn load(path: &Path) -> Result<Plan, SavedPlanError> {
    let text = fs_err::read_to_string(path).map_err(|source| SavedPlanError::Io {
        path: path.to_owned(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| SavedPlanError::Invalid {
            path: path.to_owned(),
            source,
        })?;
    let found = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0) as u32;
    if found != FORMAT_VERSION {
        return Err(SavedPlanError::Version {
            path: path.to_owned(),
            found,
        });
    }
    serde_json::from_value(value).map_err(|source| SavedPlanError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// Refuses `plan` when the manifest's hash or any app's running release differs from when it
/// was made.
pub fn check_fresh(
    plan: &Plan,
    manifest_sha256: &str,
    platform: &str,
    running: &BTreeMap<String, Option<String>>,
) -> Result<(), SavedPlanError> {
    if plan.manifest_sha256 != manifest_sha256 {
        return Err(SavedPlanError::Stale {
            reason: "the manifest changed since the plan was made".into(),
        });
    }
    if plan.platform != platform {
        return Err(SavedPlanError::Stale {
            reason: format!("the plan was made for {}, not {platform}", plan.platform),
        });
    }
    for (app, planned) in &plan.fingerprint {
        let now = running.get(app).cloned().flatten();
        if &now != planned {
            let describe = |r: &Option<String>| r.clone().unwrap_or_else(|| "nothing".into());
            return Err(SavedPlanError::Stale {
                reason: format!(
                    "{app} runs release {} now, the plan saw {}",
                    describe(&now),
                    describe(planned)
                ),
            });
        }
    }
    Ok(())
}

/// Refuses `plan` when a config value one of its steps sets expands otherwise in `config`
/// (the environment the plan is applied in) than when the plan was made; sensitive values are
/// compared by their keyed hash under `key`.
pub fn check_config(
    plan: &Plan,
    config: &ResolvedConfig,
    key: &ValueKey,
) -> Result<(), SavedPlanError> {
    for step in &plan.steps {
        let StepKind::Config { app } = &step.step else {
            continue;
        };
        for change in step.config.iter().filter(|c| c.change != KeyChange::Remove) {
            let now = config.get(app).and_then(|vars| vars.get(&change.key));
            let same = now.is_some_and(|value| {
                if change.sensitive {
                    change.digest.as_ref() == Some(&key.digest(app, &change.key, value.expose()))
                } else {
                    !value.is_sensitive() && change.after.as_deref() == Some(value.expose())
                }
            });
            if !same {
                return Err(SavedPlanError::Stale {
                    reason: format!(
                        "config var {} of {app} has another value in this environment than when \
                         the plan was made",
                        change.key
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Summary;

    fn plan() -> Plan {
        Plan {
            kind: crate::plan::PlanKind,
            format_version: FORMAT_VERSION,
            platform: "local".into(),
            manifest_sha256: "m1".into(),
            fingerprint: BTreeMap::from([("web-staging".into(), Some("r1".into()))]),
            steps: vec![],
            drift: vec![],
            config_drift: vec![],
            summary: Summary::default(),
            ..Plan::default()
        }
    }

    #[test]
    fn a_saved_plan_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        save(&plan(), &path).unwrap();
        assert_eq!(load(&path).unwrap(), plan());
    }

    #[test]
    fn a_moved_release_or_an_edited_manifest_makes_the_plan_stale() {
        let same = BTreeMap::from([("web-staging".to_owned(), Some("r1".to_owned()))]);
        check_fresh(&plan(), "m1", "local", &same).unwrap();
        let moved = BTreeMap::from([("web-staging".to_owned(), Some("r2".to_owned()))]);
        let err = check_fresh(&plan(), "m1", "local", &moved).unwrap_err();
        assert!(err.to_string().starts_with("plan is stale"), "{err}");
        assert!(err.to_string().contains("r2"), "{err}");
        let err = check_fresh(&plan(), "m2", "local", &same).unwrap_err();
        assert!(err.to_string().contains("manifest changed"), "{err}");
    }

    #[test]
    fn a_sensitive_value_that_moved_in_the_environment_makes_the_plan_stale() {
        use crate::graph::Address;
        use crate::plan::config::ConfigChange;
        use crate::plan::{Action, PlannedStep};
        use crate::sensitive::ConfigValue;
        let key = ValueKey::generate();
        let mut plan = plan();
        plan.steps.push(PlannedStep {
            address: Address("config.shop".into()),
            action: Action::Config,
            step: StepKind::Config { app: "shop".into() },
            reason: String::new(),
            before: None,
            after: None,
            slug_id: None,
            promotion: None,
            config: vec![ConfigChange {
                key: "TOKEN".into(),
                change: KeyChange::Add,
                sensitive: true,
                before: None,
                after: None,
                digest: Some(key.digest("shop", "TOKEN", "s3cret")),
            }],
            formation: None,
            depends_on: vec![],
        });
        let env = |value: &str| {
            ResolvedConfig::from([(
                "shop".to_owned(),
                BTreeMap::from([("TOKEN".to_owned(), ConfigValue::new(value, true))]),
            )])
        };
        check_config(&plan, &env("s3cret"), &key).unwrap();
        let err = check_config(&plan, &env("m0ved-s3cret"), &key).unwrap_err();
        assert!(err.to_string().contains("TOKEN of shop"), "{err}");
        assert!(!err.to_string().contains("m0ved"), "{err}");
        assert!(
            check_config(&plan, &env("s3cret"), &ValueKey::generate()).is_err(),
            "another state's key hashes otherwise"
        );
    }

    #[test]
    fn another_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(&path, r#"{"format_version": 99}"#).unwrap();
        assert!(matches!(
            load(&path),
            Err(SavedPlanError::Version { found: 99, .. })
        ));
    }
}
