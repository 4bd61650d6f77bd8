//! `array` and `log`: upstream's database types that hold collections of
//! documents only (their key-value operations answer "not supported").
//! Ours keep the documents where every collection lives, in the key space
//! of an inner database (`collection.rs`'s layout): `array` in memory (a
//! sorted map), `log` on disk under its `"path"` (an LMDB environment; the
//! files differ from upstream's chunked log, the behaviour does not: the
//! documents survive the provider, and `"error_if_exists"` /
//! `"create_if_missing"` mean what they do upstream). The key-value
//! operations of clients are refused by the provider
//! ([`Backend::documents_only`]).

use super::lmdb::LmdbBackend;
use super::memory::MemoryBackend;
use crate::yokan::backend::{bool_field, Backend, Item, ListQuery};
use crate::yokan::error::{Result, YokanError};
use serde_json::{json, Map, Value};
use std::path::Path;

pub struct DocumentsOnly {
    type_name: &'static str,
    config: Value,
    inner: Box<dyn Backend>,
}

/// Reads an optional unsigned integer field (default when absent).
fn unsigned_field(cfg: &Map<String, Value>, key: &str, default: u64) -> Result<u64> {
    match cfg.get(key) {
        None => Ok(default),
        Some(v) => v.as_u64().ok_or_else(|| YokanError::config(format!("\"{key}\" must be an unsigned integer"))),
    }
}

impl DocumentsOnly {
    /// `array`: `{"use_lock": bool}` (default true; we always lock).
    pub fn array(cfg: &Map<String, Value>) -> Result<DocumentsOnly> {
        let use_lock = bool_field(cfg, "use_lock", true)?;
        let mut config = cfg.clone();
        config.insert("use_lock".into(), json!(use_lock));
        let inner = Box::new(MemoryBackend::new_map(&Map::new())?);
        Ok(DocumentsOnly { type_name: "array", config: Value::Object(config), inner })
    }

    /// `log`: `{"path": dir, "chunk_size", "cache_size", "msync_interval":
    /// unsigned, "create_if_missing", "error_if_exists", "use_lock": bool}`.
    /// The sizes and `use_lock` are checked and reported, not used (they
    /// tune upstream's chunk files, which we do not write).
    pub fn log(cfg: &Map<String, Value>) -> Result<DocumentsOnly> {
        let path = match cfg.get("path") {
            Some(Value::String(p)) if !p.is_empty() => p.clone(),
            Some(Value::String(_)) => return Err(YokanError::config("\"path\" of the log backend must not be empty")),
            Some(_) => return Err(YokanError::config("\"path\" of the log backend must be a string")),
            None => return Err(YokanError::config("the log backend needs a \"path\" (a directory) in its config")),
        };
        let mut config = cfg.clone();
        for (key, default) in [("chunk_size", 10 * 1024 * 1024), ("cache_size", 16)] {
            config.insert(key.into(), json!(unsigned_field(cfg, key, default)?));
        }
        if cfg.contains_key("msync_interval") {
            unsigned_field(cfg, "msync_interval", 0)?;
        }
        let create_if_missing = bool_field(cfg, "create_if_missing", true)?;
        let error_if_exists = bool_field(cfg, "error_if_exists", false)?;
        config.insert("create_if_missing".into(), json!(create_if_missing));
        config.insert("error_if_exists".into(), json!(error_if_exists));
        config.insert("use_lock".into(), json!(bool_field(cfg, "use_lock", false)?));
        if error_if_exists && Path::new(&path).exists() {
            return Err(YokanError::config(format!("\"path\" {path} exists and \"error_if_exists\" is true")));
        }
        let mut inner_cfg = Map::new();
        inner_cfg.insert("path".into(), json!(path));
        inner_cfg.insert("create_if_missing".into(), json!(create_if_missing));
        // (Its messages name lmdb: say which type the user asked for.)
        let opened = LmdbBackend::open(&inner_cfg).map_err(|e| YokanError::new(e.code, format!("log database: {}", e.detail)))?;
        let inner = Box::new(opened);
        Ok(DocumentsOnly { type_name: "log", config: Value::Object(config), inner })
    }
}

impl Backend for DocumentsOnly {
    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn config(&self) -> Value {
        self.config.clone()
    }
    fn supported_modes(&self) -> i32 {
        self.inner.supported_modes()
    }
    fn is_sorted(&self) -> bool {
        true
    }
    fn documents_only(&self) -> bool {
        true
    }
    fn count(&self) -> Result<u64> {
        self.inner.count()
    }
    fn exists(&self, keys: &[&[u8]]) -> Result<Vec<bool>> {
        self.inner.exists(keys)
    }
    fn length(&self, keys: &[&[u8]]) -> Result<Vec<Option<u64>>> {
        self.inner.length(keys)
    }
    fn put(&self, pairs: &[(&[u8], &[u8])], mode: i32, single: bool) -> Result<Vec<bool>> {
        self.inner.put(pairs, mode, single)
    }
    fn get(&self, keys: &[&[u8]], consume: bool) -> Result<Vec<Option<Vec<u8>>>> {
        self.inner.get(keys, consume)
    }
    fn erase(&self, keys: &[&[u8]]) -> Result<()> {
        self.inner.erase(keys)
    }
    fn erase_range(&self, prefix: &[u8]) -> Result<()> {
        self.inner.erase_range(prefix)
    }
    fn list(&self, query: &ListQuery) -> Result<Vec<Item>> {
        self.inner.list(query)
    }
    fn keys(&self) -> Result<Vec<Vec<u8>>> {
        self.inner.keys()
    }
    fn close(&self) {
        self.inner.close()
    }
}
