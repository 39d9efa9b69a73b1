//! Pods for real (needs root): two instances binding `0.0.0.0` on the same port in their own
//! pods, each reached only at its own address from the environment; a pod reaching a front
//! address of the environment; nothing left after delete.

mod common;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use common::{path_env, unique, ChildGuard, NsGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vers_runtime::netns::{list_netns, NsRuntime};
use vers_runtime::pod::{self, PodSpec};
use vers_runtime::spawn::{self, SpawnSpec};

/// Deletes the pod's namespace on drop.
struct PodGuard(String);

impl Drop for PodGuard {
    fn drop(&mut self) {
        let _ = pod::delete(&self.0);
    }
}

/// A one-line TCP server in the pod: binds `0.0.0.0:3000` and answers every connection
/// with `name`.
fn server(pod_netns: &str, hosts: PathBuf, name: &str, dir: &std::path::Path) -> SpawnSpec {
    let script = format!(
        "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0', 3000))\ns.listen()\nwhile True:\n    c,_=s.accept(); c.sendall(b'{name}\\n'); c.close()\n"
    );
    SpawnSpec {
        program: PathBuf::from("python3"),
        args: vec!["-c".into(), script],
        env: path_env(),
        cwd: dir.to_path_buf(),
        netns: Some(pod_netns.to_string()),
        hosts_file: Some(hosts),
        stdout: Some(dir.join(format!("{name}.log"))),
        stderr: Some(dir.join(format!("{name}.log"))),
        stdin_null: true,
        new_session: true,
        ..Default::default()
    }
}

async fn read_from(addr: Ipv4Addr, port: u16) -> std::io::Result<String> {
    let mut s = tokio::net::TcpStream::connect((addr, port)).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

async fn read_when_up(addr: Ipv4Addr, port: u16) -> String {
    for _ in 0..400 {
        if let Ok(text) = read_from(addr, port).await {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing answered at {addr}:{port}");
}

#[test]
fn instances_bind_the_same_port_in_their_own_pods() {
    let env = NsGuard::create("podenv");
    let env_name = env.ns().name().to_string();
    env.ns().write_hosts(&[]).unwrap();
    pod::make_fronts_local(&env_name, "10.99.0.0/16").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pods: Vec<PodSpec> = [("web", 1u8), ("web2", 2u8)]
        .iter()
        .map(|(name, n)| PodSpec {
            netns: format!("{env_name}.{name}"),
            veth: format!("vp{n}"),
            address: Ipv4Addr::new(10, 100, 0, *n),
        })
        .collect();
    let mut guards = Vec::new();
    let mut children = Vec::new();
    for (p, name) in pods.iter().zip(["web", "web2"]) {
        pod::create(&env_name, "10.99.0.0/16", p).unwrap();
        guards.push(PodGuard(p.netns.clone()));
        let child =
            spawn::spawn(&server(&p.netns, env.ns().hosts_path(), name, dir.path())).unwrap();
        children.push(ChildGuard(child));
    }

    let rt = NsRuntime::start(env.ns()).unwrap();
    let (a, b) = (pods[0].address, pods[1].address);
    let answers = rt
        .block_on(async move { (read_when_up(a, 3000).await, read_when_up(b, 3000).await) })
        .unwrap();
    assert_eq!(answers, ("web\n".to_string(), "web2\n".to_string()));

    // From inside a pod, a front address of the environment is reachable.
    let front = rt
        .block_on(async {
            let l = tokio::net::TcpListener::bind((Ipv4Addr::new(10, 99, 0, 7), 5432))
                .await
                .unwrap();
            tokio::spawn(async move {
                while let Ok((mut c, _)) = l.accept().await {
                    let _ = c.write_all(b"front\n").await;
                }
            });
        })
        .map(|_| ());
    front.unwrap();
    let client = PodRuntime::enter(&pods[0].netns);
    let reached = client
        .block_on(async { read_when_up(Ipv4Addr::new(10, 99, 0, 7), 5432).await })
        .unwrap();
    assert_eq!(reached, "front\n");
    // ...and the other pod is not reachable from inside the first one by its loopback.
    let own = client
        .block_on(async { read_when_up(Ipv4Addr::LOCALHOST, 3000).await })
        .unwrap();
    assert_eq!(own, "web\n", "localhost in a pod is the pod itself");
    // Anything outside the environment is unreachable at once (no waiting for timeouts).
    let began = std::time::Instant::now();
    let outside = client
        .block_on(async { tokio::net::TcpStream::connect((Ipv4Addr::new(192, 0, 2, 1), 80)).await })
        .unwrap();
    assert!(outside.is_err());
    assert!(
        began.elapsed() < Duration::from_millis(500),
        "{:?}",
        began.elapsed()
    );
    drop(client);
    rt.shutdown();
    drop(children);
    drop(guards);
    let left: Vec<String> = list_netns(&format!("{env_name}."))
        .unwrap()
        .into_iter()
        .collect();
    assert!(left.is_empty(), "pods left behind: {left:?}");
}

/// An `NsRuntime` inside a pod (pods are plain named namespaces).
struct PodRuntime;

impl PodRuntime {
    fn enter(netns: &str) -> NsRuntime {
        let ns = vers_runtime::netns::NetNs::open(netns).unwrap();
        NsRuntime::start(&ns).unwrap()
    }
}

#[test]
fn creating_a_pod_twice_replaces_it_and_a_bad_link_name_leaves_nothing() {
    let env = NsGuard::create("podenv2");
    let env_name = env.ns().name().to_string();
    let p = PodSpec {
        netns: unique("pod2"),
        veth: "vp9".into(),
        address: Ipv4Addr::new(10, 100, 0, 9),
    };
    pod::create(&env_name, "10.99.0.0/16", &p).unwrap();
    pod::create(&env_name, "10.99.0.0/16", &p).unwrap();
    pod::delete(&p.netns).unwrap();
    let bad = PodSpec {
        veth: "a-link-name-longer-than-fifteen".into(),
        ..p.clone()
    };
    let err = pod::create(&env_name, "10.99.0.0/16", &bad).unwrap_err();
    assert!(
        err.to_string()
            .contains("`a-link-name-longer-than-fifteen` is not a device name"),
        "{err}"
    );
    assert!(list_netns(&p.netns).unwrap().is_empty());
}
