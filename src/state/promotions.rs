//! The pipeline promotions slugplan started: written the moment the platform answers, before the
//! promotion is polled, so that an apply killed while polling is followed by one that polls the
//! same promotion again instead of making a second one ([`crate::release`]'s journal).

use rusqlite::params;

use super::{State, StateError, now};
use crate::release::{PromotionJournal, StartedPromotion};

impl State {
    /// Records that pipeline promotion `promotion_id` of `source_release_id` to
    /// `target_app_ids` was made on `platform`.
    pub fn record_promotion(
        &self,
        platform: &str,
        promotion_id: &str,
        source_release_id: &str,
        target_app_ids: &[String],
    ) -> Result<(), StateError> {
        let targets = serde_json::to_string(target_app_ids).expect("strings serialise");
        self.db
            .conn()
            .execute(
                "INSERT OR REPLACE INTO promotions VALUES (?1, ?2, ?3, ?4, ?5)",
                params![platform, promotion_id, source_release_id, targets, now()],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// The pipeline promotions of `source_release_id` made on `platform`, oldest first.
    pub fn promotions_of(
        &self,
        platform: &str,
        source_release_id: &str,
    ) -> Result<Vec<StartedPromotion>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare(
                "SELECT promotion_id, target_app_ids FROM promotions
                 WHERE platform = ?1 AND source_release_id = ?2 ORDER BY created_at, rowid",
            )
            .map_err(self.err())?;
        stmt.query_map(params![platform, source_release_id], |row| {
            let targets: String = row.get(1)?;
            Ok(StartedPromotion {
                id: row.get(0)?,
                // Written by `record_promotion`; a row that does not parse holds no target.
                target_app_ids: serde_json::from_str(&targets).unwrap_or_default(),
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(self.err())
    }
}

/// The state as the journal of the pipeline promotions made on one platform.
#[derive(Debug, Clone, Copy)]
pub struct Promotions<'a> {
    state: &'a State,
    platform: &'a str,
}

impl<'a> Promotions<'a> {
    /// The promotions `state` records for `platform` (its id in the state).
    pub fn new(state: &'a State, platform: &'a str) -> Self {
        Promotions { state, platform }
    }
}

#[async_trait::async_trait]
impl PromotionJournal for Promotions<'_> {
    async fn started(
        &self,
        promotion_id: &str,
        source_release_id: &str,
        target_app_ids: &[String],
    ) {
        if let Err(error) = self.state.record_promotion(
            self.platform,
            promotion_id,
            source_release_id,
            target_app_ids,
        ) {
            // The targets' releases still tell a rerun that this promotion happened.
            tracing::warn!(promotion_id, error = %crate::error_chain::one_line(&error), "cannot record the pipeline promotion");
        }
    }

    async fn started_for(&self, source_release_id: &str) -> Vec<StartedPromotion> {
        self.state
            .promotions_of(self.platform, source_release_id)
            .unwrap_or_else(|error| {
                tracing::warn!(source_release_id, error = %crate::error_chain::one_line(&error), "cannot read the recorded pipeline promotions");
                Vec::new()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn promotions_are_found_by_platform_and_source_release_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let targets = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        state
            .record_promotion("p1", "promo-1", "rel-a", &targets(&["eu", "us"]))
            .unwrap();
        state
            .record_promotion("p1", "promo-2", "rel-a", &targets(&["us"]))
            .unwrap();
        state
            .record_promotion("p2", "promo-3", "rel-a", &targets(&["eu"]))
            .unwrap();
        state
            .record_promotion("p1", "promo-4", "rel-b", &targets(&["eu"]))
            .unwrap();
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
