//! The Schema Registry of a kafka service with `schema_registry: true`: vers's own
//! Confluent-compatible registry (`vers mock schema-registry`), a companion process of the
//! broker in the same network namespace, on port 8081. It waits for the broker before
//! serving, so its health check also says the broker is up, and keeps its state in a file of
//! the broker's data directory, so checkpoints and branches capture the schemas.

use std::collections::BTreeMap;

use crate::{InstanceCtx, Launch, Probe};

/// Confluent's Schema Registry port.
pub(crate) const PORT: u16 = 8081;

/// The registry's port for `ctx` (its second port).
pub(crate) fn port(ctx: &InstanceCtx) -> u16 {
    ctx.port(1, PORT)
}

/// The registry process, waiting for the broker on `broker_port` of the instance's address.
pub(crate) fn launch(ctx: &InstanceCtx, broker_port: u16) -> Launch {
    Launch {
        program: ctx.vers_exe.clone(),
        args: vec![
            "mock".into(),
            "schema-registry".into(),
            "--listen".into(),
            ctx.bind.to_string(),
            "--port".into(),
            port(ctx).to_string(),
            "--data-dir".into(),
            ctx.data_dir.display().to_string(),
            "--kafka".into(),
            format!("{}:{broker_port}", ctx.listen),
        ],
        env: BTreeMap::new(),
        cwd: ctx.data_dir.clone(),
    }
}

/// Healthy when `GET /subjects` answers, which the registry does only once the broker has.
pub(crate) fn health(ctx: &InstanceCtx) -> Probe {
    Probe::Http {
        port: port(ctx),
        path: "/subjects".into(),
        headers: Vec::new(),
    }
}

/// `SCHEMA_REGISTRY_URL` for the service's clients.
pub(crate) fn connection_env(ctx: &InstanceCtx) -> (String, String) {
    (
        "SCHEMA_REGISTRY_URL".to_string(),
        format!("http://{}:{}", ctx.public_name, port(ctx)),
    )
}
