//! The dashboard's HTML, rendered on the server: the page, and its live part (the checkpoint
//! tree as SVG, the selected environment's services and actions, the test runs) that the
//! page's script re-fetches after each event of the feed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::runs::{self, Run};
use crate::state::State;
use crate::status::{EnvReport, ServiceReport, StatusReport};

/// The page's stylesheet and script, embedded in the binary.
const CSS: &str = include_str!("assets/dashboard.css");
const JS: &str = include_str!("assets/dashboard.js");

/// Column width and row height of the tree picture, in pixels.
const COL: f64 = 150.0;
const ROW: f64 = 44.0;
const NODE_W: f64 = 128.0;
const NODE_H: f64 = 24.0;
const MARGIN: f64 = 12.0;

/// Test runs shown on the page.
const RUNS_SHOWN: usize = 5;

/// What the page shows: the daemon's status report, the checkpoint records, the manifest's
/// suites and the test runs seen.
pub struct Snapshot {
    /// Environments and their services.
    pub report: StatusReport,
    /// Checkpoints and tags.
    pub state: State,
    /// The manifest's test suites.
    pub suites: Vec<String>,
    /// Test runs, newest first.
    pub runs: Vec<Run>,
}

/// The environment shown: the one named `want` (id or name), else HEAD, else the first.
pub fn selected<'a>(s: &'a Snapshot, want: Option<&str>) -> Option<&'a EnvReport> {
    let envs = &s.report.environments;
    want.and_then(|w| envs.iter().find(|e| e.id == w || e.name == w))
        .or_else(|| envs.iter().find(|e| e.head))
        .or_else(|| envs.first())
}

/// The whole page.
pub fn page(s: &Snapshot, want: Option<&str>) -> String {
    let project = s
        .report
        .project
        .rsplit('/')
        .next()
        .unwrap_or(&s.report.project);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>vers · {p}</title><link rel=\"icon\" href=\"data:,\"><style>{CSS}</style></head>\
         <body><header><h1>vers <span class=\"project\">{p}</span></h1>\
         <span id=\"live\" class=\"live\">connecting…</span></header>\
         <main class=\"nolog\"><div id=\"view\">{view}</div>\
         <section id=\"logs\" class=\"logs\" hidden><div class=\"bar\"><h2>Log of \
         <span id=\"logname\"></span></h2><span class=\"grow\"></span>\
         <label><input type=\"checkbox\" id=\"logfollow\" checked> follow</label>\
         <button type=\"button\" id=\"logclose\">Close</button></div>\
         <pre id=\"logtext\" class=\"logtext\"></pre></section></main>\
         <dialog id=\"dialog\"><form method=\"dialog\" id=\"dialogform\"><h2 id=\"dialogtitle\"></h2>\
         <div id=\"dialogbody\"></div><p id=\"dialogerror\" class=\"error\"></p>\
         <div class=\"buttons\"><button type=\"button\" id=\"dialogcancel\">Cancel</button>\
         <button type=\"submit\" id=\"dialogok\">OK</button></div></form></dialog>\
         <div id=\"toast\" class=\"toast\" hidden></div>\
         <script>{JS}</script></body></html>\n",
        p = esc(project),
        view = view(s, want),
    )
}

/// The live part: the tree, the selected environment's services and actions, the test runs,
/// and (for the script) what the action dialogs offer.
pub fn view(s: &Snapshot, want: Option<&str>) -> String {
    let sel = selected(s, want);
    let mut out = String::new();
    let _ = write!(
        out,
        "<section class=\"tree\"><h2>Checkpoint tree <span class=\"hint\">click a branch to \
         show it, a checkpoint to branch from it</span></h2><div class=\"scroll\">{}</div></section>",
        tree_svg(s, sel.map(|e| e.id.as_str()))
    );
    match sel {
        Some(env) => {
            let _ = write!(
                out,
                "<section class=\"services\" data-selected=\"{id}\"><div class=\"bar\"><h2>Services of \
                 <span class=\"envname\">{name}</span> <span class=\"pill {cls}\">{st}</span>{head}</h2>\
                 <span class=\"grow\"></span>{actions}</div><div class=\"tablewrap\">{table}</div></section>",
                id = esc(&env.id),
                name = esc(&env.name),
                cls = state_class(&env.status),
                st = esc(&env.status),
                head = if env.head {
                    " <span class=\"pill head\">HEAD</span>"
                } else {
                    ""
                },
                actions = actions(s, env),
                table = services_table(&env.services),
            );
        }
        None => out.push_str(
            "<section class=\"services\"><h2>Services</h2><p class=\"empty\">No environment \
             yet: <code>vers up</code> starts the root environment.</p></section>",
        ),
    }
    out.push_str(&runs_html(&s.runs));
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"meta\">{}</script>",
        meta(s, sel)
    );
    out
}

/// The buttons of the actions on the selected environment (faults act on HEAD only).
fn actions(s: &Snapshot, env: &EnvReport) -> String {
    let mut a = String::from("<div class=\"actions\">");
    let button = |a: &mut String, action: &str, label: &str, class: &str| {
        let _ = write!(
            a,
            "<button type=\"button\" class=\"{class}\" data-action=\"{action}\">{label}</button>"
        );
    };
    button(&mut a, "branch", "Branch…", "");
    button(&mut a, "commit", "Commit…", "");
    if !env.head {
        button(&mut a, "checkout", "Check out", "");
    }
    if !s.suites.is_empty() {
        button(&mut a, "test", "Run tests…", "");
    }
    if env.head && !env.services.is_empty() {
        button(&mut a, "inject", "Inject fault…", "warn");
        if env.services.iter().any(|x| !x.faults.is_empty()) {
            button(&mut a, "recover", "Recover", "");
        }
    }
    button(&mut a, "delete", "Delete…", "danger");
    a.push_str("</div>");
    a
}

/// What the action dialogs offer, as JSON for the page's script: the selected environment,
/// the checkpoints to branch from, the suites and services.
fn meta(s: &Snapshot, sel: Option<&EnvReport>) -> String {
    let mut cps: Vec<_> = s.state.checkpoints.values().collect();
    cps.sort_by_key(|c| std::cmp::Reverse((c.created, c.id.clone())));
    let checkpoints: Vec<_> = cps
        .iter()
        .map(|c| serde_json::json!({"id": c.id, "name": c.name}))
        .collect();
    let value = serde_json::json!({
        "env": sel.map(|e| serde_json::json!({
            "id": e.id,
            "name": e.name,
            "head": e.head,
            "parent": e.parent_checkpoint,
            "services": e.services.iter().map(|x| &x.name).collect::<Vec<_>>(),
        })),
        "checkpoints": checkpoints,
        "suites": s.suites,
    });
    // Inside <script>: no `<` may close it early.
    value.to_string().replace('<', "\\u003c")
}

fn run_class(status: &str) -> &'static str {
    match status {
        "passed" | "finished" => "ok",
        "failed" | "timeout" | "error" => "bad",
        "running" | "starting" => "warn",
        _ => "idle",
    }
}

fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// The test runs: per suite "x/y branches passed", per branch status, duration and log tail.
fn runs_html(all: &[Run]) -> String {
    let mut out = String::from("<section class=\"runs\"><h2>Test runs</h2>");
    if all.is_empty() {
        out.push_str(
            "<p class=\"empty\">No test run since the dashboard started: <code>vers test</code> \
             or <em>Run tests…</em> shows one here, branch by branch.</p>",
        );
    }
    for run in all.iter().take(RUNS_SHOWN) {
        let outcome = if run.outcome == "finished" {
            match &run.report {
                Some(r) if r.all_passed() => "passed",
                Some(_) => "failed",
                None => "finished",
            }
        } else {
            run.outcome.as_str()
        };
        let took = run
            .ended_ms
            .map(|e| format!(" · {}", human_ms(e.saturating_sub(run.started_ms))))
            .unwrap_or_default();
        let junit = if run.report.is_some() {
            format!(
                " · <a class=\"junit\" data-href=\"/ui/runs/{}/junit.xml\" target=\"_blank\">JUnit</a>",
                esc(&run.id)
            )
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<div class=\"run\" data-run=\"{id}\" data-outcome=\"{outcome}\"><div class=\"runhead\">\
             <span class=\"pill {cls}\">{outcome}</span> <b>{op}</b> <span class=\"dim\">started \
             <time data-ms=\"{at}\"></time>{took}</span>{junit}</div>",
            id = esc(&run.id),
            cls = run_class(outcome),
            op = esc(&run.op),
            at = run.started_ms,
        );
        if let Some(e) = &run.error {
            let _ = write!(out, "<p class=\"error\">{}</p>", esc(e));
        }
        for suite in &run.suites {
            let (passed, total) = suite.tally();
            let done = suite.branches.iter().all(|b| b.duration_ms.is_some());
            let cls = if !done {
                "warn"
            } else if passed == total {
                "ok"
            } else {
                "bad"
            };
            let _ = write!(
                out,
                "<div class=\"suite\" data-suite=\"{name}\"><div class=\"suitehead\"><b>{name}</b> \
                 <span class=\"tally {cls}\">{passed}/{total} branches passed</span></div><table class=\"branches\"><tbody>",
                name = esc(&suite.name),
            );
            for b in &suite.branches {
                let log = match &b.log {
                    Some(path) => {
                        let tail = runs::tail(path);
                        format!(
                            "<details data-key=\"{k}\"><summary>log</summary><pre>{t}</pre></details>",
                            k = esc(&format!("{}/{}/{}", run.id, suite.name, b.name)),
                            t = if tail.is_empty() {
                                "<span class=\"dim\">(empty)</span>".to_string()
                            } else {
                                esc(&tail)
                            },
                        )
                    }
                    None => String::new(),
                };
                let _ = write!(
                    out,
                    "<tr data-branch=\"{n}\" data-status=\"{st}\"><td class=\"st\"><span class=\"pill {cls}\">{st}</span></td>\
                     <td class=\"name\">{n}{msg}</td><td class=\"dur\">{dur}</td><td class=\"log\">{log}</td></tr>",
                    n = esc(&b.name),
                    st = esc(&b.status),
                    cls = run_class(&b.status),
                    msg = b
                        .message
                        .as_deref()
                        .filter(|_| b.status != "passed")
                        .map(|m| format!("<div class=\"dim msg\">{}</div>", esc(m)))
                        .unwrap_or_default(),
                    dur = b.duration_ms.map(human_ms).unwrap_or_else(|| "…".into()),
                );
            }
            out.push_str("</tbody></table></div>");
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
    out
}

fn services_table(services: &[ServiceReport]) -> String {
    let mut t = String::from(
        "<table><thead><tr><th>Service</th><th>Template</th><th>State</th><th>Health</th>\
         <th>Address</th><th>Host endpoint</th><th>Faults</th><th></th></tr></thead><tbody>",
    );
    for svc in services {
        let version = svc
            .engine
            .as_ref()
            .map(|e| format!(" <span class=\"dim\">{}</span>", esc(&e.version)))
            .unwrap_or_default();
        let faults = if svc.faults.is_empty() {
            "<span class=\"dim\">none</span>".to_string()
        } else {
            svc.faults
                .iter()
                .map(|f| format!("<span class=\"pill bad\">{}</span>", esc(f)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = write!(
            t,
            "<tr data-service=\"{n}\"><td class=\"name\">{n}</td><td>{tpl}{version}</td>\
             <td><span class=\"pill {sc}\">{st}</span></td><td><span class=\"pill {hc}\">{h}</span></td>\
             <td><code>{addr}:{port}</code></td><td>{host}</td><td>{faults}</td>\
             <td><button type=\"button\" class=\"small\" data-action=\"logs\" data-service=\"{n}\">Log</button></td></tr>",
            n = esc(&svc.name),
            tpl = esc(&svc.template),
            sc = state_class(&svc.state),
            st = esc(&svc.state),
            hc = health_class(&svc.health),
            h = esc(&svc.health),
            addr = esc(&svc.address),
            port = svc.port,
            host = svc
                .host_endpoint
                .as_deref()
                .map(|h| format!("<code>{}</code>", esc(h)))
                .unwrap_or_else(|| "<span class=\"dim\">—</span>".into()),
        );
    }
    if services.is_empty() {
        t.push_str("<tr><td colspan=\"8\" class=\"empty\">no services</td></tr>");
    }
    t.push_str("</tbody></table>");
    t
}

fn state_class(state: &str) -> &'static str {
    match state {
        "running" => "ok",
        "failed" | "exited" | "crashed" => "bad",
        "paused" | "stopped" => "idle",
        _ => "warn",
    }
}

fn health_class(health: &str) -> &'static str {
    match health {
        "healthy" => "ok",
        "unhealthy" => "bad",
        "starting" => "warn",
        _ => "idle",
    }
}

/// What a node of the tree stands for.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Root,
    Checkpoint,
    Env {
        id: String,
        status: String,
        head: bool,
        selected: bool,
        unhealthy: bool,
        warm: bool,
    },
}

#[derive(Debug, Clone)]
struct Node {
    /// Checkpoint or environment id (empty for the root).
    id: String,
    label: String,
    title: String,
    tags: Vec<String>,
    kind: Kind,
    children: Vec<usize>,
}

/// The tree's nodes: the project's root (index 0), its checkpoints under their parents, and
/// each environment under the checkpoint it was forked from.
fn nodes(s: &Snapshot, selected: Option<&str>) -> Vec<Node> {
    let mut nodes = vec![Node {
        id: String::new(),
        label: "root".into(),
        title: s.report.project.clone(),
        tags: Vec::new(),
        kind: Kind::Root,
        children: Vec::new(),
    }];
    let mut cps: Vec<_> = s.state.checkpoints.values().collect();
    cps.sort_by_key(|c| (c.created, c.id.clone()));
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cps {
        index.insert(c.id.as_str(), nodes.len());
        nodes.push(Node {
            id: c.id.clone(),
            label: c.name.clone(),
            title: format!(
                "checkpoint {} ({}){}",
                c.name,
                c.id,
                c.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            tags: Vec::new(),
            kind: Kind::Checkpoint,
            children: Vec::new(),
        });
    }
    let by_name: BTreeMap<&str, usize> = cps
        .iter()
        .filter_map(|c| index.get(c.id.as_str()).map(|i| (c.name.as_str(), *i)))
        .collect();
    let find = |key: &str| index.get(key).or_else(|| by_name.get(key)).copied();
    for c in &cps {
        let me = index[c.id.as_str()];
        let parent = c
            .parent
            .as_deref()
            .and_then(find)
            .filter(|p| *p != me)
            .unwrap_or(0);
        nodes[parent].children.push(me);
    }
    for (tag, id) in &s.state.tags {
        if let Some(i) = find(id) {
            if nodes[i].label != *tag {
                nodes[i].tags.push(tag.clone());
            }
        }
    }
    for e in &s.report.environments {
        let parent = e.parent_checkpoint.as_deref().and_then(find).unwrap_or(0);
        let unhealthy = e
            .services
            .iter()
            .any(|s| s.health == "unhealthy" || s.state == "failed");
        let me = nodes.len();
        nodes.push(Node {
            id: e.id.clone(),
            label: e.name.clone(),
            title: format!(
                "environment {} ({}), {}{}",
                e.name,
                e.id,
                e.status,
                if e.warm {
                    ", waiting in the warm pool"
                } else {
                    ""
                }
            ),
            tags: Vec::new(),
            kind: Kind::Env {
                id: e.id.clone(),
                status: e.status.clone(),
                head: e.head,
                selected: selected == Some(e.id.as_str()),
                unhealthy,
                warm: e.warm,
            },
            children: Vec::new(),
        });
        nodes[parent].children.push(me);
    }
    nodes
}

/// (column, row) of every node: leaves on successive rows in depth-first order, a parent
/// midway between its first and last child.
fn layout(nodes: &[Node]) -> Vec<(usize, f64)> {
    fn place(
        nodes: &[Node],
        i: usize,
        depth: usize,
        next_row: &mut usize,
        pos: &mut [Option<(usize, f64)>],
    ) -> f64 {
        pos[i] = Some((depth, 0.0));
        let mut rows: Vec<f64> = Vec::new();
        for &k in &nodes[i].children {
            if pos[k].is_none() {
                rows.push(place(nodes, k, depth + 1, next_row, pos));
            }
        }
        let row = match (rows.first(), rows.last()) {
            (Some(a), Some(b)) => (a + b) / 2.0,
            _ => {
                let r = *next_row as f64;
                *next_row += 1;
                r
            }
        };
        pos[i] = Some((depth, row));
        row
    }
    let mut pos = vec![None; nodes.len()];
    let mut next_row = 0;
    if !nodes.is_empty() {
        place(nodes, 0, 0, &mut next_row, &mut pos);
    }
    pos.into_iter().map(|p| p.unwrap_or((0, 0.0))).collect()
}

fn tree_svg(s: &Snapshot, selected: Option<&str>) -> String {
    let nodes = nodes(s, selected);
    let pos = layout(&nodes);
    let cols = pos.iter().map(|p| p.0).max().unwrap_or(0) + 1;
    let rows = pos.iter().map(|p| p.1).fold(0.0_f64, f64::max) + 1.0;
    let width = cols as f64 * COL + MARGIN * 2.0;
    let height = rows * ROW + MARGIN * 2.0;
    let xy = |i: usize| (MARGIN + pos[i].0 as f64 * COL, MARGIN + pos[i].1 * ROW);
    let mut svg = format!(
        "<svg id=\"tree\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"checkpoint tree\">"
    );
    for (i, n) in nodes.iter().enumerate() {
        let (x1, y1) = xy(i);
        for c in &n.children {
            let (x2, y2) = xy(*c);
            let (sx, sy, ex, ey) = (x1 + NODE_W, y1 + NODE_H / 2.0, x2, y2 + NODE_H / 2.0);
            let mx = (sx + ex) / 2.0;
            let _ = write!(
                svg,
                "<path class=\"edge\" d=\"M{sx} {sy} C{mx} {sy} {mx} {ey} {ex} {ey}\"/>"
            );
        }
    }
    for (i, n) in nodes.iter().enumerate() {
        let (x, y) = xy(i);
        let (class, data, head) = match &n.kind {
            Kind::Root => ("node root".to_string(), String::new(), false),
            Kind::Checkpoint => (
                "node checkpoint".to_string(),
                format!(" data-checkpoint=\"{}\"", esc(&n.id)),
                false,
            ),
            Kind::Env {
                id,
                status,
                head,
                selected,
                unhealthy,
                warm,
            } => (
                format!(
                    "node env {}{}{}{}{}",
                    state_class(status),
                    if *head { " head" } else { "" },
                    if *selected { " selected" } else { "" },
                    if *unhealthy { " unhealthy" } else { "" },
                    if *warm { " warm" } else { "" },
                ),
                format!(" data-env=\"{}\" data-status=\"{}\"", esc(id), esc(status)),
                *head,
            ),
        };
        let _ = write!(
            svg,
            "<g class=\"{class}\" transform=\"translate({x} {y})\" data-name=\"{name}\"{data}>\
             <title>{title}</title><rect width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"{r}\"/>\
             <text x=\"10\" y=\"16\">{label}</text>",
            name = esc(&n.label),
            title = esc(&n.title),
            r = if n.kind == Kind::Checkpoint { 4 } else { 12 },
            label = esc(&shorten(&n.label, 17)),
        );
        if head {
            let _ = write!(
                svg,
                "<text class=\"badge\" x=\"{}\" y=\"-3\">HEAD</text>",
                NODE_W - 34.0
            );
        }
        if !n.tags.is_empty() {
            let _ = write!(
                svg,
                "<text class=\"tags\" x=\"10\" y=\"{}\">tag {}</text>",
                NODE_H + 11.0,
                esc(&shorten(&n.tags.join(", "), 20))
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max - 1).collect();
        format!("{head}…")
    }
}

/// `s` escaped for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::CheckpointRecord;

    fn checkpoint(id: &str, name: &str, parent: Option<&str>, created: u64) -> CheckpointRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "parent": parent, "env": "e1", "services": [],
            "message": null, "cache_key": null, "created": created, "manifest_hash": "h",
            "engines": {}, "matrix": {},
        }))
        .unwrap()
    }

    fn env(id: &str, name: &str, parent: Option<&str>, head: bool) -> EnvReport {
        EnvReport {
            id: id.into(),
            name: name.into(),
            head,
            status: "running".into(),
            parent_checkpoint: parent.map(str::to_string),
            warm: name == "pooled",
            deployment: None,
            services: vec![ServiceReport {
                name: "db<x>".into(),
                template: "postgres@15".into(),
                state: "running".into(),
                health: "unhealthy".into(),
                address: "10.0.0.2".into(),
                port: 5432,
                host_endpoint: Some("127.0.0.1:40001".into()),
                host_endpoints: BTreeMap::new(),
                faults: vec!["latency 200ms".into()],
                engine: None,
                reason: None,
                cpu_usec: None,
                memory_bytes: None,
                volume_bytes: None,
            }],
        }
    }

    fn snapshot() -> Snapshot {
        let mut state = State::default();
        state
            .checkpoints
            .insert("c1".into(), checkpoint("c1", "seeded", None, 1));
        state
            .checkpoints
            .insert("c2".into(), checkpoint("c2", "migrated", Some("c1"), 2));
        state.tags.insert("v1".into(), "c2".into());
        Snapshot {
            report: StatusReport {
                environments: vec![
                    env("e1", "root", None, false),
                    env("e2", "feature", Some("c2"), true),
                    env("e3", "other", Some("seeded"), false),
                    env("e4", "pooled", Some("seeded"), false),
                ],
                deployments: Vec::new(),
                snapshotter: "reflink".into(),
                project: "/tmp/shop".into(),
                checkpoints: Vec::new(),
                store: None,
                warnings: Vec::new(),
            },
            state,
            suites: vec!["api".into()],
            runs: Vec::new(),
        }
    }

    #[test]
    fn the_tree_hangs_checkpoints_and_branches_under_their_parents() {
        let s = snapshot();
        let n = nodes(&s, Some("e2"));
        let label = |i: usize| n[i].label.as_str();
        let kids = |i: usize| n[i].children.iter().map(|c| label(*c)).collect::<Vec<_>>();
        assert_eq!(kids(0), vec!["seeded", "root"]);
        let seeded = n.iter().position(|x| x.label == "seeded").unwrap();
        assert_eq!(kids(seeded), vec!["migrated", "other", "pooled"]);
        let migrated = n.iter().position(|x| x.label == "migrated").unwrap();
        assert_eq!(kids(migrated), vec!["feature"]);
        assert_eq!(n[migrated].tags, vec!["v1"]);
        let pos = layout(&n);
        let feature = n.iter().position(|x| x.label == "feature").unwrap();
        assert_eq!(pos[feature].0, 3);
        // Leaves on distinct rows.
        let mut rows: Vec<f64> = n
            .iter()
            .enumerate()
            .filter(|(_, x)| x.children.is_empty())
            .map(|(i, _)| pos[i].1)
            .collect();
        rows.sort_by(f64::total_cmp);
        rows.dedup();
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn the_view_marks_head_and_shows_the_selected_services_escaped() {
        let s = snapshot();
        let html = view(&s, None);
        assert!(html.contains("data-selected=\"e2\""), "{html}");
        assert!(
            html.contains("node env ok head selected unhealthy"),
            "{html}"
        );
        assert!(html.contains(">HEAD</text>"));
        assert!(html.contains("db&lt;x&gt;"));
        assert!(!html.contains("db<x>"));
        assert!(html.contains("127.0.0.1:40001"));
        assert!(html.contains("latency 200ms"));
        assert!(html.contains("tag v1"));
        assert!(html.contains("node env ok unhealthy warm"), "{html}");
        let other = view(&s, Some("other"));
        assert!(other.contains("data-selected=\"e3\""));
        let page = page(&s, None);
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.contains("<title>vers · shop</title>"));
        assert!(page.len() < 200_000);
    }

    #[test]
    fn the_view_shows_runs_actions_and_dialog_data() {
        let mut s = snapshot();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("declined.log");
        std::fs::write(&log, "expected 402, got 500 <b>\n").unwrap();
        let runs = runs::Runs::default();
        runs.apply(
            &serde_json::json!({"type": "operation", "op": "test", "run": "r1",
            "outcome": "started", "at_ms": 1}),
        );
        for (b, status) in [("create", "passed"), ("declined", "failed")] {
            runs.apply(
                &serde_json::json!({"type": "progress", "run": "r1", "at_ms": 2,
                "event": {"kind": "branch", "data": {"suite": "api", "branch": b, "state": {"Finished":
                  {"status": status, "duration": {"secs": 2, "nanos": 0},
                   "log": log.display().to_string()}}}}}),
            );
        }
        runs.apply(
            &serde_json::json!({"type": "progress", "run": "r1", "at_ms": 3,
            "event": {"kind": "branch", "data": {"suite": "web", "branch": "home", "state": "Running"}}}),
        );
        s.runs = runs.list();
        let html = view(&s, None);
        assert!(html.contains("1/2 branches passed"), "{html}");
        assert!(html.contains("0/1 branches passed"), "{html}");
        assert!(
            html.contains("data-branch=\"declined\" data-status=\"failed\""),
            "{html}"
        );
        assert!(html.contains("expected 402, got 500 &lt;b&gt;"), "{html}");
        assert!(html.contains("2.0 s"), "{html}");
        assert!(!html.contains("JUnit"), "no report yet: {html}");
        // HEAD: faults offered; another environment: check out instead.
        assert!(html.contains("data-action=\"inject\""));
        assert!(html.contains("data-action=\"recover\""));
        assert!(!html.contains("data-action=\"checkout\""));
        assert!(view(&s, Some("other")).contains("data-action=\"checkout\""));
        assert!(html.contains("data-checkpoint=\"c2\""));
        let meta = html.split("id=\"meta\">").nth(1).unwrap();
        let meta = meta.split("</script>").next().unwrap();
        let meta: serde_json::Value = serde_json::from_str(meta).unwrap();
        assert_eq!(meta["env"]["id"], "e2");
        assert_eq!(meta["env"]["services"][0], "db<x>");
        assert_eq!(meta["checkpoints"][0]["name"], "migrated");
        assert_eq!(meta["suites"][0], "api");
        assert!(!html.contains("\"db<x>\""), "no raw < inside the script");
    }
}
