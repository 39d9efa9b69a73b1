//! `vers deploy NAME [--from X]`, `vers deploy rollback|rm NAME`, `vers deployments`.

use std::path::Path;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::{json, Value};
use vers_engine::api::client::{ApiClient, Method};
use vers_engine::api::requests::{DeployRequest, DeployRollbackRequest, PreviewRequest};
use vers_engine::deploy::DeploymentView;
use vers_engine::progress::Silent;
use vers_engine::status::StatusReport;

use crate::args::{DeployAction, DeployArgs, PreviewCommand};
use crate::context;
use crate::exit::Exit;
use crate::output::Live;

/// `vers deploy ...`.
pub async fn deploy(file: Option<&Path>, args: DeployArgs) -> Result<i32, Exit> {
    match args.action {
        Some(DeployAction::Rm { name, json: _ }) => {
            let api = context::api(file).await?;
            let path = format!("/api/deployments/{name}");
            let answer = api.call::<()>(Method::DELETE, &path, None, &Silent).await?;
            println!("{answer}");
            Ok(0)
        }
        Some(DeployAction::Rollback { name, to, json }) => {
            let api = context::validated_api(file).await?;
            let live = Live::new(json);
            let req = DeployRollbackRequest {
                name: name.clone(),
                to,
            };
            let view: Result<DeploymentView, _> = api
                .call_as(
                    Method::POST,
                    &format!("/api/deployments/{name}/rollback"),
                    Some(&req),
                    &live,
                )
                .await;
            live.clear();
            show(&api, view?, json).await
        }
        None => {
            let name = args.name.ok_or_else(|| {
                Exit::usage(
                    "usage: vers deploy NAME [--from TAG|BRANCH] (or deploy rollback|rm NAME)",
                )
            })?;
            let api = context::validated_api(file).await?;
            let live = Live::new(args.json);
            let req = DeployRequest {
                name,
                from: args.from.clone(),
            };
            let view: Result<DeploymentView, _> = api
                .call_as(Method::POST, "/api/deployments", Some(&req), &live)
                .await;
            live.clear();
            show(&api, view?, args.json).await
        }
    }
}

/// Host endpoints of each service of environment `env`: `{service: "127.0.0.1:PORT"}`.
async fn endpoints(api: &ApiClient, env: Option<&str>) -> Result<Value, Exit> {
    let report: StatusReport = api
        .call_as::<(), _>(Method::GET, "/api/status", None, &Silent)
        .await?;
    let mut out = serde_json::Map::new();
    if let Some(e) = report
        .environments
        .iter()
        .find(|e| Some(e.id.as_str()) == env)
    {
        for s in &e.services {
            out.insert(s.name.clone(), json!(s.host_endpoint));
        }
    }
    Ok(Value::Object(out))
}

fn doc(v: &DeploymentView, endpoints: Value) -> Value {
    let mut d = serde_json::to_value(v).unwrap_or(Value::Null);
    if let Some(m) = d.as_object_mut() {
        m.insert("endpoints".into(), endpoints);
    }
    d
}

async fn show(api: &ApiClient, v: DeploymentView, as_json: bool) -> Result<i32, Exit> {
    let ep = endpoints(api, v.env.as_deref()).await?;
    if as_json {
        println!("{}", doc(&v, ep));
        return Ok(0);
    }
    println!(
        "Deployment {} v{} ({}) from {}: {}",
        v.name,
        v.version,
        v.env_name.as_deref().unwrap_or("-"),
        v.checkpoint,
        v.state
    );
    if let Some(m) = ep.as_object() {
        for (svc, e) in m {
            if let Some(e) = e.as_str() {
                println!("  {svc}: {e}");
            }
        }
    }
    Ok(0)
}

/// `vers preview create|list|rm`.
pub async fn preview(file: Option<&Path>, cmd: PreviewCommand) -> Result<i32, Exit> {
    match cmd {
        PreviewCommand::Create {
            name,
            from,
            ttl,
            json,
        } => {
            let api = context::validated_api(file).await?;
            let live = Live::new(json);
            let req = PreviewRequest { name, from, ttl };
            let view: Result<DeploymentView, _> = api
                .call_as(Method::POST, "/api/previews", Some(&req), &live)
                .await;
            live.clear();
            show(&api, view?, json).await
        }
        PreviewCommand::List(a) => list(file, a.json, true).await,
        PreviewCommand::Rm { name, json: _ } => {
            let api = context::api(file).await?;
            let path = format!("/api/previews/{name}");
            let answer = api.call::<()>(Method::DELETE, &path, None, &Silent).await?;
            println!("{answer}");
            Ok(0)
        }
    }
}

/// `vers deployments [--json]` (`previews`: `vers preview list`).
pub async fn list(file: Option<&Path>, as_json: bool, previews: bool) -> Result<i32, Exit> {
    let api = context::api(file).await?;
    let views: Vec<DeploymentView> = api
        .call_as::<(), _>(Method::GET, "/api/deployments", None, &Silent)
        .await?;
    let views: Vec<DeploymentView> = views
        .into_iter()
        .filter(|v| v.preview == previews)
        .collect();
    let key = if previews { "previews" } else { "deployments" };
    let mut docs = Vec::new();
    for v in &views {
        docs.push(doc(v, endpoints(&api, v.env.as_deref()).await?));
    }
    if as_json {
        println!("{}", json!({ key: docs }));
        return Ok(0);
    }
    if docs.is_empty() {
        println!("No {key}.");
        return Ok(0);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "name",
        "version",
        "checkpoint",
        "started",
        "state",
        "expires",
        "endpoints",
    ]);
    for (v, d) in views.iter().zip(&docs) {
        let ep: Vec<String> = d["endpoints"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, e)| e.as_str().map(|e| format!("{k}={e}")))
                    .collect()
            })
            .unwrap_or_default();
        t.add_row(vec![
            v.name.clone(),
            format!("v{}", v.version),
            v.checkpoint.clone(),
            v.started.to_string(),
            v.state.clone(),
            v.expires
                .map(|e| e.to_string())
                .unwrap_or_else(|| "-".into()),
            ep.join(" "),
        ]);
    }
    println!("{t}");
    Ok(0)
}
