//! The HTTPS listener: a self-signed certificate (kept in the data directory so clients
//! that trust it keep working after a restart) served with rustls.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use super::error::StripeError;
use super::store::write_atomic;

/// A TLS acceptor with the certificate stored in `dir` (generated on first use for
/// `localhost`, `stripe`, `stripe-mock` and `listen`).
pub(crate) fn acceptor(dir: &Path, listen: IpAddr) -> Result<TlsAcceptor, StripeError> {
    let tls = |message: String| StripeError::Tls { message };
    std::fs::create_dir_all(dir).map_err(|source| StripeError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if !cert_path.is_file() || !key_path.is_file() {
        let mut names = vec![
            "localhost".to_string(),
            "stripe".to_string(),
            "stripe-mock".to_string(),
        ];
        names.push(listen.to_string());
        let cert = rcgen::generate_simple_self_signed(names).map_err(|e| tls(e.to_string()))?;
        write_atomic(&key_path, cert.signing_key.serialize_pem().as_bytes())?;
        write_atomic(&cert_path, cert.cert.pem().as_bytes())?;
    }
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| tls(format!("{}: {e}", cert_path.display())))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| tls(format!("{}: {e}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TLS connections forever, serving `app` on each.
pub(crate) async fn serve(listener: tokio::net::TcpListener, acceptor: TlsAcceptor, app: Router) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "stripe-mock https accept failed");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            if let Err(e) = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "https connection ended with an error");
            }
        });
    }
}
