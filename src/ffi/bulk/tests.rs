//! Tests of the bulk API, in one process: tables alone, and transfers
//! between two engines.

use super::region::{answer_code, request};
use super::*;
use crate::ffi::hg::hg_proc_t;
use crate::ffi::hg_proc::Proc;
use crate::ffi::rpc::margo_request;
use crate::rpc::{Engine, DEFAULT_PROVIDER_ID};
use std::time::Instant;

fn table_with(segments: Vec<Vec<u8>>, flags: u8) -> (BulkTable, u64, Vec<Vec<u8>>) {
    let mut segments = segments;
    let table = BulkTable::default();
    let segs = segments.iter_mut().map(|s| (s.as_mut_ptr() as usize, s.len())).collect::<Vec<_>>();
    let size = segs.iter().map(|s| s.1 as u64).sum();
    let id = table.insert(Arc::new(Region { segments: segs, size, flags, live: Mutex::new(true), owned: Vec::new() }));
    (table, id, segments)
}

fn pull(table: &BulkTable, id: u64, offset: u64, len: u64) -> Result<Vec<u8>, hg_return_t> {
    let answer = table.serve(&request(PULL, id, offset, len, &[]));
    match answer_code(answer[0]) {
        hg_return::HG_SUCCESS => Ok(answer[1..].to_vec()),
        code => Err(code),
    }
}

fn push(table: &BulkTable, id: u64, offset: u64, data: &[u8]) -> hg_return_t {
    answer_code(table.serve(&request(PUSH, id, offset, data.len() as u64, data))[0])
}

#[test]
fn pulls_and_pushes_across_scattered_segments() {
    let (table, id, segs) = table_with(vec![vec![1, 2, 3], vec![], vec![4, 5], vec![6, 7, 8, 9]], READWRITE);
    assert_eq!(pull(&table, id, 0, 9), Ok(vec![1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert_eq!(pull(&table, id, 2, 4), Ok(vec![3, 4, 5, 6]));
    assert_eq!(pull(&table, id, 9, 0), Ok(vec![]));
    assert_eq!(push(&table, id, 1, &[20, 30, 40, 50]), hg_return::HG_SUCCESS);
    assert_eq!(pull(&table, id, 0, 9), Ok(vec![1, 20, 30, 40, 50, 6, 7, 8, 9]));
    drop(segs);
}

#[test]
fn hostile_ranges_are_refused_without_touching_memory() {
    let (table, id, segs) = table_with(vec![vec![7; 10], vec![8; 6]], READWRITE);
    for (offset, len) in [(0, 17), (16, 1), (15, 2), (u64::MAX, 2), (1, u64::MAX), (u64::MAX, u64::MAX), (17, 0)] {
        assert_eq!(pull(&table, id, offset, len), Err(hg_return::HG_INVALID_ARG), "pull {offset}+{len}");
    }
    assert_eq!(push(&table, id, 14, &[0; 3]), hg_return::HG_INVALID_ARG);
    assert_eq!(push(&table, id, u64::MAX - 1, &[0; 3]), hg_return::HG_INVALID_ARG);
    assert!(segs[0].iter().all(|b| *b == 7) && segs[1].iter().all(|b| *b == 8), "a refused push wrote nothing");
    // A request larger than the owner serves in one piece, within a big enough handle.
    let (big, big_id, _big) = table_with(vec![vec![0; MAX_SERVED as usize + 1]], READ_ONLY);
    assert_eq!(pull(&big, big_id, 0, MAX_SERVED + 1), Err(hg_return::HG_PROTOCOL_ERROR));
    assert_eq!(pull(&big, big_id, 1, MAX_SERVED).map(|v| v.len()), Ok(MAX_SERVED as usize));
}

#[test]
fn flags_limit_the_operations() {
    let (ro, ro_id, _a) = table_with(vec![vec![1; 8]], READ_ONLY);
    assert_eq!(pull(&ro, ro_id, 0, 8), Ok(vec![1; 8]));
    assert_eq!(push(&ro, ro_id, 0, &[9]), hg_return::HG_PERMISSION, "a read-only handle cannot be pushed into");
    let (wo, wo_id, b) = table_with(vec![vec![1; 8]], WRITE_ONLY);
    assert_eq!(pull(&wo, wo_id, 0, 1), Err(hg_return::HG_PERMISSION), "a write-only handle cannot be pulled from");
    assert_eq!(push(&wo, wo_id, 7, &[9]), hg_return::HG_SUCCESS);
    assert_eq!(b[0][7], 9);
}

#[test]
fn unknown_or_freed_ids_and_malformed_requests_fail_cleanly() {
    let (table, id, _segs) = table_with(vec![vec![1; 8]], READWRITE);
    assert_eq!(pull(&table, id ^ 1, 0, 1), Err(hg_return::HG_NOENTRY));
    table.remove(id);
    assert_eq!(pull(&table, id, 0, 1), Err(hg_return::HG_NOENTRY), "a freed handle's id is gone");
    assert_eq!(push(&table, id, 0, &[1]), hg_return::HG_NOENTRY);
    let (table, id, _segs) = table_with(vec![vec![1; 8]], READWRITE);
    assert_eq!(answer_code(table.serve(&[])[0]), hg_return::HG_PROTOCOL_ERROR);
    assert_eq!(answer_code(table.serve(&request(PULL, id, 0, 1, &[])[..20])[0]), hg_return::HG_PROTOCOL_ERROR);
    assert_eq!(answer_code(table.serve(&request(7, id, 0, 1, &[])[..])[0]), hg_return::HG_PROTOCOL_ERROR);
    // A push whose bytes do not match its length.
    assert_eq!(answer_code(table.serve(&request(PUSH, id, 0, 4, &[1, 2])[..])[0]), hg_return::HG_PROTOCOL_ERROR);
    // A pull carrying bytes.
    assert_eq!(answer_code(table.serve(&request(PULL, id, 0, 2, &[1, 2])[..])[0]), hg_return::HG_PROTOCOL_ERROR);
}

#[test]
fn a_region_killed_while_held_refuses_copies() {
    let (table, id, _segs) = table_with(vec![vec![1; 8]], READWRITE);
    let region = table.get(id).unwrap();
    table.remove(id);
    let mut out = [0u8; 4];
    assert_eq!(region.read(0, &mut out), Err(hg_return::HG_NOENTRY));
    assert_eq!(region.write(0, &out), Err(hg_return::HG_NOENTRY));
}

unsafe extern "C" fn one_bulk(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the tests pass an hg_bulk_t.
    unsafe { hg_proc_hg_bulk_t(proc, data) }
}

fn remote(owner: &str, id: u64, size: u64, flags: u8) -> hg_bulk_t {
    let b = Bulk { refs: AtomicUsize::new(1), owner: owner.into(), id, size, flags, segment_count: 2, local: None };
    handles::boxed_into_c::<hg_bulk>(b)
}

#[test]
fn bulk_handles_round_trip_through_procs_and_bad_bytes_fail() {
    let mut src = remote("na+sm://1-2", 0xABCD, 3 << 20, READ_ONLY);
    let mut enc = Proc::encoder();
    // SAFETY: the callback matches an hg_bulk_t, and src is valid.
    unsafe { super::super::hg_proc::run(one_bulk, &mut enc, std::ptr::addr_of_mut!(src) as *mut c_void) }.unwrap();
    let bytes = enc.into_payload();
    let mut dst: hg_bulk_t = std::ptr::null_mut();
    let mut dec = Proc::decoder(Arc::from(&bytes[..]));
    // SAFETY: as above.
    unsafe { super::super::hg_proc::run(one_bulk, &mut dec, std::ptr::addr_of_mut!(dst) as *mut c_void) }.unwrap();
    // SAFETY: the decode made a live handle.
    let b = unsafe { bulk_ref(dst) }.unwrap();
    assert_eq!((b.owner.as_str(), b.id, b.size, b.flags, b.segment_count), ("na+sm://1-2", 0xABCD, 3 << 20, READ_ONLY, 2));
    assert!(b.local.is_none());
    let mut free = Proc::freer();
    // SAFETY: dst holds what the decode made.
    unsafe { super::super::hg_proc::run(one_bulk, &mut free, std::ptr::addr_of_mut!(dst) as *mut c_void) }.unwrap();
    assert!(dst.is_null());
    // Every prefix fails and leaves no handle behind.
    for cut in 0..bytes.len() {
        let mut dst: hg_bulk_t = std::ptr::null_mut();
        let mut dec = Proc::decoder(Arc::from(&bytes[..cut]));
        // SAFETY: as above.
        let r = unsafe { super::super::hg_proc::run(one_bulk, &mut dec, std::ptr::addr_of_mut!(dst) as *mut c_void) };
        assert_eq!(r, Err(hg_return::HG_PROTOCOL_ERROR), "prefix of {cut} bytes");
        assert!(dst.is_null(), "prefix of {cut} bytes left a handle");
    }
    // Bad flags are refused.
    let mut bad = bytes.clone();
    let at = bad.len() - 5;
    bad[at] = 4;
    let mut dec = Proc::decoder(Arc::from(&bad[..]));
    // SAFETY: as above.
    let r = unsafe { super::super::hg_proc::run(one_bulk, &mut dec, std::ptr::addr_of_mut!(dst) as *mut c_void) };
    assert_eq!(r, Err(hg_return::HG_PROTOCOL_ERROR));
    // HG_BULK_NULL round-trips as NULL.
    let mut null: hg_bulk_t = std::ptr::null_mut();
    let mut enc = Proc::encoder();
    // SAFETY: as above.
    unsafe { super::super::hg_proc::run(one_bulk, &mut enc, std::ptr::addr_of_mut!(null) as *mut c_void) }.unwrap();
    assert_eq!(enc.into_payload(), 0u64.to_le_bytes());
    // SAFETY: src is live and ours.
    assert_eq!(unsafe { margo_bulk_free(src) }, hg_return::HG_SUCCESS);
}

#[test]
fn reference_counts_and_null_handles() {
    let h = remote("na+sm://1-2", 1, 10, READWRITE);
    // SAFETY: h is live until its last free below; NULL is allowed.
    unsafe {
        assert_eq!(margo_bulk_get_size(h), 10);
        assert_eq!(HG_Bulk_get_size(std::ptr::null_mut()), 0);
        assert_eq!(margo_bulk_ref_incr(h), hg_return::HG_SUCCESS);
        assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
        assert_eq!(margo_bulk_get_segment_count(h), 2, "still referenced");
        let r = margo_bulk_transfer(std::ptr::null_mut(), PULL, std::ptr::null_mut(), h, 0, h, 0, 1);
        assert_eq!(r, hg_return::HG_INVALID_ARG, "a NULL instance");
        assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
        assert_eq!(margo_bulk_free(std::ptr::null_mut()), hg_return::HG_SUCCESS);
        assert_eq!(margo_bulk_ref_incr(std::ptr::null_mut()), hg_return::HG_INVALID_ARG);
    }
}

/// Encodes then decodes `h` as a proc would: the handle another process gets.
fn through_procs(mut h: hg_bulk_t) -> hg_bulk_t {
    let mut enc = Proc::encoder();
    // SAFETY: the callback matches an hg_bulk_t, and h is live.
    unsafe { super::super::hg_proc::run(one_bulk, &mut enc, std::ptr::addr_of_mut!(h) as *mut c_void) }.unwrap();
    let mut out: hg_bulk_t = std::ptr::null_mut();
    let mut dec = Proc::decoder(Arc::from(enc.into_payload()));
    // SAFETY: as above.
    unsafe { super::super::hg_proc::run(one_bulk, &mut dec, std::ptr::addr_of_mut!(out) as *mut c_void) }.unwrap();
    out
}

fn instance() -> margo_instance_id {
    let e = Engine::new("na+sm", crate::rpc::Mode::Server, "", &crate::rpc::InitOverrides::default()).unwrap();
    handles::instance_into_c(e)
}

fn create(mid: margo_instance_id, segs: &mut [Vec<u8>], flags: u8) -> hg_bulk_t {
    let mut ptrs: Vec<*mut c_void> = segs.iter_mut().map(|s| s.as_mut_ptr() as *mut c_void).collect();
    let sizes: Vec<hg_size_t> = segs.iter().map(|s| s.len() as hg_size_t).collect();
    let mut h: hg_bulk_t = std::ptr::null_mut();
    // SAFETY: the segments outlive the handle (each test frees it first).
    let r = unsafe { margo_bulk_create(mid, segs.len() as u32, ptrs.as_mut_ptr(), sizes.as_ptr(), flags, &mut h) };
    assert_eq!(r, hg_return::HG_SUCCESS);
    h
}

#[test]
fn transfers_between_two_engines_in_pieces_and_late_ones_fail() {
    let (a, b) = (instance(), instance());
    let a_addr = handles::addr_into_c(handles::engine(a).unwrap().self_address());
    // A exposes 9 MiB in two segments (nine pieces of 1 MiB).
    let total = 9 << 20;
    let pattern = |i: usize| (i * 13 + (i >> 10)) as u8;
    let mut src = vec![(0..(2 << 20) + 3).map(pattern).collect::<Vec<u8>>()];
    src.push((src[0].len()..total).map(pattern).collect());
    let a_src = create(a, &mut src, READ_ONLY);
    let mut sink = vec![vec![0u8; total]];
    let a_sink = create(a, &mut sink, WRITE_ONLY);
    // B holds what A sent it, and its own memory.
    let (b_src, b_sink) = (through_procs(a_src), through_procs(a_sink));
    let mut local = vec![vec![0u8; 5 << 20], vec![0u8; total - (5 << 20)]];
    let b_local = create(b, &mut local, READWRITE);
    // SAFETY: every handle is live until freed below; a_addr is live.
    unsafe {
        let r = margo_bulk_transfer(b, PULL, a_addr, b_src, 0, b_local, 0, total);
        assert_eq!(r, hg_return::HG_SUCCESS);
        let got: Vec<u8> = local.concat();
        assert!(got.iter().enumerate().all(|(i, c)| *c == pattern(i)), "pulled bytes differ");
        // Push back at an offset, and with the address taken from the handle.
        let r = margo_bulk_transfer(b, PUSH, std::ptr::null_mut(), b_sink, 100, b_local, 7, total - 100);
        assert_eq!(r, hg_return::HG_SUCCESS);
        assert!(sink[0][..100].iter().all(|c| *c == 0));
        assert!(sink[0][100..].iter().enumerate().all(|(i, c)| *c == pattern(i + 7)), "pushed bytes differ");
        // What must fail, before any request and at the owner.
        assert_eq!(margo_bulk_transfer(b, PUSH, a_addr, b_src, 0, b_local, 0, 1), hg_return::HG_PERMISSION);
        assert_eq!(margo_bulk_transfer(b, PULL, a_addr, b_src, 1, b_local, 0, total), hg_return::HG_INVALID_ARG);
        assert_eq!(margo_bulk_transfer(b, 2, a_addr, b_src, 0, b_local, 0, 1), hg_return::HG_INVALID_ARG);
        let engine = handles::engine(b).unwrap();
        let target = handles::engine(a).unwrap().self_address();
        let forged = request(PULL, bulk_ref(b_src).unwrap().id, total as u64 - 1, 2, &[]);
        let answer = engine.call(&target, BULK_RPC, DEFAULT_PROVIDER_ID, forged, std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(answer_code(answer[0]), hg_return::HG_INVALID_ARG, "the owner checks a forged range");
        // A frees its handle; B's copy of it no longer transfers.
        assert_eq!(margo_bulk_free(a_src), hg_return::HG_SUCCESS);
        assert_eq!(margo_bulk_transfer(b, PULL, a_addr, b_src, 0, b_local, 0, 1), hg_return::HG_NOENTRY);
        for h in [a_sink, b_src, b_sink, b_local] {
            assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
        }
        handles::addr_free(a_addr);
    }
    handles::instance_finalize(a).unwrap();
    handles::instance_finalize(b).unwrap();
}

/// Bytes that differ from one position to the next, and from one seed to another.
fn pattern(i: usize, seed: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 11) ^ seed) as u8
}

/// `total` bytes of `pattern(_, seed)` cut into segments of these sizes (the last takes the rest).
fn patterned(total: usize, cuts: &[usize], seed: usize) -> Vec<Vec<u8>> {
    let mut segs = Vec::new();
    let mut at = 0;
    for &c in cuts {
        segs.push((at..at + c).map(|i| pattern(i, seed)).collect());
        at += c;
    }
    segs.push((at..total).map(|i| pattern(i, seed)).collect());
    segs
}

fn itransfer(mid: margo_instance_id, op: hg_bulk_op_t, origin: hg_bulk_t, local: hg_bulk_t, size: usize) -> margo_request {
    let mut req: margo_request = std::ptr::null_mut();
    // SAFETY: live handles; req is writable.
    let r = unsafe { margo_bulk_itransfer(mid, op, std::ptr::null_mut(), origin, 0, local, 0, size, &mut req) };
    assert_eq!(r, hg_return::HG_SUCCESS);
    assert!(!req.is_null());
    req
}

fn test_flag(req: margo_request) -> bool {
    let mut flag = -1;
    // SAFETY: req is live, flag writable.
    assert_eq!(unsafe { super::super::rpc::margo_test(req, &mut flag) }, 0);
    assert!(flag == 0 || flag == 1);
    flag == 1
}

fn wait(req: margo_request) -> hg_return_t {
    // SAFETY: req is live and not used afterwards.
    unsafe { super::super::rpc::margo_wait(req) }
}

#[test]
fn itransfers_complete_through_margo_wait_and_margo_test() {
    let (a, b) = (instance(), instance());
    // A exposes 40 MiB in three segments: 40 pieces of 1 MiB, more than two windows of 16.
    let total = 40 << 20;
    let mut src = patterned(total, &[(7 << 20) + 5, 1], 3);
    let a_src = create(a, &mut src, READ_ONLY);
    let b_src = through_procs(a_src);
    let mut local = vec![vec![0u8; 13 << 20], vec![0u8; total - (13 << 20)]];
    let b_local = create(b, &mut local, READWRITE);

    // margo_wait alone (the pieces past the first window are sent as the earlier ones are settled).
    let req = itransfer(b, PULL, b_src, b_local, total);
    assert_eq!(wait(req), hg_return::HG_SUCCESS);
    assert!(local.concat().iter().enumerate().all(|(i, c)| *c == pattern(i, 3)), "pulled bytes differ");

    // margo_test alone, until it says done (it settles and sends too); then margo_wait returns at once.
    for s in &mut local {
        s.fill(0);
    }
    let req = itransfer(b, PULL, b_src, b_local, total);
    let give_up = Instant::now() + std::time::Duration::from_secs(60);
    let mut polls = 0u64;
    while !test_flag(req) {
        polls += 1;
        assert!(Instant::now() < give_up, "margo_test never reported the transfer done ({polls} polls)");
    }
    assert!(test_flag(req), "done stays done");
    assert_eq!(wait(req), hg_return::HG_SUCCESS);
    assert!(local.concat().iter().enumerate().all(|(i, c)| *c == pattern(i, 3)), "bytes differ after margo_test");

    // A push through an itransfer, waited for.
    let mut sink = vec![vec![0u8; total]];
    let a_sink = create(a, &mut sink, WRITE_ONLY);
    let b_sink = through_procs(a_sink);
    let req = itransfer(b, PUSH, b_sink, b_local, total);
    assert_eq!(wait(req), hg_return::HG_SUCCESS);
    assert!(sink[0] == local.concat(), "pushed bytes differ");

    // Between two handles of one engine: done at once.
    let mut copy = vec![vec![0u8; 1000]];
    let b_copy = create(b, &mut copy, WRITE_ONLY);
    let req = itransfer(b, PULL, b_local, b_copy, 1000);
    assert!(test_flag(req), "a local copy is over when itransfer returns");
    assert_eq!(wait(req), hg_return::HG_SUCCESS);
    assert!(copy[0].iter().enumerate().all(|(i, c)| *c == pattern(i, 3)));

    // Bad arguments make no request; a failure at the owner comes out of margo_wait.
    let mut req: margo_request = std::ptr::null_mut();
    // SAFETY: live handles; NULL is allowed for the request pointer (refused).
    unsafe {
        let r = margo_bulk_itransfer(b, PUSH, std::ptr::null_mut(), b_src, 0, b_local, 0, 1, &mut req);
        assert_eq!(r, hg_return::HG_PERMISSION);
        assert!(req.is_null());
        let r = margo_bulk_itransfer(b, PULL, std::ptr::null_mut(), b_src, 1, b_local, 0, total, &mut req);
        assert_eq!(r, hg_return::HG_INVALID_ARG);
        let r = margo_bulk_itransfer(b, PULL, std::ptr::null_mut(), b_src, 0, b_local, 0, 1, std::ptr::null_mut());
        assert_eq!(r, hg_return::HG_INVALID_ARG);
        assert_eq!(wait(std::ptr::null_mut()), hg_return::HG_INVALID_ARG);
        let mut flag = 0;
        assert_eq!(super::super::rpc::margo_test(std::ptr::null_mut(), &mut flag), hg_return::HG_INVALID_ARG as i32);
    }
    for s in &mut local {
        s.fill(0);
    }
    let req = itransfer(b, PULL, b_src, b_local, total);
    // The local handle is freed while pieces may still land (the transfer
    // moves on its own meanwhile): nothing is written after the free.
    // SAFETY: b_local is live; the request holds the region, not the handle.
    assert_eq!(unsafe { margo_bulk_free(b_local) }, hg_return::HG_SUCCESS);
    let at_free = local.clone();
    let code = wait(req);
    assert!(matches!(code, hg_return::HG_NOENTRY | hg_return::HG_SUCCESS), "{code:?}");
    assert!(local == at_free, "bytes written into memory after its handle was freed");
    // SAFETY: A frees its handle; B's copy of it then fails at the owner.
    assert_eq!(unsafe { margo_bulk_free(a_src) }, hg_return::HG_SUCCESS);
    let req = itransfer(b, PULL, b_src, b_copy, 1);
    assert_eq!(wait(req), hg_return::HG_NOENTRY);
    for h in [b_src, a_sink, b_sink, b_copy] {
        // SAFETY: live until here.
        assert_eq!(unsafe { margo_bulk_free(h) }, hg_return::HG_SUCCESS);
    }
    handles::instance_finalize(a).unwrap();
    handles::instance_finalize(b).unwrap();
}

#[test]
fn parallel_transfers_move_multi_mib_buffers_across_segments() {
    let (a, b) = (instance(), instance());
    let total = (11 << 20) + 333;
    let mut src = patterned(total, &[1 << 20, (3 << 20) + 7], 5);
    let a_src = create(a, &mut src, READWRITE);
    let b_src = through_procs(a_src);
    let mut local = vec![vec![0u8; 2 << 20], vec![], vec![0u8; total - (2 << 20)]];
    let b_local = create(b, &mut local, READWRITE);
    // Chunks smaller than a piece (many in flight), of an odd size, and larger than a piece.
    for chunk in [256 << 10, (1 << 20) + 12345, 10 << 20] {
        for s in &mut local {
            s.fill(0);
        }
        // SAFETY: live handles.
        let r = unsafe { margo_bulk_parallel_transfer(b, PULL, std::ptr::null_mut(), b_src, 0, b_local, 0, total, chunk) };
        assert_eq!(r, hg_return::HG_SUCCESS, "chunk {chunk}");
        assert!(local.concat().iter().enumerate().all(|(i, c)| *c == pattern(i, 5)), "chunk {chunk}: pulled bytes differ");
    }
    // A push at offsets: local bytes [100, total) into the origin at 50.
    for s in &mut local {
        for c in s.iter_mut() {
            *c = !*c;
        }
    }
    // SAFETY: live handles.
    let r = unsafe { margo_bulk_parallel_transfer(b, PUSH, std::ptr::null_mut(), b_src, 50, b_local, 100, total - 100, 1 << 20) };
    assert_eq!(r, hg_return::HG_SUCCESS);
    let got = src.concat();
    assert!(got[..50].iter().enumerate().all(|(i, c)| *c == pattern(i, 5)), "bytes before the offset untouched");
    assert!(got[50..total - 50].iter().enumerate().all(|(i, c)| *c == !pattern(i + 100, 5)), "pushed bytes differ");
    assert!(got[total - 50..].iter().enumerate().all(|(i, c)| *c == pattern(i + total - 50, 5)), "bytes after untouched");
    // SAFETY: live handles.
    unsafe {
        let r = margo_bulk_parallel_transfer(b, PULL, std::ptr::null_mut(), b_src, 0, b_local, 0, total, 0);
        assert_eq!(r, hg_return::HG_INVALID_ARG, "a chunk size of 0");
        let r = margo_bulk_parallel_transfer(b, PULL, std::ptr::null_mut(), b_src, 1, b_local, 0, total, 1 << 20);
        assert_eq!(r, hg_return::HG_INVALID_ARG, "a range past the origin");
        assert_eq!(margo_bulk_free(a_src), hg_return::HG_SUCCESS);
        let r = margo_bulk_parallel_transfer(b, PULL, std::ptr::null_mut(), b_src, 0, b_local, 0, total, 1 << 20);
        assert_eq!(r, hg_return::HG_NOENTRY, "the origin freed its handle");
        for h in [b_src, b_local] {
            assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
        }
    }
    handles::instance_finalize(a).unwrap();
    handles::instance_finalize(b).unwrap();
}

fn access(h: hg_bulk_t, offset: u64, size: u64, max: u32) -> Result<Vec<(usize, u64)>, hg_return_t> {
    let mut ptrs = vec![std::ptr::null_mut::<c_void>(); max as usize];
    let mut sizes = vec![0 as hg_size_t; max as usize];
    let mut count = u32::MAX;
    // SAFETY: the arrays hold max entries; h is live or NULL.
    let r = unsafe { margo_bulk_access(h, offset, size, READWRITE, max, ptrs.as_mut_ptr(), sizes.as_mut_ptr(), &mut count) };
    if r != hg_return::HG_SUCCESS {
        return Err(r);
    }
    Ok(ptrs.iter().zip(&sizes).take(count as usize).map(|(p, s)| (*p as usize, *s)).collect())
}

#[test]
fn access_gives_the_segments_of_a_range() {
    let a = instance();
    let mut segs = vec![vec![1u8; 3], vec![], vec![2u8; 5], vec![3u8; 4]];
    let base: Vec<usize> = segs.iter().map(|s| s.as_ptr() as usize).collect();
    let h = create(a, &mut segs, READ_ONLY);
    assert_eq!(
        access(h, 0, 12, 8),
        Ok(vec![(base[0], 3), (base[2], 5), (base[3], 4)]),
        "the whole handle, empty segment skipped"
    );
    assert_eq!(access(h, 2, 8, 8), Ok(vec![(base[0] + 2, 1), (base[2], 5), (base[3], 2)]), "a range inside");
    assert_eq!(access(h, 4, 3, 8), Ok(vec![(base[2] + 1, 3)]), "within one segment");
    assert_eq!(access(h, 2, 8, 2), Ok(vec![(base[0] + 2, 1), (base[2], 5)]), "at most max_count segments");
    assert_eq!(access(h, 3, 0, 8), Ok(vec![]), "an empty range");
    assert_eq!(access(h, 12, 0, 8), Ok(vec![]), "an empty range at the end");
    assert_eq!(access(h, 5, 8, 8), Err(hg_return::HG_INVALID_ARG), "past the end");
    assert_eq!(access(h, u64::MAX, 2, 8), Err(hg_return::HG_INVALID_ARG), "an offset that wraps");
    assert_eq!(access(std::ptr::null_mut(), 0, 1, 8), Err(hg_return::HG_INVALID_ARG), "a NULL handle");
    let remote = through_procs(h);
    assert_eq!(access(remote, 0, 1, 8), Err(hg_return::HG_INVALID_ARG), "a handle naming another process's memory");
    // Counting only (NULL arrays), and Mercury's name.
    let mut count = 0u32;
    // SAFETY: h is live; NULL arrays are allowed.
    let r = unsafe { HG_Bulk_access(h, 1, 10, READ_ONLY, 8, std::ptr::null_mut(), std::ptr::null_mut(), &mut count) };
    assert_eq!((r, count), (hg_return::HG_SUCCESS, 3));
    // Memory the library allocated: access is how the caller reaches it.
    let mut owned: hg_bulk_t = std::ptr::null_mut();
    let sizes: [hg_size_t; 2] = [100, 28];
    // SAFETY: NULL pointers ask the library to allocate.
    let r = unsafe { margo_bulk_create(a, 2, std::ptr::null_mut(), sizes.as_ptr(), READWRITE, &mut owned) };
    assert_eq!(r, hg_return::HG_SUCCESS);
    let got = access(owned, 0, 128, 4).unwrap();
    assert_eq!(got.iter().map(|s| s.1).collect::<Vec<_>>(), vec![100, 28]);
    for (p, n) in &got {
        // SAFETY: the library's zeroed segment of n bytes, live until the handle is freed.
        let seg = unsafe { std::slice::from_raw_parts_mut(*p as *mut u8, *n as usize) };
        assert!(seg.iter().all(|c| *c == 0));
        seg.fill(9);
    }
    // What was written through the pointers is what the handle holds.
    let mut out = vec![vec![0u8; 128]];
    let sink = create(a, &mut out, WRITE_ONLY);
    // SAFETY: live handles.
    assert_eq!(unsafe { margo_bulk_transfer(a, PULL, std::ptr::null_mut(), owned, 0, sink, 0, 128) }, hg_return::HG_SUCCESS);
    assert!(out[0].iter().all(|c| *c == 9));
    for x in [h, remote, owned, sink] {
        // SAFETY: live until here.
        assert_eq!(unsafe { margo_bulk_free(x) }, hg_return::HG_SUCCESS);
    }
    handles::instance_finalize(a).unwrap();
}

fn serialize(h: hg_bulk_t) -> Vec<u8> {
    // SAFETY: h is live.
    let n = unsafe { margo_bulk_get_serialize_size(h, 0) } as usize;
    assert!(n > 0);
    let mut buf = vec![0u8; n];
    // SAFETY: buf holds n bytes.
    let r = unsafe { margo_bulk_serialize(buf.as_mut_ptr() as *mut c_void, n as hg_size_t, 0, h) };
    assert_eq!(r, hg_return::HG_SUCCESS);
    buf
}

fn deserialize_in(mid: margo_instance_id, bytes: &[u8]) -> Result<hg_bulk_t, hg_return_t> {
    let mut h: hg_bulk_t = 1usize as hg_bulk_t;
    // SAFETY: bytes is readable for its length; h is writable.
    let r = unsafe { margo_bulk_deserialize(mid, &mut h, bytes.as_ptr() as *const c_void, bytes.len() as hg_size_t) };
    if r == hg_return::HG_SUCCESS {
        assert!(!h.is_null());
        Ok(h)
    } else {
        assert!(h.is_null(), "a failed deserialize leaves HG_BULK_NULL");
        Err(r)
    }
}

#[test]
fn serialized_handles_round_trip_and_transfer_from_another_engine() {
    let (a, b) = (instance(), instance());
    let total = (6 << 20) + 1;
    let mut src = patterned(total, &[1 << 20], 9);
    let a_src = create(a, &mut src, READ_ONLY);
    let bytes = serialize(a_src);
    // The same bytes as a proc writes for the handle.
    let mut enc = Proc::encoder();
    // SAFETY: a_src is live.
    encode_bulk(&mut enc, unsafe { bulk_ref(a_src) }).unwrap();
    assert_eq!(enc.into_payload(), bytes);
    // Too small a buffer: HG_OVERFLOW, nothing written.
    let mut small = vec![0xEEu8; bytes.len() - 1];
    // SAFETY: small holds its length.
    let r = unsafe { margo_bulk_serialize(small.as_mut_ptr() as *mut c_void, small.len() as hg_size_t, 0, a_src) };
    assert_eq!(r, hg_return::HG_OVERFLOW);
    assert!(small.iter().all(|c| *c == 0xEE));
    // A bigger buffer holds the form then whatever followed; deserialize ignores the rest.
    let mut big = vec![0xAAu8; bytes.len() + 64];
    // SAFETY: big holds its length; Mercury's name.
    let r = unsafe { HG_Bulk_serialize(big.as_mut_ptr() as *mut c_void, big.len() as hg_size_t, 0, a_src) };
    assert_eq!(r, hg_return::HG_SUCCESS);
    assert_eq!(&big[..bytes.len()], &bytes[..]);
    // SAFETY: a_src is live.
    assert_eq!(unsafe { HG_Bulk_get_serialize_size(a_src, 0) } as usize, bytes.len());

    // Engine B makes a handle from the bytes and pulls through it (address from the handle).
    let b_src = deserialize_in(b, &big).unwrap();
    // SAFETY: b_src is live.
    unsafe {
        assert_eq!(margo_bulk_get_size(b_src), total as u64);
        assert_eq!(margo_bulk_get_segment_count(b_src), 2);
    }
    let mut local = vec![vec![0u8; total]];
    let b_local = create(b, &mut local, WRITE_ONLY);
    let req = itransfer(b, PULL, b_src, b_local, total);
    assert_eq!(wait(req), hg_return::HG_SUCCESS);
    assert!(local[0].iter().enumerate().all(|(i, c)| *c == pattern(i, 9)), "pulled bytes differ");
    // The flags travel: the read-only handle refuses a push.
    // SAFETY: live handles.
    let r = unsafe { margo_bulk_transfer(b, PUSH, std::ptr::null_mut(), b_src, 0, b_local, 0, 1) };
    assert_eq!(r, hg_return::HG_PERMISSION);
    // Re-serializing the deserialized handle gives the same bytes; Mercury's name (no class) deserializes too.
    assert_eq!(serialize(b_src), bytes);
    let mut again: hg_bulk_t = std::ptr::null_mut();
    // SAFETY: bytes readable; again writable; the class is unused.
    let r = unsafe {
        HG_Bulk_deserialize(std::ptr::null_mut(), &mut again, bytes.as_ptr() as *const c_void, bytes.len() as hg_size_t)
    };
    assert_eq!(r, hg_return::HG_SUCCESS);
    // Once A frees its handle, the deserialized copies no longer transfer.
    // SAFETY: live handles.
    unsafe {
        assert_eq!(margo_bulk_free(a_src), hg_return::HG_SUCCESS);
        assert_eq!(margo_bulk_transfer(b, PULL, std::ptr::null_mut(), again, 0, b_local, 0, 1), hg_return::HG_NOENTRY);
        for h in [b_src, again, b_local] {
            assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
        }
    }
    handles::instance_finalize(a).unwrap();
    handles::instance_finalize(b).unwrap();
}

#[test]
fn hostile_serialized_bytes_are_refused() {
    let a = instance();
    let h = remote("na+sm://123-4", 77, 1 << 30, READWRITE);
    let bytes = serialize(h);
    // Truncated: every prefix.
    for cut in 0..bytes.len() {
        assert_eq!(deserialize_in(a, &bytes[..cut]), Err(hg_return::HG_OVERFLOW), "prefix of {cut} bytes");
    }
    // Huge lengths in the address field: refused before any allocation.
    for n in [u64::MAX, u64::MAX - 1, 1 << 40, MAX_SERIALIZED as u64, bytes.len() as u64] {
        let mut bad = bytes.clone();
        bad[8..16].copy_from_slice(&n.to_le_bytes());
        assert_eq!(deserialize_in(a, &bad), Err(hg_return::HG_OVERFLOW), "address length {n}");
    }
    // A buffer claimed far larger than the form: only the form is read.
    let mut padded = bytes.clone();
    padded.resize(3 * MAX_SERIALIZED, 0);
    let ok = deserialize_in(a, &padded).unwrap();
    // SAFETY: ok is live and ours.
    assert_eq!(unsafe { margo_bulk_free(ok) }, hg_return::HG_SUCCESS);
    // Malformed fields.
    let flags_at = bytes.len() - 5;
    for (what, at, value) in
        [("marker 2", 0, 2u8), ("flags 0", flags_at, 0), ("flags 4", flags_at, 4), ("flags 0xff", flags_at, 0xff)]
    {
        let mut bad = bytes.clone();
        bad[at] = value;
        assert_eq!(deserialize_in(a, &bad), Err(hg_return::HG_PROTOCOL_ERROR), "{what}");
    }
    let mut not_utf8 = bytes.clone();
    not_utf8[16] = 0xC3;
    not_utf8[17] = 0x28;
    assert_eq!(deserialize_in(a, &not_utf8), Err(hg_return::HG_PROTOCOL_ERROR), "address not UTF-8");
    let mut nul = bytes.clone();
    nul[18] = 0;
    assert_eq!(deserialize_in(a, &nul), Err(hg_return::HG_PROTOCOL_ERROR), "a NUL in the address");
    // Marker 1, a NULL address (length field 0), id, size, flags 1, count.
    let mut null_addr = [1u64.to_le_bytes(), 0u64.to_le_bytes(), 7u64.to_le_bytes(), 8u64.to_le_bytes()].concat();
    null_addr.push(READ_ONLY);
    null_addr.extend_from_slice(&1u32.to_le_bytes());
    assert_eq!(deserialize_in(a, &null_addr), Err(hg_return::HG_PROTOCOL_ERROR), "a NULL address");
    assert_eq!(deserialize_in(a, &[0u8; 8]), Err(hg_return::HG_INVALID_ARG), "the form of HG_BULK_NULL");
    // Random bytes, and random changes to the form: never a crash; any handle made is well-formed.
    // (Every truncated, huge-length and malformed case above went through the C entry point.)
    let mut rng = crate::rng::Rng::new(0x5EED);
    let mut made = 0;
    for round in 0..20_000 {
        let mut b = if round % 2 == 0 {
            let n = (rng.next_u64() % 96) as usize;
            (0..n).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>()
        } else {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.next_u64() % 3 {
                let i = (rng.next_u64() as usize) % b.len();
                b[i] = rng.next_u64() as u8;
            }
            b
        };
        if round % 7 == 0 {
            b.truncate((rng.next_u64() as usize) % (b.len() + 1));
        }
        // The decode margo_bulk_deserialize runs, without its log line per refusal.
        if let Ok(x) = handle_from_bytes(&b) {
            // SAFETY: x is live and ours.
            let d = unsafe { bulk_ref(x) }.unwrap();
            assert!((1..=READWRITE).contains(&d.flags) && d.local.is_none());
            // SAFETY: as above.
            assert_eq!(unsafe { margo_bulk_free(x) }, hg_return::HG_SUCCESS);
            made += 1;
        }
    }
    assert!(made > 0, "some changes (to the id, size, count) still make a handle");
    // NULL pointers and instances.
    let mut out: hg_bulk_t = std::ptr::null_mut();
    // SAFETY: every pointer is NULL or valid.
    unsafe {
        let p = bytes.as_ptr() as *const c_void;
        let n = bytes.len() as hg_size_t;
        assert_eq!(margo_bulk_deserialize(a, std::ptr::null_mut(), p, n), hg_return::HG_INVALID_ARG);
        assert_eq!(margo_bulk_deserialize(a, &mut out, std::ptr::null(), n), hg_return::HG_INVALID_ARG);
        assert_eq!(margo_bulk_deserialize(std::ptr::null_mut(), &mut out, p, n), hg_return::HG_INVALID_ARG);
        assert_eq!(margo_bulk_deserialize(a, &mut out, std::ptr::null(), 0), hg_return::HG_OVERFLOW);
        assert!(out.is_null());
        let mut buf = [0u8; 64];
        let r = margo_bulk_serialize(buf.as_mut_ptr() as *mut c_void, 64, 0, std::ptr::null_mut());
        assert_eq!(r, hg_return::HG_INVALID_ARG);
        assert_eq!(margo_bulk_serialize(std::ptr::null_mut(), 64, 0, h), hg_return::HG_INVALID_ARG);
        assert_eq!(margo_bulk_get_serialize_size(std::ptr::null_mut(), 0), 0);
        assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
    }
    handles::instance_finalize(a).unwrap();
}

#[test]
fn an_itransfer_finishes_while_nobody_waits_for_it() {
    let (a, b) = (instance(), instance());
    // 40 MiB: more than two windows of 16 pieces, so the pieces after the
    // first window can only be sent by the transfer itself.
    let total = 40 << 20;
    let mut src = patterned(total, &[(5 << 20) + 3], 9);
    let a_src = create(a, &mut src, READ_ONLY);
    let b_src = through_procs(a_src);
    let mut local = vec![vec![0u8; total]];
    let b_local = create(b, &mut local, WRITE_ONLY);
    // SAFETY: live instance and handles.
    let plan = unsafe { super::transfer::plan("test", b, PULL, std::ptr::null_mut(), b_src, 0, b_local, 0, total) }.unwrap();
    let pending = PendingTransfer::start(plan, PIECE, Instant::now() + std::time::Duration::from_secs(60));
    // Neither margo_wait nor margo_test: only look (a test may nap; the library does not).
    let give_up = Instant::now() + std::time::Duration::from_secs(60);
    while !pending.is_done() {
        assert!(Instant::now() < give_up, "the transfer did not finish on its own");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(pending.wait("test"), hg_return::HG_SUCCESS);
    assert!(local[0].iter().enumerate().all(|(i, c)| *c == pattern(i, 9)), "pulled bytes differ");
    for h in [a_src, b_src, b_local] {
        // SAFETY: live until here.
        assert_eq!(unsafe { margo_bulk_free(h) }, hg_return::HG_SUCCESS);
    }
    handles::instance_finalize(a).unwrap();
    handles::instance_finalize(b).unwrap();
}

fn far() -> Instant {
    Instant::now() + std::time::Duration::from_secs(30)
}

#[test]
fn copies_through_a_local_handle_check_flags_ranges_and_liveness() {
    use super::copy::BulkAccess;
    let a = instance();
    let mut segs = patterned(10, &[3, 0, 4], 5);
    let h = create(a, &mut segs, READWRITE);
    // SAFETY: h is live.
    let access = unsafe { BulkAccess::open(a, None, h) }.unwrap();
    let want: Vec<u8> = (0..10).map(|i| pattern(i, 5)).collect();
    assert_eq!(access.pull(0, 10, far()).unwrap(), want);
    assert_eq!(access.pull(2, 3, far()).unwrap(), &want[2..5], "across segments");
    access.push(&[(1, &[0xA1, 0xA2][..]), (3, &[0xA3][..]), (9, &[0xA9][..])], far()).unwrap();
    assert_eq!(segs.concat(), [want[0], 0xA1, 0xA2, 0xA3, want[4], want[5], want[6], want[7], want[8], 0xA9]);
    for (offset, len) in [(0, 11), (10, 1), (u64::MAX, 2)] {
        assert_eq!(access.pull(offset, len, far()).unwrap_err().0, hg_return::HG_INVALID_ARG, "{offset}+{len}");
    }
    assert_eq!(access.push(&[(0, &[1][..]), (9, &[1, 2][..])], far()).unwrap_err().0, hg_return::HG_INVALID_ARG);
    assert_eq!(segs.concat()[0], want[0], "a refused push wrote nothing, not even its valid part");
    // The handle's flags hold for its own process too.
    let mut ro_mem = vec![vec![1u8; 4]];
    let ro = create(a, &mut ro_mem, READ_ONLY);
    let mut wo_mem = vec![vec![1u8; 4]];
    let wo = create(a, &mut wo_mem, WRITE_ONLY);
    // SAFETY: ro and wo are live.
    let (ro_access, wo_access) = unsafe { (BulkAccess::open(a, None, ro).unwrap(), BulkAccess::open(a, None, wo).unwrap()) };
    assert_eq!(ro_access.push(&[(0, &[9][..])], far()).unwrap_err().0, hg_return::HG_PERMISSION);
    assert_eq!(wo_access.pull(0, 1, far()).unwrap_err().0, hg_return::HG_PERMISSION);
    assert_eq!(ro_mem[0], [1; 4]);
    // Freed: nothing more is copied.
    // SAFETY: live handles, freed once.
    unsafe {
        assert!(BulkAccess::open(a, None, std::ptr::null_mut()).is_err());
        for x in [h, ro, wo] {
            assert_eq!(margo_bulk_free(x), hg_return::HG_SUCCESS);
        }
    }
    assert_eq!(access.pull(0, 1, far()).unwrap_err().0, hg_return::HG_NOENTRY);
    assert_eq!(access.push(&[(0, &[1][..])], far()).unwrap_err().0, hg_return::HG_NOENTRY);
    handles::instance_finalize(a).unwrap();
}

#[test]
fn copies_through_another_engines_handle_go_by_transfers() {
    use super::copy::BulkAccess;
    let (a, b) = (instance(), instance());
    let total = (3 << 20) + 5;
    let mut segs = patterned(total, &[1 << 20, 7], 3);
    let a_h = create(a, &mut segs, READWRITE);
    let b_h = through_procs(a_h);
    let a_name = handles::engine(a).unwrap().self_address().as_str().to_string();
    let b_name = handles::engine(b).unwrap().self_address().as_str().to_string();
    // SAFETY: the handles are live until freed below.
    unsafe {
        for origin in [None, Some(a_name.as_str())] {
            let access = BulkAccess::open(b, origin, b_h).unwrap();
            let got = access.pull(1, total - 1, far()).unwrap();
            assert!(got.iter().enumerate().all(|(i, c)| *c == pattern(i + 1, 3)), "pulled bytes differ ({origin:?})");
        }
        // Many writes: adjacent ones merge, more than run at once, one of 2 MiB.
        let big = vec![0x5Au8; 2 << 20];
        let small: Vec<[u8; 1]> = (0..40u8).map(|i| [i]).collect();
        let mut writes: Vec<(u64, &[u8])> = small.iter().enumerate().map(|(i, b)| (10 + 2 * i as u64, &b[..])).collect();
        writes.push((200, &[1, 2][..]));
        writes.push((202, &[3][..]));
        writes.push((203, &[][..]));
        writes.push((1000, &big[..]));
        BulkAccess::open(b, None, b_h).unwrap().push(&writes, far()).unwrap();
        let now = segs.concat();
        for (i, s) in small.iter().enumerate() {
            assert_eq!(now[10 + 2 * i], s[0]);
            assert_eq!(now[11 + 2 * i], pattern(11 + 2 * i, 3), "a gap between writes is left alone");
        }
        assert_eq!(&now[200..203], [1, 2, 3]);
        assert!(now[1000..1000 + big.len()].iter().all(|c| *c == 0x5A));
        assert_eq!(now[1000 + big.len()], pattern(1000 + big.len(), 3));
        // The checks before any request, and the owner's.
        let access = BulkAccess::open(b, None, b_h).unwrap();
        assert_eq!(access.pull(1, total, far()).unwrap_err().0, hg_return::HG_INVALID_ARG);
        let wrong = BulkAccess::open(b, Some(b_name.as_str()), b_h).unwrap();
        assert_eq!(wrong.pull(0, 1, far()).unwrap_err().0, hg_return::HG_NOENTRY, "an origin that does not hold the handle");
        assert!(BulkAccess::open(b, Some("not an address"), b_h).is_err());
        let late = Instant::now() - std::time::Duration::from_millis(1);
        assert_eq!(access.pull(0, 1, late).unwrap_err().0, hg_return::HG_TIMEOUT);
        // A handle that claims 1 TiB: the pull asks for it by steps, and the
        // owner refuses the first (its memory is 3 MiB): no 1 TiB buffer.
        let liar = remote(&a_name, bulk_ref(a_h).unwrap().id, 1 << 40, READWRITE);
        let lying = BulkAccess::open(b, None, liar).unwrap();
        assert_eq!(lying.pull(0, 1 << 40, far()).unwrap_err().0, hg_return::HG_INVALID_ARG);
        assert_eq!(margo_bulk_free(liar), hg_return::HG_SUCCESS);
        assert_eq!(margo_bulk_free(a_h), hg_return::HG_SUCCESS);
        assert_eq!(access.pull(0, 1, far()).unwrap_err().0, hg_return::HG_NOENTRY);
        assert_eq!(access.push(&[(0, &[1][..])], far()).unwrap_err().0, hg_return::HG_NOENTRY);
        assert_eq!(margo_bulk_free(b_h), hg_return::HG_SUCCESS);
    }
    handles::instance_finalize(a).unwrap();
    handles::instance_finalize(b).unwrap();
}

#[test]
fn a_remote_pull_longer_than_a_step_is_stitched_in_order() {
    use super::copy::{BulkAccess, PULL_STEP};
    let (a, b) = (instance(), instance());
    let total = PULL_STEP + (1 << 20) + 3;
    let mut segs = patterned(total, &[PULL_STEP - 5], 11);
    let a_h = create(a, &mut segs, READ_ONLY);
    let b_h = through_procs(a_h);
    // SAFETY: live handles until freed below.
    unsafe {
        let got = BulkAccess::open(b, None, b_h).unwrap().pull(2, total - 2, far()).unwrap();
        assert_eq!(got.len(), total - 2);
        assert!(got.iter().enumerate().all(|(i, c)| *c == pattern(i + 2, 11)), "the steps were stitched wrongly");
        for h in [a_h, b_h] {
            assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
        }
    }
    handles::instance_finalize(a).unwrap();
    handles::instance_finalize(b).unwrap();
}
