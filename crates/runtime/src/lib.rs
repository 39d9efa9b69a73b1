//! Linux mechanisms under vers environments: network namespaces, process spawning into them,
//! cgroups (limits, freezing, killing) and snapshotters for checkpoints and branches.
//! The engine composes these; nothing here knows about manifests.

pub mod cgroup;
pub mod error;
pub mod failpoint;
pub mod mounts;
pub mod netlink;
pub mod netns;
pub mod pod;
pub mod snapshot;
pub mod spawn;

pub use error::RuntimeError;
