//! `slugplan releases` and `slugplan rollback`: an app's history with checksums and who made
//! each release, and going back in it without building or uploading.

use super::{local, new_staging_release, releases, running, served};
use crate::common::slugplan_snapshot;

#[test]
fn rollback_to_v1_after_two_releases_runs_v1s_checksum() {
    let p = local(false);
    p.ok(&["apply", "--yes", "--target", "web-staging"], 0);
    new_staging_release(&p, "console.log('v2')\n");
    let history = releases(&p, "web-staging");
    let (v2, v1) = (&history[0], &history[1]);
    assert_eq!(
        (v2["version"].as_u64(), v1["version"].as_u64()),
        (Some(2), Some(1))
    );
    assert_ne!(v1["checksum"], v2["checksum"]);

    let doc = p.json(&["rollback", "web-staging", "--to", "v1", "--json"], 0);
    let rollback = &doc["rollback"];
    assert_eq!(rollback["to_version"], 1, "{doc:#}");
    assert_eq!(rollback["from_version"], 2, "{doc:#}");
    assert_eq!(rollback["version"], 3, "{doc:#}");
    assert_eq!(rollback["checksum"], v1["checksum"], "{doc:#}");
    assert_eq!(running(&p, "web-staging"), v1["checksum"].as_str().unwrap());

    // By default: the release before the running one, here v2.
    slugplan_snapshot!(p.filters(), p.command(&["rollback", "web-staging"]), @"
    exit code: 0
    ----- stdout -----
    Rolled back web-staging to v2: v4 runs slug [UUID] (SHA256:d184cd54bab1…).

    ----- stderr -----
    ");
    assert_eq!(running(&p, "web-staging"), v2["checksum"].as_str().unwrap());

    slugplan_snapshot!(p.filters(), p.command(&["releases", "web-staging"]), @"
    exit code: 0
    ----- stdout -----
    === web-staging Releases
    v4    SHA256:d184cd54bab1…        succeeded  current  slugplan  [TIME]  Rollback to v2
    v3    SHA256:6f688d0dfc99…        succeeded           slugplan  [TIME]  Rollback to v1
    v2    SHA256:d184cd54bab1…        succeeded           slugplan  [TIME]  Deploy web SHA256:d184cd54bab1… (slugplan)
    v1    SHA256:6f688d0dfc99…        succeeded           slugplan  [TIME]  Deploy web SHA256:6f688d0dfc99… (slugplan)

    ----- stderr -----
    ");
    slugplan_snapshot!(p.filters(), p.command(&["rollback", "web-staging", "--to", "v9"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × reading release v9 of web-staging
      ╰─▶   × not found: Couldn't find that release: 9 of web-staging
    ");
}

#[test]
fn releases_tells_slugplans_releases_from_others_by_state_or_marker() {
    let p = served(false, &[]);
    p.ok(&["apply", "--yes", "--target", "web-staging"], 0);
    p.release_by_hand("web-staging", b"by hand", Some("Deployed by hand"));
    p.release_by_hand(
        "web-staging",
        b"another machine",
        Some("Deploy web SHA256:abc (slugplan)"),
    );
    let history = releases(&p, "web-staging");
    let made: Vec<(u64, bool)> = history
        .iter()
        .map(|r| {
            (
                r["version"].as_u64().unwrap(),
                r["by_slugplan"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(made, [(3, true), (2, false), (1, true)]);
    for release in &history {
        assert!(release["checksum"].as_str().unwrap().starts_with("SHA256:"));
    }
    slugplan_snapshot!(p.filters(), p.command(&["releases", "web-staging"]), @"
    exit code: 0
    ----- stdout -----
    === web-staging Releases
    v3    SHA256:4bca39b228bf…        succeeded  current  slugplan  [TIME]  Deploy web SHA256:abc (slugplan)
    v2    SHA256:c9616cb59d02…        succeeded                     [TIME]  Deployed by hand
    v1    SHA256:6f688d0dfc99…        succeeded           slugplan  [TIME]  Deploy web SHA256:6f688d0dfc99… (slugplan)

    ----- stderr -----
    ");
    let limited = p.json(&["releases", "web-staging", "--limit", "1", "--json"], 0);
    assert_eq!(limited["releases"].as_array().unwrap().len(), 1);
}
