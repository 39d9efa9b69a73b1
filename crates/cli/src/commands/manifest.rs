//! Commands on the manifest: validate, plan, init, add, remove.

use std::path::Path;

use vers_engine::manifest_edit;

use crate::args::{AddArgs, InitArgs, RemoveArgs};
use crate::context;
use crate::exit::Exit;

/// `vers integration validate`.
pub fn validate(file: Option<&Path>, json: bool) -> Result<i32, Exit> {
    let project = context::project(file)?;
    let loaded = match vers_manifest::load(&project.manifest_path) {
        Ok(m) => context::fork_point_errors(&project, Some(&m)).map(|()| m),
        // The names suites fork from are checked too, so one run shows every mistake.
        Err(mut d) => {
            if let Err(more) = context::fork_point_errors(&project, None) {
                d.0.extend(more.0);
                d.0.sort_by_key(|e| (e.line, e.column));
            }
            Err(d)
        }
    };
    match loaded {
        Ok(m) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"valid": true, "file": project.manifest_path, "errors": []})
                );
            } else {
                println!(
                    "{}: valid ({} services, {} test suites, {} checkpoints)",
                    project.manifest_path.display(),
                    m.services.len(),
                    m.tests.len(),
                    m.checkpoints.len()
                );
            }
            Ok(0)
        }
        Err(d) => {
            if json {
                println!(
                    "{}",
                    crate::exit::diagnostics_json(&project.manifest_path, &d)
                );
                Err(Exit::silent(2))
            } else {
                Err(Exit::usage(d.to_string()))
            }
        }
    }
}

/// `vers integration plan`.
pub async fn plan(file: Option<&Path>, json: bool) -> Result<i32, Exit> {
    let project = context::project(file)?;
    let m = context::manifest(&project)?;
    let plan = vers_manifest::plan(&m);
    let cache = checkpoint_cache(&project, &plan.checkpoints).await;
    if json {
        let mut doc = serde_json::to_value(&plan)
            .map_err(|e| Exit::failure(format!("rendering the plan: {e}")))?;
        doc["checkpoint_cache"] = serde_json::to_value(&cache)
            .map_err(|e| Exit::failure(format!("rendering the plan: {e}")))?;
        let text = serde_json::to_string_pretty(&doc)
            .map_err(|e| Exit::failure(format!("rendering the plan: {e}")))?;
        println!("{text}");
        return Ok(0);
    }
    println!("Start waves:");
    for (i, wave) in plan.waves.iter().enumerate() {
        println!("  {}. {}", i + 1, wave.join(", "));
    }
    println!("Checkpoints:");
    for c in &plan.checkpoints {
        match cache.iter().find(|r| &r.name == c) {
            Some(r) => println!("  - {c} ({})", r.reason),
            None => println!("  - {c}"),
        }
    }
    println!("Tests:");
    for t in &plan.tests {
        println!(
            "  {} ({} branches): {}",
            t.suite,
            t.branches.len(),
            t.branches.join(", ")
        );
    }
    if !plan.matrix.is_empty() {
        println!("Matrix ({} combinations):", plan.matrix.len());
        for combo in &plan.matrix {
            let parts: Vec<String> = combo.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("  - {}", parts.join(", "));
        }
    }
    Ok(0)
}

/// Whether `up` would reuse each checkpoint, and why, as the project's daemon sees it; a
/// project that never took one is not worth starting a daemon for.
async fn checkpoint_cache(
    project: &vers_engine::Project,
    names: &[String],
) -> Vec<vers_engine::checkpoint::Reuse> {
    let never = || {
        names
            .iter()
            .map(|n| vers_engine::checkpoint::Reuse {
                name: n.clone(),
                reused: false,
                checkpoint: None,
                reason: "new: never taken".into(),
            })
            .collect()
    };
    if !project.state_dir.join("state.json").exists() {
        return never();
    }
    let answer = async {
        let api = vers_engine::api::client::ApiClient::connect(project).await?;
        api.call::<()>(
            vers_engine::api::client::Method::GET,
            "/api/checkpoints",
            None,
            &vers_engine::progress::Silent,
        )
        .await
    }
    .await;
    match answer.map(|a| serde_json::from_value(a["chain"].clone())) {
        Ok(Ok(chain)) => chain,
        Ok(Err(e)) => {
            eprintln!("warning: decoding the checkpoint cache: {e}");
            Vec::new()
        }
        Err(e) => {
            eprintln!("warning: cannot tell which checkpoints are cached: {e}");
            Vec::new()
        }
    }
}

/// `vers integration init NAME [--template T]`.
pub fn init(args: InitArgs) -> Result<i32, Exit> {
    let dir = match args.dir {
        Some(d) => d,
        None => std::env::current_dir().map_err(|e| Exit::failure(e.to_string()))?,
    };
    let done = manifest_edit::init(&dir, &args.name, &args.template)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"manifest": done.manifest.display().to_string(), "template": done.template, "name": args.name})
        );
        return Ok(0);
    }
    println!(
        "wrote {} from the {} template; next: vers integration validate && vers integration up",
        done.manifest.display(),
        done.template
    );
    Ok(0)
}

/// `vers integration add SVC@VER [--alias A] [--config k=v]`.
pub fn add(file: Option<&Path>, args: AddArgs) -> Result<i32, Exit> {
    let project = context::project(file)?;
    let done = manifest_edit::add(
        &project,
        &args.template,
        args.alias.as_deref(),
        &args.config,
    )?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"service": done.service, "template": done.template, "manifest": done.manifest.display().to_string()})
        );
        return Ok(0);
    }
    println!(
        "added service {} ({}) to {}",
        done.service,
        done.template,
        done.manifest.display()
    );
    Ok(0)
}

/// `vers remove SERVICE`: out of the manifest, and stopped in HEAD.
pub async fn remove(file: Option<&Path>, args: RemoveArgs) -> Result<i32, Exit> {
    let project = context::project(file)?;
    context::manifest(&project)?;
    let api = context::api(file).await?;
    let done = manifest_edit::remove(&api, &project, &args.service).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&done)
            .map_err(|e| Exit::failure(format!("rendering JSON: {e}")))?;
        println!("{text}");
        return Ok(0);
    }
    println!(
        "removed service {} from {}{}",
        done.service,
        done.manifest,
        done.stopped_in
            .map(|e| format!("; stopped it in {e}"))
            .unwrap_or_default()
    );
    Ok(0)
}
