//! The route table: which links of the Platform API the server serves, by which handler, and
//! how it answers everything else.
//!
//! Each served route is named by its link's method and path template exactly as `links.tsv`
//! (the schema's table) writes them, so a route the schema does not have cannot be declared:
//! building the router panics, and every test that starts a server fails. Requests outside the
//! table get, in order:
//! - `501 not_implemented` for a link the schema has and the server does not serve, naming it
//!   (`slugplan server does not implement DELETE /apps/{app}/addons/{id}`), so a user knows it
//!   is this server's limit and not their mistake;
//! - `405 method_not_allowed` for a path the schema (or this server) knows with other methods
//!   only;
//! - `404 not_found` for a path the API does not have.
//!
//! The 501 and 405 answers carry an `Allow` header listing every method the path has in the
//! schema or here (a listed method the server does not serve answers 501).
//!
//! Besides the schema's links the server has its own: the upload URLs (`/blobs/{token}`) it hands
//! out with each slug, and the log sessions' stream URLs (`/log-sessions/{token}`).

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};

use super::error::ApiError;
use super::links::{self, Link};
use super::{
    AppState, account, apps, config_vars, domains, dynos, formation, log_sessions, pipelines,
    releases, slugs, stacks,
};

/// The schema link a request was routed to, for the handler's extractors (a list's range
/// fields come from it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServedLink(pub(crate) &'static Link);

/// A served link and its handler.
struct Route {
    link: &'static Link,
    handler: MethodRouter<AppState>,
}

/// Serves the schema's link `method template` with `handler`.
fn serve<H, T>(method: &'static str, template: &'static str, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let link = links::find(method, template)
        .unwrap_or_else(|| panic!("{method} {template} is not a link of the Platform API schema"));
    let filter = MethodFilter::try_from(Method::from_bytes(method.as_bytes()).expect("a method"))
        .expect("the schema's methods are standard ones");
    Route {
        link,
        handler: on(filter, handler).layer(axum::Extension(ServedLink(link))),
    }
}

/// Every link the server serves.
fn routes() -> Vec<Route> {
    vec![
        serve("GET", "/account", account::account),
        serve("GET", "/users/{id}", account::user),
        serve("GET", "/users/{account}/apps", account::user_apps),
        serve("GET", "/account/rate-limits", account::rate_limits),
        serve("POST", "/apps", apps::create_app),
        serve("GET", "/apps", apps::list_apps),
        serve("GET", "/apps/{id}", apps::get_app),
        serve("PATCH", "/apps/{id}", apps::update_app),
        serve("DELETE", "/apps/{id}", apps::delete_app),
        serve("POST", "/filters/apps", apps::filter_apps),
        serve("GET", "/apps/{app}/addons", apps::empty_list),
        serve("GET", "/apps/{app}/collaborators", apps::empty_list),
        serve("GET", "/apps/{app}/domains", domains::list_domains),
        serve("GET", "/apps/{app}/domains/{id}", domains::get_domain),
        serve("GET", "/apps/{app}/dynos", dynos::list_dynos),
        serve("GET", "/apps/{app}/dynos/{id}", dynos::get_dyno),
        serve("POST", "/apps/{app}/dynos", dynos::create_dyno),
        serve("DELETE", "/apps/{app}/dynos", dynos::restart_all),
        serve("DELETE", "/apps/{app}/dynos/{id}", dynos::act_on),
        serve(
            "DELETE",
            "/apps/{app}/formations/{formation_type}",
            dynos::act_on,
        ),
        serve("POST", "/apps/{app}/dynos/{id}/actions/stop", dynos::act_on),
        serve(
            "POST",
            "/apps/{app}/formations/{formation_type}/actions/stop",
            dynos::act_on,
        ),
        serve(
            "POST",
            "/apps/{app}/log-sessions",
            log_sessions::create_log_session,
        ),
        serve("POST", "/apps/{app}/slugs", slugs::create_slug),
        serve("GET", "/apps/{app}/slugs/{id}", slugs::get_slug),
        // Create and Rollback are one link: the body says which.
        serve("POST", "/apps/{app}/releases", releases::create_release),
        serve("GET", "/apps/{app}/releases", releases::list_releases),
        serve("GET", "/apps/{app}/releases/{id}", releases::get_release),
        serve("GET", "/apps/{app}/config-vars", config_vars::config_vars),
        serve(
            "PATCH",
            "/apps/{app}/config-vars",
            config_vars::update_config_vars,
        ),
        serve(
            "GET",
            "/apps/{app}/releases/{release}/config-vars",
            config_vars::release_config_vars,
        ),
        serve("GET", "/apps/{app}/formation", formation::list_formation),
        serve("PATCH", "/apps/{app}/formation", formation::batch_update),
        serve(
            "GET",
            "/apps/{app}/formation/{id}",
            formation::get_formation,
        ),
        serve("PATCH", "/apps/{app}/formation/{id}", formation::update_one),
        serve("GET", "/stacks", stacks::list_stacks),
        serve("GET", "/stacks/{id}", stacks::get_stack),
        serve("GET", "/apps/{app}/available-stacks", stacks::app_stacks),
        serve("POST", "/pipelines", pipelines::create_pipeline),
        serve("GET", "/pipelines", pipelines::list_pipelines),
        serve("GET", "/pipelines/{id}", pipelines::get_pipeline),
        serve(
            "GET",
            "/pipelines/{pipeline}/pipeline-couplings",
            pipelines::pipeline_couplings,
        ),
        serve(
            "GET",
            "/apps/{app}/pipeline-couplings",
            pipelines::app_coupling,
        ),
        serve("POST", "/pipeline-couplings", pipelines::create_coupling),
        serve("GET", "/pipeline-couplings/{id}", pipelines::get_coupling),
        serve(
            "PATCH",
            "/pipeline-couplings/{id}",
            pipelines::update_coupling,
        ),
        serve(
            "DELETE",
            "/pipeline-couplings/{id}",
            pipelines::delete_coupling,
        ),
        serve("POST", "/pipeline-promotions", pipelines::create_promotion),
        serve("GET", "/pipeline-promotions/{id}", pipelines::get_promotion),
        serve(
            "GET",
            "/pipeline-promotions/{pipeline-promotion}/promotion-targets",
            pipelines::promotion_targets,
        ),
    ]
}

/// The server's own paths (not the schema's) and their methods.
const LOCAL: &[(&str, &str)] = &[
    ("GET", "/blobs/{token}"),
    ("PUT", "/blobs/{token}"),
    ("GET", "/log-sessions/{token}"),
];

/// The links of the schema the server serves, in the order they are declared.
pub fn served() -> Vec<&'static Link> {
    routes().into_iter().map(|route| route.link).collect()
}

/// The API's routes, without state. Placeholders become positional names (`{p1}`), because
/// the router needs one name per position and handlers read their path parameters by position.
pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for route in routes() {
        router = router.route(&axum_path(route.link.template), route.handler);
    }
    router
        .route(
            &axum_path("/blobs/{token}"),
            axum::routing::put(slugs::put_blob)
                .get(slugs::get_blob)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            &axum_path("/log-sessions/{token}"),
            axum::routing::get(log_sessions::stream_log_session),
        )
        .fallback(unrouted)
        .method_not_allowed_fallback(unrouted)
}

fn axum_path(template: &str) -> String {
    template
        .split('/')
        .enumerate()
        .map(|(i, segment)| {
            if segment.starts_with('{') {
                format!("{{p{i}}}")
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The answer to a request no route took: see the module docs.
async fn unrouted(request: Request) -> Response {
    let path = request.uri().path();
    // A HEAD asks what a GET would answer.
    let method = match *request.method() {
        Method::HEAD => "GET",
        ref other => other.as_str(),
    };
    let templates: Vec<(&str, &str)> = links::all()
        .iter()
        .map(|l| (l.method, l.template))
        .chain(LOCAL.iter().copied())
        .filter(|(_, template)| links::template_matches(template, path))
        .collect();
    let mut allowed: Vec<&str> = templates.iter().map(|(method, _)| *method).collect();
    allowed.sort_unstable();
    allowed.dedup();
    let allow = allowed.join(", ");
    let mut response = if let Some(link) = links::resolve(method, path) {
        ApiError::not_implemented(format!(
            "slugplan server does not implement {} {}",
            link.method, link.template
        ))
    } else if let Some(named) = links::most_specific(templates.iter().map(|(_, t)| *t)) {
        ApiError::method_not_allowed(format!(
            "{} is not a method of {named}: it takes {allow}",
            request.method()
        ))
    } else {
        ApiError::not_found("The requested API endpoint was not found.")
    }
    .into_response();
    // Whatever the answer, `Allow` says what the path has (axum would otherwise add the
    // methods it routes, which are only the served ones).
    if let Ok(value) = HeaderValue::from_str(&allow)
        && !allowed.is_empty()
    {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_a_schema_link_served_once() {
        let served = served();
        let mut seen: Vec<(&str, &str)> = served.iter().map(|l| (l.method, l.template)).collect();
        seen.sort_unstable();
        let before = seen.len();
        seen.dedup();
        assert_eq!(seen.len(), before, "a link is served twice");
        // Building the router checks that the positional paths do not collide.
        let _ = router();
    }

    #[test]
    fn placeholders_become_positional() {
        assert_eq!(
            axum_path("/apps/{app}/releases/{id}"),
            "/apps/{p2}/releases/{p4}"
        );
        assert_eq!(axum_path("/users/~/apps"), "/users/~/apps");
    }
}
