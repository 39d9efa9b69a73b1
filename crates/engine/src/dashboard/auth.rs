//! The dashboard's token: random per daemon, required on every request (as `?token=` in the
//! URL, or an `Authorization: Bearer` header), answered 401 without it.

use std::io::Read;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::EngineError;

/// 32 random bytes from the kernel, in hex.
pub fn new_token() -> Result<String, EngineError> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| EngineError::Failed(format!("reading /dev/urandom for a token: {e}")))?;
    Ok(hex::encode(bytes))
}

/// The token a request carries, if any.
fn presented(request: &axum::extract::Request) -> Option<String> {
    let from_query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_string)
    });
    from_query.or_else(|| {
        request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string)
    })
}

/// Equal strings, compared in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Lets a request through only with the dashboard's token.
pub async fn require_token(
    State(token): State<Arc<String>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match presented(&request) {
        Some(t) if same(t.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            "401: this dashboard needs its token; `vers dashboard` prints the URL with it\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_compared_exactly() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(a.as_bytes(), a.clone().as_bytes()));
        assert!(!same(a.as_bytes(), b.as_bytes()));
        assert!(!same(a.as_bytes(), &a.as_bytes()[..63]));
    }

    #[test]
    fn the_token_is_read_from_the_query_or_a_bearer_header() {
        let r = axum::http::Request::builder()
            .uri("/ui/view?env=x&token=abc")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(presented(&r).as_deref(), Some("abc"));
        let r = axum::http::Request::builder()
            .uri("/api/status")
            .header("authorization", "Bearer def")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(presented(&r).as_deref(), Some("def"));
        let r = axum::http::Request::builder()
            .uri("/api/status?notoken=1")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(presented(&r), None);
    }
}
