//! What each catalog template becomes outside vers: the official image of the real engine
//! (even where vers runs a stand-in here), its command, environment, data directory and
//! health check; the built-in mocks run as `vers mock …` from the generated mock image.

use std::collections::BTreeMap;

use serde_json::Value;
use vers_manifest::{Service, TemplateRef};

/// The image of the generated mock Dockerfile (`vers-mock/Dockerfile`).
pub const MOCK_IMAGE: &str = "vers-mock:latest";
/// Where the mock image keeps each mock's `config:` (`<service>.json`).
pub const MOCK_CONFIG_DIR: &str = "/etc/vers";

/// One service as a container.
#[derive(Debug, Clone, Default)]
pub struct Container {
    /// Image reference.
    pub image: String,
    /// Arguments after the image's entrypoint, if the default is not right.
    pub command: Option<Vec<String>>,
    /// Environment the image needs.
    pub env: BTreeMap<String, String>,
    /// Directory to keep on a volume.
    pub data_path: Option<String>,
    /// Shell command that exits 0 when healthy.
    pub health: Option<String>,
    /// Whether the image is the generated mock image (built from `vers-mock/`).
    pub mock: bool,
    /// What the container does not carry over from the manifest.
    pub notes: Vec<String>,
    /// Files to mount read-only: (path in the export, path in the container, content).
    pub files: Vec<(String, String, String)>,
}

fn version(t: &TemplateRef, default: &str) -> String {
    t.version.clone().unwrap_or_else(|| {
        vers_manifest::template(&t.name)
            .and_then(|i| i.default_version)
            .unwrap_or(default)
            .to_string()
    })
}

fn strs(config: &Value, key: &str) -> Vec<String> {
    match config.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

fn text(config: &Value, key: &str) -> Option<String> {
    match config.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Config keys that `handled` does not cover, as notes.
fn unhandled(name: &str, config: &Value, handled: &[&str]) -> Vec<String> {
    match config {
        Value::Object(map) => map
            .keys()
            .filter(|k| !handled.contains(&k.as_str()))
            .map(|k| {
                format!(
                    "{name}: config `{k}` is not carried over; set it up in the image or by hand"
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The container for service `name` of template `t`.
pub fn container(name: &str, svc: &Service, t: &TemplateRef) -> Container {
    let c = &svc.config;
    let mut out = Container::default();
    match t.name.as_str() {
        "postgres" => {
            out.image = format!("postgres:{}", version(t, "16"));
            out.env
                .insert("POSTGRES_HOST_AUTH_METHOD".into(), "trust".into());
            out.data_path = Some("/var/lib/postgresql/data".into());
            out.health = Some("pg_isready -U postgres".into());
            // The statements vers's own setup runs (roles, databases, grants, extensions);
            // the manifest was validated, so its config reads.
            let sql = vers_catalog::postgres_init_sql(name, c).unwrap_or_default();
            if !sql.is_empty() {
                out.files.push((
                    format!("postgres-init/{name}.sql"),
                    "/docker-entrypoint-initdb.d/00-vers.sql".into(),
                    sql,
                ));
            }
            if let Some(Value::Object(settings)) = c.get("settings") {
                let mut args = vec!["postgres".to_string()];
                for (k, v) in settings {
                    let v = v
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string());
                    args.extend(["-c".into(), format!("{k}={v}")]);
                }
                out.command = Some(args);
            }
            out.notes = unhandled(name, c, &["databases", "extensions", "users", "settings"]);
        }
        "mysql" | "mariadb" => {
            let maria = t.name == "mariadb";
            out.image = format!(
                "{}:{}",
                t.name,
                version(t, if maria { "11" } else { "8.0" })
            );
            let prefix = if maria { "MARIADB" } else { "MYSQL" };
            out.env
                .insert(format!("{prefix}_ALLOW_EMPTY_ROOT_PASSWORD"), "1".into());
            if let Some(db) = strs(c, "databases").first() {
                out.env.insert(format!("{prefix}_DATABASE"), db.clone());
            }
            out.data_path = Some("/var/lib/mysql".into());
            out.health = Some(if maria {
                "healthcheck.sh --connect --innodb_initialized".into()
            } else {
                "mysqladmin ping -h 127.0.0.1".into()
            });
            let mut notes = unhandled(name, c, &["databases"]);
            if strs(c, "databases").len() > 1 {
                notes.push(format!(
                    "{name}: only the first of `databases` is created by the image"
                ));
            }
            out.notes = notes;
        }
        "mongodb" => {
            out.image = format!("mongo:{}", version(t, "7"));
            out.data_path = Some("/data/db".into());
            out.health = Some("mongosh --quiet --eval 'db.adminCommand(\"ping\").ok'".into());
            out.notes = unhandled(name, c, &["databases"]);
        }
        "redis" => {
            out.image = format!("redis:{}", version(t, "7"));
            out.data_path = Some("/data".into());
            let mut args = vec!["redis-server".to_string()];
            let mut health = "redis-cli ping".to_string();
            if let Some(m) = text(c, "maxmemory") {
                args.extend(["--maxmemory".into(), m]);
            }
            if let Some(p) = text(c, "maxmemory_policy") {
                args.extend(["--maxmemory-policy".into(), p]);
            }
            if let Some(n) = text(c, "databases") {
                args.extend(["--databases".into(), n]);
            }
            if let Some(pw) = text(c, "password").or_else(|| text(c, "requirepass")) {
                health = format!("redis-cli -a {} ping", shell_word(&pw));
                args.extend(["--requirepass".into(), pw]);
            }
            match c.get("persistence") {
                Some(Value::String(s)) if s == "aof" => {
                    args.extend(["--appendonly".into(), "yes".into()])
                }
                Some(Value::Bool(true)) => args.extend(["--appendonly".into(), "yes".into()]),
                _ => {}
            }
            if args.len() > 1 {
                out.command = Some(args);
            }
            out.health = Some(health);
            out.notes = unhandled(
                name,
                c,
                &[
                    "maxmemory",
                    "maxmemory_policy",
                    "databases",
                    "password",
                    "requirepass",
                    "persistence",
                ],
            );
        }
        "memcached" => {
            out.image = format!("memcached:{}", version(t, "1.6"));
            let mut args = vec!["memcached".to_string()];
            if let Some(m) = c.get("memory").and_then(Value::as_u64) {
                args.extend(["-m".into(), (m / (1024 * 1024)).max(1).to_string()]);
            }
            if let Some(n) = text(c, "max_connections") {
                args.extend(["-c".into(), n]);
            }
            if let Some(n) = text(c, "threads") {
                args.extend(["-t".into(), n]);
            }
            if args.len() > 1 {
                out.command = Some(args);
            }
            out.notes = unhandled(name, c, &["memory", "max_connections", "threads"]);
        }
        "nats" => {
            out.image = format!("nats:{}", version(t, "2"));
            out.command = Some(vec!["-js".into()]);
            out.notes = unhandled(name, c, &[]);
        }
        "kafka" => {
            out.image = "apache/kafka:3.8.0".into();
            for (k, v) in [
                ("KAFKA_NODE_ID", "1".to_string()),
                ("KAFKA_PROCESS_ROLES", "broker,controller".into()),
                (
                    "KAFKA_LISTENERS",
                    "PLAINTEXT://:9092,CONTROLLER://:9093".into(),
                ),
                (
                    "KAFKA_ADVERTISED_LISTENERS",
                    format!("PLAINTEXT://{name}:9092"),
                ),
                ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER".into()),
                (
                    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                    "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT".into(),
                ),
                ("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093".into()),
                ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1".into()),
                ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1".into()),
                ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1".into()),
                ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true".into()),
            ] {
                out.env.insert(k.into(), v);
            }
            out.data_path = Some("/var/lib/kafka/data".into());
            out.health = Some(
                "/opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --list".into(),
            );
            let mut notes = unhandled(name, c, &["topics"]);
            if c.get("topics").is_some() {
                notes.push(format!(
                    "{name}: `topics` are not pre-created; the broker auto-creates topics on first use"
                ));
            }
            out.notes = notes;
        }
        "rabbitmq" => {
            out.image = format!("rabbitmq:{}-management", version(t, "3"));
            out.data_path = Some("/var/lib/rabbitmq".into());
            out.health = Some("rabbitmq-diagnostics -q ping".into());
            out.notes = unhandled(name, c, &[]);
        }
        "elasticsearch" => {
            let major = version(t, "8");
            let tag = if major.starts_with('7') {
                "7.17.24"
            } else {
                "8.15.3"
            };
            out.image = format!("docker.elastic.co/elasticsearch/elasticsearch:{tag}");
            out.env
                .insert("discovery.type".into(), "single-node".into());
            out.env
                .insert("xpack.security.enabled".into(), "false".into());
            out.env
                .insert("ES_JAVA_OPTS".into(), "-Xms512m -Xmx512m".into());
            out.data_path = Some("/usr/share/elasticsearch/data".into());
            out.health = Some("curl -fsS http://localhost:9200/_cluster/health".into());
            out.notes = unhandled(name, c, &[]);
        }
        "opensearch" => {
            out.image = format!("opensearchproject/opensearch:{}", version(t, "2"));
            out.env
                .insert("discovery.type".into(), "single-node".into());
            out.env
                .insert("DISABLE_SECURITY_PLUGIN".into(), "true".into());
            out.env
                .insert("OPENSEARCH_JAVA_OPTS".into(), "-Xms512m -Xmx512m".into());
            out.data_path = Some("/usr/share/opensearch/data".into());
            out.health = Some("curl -fsS http://localhost:9200/_cluster/health".into());
            out.notes = unhandled(name, c, &[]);
        }
        "meilisearch" => {
            out.image = format!("getmeili/meilisearch:v{}", version(t, "1"));
            out.data_path = Some("/meili_data".into());
            out.health = Some("curl -fsS http://localhost:7700/health".into());
            out.notes = unhandled(name, c, &[]);
        }
        "localstack" => {
            out.image = "localstack/localstack:3".into();
            let services = strs(c, "services");
            if !services.is_empty() {
                out.env.insert("SERVICES".into(), services.join(","));
            }
            out.data_path = Some("/var/lib/localstack".into());
            out.health = Some("curl -fsS http://localhost:4566/_localstack/health".into());
            out.notes = unhandled(name, c, &["services"]);
        }
        "kong" => {
            out.image = format!("kong:{}", version(t, "3"));
            out.env.insert("KONG_DATABASE".into(), "off".into());
            out.env
                .insert("KONG_ADMIN_LISTEN".into(), "0.0.0.0:8001".into());
            out.env
                .insert("KONG_PROXY_LISTEN".into(), "0.0.0.0:8000".into());
            out.health = Some("kong health".into());
            out.notes = unhandled(name, c, &[]);
        }
        "traefik" => {
            out.image = format!("traefik:v{}", version(t, "2"));
            out.notes = unhandled(name, c, &[]);
        }
        "stripe-mock" | "oauth-mock" | "mailhog" => mock(name, t, &mut out),
        other => {
            out.image = format!("{other}:{}", version(t, "latest"));
            out.notes = vec![format!(
                "{name}: template `{other}` has no official image mapping; `{}` is a guess",
                out.image
            )];
        }
    }
    out
}

fn mock(name: &str, t: &TemplateRef, out: &mut Container) {
    out.image = MOCK_IMAGE.into();
    out.mock = true;
    out.data_path = Some("/data".into());
    let config = format!("{MOCK_CONFIG_DIR}/{name}.json");
    let mut args: Vec<String> = match t.name.as_str() {
        "stripe-mock" => vec![
            "stripe".into(),
            "--port".into(),
            "12111".into(),
            "--https-port".into(),
            "12112".into(),
        ],
        "oauth-mock" => vec![
            "oauth".into(),
            "--port".into(),
            "8080".into(),
            "--public-base".into(),
            format!("http://{name}:8080"),
        ],
        _ => vec![
            "mailhog".into(),
            "--smtp-port".into(),
            "1025".into(),
            "--api-port".into(),
            "8025".into(),
        ],
    };
    args.extend([
        "--listen".into(),
        "0.0.0.0".into(),
        "--data-dir".into(),
        "/data".into(),
        "--config".into(),
        config,
    ]);
    out.command = Some(args);
    // The mock image carries no HTTP client; a TCP connect through bash is enough.
    let port = match t.name.as_str() {
        "stripe-mock" => 12111,
        "oauth-mock" => 8080,
        _ => 8025,
    };
    out.health = Some(format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}'"));
}

/// `s` quoted for `sh` when it needs it.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
