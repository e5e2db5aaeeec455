//! API errors as the Platform API v3 writes them: a status and `{"id", "message"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::platform::PlatformError;

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error id (`not_found`, `invalid_params`, …).
    pub id: &'static str,
    /// A message for humans.
    pub message: String,
}

impl ApiError {
    /// An error with `status`, `id` and `message`.
    pub fn new(status: StatusCode, id: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            id,
            message: message.into(),
        }
    }

    /// `400 bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// `422 invalid_params`.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", message)
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// `401 unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid credentials provided.",
        )
    }

    /// `405 method_not_allowed` (the caller adds the `Allow` header).
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    /// `501 not_implemented`: the Platform API has this link and slugplan server does not serve it.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", message)
    }

    /// `429 rate_limit`.
    pub fn rate_limit() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit",
            "Your account reached the API rate limit. Please wait a few minutes before making new requests.",
        )
    }
}

impl From<PlatformError> for ApiError {
    fn from(err: PlatformError) -> Self {
        match err {
            PlatformError::NotFound { message, .. } => ApiError::not_found(message),
            PlatformError::Unauthorized { message, .. } => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
            }
            PlatformError::RateLimited { message, .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit", message)
            }
            PlatformError::Conflict { message, .. } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            PlatformError::InvalidParams { message, .. } => ApiError::invalid_params(message),
            PlatformError::Api {
                status,
                id,
                message,
                ..
            } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                let id = match id.as_str() {
                    "expired" => "expired",
                    "forbidden" => "forbidden",
                    _ => "internal_server_error",
                };
                ApiError::new(status, id, message)
            }
            other @ (PlatformError::Transport { .. }
            | PlatformError::Storage { .. }
            | PlatformError::Database(_)) => {
                tracing::error!(error = ?other, "local platform failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_server_error",
                    crate::error_chain::one_line(&other),
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "id": self.id, "message": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}
