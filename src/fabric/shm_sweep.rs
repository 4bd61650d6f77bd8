//! Removal of shared-memory regions left behind by dead processes.
//!
//! libfabric's shm provider backs each endpoint with a file in /dev/shm
//! (ours are named `mochi-<pid>:<domain>:<index>`, see `address.rs`) and
//! unlinks it when the endpoint closes, or when the process dies of a
//! signal it can catch. A process killed with SIGKILL, or one that crashes
//! hard, leaves its region behind: 4 to 16 MiB of RAM each, forever, since
//! /dev/shm is memory. Over a few thousand killed processes (a test suite,
//! a failure-detection benchmark, a job scheduler's kills) that is
//! gigabytes. libfabric only reclaims a stale region when a new process
//! happens to get the same pid.
//!
//! Each region has a doorbell file beside it (`<region>.bell`, see
//! `doorbell.rs`), swept with it.
//!
//! So the first shm endpoint of each process starts one background sweep
//! that unlinks every `mochi-<pid>:…` region of ours (same owner) whose
//! process no longer exists. A region whose pid is alive is kept, even if
//! the pid now belongs to another program. Peers that still have a dead
//! region mapped keep their mapping. `MOCHI_SHM_SWEEP=0` turns it off (for
//! processes sharing /dev/shm across PID namespaces, where a live peer's pid
//! is invisible).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

const SHM_DIR: &str = "/dev/shm";

/// Starts the sweep once per process, in the background (start-up does not
/// wait for it).
pub fn start_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("MOCHI_SHM_SWEEP").is_some_and(|v| v == "0") {
            return;
        }
        let spawned = std::thread::Builder::new().name("mochi-shm-sweep".into()).spawn(|| {
            let removed = sweep(Path::new(SHM_DIR));
            if removed > 0 {
                crate::debug!("removed {removed} shared-memory region(s) of dead processes from {SHM_DIR}");
            }
        });
        if let Err(e) = spawned {
            crate::debug!("shared-memory sweep not started: {e}");
        }
    });
}

/// The pid in a region name of ours (`mochi-<pid>:<domain>:<index>`), or
/// in the name of its doorbell (the same with `.bell` appended).
fn region_pid(file_name: &str) -> Option<i32> {
    let region = file_name.strip_suffix(super::doorbell::BELL_SUFFIX).unwrap_or(file_name);
    let rest = region.strip_prefix("mochi-")?;
    let mut parts = rest.split(':');
    let pid: i32 = parts.next()?.parse().ok()?;
    let domain_and_index = (parts.next()?.parse::<u32>().ok(), parts.next()?.parse::<u32>().ok());
    (pid > 0 && matches!(domain_and_index, (Some(_), Some(_))) && parts.next().is_none()).then_some(pid)
}

fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence (and permission).
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Unlinks our dead processes' regions in `dir`; returns how many.
pub fn sweep(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(region_pid) else {
            continue;
        };
        let owned = entry.metadata().is_ok_and(|m| m.is_file() && m.uid() == uid);
        if owned && !process_exists(pid) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_names_parse() {
        assert_eq!(region_pid("mochi-123:0:4"), Some(123));
        assert_eq!(region_pid("mochi-123:0:4.bell"), Some(123));
        assert_eq!(region_pid("mochi-123:0:4.bell.bell"), None);
        assert_eq!(region_pid("mochi-123:0"), None);
        assert_eq!(region_pid("mochi-x:0:1"), None);
        assert_eq!(region_pid("mochi-0:0:1"), None);
        assert_eq!(region_pid("123:0:0"), None);
        assert_eq!(region_pid("mochi-1:0:1:2"), None);
        assert_eq!(region_pid("other"), None);
    }

    #[test]
    fn removes_dead_regions_and_keeps_live_ones() {
        let dir = std::env::temp_dir().join(format!("mochi-sweep-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A pid that cannot exist (above the kernel's pid_max limit of 2^22).
        let dead = "mochi-4194399:0:0";
        let live = format!("mochi-{}:0:0", std::process::id());
        for f in [dead, live.as_str(), "unrelated-file"] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        assert_eq!(sweep(&dir), 1);
        assert!(!dir.join(dead).exists());
        assert!(dir.join(&live).exists());
        assert!(dir.join("unrelated-file").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
