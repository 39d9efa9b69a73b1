//! Subscriptions, invoices and invoice items: subscriptions bill their first period at
//! creation, upgrades prorate, invoices are paid through PaymentIntents.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::ctx::Ctx;
use super::super::ids::{add_interval, new_id};
use super::super::list;
use super::super::params::{merge_metadata, Params};
use super::{check_customer, fetch, payment_intents, payment_methods, previous};

/// The legacy `plan` view of a recurring price.
fn plan_of(price: &Value) -> Value {
    json!({
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": price["recurring"]["interval"],
        "interval_count": price["recurring"]["interval_count"],
        "livemode": false,
        "metadata": price["metadata"],
        "nickname": price["nickname"],
        "product": price["product"],
        "usage_type": "licensed",
    })
}

/// A recurring price named by an item, or the right error.
fn recurring_price(ctx: &Ctx, id: &str, param: &str) -> Result<Value, ApiError> {
    let price = ctx
        .st
        .get("price", id)
        .cloned()
        .ok_or_else(|| ApiError::no_such("price", id, Some(param)))?;
    if price["type"] != "recurring" {
        return Err(ApiError::invalid(
            param,
            "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
        ));
    }
    Ok(price)
}

fn item_price(ctx: &mut Ctx, item: &Params, i: usize) -> Result<Value, ApiError> {
    if let Some(price) = item.str("price").or_else(|| item.str("plan")) {
        return recurring_price(ctx, price, &format!("items[{i}][price]"));
    }
    if let Some(mut data) = item.sub("price_data") {
        if data.get("recurring").is_none() {
            return Err(ApiError::missing_param(&format!(
                "items[{i}][price_data][recurring]"
            )));
        }
        if let Some(product) = data.str("product").map(str::to_string) {
            data.0["product"] = json!(product);
        }
        return super::catalog::create_price(ctx, &data);
    }
    Err(ApiError::missing_param(&format!("items[{i}][price]")))
}

fn make_item(sub_id: &str, price: &Value, quantity: i64, now: i64, p: &Params) -> Value {
    json!({
        "id": new_id("si"),
        "object": "subscription_item",
        "billing_thresholds": null,
        "created": now,
        "discounts": [],
        "metadata": merge_metadata(&json!({}), p),
        "plan": plan_of(price),
        "price": price,
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    })
}

fn item_amount(item: &Value) -> i64 {
    item["price"]["unit_amount"].as_i64().unwrap_or(0) * item["quantity"].as_i64().unwrap_or(1)
}

/// The payment method an invoice of `customer` (and `sub`) is charged with.
fn default_payment_method(ctx: &Ctx, customer: &str, sub: Option<&Value>) -> Option<String> {
    let from_sub = sub.and_then(|s| s["default_payment_method"].as_str());
    let c = ctx.st.get("customer", customer);
    from_sub
        .or_else(|| c.and_then(|c| c["invoice_settings"]["default_payment_method"].as_str()))
        .or_else(|| c.and_then(|c| c["default_source"].as_str()))
        .map(str::to_string)
}

fn no_payment_method() -> ApiError {
    ApiError::request(
        "resource_missing",
        "This customer has no attached payment source or default payment method. Please consider adding a default payment method.",
    )
}

/// Stores a finalized (or draft) invoice with `lines`; emits `invoice.created` (and
/// `invoice.finalized`).
fn create_invoice(
    ctx: &mut Ctx,
    customer: &str,
    sub: Option<&str>,
    lines: Vec<Value>,
    reason: &str,
    currency: &str,
    finalize: bool,
) -> Value {
    let id = new_id("in");
    let total: i64 = lines
        .iter()
        .map(|l| l["amount"].as_i64().unwrap_or(0))
        .sum();
    let due = total.max(0);
    let email = ctx
        .st
        .get("customer", customer)
        .map(|c| c["email"].clone())
        .unwrap_or(Value::Null);
    let lines: Vec<Value> = lines
        .into_iter()
        .map(|mut l| {
            l["invoice"] = json!(id);
            l
        })
        .collect();
    let (period_start, period_end) = lines
        .first()
        .map(|l| (l["period"]["start"].clone(), l["period"]["end"].clone()))
        .unwrap_or((json!(ctx.now), json!(ctx.now)));
    let count = ctx.st.count("invoice") + 1;
    let mut inv = json!({
        "id": id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": due,
        "amount_paid": 0,
        "amount_remaining": due,
        "attempt_count": 0,
        "attempted": false,
        "auto_advance": finalize,
        "billing_reason": reason,
        "charge": null,
        "collection_method": "charge_automatically",
        "created": ctx.now,
        "currency": currency,
        "customer": customer,
        "customer_email": email,
        "default_payment_method": null,
        "description": null,
        "due_date": null,
        "ending_balance": 0,
        "hosted_invoice_url": format!("{}/invoices/{id}", ctx.base),
        "invoice_pdf": format!("{}/invoices/{id}/pdf", ctx.base),
        "lines": {"object": "list", "data": lines, "has_more": false, "total_count": lines.len(), "url": format!("/v1/invoices/{id}/lines")},
        "livemode": false,
        "metadata": {},
        "next_payment_attempt": null,
        "number": null,
        "paid": false,
        "paid_out_of_band": false,
        "parent": sub.map(|s| json!({"type": "subscription_details", "subscription_details": {"subscription": s, "metadata": {}}})),
        "payment_intent": null,
        "period_end": period_end,
        "period_start": period_start,
        "starting_balance": 0,
        "status": "draft",
        "status_transitions": {"finalized_at": null, "marked_uncollectible_at": null, "paid_at": null, "voided_at": null},
        "subscription": sub,
        "subtotal": total,
        "total": total,
    });
    if finalize {
        inv["status"] = json!("open");
        inv["number"] = json!(format!("MOCK-{count:06}"));
        inv["status_transitions"]["finalized_at"] = json!(ctx.now);
    }
    ctx.st.put("invoice", &id, inv.clone());
    ctx.emit("invoice.created", &inv, None);
    if finalize {
        ctx.emit("invoice.finalized", &inv, None);
    }
    inv
}

/// A subscription line of an invoice.
fn subscription_line(item: &Value, sub_id: &str, start: i64, end: i64) -> Value {
    json!({
        "id": new_id("il"),
        "object": "line_item",
        "amount": item_amount(item),
        "currency": item["price"]["currency"],
        "description": format!("{} × {}", item["quantity"], item["price"]["product"].as_str().unwrap_or("product")),
        "discountable": true,
        "livemode": false,
        "metadata": {},
        "period": {"start": start, "end": end},
        "plan": item["plan"],
        "price": item["price"],
        "proration": false,
        "proration_details": {"credited_items": null},
        "quantity": item["quantity"],
        "subscription": sub_id,
        "subscription_item": item["id"],
        "type": "subscription",
    })
}

/// Charges an open invoice through its PaymentIntent (created on the first attempt).
fn attempt_invoice(
    ctx: &mut Ctx,
    inv_id: &str,
    pm: Option<String>,
    off_session: bool,
) -> Result<Value, ApiError> {
    let mut inv = fetch(ctx, "invoice", inv_id, "invoice")?;
    if inv["amount_due"].as_i64().unwrap_or(0) == 0 {
        invoice_paid(ctx, inv_id)?;
        return fetch(ctx, "invoice", inv_id, "invoice");
    }
    let customer = inv["customer"].as_str().unwrap_or_default().to_string();
    let sub = inv["subscription"]
        .as_str()
        .and_then(|s| ctx.st.get("subscription", s))
        .cloned();
    let pm = pm.or_else(|| default_payment_method(ctx, &customer, sub.as_ref()));
    let pi_id = match inv["payment_intent"].as_str() {
        Some(pi) => pi.to_string(),
        None => {
            let currency = inv["currency"].as_str().unwrap_or("usd").to_string();
            let amount = inv["amount_due"].as_i64().unwrap_or(0);
            let pi = payment_intents::insert(
                ctx,
                amount,
                &currency,
                Some(&customer),
                None,
                Some(inv_id),
                &Params::empty(),
            )?;
            let id = pi["id"].as_str().unwrap_or_default().to_string();
            inv["payment_intent"] = json!(id);
            id
        }
    };
    let Some(pm) = pm else {
        ctx.st.put("invoice", inv_id, inv);
        return Err(no_payment_method());
    };
    let mut pi = fetch(ctx, "payment_intent", &pi_id, "payment_intent")?;
    pi["payment_method"] = json!(pm);
    pi["status"] = json!("requires_confirmation");
    ctx.st.put("payment_intent", &pi_id, pi);
    inv["attempted"] = json!(true);
    inv["attempt_count"] = json!(inv["attempt_count"].as_i64().unwrap_or(0) + 1);
    ctx.st.put("invoice", inv_id, inv);
    payment_intents::pay(ctx, &pi_id, off_session, false)?;
    fetch(ctx, "invoice", inv_id, "invoice")
}

/// Marks an invoice paid (its PaymentIntent succeeded) and activates its subscription.
pub(crate) fn invoice_paid(ctx: &mut Ctx, inv_id: &str) -> Result<(), ApiError> {
    let mut inv = fetch(ctx, "invoice", inv_id, "invoice")?;
    let due = inv["amount_due"].clone();
    inv["status"] = json!("paid");
    inv["paid"] = json!(true);
    inv["attempted"] = json!(true);
    inv["amount_paid"] = due;
    inv["amount_remaining"] = json!(0);
    inv["status_transitions"]["paid_at"] = json!(ctx.now);
    if inv["number"].is_null() {
        inv["number"] = json!(format!("MOCK-{:06}", ctx.st.count("invoice")));
        inv["status_transitions"]["finalized_at"] = json!(ctx.now);
    }
    if let Some(pi) = inv["payment_intent"]
        .as_str()
        .and_then(|p| ctx.st.get("payment_intent", p))
    {
        inv["charge"] = pi["latest_charge"].clone();
    }
    ctx.st.put("invoice", inv_id, inv.clone());
    ctx.emit("invoice.paid", &inv, None);
    ctx.emit("invoice.payment_succeeded", &inv, None);
    if let Some(sub_id) = inv["subscription"].as_str() {
        set_subscription_status(ctx, sub_id, &["incomplete", "past_due", "unpaid"], "active")?;
    }
    Ok(())
}

/// Records a failed invoice payment; renewals put the subscription `past_due`.
pub(crate) fn invoice_payment_failed(ctx: &mut Ctx, inv_id: &str) -> Result<(), ApiError> {
    let inv = fetch(ctx, "invoice", inv_id, "invoice")?;
    ctx.emit("invoice.payment_failed", &inv, None);
    if let (Some(sub_id), false) = (
        inv["subscription"].as_str(),
        inv["billing_reason"] == "subscription_create",
    ) {
        set_subscription_status(ctx, sub_id, &["active"], "past_due")?;
    }
    Ok(())
}

/// Records that an invoice's payment waits for 3D Secure.
pub(crate) fn invoice_action_required(ctx: &mut Ctx, inv_id: &str) -> Result<(), ApiError> {
    let inv = fetch(ctx, "invoice", inv_id, "invoice")?;
    ctx.emit("invoice.payment_action_required", &inv, None);
    Ok(())
}

fn set_subscription_status(
    ctx: &mut Ctx,
    sub_id: &str,
    from: &[&str],
    to: &str,
) -> Result<(), ApiError> {
    let before = fetch(ctx, "subscription", sub_id, "subscription")?;
    if !from.iter().any(|s| before["status"] == *s) {
        return Ok(());
    }
    let mut sub = before.clone();
    sub["status"] = json!(to);
    ctx.st.put("subscription", sub_id, sub.clone());
    if ctx.creating.as_deref() != Some(sub_id) {
        ctx.emit(
            "customer.subscription.updated",
            &sub,
            previous(&before, &sub),
        );
    }
    Ok(())
}

/// `POST /v1/subscriptions`.
pub(crate) fn create_subscription(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.req_str("customer")?.to_string();
    check_customer(ctx, &customer, "customer")?;
    let items_p = p.objects("items");
    if items_p.is_empty() {
        return Err(ApiError::missing_param("items"));
    }
    let id = new_id("sub");
    let mut items = Vec::new();
    for (i, item) in items_p.iter().enumerate() {
        let price = item_price(ctx, item, i)?;
        let quantity = item.int("quantity")?.unwrap_or(1);
        items.push(make_item(&id, &price, quantity, ctx.now, item));
    }
    let default_pm = match p.str("default_payment_method") {
        Some(pm) => {
            let pm = payment_methods::resolve(ctx, pm, "default_payment_method")?;
            payment_methods::attach_to(ctx, &pm, &customer)?;
            Some(pm)
        }
        None => None,
    };
    let behavior = p
        .str("payment_behavior")
        .unwrap_or("allow_incomplete")
        .to_string();
    let collection = p
        .str("collection_method")
        .unwrap_or("charge_automatically")
        .to_string();
    let recurring = &items[0]["price"]["recurring"];
    let interval = recurring["interval"]
        .as_str()
        .unwrap_or("month")
        .to_string();
    let count = recurring["interval_count"].as_i64().unwrap_or(1);
    let currency = items[0]["price"]["currency"]
        .as_str()
        .unwrap_or("usd")
        .to_string();
    let trial_end = match (p.int("trial_period_days")?, p.str("trial_end")) {
        (Some(days), _) if days > 0 => Some(ctx.now + days * 86_400),
        (_, Some(t)) if t != "now" => Some(
            t.parse::<i64>()
                .map_err(|_| ApiError::invalid("trial_end", "Invalid integer"))?,
        ),
        _ => None,
    };
    let start = ctx.now;
    let end = trial_end.unwrap_or_else(|| add_interval(start, &interval, count));
    let total: i64 = items.iter().map(item_amount).sum();
    let charges_now = trial_end.is_none() && total > 0 && collection == "charge_automatically";
    if charges_now
        && behavior != "default_incomplete"
        && default_pm.is_none()
        && default_payment_method(ctx, &customer, None).is_none()
    {
        return Err(no_payment_method());
    }
    for item in &mut items {
        item["current_period_start"] = json!(start);
        item["current_period_end"] = json!(end);
    }
    let single_plan = (items.len() == 1).then(|| items[0]["plan"].clone());
    let cancel_at_period_end = p.bool("cancel_at_period_end")?.unwrap_or(false);
    let sub = json!({
        "id": id,
        "object": "subscription",
        "application": null,
        "billing_cycle_anchor": end,
        "cancel_at": if cancel_at_period_end { json!(end) } else { Value::Null },
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": null,
        "cancellation_details": {"comment": null, "feedback": null, "reason": null},
        "collection_method": collection,
        "created": ctx.now,
        "currency": currency,
        "current_period_end": end,
        "current_period_start": start,
        "customer": customer,
        "days_until_due": p.int("days_until_due")?,
        "default_payment_method": default_pm,
        "description": p.str("description"),
        "discounts": [],
        "ended_at": null,
        "items": {"object": "list", "data": items, "has_more": false, "total_count": items.len(), "url": format!("/v1/subscription_items?subscription={id}")},
        "latest_invoice": null,
        "livemode": false,
        "metadata": merge_metadata(&json!({}), p),
        "pause_collection": null,
        "payment_settings": {"payment_method_options": null, "payment_method_types": null, "save_default_payment_method": p.str("payment_settings.save_default_payment_method").unwrap_or("off")},
        "pending_setup_intent": null,
        "pending_update": null,
        "plan": single_plan,
        "quantity": if items.len() == 1 { items[0]["quantity"].clone() } else { Value::Null },
        "start_date": start,
        "status": if trial_end.is_some() { "trialing" } else if charges_now { "incomplete" } else { "active" },
        "trial_end": trial_end,
        "trial_start": trial_end.map(|_| start),
    });
    ctx.st.put("subscription", &id, sub.clone());
    ctx.creating = Some(id.clone());
    let lines: Vec<Value> = items
        .iter()
        .map(|i| {
            let mut l = subscription_line(i, &id, start, end);
            if trial_end.is_some() {
                l["amount"] = json!(0);
            }
            l
        })
        .collect();
    let inv = create_invoice(
        ctx,
        &customer,
        Some(&id),
        lines,
        "subscription_create",
        &currency,
        true,
    );
    let inv_id = inv["id"].as_str().unwrap_or_default().to_string();
    let mut stored = fetch(ctx, "subscription", &id, "subscription")?;
    stored["latest_invoice"] = json!(inv_id);
    ctx.st.put("subscription", &id, stored);
    let mut failure = None;
    if !charges_now {
        if trial_end.is_some() || total == 0 {
            invoice_paid(ctx, &inv_id)?;
        }
    } else if behavior == "default_incomplete" {
        let pi = payment_intents::insert(
            ctx,
            total,
            &currency,
            Some(&customer),
            default_pm.as_deref(),
            Some(&inv_id),
            &Params::empty(),
        )?;
        let mut inv = fetch(ctx, "invoice", &inv_id, "invoice")?;
        inv["payment_intent"] = pi["id"].clone();
        ctx.st.put("invoice", &inv_id, inv);
    } else if let Err(e) = attempt_invoice(ctx, &inv_id, default_pm.clone(), false) {
        failure = Some(e);
    }
    ctx.creating = None;
    let sub = fetch(ctx, "subscription", &id, "subscription")?;
    ctx.emit("customer.subscription.created", &sub, None);
    match failure {
        Some(e) if behavior == "error_if_incomplete" || e.kind != "card_error" => Err(e),
        _ => Ok(sub),
    }
}

/// `POST /v1/subscriptions/{id}`: item changes (upgrades/downgrades with proration),
/// `cancel_at_period_end`, default payment method, metadata.
pub(crate) fn update_subscription(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let before = fetch(ctx, "subscription", id, "subscription")?;
    if before["status"] == "canceled" {
        return Err(ApiError::request(
            "resource_missing",
            "A canceled subscription can only update its cancellation_details and metadata.",
        ));
    }
    let mut sub = before.clone();
    let customer = sub["customer"].as_str().unwrap_or_default().to_string();
    let behavior = p
        .str("proration_behavior")
        .unwrap_or("create_prorations")
        .to_string();
    let when = p.int("proration_date")?.unwrap_or(ctx.now);
    let start = sub["current_period_start"].as_i64().unwrap_or(ctx.now);
    let end = sub["current_period_end"].as_i64().unwrap_or(ctx.now);
    let fraction = if end > start {
        ((end - when) as f64 / (end - start) as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut items: Vec<Value> = sub["items"]["data"].as_array().cloned().unwrap_or_default();
    let mut prorations: Vec<(i64, String, Value, i64, String)> = Vec::new();
    for (i, change) in p.objects("items").iter().enumerate() {
        let existing = change.str("id").map(str::to_string);
        let deleted = change.bool("deleted")?.unwrap_or(false);
        let position = match &existing {
            Some(si) => Some(
                items
                    .iter()
                    .position(|it| it["id"] == si.as_str())
                    .ok_or_else(|| {
                        ApiError::no_such("subscription item", si, Some(&format!("items[{i}][id]")))
                    })?,
            ),
            None => None,
        };
        if let Some(pos) = position {
            let old = items[pos].clone();
            if deleted {
                prorations.push((
                    -(item_amount(&old) as f64 * fraction).round() as i64,
                    format!(
                        "Unused time on {} after proration",
                        old["price"]["product"].as_str().unwrap_or("")
                    ),
                    old["price"].clone(),
                    old["quantity"].as_i64().unwrap_or(1),
                    old["id"].as_str().unwrap_or_default().to_string(),
                ));
                items.remove(pos);
                continue;
            }
            let mut new = old.clone();
            if change.str("price").is_some() || change.has("price_data") {
                let price = item_price(ctx, change, i)?;
                new["price"] = price.clone();
                new["plan"] = plan_of(&price);
            }
            if let Some(q) = change.int("quantity")? {
                new["quantity"] = json!(q);
            }
            new["metadata"] = merge_metadata(&new["metadata"], change);
            if item_amount(&new) != item_amount(&old) || new["price"]["id"] != old["price"]["id"] {
                let si = old["id"].as_str().unwrap_or_default().to_string();
                prorations.push((
                    -(item_amount(&old) as f64 * fraction).round() as i64,
                    format!(
                        "Unused time on {} after proration",
                        old["price"]["product"].as_str().unwrap_or("")
                    ),
                    old["price"].clone(),
                    old["quantity"].as_i64().unwrap_or(1),
                    si.clone(),
                ));
                prorations.push((
                    (item_amount(&new) as f64 * fraction).round() as i64,
                    format!(
                        "Remaining time on {} after proration",
                        new["price"]["product"].as_str().unwrap_or("")
                    ),
                    new["price"].clone(),
                    new["quantity"].as_i64().unwrap_or(1),
                    si,
                ));
            }
            items[pos] = new;
        } else {
            let price = item_price(ctx, change, i)?;
            if items.iter().any(|it| it["price"]["id"] == price["id"]) {
                return Err(ApiError::invalid(
                    &format!("items[{i}][price]"),
                    "Cannot add multiple subscription items with the same price.",
                ));
            }
            let quantity = change.int("quantity")?.unwrap_or(1);
            let mut item = make_item(id, &price, quantity, ctx.now, change);
            item["current_period_start"] = json!(start);
            item["current_period_end"] = json!(end);
            let si = item["id"].as_str().unwrap_or_default().to_string();
            prorations.push((
                (item_amount(&item) as f64 * fraction).round() as i64,
                format!(
                    "Remaining time on {} after proration",
                    price["product"].as_str().unwrap_or("")
                ),
                price,
                quantity,
                si,
            ));
            items.push(item);
        }
    }
    if !p.objects("items").is_empty() {
        sub["plan"] = if items.len() == 1 {
            items[0]["plan"].clone()
        } else {
            Value::Null
        };
        sub["quantity"] = if items.len() == 1 {
            items[0]["quantity"].clone()
        } else {
            Value::Null
        };
        sub["items"]["total_count"] = json!(items.len());
        sub["items"]["data"] = Value::Array(items);
    }
    if let Some(flag) = p.bool("cancel_at_period_end")? {
        sub["cancel_at_period_end"] = json!(flag);
        sub["cancel_at"] = if flag { json!(end) } else { Value::Null };
        sub["cancellation_details"]["reason"] = if flag {
            json!("cancellation_requested")
        } else {
            Value::Null
        };
    }
    if let Some(at) = p.int("cancel_at")? {
        sub["cancel_at"] = json!(at);
    }
    if let Some(pm) = p.str("default_payment_method") {
        let pm = payment_methods::resolve(ctx, pm, "default_payment_method")?;
        payment_methods::attach_to(ctx, &pm, &customer)?;
        sub["default_payment_method"] = json!(pm);
    }
    if let Some(d) = p.get("description").and_then(Value::as_str) {
        sub["description"] = if d.is_empty() { Value::Null } else { json!(d) };
    }
    sub["metadata"] = merge_metadata(&sub["metadata"], p);
    ctx.st.put("subscription", id, sub.clone());
    if behavior != "none" && !prorations.is_empty() {
        let currency = sub["currency"].as_str().unwrap_or("usd").to_string();
        let mut lines = Vec::new();
        for (amount, description, price, quantity, si) in prorations {
            let ii = new_id("ii");
            let item = json!({
                "id": ii,
                "object": "invoiceitem",
                "amount": amount,
                "currency": currency,
                "customer": customer,
                "date": ctx.now,
                "description": description,
                "discountable": false,
                "invoice": null,
                "livemode": false,
                "metadata": {},
                "period": {"start": when, "end": end},
                "price": price,
                "proration": true,
                "quantity": quantity,
                "subscription": id,
                "subscription_item": si,
                "unit_amount": price["unit_amount"],
            });
            ctx.st.put("invoiceitem", &ii, item.clone());
            ctx.emit("invoiceitem.created", &item, None);
            lines.push(item);
        }
        if behavior == "always_invoice" {
            let lines = lines.iter().map(line_from_item).collect();
            let inv = create_invoice(
                ctx,
                &customer,
                Some(id),
                lines,
                "subscription_update",
                &currency,
                true,
            );
            let inv_id = inv["id"].as_str().unwrap_or_default().to_string();
            mark_items_invoiced(ctx, &inv);
            let mut s = fetch(ctx, "subscription", id, "subscription")?;
            s["latest_invoice"] = json!(inv_id);
            ctx.st.put("subscription", id, s);
            if let Err(e) = attempt_invoice(ctx, &inv_id, None, true) {
                if e.kind != "card_error" {
                    return Err(e);
                }
            }
        }
    }
    let after = fetch(ctx, "subscription", id, "subscription")?;
    ctx.emit(
        "customer.subscription.updated",
        &after,
        previous(&before, &after),
    );
    Ok(after)
}

fn line_from_item(item: &Value) -> Value {
    json!({
        "id": new_id("il"),
        "object": "line_item",
        "amount": item["amount"],
        "currency": item["currency"],
        "description": item["description"],
        "discountable": item["discountable"],
        "invoice_item": item["id"],
        "livemode": false,
        "metadata": item["metadata"],
        "period": item["period"],
        "price": item["price"],
        "proration": item["proration"],
        "proration_details": {"credited_items": null},
        "quantity": item["quantity"],
        "subscription": item["subscription"],
        "subscription_item": item["subscription_item"],
        "type": "invoiceitem",
    })
}

fn mark_items_invoiced(ctx: &mut Ctx, inv: &Value) {
    let ids: Vec<String> = inv["lines"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["invoice_item"].as_str().map(str::to_string))
        .collect();
    for ii in ids {
        if let Some(mut item) = ctx.st.get("invoiceitem", &ii).cloned() {
            item["invoice"] = inv["id"].clone();
            ctx.st.put("invoiceitem", &ii, item);
        }
    }
}

/// `DELETE /v1/subscriptions/{id}`: cancels now.
pub(crate) fn cancel_subscription(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let before = fetch(ctx, "subscription", id, "subscription")?;
    if before["status"] == "canceled" {
        return Err(ApiError::no_such("subscription", id, Some("id")).with_code("resource_missing"));
    }
    let mut sub = before.clone();
    sub["status"] = json!("canceled");
    sub["canceled_at"] = json!(ctx.now);
    sub["ended_at"] = json!(ctx.now);
    sub["cancellation_details"] = json!({
        "comment": p.str("cancellation_details.comment"),
        "feedback": p.str("cancellation_details.feedback"),
        "reason": "cancellation_requested",
    });
    ctx.st.put("subscription", id, sub.clone());
    ctx.emit("customer.subscription.deleted", &sub, None);
    Ok(sub)
}

/// `GET /v1/subscriptions` (canceled ones only with `status=canceled|all`).
pub(crate) fn list_subscriptions(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.str("customer");
    let price = p.str("price");
    let status = p.str("status");
    list::list(ctx.st, "subscription", "/v1/subscriptions", p, |s| {
        customer.is_none_or(|c| s["customer"] == c)
            && price.is_none_or(|pr| {
                s["items"]["data"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| i["price"]["id"] == pr))
            })
            && match status {
                Some("all") => true,
                Some(st) => s["status"] == st,
                None => s["status"] != "canceled",
            }
    })
}

/// `POST /v1/invoices`: a draft invoice collecting the customer's pending invoice items.
pub(crate) fn create_invoice_api(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.req_str("customer")?.to_string();
    check_customer(ctx, &customer, "customer")?;
    let sub = p.str("subscription").map(str::to_string);
    let pending: Vec<Value> = if p.str("pending_invoice_items_behavior") == Some("exclude") {
        Vec::new()
    } else {
        ctx.st
            .all("invoiceitem")
            .filter(|i| i["customer"] == customer.as_str() && i["invoice"].is_null())
            .filter(|i| sub.as_deref().is_none_or(|s| i["subscription"] == s))
            .cloned()
            .collect()
    };
    let currency = p
        .str("currency")
        .map(str::to_lowercase)
        .or_else(|| {
            pending
                .first()
                .and_then(|i| i["currency"].as_str().map(str::to_string))
        })
        .unwrap_or_else(|| "usd".to_string());
    let lines = pending.iter().map(line_from_item).collect();
    let mut inv = create_invoice(
        ctx,
        &customer,
        sub.as_deref(),
        lines,
        "manual",
        &currency,
        false,
    );
    mark_items_invoiced(ctx, &inv);
    inv["auto_advance"] = json!(p.bool("auto_advance")?.unwrap_or(false));
    inv["description"] = json!(p.str("description"));
    inv["metadata"] = merge_metadata(&json!({}), p);
    if let Some(cm) = p.str("collection_method") {
        inv["collection_method"] = json!(cm);
    }
    let id = inv["id"].as_str().unwrap_or_default().to_string();
    ctx.st.put("invoice", &id, inv.clone());
    Ok(inv)
}

/// `POST /v1/invoices/{id}/finalize`.
pub(crate) fn finalize_invoice(ctx: &mut Ctx, id: &str) -> Result<Value, ApiError> {
    let mut inv = fetch(ctx, "invoice", id, "invoice")?;
    if inv["status"] != "draft" {
        return Err(ApiError::request(
            "invoice_not_editable",
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
        ));
    }
    inv["status"] = json!("open");
    inv["number"] = json!(format!("MOCK-{:06}", ctx.st.count("invoice")));
    inv["status_transitions"]["finalized_at"] = json!(ctx.now);
    ctx.st.put("invoice", id, inv.clone());
    ctx.emit("invoice.finalized", &inv, None);
    Ok(inv)
}

/// `POST /v1/invoices/{id}/pay`.
pub(crate) fn pay_invoice(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let inv = fetch(ctx, "invoice", id, "invoice")?;
    match inv["status"].as_str() {
        Some("paid") => {
            return Err(ApiError::request(
                "invoice_already_paid",
                "Invoice is already paid",
            ))
        }
        Some("void") => {
            return Err(ApiError::request(
                "invoice_not_editable",
                "This invoice has been voided and cannot be paid.",
            ))
        }
        Some("draft") => {
            finalize_invoice(ctx, id)?;
        }
        _ => {}
    }
    if p.bool("paid_out_of_band")?.unwrap_or(false) {
        invoice_paid(ctx, id)?;
        let mut inv = fetch(ctx, "invoice", id, "invoice")?;
        inv["paid_out_of_band"] = json!(true);
        ctx.st.put("invoice", id, inv.clone());
        return Ok(inv);
    }
    let pm = match p.str("payment_method") {
        Some(pm) => Some(payment_methods::resolve(ctx, pm, "payment_method")?),
        None => None,
    };
    let off_session = p.bool("off_session")?.unwrap_or(true);
    attempt_invoice(ctx, id, pm, off_session)
}

/// `POST /v1/invoices/{id}/void`.
pub(crate) fn void_invoice(ctx: &mut Ctx, id: &str) -> Result<Value, ApiError> {
    let mut inv = fetch(ctx, "invoice", id, "invoice")?;
    if inv["status"] != "open" {
        return Err(ApiError::request(
            "invoice_not_editable",
            format!(
                "You can only void open invoices; this one is {}.",
                inv["status"]
            ),
        ));
    }
    inv["status"] = json!("void");
    inv["amount_remaining"] = json!(0);
    inv["status_transitions"]["voided_at"] = json!(ctx.now);
    ctx.st.put("invoice", id, inv.clone());
    if let Some(pi) = inv["payment_intent"].as_str().map(str::to_string) {
        if let Some(mut pi_obj) = ctx.st.get("payment_intent", &pi).cloned() {
            if pi_obj["status"] != "succeeded" {
                pi_obj["status"] = json!("canceled");
                pi_obj["canceled_at"] = json!(ctx.now);
                pi_obj["cancellation_reason"] = json!("void_invoice");
                ctx.st.put("payment_intent", &pi, pi_obj.clone());
                ctx.emit("payment_intent.canceled", &pi_obj, None);
            }
        }
    }
    ctx.emit("invoice.voided", &inv, None);
    Ok(inv)
}

/// `GET /v1/invoices`.
pub(crate) fn list_invoices(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.str("customer");
    let sub = p.str("subscription");
    let status = p.str("status");
    list::list(ctx.st, "invoice", "/v1/invoices", p, |i| {
        customer.is_none_or(|c| i["customer"] == c)
            && sub.is_none_or(|s| i["subscription"] == s)
            && status.is_none_or(|s| i["status"] == s)
    })
}

/// `POST /v1/invoiceitems`.
pub(crate) fn create_invoice_item(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.req_str("customer")?.to_string();
    check_customer(ctx, &customer, "customer")?;
    let (amount, currency, price, quantity) = match p.str("price") {
        Some(price_id) => {
            let price = ctx
                .st
                .get("price", price_id)
                .cloned()
                .ok_or_else(|| ApiError::no_such("price", price_id, Some("price")))?;
            let q = p.int("quantity")?.unwrap_or(1);
            (
                price["unit_amount"].as_i64().unwrap_or(0) * q,
                price["currency"].as_str().unwrap_or("usd").to_string(),
                price,
                q,
            )
        }
        None => (
            p.int("amount")?
                .ok_or_else(|| ApiError::missing_param("amount"))?,
            p.req_str("currency")?.to_lowercase(),
            Value::Null,
            1,
        ),
    };
    let id = new_id("ii");
    let item = json!({
        "id": id,
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer,
        "date": ctx.now,
        "description": p.str("description"),
        "discountable": true,
        "invoice": p.str("invoice"),
        "livemode": false,
        "metadata": merge_metadata(&json!({}), p),
        "period": {"start": ctx.now, "end": ctx.now},
        "price": price,
        "proration": false,
        "quantity": quantity,
        "subscription": p.str("subscription"),
        "subscription_item": null,
        "unit_amount": if quantity > 0 { json!(amount / quantity) } else { Value::Null },
    });
    ctx.st.put("invoiceitem", &id, item.clone());
    ctx.emit("invoiceitem.created", &item, None);
    Ok(item)
}

/// `GET /v1/invoiceitems`.
pub(crate) fn list_invoice_items(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.str("customer");
    let pending = p.bool("pending")?;
    list::list(ctx.st, "invoiceitem", "/v1/invoiceitems", p, |i| {
        customer.is_none_or(|c| i["customer"] == c)
            && pending.is_none_or(|pd| i["invoice"].is_null() == pd)
    })
}
