//! Plans as Markdown, the body of a pull request comment (`plan --format markdown`, `show
//! --format markdown`): the summary line, a table of the steps that change something, each
//! step's details in a `<details>` block, and what the plan found (drift, rollbacks, promotions
//! waiting, apps no longer declared).
//!
//! The details and findings are the terminal rendering's own lines ([`super::render`]), in
//! fenced blocks: one wording for both, and whatever the plan carries is shown the same way in
//! both. Nothing is shown that the plan does not hold, so a value the plan keeps masked (a
//! sensitive config var is only its keyed hash) stays masked here. Text from the platform or
//! the manifest is escaped where Markdown would read it (table cells, summaries), and fences
//! are longer than any run of backticks inside them.
//!
//! The body starts with a hidden marker, `<!-- slugplan plan -->`, so that a CI job can find
//! the comment it posted before and update it instead of adding another.

use std::fmt::Write;

use crate::checksum::shorten_all;
use crate::plan::Plan;
use crate::plan::render::{
    details, found, headline, meaning, symbol, targeting_warning, verb_phrase,
};

/// The first line of every body: what a CI job looks for to update its earlier comment.
pub const MARKER: &str = "<!-- slugplan plan -->";

/// Renders `plan` as a pull request comment.
pub fn render(plan: &Plan) -> String {
    let mut out = format!("{MARKER}\n### slugplan plan\n\n**{}**\n", headline(plan));
    if let Some(warning) = targeting_warning(plan) {
        // The warning's first line as the alert, its list (aligned text) in a block inside.
        let (first, rest) = warning.split_once('\n').unwrap_or((&warning, ""));
        let _ = writeln!(out, "\n> [!WARNING]\n> {}", escape_inline(first));
        if !rest.is_empty() {
            out.push_str(">\n");
            for line in fenced(rest).lines() {
                let _ = writeln!(out, "> {line}");
            }
        }
    }
    let found = found(plan);
    if !found.is_empty() {
        let _ = write!(out, "\n#### Found\n\n{}", fenced(found.trim_end()));
    }
    let changes: Vec<_> = plan.changes().collect();
    if changes.is_empty() {
        return out;
    }
    out.push_str("\n#### Steps\n\n| | step | action | reason |\n| --- | --- | --- | --- |\n");
    for step in &changes {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {} |",
            symbol(step.action),
            step.address,
            meaning(step.action),
            escape_cell(&shorten_all(&step.reason))
        );
    }
    out.push('\n');
    for step in &changes {
        let _ = write!(
            out,
            "<details><summary><code>{}</code> {}</summary>\n\n{}\n</details>\n",
            escape_html(&step.address.0),
            verb_phrase(step.action),
            fenced(details(step).trim_end())
        );
    }
    out
}

/// `text` in a fenced `text` block whose fence no backtick run inside can close.
fn fenced(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{text}\n{fence}\n")
}

/// Text safe in a table cell: no line breaks, pipes escaped, Markdown and HTML inert.
fn escape_cell(text: &str) -> String {
    escape_inline(&text.replace(['\n', '\r'], " ")).replace('|', "\\|")
}

/// Text safe inline: characters Markdown or HTML would act on are escaped.
fn escape_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

/// Text safe inside an HTML element.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_outlasts_the_backticks_inside() {
        assert_eq!(fenced("a"), "```text\na\n```\n");
        assert!(fenced("run ````x````").starts_with("`````text\n"));
    }

    #[test]
    fn cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(
            escape_cell("a | b\n<script> *x*"),
            "a \\| b &lt;script&gt; \\*x\\*"
        );
    }
}
