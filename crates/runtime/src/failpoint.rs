//! Failpoints: named steps where a test makes the process die (as `kill -9` would) or the
//! step fail, to check what a crash at that step leaves behind. Compiled in only with the
//! `failpoints` feature (which the CLI's tests turn on) and in this crate's unit tests;
//! otherwise [`hit`] is an empty inline function and the environment variable is ignored.
//!
//! `VERS_FAILPOINTS=NAME=ACTION[,NAME=ACTION...]`, ACTION `kill` (SIGKILL this process) or
//! `error` (the step returns an error); a bare `NAME` means `kill`.

/// The variable naming the failpoints in force.
pub const VAR: &str = "VERS_FAILPOINTS";

/// What a failpoint does when reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGKILL the current process.
    Kill,
    /// Make the step fail.
    Error,
}

#[cfg(any(test, feature = "failpoints"))]
mod imp {
    use super::{Action, VAR};
    use std::collections::HashMap;
    use std::sync::Mutex;

    static SET: Mutex<Option<HashMap<String, Action>>> = Mutex::new(None);

    pub fn set(name: &str, action: Option<Action>) {
        let mut g = SET.lock().unwrap_or_else(|e| e.into_inner());
        let map = g.get_or_insert_with(HashMap::new);
        match action {
            Some(a) => map.insert(name.to_string(), a),
            None => map.remove(name),
        };
    }

    fn from_env(name: &str) -> Option<Action> {
        let spec = std::env::var(VAR).ok()?;
        spec.split(',').find_map(|item| {
            let (n, a) = item.trim().split_once('=').unwrap_or((item.trim(), "kill"));
            (n == name).then_some(match a {
                "error" => Action::Error,
                _ => Action::Kill,
            })
        })
    }

    pub fn hit(name: &str) -> bool {
        let set = SET
            .lock()
            .ok()
            .and_then(|g| g.as_ref().and_then(|m| m.get(name).copied()));
        match set.or_else(|| from_env(name)) {
            None => false,
            Some(Action::Error) => true,
            Some(Action::Kill) => {
                eprintln!("failpoint {name}: killing process {}", std::process::id());
                let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::SIGKILL);
                // SIGKILL of oneself is delivered before kill() returns.
                std::process::abort()
            }
        }
    }
}

/// Reaches failpoint `name`: kills the process when it is set to `kill`, returns true when
/// it is set to `error` (the caller then fails the step), false otherwise.
#[cfg(any(test, feature = "failpoints"))]
pub fn hit(name: &str) -> bool {
    imp::hit(name)
}

/// Reaches failpoint `name`: without the `failpoints` feature, nothing happens.
#[cfg(not(any(test, feature = "failpoints")))]
#[inline(always)]
pub fn hit(_name: &str) -> bool {
    false
}

/// Sets (`Some`) or clears (`None`) failpoint `name` in this process, over the variable.
#[cfg(any(test, feature = "failpoints"))]
pub fn set(name: &str, action: Option<Action>) {
    imp::set(name, action)
}
