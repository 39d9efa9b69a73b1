//! mailhog: an ESMTP capture server and the MailHog HTTP API, keeping messages in the data
//! directory (`storage: maildir`, the default) so checkpoints and branches capture them.

mod api;
mod error;
mod render;
mod smtp;
mod storage;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use error::MailhogError;
pub use storage::StorageMode;

use storage::MessageStore;

/// How to run a mailhog server: where its SMTP and HTTP sides listen, where it keeps
/// messages and the service's manifest `config`.
#[derive(Debug, Clone)]
pub struct MailhogOptions {
    /// Address both servers listen on.
    pub listen: IpAddr,
    /// SMTP port (the catalog default is 1025).
    pub smtp_port: u16,
    /// HTTP API port (the catalog default is 8025).
    pub api_port: u16,
    /// Directory holding the captured messages.
    pub data_dir: PathBuf,
    /// The manifest `config` of the service (`storage: memory|maildir`); may be `Null`.
    pub config: serde_json::Value,
}

/// Serves SMTP on `opts.smtp_port` and the API on `opts.api_port` until one of them fails.
pub async fn serve(opts: MailhogOptions) -> Result<(), MailhogError> {
    let smtp_addr = SocketAddr::new(opts.listen, opts.smtp_port);
    let api_addr = SocketAddr::new(opts.listen, opts.api_port);
    let smtp = TcpListener::bind(smtp_addr)
        .await
        .map_err(|source| MailhogError::Bind {
            what: "smtp",
            addr: smtp_addr,
            source,
        })?;
    let api = TcpListener::bind(api_addr)
        .await
        .map_err(|source| MailhogError::Bind {
            what: "api",
            addr: api_addr,
            source,
        })?;
    serve_on(smtp, api, opts).await
}

/// Serves on already bound listeners (the ports in `opts` are ignored) until one fails.
pub async fn serve_on(
    smtp: TcpListener,
    api: TcpListener,
    opts: MailhogOptions,
) -> Result<(), MailhogError> {
    let mode = StorageMode::from_config(&opts.config)?;
    let data_dir = opts.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || MessageStore::open(mode, &data_dir))
        .await
        .map_err(|e| MailhogError::Io {
            path: opts.data_dir.clone(),
            source: std::io::Error::other(e.to_string()),
        })??;
    let store = Arc::new(store);
    let app = api::router(store.clone());
    tokio::select! {
        result = smtp::run(smtp, store) => result,
        result = axum::serve(api, app) => {
            result.map_err(|source| MailhogError::Serve { what: "api", source })
        }
    }
}
