//! Releases and promotions: the one home of "make a slug live on an app".
//!
//! It sits below the two callers that put slugs live: `apply` (a plan's release and promote
//! steps) and `ops` (`slugplan promote`, `rollback`), and above the platform, which is all it
//! talks to. It records nothing in slugplan's state: the callers do, once a release has settled,
//! so a release that failed is never recorded as slugplan's; the pipeline promotions it starts
//! go to a [`PromotionJournal`] the caller hands it (the state, through `state::Promotions`).
//!
//! - `settle`: release a slug, or resume the pending release of it that an interrupted apply
//!   left behind (never release it twice), and wait until a release leaves `pending`.
//! - `verdict`: read a promotion's source (what it runs: current **and** succeeded, never simply
//!   the newest) and its targets, and decide per target: refused (Fir, another stack, the source
//!   itself), already done, or promote (saying whether that downgrades it).
//! - `live`: when an app's running slug went live, so that a config change (a release of the
//!   slug it runs) never counts as a newer deploy in a downgrade check.
//! - `promotion`: promote one source to its targets at once: one pipeline promotion for the
//!   targets coupled to the source's pipeline, a release of the slug id for the others, each
//!   target's result on its own so one failure never holds back the rest.
//! - `resume`: what an interrupted or failed promotion left (a live release of the slug on the
//!   target, a journaled pipeline promotion still pending), found before promoting again, so a
//!   promotion, like a release, is never made twice.
//!
//! Every failure is a [`ReleaseError`] naming the app, release or promotion it concerns, with the
//! platform's error as its cause.

mod error;
mod live;
mod promotion;
mod resume;
mod settle;
mod verdict;

pub use error::ReleaseError;
pub use live::{confirm_downgrade, live_release, went_live};
pub use promotion::{PROMOTION_ATTEMPTS, promote_all};
pub use resume::{InFlight, NoJournal, PromotionJournal, StartedPromotion, in_flight};
pub use settle::{create_or_resume, wait};
pub use verdict::{
    Refusal, Rollbacks, Source, SourceError, Target, Verdict, is_newer, known_rollbacks,
    read_source, read_target, refusal, released_at, rollbacks_among, verdict, via_pipeline,
};
