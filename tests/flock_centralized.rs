//! The `centralized` backend with real processes: one `mochi-flock-member`
//! per group member, views checked from this process through a Flock client.
//! Every scenario asserts that the live members converge to one digest
//! within a bound and that the group file always parses.
//!
//! Scenarios run one at a time (they time failure detection with short
//! timeouts; on two cores, concurrent groups would starve each other).

mod common;

use common::*;
use mochi::flock::client::{Client, GroupHandle};
use mochi::flock::error::code;
use mochi::flock::protocol::Update;
use mochi::flock::provider::{Provider, ProviderArgs};
use mochi::flock::{bootstrap, view_file, GroupView, Member};
use mochi::rpc::{Engine, Mode};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MEMBER: &str = env!("CARGO_BIN_EXE_mochi-flock-member");
const PID: u16 = 1;
/// Short settings keep the suite fast (a dead follower goes in ~0.7 s), with
/// room for a loaded machine (the benchmark measures the 200/200/2 case).
const SETTINGS: &str = r#"{"ping_timeout_ms":400,"ping_interval_ms":[100,200],"ping_max_num_timeouts":2,"update_interval":500}"#;
/// Bound for every convergence (detection takes well under a second).
const BOUND: Duration = Duration::from_secs(6);
/// A graceful leave converges by the push, or for a member that missed it
/// by the next periodic update: two `update_interval`s and some slack.
const LEAVE_BOUND: Duration = Duration::from_millis(1500);

/// Reads the group file in a loop and counts reads that do not parse.
struct FileWatch {
    stop: Arc<AtomicBool>,
    bad: Arc<Mutex<Vec<String>>>,
    reads: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileWatch {
    fn start(path: PathBuf) -> FileWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let bad = Arc::new(Mutex::new(Vec::new()));
        let reads = Arc::new(AtomicUsize::new(0));
        let (s, b, r) = (stop.clone(), bad.clone(), reads.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Ok(bytes) = std::fs::read(&path) {
                    r.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = view_file::from_bytes(&bytes) {
                        b.lock().push(format!("{e}: {}", String::from_utf8_lossy(&bytes)));
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        FileWatch { stop, bad, reads, thread: Some(thread) }
    }

    fn check(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let bad = self.bad.lock();
        assert!(bad.is_empty(), "the group file did not parse {} times: {:?}", bad.len(), bad.first());
        assert!(self.reads.load(Ordering::Relaxed) > 0, "the group file was never written");
    }
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Proc {
    child: Child,
    addr: String,
    stderr: PathBuf,
    /// What the member printed: its address, then one line per update its
    /// provider reported (`--print-updates`).
    stdout: PathBuf,
}

impl Proc {
    fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }
    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
    /// True once the member's provider reported `update` (joined, left,
    /// died) for `m`.
    fn reported(&self, update: &str, m: &Member) -> bool {
        let line = format!("member {update} {} {}", m.address, m.provider_id);
        std::fs::read_to_string(&self.stdout).unwrap_or_default().lines().any(|l| l == line)
    }
    fn member(&self) -> Member {
        Member { address: self.addr.clone(), provider_id: PID }
    }
}

/// A group of member processes and a client to look at them.
struct Group {
    dir: PathBuf,
    file: PathBuf,
    config: String,
    /// Listen address for members (a protocol, or `ofi+tcp://IP` in a namespace).
    listen: Vec<String>,
    /// Command prefix per member (`ip netns exec NAME`), empty otherwise.
    prefix: Vec<Vec<String>>,
    procs: Vec<Proc>,
    client: Client,
    engine: Engine,
    watch: Option<FileWatch>,
}

impl Group {
    fn new(proto: &str, tag: &str) -> Group {
        Self::with_client(engine(proto, Mode::Client), tag, SETTINGS)
    }

    fn with_client(client_engine: Engine, tag: &str, settings: &str) -> Group {
        let dir = scratch_dir(tag);
        let file = dir.join("group.flock");
        let config = format!(r#"{{"group":{{"type":"centralized","config":{settings}}},"file":"{}"}}"#, file.display());
        let watch = Some(FileWatch::start(file.clone()));
        Group {
            dir,
            file,
            config,
            listen: Vec::new(),
            prefix: Vec::new(),
            procs: Vec::new(),
            client: Client::new(&client_engine, None),
            engine: client_engine,
            watch,
        }
    }

    /// Starts members (all at once), waits for their addresses.
    fn spawn(&mut self, listen: &str, prefix: &[String], bootstraps: &[String]) -> Vec<usize> {
        let mut started = Vec::new();
        for b in bootstraps {
            let i = self.procs.len();
            let addr_file = self.dir.join(format!("m{i}.addr"));
            let stderr = self.dir.join(format!("m{i}.log"));
            let stdout = self.dir.join(format!("m{i}.out"));
            let mut cmd = match prefix.split_first() {
                Some((first, rest)) => {
                    let mut c = Command::new(first);
                    c.args(rest).arg(MEMBER);
                    c
                }
                None => Command::new(MEMBER),
            };
            cmd.args(["--protocol", listen, "--provider-id", &PID.to_string(), "--config", &self.config, "--bootstrap", b])
                .arg("--addr-file")
                .arg(&addr_file)
                .arg("--print-updates")
                .env("MOCHI_LOG_LEVEL", std::env::var("FLOCK_TEST_LOG_LEVEL").unwrap_or_else(|_| "info".into()))
                .stdout(std::fs::File::create(&stdout).unwrap())
                .stderr(std::fs::File::create(&stderr).unwrap());
            let child = cmd.spawn().expect("spawn mochi-flock-member");
            self.listen.push(listen.to_string());
            self.prefix.push(prefix.to_vec());
            self.procs.push(Proc { child, addr: String::new(), stderr, stdout });
            started.push((i, addr_file));
        }
        let start = Instant::now();
        for (i, addr_file) in &started {
            loop {
                if let Ok(text) = std::fs::read_to_string(addr_file) {
                    self.procs[*i].addr = text.trim().to_string();
                    break;
                }
                if let Ok(Some(status)) = self.procs[*i].child.try_wait() {
                    panic!("member {i} exited ({status}) before publishing its address:\n{}", self.procs[*i].log());
                }
                assert!(start.elapsed() < Duration::from_secs(30), "member {i} did not start:\n{}", self.procs[*i].log());
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        started.into_iter().map(|(i, _)| i).collect()
    }

    fn spawn_local(&mut self, proto: &str, bootstraps: &[String]) -> Vec<usize> {
        self.spawn(proto, &[], bootstraps)
    }

    fn join_arg(&self, i: usize) -> String {
        format!("join:{}:{PID}", self.procs[i].addr)
    }

    /// The view member `i` reports, if it answers.
    fn view(&self, i: usize) -> Option<GroupView> {
        let addr = self.engine.lookup(&self.procs[i].addr).ok()?;
        GroupHandle::create(&self.client, &addr, PID, 0).ok().map(|h| h.view())
    }

    /// Waits until every member of `live` reports the same view, made of
    /// exactly the members `live`; returns the time it took and the view.
    fn converge(&self, live: &[usize], within: Duration) -> (Duration, GroupView) {
        let start = Instant::now();
        let mut expected: Vec<Member> = live.iter().map(|&i| self.procs[i].member()).collect();
        expected.sort();
        loop {
            let views: Vec<Option<GroupView>> = live.iter().map(|&i| self.view(i)).collect();
            if let Some(Some(first)) = views.first() {
                let same = views.iter().all(|v| v.as_ref().is_some_and(|v| v.digest() == first.digest()));
                if same && first.members() == expected.as_slice() {
                    return (start.elapsed(), first.clone());
                }
            }
            if start.elapsed() > within {
                let desc: Vec<String> = views
                    .iter()
                    .zip(live)
                    .map(|(v, i)| match v {
                        Some(v) => {
                            format!("m{i}: {} members, digest {}: {}", v.member_count(), v.digest(), view_file::serialize(v))
                        }
                        None => format!("m{i}: no answer"),
                    })
                    .collect();
                let logs: Vec<String> = live.iter().map(|&i| format!("--- m{i} log:\n{}", self.procs[i].log())).collect();
                panic!("no convergence on {expected:?} within {within:?}:\n{}\n{}", desc.join("\n"), logs.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The group file eventually holds `view` (the primary rewrites it after
    /// each change, a little after the views converge).
    fn file_holds(&self, view: &GroupView) {
        let start = Instant::now();
        loop {
            let on_disk = view_file::from_file(&self.file).ok();
            if on_disk.as_ref().is_some_and(|v| v.digest() == view.digest()) {
                return;
            }
            assert!(
                start.elapsed() < BOUND,
                "group file never matched the converged view:\n file: {:?}\n view: {}",
                on_disk.map(|v| view_file::serialize(&v)),
                view_file::serialize(view)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn primary_of(view: &GroupView) -> Member {
        let cfg: serde_json::Value = serde_json::from_str(view.find_metadata("__config__").unwrap()).unwrap();
        Member {
            address: cfg["primary_address"].as_str().unwrap().to_string(),
            provider_id: cfg["primary_provider_id"].as_u64().unwrap() as u16,
        }
    }

    fn index_of(&self, m: &Member) -> usize {
        self.procs.iter().position(|p| p.member() == *m).unwrap()
    }

    /// Every member of `live` reports `update` for `m` to its callbacks.
    fn all_report(&self, live: &[usize], update: &str, m: &Member) {
        eventually(&format!("\"{update}\" for {} reported by every member", m.address), BOUND, || {
            live.iter().all(|&i| self.procs[i].reported(update, m))
        });
    }

    fn kill(&self, i: usize, sig: i32) {
        self.procs[i].signal(sig);
    }

    /// Waits for a member to exit (after SIGTERM); it must exit cleanly.
    fn reap(&mut self, i: usize) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.procs[i].child.try_wait().unwrap() {
                assert!(status.success(), "member {i} exited with {status}:\n{}", self.procs[i].log());
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "member {i} did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn finish(mut self) {
        // FLOCK_TEST_LOGS=1 shows what every member logged.
        if std::env::var_os("FLOCK_TEST_LOGS").is_some() {
            for (i, p) in self.procs.iter().enumerate() {
                eprintln!("--- m{i} ({}):\n{}", p.addr, p.log());
            }
        }
        if let Some(mut w) = self.watch.take() {
            w.check();
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for p in &mut self.procs {
            // A stopped process must be continued to die of SIGKILL promptly.
            p.signal(libc::SIGCONT);
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.engine.finalize();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A primary and `n - 1` members joining through it.
fn start_group(g: &mut Group, proto: &str, n: usize) -> Vec<usize> {
    let first = g.spawn_local(proto, &["self".to_string()])[0];
    let joiners: Vec<String> = (1..n).map(|_| g.join_arg(first)).collect();
    let mut all = vec![first];
    all.extend(g.spawn_local(proto, &joiners));
    all
}

// ---------------------------------------------------------------------------
// In-process checks: config, errors, several providers on one engine
// ---------------------------------------------------------------------------

fn centralized(settings: &str) -> String {
    format!(r#"{{"group":{{"type":"centralized","config":{settings}}}}}"#)
}

#[test]
fn config_errors_and_effective_config() {
    let _serial = MULTIPROCESS.lock();
    let e = engine("na+sm", Mode::Server);
    let me = bootstrap::from_self(&e, 1);
    let reg = |settings: &str| {
        Provider::register(&e, 1, &centralized(settings), ProviderArgs { initial_view: me.clone(), ..Default::default() })
    };
    for bad in [
        r#"{"ping_timeout_ms":0}"#,
        r#"{"ping_timeout_ms":-200}"#,
        r#"{"ping_timeout_ms":"200"}"#,
        r#"{"ping_interval_ms":[300,100]}"#,
        r#"{"ping_interval_ms":[100]}"#,
        r#"{"ping_interval_ms":{"min":1}}"#,
        r#"{"ping_max_num_timeouts":0}"#,
        r#"{"ping_max_num_timeouts":1.5}"#,
        r#"{"update_interval":-1}"#,
        r#"{"primary_address":"na+sm://1-0","primary_provider_id":1}"#,
        r#"{"primary_provider_id":70000}"#,
    ] {
        let err = reg(bad).err().unwrap_or_else(|| panic!("{bad} accepted"));
        assert_eq!(err.code(), code::INVALID_CONFIG, "{bad}: {err}");
    }
    // Integers are accepted; the effective config and `__config__` use
    // upstream's types (doubles, and an integer count).
    let p = reg(r#"{"ping_timeout_ms":400,"ping_interval_ms":[800,1000],"ping_max_num_timeouts":2}"#).unwrap();
    let cfg = p.config_json();
    let group = &cfg["group"];
    assert_eq!(group["type"], "centralized");
    assert_eq!(group["config"]["ping_timeout_ms"], serde_json::json!(400.0));
    assert_eq!(group["config"]["ping_interval_ms"], serde_json::json!([800.0, 1000.0]));
    assert_eq!(group["config"]["ping_max_num_timeouts"], serde_json::json!(2));
    assert_eq!(group["config"]["primary_address"], serde_json::json!(e.self_address().to_string()));
    assert_eq!(group["config"]["primary_provider_id"], serde_json::json!(1));
    // Only what upstream reports (update_interval was not given).
    assert!(group["config"].get("update_interval").is_none(), "{cfg}");
    // Byte for byte what upstream's test-centralized expects.
    assert_eq!(
        p.config_string(),
        format!(
            r#"{{"gateway":{{"type":"default","config":{{}}}},"group":{{"type":"centralized","config":{{"ping_timeout_ms":400.0,"ping_interval_ms":[800.0,1000.0],"ping_max_num_timeouts":2,"primary_address":"{}","primary_provider_id":1}}}}}}"#,
            e.self_address()
        )
    );
    let view = p.view();
    assert_eq!(view.member_count(), 1);
    assert_eq!(view.metadata_count(), 2);
    assert_eq!(view.find_metadata("__type__"), Some("centralized"));
    assert_eq!(
        view.find_metadata("__config__").unwrap(),
        format!(
            r#"{{"ping_timeout_ms":400.0,"ping_interval_ms":[800.0,1000.0],"ping_max_num_timeouts":2,"primary_address":"{}","primary_provider_id":1}}"#,
            e.self_address()
        )
    );
    p.destroy();
    e.finalize();
}

/// Several providers on one engine (one handler stream): joins, metadata
/// through a follower, leave and handover, all without waiting on a timeout.
#[test]
fn providers_sharing_an_engine() {
    let _serial = MULTIPROCESS.lock();
    let e = engine("na+sm", Mode::Server);
    let cfg = centralized(SETTINGS);
    let start = Instant::now();
    let p1 = Provider::register(&e, 1, &cfg, ProviderArgs { initial_view: bootstrap::from_self(&e, 1), ..Default::default() })
        .unwrap();
    let p2 = Provider::register(&e, 2, &cfg, ProviderArgs { initial_view: p1.view(), ..Default::default() }).unwrap();
    let p3 = Provider::register(&e, 3, &cfg, ProviderArgs { initial_view: p2.view(), ..Default::default() }).unwrap();
    let rec = Arc::new(Recorder::default());
    p1.add_update_callbacks(1, rec.clone());
    eventually("3 members everywhere", BOUND, || [&p1, &p2, &p3].iter().all(|p| p.view().member_count() == 3));
    // Through a follower: applied at once on that follower, then everywhere.
    p3.set_metadata("color", "blue").unwrap();
    assert_eq!(p3.view().find_metadata("color"), Some("blue"));
    eventually("metadata everywhere", BOUND, || [&p1, &p2].iter().all(|p| p.view().find_metadata("color") == Some("blue")));
    assert_eq!(p2.set_metadata("__type__", "x").err().unwrap().code(), code::OP_FORBIDDEN);
    // A follower leaves, then the primary hands over.
    p2.destroy();
    eventually("p2 gone", BOUND, || p1.view().member_count() == 2 && p3.view().member_count() == 2);
    // Update callbacks run on the provider's notification thread, just after
    // the view changes.
    let left = Member { address: e.self_address().to_string(), provider_id: 2 };
    eventually("p2's leave reported to p1's callbacks", BOUND, || rec.saw(Update::Left, &left.address, left.provider_id));
    p1.destroy();
    eventually("p3 alone and primary", BOUND, || {
        let v = p3.view();
        v.member_count() == 1 && Group::primary_of(&v).provider_id == 3
    });
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}: something waited on a timeout", start.elapsed());
    p3.destroy();
    e.finalize();
}

#[test]
fn join_errors_are_clear_and_bounded() {
    let _serial = MULTIPROCESS.lock();
    let e = engine("na+sm", Mode::Server);
    let other = engine("na+sm", Mode::Server);
    // A static group cannot be joined.
    let s = Provider::register(
        &e,
        1,
        r#"{"group":{"type":"static"}}"#,
        ProviderArgs { initial_view: bootstrap::from_self(&e, 1), ..Default::default() },
    )
    .unwrap();
    let err =
        Provider::register(&other, 1, &centralized(SETTINGS), ProviderArgs { initial_view: s.view(), ..Default::default() })
            .err()
            .unwrap();
    assert_eq!(err.code(), code::OP_FORBIDDEN, "{err}");
    // Wrong provider id: no centralized provider answers there.
    let c = Provider::register(
        &e,
        2,
        &centralized(SETTINGS),
        ProviderArgs { initial_view: bootstrap::from_self(&e, 2), ..Default::default() },
    )
    .unwrap();
    let mut wrong = GroupView::new();
    wrong.add_member(e.self_address().as_str(), 9);
    let t = Instant::now();
    let err = Provider::register(&other, 1, &centralized(SETTINGS), ProviderArgs { initial_view: wrong, ..Default::default() })
        .err()
        .unwrap();
    assert_eq!(err.code(), code::INVALID_PROVIDER, "{err}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Nobody at that address: an RPC error once every member was tried.
    let mut dead = GroupView::new();
    dead.add_member("na+sm://999999-0", 1);
    let t = Instant::now();
    let err = Provider::register(&other, 1, &centralized(SETTINGS), ProviderArgs { initial_view: dead, ..Default::default() })
        .err()
        .unwrap();
    assert_eq!(err.code(), code::FROM_MERCURY, "{err}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // Empty view.
    let err = Provider::register(&other, 1, &centralized(SETTINGS), ProviderArgs::default()).err().unwrap();
    assert_eq!(err.code(), code::INVALID_ARGS, "{err}");
    c.destroy();
    s.destroy();
    e.finalize();
    other.finalize();
}

/// Runs `f` on a thread of its own and fails if it has not returned within
/// `bound`: a deadlock fails the test instead of hanging the binary.
fn within<T: Send + 'static>(what: &str, bound: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(what.into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    match rx.recv_timeout(bound) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still running after {bound:?} (deadlocked)"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// Two centralized primaries in one engine whose views list each other (a
/// split brain: two members that both lead, as after an election a slow
/// primary missed), with joins and then leaves reaching both at once, on
/// an engine whose handler pool has several streams. Each primary pushes
/// its changes to the other, and a push to a provider of the same engine
/// runs the target's handler inline, on the pushing stream. Pushing while
/// holding the primary's own state lock made each primary wait for the
/// other's lock while holding its own: this hung within a few rounds.
/// Many provider ids that nobody serves precede both primaries in the
/// views, so that each push takes a while before it reaches the other
/// primary (they are answered at once, inline, "no such provider").
#[test]
fn two_primaries_in_one_engine_do_not_deadlock() {
    let _serial = MULTIPROCESS.lock();
    const FILLERS: u16 = 200;
    const ROUNDS: u16 = 100;
    let e = Engine::new("na+sm", Mode::Server, r#"{"rpc_thread_count":4}"#, &mochi::rpc::InitOverrides::default())
        .expect("engine starts");
    let engine = e.clone();
    within("split-brain rounds", Duration::from_secs(90), move || {
        let addr = engine.self_address().to_string();
        for round in 0..ROUNDS {
            let base = FILLERS + 1 + round * 4;
            let (p1, j1, p2, j2) = (base, base + 1, base + 2, base + 3);
            let mut view = GroupView::new();
            for pid in (1..=FILLERS).chain([p1, p2]) {
                view.add_member(&addr, pid);
            }
            // No pings during a round: the split lasts until the pushes meet.
            let config = |primary: Option<u16>| {
                let named =
                    primary.map(|p| format!(r#","primary_address":"{addr}","primary_provider_id":{p}"#)).unwrap_or_default();
                centralized(&format!(
                    r#"{{"ping_timeout_ms":400,"ping_interval_ms":[10000,10000],"ping_max_num_timeouts":2{named}}}"#
                ))
            };
            let lead = |pid: u16| {
                Provider::register(
                    &engine,
                    pid,
                    &config(Some(pid)),
                    ProviderArgs { initial_view: view.clone(), ..Default::default() },
                )
                .unwrap_or_else(|err| panic!("round {round}: primary {pid}: {err}"))
            };
            let (first, second) = (lead(p1), lead(p2));
            assert_eq!(Group::primary_of(&first.view()).provider_id, p1);
            assert_eq!(Group::primary_of(&second.view()).provider_id, p2);
            // Both primaries get a join at the same time...
            let barrier = std::sync::Barrier::new(2);
            let joined: Vec<Provider> = std::thread::scope(|s| {
                let join = |pid: u16, through: &Provider| {
                    let initial_view = through.view();
                    let (barrier, engine, config) = (&barrier, &engine, config(None));
                    s.spawn(move || {
                        barrier.wait();
                        Provider::register(engine, pid, &config, ProviderArgs { initial_view, ..Default::default() })
                            .unwrap_or_else(|err| panic!("round {round}: join of {pid}: {err}"))
                    })
                };
                let handles = [join(j1, &first), join(j2, &second)];
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            // (the first primary's claim wins ties: it never steps down)
            assert!(first.view().contains_member(&addr, j1), "round {round}: the join is not in the primary's view");
            // ...then a leave, and both primaries leave together.
            for pair in [joined, vec![first, second]] {
                let barrier = std::sync::Barrier::new(2);
                std::thread::scope(|s| {
                    for p in pair {
                        let barrier = &barrier;
                        s.spawn(move || {
                            barrier.wait();
                            p.destroy();
                        });
                    }
                });
            }
        }
    });
    e.finalize();
}

/// On its first report, removes itself from its provider and registers
/// recorders on its own provider and on another one.
struct OneShot {
    own: Provider,
    other: Provider,
    context: usize,
    next_own: Arc<Recorder>,
    next_other: Arc<Recorder>,
    fired: AtomicUsize,
    removed: AtomicBool,
}

impl mochi::flock::provider::UpdateCallbacks for OneShot {
    fn membership(&self, _: Update, _: &str, _: u16) {
        if self.fired.fetch_add(1, Ordering::SeqCst) == 0 {
            self.removed.store(self.own.remove_update_callbacks(self.context), Ordering::SeqCst);
            self.own.add_update_callbacks(self.context + 1, self.next_own.clone());
            self.other.add_update_callbacks(self.context + 2, self.next_other.clone());
        }
    }
    fn metadata(&self, _: &str, _: &str) {}
}

/// Update callbacks run outside the provider's locks: a callback may
/// remove itself (a one-shot callback) and register callbacks, on its own
/// provider and on another group's provider of the same engine, whose
/// callback does the same at the same time. They ran under the lock that
/// registration takes, and the first such callback hung its provider's
/// (and the engine's only) handler stream.
#[test]
fn callbacks_may_change_callbacks_of_both_groups() {
    let _serial = MULTIPROCESS.lock();
    let e = engine("na+sm", Mode::Server);
    let engine = e.clone();
    within("callbacks that change callbacks", Duration::from_secs(30), move || {
        let cfg = centralized(SETTINGS);
        let lead = |pid: u16| {
            Provider::register(
                &engine,
                pid,
                &cfg,
                ProviderArgs { initial_view: bootstrap::from_self(&engine, pid), ..Default::default() },
            )
            .unwrap()
        };
        let (a, b) = (lead(1), lead(5));
        let join = |pid: u16, through: &Provider| {
            Provider::register(&engine, pid, &cfg, ProviderArgs { initial_view: through.view(), ..Default::default() }).unwrap()
        };
        let recorders: Vec<Arc<Recorder>> = (0..4).map(|_| Arc::new(Recorder::default())).collect();
        let one_shot = |own: &Provider, other: &Provider, next_own: &Arc<Recorder>, next_other: &Arc<Recorder>| {
            let cb = Arc::new(OneShot {
                own: own.clone(),
                other: other.clone(),
                context: 10,
                next_own: next_own.clone(),
                next_other: next_other.clone(),
                fired: AtomicUsize::new(0),
                removed: AtomicBool::new(false),
            });
            own.add_update_callbacks(10, cb.clone());
            cb
        };
        // a ends with recorders 0 (its own one-shot's) and 3 (b's); b with 2 and 1.
        let shots = [one_shot(&a, &b, &recorders[0], &recorders[1]), one_shot(&b, &a, &recorders[2], &recorders[3])];
        let first_joiners = [join(2, &a), join(6, &b)];
        eventually("both one-shot callbacks", BOUND, || shots.iter().all(|s| s.fired.load(Ordering::SeqCst) > 0));
        let later_joiners = [join(3, &a), join(7, &b)];
        let addr = engine.self_address().to_string();
        for (r, pid) in recorders.iter().zip([3, 7, 7, 3]) {
            eventually("the callbacks registered by callbacks", BOUND, || r.saw(Update::Joined, &addr, pid));
        }
        for s in &shots {
            assert!(s.removed.load(Ordering::SeqCst), "a callback could not remove itself");
            assert_eq!(s.fired.load(Ordering::SeqCst), 1, "a removed callback was called again");
        }
        for p in later_joiners.into_iter().chain(first_joiners).chain([a, b]) {
            p.destroy();
        }
    });
    e.finalize();
}

// ---------------------------------------------------------------------------
// Multi-process scenarios
// ---------------------------------------------------------------------------

fn join_storm(proto: &str) {
    let mut g = Group::new(proto, "storm");
    let first = g.spawn_local(proto, &["self".to_string()])[0];
    // Eight processes join at once, through the primary's address or the file.
    let mut joiners: Vec<String> = (0..5).map(|_| g.join_arg(first)).collect();
    joiners.extend((0..3).map(|_| format!("file:{}", g.file.display())));
    let t = Instant::now();
    let mut all = vec![first];
    all.extend(g.spawn_local(proto, &joiners));
    let (_, view) = g.converge(&all, BOUND);
    eprintln!("{proto}: join storm: 9 members converged {:?} after launch", t.elapsed());
    assert_eq!(Group::primary_of(&view), g.procs[first].member());
    // The primary's callbacks saw every join (the joiners' order is
    // arbitrary, so only the primary was there before all of them).
    for &j in &all[1..] {
        g.all_report(&[first], "joined", &g.procs[j].member());
    }
    g.file_holds(&view);
    g.finish();
}

#[test]
fn join_storm_shm() {
    let _serial = MULTIPROCESS.lock();
    join_storm("na+sm");
}

#[test]
fn join_storm_tcp() {
    let _serial = MULTIPROCESS.lock();
    join_storm("ofi+tcp");
}

fn graceful_leave(proto: &str) {
    let mut g = Group::new(proto, "leave");
    let all = start_group(&mut g, proto, 5);
    let (_, view) = g.converge(&all, BOUND);
    let primary = g.index_of(&Group::primary_of(&view));
    let follower = *all.iter().find(|&&i| i != primary).unwrap();
    let observer = *all.iter().find(|&&i| i != primary && i != follower).unwrap();
    let rec = Arc::new(Recorder::default());
    let handle = GroupHandle::create(&g.client, &g.engine.lookup(&g.procs[observer].addr).unwrap(), PID, 0).unwrap();
    handle.subscribe(rec.clone()).unwrap();

    // A follower leaves.
    let gone = g.procs[follower].member();
    g.kill(follower, libc::SIGTERM);
    let live: Vec<usize> = all.iter().copied().filter(|&i| i != follower).collect();
    let (took, view) = g.converge(&live, BOUND);
    eprintln!("{proto}: graceful leave of a follower: removed everywhere after {took:?}");
    // That it was a leave, not a failure detected, is what the LEFT
    // reports below check; the time is printed, and bounded only loosely:
    // a member that missed the push (a loaded machine) catches up at the
    // next update (`update_interval`, 500 ms here).
    assert!(took < LEAVE_BOUND, "leave took {took:?}");
    g.reap(follower);
    g.all_report(&live, "left", &gone);
    eventually("LEFT notification", BOUND, || rec.saw(Update::Left, &gone.address, gone.provider_id));
    g.file_holds(&view);

    // The primary leaves: it hands over to the first member of the view.
    let old = g.procs[primary].member();
    g.kill(primary, libc::SIGTERM);
    let live: Vec<usize> = live.into_iter().filter(|&i| i != primary).collect();
    let (took, view) = g.converge(&live, BOUND);
    eprintln!("{proto}: graceful leave of the primary: handed over, converged after {took:?}");
    assert!(took < LEAVE_BOUND, "handover took {took:?}");
    g.reap(primary);
    assert_eq!(Group::primary_of(&view), view.members()[0], "successor is the first member");
    g.all_report(&live, "left", &old);
    eventually("LEFT notification for the primary", BOUND, || rec.saw(Update::Left, &old.address, old.provider_id));
    g.file_holds(&view);
    drop(handle);

    // Everybody stops at once (as `bedrock-shutdown -f` does): all exit
    // cleanly and promptly, whatever their leaves and handovers find.
    let t = Instant::now();
    for &i in &live {
        g.kill(i, libc::SIGTERM);
    }
    for &i in &live {
        g.reap(i);
    }
    eprintln!("{proto}: whole group stopped at once: all exited after {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Graceful leaves, handovers and a whole-group stop are normal
    // operation: nobody logs a warning (a stopping follower whose leave went
    // to the primary it knew before a handover answers the new primary's
    // pings with "leaving"; a primary of a term it has not heard of yet may
    // hand over to it).
    for &i in &live {
        let log = g.procs[i].log();
        let warnings: Vec<&str> = log.lines().filter(|l| l.starts_with("[warning]") || l.starts_with("[error]")).collect();
        assert!(warnings.is_empty(), "{proto}: member {i} logged {warnings:#?}");
    }
    g.finish();
}

#[test]
fn graceful_leave_shm() {
    let _serial = MULTIPROCESS.lock();
    graceful_leave("na+sm");
}

#[test]
fn graceful_leave_tcp() {
    let _serial = MULTIPROCESS.lock();
    graceful_leave("ofi+tcp");
}

fn sigkill_follower(proto: &str) {
    let mut g = Group::new(proto, "kill");
    let all = start_group(&mut g, proto, 5);
    let (_, view) = g.converge(&all, BOUND);
    let primary = g.index_of(&Group::primary_of(&view));
    let victim = *all.iter().rev().find(|&&i| i != primary).unwrap();
    let observer = *all.iter().find(|&&i| i != primary && i != victim).unwrap();
    let rec = Arc::new(Recorder::default());
    let handle = GroupHandle::create(&g.client, &g.engine.lookup(&g.procs[observer].addr).unwrap(), PID, 0).unwrap();
    handle.subscribe(rec.clone()).unwrap();
    let dead = g.procs[victim].member();
    g.kill(victim, libc::SIGKILL);
    let live: Vec<usize> = all.iter().copied().filter(|&i| i != victim).collect();
    let (took, view) = g.converge(&live, BOUND);
    eprintln!("{proto}: SIGKILL follower: dropped everywhere after {took:?}");
    assert!(took < Duration::from_secs(3), "detection took {took:?}");
    g.all_report(&live, "died", &dead);
    eventually("DIED notification", BOUND, || rec.saw(Update::Died, &dead.address, dead.provider_id));
    g.file_holds(&view);
    drop(handle);
    g.finish();
}

#[test]
fn sigkill_follower_shm() {
    let _serial = MULTIPROCESS.lock();
    sigkill_follower("na+sm");
}

#[test]
fn sigkill_follower_tcp() {
    let _serial = MULTIPROCESS.lock();
    sigkill_follower("ofi+tcp");
}

fn sigstop_follower(proto: &str) {
    let mut g = Group::new(proto, "stop");
    let all = start_group(&mut g, proto, 4);
    let (_, view) = g.converge(&all, BOUND);
    let primary = g.index_of(&Group::primary_of(&view));
    let victim = *all.iter().rev().find(|&&i| i != primary).unwrap();
    let frozen = g.procs[victim].member();
    g.kill(victim, libc::SIGSTOP);
    let live: Vec<usize> = all.iter().copied().filter(|&i| i != victim).collect();
    let (took, view) = g.converge(&live, BOUND);
    eprintln!("{proto}: SIGSTOP follower: dropped everywhere after {took:?}");
    g.all_report(&live, "died", &frozen);
    g.file_holds(&view);
    // Back to life: it learns it was declared dead and stays out.
    g.kill(victim, libc::SIGCONT);
    eventually("the resumed member notices it was declared dead", BOUND, || {
        g.procs[victim].log().contains("was declared dead by the group")
    });
    std::thread::sleep(Duration::from_millis(600));
    let (_, after) = g.converge(&live, BOUND);
    assert_eq!(after.digest(), view.digest(), "the group changed after the member came back");
    g.finish();
}

#[test]
fn sigstop_follower_shm() {
    let _serial = MULTIPROCESS.lock();
    sigstop_follower("na+sm");
}

#[test]
fn sigstop_follower_tcp() {
    let _serial = MULTIPROCESS.lock();
    sigstop_follower("ofi+tcp");
}

fn sigkill_primary(proto: &str) {
    let mut g = Group::new(proto, "failover");
    let all = start_group(&mut g, proto, 5);
    let (_, view) = g.converge(&all, BOUND);
    let primary = g.index_of(&Group::primary_of(&view));
    let observer = *all.iter().find(|&&i| i != primary).unwrap();
    let rec = Arc::new(Recorder::default());
    let handle = GroupHandle::create(&g.client, &g.engine.lookup(&g.procs[observer].addr).unwrap(), PID, 0).unwrap();
    handle.subscribe(rec.clone()).unwrap();
    let old = g.procs[primary].member();
    g.kill(primary, libc::SIGKILL);
    let live: Vec<usize> = all.iter().copied().filter(|&i| i != primary).collect();
    let (took, view) = g.converge(&live, BOUND);
    let new_primary = Group::primary_of(&view);
    eprintln!("{proto}: SIGKILL primary: new primary and converged views after {took:?}");
    // The deterministic rule: the first surviving member in view order.
    assert_eq!(new_primary, view.members()[0]);
    assert_ne!(new_primary, old);
    g.all_report(&live, "died", &old);
    eventually("DIED notification for the old primary", BOUND, || rec.saw(Update::Died, &old.address, old.provider_id));
    g.file_holds(&view);

    // Joins keep working: one through the (rewritten) file, one through a member.
    let joiners = vec![format!("file:{}", g.file.display()), g.join_arg(observer)];
    let mut live2 = live.clone();
    live2.extend(g.spawn_local(proto, &joiners));
    let (_, view) = g.converge(&live2, BOUND);
    assert_eq!(Group::primary_of(&view), new_primary);

    // Failure detection keeps working.
    let np = g.index_of(&new_primary);
    let victim = *live2.iter().rev().find(|&&i| i != np).unwrap();
    let dead = g.procs[victim].member();
    g.kill(victim, libc::SIGKILL);
    let live3: Vec<usize> = live2.into_iter().filter(|&i| i != victim).collect();
    let (took, view) = g.converge(&live3, BOUND);
    eprintln!("{proto}: SIGKILL follower after fail-over: dropped after {took:?}");
    g.all_report(&live3, "died", &dead);
    g.file_holds(&view);
    drop(handle);
    g.finish();
}

#[test]
fn sigkill_primary_shm() {
    let _serial = MULTIPROCESS.lock();
    sigkill_primary("na+sm");
}

#[test]
fn sigkill_primary_tcp() {
    let _serial = MULTIPROCESS.lock();
    sigkill_primary("ofi+tcp");
}

fn metadata_during_churn(proto: &str) {
    let mut g = Group::new(proto, "churn");
    let all = start_group(&mut g, proto, 4);
    g.converge(&all, BOUND);
    let stop = Arc::new(AtomicBool::new(false));
    let setter = {
        let (stop, engine, addrs) =
            (stop.clone(), g.engine.clone(), all.iter().map(|&i| g.procs[i].addr.clone()).collect::<Vec<_>>());
        std::thread::spawn(move || {
            let client = Client::new(&engine, None);
            let mut set = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) || n < 10 {
                // Members 0 (the primary) and 1 (a follower) stay.
                let addr = engine.lookup(&addrs[n % 2]).unwrap();
                let h = GroupHandle::create(&client, &addr, PID, 0).unwrap();
                let key = format!("k{n}");
                h.metadata_set(&key, &format!("v{n}")).unwrap();
                assert_eq!(
                    h.view().find_metadata(&key),
                    Some(format!("v{n}").as_str()),
                    "read-your-write through {}",
                    addrs[n % 2]
                );
                set.push(key);
                n += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            set
        })
    };
    // Churn: three joins at once and a leave.
    let joiners: Vec<String> = (0..3).map(|_| g.join_arg(all[1])).collect();
    let new = g.spawn_local(proto, &joiners);
    let leaver = all[3];
    g.kill(leaver, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let keys = setter.join().unwrap();
    g.reap(leaver);
    let mut live: Vec<usize> = all.iter().copied().filter(|&i| i != leaver).collect();
    live.extend(new);
    let (_, view) = g.converge(&live, BOUND);
    for (n, k) in keys.iter().enumerate() {
        assert_eq!(view.find_metadata(k), Some(format!("v{n}").as_str()), "{k} missing from the converged view");
    }
    g.file_holds(&view);
    g.finish();
}

#[test]
fn metadata_during_churn_shm() {
    let _serial = MULTIPROCESS.lock();
    metadata_during_churn("na+sm");
}

#[test]
fn metadata_during_churn_tcp() {
    let _serial = MULTIPROCESS.lock();
    metadata_during_churn("ofi+tcp");
}

/// Members started from one view file (no join), one of them a second
/// late: nobody is declared dead over the slow start, and the first member
/// of the view leads.
#[test]
fn view_bootstrap_with_a_late_member_tcp() {
    let _serial = MULTIPROCESS.lock();
    let mut g = Group::new("ofi+tcp", "view");
    let ports: Vec<u16> =
        (0..4).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()).collect();
    let mut view = GroupView::new();
    for p in &ports {
        view.add_member(&format!("ofi+tcp://127.0.0.1:{p}"), PID);
    }
    let path = g.dir.join("initial.flock");
    view_file::write_atomic(&path, &view).unwrap();
    let order: Vec<String> = view.members().iter().map(|m| m.address.clone()).collect();
    let boot = format!("view:{}", path.display());
    let mut all = Vec::new();
    for a in &order[..3] {
        all.extend(g.spawn(a, &[], std::slice::from_ref(&boot)));
    }
    std::thread::sleep(Duration::from_millis(1500));
    all.extend(g.spawn(&order[3], &[], std::slice::from_ref(&boot)));
    let (_, v) = g.converge(&all, BOUND);
    assert_eq!(Group::primary_of(&v), v.members()[0]);
    for &i in &all {
        assert!(!g.procs[i].log().contains("declared dead"), "m{i}:\n{}", g.procs[i].log());
    }
    g.file_holds(&v);
    g.finish();
}

/// Forged and malformed requests from a process that is not a member: each
/// is refused, and the group keeps every live member.
#[test]
fn bad_input_is_rejected() {
    use mochi::flock::backends::centralized::wire::{self, Change, Claim, Ping, SyncReq, UpdateMsg, WhoisReq};
    use mochi::rpc::codec;
    let _serial = MULTIPROCESS.lock();
    let proto = "na+sm";
    let mut g = Group::new(proto, "bad");
    let all = start_group(&mut g, proto, 4);
    let (_, view) = g.converge(&all, BOUND);
    let primary = Group::primary_of(&view);
    let p = g.index_of(&primary);
    let follower = *all.iter().find(|&&i| i != p).unwrap();
    let paddr = g.engine.lookup(&g.procs[p].addr).unwrap();
    let faddr = g.engine.lookup(&g.procs[follower].addr).unwrap();
    let call = |addr, name: &str, payload: Vec<u8>| g.engine.call(addr, name, PID, payload, Duration::from_secs(2));
    let fm = g.procs[follower].member();
    let stranger = Member { address: g.engine.self_address().to_string(), provider_id: PID };
    let forged = Claim { term: 1 << 40, primary: primary.clone() };

    // Join for a member already present: answered with the view, no change.
    match codec::decode::<wire::JoinReply>(&call(&paddr, wire::JOIN, codec::encode(&fm)).unwrap()).unwrap() {
        wire::JoinReply::Joined(s) => assert_eq!(s.view.digest(), view.digest()),
        other => panic!("{other:?}"),
    }
    // Leave for a live member, sent by someone else: refused.
    let r = codec::decode::<wire::LeaveReply>(&call(&paddr, wire::LEAVE, codec::encode(&fm)).unwrap()).unwrap();
    assert!(matches!(r, wire::LeaveReply::Error { .. }), "{r:?}");
    // Leave from a non-member: refused.
    let r = codec::decode::<wire::LeaveReply>(&call(&paddr, wire::LEAVE, codec::encode(&stranger)).unwrap()).unwrap();
    assert_eq!(r, wire::LeaveReply::NotMember);
    // A ping claiming to come from the primary, with a huge term: refused.
    let ping = Ping { claim: forged.clone(), version: 1 << 50, digest: 42 };
    let r = codec::decode::<wire::PingReply>(&call(&faddr, wire::PING, codec::encode(&ping)).unwrap()).unwrap();
    assert!(matches!(r, wire::PingReply::Refused(_)), "{r:?}");
    // A ping from an unknown primary (the stranger itself): refused.
    let ping = Ping { claim: Claim { term: 1 << 40, primary: stranger.clone() }, version: 0, digest: 0 };
    let r = codec::decode::<wire::PingReply>(&call(&faddr, wire::PING, codec::encode(&ping)).unwrap()).unwrap();
    assert!(matches!(r, wire::PingReply::Unknown(ref c) if *c != ping.claim), "{r:?}");
    // A forged update removing a live member: refused.
    let upd = UpdateMsg {
        claim: forged.clone(),
        version: 1 << 50,
        digest_after: 0,
        change: Change::Membership { update: Update::Died, member: fm.clone() },
    };
    let r = codec::decode::<wire::UpdateReply>(&call(&faddr, wire::UPDATE, codec::encode(&upd)).unwrap()).unwrap();
    assert_eq!(r, wire::UpdateReply::Refused);
    // A view pull with a forged digest from a non-member: not a member.
    let sync = SyncReq { requester: stranger.clone(), claim: forged.clone(), version: 7, digest: 1234 };
    let r = codec::decode::<wire::SyncReply>(&call(&paddr, wire::SYNC, codec::encode(&sync)).unwrap()).unwrap();
    assert!(matches!(r, wire::SyncReply::NotMember { expelled: false, .. }), "{r:?}");
    // A stranger "suspecting" the primary changes nothing.
    let w = WhoisReq { requester: stranger.clone(), claim: forged.clone(), suspect: true };
    call(&faddr, wire::WHOIS, codec::encode(&w)).unwrap();
    // A handover from a stranger: refused.
    let s = wire::Snapshot { claim: forged.clone(), version: 1, view: view.clone(), tombstones: vec![] };
    let r = codec::decode::<wire::HandoverReply>(&call(&faddr, wire::HANDOVER, codec::encode(&s)).unwrap()).unwrap();
    assert_eq!(r, wire::HandoverReply::Refused);
    // Garbage: an error answer, nothing else.
    for name in wire::ALL {
        assert!(call(&paddr, name, vec![0xff; 7]).is_err(), "{name} accepted garbage");
        assert!(call(&faddr, name, vec![]).is_err(), "{name} accepted an empty payload");
    }
    // Bad metadata keys through a client.
    let h = GroupHandle::create(&g.client, &faddr, PID, 0).unwrap();
    assert_eq!(h.metadata_set("", "x").err().unwrap().code(), code::INVALID_ARGS);
    assert_eq!(h.metadata_set("__config__", "{}").err().unwrap().code(), code::OP_FORBIDDEN);

    // Through two failure-detection windows, nothing changes.
    std::thread::sleep(Duration::from_millis(1200));
    let (_, after) = g.converge(&all, BOUND);
    assert_eq!(after.digest(), view.digest());
    g.finish();
}

// ---------------------------------------------------------------------------
// Network partition between namespaces
// ---------------------------------------------------------------------------

/// Network namespaces created by this test (removed on drop, also on panic).
struct Netns {
    names: Vec<String>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

impl Netns {
    /// A hub namespace with a bridge (10.213.0.254, where the observer
    /// lives) and `n` member namespaces, each tied to the bridge by a veth
    /// pair (member `i` is 10.213.0.`i+1`). Nothing is added to the host's
    /// own namespace: each veth pair is created inside the hub.
    fn build(n: usize) -> Netns {
        let base = format!("mochi-t-{}", std::process::id());
        let hub = format!("{base}-hub");
        let mut ns = Netns { names: vec![hub.clone()] };
        ip(&["netns", "add", &hub]);
        ip(&["-n", &hub, "link", "set", "lo", "up"]);
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hub, "addr", "add", "10.213.0.254/24", "dev", "br0"]);
        ip(&["-n", &hub, "link", "set", "br0", "up"]);
        for i in 0..n {
            let name = format!("{base}-m{i}");
            ip(&["netns", "add", &name]);
            ns.names.push(name.clone());
            let v = format!("v{i}");
            ip(&["-n", &hub, "link", "add", &v, "type", "veth", "peer", "name", "eth0", "netns", &name]);
            ip(&["-n", &hub, "link", "set", &v, "master", "br0"]);
            ip(&["-n", &hub, "link", "set", &v, "up"]);
            ip(&["-n", &name, "link", "set", "lo", "up"]);
            ip(&["-n", &name, "addr", "add", &format!("10.213.0.{}/24", i + 1), "dev", "eth0"]);
            ip(&["-n", &name, "link", "set", "eth0", "up"]);
        }
        ns
    }

    fn hub(&self) -> &str {
        &self.names[0]
    }

    fn member(&self, i: usize) -> &str {
        &self.names[i + 1]
    }

    /// Cuts (or restores) member `i`'s only link.
    fn link(&self, i: usize, up: bool) {
        ip(&["-n", self.hub(), "link", "set", &format!("v{i}"), if up { "up" } else { "down" }]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in self.names.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// Moves the calling thread into a namespace (sockets it creates, and
/// threads it starts, live there).
fn enter_netns(name: &str) {
    let path = Path::new("/var/run/netns").join(name);
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    use std::os::fd::AsRawFd;
    // SAFETY: setns on a valid namespace fd, for this thread only.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {name}: {}", std::io::Error::last_os_error());
}

/// Four members in four namespaces over ofi+tcp. Cutting a follower's link:
/// the rest of the group declares it dead, while the cut-off member, which
/// reaches nobody, keeps its view and does not take over; once the link is
/// back it learns it was declared dead and stays out. Cutting the primary's
/// link: the others elect the first of them, the old primary removes nobody;
/// once back it steps down and learns it was declared dead.
#[test]
fn partition_in_network_namespaces() {
    let _serial = MULTIPROCESS.lock();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Creating network namespaces needs root: skipped, and said so.
        eprintln!("SKIPPED partition_in_network_namespaces: it creates network namespaces, which needs root");
        return;
    }
    assert!(Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success()), "this test needs `ip` (iproute2)");
    // All the work happens in one thread that lives in the hub namespace.
    std::thread::spawn(partition_scenario).join().unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn partition_scenario() {
    let ns = Netns::build(4);
    enter_netns(ns.hub());
    let mut g = Group::with_client(engine("ofi+tcp://10.213.0.254", Mode::Client), "netns", SETTINGS);
    let prefix = |i: usize| vec!["ip".to_string(), "netns".into(), "exec".into(), ns.member(i).to_string()];
    let listen = |i: usize| format!("ofi+tcp://10.213.0.{}", i + 1);
    let m0 = g.spawn(&listen(0), &prefix(0), &["self".to_string()])[0];
    let join = g.join_arg(m0);
    let mut all = vec![m0];
    for i in 1..4 {
        all.extend(g.spawn(&listen(i), &prefix(i), std::slice::from_ref(&join)));
    }
    let (_, view) = g.converge(&all, BOUND);
    assert_eq!(Group::primary_of(&view), g.procs[m0].member());
    // Address order is namespace order (10.213.0.1 < .2 < .3 < .4).
    assert_eq!(view.members()[0], g.procs[m0].member());

    // 1. Cut follower m3.
    ns.link(3, false);
    let rest = vec![0, 1, 2];
    let (took, v1) = g.converge(&rest, BOUND);
    eprintln!("partition: cut-off follower declared dead after {took:?}");
    std::thread::sleep(Duration::from_millis(1500));
    ns.link(3, true);
    eventually("m3 learns it was declared dead", BOUND, || g.procs[3].log().contains("was declared dead by the group"));
    let frozen = g.view(3).expect("m3 answers again");
    assert_eq!(frozen.member_count(), 4, "the cut-off member kept its view");
    assert_eq!(Group::primary_of(&frozen), g.procs[m0].member(), "the cut-off member did not take over");
    assert!(g.procs[3].log().contains("cut off"), "m3 should have noticed it was cut off:\n{}", g.procs[3].log());
    let (_, v1b) = g.converge(&rest, BOUND);
    assert_eq!(v1b.digest(), v1.digest(), "the group took the expelled member back");

    // 2. Cut the primary m0.
    ns.link(0, false);
    let (took, v2) = g.converge(&[1, 2], BOUND);
    eprintln!("partition: new primary on the majority side after {took:?}");
    assert_eq!(Group::primary_of(&v2), g.procs[1].member(), "the first remaining member takes over");
    std::thread::sleep(Duration::from_millis(1000));
    ns.link(0, true);
    eventually("m0 learns it was deposed and declared dead", BOUND, || {
        let log = g.procs[0].log();
        log.contains("steps down") && log.contains("was declared dead by the group")
    });
    let old = g.view(0).expect("m0 answers again");
    assert_eq!(old.member_count(), 3, "the cut-off primary removed nobody");
    let (_, v2b) = g.converge(&[1, 2], BOUND);
    assert_eq!(v2b.digest(), v2.digest());
    g.finish();
    drop(ns);
}
