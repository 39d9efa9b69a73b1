//! In-kernel forwarding of fault-free connections: a BPF sockhash with an `sk_skb` stream
//! verdict program that hands every skb arriving on one socket of a proxied pair to the
//! egress of the other (`bpf_sk_redirect_hash`), so the bytes never reach user space.
//!
//! The program is eleven lines of C worth of hand-assembled BPF (see [`program`]), loaded once
//! per process with the `bpf(2)` syscall. Three maps, all keyed by socket cookie (`SO_COOKIE`):
//! - `socks` (sockhash): the sockets of live pairs;
//! - `peers` (hash, cookie → peer cookie): where the bytes of a socket go; 0 = nowhere: the
//!   program passes them to the socket's own receive side, where `recvmsg` reads them;
//! - `counts` (hash, cookie → [redirected, passed] bytes), only ever written by the program
//!   (atomic adds), read by user space for statistics and for the hand-over.
//!
//! Life of a pair ([`Link`]): the peers and counts entries are written, then both sockets go
//! into `socks`, and `SO_RCVLOWAT` pokes each socket so bytes that arrived before it joined are
//! processed at once. If the program cannot find the peer (the first socket joined and data
//! arrived before the second one did, or the peer closed), it sets that socket's peer to 0
//! itself and passes from then on, so bytes are never dropped nor reordered.
//!
//! Leaving the kernel path ([`Link::stop`]) sets both peers to 0 and takes each socket's lock
//! once (a `TCP_INFO` read), which waits for a verdict running under it. From then on, arriving
//! bytes queue on their own socket, readable with `read(2)` (never `splice(2)`: the receive
//! queue is drained by the psock). Two things may still be in flight, and user space must wait
//! for them before it writes to a socket or trusts an end of stream:
//! - skbs already redirected to a socket but not yet written to its send queue by the psock
//!   worker: [`Link::drained`] compares the bytes written to the socket since it joined with
//!   the bytes redirected toward it;
//! - skbs queued for the socket's own receive side: [`Link::eof_confirmed`] compares the bytes
//!   the socket received with the bytes redirected from it plus the bytes user space read.
//!
//! Sockets are never removed from `socks` while their connection lives: removal frees the
//! psock and with it whatever it still queues. Closing a socket removes it by itself.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `BPF_MAP_CREATE` and friends (`enum bpf_cmd`).
const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;

const BPF_MAP_TYPE_HASH: u32 = 1;
const BPF_MAP_TYPE_SOCKHASH: u32 = 18;
const BPF_PROG_TYPE_SK_SKB: u32 = 14;
const BPF_SK_SKB_STREAM_VERDICT: u32 = 5;
const BPF_F_NO_PREALLOC: u32 = 1;
const BPF_ANY: u64 = 0;

/// Helper ids (`enum bpf_func_id`).
const FN_MAP_LOOKUP_ELEM: i32 = 1;
const FN_GET_SOCKET_COOKIE: i32 = 46;
const FN_SK_REDIRECT_HASH: i32 = 72;

/// `enum sk_action`.
const SK_DROP: i32 = 0;
const SK_PASS: i32 = 1;

/// Entries per map: live proxied sockets of the whole process; a pair that does not fit
/// is spliced in user space instead.
const MAX_SOCKETS: u32 = 65_536;

/// Send buffer of linked sockets (the kernel doubles it for bookkeeping).
const SEND_BUFFER: usize = 16 * 1024 * 1024;

/// Offsets in `struct tcp_info` (linux/tcp.h, stable ABI).
const TCPI_BYTES_ACKED: usize = 120;
const TCPI_BYTES_RECEIVED: usize = 128;
const TCPI_LEN: usize = 136;
/// `tcpi_state` of a closed connection.
const TCP_CLOSE: u8 = 7;

/// One BPF instruction, `struct bpf_insn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

/// A tiny assembler for the instructions the verdict program needs.
mod asm {
    use super::Insn;

    const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
    /// `dst = src` (64-bit).
    pub(super) const fn mov(dst: u8, src: u8) -> Insn {
        insn(0xbf, dst, src, 0, 0)
    }
    /// `dst = imm` (64-bit).
    pub(super) const fn mov_imm(dst: u8, imm: i32) -> Insn {
        insn(0xb7, dst, 0, 0, imm)
    }
    /// `dst += imm` (64-bit).
    pub(super) const fn add_imm(dst: u8, imm: i32) -> Insn {
        insn(0x07, dst, 0, 0, imm)
    }
    /// `dst = *(u32 *)(src + off)`.
    pub(super) const fn load32(dst: u8, src: u8, off: i16) -> Insn {
        insn(0x61, dst, src, off, 0)
    }
    /// `dst = *(u64 *)(src + off)`.
    pub(super) const fn load64(dst: u8, src: u8, off: i16) -> Insn {
        insn(0x79, dst, src, off, 0)
    }
    /// `*(u64 *)(dst + off) = src`.
    pub(super) const fn store64(dst: u8, off: i16, src: u8) -> Insn {
        insn(0x7b, dst, src, off, 0)
    }
    /// `*(u64 *)(dst + off) = imm`.
    pub(super) const fn store64_imm(dst: u8, off: i16, imm: i32) -> Insn {
        insn(0x7a, dst, 0, off, imm)
    }
    /// `lock *(u64 *)(dst + off) += src`.
    pub(super) const fn atomic_add64(dst: u8, off: i16, src: u8) -> Insn {
        insn(0xdb, dst, src, off, 0)
    }
    /// `dst = map` by file descriptor (two instruction slots).
    pub(super) const fn load_map_fd(dst: u8, fd: i32) -> [Insn; 2] {
        [insn(0x18, dst, 1, 0, fd), insn(0, 0, 0, 0, 0)]
    }
    /// `if dst == imm goto +off`.
    pub(super) const fn jeq_imm(dst: u8, imm: i32, off: i16) -> Insn {
        insn(0x15, dst, 0, off, imm)
    }
    /// `if dst != imm goto +off`.
    pub(super) const fn jne_imm(dst: u8, imm: i32, off: i16) -> Insn {
        insn(0x55, dst, 0, off, imm)
    }
    /// Calls helper `id`.
    pub(super) const fn call(id: i32) -> Insn {
        insn(0x85, 0, 0, 0, id)
    }
    /// Returns `r0`.
    pub(super) const fn exit() -> Insn {
        insn(0x95, 0, 0, 0, 0)
    }
}

/// The verdict program; in C:
///
/// ```c
/// int verdict(struct __sk_buff *skb) {
///     __u64 len = skb->len, key;
///     /* A bare FIN (the socket already knows it got one): queued in a psock, the worker
///      * would take its 0 bytes for a broken pipe and stop the socket. */
///     if (!len) return SK_DROP;
///     key = bpf_get_socket_cookie(skb);
///     __u64 *peer = bpf_map_lookup_elem(&peers, &key);
///     __u64 *count = bpf_map_lookup_elem(&counts, &key);
///     if (!peer || !count) return SK_PASS;
///     __u64 to = *peer;
///     if (to) {
///         if (bpf_sk_redirect_hash(skb, &socks, &to, 0) == SK_PASS) {
///             __sync_fetch_and_add(&count[0], len);   /* redirected */
///             return SK_PASS;
///         }
///         *peer = 0;   /* the peer left: pass from now on, never reorder */
///     }
///     __sync_fetch_and_add(&count[1], len);           /* passed */
///     return SK_PASS;
/// }
/// ```
fn program(socks: RawFd, peers: RawFd, counts: RawFd) -> Vec<Insn> {
    use asm::*;
    let mut p = vec![
        mov(6, 1),           // r6 = skb
        load32(7, 6, 0),     // r7 = skb->len
        jne_imm(7, 0, 2),    // data: go on
        mov_imm(0, SK_DROP), // empty (a bare FIN): nothing to keep
        exit(),
        call(FN_GET_SOCKET_COOKIE), // r0 = cookie (r1 is still skb)
        store64(10, -8, 0),         // key on the stack at fp-8
    ];
    p.extend(load_map_fd(1, peers));
    p.extend([
        mov(2, 10),
        add_imm(2, -8),
        call(FN_MAP_LOOKUP_ELEM),
        jeq_imm(0, 0, 24), // no entry: plain pass (to `pass`)
        mov(8, 0),         // r8 = &peer
    ]);
    p.extend(load_map_fd(1, counts));
    p.extend([
        mov(2, 10),
        add_imm(2, -8),
        call(FN_MAP_LOOKUP_ELEM),
        jeq_imm(0, 0, 17), // to `pass`
        mov(9, 0),         // r9 = &count
        load64(1, 8, 0),   // r1 = *peer
        jeq_imm(1, 0, 13), // to `count_pass`
        store64(10, -16, 1),
        mov(1, 6),
    ]);
    p.extend(load_map_fd(2, socks));
    p.extend([
        mov(3, 10),
        add_imm(3, -16),
        mov_imm(4, 0),
        call(FN_SK_REDIRECT_HASH),
        jne_imm(0, SK_PASS, 3), // to `lost_peer`
        atomic_add64(9, 0, 7),
        mov_imm(0, SK_PASS),
        exit(),
        // lost_peer:
        store64_imm(8, 0, 0),
        // count_pass:
        atomic_add64(9, 8, 7),
        // pass:
        mov_imm(0, SK_PASS),
        exit(),
    ]);
    p
}

fn bpf(cmd: libc::c_long, attr: &mut [u64; 18]) -> io::Result<i64> {
    // SAFETY: `attr` is a zero-padded `union bpf_attr` of the size passed; the kernel reads
    // (and for some commands writes) at most that many bytes.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn fd_from(ret: i64) -> io::Result<OwnedFd> {
    let fd = RawFd::try_from(ret).map_err(|_| io::Error::other("bad fd from bpf(2)"))?;
    // SAFETY: bpf(2) returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn create_map(kind: u32, key: u32, value: u32, flags: u32) -> io::Result<OwnedFd> {
    let mut attr = [0u64; 18];
    attr[0] = u64::from(kind) | (u64::from(key) << 32);
    attr[1] = u64::from(value) | (u64::from(MAX_SOCKETS) << 32);
    attr[2] = u64::from(flags);
    fd_from(bpf(BPF_MAP_CREATE, &mut attr)?)
}

fn map_update(map: &OwnedFd, key: &[u8], value: &[u8], flags: u64) -> io::Result<()> {
    let mut attr = [0u64; 18];
    attr[0] = map.as_raw_fd() as u64;
    attr[1] = key.as_ptr() as u64;
    attr[2] = value.as_ptr() as u64;
    attr[3] = flags;
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
}

fn map_lookup(map: &OwnedFd, key: &[u8], value: &mut [u8]) -> io::Result<()> {
    let mut attr = [0u64; 18];
    attr[0] = map.as_raw_fd() as u64;
    attr[1] = key.as_ptr() as u64;
    attr[2] = value.as_mut_ptr() as u64;
    bpf(BPF_MAP_LOOKUP_ELEM, &mut attr).map(drop)
}

fn map_delete(map: &OwnedFd, key: &[u8]) -> io::Result<()> {
    let mut attr = [0u64; 18];
    attr[0] = map.as_raw_fd() as u64;
    attr[1] = key.as_ptr() as u64;
    bpf(BPF_MAP_DELETE_ELEM, &mut attr).map(drop)
}

fn load_program(insns: &[Insn]) -> io::Result<OwnedFd> {
    let license = b"GPL\0";
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = [0u64; 18];
    let load = |attr: &mut [u64; 18], log: &mut Vec<u8>, level: u32| {
        *attr = [0u64; 18];
        attr[0] = u64::from(BPF_PROG_TYPE_SK_SKB) | ((insns.len() as u64) << 32);
        attr[1] = insns.as_ptr() as u64;
        attr[2] = license.as_ptr() as u64;
        if level > 0 {
            attr[3] = u64::from(level) | ((log.len() as u64) << 32);
            attr[4] = log.as_mut_ptr() as u64;
        }
        // expected_attach_type at byte 68.
        attr[8] = u64::from(BPF_SK_SKB_STREAM_VERDICT) << 32;
        bpf(BPF_PROG_LOAD, attr)
    };
    match load(&mut attr, &mut log, 0) {
        Ok(fd) => fd_from(fd),
        Err(first) => {
            // Load again with the verifier log, to say why.
            let _ = load(&mut attr, &mut log, 1);
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            let tail: String = text.lines().rev().take(6).collect::<Vec<_>>().join(" | ");
            Err(io::Error::new(
                first.kind(),
                format!("loading the verdict program: {first}; verifier: {tail}"),
            ))
        }
    }
}

fn attach(prog: &OwnedFd, map: &OwnedFd) -> io::Result<()> {
    let mut attr = [0u64; 18];
    attr[0] = map.as_raw_fd() as u64 | ((prog.as_raw_fd() as u64) << 32);
    attr[1] = u64::from(BPF_SK_SKB_STREAM_VERDICT);
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

fn getsockopt_bytes(fd: RawFd, level: i32, name: i32, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = libc::socklen_t::try_from(buf.len()).unwrap_or(libc::socklen_t::MAX);
    // SAFETY: `buf` is valid for `len` bytes and the kernel writes at most `len`.
    let ret = unsafe { libc::getsockopt(fd, level, name, buf.as_mut_ptr().cast(), &mut len) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(len as usize)
}

/// The socket's cookie, a 64-bit id unique for the life of the system.
fn cookie(fd: RawFd) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    getsockopt_bytes(fd, libc::SOL_SOCKET, libc::SO_COOKIE, &mut buf)?;
    Ok(u64::from_ne_bytes(buf))
}

/// `(bytes_acked, bytes_received)` from `TCP_INFO`; reading it takes the socket lock.
fn tcp_bytes(fd: RawFd) -> io::Result<(u64, u64)> {
    let mut buf = [0u8; TCPI_LEN];
    let len = getsockopt_bytes(fd, libc::IPPROTO_TCP, libc::TCP_INFO, &mut buf)?;
    if len < TCPI_LEN {
        return Err(io::Error::other("TCP_INFO too short"));
    }
    let field = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&buf[at..at + 8]);
        u64::from_ne_bytes(b)
    };
    Ok((field(TCPI_BYTES_ACKED), field(TCPI_BYTES_RECEIVED)))
}

/// Bytes in the send queue (written, not yet acknowledged).
fn outq(fd: RawFd) -> io::Result<u64> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ writes one int.
    if unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Bytes written to the socket so far, up to a constant (the SYN): acknowledged plus queued.
/// Read in this order the sum never exceeds the truth (an ack landing between the two reads
/// only makes it smaller); exact when the send queue is idle.
fn written(fd: RawFd) -> io::Result<u64> {
    let (acked, _) = tcp_bytes(fd)?;
    Ok(acked + outq(fd)?)
}

/// Whether the TCP connection is closed (`TCP_CLOSE`, e.g. after a reset).
fn closed(fd: RawFd) -> io::Result<bool> {
    let mut buf = [0u8; TCPI_LEN];
    getsockopt_bytes(fd, libc::IPPROTO_TCP, libc::TCP_INFO, &mut buf)?;
    Ok(buf[0] == TCP_CLOSE)
}

/// Whether the socket has a pending error (reading it clears it).
#[cfg(test)]
fn socket_error(fd: RawFd) -> bool {
    let mut buf = [0u8; 4];
    match getsockopt_bytes(fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut buf) {
        Ok(_) => i32::from_ne_bytes(buf) != 0,
        Err(_) => true,
    }
}

/// The loaded program and its maps, shared by every proxy of the process.
pub(crate) struct Sockmap {
    socks: OwnedFd,
    peers: OwnedFd,
    counts: OwnedFd,
    _prog: OwnedFd,
}

impl Sockmap {
    /// Creates the maps, loads the verdict program and attaches it to the sockhash.
    pub(crate) fn load() -> io::Result<Sockmap> {
        let socks = create_map(BPF_MAP_TYPE_SOCKHASH, 8, 4, 0)
            .map_err(|e| io::Error::new(e.kind(), format!("creating the sockhash: {e}")))?;
        let peers = create_map(BPF_MAP_TYPE_HASH, 8, 8, BPF_F_NO_PREALLOC)?;
        let counts = create_map(BPF_MAP_TYPE_HASH, 8, 16, BPF_F_NO_PREALLOC)?;
        let prog = load_program(&program(
            socks.as_raw_fd(),
            peers.as_raw_fd(),
            counts.as_raw_fd(),
        ))?;
        attach(&prog, &socks)
            .map_err(|e| io::Error::new(e.kind(), format!("attaching the verdict: {e}")))?;
        Ok(Sockmap {
            socks,
            peers,
            counts,
            _prog: prog,
        })
    }

    /// `[redirected, passed]` bytes the program saw arrive on the socket with this cookie.
    pub(crate) fn counts_of(&self, cookie: u64) -> io::Result<[u64; 2]> {
        let mut value = [0u8; 16];
        map_lookup(&self.counts, &cookie.to_ne_bytes(), &mut value)?;
        let (r, p) = value.split_at(8);
        let word = |s: &[u8]| u64::from_ne_bytes(s.try_into().unwrap_or([0; 8]));
        Ok([word(r), word(p)])
    }

    /// Stops redirecting for the sockets with these cookies from the next skb on (the
    /// connection's own [`Link::stop`] completes the hand-over).
    pub(crate) fn divert(&self, cookies: [u64; 2]) -> io::Result<()> {
        for cookie in cookies {
            map_update(
                &self.peers,
                &cookie.to_ne_bytes(),
                &0u64.to_ne_bytes(),
                BPF_ANY,
            )?;
        }
        Ok(())
    }

    /// Joins two connected TCP sockets so that bytes arriving on either leave through the
    /// other. Nothing must have been read from or written to them yet. On error nothing is
    /// left in the maps and the sockets are untouched (the caller copies instead).
    pub(crate) fn link(&self, a: RawFd, b: RawFd) -> io::Result<Link<'_>> {
        let sides = [Side::new(a)?, Side::new(b)?];
        let mut link = Link { map: self, sides };
        for (i, side) in link.sides.iter().enumerate() {
            let peer = link.sides[1 - i].cookie;
            map_update(
                &self.counts,
                &side.cookie.to_ne_bytes(),
                &[0u8; 16],
                BPF_ANY,
            )?;
            map_update(
                &self.peers,
                &side.cookie.to_ne_bytes(),
                &peer.to_ne_bytes(),
                BPF_ANY,
            )?;
        }
        let mut joined = false;
        for side in &link.sides {
            let fd = u32::try_from(side.fd).unwrap_or(u32::MAX);
            if let Err(e) = map_update(
                &self.socks,
                &side.cookie.to_ne_bytes(),
                &fd.to_ne_bytes(),
                BPF_ANY,
            ) {
                if !joined {
                    // Neither joined: the sockets are as they were.
                    return Err(e);
                }
                // The first one joined: stop at once; the caller finds the link diverted and
                // hands the connection over to user space as after a fault.
                link.stop()?;
                return Ok(link);
            }
            joined = true;
        }
        for side in &link.sides {
            // The psock worker retries a full send queue only a jiffy later (4 ms at HZ=250),
            // write-space wake-ups notwithstanding: a deep queue keeps it from stalling bulk
            // transfers. Memory is taken only while bytes queue; needs CAP_NET_ADMIN.
            let size = libc::c_int::try_from(SEND_BUFFER).unwrap_or(libc::c_int::MAX);
            // SAFETY: passes one int.
            unsafe {
                libc::setsockopt(
                    side.fd,
                    libc::SOL_SOCKET,
                    libc::SO_SNDBUFFORCE,
                    (&raw const size).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        for side in &link.sides {
            // Setting SO_RCVLOWAT runs the socket's data-ready hook, which makes the verdict
            // take the bytes that arrived before the socket joined.
            let one: libc::c_int = 1;
            // SAFETY: passes one int.
            unsafe {
                libc::setsockopt(
                    side.fd,
                    libc::SOL_SOCKET,
                    libc::SO_RCVLOWAT,
                    (&raw const one).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        Ok(link)
    }
}

/// One socket of a linked pair.
#[derive(Debug)]
struct Side {
    fd: RawFd,
    cookie: u64,
    /// [`written`] when it joined.
    written0: u64,
}

impl Side {
    fn new(fd: RawFd) -> io::Result<Side> {
        Ok(Side {
            fd,
            cookie: cookie(fd)?,
            written0: written(fd)?,
        })
    }
}

/// A pair of sockets forwarding to each other in the kernel; see the module docs.
pub(crate) struct Link<'a> {
    map: &'a Sockmap,
    sides: [Side; 2],
}

impl Link<'_> {
    /// The cookies of both sockets, keys of [`Sockmap::counts_of`].
    pub(crate) fn cookies(&self) -> [u64; 2] {
        [self.sides[0].cookie, self.sides[1].cookie]
    }

    /// `[redirected, passed]` bytes the program saw arrive on side `i` (0 = first socket).
    pub(crate) fn counts(&self, i: usize) -> io::Result<[u64; 2]> {
        self.map.counts_of(self.sides[i].cookie)
    }

    /// Whether the program stopped redirecting for one side by itself (its peer was missing).
    pub(crate) fn diverted(&self) -> io::Result<bool> {
        for side in &self.sides {
            let mut value = [0u8; 8];
            map_lookup(&self.map.peers, &side.cookie.to_ne_bytes(), &mut value)?;
            if u64::from_ne_bytes(value) == 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Stops redirecting: from the next skb on, arriving bytes stay on their own socket. When
    /// this returns no verdict is running any more, so [`Link::counts`] are final.
    pub(crate) fn stop(&mut self) -> io::Result<()> {
        for side in &self.sides {
            map_update(
                &self.map.peers,
                &side.cookie.to_ne_bytes(),
                &0u64.to_ne_bytes(),
                BPF_ANY,
            )?;
        }
        for side in &self.sides {
            // TCP_INFO takes the socket lock, under which verdicts run.
            let _ = tcp_bytes(side.fd);
        }
        Ok(())
    }

    /// Whether every byte redirected toward side `i` (from the other side) has been written to
    /// its send queue, so user space may write to it; also true if the socket is closed (reset:
    /// its bytes can no longer be delivered anyway). Call after [`Link::stop`].
    pub(crate) fn drained(&self, i: usize) -> io::Result<bool> {
        let side = &self.sides[i];
        let [toward, _] = self.counts(1 - i)?;
        if closed(side.fd)? {
            return Ok(true);
        }
        Ok(written(side.fd)?.saturating_sub(side.written0) >= toward)
    }

    /// After `read(2)` on side `i` returned end of stream: whether that end is real, i.e. every
    /// byte the socket received has been either redirected by the program or read by user
    /// space (`read` bytes so far), none still queued in the psock. `bytes_received` counts
    /// the FIN as one. Call after [`Link::stop`].
    pub(crate) fn eof_confirmed(&self, i: usize, read: u64) -> io::Result<bool> {
        let [redirected, _] = self.counts(i)?;
        let (_, received) = tcp_bytes(self.sides[i].fd)?;
        Ok(received <= redirected + read + 1)
    }
}

impl Drop for Link<'_> {
    fn drop(&mut self) {
        for side in &self.sides {
            let key = side.cookie.to_ne_bytes();
            let _ = map_delete(&self.map.peers, &key);
            let _ = map_delete(&self.map.counts, &key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    fn loaded() -> Option<Sockmap> {
        match Sockmap::load() {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("BPF unavailable, skipping: {e}");
                None
            }
        }
    }

    #[test]
    fn instructions_encode_registers_and_offsets() {
        let i = asm::store64(10, -8, 0);
        assert_eq!((i.code, i.regs, i.off), (0x7b, 0x0a, -8));
        let [lo, hi] = asm::load_map_fd(1, 7);
        assert_eq!((lo.code, lo.regs, lo.imm), (0x18, 0x11, 7));
        assert_eq!(
            hi,
            Insn {
                code: 0,
                regs: 0,
                off: 0,
                imm: 0
            }
        );
        let p = program(3, 4, 5);
        // Every jump lands inside the program.
        for (at, insn) in p.iter().enumerate() {
            if matches!(insn.code, 0x15 | 0x55) {
                let to = at as i64 + 1 + i64::from(insn.off);
                assert!((0..p.len() as i64).contains(&to), "jump at {at}");
            }
        }
        assert_eq!(p.last().unwrap().code, 0x95);
        let target = |at: usize| (at as i64 + 1 + i64::from(p[at].off)) as usize;
        let pass = p.len() - 2;
        assert_eq!(p[pass], asm::mov_imm(0, SK_PASS));
        assert_eq!(p[target(2)], asm::call(FN_GET_SOCKET_COOKIE));
        assert_eq!((p[3], p[4]), (asm::mov_imm(0, SK_DROP), asm::exit()));
        assert_eq!((target(12), target(19)), (pass, pass));
        assert_eq!(p[target(22)], asm::atomic_add64(9, 8, 7));
        assert_eq!(p[target(31)], asm::store64_imm(8, 0, 0));
        assert_eq!(p[30], asm::call(FN_SK_REDIRECT_HASH));
    }

    /// client ⇄ (x | y) ⇄ server with x, y linked in the kernel.
    struct Chain {
        client: TcpStream,
        x: TcpStream,
        y: TcpStream,
        server: TcpStream,
    }

    fn chain() -> Chain {
        let (client, x) = pair();
        let (y, server) = pair();
        for s in [&client, &x, &y, &server] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        Chain {
            client,
            x,
            y,
            server,
        }
    }

    #[test]
    fn bytes_cross_in_the_kernel_both_ways_and_are_counted() {
        let Some(map) = loaded() else { return };
        let mut c = chain();
        // Sent before the link: must be taken when the sockets join.
        c.client.write_all(b"early").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let link = map.link(c.x.as_raw_fd(), c.y.as_raw_fd()).unwrap();
        let mut buf = [0u8; 5];
        c.server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"early");
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut server = c.server.try_clone().unwrap();
        let echo = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut total = 0;
            while total < 1_000_000 {
                let n = server.read(&mut buf).unwrap();
                server.write_all(&buf[..n]).unwrap();
                total += n;
            }
        });
        let mut w = c.client.try_clone().unwrap();
        let sent = data.clone();
        let writer = std::thread::spawn(move || w.write_all(&sent).unwrap());
        let mut back = vec![0u8; data.len()];
        c.client.read_exact(&mut back).unwrap();
        writer.join().unwrap();
        echo.join().unwrap();
        assert!(back == data);
        assert_eq!(link.counts(0).unwrap(), [1_000_005, 0]);
        assert_eq!(link.counts(1).unwrap(), [1_000_000, 0]);
        assert!(!link.diverted().unwrap());
    }

    #[test]
    fn stop_hands_over_without_loss_and_ends_of_stream_wait_for_the_queue() {
        let Some(map) = loaded() else { return };
        let mut c = chain();
        let mut link = map.link(c.x.as_raw_fd(), c.y.as_raw_fd()).unwrap();
        c.client.write_all(b"kernel ").unwrap();
        let mut buf = [0u8; 7];
        c.server.read_exact(&mut buf).unwrap();
        link.stop().unwrap();
        assert!(link.drained(1).unwrap());
        c.client.write_all(b"user").unwrap();
        c.client.shutdown(Shutdown::Write).unwrap();
        // The bytes now stay on x; read them by hand and forward.
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut b = [0u8; 64];
            let n = c.x.read(&mut b).unwrap();
            if n == 0 {
                if link.eof_confirmed(0, got.len() as u64).unwrap() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "end of stream never confirmed: {:?} {:?} {}",
                    link.counts(0),
                    tcp_bytes(c.x.as_raw_fd()),
                    got.len()
                );
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            got.extend_from_slice(&b[..n]);
        }
        assert_eq!(got, b"user");
        assert_eq!(link.counts(0).unwrap()[0], 7);
        c.y.write_all(&got).unwrap();
        c.y.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        c.server.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"user");
    }

    #[test]
    fn end_of_stream_is_not_confirmed_while_bytes_are_unread() {
        let Some(map) = loaded() else { return };
        let mut c = chain();
        let mut link = map.link(c.x.as_raw_fd(), c.y.as_raw_fd()).unwrap();
        link.stop().unwrap();
        c.client.write_all(b"pending").unwrap();
        c.client.shutdown(Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(!link.eof_confirmed(0, 0).unwrap());
        assert!(!link.eof_confirmed(0, 6).unwrap());
        let mut b = [0u8; 7];
        c.x.read_exact(&mut b).unwrap();
        assert_eq!(c.x.read(&mut b).unwrap(), 0);
        assert!(link.eof_confirmed(0, 7).unwrap());
        assert_eq!(link.counts(0).unwrap(), [0, 7]);
    }

    #[test]
    fn a_half_close_in_the_kernel_leaves_the_other_way_working() {
        let Some(map) = loaded() else { return };
        let mut c = chain();
        let mut link = map.link(c.x.as_raw_fd(), c.y.as_raw_fd()).unwrap();
        c.client.write_all(b"abc").unwrap();
        c.client.shutdown(Shutdown::Write).unwrap();
        let mut b = [0u8; 3];
        c.server.read_exact(&mut b).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // The FIN stays on x (the kernel cannot forward it); y is unharmed.
        assert!(!socket_error(c.y.as_raw_fd()));
        c.server.write_all(b"to client").unwrap();
        let mut b = [0u8; 9];
        c.client.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"to client");
        link.stop().unwrap();
        c.server.write_all(b"answer").unwrap();
        let mut b = [0u8; 6];
        c.y.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"answer");
        assert_eq!(c.x.read(&mut b).unwrap(), 0);
        assert!(link.eof_confirmed(0, 0).unwrap());
    }

    #[test]
    fn a_peer_missing_diverts_to_the_socket_itself() {
        let Some(map) = loaded() else { return };
        let mut c = chain();
        let link = map.link(c.x.as_raw_fd(), c.y.as_raw_fd()).unwrap();
        // Closing y removes it from the sockhash: x's bytes can no longer go anywhere.
        drop(c.y);
        c.client.write_all(b"orphan").unwrap();
        let mut b = [0u8; 6];
        c.x.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"orphan");
        assert!(link.diverted().unwrap());
        assert_eq!(link.counts(0).unwrap(), [0, 6]);
    }
}
