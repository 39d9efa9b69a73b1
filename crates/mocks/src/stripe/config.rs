//! The manifest `config` block of a stripe-mock service.

use serde_json::Value;

use super::error::StripeError;

/// Settings read from the manifest `config`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// URL every event is POSTed to, if any.
    pub webhook_endpoint: Option<String>,
    /// Secret signing deliveries to `webhook_endpoint`.
    pub webhook_secret: String,
    /// The `fixtures` object (`Null` when absent).
    pub fixtures: Value,
}

/// The default signing secret, the value the seed's app uses.
pub(crate) const DEFAULT_WEBHOOK_SECRET: &str = "whsec_test";

impl Settings {
    /// Reads and checks the `config` block (which may be `Null`).
    pub fn from_config(config: &Value) -> Result<Settings, StripeError> {
        let bad = |message: String| StripeError::Config { message };
        let map = match config {
            Value::Null => return Ok(Settings::default()),
            Value::Object(map) => map,
            other => return Err(bad(format!("expected a mapping, found {other}"))),
        };
        let text = |key: &str| -> Result<Option<String>, StripeError> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(bad(format!("`{key}` must be a string, found {other}"))),
            }
        };
        let webhook_endpoint = text("webhook_endpoint")?;
        if let Some(url) = &webhook_endpoint {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(format!(
                    "`webhook_endpoint` must be an http(s) URL, found `{url}`"
                )));
            }
        }
        let webhook_secret =
            text("webhook_secret")?.unwrap_or_else(|| DEFAULT_WEBHOOK_SECRET.to_string());
        let fixtures = map.get("fixtures").cloned().unwrap_or(Value::Null);
        if !(fixtures.is_null() || fixtures.is_object()) {
            return Err(bad("`fixtures` must be a mapping".to_string()));
        }
        Ok(Settings {
            webhook_endpoint,
            webhook_secret,
            fixtures,
        })
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            webhook_endpoint: None,
            webhook_secret: DEFAULT_WEBHOOK_SECRET.to_string(),
            fixtures: Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_validation() {
        let s = Settings::from_config(&Value::Null).unwrap();
        assert_eq!(s.webhook_secret, "whsec_test");
        let s = Settings::from_config(
            &json!({"webhook_endpoint": "http://app:3000/wh", "webhook_secret": "whsec_x"}),
        )
        .unwrap();
        assert_eq!(s.webhook_endpoint.as_deref(), Some("http://app:3000/wh"));
        assert_eq!(s.webhook_secret, "whsec_x");
        assert!(Settings::from_config(&json!({"webhook_endpoint": "app:3000"})).is_err());
        assert!(Settings::from_config(&json!({"fixtures": []})).is_err());
        assert!(Settings::from_config(&json!(3)).is_err());
    }
}
