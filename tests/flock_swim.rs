//! The `swim` backend: configuration, a small in-process group, forged and
//! garbage messages, and groups of real `mochi-flock-member` processes
//! (join storms, graceful leaves, SIGKILL, SIGSTOP/SIGCONT, metadata during
//! churn) over na+sm and ofi+tcp. A client in this process checks that the
//! live members converge on one view, and that the group file always parses.

mod common;

use common::*;
use mochi::flock::backends::swim::wire::{self, Envelope, Gossip, Identity, Kind, MemberRecord, Status};
use mochi::flock::client::{Client, GroupHandle};
use mochi::flock::error::code;
use mochi::flock::protocol::Update;
use mochi::flock::provider::{Provider, ProviderArgs};
use mochi::flock::{view_file, GroupView};
use mochi::rpc::codec;
use mochi::rpc::{Engine, Mode};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MEMBER: &str = env!("CARGO_BIN_EXE_mochi-flock-member");
const PID: u16 = 1;

/// Short timings: a failure is detected within about a second, declared
/// after 3 s of suspicion, so that a member stalled for less than that (a
/// loaded 2-core machine, a paused process) is not declared dead: no test
/// depends on anything answering within a fraction of a second.
const TIMING: &str = r#"{"protocol_period_ms":200,"ping_timeout_ms":100,"ping_req_timeout_ms":250,"ping_req_members":2,"suspicion_timeout_ms":3000}"#;
/// Bounds (generous: CI runs the tests side by side on two cores).
const CONVERGE: Duration = Duration::from_secs(15);
const LEAVE_BOUND: Duration = Duration::from_secs(5);
const DEATH_BOUND: Duration = Duration::from_secs(12);

fn swim_config(file: Option<&Path>) -> String {
    match file {
        Some(f) => format!(r#"{{"group":{{"type":"swim","config":{TIMING}}},"file":"{}"}}"#, f.display()),
        None => format!(r#"{{"group":{{"type":"swim","config":{TIMING}}}}}"#),
    }
}

// ---- configuration --------------------------------------------------------

#[test]
fn config_is_validated_and_reported() {
    let e = engine("na+sm", Mode::Server);
    let me = || ProviderArgs { initial_view: mochi::flock::bootstrap::from_self(&e, PID), ..Default::default() };
    for (config, key) in [
        (r#"{"ping_timeout_ms":-5}"#, "ping_timeout_ms"),
        (r#"{"protocol_period_ms":0}"#, "protocol_period_ms"),
        (r#"{"ping_req_timeout_ms":"500"}"#, "ping_req_timeout_ms"),
        (r#"{"ping_req_members":1.5}"#, "ping_req_members"),
        (r#"{"ping_req_members":-1}"#, "ping_req_members"),
        (r#"{"suspicion_timeout_ms":false}"#, "suspicion_timeout_ms"),
    ] {
        let full = format!(r#"{{"group":{{"type":"swim","config":{config}}}}}"#);
        let err = Provider::register(&e, PID, &full, me()).err().unwrap_or_else(|| panic!("{config} accepted"));
        assert_eq!(err.code(), code::INVALID_CONFIG, "{config}: {err}");
        assert!(err.to_string().contains(key), "{config}: {err}");
        assert!(!e.is_registered(wire::PING, PID), "a failed registration leaves no handler behind");
    }
    // Defaults as upstream; integers and floats accepted.
    let p = Provider::register(&e, PID, r#"{"group":{"type":"swim"}}"#, me()).unwrap();
    let cfg = p.config_json()["group"]["config"].clone();
    assert_eq!(cfg["protocol_period_ms"], serde_json::json!(1000.0));
    assert_eq!(cfg["ping_timeout_ms"], serde_json::json!(200.0));
    assert_eq!(cfg["ping_req_timeout_ms"], serde_json::json!(500.0));
    assert_eq!(cfg["ping_req_members"], serde_json::json!(3));
    assert_eq!(cfg["suspicion_timeout_ms"], serde_json::json!(5000.0));
    let view = p.view();
    assert_eq!(view.find_metadata("__type__"), Some("swim"));
    assert_eq!(
        view.find_metadata("__config__"),
        Some(
            r#"{"protocol_period_ms":1000.0,"ping_timeout_ms":200.0,"ping_req_timeout_ms":500.0,"ping_req_members":3,"suspicion_timeout_ms":5000.0}"#
        )
    );
    assert_eq!(view.member_count(), 1);
    p.destroy();
    let p = Provider::register(
        &e,
        PID,
        r#"{"group":{"type":"swim","config":{"protocol_period_ms":250,"ping_timeout_ms":50.5}}}"#,
        me(),
    )
    .unwrap();
    let cfg = p.config_json()["group"]["config"].clone();
    assert_eq!(cfg["protocol_period_ms"], serde_json::json!(250.0));
    assert_eq!(cfg["ping_timeout_ms"], serde_json::json!(50.5));
    // Reserved keys stay the backend's.
    assert_eq!(p.set_metadata("__config__", "{}").err().unwrap().code(), code::OP_FORBIDDEN);
    p.destroy();
    e.finalize();
}

// ---- in process ------------------------------------------------------------

struct Local {
    engines: Vec<Engine>,
    providers: Vec<Option<Provider>>,
}

impl Drop for Local {
    fn drop(&mut self) {
        for e in &self.engines {
            e.finalize();
        }
    }
}

impl Local {
    fn addr(&self, i: usize) -> String {
        self.engines[i].self_address().to_string()
    }
    fn live(&self) -> Vec<usize> {
        (0..self.providers.len()).filter(|i| self.providers[*i].is_some()).collect()
    }
    fn converged(&self, expect: &[usize]) -> bool {
        let want: BTreeSet<String> = expect.iter().map(|i| self.addr(*i)).collect();
        let views: Vec<GroupView> = self.live().iter().map(|i| self.providers[*i].as_ref().unwrap().view()).collect();
        views.iter().all(|v| v.digest() == views[0].digest())
            && views[0].members().iter().map(|m| m.address.clone()).collect::<BTreeSet<_>>() == want
    }
}

/// Three engines in this process: one starts the group, two join through
/// its view; callbacks see joins and a leave; metadata converges; the
/// provider id is free again after destroy.
#[test]
fn in_process_join_leave_and_metadata() {
    let _serial = MULTIPROCESS.lock();
    let engines: Vec<Engine> = (0..3).map(|_| engine("na+sm", Mode::Server)).collect();
    let config = swim_config(None);
    let first = Provider::register(
        &engines[0],
        PID,
        &config,
        ProviderArgs { initial_view: mochi::flock::bootstrap::from_self(&engines[0], PID), ..Default::default() },
    )
    .unwrap();
    let recorder = Arc::new(Recorder::default());
    first.add_update_callbacks(1, recorder.clone());
    let mut group = Local { engines, providers: vec![Some(first)] };
    for i in 1..3 {
        let view = group.providers[0].as_ref().unwrap().view();
        let p = Provider::register(&group.engines[i], PID, &config, ProviderArgs { initial_view: view, ..Default::default() })
            .unwrap();
        group.providers.push(Some(p));
    }
    eventually("three members", CONVERGE, || group.converged(&[0, 1, 2]));
    // Callbacks run on the backend's event thread, just after the change.
    eventually("join callbacks", LEAVE_BOUND, || {
        recorder.saw(Update::Joined, &group.addr(1), PID) && recorder.saw(Update::Joined, &group.addr(2), PID)
    });

    group.providers[2].as_ref().unwrap().set_metadata("color", "red").unwrap();
    eventually("metadata everywhere", CONVERGE, || {
        group.live().iter().all(|i| group.providers[*i].as_ref().unwrap().view().find_metadata("color") == Some("red"))
    });
    eventually("the metadata callback", LEAVE_BOUND, || recorder.metadata.lock().contains(&("color".into(), "red".into())));

    let start = Instant::now();
    group.providers[1].take().unwrap().destroy();
    eventually("the leave", LEAVE_BOUND, || group.converged(&[0, 2]));
    eventually("the leave callback", LEAVE_BOUND, || recorder.saw(Update::Left, &group.addr(1), PID));
    eprintln!("in-process leave reported after {:?}", start.elapsed());
    assert!(!group.engines[1].is_registered(wire::PING, PID));

    // Crash mode (flock_swim_set_crash_mode): destroyed without a farewell,
    // the member is found dead by the failure detector, not seen leaving.
    let crashed = group.providers[2].take().unwrap();
    crashed.set_crash_mode(true).unwrap();
    crashed.destroy();
    eventually("the crash detected", DEATH_BOUND, || group.converged(&[0]));
    eventually("the death callback", LEAVE_BOUND, || recorder.saw(Update::Died, &group.addr(2), PID));
    assert!(!recorder.saw(Update::Left, &group.addr(2), PID), "a crashed member does not leave");
}

/// The group file's writer (the first member of its view) puts its view
/// back when another member replaced the file with another view after its
/// last write: a member that had not yet heard of the writer took itself
/// for the first member and wrote its older view, and no later change made
/// the writer write again (`join_storm_leave_and_metadata_over_tcp` failed
/// that way about once in twenty runs). Once destroyed, it leaves the file
/// alone.
#[test]
fn the_writer_puts_its_view_back_into_a_replaced_group_file() {
    let _serial = MULTIPROCESS.lock();
    let dir = scratch_dir("swim-file");
    let file = dir.join("group.flock");
    let e = engine("na+sm", Mode::Server);
    let p = Provider::register(
        &e,
        PID,
        &swim_config(Some(&file)),
        ProviderArgs { initial_view: mochi::flock::bootstrap::from_self(&e, PID), ..Default::default() },
    )
    .unwrap();
    let mine = p.view().digest();
    let on_disk = || view_file::from_file(&file).map(|v| v.digest()).ok();
    assert_eq!(on_disk(), Some(mine), "written at registration");
    // What a member that does not know us yet would write.
    let mut stale = GroupView::new();
    stale.add_member("na+sm://1-0", PID);
    for (k, v) in p.view().metadata() {
        stale.add_metadata(k, v);
    }
    // Replaced by rename (as members write it), then rewritten in place.
    view_file::write_atomic(&file, &stale).unwrap();
    let took = eventually("the writer to put its view back", Duration::from_secs(5), || on_disk() == Some(mine));
    eprintln!("a replaced group file was written again after {took:?}");
    std::fs::write(&file, view_file::serialize(&stale)).unwrap();
    eventually("the writer to put its view back again", Duration::from_secs(5), || on_disk() == Some(mine));
    // The same view written by someone else is left as it is.
    view_file::write_atomic(&file, &p.view()).unwrap();
    let theirs = std::fs::metadata(&file).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), theirs.modified().unwrap(), "an intact file was rewritten");
    p.destroy();
    view_file::write_atomic(&file, &stale).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(on_disk(), Some(stale.digest()), "a destroyed provider wrote the group file");
    e.finalize();
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- forged and garbage messages -------------------------------------------

fn envelope(address: &str, generation: u64, gossip: Vec<Gossip>) -> Envelope {
    Envelope { sender: Identity { address: address.into(), provider_id: PID, generation, incarnation: 1 }, digest: 0, gossip }
}

fn confirm(address: &str) -> Gossip {
    Gossip::Member(MemberRecord {
        kind: Kind::Confirm,
        address: address.into(),
        provider_id: PID,
        generation: u64::MAX,
        incarnation: u64::MAX,
    })
}

/// Sends every kind of bad input to `target` from an outsider engine; none
/// may remove or add a member. Returns what the target answered to an
/// honest ping from the outsider.
fn attack(outsider: &Engine, target: &str, victim: &str, impersonated: &str) -> Status {
    let to = outsider.lookup(target).unwrap();
    let t = Duration::from_secs(5);
    // Garbage bytes on every RPC.
    for rpc in [wire::PING, wire::PING_REQ, wire::ANNOUNCE, wire::SYNC] {
        for junk in [vec![], vec![0xff; 3], vec![0u8; 64], vec![1u8; 1000]] {
            assert!(outsider.call(&to, rpc, PID, junk, t).is_err(), "{rpc} accepted garbage");
        }
    }
    // Impersonating a member: the transport says who really sent it.
    let forged = envelope(impersonated, 1, vec![confirm(victim)]);
    assert!(outsider.call(&to, wire::PING, PID, codec::encode(&forged), t).is_err());
    assert!(outsider
        .call(&to, wire::SYNC, PID, codec::encode(&wire::Sync { envelope: forged.clone(), state: Default::default() }), t)
        .is_err());
    let leave = envelope(victim, 1, vec![]);
    assert!(outsider
        .call(&to, wire::ANNOUNCE, PID, codec::encode(&wire::Announce { kind: Kind::Leave, envelope: leave }), t)
        .is_err());
    // Honest about who we are, but not a member: ignored, gossip included.
    let me = outsider.self_address().to_string();
    let honest = envelope(&me, 7, vec![confirm(victim)]);
    let ack: wire::Ack = codec::decode(&outsider.call(&to, wire::PING, PID, codec::encode(&honest), t).unwrap()).unwrap();
    let sync: wire::StateReply = codec::decode(
        &outsider
            .call(&to, wire::SYNC, PID, codec::encode(&wire::Sync { envelope: honest.clone(), state: Default::default() }), t)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(sync, wire::StateReply { status: Status::UnknownSender, state: None });
    // A join from a process that is no swim member cannot be verified.
    assert!(outsider
        .call(&to, wire::ANNOUNCE, PID, codec::encode(&wire::Announce { kind: Kind::Join, envelope: honest }), t)
        .is_err());
    // Claiming to be the target itself.
    let itself = envelope(target, 1, vec![confirm(victim)]);
    assert!(outsider.call(&to, wire::PING, PID, codec::encode(&itself), t).is_err());
    ack.status
}

#[test]
fn forged_and_garbage_messages_remove_no_one() {
    let _serial = MULTIPROCESS.lock();
    let engines: Vec<Engine> = (0..3).map(|_| engine("na+sm", Mode::Server)).collect();
    let config = swim_config(None);
    let mut view = GroupView::new();
    for e in &engines {
        view.add_member(e.self_address().as_str(), PID);
    }
    // The "view" bootstrap: every member starts from the same full view.
    let providers = engines
        .iter()
        .map(|e| {
            Some(Provider::register(e, PID, &config, ProviderArgs { initial_view: view.clone(), ..Default::default() }).unwrap())
        })
        .collect();
    let group = Local { engines, providers };
    eventually("the view bootstrap", CONVERGE, || group.converged(&[0, 1, 2]));
    let outsider = engine("na+sm", Mode::Server);
    let status = attack(&outsider, &group.addr(0), &group.addr(1), &group.addr(2));
    assert_eq!(status, Status::UnknownSender);
    // Several protocol periods later, nothing changed.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(group.converged(&[0, 1, 2]));
    assert!(!group.providers[0].as_ref().unwrap().view().contains_member(outsider.self_address().as_str(), PID));
    outsider.finalize();
}

// ---- member processes -------------------------------------------------------

struct Member {
    child: Child,
    address: String,
    log: PathBuf,
}

struct Cluster {
    proto: String,
    dir: PathBuf,
    file: PathBuf,
    members: Vec<Option<Member>>,
    /// Processes no longer counted as members (still killed at the end).
    retired: Vec<Member>,
    client_engine: Engine,
    client: Client,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in self.members.iter_mut().flatten().chain(self.retired.iter_mut()) {
            let _ = m.child.kill();
            let _ = m.child.wait();
        }
        self.client_engine.finalize();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Cluster {
    fn new(proto: &str, name: &str) -> Cluster {
        let dir = scratch_dir(&format!("{name}-{}", proto.replace('+', "_")));
        let client_engine = engine(proto, Mode::Server);
        let client = Client::new(&client_engine, None);
        Cluster {
            proto: proto.into(),
            file: dir.join("group.flock"),
            dir,
            members: Vec::new(),
            retired: Vec::new(),
            client_engine,
            client,
        }
    }

    /// Starts members with these bootstraps all at once; returns their
    /// indices once every one is up (its provider registered, so joins done).
    fn start(&mut self, bootstraps: &[String]) -> Vec<usize> {
        let mut started = Vec::new();
        for b in bootstraps {
            let i = self.members.len();
            let addr_file = self.dir.join(format!("m{i}.addr"));
            let log = self.dir.join(format!("m{i}.log"));
            let child = Command::new(MEMBER)
                .args(["--protocol", &self.proto, "--provider-id", &PID.to_string(), "--bootstrap", b])
                .arg("--config")
                .arg(swim_config(Some(&self.file)))
                .arg("--addr-file")
                .arg(&addr_file)
                .env("MOCHI_LOG_LEVEL", "info")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("spawn mochi-flock-member");
            self.members.push(Some(Member { child, address: String::new(), log }));
            started.push((i, addr_file));
        }
        let start = Instant::now();
        for (i, addr_file) in &started {
            loop {
                if let Ok(text) = std::fs::read_to_string(addr_file) {
                    self.members[*i].as_mut().unwrap().address = text.trim().to_string();
                    break;
                }
                let m = self.members[*i].as_mut().unwrap();
                if let Some(status) = m.child.try_wait().unwrap() {
                    panic!("member {i} exited with {status}: {}", std::fs::read_to_string(&m.log).unwrap_or_default());
                }
                assert!(start.elapsed() < Duration::from_secs(30), "member {i} did not come up");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        started.into_iter().map(|(i, _)| i).collect()
    }

    fn addr(&self, i: usize) -> String {
        self.members[i].as_ref().unwrap().address.clone()
    }

    fn live(&self) -> Vec<usize> {
        (0..self.members.len()).filter(|i| self.members[*i].is_some()).collect()
    }

    fn handle(&self, i: usize) -> mochi::flock::Result<GroupHandle> {
        let a = self.client_engine.lookup(&self.addr(i))?;
        GroupHandle::create(&self.client, &a, PID, 0)
    }

    /// The group file must parse whenever it exists (it is replaced
    /// atomically by the first member of the view).
    fn check_file(&self) -> Option<GroupView> {
        match std::fs::metadata(&self.file) {
            Ok(_) => Some(view_file::from_file(&self.file).unwrap_or_else(|e| panic!("group file does not parse: {e}"))),
            Err(_) => None,
        }
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for (i, m) in self.members.iter().enumerate() {
            if let Some(m) = m {
                let text = std::fs::read_to_string(&m.log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                out.push_str(&format!("--- member {i} ({}):\n", m.address));
                for l in tail.into_iter().rev() {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Waits until every live member reports the same view, whose members
    /// are exactly the live members and which satisfies `extra`.
    fn converge(&self, what: &str, bound: Duration, extra: impl Fn(&GroupView) -> bool) -> (GroupView, Duration) {
        let live = self.live();
        let want: BTreeSet<String> = live.iter().map(|i| self.addr(*i)).collect();
        let start = Instant::now();
        loop {
            self.check_file();
            let views: Vec<_> = live.iter().map(|i| self.handle(*i).map(|h| h.view())).collect();
            let ok = views.iter().all(|v| v.is_ok()) && {
                let first = views[0].as_ref().unwrap();
                views.iter().all(|v| v.as_ref().unwrap().digest() == first.digest())
                    && first.members().iter().all(|m| m.provider_id == PID)
                    && first.members().iter().map(|m| m.address.clone()).collect::<BTreeSet<_>>() == want
                    && extra(first)
            };
            if ok {
                return (views.into_iter().next().unwrap().unwrap(), start.elapsed());
            }
            if start.elapsed() > bound {
                let mut report = String::new();
                for (i, v) in live.iter().zip(&views) {
                    match v {
                        Ok(v) => report.push_str(&format!(
                            "member {i}: digest {} members {:?} metadata {:?}\n",
                            v.digest(),
                            v.members().iter().map(|m| &m.address).collect::<Vec<_>>(),
                            v.metadata()
                        )),
                        Err(e) => report.push_str(&format!("member {i}: {e}\n")),
                    }
                }
                panic!("{}: no convergence on {what} within {bound:?}; want {want:?}\n{report}{}", self.proto, self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The group file ends up holding the converged view.
    fn file_follows(&self, digest: u64) {
        eventually("the group file to hold the converged view", CONVERGE, || {
            self.check_file().is_some_and(|v| v.digest() == digest)
        });
    }

    fn signal(&self, i: usize, sig: i32) {
        let pid = self.members[i].as_ref().unwrap().child.id() as i32;
        // SAFETY: plain kill(2) on a child we spawned and have not reaped.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }

    fn subscribe_all(&self) -> Vec<(usize, GroupHandle, Arc<Recorder>)> {
        self.live()
            .into_iter()
            .map(|i| {
                let h = self.handle(i).unwrap();
                let r = Arc::new(Recorder::default());
                h.subscribe(r.clone()).unwrap();
                (i, h, r)
            })
            .collect()
    }
}

/// Several joiners at once (through a member and through the group file)
/// converge on one view; metadata set from a client while a member leaves
/// reaches everyone; the leave is quick and reported.
fn join_storm_leave_and_metadata(proto: &str) {
    let _serial = MULTIPROCESS.lock();
    let mut c = Cluster::new(proto, "storm");
    let t0 = Instant::now();
    let first = c.start(&["self".to_string()])[0];
    let join = format!("join:{}:{PID}", c.addr(first));
    let via_file = format!("file:{}", c.file.display());
    c.start(&[join.clone(), join.clone(), join, via_file.clone(), via_file]);
    let (view, took) = c.converge("the join storm", CONVERGE, |v| v.find_metadata("__type__") == Some("swim"));
    assert_eq!(view.member_count(), 6);
    assert_eq!(view.metadata_count(), 2);
    eprintln!("{proto}: 6 members (5 joined at once) converged {took:?} after the joiners came up ({:?} in all)", t0.elapsed());
    c.file_follows(view.digest());

    let subs = c.subscribe_all();
    // Metadata from a client, during a graceful leave.
    let leaver = 3;
    let leaver_addr = c.addr(leaver);
    c.signal(leaver, libc::SIGTERM);
    c.handle(1).unwrap().metadata_set("color", "blue").unwrap();
    let exited = c.members[leaver].as_mut().unwrap().child.wait().unwrap();
    assert!(exited.success(), "SIGTERM: member exits 0");
    c.members[leaver] = None;
    let (view, took) = c.converge("a leave and a metadata change", LEAVE_BOUND, |v| v.find_metadata("color") == Some("blue"));
    eprintln!("{proto}: leave and metadata converged in {took:?}");
    assert_eq!(view.member_count(), 5);
    for (i, _, r) in subs.iter().filter(|(i, _, _)| *i != leaver) {
        eventually(&format!("member {i} to report the leave"), LEAVE_BOUND, || r.saw(Update::Left, &leaver_addr, PID));
        eventually(&format!("member {i} to report the metadata"), LEAVE_BOUND, || {
            r.metadata.lock().contains(&("color".into(), "blue".into()))
        });
    }
    c.file_follows(view.digest());

    // A later join learns the metadata and the departure.
    let late = c.start(&[format!("file:{}", c.file.display())])[0];
    let (view, _) = c.converge("a late join", CONVERGE, |v| v.find_metadata("color") == Some("blue"));
    assert!(view.contains_member(&c.addr(late), PID));
    assert!(!view.contains_member(&leaver_addr, PID));
}

/// A SIGKILLed member and a SIGSTOPped one are declared dead everywhere
/// (reported as DIED by every member); the stopped one, resumed, does not
/// come back by itself, knows it is out, and a new member can still join.
/// Forged messages from an outsider change nothing. Metadata set during the
/// failures converges.
fn crash_and_freeze(proto: &str) {
    let _serial = MULTIPROCESS.lock();
    let mut c = Cluster::new(proto, "crash");
    let first = c.start(&["self".to_string()])[0];
    let join = format!("join:{}:{PID}", c.addr(first));
    c.start(&vec![join; 5]);
    c.converge("six members", CONVERGE, |_| true);
    let subs = c.subscribe_all();

    let killed = 2;
    let killed_addr = c.addr(killed);
    let t = Instant::now();
    c.signal(killed, libc::SIGKILL);
    c.members[killed].as_mut().unwrap().child.wait().unwrap();
    c.members[killed] = None;
    c.handle(4).unwrap().metadata_set("phase", "kill").unwrap();
    let (_, took) = c.converge("the SIGKILLed member's death", DEATH_BOUND, |v| v.find_metadata("phase") == Some("kill"));
    eprintln!("{proto}: SIGKILL detected and agreed on in {took:?} ({:?} since the kill)", t.elapsed());
    for (i, _, r) in subs.iter().filter(|(i, _, _)| *i != killed) {
        eventually(&format!("member {i} to report the death"), DEATH_BOUND, || r.saw(Update::Died, &killed_addr, PID));
    }

    let frozen = 3;
    let frozen_addr = c.addr(frozen);
    let t = Instant::now();
    c.signal(frozen, libc::SIGSTOP);
    let zombie = c.members[frozen].take().unwrap();
    let zombie_pid = zombie.child.id() as i32;
    c.retired.push(zombie);
    c.handle(0).unwrap().metadata_set("phase", "stop").unwrap();
    let (view, took) = c.converge("the SIGSTOPped member's death", DEATH_BOUND, |v| v.find_metadata("phase") == Some("stop"));
    eprintln!("{proto}: SIGSTOP detected and agreed on in {took:?} ({:?} since the stop)", t.elapsed());
    for (i, _, r) in subs.iter().filter(|(i, _, _)| *i != killed && *i != frozen) {
        eventually(&format!("member {i} to report the frozen member's death"), DEATH_BOUND, || {
            r.saw(Update::Died, &frozen_addr, PID)
        });
    }

    // Resumed, it stays out: no live view shows it again.
    // SAFETY: kill(2) on our stopped child.
    assert_eq!(unsafe { libc::kill(zombie_pid, libc::SIGCONT) }, 0);
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(3) {
        for i in c.live() {
            let v = c.handle(i).unwrap().view();
            assert!(!v.contains_member(&frozen_addr, PID), "{proto}: the resumed member reappeared at member {i}\n{}", c.logs());
        }
        c.check_file();
        std::thread::sleep(Duration::from_millis(100));
    }
    // It knows it is out: its own view no longer holds it.
    let za = c.client_engine.lookup(&frozen_addr).unwrap();
    eventually("the resumed member to know it is out", CONVERGE, || {
        GroupHandle::create(&c.client, &za, PID, 0).is_ok_and(|h| !h.view().contains_member(&frozen_addr, PID))
    });
    let (after, _) = c.converge("the group after the resume", CONVERGE, |_| true);
    assert_eq!(after.digest(), view.digest());

    // An outsider's forged and garbage messages change nothing.
    let live = c.live();
    let status = attack(&c.client_engine, &c.addr(live[0]), &c.addr(live[1]), &c.addr(live[2]));
    assert_eq!(status, Status::UnknownSender);
    // Explicit rejoin (a new process), then a settled group.
    c.start(&[format!("join:{}:{PID}", c.addr(live[1]))]);
    let (view, _) = c.converge("a join after the failures", CONVERGE, |v| v.find_metadata("phase") == Some("stop"));
    assert_eq!(view.member_count(), live.len() + 1);
    assert!(!view.contains_member(&frozen_addr, PID) && !view.contains_member(&killed_addr, PID));
    c.file_follows(view.digest());
}

#[test]
fn join_storm_leave_and_metadata_over_shm() {
    join_storm_leave_and_metadata("na+sm");
}

#[test]
fn join_storm_leave_and_metadata_over_tcp() {
    join_storm_leave_and_metadata("ofi+tcp");
}

#[test]
fn crash_and_freeze_over_shm() {
    crash_and_freeze("na+sm");
}

#[test]
fn crash_and_freeze_over_tcp() {
    crash_and_freeze("ofi+tcp");
}
