//! Webhook endpoints registered through the API; each gets its own signing secret.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::ctx::{Ctx, API_VERSION};
use super::super::expand::public_view;
use super::super::ids::{new_id, random};
use super::super::list;
use super::super::params::{merge_metadata, Params};
use super::fetch;

fn check_url(url: &str) -> Result<(), ApiError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "url",
            format!("Invalid URL: {url}. URLs must begin with http:// or https://"),
        )
        .with_code("url_invalid"))
    }
}

/// `POST /v1/webhook_endpoints` (the answer is the only one showing `secret`).
pub(crate) fn create(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let url = p.req_str("url")?;
    check_url(url)?;
    let events = p.strings("enabled_events");
    if events.is_empty() {
        return Err(ApiError::missing_param("enabled_events"));
    }
    let id = new_id("we");
    let we = json!({
        "id": id,
        "object": "webhook_endpoint",
        "api_version": p.str("api_version").unwrap_or(API_VERSION),
        "application": null,
        "created": ctx.now,
        "description": p.str("description"),
        "enabled_events": events,
        "livemode": false,
        "metadata": merge_metadata(&json!({}), p),
        "secret": format!("whsec_{}", random(32)),
        "status": "enabled",
        "url": url,
    });
    ctx.st.put("webhook_endpoint", &id, we.clone());
    Ok(we)
}

/// `GET /v1/webhook_endpoints/{id}`.
pub(crate) fn retrieve(ctx: &Ctx, id: &str) -> Result<Value, ApiError> {
    fetch(ctx, "webhook_endpoint", id, "webhook endpoint").map(|v| public_view(&v))
}

/// `POST /v1/webhook_endpoints/{id}`.
pub(crate) fn update(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut we = fetch(ctx, "webhook_endpoint", id, "webhook endpoint")?;
    if let Some(url) = p.str("url") {
        check_url(url)?;
        we["url"] = json!(url);
    }
    let events = p.strings("enabled_events");
    if !events.is_empty() {
        we["enabled_events"] = json!(events);
    }
    if let Some(disabled) = p.bool("disabled")? {
        we["status"] = json!(if disabled { "disabled" } else { "enabled" });
    }
    if let Some(d) = p.get("description").and_then(Value::as_str) {
        we["description"] = json!(d);
    }
    we["metadata"] = merge_metadata(&we["metadata"], p);
    ctx.st.put("webhook_endpoint", id, we.clone());
    Ok(public_view(&we))
}

/// `DELETE /v1/webhook_endpoints/{id}`.
pub(crate) fn delete(ctx: &mut Ctx, id: &str) -> Result<Value, ApiError> {
    fetch(ctx, "webhook_endpoint", id, "webhook endpoint")?;
    ctx.st.remove("webhook_endpoint", id);
    Ok(json!({"id": id, "object": "webhook_endpoint", "deleted": true}))
}

/// `GET /v1/webhook_endpoints`.
pub(crate) fn list(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let mut page = list::list(
        ctx.st,
        "webhook_endpoint",
        "/v1/webhook_endpoints",
        p,
        |_| true,
    )?;
    if let Some(items) = page["data"].as_array_mut() {
        for item in items.iter_mut() {
            *item = public_view(item);
        }
    }
    Ok(page)
}
