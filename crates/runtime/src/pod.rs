//! Pods: a network namespace of its own for every service instance, linked to its
//! environment's namespace by a veth pair, as a pod is to its node.
//!
//! Inside its pod an instance binds any address and port (`0.0.0.0:3000`, `127.0.0.1`,
//! its own address) without colliding with any other instance, and `localhost` is itself.
//! The pod's only route leads to the environment's front network, where every service's
//! front address is local (the proxies listen there), so every name of the environment is
//! reachable and nothing outside it is: any other destination fails at once with "network
//! unreachable" (a default route would make DNS lookups wait for their timeouts instead).
//!
//! Addressing, per pod: the pod's `eth0` holds the instance's address (a /32); the
//! environment's end of the pair holds [`GATEWAY`] (the same /32 on every pair) and a host
//! route to the instance's address. The pod routes the front network via [`GATEWAY`].

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::error::RuntimeError;
use crate::netns::{delete_netns, netns_path};

/// The environment's address on every pod link, and every pod's default gateway.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);

/// One pod to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSpec {
    /// Name of the pod's network namespace (under `/run/netns`).
    pub netns: String,
    /// Name of the environment's end of the veth pair (at most 15 bytes, unique in the
    /// environment's namespace).
    pub veth: String,
    /// The instance's address.
    pub address: Ipv4Addr,
}

/// Runs `ip [-n NETNS] -batch -` with `lines` on standard input.
fn ip_batch(netns: &str, lines: &[String]) -> Result<(), RuntimeError> {
    let mut child = Command::new("ip")
        .args(["-n", netns, "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RuntimeError::Command(format!("running ip (is iproute2 installed?): {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let text = lines.join("\n") + "\n";
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| RuntimeError::Command(format!("writing to ip -batch: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RuntimeError::Command(format!("waiting for ip -batch: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(RuntimeError::Command(format!(
            "ip -n {netns} -batch failed ({}): {} (commands: {})",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            lines.join("; ")
        )))
    }
}

/// Makes the whole `front_net` (e.g. `10.99.0.0/16`) local in the environment's namespace
/// `env_netns`, so proxies can listen on any front address without assigning it first and
/// pods reach them through their gateway.
pub fn make_fronts_local(env_netns: &str, front_net: &str) -> Result<(), RuntimeError> {
    ip_batch(env_netns, &[format!("route add local {front_net} dev lo")])
}

/// Creates a pod linked to the environment namespace `env_netns`, routing `front_net` (e.g.
/// `10.99.0.0/16`) to it. On failure nothing is left behind.
pub fn create(env_netns: &str, front_net: &str, pod: &PodSpec) -> Result<(), RuntimeError> {
    if netns_path(&pod.netns).exists() {
        // Deleting the pod's namespace removes its end of the veth pair at once, but the
        // peer in the environment goes only when the kernel finishes tearing the namespace
        // down (asynchronously): remove the peer first, so its name is free to reuse now.
        let _ = Command::new("ip")
            .args(["-n", env_netns, "link", "del", &pod.veth])
            .stderr(Stdio::null())
            .status();
        delete_netns(&pod.netns)?;
    }
    let status = Command::new("ip")
        .args(["netns", "add", &pod.netns])
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| RuntimeError::Command(format!("running ip netns add: {e}")))?;
    if !status.status.success() {
        return Err(RuntimeError::Command(format!(
            "ip netns add {} failed: {}",
            pod.netns,
            String::from_utf8_lossy(&status.stderr).trim()
        )));
    }
    let wired = wire(env_netns, front_net, pod);
    if wired.is_err() {
        let _ = delete_netns(&pod.netns);
    }
    wired
}

fn wire(env_netns: &str, front_net: &str, pod: &PodSpec) -> Result<(), RuntimeError> {
    ip_batch(
        &pod.netns,
        &[
            "link set lo up".into(),
            format!(
                "link add eth0 type veth peer name {} netns {env_netns}",
                pod.veth
            ),
            format!("addr add {}/32 dev eth0", pod.address),
            "link set eth0 up".into(),
            format!("route add {GATEWAY} dev eth0"),
            format!("route add {front_net} via {GATEWAY} dev eth0"),
        ],
    )?;
    ip_batch(
        env_netns,
        &[
            format!("addr add {GATEWAY}/32 dev {}", pod.veth),
            format!("link set {} up", pod.veth),
            format!(
                "route add {}/32 dev {} src {GATEWAY}",
                pod.address, pod.veth
            ),
        ],
    )
}

/// Removes a pod (its namespace; the veth pair goes with it). A missing one is not an error.
pub fn delete(pod_netns: &str) -> Result<(), RuntimeError> {
    delete_netns(pod_netns)
}
