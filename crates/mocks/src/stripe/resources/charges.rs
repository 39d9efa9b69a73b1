//! Charges (made by PaymentIntents) and refunds.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::cards::Decline;
use super::super::ctx::Ctx;
use super::super::ids::{new_id, random};
use super::super::list;
use super::super::params::{merge_metadata, Params};
use super::fetch;

/// Records a charge for PaymentIntent `pi` paid with `pm_id`: succeeded (captured or only
/// authorized) or failed with `decline`. Emits `charge.succeeded` / `charge.failed`.
pub(crate) fn record(
    ctx: &mut Ctx,
    pi: &Value,
    pm_id: &str,
    decline: Option<&Decline>,
    capture: bool,
) -> Value {
    let id = new_id("ch");
    let amount = pi["amount"].as_i64().unwrap_or(0);
    let pm = ctx
        .st
        .get("payment_method", pm_id)
        .cloned()
        .unwrap_or(Value::Null);
    let succeeded = decline.is_none();
    let outcome = match decline {
        None => {
            json!({"network_status": "approved_by_network", "reason": null, "risk_level": "normal", "risk_score": 32, "seller_message": "Payment complete.", "type": "authorized"})
        }
        Some(d) => {
            json!({"network_status": "declined_by_network", "reason": d.decline_code, "risk_level": "normal", "risk_score": 40, "seller_message": "The bank did not return any further details with this decline.", "type": "issuer_declined"})
        }
    };
    let charge = json!({
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": if succeeded && capture { amount } else { 0 },
        "amount_refunded": 0,
        "balance_transaction": if succeeded && capture { json!(new_id("txn")) } else { Value::Null },
        "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": "VERS MOCK",
        "captured": succeeded && capture,
        "created": ctx.now,
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": false,
        "failure_code": decline.map(|d| d.code),
        "failure_message": decline.map(|d| d.message),
        "invoice": pi.get("invoice").cloned().unwrap_or(Value::Null),
        "livemode": false,
        "metadata": pi["metadata"],
        "outcome": outcome,
        "paid": succeeded,
        "payment_intent": pi["id"],
        "payment_method": pm_id,
        "payment_method_details": {
            "card": {
                "brand": pm["card"]["brand"],
                "checks": pm["card"]["checks"],
                "country": pm["card"]["country"],
                "exp_month": pm["card"]["exp_month"],
                "exp_year": pm["card"]["exp_year"],
                "fingerprint": pm["card"]["fingerprint"],
                "funding": pm["card"]["funding"],
                "last4": pm["card"]["last4"],
                "network": pm["card"]["brand"],
                "three_d_secure": null,
                "wallet": null,
            },
            "type": "card",
        },
        "receipt_email": pi["receipt_email"],
        "receipt_url": format!("{}/receipts/{id}", ctx.base),
        "refunded": false,
        "refunds": {"object": "list", "data": [], "has_more": false, "total_count": 0, "url": format!("/v1/charges/{id}/refunds")},
        "shipping": pi["shipping"],
        "status": if succeeded { "succeeded" } else { "failed" },
    });
    ctx.st.put("charge", &id, charge.clone());
    ctx.emit(
        if succeeded {
            "charge.succeeded"
        } else {
            "charge.failed"
        },
        &charge,
        None,
    );
    charge
}

/// Marks an authorized charge captured for `amount`.
pub(crate) fn capture(ctx: &mut Ctx, charge_id: &str, amount: i64) -> Option<Value> {
    let mut charge = ctx.st.get("charge", charge_id).cloned()?;
    charge["captured"] = json!(true);
    charge["amount_captured"] = json!(amount);
    charge["balance_transaction"] = json!(new_id("txn"));
    ctx.st.put("charge", charge_id, charge.clone());
    ctx.emit(
        "charge.captured",
        &charge,
        Some(json!({"captured": false, "amount_captured": 0})),
    );
    Some(charge)
}

/// `GET /v1/charges`.
pub(crate) fn list(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let customer = p.str("customer");
    let pi = p.str("payment_intent");
    list::list(ctx.st, "charge", "/v1/charges", p, |c| {
        customer.is_none_or(|x| c["customer"] == x) && pi.is_none_or(|x| c["payment_intent"] == x)
    })
}

/// `POST /v1/charges/{id}` (metadata, description).
pub(crate) fn update(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut charge = fetch(ctx, "charge", id, "charge")?;
    super::copy_strings(&mut charge, p, &["description", "receipt_email"]);
    charge["metadata"] = merge_metadata(&charge["metadata"], p);
    ctx.st.put("charge", id, charge.clone());
    ctx.emit("charge.updated", &charge, None);
    Ok(charge)
}

/// `POST /v1/refunds` (by `charge` or `payment_intent`; defaults to the whole remaining amount).
pub(crate) fn create_refund(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let charge_id = match (p.str("charge"), p.str("payment_intent")) {
        (Some(c), _) => c.to_string(),
        (None, Some(pi_id)) => {
            let pi = fetch(ctx, "payment_intent", pi_id, "payment_intent")
                .map_err(|e| e.with_param("payment_intent"))?;
            if pi["status"] != "succeeded" {
                return Err(ApiError::request(
                    "charge_not_refundable",
                    format!(
                        "This PaymentIntent ({pi_id}) does not have a successful charge to refund."
                    ),
                )
                .with_param("payment_intent"));
            }
            pi["latest_charge"].as_str().unwrap_or_default().to_string()
        }
        (None, None) => return Err(ApiError::missing_param("charge")),
    };
    let mut charge =
        fetch(ctx, "charge", &charge_id, "charge").map_err(|e| e.with_param("charge"))?;
    if charge["status"] != "succeeded" || charge["captured"] != true {
        return Err(ApiError::request(
            "charge_not_refundable",
            format!("Charge {charge_id} has not been captured or did not succeed; it cannot be refunded."),
        ));
    }
    let captured = charge["amount_captured"].as_i64().unwrap_or(0);
    let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
    if refunded >= captured {
        return Err(ApiError::request(
            "charge_already_refunded",
            format!("Charge {charge_id} has already been refunded."),
        ));
    }
    let amount = p.int("amount")?.unwrap_or(captured - refunded);
    if amount <= 0 || amount > captured - refunded {
        return Err(ApiError::invalid(
            "amount",
            format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({}).",
                captured - refunded
            ),
        )
        .with_code("amount_too_large"));
    }
    let id = new_id("re");
    let refund = json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge_id,
        "created": ctx.now,
        "currency": charge["currency"],
        "destination_details": {"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"}, "type": "card"},
        "metadata": merge_metadata(&json!({}), p),
        "payment_intent": charge["payment_intent"],
        "reason": p.str("reason"),
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null,
    });
    ctx.st.put("refund", &id, refund.clone());
    let before = json!({"amount_refunded": refunded, "refunded": false});
    charge["amount_refunded"] = json!(refunded + amount);
    charge["refunded"] = json!(refunded + amount >= captured);
    let mut refunds: Vec<Value> = charge["refunds"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    refunds.insert(0, refund.clone());
    charge["refunds"]["total_count"] = json!(refunds.len());
    charge["refunds"]["data"] = Value::Array(refunds);
    ctx.st.put("charge", &charge_id, charge.clone());
    ctx.emit("refund.created", &refund, None);
    ctx.emit("charge.refunded", &charge, Some(before));
    Ok(refund)
}

/// `POST /v1/refunds/{id}` (metadata).
pub(crate) fn update_refund(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut refund = fetch(ctx, "refund", id, "refund")?;
    refund["metadata"] = merge_metadata(&refund["metadata"], p);
    ctx.st.put("refund", id, refund.clone());
    ctx.emit("refund.updated", &refund, None);
    Ok(refund)
}

/// `GET /v1/refunds`.
pub(crate) fn list_refunds(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let charge = p.str("charge");
    let pi = p.str("payment_intent");
    list::list(ctx.st, "refund", "/v1/refunds", p, |r| {
        charge.is_none_or(|x| r["charge"] == x) && pi.is_none_or(|x| r["payment_intent"] == x)
    })
}

/// A client secret for an intent: `{id}_secret_{random}`.
pub(crate) fn client_secret(id: &str) -> String {
    format!("{id}_secret_{}", random(24))
}
