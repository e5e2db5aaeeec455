//! Promoting one source to its targets: nothing built or uploaded, the source's slug released.
//!
//! Targets coupled to the source's pipeline are promoted with **one** pipeline promotion holding
//! all of them (the platform's own promotion history and checks apply), then polled until none is
//! pending; every other target gets the slug id released directly ([`create_or_resume`],
//! then [`wait`]). Both run at once, and every target has its own result, so one failed
//! target is reported by name while the others go ahead. The verdict (refused, already done,
//! downgrade) is the caller's, made before: everything given here is promoted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::error::ReleaseError;
use super::settle::{FIRST_POLL_DELAY, MAX_POLL_DELAY, create_or_resume, wait};
use super::verdict::{Source, Target, via_pipeline};
use crate::error_chain::Shared;
use crate::platform::{Platform, Release, TargetStatus};

/// Promotes `source` to every target: one pipeline promotion for the targets coupled to the
/// source's pipeline, a release of the slug id for the others, all at once. Returns each
/// target's settled release, or why it failed, in the order given.
pub async fn promote_all(
    platform: &dyn Platform,
    source: &Source,
    targets: &[&Target],
    timeout: Duration,
) -> Vec<Result<Release, ReleaseError>> {
    let (piped, direct): (Vec<usize>, Vec<usize>) =
        (0..targets.len()).partition(|&i| via_pipeline(source, targets[i]));

    let description = format!(
        "Promote {} v{} (slugplan)",
        source.name, source.release.version
    );
    let direct_releases = join_all(direct.iter().map(|&i| {
        let target = targets[i];
        let description = description.as_str();
        async move {
            let release =
                create_or_resume(platform, &target.name, &source.slug.id, description).await?;
            wait(platform, &target.name, release, timeout).await
        }
    }));
    let piped_targets: Vec<&Target> = piped.iter().map(|&i| targets[i]).collect();
    let (direct_results, piped_results) = futures_util::join!(
        direct_releases,
        pipeline_promotion(platform, source, &piped_targets, timeout)
    );
    let mut results: Vec<Option<Result<Release, ReleaseError>>> = std::iter::repeat_with(|| None)
        .take(targets.len())
        .collect();
    for (i, result) in direct.into_iter().zip(direct_results) {
        results[i] = Some(result);
    }
    for (i, result) in piped.into_iter().zip(piped_results) {
        results[i] = Some(result);
    }
    results
        .into_iter()
        .map(|r| r.expect("every target has a result"))
        .collect()
}

/// One `POST /pipeline-promotions` for all `targets`, then polls every target until none is
/// pending; each target's `error_message` is its failure.
async fn pipeline_promotion(
    platform: &dyn Platform,
    source: &Source,
    targets: &[&Target],
    timeout: Duration,
) -> Vec<Result<Release, ReleaseError>> {
    let Some(coupling) = (!targets.is_empty())
        .then_some(source.coupling.as_ref())
        .flatten()
    else {
        return Vec::new();
    };
    // A failure of the promotion as a whole is every target's failure, each naming its target.
    let all_fail = |failure: &dyn Fn(&Target) -> ReleaseError| {
        targets.iter().map(|t| Err(failure(t))).collect()
    };
    let ids: Vec<String> = targets.iter().map(|t| t.app.id.clone()).collect();
    let promotion = match platform
        .create_promotion(
            &coupling.pipeline_id,
            &source.app.id,
            &source.release.id,
            &ids,
        )
        .await
    {
        Ok(promotion) => promotion,
        Err(e) => {
            let cause = Shared::new(e);
            return all_fail(&|t| ReleaseError::CreatePromotion {
                app: t.name.clone(),
                source_app: source.name.clone(),
                source: cause.clone(),
            });
        }
    };
    let deadline = Instant::now() + timeout;
    let mut delay = FIRST_POLL_DELAY;
    let settled = loop {
        let listed = match platform.promotion_targets(&promotion.id).await {
            Ok(listed) => listed,
            Err(e) => {
                let cause = Shared::new(e);
                return all_fail(&|t| ReleaseError::PollPromotion {
                    app: t.name.clone(),
                    promotion: promotion.id.clone(),
                    source: cause.clone(),
                });
            }
        };
        let by_app: BTreeMap<String, _> =
            listed.into_iter().map(|t| (t.app_id.clone(), t)).collect();
        let pending = ids.iter().any(|id| {
            by_app
                .get(id)
                .is_none_or(|t| t.status == TargetStatus::Pending)
        });
        if !pending || Instant::now() >= deadline {
            break by_app;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_POLL_DELAY);
    };
    let promotion = promotion.id.as_str();
    join_all(targets.iter().map(|target| {
        let state = settled.get(&target.app.id);
        async move {
            let app = target.name.clone();
            let promotion = promotion.to_owned();
            let Some(state) = state else {
                return Err(ReleaseError::MissingTarget { app, promotion });
            };
            match (state.status, &state.release_id) {
                (TargetStatus::Succeeded, Some(release_id)) => platform
                    .release(&target.name, release_id)
                    .await
                    .map_err(|source| ReleaseError::ReadPromoted {
                        app,
                        promotion,
                        release_id: release_id.clone(),
                        source: Shared::new(source),
                    }),
                (TargetStatus::Succeeded, None) => {
                    Err(ReleaseError::NoPromotedRelease { app, promotion })
                }
                (TargetStatus::Failed, _) => Err(ReleaseError::PromotionFailed {
                    app,
                    promotion,
                    reason: state
                        .error_message
                        .clone()
                        .unwrap_or_else(|| "no reason given".to_owned()),
                }),
                (TargetStatus::Pending, _) => Err(ReleaseError::PromotionPending {
                    app,
                    promotion,
                    timeout,
                }),
            }
        }
    }))
    .await
}
