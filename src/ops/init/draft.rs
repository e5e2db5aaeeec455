//! The slug.toml `slugplan init` writes: commented, with the `#:schema` line editors (taplo)
//! read first, one runtime per language found, one slug of the directory, one app.
//!
//! Values are written through `toml`'s own string quoting, so a path or command with quotes or
//! backslashes in it still makes a file that parses to exactly that value; the app's name is a
//! valid Heroku app name, so it is a bare key.

use std::fmt::Write;

use super::detect::Found;
use crate::manifest::SCHEMA_URL;

/// What the draft is made from.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    /// What was found in the project.
    pub found: &'a Found,
    /// The app's name.
    pub app: &'a str,
    /// The stack to build for.
    pub stack: &'a str,
}

/// A TOML string with the value `text`.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

impl Draft<'_> {
    /// The runtimes' names, in the order they are written.
    pub fn runtimes(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.found.ruby.is_some() {
            names.push("ruby");
        }
        if self.found.node.is_some() {
            names.push("node");
        }
        names
    }

    /// The process types written in slug.toml (when there is no Procfile to read them from):
    /// `web` for the first program found to start, Ruby's, then Node's, then Go's binary.
    fn process_types(&self) -> Option<(String, &'static str)> {
        let f = self.found;
        let ruby = f.ruby.as_ref().and_then(|r| {
            let script = r.script.as_ref()?;
            Some((format!("{}/bin/ruby {script}", r.folder()), "ruby"))
        });
        let node = f.node.as_ref().and_then(|n| {
            let script = n.script.as_ref()?;
            Some((format!("{}/bin/node {script}", n.folder()), "node"))
        });
        let go =
            f.go.as_ref()
                .map(|g| (format!("bin/{}", g.binary), "the Go build"));
        ruby.or(node).or(go)
    }

    /// The manifest's text.
    pub fn render(&self) -> String {
        let f = self.found;
        let mut out = format!("#:schema {SCHEMA_URL}\n");
        let _ = writeln!(
            out,
            "# slug.toml for {}, written by `slugplan init` from what it found here.",
            self.app
        );
        out.push_str(
            "#\n\
             # `slugplan validate` checks it, `slugplan lock` pins each runtime's sha256 in slug.lock\n\
             # (commit both files), `slugplan plan` shows what `slugplan apply` would change.\n",
        );
        if !f.notes.is_empty() {
            out.push_str("#\n# To check:\n");
            for note in &f.notes {
                let _ = writeln!(out, "# - {note}");
            }
        }
        out.push_str(
            "\n# The embedded local platform (no account, no network), in .slugplan/platform/.\n\
             # For Heroku: kind = \"heroku\", with the token in HEROKU_API_KEY or ~/.netrc.\n\
             [platform]\nkind = \"local\"\n",
        );
        if let Some(ruby) = &f.ruby {
            let from = ruby.from.map_or_else(
                || "the default version".to_owned(),
                |file| format!("from {file}"),
            );
            let _ = write!(
                out,
                "\n# Ruby {v}, {from}, for {stack}: the tgz Heroku's Ruby buildpack installs\n\
                 # (heroku-buildpack-ruby/<stack>/[amd64/]ruby-<version>.tgz). It has no top-level\n\
                 # folder and unpacks into ./app/{dir}.\n\
                 [runtimes.ruby]\nurl = {url}\ndest = {dest}\n",
                v = ruby.version,
                stack = self.stack,
                dir = ruby.folder(),
                url = quoted(&ruby.url(self.stack)),
                dest = quoted(&ruby.folder()),
            );
        }
        if let Some(node) = &f.node {
            let from = node.engines.as_ref().map_or_else(
                || "the default version".to_owned(),
                |range| format!("from package.json's engines.node {}", quoted(range)),
            );
            let _ = write!(
                out,
                "\n# Node.js {v}, {from}: the official linux-x64 build\n\
                 # from nodejs.org. Its top-level folder ({dir}/) is stripped and it unpacks\n\
                 # into ./app/{dir}, so node is {dir}/bin/node.\n\
                 [runtimes.node]\nurl = {url}\nstrip_components = 1\ndest = {dest}\n",
                v = node.version,
                dir = node.folder(),
                url = quoted(&node.url()),
                dest = quoted(&node.folder()),
            );
        }
        let runtimes = self.runtimes();
        let _ = write!(
            out,
            "\n# The slug: a gzip'd tar of ./app, holding this directory's files (less what\n\
             # .slugignore lists){}.\n\
             [slugs.web]\nsource = \".\"\n",
            if runtimes.is_empty() {
                ""
            } else {
                " and the runtimes above"
            }
        );
        if !runtimes.is_empty() {
            let names: Vec<String> = runtimes.iter().map(|r| quoted(r)).collect();
            let _ = writeln!(out, "runtimes = [{}]", names.join(", "));
        }
        let _ = writeln!(out, "stack = {}", quoted(self.stack));
        match (&f.procfile, self.process_types()) {
            (Some(types), _) => {
                let _ = writeln!(
                    out,
                    "# The process types ({}) are read from the Procfile.\nprocfile = \"Procfile\"",
                    types.join(", ")
                );
            }
            (None, Some((command, from))) => {
                let _ = writeln!(
                    out,
                    "# No Procfile: `web` runs {from}. A Procfile (`procfile = \"Procfile\"`) can replace this.\n\
                     process_types = {{ web = {} }}",
                    quoted(&command)
                );
            }
            (None, None) => out.push_str(
                "# No Procfile and nothing to start was found: name the process types, e.g.\n\
                 # process_types = { web = \"bin/web\" }\n",
            ),
        }
        if let Some(go) = &f.go {
            let _ = write!(
                out,
                "\n# The Go module {module}, cross-compiled reproducibly for linux/amd64 into\n\
                 # ./app/bin/{binary}.\n\
                 [slugs.web.go]\nmodule = \".\"\npackage = \".\"\noutput = {output}\n",
                module = go.module,
                binary = go.binary,
                output = quoted(&format!("bin/{}", go.binary)),
            );
        }
        let app = quoted(self.app);
        let _ = write!(
            out,
            "\n# The app, created on the local platform by the first `slugplan apply`.\n\
             [apps.{bare}]\nslug = \"web\"\n\
             # To promote it to production as a Heroku pipeline does, couple it and add the target:\n\
             # pipeline = {pipeline}\n\
             # stage = \"staging\"\n\
             #\n\
             # [apps.{prod}]\n\
             # promote_from = {app}   # `slugplan promote {bare}` ships what it runs\n\
             # pipeline = {pipeline}\n\
             # stage = \"production\"\n",
            pipeline = quoted(self.app),
            prod = production_name(self.app),
            bare = self.app,
        );
        out
    }
}

/// The production app's name in the commented example: `<app>-prod`, shortened to fit
/// Heroku's 30 characters.
fn production_name(app: &str) -> String {
    let base: String = app.chars().take(25).collect();
    format!("{}-prod", base.trim_end_matches('-'))
}
