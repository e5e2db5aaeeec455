//! A slug's checksum, `SHA256:<64 lowercase hex>`: the form the Platform API declares and
//! reports slugs in, and what slugplan compares to decide whether an app runs what it should.
//!
//! [`Checksum`] is parsed and checked once, where a checksum enters (packing computes one, a
//! saved plan or the slug index reads one, the local platform receives one), so nothing else
//! strips `SHA256:` or checks hex digits by hand; [`Checksum::hex`] is the digest alone (a
//! cache entry's name, a blob's). It serialises as the same string, so JSON output, saved plans
//! and records keep their shape.
//!
//! Checksums the platform reports for slugs slugplan did not make are the creator's text (the
//! API does not constrain it) and stay strings; [`short`] shortens either kind for display.

use std::fmt;
use std::str::FromStr;

/// The prefix of every checksum.
const PREFIX: &str = "SHA256:";

/// `SHA256:` and 64 lowercase hex digits: a SHA-256 as the Platform API writes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Checksum(String);

/// A string that is not `SHA256:` followed by 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("checksum {value:?} must be SHA256: followed by 64 lowercase hex digits")]
#[diagnostic(code(slugplan::checksum))]
pub struct ChecksumError {
    /// What was given.
    pub value: String,
}

impl Checksum {
    /// `text` as a checksum, if it is one.
    pub fn parse(text: &str) -> Result<Self, ChecksumError> {
        match text.strip_prefix(PREFIX) {
            Some(hex) if is_sha256_hex(hex) => Ok(Checksum(text.to_owned())),
            _ => Err(ChecksumError {
                value: text.to_owned(),
            }),
        }
    }

    /// The checksum of SHA-256 `hex` (64 lowercase hex digits, as the cache names files).
    pub fn from_hex(hex: &str) -> Result<Self, ChecksumError> {
        if is_sha256_hex(hex) {
            Ok(Checksum(format!("{PREFIX}{hex}")))
        } else {
            Err(ChecksumError {
                value: hex.to_owned(),
            })
        }
    }

    /// The checksum of a SHA-256 digest.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Checksum(format!("{PREFIX}{}", hex::encode(digest)))
    }

    /// The checksum of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        use sha2::Digest;
        Self::from_digest(sha2::Sha256::digest(bytes).into())
    }

    /// The 64 hex digits alone.
    pub fn hex(&self) -> &str {
        &self.0[PREFIX.len()..]
    }

    /// The whole checksum, `SHA256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Shortened for display: `SHA256:` and the first 12 hex digits.
    pub fn short(&self) -> String {
        short(&self.0)
    }
}

fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A checksum's text shortened for display: `SHA256:` and the first 12 hex digits; text in
/// another form (another client's checksum) as it is.
pub fn short(text: &str) -> String {
    match text.strip_prefix(PREFIX) {
        Some(hex) if hex.len() > 12 => format!("{PREFIX}{}…", &hex[..12]),
        _ => text.to_owned(),
    }
}

/// `text` (a step's reason) with every full checksum in it shortened as [`short`] does, for
/// people: plans keep full checksums, their renderings show the short form.
pub fn shorten_all(text: &str) -> std::borrow::Cow<'_, str> {
    static FULL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"SHA256:([0-9a-f]{12})[0-9a-f]{52}").expect("a valid pattern")
    });
    FULL.replace_all(text, "SHA256:${1}…")
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Checksum {
    type Err = ChecksumError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Checksum::parse(text)
    }
}

impl AsRef<str> for Checksum {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Checksum> for String {
    fn from(checksum: Checksum) -> String {
        checksum.0
    }
}

impl serde::Serialize for Checksum {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Checksum {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Checksum::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn a_checksum_is_sha256_and_64_lowercase_hex_digits() {
        let text = format!("SHA256:{HEX}");
        let checksum = Checksum::parse(&text).unwrap();
        assert_eq!(checksum.hex(), HEX);
        assert_eq!(checksum.as_str(), text);
        assert_eq!(checksum, Checksum::from_hex(HEX).unwrap());
        assert_eq!(checksum, Checksum::of_bytes(b""));
        assert_eq!(checksum.to_string(), text);
        for bad in [
            HEX.to_owned(),
            format!("sha256:{HEX}"),
            format!("SHA256:{}", HEX.to_uppercase()),
            format!("SHA256:{}", &HEX[1..]),
            format!("SHA256:{HEX}0"),
            format!("SHA256:{}g", &HEX[1..]),
            format!(" SHA256:{HEX}"),
            String::new(),
        ] {
            let err = Checksum::parse(&bad).unwrap_err();
            assert_eq!(err.value, bad);
        }
        assert!(Checksum::from_hex(&format!("SHA256:{HEX}")).is_err());
    }

    #[test]
    fn it_serialises_as_the_same_string_and_refuses_others() {
        let checksum = Checksum::from_hex(HEX).unwrap();
        let json = serde_json::to_string(&checksum).unwrap();
        assert_eq!(json, format!("\"SHA256:{HEX}\""));
        assert_eq!(serde_json::from_str::<Checksum>(&json).unwrap(), checksum);
        let err = serde_json::from_str::<Checksum>("\"SHA256:00\"").unwrap_err();
        assert!(err.to_string().contains("64 lowercase hex digits"), "{err}");
    }

    #[test]
    fn short_forms_keep_twelve_digits_and_leave_other_text_alone() {
        let checksum = Checksum::from_hex(HEX).unwrap();
        assert_eq!(checksum.short(), "SHA256:e3b0c44298fc…");
        assert_eq!(short("SHA256:abc"), "SHA256:abc");
        assert_eq!(short("md5:0123456789abcdef"), "md5:0123456789abcdef");
    }
}
