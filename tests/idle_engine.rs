//! An idle engine costs nothing: after its last call, every thread of the
//! library is blocked in the kernel (state `S`) and none wakes up. One test
//! per binary (it reads the process's own threads).

use mochi::rpc::{Engine, InitOverrides, Mode};
use std::sync::Arc;
use std::time::Duration;

/// (thread id and name, state, voluntary context switches) of the
/// library's threads.
fn our_threads() -> Vec<(String, char, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let dir = entry.path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        let comm = comm.trim().to_string();
        if !comm.starts_with("mochi-") {
            continue;
        }
        let comm = format!("{} {comm}", entry.file_name().to_string_lossy());
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // The state follows the parenthesised name.
        let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()).unwrap_or('?');
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let switches = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        out.push((comm, state, switches));
    }
    out.sort();
    out
}

fn check_idle(proto: &str) {
    let config = r#"{"rpc_thread_count": 2}"#;
    let server = Engine::new(proto, Mode::Server, config, &InitOverrides::default()).unwrap();
    server.register("echo", 1, None, Arc::new(|req| Ok(req.payload))).unwrap();
    let client = Engine::new(proto, Mode::Client, "", &InitOverrides::default()).unwrap();
    let addr = client.lookup(&server.self_address().to_string()).unwrap();
    for _ in 0..100 {
        client.call(&addr, "echo", 1, vec![7; 64], Duration::from_secs(10)).unwrap();
    }
    // Let the short post-activity polling end (tens of microseconds) and
    // the one-off shm sweep finish.
    std::thread::sleep(Duration::from_millis(300));
    let before = our_threads();
    assert!(before.len() >= 4, "expected the engines' threads, found {before:?}");
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        for (name, state, _) in our_threads() {
            assert_eq!(state, 'S', "{proto}: thread {name} is not blocked while idle");
        }
    }
    let after = our_threads();
    let woke: u64 =
        after.iter().filter_map(|(n, _, s)| before.iter().find(|(m, _, _)| m == n).map(|(_, _, b)| s.saturating_sub(*b))).sum();
    assert!(woke <= 2, "{proto}: idle threads woke {woke} times in one second: {before:?} -> {after:?}");
    client.finalize();
    server.finalize();
}

#[test]
fn idle_engines_block_in_the_kernel() {
    check_idle("na+sm");
    check_idle("ofi+tcp");
}
