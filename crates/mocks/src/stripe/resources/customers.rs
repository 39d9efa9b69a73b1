//! Customers: create, retrieve, update, delete, list, search.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::ctx::Ctx;
use super::super::ids::new_id;
use super::super::list;
use super::super::params::{merge_metadata, Params};
use super::{copy_strings, fetch, payment_methods, previous};

const FIELDS: &[&str] = &[
    "email",
    "name",
    "description",
    "phone",
    "address",
    "shipping",
    "preferred_locales",
];

/// A new customer object (not stored).
pub(crate) fn build(id: &str, created: i64, p: &Params) -> Value {
    let mut c = json!({
        "id": id,
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": created,
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": null,
        "discount": null,
        "email": null,
        "invoice_prefix": id.trim_start_matches("cus_").chars().take(8).collect::<String>().to_uppercase(),
        "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
        "livemode": false,
        "metadata": merge_metadata(&json!({}), p),
        "name": null,
        "next_invoice_sequence": 1,
        "phone": null,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null,
    });
    copy_strings(&mut c, p, FIELDS);
    c
}

/// `POST /v1/customers`.
pub(crate) fn create(ctx: &mut Ctx, p: &Params) -> Result<Value, ApiError> {
    let id = match p.str("id") {
        Some(id) if ctx.st.get_any(id).is_some() => {
            return Err(ApiError::invalid("id", "Customer already exists.")
                .with_code("resource_already_exists"))
        }
        Some(id) => id.to_string(),
        None => new_id("cus"),
    };
    let customer = build(&id, ctx.now, p);
    ctx.st.put("customer", &id, customer.clone());
    ctx.emit("customer.created", &customer, None);
    apply_payment_settings(ctx, &id, p)?;
    fetch(ctx, "customer", &id, "customer")
}

/// Attaches `payment_method` / `source` and sets `invoice_settings[default_payment_method]`.
fn apply_payment_settings(ctx: &mut Ctx, id: &str, p: &Params) -> Result<(), ApiError> {
    let before = fetch(ctx, "customer", id, "customer")?;
    let mut customer = before.clone();
    if let Some(pm) = p.str("payment_method") {
        let pm_id = payment_methods::resolve(ctx, pm, "payment_method")?;
        payment_methods::attach_to(ctx, &pm_id, id)?;
    }
    if let Some(source) = p.str("source") {
        let pm_id = payment_methods::resolve(ctx, source, "source")?;
        payment_methods::attach_to(ctx, &pm_id, id)?;
        customer["default_source"] = json!(pm_id);
    }
    if let Some(default) = p
        .get("invoice_settings.default_payment_method")
        .and_then(Value::as_str)
    {
        if default.is_empty() {
            customer["invoice_settings"]["default_payment_method"] = Value::Null;
        } else {
            let pm_id =
                payment_methods::resolve(ctx, default, "invoice_settings[default_payment_method]")?;
            payment_methods::attach_to(ctx, &pm_id, id)?;
            customer["invoice_settings"]["default_payment_method"] = json!(pm_id);
        }
    }
    if customer != before {
        ctx.st.put("customer", id, customer);
    }
    Ok(())
}

/// `POST /v1/customers/{id}`.
pub(crate) fn update(ctx: &mut Ctx, id: &str, p: &Params) -> Result<Value, ApiError> {
    let before = fetch(ctx, "customer", id, "customer")?;
    let mut customer = before.clone();
    copy_strings(&mut customer, p, FIELDS);
    customer["metadata"] = merge_metadata(&customer["metadata"], p);
    ctx.st.put("customer", id, customer);
    apply_payment_settings(ctx, id, p)?;
    let after = fetch(ctx, "customer", id, "customer")?;
    if let Some(prev) = previous(&before, &after) {
        ctx.emit("customer.updated", &after, Some(prev));
    }
    Ok(after)
}

/// `GET /v1/customers/{id}`: deleted customers answer a `deleted: true` stub.
pub(crate) fn retrieve(ctx: &Ctx, id: &str) -> Result<Value, ApiError> {
    ctx.st
        .get("customer", id)
        .cloned()
        .ok_or_else(|| ApiError::no_such("customer", id, Some("id")))
}

/// `DELETE /v1/customers/{id}`: cancels the customer's subscriptions and leaves a stub.
pub(crate) fn delete(ctx: &mut Ctx, id: &str) -> Result<Value, ApiError> {
    let customer = fetch(ctx, "customer", id, "customer")?;
    let subs: Vec<String> = ctx
        .st
        .all("subscription")
        .filter(|s| s["customer"] == id && s["status"] != "canceled")
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    for sub in subs {
        super::billing::cancel_subscription(ctx, &sub, &Params::empty())?;
    }
    let stub = json!({"id": id, "object": "customer", "deleted": true});
    ctx.st.put("customer", id, stub.clone());
    ctx.emit("customer.deleted", &customer, None);
    Ok(stub)
}

/// `GET /v1/customers`.
pub(crate) fn list(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let email = p.str("email");
    list::list(ctx.st, "customer", "/v1/customers", p, |c| {
        email.is_none_or(|e| c["email"] == e)
    })
}

/// `GET /v1/customers/search`: supports `field:'value'` clauses on `email`, `name`,
/// `phone` and `metadata['key']`, joined by `AND`.
pub(crate) fn search(ctx: &Ctx, p: &Params) -> Result<Value, ApiError> {
    let query = p.req_str("query")?;
    let mut clauses = Vec::new();
    for clause in query.split(" AND ") {
        let (field, value) = clause.split_once(':').ok_or_else(|| {
            ApiError::invalid("query", format!("Invalid search clause: {clause}"))
        })?;
        let value = value
            .trim()
            .trim_matches(|c| c == '\'' || c == '"')
            .to_string();
        let field = field.trim();
        let path = if let Some(key) = field
            .strip_prefix("metadata[")
            .and_then(|r| r.strip_suffix(']'))
        {
            format!("metadata.{}", key.trim_matches(|c| c == '\'' || c == '"'))
        } else if ["email", "name", "phone"].contains(&field) {
            field.to_string()
        } else {
            return Err(ApiError::invalid(
                "query",
                format!("Field `{field}` is an unsupported search field."),
            ));
        };
        clauses.push((path, value));
    }
    let data: Vec<&Value> = ctx
        .st
        .all("customer")
        .rev()
        .filter(|c| c.get("deleted").is_none())
        .filter(|c| {
            clauses.iter().all(|(path, value)| {
                super::super::params::lookup(c, path).and_then(Value::as_str)
                    == Some(value.as_str())
            })
        })
        .collect();
    let mut page = list::page(data, "/v1/customers/search", p)?;
    page["object"] = json!("search_result");
    page["next_page"] = Value::Null;
    Ok(page)
}
