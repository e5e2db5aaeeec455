//! API v3 resource objects, with every property the official schema lists.
//!
//! Clients decode whole objects (an app's `owner.email`, a release's `eligible_for_rollback`), so
//! each builder writes every property of its definition in `platform-api-schema.json`, with
//! `null` where the local platform has nothing to say. Identities the local platform does not
//! store (stacks, the region, the owner) get stable UUIDs derived from their names.

use serde_json::{Value, json};

use super::stacks;
use crate::platform::local::{
    AppRecord, CouplingRecord, FormationRecord, PipelineRecord, PromotionRecord, ReleaseRecord,
    SlugRecord, TargetRecord,
};
use crate::platform::{Generation, PromotionStatus, ReleaseStatus, TargetStatus};

/// The e-mail of the local platform's only account.
pub const OWNER_EMAIL: &str = "owner@slugplan.localhost";

pub use crate::platform::local::derived_id;

/// A stack as other resources name it: `{id, name}`.
fn stack_ref(name: &str) -> Value {
    json!({ "id": derived_id("stack", name), "name": name })
}

/// When each stack came out: fixed, so a stack's answer is the same on every server.
fn stack_introduced(name: &str) -> &'static str {
    match name {
        "heroku-20" => "2020-06-01T00:00:00Z",
        "heroku-22" => "2022-06-01T00:00:00Z",
        _ => "2024-06-01T00:00:00Z",
    }
}

/// `#/definitions/stack`.
pub fn stack(name: &str) -> Value {
    let introduced = stack_introduced(name);
    json!({
        "created_at": introduced,
        "default": name == stacks::DEFAULT,
        "id": derived_id("stack", name),
        "name": name,
        "state": stacks::state(name),
        "updated_at": introduced,
    })
}

fn owner() -> Value {
    json!({ "id": derived_id("account", OWNER_EMAIL), "email": OWNER_EMAIL })
}

fn generation(generation: Generation) -> Value {
    let name = match generation {
        Generation::Cedar => "cedar",
        Generation::Fir => "fir",
    };
    json!({ "id": derived_id("generation", name), "name": name })
}

/// `#/definitions/account`: the local platform's only account, created when the server started.
pub fn account(created_at: &str) -> Value {
    json!({
        "allow_tracking": false,
        "beta": false,
        "country_of_residence": null,
        "created_at": created_at,
        "default_organization": null,
        "default_team": null,
        "delinquent_at": null,
        "email": OWNER_EMAIL,
        "federated": false,
        "id": derived_id("account", OWNER_EMAIL),
        "identity_provider": null,
        "last_login": null,
        "name": null,
        "sms_number": null,
        "suspended_at": null,
        "two_factor_authentication": false,
        "updated_at": created_at,
        "verified": true,
    })
}

/// The URL the router answers the app on: its own port on 127.0.0.1 (see
/// `platform::local::web_url`, which says why). Clients need a URL here (`heroku open`,
/// `heroku apps:rename` read it).
fn web_url(app: &AppRecord) -> String {
    crate::platform::local::web_url(app.web_port)
}

/// `#/definitions/app`.
pub fn app(app: &AppRecord) -> Value {
    json!({
        "acm": false,
        "archived_at": null,
        "buildpack_provided_description": null,
        "build_stack": stack_ref(&app.build_stack),
        "created_at": app.created_at,
        "generation": generation(app.generation),
        "git_url": format!("https://git.heroku.com/{}.git", app.name),
        "id": app.id,
        "internal_routing": null,
        "maintenance": app.maintenance,
        "name": app.name,
        "organization": null,
        "owner": owner(),
        "region": { "id": derived_id("region", &app.region), "name": app.region },
        "released_at": app.released_at,
        "repo_size": null,
        "slug_size": app.slug_size,
        "space": null,
        "stack": stack_ref(&app.stack),
        "team": null,
        "updated_at": app.updated_at,
        "web_url": web_url(app),
    })
}

/// `#/definitions/domain`: an app's default domain, the address of its `web_url`.
pub fn default_domain(app: &AppRecord) -> Value {
    json!({
        "acm_status": null,
        "acm_status_reason": null,
        "app": { "id": app.id, "name": app.name },
        "cname": null,
        "created_at": app.created_at,
        "hostname": crate::platform::local::web_addr(app.web_port).to_string(),
        "id": derived_id("domain", &app.id),
        "kind": "heroku",
        "sni_endpoint": null,
        "status": "none",
        "updated_at": app.created_at,
    })
}

/// `#/definitions/team-app` (what `POST /filters/apps` lists).
pub fn team_app(record: &AppRecord) -> Value {
    let mut value = app(record);
    value["joined"] = json!(false);
    value["locked"] = json!(false);
    value
}

/// `#/definitions/slug`; `blob` is the upload (or download) target.
pub fn slug(slug: &SlugRecord, blob: Value) -> Value {
    json!({
        "blob": blob,
        "buildpack_provided_description": slug.buildpack_provided_description,
        "checksum": slug.checksum,
        "commit": slug.commit,
        "commit_description": slug.commit_description,
        "created_at": slug.created_at,
        "id": slug.id,
        "process_types": slug.process_types,
        "size": slug.size,
        "stack": stack_ref(&slug.stack),
        "updated_at": slug.updated_at,
    })
}

/// `#/definitions/release`.
pub fn release(release: &ReleaseRecord) -> Value {
    let status = match release.status {
        ReleaseStatus::Pending => "pending",
        ReleaseStatus::Succeeded => "succeeded",
        ReleaseStatus::Failed => "failed",
        ReleaseStatus::Expired => "expired",
    };
    let artifacts: Vec<Value> = release
        .slug_id
        .iter()
        .map(|id| json!({ "type": "slug", "id": id }))
        .collect();
    json!({
        "addon_plan_names": [],
        "app": { "id": release.app_id, "name": release.app_name },
        "artifacts": artifacts,
        "created_at": release.created_at,
        "current": release.current,
        "description": release.description,
        "eligible_for_rollback": release.slug_id.is_some()
            && release.status == ReleaseStatus::Succeeded,
        "id": release.id,
        "output_stream_url": null,
        "slug": release.slug_id.as_ref().map(|id| json!({ "id": id })),
        "status": status,
        "updated_at": release.updated_at,
        "user": owner(),
        "version": release.version,
    })
}

/// `#/definitions/pipeline`: owned by the local platform's one account.
pub fn pipeline(pipeline: &PipelineRecord) -> Value {
    json!({
        "created_at": pipeline.created_at,
        "generation": {
            "id": derived_id("generation", "cedar"),
            "name": "cedar",
        },
        "id": pipeline.id,
        "name": pipeline.name,
        "owner": {
            "id": derived_id("account", OWNER_EMAIL),
            "type": "user",
        },
        "updated_at": pipeline.updated_at,
    })
}

/// `#/definitions/pipeline-coupling`. The schema does not close its `app` and `pipeline`
/// objects, and Heroku names both in them: clients print `pipeline.name`.
pub fn coupling(coupling: &CouplingRecord) -> Value {
    json!({
        "app": { "id": coupling.app_id, "name": coupling.app_name },
        "created_at": coupling.created_at,
        "id": coupling.id,
        "pipeline": { "id": coupling.pipeline_id, "name": coupling.pipeline_name },
        "stage": coupling.stage,
        "updated_at": coupling.updated_at,
    })
}

/// `#/definitions/pipeline-promotion`.
pub fn promotion(promotion: &PromotionRecord) -> Value {
    let status = match promotion.status {
        PromotionStatus::Pending => "pending",
        PromotionStatus::Completed => "completed",
    };
    json!({
        "created_at": promotion.created_at,
        "id": promotion.id,
        "pipeline": { "id": promotion.pipeline_id },
        "source": {
            "app": { "id": promotion.source_app_id },
            "release": { "id": promotion.source_release_id },
        },
        "status": status,
        "updated_at": promotion.updated_at,
    })
}

/// `#/definitions/pipeline-promotion-target`.
pub fn promotion_target(target: &TargetRecord) -> Value {
    let status = match target.status {
        TargetStatus::Pending => "pending",
        TargetStatus::Succeeded => "succeeded",
        TargetStatus::Failed => "failed",
    };
    json!({
        "app": { "id": target.app_id },
        "error_message": target.error_message,
        "id": target.id,
        "pipeline_promotion": { "id": target.promotion_id },
        "release": target.release_id.as_ref().map(|id| json!({ "id": id })),
        "status": status,
    })
}

/// The dyno size a size identity (name or derived id) stands for.
pub fn size_name(identity: &str) -> String {
    crate::dyno::CEDAR_SIZES
        .iter()
        .chain(crate::dyno::FIR_SIZES)
        .find(|name| derived_id("dyno-size", &name.to_ascii_lowercase()) == identity)
        .map_or_else(|| identity.to_owned(), |name| (*name).to_owned())
}

/// `#/definitions/formation`: `size` (deprecated) and `dyno_size` both, as Heroku still sends.
pub fn formation(formation: &FormationRecord) -> Value {
    json!({
        "app": { "id": formation.app_id, "name": formation.app_name },
        "command": formation.command,
        "created_at": formation.created_at,
        "dyno_size": {
            "id": derived_id("dyno-size", &formation.size.to_ascii_lowercase()),
            "name": formation.size,
        },
        "id": formation.id,
        "quantity": formation.quantity,
        "size": formation.size,
        "type": formation.process_type,
        "updated_at": formation.updated_at,
    })
}
