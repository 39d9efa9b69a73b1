//! `kong@3`: an API gateway in front of the environment's services. Real Kong runs DB-less
//! when the machine has it; otherwise a labelled stand-in — nginx with lua-nginx-module and
//! vers's Lua implementation of Kong 3.4's router, plugins (key-auth, rate-limiting, cors) and
//! Admin API — serves the same config. Proxy on 8000, Admin API on 8001 (`GET /status` is the
//! health check). The gateway keeps no data: rate-limit counters live in memory, as with
//! Kong's `local` policy.

mod declarative;
pub(crate) mod discover;
mod entities;
mod nginx;
mod plugins;
mod spec;

use std::collections::BTreeMap;

use crate::{
    CatalogError, EngineBinary, Exec, InstanceCtx, Launch, MissingEngine, Probe, Template,
};

/// Kong's standard proxy port.
const PROXY_PORT: u16 = 8000;
/// Kong's standard Admin API port.
const ADMIN_PORT: u16 = 8001;

/// The `kong` template.
pub(crate) struct Kong;

/// How to get an engine for `kong`.
fn hint() -> String {
    format!(
        "Kong is not packaged for Debian and no registry this machine reaches has it: install Kong (its `kong` on PATH, or VERS_ENGINE_KONG naming it), or the nginx + Lua stand-in with: vers engines install kong@3 (apt-get install {})",
        discover::APT_PACKAGES.join(" ")
    )
}

impl Template for Kong {
    fn name(&self) -> &'static str {
        "kong"
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        let wanted = |e: &EngineBinary| version.is_none_or(|v| e.major == v || e.version == v);
        discover::real()
            .filter(wanted)
            .or_else(|| discover::stand_in().filter(wanted))
            .ok_or_else(|| MissingEngine {
                template: "kong".into(),
                version: version.map(String::from),
                hint: hint(),
            })
    }

    fn init_data(
        &self,
        _ctx: &InstanceCtx,
        _engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn launch(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError> {
        let gateway = spec::read(ctx)?;
        let (proxy, admin) = (ctx.port(0, PROXY_PORT), ctx.port(1, ADMIN_PORT));
        if engine.stand_in.is_some() {
            nginx::launch(ctx, &gateway, engine, proxy, admin)
        } else {
            declarative::launch(ctx, &gateway, &discover::cli_of(engine), proxy, admin)
        }
    }

    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        Probe::Http {
            port: ctx.port(1, ADMIN_PORT),
            path: "/status".into(),
            headers: Vec::new(),
        }
    }

    fn setup(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn quiesce(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        Vec::new()
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        let name = &ctx.public_name;
        BTreeMap::from([
            (
                "KONG_PROXY_URL".to_string(),
                format!("http://{name}:{}", ctx.port(0, PROXY_PORT)),
            ),
            (
                "KONG_ADMIN_URL".to_string(),
                format!("http://{name}:{}", ctx.port(1, ADMIN_PORT)),
            ),
        ])
    }

    fn http_ports(&self, ctx: &InstanceCtx) -> Vec<u16> {
        vec![ctx.port(0, PROXY_PORT), ctx.port(1, ADMIN_PORT)]
    }
}
