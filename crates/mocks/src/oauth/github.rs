//! GitHub-shaped OAuth endpoints for apps that speak GitHub OAuth: authorize, access token
//! (form or JSON answer by `Accept`, errors as HTTP 200 bodies like GitHub) and the
//! `/user` and `/user/emails` API calls.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{json, Value};

use super::authorize::{authorize as authorize_request, Flavor};
use super::bearer::{bearer_token, resolve_user, GithubTokenRecord};
use super::client_auth::authenticate;
use super::config::{Provider, User};
use super::grants::redeem_code;
use super::params::{add_body, add_form, Params};
use super::protocol_error::ProtocolError;
use super::store::Kind;
use super::AppState;

const PROVIDER: &str = "github";
const DOCS: &str = "https://docs.github.com/apps/oauth-apps";

type Shared = State<Arc<AppState>>;

/// Failures of the GitHub-shaped endpoints, answered the way GitHub does.
enum GithubError {
    /// The `github` provider is not configured.
    NotConfigured,
    /// The API token is missing, unknown or expired.
    BadCredentials,
    /// The data directory failed.
    Server(ProtocolError),
}

impl IntoResponse for GithubError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            GithubError::NotConfigured => (StatusCode::NOT_FOUND, "Not Found"),
            GithubError::BadCredentials => (StatusCode::UNAUTHORIZED, "Bad credentials"),
            GithubError::Server(e) => return e.into_response(),
        };
        let body =
            json!({"message": message, "documentation_url": DOCS, "status": status.as_str()});
        (status, Json(body)).into_response()
    }
}

fn github(state: &AppState) -> Result<&Provider, GithubError> {
    state
        .settings
        .provider(PROVIDER)
        .ok_or(GithubError::NotConfigured)
}

/// `GET /github/login/oauth/authorize`.
pub(crate) async fn authorize(State(state): Shared, RawQuery(query): RawQuery) -> Response {
    let mut params = Params::new();
    add_form(&mut params, query.unwrap_or_default().as_bytes());
    authorize_request(&state, PROVIDER, &params, Flavor::Github)
}

/// `POST /github/login/oauth/access_token`.
pub(crate) async fn access_token(
    State(state): Shared,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let provider = match github(&state) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut params = Params::new();
    add_body(&mut params, &headers, &body);
    add_form(&mut params, query.unwrap_or_default().as_bytes());
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("json"));
    let issued = authenticate(provider, &headers, &params)
        .and_then(|auth| redeem_code(&state, provider, auth, &params))
        .and_then(|(record, user)| {
            let token = format!("gho_{}", Alphanumeric.sample_string(&mut rand::rng(), 36));
            state.store.put(
                Kind::GithubToken,
                &token,
                &GithubTokenRecord {
                    provider: PROVIDER.into(),
                    client_id: record.client_id,
                    email: user.email,
                    scope: record.scope.clone(),
                },
            )?;
            Ok(vec![
                ("access_token", token),
                ("scope", record.scope),
                ("token_type", "bearer".to_string()),
            ])
        });
    let pairs = match issued {
        Ok(pairs) => pairs,
        Err(e) if e.status.is_server_error() => return e.into_response(),
        Err(e) => {
            let error = match e.error {
                "invalid_client" => "incorrect_client_credentials",
                _ => "bad_verification_code",
            };
            vec![
                ("error", error.to_string()),
                ("error_description", e.description),
                ("error_uri", DOCS.to_string()),
            ]
        }
    };
    if wants_json {
        let map: serde_json::Map<String, Value> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect();
        return Json(Value::Object(map)).into_response();
    }
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        form.append_pair(k, v);
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        )],
        form.finish(),
    )
        .into_response()
}

fn api_user(state: &AppState, headers: &HeaderMap) -> Result<User, GithubError> {
    let provider = github(state)?;
    resolve_user(state, provider, bearer_token(headers)).map_err(|e| {
        if e.status.is_server_error() {
            GithubError::Server(e)
        } else {
            GithubError::BadCredentials
        }
    })
}

/// `GET /github/user`: the authenticated user.
pub(crate) async fn user(State(state): Shared, headers: HeaderMap) -> Response {
    let user = match api_user(&state, &headers) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let base = &state.base;
    let mut body = json!({
        "login": user.login,
        "id": user.numeric_id,
        "node_id": format!("U_{}", user.numeric_id),
        "avatar_url": format!("{base}/github/avatars/{}", user.login),
        "url": format!("{base}/github/users/{}", user.login),
        "html_url": format!("{base}/github/{}", user.login),
        "type": "User",
        "site_admin": false,
        "name": user.name,
        "email": user.email,
    });
    if let Value::Object(map) = &mut body {
        for (k, v) in &user.extra {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Json(body).into_response()
}

/// `GET /github/user/emails`: the authenticated user's addresses.
pub(crate) async fn emails(State(state): Shared, headers: HeaderMap) -> Response {
    match api_user(&state, &headers) {
        Ok(user) => Json(json!([
            {"email": user.email, "primary": true, "verified": true, "visibility": "private"}
        ]))
        .into_response(),
        Err(r) => r.into_response(),
    }
}
