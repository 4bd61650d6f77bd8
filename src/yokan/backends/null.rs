//! `null`: a database that keeps nothing (upstream's type of the same
//! name, for measuring everything but the storage): puts and erases succeed
//! and are forgotten, every key is absent, the count is 0, listings are
//! empty. Only the default mode.

use crate::yokan::backend::{Backend, Item, ListQuery};
use crate::yokan::error::Result;
use crate::yokan::mode;
use serde_json::{Map, Value};

pub struct NullBackend {
    config: Value,
}

impl NullBackend {
    pub fn new(cfg: &Map<String, Value>) -> NullBackend {
        NullBackend { config: Value::Object(cfg.clone()) }
    }
}

impl Backend for NullBackend {
    fn type_name(&self) -> &'static str {
        "null"
    }
    fn config(&self) -> Value {
        self.config.clone()
    }
    fn supported_modes(&self) -> i32 {
        mode::DEFAULT
    }
    fn is_sorted(&self) -> bool {
        false
    }
    fn count(&self) -> Result<u64> {
        Ok(0)
    }
    fn exists(&self, keys: &[&[u8]]) -> Result<Vec<bool>> {
        Ok(vec![false; keys.len()])
    }
    fn length(&self, keys: &[&[u8]]) -> Result<Vec<Option<u64>>> {
        Ok(vec![None; keys.len()])
    }
    fn put(&self, pairs: &[(&[u8], &[u8])], _mode: i32, _single: bool) -> Result<Vec<bool>> {
        Ok(vec![true; pairs.len()])
    }
    fn get(&self, keys: &[&[u8]], _consume: bool) -> Result<Vec<Option<Vec<u8>>>> {
        Ok(vec![None; keys.len()])
    }
    fn erase(&self, _keys: &[&[u8]]) -> Result<()> {
        Ok(())
    }
    fn erase_range(&self, _prefix: &[u8]) -> Result<()> {
        Ok(())
    }
    fn list(&self, _query: &ListQuery) -> Result<Vec<Item>> {
        Ok(Vec::new())
    }
    fn keys(&self) -> Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }
}
