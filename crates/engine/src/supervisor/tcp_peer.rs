//! Who is at the other end of a local TCP connection: the uid owning the peer's socket, asked
//! of the kernel with one exact `sock_diag` lookup (netlink `SOCK_DIAG_BY_FAMILY`, answered
//! synchronously, a few microseconds), or read from `/proc/thread-self/net/tcp{,6}` where
//! netlink diagnostics are unavailable.
//!
//! The answer is the uid that created the socket (the kernel's `sk_uid`, mapped into the
//! daemon's user namespace). A socket no process holds any more (the client closed it, so it
//! is orphaned or in `TIME_WAIT`, where the kernel reports uid 0) has no owner: the lookup
//! says `None`, and callers must refuse it, or a client could connect, write and close
//! before the check and pass as root.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The uid owning the socket at `peer` connected to `local`, both addresses on this host
/// and in the caller's network namespace. `Ok(None)`: no live socket a process holds has
/// that address (it closed, or never existed).
pub fn peer_uid(local: SocketAddr, peer: SocketAddr) -> io::Result<Option<u32>> {
    match diag_lookup(local, peer) {
        Ok(found) => Ok(found),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(_) => proc_lookup(local, peer),
    }
}

const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_HDRLEN: usize = 16;
/// `struct inet_diag_req_v2`: family, protocol, ext, pad, states, `inet_diag_sockid`.
const REQ_LEN: usize = 8 + SOCKID_LEN;
/// `struct inet_diag_sockid`: sport, dport, src[4], dst[4], if, cookie[2].
const SOCKID_LEN: usize = 4 + 16 + 16 + 4 + 8;
/// Offsets in `struct inet_diag_msg` (after family, state, timer, retrans, the sockid,
/// expires, rqueue, wqueue).
const MSG_UID: usize = 4 + SOCKID_LEN + 12;
const MSG_INODE: usize = MSG_UID + 4;

/// The 16 address bytes of `inet_diag_sockid` (network order, IPv4 in the first four).
fn addr_bytes(ip: IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.copy_from_slice(&v6.octets()),
    }
    out
}

/// The netlink request naming the peer's socket: its own address is `peer` and its remote
/// `local` (the kernel looks the socket up as an incoming packet would).
fn diag_request(local: SocketAddr, peer: SocketAddr) -> Vec<u8> {
    let family = if peer.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let total = NLMSG_HDRLEN + REQ_LEN;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
    m.push(family as u8);
    m.push(libc::IPPROTO_TCP as u8);
    m.push(0); // no extensions
    m.push(0);
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    m.extend_from_slice(&peer.port().to_be_bytes());
    m.extend_from_slice(&local.port().to_be_bytes());
    m.extend_from_slice(&addr_bytes(peer.ip()));
    m.extend_from_slice(&addr_bytes(local.ip()));
    m.extend_from_slice(&0u32.to_ne_bytes()); // any interface
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // INET_DIAG_NOCOOKIE
    m.extend_from_slice(&u32::MAX.to_ne_bytes());
    m
}

/// The exact `sock_diag` lookup. `Err(ENOENT)`: no such socket.
fn diag_lookup(local: SocketAddr, peer: SocketAddr) -> io::Result<Option<u32>> {
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let req = diag_request(local, peer);
    // SAFETY: an all-zero sockaddr_nl is valid; family set below.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `req` and `kernel` are valid for the lengths given during the call.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            req.as_ptr().cast(),
            req.len(),
            0,
            (&raw const kernel).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    // An exact lookup is answered while the request is sent: never wait for it.
    let mut buf = [0u8; 1024];
    // SAFETY: `buf` is writable for its length during the call.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    parse_diag_reply(&buf[..n as usize])
}

fn u32_at(buf: &[u8], at: usize) -> io::Result<u32> {
    buf.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short sock_diag reply"))
}

/// The owner in a `sock_diag` reply: `None` when no process holds the socket (inode 0).
fn parse_diag_reply(buf: &[u8]) -> io::Result<Option<u32>> {
    let kind = buf
        .get(4..6)
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short sock_diag reply"))?;
    if kind == NLMSG_ERROR {
        let code = u32_at(buf, NLMSG_HDRLEN)? as i32;
        return Err(io::Error::from_raw_os_error(-code));
    }
    if kind != SOCK_DIAG_BY_FAMILY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected sock_diag reply type {kind}"),
        ));
    }
    let uid = u32_at(buf, NLMSG_HDRLEN + MSG_UID)?;
    let inode = u32_at(buf, NLMSG_HDRLEN + MSG_INODE)?;
    Ok((inode != 0).then_some(uid))
}

/// The same answer from `/proc/thread-self/net/tcp` (or `tcp6`).
fn proc_lookup(local: SocketAddr, peer: SocketAddr) -> io::Result<Option<u32>> {
    let file = if peer.is_ipv4() { "tcp" } else { "tcp6" };
    let table = std::fs::read_to_string(format!("/proc/thread-self/net/{file}"))?;
    Ok(find_in_proc_table(&table, local, peer))
}

/// An address of `/proc/net/tcp{,6}`: hex words of the address as the kernel stores them
/// (each 32-bit word printed as a native integer), a colon, the port in hex.
fn parse_proc_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for i in (0..addr.len()).step_by(8) {
        let word = u32::from_str_radix(addr.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The owner of the line whose local address is `peer` and remote `local`; `None` if there
/// is none or no process holds it (inode 0).
fn find_in_proc_table(table: &str, local: SocketAddr, peer: SocketAddr) -> Option<u32> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            return None;
        }
        if parse_proc_addr(f[1])? != peer || parse_proc_addr(f[2])? != local {
            return None;
        }
        let uid: u32 = f[7].parse().ok()?;
        let inode: u64 = f[9].parse().ok()?;
        (inode != 0).then_some(uid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    fn accept(listener: &TcpListener) -> (SocketAddr, SocketAddr, TcpStream) {
        let (s, peer) = listener.accept().unwrap();
        (s.local_addr().unwrap(), peer, s)
    }

    #[test]
    fn own_connection_is_ours_by_netlink_and_by_proc() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (local, peer, _server) = accept(&listener);
        assert_eq!(peer, client.local_addr().unwrap());
        let me = nix::unistd::geteuid().as_raw();
        assert_eq!(diag_lookup(local, peer).unwrap(), Some(me));
        assert_eq!(proc_lookup(local, peer).unwrap(), Some(me));
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            assert_eq!(peer_uid(local, peer).unwrap(), Some(me));
        }
        let per = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..200 {
            assert_eq!(proc_lookup(local, peer).unwrap(), Some(me));
        }
        let per_proc = t.elapsed() / 200;
        eprintln!("peer uid lookup: sock_diag {per:?}, /proc/net/tcp {per_proc:?} per call");
        assert!(per < Duration::from_millis(5), "{per:?}");
    }

    #[test]
    fn another_users_connection_names_that_user() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        // A client running as nobody that keeps its socket open until told to stop.
        let mut child = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/127.0.0.1/{port}; cat >/dev/null"),
            ])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let (local, peer, _server) = accept(&listener);
        assert_eq!(diag_lookup(local, peer).unwrap(), Some(65534));
        assert_eq!(proc_lookup(local, peer).unwrap(), Some(65534));
        assert_eq!(peer_uid(local, peer).unwrap(), Some(65534));
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn a_client_that_already_closed_has_no_owner() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        drop(client);
        let (local, peer, mut server) = accept(&listener);
        // Wait until the close has reached us: the client's socket is then orphaned or in
        // TIME_WAIT, which the kernel reports as uid 0.
        let mut buf = [0u8; 1];
        assert_eq!(server.read(&mut buf).unwrap(), 0);
        assert_eq!(diag_lookup(local, peer).unwrap_or(None), None);
        assert_eq!(proc_lookup(local, peer).unwrap(), None);
        assert_eq!(peer_uid(local, peer).unwrap(), None);
    }

    #[test]
    fn unknown_sockets_have_no_owner() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        assert_eq!(peer_uid(a, b).unwrap(), None);
    }

    #[test]
    fn proc_addresses_parse() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0 20 4 30 10 -1\n   1: 0100007F:9C41 0100007F:1F90 06 00000000:00000000 03:00000000 00000000     0        0 0 3\n";
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let live: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let gone: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        assert_eq!(find_in_proc_table(table, local, live), Some(1000));
        assert_eq!(find_in_proc_table(table, local, gone), None);
        assert_eq!(find_in_proc_table(table, live, local), None);
        assert_eq!(
            parse_proc_addr("00000000000000000000000001000000:0050"),
            Some("[::1]:80".parse().unwrap())
        );
    }
}
