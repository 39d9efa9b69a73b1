//! RFC 6749 error responses of the token and userinfo endpoints.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An OAuth error answered as `{"error": ..., "error_description": ...}`.
#[derive(Debug, Clone)]
pub(crate) struct ProtocolError {
    /// HTTP status (400, or 401 for client authentication and bearer token failures).
    pub status: StatusCode,
    /// The RFC 6749 error code.
    pub error: &'static str,
    /// A human-readable explanation.
    pub description: String,
    /// Value of a `WWW-Authenticate` header to send, if any.
    pub challenge: Option<&'static str>,
}

impl ProtocolError {
    /// A 400 error with `error` code.
    pub fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        ProtocolError {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            challenge: None,
        }
    }

    /// A 401 `invalid_client` error.
    pub fn invalid_client(description: impl Into<String>, basic: bool) -> Self {
        ProtocolError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
            challenge: basic.then_some("Basic realm=\"oauth-mock\""),
        }
    }

    /// A 401 `invalid_token` error for a bearer token.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        ProtocolError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_token",
            description: description.into(),
            challenge: Some("Bearer error=\"invalid_token\""),
        }
    }

    /// A 500 `server_error` for a failure of the data directory.
    pub fn server(error: impl std::fmt::Display) -> Self {
        tracing::error!("oauth-mock: {error}");
        ProtocolError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: error.to_string(),
            challenge: None,
        }
    }
}

impl From<super::OauthError> for ProtocolError {
    fn from(e: super::OauthError) -> Self {
        ProtocolError::server(e)
    }
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
