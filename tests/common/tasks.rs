//! A process's threads as `/proc` shows them: their names, states and
//! voluntary context switches (each a wake-up after blocking), for the
//! tests that check what idle threads do.

/// One thread of a process.
#[derive(Clone, Debug)]
pub struct Task {
    /// "tid comm": unique within a sample, and readable in messages.
    pub name: String,
    pub comm: String,
    /// The scheduler state letter (`S` sleeping, `R` running, …).
    pub state: char,
    pub switches: u64,
}

/// Every thread of process `pid` (this process for `None`).
pub fn tasks(pid: Option<u32>) -> Vec<Task> {
    let root = match pid {
        Some(p) => format!("/proc/{p}/task"),
        None => "/proc/self/task".to_string(),
    };
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(root) else { return out };
    for entry in dir.flatten() {
        let path = entry.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else { continue };
        let comm = comm.trim().to_string();
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // The state follows the parenthesised name.
        let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()).unwrap_or('?');
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        let switches = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        out.push(Task { name: format!("{} {comm}", entry.file_name().to_string_lossy()), comm, state, switches });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The threads of this process whose name starts with one of `prefixes`.
pub fn own_tasks(prefixes: &[&str]) -> Vec<Task> {
    tasks(None).into_iter().filter(|t| prefixes.iter().any(|p| t.comm.starts_with(p))).collect()
}

/// Wake-ups between two samples of the threads named with one of
/// `prefixes`, counting only threads present in both.
pub fn woke(before: &[Task], after: &[Task], prefixes: &[&str]) -> u64 {
    after
        .iter()
        .filter(|t| prefixes.iter().any(|p| t.comm.starts_with(p)))
        .filter_map(|t| before.iter().find(|b| b.name == t.name).map(|b| t.switches.saturating_sub(b.switches)))
        .sum()
}

/// Fails if this process has a thread whose name contains `part` (other
/// than the test binary's own threads, named after `binary`): `who`
/// names the component that must not start threads of its own.
pub fn assert_no_threads_containing(part: &str, binary: &str, who: &str) {
    let found: Vec<String> =
        tasks(None).into_iter().filter(|t| t.comm.contains(part) && !t.comm.starts_with(binary)).map(|t| t.name).collect();
    assert!(found.is_empty(), "{who} started threads of its own: {found:?}");
}
