//! The scenario the Heroku CLI tests share: each everyday command, in order, with the requests
//! heroku 11.10.0 sends for it (read from its source, and from what it sent a server).

/// A request a command sends, as heroku 11.10.0 sends it (from its source and from what it
/// sent a server). In `target` and `body`, `{app:NAME}`, `{pipeline:NAME}`, `{account}` and
/// `{promotion}` (the last one this command created) stand for ids.
pub(super) struct Sent {
    pub(super) method: &'static str,
    /// Path and query.
    pub(super) target: &'static str,
    pub(super) accept: Option<&'static str>,
    pub(super) range: Option<&'static str>,
    pub(super) body: Option<&'static str>,
    /// What the server answers.
    pub(super) status: u16,
}

const fn get(target: &'static str) -> Sent {
    Sent {
        method: "GET",
        target,
        accept: None,
        range: None,
        body: None,
        status: 200,
    }
}

const fn send(method: &'static str, target: &'static str, body: &'static str, status: u16) -> Sent {
    Sent {
        method,
        target,
        accept: None,
        range: None,
        body: Some(body),
        status,
    }
}

impl Sent {
    const fn accept(mut self, accept: &'static str) -> Sent {
        self.accept = Some(accept);
        self
    }

    const fn range(mut self, range: &'static str) -> Sent {
        self.range = Some(range);
        self
    }

    const fn status(mut self, status: u16) -> Sent {
        self.status = status;
        self
    }
}

const SDK: &str = "application/vnd.heroku+json; version=3.sdk";
const PIPELINES: &str = "application/vnd.heroku+json; version=3.pipelines";
const FILTERS: &str = "application/vnd.heroku+json; version=3.filters";

/// One step of the scenario.
pub(super) enum Step {
    /// `heroku ARGS`, and what it sends.
    Cli(&'static [&'static str], &'static [Sent]),
    /// A slug released to the app through the API, as slugplan would.
    Deploy(&'static str),
    /// A pipeline created through the API, so that names must be told apart.
    Pipeline(&'static str),
}

/// `heroku apps`: the user's apps and, for the header, the account (asked twice: once more as
/// the account-standing check, pointed at the server).
const APPS: &[Sent] = &[get("/users/~/apps"), get("/account"), get("/account")];

/// How the CLI lists a pipeline's apps: its couplings, then those apps by id.
const SHOP_COUPLINGS: Sent = get("/pipelines/{pipeline:shop}/pipeline-couplings").accept(SDK);
const SHOP_APPS: Sent = send(
    "POST",
    "/filters/apps",
    r#"{"in":{"id":["{app:shop-staging}","{app:shop-prod}"]}}"#,
    200,
)
.accept(FILTERS)
.range("id ..; max=1000;");

pub(super) const SCENARIO: &[Step] = &[
    Step::Cli(
        &["apps:create", "shop-staging"],
        &[send("POST", "/apps", r#"{"name":"shop-staging"}"#, 201)],
    ),
    Step::Cli(
        &["apps:create", "shop-prod"],
        &[send("POST", "/apps", r#"{"name":"shop-prod"}"#, 201)],
    ),
    Step::Cli(&["apps"], APPS),
    Step::Pipeline("shop-eu"),
    Step::Cli(
        &["apps:info", "-a", "shop-staging"],
        &[
            get("/apps/shop-staging/addons"),
            get("/apps/shop-staging"),
            get("/apps/shop-staging/dynos"),
            get("/apps/shop-staging/collaborators"),
            // In no pipeline yet: the CLI expects the 404.
            get("/apps/shop-staging/pipeline-couplings").status(404),
        ],
    ),
    Step::Deploy("shop-staging"),
    Step::Cli(
        &["releases", "-a", "shop-staging"],
        &[get("/apps/shop-staging/releases")
            .accept(SDK)
            .range("version ..; max=15, order=desc")],
    ),
    Step::Cli(
        &["pipelines:create", "shop", "-a", "shop-staging", "--stage", "staging"],
        &[
            get("/users/~"),
            get("/apps/shop-staging").accept(SDK),
            send(
                "POST",
                "/pipelines",
                r#"{"generation":{"name":"cedar"},"name":"shop","owner":{"id":"{account}","type":"user"}}"#,
                201,
            )
            .accept(PIPELINES),
            send(
                "POST",
                "/pipeline-couplings",
                r#"{"app":"shop-staging","pipeline":"{pipeline:shop}","stage":"staging"}"#,
                201,
            ),
        ],
    ),
    Step::Cli(
        &["pipelines:add", "shop", "-a", "shop-prod", "--stage", "production"],
        &[
            // Two pipelines' names start with "shop": only the filter tells them apart.
            get("/pipelines?eq[name]=shop").accept(PIPELINES),
            send(
                "POST",
                "/pipeline-couplings",
                r#"{"app":"shop-prod","pipeline":"{pipeline:shop}","stage":"production"}"#,
                201,
            ),
        ],
    ),
    Step::Cli(&["pipelines"], &[get("/pipelines")]),
    Step::Cli(
        &["pipelines:info", "shop"],
        &[
            get("/pipelines?eq[name]=shop").accept(PIPELINES),
            SHOP_COUPLINGS,
            SHOP_APPS,
        ],
    ),
    Step::Cli(
        &["pipelines:promote", "-a", "shop-staging"],
        &[
            get("/apps/shop-staging/pipeline-couplings"),
            SHOP_COUPLINGS,
            SHOP_APPS,
            send(
                "POST",
                "/pipeline-promotions",
                r#"{"pipeline":{"id":"{pipeline:shop}"},"source":{"app":{"id":"{app:shop-staging}"}},"targets":[{"app":{"id":"{app:shop-prod}"}}]}"#,
                201,
            ),
            get("/pipeline-promotions/{promotion}/promotion-targets"),
            get("/pipeline-promotions/{promotion}/promotion-targets"),
        ],
    ),
    Step::Cli(
        &["releases", "-a", "shop-prod"],
        &[get("/apps/shop-prod/releases")
            .accept(SDK)
            .range("version ..; max=15, order=desc")],
    ),
    Step::Cli(
        &["stack", "-a", "shop-staging"],
        &[get("/apps/shop-staging"), get("/stacks")],
    ),
    Step::Cli(
        &["stack:set", "heroku-22", "-a", "shop-prod"],
        &[send(
            "PATCH",
            "/apps/shop-prod",
            r#"{"build_stack":"heroku-22"}"#,
            200,
        )],
    ),
    Step::Cli(
        &["stack", "-a", "shop-prod"],
        &[get("/apps/shop-prod"), get("/stacks")],
    ),
    Step::Cli(
        &["domains", "-a", "shop-staging"],
        &[get("/apps/shop-staging/domains").range("id ..; max=1000;")],
    ),
    // `heroku open` reads the app's web_url and hands it to a browser (none here: it prints it).
    Step::Cli(&["open", "-a", "shop-staging"], &[get("/apps/shop-staging")]),
    Step::Cli(
        &["maintenance:on", "-a", "shop-staging"],
        &[send(
            "PATCH",
            "/apps/shop-staging",
            r#"{"maintenance":true}"#,
            200,
        )],
    ),
    Step::Cli(
        &["maintenance", "-a", "shop-staging"],
        &[get("/apps/shop-staging")],
    ),
    Step::Cli(
        &["maintenance:off", "-a", "shop-staging"],
        &[send(
            "PATCH",
            "/apps/shop-staging",
            r#"{"maintenance":false}"#,
            200,
        )],
    ),
    Step::Cli(
        &["apps:rename", "shop-old", "-a", "shop-prod"],
        &[send("PATCH", "/apps/shop-prod", r#"{"name":"shop-old"}"#, 200)],
    ),
    Step::Cli(
        &["apps:destroy", "shop-old", "--confirm", "shop-old"],
        &[
            get("/apps/shop-old"),
            Sent {
                method: "DELETE",
                ..get("/apps/shop-old")
            },
        ],
    ),
    Step::Cli(&["apps"], APPS),
];
