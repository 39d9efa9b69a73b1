//! Letting the engine user reach the project's data. Engines run as an unprivileged user
//! (PostgreSQL refuses root) and open their volumes under `<project>/.vers/store`; a project
//! under a private directory (`/root/app`, a `mktemp -d` directory, a 0700 home) would stop
//! them at the first directory they cannot search. Like libvirt for disk images under a
//! private home, vers then adds a search-only ACL entry for the engine user (no listing, no
//! reading) to each such directory, and says which ones it changed.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use vers_runtime::spawn::User;

/// ACL entry tags, as the kernel's `system.posix_acl_access` attribute encodes them.
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
/// The id of entries that name no user or group.
const UNDEFINED: u32 = u32::MAX;
/// The attribute's format version.
const VERSION: u32 = 2;
/// The search (execute) permission bit of an entry.
const SEARCH: u16 = 1;

const ATTR: &std::ffi::CStr = c"system.posix_acl_access";

/// One ACL entry: tag, permissions (rwx as 4/2/1), and the user or group id it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    tag: u16,
    perm: u16,
    id: u32,
}

/// Makes every directory from `/` down to `dir` searchable by `user`, adding a search-only
/// ACL entry where the user cannot search yet. Returns the directories changed (empty when
/// the user already reaches `dir`).
pub fn reach(dir: &Path, user: &User) -> io::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    // Each round finds the first directory the user cannot search, as the kernel decides it
    // (ACLs, groups, modes); there are at most as many rounds as path components.
    for _ in 0..=dir.components().count() {
        let Some(blocked) = first_unsearchable(dir, user)? else {
            return Ok(changed);
        };
        if changed.contains(&blocked) {
            break;
        }
        grant_search(&blocked, user.uid)?;
        changed.push(blocked);
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "the engine user {} still cannot reach {} after search access was granted on {:?}",
            user.name,
            dir.display(),
            changed
        ),
    ))
}

/// The first directory on the way from `/` to `dir` that `user` cannot search, checked by a
/// process running as that user (`test -x`, which asks the kernel's own access check).
fn first_unsearchable(dir: &Path, user: &User) -> io::Result<Option<PathBuf>> {
    let ancestors: Vec<&Path> = dir.ancestors().collect();
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"for d; do [ -x "$d" ] || { printf '%s' "$d"; exit 0; }; done"#)
        .arg("sh")
        .args(ancestors.iter().rev())
        .uid(user.uid)
        .gid(user.gid)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "checking what the engine user {} can reach failed ({})",
            user.name, out.status
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok((!text.is_empty()).then(|| PathBuf::from(text.as_ref())))
}

/// Adds search permission for `uid` to `dir`'s access ACL, keeping every entry it has (or,
/// without an ACL, the entries its mode stands for).
fn grant_search(dir: &Path, uid: u32) -> io::Result<()> {
    let entries = match read_acl(dir)? {
        Some(e) => e,
        None => from_mode(std::fs::metadata(dir)?.mode()),
    };
    write_acl(dir, &with_search_for(entries, uid))
}

/// The entries of a directory without an ACL, from its mode bits.
fn from_mode(mode: u32) -> Vec<Entry> {
    let bits = |shift: u32| ((mode >> shift) & 7) as u16;
    vec![
        Entry {
            tag: USER_OBJ,
            perm: bits(6),
            id: UNDEFINED,
        },
        Entry {
            tag: GROUP_OBJ,
            perm: bits(3),
            id: UNDEFINED,
        },
        Entry {
            tag: OTHER,
            perm: bits(0),
            id: UNDEFINED,
        },
    ]
}

/// `entries` with search permission for `uid`: its named entry gains the bit (or is added),
/// and the mask, which caps every named entry, gains it too (or is added as the group
/// class's union, as `setfacl` computes it).
fn with_search_for(mut entries: Vec<Entry>, uid: u32) -> Vec<Entry> {
    match entries.iter_mut().find(|e| e.tag == USER && e.id == uid) {
        Some(e) => e.perm |= SEARCH,
        None => entries.push(Entry {
            tag: USER,
            perm: SEARCH,
            id: uid,
        }),
    }
    match entries.iter_mut().find(|e| e.tag == MASK) {
        Some(m) => m.perm |= SEARCH,
        None => {
            let union = entries
                .iter()
                .filter(|e| !matches!(e.tag, USER_OBJ | OTHER))
                .fold(0, |acc, e| acc | e.perm);
            entries.push(Entry {
                tag: MASK,
                perm: union,
                id: UNDEFINED,
            });
        }
    }
    // The kernel requires entries sorted by tag, then id.
    entries.sort_by_key(|e| (e.tag, e.id));
    entries
}

fn c_path(dir: &Path) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// The access ACL of `dir`, or `None` when it has none (its mode is the whole story).
fn read_acl(dir: &Path) -> io::Result<Option<Vec<Entry>>> {
    let path = c_path(dir)?;
    let mut buf = vec![0u8; 4 + 8 * 64];
    // SAFETY: `path` and `ATTR` are NUL-terminated; `buf` is valid for `buf.len()` bytes.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            ATTR.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::EOPNOTSUPP) => Ok(None),
            _ => Err(e),
        };
    }
    decode(&buf[..n as usize]).map(Some)
}

fn decode(bytes: &[u8]) -> io::Result<Vec<Entry>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed POSIX ACL attribute");
    let (head, body) = bytes.split_at_checked(4).ok_or_else(bad)?;
    if u32::from_le_bytes([head[0], head[1], head[2], head[3]]) != VERSION || body.len() % 8 != 0 {
        return Err(bad());
    }
    Ok(body
        .chunks_exact(8)
        .map(|c| Entry {
            tag: u16::from_le_bytes([c[0], c[1]]),
            perm: u16::from_le_bytes([c[2], c[3]]),
            id: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut value = VERSION.to_le_bytes().to_vec();
    for e in entries {
        value.extend_from_slice(&e.tag.to_le_bytes());
        value.extend_from_slice(&e.perm.to_le_bytes());
        value.extend_from_slice(&e.id.to_le_bytes());
    }
    value
}

fn write_acl(dir: &Path, entries: &[Entry]) -> io::Result<()> {
    let path = c_path(dir)?;
    let value = encode(entries);
    // SAFETY: `path` and `ATTR` are NUL-terminated; `value` is valid for its length.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            ATTR.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets exactly `u::rwx,u:<uid>:--x,g::---,m::--x,o::---` on `dir`: private to its owner,
/// searchable by the engine user. Used for `.vers/` itself.
pub fn private_but_searchable(dir: &Path, uid: u32) -> io::Result<()> {
    write_acl(
        dir,
        &[
            Entry {
                tag: USER_OBJ,
                perm: 7,
                id: UNDEFINED,
            },
            Entry {
                tag: USER,
                perm: SEARCH,
                id: uid,
            },
            Entry {
                tag: GROUP_OBJ,
                perm: 0,
                id: UNDEFINED,
            },
            Entry {
                tag: MASK,
                perm: SEARCH,
                id: UNDEFINED,
            },
            Entry {
                tag: OTHER,
                perm: 0,
                id: UNDEFINED,
            },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(tag: u16, perm: u16, id: u32) -> Entry {
        Entry { tag, perm, id }
    }

    #[test]
    fn a_private_directory_gains_a_named_search_entry_and_a_mask_keeping_its_group() {
        let got = with_search_for(from_mode(0o750), 998);
        assert_eq!(
            got,
            vec![
                e(USER_OBJ, 7, UNDEFINED),
                e(USER, 1, 998),
                e(GROUP_OBJ, 5, UNDEFINED),
                e(MASK, 5, UNDEFINED),
                e(OTHER, 0, UNDEFINED),
            ]
        );
    }

    #[test]
    fn an_existing_acl_keeps_its_entries_and_only_gains_the_search_bit() {
        let before = vec![
            e(USER_OBJ, 7, UNDEFINED),
            e(USER, 4, 998),
            e(USER, 7, 1000),
            e(GROUP_OBJ, 0, UNDEFINED),
            e(MASK, 4, UNDEFINED),
            e(OTHER, 0, UNDEFINED),
        ];
        let got = with_search_for(before, 998);
        assert_eq!(got[1], e(USER, 5, 998));
        assert_eq!(got[2], e(USER, 7, 1000));
        assert_eq!(got[4], e(MASK, 5, UNDEFINED));
        assert_eq!(decode(&encode(&got)).unwrap(), got);
    }

    #[test]
    fn a_truncated_attribute_is_an_error_not_a_panic() {
        assert!(decode(&[2, 0]).is_err());
        assert!(decode(&[2, 0, 0, 0, 1, 0, 7]).is_err());
        assert!(decode(&[1, 0, 0, 0]).is_err());
    }
}
