//! The token endpoint's grants: authorization code (with PKCE), refresh token and client
//! credentials.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::authorize::{record_is_live, CodeRecord};
use super::client_auth::ClientAuth;
use super::config::{Provider, User};
use super::params::{get, Params};
use super::pkce;
use super::protocol_error::ProtocolError;
use super::store::{random_token, Kind};
use super::tokens::{access_token, id_token, TOKEN_LIFETIME};
use super::AppState;

/// What a refresh token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RefreshRecord {
    /// Provider that issued the token.
    pub provider: String,
    /// Client the token was issued to.
    pub client_id: String,
    /// Email of the user.
    pub email: String,
    /// Granted scope.
    pub scope: String,
}

/// Redeems the authorization code in `params` once, checking client, redirect URI and PKCE.
pub(crate) fn redeem_code(
    state: &AppState,
    provider: &Provider,
    auth: ClientAuth,
    params: &Params,
) -> Result<(CodeRecord, User), ProtocolError> {
    let code = get(params, "code")
        .ok_or_else(|| ProtocolError::bad_request("invalid_request", "code is required"))?;
    let record: CodeRecord = state.store.get(Kind::Code, code)?.ok_or_else(|| {
        ProtocolError::bad_request("invalid_grant", "unknown or already used code")
    })?;
    if !record_is_live(&record, provider) {
        return Err(ProtocolError::bad_request(
            "invalid_grant",
            "the code expired or was issued to another client",
        ));
    }
    if auth == ClientAuth::Public && record.challenge.is_none() {
        return Err(ProtocolError::invalid_client(
            "client_secret is required for a code issued without code_challenge",
            false,
        ));
    }
    if let Some(expected) = &record.redirect_uri {
        if get(params, "redirect_uri") != Some(expected.as_str()) {
            return Err(ProtocolError::bad_request(
                "invalid_grant",
                "redirect_uri does not match the authorization request",
            ));
        }
    }
    match (&record.challenge, get(params, "code_verifier")) {
        (None, None) => {}
        (Some(_), None) => {
            return Err(ProtocolError::bad_request(
                "invalid_grant",
                "code_verifier is required",
            ))
        }
        (None, Some(_)) => {
            return Err(ProtocolError::bad_request(
                "invalid_grant",
                "code_verifier sent for a code issued without code_challenge",
            ))
        }
        (Some((method, challenge)), Some(verifier)) => {
            if !pkce::verifier_is_well_formed(verifier) {
                return Err(ProtocolError::bad_request(
                    "invalid_request",
                    "code_verifier must be 43 to 128 unreserved characters",
                ));
            }
            if !pkce::verify(*method, challenge, verifier) {
                return Err(ProtocolError::bad_request(
                    "invalid_grant",
                    "code_verifier does not match code_challenge",
                ));
            }
        }
    }
    let user = provider
        .user_by_email(&record.email)
        .cloned()
        .ok_or_else(|| ProtocolError::bad_request("invalid_grant", "the user no longer exists"))?;
    if !state.store.take(Kind::Code, code)? {
        return Err(ProtocolError::bad_request(
            "invalid_grant",
            "code already used",
        ));
    }
    Ok((record, user))
}

/// Runs the grant named by `grant_type` and answers with the token response.
pub(crate) fn token_response(
    state: &AppState,
    provider: &Provider,
    auth: ClientAuth,
    params: &Params,
) -> Result<Response, ProtocolError> {
    let body = match get(params, "grant_type") {
        Some("authorization_code") => {
            let (record, user) = redeem_code(state, provider, auth, params)?;
            let refresh = random_token(32);
            state.store.put(
                Kind::Refresh,
                &refresh,
                &RefreshRecord {
                    provider: provider.name.clone(),
                    client_id: record.client_id.clone(),
                    email: user.email.clone(),
                    scope: record.scope.clone(),
                },
            )?;
            user_tokens(
                state,
                provider,
                &user,
                &record.scope,
                record.nonce.as_deref(),
                refresh,
            )?
        }
        Some("refresh_token") => {
            let refresh = get(params, "refresh_token").ok_or_else(|| {
                ProtocolError::bad_request("invalid_request", "refresh_token is required")
            })?;
            let record = state
                .store
                .get::<RefreshRecord>(Kind::Refresh, refresh)?
                .filter(|r| r.provider == provider.name && r.client_id == provider.client_id)
                .ok_or_else(|| {
                    ProtocolError::bad_request("invalid_grant", "unknown refresh_token")
                })?;
            let user = provider.user_by_email(&record.email).ok_or_else(|| {
                ProtocolError::bad_request("invalid_grant", "the user no longer exists")
            })?;
            user_tokens(
                state,
                provider,
                user,
                &record.scope,
                None,
                refresh.to_string(),
            )?
        }
        Some("client_credentials") => {
            if auth != ClientAuth::Confidential {
                return Err(ProtocolError::invalid_client(
                    "client_credentials needs the client_secret",
                    false,
                ));
            }
            let scope = get(params, "scope").unwrap_or_default();
            let token = access_token(state, &provider.name, &provider.client_id, None, scope)?;
            json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "scope": scope})
        }
        Some(other) => {
            return Err(ProtocolError::bad_request(
                "unsupported_grant_type",
                format!("grant_type `{other}` is not supported"),
            ))
        }
        None => {
            return Err(ProtocolError::bad_request(
                "invalid_request",
                "grant_type is required",
            ))
        }
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn user_tokens(
    state: &AppState,
    provider: &Provider,
    user: &User,
    scope: &str,
    nonce: Option<&str>,
    refresh: String,
) -> Result<Value, ProtocolError> {
    let access = access_token(
        state,
        &provider.name,
        &provider.client_id,
        Some(user),
        scope,
    )?;
    let id = id_token(
        state,
        &provider.name,
        &provider.client_id,
        user,
        nonce,
        &access,
    )?;
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "refresh_token": refresh,
        "id_token": id,
        "scope": scope,
    }))
}
