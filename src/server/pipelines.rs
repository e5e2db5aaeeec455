//! Handlers for pipelines, couplings and promotions.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::error::ApiError;
use super::list::ListQuery;
use super::{AppState, body, json, wire};

type ApiResult = Result<Response, ApiError>;

/// An identity as clients send it: a bare id or name, or `{"id": …}` / `{"name": …}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Identity {
    Plain(String),
    Object {
        id: Option<String>,
        name: Option<String>,
    },
}

impl Identity {
    fn get(self, what: &str) -> Result<String, ApiError> {
        match self {
            Identity::Plain(s) => Some(s),
            Identity::Object { id, name } => id.or(name),
        }
        .ok_or_else(|| ApiError::invalid_params(format!("{what} needs an id")))
    }
}

/// `{"app": {"id": …}}`, as promotion sources and targets name their app.
#[derive(Debug, Deserialize)]
struct AppRef {
    app: Identity,
}

/// `POST /pipelines`.
pub(crate) async fn create_pipeline(State(state): State<AppState>, bytes: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct NewPipeline {
        name: Option<String>,
    }
    let new: NewPipeline = body(&bytes)?;
    let name = new
        .name
        .ok_or_else(|| ApiError::invalid_params("name is required"))?;
    let pipeline = state
        .platform
        .blocking(move |s| s.create_pipeline(&name))
        .await?;
    Ok(json(StatusCode::CREATED, wire::pipeline(&pipeline)))
}

/// `GET /pipelines`, filtered by name with `?eq[name]=NAME` as the Heroku CLI asks.
pub(crate) async fn list_pipelines(State(state): State<AppState>, query: ListQuery) -> ApiResult {
    let pipelines = state.platform.blocking(|s| s.pipelines()).await?;
    Ok(query.answer(pipelines.iter().map(wire::pipeline).collect()))
}

/// `GET /pipelines/{id_or_name}`.
pub(crate) async fn get_pipeline(
    State(state): State<AppState>,
    Path(pipeline): Path<String>,
) -> ApiResult {
    let pipeline = state
        .platform
        .blocking(move |s| s.pipeline(&pipeline))
        .await?;
    Ok(json(StatusCode::OK, wire::pipeline(&pipeline)))
}

/// `GET /pipelines/{id}/pipeline-couplings`.
pub(crate) async fn pipeline_couplings(
    State(state): State<AppState>,
    Path(pipeline): Path<String>,
    query: ListQuery,
) -> ApiResult {
    let couplings = state
        .platform
        .blocking(move |s| s.pipeline_couplings(&pipeline))
        .await?;
    Ok(query.answer(couplings.iter().map(wire::coupling).collect()))
}

/// `GET /apps/{app}/pipeline-couplings`: one object (the schema's "Info By App"); an app in
/// no pipeline is `404 not_found`, as on Heroku.
pub(crate) async fn app_coupling(
    State(state): State<AppState>,
    Path(app): Path<String>,
) -> ApiResult {
    let name = app.clone();
    let coupling = state
        .platform
        .blocking(move |s| s.coupling(&app))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Couldn't find that pipeline coupling: app {name} is in no pipeline"
            ))
        })?;
    Ok(json(StatusCode::OK, wire::coupling(&coupling)))
}

/// `POST /pipeline-couplings`.
pub(crate) async fn create_coupling(State(state): State<AppState>, bytes: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct NewCoupling {
        app: Option<Identity>,
        pipeline: Option<Identity>,
        stage: Option<String>,
    }
    let new: NewCoupling = body(&bytes)?;
    let missing = |what: &str| ApiError::invalid_params(format!("{what} is required"));
    let app = new.app.ok_or_else(|| missing("app"))?.get("app")?;
    let pipeline = new
        .pipeline
        .ok_or_else(|| missing("pipeline"))?
        .get("pipeline")?;
    let stage = new.stage.ok_or_else(|| missing("stage"))?;
    let coupling = state
        .platform
        .blocking(move |s| s.create_coupling(&app, &pipeline, &stage))
        .await?;
    Ok(json(StatusCode::CREATED, wire::coupling(&coupling)))
}

/// `GET /pipeline-couplings/{id}`.
pub(crate) async fn get_coupling(
    State(state): State<AppState>,
    Path(coupling): Path<String>,
) -> ApiResult {
    let coupling = state
        .platform
        .blocking(move |s| s.coupling_by_id(&coupling))
        .await?;
    Ok(json(StatusCode::OK, wire::coupling(&coupling)))
}

/// `PATCH /pipeline-couplings/{id}`: moves the app to another stage.
pub(crate) async fn update_coupling(
    State(state): State<AppState>,
    Path(coupling): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    #[derive(Deserialize)]
    struct Update {
        stage: Option<String>,
    }
    let update: Update = body(&bytes)?;
    let stage = update
        .stage
        .ok_or_else(|| ApiError::invalid_params("stage is required"))?;
    let coupling = state
        .platform
        .blocking(move |s| s.update_coupling(&coupling, &stage))
        .await?;
    Ok(json(StatusCode::OK, wire::coupling(&coupling)))
}

/// `DELETE /pipeline-couplings/{id}`: answers the coupling as it was.
pub(crate) async fn delete_coupling(
    State(state): State<AppState>,
    Path(coupling): Path<String>,
) -> ApiResult {
    let coupling = state
        .platform
        .blocking(move |s| s.delete_coupling(&coupling))
        .await?;
    Ok(json(StatusCode::OK, wire::coupling(&coupling)))
}

/// `POST /pipeline-promotions`: releases the source release's slug to every target now;
/// each target's outcome is in its promotion target.
pub(crate) async fn create_promotion(State(state): State<AppState>, bytes: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct Source {
        app: Identity,
        release: Option<Identity>,
    }
    #[derive(Deserialize)]
    struct NewPromotion {
        pipeline: Option<Identity>,
        source: Option<Source>,
        targets: Option<Vec<AppRef>>,
    }
    let new: NewPromotion = body(&bytes)?;
    let missing = |what: &str| ApiError::invalid_params(format!("{what} is required"));
    let pipeline = new
        .pipeline
        .ok_or_else(|| missing("pipeline"))?
        .get("pipeline")?;
    let source = new.source.ok_or_else(|| missing("source"))?;
    let source_app = source.app.get("source app")?;
    let source_release = source
        .release
        .map(|r| r.get("source release"))
        .transpose()?;
    let targets = new
        .targets
        .ok_or_else(|| missing("targets"))?
        .into_iter()
        .map(|t| t.app.get("target app"))
        .collect::<Result<Vec<_>, _>>()?;
    let promotion = state
        .platform
        .blocking(move |s| {
            s.create_promotion(&pipeline, &source_app, source_release.as_deref(), &targets)
        })
        .await?;
    Ok(json(StatusCode::CREATED, wire::promotion(&promotion)))
}

/// `GET /pipeline-promotions/{id}`.
pub(crate) async fn get_promotion(
    State(state): State<AppState>,
    Path(promotion): Path<String>,
) -> ApiResult {
    let promotion = state
        .platform
        .blocking(move |s| s.promotion(&promotion))
        .await?;
    Ok(json(StatusCode::OK, wire::promotion(&promotion)))
}

/// `GET /pipeline-promotions/{id}/promotion-targets`.
pub(crate) async fn promotion_targets(
    State(state): State<AppState>,
    Path(promotion): Path<String>,
    query: ListQuery,
) -> ApiResult {
    let targets = state
        .platform
        .blocking(move |s| s.promotion_targets(&promotion))
        .await?;
    Ok(query.answer(targets.iter().map(wire::promotion_target).collect()))
}
