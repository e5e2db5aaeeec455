//! Sensitive config values: a marker value in the environment (and one marked sensitive in the
//! manifest) reaches the platform, and nothing else: no output of any command, `--json` or
//! `-vv` trace, saved plan, state database, audit log or request log holds it. A saved plan
//! holds its keyed hash, and applying it in an environment where the value moved is refused.

use std::path::Path;

use super::{config_of, shop};
use crate::common::project::Project;
use crate::common::slugplan_snapshot;

/// Set in the environment as `SHOP_TOKEN`; must never be printed or stored by slugplan.
const MARKER: &str = "m4rker-from-the-environment-7f3a";
/// Written in the manifest, marked sensitive.
const MARKED: &str = "m4rked-in-the-manifest-19bc";

const CONFIG: &str = "[apps.shop.config]\n\
    GREETING = \"hi\"\n\
    TOKEN = \"${SHOP_TOKEN}\"\n\
    DATABASE_URL = \"postgres://shop:${SHOP_TOKEN}@db/shop\"\n\
    API_KEY = { value = \"m4rked-in-the-manifest-19bc\", sensitive = true }\n";

/// Every file under `dir` whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        // The manifest is the user's own file: what it writes is theirs to keep.
        if !entry.file_type().is_file() || entry.file_name() == "slug.toml" {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        if bytes
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
        {
            found.push(entry.path().display().to_string());
        }
    }
    found
}

#[test]
fn a_sensitive_value_reaches_the_platform_and_nothing_else() {
    let p = shop(Project::served(&[]), CONFIG);
    let run = |args: &[&str], marker: &str| {
        let out = p
            .command(args)
            .env("SHOP_TOKEN", marker)
            .output()
            .expect("run slugplan");
        assert!(
            out.status.code().is_some_and(|c| c <= 2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let moved = format!("{MARKER}-2");
    let outputs = [
        run(&["validate", "--json"], MARKER),
        run(&["graph"], MARKER),
        run(&["plan", "-vv"], MARKER),
        run(&["plan", "--json"], MARKER),
        run(&["plan", "-out", "saved.plan"], MARKER),
        run(&["apply", "saved.plan", "-vv"], MARKER),
        // A new value: a change, applied with --json.
        run(&["plan", "--detailed-exitcode", "-v"], &moved),
        run(&["apply", "--yes", "--json"], &moved),
        run(&["history", "--json"], &moved),
        run(&["history"], &moved),
        run(&["releases", "shop", "--json"], &moved),
        // The pull request comment, planned and from the saved plan: masked too.
        run(&["plan", "--format", "markdown"], MARKER),
        run(&["show", "saved.plan", "--format", "markdown"], MARKER),
    ];

    // The platform has it: that is the point.
    let config = config_of(&p, "shop");
    assert_eq!(config["TOKEN"], moved);
    assert_eq!(config["API_KEY"], MARKED);

    for output in &outputs {
        for secret in [MARKER, MARKED] {
            assert!(!output.contains(secret), "printed:\n{output}");
        }
    }
    let plan = std::fs::read_to_string(p.path("saved.plan")).unwrap();
    assert!(plan.contains("hmac-sha256:"), "{plan}");
    // The project (saved plan, state database and its audit log), the cache, HOME, the
    // server's request log: none holds it (the server's platform data lives elsewhere).
    assert!(p.path(".slugplan/state/state.db").is_file());
    assert!(p.ctx.temp.path().join("requests.jsonl").is_file());
    for secret in [MARKER, MARKED] {
        assert_eq!(
            files_holding(p.ctx.temp.path(), secret),
            Vec::<String>::new()
        );
    }
    for markdown in &outputs[outputs.len() - 2..] {
        assert!(markdown.contains("TOKEN (sensitive)"), "{markdown}");
    }
    assert!(
        outputs[2].contains("+ config.shop: TOKEN (sensitive)"),
        "{}",
        outputs[2]
    );
    assert!(
        outputs[6].contains("~ config.shop: TOKEN (sensitive) → (sensitive)"),
        "{}",
        outputs[6]
    );
}

#[test]
fn a_saved_plan_is_refused_when_a_value_from_the_environment_moved() {
    let p = shop(Project::local(), CONFIG);
    let with = |marker: &str, args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env("SHOP_TOKEN", marker);
        cmd
    };
    let out = with(MARKER, &["plan", "-out", "saved.plan"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    slugplan_snapshot!(p.filters(), with("another-value", &["apply", "saved.plan"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::plan::stale

      × plan is stale: config var DATABASE_URL of shop has another value in this environment than when the plan was made
      help: run `slugplan plan -out FILE` again, review it, then apply the new file
    ");
    // Unset, it cannot even be expanded: the error names the key, the variable and the line.
    slugplan_snapshot!(p.filters(), p.command(&["apply", "saved.plan"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::manifest::invalid

      × slug.toml has 2 problems

    slugplan::manifest::unset_variable

      × `apps.shop.config.DATABASE_URL` takes ${SHOP_TOKEN} from the environment, and SHOP_TOKEN is not set
        ╭─[slug.toml:11:33]
     10 │ TOKEN = "${SHOP_TOKEN}"
     11 │ DATABASE_URL = "postgres://shop:${SHOP_TOKEN}@db/shop"
        ·                                 ──────┬──────
        ·                                       ╰── SHOP_TOKEN is not set
     12 │ API_KEY = { value = "m4rked-in-the-manifest-19bc", sensitive = true }
        ╰────
      help: set SHOP_TOKEN in the environment slugplan runs in, or give a default: ${SHOP_TOKEN:-value}

    slugplan::manifest::unset_variable

      × `apps.shop.config.TOKEN` takes ${SHOP_TOKEN} from the environment, and SHOP_TOKEN is not set
        ╭─[slug.toml:10:10]
      9 │ GREETING = "hi"
     10 │ TOKEN = "${SHOP_TOKEN}"
        ·          ──────┬──────
        ·                ╰── SHOP_TOKEN is not set
     11 │ DATABASE_URL = "postgres://shop:${SHOP_TOKEN}@db/shop"
        ╰────
      help: set SHOP_TOKEN in the environment slugplan runs in, or give a default: ${SHOP_TOKEN:-value}
    "#);
    // In the environment it was made in, it applies.
    let out = with(MARKER, &["apply", "saved.plan"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(config_of(&p, "shop")["TOKEN"], MARKER);
}
