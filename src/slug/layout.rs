//! Putting parts (runtime trees, the Go binary, the app's files) together into components.
//!
//! Every part claims the paths it provides: a runtime placed at `dest` claims `dest` and all
//! below it (a runtime placed at the root of `./app` claims each of its top-level names), the
//! Go binary claims its output path. No path may be claimed twice, and the app's files may not
//! land inside a claim: either is an error naming both parts. Directories above a claim
//! (`vendor/` for a runtime at `vendor/ruby`) belong to no part; they are written once, in the
//! leading `layout` component, and skipped wherever else they appear.

use std::collections::{BTreeSet, HashMap};

use super::SlugError;
use super::component::Component;
use super::tar::{Entry, EntryKind};
use super::tree::{ancestors, check_symlinks, path_cmp};

/// The entries one part of a slug provides, before they become a component.
#[derive(Debug, Clone)]
pub struct Part {
    /// The part's name: `runtime.<name>`, `go` or `app`.
    pub name: String,
    /// The paths (relative to `./app`) this part owns exclusively, subtrees included.
    pub claims: Vec<Vec<u8>>,
    /// The entries, in archive order.
    pub entries: Vec<Entry>,
}

impl Part {
    /// A tree placed at `dest` (relative to `./app`; empty for `./app` itself), from entries
    /// already named `dest/…`. With a `dest`, its directory entry is added and claimed; without
    /// one, each top-level entry is claimed.
    pub fn tree(name: impl Into<String>, dest: &[u8], mut entries: Vec<Entry>) -> Part {
        let claims = if dest.is_empty() {
            entries
                .iter()
                .filter(|e| !e.rel.contains(&b'/'))
                .map(|e| e.rel.clone())
                .collect()
        } else {
            entries.insert(
                0,
                Entry {
                    rel: dest.to_vec(),
                    kind: EntryKind::Dir,
                },
            );
            vec![dest.to_vec()]
        };
        Part {
            name: name.into(),
            claims,
            entries,
        }
    }

    /// A single entry, claimed (the Go binary).
    pub fn single(name: impl Into<String>, entry: Entry) -> Part {
        Part {
            name: name.into(),
            claims: vec![entry.rel.clone()],
            entries: vec![entry],
        }
    }

    /// The app's own files: it claims nothing, and goes last.
    pub fn app(entries: Vec<Entry>) -> Part {
        Part {
            name: "app".to_owned(),
            claims: Vec::new(),
            entries,
        }
    }
}

/// Orders parts into components: `layout` (`./app/` and the directories above every claim),
/// then the parts in the order given, the last one carrying the end-of-archive marker. Checks
/// claims and every symlink against the whole slug.
pub fn lay_out(parts: Vec<Part>) -> Result<Vec<Component>, SlugError> {
    let mut claims: HashMap<Vec<u8>, &str> = HashMap::new();
    for part in &parts {
        for claim in &part.claims {
            if let Some(other) = claims.get(claim.as_slice()) {
                return Err(conflict(claim, other, &part.name));
            }
            claims.insert(claim.clone(), &part.name);
        }
    }
    // A claim inside another claim (runtime at `a`, Go output at `a/bin/x`) is a conflict.
    for (claim, owner) in &claims {
        for ancestor in ancestors(claim) {
            if let Some(other) = claims.get(ancestor) {
                return Err(conflict(claim, other, owner));
            }
        }
    }
    let above: BTreeSet<Vec<u8>> = claims
        .keys()
        .flat_map(|claim| ancestors(claim).map(<[u8]>::to_vec))
        .collect();

    for part in &parts {
        for entry in &part.entries {
            let mut covering = ancestors(&entry.rel).chain(std::iter::once(entry.rel.as_slice()));
            if let Some(other) = covering.find_map(|p| claims.get(p).filter(|o| **o != part.name)) {
                return Err(conflict(&entry.rel, other, &part.name));
            }
            if above.contains(&entry.rel) && !matches!(entry.kind, EntryKind::Dir) {
                let owner = claims
                    .iter()
                    .find(|(claim, _)| claim.starts_with(&entry.rel))
                    .map_or("", |(_, owner)| *owner);
                return Err(conflict(&entry.rel, owner, &part.name));
            }
        }
    }

    let mut layout: Vec<Entry> = std::iter::once(Vec::new())
        .chain(above.iter().cloned())
        .map(|rel| Entry {
            rel,
            kind: EntryKind::Dir,
        })
        .collect();
    layout.sort_by(|a, b| path_cmp(&a.rel, &b.rel));

    let mut components = vec![Component {
        name: "layout".to_owned(),
        entries: layout,
        end_of_archive: false,
    }];
    let count = parts.len();
    for (i, part) in parts.into_iter().enumerate() {
        let entries = part
            .entries
            .into_iter()
            .filter(|e| !above.contains(&e.rel))
            .collect();
        components.push(Component {
            name: part.name,
            entries,
            end_of_archive: i + 1 == count,
        });
    }
    if count == 0 {
        components[0].end_of_archive = true;
    }
    check_symlinks(components.iter().flat_map(|c| c.entries.iter()))?;
    Ok(components)
}

fn conflict(rel: &[u8], first: &str, second: &str) -> SlugError {
    SlugError::Conflict {
        path: format!("./app/{}", String::from_utf8_lossy(rel)),
        first: first.to_owned(),
        second: second.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(rel: &str) -> Entry {
        Entry {
            rel: rel.as_bytes().to_vec(),
            kind: EntryKind::Dir,
        }
    }

    fn file(rel: &str) -> Entry {
        Entry {
            rel: rel.as_bytes().to_vec(),
            kind: EntryKind::File {
                source: "/dev/null".into(),
                size: 0,
                executable: false,
            },
        }
    }

    fn names(c: &Component) -> Vec<String> {
        c.entries.iter().map(Entry::display).collect()
    }

    #[test]
    fn directories_above_claims_are_written_once_in_the_layout() {
        let ruby = Part::tree(
            "runtime.ruby",
            b"vendor/ruby",
            vec![file("vendor/ruby/bin")],
        );
        let go = Part::single("go", file("bin/web"));
        let app = Part::app(vec![
            dir("bin"),
            file("bin/other"),
            dir("vendor"),
            file("web.js"),
        ]);
        let comps = lay_out(vec![ruby, go, app]).unwrap();
        assert_eq!(names(&comps[0]), ["./app/", "./app/bin/", "./app/vendor/"]);
        assert_eq!(
            names(&comps[1]),
            ["./app/vendor/ruby/", "./app/vendor/ruby/bin"]
        );
        assert_eq!(names(&comps[2]), ["./app/bin/web"]);
        assert_eq!(names(&comps[3]), ["./app/bin/other", "./app/web.js"]);
        assert_eq!(
            comps.iter().map(|c| c.end_of_archive).collect::<Vec<_>>(),
            [false, false, false, true]
        );
    }

    #[test]
    fn a_path_provided_twice_names_both_parts() {
        let node = Part::tree("runtime.node", b"node-v20", vec![]);
        let app = Part::app(vec![dir("node-v20"), file("node-v20/x")]);
        let err = lay_out(vec![node, app]).unwrap_err().to_string();
        assert!(
            err.contains("./app/node-v20") && err.contains("runtime.node") && err.contains("app"),
            "{err}"
        );

        let a = Part::tree("runtime.a", b"", vec![dir("bin"), file("bin/x")]);
        let go = Part::single("go", file("bin/web"));
        let err = lay_out(vec![a, go, Part::app(vec![])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("runtime.a") && err.contains("go"), "{err}");

        let ruby = Part::tree("runtime.ruby", b"vendor/ruby", vec![]);
        let err = lay_out(vec![ruby, Part::app(vec![file("vendor")])])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("./app/vendor") && err.contains("runtime.ruby"),
            "{err}"
        );
    }
}
