//! Traffic routes: what the fault proxies of an environment recorded (who called whom),
//! read by `vers docs`, and forgotten between test runs.

use axum::extract::{Path as UrlPath, State};
use axum::Json;

use super::protocol::*;
use super::state::*;

/// What every proxy of an environment recorded (`GET /v1/envs/{id}/traffic`).
pub(super) async fn env_traffic(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Vec<ProxyTraffic>>, ApiError> {
    let env = d.env(&id).await?;
    let mut out = Vec::new();
    for s in &env.services {
        for (proxy, port) in s.proxies.iter().zip(&s.spec.ports) {
            out.push(ProxyTraffic {
                service: s.spec.name.clone(),
                port: *port,
                http: s.spec.http_ports.contains(port),
                traffic: proxy.traffic(),
            });
        }
    }
    Ok(Json(out))
}

/// Forgets what the proxies of an environment recorded (`DELETE /v1/envs/{id}/traffic`).
pub(super) async fn clear_env_traffic(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Reply>, ApiError> {
    let env = d.env(&id).await?;
    for proxy in env.services.iter().flat_map(|s| &s.proxies) {
        proxy.clear_traffic();
    }
    Ok(ok())
}
