//! Cgroups of environments and services: memory and CPU limits, freezing for checkpoints and
//! `chaos pause`, and killing every process for teardown. Works on cgroup v1 (one hierarchy
//! per controller) and on a pure cgroup v2 host.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::RuntimeError;

const ROOT: &str = "/sys/fs/cgroup";
/// v1 controllers vers uses.
const V1_CONTROLLERS: &[&str] = &["memory", "freezer", "cpu", "cpuacct", "pids"];

/// Which cgroup layout the host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One hierarchy per controller under /sys/fs/cgroup/<controller>.
    V1,
    /// The unified hierarchy at /sys/fs/cgroup.
    V2,
}

/// Detects the layout: v2 when /sys/fs/cgroup itself is cgroup2.
pub fn layout() -> Layout {
    if Path::new(ROOT).join("cgroup.controllers").exists() {
        Layout::V2
    } else {
        Layout::V1
    }
}

/// What this host can enforce.
#[derive(Debug, Clone, Copy)]
pub struct CgroupSupport {
    /// Memory limits.
    pub memory: bool,
    /// CPU quotas.
    pub cpu: bool,
    /// Freezing.
    pub freezer: bool,
}

/// Which controllers are available.
pub fn cgroup_support() -> CgroupSupport {
    match layout() {
        Layout::V1 => CgroupSupport {
            memory: Path::new(ROOT).join("memory").is_dir(),
            cpu: Path::new(ROOT).join("cpu").is_dir(),
            freezer: Path::new(ROOT).join("freezer").is_dir(),
        },
        Layout::V2 => {
            let c = std::fs::read_to_string(Path::new(ROOT).join("cgroup.controllers"))
                .unwrap_or_default();
            let has = |name: &str| c.split_whitespace().any(|w| w == name);
            // cgroup.freeze exists in every non-root cgroup since Linux 5.2; look at ours.
            let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
            let own_dir = own
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .map(|rel| Path::new(ROOT).join(rel.trim_start_matches('/')))
                .unwrap_or_else(|| PathBuf::from(ROOT));
            CgroupSupport {
                memory: has("memory"),
                cpu: has("cpu"),
                freezer: own_dir.join("cgroup.freeze").exists() || kernel_at_least(5, 2),
            }
        }
    }
}

/// Whether the running kernel's version is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
        return false;
    };
    (a, b) >= (major, minor)
}

/// A cgroup at a path relative to each controller's root (e.g. `vers/ab12cd/e3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    rel: String,
    layout: Layout,
    /// Where the hierarchies are mounted (`/sys/fs/cgroup`).
    root: PathBuf,
}

fn write(path: &Path, value: &str) -> Result<(), RuntimeError> {
    std::fs::write(path, value).map_err(|e| RuntimeError::io(path, e))
}

impl Cgroup {
    /// Creates (or opens) the cgroup in every controller vers uses.
    pub fn create(rel: &str) -> Result<Cgroup, RuntimeError> {
        Cgroup::create_at(layout(), Path::new(ROOT), rel)
    }

    /// Creates the cgroup under hierarchies mounted at `root` with the given layout.
    fn create_at(layout: Layout, root: &Path, rel: &str) -> Result<Cgroup, RuntimeError> {
        let cg = Cgroup {
            rel: rel.trim_matches('/').to_string(),
            layout,
            root: root.to_path_buf(),
        };
        match cg.layout {
            Layout::V1 => {
                for c in V1_CONTROLLERS {
                    let base = cg.root.join(c);
                    if !base.is_dir() {
                        continue;
                    }
                    let dir = base.join(&cg.rel);
                    std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::io(&dir, e))?;
                }
            }
            Layout::V2 => {
                // Enable controllers down the path so limits can be set on the leaf.
                let mut cur = cg.root.clone();
                for part in cg.rel.split('/') {
                    // One write per controller: a single write fails whole when any is missing.
                    for ctl in ["+memory", "+cpu", "+pids"] {
                        let _ = std::fs::write(cur.join("cgroup.subtree_control"), ctl);
                    }
                    cur = cur.join(part);
                    if !cur.is_dir() {
                        std::fs::create_dir(&cur).map_err(|e| RuntimeError::io(&cur, e))?;
                    }
                }
            }
        }
        tracing::debug!(cgroup = %cg.rel, "created cgroup");
        Ok(cg)
    }

    /// Opens an existing cgroup.
    pub fn open(rel: &str) -> Result<Cgroup, RuntimeError> {
        let cg = Cgroup {
            rel: rel.trim_matches('/').to_string(),
            layout: layout(),
            root: PathBuf::from(ROOT),
        };
        if cg.exists() {
            Ok(cg)
        } else {
            Err(RuntimeError::NotFound(format!("cgroup {rel}")))
        }
    }

    /// The path relative to the controllers' roots.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    fn dir(&self, controller: &str) -> PathBuf {
        match self.layout {
            Layout::V1 => self.root.join(controller).join(&self.rel),
            Layout::V2 => self.root.join(&self.rel),
        }
    }

    /// Whether the cgroup exists (in any hierarchy vers uses).
    pub fn exists(&self) -> bool {
        match self.layout {
            Layout::V1 => V1_CONTROLLERS.iter().any(|c| self.dir(c).is_dir()),
            Layout::V2 => self.dir("").is_dir(),
        }
    }

    /// Open `cgroup.procs` files of every hierarchy, for a child to join before exec.
    pub fn procs_files(&self) -> Result<Vec<OwnedFd>, RuntimeError> {
        let dirs: Vec<PathBuf> = match self.layout {
            Layout::V1 => V1_CONTROLLERS
                .iter()
                .map(|c| self.dir(c))
                .filter(|d| d.is_dir())
                .collect(),
            Layout::V2 => vec![self.dir("")],
        };
        let mut out = Vec::new();
        for d in dirs {
            let p = d.join("cgroup.procs");
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .map_err(|e| RuntimeError::io(&p, e))?;
            out.push(OwnedFd::from(f));
        }
        Ok(out)
    }

    /// Caps memory (bytes).
    pub fn set_memory_limit(&self, bytes: u64) -> Result<(), RuntimeError> {
        match self.layout {
            Layout::V1 => write(
                &self.dir("memory").join("memory.limit_in_bytes"),
                &bytes.to_string(),
            ),
            Layout::V2 => write(&self.dir("").join("memory.max"), &bytes.to_string()),
        }
    }

    /// The memory limit in force (bytes), if any.
    pub fn memory_limit(&self) -> Option<u64> {
        let p = match self.layout {
            Layout::V1 => self.dir("memory").join("memory.limit_in_bytes"),
            Layout::V2 => self.dir("").join("memory.max"),
        };
        std::fs::read_to_string(p).ok()?.trim().parse().ok()
    }

    /// Memory in use (bytes).
    pub fn memory_usage(&self) -> Option<u64> {
        let p = match self.layout {
            Layout::V1 => self.dir("memory").join("memory.usage_in_bytes"),
            Layout::V2 => self.dir("").join("memory.current"),
        };
        std::fs::read_to_string(p).ok()?.trim().parse().ok()
    }

    /// CPU time used by the group's processes since it was made (microseconds).
    pub fn cpu_usage_usec(&self) -> Option<u64> {
        match self.layout {
            Layout::V1 => {
                let text =
                    std::fs::read_to_string(self.dir("cpuacct").join("cpuacct.usage")).ok()?;
                text.trim().parse::<u64>().ok().map(|ns| ns / 1000)
            }
            Layout::V2 => {
                let text = std::fs::read_to_string(self.dir("").join("cpu.stat")).ok()?;
                text.lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))
                    .and_then(|v| v.trim().parse().ok())
            }
        }
    }

    /// Caps CPU to `cores` (CFS quota over a 100 ms period).
    pub fn set_cpu_limit(&self, cores: f64) -> Result<(), RuntimeError> {
        let period = 100_000u64;
        let quota = ((cores.max(0.01)) * period as f64) as u64;
        match self.layout {
            Layout::V1 => {
                let d = self.dir("cpu");
                write(&d.join("cpu.cfs_period_us"), &period.to_string())?;
                write(&d.join("cpu.cfs_quota_us"), &quota.to_string())
            }
            Layout::V2 => write(&self.dir("").join("cpu.max"), &format!("{quota} {period}")),
        }
    }

    /// The CPU limit in force (cores), if any.
    pub fn cpu_limit(&self) -> Option<f64> {
        let (quota, period) = match self.layout {
            Layout::V1 => {
                let d = self.dir("cpu");
                let q = std::fs::read_to_string(d.join("cpu.cfs_quota_us")).ok()?;
                let p = std::fs::read_to_string(d.join("cpu.cfs_period_us")).ok()?;
                (q.trim().parse::<i64>().ok()?, p.trim().parse::<i64>().ok()?)
            }
            Layout::V2 => {
                let text = std::fs::read_to_string(self.dir("").join("cpu.max")).ok()?;
                let mut it = text.split_whitespace();
                (
                    it.next()?.parse::<i64>().ok()?,
                    it.next()?.parse::<i64>().ok()?,
                )
            }
        };
        (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), RuntimeError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        match self.layout {
            Layout::V1 => {
                let p = self.dir("freezer").join("freezer.state");
                let want = if frozen { "FROZEN" } else { "THAWED" };
                write(&p, want)?;
                loop {
                    let state = std::fs::read_to_string(&p).map_err(|e| RuntimeError::io(&p, e))?;
                    if state.trim() == want {
                        return Ok(());
                    }
                    if Instant::now() > deadline {
                        return Err(RuntimeError::Timeout(format!(
                            "cgroup {} stuck in {} (wanted {want})",
                            self.rel,
                            state.trim()
                        )));
                    }
                    if frozen {
                        write(&p, want)?;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Layout::V2 => {
                let d = self.dir("");
                write(&d.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
                let want = if frozen { "frozen 1" } else { "frozen 0" };
                loop {
                    let ev = std::fs::read_to_string(d.join("cgroup.events")).unwrap_or_default();
                    if ev.lines().any(|l| l.trim() == want) {
                        return Ok(());
                    }
                    if Instant::now() > deadline {
                        return Err(RuntimeError::Timeout(format!(
                            "cgroup {} did not {} within 10 s",
                            self.rel,
                            if frozen { "freeze" } else { "thaw" }
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    /// Freezes every process in the cgroup and its children; returns once they are frozen.
    pub fn freeze(&self) -> Result<(), RuntimeError> {
        self.set_frozen(true)
    }

    /// Thaws the cgroup.
    pub fn thaw(&self) -> Result<(), RuntimeError> {
        self.set_frozen(false)
    }

    /// Every process in the cgroup and its children.
    pub fn procs(&self) -> Result<Vec<i32>, RuntimeError> {
        let base = match self.layout {
            Layout::V1 => {
                let d = self.dir("freezer");
                if d.is_dir() {
                    d
                } else {
                    self.dir("memory")
                }
            }
            Layout::V2 => self.dir(""),
        };
        let mut out = Vec::new();
        collect_procs(&base, &mut out);
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// SIGKILLs every process (thawing first so they can die) and waits until none is left.
    pub fn kill_all(&self) -> Result<(), RuntimeError> {
        if !self.exists() {
            return Ok(());
        }
        // Frozen processes cannot act on SIGKILL until thawed.
        let _ = self.thaw();
        if self.layout == Layout::V2 {
            // cgroup.kill (Linux 5.14) kills the whole subtree atomically, forks included.
            let kill_file = self.dir("").join("cgroup.kill");
            if kill_file.exists() {
                write(&kill_file, "1")?;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let procs = self.procs()?;
            if procs.is_empty() {
                return Ok(());
            }
            for pid in &procs {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            if Instant::now() > deadline {
                return Err(RuntimeError::Timeout(format!(
                    "processes {procs:?} of cgroup {} survive SIGKILL",
                    self.rel
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Removes the cgroup (children first) from every hierarchy; it must hold no process.
    pub fn remove(&self) -> Result<(), RuntimeError> {
        let dirs: Vec<PathBuf> = match self.layout {
            Layout::V1 => V1_CONTROLLERS.iter().map(|c| self.dir(c)).collect(),
            Layout::V2 => vec![self.dir("")],
        };
        for d in dirs {
            remove_tree(&d)?;
        }
        Ok(())
    }
}

fn collect_procs(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_procs(&e.path(), out);
            }
        }
    }
}

fn remove_tree(dir: &Path) -> Result<(), RuntimeError> {
    if !dir.is_dir() {
        return Ok(());
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&e.path())?;
            }
        }
    }
    // A cgroup whose last process just exited may be busy for a moment.
    for _ in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    std::fs::remove_dir(dir).map_err(|e| RuntimeError::io(dir, e))
}

/// Names of the child cgroups of `rel` (from the first hierarchy that has it).
pub fn list_children(rel: &str) -> Result<Vec<String>, RuntimeError> {
    let rel = rel.trim_matches('/');
    let bases: Vec<PathBuf> = match layout() {
        Layout::V1 => V1_CONTROLLERS
            .iter()
            .map(|c| Path::new(ROOT).join(c).join(rel))
            .collect(),
        Layout::V2 => vec![Path::new(ROOT).join(rel)],
    };
    let mut names = Vec::new();
    for b in bases {
        if let Ok(rd) = std::fs::read_dir(&b) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    if let Ok(n) = e.file_name().into_string() {
                        names.push(n);
                    }
                }
            }
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn::{spawn, SpawnSpec};

    fn counter(path: &Path) -> u64 {
        for _ in 0..200 {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if let Ok(n) = text.trim().parse() {
                return n;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no counter in {}", path.display());
    }

    /// The cgroup v2 code paths (cgroup.freeze, cgroup.events, cgroup.kill), run on the
    /// unified hierarchy that hybrid hosts mount at /sys/fs/cgroup/unified, or on the real
    /// root of a pure v2 host.
    #[test]
    fn v2_freezes_subtrees_and_kills_with_cgroup_kill() {
        let root = match layout() {
            Layout::V2 => PathBuf::from(ROOT),
            Layout::V1 => Path::new(ROOT).join("unified"),
        };
        assert!(
            root.join("cgroup.procs").exists(),
            "no cgroup2 hierarchy at {}",
            root.display()
        );
        let rel = format!("vers/t{}-v2", std::process::id());
        let env = Cgroup::create_at(Layout::V2, &root, &rel).unwrap();
        let svc = Cgroup::create_at(Layout::V2, &root, &format!("{rel}/svc")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let n = dir.path().join("n");
        let script = format!(
            "i=0; while :; do i=$((i+1)); echo $i > {0}.t; mv {0}.t {0}; sleep 0.01; done",
            n.display()
        );
        let mut env_vars = std::collections::BTreeMap::new();
        env_vars.insert("PATH".to_string(), "/usr/bin:/bin".to_string());
        let mut child = spawn(&SpawnSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script],
            env: env_vars,
            cgroup: Some(svc.clone()),
            stdin_null: true,
            new_session: true,
            ..Default::default()
        })
        .unwrap();
        let pid = child.id() as i32;
        counter(&n);
        assert!(env.procs().unwrap().contains(&pid));
        env.freeze().unwrap();
        let at = counter(&n);
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(counter(&n), at);
        env.thaw().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        assert!(counter(&n) > at);
        env.kill_all().unwrap();
        let _ = child.wait();
        assert!(env.procs().unwrap().is_empty());
        env.remove().unwrap();
        assert!(!env.exists() && !svc.exists());
    }
}
