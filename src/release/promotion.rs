//! Promoting one source to its targets: nothing built or uploaded, the source's slug released.
//!
//! Targets coupled to the source's pipeline are promoted with **one** pipeline promotion holding
//! all of them (the platform's own promotion history and checks apply), then polled until none is
//! pending; every other target gets the slug id released directly ([`create_or_resume`],
//! then [`wait`]). Both run at once, and every target has its own result, so one failed
//! target is reported by name while the others go ahead. The verdict (refused, already done,
//! downgrade) is the caller's, made before: everything given here is promoted.
//!
//! Never twice: before the pipeline promotion is made, each target is checked for an earlier
//! one's work ([`in_flight`]); what is found is waited for, and only the rest are promoted. A
//! promotion whose creation fails with an unknown outcome (a `5xx`, a broken connection) is read
//! back the same way, after a pause, and made again only for the targets it did not reach, at
//! most [`PROMOTION_ATTEMPTS`] times.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::error::ReleaseError;
use super::resume::{InFlight, PromotionJournal, in_flight};
use super::settle::{FIRST_POLL_DELAY, MAX_POLL_DELAY, create_or_resume, wait};
use super::verdict::{Source, Target, via_pipeline};
use crate::error_chain::Shared;
use crate::platform::{Platform, Release, TargetStatus, promotion_description};

/// How many times a pipeline promotion is made when its creation keeps failing with an unknown
/// outcome (each after reading back which targets it reached).
pub const PROMOTION_ATTEMPTS: u32 = 4;

/// The pause before reading back a promotion whose creation failed with an unknown outcome; it
/// doubles with each attempt, giving the platform time to finish what it may have started.
const READ_BACK_DELAY: Duration = Duration::from_millis(500);

/// Promotes `source` to every target: one pipeline promotion for the targets coupled to the
/// source's pipeline, a release of the slug id for the others, all at once. `journal` remembers
/// the pipeline promotions made, so that a later run never repeats one still in progress. Returns
/// each target's settled release, or why it failed, in the order given.
pub async fn promote_all(
    platform: &dyn Platform,
    source: &Source,
    targets: &[&Target],
    timeout: Duration,
    journal: &dyn PromotionJournal,
) -> Vec<Result<Release, ReleaseError>> {
    let (piped, direct): (Vec<usize>, Vec<usize>) =
        (0..targets.len()).partition(|&i| via_pipeline(source, targets[i]));

    let description = format!(
        "{} (slugplan)",
        promotion_description(&source.name, source.release.version)
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
        pipeline_promotion(platform, source, &piped_targets, timeout, journal)
    );
    let mut results = Slots::new(targets.len());
    results.fill(&direct, direct_results);
    results.fill(&piped, piped_results);
    results.into_results()
}

/// One result per target, filled in by position from several sources.
struct Slots(Vec<Option<Result<Release, ReleaseError>>>);

impl Slots {
    fn new(len: usize) -> Self {
        Slots(std::iter::repeat_with(|| None).take(len).collect())
    }

    /// Puts `results[k]` at position `at[k]`.
    fn fill(&mut self, at: &[usize], results: Vec<Result<Release, ReleaseError>>) {
        for (&i, result) in at.iter().zip(results) {
            self.0[i] = Some(result);
        }
    }

    fn into_results(self) -> Vec<Result<Release, ReleaseError>> {
        self.0
            .into_iter()
            .map(|r| r.expect("every target has a result"))
            .collect()
    }
}

/// How one target of the pipeline promotion gets its release.
enum Way {
    /// Not started: promote it.
    Promote,
    /// An earlier promotion's release: wait for it.
    Wait(Release),
    /// A pipeline promotion holds it: poll that promotion.
    Poll(String),
    /// It failed before anything was polled.
    Failed(ReleaseError),
}

/// Promotes `targets` through the source's pipeline: waits for what earlier promotions started,
/// makes one pipeline promotion for the rest, then polls every target until none is pending;
/// each target's `error_message` is its failure.
async fn pipeline_promotion(
    platform: &dyn Platform,
    source: &Source,
    targets: &[&Target],
    timeout: Duration,
    journal: &dyn PromotionJournal,
) -> Vec<Result<Release, ReleaseError>> {
    let Some(coupling) = (!targets.is_empty())
        .then_some(source.coupling.as_ref())
        .flatten()
    else {
        return Vec::new();
    };
    let started = journal.started_for(&source.release.id).await;
    let mut ways: Vec<Way> = join_all(targets.iter().map(|target| async {
        match in_flight(platform, source, target, &started).await {
            Ok(None) => Way::Promote,
            Ok(Some(InFlight::Release(release))) => Way::Wait(release),
            Ok(Some(InFlight::Promotion(id))) => Way::Poll(id),
            Err(e) => Way::Failed(ReleaseError::ReadTarget {
                app: target.name.clone(),
                source: Shared::new(e),
            }),
        }
    }))
    .await;

    let mut attempt = 0;
    loop {
        let pending: Vec<usize> = (0..targets.len())
            .filter(|&i| matches!(ways[i], Way::Promote))
            .collect();
        if pending.is_empty() {
            break;
        }
        attempt += 1;
        let ids: Vec<String> = pending.iter().map(|&i| targets[i].app.id.clone()).collect();
        let names: Vec<&str> = pending.iter().map(|&i| targets[i].name.as_str()).collect();
        journal
            .sending(
                &names,
                &source.slug.id,
                &promotion_description(&source.name, source.release.version),
            )
            .await;
        let created = platform
            .create_promotion(
                &coupling.pipeline_id,
                &source.app.id,
                &source.release.id,
                &ids,
            )
            .await;
        let error = match created {
            Ok(promotion) => {
                journal
                    .started(&promotion.id, &source.release.id, &ids)
                    .await;
                for &i in &pending {
                    ways[i] = Way::Poll(promotion.id.clone());
                }
                break;
            }
            Err(e) => Shared::new(e),
        };
        let unknown = error.get().outcome_unknown();
        if unknown {
            // It may have reached some targets, or all: look before making it again (the last
            // attempt looks too, so what it did is waited for rather than reported failed).
            tracing::debug!(attempt, %error, "pipeline promotion failed with an unknown outcome");
            tokio::time::sleep(READ_BACK_DELAY * 2u32.pow(attempt - 1)).await;
            for &i in &pending {
                match in_flight(platform, source, targets[i], &[]).await {
                    Ok(Some(InFlight::Release(release))) => ways[i] = Way::Wait(release),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(app = %targets[i].name, error = %e, "cannot read back the promotion");
                    }
                }
            }
        }
        if !unknown || attempt == PROMOTION_ATTEMPTS {
            for &i in &pending {
                if matches!(ways[i], Way::Promote) {
                    ways[i] = Way::Failed(ReleaseError::CreatePromotion {
                        app: targets[i].name.clone(),
                        source_app: source.name.clone(),
                        source: error.clone(),
                    });
                }
            }
            break;
        }
    }

    // Each promotion polled once for all the targets it holds; each release waited for.
    let mut polled: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, way) in ways.iter().enumerate() {
        if let Way::Poll(id) = way {
            polled.entry(id.clone()).or_default().push(i);
        }
    }
    let polls = join_all(polled.iter().map(|(id, held)| {
        let held: Vec<&Target> = held.iter().map(|&i| targets[i]).collect();
        async move { poll_promotion(platform, id, &held, timeout).await }
    }));
    let mut results = Slots::new(targets.len());
    let mut waited = Vec::new();
    let mut waits = Vec::new();
    for (i, way) in ways.into_iter().enumerate() {
        match way {
            Way::Wait(release) => {
                waited.push(i);
                waits.push(wait(platform, &targets[i].name, release, timeout));
            }
            Way::Failed(e) => results.fill(&[i], vec![Err(e)]),
            Way::Poll(_) | Way::Promote => {}
        }
    }
    let (polls, waits) = futures_util::join!(polls, join_all(waits));
    for ((_, held), settled) in polled.iter().zip(polls) {
        results.fill(held, settled);
    }
    results.fill(&waited, waits);
    results.into_results()
}

/// Polls pipeline promotion `promotion` until none of `targets` is pending (or `timeout`), then
/// reads each target's release.
async fn poll_promotion(
    platform: &dyn Platform,
    promotion: &str,
    targets: &[&Target],
    timeout: Duration,
) -> Vec<Result<Release, ReleaseError>> {
    // A failure to read the promotion is every target's failure, each naming its target.
    let all_fail = |failure: &dyn Fn(&Target) -> ReleaseError| {
        targets.iter().map(|t| Err(failure(t))).collect()
    };
    let deadline = Instant::now() + timeout;
    let mut delay = FIRST_POLL_DELAY;
    let settled = loop {
        let listed = match platform.promotion_targets(promotion).await {
            Ok(listed) => listed,
            Err(e) => {
                let cause = Shared::new(e);
                return all_fail(&|t| ReleaseError::PollPromotion {
                    app: t.name.clone(),
                    promotion: promotion.to_owned(),
                    source: cause.clone(),
                });
            }
        };
        let by_app: BTreeMap<String, _> =
            listed.into_iter().map(|t| (t.app_id.clone(), t)).collect();
        let pending = targets.iter().any(|target| {
            by_app
                .get(&target.app.id)
                .is_none_or(|t| t.status == TargetStatus::Pending)
        });
        if !pending || Instant::now() >= deadline {
            break by_app;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_POLL_DELAY);
    };
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
