//! Routing of `/v1/...` requests to the resource handlers.

use axum::http::Method;
use serde_json::Value;

use super::api_error::ApiError;
use super::ctx::Ctx;
use super::list;
use super::params::Params;
use super::resources::{
    billing, catalog, charges, checkout, customers, fetch, payment_intents, payment_methods,
    setup_intents, webhook_endpoints,
};

/// Runs the endpoint named by `method` and the path segments after `/v1/`.
pub(crate) fn dispatch(
    ctx: &mut Ctx,
    method: &Method,
    segs: &[&str],
    p: &Params,
) -> Result<Value, ApiError> {
    let get = method == Method::GET;
    let post = method == Method::POST;
    let delete = method == Method::DELETE;
    match segs {
        ["customers"] if post => customers::create(ctx, p),
        ["customers"] if get => customers::list(ctx, p),
        ["customers", "search"] if get => customers::search(ctx, p),
        ["customers", id] if get => customers::retrieve(ctx, id),
        ["customers", id] if post => customers::update(ctx, id, p),
        ["customers", id] if delete => customers::delete(ctx, id),
        ["customers", id, "payment_methods"] if get => payment_methods::list(
            ctx,
            Some(id),
            p,
            &format!("/v1/customers/{id}/payment_methods"),
        ),
        ["products"] if post => catalog::create_product(ctx, p),
        ["products"] if get => catalog::list_products(ctx, p),
        ["products", id] if get => fetch(ctx, "product", id, "product"),
        ["products", id] if post => catalog::update_product(ctx, id, p),
        ["products", id] if delete => catalog::delete_product(ctx, id),
        ["prices"] if post => catalog::create_price(ctx, p),
        ["prices"] if get => catalog::list_prices(ctx, p),
        ["prices", id] if get => fetch(ctx, "price", id, "price"),
        ["prices", id] if post => catalog::update_price(ctx, id, p),
        ["shipping_rates"] if post => catalog::create_shipping_rate(ctx, p),
        ["shipping_rates"] if get => catalog::list_shipping_rates(ctx, p),
        ["shipping_rates", id] if get => fetch(ctx, "shipping_rate", id, "shipping rate"),
        ["shipping_rates", id] if post => catalog::update_shipping_rate(ctx, id, p),
        ["payment_methods"] if post => payment_methods::create(ctx, p),
        ["payment_methods"] if get => {
            let customer = p.str("customer").map(str::to_string);
            payment_methods::list(ctx, customer.as_deref(), p, "/v1/payment_methods")
        }
        ["payment_methods", id] if get => payment_methods::retrieve(ctx, id),
        ["payment_methods", id] if post => payment_methods::update(ctx, id, p),
        ["payment_methods", id, "attach"] if post => payment_methods::attach(ctx, id, p),
        ["payment_methods", id, "detach"] if post => payment_methods::detach(ctx, id),
        ["payment_intents"] if post => payment_intents::create(ctx, p),
        ["payment_intents"] if get => payment_intents::list(ctx, p),
        ["payment_intents", id] if get => fetch(ctx, "payment_intent", id, "payment_intent"),
        ["payment_intents", id] if post => payment_intents::update(ctx, id, p),
        ["payment_intents", id, "confirm"] if post => payment_intents::confirm(ctx, id, p),
        ["payment_intents", id, "capture"] if post => payment_intents::capture(ctx, id, p),
        ["payment_intents", id, "cancel"] if post => payment_intents::cancel(ctx, id, p),
        ["setup_intents"] if post => setup_intents::create(ctx, p),
        ["setup_intents"] if get => setup_intents::list(ctx, p),
        ["setup_intents", id] if get => fetch(ctx, "setup_intent", id, "setupintent"),
        ["setup_intents", id] if post => setup_intents::update(ctx, id, p),
        ["setup_intents", id, "confirm"] if post => setup_intents::confirm(ctx, id, p),
        ["setup_intents", id, "cancel"] if post => setup_intents::cancel(ctx, id, p),
        ["charges"] if get => charges::list(ctx, p),
        ["charges", id] if get => fetch(ctx, "charge", id, "charge"),
        ["charges", id] if post => charges::update(ctx, id, p),
        ["charges", id, "refunds"] if get => {
            let mut q = p.clone();
            q.0["charge"] = Value::String((*id).to_string());
            charges::list_refunds(ctx, &q)
        }
        ["refunds"] if post => charges::create_refund(ctx, p),
        ["refunds"] if get => charges::list_refunds(ctx, p),
        ["refunds", id] if get => fetch(ctx, "refund", id, "refund"),
        ["refunds", id] if post => charges::update_refund(ctx, id, p),
        ["subscriptions"] if post => billing::create_subscription(ctx, p),
        ["subscriptions"] if get => billing::list_subscriptions(ctx, p),
        ["subscriptions", id] if get => fetch(ctx, "subscription", id, "subscription"),
        ["subscriptions", id] if post => billing::update_subscription(ctx, id, p),
        ["subscriptions", id] if delete => billing::cancel_subscription(ctx, id, p),
        ["invoices"] if post => billing::create_invoice_api(ctx, p),
        ["invoices"] if get => billing::list_invoices(ctx, p),
        ["invoices", id] if get => fetch(ctx, "invoice", id, "invoice"),
        ["invoices", id, "lines"] if get => {
            let inv = fetch(ctx, "invoice", id, "invoice")?;
            let lines = inv["lines"]["data"].as_array().cloned().unwrap_or_default();
            list::page(
                lines.iter().collect(),
                &format!("/v1/invoices/{id}/lines"),
                p,
            )
        }
        ["invoices", id, "finalize"] if post => billing::finalize_invoice(ctx, id),
        ["invoices", id, "pay"] if post => billing::pay_invoice(ctx, id, p),
        ["invoices", id, "void"] if post => billing::void_invoice(ctx, id),
        ["invoiceitems"] if post => billing::create_invoice_item(ctx, p),
        ["invoiceitems"] if get => billing::list_invoice_items(ctx, p),
        ["invoiceitems", id] if get => fetch(ctx, "invoiceitem", id, "invoiceitem"),
        ["events"] if get => {
            let kind = p.str("type");
            let types = p.strings("types");
            list::list(ctx.st, "event", "/v1/events", p, |e| {
                kind.is_none_or(|k| matches_type(e, k))
                    && (types.is_empty() || types.iter().any(|t| matches_type(e, t)))
            })
        }
        ["events", id] if get => fetch(ctx, "event", id, "event"),
        ["webhook_endpoints"] if post => webhook_endpoints::create(ctx, p),
        ["webhook_endpoints"] if get => webhook_endpoints::list(ctx, p),
        ["webhook_endpoints", id] if get => webhook_endpoints::retrieve(ctx, id),
        ["webhook_endpoints", id] if post => webhook_endpoints::update(ctx, id, p),
        ["webhook_endpoints", id] if delete => webhook_endpoints::delete(ctx, id),
        ["checkout", "sessions"] if post => checkout::create(ctx, p),
        ["checkout", "sessions"] if get => checkout::list(ctx, p),
        ["checkout", "sessions", id] if get => checkout::retrieve(ctx, id, p),
        ["checkout", "sessions", id, "line_items"] if get => checkout::line_items(ctx, id, p),
        ["checkout", "sessions", id, "expire"] if post => checkout::expire(ctx, id),
        _ => Err(ApiError::unknown_url(
            method.as_str(),
            &format!("/v1/{}", segs.join("/")),
        )),
    }
}

/// Whether an event's type matches `pattern` (`*` wildcard at the end, as Stripe allows).
fn matches_type(event: &Value, pattern: &str) -> bool {
    let kind = event["type"].as_str().unwrap_or_default();
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => kind == pattern,
    }
}
