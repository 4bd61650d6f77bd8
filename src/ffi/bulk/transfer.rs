//! Transfers: `margo_bulk_transfer` and its timed, non-blocking and
//! parallel forms, in pieces sent as RPCs to the handle's owner.

use super::region::{answer_code, permits, request, within, BulkTable, Region, REQUEST_HEADER};
use super::*;
use crate::ffi::handles::{self, margo_instance_id};
use crate::ffi::hg::{hg_addr_t, hg_bulk_op_t, hg_bulk_t, hg_return, hg_return_t};
use crate::ffi::margo::fail;
use crate::ffi::panic::guard;
use crate::ffi::rpc::{margo_request, margo_request_struct, timeout_of, Operation};
use crate::rpc::{Address, Completion, Engine, PendingCall, RpcError, DEFAULT_PROVIDER_ID};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Instant;

/// What a transfer moves, checked: between the origin handle's memory (at
/// `target`) and the local handle's region.
pub(super) struct Plan {
    engine: Engine,
    table: &'static BulkTable,
    target: Address,
    /// The origin is this engine: each piece is served from `table` directly.
    to_self: bool,
    op: hg_bulk_op_t,
    origin_id: u64,
    origin_offset: u64,
    local: Arc<Region>,
    local_offset: u64,
    size: usize,
}

/// Checks a transfer's arguments and finds its target; what is wrong is
/// logged under `entry`.
///
/// # Safety
/// `origin_addr` NULL or a live address; `origin_handle` and `local_handle`
/// NULL or live bulk handles.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn plan(
    entry: &str,
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
) -> Result<Plan, hg_return_t> {
    let (engine, table) = match (handles::engine(mid), handles::bulk_table(mid)) {
        (Ok(e), Ok(t)) => (e, t),
        (Err(e), _) | (_, Err(e)) => {
            fail(entry, e);
            return Err(hg_return::HG_INVALID_ARG);
        }
    };
    // SAFETY: by the contract NULL or live handles.
    let (Some(origin), Some(local)) = (unsafe { bulk_ref(origin_handle) }, unsafe { bulk_ref(local_handle) }) else {
        fail(entry, "NULL origin or local bulk handle");
        return Err(hg_return::HG_INVALID_ARG);
    };
    let Some((local_region, _)) = &local.local else {
        fail(entry, "the local handle was not made here by margo_bulk_create");
        return Err(hg_return::HG_INVALID_ARG);
    };
    // The local memory takes the other side: read for a push, written for a pull.
    let local_op = match op {
        PULL => PUSH,
        PUSH => PULL,
        _ => {
            fail(entry, format!("unknown bulk operation {op}"));
            return Err(hg_return::HG_INVALID_ARG);
        }
    };
    let (oo, lo, len) = (origin_offset as u64, local_offset as u64, size as u64);
    if !within(oo, len, origin.size) || !within(lo, len, local.size) {
        fail(entry, format!("range past a handle: origin {oo}+{len} of {}, local {lo}+{len} of {}", origin.size, local.size));
        return Err(hg_return::HG_INVALID_ARG);
    }
    if permits(origin.flags, op).is_err() || permits(local.flags, local_op).is_err() {
        fail(entry, format!("flags forbid this operation (origin {:#x}, local {:#x})", origin.flags, local.flags));
        return Err(hg_return::HG_PERMISSION);
    }
    // SAFETY: by the contract NULL or a live address.
    let target = match unsafe { handles::addr_ref(origin_addr) } {
        Some(a) => a.clone(),
        None => match engine.lookup(&origin.owner) {
            Ok(a) => a,
            Err(e) => {
                fail(entry, format!("the handle's address \"{}\": {e}", origin.owner));
                return Err((&e).into());
            }
        },
    };
    Ok(Plan::new(engine, table, target, op, origin.id, oo, local_region.clone(), lo, size))
}

impl Plan {
    /// A transfer of `size` bytes between the memory `target` registered
    /// as `origin_id` (at `origin_offset`) and `local` (at `local_offset`),
    /// whose ranges and flags the caller has checked.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        engine: Engine,
        table: &'static BulkTable,
        target: Address,
        op: hg_bulk_op_t,
        origin_id: u64,
        origin_offset: u64,
        local: Arc<Region>,
        local_offset: u64,
        size: usize,
    ) -> Plan {
        let to_self = target == engine.self_address();
        Plan { engine, table, target, to_self, op, origin_id, origin_offset, local, local_offset, size }
    }
}

/// Why a transfer failed: its code and a sentence for the log.
pub(crate) type Failure = (hg_return_t, String);

/// A transfer under way: pieces of at most `piece` bytes, at most `window`
/// of them in flight (sent, not yet settled). A blocking transfer settles
/// them in order in [`Transfer::wait`], each wait on a piece's call
/// ([`PendingCall::wait`]) blocking in the engine's wait. A non-blocking one
/// ([`PendingTransfer`]) also settles each piece as its answer comes, on
/// the engine's handler pool, and sends the next ones from there.
pub(super) struct Transfer {
    plan: Plan,
    piece: usize,
    window: usize,
    deadline: Instant,
    /// Bytes of the transfer sent for so far (from its start).
    issued: usize,
    /// The calls in flight, oldest first, with the offset (from the
    /// transfer's start) and length of their piece.
    in_flight: VecDeque<(PendingCall, usize, usize)>,
    /// The first failure; no piece starts after it.
    failed: Option<Failure>,
    /// Pieces a waiter took out of `in_flight` to block on, not settled yet.
    held: usize,
    /// Told of each piece's call as it is sent (how a non-blocking transfer
    /// learns of its answers).
    on_sent: Option<OnSent>,
    /// Run once when a non-blocking transfer is done, after its last piece
    /// is settled on the handler pool (`margo_bulk_ctransfer`), never under
    /// the transfer's lock.
    on_done: Option<OnDone>,
}

/// See [`Transfer::on_done`].
pub(in crate::ffi) type OnDone = Box<dyn FnOnce() + Send>;

/// See [`Transfer::on_sent`].
type OnSent = Box<dyn Fn(&PendingCall) + Send>;

impl Transfer {
    /// Starts the first window of pieces (all of them for a transfer to
    /// this engine, which is a copy).
    pub(super) fn start(plan: Plan, piece: usize, deadline: Instant) -> Transfer {
        let mut t = Transfer::new(plan, piece, deadline);
        t.fill();
        t
    }

    /// A transfer with nothing sent yet.
    fn new(plan: Plan, piece: usize, deadline: Instant) -> Transfer {
        let piece = piece.clamp(1, CHUNK);
        let window = (IN_FLIGHT / piece).clamp(1, MAX_PIECES);
        Transfer {
            plan,
            piece,
            window,
            deadline,
            issued: 0,
            in_flight: VecDeque::new(),
            failed: None,
            held: 0,
            on_sent: None,
            on_done: None,
        }
    }

    pub(super) fn done(&self) -> bool {
        self.failed.is_some() || (self.in_flight.is_empty() && self.held == 0 && self.issued == self.plan.size)
    }

    pub(super) fn fail(&mut self, why: Failure) {
        self.failed.get_or_insert(why);
        // Abandoned: their answers (if any) are dropped.
        self.in_flight.clear();
    }

    /// Sends pieces until the window is full or everything is sent.
    pub(super) fn fill(&mut self) {
        while self.failed.is_none() && self.in_flight.len() < self.window && self.issued < self.plan.size {
            let at = self.issued;
            let n = (self.plan.size - at).min(self.piece);
            self.issued += n;
            if let Err(why) = self.send(at, n) {
                self.fail(why);
            }
        }
    }

    pub(super) fn send(&mut self, at: usize, n: usize) -> Result<(), Failure> {
        let p = &self.plan;
        let mut payload = request(p.op, p.origin_id, p.origin_offset + at as u64, n as u64, &[]);
        if p.op == PUSH {
            payload.resize(REQUEST_HEADER + n, 0);
            p.local.read(p.local_offset + at as u64, &mut payload[REQUEST_HEADER..]).map_err(local_failure)?;
        }
        if p.to_self {
            let answer = p.table.serve(&payload);
            return self.settle(at, n, Ok(answer));
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err((hg_return::HG_TIMEOUT, format!("timed out after {at} of {} bytes", p.size)));
        }
        let call = p
            .engine
            .call_async(&p.target, BULK_RPC, DEFAULT_PROVIDER_ID, payload, left)
            .map_err(|e| (hg_return_t::from(&e), format!("{} (after {at} of {} bytes)", e, p.size)))?;
        if let Some(tell) = &self.on_sent {
            tell(&call);
        }
        self.in_flight.push_back((call, at, n));
        Ok(())
    }

    /// Takes the owner's answer to the piece at `at` of `n` bytes: its
    /// status and, for a pull, the bytes, copied into the local segments.
    pub(super) fn settle(&self, at: usize, n: usize, answer: Result<Vec<u8>, RpcError>) -> Result<(), Failure> {
        let p = &self.plan;
        let answer = answer.map_err(|e| (hg_return_t::from(&e), format!("{} (after {at} of {} bytes)", e, p.size)))?;
        let Some((&status, bytes)) = answer.split_first() else {
            return Err((hg_return::HG_PROTOCOL_ERROR, "empty answer from the origin".into()));
        };
        let code = answer_code(status);
        if code != hg_return::HG_SUCCESS {
            let at_origin = p.origin_offset + at as u64;
            return Err((
                code,
                format!("the origin {} refused {n} bytes at {at_origin} of handle {:#x}: {code:?}", p.target, p.origin_id),
            ));
        }
        if p.op == PULL {
            if bytes.len() != n {
                return Err((hg_return::HG_PROTOCOL_ERROR, format!("the origin sent {} bytes for {n}", bytes.len())));
            }
            p.local.write(p.local_offset + at as u64, bytes).map_err(local_failure)?;
        }
        Ok(())
    }

    /// Waits for every piece, in order, starting the next ones as it goes.
    pub(super) fn wait(mut self) -> Result<(), Failure> {
        while let Some((call, at, n)) = self.in_flight.pop_front() {
            match self.settle(at, n, call.wait()) {
                Ok(()) => self.fill(),
                Err(why) => self.fail(why),
            }
        }
        match self.failed {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }

    /// Settles the pieces already answered, in any order and without
    /// blocking, and starts the next ones.
    fn settle_answered(&mut self) {
        let mut i = 0;
        while i < self.in_flight.len() {
            if !self.in_flight[i].0.is_answered() {
                i += 1;
                continue;
            }
            let Some((call, at, n)) = self.in_flight.remove(i) else { break };
            match self.settle(at, n, call.wait()) {
                Ok(()) => self.fill(),
                Err(why) => self.fail(why),
            }
        }
    }

    /// Takes out the pieces past their deadline, for the caller to settle
    /// with [`Transfer::settle_held`] once it has let go of the transfer
    /// (settling one may probe whether its owner is gone).
    fn take_late(&mut self) -> Vec<(PendingCall, usize, usize)> {
        let now = Instant::now();
        let mut late = Vec::new();
        for piece in std::mem::take(&mut self.in_flight) {
            if now >= piece.0.deadline() {
                late.push(piece);
            } else {
                self.in_flight.push_back(piece);
            }
        }
        self.held += late.len();
        late
    }

    /// Takes a waiter's piece back with its answer.
    fn settle_held(&mut self, at: usize, n: usize, answer: Result<Vec<u8>, RpcError>) {
        self.held -= 1;
        if self.failed.is_some() {
            return;
        }
        match self.settle(at, n, answer) {
            Ok(()) => self.fill(),
            Err(why) => self.fail(why),
        }
    }

    fn outcome(&mut self) -> Result<(), Failure> {
        match self.failed.take() {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }
}

/// A finished transfer's code; its failure, if any, is logged under `entry`.
fn code_of(entry: &str, outcome: Result<(), Failure>) -> hg_return_t {
    match outcome {
        Ok(()) => hg_return::HG_SUCCESS,
        Err((code, why)) => {
            fail(entry, why);
            code
        }
    }
}

pub(super) fn local_failure(code: hg_return_t) -> Failure {
    (code, format!("the local handle: {code:?} (freed while in use?)"))
}

/// A non-blocking transfer, owned by its `margo_request` (see
/// `rpc::Operation`): `margo_wait` and `margo_test` come here.
///
/// It moves on its own: each piece's answer queues a job on the engine's
/// handler pool that settles the answered pieces and sends the next ones,
/// so a transfer of any size completes while the caller does something
/// else. The jobs hold the transfer weakly: once the request is waited for
/// (or dropped), late jobs find nothing to do. Nobody blocks while holding
/// the transfer's lock: a waiter takes the oldest piece out, blocks on its
/// call alone, and puts the answer back.
pub struct PendingTransfer(Arc<Mutex<Transfer>>);

impl PendingTransfer {
    /// Starts `plan`'s transfer in pieces of `piece` bytes.
    pub(super) fn start(plan: Plan, piece: usize, deadline: Instant) -> PendingTransfer {
        let pool = plan.engine.handler_pool();
        let shared = Arc::new_cyclic(|weak: &Weak<Mutex<Transfer>>| {
            let mut t = Transfer::new(plan, piece, deadline);
            let weak = weak.clone();
            t.on_sent = Some(Box::new(move |call: &PendingCall| {
                let (weak, pool) = (weak.clone(), pool.clone());
                // Runs where the answer lands (the progress loop): only queues.
                call.on_complete(Box::new(move || pool.push(Box::new(move || advance(&weak)))));
            }));
            Mutex::new(t)
        });
        shared.lock().fill();
        PendingTransfer(shared)
    }

    /// Finishes the transfer: blocks on its oldest piece until every piece
    /// is settled. Failures are logged under `entry`.
    pub(in crate::ffi) fn wait(self, entry: &str) -> hg_return_t {
        let outcome = loop {
            let (call, at, n) = {
                let mut t = self.0.lock();
                t.settle_answered();
                if t.done() {
                    break t.outcome();
                }
                let Some(oldest) = t.in_flight.pop_front() else {
                    // Not done with nothing in flight: only another waiter
                    // could hold pieces, and a request has one.
                    break Err((hg_return::HG_OTHER_ERROR, "pieces held elsewhere".into()));
                };
                t.held += 1;
                oldest
            };
            let answer = call.wait();
            self.0.lock().settle_held(at, n, answer);
        };
        code_of(entry, outcome.map_err(|(code, why)| (code, format!("bulk transfer: {why}"))))
    }

    /// Runs `f` once the transfer is done (at once, on this thread, if it
    /// already is): after the job that settles its last piece, on the
    /// engine's handler pool. A transfer waited for (`margo_wait`) first
    /// does not run it.
    pub(in crate::ffi) fn when_done(&self, f: OnDone) {
        let now = {
            let mut t = self.0.lock();
            t.settle_answered();
            if t.done() {
                Some(f)
            } else {
                t.on_done = Some(f);
                None
            }
        };
        if let Some(f) = now {
            f();
        }
    }

    /// The engine the transfer runs on.
    pub(in crate::ffi) fn engine(&self) -> Engine {
        self.0.lock().plan.engine.clone()
    }

    /// Whether every piece is settled (or one failed), without settling
    /// or driving anything.
    #[cfg(test)]
    pub(super) fn is_done(&self) -> bool {
        self.0.lock().done()
    }

    /// What a waiter for several requests waits on: the pieces in flight
    /// (their engine) and the transfer's deadline; `None` once nothing is
    /// in flight.
    pub(in crate::ffi) fn waits(&self) -> Option<(Engine, Vec<Completion>, Instant)> {
        let t = self.0.lock();
        let (first, _, _) = t.in_flight.front()?;
        let completions = t.in_flight.iter().map(|(call, _, _)| call.completion()).collect();
        Some((first.engine().clone(), completions, t.deadline))
    }

    /// True if [`PendingTransfer::wait`] would return at once.
    pub(in crate::ffi) fn test(&self) -> bool {
        let late = {
            let mut t = self.0.lock();
            // Polled by a caller that may be the only one driving progress.
            if let Some((call, _, _)) = t.in_flight.front() {
                let _ = call.test();
            }
            t.settle_answered();
            t.take_late()
        };
        for (call, at, n) in late {
            let answer = call.wait();
            self.0.lock().settle_held(at, n, answer);
        }
        self.0.lock().done()
    }
}

/// A piece's answer came: settles what is answered and sends what follows
/// (a job on the handler pool; nothing if the request is gone).
fn advance(transfer: &Weak<Mutex<Transfer>>) {
    if let Some(t) = transfer.upgrade() {
        let hook = {
            let mut guard = t.lock();
            guard.settle_answered();
            if guard.done() {
                guard.on_done.take()
            } else {
                None
            }
        };
        if let Some(hook) = hook {
            hook();
        }
    }
}

/// Moves `size` bytes between `origin_handle` (memory of the process at
/// `origin_addr`, usually a handle received in an RPC's input) at
/// `origin_offset` and `local_handle` (made here by `margo_bulk_create`) at
/// `local_offset`: `HG_BULK_PULL` copies the origin's bytes here,
/// `HG_BULK_PUSH` copies local bytes there. `origin_addr` NULL: the address
/// the handle was made at. Done with RPCs to the origin's engine, in pieces
/// of 1 MiB (up to 16 in flight at once), waiting at most `timeout_ms` in
/// all (<= 0: no timeout).
///
/// Errors: `HG_INVALID_ARG` for NULL or wrong handles, an unknown op, or a
/// range past either handle's size; `HG_PERMISSION` if either handle's
/// flags forbid the operation; `HG_NOENTRY` if the origin no longer has the
/// handle (freed); `HG_TIMEOUT`; the RPC's error if the origin is unreachable.
///
/// # Safety
/// `origin_addr` NULL or a live address; `origin_handle` and `local_handle`
/// NULL or live bulk handles.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_transfer_timed(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
    timeout_ms: f64,
) -> hg_return_t {
    const E: &str = "margo_bulk_transfer";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        // SAFETY: the caller's contract.
        let plan = match unsafe { plan(E, mid, op, origin_addr, origin_handle, origin_offset, local_handle, local_offset, size) }
        {
            Ok(p) => p,
            Err(code) => return code,
        };
        let deadline = Instant::now() + timeout_of(timeout_ms);
        code_of(E, Transfer::start(plan, PIECE, deadline).wait())
    })
}

/// `margo_bulk_transfer_timed` with no timeout.
///
/// # Safety
/// As for `margo_bulk_transfer_timed`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_transfer(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe {
        margo_bulk_transfer_timed(mid, op, origin_addr, origin_handle, origin_offset, local_handle, local_offset, size, 0.0)
    }
}

/// Starts `margo_bulk_transfer_timed`'s transfer without waiting for it:
/// `*req` is set to a request that `margo_wait` finishes (and frees), with
/// the transfer's code, and that `margo_test` polls. Its arguments are
/// checked before this returns (the same errors, and then no request is
/// made); the first pieces (up to 16 MiB) are sent at once, and each
/// answer sends the next piece, on the engine's handler pool, while the
/// caller does something else. Between two handles of this
/// engine the copy is done here. The local memory must stay untouched
/// until the request is waited for.
///
/// # Safety
/// As for `margo_bulk_transfer_timed`; `req` NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_itransfer_timed(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
    timeout_ms: f64,
    req: *mut margo_request,
) -> hg_return_t {
    const E: &str = "margo_bulk_itransfer";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        if req.is_null() {
            fail(E, "output request pointer is NULL");
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: the caller's contract.
        let plan = match unsafe { plan(E, mid, op, origin_addr, origin_handle, origin_offset, local_handle, local_offset, size) }
        {
            Ok(p) => p,
            Err(code) => return code,
        };
        let deadline = Instant::now() + timeout_of(timeout_ms);
        let transfer = PendingTransfer::start(plan, PIECE, deadline);
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *req = handles::boxed_into_c::<margo_request_struct>(Operation::Transfer(transfer)) };
        hg_return::HG_SUCCESS
    })
}

/// `margo_bulk_itransfer_timed` with no timeout.
///
/// # Safety
/// As for `margo_bulk_itransfer_timed`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_itransfer(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
    req: *mut margo_request,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe {
        margo_bulk_itransfer_timed(mid, op, origin_addr, origin_handle, origin_offset, local_handle, local_offset, size, 0.0, req)
    }
}

/// `margo_bulk_transfer` in pieces of `chunk_size` bytes (at most 4 MiB
/// each: bigger chunks are split) run concurrently: up to 16 MiB, and at
/// most 64 pieces, in flight at once; returns once all are done, with the
/// first failure's code. Declared in `margo-bulk-util.h`, as upstream.
///
/// Errors: those of `margo_bulk_transfer`, and `HG_INVALID_ARG` for a
/// `chunk_size` of 0.
///
/// # Safety
/// As for `margo_bulk_transfer_timed`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_parallel_transfer(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
    chunk_size: usize,
) -> hg_return_t {
    const E: &str = "margo_bulk_parallel_transfer";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        if chunk_size == 0 {
            fail(E, "chunk_size is 0");
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: the caller's contract.
        let plan = match unsafe { plan(E, mid, op, origin_addr, origin_handle, origin_offset, local_handle, local_offset, size) }
        {
            Ok(p) => p,
            Err(code) => return code,
        };
        let deadline = Instant::now() + timeout_of(0.0);
        code_of(E, Transfer::start(plan, chunk_size, deadline).wait())
    })
}
