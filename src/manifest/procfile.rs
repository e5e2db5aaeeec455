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
    let mut first_line: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line = Line {
            number: index + 1,
            start: offset,
            text: raw.trim_end_matches(['\n', '\r']),
        };
        offset += raw.len();
        let (name, command) = match line.entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => continue,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        if let Some(&first) = first_line.get(name) {
            let start = line.start + line.indent();
            problems.push(line.problem(
                start..start + name.len(),
                "defined twice",
                format!("process type `{name}` is already defined on line {first}"),
            ));
            continue;
        }
        first_line.insert(name, line.number);
        types.insert(name.to_owned(), command.to_owned());
    }
    if problems.is_empty() {
        Ok(types)
    } else {
        Err(problems)
    }
}

/// One line of a Procfile and where it starts in the file.
struct Line<'a> {
    number: usize,
    start: usize,
    text: &'a str,
}

impl<'a> Line<'a> {
    /// `Some((name, command))`, `None` for a blank or comment line, or what is wrong with it.
    fn entry(&self) -> Result<Option<(&'a str, &'a str)>, ProcfileProblem> {
        let trimmed = self.text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(None);
        }
        let content = self.start + self.indent()..self.start + self.indent() + trimmed.len();
        let Some((name, command)) = self.text.split_once(':') else {
            return Err(self.problem(
                content,
                "no `:` on this line",
                "expected `name: command`".to_owned(),
            ));
        };
        let (name, command) = (name.trim(), command.trim());
        if !is_process_type(name) {
            let start = content.start;
            return Err(self.problem(
                start..start + name.len().max(1),
                "invalid process type",
                format!("process type `{name}` does not match {PROCESS_TYPE_PATTERN}"),
            ));
        }
        if command.is_empty() {
            return Err(self.problem(
                content,
                "empty command",
                format!("process type `{name}` has no command"),
            ));
        }
        Ok(Some((name, command)))
    }

    /// Bytes of leading whitespace.
    fn indent(&self) -> usize {
        self.text.len() - self.text.trim_start().len()
    }

    fn problem(&self, span: Range<usize>, label: &'static str, what: String) -> ProcfileProblem {
        ProcfileProblem {
            line: self.number,
            span,
            message: format!("Procfile line {}: {what}", self.number),
            label,
        }
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
