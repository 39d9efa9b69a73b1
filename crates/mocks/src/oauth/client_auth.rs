//! Client authentication at the token endpoint: `client_secret_basic`,
//! `client_secret_post`, or a public client (`none`) identified by `client_id` alone.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::config::Provider;
use super::params::{self, Params};
use super::protocol_error::ProtocolError;

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// The client proved it knows the secret.
    Confidential,
    /// The client sent only its id (allowed for PKCE-bound codes and their refresh tokens).
    Public,
}

/// Authenticates the client of `provider` from the `Authorization` header or the body.
pub(crate) fn authenticate(
    provider: &Provider,
    headers: &HeaderMap,
    params: &Params,
) -> Result<ClientAuth, ProtocolError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    let (id, secret, used_basic) = match basic {
        Some(encoded) => {
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ProtocolError::invalid_client("malformed Basic credentials", true)
                })?;
            let (id, secret) = decoded.split_once(':').ok_or_else(|| {
                ProtocolError::invalid_client("malformed Basic credentials", true)
            })?;
            (
                params::form_decode(id),
                Some(params::form_decode(secret)),
                true,
            )
        }
        None => {
            let id = params::get(params, "client_id").ok_or_else(|| {
                ProtocolError::invalid_client("client authentication is required", false)
            })?;
            (
                id.to_string(),
                params::get(params, "client_secret").map(str::to_string),
                false,
            )
        }
    };
    if id != provider.client_id {
        return Err(ProtocolError::invalid_client(
            format!("unknown client_id `{id}`"),
            used_basic,
        ));
    }
    match secret {
        None => Ok(ClientAuth::Public),
        Some(s) if s == provider.client_secret => Ok(ClientAuth::Confidential),
        Some(_) => Err(ProtocolError::invalid_client(
            "wrong client_secret",
            used_basic,
        )),
    }
}
