//! Installing Debian packages with apt-get (root only).

use std::os::unix::fs::MetadataExt;
use std::process::Command;

/// Runs `apt-get install -y <package>` when running as root; otherwise says what to run.
pub(crate) fn install(package: &str, progress: &mut dyn FnMut(&str)) -> Result<(), String> {
    install_all(&[package], progress)
}

/// Runs `apt-get install -y <packages…>` when running as root; otherwise says what to run.
pub(crate) fn install_all(packages: &[&str], progress: &mut dyn FnMut(&str)) -> Result<(), String> {
    let package = packages.join(" ");
    let is_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !is_root {
        return Err(format!(
            "installing Debian packages needs root: run `sudo apt-get install {package}` (or `sudo vers engines install ...`)"
        ));
    }
    progress(&format!("apt-get install -y {package}"));
    let out = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .map_err(|e| format!("running apt-get: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "apt-get install {package} failed:\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
