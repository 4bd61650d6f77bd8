//! Copies between the memory a bulk handle names and buffers of this
//! library, for the library's own users of handles: Yokan's `_bulk`
//! operations run on the client, which reads their payload out of the
//! caller's handle and writes the results back into it.
//!
//! A handle made in this process by `margo_bulk_create` (and no origin
//! address given) is copied directly through its registered [`Region`],
//! with the checks its owner makes for a remote request: the handle's
//! flags, its range, and a freed handle's refusal. Any other handle
//! (received in an RPC, deserialized, or named with an explicit origin
//! address) is transferred with [`Transfer`], in pieces, against a
//! temporary region over the buffer that no table registers (so nobody
//! else can reach it), killed before the buffer goes.

use super::region::{permits, within, BulkTable, Region};
use super::transfer::{Failure, Plan, Transfer};
use super::*;
use crate::ffi::handles::{self, margo_instance_id};
use crate::ffi::hg::{hg_bulk_op_t, hg_bulk_t, hg_return, hg_return_t};
use crate::rpc::{Address, Engine};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// How many pushes of one [`BulkAccess::push`] run at once (each in
/// pieces: see [`Transfer`]).
const PUSHES_IN_FLIGHT: usize = 16;
/// A pull from another process's memory asks for this much at a time (in
/// pieces, see [`Transfer`]), so that its buffer grows with the bytes that
/// actually come.
pub(super) const PULL_STEP: usize = 64 << 20;

/// How the bytes are reached.
enum Route {
    /// A handle made here: its own memory.
    Local(Arc<Region>),
    /// Another process's memory (or ours, through its serialized form):
    /// transfers to `target`, naming the handle's id there.
    Remote { engine: Engine, table: &'static BulkTable, target: Address, id: u64 },
}

/// A bulk handle opened for copies (see the module's documentation). It
/// keeps what it needs of the handle, which may be freed afterwards (the
/// copies then fail with `HG_NOENTRY`).
pub(crate) struct BulkAccess {
    route: Route,
    size: u64,
    flags: u8,
}

/// Adds `n` zeroed bytes to `buf`, or fails with `HG_NOMEM` (never an
/// abort) when that much memory cannot be had.
fn grow(buf: &mut Vec<u8>, n: usize) -> Result<(), Failure> {
    if buf.try_reserve(n).is_err() {
        return Err((hg_return::HG_NOMEM, format!("cannot allocate {} bytes for a copy", buf.len().saturating_add(n))));
    }
    buf.resize(buf.len() + n, 0);
    Ok(())
}

/// A region over a buffer of ours for the transfers of one copy; dropped,
/// it is killed, so that nothing touches the buffer afterwards.
struct Scratch(Arc<Region>);

impl Scratch {
    /// # Safety
    /// `addr` must hold `len` bytes, readable (and writable if `flags`
    /// allows writes) until the `Scratch` is dropped.
    unsafe fn over(addr: usize, len: usize, flags: u8) -> Scratch {
        Scratch(Arc::new(Region::scratch(addr, len, flags)))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.0.kill();
    }
}

/// The sentence for a code a local copy failed with.
fn local_refusal(code: hg_return_t, op: hg_bulk_op_t, offset: u64, len: usize, size: u64) -> Failure {
    let why = match code {
        hg_return::HG_PERMISSION if op == PULL => "the handle is write-only (HG_BULK_WRITE_ONLY): it cannot be read".to_string(),
        hg_return::HG_PERMISSION => "the handle is read-only (HG_BULK_READ_ONLY): it cannot be written".to_string(),
        hg_return::HG_INVALID_ARG => format!("range {offset}+{len} past the handle's {size} bytes"),
        hg_return::HG_NOENTRY => "the handle was freed".to_string(),
        other => format!("{other:?}"),
    };
    (code, why)
}

impl BulkAccess {
    /// Opens `h` for copies with the instance `mid`: transfers go to
    /// `origin` if given, else to the process that made the handle (none
    /// for a handle made here).
    ///
    /// Errors: `HG_INVALID_ARG` for a NULL handle or an instance that is
    /// not live (needed for a remote handle only); the lookup's error for
    /// an origin that is not an address of the instance's protocol.
    ///
    /// # Safety
    /// `h` must be NULL or a live bulk handle.
    pub(crate) unsafe fn open(mid: margo_instance_id, origin: Option<&str>, h: hg_bulk_t) -> Result<BulkAccess, Failure> {
        // SAFETY: by the contract NULL or a live handle.
        let Some(b) = (unsafe { bulk_ref(h) }) else {
            return Err((hg_return::HG_INVALID_ARG, "NULL bulk handle".into()));
        };
        if let (Some((region, _)), None) = (&b.local, origin) {
            return Ok(BulkAccess { route: Route::Local(region.clone()), size: b.size, flags: b.flags });
        }
        let (engine, table) = match (handles::engine(mid), handles::bulk_table(mid)) {
            (Ok(e), Ok(t)) => (e, t),
            (Err(e), _) | (_, Err(e)) => return Err((hg_return::HG_INVALID_ARG, format!("the margo instance: {e}"))),
        };
        let name = origin.unwrap_or(&b.owner);
        let target = engine.lookup(name).map_err(|e| (hg_return_t::from(&e), format!("the origin \"{name}\": {e}")))?;
        Ok(BulkAccess { route: Route::Remote { engine, table, target, id: b.id }, size: b.size, flags: b.flags })
    }

    /// Checks `op` (`HG_BULK_PULL`: reading the memory, `HG_BULK_PUSH`:
    /// writing it) on `[offset, offset + len)` as the owner would: the
    /// handle's flags (`HG_PERMISSION`), then the range (`HG_INVALID_ARG`).
    pub(crate) fn check(&self, op: hg_bulk_op_t, offset: u64, len: usize) -> Result<(), Failure> {
        permits(self.flags, op)
            .and_then(|()| if within(offset, len as u64, self.size) { Ok(()) } else { Err(hg_return::HG_INVALID_ARG) })
            .map_err(|code| local_refusal(code, op, offset, len, self.size))
    }

    /// The `len` bytes at `offset` of the handle's memory, waiting until
    /// `deadline` at most for a remote one.
    ///
    /// Errors: `HG_PERMISSION` (a write-only handle), `HG_INVALID_ARG` (a
    /// range past the handle), `HG_NOENTRY` (the handle was freed),
    /// `HG_NOMEM`, and a transfer's errors (`HG_TIMEOUT`, an unreachable
    /// origin, the owner's refusals).
    pub(crate) fn pull(&self, offset: u64, len: usize, deadline: Instant) -> Result<Vec<u8>, Failure> {
        self.check(PULL, offset, len)?;
        match &self.route {
            Route::Local(region) => {
                let mut buf = Vec::new();
                grow(&mut buf, len)?;
                region.read(offset, &mut buf).map_err(|code| local_refusal(code, PULL, offset, len, self.size))?;
                Ok(buf)
            }
            Route::Remote { engine, table, target, id } => {
                // The size is what the handle says, and its owner may be
                // lying: the buffer grows by steps as the bytes come, so it
                // is never much larger than what the owner actually sent.
                let mut buf = Vec::new();
                while buf.len() < len {
                    let at = buf.len();
                    let n = (len - at).min(PULL_STEP);
                    grow(&mut buf, n)?;
                    // SAFETY: `buf` holds `n` writable bytes from `at`, and is
                    // neither moved nor resized until `scratch` is dropped
                    // (at the end of this iteration).
                    let scratch = unsafe { Scratch::over(buf.as_mut_ptr() as usize + at, n, WRITE_ONLY) };
                    let plan =
                        Plan::new(engine.clone(), table, target.clone(), PULL, *id, offset + at as u64, scratch.0.clone(), 0, n);
                    Transfer::start(plan, PIECE, deadline).wait()?;
                }
                Ok(buf)
            }
        }
    }

    /// Writes each `(offset, bytes)` into the handle's memory, waiting
    /// until `deadline` at most for a remote one: adjacent writes go as one
    /// transfer, up to 16 transfers at once. A failure stops the others;
    /// some of the bytes may have been written.
    ///
    /// Errors: those of [`BulkAccess::pull`], with `HG_PERMISSION` for a
    /// read-only handle.
    pub(crate) fn push(&self, writes: &[(u64, &[u8])], deadline: Instant) -> Result<(), Failure> {
        for (offset, bytes) in writes {
            self.check(PUSH, *offset, bytes.len())?;
        }
        match &self.route {
            Route::Local(region) => {
                for (offset, bytes) in writes {
                    region.write(*offset, bytes).map_err(|code| local_refusal(code, PUSH, *offset, bytes.len(), self.size))?;
                }
                Ok(())
            }
            Route::Remote { engine, table, target, id } => {
                let runs = coalesce(writes);
                // Declared after `runs`: dropped (its scratches killed) first.
                let mut running: VecDeque<(Transfer, Scratch)> = VecDeque::new();
                for (offset, bytes) in &runs {
                    if running.len() == PUSHES_IN_FLIGHT {
                        if let Some((t, _scratch)) = running.pop_front() {
                            t.wait()?;
                        }
                    }
                    // SAFETY: the bytes are only read, and `runs` outlives
                    // `running`, which holds the scratch.
                    let scratch = unsafe { Scratch::over(bytes.as_ptr() as usize, bytes.len(), READ_ONLY) };
                    let plan =
                        Plan::new(engine.clone(), table, target.clone(), PUSH, *id, *offset, scratch.0.clone(), 0, bytes.len());
                    running.push_back((Transfer::start(plan, PIECE, deadline), scratch));
                }
                while let Some((t, _scratch)) = running.pop_front() {
                    t.wait()?;
                }
                Ok(())
            }
        }
    }
}

/// The writes, empty ones left out and each run of adjacent ones (in
/// their order) merged into one.
fn coalesce<'a>(writes: &[(u64, &'a [u8])]) -> Vec<(u64, Cow<'a, [u8]>)> {
    let mut out: Vec<(u64, Cow<'a, [u8]>)> = Vec::new();
    for &(offset, bytes) in writes {
        if bytes.is_empty() {
            continue;
        }
        if let Some((at, run)) = out.last_mut() {
            if at.checked_add(run.len() as u64) == Some(offset) {
                run.to_mut().extend_from_slice(bytes);
                continue;
            }
        }
        out.push((offset, Cow::Borrowed(bytes)));
    }
    out
}
