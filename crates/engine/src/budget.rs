//! Whether an environment's `vm` budget fits this machine. SPEC section 3: enforce what the
//! backend can and refuse to start a branch that would exceed the machine: an environment
//! allowed more memory than the machine has could only end in the kernel's OOM killer.

use vers_manifest::Manifest;

use crate::error::EngineError;

/// The machine's memory in MiB (`MemTotal`), when `/proc/meminfo` says.
fn machine_memory_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Refuses a manifest whose `vm.memory_mib` is more than the machine's memory.
pub fn check_fits_machine(manifest: &Manifest) -> Result<(), EngineError> {
    let asked = manifest.vm.as_ref().and_then(|v| v.memory_mib);
    check_memory(asked, machine_memory_mib())
}

/// What of the `vm` budget this machine cannot enforce, said to the user by `up` (SPEC
/// section 3: "report the rest"): a `vcpu` above the machine's cores is no limit at all.
pub fn unenforced(manifest: &Manifest) -> Vec<String> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .ok();
    vcpu_note(manifest.vm.as_ref().and_then(|v| v.vcpu), cores)
        .into_iter()
        .collect()
}

fn vcpu_note(asked: Option<u32>, cores: Option<u32>) -> Option<String> {
    match (asked, cores) {
        (Some(asked), Some(cores)) if asked > cores => Some(format!(
            "vm.vcpu is {asked}, more than this machine's {cores} cores: each environment may \
             use all {cores}, and environments running side by side share them"
        )),
        _ => None,
    }
}

fn check_memory(asked: Option<u64>, total: Option<u64>) -> Result<(), EngineError> {
    match (asked, total) {
        (Some(asked), Some(total)) if asked > total => Err(EngineError::Manifest(format!(
            "vm.memory_mib is {asked} MiB, more than this machine has ({total} MiB): an \
             environment cannot be given it; lower vm.memory_mib to at most {total}"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vcpu_beyond_the_machine_is_reported_and_one_within_it_is_not() {
        let note = vcpu_note(Some(4), Some(2)).unwrap();
        assert!(
            note.contains("vm.vcpu is 4") && note.contains("2 cores"),
            "{note}"
        );
        assert_eq!(vcpu_note(Some(2), Some(2)), None);
        assert_eq!(vcpu_note(None, Some(2)), None);
        assert_eq!(vcpu_note(Some(4), None), None);
    }

    #[test]
    fn a_budget_beyond_the_machine_is_refused_and_one_within_it_is_not() {
        let total = machine_memory_mib().unwrap();
        let err = check_memory(Some(total + 1), Some(total))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("vm.memory_mib") && err.contains(&total.to_string()),
            "{err}"
        );
        assert!(check_memory(Some(total), Some(total)).is_ok());
        assert!(check_memory(None, Some(total)).is_ok());
        assert!(check_memory(Some(1 << 40), None).is_ok());
    }
}
