//! Who holds a host port: when a fixed host port (`ports: ["5432:5432"]`) cannot be bound,
//! the error names the program listening there, as `ss -ltnp` would, so the user knows what
//! to stop.

use std::collections::BTreeSet;

/// The first process (pid, command name) with a socket listening on TCP `port` in this
/// process's network namespace; `None` when none is found (or /proc cannot be read).
pub(super) fn listener_of(port: u16) -> Option<(i32, String)> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return None;
    }
    let procs = std::fs::read_dir("/proc").ok()?;
    for entry in procs.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                let t = target.to_string_lossy();
                t.strip_prefix("socket:[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| inodes.contains(&n))
            })
        });
        if holds {
            let comm = std::fs::read_to_string(entry.path().join("comm"))
                .map(|c| c.trim().to_string())
                .unwrap_or_default();
            return Some((pid, comm));
        }
    }
    None
}

/// Inodes of the sockets listening on TCP `port` (IPv4 and IPv6).
fn listening_inodes(port: u16) -> BTreeSet<u64> {
    listeners("/proc/self", port)
        .into_iter()
        .map(|l| l.inode)
        .collect()
}

/// A socket listening on TCP, as `/proc/PID/net/tcp{,6}` lists it.
pub(super) struct Listener {
    /// Its local address as the table writes it (hex words; see `probes::proc_net_addr`).
    pub addr: String,
    /// Whether it came from the IPv6 table.
    pub v6: bool,
    /// The socket's inode (`socket:[N]` among a process's file descriptors).
    pub inode: u64,
}

/// The sockets listening on TCP `port` in the network namespace of the process whose
/// `/proc` directory is `proc_dir` (`/proc/self`, `/proc/1234`); none when unreadable.
pub(super) fn listeners(proc_dir: &str, port: u16) -> Vec<Listener> {
    [("tcp", false), ("tcp6", true)]
        .into_iter()
        .flat_map(move |(file, v6)| {
            let table =
                std::fs::read_to_string(format!("{proc_dir}/net/{file}")).unwrap_or_default();
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    // Local address, state (0A: TCP_LISTEN), inode.
                    let (local, state, inode) = (f.get(1)?, f.get(3)?, f.get(9)?);
                    let (addr, p) = local.split_once(':')?;
                    (*state == "0A" && u16::from_str_radix(p, 16).ok()? == port).then(|| Listener {
                        addr: addr.to_string(),
                        v6,
                        inode: inode.parse().unwrap_or(0),
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_process_listening() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (pid, _) = listener_of(port).expect("this test's listener");
        assert_eq!(pid, std::process::id() as i32);
    }

    #[test]
    fn a_connected_socket_on_the_port_is_not_a_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        // The client's own port has an established socket and no listener.
        let port = client.local_addr().unwrap().port();
        assert!(listening_inodes(port).is_empty());
    }
}
