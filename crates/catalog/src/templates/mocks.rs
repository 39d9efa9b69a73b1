//! The built-in mocks (stripe-mock, oauth-mock, mailhog), served by `vers mock <kind>`.
//!
//! Each instance gets its manifest `config:` as `<run_dir>/config.json` and keeps its state
//! in its data directory, so checkpoints and branches capture it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::{
    CatalogError, EngineBinary, EngineSource, Exec, InstanceCtx, Launch, MissingEngine, Probe,
    Template,
};

/// Which mock a template runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The Stripe API mock (12111 http, 12112 https).
    Stripe,
    /// The OpenID Connect / OAuth mock (8080).
    Oauth,
    /// The SMTP capture server with the MailHog API (1025 smtp, 8025 http).
    Mailhog,
}

/// A built-in mock template.
pub(crate) struct Mock(pub Kind);

/// The engine of every built-in: the running `vers` binary.
pub(crate) fn builtin(template: &str) -> EngineBinary {
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION").to_string();
    EngineBinary {
        stand_in: None,
        template: template.into(),
        major: crate::binaries::major_of(&version),
        version,
        bin_dir,
        source: EngineSource::Builtin,
    }
}

/// The first provider an oauth-mock config names (`google` when it names none).
fn first_provider(config: &Value) -> String {
    match config.get("providers") {
        Some(Value::Array(items)) => items.iter().find_map(Value::as_str).map(String::from),
        Some(Value::Object(map)) => map.keys().next().cloned(),
        _ => None,
    }
    .unwrap_or_else(|| "google".into())
}

impl Template for Mock {
    fn name(&self) -> &'static str {
        match self.0 {
            Kind::Stripe => "stripe-mock",
            Kind::Oauth => "oauth-mock",
            Kind::Mailhog => "mailhog",
        }
    }

    fn engine(&self, _version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        Ok(builtin(self.name()))
    }

    fn init_data(
        &self,
        _ctx: &InstanceCtx,
        _engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn launch(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Launch, CatalogError> {
        let config_path = ctx.run_dir.join("config.json");
        let text = serde_json::to_vec_pretty(&ctx.config)
            .map_err(|e| CatalogError::io(&config_path, e.into()))?;
        std::fs::write(&config_path, text).map_err(|e| CatalogError::io(&config_path, e))?;
        let listen = ctx.bind.to_string();
        let mut args: Vec<String> = vec!["mock".into()];
        match self.0 {
            Kind::Stripe => args.extend([
                "stripe".into(),
                "--listen".into(),
                listen,
                "--port".into(),
                ctx.port(0, 12111).to_string(),
                "--https-port".into(),
                ctx.port(1, 12112).to_string(),
            ]),
            Kind::Oauth => args.extend([
                "oauth".into(),
                "--listen".into(),
                listen,
                "--port".into(),
                ctx.port(0, 8080).to_string(),
                "--public-base".into(),
                format!("http://{}:{}", ctx.public_name, ctx.port(0, 8080)),
            ]),
            Kind::Mailhog => args.extend([
                "mailhog".into(),
                "--listen".into(),
                listen,
                "--smtp-port".into(),
                ctx.port(0, 1025).to_string(),
                "--api-port".into(),
                ctx.port(1, 8025).to_string(),
            ]),
        }
        args.extend([
            "--data-dir".into(),
            ctx.data_dir.display().to_string(),
            "--config".into(),
            config_path.display().to_string(),
        ]);
        Ok(Launch {
            program: ctx.vers_exe.clone(),
            args,
            env: BTreeMap::new(),
            cwd: ctx.data_dir.clone(),
        })
    }

    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        match self.0 {
            Kind::Stripe => Probe::Http {
                port: ctx.port(0, 12111),
                path: "/v1/charges".into(),
                headers: vec![("Authorization".into(), "Bearer sk_test_health".into())],
            },
            Kind::Oauth => Probe::Http {
                port: ctx.port(0, 8080),
                path: format!(
                    "/{}/.well-known/openid-configuration",
                    first_provider(&ctx.config)
                ),
                headers: Vec::new(),
            },
            Kind::Mailhog => Probe::Http {
                port: ctx.port(1, 8025),
                path: "/api/v2/messages".into(),
                headers: Vec::new(),
            },
        }
    }

    fn setup(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn quiesce(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        Vec::new()
    }

    fn http_ports(&self, ctx: &InstanceCtx) -> Vec<u16> {
        match self.0 {
            Kind::Stripe => vec![ctx.port(0, 12111)],
            Kind::Oauth => vec![ctx.port(0, 8080)],
            Kind::Mailhog => vec![ctx.port(1, 8025)],
        }
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        match self.0 {
            Kind::Stripe => BTreeMap::from([(
                "STRIPE_API_BASE".to_string(),
                format!("http://{}:{}", ctx.public_name, ctx.port(0, 12111)),
            )]),
            Kind::Oauth => BTreeMap::from([(
                "OAUTH_ISSUER".to_string(),
                format!(
                    "http://{}:{}/{}",
                    ctx.public_name,
                    ctx.port(0, 8080),
                    first_provider(&ctx.config)
                ),
            )]),
            Kind::Mailhog => BTreeMap::from([
                ("SMTP_HOST".to_string(), ctx.public_name.clone()),
                ("SMTP_PORT".to_string(), ctx.port(0, 1025).to_string()),
            ]),
        }
    }
}
