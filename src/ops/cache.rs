//! What each cache entry is, for `slugplan cache ls`: entries are named by hashes and keys, and
//! the cache's own records ([`crate::cache::about`]) say what the archives are; the entries
//! derived from an archive (a runtime's unpacked tree and its listing, a slug's index entry)
//! are named after it. An entry no record names is shown by its kind alone.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::build::index::SlugIndex;
use crate::cache::about::{self, About};
use crate::cache::prune::EntryInfo;
use crate::cache::{Bucket, Cache};

/// What one entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Described {
    /// `slug`, `slug index`, `runtime archive`, `runtime tree`, `runtime listing`, `Go build`,
    /// `compressed chunks`, `tree hash`, `record` or `temp file`.
    pub kind: &'static str,
    /// What its record says (None: no record).
    #[serde(flatten)]
    pub about: Option<About>,
}

impl Described {
    /// `runtime archive node from https://…`, `slug web for heroku-24`, or the kind alone.
    pub fn line(&self) -> String {
        let mut out = self.kind.to_owned();
        if let Some(about) = &self.about {
            out = format!("{out} {}", about.name);
            if let Some(url) = &about.url {
                out = format!("{out} from {url}");
            }
            if let Some(stack) = &about.stack {
                out = format!("{out} for {stack}");
            }
        }
        out
    }
}

/// The records that name entries, read once.
pub struct Records {
    about: BTreeMap<(String, String), About>,
    /// Slug index entries: input key → archive SHA-256.
    index: BTreeMap<String, String>,
}

impl Records {
    /// Reads the records of `cache` (creating nothing).
    pub fn read(cache: &Cache) -> Self {
        let has_index = cache.root().join(Bucket::SlugIndex.dir_name()).is_dir();
        let index = if has_index {
            SlugIndex::new(cache)
                .entries()
                .into_iter()
                .map(|(key, entry)| (key, entry.sha256))
                .collect()
        } else {
            BTreeMap::new()
        };
        Records {
            about: about::read_all(cache),
            index,
        }
    }

    fn about(&self, bucket: Bucket, key: &str) -> Option<About> {
        self.about
            .get(&(bucket.dir_name().to_owned(), key.to_owned()))
            .cloned()
    }

    /// What `entry` is.
    pub fn describe(&self, entry: &EntryInfo) -> Described {
        let name = entry.name.as_str();
        let described = |kind, about| Described { kind, about };
        if name.starts_with(".tmp-") {
            return described("temp file", None);
        }
        // A runtime tree's key, and its listing's name, start with the archive's SHA-256.
        let archive = name.split(['-', '.']).next().unwrap_or(name);
        let bucket = Bucket::ALL
            .into_iter()
            .find(|b| b.dir_name() == entry.bucket);
        match bucket {
            Some(Bucket::Slugs) => {
                let sha = name.trim_end_matches(".tgz");
                described("slug", self.about(Bucket::Slugs, sha))
            }
            Some(Bucket::SlugSources) => {
                let sha = name.trim_end_matches(".sources");
                described("slug sources", self.about(Bucket::Slugs, sha))
            }
            Some(Bucket::SlugIndex) => {
                let sha = self.index.get(name.trim_end_matches(".json"));
                described(
                    "slug index",
                    sha.and_then(|sha| self.about(Bucket::Slugs, sha)),
                )
            }
            Some(Bucket::RuntimeArchives) => {
                described("runtime archive", self.about(Bucket::RuntimeArchives, name))
            }
            Some(Bucket::RuntimeTrees) => {
                described("runtime tree", self.about(Bucket::RuntimeArchives, archive))
            }
            Some(Bucket::RuntimeListings) => described(
                "runtime listing",
                self.about(Bucket::RuntimeArchives, archive),
            ),
            Some(Bucket::GoBuilds) => described("Go build", None),
            Some(Bucket::Chunks) => described("compressed chunks", None),
            Some(Bucket::TreeHashes) => described("tree hash", None),
            Some(Bucket::About) | None => described("record", None),
        }
    }
}
