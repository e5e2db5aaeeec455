//! A request to stop, passed from whoever hears it to the work that honours it.
//!
//! The edge turns the first `SIGINT`/`SIGTERM` into [`Interrupt::request`]; an apply checks
//! [`Interrupt::requested`] before it starts each step, so it stops scheduling new ones while
//! those already running (an API call, a release being waited for) finish or are read back, and
//! then reports what was done and what was not. The library never installs signal handlers:
//! only the edge knows whether there is a terminal and what a second Ctrl-C means.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared "please stop" flag; clones share it. Never requested unless someone asks.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    requested: Arc<AtomicBool>,
}

impl Interrupt {
    /// A flag nobody has raised yet.
    pub fn new() -> Self {
        Interrupt::default()
    }

    /// Asks the work to stop; true the first time it is asked.
    pub fn request(&self) -> bool {
        !self.requested.swap(true, Ordering::SeqCst)
    }

    /// Whether stopping has been asked for.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_flag_and_only_the_first_request_is_first() {
        let interrupt = Interrupt::new();
        let heard = interrupt.clone();
        assert!(!heard.requested());
        assert!(interrupt.request());
        assert!(!interrupt.request(), "the second request is not the first");
        assert!(heard.requested());
    }
}
