//! Network namespaces for real (needs root): same address and port in two namespaces,
//! reaching services through `NsRuntime`, name resolution through the bind-mounted hosts
//! file as the engine user, and live hosts-file rewrites.

mod common;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::{path_env, unique, ChildGuard, NsGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vers_runtime::netns::{list_netns, NetNs, NsRuntime};
use vers_runtime::spawn::{self, SpawnSpec};

const SERVICE_ADDR: &str = "127.0.1.2";

/// Sends inline redis commands and returns the raw reply once it holds `replies` lines.
async fn redis(addr: IpAddr, commands: &str, replies: usize) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect((addr, 6379)).await?;
    stream.write_all(commands.as_bytes()).await?;
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    while out.iter().filter(|b| **b == b'\n').count() < replies {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

async fn redis_when_up(addr: IpAddr, commands: &str, replies: usize) -> String {
    for _ in 0..200 {
        if let Ok(reply) = redis(addr, commands, replies).await {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("redis at {addr} never answered");
}

fn redis_spec(ns: &NetNs, dir: &std::path::Path) -> SpawnSpec {
    SpawnSpec {
        program: PathBuf::from("redis-server"),
        args: [
            "--bind",
            SERVICE_ADDR,
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        env: path_env(),
        cwd: dir.to_path_buf(),
        netns: Some(ns.name().to_string()),
        hosts_file: Some(ns.hosts_path()),
        user: Some(spawn::engine_user().unwrap()),
        stdout: Some(dir.join(format!("{}.log", ns.name()))),
        stderr: Some(dir.join(format!("{}.log", ns.name()))),
        stdin_null: true,
        new_session: true,
        ..Default::default()
    }
}

#[test]
fn two_namespaces_run_redis_on_the_same_address_and_port() {
    let a = NsGuard::create("redis-a");
    let b = NsGuard::create("redis-b");
    let dir = tempfile::tempdir().unwrap();
    let addr: IpAddr = SERVICE_ADDR.parse().unwrap();
    let mut servers = Vec::new();
    for g in [&a, &b] {
        g.ns().write_hosts(&[("redis".into(), addr)]).unwrap();
        servers.push(ChildGuard(
            spawn::spawn(&redis_spec(g.ns(), dir.path())).unwrap(),
        ));
    }
    let rt_a = NsRuntime::start(a.ns()).unwrap();
    let rt_b = NsRuntime::start(b.ns()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let set_a = rt_a
            .run(redis_when_up(addr, "SET who alpha\r\nGET who\r\n", 3))
            .await
            .unwrap();
        assert_eq!(set_a, "+OK\r\n$5\r\nalpha\r\n");
        // Namespace b has its own server on the same address and port: the key is absent.
        let get_b = rt_b
            .run(redis_when_up(addr, "GET who\r\nSET who beta\r\n", 2))
            .await
            .unwrap();
        assert_eq!(get_b, "$-1\r\n+OK\r\n");
        let again_a = rt_a
            .run(redis_when_up(addr, "GET who\r\n", 2))
            .await
            .unwrap();
        assert_eq!(again_a, "$5\r\nalpha\r\n");
    });
    // The blocking variant works from a plain thread too.
    let pong = rt_b.block_on(redis_when_up(addr, "PING\r\n", 1)).unwrap();
    assert_eq!(pong, "+PONG\r\n");
    rt_a.shutdown();
    rt_b.shutdown();
    for s in &servers {
        assert!(spawn::pid_alive(s.0.id() as i32));
    }
    let listed = list_netns(&unique("redis-")).unwrap();
    assert_eq!(listed, vec![unique("redis-a"), unique("redis-b")]);
}

/// All of 127.0.0.0/8 is local on a fresh namespace's loopback: no address to assign.
#[test]
fn binds_any_loopback_address_in_a_fresh_namespace() {
    let g = NsGuard::create("bind");
    let rt = NsRuntime::start(g.ns()).unwrap();
    let echoed = rt
        .block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.1.5:7777").await?;
            let accept = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await?;
                s.write_all(b"inside").await?;
                std::io::Result::Ok(())
            });
            let mut c = tokio::net::TcpStream::connect("127.0.1.5:7777").await?;
            let mut text = String::new();
            c.read_to_string(&mut text).await?;
            accept.await.map_err(std::io::Error::other)??;
            std::io::Result::Ok(text)
        })
        .unwrap()
        .unwrap();
    assert_eq!(echoed, "inside");
    rt.shutdown();
}

#[test]
fn engine_user_resolves_names_from_the_hosts_file_and_sees_rewrites() {
    let g = NsGuard::create("hosts");
    let ns = g.ns();
    let addr: IpAddr = SERVICE_ADDR.parse().unwrap();
    ns.write_hosts(&[("postgres".into(), addr)]).unwrap();
    let user = spawn::engine_user().unwrap();
    assert_ne!(user.uid, 0);
    let base = SpawnSpec {
        program: PathBuf::from("sh"),
        env: path_env(),
        cwd: "/".into(),
        netns: Some(ns.name().to_string()),
        hosts_file: Some(ns.hosts_path()),
        user: Some(user.clone()),
        stdin_null: true,
        ..Default::default()
    };
    let once = SpawnSpec {
        args: vec!["-c".into(), "id -u; getent hosts postgres".into()],
        ..base.clone()
    };
    let out = spawn::std_command(&once).unwrap().output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(user.uid.to_string().as_str()));
    assert!(
        lines.next().unwrap_or("").starts_with("127.0.1.2 "),
        "{out:?}"
    );
    // A process already running sees names added later (the file is rewritten in place).
    let waiting = SpawnSpec {
        args: vec![
            "-c".into(),
            "for i in $(seq 200); do getent hosts late && exit 0; sleep 0.02; done; exit 1".into(),
        ],
        ..base
    };
    let mut cmd = spawn::std_command(&waiting).unwrap();
    cmd.stdout(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let late: IpAddr = "127.0.1.9".parse().unwrap();
    ns.write_hosts(&[("postgres".into(), addr), ("late".into(), late)])
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("127.0.1.9 "));
    // The host's own /etc/hosts is untouched by the bind mount.
    let host = std::fs::read_to_string("/etc/hosts").unwrap();
    assert!(!host.contains("127.0.1.9"));
}

#[test]
fn create_refuses_an_existing_namespace_and_delete_cleans_up() {
    let name = unique("dup");
    let g = NsGuard(Some(NetNs::create(&name).unwrap()));
    assert!(NetNs::create(&name).is_err());
    g.ns().write_hosts(&[]).unwrap();
    let hosts_dir = g.ns().hosts_path().parent().unwrap().to_path_buf();
    assert!(hosts_dir.is_dir());
    let opened = NetNs::open(&name).unwrap();
    assert_eq!(opened.path(), PathBuf::from(format!("/run/netns/{name}")));
    opened.delete().unwrap();
    assert!(!hosts_dir.exists());
    assert!(NetNs::open(&name).is_err());
    assert!(list_netns(&name).unwrap().is_empty());
}
