//! Making one release and waiting for it to settle.
//!
//! A release is made at most once per slug and app even when the apply making it is killed:
//! [`create_or_resume`] first looks at the app's newest release, and a pending release of the
//! same slug (the one the killed apply was waiting for) is resumed instead of released again.
//! [`wait`] polls with a doubling delay (100 ms up to 3 s) until the release leaves `pending`;
//! only `succeeded` is success.

use std::time::{Duration, Instant};

use super::error::ReleaseError;
use crate::error_chain::Shared;
use crate::platform::{Platform, Release, ReleaseStatus};

/// The first delay between two polls; it doubles up to [`MAX_POLL_DELAY`].
pub(super) const FIRST_POLL_DELAY: Duration = Duration::from_millis(100);
/// The longest delay between two polls.
pub(super) const MAX_POLL_DELAY: Duration = Duration::from_secs(3);

/// Releases `slug_id` to `app`, unless the app's newest release is a pending release of that
/// same slug: an apply killed while waiting for it left it behind, and it is resumed (the caller
/// [`wait`]s for it) instead of released twice.
pub async fn create_or_resume(
    platform: &dyn Platform,
    app: &str,
    slug_id: &str,
    description: &str,
) -> Result<Release, ReleaseError> {
    let create = |source| ReleaseError::Create {
        app: app.to_owned(),
        slug_id: slug_id.to_owned(),
        source: Shared::new(source),
    };
    let newest = platform.releases(app, 1).await.map_err(create)?;
    match newest.into_iter().next() {
        Some(pending)
            if pending.status == ReleaseStatus::Pending
                && pending.slug_id.as_deref() == Some(slug_id) =>
        {
            Ok(pending)
        }
        _ => platform
            .create_release(app, slug_id, description)
            .await
            .map_err(create),
    }
}

/// Polls `release` of `app` until it leaves `pending`, for at most `timeout`; a release that
/// ends `failed` or `expired`, or is still pending then, is an error naming the app and version.
pub async fn wait(
    platform: &dyn Platform,
    app: &str,
    mut release: Release,
    timeout: Duration,
) -> Result<Release, ReleaseError> {
    let deadline = Instant::now() + timeout;
    let mut delay = FIRST_POLL_DELAY;
    while release.status == ReleaseStatus::Pending {
        if Instant::now() >= deadline {
            return Err(ReleaseError::Pending {
                app: app.to_owned(),
                version: release.version,
                timeout,
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_POLL_DELAY);
        let version = release.version;
        release =
            platform
                .release(app, &release.id)
                .await
                .map_err(|source| ReleaseError::Poll {
                    app: app.to_owned(),
                    version,
                    source: Shared::new(source),
                })?;
    }
    match release.status {
        ReleaseStatus::Succeeded => Ok(release),
        status => Err(ReleaseError::Settled {
            app: app.to_owned(),
            version: release.version,
            status,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::local::{LocalOptions, LocalPlatform};
    use crate::platform::{NewSlug, NoProgress};

    /// A local platform with `options`, an app `web` and the id of an uploaded slug.
    async fn platform(options: LocalOptions) -> (tempfile::TempDir, LocalPlatform, String) {
        let dir = tempfile::tempdir().unwrap();
        let platform = LocalPlatform::open_with(&dir.path().join("platform"), options).unwrap();
        platform.create_app("web", "heroku-24").await.unwrap();
        let bytes = b"not really a slug";
        let archive = dir.path().join("slug.tgz");
        std::fs::write(&archive, bytes).unwrap();
        let slug = NewSlug {
            process_types: Default::default(),
            checksum: crate::checksum::Checksum::of_bytes(bytes).into(),
            stack: "heroku-24".into(),
            commit: None,
            commit_description: None,
        };
        let created = platform.create_slug("web", &slug).await.unwrap();
        platform
            .upload_blob(&created.blob, &archive, &NoProgress)
            .await
            .unwrap();
        (dir, platform, created.slug.id)
    }

    #[tokio::test]
    async fn a_pending_release_of_the_same_slug_is_resumed_not_made_twice() {
        let options = LocalOptions {
            release_delay: Duration::from_secs(60),
            ..LocalOptions::default()
        };
        let (_dir, platform, slug) = platform(options).await;
        let first = create_or_resume(&platform, "web", &slug, "first")
            .await
            .unwrap();
        assert_eq!(first.status, ReleaseStatus::Pending);
        let again = create_or_resume(&platform, "web", &slug, "again")
            .await
            .unwrap();
        assert_eq!(again.id, first.id, "resumed");
        let err = wait(&platform, "web", again, Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "release v1 of web is still pending after 0ns"
        );
    }

    #[tokio::test]
    async fn a_failed_release_is_an_error_naming_app_and_version() {
        let options = LocalOptions {
            fail_release_every: Some(1),
            ..LocalOptions::default()
        };
        let (_dir, platform, slug) = platform(options).await;
        let made = create_or_resume(&platform, "web", &slug, "doomed")
            .await
            .unwrap();
        let err = wait(&platform, "web", made, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ReleaseError::Settled {
                    version: 1,
                    status: ReleaseStatus::Failed,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "release v1 of web failed");
    }

    #[tokio::test]
    async fn a_refused_release_names_app_and_slug_with_the_platform_error_as_cause() {
        let (_dir, platform, _) = platform(LocalOptions::default()).await;
        let err = create_or_resume(&platform, "web", "no-such-slug", "x")
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "releasing slug no-such-slug to web");
        assert!(matches!(err, ReleaseError::Create { .. }), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn status_words_are_the_api_spelling() {
        for status in [
            ReleaseStatus::Pending,
            ReleaseStatus::Succeeded,
            ReleaseStatus::Failed,
            ReleaseStatus::Expired,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }
}
