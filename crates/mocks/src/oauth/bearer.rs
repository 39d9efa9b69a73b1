//! Resolving the bearer token of a userinfo or GitHub API request to its user.

use axum::http::{header, HeaderMap};
use serde::{Deserialize, Serialize};

use super::config::{Provider, User};
use super::protocol_error::ProtocolError;
use super::store::Kind;
use super::tokens::verify_access_token;
use super::AppState;

/// What an opaque GitHub-style access token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GithubTokenRecord {
    /// Provider that issued the token.
    pub provider: String,
    /// Client the token was issued to.
    pub client_id: String,
    /// Email of the user.
    pub email: String,
    /// Granted scope.
    pub scope: String,
}

/// The token of an `Authorization: Bearer …` (or GitHub's `token …`) header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    known.then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The user `token` (a signed access token or an opaque GitHub token) was issued for.
pub(crate) fn resolve_user(
    state: &AppState,
    provider: &Provider,
    token: Option<&str>,
) -> Result<User, ProtocolError> {
    let token = token.ok_or_else(|| ProtocolError::invalid_token("a bearer token is required"))?;
    if let Some(record) = state
        .store
        .get::<GithubTokenRecord>(Kind::GithubToken, token)?
    {
        if record.provider == provider.name {
            return provider
                .user_by_email(&record.email)
                .cloned()
                .ok_or_else(|| ProtocolError::invalid_token("the user no longer exists"));
        }
    }
    let claims = verify_access_token(state, &provider.name, token)
        .ok_or_else(|| ProtocolError::invalid_token("the token is invalid or expired"))?;
    if !claims.has_user {
        return Err(ProtocolError::invalid_token(format!(
            "the token was issued to client `{}` by client_credentials and has no user",
            claims.client_id
        )));
    }
    provider
        .user_by_sub(&claims.sub)
        .cloned()
        .ok_or_else(|| ProtocolError::invalid_token("the user no longer exists"))
}
