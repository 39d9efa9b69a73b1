//! The live progress display: one spinner line per service or branch while work runs on a
//! terminal; one plain line per finished step otherwise (CI logs).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use vers_engine::progress::{BranchEvent, CheckpointEvent, Event, Progress, ServiceEvent};

use super::{human, status_word};

/// Renders events on stderr.
pub struct Live {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    quiet: bool,
}

impl Live {
    /// A display on stderr; spinners only when stderr is a terminal; `quiet` prints nothing.
    pub fn new(quiet: bool) -> Live {
        let tty = console::Term::stderr().is_term() && std::env::var_os("CI").is_none();
        Live {
            multi: (tty && !quiet)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bars: Mutex::new(HashMap::new()),
            quiet,
        }
    }

    fn line(&self, text: String) {
        if self.quiet || text.is_empty() {
            return;
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn start(&self, key: String, msg: String) {
        let Some(m) = &self.multi else {
            return;
        };
        let bar = m.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(msg);
        bar.enable_steady_tick(Duration::from_millis(100));
        if let Ok(mut bars) = self.bars.lock() {
            if let Some(old) = bars.insert(key, bar) {
                old.finish_and_clear();
            }
        }
    }

    fn update(&self, key: &str, msg: String) {
        if let Ok(bars) = self.bars.lock() {
            if let Some(b) = bars.get(key) {
                b.set_message(msg);
            }
        }
    }

    fn finish(&self, key: &str, text: String) {
        if let Ok(mut bars) = self.bars.lock() {
            if let Some(b) = bars.remove(key) {
                b.finish_and_clear();
            }
        }
        self.line(text);
    }

    /// Removes every spinner (before printing a summary).
    pub fn clear(&self) {
        if let Ok(mut bars) = self.bars.lock() {
            for (_, b) in bars.drain() {
                b.finish_and_clear();
            }
        }
    }
}

impl Progress for Live {
    fn event(&self, event: Event) {
        match event {
            Event::Service {
                env,
                service,
                state,
            } => {
                let key = format!("svc:{env}:{service}");
                let label = if env == "root" || env == "checkpoints" {
                    service.clone()
                } else {
                    format!("{env}: {service}")
                };
                match state {
                    ServiceEvent::Starting => self.start(key, format!("{label} starting")),
                    ServiceEvent::Setup => self.update(&key, format!("{label} setting up")),
                    ServiceEvent::Healthy(d) => {
                        if env.contains('/') {
                            // Branch services: keep the output to one line per branch.
                            self.finish(&key, String::new());
                        } else {
                            self.finish(
                                &key,
                                format!("  {} {label} healthy in {}", style("✔").green(), human(d)),
                            )
                        }
                    }
                    ServiceEvent::Failed(e) => {
                        self.finish(&key, format!("  {} {label} failed: {e}", style("✘").red()))
                    }
                }
            }
            Event::Checkpoint { name, state } => {
                let key = format!("ckpt:{name}");
                match state {
                    CheckpointEvent::Running => self.start(key, format!("checkpoint {name}")),
                    CheckpointEvent::Taken(d) => self.finish(
                        &key,
                        format!(
                            "  {} checkpoint {name} taken in {}",
                            style("●").cyan(),
                            human(d)
                        ),
                    ),
                    CheckpointEvent::Cached => self.line(format!(
                        "  {} checkpoint {name} reused (inputs unchanged)",
                        style("●").cyan()
                    )),
                }
            }
            Event::Branch {
                suite,
                branch,
                state,
            } => {
                let key = format!("br:{suite}/{branch}");
                match state {
                    BranchEvent::Starting => self.start(key, format!("{suite}/{branch} forking")),
                    BranchEvent::Running => self.update(&key, format!("{suite}/{branch} running")),
                    BranchEvent::Finished {
                        status, duration, ..
                    } => self.finish(
                        &key,
                        format!(
                            "  {:<8} {suite}/{branch} ({})",
                            status_word(&status),
                            human(duration)
                        ),
                    ),
                }
            }
            Event::Build { service, done } => match done {
                None => self.start(format!("build:{service}"), format!("building {service}")),
                Some(d) => self.finish(
                    &format!("build:{service}"),
                    format!("  {} built {service} in {}", style("✔").green(), human(d)),
                ),
            },
            Event::Warning(w) => self.line(format!("{} {w}", style("warning:").yellow().bold())),
            Event::Info(i) => self.line(i),
        }
    }
}
