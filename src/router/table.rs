//! The router's table of apps: for each app the router listens for, what a request to its port
//! needs to know now (the app's name and maintenance flag), and its round-robin position.
//!
//! An entry belongs to one app (by id) and one port for its whole life; a rename or a change of
//! the maintenance flag updates it in place, so connections already open see the change on
//! their next request. A deleted app's entry is cleared: requests still arriving on its
//! connections get the "no such app" page.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a request to an app's port needs to know about the app now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Current {
    /// The app's name (its log and its dynos go by it).
    pub(crate) name: String,
    /// Whether the app is in maintenance mode.
    pub(crate) maintenance: bool,
}

/// One app the router listens for.
#[derive(Debug)]
pub(crate) struct AppEntry {
    /// The app's port on 127.0.0.1.
    pub(crate) port: u16,
    current: Mutex<Option<Current>>,
    next: AtomicUsize,
}

impl AppEntry {
    /// The entry of an app listening on `port`.
    pub(crate) fn new(port: u16, current: Current) -> AppEntry {
        AppEntry {
            port,
            current: Mutex::new(Some(current)),
            next: AtomicUsize::new(0),
        }
    }

    /// The app now; `None` once it was deleted.
    pub(crate) fn current(&self) -> Option<Current> {
        crate::sync::lock(&self.current).clone()
    }

    /// Records the app as it is now (`None`: deleted).
    pub(crate) fn set(&self, current: Option<Current>) {
        *crate::sync::lock(&self.current) = current;
    }

    /// Where the next request's round of the app's dynos starts (taken modulo their number).
    pub(crate) fn next_dyno(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_moves_on_and_a_deleted_app_reads_as_gone() {
        let entry = AppEntry::new(
            20001,
            Current {
                name: "shop".to_owned(),
                maintenance: false,
            },
        );
        let firsts: Vec<usize> = (0..4).map(|_| entry.next_dyno() % 2).collect();
        assert_eq!(firsts, [0, 1, 0, 1]);
        assert_eq!(entry.current().unwrap().name, "shop");
        entry.set(None);
        assert_eq!(entry.current(), None);
    }
}
