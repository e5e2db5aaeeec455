//! The API's JSON, as serde types, and their mapping onto the platform's domain types.
//!
//! Decoding is tolerant the way the API evolves: unknown fields are ignored, and fields the
//! schema allows to be null (or that older servers omit) default instead of failing. Request
//! bodies are built here too, so that the contract tests can check every body the client sends
//! against the link's schema in the official document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::platform::{
    App, BlobTarget, Coupling, CreatedSlug, Formation, FormationUpdate, Generation, NewSlug,
    Pipeline, Promotion, PromotionStatus, PromotionTarget, Release, ReleaseStatus, Slug,
    TargetStatus,
};

/// `{"id": …}` references, as in `slug: {"id"}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdRef {
    /// The referenced resource's UUID.
    #[serde(default)]
    pub id: String,
}

/// `{"id", "name"}` references, as in `stack: {"id", "name"}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NamedRef {
    /// The name, e.g. `heroku-24`.
    #[serde(default)]
    pub name: Option<String>,
}

/// An app's `generation`: an object `{"id", "name"}` in the schema, a bare string on some
/// servers; absent on older ones, which only know Cedar.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum GenerationWire {
    /// `{"name": "fir"}`.
    Object(NamedRef),
    /// `"fir"`.
    Name(String),
}

/// `GET /apps/{app}`.
#[derive(Debug, Clone, Deserialize)]
pub struct AppWire {
    id: String,
    name: String,
    #[serde(default)]
    stack: Option<NamedRef>,
    #[serde(default)]
    generation: Option<GenerationWire>,
    #[serde(default)]
    web_url: Option<String>,
}

impl From<AppWire> for App {
    fn from(w: AppWire) -> App {
        let generation = match w.generation {
            Some(
                GenerationWire::Object(NamedRef { name: Some(name) }) | GenerationWire::Name(name),
            ) if name.eq_ignore_ascii_case("fir") => Generation::Fir,
            _ => Generation::Cedar,
        };
        App {
            id: w.id,
            name: w.name,
            stack: w.stack.and_then(|s| s.name).unwrap_or_default(),
            generation,
            web_url: w.web_url,
        }
    }
}

/// A release.
#[derive(Debug, Clone, Deserialize)]
pub struct ReleaseWire {
    id: String,
    version: u64,
    status: ReleaseStatus,
    #[serde(default)]
    current: bool,
    #[serde(default)]
    slug: Option<IdRef>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
}

impl From<ReleaseWire> for Release {
    fn from(w: ReleaseWire) -> Release {
        Release {
            id: w.id,
            version: w.version,
            status: w.status,
            current: w.current,
            slug_id: w.slug.map(|s| s.id).filter(|id| !id.is_empty()),
            description: w.description.unwrap_or_default(),
            created_at: w.created_at.unwrap_or_default(),
        }
    }
}

/// A slug, with its blob target when freshly created.
#[derive(Debug, Clone, Deserialize)]
pub struct SlugWire {
    id: String,
    #[serde(default)]
    blob: Option<BlobWire>,
    #[serde(default)]
    checksum: Option<String>,
    #[serde(default)]
    process_types: Option<BTreeMap<String, String>>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    stack: Option<NamedRef>,
    #[serde(default)]
    commit: Option<String>,
}

/// `blob: {"method", "url"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct BlobWire {
    #[serde(default)]
    method: Option<String>,
    url: String,
}

impl SlugWire {
    /// The slug and, when the answer had one, its upload target.
    pub fn into_parts(self) -> (Slug, Option<BlobTarget>) {
        let blob = self.blob.map(|b| BlobTarget {
            method: b.method.unwrap_or_else(|| "put".to_owned()),
            url: b.url,
        });
        let slug = Slug {
            id: self.id,
            checksum: self.checksum,
            process_types: self.process_types.unwrap_or_default(),
            size: self.size,
            stack: self.stack.and_then(|s| s.name).unwrap_or_default(),
            commit: self.commit,
        };
        (slug, blob)
    }

    /// The created slug; None when the answer lacks the blob target a creation must have.
    pub fn into_created(self) -> Option<CreatedSlug> {
        match self.into_parts() {
            (slug, Some(blob)) => Some(CreatedSlug { slug, blob }),
            (_, None) => None,
        }
    }
}

/// A pipeline.
#[derive(Debug, Clone, Deserialize)]
pub struct PipelineWire {
    id: String,
    #[serde(default)]
    name: String,
}

impl From<PipelineWire> for Pipeline {
    fn from(w: PipelineWire) -> Pipeline {
        Pipeline {
            id: w.id,
            name: w.name,
        }
    }
}

/// A pipeline coupling.
#[derive(Debug, Clone, Deserialize)]
pub struct CouplingWire {
    id: String,
    #[serde(default)]
    app: IdRef,
    #[serde(default)]
    pipeline: IdRef,
    #[serde(default)]
    stage: String,
}

impl From<CouplingWire> for Coupling {
    fn from(w: CouplingWire) -> Coupling {
        Coupling {
            id: w.id,
            pipeline_id: w.pipeline.id,
            app_id: w.app.id,
            stage: w.stage,
        }
    }
}

/// A pipeline promotion.
#[derive(Debug, Clone, Deserialize)]
pub struct PromotionWire {
    id: String,
    #[serde(default)]
    pipeline: IdRef,
    #[serde(default)]
    source: PromotionSourceWire,
    status: PromotionStatus,
}

/// `source: {"app": {"id"}, "release": {"id"}}` of a promotion.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PromotionSourceWire {
    /// The source app.
    #[serde(default)]
    pub app: IdRef,
    /// The source release.
    #[serde(default)]
    pub release: IdRef,
}

impl From<PromotionWire> for Promotion {
    fn from(w: PromotionWire) -> Promotion {
        Promotion {
            id: w.id,
            pipeline_id: w.pipeline.id,
            source_app_id: w.source.app.id,
            source_release_id: w.source.release.id,
            status: w.status,
        }
    }
}

/// One target of a promotion.
#[derive(Debug, Clone, Deserialize)]
pub struct PromotionTargetWire {
    id: String,
    #[serde(default)]
    app: IdRef,
    status: TargetStatus,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    release: Option<IdRef>,
}

impl From<PromotionTargetWire> for PromotionTarget {
    fn from(w: PromotionTargetWire) -> PromotionTarget {
        PromotionTarget {
            id: w.id,
            app_id: w.app.id,
            status: w.status,
            error_message: w.error_message.filter(|m| !m.is_empty()),
            release_id: w.release.map(|r| r.id).filter(|id| !id.is_empty()),
        }
    }
}

/// One process type of a formation. `size` is deprecated in favour of `dyno_size`; servers send
/// either or both.
#[derive(Debug, Clone, Deserialize)]
pub struct FormationWire {
    #[serde(rename = "type")]
    process_type: String,
    #[serde(default)]
    quantity: u32,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    dyno_size: Option<NamedRef>,
    #[serde(default)]
    command: Option<String>,
}

impl From<FormationWire> for Formation {
    fn from(w: FormationWire) -> Formation {
        Formation {
            process_type: w.process_type,
            quantity: w.quantity,
            size: w
                .dyno_size
                .and_then(|d| d.name)
                .or(w.size)
                .unwrap_or_default(),
            command: w.command.unwrap_or_default(),
        }
    }
}

/// The error body `{"id", "message", "url"}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorWire {
    /// The error id, e.g. `not_found`.
    #[serde(default)]
    pub id: Option<String>,
    /// The human message.
    #[serde(default)]
    pub message: Option<String>,
}

/// `POST /apps`.
pub fn create_app_body(name: &str, stack: &str) -> serde_json::Value {
    serde_json::json!({ "name": name, "stack": stack })
}

/// `POST /apps/{app}/slugs`: optional fields are left out rather than sent as null, which the
/// schema's string types would refuse.
pub fn create_slug_body(new: &NewSlug) -> serde_json::Value {
    let mut body = serde_json::json!({
        "process_types": new.process_types,
        "checksum": new.checksum,
        "stack": new.stack,
    });
    if let Some(commit) = &new.commit {
        body["commit"] = commit.as_str().into();
    }
    if let Some(description) = &new.commit_description {
        body["commit_description"] = description.as_str().into();
    }
    body
}

/// `POST /apps/{app}/releases` releasing a slug.
pub fn create_release_body(slug_id: &str, description: &str) -> serde_json::Value {
    serde_json::json!({ "slug": slug_id, "description": description })
}

/// `POST /apps/{app}/releases` rolling back to a release.
pub fn rollback_body(release_id: &str) -> serde_json::Value {
    serde_json::json!({ "release": release_id })
}

/// `POST /pipelines`.
pub fn create_pipeline_body(name: &str) -> serde_json::Value {
    serde_json::json!({ "name": name })
}

/// `POST /pipeline-couplings`.
pub fn create_coupling_body(app: &str, pipeline_id: &str, stage: &str) -> serde_json::Value {
    serde_json::json!({ "app": app, "pipeline": pipeline_id, "stage": stage })
}

/// `POST /pipeline-promotions`.
pub fn create_promotion_body(
    pipeline_id: &str,
    source_app_id: &str,
    source_release_id: &str,
    target_app_ids: &[String],
) -> serde_json::Value {
    let targets: Vec<_> = target_app_ids
        .iter()
        .map(|id| serde_json::json!({ "app": { "id": id } }))
        .collect();
    serde_json::json!({
        "pipeline": { "id": pipeline_id },
        "source": { "app": { "id": source_app_id }, "release": { "id": source_release_id } },
        "targets": targets,
    })
}

/// `PATCH /apps/{app}/formation`: `{"updates": [{"type", "quantity", "dyno_size"}]}`, the
/// size as the schema's `dyno_size` identity (the `size` property is deprecated and not part
/// of an update).
pub fn update_formation_body(updates: &[FormationUpdate]) -> serde_json::Value {
    let updates: Vec<serde_json::Value> = updates
        .iter()
        .map(|update| {
            let mut item = serde_json::json!({ "type": update.process_type });
            if let Some(quantity) = update.quantity {
                item["quantity"] = quantity.into();
            }
            if let Some(size) = &update.size {
                item["dyno_size"] = serde_json::json!({ "name": size });
            }
            item
        })
        .collect();
    serde_json::json!({ "updates": updates })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formation_size_from_dyno_size_or_the_deprecated_size() {
        let decode =
            |json: &str| Formation::from(serde_json::from_str::<FormationWire>(json).unwrap());
        let both = decode(
            r#"{"type":"web","quantity":2,"size":"old","dyno_size":{"id":"i","name":"Standard-1X"},"command":"./web"}"#,
        );
        assert_eq!((both.size.as_str(), both.quantity), ("Standard-1X", 2));
        assert_eq!(
            decode(r#"{"type":"web","quantity":1,"size":"Basic"}"#).size,
            "Basic"
        );
        let body = update_formation_body(&[FormationUpdate {
            process_type: "web".into(),
            quantity: Some(2),
            size: None,
        }]);
        assert_eq!(
            body,
            serde_json::json!({ "updates": [{ "type": "web", "quantity": 2 }] })
        );
    }

    #[test]
    fn app_generation_as_object_string_or_absent() {
        let decode = |json: &str| App::from(serde_json::from_str::<AppWire>(json).unwrap());
        let fir = decode(
            r#"{"id":"a","name":"x","stack":{"id":"s","name":"heroku-24"},"generation":{"id":"g","name":"fir"},"extra":1}"#,
        );
        assert_eq!(
            (fir.generation, fir.stack.as_str()),
            (Generation::Fir, "heroku-24")
        );
        assert_eq!(
            decode(r#"{"id":"a","name":"x","generation":"fir"}"#).generation,
            Generation::Fir
        );
        assert_eq!(
            decode(r#"{"id":"a","name":"x","generation":null}"#).generation,
            Generation::Cedar
        );
        assert_eq!(
            decode(r#"{"id":"a","name":"x"}"#).generation,
            Generation::Cedar
        );
    }

    #[test]
    fn release_tolerates_nulls() {
        let r: Release = serde_json::from_str::<ReleaseWire>(
            r#"{"id":"r","version":3,"status":"succeeded","current":true,"slug":null,"description":null,"user":{"id":"u","email":"e"},"output_stream_url":null}"#,
        )
        .unwrap()
        .into();
        assert!(r.is_running());
        assert_eq!((r.slug_id, r.description.as_str()), (None, ""));
    }

    #[test]
    fn created_slug_needs_a_blob() {
        let with_blob: SlugWire = serde_json::from_str(
            r#"{"id":"s","blob":{"method":"put","url":"https://x/y"},"checksum":null,"process_types":{"web":"./web"},"size":null,"stack":{"id":"i","name":"heroku-24"}}"#,
        )
        .unwrap();
        let created = with_blob.into_created().unwrap();
        assert_eq!(created.slug.process_types["web"], "./web");
        assert_eq!(created.blob.url, "https://x/y");
        let without: SlugWire = serde_json::from_str(r#"{"id":"s"}"#).unwrap();
        assert!(without.into_created().is_none());
    }

    #[test]
    fn slug_body_omits_absent_optionals() {
        let body = create_slug_body(&NewSlug {
            process_types: BTreeMap::from([("web".into(), "./web".into())]),
            checksum: "SHA256:00".into(),
            stack: "heroku-24".into(),
            commit: None,
            commit_description: Some("d".into()),
        });
        assert!(body.get("commit").is_none());
        assert_eq!(body["commit_description"], "d");
    }
}
