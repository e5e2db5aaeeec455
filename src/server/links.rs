//! The links of Heroku's official Platform API schema: every method and path the API has.
//!
//! `links.tsv` beside this file lists them, one line per link of
//! `shared/heroku/platform-api-schema.json`, by definition name: method, path template,
//! definition, title and, for a list, the fields its `Range` may name, tab-separated. It is generated from the schema (570 KB, not part of the
//! build) by the integration test `server::links`, which fails when the committed file and the
//! schema disagree, so the table cannot go stale.
//!
//! A template names each `{(#/definitions/…)}` of the schema's `href` by what it stands for: the
//! link's own resource is `{id}`, another resource is named after its definition (`{app}`,
//! `{pipeline}`), anything else after its property (`{formation_type}`). So
//! `DELETE /apps/{app}/addons/{id}` is the schema's "add-on: Delete".
//!
//! A list's range fields are those of `version`, `id`, `name` and `created_at` that its items
//! have in the schema, in that order; the first is the order of a request without `Range`.

use std::sync::LazyLock;

/// The generated link table.
const TABLE: &str = include_str!("links.tsv");

/// One link of the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The HTTP method, upper case (`GET`).
    pub method: &'static str,
    /// The path template, e.g. `/apps/{app}/releases/{id}`.
    pub template: &'static str,
    /// The schema definition the link belongs to, e.g. `release`.
    pub definition: &'static str,
    /// The link's title in the schema, e.g. `Info`.
    pub title: &'static str,
    /// For a list, the fields its `Range` may name (the first is the default order).
    pub ranges: Vec<&'static str>,
}

impl Link {
    /// Whether `path` is an instance of the template (each `{…}` stands for one segment).
    pub fn matches(&self, path: &str) -> bool {
        template_matches(self.template, path)
    }
}

/// Every link of the schema, by definition name and then in the schema's order.
pub fn all() -> &'static [Link] {
    static LINKS: LazyLock<Vec<Link>> = LazyLock::new(|| parse(TABLE));
    &LINKS
}

/// The schema's link for `method` at `template`, if it has one.
pub fn find(method: &str, template: &str) -> Option<&'static Link> {
    all()
        .iter()
        .find(|l| l.method == method && l.template == template)
}

/// The link a request for `method` on `path` is an instance of: when several templates match
/// (`/users/~/…` and `/users/{account}/…`), the most specific wins (see [`most_specific`]).
pub fn resolve(method: &str, path: &str) -> Option<&'static Link> {
    let candidates: Vec<&'static Link> = all()
        .iter()
        .filter(|l| l.method == method && l.matches(path))
        .collect();
    let template = most_specific(candidates.iter().map(|l| l.template))?;
    candidates.into_iter().find(|l| l.template == template)
}

/// The most specific of `templates`: literal segments win over placeholders, position by
/// position from the left.
pub fn most_specific<'a>(templates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    templates.min_by_key(|template| {
        template
            .split('/')
            .map(|segment| segment.starts_with('{'))
            .collect::<Vec<bool>>()
    })
}

/// Whether `path` is an instance of `template` (each `{…}` segment matches one non-empty
/// segment; the rest must be equal).
pub fn template_matches(template: &str, path: &str) -> bool {
    let mut pattern = template.split('/');
    let mut given = path.split('/');
    loop {
        match (pattern.next(), given.next()) {
            (None, None) => return true,
            (Some(p), Some(g)) if p.starts_with('{') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(p), Some(g)) if p == g => {}
            _ => return false,
        }
    }
}

fn parse(table: &'static str) -> Vec<Link> {
    table
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut fields = line.split('\t');
            let mut next = || fields.next().expect("links.tsv has five fields a line");
            Link {
                method: next(),
                template: next(),
                definition: next(),
                title: next(),
                ranges: match next() {
                    "-" => Vec::new(),
                    ranges => ranges.split(',').collect(),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_segment_per_placeholder() {
        assert!(template_matches("/apps/{id}", "/apps/demo"));
        assert!(template_matches(
            "/apps/{app}/releases/{id}",
            "/apps/a/releases/3"
        ));
        assert!(!template_matches("/apps/{id}", "/apps/"));
        assert!(!template_matches("/apps/{id}", "/apps/demo/releases"));
        assert!(!template_matches(
            "/apps/{app}/releases",
            "/apps/demo/slugs"
        ));
    }

    #[test]
    fn literal_segments_win_over_placeholders() {
        let link = resolve("GET", "/users/~/pipeline-couplings").expect("a schema link");
        assert_eq!(link.template, "/users/~/pipeline-couplings");
        let link = resolve("DELETE", "/apps/demo/addons/pg").expect("a schema link");
        assert_eq!(
            (link.template, link.definition, link.title),
            ("/apps/{app}/addons/{id}", "add-on", "Delete")
        );
        assert_eq!(resolve("GET", "/no/such/thing"), None);
        let releases = find("GET", "/apps/{app}/releases").expect("releases are listed");
        assert_eq!(releases.ranges, ["version", "id", "created_at"]);
    }

    #[test]
    fn the_table_holds_every_link_once_per_title() {
        let links = all();
        assert!(links.len() > 300, "{}", links.len());
        let mut titles: Vec<(&str, &str)> = links.iter().map(|l| (l.definition, l.title)).collect();
        titles.sort();
        let before = titles.len();
        titles.dedup();
        assert_eq!(
            titles.len(),
            before,
            "a definition has two links of one title"
        );
    }
}
