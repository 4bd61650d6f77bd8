//! The in-memory backends: `map` (a BTreeMap: byte order, shorter key first,
//! so it lists) and `unordered_map` (a HashMap: no listing).

use crate::yokan::backend::{bool_field, put_value, Backend, Item, ListQuery};
use crate::yokan::error::{Result, YokanError};
use crate::yokan::mode;
use parking_lot::RwLock;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

enum Store {
    Ordered(BTreeMap<Vec<u8>, Vec<u8>>),
    Hashed(HashMap<Vec<u8>, Vec<u8>>),
}

impl Store {
    fn get(&self, k: &[u8]) -> Option<&Vec<u8>> {
        match self {
            Store::Ordered(m) => m.get(k),
            Store::Hashed(m) => m.get(k),
        }
    }
    fn insert(&mut self, k: &[u8], v: Vec<u8>) {
        match self {
            Store::Ordered(m) => {
                m.insert(k.to_vec(), v);
            }
            Store::Hashed(m) => {
                m.insert(k.to_vec(), v);
            }
        }
    }
    fn remove(&mut self, k: &[u8]) -> Option<Vec<u8>> {
        match self {
            Store::Ordered(m) => m.remove(k),
            Store::Hashed(m) => m.remove(k),
        }
    }
    fn len(&self) -> usize {
        match self {
            Store::Ordered(m) => m.len(),
            Store::Hashed(m) => m.len(),
        }
    }
}

pub struct MemoryBackend {
    type_name: &'static str,
    config: Value,
    store: RwLock<Store>,
}

const ALLOCATORS: [&str; 3] = ["key_allocator", "value_allocator", "node_allocator"];

/// `allocators`: only the default allocators exist here (custom ones are C
/// symbols of upstream's plug-in ABI).
fn allocators(cfg: &Map<String, Value>) -> Result<Value> {
    let given = match cfg.get("allocators") {
        None => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(YokanError::config("\"allocators\" must be an object")),
    };
    let mut out = Map::new();
    for a in ALLOCATORS {
        match given.get(a) {
            None => {}
            Some(Value::String(s)) if s == "default" => {}
            Some(Value::String(s)) => {
                return Err(YokanError::config(format!(
                    "\"allocators.{a}\" is \"{s}\": only \"default\" is supported (custom allocators are not provided)"
                )))
            }
            Some(_) => return Err(YokanError::config(format!("\"allocators.{a}\" must be a string"))),
        }
        out.insert(a.to_string(), json!("default"));
        let c = format!("{a}_config");
        out.insert(c.clone(), given.get(&c).cloned().unwrap_or_else(|| json!({})));
    }
    Ok(Value::Object(out))
}

fn common(cfg: &Map<String, Value>) -> Result<Map<String, Value>> {
    let mut out = cfg.clone();
    out.insert("use_lock".into(), Value::Bool(bool_field(cfg, "use_lock", true)?));
    out.insert("allocators".into(), allocators(cfg)?);
    if cfg.contains_key("disable_doc_mixin_lock") {
        bool_field(cfg, "disable_doc_mixin_lock", false)?;
    }
    Ok(out)
}

impl MemoryBackend {
    pub fn new_map(cfg: &Map<String, Value>) -> Result<MemoryBackend> {
        let mut out = common(cfg)?;
        match cfg.get("comparator") {
            None => {}
            Some(Value::String(s)) if s == "default" => {}
            Some(Value::String(s)) => {
                return Err(YokanError::config(format!(
                    "\"comparator\" is \"{s}\": only \"default\" (byte order) is supported (custom comparators are not provided)"
                )))
            }
            Some(_) => return Err(YokanError::config("\"comparator\" must be a string")),
        }
        out.insert("comparator".into(), json!("default"));
        Ok(MemoryBackend { type_name: "map", config: Value::Object(out), store: RwLock::new(Store::Ordered(BTreeMap::new())) })
    }

    pub fn new_unordered(cfg: &Map<String, Value>) -> Result<MemoryBackend> {
        let mut out = common(cfg)?;
        let buckets = match cfg.get("initial_bucket_count") {
            None => 23,
            Some(v) => v.as_u64().ok_or_else(|| YokanError::config("\"initial_bucket_count\" must be an unsigned integer"))?,
        };
        out.insert("initial_bucket_count".into(), json!(buckets));
        let map = HashMap::with_capacity(buckets.min(1 << 20) as usize);
        Ok(MemoryBackend { type_name: "unordered_map", config: Value::Object(out), store: RwLock::new(Store::Hashed(map)) })
    }
}

impl Backend for MemoryBackend {
    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn config(&self) -> Value {
        self.config.clone()
    }
    fn supported_modes(&self) -> i32 {
        mode::ALL & !(mode::LUA_FILTER | mode::LIB_FILTER)
    }
    fn is_sorted(&self) -> bool {
        matches!(&*self.store.read(), Store::Ordered(_))
    }

    fn count(&self) -> Result<u64> {
        Ok(self.store.read().len() as u64)
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>> {
        Ok(match &*self.store.read() {
            Store::Ordered(m) => m.keys().cloned().collect(),
            Store::Hashed(m) => m.keys().cloned().collect(),
        })
    }

    fn exists(&self, keys: &[&[u8]]) -> Result<Vec<bool>> {
        let s = self.store.read();
        Ok(keys.iter().map(|k| s.get(k).is_some()).collect())
    }

    fn length(&self, keys: &[&[u8]]) -> Result<Vec<Option<u64>>> {
        let s = self.store.read();
        Ok(keys.iter().map(|k| s.get(k).map(|v| v.len() as u64)).collect())
    }

    fn put(&self, pairs: &[(&[u8], &[u8])], mode: i32, single: bool) -> Result<Vec<bool>> {
        let mut s = self.store.write();
        let mut written = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match put_value(s.get(k).map(Vec::as_slice), v, mode, single)? {
                Some(value) => {
                    s.insert(k, value);
                    written.push(true);
                }
                None => written.push(false),
            }
        }
        Ok(written)
    }

    fn get(&self, keys: &[&[u8]], consume: bool) -> Result<Vec<Option<Vec<u8>>>> {
        if consume {
            let mut s = self.store.write();
            // A key asked twice is read twice, then erased.
            let out: Vec<_> = keys.iter().map(|k| s.get(k).cloned()).collect();
            for k in keys {
                s.remove(k);
            }
            Ok(out)
        } else {
            let s = self.store.read();
            Ok(keys.iter().map(|k| s.get(k).cloned()).collect())
        }
    }

    fn erase(&self, keys: &[&[u8]]) -> Result<()> {
        let mut s = self.store.write();
        for k in keys {
            s.remove(k);
        }
        Ok(())
    }

    fn erase_range(&self, prefix: &[u8]) -> Result<()> {
        match &mut *self.store.write() {
            Store::Ordered(m) => m.retain(|k, _| !k.starts_with(prefix)),
            Store::Hashed(m) => m.retain(|k, _| !k.starts_with(prefix)),
        }
        Ok(())
    }

    fn list(&self, q: &ListQuery) -> Result<Vec<Item>> {
        let s = self.store.read();
        let Store::Ordered(m) = &*s else {
            return Err(YokanError::unsupported("the \"unordered_map\" backend cannot list keys (it is not sorted)"));
        };
        let start = q.filter.scan_start(&q.from);
        let lower = if start.is_empty() { Bound::Unbounded } else { Bound::Included(start) };
        let mut out = Vec::new();
        for (k, v) in m.range::<[u8], _>((lower, Bound::Unbounded)) {
            if out.len() >= q.max {
                break;
            }
            if q.filter.past_end(k) {
                break;
            }
            if !q.after_start(k) || !q.filter.matches(k) {
                continue;
            }
            out.push((k.clone(), if q.with_values { v.clone() } else { Vec::new() }));
        }
        Ok(out)
    }
}
