//! The `_bulk` forms of the document operations (`yokan/collection.h`):
//! store, update, load and list read (and write back) their payload
//! through the caller's bulk handle in upstream's layouts, as the key-value
//! `_bulk` operations do (`bulk.rs`: the payload is moved on the client);
//! fetch and iter hand each batch of documents to a callback as a bulk
//! handle over this process's memory, with this process's address.
#![allow(non_camel_case_types)]

use super::bulk::{run, Needs, Payload};
use super::client::{yk_database_handle_t, yk_return_t};
use super::collection::{
    callback_result, ids as id_array, name as collection_name, stop_is_success, yk_doc_fetch_options, yk_doc_iter_options,
};
use super::database::Call;
use super::payload;
use crate::ffi::bulk::{margo_bulk_create, margo_bulk_free, READ_ONLY};
use crate::ffi::handles::margo_instance_id;
use crate::ffi::hg::{hg_addr_t, hg_bulk_t, hg_return};
use crate::ffi::margo::{margo_addr_free, margo_addr_self};
use crate::yokan::client::Database;
use crate::yokan::collection::NO_MORE_DOCS;
use crate::yokan::error::{code, Result, YokanError};
use crate::yokan::mode;
use std::ffi::{c_char, c_void};

/// Stores the payload's `count` documents (`count` sizes, then the
/// documents back to back), their ids into `ids`. Errors as
/// [`yk_put_bulk_timed`]'s, then `yk_doc_store_packed`'s.
///
/// # Safety
/// As [`yk_put_bulk_timed`]; `collection` NULL or NUL-terminated; `ids`
/// NULL or `count` writable ids.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_doc_store_bulk_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    size: usize,
    ids: *mut u64,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_doc_store_bulk", dbh, mode, timeout_ms);
    let op = |db: &Database, p: &Payload| {
        // SAFETY: NULL or NUL-terminated (the contract).
        let name = unsafe { collection_name(collection) }?;
        if ids.is_null() {
            return Err(YokanError::args("NULL ids array"));
        }
        let docs = payload::read_documents(p, size, count)?;
        let given = db.doc_store(p.opts(mode)?, name, &docs.list())?;
        // SAFETY: non-NULL (checked above), `count` writable ids (the contract).
        unsafe { std::slice::from_raw_parts_mut(ids, count) }.copy_from_slice(&given);
        Ok(())
    };
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || Ok(size), Needs::Read, op) }
}

/// Replaces the documents of the `count` ids with the payload's (laid out
/// as [`yk_doc_store_bulk_timed`]'s). Errors as it, then
/// `yk_doc_update_packed`'s.
///
/// # Safety
/// As [`yk_doc_store_bulk_timed`]; `ids` NULL or `count` ids.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_doc_update_bulk_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    ids: *const u64,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    size: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_doc_update_bulk", dbh, mode, timeout_ms);
    let op = |db: &Database, p: &Payload| {
        // SAFETY: NULL or NUL-terminated (the contract).
        let name = unsafe { collection_name(collection) }?;
        // SAFETY: NULL or `count` ids (the contract).
        let ids = unsafe { id_array(ids, count) }?;
        let docs = payload::read_documents(p, size, count)?;
        db.doc_update(p.opts(mode)?, name, ids, &docs.list())
    };
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || Ok(size), Needs::Read, op) }
}

/// Loads the documents of the `count` ids into the payload: `count` sizes,
/// then the document area (the rest). `packed`: back to back (as
/// `yk_doc_load_packed`); otherwise slot `i` has the capacity size `i`
/// gives (as `yk_doc_load_multi`). Each size gets the document's size,
/// `YOKAN_KEY_NOT_FOUND` or `YOKAN_SIZE_TOO_SMALL`. The handle must be
/// `HG_BULK_READWRITE`. Errors as [`yk_exists_bulk_timed`]'s.
///
/// # Safety
/// As [`yk_doc_update_bulk_timed`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_doc_load_bulk_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    ids: *const u64,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    size: usize,
    packed: bool,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_doc_load_bulk", dbh, mode, timeout_ms);
    let op = |db: &Database, p: &Payload| {
        // SAFETY: NULL or NUL-terminated (the contract).
        let name = unsafe { collection_name(collection) }?;
        // SAFETY: NULL or `count` ids (the contract).
        let ids = unsafe { id_array(ids, count) }?;
        p.push(payload::load_documents(p, size, count, packed, || db.doc_load(p.opts(mode)?, name, ids))?)
    };
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || Ok(size), Needs::ReadWrite, op) }
}

/// Lists up to `count` documents from `from_id` on into the payload
/// (upstream's layout: the filter, `count` sizes, `count` ids, the document
/// area of `docs_buf_size` bytes; see `payload::list_documents`). The
/// handle must be `HG_BULK_READWRITE`. Errors as
/// [`yk_exists_bulk_timed`]'s, then `yk_doc_list`'s.
///
/// # Safety
/// As [`yk_doc_store_bulk_timed`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_doc_list_bulk_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    from_id: u64,
    filter_size: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    docs_buf_size: usize,
    packed: bool,
    count: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_doc_list_bulk", dbh, mode, timeout_ms);
    let size = || {
        count
            .checked_mul(payload::WORD + std::mem::size_of::<u64>())
            .and_then(|n| n.checked_add(filter_size))
            .and_then(|n| n.checked_add(docs_buf_size))
            .ok_or_else(|| YokanError::args("the payload's size overflows"))
    };
    let op = |db: &Database, p: &Payload| {
        // SAFETY: NULL or NUL-terminated (the contract).
        let name = unsafe { collection_name(collection) }?;
        let with_docs = mode & mode::IGNORE_DOCS == 0;
        p.push(payload::list_documents(p, filter_size, count, docs_buf_size, packed, || {
            db.doc_list(p.opts(mode)?, name, from_id, count, with_docs)
        })?)
    };
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, size, Needs::ReadWrite, op) }
}

/// `yk_document_bulk_callback_t`: (user args, index of the batch's first
/// document, documents in the batch, bulk handle, its address, its size).
pub type yk_document_bulk_callback_t = Option<
    unsafe extern "C" fn(uargs: *mut c_void, start: usize, count: usize, bulk: hg_bulk_t, addr: hg_addr_t, size: usize) -> i32,
>;

/// A batch of documents as a bulk callback sees it: a read-only bulk handle
/// over `bytes` in this process and this process's address, freed when
/// dropped (after the callback returned: it may transfer from the handle
/// while it runs, not later).
struct Exposed {
    mid: margo_instance_id,
    bulk: hg_bulk_t,
    addr: hg_addr_t,
    bytes: Vec<u8>,
}

impl Exposed {
    fn new(mid: margo_instance_id, mut bytes: Vec<u8>) -> Result<Exposed> {
        let mut ptr = bytes.as_mut_ptr() as *mut c_void;
        let len = bytes.len() as u64;
        let mut bulk: hg_bulk_t = std::ptr::null_mut();
        // SAFETY: one segment of `len` bytes that `bytes` owns; it stays put
        // (the Vec is moved, not reallocated) until `drop` frees the handle.
        let r = unsafe { margo_bulk_create(mid, 1, &mut ptr, &len, READ_ONLY, &mut bulk) };
        if r != hg_return::HG_SUCCESS {
            return Err(YokanError::new(code::FROM_MERCURY, format!("cannot expose the documents for the callback ({r:?})")));
        }
        let mut addr: hg_addr_t = std::ptr::null_mut();
        // SAFETY: `addr` is writable.
        if unsafe { margo_addr_self(mid, &mut addr) } != hg_return::HG_SUCCESS {
            // SAFETY: made just above, not handed out.
            unsafe { margo_bulk_free(bulk) };
            return Err(YokanError::new(code::FROM_MERCURY, "cannot get this process's address for the callback"));
        }
        Ok(Exposed { mid, bulk, addr, bytes })
    }

    /// Calls `cb` with the batch (`start`: index of its first document).
    ///
    /// # Safety
    /// `cb` with `uargs` as the caller's contract says.
    unsafe fn hand(&self, cb: BulkCallback, uargs: *mut c_void, start: usize, count: usize) -> Result<()> {
        // SAFETY: the caller's callback and `uargs` (this function's
        // contract); the handle and address stay valid during the call.
        callback_result(unsafe { cb(uargs, start, count, self.bulk, self.addr, self.bytes.len()) })
    }
}

impl Drop for Exposed {
    fn drop(&mut self) {
        // SAFETY: both were made in `new` and are freed once, here.
        unsafe {
            margo_bulk_free(self.bulk);
            margo_addr_free(self.mid, self.addr);
        }
    }
}

type BulkCallback = unsafe extern "C" fn(*mut c_void, usize, usize, hg_bulk_t, hg_addr_t, usize) -> i32;

/// `count` sizes (`size_t`, this machine's order), each document's size or
/// `YOKAN_KEY_NOT_FOUND`, then the documents back to back.
fn sizes_then_docs(docs: &[Option<&[u8]>]) -> Vec<u8> {
    let sizes: Vec<usize> = docs.iter().map(|d| d.map_or(super::buffers::KEY_NOT_FOUND, <[u8]>::len)).collect();
    let mut out = payload::word_bytes(&sizes);
    for d in docs.iter().flatten() {
        out.extend_from_slice(d);
    }
    out
}

/// Hands the documents of `ids` to `cb` in batches of the options'
/// `batch_size` (0: all at once), each as a bulk handle holding the batch's
/// sizes (`YOKAN_KEY_NOT_FOUND` for an absent document) then the documents.
/// A callback's non-zero result stops (`YOKAN_STOP_ITERATION`: success).
///
/// # Safety
/// `dbh` NULL or a live handle; `collection` NULL or NUL-terminated; `ids`
/// NULL or `count` ids; `cb` and `uargs` as upstream's; `options` NULL or valid.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_doc_fetch_bulk_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    count: usize,
    ids: *const u64,
    cb: yk_document_bulk_callback_t,
    uargs: *mut c_void,
    options: *const yk_doc_fetch_options,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_doc_fetch_bulk", dbh, mode, timeout_ms);
    let f = |h: &super::client::HandleBox| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: NULL or NUL-terminated (the contract).
        let name = unsafe { collection_name(collection) }?;
        let cb = cb.ok_or_else(|| YokanError::args("NULL callback"))?;
        // SAFETY: NULL or `count` ids (the contract).
        let ids = unsafe { id_array(ids, count) }?;
        // SAFETY: NULL or valid options (the contract).
        let batch = unsafe { options.as_ref() }.map_or(0, |o| o.batch_size as usize);
        let batch = if batch == 0 { count } else { batch };
        let walk = || -> Result<()> {
            for (b, chunk) in ids.chunks(batch).enumerate() {
                let docs = h.db.doc_load(call.opts(), name, chunk)?;
                let refs: Vec<Option<&[u8]>> = docs.iter().map(Option::as_deref).collect();
                let exposed = Exposed::new(h.mid, sizes_then_docs(&refs))?;
                // SAFETY: the callback and `uargs` as the contract says.
                unsafe { exposed.hand(cb, uargs, b * batch, chunk.len()) }?;
            }
            Ok(())
        };
        stop_is_success(walk())
    };
    // SAFETY: `dbh` is NULL or live (the contract).
    unsafe { call.run_handle(f) }
}

/// Hands up to `max` documents (0: all) from `start_id` on to `cb`, in
/// batches of the options' `batch_size` (0: 64), each as a bulk handle
/// holding the batch's ids (`yk_id_t`), then their sizes, then the
/// documents. Only the default filter is provided (see `yk_doc_iter`).
///
/// # Safety
/// As [`yk_doc_fetch_bulk_timed`]; `filter` NULL or `filter_size` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_doc_iter_bulk_timed(
    dbh: yk_database_handle_t,
    collection: *const c_char,
    mode: i32,
    start_id: u64,
    filter: *const c_void,
    filter_size: usize,
    max: usize,
    cb: yk_document_bulk_callback_t,
    uargs: *mut c_void,
    options: *const yk_doc_iter_options,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_doc_iter_bulk", dbh, mode, timeout_ms);
    let f = |h: &super::client::HandleBox| {
        // SAFETY: NULL or NUL-terminated (the contract).
        let name = unsafe { collection_name(collection) }?;
        let cb = cb.ok_or_else(|| YokanError::args("NULL callback"))?;
        if filter.is_null() && filter_size > 0 {
            return Err(YokanError::args(format!("NULL filter with a size of {filter_size}")));
        }
        // SAFETY: NULL or valid options (the contract).
        let batch = unsafe { options.as_ref() }.map_or(0, |o| o.batch_size as usize);
        let batch = if batch == 0 { super::collection::ITER_BATCH } else { batch };
        let limit = if max == 0 { usize::MAX } else { max };
        let with_docs = mode & mode::IGNORE_DOCS == 0;
        let walk = || -> Result<()> {
            let (mut from, mut index) = (start_id, 0usize);
            while index < limit && from < NO_MORE_DOCS {
                let ask = batch.min(limit - index);
                let listed = h.db.doc_list(call.opts(), name, from, ask, with_docs)?;
                if listed.is_empty() {
                    break;
                }
                let mut bytes: Vec<u8> = listed.iter().flat_map(|(id, _)| id.to_ne_bytes()).collect();
                let refs: Vec<Option<&[u8]>> = listed.iter().map(|(_, d)| Some(d.as_slice())).collect();
                bytes.extend(sizes_then_docs(&refs));
                let exposed = Exposed::new(h.mid, bytes)?;
                // SAFETY: the callback and `uargs` as the contract says.
                unsafe { exposed.hand(cb, uargs, index, listed.len()) }?;
                index += listed.len();
                match listed.last() {
                    Some((last, _)) if listed.len() == ask => from = last + 1,
                    _ => break,
                }
            }
            Ok(())
        };
        stop_is_success(walk())
    };
    // SAFETY: `dbh` is NULL or live (the contract).
    unsafe { call.run_handle(f) }
}
