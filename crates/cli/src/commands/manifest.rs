//! Commands on the manifest alone: validate, plan, init, add.

use std::path::Path;

use crate::args::{AddArgs, InitArgs};
use crate::context;
use crate::exit::Exit;

/// `vers integration validate`.
pub fn validate(file: Option<&Path>, json: bool) -> Result<i32, Exit> {
    let project = context::project(file)?;
    match vers_manifest::load(&project.manifest_path) {
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
                let errors: Vec<serde_json::Value> =
                    d.0.iter()
                        .map(|e| {
                            serde_json::json!({
                                "file": e.file, "line": e.line, "column": e.column,
                                "message": e.message, "help": e.help,
                            })
                        })
                        .collect();
                println!(
                    "{}",
                    serde_json::json!({"valid": false, "file": project.manifest_path, "errors": errors})
                );
                Err(Exit::silent(2))
            } else {
                Err(Exit::usage(d.to_string()))
            }
        }
    }
}

/// `vers integration plan`.
pub fn plan(file: Option<&Path>, json: bool) -> Result<i32, Exit> {
    let project = context::project(file)?;
    let m = context::manifest(&project)?;
    let plan = vers_manifest::plan(&m);
    if json {
        let text = serde_json::to_string_pretty(&plan)
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
        println!("  - {c}");
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

/// `vers integration init NAME [--template T]`.
pub fn init(args: InitArgs) -> Result<i32, Exit> {
    let dir = match args.dir {
        Some(d) => d,
        None => std::env::current_dir().map_err(|e| Exit::failure(e.to_string()))?,
    };
    let path = dir.join(vers_engine::project::MANIFEST_FILE);
    if path.exists() {
        return Err(Exit::usage(format!(
            "error: {} already exists; vers never overwrites a manifest (edit it, or use `vers integration add`)",
            path.display()
        )));
    }
    let text = vers_manifest::scaffold::render_stack(&args.template, &args.name).map_err(|e| {
        Exit::usage(format!(
            "error: {e}\n  help: templates are {}",
            vers_manifest::scaffold::stack_names().join(", ")
        ))
    })?;
    std::fs::create_dir_all(&dir).map_err(|e| Exit::failure(format!("{}: {e}", dir.display())))?;
    std::fs::write(&path, text).map_err(|e| Exit::failure(format!("{}: {e}", path.display())))?;
    let gitignore = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&gitignore).unwrap_or_default();
    if !existing
        .lines()
        .any(|l| l.trim() == ".vers/" || l.trim() == ".vers")
    {
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(".vers/\n");
        std::fs::write(&gitignore, text)
            .map_err(|e| Exit::failure(format!("{}: {e}", gitignore.display())))?;
    }
    println!(
        "wrote {} from the {} template; next: vers integration validate && vers integration up",
        path.display(),
        args.template
    );
    Ok(0)
}

/// `vers integration add SVC@VER [--alias A] [--config k=v]`.
pub fn add(file: Option<&Path>, args: AddArgs) -> Result<i32, Exit> {
    let project = context::project(file)?;
    let src = std::fs::read_to_string(&project.manifest_path)
        .map_err(|e| Exit::failure(format!("{}: {e}", project.manifest_path.display())))?;
    let (name, version) = match args.template.split_once('@') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (args.template.clone(), None),
    };
    let tref = vers_manifest::TemplateRef {
        name: name.clone(),
        version,
    };
    let mut config = Vec::new();
    for kv in &args.config {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Exit::usage(format!(
                "error: --config {kv}: expected KEY=VALUE, e.g. --config databases=app,analytics"
            ))
        })?;
        config.push((k.to_string(), v.to_string()));
    }
    let service = args.alias.clone().unwrap_or(name);
    let out = vers_manifest::scaffold::add_service(&src, &service, &tref, &config)
        .map_err(|e| Exit::usage(format!("error: {e}")))?;
    // The edited manifest must still validate; otherwise nothing is written.
    if let Err(d) = vers_manifest::parse_str(&out, &project.manifest_path) {
        return Err(Exit::usage(format!(
            "error: adding {service} would make the manifest invalid; nothing was written:\n{d}"
        )));
    }
    std::fs::write(&project.manifest_path, out)
        .map_err(|e| Exit::failure(format!("{}: {e}", project.manifest_path.display())))?;
    println!(
        "added service {service} ({}) to {}",
        args.template,
        project.manifest_path.display()
    );
    Ok(0)
}
