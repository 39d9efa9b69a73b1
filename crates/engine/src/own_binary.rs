//! The path by which the running `vers` binary starts processes of itself (mocks, stress
//! actions): its file while that is still the one running, else `/proc/self/exe`, which
//! stays the running binary after an upgrade or rebuild replaced the file on disk, so a
//! daemon started before keeps starting what matches it.

use std::path::PathBuf;

/// The running binary, valid for `exec` in this process and in the processes it forks.
pub fn path() -> PathBuf {
    match std::env::current_exe() {
        // The kernel marks a replaced or removed file so; the name then reaches nothing.
        Ok(p) if p.exists() && !p.to_string_lossy().ends_with(" (deleted)") => p,
        _ => PathBuf::from("/proc/self/exe"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_path_of_a_binary_still_on_disk_is_its_file() {
        let p = super::path();
        assert!(p.is_file(), "{}", p.display());
        assert_ne!(p, std::path::PathBuf::from("/proc/self/exe"));
    }
}
