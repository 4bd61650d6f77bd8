//! Yokan's `_bulk` operations (`yk_put_bulk`, `yk_get_bulk`, ...), run on
//! the client: each reads its payload, `[offset, offset + size)` of the
//! caller's bulk handle, parses it as upstream lays it out
//! ([`payload`]), runs the operation as its `_packed` form does, and
//! writes the results back into the handle where the layout puts them.
//! The handle is reached through [`BulkAccess`] with the client's margo
//! instance: directly for one made here by `margo_bulk_create`, with bulk
//! transfers for another process's (received in an RPC, deserialized, or
//! named by `origin`). A group-aware handle works as for the other forms:
//! the keys go to their owners once the payload is read.
//!
//! Upstream's provider pulls the payload itself; here the client does,
//! which costs one more copy of the payload in this process and gives the
//! same results.

use super::client::{yk_database_handle_t, yk_return_t, HandleBox};
use super::database::{fetch_keys, yk_fetch_options, yk_keyvalue_callback_t, Call};
use super::payload::{self, Layout, ListShape, Source, Writes};
use crate::ffi::bulk::copy::BulkAccess;
use crate::ffi::bulk::{PULL, PUSH};
use crate::ffi::hg::{hg_bulk_t, hg_return};
use crate::yokan::client::{Database, Opts, DEFAULT_TIMEOUT};
use crate::yokan::error::{code, Result, YokanError};
use crate::yokan::mode;
use std::ffi::{c_char, c_void, CStr};
use std::ops::Range;
use std::time::{Duration, Instant};

/// What an operation does with its payload: reads it, or also writes its
/// results into it (exists, length, get, listings: upstream asks for an
/// `HG_BULK_READWRITE` handle).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Needs {
    Read,
    ReadWrite,
}

/// An operation's payload, opened: the handle, where the payload lies in
/// it, and the call's clock.
pub(super) struct Payload {
    access: BulkAccess,
    offset: u64,
    start: Instant,
    /// The call's timeout (none: each transfer waits up to
    /// [`DEFAULT_TIMEOUT`], as a call does).
    limit: Option<Duration>,
}

/// The yokan code and message for a copy that failed while `doing`.
fn transfer_error(doing: &str, (hret, why): (crate::ffi::hg::hg_return_t, String)) -> YokanError {
    let c = match hret {
        hg_return::HG_TIMEOUT => code::TIMEOUT,
        hg_return::HG_NOMEM => code::ALLOCATION,
        hg_return::HG_INVALID_ARG => code::INVALID_ARGS,
        hg_return::HG_PERMISSION => code::PERMISSION,
        _ => code::FROM_MERCURY,
    };
    YokanError::new(c, format!("{doing} through the bulk handle: {why}"))
}

impl Payload {
    /// Checks the handle and the payload's place in it, before anything
    /// is read: a NULL handle, an origin that is not an address, flags
    /// that do not allow what the operation `needs`, a payload past the
    /// handle's end.
    ///
    /// # Safety
    /// `origin` NULL or NUL-terminated; `data` NULL or a live bulk handle.
    unsafe fn open(
        call: Call,
        h: &HandleBox,
        origin: *const c_char,
        data: hg_bulk_t,
        offset: usize,
        size: usize,
        needs: Needs,
    ) -> Result<Payload> {
        let start = Instant::now();
        if data.is_null() {
            return Err(YokanError::args("NULL bulk handle (HG_BULK_NULL)"));
        }
        let origin = if origin.is_null() {
            None
        } else {
            // SAFETY: non-NULL (just checked), NUL-terminated by the contract.
            let text = unsafe { CStr::from_ptr(origin) };
            Some(text.to_str().map_err(|_| YokanError::args("the origin address is not UTF-8"))?)
        };
        // SAFETY: `data` is a live bulk handle (non-NULL, and the contract).
        let access = unsafe { BulkAccess::open(h.mid, origin, data) }
            .map_err(|(_, why)| YokanError::new(code::FROM_MERCURY, format!("cannot reach the bulk handle's memory: {why}")))?;
        let (offset, len) = (offset as u64, size);
        access.check(PULL, offset, len).map_err(|(hret, why)| match hret {
            hg_return::HG_PERMISSION => {
                YokanError::new(code::PERMISSION, format!("{why}, and this operation reads its payload from it"))
            }
            _ => YokanError::args(format!("the payload: {why}")),
        })?;
        if needs == Needs::ReadWrite {
            access.check(PUSH, offset, len).map_err(|(_, why)| {
                YokanError::new(
                    code::READONLY,
                    format!("{why}, and this operation writes its results into it (it needs HG_BULK_READWRITE)"),
                )
            })?;
        }
        Ok(Payload { access, offset, start, limit: call.opts().timeout })
    }

    fn deadline(&self) -> Instant {
        match self.limit {
            Some(limit) => self.start + limit,
            None => Instant::now() + DEFAULT_TIMEOUT,
        }
    }

    /// The options of the database call: `mode`, and what is left of the
    /// call's timeout.
    pub(super) fn opts(&self, mode: i32) -> Result<Opts> {
        let timeout = match self.limit {
            None => None,
            Some(limit) => {
                let left = limit.saturating_sub(self.start.elapsed());
                if left.is_zero() {
                    return Err(YokanError::new(code::TIMEOUT, "the call's timeout expired while its payload was read"));
                }
                Some(left)
            }
        };
        Ok(Opts { mode, timeout })
    }

    /// Writes the results into the payload.
    pub(super) fn push(&self, writes: Writes) -> Result<()> {
        let at: Vec<(u64, &[u8])> = writes.iter().map(|(at, b)| (self.offset + *at as u64, b.as_slice())).collect();
        self.access.push(&at, self.deadline()).map_err(|f| transfer_error("writing the results", f))
    }
}

impl Source for Payload {
    fn pull(&self, range: Range<usize>, what: &str) -> Result<Vec<u8>> {
        let len = range.len();
        self.access
            .pull(self.offset + range.start as u64, len, self.deadline())
            .map_err(|f| transfer_error(&format!("reading {what}"), f))
    }
}

/// Runs a `_bulk` operation: the handle's NULL check and panic boundary
/// ([`Call::run_handle`]); nothing to do for a count of 0; the mode
/// checked and the payload of `size()` bytes opened ([`Payload::open`])
/// before `op` reads it.
///
/// # Safety
/// `dbh` NULL or a live database handle; `origin` NULL or NUL-terminated;
/// `data` NULL or a live bulk handle.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn run(
    call: Call,
    count: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    size: impl FnOnce() -> Result<usize>,
    needs: Needs,
    op: impl FnOnce(&Database, &Payload) -> Result<()>,
) -> yk_return_t {
    let f = |h: &HandleBox| {
        if count == 0 {
            return Ok(());
        }
        mode::check_client(call.mode)?;
        // SAFETY: `origin` and `data` as this function's contract requires.
        let p = unsafe { Payload::open(call, h, origin, data, offset, size()?, needs) }?;
        op(&h.db, &p)
    };
    // SAFETY: `dbh` is NULL or live (this function's contract).
    unsafe { call.run_handle(f) }
}

/// Puts the `count` pairs of the payload: `count` key sizes, `count` value
/// sizes (`size_t`), the keys, the values. `origin`: the address of the
/// process whose memory `data` names (NULL: the process that made the
/// handle, this one for a handle made by `margo_bulk_create`).
///
/// Errors (one log line each): `YOKAN_ERR_INVALID_ARGS` for a NULL handle,
/// a payload past the handle, shorter than its sizes say or with sizes
/// that overflow; `YOKAN_ERR_PERMISSION` for a write-only handle;
/// `YOKAN_ERR_FROM_MERCURY` for an origin that is not an address or a
/// transfer that fails (`YOKAN_ERR_TIMEOUT` past the timeout); then
/// `yk_put_packed`'s.
///
/// # Safety
/// `dbh` NULL or a live database handle; `origin` NULL or NUL-terminated;
/// `data` NULL or a live bulk handle.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_put_bulk_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    size: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_put_bulk", dbh, mode, timeout_ms);
    let op = |db: &Database, p: &Payload| {
        let strings = payload::read_pairs(p, size, count)?;
        let all = strings.list();
        let (keys, values) = all.split_at(count);
        let pairs: Vec<(&[u8], &[u8])> = keys.iter().copied().zip(values.iter().copied()).collect();
        db.put(p.opts(mode)?, &pairs)
    };
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || Ok(size), Needs::Read, op) }
}

/// Whether the payload's `count` keys exist: `count` key sizes, the keys,
/// then the `ceil(count / 8)` bytes of the bitfield the answers go into
/// (key `i`: bit `i % 8` of byte `i / 8`). The handle must be
/// `HG_BULK_READWRITE` (`YOKAN_ERR_READONLY` otherwise); other errors as
/// `yk_put_bulk_timed`'s.
///
/// # Safety
/// As [`yk_put_bulk_timed`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_exists_bulk_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    size: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_exists_bulk", dbh, mode, timeout_ms);
    let op = |db: &Database, p: &Payload| p.push(payload::exists(p, size, count, |keys| db.exists(p.opts(mode)?, keys))?);
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || Ok(size), Needs::ReadWrite, op) }
}

/// The value sizes of the payload's `count` keys: `count` key sizes, the
/// keys, then `count` sizes that get the answers (`YOKAN_KEY_NOT_FOUND`
/// for an absent key). Errors as [`yk_exists_bulk_timed`]'s.
///
/// # Safety
/// As [`yk_put_bulk_timed`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_length_bulk_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    size: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_length_bulk", dbh, mode, timeout_ms);
    let op = |db: &Database, p: &Payload| p.push(payload::length(p, size, count, |keys| db.length(p.opts(mode)?, keys))?);
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || Ok(size), Needs::ReadWrite, op) }
}

/// The values of the payload's `count` keys: `count` key sizes, `count`
/// value sizes, the keys, then the value area (the rest of the payload).
/// `packed`: the values go back to back into the area (as
/// `yk_get_packed`), the value sizes are outputs only; otherwise value `i`
/// goes into a slot of the capacity value size `i` gives, the slots back to
/// back (as `yk_get_multi`; capacities past the area:
/// `YOKAN_ERR_INVALID_ARGS`). Each value size gets the value's size,
/// `YOKAN_KEY_NOT_FOUND` or `YOKAN_SIZE_TOO_SMALL`; bytes of the area no
/// value takes are not written. Errors as [`yk_exists_bulk_timed`]'s.
///
/// # Safety
/// As [`yk_put_bulk_timed`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_get_bulk_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    size: usize,
    packed: bool,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_get_bulk", dbh, mode, timeout_ms);
    let op = |db: &Database, p: &Payload| p.push(payload::get(p, size, count, packed, |keys| db.get(p.opts(mode)?, keys))?);
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || Ok(size), Needs::ReadWrite, op) }
}

/// Hands the value of each of the payload's `count` keys to `cb`, as
/// `yk_fetch_packed` does: the payload is `count` key sizes then the keys
/// (any handle: its segments need not be contiguous). A NULL `cb` is
/// `YOKAN_ERR_INVALID_ARGS`; other errors as [`yk_put_bulk_timed`]'s.
///
/// # Safety
/// As [`yk_put_bulk_timed`]; `cb` and `uargs` as `yk_fetch_packed`'s;
/// `options` NULL or valid.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_fetch_bulk_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    size: usize,
    cb: yk_keyvalue_callback_t,
    uargs: *mut c_void,
    options: *const yk_fetch_options,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_fetch_bulk", dbh, mode, timeout_ms);
    let op = |db: &Database, p: &Payload| {
        if cb.is_none() {
            return Err(YokanError::args("NULL callback"));
        }
        let keys = payload::read_keys(p, &mut Layout::new(size), count)?;
        // SAFETY: `options` is NULL or valid options (the contract).
        let batch = unsafe { options.as_ref() }.map_or(0, |o| o.batch_size as usize);
        // SAFETY: `cb` and `uargs` as the contract requires.
        unsafe { fetch_keys(db, p.opts(mode)?, &keys.list(), cb, uargs, batch) }
    };
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || Ok(size), Needs::Read, op) }
}

/// Erases the payload's `count` keys: `count` key sizes then the keys.
/// Errors as [`yk_put_bulk_timed`]'s.
///
/// # Safety
/// As [`yk_put_bulk_timed`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_erase_bulk_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    count: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    size: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_erase_bulk", dbh, mode, timeout_ms);
    let op = |db: &Database, p: &Payload| {
        let keys = payload::read_keys(p, &mut Layout::new(size), count)?;
        db.erase(p.opts(mode)?, &keys.list())
    };
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || Ok(size), Needs::Read, op) }
}

/// Lists up to `count` keys, as `yk_list_keys_packed` (`packed`) or
/// `yk_list_keys` does. The payload at `offset`: `from_key` (`from_ksize`
/// bytes), the filter (`filter_size`), `count` key sizes, the key area
/// (`keys_buf_size`). `packed`: the keys go back to back into the area and
/// the key sizes are outputs only; otherwise key `i` goes into a slot of
/// the capacity key size `i` gives (capacities past the area:
/// `YOKAN_ERR_INVALID_ARGS`). Slots past the last key get
/// `YOKAN_NO_MORE_KEYS`. Errors as [`yk_exists_bulk_timed`]'s.
///
/// # Safety
/// As [`yk_put_bulk_timed`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_list_keys_bulk_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    from_ksize: usize,
    filter_size: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    keys_buf_size: usize,
    packed: bool,
    count: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_list_keys_bulk", dbh, mode, timeout_ms);
    let shape = ListShape { from_ksize, filter_size, count, packed, keys_buf_size, vals_buf_size: None };
    let op = |db: &Database, p: &Payload| {
        p.push(payload::list(p, &shape, |from, filter, n| db.list(p.opts(mode)?, from, filter, n, false))?)
    };
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || shape.size(), Needs::ReadWrite, op) }
}

/// [`yk_list_keys_bulk_timed`] with the values: after the key sizes come
/// `count` value sizes, and after the key area the value area
/// (`val_buf_size` bytes), filled as the keys are (`packed` or slots).
///
/// # Safety
/// As [`yk_put_bulk_timed`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn yk_list_keyvals_bulk_timed(
    dbh: yk_database_handle_t,
    mode: i32,
    from_ksize: usize,
    filter_size: usize,
    origin: *const c_char,
    data: hg_bulk_t,
    offset: usize,
    key_buf_size: usize,
    val_buf_size: usize,
    packed: bool,
    count: usize,
    timeout_ms: f64,
) -> yk_return_t {
    let call = Call::new("yk_list_keyvals_bulk", dbh, mode, timeout_ms);
    let shape =
        ListShape { from_ksize, filter_size, count, packed, keys_buf_size: key_buf_size, vals_buf_size: Some(val_buf_size) };
    let op = |db: &Database, p: &Payload| {
        p.push(payload::list(p, &shape, |from, filter, n| db.list(p.opts(mode)?, from, filter, n, true))?)
    };
    // SAFETY: the contract.
    unsafe { run(call, count, origin, data, offset, || shape.size(), Needs::ReadWrite, op) }
}
