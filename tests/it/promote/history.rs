//! `slugplan releases` and `slugplan rollback`: an app's history with checksums and who made
//! each release, and going back in it without building or uploading.

use super::{Project, stderr};

#[test]
fn rollback_to_v1_after_two_releases_runs_v1s_checksum() {
    let p = Project::local(false);
    p.ok(&["apply", "--yes", "--target", "web-staging"], 0);
    p.new_staging_release("console.log('v2')\n");
    let releases = p.releases("web-staging");
    let (v2, v1) = (&releases[0], &releases[1]);
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
    assert_eq!(p.running("web-staging"), v1["checksum"].as_str().unwrap());

    // By default: the release before the running one, here v2.
    let out = p.ok(&["rollback", "web-staging"], 0);
    assert!(
        out.starts_with("Rolled back web-staging to v2: v4 runs slug"),
        "{out}"
    );
    assert_eq!(p.running("web-staging"), v2["checksum"].as_str().unwrap());

    let text = p.ok(&["releases", "web-staging"], 0);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "=== web-staging Releases");
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[1].starts_with("v4 ") && lines[1].contains("current"),
        "{text}"
    );
    assert!(lines[1].contains("Rollback to v2"), "{text}");
    for line in &lines[1..] {
        assert!(
            line.contains("SHA256:") && line.contains(" slugplan "),
            "{text}"
        );
    }
    let err = p.run(&["rollback", "web-staging", "--to", "v9"]);
    assert_eq!(err.status.code(), Some(1));
    assert!(
        stderr(&err).contains("reading release v9 of web-staging"),
        "{}",
        stderr(&err)
    );
}

#[test]
fn releases_tells_slugplans_releases_from_others_by_state_or_marker() {
    let p = Project::served(false, &[]);
    p.ok(&["apply", "--yes", "--target", "web-staging"], 0);
    p.release_by_hand("web-staging", b"by hand", "Deployed by hand");
    p.release_by_hand(
        "web-staging",
        b"another machine",
        "Deploy web SHA256:abc (slugplan)",
    );
    let releases = p.releases("web-staging");
    let made: Vec<(u64, bool)> = releases
        .iter()
        .map(|r| {
            (
                r["version"].as_u64().unwrap(),
                r["by_slugplan"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(made, [(3, true), (2, false), (1, true)]);
    for release in &releases {
        assert!(release["checksum"].as_str().unwrap().starts_with("SHA256:"));
    }
    let limited = p.json(&["releases", "web-staging", "--limit", "1", "--json"], 0);
    assert_eq!(limited["releases"].as_array().unwrap().len(), 1);
}
