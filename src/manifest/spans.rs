//! Where each key of a TOML document is written: a key path → byte-span index.
//!
//! The manifest types stay plain (no `Spanned<T>` fields) so that serde and schemars see the
//! document's real shape. Locations come from a second, spanned parse of the same text instead:
//! every key path (`["apps", "web", "slug"]`, array elements by index: `["slugs", "web",
//! "runtimes", "0"]`) maps to the span of its key and of its value.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::diagnostic::QuotedText;
use super::{SourceDiagnostic, display_path};

/// Which part of a `key = value` pair a diagnostic underlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The key (for a table: its name in the `[header]`).
    Key,
    /// The value.
    Value,
}

/// Finds key paths in one TOML file (slug.toml, slug.lock) and builds diagnostics pointing at
/// them: the file's name as the user knows it, its text and an index of its key paths.
#[derive(Debug, Clone)]
pub struct TomlLocator {
    name: String,
    quoted: Arc<QuotedText>,
    index: SpanIndex,
}

impl TomlLocator {
    /// Indexes `text`, the contents of the file at `path`. Text that is not valid TOML gives a
    /// locator that finds nothing (its diagnostics name the file but underline nothing).
    pub fn new(path: &Path, text: &str) -> Self {
        TomlLocator {
            name: display_path(path),
            quoted: Arc::new(QuotedText::new(Arc::from(text))),
            index: SpanIndex::parse(text).unwrap_or_default(),
        }
    }

    /// The span of `part` at `path`, if the file writes it.
    pub fn span(&self, path: &[&str], part: Part) -> Option<Range<usize>> {
        let entry = self.index.get(path)?;
        Some(match part {
            Part::Key => entry.key.clone(),
            Part::Value => entry.value.clone(),
        })
    }

    /// The span of `part` at `path`, else the key of the nearest ancestor the file writes.
    fn span_or_ancestor(&self, path: &[&str], part: Part) -> Option<Range<usize>> {
        self.span(path, part).or_else(|| {
            (1..path.len())
                .rev()
                .find_map(|len| self.index.get(&path[..len]))
                .map(|entry| entry.key.clone())
        })
    }

    /// A diagnostic in this file underlining `part` of the entry at `path` with `label`. When
    /// the file does not write `path` (a default value), the key of the nearest enclosing entry
    /// it does write is underlined instead. Add a hint with [`SourceDiagnostic::with_help`].
    pub fn diagnostic_at(
        &self,
        path: &[&str],
        part: Part,
        code: &'static str,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> SourceDiagnostic {
        let diag = self.diagnostic(code, message);
        match self.span_or_ancestor(path, part) {
            Some(span) => diag.with_label(span, label),
            None => diag,
        }
    }

    /// A diagnostic in this file without a label yet.
    pub fn diagnostic(&self, code: &'static str, message: impl Into<String>) -> SourceDiagnostic {
        SourceDiagnostic::new(code, message).in_quoted_file(&self.name, Arc::clone(&self.quoted))
    }

    /// The span of `needle` inside the string value at `path`, when the file writes it there
    /// literally (no escape sequence in the way); the first occurrence.
    pub fn span_in_value(&self, path: &[&str], needle: &str) -> Option<Range<usize>> {
        let value = self.span(path, Part::Value)?;
        let written = self.quoted.text().get(value.clone())?;
        let at = written.find(needle)?;
        Some(value.start + at..value.start + at + needle.len())
    }

    /// The file's name as diagnostics show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dotted key path (`apps.web.slug`) whose key or value is exactly `span`.
    pub fn path_at(&self, span: &Range<usize>) -> Option<String> {
        self.index.path_at(span)
    }
}

/// The spans of one key/value pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as written (for array elements: the element itself).
    pub key: Range<usize>,
    /// The value (for tables: where the table is written, e.g. its `[header]`).
    pub value: Range<usize>,
}

/// Every key path of a document with its spans.
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    entries: HashMap<Vec<String>, Entry>,
}

impl SpanIndex {
    /// Indexes `text`; `None` when it is not valid TOML (the parse error is reported elsewhere).
    pub fn parse(text: &str) -> Option<Self> {
        let root = DeTable::parse(text).ok()?;
        let mut index = SpanIndex::default();
        index.walk_table(root.get_ref(), &mut Vec::new());
        Some(index)
    }

    /// The spans of the entry at `path`, if the document writes it.
    pub fn get(&self, path: &[&str]) -> Option<&Entry> {
        let key: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        self.entries.get(&key)
    }

    /// The dotted key path (`apps.web.slug`) whose key or value is exactly `span`, for messages
    /// about errors that come with a span but not a name (toml's type errors).
    pub fn path_at(&self, span: &Range<usize>) -> Option<String> {
        self.entries
            .iter()
            .filter(|(_, e)| e.key == *span || e.value == *span)
            // The deepest path wins: a table's span also covers its last key's.
            .max_by_key(|(path, _)| path.len())
            .map(|(path, _)| path.join("."))
    }

    fn walk_table(&mut self, table: &DeTable<'_>, path: &mut Vec<String>) {
        for (key, value) in table.iter() {
            path.push(key.get_ref().to_string());
            self.entries.insert(
                path.clone(),
                Entry {
                    key: key.span(),
                    value: value.span(),
                },
            );
            self.walk_value(value.get_ref(), path);
            path.pop();
        }
    }

    fn walk_value(&mut self, value: &DeValue<'_>, path: &mut Vec<String>) {
        match value {
            DeValue::Table(table) => self.walk_table(table, path),
            DeValue::Array(array) => {
                for (i, item) in array.iter().enumerate() {
                    path.push(i.to_string());
                    self.entries.insert(
                        path.clone(),
                        Entry {
                            key: item.span(),
                            value: item.span(),
                        },
                    );
                    self.walk_value(item.get_ref(), path);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

/// Line and column (both 1-based, columns in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"[platform]
kind = "local"

[slugs.web]
runtimes = ["node", "ruby"]

[apps.web-staging]
slug = "web"
"#;

    fn text_at(range: &Range<usize>) -> &'static str {
        &DOC[range.clone()]
    }

    #[test]
    fn finds_keys_values_and_array_elements() {
        let index = SpanIndex::parse(DOC).unwrap();
        let slug = index.get(&["apps", "web-staging", "slug"]).unwrap();
        assert_eq!(text_at(&slug.key), "slug");
        assert_eq!(text_at(&slug.value), "\"web\"");
        let ruby = index.get(&["slugs", "web", "runtimes", "1"]).unwrap();
        assert_eq!(text_at(&ruby.value), "\"ruby\"");
        let app = index.get(&["apps", "web-staging"]).unwrap();
        assert_eq!(text_at(&app.key), "web-staging");
        assert!(index.get(&["apps", "nope"]).is_none());
        assert_eq!(
            index.path_at(&slug.value).as_deref(),
            Some("apps.web-staging.slug")
        );
        assert_eq!(
            index.path_at(&ruby.value).as_deref(),
            Some("slugs.web.runtimes.1")
        );
    }

    #[test]
    fn invalid_toml_has_no_index() {
        assert!(SpanIndex::parse("[apps\n").is_none());
    }

    #[test]
    fn line_column_counts_from_one_in_characters() {
        let text = "a = 1\nné = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        let quote = text.find('"').unwrap();
        assert_eq!(line_column(text, quote), (2, 6));
    }
}
