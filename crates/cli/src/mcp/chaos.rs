//! Fault tools: `chaos_inject`, `chaos_recover`.

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use vers_engine::api::client::Method;
use vers_engine::api::requests::{ChaosInjectRequest, ChaosRecoverRequest, RollbackRequest};
use vers_engine::EngineError;

use super::args::{items, List, Parameters};
use super::{reply, VersMcp};

/// `chaos_inject`: every option of `vers chaos inject`, plus `intensity`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InjectArgs {
    /// Target service of HEAD.
    pub service: String,
    /// pause, kill, network-delay, network-loss, network-isolate, bandwidth, reset-peer,
    /// timeout, http-error, cpu-stress, memory-stress, disk-fill.
    pub action: String,
    /// End the fault by itself after this long, e.g. `30s` (default: until chaos_recover).
    #[serde(default)]
    pub duration: Option<String>,
    /// The action's strength in its own unit, when its own option is not given:
    /// network-delay: latency (`500ms`, or a number of milliseconds); network-loss: percent
    /// of connections dropped; bandwidth: KB/s; http-error: percent of requests.
    #[serde(default)]
    pub intensity: Option<Value>,
    /// Added latency (network-delay), e.g. `500ms`.
    #[serde(default)]
    pub latency: Option<String>,
    /// Latency jitter (network-delay), e.g. `50ms`.
    #[serde(default)]
    pub jitter: Option<String>,
    /// Share of connections dropped, percent (network-loss).
    #[serde(default)]
    pub loss: Option<f64>,
    /// Bandwidth cap in KB/s (bandwidth).
    #[serde(default)]
    pub rate: Option<u64>,
    /// HTTP status to answer with (http-error).
    #[serde(default)]
    pub status: Option<u16>,
    /// Share of requests affected, percent (http-error; default 100).
    #[serde(default)]
    pub percent: Option<f64>,
    /// Only traffic from these services (array or comma-separated).
    #[serde(default)]
    pub from: Option<List>,
}

/// `chaos_recover`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverArgs {
    /// Only this service's faults (default: all).
    #[serde(default)]
    pub service: Option<String>,
    /// Then reset HEAD's data to this checkpoint (tag or id), as vers_rollback.
    #[serde(default)]
    pub checkpoint: Option<String>,
}

impl InjectArgs {
    /// The API request: `intensity` fills the action's own option when that is absent.
    fn request(self) -> Result<ChaosInjectRequest, EngineError> {
        let mut req = ChaosInjectRequest {
            service: self.service,
            action: self.action,
            duration: self.duration,
            latency: self.latency,
            jitter: self.jitter,
            loss: self.loss,
            rate: self.rate,
            status: self.status,
            percent: self.percent,
            from: items(&self.from),
            ..ChaosInjectRequest::default()
        };
        let Some(v) = self.intensity else {
            return Ok(req);
        };
        let number = || {
            v.as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| {
                    EngineError::Manifest(format!(
                        "intensity {v}: expected a number for {}",
                        req.action
                    ))
                })
        };
        match req.action.as_str() {
            "network-delay" if req.latency.is_none() => {
                req.latency = Some(match &v {
                    Value::String(s) if vers_manifest::parse_duration(s).is_ok() => s.clone(),
                    _ => format!("{}ms", number()?.round() as u64),
                });
            }
            "network-loss" if req.loss.is_none() => req.loss = Some(number()?),
            "bandwidth" if req.rate.is_none() => req.rate = Some(number()?.round() as u64),
            "http-error" if req.percent.is_none() => req.percent = Some(number()?),
            "cpu-stress" | "memory-stress" => req.intensity = Some(number()?.round() as u32),
            "network-delay" | "network-loss" | "bandwidth" | "http-error" => {}
            other => {
                return Err(EngineError::Manifest(format!(
                    "intensity has no meaning for {other}; it sets network-delay's latency, network-loss's loss, bandwidth's rate, http-error's percent or the stress level of cpu-stress and memory-stress"
                )))
            }
        }
        Ok(req)
    }
}

#[tool_router(router = chaos_tools, vis = "pub(super)")]
impl VersMcp {
    /// Inject a fault into one service of HEAD (proxy faults, process faults, resource stress).
    #[tool]
    async fn chaos_inject(&self, Parameters(a): Parameters<InjectArgs>) -> CallToolResult {
        let result = async {
            let req = a.request()?;
            self.call(Method::POST, "/api/chaos/inject", Some(&req))
                .await
        }
        .await;
        reply(result)
    }

    /// End faults (all, or one service's) and restart what they killed; with `checkpoint`,
    /// then reset HEAD's data to that checkpoint.
    #[tool]
    async fn chaos_recover(&self, Parameters(a): Parameters<RecoverArgs>) -> CallToolResult {
        let result = async {
            let req = ChaosRecoverRequest {
                service: a.service,
                checkpoint: None,
            };
            let mut answer = self
                .call(Method::POST, "/api/chaos/recover", Some(&req))
                .await?;
            if let Some(target) = a.checkpoint {
                let req = RollbackRequest { target };
                let rolled = self.call(Method::POST, "/api/rollback", Some(&req)).await?;
                answer["rollback"] = rolled;
            }
            Ok(answer)
        }
        .await;
        reply(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(action: &str, intensity: Value) -> InjectArgs {
        serde_json::from_value(serde_json::json!({
            "service": "redis", "action": action, "intensity": intensity
        }))
        .unwrap()
    }

    #[test]
    fn intensity_sets_the_actions_own_option() {
        let r = args("network-delay", serde_json::json!(250))
            .request()
            .unwrap();
        assert_eq!(r.latency.as_deref(), Some("250ms"));
        let r = args("network-delay", serde_json::json!("2s"))
            .request()
            .unwrap();
        assert_eq!(r.latency.as_deref(), Some("2s"));
        let r = args("network-loss", serde_json::json!("30"))
            .request()
            .unwrap();
        assert_eq!(r.loss, Some(30.0));
        let r = args("bandwidth", serde_json::json!(64)).request().unwrap();
        assert_eq!(r.rate, Some(64));
        let r = args("cpu-stress", serde_json::json!(60)).request().unwrap();
        assert_eq!(r.intensity, Some(60));
        let e = args("kill", serde_json::json!(5)).request().unwrap_err();
        assert!(e.to_string().contains("no meaning for kill"), "{e}");
        let e = args("network-loss", serde_json::json!("lots"))
            .request()
            .unwrap_err();
        assert!(e.to_string().contains("expected a number"), "{e}");
    }
}
