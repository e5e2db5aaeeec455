//! The one poison policy for slugplan's mutexes: a poisoned lock is recovered, not re-panicked.
//!
//! A mutex is poisoned when a thread panics while holding it. Every mutex in slugplan guards data
//! that stays consistent between the holder's statements: a SQLite connection (a transaction
//! left open by the panic is rolled back when it is dropped during the unwind), a map of ids, a
//! list of progress bars, a rate-limit bucket. Turning the poison into a second panic in every
//! other thread would only hide the first panic, which is the one worth reading; so every lock
//! goes through [`lock`], and nowhere else is `Mutex::lock` unwrapped.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering it when a panicking holder poisoned it (see the module docs).
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_poisoned_by_a_panic_is_usable_afterwards() {
        let shared = std::sync::Arc::new(Mutex::new(vec![1]));
        let held = shared.clone();
        let panicked = std::thread::spawn(move || {
            let mut guard = held.lock().unwrap();
            guard.push(2);
            panic!("a holder panics");
        })
        .join();
        assert!(panicked.is_err());
        assert!(shared.is_poisoned());
        lock(&shared).push(3);
        assert_eq!(*lock(&shared), vec![1, 2, 3]);
    }
}
