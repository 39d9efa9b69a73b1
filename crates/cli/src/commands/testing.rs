//! `vers integration test` and `vers integration matrix`.

use std::path::Path;
use std::time::Duration;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use console::style;
use vers_engine::api::client::Method;
use vers_engine::api::requests::{MatrixRequest, TestRequest};
use vers_engine::matrix;
use vers_engine::testrun::{self, selection, TestReport};

use crate::args::{MatrixArgs, TestArgs};
use crate::context;
use crate::exit::Exit;
use crate::output::{human, status_word, Live};

fn request(args: &TestArgs) -> Result<TestRequest, Exit> {
    if let Some(t) = &args.timeout {
        vers_manifest::parse_duration(t)
            .map_err(|e| Exit::usage(format!("error: --timeout {t}: {e}")))?;
    }
    if let Some(s) = &args.shard {
        selection::parse_shard(s)?;
    }
    if args.jobs == Some(0) {
        return Err(Exit::usage("error: --jobs must be at least 1"));
    }
    Ok(TestRequest {
        suites: args.suite.clone(),
        scenarios: args.scenario.clone(),
        parallel: args.parallel,
        jobs: args.jobs,
        timeout: args.timeout.clone(),
        keep_failed: args.keep_failed,
        shard: args.shard.clone(),
        branch_prefix: None,
        rebuild: args.rebuild,
    })
}

fn print_summary(report: &TestReport) {
    for s in &report.suites {
        let line = s.line();
        if s.passed == s.total {
            println!("{}", style(line).green());
        } else {
            println!("{}", style(line).red());
            for b in s.branches.iter().filter(|b| b.status != "passed") {
                println!(
                    "  {} {}: {}{}",
                    status_word(&b.status),
                    b.name,
                    b.message.clone().unwrap_or_default(),
                    if b.log.is_empty() {
                        String::new()
                    } else {
                        format!(" (log: {})", b.log)
                    }
                );
                if let Some(env) = &b.kept_env {
                    println!("    kept environment {env}: VERS_ENV={env} vers execute ...");
                }
            }
        }
    }
    println!(
        "{} passed, {} failed",
        report.summary.passed, report.summary.failed
    );
}

/// `vers integration test`.
pub async fn test(file: Option<&Path>, args: TestArgs) -> Result<i32, Exit> {
    let req = request(&args)?;
    let project = context::project(file)?;
    context::fork_points(&project, &context::manifest(&project)?)?;
    let api = context::validated_api(file).await?;
    let live = Live::new(args.json);
    let answer = api.call(Method::POST, "/api/test", Some(&req), &live).await;
    live.clear();
    let answer = answer?;
    let report: TestReport = serde_json::from_value(answer["report"].clone())
        .map_err(|e| Exit::failure(format!("decoding the test report: {e}")))?;
    let project_name = answer["project"].as_str().unwrap_or_default();
    if let Some(path) = &args.junit {
        testrun::junit::write(&report, project_name, path)?;
        if let Err(e) = vers_engine::inputs::note_written(&project.dir, path) {
            eprintln!("warning: noting {} as vers's output: {e}", path.display());
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Exit::failure(e.to_string()))?
        );
    } else {
        print_summary(&report);
    }
    Ok(if report.all_passed() { 0 } else { 1 })
}

/// `vers integration matrix`.
pub async fn matrix(file: Option<&Path>, args: MatrixArgs) -> Result<i32, Exit> {
    for f in &args.filter {
        if !f.contains('=') {
            return Err(Exit::usage(format!(
                "error: --filter {f}: expected key=value, e.g. --filter postgres=15"
            )));
        }
    }
    let api = context::validated_api(file).await?;
    let live = Live::new(args.json);
    let req = MatrixRequest {
        filter: args.filter.clone(),
        parallel: args.parallel,
        continue_on_failure: args.continue_on_failure,
        rebuild: args.rebuild,
    };
    let answer = api
        .call(Method::POST, "/api/matrix", Some(&req), &live)
        .await;
    live.clear();
    let answer = answer?;
    let results: Vec<matrix::CellResult> = serde_json::from_value(answer["results"].clone())
        .map_err(|e| Exit::failure(format!("decoding the matrix results: {e}")))?;
    let manifest_matrix: Vec<(String, Vec<String>)> =
        serde_json::from_value(answer["matrix"].clone()).unwrap_or_default();
    let passed = results.iter().filter(|r| r.status == "passed").count();
    let failed = results.len() - passed;
    if args.json {
        let doc = crate::output::matrix_report::matrix_document(&answer).map_err(Exit::failure)?;
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| Exit::failure(e.to_string()))?
        );
    } else {
        let keys: Vec<String> = manifest_matrix.iter().map(|(k, _)| k.clone()).collect();
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        let mut header = keys.clone();
        header.push("status".into());
        header.push("duration".into());
        t.set_header(header);
        for r in &results {
            let mut row: Vec<String> = keys
                .iter()
                .map(|k| r.combination.get(k).cloned().unwrap_or_else(|| "-".into()))
                .collect();
            row.push(status_word(&r.status));
            row.push(human(Duration::from_millis(r.duration_ms)));
            t.add_row(row);
        }
        println!("{t}");
        println!("Summary: {passed}/{} passed", results.len());
        for r in results.iter().filter(|r| r.status == "failed") {
            println!(
                "{} {}:",
                style("failed").red().bold(),
                matrix::describe(&r.combination)
            );
            if let Some(e) = &r.error {
                for l in e.lines().take(5) {
                    println!("  {l}");
                }
            }
            for s in r.suites.iter().filter(|s| s.passed != s.total) {
                println!("  {}", s.line());
                for b in s.branches.iter().filter(|b| b.status != "passed").take(3) {
                    println!(
                        "    {} {}: {}",
                        b.status,
                        b.name,
                        b.message.clone().unwrap_or_default()
                    );
                    for l in last_output_lines(Path::new(&b.log), 8) {
                        println!("      | {l}");
                    }
                    if !b.log.is_empty() {
                        println!("      (log: {})", b.log);
                    }
                }
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// The last `n` lines a branch's commands printed (its log without the `$ command` lines).
fn last_output_lines(log: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("$ "))
        .collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}
