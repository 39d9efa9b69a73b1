//! Who may talk to the daemon: the socket lives in a root-only directory with mode 0600, and
//! every connection's peer credentials (`SO_PEERCRED`) are checked against root and the
//! project's owner before a byte is read. Host endpoints on 127.0.0.1 (service forwards, the
//! dashboard) apply the same rule to TCP: the uid owning the connecting socket, found with
//! [`super::tcp_peer::peer_uid`], must be root or the owner, or the connection is closed
//! unread and the refusal logged with the uid. The engines' unix sockets, under
//! `/run/vers/<key>`, are reachable by root and the engine user only.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use std::time::Duration;
use vers_runtime::spawn::User;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::project::Project;

/// Uids allowed to use a project's daemon: root and the owner of the project directory.
pub fn allowed_uids(project: &Project) -> Vec<u32> {
    let mut uids = vec![0];
    if let Ok(meta) = std::fs::metadata(&project.dir) {
        if meta.uid() != 0 {
            uids.push(meta.uid());
        }
    }
    uids
}

/// Makes `dir` (and its parents) exist with mode 0700.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Makes the project's `.vers/` private: mode 0700 for root, plus an access-control entry
/// letting the engine user traverse it (search only: no listing, no reading) so services
/// reach their data volumes inside; on a file system without ACLs the directory is made 0711
/// instead. Directories above it that the engine user cannot search get a search-only entry
/// too ([`super::engine_reach::reach`]); they are returned, for the caller to say so.
pub fn private_state_dir(dir: &Path, engine: Option<&User>) -> std::io::Result<Vec<PathBuf>> {
    private_dir(dir)?;
    let Some(user) = engine else {
        return Ok(Vec::new());
    };
    if super::engine_reach::private_but_searchable(dir, user.uid).is_err() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
    }
    super::engine_reach::reach(dir, user).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "engines run as user {} and must reach {}: {e}; give that user search access \
                 to the directories above it (`setfacl -m u:{}:x DIR`) or move the project",
                user.name,
                dir.display(),
                user.name
            ),
        )
    })
}

/// Makes the project's runtime directory (`/run/vers/<key>`: the engines' unix sockets and
/// run files, the environments' API sockets) reachable by root and the engine user only:
/// owned by root with the engine user's group (`engine_gid`), mode 0710 (0700 without an
/// engine user). Other local users cannot reach an engine's unix socket, where postgres,
/// for one, trusts every connection.
pub fn private_runtime_dir(dir: &Path, engine_gid: Option<u32>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mode = match engine_gid {
        Some(gid) => {
            std::os::unix::fs::chown(dir, None, Some(gid))?;
            0o710
        }
        None => 0o700,
    };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// Binds the unix socket at `path` (replacing a stale one) in a private directory, mode 0600.
pub fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// A unix listener that hands over only connections whose peer uid is allowed; others are
/// closed at once.
pub struct PeerChecked {
    listener: UnixListener,
    allowed: Vec<u32>,
    refused: u64,
}

impl PeerChecked {
    /// Wraps `listener`, admitting peers whose uid is in `allowed`.
    pub fn new(listener: UnixListener, allowed: Vec<u32>) -> PeerChecked {
        PeerChecked {
            listener,
            allowed,
            refused: 0,
        }
    }

    /// `Ok` if the peer is allowed, else its uid (when known).
    fn admits(&self, stream: &UnixStream) -> Result<(), Option<u32>> {
        match stream.peer_cred() {
            Ok(cred) if self.allowed.contains(&cred.uid()) => Ok(()),
            Ok(cred) => Err(Some(cred.uid())),
            Err(_) => Err(None),
        }
    }
}

impl axum::serve::Listener for PeerChecked {
    type Io = UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => match self.admits(&stream) {
                    Ok(()) => return (stream, addr),
                    Err(uid) => {
                        self.refused += 1;
                        let who = uid.map_or("an unknown uid".into(), |u| format!("uid {u}"));
                        log_refused(
                            "the daemon socket",
                            &format!("from {who}"),
                            &self.allowed,
                            self.refused,
                        );
                    }
                },
                // Out of descriptors and similar: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// Checks the peer of `stream`, a connection accepted on a loopback listener: `Ok(uid)` if
/// the socket at the other end belongs to a uid in `allowed`, else why not (for the log).
pub fn check_tcp_peer(stream: &TcpStream, allowed: &[u32]) -> Result<u32, String> {
    let (local, peer) = match (stream.local_addr(), stream.peer_addr()) {
        (Ok(l), Ok(p)) => (l, p),
        (Err(e), _) | (_, Err(e)) => return Err(format!("its addresses are unknown: {e}")),
    };
    match super::tcp_peer::peer_uid(local, peer) {
        Ok(Some(uid)) if allowed.contains(&uid) => Ok(uid),
        Ok(Some(uid)) => Err(format!("from uid {uid} ({peer})")),
        Ok(None) => Err(format!(
            "from {peer}, which no process holds any more (closed before its owner was checked)"
        )),
        Err(e) => Err(format!("from {peer}: its owner cannot be found: {e}")),
    }
}

/// Writes a refused TCP connection to `what`, the `count`th there, to the daemon's log
/// (its stderr): the first 20 of an endpoint, then every 1000th, so a flood cannot fill it.
pub fn log_refused(what: &str, why: &str, allowed: &[u32], count: u64) {
    if count > 20 && !count.is_multiple_of(1000) {
        return;
    }
    let owners: Vec<String> = allowed.iter().map(u32::to_string).collect();
    eprintln!(
        "vers daemon: refused a connection to {what} {why}: only uids {} (root and the \
         project owner) may connect; {count} refused there so far",
        owners.join(", ")
    );
}

/// A loopback TCP listener that hands over only connections from root or the project's
/// owner (see [`check_tcp_peer`]); others are closed at once, unread, and logged.
pub struct OwnerOnlyTcp {
    listener: TcpListener,
    allowed: Vec<u32>,
    what: String,
    refused: u64,
}

impl OwnerOnlyTcp {
    /// Wraps `listener` (serving `what`, named in the log), admitting peers in `allowed`.
    pub fn new(listener: TcpListener, allowed: Vec<u32>, what: String) -> OwnerOnlyTcp {
        OwnerOnlyTcp {
            listener,
            allowed,
            what,
            refused: 0,
        }
    }
}

impl axum::serve::Listener for OwnerOnlyTcp {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => match check_tcp_peer(&stream, &self.allowed) {
                    Ok(_) => return (stream, addr),
                    Err(why) => {
                        self.refused += 1;
                        log_refused(&self.what, &why, &self.allowed, self.refused);
                    }
                },
                // Out of descriptors and similar: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}
