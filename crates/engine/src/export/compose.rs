//! The Compose file of an export (the Compose Specification; `docker compose` reads it).

use std::path::Path;

use serde_json::{json, Map, Value};
use vers_manifest::Manifest;

use super::{comment_block, go_duration, relative, yaml, ExportFile, Unit};
use crate::error::EngineError;

/// The Compose file's name inside the export directory.
pub const FILE: &str = "compose.yaml";

/// A Compose project name: lowercase letters, digits, `-` and `_`, starting with a letter
/// or digit.
fn project_name(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_start_matches(['-', '_']).to_string();
    if s.is_empty() {
        "vers".into()
    } else {
        s
    }
}

fn memory(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes.is_multiple_of(MIB) {
        format!("{}m", bytes / MIB)
    } else {
        format!("{bytes}b")
    }
}

/// Adds the Compose file to `files`; returns its path.
pub(crate) fn write(
    manifest: &Manifest,
    units: &[Unit],
    dir: &Path,
    files: &mut Vec<ExportFile>,
    notes: &mut Vec<String>,
) -> Result<String, EngineError> {
    let mut services = Map::new();
    let mut volumes = Map::new();
    let project_rel = relative(dir, manifest.project_dir());
    for u in units {
        let mut s = Map::new();
        if let Some(c) = &u.container {
            if c.mock {
                s.insert("build".into(), json!({ "context": "vers-mock" }));
            }
            s.insert("image".into(), json!(c.image));
            if let Some(cmd) = &c.command {
                s.insert("command".into(), json!(cmd));
            }
            let mut mounts: Vec<String> = Vec::new();
            if let Some(path) = &c.data_path {
                let vol = format!("{}-data", u.name);
                mounts.push(format!("{vol}:{path}"));
                volumes.insert(vol, json!({}));
            }
            for (rel, target, content) in &c.files {
                files.push(ExportFile {
                    path: rel.clone(),
                    content: content.clone(),
                });
                mounts.push(format!("./{rel}:{target}:ro"));
            }
            if !mounts.is_empty() {
                s.insert("volumes".into(), json!(mounts));
            }
        }
        if let Some(a) = &u.app {
            let context = if project_rel == "." {
                a.context.to_string_lossy().into_owned()
            } else {
                format!("{project_rel}/{}", a.context.to_string_lossy())
            };
            let context = context.trim_end_matches("/.").to_string();
            let mut build = Map::new();
            build.insert("context".into(), json!(context));
            if let Some(df) = &a.dockerfile {
                build.insert("dockerfile_inline".into(), json!(df));
            }
            s.insert("build".into(), Value::Object(build));
            if let Some(cmd) = &u.svc.command {
                s.insert("command".into(), json!(["sh", "-c", escape_dollars(cmd)]));
            }
        }
        if !u.env.is_empty() {
            s.insert("environment".into(), json!(u.env));
        }
        let mut deps = Map::new();
        for d in &u.svc.depends_on {
            deps.insert(d.clone(), json!({ "condition": condition(units, d) }));
        }
        for d in &u.svc.soft_depends_on {
            deps.insert(
                d.clone(),
                json!({ "condition": "service_started", "required": false }),
            );
        }
        if !deps.is_empty() {
            s.insert("depends_on".into(), Value::Object(deps));
        }
        if let Some(h) = &u.health {
            let hc = u.svc.healthcheck.as_ref();
            let mut m = Map::new();
            m.insert("test".into(), json!(["CMD-SHELL", h]));
            let interval = hc.and_then(|h| h.interval).map(go_duration);
            m.insert(
                "interval".into(),
                json!(interval.unwrap_or_else(|| "5s".into())),
            );
            let timeout = hc.and_then(|h| h.timeout).map(go_duration);
            m.insert(
                "timeout".into(),
                json!(timeout.unwrap_or_else(|| "5s".into())),
            );
            m.insert(
                "retries".into(),
                json!(hc.and_then(|h| h.retries).unwrap_or(30)),
            );
            if let Some(sp) = hc.and_then(|h| h.start_period) {
                m.insert("start_period".into(), json!(go_duration(sp)));
            }
            s.insert("healthcheck".into(), Value::Object(m));
        }
        if !u.svc.ports.is_empty() {
            let ports: Vec<String> = u
                .svc
                .ports
                .iter()
                .map(|p| format!("127.0.0.1:{}:{}", p.host, p.container))
                .collect();
            s.insert("ports".into(), json!(ports));
            if u.replicas > 1 {
                notes.push(format!(
                    "{}: {} replicas cannot all bind the same host ports; drop `ports` or put a proxy in front",
                    u.name, u.replicas
                ));
            }
        }
        let mut deploy = Map::new();
        if u.replicas != 1 {
            deploy.insert("replicas".into(), json!(u.replicas));
        }
        if let Some(sc) = u.scaling {
            notes.push(format!(
                "{}: Compose does not autoscale; the deploy target's scaling is {}..{} replicas (started with {})",
                u.name, sc.min, sc.max, u.replicas
            ));
        }
        if let Some(r) = &u.svc.resources {
            let mut limits = Map::new();
            let mut reservations = Map::new();
            if let Some(m) = r.memory {
                if let Some(l) = m.limit {
                    limits.insert("memory".into(), json!(memory(l)));
                }
                if let Some(q) = m.request {
                    reservations.insert("memory".into(), json!(memory(q)));
                }
            }
            if let Some(c) = r.cpu {
                if let Some(l) = c.limit {
                    limits.insert("cpus".into(), json!(l.to_string()));
                }
                if let Some(q) = c.request {
                    reservations.insert("cpus".into(), json!(q.to_string()));
                }
            }
            if r.storage.is_some() {
                notes.push(format!(
                    "{}: storage limits are not expressed in Compose",
                    u.name
                ));
            }
            let mut res = Map::new();
            if !limits.is_empty() {
                res.insert("limits".into(), Value::Object(limits));
            }
            if !reservations.is_empty() {
                res.insert("reservations".into(), Value::Object(reservations));
            }
            if !res.is_empty() {
                deploy.insert("resources".into(), Value::Object(res));
            }
        }
        if !deploy.is_empty() {
            s.insert("deploy".into(), Value::Object(deploy));
        }
        services.insert(u.name.to_string(), Value::Object(s));
    }
    let mut doc = Map::new();
    doc.insert("name".into(), json!(project_name(&manifest.name)));
    doc.insert("services".into(), Value::Object(services));
    if !volumes.is_empty() {
        doc.insert("volumes".into(), Value::Object(volumes));
    }
    let head = comment_block(
        &format!(
            "Compose file for `{}`, generated by `vers export compose` from {}.",
            manifest.name,
            manifest
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
        notes,
    );
    files.push(ExportFile {
        path: FILE.into(),
        content: format!("{head}\n{}", yaml::to_yaml(&Value::Object(doc))),
    });
    Ok(FILE.into())
}

/// How a dependent waits for `dep`: healthy when it has a health check, else started.
fn condition(units: &[Unit], dep: &str) -> &'static str {
    match units.iter().find(|u| u.name == dep) {
        Some(u) if u.health.is_some() => "service_healthy",
        _ => "service_started",
    }
}

/// `$` that Compose would interpolate but vers leaves to the shell (`$HOME`) doubled.
fn escape_dollars(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            match chars.peek() {
                Some('{') => out.push('$'),
                Some('$') => {
                    chars.next();
                    out.push_str("$$");
                }
                _ => out.push_str("$$"),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_for_the_shell_stay_literal() {
        assert_eq!(escape_dollars("echo $HOME ${A} $$"), "echo $$HOME ${A} $$");
    }

    #[test]
    fn project_names_are_compose_names() {
        assert_eq!(project_name("My App!"), "my-app-");
        assert_eq!(project_name("saas-starter"), "saas-starter");
    }
}
