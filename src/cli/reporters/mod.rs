//! Implementations of the library's progress-reporter traits: the only users of indicatif.
//!
//! Each reporter picks its output once from the printer: live bars on a terminal, plain lines
//! when stderr is not one, nothing with `--quiet`.

pub mod apply;
pub mod fetch;
pub mod pack;
pub mod retry;
