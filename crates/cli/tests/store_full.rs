//! A snapshot store that fills up, on a real loop-mounted btrfs image with a 600 MB limit
//! (`VERS_STORE_LIMIT`): the image starts at half the limit and grows while postgres runs;
//! at the limit `status` says "snapshot store full (…)" with the fix, `commit` refuses (and
//! `--force` overrides), checkpoints and environments can still be deleted, and `down --all`
//! leaves nothing mounted. A quota-based `disk-fill` (EDQUOT) is not taken for a full store.
//! The fills are written by the test into the store, beside the environments' volumes.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;

const MIB: u64 = 1024 * 1024;
const LIMIT: &str = "600mb";

const STACK: &str = r#"
name: store-full
services:
  postgres:
    template: postgres@15
    resources:
      storage: 128MiB
    config:
      databases: [app]
"#;

/// `vers` with the store limit and the btrfs snapshotter (the test directory is not on btrfs,
/// so the store is the loop image).
fn vers(p: &TempProject, args: &[&str]) -> Output {
    vers_with(p, LIMIT, args)
}

/// `vers` with the store limit `limit`.
fn vers_with(p: &TempProject, limit: &str, args: &[&str]) -> Output {
    std::process::Command::new(vers_bin())
        .args(args)
        .current_dir(p.path())
        .env_remove("VERS_ENV")
        .env("CI", "true")
        .env("VERS_STORE_LIMIT", limit)
        .env("VERS_SNAPSHOTTER", "btrfs")
        .output()
        .unwrap()
}

fn ok(p: &TempProject, args: &[&str]) -> String {
    let out = vers(p, args);
    assert!(
        out.status.success(),
        "vers {args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn status(p: &TempProject) -> serde_json::Value {
    serde_json::from_str(&ok(p, &["status", "--json"])).unwrap()
}

fn image_size(p: &TempProject) -> u64 {
    std::fs::metadata(p.path().join(".vers/btrfs.img"))
        .unwrap()
        .len()
}

fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

const ENOSPC: i32 = 28;
const EDQUOT: i32 = 122;

/// Writes up to `bytes` of zeros into `path` in 1 MiB blocks, stopping at the first ENOSPC
/// or EDQUOT; returns what was written and that error number.
fn write_file(path: &Path, bytes: u64) -> (u64, Option<i32>) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; MIB as usize];
    let mut written = 0;
    while written < bytes {
        match f.write_all(&block).and_then(|_| f.sync_data()) {
            Ok(()) => written += MIB,
            Err(e) if matches!(e.raw_os_error(), Some(ENOSPC) | Some(EDQUOT)) => {
                return (written, e.raw_os_error())
            }
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    (written, None)
}

/// Whether anything is mounted at or below `dir`.
fn mounted_under(dir: &Path) -> Vec<String> {
    let d = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| Path::new(m).starts_with(&d))
        .collect()
}

/// Loop devices backed by `img`.
fn loops_of(img: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/block").unwrap().flatten() {
        if let Ok(b) = std::fs::read_to_string(e.path().join("loop/backing_file")) {
            if Path::new(b.trim()) == img {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn the_store_grows_then_says_it_is_full_refuses_to_commit_and_still_deletes() {
    let p = TempProject::new(STACK);
    ok(&p, &["up"]);
    let img = std::fs::canonicalize(p.path().join(".vers/btrfs.img")).unwrap();
    assert_eq!(image_size(&p), 300 * MIB, "starts at half the limit");
    let st = status(&p);
    let env = st["environments"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(st["store"]["limit_bytes"], 600 * MIB, "{st}");
    assert_eq!(st["store"]["limit_from"], "VERS_STORE_LIMIT", "{st}");
    assert!(st["store"].get("full").is_none(), "{st}");
    let data = p
        .path()
        .join(format!(".vers/store/volumes/{env}/postgres/pgdata"));
    assert!(data.join("PG_VERSION").exists(), "{}", data.display());
    // The store's own directory, outside every environment's volume (and its quota).
    let store = p.path().join(".vers/store");

    // 120 MB while postgres runs: the free space falls below the threshold and the daemon
    // grows the image to its limit.
    let (w, err) = write_file(&store.join("fill-1"), 120 * MIB);
    assert_eq!(err, None, "after {w} bytes, before any growth");
    let began = Instant::now();
    assert!(
        eventually(Duration::from_secs(5), || image_size(&p) == 600 * MIB),
        "the image did not grow: {} bytes",
        image_size(&p)
    );
    eprintln!("grew to the limit {:?} after the write", began.elapsed());
    // A quota-based disk fill (EDQUOT) is not a full store.
    ok(
        &p,
        &[
            "chaos",
            "inject",
            "--no-checkpoint",
            "--service",
            "postgres",
            "--action",
            "disk-fill",
            "--percentage",
            "90",
        ],
    );
    let (w, err) = write_file(&data.join("over-quota"), 100 * MIB);
    let _ = std::fs::remove_file(data.join("over-quota"));
    assert_eq!(err, Some(EDQUOT), "after {w} bytes");
    std::thread::sleep(Duration::from_millis(600));
    let st = status(&p);
    assert!(st["store"].get("full").is_none(), "{st}");
    assert!(
        !p.path().join(".vers/store-full.json").exists(),
        "a quota fill was recorded as a full store"
    );
    ok(&p, &["chaos", "recover"]);

    ok(&p, &["execute", "psql -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c 'create table t(x int); insert into t values (1)'"]);
    ok(&p, &["commit", "--tag", "before"]);
    ok(&p, &["commit", "--tag", "mid"]);
    ok(&p, &["branch", "--alias", "side", "--from", "mid"]);

    // Fill the rest: writes fail with ENOSPC at the limit and vers says why.
    let (w, err) = write_file(&store.join("fill-2"), 1000 * MIB);
    assert_eq!(err, Some(ENOSPC), "after {w} bytes");
    assert_eq!(image_size(&p), 600 * MIB, "grew past its limit");
    // Postgres's WAL writes fail: it PANICs, its recovery fails too, and it exits.
    let insert = vers(
        &p,
        &[
            "execute",
            "psql postgres://postgres@postgres/app -c 'do $$ begin for i in 1..3000000 loop insert into t values (i); end loop; end $$'",
        ],
    );
    assert_ne!(insert.status.code(), Some(0), "{}", stdout(&insert));
    eprintln!("postgres on the full store:\n{}", stderr(&insert));
    let mut st = serde_json::Value::Null;
    assert!(
        eventually(Duration::from_secs(5), || {
            st = status(&p);
            st["store"]["full"].is_string()
        }),
        "{st}"
    );
    let message = st["store"]["full"].as_str().unwrap().to_string();
    eprintln!("status: {message}");
    assert!(
        message.starts_with("snapshot store full (0.6 GB): "),
        "{message}"
    );
    assert!(message.contains("VERS_STORE_LIMIT=629 MB"), "{message}");
    assert!(message.contains("vers checkpoint prune"), "{message}");
    assert!(
        message.contains("`VERS_STORE_LIMIT=2gb vers execute true`"),
        "{message}"
    );
    assert!(
        st["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == &message),
        "{st}"
    );
    let mut pg = serde_json::Value::Null;
    assert!(
        eventually(Duration::from_secs(10), || {
            pg = status(&p)["environments"][0]["services"][0].clone();
            pg["state"] == "failed"
        }),
        "{pg}"
    );
    assert_eq!(
        pg["reason"],
        "exit code 1: died of ENOSPC (no space left on device): snapshot store full (0.6 GB), \
         see `vers status`",
        "{pg}"
    );
    let table = ok(&p, &["status"]);
    eprintln!("{table}");
    assert!(table.contains("snapshot store full (0.6 GB)"), "{table}");
    assert!(
        table.contains("failed (exit code 1: died of ENOSPC"),
        "{table}"
    );
    let log = std::fs::read_to_string(p.path().join(".vers/daemon.log")).unwrap();
    assert!(
        log.contains("warning: snapshot store full (0.6 GB)"),
        "{log}"
    );
    assert!(
        log.contains("snapshot store grew from 314 MB to 629 MB in"),
        "{log}"
    );

    // Any command failing meanwhile says why.
    let chaos = vers(
        &p,
        &[
            "chaos",
            "inject",
            "--service",
            "postgres",
            "--action",
            "network-delay",
            "--latency",
            "100ms",
        ],
    );
    assert!(!chaos.status.success(), "{}", stderr(&chaos));
    assert!(
        stderr(&chaos).contains("\nsnapshot store full (0.6 GB): "),
        "{}",
        stderr(&chaos)
    );

    // Commit refuses (exit 1) and says why; --force commits anyway.
    let refused = vers(&p, &["commit", "--tag", "after"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(err.contains("refusing to checkpoint"), "{err}");
    assert!(err.contains("snapshot store full (0.6 GB)"), "{err}");
    assert!(err.contains("--force"), "{err}");
    let log_out = ok(&p, &["log", "--json"]);
    assert!(!log_out.contains("\"after\""), "{log_out}");

    // Deleting works on the full store.
    let rm = ok(&p, &["checkpoint", "rm", "before", "--json"]);
    assert!(rm.contains("before"), "{rm}");
    let deleted = ok(&p, &["branch", "delete", "side"]);
    assert!(deleted.contains("side"), "{deleted}");
    ok(&p, &["checkpoint", "prune"]);
    let names: Vec<String> = status(&p)["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["root"]);
    assert!(
        image_size(&p) <= 600 * MIB + 64 * MIB,
        "{} bytes",
        image_size(&p)
    );

    // Raising the limit while it runs: the image grows to the new one and has room again.
    let raised = vers_with(&p, "800mb", &["execute", "true"]);
    assert!(raised.status.success(), "{}", stderr(&raised));
    assert!(
        eventually(Duration::from_secs(5), || image_size(&p) == 800 * MIB),
        "{} bytes",
        image_size(&p)
    );
    let st = status(&p);
    assert!(st["store"].get("full").is_none(), "{st}");
    assert_eq!(st["store"]["limit_bytes"], 800 * MIB, "{st}");
    let forced = vers_with(&p, "800mb", &["commit", "--tag", "forced", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    // Rolled back to a checkpoint taken before the store filled, the data is whole again:
    // commit takes it without --force (the record counts whole seconds).
    std::thread::sleep(Duration::from_millis(1100));
    let back = vers_with(&p, "800mb", &["rollback", "mid"]);
    assert!(back.status.success(), "{}", stderr(&back));
    let whole = vers_with(&p, "800mb", &["commit", "--tag", "whole"]);
    assert!(whole.status.success(), "{}", stderr(&whole));

    // Nothing left mounted or attached.
    let down = vers_with(&p, "800mb", &["down", "--all"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(mounted_under(p.path()), Vec::<String>::new());
    assert_eq!(loops_of(&img), Vec::<PathBuf>::new());
}
