//! `vers docs`: asks the engine for the integration docs and prints or writes them.

use std::path::{Path, PathBuf};

use serde_json::Value;
use vers_engine::api::client::Method;
use vers_engine::progress::Silent;

use crate::args::DocsArgs;
use crate::context;
use crate::exit::Exit;

/// File written when `--output` names a directory.
const MARKDOWN_FILE: &str = "INTEGRATION.md";
/// File written when `--output` names a directory and `--json` is given.
const JSON_FILE: &str = "integration.json";

/// `vers docs [--output FILE|DIR] [--run ID] [--json]`.
pub async fn docs(file: Option<&Path>, args: DocsArgs) -> Result<i32, Exit> {
    let api = context::validated_api(file).await?;
    let path = match &args.run {
        Some(r) => format!(
            "/api/docs?run={}",
            percent_encoding::utf8_percent_encode(r, percent_encoding::NON_ALPHANUMERIC)
        ),
        None => "/api/docs".to_string(),
    };
    let answer: Value = api.call(Method::GET, &path, None::<&()>, &Silent).await?;
    let text = if args.json {
        let mut t = serde_json::to_string_pretty(&answer["docs"])
            .map_err(|e| Exit::failure(format!("encoding the docs: {e}")))?;
        t.push('\n');
        t
    } else {
        answer["markdown"].as_str().unwrap_or_default().to_string()
    };
    let Some(output) = &args.output else {
        print!("{text}");
        return Ok(0);
    };
    let target = destination(output, args.json)?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Exit::failure(format!("{}: {e}", parent.display())))?;
    }
    std::fs::write(&target, text.as_bytes())
        .map_err(|e| Exit::failure(format!("{}: {e}", target.display())))?;
    let run = answer["docs"]["run"]
        .as_str()
        .unwrap_or("none (manifest only)");
    eprintln!("Wrote {} (test run: {run})", target.display());
    Ok(0)
}

/// The file to write: `output` itself, or the default name inside it when it is a directory
/// (existing, or written with a trailing `/`).
fn destination(output: &Path, json: bool) -> Result<PathBuf, Exit> {
    let cwd = std::env::current_dir()
        .map_err(|e| Exit::failure(format!("the current directory: {e}")))?;
    let path = cwd.join(output);
    let as_dir = path.is_dir() || output.as_os_str().to_string_lossy().ends_with('/');
    Ok(if as_dir {
        path.join(if json { JSON_FILE } else { MARKDOWN_FILE })
    } else {
        path
    })
}
