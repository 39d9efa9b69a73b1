//! What environment processes see of the host's filesystem (docs/isolation.md), against real
//! redis: only their own volume of the snapshot store, and no copy of another project's
//! store, so `down --all` of one project leaves no mount or loop device of it anywhere.

mod common;

use std::path::Path;

use common::*;

/// The project key (16 hex digits) of `dir`.
fn key_of(dir: &Path) -> String {
    netns_prefix(dir)
        .trim_start_matches("vers-")
        .trim_end_matches('-')
        .to_string()
}

/// Processes whose cgroup lies under the project's (`vers/<key>`).
fn processes_of(key: &str) -> Vec<u32> {
    let needle = format!("/vers/{key}/");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .map(|c| c.contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

/// Every process whose mount table lists a mount at or under `path`.
fn holders_of(path: &Path) -> Vec<(u32, String)> {
    let needle = format!(" {} ", path.display());
    let under = format!(" {}/", path.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).ok()?;
            let line = info
                .lines()
                .find(|l| l.contains(&needle) || l.contains(&under))?;
            Some((pid, line.to_string()))
        })
        .collect()
}

fn loop_devices_of(img: &Path) -> String {
    let out = std::process::Command::new("losetup")
        .arg("-j")
        .arg(img)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn down_all_of_one_project_leaves_no_mount_or_loop_device_of_it_in_another() {
    let manifest = "name: NAME\nservices:\n  redis:\n    template: redis@7\n";
    let a = TempProject::new(&manifest.replace("NAME", "first"));
    let b = TempProject::new(&manifest.replace("NAME", "second"));
    a.ok(&["up"]);
    // The second project starts while the first one's store is mounted.
    b.ok(&["up"]);
    b.ok(&["execute", "redis-cli -h redis set k v"]);
    let state = a.path().canonicalize().unwrap().join(".vers");
    let img = state.join("btrfs.img");
    let store = state.join("store");
    assert!(
        !loop_devices_of(&img).is_empty(),
        "the first project's store is not a loop-mounted image: the test would prove nothing"
    );
    let theirs = processes_of(&key_of(b.path()));
    assert!(!theirs.is_empty(), "no process of the second project");
    for pid in &theirs {
        let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
        assert!(
            !info.contains(store.to_str().unwrap()),
            "process {pid} of the second project holds the first one's store: {info}"
        );
    }
    a.ok(&["down", "--all"]);
    assert_eq!(holders_of(&store), Vec::<(u32, String)>::new());
    // The device goes with the last reference to the filesystem, released just after.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !loop_devices_of(&img).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        loop_devices_of(&img),
        "",
        "the loop device is still attached"
    );
    // The second project goes on untouched.
    assert_eq!(
        stdout(&b.vers(&["execute", "redis-cli -h redis get k"])).trim(),
        "v"
    );
}

const ISOLATION: &str = r#"set -e
S="$PWD/.vers/store"
touch "$BARRIER/$VERS_BRANCH"
i=0
while [ "$(ls "$BARRIER" | wc -l)" -lt 2 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
redis-cli -h redis set mark "$VERS_BRANCH" > /dev/null
redis-cli -h redis save > /dev/null
{
  echo "together: $(ls "$BARRIER" | wc -l)"
  echo "volumes: $(ls "$S/volumes" | tr '\n' ' ')"
  echo "store: $(ls -A "$S" | tr '\n' ' ')"
  echo "dumps: $(ls "$S"/volumes/*/redis/dump.rdb | wc -l)"
  head -c 5 "$S"/volumes/*/redis/dump.rdb; echo
  grep -c '^name: iso' vers-integration.yaml
  ls "$S/checkpoints" 2>/dev/null && echo "checkpoints: visible"
  echo done
} > "$OUT/$VERS_BRANCH.txt" 2>&1
"#;

#[test]
fn a_test_command_sees_its_own_volume_and_the_project_but_no_sibling_branch() {
    let barrier = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let p = TempProject::new(&format!(
        r#"
name: iso
services:
  redis:
    template: redis@7
checkpoints:
  - name: seeded
    after: redis-cli -h redis set seed yes
tests:
  peek:
    command: sh scripts/peek.sh
    parallel: true
    env: {{ BARRIER: "{}", OUT: "{}" }}
    branches:
      - name: left
      - name: right
"#,
        barrier.path().display(),
        out.path().display()
    ));
    p.write("scripts/peek.sh", ISOLATION);
    let run = p.vers(&["test"]);
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    for branch in ["left", "right"] {
        let text = std::fs::read_to_string(out.path().join(format!("{branch}.txt")))
            .unwrap_or_else(|e| panic!("{branch}: {e}\n{}", stderr(&run)));
        let lines: Vec<&str> = text.lines().collect();
        // Both branches ran at the same time, each with its volume in the store.
        assert_eq!(lines[0], "together: 2", "{branch}: {text}");
        let volumes: Vec<&str> = lines[1]
            .trim_start_matches("volumes:")
            .split_whitespace()
            .collect();
        assert_eq!(volumes.len(), 1, "{branch} sees another volume: {text}");
        assert_eq!(lines[2].trim(), "store: volumes", "{branch}: {text}");
        assert_eq!(lines[3], "dumps: 1", "{branch}: {text}");
        // Its own data, written by its own redis, is readable at the usual path.
        assert_eq!(lines[4], "REDIS", "{branch}: {text}");
        // And so are the project's files.
        assert_eq!(lines[5], "1", "{branch}: {text}");
        assert_eq!(lines[6], "done", "{branch}: {text}");
    }
}
