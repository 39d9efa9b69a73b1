//! stripe-mock: the Stripe REST API v1 (form-encoded bodies, `sk_test_…` keys, Stripe error
//! objects, test cards, idempotency keys, signed webhooks) as a stateful server whose state
//! lives in a data directory, so checkpoints and branches of an environment capture it.
//!
//! Attaching a PaymentMethod never declines; declines happen when a card is charged (or
//! verified by a SetupIntent), following Stripe's documented test cards.

mod api;
mod api_error;
mod auth;
mod cards;
mod config;
mod ctx;
mod error;
mod expand;
mod fixtures;
mod form;
mod http;
mod ids;
mod list;
mod params;
mod resources;
mod store;
mod tls;
mod webhook_delivery;
mod webhook_sign;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use serde_json::json;
use tokio::sync::Notify;

pub use error::StripeError;

use config::Settings;
use ctx::{Ctx, DELIVERY};
use store::Store;

/// How to run a stripe-mock server: where it listens, where it keeps its state and the
/// service's manifest `config`.
#[derive(Debug, Clone)]
pub struct StripeOptions {
    /// Address to listen on.
    pub listen: IpAddr,
    /// HTTP port (the catalog default is 12111).
    pub http_port: u16,
    /// HTTPS port with a self-signed certificate (the catalog default is 12112), if any.
    pub https_port: Option<u16>,
    /// Directory holding the state (snapshot + journal) and the TLS certificate.
    pub data_dir: PathBuf,
    /// The manifest `config` of the service (`webhook_endpoint`, `webhook_secret`,
    /// `fixtures`); may be `Null`.
    pub config: serde_json::Value,
}

/// The running mock's shared state: the persisted store, settings, and the webhook
/// delivery machinery. Build it with [`StripeState::open`] and serve it with [`router`].
pub struct StripeState {
    store: Mutex<Store>,
    settings: Settings,
    notify: Notify,
    inflight: Mutex<HashSet<String>>,
    client: reqwest::Client,
    webhooks_started: AtomicBool,
    data_dir: PathBuf,
}

impl std::fmt::Debug for StripeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeState")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl StripeState {
    /// Loads the state from `data_dir` (or, on first start, creates the fixtures of
    /// `config`) and prepares webhook delivery.
    pub fn open(
        data_dir: &std::path::Path,
        config: &serde_json::Value,
    ) -> Result<Arc<StripeState>, StripeError> {
        let settings = Settings::from_config(config)?;
        let mut store = Store::open(data_dir)?;
        if store.state.is_empty() {
            let mut ctx = Ctx {
                st: &mut store.state,
                settings: &settings,
                now: ids::now(),
                base: "http://localhost:12111".to_string(),
                request: json!({"id": null, "idempotency_key": null}),
                queued: 0,
                creating: None,
            };
            fixtures::load(&mut ctx, &settings.fixtures)?;
            let noise: Vec<(String, String)> = ["event", DELIVERY]
                .iter()
                .flat_map(|k| {
                    store
                        .state
                        .all(k)
                        .filter_map(|v| v["id"].as_str().map(|id| (k.to_string(), id.to_string())))
                        .collect::<Vec<_>>()
                })
                .collect();
            for (kind, id) in noise {
                store.state.remove(&kind, &id);
            }
            store
                .state
                .put("_meta", "fixtures", json!({"loaded_at": ids::now()}));
            store.commit()?;
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| StripeError::Client {
                message: e.to_string(),
            })?;
        Ok(Arc::new(StripeState {
            store: Mutex::new(store),
            settings,
            notify: Notify::new(),
            inflight: Mutex::new(HashSet::new()),
            client,
            webhooks_started: AtomicBool::new(false),
            data_dir: data_dir.to_path_buf(),
        }))
    }

    /// Starts the background webhook delivery task (once; needs a Tokio runtime).
    pub fn start_webhooks(self: &Arc<Self>) {
        if !self.webhooks_started.swap(true, Ordering::SeqCst) {
            tokio::spawn(webhook_delivery::run(self.clone()));
        }
    }

    /// How many webhook deliveries are waiting to be sent or retried.
    pub fn pending_webhooks(&self) -> usize {
        self.store
            .lock()
            .map(|s| s.state.count(DELIVERY))
            .unwrap_or(0)
    }
}

/// The stripe-mock HTTP router for `state` (`/v1/...`, `/healthz`, and the hosted pages
/// for Checkout and 3D Secure). Starts webhook delivery when called inside a Tokio runtime.
pub fn router(state: Arc<StripeState>) -> Router {
    if tokio::runtime::Handle::try_current().is_ok() {
        state.start_webhooks();
    }
    Router::new()
        .route("/healthz", get(http::healthz))
        .route("/v1/{*path}", axum::routing::any(http::api))
        .route(
            "/checkout/{id}",
            get(http::checkout_page).post(http::checkout_page),
        )
        .route(
            "/3ds/{id}",
            get(http::three_ds_page).post(http::three_ds_page),
        )
        .fallback(http::not_found)
        .with_state(state)
}

/// Serves stripe-mock on `opts.listen` (HTTP, plus HTTPS when `https_port` is set) until the
/// process ends.
pub async fn serve(opts: StripeOptions) -> Result<(), StripeError> {
    let addr = SocketAddr::new(opts.listen, opts.http_port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StripeError::Bind { addr, source })?;
    let tls_listener = match opts.https_port {
        Some(port) => {
            let addr = SocketAddr::new(opts.listen, port);
            Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| StripeError::Bind { addr, source })?,
            )
        }
        None => None,
    };
    serve_on(listener, tls_listener, opts).await
}

/// Serves stripe-mock on already bound listeners (the ports of `opts` are ignored) until
/// the process ends.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    tls_listener: Option<tokio::net::TcpListener>,
    opts: StripeOptions,
) -> Result<(), StripeError> {
    let state = StripeState::open(&opts.data_dir, &opts.config)?;
    let app = router(state);
    if let Some(tls_listener) = tls_listener {
        let acceptor = tls::acceptor(&opts.data_dir.join("tls"), opts.listen)?;
        let https_app = app.clone().layer(axum::Extension(http::Https));
        tokio::spawn(tls::serve(tls_listener, acceptor, https_app));
    }
    axum::serve(listener, app)
        .await
        .map_err(|source| StripeError::Serve { source })
}
