//! The formation step of one process type: whether its dyno count or size must change.
//!
//! Only the process types the manifest declares are compared; a type scaled by hand that the
//! manifest does not name is left alone. A type the app's formation lacks comes with the
//! release this plan makes (validation made sure the slug has it): the platform gives it its
//! first formation by Heroku's rule ([`dyno::initial_quantity`]), so a declared count equal to
//! that, with no size, needs no step.

use serde::{Deserialize, Serialize};

use crate::desired::DesiredFormation;
use crate::dyno;
use crate::plan::Action;
use crate::platform::Formation;

/// A formation step's process type before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormationChange {
    /// The process type.
    pub process_type: String,
    /// Its dyno count now; None when a release of this plan brings it.
    pub before_quantity: Option<u32>,
    /// Its size now, if known.
    pub before_size: Option<String>,
    /// The declared dyno count.
    pub quantity: u32,
    /// The declared size; None leaves the size as it is.
    pub size: Option<String>,
}

impl FormationChange {
    /// Whether `formation` already runs what is declared.
    pub fn satisfied_by(&self, formation: &Formation) -> bool {
        formation.quantity == self.quantity
            && self
                .size
                .as_deref()
                .is_none_or(|size| dyno::same_size(size, &formation.size))
    }
}

/// The action, reason and change of the formation step of `process_type`, from what is
/// declared and the app's formation now (None: the app does not exist yet).
pub fn decide(
    process_type: &str,
    declared: &DesiredFormation,
    observed: Option<&[Formation]>,
) -> (Action, String, FormationChange) {
    let now = observed
        .unwrap_or_default()
        .iter()
        .find(|f| f.process_type == process_type);
    let change = FormationChange {
        process_type: process_type.to_owned(),
        before_quantity: now.map(|f| f.quantity),
        before_size: now.map(|f| f.size.clone()),
        quantity: declared.quantity,
        size: declared.size.clone(),
    };
    let wanted = describe(declared.quantity, declared.size.as_deref());
    match now {
        Some(now) if change.satisfied_by(now) => (
            Action::NoOp,
            format!("runs {}", describe(now.quantity, Some(&now.size))),
            change,
        ),
        Some(now) => (
            Action::Scale,
            format!(
                "runs {}, declared {wanted}",
                describe(now.quantity, Some(&now.size))
            ),
            change,
        ),
        None => {
            let first = dyno::initial_quantity(process_type);
            if declared.size.is_none() && declared.quantity == first {
                let reason = format!(
                    "{process_type} comes with its first release, which runs {first} (Heroku's rule)"
                );
                (Action::NoOp, reason, change)
            } else {
                let reason = format!(
                    "{process_type} comes with its first release, which runs {first}; declared {wanted}"
                );
                (Action::Scale, reason, change)
            }
        }
    }
}

/// `2 × Standard-1X`, or `2` without a size.
pub fn describe(quantity: u32, size: Option<&str>) -> String {
    match size {
        Some(size) => format!("{quantity} × {size}"),
        None => quantity.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(quantity: u32, size: &str) -> Formation {
        Formation {
            process_type: "web".into(),
            quantity,
            size: size.into(),
            command: "./web".into(),
        }
    }

    fn declared(quantity: u32, size: Option<&str>) -> DesiredFormation {
        DesiredFormation {
            quantity,
            size: size.map(str::to_owned),
        }
    }

    #[test]
    fn a_count_or_size_that_differs_is_scaled() {
        let now = [web(1, "Basic")];
        let (action, reason, _) = decide("web", &declared(2, None), Some(&now));
        assert_eq!(
            (action, reason.as_str()),
            (Action::Scale, "runs 1 × Basic, declared 2")
        );
        let (action, _, _) = decide("web", &declared(1, Some("Standard-1X")), Some(&now));
        assert_eq!(action, Action::Scale);
        let (action, reason, _) = decide("web", &declared(1, Some("basic")), Some(&now));
        assert_eq!((action, reason.as_str()), (Action::NoOp, "runs 1 × Basic"));
        let (action, _, _) = decide("web", &declared(1, None), Some(&now));
        assert_eq!(action, Action::NoOp, "no size declared: any size will do");
    }

    #[test]
    fn a_type_the_first_release_brings_is_scaled_only_when_herokus_rule_falls_short() {
        assert_eq!(decide("web", &declared(1, None), None).0, Action::NoOp);
        assert_eq!(
            decide("worker", &declared(0, None), Some(&[])).0,
            Action::NoOp
        );
        assert_eq!(decide("worker", &declared(1, None), None).0, Action::Scale);
        assert_eq!(
            decide("web", &declared(1, Some("Standard-1X")), None).0,
            Action::Scale
        );
    }
}
