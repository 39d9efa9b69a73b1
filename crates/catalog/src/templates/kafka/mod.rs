//! Kafka 3: Apache Kafka as one KRaft node when the machine has it, else tansu, a
//! Kafka-protocol broker, labelled as a stand-in. Topics from `config.topics` are created at
//! setup; health is a protocol-level ApiVersions exchange. With `schema_registry: true`,
//! vers's own Confluent-compatible Schema Registry runs beside the broker on port 8081.

mod apache;
pub(crate) mod discover;
mod registry;
mod settings;
mod tansu;

use std::collections::BTreeMap;

use crate::{
    CatalogError, EngineBinary, Exec, InstanceCtx, Launch, MissingEngine, Probe, Template,
};

/// The standard Kafka port.
pub(crate) const PORT: u16 = 9092;

/// Correlation id of the health probe's request, echoed at offset 4 of the reply.
const PROBE_CORRELATION: [u8; 4] = *b"vers";

/// The `kafka` template.
pub(crate) struct Kafka;

/// An ApiVersions v0 request (the first request every Kafka client sends): length, api key 18,
/// version 0, correlation id, client id `vers`; version 0 has no body.
fn api_versions_request() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&PROBE_CORRELATION);
    let client = b"vers";
    body.extend_from_slice(&(client.len() as i16).to_be_bytes());
    body.extend_from_slice(client);
    let mut request = (body.len() as i32).to_be_bytes().to_vec();
    request.extend_from_slice(&body);
    request
}

/// The checked config, and the errors for what the serving broker cannot honour.
fn settings_for(
    ctx: &InstanceCtx,
    engine: &EngineBinary,
) -> Result<settings::Settings, CatalogError> {
    let s = settings::read(&ctx.service, &ctx.config)?;
    if discover::is_tansu(engine) {
        tansu::check(&ctx.service, &s)?;
    } else {
        apache::check(&ctx.service, &s)?;
    }
    Ok(s)
}

/// Whether the service runs a Schema Registry (its config was validated before the engine
/// asks for probes, ports or client environment, so an unreadable one means no).
fn registry_on(ctx: &InstanceCtx) -> bool {
    settings::read(&ctx.service, &ctx.config).is_ok_and(|s| s.schema_registry)
}

impl Template for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        discover::find(version)
    }

    fn init_data(
        &self,
        ctx: &InstanceCtx,
        engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        if discover::is_tansu(engine) {
            // tansu creates its database on first start.
            Ok(Vec::new())
        } else {
            Ok(apache::init_data(ctx, engine, ctx.port(0, PORT)))
        }
    }

    fn launch(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError> {
        let s = settings_for(ctx, engine)?;
        let port = ctx.port(0, PORT);
        if discover::is_tansu(engine) {
            Ok(tansu::launch(ctx, engine, port))
        } else {
            apache::launch(ctx, engine, &s, port)
        }
    }

    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        if registry_on(ctx) {
            return registry::health(ctx);
        }
        Probe::Exchange {
            port: ctx.port(0, PORT),
            send: api_versions_request(),
            expect_at: 4,
            expect: PROBE_CORRELATION.to_vec(),
        }
    }

    fn setup(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        let s = settings_for(ctx, engine)?;
        let port = ctx.port(0, PORT);
        if discover::is_tansu(engine) {
            Ok(tansu::create_topics(ctx, engine, &s, port))
        } else {
            Ok(apache::setup(ctx, engine, &s, port))
        }
    }

    fn quiesce(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        // Both brokers keep acknowledged writes in files the snapshot captures (tansu commits
        // each request to SQLite; Kafka appends to its logs and recovers them on start).
        Vec::new()
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        let brokers = format!("{}:{}", ctx.public_name, ctx.port(0, PORT));
        let mut env = BTreeMap::from([
            ("KAFKA_BROKERS".to_string(), brokers.clone()),
            ("KAFKA_BOOTSTRAP_SERVERS".to_string(), brokers),
        ]);
        if registry_on(ctx) {
            env.extend([registry::connection_env(ctx)]);
        }
        env
    }

    fn kafka_ports(&self, ctx: &InstanceCtx) -> Vec<u16> {
        vec![ctx.port(0, PORT)]
    }

    fn http_ports(&self, ctx: &InstanceCtx) -> Vec<u16> {
        if registry_on(ctx) {
            vec![registry::port(ctx)]
        } else {
            Vec::new()
        }
    }

    fn companions(
        &self,
        ctx: &InstanceCtx,
        engine: &EngineBinary,
    ) -> Result<Vec<Launch>, CatalogError> {
        let s = settings_for(ctx, engine)?;
        if s.schema_registry {
            Ok(vec![registry::launch(ctx, ctx.port(0, PORT))])
        } else {
            Ok(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ctx(config: serde_json::Value) -> InstanceCtx {
        InstanceCtx {
            service: "kafka".into(),
            replica: 0,
            template: Some("kafka".into()),
            version: Some("3".into()),
            listen: Ipv4Addr::new(10, 0, 0, 5),
            bind: Ipv4Addr::UNSPECIFIED,
            ports: vec![9092, 8081],
            data_dir: "/data/kafka".into(),
            run_dir: "/run/kafka-0".into(),
            project_dir: "/p".into(),
            config,
            env: BTreeMap::new(),
            user_uid: 1,
            user_gid: 1,
            vers_exe: "/usr/bin/vers".into(),
            public_name: "kafka".into(),
            memory_limit: None,
            command: None,
            build_context: None,
            peers: BTreeMap::new(),
        }
    }

    fn engine() -> EngineBinary {
        EngineBinary {
            template: "kafka".into(),
            version: "3.9.0".into(),
            major: "3".into(),
            bin_dir: "/opt/kafka/bin".into(),
            source: crate::EngineSource::Path,
            stand_in: None,
        }
    }

    #[test]
    fn a_schema_registry_runs_beside_the_broker_when_asked() {
        let with = ctx(serde_json::json!({"topics": [{"name": "a"}], "schema_registry": true}));
        let launches = Kafka.companions(&with, &engine()).unwrap();
        assert_eq!(launches.len(), 1);
        let l = &launches[0];
        assert_eq!(l.program, std::path::PathBuf::from("/usr/bin/vers"));
        assert_eq!(
            l.args.join(" "),
            "mock schema-registry --listen 0.0.0.0 --port 8081 --data-dir /data/kafka --kafka 10.0.0.5:9092"
        );
        assert_eq!(
            Kafka.health(&with, &engine()),
            Probe::Http {
                port: 8081,
                path: "/subjects".into(),
                headers: Vec::new()
            }
        );
        assert_eq!(Kafka.http_ports(&with), vec![8081]);
        assert_eq!(
            Kafka
                .connection_env(&with)
                .get("SCHEMA_REGISTRY_URL")
                .map(String::as_str),
            Some("http://kafka:8081")
        );

        let without = ctx(serde_json::json!({"topics": [{"name": "a"}]}));
        assert!(Kafka.companions(&without, &engine()).unwrap().is_empty());
        assert!(matches!(
            Kafka.health(&without, &engine()),
            Probe::Exchange { port: 9092, .. }
        ));
        assert!(Kafka.http_ports(&without).is_empty());
        assert!(!Kafka
            .connection_env(&without)
            .contains_key("SCHEMA_REGISTRY_URL"));
    }

    #[test]
    fn the_probe_is_an_api_versions_v0_request() {
        let r = api_versions_request();
        assert_eq!(&r[..4], &14i32.to_be_bytes());
        assert_eq!(r.len(), 18);
        assert_eq!(&r[4..6], &[0, 18]);
        assert_eq!(&r[6..8], &[0, 0]);
        assert_eq!(&r[8..12], b"vers");
        assert_eq!(&r[12..], b"\0\x04vers");
    }
}
