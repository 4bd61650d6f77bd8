//! Document collections (`yokan/collection.h`), kept in a database's own
//! key space so that any backend holds them and a persistent one keeps them:
//!
//! * the collection's record: key = its name, value = [`Record`] (16 bytes:
//!   the live document count and the next id, each a little-endian u64);
//! * each document: key = name, one zero byte, the id as a big-endian u64
//!   (a sorted backend then lists a collection's documents by id).
//!
//! This is upstream's layout of keys (a program that lists the raw keys sees
//! the same ones). Names are C strings: non-empty, no zero byte, so one
//! collection's documents never share the `name\0` prefix with another's.
//!
//! Ids are handed out here, one after the other from 0: changes of a
//! record (store, erase, update with `UPDATE_NEW`, create, drop) are made
//! under one lock per database, and each writes its documents and the new
//! record in a single backend put. Reads (load, length, list) take no lock.

use super::backend::{Backend, Filter, ListQuery};
use super::error::{code, Result, YokanError};
use super::mode;
use parking_lot::Mutex;

/// `YOKAN_NO_MORE_DOCS`: the id reported past the end of a listing.
pub const NO_MORE_DOCS: u64 = u64::MAX - 2;

/// A collection's record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Documents stored now.
    pub size: u64,
    /// The id the next stored document gets.
    pub next_id: u64,
}

impl Record {
    const LEN: usize = 16;

    fn encode(self) -> [u8; Record::LEN] {
        let mut out = [0u8; Record::LEN];
        out[..8].copy_from_slice(&self.size.to_le_bytes());
        out[8..].copy_from_slice(&self.next_id.to_le_bytes());
        out
    }

    fn decode(name: &str, bytes: &[u8]) -> Result<Record> {
        let word = |i: usize| bytes.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()).map(u64::from_le_bytes);
        match (bytes.len(), word(0), word(8)) {
            (Record::LEN, Some(size), Some(next_id)) => Ok(Record { size, next_id }),
            _ => Err(YokanError::new(
                code::CORRUPTION,
                format!(
                    "the key \"{name}\" holds {} bytes, not a collection's 16-byte record (a key-value pair under a \
                     collection's name?)",
                    bytes.len()
                ),
            )),
        }
    }
}

/// The key of document `id` of collection `name`.
pub fn doc_key(name: &str, id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 9);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The id in a document key of collection `name` (None: not one of its
/// documents' keys).
fn id_of(name: &str, key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(name.as_bytes())?.strip_prefix(&[0u8])?;
    <[u8; 8]>::try_from(rest).ok().map(u64::from_be_bytes)
}

/// The key a database spread over a group places `key` by: a document's
/// key (name, a zero byte, 8 id bytes; the name without a zero byte) by its
/// collection's name, so that a collection lives whole at the owners of
/// its record; any other key by itself. (A key-value pair that happens to
/// have that shape is placed by its prefix: still the same place at every
/// member, only not spread as evenly.)
pub fn placement_key(key: &[u8]) -> &[u8] {
    match key.len().checked_sub(9) {
        Some(n) if n > 0 && key[n] == 0 && !key[..n].contains(&0) => &key[..n],
        _ => key,
    }
}

/// Checks a collection name as C passes it.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(YokanError::args("a collection name must not be empty"));
    }
    if name.contains('\0') {
        return Err(YokanError::args("a collection name must not contain a zero byte"));
    }
    Ok(())
}

/// Document operations accept the modes that make sense for them; filters
/// other than the default (accept every document) are not provided.
pub fn check_mode(mode: i32) -> Result<()> {
    mode::check_supported(mode, mode::ALL, "document")
}

fn no_collection(name: &str) -> YokanError {
    YokanError::new(code::KEY_NOT_FOUND, format!("there is no collection \"{name}\" in the database"))
}

/// The collections of one database.
#[derive(Default)]
pub struct Collections {
    /// Held by every change of a record (see the module comment).
    records: Mutex<()>,
}

/// One listed document: its id and (unless `IGNORE_DOCS`) its bytes.
pub type Doc = (u64, Vec<u8>);

impl Collections {
    fn record(db: &dyn Backend, name: &str) -> Result<Option<Record>> {
        check_name(name)?;
        match db.get(&[name.as_bytes()], false)?.pop().flatten() {
            Some(bytes) => Record::decode(name, &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn existing(db: &dyn Backend, name: &str) -> Result<Record> {
        Self::record(db, name)?.ok_or_else(|| no_collection(name))
    }

    /// Writes `docs` and the record in one put.
    fn write(db: &dyn Backend, name: &str, docs: &[(Vec<u8>, &[u8])], record: Record) -> Result<()> {
        let encoded = record.encode();
        let mut pairs: Vec<(&[u8], &[u8])> = docs.iter().map(|(k, v)| (k.as_slice(), *v)).collect();
        pairs.push((name.as_bytes(), &encoded));
        db.put(&pairs, mode::DEFAULT, false)?;
        Ok(())
    }

    /// Creates an empty collection (`YOKAN_ERR_KEY_EXISTS` if there is one).
    pub fn create(&self, db: &dyn Backend, name: &str) -> Result<()> {
        let _changing = self.records.lock();
        if Self::record(db, name)?.is_some() {
            return Err(YokanError::new(code::KEY_EXISTS, format!("the collection \"{name}\" already exists")));
        }
        Self::write(db, name, &[], Record::default())
    }

    /// Erases a collection and its documents (none: nothing to do, as
    /// upstream).
    pub fn drop_collection(&self, db: &dyn Backend, name: &str) -> Result<()> {
        check_name(name)?;
        let _changing = self.records.lock();
        let mut prefix = name.as_bytes().to_vec();
        prefix.push(0);
        db.erase_range(&prefix)?;
        db.erase(&[name.as_bytes()])
    }

    pub fn exists(&self, db: &dyn Backend, name: &str) -> Result<bool> {
        Ok(Self::record(db, name)?.is_some())
    }

    pub fn record_of(&self, db: &dyn Backend, name: &str) -> Result<Record> {
        Self::existing(db, name)
    }

    /// Stores documents under the next ids, returned in order.
    pub fn store(&self, db: &dyn Backend, name: &str, docs: &[&[u8]]) -> Result<Vec<u64>> {
        let _changing = self.records.lock();
        let mut record = Self::existing(db, name)?;
        let n = docs.len() as u64;
        let first = record.next_id;
        let end = first.checked_add(n).filter(|e| *e < NO_MORE_DOCS).ok_or_else(|| {
            YokanError::new(code::INVALID_ID, format!("the collection \"{name}\" has no ids left for {n} documents"))
        })?;
        let keyed: Vec<(Vec<u8>, &[u8])> = docs.iter().zip(first..end).map(|(d, id)| (doc_key(name, id), *d)).collect();
        record.next_id = end;
        record.size += n;
        Self::write(db, name, &keyed, record)?;
        Ok((first..end).collect())
    }

    /// Replaces documents. Ids not given out yet are refused
    /// (`YOKAN_ERR_INVALID_ID`) unless the mode has `UPDATE_NEW`, which
    /// stores them and moves the next id past them. An id whose document
    /// was erased gets it back (and counts again; upstream's count missed it).
    pub fn update(&self, db: &dyn Backend, name: &str, mode: i32, ids: &[u64], docs: &[&[u8]]) -> Result<()> {
        if ids.len() != docs.len() {
            return Err(YokanError::args(format!("{} ids for {} documents", ids.len(), docs.len())));
        }
        let _changing = self.records.lock();
        let mut record = Self::existing(db, name)?;
        let new_ok = mode & mode::UPDATE_NEW != 0;
        if let Some(bad) = ids.iter().find(|id| **id >= NO_MORE_DOCS) {
            return Err(YokanError::new(
                code::INVALID_ID,
                format!("{bad} is not a document id (ids stop below {NO_MORE_DOCS}, YOKAN_NO_MORE_DOCS)"),
            ));
        }
        if let Some(bad) = ids.iter().find(|id| !new_ok && **id >= record.next_id) {
            return Err(YokanError::new(
                code::INVALID_ID,
                format!(
                    "document {bad} of \"{name}\" was never stored (the next id is {}; YOKAN_MODE_UPDATE_NEW stores it)",
                    record.next_id
                ),
            ));
        }
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| doc_key(name, *id)).collect();
        let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let present = db.exists(&key_refs)?;
        // An id given twice in one call counts once.
        let mut added: Vec<u64> = ids.iter().zip(&present).filter(|(_, p)| !**p).map(|(id, _)| *id).collect();
        added.sort_unstable();
        added.dedup();
        record.size += added.len() as u64;
        if let Some(max) = ids.iter().max() {
            record.next_id = record.next_id.max(max + 1);
        }
        let keyed: Vec<(Vec<u8>, &[u8])> = keys.into_iter().zip(docs.iter().copied()).collect();
        Self::write(db, name, &keyed, record)
    }

    /// Documents by id (None: no such document).
    pub fn load(&self, db: &dyn Backend, name: &str, ids: &[u64]) -> Result<Vec<Option<Vec<u8>>>> {
        Self::existing(db, name)?;
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| doc_key(name, *id)).collect();
        let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        db.get(&key_refs, false)
    }

    /// Document sizes by id (None: no such document, also when there is no
    /// such collection: upstream answers so).
    pub fn length(&self, db: &dyn Backend, name: &str, ids: &[u64]) -> Result<Vec<Option<u64>>> {
        check_name(name)?;
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| doc_key(name, *id)).collect();
        let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        db.length(&key_refs)
    }

    /// Erases documents (absent ones are skipped).
    pub fn erase(&self, db: &dyn Backend, name: &str, ids: &[u64]) -> Result<()> {
        let _changing = self.records.lock();
        let mut record = Self::existing(db, name)?;
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| doc_key(name, *id)).collect();
        let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let found = db.exists(&key_refs)?.iter().filter(|p| **p).count() as u64;
        db.erase(&key_refs)?;
        record.size = record.size.saturating_sub(found);
        Self::write(db, name, &[], record)
    }

    /// Up to `max` documents from id `from` on, in id order (bytes empty
    /// unless `with_docs`). A sorted backend scans the collection's keys; an
    /// unsorted one looks the ids up one by one up to the next id.
    pub fn list(&self, db: &dyn Backend, name: &str, from: u64, max: usize, with_docs: bool) -> Result<Vec<Doc>> {
        let record = Self::existing(db, name)?;
        if max == 0 || from >= record.next_id {
            return Ok(Vec::new());
        }
        if db.is_sorted() {
            let mut prefix = name.as_bytes().to_vec();
            prefix.push(0);
            let query = ListQuery {
                from: doc_key(name, from),
                inclusive: true,
                filter: Filter::Prefix(prefix),
                max,
                with_values: with_docs,
            };
            return Ok(db.list(&query)?.into_iter().filter_map(|(k, v)| id_of(name, &k).map(|id| (id, v))).collect());
        }
        // Unsorted: look ids up in bounded batches, unless the ids left are
        // far more than the documents (ids stored far ahead with
        // UPDATE_NEW): then one scan of the keys finds them.
        let span = record.next_id - from;
        let ids: Box<dyn Iterator<Item = u64>> = if span > record.size.saturating_mul(4).saturating_add(1024) {
            let mut ids: Vec<u64> = db.keys()?.iter().filter_map(|k| id_of(name, k)).filter(|id| *id >= from).collect();
            ids.sort_unstable();
            Box::new(ids.into_iter())
        } else {
            Box::new(from..record.next_id)
        };
        let mut ids = ids.peekable();
        let mut out = Vec::new();
        const BATCH: usize = 256;
        while out.len() < max && ids.peek().is_some() {
            let batch: Vec<u64> = ids.by_ref().take(BATCH).collect();
            let keys: Vec<Vec<u8>> = batch.iter().map(|i| doc_key(name, *i)).collect();
            let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            for (id, doc) in batch.into_iter().zip(db.get(&key_refs, false)?) {
                if let (Some(doc), true) = (doc, out.len() < max) {
                    out.push((id, if with_docs { doc } else { Vec::new() }));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn each_backend(f: impl Fn(&dyn Backend)) {
        for t in ["map", "unordered_map"] {
            let db = super::super::backend::create(t, &json!({})).unwrap();
            f(db.as_ref());
        }
    }

    #[test]
    fn keys_follow_upstream_layout() {
        assert_eq!(doc_key("ab", 258), b"ab\0\0\0\0\0\0\0\x01\x02".to_vec());
        assert_eq!(id_of("ab", &doc_key("ab", 7)), Some(7));
        assert_eq!(id_of("a", &doc_key("ab", 7)), None);
        assert_eq!(id_of("ab", b"ab\0\x01"), None);
        assert_eq!(placement_key(&doc_key("ab", 7)), b"ab");
        assert_eq!(placement_key(b"ab"), b"ab");
        assert_eq!(placement_key(b"\0\0\0\0\0\0\0\0\0"), b"\0\0\0\0\0\0\0\0\0", "no name");
        assert_eq!(placement_key(b"key-000123"), b"key-000123");
    }

    #[test]
    fn store_load_erase_update_list() {
        each_backend(|db| {
            let c = Collections::default();
            assert_eq!(c.store(db, "docs", &[b"x"]).unwrap_err().code, code::KEY_NOT_FOUND);
            c.create(db, "docs").unwrap();
            assert_eq!(c.create(db, "docs").unwrap_err().code, code::KEY_EXISTS);
            assert_eq!(c.record_of(db, "docs").unwrap(), Record { size: 0, next_id: 0 });
            let docs: Vec<Vec<u8>> = (0..10).map(|i| format!("doc{i}").into_bytes()).collect();
            let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
            assert_eq!(c.store(db, "docs", &refs).unwrap(), (0..10).collect::<Vec<_>>());
            assert_eq!(c.load(db, "docs", &[3, 42]).unwrap(), vec![Some(b"doc3".to_vec()), None]);
            c.erase(db, "docs", &[0, 3, 3, 99]).unwrap();
            assert_eq!(c.record_of(db, "docs").unwrap(), Record { size: 8, next_id: 10 });
            assert_eq!(c.length(db, "docs", &[3, 4]).unwrap(), vec![None, Some(4)]);
            // An erased id comes back (and counts); an id never given out needs UPDATE_NEW.
            c.update(db, "docs", 0, &[3], &[b"again"]).unwrap();
            assert_eq!(c.update(db, "docs", 0, &[12], &[b"new"]).unwrap_err().code, code::INVALID_ID);
            c.update(db, "docs", mode::UPDATE_NEW, &[12], &[b"new"]).unwrap();
            assert_eq!(c.record_of(db, "docs").unwrap(), Record { size: 10, next_id: 13 });
            let listed = c.list(db, "docs", 2, 4, true).unwrap();
            let ids: Vec<u64> = listed.iter().map(|d| d.0).collect();
            assert_eq!(ids, vec![2, 3, 4, 5]);
            assert_eq!(listed[1].1, b"again");
            let tail: Vec<u64> = c.list(db, "docs", 9, 100, false).unwrap().iter().map(|d| d.0).collect();
            assert_eq!(tail, vec![9, 12]);
            assert!(c.list(db, "docs", 13, 5, true).unwrap().is_empty());
            // Another collection with a longer name is not mixed in.
            c.create(db, "docsx").unwrap();
            c.store(db, "docsx", &[b"other"]).unwrap();
            assert_eq!(c.list(db, "docs", 0, 100, false).unwrap().len(), 10);
            c.drop_collection(db, "docs").unwrap();
            assert!(!c.exists(db, "docs").unwrap());
            assert_eq!(c.load(db, "docs", &[1]).unwrap_err().code, code::KEY_NOT_FOUND);
            assert_eq!(c.record_of(db, "docsx").unwrap().size, 1);
            assert_eq!(db.count().unwrap(), 2, "docsx's record and document are left");
        });
    }

    #[test]
    fn bad_names_and_records() {
        each_backend(|db| {
            let c = Collections::default();
            assert_eq!(c.create(db, "").unwrap_err().code, code::INVALID_ARGS);
            db.put(&[(b"plain", b"value")], 0, true).unwrap();
            assert_eq!(c.exists(db, "plain").unwrap_err().code, code::CORRUPTION);
        });
    }

    #[test]
    fn concurrent_stores_get_distinct_ids() {
        let db = super::super::backend::create("map", &json!({})).unwrap();
        let c = Collections::default();
        c.create(db.as_ref(), "c").unwrap();
        let ids = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100 {
                        let got = c.store(db.as_ref(), "c", &[b"a", b"b"]).unwrap();
                        ids.lock().unwrap().extend(got);
                    }
                });
            }
        });
        let mut ids = ids.into_inner().unwrap();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 800);
        assert_eq!(c.record_of(db.as_ref(), "c").unwrap(), Record { size: 800, next_id: 800 });
    }
}
