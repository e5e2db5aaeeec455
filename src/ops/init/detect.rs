//! What `slugplan init` finds in a project directory: a Procfile, a Node.js app (package.json
//! and its `engines.node`), a Ruby app (`.ruby-version`, a Gemfile's `ruby` line), a Go module
//! (go.mod), and the runtimes and process types they call for.
//!
//! Runtimes are the platform's own: Node.js is nodejs.org's official linux-x64 tarball of the
//! version package.json asks for, Ruby is the tgz Heroku's Ruby buildpack installs for the
//! stack. Nothing is downloaded here: the version comes from the project's files, and where
//! they give a range or nothing, the choice made is said in a note, for the user to check.

use std::path::Path;

use super::InitError;
use crate::manifest::procfile;

/// The Node.js version used when package.json names none (a Node.js 22 LTS release).
pub const DEFAULT_NODE: &str = "22.11.0";
/// The Ruby version used when neither `.ruby-version` nor the Gemfile names one.
pub const DEFAULT_RUBY: &str = "3.3.6";

/// What was found in the project.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Found {
    /// The Procfile's process types, when there is one.
    pub procfile: Option<Vec<String>>,
    /// The Node.js runtime, when there is a package.json.
    pub node: Option<Node>,
    /// The Ruby runtime, when there is a `.ruby-version` or a Gemfile.
    pub ruby: Option<Ruby>,
    /// The Go program, when there is a go.mod.
    pub go: Option<Go>,
    /// Choices made for the user to check (a range resolved, a default taken), one sentence
    /// each; they go into slug.toml as comments too.
    pub notes: Vec<String>,
}

/// A Node.js app.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    /// The Node.js version, `X.Y.Z`.
    pub version: String,
    /// What package.json's `engines.node` says (None: nothing).
    pub engines: Option<String>,
    /// The script `web` runs with the runtime's node (from `scripts.start`, `main`, or a
    /// `server.js`/`index.js`/`app.js`), when one was found.
    pub script: Option<String>,
}

impl Node {
    /// The official linux-x64 tarball's URL on nodejs.org.
    pub fn url(&self) -> String {
        format!(
            "https://nodejs.org/dist/v{v}/node-v{v}-linux-x64.tar.gz",
            v = self.version
        )
    }

    /// The tarball's top-level folder, which is where the runtime unpacks in `./app`.
    pub fn folder(&self) -> String {
        format!("node-v{}-linux-x64", self.version)
    }
}

/// A Ruby app.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ruby {
    /// The Ruby version, `X.Y.Z`.
    pub version: String,
    /// Where it came from: `.ruby-version`, `Gemfile`, or None (the default).
    pub from: Option<&'static str>,
    /// The script `web` runs with the runtime's ruby (`server.rb`, `app.rb`, `web.rb`).
    pub script: Option<String>,
}

impl Ruby {
    /// The tgz Heroku's Ruby buildpack installs on `stack`:
    /// `https://heroku-buildpack-ruby.s3.us-east-1.amazonaws.com/<stack>/ruby-<version>.tgz`,
    /// with the architecture (`amd64`) after the stack from heroku-24 on, which is built for
    /// more than one.
    pub fn url(&self, stack: &str) -> String {
        let arch = if stack_number(stack).is_some_and(|n| n >= 24) {
            "amd64/"
        } else {
            ""
        };
        format!(
            "https://heroku-buildpack-ruby.s3.us-east-1.amazonaws.com/{stack}/{arch}ruby-{}.tgz",
            self.version
        )
    }

    /// Where it unpacks in `./app` (the tgz has no top-level folder).
    pub fn folder(&self) -> String {
        format!("ruby-{}", self.version)
    }
}

/// A Go program.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Go {
    /// The module path go.mod declares.
    pub module: String,
    /// The binary's name: the module path's last element.
    pub binary: String,
}

fn stack_number(stack: &str) -> Option<u32> {
    stack.strip_prefix("heroku-")?.parse().ok()
}

/// Looks at the files of `dir`.
pub fn detect(dir: &Path) -> Result<Found, InitError> {
    let mut found = Found::default();
    if let Some(text) = read(dir, "Procfile")? {
        let types = procfile::parse(&text).map_err(|_| InitError::Procfile {
            path: dir.join("Procfile"),
        })?;
        found.procfile = Some(types.into_keys().collect());
    }
    if let Some(text) = read(dir, "package.json")? {
        found.node = Some(node(dir, &text, &mut found.notes)?);
    }
    found.ruby = ruby(dir, &mut found.notes)?;
    if let Some(text) = read(dir, "go.mod")? {
        found.go = Some(go(dir, &text)?);
    }
    if found.procfile.is_none() {
        let has_web = found.node.as_ref().is_some_and(|n| n.script.is_some())
            || found.ruby.as_ref().is_some_and(|r| r.script.is_some())
            || found.go.is_some();
        if !has_web {
            found.notes.push(
                "no Procfile and no program to start found: add the process types \
                 (`process_types = { web = \"…\" }`, or a Procfile) before deploying"
                    .to_owned(),
            );
        }
    }
    Ok(found)
}

fn read(dir: &Path, name: &str) -> Result<Option<String>, InitError> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(InitError::Read { path, source }),
    }
}

fn node(dir: &Path, text: &str, notes: &mut Vec<String>) -> Result<Node, InitError> {
    let path = dir.join("package.json");
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|source| InitError::PackageJson {
            path: path.clone(),
            source,
        })?;
    let engines = json
        .pointer("/engines/node")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let version = match &engines {
        None => {
            notes.push(format!(
                "package.json has no engines.node: Node.js {DEFAULT_NODE} (an LTS release) is \
                 used; set engines.node to the version you test with"
            ));
            DEFAULT_NODE.to_owned()
        }
        Some(range) => node_version(range, notes).ok_or_else(|| InitError::NodeRange {
            path: path.clone(),
            range: range.clone(),
        })?,
    };
    let start = json
        .pointer("/scripts/start")
        .and_then(serde_json::Value::as_str);
    let main = json.get("main").and_then(serde_json::Value::as_str);
    // Heroku runs `npm start`; in a slug, node is the runtime's binary, so a start script
    // that runs node is taken, with the runtime's node in front.
    let script = start
        .and_then(|s| s.strip_prefix("node "))
        .map(str::trim)
        .or(main.filter(|m| dir.join(m).is_file()))
        .map(str::to_owned)
        .or_else(|| first_file(dir, &["server.js", "index.js", "app.js"]));
    if start.is_some_and(|s| !s.starts_with("node ")) {
        notes.push(format!(
            "package.json's start script (`{}`) does not run node: write the web process \
             type by hand",
            start.unwrap_or_default()
        ));
    }
    Ok(Node {
        version,
        engines,
        script,
    })
}

/// The version an `engines.node` range stands for: the version itself when it names one
/// (`20.11.0`, `v20.11.0`), else the lowest the range allows (`^20.11` → 20.11.0, `>=18` →
/// 18.0.0, with a note); None when it has no lower bound (`<21`, `*`).
fn node_version(range: &str, notes: &mut Vec<String>) -> Option<String> {
    let exact = range.trim().trim_start_matches(['v', '=']);
    if let Ok(version) = nodejs_semver::Version::parse(exact) {
        return Some(version.to_string());
    }
    let lowest = nodejs_semver::Range::parse(range).ok()?.min_version()?;
    if lowest.major() == 0 && lowest.minor() == 0 && lowest.patch() == 0 {
        return None;
    }
    notes.push(format!(
        "package.json's engines.node is a range (`{range}`): Node.js {lowest}, the lowest it \
         allows, is used; change the URL to the version you test with"
    ));
    Some(lowest.to_string())
}

fn ruby(dir: &Path, notes: &mut Vec<String>) -> Result<Option<Ruby>, InitError> {
    let dotfile = read(dir, ".ruby-version")?;
    let gemfile = read(dir, "Gemfile")?;
    if dotfile.is_none() && gemfile.is_none() {
        return Ok(None);
    }
    let from_dotfile = dotfile
        .as_deref()
        .and_then(|t| t.split_whitespace().next())
        .map(|v| v.trim_start_matches("ruby-").to_owned());
    let from_gemfile = gemfile.as_deref().and_then(gemfile_ruby);
    let (version, from) = match (from_dotfile, from_gemfile) {
        (Some(v), _) => (v, Some(".ruby-version")),
        (None, Some(v)) => (v, Some("Gemfile")),
        (None, None) => {
            notes.push(format!(
                "neither .ruby-version nor the Gemfile names a Ruby version: Ruby \
                 {DEFAULT_RUBY} is used; add a .ruby-version"
            ));
            (DEFAULT_RUBY.to_owned(), None)
        }
    };
    let version = full_version(&version).ok_or_else(|| InitError::RubyVersion {
        path: dir.join(from.unwrap_or(".ruby-version")),
        version: version.clone(),
    })?;
    Ok(Some(Ruby {
        version,
        from,
        script: first_file(dir, &["server.rb", "app.rb", "web.rb"]),
    }))
}

/// `ruby "3.3.6"` (or with single quotes) in a Gemfile.
fn gemfile_ruby(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("ruby")?.trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value = rest[1..].split(quote).next()?;
        Some(value.trim_start_matches("ruby-").to_owned())
    })
}

/// `X.Y.Z` for `X.Y.Z` and `X.Y` (Heroku's tgz are named by full versions).
fn full_version(version: &str) -> Option<String> {
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match (numeric, parts.len()) {
        (true, 3) => Some(version.to_owned()),
        (true, 2) => Some(format!("{version}.0")),
        _ => None,
    }
}

fn go(dir: &Path, text: &str) -> Result<Go, InitError> {
    let module = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("module "))
        .map(|m| m.trim().trim_matches('"').to_owned())
        .ok_or_else(|| InitError::GoMod {
            path: dir.join("go.mod"),
        })?;
    let last = module.rsplit('/').next().unwrap_or(&module);
    let binary: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Ok(Go {
        binary: if binary.is_empty() {
            "web".to_owned()
        } else {
            binary
        },
        module,
    })
}

fn first_file(dir: &Path, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find(|n| dir.join(n).is_file())
        .map(|n| (*n).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_node_gives_a_version() {
        let mut notes = Vec::new();
        assert_eq!(
            node_version("20.11.0", &mut notes).as_deref(),
            Some("20.11.0")
        );
        assert_eq!(
            node_version("v20.11.0", &mut notes).as_deref(),
            Some("20.11.0")
        );
        assert!(notes.is_empty(), "an exact version needs no note");
        assert_eq!(
            node_version("^20.11", &mut notes).as_deref(),
            Some("20.11.0")
        );
        assert_eq!(
            node_version(">=18 <21", &mut notes).as_deref(),
            Some("18.0.0")
        );
        assert_eq!(node_version("20.x", &mut notes).as_deref(), Some("20.0.0"));
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert_eq!(node_version("<21", &mut notes), None);
        assert_eq!(node_version("*", &mut notes), None);
    }

    #[test]
    fn the_ruby_url_follows_the_buildpack_per_stack() {
        let ruby = Ruby {
            version: "3.3.6".into(),
            from: None,
            script: None,
        };
        assert_eq!(
            ruby.url("heroku-24"),
            "https://heroku-buildpack-ruby.s3.us-east-1.amazonaws.com/heroku-24/amd64/ruby-3.3.6.tgz"
        );
        assert_eq!(
            ruby.url("heroku-22"),
            "https://heroku-buildpack-ruby.s3.us-east-1.amazonaws.com/heroku-22/ruby-3.3.6.tgz"
        );
    }

    #[test]
    fn a_gemfile_names_its_ruby() {
        assert_eq!(
            gemfile_ruby("source 'https://rubygems.org'\nruby '3.2.2'\n").as_deref(),
            Some("3.2.2")
        );
        assert_eq!(gemfile_ruby("ruby \"3.3.0\"").as_deref(), Some("3.3.0"));
        assert_eq!(gemfile_ruby("gem 'rails'\n"), None);
        assert_eq!(full_version("3.3").as_deref(), Some("3.3.0"));
        assert_eq!(full_version("3.3.0-preview"), None);
    }
}
