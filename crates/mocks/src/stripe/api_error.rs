//! Stripe error objects (`{"error": {type, code, decline_code, message, param}}`) with the
//! HTTP status Stripe uses for each kind.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

/// An API error answered to the client as a Stripe error object (boxed: errors travel
/// through many `Result`s).
#[derive(Debug, Clone)]
pub(crate) struct ApiError(Box<ErrorFields>);

/// The fields of an [`ApiError`].
#[derive(Debug, Clone)]
pub(crate) struct ErrorFields {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Stripe error `type` (`invalid_request_error`, `card_error`, ...).
    pub kind: &'static str,
    /// Stripe error `code`.
    pub code: Option<String>,
    /// Card `decline_code`.
    pub decline_code: Option<String>,
    /// Human-readable message.
    pub message: String,
    /// The parameter at fault.
    pub param: Option<String>,
    /// Objects attached to the error (`payment_intent`, `charge`, `payment_method`, ...).
    pub extra: Map<String, Value>,
}

impl std::ops::Deref for ApiError {
    type Target = ErrorFields;
    fn deref(&self) -> &ErrorFields {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorFields {
        &mut self.0
    }
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError(Box::new(ErrorFields {
            status,
            kind,
            code: None,
            decline_code: None,
            message: message.into(),
            param: None,
            extra: Map::new(),
        }))
    }

    /// A 400 `invalid_request_error` about `param`.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        e.param = Some(param.to_string());
        e
    }

    /// A 400 `invalid_request_error` with an error code and no parameter.
    pub fn request(code: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        e.code = Some(code.to_string());
        e
    }

    /// A 400 for a required parameter that is missing.
    pub fn missing_param(param: &str) -> Self {
        Self::invalid(param, format!("Missing required param: {param}."))
            .with_code("parameter_missing")
    }

    /// A 404 `resource_missing` for `id` of the given object kind.
    pub fn no_such(what: &str, id: &str, param: Option<&str>) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("No such {what}: '{id}'"),
        );
        e.code = Some("resource_missing".to_string());
        e.param = param.map(str::to_string);
        e
    }

    /// A 404 for a URL that names no endpoint.
    pub fn unknown_url(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."),
        )
    }

    /// A 401 for a missing or unusable API key.
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
    }

    /// A 400 `idempotency_error` for a key reused with other parameters.
    pub fn idempotency(key: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."),
        )
    }

    /// A 402 `card_error`.
    pub fn card(code: &str, decline_code: Option<&str>, message: &str) -> Self {
        let mut e = Self::new(StatusCode::PAYMENT_REQUIRED, "card_error", message);
        e.code = Some(code.to_string());
        e.decline_code = decline_code.map(str::to_string);
        e
    }

    /// A 500 `api_error` (the mock could not persist its state).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "api_error", message)
    }

    /// Sets the error code.
    pub fn with_code(mut self, code: &str) -> Self {
        self.code = Some(code.to_string());
        self
    }

    /// Sets the parameter at fault.
    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }

    /// Attaches an object (`payment_intent`, `charge`, ...) to the error.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }

    /// The JSON body of the answer.
    pub fn body(&self, request_id: &str) -> Value {
        let mut err = Map::new();
        err.insert("type".into(), json!(self.kind));
        err.insert("message".into(), json!(self.message));
        if let Some(code) = &self.code {
            err.insert("code".into(), json!(code));
            err.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        if let Some(dc) = &self.decline_code {
            err.insert("decline_code".into(), json!(dc));
        }
        if let Some(param) = &self.param {
            err.insert("param".into(), json!(param));
        }
        err.insert(
            "request_log_url".into(),
            json!(format!(
                "https://dashboard.stripe.com/test/logs/{request_id}"
            )),
        );
        for (k, v) in &self.extra {
            err.insert(k.clone(), v.clone());
        }
        json!({ "error": err })
    }
}
