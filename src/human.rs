//! Quantities as people write and read them: sizes, durations and counted nouns.
//!
//! One unit system everywhere: sizes are decimal (`98.90 MB`, as indicatif's progress bars
//! print them, and `--max-size 1.5G` means 1.5 × 10⁹ bytes, as bytesize reads it; `1.5GiB`
//! still says 2³⁰ explicitly). Durations are read by humantime (`1.5d`, `12h`, `1w 2d`).
//! A count says its noun in the singular for one: `1 runtime`, `2 runtimes`, `1 entry`.

use std::time::Duration;

/// `bytes` in decimal units: `175 B`, `98.90 MB`, `1.50 GB`.
pub fn size(bytes: u64) -> String {
    indicatif::DecimalBytes(bytes).to_string()
}

/// `count` and its noun: `one` for exactly one, `many` otherwise (`0 steps`, `1 step`).
pub fn count(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Reads a size: bytes, or a number with a unit (`500M`, `1.5G`, `2GB`, `1.5GiB`, `0`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|err| format!("`{text}` is not a size (e.g. 500M, 1.5G, 2GiB): {err}"))
}

/// Reads a duration: a number and a unit, or several (`30m`, `12h`, `1.5d`, `1w 2d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("`{text}` is not a duration (e.g. 12h, 1.5d, 1w): {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_decimal_both_ways() {
        assert_eq!(size(175), "175 B");
        assert_eq!(size(98_900_000), "98.90 MB");
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("500M"), Ok(500_000_000));
        assert_eq!(parse_size("1.5G"), Ok(1_500_000_000));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert!(parse_size("5X").is_err());
        assert!(parse_size("-1M").is_err());
        // What a size reads back as is what it was printed from, to the precision shown.
        assert_eq!(parse_size(&size(1_500_000_000)), Ok(1_500_000_000));
    }

    #[test]
    fn durations_take_fractions_like_sizes_do() {
        assert_eq!(parse_duration("1.5d"), Ok(Duration::from_secs(36 * 3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("7").is_err(), "a unit is needed");
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn one_is_singular() {
        assert_eq!(count(1, "entry", "entries"), "1 entry");
        assert_eq!(count(0, "entry", "entries"), "0 entries");
        assert_eq!(count(2, "step", "steps"), "2 steps");
    }
}
