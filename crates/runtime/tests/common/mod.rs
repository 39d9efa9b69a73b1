//! Helpers shared by the integration tests: unique names and guards that clean up.

#![allow(dead_code)]

use std::collections::BTreeMap;

use vers_runtime::cgroup::Cgroup;
use vers_runtime::netns::NetNs;

/// A name unique to this test process.
pub fn unique(tag: &str) -> String {
    format!("vers-t{}-{tag}", std::process::id())
}

/// An environment with only PATH set.
pub fn path_env() -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert(
        "PATH".into(),
        "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
    );
    env
}

/// Deletes the namespace on drop.
pub struct NsGuard(pub Option<NetNs>);

impl NsGuard {
    pub fn create(tag: &str) -> NsGuard {
        NsGuard(Some(NetNs::create(&unique(tag)).expect("create netns")))
    }
    pub fn ns(&self) -> &NetNs {
        self.0.as_ref().expect("namespace present until drop")
    }
}

impl Drop for NsGuard {
    fn drop(&mut self) {
        if let Some(ns) = self.0.take() {
            let _ = ns.delete();
        }
    }
}

/// Kills and reaps the child on drop.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Kills everything in the cgroup and removes it on drop.
pub struct CgroupGuard(pub Cgroup);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        let _ = self.0.kill_all();
        let _ = self.0.remove();
    }
}
