//! vers-catalog: the service templates vers can run (PostgreSQL, Redis, the built-in mocks,
//! apps built from source, memcached, and the rest of the catalog) and the discovery and
//! installation of their engines.
//!
//! A template only *describes* work — commands to initialise data, the server to launch, a
//! health probe, setup and quiesce commands. The engine crate runs them (as an unprivileged
//! user, inside the environment's network namespace where the work needs the network).

pub mod app;
mod binaries;
pub mod clients;
mod config;
mod engine_binary;
pub mod engines;
mod error;
mod instance;
mod probe_cache;
mod template;
mod templates;

pub use engine_binary::{EngineBinary, EngineSource, MissingEngine, StandIn};
pub use error::CatalogError;
pub use instance::{Exec, InstanceCtx, Launch, Probe};
pub use template::Template;
pub use templates::postgres::init_sql as postgres_init_sql;
pub use templates::search::TANTIVY_VERSION as SEARCH_TANTIVY_VERSION;

use templates::mocks::{Kind, Mock};
use templates::search::{Product, Search};

static POSTGRES: templates::postgres::Postgres = templates::postgres::Postgres;
static REDIS: templates::redis::Redis = templates::redis::Redis;
static KAFKA: templates::kafka::Kafka = templates::kafka::Kafka;
static MEMCACHED: templates::memcached::Memcached = templates::memcached::Memcached;
static MONGODB: templates::mongodb::MongoDb = templates::mongodb::MongoDb;
static KONG: templates::kong::Kong = templates::kong::Kong;
static MARIADB: templates::mariadb::Mariadb = templates::mariadb::Mariadb;
static RABBITMQ: templates::rabbitmq::Rabbitmq = templates::rabbitmq::Rabbitmq;
static NATS: templates::nats::Nats = templates::nats::Nats;
static LOCALSTACK: templates::localstack::LocalStack = templates::localstack::LocalStack;
static STRIPE: Mock = Mock(Kind::Stripe);
static OAUTH: Mock = Mock(Kind::Oauth);
static MAILHOG: Mock = Mock(Kind::Mailhog);
static APP: app::App = app::App;
static ELASTICSEARCH: Search = Search(Product::Elasticsearch);
static OPENSEARCH: Search = Search(Product::OpenSearch);

/// The template called `name` (`postgres`, `redis`, `stripe-mock`, `oauth-mock`, `mailhog`,
/// `app`, `memcached`, `mongodb`, `kong`, `mariadb`, `rabbitmq`, `nats`, `localstack`, `kafka`,
/// `elasticsearch`, `opensearch`, or another catalog template), `None` for names outside the
/// catalog.
pub fn template_for(name: &str) -> Option<&'static dyn Template> {
    match name {
        "postgres" => Some(&POSTGRES),
        "redis" => Some(&REDIS),
        "memcached" => Some(&MEMCACHED),
        "mongodb" => Some(&MONGODB),
        "kong" => Some(&KONG),
        "mariadb" => Some(&MARIADB),
        "rabbitmq" => Some(&RABBITMQ),
        "nats" => Some(&NATS),
        "localstack" => Some(&LOCALSTACK),
        "kafka" => Some(&KAFKA),
        "stripe-mock" => Some(&STRIPE),
        "oauth-mock" => Some(&OAUTH),
        "mailhog" => Some(&MAILHOG),
        "app" => Some(&APP),
        "elasticsearch" => Some(&ELASTICSEARCH),
        "opensearch" => Some(&OPENSEARCH),
        other => templates::external::EXTERNAL
            .iter()
            .find(|t| t.name == other)
            .map(|t| t as &dyn Template),
    }
}
