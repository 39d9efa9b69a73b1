//! Checkpoint and branch commands: commit, branch (create/list/delete), checkout, rollback, log.

use std::path::Path;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use vers_engine::{branches, state};

use crate::args::{BranchAction, BranchArgs, CheckoutArgs, CommitArgs, LogArgs, RollbackArgs};
use crate::context;
use crate::exit::Exit;
use crate::output::{status_word, Live};

/// `vers commit --tag T [--message M]`: prints `{"commit_id","tag"}`.
pub async fn commit(file: Option<&Path>, args: CommitArgs) -> Result<i32, Exit> {
    let stack = context::stack(file).await?;
    let rec = branches::commit(&stack, &args.tag, args.message.clone()).await?;
    println!(
        "{}",
        serde_json::json!({"commit_id": rec.id, "tag": rec.name})
    );
    Ok(0)
}

/// `vers branch ...`.
pub async fn branch(file: Option<&Path>, args: BranchArgs) -> Result<i32, Exit> {
    let stack = context::stack(file).await?;
    match args.action {
        None => {
            let live = Live::new(false);
            let env =
                branches::branch(&stack, args.alias.as_deref(), args.from.as_deref(), &live).await;
            live.clear();
            let env = env?;
            println!(
                "{}",
                serde_json::json!({"id": env.id, "name": env.name, "from": env.parent_checkpoint})
            );
            Ok(0)
        }
        Some(BranchAction::List { format }) => {
            let st = state::read(&stack.project.state_dir)?;
            let mut envs: Vec<&state::EnvRecord> = st.envs.values().collect();
            envs.sort_by_key(|e| (e.created, e.id.len(), e.id.clone()));
            match format.as_str() {
                "json" => {
                    let list: Vec<serde_json::Value> = envs
                        .iter()
                        .map(|e| {
                            serde_json::json!({
                                "id": e.id, "name": e.name, "head": st.head.as_deref() == Some(e.id.as_str()),
                                "root": e.root, "status": e.status,
                                "from": e.parent_checkpoint.as_ref().and_then(|c| st.checkpoints.get(c)).map(|c| c.name.clone()),
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
                            if st.head.as_deref() == Some(e.id.as_str()) {
                                "*".into()
                            } else {
                                String::new()
                            },
                            e.name.clone(),
                            e.id.clone(),
                            status_word(&format!("{:?}", e.status).to_lowercase()),
                            e.parent_checkpoint
                                .as_ref()
                                .and_then(|c| st.checkpoints.get(c))
                                .map(|c| c.name.clone())
                                .unwrap_or_else(|| "-".into()),
                            e.services.len().to_string(),
                        ]);
                    }
                    println!("{t}");
                }
            }
            Ok(0)
        }
        Some(BranchAction::Delete { name, force }) => {
            let removed = branches::delete(&stack, &name, force).await?;
            println!("deleted {}", removed.join(", "));
            Ok(0)
        }
    }
}

/// `vers checkout NAME`.
pub async fn checkout(file: Option<&Path>, args: CheckoutArgs) -> Result<i32, Exit> {
    let stack = context::stack(file).await?;
    let live = Live::new(false);
    let env = branches::checkout(&stack, &args.name, &live).await;
    live.clear();
    let env = env?;
    println!("HEAD is now {} ({})", env.name, env.id);
    Ok(0)
}

/// `vers rollback TAG|HEAD`.
pub async fn rollback(file: Option<&Path>, args: RollbackArgs) -> Result<i32, Exit> {
    let stack = context::stack(file).await?;
    let live = Live::new(false);
    let rec = branches::rollback(&stack, &args.target, &live).await;
    live.clear();
    let rec = rec?;
    println!("HEAD rolled back to {} ({})", rec.name, rec.id);
    Ok(0)
}

/// `vers log`.
pub async fn log(file: Option<&Path>, args: LogArgs) -> Result<i32, Exit> {
    let project = context::project(file)?;
    let st = state::read(&project.state_dir)?;
    let manifest = context::manifest(&project)?;
    let stack_entries = {
        let stack = vers_engine::Stack::open(project, manifest).await?;
        branches::log(&stack)?
    };
    if args.format == "json" {
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
        let tags: Vec<&String> = st
            .tags
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
