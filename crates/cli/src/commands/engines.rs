//! `vers engines list|install`.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use crate::args::EnginesCommand;
use crate::exit::Exit;

/// Lists or installs engines.
pub async fn run(cmd: EnginesCommand) -> Result<i32, Exit> {
    match cmd {
        EnginesCommand::List(a) => {
            let engines = vers_catalog::engines::list();
            if a.json {
                let list: Vec<serde_json::Value> = engines
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "template": e.template, "version": e.version, "major": e.major,
                            "bin_dir": e.bin_dir, "source": e.source.to_string(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::json!({"engines": list}));
            } else {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED);
                t.set_header(vec!["template", "version", "source", "binaries"]);
                for e in &engines {
                    t.add_row(vec![
                        format!("{}@{}", e.template, e.major),
                        e.version.clone(),
                        e.source.to_string(),
                        e.bin_dir.display().to_string(),
                    ]);
                }
                println!("{t}");
                println!("install more with: vers engines install postgres@14 postgres@16 ...");
            }
            Ok(0)
        }
        EnginesCommand::Install { engines } => {
            let mut failed = 0;
            for item in engines {
                // `TEMPLATE` alone means the template's default version (any, when unversioned).
                let (template, major) = match item.split_once('@') {
                    Some((t, m)) => (t.to_string(), m.to_string()),
                    None => match vers_manifest::templates::template(&item) {
                        Some(info) => (
                            item.clone(),
                            info.default_version.unwrap_or_default().to_string(),
                        ),
                        None => {
                            return Err(Exit::usage(format!(
                                "error: `{item}` is not a catalog template: expected TEMPLATE or TEMPLATE@VERSION, e.g. postgres@14"
                            )))
                        }
                    },
                };
                let result = tokio::task::spawn_blocking(move || {
                    vers_catalog::engines::install(&template, &major, &mut |msg| {
                        eprintln!("  {msg}")
                    })
                })
                .await
                .map_err(|e| Exit::failure(e.to_string()))?;
                match result {
                    Ok(e) => println!("{}@{}: {} ({})", e.template, e.major, e.version, e.source),
                    Err(e) => {
                        eprintln!("error: {item}: {e}");
                        failed += 1;
                    }
                }
            }
            Ok(if failed == 0 { 0 } else { 1 })
        }
    }
}
