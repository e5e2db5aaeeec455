//! The CI example (`examples/ci/github-actions.yml`): it is not run here, but it parses as
//! YAML, has the jobs the README's recipe describes, and every slugplan command line in it is
//! one slugplan's argument parser accepts.

use std::ffi::OsString;

use slugplan::cli::args::Cli;
use yaml_rust2::{Yaml, YamlLoader};

fn repo_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Every `run:` script of every step of every job, by job.
fn scripts(doc: &Yaml) -> Vec<(String, String)> {
    let jobs = doc["jobs"].as_hash().expect("a `jobs` map");
    let mut out = Vec::new();
    for (name, job) in jobs {
        let name = name.as_str().unwrap().to_owned();
        for step in job["steps"].as_vec().expect("steps") {
            if let Some(run) = step["run"].as_str() {
                out.push((name.clone(), run.to_owned()));
            }
        }
    }
    out
}

/// The slugplan command lines of a shell script: continuations joined, each command of a
/// `&&`, `||`, `|` or `;` list on its own, redirections left out.
fn slugplan_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or(line);
        for command in line.split(['|', '&', ';']) {
            let words: Vec<String> = command
                .split_whitespace()
                .take_while(|w| !w.starts_with('>') && !w.starts_with('<'))
                .map(str::to_owned)
                .collect();
            if words.first().is_some_and(|w| w == "slugplan") {
                out.push(words);
            }
        }
    }
    out
}

#[test]
fn the_github_actions_example_parses_and_every_slugplan_command_is_accepted() {
    let text = std::fs::read_to_string(repo_file("examples/ci/github-actions.yml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("valid YAML");
    let doc = &docs[0];
    // YAML 1.2: `on` is a key, not `true`.
    assert!(!doc["on"]["pull_request"].is_badvalue(), "{doc:?}");
    let scripts = scripts(doc);
    let mut seen = Vec::new();
    for (job, script) in &scripts {
        for words in slugplan_commands(script) {
            let args: Vec<OsString> = words.iter().map(OsString::from).collect();
            if let Err(err) = Cli::try_parse_args(args) {
                panic!("job {job}: `{}` is refused:\n{err}", words.join(" "));
            }
            seen.push((job.as_str(), words.join(" ")));
        }
    }
    // The recipe: a plan saved and rendered as a comment on pull requests, that plan applied
    // on main, and the drift gate.
    for (job, command) in [
        ("plan", "slugplan plan -out release.plan"),
        ("plan", "slugplan show release.plan --format markdown"),
        ("apply", "slugplan apply release.plan --json"),
        ("drift", "slugplan plan --no-build --detailed-exitcode"),
    ] {
        assert!(
            seen.contains(&(job, command.to_owned())),
            "no `{command}` in job {job}: {seen:#?}"
        );
    }
}

#[test]
fn a_command_line_the_parser_refuses_is_caught() {
    // The check above can fail: a misspelt flag is refused.
    let words = &slugplan_commands("slugplan plan --detailed-exit-code > x")[0];
    assert_eq!(words, &["slugplan", "plan", "--detailed-exit-code"]);
    let args: Vec<OsString> = words.iter().map(OsString::from).collect();
    assert!(Cli::try_parse_args(args).is_err());
}
