//! Who may talk to the daemon: the socket lives in a root-only directory with mode 0600, and
//! every connection's peer credentials (`SO_PEERCRED`) are checked against root and the
//! project's owner before a byte is read.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};

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
/// letting the engine user (`engine_uid`) traverse it (search only: no listing, no reading)
/// so services reach their data volumes inside. On a file system without ACLs the directory
/// is made 0711 instead.
pub fn private_state_dir(dir: &Path, engine_uid: Option<u32>) -> std::io::Result<()> {
    private_dir(dir)?;
    let Some(uid) = engine_uid else {
        return Ok(());
    };
    if grant_traverse(dir, uid).is_err() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
    }
    Ok(())
}

/// Sets the POSIX access ACL `u::rwx,u:<uid>:--x,g::---,m::--x,o::---` on `dir`, written as
/// the kernel's `system.posix_acl_access` extended attribute.
fn grant_traverse(dir: &Path, uid: u32) -> std::io::Result<()> {
    const UNDEFINED: u32 = u32::MAX;
    // (tag, perm, id), sorted by tag as the kernel requires.
    let entries: [(u16, u16, u32); 5] = [
        (0x01, 7, UNDEFINED), // owner: rwx
        (0x02, 1, uid),       // the engine user: search
        (0x04, 0, UNDEFINED), // owning group: nothing
        (0x10, 1, UNDEFINED), // mask
        (0x20, 0, UNDEFINED), // others: nothing
    ];
    let mut value = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        value.extend_from_slice(&tag.to_le_bytes());
        value.extend_from_slice(&perm.to_le_bytes());
        value.extend_from_slice(&id.to_le_bytes());
    }
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: both pointers are valid NUL-terminated strings / a buffer of the given length
    // for the duration of the call.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"system.posix_acl_access".as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
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
}

impl PeerChecked {
    /// Wraps `listener`, admitting peers whose uid is in `allowed`.
    pub fn new(listener: UnixListener, allowed: Vec<u32>) -> PeerChecked {
        PeerChecked { listener, allowed }
    }

    fn admits(&self, stream: &UnixStream) -> bool {
        match stream.peer_cred() {
            Ok(cred) => self.allowed.contains(&cred.uid()),
            Err(_) => false,
        }
    }
}

impl axum::serve::Listener for PeerChecked {
    type Io = UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    if self.admits(&stream) {
                        return (stream, addr);
                    }
                    tracing::warn!(
                        "refused a connection from a user other than root or the project owner"
                    );
                }
                // Out of descriptors and similar: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}
