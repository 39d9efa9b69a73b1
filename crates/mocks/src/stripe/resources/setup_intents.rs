//! SetupIntents: save a card for later (off-session) payments; declines and 3D Secure
//! follow the card's test behaviour.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::ctx::Ctx;
use super::super::ids::new_id;
use super::super::list;
use super::super::params::{merge_metadata, Params};
use super::charges::client_secret;
use super::payment_intents::payment_method_param;
use super::{check_customer, copy_strings, fetch, payment_methods};

/// `POST /v1/setup_intents`.
pub(crate) fn create(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.str("customer");
    if let Some(c) = customer {
        check_customer(ctx, c, "customer")?;
    }
    let pm = payment_method_param(ctx, p)?;
    let mut types = p.strings("payment_method_types");
    if types.is_empty() {
        types.push("card".to_string());
    }
    let id = new_id("seti");
    let mut si = json!({
        "id": id,
        "object": "setup_intent",
        "application": null,
        "automatic_payment_methods": if p.bool("automatic_payment_methods.enabled")? == Some(true) { json!({"enabled": true, "allow_redirects": "always"}) } else { Value::Null },
        "cancellation_reason": null,
        "client_secret": client_secret(&id),
        "created": ctx.now,
        "customer": customer,
        "description": null,
        "flow_directions": null,
        "last_setup_error": null,
        "latest_attempt": null,
        "livemode": false,
        "mandate": null,
        "metadata": merge_metadata(&json!({}), p),
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": pm,
        "payment_method_options": {"card": {"mandate_options": null, "network": null, "request_three_d_secure": "automatic"}},
        "payment_method_types": types,
        "return_url": null,
        "single_use_mandate": null,
        "status": if pm.is_some() { "requires_confirmation" } else { "requires_payment_method" },
        "usage": p.str("usage").unwrap_or("off_session"),
    });
    copy_strings(&mut si, p, &["description", "return_url"]);
    ctx.st.put("setup_intent", &id, si.clone());
    ctx.emit("setup_intent.created", &si, None);
    if p.bool("confirm")?.unwrap_or(false) {
        return run(ctx, &id, false);
    }
    Ok(si)
}

/// `POST /v1/setup_intents/{id}`.
pub(crate) fn update(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut si = fetch(ctx, "setup_intent", id, "setupintent")?;
    if let Some(pm) = payment_method_param(ctx, p)? {
        si["payment_method"] = json!(pm);
        if si["status"] == "requires_payment_method" {
            si["status"] = json!("requires_confirmation");
        }
    }
    if let Some(c) = p.str("customer") {
        check_customer(ctx, c, "customer")?;
        si["customer"] = json!(c);
    }
    copy_strings(&mut si, p, &["description"]);
    si["metadata"] = merge_metadata(&si["metadata"], p);
    ctx.st.put("setup_intent", id, si.clone());
    Ok(si)
}

/// `POST /v1/setup_intents/{id}/confirm`.
pub(crate) fn confirm(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut si = fetch(ctx, "setup_intent", id, "setupintent")?;
    let status = si["status"].as_str().unwrap_or_default().to_string();
    if ![
        "requires_payment_method",
        "requires_confirmation",
        "requires_action",
    ]
    .contains(&status.as_str())
    {
        return Err(ApiError::request(
            "setup_intent_unexpected_state",
            format!("You cannot confirm this SetupIntent because it has a status of {status}."),
        ));
    }
    if let Some(pm) = payment_method_param(ctx, p)? {
        si["payment_method"] = json!(pm);
    }
    copy_strings(&mut si, p, &["return_url"]);
    ctx.st.put("setup_intent", id, si);
    run(ctx, id, false)
}

/// Verifies the SetupIntent's card: success attaches it to the customer for off-session use.
pub(crate) fn run(ctx: &mut Ctx, id: &str, authenticated: bool) -> Result<Value, ApiError> {
    let mut si = fetch(ctx, "setup_intent", id, "setupintent")?;
    let Some(pm_id) = si["payment_method"].as_str().map(str::to_string) else {
        return Err(ApiError::invalid(
            "payment_method",
            "You cannot confirm this SetupIntent because it's missing a payment method.",
        )
        .with_code("setup_intent_unexpected_state"));
    };
    let (outcome, _) = payment_methods::behaviour(ctx, &pm_id);
    si["last_setup_error"] = Value::Null;
    si["next_action"] = Value::Null;
    si["latest_attempt"] = json!(new_id("setatt"));
    if !authenticated && outcome.needs_auth(false) {
        let url = format!("{}/3ds/{id}", ctx.base);
        si["next_action"] = match si["return_url"].as_str() {
            Some(ret) => {
                json!({"type": "redirect_to_url", "redirect_to_url": {"return_url": ret, "url": url}})
            }
            None => {
                json!({"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url, "source": new_id("src")}})
            }
        };
        si["status"] = json!("requires_action");
        ctx.st.put("setup_intent", id, si.clone());
        ctx.emit("setup_intent.requires_action", &si, None);
        return Ok(si);
    }
    if let Some(d) = outcome.setup_decline() {
        let pm = ctx
            .st
            .get("payment_method", &pm_id)
            .cloned()
            .unwrap_or(Value::Null);
        si["last_setup_error"] = json!({"type": "card_error", "code": d.code, "decline_code": d.decline_code, "message": d.message, "payment_method": pm});
        si["status"] = json!("requires_payment_method");
        si["payment_method"] = Value::Null;
        ctx.st.put("setup_intent", id, si.clone());
        ctx.emit("setup_intent.setup_failed", &si, None);
        return Err(ApiError::card(d.code, Some(d.decline_code), d.message)
            .with("setup_intent", si)
            .with("payment_method", pm));
    }
    payment_methods::mark_set_up(ctx, &pm_id);
    if let Some(customer) = si["customer"].as_str().map(str::to_string) {
        payment_methods::attach_to(ctx, &pm_id, &customer)?;
    }
    si["status"] = json!("succeeded");
    ctx.st.put("setup_intent", id, si.clone());
    ctx.emit("setup_intent.succeeded", &si, None);
    Ok(si)
}

/// Finishes 3D Secure for a SetupIntent waiting on it.
pub(crate) fn authenticate(ctx: &mut Ctx, id: &str, success: bool) -> Result<Value, ApiError> {
    let mut si = fetch(ctx, "setup_intent", id, "setupintent")?;
    if si["status"] != "requires_action" {
        return Err(ApiError::request(
            "setup_intent_unexpected_state",
            "This SetupIntent is not waiting for authentication.",
        ));
    }
    if success {
        return run(ctx, id, true);
    }
    si["last_setup_error"] = json!({"type": "invalid_request_error", "code": "setup_intent_authentication_failure", "message": "The latest attempt to set up the payment method has failed because authentication failed."});
    si["status"] = json!("requires_payment_method");
    si["payment_method"] = Value::Null;
    si["next_action"] = Value::Null;
    ctx.st.put("setup_intent", id, si.clone());
    ctx.emit("setup_intent.setup_failed", &si, None);
    Ok(si)
}

/// `POST /v1/setup_intents/{id}/cancel`.
pub(crate) fn cancel(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut si = fetch(ctx, "setup_intent", id, "setupintent")?;
    let status = si["status"].as_str().unwrap_or_default().to_string();
    if status == "succeeded" || status == "canceled" {
        return Err(ApiError::request(
            "setup_intent_unexpected_state",
            format!("You cannot cancel this SetupIntent because it has a status of {status}."),
        ));
    }
    si["status"] = json!("canceled");
    si["cancellation_reason"] = json!(p.str("cancellation_reason"));
    ctx.st.put("setup_intent", id, si.clone());
    ctx.emit("setup_intent.canceled", &si, None);
    Ok(si)
}

/// `GET /v1/setup_intents`.
pub(crate) fn list(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.str("customer");
    let pm = p.str("payment_method");
    list::list(ctx.st, "setup_intent", "/v1/setup_intents", p, |v| {
        customer.is_none_or(|c| v["customer"] == c) && pm.is_none_or(|x| v["payment_method"] == x)
    })
}
