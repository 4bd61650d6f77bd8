//! The payloads of Yokan's `_bulk` operations: the byte layouts upstream's
//! `yokan/database.h` gives them (`size_t` arrays in the caller's byte
//! order, byte strings back to back, output areas), read from a
//! [`Source`] and checked before anything is read or allocated past what
//! the payload holds, and the results the operations write back into it
//! ([`Writes`]). Nothing here knows where the bytes live: `bulk.rs` reads
//! and writes them through the caller's bulk handle, the tests through a
//! buffer.
//!
//! Every length the payload carries is bounded by the bytes actually
//! there before it is used: a section must end within the payload
//! ([`Layout`]), a sum of sizes must not overflow, and the bytes a section
//! needs are read only once its bounds are known.

use super::buffers::{Packing, KEY_NOT_FOUND, NO_MORE_KEYS, SIZE_TOO_SMALL};
use super::database::{exists_bits, size_or_not_found};
use crate::yokan::error::{code, Result, YokanError};
use std::ops::Range;

/// The size of a `size_t`.
pub(super) const WORD: usize = std::mem::size_of::<usize>();

/// Where the payload's bytes come from.
pub(super) trait Source {
    /// The bytes of `range` (within the payload: [`Layout`] checked it),
    /// `what` naming them in an error.
    fn pull(&self, range: Range<usize>, what: &str) -> Result<Vec<u8>>;
}

/// What an operation writes back: bytes at offsets within the payload, in
/// the payload's order.
pub(super) type Writes = Vec<(usize, Vec<u8>)>;

/// The sections of a payload of `size` bytes, handed out one after the
/// other; none may end past the payload.
pub(super) struct Layout {
    size: usize,
    at: usize,
}

impl Layout {
    pub(super) fn new(size: usize) -> Layout {
        Layout { size, at: 0 }
    }

    /// The next `len` bytes (`what` names them in the error).
    pub(super) fn take(&mut self, len: usize, what: &str) -> Result<Range<usize>> {
        match self.at.checked_add(len) {
            Some(end) if end <= self.size => {
                let range = self.at..end;
                self.at = end;
                Ok(range)
            }
            _ => Err(YokanError::args(format!(
                "the payload ({} bytes) is too short for {what} ({len} bytes from byte {})",
                self.size, self.at
            ))),
        }
    }

    /// The next `count` sizes (`size_t`).
    pub(super) fn words(&mut self, count: usize, what: &str) -> Result<Range<usize>> {
        let len = count
            .checked_mul(WORD)
            .ok_or_else(|| YokanError::args(format!("{what} ({count} of them) do not fit in the address space")))?;
        self.take(len, what)
    }

    /// The rest of the payload.
    pub(super) fn rest(&mut self) -> Range<usize> {
        let range = self.at..self.size;
        self.at = self.size;
        range
    }
}

/// The `size_t`s in `bytes` (whole ones only), in this machine's byte order.
pub(super) fn words(bytes: &[u8]) -> Vec<usize> {
    bytes
        .chunks_exact(WORD)
        .map(|c| {
            let mut w = [0u8; WORD];
            w.copy_from_slice(c);
            usize::from_ne_bytes(w)
        })
        .collect()
}

/// The bytes of `sizes` as a `size_t` array.
pub(super) fn word_bytes(sizes: &[usize]) -> Vec<u8> {
    sizes.iter().flat_map(|s| s.to_ne_bytes()).collect()
}

/// The sum of `sizes` (`what` names them in the error).
pub(super) fn total(sizes: &[usize], what: &str) -> Result<usize> {
    sizes
        .iter()
        .try_fold(0usize, |sum, s| sum.checked_add(*s))
        .ok_or_else(|| YokanError::args(format!("the {what} add up past the address space")))
}

/// `count` zeroed sizes, or `YOKAN_ERR_ALLOCATION` (never an abort).
fn zeroed(count: usize) -> Result<Vec<usize>> {
    let mut v = Vec::new();
    v.try_reserve_exact(count).map_err(|_| YokanError::new(code::ALLOCATION, format!("cannot allocate {count} output sizes")))?;
    v.resize(count, 0);
    Ok(v)
}

/// Byte strings back to back in `bytes`, measured by `sizes`.
pub(super) struct Strings {
    bytes: Vec<u8>,
    sizes: Vec<usize>,
}

impl Strings {
    /// The strings, in order (`bytes` holds the sum of `sizes`: see [`read_strings`]).
    pub(super) fn list(&self) -> Vec<&[u8]> {
        let mut at = 0;
        self.sizes
            .iter()
            .map(|n| {
                let s = &self.bytes[at..at + n];
                at += n;
                s
            })
            .collect()
    }
}

/// The strings `sizes` measures, read from the next section of `layout`.
fn read_strings(src: &impl Source, layout: &mut Layout, sizes: Vec<usize>, what: &str) -> Result<Strings> {
    let range = layout.take(total(&sizes, &format!("{what} sizes"))?, &format!("the {what}"))?;
    Ok(Strings { bytes: src.pull(range, &format!("the {what}"))?, sizes })
}

/// `count` key sizes then the keys: what fetch and erase read, and how
/// exists, length and get start.
pub(super) fn read_keys(src: &impl Source, layout: &mut Layout, count: usize) -> Result<Strings> {
    let range = layout.words(count, "the key sizes")?;
    let sizes = words(&src.pull(range, "the key sizes")?);
    read_strings(src, layout, sizes, "keys")
}

/// The documents of a store or update: `count` document sizes, then the
/// documents back to back (upstream's `yk_doc_store_bulk` layout).
pub(super) fn read_documents(src: &impl Source, size: usize, count: usize) -> Result<Strings> {
    let mut layout = Layout::new(size);
    let range = layout.words(count, "the document sizes")?;
    let sizes = words(&src.pull(range, "the document sizes")?);
    read_strings(src, &mut layout, sizes, "documents")
}

/// A load of `count` documents (ids passed with the call): `count`
/// document sizes, then the document area (the rest of the payload).
/// `packed`: the documents go back to back, the sizes are outputs only;
/// otherwise document `i` goes into a slot of the capacity size `i` gives,
/// the slots back to back. Each size gets the document's size or a sentinel.
pub(super) fn load_documents(
    src: &impl Source,
    size: usize,
    count: usize,
    packed: bool,
    db: impl FnOnce() -> Result<Vec<Option<Vec<u8>>>>,
) -> Result<Writes> {
    let mut layout = Layout::new(size);
    let ds = layout.words(count, "the document sizes")?;
    let area_range = layout.rest();
    let mut area = if packed {
        Area::packed(count, area_range.len())?
    } else {
        Area::slots(words(&src.pull(ds.clone(), "the document sizes")?), area_range.len(), "document")?
    };
    let docs = db()?;
    let mut writes = Vec::new();
    for (i, d) in docs.into_iter().take(count).enumerate() {
        let len = d.as_ref().map(Vec::len);
        if let (Some(at), Some(d)) = (area.put(i, len), d) {
            writes.push((area_range.start + at, d));
        }
    }
    writes.insert(0, (ds.start, area.size_bytes()));
    Ok(writes)
}

/// A listing of up to `count` documents (upstream's `yk_doc_list_bulk`
/// layout): the filter (`filter_size` bytes, read by nobody: only the
/// default filter is provided), `count` document sizes, `count` ids, then
/// the document area of `docs_buf_size` bytes. `packed`: back to back, the
/// sizes outputs only; otherwise the sizes are the capacities of slots laid
/// back to back. Slots past the last document get `YOKAN_NO_MORE_DOCS` as
/// id and size.
pub(super) fn list_documents(
    src: &impl Source,
    filter_size: usize,
    count: usize,
    docs_buf_size: usize,
    packed: bool,
    db: impl FnOnce() -> Result<Vec<(u64, Vec<u8>)>>,
) -> Result<Writes> {
    const ID: usize = std::mem::size_of::<u64>();
    let size = count
        .checked_mul(WORD + ID)
        .and_then(|n| n.checked_add(filter_size))
        .and_then(|n| n.checked_add(docs_buf_size))
        .ok_or_else(|| YokanError::args("the payload's size overflows"))?;
    let mut layout = Layout::new(size);
    layout.take(filter_size, "the filter")?;
    let ds = layout.words(count, "the document sizes")?;
    let ids = layout.take(count * ID, "the ids")?;
    let area_range = layout.take(docs_buf_size, "the document area")?;
    let mut area = if packed {
        Area::packed(count, area_range.len())?
    } else {
        Area::slots(words(&src.pull(ds.clone(), "the document sizes")?), area_range.len(), "document")?
    };
    let listed = db()?;
    let mut out_ids = vec![NO_MORE_KEYS as u64; count];
    let mut writes = Vec::new();
    for (i, out_id) in out_ids.iter_mut().enumerate() {
        match listed.get(i) {
            Some((id, d)) => {
                *out_id = *id;
                if let Some(at) = area.put(i, Some(d.len())) {
                    writes.push((area_range.start + at, d.clone()));
                }
            }
            None => area.end(i),
        }
    }
    writes.insert(0, (ids.start, out_ids.iter().flat_map(|id| id.to_ne_bytes()).collect()));
    writes.insert(0, (ds.start, area.size_bytes()));
    Ok(writes)
}

/// The keys and values of a put: `count` key sizes, `count` value sizes,
/// the keys, the values; both sections are bounded before either is read.
/// The strings come as the `count` keys then the `count` values.
pub(super) fn read_pairs(src: &impl Source, size: usize, count: usize) -> Result<Strings> {
    let mut layout = Layout::new(size);
    let ks = layout.words(count, "the key sizes")?;
    let vs = layout.words(count, "the value sizes")?;
    let sizes = words(&src.pull(ks.start..vs.end, "the key and value sizes")?);
    let (key_total, value_total) = (total(&sizes[..count], "key sizes")?, total(&sizes[count..], "value sizes")?);
    let keys = layout.take(key_total, "the keys")?;
    let values = layout.take(value_total, "the values")?;
    Ok(Strings { bytes: src.pull(keys.start..values.end, "the keys and values")?, sizes })
}

/// exists: `count` key sizes, the keys, then `ceil(count / 8)` bytes for
/// the bitfield the answers go into (upstream's).
pub(super) fn exists(
    src: &impl Source,
    size: usize,
    count: usize,
    db: impl FnOnce(&[&[u8]]) -> Result<Vec<bool>>,
) -> Result<Writes> {
    let mut layout = Layout::new(size);
    let keys = read_keys(src, &mut layout, count)?;
    let out = layout.take(count.div_ceil(8), "the exists bitfield")?;
    let found = db(&keys.list())?;
    let mut bits = vec![0u8; out.len()];
    exists_bits(&found[..found.len().min(count)], &mut bits);
    Ok(vec![(out.start, bits)])
}

/// length: `count` key sizes, the keys, then `count` sizes for the value
/// sizes (`KEY_NOT_FOUND` for absent keys).
pub(super) fn length(
    src: &impl Source,
    size: usize,
    count: usize,
    db: impl FnOnce(&[&[u8]]) -> Result<Vec<Option<u64>>>,
) -> Result<Writes> {
    let mut layout = Layout::new(size);
    let keys = read_keys(src, &mut layout, count)?;
    let out = layout.words(count, "the value sizes")?;
    let sizes: Vec<usize> = db(&keys.list())?.into_iter().take(count).map(size_or_not_found).collect();
    Ok(vec![(out.start, word_bytes(&sizes))])
}

/// An output area (values or listed keys): where each of `count` items
/// goes, and the size to report for each slot.
pub(super) struct Area {
    sizes: Vec<usize>,
    place: Place,
}

enum Place {
    /// Back to back in the area (see [`Packing`]).
    Packed(Packing),
    /// Slot `i`: `capacities[i]` bytes at `starts[i]` of the area.
    Slots { starts: Vec<usize>, capacities: Vec<usize> },
}

impl Area {
    /// `count` items back to back in `room` bytes.
    pub(super) fn packed(count: usize, room: usize) -> Result<Area> {
        Ok(Area { sizes: zeroed(count)?, place: Place::Packed(Packing::new(room)) })
    }

    /// One slot per capacity, back to back; together they must fit in
    /// `room` bytes (`what` names them in the error).
    pub(super) fn slots(capacities: Vec<usize>, room: usize, what: &str) -> Result<Area> {
        let mut starts = Vec::with_capacity(capacities.len());
        let mut at = 0usize;
        for c in &capacities {
            starts.push(at);
            at = match at.checked_add(*c) {
                Some(end) if end <= room => end,
                _ => {
                    return Err(YokanError::args(format!("the {what} capacities add up past the area's {room} bytes")));
                }
            };
        }
        Ok(Area { sizes: vec![0; capacities.len()], place: Place::Slots { starts, capacities } })
    }

    /// Item `i` (of `len` bytes, `None` for an absent key): where in the
    /// area to write it, `None` if it is not written (absent, or too small
    /// a room: its size says which).
    pub(super) fn put(&mut self, i: usize, len: Option<usize>) -> Option<usize> {
        let (size, at) = match (len, &mut self.place) {
            (None, _) => (KEY_NOT_FOUND, None),
            (Some(len), Place::Packed(p)) => match p.place(len) {
                Some(at) => (len, Some(at)),
                None => (SIZE_TOO_SMALL, None),
            },
            (Some(len), Place::Slots { starts, capacities }) if len <= capacities[i] => (len, Some(starts[i])),
            (Some(_), Place::Slots { .. }) => (SIZE_TOO_SMALL, None),
        };
        self.sizes[i] = size;
        at
    }

    /// Slot `i` comes after the last item of a listing.
    pub(super) fn end(&mut self, i: usize) {
        self.sizes[i] = NO_MORE_KEYS;
    }

    /// The sizes to report, as a `size_t` array.
    pub(super) fn size_bytes(&self) -> Vec<u8> {
        word_bytes(&self.sizes)
    }
}

/// get: `count` key sizes, `count` value sizes, the keys, then the value
/// area (the rest of the payload). `packed`: the values go back to back
/// in the area and the value sizes are outputs only; otherwise value `i`
/// goes into a slot of the capacity the value sizes give, the slots back
/// to back. The value sizes get each value's size or a sentinel.
pub(super) fn get(
    src: &impl Source,
    size: usize,
    count: usize,
    packed: bool,
    db: impl FnOnce(&[&[u8]]) -> Result<Vec<Option<Vec<u8>>>>,
) -> Result<Writes> {
    let mut layout = Layout::new(size);
    let ks = layout.words(count, "the key sizes")?;
    let vs = layout.words(count, "the value sizes")?;
    let end = if packed { ks.end } else { vs.end };
    let mut sizes = words(&src.pull(ks.start..end, "the key and value sizes")?);
    let capacities = sizes.split_off(count.min(sizes.len()));
    let keys = read_strings(src, &mut layout, sizes, "keys")?;
    let area_range = layout.rest();
    let mut area =
        if packed { Area::packed(count, area_range.len())? } else { Area::slots(capacities, area_range.len(), "value")? };
    let values = db(&keys.list())?;
    let mut writes = Vec::new();
    for (i, v) in values.into_iter().take(count).enumerate() {
        let len = v.as_ref().map(Vec::len);
        if let (Some(at), Some(v)) = (area.put(i, len), v) {
            writes.push((area_range.start + at, v));
        }
    }
    writes.insert(0, (vs.start, area.size_bytes()));
    Ok(writes)
}

/// The shape of a listing's payload, from the call's arguments: `from_key`
/// (`from_ksize` bytes), the filter (`filter_size`), `count` key sizes,
/// with values `count` value sizes, the key area (`keys_buf_size`), with
/// values the value area (`vals_buf_size`). `packed`: items back to back
/// in each area, the sizes outputs only; otherwise the sizes are the
/// capacities of slots laid back to back in the area.
pub(super) struct ListShape {
    pub(super) from_ksize: usize,
    pub(super) filter_size: usize,
    pub(super) count: usize,
    pub(super) packed: bool,
    pub(super) keys_buf_size: usize,
    /// `Some` for `list_keyvals`.
    pub(super) vals_buf_size: Option<usize>,
}

impl ListShape {
    /// The payload's size in bytes.
    pub(super) fn size(&self) -> Result<usize> {
        let arrays = if self.vals_buf_size.is_some() { 2 } else { 1 };
        [Some(self.from_ksize), Some(self.filter_size), self.count.checked_mul(WORD * arrays), Some(self.keys_buf_size)]
            .into_iter()
            .chain([self.vals_buf_size.or(Some(0))])
            .try_fold(0usize, |sum, n| sum.checked_add(n?))
            .ok_or_else(|| YokanError::args("the listing's payload does not fit in the address space"))
    }
}

/// list_keys and list_keyvals (see [`ListShape`]): `db(from_key, filter,
/// count)` lists the items (values empty without them); slots past the
/// last item say `NO_MORE_KEYS`.
pub(super) fn list(
    src: &impl Source,
    shape: &ListShape,
    db: impl FnOnce(&[u8], &[u8], usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>>,
) -> Result<Writes> {
    let count = shape.count;
    let mut layout = Layout::new(shape.size()?);
    let from = layout.take(shape.from_ksize, "from_key")?;
    let filter = layout.take(shape.filter_size, "the filter")?;
    let ks = layout.words(count, "the key sizes")?;
    let vs = match shape.vals_buf_size {
        Some(_) => Some(layout.words(count, "the value sizes")?),
        None => None,
    };
    let key_area = layout.take(shape.keys_buf_size, "the key area")?;
    let val_area = match shape.vals_buf_size {
        Some(n) => Some(layout.take(n, "the value area")?),
        None => None,
    };
    let head_end = match (&vs, shape.packed) {
        (_, true) => filter.end,
        (Some(vs), false) => vs.end,
        (None, false) => ks.end,
    };
    let head = src.pull(0..head_end, "from_key, the filter and the sizes")?;
    let (mut keys, mut values) = if shape.packed {
        let values = match &val_area {
            Some(a) => Some(Area::packed(count, a.len())?),
            None => None,
        };
        (Area::packed(count, key_area.len())?, values)
    } else {
        let values = match (&vs, &val_area) {
            (Some(vs), Some(a)) => Some(Area::slots(words(&head[vs.clone()]), a.len(), "value")?),
            _ => None,
        };
        (Area::slots(words(&head[ks.clone()]), key_area.len(), "key")?, values)
    };
    let items = db(&head[from], &head[filter], count)?;
    let mut writes = Vec::new();
    let mut value_writes = Vec::new();
    let listed = items.len().min(count);
    for (i, (k, v)) in items.into_iter().take(count).enumerate() {
        if let Some(at) = keys.put(i, Some(k.len())) {
            writes.push((key_area.start + at, k));
        }
        if let (Some(values), Some(area)) = (values.as_mut(), &val_area) {
            if let Some(at) = values.put(i, Some(v.len())) {
                value_writes.push((area.start + at, v));
            }
        }
    }
    for i in listed..count {
        keys.end(i);
        if let Some(values) = values.as_mut() {
            values.end(i);
        }
    }
    let mut sizes = keys.size_bytes();
    if let Some(values) = &values {
        sizes.extend(values.size_bytes());
    }
    writes.insert(0, (ks.start, sizes));
    writes.extend(value_writes);
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A payload in memory; counts the bytes read.
    struct Mem {
        bytes: Vec<u8>,
        pulled: Cell<usize>,
    }

    impl Mem {
        fn new(bytes: Vec<u8>) -> Mem {
            Mem { bytes, pulled: Cell::new(0) }
        }
        fn size(&self) -> usize {
            self.bytes.len()
        }
        /// The payload after `writes`.
        fn after(&self, writes: &Writes) -> Vec<u8> {
            let mut out = self.bytes.clone();
            for (at, b) in writes {
                out[*at..*at + b.len()].copy_from_slice(b);
            }
            out
        }
    }

    impl Source for Mem {
        fn pull(&self, range: Range<usize>, _what: &str) -> Result<Vec<u8>> {
            self.pulled.set(self.pulled.get() + range.len());
            Ok(self.bytes[range].to_vec())
        }
    }

    /// A payload: the sizes, then the byte strings, then `tail` zero bytes.
    fn payload(sizes: &[usize], strings: &[&[u8]], tail: usize) -> Mem {
        let mut b = word_bytes(sizes);
        for s in strings {
            b.extend_from_slice(s);
        }
        b.resize(b.len() + tail, 0);
        Mem::new(b)
    }

    fn args_error<T>(r: Result<T>) -> String {
        match r {
            Err(e) if e.code == code::INVALID_ARGS => e.detail,
            Err(e) => panic!("expected INVALID_ARGS, got {e}"),
            Ok(_) => panic!("expected INVALID_ARGS, got success"),
        }
    }

    /// A database call that must not happen.
    macro_rules! never {
        ($($arg:pat),*) => {
            |$($arg),*| panic!("the database must not be asked")
        };
    }

    #[test]
    fn layout_refuses_sections_past_the_payload_and_overflows() {
        let mut l = Layout::new(16);
        assert_eq!(l.take(8, "a").unwrap(), 0..8);
        assert!(args_error(l.take(9, "the keys")).contains("too short for the keys (9 bytes from byte 8)"));
        assert_eq!(l.take(8, "b").unwrap(), 8..16);
        assert_eq!(l.take(0, "c").unwrap(), 16..16);
        let mut l = Layout::new(16);
        l.take(1, "a").unwrap();
        args_error(l.take(usize::MAX, "x"));
        args_error(Layout::new(usize::MAX).words(usize::MAX / 2, "key sizes"));
        args_error(Layout::new(0).words(1, "key sizes"));
        assert_eq!(Layout::new(5).rest(), 0..5);
        args_error(total(&[usize::MAX, 1], "key sizes"));
        assert_eq!(total(&[3, 4], "key sizes").unwrap(), 7);
        assert_eq!(words(&word_bytes(&[1, usize::MAX, 0])), [1, usize::MAX, 0]);
        assert_eq!(words(&[0u8; WORD + 3]).len(), 1, "a partial word is not read");
    }

    #[test]
    fn put_reads_pairs_and_refuses_hostile_sizes_before_reading_them() {
        let src = payload(&[2, 1, 3, 0], &[b"ab", b"c", b"xyz"], 0);
        let pairs = read_pairs(&src, src.size(), 2).unwrap();
        assert_eq!(pairs.list(), [&b"ab"[..], b"c", b"xyz", b""]);
        // A payload shorter than its sizes say: refused, the strings never read.
        for sizes in [[2, 1, 3, 1], [usize::MAX, 1, 1, 1], [usize::MAX / 2, usize::MAX / 2, 4, 4], [1, 1, usize::MAX, 1]] {
            let src = payload(&sizes, &[b"abc", b"xyz"], 0);
            args_error(read_pairs(&src, src.size(), 2));
            assert_eq!(src.pulled.get(), 4 * WORD, "only the sizes were read for {sizes:?}");
        }
        // Fewer bytes than the sizes arrays: nothing is read at all.
        for count in [3, usize::MAX / WORD, usize::MAX] {
            let src = payload(&[1, 1, 1, 1], &[], 0);
            args_error(read_pairs(&src, src.size(), count));
            assert_eq!(src.pulled.get(), 0);
        }
        // A payload size larger than the bytes the call needs is fine.
        let src = payload(&[1, 1], &[b"k", b"v"], 100);
        assert!(read_pairs(&src, src.size(), 1).is_ok());
    }

    #[test]
    fn exists_and_length_write_only_their_output_section() {
        let keys: [&[u8]; 3] = [b"a", b"bb", b"c"];
        let src = payload(&[1, 2, 1], &keys, 1 + 3 * WORD);
        let w = exists(&src, 3 * WORD + 4 + 1, 3, |k| {
            assert_eq!(k, keys);
            Ok(vec![true, false, true])
        })
        .unwrap();
        assert_eq!(w, vec![(3 * WORD + 4, vec![0b101])]);
        // No room for the bitfield: refused before the database is asked.
        args_error(exists(&src, 3 * WORD + 4, 3, never!(_)));
        let w = length(&src, src.size() - 1, 3, |_| Ok(vec![Some(5), None, Some(0)])).unwrap();
        assert_eq!(w, vec![(3 * WORD + 4, word_bytes(&[5, KEY_NOT_FOUND, 0]))]);
        args_error(length(&src, src.size() - 2, 3, never!(_)));
        // Sixteen keys, 0, 3 and 15 present: 0x09 0x80.
        let sizes = vec![1usize; 16];
        let src = payload(&sizes, &[&[7u8; 16]], 2);
        let w = exists(&src, src.size(), 16, |_| Ok((0..16).map(|i| [0, 3, 15].contains(&i)).collect())).unwrap();
        assert_eq!(w[0].1, [0x09, 0x80]);
    }

    #[test]
    fn get_packed_and_slotted_follow_upstreams_rules() {
        // Packed: 6 bytes of room; "abc" fits, "wxyz" does not, so "z"
        // after it does not either; the absent key is KEY_NOT_FOUND.
        let src = payload(&[1, 1, 1, 1, 0, 0, 0, 0], &[b"k1k2"], 6);
        let w = get(&src, src.size(), 4, true, |_| {
            Ok(vec![Some(b"abc".to_vec()), None, Some(b"wxyz".to_vec()), Some(b"z".to_vec())])
        })
        .unwrap();
        let after = src.after(&w);
        assert_eq!(words(&after[4 * WORD..8 * WORD]), [3, KEY_NOT_FOUND, SIZE_TOO_SMALL, SIZE_TOO_SMALL]);
        assert_eq!(&after[8 * WORD + 4..8 * WORD + 7], b"abc");
        assert_eq!(src.pulled.get(), 4 * WORD + 4, "packed: the value sizes are not read");
        // Slots: capacities 2, 4, 1 back to back; the second value is too
        // big for its slot, the third fits its own.
        let src = payload(&[1, 1, 1, 2, 4, 1], &[b"abc"], 7);
        let w = get(&src, src.size(), 3, false, |_| Ok(vec![Some(b"ab".to_vec()), Some(b"12345".to_vec()), Some(b"z".to_vec())]))
            .unwrap();
        let after = src.after(&w);
        assert_eq!(words(&after[3 * WORD..6 * WORD]), [2, SIZE_TOO_SMALL, 1]);
        let area = &after[6 * WORD + 3..];
        assert_eq!((&area[0..2], area[6]), (&b"ab"[..], b'z'));
        // Capacities past the value area: refused before the database is asked.
        let src = payload(&[1, 4], &[b"k"], 3);
        args_error(get(&src, src.size(), 1, false, never!(_)));
        let src = payload(&[1, usize::MAX], &[b"k"], 3);
        args_error(get(&src, src.size(), 1, false, never!(_)));
        let src = payload(&[1, 1, usize::MAX, 2], &[b"kk"], 3);
        args_error(get(&src, src.size(), 2, false, never!(_)));
        // Keys past the payload.
        let src = payload(&[9, 0], &[b"k"], 0);
        args_error(get(&src, src.size(), 1, true, never!(_)));
    }

    #[test]
    fn listings_fill_slots_and_mark_the_rest() {
        let items = || Ok(vec![(b"apple".to_vec(), b"red".to_vec()), (b"fig".to_vec(), b"purple".to_vec())]);
        // list_keys, packed, 3 slots, 7 bytes of keys: "apple" fits, "fig" does not.
        let shape = ListShape { from_ksize: 1, filter_size: 2, count: 3, packed: true, keys_buf_size: 7, vals_buf_size: None };
        assert_eq!(shape.size().unwrap(), 3 + 3 * WORD + 7);
        let mut bytes = b"af?".to_vec();
        bytes.resize(shape.size().unwrap(), 0);
        let src = Mem::new(bytes);
        let w = list(&src, &shape, |from, filter, n| {
            assert_eq!((from, filter, n), (&b"a"[..], &b"f?"[..], 3));
            items()
        })
        .unwrap();
        let after = src.after(&w);
        assert_eq!(words(&after[3..3 + 3 * WORD]), [5, SIZE_TOO_SMALL, NO_MORE_KEYS]);
        assert_eq!(&after[3 + 3 * WORD..3 + 3 * WORD + 5], b"apple");
        assert_eq!(src.pulled.get(), 3, "packed: only from_key and the filter are read");
        // list_keyvals, slots: key capacities 5 and 2, value capacities 3 and 8.
        let shape =
            ListShape { from_ksize: 0, filter_size: 0, count: 2, packed: false, keys_buf_size: 7, vals_buf_size: Some(11) };
        let mut bytes = word_bytes(&[5, 2, 3, 8]);
        bytes.resize(shape.size().unwrap(), 0);
        let src = Mem::new(bytes);
        let w = list(&src, &shape, |_, _, _| items()).unwrap();
        let after = src.after(&w);
        assert_eq!(words(&after[..4 * WORD]), [5, SIZE_TOO_SMALL, 3, 6]);
        let keys = &after[4 * WORD..4 * WORD + 7];
        let vals = &after[4 * WORD + 7..];
        assert_eq!((&keys[..5], &vals[..3], &vals[3..9]), (&b"apple"[..], &b"red"[..], &b"purple"[..]));
        // Slots past their area, and shapes past the address space.
        let mut bytes = word_bytes(&[5, 3, 3, 8]);
        bytes.resize(shape.size().unwrap(), 0);
        args_error(list(&Mem::new(bytes), &shape, never!(_, _, _)));
        for shape in [
            ListShape { from_ksize: usize::MAX, filter_size: 1, count: 1, packed: true, keys_buf_size: 0, vals_buf_size: None },
            ListShape {
                from_ksize: 0,
                filter_size: 0,
                count: usize::MAX / 8,
                packed: true,
                keys_buf_size: 0,
                vals_buf_size: Some(0),
            },
            ListShape {
                from_ksize: 0,
                filter_size: 0,
                count: 1,
                packed: true,
                keys_buf_size: usize::MAX,
                vals_buf_size: Some(9),
            },
        ] {
            args_error(shape.size());
        }
    }
    #[test]
    fn documents_store_load_and_list_in_upstream_layout() {
        // store: sizes, then the documents back to back.
        let store = payload(&[2, 0, 3], &[b"ab", b"cde"], 0);
        let docs = read_documents(&store, store.size(), 3).unwrap();
        assert_eq!(docs.list(), [&b"ab"[..], b"", b"cde"]);
        assert!(read_documents(&store, store.size() - 1, 3).is_err(), "a payload shorter than its sizes");

        // load into slots of 4, 1 and 4 bytes: sizes in, sizes out.
        let load = payload(&[4, 1, 4], &[], 9);
        let got = vec![Some(b"wxyz".to_vec()), Some(b"long".to_vec()), None];
        let writes = load_documents(&load, load.size(), 3, false, || Ok(got)).unwrap();
        let after = load.after(&writes);
        assert_eq!(words(&after[..3 * WORD]), [4, SIZE_TOO_SMALL, KEY_NOT_FOUND]);
        assert_eq!(&after[3 * WORD..3 * WORD + 4], b"wxyz");

        // list: filter, sizes, ids, then the area; two documents for three slots, packed.
        let mut list = b"f".to_vec();
        list.extend(vec![0u8; 3 * (WORD + 8) + 6]);
        let list = Mem::new(list);
        let listed = vec![(4u64, b"abc".to_vec()), (9, b"defg".to_vec())];
        let writes = list_documents(&list, 1, 3, 6, true, || Ok(listed)).unwrap();
        let after = list.after(&writes);
        assert_eq!(words(&after[1..1 + 3 * WORD]), [3, SIZE_TOO_SMALL, NO_MORE_KEYS]);
        let ids: Vec<u64> =
            after[1 + 3 * WORD..1 + 3 * WORD + 24].chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().unwrap())).collect();
        assert_eq!(ids, [4, 9, NO_MORE_KEYS as u64]);
        assert_eq!(&after[1 + 3 * WORD + 24..1 + 3 * WORD + 27], b"abc");
        // Slots whose capacities add up past the area are refused before the database is asked.
        let mut slots = vec![0u8; 2 * (WORD + 8) + 4];
        slots[..2 * WORD].copy_from_slice(&word_bytes(&[3, 3]));
        let slots = Mem::new(slots);
        assert!(list_documents(&slots, 0, 2, 4, false, || panic!("not asked")).is_err());
    }
}
