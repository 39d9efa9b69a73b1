//! The interface every catalog template implements.

use std::collections::BTreeMap;

use crate::{CatalogError, EngineBinary, Exec, InstanceCtx, Launch, MissingEngine, Probe};

/// One kind of service: how to find its engine, prepare its data, run, probe, seed and
/// quiesce it. The engine crate executes what a template describes.
pub trait Template: Send + Sync {
    /// The template name as manifests write it, e.g. `postgres`.
    fn name(&self) -> &'static str;

    /// The engine binaries for `version` (a major such as `15`, or `None` for the default).
    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine>;

    /// Commands run on the host (no network) once, when the data directory is empty.
    fn init_data(
        &self,
        ctx: &InstanceCtx,
        engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError>;

    /// Writes config files (into the data or run directory) and returns the server command,
    /// which listens only on `ctx.listen` and `ctx.ports`.
    fn launch(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError>;

    /// The default health probe (a manifest `healthcheck` overrides it).
    fn health(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Probe;

    /// Commands run once inside the environment after the first healthy start of a fresh
    /// data directory (databases, extensions, users, init scripts...).
    fn setup(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError>;

    /// Commands run inside the environment before a checkpoint, so the data directory holds
    /// what the engine keeps in memory.
    fn quiesce(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Vec<Exec>;

    /// Whether a checkpoint needs [`Template::quiesce`] to succeed: true when the data
    /// directory would otherwise miss writes (Redis without an AOF, LocalStack's state);
    /// false when it is crash-consistent anyway and the steps only shorten the next start's
    /// recovery (PostgreSQL's CHECKPOINT: a server still in crash recovery cannot run it).
    fn quiesce_required(&self) -> bool {
        true
    }

    /// Extra environment for clients of this service (e.g. `PGHOST`); may be empty.
    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String>;

    /// The ports of `ctx` that speak HTTP/1 (HTTP faults and request recording apply to
    /// them; the others are treated as opaque TCP).
    fn http_ports(&self, _ctx: &InstanceCtx) -> Vec<u16> {
        Vec::new()
    }

    /// The ports of `ctx` where a Kafka broker answers and advertises the service's name,
    /// which only processes inside the environment can resolve: the host forwards of these
    /// ports advertise themselves instead.
    fn kafka_ports(&self, _ctx: &InstanceCtx) -> Vec<u16> {
        Vec::new()
    }

    /// Whether the engine must be started again once a full disk has room again: true for an
    /// engine that stays up but broken (the MongoDB stand-in's storage panics and fails every
    /// operation while it still answers `ping`). Engines that recover by themselves (Postgres
    /// restarts its server after a PANIC, Redis retries its save) keep running.
    fn restart_after_disk_full(&self) -> bool {
        false
    }

    /// Further long-running processes of the same instance, started after the server (in
    /// the same network namespace and cgroup), e.g. a schema registry beside a broker.
    fn companions(
        &self,
        _ctx: &InstanceCtx,
        _engine: &EngineBinary,
    ) -> Result<Vec<Launch>, CatalogError> {
        Ok(Vec::new())
    }
}
