//! `yokan/database.h`: the key-value operations, with upstream's output
//! conventions (size sentinels, exists bitfields, packed buffers). Each is
//! the non-variadic `yk_*_timed` form the header's inline wrappers call.
#![allow(non_camel_case_types)]

use super::client::{ret_err, yk_database_handle, yk_database_handle_t, yk_return_t};
use crate::ffi::handles::boxed_ref;
use crate::ffi::hg::ABT_pool;
use crate::ffi::panic::guard;
use crate::yokan::client::{Database, Opts};
use crate::yokan::error::{code, Result, YokanError};
use crate::yokan::mode;
use std::ffi::{c_char, c_void, CStr};
use std::time::Duration;

pub const KEY_NOT_FOUND: usize = usize::MAX;
pub const SIZE_TOO_SMALL: usize = usize::MAX - 1;
pub const NO_MORE_KEYS: usize = usize::MAX - 2;

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

fn opts(mode: i32, timeout_ms: f64) -> Opts {
    let timeout = (timeout_ms.is_finite() && timeout_ms > 0.0).then(|| Duration::from_secs_f64(timeout_ms / 1000.0));
    Opts { mode, timeout }
}

/// Runs an operation on a handle: NULL checks, panic boundary, one log line on error.
fn run(entry: &'static str, dbh: yk_database_handle_t, f: impl FnOnce(&Database) -> Result<()>) -> yk_return_t {
    guard(entry, code::OTHER, || {
        // SAFETY: a non-NULL handle comes from yk_database_handle_create
        // and is live (the C contract).
        let Some(h) = (unsafe { boxed_ref::<yk_database_handle>(dbh) }) else {
            return ret_err(entry, YokanError::args("NULL database handle"));
        };
        match f(&h.db) {
            Ok(()) => code::SUCCESS,
            Err(e) => ret_err(entry, e),
        }
    })
}

/// # Safety
/// `p` must point to `n` readable bytes unless NULL, not written for `'a`.
unsafe fn bytes<'a>(p: *const c_void, n: usize, what: &str) -> Result<&'a [u8]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(YokanError::args(format!("NULL {what} with a size of {n}")));
    }
    // SAFETY: non-NULL (checked above), `n` readable bytes that stay
    // unchanged for 'a (this function's contract).
    Ok(unsafe { std::slice::from_raw_parts(p as *const u8, n) })
}

/// # Safety
/// `p` must point to `n` elements unless NULL, not written for `'a`.
unsafe fn array<'a, T>(p: *const T, n: usize, what: &str) -> Result<&'a [T]> {
    if p.is_null() {
        return Err(YokanError::args(format!("NULL {what}")));
    }
    // SAFETY: non-NULL (checked above), `n` valid elements that stay
    // unchanged for 'a (this function's contract).
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// # Safety
/// `p` must point to `n` writable elements unless NULL, not otherwise
/// accessed for `'a`.
unsafe fn array_mut<'a, T>(p: *mut T, n: usize, what: &str) -> Result<&'a mut [T]> {
    if p.is_null() {
        return Err(YokanError::args(format!("NULL {what}")));
    }
    // SAFETY: non-NULL (checked above), `n` writable elements used only
    // through this slice for 'a (this function's contract).
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

/// # Safety
/// `keys` and `ksizes` must hold `count` entries, each key its size in bytes.
unsafe fn multi_keys<'a>(count: usize, keys: *const *const c_void, ksizes: *const usize) -> Result<Vec<&'a [u8]>> {
    // SAFETY: `keys` holds `count` entries (this function's contract).
    let ptrs = unsafe { array(keys, count, "keys array") }?;
    // SAFETY: `ksizes` holds `count` entries (this function's contract).
    let sizes = unsafe { array(ksizes, count, "key sizes array") }?;
    // SAFETY: each key holds its size in bytes (this function's contract).
    ptrs.iter().zip(sizes).map(|(p, n)| unsafe { bytes(*p, *n, "key") }).collect()
}

/// # Safety
/// `sizes` must hold `count` sizes and `data` their sum in bytes.
unsafe fn packed<'a>(count: usize, data: *const c_void, sizes: *const usize, what: &str) -> Result<Vec<&'a [u8]>> {
    // SAFETY: `sizes` holds `count` sizes (this function's contract).
    let sizes = unsafe { array(sizes, count, "sizes array") }?;
    let total = sizes.iter().try_fold(0usize, |a, s| a.checked_add(*s)).ok_or_else(|| YokanError::args("sizes overflow"))?;
    // SAFETY: `data` holds the sum of the sizes in bytes (this function's contract).
    let all = unsafe { bytes(data, total, what) }?;
    let mut out = Vec::with_capacity(count);
    let mut at = 0;
    for s in sizes {
        out.push(&all[at..at + s]);
        at += s;
    }
    Ok(out)
}

/// # Safety
/// `count` must be writable unless NULL.
#[no_mangle]
pub unsafe extern "C" fn yk_count_timed(dbh: yk_database_handle_t, mode: i32, count: *mut usize, timeout_ms: f64) -> yk_return_t {
    run("yk_count", dbh, |db| {
        if count.is_null() {
            return Err(YokanError::args("NULL count pointer"));
        }
        let n = db.count(opts(mode, timeout_ms))?;
        // SAFETY: non-NULL (checked above), writable by the contract.
        unsafe { *count = n as usize };
        Ok(())
    })
}

// ---------------------------------------------------------------- put

fn put_pairs(db: &Database, mode: i32, timeout_ms: f64, keys: Vec<&[u8]>, values: Vec<&[u8]>) -> Result<()> {
    let pairs: Vec<(&[u8], &[u8])> = keys.into_iter().zip(values).collect();
    db.put(opts(mode, timeout_ms), &pairs)
}

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
    run("yk_put", dbh, |db| {
        // SAFETY: `key` holds `ksize` readable bytes (the contract).
        let k = unsafe { bytes(key, ksize, "key") }?;
        // SAFETY: `value` holds `vsize` readable bytes (the contract).
        let v = unsafe { bytes(value, vsize, "value") }?;
        put_pairs(db, mode, timeout_ms, vec![k], vec![v])
    })
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
    run("yk_put_multi", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `keys` and `ksizes` hold `count` entries, each key its size in bytes (the contract).
        let k = unsafe { multi_keys(count, keys, ksizes) }?;
        // SAFETY: `values` holds `count` pointers (the contract).
        let vp = unsafe { array(values, count, "values array") }?;
        // SAFETY: `vsizes` holds `count` sizes (the contract).
        let vs = unsafe { array(vsizes, count, "value sizes array") }?;
        // SAFETY: each value holds its size in bytes (the contract).
        let v = vp.iter().zip(vs).map(|(p, n)| unsafe { bytes(*p, *n, "value") }).collect::<Result<Vec<_>>>()?;
        put_pairs(db, mode, timeout_ms, k, v)
    })
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
    run("yk_put_packed", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `ksizes` holds `count` sizes and `keys` their sum in bytes (the contract).
        let k = unsafe { packed(count, keys, ksizes, "keys buffer") }?;
        // SAFETY: `vsizes` holds `count` sizes and `values` their sum in bytes (the contract).
        let v = unsafe { packed(count, values, vsizes, "values buffer") }?;
        put_pairs(db, mode, timeout_ms, k, v)
    })
}

// ---------------------------------------------------------------- exists

fn exists_into(db: &Database, mode: i32, timeout_ms: f64, keys: &[&[u8]], flags: *mut u8) -> Result<()> {
    // SAFETY: the caller provides ceil(count/8) bytes (upstream's contract).
    let out = unsafe { array_mut(flags, keys.len().div_ceil(8), "flags buffer")? };
    let found = db.exists(opts(mode, timeout_ms), keys)?;
    out.fill(0);
    for (i, f) in found.iter().enumerate() {
        if *f {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    Ok(())
}

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
    run("yk_exists", dbh, |db| {
        if exists.is_null() {
            return Err(YokanError::args("NULL output pointer"));
        }
        // SAFETY: `key` holds `ksize` readable bytes (the contract).
        let k = unsafe { bytes(key, ksize, "key") }?;
        let found = db.exists(opts(mode, timeout_ms), &[k])?;
        // SAFETY: non-NULL (checked above), writable by the contract.
        unsafe { *exists = found[0] as u8 };
        Ok(())
    })
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
    run("yk_exists_multi", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `keys` and `ksizes` hold `count` entries, each key its size in bytes (the contract).
        let k = unsafe { multi_keys(count, keys, ksizes) }?;
        exists_into(db, mode, timeout_ms, &k, flags)
    })
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
    run("yk_exists_packed", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `ksizes` holds `count` sizes and `keys` their sum in bytes (the contract).
        let k = unsafe { packed(count, keys, ksizes, "keys buffer") }?;
        exists_into(db, mode, timeout_ms, &k, flags)
    })
}

// ---------------------------------------------------------------- length

fn length_into(db: &Database, mode: i32, timeout_ms: f64, keys: &[&[u8]], vsizes: *mut usize) -> Result<()> {
    // SAFETY: the caller provides `count` sizes.
    let out = unsafe { array_mut(vsizes, keys.len(), "value sizes array")? };
    let sizes = db.length(opts(mode, timeout_ms), keys)?;
    for (o, s) in out.iter_mut().zip(sizes) {
        *o = s.map(|s| s as usize).unwrap_or(KEY_NOT_FOUND);
    }
    Ok(())
}

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
    run("yk_length", dbh, |db| {
        if vsize.is_null() {
            return Err(YokanError::args("NULL output pointer"));
        }
        // SAFETY: `key` holds `ksize` readable bytes (the contract).
        let k = unsafe { bytes(key, ksize, "key") }?;
        let sizes = db.length(opts(mode, timeout_ms), &[k])?;
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
    })
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
    run("yk_length_multi", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `keys` and `ksizes` hold `count` entries, each key its size in bytes (the contract).
        let k = unsafe { multi_keys(count, keys, ksizes) }?;
        length_into(db, mode, timeout_ms, &k, vsizes)
    })
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
    run("yk_length_packed", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `ksizes` holds `count` sizes and `keys` their sum in bytes (the contract).
        let k = unsafe { packed(count, keys, ksizes, "keys buffer") }?;
        length_into(db, mode, timeout_ms, &k, vsizes)
    })
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
    run("yk_get", dbh, |db| {
        if vsize.is_null() {
            return Err(YokanError::args("NULL value size pointer"));
        }
        // SAFETY: non-NULL (checked above), readable by the contract.
        let capacity = unsafe { *vsize };
        // SAFETY: `value` holds `capacity` writable bytes (the contract).
        let out = unsafe { array_mut(value as *mut u8, capacity, "value buffer") }.or_else(|e| {
            if capacity == 0 {
                Ok(&mut [][..])
            } else {
                Err(e)
            }
        })?;
        // SAFETY: `key` holds `ksize` readable bytes (the contract).
        let k = unsafe { bytes(key, ksize, "key") }?;
        let got = db.get(opts(mode, timeout_ms), &[k])?;
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
    })
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
    run("yk_get_multi", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `keys` and `ksizes` hold `count` entries, each key its size in bytes (the contract).
        let k = unsafe { multi_keys(count, keys, ksizes) }?;
        // SAFETY: `values` holds `count` buffer pointers (the contract).
        let bufs = unsafe { array(values, count, "values array") }?;
        // SAFETY: `vsizes` holds `count` writable capacities (the contract).
        let sizes = unsafe { array_mut(vsizes, count, "value sizes array") }?;
        let got = db.get(opts(mode, timeout_ms), &k)?;
        for ((v, buf), size) in got.iter().zip(bufs).zip(sizes.iter_mut()) {
            match v {
                None => *size = KEY_NOT_FOUND,
                Some(v) if v.len() > *size => *size = SIZE_TOO_SMALL,
                Some(v) => {
                    if !v.is_empty() {
                        // SAFETY: the slot holds its capacity `*size` >= v.len()
                        // writable bytes (the contract).
                        unsafe { array_mut(*buf as *mut u8, v.len(), "value buffer") }?.copy_from_slice(v);
                    }
                    *size = v.len();
                }
            }
        }
        Ok(())
    })
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
    run("yk_get_packed", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `ksizes` holds `count` sizes and `keys` their sum in bytes (the contract).
        let k = unsafe { packed(count, keys, ksizes, "keys buffer") }?;
        // SAFETY: `vsizes` holds `count` writable sizes (the contract).
        let sizes = unsafe { array_mut(vsizes, count, "value sizes array") }?;
        let out: &mut [u8] =
            // SAFETY: `values` holds `vbufsize` writable bytes (the contract).
            if vbufsize == 0 { &mut [] } else { unsafe { array_mut(values as *mut u8, vbufsize, "values buffer") }? };
        let got = db.get(opts(mode, timeout_ms), &k)?;
        let mut at = 0;
        let mut overflow = false;
        for (v, size) in got.iter().zip(sizes.iter_mut()) {
            match v {
                None => *size = KEY_NOT_FOUND,
                Some(v) if overflow || v.len() > out.len() - at => {
                    overflow = true;
                    *size = SIZE_TOO_SMALL;
                }
                Some(v) => {
                    out[at..at + v.len()].copy_from_slice(v);
                    at += v.len();
                    *size = v.len();
                }
            }
        }
        Ok(())
    })
}

// ---------------------------------------------------------------- fetch

/// Reads the keys in batches and hands each value to `cb` (on the calling
/// thread); a non-zero callback result stops (STOP_ITERATION: success).
fn fetch_keys(
    db: &Database,
    mode: i32,
    timeout_ms: f64,
    keys: &[&[u8]],
    cb: yk_keyvalue_callback_t,
    uargs: *mut c_void,
    batch: usize,
) -> Result<()> {
    let cb = cb.ok_or_else(|| YokanError::args("NULL callback"))?;
    let batch = if batch == 0 { keys.len().max(1) } else { batch };
    for (b, chunk) in keys.chunks(batch).enumerate() {
        let got = db.get(opts(mode, timeout_ms), chunk)?;
        for (i, (k, v)) in chunk.iter().zip(&got).enumerate() {
            let (vp, vs) = match v {
                Some(v) => (v.as_ptr() as *const c_void, v.len()),
                None => (std::ptr::null(), KEY_NOT_FOUND),
            };
            // SAFETY: the callback is the caller's, called with pointers
            // valid for the duration of the call.
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
    run("yk_fetch", dbh, |db| {
        // SAFETY: `key` holds `ksize` readable bytes (the contract).
        let k = unsafe { bytes(key, ksize, "key") }?;
        fetch_keys(db, mode, timeout_ms, &[k], cb, uargs, 0)
    })
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
    run("yk_fetch_multi", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `options` is NULL or valid options (the contract).
        let batch = unsafe { options.as_ref() }.map(|o| o.batch_size as usize).unwrap_or(0);
        // SAFETY: `keys` and `ksizes` hold `count` entries, each key its size in bytes (the contract).
        let k = unsafe { multi_keys(count, keys, ksizes) }?;
        fetch_keys(db, mode, timeout_ms, &k, cb, uargs, batch)
    })
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
    run("yk_fetch_packed", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `options` is NULL or valid options (the contract).
        let batch = unsafe { options.as_ref() }.map(|o| o.batch_size as usize).unwrap_or(0);
        // SAFETY: `ksizes` holds `count` sizes and `keys` their sum in bytes (the contract).
        let k = unsafe { packed(count, keys, ksizes, "keys buffer") }?;
        fetch_keys(db, mode, timeout_ms, &k, cb, uargs, batch)
    })
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
    run("yk_erase", dbh, |db| {
        // SAFETY: `key` holds `ksize` readable bytes (the contract).
        let k = unsafe { bytes(key, ksize, "key") }?;
        db.erase(opts(mode, timeout_ms), &[k])
    })
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
    run("yk_erase_multi", dbh, |db| {
        if count == 0 {
            Ok(())
        } else {
            // SAFETY: `keys` and `ksizes` hold `count` entries, each key its size in bytes (the contract).
            let k = unsafe { multi_keys(count, keys, ksizes) }?;
            db.erase(opts(mode, timeout_ms), &k)
        }
    })
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
    run("yk_erase_packed", dbh, |db| {
        if count == 0 {
            Ok(())
        } else {
            // SAFETY: `ksizes` holds `count` sizes and `keys` their sum in bytes (the contract).
            let k = unsafe { packed(count, keys, ksizes, "keys buffer") }?;
            db.erase(opts(mode, timeout_ms), &k)
        }
    })
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
    run("yk_erase_range", dbh, |db| {
        // SAFETY: `prefix` holds `prefix_size` readable bytes (the contract).
        let p = unsafe { bytes(prefix, prefix_size, "prefix") }?;
        db.erase_range(opts(mode, timeout_ms), p)
    })
}

// ---------------------------------------------------------------- list

/// Per-slot output: copies into a slot of `cap` bytes (or marks it too small).
fn into_slot(item: &[u8], buf: *mut c_void, cap: &mut usize) -> Result<()> {
    if item.len() > *cap {
        *cap = SIZE_TOO_SMALL;
        return Ok(());
    }
    if !item.is_empty() {
        // SAFETY: the caller's slot holds `cap` >= item.len() bytes.
        unsafe { array_mut(buf as *mut u8, item.len(), "slot buffer")? }.copy_from_slice(item);
    }
    *cap = item.len();
    Ok(())
}

/// Packed output: items back to back; from the first that does not fit on,
/// every item is marked too small.
fn into_packed(items: &[&[u8]], buf: &mut [u8], sizes: &mut [usize]) {
    let mut at = 0;
    let mut overflow = false;
    for (item, size) in items.iter().zip(sizes.iter_mut()) {
        if overflow || item.len() > buf.len() - at {
            overflow = true;
            *size = SIZE_TOO_SMALL;
        } else {
            buf[at..at + item.len()].copy_from_slice(item);
            at += item.len();
            *size = item.len();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn list_common(
    db: &Database,
    mode: i32,
    timeout_ms: f64,
    from_key: *const c_void,
    from_ksize: usize,
    filter: *const c_void,
    filter_size: usize,
    count: usize,
    with_values: bool,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    // SAFETY: sizes given by the caller.
    let from = unsafe { bytes(from_key, from_ksize, "from_key")? };
    // SAFETY: as above.
    let filter = unsafe { bytes(filter, filter_size, "filter")? };
    db.list(opts(mode, timeout_ms), from, filter, count, with_values)
}

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
    run("yk_list_keys", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `keys` holds `count` slot pointers (the contract).
        let slots = unsafe { array(keys, count, "keys array") }?;
        // SAFETY: `ksizes` holds `count` writable capacities (the contract).
        let sizes = unsafe { array_mut(ksizes, count, "key sizes array") }?;
        if sizes.contains(&0) {
            return Err(YokanError::args("a key slot has a capacity of 0"));
        }
        let items = list_common(db, mode, timeout_ms, from_key, from_ksize, filter, filter_size, count, false)?;
        for (i, size) in sizes.iter_mut().enumerate() {
            match items.get(i) {
                Some((k, _)) => into_slot(k, slots[i], size)?,
                None => *size = NO_MORE_KEYS,
            }
        }
        Ok(())
    })
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
    run("yk_list_keys_packed", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `ksizes` holds `count` writable sizes (the contract).
        let sizes = unsafe { array_mut(ksizes, count, "key sizes array") }?;
        let buf: &mut [u8] =
            // SAFETY: `keys` holds `keys_buf_size` writable bytes (the contract).
            if keys_buf_size == 0 { &mut [] } else { unsafe { array_mut(keys as *mut u8, keys_buf_size, "keys buffer") }? };
        let items = list_common(db, mode, timeout_ms, from_key, from_ksize, filter, filter_size, count, false)?;
        let ks: Vec<&[u8]> = items.iter().map(|(k, _)| k.as_slice()).collect();
        into_packed(&ks, buf, &mut sizes[..ks.len()]);
        sizes[ks.len()..].fill(NO_MORE_KEYS);
        Ok(())
    })
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
    run("yk_list_keyvals", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `keys` holds `count` slot pointers (the contract).
        let kslots = unsafe { array(keys, count, "keys array") }?;
        // SAFETY: `ksizes` holds `count` writable capacities (the contract).
        let ksz = unsafe { array_mut(ksizes, count, "key sizes array") }?;
        // SAFETY: `values` holds `count` slot pointers (the contract).
        let vslots = unsafe { array(values, count, "values array") }?;
        // SAFETY: `vsizes` holds `count` writable capacities (the contract).
        let vsz = unsafe { array_mut(vsizes, count, "value sizes array") }?;
        let items = list_common(db, mode, timeout_ms, from_key, from_ksize, filter, filter_size, count, true)?;
        for i in 0..count {
            match items.get(i) {
                Some((k, v)) => {
                    into_slot(k, kslots[i], &mut ksz[i])?;
                    into_slot(v, vslots[i], &mut vsz[i])?;
                }
                None => {
                    ksz[i] = NO_MORE_KEYS;
                    vsz[i] = NO_MORE_KEYS;
                }
            }
        }
        Ok(())
    })
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
    run("yk_list_keyvals_packed", dbh, |db| {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: `ksizes` holds `count` writable sizes (the contract).
        let ksz = unsafe { array_mut(ksizes, count, "key sizes array") }?;
        // SAFETY: `vsizes` holds `count` writable sizes (the contract).
        let vsz = unsafe { array_mut(vsizes, count, "value sizes array") }?;
        let kbuf: &mut [u8] =
            // SAFETY: `keys` holds `keys_buf_size` writable bytes (the contract).
            if keys_buf_size == 0 { &mut [] } else { unsafe { array_mut(keys as *mut u8, keys_buf_size, "keys buffer") }? };
        let vbuf: &mut [u8] =
            // SAFETY: `values` holds `vals_buf_size` writable bytes (the contract).
            if vals_buf_size == 0 { &mut [] } else { unsafe { array_mut(values as *mut u8, vals_buf_size, "values buffer") }? };
        let items = list_common(db, mode, timeout_ms, from_key, from_ksize, filter, filter_size, count, true)?;
        let n = items.len();
        let ks: Vec<&[u8]> = items.iter().map(|(k, _)| k.as_slice()).collect();
        let vs: Vec<&[u8]> = items.iter().map(|(_, v)| v.as_slice()).collect();
        into_packed(&ks, kbuf, &mut ksz[..n]);
        into_packed(&vs, vbuf, &mut vsz[..n]);
        ksz[n..].fill(NO_MORE_KEYS);
        vsz[n..].fill(NO_MORE_KEYS);
        Ok(())
    })
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
    run("yk_iter", dbh, |db| {
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
    })
}

/// What the header's inline wrappers of operations we do not provide (the
/// `_bulk` variants, collections and documents) call: logs one line naming
/// the operation and returns `YOKAN_ERR_OP_UNSUPPORTED`.
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
            YokanError::unsupported(
                "not provided by this implementation (no bulk transfers, collections or documents; see the README)",
            ),
        )
    })
}
