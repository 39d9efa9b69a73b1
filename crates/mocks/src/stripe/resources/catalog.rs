//! Products, prices and shipping rates.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::ctx::Ctx;
use super::super::ids::new_id;
use super::super::list;
use super::super::params::{merge_metadata, Params};
use super::{copy_strings, fetch, previous};

fn fresh_id(ctx: &Ctx, p: &Params, prefix: &str) -> Result<String, ApiError> {
    match p.str("id") {
        Some(id) if ctx.st.get_any(id).is_some() => Err(ApiError::invalid(
            "id",
            format!("Object with id {id} already exists."),
        )
        .with_code("resource_already_exists")),
        Some(id) => Ok(id.to_string()),
        None => Ok(new_id(prefix)),
    }
}

/// `POST /v1/products` (also creates `default_price_data` when given).
pub(crate) fn create_product(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let name = p.req_str("name")?;
    let id = fresh_id(ctx, p, "prod")?;
    let mut product = json!({
        "id": id,
        "object": "product",
        "active": p.bool("active")?.unwrap_or(true),
        "created": ctx.now,
        "default_price": null,
        "description": null,
        "images": p.strings("images"),
        "livemode": false,
        "marketing_features": [],
        "metadata": merge_metadata(&json!({}), p),
        "name": name,
        "package_dimensions": null,
        "shippable": null,
        "statement_descriptor": null,
        "tax_code": null,
        "type": "service",
        "unit_label": null,
        "updated": ctx.now,
        "url": null,
    });
    copy_strings(
        &mut product,
        p,
        &["description", "statement_descriptor", "unit_label", "url"],
    );
    ctx.st.put("product", &id, product.clone());
    ctx.emit("product.created", &product, None);
    if let Some(mut data) = p.sub("default_price_data") {
        data.0["product"] = json!(id);
        let price = create_price(ctx, &data)?;
        product["default_price"] = price["id"].clone();
        ctx.st.put("product", &id, product.clone());
    }
    Ok(product)
}

/// `POST /v1/products/{id}`.
pub(crate) fn update_product(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let before = fetch(ctx, "product", id, "product")?;
    let mut product = before.clone();
    copy_strings(
        &mut product,
        p,
        &[
            "name",
            "description",
            "statement_descriptor",
            "unit_label",
            "url",
            "default_price",
        ],
    );
    if let Some(active) = p.bool("active")? {
        product["active"] = json!(active);
    }
    product["metadata"] = merge_metadata(&product["metadata"], p);
    product["updated"] = json!(ctx.now);
    ctx.st.put("product", id, product.clone());
    ctx.emit("product.updated", &product, previous(&before, &product));
    Ok(product)
}

/// `DELETE /v1/products/{id}`.
pub(crate) fn delete_product(ctx: &mut Ctx, id: &str) -> Result<Value, ApiError> {
    let product = fetch(ctx, "product", id, "product")?;
    let stub = json!({"id": id, "object": "product", "deleted": true});
    ctx.st.put("product", id, stub.clone());
    ctx.emit("product.deleted", &product, None);
    Ok(stub)
}

/// `GET /v1/products`.
pub(crate) fn list_products(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let active = p.bool("active")?;
    let ids = p.strings("ids");
    list::list(ctx.st, "product", "/v1/products", p, |v| {
        active.is_none_or(|a| v["active"] == a)
            && (ids.is_empty() || ids.iter().any(|i| v["id"] == i.as_str()))
    })
}

/// `POST /v1/prices` (with `product` or `product_data[name]`).
pub(crate) fn create_price(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let currency = p.req_str("currency")?.to_lowercase();
    let product = match (p.str("product"), p.sub("product_data")) {
        (Some(prod), _) => {
            fetch(ctx, "product", prod, "product").map_err(|e| e.with_param("product"))?;
            prod.to_string()
        }
        (None, Some(data)) => create_product(ctx, &data)?["id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        (None, None) => return Err(ApiError::missing_param("product")),
    };
    let unit_amount = match p.int("unit_amount")? {
        Some(a) => a,
        None => p
            .str("unit_amount_decimal")
            .and_then(|d| d.parse::<f64>().ok())
            .map(|d| d.round() as i64)
            .ok_or_else(|| ApiError::missing_param("unit_amount"))?,
    };
    if unit_amount < 0 {
        return Err(ApiError::invalid(
            "unit_amount",
            "This value must be greater than or equal to 0.",
        ));
    }
    let recurring = match p.sub("recurring") {
        Some(r) => {
            let interval = r
                .req_str("interval")
                .map_err(|_| ApiError::missing_param("recurring[interval]"))?;
            if !["day", "week", "month", "year"].contains(&interval) {
                return Err(ApiError::invalid(
                    "recurring[interval]",
                    "Invalid recurring[interval]: must be one of day, week, month, or year",
                ));
            }
            json!({
                "aggregate_usage": null,
                "interval": interval,
                "interval_count": r.int("interval_count")?.unwrap_or(1),
                "meter": null,
                "trial_period_days": null,
                "usage_type": r.str("usage_type").unwrap_or("licensed"),
            })
        }
        None => Value::Null,
    };
    let id = fresh_id(ctx, p, "price")?;
    Ok(store_price(
        ctx,
        &id,
        &product,
        unit_amount,
        &currency,
        recurring,
        p,
    ))
}

/// Stores a price object.
fn store_price(
    ctx: &mut Ctx,
    id: &str,
    product: &str,
    unit_amount: i64,
    currency: &str,
    recurring: Value,
    p: &Params,
) -> Value {
    let price = json!({
        "id": id,
        "object": "price",
        "active": true,
        "billing_scheme": "per_unit",
        "created": ctx.now,
        "currency": currency,
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": p.str("lookup_key"),
        "metadata": merge_metadata(&json!({}), p),
        "nickname": p.str("nickname"),
        "product": product,
        "tax_behavior": "unspecified",
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if recurring.is_null() { "one_time" } else { "recurring" },
        "recurring": recurring,
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount.to_string(),
    });
    ctx.st.put("price", id, price.clone());
    ctx.emit("price.created", &price, None);
    price
}

/// `POST /v1/prices/{id}`.
pub(crate) fn update_price(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let before = fetch(ctx, "price", id, "price")?;
    let mut price = before.clone();
    copy_strings(&mut price, p, &["nickname", "lookup_key"]);
    if let Some(active) = p.bool("active")? {
        price["active"] = json!(active);
    }
    price["metadata"] = merge_metadata(&price["metadata"], p);
    ctx.st.put("price", id, price.clone());
    ctx.emit("price.updated", &price, previous(&before, &price));
    Ok(price)
}

/// `GET /v1/prices`.
pub(crate) fn list_prices(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let product = p.str("product");
    let active = p.bool("active")?;
    let kind = p.str("type");
    let keys = p.strings("lookup_keys");
    list::list(ctx.st, "price", "/v1/prices", p, |v| {
        product.is_none_or(|x| v["product"] == x)
            && active.is_none_or(|a| v["active"] == a)
            && kind.is_none_or(|k| v["type"] == k)
            && (keys.is_empty() || keys.iter().any(|k| v["lookup_key"] == k.as_str()))
    })
}

/// `POST /v1/shipping_rates`.
pub(crate) fn create_shipping_rate(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let name = p.req_str("display_name")?.to_string();
    let amount = p
        .int("fixed_amount.amount")?
        .ok_or_else(|| ApiError::missing_param("fixed_amount[amount]"))?;
    let currency = p
        .str("fixed_amount.currency")
        .unwrap_or("usd")
        .to_lowercase();
    let id = fresh_id(ctx, p, "shr")?;
    let rate = shipping_rate(
        &id,
        ctx.now,
        &name,
        amount,
        &currency,
        merge_metadata(&json!({}), p),
    );
    ctx.st.put("shipping_rate", &id, rate.clone());
    Ok(rate)
}

fn shipping_rate(
    id: &str,
    created: i64,
    name: &str,
    amount: i64,
    currency: &str,
    metadata: Value,
) -> Value {
    json!({
        "id": id,
        "object": "shipping_rate",
        "active": true,
        "created": created,
        "delivery_estimate": null,
        "display_name": name,
        "fixed_amount": {"amount": amount, "currency": currency},
        "livemode": false,
        "metadata": metadata,
        "tax_behavior": "unspecified",
        "tax_code": null,
        "type": "fixed_amount",
    })
}

/// `POST /v1/shipping_rates/{id}`.
pub(crate) fn update_shipping_rate(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut rate = fetch(ctx, "shipping_rate", id, "shipping rate")?;
    if let Some(active) = p.bool("active")? {
        rate["active"] = json!(active);
    }
    rate["metadata"] = merge_metadata(&rate["metadata"], p);
    ctx.st.put("shipping_rate", id, rate.clone());
    Ok(rate)
}

/// `GET /v1/shipping_rates`.
pub(crate) fn list_shipping_rates(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let active = p.bool("active")?;
    list::list(ctx.st, "shipping_rate", "/v1/shipping_rates", p, |v| {
        active.is_none_or(|a| v["active"] == a)
    })
}

/// Loads a fixture product `{id, name, prices[{id, unit_amount|amount, currency, recurring}]}`.
pub(crate) fn fixture_product(ctx: &mut Ctx, f: &Value) -> Result<(), String> {
    let id = f["id"].as_str().ok_or("products[]: `id` is required")?;
    let name = f["name"].as_str().unwrap_or(id);
    let mut p = Params(json!({"id": id, "name": name}));
    if let Some(d) = f["description"].as_str() {
        p.0["description"] = json!(d);
    }
    if let Some(m) = f.get("metadata").filter(|m| m.is_object()) {
        p.0["metadata"] = m.clone();
    }
    create_product(ctx, &p).map_err(|e| format!("product {id}: {}", e.message))?;
    for price in f["prices"].as_array().into_iter().flatten() {
        let pid = price["id"]
            .as_str()
            .ok_or_else(|| format!("product {id}: prices[]: `id` is required"))?;
        let amount = price["unit_amount"]
            .as_i64()
            .or_else(|| price["amount"].as_i64())
            .ok_or_else(|| format!("price {pid}: `unit_amount` (or `amount`) is required"))?;
        let currency = price["currency"].as_str().unwrap_or("usd").to_lowercase();
        let recurring = match price["recurring"]["interval"].as_str() {
            Some(interval) => json!({
                "aggregate_usage": null,
                "interval": interval,
                "interval_count": price["recurring"]["interval_count"].as_i64().unwrap_or(1),
                "meter": null,
                "trial_period_days": null,
                "usage_type": "licensed",
            }),
            None => Value::Null,
        };
        let mut pp = Params::empty();
        if let Some(n) = price["nickname"].as_str() {
            pp.0["nickname"] = json!(n);
        }
        if let Some(k) = price["lookup_key"].as_str() {
            pp.0["lookup_key"] = json!(k);
        }
        store_price(ctx, pid, id, amount, &currency, recurring, &pp);
    }
    Ok(())
}

/// Loads a fixture shipping rate `{id, display_name, amount, currency}`.
pub(crate) fn fixture_shipping_rate(ctx: &mut Ctx, f: &Value) -> Result<(), String> {
    let id = f["id"]
        .as_str()
        .ok_or("shipping_rates[]: `id` is required")?;
    let name = f["display_name"].as_str().unwrap_or(id);
    let amount = f["amount"]
        .as_i64()
        .or_else(|| f["fixed_amount"]["amount"].as_i64())
        .ok_or_else(|| format!("shipping rate {id}: `amount` is required"))?;
    let currency = f["currency"].as_str().unwrap_or("usd");
    let rate = shipping_rate(id, ctx.now, name, amount, currency, json!({}));
    ctx.st.put("shipping_rate", id, rate);
    Ok(())
}
