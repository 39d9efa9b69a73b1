//! PaymentMethods: cards from numbers, tokens and Stripe's test PaymentMethods; attach,
//! detach, list by customer. What each card does when charged is kept beside it.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::cards::{self, Outcome};
use super::super::ctx::Ctx;
use super::super::ids::{new_id, random};
use super::super::list;
use super::super::params::{merge_metadata, Params};
use super::{check_customer, fetch};

/// Kind of the hidden per-card behaviour records.
const CARD_BEHAVIOUR: &str = "_card";

/// The visible facts of a card plus its behaviour.
pub(crate) struct CardFacts {
    pub brand: String,
    pub last4: String,
    pub funding: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub outcome: Outcome,
}

impl CardFacts {
    fn from_test_card(card: &cards::TestCard, now: i64) -> Self {
        CardFacts {
            brand: card.brand.to_string(),
            last4: card.number[card.number.len() - 4..].to_string(),
            funding: card.funding.to_string(),
            exp_month: 12,
            exp_year: year_of(now) + 3,
            outcome: card.outcome,
        }
    }
}

fn year_of(ts: i64) -> i64 {
    1970 + ts / 31_556_952
}

/// Reads `card[number|exp_month|exp_year|cvc]` or `card[token]` (param prefix `prefix`).
pub(crate) fn card_from_params(
    ctx: &Ctx,
    card: &Params,
    prefix: &str,
) -> Result<CardFacts, ApiError> {
    if let Some(token) = card.str("token") {
        let test = cards::by_alias(token)
            .ok_or_else(|| ApiError::no_such("token", token, Some(&format!("{prefix}[token]"))))?;
        return Ok(CardFacts::from_test_card(test, ctx.now));
    }
    let number: String = card
        .req_str("number")
        .map_err(|_| ApiError::missing_param(&format!("{prefix}[number]")))?
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if !cards::luhn(&number) {
        return Err(
            ApiError::card("incorrect_number", None, "Your card number is incorrect.")
                .with_param(&format!("{prefix}[number]")),
        );
    }
    let mut facts = match cards::by_number(&number) {
        Some(test) => CardFacts::from_test_card(test, ctx.now),
        None => CardFacts {
            brand: cards::brand_of(&number).to_string(),
            last4: number[number.len() - 4..].to_string(),
            funding: "credit".to_string(),
            exp_month: 12,
            exp_year: year_of(ctx.now) + 3,
            outcome: Outcome::Success,
        },
    };
    if let Some(m) = card.int("exp_month")? {
        if !(1..=12).contains(&m) {
            return Err(ApiError::card(
                "invalid_expiry_month",
                None,
                "Your card's expiration month is invalid.",
            )
            .with_param(&format!("{prefix}[exp_month]")));
        }
        facts.exp_month = m;
    }
    if let Some(y) = card.int("exp_year")? {
        let y = if y < 100 { 2000 + y } else { y };
        if y < year_of(ctx.now) {
            return Err(ApiError::card(
                "invalid_expiry_year",
                None,
                "Your card's expiration year is invalid.",
            )
            .with_param(&format!("{prefix}[exp_year]")));
        }
        facts.exp_year = y;
    }
    if let Some(cvc) = card.str("cvc") {
        if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::card(
                "invalid_cvc",
                None,
                "Your card's security code is invalid.",
            )
            .with_param(&format!("{prefix}[cvc]")));
        }
    }
    Ok(facts)
}

/// Stores a new card PaymentMethod (with id `id` or a fresh one) and returns it.
pub(crate) fn store_card(ctx: &mut Ctx, id: Option<&str>, facts: &CardFacts, p: &Params) -> Value {
    let id = id.map_or_else(|| new_id("pm"), str::to_string);
    let billing = p.get("billing_details").cloned().unwrap_or(json!({}));
    let pm = json!({
        "id": id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": billing.get("address").cloned().unwrap_or(json!({"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null})),
            "email": billing.get("email").cloned().unwrap_or(Value::Null),
            "name": billing.get("name").cloned().unwrap_or(Value::Null),
            "phone": billing.get("phone").cloned().unwrap_or(Value::Null),
        },
        "card": {
            "brand": facts.brand,
            "checks": {"address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass"},
            "country": "US",
            "display_brand": facts.brand,
            "exp_month": facts.exp_month,
            "exp_year": facts.exp_year,
            "fingerprint": random(16),
            "funding": facts.funding,
            "generated_from": null,
            "last4": facts.last4,
            "networks": {"available": [facts.brand], "preferred": null},
            "three_d_secure_usage": {"supported": true},
            "wallet": null,
        },
        "created": ctx.now,
        "customer": null,
        "livemode": false,
        "metadata": merge_metadata(&json!({}), p),
        "type": "card",
    });
    ctx.st.put("payment_method", &id, pm.clone());
    ctx.st.put(
        CARD_BEHAVIOUR,
        &id,
        json!({"outcome": facts.outcome, "set_up": false}),
    );
    pm
}

/// The behaviour of a stored card PaymentMethod and whether it was set up for later use.
pub(crate) fn behaviour(ctx: &Ctx, pm_id: &str) -> (Outcome, bool) {
    match ctx.st.get(CARD_BEHAVIOUR, pm_id) {
        Some(b) => (
            serde_json::from_value(b["outcome"].clone()).unwrap_or(Outcome::Success),
            b["set_up"].as_bool().unwrap_or(false),
        ),
        None => (Outcome::Success, false),
    }
}

/// Records that the card was set up (SetupIntent succeeded) for off-session use.
pub(crate) fn mark_set_up(ctx: &mut Ctx, pm_id: &str) {
    let (outcome, _) = behaviour(ctx, pm_id);
    ctx.st.put(
        CARD_BEHAVIOUR,
        pm_id,
        json!({"outcome": outcome, "set_up": true}),
    );
}

/// The id of a stored PaymentMethod named by `id`, creating one for Stripe's test
/// PaymentMethods and tokens (`pm_card_visa`, `tok_visa`).
pub(crate) fn resolve(ctx: &mut Ctx, id: &str, param: &str) -> Result<String, ApiError> {
    if ctx.st.get("payment_method", id).is_some() {
        return Ok(id.to_string());
    }
    match cards::by_alias(id) {
        Some(test) => {
            let facts = CardFacts::from_test_card(test, ctx.now);
            let pm = store_card(ctx, None, &facts, &Params::empty());
            Ok(pm["id"].as_str().unwrap_or_default().to_string())
        }
        None => Err(ApiError::no_such("PaymentMethod", id, Some(param))),
    }
}

/// A PaymentMethod from `payment_method_data[type]=card&payment_method_data[card][...]`.
pub(crate) fn from_data(ctx: &mut Ctx, data: &Params) -> Result<String, ApiError> {
    let kind = data.str("type").unwrap_or("card");
    if kind != "card" {
        return Err(ApiError::invalid(
            "payment_method_data[type]",
            format!("The payment method type `{kind}` is not supported by this mock; use `card`."),
        ));
    }
    let card = data
        .sub("card")
        .ok_or_else(|| ApiError::missing_param("payment_method_data[card]"))?;
    let facts = card_from_params(ctx, &card, "payment_method_data[card]")?;
    let pm = store_card(ctx, None, &facts, data);
    Ok(pm["id"].as_str().unwrap_or_default().to_string())
}

/// `POST /v1/payment_methods`.
pub(crate) fn create(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    if let Some(existing) = p.str("payment_method") {
        let id = resolve(ctx, existing, "payment_method")?;
        return fetch(ctx, "payment_method", &id, "PaymentMethod");
    }
    let kind = p.req_str("type")?;
    if kind != "card" {
        return Err(ApiError::invalid(
            "type",
            format!("The payment method type `{kind}` is not supported by this mock; use `card`."),
        ));
    }
    let card = p
        .sub("card")
        .ok_or_else(|| ApiError::missing_param("card"))?;
    let facts = card_from_params(ctx, &card, "card")?;
    Ok(store_card(ctx, None, &facts, p))
}

/// `GET /v1/payment_methods/{id}` (test PaymentMethod names resolve to new cards).
pub(crate) fn retrieve(ctx: &mut Ctx, id: &str) -> Result<Value, ApiError> {
    let id = resolve(ctx, id, "id")?;
    fetch(ctx, "payment_method", &id, "PaymentMethod")
}

/// `POST /v1/payment_methods/{id}`.
pub(crate) fn update(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let before = fetch(ctx, "payment_method", id, "PaymentMethod")?;
    let mut pm = before.clone();
    pm["metadata"] = merge_metadata(&pm["metadata"], p);
    if let Some(Value::Object(bd)) = p.get("billing_details") {
        for (k, v) in bd {
            pm["billing_details"][k] = v.clone();
        }
    }
    for key in ["exp_month", "exp_year"] {
        if let Some(v) = p.int(&format!("card.{key}"))? {
            pm["card"][key] = json!(v);
        }
    }
    ctx.st.put("payment_method", id, pm.clone());
    ctx.emit("payment_method.updated", &pm, super::previous(&before, &pm));
    Ok(pm)
}

/// Attaches a stored PaymentMethod to a customer (no-op if already attached to it).
pub(crate) fn attach_to(ctx: &mut Ctx, pm_id: &str, customer: &str) -> Result<Value, ApiError> {
    check_customer(ctx, customer, "customer")?;
    let mut pm = fetch(ctx, "payment_method", pm_id, "PaymentMethod")?;
    match pm["customer"].as_str() {
        Some(c) if c == customer => return Ok(pm),
        Some(_) => {
            return Err(ApiError::request(
                "payment_method_unexpected_state",
                "The payment method you provided has already been attached to a customer.",
            ))
        }
        None => {}
    }
    pm["customer"] = json!(customer);
    ctx.st.put("payment_method", pm_id, pm.clone());
    ctx.emit(
        "payment_method.attached",
        &pm,
        Some(json!({"customer": null})),
    );
    Ok(pm)
}

/// `POST /v1/payment_methods/{id}/attach`.
pub(crate) fn attach(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let customer = p.req_str("customer")?.to_string();
    let pm_id = resolve(ctx, id, "payment_method")?;
    attach_to(ctx, &pm_id, &customer)
}

/// `POST /v1/payment_methods/{id}/detach`.
pub(crate) fn detach(ctx: &mut Ctx, id: &str) -> Result<Value, ApiError> {
    let mut pm = fetch(ctx, "payment_method", id, "PaymentMethod")?;
    let Some(customer) = pm["customer"].as_str().map(str::to_string) else {
        return Err(ApiError::request(
            "payment_method_unexpected_state",
            "The payment method you provided is not attached to a customer so detachment is impossible.",
        ));
    };
    pm["customer"] = Value::Null;
    ctx.st.put("payment_method", id, pm.clone());
    if let Some(mut c) = ctx.st.get("customer", &customer).cloned() {
        if c["invoice_settings"]["default_payment_method"] == id || c["default_source"] == id {
            if c["invoice_settings"]["default_payment_method"] == id {
                c["invoice_settings"]["default_payment_method"] = Value::Null;
            }
            if c["default_source"] == id {
                c["default_source"] = Value::Null;
            }
            ctx.st.put("customer", &customer, c);
        }
    }
    ctx.emit(
        "payment_method.detached",
        &pm,
        Some(json!({"customer": customer})),
    );
    Ok(pm)
}

/// `GET /v1/payment_methods?customer=` and `GET /v1/customers/{id}/payment_methods`.
pub(crate) fn list(
    ctx: &Ctx,
    customer: Option<&str>,
    p: &Params,
    url: &str,
) -> Result<Value, ApiError> {
    if let Some(c) = customer {
        check_customer(ctx, c, "customer")?;
    }
    let kind = p.str("type");
    list::list(ctx.st, "payment_method", url, p, |pm| {
        customer.is_none_or(|c| pm["customer"] == c) && kind.is_none_or(|k| pm["type"] == k)
    })
}

/// Loads a fixture PaymentMethod `{id, type, card{brand, last4}}`.
pub(crate) fn fixture(ctx: &mut Ctx, f: &Value) -> Result<(), String> {
    let id = f["id"]
        .as_str()
        .ok_or("payment_methods[]: `id` is required")?;
    let last4 = f["card"]["last4"].as_str().unwrap_or("4242").to_string();
    let facts = CardFacts {
        brand: f["card"]["brand"].as_str().unwrap_or("visa").to_string(),
        outcome: cards::outcome_by_last4(&last4),
        last4,
        funding: "credit".to_string(),
        exp_month: f["card"]["exp_month"].as_i64().unwrap_or(12),
        exp_year: f["card"]["exp_year"]
            .as_i64()
            .unwrap_or(year_of(ctx.now) + 3),
    };
    let mut pm = store_card(ctx, Some(id), &facts, &Params::empty());
    if let Some(c) = f["customer"].as_str() {
        pm["customer"] = json!(c);
        ctx.st.put("payment_method", id, pm);
    }
    Ok(())
}
