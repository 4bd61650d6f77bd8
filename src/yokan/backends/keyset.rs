//! `set` and `unordered_set`: keys without values (upstream's types of the
//! same names), over the in-memory maps with every value empty. A put of a
//! non-empty value is refused (`YOKAN_ERR_INVALID_ARGS`), as upstream does;
//! reads report a present key with a value of size 0.

use super::memory::MemoryBackend;
use crate::yokan::backend::{Backend, Item, ListQuery};
use crate::yokan::error::{Result, YokanError};
use serde_json::{Map, Value};

pub struct SetBackend {
    type_name: &'static str,
    keys: MemoryBackend,
}

impl SetBackend {
    /// `set`: ordered (it lists).
    pub fn new_ordered(cfg: &Map<String, Value>) -> Result<SetBackend> {
        Ok(SetBackend { type_name: "set", keys: MemoryBackend::new_map(cfg)? })
    }

    /// `unordered_set`: hashed (no listing).
    pub fn new_unordered(cfg: &Map<String, Value>) -> Result<SetBackend> {
        Ok(SetBackend { type_name: "unordered_set", keys: MemoryBackend::new_unordered(cfg)? })
    }
}

impl Backend for SetBackend {
    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn config(&self) -> Value {
        self.keys.config()
    }
    fn supported_modes(&self) -> i32 {
        self.keys.supported_modes()
    }
    fn is_sorted(&self) -> bool {
        self.keys.is_sorted()
    }
    fn count(&self) -> Result<u64> {
        self.keys.count()
    }
    fn exists(&self, keys: &[&[u8]]) -> Result<Vec<bool>> {
        self.keys.exists(keys)
    }
    fn length(&self, keys: &[&[u8]]) -> Result<Vec<Option<u64>>> {
        self.keys.length(keys)
    }
    fn put(&self, pairs: &[(&[u8], &[u8])], mode: i32, single: bool) -> Result<Vec<bool>> {
        if pairs.iter().any(|(_, v)| !v.is_empty()) {
            return Err(YokanError::args(format!("a \"{}\" database holds keys only: values must be empty", self.type_name)));
        }
        self.keys.put(pairs, mode, single)
    }
    fn get(&self, keys: &[&[u8]], consume: bool) -> Result<Vec<Option<Vec<u8>>>> {
        self.keys.get(keys, consume)
    }
    fn erase(&self, keys: &[&[u8]]) -> Result<()> {
        self.keys.erase(keys)
    }
    fn erase_range(&self, prefix: &[u8]) -> Result<()> {
        self.keys.erase_range(prefix)
    }
    fn list(&self, query: &ListQuery) -> Result<Vec<Item>> {
        self.keys.list(query)
    }
    fn keys(&self) -> Result<Vec<Vec<u8>>> {
        self.keys.keys()
    }
}
