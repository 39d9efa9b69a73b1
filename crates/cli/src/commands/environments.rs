//! Commands on running environments: up, down, status, logs, execute, connect.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use console::style;
use vers_engine::api::client::Method;
use vers_engine::api::facade::ExecSpec;
use vers_engine::api::requests::{DownRequest, ExecSpecRequest, StopServicesRequest, UpRequest};
use vers_engine::exec::{self, EnvCommand, Output};
use vers_engine::progress::Silent;
use vers_engine::status as status_mod;

use crate::args::{ConnectArgs, DownArgs, ExecuteArgs, LogsArgs, UpArgs};
use crate::context;
use crate::exit::Exit;
use crate::output::{status_word, Live};

/// `vers integration up`.
pub async fn up(file: Option<&Path>, args: UpArgs) -> Result<i32, Exit> {
    let api = context::validated_api(file).await?;
    let live = Live::new(args.json);
    let req = UpRequest {
        checkpoint: args.checkpoint.clone(),
        services: args.services.clone(),
        build: args.build,
        no_checkpoints: args.no_checkpoints,
        rebuild: args.rebuild,
    };
    let result: Result<UpAnswer, _> = api
        .call_as(Method::POST, "/api/up", Some(&req), &live)
        .await;
    live.clear();
    let UpAnswer {
        outcome,
        status: report,
    } = result?;
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

/// The answer of `POST /api/up`.
#[derive(serde::Deserialize)]
struct UpAnswer {
    outcome: vers_engine::lifecycle::UpOutcome,
    status: status_mod::StatusReport,
}

fn services_table(services: &[status_mod::ServiceReport]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "service",
        "template",
        "engine",
        "state",
        "health",
        "address",
        "host endpoint",
    ]);
    for s in services {
        t.add_row(vec![
            s.name.clone(),
            s.template.clone(),
            engine_cell(s.engine.as_ref()),
            match &s.reason {
                Some(why) => format!("{} ({why})", status_word(&s.state)),
                None => status_word(&s.state),
            },
            status_word(&s.health),
            format!("{}:{}", s.name, s.port),
            s.host_endpoint.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

/// The engine column: the version of a real engine, the implementation of a stand-in.
fn engine_cell(engine: Option<&status_mod::EngineReport>) -> String {
    match engine {
        None => "-".into(),
        Some(e) if e.stand_in.is_some() => format!("{}, stand-in", e.implementation),
        Some(e) => e.version.clone(),
    }
}

/// `vers integration down [--all | --services a,b]`.
pub async fn down(file: Option<&Path>, args: DownArgs) -> Result<i32, Exit> {
    if !args.services.is_empty() {
        return down_services(file, &args).await;
    }
    // `down` must work even when the manifest is broken: it needs no manifest content.
    let project = context::project(file)?;
    let api = vers_engine::api::client::ApiClient::connect(&project)
        .await
        .map_err(Exit::from)?;
    let req = DownRequest {
        all: args.all,
        deployments: args.deployments,
        services: Vec::new(),
    };
    let answer = api
        .call(Method::POST, "/api/down", Some(&req), &Silent)
        .await?;
    let names = |key: &str| -> Vec<String> {
        answer[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let kept = names("kept_deployments");
    let removed = names("removed_deployments");
    if args.all && kept.is_empty() {
        // The daemon answers before it exits; `down --all` returns once it is gone, so a
        // script that checks right after sees no daemon.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while vers_engine::supervisor::start::daemon_alive(&project)
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let stopped = names("stopped");
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "stopped_environments": stopped,
                "removed_deployments": removed,
                "kept_deployments": kept,
            })
        );
        return Ok(0);
    }
    if !removed.is_empty() {
        println!("removed deployment(s): {}", removed.join(", "));
    }
    if !kept.is_empty() {
        println!(
            "deployment(s) left running: {} (the daemon stays for them; `vers down --all \
             --deployments` removes them too)",
            kept.join(", ")
        );
    }
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

/// `down --services a,b`: only those services of HEAD stop.
async fn down_services(file: Option<&Path>, args: &DownArgs) -> Result<i32, Exit> {
    // Stopping what runs needs no valid manifest on disk: the daemon uses the one HEAD was
    // started with, and says so.
    let api = context::serving_api(file).await?;
    let req = StopServicesRequest {
        services: args.services.clone(),
    };
    let answer = api
        .call(Method::POST, "/api/services/stop", Some(&req), &Silent)
        .await?;
    context::warn(&answer);
    let done: vers_engine::services::StopOutcome = serde_json::from_value(answer.clone())
        .map_err(|e| Exit::failure(format!("reading the daemon's answer: {e}")))?;
    if args.json {
        let text = serde_json::to_string_pretty(&answer)
            .map_err(|e| Exit::failure(format!("rendering JSON: {e}")))?;
        println!("{text}");
        return Ok(0);
    }
    if !done.stopped.is_empty() {
        println!(
            "stopped {} in {}",
            done.stopped.join(", "),
            done.environment_name
        );
    }
    if !done.already_stopped.is_empty() {
        println!("already stopped: {}", done.already_stopped.join(", "));
    }
    if !done.dependants_running.is_empty() {
        eprintln!(
            "warning: still running and depending on them: {}",
            done.dependants_running.join(", ")
        );
    }
    Ok(0)
}

/// `vers integration status`.
pub async fn status(file: Option<&Path>, json: bool) -> Result<i32, Exit> {
    let api = context::serving_api(file).await?;
    let report: status_mod::StatusReport = api
        .call_as::<(), _>(Method::GET, "/api/status", None, &Silent)
        .await?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
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
    for env in report
        .environments
        .iter()
        .filter(|e| e.deployment.is_none())
    {
        println!(
            "{} {} ({}){}{}{}",
            if env.head {
                style("*").green().bold().to_string()
            } else {
                " ".into()
            },
            style(&env.name).bold(),
            env.id,
            format_args!(" {}", status_word(&env.status)),
            if env.warm { " warm" } else { "" },
            env.parent_checkpoint
                .as_ref()
                .map(|c| format!(" from {c}"))
                .unwrap_or_default()
        );
        if env.status == "stopped" {
            // Its processes are gone (e.g. the daemon died under it); its data is kept.
            println!(
                "  its processes are gone, its data is kept: `vers checkout {}`{} starts it again",
                env.name,
                if env.name == "root" {
                    " or `vers up`"
                } else {
                    ""
                }
            );
        }
        if !env.services.is_empty() {
            println!("{}", services_table(&env.services));
        }
    }
    if !report.deployments.is_empty() {
        println!("{}", style("deployments").bold());
        for d in &report.deployments {
            println!(
                "  {} v{} ({}){}{}",
                style(&d.name).bold(),
                d.version,
                d.env_name.as_deref().unwrap_or("-"),
                format_args!(" {}", status_word(&d.status)),
                if d.preview { " preview" } else { "" },
            );
            if let Some(env) = report
                .environments
                .iter()
                .find(|e| d.env.as_deref() == Some(e.id.as_str()))
            {
                println!("{}", services_table(&env.services));
            }
        }
    }
    println!("snapshotter: {}", report.snapshotter);
    if let Some(store) = &report.store {
        println!(
            "store: {} MB of {} MB free, grows up to {} MB ({}){}",
            store.free_bytes / 1_000_000,
            store.size_bytes / 1_000_000,
            store.limit_bytes / 1_000_000,
            store.limit_from,
            match &store.full {
                Some(m) => format!("\n{}", style(m).red().bold()),
                None => String::new(),
            }
        );
    }
    if !report.checkpoints.is_empty() {
        println!("checkpoints (what `up` would do):");
        for c in &report.checkpoints {
            println!("  {}: {}", c.name, c.reason);
        }
    }
    Ok(0)
}

/// `vers integration logs SVC`.
pub async fn logs(file: Option<&Path>, args: LogsArgs) -> Result<i32, Exit> {
    let api = context::serving_api(file).await?;
    let mut path = format!("/api/services/{}/logs?", args.service);
    if let Some(n) = args.lines {
        path.push_str(&format!("lines={n}&"));
    }
    if let Some(s) = &args.since {
        vers_manifest::parse_duration(s)
            .map_err(|e| Exit::usage(format!("error: --since {s}: {e}")))?;
        path.push_str(&format!("since={s}"));
    }
    let answer = api.call::<()>(Method::GET, &path, None, &Silent).await?;
    context::warn(&answer);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_else(|_| answer.to_string())
        );
        return Ok(0);
    }
    let replicas = answer["replicas"].as_u64().unwrap_or(1);
    let mut files = Vec::new();
    for f in answer["files"].as_array().into_iter().flatten() {
        let p = std::path::PathBuf::from(f["path"].as_str().unwrap_or_default());
        if let Some(e) = f["error"].as_str() {
            eprintln!("warning: reading {e}");
        }
        for l in f["lines"].as_array().into_iter().flatten() {
            let l = l.as_str().unwrap_or_default();
            if replicas > 1 {
                println!(
                    "{}: {l}",
                    p.file_stem().and_then(|s| s.to_str()).unwrap_or("")
                );
            } else {
                println!("{l}");
            }
        }
        files.push(p);
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
                    // A log cut at its cap starts again shorter: follow it from its start.
                    if len < offsets[i] {
                        offsets[i] = 0;
                    }
                    if len > offsets[i] && f.seek(SeekFrom::Start(offsets[i])).is_ok() {
                        let mut buf = Vec::new();
                        match f.take(len - offsets[i]).read_to_end(&mut buf) {
                            Ok(_) => {
                                print!("{}", String::from_utf8_lossy(&buf));
                                offsets[i] += buf.len() as u64;
                            }
                            Err(e) => eprintln!("warning: reading {}: {e}", path.display()),
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(0)
}

/// Asks the daemon where and how a command runs in HEAD (with `service`: in its context).
async fn exec_spec(file: Option<&Path>, service: Option<String>) -> Result<ExecSpec, Exit> {
    let api = context::serving_api(file).await?;
    let req = ExecSpecRequest { service };
    let spec: ExecSpec = api
        .call_as(Method::POST, "/api/exec/spec", Some(&req), &Silent)
        .await?;
    if let Some(w) = &spec.warning {
        eprintln!("warning: {w}");
    }
    Ok(spec)
}

/// `vers execute "CMD"`: exit code is CMD's. It runs here, on the caller's terminal.
pub async fn execute(file: Option<&Path>, args: ExecuteArgs) -> Result<i32, Exit> {
    let spec = exec_spec(file, args.service.clone()).await?;
    let project = context::project(file)?;
    let cmd = EnvCommand {
        netns: spec.netns,
        ..EnvCommand::shell(&args.command, &spec.cwd, &spec.vars)
    };
    let done = exec::run_in_env(&project, &spec.env, &cmd, Output::Inherit, None).await?;
    Ok(done.code.unwrap_or(1))
}

/// `vers connect`: an interactive shell in HEAD.
pub async fn connect(file: Option<&Path>, args: ConnectArgs) -> Result<i32, Exit> {
    let spec = exec_spec(file, args.service.clone()).await?;
    let project = context::project(file)?;
    let mut vars = spec.vars;
    vars.insert("PS1".into(), format!("[vers {}] \\w$ ", spec.name));
    let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/bash".into());
    let cmd = EnvCommand {
        program: shell.into(),
        args: Vec::new(),
        env: exec::base_env(&vars),
        cwd: spec.cwd,
        user: None,
        netns: spec.netns,
    };
    let done = exec::run_in_env(&project, &spec.env, &cmd, Output::Inherit, None).await?;
    Ok(done.code.unwrap_or(1))
}
