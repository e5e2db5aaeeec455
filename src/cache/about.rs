//! What an entry named by a hash is: a small record beside the buckets (`about-v1/`), written
//! by whoever stores the entry (a runtime archive: its runtime's name and redacted URL; a slug
//! archive: its slug's name and stack), so that `slugplan cache ls` can say what it lists.
//!
//! Best effort on both sides: a record that cannot be written costs only the name in the
//! listing, and an entry stored before records existed is shown by its hash alone. The same
//! bytes stored under another name replace the record: it says what the entry was last.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Bucket, Cache};

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    /// The runtime's or slug's name in the manifest that stored it.
    pub name: String,
    /// A runtime archive's URL, credentials redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A slug's stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// The record's file name for entry `key` of `bucket`.
fn file_name(bucket: Bucket, key: &str) -> String {
    format!("{}--{key}.json", bucket.dir_name())
}

/// Records what entry `key` of `bucket` is (best effort).
pub fn record(cache: &Cache, bucket: Bucket, key: &str, about: &About) {
    let (Ok(dir), Ok(mut temp)) = (cache.bucket(Bucket::About), cache.temp_file(Bucket::About))
    else {
        return;
    };
    let text = serde_json::to_vec(about).expect("records serialise");
    if std::io::Write::write_all(&mut temp, &text).is_ok() {
        let _ = temp.persist(dir.join(file_name(bucket, key)));
    }
}

/// Every record, by bucket directory name and entry key; reads only (creates nothing).
pub fn read_all(cache: &Cache) -> BTreeMap<(String, String), About> {
    let Ok(read) = std::fs::read_dir(cache.root().join(Bucket::About.dir_name())) else {
        return BTreeMap::new();
    };
    read.filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let (bucket, key) = name.strip_suffix(".json")?.split_once("--")?;
            let text = std::fs::read(entry.path()).ok()?;
            Some((
                (bucket.to_owned(), key.to_owned()),
                serde_json::from_slice(&text).ok()?,
            ))
        })
        .collect()
}
