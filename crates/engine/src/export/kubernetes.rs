//! The Kubernetes manifests of an export: per service a Deployment (a StatefulSet with a
//! volume claim for engines that keep data), a Service for its ports, a ConfigMap for files
//! it mounts, and a HorizontalPodAutoscaler where a deploy target scales an app.

use std::path::Path;

use serde_json::{json, Map, Value};
use vers_manifest::Manifest;

use super::{comment_block, relative, yaml, ExportFile, Unit};
use crate::error::EngineError;

/// Image that waits for dependencies in init containers.
const WAIT_IMAGE: &str = "busybox:1.36";

/// A DNS-1123 label from a service name.
fn label(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-');
    if s.is_empty() {
        "svc".into()
    } else {
        s.chars().take(63).collect()
    }
}

fn quantity_bytes(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes.is_multiple_of(MIB) {
        format!("{}Mi", bytes / MIB)
    } else {
        bytes.to_string()
    }
}

fn quantity_cpu(cpu: f64) -> String {
    format!("{}m", (cpu * 1000.0).round() as u64)
}

/// Adds one YAML file per service to `files`; returns the directory (`.`).
pub(crate) fn write(
    manifest: &Manifest,
    units: &[Unit],
    dir: &Path,
    files: &mut Vec<ExportFile>,
    notes: &mut Vec<String>,
) -> Result<String, EngineError> {
    let project = label(&manifest.name);
    let project_rel = relative(dir, manifest.project_dir());
    let mut docs_by_file: Vec<(String, Vec<Value>)> = Vec::new();
    for u in units {
        let name = label(u.name);
        if name != u.name {
            notes.push(format!(
                "{}: named `{name}` in Kubernetes (DNS label); clients must use that host name",
                u.name
            ));
        }
        let mut docs = Vec::new();
        let labels = json!({
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/part-of": project,
        });
        let selector = json!({ "app.kubernetes.io/name": name });
        let mut container = Map::new();
        container.insert("name".into(), json!(name));
        let mut volume_mounts = Vec::new();
        let mut volumes = Vec::new();
        let mut claim = None;
        if let Some(c) = &u.container {
            container.insert("image".into(), json!(c.image));
            if c.mock {
                container.insert("imagePullPolicy".into(), json!("IfNotPresent"));
            }
            if let Some(cmd) = &c.command {
                container.insert("args".into(), json!(cmd));
            }
            if let Some(path) = &c.data_path {
                volume_mounts.push(json!({ "name": "data", "mountPath": path }));
                let storage = u
                    .svc
                    .resources
                    .as_ref()
                    .and_then(|r| r.storage)
                    .and_then(|s| s.request.or(s.limit))
                    .map(quantity_bytes)
                    .unwrap_or_else(|| "1Gi".into());
                claim = Some(json!({
                    "metadata": { "name": "data" },
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": { "requests": { "storage": storage } },
                    },
                }));
            }
            if !c.files.is_empty() {
                let cm = format!("{name}-files");
                let mut data = Map::new();
                for (i, (rel, target, content)) in c.files.iter().enumerate() {
                    let key = format!("file-{i}");
                    data.insert(key.clone(), json!(content));
                    volume_mounts.push(json!({
                        "name": "files",
                        "mountPath": target,
                        "subPath": key,
                        "readOnly": true,
                    }));
                    files.push(ExportFile {
                        path: rel.clone(),
                        content: content.clone(),
                    });
                }
                volumes.push(json!({ "name": "files", "configMap": { "name": cm } }));
                docs.push(json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": { "name": cm, "labels": labels },
                    "data": data,
                }));
            }
        }
        if let Some(a) = &u.app {
            let image = format!("{project}-{name}:latest");
            container.insert("image".into(), json!(image));
            container.insert("imagePullPolicy".into(), json!("IfNotPresent"));
            let context = if project_rel == "." {
                a.context.to_string_lossy().into_owned()
            } else {
                format!("{project_rel}/{}", a.context.to_string_lossy())
            };
            match &a.dockerfile {
                Some(df) => {
                    let path = format!("images/{name}.Dockerfile");
                    files.push(ExportFile {
                        path: path.clone(),
                        content: df.clone(),
                    });
                    notes.push(format!(
                        "{}: build its image first: docker build -t {image} -f {path} {context}",
                        u.name
                    ));
                }
                None => notes.push(format!(
                    "{}: build its image first: docker build -t {image} {context}",
                    u.name
                )),
            }
        }
        if !u.env.is_empty() {
            let env: Vec<Value> = u
                .env
                .iter()
                .map(|(k, v)| json!({ "name": k, "value": v }))
                .collect();
            container.insert("env".into(), json!(env));
        }
        if !u.ports.is_empty() {
            let ports: Vec<Value> = u
                .ports
                .iter()
                .map(|p| json!({ "containerPort": p }))
                .collect();
            container.insert("ports".into(), json!(ports));
        }
        // An HTTP healthcheck is Kubernetes's own `httpGet`: no tool in the image needed.
        let http = u
            .svc
            .healthcheck
            .as_ref()
            .filter(|h| h.command.is_none())
            .and_then(|h| h.path.clone())
            .zip(u.ports.first());
        let probe = match (&u.health, u.ports.first()) {
            _ if http.is_some() => {
                http.map(|(path, port)| json!({ "httpGet": { "path": path, "port": port } }))
            }
            (Some(h), _) => Some(json!({ "exec": { "command": ["sh", "-c", h] } })),
            (None, Some(p)) => Some(json!({ "tcpSocket": { "port": p } })),
            (None, None) => None,
        };
        if let Some(mut probe) = probe {
            if let Some(obj) = probe.as_object_mut() {
                obj.insert("periodSeconds".into(), json!(5));
                obj.insert("failureThreshold".into(), json!(30));
            }
            container.insert("readinessProbe".into(), probe);
        }
        if let Some(r) = &u.svc.resources {
            let mut limits = Map::new();
            let mut requests = Map::new();
            if let Some(m) = r.memory {
                if let Some(l) = m.limit {
                    limits.insert("memory".into(), json!(quantity_bytes(l)));
                }
                if let Some(q) = m.request {
                    requests.insert("memory".into(), json!(quantity_bytes(q)));
                }
            }
            if let Some(c) = r.cpu {
                if let Some(l) = c.limit {
                    limits.insert("cpu".into(), json!(quantity_cpu(l)));
                }
                if let Some(q) = c.request {
                    requests.insert("cpu".into(), json!(quantity_cpu(q)));
                }
            }
            let mut res = Map::new();
            if !limits.is_empty() {
                res.insert("limits".into(), Value::Object(limits));
            }
            if !requests.is_empty() {
                res.insert("requests".into(), Value::Object(requests));
            }
            if !res.is_empty() {
                container.insert("resources".into(), Value::Object(res));
            }
        }
        if !volume_mounts.is_empty() {
            container.insert("volumeMounts".into(), json!(volume_mounts));
        }
        let mut pod_spec = Map::new();
        let waits: Vec<Value> = u
            .svc
            .depends_on
            .iter()
            .filter_map(|d| {
                let dep = units.iter().find(|x| x.name == d)?;
                let port = dep.ports.first()?;
                let host = label(d);
                Some(json!({
                    "name": format!("wait-for-{host}"),
                    "image": WAIT_IMAGE,
                    "command": ["sh", "-c", format!("until nc -z -w 2 {host} {port}; do sleep 1; done")],
                }))
            })
            .collect();
        if !waits.is_empty() {
            pod_spec.insert("initContainers".into(), json!(waits));
        }
        pod_spec.insert("containers".into(), json!([Value::Object(container)]));
        if !volumes.is_empty() {
            pod_spec.insert("volumes".into(), json!(volumes));
        }
        let template = json!({
            "metadata": { "labels": labels },
            "spec": Value::Object(pod_spec),
        });
        let workload = match claim {
            Some(claim) => json!({
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": { "name": name, "labels": labels },
                "spec": {
                    "serviceName": name,
                    "replicas": u.replicas,
                    "selector": { "matchLabels": selector },
                    "template": template,
                    "volumeClaimTemplates": [claim],
                },
            }),
            None => json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": { "name": name, "labels": labels },
                "spec": {
                    "replicas": u.replicas,
                    "selector": { "matchLabels": selector },
                    "template": template,
                },
            }),
        };
        let kind = workload["kind"].clone();
        docs.push(workload);
        if !u.ports.is_empty() {
            let ports: Vec<Value> = u
                .ports
                .iter()
                .map(|p| json!({ "name": format!("p{p}"), "port": p, "targetPort": p }))
                .collect();
            docs.push(json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": { "name": name, "labels": labels },
                "spec": { "selector": selector, "ports": ports },
            }));
        }
        if let Some(sc) = u.scaling {
            docs.push(json!({
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": { "name": name, "labels": labels },
                "spec": {
                    "scaleTargetRef": { "apiVersion": "apps/v1", "kind": kind, "name": name },
                    "minReplicas": sc.min.max(1),
                    "maxReplicas": sc.max.max(sc.min).max(1),
                    "metrics": [{
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": { "type": "Utilization", "averageUtilization": 80 },
                        },
                    }],
                },
            }));
        }
        for p in &u.svc.ports {
            notes.push(format!(
                "{}: host port {} → kubectl port-forward svc/{name} {}:{}",
                u.name, p.host, p.host, p.container
            ));
        }
        for d in &u.svc.soft_depends_on {
            notes.push(format!(
                "{}: soft dependency on {d} is not waited for",
                u.name
            ));
        }
        docs_by_file.push((format!("{name}.yaml"), docs));
    }
    let head = comment_block(
        &format!(
            "Kubernetes manifests for `{}`, generated by `vers export kubernetes`. Apply with: kubectl apply -f .",
            manifest.name
        ),
        notes,
    );
    files.push(ExportFile {
        path: "NOTES.txt".into(),
        content: head.clone(),
    });
    for (path, docs) in docs_by_file {
        let mut content = format!(
            "# {}: generated by `vers export kubernetes`.\n",
            manifest.name
        );
        for d in &docs {
            content.push_str("---\n");
            content.push_str(&yaml::to_yaml(d));
        }
        files.push(ExportFile { path, content });
    }
    Ok(".".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_dns_labels() {
        assert_eq!(label("order_service"), "order-service");
        assert_eq!(label("API"), "api");
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity_bytes(512 * 1024 * 1024), "512Mi");
        assert_eq!(quantity_cpu(0.5), "500m");
    }
}
