//! The API's extractors: axum's `Json`, `Query` and `Path` with their rejections answered as
//! the API's `{code, message}` errors (code `usage`, with the status axum gives the rejection:
//! 400 for a malformed body, query string or path, 415 for a body that is not
//! `application/json`, 422 for JSON of the wrong shape, 413 for a body over the limit), so
//! that no answer of the API is plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

use super::frames::ApiError;

/// An error answer of bad input with its own status: `{code: "usage", message}` (`failed` for
/// a 5xx status, which only a route's own mistake can give).
pub fn rejection_response(status: StatusCode, message: String) -> Response {
    let code = if status.is_server_error() {
        "failed"
    } else {
        "usage"
    };
    let body = ApiError {
        code: code.into(),
        message,
    };
    (status, Json(body)).into_response()
}

/// A JSON object body decoded into `T`. An empty body stands for `{}` (so a request of only
/// optional fields needs none); anything else must be sent as `application/json` (else 415),
/// be JSON (else 400), be an object (else 400) and fit `T` (else 422, naming the field).
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = is_json(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            rejection_response(e.status(), format!("request body: {}", e.body_text()))
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return serde_json::from_str::<T>("{}").map(Body).map_err(|e| {
                rejection_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("request body: it is empty, and {}", without_position(&e)),
                )
            });
        }
        if !json_type {
            return Err(rejection_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request body: send it with `Content-Type: application/json`".into(),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            rejection_response(
                StatusCode::BAD_REQUEST,
                format!("request body: it is not JSON: {e}"),
            )
        })?;
        if !value.is_object() {
            return Err(rejection_response(
                StatusCode::BAD_REQUEST,
                format!(
                    "request body: it must be a JSON object of the request's fields, not {}",
                    kind(&value)
                ),
            ));
        }
        // axum's own decoding, which names the field at fault (`alias: invalid type: ...`).
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(rejection_response(
                e.status(),
                format!("request body: {}", e.body_text()),
            )),
        }
    }
}

/// A query string decoded into `T` (400 naming the parameter at fault).
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e| rejection_response(e.status(), e.body_text()))
    }
}

/// Path parameters decoded into `T` (400 naming the parameter at fault).
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| rejection_response(e.status(), e.body_text()))
    }
}

/// The answer to a known route asked with a method it does not serve: 405 in the API's error
/// shape.
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    rejection_response(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not serve {method}; see docs/openapi.yaml for its methods",
            uri.path()
        ),
    )
}

/// Whether the request says its body is JSON (`application/json` or `application/…+json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// What a JSON value is, for messages.
fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A decoding error's message without serde's ` at line L column C` (meaningless for a body
/// that was not sent).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_are_recognised() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn an_empty_body_names_the_missing_field_without_a_position() {
        #[derive(Debug, serde::Deserialize)]
        struct R {
            #[allow(dead_code)]
            tag: String,
        }
        let e = serde_json::from_str::<R>("{}").unwrap_err();
        assert_eq!(without_position(&e), "missing field `tag`");
    }
}
