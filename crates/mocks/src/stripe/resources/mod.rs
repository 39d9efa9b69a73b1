//! The Stripe resources, one module per object family.

pub(crate) mod billing;
pub(crate) mod catalog;
pub(crate) mod charges;
pub(crate) mod checkout;
pub(crate) mod customers;
pub(crate) mod payment_intents;
pub(crate) mod payment_methods;
pub(crate) mod setup_intents;
pub(crate) mod webhook_endpoints;

use serde_json::Value;

use super::api_error::ApiError;
use super::ctx::Ctx;
use super::params::Params;

/// A copy of object `id` of `kind`, or Stripe's 404 naming it `what`.
pub(crate) fn fetch(ctx: &Ctx, kind: &str, id: &str, what: &str) -> Result<Value, ApiError> {
    ctx.st
        .get(kind, id)
        .filter(|v| v.get("deleted").is_none())
        .cloned()
        .ok_or_else(|| ApiError::no_such(what, id, Some("id")))
}

/// Copies the listed string parameters onto `obj` (an empty string sets `null`).
pub(crate) fn copy_strings(obj: &mut Value, p: &Params, keys: &[&str]) {
    for key in keys {
        match p.get(key) {
            Some(Value::String(s)) if s.is_empty() => obj[*key] = Value::Null,
            Some(Value::String(s)) => obj[*key] = Value::String(s.clone()),
            Some(v @ Value::Object(_)) => obj[*key] = v.clone(),
            _ => {}
        }
    }
}

/// The top-level keys of `after` whose values differ from `before`, with their old values
/// (an event's `previous_attributes`).
pub(crate) fn previous(before: &Value, after: &Value) -> Option<Value> {
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        return None;
    };
    let changed: serde_json::Map<String, Value> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| (k.clone(), b.get(k).cloned().unwrap_or(Value::Null)))
        .collect();
    (!changed.is_empty()).then_some(Value::Object(changed))
}

/// Checks that `customer` names an existing customer (404 on `param` otherwise).
pub(crate) fn check_customer(ctx: &Ctx, customer: &str, param: &str) -> Result<(), ApiError> {
    match ctx.st.get("customer", customer) {
        Some(c) if c.get("deleted").is_none() => Ok(()),
        _ => Err(ApiError::no_such("customer", customer, Some(param))),
    }
}
