//! `vers diff` (MCP `vers_diff`, `integration_compare_branches`): what changed from one
//! environment or checkpoint to another, aspect by aspect.
//!
//! A checkpoint is read through a copy-on-write environment cloned from it: its files are
//! compared before anything starts in it, and only when the database aspect is asked for are
//! its postgres and redis services started there. A paused environment is thawed for the
//! comparison. Both are undone when the comparison ends, fails or is cancelled.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::branches;
use crate::error::EngineError;
use crate::stack::Stack;
use crate::state::{self, CheckpointRecord, EnvRecord, EnvStatus};
use crate::supervisor::protocol::EnvState;

use super::config::{self, ConfigDiff, SideInput};
use super::files::{self, FileChange};
use super::postgres::{ColumnInfo, IndexInfo, Postgres, TableCount};
use super::temp_env::{self, Scratch};
use super::{redis, target, Change};

/// Something a comparison looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aspect {
    /// Row counts and schemas of postgres services, key counts of redis services.
    Database,
    /// Changed paths in the service data directories.
    Files,
    /// Manifest, services, engine versions, matrix, environment variables.
    Config,
    /// Service states and processes (environments only).
    Processes,
    /// Log sizes and error lines (environments only).
    Logs,
}

/// Aspects compared when none are named.
pub const DEFAULT_ASPECTS: [Aspect; 3] = [Aspect::Database, Aspect::Files, Aspect::Config];

impl FromStr for Aspect {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Aspect, EngineError> {
        match s.trim() {
            "database" | "db" => Ok(Aspect::Database),
            "files" => Ok(Aspect::Files),
            "config" => Ok(Aspect::Config),
            "processes" => Ok(Aspect::Processes),
            "logs" => Ok(Aspect::Logs),
            other => Err(EngineError::Manifest(format!(
                "unknown aspect `{other}`; aspects are database, files, config, processes, logs"
            ))),
        }
    }
}

/// Parses aspect names (empty: [`DEFAULT_ASPECTS`]).
pub fn parse_aspects(names: &[String]) -> Result<Vec<Aspect>, EngineError> {
    if names.iter().all(|n| n.trim().is_empty()) {
        return Ok(DEFAULT_ASPECTS.to_vec());
    }
    let set: BTreeSet<Aspect> = names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| n.parse())
        .collect::<Result<_, _>>()?;
    Ok(set.into_iter().collect())
}

/// Environment or checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SideKind {
    /// A branch, the root environment, HEAD.
    Environment,
    /// A checkpoint or tag.
    Checkpoint,
}

/// One side of a comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Side {
    /// As the caller named it.
    pub target: String,
    /// Environment or checkpoint.
    pub kind: SideKind,
    /// Its id.
    pub id: String,
    /// Its name (branch alias, tag).
    pub name: String,
}

/// Where a service or database exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// On both sides.
    Both,
    /// Only on the older side.
    FromOnly,
    /// Only on the newer side.
    ToOnly,
}

/// A table whose row count differs (or that exists on one side only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableRows {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// Rows on the older side (None: no such table).
    pub rows_from: Option<i64>,
    /// Rows on the newer side.
    pub rows_to: Option<i64>,
    /// `rows_to - rows_from` (absent tables count 0).
    pub delta: i64,
}

/// A column's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    /// SQL type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Default expression.
    pub default: Option<String>,
}

/// A column added, removed or changed in a table present on both sides.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnChange {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// Column.
    pub column: String,
    /// What happened.
    pub change: Change,
    /// Definition on the older side.
    pub from: Option<ColumnDef>,
    /// Definition on the newer side.
    pub to: Option<ColumnDef>,
}

/// An index added, removed or redefined.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexChange {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// Index name.
    pub index: String,
    /// What happened.
    pub change: Change,
    /// Definition on the older side.
    pub from: Option<String>,
    /// Definition on the newer side.
    pub to: Option<String>,
}

/// Schema differences of one database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SchemaChanges {
    /// Tables only on the newer side (`schema.table`).
    pub tables_added: Vec<String>,
    /// Tables only on the older side.
    pub tables_removed: Vec<String>,
    /// Column changes of tables on both sides.
    pub columns: Vec<ColumnChange>,
    /// Index changes.
    pub indexes: Vec<IndexChange>,
}

impl SchemaChanges {
    fn is_empty(&self) -> bool {
        self.tables_added.is_empty()
            && self.tables_removed.is_empty()
            && self.columns.is_empty()
            && self.indexes.is_empty()
    }
}

/// One database of a postgres service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PgDatabaseDiff {
    /// Database name.
    pub database: String,
    /// Where it exists.
    pub presence: Presence,
    /// Tables whose row counts differ.
    pub tables: Vec<TableRows>,
    /// Tables on both sides with the same row count.
    pub unchanged_tables: usize,
    /// Schema differences.
    pub schema: SchemaChanges,
}

/// One postgres service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostgresDiff {
    /// Service.
    pub service: String,
    /// Where it runs.
    pub presence: Presence,
    /// Its databases (templates excluded), every one, changed or not.
    pub databases: Vec<PgDatabaseDiff>,
}

/// Keys of one redis logical database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedisKeys {
    /// Logical database number.
    pub db: u32,
    /// Keys on the older side.
    pub keys_from: u64,
    /// Keys on the newer side.
    pub keys_to: u64,
    /// `keys_to - keys_from`.
    pub delta: i64,
}

/// One redis service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedisDiff {
    /// Service.
    pub service: String,
    /// Where it runs.
    pub presence: Presence,
    /// Every logical database holding keys on either side.
    pub databases: Vec<RedisKeys>,
}

/// The `database` aspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DatabaseDiff {
    /// Postgres services.
    pub postgres: Vec<PostgresDiff>,
    /// Redis services.
    pub redis: Vec<RedisDiff>,
}

/// Changed paths of one service's data directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceFiles {
    /// Service (its data directory's name).
    pub service: String,
    /// Paths added.
    pub added: usize,
    /// Paths removed.
    pub removed: usize,
    /// Paths modified.
    pub modified: usize,
    /// Every changed path.
    pub changes: Vec<FileChange>,
}

/// The `files` aspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FilesDiff {
    /// Services whose data differs.
    pub services: Vec<ServiceFiles>,
    /// Services whose data is the same.
    pub unchanged: Vec<String>,
}

/// A service's processes on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessState {
    /// running, stopped, paused or failed.
    pub state: String,
    /// Process ids (each also its process group).
    pub pids: Vec<i32>,
    /// Processes alive.
    pub alive: usize,
    /// How ended processes ended.
    pub exits: Vec<String>,
    /// Active faults.
    pub faults: usize,
}

/// One service in the `processes` aspect.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceProcesses {
    /// Service.
    pub service: String,
    /// On the older side (None: not running there).
    pub from: Option<ProcessState>,
    /// On the newer side.
    pub to: Option<ProcessState>,
    /// Whether state, live process count, exits or faults differ (pids always do).
    pub changed: bool,
}

/// The `processes` aspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessesDiff {
    /// Every service of either side.
    pub services: Vec<ServiceProcesses>,
    /// Why a side has no processes (a checkpoint), if one has none.
    pub note: Option<String>,
}

/// A service's log on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogStats {
    /// Lines.
    pub lines: usize,
    /// Lines mentioning an error, a fatal condition or a panic.
    pub error_lines: usize,
    /// The last such line.
    pub last_error: Option<String>,
}

/// One service in the `logs` aspect.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceLogs {
    /// Service.
    pub service: String,
    /// On the older side (None: no log).
    pub from: Option<LogStats>,
    /// On the newer side.
    pub to: Option<LogStats>,
    /// Whether the number of error lines differs.
    pub changed: bool,
}

/// The `logs` aspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogsDiff {
    /// Every service with a log on either side.
    pub services: Vec<ServiceLogs>,
    /// Why a side has no logs (a checkpoint), if one has none.
    pub note: Option<String>,
}

/// A comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiffReport {
    /// The older side (`vers diff TARGET`: TARGET).
    pub from: Side,
    /// The newer side (`vers diff TARGET`: HEAD).
    pub to: Side,
    /// Aspects compared.
    pub aspects: Vec<Aspect>,
    /// Whether no compared aspect shows a difference.
    pub identical: bool,
    /// Database aspect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseDiff>,
    /// Files aspect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<FilesDiff>,
    /// Config aspect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigDiff>,
    /// Processes aspect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<ProcessesDiff>,
    /// Logs aspect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<LogsDiff>,
}

/// What a side names.
enum Source {
    Env(EnvRecord),
    Checkpoint(CheckpointRecord),
}

/// `HEAD`, a branch (name or id), or a checkpoint (tag or id).
fn resolve(stack: &Stack, key: &str) -> Result<Source, EngineError> {
    if key == "HEAD" {
        return branches::head(stack).map(Source::Env);
    }
    let st = state::read(&stack.project.state_dir)?;
    if let Some(e) = st.find_env(key) {
        return Ok(Source::Env(e.clone()));
    }
    if let Some(c) = st.find_checkpoint(key) {
        return Ok(Source::Checkpoint(c.clone()));
    }
    Err(EngineError::NotFound(format!(
        "no branch or checkpoint named `{key}` (see `vers branch list` and `vers log`)"
    )))
}

/// A side made ready: the environment to query (its own, or a clone of the checkpoint).
struct Ready {
    side: Side,
    source: Source,
    /// Environment holding the side's data.
    env: EnvRecord,
    /// Root of its data volume.
    volume: PathBuf,
}

impl Ready {
    fn services(&self) -> &[String] {
        match &self.source {
            Source::Env(e) => &e.services,
            Source::Checkpoint(c) => &c.services,
        }
    }
}

/// Compares `from` with `to` (each `HEAD`, a branch or a checkpoint) on `aspects`.
pub async fn diff(
    stack: &Stack,
    from: &str,
    to: &str,
    aspects: &[Aspect],
) -> Result<DiffReport, EngineError> {
    let aspects: Vec<Aspect> = if aspects.is_empty() {
        DEFAULT_ASPECTS.to_vec()
    } else {
        let set: BTreeSet<Aspect> = aspects.iter().copied().collect();
        set.into_iter().collect()
    };
    let a = resolve(stack, from)?;
    let b = resolve(stack, to)?;
    temp_env::sweep(stack).await?;
    let mut scratch = Scratch::new(stack);
    let result = compare(stack, &mut scratch, (from, a), (to, b), &aspects).await;
    let undone = scratch.finish().await;
    let report = result?;
    undone?;
    Ok(report)
}

async fn compare(
    stack: &Stack,
    scratch: &mut Scratch,
    a: (&str, Source),
    b: (&str, Source),
    aspects: &[Aspect],
) -> Result<DiffReport, EngineError> {
    let live_data = aspects.contains(&Aspect::Database);
    let live = stack.client.envs().await.unwrap_or_default();
    let a = prepare(stack, scratch, a.0, a.1, live_data, &live).await?;
    let b = prepare(stack, scratch, b.0, b.1, live_data, &live).await?;
    let mut report = DiffReport {
        from: a.side.clone(),
        to: b.side.clone(),
        aspects: aspects.to_vec(),
        identical: true,
        database: None,
        files: None,
        config: None,
        processes: None,
        logs: None,
    };
    // Files first: a checkpoint's clone is still untouched.
    if aspects.contains(&Aspect::Files) {
        let f = files_diff(&a, &b)?;
        report.identical &= f.services.is_empty();
        report.files = Some(f);
    }
    if aspects.contains(&Aspect::Config) {
        let c = config::diff(stack, config_side(stack, &a), config_side(stack, &b));
        report.identical &= c.changes.is_empty();
        report.config = Some(c);
    }
    if live_data {
        for side in [&a, &b] {
            if let Source::Checkpoint(_) = side.source {
                let wanted = data_services(stack, side.services());
                scratch.boot(&side.env, &wanted).await?;
            }
        }
        let d = database_diff(stack, &a, &b).await?;
        report.identical &= d.postgres.iter().all(|p| {
            p.presence == Presence::Both
                && p.databases.iter().all(|db| {
                    db.presence == Presence::Both && db.tables.is_empty() && db.schema.is_empty()
                })
        }) && d
            .redis
            .iter()
            .all(|r| r.presence == Presence::Both && r.databases.iter().all(|k| k.delta == 0));
        report.database = Some(d);
    }
    if aspects.contains(&Aspect::Processes) {
        let live = stack.client.envs().await?;
        let p = processes_diff(&a, &b, &live);
        report.identical &= p.services.iter().all(|s| !s.changed);
        report.processes = Some(p);
    }
    if aspects.contains(&Aspect::Logs) {
        let l = logs_diff(stack, &a, &b);
        report.identical &= l.services.iter().all(|s| !s.changed);
        report.logs = Some(l);
    }
    Ok(report)
}

/// The postgres and redis services among `services` that the current manifest knows.
fn data_services(stack: &Stack, services: &[String]) -> Vec<String> {
    services
        .iter()
        .filter(|s| {
            matches!(
                target::template_name(stack, s).as_deref(),
                Some("postgres" | "redis")
            )
        })
        .cloned()
        .collect()
}

async fn prepare(
    stack: &Stack,
    scratch: &mut Scratch,
    key: &str,
    source: Source,
    live_data: bool,
    live: &[EnvState],
) -> Result<Ready, EngineError> {
    match source {
        Source::Env(env) => {
            let side = Side {
                target: key.to_string(),
                kind: SideKind::Environment,
                id: env.id.clone(),
                name: env.name.clone(),
            };
            if live_data {
                match live.iter().find(|e| e.id == env.id) {
                    None => {
                        return Err(EngineError::Failed(format!(
                            "environment {} ({}) is {}; its databases cannot be read (compare its checkpoint, or leave out the database aspect)",
                            env.name,
                            env.id,
                            if env.status == EnvStatus::Stopped { "stopped" } else { "not running" }
                        )))
                    }
                    Some(e) if e.frozen => scratch.thaw(&env.id).await?,
                    Some(_) => {}
                }
            }
            Ok(Ready {
                side,
                volume: stack.snap.volume_path(&env.id),
                env: env.clone(),
                source: Source::Env(env),
            })
        }
        Source::Checkpoint(ckpt) => {
            let side = Side {
                target: key.to_string(),
                kind: SideKind::Checkpoint,
                id: ckpt.id.clone(),
                name: ckpt.name.clone(),
            };
            let services = data_services(stack, &ckpt.services);
            let env = scratch.clone_checkpoint(&ckpt, &services)?;
            Ok(Ready {
                side,
                volume: stack.snap.volume_path(&env.id),
                env,
                source: Source::Checkpoint(ckpt),
            })
        }
    }
}

fn config_side(stack: &Stack, r: &Ready) -> config::ConfigSide {
    match &r.source {
        Source::Env(e) => config::side(
            stack,
            SideInput {
                env_id: &e.id,
                env_name: &e.name,
                manifest_hash: e.manifest_hash.clone(),
                services: &e.services,
                engines: None,
                matrix: &e.matrix,
            },
        ),
        Source::Checkpoint(c) => config::side(
            stack,
            SideInput {
                env_id: &c.env,
                env_name: &c.name,
                manifest_hash: Some(c.manifest_hash.clone()),
                services: &c.services,
                engines: Some(&c.engines),
                matrix: &c.matrix,
            },
        ),
    }
}

fn files_diff(a: &Ready, b: &Ready) -> Result<FilesDiff, EngineError> {
    let dirs = |root: &PathBuf| -> BTreeSet<String> {
        std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(String::from))
            .collect()
    };
    let names: BTreeSet<String> = dirs(&a.volume).union(&dirs(&b.volume)).cloned().collect();
    let mut out = FilesDiff::default();
    for name in names {
        let changes = files::compare(&a.volume.join(&name), &b.volume.join(&name))?;
        if changes.is_empty() {
            out.unchanged.push(name);
            continue;
        }
        let count = |c: Change| changes.iter().filter(|x| x.change == c).count();
        out.services.push(ServiceFiles {
            service: name,
            added: count(Change::Added),
            removed: count(Change::Removed),
            modified: count(Change::Modified),
            changes,
        });
    }
    Ok(out)
}

fn presence(in_a: bool, in_b: bool) -> Presence {
    match (in_a, in_b) {
        (true, false) => Presence::FromOnly,
        (false, true) => Presence::ToOnly,
        _ => Presence::Both,
    }
}

/// What one side holds of one postgres database.
struct DbState {
    counts: Vec<TableCount>,
    columns: Vec<ColumnInfo>,
    indexes: Vec<IndexInfo>,
}

async fn db_state(pg: &Postgres<'_>, database: &str) -> Result<DbState, EngineError> {
    Ok(DbState {
        counts: pg.table_counts(database).await?,
        columns: pg.columns(database).await?,
        indexes: pg.indexes(database).await?,
    })
}

async fn database_diff(stack: &Stack, a: &Ready, b: &Ready) -> Result<DatabaseDiff, EngineError> {
    let ctx_a = target::context(stack, &a.env);
    let ctx_b = target::context(stack, &b.env);
    let (svc_a, svc_b): (BTreeSet<String>, BTreeSet<String>) = (
        data_services(stack, a.services()).into_iter().collect(),
        data_services(stack, b.services()).into_iter().collect(),
    );
    let mut out = DatabaseDiff::default();
    for service in svc_a.union(&svc_b) {
        let (in_a, in_b) = (svc_a.contains(service), svc_b.contains(service));
        let is_pg = target::template_name(stack, service).as_deref() == Some("postgres");
        if is_pg {
            let pg_a = in_a.then(|| Postgres::new(&ctx_a, service)).transpose()?;
            let pg_b = in_b.then(|| Postgres::new(&ctx_b, service)).transpose()?;
            let dbs_a = match &pg_a {
                Some(p) => p.databases().await?,
                None => Vec::new(),
            };
            let dbs_b = match &pg_b {
                Some(p) => p.databases().await?,
                None => Vec::new(),
            };
            let mut names: Vec<String> = dbs_a.clone();
            names.extend(dbs_b.iter().filter(|d| !dbs_a.contains(d)).cloned());
            let mut databases = Vec::new();
            for db in names {
                let sa = match (&pg_a, dbs_a.contains(&db)) {
                    (Some(p), true) => Some(db_state(p, &db).await?),
                    _ => None,
                };
                let sb = match (&pg_b, dbs_b.contains(&db)) {
                    (Some(p), true) => Some(db_state(p, &db).await?),
                    _ => None,
                };
                databases.push(compare_db(&db, sa.as_ref(), sb.as_ref()));
            }
            out.postgres.push(PostgresDiff {
                service: service.clone(),
                presence: presence(in_a, in_b),
                databases,
            });
        } else {
            let ka = if in_a {
                redis::key_counts(&ctx_a, service).await?
            } else {
                BTreeMap::new()
            };
            let kb = if in_b {
                redis::key_counts(&ctx_b, service).await?
            } else {
                BTreeMap::new()
            };
            let dbs: BTreeSet<u32> = ka.keys().chain(kb.keys()).copied().collect();
            out.redis.push(RedisDiff {
                service: service.clone(),
                presence: presence(in_a, in_b),
                databases: dbs
                    .into_iter()
                    .map(|db| {
                        let (x, y) = (
                            ka.get(&db).copied().unwrap_or(0),
                            kb.get(&db).copied().unwrap_or(0),
                        );
                        RedisKeys {
                            db,
                            keys_from: x,
                            keys_to: y,
                            delta: y as i64 - x as i64,
                        }
                    })
                    .collect(),
            });
        }
    }
    Ok(out)
}

fn compare_db(database: &str, a: Option<&DbState>, b: Option<&DbState>) -> PgDatabaseDiff {
    let empty = DbState {
        counts: Vec::new(),
        columns: Vec::new(),
        indexes: Vec::new(),
    };
    let (sa, sb) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
    let key = |s: &str, t: &str| (s.to_string(), t.to_string());
    let ca: BTreeMap<(String, String), i64> = sa
        .counts
        .iter()
        .map(|c| (key(&c.schema, &c.table), c.rows))
        .collect();
    let cb: BTreeMap<(String, String), i64> = sb
        .counts
        .iter()
        .map(|c| (key(&c.schema, &c.table), c.rows))
        .collect();
    let tables: BTreeSet<&(String, String)> = ca.keys().chain(cb.keys()).collect();
    let mut rows = Vec::new();
    let mut unchanged = 0;
    let mut schema = SchemaChanges::default();
    for t in tables {
        let (x, y) = (ca.get(t).copied(), cb.get(t).copied());
        if x == y {
            unchanged += 1;
        } else {
            rows.push(TableRows {
                schema: t.0.clone(),
                table: t.1.clone(),
                rows_from: x,
                rows_to: y,
                delta: y.unwrap_or(0) - x.unwrap_or(0),
            });
        }
        let qualified = format!("{}.{}", t.0, t.1);
        match (x.is_some(), y.is_some()) {
            (false, true) => schema.tables_added.push(qualified),
            (true, false) => schema.tables_removed.push(qualified),
            _ => {}
        }
    }
    type ColKey = (String, String, String);
    let cols = |s: &DbState| -> BTreeMap<ColKey, ColumnDef> {
        s.columns
            .iter()
            .map(|c| {
                (
                    (c.schema.clone(), c.table.clone(), c.column.clone()),
                    ColumnDef {
                        type_name: c.type_name.clone(),
                        nullable: c.nullable,
                        default: c.default.clone(),
                    },
                )
            })
            .collect()
    };
    let (cola, colb) = (cols(sa), cols(sb));
    let keys: BTreeSet<&ColKey> = cola.keys().chain(colb.keys()).collect();
    for k in keys {
        let table_on_both = ca.contains_key(&key(&k.0, &k.1)) && cb.contains_key(&key(&k.0, &k.1));
        if !table_on_both {
            continue;
        }
        let (x, y) = (cola.get(k), colb.get(k));
        let change = match (x, y) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(p), Some(q)) if p != q => Change::Modified,
            _ => continue,
        };
        schema.columns.push(ColumnChange {
            schema: k.0.clone(),
            table: k.1.clone(),
            column: k.2.clone(),
            change,
            from: x.cloned(),
            to: y.cloned(),
        });
    }
    let idx = |s: &DbState| -> BTreeMap<ColKey, String> {
        s.indexes
            .iter()
            .map(|i| {
                (
                    (i.schema.clone(), i.table.clone(), i.index.clone()),
                    i.definition.clone(),
                )
            })
            .collect()
    };
    let (ia, ib) = (idx(sa), idx(sb));
    let keys: BTreeSet<&ColKey> = ia.keys().chain(ib.keys()).collect();
    for k in keys {
        let (x, y) = (ia.get(k), ib.get(k));
        let change = match (x, y) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(p), Some(q)) if p != q => Change::Modified,
            _ => continue,
        };
        schema.indexes.push(IndexChange {
            schema: k.0.clone(),
            table: k.1.clone(),
            index: k.2.clone(),
            change,
            from: x.cloned(),
            to: y.cloned(),
        });
    }
    PgDatabaseDiff {
        database: database.to_string(),
        presence: presence(a.is_some(), b.is_some()),
        tables: rows,
        unchanged_tables: unchanged,
        schema,
    }
}

const CHECKPOINT_NOTE: &str =
    "a checkpoint has no processes or logs; only environment sides are shown";

fn processes_diff(a: &Ready, b: &Ready, live: &[EnvState]) -> ProcessesDiff {
    let states = |r: &Ready| -> Option<BTreeMap<String, ProcessState>> {
        let Source::Env(e) = &r.source else {
            return None;
        };
        let env = live.iter().find(|l| l.id == e.id);
        Some(
            env.map(|env| {
                env.services
                    .iter()
                    .map(|s| {
                        let state = if env.frozen && s.state == "running" {
                            "paused".to_string()
                        } else {
                            s.state.clone()
                        };
                        (
                            s.name.clone(),
                            ProcessState {
                                state,
                                pids: s.processes.iter().map(|p| p.pid).collect(),
                                alive: s.processes.iter().filter(|p| p.alive).count(),
                                exits: s.processes.iter().filter_map(|p| p.exit.clone()).collect(),
                                faults: s.faults.len(),
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        )
    };
    let (sa, sb) = (states(a), states(b));
    let note = (sa.is_none() || sb.is_none()).then(|| CHECKPOINT_NOTE.to_string());
    let empty = BTreeMap::new();
    let (ma, mb) = (sa.as_ref().unwrap_or(&empty), sb.as_ref().unwrap_or(&empty));
    let names: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    let services = names
        .into_iter()
        .map(|n| {
            let (x, y) = (ma.get(n).cloned(), mb.get(n).cloned());
            let changed = match (&x, &y) {
                (Some(p), Some(q)) => {
                    p.state != q.state
                        || p.alive != q.alive
                        || p.exits != q.exits
                        || p.faults != q.faults
                }
                // A side that is a checkpoint has nothing to compare with.
                _ => sa.is_some() && sb.is_some(),
            };
            ServiceProcesses {
                service: n.clone(),
                from: x,
                to: y,
                changed,
            }
        })
        .collect();
    ProcessesDiff { services, note }
}

/// Line and error-line counts of a log file.
fn log_stats(path: &std::path::Path) -> Option<LogStats> {
    let text = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&text);
    let mut stats = LogStats {
        lines: 0,
        error_lines: 0,
        last_error: None,
    };
    for line in text.lines() {
        stats.lines += 1;
        let l = line.to_ascii_lowercase();
        if l.contains("error") || l.contains("fatal") || l.contains("panic") {
            stats.error_lines += 1;
            stats.last_error = Some(line.chars().take(500).collect());
        }
    }
    Some(stats)
}

fn logs_diff(stack: &Stack, a: &Ready, b: &Ready) -> LogsDiff {
    let stats = |r: &Ready| -> Option<BTreeMap<String, LogStats>> {
        let Source::Env(e) = &r.source else {
            return None;
        };
        let ctx = target::context(stack, e);
        let mut out = BTreeMap::new();
        for name in &e.services {
            let replicas = stack
                .manifest
                .services
                .get(name)
                .map(|s| s.replicas.max(1))
                .unwrap_or(1);
            let mut total: Option<LogStats> = None;
            for r in 0..replicas {
                if let Some(s) = log_stats(&ctx.log_path(name, r, replicas)) {
                    let t = total.get_or_insert(LogStats {
                        lines: 0,
                        error_lines: 0,
                        last_error: None,
                    });
                    t.lines += s.lines;
                    t.error_lines += s.error_lines;
                    if s.last_error.is_some() {
                        t.last_error = s.last_error;
                    }
                }
            }
            if let Some(t) = total {
                out.insert(name.clone(), t);
            }
        }
        Some(out)
    };
    let (sa, sb) = (stats(a), stats(b));
    let note = (sa.is_none() || sb.is_none()).then(|| CHECKPOINT_NOTE.to_string());
    let empty = BTreeMap::new();
    let (ma, mb) = (sa.as_ref().unwrap_or(&empty), sb.as_ref().unwrap_or(&empty));
    let names: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    let services = names
        .into_iter()
        .map(|n| {
            let (x, y) = (ma.get(n).cloned(), mb.get(n).cloned());
            let changed = sa.is_some()
                && sb.is_some()
                && x.as_ref().map(|s| s.error_lines) != y.as_ref().map(|s| s.error_lines);
            ServiceLogs {
                service: n.clone(),
                from: x,
                to: y,
                changed,
            }
        })
        .collect();
    LogsDiff { services, note }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(counts: &[(&str, i64)], cols: &[(&str, &str, &str)]) -> DbState {
        DbState {
            counts: counts
                .iter()
                .map(|(t, n)| TableCount {
                    schema: "public".into(),
                    table: t.to_string(),
                    rows: *n,
                })
                .collect(),
            columns: cols
                .iter()
                .map(|(t, c, ty)| ColumnInfo {
                    schema: "public".into(),
                    table: t.to_string(),
                    column: c.to_string(),
                    type_name: ty.to_string(),
                    nullable: true,
                    default: None,
                })
                .collect(),
            indexes: Vec::new(),
        }
    }

    #[test]
    fn row_counts_tables_and_columns_are_compared() {
        let a = state(
            &[("items", 1), ("old", 3), ("same", 2)],
            &[
                ("items", "name", "text"),
                ("items", "qty", "integer"),
                ("old", "x", "integer"),
                ("same", "y", "text"),
            ],
        );
        let b = state(
            &[("items", 4), ("new", 0), ("same", 2)],
            &[
                ("items", "name", "character varying(20)"),
                ("items", "note", "text"),
                ("new", "z", "integer"),
                ("same", "y", "text"),
            ],
        );
        let d = compare_db("app", Some(&a), Some(&b));
        assert_eq!(d.unchanged_tables, 1);
        let deltas: Vec<(&str, i64)> = d
            .tables
            .iter()
            .map(|t| (t.table.as_str(), t.delta))
            .collect();
        assert_eq!(deltas, vec![("items", 3), ("new", 0), ("old", -3)]);
        assert_eq!(d.schema.tables_added, vec!["public.new"]);
        assert_eq!(d.schema.tables_removed, vec!["public.old"]);
        let cols: Vec<(&str, Change)> = d
            .schema
            .columns
            .iter()
            .map(|c| (c.column.as_str(), c.change))
            .collect();
        assert_eq!(
            cols,
            vec![
                ("name", Change::Modified),
                ("note", Change::Added),
                ("qty", Change::Removed)
            ],
            "columns of added or removed tables are not listed one by one"
        );
    }

    #[test]
    fn aspects_parse_and_default() {
        assert_eq!(parse_aspects(&[]).unwrap(), DEFAULT_ASPECTS.to_vec());
        assert_eq!(
            parse_aspects(&["logs".into(), "config".into(), "logs".into()]).unwrap(),
            vec![Aspect::Config, Aspect::Logs]
        );
        assert!(parse_aspects(&["disk".into()]).is_err());
    }
}
