//! Asynchronous webhook delivery: pending deliveries live in the state (so a restart
//! retries them); a background task POSTs each signed event and retries failures with
//! exponential backoff (5 attempts over about 30 s).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::ctx::DELIVERY;
use super::expand::public_view;
use super::ids::{now, now_millis};
use super::webhook_sign::signature_header;
use super::StripeState;

/// Attempts per delivery before it is given up.
const MAX_ATTEMPTS: i64 = 5;
/// Deliveries in flight at once.
const MAX_IN_FLIGHT: usize = 16;

/// One delivery ready to be sent.
struct Due {
    id: String,
    url: String,
    secret: String,
    payload: Vec<u8>,
}

/// Runs the delivery loop forever.
pub(crate) async fn run(state: Arc<StripeState>) {
    loop {
        let (due, wait) = collect(&state);
        for d in due {
            let st = state.clone();
            tokio::spawn(async move { send(st, d).await });
        }
        tokio::select! {
            _ = state.notify.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Picks the deliveries that are due and not in flight; returns them and how long to wait
/// before looking again.
fn collect(state: &StripeState) -> (Vec<Due>, Duration) {
    let now_ms = now_millis();
    let mut wait_ms: i64 = 1000;
    let mut due = Vec::new();
    let mut dropped = Vec::new();
    let Ok(mut inflight) = state.inflight.lock() else {
        return (due, Duration::from_millis(1000));
    };
    let Ok(mut store) = state.store.lock() else {
        return (due, Duration::from_millis(1000));
    };
    for d in store.state.all(DELIVERY) {
        let Some(id) = d["id"].as_str() else { continue };
        if inflight.contains(id) {
            continue;
        }
        let at = d["next_attempt_at"].as_i64().unwrap_or(0);
        if at > now_ms {
            wait_ms = wait_ms.min(at - now_ms);
            continue;
        }
        if inflight.len() + due.len() >= MAX_IN_FLIGHT {
            wait_ms = wait_ms.min(50);
            break;
        }
        let event = d["event"]
            .as_str()
            .and_then(|e| store.state.get("event", e));
        let secret = match d["endpoint"].as_str() {
            Some("config") => Some(state.settings.webhook_secret.clone()),
            Some(we) => store
                .state
                .get("webhook_endpoint", we)
                .and_then(|w| w["secret"].as_str())
                .map(str::to_string),
            None => None,
        };
        match (event, secret, d["url"].as_str()) {
            (Some(event), Some(secret), Some(url)) => {
                let payload = serde_json::to_vec_pretty(&public_view(event)).unwrap_or_default();
                due.push(Due {
                    id: id.to_string(),
                    url: url.to_string(),
                    secret,
                    payload,
                });
            }
            _ => dropped.push(id.to_string()),
        }
    }
    for id in &dropped {
        store.state.remove(DELIVERY, id);
    }
    if !dropped.is_empty() {
        if let Err(e) = store.commit() {
            tracing::error!(error = %e, "cannot persist dropped webhook deliveries");
        }
    }
    for d in &due {
        inflight.insert(d.id.clone());
    }
    (
        due,
        Duration::from_millis(u64::try_from(wait_ms.max(10)).unwrap_or(1000)),
    )
}

/// POSTs one delivery and records the result.
async fn send(state: Arc<StripeState>, d: Due) {
    let header = signature_header(&d.secret, &d.payload, now());
    let result = state
        .client
        .post(&d.url)
        .header("content-type", "application/json; charset=utf-8")
        .header(
            "user-agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .header("stripe-signature", header)
        .body(d.payload)
        .send()
        .await;
    let ok = match &result {
        Ok(resp) if resp.status().is_success() => true,
        Ok(resp) => {
            tracing::info!(url = %d.url, status = %resp.status(), "webhook delivery refused");
            false
        }
        Err(e) => {
            tracing::info!(url = %d.url, error = %e, "webhook delivery failed");
            false
        }
    };
    record(&state, &d.id, ok);
    if let Ok(mut inflight) = state.inflight.lock() {
        inflight.remove(&d.id);
    }
    state.notify.notify_one();
}

/// Removes a finished delivery or schedules its next attempt.
fn record(state: &StripeState, id: &str, ok: bool) {
    let Ok(mut store) = state.store.lock() else {
        return;
    };
    let Some(mut d) = store.state.get(DELIVERY, id).cloned() else {
        return;
    };
    let attempts = d["attempts"].as_i64().unwrap_or(0) + 1;
    if ok || attempts >= MAX_ATTEMPTS {
        store.state.remove(DELIVERY, id);
        if let Some(eid) = d["event"].as_str() {
            if let Some(mut ev) = store.state.get("event", eid).cloned() {
                let pending = ev["pending_webhooks"].as_i64().unwrap_or(1);
                ev["pending_webhooks"] = json!((pending - 1).max(0));
                store.state.put("event", eid, ev);
            }
        }
        if !ok {
            tracing::warn!(
                delivery = id,
                "webhook delivery given up after {MAX_ATTEMPTS} attempts"
            );
        }
    } else {
        d["attempts"] = json!(attempts);
        d["next_attempt_at"] = json!(now_millis() + 1000 * (1i64 << attempts));
        store.state.put(DELIVERY, id, d);
    }
    if let Err(e) = store.commit() {
        tracing::error!(error = %e, "cannot persist a webhook delivery result");
    }
}
