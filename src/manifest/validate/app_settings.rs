//! The checks of an app's `config` and `formation` tables: config var names, `${VAR}` syntax
//! (not values: `validate` runs without the secrets), process types the app's slug has, and
//! dyno sizes of the generation that runs slugs.

use super::super::names::{CONFIG_VAR_PATTERN, is_config_var};
use super::super::{AppSpec, Part, interpolate, shown};
use super::Checker;
use crate::dyno;
use crate::platform::Generation;

impl Checker<'_> {
    /// `[apps.<name>.config]`: names the API accepts, references that parse.
    pub(super) fn app_config(&mut self, name: &str, app: &AppSpec) {
        for (key, var) in &app.config {
            if !is_config_var(key) {
                self.report(
                    &["apps", name, "config", key],
                    Part::Key,
                    "slugplan::manifest::config_var_name",
                    format!(
                        "app `{}`: config var name `{}` does not match {CONFIG_VAR_PATTERN}",
                        shown(name),
                        shown(key)
                    ),
                    "invalid config var name",
                    Some("use letters, digits and `_`, e.g. DATABASE_URL".into()),
                );
            }
            let mut path = vec!["apps", name, "config", key.as_str()];
            path.extend(var.value_path());
            if let Err(problem) = interpolate::check_at(self.locator, &path, var.template()) {
                self.problems.push(*problem);
            }
        }
    }

    /// `[apps.<name>.formation]`: process types of the app's slug, Cedar dyno sizes.
    pub(super) fn app_formation(&mut self, name: &str, app: &AppSpec) {
        if app.formation.is_empty() {
            return;
        }
        let manifest = &self.loaded.manifest;
        // The slug the app ends up running; its process types are read now (a Procfile that
        // cannot be read is reported by the slug's own checks).
        let slug = manifest.slug_of(name).map(str::to_owned);
        let types = slug
            .as_deref()
            .filter(|slug| manifest.slugs.contains_key(*slug))
            .and_then(|slug| self.loaded.process_types(slug).ok());
        for (process, spec) in &app.formation {
            let at = ["apps", name, "formation", process.as_str()];
            if self.process_type_name(&at, &format!("app `{}`", shown(name)), process)
                && let (Some(slug), Some(types)) = (&slug, &types)
                && !types.contains_key(process)
            {
                let has = if types.is_empty() {
                    format!(
                        "slug `{}` has no process types: give it `process_types` or a `procfile`",
                        shown(slug)
                    )
                } else {
                    let names: Vec<String> = types.keys().map(|t| shown(t)).collect();
                    format!("slug `{}` has: {}", shown(slug), names.join(", "))
                };
                let via = match &app.promote_from {
                    Some(source) => format!(" (promoted from `{}`)", shown(source)),
                    None => String::new(),
                };
                self.report(
                    &at,
                    Part::Key,
                    "slugplan::manifest::unknown_process_type",
                    format!(
                        "app `{}`{via} scales process type `{}`, which slug `{}` does not have",
                        shown(name),
                        shown(process),
                        shown(slug)
                    ),
                    &format!("not a process type of slug `{}`", shown(slug)),
                    Some(has),
                );
            }
            if let Some(size) = spec.size()
                && dyno::canonical(Generation::Cedar, size).is_none()
            {
                self.report(
                    &[&at[..], &["size"]].concat(),
                    Part::Value,
                    "slugplan::manifest::dyno_size",
                    format!(
                        "app `{}`: `{}` is not a dyno size of Heroku's Cedar generation, \
                         the one that runs slugs",
                        shown(name),
                        shown(size)
                    ),
                    "unknown dyno size",
                    Some(
                        "e.g. eco, basic, standard-1x, standard-2x, performance-m, performance-l \
                         (any case); Private-* and Shield-* in Spaces"
                            .into(),
                    ),
                );
            }
        }
    }
}
