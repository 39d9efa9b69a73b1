//! LocalStack (AWS APIs on port 4566), from its community build `localstack-core` on PyPI,
//! run without Docker through its hypercorn gateway.
//!
//! That build keeps every service's state in memory, so vers launches it through a small
//! launcher of its own (`runtime.py`): `quiesce` has it write its state (LocalStack's own
//! state containers with LocalStack's pickler, and the S3 object bodies) into
//! `ctx.data_dir/state`, switched in by one atomic rename, and a start loads that state back
//! before the health probe (`GET /_vers/ready`) passes. A branch of a checkpoint therefore
//! starts with exactly the checkpoint's buckets, objects, queues, messages, topics and secrets.
//! Writes after the last `quiesce` are not in a copy of the data directory.
//!
//! Served here: S3, SQS, SNS, Secrets Manager and SES. DynamoDB (it downloads DynamoDB Local
//! at start) and Lambda (it needs Docker) are refused with the reason.

mod discover;
mod settings;

use std::collections::BTreeMap;

use crate::{
    CatalogError, EngineBinary, Exec, InstanceCtx, Launch, MissingEngine, Probe, Template,
};
pub(crate) use discover::install;

/// The installed LocalStack, for `vers engines list`.
pub(crate) fn installed() -> Option<EngineBinary> {
    discover::installed().ok().flatten()
}
use settings::Settings;

/// LocalStack's edge port.
const PORT: u16 = 4566;
/// vers's launcher: LocalStack with its state saved to and loaded from the data directory.
const RUNTIME_PY: &str = include_str!("runtime.py");
/// vers's client steps (setup, save), run by LocalStack's Python, which has boto3.
const CLIENT_PY: &str = include_str!("client.py");
/// The path answering 200 once the saved state is loaded.
const READY_PATH: &str = "/_vers/ready";
/// The region clients are told to use.
const REGION: &str = "us-east-1";

/// The `localstack` template.
pub(crate) struct LocalStack;

/// The implementation named in config errors, e.g. `LocalStack 4.13.1`.
fn implementation(engine: &EngineBinary) -> String {
    format!("LocalStack {}", engine.version)
}

fn settings(ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Settings, CatalogError> {
    Settings::read(&ctx.service, &ctx.config, &implementation(engine))
}

/// A client step run with LocalStack's Python against the instance.
fn client_step(ctx: &InstanceCtx, engine: &EngineBinary, args: Vec<String>) -> Exec {
    let mut argv = vec!["-c".to_string(), CLIENT_PY.to_string()];
    argv.extend(args);
    Exec::new(engine.bin_dir.join("python"), argv).with_env(BTreeMap::from([(
        "AWS_ENDPOINT_URL".to_string(),
        format!("http://{}:{}", ctx.listen, ctx.port(0, PORT)),
    )]))
}

impl Template for LocalStack {
    fn name(&self) -> &'static str {
        "localstack"
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        discover::find(version)
    }

    fn init_data(
        &self,
        _ctx: &InstanceCtx,
        _engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn launch(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError> {
        let settings = settings(ctx, engine)?;
        let port = ctx.port(0, PORT);
        let path = |p: std::path::PathBuf| p.display().to_string();
        let env = BTreeMap::from([
            // The hypercorn gateway binds the address it is given (the default one binds 0.0.0.0).
            ("GATEWAY_SERVER".to_string(), "hypercorn".to_string()),
            ("GATEWAY_LISTEN".to_string(), format!("{}:{port}", ctx.bind)),
            ("SERVICES".to_string(), settings.services.join(",")),
            ("EAGER_SERVICE_LOADING".to_string(), "1".to_string()),
            // URLs LocalStack hands out (SQS queue URLs) name the service as clients reach it.
            (
                "LOCALSTACK_HOST".to_string(),
                format!("{}:{port}", ctx.public_name),
            ),
            ("SQS_ENDPOINT_STRATEGY".to_string(), "path".to_string()),
            // LocalStack takes a machine with /.dockerenv for its own container and then keeps
            // its files under /tmp/localstack; FILESYSTEM_ROOT applies outside a container.
            ("OVERRIDE_IN_DOCKER".to_string(), "0".to_string()),
            // No DNS server, no certificate download, no usage events: nothing leaves the machine.
            ("DNS_ADDRESS".to_string(), "0".to_string()),
            ("SKIP_SSL_CERT_DOWNLOAD".to_string(), "1".to_string()),
            ("DISABLE_EVENTS".to_string(), "1".to_string()),
            (
                "VERS_LOCALSTACK_STATE".to_string(),
                path(ctx.data_dir.join("state")),
            ),
            (
                "FILESYSTEM_ROOT".to_string(),
                path(ctx.run_dir.join("localstack")),
            ),
            (
                "VERS_LOCALSTACK_STATIC".to_string(),
                path(discover::static_libs(
                    engine.bin_dir.parent().unwrap_or(&engine.bin_dir),
                )),
            ),
            (
                "VERS_LOCALSTACK_TMP".to_string(),
                path(ctx.run_dir.join("tmp")),
            ),
            ("HOME".to_string(), path(ctx.run_dir.clone())),
            (
                "PATH".to_string(),
                "/usr/local/bin:/usr/bin:/bin".to_string(),
            ),
        ]);
        Ok(Launch {
            program: engine.bin_dir.join("python"),
            args: vec!["-c".into(), RUNTIME_PY.into()],
            env,
            cwd: ctx.run_dir.clone(),
        })
    }

    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        Probe::Http {
            port: ctx.port(0, PORT),
            path: READY_PATH.into(),
            headers: Vec::new(),
        }
    }

    fn setup(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        let settings = settings(ctx, engine)?;
        if !settings.needs_setup() {
            return Ok(Vec::new());
        }
        Ok(vec![client_step(
            ctx,
            engine,
            vec!["setup".into(), settings.plan.to_string()],
        )])
    }

    fn quiesce(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Vec<Exec> {
        vec![client_step(ctx, engine, vec!["save".into()])]
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "AWS_ENDPOINT_URL".to_string(),
                format!("http://{}:{}", ctx.public_name, ctx.port(0, PORT)),
            ),
            ("AWS_ACCESS_KEY_ID".to_string(), "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), "test".to_string()),
            ("AWS_DEFAULT_REGION".to_string(), REGION.to_string()),
            // The AWS SDK for JavaScript reads AWS_REGION, not AWS_DEFAULT_REGION.
            ("AWS_REGION".to_string(), REGION.to_string()),
        ])
    }

    fn http_ports(&self, ctx: &InstanceCtx) -> Vec<u16> {
        vec![ctx.port(0, PORT)]
    }
}
