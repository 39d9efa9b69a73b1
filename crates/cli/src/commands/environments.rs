//! Commands on running environments: up, down, status, logs, execute, connect.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use console::style;
use vers_engine::exec::{self, EnvCommand, Output};
use vers_engine::lifecycle::{self, UpOptions};
use vers_engine::{branches, stack, status as status_mod};

use crate::args::{ConnectArgs, DownArgs, ExecuteArgs, LogsArgs, UpArgs};
use crate::context;
use crate::exit::Exit;
use crate::output::{status_word, Live};

/// `vers integration up`.
pub async fn up(file: Option<&Path>, args: UpArgs) -> Result<i32, Exit> {
    let stack = context::stack(file).await?;
    let live = Live::new(args.json);
    let opts = UpOptions {
        checkpoint: args.checkpoint.clone(),
        services: args.services.clone(),
        rebuild: args.build,
        no_checkpoints: args.no_checkpoints,
    };
    if !args.json {
        eprintln!(
            "{} {} ({} services)",
            style("Starting").bold(),
            stack.manifest.name,
            stack.closure(&args.services).map(|s| s.len()).unwrap_or(0)
        );
    }
    let result = lifecycle::up(&stack, &opts, &live).await;
    live.clear();
    let outcome = result?;
    let report = status_mod::status(&stack).await?;
    let head = report.environments.iter().find(|e| e.head);
    if args.json {
        let doc = serde_json::json!({
            "environment": outcome.env,
            "services": head.map(|h| &h.services),
            "checkpoints": outcome.checkpoints.iter().map(|(n, id, cached)| serde_json::json!({"name": n, "id": id, "cached": cached})).collect::<Vec<_>>(),
            "snapshotter": report.snapshotter,
        });
        println!("{doc}");
        return Ok(0);
    }
    if let Some(h) = head {
        println!("{}", services_table(&h.services));
    }
    if let Some((last, _, _)) = outcome.checkpoints.last() {
        println!(
            "HEAD: {} at checkpoint {last} (snapshotter: {})",
            outcome.env, report.snapshotter
        );
    } else {
        println!("HEAD: {} (no checkpoints taken)", outcome.env);
    }
    Ok(0)
}

fn services_table(services: &[status_mod::ServiceReport]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "service",
        "template",
        "state",
        "health",
        "address",
        "host endpoint",
    ]);
    for s in services {
        t.add_row(vec![
            s.name.clone(),
            s.template.clone(),
            status_word(&s.state),
            status_word(&s.health),
            format!("{}:{}", s.name, s.port),
            s.host_endpoint.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

/// `vers integration down [--all]`.
pub async fn down(file: Option<&Path>, args: DownArgs) -> Result<i32, Exit> {
    let project = context::project(file)?;
    // `down` must work even when the manifest is broken: it needs no manifest content.
    let manifest = vers_manifest::load(&project.manifest_path)
        .unwrap_or_else(|_| vers_manifest::Manifest::empty(&project.manifest_path));
    let stack = vers_engine::Stack::open(project, manifest).await?;
    let stopped = lifecycle::down(&stack, args.all).await?;
    if stopped.is_empty() {
        println!("nothing was running");
    } else {
        println!(
            "stopped {} environment(s): {}",
            stopped.len(),
            stopped.join(", ")
        );
    }
    Ok(0)
}

/// `vers integration status`.
pub async fn status(file: Option<&Path>, json: bool) -> Result<i32, Exit> {
    let stack = context::stack(file).await?;
    let report = status_mod::status(&stack).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Exit::failure(e.to_string()))?
        );
        return Ok(0);
    }
    if report.environments.is_empty() {
        println!("no environments; start one with `vers integration up`");
        return Ok(0);
    }
    for env in &report.environments {
        println!(
            "{} {} ({}){}{}",
            if env.head {
                style("*").green().bold().to_string()
            } else {
                " ".into()
            },
            style(&env.name).bold(),
            env.id,
            format_args!(" {}", status_word(&env.status)),
            env.parent_checkpoint
                .as_ref()
                .map(|c| format!(" from {c}"))
                .unwrap_or_default()
        );
        if !env.services.is_empty() {
            println!("{}", services_table(&env.services));
        }
    }
    println!("snapshotter: {}", report.snapshotter);
    Ok(0)
}

/// `vers integration logs SVC`.
pub async fn logs(file: Option<&Path>, args: LogsArgs) -> Result<i32, Exit> {
    let stack = context::stack(file).await?;
    let env = branches::head(&stack)?;
    let svc = stack.require_service(&args.service)?;

    let since = match &args.since {
        Some(s) => Some(
            vers_manifest::parse_duration(s)
                .map_err(|e| Exit::usage(format!("error: --since {s}: {e}")))?,
        ),
        None => None,
    };
    let ctx = stack.env_context(&env.id, &env.name, &env.matrix, BTreeMap::new());
    let replicas = svc.replicas.max(1);
    let mut files = Vec::new();
    for r in 0..replicas {
        files.push(ctx.log_path(&args.service, r, replicas));
    }
    for path in &files {
        if let Some(since) = since {
            let fresh = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age <= since);
            if !fresh {
                continue;
            }
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = args
            .lines
            .map(|n| lines.len().saturating_sub(n))
            .unwrap_or(0);
        for l in &lines[from..] {
            if replicas > 1 {
                println!(
                    "{}: {l}",
                    path.file_stem().and_then(|s| s.to_str()).unwrap_or("")
                );
            } else {
                println!("{l}");
            }
        }
    }
    if args.follow {
        let mut offsets: Vec<u64> = files
            .iter()
            .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .collect();
        loop {
            for (i, path) in files.iter().enumerate() {
                if let Ok(mut f) = std::fs::File::open(path) {
                    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                    if len > offsets[i] && f.seek(SeekFrom::Start(offsets[i])).is_ok() {
                        let mut buf = String::new();
                        let _ = f.read_to_string(&mut buf);
                        print!("{buf}");
                        offsets[i] = len;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(0)
}

fn service_context(
    stack: &vers_engine::Stack,
    ctx: &vers_engine::environment::EnvContext,
    service: Option<&str>,
) -> Result<(BTreeMap<String, String>, std::path::PathBuf), Exit> {
    let mut env = stack::command_env(stack, ctx, &BTreeMap::new())?;
    let mut cwd = stack.project.dir.clone();
    if let Some(name) = service {
        let svc =
            stack.manifest.services.get(name).ok_or_else(|| {
                Exit::usage(format!("error: no service `{name}` in the manifest"))
            })?;
        for (k, v) in &svc.env {
            env.insert(k.clone(), ctx.interpolate(v)?);
        }
        if let Some(b) = &svc.build {
            cwd = stack.project.dir.join(&b.context);
        }
    }
    Ok((env, cwd))
}

/// `vers execute "CMD"`: exit code is CMD's.
pub async fn execute(file: Option<&Path>, args: ExecuteArgs) -> Result<i32, Exit> {
    let stack = context::stack(file).await?;
    let env = branches::head(&stack)?;
    let ctx = stack.env_context(&env.id, &env.name, &env.matrix, BTreeMap::new());
    let (vars, cwd) = service_context(&stack, &ctx, args.service.as_deref())?;
    let cmd = EnvCommand::shell(&args.command, &cwd, &vars);
    let done = exec::run_in_env(&stack.project, &env.id, &cmd, Output::Inherit, None).await?;
    Ok(done.code.unwrap_or(1))
}

/// `vers connect`: an interactive shell in HEAD.
pub async fn connect(file: Option<&Path>, args: ConnectArgs) -> Result<i32, Exit> {
    let stack = context::stack(file).await?;
    let env = branches::head(&stack)?;
    let ctx = stack.env_context(&env.id, &env.name, &env.matrix, BTreeMap::new());
    let (mut vars, cwd) = service_context(&stack, &ctx, args.service.as_deref())?;
    vars.insert("PS1".into(), format!("[vers {}] \\w$ ", env.name));
    let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/bash".into());
    let cmd = EnvCommand {
        program: shell.into(),
        args: Vec::new(),
        env: exec::base_env(&vars),
        cwd,
        user: None,
    };
    let done = exec::run_in_env(&stack.project, &env.id, &cmd, Output::Inherit, None).await?;
    Ok(done.code.unwrap_or(1))
}
