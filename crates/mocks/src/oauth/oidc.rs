//! HTTP handlers of the OpenID Connect issuer of each provider.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::authorize::{authorize as authorize_request, Flavor};
use super::bearer::{bearer_token, resolve_user};
use super::client_auth::authenticate;
use super::config::Provider;
use super::grants::token_response;
use super::params::{add_body, add_form, Params};
use super::AppState;

type Shared = State<Arc<AppState>>;

/// Answer for a path naming a provider that is not configured.
struct UnknownProvider(String);

impl IntoResponse for UnknownProvider {
    fn into_response(self) -> Response {
        let description = format!("no provider named `{}`", self.0);
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "error_description": description})),
        )
            .into_response()
    }
}

fn provider<'a>(state: &'a AppState, name: &str) -> Result<&'a Provider, UnknownProvider> {
    state
        .settings
        .provider(name)
        .ok_or_else(|| UnknownProvider(name.to_string()))
}

/// `GET /`: the providers and their issuers.
pub(crate) async fn index(State(state): Shared) -> Json<Value> {
    let providers: Vec<Value> = state
        .settings
        .providers
        .iter()
        .map(|p| {
            let issuer = state.issuer(&p.name);
            json!({"name": p.name, "issuer": issuer,
                   "discovery": format!("{issuer}/.well-known/openid-configuration")})
        })
        .collect();
    Json(json!({ "providers": providers }))
}

/// `GET /{provider}/.well-known/openid-configuration`.
pub(crate) async fn discovery(State(state): Shared, Path(name): Path<String>) -> Response {
    if let Err(r) = provider(&state, &name) {
        return r.into_response();
    }
    let issuer = state.issuer(&name);
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "offline_access"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
                             "email", "email_verified", "name", "given_name", "family_name",
                             "preferred_username"],
    }))
    .into_response()
}

/// `GET /{provider}/authorize`.
pub(crate) async fn authorize(
    State(state): Shared,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut params = Params::new();
    add_form(&mut params, query.unwrap_or_default().as_bytes());
    authorize_request(&state, &name, &params, Flavor::Oidc)
}

/// `POST /{provider}/authorize` with a form body.
pub(crate) async fn authorize_form(
    State(state): Shared,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = Params::new();
    add_body(&mut params, &headers, &body);
    add_form(&mut params, query.unwrap_or_default().as_bytes());
    authorize_request(&state, &name, &params, Flavor::Oidc)
}

/// `POST /{provider}/token`.
pub(crate) async fn token(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let provider = match provider(&state, &name) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut params = Params::new();
    add_body(&mut params, &headers, &body);
    authenticate(provider, &headers, &params)
        .and_then(|auth| token_response(&state, provider, auth, &params))
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET|POST /{provider}/userinfo` with a bearer access token.
pub(crate) async fn userinfo(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let provider = match provider(&state, &name) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    match resolve_user(&state, provider, bearer_token(&headers)) {
        Ok(user) => Json(Value::Object(user.claims())).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /{provider}/jwks`: the public signing key.
pub(crate) async fn jwks(State(state): Shared, Path(name): Path<String>) -> Response {
    if let Err(r) = provider(&state, &name) {
        return r.into_response();
    }
    Json(json!({"keys": [state.key.jwk.clone()]})).into_response()
}
