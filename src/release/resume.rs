//! What an interrupted or failed promotion left behind, found before promoting again.
//!
//! A promotion interrupted after it reached the platform (`kill -9`, Ctrl-C, a reply lost to a
//! broken connection or a `5xx`) may have released the source's slug to its targets, or be about
//! to. Promoting again would release it twice (issue 16: two "Promote staging v2" in a row), so
//! before a target is promoted, [`in_flight`] looks for that work, in two places:
//!
//! - the target's newest release: a live (pending or succeeded) release of the source's slug is
//!   the earlier promotion's, and is waited for instead of made again. This holds on any
//!   platform whose promotion creates the targets' releases when it is made, and for a promotion
//!   whose reply never arrived;
//! - the [`PromotionJournal`]: the caller's record of the pipeline promotions it started, each
//!   written as soon as the platform answered and before it is polled, so one that the platform
//!   is still working on (a target still pending, its release perhaps not made yet) is polled
//!   again, not repeated.
//!
//! A target whose earlier promotion failed finds nothing live and is promoted again: that repeats
//! a failed release, never a live one.

use super::verdict::{Source, Target};
use crate::platform::{Platform, PlatformError, Release, ReleaseStatus, TargetStatus};

/// A pipeline promotion started earlier, as the journal remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedPromotion {
    /// The promotion's id.
    pub id: String,
    /// The target app ids it was made for.
    pub target_app_ids: Vec<String>,
}

/// Where the pipeline promotions a caller started are remembered across runs (slugplan's state).
///
/// It is a second line of defence behind the targets' releases, which the platform always has:
/// a journal that fails to record or to read only loses that second line, so its methods do not
/// fail (an implementation logs what went wrong). Async, as a state on a database server is.
#[async_trait::async_trait]
pub trait PromotionJournal: Send + Sync {
    /// A pipeline promotion releasing `slug_id` to `target_apps` (by name), which the platform
    /// will describe as `description`, is about to be sent: called before each attempt, so a
    /// release it makes is known as the caller's even when the caller dies before the answer.
    async fn sending(&self, target_apps: &[&str], slug_id: &str, description: &str);

    /// Pipeline promotion `promotion_id` of `source_release_id` to `target_app_ids` was created;
    /// called before it is polled.
    async fn started(&self, promotion_id: &str, source_release_id: &str, target_app_ids: &[String]);

    /// The pipeline promotions of `source_release_id` started earlier, oldest first.
    async fn started_for(&self, source_release_id: &str) -> Vec<StartedPromotion>;
}

/// A journal that remembers nothing (promotions are then recognised by the targets' releases).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoJournal;

#[async_trait::async_trait]
impl PromotionJournal for NoJournal {
    async fn sending(&self, _target_apps: &[&str], _slug_id: &str, _description: &str) {}

    async fn started(&self, _promotion_id: &str, _source_release_id: &str, _target_ids: &[String]) {
    }

    async fn started_for(&self, _source_release_id: &str) -> Vec<StartedPromotion> {
        Vec::new()
    }
}

/// An earlier promotion's work on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InFlight {
    /// The target's newest release is a live release of the source's slug: wait for it.
    Release(Release),
    /// A journaled pipeline promotion is still working on the target: poll it.
    Promotion(String),
}

/// Whether an earlier promotion of `source` reached `target`: its newest release, then the
/// journaled promotions in `started` (only when given: a promotion whose reply was lost is in
/// no journal). None: nothing live, promote it.
pub async fn in_flight(
    platform: &dyn Platform,
    source: &Source,
    target: &Target,
    started: &[StartedPromotion],
) -> Result<Option<InFlight>, PlatformError> {
    let newest = platform.releases(&target.name, 1).await?.into_iter().next();
    if let Some(newest) = newest
        && newest.slug_id.as_deref() == Some(source.slug.id.as_str())
        && matches!(
            newest.status,
            ReleaseStatus::Pending | ReleaseStatus::Succeeded
        )
    {
        return Ok(Some(InFlight::Release(newest)));
    }
    for promotion in started
        .iter()
        .rev()
        .filter(|p| p.target_app_ids.contains(&target.app.id))
    {
        let targets = match platform.promotion_targets(&promotion.id).await {
            Ok(targets) => targets,
            // Gone from the platform: it holds nothing any more.
            Err(PlatformError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        // Only pending: one that succeeded and is not the newest release any more was
        // superseded since, and one that failed is promoted again.
        let holds = targets
            .iter()
            .any(|t| t.app_id == target.app.id && t.status == TargetStatus::Pending);
        if holds {
            return Ok(Some(InFlight::Promotion(promotion.id.clone())));
        }
    }
    Ok(None)
}
