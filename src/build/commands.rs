//! The process types' commands, checked against the slug they run in: a command that names a
//! program by path (`node/bin/node web.js`, `./bin/web`, `/app/bin/web`) must find an
//! executable file there once the slug is extracted in `/app`.
//!
//! A runtime unpacked with the wrong `strip_components` or `dest` moves its binary elsewhere,
//! and the release only fails when a dyno starts. The check runs before a slug is packed or
//! found in the cache (process types are not part of a slug's input key), and says what is
//! there instead: the deepest directory of the path that exists, what it holds, and an
//! executable elsewhere in the slug with the same name, if there is one.
//!
//! Commands it cannot judge are left alone: a bare name (`bundle exec …`) is looked up on the
//! dyno's `PATH`; an absolute path outside `/app` (`/bin/sh`) is the stack's; a word with shell
//! syntax in it (`$HOME/bin/x`, quotes, globs) is the shell's.

use std::collections::{BTreeMap, HashMap};

use miette::SourceSpan;

use super::BuildError;
use crate::manifest::{AppPath, LoadedManifest, ManifestSource, shown};
use crate::slug::tree::{Resolved, links, resolve};
use crate::slug::{Component, EntryKind};

/// Where a process type's command does not resolve: what [`BuildError::Command`] holds.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("slug `{slug}`: process type `{process_type}` runs `{program}`, which {problem}; {found}")]
#[diagnostic(code(slugplan::build::command))]
pub struct CommandError {
    /// The slug.
    pub slug: String,
    /// The process type.
    pub process_type: String,
    /// The program's path as the command writes it.
    pub program: String,
    /// What is wrong: "is not in the slug", "is a directory", "is not executable", ….
    pub problem: String,
    /// What is there instead.
    pub found: String,
    /// slug.toml, when the process type is written there (not in a Procfile).
    #[source_code]
    pub manifest: Option<ManifestSource>,
    /// The command in slug.toml.
    #[label("run from /app, the slug's root")]
    pub span: Option<SourceSpan>,
    /// How to fix it.
    #[help]
    pub help: String,
}

/// Checks every process type of slug `slug` whose command names a program by path against
/// the slug's `components` (see the module docs).
pub(super) fn check(
    loaded: &LoadedManifest,
    slug: &str,
    process_types: &BTreeMap<String, String>,
    components: &[Component],
) -> Result<(), BuildError> {
    let entries = || components.iter().flat_map(|c| c.entries.iter());
    let mut program_paths = process_types
        .iter()
        .filter_map(|(name, command)| Some((name, program(command)?)))
        .peekable();
    if program_paths.peek().is_none() {
        return Ok(());
    }
    let kinds: HashMap<&[u8], &EntryKind> =
        entries().map(|e| (e.rel.as_slice(), &e.kind)).collect();
    let links = links(entries());
    for (process_type, program) in program_paths {
        let inside = program.strip_prefix("/app/").unwrap_or(program);
        let Some(problem) = problem(inside, &kinds, &links) else {
            continue;
        };
        let (problem, found, help) = match problem {
            Problem::Missing => {
                let (found, help) = instead(inside, &kinds);
                ("is not in the slug".to_owned(), found, help)
            }
            Problem::NotExecutable => (
                "is not executable".to_owned(),
                "the slug keeps a file's executable bit, and it has none".to_owned(),
                "make it executable (`chmod +x`), or run it with its interpreter \
                 (`node web.js`, `sh bin/start`)"
                    .to_owned(),
            ),
            Problem::Directory(dir) => (
                "is a directory".to_owned(),
                holds(&dir, &kinds),
                "name the program inside it".to_owned(),
            ),
            Problem::Outside(why) => (
                why.to_owned(),
                "a slug runs only what it holds below /app".to_owned(),
                "name the program by its path inside the slug, relative to /app".to_owned(),
            ),
        };
        // Underlined where the manifest's table writes it (a Procfile is not quoted).
        let (manifest, span) = loaded.snippet(&["slugs", slug, "process_types", process_type]);
        return Err(BuildError::Command(Box::new(CommandError {
            slug: slug.to_owned(),
            process_type: shown(process_type),
            program: shown(program),
            problem,
            found,
            manifest,
            span,
            help,
        })));
    }
    Ok(())
}

/// What is wrong with the program at `inside` (relative to `./app`), if anything.
enum Problem {
    Missing,
    NotExecutable,
    /// A directory: its path in the slug, resolved.
    Directory(String),
    /// It cannot be inside the slug: why.
    Outside(&'static str),
}

fn problem(
    inside: &str,
    kinds: &HashMap<&[u8], &EntryKind>,
    links: &HashMap<&[u8], &[u8]>,
) -> Option<Problem> {
    let Ok(path) = AppPath::file(inside) else {
        return Some(Problem::Outside("is not a path inside the slug"));
    };
    match resolve(links, path.as_str().as_bytes()) {
        Resolved::Outside => Some(Problem::Outside("resolves outside the slug")),
        Resolved::Loop => Some(Problem::Outside("is a symlink loop")),
        Resolved::Inside(parts) => {
            let resolved = parts.join(&b'/');
            match kinds.get(resolved.as_slice()) {
                Some(EntryKind::File {
                    executable: true, ..
                }) => None,
                Some(EntryKind::File { .. }) => Some(Problem::NotExecutable),
                Some(_) => Some(Problem::Directory(
                    String::from_utf8_lossy(&resolved).into_owned(),
                )),
                None => Some(Problem::Missing),
            }
        }
    }
}

/// The program a command runs when it names one by a path slugplan can check: its first word
/// after any `NAME=value` assignments, if that word has a `/`, no shell syntax, and is either
/// relative (to `/app`, the dyno's working directory) or below `/app/`.
fn program(command: &str) -> Option<&str> {
    let word = command
        .split_whitespace()
        .find(|word| !is_assignment(word))?;
    let shell = |c: char| "$`\"'\\*?[]{}~();&|<>".contains(c);
    if !word.contains('/') || word.contains(shell) {
        return None;
    }
    (!word.starts_with('/') || word.starts_with("/app/")).then_some(word)
}

/// Whether `word` is a shell variable assignment (`PORT=5000`).
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// What the slug holds where `path` was expected, and a hint: the deepest existing directory
/// on the way and (some of) its entries, and executables elsewhere with the same name.
fn instead(path: &str, kinds: &HashMap<&[u8], &EntryKind>) -> (String, String) {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let deepest = (0..parts.len())
        .rev()
        .map(|n| parts[..n].join("/"))
        .find(|dir| dir.is_empty() || matches!(kinds.get(dir.as_bytes()), Some(EntryKind::Dir)))
        .unwrap_or_default();
    let name = parts.last().copied().unwrap_or_default();
    let mut elsewhere: Vec<&str> = kinds
        .iter()
        .filter(|(_, kind)| {
            matches!(
                kind,
                EntryKind::File {
                    executable: true,
                    ..
                }
            )
        })
        .filter_map(|(rel, _)| std::str::from_utf8(rel).ok())
        .filter(|rel| rel.rsplit('/').next() == Some(name))
        .collect();
    elsewhere.sort_by_key(|rel| (rel.len(), *rel));
    elsewhere.truncate(3);
    let help = match elsewhere.as_slice() {
        [] => "the command runs from /app, the slug's root: check the runtime's `dest` and \
               `strip_components` (a runtime's top-level folder stays unless it is stripped)"
            .to_owned(),
        found => format!(
            "the slug has {}: fix the command, or the runtime's `dest` and `strip_components` \
             (a runtime's top-level folder stays unless it is stripped)",
            found
                .iter()
                .map(|rel| format!("`{}`", shown(rel)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    (holds(&deepest, kinds), help)
}

/// "./app/<dir>/ holds a, b/, …": the first few entries of directory `dir` of the slug.
fn holds(dir: &str, kinds: &HashMap<&[u8], &EntryKind>) -> String {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut children: Vec<String> = kinds
        .iter()
        .filter_map(|(rel, kind)| {
            let rest = std::str::from_utf8(rel).ok()?.strip_prefix(&prefix)?;
            (!rest.is_empty() && !rest.contains('/')).then(|| match kind {
                EntryKind::Dir => format!("{}/", shown(rest)),
                _ => shown(rest),
            })
        })
        .collect();
    children.sort();
    let more = children.len().saturating_sub(8);
    children.truncate(8);
    let mut listed = children.join(", ");
    if more > 0 {
        listed.push_str(&format!(" and {more} more"));
    }
    let shown_dir = format!("./app/{}", shown(&prefix));
    if listed.is_empty() {
        format!("{shown_dir} is empty")
    } else {
        format!("{shown_dir} holds {listed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_named_by_path_are_checked_others_are_not() {
        for (command, program_path) in [
            ("node/bin/node web.js", Some("node/bin/node")),
            ("./bin/web --port $PORT", Some("./bin/web")),
            (
                "PORT=1 RACK_ENV=x vendor/ruby/bin/ruby app.rb",
                Some("vendor/ruby/bin/ruby"),
            ),
            ("/app/bin/web", Some("/app/bin/web")),
            ("bundle exec puma", None),
            ("node web.js", None),
            ("/bin/sh -c 'x'", None),
            ("$HOME/bin/web", None),
            ("\"bin/my web\"", None),
            ("", None),
        ] {
            assert_eq!(program(command), program_path, "{command:?}");
        }
    }
}
