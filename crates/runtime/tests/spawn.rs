//! Process spawning for real (needs root): cleared environment, log files, process groups,
//! liveness, ownership changes, and refusing a missing hosts file.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{path_env, ChildGuard};
use vers_runtime::spawn::{self, SpawnSpec};

#[test]
fn environment_is_replaced_and_output_appends_to_logs() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs/out.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "earlier\n").unwrap();
    let mut env = path_env();
    env.insert("ONLY".into(), "this".into());
    let spec = SpawnSpec {
        program: PathBuf::from("sh"),
        args: vec!["-c".into(), "pwd; env | sort; echo oops >&2".into()],
        env,
        cwd: dir.path().to_path_buf(),
        stdout: Some(log.clone()),
        stderr: Some(log.clone()),
        stdin_null: true,
        ..Default::default()
    };
    let status = spawn::spawn(&spec).unwrap().wait().unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "earlier");
    assert_eq!(
        lines[1],
        dir.path().canonicalize().unwrap().to_str().unwrap()
    );
    assert!(lines.contains(&"ONLY=this"));
    assert!(lines.contains(&"oops"));
    assert!(
        !text.contains("HOME="),
        "the caller's environment leaked: {text}"
    );
}

#[test]
fn kill_group_ends_the_whole_session() {
    let spec = SpawnSpec {
        program: PathBuf::from("sh"),
        args: vec!["-c".into(), "sleep 30 & sleep 30 & wait".into()],
        env: path_env(),
        stdin_null: true,
        new_session: true,
        ..Default::default()
    };
    let mut guard = ChildGuard(spawn::spawn(&spec).unwrap());
    let pid = guard.0.id() as i32;
    assert!(spawn::pid_alive(pid));
    // The session leader's process group holds the shell and both sleeps.
    let deadline = Instant::now() + Duration::from_secs(5);
    let members = loop {
        let members = group_members(pid);
        if members.len() >= 3 || Instant::now() > deadline {
            break members;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(members.len() >= 3, "{members:?}");
    spawn::kill_group(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let _ = guard.0.wait();
    assert!(!spawn::pid_alive(pid));
    let deadline = Instant::now() + Duration::from_secs(5);
    while members.iter().any(|p| spawn::pid_alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(members.iter().all(|p| !spawn::pid_alive(*p)));
}

fn group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn chown_recursive_gives_a_tree_to_the_engine_user() {
    let user = spawn::engine_user().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("a/b")).unwrap();
    std::fs::write(data.join("a/b/file"), "x").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", data.join("link")).unwrap();
    spawn::chown_recursive(&data, &user).unwrap();
    for p in ["", "a", "a/b", "a/b/file", "link"] {
        let m = std::fs::symlink_metadata(data.join(p)).unwrap();
        assert_eq!((m.uid(), m.gid()), (user.uid, user.gid), "{p}");
    }
    // The symlink's target is not followed.
    assert_eq!(std::fs::metadata("/etc/passwd").unwrap().uid(), 0);
    spawn::ensure_owned(&data, &user).unwrap();
}

#[test]
fn a_missing_hosts_file_is_an_error_not_a_silent_skip() {
    let spec = SpawnSpec {
        program: PathBuf::from("true"),
        env: path_env(),
        hosts_file: Some(PathBuf::from("/nonexistent/vers/hosts")),
        ..Default::default()
    };
    let err = spawn::spawn(&spec).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/vers/hosts"), "{err}");
}
