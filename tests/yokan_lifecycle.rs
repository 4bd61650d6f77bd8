//! A Yokan provider's life around its requests (issue 12's review):
//!
//! * a provider destroyed (directly, or by Bedrock's `remove_provider`)
//!   deregisters every RPC it registered, its shard's included, and stops
//!   following its group: requests to it get `YOKAN_ERR_INVALID_PROVIDER`,
//!   and a new provider takes the same id in the same process;
//! * at most `"max_waiting_requests"` requests of a provider block in a
//!   `WAIT` at once; more are refused at once with `YOKAN_ERR_BUSY`;
//! * removing an execution stream on which a handler waits in a `WAIT`
//!   does not hang: the waiter answers `YOKAN_ERR_ABORTED`, naming the
//!   stream, and the stream goes;
//! * a `WAIT` sent to a member that is not its keys' primary waits there
//!   as long as its caller does: past the caller's timeout the primary's
//!   waiter ends (`YOKAN_ERR_TIMEOUT`) and frees its place among the
//!   `"max_waiting_requests"`; within it, a key that comes later than the
//!   calls between members time out (`"shard_timeout_ms"`) still answers it;
//! * a forwarded `WAIT` whose forwarding member (another process) is
//!   SIGKILLed ends at once at the primary, and frees its place there.

mod common;

use mochi::bedrock::client::ServiceHandle;
use mochi::bedrock::config::{ConfigFormat, ProviderSpec};
use mochi::bedrock::modules::yokan::YokanComponent;
use mochi::bedrock::server::Server;
use mochi::flock::provider::{Provider as Flock, ProviderArgs as FlockArgs};
use mochi::flock::GroupView;
use mochi::rpc::codec::{self, Bytes};
use mochi::rpc::{Engine, InitOverrides, Mode, RpcError};
use mochi::yokan::client::{Client, Database, Opts};
use mochi::yokan::dist::{self, placement::Placement};
use mochi::yokan::error::{code, YokanError};
use mochi::yokan::mode;
use mochi::yokan::protocol;
use mochi::yokan::provider::{GroupRef, Provider, ProviderArgs, DEFAULT_MAX_WAITING};
use parking_lot::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const FLOCK: u16 = 1;
const YOKAN: u16 = 42;
/// What answers below must take at most; the calls' own timeout is longer,
/// so that a hang fails here, with a message.
const PROMPT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// A generous bound for removing an execution stream (it used to wait for
/// as long as the awaited key took to come: for ever here).
const REMOVAL_BOUND: Duration = Duration::from_secs(20);

/// The cases run one at a time (their timing bounds hold on 2 cores).
static SERIAL: Mutex<()> = Mutex::new(());

fn o(mode: i32) -> Opts {
    Opts { mode, timeout: Some(CALL_TIMEOUT) }
}

fn key(i: usize) -> Vec<u8> {
    format!("key-{i:03}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    format!("value-{i}").into_bytes()
}

/// Runs `f`, failing unless it returns within `bound`.
fn within<T>(what: &str, bound: Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < bound, "{what} took {took:?}");
    out
}

/// Runs `f` in a thread of its own, failing unless it returns within
/// `bound` (a call that would hang fails the test instead of hanging it).
fn finishes<T: Send + 'static>(what: &str, bound: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(bound).unwrap_or_else(|_| panic!("{what} did not finish within {bound:?}"))
}

/// A `WAIT` get of `key` in a thread of its own.
fn wait_for(db: &Database, key: &[u8]) -> JoinHandle<Result<Option<Vec<u8>>, YokanError>> {
    let (db, key) = (db.clone(), key.to_vec());
    std::thread::spawn(move || db.get(o(mode::WAIT), &[key.as_slice()]).map(|mut v| v.remove(0)))
}

/// Joins `waiter`, failing unless it has answered within `bound`.
fn answer_of<T>(what: &str, waiter: JoinHandle<T>, bound: Duration) -> T {
    common::eventually(what, bound, || waiter.is_finished());
    waiter.join().unwrap()
}

fn expect_code<T: std::fmt::Debug>(what: &str, r: Result<T, YokanError>, want: i32) -> YokanError {
    match r {
        Err(e) if e.code == want => e,
        other => panic!("{what}: expected yokan error {want}, got {other:?}"),
    }
}

/// Every RPC a sharded provider registers.
fn shard_rpcs() -> Vec<&'static str> {
    let client = [
        protocol::CHECK,
        protocol::COUNT,
        protocol::PUT,
        protocol::EXISTS,
        protocol::LENGTH,
        protocol::GET,
        protocol::ERASE,
        protocol::ERASE_RANGE,
        protocol::LIST,
        protocol::EXISTS_WAIT,
        protocol::LENGTH_WAIT,
        protocol::GET_WAIT,
        protocol::ERASE_WAIT,
    ];
    client.iter().chain(dist::wire::ROUTED.iter()).chain(dist::wire::LEAF.iter()).copied().collect()
}

const SHARD_CONFIG: &str = r#"{"database":{"type":"map"},"replication":2}"#;

/// Two members of a static group in this process, each with a shard.
struct Members {
    engines: Vec<Engine>,
    groups: Vec<Flock>,
}

impl Members {
    fn new(proto: &str) -> Members {
        let engines: Vec<Engine> = (0..2).map(|_| common::engine(proto, Mode::Server)).collect();
        let mut view = GroupView::new();
        for e in &engines {
            view.add_member(e.self_address().as_str(), FLOCK);
        }
        let groups = engines
            .iter()
            .map(|engine| {
                let args = FlockArgs { initial_view: view.clone(), ..Default::default() };
                Flock::register(engine, FLOCK, r#"{"group":{"type":"static","config":{}}}"#, args).unwrap()
            })
            .collect();
        Members { engines, groups }
    }

    fn shard(&self, m: usize) -> Result<Provider, YokanError> {
        self.shard_with(m, SHARD_CONFIG)
    }

    fn shard_with(&self, m: usize, config: &str) -> Result<Provider, YokanError> {
        let args = ProviderArgs { pool: None, group: Some(("group".into(), GroupRef::Local(self.groups[m].clone()))) };
        Provider::register(&self.engines[m], YOKAN, config, args)
    }

    fn address(&self, m: usize) -> String {
        self.engines[m].self_address().to_string()
    }
}

impl Drop for Members {
    fn drop(&mut self) {
        for e in &self.engines {
            e.finalize();
        }
    }
}

#[test]
fn a_destroyed_shard_answers_no_such_provider_and_its_id_can_be_taken_again() {
    let _serial = SERIAL.lock();
    let members = Members::new("na+sm");
    let first = [members.shard(0).unwrap(), members.shard(1).unwrap()];
    let client_engine = common::engine("na+sm", Mode::Client);
    let client = Client::new(&client_engine);
    let addresses = [members.address(0), members.address(1)];
    let db: Vec<Database> =
        addresses.iter().map(|a| client.database(&client_engine.lookup(a).unwrap(), YOKAN, true).unwrap()).collect();
    let refs = |range: std::ops::Range<usize>| range.map(key).collect::<Vec<_>>();
    for i in 0..20 {
        db[1].put(o(0), &[(key(i).as_slice(), value(i).as_slice())]).unwrap();
    }

    // A WAIT get of a key whose primary is member 0, blocked there.
    let view = Placement::new(addresses.iter().cloned());
    let waited = (100..).map(key).find(|k| view.owners(k, 1)[0] == addresses[0]).unwrap();
    let waiter = wait_for(&db[0], &waited);
    common::eventually("the WAIT get to block at member 0", PROMPT, || first[0].waiting_requests() == 1);

    // Destroyed: every RPC of member 0's provider is gone (the shard's too),
    // the waiter is answered, requests fail with a clear code.
    within("destroying member 0's shard", PROMPT, || first[0].destroy());
    for name in shard_rpcs() {
        assert!(!members.engines[0].is_registered(name, YOKAN), "{name} is still registered after destroy");
        assert!(members.engines[1].is_registered(name, YOKAN), "{name} of member 1");
    }
    let e = answer_of("the WAIT get at the destroyed provider", waiter, PROMPT).unwrap_err();
    assert_eq!(e.code, code::TIMEOUT, "{e}");
    let e = expect_code("a get at the destroyed provider", db[0].get(o(0), &[b"key-000"]), code::INVALID_PROVIDER);
    assert!(e.detail.contains("no Yokan provider"), "{e}");
    expect_code("a put at the destroyed provider", db[0].put(o(0), &[(b"k", b"v")]), code::INVALID_PROVIDER);
    expect_code("a WAIT get at the destroyed provider", db[0].get(o(mode::WAIT), &[b"k"]), code::INVALID_PROVIDER);
    expect_code(
        "a shard request at the destroyed provider",
        dist::stored_keys(&client_engine, &addresses[0], YOKAN, &[]),
        code::INVALID_PROVIDER,
    );
    let raw = client_engine.call(db[0].address(), dist::wire::APPLY, YOKAN, vec![1, 2, 3], PROMPT);
    // (No provider of that engine has the RPC any more: "no such RPC".)
    assert!(matches!(raw, Err(RpcError::NoSuchProvider { .. } | RpcError::NoSuchRpc(_))), "{raw:?}");
    // The other member routes around it, and has every key (a copy, or
    // handed off by the leaving member).
    let all = refs(0..20);
    let slices: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    let got = within("reads at member 1", PROMPT, || db[1].get(o(0), &slices).unwrap());
    assert_eq!(got, (0..20).map(|i| Some(value(i))).collect::<Vec<_>>());
    // Destroying it again, or dropping the handle, does nothing more.
    first[0].destroy();

    // A new provider with the same id, on the same engine and group.
    let second = members.shard(0).expect("a new provider takes the destroyed one's id");
    for name in shard_rpcs() {
        assert!(members.engines[0].is_registered(name, YOKAN), "{name} registered again");
    }
    let [old0, _old1] = first;
    drop(old0);
    let got = within("reads at the new provider", PROMPT, || db[0].get(o(0), &slices).unwrap());
    assert_eq!(got, (0..20).map(|i| Some(value(i))).collect::<Vec<_>>());
    for i in 20..30 {
        within("a put at the new provider", PROMPT, || db[0].put(o(0), &[(key(i).as_slice(), value(i).as_slice())]).unwrap());
    }
    let all = refs(20..30);
    let slices: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    assert_eq!(db[1].get(o(0), &slices).unwrap(), (20..30).map(|i| Some(value(i))).collect::<Vec<_>>());
    // Its shard answers shard requests (it holds the new keys it owns).
    let held = dist::stored_keys(&client_engine, &addresses[0], YOKAN, &[]).unwrap();
    assert!(held > 0, "the new shard holds keys");
    // And WAIT requests wait there again.
    let waiter = wait_for(&db[0], &waited);
    common::eventually("the WAIT get to block at the new provider", PROMPT, || second.waiting_requests() == 1);
    // (Put at member 0, the key's primary: member 1 still routes around
    // it for a few seconds after it answered "no such provider", and a
    // WAIT waits at the key's primary only.)
    db[0].put(o(mode::NOTIFY), &[(waited.as_slice(), b"came")]).unwrap();
    assert_eq!(answer_of("the WAIT get at the new provider", waiter, PROMPT).unwrap(), Some(b"came".to_vec()));
    drop(db);
    client_engine.finalize();
}

/// A Bedrock server of one member: a static Flock group and a shard on
/// it, on a pool `kv` served by the execution stream `kv1`.
fn bedrock_config() -> String {
    format!(
        r#"{{"margo": {{"argobots": {{
              "pools": [{{"name": "__primary__"}}, {{"name": "kv"}}],
              "xstreams": [{{"name": "__primary__", "scheduler": {{"pools": ["__primary__"]}}}},
                           {{"name": "kv1", "scheduler": {{"pools": ["kv"]}}}}]}},
              "progress_pool": "__primary__", "rpc_pool": "__primary__"}},
            "providers": [
              {{"name": "group", "type": "flock", "provider_id": {FLOCK},
                "config": {{"bootstrap": "self", "group": {{"type": "static", "config": {{}}}}}}}},
              {KV}]}}"#,
        KV = KV_SPEC
    )
}

const KV_SPEC: &str = r#"{"name": "kv", "type": "yokan", "provider_id": 42,
    "config": {"database": {"type": "map"}, "replication": 2},
    "dependencies": {"group": "group", "pool": "kv"}}"#;

#[test]
fn bedrock_remove_provider_then_add_it_again() {
    let _serial = SERIAL.lock();
    let server = Server::start("na+sm", &bedrock_config(), ConfigFormat::Json).unwrap();
    let client_engine = common::engine("na+sm", Mode::Client);
    let addr = client_engine.lookup(server.engine().self_address().as_str()).unwrap();
    let db = Client::new(&client_engine).database(&addr, YOKAN, true).unwrap();
    db.put(o(0), &[(b"before", b"1")]).unwrap();

    within("removing the provider", PROMPT, || server.remove_provider("kv").unwrap());
    for name in shard_rpcs() {
        assert!(!server.engine().is_registered(name, YOKAN), "{name} is still registered after remove_provider");
    }
    expect_code("a get at the removed provider", db.get(o(0), &[b"before"]), code::INVALID_PROVIDER);

    // Upstream's ProviderManager creates it again from the same description.
    let id = server.add_provider(ProviderSpec::from_json_str(KV_SPEC).unwrap()).expect("the same provider is created again");
    assert_eq!(id, YOKAN);
    db.put(o(0), &[(b"after", b"2")]).unwrap();
    assert_eq!(db.get(o(0), &[b"after"]).unwrap(), vec![Some(b"2".to_vec())]);
    assert_eq!(db.count(o(0)).unwrap(), 1, "a map database starts empty");
    let n = dist::stored_keys(&client_engine, server.engine().self_address().as_str(), YOKAN, &[]).unwrap();
    assert_eq!(n, 1);
    drop(db);
    client_engine.finalize();
    server.finalize();
}

#[test]
fn waiting_requests_are_capped() {
    let _serial = SERIAL.lock();
    let server = common::engine("na+sm", Mode::Server);
    let config = |cap: &str| format!(r#"{{"database":{{"type":"map"}},"max_waiting_requests":{cap}}}"#);
    // Checked like the other keys, and reported with its default.
    for bad in ["0", "-1", "1.5", "\"8\"", "null", "10001", "true"] {
        let e = Provider::register(&server, 7, &config(bad), ProviderArgs::default()).err().unwrap();
        assert_eq!(e.code, code::INVALID_CONFIG, "{bad}: {e}");
        assert!(e.detail.contains("max_waiting_requests") && e.detail.contains("1 to 10000"), "{bad}: {e}");
    }
    let plain = Provider::register(&server, 8, r#"{"database":{"type":"map"}}"#, ProviderArgs::default()).unwrap();
    assert_eq!(plain.config_json()["max_waiting_requests"], DEFAULT_MAX_WAITING);
    plain.destroy();

    let provider = Provider::register(&server, YOKAN, &config("2"), ProviderArgs::default()).unwrap();
    assert_eq!(provider.config_json()["max_waiting_requests"], 2);
    let client_engine = common::engine("na+sm", Mode::Client);
    let addr = client_engine.lookup(server.self_address().as_str()).unwrap();
    let db = Client::new(&client_engine).database(&addr, YOKAN, true).unwrap();
    db.put(o(0), &[(b"here", b"0")]).unwrap();

    let a = wait_for(&db, b"a");
    let b = wait_for(&db, b"b");
    common::eventually("two WAIT gets to block", PROMPT, || provider.waiting_requests() == 2);
    // A third would block too: refused at once, with a clear code.
    let e = within("a WAIT get beyond the cap", PROMPT, || db.get(o(mode::WAIT), &[b"c"]));
    let e = expect_code("a WAIT get beyond the cap", e, code::BUSY);
    assert!(e.detail.contains("2 requests already wait") && e.detail.contains("max_waiting_requests"), "{e}");
    let e = expect_code("a WAIT erase beyond the cap", db.erase(o(mode::WAIT), &[b"c"]), code::BUSY);
    assert!(e.detail.contains("send it again"), "{e}");
    // One that need not block, and plain requests, are served as usual.
    assert_eq!(
        within("a WAIT get of a present key", PROMPT, || db.get(o(mode::WAIT), &[b"here"]).unwrap()),
        vec![Some(b"0".to_vec())]
    );
    assert_eq!(db.count(o(0)).unwrap(), 1);
    assert!(!a.is_finished() && !b.is_finished(), "the waiters still wait");

    // A key that comes frees its waiter's place.
    db.put(o(mode::NOTIFY), &[(b"a", b"1")]).unwrap();
    assert_eq!(answer_of("the first waiter", a, PROMPT).unwrap(), Some(b"1".to_vec()));
    common::eventually("the first waiter's place to be free", PROMPT, || provider.waiting_requests() == 1);
    let c = wait_for(&db, b"c");
    common::eventually("a new WAIT get to block", PROMPT, || provider.waiting_requests() == 2);
    db.put(o(mode::NOTIFY), &[(b"b", b"2"), (b"c", b"3")]).unwrap();
    assert_eq!(answer_of("the second waiter", b, PROMPT).unwrap(), Some(b"2".to_vec()));
    assert_eq!(answer_of("the third waiter", c, PROMPT).unwrap(), Some(b"3".to_vec()));
    assert_eq!(provider.waiting_requests(), 0);
    drop(db);
    client_engine.finalize();
    server.finalize();
}

/// Checks that `remove` (removing execution stream `kv1`, on which a
/// `WAIT` get waits) returns, that the waiter answers `YOKAN_ERR_ABORTED`
/// naming the stream, and that the provider goes on waiting on the pool's
/// other stream (`kv2`, added before).
fn removal_does_not_hang(
    what: &str,
    provider: &Provider,
    db: &Database,
    add_kv2: impl FnOnce(),
    remove: impl FnOnce() -> Result<(), String> + Send + 'static,
) {
    let waiter = wait_for(db, b"k");
    common::eventually("the WAIT get to block", PROMPT, || provider.waiting_requests() == 1);
    add_kv2();
    finishes(what, REMOVAL_BOUND, remove).unwrap_or_else(|e| panic!("{what}: {e}"));
    let e = answer_of("the WAIT get on the removed stream", waiter, PROMPT).unwrap_err();
    assert_eq!(e.code, code::ABORTED, "{e}");
    assert!(e.detail.contains("\"kv1\""), "the error names the stream: {e}");
    assert_eq!(provider.waiting_requests(), 0);
    // The pool's other stream serves WAIT requests, and plain ones.
    let waiter = wait_for(db, b"k");
    common::eventually("a WAIT get to block on kv2", PROMPT, || provider.waiting_requests() == 1);
    within("a put on kv2", PROMPT, || db.put(o(mode::NOTIFY), &[(b"k", b"v")]).unwrap());
    assert_eq!(answer_of("the WAIT get on kv2", waiter, PROMPT).unwrap(), Some(b"v".to_vec()));
}

const KV2: &str = r#"{"name": "kv2", "scheduler": {"type": "basic_wait", "pools": ["kv"]}}"#;

#[test]
fn removing_a_stream_on_which_a_wait_blocks_does_not_hang() {
    let _serial = SERIAL.lock();
    let config = r#"{"argobots": {"pools": [{"name": "__primary__"}, {"name": "kv"}],
        "xstreams": [{"name": "__primary__", "scheduler": {"pools": ["__primary__"]}},
                     {"name": "kv1", "scheduler": {"pools": ["kv"]}}]},
        "progress_pool": "__primary__", "rpc_pool": "__primary__"}"#;
    let server = Engine::new("na+sm", Mode::Server, config, &InitOverrides::default()).unwrap();
    let pool = server.pool_by_name("kv").unwrap();
    let provider =
        Provider::register(&server, YOKAN, r#"{"database":{"type":"map"}}"#, ProviderArgs { pool: Some(pool), group: None })
            .unwrap();
    let client_engine = common::engine("na+sm", Mode::Client);
    let addr = client_engine.lookup(server.self_address().as_str()).unwrap();
    let db = Client::new(&client_engine).database(&addr, YOKAN, true).unwrap();
    let engine = server.clone();
    removal_does_not_hang(
        "Engine::remove_xstream(\"kv1\")",
        &provider,
        &db,
        || {
            server.add_xstream_from_json(&serde_json::from_str(KV2).unwrap()).unwrap();
        },
        move || engine.remove_xstream("kv1").map_err(|e| e.to_string()),
    );
    drop(db);
    client_engine.finalize();
    server.finalize();
}

#[test]
fn bedrock_remove_xstream_with_a_waiting_shard_request_does_not_hang() {
    let _serial = SERIAL.lock();
    let server = Server::start("na+sm", &bedrock_config(), ConfigFormat::Json).unwrap();
    let client_engine = common::engine("na+sm", Mode::Client);
    let address = server.engine().self_address().to_string();
    let db = Client::new(&client_engine).database(&client_engine.lookup(&address).unwrap(), YOKAN, true).unwrap();
    let handle = ServiceHandle::new(&client_engine, &address, 0).unwrap();
    // The provider itself, to count its waiters.
    let entry = server.find_provider("kv").expect("the server runs the yokan provider");
    let provider = entry.component.as_any().downcast_ref::<YokanComponent>().unwrap().provider().clone();
    let remote = handle.clone();
    removal_does_not_hang(
        "bedrock remove_xstream(\"kv1\")",
        &provider,
        &db,
        || handle.add_xstream(KV2).unwrap(),
        move || remote.remove_xstream("kv1").map_err(|e| e.to_string()),
    );
    drop((db, provider, entry));
    client_engine.finalize();
    server.finalize();
}

/// How long the forwarded `WAIT`s below may wait (their caller's timeout).
const SHORT: Duration = Duration::from_millis(1500);
/// The members' `"shard_timeout_ms"` in [`forwarded_waits`] (the default,
/// 10 s, would make the late put below come after 12 s).
const SHARD_TIMEOUT: Duration = Duration::from_secs(3);
/// When the key the long forwarded `WAIT` waits for is put: later than the
/// calls between members time out ([`SHARD_TIMEOUT`]).
const LATE: Duration = Duration::from_secs(4);

/// What a get answers.
type Answered = Result<Vec<Option<Vec<u8>>>, YokanError>;

/// Keys never put whose primary is member `m` of `view`.
fn keys_at(view: &Placement, addresses: &[String], m: usize, tag: &str) -> impl Iterator<Item = Vec<u8>> {
    let (view, at) = (view.clone(), addresses[m].clone());
    let tag = tag.to_string();
    (0..).map(move |i| format!("{tag}-{i}").into_bytes()).filter(move |k| view.owners(k, 1)[0] == at)
}

/// Two members with `"max_waiting_requests": 2`. A `WAIT` get through
/// member 1 of keys whose primary is member 0 (forwarded with
/// `yk_d_apply_wait`), with a timeout of 1.5 s, ends after about 1.5 s with
/// `YOKAN_ERR_TIMEOUT`, and member 0's waiter is gone with it: after three
/// such (two at once, filling the cap), a fourth still blocks rather than
/// being refused with `YOKAN_ERR_BUSY`. The primary ends a waiter at the
/// bound the forwarder gives, with its own error; a request in the format
/// of a member that predates the bound waits without one, and a primary
/// that predates it is sent that format. With
/// `late_put`, meanwhile, a `WAIT` get through member 0 of a key whose
/// primary is member 1, with a long timeout, is answered when the key is
/// put [`LATE`], after the calls between members time out (the forwarder's
/// call waits as long as its caller).
fn forwarded_waits(proto: &str, late_put: bool) {
    let _serial = SERIAL.lock();
    let members = Members::new(proto);
    let config = format!(
        r#"{{"database":{{"type":"map"}},"replication":2,"max_waiting_requests":2,"shard_timeout_ms":{}}}"#,
        SHARD_TIMEOUT.as_millis()
    );
    let shards = [members.shard_with(0, &config).unwrap(), members.shard_with(1, &config).unwrap()];
    let client_engine = common::engine(proto, Mode::Client);
    let client = Client::new(&client_engine);
    let addresses = [members.address(0), members.address(1)];
    let db: Vec<Database> =
        addresses.iter().map(|a| client.database(&client_engine.lookup(a).unwrap(), YOKAN, true).unwrap()).collect();
    let view = Placement::new(addresses.iter().cloned());

    // (b) A long WAIT through member 0, of a key whose primary is member 1.
    let late_key = keys_at(&view, &addresses, 1, "late").next().unwrap();
    let late_from = Instant::now();
    let late_waiter = late_put.then(|| {
        let (db, key) = (db[0].clone(), late_key.clone());
        let waiter = std::thread::spawn(move || {
            let asked = Instant::now();
            let got = db.get(o(mode::WAIT), &[key.as_slice()]).map(|mut v| v.remove(0));
            (got, asked.elapsed())
        });
        common::eventually("the long WAIT to block at member 1", PROMPT, || shards[1].waiting_requests() == 1);
        waiter
    });

    // (a) WAITs whose caller gives up after 1.5 s, through member 1.
    let short = Opts { mode: mode::WAIT, timeout: Some(SHORT) };
    let mut never = keys_at(&view, &addresses, 0, "never");
    let timed_out = |key: Vec<u8>| {
        let db = db[1].clone();
        std::thread::spawn(move || {
            let asked = Instant::now();
            let got = db.get(short, &[key.as_slice()]);
            (got, asked.elapsed())
        })
    };
    let check = |what: &str, (got, took): (Answered, Duration)| {
        expect_code(what, got, code::TIMEOUT);
        assert!(took >= SHORT - Duration::from_millis(50) && took < SHORT + Duration::from_secs(2), "{what} took {took:?}");
    };
    let two = [timed_out(never.next().unwrap()), timed_out(never.next().unwrap())];
    common::eventually("two forwarded WAITs to fill member 0's cap", PROMPT, || shards[0].waiting_requests() == 2);
    for (i, waiter) in two.into_iter().enumerate() {
        check(&format!("forwarded WAIT {i}"), answer_of("a forwarded WAIT", waiter, SHORT + PROMPT));
    }
    // The primary's waiters end with their caller (a few ms later at most).
    common::eventually("member 0's waiters to end", PROMPT, || shards[0].waiting_requests() == 0);
    check("forwarded WAIT 2", answer_of("a forwarded WAIT", timed_out(never.next().unwrap()), SHORT + PROMPT));
    common::eventually("member 0's third waiter to end", PROMPT, || shards[0].waiting_requests() == 0);
    // The cap is free: a fourth WAIT blocks, and is answered.
    let fourth = never.next().unwrap();
    let waiter = wait_for(&db[1], &fourth);
    common::eventually("a fourth forwarded WAIT to block at member 0", PROMPT, || shards[0].waiting_requests() == 1);
    db[0].put(o(mode::NOTIFY), &[(fourth.as_slice(), b"4")]).unwrap();
    assert_eq!(answer_of("the fourth forwarded WAIT", waiter, PROMPT).unwrap(), Some(b"4".to_vec()));
    assert_eq!(shards[0].waiting_requests(), 0);

    // The primary ends a waiter at the bound its forwarder gives (the call
    // itself would wait longer), with its own error.
    let raw = |payload: Vec<u8>| {
        let (engine, addr) = (client_engine.clone(), db[0].address().clone());
        std::thread::spawn(move || {
            let asked = Instant::now();
            let reply = engine.call(&addr, dist::wire::APPLY_WAIT, YOKAN, payload, CALL_TIMEOUT);
            (reply, asked.elapsed())
        })
    };
    let key = never.next().unwrap();
    let get = codec::encode(&protocol::Operation { mode: mode::WAIT, args: vec![Bytes(&key)] });
    let bounded = dist::wire::ApplyWait {
        route: dist::wire::Route::default(),
        op: protocol::GET_WAIT,
        payload: Bytes(&get),
        wait_ms: Some(500),
    };
    let (reply, took) = answer_of("a bounded yk_d_apply_wait", raw(codec::encode(&bounded)), PROMPT);
    let reply = reply.unwrap();
    let e = expect_code("a bounded yk_d_apply_wait", protocol::answer::<Vec<Option<Bytes<'_>>>>(&reply), code::TIMEOUT);
    assert!(e.detail.contains("caller's timeout") && e.detail.contains("max_waiting_requests"), "{e}");
    assert!(took >= Duration::from_millis(480) && took < Duration::from_millis(500) + PROMPT, "took {took:?}");
    assert_eq!(shards[0].waiting_requests(), 0);
    // (c) A member that predates the bound sends an `Apply` alone: read as
    // no bound, the waiter stays until its key comes.
    let old = dist::wire::Apply { route: dist::wire::Route::default(), op: protocol::GET_WAIT, payload: Bytes(&get) };
    let waiter = raw(codec::encode(&old));
    common::eventually("an old-format yk_d_apply_wait to block", PROMPT, || shards[0].waiting_requests() == 1);
    db[0].put(o(mode::NOTIFY), &[(key.as_slice(), b"old")]).unwrap();
    let reply = answer_of("an old-format yk_d_apply_wait", waiter, PROMPT).0.unwrap();
    let got = protocol::answer::<Vec<Option<Bytes<'_>>>>(&reply).unwrap();
    assert_eq!(got, vec![Some(Bytes(b"old"))]);
    common::eventually("the old-format waiter to end", PROMPT, || shards[0].waiting_requests() == 0);

    // A primary that predates the bound knows no yk_d_apply_wait_bounded
    // (taken away here): the forwarder sends it the old request, which waits
    // there without bound, as before; the forwarder's call still ends with
    // its caller, and the primary is not routed around ("no such RPC" is
    // not "gone").
    assert!(members.engines[0].deregister(dist::wire::APPLY_WAIT_BOUNDED, YOKAN));
    let key = never.next().unwrap();
    check("a WAIT forwarded to an old primary", answer_of("a forwarded WAIT", timed_out(key.clone()), SHORT + PROMPT));
    assert_eq!(shards[0].waiting_requests(), 1, "an old primary keeps its waiter (it has no bound)");
    let waiter = wait_for(&db[1], &key);
    common::eventually("a second WAIT to block at the old primary", PROMPT, || shards[0].waiting_requests() == 2);
    db[0].put(o(mode::NOTIFY), &[(key.as_slice(), b"mixed")]).unwrap();
    assert_eq!(answer_of("a WAIT forwarded to an old primary", waiter, PROMPT).unwrap(), Some(b"mixed".to_vec()));
    common::eventually("the old primary's waiters to end", PROMPT, || shards[0].waiting_requests() == 0);

    // (b) The key comes after the shard timeout: it is answered.
    if let Some(waiter) = late_waiter {
        assert!(!waiter.is_finished(), "the long WAIT ended early: {:?}", waiter.join().unwrap());
        assert_eq!(shards[1].waiting_requests(), 1, "the long WAIT still waits at member 1");
        std::thread::sleep(LATE.saturating_sub(late_from.elapsed()));
        db[1].put(o(mode::NOTIFY), &[(late_key.as_slice(), b"late")]).unwrap();
        let (got, took) = answer_of("the long forwarded WAIT", waiter, PROMPT);
        assert_eq!(got.unwrap(), Some(b"late".to_vec()));
        assert!(took > SHARD_TIMEOUT, "it outlasted the calls between members' timeout: {took:?}");
        assert_eq!(shards[1].waiting_requests(), 0);

        // A forwarder whose engine finalizes while a forwarded WAIT waits
        // (30 s) does not wait for it: the stream stop wakes it, and it
        // answers YOKAN_ERR_ABORTED. (The call is between engines of this
        // process, which finalize does not fail as it fails remote calls.)
        let key = never.next().unwrap();
        let waiter = wait_for(&db[1], &key);
        common::eventually("a long forwarded WAIT to block at member 0", PROMPT, || shards[0].waiting_requests() == 1);
        let forwarder = members.engines[1].clone();
        finishes("finalizing the forwarder's engine", PROMPT, move || forwarder.finalize());
        let e = answer_of("the forwarded WAIT of a finalized forwarder", waiter, PROMPT).unwrap_err();
        assert_eq!(e.code, code::ABORTED, "{e}");
        assert!(e.detail.contains(&addresses[0]), "the error names the primary: {e}");
    }
    drop(db);
    client_engine.finalize();
}

#[test]
fn forwarded_waits_wait_as_long_as_their_caller_over_shm() {
    forwarded_waits("na+sm", true);
}

/// Over tcp the calls go through the fabric (the timeout travels in the
/// request header); the late-put case runs over shm only.
#[test]
fn forwarded_waits_wait_as_long_as_their_caller_over_tcp() {
    forwarded_waits("ofi+tcp", false);
}

const FORWARDER_ENV: &str = "MOCHI_YOKAN_TEST_FORWARDER";

/// The member of [`a_dead_forwarders_wait_ends_at_once`] that forwards the
/// `WAIT` and is SIGKILLed (run only by it, in a process of its own): a
/// shard of the static group {primary, us}, whose address it prints.
#[test]
#[ignore = "started by the a_dead_forwarders_wait_ends_at_once_* tests as their forwarding member"]
fn forwarder_side() {
    use std::io::Read;
    let spec = std::env::var(FORWARDER_ENV).expect("run by the a_dead_forwarders_wait_ends_at_once_* tests only");
    let (proto, primary) = spec.split_once(' ').unwrap();
    let engine = common::engine(proto, Mode::Server);
    println!("FORWARDER-ADDR {}", engine.self_address());
    let mut view = GroupView::new();
    view.add_member(primary, FLOCK);
    view.add_member(engine.self_address().as_str(), FLOCK);
    let args = FlockArgs { initial_view: view, ..Default::default() };
    let group = Flock::register(&engine, FLOCK, r#"{"group":{"type":"static","config":{}}}"#, args).unwrap();
    let args = ProviderArgs { pool: None, group: Some(("group".into(), GroupRef::Local(group))) };
    let _shard = Provider::register(&engine, YOKAN, ORPHAN_CONFIG, args).unwrap();
    println!("FORWARDER-READY");
    // Until the test kills us (or closes our stdin).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    engine.finalize();
}

/// One place for a waiter at the primary, one copy per key.
const ORPHAN_CONFIG: &str = r#"{"database":{"type":"map"},"replication":1,"max_waiting_requests":1}"#;

/// A `WAIT` get with the client's default timeout (7 days), sent to a
/// member in another process that forwards it to this process's shard, its
/// keys' primary, which has one place for a waiter. The forwarder is
/// SIGKILLed: the primary's waiter ends at once (the engine watches the
/// member it waits on behalf of), and its place is free: a new `WAIT` at the
/// primary is accepted rather than refused with `YOKAN_ERR_BUSY`.
fn a_dead_forwarders_wait_ends_at_once(proto: &str) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let _serial = SERIAL.lock();
    let primary = common::engine(proto, Mode::Server);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "forwarder_side", "--ignored", "--nocapture", "--test-threads=1"])
        .env(FORWARDER_ENV, format!("{proto} {}", primary.self_address()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the forwarding member");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |tag: &str| loop {
        let line = lines.next().unwrap_or_else(|| panic!("the forwarder exited before printing {tag}")).unwrap();
        // libtest may have printed "test forwarder_side ... " on the same line.
        if let Some(at) = line.find(tag) {
            return line[at + tag.len()..].trim().to_string();
        }
    };
    let forwarder = next("FORWARDER-ADDR");
    let addresses = [primary.self_address().to_string(), forwarder.clone()];
    let mut view = GroupView::new();
    for a in &addresses {
        view.add_member(a, FLOCK);
    }
    let args = FlockArgs { initial_view: view, ..Default::default() };
    let group = Flock::register(&primary, FLOCK, r#"{"group":{"type":"static","config":{}}}"#, args).unwrap();
    let args = ProviderArgs { pool: None, group: Some(("group".into(), GroupRef::Local(group))) };
    let shard = Provider::register(&primary, YOKAN, ORPHAN_CONFIG, args).unwrap();
    next("FORWARDER-READY");

    let client_engine = common::engine(proto, Mode::Client);
    let client = Client::new(&client_engine);
    let through = client.database(&client_engine.lookup(&forwarder).unwrap(), YOKAN, true).unwrap();
    let at_primary = client.database(&client_engine.lookup(&addresses[0]).unwrap(), YOKAN, true).unwrap();
    let placement = Placement::new(addresses.iter().cloned());
    let mut keys = keys_at(&placement, &addresses, 0, "orphan");
    let (orphan, later) = (keys.next().unwrap(), keys.next().unwrap());
    let forwarded = {
        let (db, key) = (through.clone(), orphan.clone());
        std::thread::spawn(move || db.get(Opts { mode: mode::WAIT, timeout: None }, &[key.as_slice()]))
    };
    common::eventually("the forwarded WAIT to block at the primary", PROMPT, || shard.waiting_requests() == 1);
    // Its place is taken: another WAIT is refused.
    let busy = within("a WAIT at the full primary", PROMPT, || at_primary.get(o(mode::WAIT), &[later.as_slice()]));
    expect_code("a WAIT at the full primary", busy, code::BUSY);
    assert_eq!(shard.waiting_requests(), 1, "the forwarder lives: its WAIT still waits");

    let killed = Instant::now();
    child.kill().unwrap();
    child.wait().unwrap();
    common::eventually("the dead forwarder's waiter to end", PROMPT, || shard.waiting_requests() == 0);
    let freed = killed.elapsed();
    let waiter = wait_for(&at_primary, &later);
    common::eventually("a new WAIT to block at the primary", PROMPT, || shard.waiting_requests() == 1);
    let accepted = killed.elapsed();
    eprintln!("{proto}: the primary freed the dead forwarder's place {freed:?} after the kill; a new WAIT blocked there {accepted:?} after");
    at_primary.put(o(mode::NOTIFY), &[(later.as_slice(), b"later")]).unwrap();
    assert_eq!(answer_of("the new WAIT at the primary", waiter, PROMPT).unwrap(), Some(b"later".to_vec()));
    // The client's call to the dead forwarder failed too (its engine
    // watches the peer it waits on).
    let e = answer_of("the WAIT sent through the dead forwarder", forwarded, PROMPT).unwrap_err();
    eprintln!("{proto}: the client's WAIT through the dead forwarder: {e}");
    drop((through, at_primary));
    client_engine.finalize();
    shard.destroy();
    primary.finalize();
}

#[test]
fn a_dead_forwarders_wait_ends_at_once_over_shm() {
    a_dead_forwarders_wait_ends_at_once("na+sm");
}

#[test]
fn a_dead_forwarders_wait_ends_at_once_over_tcp() {
    a_dead_forwarders_wait_ends_at_once("ofi+tcp");
}
