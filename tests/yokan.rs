//! Yokan providers and clients over real endpoints: one shared table of
//! operations and modes, run against every backend, on na+sm and ofi+tcp.

use mochi::rpc::{codec, Engine, InitOverrides, Mode};
use mochi::yokan::client::{Client, Database, Opts};
use mochi::yokan::error::code;
use mochi::yokan::mode;
use mochi::yokan::protocol;
use mochi::yokan::provider::{Provider, ProviderArgs};
use std::time::Duration;

fn engine(proto: &str, mode: Mode) -> Engine {
    Engine::new(proto, mode, "", &InitOverrides::default()).unwrap()
}

struct Setup {
    _server: Engine,
    provider: Provider,
    db: Database,
    _client: Engine,
    _dir: Option<TempDir>,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let p = std::env::temp_dir().join(format!("yokan-test-{tag}-{}-{:?}", std::process::id(), std::thread::current().id()));
    let _ = std::fs::remove_dir_all(&p);
    TempDir(p)
}

fn setup(proto: &str, backend: &str) -> Setup {
    let server = engine(proto, Mode::Server);
    let dir = (backend == "lmdb").then(|| temp_dir(&format!("{backend}-{}", proto.replace('+', ""))));
    let config = match &dir {
        Some(d) => format!(r#"{{"database":{{"type":"lmdb","config":{{"path":"{}"}}}}}}"#, d.0.display()),
        None => format!(r#"{{"database":{{"type":"{backend}"}}}}"#),
    };
    let provider = Provider::register(&server, 42, &config, ProviderArgs::default()).unwrap();
    let client = engine(proto, Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    let db = Client::new(&client).database(&addr, 42, true).unwrap();
    Setup { _server: server, provider, db, _client: client, _dir: dir }
}

fn o(m: i32) -> Opts {
    Opts::mode(m)
}

fn kv(pairs: &[(&'static str, &'static str)]) -> Vec<(&'static [u8], &'static [u8])> {
    pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect()
}

/// The shared table: every operation and mode, with the results upstream's
/// semantics give for `backend`.
fn table(proto: &str, backend: &str) {
    let s = setup(proto, backend);
    let db = &s.db;
    let memory = backend != "lmdb";
    let sorted = backend != "unordered_map";
    let cfg = s.provider.config_json();
    assert_eq!(cfg["database"]["type"], backend, "{cfg}");
    assert_eq!(cfg["buffer_cache"]["type"], "lru");

    // put / count / get / exists / length
    assert_eq!(db.count(o(0)).unwrap(), 0);
    db.put(o(0), &kv(&[("apple", "red"), ("banana", "yellow"), ("cherry", ""), ("matt1", "a"), ("matt2", "bb")])).unwrap();
    assert_eq!(db.count(o(0)).unwrap(), 5);
    let got = db.get(o(0), &[b"apple", b"nope", b"cherry"]).unwrap();
    assert_eq!(got, vec![Some(b"red".to_vec()), None, Some(Vec::new())]);
    assert_eq!(db.exists(o(0), &[b"apple", b"nope"]).unwrap(), vec![true, false]);
    assert_eq!(db.length(o(0), &[b"banana", b"nope"]).unwrap(), vec![Some(6), None]);
    // empty keys
    assert_eq!(db.put(o(0), &[(b"", b"x")]).unwrap_err().code, code::INVALID_ARGS);
    assert_eq!(db.get(o(0), &[b""]).unwrap_err().code, code::INVALID_ARGS);
    // overwrite
    db.put(o(0), &kv(&[("apple", "green")])).unwrap();
    assert_eq!(db.get(o(0), &[b"apple"]).unwrap()[0].as_deref(), Some(&b"green"[..]));

    // NEW_ONLY: one pair present -> KEY_EXISTS, value kept; several -> skipped
    assert_eq!(db.put(o(mode::NEW_ONLY), &kv(&[("apple", "x")])).unwrap_err().code, code::KEY_EXISTS);
    db.put(o(mode::NEW_ONLY), &kv(&[("apple", "x"), ("date", "brown")])).unwrap();
    assert_eq!(db.get(o(0), &[b"apple", b"date"]).unwrap(), vec![Some(b"green".to_vec()), Some(b"brown".to_vec())]);

    // APPEND, EXIST_ONLY: memory backends only (lmdb -> YOKAN_ERR_MODE, as upstream)
    if memory {
        db.put(o(mode::APPEND), &kv(&[("apple", "ish"), ("elder", "new")])).unwrap();
        assert_eq!(db.get(o(0), &[b"apple", b"elder"]).unwrap(), vec![Some(b"greenish".to_vec()), Some(b"new".to_vec())]);
        assert_eq!(db.put(o(mode::EXIST_ONLY), &kv(&[("fig", "x")])).unwrap_err().code, code::KEY_NOT_FOUND);
        db.put(o(mode::EXIST_ONLY), &kv(&[("fig", "x"), ("elder", "old")])).unwrap();
        assert_eq!(db.exists(o(0), &[b"fig"]).unwrap(), vec![false]);
        db.put(o(mode::EXIST_ONLY | mode::APPEND), &kv(&[("elder", "er")])).unwrap();
        assert_eq!(db.get(o(0), &[b"elder"]).unwrap()[0].as_deref(), Some(&b"older"[..]));
        db.erase(o(0), &[b"elder"]).unwrap();
    } else {
        assert_eq!(db.put(o(mode::APPEND), &kv(&[("apple", "ish")])).unwrap_err().code, code::MODE);
        assert_eq!(db.put(o(mode::EXIST_ONLY), &kv(&[("apple", "ish")])).unwrap_err().code, code::MODE);
    }
    // contradictory modes are refused before any RPC
    assert_eq!(db.put(o(mode::APPEND | mode::NEW_ONLY), &kv(&[("a", "b")])).unwrap_err().code, code::MODE);
    // Lua and library filters are not provided
    assert_eq!(db.list(o(mode::LUA_FILTER), b"", b"x", 4, false).unwrap_err().code, code::MODE);

    // CONSUME
    db.put(o(0), &kv(&[("tmp1", "one")])).unwrap();
    assert_eq!(db.get(o(mode::CONSUME), &[b"tmp1", b"tmp2"]).unwrap(), vec![Some(b"one".to_vec()), None]);
    assert_eq!(db.exists(o(0), &[b"tmp1"]).unwrap(), vec![false]);

    // erase / erase_range
    db.erase(o(0), &[b"date", b"never-there"]).unwrap();
    assert_eq!(db.exists(o(0), &[b"date"]).unwrap(), vec![false]);
    db.put(o(0), &kv(&[("zz1", "1"), ("zz2", "2"), ("zy", "3")])).unwrap();
    db.erase_range(o(0), b"zz").unwrap();
    assert_eq!(db.exists(o(0), &[b"zz1", b"zz2", b"zy"]).unwrap(), vec![false, false, true]);
    db.erase(o(0), &[b"zy"]).unwrap();

    // listing: apple banana cherry matt1 matt2
    if sorted {
        let keys =
            |items: Vec<(Vec<u8>, Vec<u8>)>| items.into_iter().map(|(k, _)| String::from_utf8(k).unwrap()).collect::<Vec<_>>();
        assert_eq!(keys(db.list(o(0), b"", b"", 10, false).unwrap()), ["apple", "banana", "cherry", "matt1", "matt2"]);
        assert_eq!(keys(db.list(o(0), b"banana", b"", 2, false).unwrap()), ["cherry", "matt1"]);
        assert_eq!(keys(db.list(o(mode::INCLUSIVE), b"banana", b"", 2, false).unwrap()), ["banana", "cherry"]);
        assert_eq!(keys(db.list(o(0), b"", b"matt", 10, false).unwrap()), ["matt1", "matt2"]);
        assert_eq!(keys(db.list(o(mode::NO_PREFIX), b"", b"matt", 10, false).unwrap()), ["1", "2"]);
        assert_eq!(keys(db.list(o(mode::SUFFIX), b"", b"y", 10, false).unwrap()), ["cherry"]);
        assert_eq!(keys(db.list(o(mode::SUFFIX | mode::NO_PREFIX), b"", b"rry", 10, false).unwrap()), ["che"]);
        assert_eq!(keys(db.list(o(mode::IGNORE_KEYS), b"", b"", 3, false).unwrap()), ["", "", ""]);
        assert_eq!(keys(db.list(o(mode::KEEP_LAST), b"", b"", 3, false).unwrap()), ["", "", "cherry"]);
        let kvs = db.list(o(0), b"apple", b"", 1, true).unwrap();
        assert_eq!(kvs, vec![(b"banana".to_vec(), b"yellow".to_vec())]);
        assert!(db.list(o(0), b"matt2", b"", 5, true).unwrap().is_empty());
    } else {
        assert_eq!(db.list(o(0), b"", b"", 10, false).unwrap_err().code, code::OP_UNSUPPORTED);
    }

    // WAIT / NOTIFY
    if memory {
        let waiter = {
            let db = db.clone();
            std::thread::spawn(move || db.get(o(mode::WAIT | mode::CONSUME), &[b"later"]))
        };
        std::thread::sleep(Duration::from_millis(50));
        db.put(o(mode::NOTIFY), &kv(&[("later", "here")])).unwrap();
        assert_eq!(waiter.join().unwrap().unwrap(), vec![Some(b"here".to_vec())]);
        assert_eq!(db.exists(o(0), &[b"later"]).unwrap(), vec![false]);
        // a client timeout ends a wait with YOKAN_ERR_TIMEOUT
        let e = db.get(Opts { mode: mode::WAIT, timeout: Some(Duration::from_millis(100)) }, &[b"never"]).unwrap_err();
        assert_eq!(e.code, code::TIMEOUT, "{e}");
        // the stuck waiter does not hold up other calls
        assert_eq!(db.count(o(0)).unwrap(), 5);
    } else {
        assert_eq!(db.get(o(mode::WAIT), &[b"later"]).unwrap_err().code, code::MODE);
    }

    // big values
    let big = vec![7u8; 16 << 20];
    db.put(o(0), &[(b"big", &big)]).unwrap();
    assert_eq!(db.length(o(0), &[b"big"]).unwrap(), vec![Some(big.len() as u64)]);
    assert_eq!(db.get(o(0), &[b"big"]).unwrap()[0].as_ref().map(Vec::len), Some(big.len()));
}

#[test]
fn table_map_sm() {
    table("na+sm", "map");
}
#[test]
fn table_unordered_map_sm() {
    table("na+sm", "unordered_map");
}
#[test]
fn table_lmdb_sm() {
    table("na+sm", "lmdb");
}
#[test]
fn table_map_tcp() {
    table("ofi+tcp", "map");
}
#[test]
fn table_lmdb_tcp() {
    table("ofi+tcp", "lmdb");
}

/// Collections of documents (`yokan/collection.h`) on one backend: ids in
/// order, loads and sizes with absent ids, updates (UPDATE_NEW), erases,
/// listing pages, and errors for a missing collection.
fn collections(proto: &str, backend: &str) {
    let s = setup(proto, backend);
    let db = &s.db;
    assert!(!db.collection_exists(o(0), "docs").unwrap());
    assert_eq!(db.doc_store(o(0), "docs", &[b"x"]).unwrap_err().code, code::KEY_NOT_FOUND);
    db.collection_create(o(0), "docs").unwrap();
    assert_eq!(db.collection_create(o(0), "docs").unwrap_err().code, code::KEY_EXISTS);
    assert_eq!(db.collection_record(o(0), "docs").unwrap(), (0, 0));
    let docs: Vec<Vec<u8>> = (0..300).map(|i| format!("document {i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
    assert_eq!(db.doc_store(o(0), "docs", &refs[..1]).unwrap(), vec![0]);
    assert_eq!(db.doc_store(o(0), "docs", &refs[1..]).unwrap(), (1..300).collect::<Vec<u64>>());
    assert_eq!(db.collection_record(o(0), "docs").unwrap(), (300, 300));
    let loaded = db.doc_load(o(0), "docs", &[7, 299, 300]).unwrap();
    assert_eq!(loaded, vec![Some(docs[7].clone()), Some(docs[299].clone()), None]);
    assert_eq!(db.doc_length(o(0), "docs", &[7, 1000]).unwrap(), vec![Some(docs[7].len() as u64), None]);
    assert_eq!(db.doc_length(o(0), "nothing", &[0]).unwrap(), vec![None], "upstream answers sizes for a missing collection");
    db.doc_erase(o(0), "docs", &[0, 5, 5, 7000]).unwrap();
    assert_eq!(db.collection_record(o(0), "docs").unwrap(), (298, 300));
    assert_eq!(db.doc_update(o(0), "docs", &[300], &[b"new"]).unwrap_err().code, code::INVALID_ID);
    db.doc_update(o(mode::UPDATE_NEW), "docs", &[302], &[b"new"]).unwrap();
    db.doc_update(o(0), "docs", &[1], &[b"changed"]).unwrap();
    assert_eq!(db.collection_record(o(0), "docs").unwrap(), (299, 303));
    // Pages of 64 from id 0 cover every document once, in id order.
    let (mut from, mut seen) = (0u64, Vec::new());
    loop {
        let page = db.doc_list(o(0), "docs", from, 64, true).unwrap();
        seen.extend(page.iter().map(|(id, _)| *id));
        match page.last() {
            Some((last, _)) if page.len() == 64 => from = last + 1,
            _ => break,
        }
    }
    let expected: Vec<u64> = (1..300).filter(|i| *i != 5).chain([302]).collect();
    assert_eq!(seen, expected);
    let page = db.doc_list(o(mode::IGNORE_DOCS), "docs", 1, 2, false).unwrap();
    assert_eq!(page, vec![(1, Vec::new()), (2, Vec::new())]);
    assert_eq!(db.doc_list(o(0), "docs", 1, 1, true).unwrap(), vec![(1, b"changed".to_vec())]);
    // Filters other than the default are not provided.
    assert_eq!(db.doc_list(o(mode::LUA_FILTER), "docs", 0, 1, true).unwrap_err().code, code::MODE);
    // The documents are keys of the database, in upstream's layout.
    let mut key = b"docs\0".to_vec();
    key.extend_from_slice(&1u64.to_be_bytes());
    assert_eq!(db.get(o(0), &[&key]).unwrap(), vec![Some(b"changed".to_vec())]);
    db.collection_drop(o(0), "docs").unwrap();
    assert!(!db.collection_exists(o(0), "docs").unwrap());
    assert_eq!(db.count(o(0)).unwrap(), 0, "the drop erased every document and the record");
    assert_eq!(db.doc_load(o(0), "docs", &[1]).unwrap_err().code, code::KEY_NOT_FOUND);
    assert_eq!(db.collection_create(o(0), "").unwrap_err().code, code::INVALID_ARGS);
    // An empty prefix erases every key, on every backend (lmdb refused it once).
    db.put(o(0), &kv(&[("one", "1"), ("two", "2")])).unwrap();
    db.erase_range(o(0), b"").unwrap();
    assert_eq!(db.count(o(0)).unwrap(), 0);
}

#[test]
fn collections_map_sm() {
    collections("na+sm", "map");
}
#[test]
fn collections_unordered_map_sm() {
    collections("na+sm", "unordered_map");
}
#[test]
fn collections_lmdb_sm() {
    collections("na+sm", "lmdb");
}
#[test]
fn collections_map_tcp() {
    collections("ofi+tcp", "map");
}

/// Many clients storing into one collection at once get distinct ids, and
/// the record counts every document.
#[test]
fn concurrent_stores_share_no_id() {
    let s = setup("na+sm", "map");
    s.db.collection_create(o(0), "c").unwrap();
    let ids = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..50 {
                    let got = s.db.doc_store(o(0), "c", &[b"a", b"b", b"c"]).unwrap();
                    ids.lock().unwrap().extend(got);
                }
            });
        }
    });
    let mut ids = ids.into_inner().unwrap();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, (0..600).collect::<Vec<u64>>());
    assert_eq!(s.db.collection_record(o(0), "c").unwrap(), (600, 600));
}

#[test]
fn bad_input_gets_clear_codes() {
    let s = setup("na+sm", "map");
    let client = s.db.engine().clone();
    // wrong provider id
    let addr = s.db.address().clone();
    let e = Client::new(&client).database(&addr, 7, true).err().unwrap();
    assert_eq!(e.code, code::INVALID_PROVIDER);
    let unchecked = Client::new(&client).database(&addr, 7, false).unwrap();
    assert_eq!(unchecked.count(o(0)).unwrap_err().code, code::INVALID_PROVIDER);
    // garbage bytes on the wire: an error answer, never a crash
    for payload in [vec![], vec![1, 2], vec![0, 0, 0, 0, 255, 255, 255, 255], vec![0; 64]] {
        for name in ["yk_put", "yk_get", "yk_list", "yk_count", "yk_erase_range", "yk_exists_wait"] {
            let reply = client.call(&addr, name, 42, payload.clone(), Duration::from_secs(10)).unwrap();
            // A reply is `Ok(result)` (variant 0) or `Err(Failure)` (1).
            let c = match reply.first() {
                Some(0) => code::SUCCESS,
                _ => codec::decode::<protocol::Reply<()>>(&reply).unwrap().unwrap_err().code,
            };
            assert!(c == code::INVALID_ARGS || c == code::SUCCESS, "{name} {payload:?} -> {c}");
        }
    }
    assert_eq!(s.db.count(o(0)).unwrap(), 0);
    // a second provider on the same id
    let e = Provider::register(&s._server, 42, r#"{"database":{"type":"map"}}"#, ProviderArgs::default()).err().unwrap();
    assert_eq!(e.code, code::INVALID_PROVIDER);
    // ... leaves the first one's identity (what margo_provider_get_identity answers)
    let addr = s._client.lookup(s._server.self_address().as_str()).unwrap();
    let identity = s._client.provider_identity(&addr, 42, Duration::from_secs(10)).unwrap();
    assert_eq!(identity.as_deref(), Some("yokan"));
    assert_eq!(s._client.provider_identity(&addr, 43, Duration::from_secs(10)).unwrap(), None);
}

/// `set` and `unordered_set` hold keys without values; `null` keeps nothing.
#[test]
fn key_sets_and_the_null_database() {
    for (backend, sorted) in [("set", true), ("unordered_set", false)] {
        let s = setup("na+sm", backend);
        let db = &s.db;
        db.put(o(0), &[(b"b", b""), (b"a", b"")]).unwrap();
        assert_eq!(db.put(o(0), &[(b"c", b"value")]).unwrap_err().code, code::INVALID_ARGS, "{backend}");
        assert_eq!(db.count(o(0)).unwrap(), 2);
        assert_eq!(db.exists(o(0), &[b"a", b"c"]).unwrap(), vec![true, false]);
        assert_eq!(db.get(o(0), &[b"a", b"c"]).unwrap(), vec![Some(Vec::new()), None]);
        assert_eq!(db.length(o(0), &[b"b"]).unwrap(), vec![Some(0)]);
        let listed = db.list(o(0), b"", b"", 10, false);
        if sorted {
            let keys: Vec<Vec<u8>> = listed.unwrap().into_iter().map(|(k, _)| k).collect();
            assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
        } else {
            assert_eq!(listed.unwrap_err().code, code::OP_UNSUPPORTED);
        }
        db.erase(o(0), &[b"a"]).unwrap();
        assert_eq!(db.count(o(0)).unwrap(), 1);
        assert_eq!(s.provider.config_json()["database"]["type"], backend);
    }
    let s = setup("na+sm", "null");
    let db = &s.db;
    db.put(o(0), &kv(&[("k", "v")])).unwrap();
    assert_eq!(db.count(o(0)).unwrap(), 0);
    assert_eq!(db.get(o(0), &[b"k"]).unwrap(), vec![None]);
    assert_eq!(db.exists(o(0), &[b"k"]).unwrap(), vec![false]);
    db.erase(o(0), &[b"k"]).unwrap();
    assert_eq!(db.put(o(mode::APPEND), &kv(&[("k", "v")])).unwrap_err().code, code::MODE, "null takes the default mode only");
}

#[test]
fn configs_are_checked_and_echoed() {
    let server = engine("na+sm", Mode::Server);
    let reg = |id: u16, c: &str| Provider::register(&server, id, c, ProviderArgs::default());
    let err = |id: u16, c: &str| reg(id, c).err().unwrap();
    let e = err(1, r#"{"database":{"type":"rocksdb"}}"#);
    assert_eq!(e.code, code::INVALID_BACKEND);
    assert!(e.detail.contains("map, unordered_map, set, unordered_set, lmdb, null"), "{e}");
    assert_eq!(err(1, "{nope").code, code::INVALID_CONFIG);
    assert_eq!(err(1, "").code, code::INVALID_ARGS);
    assert_eq!(err(1, r#"{"database":3}"#).code, code::INVALID_CONFIG);
    assert_eq!(err(1, r#"{"database":{"type":3}}"#).code, code::INVALID_CONFIG);
    let e = err(1, r#"{"database":{"type":"map","config":{"use_lock":"yes"}}}"#);
    assert!(e.code == code::INVALID_CONFIG && e.detail.contains("use_lock"), "{e}");
    let e = err(1, r#"{"database":{"type":"lmdb","config":{}}}"#);
    assert!(e.code == code::INVALID_CONFIG && e.detail.contains("path"), "{e}");
    let e = err(1, r#"{"database":{"type":"lmdb","config":{"path":"/proc/nope/db"}}}"#);
    assert!(e.code == code::INVALID_CONFIG && e.detail.contains("/proc/nope/db"), "{e}");
    let e = err(1, r#"{"database":{"type":"lmdb","config":{"path":"/tmp/x","create_if_missing":1}}}"#);
    assert!(e.detail.contains("create_if_missing"), "{e}");
    let e = err(1, r#"{"buffer_cache":{"type":"huge"}}"#);
    assert_eq!(e.code, code::INVALID_CONFIG);
    // echo with defaults
    let p = reg(2, r#"{"database":{"type":"map"}}"#).unwrap();
    assert_eq!(
        p.config_string(),
        r#"{"buffer_cache":{"type":"lru"},"database":{"config":{"allocators":{"key_allocator":"default","key_allocator_config":{},"node_allocator":"default","node_allocator_config":{},"value_allocator":"default","value_allocator_config":{}},"comparator":"default","use_lock":true},"type":"map"},"max_waiting_requests":64}"#
    );
    let p = reg(3, r#"{"database":{"type":"unordered_map","config":{"use_lock":false}}}"#).unwrap();
    assert_eq!(p.config_json()["database"]["config"]["initial_bucket_count"], 23);
    assert_eq!(p.config_json()["database"]["config"]["use_lock"], false);
    // no database: every operation says so
    let _none = reg(4, "{}").unwrap();
    let client = engine("na+sm", Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    let db = Client::new(&client).database(&addr, 4, true).unwrap();
    assert_eq!(db.count(o(0)).unwrap_err().code, code::INVALID_DATABASE);
    // a corrupt lmdb file
    let dir = temp_dir("corrupt");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join("data.mdb"), vec![0xabu8; 64 << 10]).unwrap();
    let e = err(5, &format!(r#"{{"database":{{"type":"lmdb","config":{{"path":"{}"}}}}}}"#, dir.0.display()));
    assert!(e.code == code::CORRUPTION || e.code == code::INVALID_CONFIG, "{e}");
}

#[test]
fn lmdb_keeps_its_files_after_destroy() {
    let dir = temp_dir("keep");
    let config = format!(r#"{{"database":{{"type":"lmdb","config":{{"path":"{}"}}}}}}"#, dir.0.display());
    {
        let server = engine("na+sm", Mode::Server);
        let p = Provider::register(&server, 42, &config, ProviderArgs::default()).unwrap();
        let client = engine("na+sm", Mode::Client);
        let addr = client.lookup(server.self_address().as_str()).unwrap();
        let db = Client::new(&client).database(&addr, 42, true).unwrap();
        db.put(o(0), &kv(&[("persist", "me")])).unwrap();
        db.collection_create(o(0), "kept").unwrap();
        db.doc_store(o(0), "kept", &[b"first", b"second"]).unwrap();
        p.destroy();
        server.finalize();
        client.finalize();
    }
    let server = engine("na+sm", Mode::Server);
    let _p = Provider::register(&server, 42, &config, ProviderArgs::default()).unwrap();
    let client = engine("na+sm", Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    let db = Client::new(&client).database(&addr, 42, true).unwrap();
    assert_eq!(db.get(o(0), &[b"persist"]).unwrap(), vec![Some(b"me".to_vec())]);
    // A collection keeps its documents and its next id across the restart.
    assert_eq!(db.collection_record(o(0), "kept").unwrap(), (2, 2));
    assert_eq!(db.doc_store(o(0), "kept", &[b"third"]).unwrap(), vec![2]);
}

/// Acknowledged writes survive `kill -9` and a restart: the test re-runs its
/// own binary as the server process (an lmdb provider), kills it with
/// SIGKILL after the writes, restarts it on the same path and reads back.
#[test]
fn lmdb_writes_survive_sigkill() {
    if let Ok(dir) = std::env::var("YOKAN_TEST_SERVER_DIR") {
        let server = engine("na+sm", Mode::Server);
        let config = format!(r#"{{"database":{{"type":"lmdb","config":{{"path":"{dir}/db"}}}}}}"#);
        let _p = Provider::register(&server, 42, &config, ProviderArgs::default()).unwrap();
        let tmp = format!("{dir}/address.tmp");
        std::fs::write(&tmp, server.self_address().as_str()).unwrap();
        std::fs::rename(&tmp, format!("{dir}/address")).unwrap();
        server.wait_for_finalize();
        return;
    }
    /// The server process, killed (SIGKILL) and reaped when dropped.
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = temp_dir("sigkill");
    std::fs::create_dir_all(&dir.0).unwrap();
    let start = || {
        let _ = std::fs::remove_file(dir.0.join("address"));
        let child = Server(
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "lmdb_writes_survive_sigkill", "--nocapture", "--test-threads=1"])
                .env("YOKAN_TEST_SERVER_DIR", &dir.0)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(a) = std::fs::read_to_string(dir.0.join("address")) {
                return (child, a);
            }
            assert!(std::time::Instant::now() < deadline, "the server process did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let client = engine("na+sm", Mode::Client);
    let (child, address) = start();
    let db = Client::new(&client).database(&client.lookup(&address).unwrap(), 42, true).unwrap();
    let keys: Vec<String> = (0..200).map(|i| format!("key-{i:04}")).collect();
    for k in &keys {
        db.put(o(0), &[(k.as_bytes(), k.as_bytes())]).unwrap();
    }
    drop(child); // SIGKILL
    let (child, address) = start();
    let db = Client::new(&client).database(&client.lookup(&address).unwrap(), 42, true).unwrap();
    assert_eq!(db.count(o(0)).unwrap(), keys.len() as u64);
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let got = db.get(o(0), &refs).unwrap();
    for (k, v) in keys.iter().zip(got) {
        assert_eq!(v.as_deref(), Some(k.as_bytes()));
    }
    drop(child);
}

/// `array` (in memory) and `log` (on disk) hold collections of documents
/// only: every document call works as on `map`, every key-value call is
/// refused with YOKAN_ERR_OP_UNSUPPORTED naming the type; `log` keeps its
/// documents (and its next id) across a provider's destruction; their
/// configs are checked and echoed with defaults.
#[test]
fn document_only_database_types() {
    let dir = temp_dir("log");
    let log_config = format!(r#"{{"database":{{"type":"log","config":{{"path":"{}"}}}}}}"#, dir.0.display());
    let array_config = r#"{"database":{"type":"array"}}"#.to_string();
    for config in [&array_config, &log_config] {
        let server = engine("na+sm", Mode::Server);
        let p = Provider::register(&server, 42, config, ProviderArgs::default()).unwrap();
        let client = engine("na+sm", Mode::Client);
        let addr = client.lookup(server.self_address().as_str()).unwrap();
        let db = Client::new(&client).database(&addr, 42, true).unwrap();
        db.collection_create(o(0), "docs").unwrap();
        let docs: Vec<Vec<u8>> = (0..100).map(|i| format!("document {i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
        assert_eq!(db.doc_store(o(0), "docs", &refs).unwrap(), (0..100).collect::<Vec<u64>>());
        assert_eq!(db.doc_load(o(0), "docs", &[3, 100]).unwrap(), vec![Some(docs[3].clone()), None]);
        db.doc_update(o(0), "docs", &[3], &[b"changed"]).unwrap();
        db.doc_erase(o(0), "docs", &[4]).unwrap();
        assert_eq!(db.collection_record(o(0), "docs").unwrap(), (99, 100));
        let page = db.doc_list(o(0), "docs", 2, 3, true).unwrap();
        assert_eq!(page, vec![(2, docs[2].clone()), (3, b"changed".to_vec()), (5, docs[5].clone())]);
        let kind = p.config_json()["database"]["type"].as_str().unwrap().to_string();
        let refused = |e: mochi::yokan::error::YokanError| {
            assert_eq!(e.code, code::OP_UNSUPPORTED, "{e}");
            assert!(e.detail.contains(&kind) && e.detail.contains("documents only"), "{e}");
        };
        refused(db.put(o(0), &kv(&[("k", "v")])).unwrap_err());
        refused(db.get(o(0), &[b"k"]).unwrap_err());
        refused(db.exists(o(0), &[b"k"]).unwrap_err());
        refused(db.count(o(0)).unwrap_err());
        refused(db.list(o(0), b"", b"", 10, true).unwrap_err());
        refused(db.erase_range(o(0), b"").unwrap_err());
        p.destroy();
        server.finalize();
        client.finalize();
    }
    // The log's documents outlive its provider.
    let server = engine("na+sm", Mode::Server);
    let p = Provider::register(&server, 42, &log_config, ProviderArgs::default()).unwrap();
    let cfg = &p.config_json()["database"]["config"];
    assert_eq!((cfg["chunk_size"].as_u64(), cfg["cache_size"].as_u64()), (Some(10 << 20), Some(16)), "{cfg}");
    let client = engine("na+sm", Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    let db = Client::new(&client).database(&addr, 42, true).unwrap();
    assert_eq!(db.collection_record(o(0), "docs").unwrap(), (99, 100));
    assert_eq!(db.doc_store(o(0), "docs", &[b"next"]).unwrap(), vec![100]);
    db.collection_drop(o(0), "docs").unwrap();
    // Configs.
    let err = |c: String| Provider::register(&server, 7, &c, ProviderArgs::default()).err().unwrap();
    let e = err(r#"{"database":{"type":"log","config":{}}}"#.into());
    assert!(e.code == code::INVALID_CONFIG && e.detail.contains("path"), "{e}");
    let e = err(format!(r#"{{"database":{{"type":"log","config":{{"path":"{}","error_if_exists":true}}}}}}"#, dir.0.display()));
    assert!(e.code == code::INVALID_CONFIG && e.detail.contains("error_if_exists"), "{e}");
    let e = err(format!(r#"{{"database":{{"type":"log","config":{{"path":"{}","chunk_size":"big"}}}}}}"#, dir.0.display()));
    assert!(e.code == code::INVALID_CONFIG && e.detail.contains("chunk_size"), "{e}");
    let e = err(r#"{"database":{"type":"array","config":{"use_lock":1}}}"#.into());
    assert!(e.code == code::INVALID_CONFIG && e.detail.contains("use_lock"), "{e}");
}
