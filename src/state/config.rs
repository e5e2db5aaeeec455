//! The config var keys slugplan manages on each app, and the workspace's key for the keyed
//! hashes that stand in for their values.
//!
//! A key is recorded as managed before slugplan sets it ([`State::manage_config`]), so an
//! apply killed right after the platform took the value still knows the key is its own, and
//! confirmed with the keyed hash of the value once the platform answered
//! ([`State::record_config`]). Unsetting it marks it removed rather than forgetting it: a
//! rollback to an older release brings its config back, and a key slugplan set then and no
//! longer declares is then unset again by the app's next config step. Values are never
//! stored: a digest tells a key changed by hand (drift) from one the manifest changed, and a
//! sensitive value's digest is all a saved plan holds of it. Both backends implement these
//! operations alike; on PostgreSQL the value key is the workspace's, shared by every runner.

use serde::{Deserialize, Serialize};

use super::{State, StateError};
use crate::sensitive::{Digest, ValueKey};

/// A config var key slugplan manages on an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedVar {
    /// Whether its value is sensitive (so even a value read back is never shown).
    pub sensitive: bool,
    /// The keyed hash of the value slugplan last set; None until a set is confirmed.
    pub digest: Option<Digest>,
    /// Whether slugplan unset it since (it is no longer declared).
    pub removed: bool,
}

/// The value key stored as `hex` in `state`, or why it is damaged.
pub(crate) fn stored_value_key(state: &dyn State, hex: &str) -> Result<ValueKey, StateError> {
    ValueKey::from_hex(hex).ok_or_else(|| StateError::Corrupt {
        location: state.location().to_string(),
        what: "the config value key is not 64 hex digits".to_owned(),
    })
}
