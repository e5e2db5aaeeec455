//! slugplan's own files, and how they are told apart from the app's wherever they are: they
//! describe deploys, not the app, so they are never part of a slug.
//!
//! A leaf (it imports nothing from the crate), so that the slug's file selection, saved plans
//! and the edge can all name it. What is slugplan's:
//!
//! - `.slugplan/` at any depth ([`DOT_DIR`]): a manifest's state and local platform;
//! - a saved plan ([`is_saved_plan`]): `plan -out FILE` and `plan --json` write documents
//!   whose first key is `"kind": "slugplan-plan"`, so one left inside the source (the
//!   README's own `plan -out release.plan` flow, or a CI artifact copied into a checkout) is
//!   recognised by its first bytes, under any name;
//! - what this run writes ([`OwnFiles`]): the `-out` file, and stdout and stderr when they are
//!   redirected to files (`slugplan apply > deploy.log` inside the source), known by their
//!   device and inode since the shell created them before slugplan started.
//!
//! The manifest, its lock, the cache and the local platform's data directory are left out by
//! path where they lie inside the source ([`crate::build::components`] names them).

use std::path::{Path, PathBuf};

/// The directory beside a manifest holding its state and local platform.
pub const DOT_DIR: &str = ".slugplan";

/// The value of a saved plan's first key, `kind`.
pub const SAVED_PLAN_KIND: &str = "slugplan-plan";

/// How many leading bytes of a file [`is_saved_plan`] needs to see.
pub const SNIFF_BYTES: usize = 64;

/// Whether `head`, the first bytes of a file, begin a saved plan: `{"kind":"slugplan-plan"`
/// with any JSON whitespace between the tokens (pretty or compact).
pub fn is_saved_plan(head: &[u8]) -> bool {
    let expected = format!("{{\"kind\":\"{SAVED_PLAN_KIND}\"");
    let mut compact = head
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    expected.bytes().all(|want| compact.next() == Some(want))
}

/// The files this run writes, which no slug it builds may contain: by path (`plan -out
/// FILE`), and by device and inode (stdout and stderr redirected to files: the shell created
/// them, perhaps inside the source, before slugplan started).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnFiles {
    paths: Vec<PathBuf>,
    identities: Vec<(u64, u64)>,
}

/// No files: for builds that are not part of a run writing any (tests, benchmarks).
pub static NONE: OwnFiles = OwnFiles {
    paths: Vec::new(),
    identities: Vec::new(),
};

impl OwnFiles {
    /// stdout and stderr, where they are regular files. Reads the process's own descriptors:
    /// for the edge to call, once.
    pub fn stdio() -> Self {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let mut own = OwnFiles::default();
        let fds = [
            std::io::stdout().as_fd().try_clone_to_owned(),
            std::io::stderr().as_fd().try_clone_to_owned(),
        ];
        for fd in fds.into_iter().flatten() {
            if let Ok(meta) = std::fs::File::from(fd).metadata()
                && meta.is_file()
            {
                own.identities.push((meta.dev(), meta.ino()));
            }
        }
        own
    }

    /// These files and the one at `path` (which may not exist yet).
    pub fn with_path(mut self, path: &Path) -> Self {
        self.paths.push(path.to_owned());
        self
    }

    /// The paths this run writes.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Whether the file with `meta`'s device and inode is one this run writes.
    pub fn is_written_now(&self, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        self.identities.contains(&(meta.dev(), meta.ino()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_plans_are_known_by_their_first_key_pretty_or_compact() {
        assert!(is_saved_plan(
            b"{\"kind\":\"slugplan-plan\",\"format_version\":1}"
        ));
        assert!(is_saved_plan(
            b"{\n  \"kind\": \"slugplan-plan\",\n  \"format_version\": 1"
        ));
        for other in [
            &b""[..],
            b"{",
            b"{\"kind\":\"slugplan-plan",
            b"{\"kind\":\"other\"}",
            b"{\"format_version\":1,\"kind\":\"slugplan-plan\"}",
            b"kind: slugplan-plan",
        ] {
            assert!(!is_saved_plan(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
