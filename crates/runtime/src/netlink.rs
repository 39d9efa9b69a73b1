//! Named network namespaces and their links, addresses and routes, made in process: the
//! namespace with unshare(2) and a bind mount (what `ip netns add` does), the rest through
//! rtnetlink. Starting `ip` for each step cost a process apiece, 5–30 ms each on a busy
//! machine and most of a cold branch's set-up (issue 15).
//!
//! Namespaces belong to threads, so every operation runs on a short-lived thread of its own
//! that enters (or creates) the namespace; no runtime worker ever changes namespace.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::TryStreamExt;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use rtnetlink::packet_route::link::{InfoData, InfoVeth};
use rtnetlink::packet_route::route::{RouteScope, RouteType};
use rtnetlink::{Handle, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::error::RuntimeError;

/// Where named namespaces are kept (the `ip netns` convention, so `ip -n` works on ours).
pub const NETNS_DIR: &str = "/run/netns";

/// The kernel's `local` routing table (`ip route add local …` goes there).
const TABLE_LOCAL: u32 = 255;

/// One step of network set-up inside a namespace, as `ip` would take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `link set DEV up`.
    Up(String),
    /// `link add NAME type veth peer name PEER netns PEER_NETNS`.
    Veth {
        /// This end's name.
        name: String,
        /// The other end's name.
        peer: String,
        /// The named namespace the other end goes to.
        peer_netns: String,
    },
    /// `addr add ADDR/PREFIX dev DEV`.
    Addr {
        /// The device.
        dev: String,
        /// The address.
        addr: Ipv4Addr,
        /// Its prefix length.
        prefix: u8,
    },
    /// `route add [local] DEST/PREFIX [via VIA] dev DEV [src SRC]`.
    Route {
        /// Destination network.
        dest: Ipv4Addr,
        /// Its prefix length.
        prefix: u8,
        /// The device.
        dev: String,
        /// Gateway, if any.
        via: Option<Ipv4Addr>,
        /// Preferred source address, if any.
        src: Option<Ipv4Addr>,
        /// A `local` route (every address of `dest` is this host's).
        local: bool,
    },
    /// `link del DEV`; a missing device is not an error.
    DelLink(String),
}

fn sys(what: impl std::fmt::Display, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Sys(format!("{what}: {e}"))
}

/// Makes `/run/netns` a mount point with shared propagation, as `ip netns add` does, so a
/// namespace handle mounted later is seen by every mount namespace made from this one.
fn prepare_netns_dir() -> Result<(), RuntimeError> {
    let dir = Path::new(NETNS_DIR);
    std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io(dir, e))?;
    let shared = |d: &Path| {
        mount(
            None::<&str>,
            d,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    if shared(dir).is_ok() {
        return Ok(());
    }
    // Not a mount point yet: bind it onto itself first.
    mount(
        Some(dir),
        dir,
        Some("none"),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| sys(format!("bind-mounting {NETNS_DIR} onto itself"), e))?;
    shared(dir).map_err(|e| sys(format!("making {NETNS_DIR} shared"), e))
}

/// Creates the named namespace `name` (`/run/netns/NAME`, kept by a bind mount of the
/// namespace file) with its loopback up.
pub fn create_netns(name: &str) -> Result<(), RuntimeError> {
    prepare_netns_dir()?;
    let handle = Path::new(NETNS_DIR).join(name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&handle)
        .map_err(|e| RuntimeError::io(&handle, e))?;
    let made = std::thread::scope(|s| {
        s.spawn(|| -> Result<(), RuntimeError> {
            unshare(CloneFlags::CLONE_NEWNET).map_err(|e| sys("unshare(CLONE_NEWNET)", e))?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &handle,
                Some("none"),
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| sys(format!("binding the namespace to {}", handle.display()), e))?;
            run_ops(&[Op::Up("lo".into())])
        })
        .join()
        .unwrap_or_else(|_| Err(RuntimeError::Sys("the namespace thread panicked".into())))
    });
    if made.is_err() {
        let _ = delete_netns_handle(name);
    }
    made
}

/// Unmounts and removes the handle of the named namespace `name` (the namespace goes when
/// its last process leaves); a missing one is not an error.
pub fn delete_netns_handle(name: &str) -> Result<(), RuntimeError> {
    let handle = Path::new(NETNS_DIR).join(name);
    let _ = umount2(&handle, MntFlags::MNT_DETACH);
    match std::fs::remove_file(&handle) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::io(&handle, e)),
    }
}

/// Applies `ops`, in order, inside the named namespace `netns`.
pub fn apply(netns: &str, ops: &[Op]) -> Result<(), RuntimeError> {
    let path = Path::new(NETNS_DIR).join(netns);
    let file = std::fs::File::open(&path).map_err(|e| RuntimeError::io(&path, e))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(&file, CloneFlags::CLONE_NEWNET)
                .map_err(|e| sys(format!("entering {netns}"), e))?;
            run_ops(ops)
        })
        .join()
        .unwrap_or_else(|_| Err(RuntimeError::Sys("the netlink thread panicked".into())))
    })
    .map_err(|e| RuntimeError::Command(format!("network set-up in {netns}: {e}")))
}

/// Runs `ops` through a netlink socket of the calling thread's namespace.
fn run_ops(ops: &[Op]) -> Result<(), RuntimeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| sys("starting a netlink runtime", e))?;
    rt.block_on(async {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(|e| sys("opening a netlink socket", e))?;
        let conn = tokio::spawn(connection);
        let mut result = Ok(());
        for op in ops {
            if let Err(e) = run_op(&handle, op).await {
                result = Err(RuntimeError::Sys(format!("{}: {e}", describe(op))));
                break;
            }
        }
        conn.abort();
        result
    })
}

/// The `ip` command an operation stands for, for error messages.
fn describe(op: &Op) -> String {
    match op {
        Op::Up(dev) => format!("link set {dev} up"),
        Op::Veth {
            name,
            peer,
            peer_netns,
        } => format!("link add {name} type veth peer name {peer} netns {peer_netns}"),
        Op::Addr { dev, addr, prefix } => format!("addr add {addr}/{prefix} dev {dev}"),
        Op::Route {
            dest,
            prefix,
            dev,
            via,
            src,
            local,
        } => {
            let mut s = format!(
                "route add {}{dest}/{prefix}",
                if *local { "local " } else { "" }
            );
            if let Some(v) = via {
                s.push_str(&format!(" via {v}"));
            }
            s.push_str(&format!(" dev {dev}"));
            if let Some(src) = src {
                s.push_str(&format!(" src {src}"));
            }
            s
        }
        Op::DelLink(dev) => format!("link del {dev}"),
    }
}

/// The index of the device called `name`, or `None` when there is none.
async fn index_of(handle: &Handle, name: &str) -> Result<Option<u32>, rtnetlink::Error> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(Some(link.header.index)),
        Ok(None) => Ok(None),
        // The kernel answers ENODEV for a name it does not know.
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
        Err(e) => Err(e),
    }
}

async fn require_index(handle: &Handle, name: &str) -> Result<u32, String> {
    index_of(handle, name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no device {name}"))
}

/// Longest device name the kernel takes (IFNAMSIZ less the terminating NUL).
const MAX_DEVICE_NAME: usize = 15;

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_DEVICE_NAME || name.contains(['/', ' ']) {
        return Err(format!(
            "`{name}` is not a device name (1 to {MAX_DEVICE_NAME} bytes, no `/` or space)"
        ));
    }
    Ok(())
}

async fn run_op(handle: &Handle, op: &Op) -> Result<(), String> {
    match op {
        Op::Veth { name, peer, .. } => {
            check_name(name)?;
            check_name(peer)?;
        }
        Op::Up(dev) | Op::Addr { dev, .. } | Op::Route { dev, .. } | Op::DelLink(dev) => {
            check_name(dev)?;
        }
    }
    match op {
        Op::Up(dev) => {
            let index = require_index(handle, dev).await?;
            handle
                .link()
                .set(LinkUnspec::new_with_index(index).up().build())
                .execute()
                .await
                .map_err(|e| e.to_string())
        }
        Op::Veth {
            name,
            peer,
            peer_netns,
        } => {
            let path = Path::new(NETNS_DIR).join(peer_netns);
            let ns = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let peer_msg = LinkUnspec::new_with_name(peer)
                .setns_by_fd(ns.as_raw_fd())
                .build();
            let msg = LinkVeth::new(name, peer)
                .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
                .build();
            handle
                .link()
                .add(msg)
                .execute()
                .await
                .map_err(|e| e.to_string())
        }
        Op::Addr { dev, addr, prefix } => {
            let index = require_index(handle, dev).await?;
            handle
                .address()
                .add(index, (*addr).into(), *prefix)
                .execute()
                .await
                .map_err(|e| e.to_string())
        }
        Op::Route {
            dest,
            prefix,
            dev,
            via,
            src,
            local,
        } => {
            let index = require_index(handle, dev).await?;
            let mut route = RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(*dest, *prefix)
                .output_interface(index);
            route = if *local {
                route
                    .kind(RouteType::Local)
                    .scope(RouteScope::Host)
                    .table_id(TABLE_LOCAL)
            } else if let Some(gw) = via {
                route.gateway(*gw)
            } else {
                route.scope(RouteScope::Link)
            };
            if let Some(s) = src {
                route = route.pref_source(*s);
            }
            handle
                .route()
                .add(route.build())
                .execute()
                .await
                .map_err(|e| e.to_string())
        }
        Op::DelLink(dev) => match index_of(handle, dev).await.map_err(|e| e.to_string())? {
            Some(index) => handle
                .link()
                .del(index)
                .execute()
                .await
                .map_err(|e| e.to_string()),
            None => Ok(()),
        },
    }
}
