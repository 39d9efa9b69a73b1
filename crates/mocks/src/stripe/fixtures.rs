//! Loading the manifest's `fixtures` on first start, with the ids they give.

use serde_json::Value;

use super::ctx::Ctx;
use super::error::StripeError;
use super::params::Params;
use super::resources::{catalog, customers, payment_methods};

/// Creates every fixture object (customers, products with prices, payment methods,
/// shipping rates). No events are emitted for fixtures.
pub(crate) fn load(ctx: &mut Ctx, fixtures: &Value) -> Result<(), StripeError> {
    let bad = |message: String| StripeError::Config {
        message: format!("fixtures: {message}"),
    };
    let section = |key: &str| -> Result<Vec<Value>, StripeError> {
        match fixtures.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(other) => Err(bad(format!("`{key}` must be a list, found {other}"))),
        }
    };
    for c in section("customers")? {
        let id = c["id"]
            .as_str()
            .ok_or_else(|| bad("customers[]: `id` is required".to_string()))?;
        let mut p = Params(serde_json::json!({}));
        for key in ["email", "name", "description", "phone"] {
            if let Some(v) = c[key].as_str() {
                p.0[key] = Value::String(v.to_string());
            }
        }
        if let Some(Value::Object(meta)) = c.get("metadata") {
            let strings = meta
                .iter()
                .map(|(k, v)| {
                    let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), Value::String(s))
                })
                .collect();
            p.0["metadata"] = Value::Object(strings);
        }
        let customer = customers::build(id, ctx.now, &p);
        ctx.st.put("customer", id, customer);
    }
    for product in section("products")? {
        catalog::fixture_product(ctx, &product).map_err(bad)?;
    }
    for pm in section("payment_methods")? {
        payment_methods::fixture(ctx, &pm).map_err(bad)?;
    }
    for rate in section("shipping_rates")? {
        catalog::fixture_shipping_rate(ctx, &rate).map_err(bad)?;
    }
    Ok(())
}
