//! Integration tests: slug.
