//! Running tansu (the Kafka-protocol stand-in): its command line, the topic configs it
//! honours, and topic creation with its own `topic create` command.
//!
//! Storage is SQLite (`tansu.db` in the data directory, write-ahead log, every produce and
//! offset commit a transaction), so a copy of a frozen broker's data directory is a
//! crash-consistent database: a branch started on it sees exactly the topics, messages and
//! committed offsets of the checkpoint.

use std::collections::BTreeMap;

use super::settings::{Settings, Topic};
use crate::{CatalogError, EngineBinary, Exec, InstanceCtx, Launch};

/// The database file, relative to the data directory (the broker's working directory).
pub(crate) const DATABASE: &str = "tansu.db";

/// The cluster id kept in the database; fixed, so every restart and branch finds its data.
const CLUSTER_ID: &str = "vers";

/// Topic configs tansu applies: `cleanup.policy` (delete, compact or both) and `retention.ms`
/// under the delete policy, both by a sweep every 10 minutes.
const APPLIED: [&str; 2] = ["cleanup.policy", "retention.ms"];

/// Topic configs with no effect a client of a single broker can observe within a test run
/// (segment layout, flushing, replica placement, compaction timing): stored, not applied.
const UNOBSERVABLE: [&str; 17] = [
    "compression.type",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "max.compaction.lag.ms",
    "message.downconversion.enable",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "preallocate",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
];

/// Checks what tansu cannot honour: every key that would make it behave differently from
/// Kafka is an error naming the key and tansu.
pub(crate) fn check(service: &str, settings: &Settings) -> Result<(), CatalogError> {
    let implementation = format!("tansu {}", super::discover::TANSU.version);
    for (i, topic) in settings.topics.iter().enumerate() {
        for (key, value) in &topic.config {
            let problem = match key.as_str() {
                "cleanup.policy" => policy_problem(value),
                "retention.ms" => value
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|ms| *ms >= -1)
                    .map(|_| None)
                    .unwrap_or_else(|| Some(format!("`{value}` is not a number of milliseconds (or -1 for no limit)"))),
                "min.insync.replicas" if value.trim() == "1" => None,
                "unclean.leader.election.enable" => None,
                "retention.bytes" if value.trim() == "-1" => None,
                "message.timestamp.type" if value.trim() == "CreateTime" => None,
                k if UNOBSERVABLE.contains(&k) => None,
                _ => Some(format!(
                    "{implementation} (the Kafka stand-in here) does not apply `{key}`; it applies {} and accepts {}, min.insync.replicas=1, retention.bytes=-1 and message.timestamp.type=CreateTime; remove the key or install Apache Kafka",
                    APPLIED.join(", "),
                    UNOBSERVABLE.join(", ")
                )),
            };
            if let Some(message) = problem {
                return Err(CatalogError::config(
                    service,
                    format!("topics[{i}].config.{key}"),
                    message,
                ));
            }
        }
    }
    if let Some(key) = settings.broker_settings.keys().next() {
        return Err(CatalogError::config(
            service,
            format!("broker_settings.{key}"),
            format!("{implementation} (the Kafka stand-in here) takes no broker settings; remove broker_settings or install Apache Kafka"),
        ));
    }
    if !settings.consumer_groups.is_empty() {
        return Err(CatalogError::config(
            service,
            "consumer_groups",
            format!("{implementation} (the Kafka stand-in here) has no way to create a consumer group before its first consumer joins; remove consumer_groups (a group appears when a consumer subscribes; use auto.offset.reset=earliest to read from the start) or install Apache Kafka"),
        ));
    }
    Ok(())
}

/// Why a `cleanup.policy` value is not one Kafka accepts, if it is not.
fn policy_problem(value: &str) -> Option<String> {
    let mut parts: Vec<&str> = value.split(',').map(str::trim).collect();
    parts.sort_unstable();
    parts.dedup();
    let known = !parts.is_empty() && parts.iter().all(|p| matches!(*p, "delete" | "compact"));
    (!known).then(|| format!("`{value}`: use delete, compact or compact,delete"))
}

/// Forgets every consumer group's members and generation before the broker starts, keeping
/// the groups' committed offsets: `$0` is sqlite3, the rest the broker's command line.
/// tansu keeps a group's members in its database and does not expire them, so a branch of
/// a checkpoint taken while a consumer was in a group would wait for that consumer forever
/// (a new consumer of the group got no partitions). A restarted Apache Kafka forgets them
/// once their session times out; here they are gone at once.
const FORGET_MEMBERS: &str = "[ -f tansu.db ] && \"$0\" tansu.db \
    'delete from consumer_group_detail' >/dev/null 2>&1; exec \"$@\"";

/// The broker: listening on the instance's bind address only, advertising the service name,
/// storing everything in `tansu.db` in the data directory. With `sqlite3` on the machine,
/// started through [`FORGET_MEMBERS`].
pub(crate) fn launch(ctx: &InstanceCtx, engine: &EngineBinary, port: u16) -> Launch {
    let broker = engine.bin_dir.join(super::discover::TANSU.binary);
    let mut launch = broker_launch(ctx, broker, port);
    if let Some(sqlite) = crate::binaries::on_path("sqlite3") {
        let mut args = vec![
            "-c".to_string(),
            FORGET_MEMBERS.to_string(),
            sqlite.display().to_string(),
            launch.program.display().to_string(),
        ];
        args.append(&mut launch.args);
        launch.program = "/bin/sh".into();
        launch.args = args;
    }
    launch
}

fn broker_launch(ctx: &InstanceCtx, program: std::path::PathBuf, port: u16) -> Launch {
    Launch {
        program,
        args: vec![
            "broker".into(),
            "--cluster-id".into(),
            CLUSTER_ID.into(),
            "--listener-url".into(),
            format!("tcp://{}:{port}", ctx.bind),
            "--advertised-listener-url".into(),
            format!("tcp://{}:{port}", ctx.public_name),
            "--storage-engine".into(),
            format!("sqlite://{DATABASE}"),
            "--silent".into(),
        ],
        env: BTreeMap::from([("RUST_LOG".to_string(), "warn".to_string())]),
        cwd: ctx.data_dir.clone(),
    }
}

/// The configs a topic is created with: the manifest's, plus Kafka's default
/// `cleanup.policy=delete` (tansu applies `retention.ms` only under an explicit delete
/// policy) and `retention.ms=-1` spelled as the longest retention tansu can store.
fn effective_config(topic: &Topic) -> BTreeMap<String, String> {
    let mut config = topic.config.clone();
    config
        .entry("cleanup.policy".into())
        .or_insert_with(|| "delete".into());
    if let Some(ms) = config.get_mut("retention.ms") {
        if ms.trim() == "-1" {
            *ms = i64::MAX.to_string();
        }
    }
    config
}

/// One `tansu topic create` per topic, against the instance's own address.
pub(crate) fn create_topics(
    ctx: &InstanceCtx,
    engine: &EngineBinary,
    settings: &Settings,
    port: u16,
) -> Vec<Exec> {
    let program = engine.bin_dir.join(super::discover::TANSU.binary);
    settings
        .topics
        .iter()
        .map(|topic| {
            let mut args = vec![
                "topic".to_string(),
                "create".into(),
                topic.name.clone(),
                "--partitions".into(),
                topic.partitions.to_string(),
                "--broker".into(),
                format!("tcp://{}:{port}", ctx.listen),
            ];
            for (k, v) in effective_config(topic) {
                args.push("--config".into());
                args.push(format!("{k}={v}"));
            }
            // The run directory holds no `.env` for tansu to pick up, unlike a project directory.
            Exec::new(program.clone(), args)
                .with_env(BTreeMap::from([(
                    "RUST_LOG".to_string(),
                    "warn".to_string(),
                )]))
                .in_dir(ctx.run_dir.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::kafka::settings::read;
    use serde_json::json;

    #[test]
    fn accepts_the_seed_and_names_what_tansu_cannot_honour() {
        let ok = read(
            "kafka",
            &json!({"topics": [{"name": "user-events", "partitions": 6, "config": {"retention.ms": 86400000, "cleanup.policy": "compact,delete", "segment.bytes": 1024}}]}),
        )
        .unwrap();
        check("kafka", &ok).unwrap();
        let err = |v: serde_json::Value| {
            check("kafka", &read("kafka", &v).unwrap())
                .unwrap_err()
                .to_string()
        };
        let e = err(json!({"topics": [{"name": "a", "config": {"max.message.bytes": 10}}]}));
        assert!(
            e.contains("config.topics[0].config.max.message.bytes") && e.contains("tansu"),
            "{e}"
        );
        let e = err(json!({"topics": [{"name": "a", "config": {"cleanup.policy": "forever"}}]}));
        assert!(e.contains("cleanup.policy") && e.contains("forever"), "{e}");
        let e = err(json!({"topics": [{"name": "a", "config": {"retention.ms": "soon"}}]}));
        assert!(e.contains("retention.ms"), "{e}");
        let e = err(json!({"broker_settings": {"num.partitions": 3}}));
        assert!(e.contains("config.broker_settings.num.partitions"), "{e}");
        let e = err(
            json!({"topics": [{"name": "a"}], "consumer_groups": [{"name": "g", "topics": ["a"]}]}),
        );
        assert!(e.contains("config.consumer_groups"), "{e}");
    }

    #[test]
    fn topics_get_kafkas_default_delete_policy() {
        let topic = Topic {
            name: "a".into(),
            partitions: 1,
            config: BTreeMap::from([("retention.ms".to_string(), "-1".to_string())]),
        };
        let config = effective_config(&topic);
        assert_eq!(config["cleanup.policy"], "delete");
        assert_eq!(config["retention.ms"], i64::MAX.to_string());
    }
}
