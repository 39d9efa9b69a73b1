//! The event feed (`GET /api/events`, server-sent events): every operation's progress events
//! and its start and end, each with a timestamp, the environment and the run it concerns.

use std::convert::Infallible;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::frames::now_ms;
use crate::progress::Event;

/// A broadcast of JSON event records; slow listeners lose the oldest, never block the engine.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Value>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    /// A bus keeping up to 1024 undelivered records per listener.
    pub fn new() -> EventBus {
        EventBus {
            tx: broadcast::channel(1024).0,
        }
    }

    fn publish(&self, record: Value) {
        let _ = self.tx.send(record);
    }

    /// Publishes a progress event of an operation.
    pub fn publish_event(&self, event: &Event, run: Option<&str>) {
        let env = match event {
            Event::Service { env, .. } => Some(env.clone()),
            _ => None,
        };
        self.publish(json!({
            "at_ms": now_ms(),
            "type": "progress",
            "env": env,
            "run": run,
            "event": event,
        }));
    }

    /// Publishes an operation's start or end (`started`, `finished`, `failed`, `cancelled`),
    /// with its result when it has one: faults injected, branches made, runs' summaries.
    pub fn publish_op(&self, op: &str, run: Option<&str>, outcome: &str, result: Option<&Value>) {
        let env = result.and_then(|r| {
            r.get("env")
                .or_else(|| r.get("environment"))
                .or_else(|| r.get("id"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        });
        let summary = result.and_then(|r| r.get("report").and_then(|rep| rep.get("summary")));
        self.publish(json!({
            "at_ms": now_ms(),
            "type": "operation",
            "op": op,
            "outcome": outcome,
            "env": env,
            "run": run,
            "summary": summary,
            "result": result,
        }));
    }

    /// Publishes a service's new state or health in environment `env`.
    pub fn publish_service(&self, env: &str, service: &str, state: &str, health: &str) {
        self.publish(json!({
            "at_ms": now_ms(),
            "type": "service",
            "env": env,
            "run": null,
            "service": service,
            "state": state,
            "health": health,
        }));
    }

    /// Publishes news of the snapshot store (`level` info or warning): it grew, it is full,
    /// it has room again.
    pub fn publish_store(&self, level: &str, message: &str) {
        self.publish(json!({
            "at_ms": now_ms(),
            "type": "store",
            "env": null,
            "run": null,
            "level": level,
            "message": message,
        }));
    }

    /// How many listeners the feed has now.
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }

    /// A new listener.
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.tx.subscribe()
    }
}

/// The SSE response of `GET /api/events`.
pub fn sse(bus: &EventBus) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = bus.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(record) => {
                    let kind = record["type"].as_str().unwrap_or("progress").to_string();
                    let ev = SseEvent::default().event(kind).data(record.to_string());
                    return Some((Ok(ev), rx));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
