//! Running commands inside an environment from the CLI: `vers execute`, `connect`, test
//! commands, hooks, checkpoint scripts and template setup steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use vers_runtime::spawn::{self, SpawnSpec, User};

use crate::error::EngineError;
use crate::logfile::{self, CappedLog};
use crate::project::Project;

/// How a command's output is handled.
#[derive(Debug, Clone)]
pub enum Output {
    /// Inherit the caller's terminal (interactive `execute`/`connect`).
    Inherit,
    /// Append stdout and stderr to a log file.
    Log(PathBuf),
    /// Capture into memory, stdout and stderr together in `Finished::output`.
    Capture,
    /// Capture into memory, stdout in `Finished::output` and stderr in `Finished::stderr`.
    Split,
}

/// A command to run in an environment.
#[derive(Debug, Clone)]
pub struct EnvCommand {
    /// Program.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// Full environment.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Run as this user (None: as the caller).
    pub user: Option<User>,
    /// Run in this pod's namespace (a service instance's own network) instead of the
    /// environment's.
    pub netns: Option<String>,
}

impl EnvCommand {
    /// `sh -c SCRIPT` with the clean environment of [`base_env`] plus `extra`.
    pub fn shell(script: &str, cwd: &Path, extra: &BTreeMap<String, String>) -> EnvCommand {
        EnvCommand {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            env: base_env(extra),
            cwd: cwd.to_path_buf(),
            user: None,
            netns: None,
        }
    }
}

/// Host variables every command of an environment keeps (besides `LC_*` and `VERS_*`).
pub const HOST_VARS: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TZ", "TMPDIR",
];

/// Variable naming more host variables to pass through (comma- or space-separated); set by
/// `--pass-env VAR`, and added to by the manifest's `pass_env:`.
pub const PASS_ENV_VAR: &str = "VERS_PASS_ENV";

/// Whether host variable `name` reaches the commands of an environment without an opt-in.
pub fn kept_host_var(name: &str) -> bool {
    HOST_VARS.contains(&name) || name.starts_with("LC_") || name.starts_with("VERS_")
}

/// The host variables named by `names` and by [`PASS_ENV_VAR`] that are set, with their
/// values: the explicit opt-in to pass host variables through.
pub fn passed_through(names: &[String]) -> BTreeMap<String, String> {
    let listed = std::env::var(PASS_ENV_VAR).unwrap_or_default();
    listed
        .split([',', ' '])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .chain(names.iter().cloned())
        .filter_map(|n| std::env::var(&n).ok().map(|v| (n, v)))
        .collect()
}

/// The clean environment of a command run in an environment (test commands, hooks,
/// checkpoint scripts, health checks, apps, `execute`): the host's [`HOST_VARS`], `LC_*` and
/// `VERS_*` variables and those passed through on request ([`passed_through`]), with `extra`
/// (the services' connection variables, the manifest's `env:`) on top, and the directory of
/// the `vers` binary first on PATH so nested `vers` calls work inside environments. Nothing
/// else of the host's environment (tokens, proxies, credentials) leaks in.
pub fn base_env(extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> =
        std::env::vars().filter(|(k, _)| kept_host_var(k)).collect();
    env.extend(passed_through(&[]));
    let path = env
        .get("PATH")
        .cloned()
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    match std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        Some(dir) => env.insert("PATH".into(), format!("{}:{path}", dir.display())),
        None => env.insert("PATH".into(), path),
    };
    env.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Result of a finished command.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Exit code (128+signal when killed), or None on timeout.
    pub code: Option<i32>,
    /// Captured output (Capture: stdout then stderr; Split: stdout only).
    pub output: String,
    /// Captured stderr (Split mode only).
    pub stderr: String,
    /// Whether the time limit ended it.
    pub timed_out: bool,
}

/// Runs `cmd` inside environment `env_id` of `project`, with the environment's name resolution.
pub async fn run_in_env(
    project: &Project,
    env_id: &str,
    cmd: &EnvCommand,
    output: Output,
    timeout: Option<Duration>,
) -> Result<Finished, EngineError> {
    let netns = project.netns_name(env_id);
    // Commands of the environment (tests, hooks, scripts, `vers execute`) live in a cgroup
    // under the environment's, so they are held to its memory and CPU budget and stopping
    // the environment stops them too, wherever they were started from. Interactive ones
    // share one cgroup that outlives them: what they leave running in the background stays
    // until the environment stops, as after `docker exec`.
    let cgroup = match output {
        Output::Inherit => ExecCgroup::shared(project, env_id)?,
        _ => ExecCgroup::create(project, env_id)?,
    };
    let spec = SpawnSpec {
        program: cmd.program.clone(),
        args: cmd.args.clone(),
        env: cmd.env.clone(),
        cwd: cmd.cwd.clone(),
        hosts_file: Some(PathBuf::from(format!("/etc/netns/{netns}/hosts"))),
        // The environment's processes reach the API only through its own socket.
        binds: vec![(project.env_api_dir(env_id), project.api_dir())],
        // Nothing of the other environments' volumes or run directories is visible.
        views: project.env_views(env_id),
        detach_foreign_stores: true,
        netns: Some(cmd.netns.clone().unwrap_or(netns)),
        user: cmd.user.clone(),
        cgroup: Some(cgroup.cgroup.clone()),
        stdout: None,
        stderr: None,
        stdin_null: !matches!(output, Output::Inherit),
        new_session: !matches!(output, Output::Inherit),
    };
    let mut command = spawn::spawn_command(&spec)
        .map_err(|e| EngineError::Failed(format!("starting {}: {e}", cmd.program.display())))?;
    match &output {
        Output::Inherit => {
            command
                .stdin(Stdio::inherit())
                .stdout(Stdio::inherit())
                .stderr(Stdio::inherit());
        }
        Output::Log(_) | Output::Capture | Output::Split => {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
    }
    // A log is written through a capped file (see `logfile`), both streams as they come.
    let log = match &output {
        Output::Log(path) => Some(std::sync::Arc::new(std::sync::Mutex::new(
            CappedLog::open(path, logfile::cap()).map_err(|e| EngineError::io(path, e))?,
        ))),
        _ => None,
    };
    command.kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| EngineError::Failed(format!("starting {}: {e}", cmd.program.display())))?;
    let pid = child.id().map(|p| p as i32);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // Both pipes are drained at once: a command filling one must not block on it while
    // the other is read.
    let reader =
        tokio::spawn(async move { tokio::join!(drain(stdout, log.clone()), drain(stderr, log)) });
    let waited = match timeout {
        Some(t) => tokio::time::timeout(t, child.wait()).await.ok(),
        None => Some(child.wait().await),
    };
    let (code, timed_out) = match waited {
        Some(Ok(status)) => {
            use std::os::unix::process::ExitStatusExt;
            (
                Some(
                    status
                        .code()
                        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
                ),
                false,
            )
        }
        Some(Err(e)) => return Err(EngineError::Failed(format!("waiting for command: {e}"))),
        None => {
            if let Some(pid) = pid {
                let _ = spawn::kill_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = child.kill().await;
            (None, true)
        }
    };
    // Kill anything the command left running in its process group.
    if let (Some(pid), false) = (pid, matches!(output, Output::Inherit)) {
        let _ = spawn::kill_group(pid, nix::sys::signal::Signal::SIGKILL);
    }
    let (out, err) = tokio::time::timeout(Duration::from_secs(2), reader)
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default();
    drop(cgroup);
    let (output, stderr) = match output {
        Output::Split => (
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        ),
        _ => {
            let mut all = out;
            all.extend_from_slice(&err);
            (String::from_utf8_lossy(&all).into_owned(), String::new())
        }
    };
    Ok(Finished {
        code,
        output,
        stderr,
        timed_out,
    })
}

/// Reads a pipe to its end: into `log` when given (nothing kept in memory), else into the
/// returned buffer.
async fn drain<R: tokio::io::AsyncRead + Unpin>(
    pipe: Option<R>,
    log: Option<std::sync::Arc<std::sync::Mutex<CappedLog>>>,
) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return kept;
    };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => match &log {
                Some(log) => {
                    // A log that cannot be written loses lines, never the command's run.
                    if let Ok(mut log) = log.lock() {
                        let _ = log.write(&chunk[..n]);
                    }
                }
                None => kept.extend_from_slice(&chunk[..n]),
            },
        }
    }
    kept
}

/// The cgroup of a command of an environment: its own, killed and removed when dropped, or
/// the environment's cgroup for interactive commands, left to the environment.
struct ExecCgroup {
    cgroup: vers_runtime::cgroup::Cgroup,
    owned: bool,
}

impl ExecCgroup {
    fn shared(project: &Project, env_id: &str) -> Result<ExecCgroup, EngineError> {
        // Service names start with a letter or digit: `_` keeps commands apart from them.
        let rel = format!("{}/_exec", project.cgroup_path(env_id));
        vers_runtime::cgroup::Cgroup::create(&rel)
            .map(|cgroup| ExecCgroup {
                cgroup,
                owned: false,
            })
            .map_err(|e| EngineError::Failed(format!("cgroup for commands of {env_id}: {e}")))
    }

    fn create(project: &Project, env_id: &str) -> Result<ExecCgroup, EngineError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rel = format!(
            "{}/_cmd-{}-{n}",
            project.cgroup_path(env_id),
            std::process::id()
        );
        vers_runtime::cgroup::Cgroup::create(&rel)
            .map(|cgroup| ExecCgroup {
                cgroup,
                owned: true,
            })
            .map_err(|e| EngineError::Failed(format!("cgroup for a command of {env_id}: {e}")))
    }
}

impl Drop for ExecCgroup {
    fn drop(&mut self) {
        if self.owned {
            let _ = self.cgroup.kill_all();
            let _ = self.cgroup.remove();
        }
    }
}
