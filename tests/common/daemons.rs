//! Bedrock daemons started by the multi-process tests: the files each one
//! uses in the test's directory, its start, its address, and the group
//! file that lists the members of its Flock group.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The files of daemon `i` in a test's directory.
pub struct DaemonFiles {
    /// Its config (`-c`).
    pub config: PathBuf,
    /// The config it writes once started (`-o`), which holds its address.
    pub out: PathBuf,
    /// Its standard error.
    pub log: PathBuf,
}

pub fn daemon_files(dir: &Path, i: usize) -> DaemonFiles {
    DaemonFiles {
        config: dir.join(format!("m{i}.json")),
        out: dir.join(format!("m{i}.out.json")),
        log: dir.join(format!("m{i}.log")),
    }
}

/// Starts `cmd` (a bedrock command line but for its config) with
/// `-c config -o out`, its standard error in the log file.
pub fn start_daemon(mut cmd: Command, files: &DaemonFiles) -> Child {
    let log = std::fs::File::create(&files.log).expect("create a daemon log");
    cmd.arg("-c").arg(&files.config).arg("-o").arg(&files.out).stdout(Stdio::null()).stderr(log).spawn().expect("start bedrock")
}

/// The address a started daemon wrote into its output config, waiting up
/// to `bound`; on timeout the assertion shows `context()` (its log).
pub fn wait_address(files: &DaemonFiles, bound: Duration, context: impl Fn() -> String) -> String {
    let start = Instant::now();
    loop {
        let address = std::fs::read_to_string(&files.out)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|v| v["margo"]["mercury"]["address"].as_str().map(str::to_string));
        if let Some(a) = address {
            return a;
        }
        assert!(start.elapsed() < bound, "{} did not start:\n{}", files.config.display(), context());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The addresses a Flock group file lists (none if it is missing or not
/// yet complete).
pub fn group_members(group_file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(group_file).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    v["members"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["address"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Waits up to `bound` until the group file lists `address` (`present`)
/// or no longer does; returns how long it took. On timeout the assertion
/// shows `context()`.
pub fn wait_listed(group_file: &Path, address: &str, present: bool, bound: Duration, context: impl Fn() -> String) -> Duration {
    let start = Instant::now();
    while group_members(group_file).iter().any(|a| a == address) != present {
        assert!(
            start.elapsed() < bound,
            "{address} listed={present} not reached: {:?}\n{}",
            group_members(group_file),
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// The log of daemon `i`.
pub fn daemon_log(dir: &Path, i: usize) -> String {
    std::fs::read_to_string(daemon_files(dir, i).log).unwrap_or_default()
}

/// The logs of daemons `0..n`, each under a header.
pub fn daemon_logs(dir: &Path, n: usize) -> String {
    (0..n).map(|i| format!("member {i}:\n{}", daemon_log(dir, i))).collect::<Vec<_>>().join("\n")
}
