//! `vers docs`: integration documentation written from the manifest and from what the
//! proxies saw during a test run, in the shapes teams keep by hand (topology, upstream
//! services per app, key flows as sequence diagrams with an SLA line, failure handling).
//!
//! [`build`] computes the content as data ([`IntegrationDocs`], the `--json` shape);
//! [`render::markdown`] writes it as Markdown with mermaid diagrams. Both are deterministic:
//! services in manifest order, edges and calls sorted, no timestamps in the body.

pub mod render;
pub mod traffic;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use vers_manifest::{FaultSpec, Manifest, Service};

use crate::error::EngineError;
use crate::project::Project;
use traffic::{BranchTraffic, ObservedCall, RunData, TEST_CLIENT};

/// Most steps drawn in one flow's sequence diagram.
pub const MAX_FLOW_STEPS: usize = 40;

/// The documentation of one stack, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationDocs {
    /// Project name.
    pub project: String,
    /// The test run the observations come from (none: manifest only).
    pub run: Option<String>,
    /// Every service, in manifest order.
    pub services: Vec<DocService>,
    /// Edges between services (and from the tests), sorted by from, to.
    pub edges: Vec<DocEdge>,
    /// One entry per app service.
    pub upstreams: Vec<AppUpstreams>,
    /// One flow per test branch of the run.
    pub flows: Vec<Flow>,
    /// Faults of the run (scenarios, `before:` injections) and the manifest's chaos scenarios.
    pub failures: Vec<FailureRow>,
}

/// A service of the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocService {
    /// Service name.
    pub name: String,
    /// `apps`, `data-stores`, `brokers` or `mocks`.
    pub group: String,
    /// Catalog template (`postgres@15`), absent for apps.
    pub template: Option<String>,
    /// How it is reached inside the stack, `name:port` (main port).
    pub endpoint: String,
    /// What it is for.
    pub purpose: String,
    /// Protocol of its main port.
    pub protocol: String,
}

/// An edge of the topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocEdge {
    /// Caller (a service or `tests`).
    pub from: String,
    /// Callee.
    pub to: String,
    /// Declared in the manifest (`depends_on`, `soft_depends_on`).
    pub declared: bool,
    /// `used` (declared and observed), `declared-unused`, `undeclared` (observed only),
    /// `declared` (no run to compare with) or `tests` (calls of the test commands).
    pub state: String,
    /// What was observed, per port.
    pub observed: Vec<EdgeTraffic>,
}

/// Observed traffic of an edge on one port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeTraffic {
    /// Port called.
    pub port: u16,
    /// Protocol (`HTTP`, `PostgreSQL`, ...).
    pub protocol: String,
    /// Connections opened, over every branch.
    pub connections: u64,
    /// HTTP requests, over every branch.
    pub requests: u64,
    /// Bytes from caller to callee.
    pub bytes_in: u64,
    /// Bytes from callee to caller.
    pub bytes_out: u64,
}

/// The upstream services of one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppUpstreams {
    /// The app.
    pub app: String,
    /// Its upstream services: declared and observed, in manifest order.
    pub services: Vec<UpstreamRow>,
    /// Requests it was seen making.
    pub calls: Vec<CallSummary>,
}

/// A row of an app's upstream services table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamRow {
    /// Upstream service.
    pub service: String,
    /// `name:port`.
    pub endpoint: String,
    /// What it is for.
    pub purpose: String,
    /// Declared in `depends_on`.
    pub declared: bool,
    /// Seen being called in the run.
    pub observed: bool,
}

/// Requests of one client to one (server, method, path template), over the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSummary {
    /// Called service.
    pub server: String,
    /// HTTP method, or `connect` for non-HTTP ports.
    pub method: String,
    /// Path template, or the protocol for connections.
    pub path: String,
    /// How many.
    pub count: u64,
    /// Responses by status (0: none came).
    pub statuses: BTreeMap<u16, u64>,
    /// Median latency, microseconds (upper bound of its histogram bucket).
    pub p50_us: Option<u64>,
    /// Longest latency, microseconds.
    pub max_us: Option<u64>,
}

/// One test branch as a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// Suite.
    pub suite: String,
    /// Branch.
    pub branch: String,
    /// What starts it: the command and the branch's environment.
    pub trigger: String,
    /// The branch's description, if any.
    pub description: Option<String>,
    /// passed, failed, timeout, error or skipped.
    pub status: String,
    /// Participants in order of first appearance.
    pub participants: Vec<String>,
    /// Calls after the branch's commands started, in order, consecutive repeats folded.
    pub steps: Vec<FlowStep>,
    /// Calls not drawn beyond [`MAX_FLOW_STEPS`].
    pub more_steps: usize,
    /// Latency of the HTTP requests of the flow.
    pub sla: Option<Sla>,
}

/// One call of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowStep {
    /// Caller.
    pub from: String,
    /// Callee.
    pub to: String,
    /// `GET /orders/{id}` or `connect (PostgreSQL)`.
    pub call: String,
    /// Response status (HTTP only; 0: none came).
    pub status: Option<u16>,
    /// How many times in a row.
    pub times: u64,
}

/// Measured latency of a flow's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sla {
    /// Requests measured.
    pub requests: u64,
    /// Median, microseconds.
    pub p50_us: u64,
    /// Longest, microseconds.
    pub max_us: u64,
}

/// A fault and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRow {
    /// The fault (`kill after 3s for 4s`).
    pub fault: String,
    /// Service it hit.
    pub service: String,
    /// `suite/branch`, or `chaos NAME` for manifest chaos scenarios.
    pub scenario: String,
    /// passed, failed, ..., or `not run` for chaos scenarios outside tests.
    pub outcome: String,
    /// Error responses and unanswered requests seen in the branch, by service.
    pub errors: String,
    /// The scenario's description or expectations.
    pub note: Option<String>,
}

/// Loads run `run` (default: the latest) of `project` and builds its documentation.
pub fn generate(
    project: &Project,
    manifest: &Manifest,
    run: Option<&str>,
) -> Result<IntegrationDocs, EngineError> {
    let data = traffic::load_run(project, run)?;
    Ok(build(manifest, data.as_ref()))
}

/// The group a service is drawn in.
pub fn group_of(service: &Service) -> &'static str {
    let Some(t) = &service.template else {
        return "apps";
    };
    if vers_manifest::templates::template(&t.name).is_some_and(|i| i.builtin) {
        return "mocks";
    }
    match t.name.as_str() {
        "kafka" | "rabbitmq" | "nats" => "brokers",
        "kong" | "traefik" => "apps",
        _ => "data-stores",
    }
}

/// The protocol spoken on `port` of `service`.
pub fn protocol_of(service: Option<&Service>, port: u16, http: bool) -> String {
    if http {
        return "HTTP".into();
    }
    let name = service
        .and_then(|s| s.template.as_ref())
        .map(|t| t.name.as_str())
        .unwrap_or("");
    match (name, port) {
        ("postgres", _) => "PostgreSQL",
        ("mysql" | "mariadb", _) => "MySQL",
        ("mongodb", _) => "MongoDB",
        ("redis", _) => "Redis",
        ("memcached", _) => "Memcached",
        ("kafka", 8081) => "HTTP",
        ("kafka", _) => "Kafka",
        ("nats", _) => "NATS",
        ("rabbitmq", 5672) => "AMQP",
        ("mailhog", 1025) => "SMTP",
        _ => "TCP",
    }
    .into()
}

fn purpose_of(service: &Service) -> String {
    match &service.template {
        Some(t) => vers_manifest::templates::template(&t.name)
            .map(|i| i.description.to_string())
            .unwrap_or_else(|| format!("{t}")),
        None => "Application service (built from source)".into(),
    }
}

fn main_port(service: &Service) -> Option<u16> {
    vers_manifest::standard_ports(service).first().copied()
}

/// Builds the documentation of `manifest` with the observations of `run`.
pub fn build(manifest: &Manifest, run: Option<&RunData>) -> IntegrationDocs {
    let services: Vec<DocService> = manifest
        .services
        .iter()
        .map(|(name, s)| {
            let port = main_port(s);
            let http = port.is_some_and(|p| vers_manifest::http_ports(s).contains(&p));
            DocService {
                name: name.clone(),
                group: group_of(s).into(),
                template: s.template.as_ref().map(|t| t.to_string()),
                endpoint: match port {
                    Some(p) => format!("{name}:{p}"),
                    None => name.clone(),
                },
                purpose: purpose_of(s),
                protocol: port.map_or_else(|| "TCP".into(), |p| protocol_of(Some(s), p, http)),
            }
        })
        .collect();
    let all_traffic: Vec<&BranchTraffic> =
        run.map(|r| r.traffic.iter().collect()).unwrap_or_default();
    let edges = edges(manifest, run.is_some(), &all_traffic);
    let upstreams = manifest
        .services
        .iter()
        .filter(|(_, s)| group_of(s) == "apps" && s.template.is_none())
        .map(|(name, s)| app_upstreams(manifest, name, s, &all_traffic))
        .collect();
    let flows = run.map(|r| flows(manifest, r)).unwrap_or_default();
    let failures = failures(manifest, run);
    IntegrationDocs {
        project: manifest.name.clone(),
        run: run.map(|r| r.id.clone()),
        services,
        edges,
        upstreams,
        flows,
        failures,
    }
}

fn edges(manifest: &Manifest, have_run: bool, traffic: &[&BranchTraffic]) -> Vec<DocEdge> {
    let mut declared: BTreeSet<(String, String)> = BTreeSet::new();
    for (name, s) in &manifest.services {
        for d in s.depends_on.iter().chain(&s.soft_depends_on) {
            if manifest.services.contains_key(d) {
                declared.insert((name.clone(), d.clone()));
            }
        }
    }
    let mut observed: BTreeMap<(String, String), BTreeMap<u16, EdgeTraffic>> = BTreeMap::new();
    for t in traffic {
        for c in &t.connections {
            let svc = manifest.services.get(&c.server);
            let e = observed
                .entry((c.client.clone(), c.server.clone()))
                .or_default()
                .entry(c.port)
                .or_insert_with(|| EdgeTraffic {
                    port: c.port,
                    protocol: protocol_of(svc, c.port, c.http),
                    connections: 0,
                    requests: 0,
                    bytes_in: 0,
                    bytes_out: 0,
                });
            e.connections += c.connections;
            e.bytes_in += c.bytes_in;
            e.bytes_out += c.bytes_out;
        }
        for r in &t.requests {
            if let Some(e) = observed
                .get_mut(&(r.client.clone(), r.server.clone()))
                .and_then(|m| m.get_mut(&r.port))
            {
                e.requests += r.count;
            }
        }
    }
    let keys: BTreeSet<(String, String)> =
        declared.iter().chain(observed.keys()).cloned().collect();
    keys.into_iter()
        .map(|(from, to)| {
            let is_declared = declared.contains(&(from.clone(), to.clone()));
            let seen: Vec<EdgeTraffic> = observed
                .get(&(from.clone(), to.clone()))
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default();
            let state = match (is_declared, !seen.is_empty()) {
                _ if from == TEST_CLIENT => "tests",
                (true, true) => "used",
                (true, false) if have_run => "declared-unused",
                (true, false) => "declared",
                (false, _) => "undeclared",
            };
            DocEdge {
                from,
                to,
                declared: is_declared,
                state: state.into(),
                observed: seen,
            }
        })
        .collect()
}

fn app_upstreams(
    manifest: &Manifest,
    app: &str,
    service: &Service,
    traffic: &[&BranchTraffic],
) -> AppUpstreams {
    let declared: BTreeSet<&String> = service
        .depends_on
        .iter()
        .chain(&service.soft_depends_on)
        .collect();
    let called: BTreeSet<&String> = traffic
        .iter()
        .flat_map(|t| &t.connections)
        .filter(|c| c.client == app)
        .map(|c| &c.server)
        .collect();
    let services = manifest
        .services
        .iter()
        .filter(|(n, _)| declared.contains(n) || called.contains(n))
        .map(|(n, s)| UpstreamRow {
            service: n.clone(),
            endpoint: main_port(s).map_or_else(|| n.clone(), |p| format!("{n}:{p}")),
            purpose: purpose_of(s),
            declared: declared.contains(n),
            observed: called.contains(n),
        })
        .collect();
    AppUpstreams {
        app: app.to_string(),
        services,
        calls: call_summaries(manifest, app, traffic),
    }
}

fn call_summaries(
    manifest: &Manifest,
    client: &str,
    traffic: &[&BranchTraffic],
) -> Vec<CallSummary> {
    let mut by_key: BTreeMap<(String, String, String), (CallSummary, Vec<u64>)> = BTreeMap::new();
    for t in traffic {
        for r in t.requests.iter().filter(|r| r.client == client) {
            let key = (r.server.clone(), r.path.clone(), r.method.clone());
            let (e, buckets) = by_key.entry(key).or_insert_with(|| {
                (
                    CallSummary {
                        server: r.server.clone(),
                        method: r.method.clone(),
                        path: r.path.clone(),
                        count: 0,
                        statuses: BTreeMap::new(),
                        p50_us: None,
                        max_us: None,
                    },
                    vec![0; r.latency_buckets.len()],
                )
            });
            e.count += r.count;
            for (s, n) in &r.statuses {
                *e.statuses.entry(*s).or_insert(0) += n;
            }
            for (i, n) in r.latency_buckets.iter().enumerate() {
                if let Some(b) = buckets.get_mut(i) {
                    *b += n;
                }
            }
            e.max_us = Some(e.max_us.unwrap_or(0).max(r.latency_max_us));
        }
        for c in t
            .connections
            .iter()
            .filter(|c| c.client == client && !c.http)
        {
            let protocol = protocol_of(manifest.services.get(&c.server), c.port, false);
            let key = (c.server.clone(), protocol.clone(), "connect".to_string());
            let (e, _) = by_key.entry(key).or_insert_with(|| {
                (
                    CallSummary {
                        server: c.server.clone(),
                        method: "connect".into(),
                        path: protocol,
                        count: 0,
                        statuses: BTreeMap::new(),
                        p50_us: None,
                        max_us: None,
                    },
                    Vec::new(),
                )
            });
            e.count += c.connections;
        }
    }
    by_key
        .into_values()
        .map(|(mut s, buckets)| {
            s.p50_us = histogram_p50(&buckets);
            s
        })
        .collect()
}

/// The upper bound of the bucket holding the median (the last bound for the open bucket).
fn histogram_p50(buckets: &[u64]) -> Option<u64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let half = total.div_ceil(2);
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= half {
            let bounds = &vers_proxy::LATENCY_BOUNDS_US;
            return Some(bounds.get(i).copied().unwrap_or(bounds[bounds.len() - 1]));
        }
    }
    None
}

/// Position of a branch in the manifest: suite order, then declared branches, then scenarios.
fn branch_rank(manifest: &Manifest, suite: &str, branch: &str) -> (usize, usize) {
    let Some(si) = manifest.tests.get_index_of(suite) else {
        return (usize::MAX, usize::MAX);
    };
    let s = &manifest.tests[si];
    let bi = s
        .branches
        .iter()
        .position(|b| b.name == branch)
        .or_else(|| {
            s.scenarios
                .iter()
                .position(|c| c.name == branch)
                .map(|i| s.branches.len() + i)
        })
        .unwrap_or(usize::MAX);
    (si, bi)
}

fn flows(manifest: &Manifest, run: &RunData) -> Vec<Flow> {
    let mut out = Vec::new();
    for suite in &run.report.suites {
        let def = manifest.tests.get(&suite.name);
        for b in &suite.branches {
            let decl = def.and_then(|d| d.branches.iter().find(|x| x.name == b.name));
            let scenario = def.and_then(|d| d.scenarios.iter().find(|x| x.name == b.name));
            let command = decl
                .and_then(|d| d.command.clone())
                .or_else(|| def.and_then(|d| d.command.clone()))
                .unwrap_or_default();
            let mut trigger = if command.is_empty() {
                format!("suite `{}`", suite.name)
            } else {
                format!("`{command}` (suite `{}`)", suite.name)
            };
            if !b.env.is_empty() {
                let env: Vec<String> = b.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                trigger.push_str(&format!(" with `{}`", env.join(" ")));
            }
            if let Some(sc) = scenario {
                trigger.push_str(&format!(" under fault: {}", fault_text(&sc.inject)));
            }
            let description = decl
                .and_then(|d| d.description.clone())
                .or_else(|| scenario.and_then(|s| s.description.clone()));
            let traffic = run
                .traffic
                .iter()
                .find(|t| t.suite == suite.name && t.branch == b.name);
            let (participants, steps, more_steps, sla) = match traffic {
                Some(t) => flow_steps(manifest, t),
                None => (Vec::new(), Vec::new(), 0, None),
            };
            out.push(Flow {
                suite: suite.name.clone(),
                branch: b.name.clone(),
                trigger,
                description,
                status: b.status.clone(),
                participants,
                steps,
                more_steps,
                sla,
            });
        }
    }
    out.sort_by(|a, b| {
        (
            branch_rank(manifest, &a.suite, &a.branch),
            &a.suite,
            &a.branch,
        )
            .cmp(&(
                branch_rank(manifest, &b.suite, &b.branch),
                &b.suite,
                &b.branch,
            ))
    });
    out
}

fn call_label(manifest: &Manifest, c: &ObservedCall) -> String {
    match (&c.method, &c.path) {
        (Some(m), Some(p)) => format!("{m} {p}"),
        _ => format!(
            "connect ({})",
            protocol_of(manifest.services.get(&c.server), c.port, false)
        ),
    }
}

type FlowParts = (Vec<String>, Vec<FlowStep>, usize, Option<Sla>);

fn flow_steps(manifest: &Manifest, t: &BranchTraffic) -> FlowParts {
    let calls: Vec<&ObservedCall> = t.calls.iter().filter(|c| c.at_us >= t.started_us).collect();
    let mut participants: Vec<String> = Vec::new();
    let mut steps: Vec<FlowStep> = Vec::new();
    let mut latencies: Vec<u64> = Vec::new();
    for c in &calls {
        if let Some(l) = c.latency_us {
            latencies.push(l);
        }
        let call = call_label(manifest, c);
        if let Some(last) = steps.last_mut() {
            if last.from == c.client
                && last.to == c.server
                && last.call == call
                && last.status == c.status
            {
                last.times += 1;
                continue;
            }
        }
        steps.push(FlowStep {
            from: c.client.clone(),
            to: c.server.clone(),
            call,
            status: c.status,
            times: 1,
        });
    }
    let more = steps.len().saturating_sub(MAX_FLOW_STEPS);
    steps.truncate(MAX_FLOW_STEPS);
    for s in &steps {
        for p in [&s.from, &s.to] {
            if !participants.contains(p) {
                participants.push(p.clone());
            }
        }
    }
    latencies.sort_unstable();
    let sla = (!latencies.is_empty()).then(|| Sla {
        requests: latencies.len() as u64,
        p50_us: latencies[(latencies.len() - 1) / 2],
        max_us: latencies[latencies.len() - 1],
    });
    (participants, steps, more, sla)
}

/// A fault in words: `kill after 3s for 4s`, `network-delay 500ms`.
pub fn fault_text(f: &FaultSpec) -> String {
    let mut s = f.action.as_str().to_string();
    if let Some(l) = f.latency {
        s.push_str(&format!(" {}", human_duration(l)));
    }
    if let Some(j) = f.jitter {
        s.push_str(&format!(" ±{}", human_duration(j)));
    }
    if let Some(l) = f.loss {
        s.push_str(&format!(" {l}%"));
    }
    if let Some(r) = f.rate {
        s.push_str(&format!(" {r} KB/s"));
    }
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(f) {
        if let Some(st) = m.get("status").and_then(|v| v.as_u64()) {
            s.push_str(&format!(" {st}"));
        }
        if let Some(p) = m.get("percent").and_then(|v| v.as_f64()) {
            s.push_str(&format!(" {p}%"));
        }
    }
    if let Some(a) = f.after {
        s.push_str(&format!(" after {}", human_duration(a)));
    }
    if let Some(d) = f.duration {
        s.push_str(&format!(" for {}", human_duration(d)));
    }
    s
}

fn human_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The service and fault text of a `vers chaos inject ...` hook command.
pub fn parse_inject(command: &str) -> Option<(String, String)> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let at = words.windows(2).position(|w| w == ["chaos", "inject"])?;
    let mut service = None;
    let mut action = None;
    let mut extra = Vec::new();
    let mut i = at + 2;
    while i < words.len() {
        let (key, value) = match words[i].split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (words[i], words.get(i + 1).map(|v| v.to_string())),
        };
        let consumed = if words[i].contains('=') { 1 } else { 2 };
        match key {
            "--service" | "-s" => service = value,
            "--action" | "-a" => action = value,
            k if k.starts_with("--") => {
                if let Some(v) = value {
                    extra.push(format!("{} {v}", k.trim_start_matches("--")));
                }
            }
            "&&" | ";" | "|" => break,
            _ => {
                i += 1;
                continue;
            }
        }
        i += consumed;
    }
    let mut text = action?;
    for e in extra {
        text.push_str(&format!(", {e}"));
    }
    Some((service?, text))
}

fn errors_seen(t: Option<&BranchTraffic>) -> String {
    let Some(t) = t else {
        return "no traffic recorded".into();
    };
    let mut by: BTreeMap<(String, u16), u64> = BTreeMap::new();
    for r in t.requests.iter() {
        for (s, n) in &r.statuses {
            if *s >= 500 || *s == 0 || *s == 429 {
                *by.entry((r.server.clone(), *s)).or_insert(0) += n;
            }
        }
    }
    if by.is_empty() {
        return "none".into();
    }
    by.into_iter()
        .map(|((svc, s), n)| {
            if s == 0 {
                format!("{svc}: {n}× no response")
            } else {
                format!("{svc}: {n}× {s}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn failures(manifest: &Manifest, run: Option<&RunData>) -> Vec<FailureRow> {
    let mut rows = Vec::new();
    if let Some(run) = run {
        for suite in &run.report.suites {
            let def = manifest.tests.get(&suite.name);
            for b in &suite.branches {
                let t = run
                    .traffic
                    .iter()
                    .find(|t| t.suite == suite.name && t.branch == b.name);
                let scenario = format!("{}/{}", suite.name, b.name);
                if let Some(sc) = &b.scenario {
                    let desc = def
                        .and_then(|d| d.scenarios.iter().find(|x| x.name == b.name))
                        .and_then(|x| x.description.clone());
                    let note = desc.or_else(|| {
                        (!sc.expect.is_empty()).then(|| format!("expects {}", sc.expect.join(", ")))
                    });
                    rows.push(FailureRow {
                        fault: fault_text(&sc.inject),
                        service: sc.inject.service.clone(),
                        scenario: scenario.clone(),
                        outcome: b.status.clone(),
                        errors: errors_seen(t),
                        note,
                    });
                }
                let decl = def.and_then(|d| d.branches.iter().find(|x| x.name == b.name));
                for hook in decl.map(|d| d.before.as_slice()).unwrap_or_default() {
                    if let Some((service, fault)) = parse_inject(hook) {
                        rows.push(FailureRow {
                            fault,
                            service,
                            scenario: scenario.clone(),
                            outcome: b.status.clone(),
                            errors: errors_seen(t),
                            note: decl.and_then(|d| d.description.clone()),
                        });
                    }
                }
            }
        }
    }
    rows.sort_by(|a, b| {
        let ra = a
            .scenario
            .split_once('/')
            .map(|(s, b)| branch_rank(manifest, s, b));
        let rb = b
            .scenario
            .split_once('/')
            .map(|(s, b)| branch_rank(manifest, s, b));
        (ra, &a.scenario, &a.fault).cmp(&(rb, &b.scenario, &b.fault))
    });
    if let Some(chaos) = &manifest.chaos {
        for sc in &chaos.scenarios {
            rows.push(FailureRow {
                fault: fault_text(&sc.inject),
                service: sc.inject.service.clone(),
                scenario: format!("chaos {}", sc.name),
                outcome: "not run by tests (`vers chaos run`)".into(),
                errors: "—".into(),
                note: sc.description.clone(),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inject_hooks_are_read() {
        assert_eq!(
            parse_inject(
                "vers chaos inject --service postgres --action network-delay --latency 500ms"
            ),
            Some(("postgres".into(), "network-delay, latency 500ms".into()))
        );
        assert_eq!(
            parse_inject("vers chaos inject --service=redis --action=pause"),
            Some(("redis".into(), "pause".into()))
        );
        assert_eq!(parse_inject("npm run seed"), None);
    }

    #[test]
    fn median_bucket() {
        let mut b = vec![0; vers_proxy::LATENCY_BOUNDS_US.len() + 1];
        b[2] = 3;
        b[5] = 1;
        assert_eq!(histogram_p50(&b), Some(1_000));
        assert_eq!(histogram_p50(&[0, 0]), None);
    }
}
