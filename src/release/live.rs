//! When an app's running slug went live: the release a downgrade check must compare.
//!
//! A config change is a release of the slug the app already runs (Heroku's, the local
//! platform's), so an app's newest release can be much younger than its code: a production app
//! whose config changed after staging's last deploy has a newer release than staging without
//! running newer code. Promoting to it is no downgrade. The check that a target runs something
//! newer than its source ([`super::is_newer`] on the running releases) is cheap and right when
//! it says no; when it says yes, [`confirm_downgrade`] compares when each app's running slug
//! went live instead, reading one page of each app's releases (only then, so a promotion that
//! downgrades nothing reads nothing more). A rollback (`Rollback to vN`, Heroku's description
//! and the local platform's) brings vN's slug back: its slug went live when vN's did.

use super::verdict::{Rollbacks, Source, Target, is_newer};
use crate::platform::{Platform, PlatformError, Release, ReleaseStatus};

/// How many of an app's newest releases are searched for the one that brought its slug: the
/// releases of one slug rarely run longer than this, and past it the oldest one read counts.
const WINDOW: usize = 20;

/// The release among `releases` (newest first) that brought `running`'s slug: the oldest of
/// the unbroken run of succeeded releases of that slug ending at `running`, a rollback followed
/// to the release it went back to. Releases that did not succeed never ran and do not break the
/// run. `running` itself when it is not among them.
pub fn went_live<'a>(releases: &'a [Release], running: &'a Release) -> &'a Release {
    let Some(mut at) = releases.iter().position(|r| r.id == running.id) else {
        return running;
    };
    let mut live = &releases[at];
    loop {
        // A rollback to vN: the slug came back with vN, which may have come with an older one.
        if let Some(to) = rolled_back_to(live)
            && let Some(back) = releases.iter().position(|r| r.version == to)
            && releases[back].slug_id == running.slug_id
            && back > at
        {
            at = back;
            live = &releases[at];
            continue;
        }
        let older = releases[at + 1..]
            .iter()
            .position(|r| r.status == ReleaseStatus::Succeeded);
        match older.map(|i| at + 1 + i) {
            Some(next) if releases[next].slug_id == running.slug_id => {
                at = next;
                live = &releases[at];
            }
            _ => return live,
        }
    }
}

/// The version a rollback release went back to, from its description (`Rollback to v3`).
fn rolled_back_to(release: &Release) -> Option<u64> {
    release
        .description
        .strip_prefix("Rollback to v")?
        .trim()
        .parse()
        .ok()
}

/// The release that brought `running`'s slug live on `app`.
pub async fn live_release(
    platform: &dyn Platform,
    app: &str,
    running: &Release,
) -> Result<Release, PlatformError> {
    let releases = platform.releases(app, WINDOW).await?;
    Ok(went_live(&releases, running).clone())
}

/// Whether promoting `source` to `target`, whose running release is newer than the source's,
/// really downgrades it: whether the target's slug went live after the source's. A running
/// release that is one of `rollbacks` (slugplan's own, dated by the release it went back to) is
/// dated as that says.
pub async fn confirm_downgrade(
    platform: &dyn Platform,
    source: &Source,
    target: &Target,
    rollbacks: &Rollbacks,
) -> Result<bool, PlatformError> {
    let Some(running) = &target.running else {
        return Ok(false);
    };
    let dated = |app: &str, release: &Release| {
        let known = rollbacks.contains_key(&release.id);
        let (app, release) = (app.to_owned(), release.clone());
        async move {
            if known {
                Ok(release)
            } else {
                live_release(platform, &app, &release).await
            }
        }
    };
    let (target_live, source_live) = futures_util::try_join!(
        dated(&target.name, running),
        dated(&source.name, &source.release),
    )?;
    Ok(is_newer(&target_live, &source_live, rollbacks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: u64, slug: &str, status: ReleaseStatus) -> Release {
        Release {
            id: format!("r{version}"),
            version,
            status,
            current: false,
            slug_id: Some(slug.into()),
            description: String::new(),
            created_at: String::new(),
        }
    }

    #[test]
    fn a_rollback_dates_its_slug_by_the_release_it_went_back_to() {
        use ReleaseStatus::Succeeded;
        let mut rollback = release(5, "s1", Succeeded);
        rollback.description = "Rollback to v2".into();
        let releases = [
            release(6, "s1", Succeeded), // config change
            rollback,
            release(4, "s2", Succeeded),
            release(3, "s1", Succeeded), // config change, before s2
            release(2, "s1", Succeeded),
            release(1, "s0", Succeeded),
        ];
        assert_eq!(went_live(&releases, &releases[0]).version, 2);
    }

    #[test]
    fn a_slug_went_live_with_the_oldest_release_of_its_unbroken_run() {
        use ReleaseStatus::{Failed, Succeeded};
        let releases = [
            release(6, "s2", Succeeded), // config change
            release(5, "s3", Failed),    // never ran
            release(4, "s2", Succeeded), // config change
            release(3, "s2", Succeeded), // the deploy of s2
            release(2, "s1", Succeeded),
            release(1, "s2", Succeeded), // an earlier run of s2: not this one
        ];
        assert_eq!(went_live(&releases, &releases[0]).version, 3);
        assert_eq!(went_live(&releases, &releases[4]).version, 2);
        let elsewhere = release(9, "s9", Succeeded);
        assert_eq!(went_live(&releases, &elsewhere).version, 9);
    }
}
