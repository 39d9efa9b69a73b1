//! Checkpoint and branch commands: commit, branch (create/list/delete), checkout, rollback, log.

use std::path::Path;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use vers_engine::api::client::Method;
use vers_engine::api::facade::BranchInfo;
use vers_engine::api::requests::{BranchRequest, CheckoutRequest, CommitRequest, RollbackRequest};
use vers_engine::branches::LogEntry;
use vers_engine::progress::Silent;
use vers_engine::state::{CheckpointRecord, EnvRecord};

use vers_engine::prune::Removed;

use crate::args::{
    BranchAction, BranchArgs, CheckoutArgs, CheckpointCommand, CommitArgs, LogArgs, RollbackArgs,
};
use crate::context;
use crate::exit::Exit;
use crate::output::{status_word, Live};

/// `vers commit --tag T [--message M]`: prints `{"commit_id","tag"}`.
pub async fn commit(file: Option<&Path>, args: CommitArgs) -> Result<i32, Exit> {
    let api = context::validated_api(file).await?;
    let req = CommitRequest {
        tag: args.tag.clone(),
        message: args.message.clone(),
        env: None,
        force: args.force,
    };
    let answer = api
        .call(Method::POST, "/api/commit", Some(&req), &Silent)
        .await?;
    if let Some(note) = answer["note"].as_str() {
        eprintln!("note: {note}");
    }
    println!(
        "{}",
        serde_json::json!({"commit_id": answer["commit_id"], "tag": answer["tag"]})
    );
    Ok(0)
}

/// `vers branch ...`.
pub async fn branch(file: Option<&Path>, args: BranchArgs) -> Result<i32, Exit> {
    match args.action {
        None => {
            let api = context::validated_api(file).await?;
            let live = Live::new(false);
            let req = BranchRequest {
                alias: args.alias.clone(),
                from: args.from.clone(),
            };
            let env: Result<EnvRecord, _> = api
                .call_as(Method::POST, "/api/branches", Some(&req), &live)
                .await;
            live.clear();
            let env = env?;
            println!(
                "{}",
                serde_json::json!({"id": env.id, "name": env.name, "from": env.parent_checkpoint})
            );
            Ok(0)
        }
        Some(BranchAction::List { format, json }) => {
            let format = if json { "json".to_string() } else { format };
            let api = context::api(file).await?;
            let envs: Vec<BranchInfo> = api
                .call_as::<(), _>(Method::GET, "/api/branches", None, &Silent)
                .await?;
            match format.as_str() {
                "json" => {
                    let list: Vec<serde_json::Value> = envs
                        .iter()
                        .map(|e| {
                            serde_json::json!({
                                "id": e.id, "name": e.name, "head": e.head,
                                "root": e.root, "status": e.status,
                                "from": e.from,
                                "services": e.services,
                            })
                        })
                        .collect();
                    println!("{}", serde_json::Value::Array(list));
                }
                "names" => {
                    for e in envs {
                        println!("{}", e.name);
                    }
                }
                _ => {
                    let mut t = Table::new();
                    t.load_preset(UTF8_FULL_CONDENSED);
                    t.set_header(vec![
                        "",
                        "name",
                        "id",
                        "status",
                        "from checkpoint",
                        "services",
                    ]);
                    for e in envs {
                        t.add_row(vec![
                            if e.head { "*".into() } else { String::new() },
                            e.name.clone(),
                            e.id.clone(),
                            status_word(&format!("{:?}", e.status).to_lowercase()),
                            e.from.clone().unwrap_or_else(|| "-".into()),
                            e.services.len().to_string(),
                        ]);
                    }
                    println!("{t}");
                }
            }
            Ok(0)
        }
        Some(BranchAction::Delete { name, force, json }) => {
            let api = context::api(file).await?;
            let path = format!("/api/branches/{}?force={force}", utf8_percent(&name));
            let answer = api.call::<()>(Method::DELETE, &path, None, &Silent).await?;
            let removed: Vec<String> = serde_json::from_value(answer["deleted"].clone())
                .map_err(|e| Exit::failure(e.to_string()))?;
            if json {
                println!("{}", serde_json::json!({ "deleted": removed }));
            } else {
                println!("deleted {}", removed.join(", "));
            }
            Ok(0)
        }
    }
}

/// `vers checkout NAME`.
pub async fn checkout(file: Option<&Path>, args: CheckoutArgs) -> Result<i32, Exit> {
    let api = context::validated_api(file).await?;
    let live = Live::new(false);
    let req = CheckoutRequest {
        name: args.name.clone(),
    };
    let env: Result<EnvRecord, _> = api
        .call_as(Method::POST, "/api/checkout", Some(&req), &live)
        .await;
    live.clear();
    let env = env?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"id": env.id, "name": env.name, "from": env.parent_checkpoint, "head": true})
        );
    } else {
        println!("HEAD is now {} ({})", env.name, env.id);
    }
    Ok(0)
}

/// `vers rollback TAG|HEAD`.
pub async fn rollback(file: Option<&Path>, args: RollbackArgs) -> Result<i32, Exit> {
    let api = context::validated_api(file).await?;
    let live = Live::new(false);
    let req = RollbackRequest {
        target: args.target.clone(),
    };
    let rec: Result<CheckpointRecord, _> = api
        .call_as(Method::POST, "/api/rollback", Some(&req), &live)
        .await;
    live.clear();
    let rec = rec?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"checkpoint_id": rec.id, "checkpoint": rec.name})
        );
    } else {
        println!("HEAD rolled back to {} ({})", rec.name, rec.id);
    }
    Ok(0)
}

/// `vers log`.
pub async fn log(file: Option<&Path>, args: LogArgs) -> Result<i32, Exit> {
    // The checkpoint tree needs no manifest: it works with a broken one.
    let api = context::api(file).await?;
    let answer = api
        .call::<()>(Method::GET, "/api/log", None, &Silent)
        .await?;
    let stack_entries: Vec<LogEntry> = serde_json::from_value(answer["entries"].clone())
        .map_err(|e| Exit::failure(e.to_string()))?;
    let tags: std::collections::BTreeMap<String, String> =
        serde_json::from_value(answer["tags"].clone()).unwrap_or_default();
    if args.json || args.format == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(&stack_entries)
                .map_err(|e| Exit::failure(e.to_string()))?
        );
        return Ok(0);
    }
    if stack_entries.is_empty() {
        println!("no checkpoints yet; `vers integration up` takes them");
    }
    for e in &stack_entries {
        let tags: Vec<&String> = tags
            .iter()
            .filter(|(t, id)| **id == e.id && **t != e.name)
            .map(|(t, _)| t)
            .collect();
        println!(
            "{}● {} {}{}{}",
            "  ".repeat(e.depth),
            e.id,
            e.name,
            if tags.is_empty() {
                String::new()
            } else {
                format!(
                    " (also: {})",
                    tags.into_iter().cloned().collect::<Vec<_>>().join(", ")
                )
            },
            e.message
                .as_ref()
                .map(|m| format!(" — {m}"))
                .unwrap_or_default()
        );
    }
    Ok(0)
}

/// `vers checkpoint rm TAG` and `vers checkpoint prune`.
pub async fn checkpoint(file: Option<&Path>, cmd: CheckpointCommand) -> Result<i32, Exit> {
    // Like `down`, these need no manifest content: they work with a broken one.
    let api = context::api(file).await?;
    let (answer, json) = match cmd {
        CheckpointCommand::Rm { tag, json } => {
            let path = format!("/api/checkpoints/{}", utf8_percent(&tag));
            (
                api.call::<()>(Method::DELETE, &path, None, &Silent).await?,
                json,
            )
        }
        CheckpointCommand::Prune(a) => (
            api.call::<()>(Method::POST, "/api/checkpoints/prune", None, &Silent)
                .await?,
            a.json,
        ),
    };
    let removed: Vec<Removed> = serde_json::from_value(answer["removed"].clone())
        .map_err(|e| Exit::failure(format!("decoding the answer: {e}")))?;
    if json {
        println!("{}", serde_json::json!({ "removed": removed }));
    } else if removed.is_empty() {
        println!("no checkpoint to delete");
    } else {
        for r in &removed {
            println!("deleted checkpoint {} ({})", r.name, r.id);
        }
    }
    Ok(0)
}

/// Escapes a branch name or glob for a URL path segment.
fn utf8_percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
