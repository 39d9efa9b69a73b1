//! Exit codes: 0 success, 1 test failures or failed operations, 2 usage or manifest errors.

use vers_engine::EngineError;

/// A non-zero ending of the command, with what to print on stderr.
#[derive(Debug)]
pub struct Exit {
    code: i32,
    message: String,
    /// What a `--json` run prints on stdout instead of nothing (manifest errors).
    json: Option<serde_json::Value>,
}

impl Exit {
    /// An operation failed (exit 1).
    pub fn failure(message: impl Into<String>) -> Exit {
        Exit {
            code: 1,
            message: format!("error: {}", message.into()),
            json: None,
        }
    }

    /// Bad usage or manifest (exit 2).
    pub fn usage(message: impl Into<String>) -> Exit {
        Exit {
            code: 2,
            message: message.into(),
            json: None,
        }
    }

    /// Exit with `code` after the output was already printed.
    pub fn silent(code: i32) -> Exit {
        Exit {
            code,
            message: String::new(),
            json: None,
        }
    }

    /// Manifest errors (exit 2): the diagnostics on stderr, and for `--json` runs the
    /// document `validate --json` prints (`{"valid": false, "file", "errors": [...]}`).
    pub fn manifest(file: &std::path::Path, d: &vers_manifest::Diagnostics) -> Exit {
        Exit {
            code: 2,
            message: d.to_string(),
            json: Some(diagnostics_json(file, d)),
        }
    }

    /// Code, message, and the JSON document to print on stdout when run with `--json`.
    pub fn render(self) -> (i32, String, Option<serde_json::Value>) {
        (self.code, self.message, self.json)
    }
}

/// The `validate --json` document of a manifest's diagnostics.
pub fn diagnostics_json(
    file: &std::path::Path,
    d: &vers_manifest::Diagnostics,
) -> serde_json::Value {
    let errors: Vec<serde_json::Value> =
        d.0.iter()
            .map(|e| {
                serde_json::json!({
                    "file": e.file, "line": e.line, "column": e.column,
                    "message": e.message, "help": e.help,
                })
            })
            .collect();
    serde_json::json!({"valid": false, "file": file, "errors": errors})
}

impl From<EngineError> for Exit {
    fn from(e: EngineError) -> Exit {
        if e.is_usage() {
            Exit::usage(format!("error: {e}"))
        } else {
            Exit::failure(e.to_string())
        }
    }
}
