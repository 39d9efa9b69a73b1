//! Presenting engine events and results: live progress on a terminal, plain lines otherwise,
//! colours only on a terminal.

pub mod live;
pub mod matrix_report;

pub use live::Live;

use console::style;

/// Colours a test status word.
pub fn status_word(status: &str) -> String {
    match status {
        "passed" | "healthy" | "running" => style(status).green().to_string(),
        "failed" | "error" | "timeout" | "unhealthy" => style(status).red().bold().to_string(),
        "skipped" | "paused" | "starting" => style(status).yellow().to_string(),
        other => other.to_string(),
    }
}

/// Human duration: `850ms`, `3.2s`, `2m05s`.
pub fn human(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}
