//! Memory a handle registers, and how its owner serves transfers of it.

use super::*;
use crate::ffi::hg::{hg_bulk_op_t, hg_return, hg_return_t};
use crate::rpc::{Engine, RpcError, DEFAULT_PROVIDER_ID};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Arc;

/// A request: op (1 byte), id, offset, size (8 bytes each, little-endian),
/// then for a push the bytes.
pub(super) const REQUEST_HEADER: usize = 1 + 8 + 8 + 8;

/// Registered memory: the segments of one handle made by `margo_bulk_create`.
pub struct Region {
    /// (address, length) of each segment, in order.
    pub(super) segments: Vec<(usize, usize)>,
    pub(super) size: u64,
    pub(super) flags: u8,
    /// False once the handle is freed; held while bytes are copied, so
    /// that freeing waits for a copy in progress.
    pub(super) live: Mutex<bool>,
    /// Segments this library allocated (`margo_bulk_create` with NULL
    /// pointers), freed with the region.
    pub(super) owned: Vec<usize>,
}

impl Drop for Region {
    fn drop(&mut self) {
        for p in &self.owned {
            // SAFETY: allocated by libc::calloc in margo_bulk_create, owned by
            // this region alone, and nothing copies any more (the region is
            // being dropped: no Arc to it is left).
            unsafe { libc::free(*p as *mut c_void) };
        }
    }
}

/// True if `[offset, offset + len)` lies within a handle of `size` bytes.
pub(super) fn within(offset: u64, len: u64, size: u64) -> bool {
    offset.checked_add(len).is_some_and(|end| end <= size)
}

/// The flag a handle needs for `op` done on its memory by someone else: a
/// pull reads it (`HG_BULK_READ_ONLY`), a push writes it
/// (`HG_BULK_WRITE_ONLY`); `HG_INVALID_ARG` for an unknown op.
pub(super) fn flag_for(op: hg_bulk_op_t) -> Result<u8, hg_return_t> {
    match op {
        PULL => Ok(READ_ONLY),
        PUSH => Ok(WRITE_ONLY),
        _ => Err(hg_return::HG_INVALID_ARG),
    }
}

/// Checks that a handle with `flags` allows `op` on its memory
/// (`HG_PERMISSION` if not).
pub(super) fn permits(flags: u8, op: hg_bulk_op_t) -> Result<(), hg_return_t> {
    if flags & flag_for(op)? == 0 {
        return Err(hg_return::HG_PERMISSION);
    }
    Ok(())
}

impl Region {
    /// A region over memory of this library's own (a transfer's scratch
    /// buffer), registered in no table. The memory must stay valid until
    /// the region is killed ([`Region::kill`]) or dropped.
    pub(super) fn scratch(addr: usize, len: usize, flags: u8) -> Region {
        Region { segments: vec![(addr, len)], size: len as u64, flags, live: Mutex::new(true), owned: Vec::new() }
    }

    /// From now on every copy through the region fails (`HG_NOENTRY`);
    /// waits for a copy in progress.
    pub(super) fn kill(&self) {
        *self.live.lock() = false;
    }

    /// Checks that `[offset, offset + len)` lies within the region.
    pub(super) fn check_range(&self, offset: u64, len: u64) -> Result<(), hg_return_t> {
        if within(offset, len, self.size) {
            Ok(())
        } else {
            Err(hg_return::HG_INVALID_ARG)
        }
    }

    /// The (address, length) pieces of the segments that `[offset, offset +
    /// len)` covers, in order, none empty; the range must lie within the
    /// region ([`Region::check_range`]).
    pub(super) fn pieces(&self, offset: u64, len: u64) -> impl Iterator<Item = (usize, usize)> + '_ {
        let (mut skip, mut left) = (offset, len);
        self.segments.iter().filter_map(move |&(addr, seg_len)| {
            let seg_len = seg_len as u64;
            if skip >= seg_len {
                skip -= seg_len;
                return None;
            }
            let n = (seg_len - skip).min(left);
            if n == 0 {
                return None;
            }
            let piece = (addr + skip as usize, n as usize);
            skip = 0;
            left -= n;
            Some(piece)
        })
    }

    /// Calls `f(segment address, range of the piece within the copy)` for
    /// each piece of `[offset, offset + len)`, under the liveness lock.
    pub(super) fn with_pieces(
        &self,
        offset: u64,
        len: usize,
        mut f: impl FnMut(usize, std::ops::Range<usize>),
    ) -> Result<(), hg_return_t> {
        self.check_range(offset, len as u64)?;
        let live = self.live.lock();
        if !*live {
            return Err(hg_return::HG_NOENTRY);
        }
        let mut done = 0usize;
        for (addr, n) in self.pieces(offset, len as u64) {
            f(addr, done..done + n);
            done += n;
        }
        drop(live);
        Ok(())
    }

    /// Copies `out.len()` bytes from `offset` into `out`.
    pub(super) fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), hg_return_t> {
        let len = out.len();
        self.with_pieces(offset, len, |addr, range| {
            // SAFETY: the piece lies within one registered segment (the walk
            // stays within the region's size, checked above), which the
            // user keeps valid until margo_bulk_free; the region is live
            // (checked under the lock we hold, which margo_bulk_free takes
            // before the memory may go). `out` is our own buffer.
            unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, out[range.clone()].as_mut_ptr(), range.len()) };
        })
    }

    /// Copies `data` into the region at `offset`.
    pub(super) fn write(&self, offset: u64, data: &[u8]) -> Result<(), hg_return_t> {
        self.with_pieces(offset, data.len(), |addr, range| {
            // SAFETY: as in `read`: within a live registered segment, which
            // the user gave for writing; `data` is our own buffer.
            unsafe { std::ptr::copy_nonoverlapping(data[range.clone()].as_ptr(), addr as *mut u8, range.len()) };
        })
    }
}

/// The handles of one instance that others may transfer from and to.
pub struct BulkTable {
    pub(super) regions: Mutex<HashMap<u64, Arc<Region>>>,
    pub(super) ids: Mutex<crate::rng::Rng>,
    /// Whether [`BULK_RPC`] is registered with the engine.
    pub(super) served: Mutex<bool>,
}

impl Default for BulkTable {
    fn default() -> BulkTable {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let seed = nanos ^ ((std::process::id() as u64) << 32);
        BulkTable { regions: Mutex::default(), ids: Mutex::new(crate::rng::Rng::new(seed)), served: Mutex::new(false) }
    }
}

impl BulkTable {
    pub(super) fn insert(&self, region: Arc<Region>) -> u64 {
        let mut regions = self.regions.lock();
        loop {
            let id = self.ids.lock().next_u64();
            if id != 0 && !regions.contains_key(&id) {
                regions.insert(id, region);
                return id;
            }
        }
    }

    pub(super) fn get(&self, id: u64) -> Option<Arc<Region>> {
        self.regions.lock().get(&id).cloned()
    }

    /// Removes a handle's id, then waits for a copy in progress on it.
    pub(super) fn remove(&self, id: u64) {
        let region = self.regions.lock().remove(&id);
        if let Some(r) = region {
            r.kill();
        }
    }

    /// Registers [`BULK_RPC`] with `engine` (once).
    pub(super) fn serve_on(&'static self, engine: &Engine) -> Result<(), RpcError> {
        let mut served = self.served.lock();
        if *served {
            return Ok(());
        }
        let handler = Arc::new(move |req: crate::rpc::Request| Ok(self.serve(&req.payload)));
        match engine.register(BULK_RPC, DEFAULT_PROVIDER_ID, None, handler) {
            Ok(()) | Err(RpcError::AlreadyRegistered { .. }) => {
                *served = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Answers one transfer request: a status byte (an `hg_return_t`),
    /// then for a pull the bytes.
    pub fn serve(&self, payload: &[u8]) -> Vec<u8> {
        match self.serve_inner(payload) {
            Ok(mut answer) => {
                answer.insert(0, hg_return::HG_SUCCESS as u8);
                answer
            }
            Err(code) => vec![code as u8],
        }
    }

    pub(super) fn serve_inner(&self, payload: &[u8]) -> Result<Vec<u8>, hg_return_t> {
        if payload.len() < REQUEST_HEADER {
            return Err(hg_return::HG_PROTOCOL_ERROR);
        }
        let word = |at: usize| {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&payload[at..at + 8]);
            u64::from_le_bytes(raw)
        };
        let (op, id, offset, len) = (payload[0] as hg_bulk_op_t, word(1), word(9), word(17));
        let data = &payload[REQUEST_HEADER..];
        let region = self.get(id).ok_or(hg_return::HG_NOENTRY)?;
        match op {
            PULL => {
                permits(region.flags, PULL)?;
                region.check_range(offset, len)?;
                if !data.is_empty() || len > MAX_SERVED {
                    return Err(hg_return::HG_PROTOCOL_ERROR);
                }
                let mut out = vec![0u8; len as usize];
                region.read(offset, &mut out)?;
                Ok(out)
            }
            PUSH => {
                permits(region.flags, PUSH)?;
                if data.len() as u64 != len {
                    return Err(hg_return::HG_PROTOCOL_ERROR);
                }
                region.write(offset, data)?;
                Ok(Vec::new())
            }
            _ => Err(hg_return::HG_PROTOCOL_ERROR),
        }
    }
}

/// A transfer request's bytes.
pub fn request(op: hg_bulk_op_t, id: u64, offset: u64, len: u64, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(REQUEST_HEADER + data.len());
    out.push(op as u8);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The code an owner answered with.
pub(super) fn answer_code(byte: u8) -> hg_return_t {
    use hg_return::*;
    [HG_SUCCESS, HG_NOENTRY, HG_PERMISSION, HG_INVALID_ARG, HG_PROTOCOL_ERROR, HG_MSGSIZE, HG_NOMEM]
        .into_iter()
        .find(|c| *c as u8 == byte)
        .unwrap_or(HG_OTHER_ERROR)
}
