//! Helpers shared by the integration tests: a vers search server on a free port (in this
//! process, or as a `vers-search` process that can be killed) and the Python client scripts.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vers_search::{Flavor, SearchOptions};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until `GET /` answers on `port`.
pub fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("vers search did not listen on port {port}");
}

/// Starts a server in this process (on its own runtime thread); returns its base URL.
pub fn start_in_process(flavor: Flavor, data_dir: &Path) -> String {
    let port = free_port();
    let opts = SearchOptions {
        listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        data_dir: data_dir.to_path_buf(),
        flavor,
        cluster_name: "vers-test".into(),
        node_name: "node-1".into(),
    };
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(vers_search::serve(opts))
            .expect("vers search serves");
    });
    wait_ready(port);
    format!("http://127.0.0.1:{port}")
}

/// A `vers-search` server process.
pub struct ServerProcess {
    /// The process.
    pub child: Child,
    /// Its port.
    pub port: u16,
}

impl ServerProcess {
    /// Starts `vers-search` on `data_dir`.
    pub fn start(data_dir: &Path, version: &str) -> ServerProcess {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_vers-search"))
            .args([
                "--listen",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--major",
                version,
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .spawn()
            .expect("vers-search starts");
        wait_ready(port);
        ServerProcess { child, port }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// SIGKILLs the process and reaps it.
    pub fn crash(mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path of a script in this `tests` directory.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
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

/// Runs `SCRIPT ARGS…` with the test environment's python and panics with its output unless
/// it exits 0; returns its standard output.
pub fn run_python(name: &str, args: &[&str]) -> String {
    let output = Command::new(python())
        .arg(script(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    stdout
}
