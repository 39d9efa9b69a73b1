//! Checkout Sessions: created through the API with a hosted-page `url`; visiting the URL
//! (the mock's stand-in for the customer paying) completes the session.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::ctx::Ctx;
use super::super::ids::{new_id, random};
use super::super::list;
use super::super::params::{merge_metadata, Params};
use super::{billing, check_customer, customers, fetch, payment_intents, payment_methods};

/// Kind of the stored line items of each session.
const LINE_ITEMS: &str = "_checkout_line_items";

/// `POST /v1/checkout/sessions`.
pub(crate) fn create(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let mode = p.str("mode").unwrap_or("payment").to_string();
    if !["payment", "subscription", "setup"].contains(&mode.as_str()) {
        return Err(ApiError::invalid("mode", format!("Invalid mode: {mode}")));
    }
    if mode != "setup" && p.objects("line_items").is_empty() {
        return Err(ApiError::missing_param("line_items"));
    }
    let customer = p.str("customer");
    if let Some(c) = customer {
        check_customer(ctx, c, "customer")?;
    }
    let id = format!("cs_test_{}", random(58));
    let mut items = Vec::new();
    let mut currency = p.str("currency").map(str::to_lowercase);
    for (i, li) in p.objects("line_items").iter().enumerate() {
        let price = match (li.str("price"), li.sub("price_data")) {
            (Some(pid), _) => ctx.st.get("price", pid).cloned().ok_or_else(|| {
                ApiError::no_such("price", pid, Some(&format!("line_items[{i}][price]")))
            })?,
            (None, Some(data)) => super::catalog::create_price(ctx, &data)?,
            (None, None) => {
                return Err(ApiError::missing_param(&format!("line_items[{i}][price]")))
            }
        };
        if mode == "subscription" && price["type"] != "recurring" && i == 0 {
            return Err(ApiError::invalid(
                &format!("line_items[{i}][price]"),
                "You must provide at least one recurring price in `subscription` mode when using prices.",
            ));
        }
        let quantity = li.int("quantity")?.unwrap_or(1);
        let amount = price["unit_amount"].as_i64().unwrap_or(0) * quantity;
        currency.get_or_insert_with(|| price["currency"].as_str().unwrap_or("usd").to_string());
        let product_name = price["product"]
            .as_str()
            .and_then(|pr| ctx.st.get("product", pr))
            .and_then(|pr| pr["name"].as_str())
            .unwrap_or_default()
            .to_string();
        items.push(json!({
            "id": new_id("li"),
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": amount,
            "amount_tax": 0,
            "amount_total": amount,
            "currency": price["currency"],
            "description": product_name,
            "price": price,
            "quantity": quantity,
        }));
    }
    let subtotal: i64 = items
        .iter()
        .map(|i| i["amount_total"].as_i64().unwrap_or(0))
        .sum();
    let shipping_options: Vec<Value> = p
        .objects("shipping_options")
        .iter()
        .filter_map(|o| o.str("shipping_rate").map(str::to_string))
        .map(|rate| {
            let amount = ctx
                .st
                .get("shipping_rate", &rate)
                .map(|r| r["fixed_amount"]["amount"].clone())
                .unwrap_or(json!(0));
            json!({"shipping_amount": amount, "shipping_rate": rate})
        })
        .collect();
    let shipping_amount = shipping_options
        .first()
        .and_then(|o| o["shipping_amount"].as_i64())
        .unwrap_or(0);
    let shipping_cost = shipping_options.first().map(|o| {
        json!({"amount_subtotal": o["shipping_amount"], "amount_tax": 0, "amount_total": o["shipping_amount"], "shipping_rate": o["shipping_rate"]})
    });
    let session = json!({
        "id": id,
        "object": "checkout.session",
        "allow_promotion_codes": p.bool("allow_promotion_codes")?,
        "amount_subtotal": subtotal,
        "amount_total": subtotal + shipping_amount,
        "cancel_url": p.str("cancel_url"),
        "client_reference_id": p.str("client_reference_id"),
        "created": ctx.now,
        "currency": currency.unwrap_or_else(|| "usd".to_string()),
        "customer": customer,
        "customer_creation": if customer.is_none() && mode == "payment" { json!("if_required") } else { Value::Null },
        "customer_details": null,
        "customer_email": p.str("customer_email"),
        "expires_at": ctx.now + 86_400,
        "invoice": null,
        "livemode": false,
        "locale": p.str("locale"),
        "metadata": merge_metadata(&json!({}), p),
        "mode": mode,
        "payment_intent": null,
        "payment_method_types": if p.strings("payment_method_types").is_empty() { vec!["card".to_string()] } else { p.strings("payment_method_types") },
        "payment_status": if mode == "setup" { "no_payment_required" } else { "unpaid" },
        "setup_intent": null,
        "shipping_cost": shipping_cost,
        "shipping_options": shipping_options,
        "status": "open",
        "submit_type": p.str("submit_type"),
        "subscription": null,
        "success_url": p.str("success_url"),
        "ui_mode": "hosted",
        "url": format!("{}/checkout/{id}", ctx.base),
    });
    ctx.st.put("checkout.session", &id, session.clone());
    ctx.st.put(LINE_ITEMS, &id, Value::Array(items));
    Ok(session)
}

/// `GET /v1/checkout/sessions/{id}` (supports `expand[]=line_items`).
pub(crate) fn retrieve(ctx: &Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut session = fetch(ctx, "checkout.session", id, "checkout.session")?;
    if p.expand().iter().any(|e| e == "line_items") {
        session["line_items"] = line_items_list(ctx, id);
    }
    Ok(session)
}

fn line_items_list(ctx: &Ctx, id: &str) -> Value {
    let items = ctx
        .st
        .get(LINE_ITEMS, id)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    list::whole(items, &format!("/v1/checkout/sessions/{id}/line_items"))
}

/// `GET /v1/checkout/sessions/{id}/line_items`.
pub(crate) fn line_items(ctx: &Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    fetch(ctx, "checkout.session", id, "checkout.session")?;
    let items = ctx
        .st
        .get(LINE_ITEMS, id)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    list::page(
        items.iter().collect(),
        &format!("/v1/checkout/sessions/{id}/line_items"),
        p,
    )
}

/// `POST /v1/checkout/sessions/{id}/expire`.
pub(crate) fn expire(ctx: &mut Ctx, id: &str) -> Result<Value, ApiError> {
    let mut session = fetch(ctx, "checkout.session", id, "checkout.session")?;
    if session["status"] != "open" {
        return Err(ApiError::request(
            "checkout_session_unexpected_state",
            format!(
                "Only Checkout Sessions with a status of `open` can be expired; this one is {}.",
                session["status"]
            ),
        ));
    }
    session["status"] = json!("expired");
    session["url"] = Value::Null;
    ctx.st.put("checkout.session", id, session.clone());
    ctx.emit("checkout.session.expired", &session, None);
    Ok(session)
}

/// `GET /v1/checkout/sessions`.
pub(crate) fn list(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.str("customer");
    let pi = p.str("payment_intent");
    let sub = p.str("subscription");
    let status = p.str("status");
    list::list(
        ctx.st,
        "checkout.session",
        "/v1/checkout/sessions",
        p,
        |s| {
            customer.is_none_or(|c| s["customer"] == c)
                && pi.is_none_or(|x| s["payment_intent"] == x)
                && sub.is_none_or(|x| s["subscription"] == x)
                && status.is_none_or(|x| s["status"] == x)
        },
    )
}

/// Completes an open session as if the customer paid on the hosted page with test card
/// `card` (4242… when not given). Returns the session; a declined card leaves it open.
pub(crate) fn complete(ctx: &mut Ctx, id: &str, card: Option<&str>) -> Result<Value, ApiError> {
    let mut session = fetch(ctx, "checkout.session", id, "checkout.session")?;
    if session["status"] != "open" {
        return Err(ApiError::request(
            "checkout_session_unexpected_state",
            format!("This Checkout Session is {}.", session["status"]),
        ));
    }
    let customer = match session["customer"].as_str() {
        Some(c) => c.to_string(),
        None => {
            let email = session["customer_email"]
                .as_str()
                .unwrap_or("customer@example.com")
                .to_string();
            let c = customers::create(ctx, &Params(json!({"email": email})))?;
            c["id"].as_str().unwrap_or_default().to_string()
        }
    };
    let card_params = Params(json!({"number": card.unwrap_or("4242424242424242")}));
    let facts = payment_methods::card_from_params(ctx, &card_params, "card")?;
    let pm = payment_methods::store_card(ctx, None, &facts, &Params::empty());
    let pm_id = pm["id"].as_str().unwrap_or_default().to_string();
    payment_methods::attach_to(ctx, &pm_id, &customer)?;
    let email = ctx
        .st
        .get("customer", &customer)
        .map(|c| c["email"].clone())
        .unwrap_or(Value::Null);
    session["customer"] = json!(customer);
    session["customer_details"] = json!({"email": email, "name": null, "phone": null, "address": null, "tax_exempt": "none", "tax_ids": []});
    let items = ctx
        .st
        .get(LINE_ITEMS, id)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match session["mode"].as_str() {
        Some("subscription") => {
            let mut p = Params(
                json!({"customer": customer, "default_payment_method": pm_id, "payment_behavior": "allow_incomplete"}),
            );
            let list: Vec<Value> = items
                .iter()
                .filter(|i| i["price"]["type"] == "recurring")
                .map(|i| json!({"price": i["price"]["id"], "quantity": i["quantity"].to_string()}))
                .collect();
            p.0["items"] = Value::Array(list);
            let sub = billing::create_subscription(ctx, &p)?;
            if sub["status"] != "active" && sub["status"] != "trialing" {
                return Err(ApiError::card(
                    "card_declined",
                    Some("generic_decline"),
                    "Your card was declined.",
                ));
            }
            session["subscription"] = sub["id"].clone();
            session["invoice"] = sub["latest_invoice"].clone();
            session["payment_status"] = json!("paid");
        }
        Some("setup") => {
            let si = super::setup_intents::create(
                ctx,
                &Params(json!({"customer": customer, "payment_method": pm_id, "confirm": "true"})),
            )?;
            session["setup_intent"] = si["id"].clone();
        }
        _ => {
            let amount = session["amount_total"].as_i64().unwrap_or(0);
            let currency = session["currency"].as_str().unwrap_or("usd").to_string();
            let pi = payment_intents::insert(
                ctx,
                amount,
                &currency,
                Some(&customer),
                Some(&pm_id),
                None,
                &Params::empty(),
            )?;
            let pi_id = pi["id"].as_str().unwrap_or_default().to_string();
            session["payment_intent"] = json!(pi_id);
            ctx.st.put("checkout.session", id, session.clone());
            payment_intents::pay(ctx, &pi_id, false, true)?;
            session["payment_status"] = json!("paid");
        }
    }
    session["status"] = json!("complete");
    session["url"] = Value::Null;
    ctx.st.put("checkout.session", id, session.clone());
    ctx.emit("checkout.session.completed", &session, None);
    Ok(session)
}
