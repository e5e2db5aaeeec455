//! `${VAR}` and `${VAR:-default}` in slug.toml values: the one place a manifest string takes
//! part or all of itself from the environment, so secrets stay out of git.
//!
//! The grammar is the shell's, trimmed to what a deploy manifest needs:
//!
//! - `${NAME}` is the variable's value; an unset variable is an error (an empty one is empty);
//! - `${NAME:-default}` is the value, or `default` when the variable is unset or empty;
//! - `$$` is a literal `$`, and a `$` not followed by `{` or `$` is itself;
//! - `NAME` is `[A-Za-z_][A-Za-z0-9_]*`; anything else inside `${…}` is an error.
//!
//! Nothing here reads the process environment: values come from the [`Env`] snapshot the caller
//! passes in. An expansion says whether any of its text came from the environment
//! ([`Expanded::from_env`]); such values are sensitive to whoever shows or stores them (a
//! default written in the manifest is not: it is in git already). [`expand_at`] and
//! [`check_at`] turn problems into diagnostics naming the key, the variable and the manifest
//! span, for any key of any table (`apps.shop.config.DATABASE_URL`, `state.url`).

use std::ops::Range;

use super::{Part, SourceDiagnostic, TomlLocator};
use crate::environment::Env;

/// A string with its references resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The resulting text.
    pub value: String,
    /// Whether any part of it came from the environment (a default does not count).
    pub from_env: bool,
}

impl std::fmt::Debug for Expanded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // What came from the environment may be a secret.
        let value = if self.from_env {
            "(sensitive)"
        } else {
            &self.value
        };
        f.debug_struct("Expanded")
            .field("value", &value)
            .field("from_env", &self.from_env)
            .finish()
    }
}

/// One `${…}` reference of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The variable's name.
    pub variable: String,
    /// The text after `:-`, if given.
    pub default: Option<String>,
    /// Where the reference (`${` to `}`) is in the template, in bytes.
    pub span: Range<usize>,
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text taken as it is.
    Literal(String),
    /// A reference to look up.
    Reference(Reference),
}

/// What is wrong with a template, or with expanding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template is malformed.
    Syntax {
        /// What is wrong.
        message: String,
        /// Where, in bytes of the template.
        span: Range<usize>,
    },
    /// A variable without a default is not set.
    Unset {
        /// The variable.
        variable: String,
        /// Where its reference is, in bytes of the template.
        span: Range<usize>,
    },
    /// A variable's value is not UTF-8.
    NotUnicode {
        /// The variable.
        variable: String,
        /// Where its reference is, in bytes of the template.
        span: Range<usize>,
    },
}

impl TemplateError {
    fn span(&self) -> &Range<usize> {
        match self {
            TemplateError::Syntax { span, .. }
            | TemplateError::Unset { span, .. }
            | TemplateError::NotUnicode { span, .. } => span,
        }
    }
}

/// The references of `template`, in order, or what is malformed in it.
pub fn references(template: &str) -> Result<Vec<Reference>, TemplateError> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Reference(reference) => Some(reference),
            Piece::Literal(_) => None,
        })
        .collect())
}

/// Expands `template` against `env`.
pub fn expand(template: &str, env: &Env) -> Result<Expanded, TemplateError> {
    let mut value = String::with_capacity(template.len());
    let mut from_env = false;
    for piece in parse(template)? {
        let reference = match piece {
            Piece::Literal(text) => {
                value.push_str(&text);
                continue;
            }
            Piece::Reference(reference) => reference,
        };
        let found = match env.os(&reference.variable) {
            None => None,
            Some(os) => Some(os.to_str().ok_or_else(|| TemplateError::NotUnicode {
                variable: reference.variable.clone(),
                span: reference.span.clone(),
            })?),
        };
        match (found, &reference.default) {
            (Some(text), Some(_)) if !text.is_empty() => {
                value.push_str(text);
                from_env = true;
            }
            (_, Some(default)) => value.push_str(default),
            (Some(text), None) => {
                value.push_str(text);
                from_env = true;
            }
            (None, None) => {
                return Err(TemplateError::Unset {
                    variable: reference.variable,
                    span: reference.span,
                });
            }
        }
    }
    Ok(Expanded { value, from_env })
}

/// Expands `template`, the value at `path` of the file `locator` indexes; a problem becomes a
/// diagnostic naming the key (`apps.shop.config.TOKEN`) and the variable, underlining the
/// reference where the file writes it literally (else the whole value).
pub fn expand_at(
    locator: &TomlLocator,
    path: &[&str],
    template: &str,
    env: &Env,
) -> Result<Expanded, Box<SourceDiagnostic>> {
    expand(template, env).map_err(|err| Box::new(diagnostic(locator, path, template, &err)))
}

/// Checks the syntax of `template`, the value at `path`, without looking anything up (what
/// `slugplan validate` can check with no secrets in its environment).
pub fn check_at(
    locator: &TomlLocator,
    path: &[&str],
    template: &str,
) -> Result<(), Box<SourceDiagnostic>> {
    match parse(template) {
        Ok(_) => Ok(()),
        Err(err) => Err(Box::new(diagnostic(locator, path, template, &err))),
    }
}

fn diagnostic(
    locator: &TomlLocator,
    path: &[&str],
    template: &str,
    err: &TemplateError,
) -> SourceDiagnostic {
    let key = path.join(".");
    let (code, message, label, help) = match err {
        TemplateError::Syntax { message, .. } => (
            "slugplan::manifest::interpolation",
            format!("`{key}`: {message}"),
            "malformed reference".to_owned(),
            "write ${NAME} or ${NAME:-default}; $$ is a literal $".to_owned(),
        ),
        TemplateError::Unset { variable, .. } => (
            "slugplan::manifest::unset_variable",
            format!(
                "`{key}` takes ${{{variable}}} from the environment, and {variable} is not set"
            ),
            format!("{variable} is not set"),
            format!(
                "set {variable} in the environment slugplan runs in, or give a default: \
                 ${{{variable}:-value}}"
            ),
        ),
        TemplateError::NotUnicode { variable, .. } => (
            "slugplan::manifest::unset_variable",
            format!("`{key}`: environment variable {variable} is not valid UTF-8"),
            format!("{variable} is not UTF-8"),
            format!("set {variable} to UTF-8 text"),
        ),
    };
    let piece = template.get(err.span().clone()).unwrap_or(template);
    let diag = match locator.span_in_value(path, piece) {
        Some(span) => locator.diagnostic(code, message).with_label(span, label),
        None => locator.diagnostic_at(path, Part::Value, code, message, label),
    };
    diag.with_help(help)
}

/// Splits a template into literal text and references.
fn parse(template: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = template;
    let mut offset = 0;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let start = offset + at;
        if let Some(tail) = after.strip_prefix('$') {
            literal.push('$');
            offset = start + 2;
            rest = tail;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            literal.push('$');
            offset = start + 1;
            rest = after;
            continue;
        };
        let Some(close) = body.find('}') else {
            return Err(TemplateError::Syntax {
                message: "`${` is not closed by `}`".to_owned(),
                span: start..template.len(),
            });
        };
        let end = start + 2 + close + 1;
        let reference = reference(&body[..close], start..end)?;
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(Piece::Reference(reference));
        offset = end;
        rest = &body[close + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// The reference `${inner}` found at `span`.
fn reference(inner: &str, span: Range<usize>) -> Result<Reference, TemplateError> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default.to_owned())),
        None => (inner, None),
    };
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        let message = if name.is_empty() {
            "`${}` names no variable".to_owned()
        } else {
            format!(
                "`${{{inner}}}` is not a reference: names are letters, digits and `_`, and \
                 the only operator is `:-` (a default)"
            )
        };
        return Err(TemplateError::Syntax { message, span });
    }
    Ok(Reference {
        variable: name.to_owned(),
        default,
        span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from_vars([("PASSWORD", "s3cret"), ("EMPTY", ""), ("HOST", "db")])
    }

    fn value(template: &str) -> Expanded {
        expand(template, &env()).unwrap()
    }

    #[test]
    fn references_take_the_environment_and_defaults_do_not_count_as_it() {
        assert_eq!(
            value("postgres://u:${PASSWORD}@${HOST}/app"),
            Expanded {
                value: "postgres://u:s3cret@db/app".into(),
                from_env: true
            }
        );
        let default = value("${MISSING:-fallback}");
        assert_eq!(
            (default.value.as_str(), default.from_env),
            ("fallback", false)
        );
        let empty = value("${EMPTY:-fallback}");
        assert_eq!(empty.value, "fallback", "`:-` also replaces an empty value");
        let empty = value("[${EMPTY}]");
        assert_eq!((empty.value.as_str(), empty.from_env), ("[]", true));
        assert!(
            !value("plain").from_env,
            "no reference, nothing from the environment"
        );
    }

    #[test]
    fn dollars_are_literal_unless_they_open_a_reference() {
        assert_eq!(value("$$").value, "$");
        assert_eq!(value("$${PASSWORD}").value, "${PASSWORD}");
        assert_eq!(value("cost: $5 $").value, "cost: $5 $");
        assert_eq!(value("${PASSWORD}$").value, "s3cret$");
        assert_eq!(value("a${MISSING:-}b").value, "ab");
    }

    #[test]
    fn an_unset_variable_without_default_is_an_error_naming_it() {
        let err = expand("x${NOPE}y", &env()).unwrap_err();
        assert_eq!(
            err,
            TemplateError::Unset {
                variable: "NOPE".into(),
                span: 1..8
            }
        );
    }

    #[test]
    fn malformed_references_are_syntax_errors() {
        for bad in [
            "${",
            "${PASSWORD",
            "${}",
            "${1X}",
            "${A B}",
            "${A:?x}",
            "${A-x}",
        ] {
            assert!(
                matches!(references(bad), Err(TemplateError::Syntax { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            references("${A}${B:-c}").unwrap(),
            [
                Reference {
                    variable: "A".into(),
                    default: None,
                    span: 0..4
                },
                Reference {
                    variable: "B".into(),
                    default: Some("c".into()),
                    span: 4..11
                },
            ]
        );
    }

    #[test]
    fn debug_hides_what_came_from_the_environment() {
        let shown = format!("{:?}", value("${PASSWORD}"));
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn diagnostics_name_the_key_the_variable_and_underline_the_reference() {
        let text = "[apps.shop.config]\nDATABASE_URL = \"postgres://u:${DB_PASSWORD}@db\"\n";
        let locator = TomlLocator::new(std::path::Path::new("slug.toml"), text);
        let path = ["apps", "shop", "config", "DATABASE_URL"];
        let err = expand_at(&locator, &path, "postgres://u:${DB_PASSWORD}@db", &env()).unwrap_err();
        assert_eq!(
            err.message(),
            "`apps.shop.config.DATABASE_URL` takes ${DB_PASSWORD} from the environment, and \
             DB_PASSWORD is not set"
        );
        assert_eq!(
            err.line_column(),
            Some((2, 30)),
            "the reference itself is underlined"
        );
        let labels: Vec<String> = miette::Diagnostic::labels(&*err)
            .into_iter()
            .flatten()
            .filter_map(|l| l.label().map(str::to_owned))
            .collect();
        assert_eq!(labels, ["DB_PASSWORD is not set"]);
        let bad = check_at(&locator, &path, "${").unwrap_err();
        assert_eq!(bad.code_name(), "slugplan::manifest::interpolation");
    }
}
