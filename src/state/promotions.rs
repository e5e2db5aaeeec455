//! The pipeline promotions slugplan started, as [`crate::release`]'s journal: written the
//! moment the platform answers, before the promotion is polled, so that an apply killed while
//! polling is followed by one (on any runner sharing the state) that polls the same promotion
//! again instead of making a second one. Before each promotion is sent, the releases it will
//! make are recorded as [`StartedRelease`]s, so one made just before slugplan died is not drift.

use super::{StartedRelease, State};
use crate::release::{PromotionJournal, StartedPromotion};

/// The state as the journal of the pipeline promotions made on one platform.
#[derive(Clone, Copy)]
pub struct Promotions<'a> {
    state: &'a dyn State,
    platform: &'a str,
}

impl std::fmt::Debug for Promotions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Promotions")
            .field("state", &self.state.location())
            .field("platform", &self.platform)
            .finish()
    }
}

impl<'a> Promotions<'a> {
    /// The promotions `state` records for `platform` (its id in the state).
    pub fn new(state: &'a dyn State, platform: &'a str) -> Self {
        Promotions { state, platform }
    }
}

#[async_trait::async_trait]
impl PromotionJournal for Promotions<'_> {
    async fn sending(&self, target_apps: &[&str], slug_id: &str, description: &str) {
        let started: Vec<StartedRelease> = target_apps
            .iter()
            .map(|app| StartedRelease {
                app: (*app).to_owned(),
                slug_id: slug_id.to_owned(),
                description: description.to_owned(),
            })
            .collect();
        if let Err(error) = self
            .state
            .record_started_releases(self.platform, &started)
            .await
        {
            // Only a kill before the targets' releases are recorded then makes them drift.
            tracing::warn!(slug_id, error = %crate::error_chain::one_line(&error), "cannot record the releases the pipeline promotion starts");
        }
    }

    async fn started(
        &self,
        promotion_id: &str,
        source_release_id: &str,
        target_app_ids: &[String],
    ) {
        if let Err(error) = self
            .state
            .record_promotion(
                self.platform,
                promotion_id,
                source_release_id,
                target_app_ids,
            )
            .await
        {
            // The targets' releases still tell a rerun that this promotion happened.
            tracing::warn!(promotion_id, error = %crate::error_chain::one_line(&error), "cannot record the pipeline promotion");
        }
    }

    async fn started_for(&self, source_release_id: &str) -> Vec<StartedPromotion> {
        self.state
            .promotions_of(self.platform, source_release_id)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(source_release_id, error = %crate::error_chain::one_line(&error), "cannot read the recorded pipeline promotions");
                Vec::new()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::sqlite::SqliteState;

    #[tokio::test]
    async fn promotions_are_found_by_platform_and_source_release_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let state = SqliteState::open(dir.path()).unwrap();
        let targets = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (platform, id, source, to) in [
            ("p1", "promo-1", "rel-a", &["eu", "us"][..]),
            ("p1", "promo-2", "rel-a", &["us"]),
            ("p2", "promo-3", "rel-a", &["eu"]),
            ("p1", "promo-4", "rel-b", &["eu"]),
        ] {
            state
                .record_promotion(platform, id, source, &targets(to))
                .await
                .unwrap();
        }
        let journal = Promotions::new(&state, "p1");
        assert_eq!(
            journal.started_for("rel-a").await,
            [
                StartedPromotion {
                    id: "promo-1".into(),
                    target_app_ids: targets(&["eu", "us"])
                },
                StartedPromotion {
                    id: "promo-2".into(),
                    target_app_ids: targets(&["us"])
                },
            ]
        );
        journal.started("promo-5", "rel-c", &targets(&["ap"])).await;
        assert_eq!(journal.started_for("rel-c").await[0].id, "promo-5");
        assert!(journal.started_for("rel-z").await.is_empty());
    }
}
