//! Heroku's dyno facts that slugplan checks against, written once: the dyno sizes of each
//! platform generation, and the rule by which a release scales a process type it brings.
//!
//! The manifest's `[apps.<name>.formation]` sizes are checked here (apps that run slugs are
//! Cedar apps), the local platform refuses a size its app's generation does not have, and the
//! plan predicts the formation a first release makes with [`initial_quantity`], the same rule
//! the local platform applies. Sizes compare case-insensitively (`standard-1x` is
//! `Standard-1X`), as the API compares them; [`canonical`] gives Heroku's spelling.

use crate::platform::Generation;

/// The dyno sizes of Cedar, the generation that runs slugs, in Heroku's spelling: the Common
/// Runtime's, then Private and Shield Spaces'.
pub const CEDAR_SIZES: &[&str] = &[
    "Eco",
    "Basic",
    "Standard-1X",
    "Standard-2X",
    "Performance-M",
    "Performance-L",
    "Performance-L-RAM",
    "Performance-XL",
    "Performance-2XL",
    "Private-S",
    "Private-M",
    "Private-L",
    "Private-L-RAM",
    "Private-XL",
    "Private-2XL",
    "Private-Memory-L",
    "Private-Memory-XL",
    "Private-Memory-2XL",
    "Shield-S",
    "Shield-M",
    "Shield-L",
    "Shield-L-RAM",
    "Shield-XL",
    "Shield-2XL",
    "Shield-Memory-L",
    "Shield-Memory-XL",
    "Shield-Memory-2XL",
];

/// The dyno sizes of Fir (apps that run OCI images), named by cores and memory.
pub const FIR_SIZES: &[&str] = &[
    "dyno-1c-0.5gb",
    "dyno-1c-4gb",
    "dyno-1c-8gb",
    "dyno-2c-1gb",
    "dyno-2c-4gb",
    "dyno-2c-8gb",
    "dyno-2c-16gb",
    "dyno-4c-8gb",
    "dyno-4c-16gb",
    "dyno-4c-32gb",
    "dyno-8c-16gb",
    "dyno-8c-32gb",
    "dyno-8c-64gb",
    "dyno-16c-32gb",
    "dyno-16c-64gb",
    "dyno-16c-128gb",
    "dyno-32c-64gb",
];

/// The size a process type gets when a release first brings it (the local platform's; Heroku's
/// depends on the account).
pub const DEFAULT_SIZE: &str = "Basic";

/// The dyno sizes of `generation`.
pub fn sizes(generation: Generation) -> &'static [&'static str] {
    match generation {
        Generation::Cedar => CEDAR_SIZES,
        Generation::Fir => FIR_SIZES,
    }
}

/// `size` in Heroku's spelling, when it is one of `generation`'s sizes (in any case).
pub fn canonical(generation: Generation, size: &str) -> Option<&'static str> {
    sizes(generation)
        .iter()
        .copied()
        .find(|known| known.eq_ignore_ascii_case(size))
}

/// Whether two size names are the same size.
pub fn same_size(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// How many dynos a process type runs once the first release that has it lands: one `web`
/// dyno, none of any other type (Heroku's rule: web traffic works at once, workers wait to be
/// scaled).
pub fn initial_quantity(process_type: &str) -> u32 {
    u32::from(process_type == "web")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_matched_in_any_case_within_their_generation() {
        assert_eq!(
            canonical(Generation::Cedar, "standard-1x"),
            Some("Standard-1X")
        );
        assert_eq!(canonical(Generation::Cedar, "BASIC"), Some("Basic"));
        assert_eq!(canonical(Generation::Cedar, "dyno-1c-0.5gb"), None);
        assert_eq!(
            canonical(Generation::Fir, "dyno-1c-0.5gb"),
            Some("dyno-1c-0.5gb")
        );
        assert_eq!(canonical(Generation::Fir, "standard-1x"), None);
        assert!(canonical(Generation::Cedar, DEFAULT_SIZE).is_some());
    }

    #[test]
    fn a_first_release_runs_one_web_dyno_and_no_others() {
        assert_eq!(initial_quantity("web"), 1);
        assert_eq!(initial_quantity("worker"), 0);
    }
}
