//! A distributed Yokan provider runs everything on the handler pool it was
//! given, with no execution stream of its own: requests forwarded between
//! shards, copies, and `WAIT` requests blocked until a key appears. With
//! that pool served by a single stream (the one driving network progress,
//! as in Margo's default layout, or another one), a member whose only
//! stream is held by a waiting request still forwards requests, serves the
//! ones forwarded to it (also those that its own waiting handler's call
//! depends on), and wakes the waiter when the key comes. (A test binary of
//! its own: it reads the process's threads.)

mod common;

use mochi::flock::provider::{Provider as Flock, ProviderArgs as FlockArgs};
use mochi::flock::GroupView;
use mochi::rpc::{Engine, InitOverrides, Mode};
use mochi::yokan::client::{Client, Database, Opts};
use mochi::yokan::dist::placement::Placement;
use mochi::yokan::mode;
use mochi::yokan::provider::{GroupRef, Provider, ProviderArgs};
use parking_lot::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const FLOCK: u16 = 1;
const YOKAN: u16 = 42;
/// What every answer below must take at most (the calls' own timeout is
/// longer, so that a deadlock fails here with a message, not as a timeout).
const PROMPT: Duration = Duration::from_secs(3);
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long the waiting requests are given to reach their handlers.
const SETTLE: Duration = Duration::from_millis(150);

/// The members' handlers on the one stream that also drives progress
/// (Margo's default layout).
const DRIVING_STREAM: &str = "";
/// The members' handlers on a pool of their own, served by one stream that
/// does not drive progress.
const OWN_STREAM: &str = r#"{"argobots":{"pools":[{"name":"__primary__"},{"name":"kv"}],
    "xstreams":[{"name":"__primary__","scheduler":{"pools":["__primary__"]}},
                {"name":"kv","scheduler":{"pools":["kv"]}}]},
    "progress_pool":"__primary__","rpc_pool":"kv"}"#;

/// The cases run one at a time (their timing bounds hold on 2 cores).
static SERIAL: Mutex<()> = Mutex::new(());

struct Member {
    engine: Engine,
    _group: Flock,
    _kv: Provider,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.engine.finalize();
    }
}

/// Two members of a static group, each with a shard (replication 2: every
/// write at a primary is copied to the other member) on its handler pool.
fn members(proto: &str, config: &str) -> Vec<Member> {
    let engines: Vec<Engine> =
        (0..2).map(|_| Engine::new(proto, Mode::Server, config, &InitOverrides::default()).unwrap()).collect();
    let mut view = GroupView::new();
    for e in &engines {
        view.add_member(e.self_address().as_str(), FLOCK);
    }
    engines
        .into_iter()
        .map(|engine| {
            let flock_args = FlockArgs { initial_view: view.clone(), ..Default::default() };
            let group = Flock::register(&engine, FLOCK, r#"{"group":{"type":"static","config":{}}}"#, flock_args).unwrap();
            let pool = engine.handler_pool();
            if !config.is_empty() {
                assert_eq!(pool.name(), "kv");
            }
            let args = ProviderArgs { pool: Some(pool), group: Some(("group".into(), GroupRef::Local(group.clone()))) };
            let kv = Provider::register(&engine, YOKAN, r#"{"database":{"type":"map"},"replication":2}"#, args).unwrap();
            Member { engine, _group: group, _kv: kv }
        })
        .collect()
}

/// Keys whose primary is member `m` (by the servers' own placement).
fn keys_of(view: &Placement, addresses: &[String], m: usize, n: usize) -> Vec<Vec<u8>> {
    (0..).map(|i| format!("key-{i}").into_bytes()).filter(|k| view.owners(k, 1)[0] == addresses[m]).take(n).collect()
}

fn o(mode: i32) -> Opts {
    Opts { mode, timeout: Some(TIMEOUT) }
}

/// Runs `f`, failing unless it answers within [`PROMPT`].
fn prompt<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < PROMPT, "{what} took {took:?}");
    out
}

/// A `WAIT` get of `key` in a thread of its own.
fn wait_for(db: &Database, key: &[u8]) -> JoinHandle<Option<Vec<u8>>> {
    let (db, key) = (db.clone(), key.to_vec());
    std::thread::spawn(move || db.get(o(mode::WAIT), &[key.as_slice()]).unwrap().remove(0))
}

/// Names (`comm`) of the process's threads.
fn thread_names() -> Vec<String> {
    let tasks = std::fs::read_dir("/proc/self/task").unwrap().flatten();
    tasks.filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok()).map(|c| c.trim().to_string()).collect()
}

fn one_stream_serves_everything(proto: &str, config: &str) {
    let _serial = SERIAL.lock();
    let members = members(proto, config);
    let addresses: Vec<String> = members.iter().map(|m| m.engine.self_address().to_string()).collect();
    let view = Placement::new(addresses.clone());
    let client_engine = Engine::new(proto, Mode::Client, "", &InitOverrides::default()).unwrap();
    let client = Client::new(&client_engine);
    let db: Vec<Database> =
        addresses.iter().map(|a| client.database(&client_engine.lookup(a).unwrap(), YOKAN, true).unwrap()).collect();
    let own: Vec<Vec<Vec<u8>>> = (0..2).map(|m| keys_of(&view, &addresses, m, 4)).collect();
    let v = b"value".as_slice();

    // Each member's only stream takes a WAIT get of a key it is the primary
    // of (sent to the member itself: the handler waits there).
    let waiters: Vec<_> = (0..2).map(|m| wait_for(&db[m], &own[m][0])).collect();
    std::thread::sleep(SETTLE);

    // Meanwhile, writes forwarded both ways: member m's handler calls the
    // other member, whose handler (the key's primary) copies the write back
    // to m before answering; then reads, forwarded too.
    for m in 0..2 {
        let other = &own[1 - m][1];
        prompt(&format!("{proto}: a put through member {m} (forwarded)"), || db[m].put(o(0), &[(other, v)]).unwrap());
        let got = prompt(&format!("{proto}: a get through member {m} (forwarded)"), || db[m].get(o(0), &[other]).unwrap());
        assert_eq!(got, vec![Some(v.to_vec())]);
    }
    assert_eq!(prompt("a count of the group", || db[0].count(o(0)).unwrap()), 2);

    // A WAIT erase forwarded to the key's primary waits there; a put of
    // the key at the primary (which takes the key's lock) wakes it.
    let key = own[0][2].clone();
    let eraser = {
        let (db, key) = (db[1].clone(), key.clone());
        std::thread::spawn(move || db.erase(o(mode::WAIT), &[key.as_slice()]))
    };
    std::thread::sleep(SETTLE);
    assert!(!eraser.is_finished(), "{proto}: the erase waits for its key");
    prompt(&format!("{proto}: a put of the key a WAIT erase waits for"), || {
        db[0].put(o(mode::NOTIFY), &[(key.as_slice(), v)]).unwrap()
    });
    let woke = Instant::now();
    eraser.join().unwrap().unwrap();
    assert!(woke.elapsed() < PROMPT, "{proto}: the erase answered {:?} after its key came", woke.elapsed());
    assert_eq!(db[1].exists(o(0), &[key.as_slice()]).unwrap(), vec![false]);

    // The first waiters are still waiting; the keys they wait for, written
    // through the other member, wake them.
    assert!(waiters.iter().all(|w| !w.is_finished()), "{proto}: the WAIT gets wait for their keys");
    for m in 0..2 {
        let k = own[m][0].as_slice();
        prompt(&format!("{proto}: a NOTIFY put through member {}", 1 - m), || db[1 - m].put(o(mode::NOTIFY), &[(k, v)]).unwrap());
    }
    let woke = Instant::now();
    for w in waiters {
        assert_eq!(w.join().unwrap(), Some(v.to_vec()));
    }
    assert!(woke.elapsed() < PROMPT, "{proto}: the WAIT gets answered {:?} after their keys came", woke.elapsed());

    // The providers started no execution stream of their own (they had
    // yokan-route-*, yokan-leaf-* and yokan-wait-* streams, whose threads
    // were named mochi-yokan-…); their one thread is the rebalancer's.
    let names = thread_names();
    let private: Vec<&String> = names.iter().filter(|n| n.starts_with("mochi-yokan")).collect();
    assert!(private.is_empty(), "{proto}: Yokan streams of their own: {private:?} (all threads: {names:?})");
    // (The test binary's own thread is named yokan_pools-….)
    let yokan: Vec<&String> = names.iter().filter(|n| n.starts_with("yokan-")).collect();
    assert!(yokan.iter().all(|n| n.starts_with("yokan-rebalanc")), "{proto}: {names:?}");
    assert_eq!(yokan.len(), 2, "{proto}: one rebalancing thread per provider: {names:?}");
    drop(db);
    drop(client);
    client_engine.finalize();
}

#[test]
fn handlers_on_the_stream_driving_progress_over_shm() {
    one_stream_serves_everything("na+sm", DRIVING_STREAM);
}

#[test]
fn handlers_on_the_stream_driving_progress_over_tcp() {
    one_stream_serves_everything("ofi+tcp", DRIVING_STREAM);
}

#[test]
fn handlers_on_a_stream_of_their_own_over_shm() {
    one_stream_serves_everything("na+sm", OWN_STREAM);
}

#[test]
fn handlers_on_a_stream_of_their_own_over_tcp() {
    one_stream_serves_everything("ofi+tcp", OWN_STREAM);
}
