//! The serialized form of a handle: `hg_proc_hg_bulk_t` and
//! `margo_bulk_serialize` / `margo_bulk_deserialize`.

use super::transfer::Failure;
use super::*;
use crate::ffi::handles::{self, margo_instance_id};
use crate::ffi::hg::{hg_bulk, hg_bulk_t, hg_class_t, hg_proc_t, hg_return, hg_return_t, hg_size_t};
use crate::ffi::hg_proc::{Op, Proc, ProcError};
use crate::ffi::margo::fail;
use crate::ffi::panic::guard;
use std::ffi::{c_ulong, c_void};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// The longest serialized handle `margo_bulk_deserialize` reads (ours are
/// under 200 bytes: an address is short); bytes past it are not looked at,
/// nor copied.
pub(super) const MAX_SERIALIZED: usize = 4096;

/// Writes a handle's serialized form (`None`: `HG_BULK_NULL`). The one
/// layout, for an RPC's payload (`hg_proc_hg_bulk_t`) and for a buffer
/// (`margo_bulk_serialize`), read back by [`decode_bulk`]; integers
/// little-endian, no padding:
///
/// | bytes | field                                                       |
/// |-------|-------------------------------------------------------------|
/// | 8     | marker, `u64`: 0 for `HG_BULK_NULL` (nothing follows), 1    |
/// | 8 + n | the owner engine's address: `u64` n + 1, then its n bytes (no NUL) |
/// | 8     | the id the owner registered the handle under, `u64`         |
/// | 8     | the handle's total size in bytes, `u64`                     |
/// | 1     | its access flags: 1 read-only, 2 write-only, 3 read-write   |
/// | 4     | its segment count (as made at the owner), `u32`             |
///
/// That is what a remote needs to transfer against the handle: where to
/// send the requests, which handle they name, and the bounds and flags to
/// check before sending; the owner checks them again against its table.
pub(super) fn encode_bulk(p: &mut Proc, b: Option<&Bulk>) -> Result<(), ProcError> {
    let Some(b) = b else { return p.put_int(0u64) };
    p.put_int(1u64)?;
    p.put_string(Some(b.owner.as_bytes()))?;
    p.put_int(b.id)?;
    p.put_int(b.size)?;
    p.put_int(b.flags)?;
    p.put_int(b.segment_count)
}

/// Reads what [`encode_bulk`] wrote: a new handle naming that memory, or
/// NULL for `HG_BULK_NULL`. Every length is checked against the bytes left
/// before anything is allocated; the address must be UTF-8 and the flags 1
/// to 3.
pub(super) fn decode_bulk(p: &mut Proc) -> Result<hg_bulk_t, hg_return_t> {
    let marker: u64 = p.take_int().map_err(|e| hg_return_t::from(&e))?;
    match marker {
        0 => return Ok(std::ptr::null_mut()),
        1 => {}
        _ => return Err(p.refuse(format!("bulk handle marker {marker}"))),
    }
    let owner = match p.take_string() {
        Ok(Some(s)) => std::str::from_utf8(s).map(str::to_string).map_err(|_| ()),
        Ok(None) => Err(()),
        Err(e) => return Err((&e).into()),
    };
    let Ok(owner) = owner else { return Err(p.refuse("a bulk handle's address is NULL or not UTF-8".into())) };
    let ints = (|| Ok::<_, ProcError>((p.take_int::<u64>()?, p.take_int::<u64>()?, p.take_int::<u8>()?, p.take_int::<u32>()?)))();
    let (id, size, flags, segment_count) = ints.map_err(|e| hg_return_t::from(&e))?;
    if !(1..=READWRITE).contains(&flags) {
        return Err(p.refuse(format!("bulk handle flags {flags:#x}")));
    }
    let bulk = Bulk { refs: AtomicUsize::new(1), owner, id, size, flags, segment_count, local: None };
    Ok(handles::boxed_into_c::<hg_bulk>(bulk))
}

/// A bulk handle field of a `MERCURY_GEN_PROC` struct: `data` points at the
/// `hg_bulk_t`. Encoding writes what names the memory (owner address, id,
/// size, flags, segment count; `HG_BULK_NULL` as a 0 marker); decoding
/// makes a new handle that names it (released by the free op, i.e. by
/// `margo_free_input` / `margo_free_output`, or at once if the decode fails).
///
/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid
/// for reads and writes of one `hg_bulk_t`, which when encoding or freeing
/// is `HG_BULK_NULL` or a live handle.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_hg_bulk_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    guard("hg_proc_hg_bulk_t", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract.
        let Some(p) = (unsafe { handles::proc_mut(proc) }) else { return hg_return::HG_INVALID_ARG };
        let field = data as *mut hg_bulk_t;
        if field.is_null() {
            return hg_return::HG_INVALID_ARG;
        }
        match p.op() {
            Op::Encode => {
                // SAFETY: readable by the contract.
                let h = unsafe { field.read_unaligned() };
                // SAFETY: NULL or a live handle by the contract.
                match encode_bulk(p, unsafe { bulk_ref(h) }) {
                    Ok(()) => hg_return::HG_SUCCESS,
                    Err(e) => (&e).into(),
                }
            }
            Op::Decode => match decode_bulk(p) {
                Ok(h) => {
                    // SAFETY: writable by the contract.
                    unsafe { field.write_unaligned(h) };
                    if !h.is_null() {
                        p.record_bulk(field, h);
                    }
                    hg_return::HG_SUCCESS
                }
                Err(code) => code,
            },
            Op::Free => {
                // SAFETY: by the contract HG_BULK_NULL or a live handle (the
                // one the decode made), released here once.
                let r = unsafe { release(field.read_unaligned()) };
                // SAFETY: writable by the contract.
                unsafe { field.write_unaligned(std::ptr::null_mut()) };
                r
            }
        }
    })
}

/// A live handle's serialized form (see [`encode_bulk`]).
pub(super) fn serialized(b: &Bulk) -> Result<Vec<u8>, ProcError> {
    let mut p = Proc::encoder();
    encode_bulk(&mut p, Some(b))?;
    Ok(p.into_payload())
}

/// The number of bytes `margo_bulk_serialize` writes for `handle` (0 for
/// `HG_BULK_NULL`, with a log line). `flags` (Mercury's `HG_BULK_SM`,
/// `HG_BULK_EAGER`) is accepted and changes nothing: there is one form.
///
/// # Safety
/// `handle` NULL or a live bulk handle.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_get_serialize_size(handle: hg_bulk_t, flags: c_ulong) -> hg_size_t {
    const E: &str = "margo_bulk_get_serialize_size";
    guard(E, 0, || {
        let _ = flags;
        // SAFETY: by the contract NULL or a live handle.
        let Some(b) = (unsafe { bulk_ref(handle) }) else {
            fail(E, "NULL bulk handle");
            return 0;
        };
        match serialized(b) {
            Ok(bytes) => bytes.len() as hg_size_t,
            Err(e) => {
                fail(E, e);
                0
            }
        }
    })
}

/// Mercury's name for `margo_bulk_get_serialize_size`.
///
/// # Safety
/// As for `margo_bulk_get_serialize_size`.
#[no_mangle]
pub unsafe extern "C" fn HG_Bulk_get_serialize_size(handle: hg_bulk_t, flags: c_ulong) -> hg_size_t {
    // SAFETY: the same contract.
    unsafe { margo_bulk_get_serialize_size(handle, flags) }
}

/// Writes `handle`'s serialized form into `buf`, for another process to
/// `margo_bulk_deserialize` and transfer against: the bytes
/// `hg_proc_hg_bulk_t` puts in an RPC (a marker, the owner's address, the
/// handle's id, size, flags and segment count; layout in README, "Wire
/// format"), `margo_bulk_get_serialize_size(handle, flags)` of them. `flags`
/// as for `margo_bulk_get_serialize_size`.
///
/// Errors: `HG_INVALID_ARG` for a NULL handle or buffer, `HG_OVERFLOW` if
/// `buf_size` is too small (nothing is written then).
///
/// # Safety
/// `buf` NULL or writable for `buf_size` bytes; `handle` NULL or a live
/// bulk handle.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_serialize(
    buf: *mut c_void,
    buf_size: hg_size_t,
    flags: c_ulong,
    handle: hg_bulk_t,
) -> hg_return_t {
    const E: &str = "margo_bulk_serialize";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let _ = flags;
        // SAFETY: by the contract NULL or a live handle.
        let (Some(b), false) = (unsafe { bulk_ref(handle) }, buf.is_null()) else {
            fail(E, "NULL bulk handle or buffer");
            return hg_return::HG_INVALID_ARG;
        };
        let bytes = match serialized(b) {
            Ok(bytes) => bytes,
            Err(e) => {
                fail(E, &e);
                return (&e).into();
            }
        };
        if bytes.len() as u64 > buf_size {
            fail(E, format!("the handle needs {} bytes, the buffer has {buf_size}", bytes.len()));
            return hg_return::HG_OVERFLOW;
        }
        // SAFETY: buf is non-NULL and, by the contract, writable for
        // buf_size >= bytes.len() bytes; `bytes` is our own buffer.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf as *mut u8, bytes.len()) };
        hg_return::HG_SUCCESS
    })
}

/// Mercury's name for `margo_bulk_serialize`.
///
/// # Safety
/// As for `margo_bulk_serialize`.
#[no_mangle]
pub unsafe extern "C" fn HG_Bulk_serialize(
    buf: *mut c_void,
    buf_size: hg_size_t,
    flags: c_ulong,
    handle: hg_bulk_t,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_bulk_serialize(buf, buf_size, flags, handle) }
}

/// Makes a handle from the serialized form at the start of `bytes` (bytes
/// after it are ignored), or says what is wrong.
pub(super) fn handle_from_bytes(bytes: &[u8]) -> Result<hg_bulk_t, Failure> {
    let mut p = Proc::decoder(Arc::from(bytes));
    match decode_bulk(&mut p) {
        Ok(h) if h.is_null() => {
            Err((hg_return::HG_INVALID_ARG, "the bytes are the form of HG_BULK_NULL, not of a handle".into()))
        }
        Ok(h) => Ok(h),
        // The decode's own error is the first one finish reports (bytes
        // left over are not one here).
        Err(code) => Err(match p.finish() {
            Err(e @ ProcError::Truncated { .. }) => {
                (hg_return::HG_OVERFLOW, format!("{} bytes are not a whole serialized handle: {e}", bytes.len()))
            }
            Err(e) => (code, format!("not a serialized bulk handle: {e}")),
            Ok(()) => (code, format!("not a serialized bulk handle: {code:?}")),
        }),
    }
}

/// `margo_bulk_deserialize` once the instance is checked; what is wrong is
/// logged under `entry`. At most [`MAX_SERIALIZED`] bytes are read.
///
/// # Safety
/// `handle` NULL or writable; `buf` NULL or readable for `buf_size` bytes.
pub(super) unsafe fn deserialize(entry: &str, handle: *mut hg_bulk_t, buf: *const c_void, buf_size: hg_size_t) -> hg_return_t {
    if handle.is_null() || (buf.is_null() && buf_size != 0) {
        fail(entry, "NULL output handle pointer or buffer");
        return hg_return::HG_INVALID_ARG;
    }
    // SAFETY: non-NULL, writable by the contract; cleared until a handle is made.
    unsafe { handle.write_unaligned(std::ptr::null_mut()) };
    let len = usize::try_from(buf_size).map_or(MAX_SERIALIZED, |n| n.min(MAX_SERIALIZED));
    let bytes: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: buf is non-NULL (len > 0 means buf_size > 0) and readable
        // for buf_size >= len bytes by the contract.
        unsafe { std::slice::from_raw_parts(buf as *const u8, len) }
    };
    match handle_from_bytes(bytes) {
        Ok(h) => {
            // SAFETY: non-NULL, writable by the contract.
            unsafe { handle.write_unaligned(h) };
            hg_return::HG_SUCCESS
        }
        Err((code, why)) => {
            fail(entry, why);
            code
        }
    }
}

/// Makes a handle from bytes `margo_bulk_serialize` wrote (in this process
/// or another): it names the same memory, and transfers against it go to
/// its owner, who checks them. Free it with `margo_bulk_free`. Bytes after
/// the serialized form are ignored.
///
/// Errors (`*handle` is then `HG_BULK_NULL`): `HG_INVALID_ARG` for a NULL
/// or unknown instance, a NULL `handle` or `buf`, or the form of
/// `HG_BULK_NULL`; `HG_OVERFLOW` for bytes that stop before the form ends;
/// `HG_PROTOCOL_ERROR` for bytes that are not a serialized handle.
///
/// # Safety
/// `handle` NULL or writable; `buf` NULL or readable for `buf_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_deserialize(
    mid: margo_instance_id,
    handle: *mut hg_bulk_t,
    buf: *const c_void,
    buf_size: hg_size_t,
) -> hg_return_t {
    const E: &str = "margo_bulk_deserialize";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        if let Err(e) = handles::bulk_table(mid) {
            fail(E, e);
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: the caller's contract.
        unsafe { deserialize(E, handle, buf, buf_size) }
    })
}

/// Mercury's form of `margo_bulk_deserialize`. `hg_class` is not used (a
/// handle here needs none; this library has no Mercury class, see
/// `margo_get_info`), so it may be NULL.
///
/// # Safety
/// As for `margo_bulk_deserialize`.
#[no_mangle]
pub unsafe extern "C" fn HG_Bulk_deserialize(
    hg_class: *mut hg_class_t,
    handle: *mut hg_bulk_t,
    buf: *const c_void,
    buf_size: hg_size_t,
) -> hg_return_t {
    const E: &str = "HG_Bulk_deserialize";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let _ = hg_class;
        // SAFETY: the caller's contract.
        unsafe { deserialize(E, handle, buf, buf_size) }
    })
}
