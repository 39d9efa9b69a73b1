//! Running commands inside an environment from the CLI: `vers execute`, `connect`, test
//! commands, hooks, checkpoint scripts and template setup steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use vers_runtime::spawn::{self, SpawnSpec, User};

use crate::error::EngineError;
use crate::project::Project;

/// How a command's output is handled.
#[derive(Debug, Clone)]
pub enum Output {
    /// Inherit the caller's terminal (interactive `execute`/`connect`).
    Inherit,
    /// Append stdout and stderr to a log file.
    Log(PathBuf),
    /// Capture into memory.
    Capture,
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
}

impl EnvCommand {
    /// `sh -c SCRIPT` with the caller's environment plus `extra`.
    pub fn shell(script: &str, cwd: &Path, extra: &BTreeMap<String, String>) -> EnvCommand {
        EnvCommand {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            env: base_env(extra),
            cwd: cwd.to_path_buf(),
            user: None,
        }
    }
}

/// The caller's environment with `extra` on top, and the directory of the `vers` binary on
/// PATH so nested `vers` calls work inside environments.
pub fn base_env(extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        let path = env.get("PATH").cloned().unwrap_or_default();
        env.insert("PATH".into(), format!("{}:{path}", dir.display()));
    }
    env.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Result of a finished command.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Exit code (128+signal when killed), or None on timeout.
    pub code: Option<i32>,
    /// Captured output (Capture mode only).
    pub output: String,
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
    let spec = SpawnSpec {
        program: cmd.program.clone(),
        args: cmd.args.clone(),
        env: cmd.env.clone(),
        cwd: cmd.cwd.clone(),
        hosts_file: Some(PathBuf::from(format!("/etc/netns/{netns}/hosts"))),
        netns: Some(netns),
        user: cmd.user.clone(),
        cgroup: None,
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
        Output::Log(path) => {
            if let Some(d) = path.parent() {
                std::fs::create_dir_all(d).map_err(|e| EngineError::io(d, e))?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| EngineError::io(path, e))?;
            let f2 = f.try_clone().map_err(|e| EngineError::io(path, e))?;
            command.stdout(f).stderr(f2);
        }
        Output::Capture => {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
    }
    command.kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| EngineError::Failed(format!("starting {}: {e}", cmd.program.display())))?;
    let pid = child.id().map(|p| p as i32);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let reader = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut out = Vec::new();
        if let Some(mut s) = stdout {
            let _ = s.read_to_end(&mut out).await;
        }
        if let Some(mut s) = stderr {
            let _ = s.read_to_end(&mut out).await;
        }
        out
    });
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
    let out = tokio::time::timeout(Duration::from_secs(2), reader)
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default();
    Ok(Finished {
        code,
        output: String::from_utf8_lossy(&out).into_owned(),
        timed_out,
    })
}
