//! `yokan/database.h`: the key-value operations, with upstream's output
//! conventions (size sentinels, exists bitfields, packed buffers). Each is
//! the non-variadic `yk_*_timed` form the header's inline wrappers call.
//!
//! The one, `_multi` and `_packed` forms of an operation differ only in how
//! C passes the keys ([`Items`]) and takes the results back ([`Out`]): each
//! exported function says which, and hands over to the [`Call`] method that
//! does the operation.
#![allow(non_camel_case_types)]

use super::buffers::{array_mut, buffer_mut, bytes, Items, Out, Role};
pub use super::buffers::{KEY_NOT_FOUND, NO_MORE_KEYS, SIZE_TOO_SMALL};
use super::client::{ret_err, yk_database_handle, yk_database_handle_t, yk_return_t, HandleBox};
use crate::ffi::handles::boxed_ref;
use crate::ffi::hg::ABT_pool;
use crate::ffi::panic::guard;
use crate::yokan::client::{Database, Opts};
use crate::yokan::error::{code, Result, YokanError};
use crate::yokan::mode;
use std::ffi::{c_char, c_void, CStr};
use std::time::Duration;

/// `yk_keyvalue_callback_t`.
pub type yk_keyvalue_callback_t = Option<
    unsafe extern "C" fn(
        uargs: *mut c_void,
        index: usize,
        key: *const c_void,
        ksize: usize,
        val: *const c_void,
        vsize: usize,
    ) -> i32,
>;

/// `yk_fetch_options_t` (upstream's field order).
#[repr(C)]
pub struct yk_fetch_options {
    pub pool: ABT_pool,
    pub batch_size: u32,
}

/// `yk_iter_options_t` (upstream's field order, unlike the fetch options).
#[repr(C)]
pub struct yk_iter_options {
    pub batch_size: u32,
    pub pool: ABT_pool,
    pub ignore_values: bool,
}

pub(super) fn opts(mode: i32, timeout_ms: f64) -> Opts {
    // A timeout beyond a year is no timeout in practice; clamping keeps the
    // deadline arithmetic (and Duration's own range) out of trouble.
    const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);
    let timeout = (timeout_ms.is_finite() && timeout_ms > 0.0)
        .then(|| Duration::try_from_secs_f64(timeout_ms / 1000.0).unwrap_or(LONGEST).min(LONGEST));
    Opts { mode, timeout }
}

/// What every operation gets besides its buffers, and its name for the log.
#[derive(Clone, Copy)]
pub(super) struct Call {
    pub(super) entry: &'static str,
    dbh: yk_database_handle_t,
    pub(super) mode: i32,
    pub(super) timeout_ms: f64,
}

impl Call {
    pub(super) fn new(entry: &'static str, dbh: yk_database_handle_t, mode: i32, timeout_ms: f64) -> Call {
        Call { entry, dbh, mode, timeout_ms }
    }

    /// The request's options. Only called inside [`Call::run`]: a timeout
    /// too large for a `Duration` panics, and the boundary turns that into
    /// an error code.
    pub(super) fn opts(self) -> Opts {
        opts(self.mode, self.timeout_ms)
    }

    /// Runs the operation on the handle: NULL check, panic boundary, one log
    /// line on error.
    ///
    /// # Safety
    /// `dbh` must be NULL or a live handle from `yk_database_handle_create`.
    pub(super) unsafe fn run(self, f: impl FnOnce(&Database) -> Result<()>) -> yk_return_t {
        // SAFETY: `dbh` is NULL or live (this function's contract).
        unsafe { self.run_handle(|h| f(&h.db)) }
    }

    /// [`Call::run`] for an operation that needs more of the handle than
    /// its database (the `_bulk` operations: its margo instance).
    ///
    /// # Safety
    /// As [`Call::run`].
    pub(super) unsafe fn run_handle(self, f: impl FnOnce(&HandleBox) -> Result<()>) -> yk_return_t {
        guard(self.entry, code::OTHER, || {
            // SAFETY: NULL or a live handle (this function's contract).
            let Some(h) = (unsafe { boxed_ref::<yk_database_handle>(self.dbh) }) else {
                return ret_err(self.entry, YokanError::args("NULL database handle"));
            };
            match f(h) {
                Ok(()) => code::SUCCESS,
                Err(e) => ret_err(self.entry, e),
            }
        })
    }

    /// [`Call::run`] for an operation on keys: with none (a count of 0)
    /// there is nothing to do and nothing is read; otherwise `op` gets them.
    ///
    /// # Safety
    /// As [`Call::run`]; `keys` as [`Items::read`] requires.
    unsafe fn on_keys(self, keys: Items, op: impl FnOnce(&Database, &[&[u8]]) -> Result<()>) -> yk_return_t {
        let op = |db: &Database| {
            if keys.count() == 0 {
                return Ok(());
            }
            // SAFETY: `keys` holds what it describes (this function's contract).
            let keys = unsafe { keys.read(Role::Key) }?;
            op(db, &keys)
        };
        // SAFETY: `dbh` is NULL or live (this function's contract).
        unsafe { self.run(op) }
    }

    /// # Safety
    /// As [`Call::on_keys`]; `values` as [`Items::read`] requires, one per key.
    unsafe fn put(self, keys: Items, values: Items) -> yk_return_t {
        let op = |db: &Database, keys: &[&[u8]]| {
            // SAFETY: `values` holds what it describes (this function's contract).
            let values = unsafe { values.read(Role::Value) }?;
            let pairs: Vec<(&[u8], &[u8])> = keys.iter().copied().zip(values).collect();
            db.put(self.opts(), &pairs)
        };
        // SAFETY: `dbh` and `keys` as this function's contract requires.
        unsafe { self.on_keys(keys, op) }
    }

    /// # Safety
    /// As [`Call::on_keys`]; `flags` as [`exists_into`] requires.
    unsafe fn exists(self, keys: Items, flags: *mut u8) -> yk_return_t {
        // SAFETY: `flags` as this function's contract requires.
        let op = |db: &Database, keys: &[&[u8]]| unsafe { exists_into(db, self.opts(), keys, flags) };
        // SAFETY: `dbh` and `keys` as this function's contract requires.
        unsafe { self.on_keys(keys, op) }
    }

    /// # Safety
    /// As [`Call::on_keys`]; `vsizes` as [`length_into`] requires.
    unsafe fn length(self, keys: Items, vsizes: *mut usize) -> yk_return_t {
        // SAFETY: `vsizes` as this function's contract requires.
        let op = |db: &Database, keys: &[&[u8]]| unsafe { length_into(db, self.opts(), keys, vsizes) };
        // SAFETY: `dbh` and `keys` as this function's contract requires.
        unsafe { self.on_keys(keys, op) }
    }

    /// The values of `keys` into the output `out` makes once the keys are read.
    ///
    /// # Safety
    /// As [`Call::on_keys`]; `out` makes an output with room for one size per key.
    unsafe fn get<'a>(self, keys: Items, out: impl FnOnce() -> Result<Out<'a>>) -> yk_return_t {
        let op = |db: &Database, keys: &[&[u8]]| {
            let mut out = out()?;
            let got = db.get(self.opts(), keys)?;
            for (i, v) in got.iter().enumerate() {
                out.put(i, v.as_deref())?;
            }
            Ok(())
        };
        // SAFETY: `dbh` and `keys` as this function's contract requires.
        unsafe { self.on_keys(keys, op) }
    }

    /// # Safety
    /// As [`Call::on_keys`]; `cb` and `uargs` as [`fetch_keys`] requires;
    /// `options` NULL or valid.
    unsafe fn fetch(
        self,
        keys: Items,
        cb: yk_keyvalue_callback_t,
        uargs: *mut c_void,
        options: *const yk_fetch_options,
    ) -> yk_return_t {
        let op = |db: &Database, keys: &[&[u8]]| {
            // SAFETY: `options` is NULL or valid options (this function's contract).
            let batch = unsafe { options.as_ref() }.map(|o| o.batch_size as usize).unwrap_or(0);
            // SAFETY: `cb` and `uargs` as this function's contract requires.
            unsafe { fetch_keys(db, self.opts(), keys, cb, uargs, batch) }
        };
        // SAFETY: `dbh` and `keys` as this function's contract requires.
        unsafe { self.on_keys(keys, op) }
    }

    /// # Safety
    /// As [`Call::on_keys`].
    unsafe fn erase(self, keys: Items) -> yk_return_t {
        let op = |db: &Database, keys: &[&[u8]]| db.erase(self.opts(), keys);
        // SAFETY: `dbh` and `keys` as this function's contract requires.
        unsafe { self.on_keys(keys, op) }
    }

    /// A listing written slot by slot into the key output (and the value
    /// output, when there is one) that `outputs` makes; slots past the last
    /// item say `NO_MORE_KEYS`. With a count of 0 there is nothing to do;
    /// the outputs are made (and checked) before the database is asked.
    ///
    /// # Safety
    /// As [`Call::run`]; `listing` as [`Listing::read`] requires; `outputs`
    /// makes outputs with room for `listing.count` sizes.
    unsafe fn list<'a>(self, listing: Listing, outputs: impl FnOnce() -> Result<(Out<'a>, Option<Out<'a>>)>) -> yk_return_t {
        let op = |db: &Database| {
            if listing.count == 0 {
                return Ok(());
            }
            let (mut keys, mut values) = outputs()?;
            // SAFETY: `listing` holds what it describes (this function's contract).
            let items = unsafe { listing.read(db, self.opts(), values.is_some()) }?;
            for i in 0..listing.count {
                match items.get(i) {
                    Some((k, v)) => {
                        keys.put(i, Some(k))?;
                        if let Some(values) = values.as_mut() {
                            values.put(i, Some(v))?;
                        }
                    }
                    None => {
                        keys.end(i);
                        if let Some(values) = values.as_mut() {
                            values.end(i);
                        }
                    }
                }
            }
            Ok(())
        };
        // SAFETY: `dbh` is NULL or live (this function's contract).
        unsafe { self.run(op) }
    }
}

/// Where a listing starts, which keys it keeps and how many it returns, as
/// C passes them.
#[derive(Clone, Copy)]
struct Listing {
    from_key: *const c_void,
    from_ksize: usize,
    filter: *const c_void,
    filter_size: usize,
    count: usize,
}

impl Listing {
    /// # Safety
    /// `from_key` must hold `from_ksize` readable bytes and `filter`
    /// `filter_size`, each unless NULL.
    unsafe fn read(self, db: &Database, o: Opts, with_values: bool) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        // SAFETY: `from_key` holds `from_ksize` bytes (this function's contract).
        let from = unsafe { bytes(self.from_key, self.from_ksize, "from_key")? };
        // SAFETY: `filter` holds `filter_size` bytes (this function's contract).
        let filter = unsafe { bytes(self.filter, self.filter_size, "filter")? };
        db.list(o, from, filter, self.count, with_values)
    }
}

/// Writes the exists bitfield of `keys` (bit `i % 8` of byte `i / 8`).
///
/// # Safety
/// `flags` must be NULL or hold ceil(keys.len() / 8) writable bytes
/// (upstream's contract).
unsafe fn exists_into(db: &Database, o: Opts, keys: &[&[u8]], flags: *mut u8) -> Result<()> {
    // SAFETY: ceil(count/8) bytes unless NULL (this function's contract).
    let out = unsafe { array_mut(flags, keys.len().div_ceil(8), "flags buffer")? };
    let found = db.exists(o, keys)?;
    exists_bits(&found, out);
    Ok(())
}

/// Upstream's exists bitfield: `out` (`ceil(found.len() / 8)` bytes)
/// zeroed, then bit `i % 8` of byte `i / 8` set for each key found.
pub(super) fn exists_bits(found: &[bool], out: &mut [u8]) {
    out.fill(0);
    for (i, f) in found.iter().enumerate() {
        if *f {
            out[i / 8] |= 1 << (i % 8);
        }
    }
}

/// A value size as C sees it: `KEY_NOT_FOUND` for an absent key.
pub(super) fn size_or_not_found(size: Option<u64>) -> usize {
    size.map(|s| s as usize).unwrap_or(KEY_NOT_FOUND)
}

/// Writes the value size of each key, `KEY_NOT_FOUND` for absent ones.
///
/// # Safety
/// `vsizes` must be NULL or hold one writable size per key.
unsafe fn length_into(db: &Database, o: Opts, keys: &[&[u8]], vsizes: *mut usize) -> Result<()> {
    // SAFETY: one size per key unless NULL (this function's contract).
    let out = unsafe { array_mut(vsizes, keys.len(), "value sizes array")? };
    let sizes = db.length(o, keys)?;
    for (o, s) in out.iter_mut().zip(sizes) {
        *o = size_or_not_found(s);
    }
    Ok(())
}

/// Reads the keys in batches and hands each value to `cb` (on the calling
/// thread); a non-zero callback result stops (STOP_ITERATION: success).
///
/// # Safety
/// `cb` must be NULL or a function that may be called with `uargs` and
/// pointers that are valid during the call (upstream's contract).
pub(super) unsafe fn fetch_keys(
    db: &Database,
    o: Opts,
    keys: &[&[u8]],
    cb: yk_keyvalue_callback_t,
    uargs: *mut c_void,
    batch: usize,
) -> Result<()> {
    let cb = cb.ok_or_else(|| YokanError::args("NULL callback"))?;
    let batch = if batch == 0 { keys.len().max(1) } else { batch };
    for (b, chunk) in keys.chunks(batch).enumerate() {
        let got = db.get(o, chunk)?;
        for (i, (k, v)) in chunk.iter().zip(&got).enumerate() {
            let (vp, vs) = match v {
                Some(v) => (v.as_ptr() as *const c_void, v.len()),
                None => (std::ptr::null(), KEY_NOT_FOUND),
            };
            // SAFETY: the caller's callback with its `uargs` (this function's
            // contract), given pointers valid for the duration of the call.
            let r = unsafe { cb(uargs, b * batch + i, k.as_ptr() as *const c_void, k.len(), vp, vs) };
            match r {
                0 => {}
                c if c == code::STOP_ITERATION => return Ok(()),
                c => return Err(YokanError::new(c, "the callback returned an error")),
            }
        }
    }
    Ok(())
}

/// # Safety
/// `count` must be writable unless NULL.
#[no_mangle]
pub unsafe extern "C" fn yk_count_timed(dbh: yk_database_handle_t, mode: i32, count: *mut usize, timeout_ms: f64) -> yk_return_t {
    let call = Call::new("yk_count", dbh, mode, timeout_ms);
    let op = |db: &Database| {
        if count.is_null() {
            return Err(YokanError::args("NULL count pointer"));
        }
        let n = db.count(call.opts())?;
        // SAFETY: non-NULL (checked above), writable by the contract.
        unsafe { *count = n as usize };
        Ok(())
    };
    // SAFETY: `dbh` is NULL or live (the contract).
    unsafe { call.run(op) }
}

// ---------------------------------------------------------------- put

/// # Safety
/// Buffers as upstream's `yk_put`.
#[no_mangle]
pub unsafe extern "C" fn yk_put_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    key: *const c_void,
    ksize: usize,
    value: *const c_void,
    vsize: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::One { ptr: key, size: ksize };
    let values = Items::One { ptr: value, size: vsize };
    // SAFETY: the handle and buffers as upstream's `yk_put` (the contract).
    unsafe { Call::new("yk_put", dbh, mode, timeout_ms).put(keys, values) }
}

/// # Safety
/// Arrays of `count` entries as upstream's `yk_put_multi`.
#[no_mangle]
pub unsafe extern "C" fn yk_put_multi_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const *const c_void,
    ksizes: *const usize,
    values: *const *const c_void,
    vsizes: *const usize,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Multi { count, ptrs: keys, sizes: ksizes };
    let values = Items::Multi { count, ptrs: values, sizes: vsizes };
    // SAFETY: the handle and arrays as upstream's `yk_put_multi` (the contract).
    unsafe { Call::new("yk_put_multi", dbh, mode, timeout_ms).put(keys, values) }
}

/// # Safety
/// Packed buffers as upstream's `yk_put_packed`.
#[no_mangle]
pub unsafe extern "C" fn yk_put_packed_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const c_void,
    ksizes: *const usize,
    values: *const c_void,
    vsizes: *const usize,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Packed { count, buf: keys, sizes: ksizes };
    let values = Items::Packed { count, buf: values, sizes: vsizes };
    // SAFETY: the handle and buffers as upstream's `yk_put_packed` (the contract).
    unsafe { Call::new("yk_put_packed", dbh, mode, timeout_ms).put(keys, values) }
}

// ---------------------------------------------------------------- exists

/// # Safety
/// As upstream's `yk_exists` (one output byte).
#[no_mangle]
pub unsafe extern "C" fn yk_exists_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    key: *const c_void,
    ksize: usize,
    exists: *mut u8,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_exists", dbh, mode, timeout_ms);
    let op = |db: &Database| {
        if exists.is_null() {
            return Err(YokanError::args("NULL output pointer"));
        }
        // SAFETY: `key` holds `ksize` readable bytes (the contract).
        let k = unsafe { bytes(key, ksize, "key") }?;
        let found = db.exists(call.opts(), &[k])?;
        // SAFETY: non-NULL (checked above), writable by the contract.
        unsafe { *exists = found[0] as u8 };
        Ok(())
    };
    // SAFETY: `dbh` is NULL or live (the contract).
    unsafe { call.run(op) }
}

/// # Safety
/// As upstream's `yk_exists_multi`; `flags` holds ceil(count/8) bytes.
#[no_mangle]
pub unsafe extern "C" fn yk_exists_multi_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const *const c_void,
    ksizes: *const usize,
    flags: *mut u8,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Multi { count, ptrs: keys, sizes: ksizes };
    // SAFETY: the handle, arrays and flags as upstream's `yk_exists_multi` (the contract).
    unsafe { Call::new("yk_exists_multi", dbh, mode, timeout_ms).exists(keys, flags) }
}

/// # Safety
/// As upstream's `yk_exists_packed`; `flags` holds ceil(count/8) bytes.
#[no_mangle]
pub unsafe extern "C" fn yk_exists_packed_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const c_void,
    ksizes: *const usize,
    flags: *mut u8,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Packed { count, buf: keys, sizes: ksizes };
    // SAFETY: the handle, buffers and flags as upstream's `yk_exists_packed` (the contract).
    unsafe { Call::new("yk_exists_packed", dbh, mode, timeout_ms).exists(keys, flags) }
}

// ---------------------------------------------------------------- length

/// # Safety
/// As upstream's `yk_length`.
#[no_mangle]
pub unsafe extern "C" fn yk_length_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    key: *const c_void,
    ksize: usize,
    vsize: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_length", dbh, mode, timeout_ms);
    let op = |db: &Database| {
        if vsize.is_null() {
            return Err(YokanError::args("NULL output pointer"));
        }
        // SAFETY: `key` holds `ksize` readable bytes (the contract).
        let k = unsafe { bytes(key, ksize, "key") }?;
        let sizes = db.length(call.opts(), &[k])?;
        match sizes[0] {
            Some(s) => {
                // SAFETY: non-NULL (checked above), writable by the contract.
                unsafe { *vsize = s as usize };
                Ok(())
            }
            None => {
                // SAFETY: non-NULL (checked above), writable by the contract.
                unsafe { *vsize = KEY_NOT_FOUND };
                Err(YokanError::not_found())
            }
        }
    };
    // SAFETY: `dbh` is NULL or live (the contract).
    unsafe { call.run(op) }
}

/// # Safety
/// As upstream's `yk_length_multi`.
#[no_mangle]
pub unsafe extern "C" fn yk_length_multi_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const *const c_void,
    ksizes: *const usize,
    vsizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Multi { count, ptrs: keys, sizes: ksizes };
    // SAFETY: the handle and arrays as upstream's `yk_length_multi` (the contract).
    unsafe { Call::new("yk_length_multi", dbh, mode, timeout_ms).length(keys, vsizes) }
}

/// # Safety
/// As upstream's `yk_length_packed`.
#[no_mangle]
pub unsafe extern "C" fn yk_length_packed_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const c_void,
    ksizes: *const usize,
    vsizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Packed { count, buf: keys, sizes: ksizes };
    // SAFETY: the handle, buffer and arrays as upstream's `yk_length_packed` (the contract).
    unsafe { Call::new("yk_length_packed", dbh, mode, timeout_ms).length(keys, vsizes) }
}

// ---------------------------------------------------------------- get

/// # Safety
/// As upstream's `yk_get`: `*vsize` is the capacity of `value` in, the
/// value's size (or a sentinel) out.
#[no_mangle]
pub unsafe extern "C" fn yk_get_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    key: *const c_void,
    ksize: usize,
    value: *mut c_void,
    vsize: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_get", dbh, mode, timeout_ms);
    let op = |db: &Database| {
        if vsize.is_null() {
            return Err(YokanError::args("NULL value size pointer"));
        }
        // SAFETY: non-NULL (checked above), readable by the contract.
        let capacity = unsafe { *vsize };
        // SAFETY: `value` holds `capacity` writable bytes (the contract).
        let out = unsafe { buffer_mut(value, capacity, "value buffer") }?;
        // SAFETY: `key` holds `ksize` readable bytes (the contract).
        let k = unsafe { bytes(key, ksize, "key") }?;
        let got = db.get(call.opts(), &[k])?;
        match &got[0] {
            None => {
                // SAFETY: non-NULL (checked above), writable by the contract.
                unsafe { *vsize = KEY_NOT_FOUND };
                Err(YokanError::not_found())
            }
            Some(v) if v.len() > capacity => {
                // SAFETY: non-NULL (checked above), writable by the contract.
                unsafe { *vsize = SIZE_TOO_SMALL };
                Err(YokanError::new(code::BUFFER_SIZE, format!("the value has {} bytes, the buffer {capacity}", v.len())))
            }
            Some(v) => {
                out[..v.len()].copy_from_slice(v);
                // SAFETY: non-NULL (checked above), writable by the contract.
                unsafe { *vsize = v.len() };
                Ok(())
            }
        }
    };
    // SAFETY: `dbh` is NULL or live (the contract).
    unsafe { call.run(op) }
}

/// # Safety
/// As upstream's `yk_get_multi`: per-slot buffers and capacities.
#[no_mangle]
pub unsafe extern "C" fn yk_get_multi_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const *const c_void,
    ksizes: *const usize,
    values: *const *mut c_void,
    vsizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Multi { count, ptrs: keys, sizes: ksizes };
    // SAFETY: `values` and `vsizes` hold `count` slots and their capacities (the contract).
    let out = || unsafe { Out::slots(values, vsizes, count, Role::Value, "value buffer") };
    // SAFETY: the handle and arrays as upstream's `yk_get_multi` (the contract).
    unsafe { Call::new("yk_get_multi", dbh, mode, timeout_ms).get(keys, out) }
}

/// # Safety
/// As upstream's `yk_get_packed`: one buffer of `vbufsize` bytes.
#[no_mangle]
pub unsafe extern "C" fn yk_get_packed_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const c_void,
    ksizes: *const usize,
    vbufsize: usize,
    values: *mut c_void,
    vsizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Packed { count, buf: keys, sizes: ksizes };
    let out = || {
        // SAFETY: `vsizes` holds `count` writable sizes (the contract).
        let sizes = unsafe { array_mut(vsizes, count, "value sizes array") }?;
        // SAFETY: `values` holds `vbufsize` writable bytes (the contract).
        let buf = unsafe { buffer_mut(values, vbufsize, "values buffer") }?;
        Ok(Out::packed(buf, sizes))
    };
    // SAFETY: the handle, buffers and arrays as upstream's `yk_get_packed` (the contract).
    unsafe { Call::new("yk_get_packed", dbh, mode, timeout_ms).get(keys, out) }
}

// ---------------------------------------------------------------- fetch

/// # Safety
/// As upstream's `yk_fetch`.
#[no_mangle]
pub unsafe extern "C" fn yk_fetch_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    key: *const c_void,
    ksize: usize,
    cb: yk_keyvalue_callback_t,
    uargs: *mut c_void,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::One { ptr: key, size: ksize };
    // SAFETY: the handle, key and callback as upstream's `yk_fetch` (the contract).
    unsafe { Call::new("yk_fetch", dbh, mode, timeout_ms).fetch(keys, cb, uargs, std::ptr::null()) }
}

/// # Safety
/// As upstream's `yk_fetch_multi`.
#[no_mangle]
pub unsafe extern "C" fn yk_fetch_multi_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const *const c_void,
    ksizes: *const usize,
    cb: yk_keyvalue_callback_t,
    uargs: *mut c_void,
    options: *const yk_fetch_options,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Multi { count, ptrs: keys, sizes: ksizes };
    // SAFETY: the handle, arrays, callback and options as upstream's `yk_fetch_multi` (the contract).
    unsafe { Call::new("yk_fetch_multi", dbh, mode, timeout_ms).fetch(keys, cb, uargs, options) }
}

/// # Safety
/// As upstream's `yk_fetch_packed`.
#[no_mangle]
pub unsafe extern "C" fn yk_fetch_packed_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const c_void,
    ksizes: *const usize,
    cb: yk_keyvalue_callback_t,
    uargs: *mut c_void,
    options: *const yk_fetch_options,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Packed { count, buf: keys, sizes: ksizes };
    // SAFETY: the handle, buffers, callback and options as upstream's `yk_fetch_packed` (the contract).
    unsafe { Call::new("yk_fetch_packed", dbh, mode, timeout_ms).fetch(keys, cb, uargs, options) }
}

// ---------------------------------------------------------------- erase

/// # Safety
/// As upstream's `yk_erase`.
#[no_mangle]
pub unsafe extern "C" fn yk_erase_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    key: *const c_void,
    ksize: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::One { ptr: key, size: ksize };
    // SAFETY: the handle and key as upstream's `yk_erase` (the contract).
    unsafe { Call::new("yk_erase", dbh, mode, timeout_ms).erase(keys) }
}

/// # Safety
/// As upstream's `yk_erase_multi`.
#[no_mangle]
pub unsafe extern "C" fn yk_erase_multi_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const *const c_void,
    ksizes: *const usize,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Multi { count, ptrs: keys, sizes: ksizes };
    // SAFETY: the handle and arrays as upstream's `yk_erase_multi` (the contract).
    unsafe { Call::new("yk_erase_multi", dbh, mode, timeout_ms).erase(keys) }
}

/// # Safety
/// As upstream's `yk_erase_packed`.
#[no_mangle]
pub unsafe extern "C" fn yk_erase_packed_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    keys: *const c_void,
    ksizes: *const usize,
    timeout_ms: f64,
) -> yk_return_t {
    let keys = Items::Packed { count, buf: keys, sizes: ksizes };
    // SAFETY: the handle and buffers as upstream's `yk_erase_packed` (the contract).
    unsafe { Call::new("yk_erase_packed", dbh, mode, timeout_ms).erase(keys) }
}

/// # Safety
/// As upstream's `yk_erase_range`.
#[no_mangle]
pub unsafe extern "C" fn yk_erase_range_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    prefix: *const c_void,
    prefix_size: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_erase_range", dbh, mode, timeout_ms);
    let op = |db: &Database| {
        // SAFETY: `prefix` holds `prefix_size` readable bytes (the contract).
        let p = unsafe { bytes(prefix, prefix_size, "prefix") }?;
        db.erase_range(call.opts(), p)
    };
    // SAFETY: `dbh` is NULL or live (the contract).
    unsafe { call.run(op) }
}

// ---------------------------------------------------------------- list

/// # Safety
/// As upstream's `yk_list_keys`: `count` slots with capacities in `ksizes`.
#[no_mangle]
pub unsafe extern "C" fn yk_list_keys_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    from_key: *const c_void,
    from_ksize: usize,
    filter: *const c_void,
    filter_size: usize,
    count: usize,
    keys: *const *mut c_void,
    ksizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let listing = Listing { from_key, from_ksize, filter, filter_size, count };
    let outputs = || {
        // SAFETY: `keys` and `ksizes` hold `count` slots and their capacities (the contract).
        let keys = unsafe { Out::slots(keys, ksizes, count, Role::Key, "slot buffer") }?;
        if keys.has_empty_slot() {
            return Err(YokanError::args("a key slot has a capacity of 0"));
        }
        Ok((keys, None))
    };
    // SAFETY: the handle and buffers as upstream's `yk_list_keys` (the contract).
    unsafe { Call::new("yk_list_keys", dbh, mode, timeout_ms).list(listing, outputs) }
}

/// # Safety
/// As upstream's `yk_list_keys_packed`.
#[no_mangle]
pub unsafe extern "C" fn yk_list_keys_packed_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    from_key: *const c_void,
    from_ksize: usize,
    filter: *const c_void,
    filter_size: usize,
    count: usize,
    keys: *mut c_void,
    keys_buf_size: usize,
    ksizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let listing = Listing { from_key, from_ksize, filter, filter_size, count };
    let outputs = || {
        // SAFETY: `ksizes` holds `count` writable sizes (the contract).
        let sizes = unsafe { array_mut(ksizes, count, "key sizes array") }?;
        // SAFETY: `keys` holds `keys_buf_size` writable bytes (the contract).
        let buf = unsafe { buffer_mut(keys, keys_buf_size, "keys buffer") }?;
        Ok((Out::packed(buf, sizes), None))
    };
    // SAFETY: the handle and buffers as upstream's `yk_list_keys_packed` (the contract).
    unsafe { Call::new("yk_list_keys_packed", dbh, mode, timeout_ms).list(listing, outputs) }
}

/// # Safety
/// As upstream's `yk_list_keyvals`.
#[no_mangle]
pub unsafe extern "C" fn yk_list_keyvals_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    from_key: *const c_void,
    from_ksize: usize,
    filter: *const c_void,
    filter_size: usize,
    count: usize,
    keys: *const *mut c_void,
    ksizes: *mut usize,
    values: *const *mut c_void,
    vsizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let listing = Listing { from_key, from_ksize, filter, filter_size, count };
    let outputs = || {
        // SAFETY: `keys` and `ksizes` hold `count` slots and their capacities (the contract).
        let keys = unsafe { Out::slots(keys, ksizes, count, Role::Key, "slot buffer") }?;
        // SAFETY: `values` and `vsizes` hold `count` slots and their capacities (the contract).
        let values = unsafe { Out::slots(values, vsizes, count, Role::Value, "slot buffer") }?;
        Ok((keys, Some(values)))
    };
    // SAFETY: the handle and buffers as upstream's `yk_list_keyvals` (the contract).
    unsafe { Call::new("yk_list_keyvals", dbh, mode, timeout_ms).list(listing, outputs) }
}

/// # Safety
/// As upstream's `yk_list_keyvals_packed`.
#[no_mangle]
pub unsafe extern "C" fn yk_list_keyvals_packed_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    from_key: *const c_void,
    from_ksize: usize,
    filter: *const c_void,
    filter_size: usize,
    count: usize,
    keys: *mut c_void,
    keys_buf_size: usize,
    ksizes: *mut usize,
    values: *mut c_void,
    vals_buf_size: usize,
    vsizes: *mut usize,
    timeout_ms: f64,
) -> yk_return_t {
    let listing = Listing { from_key, from_ksize, filter, filter_size, count };
    let outputs = || {
        // SAFETY: `ksizes` holds `count` writable sizes (the contract).
        let ksz = unsafe { array_mut(ksizes, count, "key sizes array") }?;
        // SAFETY: `vsizes` holds `count` writable sizes (the contract).
        let vsz = unsafe { array_mut(vsizes, count, "value sizes array") }?;
        // SAFETY: `keys` holds `keys_buf_size` writable bytes (the contract).
        let kbuf = unsafe { buffer_mut(keys, keys_buf_size, "keys buffer") }?;
        // SAFETY: `values` holds `vals_buf_size` writable bytes (the contract).
        let vbuf = unsafe { buffer_mut(values, vals_buf_size, "values buffer") }?;
        Ok((Out::packed(kbuf, ksz), Some(Out::packed(vbuf, vsz))))
    };
    // SAFETY: the handle and buffers as upstream's `yk_list_keyvals_packed` (the contract).
    unsafe { Call::new("yk_list_keyvals_packed", dbh, mode, timeout_ms).list(listing, outputs) }
}

/// # Safety
/// As upstream's `yk_iter`.
#[no_mangle]
pub unsafe extern "C" fn yk_iter_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    from_key: *const c_void,
    from_ksize: usize,
    filter: *const c_void,
    filter_size: usize,
    count: usize,
    cb: yk_keyvalue_callback_t,
    uargs: *mut c_void,
    options: *const yk_iter_options,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_iter", dbh, mode, timeout_ms);
    let op = |db: &Database| {
        let cb = cb.ok_or_else(|| YokanError::args("NULL callback"))?;
        // SAFETY: `options` is NULL or valid options (the contract).
        let opt = unsafe { options.as_ref() };
        let batch = opt.map(|o| o.batch_size as usize).filter(|b| *b > 0).unwrap_or(usize::MAX);
        let ignore_values = opt.is_some_and(|o| o.ignore_values);
        let total = if count == 0 { usize::MAX } else { count };
        // IGNORE_KEYS does not apply to iter; NO_PREFIX strips the keys the
        // callback sees, so the next page starts from the raw last key.
        let list_mode = mode & !(mode::KEEP_LAST | mode::NO_PREFIX);
        let strip = mode & mode::NO_PREFIX != 0;
        // SAFETY: `from_key` holds `from_ksize` readable bytes (the contract).
        let mut from = unsafe { bytes(from_key, from_ksize, "from_key") }?.to_vec();
        // SAFETY: `filter` holds `filter_size` readable bytes (the contract).
        let filter = unsafe { bytes(filter, filter_size, "filter") }?;
        let filt = crate::yokan::backend::Filter::from_mode(mode, filter);
        let mut inclusive = mode & mode::INCLUSIVE != 0;
        let mut index = 0usize;
        while index < total {
            let want = batch.min(total - index);
            let m = if inclusive { list_mode | mode::INCLUSIVE } else { list_mode & !mode::INCLUSIVE };
            let items = db.list(opts(m, timeout_ms), &from, filter, want, !ignore_values)?;
            for (k, v) in &items {
                let key = if strip { filt.strip(k) } else { k.as_slice() };
                let (vp, vs) =
                    if ignore_values { (v.as_ptr() as *const c_void, 0) } else { (v.as_ptr() as *const c_void, v.len()) };
                // SAFETY: the caller's callback with its `uargs` (the contract),
                // given pointers into `items`, valid for the whole call.
                match unsafe { cb(uargs, index, key.as_ptr() as *const c_void, key.len(), vp, vs) } {
                    0 => {}
                    c if c == code::STOP_ITERATION => return Ok(()),
                    c => return Err(YokanError::new(c, "the callback returned an error")),
                }
                index += 1;
            }
            if items.len() < want {
                break;
            }
            match items.last() {
                Some((k, _)) => from = k.clone(),
                None => break,
            }
            inclusive = false;
        }
        Ok(())
    };
    // SAFETY: `dbh` is NULL or live (the contract).
    unsafe { call.run(op) }
}

/// What the header's inline wrappers of operations we do not provide
/// (collections and documents) call: logs one line naming the operation
/// and returns `YOKAN_ERR_OP_UNSUPPORTED`.
///
/// # Safety
/// `what` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn yk_unsupported(what: *const c_char) -> yk_return_t {
    guard("yk_unsupported", code::OP_UNSUPPORTED, || {
        // SAFETY: non-NULL (just checked), NUL-terminated by the contract.
        let name = if what.is_null() { "(unnamed)".into() } else { unsafe { CStr::from_ptr(what) }.to_string_lossy() };
        ret_err(
            &name,
            YokanError::unsupported("not provided by this implementation (no collections or documents; see the README)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_timeout_is_accepted() {
        assert_eq!(opts(0, 0.0).timeout, None);
        assert_eq!(opts(0, f64::NAN).timeout, None);
        assert_eq!(opts(0, 1500.0).timeout, Some(Duration::from_millis(1500)));
        let year = Some(Duration::from_secs(365 * 24 * 3600));
        assert_eq!(opts(0, 1e30).timeout, year);
        assert_eq!(opts(0, f64::MAX).timeout, year);
    }
}
