//! An idle engine costs nothing: after its last call, every thread of the
//! library is blocked in the kernel (state `S`) and none wakes up. One test
//! per binary (it reads the process's own threads).

mod common;

use common::tasks;
use mochi::rpc::{Engine, InitOverrides, Mode};
use std::sync::Arc;
use std::time::Duration;

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
    let before = tasks::own_tasks(&["mochi-"]);
    assert!(before.len() >= 4, "expected the engines' threads, found {before:?}");
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        for t in tasks::own_tasks(&["mochi-"]) {
            assert_eq!(t.state, 'S', "{proto}: thread {} is not blocked while idle", t.name);
        }
    }
    let after = tasks::own_tasks(&["mochi-"]);
    let woke = tasks::woke(&before, &after, &["mochi-"]);
    assert!(woke <= 2, "{proto}: idle threads woke {woke} times in one second: {before:?} -> {after:?}");
    client.finalize();
    server.finalize();
}

#[test]
fn idle_engines_block_in_the_kernel() {
    check_idle("na+sm");
    check_idle("ofi+tcp");
}
