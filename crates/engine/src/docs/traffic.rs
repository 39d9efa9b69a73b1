//! What the proxies saw during a test branch, with client addresses resolved to service
//! names, and where it is kept: beside the branch's log in the run's directory
//! (`.vers/logs/runs/<run>/<suite>/<branch>.traffic.json`), with the run's report in
//! `.vers/logs/runs/<run>/report.json`, so later runs never overwrite earlier ones.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vers_manifest::Manifest;

use crate::error::EngineError;
use crate::project::Project;
use crate::supervisor::protocol::ProxyTraffic;
use crate::testrun::TestReport;
use crate::topology;

/// Name given to clients that are not a service of the stack: test commands, hooks and
/// scripts running in the environment's namespace.
pub const TEST_CLIENT: &str = "tests";
/// Suffix of a branch's traffic file beside its log.
pub const TRAFFIC_SUFFIX: &str = ".traffic.json";
/// The run's report, in the run's directory.
pub const REPORT_FILE: &str = "report.json";

/// Connections from one client service to one server port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedConnection {
    /// Calling service (or [`TEST_CLIENT`]).
    pub client: String,
    /// Called service.
    pub server: String,
    /// Port called.
    pub port: u16,
    /// Whether the port speaks HTTP.
    pub http: bool,
    /// Connections opened.
    pub connections: u64,
    /// Bytes from client to server.
    pub bytes_in: u64,
    /// Bytes from server to client.
    pub bytes_out: u64,
    /// First connection, microseconds since the Unix epoch.
    pub first_us: u64,
    /// Last activity, microseconds since the Unix epoch.
    pub last_us: u64,
}

/// Requests of one (client, server, port, method, path template).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedRequests {
    /// Calling service (or [`TEST_CLIENT`]).
    pub client: String,
    /// Called service.
    pub server: String,
    /// Port called.
    pub port: u16,
    /// HTTP method.
    pub method: String,
    /// Path template (`/orders/{id}`).
    pub path: String,
    /// Requests seen.
    pub count: u64,
    /// Responses by status (0: none came).
    pub statuses: BTreeMap<u16, u64>,
    /// Latency histogram over [`vers_proxy::LATENCY_BOUNDS_US`] (and a last open bucket).
    pub latency_buckets: Vec<u64>,
    /// Longest latency, microseconds.
    pub latency_max_us: u64,
}

/// One call in time order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedCall {
    /// When it started, microseconds since the Unix epoch.
    pub at_us: u64,
    /// Calling service (or [`TEST_CLIENT`]).
    pub client: String,
    /// Called service.
    pub server: String,
    /// Port called.
    pub port: u16,
    /// HTTP method (requests only; absent: a connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path template (requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Response status (requests only; 0: none came).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Latency, microseconds (requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
}

/// Everything observed during one test branch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchTraffic {
    /// Suite name.
    pub suite: String,
    /// Branch name.
    pub branch: String,
    /// When the branch's commands started, microseconds since the Unix epoch (calls before it
    /// are start-up and health checks).
    pub started_us: u64,
    /// Connections, sorted by client, server, port.
    pub connections: Vec<ObservedConnection>,
    /// Requests, sorted by client, server, port, path, method.
    pub requests: Vec<ObservedRequests>,
    /// Calls in time order (the first ones of each proxy).
    pub calls: Vec<ObservedCall>,
    /// Records the proxies had no room for.
    pub dropped: u64,
}

/// The name of the client at `peer`: the service whose pod has that address, else
/// [`TEST_CLIENT`].
pub fn client_name(placements: &[topology::Placement], peer: Option<IpAddr>) -> String {
    match peer.map(|p| p.to_canonical()) {
        Some(IpAddr::V4(v4)) => topology::owner_of(placements, v4)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| TEST_CLIENT.to_string()),
        _ => TEST_CLIENT.to_string(),
    }
}

/// Resolves what the proxies of one environment recorded into service-level traffic.
pub fn resolve(
    manifest: &Manifest,
    suite: &str,
    branch: &str,
    started_us: u64,
    proxies: &[ProxyTraffic],
) -> BranchTraffic {
    let placements = topology::placements(manifest);
    let mut connections: BTreeMap<(String, String, u16), ObservedConnection> = BTreeMap::new();
    let mut requests: BTreeMap<(String, String, u16, String, String), ObservedRequests> =
        BTreeMap::new();
    let mut calls = Vec::new();
    let mut dropped = 0;
    for p in proxies {
        dropped += p.traffic.dropped;
        for c in &p.traffic.connections {
            let client = client_name(&placements, c.peer);
            let e = connections
                .entry((client.clone(), p.service.clone(), p.port))
                .or_insert_with(|| ObservedConnection {
                    client,
                    server: p.service.clone(),
                    port: p.port,
                    http: p.http,
                    first_us: c.first_us,
                    ..ObservedConnection::default()
                });
            e.connections += c.connections;
            e.bytes_in += c.bytes_in;
            e.bytes_out += c.bytes_out;
            e.first_us = e.first_us.min(c.first_us);
            e.last_us = e.last_us.max(c.last_us);
        }
        for r in &p.traffic.requests {
            let client = client_name(&placements, Some(r.peer));
            let key = (
                client.clone(),
                p.service.clone(),
                p.port,
                r.path.clone(),
                r.method.clone(),
            );
            let e = requests.entry(key).or_insert_with(|| ObservedRequests {
                client,
                server: p.service.clone(),
                port: p.port,
                method: r.method.clone(),
                path: r.path.clone(),
                latency_buckets: vec![0; r.latency_buckets.len()],
                ..ObservedRequests::default()
            });
            e.count += r.count;
            for (s, n) in &r.statuses {
                *e.statuses.entry(*s).or_insert(0) += n;
            }
            for (i, n) in r.latency_buckets.iter().enumerate() {
                if let Some(b) = e.latency_buckets.get_mut(i) {
                    *b += n;
                }
            }
            e.latency_max_us = e.latency_max_us.max(r.latency_max_us);
        }
        for c in &p.traffic.calls {
            calls.push(ObservedCall {
                at_us: c.at_us,
                client: client_name(&placements, Some(c.peer)),
                server: p.service.clone(),
                port: p.port,
                method: c.method.clone(),
                path: c.path.clone(),
                status: c.status,
                latency_us: c.latency_us,
            });
        }
    }
    calls.sort_by(|a, b| {
        (a.at_us, &a.client, &a.server, a.port).cmp(&(b.at_us, &b.client, &b.server, b.port))
    });
    BranchTraffic {
        suite: suite.to_string(),
        branch: branch.to_string(),
        started_us,
        connections: connections.into_values().collect(),
        requests: requests.into_values().collect(),
        calls,
        dropped,
    }
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Where every run's directory lives.
pub fn runs_dir(project: &Project) -> PathBuf {
    project.logs_dir().join("runs")
}

/// The traffic file beside a branch's log file.
pub fn traffic_path(log: &Path) -> PathBuf {
    let mut name = log
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_default();
    name.push(TRAFFIC_SUFFIX);
    log.with_file_name(name)
}

/// Fetches what the proxies of environment `env_id` saw and writes it beside the branch's
/// log.
pub async fn record_branch(
    stack: &crate::stack::Stack,
    env_id: &str,
    suite: &str,
    branch: &str,
    started_us: u64,
    log: &Path,
) -> Result<(), EngineError> {
    let proxies = stack.client.traffic(env_id).await?;
    let traffic = resolve(&stack.manifest, suite, branch, started_us, &proxies);
    write_json(&traffic_path(log), &traffic)
}

/// Writes the run's report into its directory.
pub fn save_report(project: &Project, run: &str, report: &TestReport) -> Result<(), EngineError> {
    write_json(&runs_dir(project).join(run).join(REPORT_FILE), report)
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), EngineError> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| EngineError::Failed(format!("encoding {}: {e}", path.display())))?;
    crate::atomic_file::write(path, &bytes)
        .map_err(|e| EngineError::Failed(format!("{}: {e}", path.display())))
}

/// A finished test run: its report and the traffic of each branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunData {
    /// Run id (its directory's name).
    pub id: String,
    /// The run's report.
    pub report: TestReport,
    /// Traffic per branch, sorted by suite and branch.
    pub traffic: Vec<BranchTraffic>,
}

/// The ids of finished runs (those with a report), oldest first.
pub fn list_runs(project: &Project) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(runs_dir(project)) else {
        return Vec::new();
    };
    let mut runs: Vec<(std::time::SystemTime, String)> = entries
        .flatten()
        .filter_map(|e| {
            let report = e.path().join(REPORT_FILE);
            let modified = std::fs::metadata(&report).and_then(|m| m.modified()).ok()?;
            Some((modified, e.file_name().to_string_lossy().into_owned()))
        })
        .collect();
    runs.sort();
    runs.into_iter().map(|(_, id)| id).collect()
}

/// Loads run `id`, or the latest finished run.
pub fn load_run(project: &Project, id: Option<&str>) -> Result<Option<RunData>, EngineError> {
    let id = match id {
        Some(i) => i.to_string(),
        None => match list_runs(project).pop() {
            Some(i) => i,
            None => return Ok(None),
        },
    };
    let dir = runs_dir(project).join(&id);
    let report_path = dir.join(REPORT_FILE);
    let text = std::fs::read_to_string(&report_path).map_err(|e| {
        EngineError::NotFound(format!(
            "test run {id}: {} ({e}); `vers integration test` records runs",
            report_path.display()
        ))
    })?;
    let report: TestReport = serde_json::from_str(&text)
        .map_err(|e| EngineError::Failed(format!("{}: {e}", report_path.display())))?;
    let mut traffic = Vec::new();
    for suite in report.suites.iter() {
        for b in &suite.branches {
            let path = dir
                .join(&suite.name)
                .join(format!("{}{TRAFFIC_SUFFIX}", b.name));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let t: BranchTraffic = serde_json::from_str(&text)
                .map_err(|e| EngineError::Failed(format!("{}: {e}", path.display())))?;
            traffic.push(t);
        }
    }
    traffic.sort_by(|a, b| (&a.suite, &a.branch).cmp(&(&b.suite, &b.branch)));
    Ok(Some(RunData {
        id,
        report,
        traffic,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_file_sits_beside_the_log() {
        assert_eq!(
            traffic_path(Path::new("/p/.vers/logs/runs/1/billing/create.log")),
            PathBuf::from("/p/.vers/logs/runs/1/billing/create.traffic.json")
        );
    }

    #[test]
    fn pod_addresses_name_services_and_others_are_tests() {
        let manifest = vers_manifest::parse_str(
            "name: t\nservices:\n  db:\n    template: postgres@15\n  app:\n    build: .\n    depends_on: [db]\n",
            Path::new("/tmp/vers-integration.yaml"),
        )
        .expect("manifest");
        let placements = topology::placements(&manifest);
        let app_pod = placements[1].backends[0];
        assert_eq!(client_name(&placements, Some(IpAddr::V4(app_pod))), "app");
        assert_eq!(
            client_name(&placements, Some("10.99.0.1".parse().expect("ip"))),
            TEST_CLIENT
        );
        assert_eq!(client_name(&placements, None), TEST_CLIENT);
    }
}
