//! The schema registry judged by Confluent's Python client (SchemaRegistryClient, the Avro
//! serializer and deserializer): every endpoint it uses, compatibility accepted and refused,
//! levels, deletes, and registrations that survive SIGKILL and a copy of a running
//! registry's data directory.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use vers_mocks::schema_registry::{serve, serve_on, SchemaRegistryOptions, STATE_FILE};

/// Environment of the child process [`registry_process`] runs as.
const CHILD_DIR: &str = "VERS_TEST_REGISTRY_DIR";
const CHILD_PORT: &str = "VERS_TEST_REGISTRY_PORT";

fn options(dir: &Path, port: u16) -> SchemaRegistryOptions {
    SchemaRegistryOptions {
        listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        data_dir: dir.to_path_buf(),
        kafka: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_client_runs_every_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve_on(listener, options(dir.path(), port)));
    let base = format!("http://127.0.0.1:{port}");
    let out = support::run_python("schema_registry_client.py", &[&base, "full"]).await;
    assert!(
        out.contains("schema registry client checks passed"),
        "{out}"
    );
    assert!(dir.path().join(STATE_FILE).is_file());
    server.abort();
}

/// Not a test on its own: the registry server process that
/// `registrations_survive_sigkill_and_copies` starts and kills.
#[test]
#[ignore = "the server process of registrations_survive_sigkill_and_copies"]
fn registry_process() {
    let dir = std::env::var(CHILD_DIR).expect("the parent test sets the data directory");
    let port: u16 = std::env::var(CHILD_PORT)
        .expect("the parent test sets the port")
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(serve(options(Path::new(&dir), port)))
        .unwrap();
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts this test binary's [`registry_process`] on `dir`, and waits until it answers.
fn start_process(dir: &Path) -> (Child, String) {
    let port = free_port();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["registry_process", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_DIR, dir)
        .env(CHILD_PORT, port.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let began = Instant::now();
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "the registry process did not listen on {addr} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_survive_sigkill_and_copies() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let copy = root.path().join("copy");
    let state = root.path().join("client-state.json");
    let state = state.to_str().unwrap();

    let (mut child, base) = start_process(&data);
    support::run_python("schema_registry_client.py", &[&base, "before", state]).await;
    // A copy of the running registry's directory, as a checkpoint takes it.
    let status = Command::new("cp")
        .arg("-a")
        .arg(&data)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    for dir in [&data, &copy] {
        let (mut child, base) = start_process(dir);
        let out = support::run_python("schema_registry_client.py", &[&base, "after", state]).await;
        assert!(
            out.contains("phase after passed"),
            "{}: {out}",
            dir.display()
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
