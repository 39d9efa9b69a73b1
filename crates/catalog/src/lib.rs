//! vers-catalog: the service templates vers can run (PostgreSQL, Redis, the built-in mocks,
//! apps built from source, memcached, and the rest of the catalog) and the discovery and
//! installation of their engines.
//!
//! A template only *describes* work — commands to initialise data, the server to launch, a
//! health probe, setup and quiesce commands. The engine crate runs them (as an unprivileged
//! user, inside the environment's network namespace where the work needs the network).

pub mod app;
mod binaries;
mod config;
mod engine_binary;
pub mod engines;
mod error;
mod instance;
mod template;
mod templates;

pub use engine_binary::{EngineBinary, EngineSource, MissingEngine};
pub use error::CatalogError;
pub use instance::{Exec, InstanceCtx, Launch, Probe};
pub use template::Template;

use templates::mocks::{Kind, Mock};

static POSTGRES: templates::postgres::Postgres = templates::postgres::Postgres;
static REDIS: templates::redis::Redis = templates::redis::Redis;
static MEMCACHED: templates::memcached::Memcached = templates::memcached::Memcached;
static STRIPE: Mock = Mock(Kind::Stripe);
static OAUTH: Mock = Mock(Kind::Oauth);
static MAILHOG: Mock = Mock(Kind::Mailhog);
static APP: app::App = app::App;

/// The template called `name` (`postgres`, `redis`, `stripe-mock`, `oauth-mock`, `mailhog`,
/// `app`, `memcached`, or another catalog template), `None` for names outside the catalog.
pub fn template_for(name: &str) -> Option<&'static dyn Template> {
    match name {
        "postgres" => Some(&POSTGRES),
        "redis" => Some(&REDIS),
        "memcached" => Some(&MEMCACHED),
        "stripe-mock" => Some(&STRIPE),
        "oauth-mock" => Some(&OAUTH),
        "mailhog" => Some(&MAILHOG),
        "app" => Some(&APP),
        other => templates::external::EXTERNAL
            .iter()
            .find(|t| t.name == other)
            .map(|t| t as &dyn Template),
    }
}
