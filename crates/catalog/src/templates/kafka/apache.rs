//! Running Apache Kafka 3 as a single KRaft node (broker and controller in one process).
//!
//! Written for Apache Kafka's binary distribution (`bin/kafka-*.sh`, a Java runtime on
//! `PATH` or `JAVA_HOME`). No registry the vers machines reach ships Kafka, so this path is
//! not exercised by the test suite; the tansu stand-in is.
//!
//! The data directory is the broker's only `log.dirs`, formatted once by `kafka-storage.sh
//! format` (`init_data`); the controller listens on the instance's own address at the
//! broker port + 1 and is not advertised. Kafka recovers its logs after an unclean stop, so a
//! copy of a frozen broker's data directory starts as a branch.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::settings::Settings;
use crate::{CatalogError, EngineBinary, Exec, InstanceCtx, Launch};

/// The cluster id written by `kafka-storage.sh format` (a fixed base64 UUID, so the init
/// cache can share one formatted directory between environments).
const CLUSTER_ID: &str = "dmVycy1rYWZrYS12ZXJzMQ";

/// The KRaft node id of the single node.
const NODE_ID: u32 = 1;

/// Settings vers writes itself; `broker_settings` may not override them.
const OWNED: [&str; 8] = [
    "process.roles",
    "node.id",
    "listeners",
    "advertised.listeners",
    "controller.listener.names",
    "controller.quorum.voters",
    "listener.security.protocol.map",
    "log.dirs",
];

/// `PATH` for Kafka's scripts (they find `java` there unless `JAVA_HOME` is set).
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Checks the settings Apache Kafka cannot take from vers.
pub(crate) fn check(service: &str, settings: &Settings) -> Result<(), CatalogError> {
    match settings.broker_settings.keys().find(|k| OWNED.contains(&k.as_str())) {
        Some(key) => Err(CatalogError::config(
            service,
            format!("broker_settings.{key}"),
            format!("vers sets `{key}` itself (one KRaft node on the service's address and data directory); remove it"),
        )),
        None => Ok(()),
    }
}

/// `server.properties` of the node, with the service's `broker_settings` last.
pub(crate) fn server_properties(ctx: &InstanceCtx, settings: &Settings, port: u16) -> String {
    let mut lines = vec![
        "process.roles=broker,controller".to_string(),
        format!("node.id={NODE_ID}"),
        format!(
            "controller.quorum.voters={NODE_ID}@{}:{}",
            ctx.listen,
            port + 1
        ),
        format!(
            "listeners=PLAINTEXT://{}:{port},CONTROLLER://{}:{}",
            ctx.bind,
            ctx.listen,
            port + 1
        ),
        format!(
            "advertised.listeners=PLAINTEXT://{}:{port}",
            ctx.public_name
        ),
        "controller.listener.names=CONTROLLER".into(),
        "inter.broker.listener.name=PLAINTEXT".into(),
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT".into(),
        format!("log.dirs={}", ctx.data_dir.display()),
        "num.partitions=1".into(),
        "offsets.topic.replication.factor=1".into(),
        "transaction.state.log.replication.factor=1".into(),
        "transaction.state.log.min.isr=1".into(),
        "group.initial.rebalance.delay.ms=0".into(),
    ];
    lines.extend(
        settings
            .broker_settings
            .iter()
            .map(|(k, v)| format!("{k}={v}")),
    );
    lines.join("\n") + "\n"
}

fn script(engine: &EngineBinary, name: &str) -> PathBuf {
    engine.bin_dir.join(name)
}

/// The environment of Kafka's scripts: `PATH`, the caller's `JAVA_HOME`, logs in the run
/// directory (the install directory is not writable by the engine user), a small heap.
fn env(ctx: &InstanceCtx, heap: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::from([
        ("PATH".to_string(), PATH.to_string()),
        (
            "LOG_DIR".to_string(),
            ctx.run_dir.join("kafka-logs").display().to_string(),
        ),
        ("KAFKA_HEAP_OPTS".to_string(), heap.to_string()),
    ]);
    if let Ok(java_home) = std::env::var("JAVA_HOME") {
        env.insert("JAVA_HOME".into(), java_home);
    }
    env
}

/// The broker's heap: half the service's memory limit, at most 1 GiB.
fn broker_heap(ctx: &InstanceCtx) -> String {
    let mib = ctx
        .memory_limit
        .map(|bytes| (bytes / 2 / (1 << 20)).clamp(128, 1024))
        .unwrap_or(512);
    format!("-Xmx{mib}m -Xms{mib}m")
}

/// Formats the data directory as the node's metadata log (`kafka-storage.sh format`).
pub(crate) fn init_data(ctx: &InstanceCtx, engine: &EngineBinary, port: u16) -> Vec<Exec> {
    let config = ctx.data_dir.join(".vers-format.properties");
    // Only the node id, the roles and the directory matter to `format`; fixed addresses keep
    // the step (and so the init cache entry) the same for every instance.
    let text = [
        "process.roles=broker,controller".to_string(),
        format!("node.id={NODE_ID}"),
        format!("controller.quorum.voters={NODE_ID}@127.0.0.1:{}", port + 1),
        format!(
            "listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{}",
            port + 1
        ),
        "controller.listener.names=CONTROLLER".into(),
        format!("log.dirs={}", ctx.data_dir.display()),
    ]
    .join("\n")
        + "\n";
    let command = format!(
        "printf '%s' \"$VERS_PROPERTIES\" > \"$VERS_CONFIG\" && \"$VERS_STORAGE\" format --ignore-formatted -t {CLUSTER_ID} -c \"$VERS_CONFIG\" && rm -f \"$VERS_CONFIG\""
    );
    let mut env = env(ctx, "-Xmx256m");
    env.insert("VERS_PROPERTIES".into(), text);
    env.insert("VERS_CONFIG".into(), config.display().to_string());
    env.insert(
        "VERS_STORAGE".into(),
        script(engine, "kafka-storage.sh").display().to_string(),
    );
    vec![Exec::new("/bin/sh", ["-c".to_string(), command]).with_env(env)]
}

/// Writes `server.properties` into the run directory and returns `kafka-server-start.sh`.
pub(crate) fn launch(
    ctx: &InstanceCtx,
    engine: &EngineBinary,
    settings: &Settings,
    port: u16,
) -> Result<Launch, CatalogError> {
    let path = ctx.run_dir.join("server.properties");
    std::fs::write(&path, server_properties(ctx, settings, port))
        .map_err(|e| CatalogError::io(&path, e))?;
    Ok(Launch {
        program: script(engine, super::discover::START_SCRIPT),
        args: vec![path.display().to_string()],
        env: env(ctx, &broker_heap(ctx)),
        cwd: ctx.data_dir.clone(),
    })
}

/// Creates the topics (`kafka-topics.sh --create`) and the consumer groups, committed at the
/// start of their topics (`kafka-consumer-groups.sh --reset-offsets --to-earliest`).
pub(crate) fn setup(
    ctx: &InstanceCtx,
    engine: &EngineBinary,
    settings: &Settings,
    port: u16,
) -> Vec<Exec> {
    let bootstrap = format!("{}:{port}", ctx.listen);
    let env = env(ctx, "-Xmx256m");
    let mut steps = Vec::new();
    for topic in &settings.topics {
        let mut args = vec![
            "--bootstrap-server".to_string(),
            bootstrap.clone(),
            "--create".into(),
            "--if-not-exists".into(),
            "--topic".into(),
            topic.name.clone(),
            "--partitions".into(),
            topic.partitions.to_string(),
            "--replication-factor".into(),
            "1".into(),
        ];
        for (k, v) in &topic.config {
            args.push("--config".into());
            args.push(format!("{k}={v}"));
        }
        steps.push(
            Exec::new(script(engine, "kafka-topics.sh"), args)
                .with_env(env.clone())
                .in_dir(ctx.run_dir.clone()),
        );
    }
    for group in &settings.consumer_groups {
        let mut args = vec![
            "--bootstrap-server".to_string(),
            bootstrap.clone(),
            "--group".into(),
            group.name.clone(),
        ];
        for topic in &group.topics {
            args.push("--topic".into());
            args.push(topic.clone());
        }
        args.extend(["--reset-offsets", "--to-earliest", "--execute"].map(String::from));
        steps.push(
            Exec::new(script(engine, "kafka-consumer-groups.sh"), args)
                .with_env(env.clone())
                .in_dir(ctx.run_dir.clone()),
        );
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::kafka::settings::read;
    use serde_json::json;
    use std::net::Ipv4Addr;

    fn ctx() -> InstanceCtx {
        InstanceCtx {
            service: "kafka".into(),
            replica: 0,
            template: Some("kafka".into()),
            version: Some("3".into()),
            listen: Ipv4Addr::new(10, 0, 0, 5),
            bind: Ipv4Addr::UNSPECIFIED,
            ports: vec![9092],
            data_dir: "/data/kafka".into(),
            run_dir: "/run/kafka-0".into(),
            project_dir: "/p".into(),
            config: serde_json::Value::Null,
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

    #[test]
    fn one_kraft_node_on_the_service_address() {
        let s = read(
            "kafka",
            &json!({"broker_settings": {"auto.create.topics.enable": false}}),
        )
        .unwrap();
        check("kafka", &s).unwrap();
        let text = server_properties(&ctx(), &s, 9092);
        assert!(text.contains("listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://10.0.0.5:9093\n"));
        assert!(text.contains("advertised.listeners=PLAINTEXT://kafka:9092\n"));
        assert!(text.contains("controller.quorum.voters=1@10.0.0.5:9093\n"));
        assert!(text.contains("log.dirs=/data/kafka\n"));
        assert!(text.ends_with("auto.create.topics.enable=false\n"));
        let bad = read("kafka", &json!({"broker_settings": {"log.dirs": "/tmp"}})).unwrap();
        let e = check("kafka", &bad).unwrap_err().to_string();
        assert!(e.contains("config.broker_settings.log.dirs"), "{e}");
    }

    #[test]
    fn setup_creates_topics_and_groups_with_kafkas_tools() {
        let s = read(
            "kafka",
            &json!({"topics": [{"name": "t", "partitions": 6, "config": {"retention.ms": 1000}}],
                    "consumer_groups": [{"name": "g", "topics": ["t"]}]}),
        )
        .unwrap();
        let engine = EngineBinary {
            template: "kafka".into(),
            version: "3.7.1".into(),
            major: "3".into(),
            bin_dir: "/opt/kafka/bin".into(),
            source: crate::EngineSource::Path,
            stand_in: None,
        };
        let steps = setup(&ctx(), &engine, &s, 9092);
        assert_eq!(steps.len(), 2);
        assert_eq!(
            steps[0].program,
            PathBuf::from("/opt/kafka/bin/kafka-topics.sh")
        );
        let args = steps[0].args.join(" ");
        assert!(args.contains("--bootstrap-server 10.0.0.5:9092 --create --if-not-exists --topic t --partitions 6 --replication-factor 1 --config retention.ms=1000"), "{args}");
        assert!(steps[1]
            .args
            .join(" ")
            .contains("--group g --topic t --reset-offsets --to-earliest --execute"));
    }
}
