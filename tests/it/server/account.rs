//! The platform's one account over HTTP: `/account`, `/users/{id}`, `/users/{account}/apps` and
//! rate limits that agree with the `RateLimit-Remaining` header.

use reqwest::StatusCode;
use serde_json::json;

use super::names;
use crate::common::schema::{assert_list_matches, assert_matches};
use crate::common::server::Server;

#[tokio::test]
async fn the_account_answers_as_itself_and_as_users_tilde() {
    let server = Server::start(&["--token", "account-token"]);
    let mut api = server.api();
    api.auth = Some("Bearer account-token".to_owned());
    let app = api.create("/apps", json!({ "name": "mine" }), "app").await;
    let account = api.read("/account", "account").await;
    assert_eq!(account["email"], "owner@slugplan.localhost");
    assert_eq!(account["id"], app["owner"]["id"]);
    let email = account["email"].as_str().unwrap();
    let id = account["id"].as_str().unwrap();
    for user in ["~", email, id] {
        let seen = api.read(&format!("/users/{user}"), "account").await;
        assert_eq!(seen, account, "/users/{user}");
    }
    let stranger = api.get("/users/someone@example.com").await;
    assert_eq!(
        (stranger.status, stranger.body["id"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let apps = api.get("/users/~/apps").await;
    assert_eq!(apps.status, StatusCode::OK);
    assert_list_matches("app", &apps.body);
    assert_eq!(names(&apps.body), ["mine"]);
    assert_eq!(
        api.get("/users/nobody/apps").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn rate_limits_agree_with_the_header_of_the_same_answer() {
    let server = Server::start(&["--rate-limit", "50", "--rate-limit-refill", "0"]);
    let api = server.api();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let answer = api.get("/account/rate-limits").await;
        assert_matches("rate-limit", &answer.body);
        let header: u64 = answer.headers["ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(answer.body["remaining"], header);
        seen.push(header);
    }
    assert_eq!(seen, [49, 48, 47], "each request takes one");
}
