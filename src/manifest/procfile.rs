//! Procfiles: `name: command` lines, Heroku's way of listing process types.
//!
//! Parsing is strict where Heroku would silently do something else: a line without a colon, a
//! name breaking [`PROCESS_TYPE_PATTERN`], an empty command or a name given twice is an error
//! with its line number and span, and every such line is reported, not just the first.

use std::collections::BTreeMap;
use std::ops::Range;

use super::names::{PROCESS_TYPE_PATTERN, is_process_type};

/// A malformed Procfile line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcfileProblem {
    /// 1-based line number.
    pub line: usize,
    /// Byte span in the Procfile of the offending text.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// A short text shown under the span.
    pub label: &'static str,
}

/// Parses a Procfile into process type → command. Blank lines and `#` comments are skipped.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, Vec<ProcfileProblem>> {
    let mut types = BTreeMap::new();
    let mut first_line: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = index + 1;
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let leading = line.len() - line.trim_start().len();
        let line_span = start + leading..start + leading + trimmed.len();
        let Some(colon) = line.find(':') else {
            problems.push(ProcfileProblem {
                line: line_no,
                span: line_span,
                message: format!("Procfile line {line_no} is not `name: command`"),
                label: "no `:` on this line",
            });
            continue;
        };
        let name = line[..colon].trim();
        let name_start = start + leading;
        let command = line[colon + 1..].trim();
        if !is_process_type(name) {
            problems.push(ProcfileProblem {
                line: line_no,
                span: name_start..name_start + name.len().max(1),
                message: format!(
                    "Procfile line {line_no}: process type `{name}` does not match {PROCESS_TYPE_PATTERN}"
                ),
                label: "invalid process type",
            });
            continue;
        }
        if command.is_empty() {
            problems.push(ProcfileProblem {
                line: line_no,
                span: line_span,
                message: format!("Procfile line {line_no}: process type `{name}` has no command"),
                label: "empty command",
            });
            continue;
        }
        if let Some(first) = first_line.get(name) {
            problems.push(ProcfileProblem {
                line: line_no,
                span: name_start..name_start + name.len(),
                message: format!(
                    "Procfile line {line_no}: process type `{name}` is already defined on line {first}"
                ),
                label: "defined twice",
            });
            continue;
        }
        first_line.insert(name.to_owned(), line_no);
        types.insert(name.to_owned(), command.to_owned());
    }
    if problems.is_empty() {
        Ok(types)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_types_and_skips_blanks_and_comments() {
        let text = "# processes\nweb: node web.js --port $PORT\n\n   \nworker:bundle exec sidekiq\r\n  # indented comment\nrelease-1 :  ./migrate\n";
        let types = parse(text).unwrap();
        let expected: BTreeMap<String, String> = [
            ("release-1", "./migrate"),
            ("web", "node web.js --port $PORT"),
            ("worker", "bundle exec sidekiq"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(types, expected);
    }

    #[test]
    fn a_command_may_contain_colons() {
        let types = parse("web: env A=b:c ./run http://x\n").unwrap();
        assert_eq!(types["web"], "env A=b:c ./run http://x");
    }

    #[test]
    fn an_empty_procfile_has_no_types() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("# nothing\n\n").unwrap().is_empty());
    }

    #[test]
    fn every_malformed_line_is_reported_with_its_number_and_span() {
        let text = "web: ok\njust words\nweb worker: x\nclock:\nweb: again";
        let problems = parse(text).unwrap_err();
        let lines: Vec<(usize, &str, &str)> = problems
            .iter()
            .map(|p| (p.line, &text[p.span.clone()], p.label))
            .collect();
        assert_eq!(
            lines,
            [
                (2, "just words", "no `:` on this line"),
                (3, "web worker", "invalid process type"),
                (4, "clock:", "empty command"),
                (5, "web", "defined twice"),
            ]
        );
        assert!(problems[3].message.contains("already defined on line 1"));
    }

    #[test]
    fn an_empty_name_is_invalid() {
        let problems = parse(": node web.js").unwrap_err();
        assert_eq!(problems[0].label, "invalid process type");
        assert_eq!(problems[0].span, 0..1);
    }
}
