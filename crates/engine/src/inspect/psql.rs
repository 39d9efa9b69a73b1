//! Running one SQL statement through `psql` and reading its result back with its types.
//!
//! The script sends the statement's earlier parts (if it has several statements) to
//! `/dev/null`, asks psql to describe the last one (`\gdesc`: column names and types,
//! nothing executed), then executes it (`\g`) printing values unaligned with NUL separators
//! and a per-run marker for NULL, and finally echoes `ROW_COUNT`. Markers between the parts
//! make the output unambiguous: PostgreSQL text never holds a NUL byte.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vers_catalog::EngineBinary;

use crate::environment::{self, EnvContext};
use crate::error::EngineError;

use super::pgvalue;
use super::statement;

/// How long one inspection statement may run.
const QUERY_TIMEOUT: Duration = Duration::from_secs(600);

/// A result column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Column name as PostgreSQL reports it (`?column?` for unnamed expressions).
    pub name: String,
    /// SQL type, as `format_type` prints it (`integer`, `character varying(20)`, `text[]`).
    #[serde(rename = "type")]
    pub type_name: String,
}

/// The typed result of one statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Columns in order (empty for statements that return no rows).
    pub columns: Vec<Column>,
    /// Rows, each value typed from its column's SQL type.
    pub rows: Vec<Vec<Value>>,
    /// Rows returned, or affected by INSERT, UPDATE, DELETE, MERGE or COPY.
    pub row_count: u64,
}

/// A statement psql ran and the database rejected (or psql could not connect).
#[derive(Debug, Clone)]
pub struct DbError(pub String);

/// Runs `sql` in database `database` of postgres service `service` of the environment.
/// `Ok(Err(_))` carries the database's own error message.
pub async fn run(
    ctx: &EnvContext,
    service: &str,
    engine: &EngineBinary,
    database: &str,
    sql: &str,
) -> Result<Result<Table, DbError>, EngineError> {
    let sql = statement::trim(sql).map_err(|e| EngineError::Manifest(e.to_string()))?;
    let marker = marker();
    let inst = environment::instance(ctx, service, 0)?;
    std::fs::create_dir_all(&inst.run_dir).map_err(|e| EngineError::io(&inst.run_dir, e))?;
    let mut file = tempfile::Builder::new()
        .prefix(".vers-query-")
        .suffix(".sql")
        .tempfile_in(&inst.run_dir)
        .map_err(|e| EngineError::io(&inst.run_dir, e))?;
    file.write_all(script(sql, &marker).as_bytes())
        .map_err(|e| EngineError::io(file.path(), e))?;
    readable_by_all(file.path())?;
    let exec = vers_catalog::clients::psql_script(&inst, engine, database, file.path())
        .map_err(|e| EngineError::Failed(format!("{service}: {e}")))?;
    let done = environment::run_client(ctx, service, &exec, QUERY_TIMEOUT).await?;
    if done.timed_out {
        return Err(EngineError::Failed(format!(
            "{service}/{database}: the query did not finish within {} s",
            QUERY_TIMEOUT.as_secs()
        )));
    }
    if done.code != Some(0) {
        return Ok(Err(DbError(db_message(&done.stderr, &done.output))));
    }
    parse(&done.output, &marker)
        .map(Ok)
        .map_err(|e| EngineError::Failed(format!("{service}/{database}: {e}")))
}

fn readable_by_all(path: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| EngineError::io(path, e))
}

/// A marker no query result contains by chance.
fn marker() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let digest = Sha256::digest(format!("{now}/{}/{n}", std::process::id()));
    format!("@vers-{}@", hex::encode(&digest[..12]))
}

/// The psql script for one (trimmed) statement.
fn script(sql: &str, marker: &str) -> String {
    format!(
        "\\set ON_ERROR_STOP 1\n\\set QUIET 1\n\\pset format unaligned\n\\pset tuples_only on\n\
         \\pset fieldsep_zero\n\\pset recordsep_zero\n\\pset null {marker}null\n\\o /dev/null\n\
         {sql}\n\\o\n\\echo {marker}desc\n\\gdesc\n\\echo {marker}rows\n\\g\n\
         \\echo {marker}count :ROW_COUNT\n"
    )
}

/// The database's message from psql's stderr, without psql's `psql:FILE:LINE:` prefixes.
fn db_message(stderr: &str, stdout: &str) -> String {
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.strip_prefix("psql:") {
            Some(rest) => {
                // `psql:/path/file.sql:12: ERROR: …` → `ERROR: …`
                let mut parts = rest.splitn(3, ':');
                let (_, line, msg) = (parts.next(), parts.next(), parts.next());
                match (line, msg) {
                    (Some(n), Some(m)) if n.trim().parse::<u64>().is_ok() => m.trim().to_string(),
                    _ => l.to_string(),
                }
            }
            None => l.to_string(),
        })
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines.join("\n")
}

/// Reads psql's output of [`script`].
fn parse(out: &str, marker: &str) -> Result<Table, String> {
    let section = |start: &str, end: &str| -> Result<&str, String> {
        let s = out
            .find(start)
            .map(|i| i + start.len())
            .ok_or_else(|| format!("psql printed no `{start}` section"))?;
        let e = out[s..]
            .find(end)
            .map(|i| s + i)
            .ok_or_else(|| format!("psql printed no `{end}` section"))?;
        Ok(&out[s..e])
    };
    let desc = section(&format!("{marker}desc\n"), &format!("{marker}rows\n"))?;
    let rows = section(&format!("{marker}rows\n"), &format!("{marker}count "))?;
    let count_start = out
        .find(&format!("{marker}count "))
        .map(|i| i + marker.len() + "count ".len())
        .ok_or("psql printed no row count")?;
    let row_count = out[count_start..]
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .parse::<u64>()
        .unwrap_or(0);
    let columns: Vec<Column> = if desc.contains('\0') {
        let fields = nul_fields(desc);
        if !fields.len().is_multiple_of(2) {
            return Err("psql described the result oddly".into());
        }
        fields
            .chunks(2)
            .map(|c| Column {
                name: c[0].to_string(),
                type_name: c[1].to_string(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let null = format!("{marker}null");
    let mut table_rows = Vec::new();
    if !columns.is_empty() {
        let fields = nul_fields(rows);
        if !fields.len().is_multiple_of(columns.len()) {
            return Err(format!(
                "psql printed {} values for {} columns",
                fields.len(),
                columns.len()
            ));
        }
        for chunk in fields.chunks(columns.len()) {
            table_rows.push(
                chunk
                    .iter()
                    .zip(&columns)
                    .map(|(text, col)| {
                        if *text == null {
                            Value::Null
                        } else {
                            pgvalue::typed(&col.type_name, text)
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(Table {
        columns,
        rows: table_rows,
        row_count,
    })
}

/// NUL-separated fields, the separator after the last one dropped.
fn nul_fields(text: &str) -> Vec<&str> {
    let mut fields: Vec<&str> = text.split('\0').collect();
    fields.pop();
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "@m@";

    #[test]
    fn rows_come_back_typed_with_nulls() {
        let out = "@m@desc\na\0integer\0b\0text\0c\0boolean\0@m@rows\n1\0x\0t\0\
                   2\0@m@null\0@m@null\0@m@count 2\n";
        let t = parse(out, M).unwrap();
        assert_eq!(t.columns.len(), 3);
        assert_eq!(t.columns[1].type_name, "text");
        assert_eq!(t.row_count, 2);
        assert_eq!(
            t.rows,
            vec![
                vec![Value::from(1), Value::from("x"), Value::Bool(true)],
                vec![Value::from(2), Value::Null, Value::Null],
            ]
        );
    }

    #[test]
    fn empty_strings_and_empty_results_are_kept_apart() {
        let one_empty = "@m@desc\ns\0text\0@m@rows\n\0@m@count 1\n";
        let t = parse(one_empty, M).unwrap();
        assert_eq!(t.rows, vec![vec![Value::from("")]]);
        let none = "@m@desc\ns\0text\0@m@rows\n@m@count 0\n";
        assert!(parse(none, M).unwrap().rows.is_empty());
    }

    #[test]
    fn statements_without_columns_report_affected_rows() {
        let out = "@m@desc\nThe command has no result, or the result has no columns.\n\
                   @m@rows\n@m@count 3\n";
        let t = parse(out, M).unwrap();
        assert!(t.columns.is_empty() && t.rows.is_empty());
        assert_eq!(t.row_count, 3);
    }

    #[test]
    fn psql_prefixes_are_dropped_from_errors() {
        let err = "psql:/run/vers/x/.vers-query-1.sql:9: ERROR:  relation \"nope\" does not exist\nLINE 1: select * from nope\n                      ^\n";
        let m = db_message(err, "");
        assert!(
            m.starts_with("ERROR:  relation \"nope\" does not exist"),
            "{m}"
        );
        assert!(m.contains("LINE 1: select * from nope"));
    }

    #[test]
    fn the_script_describes_before_it_executes() {
        let s = script("select 1", M);
        let (desc, exec) = (s.find("\\gdesc").unwrap(), s.find("\\g\n").unwrap());
        assert!(s.find("select 1").unwrap() < desc && desc < exec);
    }
}
