//! Yokan's `_bulk` operations through the C API, across processes: two
//! `bedrock` daemons in a Flock group, each with a plain `map` provider and
//! a shard of a distributed database; this process is a C-API client that
//! exposes its memory with `margo_bulk_create` and runs every `_bulk`
//! operation on a plain handle and on a group-aware one; then a third
//! process (this binary again) owns a bulk handle, serializes it, and this
//! client puts, gets and checks keys through it with `origin` naming that
//! process. Both transports.

mod common;

use common::{daemons, scratch_dir, MULTIPROCESS};
use mochi::ffi::bulk::{
    margo_bulk_create, margo_bulk_deserialize, margo_bulk_free, margo_bulk_get_serialize_size, margo_bulk_serialize,
};
use mochi::ffi::handles::{self, margo_instance_id};
use mochi::ffi::hg::{hg_addr_t, hg_bulk_t, hg_return};
use mochi::ffi::margo::{margo_addr_free, margo_addr_lookup, margo_finalize, margo_init};
use mochi::ffi::yokan::bulk::*;
use mochi::ffi::yokan::client::*;
use mochi::ffi::yokan::database::{yk_get_timed, KEY_NOT_FOUND, NO_MORE_KEYS, SIZE_TOO_SMALL};
use mochi::yokan::error::code;
use std::ffi::{c_void, CString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

const BEDROCK: &str = env!("CARGO_BIN_EXE_bedrock");
const SHARDED: u16 = 42;
const PLAIN: u16 = 43;
const READ_ONLY: u8 = 1;
const WRITE_ONLY: u8 = 2;
const READWRITE: u8 = 3;
const W: usize = std::mem::size_of::<usize>();

// ------------------------------------------------------------ daemons

struct Daemons {
    dir: PathBuf,
    children: Vec<Child>,
    addresses: Vec<String>,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Daemons {
    /// `n` daemons in one centralized group (the first bootstraps it, the
    /// others join), listed in the group file before this returns.
    fn start(proto: &str, n: usize) -> Daemons {
        common::assert_cdylib_fresh(&Path::new(BEDROCK).with_file_name("libmochi.so"));
        let mut d = Daemons { dir: scratch_dir("yokan-bulk"), children: Vec::new(), addresses: Vec::new() };
        for i in 0..n {
            let files = daemons::daemon_files(&d.dir, i);
            let config = format!(
                r#"{{"libraries": ["libflock-bedrock-module.so", "libyokan-bedrock-module.so"],
                    "providers": [
                      {{"name": "group", "type": "flock", "provider_id": 1,
                        "config": {{"bootstrap": ["join", "self"], "file": "{}", "group": {{"type": "centralized"}}}}}},
                      {{"name": "kv_store", "type": "yokan", "provider_id": {SHARDED},
                        "config": {{"database": {{"type": "map"}}}}, "dependencies": {{"group": "group"}}}},
                      {{"name": "kv_plain", "type": "yokan", "provider_id": {PLAIN},
                        "config": {{"database": {{"type": "map"}}}}}}]}}"#,
                d.group_file().display()
            );
            std::fs::write(&files.config, config).unwrap();
            let mut cmd = Command::new(BEDROCK);
            cmd.args([proto, "-v", "warning"]);
            d.children.push(daemons::start_daemon(cmd, &files));
            let address = daemons::wait_address(&files, Duration::from_secs(30), || daemons::daemon_log(&d.dir, i));
            wait_for(&format!("daemon {i} in the group file"), || d.listed().contains(&address).then_some(()));
            d.addresses.push(address);
        }
        d
    }

    fn group_file(&self) -> PathBuf {
        self.dir.join("group.flock")
    }

    fn listed(&self) -> Vec<String> {
        daemons::group_members(&self.group_file())
    }
}

/// Polls `f` (every 20 ms, up to 30 s) until it gives something.
fn wait_for<T>(what: &str, f: impl Fn() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------ the C API

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn init(proto: &str, server: bool) -> margo_instance_id {
    let mid = margo_init(cstr(proto).as_ptr(), server as i32, 0, 0);
    assert!(!mid.is_null(), "margo_init {proto}");
    mid
}

fn lookup(mid: margo_instance_id, address: &str) -> hg_addr_t {
    let mut addr: hg_addr_t = null_mut();
    // SAFETY: a NUL-terminated name and a writable output.
    assert_eq!(unsafe { margo_addr_lookup(mid, cstr(address).as_ptr(), &mut addr) }, hg_return::HG_SUCCESS);
    addr
}

/// Memory exposed with `margo_bulk_create`, cut into segments; freed (the
/// handle first) when dropped.
struct Exposed {
    segs: Vec<Vec<u8>>,
    h: hg_bulk_t,
}

impl Exposed {
    fn new(mid: margo_instance_id, bytes: &[u8], cuts: &[usize], flags: u8) -> Exposed {
        let mut segs = Vec::new();
        let mut at = 0;
        for c in cuts.iter().copied().chain([bytes.len()]) {
            segs.push(bytes[at..c].to_vec());
            at = c;
        }
        let mut ptrs: Vec<*mut c_void> = segs.iter_mut().map(|s| s.as_mut_ptr() as *mut c_void).collect();
        let sizes: Vec<u64> = segs.iter().map(|s| s.len() as u64).collect();
        let mut h: hg_bulk_t = null_mut();
        // SAFETY: the segments live until the handle is freed (Drop).
        let r = unsafe { margo_bulk_create(mid, segs.len() as u32, ptrs.as_mut_ptr(), sizes.as_ptr(), flags, &mut h) };
        assert_eq!(r, hg_return::HG_SUCCESS);
        Exposed { segs, h }
    }

    fn bytes(&self) -> Vec<u8> {
        self.segs.concat()
    }
}

impl Drop for Exposed {
    fn drop(&mut self) {
        // SAFETY: the live handle made in `new`, freed once.
        unsafe { margo_bulk_free(self.h) };
    }
}

fn words(v: &[usize]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

fn words_at(bytes: &[u8], at: usize, n: usize) -> Vec<usize> {
    bytes[at..at + n * W].chunks(W).map(|c| usize::from_ne_bytes(c.try_into().unwrap())).collect()
}

/// A payload: `count` key sizes, optionally the value sizes, the keys,
/// optionally the values, then `tail` bytes of 0xEE.
fn payload(keys: &[Vec<u8>], vsizes: Option<&[usize]>, values: &[Vec<u8>], tail: usize) -> Vec<u8> {
    let mut b = words(&keys.iter().map(Vec::len).collect::<Vec<_>>());
    if let Some(vs) = vsizes {
        b.extend(words(vs));
    }
    keys.iter().chain(values).for_each(|s| b.extend_from_slice(s));
    b.resize(b.len() + tail, 0xEE);
    b
}

fn get_one(db: yk_database_handle_t, key: &[u8]) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let mut size = buf.len();
    // SAFETY: valid buffers of the sizes given.
    let r =
        unsafe { yk_get_timed(db, 0, key.as_ptr() as *const c_void, key.len(), buf.as_mut_ptr() as *mut c_void, &mut size, 0.0) };
    match r {
        0 => Some(buf[..size].to_vec()),
        code::KEY_NOT_FOUND => None,
        other => panic!("yk_get returned {other}"),
    }
}

/// What `yk_fetch_bulk` hands to its callback.
unsafe extern "C" fn collect(uargs: *mut c_void, i: usize, k: *const c_void, ks: usize, v: *const c_void, vs: usize) -> i32 {
    // SAFETY: uargs is the Vec the test passes; k and v valid for ks and vs bytes.
    unsafe {
        let out = &mut *(uargs as *mut Vec<(usize, Vec<u8>, Option<Vec<u8>>)>);
        let key = std::slice::from_raw_parts(k as *const u8, ks).to_vec();
        let value = (vs != KEY_NOT_FOUND).then(|| std::slice::from_raw_parts(v as *const u8, vs).to_vec());
        out.push((i, key, value));
    }
    0
}

/// Every `_bulk` operation on `db`, keys prefixed with `p`, through bulk
/// handles made on `mid` (cut into several segments, at an offset).
fn every_operation(mid: margo_instance_id, db: yk_database_handle_t, p: &str) {
    let key = |s: &str| format!("{p}{s}").into_bytes();
    let keys = vec![key("apple"), key("banana"), key("cherry"), key("date")];
    let values = vec![b"red".to_vec(), b"yellow".to_vec(), Vec::new(), b"brown-ish".to_vec()];
    let vsizes: Vec<usize> = values.iter().map(Vec::len).collect();
    // SAFETY: every handle is live while used, and every pointer passed
    // is valid for what it is passed with (the whole block).
    unsafe {
        // put: 3 bytes before the payload, 4 segments cut inside the sizes and a key.
        let body = payload(&keys, Some(&vsizes), &values, 0);
        let mut bytes = vec![0xAB; 3];
        bytes.extend(&body);
        let b = Exposed::new(mid, &bytes, &[5, 40, 4 * W + 21], READ_ONLY);
        assert_eq!(yk_put_bulk_timed(db, 0, 4, null(), b.h, 3, body.len(), 0.0), 0);
        for (k, v) in keys.iter().zip(&values) {
            assert_eq!(get_one(db, k).as_ref(), Some(v), "{}", String::from_utf8_lossy(k));
        }

        // exists: apple, nope, cherry, date -> 0b1101, in one byte after the keys.
        let asked = vec![key("apple"), key("nope"), key("cherry"), key("date")];
        let body = payload(&asked, None, &[], 1);
        let b = Exposed::new(mid, &body, &[W + 1], READWRITE);
        assert_eq!(yk_exists_bulk_timed(db, 0, 4, null(), b.h, 0, body.len(), 5000.0), 0);
        assert_eq!(*b.bytes().last().unwrap(), 0b1101);
        // A read-only handle cannot take the answers: nothing written.
        let ro = Exposed::new(mid, &body, &[], READ_ONLY);
        assert_eq!(yk_exists_bulk_timed(db, 0, 4, null(), ro.h, 0, body.len(), 0.0), code::READONLY);
        assert_eq!(ro.bytes(), body);

        // length: the sizes after the keys.
        let body = payload(&asked, None, &[], 4 * W);
        let b = Exposed::new(mid, &body, &[2, 3 * W], READWRITE);
        assert_eq!(yk_length_bulk_timed(db, 0, 4, null(), b.h, 0, body.len(), 0.0), 0);
        let out = b.bytes();
        assert_eq!(words_at(&out, out.len() - 4 * W, 4), [3, KEY_NOT_FOUND, 0, 9]);

        // get, packed: 11 bytes of room: "red" fits, the absent key takes
        // none, "" fits, "brown-ish" (9) does not.
        let body = payload(&asked, Some(&[0; 4]), &[], 11);
        let b = Exposed::new(mid, &body, &[9 * W, body.len() - 5], READWRITE);
        assert_eq!(yk_get_bulk_timed(db, 0, 4, null(), b.h, 0, body.len(), true, 0.0), 0);
        let out = b.bytes();
        assert_eq!(words_at(&out, 4 * W, 4), [3, KEY_NOT_FOUND, 0, SIZE_TOO_SMALL]);
        let area = &out[out.len() - 11..];
        assert_eq!(&area[..3], b"red");
        assert!(area[3..].iter().all(|c| *c == 0xEE), "no byte past the values is written");
        // get into slots of 2, 4, 1, 10 bytes: "red" is too big for its slot.
        let body = payload(&asked, Some(&[2, 4, 1, 10]), &[], 17);
        let b = Exposed::new(mid, &body, &[], READWRITE);
        assert_eq!(yk_get_bulk_timed(db, 0, 4, null(), b.h, 0, body.len(), false, 0.0), 0);
        let out = b.bytes();
        assert_eq!(words_at(&out, 4 * W, 4), [SIZE_TOO_SMALL, KEY_NOT_FOUND, 0, 9]);
        let area = &out[out.len() - 17..];
        assert_eq!(&area[7..16], b"brown-ish");
        assert!(area[..7].iter().chain(&area[16..]).all(|c| *c == 0xEE));
        // Slots past the value area.
        let body = payload(&asked, Some(&[2, 4, 1, 11]), &[], 17);
        let b = Exposed::new(mid, &body, &[], READWRITE);
        assert_eq!(yk_get_bulk_timed(db, 0, 4, null(), b.h, 0, body.len(), false, 0.0), code::INVALID_ARGS);

        // fetch: the callback sees every key, in order, at its index.
        let body = payload(&asked, None, &[], 0);
        let b = Exposed::new(mid, &body, &[W + 3], READ_ONLY);
        let mut seen: Vec<(usize, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let uargs = &mut seen as *mut _ as *mut c_void;
        assert_eq!(yk_fetch_bulk_timed(db, 0, 4, null(), b.h, 0, body.len(), Some(collect), uargs, null(), 0.0), 0);
        let want: Vec<_> = vec![(0, asked[0].clone(), Some(values[0].clone())), (1, asked[1].clone(), None)]
            .into_iter()
            .chain([(2, asked[2].clone(), Some(Vec::new())), (3, asked[3].clone(), Some(values[3].clone()))])
            .collect();
        assert_eq!(seen, want);
        assert_eq!(yk_fetch_bulk_timed(db, 0, 4, null(), b.h, 0, body.len(), None, null_mut(), null(), 0.0), code::INVALID_ARGS);

        // list_keys, packed: from "" with the prefix as filter, 5 slots, 20
        // bytes of keys ("apple"..."date" with the prefix).
        let filter = p.as_bytes();
        let kroom = 2 * (p.len() + 6);
        let mut body = filter.to_vec();
        body.resize(filter.len() + 5 * W + kroom, 0xEE);
        let b = Exposed::new(mid, &body, &[1, filter.len() + W + 3], READWRITE);
        assert_eq!(yk_list_keys_bulk_timed(db, 0, 0, filter.len(), null(), b.h, 0, kroom, true, 5, 0.0), 0);
        let out = b.bytes();
        let (n0, n1) = (p.len() + 5, p.len() + 6);
        assert_eq!(words_at(&out, filter.len(), 5), [n0, n1, SIZE_TOO_SMALL, SIZE_TOO_SMALL, NO_MORE_KEYS]);
        let area = &out[filter.len() + 5 * W..];
        assert_eq!(&area[..n0 + n1], [key("apple"), key("banana")].concat());
        // list_keyvals into slots, from "<p>apple" (exclusive).
        let from = key("apple");
        let mut body = from.clone();
        body.extend(filter);
        body.extend(words(&[32, 32, 32, 32, 32, 32]));
        body.extend(words(&[8, 8, 8, 2, 0, 0]));
        let (kat, vat) = (body.len(), body.len() + 6 * 32);
        body.resize(vat + 30, 0xEE);
        let b = Exposed::new(mid, &body, &[kat + 40], READWRITE);
        let r = yk_list_keyvals_bulk_timed(db, 0, from.len(), filter.len(), null(), b.h, 0, 6 * 32, 30, false, 6, 0.0);
        assert_eq!(r, 0);
        let out = b.bytes();
        let at = from.len() + filter.len();
        assert_eq!(words_at(&out, at, 6), [p.len() + 6, p.len() + 6, p.len() + 4, NO_MORE_KEYS, NO_MORE_KEYS, NO_MORE_KEYS]);
        assert_eq!(words_at(&out, at + 6 * W, 6), [6, 0, SIZE_TOO_SMALL, NO_MORE_KEYS, NO_MORE_KEYS, NO_MORE_KEYS]);
        assert_eq!(&out[kat..kat + p.len() + 6], &key("banana")[..]);
        assert_eq!(&out[kat + 64..kat + 64 + p.len() + 4], &key("date")[..]);
        assert_eq!(&out[vat..vat + 6], b"yellow");
        assert!(out[vat + 6..].iter().all(|c| *c == 0xEE));

        // erase, then nothing is left.
        let body = payload(&keys, None, &[], 0);
        let b = Exposed::new(mid, &body, &[W], READ_ONLY);
        assert_eq!(yk_erase_bulk_timed(db, 0, 4, null(), b.h, 0, body.len(), 0.0), 0);
        assert!(keys.iter().all(|k| get_one(db, k).is_none()));

        // Bad arguments: clear codes, nothing stored.
        let body = payload(&keys, Some(&vsizes), &values, 0);
        let b = Exposed::new(mid, &body, &[], READ_ONLY);
        let put = |h, count, offset, size| yk_put_bulk_timed(db, 0, count, null(), h, offset, size, 0.0);
        assert_eq!(put(null_mut(), 4, 0, body.len()), code::INVALID_ARGS, "NULL bulk");
        assert_eq!(put(b.h, 4, 0, body.len() - 1), code::INVALID_ARGS, "shorter than its sizes");
        assert_eq!(put(b.h, 4, 1, body.len()), code::INVALID_ARGS, "past the handle");
        assert_eq!(put(b.h, 4, usize::MAX, 2), code::INVALID_ARGS, "offset overflow");
        assert_eq!(put(b.h, 1, 0, 0), code::INVALID_ARGS, "count > 0 and size 0");
        assert_eq!(put(b.h, usize::MAX / 4, 0, body.len()), code::INVALID_ARGS, "a count the payload cannot hold");
        assert_eq!(put(null_mut(), 0, 0, 0), 0, "count 0: nothing to do");
        let mut hostile = body.clone();
        hostile[..W].copy_from_slice(&usize::MAX.to_ne_bytes());
        let h = Exposed::new(mid, &hostile, &[], READ_ONLY);
        assert_eq!(put(h.h, 4, 0, hostile.len()), code::INVALID_ARGS, "sizes that overflow");
        let wo = Exposed::new(mid, &body, &[], WRITE_ONLY);
        assert_eq!(put(wo.h, 4, 0, body.len()), code::PERMISSION, "a write-only handle");
        let garbage = cstr("no such address");
        assert_eq!(yk_put_bulk_timed(db, 0, 4, garbage.as_ptr(), b.h, 0, body.len(), 0.0), code::FROM_MERCURY);
        assert_eq!(yk_put_bulk_timed(null_mut(), 0, 4, null(), b.h, 0, body.len(), 0.0), code::INVALID_ARGS);
        assert_eq!(yk_put_bulk_timed(db, 0x2 | 0x10, 4, null(), b.h, 0, body.len(), 0.0), code::MODE, "APPEND|NEW_ONLY");
        assert!(keys.iter().all(|k| get_one(db, k).is_none()));
    }
}

struct Client {
    mid: margo_instance_id,
    client: yk_client_t,
}

impl Client {
    fn new(proto: &str) -> Client {
        let mid = init(proto, false);
        let mut client: yk_client_t = null_mut();
        // SAFETY: a live instance and a writable output.
        assert_eq!(unsafe { yk_client_init(mid, &mut client) }, 0);
        Client { mid, client }
    }

    fn plain(&self, address: &str) -> yk_database_handle_t {
        let addr = lookup(self.mid, address);
        let mut db: yk_database_handle_t = null_mut();
        // SAFETY: live client and address, writable output.
        unsafe {
            assert_eq!(yk_database_handle_create(self.client, addr, PLAIN, true, &mut db), 0);
            margo_addr_free(self.mid, addr);
        }
        db
    }

    fn grouped(&self, file: &Path) -> yk_database_handle_t {
        let mut db: yk_database_handle_t = null_mut();
        let name = cstr(file.to_str().unwrap());
        // SAFETY: live client, NUL-terminated file name, writable output.
        assert_eq!(unsafe { yk_database_handle_create_from_group_file(self.client, name.as_ptr(), SHARDED, &mut db) }, 0);
        db
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // SAFETY: the live client, finalized once.
        unsafe { yk_client_finalize(self.client) };
        margo_finalize(self.mid);
    }
}

// ------------------------------------------------------------ the third process

/// The bulk handle the owner process exposes (one READWRITE handle of two
/// segments): a put payload of three pairs at 0, a packed get payload of
/// its keys at `GET_AT`, an exists payload at `EXISTS_AT`.
const GET_AT: usize = 512;
const EXISTS_AT: usize = 1024;
const OWNED: usize = 1536;

fn owned_keys() -> Vec<Vec<u8>> {
    ["third-1", "third-2", "third-3"].iter().map(|k| k.as_bytes().to_vec()).collect()
}

fn owned_values() -> Vec<Vec<u8>> {
    vec![b"one".to_vec(), b"twotwo".to_vec(), b"333".to_vec()]
}

fn owned_memory() -> (Vec<u8>, [usize; 3]) {
    let (keys, values) = (owned_keys(), owned_values());
    let mut m = vec![0xEEu8; OWNED];
    let put = payload(&keys, Some(&values.iter().map(Vec::len).collect::<Vec<_>>()), &values, 0);
    m[..put.len()].copy_from_slice(&put);
    let get = payload(&keys, Some(&[0; 3]), &[], 0);
    m[GET_AT..GET_AT + get.len()].copy_from_slice(&get);
    let asked = vec![keys[0].clone(), b"third-absent".to_vec(), keys[2].clone()];
    let exists = payload(&asked, None, &[], 0);
    m[EXISTS_AT..EXISTS_AT + exists.len()].copy_from_slice(&exists);
    (m, [put.len(), get.len() + 32, exists.len() + 1])
}

/// The owner process: exposes its memory, writes the serialized handle
/// and its address into `dir`, then, once its stdin closes, its memory.
fn owner_main(proto: &str, dir: &Path) {
    let mid = init(proto, true);
    let (memory, _) = owned_memory();
    let exposed = Exposed::new(mid, &memory, &[GET_AT + 20], READWRITE);
    // SAFETY: a live handle; a buffer of the size asked for.
    let bytes = unsafe {
        let n = margo_bulk_get_serialize_size(exposed.h, 0) as usize;
        let mut buf = vec![0u8; n];
        assert_eq!(margo_bulk_serialize(buf.as_mut_ptr() as *mut c_void, n as u64, 0, exposed.h), hg_return::HG_SUCCESS);
        buf
    };
    let address = handles::engine(mid).unwrap().self_address().as_str().to_string();
    std::fs::write(dir.join("handle"), &bytes).unwrap();
    std::fs::write(dir.join("address.tmp"), &address).unwrap();
    std::fs::rename(dir.join("address.tmp"), dir.join("address")).unwrap();
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    std::fs::write(dir.join("memory"), exposed.bytes()).unwrap();
    drop(exposed);
    margo_finalize(mid);
}

struct Owner {
    child: Child,
    stdin: Option<ChildStdin>,
    dir: PathBuf,
    address: String,
    handle: Vec<u8>,
}

impl Owner {
    fn start(test: &str, proto: &str, dir: &Path) -> Owner {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env("YOKAN_BULK_OWNER", dir)
            .env("YOKAN_BULK_PROTO", proto)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let address = wait_for("the owner process", || std::fs::read_to_string(dir.join("address")).ok());
        let handle = std::fs::read(dir.join("handle")).unwrap();
        Owner { child, stdin, dir: dir.to_path_buf(), address, handle }
    }

    /// Ends the owner; its memory as it was then.
    fn finish(&mut self) -> Vec<u8> {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the owner process failed: {status:?}");
        std::fs::read(self.dir.join("memory")).unwrap()
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A handle owned by a third process, received in serialized form: put,
/// exists and get through it with `origin` naming its owner (and NULL: the
/// address the handle carries), results checked in the owner's memory.
fn third_process(test: &str, proto: &str, client: &Client, db: yk_database_handle_t) {
    let dir = scratch_dir("yokan-bulk-owner");
    let mut owner = Owner::start(test, proto, &dir);
    let (_, [put_size, get_size, exists_size]) = owned_memory();
    let origin = cstr(&owner.address);
    let mut h: hg_bulk_t = null_mut();
    // SAFETY: the owner's serialized handle; a writable output; every
    // handle and pointer below is live and valid.
    unsafe {
        let r = margo_bulk_deserialize(client.mid, &mut h, owner.handle.as_ptr() as *const c_void, owner.handle.len() as u64);
        assert_eq!(r, hg_return::HG_SUCCESS);
        assert_eq!(yk_put_bulk_timed(db, 0, 3, origin.as_ptr(), h, 0, put_size, 0.0), 0);
        for (k, v) in owned_keys().iter().zip(owned_values()) {
            assert_eq!(get_one(db, k), Some(v));
        }
        assert_eq!(yk_get_bulk_timed(db, 0, 3, origin.as_ptr(), h, GET_AT, get_size, true, 10_000.0), 0);
        assert_eq!(yk_exists_bulk_timed(db, 0, 3, null(), h, EXISTS_AT, exists_size, 0.0), 0);
        // An origin that does not hold the handle (the client itself), a
        // range past the handle.
        let me = cstr(handles::engine(client.mid).unwrap().self_address().as_str());
        assert_eq!(yk_put_bulk_timed(db, 0, 3, me.as_ptr(), h, 0, put_size, 0.0), code::FROM_MERCURY);
        assert_eq!(yk_put_bulk_timed(db, 0, 3, origin.as_ptr(), h, OWNED - 8, put_size, 0.0), code::INVALID_ARGS);
    }
    let memory = owner.finish();
    let values = owned_values();
    let sizes = words_at(&memory, GET_AT + 3 * W, 3);
    assert_eq!(sizes, values.iter().map(Vec::len).collect::<Vec<_>>());
    let area = GET_AT + 6 * W + owned_keys().concat().len();
    assert_eq!(&memory[area..area + 12], &values.concat()[..]);
    assert_eq!(memory[area + 12], 0xEE);
    assert_eq!(memory[EXISTS_AT + exists_size - 1], 0b101);
    // The owner is gone: its handle no longer reaches any memory.
    let start = Instant::now();
    // SAFETY: live handles.
    unsafe {
        assert_eq!(yk_put_bulk_timed(db, 0, 3, origin.as_ptr(), h, 0, put_size, 10_000.0), code::FROM_MERCURY);
        margo_bulk_free(h);
    }
    println!("{proto}: a put through the handle of a process gone failed after {:?}", start.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

fn scenario(test: &str, proto: &str) {
    if let (Some(dir), Some(p)) = (std::env::var_os("YOKAN_BULK_OWNER"), std::env::var_os("YOKAN_BULK_PROTO")) {
        owner_main(p.to_str().unwrap(), Path::new(&dir));
        return;
    }
    let _serial = MULTIPROCESS.lock();
    let daemons = Daemons::start(proto, 2);
    let client = Client::new(proto);
    let plain = client.plain(&daemons.addresses[0]);
    let start = Instant::now();
    every_operation(client.mid, plain, "plain-");
    println!("{proto}: every _bulk operation on a plain handle in {:?}", start.elapsed());

    let grouped = client.grouped(&daemons.group_file());
    let start = Instant::now();
    every_operation(client.mid, grouped, "group-");
    println!("{proto}: every _bulk operation on a group-aware handle in {:?}", start.elapsed());
    // A put spread over both shards: each key in exactly one member's shard.
    let keys: Vec<Vec<u8>> = (0..16).map(|i| format!("spread-{i:02}").into_bytes()).collect();
    let body = payload(&keys, Some(&[1; 16]), &[b"v".repeat(16)], 0);
    let b = Exposed::new(client.mid, &body, &[3 * W], READ_ONLY);
    // SAFETY: live handles.
    assert_eq!(unsafe { yk_put_bulk_timed(grouped, 0, 16, null(), b.h, 0, body.len(), 0.0) }, 0);
    drop(b);
    let engine = handles::engine(client.mid).unwrap();
    let held: Vec<Vec<Vec<u8>>> = daemons
        .addresses
        .iter()
        .map(|m| {
            mochi::yokan::dist::stored_key_list(&engine, m, SHARDED)
                .unwrap()
                .into_iter()
                .filter(|k| k.starts_with(b"spread-"))
                .collect()
        })
        .collect();
    assert!(held.iter().all(|h| !h.is_empty()), "both shards hold some keys: {held:?}");
    assert_eq!(held.iter().map(Vec::len).sum::<usize>(), 16);

    third_process(test, proto, &client, plain);
    // SAFETY: live handles, released once.
    unsafe {
        yk_database_handle_release(plain);
        yk_database_handle_release(grouped);
    }
    let mut out = std::io::stdout();
    let _ = out.flush();
}

#[test]
fn bulk_operations_sm() {
    scenario("bulk_operations_sm", "na+sm");
}

#[test]
fn bulk_operations_tcp() {
    scenario("bulk_operations_tcp", "ofi+tcp");
}
