//! `vers export compose|kubernetes`: the manifest's stack as a Compose file or Kubernetes
//! manifests, for when a team takes it beyond one machine. Engines become their official
//! images, apps their build contexts, mocks vers's own mock servers in a generated image;
//! whatever cannot be expressed is listed as a comment, never dropped silently.

pub mod apps;
pub mod compose;
pub mod images;
pub mod kubernetes;
pub mod yaml;

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use vers_manifest::{Deploy, Manifest, Service};

use crate::error::EngineError;
use apps::AppImage;
use images::Container;

/// Formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One Compose file.
    Compose,
    /// A directory of Kubernetes manifests.
    Kubernetes,
}

impl Format {
    /// The format called `name`; hosted-only formats are refused with a clear message.
    pub fn parse(name: &str) -> Result<Format, EngineError> {
        match name {
            "compose" | "docker-compose" => Ok(Format::Compose),
            "kubernetes" | "k8s" => Ok(Format::Kubernetes),
            "oci" | "raw" | "ami" | "gce" => Err(EngineError::Manifest(format!(
                "export format `{name}` builds machine images and needs the hosted service (vers.sh); \
                 locally vers exports `compose` and `kubernetes`"
            ))),
            other => Err(EngineError::Manifest(format!(
                "unknown export format `{other}`: expected `compose` or `kubernetes`"
            ))),
        }
    }

    /// The name as written on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Compose => "compose",
            Format::Kubernetes => "kubernetes",
        }
    }
}

/// One file of an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportFile {
    /// Path relative to the export directory.
    pub path: String,
    /// Content.
    pub content: String,
}

/// What `export` produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exported {
    /// `compose` or `kubernetes`.
    pub format: String,
    /// The directory the files belong in.
    pub dir: PathBuf,
    /// The main file (the Compose file) or directory, relative to `dir`.
    pub main: String,
    /// Files to write.
    pub files: Vec<ExportFile>,
    /// What could not be expressed (also written as comments).
    pub notes: Vec<String>,
    /// Where (relative to `dir`) the caller must copy the `vers` binary for the mock image.
    pub mock_binary: Option<String>,
}

/// One service as both formats see it.
pub(crate) struct Unit<'a> {
    pub name: &'a str,
    pub svc: &'a Service,
    /// Engine or mock container; `None` for apps.
    pub container: Option<Container>,
    /// App image; `None` for templates.
    pub app: Option<AppImage>,
    /// Ports inside the stack, main first.
    pub ports: Vec<u16>,
    /// Environment (the image's, the manifest's, the deploy target's).
    pub env: IndexMap<String, String>,
    /// Shell health command.
    pub health: Option<String>,
    /// Replicas.
    pub replicas: u32,
    /// Replica bounds from the deploy target (apps only).
    pub scaling: Option<vers_manifest::Scaling>,
}

/// Builds the export of `manifest` in `format` for files written under `dir`, with the
/// `env` and `scaling` of deploy target `target` applied to the apps.
pub fn export(
    manifest: &Manifest,
    format: Format,
    dir: &Path,
    target: Option<&str>,
) -> Result<Exported, EngineError> {
    let deploy: Option<&Deploy> = match target {
        None => None,
        Some(t) => Some(manifest.deploy.get(t).ok_or_else(|| {
            EngineError::NotFound(format!(
                "no deploy target `{t}` in the manifest (targets: {})",
                manifest
                    .deploy
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?),
    };
    let mut notes = Vec::new();
    let units: Vec<Unit> = manifest
        .services
        .iter()
        .map(|(name, svc)| unit(manifest, name, svc, deploy, &mut notes))
        .collect();
    if let Some(d) = deploy {
        if let Some(domain) = &d.domain {
            notes.push(format!(
                "deploy target `{}`: domain `{domain}` needs a reverse proxy or ingress in front of the apps",
                target.unwrap_or_default()
            ));
        }
    }
    if !manifest.tests.is_empty() || !manifest.checkpoints.is_empty() {
        notes.push(
            "test suites, branches and checkpoints are vers's own and are not exported".into(),
        );
    }
    if manifest.chaos.is_some() {
        notes.push("chaos scenarios are not exported".into());
    }
    let mut files = mock_files(manifest, &units)?;
    let mock_binary = (!files.is_empty()).then(|| "vers-mock/vers".to_string());
    let main = match format {
        Format::Compose => compose::write(manifest, &units, dir, &mut files, &mut notes)?,
        Format::Kubernetes => kubernetes::write(manifest, &units, dir, &mut files, &mut notes)?,
    };
    Ok(Exported {
        format: format.name().into(),
        dir: dir.to_path_buf(),
        main,
        files,
        notes,
        mock_binary,
    })
}

fn unit<'a>(
    manifest: &Manifest,
    name: &'a str,
    svc: &'a Service,
    deploy: Option<&Deploy>,
    notes: &mut Vec<String>,
) -> Unit<'a> {
    let ports = vers_manifest::standard_ports(svc);
    let main_port = ports
        .first()
        .copied()
        .unwrap_or(vers_manifest::DEFAULT_APP_PORT);
    let mut env = IndexMap::new();
    let (container, app) = match &svc.template {
        Some(t) if t.name != "app" => {
            let c = images::container(name, svc, t);
            for (k, v) in &c.env {
                env.insert(k.clone(), v.clone());
            }
            notes.extend(c.notes.iter().cloned());
            (Some(c), None)
        }
        _ => {
            let a = apps::app_image(name, svc, manifest.project_dir(), main_port);
            notes.extend(a.notes.iter().cloned());
            env.insert("HOST".into(), "0.0.0.0".into());
            env.insert("PORT".into(), main_port.to_string());
            env.insert("VERS_SERVICE".into(), name.to_string());
            (None, Some(a))
        }
    };
    for (k, v) in &svc.env {
        env.insert(k.clone(), v.clone());
    }
    let mut scaling = None;
    let mut replicas = svc.replicas.max(1);
    if let (Some(d), Some(_)) = (deploy, &app) {
        for (k, v) in &d.env {
            env.insert(k.clone(), v.clone());
        }
        if let Some(s) = d.scaling {
            replicas = replicas.max(s.min);
            scaling = Some(s);
        }
    }
    let health = health(name, svc, &container, &app, main_port);
    Unit {
        name,
        svc,
        container,
        app,
        ports,
        env,
        health,
        replicas,
        scaling,
    }
}

fn health(
    _name: &str,
    svc: &Service,
    container: &Option<Container>,
    app: &Option<AppImage>,
    port: u16,
) -> Option<String> {
    if let Some(h) = &svc.healthcheck {
        if let Some(cmd) = &h.command {
            return Some(cmd.clone());
        }
        if let Some(path) = &h.path {
            let url = format!("http://localhost:{port}{path}");
            let from = app
                .as_ref()
                .and_then(|a| a.dockerfile.as_deref())
                .unwrap_or("");
            // Slim images have neither curl nor wget: ask with what the image has.
            return Some(if from.starts_with("FROM node") {
                format!(
                    "node -e \"require('http').get('{url}', r => process.exit(r.statusCode < 400 ? 0 : 1)).on('error', () => process.exit(1))\""
                )
            } else if from.starts_with("FROM python") {
                format!(
                    "python3 -c \"import urllib.request; urllib.request.urlopen('{url}', timeout=5)\""
                )
            } else if app.is_some() {
                // Debian's bash speaks TCP through /dev/tcp.
                format!(
                    "bash -c 'exec 3<>/dev/tcp/localhost/{port} && printf \"GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n\" >&3 && head -n 1 <&3 | grep -q \" [23][0-9][0-9] \"'"
                )
            } else {
                format!("curl -fsS {url} || wget -q -O /dev/null {url}")
            });
        }
    }
    container.as_ref().and_then(|c| c.health.clone())
}

/// The mock image: a Dockerfile, each mock's config, and (copied by the caller) `vers`.
fn mock_files(manifest: &Manifest, units: &[Unit]) -> Result<Vec<ExportFile>, EngineError> {
    let mocks: Vec<&Unit> = units
        .iter()
        .filter(|u| u.container.as_ref().is_some_and(|c| c.mock))
        .collect();
    if mocks.is_empty() {
        return Ok(Vec::new());
    }
    let mut files = vec![ExportFile {
        path: "vers-mock/Dockerfile".into(),
        content: format!(
            "# vers's built-in mock servers (stripe-mock, oauth-mock, mailhog) for {}.\n\
             # Generated by `vers export`; `vers` beside this file is the binary that wrote it.\n\
             FROM debian:bookworm-slim\n\
             COPY vers /usr/local/bin/vers\n\
             COPY *.json {}/\n\
             RUN mkdir -p /data\n\
             ENTRYPOINT [\"vers\", \"mock\"]\n",
            manifest.name,
            images::MOCK_CONFIG_DIR
        ),
    }];
    for u in mocks {
        let config = match &u.svc.config {
            serde_json::Value::Null => serde_json::json!({}),
            other => other.clone(),
        };
        let content = serde_json::to_string_pretty(&config)
            .map_err(|e| EngineError::Failed(format!("encoding {}'s config: {e}", u.name)))?;
        files.push(ExportFile {
            path: format!("vers-mock/{}.json", u.name),
            content: content + "\n",
        });
    }
    Ok(files)
}

/// `to` relative to `from` (both absolute), `/`-separated, `.` for the same directory.
pub fn relative(from: &Path, to: &Path) -> String {
    let norm = |p: &Path| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
                Component::ParentDir => {
                    out.pop();
                }
                _ => {}
            }
        }
        out
    };
    let (a, b) = (norm(from), norm(to));
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    parts.extend(b[common..].iter().cloned());
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// A duration as Compose and Go write it (`5s`, `500ms`).
pub fn go_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `# ` comment lines for `notes` (none when empty).
pub fn comment_block(title: &str, notes: &[String]) -> String {
    let mut out = format!("# {title}\n");
    if !notes.is_empty() {
        out.push_str("#\n# Not expressed in this export:\n");
        for n in notes {
            out.push_str(&format!("#   - {}\n", n.replace('\n', " ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b")), ".");
        assert_eq!(relative(Path::new("/a/b/out"), Path::new("/a/b")), "..");
        assert_eq!(relative(Path::new("/a/x"), Path::new("/a/b/c")), "../b/c");
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b/./c")), "c");
    }

    #[test]
    fn refuses_hosted_formats() {
        let e = Format::parse("ami").unwrap_err().to_string();
        assert!(e.contains("hosted"), "{e}");
        assert!(Format::parse("compose").is_ok());
    }
}
