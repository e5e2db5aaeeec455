//! Promotion safety end to end: targets refused before anything is released (another stack,
//! Fir), a source whose newest release failed or that runs nothing, and a target newer than its
//! source (drift that needs `--allow-downgrade`).

use serde_json::json;

use super::{PROMOTE_TO_EU, Project, block_on, stderr};

#[test]
fn targets_on_another_stack_or_of_the_fir_generation_are_refused_at_plan_time() {
    let p = Project::served(false, &[]);
    p.ok(&["apply", "--yes"], 0);
    let api = p.api();
    block_on(async {
        api.create(
            "/apps",
            json!({"name": "web-prod-old", "stack": "heroku-22"}),
            "app",
        )
        .await;
        api.create(
            "/apps",
            json!({"name": "web-prod-fir", "generation": "fir"}),
            "app",
        )
        .await;
    });
    p.manifest(false, &["web-prod-old", "web-prod-fir"]);
    p.new_staging_release("console.log('v2')\n");

    let before = p.requests().len();
    for args in [&["plan"][..], &["apply", "--yes"][..]] {
        let out = p.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("promotion refused for"), "{err}");
        assert!(
            err.contains(
                "web-prod-old runs on heroku-22, but web-staging's slug was built for heroku-24"
            ),
            "{err}"
        );
        assert!(
            err.contains("web-prod-fir is a Fir-generation app"),
            "{err}"
        );
    }
    let sent = p.requests()[before..].to_vec();
    assert!(
        sent.iter().all(|(m, _)| m == "GET"),
        "nothing written: {sent:#?}"
    );
    assert!(p.releases("web-prod-old").is_empty());
    assert_eq!(p.releases("web-prod-eu")[0]["version"], 1);
}

#[test]
fn a_failed_or_missing_newest_release_of_the_source_is_not_what_gets_promoted() {
    // Every second release fails: staging's v1 succeeds, its v2 fails.
    let p = Project::served(false, &["--fault-release-fail-every", "2"]);
    let api = p.api();
    block_on(async {
        for app in ["web-staging", "web-prod-eu"] {
            api.create("/apps", json!({"name": app}), "app").await;
        }
    });
    let out = p.run(&["promote", "web-staging", "--to", "web-prod-eu", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("web-staging has no successful current release to promote"),
        "{}",
        stderr(&out)
    );

    p.ok(&["apply", "--yes", "--target", "web-staging"], 0);
    let v1 = p.running("web-staging");
    p.ctx.write("web/web.js", "console.log('v2')\n");
    let out = p.run(&["apply", "--yes", "--target", "web-staging"]);
    assert_eq!(out.status.code(), Some(1), "v2 fails: {}", stderr(&out));
    assert_eq!(p.releases("web-staging")[0]["status"], "failed");

    let doc = p.json(PROMOTE_TO_EU, 0);
    assert_eq!(doc["source"]["version"], 1, "{doc:#}");
    assert_eq!(p.running("web-prod-eu"), v1);
}

#[test]
fn a_target_newer_than_its_source_is_drift_and_needs_allow_downgrade() {
    let p = Project::served(false, &[]);
    p.ok(&["apply", "--yes"], 0);
    // Release times have one-second resolution: make the hotfix unmistakably newer.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.release_by_hand("web-prod-eu", b"hotfix", "Hotfix by hand");
    let plan = p.ok(&["plan"], 0);
    assert!(
        plan.contains("v2 is newer than web-staging's v1: promoting downgrades it; apply needs --allow-downgrade"),
        "{plan}"
    );
    assert!(plan.contains("newer than the source"), "{plan}");

    let before = p.requests().len();
    let out = p.run(&["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("promoting would downgrade promote.web-prod-eu"),
        "{}",
        stderr(&out)
    );
    let sent = p.requests()[before..].to_vec();
    assert!(
        sent.iter().all(|(m, _)| m == "GET"),
        "nothing written: {sent:#?}"
    );

    p.ok(&["apply", "--yes", "--allow-downgrade"], 0);
    assert_eq!(p.running("web-prod-eu"), p.running("web-staging"));
}
