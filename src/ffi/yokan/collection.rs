//! `yokan/collection.h`: collections of documents, with upstream's output
//! conventions (the key-value operations' size sentinels and buffers, ids
//! instead of keys). Each is the non-variadic `yk_*_timed` form the
//! header's inline wrappers call; the work is `yokan::collection` on the
//! provider's side, reached through [`Database`]'s `collection_*` / `doc_*`
//! calls.
#![allow(non_camel_case_types)]

use super::buffers::{array, array_mut, buffer_mut, bytes, Items, Out, Role, KEY_NOT_FOUND, SIZE_TOO_SMALL};
use super::client::{yk_database_handle_t, yk_return_t};
use super::database::Call;
use crate::ffi::hg::ABT_pool;
use crate::yokan::client::Database;
use crate::yokan::collection::NO_MORE_DOCS;
use crate::yokan::error::{code, Result, YokanError};
use crate::yokan::mode;
use std::ffi::{c_char, c_void, CStr};

/// `yk_id_t`.
pub type yk_id_t = u64;

/// `yk_document_callback_t`.
pub type yk_document_callback_t =
    Option<unsafe extern "C" fn(uargs: *mut c_void, index: usize, id: yk_id_t, doc: *const c_void, size: usize) -> i32>;

/// `yk_doc_fetch_options_t` (upstream's field order).
#[repr(C)]
pub struct yk_doc_fetch_options {
    pub pool: ABT_pool,
    pub batch_size: u32,
}

/// `yk_doc_iter_options_t` (upstream's field order, unlike the fetch options).
#[repr(C)]
pub struct yk_doc_iter_options {
    pub batch_size: u32,
    pub pool: ABT_pool,
}

/// How many documents an iteration reads per round trip when its options
/// do not say.
pub(super) const ITER_BATCH: usize = 64;

/// The collection name C passes.
///
/// # Safety
/// `name` must be NULL or NUL-terminated.
pub(super) unsafe fn name<'a>(name: *const c_char) -> Result<&'a str> {
    if name.is_null() {
        return Err(YokanError::args("NULL collection name"));
    }
    // SAFETY: non-NULL (checked above), NUL-terminated by the contract.
    let text = unsafe { CStr::from_ptr(name) };
    text.to_str().map_err(|_| YokanError::args("the collection name is not UTF-8"))
}

/// The ids C passes (`count` of them).
///
/// # Safety
/// `ids` must be NULL or hold `count` ids, unchanged for `'a`.
pub(super) unsafe fn ids<'a>(ids: *const yk_id_t, count: usize) -> Result<&'a [u64]> {
    // SAFETY: NULL or `count` ids (this function's contract).
    unsafe { array(ids, count, "ids array") }
}

/// Runs `op` with the collection name read: the handle check, the panic
/// boundary and the error log are [`Call::run`]'s.
///
/// # Safety
/// `dbh` NULL or a live handle; `collection` NULL or NUL-terminated; `op`'s
/// own pointers as its caller's contract says.
unsafe fn on_collection(
    entry: &'static str,
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    timeout_ms: f64,
    op: impl FnOnce(Call, &Database, &str) -> Result<()>,
) -> yk_return_t {
    let call = Call::new(entry, dbh, mode, timeout_ms);
    let run = |db: &Database| {
        // SAFETY: NULL or NUL-terminated (this function's contract).
        let name = unsafe { name(collection) }?;
        op(call, db, name)
    };
    // SAFETY: `dbh` is NULL or live (this function's contract).
    unsafe { call.run(run) }
}

/// Writes `value` through `out` (an output pointer C passes).
///
/// # Safety
/// `out` must be NULL or writable.
unsafe fn write_out<T>(out: *mut T, value: T, what: &str) -> Result<()> {
    if out.is_null() {
        return Err(YokanError::args(format!("NULL {what} pointer")));
    }
    // SAFETY: non-NULL (checked above), writable by the contract.
    unsafe { out.write(value) };
    Ok(())
}

// ---------------------------------------------------------------- collections

/// # Safety
/// As upstream's `yk_collection_create`.
#[no_mangle]
pub unsafe extern "C" fn yk_collection_create_timed(
    dbh: yk_database_handle_t,
    name: *const c_char,
    mode: i32,
    timeout_ms: f64,
) -> yk_return_t {
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_collection_create", dbh, name, mode, timeout_ms, |c, db, n| db.collection_create(c.opts(), n)) }
}

/// # Safety
/// As upstream's `yk_collection_drop`.
#[no_mangle]
pub unsafe extern "C" fn yk_collection_drop_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    timeout_ms: f64,
) -> yk_return_t {
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_collection_drop", dbh, collection, mode, timeout_ms, |c, db, n| db.collection_drop(c.opts(), n)) }
}

/// # Safety
/// As upstream's `yk_collection_exists`: one writable flag byte.
#[no_mangle]
pub unsafe extern "C" fn yk_collection_exists_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    flag: *mut u8,
    timeout_ms: f64,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if flag.is_null() {
            return Err(YokanError::args("NULL flag pointer"));
        }
        let found = db.collection_exists(c.opts(), n)?;
        // SAFETY: NULL or writable (the contract); checked above.
        unsafe { write_out(flag, u8::from(found), "flag") }
    };
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_collection_exists", dbh, collection, mode, timeout_ms, op) }
}

/// # Safety
/// As upstream's `yk_collection_size`.
#[no_mangle]
pub unsafe extern "C" fn yk_collection_size_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if count.is_null() {
            return Err(YokanError::args("NULL count pointer"));
        }
        let (size, _) = db.collection_record(c.opts(), n)?;
        // SAFETY: NULL or writable (the contract); checked above.
        unsafe { write_out(count, size as usize, "count") }
    };
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_collection_size", dbh, collection, mode, timeout_ms, op) }
}

/// The last id given out: the next one minus 1 (all ones while the
/// collection has never stored a document, which C reads as -1 in a signed
/// type, as upstream's).
///
/// # Safety
/// As upstream's `yk_collection_last_id`.
#[no_mangle]
pub unsafe extern "C" fn yk_collection_last_id_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    id: *mut yk_id_t,
    timeout_ms: f64,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if id.is_null() {
            return Err(YokanError::args("NULL id pointer"));
        }
        let (_, next) = db.collection_record(c.opts(), n)?;
        // SAFETY: NULL or writable (the contract); checked above.
        unsafe { write_out(id, next.wrapping_sub(1), "id") }
    };
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_collection_last_id", dbh, collection, mode, timeout_ms, op) }
}

// ---------------------------------------------------------------- store

/// Stores the documents `docs` describes; their ids into `out_ids`.
///
/// # Safety
/// As [`on_collection`]; `docs` as [`Items::read`] requires; `out_ids`
/// NULL or `docs.count()` writable ids.
unsafe fn store(
    entry: &'static str,
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    timeout_ms: f64,
    docs: Items,
    out_ids: *mut yk_id_t,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        let count = docs.count();
        if count == 0 {
            return Ok(());
        }
        // SAFETY: NULL or `count` writable ids (this function's contract).
        let out = unsafe { array_mut(out_ids, count, "ids array") }?;
        // SAFETY: `docs` holds what it describes (this function's contract).
        let docs = unsafe { docs.read(Role::Document) }?;
        let given = db.doc_store(c.opts(), n, &docs)?;
        out.copy_from_slice(&given);
        Ok(())
    };
    // SAFETY: the handle and name as this function's contract says.
    unsafe { on_collection(entry, dbh, collection, mode, timeout_ms, op) }
}

/// # Safety
/// As upstream's `yk_doc_store`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_store_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    document: *const c_void,
    size: usize,
    id: *mut yk_id_t,
    timeout_ms: f64,
) -> yk_return_t {
    let docs = Items::One { ptr: document, size };
    // SAFETY: the handle, name, document and id as the contract says.
    unsafe { store("yk_doc_store", dbh, collection, mode, timeout_ms, docs, id) }
}

/// # Safety
/// As upstream's `yk_doc_store_multi`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_store_multi_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    documents: *const *const c_void,
    rsizes: *const usize,
    ids: *mut yk_id_t,
    timeout_ms: f64,
) -> yk_return_t {
    let docs = Items::Multi { count, ptrs: documents, sizes: rsizes };
    // SAFETY: the handle, name, arrays and ids as the contract says.
    unsafe { store("yk_doc_store_multi", dbh, collection, mode, timeout_ms, docs, ids) }
}

/// # Safety
/// As upstream's `yk_doc_store_packed`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_store_packed_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    documents: *const c_void,
    rsizes: *const usize,
    ids: *mut yk_id_t,
    timeout_ms: f64,
) -> yk_return_t {
    let docs = Items::Packed { count, buf: documents, sizes: rsizes };
    // SAFETY: the handle, name, buffer, sizes and ids as the contract says.
    unsafe { store("yk_doc_store_packed", dbh, collection, mode, timeout_ms, docs, ids) }
}

// ---------------------------------------------------------------- load

/// # Safety
/// As upstream's `yk_doc_load`: `*size` is the capacity of `data` in, the
/// document's size (or a sentinel) out.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_load_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    id: yk_id_t,
    data: *mut c_void,
    size: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if size.is_null() {
            return Err(YokanError::args("NULL size pointer"));
        }
        // SAFETY: non-NULL (checked above), readable by the contract.
        let capacity = unsafe { *size };
        // SAFETY: `data` holds `capacity` writable bytes (the contract).
        let out = unsafe { buffer_mut(data, capacity, "document buffer") }?;
        let (reported, outcome) = match db.doc_load(c.opts(), n, &[id])?.pop().flatten() {
            None => (KEY_NOT_FOUND, Err(YokanError::new(code::KEY_NOT_FOUND, format!("no document {id} in \"{n}\"")))),
            Some(d) if d.len() > capacity => (
                SIZE_TOO_SMALL,
                Err(YokanError::new(code::BUFFER_SIZE, format!("document {id} has {} bytes, the buffer {capacity}", d.len()))),
            ),
            Some(d) => {
                out[..d.len()].copy_from_slice(&d);
                (d.len(), Ok(()))
            }
        };
        // SAFETY: non-NULL (checked above), writable by the contract.
        unsafe { *size = reported };
        outcome
    };
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_doc_load", dbh, collection, mode, timeout_ms, op) }
}

/// Loads documents by id into the output `out` makes once the ids are read.
///
/// # Safety
/// As [`on_collection`]; `ids_ptr` NULL or `count` ids; `out` makes an
/// output with room for `count` sizes.
#[allow(clippy::too_many_arguments)]
unsafe fn load<'a>(
    entry: &'static str,
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    timeout_ms: f64,
    count: usize,
    ids_ptr: *const yk_id_t,
    out: impl FnOnce() -> Result<Out<'a>>,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: NULL or `count` ids (this function's contract).
        let ids = unsafe { ids(ids_ptr, count) }?;
        let mut out = out()?;
        for (i, d) in db.doc_load(c.opts(), n, ids)?.iter().enumerate() {
            out.put(i, d.as_deref())?;
        }
        Ok(())
    };
    // SAFETY: the handle and name as this function's contract says.
    unsafe { on_collection(entry, dbh, collection, mode, timeout_ms, op) }
}

/// # Safety
/// As upstream's `yk_doc_load_multi`: per-slot buffers and capacities.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_load_multi_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    ids: *const yk_id_t,
    documents: *const *mut c_void,
    rsizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    // SAFETY: `documents` and `rsizes` hold `count` slots and their capacities (the contract).
    let out = || unsafe { Out::slots(documents, rsizes, count, Role::Document, "document buffer") };
    // SAFETY: the handle, name and ids as the contract says.
    unsafe { load("yk_doc_load_multi", dbh, collection, mode, timeout_ms, count, ids, out) }
}

/// # Safety
/// As upstream's `yk_doc_load_packed`: one buffer of `rbufsize` bytes.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_load_packed_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    ids: *const yk_id_t,
    rbufsize: usize,
    documents: *mut c_void,
    rsizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let out = || {
        // SAFETY: `rsizes` holds `count` writable sizes (the contract).
        let sizes = unsafe { array_mut(rsizes, count, "document sizes array") }?;
        // SAFETY: `documents` holds `rbufsize` writable bytes (the contract).
        let buf = unsafe { buffer_mut(documents, rbufsize, "documents buffer") }?;
        Ok(Out::packed(buf, sizes))
    };
    // SAFETY: the handle, name and ids as the contract says.
    unsafe { load("yk_doc_load_packed", dbh, collection, mode, timeout_ms, count, ids, out) }
}

// ---------------------------------------------------------------- fetch

/// Hands each document of `ids` to `cb` (on the calling thread), read in
/// batches of `batch` (0: all at once); absent ones as (NULL,
/// `YOKAN_KEY_NOT_FOUND`). A non-zero callback result stops
/// (`YOKAN_STOP_ITERATION`: success; another code: returned).
///
/// # Safety
/// `cb` NULL or a function that may be called with `uargs` and pointers
/// valid during the call (upstream's contract).
unsafe fn fetch_docs(
    c: Call,
    db: &Database,
    n: &str,
    ids: &[u64],
    cb: yk_document_callback_t,
    uargs: *mut c_void,
    batch: usize,
) -> Result<()> {
    let cb = cb.ok_or_else(|| YokanError::args("NULL callback"))?;
    let batch = if batch == 0 { ids.len().max(1) } else { batch };
    for (b, chunk) in ids.chunks(batch).enumerate() {
        let got = db.doc_load(c.opts(), n, chunk)?;
        for (i, (id, d)) in chunk.iter().zip(&got).enumerate() {
            let (p, s) = match d {
                Some(d) => (d.as_ptr() as *const c_void, d.len()),
                None => (std::ptr::null(), KEY_NOT_FOUND),
            };
            // SAFETY: the caller's callback with its `uargs` (this function's
            // contract), given pointers valid for the duration of the call.
            callback_result(unsafe { cb(uargs, b * batch + i, *id, p, s) })?;
        }
    }
    Ok(())
}

/// What a callback's result means: go on (Ok), stop (`YOKAN_STOP_ITERATION`,
/// made a success by [`stop_is_success`]), or fail with its code.
pub(super) fn callback_result(r: i32) -> Result<()> {
    match r {
        0 => Ok(()),
        c if c == code::STOP_ITERATION => Err(YokanError::new(c, "stopped by the callback")),
        c => Err(YokanError::new(c, "the callback returned an error")),
    }
}

/// A stop asked by a callback is a success.
pub(super) fn stop_is_success(r: Result<()>) -> Result<()> {
    match r {
        Err(e) if e.code == code::STOP_ITERATION => Ok(()),
        other => other,
    }
}

/// # Safety
/// As upstream's `yk_doc_fetch`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_fetch_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    id: yk_id_t,
    cb: yk_document_callback_t,
    uargs: *mut c_void,
    timeout_ms: f64,
) -> yk_return_t {
    // SAFETY: the callback and its arguments as the contract says.
    let op = |c: Call, db: &Database, n: &str| stop_is_success(unsafe { fetch_docs(c, db, n, &[id], cb, uargs, 0) });
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_doc_fetch", dbh, collection, mode, timeout_ms, op) }
}

/// # Safety
/// As upstream's `yk_doc_fetch_multi`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_fetch_multi_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    ids_ptr: *const yk_id_t,
    cb: yk_document_callback_t,
    uargs: *mut c_void,
    options: *const yk_doc_fetch_options,
    timeout_ms: f64,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: NULL or `count` ids (the contract).
        let ids = unsafe { ids(ids_ptr, count) }?;
        // SAFETY: NULL or valid options (the contract).
        let batch = unsafe { options.as_ref() }.map_or(0, |o| o.batch_size as usize);
        // SAFETY: the callback and its arguments as the contract says.
        stop_is_success(unsafe { fetch_docs(c, db, n, ids, cb, uargs, batch) })
    };
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_doc_fetch_multi", dbh, collection, mode, timeout_ms, op) }
}

// ---------------------------------------------------------------- length

/// # Safety
/// As upstream's `yk_doc_length`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_length_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    id: yk_id_t,
    size: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if size.is_null() {
            return Err(YokanError::args("NULL size pointer"));
        }
        let found = db.doc_length(c.opts(), n, &[id])?.pop().flatten();
        // SAFETY: NULL or writable (the contract); checked above.
        unsafe { write_out(size, found.map_or(KEY_NOT_FOUND, |s| s as usize), "size") }?;
        match found {
            Some(_) => Ok(()),
            None => Err(YokanError::new(code::KEY_NOT_FOUND, format!("no document {id} in \"{n}\""))),
        }
    };
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_doc_length", dbh, collection, mode, timeout_ms, op) }
}

/// # Safety
/// As upstream's `yk_doc_length_multi`: `count` ids and `count` writable sizes.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_length_multi_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    ids_ptr: *const yk_id_t,
    rsizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: NULL or `count` ids (the contract).
        let ids = unsafe { ids(ids_ptr, count) }?;
        // SAFETY: NULL or `count` writable sizes (the contract).
        let out = unsafe { array_mut(rsizes, count, "sizes array") }?;
        for (o, s) in out.iter_mut().zip(db.doc_length(c.opts(), n, ids)?) {
            *o = s.map_or(KEY_NOT_FOUND, |s| s as usize);
        }
        Ok(())
    };
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_doc_length_multi", dbh, collection, mode, timeout_ms, op) }
}

// ---------------------------------------------------------------- update

/// Replaces the documents of `ids` with those `docs` describes.
///
/// # Safety
/// As [`on_collection`]; `ids_ptr` NULL or `docs.count()` ids; `docs` as
/// [`Items::read`] requires.
unsafe fn update(
    entry: &'static str,
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    timeout_ms: f64,
    ids_ptr: *const yk_id_t,
    docs: Items,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if docs.count() == 0 {
            return Ok(());
        }
        // SAFETY: NULL or `count` ids (this function's contract).
        let ids = unsafe { ids(ids_ptr, docs.count()) }?;
        // SAFETY: `docs` holds what it describes (this function's contract).
        let docs = unsafe { docs.read(Role::Document) }?;
        db.doc_update(c.opts(), n, ids, &docs)
    };
    // SAFETY: the handle and name as this function's contract says.
    unsafe { on_collection(entry, dbh, collection, mode, timeout_ms, op) }
}

/// # Safety
/// As upstream's `yk_doc_update`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_update_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    id: yk_id_t,
    document: *const c_void,
    size: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let docs = Items::One { ptr: document, size };
    // SAFETY: the handle, name and document as the contract says; `id` is one id.
    unsafe { update("yk_doc_update", dbh, collection, mode, timeout_ms, &id, docs) }
}

/// # Safety
/// As upstream's `yk_doc_update_multi`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_update_multi_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    ids: *const yk_id_t,
    documents: *const *const c_void,
    rsizes: *const usize,
    timeout_ms: f64,
) -> yk_return_t {
    let docs = Items::Multi { count, ptrs: documents, sizes: rsizes };
    // SAFETY: the handle, name, ids and arrays as the contract says.
    unsafe { update("yk_doc_update_multi", dbh, collection, mode, timeout_ms, ids, docs) }
}

/// # Safety
/// As upstream's `yk_doc_update_packed`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_update_packed_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    ids: *const yk_id_t,
    documents: *const c_void,
    rsizes: *const usize,
    timeout_ms: f64,
) -> yk_return_t {
    let docs = Items::Packed { count, buf: documents, sizes: rsizes };
    // SAFETY: the handle, name, ids, buffer and sizes as the contract says.
    unsafe { update("yk_doc_update_packed", dbh, collection, mode, timeout_ms, ids, docs) }
}

// ---------------------------------------------------------------- erase

/// # Safety
/// As upstream's `yk_doc_erase`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_erase_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    id: yk_id_t,
    timeout_ms: f64,
) -> yk_return_t {
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_doc_erase", dbh, collection, mode, timeout_ms, |c, db, n| db.doc_erase(c.opts(), n, &[id])) }
}

/// # Safety
/// As upstream's `yk_doc_erase_multi`.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_erase_multi_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    ids_ptr: *const yk_id_t,
    timeout_ms: f64,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: NULL or `count` ids (the contract).
        let ids = unsafe { ids(ids_ptr, count) }?;
        db.doc_erase(c.opts(), n, ids)
    };
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_doc_erase_multi", dbh, collection, mode, timeout_ms, op) }
}

// ---------------------------------------------------------------- list, iter

/// A listing written slot by slot: ids into `out_ids`, documents into the
/// output `out` makes; slots past the last document say
/// `YOKAN_NO_MORE_DOCS` in both. With `YOKAN_MODE_IGNORE_DOCS` only the ids
/// (sizes 0).
///
/// # Safety
/// As [`on_collection`]; `out_ids` NULL or `max` writable ids; `out` makes
/// an output with room for `max` sizes.
#[allow(clippy::too_many_arguments)]
unsafe fn list<'a>(
    entry: &'static str,
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    timeout_ms: f64,
    from: yk_id_t,
    max: usize,
    out_ids: *mut yk_id_t,
    out: impl FnOnce() -> Result<Out<'a>>,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        if max == 0 {
            return Ok(());
        }
        // SAFETY: NULL or `max` writable ids (this function's contract).
        let ids = unsafe { array_mut(out_ids, max, "ids array") }?;
        let mut docs = out()?;
        let with_docs = mode & mode::IGNORE_DOCS == 0;
        let listed = if max == 0 || from >= NO_MORE_DOCS { Vec::new() } else { db.doc_list(c.opts(), n, from, max, with_docs)? };
        for (i, slot) in ids.iter_mut().enumerate() {
            match listed.get(i) {
                Some((id, d)) => {
                    *slot = *id;
                    docs.put(i, Some(if with_docs { d.as_slice() } else { &[] }))?;
                }
                None => {
                    *slot = NO_MORE_DOCS;
                    docs.end(i);
                }
            }
        }
        Ok(())
    };
    // SAFETY: the handle and name as this function's contract says.
    unsafe { on_collection(entry, dbh, collection, mode, timeout_ms, op) }
}

/// Only the default filter (every document) is provided: the filter bytes
/// mean nothing without `LUA_FILTER` / `LIB_FILTER`, which the provider
/// refuses. They are checked for a NULL pointer all the same.
///
/// # Safety
/// `filter` NULL or `filter_size` readable bytes.
unsafe fn check_filter(filter: *const c_void, filter_size: usize) -> Result<()> {
    // SAFETY: NULL or `filter_size` bytes (this function's contract).
    unsafe { bytes(filter, filter_size, "filter") }.map(|_| ())
}

/// # Safety
/// As upstream's `yk_doc_list`: `max` ids, document buffers and capacities.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_list_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    start_id: yk_id_t,
    filter: *const c_void,
    filter_size: usize,
    max: usize,
    ids: *mut yk_id_t,
    docs: *const *mut c_void,
    doc_sizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let out = || {
        // SAFETY: NULL or `filter_size` bytes (the contract).
        unsafe { check_filter(filter, filter_size) }?;
        // SAFETY: `docs` and `doc_sizes` hold `max` slots and their capacities (the contract).
        unsafe { Out::slots(docs, doc_sizes, max, Role::Document, "document buffer") }
    };
    // SAFETY: the handle, name and ids as the contract says.
    unsafe { list("yk_doc_list", dbh, collection, mode, timeout_ms, start_id, max, ids, out) }
}

/// # Safety
/// As upstream's `yk_doc_list_packed`: `max` ids and sizes, one buffer of
/// `bufsize` bytes.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_list_packed_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    start_id: yk_id_t,
    filter: *const c_void,
    filter_size: usize,
    max: usize,
    ids: *mut yk_id_t,
    bufsize: usize,
    docs: *mut c_void,
    doc_sizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let out = || {
        // SAFETY: NULL or `filter_size` bytes (the contract).
        unsafe { check_filter(filter, filter_size) }?;
        // SAFETY: `doc_sizes` holds `max` writable sizes (the contract).
        let sizes = unsafe { array_mut(doc_sizes, max, "document sizes array") }?;
        // SAFETY: `docs` holds `bufsize` writable bytes (the contract).
        let buf = unsafe { buffer_mut(docs, bufsize, "documents buffer") }?;
        Ok(Out::packed(buf, sizes))
    };
    // SAFETY: the handle, name and ids as the contract says.
    unsafe { list("yk_doc_list_packed", dbh, collection, mode, timeout_ms, start_id, max, ids, out) }
}

/// # Safety
/// As upstream's `yk_doc_iter`: up to `max` documents (0: all) from
/// `start_id` on, each handed to `cb` on the calling thread.
#[no_mangle]
pub unsafe extern "C" fn yk_doc_iter_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    start_id: yk_id_t,
    filter: *const c_void,
    filter_size: usize,
    max: usize,
    cb: yk_document_callback_t,
    uargs: *mut c_void,
    options: *const yk_doc_iter_options,
    timeout_ms: f64,
) -> yk_return_t {
    let op = |c: Call, db: &Database, n: &str| {
        let cb = cb.ok_or_else(|| YokanError::args("NULL callback"))?;
        // SAFETY: NULL or `filter_size` bytes (the contract).
        unsafe { check_filter(filter, filter_size) }?;
        // SAFETY: NULL or valid options (the contract).
        let batch = unsafe { options.as_ref() }.map_or(0, |o| o.batch_size as usize);
        let batch = if batch == 0 { ITER_BATCH } else { batch };
        let limit = if max == 0 { usize::MAX } else { max };
        let with_docs = mode & mode::IGNORE_DOCS == 0;
        let (mut from, mut index) = (start_id, 0usize);
        let mut walk = || -> Result<()> {
            while index < limit && from < NO_MORE_DOCS {
                let ask = batch.min(limit - index);
                let listed = db.doc_list(c.opts(), n, from, ask, with_docs)?;
                for (id, d) in &listed {
                    // SAFETY: the caller's callback with its `uargs` (the
                    // contract), given pointers valid during the call.
                    callback_result(unsafe { cb(uargs, index, *id, d.as_ptr() as *const c_void, d.len()) })?;
                    index += 1;
                }
                match listed.last() {
                    Some((last, _)) if listed.len() == ask => from = last + 1,
                    _ => break,
                }
            }
            Ok(())
        };
        stop_is_success(walk())
    };
    // SAFETY: the handle and name as the contract says.
    unsafe { on_collection("yk_doc_iter", dbh, collection, mode, timeout_ms, op) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinels_match_upstream() {
        assert_eq!(NO_MORE_DOCS as usize, super::super::buffers::NO_MORE_KEYS);
        assert_eq!(KEY_NOT_FOUND, usize::MAX);
        assert!(callback_result(0).is_ok());
        assert_eq!(stop_is_success(callback_result(code::STOP_ITERATION)), Ok(()));
        assert_eq!(callback_result(5).unwrap_err().code, 5);
    }
}
