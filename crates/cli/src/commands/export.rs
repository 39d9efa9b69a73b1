//! `vers export compose|kubernetes`: asks the engine for the files and writes them.

use std::path::{Path, PathBuf};

use vers_engine::api::client::Method;
use vers_engine::api::requests::ExportRequest;
use vers_engine::export::{compose, Exported};
use vers_engine::progress::Silent;

use crate::args::ExportArgs;
use crate::context;
use crate::exit::Exit;

/// `vers export FORMAT [-o PATH] [--target T] [--json]`.
pub async fn export(file: Option<&Path>, args: ExportArgs) -> Result<i32, Exit> {
    let format =
        vers_engine::export::Format::parse(&args.format).map_err(|e| Exit::usage(e.to_string()))?;
    let project = context::project(file)?;
    let cwd = std::env::current_dir()
        .map_err(|e| Exit::failure(format!("the current directory: {e}")))?;
    let default_dir = project.dir.join("vers-export").join(format.name());
    // Compose: -o names the file; Kubernetes: the directory.
    let (dir, compose_file): (PathBuf, Option<PathBuf>) = match (&args.output, format) {
        (Some(o), vers_engine::export::Format::Compose) => {
            let o = cwd.join(o);
            let parent = o.parent().map(Path::to_path_buf).unwrap_or(cwd.clone());
            (parent, Some(o))
        }
        (Some(o), vers_engine::export::Format::Kubernetes) => (cwd.join(o), None),
        (None, _) => (default_dir, None),
    };
    let api = context::validated_api(file).await?;
    let req = ExportRequest {
        format: args.format.clone(),
        dir: Some(dir.display().to_string()),
        target: args.target.clone(),
    };
    let exported: Exported = api
        .call_as(Method::POST, "/api/export", Some(&req), &Silent)
        .await?;
    let written = write_out(&exported, &dir, compose_file.as_deref()).map_err(Exit::failure)?;
    let main = compose_file.unwrap_or_else(|| dir.join(&exported.main));
    if args.json {
        let doc = serde_json::json!({
            "format": exported.format,
            "main": main,
            "files": written,
            "notes": exported.notes,
        });
        println!("{doc}");
        return Ok(0);
    }
    println!("Wrote {} ({} files)", main.display(), written.len());
    if !exported.notes.is_empty() {
        println!("Not expressed (listed as comments):");
        for n in &exported.notes {
            println!("  - {n}");
        }
    }
    Ok(0)
}

/// Writes the files of an export the daemon answered with into `dir` (the Compose file at
/// `compose_file` when given), and this `vers` binary where the mock image wants it. The
/// caller writes them, never the daemon (it never writes to a path a caller names).
pub fn write_out(
    exported: &Exported,
    dir: &Path,
    compose_file: Option<&Path>,
) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for f in &exported.files {
        let path = match (compose_file, f.path == compose::FILE) {
            (Some(c), true) => c.to_path_buf(),
            _ => dir.join(&f.path),
        };
        write(&path, f.content.as_bytes())?;
        written.push(path);
    }
    if let Some(rel) = &exported.mock_binary {
        let exe = std::env::current_exe().map_err(|e| format!("finding the vers binary: {e}"))?;
        let dest = dir.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::copy(&exe, &dest)
            .map_err(|e| format!("copying {} to {}: {e}", exe.display(), dest.display()))?;
        written.push(dest);
    }
    Ok(written)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
