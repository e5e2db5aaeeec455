//! The Heroku client against a real `slugplan server` process over loopback: the whole slug flow
//! (apps, slug, blob upload, release, polling, paged release lists, rollback) and a pipeline
//! promotion to two production apps, as a Heroku user would run it.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sha2::{Digest, Sha256};
use slugplan::platform::heroku::{
    HerokuConfig, HerokuPlatform, RetryPolicy, ThrottlePolicy, Token,
};
use slugplan::platform::{NewSlug, Platform, PlatformError, Release, ReleaseStatus, TargetStatus};

use super::Progress;
use crate::common::server::Server;

const SERVER_TOKEN: &str = "server-test-token";

/// Starts `slugplan server` on a free loopback port with its own data directory and token.
/// Releases stay `pending` for a moment, so polling is exercised.
fn start_server(extra: &[&str]) -> Server {
    let mut args = vec!["--token", SERVER_TOKEN, "--release-delay-ms", "30"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// A client of `server`; `page_size` small enough to make lists span pages.
fn client_of(server: &Server, token: &str) -> HerokuPlatform {
    let mut config = HerokuConfig::new(&server.url).unwrap();
    config.retry = RetryPolicy {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(10),
    };
    config.throttle = ThrottlePolicy {
        low_water: 100,
        max_delay: Duration::from_millis(1),
    };
    config.page_size = 2;
    HerokuPlatform::with_config(config, Token::new(token)).unwrap()
}

/// A real slug: `./app/web` in a gzipped GNU tar made by `tar`, and its `SHA256:` checksum.
fn build_slug(dir: &Path, text: &str) -> (std::path::PathBuf, String) {
    let root = dir.join(format!("src-{text}"));
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(root.join("app/web"), format!("#!/bin/sh\necho {text}\n")).unwrap();
    let archive = dir.join(format!("{text}.tgz"));
    let status = std::process::Command::new("tar")
        .args(["--format=gnu", "-czf"])
        .arg(&archive)
        .arg("-C")
        .arg(&root)
        .arg("./app")
        .status()
        .expect("run tar");
    assert!(status.success());
    let digest = Sha256::digest(std::fs::read(&archive).unwrap());
    (archive, format!("SHA256:{}", hex::encode(digest)))
}

/// Polls a release until it leaves `pending`.
async fn settled(heroku: &HerokuPlatform, app: &str, release: &Release) -> Release {
    for _ in 0..400 {
        let now = heroku.release(app, &release.id).await.unwrap();
        if now.status != ReleaseStatus::Pending {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("release {} of {app} stayed pending", release.version);
}

/// Uploads a fresh slug to `app` and releases it, returning the settled release.
async fn deploy(heroku: &HerokuPlatform, app: &str, dir: &Path, text: &str) -> Release {
    let (archive, checksum) = build_slug(dir, text);
    let new = NewSlug {
        process_types: [("web".to_owned(), "./web".to_owned())].into(),
        checksum: checksum.clone(),
        stack: "heroku-24".into(),
        commit: Some("60883d9e8947a57e04dc9124f25df004866a2051".into()),
        commit_description: Some(format!("deploy {text}")),
    };
    let created = heroku.create_slug(app, &new).await.unwrap();
    let progress = Progress::default();
    heroku
        .upload_blob(&created.blob, &archive, &progress)
        .await
        .unwrap();
    let size = std::fs::metadata(&archive).unwrap().len();
    assert_eq!(progress.0.load(Ordering::Relaxed), size);
    let slug = heroku.slug(app, &created.slug.id).await.unwrap();
    assert_eq!(
        (slug.checksum.as_deref(), slug.size),
        (Some(checksum.as_str()), Some(size))
    );
    let release = heroku
        .create_release(app, &created.slug.id, &format!("Deploy {text} (slugplan)"))
        .await
        .unwrap();
    let release = settled(heroku, app, &release).await;
    assert_eq!(release.status, ReleaseStatus::Succeeded, "{release:?}");
    release
}

#[tokio::test]
async fn slug_flow_paging_and_rollback_against_slugplan_server() {
    let server = start_server(&[]);
    let heroku = client_of(&server, SERVER_TOKEN);
    let temp = tempfile::tempdir().unwrap();
    let app = heroku
        .create_app("example-staging", "heroku-24")
        .await
        .unwrap();
    assert_eq!(heroku.app("example-staging").await.unwrap(), app);
    assert_eq!(
        heroku.current_release("example-staging").await.unwrap(),
        None
    );

    let v1 = deploy(&heroku, "example-staging", temp.path(), "one").await;
    let mut last = v1.clone();
    for text in ["two", "three", "four", "five"] {
        last = deploy(&heroku, "example-staging", temp.path(), text).await;
    }
    // Five releases read two at a time: three pages joined by Next-Range, newest first.
    let releases = heroku.releases("example-staging", 5).await.unwrap();
    let versions: Vec<u64> = releases.iter().map(|r| r.version).collect();
    assert!(versions.windows(2).all(|w| w[0] > w[1]), "{versions:?}");
    assert_eq!((versions.len(), versions[0]), (5, last.version));
    let requests = heroku.stats().requests;
    let current = heroku
        .current_release("example-staging")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.id, last.id);
    assert_eq!(
        heroku.stats().requests - requests,
        1,
        "the newest page held it"
    );

    let rolled = heroku.rollback("example-staging", &v1.id).await.unwrap();
    let rolled = settled(&heroku, "example-staging", &rolled).await;
    assert_eq!(rolled.slug_id, v1.slug_id);
    let current = heroku
        .current_release("example-staging")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (current.id.as_str(), current.slug_id.as_ref()),
        (rolled.id.as_str(), v1.slug_id.as_ref())
    );
    let by_version = heroku
        .release("example-staging", &v1.version.to_string())
        .await
        .unwrap();
    assert_eq!(by_version.id, v1.id);

    let missing = heroku.app("no-such-app").await.unwrap_err();
    assert!(
        matches!(
            missing,
            PlatformError::NotFound {
                request_id: Some(_),
                ..
            }
        ),
        "{missing:?}"
    );
    let stranger = client_of(&server, "wrong-token")
        .app("example-staging")
        .await
        .unwrap_err();
    assert!(
        matches!(stranger, PlatformError::Unauthorized { .. }),
        "{stranger:?}"
    );
}

#[tokio::test]
async fn pipeline_promotion_against_slugplan_server() {
    let server = start_server(&[]);
    let heroku = client_of(&server, SERVER_TOKEN);
    let temp = tempfile::tempdir().unwrap();
    let staging = heroku
        .create_app("example-staging", "heroku-24")
        .await
        .unwrap();
    let mut targets = Vec::new();
    for name in ["example-prod-eu", "example-prod-us"] {
        targets.push(heroku.create_app(name, "heroku-24").await.unwrap());
    }
    let source = deploy(&heroku, "example-staging", temp.path(), "web").await;

    let pipeline = heroku.create_pipeline("example").await.unwrap();
    assert_eq!(heroku.pipeline("example").await.unwrap(), pipeline);
    assert_eq!(heroku.coupling("example-staging").await.unwrap(), None);
    heroku
        .create_coupling("example-staging", &pipeline.id, "staging")
        .await
        .unwrap();
    for target in &targets {
        heroku
            .create_coupling(&target.name, &pipeline.id, "production")
            .await
            .unwrap();
    }
    let coupling = heroku.coupling("example-staging").await.unwrap().unwrap();
    assert_eq!(
        (coupling.pipeline_id.as_str(), coupling.app_id.as_str()),
        (pipeline.id.as_str(), staging.id.as_str())
    );

    let target_ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let uploads_before = heroku.stats().writes;
    let promotion = heroku
        .create_promotion(&pipeline.id, &staging.id, &source.id, &target_ids)
        .await
        .unwrap();
    assert_eq!(promotion.source_release_id, source.id);
    let mut outcome = Vec::new();
    for _ in 0..400 {
        outcome = heroku.promotion_targets(&promotion.id).await.unwrap();
        if outcome.iter().all(|t| t.status != TargetStatus::Pending) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(outcome.len(), 2);
    for target in &targets {
        let result = outcome
            .iter()
            .find(|t| t.app_id == target.id)
            .expect("every target reported");
        assert_eq!(result.status, TargetStatus::Succeeded, "{result:?}");
        let current = heroku.current_release(&target.name).await.unwrap().unwrap();
        assert_eq!(
            current.slug_id, source.slug_id,
            "{} runs the staging slug",
            target.name
        );
    }
    assert_eq!(
        heroku.stats().writes - uploads_before,
        1,
        "one promotion request, no uploads"
    );
}

#[tokio::test]
async fn the_slug_flow_rides_out_rate_limiting_by_the_server() {
    // Every third request is refused with 429, and the bucket is small enough that
    // RateLimit-Remaining runs below the client's low-water mark.
    let server = start_server(&["--fault-429-every", "3", "--rate-limit", "80"]);
    let heroku = client_of(&server, SERVER_TOKEN);
    let temp = tempfile::tempdir().unwrap();
    heroku.create_app("example", "heroku-24").await.unwrap();
    let first = deploy(&heroku, "example", temp.path(), "one").await;
    deploy(&heroku, "example", temp.path(), "two").await;
    let rolled = heroku.rollback("example", &first.id).await.unwrap();
    assert_eq!(
        settled(&heroku, "example", &rolled).await.slug_id,
        first.slug_id
    );
    let stats = heroku.stats();
    assert!(stats.retries >= 3, "429s were retried: {stats:?}");
    assert!(stats.throttled >= 1, "the client slowed down: {stats:?}");
}
