//! API keys: `Authorization: Bearer sk_test_…` or basic auth with the key as user name.
//! Test secret and restricted keys work everywhere; publishable keys only on the
//! endpoints Stripe.js calls.

use axum::http::{HeaderMap, Method};
use base64::Engine;

use super::api_error::ApiError;

/// Checks the request's API key for the endpoint `segs` (path after `/v1/`).
pub(crate) fn check(headers: &HeaderMap, method: &Method, segs: &[&str]) -> Result<(), ApiError> {
    let key = key_of(headers).ok_or_else(|| {
        ApiError::auth("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.")
    })?;
    let usable = |prefix: &str| key.len() > prefix.len() && key.starts_with(prefix);
    if usable("sk_test_") || usable("rk_test_") {
        return Ok(());
    }
    if usable("pk_test_") {
        let allowed = match segs {
            ["payment_methods"] => method == Method::POST,
            ["payment_intents" | "setup_intents", _] => method == Method::GET,
            ["payment_intents" | "setup_intents", _, "confirm"] => method == Method::POST,
            _ => false,
        };
        if allowed {
            return Ok(());
        }
        return Err(ApiError::auth("This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."));
    }
    Err(ApiError::auth(format!(
        "Invalid API Key provided: {}",
        mask(&key)
    )))
}

fn key_of(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    if let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    {
        return Some(token.trim().to_string()).filter(|t| !t.is_empty());
    }
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split(':').next().unwrap_or_default().to_string();
    Some(user).filter(|u| !u.is_empty())
}

fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", value.parse().unwrap());
        h
    }

    #[test]
    fn keys_are_checked() {
        assert!(check(&headers("Bearer sk_test_123"), &Method::GET, &["charges"]).is_ok());
        assert!(check(&HeaderMap::new(), &Method::GET, &["charges"]).is_err());
        let live = check(
            &headers("Bearer sk_live_1234567890abcd"),
            &Method::GET,
            &["charges"],
        )
        .unwrap_err();
        assert_eq!(live.status, 401);
        assert!(
            live.message.contains("sk_live_**********abcd"),
            "{}",
            live.message
        );
        // basic auth: "sk_test_abc:" base64
        assert!(check(
            &headers("Basic c2tfdGVzdF9hYmM6"),
            &Method::GET,
            &["charges"]
        )
        .is_ok());
        assert!(check(
            &headers("Bearer pk_test_1"),
            &Method::POST,
            &["payment_methods"]
        )
        .is_ok());
        assert!(check(&headers("Bearer pk_test_1"), &Method::GET, &["charges"]).is_err());
    }
}
