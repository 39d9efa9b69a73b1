//! PaymentIntents: create (optionally confirming), confirm, 3D Secure, capture, cancel.
//! Confirming charges the card according to its test behaviour.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::cards::Decline;
use super::super::ctx::Ctx;
use super::super::ids::new_id;
use super::super::list;
use super::super::params::{merge_metadata, Params};
use super::charges::{self, client_secret};
use super::{billing, check_customer, copy_strings, fetch, payment_methods};

const AUTH_DECLINE: Decline = Decline {
    code: "authentication_required",
    decline_code: "authentication_required",
    message: "Your card was declined. This transaction requires authentication.",
};

/// Reads `payment_method` or `payment_method_data` into a stored PaymentMethod id.
pub(crate) fn payment_method_param(ctx: &mut Ctx, p: &Params) -> Result<Option<String>, ApiError> {
    if let Some(pm) = p.str("payment_method") {
        return payment_methods::resolve(ctx, pm, "payment_method").map(Some);
    }
    if let Some(data) = p.sub("payment_method_data") {
        return payment_methods::from_data(ctx, &data).map(Some);
    }
    Ok(None)
}

fn off_session(p: &Params) -> Result<bool, ApiError> {
    match p.str("off_session") {
        Some("one_off") | Some("recurring") => Ok(true),
        _ => Ok(p.bool("off_session")?.unwrap_or(false)),
    }
}

/// Builds and stores a PaymentIntent; emits `payment_intent.created`.
pub(crate) fn insert(
    ctx: &mut Ctx,
    amount: i64,
    currency: &str,
    customer: Option<&str>,
    pm: Option<&str>,
    invoice: Option<&str>,
    p: &Params,
) -> Result<Value, ApiError> {
    let capture_method = p.str("capture_method").unwrap_or("automatic");
    if !["automatic", "automatic_async", "manual"].contains(&capture_method) {
        return Err(ApiError::invalid(
            "capture_method",
            format!("Invalid capture_method: {capture_method}"),
        ));
    }
    let apm = match p.bool("automatic_payment_methods.enabled")? {
        Some(true) => {
            json!({"enabled": true, "allow_redirects": p.str("automatic_payment_methods.allow_redirects").unwrap_or("always")})
        }
        _ => Value::Null,
    };
    let mut types = p.strings("payment_method_types");
    if types.is_empty() {
        types.push("card".to_string());
    }
    let id = new_id("pi");
    let mut pi = json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": apm,
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": capture_method,
        "client_secret": client_secret(&id),
        "confirmation_method": p.str("confirmation_method").unwrap_or("automatic"),
        "created": ctx.now,
        "currency": currency,
        "customer": customer,
        "description": null,
        "invoice": invoice,
        "last_payment_error": null,
        "latest_charge": null,
        "livemode": false,
        "metadata": merge_metadata(&json!({}), p),
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": pm,
        "payment_method_configuration_details": null,
        "payment_method_options": {"card": {"installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic"}},
        "payment_method_types": types,
        "processing": null,
        "receipt_email": null,
        "return_url": null,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": if pm.is_some() { "requires_confirmation" } else { "requires_payment_method" },
        "transfer_data": null,
        "transfer_group": null,
    });
    copy_strings(
        &mut pi,
        p,
        &[
            "description",
            "receipt_email",
            "setup_future_usage",
            "shipping",
            "statement_descriptor",
            "statement_descriptor_suffix",
            "return_url",
        ],
    );
    ctx.st.put("payment_intent", &id, pi.clone());
    ctx.emit("payment_intent.created", &pi, None);
    Ok(pi)
}

/// `POST /v1/payment_intents`.
pub(crate) fn create(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let amount = p
        .int("amount")?
        .ok_or_else(|| ApiError::missing_param("amount"))?;
    if amount < 1 {
        return Err(
            ApiError::invalid("amount", "This value must be greater than or equal to 1.")
                .with_code("amount_too_small"),
        );
    }
    let currency = p.req_str("currency")?.to_lowercase();
    let customer = p.str("customer");
    if let Some(c) = customer {
        check_customer(ctx, c, "customer")?;
    }
    let pm = payment_method_param(ctx, p)?;
    let pi = insert(ctx, amount, &currency, customer, pm.as_deref(), None, p)?;
    if p.bool("confirm")?.unwrap_or(false) {
        let id = pi["id"].as_str().unwrap_or_default().to_string();
        return pay(ctx, &id, off_session(p)?, false);
    }
    Ok(pi)
}

/// `POST /v1/payment_intents/{id}`.
pub(crate) fn update(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut pi = fetch(ctx, "payment_intent", id, "payment_intent")?;
    let status = pi["status"].as_str().unwrap_or_default().to_string();
    if ["succeeded", "canceled", "processing"].contains(&status.as_str()) {
        return Err(unexpected_state("update", &status));
    }
    if let Some(amount) = p.int("amount")? {
        pi["amount"] = json!(amount);
    }
    if let Some(c) = p.str("currency") {
        pi["currency"] = json!(c.to_lowercase());
    }
    if let Some(c) = p.str("customer") {
        check_customer(ctx, c, "customer")?;
        pi["customer"] = json!(c);
    }
    if let Some(pm) = payment_method_param(ctx, p)? {
        pi["payment_method"] = json!(pm);
        if status == "requires_payment_method" {
            pi["status"] = json!("requires_confirmation");
        }
    }
    copy_strings(
        &mut pi,
        p,
        &[
            "description",
            "receipt_email",
            "setup_future_usage",
            "shipping",
            "statement_descriptor",
        ],
    );
    pi["metadata"] = merge_metadata(&pi["metadata"], p);
    ctx.st.put("payment_intent", id, pi.clone());
    Ok(pi)
}

fn unexpected_state(action: &str, status: &str) -> ApiError {
    ApiError::request(
        "payment_intent_unexpected_state",
        format!("You cannot {action} this PaymentIntent because it has a status of {status}."),
    )
}

/// `POST /v1/payment_intents/{id}/confirm`.
pub(crate) fn confirm(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut pi = fetch(ctx, "payment_intent", id, "payment_intent")?;
    let status = pi["status"].as_str().unwrap_or_default().to_string();
    if ![
        "requires_payment_method",
        "requires_confirmation",
        "requires_action",
    ]
    .contains(&status.as_str())
    {
        return Err(unexpected_state("confirm", &status).with("payment_intent", pi));
    }
    if let Some(pm) = payment_method_param(ctx, p)? {
        pi["payment_method"] = json!(pm);
    }
    copy_strings(
        &mut pi,
        p,
        &[
            "return_url",
            "receipt_email",
            "setup_future_usage",
            "shipping",
        ],
    );
    ctx.st.put("payment_intent", id, pi);
    pay(ctx, id, off_session(p)?, false)
}

/// Charges the PaymentIntent's payment method: succeeds, asks for 3D Secure, or declines
/// (402 with the PaymentIntent in the error). `authenticated` is set after 3D Secure.
pub(crate) fn pay(
    ctx: &mut Ctx,
    id: &str,
    off_session: bool,
    authenticated: bool,
) -> Result<Value, ApiError> {
    let mut pi = fetch(ctx, "payment_intent", id, "payment_intent")?;
    let Some(pm_id) = pi["payment_method"].as_str().map(str::to_string) else {
        return Err(ApiError::invalid(
            "payment_method",
            "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
        )
        .with_code("payment_intent_unexpected_state"));
    };
    let (outcome, set_up) = payment_methods::behaviour(ctx, &pm_id);
    pi["last_payment_error"] = Value::Null;
    pi["next_action"] = Value::Null;
    let needs_auth = !authenticated && outcome.needs_auth(set_up);
    let invoice = pi["invoice"].as_str().map(str::to_string);
    if needs_auth && !off_session {
        let url = format!("{}/3ds/{id}", ctx.base);
        pi["next_action"] = match pi["return_url"].as_str() {
            Some(ret) => {
                json!({"type": "redirect_to_url", "redirect_to_url": {"return_url": ret, "url": url}})
            }
            None => {
                json!({"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url, "source": new_id("src")}})
            }
        };
        pi["status"] = json!("requires_action");
        ctx.st.put("payment_intent", id, pi.clone());
        ctx.emit("payment_intent.requires_action", &pi, None);
        if let Some(inv) = invoice {
            billing::invoice_action_required(ctx, &inv)?;
        }
        return Ok(pi);
    }
    let decline = if needs_auth {
        Some(AUTH_DECLINE)
    } else {
        outcome.charge_decline()
    };
    let capture = pi["capture_method"] != "manual";
    let charge = charges::record(ctx, &pi, &pm_id, decline.as_ref(), capture);
    pi["latest_charge"] = charge["id"].clone();
    let amount = pi["amount"].clone();
    if let Some(d) = decline {
        let pm = ctx
            .st
            .get("payment_method", &pm_id)
            .cloned()
            .unwrap_or(Value::Null);
        pi["last_payment_error"] = json!({
            "type": "card_error",
            "code": d.code,
            "decline_code": d.decline_code,
            "message": d.message,
            "charge": charge["id"],
            "doc_url": format!("https://stripe.com/docs/error-codes/{}", d.code.replace('_', "-")),
            "payment_method": pm,
        });
        pi["status"] = json!("requires_payment_method");
        pi["payment_method"] = Value::Null;
        ctx.st.put("payment_intent", id, pi.clone());
        ctx.emit("payment_intent.payment_failed", &pi, None);
        if let Some(inv) = invoice {
            billing::invoice_payment_failed(ctx, &inv)?;
        }
        return Err(ApiError::card(d.code, Some(d.decline_code), d.message)
            .with("charge", charge["id"].clone())
            .with("payment_intent", pi)
            .with("payment_method", pm));
    }
    if capture {
        pi["status"] = json!("succeeded");
        pi["amount_received"] = amount;
    } else {
        pi["status"] = json!("requires_capture");
        pi["amount_capturable"] = amount;
    }
    if let (Some(_), Some(customer)) = (pi["setup_future_usage"].as_str(), pi["customer"].as_str())
    {
        payment_methods::attach_to(ctx, &pm_id, customer)?;
        payment_methods::mark_set_up(ctx, &pm_id);
    }
    ctx.st.put("payment_intent", id, pi.clone());
    if capture {
        ctx.emit("payment_intent.succeeded", &pi, None);
        if let Some(inv) = invoice {
            billing::invoice_paid(ctx, &inv)?;
        }
    } else {
        ctx.emit("payment_intent.amount_capturable_updated", &pi, None);
    }
    fetch(ctx, "payment_intent", id, "payment_intent")
}

/// Finishes 3D Secure for a PaymentIntent waiting on it (from the mock's 3DS page).
pub(crate) fn authenticate(ctx: &mut Ctx, id: &str, success: bool) -> Result<Value, ApiError> {
    let mut pi = fetch(ctx, "payment_intent", id, "payment_intent")?;
    if pi["status"] != "requires_action" {
        return Err(unexpected_state(
            "authenticate",
            pi["status"].as_str().unwrap_or_default(),
        ));
    }
    if success {
        return pay(ctx, id, false, true);
    }
    let pm = pi["payment_method"]
        .as_str()
        .and_then(|p| ctx.st.get("payment_method", p))
        .cloned();
    pi["last_payment_error"] = json!({
        "type": "invalid_request_error",
        "code": "payment_intent_authentication_failure",
        "message": "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
        "payment_method": pm,
    });
    pi["status"] = json!("requires_payment_method");
    pi["payment_method"] = Value::Null;
    pi["next_action"] = Value::Null;
    ctx.st.put("payment_intent", id, pi.clone());
    ctx.emit("payment_intent.payment_failed", &pi, None);
    if let Some(inv) = pi["invoice"].as_str() {
        billing::invoice_payment_failed(ctx, inv)?;
    }
    Ok(pi)
}

/// `POST /v1/payment_intents/{id}/capture`.
pub(crate) fn capture(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut pi = fetch(ctx, "payment_intent", id, "payment_intent")?;
    if pi["status"] != "requires_capture" {
        return Err(unexpected_state(
            "capture",
            pi["status"].as_str().unwrap_or_default(),
        ));
    }
    let capturable = pi["amount_capturable"].as_i64().unwrap_or(0);
    let amount = p.int("amount_to_capture")?.unwrap_or(capturable);
    if amount < 1 || amount > capturable {
        return Err(ApiError::invalid(
            "amount_to_capture",
            format!("The amount to capture ({amount}) must be between 1 and the capturable amount ({capturable})."),
        ));
    }
    if let Some(ch) = pi["latest_charge"].as_str().map(str::to_string) {
        charges::capture(ctx, &ch, amount);
    }
    pi["amount_received"] = json!(amount);
    pi["amount_capturable"] = json!(0);
    pi["status"] = json!("succeeded");
    pi["metadata"] = merge_metadata(&pi["metadata"], p);
    ctx.st.put("payment_intent", id, pi.clone());
    ctx.emit("payment_intent.succeeded", &pi, None);
    if let Some(inv) = pi["invoice"].as_str() {
        billing::invoice_paid(ctx, inv)?;
    }
    Ok(pi)
}

/// `POST /v1/payment_intents/{id}/cancel`.
pub(crate) fn cancel(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut pi = fetch(ctx, "payment_intent", id, "payment_intent")?;
    let status = pi["status"].as_str().unwrap_or_default().to_string();
    let cancelable = [
        "requires_payment_method",
        "requires_capture",
        "requires_confirmation",
        "requires_action",
        "processing",
    ];
    if !cancelable.contains(&status.as_str()) {
        return Err(ApiError::request(
            "payment_intent_unexpected_state",
            format!("You cannot cancel this PaymentIntent because it has a status of {status}. Only a PaymentIntent with one of the following statuses may be canceled: {}.", cancelable.join(", ")),
        ));
    }
    if pi["invoice"].is_string() {
        return Err(ApiError::request(
            "payment_intent_unexpected_state",
            "You cannot cancel this PaymentIntent because it was created by an invoice. Void the invoice instead.",
        ));
    }
    pi["status"] = json!("canceled");
    pi["canceled_at"] = json!(ctx.now);
    pi["cancellation_reason"] = json!(p.str("cancellation_reason"));
    pi["amount_capturable"] = json!(0);
    pi["next_action"] = Value::Null;
    ctx.st.put("payment_intent", id, pi.clone());
    ctx.emit("payment_intent.canceled", &pi, None);
    Ok(pi)
}

/// `GET /v1/payment_intents`.
pub(crate) fn list(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.str("customer");
    list::list(ctx.st, "payment_intent", "/v1/payment_intents", p, |v| {
        customer.is_none_or(|c| v["customer"] == c)
    })
}
