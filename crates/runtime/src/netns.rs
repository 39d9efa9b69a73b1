//! Network namespaces: one per environment, named `vers-…`, with a hosts file that is
//! bind-mounted over `/etc/hosts` for the environment's processes, and a dedicated thread
//! running a tokio runtime inside the namespace for sockets the supervisor opens there.
//!
//! All of 127.0.0.0/8 is local on a namespace's loopback once `lo` is up, so every service
//! can bind its own 127.x.y.z address (say 127.0.1.5) without any address assignment; the
//! test `binds_any_loopback_address_in_a_fresh_namespace` checks exactly that.

use std::future::Future;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};

use crate::error::RuntimeError;

use crate::netlink::NETNS_DIR;
/// Where per-namespace `/etc` overrides live (the `ip netns exec` convention).
const ETC_NETNS_DIR: &str = "/etc/netns";

/// The handle file of the namespace `name` (`/run/netns/NAME`).
pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// A named network namespace.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates the namespace and brings its loopback up.
    pub fn create(name: &str) -> Result<NetNs, RuntimeError> {
        if Path::new(NETNS_DIR).join(name).exists() {
            return Err(RuntimeError::Exists(format!("network namespace {name}")));
        }
        crate::netlink::create_netns(name)?;
        tracing::debug!(netns = name, "created network namespace");
        Ok(NetNs {
            name: name.to_string(),
        })
    }

    /// Opens an existing namespace.
    pub fn open(name: &str) -> Result<NetNs, RuntimeError> {
        if Path::new(NETNS_DIR).join(name).exists() {
            Ok(NetNs {
                name: name.to_string(),
            })
        } else {
            Err(RuntimeError::NotFound(format!("network namespace {name}")))
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace handle file.
    pub fn path(&self) -> PathBuf {
        netns_path(&self.name)
    }

    /// The hosts file bind-mounted over `/etc/hosts` for processes of this namespace.
    pub fn hosts_path(&self) -> PathBuf {
        Path::new(ETC_NETNS_DIR).join(&self.name).join("hosts")
    }

    /// Writes the hosts file (localhost lines first, then one line per entry). The file is
    /// truncated and rewritten in place, never replaced by a rename: bind mounts pin the inode,
    /// so processes already running see the new names.
    pub fn write_hosts(&self, entries: &[(String, IpAddr)]) -> Result<(), RuntimeError> {
        use std::io::Write;
        let path = self.hosts_path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io(dir, e))?;
        }
        let mut text =
            String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        for (name, addr) in entries {
            text.push_str(&format!("{addr}\t{name}\n"));
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| RuntimeError::io(&path, e))?;
        file.write_all(text.as_bytes())
            .map_err(|e| RuntimeError::io(&path, e))
    }

    /// Removes the namespace and its `/etc/netns` directory.
    pub fn delete(self) -> Result<(), RuntimeError> {
        delete_netns(&self.name)
    }
}

/// Names of the namespaces starting with `prefix`.
pub fn list_netns(prefix: &str) -> Result<Vec<String>, RuntimeError> {
    let dir = Path::new(NETNS_DIR);
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RuntimeError::io(dir, e)),
    };
    let mut out: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    out.sort();
    Ok(out)
}

/// Deletes a namespace by name (and its `/etc/netns` directory); a missing one is not an error.
pub fn delete_netns(name: &str) -> Result<(), RuntimeError> {
    let _ = std::fs::remove_dir_all(Path::new(ETC_NETNS_DIR).join(name));
    if !Path::new(NETNS_DIR).join(name).exists() {
        return Ok(());
    }
    crate::netlink::delete_netns_handle(name)?;
    tracing::debug!(netns = name, "deleted network namespace");
    Ok(())
}

/// A thread that entered a namespace and runs a current-thread tokio runtime: sockets
/// created by tasks spawned on it (listeners, connects) belong to that namespace.
///
/// Threads inherit the namespace of the thread that creates them, so blocking threads that
/// tasks of this runtime start (`spawn_blocking`, DNS lookups) are in the namespace too;
/// calling `handle().spawn_blocking` from a host thread is not, and should be avoided.
pub struct NsRuntime {
    name: String,
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for NsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsRuntime")
            .field("netns", &self.name)
            .finish()
    }
}

impl NsRuntime {
    /// Starts the thread inside `ns`.
    pub fn start(ns: &NetNs) -> Result<NsRuntime, RuntimeError> {
        let path = ns.path();
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let name = ns.name().to_string();
        let name2 = name.clone();
        let thread = std::thread::Builder::new()
            .name(format!("ns-{name}"))
            .spawn(move || {
                let entered = std::fs::File::open(&path)
                    .map_err(|e| RuntimeError::io(&path, e))
                    .and_then(|f| {
                        setns(f.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
                            RuntimeError::Sys(format!("setns {}: {e}", path.display()))
                        })
                    });
                if let Err(e) = entered {
                    let _ = tx.send(Err(e));
                    return;
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(RuntimeError::Sys(format!(
                            "tokio runtime for namespace {name}: {e}"
                        ))));
                        return;
                    }
                };
                let _ = tx.send(Ok(rt.handle().clone()));
                rt.block_on(async move {
                    let _ = stop_rx.await;
                });
                rt.shutdown_background();
            })
            .map_err(|e| RuntimeError::Sys(format!("thread for namespace {name2}: {e}")))?;
        let handle = rx
            .recv()
            .map_err(|_| RuntimeError::Sys(format!("the thread for namespace {name2} died")))??;
        Ok(NsRuntime {
            name: ns.name().to_string(),
            handle,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// A handle to spawn tasks inside the namespace.
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.handle.clone()
    }

    /// Spawns a task inside the namespace.
    pub fn spawn<F>(&self, f: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(f)
    }

    /// Runs `f` inside the namespace and waits for its output; usable from async code on any
    /// runtime. Fails when the namespace runtime stopped or `f` panicked.
    pub async fn run<F>(&self, f: F) -> Result<F::Output, RuntimeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle
            .spawn(f)
            .await
            .map_err(|e| RuntimeError::Sys(format!("task in namespace {}: {e}", self.name)))
    }

    /// Runs `f` inside the namespace and blocks the calling (non-async) thread until it ends.
    pub fn block_on<F>(&self, f: F) -> Result<F::Output, RuntimeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.handle.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.blocking_recv().map_err(|_| {
            RuntimeError::Sys(format!(
                "task in namespace {} was dropped before finishing",
                self.name
            ))
        })
    }

    /// Stops the runtime (its tasks are dropped) and joins the thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for NsRuntime {
    fn drop(&mut self) {
        self.stop_now();
    }
}
