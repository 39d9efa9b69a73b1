//! The context of one API request: the state being changed, the time, and the events the
//! request produces (stored, and queued for webhook delivery).

use serde_json::{json, Value};

use super::config::Settings;
use super::ids::{new_id, now_millis};
use super::store::State;

/// The API version stamped on events and webhook endpoints.
pub(crate) const API_VERSION: &str = "2024-06-20";

/// Kind of the stored webhook deliveries that are still pending.
pub(crate) const DELIVERY: &str = "_delivery";

/// Everything a handler needs to read and change state.
pub(crate) struct Ctx<'a> {
    /// The state, changed in place; the caller commits it.
    pub st: &'a mut State,
    /// Server settings from the manifest.
    pub settings: &'a Settings,
    /// Request time (Unix seconds).
    pub now: i64,
    /// Base URL of this server as the client reached it (`http://host:port`).
    pub base: String,
    /// The `request` attribute of events (`{id, idempotency_key}`).
    pub request: Value,
    /// How many webhook deliveries this request queued.
    pub queued: usize,
    /// The subscription being created by this request (its own events are emitted once,
    /// at the end of creation).
    pub creating: Option<String>,
}

impl Ctx<'_> {
    /// Records an event about `object` and queues its webhook deliveries.
    pub fn emit(&mut self, kind: &str, object: &Value, previous: Option<Value>) {
        let id = new_id("evt");
        let mut data = json!({ "object": object });
        if let Some(prev) = previous {
            data["previous_attributes"] = prev;
        }
        let targets = self.targets(kind);
        let event = json!({
            "id": id,
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now,
            "data": data,
            "livemode": false,
            "pending_webhooks": targets.len(),
            "request": self.request,
            "type": kind,
        });
        self.st.put("event", &id, event);
        for (endpoint, url) in targets {
            let did = new_id("dlv");
            self.st.put(
                DELIVERY,
                &did,
                json!({"id": did, "event": id, "endpoint": endpoint, "url": url, "attempts": 0, "next_attempt_at": now_millis()}),
            );
            self.queued += 1;
        }
    }

    /// The `(endpoint id, url)` pairs an event of this type goes to.
    fn targets(&self, kind: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(url) = &self.settings.webhook_endpoint {
            out.push(("config".to_string(), url.clone()));
        }
        for we in self.st.all("webhook_endpoint") {
            if we["status"] != "enabled" {
                continue;
            }
            let wanted = we["enabled_events"]
                .as_array()
                .is_some_and(|evs| evs.iter().any(|e| e == "*" || e == kind));
            if let (true, Some(id), Some(url)) = (wanted, we["id"].as_str(), we["url"].as_str()) {
                out.push((id.to_string(), url.to_string()));
            }
        }
        out
    }
}
