//! Mount namespaces of environment processes, for real (needs root): a view shows an
//! environment only its own volume, no process holds another project's store, and
//! unmounting a loop-mounted store detaches it from every namespace so the loop device goes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{path_env, ChildGuard};
use vers_runtime::snapshot::{open_snapshotter, unmount_store, SnapshotterKind};
use vers_runtime::spawn::{self, SpawnSpec, View};

/// Unmounts the store (and detaches the loop device) even when an assertion fails.
struct StoreGuard(PathBuf);

impl Drop for StoreGuard {
    fn drop(&mut self) {
        let _ = unmount_store(&self.0);
    }
}

/// Runs `script` with `sh -c` in a mount namespace with `views`, returning (success, output).
fn run(script: &str, views: Vec<View>, cwd: &Path) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("out.log");
    let spec = SpawnSpec {
        program: PathBuf::from("sh"),
        args: vec!["-c".into(), script.into()],
        env: path_env(),
        cwd: cwd.to_path_buf(),
        stdout: Some(log.clone()),
        stderr: Some(log.clone()),
        stdin_null: true,
        views,
        detach_foreign_stores: true,
        ..Default::default()
    };
    let status = spawn::spawn(&spec).unwrap().wait().unwrap();
    (status.success(), std::fs::read_to_string(&log).unwrap())
}

fn store_view(store: &Path, env: &str, scratch: &Path) -> View {
    View {
        dir: store.to_path_buf(),
        keep: vec![Path::new("volumes").join(env)],
        scratch: scratch.to_path_buf(),
        read_only: true,
    }
}

#[test]
fn a_view_shows_the_own_volume_and_nothing_of_the_siblings_not_even_later_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("proj/.vers/store");
    for d in ["volumes/a", "volumes/b", "checkpoints/c"] {
        std::fs::create_dir_all(store.join(d)).unwrap();
    }
    std::fs::write(store.join("volumes/a/data"), "mine").unwrap();
    std::fs::write(store.join("volumes/b/data"), "theirs").unwrap();
    std::fs::write(tmp.path().join("proj/README"), "project file").unwrap();
    let scratch = tmp.path().join("scratch");
    let s = store.display();
    let go = tmp.path().join("go");
    let script = format!(
        "cat README; echo; cat {s}/volumes/a/data; echo; echo new > {s}/volumes/a/new; \
         ls -a {s}; ls {s}/volumes; \
         while [ ! -e {go} ]; do sleep 0.02; done; echo after:; ls {s}/volumes; \
         cat {s}/volumes/b/data && echo LEAK-B; cat {s}/volumes/late/data && echo LEAK-LATE; \
         ls {s}/checkpoints && echo LEAK-CKPT; touch {s}/x && echo WROTE-STORE; true",
        go = go.display()
    );
    let dir = tmp.path().join("proj");
    let views = vec![store_view(&store, "a", &scratch)];
    let handle = std::thread::spawn(move || run(&script, views, &dir));
    // A branch made after the process started stays invisible to it.
    std::thread::sleep(Duration::from_millis(200));
    std::fs::create_dir_all(store.join("volumes/late")).unwrap();
    std::fs::write(store.join("volumes/late/data"), "later").unwrap();
    std::fs::write(&go, "").unwrap();
    let (ok, out) = handle.join().unwrap();
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "project file", "{out}");
    assert_eq!(lines[1], "mine", "{out}");
    // `ls -a` of the store: only the volumes directory.
    assert_eq!(&lines[2..5], [".", "..", "volumes"], "{out}");
    assert_eq!(lines[5], "a", "{out}");
    assert_eq!(lines[6], "after:", "{out}");
    assert_eq!(lines[7], "a", "{out}");
    for leak in [
        "LEAK-B",
        "LEAK-LATE",
        "LEAK-CKPT",
        "WROTE-STORE",
        "theirs",
        "later",
    ] {
        assert!(!out.contains(leak), "{leak}: {out}");
    }
    // Writes to the own volume land in the real one.
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("proj/.vers/store/volumes/a/new")).unwrap(),
        "new\n"
    );
}

#[test]
fn a_working_directory_inside_a_view_does_not_reach_around_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("proj/.vers/store");
    std::fs::create_dir_all(store.join("volumes/a/pg")).unwrap();
    std::fs::create_dir_all(store.join("volumes/b")).unwrap();
    std::fs::write(store.join("volumes/b/data"), "theirs").unwrap();
    let views = vec![store_view(&store, "a", &tmp.path().join("scratch"))];
    let (ok, out) = run(
        "pwd; ls ../..; cat ../../b/data && echo LEAK; true",
        views,
        &store.join("volumes/a/pg"),
    );
    assert!(ok, "{out}");
    assert!(!out.contains("LEAK") && !out.contains("theirs"), "{out}");
    assert_eq!(out.lines().nth(1), Some("a"), "{out}");
}

fn mountinfo_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default()
}

fn loop_devices_of(img: &Path) -> String {
    let out = Command::new("losetup").arg("-j").arg(img).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A process in a mount namespace of its own, made the way any tool (or an older vers) makes
/// one: a copy of every mount, slave of the host's.
fn foreign_namespace() -> ChildGuard {
    let child = Command::new("unshare")
        .args(["-m", "--propagation", "slave", "sleep", "60"])
        .spawn()
        .unwrap();
    let guard = ChildGuard(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    let own = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    while std::fs::read_link(format!("/proc/{}/ns/mnt", guard.0.id())).ok() == Some(own.clone())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    guard
}

#[test]
fn environment_processes_hold_no_other_projects_store() {
    let tmp = tempfile::tempdir().unwrap();
    let other = tmp.path().join("other/.vers");
    let _guard = StoreGuard(other.clone());
    open_snapshotter(&other, Some(SnapshotterKind::Btrfs)).unwrap();
    let other_store = other.join("store");
    // Stacked over it, as an outer environment's view is when vers runs nested: both go.
    let cover = tmp.path().join("cover");
    std::fs::create_dir_all(&cover).unwrap();
    nix::mount::mount(
        Some(&cover),
        &other_store,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _cover = Unmount(other_store.clone());
    let ours = tmp.path().join("ours/.vers/store");
    std::fs::create_dir_all(ours.join("volumes/e1")).unwrap();
    let views = vec![store_view(&ours, "e1", &tmp.path().join("scratch"))];
    let (ok, out) = run("cat /proc/self/mountinfo", views, tmp.path());
    assert!(ok, "{out}");
    assert!(out.contains(" / / "), "{out}");
    assert!(
        !out.contains(other_store.to_str().unwrap()),
        "the other project's store was copied into the process: {out}"
    );
}

#[test]
fn unmounting_a_store_detaches_it_from_every_namespace_and_frees_the_loop_device() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("proj/.vers");
    let _guard = StoreGuard(state.clone());
    let snap = open_snapshotter(&state, Some(SnapshotterKind::Btrfs)).unwrap();
    let v = snap.create_volume("v").unwrap();
    std::fs::write(v.join("f"), "x").unwrap();
    let img = state.join("btrfs.img");
    assert!(!loop_devices_of(&img).is_empty());
    let store = state.join("store");
    // Two namespaces holding copies, as other projects' processes of an older vers did.
    let a = foreign_namespace();
    let b = foreign_namespace();
    for g in [&a, &b] {
        assert!(mountinfo_of(g.0.id()).contains(store.to_str().unwrap()));
    }
    unmount_store(&state).unwrap();
    for g in [&a, &b] {
        let info = mountinfo_of(g.0.id());
        assert!(
            !info.contains(store.to_str().unwrap()),
            "copy left in {}: {info}",
            g.0.id()
        );
    }
    // The loop device goes with the last copy (autoclear), if not at once then soon.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !loop_devices_of(&img).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(loop_devices_of(&img), "", "loop device still attached");
    // The image is root's alone: the engine user may traverse `.vers`, not read the image.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&img).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// CPU time (user + system) of this process's reaped children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru), 0);
        ru
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Per-spawn cost of `spec` over `n` spawns of `true`: (preparing in the parent, the child's
/// CPU time from fork to exit, wall time of the whole spawn and wait).
fn cost(spec: &SpawnSpec, n: u32) -> [Duration; 3] {
    let (mut prep, mut wall) = (Duration::ZERO, Duration::ZERO);
    let cpu0 = children_cpu();
    for _ in 0..n {
        let start = Instant::now();
        let mut cmd = spawn::std_command(spec).unwrap();
        prep += start.elapsed();
        assert!(cmd.status().unwrap().success());
        wall += start.elapsed();
    }
    [prep / n, (children_cpu() - cpu0) / n, wall / n]
}

/// Spawn cost of an environment process: the hosts file and a bind (as before), then also
/// the foreign-store detach and two views (as every environment process now has). The
/// child's CPU time is measured rather than only wall time, which a loaded machine blurs.
/// Prints the figures; asserts that the isolation adds less than 1 ms.
#[test]
fn isolation_adds_less_than_a_millisecond_per_spawn() {
    let tmp = tempfile::tempdir().unwrap();
    let hosts = tmp.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let store = tmp.path().join("proj/.vers/store");
    std::fs::create_dir_all(store.join("volumes/e1")).unwrap();
    std::fs::create_dir_all(tmp.path().join("run/k/e1")).unwrap();
    std::fs::create_dir_all(tmp.path().join("run/k/api")).unwrap();
    let env_api = tmp.path().join("env-api");
    std::fs::create_dir_all(&env_api).unwrap();
    let base = SpawnSpec {
        program: PathBuf::from("true"),
        env: path_env(),
        hosts_file: Some(hosts),
        binds: vec![(env_api, tmp.path().join("run/k/api"))],
        stdin_null: true,
        ..Default::default()
    };
    let isolated = SpawnSpec {
        views: vec![
            store_view(&store, "e1", &tmp.path().join("scratch/store")),
            View {
                dir: tmp.path().join("run"),
                keep: vec![PathBuf::from("k/e1"), PathBuf::from("k/api")],
                scratch: tmp.path().join("scratch/run"),
                read_only: false,
            },
        ],
        detach_foreign_stores: true,
        ..base.clone()
    };
    let detach_only = SpawnSpec {
        views: Vec::new(),
        ..isolated.clone()
    };
    let views_only = SpawnSpec {
        detach_foreign_stores: false,
        ..isolated.clone()
    };
    let specs = [&base, &isolated, &detach_only, &views_only];
    let mut t = [[Duration::ZERO; 3]; 4];
    let rounds = 5;
    for _ in 0..rounds {
        for (n, spec) in specs.iter().enumerate() {
            let c = cost(spec, 100);
            for k in 0..3 {
                t[n][k] += c[k] / rounds;
            }
        }
    }
    let [b, i, d, v] = t;
    eprintln!(
        "wall µs: {} detach only, {} views only",
        d[2].as_micros(),
        v[2].as_micros()
    );
    let us = |d: Duration| d.as_micros();
    eprintln!(
        "spawn (prepare / child CPU / wall, µs): {} / {} / {} without isolation, \
         {} / {} / {} with the detach and views",
        us(b[0]),
        us(b[1]),
        us(b[2]),
        us(i[0]),
        us(i[1]),
        us(i[2]),
    );
    let added = (i[0] + i[1]).saturating_sub(b[0] + b[1]);
    assert!(added < Duration::from_millis(1), "{b:?} -> {i:?}");
}

#[test]
fn mount_points_are_unescaped() {
    let text = "27 1 254:0 / / rw - ext4 /dev/vda rw\n\
                47 27 0:40 / /tmp/a\\040b/.vers/store rw - btrfs /dev/loop0 rw\n";
    assert_eq!(
        vers_runtime::mounts::mount_points(text),
        vec![PathBuf::from("/"), PathBuf::from("/tmp/a b/.vers/store")]
    );
}

#[test]
fn foreign_stores_are_chosen_once_and_the_own_one_is_kept() {
    let points: Vec<PathBuf> = [
        "/",
        "/p/own/.vers/store",
        "/p/own/.vers/store/volumes/e1/merged",
        "/p/own/.vers/store/volumes/e2/merged",
        "/p/other/.vers/store",
        "/p/other/.vers/store/volumes/x/merged",
        "/p/ovl/.vers/store/volumes/y/merged",
        "/run/netns/vers-1",
        "/p/not.vers/store",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let own = PathBuf::from("/p/own/.vers/store");
    let got = vers_runtime::mounts::foreign_store_mounts(
        &points,
        &[own.as_path()],
        &[own.join("volumes/e1")],
    );
    let want: Vec<PathBuf> = [
        "/p/other/.vers/store",
        "/p/ovl/.vers/store/volumes/y/merged",
        "/p/own/.vers/store/volumes/e2/merged",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(got, want);
}
