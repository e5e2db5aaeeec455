//! slugplan's integration tests: one binary, one module per area, real tools and real servers.

mod common;

mod build;
mod manifest;
mod platform;
mod runtime;
mod slug;
