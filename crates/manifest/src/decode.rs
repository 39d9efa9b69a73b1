//! Decodes the YAML tree into the typed [`Manifest`], checking every key and value and
//! remembering where references appear so that [`crate::validate`] can check them.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::config;
use crate::ctx::{suggestion_help, Ctx};
use crate::diagnostic::{cut, quote};
use crate::model::*;
use crate::read::{self, describe, Fields};
use crate::scenario;
use crate::selector::AfterSelector;
use crate::templates::{self, all_templates};
use crate::yaml::{Node, NodeKind, Pos};

/// Deploy targets accepted.
pub const DEPLOY_TARGETS: &[&str] = &["vers.sh/hosted", "local"];

const TOP_KEYS: &[&str] = &[
    "name",
    "version",
    "vm",
    "services",
    "tests",
    "checkpoints",
    "matrix",
    "deploy",
    "chaos",
    "monitoring",
    "pass_env",
];
const SERVICE_KEYS: &[&str] = &[
    "template",
    "build",
    "command",
    "config",
    "env",
    "depends_on",
    "soft_depends_on",
    "healthcheck",
    "replicas",
    "resources",
    "ports",
];
const SUITE_KEYS: &[&str] = &[
    "command",
    "branches",
    "depends_on",
    "checkpoint",
    "setup",
    "env",
    "timeout",
    "parallel",
    "run_first",
    "scenarios",
];
const BRANCH_KEYS: &[&str] = &[
    "name",
    "env",
    "description",
    "before",
    "after",
    "command",
    "from",
    "expect",
];

const CHECKPOINT_KEYS: &[&str] = &["name", "after", "description", "inputs", "warm"];
const VM_KEYS: &[&str] = &["memory_mib", "vcpu", "storage_mib"];
const HEALTHCHECK_KEYS: &[&str] = &[
    "command",
    "path",
    "interval",
    "timeout",
    "retries",
    "start_period",
];
const RESOURCE_KEYS: &[&str] = &["memory", "cpu", "storage"];
const DEPLOY_KEYS: &[&str] = &["target", "domain", "scaling", "env"];

/// What a recorded reference must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// A service (`depends_on` of a service, chaos targets).
    Service,
    /// A service or a suite (`depends_on` of a suite).
    ServiceOrSuite,
}

/// Positions of things checked after decoding.
#[derive(Debug, Default)]
pub struct Index {
    /// Position of each service's key.
    pub service_pos: IndexMap<String, Pos>,
    /// Position of each suite's key.
    pub suite_pos: IndexMap<String, Pos>,
    /// Names that must resolve: position, name, what it must be, and who refers.
    pub refs: Vec<(Pos, String, RefKind, String)>,
    /// Position of each checkpoint's `after` value (parallel to `Manifest::checkpoints`).
    pub after_pos: Vec<Pos>,
    /// Position of each matrix key and of each of its values.
    pub matrix_pos: IndexMap<String, (Pos, Vec<Pos>)>,
    /// Every decoded fault, for [`crate::validate`] to check against the whole manifest.
    pub faults: Vec<FaultAt>,
    /// Position of each service's `build` value.
    pub build_pos: IndexMap<String, Pos>,
}

/// Where a decoded fault is, so that its errors point at the right key.
#[derive(Debug, Clone)]
pub struct FaultAt {
    /// The suite of a test scenario; `None` for `chaos.scenarios[]`.
    pub suite: Option<String>,
    /// Index of the scenario in its list.
    pub index: usize,
    /// Says which scenario, for messages (`scenario `x` of suite `y``).
    pub what: String,
    /// Position of the fault's mapping.
    pub pos: Pos,
    /// Position of each key's value.
    pub keys: IndexMap<&'static str, Pos>,
    /// Position of each item of `from`.
    pub from: Vec<Pos>,
}

/// Decodes the root node. Returns the manifest even when errors were recorded.
pub fn decode(cx: &mut Ctx, root: &Node, path: &Path) -> (Manifest, Index) {
    let mut m = Manifest::empty(path);
    let mut ix = Index::default();
    // Compose's extension fields: top-level `x-…` keys hold anchors to reuse and are skipped.
    let root = &match &root.kind {
        NodeKind::Map(entries) => Node {
            pos: root.pos,
            kind: NodeKind::Map(
                entries
                    .iter()
                    .filter(|(k, _)| !k.scalar().is_some_and(|k| k.starts_with("x-")))
                    .cloned()
                    .collect(),
            ),
        },
        _ => root.clone(),
    };
    let Some(top) = read::fields(cx, root, Some(TOP_KEYS), "the manifest") else {
        return (m, ix);
    };
    if let Some(n) = top.require(cx, "name", "the manifest") {
        if let Some(name) = read::string(cx, n, "`name`") {
            if name.trim().is_empty() {
                cx.err(n.pos, "`name` must not be empty");
            }
            m.name = name;
        }
    }
    m.version = top
        .get("version")
        .and_then(|n| read::string(cx, n, "`version`"));
    m.vm = top.get("vm").and_then(|n| decode_vm(cx, n));
    if let Some(n) = top.get("services") {
        decode_services(cx, n, &mut m, &mut ix);
    }
    if let Some(n) = top.get("tests") {
        decode_tests(cx, n, &mut m, &mut ix);
    }
    if let Some(n) = top.get("checkpoints") {
        decode_checkpoints(cx, n, &mut m, &mut ix);
    }
    if let Some(n) = top.get("matrix") {
        decode_matrix(cx, n, &mut m, &mut ix);
    }
    if let Some(n) = top.get("deploy") {
        m.deploy = decode_deploy(cx, n);
    }
    if let Some(n) = top.get("chaos") {
        m.chaos = decode_chaos(cx, n, &mut ix);
    }
    if let Some(n) = top.get("monitoring") {
        if matches!(n.kind, NodeKind::Map(_)) {
            read::fields(cx, n, None, "`monitoring`");
            m.monitoring = Some(n.to_json());
        } else {
            cx.err(
                n.pos,
                format!("`monitoring` must be a mapping, found {}", n.type_name()),
            );
        }
    }
    if let Some(n) = top.get("pass_env") {
        for (name, node) in read::string_list(cx, n, "`pass_env`") {
            if read::valid_env_name(&name) {
                m.pass_env.push(name);
            } else {
                cx.err_help(
                    node.pos,
                    format!(
                        "invalid environment variable name {} in `pass_env`",
                        quote(&name)
                    ),
                    "use letters, digits and _ (not starting with a digit)",
                );
            }
        }
    }
    (m, ix)
}

fn decode_vm(cx: &mut Ctx, node: &Node) -> Option<Vm> {
    let f = read::fields(cx, node, Some(VM_KEYS), "`vm`")?;
    let vm = Vm {
        memory_mib: f
            .get("memory_mib")
            .and_then(|n| read::uint(cx, n, "`vm.memory_mib`")),
        vcpu: f.get("vcpu").and_then(|n| read::uint32(cx, n, "`vm.vcpu`")),
        storage_mib: f
            .get("storage_mib")
            .and_then(|n| read::uint(cx, n, "`vm.storage_mib`")),
    };
    for (key, value) in [
        ("memory_mib", vm.memory_mib),
        ("vcpu", vm.vcpu.map(u64::from)),
        ("storage_mib", vm.storage_mib),
    ] {
        if value == Some(0) {
            if let Some(n) = f.get(key) {
                cx.err(n.pos, format!("`vm.{key}` must be greater than 0"));
            }
        }
    }
    Some(vm)
}

/// Records an error unless `name` follows [`crate::names::check_name`]; `kind` says what
/// it names (`service`, `suite`…).
pub fn check_name_at(cx: &mut Ctx, pos: Pos, kind: &str, name: &str) -> bool {
    match crate::names::check_name(name) {
        Ok(()) => true,
        Err(why) => {
            cx.err_help(
                pos,
                format!("invalid {kind} name {}: {why}", quote(name)),
                format!(
                    "{kind} names become host and file names: {}",
                    crate::names::NAME_RULE
                ),
            );
            false
        }
    }
}

fn decode_services(cx: &mut Ctx, node: &Node, m: &mut Manifest, ix: &mut Index) {
    let Some(f) = read::fields(cx, node, None, "`services`") else {
        return;
    };
    for (name, key, value) in f.iter() {
        check_name_at(cx, key.pos, "service", name);
        ix.service_pos.insert(name.to_string(), key.pos);
        let svc = decode_service(cx, name, key, value, ix);
        m.services.insert(name.to_string(), svc);
    }
}

fn decode_service(cx: &mut Ctx, name: &str, key: &Node, node: &Node, ix: &mut Index) -> Service {
    let mut svc = Service {
        line: key.pos.line,
        ..Service::default()
    };
    let what = format!("service {}", quote(name));
    let Some(f) = read::fields(cx, node, Some(SERVICE_KEYS), &what) else {
        return svc;
    };
    if let Some(n) = f.get("template") {
        svc.template = decode_template_ref(cx, n, &what);
    }
    if let Some(n) = f.get("build") {
        svc.build = decode_build(cx, n, &what);
        ix.build_pos.insert(name.to_string(), n.pos);
    }
    if let Some(n) = f.get("command") {
        let cw = format!("`command` of {what}");
        svc.command = match &n.kind {
            // Compose's exec form: `command: ["python3", "app.py", "--port", "8000"]`.
            NodeKind::Seq(_) => {
                let parts: Vec<String> = read::string_list(cx, n, &cw)
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect();
                if parts.is_empty() {
                    cx.err_help(
                        n.pos,
                        format!("{cw} is an empty list"),
                        "write the command as a string or a list of its words",
                    );
                    None
                } else {
                    let joined = exec_form(&parts);
                    read::check_interp(cx, n, &joined, &cw);
                    Some(joined)
                }
            }
            _ => read::template_string(cx, n, &cw),
        };
    }
    if let Some(n) = f.get("config") {
        svc.config = n.to_json();
        match svc
            .template
            .as_ref()
            .and_then(|t| templates::template(&t.name))
        {
            Some(info) => {
                config::check(cx, n, info.config, &format!("`config` of {what}"));
                if info.name == "kong" {
                    for (pos, target, key) in config::kong_service_refs(n) {
                        ix.refs.push((
                            pos,
                            target,
                            RefKind::Service,
                            format!("`{key}` of {what} (a route's service is a service of the manifest or an entry of `config.services`)"),
                        ));
                    }
                }
            }
            None if f.get("template").is_none() => cx.err_help(
                n.pos,
                format!("{what} has `config` but no `template`"),
                "config configures a catalog template; pass settings to an app through `env`",
            ),
            None => {}
        }
    }
    if let Some(n) = f.get("env") {
        svc.env = read::env_map(cx, n, &format!("`env` of {what}"));
    }
    // Compose's long form: `depends_on: {db: {condition: service_healthy}}`; an entry with
    // `required: false` is a soft dependency.
    let mut long_soft: Vec<(String, &Node)> = Vec::new();
    for (key, kind) in [("depends_on", 0), ("soft_depends_on", 1)] {
        let Some(n) = f.get(key) else { continue };
        let mut list: Vec<String> = Vec::new();
        let mut entries = match &n.kind {
            NodeKind::Map(_) if kind == 0 => {
                let (hard, soft) = depends_on_long_form(cx, n, &what);
                long_soft = soft;
                hard
            }
            _ => read::string_list(cx, n, &format!("`{key}` of {what}")),
        };
        if kind == 1 {
            entries.splice(0..0, std::mem::take(&mut long_soft));
        }
        for (dep, dn) in entries {
            if list.contains(&dep) {
                cx.err(
                    dn.pos,
                    format!("{} is listed twice in `{key}` of {what}", quote(&dep)),
                );
                continue;
            }
            ix.refs.push((
                dn.pos,
                dep.clone(),
                RefKind::Service,
                format!("`{key}` of {what}"),
            ));
            list.push(dep);
        }
        if kind == 0 {
            svc.depends_on = list;
        } else {
            svc.soft_depends_on = list;
        }
    }
    for (dep, dn) in long_soft {
        ix.refs.push((
            dn.pos,
            dep.clone(),
            RefKind::Service,
            format!("`depends_on` of {what}"),
        ));
        svc.soft_depends_on.push(dep);
    }
    for dep in &svc.depends_on {
        if svc.soft_depends_on.contains(dep) {
            if let Some(n) = f.get("soft_depends_on") {
                cx.err(
                    n.pos,
                    format!(
                        "{what} lists {} in both depends_on and soft_depends_on",
                        quote(dep)
                    ),
                );
            }
        }
    }
    if let Some(n) = f.get("healthcheck") {
        svc.healthcheck = decode_healthcheck(cx, n, &what);
    }
    if let Some(n) = f.get("replicas") {
        if let Some(r) = read::uint32(cx, n, &format!("`replicas` of {what}")) {
            if r == 0 {
                cx.err(n.pos, format!("`replicas` of {what} must be at least 1"));
            } else if r > 64 {
                cx.err(
                    n.pos,
                    format!("`replicas` of {what} is {r}; at most 64 are supported"),
                );
            }
            svc.replicas = r.max(1);
        }
    }
    if let Some(n) = f.get("resources") {
        svc.resources = decode_resources(cx, n, &what);
    }
    if let Some(n) = f.get("ports") {
        svc.ports = crate::ports::decode(cx, n, &what);
    }
    let declared = ["template", "build", "command"]
        .iter()
        .any(|k| f.get(k).is_some());
    if !declared {
        cx.err_help(
            key.pos,
            format!("{what} has neither `template`, `build` nor `command`"),
            "use `template: postgres@15` for a catalog service, or `build: .` / `command: …` for your app",
        );
    }
    if let (Some(t), Some(n)) = (&svc.template, f.get("replicas")) {
        if svc.replicas > 1 {
            // Every instance of a template service would run on the service's one data
            // directory: two brokers or databases on the same files fail (or corrupt them).
            cx.err_help(
                n.pos,
                format!(
                    "`replicas` of {what} is {}, but replicas are for apps: the instances of a `{}` service would share its one data directory",
                    svc.replicas, t.name
                ),
                format!(
                    "remove `replicas` (or set it to 1); for several independent {} servers declare one service each ({name}-1, {name}-2, ...)",
                    t.name
                ),
            );
        }
    }
    if svc.template.is_some() && svc.build.is_some() {
        if let Some(n) = f.get("build") {
            cx.err(
                n.pos,
                format!("{what} has both `template` and `build`; use one"),
            );
        }
    }
    svc
}

/// Reads and checks `template: name[@version]` against the catalog.
fn decode_template_ref(cx: &mut Ctx, node: &Node, what: &str) -> Option<TemplateRef> {
    let text = read::string(cx, node, &format!("`template` of {what}"))?;
    let t = TemplateRef::parse(&text);
    let Some(info) = templates::template(&t.name) else {
        let names: Vec<&str> = all_templates().iter().map(|t| t.name).collect();
        let help = match crate::ctx::suggest(&t.name, names.iter().copied()) {
            Some(s) => format!("did you mean {}? templates: {}", quote(s), names.join(", ")),
            None => format!("templates: {}", names.join(", ")),
        };
        cx.err_help(
            node.pos,
            format!("unknown template {} in {what}", quote(&t.name)),
            help,
        );
        return None;
    };
    if let Some(v) = &t.version {
        if !info.is_versioned() {
            cx.err_help(
                node.pos,
                format!(
                    "template `{}` is unversioned, but {what} asks for version {}",
                    info.name,
                    quote(v)
                ),
                format!("write `template: {}`", info.name),
            );
        } else if !info.supports(v) {
            cx.err_help(
                node.pos,
                format!(
                    "unsupported version {} of `{}` in {what}",
                    quote(v),
                    info.name
                ),
                format!("supported versions: {}", info.versions.join(", ")),
            );
        }
    }
    Some(t)
}

fn decode_build(cx: &mut Ctx, node: &Node, what: &str) -> Option<Build> {
    let ctx_what = format!("`build` of {what}");
    if let NodeKind::Scalar { .. } = node.kind {
        let s = read::string(cx, node, &ctx_what)?;
        return Some(Build {
            context: PathBuf::from(s),
            command: None,
        });
    }
    let f = read::fields(cx, node, Some(&["context", "command"]), &ctx_what)?;
    let context = f
        .get("context")
        .and_then(|n| read::string(cx, n, &format!("`build.context` of {what}")))
        .unwrap_or_else(|| ".".to_string());
    let command = f
        .get("command")
        .and_then(|n| read::template_string(cx, n, &format!("`build.command` of {what}")));
    Some(Build {
        context: PathBuf::from(context),
        command,
    })
}

/// The hard and the soft (`required: false`) dependencies of a `depends_on` mapping
/// (Compose's long form), each with the node of its name.
#[allow(clippy::type_complexity)]
fn depends_on_long_form<'n>(
    cx: &mut Ctx,
    node: &'n Node,
    what: &str,
) -> (Vec<(String, &'n Node)>, Vec<(String, &'n Node)>) {
    let dw = format!("`depends_on` of {what}");
    let (mut hard, mut soft) = (Vec::new(), Vec::new());
    let NodeKind::Map(entries) = &node.kind else {
        return (hard, soft);
    };
    for (k, v) in entries {
        let Some(dep) = read::string(cx, k, &format!("a key of {dw}")) else {
            continue;
        };
        let ew = format!("{dw}, entry {}", quote(&dep));
        let mut required = true;
        if let Some(f) = read::fields(cx, v, Some(&["condition", "required", "restart"]), &ew) {
            if let Some(c) = f.get("condition") {
                match read::string(cx, c, &format!("`condition` of {ew}")).as_deref() {
                    Some("service_started" | "service_healthy") | None => {}
                    Some("service_completed_successfully") => cx.err_help(
                        c.pos,
                        format!("{ew}: `condition: service_completed_successfully` is not supported"),
                        "run a one-off job as a checkpoint (`checkpoints: [{name: migrated, after: scripts/migrate.sh}]`) or a suite's `setup`",
                    ),
                    Some(other) => cx.err_help(
                        c.pos,
                        format!("unknown `condition` {} in {ew}", quote(other)),
                        "use service_healthy or service_started (vers starts a service after its dependencies are healthy)",
                    ),
                }
            }
            if let Some(r) = f.get("required") {
                required = read::boolean(cx, r, &format!("`required` of {ew}")).unwrap_or(true);
            }
            if let Some(r) = f.get("restart") {
                read::boolean(cx, r, &format!("`restart` of {ew}"));
            }
        }
        if required {
            hard.push((dep, k));
        } else {
            soft.push((dep, k));
        }
    }
    (hard, soft)
}

/// The shell text running the words of an exec-form command (`["sh", "-c", "curl -sf x"]`)
/// as written: each word the shell would split is double-quoted, leaving `$VAR` to expand
/// as in the string form. One word is taken as shell text, as the string form is.
fn exec_form(parts: &[String]) -> String {
    if parts.len() == 1 {
        return parts[0].clone();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+%${}".contains(c);
    parts
        .iter()
        .map(|p| {
            if !p.is_empty() && p.chars().all(safe) {
                p.clone()
            } else {
                let mut q = String::from("\"");
                for c in p.chars() {
                    if matches!(c, '"' | '\\' | '`') {
                        q.push('\\');
                    }
                    q.push(c);
                }
                q.push('"');
                q
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_healthcheck(cx: &mut Ctx, node: &Node, what: &str) -> Option<Healthcheck> {
    let hw = format!("`healthcheck` of {what}");
    let f = read::fields(cx, node, Some(HEALTHCHECK_KEYS), &hw)?;
    let command = f.get("command").and_then(|n| match &n.kind {
        NodeKind::Seq(_) => {
            let parts: Vec<String> = read::string_list(cx, n, &hw)
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            match parts.first().map(String::as_str) {
                Some("CMD-SHELL") => Some(parts[1..].join(" ")),
                Some("CMD") => Some(exec_form(&parts[1..])),
                _ => Some(exec_form(&parts)),
            }
        }
        _ => read::template_string(cx, n, &format!("`healthcheck.command` of {what}")),
    });
    let path = f
        .get("path")
        .and_then(|n| read::string(cx, n, &format!("`healthcheck.path` of {what}")));
    if let (Some(p), Some(n)) = (&path, f.get("path")) {
        if !p.starts_with('/') {
            cx.err_help(
                n.pos,
                format!("`healthcheck.path` of {what} must start with /"),
                "e.g. path: /health",
            );
        }
    }
    let dur = |cx: &mut Ctx, key: &str| {
        f.get(key)
            .and_then(|n| read::duration(cx, n, &format!("`healthcheck.{key}` of {what}")))
    };
    let interval = dur(cx, "interval");
    let timeout = dur(cx, "timeout");
    let start_period = dur(cx, "start_period");
    let retries = f
        .get("retries")
        .and_then(|n| read::uint32(cx, n, &format!("`healthcheck.retries` of {what}")));
    Some(Healthcheck {
        command,
        path,
        interval,
        timeout,
        retries,
        start_period,
    })
}

fn decode_limit<T: Copy>(
    cx: &mut Ctx,
    node: &Node,
    what: &str,
    one: &dyn Fn(&mut Ctx, &Node, &str) -> Option<T>,
) -> Option<Limit<T>> {
    if let NodeKind::Map(_) = node.kind {
        let f = read::fields(cx, node, Some(&["request", "limit"]), what)?;
        let request = f
            .get("request")
            .and_then(|n| one(cx, n, &format!("{what}.request")));
        let limit = f
            .get("limit")
            .and_then(|n| one(cx, n, &format!("{what}.limit")));
        return Some(Limit { request, limit });
    }
    let v = one(cx, node, what)?;
    Some(Limit {
        request: Some(v),
        limit: Some(v),
    })
}

/// CPUs: a number (`0.5`, `2`) or millicores (`500m`).
fn cpu(cx: &mut Ctx, node: &Node, what: &str) -> Option<f64> {
    let text = read::string(cx, node, what)?;
    let t = text.trim();
    let parsed = match t.strip_suffix('m') {
        Some(milli) => milli.parse::<u64>().ok().map(|v| v as f64 / 1000.0),
        None => t.parse::<f64>().ok(),
    };
    match parsed.filter(|v| v.is_finite() && *v > 0.0) {
        Some(v) => Some(v),
        None => {
            cx.err_help(
                node.pos,
                format!(
                    "{what} must be a positive number of CPUs, found {}",
                    quote(t)
                ),
                "e.g. 0.5, 2 or 500m",
            );
            None
        }
    }
}

fn decode_resources(cx: &mut Ctx, node: &Node, what: &str) -> Option<Resources> {
    let rw = format!("`resources` of {what}");
    let f = read::fields(cx, node, Some(RESOURCE_KEYS), &rw)?;
    let memory = f
        .get("memory")
        .and_then(|n| decode_limit(cx, n, &format!("`resources.memory` of {what}"), &read::size));
    let cpu = f
        .get("cpu")
        .and_then(|n| decode_limit(cx, n, &format!("`resources.cpu` of {what}"), &cpu));
    let storage = f.get("storage").and_then(|n| {
        decode_limit(
            cx,
            n,
            &format!("`resources.storage` of {what}"),
            &read::size,
        )
    });
    Some(Resources {
        memory,
        cpu,
        storage,
    })
}

fn decode_tests(cx: &mut Ctx, node: &Node, m: &mut Manifest, ix: &mut Index) {
    let Some(f) = read::fields(cx, node, None, "`tests`") else {
        return;
    };
    for (name, key, value) in f.iter() {
        check_name_at(cx, key.pos, "suite", name);
        ix.suite_pos.insert(name.to_string(), key.pos);
        let suite = decode_suite(cx, name, value, ix, &m.services);
        m.tests.insert(name.to_string(), suite);
    }
}

/// Decodes one suite. `services` are the manifest's services (decoded before the suites):
/// a `depends_on` entry naming a service means the service, even when a suite has the same
/// name, so a suite may depend on the service it is named after.
fn decode_suite(
    cx: &mut Ctx,
    name: &str,
    node: &Node,
    ix: &mut Index,
    services: &IndexMap<String, Service>,
) -> Suite {
    let what = format!("suite {}", quote(name));
    let mut suite = Suite::default();
    let Some(f) = read::fields(cx, node, Some(SUITE_KEYS), &what) else {
        return suite;
    };
    suite.command = f
        .get("command")
        .and_then(|n| read::template_string(cx, n, &format!("`command` of {what}")));
    if let Some(n) = f.get("depends_on") {
        for (dep, dn) in read::string_list(cx, n, &format!("`depends_on` of {what}")) {
            if dep == name && !services.contains_key(&dep) {
                cx.err(dn.pos, format!("{what} depends on itself"));
                continue;
            }
            ix.refs.push((
                dn.pos,
                dep.clone(),
                RefKind::ServiceOrSuite,
                format!("`depends_on` of {what}"),
            ));
            suite.depends_on.push(dep);
        }
    }
    suite.checkpoint = f
        .get("checkpoint")
        .and_then(|n| read::string(cx, n, &format!("`checkpoint` of {what}")));
    if let Some(n) = f.get("setup") {
        suite.setup = commands(cx, n, &format!("`setup` of {what}"));
    }
    if let Some(n) = f.get("env") {
        suite.env = read::env_map(cx, n, &format!("`env` of {what}"));
    }
    suite.timeout = f
        .get("timeout")
        .and_then(|n| read::duration(cx, n, &format!("`timeout` of {what}")));
    suite.parallel = f
        .get("parallel")
        .and_then(|n| read::boolean(cx, n, &format!("`parallel` of {what}")))
        .unwrap_or(false);
    suite.run_first = f
        .get("run_first")
        .and_then(|n| read::boolean(cx, n, &format!("`run_first` of {what}")))
        .unwrap_or(false);
    if let Some(n) = f.get("branches") {
        match &n.kind {
            NodeKind::Seq(items) => {
                for item in items {
                    let Some(b) = decode_branch(cx, item, &what) else {
                        continue;
                    };
                    if suite.branches.iter().any(|x| x.name == b.name) {
                        cx.err(
                            item.pos,
                            format!("duplicate branch name {} in {what}", quote(&b.name)),
                        );
                        continue;
                    }
                    suite.branches.push(b);
                }
            }
            _ => cx.err(
                n.pos,
                format!(
                    "`branches` of {what} must be a list, found {}",
                    n.type_name()
                ),
            ),
        }
    }
    if let Some(n) = f.get("scenarios") {
        suite.scenarios = scenario::decode_list(
            cx,
            n,
            scenario::Owner::Suite {
                name,
                branches: &suite.branches,
            },
            ix,
        );
    }
    let has_command = suite.command.is_some();
    let runs_suite_command = suite.branches.iter().any(|b| b.command.is_none())
        || !suite.scenarios.is_empty()
        || (suite.branches.is_empty() && f.get("scenarios").is_none());
    if !has_command && runs_suite_command {
        cx.err_help(
            f.pos,
            format!("{what} has no `command`"),
            "add `command:` to the suite (scenarios run it; branches may have their own)",
        );
    }
    suite
}

/// A command or a list of commands, each checked for interpolation syntax.
fn commands(cx: &mut Ctx, node: &Node, what: &str) -> Vec<String> {
    let items = read::string_list(cx, node, what);
    for (s, n) in &items {
        read::check_interp(cx, n, s, what);
    }
    items.into_iter().map(|(s, _)| s).collect()
}

fn decode_branch(cx: &mut Ctx, node: &Node, suite_what: &str) -> Option<Branch> {
    if let NodeKind::Scalar { .. } = node.kind {
        let name = read::string(cx, node, &format!("a branch of {suite_what}"))?;
        check_name_at(cx, node.pos, "branch", &name);
        return Some(Branch {
            name,
            ..Branch::default()
        });
    }
    let f: Fields = read::fields(
        cx,
        node,
        Some(BRANCH_KEYS),
        &format!("a branch of {suite_what}"),
    )?;
    let name_node = f.require(cx, "name", &format!("a branch of {suite_what}"))?;
    let name = read::string(cx, name_node, "branch `name`")?;
    check_name_at(cx, name_node.pos, "branch", &name);
    let what = format!("branch {} of {suite_what}", quote(&name));
    let mut b = Branch {
        name,
        ..Branch::default()
    };
    if let Some(n) = f.get("env") {
        b.env = read::env_map(cx, n, &format!("`env` of {what}"));
    }
    b.description = f
        .get("description")
        .and_then(|n| read::string(cx, n, &format!("`description` of {what}")));
    if let Some(n) = f.get("before") {
        b.before = commands(cx, n, &format!("`before` of {what}"));
    }
    if let Some(n) = f.get("after") {
        b.after = commands(cx, n, &format!("`after` of {what}"));
    }
    b.command = f
        .get("command")
        .and_then(|n| read::template_string(cx, n, &format!("`command` of {what}")));
    b.from = f
        .get("from")
        .and_then(|n| read::string(cx, n, &format!("`from` of {what}")));
    b.expect = f.get("expect").and_then(|n| decode_expect(cx, n, &what));
    Some(b)
}

fn decode_expect(cx: &mut Ctx, node: &Node, what: &str) -> Option<Expect> {
    let ew = format!("`expect` of {what}");
    if let NodeKind::Map(_) = node.kind {
        let f = read::fields(cx, node, Some(&["exit_code"]), &ew)?;
        let n = f.require(cx, "exit_code", &ew)?;
        return exit_code(cx, n, &ew).map(Expect::ExitCode);
    }
    let s = read::string(cx, node, &ew)?;
    match s.trim() {
        "pass" | "success" => Some(Expect::Pass),
        "fail" | "failure" => Some(Expect::Fail),
        t if t.parse::<i64>().is_ok() => exit_code(cx, node, &ew).map(Expect::ExitCode),
        t => {
            cx.err_help(
                node.pos,
                format!("invalid {ew}: {}", quote(t)),
                "use pass, fail, an exit code, or {exit_code: N}",
            );
            None
        }
    }
}

fn exit_code(cx: &mut Ctx, node: &Node, what: &str) -> Option<i32> {
    let n = read::uint(cx, node, what)?;
    if n > 255 {
        cx.err(node.pos, format!("{what}: exit codes are 0-255, found {n}"));
        return None;
    }
    i32::try_from(n).ok()
}

fn decode_checkpoints(cx: &mut Ctx, node: &Node, m: &mut Manifest, ix: &mut Index) {
    let NodeKind::Seq(items) = &node.kind else {
        cx.err(
            node.pos,
            format!("`checkpoints` must be a list, found {}", node.type_name()),
        );
        return;
    };
    for item in items {
        let Some(f) = read::fields(cx, item, Some(CHECKPOINT_KEYS), "a checkpoint") else {
            continue;
        };
        let Some(name_node) = f.require(cx, "name", "a checkpoint") else {
            continue;
        };
        let Some(name) = read::string(cx, name_node, "checkpoint `name`") else {
            continue;
        };
        check_name_at(cx, name_node.pos, "checkpoint", &name);
        let what = format!("checkpoint {}", quote(&name));
        let Some(after_node) = f.require(cx, "after", &what) else {
            continue;
        };
        let Some(after_text) = read::string(cx, after_node, &format!("`after` of {what}")) else {
            continue;
        };
        if m.checkpoints.iter().any(|c| c.name == name) {
            if let Some(n) = f.get("name") {
                cx.err(n.pos, format!("duplicate checkpoint name {}", quote(&name)));
            }
            continue;
        }
        let after = AfterSelector::parse(&after_text);
        if let AfterSelector::Shell(cmd) = &after {
            read::check_interp(cx, after_node, cmd, &format!("`after` of {what}"));
        }
        let description = f
            .get("description")
            .and_then(|n| read::string(cx, n, &format!("`description` of {what}")));
        let inputs = f
            .get("inputs")
            .map(|n| decode_inputs(cx, n, &what))
            .unwrap_or_default();
        let warm = f
            .get("warm")
            .and_then(|n| {
                let w = read::uint32(cx, n, &format!("`warm` of {what}"))?;
                if w > MAX_WARM {
                    cx.err_help(
                        n.pos,
                        format!(
                            "`warm` of {what} is {w}; at most {MAX_WARM} warm branches are kept"
                        ),
                        "each warm branch is a running copy of the stack; a few are enough",
                    );
                    return None;
                }
                Some(w)
            })
            .unwrap_or(0);
        ix.after_pos.push(after_node.pos);
        m.checkpoints.push(Checkpoint {
            name,
            after,
            description,
            inputs,
            warm,
        });
    }
}

/// Longest glob accepted in `inputs` (a longer one may not compile).
const MAX_GLOB_LEN: usize = 1024;

/// `inputs:` of a checkpoint: globs relative to the project, each one valid and unable to
/// reach outside it.
fn decode_inputs(cx: &mut Ctx, node: &Node, what: &str) -> Vec<String> {
    let iw = format!("`inputs` of {what}");
    if let NodeKind::Map(_) = node.kind {
        cx.err_help(
            node.pos,
            format!("{iw} must be a list of globs, found a mapping"),
            "e.g. inputs: [scripts/seed.sh, db/**/*.sql]",
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for (glob, n) in read::string_list(cx, node, &iw) {
        let path = std::path::Path::new(&glob);
        let problem = if glob.trim().is_empty() {
            Some("is empty".to_string())
        } else if glob.len() > MAX_GLOB_LEN {
            Some(format!("is longer than {MAX_GLOB_LEN} characters"))
        } else if path.is_absolute() {
            Some("is absolute; inputs are relative to the project directory".to_string())
        } else if path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            Some("leaves the project directory (`..`)".to_string())
        } else {
            globset::Glob::new(&glob)
                .err()
                .map(|e| format!("is not a valid glob: {}", cut(&e.kind().to_string())))
        };
        match problem {
            Some(p) => cx.err_help(
                n.pos,
                format!("{} in {iw} {p}", quote(&glob)),
                "e.g. inputs: [scripts/seed.sh, db/**/*.sql]",
            ),
            None if out.contains(&glob) => {
                cx.err(n.pos, format!("{} is listed twice in {iw}", quote(&glob)))
            }
            None => out.push(glob),
        }
    }
    out
}

fn decode_matrix(cx: &mut Ctx, node: &Node, m: &mut Manifest, ix: &mut Index) {
    let Some(f) = read::fields(cx, node, None, "`matrix`") else {
        return;
    };
    for (key, key_node, value) in f.iter() {
        let what = format!("`matrix.{}`", cut(key));
        let NodeKind::Seq(items) = &value.kind else {
            cx.err(
                value.pos,
                format!(
                    "{what} must be a list of versions, found {}",
                    describe(value)
                ),
            );
            continue;
        };
        if items.is_empty() {
            cx.err(value.pos, format!("{what} has no values"));
            continue;
        }
        let mut values = Vec::new();
        let mut positions = Vec::new();
        for item in items {
            if let Some(v) = read::string(cx, item, &format!("a value of {what}")) {
                if values.contains(&v) {
                    cx.err(item.pos, format!("{} is listed twice in {what}", quote(&v)));
                    continue;
                }
                values.push(v);
                positions.push(item.pos);
            }
        }
        m.matrix.insert(key.to_string(), values);
        ix.matrix_pos
            .insert(key.to_string(), (key_node.pos, positions));
    }
}

fn decode_deploy(cx: &mut Ctx, node: &Node) -> IndexMap<String, Deploy> {
    let mut out = IndexMap::new();
    let Some(f) = read::fields(cx, node, None, "`deploy`") else {
        return out;
    };
    for (name, _, value) in f.iter() {
        let what = format!("deploy target {}", quote(name));
        let Some(df) = read::fields(cx, value, Some(DEPLOY_KEYS), &what) else {
            continue;
        };
        let Some(tn) = df.require(cx, "target", &what) else {
            continue;
        };
        let Some(target) = read::string(cx, tn, &format!("`target` of {what}")) else {
            continue;
        };
        if !DEPLOY_TARGETS.contains(&target.as_str()) {
            cx.err_help(
                tn.pos,
                format!("unknown deploy target {} in {what}", quote(&target)),
                suggestion_help(&target, DEPLOY_TARGETS),
            );
        }
        let domain = df
            .get("domain")
            .and_then(|n| read::string(cx, n, &format!("`domain` of {what}")));
        let scaling = df.get("scaling").and_then(|n| {
            let sw = format!("`scaling` of {what}");
            let sf = read::fields(cx, n, Some(&["min", "max"]), &sw)?;
            let min = sf
                .get("min")
                .and_then(|x| read::uint32(cx, x, &format!("`scaling.min` of {what}")))
                .unwrap_or(1);
            let max = sf
                .get("max")
                .and_then(|x| read::uint32(cx, x, &format!("`scaling.max` of {what}")))
                .unwrap_or(min);
            if min > max {
                cx.err(
                    n.pos,
                    format!("{sw}: min ({min}) is greater than max ({max})"),
                );
            }
            Some(Scaling { min, max })
        });
        let env = df
            .get("env")
            .map(|n| read::env_map(cx, n, &format!("`env` of {what}")))
            .unwrap_or_default();
        out.insert(
            name.to_string(),
            Deploy {
                target,
                domain,
                scaling,
                env,
            },
        );
    }
    out
}

fn decode_chaos(cx: &mut Ctx, node: &Node, ix: &mut Index) -> Option<Chaos> {
    let f = read::fields(cx, node, Some(&["scenarios"]), "`chaos`")?;
    let scenarios = f
        .get("scenarios")
        .map(|n| scenario::decode_list(cx, n, scenario::Owner::Chaos, ix))
        .unwrap_or_default();
    Some(Chaos { scenarios })
}

#[cfg(test)]
mod reference_doc {
    use super::*;

    /// `docs/manifest.md` is the manifest reference: it must list every key the decoder
    /// accepts and every config key of every template.
    #[test]
    fn lists_every_key() {
        let doc = include_str!("../../../docs/manifest.md");
        let groups: &[(&str, &[&str])] = &[
            ("top level", TOP_KEYS),
            ("vm", VM_KEYS),
            ("service", SERVICE_KEYS),
            ("healthcheck", HEALTHCHECK_KEYS),
            ("resources", RESOURCE_KEYS),
            ("suite", SUITE_KEYS),
            ("branch", BRANCH_KEYS),
            ("checkpoint", CHECKPOINT_KEYS),
            ("deploy", DEPLOY_KEYS),
            ("scenario", &["name", "description", "inject", "expect"]),
            ("fault", crate::scenario::FAULT_KEYS),
            ("build", &["context", "command"]),
            ("limit", &["request", "limit"]),
            ("scaling", &["min", "max"]),
        ];
        for (group, keys) in groups {
            for k in *keys {
                assert!(
                    doc.contains(&format!("`{k}`"))
                        || doc.contains(&format!("{k}:"))
                        || doc.contains(&format!("{{{k}"))
                        || doc.contains(&format!(", {k}")),
                    "{group} key `{k}` is not in docs/manifest.md"
                );
            }
        }
        for a in crate::fault::CHAOS_ACTIONS {
            assert!(doc.contains(&format!("`{a}`")), "action {a}");
        }
        for t in all_templates() {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", t.name)))
                .unwrap_or_else(|| panic!("no row for template {}", t.name));
            let same_as = row.contains("as `mysql`") || row.contains("as elasticsearch");
            for k in t.config_keys() {
                assert!(
                    row.contains(&format!("`{k}`")) || same_as,
                    "{}: config key {k}",
                    t.name
                );
            }
            for v in t.versions {
                assert!(row.contains(v), "{}: version {v}", t.name);
            }
        }
        for ext in [
            "`scenarios` | **extension**",
            "`inputs` | **extension**",
            "`warm` | **extension**",
        ] {
            assert!(doc.contains(ext), "{ext} must be marked as an extension");
        }
    }
}

#[cfg(test)]
mod exec_form_tests {
    use std::path::Path;

    fn parse(yaml: &str) -> crate::Manifest {
        crate::parse_str(yaml, Path::new("vers-integration.yaml")).unwrap()
    }

    #[test]
    fn list_commands_keep_their_words() {
        let m = parse(
            r#"
name: x
services:
  api:
    command: ["python3", "-m", "http.server", "$PORT"]
    healthcheck:
      command: ["CMD", "sh", "-c", "curl -sf \"http://localhost:$PORT/\""]
  worker:
    command: ["sh", "-c", "while true; do sleep 1; done"]
    healthcheck:
      command: ["CMD-SHELL", "test -e /tmp/ok || exit 1"]
"#,
        );
        let api = &m.services["api"];
        assert_eq!(api.command.as_deref(), Some("python3 -m http.server $PORT"));
        let hc = api.healthcheck.as_ref().and_then(|h| h.command.as_deref());
        assert_eq!(hc, Some(r#"sh -c "curl -sf \"http://localhost:$PORT/\"""#));
        let worker = &m.services["worker"];
        assert_eq!(
            worker.command.as_deref(),
            Some(r#"sh -c "while true; do sleep 1; done""#)
        );
        let hc = worker
            .healthcheck
            .as_ref()
            .and_then(|h| h.command.as_deref());
        assert_eq!(hc, Some("test -e /tmp/ok || exit 1"));
    }
}
