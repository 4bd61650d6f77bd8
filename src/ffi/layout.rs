//! Margo's pools and execution streams at run time (upstream's
//! `margo-config.h`, which `margo.h` includes): how many there are,
//! finding one by handle, name or index, adding one from JSON, removing
//! one. Names are lent to C (valid while the instance lives).

#![allow(non_camel_case_types)]

use super::abt::{ABT_pool, ABT_xstream};
use super::handles::{self, handle_key, margo_instance_id, pool_into_c, xstream_into_c};
use super::hg::{hg_return, hg_return_t};
use super::margo::{fail, handle_code, rpc_code, text};
use super::panic::guard;
use crate::rpc::{Engine, Layout, Part};
use std::ffi::c_char;

/// A pool of an instance (`struct margo_pool_info`).
#[repr(C)]
pub struct margo_pool_info {
    pub pool: ABT_pool,
    pub name: *const c_char,
    pub index: u32,
}

/// An execution stream of an instance (`struct margo_xstream_info`).
#[repr(C)]
pub struct margo_xstream_info {
    pub xstream: ABT_xstream,
    pub name: *const c_char,
    pub index: u32,
}

/// Which pool or stream a call names.
enum Key<'a> {
    Handle(usize),
    Name(&'a str),
    Index(u32),
}

fn engine_of(entry: &str, mid: margo_instance_id) -> Result<Engine, hg_return_t> {
    handles::engine(mid).map_err(|e| handle_code(entry, e))
}

fn find_index(names: &[String], keys: &[usize], key: &Key<'_>) -> Option<usize> {
    match key {
        Key::Handle(h) => keys.iter().position(|k| k == h),
        Key::Name(n) => names.iter().position(|m| m == n),
        Key::Index(i) => ((*i as usize) < names.len()).then_some(*i as usize),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Pool,
    Xstream,
}

/// A pool or stream found: its index, name and handle (as a key).
struct Found {
    index: usize,
    name: String,
    key: usize,
}

fn locate(engine: &Engine, kind: Kind, key: &Key<'_>) -> Option<Found> {
    let Layout { pools, xstreams } = engine.layout();
    let (names, keys): (Vec<String>, Vec<usize>) = match kind {
        Kind::Pool => {
            let keys = (0..pools.len()).map(|i| engine.pool_at(i).map_or(0, |p| handle_key(pool_into_c(&p)))).collect();
            (pools, keys)
        }
        Kind::Xstream => xstreams.into_iter().unzip(),
    };
    let index = find_index(&names, &keys, key)?;
    Some(Found { index, name: names[index].clone(), key: keys[index] })
}

/// # Safety
/// `info` must be NULL or writable.
unsafe fn find_pool(entry: &'static str, mid: margo_instance_id, key: Key<'_>, info: *mut margo_pool_info) -> hg_return_t {
    guard(entry, hg_return::HG_OTHER_ERROR, || {
        let engine = match engine_of(entry, mid) {
            Ok(e) => e,
            Err(rc) => return rc,
        };
        let Some(found) = locate(&engine, Kind::Pool, &key) else { return hg_return::HG_NOENTRY };
        if !info.is_null() {
            let name = handles::interned(mid).map_or(std::ptr::null(), |s| s.c_str(&found.name));
            let pool = engine.pool_at(found.index).map_or(std::ptr::null_mut(), |p| pool_into_c(&p));
            // SAFETY: non-NULL and writable by the contract.
            unsafe { *info = margo_pool_info { pool, name, index: found.index as u32 } };
        }
        hg_return::HG_SUCCESS
    })
}

/// # Safety
/// `info` must be NULL or writable.
unsafe fn find_xstream(entry: &'static str, mid: margo_instance_id, key: Key<'_>, info: *mut margo_xstream_info) -> hg_return_t {
    guard(entry, hg_return::HG_OTHER_ERROR, || {
        let engine = match engine_of(entry, mid) {
            Ok(e) => e,
            Err(rc) => return rc,
        };
        let Some(found) = locate(&engine, Kind::Xstream, &key) else { return hg_return::HG_NOENTRY };
        if !info.is_null() {
            let name = handles::interned(mid).map_or(std::ptr::null(), |s| s.c_str(&found.name));
            // SAFETY: non-NULL and writable by the contract.
            unsafe { *info = margo_xstream_info { xstream: xstream_into_c(found.key), name, index: found.index as u32 } };
        }
        hg_return::HG_SUCCESS
    })
}

/// Removes the pool or stream `key` names.
fn remove(entry: &'static str, mid: margo_instance_id, kind: Kind, key: Key<'_>) -> hg_return_t {
    guard(entry, hg_return::HG_OTHER_ERROR, || {
        let engine = match engine_of(entry, mid) {
            Ok(e) => e,
            Err(rc) => return rc,
        };
        let Some(found) = locate(&engine, kind, &key) else { return hg_return::HG_NOENTRY };
        let removed = match kind {
            Kind::Pool => engine.remove_pool(&found.name),
            Kind::Xstream => engine.remove_xstream(&found.name),
        };
        match removed {
            Ok(()) => hg_return::HG_SUCCESS,
            Err(e) => rpc_code(entry, &e),
        }
    })
}

/// How many pools the instance has (0 for an invalid instance).
#[no_mangle]
pub extern "C" fn margo_get_num_pools(mid: margo_instance_id) -> usize {
    guard("margo_get_num_pools", 0, || engine_of("margo_get_num_pools", mid).map_or(0, |e| e.layout().pools.len()))
}

/// How many execution streams the instance has (0 for an invalid one).
#[no_mangle]
pub extern "C" fn margo_get_num_xstreams(mid: margo_instance_id) -> usize {
    guard("margo_get_num_xstreams", 0, || engine_of("margo_get_num_xstreams", mid).map_or(0, |e| e.layout().xstreams.len()))
}

/// `HG_NOENTRY` if `handle` is not one of the instance's pools.
///
/// # Safety
/// `info` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_find_pool_by_handle(
    mid: margo_instance_id,
    handle: ABT_pool,
    info: *mut margo_pool_info,
) -> hg_return_t {
    // SAFETY: forwarded contract.
    unsafe { find_pool("margo_find_pool_by_handle", mid, Key::Handle(handle_key(handle)), info) }
}

/// # Safety
/// `name` must be NULL or NUL-terminated; `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_find_pool_by_name(
    mid: margo_instance_id,
    name: *const c_char,
    info: *mut margo_pool_info,
) -> hg_return_t {
    // SAFETY: NULL or NUL-terminated by the contract.
    let Some(name) = (unsafe { text(name) }) else {
        fail("margo_find_pool_by_name", "name is NULL or not UTF-8");
        return hg_return::HG_INVALID_ARG;
    };
    // SAFETY: forwarded contract.
    unsafe { find_pool("margo_find_pool_by_name", mid, Key::Name(name), info) }
}

/// # Safety
/// `info` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_find_pool_by_index(mid: margo_instance_id, index: u32, info: *mut margo_pool_info) -> hg_return_t {
    // SAFETY: forwarded contract.
    unsafe { find_pool("margo_find_pool_by_index", mid, Key::Index(index), info) }
}

/// # Safety
/// `info` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_find_xstream_by_handle(
    mid: margo_instance_id,
    handle: ABT_xstream,
    info: *mut margo_xstream_info,
) -> hg_return_t {
    // SAFETY: forwarded contract.
    unsafe { find_xstream("margo_find_xstream_by_handle", mid, Key::Handle(handle_key(handle)), info) }
}

/// # Safety
/// `name` must be NULL or NUL-terminated; `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_find_xstream_by_name(
    mid: margo_instance_id,
    name: *const c_char,
    info: *mut margo_xstream_info,
) -> hg_return_t {
    // SAFETY: NULL or NUL-terminated by the contract.
    let Some(name) = (unsafe { text(name) }) else {
        fail("margo_find_xstream_by_name", "name is NULL or not UTF-8");
        return hg_return::HG_INVALID_ARG;
    };
    // SAFETY: forwarded contract.
    unsafe { find_xstream("margo_find_xstream_by_name", mid, Key::Name(name), info) }
}

/// # Safety
/// `info` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_find_xstream_by_index(
    mid: margo_instance_id,
    index: u32,
    info: *mut margo_xstream_info,
) -> hg_return_t {
    // SAFETY: forwarded contract.
    unsafe { find_xstream("margo_find_xstream_by_index", mid, Key::Index(index), info) }
}

/// The JSON object of a pool or stream to add (`HG_INVALID_ARG` if it is
/// not one).
///
/// # Safety
/// `json` must be NULL or NUL-terminated.
unsafe fn json_arg(entry: &str, json: *const c_char) -> Result<serde_json::Value, hg_return_t> {
    // SAFETY: NULL or NUL-terminated by the contract.
    let Some(text) = (unsafe { text(json) }) else {
        fail(entry, "json is NULL or not UTF-8");
        return Err(hg_return::HG_INVALID_ARG);
    };
    serde_json::from_str(text).map_err(|e| {
        fail(entry, format!("invalid JSON: {e}"));
        hg_return::HG_INVALID_ARG
    })
}

/// Adds a pool described as in margo's config (`{"name": …}`); `info`
/// (if not NULL) describes it.
///
/// # Safety
/// `json` must be NULL or NUL-terminated; `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_add_pool_from_json(
    mid: margo_instance_id,
    json: *const c_char,
    info: *mut margo_pool_info,
) -> hg_return_t {
    const E: &str = "margo_add_pool_from_json";
    let added = guard(E, Err(hg_return::HG_OTHER_ERROR), || {
        let engine = engine_of(E, mid)?;
        // SAFETY: forwarded contract.
        let v = unsafe { json_arg(E, json) }?;
        engine.add_pool_from_json(&v).map_err(|e| rpc_code(E, &e))
    });
    match added {
        // SAFETY: forwarded contract.
        Ok(index) => unsafe { find_pool(E, mid, Key::Index(index as u32), info) },
        Err(rc) => rc,
    }
}

/// Starts an execution stream described as in margo's config.
///
/// # Safety
/// `json` must be NULL or NUL-terminated; `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_add_xstream_from_json(
    mid: margo_instance_id,
    json: *const c_char,
    info: *mut margo_xstream_info,
) -> hg_return_t {
    const E: &str = "margo_add_xstream_from_json";
    let added = guard(E, Err(hg_return::HG_OTHER_ERROR), || {
        let engine = engine_of(E, mid)?;
        // SAFETY: forwarded contract.
        let v = unsafe { json_arg(E, json) }?;
        engine.add_xstream_from_json(&v).map_err(|e| rpc_code(E, &e))
    });
    match added {
        // SAFETY: forwarded contract.
        Ok(index) => unsafe { find_xstream(E, mid, Key::Index(index as u32), info) },
        Err(rc) => rc,
    }
}

/// Removes a pool no execution stream, handler or role uses.
#[no_mangle]
pub extern "C" fn margo_remove_pool_by_handle(mid: margo_instance_id, handle: ABT_pool) -> hg_return_t {
    remove("margo_remove_pool_by_handle", mid, Kind::Pool, Key::Handle(handle_key(handle)))
}

/// # Safety
/// `name` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn margo_remove_pool_by_name(mid: margo_instance_id, name: *const c_char) -> hg_return_t {
    // SAFETY: NULL or NUL-terminated by the contract.
    match unsafe { text(name) } {
        Some(n) => remove("margo_remove_pool_by_name", mid, Kind::Pool, Key::Name(n)),
        None => hg_return::HG_INVALID_ARG,
    }
}

#[no_mangle]
pub extern "C" fn margo_remove_pool_by_index(mid: margo_instance_id, index: u32) -> hg_return_t {
    remove("margo_remove_pool_by_index", mid, Kind::Pool, Key::Index(index))
}

/// Stops and removes an execution stream (not `__primary__`, nor the one
/// driving progress).
#[no_mangle]
pub extern "C" fn margo_remove_xstream_by_handle(mid: margo_instance_id, handle: ABT_xstream) -> hg_return_t {
    remove("margo_remove_xstream_by_handle", mid, Kind::Xstream, Key::Handle(handle_key(handle)))
}

/// # Safety
/// `name` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn margo_remove_xstream_by_name(mid: margo_instance_id, name: *const c_char) -> hg_return_t {
    // SAFETY: NULL or NUL-terminated by the contract.
    match unsafe { text(name) } {
        Some(n) => remove("margo_remove_xstream_by_name", mid, Kind::Xstream, Key::Name(n)),
        None => hg_return::HG_INVALID_ARG,
    }
}

#[no_mangle]
pub extern "C" fn margo_remove_xstream_by_index(mid: margo_instance_id, index: u32) -> hg_return_t {
    remove("margo_remove_xstream_by_index", mid, Kind::Xstream, Key::Index(index))
}

// ---------------------------------------------------------------------------
// References users take on pools and streams (margo_pool_ref_incr, …): a
// referenced pool or stream cannot be removed. Counted per name; an index
// past the end is HG_INVALID_ARG, an unknown handle or name HG_NOENTRY (as
// upstream), a release without a reference HG_PERMISSION.
// ---------------------------------------------------------------------------

/// What a reference call does.
#[derive(Clone, Copy)]
enum RefOp {
    Incr,
    Release,
    Count,
}

/// Applies `op`; the count of references held afterwards.
fn reference(entry: &'static str, mid: margo_instance_id, kind: Kind, key: Key<'_>, op: RefOp) -> Result<u32, hg_return_t> {
    guard(entry, Err(hg_return::HG_OTHER_ERROR), || {
        let engine = engine_of(entry, mid)?;
        let Some(found) = locate(&engine, kind, &key) else {
            return Err(match key {
                Key::Index(_) => hg_return::HG_INVALID_ARG,
                _ => hg_return::HG_NOENTRY,
            });
        };
        let part = match kind {
            Kind::Pool => Part::Pool,
            Kind::Xstream => Part::Xstream,
        };
        match op {
            RefOp::Incr => engine.ref_incr(part, &found.name),
            RefOp::Release => engine.release(part, &found.name).map_err(|e| rpc_code(entry, &e))?,
            RefOp::Count => {}
        }
        Ok(engine.ref_count(part, &found.name))
    })
}

/// `reference` for a name given by C.
///
/// # Safety
/// `name` must be NULL or NUL-terminated.
unsafe fn reference_by_name(
    entry: &'static str,
    mid: margo_instance_id,
    kind: Kind,
    name: *const c_char,
    op: RefOp,
) -> Result<u32, hg_return_t> {
    // SAFETY: NULL or NUL-terminated by the contract.
    let Some(name) = (unsafe { text(name) }) else {
        fail(entry, "name is NULL or not UTF-8");
        return Err(hg_return::HG_INVALID_ARG);
    };
    reference(entry, mid, kind, Key::Name(name), op)
}

/// The C result of a reference call that changes the count.
fn code(r: Result<u32, hg_return_t>) -> hg_return_t {
    r.map_or_else(|rc| rc, |_| hg_return::HG_SUCCESS)
}

/// The C result of a count: stored through `out`.
///
/// # Safety
/// `out` must be NULL or writable.
unsafe fn store_count(entry: &str, r: Result<u32, hg_return_t>, out: *mut u32) -> hg_return_t {
    match r {
        Ok(_) if out.is_null() => {
            fail(entry, "refcount pointer is NULL");
            hg_return::HG_INVALID_ARG
        }
        Ok(n) => {
            // SAFETY: non-NULL, and writable by the contract.
            unsafe { *out = n };
            hg_return::HG_SUCCESS
        }
        Err(rc) => rc,
    }
}

/// Takes a reference on a pool: it cannot be removed until released.
#[no_mangle]
pub extern "C" fn margo_pool_ref_incr_by_handle(mid: margo_instance_id, handle: ABT_pool) -> hg_return_t {
    const E: &str = "margo_pool_ref_incr_by_handle";
    let r = reference(E, mid, Kind::Pool, Key::Handle(handle_key(handle)), RefOp::Incr);
    code(r)
}

/// # Safety
/// `name` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn margo_pool_ref_incr_by_name(mid: margo_instance_id, name: *const c_char) -> hg_return_t {
    const E: &str = "margo_pool_ref_incr_by_name";
    // SAFETY: forwarded contract.
    let r = unsafe { reference_by_name(E, mid, Kind::Pool, name, RefOp::Incr) };
    code(r)
}

#[no_mangle]
pub extern "C" fn margo_pool_ref_incr_by_index(mid: margo_instance_id, index: u32) -> hg_return_t {
    const E: &str = "margo_pool_ref_incr_by_index";
    let r = reference(E, mid, Kind::Pool, Key::Index(index), RefOp::Incr);
    code(r)
}

/// Gives back a reference on a pool (`HG_PERMISSION` if none is held).
#[no_mangle]
pub extern "C" fn margo_pool_release_by_handle(mid: margo_instance_id, handle: ABT_pool) -> hg_return_t {
    const E: &str = "margo_pool_release_by_handle";
    let r = reference(E, mid, Kind::Pool, Key::Handle(handle_key(handle)), RefOp::Release);
    code(r)
}

/// # Safety
/// `name` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn margo_pool_release_by_name(mid: margo_instance_id, name: *const c_char) -> hg_return_t {
    const E: &str = "margo_pool_release_by_name";
    // SAFETY: forwarded contract.
    let r = unsafe { reference_by_name(E, mid, Kind::Pool, name, RefOp::Release) };
    code(r)
}

#[no_mangle]
pub extern "C" fn margo_pool_release_by_index(mid: margo_instance_id, index: u32) -> hg_return_t {
    const E: &str = "margo_pool_release_by_index";
    let r = reference(E, mid, Kind::Pool, Key::Index(index), RefOp::Release);
    code(r)
}

/// The references users hold on a pool.
///
/// # Safety
/// `refcount` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_pool_ref_count_by_handle(
    mid: margo_instance_id,
    handle: ABT_pool,
    refcount: *mut u32,
) -> hg_return_t {
    const E: &str = "margo_pool_ref_count_by_handle";
    let r = reference(E, mid, Kind::Pool, Key::Handle(handle_key(handle)), RefOp::Count);
    // SAFETY: forwarded contract.
    unsafe { store_count(E, r, refcount) }
}

/// # Safety
/// `name` must be NULL or NUL-terminated; `refcount` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_pool_ref_count_by_name(
    mid: margo_instance_id,
    name: *const c_char,
    refcount: *mut u32,
) -> hg_return_t {
    const E: &str = "margo_pool_ref_count_by_name";
    // SAFETY: forwarded contract.
    let r = unsafe { reference_by_name(E, mid, Kind::Pool, name, RefOp::Count) };
    // SAFETY: forwarded contract.
    unsafe { store_count(E, r, refcount) }
}

/// # Safety
/// `refcount` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_pool_ref_count_by_index(mid: margo_instance_id, index: u32, refcount: *mut u32) -> hg_return_t {
    const E: &str = "margo_pool_ref_count_by_index";
    let r = reference(E, mid, Kind::Pool, Key::Index(index), RefOp::Count);
    // SAFETY: forwarded contract.
    unsafe { store_count(E, r, refcount) }
}

/// Takes a reference on a xstream: it cannot be removed until released.
#[no_mangle]
pub extern "C" fn margo_xstream_ref_incr_by_handle(mid: margo_instance_id, handle: ABT_xstream) -> hg_return_t {
    const E: &str = "margo_xstream_ref_incr_by_handle";
    let r = reference(E, mid, Kind::Xstream, Key::Handle(handle_key(handle)), RefOp::Incr);
    code(r)
}

/// # Safety
/// `name` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn margo_xstream_ref_incr_by_name(mid: margo_instance_id, name: *const c_char) -> hg_return_t {
    const E: &str = "margo_xstream_ref_incr_by_name";
    // SAFETY: forwarded contract.
    let r = unsafe { reference_by_name(E, mid, Kind::Xstream, name, RefOp::Incr) };
    code(r)
}

#[no_mangle]
pub extern "C" fn margo_xstream_ref_incr_by_index(mid: margo_instance_id, index: u32) -> hg_return_t {
    const E: &str = "margo_xstream_ref_incr_by_index";
    let r = reference(E, mid, Kind::Xstream, Key::Index(index), RefOp::Incr);
    code(r)
}

/// Gives back a reference on a xstream (`HG_PERMISSION` if none is held).
#[no_mangle]
pub extern "C" fn margo_xstream_release_by_handle(mid: margo_instance_id, handle: ABT_xstream) -> hg_return_t {
    const E: &str = "margo_xstream_release_by_handle";
    let r = reference(E, mid, Kind::Xstream, Key::Handle(handle_key(handle)), RefOp::Release);
    code(r)
}

/// # Safety
/// `name` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn margo_xstream_release_by_name(mid: margo_instance_id, name: *const c_char) -> hg_return_t {
    const E: &str = "margo_xstream_release_by_name";
    // SAFETY: forwarded contract.
    let r = unsafe { reference_by_name(E, mid, Kind::Xstream, name, RefOp::Release) };
    code(r)
}

#[no_mangle]
pub extern "C" fn margo_xstream_release_by_index(mid: margo_instance_id, index: u32) -> hg_return_t {
    const E: &str = "margo_xstream_release_by_index";
    let r = reference(E, mid, Kind::Xstream, Key::Index(index), RefOp::Release);
    code(r)
}

/// The references users hold on a xstream.
///
/// # Safety
/// `refcount` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_xstream_ref_count_by_handle(
    mid: margo_instance_id,
    handle: ABT_xstream,
    refcount: *mut u32,
) -> hg_return_t {
    const E: &str = "margo_xstream_ref_count_by_handle";
    let r = reference(E, mid, Kind::Xstream, Key::Handle(handle_key(handle)), RefOp::Count);
    // SAFETY: forwarded contract.
    unsafe { store_count(E, r, refcount) }
}

/// # Safety
/// `name` must be NULL or NUL-terminated; `refcount` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_xstream_ref_count_by_name(
    mid: margo_instance_id,
    name: *const c_char,
    refcount: *mut u32,
) -> hg_return_t {
    const E: &str = "margo_xstream_ref_count_by_name";
    // SAFETY: forwarded contract.
    let r = unsafe { reference_by_name(E, mid, Kind::Xstream, name, RefOp::Count) };
    // SAFETY: forwarded contract.
    unsafe { store_count(E, r, refcount) }
}

/// # Safety
/// `refcount` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_xstream_ref_count_by_index(mid: margo_instance_id, index: u32, refcount: *mut u32) -> hg_return_t {
    const E: &str = "margo_xstream_ref_count_by_index";
    let r = reference(E, mid, Kind::Xstream, Key::Index(index), RefOp::Count);
    // SAFETY: forwarded contract.
    unsafe { store_count(E, r, refcount) }
}
