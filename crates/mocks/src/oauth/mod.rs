//! oauth-mock: one OpenID Connect issuer per configured provider, plus GitHub-shaped OAuth
//! endpoints, with keys, codes and tokens kept in a data directory so checkpoints capture them.

mod authorize;
mod bearer;
mod client_auth;
mod config;
mod error;
mod github;
mod grants;
mod keys;
mod oidc;
mod params;
mod pkce;
mod protocol_error;
mod store;
mod tokens;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use error::OauthError;

use config::Settings;
use keys::SigningKey;
use store::Store;

/// How to run an oauth-mock server: where it listens, where it keeps its state and the
/// service's manifest `config`.
#[derive(Debug, Clone)]
pub struct OauthOptions {
    /// Address to listen on.
    pub listen: IpAddr,
    /// TCP port to listen on (the catalog default is 8080).
    pub port: u16,
    /// Directory holding the signing key, issued codes and tokens.
    pub data_dir: PathBuf,
    /// The manifest `config` of the service (`providers`, `callback_urls`, `issuer`); may be `Null`.
    pub config: serde_json::Value,
    /// Base URL clients use to reach this server (e.g. `http://oauth:8080`); issuers are
    /// `{base}/{provider}`. Defaults to `http://{listen}:{port}`.
    pub public_base: Option<String>,
}

/// Shared state of the HTTP handlers.
pub(crate) struct AppState {
    settings: Settings,
    key: SigningKey,
    store: Store,
    base: String,
}

impl AppState {
    /// The issuer URL of `provider`.
    fn issuer(&self, provider: &str) -> String {
        format!("{}/{}", self.base, provider)
    }
}

/// Builds the oauth-mock router for `opts`, loading (or generating on first start) the
/// signing key in the data directory.
pub fn router(opts: &OauthOptions) -> Result<Router, OauthError> {
    let settings = Settings::from_config(&opts.config)?;
    let base = settings
        .issuer
        .clone()
        .or_else(|| opts.public_base.clone())
        .unwrap_or_else(|| format!("http://{}", SocketAddr::new(opts.listen, opts.port)));
    let base = base.trim_end_matches('/').to_string();
    let key = SigningKey::load_or_generate(&opts.data_dir.join("keys"))?;
    let store = Store::open(&opts.data_dir)?;
    let state = Arc::new(AppState {
        settings,
        key,
        store,
        base,
    });
    Ok(Router::new()
        .route("/", get(oidc::index))
        .route(
            "/{provider}/.well-known/openid-configuration",
            get(oidc::discovery),
        )
        .route(
            "/{provider}/authorize",
            get(oidc::authorize).post(oidc::authorize_form),
        )
        .route("/{provider}/token", post(oidc::token))
        .route(
            "/{provider}/userinfo",
            get(oidc::userinfo).post(oidc::userinfo),
        )
        .route("/{provider}/jwks", get(oidc::jwks))
        .route("/github/login/oauth/authorize", get(github::authorize))
        .route(
            "/github/login/oauth/access_token",
            post(github::access_token),
        )
        .route("/github/user", get(github::user))
        .route("/github/user/emails", get(github::emails))
        .with_state(state))
}

/// Serves oauth-mock on `opts.listen:opts.port` until the process ends.
pub async fn serve(opts: OauthOptions) -> Result<(), OauthError> {
    let addr = SocketAddr::new(opts.listen, opts.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| OauthError::Bind { addr, source })?;
    serve_on(listener, opts).await
}

/// Serves oauth-mock on an already bound listener (its port replaces `opts.port` in the
/// default public base), until the process ends.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    mut opts: OauthOptions,
) -> Result<(), OauthError> {
    let addr = listener
        .local_addr()
        .map_err(|source| OauthError::Serve { source })?;
    opts.port = addr.port();
    let app = router(&opts)?;
    axum::serve(listener, app)
        .await
        .map_err(|source| OauthError::Serve { source })
}
