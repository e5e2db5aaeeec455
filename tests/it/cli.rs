//! Integration tests: the command-line conventions every command follows (help with examples,
//! completions, colour rules).

use clap::CommandFactory;
use slugplan::cli::args::Cli;

use crate::common::{TestContext, slugplan_snapshot};

/// Every subcommand, at any depth, with its full name (`cache prune`).
fn subcommands() -> Vec<(String, clap::Command)> {
    fn walk(prefix: &str, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            let name = format!("{prefix}{}", sub.get_name());
            out.push((name.clone(), sub.clone()));
            walk(&format!("{name} "), sub, out);
        }
    }
    let mut out = Vec::new();
    walk("", &Cli::command(), &mut out);
    out
}

#[test]
fn clap_definition_is_consistent() {
    // Catches conflicting short flags, bad defaults and the like before a user does.
    Cli::command().debug_assert();
}

#[test]
fn every_command_has_an_example_in_its_help() {
    let commands = subcommands();
    assert!(commands.len() >= 4, "subcommands not found: {commands:?}");
    let mut missing = Vec::new();
    for (name, mut cmd) in commands {
        let help = cmd.render_long_help().to_string();
        if !help.contains("Example") || !help.contains(&format!("slugplan {name}")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "these commands' help shows no `Example: slugplan <command> …`: {missing:?}"
    );
    let top = Cli::command().render_long_help().to_string();
    assert!(top.contains("Examples:"), "{top}");
}

#[test]
fn help_runs_for_every_command_without_colour_under_no_color() {
    let ctx = TestContext::new();
    for (name, _) in subcommands() {
        let mut args: Vec<&str> = name.split(' ').collect();
        args.push("--help");
        let out = ctx
            .command()
            .args(&args)
            // CLICOLOR_FORCE alone makes clap colour piped help; NO_COLOR must still win.
            .env("NO_COLOR", "1")
            .env("CLICOLOR_FORCE", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name} --help");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("Example"), "{name} --help:\n{stdout}");
        assert!(!stdout.contains('\u{1b}'), "{name} --help has escapes");
    }
}

#[test]
fn completions_name_every_subcommand() {
    let ctx = TestContext::new();
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for shell in ["bash", "zsh", "fish"] {
        let out = ctx.run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for name in &names {
            assert!(
                script.contains(name.as_str()),
                "{shell} script lacks {name}"
            );
        }
    }
    let bash = String::from_utf8(ctx.run(&["completions", "bash"]).stdout).unwrap();
    assert!(bash.contains("complete -F _slugplan"), "{bash}");
    let fish = String::from_utf8(ctx.run(&["completions", "fish"]).stdout).unwrap();
    assert!(fish.contains("complete -c slugplan"), "{fish}");
}

#[test]
fn completions_reject_an_unknown_shell() {
    let ctx = TestContext::new();
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["completions", "cmd.exe"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    error: invalid value 'cmd.exe' for '<SHELL>'
      [possible values: bash, elvish, fish, powershell, zsh]

    For more information, try '--help'.
    ");
}

const BROKEN: &str = "[apps.example-web]\nslug = \"nope\"\n";

/// Runs `slugplan validate` on a broken manifest with the given colour environment.
fn broken_stderr(env: &[(&str, &str)], args: &[&str]) -> String {
    let ctx = TestContext::new();
    ctx.write("slug.toml", BROKEN);
    let mut cmd = ctx.command();
    cmd.env_remove("NO_COLOR");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.arg("validate").args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    ctx.redact(&String::from_utf8(out.stderr).unwrap())
}

#[test]
fn no_color_wins_over_force_color() {
    // FORCE_COLOR alone does colour a piped stderr, so the NO_COLOR check below can fail.
    assert!(broken_stderr(&[("FORCE_COLOR", "1")], &[]).contains('\u{1b}'));
    let plain = broken_stderr(&[("FORCE_COLOR", "1"), ("NO_COLOR", "1")], &[]);
    // Exactly what a pipe gets (snapshotted below).
    assert_eq!(plain, broken_stderr(&[], &[]));
}

#[test]
fn color_flag_beats_the_environment() {
    assert!(!broken_stderr(&[("FORCE_COLOR", "1")], &["--color", "never"]).contains('\u{1b}'));
    assert!(broken_stderr(&[("NO_COLOR", "1")], &["--color", "always"]).contains('\u{1b}'));
}

#[test]
fn a_pipe_gets_no_colour_by_default() {
    let plain = broken_stderr(&[], &[]);
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    insta::assert_snapshot!("plain_error_rendering", plain);
}

#[test]
fn verbose_and_quiet_conflict() {
    let ctx = TestContext::new();
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["-v", "-q", "schema"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    error: the argument '--verbose...' cannot be used with '--quiet'

    Usage: slugplan --verbose... --cache-dir <DIR> <COMMAND>

    For more information, try '--help'.
    ");
}

/// A usage error is an error (1): only `plan --detailed-exitcode` uses 2, for "changes
/// pending", so a CI gate must never read a mistyped flag as a pending deploy.
#[test]
fn a_usage_error_exits_1_even_with_detailed_exitcode() {
    let ctx = TestContext::new();
    slugplan_snapshot!(
        ctx.filters(),
        ctx.slugplan(&["plan", "--detailed-exitcode", "--tagret", "x"]),
        @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    error: unexpected argument '--tagret' found

      tip: a similar argument exists: '--target'

    Usage: slugplan plan --detailed-exitcode --target <ADDRESS>

    For more information, try '--help'.
    "
    );
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["plan", "--jobs", "many"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    error: invalid value 'many' for '--jobs <N>': invalid digit found in string

    For more information, try '--help'.
    ");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["deploy"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    error: unrecognized subcommand 'deploy'

      tip: some similar subcommands exist: 'apply', 'destroy'

    Usage: slugplan [OPTIONS] <COMMAND>

    For more information, try '--help'.
    ");
}

#[test]
fn help_and_version_exit_0() {
    let ctx = TestContext::new();
    for args in [
        &["--help"][..],
        &["--version"],
        &["plan", "--help"],
        &["help", "plan"],
    ] {
        let out = ctx.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(!out.stdout.is_empty(), "{args:?} prints on stdout");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
}

/// CI must run exactly the test command the README gives, so the two cannot drift apart.
#[test]
fn ci_runs_the_readme_test_command() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let command = readme
        .lines()
        .find(|line| line.contains("cargo test") && line.contains("# the tests"))
        .map(|line| line.split('#').next().unwrap().trim().to_owned())
        .expect("the README's set-up names a test command");
    let ci = std::fs::read_to_string(format!("{root}/.ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|line| line.trim() == command),
        ".ci/run does not run the README's test command `{command}`:\n{ci}"
    );
}
