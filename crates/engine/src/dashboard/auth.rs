//! The dashboard's token: random per daemon, required on every request, answered 401 without
//! it. Reads (GET) may carry it as `?token=` in the URL (the printed link, `EventSource`);
//! anything that changes something must carry it in an `Authorization: Bearer` header, which
//! a page of another origin cannot set without a CORS preflight this server never grants, so
//! a leaked link alone cannot drive actions (and a foreign `Origin` is refused outright).

use std::io::Read;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
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

/// The token a request carries, if any: from its `Authorization` header, or for a read
/// from its query too.
fn presented(request: &axum::extract::Request) -> Option<String> {
    let from_header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    if from_header.is_some() || !is_read(request) {
        return from_header;
    }
    request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_string)
    })
}

fn is_read(request: &axum::extract::Request) -> bool {
    request.method() == Method::GET || request.method() == Method::HEAD
}

/// Whether a request comes from another origin than the dashboard's own (`Origin` names a
/// different host than `Host`).
fn foreign(request: &axum::extract::Request) -> bool {
    let text = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    match (text(header::ORIGIN), text(header::HOST)) {
        (Some(origin), Some(host)) => origin
            .strip_prefix("http://")
            .is_none_or(|o| !o.eq_ignore_ascii_case(host)),
        (Some(_), None) => true,
        _ => false,
    }
}

/// Equal strings, compared in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A refused request: the API's `{code, message}` on `/api/` routes (as every answer of the
/// API is), a line of text on the pages.
fn refusal(api: bool, status: StatusCode, message: &str) -> Response {
    if api {
        let body = serde_json::json!({ "code": "forbidden", "message": message });
        (status, axum::Json(body)).into_response()
    } else {
        (status, format!("{}: {message}\n", status.as_u16())).into_response()
    }
}

/// Lets a request through only with the dashboard's token.
pub async fn require_token(
    State(token): State<Arc<String>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/");
    if !is_read(&request) && foreign(&request) {
        return refusal(
            api,
            StatusCode::FORBIDDEN,
            "actions are taken only from the dashboard's own page",
        );
    }
    let mut response = match presented(&request) {
        Some(t) if same(t.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ if !is_read(&request) => refusal(
            api,
            StatusCode::UNAUTHORIZED,
            "actions need the dashboard's token in an `Authorization: Bearer` header",
        ),
        _ => refusal(
            api,
            StatusCode::UNAUTHORIZED,
            "this dashboard needs its token; `vers dashboard` prints the URL with it",
        ),
    };
    // The token is in the page's URL: never send it on, never let the page be framed.
    let h = response.headers_mut();
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    response
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
        // An action must carry it in the header: a link with the token is not enough.
        let r = axum::http::Request::builder()
            .method("POST")
            .uri("/api/branches?token=abc")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(presented(&r), None);
        let r = axum::http::Request::builder()
            .method("DELETE")
            .uri("/api/branches/x")
            .header("authorization", "Bearer def")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(presented(&r).as_deref(), Some("def"));
    }

    #[test]
    fn a_foreign_origin_is_told_apart() {
        let req = |origin: Option<&str>| {
            let mut b = axum::http::Request::builder()
                .method("POST")
                .uri("/api/commit")
                .header("host", "127.0.0.1:4000");
            if let Some(o) = origin {
                b = b.header("origin", o);
            }
            b.body(axum::body::Body::empty()).unwrap()
        };
        assert!(!foreign(&req(None)));
        assert!(!foreign(&req(Some("http://127.0.0.1:4000"))));
        assert!(foreign(&req(Some("http://evil.example"))));
        assert!(foreign(&req(Some("http://127.0.0.1:4001"))));
        assert!(foreign(&req(Some("null"))));
    }
}
