//! App services (`build:`) outside vers: the build context and, when the context has no
//! `Dockerfile`, one generated from the same build and run commands vers uses.

use std::path::Path;

use vers_manifest::Service;

/// How an app's image is built.
#[derive(Debug, Clone)]
pub struct AppImage {
    /// The build context, as given in the manifest (relative to the project).
    pub context: std::path::PathBuf,
    /// The generated Dockerfile, or `None` when the context has its own.
    pub dockerfile: Option<String>,
    /// The run command (manifest `command:`, else the detected one).
    pub command: Option<String>,
    /// What the generated image may get wrong.
    pub notes: Vec<String>,
}

/// The image of app service `name`, whose build context is under `project_dir`.
pub fn app_image(name: &str, svc: &Service, project_dir: &Path, port: u16) -> AppImage {
    let context = svc
        .build
        .as_ref()
        .map(|b| b.context.clone())
        .unwrap_or_else(|| ".".into());
    let dir = project_dir.join(&context);
    let command = svc
        .command
        .clone()
        .or_else(|| vers_catalog::app::detect_command(&dir));
    let mut notes = Vec::new();
    if dir.join("Dockerfile").is_file() {
        return AppImage {
            context,
            dockerfile: None,
            command,
            notes,
        };
    }
    let build = svc
        .build
        .as_ref()
        .and_then(|b| b.command.clone())
        .or_else(|| vers_catalog::app::detect_build(&dir));
    let base = if dir.join("package.json").is_file() {
        "node:20-bookworm-slim"
    } else if dir.join("Cargo.toml").is_file() {
        "rust:1-bookworm"
    } else if dir.join("requirements.txt").is_file() || dir.join("pyproject.toml").is_file() {
        "python:3.12-slim-bookworm"
    } else if dir.join("go.mod").is_file() {
        "golang:1-bookworm"
    } else {
        notes.push(format!(
            "{name}: no runtime recognised in its build context; the generated Dockerfile starts from debian:bookworm-slim"
        ));
        "debian:bookworm-slim"
    };
    let mut df = format!("FROM {base}\nWORKDIR /app\nCOPY . .\n");
    if let Some(b) = &build {
        df.push_str(&format!("RUN {b}\n"));
    }
    df.push_str(&format!("ENV HOST=0.0.0.0 PORT={port}\nEXPOSE {port}\n"));
    match &command {
        Some(c) => df.push_str(&format!(
            "CMD [\"sh\", \"-c\", {}]\n",
            serde_json::to_string(c).unwrap_or_default()
        )),
        None => notes.push(format!(
            "{name}: no run command (no `command:`, Procfile or npm start script); set CMD in the Dockerfile"
        )),
    }
    AppImage {
        context,
        dockerfile: Some(df),
        command,
        notes,
    }
}
