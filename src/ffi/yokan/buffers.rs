//! The C buffers of the Yokan operations: byte strings read from C ([`Items`]:
//! one, an array of pointers, or packed back to back) and the outputs
//! written back with upstream's size sentinels ([`Out`]: a buffer per item,
//! or one packed buffer). Every pointer C passes is checked for NULL here,
//! with an error that names it.

use crate::yokan::error::{Result, YokanError};
use std::ffi::c_void;

/// The size reported for a key that is not in the database.
pub const KEY_NOT_FOUND: usize = usize::MAX;
/// The size reported for an item that does not fit in its buffer.
pub const SIZE_TOO_SMALL: usize = usize::MAX - 1;
/// The size reported for a listing slot past the last key.
pub const NO_MORE_KEYS: usize = usize::MAX - 2;

/// # Safety
/// `p` must point to `n` readable bytes unless NULL, not written for `'a`.
pub(super) unsafe fn bytes<'a>(p: *const c_void, n: usize, what: &str) -> Result<&'a [u8]> {
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
pub(super) unsafe fn array<'a, T>(p: *const T, n: usize, what: &str) -> Result<&'a [T]> {
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
pub(super) unsafe fn array_mut<'a, T>(p: *mut T, n: usize, what: &str) -> Result<&'a mut [T]> {
    if p.is_null() {
        return Err(YokanError::args(format!("NULL {what}")));
    }
    // SAFETY: non-NULL (checked above), `n` writable elements used only
    // through this slice for 'a (this function's contract).
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

/// A buffer of `n` bytes; NULL is accepted for a size of 0.
///
/// # Safety
/// As [`array_mut`] when `n` is not 0.
pub(super) unsafe fn buffer_mut<'a>(p: *mut c_void, n: usize, what: &str) -> Result<&'a mut [u8]> {
    if n == 0 {
        return Ok(&mut []);
    }
    // SAFETY: `n` writable bytes unless NULL (this function's contract).
    unsafe { array_mut(p as *mut u8, n, what) }
}

/// Whether byte strings are keys, values or documents: the error messages name them.
#[derive(Clone, Copy)]
pub(super) enum Role {
    Key,
    Value,
    Document,
}

impl Role {
    fn one(self) -> &'static str {
        match self {
            Role::Key => "key",
            Role::Value => "value",
            Role::Document => "document",
        }
    }

    fn pointers(self) -> &'static str {
        match self {
            Role::Key => "keys array",
            Role::Value => "values array",
            Role::Document => "documents array",
        }
    }

    fn sizes(self) -> &'static str {
        match self {
            Role::Key => "key sizes array",
            Role::Value => "value sizes array",
            Role::Document => "document sizes array",
        }
    }

    fn buffer(self) -> &'static str {
        match self {
            Role::Key => "keys buffer",
            Role::Value => "values buffer",
            Role::Document => "documents buffer",
        }
    }
}

/// Byte strings as C passes them to an operation.
#[derive(Clone, Copy)]
pub(super) enum Items {
    /// One string (`yk_put`, `yk_erase`, ...).
    One { ptr: *const c_void, size: usize },
    /// `count` strings, each behind its own pointer (`yk_*_multi`).
    Multi { count: usize, ptrs: *const *const c_void, sizes: *const usize },
    /// `count` strings back to back in one buffer (`yk_*_packed`).
    Packed { count: usize, buf: *const c_void, sizes: *const usize },
}

impl Items {
    /// How many strings there are.
    pub(super) fn count(self) -> usize {
        match self {
            Items::One { .. } => 1,
            Items::Multi { count, .. } | Items::Packed { count, .. } => count,
        }
    }

    /// The strings, in order.
    ///
    /// # Safety
    /// Each pointer must be NULL or hold what it describes, not written for
    /// `'a`: `One`, `size` bytes; `Multi`, `count` pointers and `count`
    /// sizes, each pointer its size in bytes; `Packed`, `count` sizes and a
    /// buffer of their sum in bytes.
    pub(super) unsafe fn read<'a>(self, role: Role) -> Result<Vec<&'a [u8]>> {
        match self {
            // SAFETY: `ptr` holds `size` bytes (this function's contract).
            Items::One { ptr, size } => Ok(vec![unsafe { bytes(ptr, size, role.one()) }?]),
            Items::Multi { count, ptrs, sizes } => {
                // SAFETY: `ptrs` holds `count` entries (this function's contract).
                let ptrs = unsafe { array(ptrs, count, role.pointers()) }?;
                // SAFETY: `sizes` holds `count` entries (this function's contract).
                let sizes = unsafe { array(sizes, count, role.sizes()) }?;
                // SAFETY: each string holds its size in bytes (this function's contract).
                ptrs.iter().zip(sizes).map(|(p, n)| unsafe { bytes(*p, *n, role.one()) }).collect()
            }
            Items::Packed { count, buf, sizes } => {
                // SAFETY: `sizes` holds `count` sizes (this function's contract).
                let sizes = unsafe { array(sizes, count, "sizes array") }?;
                let total =
                    sizes.iter().try_fold(0usize, |a, s| a.checked_add(*s)).ok_or_else(|| YokanError::args("sizes overflow"))?;
                // SAFETY: `buf` holds the sum of the sizes in bytes (this function's contract).
                let all = unsafe { bytes(buf, total, role.buffer()) }?;
                let mut out = Vec::with_capacity(count);
                let mut at = 0;
                for s in sizes {
                    out.push(&all[at..at + s]);
                    at += s;
                }
                Ok(out)
            }
        }
    }
}

/// Upstream's rule for a packed output: items go back to back into `room`
/// bytes; from the first one that does not fit on, no later one is placed
/// (even one that would fit).
#[derive(Clone, Copy, Debug)]
pub(super) struct Packing {
    room: usize,
    at: usize,
    full: bool,
}

impl Packing {
    pub(super) fn new(room: usize) -> Packing {
        Packing { room, at: 0, full: false }
    }

    /// Where the next item, of `len` bytes, goes; `None` if it is too
    /// small a room (`SIZE_TOO_SMALL`).
    pub(super) fn place(&mut self, len: usize) -> Option<usize> {
        if self.full || len > self.room - self.at {
            self.full = true;
            return None;
        }
        let at = self.at;
        self.at += len;
        Some(at)
    }
}

/// Where an operation writes byte strings back to C. Each item's size says
/// what happened: its length, or `KEY_NOT_FOUND`, `SIZE_TOO_SMALL`,
/// `NO_MORE_KEYS`.
pub(super) enum Out<'a> {
    /// A buffer per item (`yk_get_multi`, `yk_list_keys`, ...), whose size
    /// is its capacity on the way in. `capacities` keeps those: `sizes` is
    /// overwritten as items are written.
    Slots { bufs: &'a [*mut c_void], capacities: Vec<usize>, sizes: &'a mut [usize], what: &'static str },
    /// One buffer, items back to back (`_packed`, see [`Packing`]).
    Packed { buf: &'a mut [u8], packing: Packing, sizes: &'a mut [usize] },
}

impl<'a> Out<'a> {
    /// `count` buffers of the capacities in `sizes`; `what` names a buffer
    /// found NULL when something is written to it.
    ///
    /// # Safety
    /// `bufs` and `sizes` must hold `count` entries unless NULL; each buffer
    /// must be NULL or hold its capacity in writable bytes; none of them
    /// otherwise accessed for `'a`.
    pub(super) unsafe fn slots(
        bufs: *const *mut c_void,
        sizes: *mut usize,
        count: usize,
        role: Role,
        what: &'static str,
    ) -> Result<Out<'a>> {
        // SAFETY: `bufs` holds `count` entries (this function's contract).
        let bufs = unsafe { array(bufs, count, role.pointers()) }?;
        // SAFETY: `sizes` holds `count` entries (this function's contract).
        let sizes = unsafe { array_mut(sizes, count, role.sizes()) }?;
        Ok(Out::Slots { bufs, capacities: sizes.to_vec(), sizes, what })
    }

    /// The items go into `buf`, their sizes into `sizes`.
    pub(super) fn packed(buf: &'a mut [u8], sizes: &'a mut [usize]) -> Out<'a> {
        Out::Packed { packing: Packing::new(buf.len()), buf, sizes }
    }

    /// True if a slot has no room at all.
    pub(super) fn has_empty_slot(&self) -> bool {
        matches!(self, Out::Slots { capacities, .. } if capacities.contains(&0))
    }

    /// Writes item `i`: its bytes, or `None` for a key not found.
    pub(super) fn put(&mut self, i: usize, item: Option<&[u8]>) -> Result<()> {
        match (self, item) {
            (Out::Slots { sizes, .. } | Out::Packed { sizes, .. }, None) => sizes[i] = KEY_NOT_FOUND,
            (Out::Slots { bufs, capacities, sizes, what }, Some(item)) => {
                if item.len() > capacities[i] {
                    sizes[i] = SIZE_TOO_SMALL;
                    return Ok(());
                }
                if !item.is_empty() {
                    // SAFETY: the slot holds its capacity >= item.len() in
                    // writable bytes unless NULL (`slots`' contract).
                    unsafe { array_mut(bufs[i] as *mut u8, item.len(), what) }?.copy_from_slice(item);
                }
                sizes[i] = item.len();
            }
            (Out::Packed { buf, packing, sizes }, Some(item)) => match packing.place(item.len()) {
                Some(at) => {
                    buf[at..at + item.len()].copy_from_slice(item);
                    sizes[i] = item.len();
                }
                None => sizes[i] = SIZE_TOO_SMALL,
            },
        }
        Ok(())
    }

    /// Slot `i` comes after the last item of a listing.
    pub(super) fn end(&mut self, i: usize) {
        match self {
            Out::Slots { sizes, .. } | Out::Packed { sizes, .. } => sizes[i] = NO_MORE_KEYS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_items_split_by_their_sizes() {
        let sizes = [2usize, 0, 3];
        let items = Items::Packed { count: 3, buf: b"abcde".as_ptr() as *const c_void, sizes: sizes.as_ptr() };
        // SAFETY: three sizes, and a buffer of their sum in bytes.
        let got = unsafe { items.read(Role::Key) }.unwrap();
        assert_eq!(got, [&b"ab"[..], b"", b"cde"]);
        let overflow = [usize::MAX, 1];
        let items = Items::Packed { count: 2, buf: b"ab".as_ptr() as *const c_void, sizes: overflow.as_ptr() };
        // SAFETY: the sizes overflow, so the buffer is never read.
        assert!(unsafe { items.read(Role::Key) }.is_err());
    }

    #[test]
    fn packed_output_is_full_from_the_first_item_that_does_not_fit() {
        let mut buf = [0u8; 4];
        let mut sizes = [0usize; 4];
        let mut out = Out::packed(&mut buf, &mut sizes);
        out.put(0, Some(b"ab")).unwrap();
        out.put(1, None).unwrap();
        out.put(2, Some(b"xyz")).unwrap();
        out.put(3, Some(b"c")).unwrap();
        assert_eq!(sizes, [2, KEY_NOT_FOUND, SIZE_TOO_SMALL, SIZE_TOO_SMALL]);
        assert_eq!(&buf[..2], b"ab");
    }

    #[test]
    fn slots_keep_their_capacity_and_report_each_item() {
        let (mut a, mut b) = ([0u8; 2], [0u8; 8]);
        let bufs = [a.as_mut_ptr() as *mut c_void, b.as_mut_ptr() as *mut c_void, std::ptr::null_mut()];
        let mut sizes = [2usize, 8, 8];
        // SAFETY: three slots of the capacities in `sizes` (the third NULL).
        let mut out = unsafe { Out::slots(bufs.as_ptr(), sizes.as_mut_ptr(), 3, Role::Value, "value buffer") }.unwrap();
        assert!(!out.has_empty_slot());
        out.put(0, Some(b"long")).unwrap();
        out.put(1, Some(b"v")).unwrap();
        out.put(1, Some(b"vvvvvvv")).unwrap();
        assert!(out.put(2, Some(b"x")).is_err());
        out.end(2);
        assert_eq!(sizes, [SIZE_TOO_SMALL, 7, NO_MORE_KEYS]);
        assert_eq!(&b[..7], b"vvvvvvv");
    }
}
