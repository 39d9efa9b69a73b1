//! `vers db query|counts|schema` and `vers diff`: arguments in, engine call, text or JSON out.

use std::path::Path;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use console::style;
use serde::Serialize;
use serde_json::Value;
use vers_engine::api::client::{db_path, Method};
use vers_engine::api::requests::{DbQueryRequest, DiffRequest};
use vers_engine::inspect::db::{QueryResult, SchemaDump, TableCounts};
use vers_engine::inspect::diff::{self, DiffReport, Presence};
use vers_engine::inspect::Change;
use vers_engine::progress::Silent;

use crate::args::{DbCommand, DiffArgs};
use crate::context;
use crate::exit::Exit;

/// Changed paths listed per service before "… and N more" (all of them with `--json`).
const PATHS_SHOWN: usize = 15;

fn print_json<T: Serialize>(value: &T) -> Result<i32, Exit> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Exit::failure(format!("rendering JSON: {e}")))?;
    println!("{text}");
    Ok(0)
}

/// `vers db query|counts|schema`.
pub async fn db(file: Option<&Path>, cmd: DbCommand) -> Result<i32, Exit> {
    let api = context::validated_api(file).await?;
    match cmd {
        DbCommand::Query(a) => {
            let req = DbQueryRequest {
                query: a.sql,
                service: a.target.service,
                database: a.target.database,
            };
            let result: QueryResult = api
                .call_as(Method::POST, "/api/db/query", Some(&req), &Silent)
                .await?;
            if a.target.json {
                return print_json(&result);
            }
            if result.columns.is_empty() {
                println!("OK ({} rows affected)", result.row_count);
                return Ok(0);
            }
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            t.set_header(result.columns.iter().map(|c| c.name.clone()));
            for row in &result.rows {
                t.add_row(row.values().map(cell));
            }
            println!("{t}");
            println!(
                "({} row{})",
                result.rows.len(),
                if result.rows.len() == 1 { "" } else { "s" }
            );
            Ok(0)
        }
        DbCommand::Counts(a) => {
            let path = db_path("counts", a.service.as_deref(), a.database.as_deref());
            let result: TableCounts = api
                .call_as::<(), _>(Method::GET, &path, None, &Silent)
                .await?;
            if a.json {
                return print_json(&result);
            }
            let loc = &result.location;
            if result.tables.is_empty() {
                println!(
                    "{}/{} in {}: no tables",
                    loc.service, loc.database, loc.environment_name
                );
                return Ok(0);
            }
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            t.set_header(vec!["table", "rows"]);
            for c in &result.tables {
                t.add_row(vec![
                    format!("{}.{}", c.schema, c.table),
                    c.rows.to_string(),
                ]);
            }
            println!(
                "{}/{} in {}:",
                loc.service, loc.database, loc.environment_name
            );
            println!("{t}");
            Ok(0)
        }
        DbCommand::Schema(a) => {
            let path = db_path("schema", a.service.as_deref(), a.database.as_deref());
            let result: SchemaDump = api
                .call_as::<(), _>(Method::GET, &path, None, &Silent)
                .await?;
            match a.output {
                Some(path) => {
                    std::fs::write(&path, &result.sql)
                        .map_err(|e| Exit::failure(format!("{}: {e}", path.display())))?;
                    if a.json {
                        println!(
                            "{}",
                            serde_json::json!({
                                "service": result.location.service,
                                "database": result.location.database,
                                "bytes": result.sql.len(),
                                "path": path.display().to_string(),
                            })
                        );
                        return Ok(0);
                    }
                    println!(
                        "wrote the schema of {}/{} ({} bytes) to {}",
                        result.location.service,
                        result.location.database,
                        result.sql.len(),
                        path.display()
                    );
                }
                None if a.json => println!(
                    "{}",
                    serde_json::json!({
                        "service": result.location.service,
                        "database": result.location.database,
                        "sql": result.sql,
                    })
                ),
                None => print!("{}", result.sql),
            }
            Ok(0)
        }
    }
}

/// A value as a table cell: text as is, NULL as `NULL`, the rest as JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "NULL".into(),
        other => other.to_string(),
    }
}

/// `vers diff TARGET [OTHER] [--aspects …]`.
pub async fn diff(file: Option<&Path>, args: DiffArgs) -> Result<i32, Exit> {
    diff::parse_aspects(&args.aspects)?;
    let api = context::validated_api(file).await?;
    let req = DiffRequest {
        from: args.target,
        to: args.other,
        aspects: args.aspects,
    };
    // The daemon runs the comparison to its end (removing the environments it made) even
    // when this client is interrupted.
    let report: DiffReport = api
        .call_as(Method::POST, "/api/diff", Some(&req), &Silent)
        .await?;
    if args.json {
        return print_json(&report);
    }
    print_report(&report);
    Ok(0)
}

fn side_label(s: &diff::Side) -> String {
    let kind = match s.kind {
        diff::SideKind::Environment => "branch",
        diff::SideKind::Checkpoint => "checkpoint",
    };
    format!("{kind} {} ({})", s.name, s.id)
}

fn change_mark(c: Change) -> console::StyledObject<&'static str> {
    match c {
        Change::Added => style("+").green(),
        Change::Removed => style("-").red(),
        Change::Modified => style("~").yellow(),
    }
}

fn presence_note(p: Presence) -> &'static str {
    match p {
        Presence::Both => "",
        Presence::FromOnly => " (only in the older side)",
        Presence::ToOnly => " (only in the newer side)",
    }
}

fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

fn print_report(r: &DiffReport) {
    println!(
        "{} {} → {}",
        style("diff").bold(),
        side_label(&r.from),
        side_label(&r.to)
    );
    if let Some(d) = &r.database {
        println!("\n{}", style("database").bold());
        if d.postgres.is_empty() && d.redis.is_empty() {
            println!("  no postgres or redis services");
        }
        for pg in &d.postgres {
            for db in &pg.databases {
                let header = format!(
                    "  {}/{}{}{}",
                    pg.service,
                    db.database,
                    presence_note(pg.presence),
                    presence_note(db.presence)
                );
                if db.tables.is_empty()
                    && db.schema.tables_added.is_empty()
                    && db.schema.tables_removed.is_empty()
                    && db.schema.columns.is_empty()
                    && db.schema.indexes.is_empty()
                {
                    println!("{header}: no changes ({} tables)", db.unchanged_tables);
                    continue;
                }
                println!("{header}:");
                for t in &db.tables {
                    let n = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or("-".into());
                    println!(
                        "    {}.{}: {} → {} rows ({})",
                        t.schema,
                        t.table,
                        n(t.rows_from),
                        n(t.rows_to),
                        signed(t.delta)
                    );
                }
                for t in &db.schema.tables_added {
                    println!("    {} table {t}", change_mark(Change::Added));
                }
                for t in &db.schema.tables_removed {
                    println!("    {} table {t}", change_mark(Change::Removed));
                }
                for c in &db.schema.columns {
                    let def = |d: &Option<diff::ColumnDef>| {
                        d.as_ref()
                            .map(|d| {
                                format!(
                                    "{}{}{}",
                                    d.type_name,
                                    if d.nullable { "" } else { " not null" },
                                    d.default
                                        .as_ref()
                                        .map(|x| format!(" default {x}"))
                                        .unwrap_or_default()
                                )
                            })
                            .unwrap_or_default()
                    };
                    let what = match c.change {
                        Change::Modified => format!("{} → {}", def(&c.from), def(&c.to)),
                        Change::Added => def(&c.to),
                        Change::Removed => def(&c.from),
                    };
                    println!(
                        "    {} column {}.{}.{}: {what}",
                        change_mark(c.change),
                        c.schema,
                        c.table,
                        c.column
                    );
                }
                for i in &db.schema.indexes {
                    println!(
                        "    {} index {}.{}",
                        change_mark(i.change),
                        i.schema,
                        i.index
                    );
                }
            }
        }
        for rd in &d.redis {
            let changed: Vec<String> = rd
                .databases
                .iter()
                .filter(|k| k.delta != 0)
                .map(|k| {
                    format!(
                        "db{}: {} → {} keys ({})",
                        k.db,
                        k.keys_from,
                        k.keys_to,
                        signed(k.delta)
                    )
                })
                .collect();
            if changed.is_empty() {
                println!("  {}{}: no changes", rd.service, presence_note(rd.presence));
            } else {
                println!(
                    "  {}{}: {}",
                    rd.service,
                    presence_note(rd.presence),
                    changed.join(", ")
                );
            }
        }
    }
    if let Some(f) = &r.files {
        println!("\n{}", style("files").bold());
        if f.services.is_empty() {
            println!("  no changes");
        }
        for s in &f.services {
            println!(
                "  {}: {} added, {} removed, {} modified",
                s.service, s.added, s.removed, s.modified
            );
            for c in s.changes.iter().take(PATHS_SHOWN) {
                println!("    {} {}", change_mark(c.change), c.path);
            }
            if s.changes.len() > PATHS_SHOWN {
                println!(
                    "    … and {} more (see --json)",
                    s.changes.len() - PATHS_SHOWN
                );
            }
        }
        if !f.unchanged.is_empty() {
            println!("  unchanged: {}", f.unchanged.join(", "));
        }
    }
    if let Some(c) = &r.config {
        println!("\n{}", style("config").bold());
        if c.changes.is_empty() {
            println!("  no changes");
        }
        for ch in &c.changes {
            println!("  {}: {} → {}", ch.path, short(&ch.from), short(&ch.to));
        }
    }
    if let Some(p) = &r.processes {
        println!("\n{}", style("processes").bold());
        if let Some(n) = &p.note {
            println!("  ({n})");
        }
        for s in &p.services {
            let desc = |x: &Option<diff::ProcessState>| match x {
                Some(p) => format!("{} ({} alive, pids {:?})", p.state, p.alive, p.pids),
                None => "-".into(),
            };
            println!(
                "  {}{}: {} → {}",
                if s.changed { "~ " } else { "" },
                s.service,
                desc(&s.from),
                desc(&s.to)
            );
        }
    }
    if let Some(l) = &r.logs {
        println!("\n{}", style("logs").bold());
        if let Some(n) = &l.note {
            println!("  ({n})");
        }
        for s in &l.services {
            let desc = |x: &Option<diff::LogStats>| match x {
                Some(l) => format!("{} lines, {} error lines", l.lines, l.error_lines),
                None => "-".into(),
            };
            println!(
                "  {}{}: {} → {}",
                if s.changed { "~ " } else { "" },
                s.service,
                desc(&s.from),
                desc(&s.to)
            );
        }
    }
    println!();
    if r.identical {
        println!("no differences");
    }
}

/// A value in one line, cut at 80 characters.
fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "(absent)".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(79).collect::<String>())
    } else {
        s
    }
}
