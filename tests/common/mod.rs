//! What the integration tests share (each test binary compiles this module;
//! not every binary uses every item).
#![allow(dead_code)]

pub mod daemons;
pub mod tasks;

use mochi::flock::protocol::Update;
use mochi::flock::provider::UpdateCallbacks;
use mochi::rpc::{Engine, InitOverrides, Mode};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Tests that start groups of processes run one at a time within their test
/// binary (cargo runs the binaries one after the other): on 2 cores,
/// concurrent groups only slow each other past their timing bounds.
pub static MULTIPROCESS: Mutex<()> = Mutex::new(());

/// An engine with the default config.
pub fn engine(proto: &str, mode: Mode) -> Engine {
    Engine::new(proto, mode, "", &InitOverrides::default()).expect("engine starts")
}

/// A fresh, empty directory under the system's temporary directory, unique
/// to this process and call.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mochi-test-{}-{n}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Polls `f` until it holds; fails the test after `bound`. Returns how long
/// it took.
pub fn eventually(what: &str, bound: Duration, f: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < bound, "timed out after {bound:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

/// Update callbacks that record what they were told.
#[derive(Default)]
pub struct Recorder {
    pub members: Mutex<Vec<(Update, String, u16)>>,
    pub metadata: Mutex<Vec<(String, String)>>,
}

impl Recorder {
    /// True once `update` was reported for the member (`address`, `provider_id`).
    pub fn saw(&self, update: Update, address: &str, provider_id: u16) -> bool {
        self.members.lock().iter().any(|(u, a, p)| *u == update && a == address && *p == provider_id)
    }
}

impl UpdateCallbacks for Recorder {
    fn membership(&self, update: Update, address: &str, provider_id: u16) {
        self.members.lock().push((update, address.to_string(), provider_id));
    }
    fn metadata(&self, key: &str, value: &str) {
        self.metadata.lock().push((key.to_string(), value.to_string()));
    }
}

/// Panics unless `lib` (the libmochi.so a daemon loads, which `cargo test`
/// does not rebuild; scripts/test-all.sh runs `cargo build` first) exists
/// and is at least as new as every file under `src/`.
#[allow(dead_code)]
pub fn assert_cdylib_fresh(lib: &std::path::Path) {
    fn newest(dir: &std::path::Path) -> std::time::SystemTime {
        let mut best = std::time::SystemTime::UNIX_EPOCH;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let t = if path.is_dir() { newest(&path) } else { entry.metadata().and_then(|m| m.modified()).unwrap_or(best) };
            best = best.max(t);
        }
        best
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let built = std::fs::metadata(lib).and_then(|m| m.modified());
    assert!(
        built.is_ok_and(|b| b >= newest(&src)),
        "{} is missing or older than the sources in {}: run `cargo build --release` first",
        lib.display(),
        src.display()
    );
}
