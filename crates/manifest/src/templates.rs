//! The catalog of service templates the manifest accepts: versions, standard ports and the
//! shape of each template's `config` block (SPEC section 5 and Appendix A).

use crate::config::{self, Shape};
use crate::model::Service;

/// One catalog template.
#[derive(Debug)]
pub struct TemplateInfo {
    /// Name used in `template:`.
    pub name: &'static str,
    /// Supported versions (major or major.minor); empty for unversioned templates.
    pub versions: &'static [&'static str],
    /// Version used when `template:` names none.
    pub default_version: Option<&'static str>,
    /// Standard ports inside the environment, main first.
    pub ports: &'static [u16],
    /// Those of `ports` that speak HTTP/1 (HTTP faults apply to them; the others are
    /// opaque TCP).
    pub http_ports: &'static [u16],
    /// Whether vers implements it itself (the mocks) rather than running an engine.
    pub builtin: bool,
    /// One line on what it is.
    pub description: &'static str,
    /// Shape of its `config` block.
    pub config: &'static Shape,
}

impl TemplateInfo {
    /// Whether `version` is supported: a listed version, or a more precise one under it
    /// (`15.4` under `15`), or a major naming exactly one listed `major.minor` (`8` → `8.0`).
    pub fn supports(&self, version: &str) -> bool {
        let v = version.trim();
        if v.is_empty() || self.versions.is_empty() {
            return false;
        }
        self.versions.iter().any(|listed| {
            v == *listed
                || v.strip_prefix(listed)
                    .is_some_and(|rest| rest.starts_with('.'))
                || listed
                    .strip_prefix(v)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    }

    /// The keys its `config` block accepts.
    pub fn config_keys(&self) -> Vec<&'static str> {
        match self.config {
            Shape::Obj(fields) => fields.iter().map(|(k, _)| *k).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the template is versioned.
    pub fn is_versioned(&self) -> bool {
        !self.versions.is_empty()
    }
}

/// Port an app service listens on when nothing says otherwise.
pub const DEFAULT_APP_PORT: u16 = 3000;

static TEMPLATES: &[TemplateInfo] = &[
    TemplateInfo {
        name: "postgres",
        versions: &["13", "14", "15", "16", "17"],
        default_version: Some("16"),
        ports: &[5432],
        http_ports: &[],
        builtin: false,
        description: "PostgreSQL server",
        config: &config::POSTGRES,
    },
    TemplateInfo {
        name: "mysql",
        versions: &["5.7", "8.0"],
        default_version: Some("8.0"),
        ports: &[3306],
        http_ports: &[],
        builtin: false,
        description: "MySQL server",
        config: &config::MYSQL,
    },
    TemplateInfo {
        name: "mariadb",
        versions: &["10", "11"],
        default_version: Some("11"),
        ports: &[3306],
        http_ports: &[],
        builtin: false,
        description: "MariaDB server",
        config: &config::MYSQL,
    },
    TemplateInfo {
        name: "mongodb",
        versions: &["5", "6", "7"],
        default_version: Some("7"),
        ports: &[27017],
        http_ports: &[],
        builtin: false,
        description: "MongoDB server",
        config: &config::MONGODB,
    },
    TemplateInfo {
        name: "redis",
        versions: &["6", "7"],
        default_version: Some("7"),
        ports: &[6379],
        http_ports: &[],
        builtin: false,
        description: "Redis server",
        config: &config::REDIS,
    },
    TemplateInfo {
        name: "memcached",
        versions: &["1.6"],
        default_version: Some("1.6"),
        ports: &[11211],
        http_ports: &[],
        builtin: false,
        description: "memcached",
        config: &config::MEMCACHED,
    },
    TemplateInfo {
        name: "nats",
        versions: &["2"],
        default_version: Some("2"),
        ports: &[4222],
        http_ports: &[],
        builtin: false,
        description: "NATS messaging with JetStream",
        config: &config::NATS,
    },
    TemplateInfo {
        name: "kafka",
        versions: &["3"],
        default_version: Some("3"),
        ports: &[9092],
        http_ports: &[],
        builtin: false,
        description: "Apache Kafka broker",
        config: &config::KAFKA,
    },
    TemplateInfo {
        name: "rabbitmq",
        versions: &["3"],
        default_version: Some("3"),
        ports: &[5672, 15672],
        http_ports: &[15672],
        builtin: false,
        description: "RabbitMQ broker",
        config: &config::RABBITMQ,
    },
    TemplateInfo {
        name: "elasticsearch",
        versions: &["7", "8"],
        default_version: Some("8"),
        ports: &[9200],
        http_ports: &[9200],
        builtin: false,
        description: "Elasticsearch",
        config: &config::ELASTICSEARCH,
    },
    TemplateInfo {
        name: "opensearch",
        versions: &["2"],
        default_version: Some("2"),
        ports: &[9200],
        http_ports: &[9200],
        builtin: false,
        description: "OpenSearch",
        config: &config::OPENSEARCH,
    },
    TemplateInfo {
        name: "meilisearch",
        versions: &["1"],
        default_version: Some("1"),
        ports: &[7700],
        http_ports: &[7700],
        builtin: false,
        description: "Meilisearch",
        config: &config::MEILISEARCH,
    },
    TemplateInfo {
        name: "localstack",
        versions: &[],
        default_version: None,
        ports: &[4566],
        http_ports: &[4566],
        builtin: false,
        description: "LocalStack (AWS APIs)",
        config: &config::LOCALSTACK,
    },
    TemplateInfo {
        name: "stripe-mock",
        versions: &[],
        default_version: None,
        ports: &[12111, 12112],
        http_ports: &[12111],
        builtin: true,
        description: "built-in Stripe API mock",
        config: &config::STRIPE_MOCK,
    },
    TemplateInfo {
        name: "oauth-mock",
        versions: &[],
        default_version: None,
        ports: &[8080],
        http_ports: &[8080],
        builtin: true,
        description: "built-in OAuth 2.0 / OpenID Connect provider mock",
        config: &config::OAUTH_MOCK,
    },
    TemplateInfo {
        name: "mailhog",
        versions: &[],
        default_version: None,
        ports: &[1025, 8025],
        http_ports: &[8025],
        builtin: true,
        description: "built-in SMTP capture with the MailHog API",
        config: &config::MAILHOG,
    },
    TemplateInfo {
        name: "kong",
        versions: &["3"],
        default_version: Some("3"),
        ports: &[8000, 8001],
        http_ports: &[8000, 8001],
        builtin: false,
        description: "Kong API gateway",
        config: &config::KONG,
    },
    TemplateInfo {
        name: "traefik",
        versions: &["2"],
        default_version: Some("2"),
        ports: &[80, 8080],
        http_ports: &[80, 8080],
        builtin: false,
        description: "Traefik proxy",
        config: &config::TRAEFIK,
    },
    TemplateInfo {
        name: "monitoring-stack",
        versions: &[],
        default_version: None,
        ports: &[9090, 3000, 16686],
        http_ports: &[9090, 3000, 16686],
        builtin: false,
        description: "Prometheus, Grafana and Jaeger",
        config: &config::MONITORING_STACK,
    },
    TemplateInfo {
        name: "logging-stack",
        versions: &[],
        default_version: None,
        ports: &[3100],
        http_ports: &[3100],
        builtin: false,
        description: "Loki and Promtail",
        config: &config::LOGGING_STACK,
    },
];

/// The catalog entry for `name`.
pub fn template(name: &str) -> Option<&'static TemplateInfo> {
    TEMPLATES.iter().find(|t| t.name == name)
}

/// Every catalog template, in catalog order.
pub fn all_templates() -> &'static [TemplateInfo] {
    TEMPLATES
}

/// Port of the Schema Registry a kafka service runs with `schema_registry: true`.
pub const SCHEMA_REGISTRY_PORT: u16 = 8081;

/// Whether an app service says where it listens (`ports:` or a `PORT` in its env): one that
/// does not may be a worker that listens on nothing. Catalog services always do.
pub fn declares_port(service: &Service) -> bool {
    service.template.is_some() || !service.ports.is_empty() || env_port(service).is_some()
}

/// The port an app's `env.PORT` names, after interpolation (`PORT: "${API_PORT:-8000}"`)
/// with the caller's variables, as the engine expands the env it starts the app with.
fn env_port(service: &Service) -> Option<u16> {
    let raw = service.env.get("PORT")?;
    let lookup = |k: &str| std::env::var(k).ok();
    let value = crate::interpolate(raw, &lookup).ok()?;
    value.trim().parse::<u16>().ok()
}

/// Standard ports of a service, main first: its template's (plus the Schema Registry's for a
/// kafka service that runs one), or for an app service the container ports of `ports`, else
/// `env.PORT`, else 3000.
pub fn standard_ports(service: &Service) -> Vec<u16> {
    if let Some(t) = &service.template {
        let mut ports = template(&t.name)
            .map(|i| i.ports.to_vec())
            .unwrap_or_default();
        if t.name == "kafka" && schema_registry_on(&service.config) {
            ports.push(SCHEMA_REGISTRY_PORT);
        }
        return ports;
    }
    let mut ports: Vec<u16> = Vec::new();
    for p in &service.ports {
        if !ports.contains(&p.container) {
            ports.push(p.container);
        }
    }
    if ports.is_empty() {
        ports.push(env_port(service).unwrap_or(DEFAULT_APP_PORT));
    }
    ports
}

/// The ports of a service that speak HTTP/1: every port of an app (apps are web services
/// unless they say otherwise) and of a service whose health check is an HTTP `path`, else
/// the template's HTTP ports (`mailhog`: 8025, not SMTP's 1025; `postgres`: none; a kafka
/// service's Schema Registry: 8081).
pub fn http_ports(service: &Service) -> Vec<u16> {
    let http_health = service
        .healthcheck
        .as_ref()
        .is_some_and(|h| h.path.is_some());
    match &service.template {
        None => standard_ports(service),
        Some(_) if http_health => standard_ports(service),
        Some(t) => {
            let mut ports = template(&t.name)
                .map(|i| i.http_ports.to_vec())
                .unwrap_or_default();
            if t.name == "kafka" && schema_registry_on(&service.config) {
                ports.push(SCHEMA_REGISTRY_PORT);
            }
            ports
        }
    }
}

/// Whether a service speaks HTTP on some port, so that `http-error` faults can reach it.
pub fn speaks_http(service: &Service) -> bool {
    !http_ports(service).is_empty()
}

/// Whether a kafka `config` asks for a Schema Registry (`true`, `"yes"`, or a map of its settings).
fn schema_registry_on(config: &serde_json::Value) -> bool {
    match config.get("schema_registry") {
        Some(serde_json::Value::Bool(on)) => *on,
        Some(serde_json::Value::String(s)) => {
            matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "on")
        }
        Some(serde_json::Value::Object(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PortMap, TemplateRef};

    #[test]
    fn catalog_ports_and_versions() {
        assert_eq!(template("postgres").unwrap().ports, &[5432]);
        assert_eq!(template("mailhog").unwrap().ports, &[1025, 8025]);
        assert!(template("postgres").unwrap().supports("15"));
        assert!(template("postgres").unwrap().supports("15.4"));
        assert!(!template("postgres").unwrap().supports("12"));
        assert!(template("mysql").unwrap().supports("8"));
        assert!(!template("stripe-mock").unwrap().supports("1"));
        assert!(template("nope").is_none());
        assert_eq!(all_templates().len(), 20);
        assert!(template("redis")
            .unwrap()
            .config_keys()
            .contains(&"maxmemory_policy"));
    }

    #[test]
    fn app_ports() {
        let mut s = Service::default();
        assert_eq!(standard_ports(&s), vec![3000]);
        s.env.insert("PORT".into(), "8081".into());
        assert_eq!(standard_ports(&s), vec![8081]);
        s.env.insert(
            "PORT".into(),
            "${VERS_TEST_UNSET_PORT_VARIABLE:-8000}".into(),
        );
        assert_eq!(standard_ports(&s), vec![8000]);
        assert!(declares_port(&s));
        s.ports.push(PortMap {
            host: 3001,
            container: 4000,
        });
        assert_eq!(standard_ports(&s), vec![4000]);
        s.template = Some(TemplateRef {
            name: "redis".into(),
            version: None,
        });
        assert_eq!(standard_ports(&s), vec![6379]);
    }

    #[test]
    fn http_ports_of_apps_mocks_and_engines() {
        let with = |name: &str| Service {
            template: Some(TemplateRef::parse(name)),
            ..Service::default()
        };
        assert_eq!(http_ports(&Service::default()), vec![3000]);
        assert!(!speaks_http(&with("postgres@15")));
        assert!(!speaks_http(&with("redis")));
        assert_eq!(http_ports(&with("mailhog")), vec![8025]);
        assert_eq!(http_ports(&with("stripe-mock")), vec![12111]);
        for http in ["oauth-mock", "elasticsearch@8", "localstack", "kong"] {
            assert!(speaks_http(&with(http)), "{http}");
        }
        let mut pg = with("postgres");
        pg.healthcheck = Some(crate::model::Healthcheck {
            path: Some("/health".into()),
            ..Default::default()
        });
        assert_eq!(http_ports(&pg), vec![5432]);
        for t in all_templates() {
            assert!(
                t.http_ports.iter().all(|p| t.ports.contains(p)),
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn kafka_with_a_schema_registry_also_listens_on_8081() {
        let mut s = Service {
            template: Some(TemplateRef {
                name: "kafka".into(),
                version: Some("3".into()),
            }),
            ..Service::default()
        };
        assert_eq!(standard_ports(&s), vec![9092]);
        s.config = serde_json::json!({"schema_registry": false});
        assert_eq!(standard_ports(&s), vec![9092]);
        assert!(!speaks_http(&s));
        s.config = serde_json::json!({"schema_registry": true});
        assert_eq!(standard_ports(&s), vec![9092, 8081]);
        assert_eq!(http_ports(&s), vec![8081]);
    }
}
