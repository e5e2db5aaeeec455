//! Stacks: `GET /stacks`, `GET /stacks/{id_or_name}`, `GET /apps/{app}/available-stacks`, and the
//! one place that turns a stack identity a client sends into a stack name.
//!
//! The stacks are the ones slugplan knows ([`crate::stack::known`]: heroku-20, heroku-22,
//! heroku-24), each with a stable id derived from its name, so every server and every run hands
//! out the same ids. The local platform runs all of them (it checks each slug's binaries against
//! its stack's glibc); `state` says what Heroku says of them: heroku-20 has reached its end of
//! life there and is `deprecated`, the others are `public`, and heroku-24 is the default for new
//! apps.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::error::ApiError;
use super::list::ListQuery;
use super::{AppState, json, wire};

type ApiResult = Result<Response, ApiError>;

/// The stack of apps created without one.
pub const DEFAULT: &str = "heroku-24";

/// Stacks Heroku has retired or is retiring; the local platform still runs them.
const DEPRECATED: &[&str] = &["heroku-20"];

/// The stack name a stack identity (a name or a stack's id) stands for; an unknown identity is
/// passed on as it is, for the local platform to refuse by name.
pub fn name_of(identity: &str) -> String {
    crate::stack::known()
        .find(|name| *name == identity || wire::derived_id("stack", name) == identity)
        .map_or_else(|| identity.to_owned(), str::to_owned)
}

/// `availability` of a stack, as the schema's `state` says it: `public` or `deprecated`.
pub fn state(name: &str) -> &'static str {
    if DEPRECATED.contains(&name) {
        "deprecated"
    } else {
        "public"
    }
}

fn all() -> Vec<Value> {
    crate::stack::known().map(wire::stack).collect()
}

/// `GET /stacks`.
pub(crate) async fn list_stacks(query: ListQuery) -> ApiResult {
    Ok(query.answer(all()))
}

/// `GET /stacks/{id_or_name}`.
pub(crate) async fn get_stack(Path(stack): Path<String>) -> ApiResult {
    let name = name_of(&stack);
    if crate::stack::known().any(|known| known == name) {
        Ok(json(StatusCode::OK, wire::stack(&name)))
    } else {
        Err(ApiError::not_found(format!(
            "Couldn't find that stack: {stack}"
        )))
    }
}

/// `GET /apps/{app}/available-stacks`: every stack, the app must exist.
pub(crate) async fn app_stacks(
    State(state): State<AppState>,
    Path(app): Path<String>,
    query: ListQuery,
) -> ApiResult {
    state.platform.blocking(move |s| s.app(&app)).await?;
    Ok(query.answer(all()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_name_the_same_stack() {
        let id = wire::derived_id("stack", "heroku-22");
        assert_eq!(name_of(&id), "heroku-22");
        assert_eq!(name_of("heroku-22"), "heroku-22");
        assert_eq!(name_of("cedar-14"), "cedar-14");
        assert!(crate::stack::known().any(|s| s == DEFAULT));
        assert_eq!(state("heroku-20"), "deprecated");
        assert_eq!(state(DEFAULT), "public");
    }
}
