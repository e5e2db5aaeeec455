//! The declared config vars with their `${VAR}` references expanded: the only moment values
//! that come from the environment exist in slugplan.
//!
//! A plan resolves them against the environment snapshot it runs with (and `apply FILE` again,
//! to check that nothing moved since the plan was saved); commands that only read the manifest
//! (`graph`, `build`, `releases`) never do, so they run without the secrets. A value is
//! sensitive when any of its text came from the environment or the manifest marks it so.
//! Every unset variable is reported at once, each naming its key, variable and line.

use std::collections::BTreeMap;

use super::DesiredState;
use crate::environment::Env;
use crate::manifest::{LoadedManifest, ManifestError, interpolate};
use crate::sensitive::ConfigValue;

/// Each app's declared config vars, expanded: app → key → value.
pub type ResolvedConfig = BTreeMap<String, BTreeMap<String, ConfigValue>>;

impl DesiredState {
    /// Expands every app's config vars against `env`, reporting every problem at once.
    pub fn resolve_config(
        &self,
        loaded: &LoadedManifest,
        env: &Env,
    ) -> Result<ResolvedConfig, ManifestError> {
        let locator = loaded.locator();
        let mut resolved = BTreeMap::new();
        let mut problems = Vec::new();
        for app in self.apps.values() {
            let Some(config) = &app.config else {
                continue;
            };
            let mut values = BTreeMap::new();
            for (key, var) in config {
                let path: Vec<&str> = var.path.iter().map(String::as_str).collect();
                match interpolate::expand_at(&locator, &path, &var.template, env) {
                    Ok(expanded) => {
                        let sensitive = expanded.from_env || var.marked_sensitive;
                        values.insert(key.clone(), ConfigValue::new(expanded.value, sensitive));
                    }
                    Err(problem) => problems.push(*problem),
                }
            }
            resolved.insert(app.name.clone(), values);
        }
        if problems.is_empty() {
            Ok(resolved)
        } else {
            Err(ManifestError::from_problems(&loaded.path, problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    const MANIFEST: &str = r#"[slugs.web]
[apps.shop]
slug = "web"
[apps.shop.config]
GREETING = "hello"
DATABASE_URL = "postgres://app:${DB_PASSWORD}@db/app"
REGION = "${REGION:-eu}"
API_KEY = { value = "written-here", sensitive = true }
[apps.quiet]
slug = "web"
"#;

    fn loaded() -> LoadedManifest {
        LoadedManifest {
            path: "slug.toml".into(),
            dir: ".".into(),
            text: MANIFEST.to_owned(),
            manifest: toml::from_str::<Manifest>(MANIFEST).unwrap(),
        }
    }

    #[test]
    fn values_from_the_environment_or_marked_are_sensitive() {
        let loaded = loaded();
        let desired = DesiredState::from_manifest(&loaded);
        let env = Env::from_vars([("DB_PASSWORD", "hunter2")]);
        let resolved = desired.resolve_config(&loaded, &env).unwrap();
        let shop = &resolved["shop"];
        assert_eq!(shop["GREETING"], ConfigValue::new("hello", false));
        assert_eq!(
            shop["DATABASE_URL"],
            ConfigValue::new("postgres://app:hunter2@db/app", true)
        );
        assert_eq!(shop["REGION"], ConfigValue::new("eu", false), "a default");
        assert_eq!(shop["API_KEY"], ConfigValue::new("written-here", true));
        assert!(!resolved.contains_key("quiet"), "no config step");
    }

    #[test]
    fn an_unset_variable_names_the_key_and_the_line() {
        let loaded = loaded();
        let desired = DesiredState::from_manifest(&loaded);
        let err = desired
            .resolve_config(&loaded, &Env::default())
            .unwrap_err();
        let problems = err.problems();
        assert_eq!(problems.len(), 1, "{err:?}");
        let problem = problems[0];
        assert_eq!(problem.code_name(), "slugplan::manifest::unset_variable");
        assert!(
            problem.message().contains("apps.shop.config.DATABASE_URL"),
            "{problem:?}"
        );
        assert_eq!(problem.line_column().map(|(line, _)| line), Some(6));
    }
}
