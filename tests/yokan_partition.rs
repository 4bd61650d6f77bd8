//! A network partition of a distributed Yokan database, for real: four
//! `bedrock` daemons (a `centralized` Flock group, replication 2), each in a
//! network namespace of its own that this test creates, joined by veth
//! pairs to a bridge in another namespace. The test cuts one member's link,
//! checks what `docs/distributed-yokan.md` ("Partitions") says happens,
//! heals the link and checks again:
//!
//! * the side that keeps the Flock primary keeps the group: it expels the
//!   cut-off member, every acknowledged key stays readable there and the
//!   replication factor is restored among its members;
//! * the expelled member keeps serving the keys it holds to its own clients
//!   (a client process in its namespace); its writes are not seen by the group;
//! * after healing, the expelled member does not rejoin by itself and its
//!   data is not merged back.
//!
//! Everything lives in namespaces named `mochi-pt-<pid>-*` on addresses of
//! 10.251.0.0/24 that exist only inside them: the host's own namespace gets
//! no interface, address or route. A guard removes the namespaces (and with
//! them the veths and the bridge) and ends the processes in them, also when
//! the test fails; a run first sweeps what a dead run of this test left.
//!
//! Needs root and `ip` (iproute2). Without them the test fails naming what
//! is missing, unless `MOCHI_SKIP_NETNS_TESTS=1` says to skip it.

mod common;

use common::{daemons, scratch_dir, MULTIPROCESS};
use mochi::rpc::{Engine, InitOverrides, Mode};
use mochi::yokan::client::{Client, Database, Opts};
use mochi::yokan::dist::placement::Placement;
use mochi::yokan::dist::{stored_key_list, stored_keys};

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BEDROCK: &str = env!("CARGO_BIN_EXE_bedrock");
const PROVIDER: u16 = 42;
const FLOCK_PROVIDER: u16 = 1;
const REPLICATION: usize = 2;
const MEMBERS: usize = 4;
const KEYS: usize = 2_000;
/// Namespaces of this test are `<PREFIX><pid>-<node>`.
const PREFIX: &str = "mochi-pt-";
/// The subnet inside our namespaces (nowhere else).
const SUBNET: &str = "10.251.0";
/// The tag of this test's scratch directories.
const TAG: &str = "yokan-partition";
const SKIP_VAR: &str = "MOCHI_SKIP_NETNS_TESTS";
/// Set for the client process this test starts in the cut-off member's namespace.
const HELPER_VAR: &str = "MOCHI_PARTITION_HELPER_JOB";
/// The member whose link is cut (a follower: member 0 starts the group and is its primary).
const CUT: usize = 3;
/// The members' `"shard_timeout_ms"`: what each owner across the cut costs a
/// request (the default, 10 s, made this test take half a minute).
const SHARD_TIMEOUT_MS: u64 = 3000;

// ---- the namespaces ------------------------------------------------------------

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn ip_output(args: &[&str]) -> String {
    Command::new("ip").args(args).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// Why this machine cannot run the test, if it cannot.
fn missing_requirements() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some(format!("not running as root (euid {euid}): creating network namespaces needs root"));
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!("`ip -V` failed ({}): install iproute2", o.status)),
        Err(e) => Some(format!("`ip` (iproute2) not found ({e}): install iproute2 (scripts/install-deps.sh does)")),
    }
}

/// Ends the processes inside namespace `ns` (they can only be ours: nothing
/// else runs in our namespaces), by pid.
fn kill_inside(ns: &str) {
    for pid in ip_output(&["netns", "pids", ns]).split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
        // SAFETY: kill(2) on a pid that `ip netns pids` found in our namespace.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH) }
}

/// Removes what earlier runs of this test left behind when they could not
/// clean up (killed by a signal): namespaces of our pattern whose test
/// process no longer exists.
fn sweep_leftovers() {
    for line in ip_output(&["netns", "list"]).lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        let Some(rest) = name.strip_prefix(PREFIX) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else { continue };
        if pid as u32 == std::process::id() || process_alive(pid) {
            continue;
        }
        eprintln!("removing network namespace {name} left by an earlier run (process {pid} is gone)");
        kill_inside(name);
        let _ = ip(&["netns", "del", name]);
    }
    // Their scratch directories (common::scratch_dir names them
    // mochi-test-<pid>-<n>-<tag>).
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("mochi-test-").filter(|r| r.ends_with(&format!("-{TAG}"))) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else { continue };
        if pid as u32 != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The namespaces of one run: a bridge in `<tag>-br`, and one namespace per
/// node with an `eth0` on the bridge. Dropping it removes them all.
struct Lab {
    tag: String,
    created: Vec<String>,
}

impl Lab {
    fn new(nodes: &[(&str, String)]) -> Result<Lab, String> {
        let mut lab = Lab { tag: format!("{PREFIX}{}", std::process::id()), created: Vec::new() };
        let br = lab.ns("br");
        lab.add_ns(&br)?;
        ip(&["-n", &br, "link", "add", "dev", "br0", "type", "bridge"])?;
        ip(&["-n", &br, "link", "set", "dev", "br0", "up"])?;
        for (node, address) in nodes {
            let ns = lab.ns(node);
            lab.add_ns(&ns)?;
            let port = format!("v{node}");
            ip(&["-n", &br, "link", "add", "dev", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
            ip(&["-n", &br, "link", "set", "dev", &port, "master", "br0"])?;
            ip(&["-n", &br, "link", "set", "dev", &port, "up"])?;
            ip(&["-n", &ns, "link", "set", "dev", "lo", "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("{address}/24"), "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "dev", "eth0", "up"])?;
        }
        Ok(lab)
    }

    fn ns(&self, node: &str) -> String {
        format!("{}-{node}", self.tag)
    }

    fn add_ns(&mut self, ns: &str) -> Result<(), String> {
        ip(&["netns", "add", ns])?;
        self.created.push(ns.to_string());
        Ok(())
    }

    /// Takes `node`'s link down at the bridge: nothing passes either way,
    /// and neither side is told (no reset, no ICMP).
    fn cut(&self, node: &str) {
        ip(&["-n", &self.ns("br"), "link", "set", "dev", &format!("v{node}"), "down"]).unwrap();
    }

    fn heal(&self, node: &str) {
        ip(&["-n", &self.ns("br"), "link", "set", "dev", &format!("v{node}"), "up"]).unwrap();
    }

    /// Moves the calling thread (and the threads and processes it starts
    /// from now on) into `node`'s namespace.
    fn enter(&self, node: &str) {
        let path = format!("/run/netns/{}", self.ns(node));
        let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: setns(2) with a namespace file descriptor we just opened;
        // it changes only this thread's network namespace.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns into {path}: {}", std::io::Error::last_os_error());
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Member namespaces first (their processes, then the namespace and
        // its end of the veth), the bridge last.
        for ns in self.created.iter().rev() {
            kill_inside(ns);
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

// ---- the daemons ---------------------------------------------------------------

fn member_ip(i: usize) -> String {
    format!("{SUBNET}.{}", 11 + i)
}

const CLIENT_IP_HOST: u8 = 100;

fn config(group_file: &Path) -> String {
    // The ping settings of tests/yokan_dist.rs: a loaded 2-core machine does
    // not stall a daemon for 2 s, so only the cut member is declared dead.
    format!(
        r#"{{"libraries": ["libflock-bedrock-module.so", "libyokan-bedrock-module.so"],
            "providers": [
              {{"name": "service_group", "type": "flock", "provider_id": {FLOCK_PROVIDER},
                "config": {{"bootstrap": ["join", "self"], "file": "{}",
                  "group": {{"type": "centralized",
                    "config": {{"ping_timeout_ms": 1000, "ping_interval_ms": [800, 1000], "ping_max_num_timeouts": 3}}}}}}}},
              {{"name": "kv_store", "type": "yokan", "provider_id": {PROVIDER},
                "config": {{"database": {{"type": "map"}}, "replication": {REPLICATION},
                  "shard_timeout_ms": {SHARD_TIMEOUT_MS}}},
                "dependencies": {{"group": "service_group"}}}}]}}"#,
        group_file.display()
    )
}

struct Group {
    dir: PathBuf,
    members: Vec<(Child, String)>,
    /// The client process beside the cut-off member, while it runs.
    helper: Option<Child>,
}

impl Drop for Group {
    fn drop(&mut self) {
        for child in self.members.iter_mut().map(|m| &mut m.0).chain(self.helper.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Kept when the test fails, or with YOKAN_DIST_DEBUG (debug-level logs).
        if std::thread::panicking() || std::env::var_os("YOKAN_DIST_DEBUG").is_some() {
            eprintln!("logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Group {
    fn group_file(&self) -> PathBuf {
        self.dir.join("group.flock")
    }

    /// Starts member `i` in its namespace, bound to its address there, and
    /// waits until the group file lists it.
    fn spawn(&mut self, lab: &Lab, i: usize) {
        let files = daemons::daemon_files(&self.dir, i);
        std::fs::write(&files.config, config(&self.group_file())).unwrap();
        let level = if std::env::var_os("YOKAN_DIST_DEBUG").is_some() { "debug" } else { "info" };
        // `ip netns exec` execs the daemon in place: the child is the daemon.
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &lab.ns(&format!("m{i}")), BEDROCK])
            .arg(format!("ofi+tcp://{}", member_ip(i)))
            .args(["-v", level]);
        let child = daemons::start_daemon(cmd, &files);
        self.members.push((child, String::new()));
        let address = daemons::wait_address(&files, Duration::from_secs(20), || self.log(i));
        assert!(address.starts_with(&format!("ofi+tcp://{}:", member_ip(i))), "member {i} listens at {address}");
        self.members[i].1 = address.clone();
        self.wait_listed(&address, true, Duration::from_secs(30));
    }

    fn address(&self, i: usize) -> String {
        self.members[i].1.clone()
    }

    fn addresses(&self) -> Vec<String> {
        self.members.iter().map(|m| m.1.clone()).collect()
    }

    fn log(&self, i: usize) -> String {
        daemons::daemon_log(&self.dir, i)
    }

    fn logs(&self) -> String {
        daemons::daemon_logs(&self.dir, self.members.len())
    }

    fn listed(&self) -> Vec<String> {
        daemons::group_members(&self.group_file())
    }

    fn wait_listed(&self, address: &str, present: bool, bound: Duration) -> Duration {
        daemons::wait_listed(&self.group_file(), address, present, bound, || self.logs())
    }

    /// Copies held by each of `members`, replicas included.
    fn stored(&self, engine: &Engine, members: &[String]) -> Vec<u64> {
        members
            .iter()
            .map(|m| {
                let others: Vec<String> = members.iter().filter(|o| *o != m).cloned().collect();
                stored_keys(engine, m, PROVIDER, &others).unwrap_or(u64::MAX / 8)
            })
            .collect()
    }
}

/// The view member `address`'s Flock provider reports.
fn view_at(engine: &Engine, address: &str) -> Vec<String> {
    let client = mochi::flock::client::Client::new(engine, None);
    let addr = engine.lookup(address).unwrap();
    let handle = mochi::flock::client::GroupHandle::create(&client, &addr, FLOCK_PROVIDER, 0).unwrap();
    let view = handle.view();
    let mut members: Vec<String> = view.members().iter().map(|m| m.address.clone()).collect();
    members.sort();
    members
}

// ---- keys ------------------------------------------------------------------------

fn db(client: &Client, address: &str) -> Database {
    let addr = client.engine().lookup(address).unwrap();
    client.database(&addr, PROVIDER, true).unwrap()
}

fn key(i: usize) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    format!("value-{i}-{}", "x".repeat(i % 40)).into_bytes()
}

fn index_of(k: &[u8]) -> Option<usize> {
    std::str::from_utf8(k).ok()?.strip_prefix("key-")?.parse().ok()
}

fn put_range(db: &Database, range: std::ops::Range<usize>) {
    let keys: Vec<Vec<u8>> = range.clone().map(key).collect();
    let values: Vec<Vec<u8>> = range.map(value).collect();
    for (ks, vs) in keys.chunks(100).zip(values.chunks(100)) {
        let pairs: Vec<(&[u8], &[u8])> = ks.iter().zip(vs).map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
        db.put(Opts::default(), &pairs).unwrap();
    }
}

/// How many of the keys `idx` read back right through `db` in one request
/// (or why the request failed).
fn read_back(db: &Database, idx: &[usize]) -> Result<usize, String> {
    let keys: Vec<Vec<u8>> = idx.iter().map(|&i| key(i)).collect();
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let values = db.get(Opts::default(), &refs).map_err(|e| e.to_string())?;
    Ok(idx.iter().zip(values).filter(|(&i, v)| v.as_deref() == Some(value(i).as_slice())).count())
}

/// How many of `idx` read back right, in requests of 200 keys.
fn readable(db: &Database, idx: &[usize]) -> usize {
    idx.chunks(200).map(|c| read_back(db, c).unwrap_or(0)).sum()
}

fn eventually(what: &str, bound: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < bound, "timed out after {bound:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

/// Waits until `members` hold `REPLICATION` copies of each of the keys
/// `0..n`, and nothing else; fails naming the keys with another count.
fn wait_copies(g: &Group, engine: &Engine, members: &[String], n: usize, what: &str) -> Duration {
    let start = Instant::now();
    let total = (n * REPLICATION) as u64;
    loop {
        let stored = g.stored(engine, members);
        if stored.iter().sum::<u64>() == total {
            return start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(30) {
            let mut copies: std::collections::BTreeMap<Vec<u8>, Vec<usize>> = Default::default();
            for (i, m) in members.iter().enumerate() {
                for k in stored_key_list(engine, m, PROVIDER).unwrap() {
                    copies.entry(k).or_default().push(i);
                }
            }
            let view = Placement::new(members.to_vec());
            let odd: Vec<String> = copies
                .iter()
                .filter(|(k, v)| v.len() != REPLICATION || index_of(k).is_none_or(|i| i >= n))
                .take(40)
                .map(|(k, v)| {
                    let owners: Vec<usize> =
                        view.owners(k, REPLICATION).iter().filter_map(|o| members.iter().position(|a| a == o)).collect();
                    format!("{}@{v:?}/owners{owners:?}", String::from_utf8_lossy(k))
                })
                .collect();
            panic!("{what}: stored {stored:?}, want {total} in all; odd keys: {odd:?}\n{}", g.logs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- the client in the cut-off member's namespace --------------------------------

/// What the client beside the cut-off member is asked to do, through that
/// member only.
#[derive(serde::Serialize, serde::Deserialize)]
struct Job {
    /// The address the helper's engine listens on (in that namespace).
    listen: String,
    member: String,
    /// Keys the member holds and is the primary of in its view.
    primary: Vec<usize>,
    /// Keys the member holds as the second owner (the primary is across the
    /// cut), one list per primary.
    replica: Vec<Vec<usize>>,
    /// Keys whose owners are both across the cut.
    foreign: Vec<usize>,
    /// A key the member is the primary of, written during the partition.
    write: usize,
    out: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize, Debug)]
struct Outcome {
    /// Keys read back right, or the error.
    primary: Result<usize, String>,
    primary_ms: u128,
    /// Per primary across the cut.
    replica: Vec<(Result<usize, String>, u128)>,
    /// Found (wrongly), or the error.
    foreign: Result<usize, String>,
    foreign_ms: u128,
    write: Result<(), String>,
    write_ms: u128,
    /// The written key read back through the member afterwards.
    write_visible: bool,
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, u128) {
    let start = Instant::now();
    let t = f();
    (t, start.elapsed().as_millis())
}

/// Not a test of its own: the client process that `partition_follows_the_documented_rules`
/// starts inside the cut-off member's namespace (does nothing otherwise).
#[test]
fn client_beside_the_cut_off_member() {
    let Some(job) = std::env::var_os(HELPER_VAR) else { return };
    let job: Job = serde_json::from_slice(&std::fs::read(job).unwrap()).unwrap();
    let engine = Engine::new(&job.listen, Mode::Client, "", &InitOverrides::default()).unwrap();
    let client = Client::new(&engine);
    let db = db(&client, &job.member);
    // The requests are independent: run them side by side (each primary
    // across the cut costs its request one shard timeout).
    let outcome = std::thread::scope(|s| {
        let primary = s.spawn(|| timed(|| read_back(&db, &job.primary)));
        let replica: Vec<_> = job.replica.iter().map(|idx| s.spawn(|| timed(|| read_back(&db, idx)))).collect();
        let foreign = s.spawn(|| {
            timed(|| {
                let keys: Vec<Vec<u8>> = job.foreign.iter().map(|&i| key(i)).collect();
                let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                db.get(Opts::default(), &refs).map(|v| v.iter().flatten().count()).map_err(|e| e.to_string())
            })
        });
        let write = s.spawn(|| {
            timed(|| {
                let (k, v) = (key(job.write), b"written during the partition".to_vec());
                db.put(Opts::default(), &[(k.as_slice(), v.as_slice())]).map_err(|e| e.to_string())
            })
        });
        let (primary, primary_ms) = primary.join().unwrap();
        let replica = replica.into_iter().map(|r| r.join().unwrap()).collect();
        let (foreign, foreign_ms) = foreign.join().unwrap();
        let (write, write_ms) = write.join().unwrap();
        let k = key(job.write);
        let got = db.get(Opts::default(), &[k.as_slice()]).ok().and_then(|mut v| v.pop().flatten());
        let write_visible = got.as_deref() == Some(b"written during the partition".as_slice());
        Outcome { primary, primary_ms, replica, foreign, foreign_ms, write, write_ms, write_visible }
    });
    std::fs::write(&job.out, serde_json::to_vec(&outcome).unwrap()).unwrap();
    drop(db);
    drop(client);
    engine.finalize();
}

// ---- the scenario ----------------------------------------------------------------

#[test]
fn partition_follows_the_documented_rules() {
    if std::env::var_os(HELPER_VAR).is_some() {
        return;
    }
    // When the network cannot be built: fail, or say why we skip.
    let skip_or_fail = |why: &str| {
        assert!(
            std::env::var(SKIP_VAR).is_ok_and(|v| v == "1"),
            "{why}. This test creates network namespaces; set {SKIP_VAR}=1 to skip it."
        );
        eprintln!("skipped: {why} ({SKIP_VAR}=1)");
    };
    if let Some(why) = missing_requirements() {
        skip_or_fail(&why);
        return;
    }
    // The daemon loads the libmochi.so beside it, which `cargo test` does
    // not rebuild (scripts/test-all.sh runs `cargo build` first).
    let lib = Path::new(BEDROCK).with_file_name("libmochi.so");
    common::assert_cdylib_fresh(&lib);
    let test_binary = std::env::current_exe().unwrap();
    let _serial = MULTIPROCESS.lock();
    let began = Instant::now();
    sweep_leftovers();
    let client_ip = format!("{SUBNET}.{CLIENT_IP_HOST}");
    let mut nodes: Vec<(&str, String)> = vec![("cl", client_ip.clone())];
    let names: Vec<String> = (0..MEMBERS).map(|i| format!("m{i}")).collect();
    nodes.extend(names.iter().enumerate().map(|(i, n)| (n.as_str(), member_ip(i))));
    // Root without the capabilities (a container) gets here.
    let lab = match Lab::new(&nodes) {
        Ok(lab) => lab,
        Err(e) => {
            skip_or_fail(&format!("cannot build the test network: {e}"));
            return;
        }
    };
    // Declared after the lab: dropped (daemons ended) before it.
    let mut g = Group { dir: scratch_dir(TAG), members: Vec::new(), helper: None };
    // This thread is the clients' side: the client namespace, on the bridge.
    lab.enter("cl");
    for i in 0..MEMBERS {
        g.spawn(&lab, i);
    }
    let all = g.addresses();
    let engine = Engine::new(&format!("ofi+tcp://{client_ip}"), Mode::Client, "", &InitOverrides::default()).unwrap();
    let client = Client::new(&engine);
    put_range(&db(&client, &g.address(0)), 0..KEYS);
    let every: Vec<usize> = (0..KEYS).collect();
    assert_eq!(readable(&db(&client, &g.address(2)), &every), KEYS);
    assert_eq!(g.stored(&engine, &all).iter().sum::<u64>(), (KEYS * REPLICATION) as u64);
    eprintln!("{} members in their namespaces, {KEYS} keys written: {:?}", MEMBERS, began.elapsed());

    // What the member to be cut holds, by its role in the view it keeps.
    let view4 = Placement::new(all.clone());
    let cut_addr = g.address(CUT);
    let held: Vec<usize> = stored_key_list(&engine, &cut_addr, PROVIDER).unwrap().iter().filter_map(|k| index_of(k)).collect();
    let (primary, replica): (Vec<usize>, Vec<usize>) =
        held.iter().partition(|&&i| view4.owners(&key(i), REPLICATION)[0] == cut_addr.as_str());
    assert!(!primary.is_empty() && !replica.is_empty(), "member {CUT} holds {} / {} keys", primary.len(), replica.len());
    let mut replica_by_primary: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for &i in &replica {
        replica_by_primary.entry(view4.owners(&key(i), REPLICATION)[0]).or_default().push(i);
    }
    // Keys held only across the cut, all by the same two members (each
    // owner that does not answer costs the request one shard timeout).
    let across = |i: usize| view4.owners(&key(i), REPLICATION);
    let pair = across((0..KEYS).find(|&i| !held.contains(&i)).unwrap());
    let foreign: Vec<usize> = (0..KEYS).filter(|&i| across(i) == pair).take(10).collect();
    let write = (KEYS + 1_000_000..).find(|&i| view4.owners(&key(i), REPLICATION)[0] == cut_addr.as_str()).unwrap();

    // A writer on the majority side keeps writing through member 1.
    let writing = Arc::new(AtomicBool::new(true));
    let written = Arc::new(AtomicUsize::new(KEYS));
    let writer = {
        let (w, n, a, client) = (writing.clone(), written.clone(), g.address(1), client.clone());
        std::thread::spawn(move || {
            let db = db(&client, &a);
            let mut i = KEYS;
            while w.load(Ordering::Relaxed) {
                let (k, v) = (key(i), value(i));
                if db.put(Opts::default(), &[(k.as_slice(), v.as_slice())]).is_ok() {
                    // Acknowledged writes are contiguous: a failed one is retried.
                    i += 1;
                    n.store(i, Ordering::Release);
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));

    // ---- cut -------------------------------------------------------------------
    let node = format!("m{CUT}");
    let cut_at = Instant::now();
    lab.cut(&node);
    // The client beside the cut-off member: a process in its namespace.
    let job_file = g.dir.join("job.json");
    let out_file = g.dir.join("outcome.json");
    let job = Job {
        listen: format!("ofi+tcp://{}", member_ip(CUT)),
        member: cut_addr.clone(),
        primary: primary.clone(),
        replica: replica_by_primary.values().cloned().collect(),
        foreign: foreign.clone(),
        write,
        out: out_file.clone(),
    };
    std::fs::write(&job_file, serde_json::to_vec(&job).unwrap()).unwrap();
    let helper = Command::new("ip")
        .args(["netns", "exec", &lab.ns(&node)])
        .arg(&test_binary)
        .args(["--exact", "client_beside_the_cut_off_member", "--nocapture", "--test-threads=1"])
        .env(HELPER_VAR, &job_file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(g.dir.join("helper.log")).unwrap())
        .spawn()
        .expect("start the client beside the cut-off member");
    g.helper = Some(helper);

    // The side with the primary expels the cut-off member ...
    let expelled = g.wait_listed(&cut_addr, false, Duration::from_secs(20));
    eprintln!("member {CUT} cut off; expelled by the group {expelled:?} after the cut");
    let mut majority: Vec<String> = all.iter().filter(|a| **a != cut_addr).cloned().collect();
    majority.sort();
    for m in &majority {
        eventually("every majority member's view drops the cut-off member", Duration::from_secs(10), || {
            view_at(&engine, m) == majority
        });
    }
    // ... every acknowledged key stays readable there ...
    let reader = db(&client, &g.address(2));
    eventually("every key readable on the majority side", Duration::from_secs(20), || readable(&reader, &every) == KEYS);
    eprintln!("all {KEYS} keys readable on the majority side {:?} after the cut", cut_at.elapsed());
    writing.store(false, Ordering::Relaxed);
    writer.join().unwrap();
    // Its last write may have failed (a replica across the cut did not
    // answer) after being applied: retry it, as a caller should.
    let n = written.load(Ordering::Acquire);
    put_range(&reader, n..n + 1);
    let n = n + 1;
    let acked: Vec<usize> = (0..n).collect();
    let lost: Vec<usize> = acked.iter().copied().filter(|&i| readable(&reader, &[i]) == 0).collect();
    assert!(lost.is_empty(), "acknowledged writes lost on the majority side: {lost:?} of {n}\n{}", g.logs());
    // ... and the replication factor is restored among its members.
    let total = (n * REPLICATION) as u64;
    wait_copies(&g, &engine, &majority, n, "two copies of every key on the majority side");
    eprintln!("{REPLICATION} copies of all {n} keys on the majority side {:?} after the cut", cut_at.elapsed());

    // The cut-off member kept serving its own client.
    let mut status = None;
    eventually("the client beside the cut-off member to finish", Duration::from_secs(60), || {
        status = g.helper.as_mut().unwrap().try_wait().unwrap();
        status.is_some()
    });
    let status = status.unwrap();
    g.helper = None;
    let helper_log = std::fs::read_to_string(g.dir.join("helper.log")).unwrap_or_default();
    assert!(status.success(), "the client beside the cut-off member failed: {status:?}\n{helper_log}");
    let outcome: Outcome = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    eprintln!("beside the cut-off member: {outcome:?}");
    assert_eq!(outcome.primary, Ok(primary.len()), "keys the cut-off member is the primary of");
    for ((r, _), idx) in outcome.replica.iter().zip(replica_by_primary.values()) {
        assert_eq!(*r, Ok(idx.len()), "keys the cut-off member holds as a replica");
    }
    assert!(outcome.foreign.is_err(), "keys the cut-off member does not hold: {:?}", outcome.foreign);
    assert!(outcome.write.is_err(), "a write the cut-off member cannot copy to the other owner");
    assert!(outcome.write_visible, "the cut-off member applied the write it is the primary of");

    // ---- heal ------------------------------------------------------------------
    lab.heal(&node);
    let healed = Instant::now();
    eventually("the cut-off member learns it was expelled", Duration::from_secs(15), || {
        g.log(CUT).contains("was declared dead by the group")
    });
    eprintln!("healed; member {CUT} learned it was expelled {:?} later", healed.elapsed());
    // It does not rejoin by itself ...
    std::thread::sleep(Duration::from_secs(2));
    assert!(!g.listed().contains(&cut_addr), "the expelled member is back in the group file");
    for m in &majority {
        assert_eq!(view_at(&engine, m), majority, "view at {m}");
    }
    // ... and nothing it holds is merged back: the group has exactly its
    // own keys, each on two members, and not the key written beside it.
    let on_the_side = key(write);
    assert_eq!(reader.get(Opts::default(), &[on_the_side.as_slice()]).unwrap(), vec![None]);
    assert_eq!(reader.count(Opts::default()).unwrap(), n as u64);
    assert_eq!(g.stored(&engine, &majority).iter().sum::<u64>(), total);
    // Requests through it still follow its last view. A write of a key it
    // is the primary of there fails (the group refuses its copy) ...
    let through = db(&client, &cut_addr);
    // A connection that was idle through the cut may resume only at its
    // next TCP retransmission: a write that timed out on it is retried.
    let put_through = |i: usize| {
        let mut tries = 0;
        loop {
            let outcome = through.put(Opts::default(), &[(key(i).as_slice(), value(i).as_slice())]);
            tries += 1;
            match &outcome {
                Err(e) if e.detail.contains("timed out") && tries < 4 => continue,
                _ => return outcome,
            }
        }
    };
    let mine = (write + 1..).find(|&i| view4.owners(&key(i), REPLICATION)[0] == cut_addr.as_str()).unwrap();
    let refused = put_through(mine);
    assert!(refused.as_ref().is_err_and(|e| e.detail.contains("refused")), "write through the expelled member: {refused:?}");
    assert_eq!(reader.get(Opts::default(), &[key(mine).as_slice()]).unwrap(), vec![None]);
    // ... and one it forwards is applied by the group under its own placement.
    let theirs = (mine + 1..).find(|&i| !view4.owners(&key(i), REPLICATION).contains(&cut_addr.as_str())).unwrap();
    put_through(theirs).unwrap();
    assert_eq!(read_back(&reader, &[theirs]), Ok(1));
    assert_eq!(g.stored(&engine, &majority).iter().sum::<u64>(), total + REPLICATION as u64);
    drop(through);
    drop(reader);
    drop(client);
    engine.finalize();
    eprintln!("partition scenario done in {:?}", began.elapsed());
}
