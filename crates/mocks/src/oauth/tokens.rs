//! Signed JWTs: RS256 id tokens and access tokens, and checking access tokens that come back.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::config::User;
use super::protocol_error::ProtocolError;
use super::store::random_token;
use super::AppState;

/// Lifetime of access and id tokens, in seconds.
pub(crate) const TOKEN_LIFETIME: u64 = 3600;

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The claims of an access token this server issued.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AccessClaims {
    /// The user's subject, or the client id for client credentials.
    pub sub: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Whether a user (rather than the client itself) is the subject.
    #[serde(default)]
    pub has_user: bool,
}

fn sign(state: &AppState, typ: &str, claims: &Map<String, Value>) -> Result<String, ProtocolError> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(state.key.kid.clone());
    header.typ = Some(typ.to_string());
    jsonwebtoken::encode(&header, claims, &state.key.encoding)
        .map_err(|e| ProtocolError::server(format!("signing a token failed: {e}")))
}

/// Issues an access token for `user` (or for the client itself when `user` is `None`).
pub(crate) fn access_token(
    state: &AppState,
    provider: &str,
    client_id: &str,
    user: Option<&User>,
    scope: &str,
) -> Result<String, ProtocolError> {
    let iat = now();
    let mut claims = Map::new();
    claims.insert("iss".into(), state.issuer(provider).into());
    claims.insert(
        "sub".into(),
        user.map_or(client_id, |u| u.sub.as_str()).into(),
    );
    claims.insert("aud".into(), client_id.into());
    claims.insert("client_id".into(), client_id.into());
    claims.insert("has_user".into(), user.is_some().into());
    claims.insert("scope".into(), scope.into());
    claims.insert("iat".into(), iat.into());
    claims.insert("exp".into(), (iat + TOKEN_LIFETIME).into());
    claims.insert("jti".into(), random_token(16).into());
    sign(state, "at+jwt", &claims)
}

/// Issues an OpenID Connect id token for `user`, bound to `access_token` by `at_hash`.
pub(crate) fn id_token(
    state: &AppState,
    provider: &str,
    client_id: &str,
    user: &User,
    nonce: Option<&str>,
    access_token: &str,
) -> Result<String, ProtocolError> {
    let iat = now();
    let mut claims = user.claims();
    claims.insert("iss".into(), state.issuer(provider).into());
    claims.insert("aud".into(), client_id.into());
    claims.insert("azp".into(), client_id.into());
    claims.insert("iat".into(), iat.into());
    claims.insert("auth_time".into(), iat.into());
    claims.insert("exp".into(), (iat + TOKEN_LIFETIME).into());
    let digest = Sha256::digest(access_token.as_bytes());
    claims.insert(
        "at_hash".into(),
        URL_SAFE_NO_PAD.encode(&digest[..16]).into(),
    );
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    sign(state, "JWT", &claims)
}

/// The claims of `token` if it is an unexpired access token of `provider`'s issuer.
pub(crate) fn verify_access_token(
    state: &AppState,
    provider: &str,
    token: &str,
) -> Option<AccessClaims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.typ.as_deref() != Some("at+jwt") {
        return None;
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&[state.issuer(provider)]);
    jsonwebtoken::decode::<AccessClaims>(token, &state.key.decoding, &validation)
        .ok()
        .map(|data| data.claims)
}
