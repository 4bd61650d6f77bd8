//! The persistent `lmdb` backend (LMDB through the `heed` crate). Every write
//! is one LMDB transaction, committed (and synced to disk) before the call
//! returns, so an acknowledged write survives a crash. Unlike upstream, the
//! files stay on disk when the provider is destroyed.

use crate::yokan::backend::{bool_field, put_value, Backend, Item, ListQuery};
use crate::yokan::error::{code, Result, YokanError};
use crate::yokan::mode;
use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, MdbError};
use serde_json::{json, Map, Value};
use std::ops::Bound;
use std::path::PathBuf;

/// Default LMDB map size (address space reserved, not disk used): 16 GiB.
const DEFAULT_MAP_SIZE: u64 = 16 << 30;
/// LMDB's largest key (its compile-time default).
const MAX_KEY: usize = 511;

pub struct LmdbBackend {
    config: Value,
    env: Env,
    db: Database<Bytes, Bytes>,
}

fn mdb_error(e: heed::Error) -> YokanError {
    match e {
        heed::Error::Mdb(MdbError::KeyExist) => YokanError::new(code::KEY_EXISTS, "the key already exists"),
        heed::Error::Mdb(MdbError::NotFound) => YokanError::not_found(),
        heed::Error::Mdb(MdbError::Corrupted | MdbError::PageNotFound | MdbError::VersionMismatch | MdbError::Invalid) => {
            YokanError::new(code::CORRUPTION, format!("LMDB: {e}"))
        }
        heed::Error::Mdb(MdbError::BadValSize) => {
            YokanError::args(format!("LMDB refuses the key or value size (keys up to {MAX_KEY} bytes): {e}"))
        }
        heed::Error::Mdb(MdbError::MapFull) => {
            YokanError::new(code::OTHER, format!("LMDB: the database is full (raise \"map_size\" in the lmdb config): {e}"))
        }
        heed::Error::Io(io) => YokanError::new(code::IO, format!("LMDB I/O error: {io}")),
        other => YokanError::new(code::OTHER, format!("LMDB: {other}")),
    }
}

fn check_keys<'a>(keys: impl IntoIterator<Item = &'a [u8]>) -> Result<()> {
    for k in keys {
        if k.len() > MAX_KEY {
            return Err(YokanError::args(format!("a key of {} bytes exceeds the lmdb backend's {MAX_KEY}-byte limit", k.len())));
        }
    }
    Ok(())
}

impl LmdbBackend {
    pub fn open(cfg: &Map<String, Value>) -> Result<LmdbBackend> {
        let path = match cfg.get("path") {
            Some(Value::String(p)) if !p.is_empty() => PathBuf::from(p),
            Some(Value::String(_)) => return Err(YokanError::config("\"path\" of the lmdb backend must not be empty")),
            Some(_) => return Err(YokanError::config("\"path\" of the lmdb backend must be a string")),
            None => return Err(YokanError::config("the lmdb backend needs a \"path\" (a directory) in its config")),
        };
        let create = bool_field(cfg, "create_if_missing", true)?;
        let no_lock = bool_field(cfg, "no_lock", false)?;
        if cfg.contains_key("disable_doc_mixin_lock") {
            bool_field(cfg, "disable_doc_mixin_lock", false)?;
        }
        let map_size = match cfg.get("map_size") {
            None => DEFAULT_MAP_SIZE,
            Some(v) => v
                .as_u64()
                .filter(|&n| n >= 1 << 20)
                .ok_or_else(|| YokanError::config("\"map_size\" must be an integer number of bytes, at least 1 MiB"))?,
        };
        if !path.is_dir() {
            if path.exists() {
                return Err(YokanError::config(format!("\"path\" {} exists and is not a directory", path.display())));
            }
            if !create {
                return Err(YokanError::config(format!(
                    "\"path\" {} does not exist and \"create_if_missing\" is false",
                    path.display()
                )));
            }
            std::fs::create_dir_all(&path)
                .map_err(|e| YokanError::config(format!("cannot create \"path\" {}: {e}", path.display())))?;
        }
        let mut options = EnvOpenOptions::new();
        options.map_size(map_size as usize).max_dbs(1);
        if no_lock {
            // SAFETY: NO_LOCK leaves concurrency control to the caller, as
            // the user asked; our own calls are serialized by LMDB's single
            // writer and read transactions that do not outlive a call.
            unsafe {
                options.flags(heed::EnvFlags::NO_LOCK);
            }
        }
        // SAFETY: heed requires that the same environment is not opened
        // twice in one process with different options and that its files
        // are not modified by other means while open; a provider owns its
        // path (two providers on one path is a configuration error that
        // LMDB's lock file reports for other processes).
        let env = unsafe { options.open(&path) }.map_err(|e| match e {
            heed::Error::Io(io) => {
                YokanError::config(format!("cannot open the lmdb database at \"path\" {}: {io}", path.display()))
            }
            other => {
                let e = mdb_error(other);
                YokanError::new(e.code, format!("cannot open the lmdb database at {}: {}", path.display(), e.detail))
            }
        })?;
        let mut wtxn = env.write_txn().map_err(mdb_error)?;
        let db: Database<Bytes, Bytes> = env.create_database(&mut wtxn, None).map_err(mdb_error)?;
        wtxn.commit().map_err(mdb_error)?;
        let mut out = cfg.clone();
        out.insert("path".into(), json!(path.to_string_lossy()));
        out.insert("create_if_missing".into(), json!(create));
        out.insert("no_lock".into(), json!(no_lock));
        out.insert("map_size".into(), json!(map_size));
        Ok(LmdbBackend { config: Value::Object(out), env, db })
    }
}

impl Backend for LmdbBackend {
    fn type_name(&self) -> &'static str {
        "lmdb"
    }
    fn config(&self) -> Value {
        self.config.clone()
    }
    fn supported_modes(&self) -> i32 {
        mode::ALL & !(mode::LUA_FILTER | mode::LIB_FILTER | mode::APPEND | mode::EXIST_ONLY | mode::WAIT)
    }
    fn is_sorted(&self) -> bool {
        true
    }

    fn count(&self) -> Result<u64> {
        let rtxn = self.env.read_txn().map_err(mdb_error)?;
        self.db.len(&rtxn).map_err(mdb_error)
    }

    fn exists(&self, keys: &[&[u8]]) -> Result<Vec<bool>> {
        check_keys(keys.iter().copied())?;
        let rtxn = self.env.read_txn().map_err(mdb_error)?;
        keys.iter().map(|k| self.db.get(&rtxn, k).map(|v| v.is_some()).map_err(mdb_error)).collect()
    }

    fn length(&self, keys: &[&[u8]]) -> Result<Vec<Option<u64>>> {
        check_keys(keys.iter().copied())?;
        let rtxn = self.env.read_txn().map_err(mdb_error)?;
        keys.iter().map(|k| self.db.get(&rtxn, k).map(|v| v.map(|v| v.len() as u64)).map_err(mdb_error)).collect()
    }

    fn put(&self, pairs: &[(&[u8], &[u8])], mode: i32, single: bool) -> Result<Vec<bool>> {
        check_keys(pairs.iter().map(|(k, _)| *k))?;
        let mut wtxn = self.env.write_txn().map_err(mdb_error)?;
        let mut written = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let existing = self.db.get(&wtxn, k).map_err(mdb_error)?.map(<[u8]>::to_vec);
            match put_value(existing.as_deref(), v, mode, single)? {
                Some(value) => {
                    self.db.put(&mut wtxn, k, &value).map_err(mdb_error)?;
                    written.push(true);
                }
                None => written.push(false),
            }
        }
        wtxn.commit().map_err(mdb_error)?;
        Ok(written)
    }

    fn get(&self, keys: &[&[u8]], consume: bool) -> Result<Vec<Option<Vec<u8>>>> {
        check_keys(keys.iter().copied())?;
        if consume {
            let mut wtxn = self.env.write_txn().map_err(mdb_error)?;
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                out.push(self.db.get(&wtxn, k).map_err(mdb_error)?.map(<[u8]>::to_vec));
            }
            for k in keys {
                self.db.delete(&mut wtxn, k).map_err(mdb_error)?;
            }
            wtxn.commit().map_err(mdb_error)?;
            Ok(out)
        } else {
            let rtxn = self.env.read_txn().map_err(mdb_error)?;
            keys.iter().map(|k| self.db.get(&rtxn, k).map(|v| v.map(<[u8]>::to_vec)).map_err(mdb_error)).collect()
        }
    }

    fn erase(&self, keys: &[&[u8]]) -> Result<()> {
        check_keys(keys.iter().copied())?;
        let mut wtxn = self.env.write_txn().map_err(mdb_error)?;
        for k in keys {
            self.db.delete(&mut wtxn, k).map_err(mdb_error)?;
        }
        wtxn.commit().map_err(mdb_error)
    }

    fn erase_range(&self, prefix: &[u8]) -> Result<()> {
        let mut wtxn = self.env.write_txn().map_err(mdb_error)?;
        // An empty prefix is every key (LMDB refuses an empty key to seek to).
        let keys: Vec<Vec<u8>> = if prefix.is_empty() {
            let iter = self.db.iter(&wtxn).map_err(mdb_error)?;
            iter.map(|r| r.map(|(k, _)| k.to_vec()).map_err(mdb_error)).collect::<Result<_>>()?
        } else {
            let iter = self.db.prefix_iter(&wtxn, prefix).map_err(mdb_error)?;
            iter.map(|r| r.map(|(k, _)| k.to_vec()).map_err(mdb_error)).collect::<Result<_>>()?
        };
        for k in keys {
            self.db.delete(&mut wtxn, &k).map_err(mdb_error)?;
        }
        wtxn.commit().map_err(mdb_error)
    }

    fn list(&self, q: &ListQuery) -> Result<Vec<Item>> {
        let rtxn = self.env.read_txn().map_err(mdb_error)?;
        let start = q.filter.scan_start(&q.from);
        let lower = if start.is_empty() { Bound::Unbounded } else { Bound::Included(start) };
        let range = (lower, Bound::Unbounded);
        let mut out = Vec::new();
        for r in self.db.range(&rtxn, &range).map_err(mdb_error)? {
            if out.len() >= q.max {
                break;
            }
            let (k, v) = r.map_err(mdb_error)?;
            if q.filter.past_end(k) {
                break;
            }
            if !q.after_start(k) || !q.filter.matches(k) {
                continue;
            }
            out.push((k.to_vec(), if q.with_values { v.to_vec() } else { Vec::new() }));
        }
        Ok(out)
    }

    fn close(&self) {
        if let Err(e) = self.env.force_sync() {
            crate::warning!("lmdb: final sync failed: {e}");
        }
    }
}
