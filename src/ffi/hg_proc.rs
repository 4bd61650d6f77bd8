//! Mercury's serialization procs (`hg_proc_t`, `hg_proc_int32_t`, …) over
//! a wire format of our own.
//!
//! A proc callback (one `MERCURY_GEN_PROC` writes, or the user's own) is
//! called with a [`Proc`] in one of three modes: encode (append the fields
//! to a payload), decode (read them back, allocating strings) or free
//! (release what a decode allocated). The C functions below do one field
//! each, in the order the callback calls them.
//!
//! Wire format (not Mercury's; both ends are this library): the fields one
//! after the other, no tags, no padding, no alignment:
//!
//! | field                              | bytes                                                  |
//! |------------------------------------|--------------------------------------------------------|
//! | `int8_t` … `uint64_t`, `hg_size_t`, `hg_id_t` | 1, 2, 4 or 8 bytes, little-endian             |
//! | `hg_bool_t`                        | one byte, 0 or 1 (any other value is refused)          |
//! | `hg_proc_bytes` / `hg_proc_raw`    | the bytes as they are (the caller knows the length)    |
//! | `hg_string_t`, `hg_const_string_t` | `u64` LE `n`: 0 for NULL, else length + 1; then length bytes, no NUL |
//!
//! Decoding is bounds-checked: a field past the end, a string with a NUL
//! inside, a bool other than 0/1, or bytes left over once the callback is
//! done (the two ends' procs disagree) fail with `HG_PROTOCOL_ERROR`, and
//! the strings this decode allocated are freed and their fields set to
//! NULL. Nothing is allocated for a string before its bytes are known to
//! be there. Encoding refuses to grow a payload past the message limit
//! (`HG_MSGSIZE`).
#![allow(non_camel_case_types)]

use super::handles;
use super::hg::{hg_bulk_t, hg_proc_op_t, hg_proc_t, hg_return, hg_return_t, hg_size_t};
use super::panic::guard;
use crate::rpc::wire::MAX_MESSAGE;
use std::ffi::{c_char, c_void, CStr};
use std::sync::Arc;

/// What a [`Proc`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Encode,
    Decode,
    Free,
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ProcError {
    #[error("payload truncated: a field needs {wanted} bytes, {left} left")]
    Truncated { wanted: u64, left: usize },
    #[error("{0} bytes left over after decoding (the two ends' procs disagree)")]
    Trailing(usize),
    #[error("encoding would make a payload of more than {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("a string holds a NUL byte")]
    EmbeddedNul,
    #[error("a bool is {0}, neither 0 nor 1")]
    BadBool(u8),
    #[error("out of memory for a decoded string of {0} bytes")]
    NoMemory(usize),
    #[error("malformed field: {0}")]
    Malformed(String),
}

impl From<&ProcError> for hg_return {
    fn from(e: &ProcError) -> hg_return {
        match e {
            ProcError::TooLarge => hg_return::HG_MSGSIZE,
            ProcError::NoMemory(_) => hg_return::HG_NOMEM,
            _ => hg_return::HG_PROTOCOL_ERROR,
        }
    }
}

/// The state of one run of a proc callback.
pub struct Proc {
    op: Op,
    /// Encode: the payload so far.
    out: Vec<u8>,
    /// Decode: the payload and how far it has been read.
    input: Arc<[u8]>,
    pos: usize,
    /// Decode: the strings allocated so far, with the field that holds
    /// each (released if the decode fails).
    strings: Vec<(*mut *mut c_char, *mut c_char)>,
    /// Decode: the bulk handles made so far, with the field that holds each.
    bulks: Vec<(*mut hg_bulk_t, hg_bulk_t)>,
    /// The first error a field met (a callback may ignore return codes).
    error: Option<ProcError>,
}

impl Proc {
    fn new(op: Op, input: Arc<[u8]>) -> Proc {
        Proc { op, out: Vec::new(), input, pos: 0, strings: Vec::new(), bulks: Vec::new(), error: None }
    }

    pub fn encoder() -> Proc {
        Proc::new(Op::Encode, Arc::from(&[][..]))
    }

    pub fn decoder(input: Arc<[u8]>) -> Proc {
        Proc::new(Op::Decode, input)
    }

    pub fn freer() -> Proc {
        Proc::new(Op::Free, Arc::from(&[][..]))
    }

    pub fn op(&self) -> Op {
        self.op
    }

    fn fail<T>(&mut self, e: ProcError) -> Result<T, ProcError> {
        self.error.get_or_insert_with(|| e.clone());
        Err(e)
    }

    /// Appends bytes to the payload (encode).
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), ProcError> {
        if bytes.len() > MAX_MESSAGE.saturating_sub(self.out.len()) {
            return self.fail(ProcError::TooLarge);
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// The next `n` bytes of the payload (decode).
    pub fn take(&mut self, n: u64) -> Result<&[u8], ProcError> {
        let left = self.input.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= left => {
                let start = self.pos;
                self.pos += n;
                Ok(&self.input[start..start + n])
            }
            _ => self.fail(ProcError::Truncated { wanted: n, left }),
        }
    }

    pub fn put_int<T: WireInt>(&mut self, v: T) -> Result<(), ProcError> {
        v.encode(self)
    }

    pub fn take_int<T: WireInt>(&mut self) -> Result<T, ProcError> {
        T::decode(self)
    }

    pub fn put_bool(&mut self, v: u8) -> Result<(), ProcError> {
        self.put(&[(v != 0) as u8])
    }

    pub fn take_bool(&mut self) -> Result<u8, ProcError> {
        let b = self.take(1)?[0];
        if b > 1 {
            return self.fail(ProcError::BadBool(b));
        }
        Ok(b)
    }

    /// Writes a string field (`None`: a NULL pointer).
    pub fn put_string(&mut self, s: Option<&[u8]>) -> Result<(), ProcError> {
        match s {
            None => self.put_int(0u64),
            Some(s) => {
                self.put_int(s.len() as u64 + 1)?;
                self.put(s)
            }
        }
    }

    /// Reads a string field (`None`: a NULL pointer). Its bytes are checked
    /// to be there before the caller allocates anything for them.
    pub fn take_string(&mut self) -> Result<Option<&[u8]>, ProcError> {
        let n: u64 = self.take_int()?;
        if n == 0 {
            return Ok(None);
        }
        let start = self.pos;
        let len = self.take(n - 1)?.len();
        if self.input[start..start + len].contains(&0) {
            return self.fail(ProcError::EmbeddedNul);
        }
        Ok(Some(&self.input[start..start + len]))
    }

    /// Ends a run: the first error any field met, or for a decode, bytes
    /// left over.
    pub fn finish(&mut self) -> Result<(), ProcError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.op == Op::Decode && self.pos != self.input.len() {
            return Err(ProcError::Trailing(self.input.len() - self.pos));
        }
        Ok(())
    }

    /// The encoded payload.
    pub fn into_payload(self) -> Vec<u8> {
        self.out
    }

    fn record_string(&mut self, field: *mut *mut c_char, value: *mut c_char) {
        self.strings.push((field, value));
    }

    /// Notes a bulk handle a decode made (released if the decode fails).
    pub(super) fn record_bulk(&mut self, field: *mut hg_bulk_t, value: hg_bulk_t) {
        self.bulks.push((field, value));
    }

    /// Fails the run with a malformed field (`HG_PROTOCOL_ERROR`).
    pub(super) fn refuse(&mut self, why: String) -> hg_return_t {
        let e = ProcError::Malformed(why);
        self.error.get_or_insert_with(|| e.clone());
        (&e).into()
    }

    /// Forgets the strings and bulk handles a successful decode allocated
    /// (the caller's struct owns them now).
    pub fn keep_strings(&mut self) {
        self.strings.clear();
        self.bulks.clear();
    }

    /// Frees the strings and bulk handles of a failed decode and sets their
    /// fields to NULL.
    ///
    /// # Safety
    /// The struct the decode wrote into must still be valid for writes.
    pub unsafe fn release_strings(&mut self) {
        for (field, value) in self.strings.drain(..) {
            // SAFETY: `value` came from libc::malloc in decode_string and
            // nothing else freed it (the decode failed, so the caller never
            // saw it as theirs); `field` is the struct field it was stored
            // in, valid for writes by this function's contract.
            unsafe {
                libc::free(value as *mut c_void);
                field.write_unaligned(std::ptr::null_mut());
            }
        }
        for (field, value) in self.bulks.drain(..) {
            // SAFETY: `value` is the handle hg_proc_hg_bulk_t made in this
            // decode and nobody else holds (the decode failed, so the caller
            // never saw it as theirs); `field` is valid for writes by this
            // function's contract.
            unsafe {
                super::bulk::free_decoded(value);
                field.write_unaligned(std::ptr::null_mut());
            }
        }
    }
}

/// The fixed-width integers of the wire format.
pub trait WireInt: Copy {
    fn encode(self, p: &mut Proc) -> Result<(), ProcError>;
    fn decode(p: &mut Proc) -> Result<Self, ProcError>;
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl WireInt for $t {
            fn encode(self, p: &mut Proc) -> Result<(), ProcError> {
                p.put(&self.to_le_bytes())
            }
            fn decode(p: &mut Proc) -> Result<Self, ProcError> {
                let b = p.take(std::mem::size_of::<$t>() as u64)?;
                let mut raw = [0u8; std::mem::size_of::<$t>()];
                raw.copy_from_slice(b);
                Ok(<$t>::from_le_bytes(raw))
            }
        }
    )*};
}
wire_int!(i8, u8, i16, u16, i32, u32, i64, u64);

fn code(r: Result<(), ProcError>) -> hg_return_t {
    match r {
        Ok(()) => hg_return::HG_SUCCESS,
        Err(e) => (&e).into(),
    }
}

/// One integer field: the body of `hg_proc_int8_t` … `hg_proc_uint64_t`.
///
/// # Safety
/// `proc` must be NULL or the proc a running proc callback received;
/// `data` NULL or valid for reads and writes of one `T`.
unsafe fn int_field<T: WireInt>(entry: &'static str, proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    guard(entry, hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by this function's contract.
        let Some(p) = (unsafe { handles::proc_mut(proc) }) else { return hg_return::HG_INVALID_ARG };
        let data = data as *mut T;
        if data.is_null() {
            return hg_return::HG_INVALID_ARG;
        }
        match p.op() {
            // SAFETY: `data` is non-NULL and readable by the contract (a
            // packed struct's field may be unaligned).
            Op::Encode => code(p.put_int(unsafe { data.read_unaligned() })),
            Op::Decode => match p.take_int::<T>() {
                Ok(v) => {
                    // SAFETY: non-NULL and writable by the contract.
                    unsafe { data.write_unaligned(v) };
                    hg_return::HG_SUCCESS
                }
                Err(e) => (&e).into(),
            },
            Op::Free => hg_return::HG_SUCCESS,
        }
    })
}

/// What the proc is doing (`HG_ENCODE` for a NULL proc, which then fails
/// in the field functions without touching the caller's memory).
///
/// # Safety
/// `proc` must be NULL or the proc a running proc callback received.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_get_op(proc: hg_proc_t) -> hg_proc_op_t {
    guard("hg_proc_get_op", hg_proc_op_t::HG_ENCODE, || {
        // SAFETY: by the contract.
        match unsafe { handles::proc_mut(proc) }.map(|p| p.op()) {
            Some(Op::Encode) | None => hg_proc_op_t::HG_ENCODE,
            Some(Op::Decode) => hg_proc_op_t::HG_DECODE,
            Some(Op::Free) => hg_proc_op_t::HG_FREE,
        }
    })
}

/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `int8_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_int8_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is int_field's.
    unsafe { int_field::<i8>("hg_proc_int8_t", proc, data) }
}

/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `uint8_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_uint8_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is int_field's.
    unsafe { int_field::<u8>("hg_proc_uint8_t", proc, data) }
}

/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `int16_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_int16_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is int_field's.
    unsafe { int_field::<i16>("hg_proc_int16_t", proc, data) }
}

/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_uint16_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is int_field's.
    unsafe { int_field::<u16>("hg_proc_uint16_t", proc, data) }
}

/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `int32_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_int32_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is int_field's.
    unsafe { int_field::<i32>("hg_proc_int32_t", proc, data) }
}

/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_uint32_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is int_field's.
    unsafe { int_field::<u32>("hg_proc_uint32_t", proc, data) }
}

/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `int64_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_int64_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is int_field's.
    unsafe { int_field::<i64>("hg_proc_int64_t", proc, data) }
}

/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_uint64_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is int_field's.
    unsafe { int_field::<u64>("hg_proc_uint64_t", proc, data) }
}

/// `hg_size_t` is a `uint64_t`.
///
/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `hg_size_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_hg_size_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is int_field's.
    unsafe { int_field::<u64>("hg_proc_hg_size_t", proc, data) }
}

/// `hg_id_t` is a `uint64_t` here (as in Mercury 2.x).
///
/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `hg_id_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_hg_id_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is int_field's.
    unsafe { int_field::<u64>("hg_proc_hg_id_t", proc, data) }
}

/// One byte, 0 or 1 (encoding writes 1 for any non-zero value).
///
/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid for one `hg_bool_t`.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_hg_bool_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    guard("hg_proc_hg_bool_t", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract.
        let Some(p) = (unsafe { handles::proc_mut(proc) }) else { return hg_return::HG_INVALID_ARG };
        let data = data as *mut u8;
        if data.is_null() {
            return hg_return::HG_INVALID_ARG;
        }
        match p.op() {
            // SAFETY: non-NULL and readable by the contract.
            Op::Encode => code(p.put_bool(unsafe { data.read() })),
            Op::Decode => match p.take_bool() {
                Ok(v) => {
                    // SAFETY: non-NULL and writable by the contract.
                    unsafe { data.write(v) };
                    hg_return::HG_SUCCESS
                }
                Err(e) => (&e).into(),
            },
            Op::Free => hg_return::HG_SUCCESS,
        }
    })
}

/// `data_size` bytes as they are (`hg_proc_memcpy` is this function).
///
/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL (with a
/// size of 0) or valid for reads and writes of `data_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_bytes(proc: hg_proc_t, data: *mut c_void, data_size: hg_size_t) -> hg_return_t {
    guard("hg_proc_bytes", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract.
        let Some(p) = (unsafe { handles::proc_mut(proc) }) else { return hg_return::HG_INVALID_ARG };
        if data_size == 0 {
            return hg_return::HG_SUCCESS;
        }
        if data.is_null() {
            return hg_return::HG_INVALID_ARG;
        }
        match p.op() {
            Op::Encode => {
                let Ok(len) = usize::try_from(data_size) else { return hg_return::HG_MSGSIZE };
                if len > MAX_MESSAGE {
                    return code(p.fail(ProcError::TooLarge));
                }
                // SAFETY: non-NULL and readable for `data_size` bytes by the
                // contract (and no larger than the message limit).
                let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, len) };
                code(p.put(bytes))
            }
            Op::Decode => match p.take(data_size) {
                Ok(bytes) => {
                    // SAFETY: writable for `data_size` bytes by the contract;
                    // `bytes` (the payload, owned by the proc) has exactly that
                    // length and cannot overlap the caller's memory.
                    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), data as *mut u8, bytes.len()) };
                    hg_return::HG_SUCCESS
                }
                Err(e) => (&e).into(),
            },
            Op::Free => hg_return::HG_SUCCESS,
        }
    })
}

/// Direct access to the next `data_size` bytes of the message: when
/// encoding, room the caller fills (zeroed, already part of the payload);
/// when decoding, the bytes to read. Either way the proc moves past them.
/// NULL when freeing, past the end of a decoded payload, or beyond the
/// message limit. The pointer is valid until the next call on the proc
/// (`hg_proc_restore_ptr` ends its use).
///
/// # Safety
/// `proc` must be NULL or a running callback's proc; a decode's bytes
/// must only be read.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_save_ptr(proc: hg_proc_t, data_size: hg_size_t) -> *mut c_void {
    guard("hg_proc_save_ptr", std::ptr::null_mut(), || {
        // SAFETY: by the contract.
        let Some(p) = (unsafe { handles::proc_mut(proc) }) else { return std::ptr::null_mut() };
        match p.op() {
            Op::Encode => {
                let Ok(len) = usize::try_from(data_size) else { return std::ptr::null_mut() };
                if len > MAX_MESSAGE.saturating_sub(p.out.len()) {
                    let _ = p.fail::<()>(ProcError::TooLarge);
                    return std::ptr::null_mut();
                }
                let start = p.out.len();
                p.out.resize(start + len, 0);
                p.out[start..].as_mut_ptr().cast()
            }
            Op::Decode => match p.take(data_size) {
                // The caller only reads (the contract).
                Ok(bytes) => bytes.as_ptr().cast_mut().cast(),
                Err(_) => std::ptr::null_mut(),
            },
            Op::Free => std::ptr::null_mut(),
        }
    })
}

/// Ends the use of a pointer from [`hg_proc_save_ptr`] (nothing to do:
/// the proc moved past the bytes already).
#[no_mangle]
pub extern "C" fn hg_proc_restore_ptr(proc: hg_proc_t, data: *mut c_void, data_size: hg_size_t) -> hg_return_t {
    let _ = (data, data_size);
    if proc.is_null() {
        hg_return::HG_INVALID_ARG
    } else {
        hg_return::HG_SUCCESS
    }
}

/// Same as [`hg_proc_bytes`] (Mercury's older name).
///
/// # Safety
/// As for [`hg_proc_bytes`].
#[no_mangle]
pub unsafe extern "C" fn hg_proc_raw(proc: hg_proc_t, data: *mut c_void, data_size: hg_size_t) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { hg_proc_bytes(proc, data, data_size) }
}

/// A string field: `data` points at the `char*` (or `const char*`).
///
/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid
/// for reads and writes of one pointer, which when encoding is NULL or a
/// NUL-terminated string, and when freeing is NULL or a string this
/// library's decode allocated.
unsafe fn string_field(entry: &'static str, proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    guard(entry, hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by this function's contract.
        let Some(p) = (unsafe { handles::proc_mut(proc) }) else { return hg_return::HG_INVALID_ARG };
        let field = data as *mut *mut c_char;
        if field.is_null() {
            return hg_return::HG_INVALID_ARG;
        }
        match p.op() {
            Op::Encode => {
                // SAFETY: `field` is readable by the contract.
                let s = unsafe { field.read_unaligned() };
                // SAFETY: NULL or NUL-terminated by the contract.
                let bytes = (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_bytes());
                code(p.put_string(bytes))
            }
            Op::Decode => {
                let bytes = match p.take_string() {
                    Ok(Some(b)) => b,
                    Ok(None) => {
                        // SAFETY: writable by the contract.
                        unsafe { field.write_unaligned(std::ptr::null_mut()) };
                        return hg_return::HG_SUCCESS;
                    }
                    Err(e) => return (&e).into(),
                };
                let len = bytes.len();
                // SAFETY: we allocate len + 1 bytes and write exactly that
                // many: the string (from the payload, which the proc owns, so
                // no overlap) and its NUL.
                let copy = unsafe {
                    let c = libc::malloc(len + 1) as *mut u8;
                    if !c.is_null() {
                        std::ptr::copy_nonoverlapping(bytes.as_ptr(), c, len);
                        *c.add(len) = 0;
                    }
                    c as *mut c_char
                };
                if copy.is_null() {
                    return code(p.fail(ProcError::NoMemory(len)));
                }
                // SAFETY: writable by the contract.
                unsafe { field.write_unaligned(copy) };
                p.record_string(field, copy);
                hg_return::HG_SUCCESS
            }
            Op::Free => {
                // SAFETY: readable and writable by the contract; the value is
                // NULL or a string our decode allocated with malloc.
                unsafe {
                    libc::free(field.read_unaligned() as *mut c_void);
                    field.write_unaligned(std::ptr::null_mut());
                }
                hg_return::HG_SUCCESS
            }
        }
    })
}

/// # Safety
/// See `string_field`: `data` points at a `char*` field.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_hg_string_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is string_field's.
    unsafe { string_field("hg_proc_hg_string_t", proc, data) }
}

/// Like `hg_proc_hg_string_t`: decoding allocates a copy, freeing releases it.
///
/// # Safety
/// See `string_field`: `data` points at a `const char*` field.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_hg_const_string_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    // SAFETY: the caller's contract is string_field's.
    unsafe { string_field("hg_proc_hg_const_string_t", proc, data) }
}

/// Runs a proc callback over `data` with `proc`, then [`Proc::finish`]. A
/// failed decode releases the strings it allocated.
///
/// # Safety
/// `cb` must be a proc callback for the type `data` points at, and `data`
/// valid for it (for a decode, writable; for a free, holding a decoded value).
pub unsafe fn run(
    cb: unsafe extern "C" fn(hg_proc_t, *mut c_void) -> hg_return_t,
    proc: &mut Proc,
    data: *mut c_void,
) -> Result<(), hg_return_t> {
    let raw: *mut Proc = proc;
    // SAFETY: the callback gets the proc for the duration of the call only
    // (handles::proc_mut borrows it back from the pointer; we do not touch
    // `proc` until it returns); `data` is valid for it by the contract.
    let ret = unsafe { cb(handles::proc_into_c(raw), data) };
    let outcome = match proc.finish() {
        Err(e) => Err((&e).into()),
        Ok(()) if ret != hg_return::HG_SUCCESS => Err(ret),
        Ok(()) => Ok(()),
    };
    if proc.op() == Op::Decode {
        match outcome {
            Ok(()) => proc.keep_strings(),
            // SAFETY: `data`, the struct the decode wrote into, is still
            // valid (the caller's contract).
            Err(_) => unsafe { proc.release_strings() },
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], f: impl FnOnce(&mut Proc) -> Result<(), ProcError>) -> Result<(), ProcError> {
        let mut p = Proc::decoder(Arc::from(bytes));
        f(&mut p)?;
        p.finish()
    }

    #[test]
    fn saved_pointers_write_and_read_the_payload_in_place() {
        let mut p = Proc::encoder();
        p.put_int(7u8).unwrap();
        let c = handles::proc_into_c(&mut p);
        // SAFETY: a live encoder proc; the pointer is used before the next call.
        unsafe {
            let ptr = hg_proc_save_ptr(c, 4).cast::<u8>();
            assert!(!ptr.is_null());
            std::ptr::copy_nonoverlapping([1u8, 2, 3, 4].as_ptr(), ptr, 4);
            assert_eq!(hg_proc_restore_ptr(c, ptr.cast(), 4), hg_return::HG_SUCCESS);
            assert!(hg_proc_save_ptr(c, u64::MAX).is_null(), "beyond the message limit");
        }
        let bytes = p.into_payload();
        assert_eq!(&bytes[..], &[7, 1, 2, 3, 4]);
        let mut d = Proc::decoder(Arc::from(bytes));
        assert_eq!(d.take_int::<u8>().unwrap(), 7);
        let c = handles::proc_into_c(&mut d);
        // SAFETY: a live decoder proc; the bytes are only read.
        unsafe {
            let ptr = hg_proc_save_ptr(c, 4).cast::<u8>();
            assert_eq!(std::slice::from_raw_parts(ptr, 4), &[1, 2, 3, 4]);
            assert!(hg_proc_save_ptr(c, 1).is_null(), "past the end");
        }
    }

    #[test]
    fn integers_round_trip_little_endian() {
        let mut p = Proc::encoder();
        p.put_int(-2i8).unwrap();
        p.put_int(0xBEEFu16).unwrap();
        p.put_int(-123456789i32).unwrap();
        p.put_int(u64::MAX - 7).unwrap();
        p.put_bool(7).unwrap();
        p.finish().unwrap();
        let bytes = p.into_payload();
        assert_eq!(bytes.len(), 1 + 2 + 4 + 8 + 1);
        assert_eq!(&bytes[1..3], &[0xEF, 0xBE]);
        let mut d = Proc::decoder(Arc::from(bytes));
        assert_eq!(d.take_int::<i8>().unwrap(), -2);
        assert_eq!(d.take_int::<u16>().unwrap(), 0xBEEF);
        assert_eq!(d.take_int::<i32>().unwrap(), -123456789);
        assert_eq!(d.take_int::<u64>().unwrap(), u64::MAX - 7);
        assert_eq!(d.take_bool().unwrap(), 1, "non-zero bools encode as 1");
        d.finish().unwrap();
    }

    #[test]
    fn strings_round_trip_including_null_and_empty() {
        let mut p = Proc::encoder();
        p.put_string(Some(b"hello")).unwrap();
        p.put_string(None).unwrap();
        p.put_string(Some(b"")).unwrap();
        let bytes = p.into_payload();
        assert_eq!(&bytes[..8], &6u64.to_le_bytes());
        let mut d = Proc::decoder(Arc::from(bytes));
        assert_eq!(d.take_string().unwrap(), Some(&b"hello"[..]));
        assert_eq!(d.take_string().unwrap(), None);
        assert_eq!(d.take_string().unwrap(), Some(&b""[..]));
        d.finish().unwrap();
    }

    #[test]
    fn short_input_is_truncated_not_a_panic() {
        for len in 0..4 {
            let bytes = vec![1u8; len];
            let r = decode_all(&bytes, |p| p.take_int::<u32>().map(|_| ()));
            assert_eq!(r, Err(ProcError::Truncated { wanted: 4, left: len }));
        }
    }

    #[test]
    fn hostile_string_lengths_are_refused_before_allocating() {
        for n in [u64::MAX, u64::MAX - 1, 1 << 40, 100] {
            let mut bytes = n.to_le_bytes().to_vec();
            bytes.extend_from_slice(b"abc");
            let r = decode_all(&bytes, |p| p.take_string().map(|_| ()));
            assert!(matches!(r, Err(ProcError::Truncated { left: 3, .. })), "length {n}: {r:?}");
        }
    }

    #[test]
    fn embedded_nul_bad_bool_and_trailing_bytes_are_refused() {
        let mut bytes = 4u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"a\0b");
        assert_eq!(decode_all(&bytes, |p| p.take_string().map(|_| ())), Err(ProcError::EmbeddedNul));
        assert_eq!(decode_all(&[2], |p| p.take_bool().map(|_| ())), Err(ProcError::BadBool(2)));
        assert_eq!(decode_all(&[1, 2, 3], |p| p.take_int::<u16>().map(|_| ())), Err(ProcError::Trailing(1)));
    }

    #[test]
    fn the_first_error_sticks_even_if_the_callback_ignores_it() {
        let mut p = Proc::decoder(Arc::from(&[1u8][..]));
        assert!(p.take_int::<u32>().is_err());
        // A careless callback carries on; the run still fails.
        assert_eq!(p.take_int::<u8>().unwrap(), 1);
        assert_eq!(p.finish(), Err(ProcError::Truncated { wanted: 4, left: 1 }));
    }

    #[test]
    fn encoding_refuses_payloads_beyond_the_message_limit() {
        let mut p = Proc::encoder();
        p.put(&vec![0u8; 1024]).unwrap();
        let too_much = MAX_MESSAGE - 1024 + 1;
        let big = vec![0u8; too_much];
        assert_eq!(p.put(&big), Err(ProcError::TooLarge));
        assert_eq!(p.finish(), Err(ProcError::TooLarge));
    }

    unsafe extern "C" fn two_strings_and_int(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
        let s = data as *mut S;
        // SAFETY: the test passes a valid S.
        unsafe {
            let r = hg_proc_hg_string_t(proc, std::ptr::addr_of_mut!((*s).a) as *mut c_void);
            if r != hg_return::HG_SUCCESS {
                return r;
            }
            let r = hg_proc_int32_t(proc, std::ptr::addr_of_mut!((*s).n) as *mut c_void);
            if r != hg_return::HG_SUCCESS {
                return r;
            }
            hg_proc_hg_string_t(proc, std::ptr::addr_of_mut!((*s).b) as *mut c_void)
        }
    }

    #[repr(C)]
    struct S {
        a: *mut c_char,
        n: i32,
        b: *mut c_char,
    }

    #[test]
    fn c_procs_round_trip_and_free() {
        let mut src = S { a: c"left".as_ptr() as *mut c_char, n: -5, b: std::ptr::null_mut() };
        let mut enc = Proc::encoder();
        // SAFETY: the callback matches S, and src is valid.
        unsafe { run(two_strings_and_int, &mut enc, std::ptr::addr_of_mut!(src) as *mut c_void) }.unwrap();
        let payload: Arc<[u8]> = Arc::from(enc.into_payload());
        let mut dst = S { a: std::ptr::null_mut(), n: 0, b: c"junk".as_ptr() as *mut c_char };
        let mut dec = Proc::decoder(payload);
        // SAFETY: as above.
        unsafe { run(two_strings_and_int, &mut dec, std::ptr::addr_of_mut!(dst) as *mut c_void) }.unwrap();
        // SAFETY: a decoded string is NUL-terminated.
        assert_eq!(unsafe { CStr::from_ptr(dst.a) }, c"left");
        assert_eq!(dst.n, -5);
        assert!(dst.b.is_null(), "a NULL string decodes as NULL");
        let mut free = Proc::freer();
        // SAFETY: dst holds what our decode allocated.
        unsafe { run(two_strings_and_int, &mut free, std::ptr::addr_of_mut!(dst) as *mut c_void) }.unwrap();
        assert!(dst.a.is_null() && dst.b.is_null());
    }

    #[test]
    fn a_failed_c_decode_frees_its_strings_and_nulls_their_fields() {
        // "ok" then an int cut short: the string was allocated, then the decode failed.
        let mut bytes = 3u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"ok");
        bytes.extend_from_slice(&[1, 2]);
        let mut dst = S { a: std::ptr::null_mut(), n: 0, b: std::ptr::null_mut() };
        let mut dec = Proc::decoder(Arc::from(bytes));
        // SAFETY: the callback matches S.
        let r = unsafe { run(two_strings_and_int, &mut dec, std::ptr::addr_of_mut!(dst) as *mut c_void) };
        assert_eq!(r, Err(hg_return::HG_PROTOCOL_ERROR));
        assert!(dst.a.is_null(), "the string of a failed decode is freed and its field cleared");
    }

    #[test]
    fn every_prefix_of_a_valid_payload_fails_cleanly() {
        let mut src = S { a: c"abcdef".as_ptr() as *mut c_char, n: 9, b: c"xyz".as_ptr() as *mut c_char };
        let mut enc = Proc::encoder();
        // SAFETY: the callback matches S.
        unsafe { run(two_strings_and_int, &mut enc, std::ptr::addr_of_mut!(src) as *mut c_void) }.unwrap();
        let full = enc.into_payload();
        for cut in 0..full.len() {
            let mut dst = S { a: std::ptr::null_mut(), n: 0, b: std::ptr::null_mut() };
            let mut dec = Proc::decoder(Arc::from(&full[..cut]));
            // SAFETY: the callback matches S.
            let r = unsafe { run(two_strings_and_int, &mut dec, std::ptr::addr_of_mut!(dst) as *mut c_void) };
            assert_eq!(r, Err(hg_return::HG_PROTOCOL_ERROR), "prefix of {cut} bytes");
            assert!(dst.a.is_null() && dst.b.is_null(), "prefix of {cut} bytes leaked a string");
        }
    }

    /// An S's fields as decoded: its strings' bytes, and its number.
    type DecodedS = (Option<Vec<u8>>, i32, Option<Vec<u8>>);

    /// Decodes `bytes` as an S through the C procs; on success frees it again.
    /// Returns the decoded text fields and number, or the error.
    fn decode_s(bytes: &[u8]) -> Result<DecodedS, hg_return_t> {
        let mut dst = S { a: std::ptr::null_mut(), n: 0, b: std::ptr::null_mut() };
        let mut dec = Proc::decoder(Arc::from(bytes));
        // SAFETY: the callback matches S.
        let r = unsafe { run(two_strings_and_int, &mut dec, std::ptr::addr_of_mut!(dst) as *mut c_void) };
        if let Err(code) = r {
            assert!(dst.a.is_null() && dst.b.is_null(), "a failed decode left a string behind");
            return Err(code);
        }
        // SAFETY: decoded strings are NUL-terminated (or NULL).
        let text = |p: *mut c_char| (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes().to_vec());
        let out = (text(dst.a), dst.n, text(dst.b));
        let mut free = Proc::freer();
        // SAFETY: dst holds what our decode allocated.
        unsafe { run(two_strings_and_int, &mut free, std::ptr::addr_of_mut!(dst) as *mut c_void) }.unwrap();
        Ok(out)
    }

    proptest::proptest! {
        #[test]
        fn c_procs_round_trip_any_values(
            a in proptest::option::of(proptest::collection::vec(1u8..=255, 0..40)),
            n in proptest::prelude::any::<i32>(),
            b in proptest::option::of(proptest::collection::vec(1u8..=255, 0..40)),
        ) {
            let ca = a.as_ref().map(|v| std::ffi::CString::new(v.clone()).unwrap());
            let cb = b.as_ref().map(|v| std::ffi::CString::new(v.clone()).unwrap());
            let ptr = |c: &Option<std::ffi::CString>| c.as_ref().map_or(std::ptr::null_mut(), |c| c.as_ptr() as *mut c_char);
            let mut src = S { a: ptr(&ca), n, b: ptr(&cb) };
            let mut enc = Proc::encoder();
            // SAFETY: the callback matches S, and src is valid.
            unsafe { run(two_strings_and_int, &mut enc, std::ptr::addr_of_mut!(src) as *mut c_void) }.unwrap();
            proptest::prop_assert_eq!(decode_s(&enc.into_payload()), Ok((a, n, b)));
        }

        #[test]
        fn c_procs_never_crash_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            // Success or HG_PROTOCOL_ERROR, never anything else, and no
            // string left behind by a failure (checked in decode_s).
            if let Err(code) = decode_s(&bytes) {
                proptest::prop_assert_eq!(code, hg_return::HG_PROTOCOL_ERROR);
            }
        }
    }

    #[test]
    fn null_proc_or_data_is_invalid_arg() {
        let mut v = 0i32;
        // SAFETY: NULL proc is allowed by the contract.
        let r = unsafe { hg_proc_int32_t(std::ptr::null_mut(), std::ptr::addr_of_mut!(v) as *mut c_void) };
        assert_eq!(r, hg_return::HG_INVALID_ARG);
        let mut p = Proc::encoder();
        // SAFETY: a live proc, NULL data.
        let r = unsafe { hg_proc_int32_t(handles::proc_into_c(&mut p), std::ptr::null_mut()) };
        assert_eq!(r, hg_return::HG_INVALID_ARG);
        // SAFETY: NULL proc is allowed by the contract.
        assert_eq!(unsafe { hg_proc_get_op(std::ptr::null_mut()) }, hg_proc_op_t::HG_ENCODE);
    }
}
