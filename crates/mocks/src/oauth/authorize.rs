//! The authorization endpoint logic shared by the OpenID Connect and GitHub routes:
//! validate the client and redirect URI, pick the user non-interactively, issue a code and
//! redirect back at once.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::config::Provider;
use super::params::{get, Params};
use super::pkce::Method;
use super::store::{random_token, Kind};
use super::tokens::now;
use super::AppState;

/// Lifetime of an authorization code, in seconds.
const CODE_LIFETIME: u64 = 600;

/// What an authorization code stands for, stored until it is redeemed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CodeRecord {
    /// Provider that issued the code.
    pub provider: String,
    /// Client the code was issued to.
    pub client_id: String,
    /// The `redirect_uri` sent to the authorize endpoint, which the token request must repeat.
    pub redirect_uri: Option<String>,
    /// Requested scope.
    pub scope: String,
    /// OpenID Connect nonce to put in the id token.
    pub nonce: Option<String>,
    /// PKCE challenge and its method.
    pub challenge: Option<(Method, String)>,
    /// Email of the user who logged in.
    pub email: String,
    /// Expiry, in seconds since the Unix epoch.
    pub expires_at: u64,
}

/// Which flavour of authorize endpoint is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// OpenID Connect: `response_type=code` required, `login_hint` picks the user.
    Oidc,
    /// GitHub: no `response_type`, `login` (or `login_hint`) picks the user.
    Github,
}

/// Answers an authorization request: a redirect carrying a code or an error, or a 400 page
/// when the client or redirect URI cannot be trusted.
pub(crate) fn authorize(
    state: &AppState,
    provider: &str,
    params: &Params,
    flavor: Flavor,
) -> Response {
    let Some(provider) = state.settings.provider(provider) else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("no provider named `{provider}`"),
        );
    };
    match get(params, "client_id") {
        Some(id) if id == provider.client_id => {}
        Some(id) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("unknown client_id `{id}`"),
            )
        }
        None => return error_page(StatusCode::BAD_REQUEST, "client_id is required"),
    }
    let given_redirect = get(params, "redirect_uri");
    let redirect = match redirect_target(&state.settings.callback_urls, given_redirect) {
        Ok(uri) => uri,
        Err(message) => return error_page(StatusCode::BAD_REQUEST, &message),
    };
    let state_param = get(params, "state");
    let fail = |error: &str, description: &str| {
        redirect_with(
            &redirect,
            &[("error", error), ("error_description", description)],
            state_param,
        )
    };
    if flavor == Flavor::Oidc || params.contains_key("response_type") {
        match get(params, "response_type") {
            Some("code") => {}
            _ => {
                return fail(
                    "unsupported_response_type",
                    "only response_type=code is supported",
                )
            }
        }
    }
    let challenge = match get(params, "code_challenge") {
        None => None,
        Some(challenge) => match Method::parse(get(params, "code_challenge_method")) {
            Some(method) => Some((method, challenge.to_string())),
            None => {
                return fail(
                    "invalid_request",
                    "code_challenge_method must be S256 or plain",
                )
            }
        },
    };
    let hint = get(params, "login_hint").or_else(|| match flavor {
        Flavor::Github => get(params, "login"),
        Flavor::Oidc => None,
    });
    let Some(user) = provider.pick_user(hint) else {
        let error = match flavor {
            Flavor::Oidc => "login_required",
            Flavor::Github => "access_denied",
        };
        return fail(error, "no configured user matches the login hint");
    };
    let record = CodeRecord {
        provider: provider.name.clone(),
        client_id: provider.client_id.clone(),
        redirect_uri: given_redirect.map(str::to_string),
        scope: get(params, "scope").unwrap_or_default().to_string(),
        nonce: get(params, "nonce").map(str::to_string),
        challenge,
        email: user.email.clone(),
        expires_at: now() + CODE_LIFETIME,
    };
    let code = random_token(32);
    if let Err(e) = state.store.put(Kind::Code, &code, &record) {
        tracing::error!("oauth-mock: {e}");
        return fail("server_error", "the code could not be stored");
    }
    redirect_with(&redirect, &[("code", &code)], state_param)
}

/// The URI to send the browser back to, or why there is none that can be trusted.
fn redirect_target(callback_urls: &[String], given: Option<&str>) -> Result<String, String> {
    match given {
        Some(uri) if callback_urls.is_empty() || callback_urls.iter().any(|c| c == uri) => {
            if uri.contains("://") && !uri.contains('#') {
                Ok(uri.to_string())
            } else {
                Err(format!(
                    "redirect_uri `{uri}` is not an absolute URI without fragment"
                ))
            }
        }
        Some(uri) => Err(format!(
            "redirect_uri `{uri}` is not one of the configured callback_urls ({})",
            callback_urls.join(", ")
        )),
        None if callback_urls.len() == 1 => Ok(callback_urls[0].clone()),
        None => Err("redirect_uri is required".to_string()),
    }
}

/// A 302 to `uri` with `pairs` and `state` added to its query.
fn redirect_with(uri: &str, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    if let Some(s) = state {
        query.append_pair("state", s);
    }
    let separator = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{separator}{}", query.finish());
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// An HTML error page (never a redirect).
fn error_page(status: StatusCode, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        "<!doctype html><html><head><title>oauth-mock: authorization error</title></head>\
         <body><h1>Authorization error</h1><p>{escaped}</p></body></html>"
    );
    (status, Html(body)).into_response()
}

/// Whether `provider` may still redeem `record` for `client_id`.
pub(crate) fn record_is_live(record: &CodeRecord, provider: &Provider) -> bool {
    record.provider == provider.name
        && record.client_id == provider.client_id
        && record.expires_at > now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        let urls = vec!["http://app/cb".to_string()];
        assert_eq!(
            redirect_target(&urls, Some("http://app/cb")).unwrap(),
            "http://app/cb"
        );
        assert!(redirect_target(&urls, Some("http://evil/cb")).is_err());
        assert_eq!(redirect_target(&urls, None).unwrap(), "http://app/cb");
        assert!(redirect_target(&[], None).is_err());
        assert!(redirect_target(&[], Some("http://any/x")).is_ok());
        assert!(redirect_target(&[], Some("relative")).is_err());
    }

    #[test]
    fn redirect_keeps_existing_query() {
        let r = redirect_with("http://a/cb?x=1", &[("code", "c d")], Some("s"));
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(
            r.headers()[header::LOCATION],
            "http://a/cb?x=1&code=c+d&state=s"
        );
    }
}
