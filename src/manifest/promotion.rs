//! Promotion chains: `promote_from` links between apps, their cycles and where they end.
//!
//! Each app promotes from at most one other, so the links form chains; a chain either ends at an
//! app that runs a slug or loops. Validation rejects loops, so in a loaded manifest every chain
//! ends, and [`Manifest::slug_of`] can follow it to the slug an app ultimately runs.

use std::collections::{BTreeMap, BTreeSet};

use super::{AppSpec, Manifest};

/// Every promotion cycle among `apps`, each once, as the apps in link order starting at the
/// smallest name (`["aaa", "bbb"]` for `aaa → bbb → aaa`). Links to unknown apps end a chain.
pub fn cycles(apps: &BTreeMap<String, AppSpec>) -> Vec<Vec<&str>> {
    let next = |app: &str| {
        apps.get(app)
            .and_then(|a| a.promote_from.as_deref())
            .filter(|source| apps.contains_key(*source))
    };
    let mut found = Vec::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in apps.keys() {
        let mut chain: Vec<&str> = Vec::new();
        let mut current = Some(start.as_str());
        while let Some(app) = current {
            if done.contains(app) {
                break;
            }
            if let Some(pos) = chain.iter().position(|a| *a == app) {
                found.push(rotate_to_smallest(&chain[pos..]));
                break;
            }
            chain.push(app);
            current = next(app);
        }
        done.extend(chain);
    }
    found
}

/// The rotation of `cycle` that starts at its smallest name, so a cycle reads the same
/// whichever app the search entered it from.
fn rotate_to_smallest<'a>(cycle: &[&'a str]) -> Vec<&'a str> {
    let start = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
    cycle[start..]
        .iter()
        .chain(&cycle[..start])
        .copied()
        .collect()
}

impl Manifest {
    /// The slug app `app` ultimately runs: its own `slug`, or the end of its `promote_from`
    /// chain. `None` for an unknown app, or a chain that loops or breaks (which a loaded
    /// manifest never has).
    pub fn slug_of(&self, app: &str) -> Option<&str> {
        let mut current = self.apps.get(app)?;
        // A chain visits each app at most once; anything longer loops.
        for _ in 0..=self.apps.len() {
            if let Some(slug) = &current.slug {
                return Some(slug);
            }
            current = self.apps.get(current.promote_from.as_deref()?)?;
        }
        None
    }

    /// The apps that promote directly from `app`, by name.
    pub fn promoted_to(&self, app: &str) -> Vec<&str> {
        self.apps
            .iter()
            .filter(|(_, spec)| spec.promote_from.as_deref() == Some(app))
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Apps by name: `None` runs slug `web`, `Some(x)` promotes from `x`.
    fn apps(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, AppSpec> {
        pairs
            .iter()
            .map(|(name, from)| {
                let app = AppSpec {
                    slug: from.is_none().then(|| "web".to_owned()),
                    promote_from: from.map(str::to_owned),
                    ..AppSpec::default()
                };
                ((*name).to_owned(), app)
            })
            .collect()
    }

    #[test]
    fn each_cycle_is_found_once_from_its_smallest_name() {
        let apps = apps(&[
            ("ccc", Some("aaa")),
            ("aaa", Some("bbb")),
            ("bbb", Some("ccc")),
            ("ddd", Some("aaa")),
            ("eee", None),
            ("fff", Some("eee")),
            ("ggg", Some("ggg")),
            ("hhh", Some("nobody")),
        ]);
        assert_eq!(cycles(&apps), [vec!["aaa", "bbb", "ccc"], vec!["ggg"]]);
    }

    #[test]
    fn chains_ending_in_a_slug_have_no_cycle() {
        let apps = apps(&[("aaa", None), ("bbb", Some("aaa")), ("ccc", Some("bbb"))]);
        assert!(cycles(&apps).is_empty());
    }

    #[test]
    fn slug_of_follows_the_chain() {
        let manifest = Manifest {
            apps: apps(&[
                ("aaa", None),
                ("bbb", Some("aaa")),
                ("ccc", Some("bbb")),
                ("xxx", Some("yyy")),
                ("yyy", Some("xxx")),
            ]),
            ..Manifest::default()
        };
        assert_eq!(manifest.slug_of("ccc"), Some("web"));
        assert_eq!(manifest.slug_of("aaa"), Some("web"));
        assert_eq!(manifest.slug_of("xxx"), None, "a loop ends");
        assert_eq!(manifest.slug_of("nope"), None);
        assert_eq!(manifest.promoted_to("aaa"), ["bbb"]);
    }
}
