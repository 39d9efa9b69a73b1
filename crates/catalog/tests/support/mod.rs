//! Shared helpers of the integration tests: an unprivileged user, instance directories,
//! running `Exec`s and `Launch`es as that user, and killing every started process.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use vers_catalog::{Exec, InstanceCtx, Launch, Probe};

/// `PATH` the engine gives commands.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The unprivileged user engines run as: `vers` (created when missing), else `nobody`.
pub fn engine_user() -> (u32, u32) {
    let lookup = |name: &str| -> Option<(u32, u32)> {
        let uid = Command::new("id").args(["-u", name]).output().ok()?;
        let gid = Command::new("id").args(["-g", name]).output().ok()?;
        if !uid.status.success() {
            return None;
        }
        Some((
            String::from_utf8_lossy(&uid.stdout).trim().parse().ok()?,
            String::from_utf8_lossy(&gid.stdout).trim().parse().ok()?,
        ))
    };
    if let Some(ids) = lookup("vers") {
        return ids;
    }
    let _ = Command::new("useradd").args(["--system", "vers"]).status();
    lookup("vers")
        .or_else(|| lookup("nobody"))
        .expect("no unprivileged user for tests")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Directories of one test instance (removed on drop).
pub struct Dirs {
    pub root: tempfile::TempDir,
    pub data: PathBuf,
    pub run: PathBuf,
    pub project: PathBuf,
}

/// Creates data, run and project directories the engine user owns.
pub fn dirs() -> Dirs {
    let root = tempfile::Builder::new()
        .prefix("vc")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (uid, gid) = engine_user();
    let mk = |name: &str| {
        let p = root.path().join(name);
        std::fs::create_dir(&p).unwrap();
        std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
        p
    };
    Dirs {
        data: mk("data"),
        run: mk("run"),
        project: mk("project"),
        root,
    }
}

/// An instance context on 127.0.0.1 with `ports`.
pub fn ctx(
    service: &str,
    template: &str,
    dirs: &Dirs,
    ports: Vec<u16>,
    config: serde_json::Value,
) -> InstanceCtx {
    let (uid, gid) = engine_user();
    InstanceCtx {
        service: service.into(),
        replica: 0,
        template: Some(template.into()),
        version: None,
        listen: Ipv4Addr::LOCALHOST,
        bind: Ipv4Addr::LOCALHOST,
        peers: BTreeMap::new(),
        ports,
        data_dir: dirs.data.clone(),
        run_dir: dirs.run.clone(),
        project_dir: dirs.project.clone(),
        config,
        env: BTreeMap::new(),
        user_uid: uid,
        user_gid: gid,
        vers_exe: PathBuf::from("/usr/local/bin/vers"),
        public_name: service.into(),
        memory_limit: None,
        command: None,
        build_context: None,
    }
}

/// Runs `exec` the way the engine does: as the engine user, cleared environment plus `PATH`.
pub fn run(exec: &Exec) -> Output {
    let (uid, gid) = engine_user();
    let mut cmd = Command::new(&exec.program);
    cmd.args(&exec.args)
        .env_clear()
        .env("PATH", PATH)
        .envs(&exec.env)
        .uid(uid)
        .gid(gid)
        .stdin(Stdio::null())
        .current_dir(exec.cwd.as_deref().unwrap_or(Path::new("/")));
    cmd.output().unwrap()
}

/// Runs `exec` and fails the test with its output when it does not exit 0.
pub fn run_ok(exec: &Exec) -> String {
    let out = run(exec);
    assert!(
        out.status.success(),
        "{} {:?} failed: {}{}",
        exec.program.display(),
        exec.args,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A started server, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    /// The server's process id.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Copies `from` into `to` (created) while the server is stopped with SIGSTOP, as a
    /// checkpoint captures the data directory of a frozen service; `to` is owned by the engine user.
    pub fn copy_while_frozen(&self, from: &Path, to: &Path) {
        kill(self.pid(), Signal::SIGSTOP).unwrap();
        let out = Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .output()
            .unwrap();
        kill(self.pid(), Signal::SIGCONT).unwrap();
        assert!(
            out.status.success(),
            "cp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The server's combined output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `launch` as the engine user with exactly its environment, logging to `log`.
pub fn start(launch: &Launch, log: PathBuf) -> Running {
    let (uid, gid) = engine_user();
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(&launch.program)
        .args(&launch.args)
        .env_clear()
        .envs(&launch.env)
        .current_dir(&launch.cwd)
        .uid(uid)
        .gid(gid)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    Running { child, log }
}

/// Whether `probe` passes once against 127.0.0.1.
pub fn probe_once(probe: &Probe) -> bool {
    match probe {
        Probe::Exec(exec) => run(exec).status.success(),
        Probe::Tcp { port } => std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, *port)).is_ok(),
        Probe::Http {
            port,
            path,
            headers,
        } => {
            use std::io::{Read, Write};
            let Ok(mut s) = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, *port)) else {
                return false;
            };
            let mut req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n");
            for (k, v) in headers {
                req.push_str(&format!("{k}: {v}\r\n"));
            }
            req.push_str("\r\n");
            if s.write_all(req.as_bytes()).is_err() {
                return false;
            }
            let mut resp = String::new();
            let _ = s.read_to_string(&mut resp);
            resp.split_whitespace()
                .nth(1)
                .is_some_and(|code| code.starts_with('2'))
        }
        Probe::Exchange {
            port,
            send,
            expect_at,
            expect,
        } => {
            use std::io::{Read, Write};
            let Ok(mut s) = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, *port)) else {
                return false;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if !send.is_empty() && s.write_all(send).is_err() {
                return false;
            }
            let want = expect_at + expect.len();
            let mut reply = Vec::new();
            let mut buf = [0u8; 512];
            while reply.len() < want {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => reply.extend_from_slice(&buf[..n]),
                }
            }
            reply[*expect_at..want] == expect[..]
        }
    }
}

/// Waits until `probe` passes, failing the test with `server`'s log after 30 s.
pub fn wait_healthy(probe: &Probe, server: &Running) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if probe_once(probe) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("never healthy: {probe:?}\n{}", server.log());
}

/// The Python of the test virtual environment that `scripts/setup.sh` fills with the real
/// client libraries (`$VERS_TEST_VENV`, default `/var/cache/vers/test-venv`).
pub fn python() -> PathBuf {
    let venv = std::env::var_os("VERS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vers/test-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh to create the test virtual environment",
        python.display()
    );
    python
}

/// Runs the client script `name` of this `tests` directory with the test environment's
/// python and `args`, failing the test with its output unless it exits 0.
pub fn run_python(name: &str, args: &[&str]) -> String {
    run_python_beside(name, args, None)
}

/// [`run_python`] against `server`, whose log a failure shows too.
pub fn run_python_against(name: &str, args: &[&str], server: &Running) -> String {
    run_python_beside(name, args, Some(server))
}

fn run_python_beside(name: &str, args: &[&str], server: Option<&Running>) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name);
    let out = Command::new(python())
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} {args:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        server
            .map(|s| format!("\n--- server log\n{}", s.log()))
            .unwrap_or_default()
    );
    stdout
}

/// Sends `requests` (a JSON list, see `tests/clients/http_batch.py`) with Python's
/// `requests` library on one session and returns the responses.
pub fn http(requests: &serde_json::Value) -> Vec<serde_json::Value> {
    use std::io::Write;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/http_batch.py");
    let mut child = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(requests.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "http_batch.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
