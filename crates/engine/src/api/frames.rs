//! What the API streams back for an operation, one JSON object per line: progress events
//! while it runs, then exactly one result or error.

use serde::{Deserialize, Serialize};

use crate::error::EngineError;
use crate::progress::Event;

/// One line of an operation's stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    /// Progress.
    Event {
        /// Milliseconds since the Unix epoch.
        at_ms: u64,
        /// The test run it belongs to, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<String>,
        /// What happened.
        event: Event,
    },
    /// The operation's result.
    Result {
        /// Its value (shape per operation, see docs/openapi.yaml).
        value: serde_json::Value,
    },
    /// The operation failed.
    Error(ApiError),
}

/// An API error: a typed code and a message that says what to do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    /// `usage`, `not_found`, `forbidden`, `cancelled`, `daemon` or `failed`.
    pub code: String,
    /// What went wrong and how to fix it.
    pub message: String,
}

impl From<&EngineError> for ApiError {
    fn from(e: &EngineError) -> ApiError {
        ApiError {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

impl From<ApiError> for EngineError {
    fn from(e: ApiError) -> EngineError {
        EngineError::from_code(&e.code, e.message)
    }
}

/// Milliseconds since the Unix epoch, for event timestamps.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_error_keeps_one_prefix_across_the_wire() {
        let e = EngineError::Supervisor("host port 5432 for db is in use".into());
        let back = EngineError::from(ApiError::from(&e));
        assert_eq!(
            back.to_string(),
            "supervisor: host port 5432 for db is in use"
        );
    }

    #[test]
    fn error_codes_survive_the_wire() {
        let e = EngineError::NotFound("environment e9 does not exist".into());
        let line = serde_json::to_string(&Frame::Error(ApiError::from(&e))).unwrap();
        assert_eq!(
            line,
            r#"{"type":"error","code":"not_found","message":"environment e9 does not exist"}"#
        );
        let back: Frame = serde_json::from_str(&line).unwrap();
        let Frame::Error(api) = back else {
            panic!("not an error frame: {line}")
        };
        let e = EngineError::from(api);
        assert_eq!(e.code(), "not_found");
        assert_eq!(e.http_status(), 404);
        assert!(!e.is_usage());
        assert!(EngineError::from_code("usage", "x".into()).is_usage());
    }

    #[test]
    fn events_are_tagged_by_kind() {
        let f = Frame::Event {
            at_ms: 5,
            run: Some("r1".into()),
            event: Event::Warning("careful".into()),
        };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["event"]["kind"], "warning");
        assert_eq!(v["event"]["data"], "careful");
        assert_eq!(v["run"], "r1");
    }
}
