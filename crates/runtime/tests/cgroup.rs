//! Cgroups for real (needs root): limits read back, hierarchical freeze/thaw of a counter
//! process in a child cgroup, and kill_all leaving nothing behind.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{path_env, CgroupGuard};
use vers_runtime::cgroup::{cgroup_support, list_children, Cgroup};
use vers_runtime::spawn::{self, SpawnSpec};

fn read_counter(path: &std::path::Path) -> u64 {
    for _ in 0..100 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Ok(n) = text.trim().parse::<u64>() {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("counter file {} never held a number", path.display());
}

#[test]
fn limits_are_applied() {
    let support = cgroup_support();
    let cg = CgroupGuard(Cgroup::create(&format!("vers/t{}-limits", std::process::id())).unwrap());
    if support.memory {
        cg.0.set_memory_limit(256 * 1024 * 1024).unwrap();
        assert_eq!(cg.0.memory_limit(), Some(256 * 1024 * 1024));
        assert!(cg.0.memory_usage().is_some());
    }
    if support.cpu {
        cg.0.set_cpu_limit(0.5).unwrap();
        assert_eq!(cg.0.cpu_limit(), Some(0.5));
    }
    assert!(
        support.memory || support.cpu,
        "no enforceable controller found"
    );
}

#[test]
fn freeze_reaches_child_cgroups_and_kill_all_empties_the_tree() {
    assert!(cgroup_support().freezer);
    let rel = format!("vers/t{}-freeze", std::process::id());
    let env = CgroupGuard(Cgroup::create(&rel).unwrap());
    let svc = Cgroup::create(&format!("{rel}/svc")).unwrap();
    assert_eq!(list_children(&rel).unwrap(), vec!["svc".to_string()]);
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("n");
    let spec = SpawnSpec {
        program: PathBuf::from("sh"),
        args: vec![
            "-c".into(),
            format!(
                "i=0; while :; do i=$((i+1)); echo $i > {}.t; mv {}.t {}; sleep 0.01; done",
                counter.display(),
                counter.display(),
                counter.display()
            ),
        ],
        env: path_env(),
        cwd: "/".into(),
        cgroup: Some(svc.clone()),
        new_session: true,
        stdin_null: true,
        ..Default::default()
    };
    let mut child = spawn::spawn(&spec).unwrap();
    let pid = child.id() as i32;
    let first = read_counter(&counter);
    assert!(env.0.procs().unwrap().contains(&pid));
    assert!(svc.procs().unwrap().contains(&pid));

    env.0.freeze().unwrap();
    let frozen_at = read_counter(&counter);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        read_counter(&counter),
        frozen_at,
        "a frozen process kept counting"
    );
    assert!(frozen_at >= first);

    env.0.thaw().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        read_counter(&counter) > frozen_at,
        "the thawed process did not resume"
    );

    env.0.freeze().unwrap();
    env.0.kill_all().unwrap();
    assert!(env.0.procs().unwrap().is_empty());
    let _ = child.wait();
    assert!(!spawn::pid_alive(pid));
    env.0.remove().unwrap();
    assert!(!env.0.exists());
    assert!(!svc.exists());
}
