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

use std::net::Ipv4Addr;

use crate::error::RuntimeError;
use crate::netlink::{self, Op};
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

/// `front_net` (`10.99.0.0/16`) as an address and a prefix length.
fn parse_net(front_net: &str) -> Result<(Ipv4Addr, u8), RuntimeError> {
    let bad = || RuntimeError::Command(format!("{front_net} is not an IPv4 network (a.b.c.d/n)"));
    let (addr, prefix) = front_net.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    if prefix > 32 {
        return Err(bad());
    }
    Ok((addr, prefix))
}

/// Makes the whole `front_net` (e.g. `10.99.0.0/16`) local in the environment's namespace
/// `env_netns`, so proxies can listen on any front address without assigning it first and
/// pods reach them through their gateway.
pub fn make_fronts_local(env_netns: &str, front_net: &str) -> Result<(), RuntimeError> {
    let (dest, prefix) = parse_net(front_net)?;
    netlink::apply(
        env_netns,
        &[Op::Route {
            dest,
            prefix,
            dev: "lo".into(),
            via: None,
            src: None,
            local: true,
        }],
    )
}

/// Creates a pod linked to the environment namespace `env_netns`, routing `front_net` (e.g.
/// `10.99.0.0/16`) to it. On failure nothing is left behind.
pub fn create(env_netns: &str, front_net: &str, pod: &PodSpec) -> Result<(), RuntimeError> {
    let (front, front_prefix) = parse_net(front_net)?;
    if netns_path(&pod.netns).exists() {
        // Deleting the pod's namespace removes its end of the veth pair at once, but the
        // peer in the environment goes only when the kernel finishes tearing the namespace
        // down (asynchronously): remove the peer first, so its name is free to reuse now.
        let _ = netlink::apply(env_netns, &[Op::DelLink(pod.veth.clone())]);
        delete_netns(&pod.netns)?;
    }
    netlink::create_netns(&pod.netns)?;
    let wired = wire(env_netns, (front, front_prefix), pod);
    if wired.is_err() {
        let _ = delete_netns(&pod.netns);
    }
    wired
}

fn wire(env_netns: &str, front: (Ipv4Addr, u8), pod: &PodSpec) -> Result<(), RuntimeError> {
    netlink::apply(
        &pod.netns,
        &[
            Op::Veth {
                name: "eth0".into(),
                peer: pod.veth.clone(),
                peer_netns: env_netns.into(),
            },
            Op::Addr {
                dev: "eth0".into(),
                addr: pod.address,
                prefix: 32,
            },
            Op::Up("eth0".into()),
            Op::Route {
                dest: GATEWAY,
                prefix: 32,
                dev: "eth0".into(),
                via: None,
                src: None,
                local: false,
            },
            Op::Route {
                dest: front.0,
                prefix: front.1,
                dev: "eth0".into(),
                via: Some(GATEWAY),
                src: None,
                local: false,
            },
        ],
    )?;
    netlink::apply(
        env_netns,
        &[
            Op::Addr {
                dev: pod.veth.clone(),
                addr: GATEWAY,
                prefix: 32,
            },
            Op::Up(pod.veth.clone()),
            Op::Route {
                dest: pod.address,
                prefix: 32,
                dev: pod.veth.clone(),
                via: None,
                src: Some(GATEWAY),
                local: false,
            },
        ],
    )
}

/// Removes a pod (its namespace; the veth pair goes with it). A missing one is not an error.
pub fn delete(pod_netns: &str) -> Result<(), RuntimeError> {
    delete_netns(pod_netns)
}
